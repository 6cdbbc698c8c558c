//! Tasks: spawning, joining, cancelling, done callbacks, panics.

mod common;

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::{DropFlag, Log, Probe, capture_reports, quiet_panics};
use corio::{Builder, EventLoop, ReportKind, TaskError, TaskState};

#[test]
fn a_spawned_task_runs_at_the_next_turn_not_inside_spawn() {
    let mut lp = EventLoop::new().unwrap();
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    let task = lp.spawn(async move { r.set(true) });
    assert!(!ran.get());
    lp.run_once();
    assert!(ran.get());
    assert!(task.is_done());
}

#[test]
fn awaiting_a_task_gives_its_output() {
    let out = corio::run(async {
        let task = corio::spawn(async { String::from("hello") });
        task.await
    });
    assert_eq!(out.as_deref(), Ok("hello"));
}

#[test]
fn a_dropped_handle_detaches_the_task_which_keeps_running() {
    let log = Log::default();
    let l = log.clone();
    corio::run(async move {
        let l2 = l.clone();
        drop(corio::spawn(async move {
            corio::time::sleep(Duration::from_millis(5)).await;
            l2.push("detached task finished");
        }));
        corio::time::sleep(Duration::from_millis(20)).await;
        l.push("main finished");
    });
    assert_eq!(log.take(), ["detached task finished", "main finished"]);
}

#[test]
fn a_task_whose_await_timed_out_runs_on_as_under_asyncio_shield_unless_cancel_on_drop() {
    let log = Log::default();
    let l = log.clone();
    corio::run(async move {
        let go = Rc::new(corio::sync::Event::new());
        let work = |name: &'static str| {
            let (go, l) = (go.clone(), l.clone());
            corio::spawn(async move {
                go.wait().await;
                l.push(name);
            })
        };
        // `asyncio.wait_for(asyncio.shield(t), ..)`: only the await ends.
        let shielded = corio::time::timeout(Duration::from_millis(1), work("shielded")).await;
        assert!(shielded.is_err());
        // `asyncio.wait_for(t, ..)`: the task is cancelled with the await.
        let plain = work("cancelled").cancel_on_drop();
        assert!(
            corio::time::timeout(Duration::from_millis(1), plain)
                .await
                .is_err()
        );
        go.set();
        for _ in 0..3 {
            corio::yield_now().await;
        }
        l.push("main");
    });
    assert_eq!(log.take(), ["shielded", "main"]);
}

#[test]
fn done_callbacks_run_on_the_loop_after_completion_in_registration_order() {
    let mut lp = EventLoop::new().unwrap();
    let log = Log::default();
    let probe = Probe::new();
    let task = lp.spawn(probe.future());
    for name in ["first", "second", "third"] {
        let log = log.clone();
        assert!(task.add_done_callback(move |outcome| {
            log.push(format!("{name}: {outcome:?}"));
        }));
    }
    probe.release();
    let turn = lp.run_once(); // the task completes: callbacks are queued, not run
    assert_eq!(turn.tasks_polled, 1);
    assert_eq!(turn.callbacks_run, 0);
    assert!(
        log.take().is_empty(),
        "callbacks never run inside the task's last poll"
    );
    let turn = lp.run_once();
    assert_eq!(turn.callbacks_run, 3);
    assert_eq!(
        log.take(),
        ["first: Ok(1)", "second: Ok(1)", "third: Ok(1)"]
    );
    assert_eq!(lp.run_until_complete(task), Ok(1));
}

#[test]
fn a_callback_added_after_completion_still_runs_on_a_later_turn() {
    let mut lp = EventLoop::new().unwrap();
    let task = lp.spawn(async { 5 });
    lp.run_once();
    assert!(task.is_done());
    let seen = Rc::new(RefCell::new(None));
    let s = seen.clone();
    assert!(task.add_done_callback(move |outcome| *s.borrow_mut() = Some(outcome.clone())));
    assert_eq!(
        *seen.borrow(),
        None,
        "not run re-entrantly inside add_done_callback"
    );
    assert_eq!(lp.run_once().callbacks_run, 1);
    assert_eq!(*seen.borrow(), Some(Ok(5)));
}

#[test]
fn callbacks_see_the_outcome_before_the_awaiting_handle_takes_it() {
    let log = Log::default();
    let l = log.clone();
    corio::run(async move {
        let task = corio::spawn(async { 7 });
        let l2 = l.clone();
        task.add_done_callback(move |outcome| l2.push(format!("callback saw {outcome:?}")));
        let out = task.await;
        l.push(format!("await got {out:?}"));
    });
    assert_eq!(log.take(), ["callback saw Ok(7)", "await got Ok(7)"]);
}

#[test]
fn a_callback_added_after_the_output_was_taken_returns_false_and_never_runs() {
    corio::run(async {
        let mut task = corio::spawn(async { 1 });
        assert_eq!((&mut task).await, Ok(1));
        assert!(!task.add_done_callback(|_| panic!("must not run")));
        corio::yield_now().await;
    });
}

#[test]
fn a_done_callback_may_spawn_tasks_and_add_callbacks() {
    let log = Log::default();
    let l = log.clone();
    corio::run(async move {
        let first = Rc::new(corio::spawn(async { 1 }));
        let f = first.clone();
        let l2 = l.clone();
        first.add_done_callback(move |outcome| {
            l2.push(format!("first done: {outcome:?}"));
            let l3 = l2.clone();
            let child = corio::spawn(async move { l3.push("spawned by a callback") });
            let l4 = l2.clone();
            child.add_done_callback(move |_| l4.push("callback of the spawned task"));
            let l5 = l2.clone();
            assert!(f.add_done_callback(move |_| l5.push("added by a callback")));
        });
        for _ in 0..5 {
            corio::yield_now().await;
        }
    });
    assert_eq!(
        log.take(),
        [
            "first done: Ok(1)",
            "spawned by a callback",
            "added by a callback",
            "callback of the spawned task",
        ]
    );
}

#[test]
fn a_panicking_done_callback_is_contained_and_reported() {
    quiet_panics();
    let mut lp = EventLoop::new().unwrap();
    let reports = capture_reports(&lp);
    let task = Builder::new().name("worker").spawn_on(&lp, async { 3 });
    let after = Rc::new(Cell::new(false));
    let a = after.clone();
    task.add_done_callback(|_| panic!("expected: callback failure"));
    task.add_done_callback(move |_| a.set(true));
    assert_eq!(
        lp.run_until_complete(task),
        Ok(3),
        "the task's outcome is intact"
    );
    assert!(after.get(), "the next callback still ran");
    let reports = reports.borrow();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].kind(), ReportKind::CallbackPanic);
    assert_eq!(reports[0].message(), "expected: callback failure");
    assert_eq!(reports[0].task_name(), Some("worker"));
}

#[test]
fn a_panicking_call_soon_callback_is_contained_and_reported() {
    quiet_panics();
    let mut lp = EventLoop::new().unwrap();
    let reports = capture_reports(&lp);
    lp.call_soon(|| panic!("expected: plain callback"));
    let ok = lp.run_until_complete(async { "the loop went on" });
    assert_eq!(ok, "the loop went on");
    assert_eq!(reports.borrow()[0].kind(), ReportKind::CallbackPanic);
    assert_eq!(reports.borrow()[0].task_name(), None);
}

#[test]
fn cancelling_runs_the_destructors_of_the_future() {
    let mut lp = EventLoop::new().unwrap();
    let dropped = Rc::new(Cell::new(false));
    let flag = DropFlag(dropped.clone());
    let task = lp.spawn(async move {
        let _flag = flag;
        std::future::pending::<()>().await;
    });
    lp.run_once();
    assert!(task.cancel());
    assert!(task.is_cancelled(), "marked at once");
    assert!(
        !dropped.get(),
        "the future is dropped at the next turn, not inside cancel()"
    );
    lp.run_once();
    assert!(dropped.get());
    assert_eq!(lp.run_until_complete(task), Err(TaskError::Cancelled));
}

#[test]
fn a_task_cancelled_before_its_first_poll_is_never_polled() {
    let mut lp = EventLoop::new().unwrap();
    let probe = Probe::new();
    let task = lp.spawn(probe.future());
    task.cancel();
    assert_eq!(lp.run_until_complete(task), Err(TaskError::Cancelled));
    assert_eq!(probe.polls(), 0);
    assert_eq!(probe.drops(), 1);
}

#[test]
fn the_callbacks_of_a_cancelled_task_run_with_cancelled() {
    let mut lp = EventLoop::new().unwrap();
    let seen = Rc::new(RefCell::new(None));
    let s = seen.clone();
    let task = lp.spawn(std::future::pending::<u8>());
    task.add_done_callback(move |outcome| *s.borrow_mut() = Some(outcome.clone()));
    task.cancel();
    assert_eq!(lp.run_until_complete(task), Err(TaskError::Cancelled));
    assert_eq!(*seen.borrow(), Some(Err(TaskError::Cancelled)));
}

#[test]
fn cancelling_a_finished_task_returns_false() {
    corio::run(async {
        let task = corio::spawn(async { 1 });
        corio::yield_now().await;
        assert!(task.is_done());
        assert!(!task.cancel());
        assert!(!task.is_cancelled());
        assert_eq!(task.await, Ok(1));
    });
}

#[test]
fn cancelling_twice_returns_false_the_second_time() {
    corio::run(async {
        let task = corio::spawn(std::future::pending::<()>());
        assert!(task.cancel());
        assert!(!task.cancel());
        assert_eq!(task.await, Err(TaskError::Cancelled));
    });
}

#[test]
fn a_task_that_cancels_itself_and_then_finishes_ends_cancelled() {
    corio::run(async {
        let task = corio::spawn(async {
            assert!(corio::current_task().unwrap().cancel());
            "finished anyway"
        });
        assert_eq!(task.await, Err(TaskError::Cancelled));
    });
}

#[test]
fn a_task_that_cancels_itself_is_dropped_at_its_next_turn() {
    let dropped = Rc::new(Cell::new(false));
    let d = dropped.clone();
    corio::run(async move {
        let task = corio::spawn(async move {
            let _flag = DropFlag(d);
            corio::current_task().unwrap().cancel();
            corio::yield_now().await;
            unreachable!("cancelled at the yield");
        });
        assert_eq!(task.await, Err(TaskError::Cancelled));
    });
    assert!(dropped.get());
}

#[test]
fn a_panicking_task_gives_panicked_and_the_loop_goes_on() {
    quiet_panics();
    let out = corio::run(async {
        let bad = Builder::new()
            .name("bad")
            .spawn(async { panic!("expected: task failure") });
        let good = corio::spawn(async { "still running" });
        (bad.await, good.await)
    });
    match out.0 {
        Err(TaskError::Panicked(p)) => {
            assert_eq!(p.message(), "expected: task failure");
            assert_eq!(p.task_name(), "bad");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(out.1, Ok("still running"));
}

#[test]
fn a_panic_that_nobody_observes_is_reported_with_the_task_name() {
    quiet_panics();
    let mut lp = EventLoop::new().unwrap();
    let reports = capture_reports(&lp);
    drop(
        Builder::new()
            .name("f(5)")
            .spawn_on(&lp, async { panic!("expected: unobserved") }),
    );
    lp.run_once();
    let reports = reports.borrow();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].kind(), ReportKind::UnretrievedPanic);
    assert_eq!(reports[0].task_name(), Some("f(5)"));
    assert!(reports[0].to_string().contains("f(5)"), "{}", reports[0]);
}

#[test]
fn a_panic_is_reported_when_the_last_handle_is_dropped_unawaited() {
    quiet_panics();
    let mut lp = EventLoop::new().unwrap();
    let reports = capture_reports(&lp);
    let task = lp.spawn(async { panic!("expected: later") });
    lp.run_once();
    assert!(
        reports.borrow().is_empty(),
        "the handle could still retrieve it"
    );
    drop(task);
    assert_eq!(reports.borrow().len(), 1);
}

#[test]
fn a_panic_seen_by_a_done_callback_or_awaited_is_not_reported() {
    quiet_panics();
    let mut lp = EventLoop::new().unwrap();
    let reports = capture_reports(&lp);
    let seen = lp.spawn(async { panic!("expected: seen") });
    seen.add_done_callback(|outcome| assert!(outcome.is_err()));
    drop(seen);
    let awaited = lp.spawn(async { panic!("expected: awaited") });
    assert!(lp.run_until_complete(awaited).is_err());
    lp.run_once();
    assert!(reports.borrow().is_empty(), "{:?}", reports.borrow());
}

#[test]
fn a_panic_in_the_main_future_propagates_to_the_caller() {
    quiet_panics();
    let mut lp = EventLoop::new().unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        lp.run_until_complete(async { panic!("expected: main") })
    }));
    let payload = caught.unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"expected: main"));
    // The loop is still usable afterwards.
    assert_eq!(lp.run_until_complete(async { 1 }), 1);
}

#[test]
fn run_until_complete_inside_a_running_loop_is_a_clear_error() {
    quiet_panics();
    let out = corio::run(async {
        corio::spawn(async {
            let mut inner = EventLoop::new().unwrap();
            inner.run_until_complete(async {});
        })
        .await
    });
    let Err(TaskError::Panicked(p)) = out else {
        panic!("{out:?}")
    };
    assert!(
        p.message().contains("another one is running"),
        "{}",
        p.message()
    );
}

#[test]
fn run_until_complete_fails_instead_of_hanging_when_nothing_can_wake_the_future() {
    quiet_panics();
    let mut lp = EventLoop::new().unwrap();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        lp.run_until_complete(std::future::pending::<()>())
    }));
    let payload = caught.unwrap_err();
    let msg = payload.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(msg.contains("would block forever"), "{msg}");
}

#[test]
fn current_task_names_the_running_task_and_is_none_elsewhere() {
    assert!(corio::current_task().is_none(), "outside a loop");
    corio::run(async {
        assert!(
            corio::current_task().is_none(),
            "the main future is not a task"
        );
        let task = Builder::new().name("me").spawn(async {
            let me = corio::current_task().unwrap();
            (me.name(), me.state())
        });
        assert_eq!(task.await, Ok(("me".to_string(), TaskState::Running)));
        corio::call_soon(|| assert!(corio::current_task().is_none(), "callbacks are not tasks"));
        corio::yield_now().await;
    });
}

#[test]
fn all_tasks_lists_the_unfinished_tasks() {
    corio::run(async {
        let parked = Builder::new()
            .name("parked")
            .spawn(std::future::pending::<()>());
        let quick = corio::spawn(async {});
        let names: Vec<String> = corio::all_tasks().iter().map(|t| t.name()).collect();
        assert_eq!(names.len(), 2);
        corio::yield_now().await;
        let names: Vec<String> = corio::all_tasks().iter().map(|t| t.name()).collect();
        assert_eq!(names, ["parked"]);
        parked.cancel();
        corio::yield_now().await;
        assert!(corio::all_tasks().is_empty());
        drop(quick);
    });
}

#[test]
fn default_names_count_up_like_asyncio() {
    corio::run(async {
        let a = corio::spawn(async {});
        let b = corio::spawn(async {});
        assert_eq!(a.name(), format!("Task-{}", a.id().as_u64()));
        assert_eq!(b.id().as_u64(), a.id().as_u64() + 1);
    });
}

#[test]
fn cancel_on_drop_cancels_and_runs_destructors() {
    let dropped = Rc::new(Cell::new(false));
    let d = dropped.clone();
    corio::run(async move {
        let guard = corio::spawn(async move {
            let _flag = DropFlag(d);
            std::future::pending::<()>().await;
        })
        .cancel_on_drop();
        corio::yield_now().await;
        let task = guard.task_ref();
        drop(guard);
        assert!(task.is_cancelled());
        corio::yield_now().await;
    });
    assert!(dropped.get());
}

#[test]
fn dropping_the_loop_cancels_pending_tasks_and_their_handles_see_cancelled() {
    let mut lp = EventLoop::new().unwrap();
    let dropped = Rc::new(Cell::new(false));
    let flag = DropFlag(dropped.clone());
    let pending = lp.spawn(async move {
        let _flag = flag;
        std::future::pending::<()>().await;
    });
    let finished = lp.spawn(async { 9 });
    lp.run_once();
    drop(lp);
    assert!(dropped.get());
    assert!(pending.is_cancelled());
    // The finished task's outcome outlives the loop; poll the handles
    // with a fresh loop.
    let mut other = EventLoop::new().unwrap();
    assert_eq!(other.run_until_complete(finished), Ok(9));
    assert_eq!(other.run_until_complete(pending), Err(TaskError::Cancelled));
}

#[test]
fn corio_run_drops_the_tasks_left_over() {
    let dropped = Rc::new(Cell::new(false));
    let d = dropped.clone();
    corio::run(async move {
        drop(corio::spawn(async move {
            let _flag = DropFlag(d);
            std::future::pending::<()>().await;
        }));
        corio::yield_now().await;
    });
    assert!(dropped.get());
}

#[test]
fn corio_run_runs_the_callbacks_already_due_when_the_main_future_ends_and_drops_the_later_ones() {
    let ran = Rc::new(RefCell::new(Vec::new()));
    let log = ran.clone();
    corio::run(async move {
        let (a, b, c, d) = (log.clone(), log.clone(), log.clone(), log.clone());
        corio::call_at(Instant::now() - Duration::from_millis(1), move || {
            a.borrow_mut().push("call_at in the past")
        });
        corio::call_later(Duration::ZERO, move || b.borrow_mut().push("call_later(0)"));
        corio::call_soon(move || c.borrow_mut().push("call_soon"));
        corio::call_later(Duration::from_secs(3600), move || {
            d.borrow_mut().push("in an hour")
        });
    });
    let mut ran = ran.borrow().clone();
    ran.sort();
    assert_eq!(ran, ["call_at in the past", "call_later(0)", "call_soon"]);
}

#[test]
fn the_slot_of_a_finished_task_is_reused_and_the_old_id_is_not() {
    corio::run(async {
        let first = corio::spawn(async { 1 });
        let first_id = first.id();
        assert_eq!(first.await, Ok(1));
        let second = corio::spawn(async { 2 });
        assert_ne!(second.id(), first_id);
        assert_eq!(second.await, Ok(2));
    });
}

#[test]
fn a_task_stays_cancelled_after_its_outcome_was_taken() {
    corio::run(async {
        let mut task = corio::spawn(std::future::pending::<()>());
        task.cancel();
        assert_eq!((&mut task).await, Err(TaskError::Cancelled));
        assert!(task.is_cancelled());
        assert!(task.is_done());
        assert!(!task.cancel());
    });
}

#[test]
fn a_task_awaited_again_after_its_outcome_panics_saying_so_and_still_answers() {
    corio::run(async {
        let mut task = corio::spawn(async { 42 });
        assert_eq!((&mut task).await, Ok(42));
        let again = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            let _ = std::pin::Pin::new(&mut task).poll(&mut cx);
        }));
        let message = common::panic_text(&*again.unwrap_err());
        assert!(
            message.contains("polled after it returned its outcome"),
            "{message}"
        );
        assert!(task.is_done());
        assert!(!task.is_cancelled());
    });
}

#[test]
fn into_task_gives_back_a_handle_that_detaches() {
    corio::run(async {
        let task = corio::spawn(async {
            corio::time::sleep(Duration::from_millis(5)).await;
            3
        })
        .cancel_on_drop()
        .into_task();
        assert!(!task.is_cancelled());
        assert_eq!(task.await, Ok(3));
    });
}

struct PanicOnDrop;

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("expected: a destructor panicked");
    }
}

/// Ready at the first poll; its destructor panics.
struct ReadyBomb(#[allow(dead_code)] PanicOnDrop);

impl Future for ReadyBomb {
    type Output = u8;

    fn poll(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<u8> {
        std::task::Poll::Ready(7)
    }
}

/// Like `ReadyBomb`, but too large to be kept in place, and with no output.
struct BigReadyBomb(
    #[allow(dead_code)] PanicOnDrop,
    #[allow(dead_code)] [u8; 256],
);

impl Future for BigReadyBomb {
    type Output = ();

    fn poll(self: std::pin::Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<()> {
        std::task::Poll::Ready(())
    }
}

#[test]
fn a_large_future_whose_destructor_panics_also_ends_its_task_as_panicked() {
    quiet_panics();
    let mut lp = EventLoop::new().unwrap();
    let task = lp.spawn(BigReadyBomb(PanicOnDrop, [0; 256]));
    lp.run_once();
    assert!(task.is_done());
    assert!(lp.run_until_complete(task).unwrap_err().is_panic());
}

#[test]
fn a_future_whose_destructor_panics_ends_its_task_as_panicked() {
    quiet_panics();
    let mut lp = EventLoop::new().unwrap();
    let task = lp.spawn(ReadyBomb(PanicOnDrop));
    // The future is dropped as it completes, inside the task's poll: the
    // panic is the task's, contained like any other, and the task ends.
    lp.run_once();
    assert!(task.is_done());
    match lp.run_until_complete(task) {
        Err(TaskError::Panicked(p)) => assert_eq!(p.message(), "expected: a destructor panicked"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        lp.run_until_complete(async { "the loop goes on" }),
        "the loop goes on"
    );
}

#[test]
fn dropping_the_loop_with_a_done_callback_that_holds_handles_does_not_panic() {
    let lp = EventLoop::new().unwrap();
    let watched = lp.spawn(std::future::pending::<()>());
    let guard = lp.spawn(std::future::pending::<()>()).cancel_on_drop();
    let sleeper = lp.spawn(async { corio::time::sleep(Duration::from_secs(60)).await });
    watched.add_done_callback(move |_| drop((guard, sleeper)));
    drop(lp);
    assert!(watched.is_cancelled());
}

/// Counts how often it is dropped.
struct Counted(Rc<Cell<u32>>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

/// A future of at least `N` bytes producing a `Counted` (small futures keep
/// their output in place, large ones box it: both paths are exercised).
async fn produce<const N: usize>(drops: Rc<Cell<u32>>) -> Counted {
    let ballast = [0u8; N];
    corio::yield_now().await;
    std::hint::black_box(&ballast);
    Counted(drops)
}

fn each_output_is_dropped_exactly_once<const N: usize>() {
    let drops = Rc::new(Cell::new(0));
    corio::run({
        let drops = drops.clone();
        async move {
            // Taken by awaiting the handle.
            let taken = corio::spawn(produce::<N>(drops.clone())).await.unwrap();
            assert_eq!(drops.get(), 0);
            drop(taken);
            assert_eq!(drops.get(), 1);
            // Seen by a done callback, then taken.
            let seen = corio::spawn(produce::<N>(drops.clone()));
            let saw = Rc::new(Cell::new(false));
            let s = saw.clone();
            seen.add_done_callback(move |outcome| s.set(outcome.is_ok()));
            drop(seen.await.unwrap());
            assert!(saw.get());
            assert_eq!(drops.get(), 2);
            // Detached: dropped when the task finishes.
            drop(corio::spawn(produce::<N>(drops.clone())));
            // Detached with a callback: dropped after the callback ran.
            corio::spawn(produce::<N>(drops.clone())).add_done_callback(|o| assert!(o.is_ok()));
            // Cancelled while its output is ready: never produced.
            let cancelled = corio::spawn(produce::<N>(drops.clone()));
            for _ in 0..4 {
                corio::yield_now().await;
            }
            assert!(!cancelled.cancel(), "already finished");
            drop(cancelled.await.unwrap());
        }
    });
    assert_eq!(drops.get(), 5);
}

#[test]
fn outputs_are_dropped_exactly_once_whether_kept_in_place_or_boxed() {
    each_output_is_dropped_exactly_once::<8>(); // small: kept in the future's box
    each_output_is_dropped_exactly_once::<512>(); // large: boxed on completion
}

#[test]
#[allow(clippy::async_yields_async)] // the handle outlives its loop on purpose
fn a_done_callback_added_after_the_loop_closed_is_refused_and_the_handle_still_completes() {
    let task = corio::run(async {
        let task = corio::spawn(async { 5 });
        corio::yield_now().await; // the task finishes
        task
    });
    let ran = Rc::new(Cell::new(false));
    let r = ran.clone();
    assert!(
        !task.add_done_callback(move |_| r.set(true)),
        "a callback that can never run is refused"
    );
    let out = corio::run(async { corio::time::timeout(Duration::from_secs(2), task).await });
    assert_eq!(out, Ok(Ok(5)));
    assert!(!ran.get());
}

#[test]
fn destructors_run_when_corio_run_ends_may_spawn_and_those_run_by_a_dropped_loop_find_none() {
    // Spawns from its destructor, and counts how far it got.
    struct SpawnOnDrop(Rc<Cell<u32>>);
    impl Drop for SpawnOnDrop {
        fn drop(&mut self) {
            let count = self.0.clone();
            let spawned = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                corio::spawn(async move { count.set(count.get() + 1) }).detach();
            }));
            self.0
                .set(self.0.get() + if spawned.is_ok() { 100 } else { 10 });
        }
    }
    quiet_panics();
    // corio::run cancels its leftover tasks while its loop still runs.
    let count = Rc::new(Cell::new(0));
    let guard = SpawnOnDrop(count.clone());
    corio::run(async move {
        corio::spawn(async move {
            let _guard = guard;
            std::future::pending::<()>().await
        })
        .detach();
        corio::yield_now().await;
    });
    assert_eq!(
        count.get(),
        100,
        "spawned; the new task was cancelled unrun"
    );
    // A loop dropped outside run: no loop runs, as after asyncio's close.
    let count = Rc::new(Cell::new(0));
    let guard = SpawnOnDrop(count.clone());
    let lp = EventLoop::new().unwrap();
    lp.spawn(async move {
        let _guard = guard;
        std::future::pending::<()>().await
    })
    .detach();
    drop(lp);
    assert_eq!(count.get(), 10, "the spawn failed cleanly");
}

#[test]
// It counts corio's lines on stderr, where the `log` feature sends none.
#[cfg_attr(feature = "log", ignore = "reads stderr; the log feature logs instead")]
fn panicking_destructors_of_a_dropped_loops_leftovers_are_each_contained() {
    // Two panics at once would abort the process: run it in a child.
    if std::env::var_os("CORIO_TEST_CHILD").is_some() {
        struct PanicOnDrop;
        impl Drop for PanicOnDrop {
            fn drop(&mut self) {
                panic!("a destructor panicked (expected)");
            }
        }
        let mut lp = EventLoop::new().unwrap();
        let (a, b) = (PanicOnDrop, PanicOnDrop);
        lp.call_later(Duration::from_secs(60), move || drop(a));
        lp.call_later(Duration::from_secs(60), move || drop(b));
        lp.run_until_complete(async {
            let task = corio::spawn(async { 1 });
            let (c, d) = (PanicOnDrop, PanicOnDrop);
            task.add_done_callback(move |_| drop(c));
            task.add_done_callback(move |_| drop(d));
            std::mem::forget(task); // the callbacks never run: dropped with the loop
        });
        drop(lp);
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "panicking_destructors_of_a_dropped_loops_leftovers_are_each_contained",
            "--exact",
            "--test-threads=1",
            "--nocapture",
        ])
        .env("CORIO_TEST_CHILD", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{:?}\n{stderr}", out.status);
    assert_eq!(
        stderr
            .matches("a destructor panicked while corio dropped it")
            .count(),
        4,
        "{stderr}"
    );
}

#[test]
fn a_destructor_run_while_a_loop_is_dropped_may_run_a_loop_of_its_own() {
    struct RunOnDrop(Rc<Cell<bool>>);
    impl Drop for RunOnDrop {
        fn drop(&mut self) {
            let ran = self.0.clone();
            corio::run(async move { ran.set(true) });
        }
    }
    let ran = Rc::new(Cell::new(false));
    let lp = EventLoop::new().unwrap();
    let cleanup = RunOnDrop(ran.clone());
    lp.call_soon(move || drop(cleanup)); // never runs: dropped with the loop
    drop(lp);
    assert!(ran.get());
}
/// How many unretrieved-panic reports are among `reports`.
fn unretrieved(reports: &std::rc::Rc<std::cell::RefCell<Vec<corio::Report>>>) -> usize {
    common::unretrieved_messages(reports).len()
}

#[test]
fn a_detached_panic_whose_done_callback_never_ran_is_reported_when_the_loop_is_dropped() {
    common::quiet_panics();
    let mut lp = EventLoop::new().unwrap();
    let reports = common::capture_reports(&lp);
    let task = lp.spawn(async { panic!("expected: nobody sees this") });
    task.add_done_callback(|_| {});
    lp.run_once(); // the task panics; its done callback is queued, not run
    drop(task); // only the callback could have seen the panic now
    drop(lp); // ... and it never runs
    assert_eq!(unretrieved(&reports), 1, "{:?}", reports.borrow());
}

#[test]
fn a_child_panic_of_a_group_dropped_in_that_turn_is_reported_when_the_loop_is_dropped() {
    common::quiet_panics();
    let mut lp = EventLoop::new().unwrap();
    let reports = common::capture_reports(&lp);
    lp.run_until_complete(async {
        let mut group = corio::TaskGroup::<(), ()>::new();
        group.spawn(async { panic!("expected: child blew up") });
        corio::yield_now().await; // the child panics before we run again
        drop(group); // its watcher is still queued
    });
    drop(lp);
    assert_eq!(unretrieved(&reports), 1, "{:?}", reports.borrow());
}

/// Awaits, from loop B, a task of loop A that is dropped meanwhile.
fn await_a_task_of_a_loop_dropped_meanwhile(
    with_done_callback: bool,
) -> Option<Result<(), corio::TaskError>> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut a = EventLoop::new().unwrap();
        let task = a.spawn(std::future::pending::<()>());
        if with_done_callback {
            task.add_done_callback(|_| {});
        }
        a.run_once(); // parked
        let a = std::rc::Rc::new(std::cell::RefCell::new(Some(a)));
        let mut b = EventLoop::new().unwrap();
        let out = b.run_until_complete(async move {
            let waiter = corio::spawn(task); // awaits loop A's task from loop B
            corio::yield_now().await; // the waiter is parked on it
            drop(a.borrow_mut().take()); // loop A closes: its task ends Cancelled
            waiter.await.unwrap()
        });
        let _ = tx.send(out);
    });
    rx.recv_timeout(Duration::from_secs(5)).ok()
}

#[test]
fn awaiting_a_task_of_a_loop_dropped_meanwhile_gives_cancelled() {
    assert_eq!(
        await_a_task_of_a_loop_dropped_meanwhile(false),
        Some(Err(corio::TaskError::Cancelled))
    );
    assert_eq!(
        await_a_task_of_a_loop_dropped_meanwhile(true),
        Some(Err(corio::TaskError::Cancelled)),
        "with a done callback that will never run"
    );
}

#[test]
fn a_panic_whose_handle_sits_in_a_callback_never_run_is_reported_to_the_handler_at_close() {
    quiet_panics();
    let mut lp = EventLoop::new().unwrap();
    let reports = capture_reports(&lp);
    let task = lp.spawn(async { panic!("expected: nobody sees this") });
    lp.run_once(); // the task panics; its handle is alive
    lp.call_soon(move || drop(task)); // never runs: dropped at close
    drop(lp);
    assert_eq!(unretrieved(&reports), 1, "{:?}", reports.borrow());
}

#[test]
fn a_panicking_waker_of_another_executor_does_not_escape_dropping_the_loop() {
    struct PanickingWaker;
    impl std::task::Wake for PanickingWaker {
        fn wake(self: std::sync::Arc<Self>) {
            panic!("expected: a foreign waker panics");
        }
    }
    quiet_panics();
    for with_done_callback in [false, true] {
        let lp = EventLoop::new().unwrap();
        let mut task = lp.spawn(std::future::pending::<()>());
        if with_done_callback {
            task.add_done_callback(|_| {});
        }
        let waker = std::task::Waker::from(std::sync::Arc::new(PanickingWaker));
        let mut cx = std::task::Context::from_waker(&waker);
        assert!(std::pin::Pin::new(&mut task).poll(&mut cx).is_pending());
        let escaped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(lp))).is_err();
        assert!(!escaped, "with a done callback: {with_done_callback}");
        drop(task);
    }
}

#[test]
fn an_exception_handler_whose_panic_payload_panics_when_dropped_is_contained() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            if !std::thread::panicking() {
                panic!("the payload's destructor panics");
            }
        }
    }
    let mut lp = EventLoop::new().unwrap();
    lp.set_exception_handler(|_| std::panic::panic_any(Bomb));
    lp.call_soon(|| panic!("a callback fails"));
    let turn = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| lp.run_once()));
    assert!(turn.is_ok(), "a panic escaped run_once");
}

/// The outcome a task gets, and the unretrieved-panic reports, when it
/// cancels itself (`cancel()` returns true) and then panics in that poll.
fn cancelled_then_panicked(detach: bool) -> (Option<Result<(), TaskError>>, Vec<String>) {
    let mut lp = EventLoop::new().unwrap();
    let reports = capture_reports(&lp);
    quiet_panics();
    let outcome = lp.run_until_complete(async move {
        let task = corio::spawn(async {
            assert!(corio::current_task().unwrap().cancel());
            panic!("panicked after cancelling itself");
        });
        if detach {
            drop(task);
            for _ in 0..3 {
                corio::yield_now().await;
            }
            None
        } else {
            Some(task.await)
        }
    });
    (outcome, common::unretrieved_messages(&reports))
}

#[test]
fn a_panic_after_the_task_cancelled_itself_is_reported_and_the_outcome_stays_cancelled() {
    let panic = vec!["panicked after cancelling itself".to_owned()];
    assert_eq!(
        cancelled_then_panicked(false),
        (Some(Err(TaskError::Cancelled)), panic.clone())
    );
    assert_eq!(cancelled_then_panicked(true), (None, panic));
}

#[test]
fn a_task_that_drops_its_own_cancel_on_drop_guard_and_then_panics_has_its_panic_reported() {
    let mut lp = EventLoop::new().unwrap();
    let reports = capture_reports(&lp);
    quiet_panics();
    lp.run_until_complete(async {
        let slot: Rc<RefCell<Option<corio::CancelOnDrop<()>>>> = Rc::default();
        let own = Rc::clone(&slot);
        let guard = corio::spawn(async move {
            corio::yield_now().await;
            drop(own.borrow_mut().take()); // cancels this very task
            panic!("worker failed");
        })
        .cancel_on_drop();
        *slot.borrow_mut() = Some(guard);
        corio::time::sleep(Duration::from_millis(10)).await;
    });
    let kinds: Vec<_> = reports
        .borrow()
        .iter()
        .map(|r| (r.kind(), r.message().to_owned()))
        .collect();
    assert_eq!(
        kinds,
        [(ReportKind::UnretrievedPanic, "worker failed".to_owned())]
    );
}

#[test]
fn corio_goes_on_when_its_reports_cannot_be_written() {
    if std::env::var_os("CORIO_TEST_CHILD").is_some() {
        // Run with stderr on /dev/full: every report fails to be written.
        quiet_panics();
        // An unseen task panic, reported from inside the loop.
        let answer = corio::run(async {
            drop(corio::spawn(async { panic!("nobody looks at this") }));
            corio::time::sleep(Duration::from_millis(20)).await;
            42
        });
        assert_eq!(answer, 42);
        // A done callback's panic, reported from a pool worker between jobs:
        // the worker lives on and runs the next job.
        let pool = corio::pool::ThreadPool::builder().max_threads(1).build();
        let (go, wait) = std::sync::mpsc::channel::<()>();
        let first = pool
            .submit(move || {
                wait.recv().ok(); // finishes after its callback is added
                1
            })
            .unwrap();
        first.add_done_callback(|_| panic!("a panicking done callback"));
        go.send(()).unwrap();
        drop(first);
        let mut second = pool.submit(|| 2).unwrap();
        let result = second.wait_timeout(Duration::from_secs(20));
        assert!(matches!(result, Some(Ok(2))), "the pool stalled");
        println!("the child went on");
        return;
    }
    // Linux has a device whose writes always fail (ENOSPC); elsewhere, skip.
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        return;
    };
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "corio_goes_on_when_its_reports_cannot_be_written",
            "--exact",
            "--test-threads=1",
            "--nocapture",
        ])
        .env("CORIO_TEST_CHILD", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(full)
        .spawn()
        .unwrap();
    // Bounded: a pool whose worker died in a report hangs as it is dropped.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if std::time::Instant::now() > deadline {
            child.kill().unwrap();
            child.wait().unwrap();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stdout = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut stdout).unwrap();
    let status = status.unwrap_or_else(|| panic!("the child hung\n{stdout}"));
    assert!(status.success(), "{status:?}\n{stdout}");
    assert!(stdout.contains("the child went on"), "{stdout}");
}

#[test]
fn a_named_task_keeps_its_name_after_its_output_was_taken() {
    corio::run(async {
        let mut task = Builder::new().name("worker").spawn(async { 1 });
        assert_eq!((&mut task).await, Ok(1));
        assert!(task.is_done());
        assert_eq!(task.name(), "worker");
        let mut unnamed = corio::spawn(async { 2 });
        assert_eq!((&mut unnamed).await, Ok(2));
        assert_eq!(unnamed.name(), format!("Task-{}", unnamed.id().as_u64()));
    });
}

/// Records `corio::current_task()` when dropped.
struct SeesCurrentTask(Rc<RefCell<Vec<Option<corio::TaskId>>>>);

impl Drop for SeesCurrentTask {
    fn drop(&mut self) {
        let current = corio::current_task().map(|task| task.id());
        self.0.borrow_mut().push(current);
    }
}

/// Finishes at its first poll, holding a guard until it is dropped; `N`
/// bytes of ballast decide whether the loop keeps its output in place.
struct FinishesAtOnce<const N: usize> {
    _guard: SeesCurrentTask,
    _ballast: [u8; N],
}

impl<const N: usize> std::future::Future for FinishesAtOnce<N> {
    type Output = u32;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<u32> {
        std::task::Poll::Ready(7)
    }
}

/// Is the task current for the destructor of its finished future?
fn current_for_the_destructor_of_a_finished_future<const N: usize>() -> bool {
    let seen = Rc::new(RefCell::new(Vec::new()));
    let guard = SeesCurrentTask(seen.clone());
    corio::run(async move {
        let task = corio::spawn(FinishesAtOnce::<N> {
            _guard: guard,
            _ballast: [0; N],
        });
        let id = task.id();
        assert_eq!(task.await, Ok(7));
        assert_eq!(seen.borrow().len(), 1);
        let current = seen.borrow()[0];
        current == Some(id)
    })
}

#[test]
fn the_destructor_of_a_finished_future_runs_as_its_task_whatever_the_futures_size() {
    assert!(current_for_the_destructor_of_a_finished_future::<8>());
    assert!(current_for_the_destructor_of_a_finished_future::<512>());
}

/// Panics when dropped, with a message that `quiet_panics` silences.
struct PanicsWhenDropped(&'static str);

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        panic!("expected: {} panicked", self.0);
    }
}

#[test]
fn a_panicking_destructor_the_loop_runs_outside_a_poll_reaches_the_exception_handler() {
    quiet_panics();
    use PanicsWhenDropped as PanicOnDrop;
    let mut lp = EventLoop::new().unwrap();
    let reports = capture_reports(&lp);
    let outcome = lp.run_until_complete(async {
        // A cancelled task's future, dropped by the loop.
        let task = Builder::new().name("doomed").spawn(async {
            let _guard = PanicOnDrop("the cancelled future");
            std::future::pending::<()>().await
        });
        corio::yield_now().await;
        assert!(task.cancel());
        let outcome = task.await;
        // The output of a detached task, dropped when it finishes.
        corio::spawn(async { PanicOnDrop("the unwanted output") }).detach();
        corio::yield_now().await;
        corio::yield_now().await;
        outcome
    });
    assert_eq!(outcome, Err(TaskError::Cancelled), "still cancelled");
    let reports = reports.borrow();
    let destructors: Vec<String> = reports
        .iter()
        .filter(|r| r.kind() == ReportKind::DestructorPanic)
        .map(|r| r.to_string())
        .collect();
    assert_eq!(
        destructors,
        [
            "a destructor panicked while corio dropped it: expected: the cancelled future panicked",
            "a destructor panicked while corio dropped it: expected: the unwanted output panicked",
        ],
        "{:?}",
        reports.iter().map(|r| r.to_string()).collect::<Vec<_>>()
    );
}

#[test]
fn a_callback_cancelled_while_its_loop_is_not_running_reports_to_that_loops_handler() {
    quiet_panics();
    let lp = EventLoop::new().unwrap();
    let reports = capture_reports(&lp);
    let guard = PanicsWhenDropped("a callback cancelled outside run");
    let handle = lp.call_soon(move || drop(guard));
    assert!(handle.cancel());
    let kinds: Vec<_> = reports.borrow().iter().map(|r| r.kind()).collect();
    assert_eq!(kinds, [ReportKind::DestructorPanic]);
}

#[test]
fn a_destructor_panic_goes_to_the_handler_of_the_loop_that_dropped_it_not_the_one_running() {
    quiet_panics();
    let mut a = EventLoop::new().unwrap();
    let b = EventLoop::new().unwrap();
    let (reports_a, reports_b) = (capture_reports(&a), capture_reports(&b));
    let guard = PanicsWhenDropped("b's callback");
    let handle = b.call_soon(move || drop(guard));
    a.run_until_complete(async move { assert!(handle.cancel()) });
    assert!(
        reports_a.borrow().is_empty(),
        "a is not the loop that dropped it"
    );
    let kinds: Vec<_> = reports_b.borrow().iter().map(|r| r.kind()).collect();
    assert_eq!(kinds, [ReportKind::DestructorPanic]);
}

#[test]
fn a_detached_tasks_output_whose_destructor_panics_is_a_destructor_panic_whatever_its_size() {
    quiet_panics();
    struct PanicsWhenDropped(&'static str);
    impl Drop for PanicsWhenDropped {
        fn drop(&mut self) {
            panic!("expected: {} output dropped", self.0);
        }
    }
    struct ZeroSized;
    impl Drop for ZeroSized {
        fn drop(&mut self) {
            panic!("expected: zero-sized output dropped");
        }
    }
    let mut lp = EventLoop::new().unwrap();
    let reports = capture_reports(&lp);
    let states = lp.run_until_complete(async {
        let ballast = [0u8; 256]; // a large future: its output is not kept inside it
        let large = corio::spawn(async move {
            let _ballast = ballast;
            corio::yield_now().await;
            PanicsWhenDropped("large future's")
        });
        let zero = corio::spawn(async {
            corio::yield_now().await;
            ZeroSized
        });
        let small = corio::spawn(async {
            corio::yield_now().await;
            PanicsWhenDropped("small future's")
        });
        let refs = [large.task_ref(), zero.task_ref(), small.task_ref()];
        large.detach();
        zero.detach();
        small.detach();
        for _ in 0..4 {
            corio::yield_now().await;
        }
        refs.map(|r| r.state())
    });
    // Each finished as it should (its future returned), and each output's
    // destructor panic is reported as what it is.
    assert_eq!(states, [TaskState::Finished; 3]);
    let kinds: Vec<_> = reports.borrow().iter().map(|r| r.kind()).collect();
    assert_eq!(kinds, [ReportKind::DestructorPanic; 3]);
}

#[test]
fn a_task_that_awaits_its_own_handle_fails_at_once_instead_of_waiting_for_itself() {
    quiet_panics();
    let mut lp = EventLoop::new().unwrap();
    let reports = capture_reports(&lp);
    lp.run_until_complete(async {
        let slot: Rc<RefCell<Option<corio::Task<()>>>> = Rc::default();
        let own = Rc::clone(&slot);
        let task = corio::spawn(async move {
            corio::yield_now().await; // its handle is in the slot by now
            let me = own.borrow_mut().take().expect("the handle was put there");
            let _ = me.await;
        });
        let watch = task.task_ref();
        *slot.borrow_mut() = Some(task);
        let ended = corio::time::timeout(Duration::from_secs(5), async {
            while watch.state() != TaskState::Finished {
                corio::yield_now().await;
            }
        });
        ended.await.expect("the task ended");
    });
    let reports = reports.borrow();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].kind(), ReportKind::UnretrievedPanic);
    assert!(
        reports[0].message().contains("its own handle"),
        "{reports:?}"
    );
}

#[test]
fn task_states_and_report_kinds_can_be_tallied_in_a_hash_map() {
    use std::collections::HashMap;
    corio::run(async {
        let _a = corio::spawn(corio::yield_now());
        let _b = corio::spawn(std::future::pending::<()>());
        corio::yield_now().await;
        let mut by_state: HashMap<corio::TaskState, usize> = HashMap::new();
        for task in corio::all_tasks() {
            *by_state.entry(task.state()).or_default() += 1;
        }
        assert_eq!(by_state.values().sum::<usize>(), corio::all_tasks().len());
        let mut by_kind: HashMap<corio::ReportKind, u64> = HashMap::new();
        *by_kind.entry(corio::ReportKind::CallbackPanic).or_default() += 1;
        assert_eq!(by_kind.len(), 1);
    });
}

#[test]
fn a_task_handle_awaited_again_with_another_waker_wakes_the_new_awaiter() {
    let mut lp = EventLoop::new().unwrap();
    let mut target = lp.spawn(async {
        corio::yield_now().await;
        7
    });
    // Polled once with a waker that will never matter again …
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    assert!(std::pin::Pin::new(&mut target).poll(&mut cx).is_pending());
    // … then awaited by a task: its waker must replace that one.
    let awaiter = lp.spawn(target); // a task whose future is the handle
    let mut turns = 0;
    while !awaiter.is_done() {
        turns += 1;
        assert!(!lp.run_once().idle, "the awaiter was never woken");
        assert!(turns < 100);
    }
    assert_eq!(lp.run_until_complete(awaiter), Ok(Ok(7)));
}
