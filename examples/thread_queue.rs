//! Seed 003's 线程通信 (threads talking through a queue): four workers
//! square four lists and `put` them into a queue; the main thread `get`s
//! four results.
//!
//! ```python
//! def f(n, q):                        # 平方 (square)
//!     for i in range(len(n)): n[i] **= 2
//!     q.put(n)
//!
//! date = [[1,2,3], [3,4,5], [4,4,4], [5,5,5]]
//! q = Queue()
//! for i in range(4):
//!     t = threading.Thread(target=f, args=(date[i], q)); t.start(); threads.append(t)
//! for thread in threads: thread.join()
//! results = []
//! for _ in range(4): results.append(q.get())
//! print(results)      # [[1, 4, 9], [9, 16, 25], [16, 16, 16], [25, 25, 25]]
//! ```
//!
//! A thread cannot hand back a return value in Python, so the seed passes
//! it through a `Queue`. Twice here:
//!
//! 1. four **tasks** on one loop, and a [`corio::sync::Queue`] (`maxsize`
//!    0: no limit, as `Queue()`). `put` and `get` are awaited (a `get` on
//!    an empty queue would park the main future until a task puts
//!    something; here, as in the seed, the joins come first, so all four
//!    are in already);
//! 2. four **threads** of a [`ThreadPool`], and a
//!    [`corio::pool::channel`] — the queue from threads to a task. Real
//!    threads finish in any order, so the results may come out in another
//!    order than the lists went in; each is tagged with its list's index.
//!
//! (A task *can* return its result — `task.await` gives it, and
//! `gather` gives them all in order — but the lesson is the queue.)
//!
//! Run it: `cargo run --release --example thread_queue`

#[macro_use]
mod common;

use std::rc::Rc;

use corio::pool::ThreadPool;
use corio::sync::Queue;

/// The seed's `date`.
fn date() -> Vec<Vec<u64>> {
    vec![vec![1, 2, 3], vec![3, 4, 5], vec![4, 4, 4], vec![5, 5, 5]]
}

/// The seed's `f` without the queue: squares the list in place.
fn square(n: &mut [u64]) {
    for x in n.iter_mut() {
        *x *= *x; // n[i] **= 2
    }
}

fn main() {
    common::no_arguments(
        "seed 003: four workers square lists and put them in a queue; main gets four",
    );

    say!("1) four tasks and corio::sync::Queue:");
    let results = corio::run(async {
        let q = Rc::new(Queue::new(0)); // q = Queue()
        let mut tasks = Vec::new();
        for (i, mut n) in date().into_iter().enumerate() {
            let q = Rc::clone(&q);
            tasks.push(corio::spawn(async move {
                square(&mut n);
                say!("  task {i} puts {n:?}");
                q.put(n).await.expect("the queue is never shut down"); // q.put(n)
            }));
        }
        // for thread in threads: thread.join()
        for outcome in corio::gather(tasks).await {
            outcome.expect("a task does not panic");
        }
        let mut results = Vec::new();
        for _ in 0..4 {
            results.push(q.get().await.expect("the queue is never shut down")); // q.get()
        }
        results
    });
    say!("  {results:?}\n");

    say!("2) four pool threads and a thread→task channel:");
    let pool = ThreadPool::new(4);
    let results = corio::run(async {
        let (tx, mut rx) = corio::pool::channel::unbounded();
        for (i, mut n) in date().into_iter().enumerate() {
            let tx = tx.clone();
            let job = pool.submit(move || {
                square(&mut n);
                say!(
                    "  {} puts {n:?}",
                    std::thread::current().name().unwrap_or("a pool thread")
                );
                tx.send((i, n)).expect("the main future is receiving");
            });
            drop(job.expect("the queue is unbounded")); // runs on; the channel tells us when
        }
        drop(tx); // only the jobs' clones are left: recv() gives None after them
        let mut results = Vec::new();
        // The main future parks in recv() until a thread sends: the loop
        // is woken from the other thread.
        while let Some(result) = rx.recv().await {
            results.push(result);
        }
        results
    });
    say!("  in the order they came: {results:?}");
    let mut results = results;
    results.sort();
    let squares: Vec<Vec<u64>> = results.into_iter().map(|(_, n)| n).collect();
    say!("  sorted by list:          {squares:?}");
}
