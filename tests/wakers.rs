//! Wakers: same thread, other threads, stale keys, duplicates.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::task::{Poll, Waker};
use std::time::{Duration, Instant};

use common::{Probe, spawn_parked};
use corio::EventLoop;

#[test]
fn a_task_woken_from_another_thread_is_polled() {
    let mut lp = EventLoop::new().unwrap();
    let probe = Probe::new();
    let task = lp.spawn(probe.future());
    let (tx, rx) = mpsc::channel();
    let started = Instant::now();
    let out = lp.run_until_complete(async {
        corio::yield_now().await; // let the task park first
        probe.release();
        let waker = probe.waker();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            waker.wake();
            tx.send(()).unwrap();
        });
        task.await
    });
    rx.recv().unwrap();
    assert_eq!(out, Ok(2), "polled once to park, once after the wake");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_loop_blocked_in_poll_with_no_timers_is_woken_by_another_thread_and_polls_the_task_then() {
    let mut lp = EventLoop::new().unwrap();
    let (probe, task) = spawn_parked(&mut lp); // the probe holds the waker
    probe.release();
    let waker = probe.waker();
    let waker_thread = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        waker.wake();
    });
    let started = Instant::now();
    // Nothing is ready and no timer is armed: this turn blocks in
    // mio::Poll::poll until the other thread's wake pokes the mio::Waker,
    // then runs what the wake made ready — in that turn, not the next.
    let turn = lp.run_once();
    assert!(turn.slept >= Duration::from_millis(20), "{turn:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
    waker_thread.join().unwrap();
    assert_eq!(turn.tasks_polled, 1, "{turn:?}");
    assert_eq!(lp.run_until_complete(task), Ok(2));
}

/// The next turn polls the parked probe task exactly once; then cancels it.
fn polls_once_more(lp: &mut EventLoop, probe: &Probe, task: corio::Task<usize>) {
    let turn = lp.run_once();
    assert_eq!(turn.tasks_polled, 1);
    assert_eq!(probe.polls(), 2);
    task.cancel();
    lp.run_once();
}

#[test]
fn ten_thousand_wakes_before_it_runs_poll_a_task_once() {
    let mut lp = EventLoop::new().unwrap();
    let (probe, task) = spawn_parked(&mut lp);
    let waker = probe.waker();
    for _ in 0..10_000 {
        waker.wake_by_ref();
    }
    polls_once_more(&mut lp, &probe, task);
}

#[test]
fn ten_thousand_wakes_from_another_thread_poll_a_task_once() {
    let mut lp = EventLoop::new().unwrap();
    let (probe, task) = spawn_parked(&mut lp);
    let waker = probe.waker();
    std::thread::spawn(move || {
        for _ in 0..10_000 {
            waker.wake_by_ref();
        }
    })
    .join()
    .unwrap();
    polls_once_more(&mut lp, &probe, task);
}

#[test]
fn waking_a_finished_task_does_nothing() {
    let mut lp = EventLoop::new().unwrap();
    let probe = Probe::new();
    probe.release();
    let task = lp.spawn(probe.future());
    assert_eq!(lp.run_until_complete(task), Ok(1));
    let waker = probe.waker();
    waker.wake_by_ref();
    std::thread::spawn(move || waker.wake()).join().unwrap();
    let turn = lp.run_once();
    assert_eq!(turn.tasks_polled, 0);
    assert_eq!(probe.polls(), 1);
}

#[test]
fn a_stale_waker_does_not_poll_the_task_that_reused_its_slot() {
    let mut lp = EventLoop::new().unwrap();
    // The first task parks, keeping its waker in the probe, then finishes.
    let old = Probe::new();
    let first = lp.spawn(old.future());
    lp.run_once();
    let stale = old.waker();
    old.release();
    stale.wake_by_ref();
    assert_eq!(lp.run_until_complete(first), Ok(2));
    // The next task takes the freed slot.
    let new = Probe::new();
    let second = lp.spawn(new.future());
    lp.run_once();
    assert_eq!(new.polls(), 1);
    // Waking the old task's waker, here and from another thread, must not
    // poll the new one.
    stale.wake_by_ref();
    let s = stale.clone();
    std::thread::spawn(move || s.wake()).join().unwrap();
    let turn = lp.run_once();
    assert_eq!(turn.tasks_polled, 0);
    assert_eq!(new.polls(), 1);
    assert_eq!(old.polls(), 2);
    // The new task's own waker still works.
    new.release();
    new.waker().wake();
    assert_eq!(lp.run_until_complete(second), Ok(2));
}

#[test]
fn a_pooled_waker_is_never_handed_to_a_task_while_someone_still_holds_it() {
    let mut lp = EventLoop::new().unwrap();
    // Many short tasks, each keeping its waker in a probe after finishing.
    let probes: Vec<Probe> = (0..100).map(|_| Probe::new()).collect();
    for probe in &probes {
        probe.release();
        let task = lp.spawn(probe.future());
        assert_eq!(lp.run_until_complete(task), Ok(1));
    }
    let (parked, task) = spawn_parked(&mut lp);
    for probe in &probes {
        probe.waker().wake();
    }
    assert_eq!(
        lp.run_once().tasks_polled,
        0,
        "no stale waker reaches the parked task"
    );
    assert_eq!(parked.polls(), 1);
    task.cancel();
    lp.run_once();
}

#[test]
fn a_waker_that_outlives_its_loop_is_harmless() {
    let mut lp = EventLoop::new().unwrap();
    let (probe, task) = spawn_parked(&mut lp);
    let waker = probe.waker();
    drop(task);
    drop(lp);
    waker.wake_by_ref();
    std::thread::spawn(move || waker.wake()).join().unwrap();
}

/// Wakes its own waker `times` times in its first poll, runs `during` in
/// the same poll, then finishes at its second poll.
struct WakesItself<F: FnMut()> {
    times: usize,
    polls: std::rc::Rc<std::cell::Cell<usize>>,
    during: F,
}

impl<F: FnMut() + Unpin> Future for WakesItself<F> {
    type Output = usize;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<usize> {
        let polls = self.polls.get() + 1;
        self.polls.set(polls);
        if polls > 1 {
            return std::task::Poll::Ready(polls);
        }
        for _ in 0..self.times {
            cx.waker().wake_by_ref();
        }
        (self.during)();
        std::task::Poll::Pending
    }
}

#[test]
fn a_task_that_wakes_itself_many_times_in_one_poll_is_polled_once_more() {
    let mut lp = EventLoop::new().unwrap();
    let polls = std::rc::Rc::new(std::cell::Cell::new(0));
    let task = lp.spawn(WakesItself {
        times: 1000,
        polls: polls.clone(),
        during: || {},
    });
    assert_eq!(lp.run_once().tasks_polled, 1);
    assert_eq!(lp.run_once().tasks_polled, 1);
    assert_eq!(lp.run_until_complete(task), Ok(2));
    assert_eq!(polls.get(), 2);
}

#[test]
fn a_task_that_wakes_itself_and_another_runs_after_the_other_like_asyncio() {
    // asyncio queues a task's next step when the step returns, so whatever
    // the step woke runs first; corio does the same.
    use std::cell::RefCell;
    use std::rc::Rc;
    let log = Rc::new(RefCell::new(Vec::new()));
    let other_waker = Rc::new(RefCell::new(None::<std::task::Waker>));
    let mut lp = EventLoop::new().unwrap();
    let (l, w) = (log.clone(), other_waker.clone());
    let other = lp.spawn(std::future::poll_fn(move |cx| {
        l.borrow_mut().push("other");
        if l.borrow().len() > 1 {
            return std::task::Poll::Ready(());
        }
        *w.borrow_mut() = Some(cx.waker().clone());
        std::task::Poll::Pending
    }));
    lp.run_once(); // `other` is parked now
    let l = log.clone();
    let me = lp.spawn(std::future::poll_fn(move |cx| {
        l.borrow_mut().push("me");
        if l.borrow().len() > 2 {
            return std::task::Poll::Ready(());
        }
        cx.waker().wake_by_ref();
        if let Some(waker) = other_waker.borrow_mut().take() {
            waker.wake();
        }
        std::task::Poll::Pending
    }));
    lp.run_until_complete(async move {
        me.await.unwrap();
        other.await.unwrap();
    });
    assert_eq!(*log.borrow(), ["other", "me", "other", "me"]);
}

#[test]
fn a_task_that_wakes_itself_and_is_cancelled_in_the_same_poll_ends_cancelled() {
    let mut lp = EventLoop::new().unwrap();
    let polls = std::rc::Rc::new(std::cell::Cell::new(0));
    let cancel_me = std::rc::Rc::new(std::cell::RefCell::new(None::<corio::TaskRef>));
    let c = cancel_me.clone();
    let task = lp.spawn(WakesItself {
        times: 3,
        polls: polls.clone(),
        during: move || {
            c.borrow_mut().take().map(|task| task.cancel());
        },
    });
    *cancel_me.borrow_mut() = Some(task.task_ref());
    assert_eq!(
        lp.run_until_complete(task),
        Err(corio::TaskError::Cancelled)
    );
    assert_eq!(polls.get(), 1, "a cancelled task is not polled again");
}

#[test]
fn a_main_future_that_wakes_itself_is_polled_again() {
    let mut lp = EventLoop::new().unwrap();
    let polls = std::rc::Rc::new(std::cell::Cell::new(0));
    let fut = WakesItself {
        times: 2,
        polls: polls.clone(),
        during: || {},
    };
    assert_eq!(lp.run_until_complete(fut), 2);
}

#[test]
fn a_thread_waking_one_waker_by_value_in_a_loop_leaves_one_queued_wake() {
    // Each `clone().wake()` consumes a clone; while the loop is busy (here:
    // not running at all) they must not pile up on its remote queue.
    let mut lp = corio::EventLoop::new().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = mpsc::channel::<Waker>();
    let keep_waking = Arc::clone(&stop);
    let waking = std::thread::spawn(move || {
        let waker = rx.recv().unwrap();
        let mut wakes = 0u64;
        while !keep_waking.load(Ordering::Relaxed) && wakes < 5_000_000 {
            // (By value on purpose: that is the path under test.)
            #[allow(clippy::waker_clone_wake)]
            waker.clone().wake();
            wakes += 1;
        }
        wakes
    });
    let mut sent = false;
    let task = lp.spawn(std::future::poll_fn(move |cx| {
        if !sent {
            sent = true;
            tx.send(cx.waker().clone()).unwrap();
        }
        Poll::<()>::Pending
    }));
    lp.run_once(); // the task parks and sends its waker away
    let before = lp.stats().remote_wakes;
    std::thread::sleep(Duration::from_millis(100));
    stop.store(true, Ordering::Relaxed);
    let wakes = waking.join().unwrap();
    lp.run_once();
    let taken = lp.stats().remote_wakes - before;
    task.cancel();
    assert!(wakes > 1);
    assert!(
        taken <= 2,
        "{taken} queued wakes for one waker ({wakes} wakes)"
    );
}

#[test]
fn the_main_future_woken_twice_before_its_turn_is_polled_once() {
    let mut lp = EventLoop::new().unwrap();
    let done = std::rc::Rc::new(std::cell::Cell::new(false));
    let mut polls = 0;
    let polled = lp.run_until_complete(std::future::poll_fn(|cx| {
        polls += 1;
        if done.get() {
            return Poll::Ready(polls);
        }
        if polls == 1 {
            let waker = cx.waker().clone();
            let d = done.clone();
            corio::call_soon(move || {
                waker.wake_by_ref();
                waker.wake_by_ref(); // queued already: nothing more
                corio::call_soon(move || {
                    d.set(true);
                    waker.wake();
                });
            });
        }
        Poll::Pending
    }));
    // Polled at the start, once for the two wakes, once when done.
    assert_eq!(polled, 3);
}

#[test]
fn a_parked_task_whose_only_waker_another_thread_holds_keeps_run_once_waiting() {
    let mut lp = EventLoop::new().unwrap();
    let thread = std::rc::Rc::new(std::cell::RefCell::new(None));
    let t = thread.clone();
    let mut first = true;
    let task = lp.spawn(std::future::poll_fn(move |cx| {
        if !std::mem::take(&mut first) {
            return Poll::Ready(());
        }
        // The clone moves to the thread: nobody else holds this waker.
        let waker = cx.waker().clone();
        *t.borrow_mut() = Some(std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            waker.wake();
        }));
        Poll::Pending
    }));
    let started = Instant::now();
    while !task.is_done() {
        let turn = lp.run_once();
        assert!(!turn.idle, "the thread holds the task's waker: not idle");
        assert!(started.elapsed() < Duration::from_secs(10));
    }
    thread.borrow_mut().take().unwrap().join().unwrap();
}

#[test]
fn a_waker_of_one_loop_woken_inside_another_loop_on_the_same_thread_wakes_its_own_task() {
    let mut lp_b = EventLoop::new().unwrap();
    let (probe, task_b) = spawn_parked(&mut lp_b); // slot 0, the first task
    let mut lp_a = EventLoop::new().unwrap();
    let waker = probe.waker();
    // Loop A's first task has the same slot and sequence number as the
    // probe's task on loop B.
    let task_a = lp_a.spawn(async move {
        waker.wake();
        corio::yield_now().await;
        "a done"
    });
    assert_eq!(lp_a.run_until_complete(task_a), Ok("a done"));
    // Bounds the wait below, should the wake be lost.
    lp_b.call_later(Duration::from_millis(200), || {});
    let turn = lp_b.run_once();
    assert_eq!(turn.tasks_polled, 1, "{turn:?}");
    assert_eq!(probe.polls(), 2);
    task_b.cancel();
    lp_b.run_once();
}

#[test]
fn a_task_dropping_a_pool_receiver_it_polled_in_the_same_poll_is_not_woken_by_it() {
    let mut lp = EventLoop::new().unwrap();
    let polls = std::rc::Rc::new(std::cell::Cell::new(0));
    let p = polls.clone();
    let (tx, rx) = corio::pool::channel::oneshot::<u8>();
    let mut rx = Some(rx);
    let task = lp.spawn(std::future::poll_fn(move |cx| {
        p.set(p.get() + 1);
        if let Some(mut rx) = rx.take() {
            assert!(std::pin::Pin::new(&mut rx).poll(cx).is_pending()); // parks the waker
            drop(rx); // on the thread it parked on: dropped, not woken
        }
        Poll::<()>::Pending
    }));
    for _ in 0..5 {
        if lp.run_once().idle {
            break;
        }
    }
    assert_eq!(polls.get(), 1, "no spurious poll");
    drop(tx);
    task.cancel();
    lp.run_once();
}
