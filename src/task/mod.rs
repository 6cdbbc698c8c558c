//! Tasks: futures the loop runs on its own.
//!
//! [`spawn`] is asyncio's `ensure_future` / `create_task` and gevent's
//! `spawn`: it hands a future to the loop, which polls it whenever it is
//! woken, and returns a [`Task`] handle. The handle is itself a future —
//! `task.await` gives `Ok(output)`, or an error if the task was cancelled or
//! panicked — and it carries asyncio's task methods: [`Task::cancel`],
//! [`Task::is_done`], [`Task::add_done_callback`], [`Task::name`].
//!
//! Dropping a handle *detaches* the task: it keeps running (as in asyncio,
//! gevent and tokio). Use [`Task::cancel`] or [`Task::cancel_on_drop`] to
//! stop it.

use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use crate::EventLoop;
use crate::context;
use crate::core::{Core, Runnable, queue_done_callbacks, release, slot_mut, unretrieved_panic};

pub(crate) mod handoff;
pub(crate) mod slot;

use slot::{DoneCallbacks, Extra, Stage};

use crate::waker::TaskKey;

/// A task's id: unique within its loop, counting up from 1 in spawn order.
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let a = corio::spawn(async {});
///     let b = corio::spawn(async {});
///     assert!(a.id() < b.id());
///     assert_eq!(b.id().as_u64(), a.id().as_u64() + 1);
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(pub(crate) u64);

impl TaskId {
    /// The id as a number.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let task = corio::spawn(async {});
    ///     assert!(task.id().as_u64() >= 1);
    /// });
    /// ```
    pub fn as_u64(self) -> u64 {
        self.0
    }
}

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// Why a task has no output.
///
/// # Examples
///
/// ```
/// use corio::TaskError;
///
/// corio::run(async {
///     let task = corio::spawn(async { panic!("bad input") });
///     match task.await {
///         Err(TaskError::Panicked(p)) => assert_eq!(p.message(), "bad input"),
///         other => panic!("unexpected {other:?}"),
///     }
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskError {
    /// The task was cancelled: its future was dropped before it finished
    /// (asyncio's `CancelledError`, gevent's `GreenletExit`).
    Cancelled,
    /// The task's future panicked. The loop went on; the panic is here.
    ///
    /// Rust's panic hook has already printed `thread '..' panicked at ..`
    /// to stderr when the panic happened — before anybody could know it
    /// would be handled (asyncio's `gather(return_exceptions=True)` prints
    /// nothing). A program that expects panics and wants quiet installs
    /// its own hook with `std::panic::set_hook`. corio adds its own report
    /// only for a panic that nobody retrieved.
    Panicked(PanicError),
}

impl TaskError {
    /// Was the task cancelled?
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(corio::TaskError::Cancelled.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self, TaskError::Cancelled)
    }

    /// Did the task panic?
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!corio::TaskError::Cancelled.is_panic());
    /// corio::run(async {
    ///     let err = corio::spawn(async { panic!("oops") }).await.unwrap_err();
    ///     assert!(err.is_panic());
    /// });
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self, TaskError::Panicked(_))
    }
}

impl fmt::Display for TaskError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TaskError::Cancelled => f.write_str("the task was cancelled"),
            TaskError::Panicked(panic) => panic.fmt(f),
        }
    }
}

impl std::error::Error for TaskError {}

/// A task that failed as an I/O error (`Interrupted` for a cancelled task,
/// `Other` for a panic), so that `?` works in I/O code that awaits tasks.
///
/// # Examples
///
/// ```
/// fn main() -> std::io::Result<()> {
///     corio::run(async {
///         let n = corio::spawn(async { 2 }).await?;
///         assert_eq!(n, 2);
///         Ok(())
///     })
/// }
/// ```
impl From<TaskError> for std::io::Error {
    fn from(err: TaskError) -> std::io::Error {
        let kind = match err {
            TaskError::Cancelled => std::io::ErrorKind::Interrupted,
            _ => std::io::ErrorKind::Other,
        };
        std::io::Error::new(kind, err)
    }
}

/// A task's panic: its message and the task's name.
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let task = corio::Builder::new().name("parser").spawn(async { panic!("line 3") });
///     let err = task.await.unwrap_err();
///     assert_eq!(err.to_string(), "task \"parser\" panicked: line 3");
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PanicError(Box<PanicInfo>);

#[derive(Clone)]
struct PanicInfo {
    message: String,
    task_name: String,
    /// Set when a combinator took the panic from its task and may drop it
    /// unseen (`handoff.rs`).
    handoff: Option<std::sync::Arc<handoff::HandOff>>,
}

impl fmt::Debug for PanicInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PanicInfo")
            .field("message", &self.message)
            .field("task_name", &self.task_name)
            .finish()
    }
}

impl PartialEq for PanicInfo {
    fn eq(&self, other: &PanicInfo) -> bool {
        (&self.message, &self.task_name) == (&other.message, &other.task_name)
    }
}

impl Eq for PanicInfo {}

impl Drop for PanicError {
    fn drop(&mut self) {
        if let Some(handoff) = &self.0.handoff {
            handoff.dropped();
        }
    }
}

impl PanicError {
    pub(crate) fn new(message: String, task_name: String) -> PanicError {
        PanicError(Box::new(PanicInfo {
            message,
            task_name,
            handoff: None,
        }))
    }

    /// The panic message (`"a panic with a non-string payload"` if the
    /// payload was not a string).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let err = corio::spawn(async { panic!("x = {}", 5) }).await.unwrap_err();
    ///     let corio::TaskError::Panicked(p) = err else { unreachable!() };
    ///     assert_eq!(p.message(), "x = 5");
    /// });
    /// ```
    pub fn message(&self) -> &str {
        &self.0.message
    }

    /// The name of the task that panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let task = corio::spawn(async { panic!() });
    ///     let default_name = task.name();
    ///     let corio::TaskError::Panicked(p) = task.await.unwrap_err() else { unreachable!() };
    ///     assert_eq!(p.task_name(), default_name);
    /// });
    /// ```
    pub fn task_name(&self) -> &str {
        &self.0.task_name
    }
}

impl fmt::Display for PanicError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "task {:?} panicked: {}",
            self.0.task_name, self.0.message
        )
    }
}

impl std::error::Error for PanicError {}

/// Where a task is in its life (asyncio: `PENDING`, `CANCELLED`,
/// `FINISHED`, plus "running right now").
///
/// # Examples
///
/// ```
/// use corio::TaskState;
///
/// corio::run(async {
///     let task = corio::spawn(async { corio::current_task().unwrap().state() });
///     assert_eq!(task.task_ref().state(), TaskState::Pending);
///     corio::yield_now().await;
///     assert_eq!(task.task_ref().state(), TaskState::Finished);
///     assert_eq!(task.await, Ok(TaskState::Running));
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TaskState {
    /// Waiting to be polled: queued, or parked until a wake.
    Pending,
    /// Being polled right now (it is the current task).
    Running,
    /// Cancelled: the future is dropped, or will be when the loop next
    /// reaches the task (never inside `cancel`).
    Cancelled,
    /// Finished, with an output or a panic.
    Finished,
}

/// Spawns a future as a task on the running loop; returns its handle.
///
/// This is asyncio's `ensure_future` / `create_task` and gevent's `spawn`.
/// The future needs `'static` but not `Send`: a task never leaves its loop's
/// thread. Its first poll happens at the next turn, not inside `spawn`.
///
/// # Panics
///
/// Outside a running loop ("no running event loop"). Before the loop runs,
/// use [`EventLoop::spawn`].
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let task = corio::spawn(async { 6 * 7 });
///     assert_eq!(task.await, Ok(42));
/// });
/// ```
#[doc(alias = "ensure_future")]
#[doc(alias = "create_task")]
#[track_caller]
pub fn spawn<F>(future: F) -> Task<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    Task::spawn_on(context::current("corio::spawn"), None, future)
}

/// Spawns with options: a name, for now (gevent shows `f(5)` for a greenlet;
/// asyncio's `create_task(coro, name=..)`).
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let task = corio::Builder::new().name("f(5)").spawn(async { 5 });
///     assert_eq!(task.name(), "f(5)");
///     assert_eq!(task.await, Ok(5));
/// });
/// ```
#[derive(Debug, Default, Clone)]
pub struct Builder {
    name: Option<String>,
}

impl Builder {
    /// A builder with no name set (tasks are then named `Task-<id>`).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let task = corio::Builder::new().spawn(async {});
    ///     assert_eq!(task.name(), format!("Task-{}", task.id().as_u64()));
    /// });
    /// ```
    pub fn new() -> Builder {
        Builder::default()
    }

    /// Names the task.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let task = corio::Builder::new().name("worker-1").spawn(async {});
    ///     assert_eq!(task.name(), "worker-1");
    /// });
    /// ```
    pub fn name(mut self, name: impl Into<String>) -> Builder {
        self.name = Some(name.into());
        self
    }

    /// Spawns on the running loop, like [`spawn`].
    ///
    /// # Panics
    ///
    /// Outside a running loop.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let out = corio::Builder::new().name("adder").spawn(async { 1 + 1 }).await;
    ///     assert_eq!(out, Ok(2));
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<F>(self, future: F) -> Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        Task::spawn_on(context::current("corio::Builder::spawn"), self.name, future)
    }

    /// Spawns on `event_loop`, which need not be running yet.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lp = corio::EventLoop::new()?;
    /// let task = corio::Builder::new().name("early").spawn_on(&lp, async { "done" });
    /// assert_eq!(lp.run_until_complete(task), Ok("done"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn spawn_on<F>(self, event_loop: &EventLoop, future: F) -> Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        Task::spawn_on(Rc::clone(event_loop.core()), self.name, future)
    }
}

/// A handle to a spawned task: awaiting it gives the task's outcome.
///
/// `Task<T>` is a `Future<Output = Result<T, TaskError>>` and is `Unpin`.
/// It is asyncio's `Task` (and gevent's `Greenlet`): [`cancel`](Task::cancel),
/// [`is_done`](Task::is_done), [`add_done_callback`](Task::add_done_callback),
/// [`name`](Task::name) work as there.
///
/// Dropping the handle detaches the task; it keeps running, and if it then
/// panics with nobody to see it, the panic is reported (asyncio's "Task
/// exception was never retrieved").
///
/// # Panics
///
/// Awaiting gives the outcome once: the output is moved out, not shared.
/// Polling the handle again after it returned `Ready` (`(&mut task).await`
/// twice) panics — asyncio's `await task` gives the same result each time.
/// Keep the result, or ask [`is_done`](Task::is_done) and
/// [`is_cancelled`](Task::is_cancelled), which go on answering.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// corio::run(async {
///     let task = corio::spawn(async {
///         corio::time::sleep(Duration::from_millis(10)).await;
///         "slept"
///     });
///     assert!(!task.is_done());
///     assert_eq!(task.await, Ok("slept"));
/// });
/// ```
#[must_use = "dropping a Task detaches it; await it, or call cancel()"]
pub struct Task<T> {
    core: Rc<Core>,
    key: TaskKey,
    /// Set once the outcome was taken (then the slot is gone): what the
    /// handle still knows of the task.
    taken: Option<Taken>,
    _output: PhantomData<fn() -> T>,
}

/// What a handle keeps of its task once it has taken the outcome.
struct Taken {
    /// The outcome was `Cancelled` (so `is_cancelled` stays true).
    cancelled: bool,
    /// The name given by `Builder::name` (so `name` stays true).
    name: Option<Box<str>>,
}

impl<T: 'static> Task<T> {
    #[track_caller]
    pub(crate) fn spawn_on<F>(core: Rc<Core>, name: Option<String>, future: F) -> Task<T>
    where
        F: Future<Output = T> + 'static,
    {
        let key = core.spawn(name, slot::box_task(future));
        if core.debug.watching() {
            core.note_spawn(key, std::panic::Location::caller());
        }
        Task {
            core,
            key,
            taken: None,
            _output: PhantomData,
        }
    }

    /// The task's id.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let task = corio::spawn(async {});
    ///     assert_eq!(task.id(), task.task_ref().id());
    /// });
    /// ```
    pub fn id(&self) -> TaskId {
        TaskId(self.key.seq)
    }

    /// The task's name: the one given to [`Builder::name`], or `Task-<id>`.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let task = corio::spawn(async {});
    ///     assert!(task.name().starts_with("Task-"));
    /// });
    /// ```
    pub fn name(&self) -> String {
        match self.taken.as_ref().and_then(|taken| taken.name.as_ref()) {
            Some(name) => name.to_string(),
            None => self.task_ref().name(),
        }
    }

    /// A non-generic reference to the task (what [`current_task`] and
    /// [`all_tasks`] return).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let task = corio::spawn(async {});
    ///     let r = task.task_ref();
    ///     assert!(r.cancel());
    ///     assert!(task.is_cancelled());
    /// });
    /// ```
    pub fn task_ref(&self) -> TaskRef {
        TaskRef {
            core: Rc::clone(&self.core),
            key: self.key,
        }
    }

    /// Has the task finished — with an output, a panic, or cancelled?
    ///
    /// Done is not yet ready to hand over: a finished task's done callbacks
    /// run first (at a later turn), so until they have run, polling the
    /// handle still gives `Pending` — await it rather than poll it once.
    ///
    /// It stays true after the outcome was taken. The outcome is handed
    /// over once: an `.await` of `&mut task` that returned it — inside a
    /// `gather` or a `timeout` that elapsed afterwards, too — leaves a handle
    /// that panics if awaited again (gevent's `get()` answers every time:
    /// keep the result the first await gave).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let task = corio::spawn(async {});
    ///     assert!(!task.is_done());
    ///     corio::yield_now().await;
    ///     assert!(task.is_done());
    /// });
    /// ```
    pub fn is_done(&self) -> bool {
        self.taken.is_some() || self.task_ref().state_of().is_none_or(|s| s.is_finished())
    }

    /// Was the task cancelled? True as soon as [`cancel`](Task::cancel)
    /// returned `true`, before the future is actually dropped.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let task = corio::spawn(std::future::pending::<()>());
    ///     assert!(!task.is_cancelled());
    ///     task.cancel();
    ///     assert!(task.is_cancelled());
    /// });
    /// ```
    pub fn is_cancelled(&self) -> bool {
        if let Some(taken) = &self.taken {
            return taken.cancelled;
        }
        self.task_ref().state() == TaskState::Cancelled
    }

    /// Cancels the task (asyncio's `Task.cancel`, gevent's `kill`).
    ///
    /// The task is marked at once; its future is dropped when the loop next
    /// reaches the task — later in this turn if it is in the batch this
    /// turn took at its start, else at the next turn (a task woken during
    /// this turn waits for the next one too); never inside `cancel` — so
    /// its destructors run then, its done
    /// callbacks see `Err(Cancelled)`, and awaiting the handle gives
    /// `Err(TaskError::Cancelled)`. Returns `false` if the task had already
    /// finished (or was already cancelled), `true` otherwise. A task that
    /// finishes in the poll during which it was cancelled still ends as
    /// cancelled: once `cancel` returned `true`, the outcome is `Cancelled`.
    /// If it panics in that poll (it cancelled itself, or dropped its own
    /// [`CancelOnDrop`], and then failed), the panic, which nobody can
    /// receive then, is reported as unretrieved.
    ///
    /// Cancelling is dropping: the future never runs again, so only
    /// destructors run — there is no `except CancelledError:` to catch, no
    /// `finally:` that awaits, and no way to refuse the cancel (asyncio
    /// throws `CancelledError` into the coroutine, which may do all three).
    /// Clean-up that must happen goes in a `Drop` guard: a consumer that
    /// may be cancelled between a queue's `get` and its `task_done` holds
    /// a guard whose `drop` calls `task_done`, or `join` waits for ever.
    ///
    /// Cancelling does not reach into what the task awaits: a `Task`
    /// handle the cancelled future held is dropped with it, which
    /// *detaches* that task — asyncio would cancel it too. Hold it as
    /// [`cancel_on_drop`](Task::cancel_on_drop) to pass the cancel on.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::TaskError;
    ///
    /// corio::run(async {
    ///     let task = corio::spawn(std::future::pending::<()>());
    ///     assert!(task.cancel());
    ///     assert_eq!(task.await, Err(TaskError::Cancelled));
    /// });
    /// ```
    pub fn cancel(&self) -> bool {
        self.task_ref().cancel()
    }

    /// Adds a callback that runs on the loop once the task has finished,
    /// with a reference to its outcome (asyncio's `add_done_callback`,
    /// gevent's `link`).
    ///
    /// Callbacks run soon after the task finishes — at a later turn, never
    /// inside this call or inside the task's last poll — in the order they
    /// were added, and before an awaiting handle gets the outcome. One added
    /// after the task finished still runs, at a later turn. A callback may
    /// spawn tasks and add callbacks. A panicking callback is contained and
    /// reported. Returns `false`, without keeping the callback, if it
    /// could never run: the outcome was already taken by awaiting the
    /// handle, or the task's loop is closed.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::RefCell;
    /// use std::rc::Rc;
    ///
    /// let seen = Rc::new(RefCell::new(None));
    /// let s = seen.clone();
    /// corio::run(async move {
    ///     let task = corio::spawn(async { 123 });
    ///     task.add_done_callback(move |outcome| *s.borrow_mut() = Some(outcome.clone()));
    ///     assert_eq!(task.await, Ok(123));
    /// });
    /// assert_eq!(*seen.borrow(), Some(Ok(123)));
    /// ```
    pub fn add_done_callback<F>(&self, callback: F) -> bool
    where
        F: FnOnce(&Result<T, TaskError>) + 'static,
    {
        self.add_callback(callback, true)
    }

    /// A done callback of corio's own (a `TaskGroup`'s): it does not count
    /// as observing the outcome, so a panic nobody else sees is still
    /// reported.
    pub(crate) fn add_watcher<F>(&self, callback: F) -> bool
    where
        F: FnOnce(&Result<T, TaskError>) + 'static,
    {
        self.add_callback(callback, false)
    }

    fn add_callback<F>(&self, callback: F, observes: bool) -> bool
    where
        F: FnOnce(&Result<T, TaskError>) + 'static,
    {
        if self.taken.is_some() || self.core.shared().is_closed() {
            return false;
        }
        let mut st = self.core.state.borrow_mut();
        let st = &mut *st;
        let Some(slot) = slot_mut(&mut st.tasks, self.key) else {
            return false;
        };
        let extra = slot.extra.get_or_insert_with(|| Box::new(Extra::default()));
        DoneCallbacks::push::<T>(&mut extra.callbacks, Box::new(callback), observes);
        if matches!(slot.stage, Stage::Done(_)) {
            queue_done_callbacks(st, self.key);
        }
        true
    }

    /// Lets the task run on without its handle — the same as dropping it,
    /// said out loud. (`Task` is `#[must_use]`: rustc warns about a bare
    /// `spawn(..);` statement, but not about `let _ = spawn(..)`, which
    /// only clippy's `let_underscore_future` flags.)
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc};
    ///
    /// corio::run(async {
    ///     let ran = Rc::new(Cell::new(false));
    ///     let r = ran.clone();
    ///     corio::spawn(async move { r.set(true) }).detach(); // no handle left to await
    ///     corio::yield_now().await;
    ///     assert!(ran.get()); // it ran all the same
    /// });
    /// ```
    pub fn detach(self) {
        drop(self);
    }

    /// Turns the handle into one that cancels the task when dropped (the
    /// opposite of the default, detaching, behaviour).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let guard = corio::spawn(std::future::pending::<()>()).cancel_on_drop();
    ///     let task = guard.task_ref();
    ///     drop(guard);
    ///     assert!(task.is_cancelled());
    /// });
    /// ```
    pub fn cancel_on_drop(self) -> CancelOnDrop<T> {
        CancelOnDrop { task: Some(self) }
    }

    /// Readiness without taking the outcome: `Ready` once the task finished
    /// and its done callbacks ran. Registers `cx`'s waker otherwise.
    pub(crate) fn poll_finished(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.taken.is_some() {
            return Poll::Ready(());
        }
        let replaced = {
            let mut st = self.core.state.borrow_mut();
            let Some(slot) = slot_mut(&mut st.tasks, self.key) else {
                return Poll::Ready(());
            };
            if slot.outcome_is_ready() {
                return Poll::Ready(());
            }
            slot.set_join_waker(cx.waker())
        };
        drop(replaced);
        Poll::Pending
    }

    /// Forgets the waker registered by [`poll_finished`](Self::poll_finished)
    /// (a combinator handing the task back unfinished): it would wake
    /// somebody who no longer waits, and keep them counted as wakeable.
    pub(crate) fn forget_join_waker(&self) {
        if self.taken.is_some() {
            return;
        }
        let waker = {
            let mut st = self.core.state.borrow_mut();
            slot_mut(&mut st.tasks, self.key).and_then(|slot| slot.join_waker.take())
        };
        drop(waker); // after the borrow: a waker may be foreign code
    }

    /// Did the task end with a panic? (`false` while it runs.)
    pub(crate) fn has_panicked(&self) -> bool {
        let mut st = self.core.state.borrow_mut();
        slot_mut(&mut st.tasks, self.key).is_some_and(|slot| {
            matches!(
                slot.stage,
                Stage::Done(slot::Outcome::Err(TaskError::Panicked(_)))
            )
        })
    }
}

impl<T: 'static> Future for Task<T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        assert!(
            self.taken.is_none(),
            "corio: a Task was polled after it returned its outcome — it is given once: an \
             earlier `.await` of `&mut task`, or a gather, select, wait or as_completed over \
             `&mut task` (even one dropped by a timeout), took it"
        );
        let released = {
            let mut st = self.core.state.borrow_mut();
            let st = &mut *st;
            let Some(slot) = slot_mut(&mut st.tasks, self.key) else {
                unreachable!("corio: a task's slot lives until its handle takes the outcome")
            };
            if slot.outcome_is_ready() {
                if !slot.observed
                    && matches!(
                        slot.stage,
                        Stage::Done(slot::Outcome::Err(TaskError::Panicked(_)))
                    )
                {
                    hand_off_if_watched(slot, &self.core, self.key);
                }
                Ok(release(st, &self.core.debug, self.key))
            } else {
                Err(slot.set_join_waker(cx.waker()))
            }
        };
        let released = match released {
            Ok(released) => released,
            Err(replaced) => {
                drop(replaced); // after the borrow: a waker may be foreign code
                assert!(
                    self.core.polling_key() != Some(self.key),
                    "corio: a task awaited its own handle, and would wait for itself forever \
                     (asyncio: \"Task cannot await on itself\")"
                );
                if !self.core.is_running() {
                    self.note_foreign_wait();
                }
                return Poll::Pending;
            }
        };
        let name = released
            .extra
            .and_then(|extra| extra.name)
            .map(String::into_boxed_str);
        let Stage::Done(outcome) = released.stage else {
            unreachable!()
        };
        let result = outcome.into_result();
        self.taken = Some(Taken {
            cancelled: matches!(result, Err(TaskError::Cancelled)),
            name,
        });
        Poll::Ready(result)
    }
}

impl<T: 'static> Task<T> {
    /// Awaited on another loop while its own is not running (one thread
    /// runs one loop at a time): only running or dropping its loop can end
    /// the wait. The running loop notes it for its stall messages, which
    /// would otherwise blame "a waker held elsewhere". (Not refused: code
    /// on that other loop may drop this one, which ends the task.)
    #[cold]
    fn note_foreign_wait(&self) {
        crate::context::with_current(|current| {
            let task = || format!("{} (id {})", self.name(), self.id().as_u64());
            current.debug.stall.note_foreign_wait(task, &self.core);
        });
    }
}

/// A panic nobody has seen is given up to a combinator's child
/// (`handoff.rs`): it gets a hand-off, with what to report if it is dropped
/// unseen after all.
#[cold]
#[inline(never)]
fn hand_off_if_watched(slot: &mut slot::TaskSlot, core: &Core, key: TaskKey) {
    if !handoff::watching() {
        return;
    }
    let report = unretrieved_panic(slot, &core.debug, key.index);
    if let Stage::Done(slot::Outcome::Err(TaskError::Panicked(panic))) = &mut slot.stage {
        panic.0.handoff = Some(handoff::record(report));
    }
}

impl<T> Drop for Task<T> {
    fn drop(&mut self) {
        if self.taken.is_some() {
            return;
        }
        let mut report = None;
        let (join_waker, released) = {
            let Ok(mut st) = self.core.state.try_borrow_mut() else {
                // Only possible if the loop's own bookkeeping dropped a
                // handle, which it never does while borrowed.
                return;
            };
            let st = &mut *st;
            let Some(slot) = slot_mut(&mut st.tasks, self.key) else {
                return;
            };
            slot.detached = true;
            let join_waker = slot.join_waker.take();
            if matches!(slot.stage, Stage::Done(_)) && slot.is_unreachable() {
                if !slot.observed
                    && matches!(
                        slot.stage,
                        Stage::Done(slot::Outcome::Err(TaskError::Panicked(_)))
                    )
                {
                    report = Some(unretrieved_panic(slot, &self.core.debug, self.key.index));
                }
                (join_waker, Some(release(st, &self.core.debug, self.key)))
            } else {
                (join_waker, None)
            }
        };
        drop(join_waker);
        drop(released);
        if let Some(report) = report {
            self.core.report(report);
        }
    }
}

impl<T: 'static> fmt::Debug for Task<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.taken.is_some() {
            return write!(f, "Task({}, taken)", self.id());
        }
        self.task_ref().fmt(f)
    }
}

/// A [`Task`] that is cancelled when dropped; see [`Task::cancel_on_drop`].
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let guard = corio::spawn(async { 1 }).cancel_on_drop();
///     assert_eq!(guard.await, Ok(1));
/// });
/// ```
#[must_use = "dropping a CancelOnDrop cancels the task"]
pub struct CancelOnDrop<T: 'static> {
    /// `None` only after `into_task` gave it back.
    task: Option<Task<T>>,
}

impl<T: 'static> CancelOnDrop<T> {
    fn task(&self) -> &Task<T> {
        match &self.task {
            Some(task) => task,
            None => unreachable!("only into_task takes the task, consuming self"),
        }
    }

    /// A reference to the task.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let guard = corio::spawn(async {}).cancel_on_drop();
    ///     assert!(guard.task_ref().name().starts_with("Task-"));
    /// });
    /// ```
    pub fn task_ref(&self) -> TaskRef {
        self.task().task_ref()
    }

    /// Gives the plain, detaching, handle back.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let task = corio::spawn(async { 2 }).cancel_on_drop().into_task();
    ///     assert_eq!(task.await, Ok(2));
    /// });
    /// ```
    pub fn into_task(mut self) -> Task<T> {
        match self.task.take() {
            Some(task) => task,
            None => unreachable!("only into_task takes the task, consuming self"),
        }
    }
}

impl<T: 'static> Future for CancelOnDrop<T> {
    type Output = Result<T, TaskError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.task {
            Some(task) => Pin::new(task).poll(cx),
            None => unreachable!("only into_task takes the task, consuming self"),
        }
    }
}

impl<T: 'static> Drop for CancelOnDrop<T> {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            if task.taken.is_none() {
                task.cancel();
            }
        }
    }
}

impl<T: 'static> fmt::Debug for CancelOnDrop<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CancelOnDrop").field(&self.task).finish()
    }
}

/// A reference to a task of any output type: what [`current_task`] and
/// [`all_tasks`] return (gevent's `getcurrent()`).
///
/// It does not keep the task alive or its outcome reachable. Once the task
/// is gone from the loop — its handle took the outcome, or it finished
/// detached — a `TaskRef` only knows that it ended:
/// [`state`](TaskRef::state) then says `Finished`, even for a task that
/// was cancelled.
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let task = corio::Builder::new().name("f(5)").spawn(async {
///         format!("{}", corio::current_task().unwrap())
///     });
///     assert_eq!(task.await.unwrap(), "<Task f(5) #1 running>");
/// });
/// ```
#[derive(Clone)]
pub struct TaskRef {
    core: Rc<Core>,
    key: TaskKey,
}

/// What a `TaskRef` sees of its slot.
#[derive(Clone, Copy)]
enum SlotState {
    Pending,
    Running,
    Finished,
}

impl SlotState {
    fn is_finished(self) -> bool {
        matches!(self, SlotState::Finished)
    }
}

impl TaskRef {
    fn state_of(&self) -> Option<SlotState> {
        let mut st = self.core.state.borrow_mut();
        let slot = slot_mut(&mut st.tasks, self.key)?;
        Some(match slot.stage {
            Stage::Pending(_) => SlotState::Pending,
            Stage::Running => SlotState::Running,
            Stage::Done(_) | Stage::Lent => SlotState::Finished,
        })
    }

    /// The task's id.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let task = corio::spawn(async { corio::current_task().unwrap().id() });
    ///     let id = task.id();
    ///     assert_eq!(task.await, Ok(id));
    /// });
    /// ```
    pub fn id(&self) -> TaskId {
        TaskId(self.key.seq)
    }

    /// The task's name (`Task-<id>` unless it was given one). Once the
    /// task is gone from the loop, only `Task-<id>` is known.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let task = corio::Builder::new().name("reader").spawn(async {
    ///         corio::current_task().unwrap().name()
    ///     });
    ///     assert_eq!(task.await.unwrap(), "reader");
    /// });
    /// ```
    pub fn name(&self) -> String {
        let mut st = self.core.state.borrow_mut();
        match slot_mut(&mut st.tasks, self.key) {
            Some(slot) => slot.name(),
            None => format!("Task-{}", self.key.seq),
        }
    }

    /// Where the task is in its life.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::TaskState;
    ///
    /// corio::run(async {
    ///     let task = corio::spawn(std::future::pending::<()>());
    ///     let r = task.task_ref();
    ///     assert_eq!(r.state(), TaskState::Pending);
    ///     r.cancel();
    ///     assert_eq!(r.state(), TaskState::Cancelled);
    /// });
    /// ```
    pub fn state(&self) -> TaskState {
        let mut st = self.core.state.borrow_mut();
        let Some(slot) = slot_mut(&mut st.tasks, self.key) else {
            return TaskState::Finished;
        };
        let cancelled_outcome = matches!(
            slot.stage,
            Stage::Done(slot::Outcome::Err(TaskError::Cancelled))
        );
        if slot.cancelled || cancelled_outcome {
            return TaskState::Cancelled;
        }
        match slot.stage {
            Stage::Pending(_) => TaskState::Pending,
            Stage::Running => TaskState::Running,
            Stage::Done(_) | Stage::Lent => TaskState::Finished,
        }
    }

    /// Is the task finished (including cancelled)?
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let r = corio::spawn(async {}).task_ref();
    ///     assert!(!r.is_done());
    ///     corio::yield_now().await;
    ///     assert!(r.is_done());
    /// });
    /// ```
    pub fn is_done(&self) -> bool {
        self.state_of().is_none_or(|s| s.is_finished())
    }

    /// Is the task cancelled (its future dropped, or about to be)? Once the
    /// task is gone from the loop this is `false`; see [`TaskRef`].
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let r = corio::spawn(std::future::pending::<()>()).task_ref();
    ///     r.cancel();
    ///     assert!(r.is_cancelled());
    /// });
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.state() == TaskState::Cancelled
    }

    /// Cancels the task; see [`Task::cancel`]. Returns `false` if it had
    /// already finished or was already cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let task = corio::spawn(std::future::pending::<()>());
    ///     assert!(task.task_ref().cancel());
    ///     assert!(!task.task_ref().cancel());
    ///     assert!(task.await.unwrap_err().is_cancelled());
    /// });
    /// ```
    pub fn cancel(&self) -> bool {
        let mut st = self.core.state.borrow_mut();
        let st = &mut *st;
        let Some(slot) = slot_mut(&mut st.tasks, self.key) else {
            return false;
        };
        if slot.is_finished() || slot.cancelled {
            return false;
        }
        slot.cancelled = true;
        if !slot.queued {
            slot.queued = true;
            st.ready.push(Runnable::Task(self.key));
        }
        true
    }
}

impl fmt::Display for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.state() {
            TaskState::Pending => "pending",
            TaskState::Running => "running",
            TaskState::Cancelled => "cancelled",
            TaskState::Finished => "finished",
        };
        write!(f, "<Task {} {} {}>", self.name(), self.id(), state)
    }
}

impl fmt::Debug for TaskRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl PartialEq for TaskRef {
    fn eq(&self, other: &TaskRef) -> bool {
        Rc::ptr_eq(&self.core, &other.core) && self.key == other.key
    }
}

impl Eq for TaskRef {}

/// Hashes what `==` compares (the loop and the task), so that task
/// references can key a `HashMap` or fill a `HashSet`.
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let task = corio::spawn(async {});
///     let seen: std::collections::HashSet<_> = [task.task_ref(), task.task_ref()].into();
///     assert_eq!(seen.len(), 1);
/// });
/// ```
impl std::hash::Hash for TaskRef {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        Rc::as_ptr(&self.core).hash(state);
        self.key.hash(state);
    }
}

/// The task being polled right now, or `None` when called from the main
/// future of `run_until_complete`, from a callback, or outside a loop
/// (asyncio's `current_task`, gevent's `getcurrent`).
///
/// # Examples
///
/// ```
/// corio::run(async {
///     assert!(corio::current_task().is_none(), "the main future is not a task");
///     let task = corio::spawn(async { corio::current_task().map(|t| t.id()) });
///     let id = task.id();
///     assert_eq!(task.await, Ok(Some(id)));
/// });
/// ```
#[doc(alias = "getcurrent")]
pub fn current_task() -> Option<TaskRef> {
    context::with_current(|core| {
        core.current_task().map(|key| TaskRef {
            core: Rc::clone(core),
            key,
        })
    })
    .flatten()
}

/// Every task of the running loop that has not finished yet, in slab order
/// (asyncio's `all_tasks`). Empty outside a loop.
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let a = corio::spawn(std::future::pending::<()>());
///     let b = corio::spawn(async {});
///     corio::yield_now().await; // b finishes, a parks
///     let ids: Vec<_> = corio::all_tasks().iter().map(|t| t.id()).collect();
///     assert_eq!(ids, [a.id()]);
///     drop(b);
/// });
/// ```
pub fn all_tasks() -> Vec<TaskRef> {
    context::with_current(|core| {
        let mut st = core.state.borrow_mut();
        st.tasks
            .iter_mut()
            .filter(|(_, slot)| !slot.is_finished())
            .map(|(index, slot)| TaskRef {
                core: Rc::clone(core),
                key: TaskKey {
                    index: index as u32,
                    seq: slot.seq,
                },
            })
            .collect()
    })
    .unwrap_or_default()
}

/// Gives the other tasks a turn: returns `Pending` once, after waking
/// itself (asyncio's `await asyncio.sleep(0)`, gevent's `sleep(0)`).
///
/// The task goes to the back of the ready queue, so everything that was
/// ready runs before it continues. Timers and sockets are looked at after
/// every 61 polls while polls are quick, and about once per millisecond of
/// work while they are slow: a task that computes in chunks between
/// yields delays the others' timers by about one chunk — up to 8 while the
/// loop finds the polls slow (see [`corio::time`](crate::time)).
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// let log = Rc::new(RefCell::new(Vec::new()));
/// corio::run({
///     let log = log.clone();
///     async move {
///         let l = log.clone();
///         let other = corio::spawn(async move { l.borrow_mut().push("other") });
///         corio::yield_now().await;
///         log.borrow_mut().push("main");
///         other.await.unwrap();
///     }
/// });
/// assert_eq!(*log.borrow(), ["other", "main"]);
/// ```
#[doc(alias = "sleep(0)")]
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// The future returned by [`yield_now`].
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let other = corio::spawn(async {});
///     let fut: corio::YieldNow = corio::yield_now();
///     fut.await; // the other task runs meanwhile
///     assert!(other.is_done());
/// });
/// ```
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
