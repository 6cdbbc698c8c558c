//! Hand-offs: a task's panic on its way to the caller through a combinator
//! that may be dropped before it gets there.
//!
//! A panic taken from its task (by awaiting the handle) counts as seen: the
//! task no longer reports it. `as_completed` takes outputs from its children
//! and hands them out one `next()` at a time; a panic among the ones still
//! buffered when the stream is dropped would be seen by nobody. So
//! `as_completed` polls each child inside [`watch`], which collects a
//! [`HandOff`] for every panic a task handle gives up during that poll (in
//! the innermost watch only: a nested `as_completed` keeps its own). When
//! the child finishes, the hand-offs whose panic is still alive somewhere —
//! in the child's output, normally — are *armed*; handing the output out
//! disarms them. A [`PanicError`](super::PanicError) dropped while its
//! hand-off is armed reports itself as unretrieved, as the task would have.
//!
//! A panic the child looked at and dropped, one a done callback saw, and
//! one still held by a child that never finished are never armed.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::report::Report;

/// One panic given up by its task inside a [`watch`], and the report it
/// makes if it is dropped while armed.
pub(crate) struct HandOff {
    armed: AtomicBool,
    report: Mutex<Option<Report>>,
}

impl HandOff {
    /// The child that took this panic has finished: if a `PanicError`
    /// still holds it (the watch's list holds the other reference), it is
    /// on its way out in an output — arm it.
    pub(crate) fn arm_if_held(this: &Arc<HandOff>) {
        if Arc::strong_count(this) > 1 {
            this.armed.store(true, Ordering::Release);
        }
    }

    /// The output was handed to its caller: seen — unless the caller is
    /// itself a child inside a watch (an `as_completed` inside another's
    /// child), which then answers for it as if it had taken the panic from
    /// the task.
    pub(crate) fn handed_out(this: Arc<HandOff>) {
        this.armed.store(false, Ordering::Release);
        WATCHES.with_borrow_mut(|watches| {
            if let Some(list) = watches.last_mut() {
                list.push(this);
            }
        });
    }

    /// A `PanicError` holding this hand-off is dropped: if armed, nobody
    /// saw the panic — report it (once), to the loop running here, or on
    /// stderr.
    pub(super) fn dropped(&self) {
        if !self.armed.swap(false, Ordering::AcqRel) {
            return;
        }
        let taken = self.report.lock().map(|mut r| r.take());
        let Ok(Some(report)) = taken else { return };
        let mut report = Some(report);
        crate::context::with_current(|core| report.take().map(|report| core.report(report)));
        if let Some(report) = report {
            crate::report::print_report(&report);
        }
    }
}

thread_local! {
    /// One list per [`watch`] in progress, innermost last.
    static WATCHES: RefCell<Vec<Vec<Arc<HandOff>>>> = const { RefCell::new(Vec::new()) };
}

/// Runs `poll` and returns its result with the hand-offs of the panics that
/// task handles gave up inside it (and not inside a nested watch).
pub(crate) fn watch<R>(poll: impl FnOnce() -> R) -> (R, Vec<Arc<HandOff>>) {
    /// Ends the watch, also if `poll` panics.
    struct Watching;
    impl Drop for Watching {
        fn drop(&mut self) {
            WATCHES.with_borrow_mut(|watches| watches.pop());
        }
    }
    WATCHES.with_borrow_mut(|watches| watches.push(Vec::new()));
    let watching = Watching;
    let out = poll();
    let handoffs = WATCHES
        .with_borrow_mut(|watches| watches.last_mut().map(std::mem::take).unwrap_or_default());
    drop(watching);
    (out, handoffs)
}

/// Is a [`watch`] in progress on this thread?
pub(crate) fn watching() -> bool {
    WATCHES.with_borrow(|watches| !watches.is_empty())
}

/// A task handle gives up a panic nobody has seen, inside a watch: the
/// hand-off that goes with it (the innermost watch keeps the other
/// reference).
pub(crate) fn record(report: Report) -> Arc<HandOff> {
    let handoff = Arc::new(HandOff {
        armed: AtomicBool::new(false),
        report: Mutex::new(Some(report)),
    });
    WATCHES.with_borrow_mut(|watches| {
        if let Some(list) = watches.last_mut() {
            list.push(Arc::clone(&handoff));
        }
    });
    handoff
}
