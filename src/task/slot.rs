//! A task as the loop stores it: one slab slot.
//!
//! The slot holds the boxed future while the task runs, then its outcome
//! until the [`Task`](super::Task) handle takes it. The handle itself is only
//! a key into the slab, so a task costs one allocation for its future (plus
//! one for its output, unless the output is zero-sized or nobody can take
//! it), and a parked task that nobody awaits is its future plus this slot.
//!
//! The life of a slot:
//!
//! ```text
//!   spawn ──► Pending(future) ──poll──► Running ──Pending──► Pending(future) ...
//!                 │                        │
//!              cancel                   Ready / panic
//!                 ▼                        ▼
//!             Done(Err(Cancelled))      Done(outcome) ──done callbacks──► Lent ──► Done
//!                                          │
//!                        the handle takes the outcome, or was dropped: slot freed
//! ```

use std::any::Any;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::{TaskError, TaskId};
use crate::report::panic_message;
use crate::waker::TaskWaker;

/// A future with its output type erased, as the slab stores it.
pub(crate) trait TaskFuture {
    /// Polls the future. On completion the output is boxed if `keep` is set
    /// (somebody may still want it), and dropped here otherwise.
    fn poll_task(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        keep: bool,
    ) -> Poll<Option<Box<dyn Any>>>;
}

impl<F> TaskFuture for F
where
    F: Future,
    F::Output: 'static,
{
    fn poll_task(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        keep: bool,
    ) -> Poll<Option<Box<dyn Any>>> {
        match self.poll(cx) {
            Poll::Ready(output) => Poll::Ready(keep.then(|| Box::new(output) as Box<dyn Any>)),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// How a task ended, with the output type erased.
pub(crate) enum Outcome {
    /// The future's output (`None` when it was dropped because nobody could
    /// take it).
    Ok(Option<Box<dyn Any>>),
    Err(TaskError),
}

impl Outcome {
    /// Typed again, for the handle or the done callbacks.
    pub(crate) fn into_result<T: 'static>(self) -> Result<T, TaskError> {
        match self {
            Outcome::Ok(Some(output)) => match output.downcast::<T>() {
                Ok(output) => Ok(*output),
                Err(_) => unreachable!("corio: a task's output has the type it was spawned with"),
            },
            Outcome::Ok(None) => Err(TaskError::Cancelled),
            Outcome::Err(err) => Err(err),
        }
    }

    pub(crate) fn from_result<T: 'static>(result: Result<T, TaskError>) -> Outcome {
        match result {
            Ok(output) => Outcome::Ok(Some(Box::new(output))),
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
}

/// Runs a typed callback list; returns how many ran and the panic messages.
type RunCallbacks = fn(Box<dyn Any>, &mut Outcome) -> (usize, Vec<String>);

/// One done callback of a `Task<T>`.
pub(crate) type DoneCallback<T> = Box<dyn FnOnce(&Result<T, TaskError>)>;

impl DoneCallbacks {
    pub(crate) fn push<T: 'static>(this: &mut Option<DoneCallbacks>, callback: DoneCallback<T>) {
        let callbacks = this.get_or_insert_with(|| DoneCallbacks {
            list: Box::new(Vec::<DoneCallback<T>>::new()),
            run: run_callbacks::<T>,
        });
        match callbacks.list.downcast_mut::<Vec<DoneCallback<T>>>() {
            Some(list) => list.push(callback),
            None => unreachable!("corio: done callbacks have the task's output type"),
        }
    }

    /// Runs every callback with the outcome, in the order they were added,
    /// each one contained. Returns how many ran, and the messages of those
    /// that panicked.
    pub(crate) fn run(self, outcome: &mut Outcome) -> (usize, Vec<String>) {
        (self.run)(self.list, outcome)
    }
}

fn run_callbacks<T: 'static>(list: Box<dyn Any>, outcome: &mut Outcome) -> (usize, Vec<String>) {
    let Ok(list) = list.downcast::<Vec<DoneCallback<T>>>() else {
        unreachable!("corio: done callbacks have the task's output type")
    };
    let result = std::mem::replace(outcome, Outcome::Ok(None)).into_result::<T>();
    let ran = list.len();
    let mut panics = Vec::new();
    for callback in *list {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(|| callback(&result))) {
            panics.push(panic_message(&*payload));
            crate::core::drop_contained(payload);
        }
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
    /// The task's waker, kept while somebody else holds a clone of it.
    pub(crate) waker: Option<Arc<TaskWaker>>,
    /// The waker of whoever awaits the handle.
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
    /// A done callback has seen the outcome.
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

    /// Should the output be kept when the future completes?
    pub(crate) fn keeps_output(&self) -> bool {
        !self.detached || self.has_callbacks()
    }

    /// Can nobody see the outcome any more? (Then the slot can go.)
    pub(crate) fn is_unreachable(&self) -> bool {
        self.detached && !self.has_callbacks() && !self.callbacks_queued
    }
}
