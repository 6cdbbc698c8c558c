//! Seed 003's 互斥锁lock (mutex) lesson: a lock held across a whole loop
//! makes the other worker wait for all of it.
//!
//! ```python
//! def f1():
//!     global A, lock
//!     lock.acquire()
//!     for i in range(10):
//!         A += 10
//!         print('f3', A)
//!         time.sleep(1)
//!     lock.release()
//!
//! def f2():                 # the same, with A += 1 and print('f4', A)
//!
//! lock = threading.Lock(); A = 0
//! t1 = threading.Thread(target=f1); t2 = threading.Thread(target=f2)
//! t1.start(); t2.start()
//! ```
//!
//! The seed prints `f3 10` … `f3 100`, then `f4 101` … `f4 110`: t2 starts
//! at once but waits at `lock.acquire()` until t1 has released it, ten
//! sleeps later. Twice here, as two tasks:
//!
//! 1. without the lock, the two loops take turns at every sleep: `f3` and
//!    `f4` lines alternate (on one thread `A += 10` cannot be torn — no
//!    `.await` inside it — so the sum is still right; `ticket_lock` shows
//!    the read–await–write that does lose updates);
//! 2. with a [`Lock`] that owns `A` (corio's lock guards a value, so `A`
//!    cannot be touched without it), held across the whole loop: every `f3`
//!    line, then every `f4` line — and the moment f2's task gets the lock
//!    (0.5 s, after all ten of f1's sleeps) is printed.
//!
//! There is no `release()` to forget: the guard releases the lock when it
//! is dropped, at the end of the block (Python's `with lock:`). Seed 002's
//! "release() on an unlocked lock raises" cannot happen either.
//!
//! The seed's 1 s sleeps are 50 ms here (about 1.5 s in all).
//!
//! Run it: `cargo run --release --example lock_block`

#[macro_use]
mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use corio::sync::Lock;
use corio::time::sleep;

/// The seed's `time.sleep(1)`, scaled down.
const STEP: Duration = Duration::from_millis(50);

/// Part 1: `f1` or `f2` with no lock; `A` is a shared `Cell`.
async fn add_without_lock(label: &str, by: u32, a: Rc<Cell<u32>>) {
    for _ in 0..10 {
        a.set(a.get() + by); // A += by
        say!("  {label} {}", a.get());
        sleep(STEP).await; // the other task runs here
    }
}

/// Part 2: `f1` or `f2` with the lock held for the whole loop.
async fn add_with_lock(label: &str, by: u32, lock: Rc<Lock<u32>>, start: Instant) {
    let mut a = lock.lock().await; // lock.acquire(): may wait here
    say!(
        "  [{:4.2} s] {label}'s task has the lock",
        start.elapsed().as_secs_f64()
    );
    for _ in 0..10 {
        *a += by; // A += by, through the guard
        say!("  {label} {}", *a);
        sleep(STEP).await; // still holding the lock: the other task waits
    }
    // lock.release(): the guard `a` is dropped here.
}

fn main() {
    common::no_arguments(
        "seed 003: a lock held across a loop makes the other task wait for all of it",
    );

    say!("1) no lock: the two loops take turns at every sleep");
    let total = corio::run(async {
        let a = Rc::new(Cell::new(0)); // A = 0
        let t1 = corio::spawn(add_without_lock("f3", 10, Rc::clone(&a)));
        let t2 = corio::spawn(add_without_lock("f4", 1, Rc::clone(&a)));
        t1.await.expect("f1 does not panic");
        t2.await.expect("f2 does not panic");
        a.get()
    });
    say!("  A = {total}\n");

    say!("2) lock = Lock(A): f1 holds it for its whole loop, f2 waits");
    let start = Instant::now();
    let total = corio::run(async move {
        let lock = Rc::new(Lock::new(0)); // lock = threading.Lock(); A = 0
        let t1 = corio::spawn(add_with_lock("f3", 10, Rc::clone(&lock), start));
        let t2 = corio::spawn(add_with_lock("f4", 1, Rc::clone(&lock), start));
        t1.await.expect("f1 does not panic");
        t2.await.expect("f2 does not panic");
        *lock.lock().await
    });
    say!("  A = {total}");
}
