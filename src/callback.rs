//! Plain callbacks: `call_soon`, `call_later`, `call_at`.
//!
//! asyncio's loop is, at bottom, a queue of callbacks; tasks are built on top
//! (each step of a coroutine is a callback). corio keeps callbacks as a
//! first-class citizen on the same ready queue as task polls: a `call_soon`
//! callback runs at the next turn, in order with the tasks woken before and
//! after it.
//!
//! A callback waits in a slab until it runs, so its [`CallbackHandle`] can
//! cancel it; `call_later` also arms a timer that queues it when due.

use std::panic::Location;
use std::rc::Rc;
use std::time::{Duration, Instant};

use slab::Slab;

use crate::context;
use crate::core::{Core, Runnable};
use crate::report::{Report, ReportKind, panic_message};
use crate::timers::{TimerAction, TimerKey};

/// Names a callback: slab index plus a sequence number that never repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CallbackKey {
    index: u32,
    seq: u64,
}

/// A callback waiting to run.
pub(crate) struct CallbackSlot {
    seq: u64,
    f: Box<dyn FnOnce()>,
    /// Armed timer of a `call_later` callback that is not due yet.
    pub(crate) timer: Option<TimerKey>,
}

pub(crate) fn slot_mut(
    callbacks: &mut Slab<CallbackSlot>,
    key: CallbackKey,
) -> Option<&mut CallbackSlot> {
    callbacks
        .get_mut(key.index as usize)
        .filter(|slot| slot.seq == key.seq)
}

impl Core {
    fn insert_callback(
        &self,
        f: Box<dyn FnOnce()>,
        when: Option<Instant>,
        site: Option<&'static Location<'static>>,
    ) -> CallbackKey {
        let mut st = self.state.borrow_mut();
        let st = &mut *st;
        let seq = st.next_callback_seq;
        if site.is_some() && self.debug.is_on() {
            self.debug.callback_scheduled(seq, site);
        }
        st.next_callback_seq += 1;
        let entry = st.callbacks.vacant_entry();
        let index =
            u32::try_from(entry.key()).expect("corio: more than 4 billion callbacks pending");
        let key = CallbackKey { index, seq };
        let timer = when.map(|when| st.timers.insert(when, TimerAction::Call(key)));
        entry.insert(CallbackSlot { seq, f, timer });
        if timer.is_none() {
            st.ready.push(Runnable::Callback(key));
        }
        key
    }

    /// Queues `f`; `site` is where the user scheduled it (`None` for
    /// corio's own callbacks), kept in debug mode for its reports.
    pub(crate) fn call_soon(
        &self,
        f: Box<dyn FnOnce()>,
        site: Option<&'static Location<'static>>,
    ) -> CallbackKey {
        self.insert_callback(f, None, site)
    }

    pub(crate) fn call_at(
        &self,
        when: Instant,
        f: Box<dyn FnOnce()>,
        site: Option<&'static Location<'static>>,
    ) -> CallbackKey {
        self.insert_callback(f, Some(when), site)
    }

    /// Cancels a callback that has not run yet. Returns whether it was
    /// still pending.
    pub(crate) fn cancel_callback(&self, key: CallbackKey) -> bool {
        let removed = {
            let mut st = self.state.borrow_mut();
            let st = &mut *st;
            if slot_mut(&mut st.callbacks, key).is_none() {
                return false;
            }
            let slot = st.callbacks.remove(key.index as usize);
            let timer = slot.timer.and_then(|timer| st.timers.cancel(timer));
            (slot, timer)
        };
        self.debug.callback_site(key.seq);
        self.drop_reported(removed);
        true
    }

    fn callback_is_pending(&self, key: CallbackKey) -> bool {
        slot_mut(&mut self.state.borrow_mut().callbacks, key).is_some()
    }

    /// Debug mode: a callback held the loop for `took`.
    #[cold]
    pub(crate) fn report_slow_callback(&self, took: std::time::Duration) {
        let what = match self.debug.running_callback.get() {
            Some(site) => format!("the callback scheduled at {site}"),
            None => "a callback".to_string(),
        };
        let message = format!(
            "{what} held the loop for {took:.0?} (slow_callback_duration is {:?})",
            self.debug.threshold()
        );
        self.report(Report::new(ReportKind::SlowCallback, message, None));
    }

    /// Runs one queued callback (through `watch` in debug mode or while
    /// tracing), containing a panic. Returns whether it ran: a callback
    /// cancelled after it was queued does not.
    pub(crate) fn run_callback(&self, key: CallbackKey, watch: Watch<'_>) -> bool {
        let f = {
            let mut st = self.state.borrow_mut();
            if slot_mut(&mut st.callbacks, key).is_none() {
                return false; // cancelled after it was queued
            }
            st.callbacks.remove(key.index as usize).f
        };
        if watch.is_some() {
            let site = self.debug.callback_site(key.seq);
            self.debug.running_callback.set(site);
        }
        let mut f = Some(f);
        watched(watch, &mut || {
            let Some(f) = f.take() else {
                return;
            };
            if let Err(payload) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
                let message = panic_message(&*payload);
                self.drop_reported(payload);
                self.report(Report::new(ReportKind::CallbackPanic, message, None));
            }
        });
        self.debug.running_callback.set(None);
        true
    }
}

/// How callbacks are run — `call_soon` ones and done callbacks alike:
/// directly (`None`), or each through the watcher (debug mode and the
/// trace: each timed and traced on its own).
pub(crate) type Watch<'a> = Option<&'a dyn Fn(&mut dyn FnMut())>;

/// Runs `run` directly, or through `watch`.
pub(crate) fn watched(watch: Watch<'_>, run: &mut dyn FnMut()) {
    match watch {
        Some(watch) => watch(run),
        None => run(),
    }
}

/// A scheduled callback, returned by [`call_soon`], [`call_later`] and
/// [`call_at`] — asyncio's `Handle` and `TimerHandle`.
///
/// Dropping the handle does not cancel the callback; call
/// [`cancel`](CallbackHandle::cancel) for that.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// corio::run(async {
///     let handle = corio::call_later(Duration::from_secs(3600), || unreachable!());
///     assert!(handle.cancel());
///     assert!(handle.is_cancelled());
/// });
/// ```
#[doc(alias = "Handle")]
#[doc(alias = "TimerHandle")]
pub struct CallbackHandle {
    core: Rc<Core>,
    key: CallbackKey,
    cancelled: std::cell::Cell<bool>,
}

impl CallbackHandle {
    pub(crate) fn new(core: &Rc<Core>, key: CallbackKey) -> CallbackHandle {
        CallbackHandle {
            core: Rc::clone(core),
            key,
            cancelled: std::cell::Cell::new(false),
        }
    }

    /// Cancels the callback if it has not run yet. Returns `true` if this
    /// call cancelled it, `false` if it already ran or was cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lp = corio::EventLoop::new()?;
    /// let handle = lp.call_soon(|| unreachable!("cancelled before the turn"));
    /// assert!(handle.cancel());
    /// assert!(!handle.cancel());
    /// assert_eq!(lp.run_once().callbacks_run, 0);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn cancel(&self) -> bool {
        let cancelled = self.core.cancel_callback(self.key);
        if cancelled {
            self.cancelled.set(true);
        }
        cancelled
    }

    /// Was the callback cancelled through this handle?
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = corio::EventLoop::new()?;
    /// let handle = lp.call_soon(|| {});
    /// assert!(!handle.is_cancelled());
    /// handle.cancel();
    /// assert!(handle.is_cancelled());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.get()
    }

    /// Is the callback still waiting to run (not yet run, not cancelled)?
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lp = corio::EventLoop::new()?;
    /// let handle = lp.call_soon(|| {});
    /// assert!(handle.is_pending());
    /// lp.run_once();
    /// assert!(!handle.is_pending());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_pending(&self) -> bool {
        self.core.callback_is_pending(self.key)
    }
}

impl std::fmt::Debug for CallbackHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallbackHandle")
            .field("pending", &self.is_pending())
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

/// Schedules `f` to run on the current loop at its next turn, after what is
/// already ready (asyncio's `loop.call_soon`).
///
/// # Panics
///
/// Outside a running loop.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
///
/// let order = Rc::new(RefCell::new(Vec::new()));
/// let o = order.clone();
/// corio::run(async move {
///     let o2 = o.clone();
///     corio::call_soon(move || o2.borrow_mut().push("callback"));
///     o.borrow_mut().push("task");
///     corio::yield_now().await; // the callback runs while we yield
///     o.borrow_mut().push("task again");
/// });
/// assert_eq!(*order.borrow(), ["task", "callback", "task again"]);
/// ```
#[track_caller]
pub fn call_soon(f: impl FnOnce() + 'static) -> CallbackHandle {
    let core = context::current("corio::call_soon");
    let key = core.call_soon(Box::new(f), Some(Location::caller()));
    CallbackHandle::new(&core, key)
}

/// Schedules `f` to run on the current loop once `delay` has passed
/// (asyncio's `loop.call_later`). It never runs early.
///
/// # Panics
///
/// Outside a running loop.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// let start = Instant::now();
/// let ran_at = corio::run(async move {
///     let (tx, rx) = std::sync::mpsc::channel();
///     corio::call_later(Duration::from_millis(20), move || tx.send(Instant::now()).unwrap());
///     corio::time::sleep(Duration::from_millis(30)).await;
///     rx.try_recv().unwrap()
/// });
/// assert!(ran_at - start >= Duration::from_millis(20));
/// ```
#[track_caller]
pub fn call_later(delay: Duration, f: impl FnOnce() + 'static) -> CallbackHandle {
    call_at(crate::time::deadline_after(delay), f)
}

/// Schedules `f` to run on the current loop once `when` has come
/// (asyncio's `loop.call_at`, with `Instant` as the clock).
///
/// Never early. A `when` already past runs `f` at the loop's next look at
/// its timers: the next turn if nothing else is ready, else the first turn
/// that starts after 61 quick polls and callbacks have run since the last
/// look — fewer while they are slow, about one look per millisecond of work
/// (the current turn's batch runs whole first, however long; asyncio looks
/// at its timers every turn; see [`corio::time`](crate::time) and
/// ARCHITECTURE.md, invariant 2).
///
/// # Panics
///
/// Outside a running loop.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// corio::run(async {
///     let when = Instant::now() + Duration::from_millis(5);
///     let handle = corio::call_at(when, || {});
///     assert!(handle.is_pending());
///     corio::time::sleep_until(when + Duration::from_millis(5)).await;
///     assert!(!handle.is_pending());
/// });
/// ```
#[track_caller]
pub fn call_at(when: Instant, f: impl FnOnce() + 'static) -> CallbackHandle {
    let core = context::current("corio::call_at");
    let key = core.call_at(when, Box::new(f), Some(Location::caller()));
    CallbackHandle::new(&core, key)
}
