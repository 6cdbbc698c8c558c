//! Seed 003's join的功能 (what `join` does): where you wait decides what
//! runs at the same time.
//!
//! ```python
//! def f():
//!     print('t1 start')
//!     for i in range(10):
//!         time.sleep(0.1)
//!     print('t1-over')
//!
//! def f2():
//!     print('t2 start')
//!     print('t2 over')
//!
//! t1 = threading.Thread(target=f, name='t1')
//! t2 = threading.Thread(target=f2, name='t2')
//! t1.start()
//! t1.join()          # 主线程等待 t1 结束 (main waits for t1 here)
//! t2.start()
//! t2.join()
//! print('done')
//! ```
//!
//! `t.join()` makes the main thread wait, "相当于插队" (like letting t cut
//! in line). A thread is [`corio::spawn`] here, and `join()` is
//! `task.await`. Watch the timestamps:
//!
//! 1. the seed's code — spawn t1, await it, *then* spawn t2: t2 starts only
//!    after t1 is over (about 1 s), so nothing overlaps;
//! 2. spawn both, then await both: t2 starts and ends at once while t1
//!    sleeps — the output the seed prints (`t1 start`, `t2 start`,
//!    `t2 over`, `t1-over`) is this shape's, not its code's;
//! 3. seed 002's `join(timeout=)` and `is_alive()`: [`corio::time::timeout`]
//!    around `&mut task` gives up waiting but leaves the task running, as a
//!    thread keeps running after a `join` that timed out;
//! 4. 守护线程 (`daemon = True`, seed 004's program): a task nobody awaits is cancelled when
//!    the main future of [`corio::run`] returns — every corio task is a
//!    daemon. To wait for one, await it (or `gather`);
//! 5. 线程内存数据共享 (seed 004: a thread sets the global `n = 0`, and the
//!    main thread prints `0`, where a process would have changed only its
//!    own copy): a thread and a task each set a shared `n` to 0.
//!
//! The seed's sleep is `time.sleep`, which would block the whole loop
//! (seed 004's lesson); the twin uses `corio::time::sleep(..).await`.
//!
//! Run it: `cargo run --release --example join_order` (about 3 s).

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use corio::Builder;
use corio::time::{sleep, timeout};

/// Prints a line after the seconds since `start` and the task's name
/// (`main` for the main future, which is not a task).
fn log(start: Instant, line: &str) {
    let who = corio::current_task().map_or("main".to_string(), |t| t.name());
    say!(
        "  [{:4.2} s] {who:<4} {line}",
        start.elapsed().as_secs_f64()
    );
}

/// The seed's `f`: ten sleeps of 0.1 s.
async fn f(start: Instant) {
    log(start, "t1 start");
    for _ in 0..10 {
        sleep(Duration::from_millis(100)).await;
    }
    log(start, "t1-over");
}

/// The seed's `f2`: no waiting at all.
async fn f2(start: Instant) {
    log(start, "t2 start");
    log(start, "t2 over");
}

fn main() {
    common::no_arguments(
        "seed 003: join — await t1 before spawning t2, or spawn both then await; \
         join(timeout=), is_alive, daemon tasks",
    );

    say!("1) t1.start(); t1.join(); t2.start(); t2.join()  (the seed's code):");
    let start = Instant::now();
    corio::run(async move {
        let t1 = Builder::new().name("t1").spawn(f(start));
        t1.await.expect("f does not panic"); // t1.join(): main waits here
        let t2 = Builder::new().name("t2").spawn(f2(start)); // only now t2.start()
        t2.await.expect("f2 does not panic");
        log(start, "done");
    });
    say!("   -> one after the other: t2 waited for t1\n");

    say!("2) t1.start(); t2.start(); t1.join(); t2.join()  (the seed's output):");
    let start = Instant::now();
    corio::run(async move {
        let t1 = Builder::new().name("t1").spawn(f(start));
        let t2 = Builder::new().name("t2").spawn(f2(start));
        t1.await.expect("f does not panic"); // t2 runs while main waits here
        t2.await.expect("f2 does not panic"); // already done: returns at once
        log(start, "done");
    });
    say!("   -> t2 ran while t1 slept: the total is t1's alone\n");

    say!("3) t1.join(timeout=0.3); t1.is_alive(); threading.enumerate():");
    let start = Instant::now();
    corio::run(async move {
        let mut t1 = Builder::new().name("t1").spawn(f(start));
        // `&mut t1`: the timeout borrows the handle, so giving up on the
        // wait does not drop it (dropping a handle detaches the task).
        let waited = timeout(Duration::from_millis(300), &mut t1).await;
        let waited = match waited {
            Ok(_) => "t1 finished",
            Err(_) => "Err(Elapsed): main gave up waiting",
        };
        log(start, &format!("join(timeout=0.3) → {waited}"));
        log(start, &format!("t1.is_alive() → {}", !t1.is_done()));
        // all_tasks() lists the tasks on the loop (the main future is not
        // one): Python's active_count() would also count the main thread.
        let alive: Vec<String> = corio::all_tasks().iter().map(|t| t.name()).collect();
        log(start, &format!("all_tasks() → {alive:?}"));
        t1.await.expect("f does not panic"); // join() again, no timeout
        log(start, "t1.join() returned: t1 is no longer alive");
    });
    say!();

    say!("4) t.daemon = True; t.start(); print('主线程结束!')  (nobody awaits the task):");
    let start = Instant::now();
    corio::run(async move {
        let t = Builder::new().name("t").spawn(async move {
            sleep(Duration::from_millis(200)).await;
            log(start, "子线程正在执行! (never printed)");
        });
        t.detach(); // no handle kept: nobody will join it
        log(start, "主线程结束! (the main future returns)");
    });
    say!(
        "  [{:4.2} s] run() returned: the unfinished task was cancelled, like a daemon thread",
        start.elapsed().as_secs_f64()
    );
    say!();

    say!("5) 线程内存数据共享 (threads share memory): work() sets the global n = 0:");
    // A thread: the global is shared on purpose (`Arc` + an atomic, since
    // two threads touch it); the main thread sees the thread's write.
    let n = std::sync::Arc::new(std::sync::atomic::AtomicI32::new(1)); // n = 1
    let shared = std::sync::Arc::clone(&n);
    let t = std::thread::spawn(move || shared.store(0, std::sync::atomic::Ordering::SeqCst));
    t.join().expect("work does not panic"); // (the seed prints without joining: a race)
    say!(
        "  thread: print(n) -> {}",
        n.load(std::sync::atomic::Ordering::SeqCst)
    );
    // A task: on one thread a `Cell` is enough.
    let n = std::rc::Rc::new(std::cell::Cell::new(1));
    let shared = std::rc::Rc::clone(&n);
    corio::run(async move {
        corio::spawn(async move { shared.set(0) })
            .await
            .expect("work does not panic");
    });
    say!(
        "  task:   print(n) -> {} (a process would still print 1: its copy)",
        n.get()
    );
}
