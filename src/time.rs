//! Time: sleeping, deadlines and periodic ticks.
//!
//! [`sleep`] is `await asyncio.sleep(d)` / `gevent.sleep(d)`: the task parks
//! and the loop arms a timer; when the deadline passes, the loop's turn wakes
//! the task. Nothing here spins or blocks the thread — which is the whole
//! lesson of seed 004's three `sleep(2)` "requests": blocking sleeps in
//! tasks take 6 s, awaited sleeps 2 s.
//!
//! Timers never fire early: a sleep completes only once the clock has
//! reached its deadline. They may fire late by the time the loop is busy
//! elsewhere, plus up to about a millisecond of `epoll` resolution. A busy
//! loop looks at its timers (and sockets) after every 61 task polls and
//! callbacks while they are quick, and about once per millisecond of work
//! while they are slow — after every poll at the slowest. So a task that
//! computes in chunks between [`yield_now`](crate::yield_now)s delays a
//! timer by about one chunk (by one chunk of each such task, when several
//! compute at once: the ready tasks of a turn all run before the next
//! look) — once the loop has seen how slow its polls are: up to 8 chunks
//! late until then, each time the computing starts after a quiet spell
//! (one clock read per stretch of quick polls tells). A poll that blocks
//! delays it by all of its length: hand blocking work to
//! [`spawn_blocking`](crate::spawn_blocking).
//! Dropping a sleep disarms its timer. Deadlines are fixed when
//! [`sleep`] or [`timeout`] is *called* (as in tokio), not when the future
//! is first awaited (as in asyncio).
//!
//! ```
//! use std::time::{Duration, Instant};
//! use corio::time::{sleep, timeout};
//!
//! corio::run(async {
//!     let start = Instant::now();
//!     sleep(Duration::from_millis(10)).await;
//!     assert!(start.elapsed() >= Duration::from_millis(10));
//!
//!     let too_slow = timeout(Duration::from_millis(5), sleep(Duration::from_secs(60))).await;
//!     assert!(too_slow.is_err());
//! });
//! ```

use std::fmt;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::context;
use crate::core::Core;
use crate::timers::{TimerAction, TimerKey};
use crate::waker::Waiter;

/// `Instant::now() + delay`; a delay that would overflow an `Instant`
/// becomes about a century instead (a shorter one, even of centuries, is
/// kept as it is).
pub(crate) fn deadline_after(delay: Duration) -> Instant {
    later(Instant::now(), delay)
}

/// `t + delay`, or about a century after `t` if that would overflow.
fn later(t: Instant, delay: Duration) -> Instant {
    t.checked_add(delay)
        .unwrap_or_else(|| t + Duration::from_secs(100 * 365 * 24 * 3600))
}

impl Core {
    fn add_sleep(&self, deadline: Instant, waker: &std::task::Waker) -> TimerKey {
        let waiter = Waiter::new(self.own_key(waker), waker);
        let mut st = self.state.borrow_mut();
        st.timers.insert(deadline, TimerAction::Wake(Some(waiter)))
    }

    /// Re-registers an armed sleep's waiter; false if it is no longer armed.
    fn set_sleep_waker(&self, key: TimerKey, waker: &std::task::Waker) -> bool {
        let own = self.own_key(waker);
        let replaced = self.state.borrow_mut().timers.set_waiter(key, own, waker);
        replaced.is_ok() // the old waiter is dropped here, after the borrow
    }

    fn release_sleep_waker(&self, key: TimerKey) {
        let waiter = self.state.borrow_mut().timers.take_waiter(key);
        drop(waiter); // a waker: dropped outside the borrow
    }

    fn cancel_sleep(&self, key: TimerKey) {
        let action = self.state.borrow_mut().timers.cancel(key);
        drop(action); // a waker: dropped outside the borrow
    }

    /// Moves an armed sleep to `deadline`, keeping whoever waits on it;
    /// `None` if it is no longer armed, or if `deadline` has passed on the
    /// cached clock (then its waiter is woken now instead of re-armed).
    fn move_sleep(&self, key: TimerKey, deadline: Instant) -> Option<TimerKey> {
        let mut st = self.state.borrow_mut();
        let action = st.timers.cancel(key);
        if let Some(TimerAction::Wake(Some(waiter))) = action {
            if self.cached_now() < deadline {
                return Some(st.timers.insert(deadline, TimerAction::Wake(Some(waiter))));
            }
            // Due already: wake the waiter now (it polls and finds it due).
            drop(st);
            waiter.wake(self);
            return None;
        }
        drop(st);
        drop(action); // a waker: dropped outside the borrow
        None
    }
}

/// Waits until `duration` has passed (asyncio's `sleep`, gevent's `sleep`).
///
/// The deadline is `now + duration`, taken when `sleep` is called; the
/// timer is armed at the first poll and disarmed if the future is dropped
/// first. `sleep(Duration::ZERO)` completes at once, without
/// yielding; use [`yield_now`](crate::yield_now) to let others run. (It
/// does take from the task's poll budget, as a socket operation does: a
/// task in `loop { sleep(Duration::ZERO).await }` still lets the others
/// run every 128 rounds instead of holding the loop for ever.)
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
///     let start = Instant::now();
///     corio::time::sleep(Duration::from_millis(20)).await;
///     assert!(start.elapsed() >= Duration::from_millis(20));
/// });
/// ```
#[track_caller]
pub fn sleep(duration: Duration) -> Sleep {
    let core = context::current("corio::time::sleep");
    // The clock read gives the deadline and refreshes the loop's cached
    // clock, which the first poll then checks instead of reading again.
    let now = core.refresh_now();
    Sleep::new(core, later(now, duration))
}

/// Waits until `deadline` (asyncio's `sleep` to an absolute time).
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
///     let deadline = Instant::now() + Duration::from_millis(10);
///     corio::time::sleep_until(deadline).await;
///     assert!(Instant::now() >= deadline);
/// });
/// ```
#[track_caller]
pub fn sleep_until(deadline: Instant) -> Sleep {
    sleep_until_for("corio::time::sleep_until", deadline)
}

/// [`sleep_until`], with the name the "no running event loop" panic gives
/// (`timeout` made outside a loop should say `timeout`).
#[track_caller]
fn sleep_until_for(what: &str, deadline: Instant) -> Sleep {
    let core = context::current(what);
    core.refresh_now();
    Sleep::new(core, deadline)
}

/// The future returned by [`sleep`] and [`sleep_until`].
///
/// Its timer lives in the loop that polls it: a sleep made on one loop
/// and awaited on another (after the first was dropped, say) moves there —
/// a deadline means the same on every loop. Polled by another executor
/// while no corio loop runs, it waits on the loop that made it; once that
/// loop is closed, nothing could fire it, and polling it so panics.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// corio::run(async {
///     let mut sleep = corio::time::sleep(Duration::from_secs(3600));
///     assert!(!sleep.is_elapsed());
///     sleep.reset(std::time::Instant::now());
///     assert!(sleep.is_elapsed());
///     sleep.await; // completes at once: the new deadline has passed
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Sleep {
    core: Rc<Core>,
    deadline: Instant,
    timer: Option<TimerKey>,
}

impl Sleep {
    fn new(core: Rc<Core>, deadline: Instant) -> Sleep {
        Sleep {
            core,
            deadline,
            timer: None,
        }
    }

    /// When this sleep completes.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// corio::run(async {
    ///     let at = Instant::now() + Duration::from_secs(5);
    ///     assert_eq!(corio::time::sleep_until(at).deadline(), at);
    /// });
    /// ```
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Has the deadline passed?
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// corio::run(async {
    ///     assert!(corio::time::sleep(Duration::ZERO).is_elapsed());
    ///     assert!(!corio::time::sleep(Duration::from_secs(60)).is_elapsed());
    /// });
    /// ```
    pub fn is_elapsed(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// Moves the deadline (earlier or later). A sleep that is being waited
    /// on stays armed for whoever waits — the task that polled it last —
    /// so a reset from another task (a keep-alive pushing a shared deadline
    /// on) still wakes it, at the new deadline.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// corio::run(async {
    ///     let mut sleep = corio::time::sleep(Duration::from_secs(60));
    ///     let soon = Instant::now() + Duration::from_millis(5);
    ///     sleep.reset(soon);
    ///     assert_eq!(sleep.deadline(), soon);
    ///     sleep.await;
    /// });
    /// ```
    pub fn reset(&mut self, deadline: Instant) {
        let armed = self.timer.take();
        let fired = self.core.timer_fired(self.deadline);
        self.deadline = deadline;
        // As in `sleep`: a fresh reading, so the next poll sees a deadline
        // that has already passed as due.
        self.core.refresh_now();
        // (A timer that fired woke its waiter, which will poll and arm the
        // new deadline itself.)
        if let Some(key) = armed.filter(|_| !fired) {
            self.timer = self.core.move_sleep(key, deadline);
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if !self.core.is_running() {
            self.rehome();
        }
        // A sleep whose timer is in the queue ends when the loop fires it,
        // so that sleeps end in deadline order (the loop fires due timers
        // in that order), however their tasks are polled meanwhile. One not
        // queued yet asks the loop's cached clock, which is never ahead of
        // the real one — if it says the deadline passed, it did; if it
        // lags, the timer is armed below and fires at the loop's next look
        // at its timers: never early, and no clock read per poll. A loop
        // that is not running keeps no fresh clock: then read the real one.
        let due = if !self.core.is_running() {
            self.core.cached_now() >= self.deadline || Instant::now() >= self.deadline
        } else if self.timer.is_some() {
            self.core.timer_fired(self.deadline)
        } else {
            self.core.cached_now() >= self.deadline
        };
        if due {
            // Due at its first look (a zero or past deadline, an interval
            // that is behind): done without a wait — but not without a
            // cost to the poll's budget, as for a socket operation (tokio
            // counts its sleeps too), or `loop { sleep(ZERO).await }` and
            // an `Interval` whose work outlasts its period would hold the
            // loop for as long as they run.
            if self.timer.is_none() && !self.core.take_io_budget(cx.waker()) {
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            self.disarm();
            return Poll::Ready(());
        }
        let armed = match self.timer {
            Some(key) => self.core.set_sleep_waker(key, cx.waker()),
            None => false,
        };
        if !armed {
            let key = self.core.add_sleep(self.deadline, cx.waker());
            self.timer = Some(key);
        }
        Poll::Pending
    }
}

impl Sleep {
    /// Polled while its loop is not running: on another loop (it moves
    /// there), or by another executor (then its own loop must still be
    /// able to fire it).
    #[cold]
    #[inline(never)]
    fn rehome(&mut self) {
        match context::with_current(Rc::clone) {
            Some(current) if !Rc::ptr_eq(&current, &self.core) => {
                self.disarm();
                self.core = current;
            }
            Some(_) => {}
            None if self.core.shared().is_closed() => panic!(
                "corio: this sleep's event loop has been closed, so nothing would ever fire \
                 its timer (await it on a running loop)"
            ),
            None => {}
        }
    }

    /// Nobody waits on this sleep for now: its timer stays armed (a later
    /// wait reuses it), but it wakes nobody when it fires — not the task
    /// that polled it last, which has moved on. (The HTTP client's pooled
    /// connections keep their idle timers this way.)
    pub(crate) fn release_waiter(&mut self) {
        if let Some(key) = self.timer {
            if !self.core.timer_fired(self.deadline) {
                self.core.release_sleep_waker(key);
            }
        }
    }

    /// Forgets the timer, removing it from the queue unless it certainly
    /// fired already (which saves a lookup per completed sleep).
    fn disarm(&mut self) {
        if let Some(key) = self.timer.take() {
            if !self.core.timer_fired(self.deadline) {
                self.core.cancel_sleep(key);
            }
        }
    }
}

impl Drop for Sleep {
    fn drop(&mut self) {
        self.disarm();
    }
}

impl fmt::Debug for Sleep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sleep")
            .field("deadline", &self.deadline)
            .field("armed", &self.timer.is_some())
            .finish()
    }
}

/// The error of [`timeout`]: the deadline passed first.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// corio::run(async {
///     let err = corio::time::timeout(Duration::ZERO, std::future::pending::<()>()).await.unwrap_err();
///     assert_eq!(err.to_string(), "deadline has elapsed");
///     let io: std::io::Error = err.into();
///     assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Elapsed(());

impl fmt::Display for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("deadline has elapsed")
    }
}

impl std::error::Error for Elapsed {}

impl From<Elapsed> for std::io::Error {
    fn from(e: Elapsed) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::TimedOut, e)
    }
}

/// Runs `future` with a time limit (asyncio's `wait_for`, gevent's
/// `Timeout`): its output, or `Err(Elapsed)` if `duration` passes first.
/// The limit counts from the call to `timeout`.
///
/// On timeout the inner future is dropped — cancelled, with its destructors
/// run — before `timeout` returns. Note that dropping a [`Task`](crate::Task)
/// *detaches* it: `timeout(d, task)` stops waiting for the task but does not
/// cancel it; wrap it with [`Task::cancel_on_drop`](crate::Task::cancel_on_drop)
/// for that. The inner future is polled before the deadline is checked, so
/// a future that is ready in time wins a tie.
///
/// # Panics
///
/// Outside a running loop.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use corio::time::{sleep, timeout};
///
/// corio::run(async {
///     assert_eq!(timeout(Duration::from_secs(1), async { 5 }).await, Ok(5));
///     let slow = sleep(Duration::from_secs(3600));
///     assert!(timeout(Duration::from_millis(10), slow).await.is_err());
/// });
/// ```
#[doc(alias = "wait_for")]
#[track_caller]
pub fn timeout<F: Future>(
    duration: Duration,
    future: F,
) -> impl Future<Output = Result<F::Output, Elapsed>> {
    timeout_for("corio::time::timeout", deadline_after(duration), future)
}

/// asyncio's name for [`timeout`]: the same function.
///
/// # Panics
///
/// Outside a running loop.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use corio::time::{sleep, wait_for};
///
/// corio::run(async {
///     assert_eq!(wait_for(Duration::from_secs(1), async { "fast" }).await, Ok("fast"));
///     assert!(wait_for(Duration::from_millis(1), sleep(Duration::from_secs(60))).await.is_err());
/// });
/// ```
#[track_caller]
pub fn wait_for<F: Future>(
    duration: Duration,
    future: F,
) -> impl Future<Output = Result<F::Output, Elapsed>> {
    timeout_for("corio::time::wait_for", deadline_after(duration), future)
}

/// Like [`timeout`], with an absolute deadline.
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
///     let deadline = Instant::now() + Duration::from_millis(5);
///     let out = corio::time::timeout_at(deadline, std::future::pending::<()>()).await;
///     assert!(out.is_err());
///     assert!(Instant::now() >= deadline);
/// });
/// ```
#[track_caller]
pub fn timeout_at<F: Future>(
    deadline: Instant,
    future: F,
) -> impl Future<Output = Result<F::Output, Elapsed>> {
    timeout_for("corio::time::timeout_at", deadline, future)
}

/// [`timeout_at`], with the name the "no running event loop" panic gives.
#[track_caller]
fn timeout_for<F: Future>(
    what: &str,
    deadline: Instant,
    future: F,
) -> impl Future<Output = Result<F::Output, Elapsed>> {
    let mut sleep = sleep_until_for(what, deadline);
    async move {
        let mut future = pin!(future);
        std::future::poll_fn(|cx| {
            if let Poll::Ready(output) = future.as_mut().poll(cx) {
                return Poll::Ready(Ok(output));
            }
            match Pin::new(&mut sleep).poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(Elapsed(()))),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }
}

/// What an [`Interval`] does when ticks were missed because the task was
/// busy (or the loop was).
///
/// # Examples
///
/// ```
/// use corio::time::MissedTickBehavior;
///
/// assert_eq!(MissedTickBehavior::default(), MissedTickBehavior::Skip);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum MissedTickBehavior {
    /// Fire the missed ticks at once, back to back, then carry on on the
    /// original schedule. (Back to back within the task's poll budget: a
    /// task that stays behind — its work outlasts the period — still lets
    /// the others run every so many ticks.)
    Burst,
    /// Fire one tick now; if more than a whole period was missed, the next
    /// one comes a full period from now (the schedule shifts, like
    /// `while True: work(); await sleep(period)`); a tick less late than
    /// that keeps the original schedule.
    Delay,
    /// Fire one tick now, then carry on at the next point of the original
    /// schedule, dropping the missed ones. The default: no bursts, no drift.
    #[default]
    Skip,
}

/// Ticks every `period`; the first tick completes at once.
///
/// Ticks stay on the schedule `start, start + period, ...`; see
/// [`MissedTickBehavior`] (default `Skip`) for what happens when the task
/// falls behind.
///
/// # Panics
///
/// If `period` is zero, or outside a running loop.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, Instant};
///
/// corio::run(async {
///     let start = Instant::now();
///     let mut ticks = corio::time::interval(Duration::from_millis(10));
///     for _ in 0..3 {
///         ticks.tick().await; // at 0, 10 and 20 ms
///     }
///     assert!(start.elapsed() >= Duration::from_millis(20));
/// });
/// ```
#[track_caller]
pub fn interval(period: Duration) -> Interval {
    assert!(
        !period.is_zero(),
        "corio::time::interval: the period must be non-zero"
    );
    let core = context::current("corio::time::interval");
    let start = core.refresh_now(); // the first tick is due now, and seen so
    Interval {
        sleep: Sleep::new(core, start),
        period,
        missed: MissedTickBehavior::default(),
    }
}

/// A periodic timer: see [`interval`]. It is also a
/// [`Stream`](futures_core::Stream) of tick instants.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// corio::run(async {
///     let mut ticks = corio::time::interval(Duration::from_millis(1));
///     let first = ticks.tick().await;
///     let second = ticks.tick().await;
///     // One period apart, or a multiple if the loop fell behind (Skip).
///     assert!(second - first >= ticks.period());
/// });
/// ```
#[derive(Debug)]
pub struct Interval {
    sleep: Sleep,
    period: Duration,
    missed: MissedTickBehavior,
}

impl Interval {
    /// Waits for the next tick; returns when it was scheduled.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    ///
    /// corio::run(async {
    ///     let mut ticks = corio::time::interval(Duration::from_millis(5));
    ///     let scheduled = ticks.tick().await;
    ///     assert!(scheduled <= Instant::now());
    /// });
    /// ```
    pub async fn tick(&mut self) -> Instant {
        std::future::poll_fn(|cx| self.poll_tick(cx)).await
    }

    /// Polls for the next tick (for hand-written futures).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::task::Poll;
    /// use std::time::Duration;
    ///
    /// corio::run(async {
    ///     let mut ticks = corio::time::interval(Duration::from_secs(60));
    ///     let first = std::future::poll_fn(|cx| ticks.poll_tick(cx)).await;
    ///     assert!(first <= std::time::Instant::now());
    ///     let second = std::future::poll_fn(|cx| Poll::Ready(ticks.poll_tick(cx))).await;
    ///     assert!(second.is_pending(), "the next tick is a minute away");
    /// });
    /// ```
    pub fn poll_tick(&mut self, cx: &mut Context<'_>) -> Poll<Instant> {
        if Pin::new(&mut self.sleep).poll(cx).is_pending() {
            return Poll::Pending;
        }
        let scheduled = self.sleep.deadline();
        let now = Instant::now();
        // Saturating arithmetic: a huge period means "never", not a panic.
        let after = |t: Instant, d: Duration| t.checked_add(d).unwrap_or_else(|| deadline_after(d));
        let next_on_schedule = after(scheduled, self.period);
        let next = match self.missed {
            MissedTickBehavior::Burst => next_on_schedule,
            MissedTickBehavior::Delay if now > next_on_schedule => after(now, self.period),
            MissedTickBehavior::Delay => next_on_schedule,
            MissedTickBehavior::Skip => next_grid_point(scheduled, now, self.period),
        };
        self.sleep.reset(next);
        Poll::Ready(scheduled)
    }

    /// Sets what happens to missed ticks.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use corio::time::MissedTickBehavior;
    ///
    /// corio::run(async {
    ///     let mut ticks = corio::time::interval(Duration::from_millis(1));
    ///     ticks.set_missed_tick_behavior(MissedTickBehavior::Burst);
    ///     assert_eq!(ticks.missed_tick_behavior(), MissedTickBehavior::Burst);
    /// });
    /// ```
    pub fn set_missed_tick_behavior(&mut self, behavior: MissedTickBehavior) {
        self.missed = behavior;
    }

    /// What happens to missed ticks.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// corio::run(async {
    ///     let ticks = corio::time::interval(Duration::from_millis(1));
    ///     assert_eq!(ticks.missed_tick_behavior(), corio::time::MissedTickBehavior::Skip);
    /// });
    /// ```
    pub fn missed_tick_behavior(&self) -> MissedTickBehavior {
        self.missed
    }

    /// The period between ticks.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// corio::run(async {
    ///     let ticks = corio::time::interval(Duration::from_millis(250));
    ///     assert_eq!(ticks.period(), Duration::from_millis(250));
    /// });
    /// ```
    pub fn period(&self) -> Duration {
        self.period
    }
}

impl futures_core::Stream for Interval {
    type Item = Instant;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Instant>> {
        self.poll_tick(cx).map(Some)
    }
}

/// The first point of the grid `scheduled + k × period` after `now` — in
/// nanoseconds as a `u128`, since an interval may be behind by more than
/// `u32::MAX` periods (a tiny period, a long pause); saturating: a point
/// past the clock's range means "never", not a panic.
fn next_grid_point(scheduled: Instant, now: Instant, period: Duration) -> Instant {
    let period = period.as_nanos().max(1);
    let behind = now.saturating_duration_since(scheduled).as_nanos();
    let step = (behind / period + 1).saturating_mul(period);
    let step = u64::try_from(step).map_or(Duration::MAX, Duration::from_nanos);
    scheduled
        .checked_add(step)
        .unwrap_or_else(|| deadline_after(step))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skip_finds_the_next_grid_point_even_after_more_than_u32_max_periods() {
        let start = Instant::now();
        let period = Duration::from_nanos(1);
        let now = start + Duration::from_millis(4_400); // 4.4e9 periods behind
        let next = next_grid_point(start, now, period);
        assert!(
            next > now && next - now <= period,
            "{:?}",
            next.checked_duration_since(now)
        );
        let period = Duration::from_millis(10);
        let next = next_grid_point(start, start + Duration::from_millis(25), period);
        assert_eq!(next - start, Duration::from_millis(30));
    }
}
