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
    lp.call_soon(|| std::thread::sleep(Duration::from_millis(120)));
    lp.run_once();
    assert_eq!(reports.borrow().len(), 1);
    assert_eq!(reports.borrow()[0].kind(), ReportKind::SlowCallback);
    assert!(
        reports.borrow()[0]
            .to_string()
            .starts_with("slow: a callback held the loop")
    );

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
