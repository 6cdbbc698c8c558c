//! A waker woken by value on another thread (`waker.wake()`, which consumes
//! the clone) must not leave its loop waiting for that clone after it is
//! gone. The loop counts the wakers still held to tell "could still be
//! woken" from "would block forever"; if the other thread queued the wake
//! and only then dropped its clone, the loop could take the wake, poll the
//! task and count that clone in between — and then wait for ever instead
//! of reporting the hang. That window is a few instructions wide, so this
//! test keeps the CPUs busy to stretch it, and repeats. (Its own test
//! binary: nothing else should run beside the spinning threads.) Debug
//! mode's stall check has a count of its own with the same kind of
//! window: the pool jobs still to deliver.

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use corio::EventLoop;
use corio::pool::ThreadPool;
use corio::sync::Event;

/// Threads that keep every CPU busy until the returned flag is set (or a
/// minute has passed), to stretch the windows between two steps of
/// another thread.
fn spin_the_cpus() -> (Arc<AtomicBool>, Vec<std::thread::JoinHandle<()>>) {
    let stop = Arc::new(AtomicBool::new(false));
    let spinners = (0..4)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let started = Instant::now();
                while !stop.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(60) {
                    std::hint::spin_loop();
                }
            })
        })
        .collect();
    (stop, spinners)
}

/// Runs `make_main` on a fresh loop in a thread of its own, `rounds`
/// times: each must end with the "would block forever" panic within 10 s.
/// Returns the first round that hung instead.
fn first_hang(rounds: usize, make_main: impl Fn() -> Box<dyn FnOnce() + Send>) -> Option<usize> {
    for round in 0..rounds {
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let main = make_main();
        std::thread::spawn(move || {
            let result = catch_unwind(AssertUnwindSafe(main));
            let _ = done_tx.send(result.is_err());
        });
        match done_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(true) => {}
            Ok(false) => unreachable!("the main future never completes"),
            Err(_) => return Some(round),
        }
    }
    None
}

/// Pending for ever; on its first poll it sends a clone of its waker to a
/// thread that wakes it (by value) a moment later.
struct WokenOnceFromElsewhere {
    sent: bool,
}

impl Future for WokenOnceFromElsewhere {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if !self.sent {
            self.sent = true;
            let waker = cx.waker().clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(2));
                waker.wake();
            });
        }
        Poll::Pending
    }
}

#[test]
fn a_waker_woken_by_value_on_another_thread_never_hides_a_hang_from_its_loop() {
    let (stop, spinners) = spin_the_cpus();
    let hang = first_hang(40, || {
        Box::new(|| {
            let mut lp = EventLoop::new().unwrap();
            lp.run_until_complete(WokenOnceFromElsewhere { sent: false });
        })
    });
    stop.store(true, Ordering::Relaxed);
    spinners.into_iter().for_each(|s| s.join().unwrap());
    if let Some(round) = hang {
        panic!("round {round}: the loop still waits for a waker that is gone");
    }
}

#[test]
fn debug_mode_proves_a_stall_that_comes_right_after_a_pool_job() {
    // The job wakes the main future and only then counts itself delivered:
    // a loop that polled and judged in between saw a job in flight.
    let (stop, spinners) = spin_the_cpus();
    let pool = Arc::new(ThreadPool::new(1));
    let hang = first_hang(300, || {
        let pool = Arc::clone(&pool);
        Box::new(move || {
            let mut lp = EventLoop::new().unwrap();
            lp.set_debug(true);
            lp.set_exception_handler(|_| {});
            lp.run_until_complete(async move {
                let job = pool.submit(|| std::thread::sleep(Duration::from_millis(1)));
                job.unwrap().await.unwrap();
                Event::new().wait().await; // nobody will ever set it
            });
        })
    });
    stop.store(true, Ordering::Relaxed);
    spinners.into_iter().for_each(|s| s.join().unwrap());
    if let Some(round) = hang {
        panic!("round {round}: debug mode waits for ever instead of proving the stall");
    }
}
