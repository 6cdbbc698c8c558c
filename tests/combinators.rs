//! gather, wait, as_completed, select/race and TaskGroup.

mod common;

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::{DropFlag, Log, Probe, quiet_panics};
use corio::time::sleep;
use corio::{Either, EventLoop, GroupError, ReturnWhen, TaskError, TaskGroup};

async fn after(ms: u64) -> u64 {
    sleep(Duration::from_millis(ms)).await;
    ms
}

#[test]
fn gather_returns_results_in_input_order_and_runs_them_concurrently() {
    // Concurrently: all three have started before the first ends (run one
    // after another, each would end before the next starts).
    let log = Log::default();
    let logged = |ms: u64| {
        let log = log.clone();
        async move {
            log.push(format!("start {ms}"));
            let out = after(ms).await;
            log.push(format!("end {ms}"));
            out
        }
    };
    let out = corio::run(corio::gather([logged(30), logged(10), logged(20)]));
    assert_eq!(out, [30, 10, 20]);
    assert_eq!(
        log.take(),
        [
            "start 30", "start 10", "start 20", "end 10", "end 20", "end 30"
        ]
    );
}

#[test]
fn joinall_with_a_timeout_as_the_readme_writes_it_keeps_finished_outcomes_and_unfinished_handles() {
    corio::run(async {
        let mut tasks: Vec<_> = [1, 3_600_000, 2]
            .map(|ms| corio::spawn(after(ms)))
            .into_iter()
            .collect();
        sleep(Duration::from_millis(20)).await; // two of them are done
        let deadline = Instant::now() + Duration::from_millis(10);
        let mut results = Vec::new();
        for task in &mut tasks {
            results.push(corio::time::timeout_at(deadline, task).await);
        }
        assert_eq!(results[0], Ok(Ok(1)));
        assert!(results[1].is_err(), "{:?}", results[1]);
        assert_eq!(results[2], Ok(Ok(2)));
        assert!(!tasks[1].is_done(), "still running, its handle kept");
        assert!(tasks[1].cancel());
    });
}

#[test]
fn gather_of_tasks_gives_each_outcome() {
    quiet_panics();
    let out = corio::run(async {
        let ok = corio::spawn(async { 1 });
        let bad = corio::spawn(async { panic!("expected: gathered panic") });
        corio::gather([ok, bad]).await
    });
    assert_eq!(out[0], Ok(1));
    assert!(out[1].as_ref().unwrap_err().is_panic());
}

#[test]
fn gather_of_nothing_is_empty() {
    let out: Vec<u64> = corio::run(corio::gather(Vec::<std::future::Ready<u64>>::new()));
    assert!(out.is_empty());
}

#[test]
fn gather_polls_only_the_children_that_were_woken() {
    let mut lp = EventLoop::new().unwrap();
    let probes: Vec<Probe> = (0..10).map(|_| Probe::new()).collect();
    let futures: Vec<_> = probes.iter().map(|p| p.future()).collect();
    let gathered = lp.spawn(corio::gather(futures));
    lp.run_once();
    assert!(probes.iter().all(|p| p.polls() == 1));
    probes[3].release();
    probes[3].waker().wake();
    lp.run_once();
    let polls: Vec<usize> = probes.iter().map(|p| p.polls()).collect();
    assert_eq!(polls, [1, 1, 1, 2, 1, 1, 1, 1, 1, 1]);
    for p in &probes {
        p.release();
        p.waker().wake();
    }
    let out = lp.run_until_complete(gathered).unwrap();
    assert_eq!(out, [2, 2, 2, 2, 2, 2, 2, 2, 2, 2]);
}

#[test]
fn wait_first_completed_returns_as_soon_as_one_task_is_done() {
    corio::run(async {
        let tasks = vec![
            corio::spawn(after(50)),
            corio::spawn(after(1)),
            corio::spawn(after(60)),
        ];
        let (done, pending) = corio::wait(tasks, ReturnWhen::FirstCompleted).await;
        assert_eq!(done.len(), 1);
        assert_eq!(pending.len(), 2);
        for task in done {
            assert_eq!(task.await, Ok(1));
        }
        for task in pending {
            task.cancel();
        }
    });
}

#[test]
fn wait_all_completed_returns_every_task_done_in_input_order() {
    corio::run(async {
        let tasks: Vec<_> = [20, 5, 10].map(|ms| corio::spawn(after(ms))).into();
        let (done, pending) = corio::wait(tasks, ReturnWhen::AllCompleted).await;
        assert!(pending.is_empty());
        let outs: Vec<_> = corio::gather(done).await;
        assert_eq!(outs, [Ok(20), Ok(5), Ok(10)]);
    });
}

#[test]
fn wait_first_exception_returns_at_the_first_panic_but_not_at_a_cancel() {
    quiet_panics();
    corio::run(async {
        let cancelled = corio::spawn(async {
            std::future::pending::<()>().await;
            0
        });
        cancelled.cancel();
        let panics = corio::spawn(async {
            sleep(Duration::from_millis(10)).await;
            panic!("expected: first exception")
        });
        let slow = corio::spawn(after(5000));
        let (done, pending) =
            corio::wait(vec![cancelled, panics, slow], ReturnWhen::FirstException).await;
        assert_eq!(done.len(), 2, "the cancelled one and the panicked one");
        assert_eq!(pending.len(), 1);
        pending[0].cancel();
        let outs = corio::gather(done).await;
        assert_eq!(outs[0], Err(TaskError::Cancelled));
        assert!(outs[1].as_ref().unwrap_err().is_panic());
    });
}

#[test]
fn wait_of_nothing_returns_at_once() {
    corio::run(async {
        let (done, pending) =
            corio::wait(Vec::<corio::Task<()>>::new(), ReturnWhen::AllCompleted).await;
        assert!(done.is_empty() && pending.is_empty());
    });
}

#[test]
fn as_completed_yields_in_completion_order() {
    corio::run(async {
        let mut done = corio::as_completed([after(30), after(1), after(15)]);
        let mut order = Vec::new();
        while let Some(ms) = done.next().await {
            order.push(ms);
        }
        assert_eq!(order, [1, 15, 30]);
        assert!(done.is_empty());
    });
}

type Boxed<T> = Pin<Box<dyn Future<Output = T>>>;

#[test]
fn as_completed_takes_more_futures_while_it_runs_and_after_it_ran_dry() {
    corio::run(async {
        let mut running = corio::as_completed(Vec::<Boxed<u64>>::new());
        assert_eq!(running.next().await, None);
        running.push(Box::pin(after(20)));
        running.push(Box::pin(after(1)));
        assert_eq!(running.len(), 2);
        assert_eq!(running.next().await, Some(1));
        running.push(Box::pin(async { 0 }));
        assert_eq!(running.next().await, Some(0));
        assert_eq!(running.next().await, Some(20));
        assert_eq!(running.next().await, None);
        running.push(Box::pin(after(2)));
        assert_eq!(running.len(), 1);
        assert_eq!(running.next().await, Some(2));
        assert!(running.is_empty());
    });
}

#[test]
fn a_late_wake_through_a_finished_futures_waker_polls_the_one_in_its_place_harmlessly() {
    use std::cell::RefCell;
    use std::future::poll_fn;
    use std::task::{Poll, Waker};
    corio::run(async {
        let kept = Rc::new(RefCell::new(None::<Waker>));
        let mut running = corio::as_completed(Vec::<Boxed<&str>>::new());
        let keep = kept.clone();
        running.push(Box::pin(poll_fn(move |cx| {
            *keep.borrow_mut() = Some(cx.waker().clone()); // kept past its end
            Poll::Ready("first")
        })));
        assert_eq!(running.next().await, Some("first"));
        let stale = kept.borrow_mut().take().unwrap();

        let polls = Rc::new(Cell::new(0));
        let open = Rc::new(Cell::new(false));
        let (p, o, keep) = (polls.clone(), open.clone(), kept.clone());
        running.push(Box::pin(poll_fn(move |cx| {
            p.set(p.get() + 1);
            if o.get() {
                return Poll::Ready("second");
            }
            *keep.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        })));
        corio::spawn(async move {
            corio::yield_now().await;
            stale.wake(); // the finished one's: a spurious poll of "second"
            corio::yield_now().await;
            open.set(true);
            let waker = kept.borrow_mut().take();
            waker.unwrap().wake();
        })
        .detach();
        assert_eq!(running.next().await, Some("second"));
        assert_eq!(polls.get(), 3, "pushed, woken by the stale waker, opened");
        assert!(running.is_empty());
    });
}

#[test]
fn tasks_pushed_to_as_completed_with_cancel_on_drop_are_cancelled_when_it_is_dropped() {
    // tokio's JoinSet aborts its tasks when dropped; pushed as plain
    // `Task`s they would be detached and go on running.
    let dropped = Rc::new(Cell::new(false));
    let d = dropped.clone();
    corio::run(async move {
        let mut running = corio::as_completed(Vec::new());
        running.push(
            corio::spawn(async move {
                let _flag = DropFlag(d);
                after(5000).await
            })
            .cancel_on_drop(),
        );
        running.push(corio::spawn(after(1)).cancel_on_drop());
        assert_eq!(running.next().await.map(Result::unwrap), Some(1));
        drop(running);
        for _ in 0..10 {
            corio::yield_now().await; // the cancelled task is dropped on the loop
        }
    });
    assert!(dropped.get(), "the slow task was cancelled, not detached");
}

#[test]
fn select_returns_the_first_and_drops_the_loser() {
    let dropped = Rc::new(Cell::new(false));
    let d = dropped.clone();
    let out = corio::run(async move {
        let slow = async move {
            let _flag = DropFlag(d);
            after(5000).await
        };
        corio::select(slow, after(1)).await
    });
    assert_eq!(out, Either::Right(1));
    assert!(dropped.get());
}

#[test]
fn race_prefers_the_first_future_on_a_tie() {
    let out = corio::run(corio::race(async { "a" }, async { "b" }));
    assert_eq!(out, "a");
}

#[test]
fn a_task_group_returns_every_output_in_spawn_order() {
    corio::run(async {
        let mut group = TaskGroup::<u64, String>::new();
        for ms in [20, 5, 10] {
            group.spawn(async move { Ok(after(ms).await) });
        }
        assert_eq!(group.join().await, Ok(vec![20, 5, 10]));
    });
}

#[test]
fn the_first_failure_in_a_task_group_cancels_the_others_and_joins_them() {
    let dropped = Rc::new(Cell::new(0));
    let d = dropped.clone();
    let started = Instant::now();
    let (out, dropped_before_join_returned) = corio::run(async move {
        let mut group = TaskGroup::new();
        for _ in 0..3 {
            let d = d.clone();
            group.spawn(async move {
                struct Count(Rc<Cell<u32>>);
                impl Drop for Count {
                    fn drop(&mut self) {
                        self.0.set(self.0.get() + 1);
                    }
                }
                let _count = Count(d);
                after(5000).await;
                Ok(())
            });
        }
        group.spawn(async {
            sleep(Duration::from_millis(5)).await;
            Err("failed")
        });
        let out = group.join().await;
        (out, d.get())
    });
    assert_eq!(out, Err(GroupError::Failed("failed")));
    assert_eq!(
        dropped_before_join_returned, 3,
        "every sibling was gone before join returned"
    );
    assert_eq!(dropped.get(), 3);
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[test]
fn a_panic_in_a_task_group_is_its_failure() {
    quiet_panics();
    corio::run(async {
        let mut group = TaskGroup::<(), ()>::new();
        group.spawn(async { panic!("expected: group panic") });
        group.spawn(async {
            after(5000).await;
            Ok(())
        });
        match group.join().await {
            Err(GroupError::Task(TaskError::Panicked(p))) => {
                assert_eq!(p.message(), "expected: group panic")
            }
            other => panic!("{other:?}"),
        }
    });
}

#[test]
fn dropping_a_task_group_cancels_its_children() {
    corio::run(async {
        let mut group = TaskGroup::<(), ()>::new();
        let child = group.spawn(async {
            after(5000).await;
            Ok(())
        });
        drop(group);
        assert!(child.is_cancelled());
    });
}

#[test]
fn a_failure_before_join_cancels_the_others_and_is_the_one_join_returns() {
    // The second child fails at once, long before `join` is awaited: the
    // first must be cancelled then, not run on and fail later in its place.
    let ran_on = Rc::new(Cell::new(false));
    let r = Rc::clone(&ran_on);
    let out = corio::run(async move {
        let mut group = TaskGroup::<(), String>::new();
        group.spawn(async move {
            sleep(Duration::from_millis(30)).await;
            r.set(true);
            Err("second".to_string())
        });
        group.spawn(async { Err("first".to_string()) });
        sleep(Duration::from_millis(60)).await;
        group.join().await
    });
    assert_eq!(out, Err(GroupError::Failed("first".to_string())));
    assert!(!ran_on.get(), "a sibling ran on after the first failure");
}

#[test]
fn group_failed_completes_at_the_first_failure_and_wakes_every_waiter() {
    let out = corio::run(async {
        let mut group = TaskGroup::<(), &str>::new();
        let waiters: Vec<_> = (0..2)
            .map(|_| {
                let failed = group.failed();
                corio::spawn(async move {
                    failed.await;
                    "stopped"
                })
            })
            .collect();
        group.spawn(async {
            sleep(Duration::from_millis(10)).await;
            Err("boom")
        });
        let mut stopped = Vec::new();
        for waiter in waiters {
            stopped.push(waiter.await.unwrap());
        }
        (stopped, group.join().await)
    });
    assert_eq!(out, (vec!["stopped"; 2], Err(GroupError::Failed("boom"))));
}

#[test]
fn group_failed_stays_pending_while_children_succeed_and_is_ready_at_once_after_a_failure() {
    let (waker, wakes) = common::counting_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    corio::run(async {
        let mut group = TaskGroup::<u32, &str>::new();
        let mut failed = Box::pin(group.failed());
        group.spawn(async { Ok(1) });
        assert!(failed.as_mut().poll(&mut cx).is_pending());
        assert_eq!(group.join().await, Ok(vec![1]));
        assert!(failed.as_mut().poll(&mut cx).is_pending(), "nothing failed");

        let mut group = TaskGroup::<u32, &str>::new();
        group.spawn(async { Err("boom") });
        let _ = corio::spawn(async {}).await; // the failure's watcher has run
        let mut late = Box::pin(group.failed());
        assert!(late.as_mut().poll(&mut cx).is_ready());
        assert!(group.join().await.is_err());
    });
    assert_eq!(wakes.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[test]
fn a_group_failed_future_keeps_only_its_latest_waker_and_none_once_dropped() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
    struct Counted(AtomicUsize);
    impl std::task::Wake for Counted {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, SeqCst);
        }
    }
    let (a, b) = (
        Arc::new(Counted(AtomicUsize::new(0))),
        Arc::new(Counted(AtomicUsize::new(0))),
    );
    let (wa, wb) = (
        std::task::Waker::from(Arc::clone(&a)),
        std::task::Waker::from(Arc::clone(&b)),
    );
    corio::run(async {
        let mut group = TaskGroup::<(), &str>::new();
        // Polled in a loop, as a `select` in a loop would: no waker piles up.
        for _ in 0..1000 {
            let mut failed = Box::pin(group.failed());
            assert!(
                failed
                    .as_mut()
                    .poll(&mut std::task::Context::from_waker(&wa))
                    .is_pending()
            );
        }
        assert_eq!(Arc::strong_count(&a), 2, "a dropped future left its waker");
        let mut failed = Box::pin(group.failed());
        for waker in [&wa, &wb] {
            assert!(
                failed
                    .as_mut()
                    .poll(&mut std::task::Context::from_waker(waker))
                    .is_pending()
            );
        }
        assert_eq!((Arc::strong_count(&a), Arc::strong_count(&b)), (2, 3));
        group.spawn(async { Err("boom") });
        assert!(group.join().await.is_err());
        assert_eq!(
            (a.0.load(SeqCst), b.0.load(SeqCst)),
            (0, 1),
            "only the latest is woken"
        );
        assert!(
            failed
                .as_mut()
                .poll(&mut std::task::Context::from_waker(&wa))
                .is_ready()
        );
    });
}

#[test]
fn dropping_a_group_unjoined_completes_its_failed_future() {
    corio::run(async {
        let mut group = TaskGroup::<(), ()>::new();
        group.spawn(async {
            after(5000).await;
            Ok(())
        });
        let failed = group.failed();
        drop(group); // cancels the child: its failure
        corio::time::timeout(Duration::from_secs(5), failed)
            .await
            .unwrap();
    });
}

#[test]
fn a_child_spawned_into_a_group_that_has_failed_is_cancelled() {
    corio::run(async {
        let mut group = TaskGroup::<(), &str>::new();
        group.spawn(async { Err("boom") });
        corio::yield_now().await;
        corio::yield_now().await; // the failure's done callback has run
        let late = group.spawn(async {
            sleep(Duration::from_secs(60)).await;
            Ok(())
        });
        assert!(late.is_cancelled());
        assert_eq!(group.join().await, Err(GroupError::Failed("boom")));
    });
}

#[test]
fn tasks_that_finished_before_as_completed_looked_come_out_in_input_order() {
    // As with asyncio's as_completed for futures already done when it is
    // called: the order is the one in which as_completed sees them finish.
    corio::run(async {
        let mut done = corio::as_completed([corio::spawn(after(30)), corio::spawn(after(1))]);
        sleep(Duration::from_millis(60)).await;
        assert_eq!(done.next().await, Some(Ok(30)));
        assert_eq!(done.next().await, Some(Ok(1)));
    });
}

/// Runs `main` on a fresh loop; did the loop report an unretrieved panic?
fn reports_unretrieved_panic(main: impl Future<Output = ()>) -> bool {
    let mut lp = EventLoop::new().unwrap();
    let reports = common::capture_reports(&lp);
    quiet_panics();
    lp.run_until_complete(main);
    let kinds: Vec<_> = reports.borrow().iter().map(|r| r.kind()).collect();
    kinds.contains(&corio::ReportKind::UnretrievedPanic)
}

#[test]
fn a_task_panic_that_as_completed_took_but_never_handed_out_is_reported_when_it_is_dropped() {
    let mut lp = EventLoop::new().unwrap();
    let reports = common::capture_reports(&lp);
    quiet_panics();
    let bad_id = lp.run_until_complete(async {
        let ok = corio::spawn(async { 1 });
        let bad = corio::Builder::new()
            .name("never handed out")
            .spawn(async { panic!("nobody saw this") });
        let bad_id = bad.id();
        corio::yield_now().await; // both finish
        // The first next() takes both outcomes (input order) and hands out one.
        let mut done = corio::as_completed([ok, bad]);
        assert_eq!(done.next().await, Some(Ok(1)));
        drop(done);
        bad_id
    });
    let reports = reports.borrow();
    let unretrieved: Vec<_> = reports
        .iter()
        .filter(|r| r.kind() == corio::ReportKind::UnretrievedPanic)
        .map(|r| {
            (
                r.message().to_owned(),
                r.task_name().map(str::to_owned),
                r.task_id(),
            )
        })
        .collect();
    assert_eq!(
        unretrieved,
        [(
            "nobody saw this".to_owned(),
            Some("never handed out".to_owned()),
            Some(bad_id)
        )]
    );
}

#[test]
fn a_task_panic_that_as_completed_handed_out_counts_as_retrieved_even_if_discarded() {
    assert!(!reports_unretrieved_panic(async {
        let bad = corio::spawn(async { panic!("handed out") });
        let ok = corio::spawn(async { 1 });
        corio::yield_now().await;
        let mut done = corio::as_completed([bad, ok]);
        let _ = done.next().await; // the panic reached its caller, who let it go
        assert_eq!(done.next().await, Some(Ok(1)));
    }));
}

/// The messages of the unretrieved-panic reports a program makes.
fn unretrieved_panics(main: impl Future<Output = ()>) -> Vec<String> {
    let mut lp = EventLoop::new().unwrap();
    let reports = common::capture_reports(&lp);
    quiet_panics();
    lp.run_until_complete(main);
    common::unretrieved_messages(&reports)
}

#[test]
#[allow(clippy::async_yields_async)] // the outputs are handles, on purpose
fn a_task_handle_buffered_by_a_dropped_as_completed_reports_its_task_panic_once() {
    // The outputs are handles (not outcomes): the unawaited task reports
    // its own panic, and nothing else does.
    let got = unretrieved_panics(async {
        let mut done = corio::as_completed(
            (0..2).map(|i| async move { corio::spawn(async move { panic!("boom {i}") }) }),
        );
        let first = done.next().await.unwrap();
        let _ = first.await;
        corio::yield_now().await;
        corio::yield_now().await;
        drop(done);
    });
    assert_eq!(got, ["boom 1"]);
}

#[test]
#[allow(clippy::async_yields_async)] // the outputs are handles, on purpose
fn a_panic_a_done_callback_saw_is_not_reported_when_a_dropped_as_completed_held_its_handle() {
    let seen = Rc::new(Cell::new(0));
    let counter = Rc::clone(&seen);
    let got = unretrieved_panics(async move {
        let mut done = corio::as_completed((0..2).map(|i| {
            let counter = Rc::clone(&counter);
            async move {
                let task = corio::spawn(async move { panic!("seen {i}") });
                task.add_done_callback(move |outcome| {
                    assert!(outcome.is_err());
                    counter.set(counter.get() + 1);
                });
                task
            }
        }));
        drop(done.next().await.unwrap());
        for _ in 0..4 {
            corio::yield_now().await;
        }
        drop(done);
    });
    assert_eq!(seen.get(), 2);
    assert!(got.is_empty(), "reports: {got:?}");
}

#[test]
fn a_panic_a_child_awaited_and_looked_at_is_not_reported_when_its_output_is_dropped() {
    let got = unretrieved_panics(async {
        let bad = corio::spawn(async { panic!("looked at") });
        let ok = corio::spawn(async { 1 });
        corio::yield_now().await;
        let mut done = corio::as_completed([
            Box::pin(async move { ok.await.is_err() }) as Pin<Box<dyn Future<Output = bool>>>,
            Box::pin(async move { bad.await.is_err() }),
        ]);
        assert_eq!(done.next().await, Some(false));
        drop(done); // holds `true`, the child's verdict on the panic it saw
    });
    assert!(got.is_empty(), "reports: {got:?}");
}

#[test]
fn a_panic_held_by_a_pending_child_of_an_as_completed_nested_in_a_dropped_one_is_not_reported() {
    let got = unretrieved_panics(async {
        let mut outer = corio::as_completed((0..2).map(|i| async move {
            let bad = corio::spawn(async move { panic!("held {i}") });
            corio::yield_now().await; // bad finishes
            let mut inner = corio::as_completed([async move {
                let r = bad.await; // retrieved here, by the inner child
                sleep(Duration::from_secs(3600)).await;
                r
            }]);
            {
                let mut next = std::pin::pin!(inner.next());
                std::future::poll_fn(|cx| {
                    assert!(next.as_mut().poll(cx).is_pending());
                    std::task::Poll::Ready(())
                })
                .await;
            }
            inner
        }));
        let first = outer.next().await.unwrap();
        assert_eq!(outer.len(), 1);
        drop(first);
        drop(outer);
    });
    assert!(got.is_empty(), "reports: {got:?}");
}

#[test]
fn a_panic_an_inner_as_completed_handed_to_a_child_of_a_dropped_outer_one_is_reported() {
    let got = unretrieved_panics(async {
        let ok = corio::spawn(async { 1 });
        let bad = corio::spawn(async { panic!("passed on") });
        corio::yield_now().await;
        let mut outer = corio::as_completed([
            Box::pin(ok) as Pin<Box<dyn Future<Output = _>>>,
            Box::pin(async move {
                // Handed out by the inner stream, returned as this child's output.
                corio::as_completed([bad]).next().await.unwrap()
            }),
        ]);
        assert_eq!(outer.next().await, Some(Ok(1)));
        drop(outer);
    });
    assert_eq!(got, ["passed on"]);
}

#[test]
fn as_completed_outputs_may_borrow_from_locals_declared_after_it() {
    // (A `Drop` on `AsCompleted` would make the compiler refuse this.)
    corio::run(async {
        let mut done;
        let data = String::from("x");
        done = corio::as_completed([std::future::ready(&data)]);
        assert_eq!(done.next().await.map(|d| d.len()), Some(1));
    });
}

/// A child keeps the panic it took in a log its caller reads (and, if
/// `also_returned`, returns a clone of it); the stream is dropped with that
/// child's output buffered. The unretrieved-panic reports.
fn panic_logged_by_a_child(also_returned: bool) -> Vec<String> {
    let log: Rc<std::cell::RefCell<Vec<corio::PanicError>>> = Rc::default();
    let kept = Rc::clone(&log);
    let got = unretrieved_panics(async move {
        let ok = corio::spawn(async { 1 });
        let bad = corio::spawn(async { panic!("logged") });
        corio::yield_now().await;
        let child_log = Rc::clone(&kept);
        let mut done = corio::as_completed([
            Box::pin(async move {
                assert_eq!(ok.await, Ok(1));
                None
            }) as Pin<Box<dyn Future<Output = Option<corio::PanicError>>>>,
            Box::pin(async move {
                let Err(TaskError::Panicked(panic)) = bad.await else {
                    unreachable!()
                };
                child_log.borrow_mut().push(panic.clone());
                also_returned.then_some(panic)
            }),
        ]);
        assert!(done.next().await.unwrap().is_none());
        drop(done);
        assert_eq!(kept.borrow()[0].message(), "logged"); // the caller sees it
        kept.borrow_mut().clear();
    });
    assert!(log.borrow().is_empty());
    got
}

#[test]
fn a_panic_a_child_kept_elsewhere_and_its_caller_read_is_not_reported_when_the_stream_is_dropped() {
    let got = panic_logged_by_a_child(false);
    assert!(got.is_empty(), "reports: {got:?}");
}

#[test]
fn a_clone_of_a_panic_inside_an_output_dropped_with_the_stream_counts_as_unseen() {
    // The copy in the output is dropped unseen; clones share one report.
    assert_eq!(panic_logged_by_a_child(true), ["logged"]);
}

/// A loop (and its captured reports) with a task still pending that holds
/// a task's panic, unseen: in an unawaited handle, or in an `as_completed`
/// of task handles that took it.
fn loop_holding_a_panic(
    use_as_completed: bool,
    message: &'static str,
) -> (EventLoop, Rc<std::cell::RefCell<Vec<corio::Report>>>) {
    let mut lp = EventLoop::new().unwrap();
    let reports = common::capture_reports(&lp);
    quiet_panics();
    let holder = lp.spawn(async move {
        let ok = corio::spawn(async { 1 });
        let bad = corio::spawn(async move { panic!("{message}") });
        corio::yield_now().await;
        if use_as_completed {
            let mut done = corio::as_completed([ok, bad]);
            assert_eq!(done.next().await, Some(Ok(1)));
            sleep(Duration::from_secs(3600)).await;
            drop(done);
        } else {
            assert_eq!(ok.await, Ok(1));
            sleep(Duration::from_secs(3600)).await;
            drop(bad);
        }
    });
    lp.run_until_complete(async {
        for _ in 0..4 {
            corio::yield_now().await;
        }
    });
    drop(holder);
    (lp, reports)
}

#[test]
fn a_panic_buffered_in_an_as_completed_of_a_task_pending_when_the_loop_is_dropped_reaches_the_handler()
 {
    // As a plain unawaited handle in the same place does (the loop is not
    // entered while it closes, but its handler still hears).
    for use_as_completed in [false, true] {
        let (lp, reports) = loop_holding_a_panic(use_as_completed, "held at close");
        drop(lp);
        assert_eq!(common::unretrieved_messages(&reports), ["held at close"]);
    }
}

/// The unretrieved-panic reports of a loop dropped inside another running
/// loop (its own, the other's).
fn reports_when_dropped_inside_another_loop(use_as_completed: bool) -> (Vec<String>, Vec<String>) {
    let (inner, inner_reports) = loop_holding_a_panic(use_as_completed, "inner loop's panic");
    let mut outer = EventLoop::new().unwrap();
    let outer_reports = common::capture_reports(&outer);
    outer.run_until_complete(async move { drop(inner) });
    (
        common::unretrieved_messages(&inner_reports),
        common::unretrieved_messages(&outer_reports),
    )
}

#[test]
fn a_panic_buffered_in_a_loop_dropped_inside_another_running_loop_reaches_its_own_handler() {
    let empty: Vec<String> = Vec::new();
    // A plain unawaited handle: the inner loop's handler hears it.
    assert_eq!(
        reports_when_dropped_inside_another_loop(false),
        (vec!["inner loop's panic".to_owned()], empty.clone())
    );
    // as_completed: should be the same.
    assert_eq!(
        reports_when_dropped_inside_another_loop(true),
        (vec!["inner loop's panic".to_owned()], empty)
    );
}

#[test]
fn a_task_panic_gather_took_is_reported_when_gather_is_dropped_before_the_end() {
    let got = unretrieved_panics(async {
        let bad = corio::spawn(async { panic!("gathered, never returned") });
        let slow = corio::spawn(sleep(Duration::from_secs(3600)));
        corio::yield_now().await;
        let gathered = corio::time::timeout(Duration::from_millis(20), corio::gather([bad, slow]));
        assert!(gathered.await.is_err());
    });
    assert_eq!(got, ["gathered, never returned"]);
}

#[test]
fn a_task_panic_gather_returned_is_not_reported() {
    let got = unretrieved_panics(async {
        let bad = corio::spawn(async { panic!("returned") });
        let outcomes = corio::gather([bad]).await;
        assert!(outcomes[0].is_err());
    });
    assert!(got.is_empty(), "reports: {got:?}");
}

#[test]
fn a_panic_in_a_child_of_a_group_dropped_unjoined_is_still_reported() {
    // The group watches its children with done callbacks of its own; they
    // must not count as somebody having seen the panic.
    assert!(reports_unretrieved_panic(async {
        let mut group = TaskGroup::<(), ()>::new();
        group.spawn(async { panic!("child blew up") });
        sleep(Duration::from_millis(10)).await;
        drop(group);
        sleep(Duration::from_millis(10)).await;
    }));
}

#[test]
fn a_child_panic_is_reported_when_its_group_is_dropped_in_the_turn_it_panicked() {
    assert!(reports_unretrieved_panic(async {
        let mut group = TaskGroup::<(), ()>::new();
        let child = group.spawn(async { panic!("child blew up") });
        while !child.is_done() {
            corio::yield_now().await;
        }
        drop(group); // its watcher is still queued
        sleep(Duration::from_millis(10)).await;
    }));
}

#[test]
fn a_second_failure_that_is_a_panic_is_reported_when_the_group_returns_the_first() {
    // `join` returns one failure; a child panic it does not return is
    // still a panic nobody saw.
    assert!(reports_unretrieved_panic(async {
        let mut group = TaskGroup::<(), &str>::new();
        group.spawn(async { Err("first") });
        group.spawn(async { panic!("expected: second, same turn") });
        assert_eq!(group.join().await, Err(GroupError::Failed("first")));
    }));
}

#[test]
fn a_child_panic_seen_by_a_join_that_is_dropped_mid_way_is_still_reported() {
    struct ReadyOnPoll(u32);
    impl std::future::Future for ReadyOnPoll {
        type Output = ();
        fn poll(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<()> {
            self.0 -= 1;
            if self.0 == 0 {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        }
    }
    assert!(reports_unretrieved_panic(async {
        let mut group = TaskGroup::<(), ()>::new();
        group.spawn(async { panic!("expected: seen, then dropped") });
        group.spawn(async {
            sleep(Duration::from_secs(60)).await;
            Ok(())
        });
        // The join's second poll sees the panic; the race ends there.
        let raced = corio::select(group.join(), ReadyOnPoll(2)).await;
        assert!(!raced.is_left());
        sleep(Duration::from_millis(10)).await;
    }));
}

#[test]
fn as_completed_goes_on_with_the_other_children_after_a_child_panic_was_caught() {
    use futures_core::Stream;
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::task::{Context, Poll, Waker};

    quiet_panics();
    let children: Vec<Pin<Box<dyn Future<Output = u32>>>> = vec![
        Box::pin(async { 1 }),
        Box::pin(async { panic!("expected: a child panics") }),
        Box::pin(async { 3 }),
        Box::pin(async { 4 }),
    ];
    let mut stream = corio::as_completed(children);
    let mut cx = Context::from_waker(Waker::noop());
    let mut got = Vec::new();
    for _ in 0..10 {
        let polled = catch_unwind(AssertUnwindSafe(|| {
            Pin::new(&mut stream).poll_next(&mut cx)
        }));
        match polled {
            Ok(Poll::Ready(Some(n))) => got.push(n.to_string()),
            Ok(Poll::Ready(None)) => break,
            Ok(Poll::Pending) => got.push("pending".into()),
            Err(_) => got.push("panic".into()),
        }
    }
    got.sort();
    assert_eq!(got, ["1", "3", "4", "panic"]);
    assert_eq!(stream.len(), 0);
}

/// Ready with its number at once, or a panic in its poll if it has none;
/// its destructor panics.
struct PanicsWhenDropped(Option<u32>);

impl Future for PanicsWhenDropped {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, _: &mut std::task::Context<'_>) -> std::task::Poll<u32> {
        match self.0 {
            Some(n) => std::task::Poll::Ready(n),
            None => panic!("expected: a child panics"),
        }
    }
}

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        panic!("expected: a child's destructor panics");
    }
}

/// Polls `stream` with a no-op waker until it ends, catching panics: what
/// each poll gave, sorted.
fn drain_catching<S: futures_core::Stream<Item = u32> + Unpin>(stream: &mut S) -> Vec<String> {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::task::{Context, Poll, Waker};
    let mut cx = Context::from_waker(Waker::noop());
    let mut got = Vec::new();
    for _ in 0..10 {
        match catch_unwind(AssertUnwindSafe(|| {
            Pin::new(&mut *stream).poll_next(&mut cx)
        })) {
            Ok(Poll::Ready(Some(n))) => got.push(n.to_string()),
            Ok(Poll::Ready(None)) => break,
            Ok(Poll::Pending) => got.push("pending".into()),
            Err(_) => got.push("panic".into()),
        }
    }
    got.sort();
    got
}

#[test]
fn as_completed_keeps_a_finished_childs_output_and_the_others_when_its_destructor_panics() {
    quiet_panics();
    let children: Vec<Pin<Box<dyn Future<Output = u32>>>> = vec![
        Box::pin(PanicsWhenDropped(Some(1))),
        Box::pin(async { 2 }),
        Box::pin(async { 3 }),
    ];
    let mut stream = corio::as_completed(children);
    // Before: the panicking destructor left the child counted and the
    // children after it unwoken — the stream said "pending" for ever.
    assert_eq!(drain_catching(&mut stream), ["1", "2", "3", "panic"]);
    assert_eq!(stream.len(), 0);
}

#[test]
fn as_completed_goes_on_after_a_child_whose_poll_and_destructor_both_panic() {
    quiet_panics();
    let children: Vec<Pin<Box<dyn Future<Output = u32>>>> = vec![
        Box::pin(PanicsWhenDropped(None)),
        Box::pin(async { 2 }),
        Box::pin(async { 3 }),
    ];
    let mut stream = corio::as_completed(children);
    assert_eq!(drain_catching(&mut stream), ["2", "3", "panic"]);
    assert_eq!(stream.len(), 0);
}

#[test]
fn a_group_that_let_go_of_finished_children_still_joins_in_spawn_order_and_still_fails_on_a_late_error()
 {
    corio::run(async {
        // Many children finishing while others are spawned: the group takes
        // the outputs of the finished ones early (past 64 of them).
        let mut group = TaskGroup::<u32, u32>::new();
        for i in 0..500u32 {
            group.spawn(async move {
                if i % 7 == 0 {
                    corio::yield_now().await;
                }
                Ok(i)
            });
            if i % 10 == 0 {
                corio::yield_now().await;
                corio::yield_now().await;
            }
        }
        assert_eq!(group.join().await, Ok((0..500).collect::<Vec<_>>()));
        // A failure after hundreds of children were let go still cancels
        // the ones running and is what `join` returns.
        let mut group = TaskGroup::<u32, u32>::new();
        for i in 0..500u32 {
            group.spawn(async move { Ok(i) });
            corio::yield_now().await;
        }
        group.spawn(async { Err(9) });
        let slow = group.spawn(async {
            corio::time::sleep(Duration::from_secs(60)).await;
            Ok(0)
        });
        assert_eq!(group.join().await, Err(GroupError::Failed(9)));
        assert!(slow.is_done());
    });
}

#[test]
fn join_all_gives_every_failure_in_the_order_they_happened_and_takes_the_panics() {
    // asyncio's ExceptionGroup: both failures of one turn, the panic
    // taken (so not reported), the children the group cancelled left out.
    assert!(!reports_unretrieved_panic(async {
        let mut group = TaskGroup::<u8, &str>::new();
        group.spawn(async {
            corio::yield_now().await; // fails second
            Err("later")
        });
        group.spawn(async { panic!("expected: first") });
        group.spawn(async {
            sleep(Duration::from_secs(60)).await; // cancelled by the group
            Ok(3)
        });
        let errors = group.join_all().await.unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            matches!(&errors[0], GroupError::Task(TaskError::Panicked(p)) if p.message() == "expected: first"),
            "{errors:?}"
        );
        assert_eq!(errors[1], GroupError::Failed("later"));
    }));
}

#[test]
fn join_all_counts_a_child_cancelled_from_outside_but_not_the_ones_the_group_cancelled() {
    corio::run(async {
        let mut group = TaskGroup::<u8, &str>::new();
        let victim = group.spawn(then_ok(sleep(Duration::from_secs(60))));
        for _ in 0..3 {
            group.spawn(then_ok(sleep(Duration::from_secs(60))));
        }
        corio::yield_now().await;
        assert!(victim.cancel()); // from outside: a failure, which cancels the rest
        assert_eq!(
            group.join_all().await,
            Err(vec![GroupError::Task(TaskError::Cancelled)])
        );

        let mut fine = TaskGroup::<u8, &str>::new();
        fine.spawn(async { Ok(1) });
        fine.spawn(async { Ok(2) });
        assert_eq!(fine.join_all().await, Ok(vec![1, 2]));
    });
}

/// A child that waits for `wait`, then succeeds with 0.
async fn then_ok(wait: impl Future<Output = ()>) -> Result<u8, &'static str> {
    wait.await;
    Ok(0)
}

#[test]
fn join_all_leaves_out_a_child_spawned_after_the_group_failed() {
    corio::run(async {
        let mut group = TaskGroup::<u8, &str>::new();
        let failed = group.failed();
        group.spawn(async { Err("boom") });
        failed.await;
        group.spawn(async { Ok(1) }); // cancelled at once: the group failed
        assert_eq!(
            group.join_all().await,
            Err(vec![GroupError::Failed("boom")])
        );
    });
}

mod select_macro {
    use std::cell::Cell;
    use std::rc::Rc;
    use std::time::Duration;

    /// Sets its flag when dropped.
    struct Dropped(Rc<Cell<bool>>);

    impl Drop for Dropped {
        fn drop(&mut self) {
            self.0.set(true);
        }
    }

    #[test]
    fn select_macro_runs_the_first_ready_branch_in_written_order_and_drops_the_others() {
        let dropped = Rc::new(Cell::new(false));
        let d = Rc::clone(&dropped);
        let got = corio::run(async move {
            let guard = Dropped(d);
            corio::select! {
                () = async move { let _guard = guard; std::future::pending::<()>().await } => 0,
                a = async { 1 } => a,
                b = async { 2 } => b, // ready too, but written later
            }
        });
        assert_eq!(got, 1);
        assert!(dropped.get(), "the losers were dropped");
    }

    #[test]
    fn select_macro_branches_act_in_the_enclosing_function() {
        async fn first_error(fail: bool) -> Result<u32, String> {
            for round in 0.. {
                corio::select! {
                    () = corio::time::sleep(Duration::from_secs(60)) => unreachable!(),
                    result = async { if fail { Err("failed".to_string()) } else { Ok(round) } } => {
                        let value = result?; // `?` returns from first_error
                        if value < 3 {
                            continue; // the enclosing loop
                        }
                        return Ok(value);
                    }
                }
            }
            unreachable!()
        }
        assert_eq!(corio::run(first_error(false)), Ok(3));
        assert_eq!(corio::run(first_error(true)), Err("failed".to_string()));
    }

    #[test]
    fn select_macro_binds_any_irrefutable_pattern_in_any_branch_and_takes_blocks_without_commas() {
        let got = corio::run(async {
            corio::select! {
                () = std::future::pending::<()>() => { 0 }
                ref mut v = async { vec![1] } => {
                    v.push(2); // `ref mut`, and not the first branch
                    v.len()
                }
                _ = std::future::pending::<u8>() => 9,
            }
        });
        assert_eq!(got, 2);
    }

    #[test]
    fn select_macro_takes_one_branch_or_many() {
        let one = corio::run(async {
            corio::select! { x = async { 7 } => x * 2 }
        });
        assert_eq!(one, 14);
        let many = corio::run(async {
            corio::select! {
                () = corio::time::sleep(Duration::from_secs(60)) => "a",
                () = corio::time::sleep(Duration::from_secs(60)) => "b",
                () = corio::time::sleep(Duration::from_secs(60)) => "c",
                (x, y) = async { corio::yield_now().await; (1, 2) } => if x + y == 3 { "d" } else { "?" },
                () = corio::time::sleep(Duration::from_secs(60)) => "e",
            }
        });
        assert_eq!(many, "d");
    }

    #[test]
    fn select_macro_guards_run_first_in_order_and_a_disabled_branch_is_made_but_never_polled() {
        let order = Rc::new(std::cell::RefCell::new(Vec::new()));
        let polled = Rc::new(Cell::new(false));
        let (o, p) = (Rc::clone(&order), Rc::clone(&polled));
        let got = corio::run(async move {
            let note = |what: &'static str, value: bool| {
                o.borrow_mut().push(what);
                value
            };
            corio::select! {
                () = async { p.set(true); }, if note("guard 1", false) => "disabled, though ready",
                v = async { note("future 2", true); 2 }, if note("guard 2", true) => if v == 2 { "second" } else { "?" },
                () = async {}, if { note("guard 3", true) } => "third",
            }
        });
        assert_eq!(got, "second");
        assert!(!polled.get(), "the disabled branch was polled");
        // Guards first, in order; then the futures (made, for all) are polled.
        assert_eq!(
            *order.borrow(),
            ["guard 1", "guard 2", "guard 3", "future 2"]
        );
    }

    #[test]
    fn select_macro_runs_else_when_every_branch_is_disabled_and_panics_without_one() {
        let got = corio::run(async {
            corio::select! {
                () = async {}, if false => 1,
                x = async { 2 }, if 1 > 2 => x,
                else => 3,
            }
        });
        assert_eq!(got, 3);
        // `else` is not run while a branch is enabled.
        let got = corio::run(async {
            corio::select! {
                () = async {}, if false => 1,
                x = async { corio::yield_now().await; 2 } => x,
                else => 3,
            }
        });
        assert_eq!(got, 2);
        let none = std::panic::catch_unwind(|| {
            corio::run(async {
                corio::select! {
                    () = async {}, if false => 1,
                }
            })
        });
        let message = *none.unwrap_err().downcast::<&str>().unwrap();
        assert!(message.contains("every branch is disabled"), "{message}");
    }
}
