//! Hand-offs: a task's panic on its way to the caller through a combinator
//! that may be dropped before it gets there.
//!
//! A panic taken from its task (by awaiting the handle) counts as seen: the
//! task no longer reports it. `as_completed` takes outputs from its children
//! and hands them out one `next()` at a time, `gather` all at once at the
//! end; a panic inside an output still held when the combinator is dropped
//! (an early `break`, a timeout) would be seen by nobody. So:
//!
//! 1. The combinator polls each child inside [`watch`], which collects a
//!    [`HandOff`] for every unseen panic a task handle gives up during that
//!    poll (in the innermost watch only: a nested combinator keeps its
//!    own). The `PanicError` carries the hand-off.
//! 2. When the child finishes, its hand-offs go with its output into an
//!    [`Unhanded`]; handing the output out passes them on to the enclosing
//!    watch, if any (the caller is itself a child), or lets them go (seen).
//! 3. When the combinator is dropped, `Unhanded`'s first field (`Buffered`)
//!    marks its hand-offs with a fresh token and opens that token, the
//!    outputs (the second field) are dropped, and the third field
//!    (`BufferedEnd`) closes it. A `PanicError` dropped while its token is
//!    open was inside an output never handed out: it reports itself as
//!    unretrieved.
//!
//! A panic the child looked at and dropped, one it kept only somewhere else
//! (a clone of it inside the held output still counts as unseen), one a
//! done callback saw, and one held by a child that never finished are
//! never reported. (No `Drop` on `Unhanded` or the combinators: that would
//! make the compiler refuse outputs that borrow from locals declared after
//! them.)

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::report::Report;

/// One unseen panic given up by its task inside a [`watch`], and the
/// report it makes if it is dropped with a dropped combinator's held
/// outputs.
pub(crate) struct HandOff {
    /// The token of the drop of the outputs it was held with; 0 while none.
    token: AtomicU64,
    report: Mutex<Option<Report>>,
}

impl HandOff {
    /// A `PanicError` carrying this hand-off is dropped: if that is part
    /// of dropping the outputs it was held with, nobody saw the panic —
    /// report it (once).
    pub(super) fn dropped(&self) {
        let token = self.token.load(Ordering::Acquire);
        let open = |open: &RefCell<Vec<u64>>| open.borrow().contains(&token);
        if token == 0 || !OPEN.try_with(open).unwrap_or(false) {
            return;
        }
        let taken = self.report.lock().map(|mut report| report.take());
        if let Ok(Some(report)) = taken {
            crate::context::report_here(report);
        }
    }
}

// Every access below is `try_with`: a loop or a stream kept in another
// thread-local may be dropped as its thread ends, after these are gone
// (then nothing is watched, and nothing is reported).
thread_local! {
    /// One list per [`watch`] in progress, innermost last.
    static WATCHES: RefCell<Vec<Vec<Arc<HandOff>>>> = const { RefCell::new(Vec::new()) };
    /// The tokens of the buffers being dropped on this thread right now.
    static OPEN: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// Tokens, unique across threads (a `PanicError` may be dropped anywhere).
static NEXT_TOKEN: AtomicU64 = AtomicU64::new(1);

/// Runs `poll` and returns its result with the hand-offs of the panics that
/// task handles gave up inside it (and not inside a nested watch).
pub(crate) fn watch<R>(poll: impl FnOnce() -> R) -> (R, Vec<Arc<HandOff>>) {
    /// Ends the watch, also if `poll` panics.
    struct Watching;
    impl Drop for Watching {
        fn drop(&mut self) {
            let _ = WATCHES.try_with(|watches| watches.borrow_mut().pop());
        }
    }
    let _ = WATCHES.try_with(|watches| watches.borrow_mut().push(Vec::new()));
    let watching = Watching;
    let out = poll();
    let handoffs = WATCHES
        .try_with(|watches| watches.borrow_mut().last_mut().map(std::mem::take))
        .ok()
        .flatten()
        .unwrap_or_default();
    drop(watching);
    (out, handoffs)
}

/// Is a [`watch`] in progress on this thread?
pub(crate) fn watching() -> bool {
    WATCHES
        .try_with(|watches| !watches.borrow().is_empty())
        .unwrap_or(false)
}

/// A task handle gives up an unseen panic inside a watch: the hand-off for
/// its `PanicError` (the innermost watch keeps the other reference).
pub(crate) fn record(report: Report) -> Arc<HandOff> {
    let handoff = Arc::new(HandOff {
        token: AtomicU64::new(0),
        report: Mutex::new(Some(report)),
    });
    let _ = WATCHES.try_with(|watches| {
        if let Some(list) = watches.borrow_mut().last_mut() {
            list.push(Arc::clone(&handoff));
        }
    });
    handoff
}

/// Outputs a combinator took from its children and has not handed out
/// yet (`C` holds them: `as_completed`'s queue, `gather`'s slots), with the
/// hand-offs of the task panics they may hold. The order of the three
/// fields is the mechanism (module docs, step 3); `Unhanded` itself has no
/// `Drop`, so outputs may borrow as freely as in a plain container.
pub(crate) struct Unhanded<C> {
    handoffs: Buffered,
    pub(crate) outputs: C,
    _end: BufferedEnd,
}

impl<C> Unhanded<C> {
    pub(crate) fn new(outputs: C) -> Unhanded<C> {
        Unhanded {
            handoffs: Buffered::default(),
            outputs,
            _end: BufferedEnd,
        }
    }

    /// An output was taken in, with the hand-offs its child was given.
    pub(crate) fn took(&mut self, handoffs: Vec<Arc<HandOff>>) {
        self.handoffs.0.push_back(handoffs);
    }

    /// The output taken in first is handed out.
    pub(crate) fn handed_out_first(&mut self) {
        if let Some(handoffs) = self.handoffs.0.pop_front() {
            pass_on(handoffs);
        }
    }

    /// Every output is handed out.
    pub(crate) fn handed_out_all(&mut self) {
        pass_on(self.handoffs.0.drain(..).flatten().collect());
    }
}

/// Handed out: the panics are seen — or, if the caller is itself a watched
/// child, its to answer for.
fn pass_on(handoffs: Vec<Arc<HandOff>>) {
    if handoffs.is_empty() {
        return;
    }
    let _ = WATCHES.try_with(|watches| {
        if let Some(list) = watches.borrow_mut().last_mut() {
            list.extend(handoffs);
        }
    });
}

/// The hand-offs of the outputs in an [`Unhanded`], one list per output
/// in the order they were taken in. Its drop opens a token for them.
#[derive(Default)]
struct Buffered(VecDeque<Vec<Arc<HandOff>>>);

impl Drop for Buffered {
    fn drop(&mut self) {
        // Opened even with nothing to mark: `BufferedEnd` closes it.
        let token = NEXT_TOKEN.fetch_add(1, Ordering::Relaxed);
        for handoff in self.0.iter().flatten() {
            handoff.token.store(token, Ordering::Release);
        }
        let _ = OPEN.try_with(|open| open.borrow_mut().push(token));
    }
}

/// Closes the token its [`Buffered`] opened, once the outputs between them
/// have been dropped (also when an output's destructor panicked).
struct BufferedEnd;

impl Drop for BufferedEnd {
    fn drop(&mut self) {
        let _ = OPEN.try_with(|open| open.borrow_mut().pop());
    }
}
