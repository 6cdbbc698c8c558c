//! Debug mode (asyncio's `loop.set_debug(True)`): reports of polls and
//! callbacks that hold the loop too long, naming the task and where it was
//! spawned.
//!
//! Off by default, and then nearly free: a poll checks one `Cell`. On
//! (`EventLoop::set_debug(true)`, or `CORIO_DEBUG=1` in the environment when
//! the loop is created), each poll and callback is timed, and one that
//! takes `slow_callback_duration` (100 ms by default) or longer is reported
//! through the loop's exception handler as a [`ReportKind::SlowCallback`].
//! Where each task was spawned is remembered in a side table that exists
//! only in debug mode, so normal tasks stay small.
//!
//! [`ReportKind::SlowCallback`]: crate::ReportKind::SlowCallback

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::panic::Location;
use std::time::{Duration, Instant};

use crate::waker::TaskKey;

/// asyncio's default `slow_callback_duration`.
pub(crate) const DEFAULT_SLOW: Duration = Duration::from_millis(100);

/// The loop's debug state.
pub(crate) struct Debug {
    /// Debug mode is on: the one thing the hot paths look at.
    on: Cell<bool>,
    /// `slow_callback_duration` (kept while debug mode is off).
    threshold: Cell<Duration>,
    /// Where each live task was spawned (debug mode only).
    sites: RefCell<HashMap<TaskKey, &'static Location<'static>>>,
}

impl Debug {
    /// Off, unless `CORIO_DEBUG` is set to something other than `0`.
    pub(crate) fn from_env() -> Debug {
        let on = std::env::var_os("CORIO_DEBUG").is_some_and(|v| !v.is_empty() && v != "0");
        Debug {
            on: Cell::new(on),
            threshold: Cell::new(DEFAULT_SLOW),
            sites: RefCell::new(HashMap::new()),
        }
    }

    pub(crate) fn set(&self, on: bool) {
        self.on.set(on);
        if !on {
            self.sites.borrow_mut().clear();
        }
    }

    #[inline]
    pub(crate) fn is_on(&self) -> bool {
        self.on.get()
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

    /// Remembers where the task `key` was spawned (debug mode only).
    #[inline]
    pub(crate) fn spawned(&self, key: TaskKey, site: &'static Location<'static>) {
        if self.is_on() {
            self.sites.borrow_mut().insert(key, site);
        }
    }

    /// Forgets a finished task; gives where it was spawned.
    #[inline]
    pub(crate) fn finished(&self, key: TaskKey) -> Option<&'static Location<'static>> {
        if self.is_on() {
            self.sites.borrow_mut().remove(&key)
        } else {
            None
        }
    }

    pub(crate) fn site(&self, key: TaskKey) -> Option<&'static Location<'static>> {
        self.sites.borrow().get(&key).copied()
    }
}
