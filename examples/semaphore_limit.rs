//! Seed 002's 信号量 (semaphore) lesson: ten workers, at most three inside
//! at once.
//!
//! ```python
//! sema = Semaphore(3)  # 同一时刻最多允许三个线程访问资源
//! for i in range(10):
//!     t = Thread(target=worker, args=(i,))
//!     t.start()
//! ```
//!
//! The seed says what a semaphore is for: 控制临界资源的数量 … 限制并发量
//! — it counts the places at a shared resource and limits how many use it
//! at once. Here ten worker tasks each want 0.25 s of work behind a
//! [`Semaphore::new(3)`](Semaphore::new): the first three enter, the others
//! wait in line (first come, first served); each one leaving hands its
//! permit straight to the next in line (so `available_permits()` stays 0
//! while anyone waits: no latecomer can snatch a permit in between). A counter of the workers inside checks that there
//! are never more than three.
//!
//! The ten take ceil(10 / 3) = 4 rounds: about 4 × 0.25 s = 1 s, where ten
//! at once would take 0.25 s and one at a time 2.5 s.
//!
//! Run it: `cargo run --release --example semaphore_limit`

#[macro_use]
mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use corio::sync::Semaphore;

const WORKERS: usize = 10;
const LIMIT: usize = 3;
const WORK: Duration = Duration::from_millis(250);

/// The shared resource: the semaphore guarding it, and who is inside.
struct Room {
    sema: Semaphore,
    /// Workers inside right now.
    inside: Cell<usize>,
    /// The most ever inside at once.
    most: Cell<usize>,
    start: Instant,
}

impl Room {
    /// Prints one line, with the time since the start.
    fn say(&self, what: std::fmt::Arguments<'_>) {
        say!("  [{:4.2} s] {what}", self.start.elapsed().as_secs_f64());
    }
}

/// Seed 002's `worker(i)`: waits for a permit (`with sema:`), works, and
/// leaves, giving its permit back.
async fn worker(i: usize, room: Rc<Room>) {
    if room.sema.locked() {
        room.say(format_args!(
            "worker {i} 等待 (waits): {LIMIT} inside already"
        ));
    }
    let permit = room.sema.acquire().await; // sema.acquire()

    let inside = room.inside.get() + 1;
    room.inside.set(inside);
    room.most.set(room.most.get().max(inside));
    assert!(
        inside <= LIMIT,
        "{inside} workers inside, the limit is {LIMIT}"
    );
    room.say(format_args!("worker {i} 进入 (enters)  inside: {inside}"));

    corio::time::sleep(WORK).await; // the work, using the resource

    room.inside.set(room.inside.get() - 1);
    room.say(format_args!(
        "worker {i} 离开 (leaves)  inside: {}",
        room.inside.get()
    ));
    drop(permit); // sema.release(): the next in line enters
}

fn main() {
    common::no_arguments("seed 002: ten workers, at most three inside a semaphore at once");
    let start = Instant::now();
    let room = Rc::new(Room {
        sema: Semaphore::new(LIMIT), // Semaphore(3)
        inside: Cell::new(0),
        most: Cell::new(0),
        start,
    });
    corio::run({
        let room = room.clone();
        async move {
            let workers: Vec<_> = (0..WORKERS)
                .map(|i| corio::spawn(worker(i, room.clone())))
                .collect();
            for outcome in corio::gather(workers).await {
                outcome.expect("a worker does not panic");
            }
        }
    });
    let total = start.elapsed();

    let rounds = WORKERS.div_ceil(LIMIT) as u32;
    assert_eq!(room.most.get(), LIMIT, "never more than {LIMIT} inside");
    assert!(
        total >= WORK * rounds,
        "{rounds} rounds of work take at least that"
    );
    say!(
        "most inside at once: {} (limit {LIMIT}); 总耗时 (total): {:.2} s ≈ ceil({WORKERS} / \
         {LIMIT}) = {rounds} × {:.2} s = {:.2} s",
        room.most.get(),
        total.as_secs_f64(),
        WORK.as_secs_f64(),
        (WORK * rounds).as_secs_f64()
    );
}
