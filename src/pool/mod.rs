//! Blocking work on OS threads: [`ThreadPool`], [`spawn_blocking`], and
//! channels from plain threads to tasks.
//!
//! A task must never block its loop: one `std::thread::sleep`, one blocking
//! file read or one long computation in a task stops every other task on
//! the loop. Such work goes to a thread pool instead, and the loop awaits
//! its result — asyncio's `to_thread` / `run_in_executor`, and the seeds'
//! `ThreadPoolExecutor`, `threadpool` and `multiprocessing.dummy.Pool`.
//!
//! * [`spawn_blocking`] runs a closure on the loop's default pool and gives
//!   a [`Task`](crate::Task): the one-line answer for "this call blocks".
//! * [`ThreadPool`] is the pool itself, with Java's knobs (seed 003): core
//!   and maximum threads, keep-alive for the extra ones, a bounded queue,
//!   and a [`Policy`] for when all of them are full.
//!   [`submit`](ThreadPool::submit) gives a [`JobHandle`], awaited on a loop
//!   or [`wait`](JobHandle::wait)ed on from any thread.
//! * [`channel`] carries values from plain threads to tasks.
//! * [`LoopHandle::run_coroutine_threadsafe`](crate::LoopHandle::run_coroutine_threadsafe)
//!   goes the other way: a plain thread runs a coroutine on a loop and
//!   waits for its result on the same [`JobHandle`].
//!
//! No polling anywhere: a finished job wakes the task awaiting it through
//! the task's waker, which — from another thread — queues the wake for the
//! loop and pokes the loop's `mio::Waker`, so a loop asleep in `mio::Poll`
//! wakes at once.
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//!
//! corio::run(async {
//!     // Blocking calls go to a thread; the loop keeps running meanwhile.
//!     let slow = corio::spawn_blocking(|| {
//!         std::thread::sleep(Duration::from_millis(20));
//!         "read the file"
//!     });
//!     corio::time::sleep(Duration::from_millis(1)).await; // still responsive
//!     assert_eq!(slow.await, Ok("read the file"));
//! });
//! ```

pub(crate) mod blocking;
pub mod channel;
mod job;
mod threadsafe;

pub use blocking::spawn_blocking;
pub use job::{JobError, JobHandle, JobResult};

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use job::{Job, JobShared, Work};

/// What [`ThreadPool::submit`] does when every thread is busy, the queue is
/// full and no more threads may start (Java's `RejectedExecutionHandler`).
///
/// # Examples
///
/// ```
/// use corio::pool::{Policy, ThreadPool};
///
/// let pool = ThreadPool::builder().max_threads(1).queue_capacity(0)
///     .policy(Policy::CallerRuns).build();
/// # let (release, gate) = std::sync::mpsc::channel::<()>();
/// # let (started_tx, started) = std::sync::mpsc::channel();
/// # let busy = pool.submit(move || { started_tx.send(()).unwrap(); gate.recv().ok() }).unwrap();
/// # started.recv().unwrap(); // the only thread is busy now
/// // Full (its thread busy, no queue): the job runs right here, in `submit`.
/// let here = pool.submit(|| std::thread::current().id()).unwrap();
/// assert_eq!(here.wait(), Ok(std::thread::current().id()));
/// # release.send(()).unwrap();
/// # busy.wait().unwrap();
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Policy {
    /// `submit` returns `Err(Rejected::Full)` (Java's `AbortPolicy`). The
    /// default.
    #[default]
    Abort,
    /// The new job is dropped without running; its handle completes with
    /// [`JobError::Rejected`] (Java's `DiscardPolicy`, which would leave it
    /// pending forever).
    Discard,
    /// The oldest queued job is dropped — its handle completes with
    /// [`JobError::Rejected`] — and the new one is queued in its place
    /// (Java's `DiscardOldestPolicy`). With no queue, like `Discard`.
    DiscardOldest,
    /// The job runs right away on the thread that called `submit` (Java's
    /// `CallerRunsPolicy`): back-pressure, since the submitter is busy
    /// meanwhile. On a loop thread that blocks the loop — use it from plain
    /// threads — and a job that waits for its own submitter never returns.
    CallerRuns,
}

/// Why [`ThreadPool::submit`] refused a job.
///
/// # Examples
///
/// ```
/// use corio::pool::{Rejected, ThreadPool};
///
/// let pool = ThreadPool::new(1);
/// pool.shutdown(true);
/// assert_eq!(pool.submit(|| ()).unwrap_err(), Rejected::ShutDown);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejected {
    /// Every thread was busy and the queue full ([`Policy::Abort`]).
    Full,
    /// The pool has been shut down.
    ShutDown,
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejected::Full => {
                f.write_str("job rejected: every thread is busy and the queue is full")
            }
            Rejected::ShutDown => f.write_str("job rejected: the pool has been shut down"),
        }
    }
}

impl std::error::Error for Rejected {}

/// Configures a [`ThreadPool`]; see [`ThreadPool::builder`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use corio::pool::{Policy, ThreadPool};
///
/// let pool = ThreadPool::builder()
///     .core_threads(2)
///     .max_threads(4)
///     .keep_alive(Duration::from_secs(30))
///     .queue_capacity(100)
///     .policy(Policy::DiscardOldest)
///     .thread_name("crawler")
///     .build();
/// assert_eq!(pool.submit(|| 1).unwrap().wait(), Ok(1));
/// ```
#[derive(Debug, Clone)]
pub struct Builder {
    core: usize,
    max: Option<usize>,
    keep_alive: Duration,
    capacity: usize,
    policy: Policy,
    name: String,
}

impl Builder {
    /// Threads kept even when idle (Java's `corePoolSize`; default 1). A
    /// core thread starts for a job when all running ones are busy, before
    /// anything is queued.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Barrier};
    ///
    /// let pool = corio::pool::ThreadPool::builder().core_threads(2).build();
    /// let all_in = Arc::new(Barrier::new(3)); // two jobs and this thread
    /// for _ in 0..2 {
    ///     let all_in = all_in.clone();
    ///     pool.submit(move || { all_in.wait(); }).unwrap();
    /// }
    /// all_in.wait(); // both jobs run at once: two threads
    /// assert_eq!(pool.threads(), 2);
    /// ```
    pub fn core_threads(mut self, n: usize) -> Builder {
        self.core = n;
        self
    }

    /// The most threads at once (Java's `maximumPoolSize`; default: the
    /// core count). Threads beyond the core start only when the queue is
    /// full — or, with no core threads, for a job that finds no thread
    /// running (it would wait in the queue for ever; Java starts one then
    /// too). Values below the core count (or 0) are raised to it, and to 1.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Barrier};
    /// use corio::pool::{Rejected, ThreadPool};
    ///
    /// let pool = ThreadPool::builder().core_threads(1).max_threads(2).queue_capacity(0).build();
    /// let all_in = Arc::new(Barrier::new(3)); // two jobs and this thread
    /// let release = Arc::new(Barrier::new(3));
    /// let jobs: Vec<_> = (0..2)
    ///     .map(|_| {
    ///         let (all_in, release) = (all_in.clone(), release.clone());
    ///         pool.submit(move || { all_in.wait(); release.wait(); }).unwrap()
    ///     })
    ///     .collect();
    /// all_in.wait();
    /// assert_eq!(pool.threads(), 2); // one beyond the core, as no queue could take the job
    /// assert_eq!(pool.submit(|| ()).unwrap_err(), Rejected::Full); // no third
    /// release.wait();
    /// # for job in jobs { job.wait().unwrap(); }
    /// ```
    pub fn max_threads(mut self, n: usize) -> Builder {
        self.max = Some(n);
        self
    }

    /// How long a thread beyond the core count may idle before it exits
    /// (Java's `keepAliveTime`; default 10 s).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::{Arc, Barrier};
    /// use std::time::{Duration, Instant};
    ///
    /// let pool = corio::pool::ThreadPool::builder()
    ///     .core_threads(1).max_threads(2).queue_capacity(0)
    ///     .keep_alive(Duration::from_millis(20))
    ///     .build();
    /// let all_in = Arc::new(Barrier::new(3));
    /// for _ in 0..2 {
    ///     let all_in = all_in.clone();
    ///     pool.submit(move || { all_in.wait(); }).unwrap();
    /// }
    /// all_in.wait();
    /// assert_eq!(pool.threads(), 2);
    /// let started = Instant::now();
    /// while pool.threads() > 1 && started.elapsed() < Duration::from_secs(5) {
    ///     std::thread::sleep(Duration::from_millis(5));
    /// }
    /// assert_eq!(pool.threads(), 1); // the one beyond the core left after 20 ms idle
    /// ```
    pub fn keep_alive(mut self, keep_alive: Duration) -> Builder {
        self.keep_alive = keep_alive;
        self
    }

    /// How many jobs may wait for a thread (default: no bound). `0` means
    /// no queue at all: a job is handed to a free thread or not taken.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::pool::{Rejected, ThreadPool};
    ///
    /// let pool = ThreadPool::builder().queue_capacity(1).build();
    /// # let (release, gate) = std::sync::mpsc::channel::<()>();
    /// # let (started_tx, started) = std::sync::mpsc::channel();
    /// # let busy = pool.submit(move || { started_tx.send(()).unwrap(); gate.recv().ok() }).unwrap();
    /// # started.recv().unwrap(); // the only thread is busy now
    /// let queued = pool.submit(|| 2).unwrap(); // waits in the queue
    /// assert_eq!(pool.queued(), 1);
    /// assert_eq!(pool.submit(|| 3).unwrap_err(), Rejected::Full); // no room for a second
    /// # release.send(()).unwrap();
    /// assert_eq!(queued.wait(), Ok(2));
    /// ```
    pub fn queue_capacity(mut self, capacity: usize) -> Builder {
        self.capacity = capacity;
        self
    }

    /// What to do with a job when the pool is full (default
    /// [`Policy::Abort`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::pool::{JobError, Policy, ThreadPool};
    ///
    /// let pool = ThreadPool::builder().queue_capacity(0).policy(Policy::Discard).build();
    /// # let (release, gate) = std::sync::mpsc::channel::<()>();
    /// # let (started_tx, started) = std::sync::mpsc::channel();
    /// # let busy = pool.submit(move || { started_tx.send(()).unwrap(); gate.recv().ok() }).unwrap();
    /// # started.recv().unwrap(); // the only thread is busy now
    /// let dropped = pool.submit(|| "never").unwrap(); // full: taken, but not run
    /// assert_eq!(dropped.wait(), Err(JobError::Rejected));
    /// # release.send(()).unwrap();
    /// ```
    pub fn policy(mut self, policy: Policy) -> Builder {
        self.policy = policy;
        self
    }

    /// The prefix of the threads' names: `<prefix>-1`, `<prefix>-2`, ...
    /// (default `corio-pool`). Linux keeps the first 15 bytes of a name
    /// for `ps`, `top -H`, `perf` and debuggers: with a longer prefix they
    /// show every thread under the same name.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corio::pool::ThreadPool::builder().thread_name("io").build();
    /// let name = pool.submit(|| std::thread::current().name().map(String::from)).unwrap().wait();
    /// assert_eq!(name, Ok(Some("io-1".to_string())));
    /// ```
    pub fn thread_name(mut self, prefix: impl Into<String>) -> Builder {
        // A NUL cannot be in a thread name (std would panic at spawn).
        self.name = prefix.into().replace('\0', "");
        self
    }

    /// Builds the pool. No thread starts before the first job.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corio::pool::ThreadPool::builder().build();
    /// assert_eq!(pool.threads(), 0); // none yet
    /// assert_eq!(pool.submit(|| 6 * 7).unwrap().wait(), Ok(42));
    /// assert_eq!(pool.threads(), 1);
    /// ```
    pub fn build(self) -> ThreadPool {
        let core = self.core;
        let max = self.max.unwrap_or(core).max(core).max(1);
        ThreadPool {
            inner: Arc::new(Inner {
                config: Config {
                    core,
                    max,
                    keep_alive: self.keep_alive,
                    capacity: self.capacity,
                    policy: self.policy,
                    name: self.name,
                },
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    threads: 0,
                    idle: 0,
                    started: 0,
                    shut_down: false,
                    workers: Vec::new(),
                    ids: Vec::new(),
                    detached: false,
                    no_wait: false,
                    shutdown_callers: Vec::new(),
                    joining: 0,
                }),
                work: Condvar::new(),
                exited: Condvar::new(),
            }),
        }
    }
}

struct Config {
    core: usize,
    max: usize,
    keep_alive: Duration,
    capacity: usize,
    policy: Policy,
    name: String,
}

struct State {
    queue: VecDeque<Box<dyn Work>>,
    /// Threads alive.
    threads: usize,
    /// Threads waiting for work. Each queued job is meant for one of them
    /// while `idle > queue.len()`.
    idle: usize,
    /// Threads ever started (for their names).
    started: usize,
    shut_down: bool,
    /// Join handles of the threads started (finished ones are pruned).
    workers: Vec<JoinHandle<()>>,
    /// Ids of the threads alive (to know whether a caller is one of them).
    ids: Vec<std::thread::ThreadId>,
    /// Shut down with its threads let go: nobody waits for them.
    detached: bool,
    /// `shutdown(false)` was called: dropping the pool does not wait.
    no_wait: bool,
    /// Pool threads whose job called `shutdown(true)`, until they exit:
    /// such a call cannot wait for them (nor they for each other — two of
    /// them may go on to wait for one another).
    shutdown_callers: Vec<std::thread::ThreadId>,
    /// Join handles taken out of `workers` by an outside `shutdown(true)`
    /// and not joined yet: another outside caller waits for those too.
    joining: usize,
}

struct Inner {
    config: Config,
    state: Mutex<State>,
    /// Signalled when a job is queued for an idle thread, and at shutdown.
    work: Condvar,
    /// Signalled when a thread exits.
    exited: Condvar,
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Jobs never run under the lock, so a panic cannot leave the state
        // half-changed: a poisoned lock is still good.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A pool of OS threads for blocking work (seed 003's Java
/// `ThreadPoolExecutor`, Python's `ThreadPoolExecutor`).
///
/// A new job goes, in this order (seed 003, exactly):
/// 1. to an idle thread, or to a new core thread if fewer than
///    `core_threads` run;
/// 2. else to the queue, if it has room and some thread runs (with
///    `core_threads(0)`, a job that finds no thread running goes on to 3);
/// 3. else to a new thread, if fewer than `max_threads` run;
/// 4. else to the [`Policy`].
///
/// (A job handed to an idle thread passes through the queue and holds a
/// place there until that thread takes it, a moment later: a burst of
/// submits may find a bounded queue full while idle threads are about to
/// empty it.)
///
/// Threads beyond the core count exit after idling for `keep_alive`. A
/// panicking job ends with [`JobError::Panicked`] and its thread goes on.
/// Dropping the pool runs the queued jobs and joins every thread (like
/// Python's `with ThreadPoolExecutor() as pool:`); [`shutdown`](Self::shutdown)
/// does it explicitly. Both block the calling thread until the jobs end: on
/// a loop thread, every task of the loop waits meanwhile (as under asyncio's
/// `with ThreadPoolExecutor()` in a coroutine), and a job that waits for a
/// task of that loop would never end — there, await the jobs' handles
/// before the pool goes, use `shutdown(false)` first (a pool shut down that
/// way is dropped without waiting: its running and queued jobs finish on
/// its threads, as after Python's `shutdown(wait=False)`), or keep the pool
/// off the loop. (A wait on a loop's thread that lasts the loop's
/// [stall grace](crate::EventLoop::set_stall_grace), 5 s, is reported
/// once, as a [`ReportKind::Stall`](crate::ReportKind::Stall): a hang there
/// is not silent.)
///
/// A cancelled job leaves the queue when a thread reaches it or when the
/// queue is full and its place is wanted; its closure is dropped then.
/// [`cancel_queued`](Self::cancel_queued) cancels all the queued jobs at
/// once (Python's `cancel_futures=True`).
///
/// # Examples
///
/// ```
/// use corio::pool::ThreadPool;
///
/// let pool = ThreadPool::new(4);
/// let jobs: Vec<_> = (1..=4).map(|i| pool.submit(move || i * i).unwrap()).collect();
/// let squares: Vec<_> = jobs.into_iter().map(|job| job.wait().unwrap()).collect();
/// assert_eq!(squares, [1, 4, 9, 16]);
/// ```
pub struct ThreadPool {
    inner: Arc<Inner>,
}

impl ThreadPool {
    /// A pool of `threads` threads (core = max), an unbounded queue and
    /// the `Abort` policy — `ThreadPoolExecutor(max_workers=threads)`.
    /// `new(0)` is `new(1)`: Python raises `ValueError` there, but a
    /// computed count (`cores - 1` on one core) should not stop a program.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corio::pool::ThreadPool::new(8);
    /// assert_eq!(pool.submit(|| "hi").unwrap().wait(), Ok("hi"));
    ///
    /// let one = corio::pool::ThreadPool::new(0); // taken as 1
    /// assert_eq!(one.submit(|| 7).unwrap().wait(), Ok(7));
    /// assert_eq!(one.threads(), 1);
    /// ```
    pub fn new(threads: usize) -> ThreadPool {
        let threads = threads.max(1);
        ThreadPool::builder()
            .core_threads(threads)
            .max_threads(threads)
            .build()
    }

    /// A [`Builder`] with the defaults: 1 core thread, max = core, 10 s
    /// keep-alive, an unbounded queue, [`Policy::Abort`].
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corio::pool::ThreadPool::builder().thread_name("worker").build();
    /// let name = pool.submit(|| std::thread::current().name().map(String::from)).unwrap().wait();
    /// assert_eq!(name, Ok(Some("worker-1".to_string())));
    /// ```
    pub fn builder() -> Builder {
        Builder {
            core: 1,
            max: None,
            keep_alive: Duration::from_secs(10),
            capacity: usize::MAX,
            policy: Policy::Abort,
            name: "corio-pool".to_string(),
        }
    }

    /// Runs `f` on the pool; see the type's docs for where it goes.
    ///
    /// Returns the job's handle, or `Err` if the pool is shut down or full
    /// under [`Policy::Abort`]. Under the other policies the handle is
    /// always returned (a discarded job's handle gives
    /// [`JobError::Rejected`]). Done callbacks of a job submitted on a
    /// thread running a loop (from a task, a callback or the main future)
    /// run on that loop ([`JobHandle::add_done_callback`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corio::pool::ThreadPool::new(1);
    /// let job = pool.submit(|| std::thread::current().name().unwrap().to_string()).unwrap();
    /// assert_eq!(job.wait(), Ok("corio-pool-1".to_string()));
    /// ```
    pub fn submit<F, T>(&self, f: F) -> Result<JobHandle<T>, Rejected>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let home = crate::context::with_current(|core| std::sync::Arc::clone(core.shared()));
        let shared = JobShared::new(home);
        let job = Box::new(Job {
            f,
            shared: Arc::clone(&shared),
        });
        self.execute(job)?;
        Ok(JobHandle::new(shared))
    }

    /// Queues or runs `job` (the steps of the type's docs).
    fn execute(&self, job: Box<dyn Work>) -> Result<(), Rejected> {
        let config = &self.inner.config;
        // Cancelled jobs purged from a full queue; declared before the
        // guard so that their closures are dropped after the lock is.
        let mut purged = Purged(Vec::new());
        let mut st = self.inner.lock();
        if st.shut_down {
            return Err(Rejected::ShutDown);
        }
        if st.queue.len() >= config.capacity && config.capacity > 0 {
            // Cancelled jobs wait in the queue until a thread skips them;
            // when their places are wanted, they go now.
            let (ended, live): (VecDeque<_>, VecDeque<_>) =
                st.queue.drain(..).partition(|job| job.has_ended());
            st.queue = live;
            purged.0.extend(ended);
        }
        // 1. An idle thread, or a new core thread.
        if st.idle > st.queue.len() {
            st.queue.push_back(job);
            drop(st);
            self.inner.work.notify_one();
            return Ok(());
        }
        if st.threads < config.core {
            return self.start_or_end(st, job);
        }
        // 2. The queue — unless no thread runs at all (core 0), which
        //    would leave the job there forever: Java starts one then too.
        if st.queue.len() < config.capacity && st.threads > 0 {
            st.queue.push_back(job);
            return Ok(());
        }
        // 3. A thread beyond the core.
        if st.threads < config.max {
            return self.start_or_end(st, job);
        }
        // 4. The policy.
        match config.policy {
            Policy::Abort => Err(Rejected::Full),
            Policy::Discard => {
                drop(st);
                job.end(JobError::Rejected);
                Ok(())
            }
            Policy::DiscardOldest => {
                // Jobs meant for idle threads are not waiting: keep them.
                // They are the first `idle` of the queue (each idle thread
                // takes the front one), so the oldest waiting job comes
                // after them.
                let oldest = if st.queue.len() > st.idle {
                    let first_waiting = st.idle;
                    st.queue.remove(first_waiting)
                } else {
                    None
                };
                let dropped = match oldest {
                    Some(oldest) => {
                        st.queue.push_back(job);
                        oldest
                    }
                    None => job,
                };
                drop(st);
                dropped.end(JobError::Rejected);
                Ok(())
            }
            Policy::CallerRuns => {
                drop(st);
                job.run();
                Ok(())
            }
        }
    }

    fn start_or_end(
        &self,
        mut st: MutexGuard<'_, State>,
        job: Box<dyn Work>,
    ) -> Result<(), Rejected> {
        if let Err(job) = self.start_thread(&mut st, job) {
            drop(st);
            job.end(JobError::Rejected);
        }
        Ok(())
    }

    /// Starts a thread whose first job is `first`. If no thread can start
    /// and none runs, gives the job back for the caller to end (after
    /// releasing the lock: ending it may run callbacks).
    fn start_thread(&self, st: &mut State, first: Box<dyn Work>) -> Result<(), Box<dyn Work>> {
        st.threads += 1;
        st.started += 1;
        // Threads that left by keep-alive are let go, not joined: joining
        // here would make `submit` wait for their thread-local destructors
        // (found by review: even deadlock on a lock the submitter holds).
        st.workers.retain(|worker| !worker.is_finished());
        let name = format!("{}-{}", self.inner.config.name, st.started);
        let inner = Arc::clone(&self.inner);
        // The job travels through a slot we keep a share of, so that it is
        // not lost if the thread cannot start.
        let slot = Arc::new(Mutex::new(Some(first)));
        let theirs = Arc::clone(&slot);
        let spawned = std::thread::Builder::new().name(name).spawn(move || {
            let first = theirs.lock().unwrap_or_else(|e| e.into_inner()).take();
            worker(inner, first);
        });
        match spawned {
            Ok(handle) => {
                st.ids.push(handle.thread().id());
                st.workers.push(handle);
                Ok(())
            }
            Err(err) => {
                st.threads -= 1;
                crate::report::emit(
                    crate::report::Severity::Error,
                    format_args!("the thread pool could not start a thread: {err}"),
                );
                let job = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
                match job {
                    Some(job) if st.threads == 0 => Err(job),
                    Some(job) => {
                        st.queue.push_back(job); // a running thread takes it
                        Ok(())
                    }
                    None => Ok(()),
                }
            }
        }
    }

    /// Like Python's `Executor.map`: runs `f` on every item, and gives the
    /// results in the order of the items (however the jobs finish). As
    /// Python's, it takes the items up front — every job is submitted
    /// before `map` returns — so `items` must be finite.
    ///
    /// Items the pool rejects (full under `Abort`, or shut down) give
    /// `Err(JobError::Rejected)` in their place, so the results always
    /// line up with the items. The returned [`Map`] is an `Iterator` that
    /// waits for each result in turn (plain threads) and a `Future` of all
    /// of them (tasks).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corio::pool::ThreadPool::new(4);
    /// let lengths: Vec<_> = pool.map(|s: &str| s.len(), ["a", "bbb", "cc"]).collect();
    /// assert_eq!(lengths, [Ok(1), Ok(3), Ok(2)]);
    /// ```
    pub fn map<I, F, T>(&self, f: F, items: I) -> Map<T>
    where
        I: IntoIterator,
        I::Item: Send + 'static,
        F: Fn(I::Item) -> T + Send + Sync + 'static,
        T: Send + 'static,
    {
        let f = Arc::new(f);
        let jobs = items
            .into_iter()
            .map(|item| {
                let f = Arc::clone(&f);
                self.submit(move || f(item)).ok()
            })
            .collect();
        Map {
            jobs,
            done: VecDeque::new(),
        }
    }

    /// Stops taking jobs (a later [`submit`](Self::submit) gives
    /// [`Rejected::ShutDown`]); the jobs already queued still run, as after
    /// Python's `shutdown(wait)` (whose `cancel_futures` is false unless
    /// asked: here, [`cancel_queued`](Self::cancel_queued)). Threads exit
    /// once the queue is empty.
    ///
    /// With `wait`, it returns when every queued job has run and all
    /// threads are joined (a thread that already left by keep-alive is
    /// joined only if no thread started since: a thread start lets the
    /// handles of finished threads go). That blocks the calling thread — on
    /// a loop thread, the whole loop (said once if it lasts the loop's stall
    /// grace): see the type's docs. Called from one
    /// of the pool's own jobs, it cannot wait for its own thread: it
    /// returns once every thread but those whose jobs called
    /// `shutdown(true)` has finished — jobs still queued then (on a
    /// one-thread pool, all of them) run after the calling job returns, so
    /// that job must not wait for them.
    ///
    /// Without `wait`, it returns at once, and dropping the pool afterwards
    /// does not wait either: running and queued jobs finish on the pool's
    /// threads, which then exit.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corio::pool::ThreadPool::new(2);
    /// let job = pool.submit(|| 1).unwrap();
    /// pool.shutdown(true);
    /// assert_eq!(job.wait(), Ok(1));
    /// assert!(pool.submit(|| 2).is_err());
    ///
    /// // Without waiting, queued work still runs:
    /// let pool = corio::pool::ThreadPool::new(1);
    /// let jobs: Vec<_> = (0..3).map(|i| pool.submit(move || i).unwrap()).collect();
    /// pool.shutdown(false);
    /// drop(pool); // returns at once
    /// let got: Vec<_> = jobs.into_iter().map(|job| job.wait()).collect();
    /// assert_eq!(got, [Ok(0), Ok(1), Ok(2)]);
    /// ```
    pub fn shutdown(&self, wait: bool) {
        let me = std::thread::current().id();
        let in_pool = {
            let mut st = self.inner.lock();
            st.shut_down = true;
            st.no_wait |= !wait;
            let in_pool = st.ids.contains(&me);
            if wait && in_pool && !st.shutdown_callers.contains(&me) {
                st.shutdown_callers.push(me);
            }
            in_pool
        };
        self.inner.work.notify_all();
        if !wait {
            return;
        }
        self.inner.exited.notify_all();
        if in_pool {
            // A caller inside a job cannot wait for itself: it waits for
            // all but the threads whose jobs called this, itself among
            // them — and leaves every join handle to an outside caller.
            let mut st = self.inner.lock();
            while !st.detached && st.threads > st.shutdown_callers.len() {
                st = self.wait_exited(st);
            }
            return;
        }
        // An outside caller joins every thread: the handles it takes, and
        // — waiting — those another outside caller took and is joining.
        let mut st = self.inner.lock();
        if let Some(grace) = crate::context::with_current(|core| core.debug.stall.grace()) {
            st = self.wait_on_loop_thread(st, grace);
        }
        loop {
            if st.detached {
                return;
            }
            if !st.workers.is_empty() {
                let workers = std::mem::take(&mut st.workers);
                st.joining += workers.len();
                drop(st);
                let joined = workers.len();
                for worker in workers {
                    // Not this thread's own (the last handle on the pool
                    // dropped by a pool thread's thread-local destructor):
                    // a thread cannot join itself.
                    if worker.thread().id() != me {
                        let _ = worker.join();
                    }
                }
                st = self.inner.lock();
                st.joining -= joined;
                self.inner.exited.notify_all();
                continue;
            }
            if st.threads == 0 && st.joining == 0 {
                return;
            }
            st = self.wait_exited(st);
        }
    }

    /// Cancels every job still waiting in the queue: their handles give
    /// [`JobError::Cancelled`] and their closures are dropped (running jobs
    /// go on). Returns how many it cancelled. After
    /// [`shutdown`](Self::shutdown) it is Python's `cancel_futures=True`:
    /// nothing new can be queued behind it.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::pool::{JobError, ThreadPool};
    /// use std::sync::mpsc;
    ///
    /// let pool = ThreadPool::new(1);
    /// let (tx, rx) = mpsc::channel::<()>();
    /// let busy = pool.submit(move || rx.recv().is_ok()).unwrap(); // holds the thread
    /// let queued = pool.submit(|| 2).unwrap();
    /// pool.shutdown(false);
    /// assert_eq!(pool.cancel_queued(), 1);
    /// tx.send(()).unwrap();
    /// assert_eq!(busy.wait(), Ok(true));
    /// assert_eq!(queued.wait(), Err(JobError::Cancelled));
    /// ```
    pub fn cancel_queued(&self) -> usize {
        let queued: Vec<_> = self.inner.lock().queue.drain(..).collect();
        let mut cancelled = 0;
        for job in queued {
            // Counted only if this call ended it: a handle on another
            // thread may cancel the same job at the same moment.
            if job.end(JobError::Cancelled) {
                cancelled += 1;
            }
        }
        cancelled
    }

    /// `shutdown(true)` on a loop's thread holds the whole loop: waits for
    /// the threads to end their jobs as `shutdown` does, but says so once
    /// if that lasts the loop's stall grace — a job waiting for one of the
    /// loop's tasks would never end, and the program would hang in silence.
    fn wait_on_loop_thread<'a>(
        &'a self,
        mut st: MutexGuard<'a, State>,
        grace: Duration,
    ) -> MutexGuard<'a, State> {
        let Some(hint_at) = std::time::Instant::now().checked_add(grace) else {
            return st; // `Duration::MAX`: no hint
        };
        // (Idle threads with nothing queued are on their way out: only
        // jobs count.)
        while !st.detached && st.threads > 0 && (st.threads > st.idle || !st.queue.is_empty()) {
            let left = hint_at.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                let (running, queued) = (st.threads - st.idle, st.queue.len());
                drop(st);
                crate::context::report_here(crate::report::Report::new(
                    crate::report::ReportKind::Stall,
                    format!(
                        "corio: ThreadPool::shutdown(true) — which dropping a pool also does — has \
                         held this event loop's thread for {grace:?}, waiting for the pool's jobs \
                         ({running} running, {queued} queued); no task of the loop runs meanwhile, so a \
                         job that waits for one of them never ends. Await the jobs' handles before \
                         the pool goes, or call shutdown(false) first (the jobs then finish on \
                         their own threads)."
                    ),
                    None,
                ));
                return self.inner.lock();
            }
            st = match self.inner.exited.wait_timeout(st, left) {
                Ok((st, _)) => st,
                Err(e) => e.into_inner().0,
            };
        }
        st
    }

    /// Waits for a thread to exit (or a join to end).
    fn wait_exited<'a>(
        &self,
        st: std::sync::MutexGuard<'a, State>,
    ) -> std::sync::MutexGuard<'a, State> {
        self.inner
            .exited
            .wait(st)
            .unwrap_or_else(|e| e.into_inner())
    }

    /// Shuts down without waiting, cancels the queued jobs and forgets the
    /// threads (they exit after their current job): for the loop's default
    /// pool, so that closing a loop never waits on a job that blocks
    /// forever (a stdin read).
    pub(crate) fn shutdown_detached(&self) {
        self.shutdown(false);
        self.cancel_queued();
        self.forget_threads();
    }

    /// Lets the threads' join handles go: nobody waits for them.
    fn forget_threads(&self) {
        let workers = {
            let mut st = self.inner.lock();
            st.detached = true;
            std::mem::take(&mut st.workers)
        };
        drop(workers);
    }

    /// Threads alive right now (busy or idle).
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corio::pool::ThreadPool::new(2);
    /// assert_eq!(pool.threads(), 0); // none before the first job
    /// pool.submit(|| ()).unwrap().wait().unwrap();
    /// assert_eq!(pool.threads(), 1);
    /// ```
    pub fn threads(&self) -> usize {
        self.inner.lock().threads
    }

    /// Threads waiting for a job right now.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corio::pool::ThreadPool::new(2);
    /// assert_eq!(pool.idle_threads(), 0);
    /// ```
    pub fn idle_threads(&self) -> usize {
        self.inner.lock().idle
    }

    /// Jobs waiting in the queue right now.
    ///
    /// # Examples
    ///
    /// ```
    /// let pool = corio::pool::ThreadPool::new(1);
    /// assert_eq!(pool.queued(), 0);
    /// ```
    pub fn queued(&self) -> usize {
        self.inner.lock().queue.len()
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        // After `shutdown(false)`, the caller chose not to wait: neither
        // does the drop (it may be on a loop whose tasks the jobs await).
        if self.inner.lock().no_wait {
            self.forget_threads(); // the queued jobs still run
        } else {
            self.shutdown(true);
        }
    }
}

impl fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.inner.lock();
        f.debug_struct("ThreadPool")
            .field("threads", &st.threads)
            .field("idle", &st.idle)
            .field("queued", &st.queue.len())
            .field("shut_down", &st.shut_down)
            .finish()
    }
}

/// Cancelled jobs taken out of a full queue, dropped one by one, each
/// contained (their closures' destructors are user code).
struct Purged(Vec<Box<dyn Work>>);

impl Drop for Purged {
    fn drop(&mut self) {
        self.0.drain(..).for_each(crate::contain::drop_contained);
    }
}

/// A worker thread: run the first job, then take jobs from the queue
/// until shutdown — or, beyond the core count, until idle for keep-alive.
fn worker(inner: Arc<Inner>, first: Option<Box<dyn Work>>) {
    let mut just_ran = false;
    if let Some(first) = first {
        run_contained(first);
        just_ran = true;
    }
    let config = &inner.config;
    let mut st = inner.lock();
    loop {
        if let Some(job) = st.queue.pop_front() {
            drop(st);
            run_contained(job);
            just_ran = true;
            st = inner.lock();
            continue;
        }
        if st.shut_down {
            break;
        }
        st.idle += 1;
        if std::mem::take(&mut just_ran) {
            // A thread that just finished a job is likely to get the next
            // one soon (a loop awaiting jobs one after another): watch the
            // queue for a moment before sleeping, which saves the submitter
            // a futex wake and this thread the scheduler's wake-up latency.
            drop(st);
            st = spin_for_work(&inner);
            st.idle -= 1;
            continue;
        }
        if st.threads > config.core {
            let (guard, timeout) = match inner.work.wait_timeout(st, config.keep_alive) {
                Ok(woken) => woken,
                Err(e) => e.into_inner(),
            };
            st = guard;
            st.idle -= 1;
            if timeout.timed_out() && st.queue.is_empty() && st.threads > config.core {
                break; // an extra thread idle for keep-alive: shrink back
            }
        } else {
            st = inner.work.wait(st).unwrap_or_else(|e| e.into_inner());
            st.idle -= 1;
        }
    }
    st.threads -= 1;
    let me = std::thread::current().id();
    st.ids.retain(|id| *id != me);
    st.shutdown_callers.retain(|id| *id != me);
    drop(st);
    inner.exited.notify_all();
}

/// Runs a job, containing what its own `catch_unwind` cannot: a panicking
/// destructor of its closure or of a result nobody will take. The worker
/// then goes on, and the pool's thread count stays true.
fn run_contained(job: Box<dyn Work>) {
    if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job.run())) {
        crate::report::emit(
            crate::report::Severity::Error,
            format_args!(
                "a destructor panicked on a pool thread: {}",
                crate::report::panic_message(&*payload)
            ),
        );
        crate::contain::drop_contained(payload);
    }
}

/// How long a worker that just finished a job watches for the next one
/// before it sleeps on the condition variable.
const SPIN: std::time::Duration = std::time::Duration::from_micros(50);

/// Spins (without holding the lock) until a job is queued, the pool shuts
/// down, or [`SPIN`] has passed; returns the lock.
fn spin_for_work(inner: &Inner) -> MutexGuard<'_, State> {
    let deadline = std::time::Instant::now() + SPIN;
    loop {
        for _ in 0..32 {
            std::hint::spin_loop();
        }
        if let Ok(st) = inner.state.try_lock() {
            if !st.queue.is_empty() || st.shut_down {
                return st;
            }
        }
        if std::time::Instant::now() >= deadline {
            return inner.lock();
        }
    }
}

/// The results of [`ThreadPool::map`], in the order of the items.
///
/// Iterate it (each `next` blocks this thread for the next result; on a
/// thread running a corio loop it panics instead, losing no result) or
/// await it (all the results left, in order); the two may be mixed — a `Map`
/// awaited in part and given up (by a `timeout`) still gives every result
/// once, in line. Awaited again after it gave its results, it gives an
/// empty `Vec`. Dropped before the end, it cancels the jobs still queued
/// (those running finish), as Python's `Executor.map` does when its
/// results are not all taken.
///
/// # Examples
///
/// ```
/// let pool = corio::pool::ThreadPool::new(2);
/// // On a loop, await all of them:
/// let all = corio::run(pool.map(|x: u32| x + 1, [1, 2, 3]));
/// assert_eq!(all, [Ok(2), Ok(3), Ok(4)]);
/// ```
#[must_use = "a Map cancels the jobs still queued if dropped; iterate or await it"]
pub struct Map<T: Send + 'static> {
    jobs: VecDeque<Option<JobHandle<T>>>,
    /// Results the future already took from the front of `jobs` (it was
    /// polled, then given up — by a `timeout`, say): the next ones in
    /// line, whichever way the rest is taken.
    done: VecDeque<JobResult<T>>,
}

// The results are never pinned: they are only moved into a `Vec`.
impl<T: Send + 'static> Unpin for Map<T> {}

impl<T: Send + 'static> Drop for Map<T> {
    fn drop(&mut self) {
        for job in self.jobs.iter().flatten() {
            job.cancel(); // (a running or finished job is left as it is)
        }
    }
}

impl<T: Send + 'static> Iterator for Map<T> {
    type Item = JobResult<T>;

    /// Waits (blocking this thread) for the next item's result.
    ///
    /// On a thread running a corio loop it panics instead of blocking the
    /// loop — before taking the item, so a caller that catches the panic
    /// loses nothing; `.await` the `Map` there.
    #[track_caller]
    fn next(&mut self) -> Option<JobResult<T>> {
        if let Some(result) = self.done.pop_front() {
            return Some(result);
        }
        if matches!(self.jobs.front(), Some(Some(_))) {
            job::refuse_on_loop("iterating a ThreadPool::map (Map::next)", "the Map");
        }
        Some(match self.jobs.pop_front()? {
            Some(job) => job.wait(),
            None => Err(JobError::Rejected),
        })
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.done.len() + self.jobs.len();
        (left, Some(left))
    }
}

impl<T: Send + 'static> std::future::Future for Map<T> {
    type Output = Vec<JobResult<T>>;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let this = &mut *self;
        while let Some(front) = this.jobs.front_mut() {
            let result = match front {
                Some(job) => match std::pin::Pin::new(job).poll(cx) {
                    std::task::Poll::Ready(result) => result,
                    std::task::Poll::Pending => return std::task::Poll::Pending,
                },
                None => Err(JobError::Rejected),
            };
            this.jobs.pop_front();
            this.done.push_back(result);
        }
        std::task::Poll::Ready(std::mem::take(&mut this.done).into())
    }
}

impl<T: Send + 'static> fmt::Debug for Map<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Map({} left)", self.done.len() + self.jobs.len())
    }
}
