//! Debug mode's slow-poll report, in its own test binary: it times polls
//! with a blocking sleep, which must not run beside other tests.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use corio::{EventLoop, Report, ReportKind};

/// A loop in debug mode with a 50 ms threshold, collecting its reports.
fn debug_loop() -> (EventLoop, Rc<RefCell<Vec<Report>>>) {
    let lp = EventLoop::new().unwrap();
    lp.set_debug(true);
    lp.set_slow_callback_duration(Duration::from_millis(50));
    let reports = Rc::new(RefCell::new(Vec::new()));
    let log = Rc::clone(&reports);
    lp.set_exception_handler(move |report| log.borrow_mut().push(report.clone()));
    (lp, reports)
}

#[test]
fn a_slow_destructor_of_a_cancelled_task_is_reported_as_a_drop_not_as_a_poll() {
    struct SlowDrop;
    impl Drop for SlowDrop {
        fn drop(&mut self) {
            std::thread::sleep(Duration::from_millis(150));
        }
    }
    let (mut lp, reports) = debug_loop();
    lp.run_until_complete(async {
        let task = corio::Builder::new().name("victim").spawn(async {
            let _slow = SlowDrop;
            std::future::pending::<()>().await;
        });
        corio::yield_now().await; // it parks
        task.cancel();
        let _ = task.await;
    });
    let reports = reports.borrow();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].kind(), ReportKind::SlowCallback);
    assert_eq!(reports[0].task_name(), Some("victim"));
    let message = reports[0].message();
    assert!(
        message.starts_with("dropping cancelled task \"victim\""),
        "{message}"
    );
    assert!(!message.contains("yield_now"), "{message}");
}

#[test]
fn a_task_that_blocks_the_loop_is_reported_with_its_name_and_spawn_site() {
    let (mut lp, reports) = debug_loop();
    lp.run_until_complete(async {
        let task = corio::Builder::new().name("blocker").spawn(async {
            std::thread::sleep(Duration::from_millis(300)); // the mistake
        });
        task.await.unwrap();
    });
    let reports = reports.borrow();
    assert_eq!(reports.len(), 1, "{reports:?}");
    let report = &reports[0];
    assert_eq!(report.kind(), ReportKind::SlowCallback);
    assert_eq!(report.task_name(), Some("blocker"));
    assert!(
        report.message().contains("tests/debug_mode.rs:"),
        "{}",
        report.message()
    );
    assert!(
        report.message().contains("spawn_blocking"),
        "{}",
        report.message()
    );
}

#[test]
fn well_behaved_tasks_are_not_reported() {
    let (mut lp, reports) = debug_loop();
    lp.run_until_complete(async {
        let tasks: Vec<_> = (0..10)
            .map(|i| {
                corio::spawn(async move {
                    corio::time::sleep(Duration::from_millis(30 + i)).await; // waits, does not block
                    corio::spawn_blocking(|| std::thread::sleep(Duration::from_millis(80)))
                        .await
                        .unwrap();
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    assert!(reports.borrow().is_empty(), "{:?}", reports.borrow());
}

#[test]
fn a_slow_callback_is_reported_and_nothing_is_reported_with_debug_off() {
    let (mut lp, reports) = debug_loop();
    let line = line!() + 1;
    lp.call_soon(|| std::thread::sleep(Duration::from_millis(120)));
    lp.run_once();
    assert_eq!(reports.borrow().len(), 1);
    assert_eq!(reports.borrow()[0].kind(), ReportKind::SlowCallback);
    let text = reports.borrow()[0].to_string();
    let expected = format!("slow: the callback scheduled at tests/debug_mode.rs:{line}:");
    assert!(text.starts_with(&expected), "{text}");

    lp.set_debug(false);
    lp.call_soon(|| std::thread::sleep(Duration::from_millis(120)));
    lp.run_once();
    assert_eq!(reports.borrow().len(), 1, "debug off: no new report");
}

#[test]
fn an_unretrieved_panic_names_where_the_task_was_spawned_in_debug_mode() {
    let (mut lp, reports) = debug_loop();
    let line = line!() + 1;
    drop(lp.spawn(async { panic!("nobody awaits me") }));
    lp.run_once();
    let reports = reports.borrow();
    assert_eq!(reports[0].kind(), ReportKind::UnretrievedPanic);
    let site = reports[0].spawn_site().expect("a spawn site in debug mode");
    assert_eq!((site.file(), site.line()), ("tests/debug_mode.rs", line));
    assert!(
        reports[0]
            .to_string()
            .contains(&format!("spawned at tests/debug_mode.rs:{line}"))
    );
}

#[test]
fn done_callbacks_are_timed_one_by_one_not_as_one_slow_callback() {
    // Three 20 ms callbacks of one task: none holds the loop for 50 ms,
    // though together they take 60.
    let (mut lp, reports) = debug_loop();
    lp.run_until_complete(async {
        let task = corio::spawn(async {});
        for _ in 0..3 {
            task.add_done_callback(|_| std::thread::sleep(Duration::from_millis(20)));
        }
        task.await.unwrap();
    });
    let reports = reports.borrow();
    assert!(reports.is_empty(), "{reports:?}");
}

#[test]
fn a_slow_done_callback_is_reported_on_its_own() {
    let (mut lp, reports) = debug_loop();
    lp.run_until_complete(async {
        let task = corio::spawn(async {});
        task.add_done_callback(|_| {});
        task.add_done_callback(|_| std::thread::sleep(Duration::from_millis(60)));
        task.await.unwrap();
    });
    let reports = reports.borrow();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].kind(), ReportKind::SlowCallback);
}

#[test]
fn a_finished_task_keeps_its_debug_data_while_its_outcome_waits_for_its_handle() {
    let (mut lp, _reports) = debug_loop();
    lp.run_until_complete(async {
        let task = corio::Builder::new().name("finished").spawn(async { 1 });
        corio::yield_now().await; // it runs and finishes
        let dump = corio::debug::dump();
        let row = dump.task(task.id()).expect("still in the dump");
        assert_eq!(row.status, corio::debug::Status::Done);
        assert!(row.spawned_at.is_some(), "{row:?}");
        assert_eq!(row.polls, Some(1), "{row:?}");
        assert_eq!(task.await.unwrap(), 1);
    });
}

#[test]
fn a_panic_reported_when_its_handle_is_dropped_later_names_its_spawn_site() {
    let (mut lp, reports) = debug_loop();
    // (The panic's own printing may make its poll slow: only the panic
    // reports count here.)
    let panics = || -> Vec<Report> {
        let reports = reports.borrow();
        let is_panic = |r: &&Report| r.kind() == ReportKind::UnretrievedPanic;
        reports.iter().filter(is_panic).cloned().collect()
    };
    let line = line!() + 1;
    let task = lp.spawn(async { panic!("boom") });
    lp.run_once(); // it panics; its handle could still take the panic
    assert!(panics().is_empty());
    drop(task); // now nobody can: reported
    let panics = panics();
    assert_eq!(panics.len(), 1, "{panics:?}");
    let site = panics[0].spawn_site().expect("a spawn site");
    assert_eq!((site.file(), site.line()), (file!(), line));
}

#[test]
fn a_gather_of_many_children_woken_one_at_a_time_stays_linear_in_debug_mode() {
    // A chain: each child wakes the one before it, so every turn wakes
    // one child. Debug mode notes the parent's waker at each wake; had it
    // listed all the children every time, 16,000 of them would take tens
    // of seconds.
    let n = 16_000;
    let mut lp = EventLoop::new().unwrap();
    lp.set_debug(true);
    let (mut senders, mut receivers) = (Vec::new(), Vec::new());
    for _ in 0..=n {
        let (tx, rx) = corio::sync::oneshot::channel::<()>();
        senders.push(Some(tx));
        receivers.push(Some(rx));
    }
    let first = senders[0].take().unwrap();
    let mut children: Vec<_> = (0..n)
        .map(|i| {
            let rx = receivers[i].take().unwrap();
            let tx = senders[i + 1].take().unwrap();
            async move {
                let _ = rx.await;
                let _ = tx.send(());
            }
        })
        .collect();
    children.reverse(); // each wake lands on an earlier child
    let began = std::time::Instant::now();
    lp.run_until_complete(async move {
        let _ = first.send(());
        corio::gather(children).await;
    });
    let took = began.elapsed();
    assert!(took < Duration::from_secs(4), "took {took:?}");
}

#[test]
fn a_slow_call_later_callback_names_where_it_was_scheduled() {
    let (mut lp, reports) = debug_loop();
    let line = lp.run_until_complete(async {
        let line = line!() + 1;
        corio::call_later(Duration::from_millis(1), || {
            std::thread::sleep(Duration::from_millis(120))
        });
        corio::time::sleep(Duration::from_millis(5)).await;
        line
    });
    let reports = reports.borrow();
    assert_eq!(reports.len(), 1, "{reports:?}");
    let text = reports[0].to_string();
    let expected = format!("the callback scheduled at tests/debug_mode.rs:{line}:");
    assert!(text.contains(&expected), "{text}");
}

#[test]
fn a_slow_poll_of_the_main_future_is_reported_with_where_it_was_run() {
    let (mut lp, reports) = debug_loop();
    let line = line!() + 1;
    lp.run_until_complete(async {
        std::thread::sleep(Duration::from_millis(120)); // blocking, in the main future
    });
    let reports = reports.borrow();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].kind(), ReportKind::SlowCallback);
    let text = reports[0].to_string();
    let expected = format!(
        "slow: a poll of the main future (run at tests/debug_mode.rs:{line}:8) held the loop"
    );
    assert!(text.starts_with(&expected), "{text}");
}
