//! The stall report: a main future that can never finish, explained.
//!
//! `run_until_complete` already refuses to wait when *no* waker of a
//! pending task is held anywhere (it panics instead of hanging). In debug
//! mode it goes further. When the main future is pending, nothing is ready,
//! no timer is armed, no I/O is awaited and no thread-pool job submitted
//! from this loop is still to deliver its outcome (whatever the pool), the
//! loop takes a dump. Then:
//!
//! * If every waiting task's waker clones are held by corio's own waiters —
//!   other tasks' join handles, `Event`s, `Queue`s, `Lock`s … — and no
//!   `LoopHandle` is alive, only code running on this loop could wake
//!   anything, and none is left to run: the stall is **proven**, and
//!   `run_until_complete` panics with who waits on what.
//! * Otherwise a waker may have gone where corio cannot see (another
//!   thread, a hand-written future), so something may yet happen: after
//!   the grace period the dump is **reported** as a warning
//!   ([`crate::ReportKind::Stall`]), once per stall, and
//!   the loop keeps waiting.
//!
//! Without debug mode there are no claims to prove anything with, but the
//! loop can still see the quiet moment itself: the main future pending,
//! nothing ready, no timer armed, no I/O awaited, no pool job of its own in
//! flight, no `LoopHandle` alive — only a waker held somewhere can end the
//! wait (or a job submitted elsewhere, which it does not count). If
//! such a wait lasts the grace period with nothing run, the loop says so
//! once, as a `Stall` report that points to `CORIO_DEBUG=1` (the hint: a
//! deadlock otherwise hangs in silence, as in asyncio). It is said once per
//! loop, since another thread may hold the waker on purpose.

use std::cell::{Cell, RefCell};
use std::time::{Duration, Instant};

use crate::core::Core;
use crate::report::{Report, ReportKind};

/// The stall watch's state.
pub(crate) struct Stall {
    grace: Cell<Duration>,
    /// When the current unproven stall began.
    since: Cell<Option<Instant>>,
    /// The current stall was reported.
    warned: Cell<bool>,
    /// The explanation of a proven stall, for `run_until_complete`'s panic.
    proven: RefCell<Option<String>>,
    /// Without debug mode: when the quiet wait being watched for the hint
    /// began, and the polls and callbacks run by then (if they change,
    /// something ran: a new wait begins).
    quiet: Cell<Option<(Instant, (u64, u64))>>,
    /// The hint was given (once per loop).
    hinted: Cell<bool>,
    /// The last task of another loop that was awaited here while its own
    /// loop was not running (its name, and that loop): said in the stall
    /// messages, since a stall there looks like a waker held elsewhere.
    foreign: RefCell<Option<(String, std::rc::Weak<Core>)>>,
}

/// What the loop concluded, looking at a quiet moment.
pub(crate) enum Verdict {
    /// Something outside may still act: an I/O waiter, a pool job, a
    /// cross-thread wake already queued.
    Quiet,
    /// Nothing corio can see will wake the main future, but something it
    /// cannot see might.
    Unproven,
    /// Nothing can ever wake the main future.
    Proven,
}

impl Stall {
    pub(crate) fn new(grace: Duration) -> Stall {
        Stall {
            grace: Cell::new(grace),
            since: Cell::new(None),
            warned: Cell::new(false),
            proven: RefCell::new(None),
            quiet: Cell::new(None),
            hinted: Cell::new(false),
            foreign: RefCell::new(None),
        }
    }

    /// A task of this loop (or its main future) awaits `task` of the loop
    /// `of`, which is not running.
    pub(crate) fn note_foreign_wait(&self, task: impl FnOnce() -> String, of: &std::rc::Rc<Core>) {
        let mut foreign = self.foreign.borrow_mut();
        let known = foreign
            .as_ref()
            .is_some_and(|(_, known)| std::ptr::eq(known.as_ptr(), std::rc::Rc::as_ptr(of)));
        if !known {
            *foreign = Some((task(), std::rc::Rc::downgrade(of)));
        }
    }

    /// The stall messages' note on a task of another loop awaited here,
    /// if that loop still exists and is not running; else empty.
    fn foreign_note(&self) -> String {
        match &*self.foreign.borrow() {
            Some((task, of)) if of.upgrade().is_some_and(|of| !of.is_running()) => format!(
                " Awaited here: task {task:?} of another event loop, which is not running — \
                 one thread runs one loop at a time, so only running that loop (or dropping \
                 it: the task ends Cancelled) can end that wait; to hand work between loops \
                 on different threads, use LoopHandle::run_coroutine_threadsafe."
            ),
            _ => String::new(),
        }
    }

    pub(crate) fn set_grace(&self, grace: Duration) {
        self.grace.set(grace);
    }

    /// Something ran: whatever stall there was is over.
    #[inline]
    pub(crate) fn progress(&self) {
        self.since.set(None);
        self.warned.set(false);
    }

    /// How long the loop may wait before the unproven stall that begins
    /// (or goes on) now is to be reported; `None` once it was.
    pub(crate) fn wait_before_warning(&self, now: Instant) -> Option<Duration> {
        if self.warned.get() {
            return None;
        }
        let since = self.since.get().unwrap_or(now);
        self.since.set(Some(since));
        Some(
            self.grace
                .get()
                .saturating_sub(now.saturating_duration_since(since)),
        )
    }

    /// The grace period (`EventLoop::set_stall_grace`).
    pub(crate) fn grace(&self) -> Duration {
        self.grace.get()
    }

    /// Is the grace period of the current stall over (and not reported)?
    pub(crate) fn grace_over(&self) -> bool {
        !self.warned.get()
            && self
                .since
                .get()
                .is_some_and(|since| since.elapsed() >= self.grace.get())
    }

    /// The explanation of the proven stall, if there was one.
    pub(crate) fn take_proven(&self) -> Option<String> {
        self.proven.borrow_mut().take()
    }
}

impl Core {
    /// Looks at a quiet moment of `run_until_complete` (debug mode: the
    /// main future is pending, nothing is ready, no timer is armed) — or,
    /// without a main future (`!main`), of `run_once`: tasks are pending.
    pub(crate) fn stall_verdict(&self, main: bool) -> Verdict {
        // Order matters (see `could_be_woken`): what other threads hold is
        // counted first — pool jobs, handles, waker clones in the dump —
        // and the remote queue is looked at last.
        let shared = self.shared();
        if shared.jobs_in_flight() > 0 || self.reactor.borrow().has_waiters() {
            return Verdict::Quiet;
        }
        let handles = shared.live_handles();
        // (A live handle makes the stall unprovable: no dump needed.)
        let dump = (handles == 0).then(|| self.dump());
        std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
        if shared.has_remote() {
            return Verdict::Quiet;
        }
        let Some(dump) = dump.filter(|dump| dump.only_the_loop_can_wake()) else {
            return Verdict::Unproven;
        };
        let what = if main {
            "run_until_complete would block forever: the main future is pending and nothing \
             can ever wake it"
        } else {
            "run_once would block forever: tasks are pending and nothing can ever wake them"
        };
        // (A panic's message names corio; a report is corio's already.)
        let prefix = if main { "corio: " } else { "" };
        let message = format!(
            "{prefix}{what}.\n\
             Nothing is ready to run, no timer is armed, no I/O is awaited, no thread-pool job \
             is in flight, and no other thread holds a LoopHandle or a waker. Who waits on what:\n\
             {}\
             Each of these can only be woken by code running on this loop, and none is left to \
             run: something that should have been set, released, sent or finished never was.\n\
             \n{dump}",
            dump.who_waits()
        );
        *self.debug.stall.proven.borrow_mut() = Some(message);
        Verdict::Proven
    }

    /// The proof that needs no dump failed too (no waker is held at all):
    /// in debug mode, the panic still says who waits on what.
    pub(crate) fn explain_idle(&self) {
        let dump = self.dump();
        let message = format!(
            "corio: run_until_complete would block forever: the main future is pending and \
             nobody holds a waker that could wake it (no task is ready, no timer or I/O is \
             armed, no other thread holds a waker or a LoopHandle). Who waits on what:\n{}\n{dump}",
            dump.who_waits()
        );
        *self.debug.stall.proven.borrow_mut() = Some(message);
    }

    /// A stall proven in `run_once`: the turn is idle, and the proof is
    /// reported (`run_until_complete` panics with it instead).
    /// Once per stall: a caller that turns again at once (`while !done {
    /// lp.run_once(); }`) hears it once, until something runs.
    pub(crate) fn report_proven_stall(&self) {
        let proof = self.debug.stall.take_proven();
        if let Some(proof) = proof.filter(|_| !self.debug.stall.warned.replace(true)) {
            self.report(Report::new(ReportKind::Stall, proof, None));
        }
    }

    /// Without debug mode, at a quiet look of `run_until_complete` (the
    /// main future pending, nothing ready, no timer armed): if nothing else
    /// corio can see could end the wait either — no I/O awaited, no pool job
    /// of this loop's in flight, no `LoopHandle` alive, no wake queued by
    /// another thread —
    /// how long the loop may wait before it gives the hint. `None`: wait as
    /// usual (the hint was given, or is off, or something may yet act).
    /// (Pool jobs count only if submitted from this loop: a job submitted
    /// elsewhere is like another thread's waker, and the hint says so.)
    pub(crate) fn hint_wait(&self, now: Instant) -> Option<Duration> {
        let stall = &self.debug.stall;
        let grace = stall.grace.get();
        if stall.hinted.get() || grace == Duration::MAX {
            return None;
        }
        // Order matters, as in `could_be_woken`: what other threads hold is
        // counted first, the remote queue looked at last.
        let shared = self.shared();
        let jobs = shared.jobs_in_flight() > 0;
        let outside = shared.live_handles() > 0 || self.reactor.borrow().has_waiters();
        std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
        if outside || shared.has_remote() {
            stall.quiet.set(None);
            return None;
        }
        if jobs {
            // Not quiet — but look again after the grace period: a job
            // wakes its task before its count comes down, and without debug
            // mode nothing pokes the loop when it does (that would cost a
            // system call per job), so the count seen now may be stale.
            stall.quiet.set(None);
            return Some(grace);
        }
        let ran = self.counters.run_so_far();
        let since = match stall.quiet.get() {
            Some((since, before)) if before == ran => since,
            _ => {
                stall.quiet.set(Some((now, ran)));
                now
            }
        };
        Some(grace.saturating_sub(now.saturating_duration_since(since)))
    }

    /// After a wait that `hint_wait` bounded, with nothing ready: if the
    /// grace period went by and nothing ran meanwhile, give the hint.
    pub(crate) fn hint_if_due(&self) {
        let stall = &self.debug.stall;
        let Some((since, ran)) = stall.quiet.get() else {
            return;
        };
        let waited = since.elapsed();
        if stall.hinted.get() || ran != self.counters.run_so_far() || waited < stall.grace.get() {
            return;
        }
        stall.hinted.set(true);
        let message = format!(
            "stalled? the main future has waited {waited:.1?} with nothing ready, no timer \
             armed, no I/O awaited, no thread-pool job of this loop's in flight and no \
             LoopHandle alive: only a waker held by a task or another thread (or a job \
             submitted elsewhere) can wake it now, so the loop keeps waiting. If this is a \
             deadlock (tasks waiting on each other's locks, an Event nobody sets, a queue \
             nobody feeds), run with CORIO_DEBUG=1 to be told who waits on what. If another \
             thread will wake it, this can be ignored: it is said once per loop \
             (EventLoop::set_stall_grace(Duration::MAX) turns it off).{}",
            stall.foreign_note()
        );
        self.report(Report::new(ReportKind::Stall, message, None));
    }

    /// The grace period of an unproven stall is over: report the dump.
    pub(crate) fn report_stall(&self) {
        let stall = &self.debug.stall;
        stall.warned.set(true);
        let waited = stall.since.get().map_or(Duration::ZERO, |t| t.elapsed());
        let dump = self.dump();
        let handles = self.shared().live_handles();
        let handles = if handles > 0 {
            format!(" {handles} LoopHandle(s) are alive;")
        } else {
            String::new()
        };
        let message = format!(
            "stalled? the main future has waited {waited:.1?} with nothing ready, no timer armed and no \
             I/O awaited;{handles} something outside corio's sight (another thread, a future \
             that keeps wakers) may still wake it, so the loop keeps waiting.{} Who waits on \
             what:\n{}\n{dump}",
            stall.foreign_note(),
            dump.who_waits()
        );
        self.report(Report::new(ReportKind::Stall, message, None));
    }
}
