//! The shape of a turn: what runs when, fairness, idling, stopping.

mod common;

use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;
use std::time::{Duration, Instant};

use common::Log;
use corio::EventLoop;

#[test]
fn run_once_runs_only_what_was_ready_when_the_turn_began() {
    let mut lp = EventLoop::new().unwrap();
    let log = Log::default();
    let l = log.clone();
    drop(lp.spawn(async move {
        l.push("parent");
        let l2 = l.clone();
        drop(corio::spawn(async move { l2.push("child") }));
        let l3 = l.clone();
        corio::call_soon(move || l3.push("callback"));
    }));
    let turn = lp.run_once();
    assert_eq!((turn.tasks_polled, turn.callbacks_run), (1, 0));
    assert_eq!(log.take(), ["parent"]);
    let turn = lp.run_once();
    assert_eq!((turn.tasks_polled, turn.callbacks_run), (1, 1));
    assert_eq!(log.take(), ["child", "callback"]);
    assert!(lp.run_once().idle);
}

#[test]
fn callbacks_and_tasks_share_one_fifo_ready_queue() {
    let mut lp = EventLoop::new().unwrap();
    let log = Log::default();
    let (l1, l2, l3) = (log.clone(), log.clone(), log.clone());
    lp.call_soon(move || l1.push("callback 1"));
    drop(lp.spawn(async move { l2.push("task") }));
    lp.call_soon(move || l3.push("callback 2"));
    lp.run_once();
    assert_eq!(log.take(), ["callback 1", "task", "callback 2"]);
}

#[test]
fn a_callback_may_spawn_a_task_that_runs_at_the_next_turn() {
    let mut lp = EventLoop::new().unwrap();
    let log = Log::default();
    let l = log.clone();
    lp.call_soon(move || {
        let l2 = l.clone();
        drop(corio::spawn(
            async move { l2.push("spawned from a callback") },
        ));
    });
    assert_eq!(lp.run_once().callbacks_run, 1);
    assert!(log.take().is_empty());
    assert_eq!(lp.run_once().tasks_polled, 1);
    assert_eq!(log.take(), ["spawned from a callback"]);
}

#[test]
fn a_cancelled_callback_does_not_run() {
    let mut lp = EventLoop::new().unwrap();
    let handle = lp.call_soon(|| panic!("cancelled callbacks never run"));
    assert!(handle.cancel());
    let later = lp.call_later(Duration::from_millis(1), || panic!("nor do timers"));
    assert!(later.cancel());
    assert!(!later.is_pending());
    let turn = lp.run_once();
    assert_eq!(turn.callbacks_run, 0);
    assert!(lp.run_once().idle);
}

#[test]
fn a_self_waking_task_does_not_starve_a_due_timer() {
    let started = Instant::now();
    corio::run(async {
        let spinner = corio::spawn(async {
            loop {
                corio::yield_now().await;
            }
        });
        corio::time::sleep(Duration::from_millis(20)).await;
        spinner.cancel();
    });
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_self_waking_task_does_not_starve_a_call_soon_threadsafe_callback() {
    let mut lp = EventLoop::new().unwrap();
    let handle = lp.handle();
    let done = Arc::new(AtomicBool::new(false));
    let d = done.clone();
    let spinner = lp.spawn(async {
        loop {
            corio::yield_now().await;
        }
    });
    let thread = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(10));
        assert!(handle.call_soon_threadsafe(move || d.store(true, Ordering::SeqCst)));
    });
    let started = Instant::now();
    lp.run_until_complete(async {
        while !done.load(Ordering::SeqCst) {
            corio::yield_now().await;
        }
    });
    assert!(started.elapsed() < Duration::from_secs(5));
    spinner.cancel();
    thread.join().unwrap();
}

#[test]
fn an_empty_loop_returns_an_idle_turn_at_once() {
    let mut lp = EventLoop::new().unwrap();
    let turn = lp.run_once();
    assert!(turn.idle);
    assert_eq!(turn.slept, Duration::ZERO);
}

#[test]
fn a_parked_task_that_nobody_can_wake_makes_the_turn_idle() {
    let mut lp = EventLoop::new().unwrap();
    let task = lp.spawn(std::future::pending::<()>());
    assert_eq!(lp.run_once().tasks_polled, 1);
    assert!(lp.run_once().idle, "std::future::pending() keeps no waker");
    drop(task);
}

#[test]
fn run_once_after_work_from_another_thread_still_waits_for_the_next_timer() {
    // The other thread's callback was taken without a look outside, so its
    // wake-up stayed in epoll: the waiting turn must not stop at it.
    let mut lp = EventLoop::new().unwrap();
    let handle = lp.handle();
    std::thread::spawn(move || assert!(handle.call_soon_threadsafe(|| {})))
        .join()
        .unwrap();
    assert_eq!(lp.run_once().callbacks_run, 1);
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    lp.call_later(Duration::from_millis(30), move || f.set(true));
    let turn = lp.run_once();
    assert!(fired.get(), "{turn:?}");
}

#[test]
fn run_once_sleeps_until_the_next_timer_and_fires_it() {
    let mut lp = EventLoop::new().unwrap();
    let fired = Rc::new(Cell::new(false));
    let f = fired.clone();
    let when = Instant::now() + Duration::from_millis(20);
    lp.call_at(when, move || f.set(true));
    let turn = lp.run_once();
    assert!(Instant::now() >= when);
    assert_eq!(turn.timers_fired, 1);
    assert_eq!(
        turn.callbacks_run, 1,
        "the fired callback runs in the same turn"
    );
    assert!(turn.slept > Duration::ZERO);
    assert!(fired.get());
    assert!(lp.run_once().idle);
}

#[test]
fn stop_from_a_task_ends_run_forever() {
    let mut lp = EventLoop::new().unwrap();
    let handle = lp.handle();
    let task = lp.spawn(async move {
        corio::time::sleep(Duration::from_millis(5)).await;
        handle.stop();
        "stopped"
    });
    lp.run_forever();
    assert_eq!(lp.run_until_complete(task), Ok("stopped"));
}

#[test]
fn stop_from_another_thread_wakes_a_blocked_run_forever() {
    let mut lp = EventLoop::new().unwrap();
    let handle = lp.handle();
    let thread = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        handle.stop();
    });
    let started = Instant::now();
    lp.run_forever();
    assert!(started.elapsed() >= Duration::from_millis(20));
    assert!(started.elapsed() < Duration::from_secs(5));
    thread.join().unwrap();
}

#[test]
fn stop_before_run_forever_runs_one_turn() {
    let mut lp = EventLoop::new().unwrap();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    lp.call_soon(move || r.set(true));
    lp.stop();
    lp.run_forever();
    assert!(ran.get());
}

#[test]
fn call_soon_threadsafe_runs_on_the_loop_thread() {
    let mut lp = EventLoop::new().unwrap();
    let handle = lp.handle();
    let loop_thread = std::thread::current().id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        assert!(handle.call_soon_threadsafe(move || {
            tx.send(std::thread::current().id()).unwrap();
        }));
    })
    .join()
    .unwrap();
    lp.run_once();
    assert_eq!(rx.try_recv(), Ok(loop_thread));
}

#[test]
fn call_soon_threadsafe_on_a_closed_loop_returns_false() {
    let lp = EventLoop::new().unwrap();
    let handle = lp.handle();
    drop(lp);
    assert!(handle.is_closed());
    assert!(!handle.call_soon_threadsafe(|| unreachable!()));
    handle.stop(); // harmless
}

#[test]
fn the_loop_can_be_run_again_after_run_until_complete() {
    let mut lp = EventLoop::new().unwrap();
    let background = lp.spawn(async {
        corio::time::sleep(Duration::from_millis(5)).await;
        "background"
    });
    assert_eq!(lp.run_until_complete(async { 1 }), 1);
    assert!(!background.is_done(), "left pending for the next run");
    assert_eq!(lp.run_until_complete(background), Ok("background"));
}

#[test]
fn two_loops_on_two_threads_run_independently() {
    let threads: Vec<_> = (0..2)
        .map(|i| {
            std::thread::spawn(move || {
                corio::run(async move {
                    let tasks: Vec<_> = (0..100)
                        .map(|j| corio::spawn(async move { i * 1000 + j }))
                        .collect();
                    corio::gather(tasks)
                        .await
                        .into_iter()
                        .map(Result::unwrap)
                        .sum::<i32>()
                })
            })
        })
        .collect();
    let sums: Vec<i32> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(sums, [4950, 104950]);
}

#[test]
fn a_pending_stop_request_does_not_make_run_once_spin() {
    let mut lp = EventLoop::new().unwrap();
    lp.stop(); // pending until a run_forever takes it
    lp.call_later(Duration::from_millis(20), || {});
    let turn = lp.run_once();
    assert_eq!(turn.timers_fired, 1, "the turn waited for the timer");
    assert!(turn.slept >= Duration::from_millis(10), "{turn:?}");
    lp.run_forever(); // takes the request: one turn, then returns
}

/// The main future queued ahead of a callback, in one turn: with `fail`,
/// it panics when polled there; otherwise it finishes.
fn main_future_ahead_of_a_callback(lp: &mut EventLoop, log: &Log, fail: bool) {
    let l = log.clone();
    lp.run_until_complete(async move {
        let waker = std::future::poll_fn(|cx| Poll::Ready(cx.waker().clone())).await;
        let behind = l.clone();
        corio::call_soon(move || {
            waker.wake(); // the main future is queued first,
            corio::call_soon(move || behind.push("behind")); // this after it
        });
        let mut first = true;
        std::future::poll_fn(|_| {
            if std::mem::take(&mut first) {
                Poll::Pending
            } else {
                Poll::Ready(())
            }
        })
        .await;
        assert!(!fail, "the main future fails");
        l.push("main done");
    });
}

#[test]
fn what_is_queued_behind_a_finished_main_future_runs_in_the_next_turn() {
    let mut lp = EventLoop::new().unwrap();
    let log = Log::default();
    main_future_ahead_of_a_callback(&mut lp, &log, false);
    assert_eq!(log.take(), ["main done"]);
    let turn = lp.run_once();
    assert_eq!(turn.callbacks_run, 1);
    assert_eq!(log.take(), ["behind"]);
}

#[test]
fn what_is_queued_behind_a_panicking_main_future_is_not_lost() {
    let mut lp = EventLoop::new().unwrap();
    let log = Log::default();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        main_future_ahead_of_a_callback(&mut lp, &log, true)
    }));
    assert!(caught.is_err());
    assert!(log.take().is_empty());
    let turn = lp.run_once();
    assert_eq!(turn.callbacks_run, 1);
    assert_eq!(log.take(), ["behind"]);
}

#[test]
fn a_callback_sent_before_stop_from_another_thread_runs_before_run_forever_returns() {
    // Both can land while the loop is busy in one turn's run phase: the
    // stop must not overtake the callback queued before it.
    let mut lp = EventLoop::new().unwrap();
    let busy = lp.spawn(async {
        loop {
            corio::yield_now().await;
        }
    });
    let mut missed = 0;
    for _ in 0..1_000 {
        let handle = lp.handle();
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        let sender = std::thread::spawn(move || {
            assert!(handle.call_soon_threadsafe(move || r.store(true, Ordering::SeqCst)));
            handle.stop();
        });
        lp.run_forever();
        sender.join().unwrap();
        if !ran.load(Ordering::SeqCst) {
            missed += 1;
        }
        lp.run_once(); // a missed callback runs here, before the next round
    }
    busy.cancel();
    assert_eq!(missed, 0, "callbacks sent before stop() had not run");
}

#[test]
fn a_loop_handle_stop_from_a_task_returns_after_the_current_turn() {
    // As `EventLoop::stop` (and asyncio's `loop.stop()`): what the turn
    // scheduled waits for the next run.
    let mut lp = EventLoop::new().unwrap();
    let handle = lp.handle();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let _task = lp.spawn(async move {
        corio::call_soon(move || r.set(true));
        handle.stop();
    });
    lp.run_forever();
    assert!(
        !ran.get(),
        "run_forever ran a turn after the one that stopped it"
    );
    lp.run_once();
    assert!(ran.get());
}

#[test]
fn call_soon_threadsafe_on_the_loops_own_thread_keeps_call_soon_order() {
    let mut lp = EventLoop::new().unwrap();
    let handle = lp.handle();
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let l = Arc::clone(&log);
    lp.run_until_complete(async move {
        let l1 = Arc::clone(&l);
        corio::call_soon(move || l1.lock().unwrap().push("call_soon"));
        let l2 = Arc::clone(&l);
        assert!(handle.call_soon_threadsafe(move || l2.lock().unwrap().push("threadsafe")));
        corio::yield_now().await;
        corio::yield_now().await;
    });
    assert_eq!(*log.lock().unwrap(), ["call_soon", "threadsafe"]);
}

#[test]
fn a_callback_sent_from_a_thread_before_it_wakes_a_task_runs_before_that_task() {
    // asyncio's order (one `_ready` deque, in the order things became
    // ready): what a thread handed over first runs first.
    let mut lp = EventLoop::new().unwrap();
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let parked = Arc::new(std::sync::Mutex::new(None::<std::task::Waker>));
    let (l, p) = (log.clone(), parked.clone());
    let mut first = true;
    let _task = lp.spawn(std::future::poll_fn(move |cx| {
        if std::mem::take(&mut first) {
            *p.lock().unwrap() = Some(cx.waker().clone());
            return Poll::Pending;
        }
        l.lock().unwrap().push("task");
        Poll::Ready(())
    }));
    lp.run_once(); // the task parks its waker
    let handle = lp.handle();
    let (l, p) = (log.clone(), parked.clone());
    std::thread::spawn(move || {
        let l1 = l.clone();
        assert!(handle.call_soon_threadsafe(move || l1.lock().unwrap().push("callback")));
        p.lock().unwrap().take().unwrap().wake();
        let l2 = l.clone();
        assert!(handle.call_soon_threadsafe(move || l2.lock().unwrap().push("callback 2")));
    })
    .join()
    .unwrap();
    lp.run_once();
    assert_eq!(*log.lock().unwrap(), ["callback", "task", "callback 2"]);
}

/// A task that yields forever, counting its polls.
fn spin_counting(lp: &EventLoop) -> (Rc<Cell<usize>>, corio::Task<()>) {
    let polls = Rc::new(Cell::new(0));
    let p = polls.clone();
    let task = lp.spawn(async move {
        loop {
            p.set(p.get() + 1);
            corio::yield_now().await;
        }
    });
    (polls, task)
}

#[test]
fn a_stepped_busy_loop_looks_at_its_timers_once_61_entries_ran_since_the_last_look() {
    let mut lp = EventLoop::new().unwrap();
    let (_, spinner) = spin_counting(&lp); // one entry per turn
    let fired = Rc::new(Cell::new(0));
    let mut turns_to_fire = Vec::new();
    for _ in 0..2 {
        let f = fired.clone();
        lp.call_later(Duration::ZERO, move || f.set(f.get() + 1)); // due at once
        let before = fired.get();
        let mut turns = 0;
        while fired.get() == before {
            turns += 1;
            assert!(!lp.run_once().idle);
            assert!(turns < 1000, "the due timer never fired");
        }
        turns_to_fire.push(turns);
    }
    // First: 61 turns of one poll each, then the look at the start of turn
    // 62. Second: that turn ran 2 entries after its look (the spinner, the
    // callback), 59 more turns make 61, and the next turn looks.
    assert_eq!(turns_to_fire, [62, 60]);
    spinner.cancel();
    lp.run_once();
}

#[test]
fn run_forever_with_a_self_waking_task_fires_a_due_timer_right_after_61_polls() {
    let mut lp = EventLoop::new().unwrap();
    let (polls, spinner) = spin_counting(&lp);
    let seen = Rc::new(Cell::new(0));
    let (p, s, handle) = (polls.clone(), seen.clone(), lp.handle());
    lp.call_later(Duration::ZERO, move || {
        s.set(p.get());
        handle.stop();
    });
    lp.run_forever();
    // 61 chained one-poll turns, then a turn that looks first: its batch
    // is the spinner, then the callback the timer queued.
    assert_eq!(seen.get(), 62);
    spinner.cancel();
    lp.run_once();
}

#[test]
fn a_callback_sent_from_another_thread_during_a_busy_run_forever_runs_at_the_next_turn() {
    use std::sync::atomic::AtomicUsize;
    let mut lp = EventLoop::new().unwrap();
    let polls = Arc::new(AtomicUsize::new(0));
    let p = polls.clone();
    let spinner = lp.spawn(async move {
        loop {
            p.fetch_add(1, Ordering::SeqCst);
            corio::yield_now().await;
        }
    });
    let seen = Arc::new(AtomicUsize::new(0));
    let (p, s, handle) = (polls.clone(), seen.clone(), lp.handle());
    drop(lp.spawn(async move {
        // Sent — and the thread gone — before this poll returns.
        let stopper = handle.clone();
        let sent = std::thread::spawn(move || {
            handle.call_soon_threadsafe(move || {
                s.store(p.load(Ordering::SeqCst), Ordering::SeqCst);
                stopper.stop();
            })
        });
        assert!(sent.join().unwrap());
    }));
    lp.run_forever();
    // Turn 1 polled the spinner and the sender; turn 2 takes the callback
    // in, behind the spinner — not once a look comes due 61 polls later.
    assert_eq!(seen.load(Ordering::SeqCst), 2);
    spinner.cancel();
    lp.run_once();
}

#[test]
fn stop_before_run_forever_still_fires_the_timers_already_due_in_its_one_turn() {
    let mut lp = EventLoop::new().unwrap();
    let log = Log::default();
    let (l1, l2) = (log.clone(), log.clone());
    lp.call_later(Duration::ZERO, move || l1.push("due timer"));
    lp.call_soon(move || l2.push("ready callback")); // something is ready
    lp.stop();
    lp.run_forever();
    assert_eq!(log.take(), ["ready callback", "due timer"]);
}

#[test]
fn a_turn_that_does_not_wait_reports_no_time_slept() {
    let mut lp = EventLoop::new().unwrap();
    for _ in 0..20 {
        // Nothing ready, a timer due already: the turn looks, without
        // waiting, and fires it.
        lp.call_later(Duration::ZERO, || {});
        let turn = lp.run_once();
        assert_eq!((turn.timers_fired, turn.callbacks_run), (1, 1));
        assert_eq!(turn.slept, Duration::ZERO, "{turn:?}");
    }
}

#[test]
fn a_main_future_that_wakes_itself_as_it_finishes_leaves_nothing_queued() {
    let mut lp = EventLoop::new().unwrap();
    lp.run_until_complete(std::future::poll_fn(|cx| {
        cx.waker().wake_by_ref();
        Poll::Ready(())
    }));
    let turn = lp.run_once();
    assert!(turn.idle, "{turn:?}");
}
