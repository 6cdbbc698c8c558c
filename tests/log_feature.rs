//! With the `log` feature, corio's reports go to the `log` facade (target
//! `corio`) instead of stderr. Compiled only with `--features log`
//! (`.ci/run` runs it).
#![cfg(feature = "log")]

use std::sync::Mutex;

use log::{Level, Log, Metadata, Record};

/// Every record logged, as (target, level, message).
static RECORDS: Mutex<Vec<(String, Level, String)>> = Mutex::new(Vec::new());

struct Collect;

/// A panic payload whose destructor panics too.
struct PanicsWhenDropped;

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        panic!("the payload's destructor panics");
    }
}

impl Log for Collect {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn log(&self, record: &Record<'_>) {
        // A backend that fails, and fails again as its panic is dropped.
        if record.args().to_string().contains("break the logger") {
            std::panic::panic_any(PanicsWhenDropped);
        }
        let entry = (
            record.target().to_owned(),
            record.level(),
            record.args().to_string(),
        );
        RECORDS.lock().unwrap().push(entry);
    }

    fn flush(&self) {}
}

#[test]
fn reports_go_to_the_log_facade_with_a_level_by_kind() {
    log::set_logger(&Collect).unwrap();
    log::set_max_level(log::LevelFilter::Trace);
    std::panic::set_hook(Box::new(|_| {})); // the panic below is expected

    let mut lp = corio::EventLoop::new().unwrap();
    lp.call_soon(|| panic!("a callback fails"));
    lp.run_once();
    // A report the backend panics on (with a payload that panics when
    // dropped) is lost — and nothing else: the loop goes on.
    let ran_after = std::rc::Rc::new(std::cell::Cell::new(false));
    let flag = ran_after.clone();
    lp.call_soon(|| panic!("break the logger"));
    lp.call_soon(move || flag.set(true));
    lp.run_once();
    assert!(ran_after.get());
    let _ = std::panic::take_hook();

    let records = RECORDS.lock().unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    let (target, level, message) = &records[0];
    assert_eq!((target.as_str(), *level), ("corio", Level::Error));
    assert!(message.contains("a callback fails"), "{message}");
}
