//! Containing what foreign code does when the loop calls it outside a
//! poll: a waker of another executor that panics when woken, a destructor
//! that panics when the loop drops user data. Its panic stays where it
//! happened — reported, never unwound through the loop — and the payload,
//! whose own destructor could panic again, is leaked. (Panics *inside* a
//! poll or a callback are caught where those run, and become outcomes or
//! reports.) Any layer may use this: it depends on nothing but the report
//! line writer and `context` (to reach the loop's exception handler).

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::task::Waker;

use crate::report::{Report, ReportKind, Severity, emit, panic_message};

/// Wakes `waker` — whoever awaits a task's outcome, a task parked on a
/// socket or a timer: a waker of another executor is foreign code, and its
/// panic must not unwind through the loop (nor out of `EventLoop::drop`).
pub(crate) fn wake_contained(waker: Waker) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(|| waker.wake())) {
        emit(
            Severity::Error,
            format_args!("a waker panicked when woken: {}", panic_message(&*payload)),
        );
        std::mem::forget(payload); // its destructor could panic again
    }
}

/// Wakes every waker of `wakers` (emptying it), containing panics as
/// [`wake_contained`] does — with one `catch_unwind` for the lot, not one
/// per waker: after a panic the wakes go on with the next one.
pub(crate) fn wake_all_contained(wakers: &mut Vec<Waker>) {
    let mut rest = wakers.drain(..);
    while let Err(payload) = catch_unwind(AssertUnwindSafe(|| rest.by_ref().for_each(Waker::wake)))
    {
        emit(
            Severity::Error,
            format_args!("a waker panicked when woken: {}", panic_message(&*payload)),
        );
        std::mem::forget(payload); // its destructor could panic again
    }
}

/// Drops user data, containing a panicking destructor: the panic is
/// reported to the loop running (or being closed) on this thread — its
/// exception handler, as a [`ReportKind::DestructorPanic`] — else on
/// stderr. (Callers drop with nothing borrowed, as for any user code, so
/// the handler may run here.)
pub(crate) fn drop_contained<T>(value: T) {
    if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(value))) {
        let message = panic_message(&*payload);
        // The payload's own destructor could panic again: leak it.
        std::mem::forget(payload);
        crate::context::report_here(Report::new(ReportKind::DestructorPanic, message, None));
    }
}
