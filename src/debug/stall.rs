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
//!   ([`ReportKind::Stall`](crate::ReportKind::Stall)), once per stall, and
//!   the loop keeps waiting.

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
             that keeps wakers) may still wake it, so the loop keeps waiting. Who waits on \
             what:\n{}\n{dump}",
            dump.who_waits()
        );
        self.report(Report::new(ReportKind::Stall, message, None));
    }
}
