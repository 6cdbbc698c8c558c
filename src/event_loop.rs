//! The event loop and its turn.
//!
//! [`EventLoop::turn`] is the one place where futures and callbacks are run
//! (asyncio's `_run_once`: "This is the only place where callbacks are
//! actually called"). Everything else only *enqueues*: a wake pushes a task
//! on the ready queue, a timer firing pushes a callback or wakes a task, a
//! thread pushes on the remote queue. Read `turn` top to bottom and you have
//! read the runtime.

use std::io;
use std::pin::pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_task::waker_ref;

use crate::callback::{CallbackHandle, Watch};
use crate::context::Enter;
use crate::core::{Core, Runnable};
use crate::debug::Verdict;
use crate::handle::LoopHandle;
use crate::report::Report;
use crate::task::Task;
use crate::waker::TaskWaker;

/// What one turn of the loop did — returned by [`EventLoop::run_once`].
///
/// # Examples
///
/// ```
/// let mut lp = corio::EventLoop::new()?;
/// let task = lp.spawn(async { 1 });
/// let turn = lp.run_once();
/// assert_eq!(turn.tasks_polled, 1);
/// assert!(task.is_done());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Turn {
    /// Task polls (the main future of `run_until_complete` included).
    pub tasks_polled: usize,
    /// Callbacks run: `call_soon`/`call_later`/`call_soon_threadsafe` and
    /// done callbacks.
    pub callbacks_run: usize,
    /// I/O readiness events received.
    pub io_events: usize,
    /// Timers that fired: sleeps woken and `call_later` callbacks queued.
    pub timers_fired: usize,
    /// Time spent blocked waiting for an event or a deadline.
    pub slept: Duration,
    /// Nothing was ready and nothing could ever make anything ready: no
    /// timer, no I/O, no other thread holding a way to wake the loop. The
    /// turn returned at once instead of waiting forever. A waker held
    /// anywhere counts as a way to wake — even one parked in a
    /// `corio::sync` primitive that only this loop's pending tasks could
    /// release — except in debug mode, which proves such stalls (the turn
    /// is idle then, and reported as a
    /// [`ReportKind::Stall`](crate::ReportKind::Stall)). (One known limit:
    /// the done callbacks a thread-pool job will queue on this loop when it
    /// ends are not counted — see the README's "Known limits".)
    pub idle: bool,
}

/// How the turn may wait when nothing is ready.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Wait {
    /// Wait until something happens, however long.
    Block,
    /// Wait if something could happen; return an idle turn if nothing can.
    UnlessIdle,
}

/// How a turn's wait for a wake that may never come is watched (debug mode
/// and the stall hint: `EventLoop::watch_quiet_wait`).
#[derive(Clone, Copy)]
enum QuietWatch {
    /// Not watched.
    Off,
    /// Debug mode: report a stall if the grace period ends the wait.
    Stall,
    /// Without debug mode: the one-line hint, once its wait is over.
    Hint,
}

/// The main future of `run_until_complete`, as the turn sees it.
struct Root<'a> {
    waker: Arc<TaskWaker>,
    poll: &'a mut dyn FnMut(&mut Context<'_>) -> bool,
    done: bool,
    /// Where `run_until_complete` (or `corio::run`) was called: debug
    /// mode's slow-poll report names it.
    site: &'static std::panic::Location<'static>,
}

/// A single-threaded event loop: tasks, callbacks, timers and I/O.
///
/// asyncio users know it as `loop = asyncio.new_event_loop()`. Most programs
/// only need [`corio::run`](crate::run); create a loop yourself to spawn
/// tasks before it runs, step it with [`run_once`](EventLoop::run_once), run
/// it with [`run_forever`](EventLoop::run_forever), or set an exception
/// handler.
///
/// An `EventLoop` is `!Send`: it and its tasks stay on the thread that made
/// it. Run one loop per thread to use more cores. Dropping the loop cancels
/// the tasks still pending (their futures are dropped; their handles give
/// `Err(Cancelled)`). Those futures' destructors run with this loop no
/// longer running (as asyncio destroys the tasks a closed loop left): a
/// `spawn`, `call_soon` or `sleep` there panics — contained and reported
/// as a [`ReportKind::DestructorPanic`](crate::ReportKind::DestructorPanic)
/// — or, if the loop is dropped inside another loop's task, lands on that
/// other loop. [`corio::run`](crate::run)
/// instead cancels its leftovers while its loop still runs.
///
/// # Examples
///
/// ```
/// // asyncio: task = asyncio.ensure_future(c); loop.run_until_complete(task)
/// let mut lp = corio::EventLoop::new()?;
/// let task = lp.spawn(async { 123 });
/// task.add_done_callback(|outcome| println!("callback got {outcome:?}"));
/// assert_eq!(lp.run_until_complete(task), Ok(123));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct EventLoop {
    core: Rc<Core>,
}

impl EventLoop {
    /// A new loop. Fails only if the OS refuses an `epoll` instance or an
    /// `eventfd` (out of file descriptors).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lp = corio::EventLoop::new()?;
    /// assert!(lp.run_once().idle, "a new loop has nothing to do");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn new() -> io::Result<EventLoop> {
        Ok(EventLoop { core: Core::new()? })
    }

    pub(crate) fn core(&self) -> &Rc<Core> {
        &self.core
    }

    /// Spawns a task on this loop, which need not be running yet.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lp = corio::EventLoop::new()?;
    /// let a = lp.spawn(async { "a" });
    /// let b = lp.spawn(async { "b" });
    /// assert_eq!(lp.run_until_complete(async { (a.await, b.await) }), (Ok("a"), Ok("b")));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[doc(alias = "ensure_future")]
    #[doc(alias = "create_task")]
    #[track_caller]
    pub fn spawn<F>(&self, future: F) -> Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        Task::spawn_on(Rc::clone(&self.core), None, future)
    }

    /// Schedules `f` for the next turn; see [`call_soon`](crate::call_soon).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lp = corio::EventLoop::new()?;
    /// lp.call_soon(|| println!("first turn"));
    /// assert_eq!(lp.run_once().callbacks_run, 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn call_soon(&self, f: impl FnOnce() + 'static) -> CallbackHandle {
        let key = self
            .core
            .call_soon(Box::new(f), Some(std::panic::Location::caller()));
        CallbackHandle::new(&self.core, key)
    }

    /// Schedules `f` once `delay` has passed; see
    /// [`call_later`](crate::call_later).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use std::time::{Duration, Instant};
    ///
    /// let mut lp = corio::EventLoop::new()?;
    /// let start = Instant::now();
    /// let ran_at = Rc::new(Cell::new(None));
    /// let r = ran_at.clone();
    /// let handle = lp.call_later(Duration::from_millis(5), move || r.set(Some(Instant::now())));
    /// while handle.is_pending() {
    ///     lp.run_once();
    /// }
    /// assert!(ran_at.get().unwrap() >= start + Duration::from_millis(5));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn call_later(&self, delay: Duration, f: impl FnOnce() + 'static) -> CallbackHandle {
        self.call_at(crate::time::deadline_after(delay), f)
    }

    /// Schedules `f` once `when` has come; see [`call_at`](crate::call_at).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    /// use std::time::{Duration, Instant};
    ///
    /// let mut lp = corio::EventLoop::new()?;
    /// let when = Instant::now() + Duration::from_millis(5);
    /// let ran_at = Rc::new(Cell::new(None));
    /// let r = ran_at.clone();
    /// let handle = lp.call_at(when, move || r.set(Some(Instant::now())));
    /// while handle.is_pending() {
    ///     lp.run_once();
    /// }
    /// assert!(ran_at.get().unwrap() >= when, "never early");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn call_at(&self, when: Instant, f: impl FnOnce() + 'static) -> CallbackHandle {
        let key = self
            .core
            .call_at(when, Box::new(f), Some(std::panic::Location::caller()));
        CallbackHandle::new(&self.core, key)
    }

    /// A `Send + Clone` handle for other threads.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lp = corio::EventLoop::new()?;
    /// let handle = lp.handle();
    /// let other = std::thread::spawn(move || {
    ///     assert!(!handle.is_closed());
    ///     handle.stop();
    /// });
    /// lp.run_forever(); // returns once the other thread asked it to stop
    /// other.join().unwrap();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn handle(&self) -> LoopHandle {
        LoopHandle::new(self.core.shared())
    }

    /// Asks [`run_forever`](EventLoop::run_forever) to return after its
    /// current turn (asyncio's `loop.stop()`). The request stays pending
    /// until a `run_forever` takes it: called before `run_forever`, that call
    /// runs one turn and returns. `run_until_complete` and `run_once` ignore
    /// it.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::cell::Cell;
    /// use std::rc::Rc;
    ///
    /// let mut lp = corio::EventLoop::new()?;
    /// let ran = Rc::new(Cell::new(false));
    /// let r = ran.clone();
    /// lp.call_soon(move || r.set(true));
    /// lp.stop();
    /// lp.run_forever(); // one turn: the callback runs, then it returns
    /// assert!(ran.get());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stop(&self) {
        self.core.shared().request_stop_here();
    }

    /// Sets the function that receives the loop's [`Report`]s: panics that
    /// nobody retrieved, panicking callbacks, panicking destructors the
    /// loop ran outside any poll (asyncio's `loop.set_exception_handler`).
    /// The default prints them to stderr —
    /// or, with the crate's `log` feature, logs them to the `log` facade
    /// (target `corio`; panics and failures at level `Error`, slow
    /// callbacks, stalls and pending tasks at `Warn`), as it does every
    /// line corio writes.
    ///
    /// A destructor the loop runs outside any poll or callback — a
    /// cancelled task's future, the output of a finished task nobody
    /// awaits, a callback or timer dropped unrun — that panics comes as
    /// [`ReportKind::DestructorPanic`](crate::ReportKind::DestructorPanic)
    /// (a cancelled task stays `Cancelled`), to the handler of the loop
    /// that dropped it. A thread-pool job's done callback that panics on
    /// this loop comes as a
    /// [`ReportKind::CallbackPanic`](crate::ReportKind::CallbackPanic) too
    /// (one that ran on a worker is a line on stderr). Not through the
    /// handler: a panicking waker of another executor, and the thread
    /// pool's own lines (a destructor that panicked on a pool thread) —
    /// one line on stderr (or the log) each.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lp = corio::EventLoop::new()?;
    /// let count = std::rc::Rc::new(std::cell::Cell::new(0));
    /// let c = count.clone();
    /// lp.set_exception_handler(move |_report| c.set(c.get() + 1));
    /// lp.call_soon(|| panic!("one"));
    /// lp.call_soon(|| panic!("two"));
    /// lp.run_once();
    /// assert_eq!(count.get(), 2);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_exception_handler(&self, handler: impl Fn(&Report) + 'static) {
        self.core.set_exception_handler(Some(Rc::new(handler)));
    }

    /// Runs `future` to completion on this loop, running the loop's tasks and
    /// callbacks meanwhile, and returns its output (asyncio's
    /// `run_until_complete`).
    ///
    /// The future is polled in place — it is not spawned — so it may borrow
    /// from the caller and need not be `'static`; it is not a task
    /// ([`current_task`](crate::current_task) is `None` in it). Tasks still
    /// pending when it completes stay in the loop for the next run.
    ///
    /// # Panics
    ///
    /// * If another loop is running on this thread (from inside a task,
    ///   `.await` instead).
    /// * If `future` panics: the panic propagates to the caller (the loop
    ///   stays usable).
    /// * If `future` is pending and nothing can ever wake it — no task ready,
    ///   no timer, no I/O, and nobody at all holding a waker of it or of a
    ///   pending task, nor a [`LoopHandle`]: it would hang forever. In
    ///   [debug mode](Self::set_debug) this goes further: a wait on corio's
    ///   own primitives that nothing left to run could end (an `Event`
    ///   never set, a `Queue` never fed, two tasks awaiting each other) is
    ///   caught too, and the message says who waits on what. Without debug
    ///   mode such a program waits forever, as asyncio's would.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lp = corio::EventLoop::new()?;
    /// let greeting = String::from("borrowed from the caller");
    /// let len = lp.run_until_complete(async { greeting.len() });
    /// assert_eq!(len, greeting.len());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn run_until_complete<F: Future>(&mut self, future: F) -> F::Output {
        let _enter = Enter::new(&self.core);
        let mut future = pin!(future);
        let mut output = None;
        let mut poll = |cx: &mut Context<'_>| match future.as_mut().poll(cx) {
            Poll::Ready(out) => {
                output = Some(out);
                true
            }
            Poll::Pending => false,
        };
        let waker = self.core.begin_root();
        let mut root = Root {
            waker,
            poll: &mut poll,
            done: false,
            site: std::panic::Location::caller(),
        };
        let core = Rc::clone(&self.core);
        let _end = scopeguard(move || core.end_root());
        while !root.done {
            let turn = self.turn(Some(&mut root), Wait::UnlessIdle, true);
            if turn.idle && !root.done {
                if let Some(explained) = self.core.debug.stall.take_proven() {
                    panic!("{explained}");
                }
                panic!(
                    "corio: run_until_complete would block forever: the main future is pending \
                     and nothing can ever wake it (no task is ready, no timer or I/O is armed, \
                     and no waker or LoopHandle is held anywhere); with CORIO_DEBUG=1 this \
                     message says who waits on what"
                );
            }
        }
        drop(root);
        match output {
            Some(output) => output,
            None => unreachable!("the main future completed"),
        }
    }

    /// Runs the loop until [`stop`](EventLoop::stop) is called — from a task,
    /// a callback, or another thread through a [`LoopHandle`] (asyncio's
    /// `run_forever`). With nothing to do it waits; it never spins.
    ///
    /// # Panics
    ///
    /// If another loop is running on this thread.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// let mut lp = corio::EventLoop::new()?;
    /// let handle = lp.handle();
    /// let start = Instant::now();
    /// let task = lp.spawn(async move {
    ///     corio::time::sleep(Duration::from_millis(5)).await;
    ///     handle.stop();
    /// });
    /// lp.run_forever();
    /// assert!(task.is_done());
    /// assert!(start.elapsed() >= Duration::from_millis(5));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn run_forever(&mut self) {
        let _enter = Enter::new(&self.core);
        loop {
            self.turn(None, Wait::Block, true);
            if self.core.shared().take_stop() {
                break;
            }
        }
    }

    /// Turns debug mode on or off (asyncio's `loop.set_debug`; also on
    /// when the environment has `CORIO_DEBUG=1` as the loop is created).
    /// In debug mode, a task poll or a callback that holds the loop for
    /// [`slow_callback_duration`](Self::set_slow_callback_duration) or longer is
    /// reported ([`ReportKind::SlowCallback`](crate::ReportKind::SlowCallback)),
    /// a task's with its name and, if it was spawned in debug mode, where;
    /// see [`corio::debug`](crate::debug) for the rest (dumps, stalls,
    /// tasks dropped while pending).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use corio::ReportKind;
    ///
    /// let mut lp = corio::EventLoop::new()?;
    /// lp.set_debug(true);
    /// lp.set_slow_callback_duration(Duration::from_millis(20));
    /// let slow = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    /// let log = slow.clone();
    /// lp.set_exception_handler(move |r| log.borrow_mut().push((r.kind(), r.message().to_owned())));
    /// lp.run_until_complete(async {
    ///     corio::Builder::new().name("greedy").spawn(async {
    ///         std::thread::sleep(Duration::from_millis(50)); // blocks the loop
    ///     }).await.unwrap();
    /// });
    /// let slow = slow.borrow();
    /// assert_eq!(slow[0].0, ReportKind::SlowCallback);
    /// assert!(slow[0].1.contains("\"greedy\""));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_debug(&self, on: bool) {
        self.core.debug.set(on);
    }

    /// Is debug mode on? (asyncio's `loop.get_debug`.)
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = corio::EventLoop::new()?;
    /// lp.set_debug(true);
    /// assert!(lp.is_debug());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_debug(&self) -> bool {
        self.core.debug.is_on()
    }

    /// How long one poll or callback may hold the loop before debug mode
    /// reports it (asyncio's `slow_callback_duration`; default 100 ms).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc, time::Duration};
    /// use corio::ReportKind;
    ///
    /// let mut lp = corio::EventLoop::new()?;
    /// lp.set_debug(true);
    /// lp.set_slow_callback_duration(Duration::from_millis(5));
    /// let kinds = Rc::new(RefCell::new(Vec::new()));
    /// let k = kinds.clone();
    /// lp.set_exception_handler(move |report| k.borrow_mut().push(report.kind()));
    /// lp.call_soon(|| std::thread::sleep(Duration::from_millis(20))); // holds the loop
    /// lp.run_once();
    /// assert_eq!(*kinds.borrow(), [ReportKind::SlowCallback]);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_slow_callback_duration(&self, limit: Duration) {
        self.core.debug.set_threshold(limit);
    }

    /// What this loop has done so far: turns, polls, wakes, I/O events,
    /// timers and callbacks ([`corio::stats`](crate::stats()) gives the same
    /// from inside the loop).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lp = corio::EventLoop::new()?;
    /// assert_eq!(lp.stats(), corio::Stats::default());
    /// lp.run_until_complete(async {});
    /// assert_eq!((lp.stats().turns, lp.stats().polls), (1, 1));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stats(&self) -> crate::Stats {
        self.core.counters.snapshot()
    }

    /// A table of this loop's tasks and what each waits on; see
    /// [`corio::debug`](crate::debug). From inside the loop,
    /// [`corio::debug::dump`](crate::debug::dump()) gives the same.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use corio::debug::{Status, Waiting};
    ///
    /// let mut lp = corio::EventLoop::new()?;
    /// lp.set_debug(true); // for the spawn sites, ages and counts
    /// let napper = corio::Builder::new()
    ///     .name("napper")
    ///     .spawn_on(&lp, async { corio::time::sleep(Duration::from_secs(60)).await });
    /// lp.run_once();
    /// let dump = lp.dump();
    /// let row = dump.task(napper.id()).unwrap();
    /// assert_eq!((row.status, row.polls), (Status::Waiting, Some(1)));
    /// assert!(matches!(row.waiting_on[..], [Waiting::Timer { .. }]));
    /// println!("{dump}");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn dump(&self) -> crate::debug::Dump {
        self.core.dump()
    }

    /// How long debug mode lets the main future of
    /// [`run_until_complete`](Self::run_until_complete) wait, with nothing
    /// ready, no timer and no I/O, before it reports a possible stall
    /// ([`ReportKind::Stall`](crate::ReportKind::Stall)) — when it cannot
    /// prove the stall (a proven one panics at once). Default 5 s.
    ///
    /// Without debug mode the same wait (and no pool job submitted from
    /// this loop in flight, no [`LoopHandle`] alive: only a waker held by a
    /// task or another thread could end it) gets a one-line hint instead,
    /// once per loop, that points to `CORIO_DEBUG=1` — a deadlock would
    /// otherwise hang in silence. `Duration::MAX` turns both off.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{cell::RefCell, rc::Rc, time::Duration};
    /// use corio::ReportKind;
    ///
    /// let mut lp = corio::EventLoop::new()?;
    /// lp.set_debug(true);
    /// lp.set_stall_grace(Duration::from_millis(10));
    /// let kinds = Rc::new(RefCell::new(Vec::new()));
    /// let k = kinds.clone();
    /// lp.set_exception_handler(move |report| k.borrow_mut().push(report.kind()));
    /// // A thread answers after 50 ms: nothing on the loop can tell whether it will.
    /// let (tx, rx) = corio::pool::channel::oneshot();
    /// let answer = std::thread::spawn(move || {
    ///     std::thread::sleep(Duration::from_millis(50));
    ///     tx.send(7)
    /// });
    /// assert_eq!(lp.run_until_complete(rx), Ok(7));
    /// assert_eq!(*kinds.borrow(), [ReportKind::Stall]); // reported after 10 ms, and waited on
    /// # answer.join().unwrap().unwrap();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_stall_grace(&self, grace: Duration) {
        self.core.debug.stall.set_grace(grace);
    }

    /// Starts (or stops) recording a trace of what the loop does: spawns,
    /// polls, wakes, completions, I/O readiness, timers and callbacks, with
    /// timestamps. Starting discards an earlier trace; stopping keeps it.
    /// See [`trace_events`](Self::trace_events) and
    /// [`write_chrome_trace`](Self::write_chrome_trace).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lp = corio::EventLoop::new()?;
    /// lp.set_trace(true);
    /// lp.run_until_complete(async { corio::spawn(async {}).await.unwrap() });
    /// lp.set_trace(false);
    /// assert!(lp.trace_events().len() >= 4);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn set_trace(&self, on: bool) {
        self.core.debug.set_trace(on);
    }

    /// The events recorded since [`set_trace(true)`](Self::set_trace), in
    /// order (a copy). At most a million are kept; the Chrome trace notes
    /// how many were dropped beyond.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::debug::TraceKind;
    ///
    /// let mut lp = corio::EventLoop::new()?;
    /// lp.set_trace(true);
    /// lp.run_until_complete(async {
    ///     corio::time::sleep(std::time::Duration::from_millis(1)).await;
    /// });
    /// let events = lp.trace_events();
    /// assert!(events.iter().any(|e| matches!(e.kind, TraceKind::TimersFired { count: 1 })));
    /// assert!(events.windows(2).all(|w| w[0].at <= w[1].at));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn trace_events(&self) -> Vec<crate::debug::TraceEvent> {
        self.core.debug.trace.events()
    }

    /// Writes the recorded trace to `path` as Chrome trace-event JSON, to
    /// open in <https://ui.perfetto.dev> or `chrome://tracing`: one track
    /// per task (track 0 is the loop and the main future), polls and
    /// callbacks as slices, spawns, wakes and completions as instants.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lp = corio::EventLoop::new()?;
    /// lp.set_trace(true);
    /// lp.run_until_complete(async { corio::spawn(async {}).await.unwrap() });
    /// let path = std::env::temp_dir().join(format!("corio-doc-trace-{}.json", std::process::id()));
    /// lp.write_chrome_trace(&path)?;
    /// let json = std::fs::read_to_string(&path)?;
    /// assert!(json.starts_with('{') && json.contains("\"ph\":\"X\""));
    /// std::fs::remove_file(&path)?;
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn write_chrome_trace(&self, path: impl AsRef<std::path::Path>) -> io::Result<()> {
        let mut out = io::BufWriter::new(std::fs::File::create(path)?);
        self.core.debug.trace.write_chrome(&mut out)?;
        io::Write::flush(&mut out)
    }

    /// Runs exactly one turn and says what it did (asyncio's `_run_once`):
    /// the stepping API.
    ///
    /// If nothing is ready, the turn first waits — for I/O, another
    /// thread, or the next timer — then it fires due timers and runs what is
    /// ready, and returns. Work that becomes ready while it runs waits for
    /// the next turn. If nothing is ready and nothing could ever be, it
    /// returns at once with [`Turn::idle`] set.
    ///
    /// # Panics
    ///
    /// If another loop is running on this thread.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lp = corio::EventLoop::new()?;
    /// lp.spawn(async {
    ///     corio::spawn(async {}); // ready during the turn: runs at the next
    /// });
    /// assert_eq!(lp.run_once().tasks_polled, 1);
    /// assert_eq!(lp.run_once().tasks_polled, 1);
    /// assert!(lp.run_once().idle);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[track_caller]
    pub fn run_once(&mut self) -> Turn {
        let _enter = Enter::new(&self.core);
        self.turn(None, Wait::UnlessIdle, false)
    }

    /// `corio::run`'s orderly end (asyncio's `_cancel_all_tasks`): the
    /// tasks still pending are cancelled, and the loop turns until their
    /// futures are dropped and their done callbacks have run — a bounded
    /// number of turns, since destructors may spawn. Timers already due
    /// fire in those turns (asyncio's last turns run them too); later
    /// ones are dropped unrun.
    fn cancel_leftovers(&mut self) {
        let _enter = Enter::new(&self.core);
        for _ in 0..64 {
            self.core.cancel_all();
            let now = self.core.refresh_now();
            // (Then a turn does not wait: something is ready or due.)
            let due = self.core.next_timer_timeout(now) == Some(Duration::ZERO);
            if !due && self.core.state.borrow().ready.is_empty() {
                break;
            }
            self.turn(None, Wait::UnlessIdle, false);
        }
    }

    /// One turn of the loop. This is the only place where futures and
    /// callbacks run.
    ///
    /// The order is asyncio's `_run_once`: first find out what is ready
    /// (waiting only if nothing is), then run it. So a turn ends right after
    /// running its work, and `run_once` returns what that work did. The
    /// steps, and where each lives:
    ///
    /// 1. take in what other threads sent (here);
    /// 2. compute how long we may wait (`look_outside`, which is steps 2–5,
    ///    and runs only when nothing is ready or a look is due);
    /// 3. wait in `mio::Poll::poll`;
    /// 4. wake the tasks whose I/O became ready;
    /// 5. fire the due timers;
    /// 6. run what is ready now (`run_ready`, one entry at a time in
    ///    `run_entry`).
    ///
    /// With `chain` (the loop running on its own, not stepped by
    /// `run_once`), step 6 may repeat for the next turns while no look is
    /// due: each repeat is a turn of its own in `stats().turns`, and the
    /// `Turn` returned is their sum.
    fn turn(&self, root: Option<&mut Root<'_>>, wait: Wait, chain: bool) -> Turn {
        let core = &*self.core;
        let mut turn = Turn::default();
        // Polls and callbacks are counted in the loop's counters as they
        // happen (so `stats()` is current inside a task); this turn's share
        // is the difference.
        let (polls, callbacks) = core.counters.run_so_far();

        // 1. Take in what other threads sent: cross-thread wakes and
        //    `call_soon_threadsafe` callbacks join the ready queue.
        //    (`announced`: another thread had announced something — work,
        //    a stop, the poke of its last `LoopHandle` going — so the
        //    `mio::Waker` event step 3 may find is this turn's news.)
        let announced = core.take_remote();

        // 2–5. Look outside — wait for I/O and fire timers — whenever nothing
        //    is ready (then we may block), and otherwise once
        //    `LOOK_INTERVAL` (61) polls and callbacks have run since the
        //    last look — fewer while they are slow, about one look per
        //    millisecond of work (`core::next_look_interval`): a
        //    zero-timeout `epoll_wait` and a clock read cost more than a
        //    quick task poll, so a busy loop batches them (tokio's
        //    `event_interval`), yet a task that keeps waking itself still
        //    lets I/O and timers in within that many polls.
        let has_ready = !core.state.borrow().ready.is_empty();
        // A pending stop request matters only to run_forever, which returns
        // after this turn: don't wait then.
        let stopping = wait == Wait::Block && core.shared().stop_requested();
        let must_look = !has_ready || stopping || core.look_due();
        let must_not_wait = has_ready || stopping;
        if must_look
            && !self.look_outside(&mut turn, must_not_wait, announced, root.as_deref(), wait)
        {
            core.counters.turn();
            return turn; // idle: nothing is ready, nothing ever could be
        }

        // 6. Run what is ready now — and only that. Whatever becomes ready
        //    while these run (a task woken, a task spawned, a callback
        //    scheduled) waits for the next turn, so a task that keeps waking
        //    itself cannot starve timers, I/O or other threads.
        //
        //    When the loop runs on its own (not stepped by run_once), the
        //    next turns follow at once while work is ready and the look
        //    budget lasts: each is just its step 6 (steps 1-5 are skipped
        //    then anyway), without leaving and re-entering this function.
        self.run_ready(root, chain.then_some(wait));
        let (polls_now, callbacks_now) = core.counters.run_so_far();
        turn.tasks_polled = (polls_now - polls) as usize;
        turn.callbacks_run = (callbacks_now - callbacks) as usize;
        turn
    }

    /// May the next turn be just its run phase, without leaving `turn`?
    fn may_run_on(&self, root: Option<&Root<'_>>, wait: Wait) -> bool {
        let core = &*self.core;
        if core.look_due() || core.shared().has_remote() {
            return false; // time to look outside
        }
        if root.is_some_and(|root| root.done) {
            return false; // run_until_complete is done
        }
        if wait == Wait::Block && core.shared().stop_requested() {
            return false; // run_forever was asked to stop
        }
        !core.state.borrow().ready.is_empty()
    }

    /// Step 6 of a turn: runs the entries that are on the ready queue now.
    ///
    /// The turn takes the whole queue (leaving the spare, empty one in its
    /// place), so what becomes ready while these run queues for the next
    /// turn. A turn of one entry — a hand-off between two tasks, say — just
    /// pops it.
    ///
    /// With `chain`, the next turns' run phases follow in the same call
    /// while [`may_run_on`](Self::may_run_on) allows.
    fn run_ready(&self, mut root: Option<&mut Root<'_>>, chain: Option<Wait>) {
        let core = &*self.core;
        loop {
            core.counters.turn();
            // Debug mode and the trace watch every poll and callback, on
            // separate (cold) paths.
            let timed = core.debug.watching();
            let only = {
                let mut st = core.state.borrow_mut();
                if st.ready.len() == 1 {
                    st.ready.pop()
                } else {
                    None
                }
            };
            if let Some(entry) = only {
                self.run_entry(entry, root.as_deref_mut(), timed);
                core.count_polls(1);
            } else {
                let mut batch = Batch::take(core);
                while let Some(entry) = batch.next() {
                    if self.run_entry(entry, root.as_deref_mut(), timed) {
                        break; // the main future is done: leave the rest queued
                    }
                }
                core.count_polls(batch.len());
            }
            match chain {
                Some(wait) if self.may_run_on(root.as_deref(), wait) => {}
                _ => return,
            }
        }
    }

    /// Runs one entry of the ready queue; returns whether it was the main
    /// future and it is done.
    #[inline(always)]
    fn run_entry(&self, entry: Runnable, root: Option<&mut Root<'_>>, timed: bool) -> bool {
        let core = &*self.core;
        let counters = &core.counters;
        // Debug mode or the trace: each callback is timed and traced.
        let watch_one = |run: &mut dyn FnMut()| core.watch_callback(run);
        let watch: Watch<'_> = if timed { Some(&watch_one) } else { None };
        match entry {
            Runnable::Task(key) if key.is_root() => {
                return root.is_some_and(|root| self.poll_root(root, key));
            }
            Runnable::Task(key) if timed => counters.polled(usize::from(core.run_task_timed(key))),
            Runnable::Task(key) => counters.polled(usize::from(core.run_task(key))),
            Runnable::Callback(key) => {
                counters.called(usize::from(core.run_callback(key, watch)));
            }
            Runnable::DoneCallbacks(key) => counters.called(core.run_done_callbacks(key, watch)),
        }
        false
    }

    /// Polls the main future of `run_until_complete` (unless `key` is a
    /// stale one); returns whether it is done. Kept out of line: it runs
    /// once per wake of the main future, not per task poll.
    #[inline(never)]
    fn poll_root(&self, root: &mut Root<'_>, key: crate::waker::TaskKey) -> bool {
        let core = &*self.core;
        if !core.unqueue_root(key) {
            return false;
        }
        let watched = core.debug.watching();
        let started = if watched {
            core.debug.stall.progress();
            core.debug.poll_started(None);
            Some(Instant::now())
        } else {
            None
        };
        let waker = waker_ref(&root.waker);
        let mut cx = Context::from_waker(&waker);
        let polling = core.begin_polling(key, &root.waker);
        root.done = (root.poll)(&mut cx);
        if polling.end() && !root.done {
            core.schedule(key);
        }
        if let Some(started) = started {
            core.debug.poll_ended(None);
            if let Some(took) = core.debug.too_slow(started) {
                core.report_slow_poll(None, Some(root.site), took, true);
            }
        }
        core.counters.polled(1);
        root.done
    }

    /// Steps 2–5 of a turn: compute how long we may wait, wait in
    /// `mio::Poll::poll`, hand out what happened, fire due timers. Returns
    /// false — without waiting — if nothing is ready and nothing could ever
    /// be (an idle turn).
    fn look_outside(
        &self,
        turn: &mut Turn,
        must_not_wait: bool,
        announced: bool,
        root: Option<&Root<'_>>,
        wait: Wait,
    ) -> bool {
        let core = &*self.core;

        // 2. How long may we wait? Not at all if work is ready (or a stop
        //    was asked for); else until the next timer; else until an event
        //    — if any event could ever come.
        //    Every look reads the clock (so the cached clock lags by what
        //    ran since the last look — up to `LOOK_INTERVAL` entries, over
        //    many chained turns, or one larger batch: `Core::loop_time`); a
        //    look that may block reads it once more after the wait.
        let now = core.refresh_now();
        let busy = now.saturating_duration_since(core.looked_at());
        let timeout = if must_not_wait {
            Some(Duration::ZERO)
        } else {
            core.next_timer_timeout(now)
        };
        let may_be_idle = timeout.is_none() && wait == Wait::UnlessIdle;
        if may_be_idle && !core.could_be_woken(root.map(|root| &root.waker)) {
            if root.is_some() && core.debug.is_on() {
                core.explain_idle();
            }
            turn.idle = true;
            return false;
        }
        // (Debug mode and the stall hint only — skip on a first read: they
        // may shorten the wait, or end the turn idle on a proven stall.)
        let mut timeout = timeout;
        let quiet = if may_be_idle {
            match self.watch_quiet_wait(root.is_some(), now, &mut timeout) {
                Some(quiet) => quiet,
                None => {
                    turn.idle = true;
                    return false;
                }
            }
        } else {
            QuietWatch::Off
        };

        // 3. Wait in `mio::Poll::poll` for I/O readiness, a cross-thread
        //    wake-up, or the timeout.
        let waits = timeout != Some(Duration::ZERO);
        let mut io_wakers = core.take_io_wakers();
        let mut polled = core.reactor.borrow_mut().poll(timeout, &mut io_wakers);
        if polled.asked {
            core.counters.io_polled();
        }
        // The `mio::Waker`'s event may be stale: the remote work it
        // announced was taken at step 1 of an earlier turn that did not look
        // outside, and its event stayed in epoll. (What step 1 of this turn
        // took in — work, a stop, or the poke of the last `LoopHandle`
        // going, which asks the loop to look again whether it could still
        // be woken — is this turn's event: it may end the wait.) Nothing
        // woke us then, so wait on for the rest of the time. Several
        // threads announcing at once may leave more than one such event
        // (a thread that raised `notified` may write the eventfd only after
        // the loop took its work), so this repeats; each event is one
        // write, so it cannot spin.
        while waits
            && !announced
            && polled.woken
            && polled.io_events == 0
            && !core.shared().has_remote()
        {
            let rest = timeout.map(|t| t.saturating_sub(now.elapsed()));
            if rest == Some(Duration::ZERO) {
                break;
            }
            polled = core.reactor.borrow_mut().poll(rest, &mut io_wakers);
            if polled.asked {
                core.counters.io_polled();
            }
        }
        // After a wait, the one clock read measures it, refreshes the loop's
        // cached clock (`Core::loop_time`) and tells which timers are due.
        turn.slept = if waits {
            core.refresh_now() - now
        } else {
            Duration::ZERO
        };
        core.note_look();
        turn.io_events = polled.io_events;
        if turn.io_events > 0 && core.debug.tracing() {
            core.debug.trace_io(turn.io_events);
        }

        // 4. Wake whoever waits for what happened: the tasks parked on I/O
        //    sources that became ready, and other threads' wakes and
        //    callbacks, which join the ready queue.
        // (Foreign code, perhaps — a socket polled by another executor's
        // task: a panic stays here, and the wakes after it happen.)
        crate::contain::wake_all_contained(&mut io_wakers);
        core.put_io_wakers(io_wakers);
        if polled.woken {
            core.take_remote();
        }

        // 5. Fire the timers that are due: sleeping tasks are woken and
        //    `call_later` callbacks queued.
        turn.timers_fired = core.fire_timers();
        core.counters.looked(turn.io_events, turn.timers_fired);
        self.end_quiet_wait(quiet);
        core.looked(busy);
        true
    }

    /// Debug mode and the stall hint, when the turn is about to wait for a
    /// wake that may never come (nothing ready, no timer): returns `None`
    /// if the wait is a proven stall (the turn is idle then), else how the
    /// wait is watched, with `timeout` cut to when a warning is due.
    ///
    /// Debug mode: a quiet main future may be stalled for good (proven:
    /// `run_until_complete` panics after this idle turn; a `run_once` turn
    /// is reported here, as nobody else can tell) or for a while (then wait
    /// no longer than the grace period, and report it once that is over).
    /// Without debug mode: a quiet main future that only a held waker can
    /// wake gets a one-line hint after the grace period (`debug/stall.rs`).
    fn watch_quiet_wait(
        &self,
        has_root: bool,
        now: Instant,
        timeout: &mut Option<Duration>,
    ) -> Option<QuietWatch> {
        let core = &*self.core;
        if core.debug.is_on() {
            match core.stall_verdict(has_root) {
                Verdict::Proven => {
                    if !has_root {
                        core.report_proven_stall();
                    }
                    return None;
                }
                Verdict::Unproven if has_root => {
                    *timeout = core.debug.stall.wait_before_warning(Instant::now());
                    return Some(QuietWatch::Stall);
                }
                Verdict::Unproven => {}
                Verdict::Quiet => core.debug.stall.progress(),
            }
        } else if has_root {
            if let Some(rest) = core.hint_wait(now) {
                *timeout = Some(rest);
                return Some(QuietWatch::Hint);
            }
        }
        Some(QuietWatch::Off)
    }

    /// After a watched wait: if it ended with still nothing to do, the
    /// stall warning (debug mode) or the hint, when due.
    fn end_quiet_wait(&self, quiet: QuietWatch) {
        let core = &*self.core;
        let still_quiet = || core.state.borrow().ready.is_empty() && !core.shared().has_remote();
        match quiet {
            QuietWatch::Stall if core.debug.stall.grace_over() && still_quiet() => {
                core.report_stall()
            }
            QuietWatch::Hint if still_quiet() => core.hint_if_due(),
            _ => {}
        }
    }
}

impl Drop for EventLoop {
    fn drop(&mut self) {
        // Not entered: what the loop drops now does not see this loop as
        // running (as in asyncio, whose pending tasks are destroyed after
        // `close`) — it finds no running loop, or, when this loop is dropped
        // inside a task or callback of another loop, that outer loop — so
        // their destructors cannot start work on this loop, which nothing
        // would run any more (work they start on an outer loop runs there).
        // `corio::run` cancels its leftovers while the loop still runs.
        // (Reports made meanwhile still reach this loop's handler.)
        let _closing = crate::context::Closing::new(&self.core);
        self.core.close();
    }
}

impl std::fmt::Debug for EventLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.core.state.borrow();
        f.debug_struct("EventLoop")
            .field("tasks", &st.tasks.len())
            .field("ready", &st.ready.len())
            .field("timers", &st.timers.len())
            .finish()
    }
}

/// Runs `future` on a new event loop and returns its output; then cancels
/// and drops whatever tasks are left (asyncio's `asyncio.run`). Callbacks
/// already queued or due then still run; timers due later are dropped.
///
/// # Panics
///
/// If called while a loop is running on this thread, if the loop cannot be
/// created (the process is out of file descriptors), if `future` panics, or
/// if it can never finish (see
/// [`run_until_complete`](EventLoop::run_until_complete), under Panics).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let answer = corio::run(async {
///     corio::time::sleep(Duration::from_millis(1)).await;
///     42
/// });
/// assert_eq!(answer, 42);
/// ```
#[track_caller]
pub fn run<F: Future>(future: F) -> F::Output {
    match try_run(future) {
        Ok(output) => output,
        Err(e) => panic!("corio::run: could not create an event loop: {e}"),
    }
}

/// [`run`], for a program that wants to handle the one error of its own:
/// the event loop could not be created (the process is out of file
/// descriptors, say) — then `future` is dropped unpolled.
///
/// # Panics
///
/// As [`run`], but for that error.
///
/// # Examples
///
/// ```
/// match corio::try_run(async { 6 * 7 }) {
///     Ok(answer) => assert_eq!(answer, 42),
///     Err(err) => eprintln!("no event loop: {err}"),
/// }
/// ```
#[track_caller]
pub fn try_run<F: Future>(future: F) -> io::Result<F::Output> {
    let mut lp = EventLoop::new()?;
    let output = lp.run_until_complete(future);
    lp.cancel_leftovers();
    Ok(output)
}

/// Runs a closure when dropped (also while unwinding).
fn scopeguard(f: impl FnOnce()) -> impl Drop {
    struct Guard<F: FnOnce()>(Option<F>);
    impl<F: FnOnce()> Drop for Guard<F> {
        fn drop(&mut self) {
            if let Some(f) = self.0.take() {
                f();
            }
        }
    }
    Guard(Some(f))
}

/// The largest emptied queue kept as the spare (entries of 24 bytes).
const SPARE_MAX: usize = 4096;

/// Up to this many entries queued during a turn are moved back into the
/// larger list when the turn ends.
const SWAP_BACK_MAX: usize = 64;

/// The ready queue one turn runs: taken whole from the loop's state, run
/// in order, and given back emptied (for its allocation) when dropped. If
/// the turn stops early — the main future finished, or panicked — the
/// entries not run yet go back to the front of the queue.
struct Batch<'a> {
    core: &'a Core,
    entries: Vec<Runnable>,
    next: usize,
}

impl<'a> Batch<'a> {
    fn take(core: &'a Core) -> Batch<'a> {
        let mut st = core.state.borrow_mut();
        let spare = std::mem::take(&mut st.spare);
        Batch {
            core,
            entries: std::mem::replace(&mut st.ready, spare),
            next: 0,
        }
    }

    fn next(&mut self) -> Option<Runnable> {
        let entry = self.entries.get(self.next).copied();
        self.next += 1;
        entry
    }

    fn len(&self) -> usize {
        self.entries.len()
    }
}

impl Drop for Batch<'_> {
    fn drop(&mut self) {
        // The state is never borrowed while something runs; should it be,
        // the entries are dropped rather than panicking in a destructor
        // (a test build says so, unless a panic is unwinding already).
        let Ok(mut st) = self.core.state.try_borrow_mut() else {
            debug_assert!(
                std::thread::panicking(),
                "corio: the loop's state was borrowed when a turn ended"
            );
            return;
        };
        let mut entries = std::mem::take(&mut self.entries);
        if self.next < entries.len() {
            // Not run yet: before what was queued meanwhile.
            entries.drain(..self.next);
            entries.append(&mut st.ready);
            std::mem::swap(&mut st.ready, &mut entries);
        }
        entries.clear();
        // The larger of the two lists becomes the queue again when few
        // entries came in meanwhile (moving them is cheap then): its
        // capacity is where a burst of spawns between turns lands, without
        // growing a second list as large. The other is kept as the spare —
        // unless a burst made it large too.
        if st.ready.len() <= SWAP_BACK_MAX && entries.capacity() > st.ready.capacity() {
            entries.extend_from_slice(&st.ready);
            st.ready.clear();
            std::mem::swap(&mut st.ready, &mut entries);
        }
        if entries.capacity() > st.spare.capacity() && entries.capacity() <= SPARE_MAX {
            st.spare = entries;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn capacities(lp: &EventLoop) -> (usize, usize) {
        let st = lp.core.state.borrow();
        (st.ready.capacity(), st.spare.capacity())
    }

    #[test]
    fn a_burst_of_spawns_leaves_one_queue_of_its_size_not_two() {
        let mut lp = EventLoop::new().unwrap();
        for round in 0..3 {
            for _ in 0..10_000 {
                drop(lp.spawn(std::future::pending::<()>()));
            }
            lp.run_once();
            let (ready, spare) = capacities(&lp);
            assert!(
                ready >= 10_000,
                "round {round}: the queue kept its capacity ({ready})"
            );
            assert!(spare <= SPARE_MAX, "round {round}: spare {spare}");
        }
    }

    #[test]
    fn a_steady_turn_reuses_both_lists() {
        let mut lp = EventLoop::new().unwrap();
        // 100 tasks that yield forever: each turn runs 100 and queues 100.
        for _ in 0..100 {
            drop(lp.spawn(async {
                loop {
                    crate::yield_now().await;
                }
            }));
        }
        lp.run_once();
        lp.run_once();
        let before = capacities(&lp);
        for _ in 0..10 {
            assert_eq!(lp.run_once().tasks_polled, 100);
        }
        let after = capacities(&lp);
        assert_eq!(
            (before.0.max(before.1), before.0.min(before.1)),
            (after.0.max(after.1), after.0.min(after.1)),
            "no list grew or was dropped"
        );
    }

    #[test]
    fn the_loop_time_is_fresh_after_a_wait_even_with_no_timer_armed() {
        let mut lp = EventLoop::new().unwrap();
        let core = Rc::clone(&lp.core);
        let parked = Arc::new(std::sync::Mutex::new(None::<std::task::Waker>));
        let start = Instant::now();
        let waker_thread = {
            let parked = Arc::clone(&parked);
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(30));
                let waker: Option<std::task::Waker> = parked.lock().unwrap().take();
                waker.expect("the main future parked").wake();
            })
        };
        // No timer is armed: the loop blocks in the reactor until the
        // thread's wake, and the clock read after that wait is the loop's.
        let mut polls = 0;
        let fresh = lp.run_until_complete(std::future::poll_fn(|cx| {
            polls += 1;
            if polls == 1 {
                *parked.lock().unwrap() = Some(cx.waker().clone());
                return std::task::Poll::Pending;
            }
            // Woken by the thread, 30 ms after `start` at the earliest.
            std::task::Poll::Ready(core.loop_time() >= start + Duration::from_millis(30))
        }));
        waker_thread.join().unwrap();
        assert!(fresh, "the loop's clock was not read after its wait");
    }
}
