//! One job on a thread pool, and the handle that waits for it.
//!
//! A job is shared by two sides, on different threads: the worker that runs
//! it, and the [`JobHandle`] that waits for it — by `.await` on a loop, or by
//! [`wait`](JobHandle::wait) on a plain thread. What they share is a
//! `Mutex<JobState>` plus a `Condvar` for the plain-thread waiters:
//!
//! ```text
//!   Queued ──worker takes it──► Running ──f returns / panics──► Done(result)
//!     │                                                             │
//!   cancel() / cancel_queued / loop close / Discard policy   handle takes it
//!     ▼                                                             ▼
//!   Done(Err(Cancelled | Rejected))                                Taken
//! ```
//!
//! A job with done callbacks passes through `Lent` on the way to `Done`:
//! the result is lent to the callbacks (on the loop the job was submitted
//! from, else on the finishing thread), and the handle sees it only once
//! they have run — the rule corio's tasks follow too.

use std::fmt;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::channel::Parked;
use crate::handle::Shared;
use crate::report::panic_message;
use crate::waker::wake_parked;

/// Why a job gave no output.
///
/// # Examples
///
/// ```
/// use corio::pool::{JobError, ThreadPool};
///
/// let pool = ThreadPool::new(1);
/// let job = pool.submit(|| panic!("boom")).unwrap();
/// let err = job.wait().unwrap_err();
/// assert_eq!(err, JobError::Panicked("boom".to_string()));
/// assert_eq!(err.to_string(), "the job panicked: boom");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum JobError {
    /// The job was cancelled before it started: by
    /// [`JobHandle::cancel`], by
    /// [`ThreadPool::cancel_queued`](super::ThreadPool::cancel_queued), or
    /// because the loop whose default pool queued it closed. (A coroutine
    /// from [`LoopHandle::run_coroutine_threadsafe`](crate::LoopHandle::run_coroutine_threadsafe)
    /// is cancelled by its handle even while it runs, and when its loop
    /// closes before it ends.)
    Cancelled,
    /// The pool did not take this job: it was full and its policy
    /// dropped the job (`Discard`, `DiscardOldest`; `Abort` in
    /// [`ThreadPool::map`](super::ThreadPool::map)), or — in `map` — it
    /// was shut down, or no thread could be started for it and none was
    /// running. (For
    /// [`LoopHandle::run_coroutine_threadsafe`](crate::LoopHandle::run_coroutine_threadsafe):
    /// the loop was closed already.)
    Rejected,
    /// The job panicked, with this message. Its worker thread survived.
    Panicked(String),
}

impl JobError {
    /// Was the job cancelled?
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(corio::pool::JobError::Cancelled.is_cancelled());
    /// ```
    pub fn is_cancelled(&self) -> bool {
        matches!(self, JobError::Cancelled)
    }

    /// Did the pool refuse the job?
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(corio::pool::JobError::Rejected.is_rejected());
    /// ```
    pub fn is_rejected(&self) -> bool {
        matches!(self, JobError::Rejected)
    }

    /// Did the job panic?
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corio::pool::ThreadPool::new(1);
    /// let err = pool.submit(|| panic!("oops")).unwrap().wait().unwrap_err();
    /// assert!(err.is_panic());
    /// ```
    pub fn is_panic(&self) -> bool {
        matches!(self, JobError::Panicked(_))
    }
}

/// For `?` in functions that return `io::Result`: kind `Other`, with the
/// `JobError` inside. (Not `Interrupted` for a cancelled job: std's I/O
/// loops retry on that kind, and a cancelled job stays cancelled.)
///
/// # Examples
///
/// ```
/// fn checked() -> std::io::Result<u32> {
///     let pool = corio::pool::ThreadPool::new(1);
///     Ok(pool.submit(|| 7).unwrap().wait()?)
/// }
/// assert_eq!(checked().unwrap(), 7);
/// let err = std::io::Error::from(corio::pool::JobError::Cancelled);
/// assert_eq!(err.kind(), std::io::ErrorKind::Other);
/// ```
impl From<JobError> for std::io::Error {
    fn from(err: JobError) -> std::io::Error {
        std::io::Error::other(err)
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobError::Cancelled => f.write_str(
                "the job was cancelled (before it started; a coroutine on a loop, also while it ran)",
            ),
            JobError::Rejected => f.write_str(
                "the job was not taken: the pool was full (its rejection policy) or shut down, \
                 or the loop was closed",
            ),
            JobError::Panicked(message) => write!(f, "the job panicked: {message}"),
        }
    }
}

impl std::error::Error for JobError {}

/// What a job's handle gets.
///
/// # Examples
///
/// ```
/// let pool = corio::pool::ThreadPool::new(1);
/// let result: corio::pool::JobResult<u8> = pool.submit(|| 7).unwrap().wait();
/// assert_eq!(result, Ok(7));
/// ```
pub type JobResult<T> = Result<T, JobError>;

type DoneCallback<T> = Box<dyn FnOnce(&JobResult<T>) + Send>;

enum Stage<T> {
    Queued,
    Running,
    /// Finished; the result is with the done callbacks right now.
    Lent,
    Done(JobResult<T>),
    Taken,
}

struct JobState<T> {
    stage: Stage<T>,
    /// Whoever awaits the handle on a loop.
    parked: Parked,
    callbacks: Vec<DoneCallback<T>>,
    /// A job that can be stopped while it runs — a coroutine on a loop
    /// (`threadsafe.rs`), never a closure on a thread — has this: it tells
    /// the running job to stop. Whoever takes it ends the job: a cancel,
    /// or the job itself when it finishes first.
    stop: Option<Box<dyn FnOnce() + Send>>,
}

/// The half of a job that both threads see.
pub(crate) struct JobShared<T> {
    state: Mutex<JobState<T>>,
    /// Signalled when the result is there (for `wait`).
    done: Condvar,
    /// The loop the job was submitted from: its done callbacks run there.
    home: Option<Arc<Shared>>,
    /// The home loop was told the outcome is handed over (once).
    delivered: std::sync::atomic::AtomicBool,
}

impl<T> JobShared<T> {
    fn lock(&self) -> MutexGuard<'_, JobState<T>> {
        // No invariant of the state can be broken half-way by a panic (user
        // code never runs under the lock): a poisoned lock is still good.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tells the home loop that this job will not wake it any more by
    /// itself (what it woke or queued, the loop sees).
    fn delivered(&self) {
        let first = !self
            .delivered
            .swap(true, std::sync::atomic::Ordering::AcqRel);
        if let (Some(home), true) = (&self.home, first) {
            home.job_delivered();
        }
    }
}

impl<T: Send + 'static> JobShared<T> {
    pub(crate) fn new(home: Option<Arc<Shared>>) -> Arc<JobShared<T>> {
        if let Some(home) = &home {
            home.job_submitted();
        }
        Arc::new(JobShared {
            state: Mutex::new(JobState {
                stage: Stage::Queued,
                parked: Parked::default(),
                callbacks: Vec::new(),
                stop: None,
            }),
            done: Condvar::new(),
            home,
            delivered: std::sync::atomic::AtomicBool::new(false),
        })
    }

    /// The worker is about to run the job: `false` if it was cancelled (or
    /// rejected) meanwhile, and must not run.
    pub(crate) fn start(&self) -> bool {
        let mut st = self.lock();
        if matches!(st.stage, Stage::Queued) {
            st.stage = Stage::Running;
            true
        } else {
            false
        }
    }

    /// Ends a job that has not started with `err` — or one that runs and
    /// can be stopped (it has a `stop`, which is called); `false` if it
    /// had already started (unstoppably) or ended.
    pub(crate) fn end_unstarted(self: &Arc<Self>, err: JobError) -> bool {
        let stop = {
            let mut st = self.lock();
            let stoppable = matches!(st.stage, Stage::Running) && st.stop.is_some();
            if !matches!(st.stage, Stage::Queued) && !stoppable {
                return false;
            }
            st.stage = Stage::Running;
            st.stop.take()
        };
        self.complete(Err(err));
        if let Some(stop) = stop {
            stop(); // outside the lock
        }
        true
    }

    /// Makes a queued job stoppable while it runs: a cancel calls `stop`.
    pub(crate) fn set_stop(&self, stop: Box<dyn FnOnce() + Send>) {
        self.lock().stop = Some(stop);
    }

    /// A stoppable job finished by itself: delivers `result`, unless a
    /// cancel ended the job first — then `result` is given back.
    pub(crate) fn finish_stoppable(self: &Arc<Self>, result: JobResult<T>) -> Option<JobResult<T>> {
        let stop = {
            let mut st = self.lock();
            match st.stop.take() {
                Some(stop) if matches!(st.stage, Stage::Running) => stop,
                other => {
                    st.stop = other;
                    return Some(result);
                }
            }
        };
        drop(stop); // not called: nothing to stop
        self.complete(result);
        None
    }

    /// Stores the result, or lends it to the done callbacks first.
    pub(crate) fn complete(self: &Arc<Self>, result: JobResult<T>) {
        let callbacks = {
            let mut st = self.lock();
            if st.callbacks.is_empty() {
                self.publish(st, result);
                return self.delivered();
            }
            st.stage = Stage::Lent;
            std::mem::take(&mut st.callbacks)
        };
        self.lend(callbacks, result);
        self.delivered();
    }

    /// Runs `callbacks` with the result — on the home loop if there is one
    /// still running, else right here — then publishes it.
    fn lend(self: &Arc<Self>, callbacks: Vec<DoneCallback<T>>, result: JobResult<T>) {
        let lent = Lent {
            job: Arc::clone(self),
            callbacks_and_result: Some((callbacks, result)),
        };
        let run = move || drop(lent);
        match &self.home {
            Some(home) => {
                if let Err(run) = home.push_remote_callback(Box::new(run)) {
                    run(); // the loop is gone: run them here, lose nothing
                }
            }
            None => run(),
        }
    }

    fn run_callbacks(self: &Arc<Self>, mut callbacks: Vec<DoneCallback<T>>, result: JobResult<T>) {
        loop {
            for callback in callbacks {
                if let Err(payload) = catch_unwind(AssertUnwindSafe(|| callback(&result))) {
                    // Like any callback's panic: to the exception handler
                    // of the loop it ran on, else (a worker) on stderr.
                    let message = format!(
                        "{} (a thread-pool job's done callback)",
                        panic_message(&*payload)
                    );
                    crate::contain::drop_contained(payload);
                    crate::context::report_here(crate::report::Report::new(
                        crate::report::ReportKind::CallbackPanic,
                        message,
                        None,
                    ));
                }
            }
            let st = self.lock();
            if st.callbacks.is_empty() {
                return self.publish(st, result);
            }
            // Added while these ran: they see the result too.
            let mut st = st;
            callbacks = std::mem::take(&mut st.callbacks);
        }
    }

    /// Makes the result visible to the handle and wakes whoever waits.
    fn publish(&self, mut st: MutexGuard<'_, JobState<T>>, result: JobResult<T>) {
        st.stage = Stage::Done(result);
        let waker = st.parked.take();
        drop(st);
        self.done.notify_all();
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> Drop for JobShared<T> {
    fn drop(&mut self) {
        // A job dropped unrun (refused by its pool, say) delivers nothing.
        if !*self.delivered.get_mut() {
            if let Some(home) = &self.home {
                home.job_delivered();
            }
        }
        // A result nobody took, and callbacks that never ran, go with the
        // last holder — the worker, or the handle if the job finished
        // first (or just as the handle went). Their destructors are user
        // code: contained, so that a panic in one never unwinds into a
        // worker or whoever dropped the handle. (tokio's `JoinHandle` drops
        // an untaken output the same way.)
        let st = self.state.get_mut().unwrap_or_else(|e| e.into_inner());
        let stage = std::mem::replace(&mut st.stage, Stage::Taken);
        let callbacks = std::mem::take(&mut st.callbacks);
        let waker = st.parked.take();
        if matches!(stage, Stage::Done(_)) || !callbacks.is_empty() || waker.is_some() {
            crate::contain::drop_contained((stage, callbacks, waker));
        }
    }
}

/// A result lent to done callbacks on its way to a loop. Dropping it runs
/// them and publishes the result — when the loop runs it, or, if the loop
/// closes with it still queued, wherever it is dropped — so a closing loop
/// never leaves a handle waiting forever.
struct Lent<T: Send + 'static> {
    job: Arc<JobShared<T>>,
    callbacks_and_result: Option<(Vec<DoneCallback<T>>, JobResult<T>)>,
}

impl<T: Send + 'static> Drop for Lent<T> {
    fn drop(&mut self) {
        if let Some((callbacks, result)) = self.callbacks_and_result.take() {
            self.job.run_callbacks(callbacks, result);
        }
    }
}

/// The work a pool queues: a job's function with its shared half, type
/// erased so that one queue holds jobs of every output type.
pub(crate) trait Work: Send {
    /// Runs the job on this thread (unless it was cancelled meanwhile).
    fn run(self: Box<Self>);
    /// Ends the job without running it; `true` if this call ended it,
    /// `false` if it had ended already (cancelled through its handle).
    fn end(self: Box<Self>, err: JobError) -> bool;
    /// Has the job ended while still queued (cancelled)?
    fn has_ended(&self) -> bool;
}

pub(crate) struct Job<F, T> {
    pub(crate) f: F,
    pub(crate) shared: Arc<JobShared<T>>,
}

impl<F, T> Work for Job<F, T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    fn run(self: Box<Self>) {
        let Job { f, shared } = *self;
        if !shared.start() {
            return;
        }
        let result = catch_unwind(AssertUnwindSafe(f)).map_err(|payload| {
            let message = panic_message(&*payload);
            crate::contain::drop_contained(payload);
            JobError::Panicked(message)
        });
        shared.complete(result);
    }

    fn end(self: Box<Self>, err: JobError) -> bool {
        let Job { f, shared } = *self;
        let ended_here = shared.end_unstarted(err);
        crate::contain::drop_contained(f);
        ended_here
    }

    fn has_ended(&self) -> bool {
        !matches!(self.shared.lock().stage, Stage::Queued)
    }
}

/// A job on a [`ThreadPool`](super::ThreadPool) — or a coroutine a thread
/// runs on a loop ([`LoopHandle::run_coroutine_threadsafe`](crate::LoopHandle::run_coroutine_threadsafe)):
/// await it on a loop, or [`wait`](JobHandle::wait) for it on a plain
/// thread.
///
/// The handle is `Send`, so it can go to another thread. Dropping it
/// detaches the job (it still runs); a result nobody takes is dropped on
/// the worker, or with the handle if the job finished first — either way a
/// panic in its destructor is reported, not propagated (to the exception
/// handler of a loop running on that thread, else on stderr). Awaiting
/// gives the job's [`JobResult`].
///
/// # Examples
///
/// ```
/// use corio::pool::ThreadPool;
///
/// let pool = ThreadPool::new(2);
/// let job = pool.submit(|| 6 * 7).unwrap();
/// // On a loop:
/// assert_eq!(corio::run(job), Ok(42));
/// // Or from a plain thread:
/// let job = pool.submit(|| "done").unwrap();
/// assert_eq!(std::thread::spawn(move || job.wait()).join().unwrap(), Ok("done"));
/// ```
#[must_use = "dropping a JobHandle detaches the job; await it or wait() for it"]
pub struct JobHandle<T> {
    shared: Arc<JobShared<T>>,
}

impl<T: Send + 'static> JobHandle<T> {
    pub(crate) fn new(shared: Arc<JobShared<T>>) -> JobHandle<T> {
        JobHandle { shared }
    }

    /// Has the job ended — with an output, a panic, cancelled or rejected —
    /// and is its result there for this handle? Done callbacks see it
    /// first: while they run (on the loop the job was submitted from, which
    /// must be running for that), this is false, so a `wait` after it
    /// returns at once. A callback added to a finished job lends it out
    /// again.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corio::pool::ThreadPool::new(1);
    /// let job = pool.submit(|| 1).unwrap();
    /// while !job.is_done() {
    ///     std::thread::yield_now();
    /// }
    /// assert_eq!(job.wait(), Ok(1));
    /// ```
    pub fn is_done(&self) -> bool {
        !matches!(
            self.shared.lock().stage,
            Stage::Queued | Stage::Running | Stage::Lent
        )
    }

    /// Cancels the job if it has not started: it never runs, and its handle
    /// and done callbacks get [`JobError::Cancelled`]. Returns whether it
    /// did. A job that is already running cannot be stopped (threads cannot
    /// be interrupted safely): it runs to its end, and `cancel` returns
    /// `false` — as does a second `cancel` (Python's returns `True` again).
    /// The exception is a coroutine from
    /// [`LoopHandle::run_coroutine_threadsafe`](crate::LoopHandle::run_coroutine_threadsafe):
    /// cancelling it while it runs returns `true`, the handle gets
    /// `Cancelled` at once, and its loop drops the future at its next turn
    /// (as asyncio cancels the task behind such a future).
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::pool::{JobError, ThreadPool};
    /// use std::sync::mpsc;
    ///
    /// let pool = ThreadPool::new(1);
    /// let (tx, rx) = mpsc::channel::<()>();
    /// let busy = pool.submit(move || rx.recv().ok()).unwrap(); // holds the only thread
    /// let queued = pool.submit(|| "never").unwrap();
    /// assert!(queued.cancel());
    /// tx.send(()).unwrap();
    /// assert_eq!(queued.wait(), Err(JobError::Cancelled));
    /// assert_eq!(busy.wait(), Ok(Some(())));
    /// ```
    pub fn cancel(&self) -> bool {
        self.shared.end_unstarted(JobError::Cancelled)
    }

    /// Adds a callback that runs once the job has ended, with its result
    /// (`concurrent.futures.Future.add_done_callback`).
    ///
    /// Where it runs: on the event loop the job was submitted from, if it
    /// was submitted on a thread running a loop (from a task, a callback or
    /// the main future; it is queued there like `call_soon_threadsafe`) —
    /// except for a coroutine from
    /// [`LoopHandle::run_coroutine_threadsafe`](crate::LoopHandle::run_coroutine_threadsafe),
    /// whose callbacks run on the loop that ran it (or on the thread that
    /// cancels it);
    /// otherwise on the thread that finished the job — or, if the job had
    /// already ended, right here in the caller. If that loop has been
    /// closed meanwhile, the callback runs on the finishing thread instead
    /// (here in the caller, for a job that had already ended), so it is
    /// never lost. The handle gets the
    /// result only after the callbacks ran. A panicking callback is
    /// contained and reported as any callback's panic is: to the exception
    /// handler of the loop it ran on ([`ReportKind::CallbackPanic`](crate::ReportKind::CallbackPanic)),
    /// or on stderr where it ran on a worker. Returns `false`, dropping the
    /// callback, if the handle has already taken the result. Callbacks are
    /// `Send` even when they will run on the loop's thread, since the job
    /// may end on a worker: to touch loop-only state (`Rc`), `.await` the
    /// handle in a task instead.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::pool::ThreadPool;
    /// use std::sync::mpsc;
    ///
    /// let pool = ThreadPool::new(1);
    /// let (tx, rx) = mpsc::channel();
    /// let job = pool.submit(|| 2 + 2).unwrap();
    /// job.add_done_callback(move |result| tx.send(result.clone()).unwrap());
    /// assert_eq!(job.wait(), Ok(4));
    /// assert_eq!(rx.recv().unwrap(), Ok(4));
    /// ```
    pub fn add_done_callback<F>(&self, callback: F) -> bool
    where
        F: FnOnce(&JobResult<T>) + Send + 'static,
    {
        let mut st = self.shared.lock();
        match &st.stage {
            Stage::Taken => false,
            Stage::Queued | Stage::Running | Stage::Lent => {
                st.callbacks.push(Box::new(callback));
                true
            }
            Stage::Done(_) => {
                let Stage::Done(result) = std::mem::replace(&mut st.stage, Stage::Lent) else {
                    unreachable!()
                };
                drop(st);
                self.shared.lend(vec![Box::new(callback)], result);
                true
            }
        }
    }

    /// Blocks this thread until the job has ended, and returns its result.
    ///
    /// For plain threads. On a thread that is running a corio loop it
    /// panics instead of blocking the loop: `.await` the handle there. (A
    /// job submitted on a loop's thread, with done callbacks, delivers its
    /// result after they ran on that loop: that loop must keep running, or
    /// be closed, for `wait` to return.)
    ///
    /// # Panics
    ///
    /// On a thread that is running a corio loop, and if the result was
    /// already taken (the handle was awaited to the end elsewhere).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corio::pool::ThreadPool::new(1);
    /// let job = pool.submit(|| "hello").unwrap();
    /// assert_eq!(job.wait(), Ok("hello"));
    /// ```
    #[track_caller]
    pub fn wait(self) -> JobResult<T> {
        refuse_on_loop("JobHandle::wait", "the handle");
        let mut st = self.shared.lock();
        loop {
            if let Some(result) = take_done(&mut st) {
                return result;
            }
            if matches!(st.stage, Stage::Taken) {
                panic!("corio: JobHandle::wait after the result was taken");
            }
            st = self.shared.done.wait(st).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Like [`wait`](JobHandle::wait), but gives up after `timeout`:
    /// `None` then, and the handle can be waited on (or awaited) again.
    ///
    /// # Panics
    ///
    /// As [`wait`](JobHandle::wait): on a loop thread, or once the result
    /// was taken.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let pool = corio::pool::ThreadPool::new(1);
    /// let mut job = pool.submit(|| std::thread::sleep(Duration::from_millis(50))).unwrap();
    /// assert_eq!(job.wait_timeout(Duration::from_millis(1)), None);
    /// assert_eq!(job.wait_timeout(Duration::from_secs(10)), Some(Ok(())));
    /// ```
    #[track_caller]
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<JobResult<T>> {
        refuse_on_loop("JobHandle::wait_timeout", "the handle");
        let deadline = Instant::now().checked_add(timeout);
        let mut st = self.shared.lock();
        loop {
            if let Some(result) = take_done(&mut st) {
                return Some(result);
            }
            if matches!(st.stage, Stage::Taken) {
                panic!("corio: JobHandle::wait_timeout after the result was taken");
            }
            let left = match deadline {
                Some(deadline) => deadline.saturating_duration_since(Instant::now()),
                None => Duration::MAX,
            };
            if left.is_zero() {
                return None;
            }
            st = match self.shared.done.wait_timeout(st, left) {
                Ok((st, _)) => st,
                Err(e) => e.into_inner().0,
            };
        }
    }
}

/// Takes a published result out of the state.
fn take_done<T>(st: &mut JobState<T>) -> Option<JobResult<T>> {
    if !matches!(st.stage, Stage::Done(_)) {
        return None;
    }
    match std::mem::replace(&mut st.stage, Stage::Taken) {
        Stage::Done(result) => Some(result),
        _ => unreachable!(),
    }
}

/// Panics if a corio loop runs on this thread: `what` would block it
/// (`.await` `instead` there).
#[track_caller]
pub(super) fn refuse_on_loop(what: &str, instead: &str) {
    if crate::context::with_current(|_| ()).is_some() {
        panic!(
            "{what} would block the event loop running on this thread; `.await` {instead} instead"
        );
    }
}

impl<T: Send + 'static> Future for JobHandle<T> {
    type Output = JobResult<T>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<JobResult<T>> {
        let mut st = self.shared.lock();
        if let Some(result) = take_done(&mut st) {
            return Poll::Ready(result);
        }
        if matches!(st.stage, Stage::Taken) {
            panic!("corio: a JobHandle was polled after it returned its result");
        }
        let replaced = st.parked.park(cx);
        drop(st);
        drop(replaced);
        Poll::Pending
    }
}

impl<T> Drop for JobHandle<T> {
    /// The waker a poll parked goes with the handle (the job runs on,
    /// detached): kept, it would count as a way to wake its task until the
    /// job ended, hiding a hang from the loop's "would block forever"
    /// check. Dropped on another thread, it is woken instead, as a dropped
    /// channel receiver's is (see `waker::wake_parked`).
    fn drop(&mut self) {
        let (parked, silent, stop) = {
            let mut st = self.shared.lock();
            // Nobody can cancel a running coroutine any more: its real
            // `stop` goes (the task then stops listening for it, and its
            // waker is no longer held there, so a loop with nothing else
            // to do can still tell it would block forever). A no-op stays
            // in its place: the job is still stoppable by its loop's close.
            let state = &mut *st;
            let stop = match &mut state.stop {
                Some(stop) if matches!(state.stage, Stage::Queued | Stage::Running) => {
                    Some(std::mem::replace(stop, Box::new(|| ())))
                }
                _ => None,
            };
            // With the handle gone and no done callback waiting, nothing
            // the job does from now on reaches its home loop (no callback
            // can be added any more): it has nothing left to deliver.
            // (Once it has ended, `complete` says so itself, after it has
            // queued what it had to.)
            let silent =
                st.callbacks.is_empty() && matches!(st.stage, Stage::Queued | Stage::Running);
            (st.parked.leave(), silent, stop)
        };
        drop(stop); // outside the lock
        wake_parked(parked);
        if silent {
            self.shared.delivered();
        }
    }
}

impl<T> fmt::Debug for JobHandle<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match self.shared.state.lock() {
            Ok(st) => match st.stage {
                Stage::Queued => "queued",
                Stage::Running => "running",
                Stage::Lent => "done, callbacks running",
                Stage::Done(_) => "done",
                Stage::Taken => "taken",
            },
            Err(_) => "?",
        };
        write!(f, "JobHandle({state})")
    }
}
