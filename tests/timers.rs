//! Timers: order, never early, timeouts, intervals.

mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::{DropFlag, Log};
use corio::EventLoop;
use corio::time::{Elapsed, MissedTickBehavior, interval, sleep, sleep_until, timeout};

#[test]
fn timers_fire_in_deadline_order() {
    let log = Log::default();
    let l = log.clone();
    corio::run(async move {
        let tasks: Vec<_> = [30u64, 10, 20, 0, 10]
            .into_iter()
            .enumerate()
            .map(|(i, ms)| {
                let l = l.clone();
                corio::spawn(async move {
                    sleep(Duration::from_millis(ms)).await;
                    l.push(format!("{ms}ms#{i}"));
                })
            })
            .collect();
        corio::gather(tasks).await;
    });
    assert_eq!(
        log.take(),
        ["0ms#3", "10ms#1", "10ms#4", "20ms#2", "30ms#0"]
    );
}

#[test]
fn call_later_callbacks_fire_in_deadline_order() {
    let mut lp = EventLoop::new().unwrap();
    let log = Log::default();
    let start = Instant::now();
    for ms in [15u64, 5, 10] {
        let l = log.clone();
        lp.call_at(start + Duration::from_millis(ms), move || {
            l.push(ms.to_string())
        });
    }
    while !lp.run_once().idle {}
    assert_eq!(log.take(), ["5", "10", "15"]);
}

#[test]
fn timers_never_fire_before_their_deadline() {
    let late = corio::run(async {
        let mut checks = Vec::new();
        for i in 0..50u64 {
            let deadline = Instant::now() + Duration::from_micros(i * 137);
            checks.push(corio::spawn(async move {
                sleep_until(deadline).await;
                Instant::now() >= deadline
            }));
        }
        corio::gather(checks).await
    });
    assert!(late.iter().all(|ok| *ok == Ok(true)));

    let mut lp = EventLoop::new().unwrap();
    let seen = Rc::new(RefCell::new(Vec::new()));
    for i in 0..50u64 {
        let deadline = Instant::now() + Duration::from_micros(i * 211);
        let s = seen.clone();
        lp.call_at(deadline, move || {
            s.borrow_mut().push(Instant::now() >= deadline)
        });
    }
    while !lp.run_once().idle {}
    assert_eq!(seen.borrow().len(), 50);
    assert!(seen.borrow().iter().all(|ok| *ok));
}

#[test]
fn timeout_returns_elapsed_and_drops_the_inner_future() {
    let dropped = Rc::new(std::cell::Cell::new(false));
    let d = dropped.clone();
    let out = corio::run(async move {
        let slow = async move {
            let _flag = DropFlag(d);
            sleep(Duration::from_secs(3600)).await;
            "never"
        };
        let out = timeout(Duration::from_millis(10), slow).await;
        (out, dropped.get())
    });
    assert!(matches!(out.0, Err(Elapsed { .. })));
    assert!(out.1, "dropped before timeout returned");
}

#[test]
fn timeout_gives_the_output_when_the_future_is_in_time() {
    corio::run(async {
        let out = timeout(Duration::from_secs(5), async {
            sleep(Duration::from_millis(1)).await;
            "in time"
        })
        .await;
        assert_eq!(out, Ok("in time"));
    });
}

#[test]
fn a_dropped_sleep_disarms_its_timer() {
    let mut lp = EventLoop::new().unwrap();
    lp.run_until_complete(async {
        let mut sleep = std::pin::pin!(sleep(Duration::from_secs(3600)));
        // Poll once, so the timer is really armed.
        let polled =
            std::future::poll_fn(|cx| std::task::Poll::Ready(sleep.as_mut().poll(cx))).await;
        assert!(polled.is_pending());
    });
    // Nothing is left armed: the loop is idle, not waiting an hour.
    assert!(lp.run_once().idle);
}

#[test]
fn a_sleep_of_zero_completes_without_waiting() {
    let mut lp = EventLoop::new().unwrap();
    let started = Instant::now();
    lp.run_until_complete(async { sleep(Duration::ZERO).await });
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[test]
fn a_huge_sleep_does_not_overflow() {
    corio::run(async {
        let out = timeout(Duration::from_millis(1), sleep(Duration::MAX)).await;
        assert!(out.is_err());
    });
}

#[test]
fn reset_moves_a_sleep_earlier() {
    corio::run(async {
        let mut s = sleep(Duration::from_secs(3600));
        s.reset(Instant::now() + Duration::from_millis(5));
        let out = timeout(Duration::from_secs(5), s).await;
        assert!(out.is_ok());
    });
}

#[test]
fn timers_due_together_fire_in_deadline_order_then_arming_order() {
    // Deadlines a fraction of a millisecond apart share the loop's ~4 ms
    // timer buckets; armed out of order, then all due in one turn (the
    // thread sleeps past them before the loop looks): the bucket is
    // sorted when it comes due.
    let mut lp = EventLoop::new().unwrap();
    let log = Log::default();
    let start = Instant::now() + Duration::from_millis(20);
    for (name, us) in [
        ("d", 1900u64),
        ("b", 1100),
        ("a", 500),
        ("c", 1500),
        ("b2", 1100),
    ] {
        let l = log.clone();
        lp.call_at(start + Duration::from_micros(us), move || {
            l.push(name.to_string())
        });
    }
    std::thread::sleep(Duration::from_millis(40));
    while !lp.run_once().idle {}
    assert_eq!(log.take(), ["a", "b", "b2", "c", "d"]);
}

/// Makes the task miss ticks: blocks the thread (on purpose) for `ms`.
fn block_for(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

#[test]
fn interval_skip_drops_missed_ticks_and_stays_on_the_grid() {
    corio::run(async {
        let period = Duration::from_millis(10);
        let mut ticks = interval(period);
        let t0 = ticks.tick().await;
        block_for(35);
        let late = ticks.tick().await; // the tick due at 10 ms, late
        let seen = Instant::now();
        let next = ticks.tick().await;
        assert_eq!(late - t0, period);
        // On the grid, past the 20 and 30 ms ticks, and the first grid
        // point after the late tick was taken (40 ms, or later on a
        // loaded machine that let the thread wait after the block).
        let offset = next - t0;
        assert_eq!(
            offset.as_nanos() % period.as_nanos(),
            0,
            "{offset:?} is off the grid"
        );
        assert!(offset >= period * 4, "20 and 30 were skipped: {offset:?}");
        assert!(next <= seen + period, "no later than the next grid point");
    });
}

#[test]
fn interval_burst_fires_missed_ticks_back_to_back() {
    corio::run(async {
        let period = Duration::from_millis(10);
        let mut ticks = interval(period);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
        let t0 = ticks.tick().await;
        block_for(35);
        let before = Instant::now();
        let scheduled: Vec<Duration> = [ticks.tick().await, ticks.tick().await, ticks.tick().await]
            .iter()
            .map(|t| *t - t0)
            .collect();
        assert_eq!(scheduled, [period, period * 2, period * 3]);
        // (Waiting a period between them would take three; a loaded
        // machine may add some.)
        assert!(before.elapsed() < period * 3, "the burst does not wait");
    });
}

#[test]
fn interval_delay_restarts_the_schedule_from_now() {
    corio::run(async {
        let period = Duration::from_millis(10);
        let mut ticks = interval(period);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let t0 = ticks.tick().await;
        block_for(35);
        // The late tick reads the clock after this: the next one comes a
        // full period after that.
        let unblocked = Instant::now();
        let late = ticks.tick().await;
        let next = ticks.tick().await;
        assert_eq!(late - t0, period);
        assert!(
            next >= unblocked + period,
            "the schedule restarts from the late tick"
        );
    });
}

#[test]
#[should_panic(expected = "period must be non-zero")]
fn an_interval_of_zero_is_refused() {
    corio::run(async {
        let _ = interval(Duration::ZERO);
    });
}

#[test]
fn sleep_outside_a_loop_says_there_is_no_running_loop() {
    let err = std::panic::catch_unwind(|| sleep(Duration::from_secs(1))).unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(msg.contains("no running event loop"), "{msg}");
}

/// Runs `f`, which must panic with "no running event loop"; gives the
/// message and the line the panic points at.
fn no_loop_panic(f: impl FnOnce()) -> (String, u32) {
    use std::sync::{Arc, Mutex};
    let at = Arc::new(Mutex::new(None));
    let seen = Arc::clone(&at);
    let default = Arc::new(std::panic::take_hook());
    let others = Arc::clone(&default);
    let this_test = std::thread::current().id(); // tests run side by side
    std::panic::set_hook(Box::new(move |info| {
        match info.payload().downcast_ref::<String>() {
            Some(text)
                if text.contains("no running event loop")
                    && std::thread::current().id() == this_test =>
            {
                let line = info.location().filter(|l| l.file() == file!());
                *seen.lock().unwrap() = Some((text.clone(), line.map(|l| l.line())));
            }
            _ => others(info),
        }
    }));
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    drop(std::panic::take_hook()); // back to the default hook
    assert!(outcome.is_err());
    let (msg, line) = at.lock().unwrap().take().expect("a no-loop panic");
    (msg, line.expect("the panic points into this file"))
}

#[test]
fn timeout_outside_a_loop_names_the_function_called_and_points_at_the_call() {
    let line = line!() + 1;
    let (msg, at) = no_loop_panic(|| drop(timeout(Duration::from_secs(1), async {})));
    assert!(msg.starts_with("corio::time::timeout:"), "{msg}");
    assert_eq!(at, line);
    let line = line!() + 1;
    let (msg, at) = no_loop_panic(|| drop(corio::time::wait_for(Duration::ZERO, async {})));
    assert!(msg.starts_with("corio::time::wait_for:"), "{msg}");
    assert_eq!(at, line);
    let now = std::time::Instant::now();
    let line = line!() + 1;
    let (msg, at) = no_loop_panic(|| drop(corio::time::timeout_at(now, async {})));
    assert!(msg.starts_with("corio::time::timeout_at:"), "{msg}");
    assert_eq!(at, line);
    let line = line!() + 1;
    let (msg, at) = no_loop_panic(|| drop(sleep(Duration::from_secs(1))));
    assert!(msg.starts_with("corio::time::sleep:"), "{msg}");
    assert_eq!(at, line);
}

#[test]
fn an_interval_with_a_huge_period_does_not_overflow() {
    corio::run(async {
        let mut ticks = interval(Duration::MAX);
        ticks.tick().await; // the first tick is immediate
        let second = timeout(Duration::from_millis(5), ticks.tick()).await;
        assert!(second.is_err(), "the next tick is (practically) never");
    });
}

#[test]
fn a_sleep_polled_by_its_task_then_inside_gather_wakes_gather() {
    corio::run(async {
        let task = corio::spawn(async {
            let mut nap = std::pin::pin!(sleep(Duration::from_millis(10)));
            // First polled directly by the task: it registers the task's key.
            let first =
                std::future::poll_fn(|cx| std::task::Poll::Ready(nap.as_mut().poll(cx))).await;
            assert!(first.is_pending());
            // Then polled inside gather, with a child waker of its own: the
            // timer must now wake that child, or gather would never see it.
            corio::gather([nap]).await.len() == 1
        });
        let out = timeout(Duration::from_secs(5), task).await;
        assert_eq!(out, Ok(Ok(true)));
    });
}

#[test]
fn a_task_parked_on_a_timer_leaves_its_waker_in_the_pool() {
    // 10,000 tasks sleeping at once: the timers remember task keys, so the
    // loop needs no waker per sleeping task (and stays correct).
    let woke = corio::run(async {
        let tasks: Vec<_> = (0..10_000u64)
            .map(|i| corio::spawn(async move { sleep(Duration::from_millis(1 + i % 20)).await }))
            .collect();
        corio::gather(tasks)
            .await
            .into_iter()
            .filter(Result::is_ok)
            .count()
    });
    assert_eq!(woke, 10_000);
}

#[test]
fn a_sleep_whose_deadline_passed_before_its_first_poll_completes_without_waiting() {
    corio::run(async {
        let nap = sleep(Duration::from_millis(1));
        std::thread::sleep(Duration::from_millis(20)); // the loop's clock is now stale
        let started = Instant::now();
        nap.await; // armed, then fired at the loop's next look: no real wait
        assert!(started.elapsed() < Duration::from_millis(500));
    });
}

#[test]
fn no_timer_is_left_armed_after_sleeps_complete_or_are_dropped() {
    let mut lp = EventLoop::new().unwrap();
    lp.run_until_complete(async {
        let done: Vec<_> = (0..1000u64)
            .map(|i| corio::spawn(sleep(Duration::from_micros(100 + i * 7))))
            .collect();
        corio::gather(done).await;
        // Fired, then dropped unpolled; and reset after firing.
        let mut fired = sleep(Duration::from_millis(1));
        sleep(Duration::from_millis(5)).await;
        drop(sleep(Duration::ZERO));
        fired.reset(Instant::now() + Duration::from_millis(1));
        fired.await;
    });
    assert!(lp.run_once().idle, "a timer was left armed");
}

#[test]
fn the_first_tick_of_an_interval_completes_at_its_first_poll() {
    corio::run(async {
        let mut ticks = interval(Duration::from_secs(60));
        let first = std::future::poll_fn(|cx| std::task::Poll::Ready(ticks.poll_tick(cx))).await;
        assert!(first.is_ready());
    });
}

#[test]
fn the_first_tick_does_not_wait_for_a_busy_loop_to_look_at_its_timers() {
    corio::run(async {
        let spins = Rc::new(std::cell::Cell::new(0u32));
        let s = spins.clone();
        let spinner = corio::spawn(async move {
            loop {
                s.set(s.get() + 1);
                corio::yield_now().await;
            }
        })
        .cancel_on_drop();
        corio::yield_now().await;
        let before = spins.get();
        interval(Duration::from_secs(60)).tick().await;
        assert!(
            spins.get() - before <= 2,
            "waited {} polls",
            spins.get() - before
        );
        drop(spinner);
    });
}

#[test]
fn a_sleep_reset_to_now_completes_at_its_next_poll() {
    corio::run(async {
        let mut nap = Box::pin(sleep(Duration::from_secs(60)));
        nap.as_mut().reset(Instant::now());
        let polled = std::future::poll_fn(|cx| std::task::Poll::Ready(nap.as_mut().poll(cx))).await;
        assert!(polled.is_ready());
    });
}

#[test]
fn an_elapsed_sleep_polled_after_its_loop_stopped_completes() {
    let mut lp = EventLoop::new().unwrap();
    // Made inside the running loop, handed out unawaited.
    let nap = lp.run_until_complete(async { Some(sleep(Duration::from_millis(1))) });
    let nap = nap.unwrap();
    std::thread::sleep(Duration::from_millis(5));
    let mut nap = Box::pin(nap);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(nap.as_mut().poll(&mut cx).is_ready());
}

/// The main future's first poll hands a clone of its waker to a callback,
/// which polls a 10 ms sleep with it, outside any task's poll. A 300 ms
/// fallback timer also wakes it. Returns whether the fallback was needed.
fn main_future_woken_by_a_sleep_polled_in_a_callback(lp: &mut EventLoop) -> bool {
    let fallback = Rc::new(std::cell::Cell::new(false));
    let kept: Rc<RefCell<Vec<std::pin::Pin<Box<corio::time::Sleep>>>>> = Rc::default();
    let f = fallback.clone();
    let mut polls = 0;
    lp.run_until_complete(std::future::poll_fn(move |cx| {
        polls += 1;
        if polls > 1 {
            return std::task::Poll::Ready(());
        }
        let waker = cx.waker().clone();
        let kept = kept.clone();
        corio::call_soon(move || {
            let mut nap = Box::pin(sleep(Duration::from_millis(10)));
            let mut cx = std::task::Context::from_waker(&waker);
            assert!(nap.as_mut().poll(&mut cx).is_pending());
            kept.borrow_mut().push(nap);
        });
        let waker = cx.waker().clone();
        let f = f.clone();
        corio::call_later(Duration::from_millis(300), move || {
            f.set(true);
            waker.wake();
        });
        std::task::Poll::Pending
    }));
    fallback.get()
}

#[test]
fn a_main_future_that_panicked_leaves_no_stale_waker_identity_behind() {
    common::quiet_panics();
    let mut lp = EventLoop::new().unwrap();
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        lp.run_until_complete(std::future::poll_fn(|_| -> std::task::Poll<()> {
            panic!("expected: the main future panics")
        }))
    }));
    assert!(panicked.is_err());
    // The next main future's waker may reuse the freed address; its sleep,
    // polled from a callback, must still wake it (not the dead main future).
    assert!(!main_future_woken_by_a_sleep_polled_in_a_callback(&mut lp));
}

/// A task waiting on a sleep of `first`, shared with the caller, who
/// then resets it to `to(now)` and awaits the task (within 2 s); returns
/// the instant the sleep was reset to.
async fn reset_by_another_task(first: Duration, to: impl FnOnce(Instant) -> Instant) -> Instant {
    let shared = Rc::new(RefCell::new(Box::pin(sleep(first))));
    let s = Rc::clone(&shared);
    let waiter = corio::spawn(async move {
        std::future::poll_fn(|cx| s.borrow_mut().as_mut().poll(cx)).await;
    });
    corio::yield_now().await; // the waiter parks on the sleep
    let deadline = to(Instant::now());
    shared.borrow_mut().as_mut().reset(deadline);
    let out = timeout(Duration::from_secs(2), waiter).await;
    assert!(out.is_ok(), "the waiter never woke after reset");
    deadline
}

#[test]
fn a_sleep_reset_earlier_by_another_task_wakes_its_waiter_at_the_new_deadline() {
    corio::run(async {
        let soon = reset_by_another_task(Duration::from_secs(3600), |now| {
            now + Duration::from_millis(5)
        })
        .await;
        assert!(Instant::now() >= soon);
    });
}

#[test]
fn a_sleep_reset_later_by_another_task_still_wakes_its_waiter() {
    corio::run(async {
        let later = reset_by_another_task(Duration::from_millis(10), |now| {
            now + Duration::from_millis(20)
        })
        .await;
        assert!(Instant::now() >= later, "woke before the new deadline");
    });
}

#[test]
fn a_sleep_reset_to_the_past_by_another_task_wakes_its_waiter_at_once() {
    corio::run(async {
        reset_by_another_task(Duration::from_secs(3600), |now| now).await;
    });
}

#[test]
fn a_panicking_foreign_waker_on_a_timer_neither_escapes_the_loop_nor_costs_other_wakes() {
    struct Panicking;
    impl std::task::Wake for Panicking {
        fn wake(self: std::sync::Arc<Self>) {
            panic!("a foreign waker panics");
        }
    }
    let mut lp = EventLoop::new().unwrap();
    let deadline = Instant::now() + Duration::from_millis(5);
    // One timer is armed with another executor's waker (it panics when
    // woken), the other by a task of the loop; both fall due together.
    let foreign = lp.run_until_complete(async {
        let mut foreign = Box::pin(sleep_until(deadline));
        let waker = std::task::Waker::from(std::sync::Arc::new(Panicking));
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(foreign.as_mut().poll(&mut cx).is_pending());
        Some(foreign) // (kept, not awaited: its waker is the foreign one)
    });
    let sleeper = lp.spawn(async move { sleep_until(deadline).await });
    let woke = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        lp.run_until_complete(async { timeout(Duration::from_secs(5), sleeper).await })
    }));
    assert!(
        matches!(woke, Ok(Ok(Ok(())))),
        "the other sleeper: {:?}",
        woke.map_err(|_| "a panic escaped the loop")
    );
    drop(foreign);
}

#[test]
fn deadlines_from_before_the_loop_was_made_fire_earliest_first() {
    let t0 = Instant::now();
    std::thread::sleep(Duration::from_millis(30));
    let mut lp = EventLoop::new().unwrap();
    let order = Rc::new(RefCell::new(Vec::new()));
    for ms in [20u64, 10] {
        let o = Rc::clone(&order);
        lp.call_at(t0 + Duration::from_millis(ms), move || {
            o.borrow_mut().push(ms)
        });
    }
    while !lp.run_once().idle {}
    assert_eq!(*order.borrow(), [10, 20]);
}

#[test]
fn a_sleep_made_on_a_dropped_loop_completes_on_the_loop_that_awaits_it() {
    let mut first = EventLoop::new().unwrap();
    let nap = first.run_until_complete(async {
        let mut nap = Box::pin(sleep(Duration::from_millis(20)));
        // Armed on the first loop, as a poll that waited would leave it.
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        assert!(nap.as_mut().poll(&mut cx).is_pending());
        Some(nap)
    });
    drop(first);
    let mut second = EventLoop::new().unwrap();
    let done = second.run_until_complete(async move {
        let napper = corio::spawn(nap.unwrap());
        sleep(Duration::from_millis(500)).await;
        napper.is_done()
    });
    assert!(done, "the sleep's timer stayed in the dropped loop");
}

#[test]
#[should_panic(expected = "event loop has been closed")]
fn a_sleep_of_a_closed_loop_polled_by_another_executor_is_a_clear_error() {
    let mut lp = EventLoop::new().unwrap();
    let nap = lp.run_until_complete(async { Some(Box::pin(sleep(Duration::from_secs(1)))) });
    drop(lp);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let _ = nap.unwrap().as_mut().poll(&mut cx);
}

#[test]
fn a_due_sleep_and_a_later_due_call_at_run_in_deadline_order() {
    // One look finds both due: the sleeper was due first, so its task
    // runs first (sleepers and callbacks share one deadline order).
    let mut lp = EventLoop::new().unwrap();
    let log = Log::default();
    let t0 = Instant::now();
    let l = log.clone();
    lp.spawn(async move {
        sleep_until(t0 + Duration::from_millis(2)).await;
        l.push("sleep@2");
    })
    .detach();
    lp.run_once(); // arms the sleep
    let l = log.clone();
    lp.call_at(t0 + Duration::from_millis(6), move || l.push("call_at@6"));
    std::thread::sleep(Duration::from_millis(20)); // both due at the next look
    while !lp.run_once().idle {}
    assert_eq!(log.take(), ["sleep@2", "call_at@6"]);
}

#[test]
fn a_sleep_and_a_call_at_with_one_deadline_run_in_arming_order() {
    let mut lp = EventLoop::new().unwrap();
    let log = Log::default();
    let at = Instant::now() + Duration::from_millis(3);
    let l = log.clone();
    lp.spawn(async move {
        sleep_until(at).await;
        l.push("sleep");
    })
    .detach();
    lp.run_once(); // arms the sleep first
    let l = log.clone();
    lp.call_at(at, move || l.push("call_at"));
    std::thread::sleep(Duration::from_millis(20));
    while !lp.run_once().idle {}
    assert_eq!(log.take(), ["sleep", "call_at"]);
}

#[test]
fn sleeps_already_queued_end_in_deadline_order_even_when_the_later_one_is_polled_first() {
    use std::future::Future;
    use std::task::Poll;

    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    corio::run(async move {
        let t0 = Instant::now();
        let la = l.clone();
        let a = corio::spawn(async move {
            sleep_until(t0 + Duration::from_millis(10)).await;
            la.borrow_mut().push("A at 10 ms");
        });
        let lb = l.clone();
        let b = corio::spawn(async move {
            let mut later = Box::pin(sleep_until(t0 + Duration::from_millis(12)));
            // Polled once: its timer is in the queue.
            std::future::poll_fn(|cx| {
                assert!(later.as_mut().poll(cx).is_pending());
                Poll::Ready(())
            })
            .await;
            corio::yield_now().await;
            // Both deadlines pass while the loop is held; a new sleep reads
            // the clock afresh; then the later sleep is polled again before
            // the loop has fired any timer.
            std::thread::sleep(Duration::from_millis(20));
            drop(sleep(Duration::ZERO));
            later.await;
            lb.borrow_mut().push("B at 12 ms");
        });
        a.await.unwrap();
        b.await.unwrap();
    });
    assert_eq!(*log.borrow(), ["A at 10 ms", "B at 12 ms"]);
}

#[test]
fn a_task_that_loops_on_zero_sleeps_still_lets_the_others_run() {
    // asyncio's `while not done: await asyncio.sleep(0)`, written with
    // `sleep(ZERO)` (which does not yield by itself): the poll budget makes
    // it yield every so often, so the task that sets `done` gets its turn.
    let done = Rc::new(std::cell::Cell::new(false));
    let rounds = corio::run({
        let done = done.clone();
        async move {
            let d = done.clone();
            let waiter = corio::spawn(async move {
                let mut rounds = 0u32;
                while !d.get() && rounds < 1_000_000 {
                    sleep(Duration::ZERO).await;
                    rounds += 1;
                }
                rounds
            });
            let setter = corio::spawn(async move { done.set(true) });
            setter.await.unwrap();
            waiter.await.unwrap()
        }
    });
    assert!(done.get());
    assert!(
        rounds < 1_000,
        "the setter waited {rounds} rounds of the zero sleep"
    );
}

#[test]
fn an_interval_bursting_through_missed_ticks_still_lets_the_others_run() {
    let other_ran_at = Rc::new(std::cell::Cell::new(None));
    corio::run({
        let other_ran_at = other_ran_at.clone();
        async move {
            let ticks = Rc::new(std::cell::Cell::new(0u32));
            let t = ticks.clone();
            let mut every = interval(Duration::from_micros(100));
            every.set_missed_tick_behavior(MissedTickBehavior::Burst);
            every.tick().await;
            // Hundreds of ticks missed at once, all due.
            std::thread::sleep(Duration::from_millis(50));
            let ticker = corio::spawn(async move {
                every.tick().await; // armed on a stale clock: it waits once
                // From here every tick is due already. Another task asks
                // for its turn now.
                corio::spawn(async move { other_ran_at.set(Some(ticks.get())) }).detach();
                for _ in 0..400 {
                    every.tick().await;
                    t.set(t.get() + 1);
                }
            });
            ticker.await.unwrap();
            corio::yield_now().await;
        }
    });
    // Back to back within the task's poll budget, not all 400 in one poll.
    let at = other_ran_at.get().unwrap();
    assert!(at < 400, "the other task ran only after all {at} ticks");
}

#[test]
fn resetting_an_armed_sleep_to_a_past_deadline_in_its_own_tasks_poll_wakes_that_task() {
    let mut lp = EventLoop::new().unwrap();
    let task = lp.spawn(async {
        let mut nap = sleep(Duration::from_secs(3600));
        let mut reset = false;
        std::future::poll_fn(|cx| {
            if std::pin::Pin::new(&mut nap).poll(cx).is_ready() {
                return std::task::Poll::Ready(());
            }
            if !std::mem::replace(&mut reset, true) {
                // Armed, with this task as its waiter: now due, while the
                // task is still running.
                nap.reset(Instant::now());
            }
            std::task::Poll::Pending
        })
        .await;
    });
    let mut turns = 0;
    while !task.is_done() {
        turns += 1;
        assert!(!lp.run_once().idle, "the woken task was lost");
        assert!(turns < 100);
    }
    assert_eq!(lp.run_until_complete(task), Ok(()));
}
