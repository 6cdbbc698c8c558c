//! A task as the loop stores it: one slab slot, plus one allocation.
//!
//! The slot holds the boxed future while the task runs, then its outcome
//! until the [`Task`](super::Task) handle takes it. The handle itself is only
//! a key into the slab.
//!
//! A task costs one allocation, its boxed future — and one more for its
//! output when that output is neither zero-sized nor kept in place. Keeping
//! it in place works like this: [`spawn`](super::spawn) wraps the future as
//!
//! ```text
//! async move { let output = future.await; Completed.await; output }
//! ```
//!
//! When the future is done, [`Completed`] tells the loop so (through a
//! thread-local flag) and parks, with the output alive in the async block's
//! state. The handle, which knows the output type, later polls the box once
//! more and receives the output by value: safe code, no second box. But an
//! async block stores a captured future twice (as the capture, and as the
//! `.await` in progress), so the wrapper doubles the future's size for as
//! long as the task lives. [`box_task`] therefore wraps only small futures
//! with a non-zero-sized output ([`INLINE_OUTPUT_MAX`]); the others run
//! unwrapped and their output is boxed when they finish (free for
//! zero-sized outputs, and skipped when nobody can take it).
//!
//! The life of a slot:
//!
//! ```text
//!   spawn ──► Pending(future) ──poll──► Running ──Pending──► Pending(future) ...
//!                 │                        │
//!              cancel                   finished / panic
//!                 ▼                        ▼
//!             Done(Err(Cancelled))      Done(outcome) ──done callbacks──► Lent ──► Done
//!                                          │
//!                        the handle takes the outcome, or was dropped: slot freed
//! ```

use std::any::Any;
use std::cell::Cell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::{TaskError, TaskId};
use crate::callback::{Watch, watched};
use crate::report::panic_message;
use crate::waker::TaskWaker;

thread_local! {
    /// Set by [`Completed`] when a task's future has produced its output.
    static COMPLETED: Cell<bool> = const { Cell::new(false) };
}

/// Parks a finished task with its output: the first poll raises the
/// `COMPLETED` flag and returns `Pending`; the second (the handle's) returns
/// `Ready`.
struct Completed {
    signalled: bool,
}

impl Future for Completed {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.signalled {
            return Poll::Ready(());
        }
        self.signalled = true;
        COMPLETED.with(|flag| flag.set(true));
        Poll::Pending
    }
}

/// Futures up to this size with a non-zero-sized output keep it in place
/// (see the module docs): doubling them costs less than a second box.
pub(crate) const INLINE_OUTPUT_MAX: usize = 64;

/// Boxes a future for the slab, wrapped to keep its output in place when
/// that is the cheaper way (see the module docs).
pub(crate) fn box_task<F>(future: F) -> Pin<Box<dyn TaskFuture>>
where
    F: Future + 'static,
    F::Output: 'static,
{
    let output_size = std::mem::size_of::<F::Output>();
    // (`poll_task` relies on it: a future with a zero-sized output is never
    // wrapped, so its polls need not look at `COMPLETED`.)
    if output_size > 0 && std::mem::size_of::<F>() <= INLINE_OUTPUT_MAX {
        Box::pin(async move {
            let output = future.await;
            Completed { signalled: false }.await;
            output
        })
    } else {
        Box::pin(future)
    }
}

/// How a task's future finished.
pub(crate) enum Finished {
    /// The output waits inside the (wrapped) future.
    InPlace,
    /// The output, boxed — or `None` when nobody could take it.
    Boxed(Option<Box<dyn Any>>),
}

/// A task's future with its output type erased, as the slab stores it.
pub(crate) trait TaskFuture {
    /// Polls the future. `keep` says whether anybody may still want the
    /// output of an unwrapped future (if not, it is dropped at once).
    fn poll_task(self: Pin<&mut Self>, cx: &mut Context<'_>, keep: bool) -> Poll<Finished>;

    /// Moves the output of a finished wrapped future into `out`, which must
    /// be an `&mut Option<Output>`.
    fn take_output(self: Pin<&mut Self>, out: &mut dyn Any);
}

impl<F> TaskFuture for F
where
    F: Future,
    F::Output: 'static,
{
    fn poll_task(self: Pin<&mut Self>, cx: &mut Context<'_>, keep: bool) -> Poll<Finished> {
        // The flag is down here: only `Completed` raises it, and the poll
        // that reaches `Completed` returns `Pending` at once, to the check
        // below, which lowers it. (Polls of task futures never nest: a loop
        // cannot run inside one of its own polls.)
        debug_assert!(!COMPLETED.with(Cell::get));
        match self.poll(cx) {
            // An unwrapped future.
            Poll::Ready(output) if keep => {
                Poll::Ready(Finished::Boxed(Some(Box::new(output) as Box<dyn Any>)))
            }
            // Nobody can take it: dropped now — a panic in its destructor
            // is the output's, reported as such, not the task's.
            Poll::Ready(output) => {
                crate::contain::drop_contained(output);
                Poll::Ready(Finished::Boxed(None))
            }
            // A wrapped future parks in `Completed` once it has its output.
            // (Only futures with a non-zero-sized output are wrapped: the
            // others need not look at the flag.)
            Poll::Pending if std::mem::size_of::<F::Output>() > 0 && COMPLETED.with(Cell::take) => {
                Poll::Ready(Finished::InPlace)
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn take_output(self: Pin<&mut Self>, out: &mut dyn Any) {
        let mut cx = Context::from_waker(Waker::noop());
        if let Poll::Ready(output) = self.poll(&mut cx) {
            if let Some(out) = out.downcast_mut::<Option<F::Output>>() {
                *out = Some(output);
            }
        }
    }
}

/// How a task ended, with the output type erased.
pub(crate) enum Outcome {
    /// Finished: the output is still inside the task's wrapped future.
    Held(Pin<Box<dyn TaskFuture>>),
    /// Finished: the output, boxed on its own (`None` if nobody could take
    /// it).
    Boxed(Option<Box<dyn Any>>),
    /// Cancelled or panicked.
    Err(TaskError),
}

impl Outcome {
    /// Typed again, for the handle or the done callbacks.
    pub(crate) fn into_result<T: 'static>(self) -> Result<T, TaskError> {
        match self {
            Outcome::Held(mut future) => {
                let mut out: Option<T> = None;
                future.as_mut().take_output(&mut out);
                match out {
                    Some(output) => Ok(output),
                    None => unreachable!("corio: a finished task holds an output of its type"),
                }
            }
            Outcome::Boxed(Some(output)) => match output.downcast::<T>() {
                Ok(output) => Ok(*output),
                Err(_) => unreachable!("corio: a task's output has the type it was spawned with"),
            },
            Outcome::Boxed(None) => {
                unreachable!("corio: an output is dropped only when nobody can take it")
            }
            Outcome::Err(err) => Err(err),
        }
    }

    pub(crate) fn from_result<T: 'static>(result: Result<T, TaskError>) -> Outcome {
        match result {
            Ok(output) => Outcome::Boxed(Some(Box::new(output))),
            Err(err) => Outcome::Err(err),
        }
    }

    pub(crate) fn is_panic(&self) -> bool {
        matches!(self, Outcome::Err(TaskError::Panicked(_)))
    }
}

/// Where a task is in its life.
pub(crate) enum Stage {
    /// Waiting to be polled (queued or parked).
    Pending(Pin<Box<dyn TaskFuture>>),
    /// Being polled right now; the future is on the turn's stack.
    Running,
    /// Finished; the outcome waits for the handle.
    Done(Outcome),
    /// Finished; the outcome is lent to the task's done callbacks right now.
    Lent,
}

/// A task's done callbacks, typed, behind `dyn Any`, with the function that
/// knows the type.
pub(crate) struct DoneCallbacks {
    list: Box<dyn Any>,
    run: RunCallbacks,
    drop_each: fn(Box<dyn Any>),
    /// One of them was added by the user: running them observes the
    /// outcome (a panic seen by a callback is not reported as unseen).
    /// corio's own watchers — a `TaskGroup`'s — do not count.
    pub(crate) observing: bool,
}

/// Runs a typed callback list; returns how many ran and the panic messages.
type RunCallbacks = fn(Box<dyn Any>, &mut Outcome, Watch<'_>) -> (usize, Vec<String>);

/// One done callback of a `Task<T>`.
pub(crate) type DoneCallback<T> = Box<dyn FnOnce(&Result<T, TaskError>)>;

impl DoneCallbacks {
    pub(crate) fn push<T: 'static>(
        this: &mut Option<DoneCallbacks>,
        callback: DoneCallback<T>,
        observes: bool,
    ) {
        let callbacks = this.get_or_insert_with(|| DoneCallbacks {
            list: Box::new(Vec::<DoneCallback<T>>::new()),
            run: run_callbacks::<T>,
            drop_each: drop_callbacks::<T>,
            observing: false,
        });
        callbacks.observing |= observes;
        match callbacks.list.downcast_mut::<Vec<DoneCallback<T>>>() {
            Some(list) => list.push(callback),
            None => unreachable!("corio: done callbacks have the task's output type"),
        }
    }

    /// Runs every callback with the outcome, in the order they were added,
    /// each one contained. Returns how many ran, and the messages of those
    /// that panicked.
    pub(crate) fn run(self, outcome: &mut Outcome, watch: Watch<'_>) -> (usize, Vec<String>) {
        (self.run)(self.list, outcome, watch)
    }

    /// Drops callbacks that will never run (their loop closed), each on its
    /// own with its panics contained.
    pub(crate) fn drop_each_contained(self) {
        (self.drop_each)(self.list);
    }
}

fn drop_callbacks<T: 'static>(list: Box<dyn Any>) {
    if let Ok(list) = list.downcast::<Vec<DoneCallback<T>>>() {
        list.into_iter().for_each(crate::contain::drop_contained);
    }
}

fn run_callbacks<T: 'static>(
    list: Box<dyn Any>,
    outcome: &mut Outcome,
    watch: Watch<'_>,
) -> (usize, Vec<String>) {
    let Ok(list) = list.downcast::<Vec<DoneCallback<T>>>() else {
        unreachable!("corio: done callbacks have the task's output type")
    };
    let result = std::mem::replace(outcome, Outcome::Err(TaskError::Cancelled)).into_result::<T>();
    let ran = list.len();
    let mut panics = Vec::new();
    for callback in *list {
        let mut callback = Some(callback);
        watched(watch, &mut || {
            let Some(callback) = callback.take() else {
                return;
            };
            if let Err(payload) = catch_unwind(AssertUnwindSafe(|| callback(&result))) {
                panics.push(panic_message(&*payload));
                crate::contain::drop_contained(payload);
            }
        });
    }
    *outcome = Outcome::from_result(result);
    (ran, panics)
}

/// What a task needs only sometimes, boxed so that plain tasks stay small.
#[derive(Default)]
pub(crate) struct Extra {
    pub(crate) name: Option<String>,
    pub(crate) callbacks: Option<DoneCallbacks>,
}

/// One task in the loop's slab.
pub(crate) struct TaskSlot {
    /// The sequence number the task was spawned with; it is also its id.
    pub(crate) seq: u64,
    pub(crate) stage: Stage,
    /// The task's waker, kept while somebody else holds a clone of it, or
    /// while the task is queued again after a poll (it woke itself).
    pub(crate) waker: Option<Arc<TaskWaker>>,
    /// The waker of whoever awaits the handle. (A plain `Waker`, not a
    /// `Waiter`: a 24-byte waiter here would cost every task 8 bytes.)
    pub(crate) join_waker: Option<Waker>,
    pub(crate) extra: Option<Box<Extra>>,
    /// On the ready queue (so it is not pushed twice).
    pub(crate) queued: bool,
    /// `cancel()` was called: the future will be dropped, not polled.
    pub(crate) cancelled: bool,
    /// The handle was dropped.
    pub(crate) detached: bool,
    /// A `DoneCallbacks` entry is on the ready queue.
    pub(crate) callbacks_queued: bool,
    /// A done callback of the user's has seen the outcome (corio's own
    /// watchers do not count: `DoneCallbacks::observing`).
    pub(crate) observed: bool,
}

impl TaskSlot {
    pub(crate) fn new(seq: u64, future: Pin<Box<dyn TaskFuture>>, name: Option<String>) -> Self {
        TaskSlot {
            seq,
            stage: Stage::Pending(future),
            waker: None,
            join_waker: None,
            extra: name.map(|name| {
                Box::new(Extra {
                    name: Some(name),
                    callbacks: None,
                })
            }),
            queued: false,
            cancelled: false,
            detached: false,
            callbacks_queued: false,
            observed: false,
        }
    }

    pub(crate) fn id(&self) -> TaskId {
        TaskId(self.seq)
    }

    pub(crate) fn name(&self) -> String {
        match self.extra.as_ref().and_then(|extra| extra.name.as_ref()) {
            Some(name) => name.clone(),
            None => format!("Task-{}", self.seq),
        }
    }

    pub(crate) fn is_finished(&self) -> bool {
        matches!(self.stage, Stage::Done(_) | Stage::Lent)
    }

    pub(crate) fn has_callbacks(&self) -> bool {
        self.extra
            .as_ref()
            .is_some_and(|extra| extra.callbacks.is_some())
    }

    /// Should an unwrapped future's output be kept when it completes?
    pub(crate) fn keeps_output(&self) -> bool {
        !self.detached || self.has_callbacks()
    }

    /// Is the outcome there for the handle to take (finished, and its done
    /// callbacks have run)?
    pub(crate) fn outcome_is_ready(&self) -> bool {
        matches!(self.stage, Stage::Done(_)) && !self.callbacks_queued
    }

    /// Remembers who awaits the handle. Returns the waker it replaced, for
    /// the caller to drop once the loop's state is released.
    pub(crate) fn set_join_waker(&mut self, waker: &Waker) -> Option<Waker> {
        match &self.join_waker {
            Some(old) if old.will_wake(waker) => None,
            _ => self.join_waker.replace(waker.clone()),
        }
    }

    /// Can nobody see the outcome any more? (Then the slot can go.)
    pub(crate) fn is_unreachable(&self) -> bool {
        self.detached && !self.has_callbacks() && !self.callbacks_queued
    }
}
