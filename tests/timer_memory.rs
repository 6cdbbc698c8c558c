//! Memory of timers: many armed a millisecond apart, a million armed, and
//! create/cancel churn.
//!
//! Its own test binary, with one test that runs its parts in sequence: it
//! reads this process's resident memory, which anything running beside it
//! would disturb.

mod common;

use common::rss;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;

use corio::time::{Sleep, sleep};

/// Polls a sleep once, so that its timer is really armed.
async fn arm(sleep: &mut Sleep) {
    std::future::poll_fn(|cx| {
        assert!(Pin::new(&mut *sleep).poll(cx).is_pending());
        Poll::Ready(())
    })
    .await;
}

#[test]
fn timer_memory_stays_bounded() {
    sparse_timers_cost_a_bounded_amount_each();
    a_million_armed_timers_cost_a_bounded_amount_each_and_are_all_disarmed();
    create_and_cancel_churn_keeps_memory_flat();
}

/// Arms `n` sleeps of `duration(i)` on a fresh loop; returns the resident
/// memory they took, per timer, and checks that dropping them disarmed all.
fn bytes_per_armed_timer(n: usize, duration: impl Fn(usize) -> Duration) -> usize {
    let mut lp = corio::EventLoop::new().unwrap();
    let per_timer = lp.run_until_complete(async {
        let before = rss();
        let mut sleeps: Vec<Sleep> = (0..n).map(|i| sleep(duration(i))).collect();
        for s in &mut sleeps {
            arm(s).await;
        }
        let armed = rss();
        drop(sleeps);
        (armed - before) / n
    });
    assert!(lp.run_once().idle, "every timer was disarmed");
    per_timer
}

fn a_million_armed_timers_cost_a_bounded_amount_each_and_are_all_disarmed() {
    let per_timer =
        bytes_per_armed_timer(1_000_000, |i| Duration::from_secs(3600 + i as u64 % 1000));
    // A Sleep is ~40 bytes, its queue entry 24, its slot 40: well under 200.
    assert!(per_timer < 200, "{per_timer} bytes per armed timer");
}

/// Timers a millisecond apart (a server's idle timeouts, say): few share a
/// bucket of the timer queue, so its per-bucket cost shows here.
fn sparse_timers_cost_a_bounded_amount_each() {
    let per_timer = bytes_per_armed_timer(200_000, |i| {
        Duration::from_secs(60) + Duration::from_millis(i as u64)
    });
    // A Sleep ~40, its slot 40, its entry 24, and its share of a bucket
    // (about 30 here, 2026-11-29): well under 200. (Run first: memory freed
    // by the other parts would hide what this one takes.)
    assert!(per_timer < 200, "{per_timer} bytes per armed timer");
}

fn create_and_cancel_churn_keeps_memory_flat() {
    corio::run(async {
        // Warm up the allocator and the heap's capacity.
        for _ in 0..10_000 {
            let mut s = sleep(Duration::from_secs(10));
            arm(&mut s).await;
        }
        let before = rss();
        for _ in 0..2_000_000 {
            let mut s = sleep(Duration::from_secs(10));
            arm(&mut s).await;
        }
        let grown = rss().saturating_sub(before);
        assert!(
            grown < 4 << 20,
            "grew {grown} bytes over 2M create/cancel cycles"
        );
    });
}
