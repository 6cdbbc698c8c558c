//! Seeing inside the loop: debug mode, the task dump, the stall report and
//! the trace.
//!
//! Everything here answers a question people ask of a running async
//! program — "which task is blocking the loop?", "where is my program
//! stuck?", "what ran when?" — and costs next to nothing while it is off.
//!
//! * **Counters**, always on: [`corio::stats`](crate::stats()).
//! * **Debug mode** (asyncio's `loop.set_debug(True)`):
//!   [`EventLoop::set_debug`](crate::EventLoop::set_debug), or
//!   `CORIO_DEBUG=1` in the environment when the loop is created. Then:
//!   - a task poll (the main future's included) or a callback that holds
//!     the loop for
//!     [`slow_callback_duration`](crate::EventLoop::set_slow_callback_duration)
//!     (100 ms) or longer is reported ([`ReportKind::SlowCallback`]) — a
//!     task's report names it and, if it was spawned in debug mode, where;
//!     a `call_soon`/`call_later`/`call_at` callback's names where it was
//!     scheduled;
//!   - tasks still pending when a loop is dropped are listed
//!     ([`ReportKind::DestroyedPending`]; [`corio::run`](crate::run) cancels
//!     them in order first, and a loop dropped by a panic stays quiet);
//!   - the loop keeps, per task spawned in debug mode, where it was
//!     spawned, by which task, when, and how often it was polled and woken
//!     — in a side table that is filled only in debug mode (and emptied
//!     when it is switched off), so normal tasks stay small; [`dump()`] shows
//!     it;
//!   - a main future that can never finish is a **stall**, explained (see
//!     below).
//! * **The dump**: [`EventLoop::dump`](crate::EventLoop::dump) or [`dump()`]
//!   lists every task with what it waits on: a timer and its deadline, a
//!   socket direction, another task, or a sync primitive (`Event`,
//!   `Semaphore`, `Queue` …, which report themselves in debug mode). In
//!   debug mode it also says who holds a `Lock` that a task waits for
//!   (`Lock#1 is held by task 2 "transfer"`), which makes a lock-order
//!   deadlock plain; the stall report has the same lines.
//! * **The stall report**: in debug mode, when the main future of
//!   `run_until_complete` is pending and nothing is ready, no timer is
//!   armed, no I/O is awaited and no thread-pool job submitted from this
//!   loop still has an outcome to deliver (a detached job — its handle
//!   dropped, no done callback — does not count, even while it runs), the loop
//!   checks who holds the wakers of the waiting tasks (through `gather`,
//!   `wait` and `TaskGroup` too). If every one is held
//!   by corio's own waiters (a task, an `Event`, a `Queue` …), nothing can
//!   ever run again to wake them: the loop panics with the dump and says
//!   who waits on what — gevent's "This operation would block forever",
//!   with the answer. If a waker may have gone elsewhere (to another
//!   thread, to a future corio does not know) or a
//!   [`LoopHandle`](crate::LoopHandle) is alive, it cannot prove anything:
//!   after [`stall_grace`](crate::EventLoop::set_stall_grace) (5 s) it
//!   reports the dump as a warning ([`ReportKind::Stall`]) and keeps
//!   waiting. (Without debug mode, such a wait with no pool job of its own in flight
//!   and no `LoopHandle` alive gets a one-line hint after the grace period,
//!   once per loop, that points here.) (The proof trusts that a primitive with waiters stays on
//!   its loop's thread, which holds as long as each wait future is either
//!   pending in a task or dropped: a wait leaked with `mem::forget`, its
//!   primitive then sent to another thread that sets it, can be taken for
//!   a stall.)
//! * **The trace**: [`EventLoop::set_trace`](crate::EventLoop::set_trace)
//!   records spawns, polls, wakes, completions, I/O, timers and callbacks
//!   with timestamps; [`EventLoop::write_chrome_trace`](crate::EventLoop::write_chrome_trace)
//!   writes them for Perfetto or `chrome://tracing`, and
//!   [`EventLoop::trace_events`](crate::EventLoop::trace_events) hands them
//!   to your own code (the `timeline` example draws an SVG from them).
//!
//! # Examples
//!
//! ```
//! use corio::debug::Waiting;
//!
//! let mut lp = corio::EventLoop::new()?;
//! lp.set_debug(true);
//! lp.run_until_complete(async {
//!     let event = std::rc::Rc::new(corio::sync::Event::new());
//!     let e = event.clone();
//!     let waiter = corio::Builder::new().name("waiter").spawn(async move { e.wait().await });
//!     corio::yield_now().await; // the waiter runs and parks
//!     let dump = corio::debug::dump();
//!     let row = dump.task(waiter.id()).unwrap();
//!     assert_eq!(row.name, "waiter");
//!     assert!(matches!(row.waiting_on[..], [Waiting::Sync { kind: "Event", .. }]));
//!     println!("{dump}");
//!     event.set();
//!     waiter.await.unwrap();
//! });
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! [`ReportKind::SlowCallback`]: crate::ReportKind::SlowCallback
//! [`ReportKind::DestroyedPending`]: crate::ReportKind::DestroyedPending
//! [`ReportKind::Stall`]: crate::ReportKind::Stall

mod dump;
mod park;
mod stall;
mod trace;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::panic::Location;
use std::time::{Duration, Instant};

use crate::task::TaskId;
use crate::waker::TaskKey;

pub use dump::{Dump, MainDump, Status, TaskDump, Waiting, dump};
pub(crate) use park::{Number, ParkNote, ParkedWaker, Relays, hold_note};
pub(crate) use stall::{Stall, Verdict};
pub(crate) use trace::Recorder;
pub use trace::{TraceEvent, TraceKind};

/// asyncio's default `slow_callback_duration`.
pub(crate) const DEFAULT_SLOW: Duration = Duration::from_millis(100);

/// How long a stall that cannot be proven lasts before it is reported.
pub(crate) const DEFAULT_STALL_GRACE: Duration = Duration::from_secs(5);

/// How many loops in the process are in debug mode: the sync primitives'
/// notes look here first, so that with none they cost one load.
static DEBUG_LOOPS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Might any loop of the process be in debug mode? (Process-wide: one loop
/// in debug mode makes every loop pay the few checks behind this.)
#[inline]
pub(crate) fn any_debug_loop() -> bool {
    DEBUG_LOOPS.load(std::sync::atomic::Ordering::Relaxed) > 0
}

/// Debug mode is on.
const DEBUG: u8 = 1;
/// The trace is recording.
const TRACE: u8 = 2;

/// What debug mode remembers of one task.
pub(crate) struct TaskDebug {
    pub(crate) site: &'static Location<'static>,
    pub(crate) born: Instant,
    pub(crate) parent: Option<TaskId>,
    pub(crate) polls: u64,
    pub(crate) wakes: u64,
}

/// The loop's debug state.
pub(crate) struct Debug {
    /// `DEBUG | TRACE`: the one thing the hot paths look at.
    flags: Cell<u8>,
    /// `slow_callback_duration` (kept while debug mode is off).
    threshold: Cell<Duration>,
    /// Per-task data (debug mode only).
    tasks: RefCell<HashMap<TaskKey, TaskDebug>>,
    /// Wakers parked in corio's sync primitives (debug mode only).
    pub(crate) parked: park::Parked,
    /// The stall watch of `run_until_complete`.
    pub(crate) stall: Stall,
    /// The trace, while recording.
    pub(crate) trace: Recorder,
    /// The task whose watched poll runs now, and whether that poll's end
    /// was traced already (the task finished in it).
    in_poll: Cell<Option<TaskKey>>,
    poll_closed: Cell<bool>,
    /// Where each pending `call_soon`/`call_later`/`call_at` callback was
    /// scheduled, by its sequence number (debug mode only).
    callback_sites: RefCell<HashMap<u64, &'static Location<'static>>>,
    /// The site of the callback running now, for a slow-callback report.
    pub(crate) running_callback: Cell<Option<&'static Location<'static>>>,
}

impl Debug {
    /// Off, unless `CORIO_DEBUG` is set — to anything but empty, `0`,
    /// `false`, `no` or `off`.
    pub(crate) fn from_env() -> Debug {
        let on = std::env::var("CORIO_DEBUG").is_ok_and(|v| {
            let v = v.trim().to_ascii_lowercase();
            !["", "0", "false", "no", "off"].contains(&v.as_str())
        });
        if on {
            DEBUG_LOOPS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Debug {
            flags: Cell::new(if on { DEBUG } else { 0 }),
            threshold: Cell::new(DEFAULT_SLOW),
            tasks: RefCell::new(HashMap::new()),
            parked: park::Parked::default(),
            stall: Stall::new(DEFAULT_STALL_GRACE),
            trace: Recorder::default(),
            in_poll: Cell::new(None),
            poll_closed: Cell::new(false),
            callback_sites: RefCell::new(HashMap::new()),
            running_callback: Cell::new(None),
        }
    }

    pub(crate) fn set(&self, on: bool) {
        use std::sync::atomic::Ordering::Relaxed;
        match (self.is_on(), on) {
            (false, true) => drop(DEBUG_LOOPS.fetch_add(1, Relaxed)),
            (true, false) => drop(DEBUG_LOOPS.fetch_sub(1, Relaxed)),
            _ => {}
        }
        self.set_flag(DEBUG, on);
        if !on {
            self.tasks.borrow_mut().clear();
            self.callback_sites.borrow_mut().clear();
        }
    }

    /// Debug mode: a callback numbered `seq` was scheduled at `site`.
    #[cold]
    pub(crate) fn callback_scheduled(&self, seq: u64, site: Option<&'static Location<'static>>) {
        if let Some(site) = site.filter(|_| self.is_on()) {
            self.callback_sites.borrow_mut().insert(seq, site);
        }
    }

    /// Forgets where every callback was scheduled (the loop closes: its
    /// callbacks are dropped unrun).
    pub(crate) fn forget_callback_sites(&self) {
        self.callback_sites.borrow_mut().clear();
    }

    /// Forgets (and gives) where the callback numbered `seq` was
    /// scheduled: it runs now, or was cancelled.
    pub(crate) fn callback_site(&self, seq: u64) -> Option<&'static Location<'static>> {
        let mut sites = self.callback_sites.borrow_mut();
        if sites.is_empty() {
            return None;
        }
        sites.remove(&seq)
    }

    pub(crate) fn set_trace(&self, on: bool) {
        self.set_flag(TRACE, on);
        if on {
            self.trace.start();
        } else {
            self.trace.stop();
        }
    }

    fn set_flag(&self, flag: u8, on: bool) {
        let flags = self.flags.get();
        self.flags
            .set(if on { flags | flag } else { flags & !flag });
    }

    /// Debug mode is on.
    #[inline]
    pub(crate) fn is_on(&self) -> bool {
        self.flags.get() & DEBUG != 0
    }

    /// The trace is recording.
    #[inline]
    pub(crate) fn tracing(&self) -> bool {
        self.flags.get() & TRACE != 0
    }

    /// Debug mode or the trace: polls and callbacks take the watched path.
    #[inline]
    pub(crate) fn watching(&self) -> bool {
        self.flags.get() != 0
    }

    pub(crate) fn set_threshold(&self, threshold: Duration) {
        self.threshold.set(threshold);
    }

    pub(crate) fn threshold(&self) -> Duration {
        self.threshold.get()
    }

    /// How long since `started`, if that is too long (in debug mode).
    pub(crate) fn too_slow(&self, started: Instant) -> Option<Duration> {
        let took = started.elapsed();
        (self.is_on() && took >= self.threshold.get()).then_some(took)
    }

    /// A task was spawned (by `parent`, if a task spawned it). Callers
    /// check [`watching`](Self::watching) first.
    #[cold]
    pub(crate) fn spawned(
        &self,
        key: TaskKey,
        name: String,
        site: &'static Location<'static>,
        parent: Option<TaskKey>,
    ) {
        let parent = parent.map(|key| TaskId(key.seq));
        if self.is_on() {
            let info = TaskDebug {
                site,
                born: Instant::now(),
                parent,
                polls: 0,
                wakes: 0,
            };
            self.tasks.borrow_mut().insert(key, info);
        }
        self.trace
            .record(TraceKind::Spawn { parent, name }, Some(TaskId(key.seq)));
    }

    /// A task was woken (`remote`: from another thread). Callers check
    /// [`watching`](Self::watching) first, so that a wake with everything
    /// off does not even read the waker's key.
    #[cold]
    pub(crate) fn woke(&self, key: TaskKey, remote: bool) {
        if let Some(info) = self.tasks.borrow_mut().get_mut(&key) {
            info.wakes += 1;
        }
        let task = (!key.is_root()).then_some(TaskId(key.seq));
        self.trace.record(TraceKind::Wake { remote }, task);
    }

    /// The look's wait in `mio::Poll` returned `events` (trace only;
    /// traced before the wakes they cause).
    #[cold]
    pub(crate) fn trace_io(&self, events: usize) {
        self.trace.record(TraceKind::IoReady { events }, None);
    }

    /// `count` timers are due (trace only; traced before the wakes they
    /// cause).
    #[cold]
    pub(crate) fn trace_timers(&self, count: usize) {
        self.trace.record(TraceKind::TimersFired { count }, None);
    }

    /// A watched poll of `key` begins (`None`: the main future).
    pub(crate) fn poll_started(&self, key: Option<TaskKey>) {
        if let Some(key) = key {
            if let Some(info) = self.tasks.borrow_mut().get_mut(&key) {
                info.polls += 1;
            }
        }
        self.in_poll.set(key);
        self.poll_closed.set(false);
        self.trace
            .record(TraceKind::PollStart, key.map(|k| TaskId(k.seq)));
    }

    /// The watched poll of `key` ended (unless its end was traced already,
    /// when the task finished in it).
    pub(crate) fn poll_ended(&self, key: Option<TaskKey>) {
        self.in_poll.set(None);
        if !self.poll_closed.replace(false) {
            self.trace
                .record(TraceKind::PollEnd, key.map(|k| TaskId(k.seq)));
        }
    }

    /// A task finished (traced as `Complete`). Its debug data stays until
    /// its slot is freed ([`released`](Self::released)): a dump still
    /// shows it while its outcome waits for its handle, and a panic
    /// reported later still names where it was spawned.
    #[inline]
    pub(crate) fn finished(&self, key: TaskKey) {
        if self.tracing() {
            self.finished_traced(key);
        }
    }

    #[cold]
    fn finished_traced(&self, key: TaskKey) {
        let task = Some(TaskId(key.seq));
        if self.in_poll.get() == Some(key) {
            // It finished in the poll being traced: the poll is over (its
            // future returned), so its slice ends here — before whatever
            // finishing it causes (the wake of its awaiter) is traced.
            self.in_poll.set(None);
            self.poll_closed.set(true);
            self.trace.record(TraceKind::PollEnd, task);
        }
        self.trace.record(TraceKind::Complete, task);
    }

    /// A task's slot was freed: forgets its debug data.
    #[inline]
    pub(crate) fn released(&self, key: TaskKey) {
        if self.is_on() {
            self.tasks.borrow_mut().remove(&key);
        }
    }

    pub(crate) fn site(&self, key: TaskKey) -> Option<&'static Location<'static>> {
        self.tasks.borrow().get(&key).map(|info| info.site)
    }

    /// Runs `f` with the task's debug data, if debug mode has any.
    pub(crate) fn with_task<R>(&self, key: TaskKey, f: impl FnOnce(&TaskDebug) -> R) -> Option<R> {
        self.tasks.borrow().get(&key).map(f)
    }
}

impl Drop for Debug {
    fn drop(&mut self) {
        if self.is_on() {
            DEBUG_LOOPS.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
    }
}
