//! Which loop is running on this thread.
//!
//! asyncio keeps "the running loop" in a thread-local so that
//! `asyncio.ensure_future(coro)` needs no loop argument; corio does the same.
//! While `run_until_complete`, `run_forever` or `run_once` is on the stack,
//! [`CURRENT`] holds the loop's [`Core`]. Free functions such as
//! [`spawn`](crate::spawn) and [`sleep`](crate::time::sleep) find the loop
//! here, and a waker finds out here whether it is being called on its own
//! loop's thread (the cheap, local path) or from elsewhere.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use crate::core::Core;

thread_local! {
    static CURRENT: RefCell<Option<Rc<Core>>> = const { RefCell::new(None) };
}

/// Runs `f` with the loop running on this thread, if there is one.
///
/// Returns `None` when no loop runs here — or when this thread is being torn
/// down, or the slot is being changed, which callers treat the same way.
pub(crate) fn with_current<R>(f: impl FnOnce(&Rc<Core>) -> R) -> Option<R> {
    CURRENT
        .try_with(|cur| match cur.try_borrow() {
            Ok(cur) => cur.as_ref().map(f),
            Err(_) => None,
        })
        .ok()
        .flatten()
}

/// The running loop, or a panic that says what was called outside of one.
///
/// This is asyncio's `RuntimeError: no running event loop`.
#[track_caller]
pub(crate) fn current(what: &str) -> Rc<Core> {
    match with_current(Rc::clone) {
        Some(core) => core,
        None => panic!(
            "{what}: no running event loop on this thread; call it from a task or callback \
             running on a corio loop, e.g. inside `corio::run(async {{ .. }})` (a future made \
             outside and handed to the loop, as in `lp.run_until_complete(sleep(d))`, is made \
             too early: write `lp.run_until_complete(async {{ sleep(d).await }})`)"
        ),
    }
}

thread_local! {
    /// The cooperative budget of the poll running on this thread: the
    /// address of the polled waker's data (null between polls) and how
    /// many operations that poll may still complete at once (see
    /// `Core::take_io_budget`). Here, not in `Core`, so that corio's
    /// primitives reach it in one thread-local load (no destructor, so
    /// no registration check) rather than through `CURRENT`.
    static BUDGET: Cell<(*const (), u32)> = const { Cell::new((std::ptr::null(), 0)) };
}

/// A poll begins with `waker_data`'s waker: its budget is full.
#[inline]
pub(crate) fn start_budget(waker_data: *const ()) {
    BUDGET.with(|budget| budget.set((waker_data, crate::core::IO_BUDGET)));
}

/// The poll has ended: no budget until the next begins.
#[inline]
pub(crate) fn end_budget() {
    BUDGET.with(|budget| budget.set((std::ptr::null(), 0)));
}

/// Takes one operation from the budget of the task the running loop is
/// polling (see `Core::take_io_budget`); true between polls, or when
/// `waker` is not that task's.
#[inline(always)]
pub(crate) fn take_io_budget(waker: &std::task::Waker) -> bool {
    BUDGET.with(|budget| {
        let (polled, left) = budget.get();
        if polled.is_null() || !std::ptr::eq(waker.data(), polled) {
            return true;
        }
        if left == 0 {
            return false;
        }
        budget.set((polled, left - 1));
        true
    })
}

/// The same budget for corio's own waiting primitives (locks, semaphores,
/// queues and channels, events), as tokio's channels and locks take from
/// its cooperative budget: `Pending` — with the task woken, so that it
/// comes back at its next turn — once the polled task has spent its
/// budget; else one is taken. Asked at the top of a primitive's poll,
/// before anything changes, so that a task whose channel is never empty
/// (or whose lock is never taken) still yields to timers, I/O and the
/// other tasks.
#[inline(always)]
pub(crate) fn poll_budget(cx: &std::task::Context<'_>) -> std::task::Poll<()> {
    if take_io_budget(cx.waker()) {
        std::task::Poll::Ready(())
    } else {
        budget_spent(cx)
    }
}

/// Out of line: once per `IO_BUDGET` operations at most.
#[cold]
#[inline(never)]
fn budget_spent(cx: &std::task::Context<'_>) -> std::task::Poll<()> {
    cx.waker().wake_by_ref();
    std::task::Poll::Pending
}

/// Marks `core` as the running loop until the guard is dropped.
///
/// Entering while another loop runs on this thread panics: a nested
/// `run_until_complete` would block the outer loop forever.
pub(crate) struct Enter {
    core: Rc<Core>,
}

impl Enter {
    #[track_caller]
    pub(crate) fn new(core: &Rc<Core>) -> Enter {
        let entered = CURRENT.try_with(|cur| {
            let mut cur = cur.borrow_mut();
            if cur.is_some() {
                return false;
            }
            *cur = Some(Rc::clone(core));
            true
        });
        let Ok(entered) = entered else {
            panic!(
                "corio: cannot run an event loop on a thread that is ending (from a \
                 thread-local's destructor, after corio's own thread-locals are gone)"
            );
        };
        if !entered {
            panic!(
                "corio: cannot run an event loop while another one is running on this thread \
                 (asyncio: \"This event loop is already running\"); inside a task, `.await` the \
                 future instead, or `corio::spawn` it"
            );
        }
        core.set_running(true);
        // The cached clock is as old as the loop's last run (or its
        // creation): bring it up to date before anything reads it.
        core.refresh_now();
        Enter {
            core: Rc::clone(core),
        }
    }
}

impl Drop for Enter {
    fn drop(&mut self) {
        self.core.set_running(false);
        // Take the Rc out first, drop it after the slot is released.
        let core = CURRENT
            .try_with(|cur| cur.borrow_mut().take())
            .ok()
            .flatten();
        drop(core);
    }
}

thread_local! {
    /// The loop whose `spawn_blocking` job runs on this (pool) thread: so
    /// that [`LoopHandle::current`](crate::LoopHandle::current) works
    /// inside the job, as tokio's `Handle::current()` does inside its
    /// `spawn_blocking`.
    static JOB_LOOP: RefCell<Option<std::sync::Arc<crate::handle::Shared>>> =
        const { RefCell::new(None) };
}

/// Runs `job` (on a pool thread) as a job of the loop `shared` belongs
/// to: [`job_loop`] gives it back meanwhile, also if `job` panics.
pub(crate) fn run_job_of<T>(
    shared: std::sync::Arc<crate::handle::Shared>,
    job: impl FnOnce() -> T,
) -> T {
    struct Restore(Option<std::sync::Arc<crate::handle::Shared>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            let _ = JOB_LOOP.try_with(|slot| *slot.borrow_mut() = previous);
        }
    }
    let previous = JOB_LOOP
        .try_with(|slot| slot.replace(Some(shared)))
        .ok()
        .flatten();
    let _restore = Restore(previous);
    job()
}

/// The loop of the `spawn_blocking` job running on this thread, if any.
pub(crate) fn job_loop() -> Option<std::sync::Arc<crate::handle::Shared>> {
    JOB_LOOP
        .try_with(|slot| slot.borrow().clone())
        .ok()
        .flatten()
}

thread_local! {
    /// The loop being closed on this thread (not entered: see
    /// `EventLoop::drop`), for reports made while it drops its tasks.
    static CLOSING: RefCell<Option<std::rc::Weak<Core>>> = const { RefCell::new(None) };
}

/// Marks `core` as the loop being closed here until the guard is dropped.
pub(crate) struct Closing(Option<std::rc::Weak<Core>>);

impl Closing {
    pub(crate) fn new(core: &Rc<Core>) -> Closing {
        // (`try_with`: a loop kept in another thread-local may be dropped
        // as its thread ends, after this one is gone.)
        let previous = CLOSING
            .try_with(|closing| closing.borrow_mut().replace(Rc::downgrade(core)))
            .ok()
            .flatten();
        Closing(previous)
    }
}

impl Drop for Closing {
    fn drop(&mut self) {
        let previous = self.0.take();
        let _ = CLOSING.try_with(|closing| *closing.borrow_mut() = previous);
    }
}

/// Reports `report` to the loop being closed on this thread — whose tasks
/// are what is being dropped, even inside another loop that runs here —
/// else to the loop running here, else on stderr.
pub(crate) fn report_here(report: crate::report::Report) {
    let closing = CLOSING
        .try_with(|closing| closing.borrow().as_ref().and_then(std::rc::Weak::upgrade))
        .ok()
        .flatten();
    match closing.or_else(|| with_current(Rc::clone)) {
        Some(core) => core.report(report),
        None => crate::report::print_report(&report),
    }
}
