//! A waker woken by value on another thread (`waker.wake()`, which consumes
//! the clone) must not leave its loop waiting for that clone after it is
//! gone. The loop counts the wakers still held to tell "could still be
//! woken" from "would block forever"; if the other thread queued the wake
//! and only then dropped its clone, the loop could take the wake, poll the
//! task and count that clone in between — and then wait for ever instead
//! of reporting the hang. That window is a few instructions wide, so this
//! test keeps the CPUs busy to stretch it, and repeats. (Its own test
//! binary: nothing else should run beside the spinning threads.)

use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use corio::EventLoop;

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
    let stop = Arc::new(AtomicBool::new(false));
    let spinners: Vec<_> = (0..4)
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
    let mut failure = None;
    for round in 0..40 {
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let result = catch_unwind(AssertUnwindSafe(|| {
                let mut lp = EventLoop::new().unwrap();
                lp.run_until_complete(WokenOnceFromElsewhere { sent: false });
            }));
            let _ = done_tx.send(result.is_err());
        });
        match done_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(true) => {}
            Ok(false) => unreachable!("the future never completes"),
            Err(_) => {
                failure = Some(round);
                break;
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    for spinner in spinners {
        spinner.join().unwrap();
    }
    if let Some(round) = failure {
        panic!("round {round}: the loop still waits for a waker that is gone");
    }
}
