//! `Stats`: what a loop has done since it was created — the numbers a
//! learner watches grow and a user checks when a program seems stuck.
//!
//! The counters live in the loop's `Core` as plain `Cell`s. Polls and
//! callbacks are counted there as they happen (a [`Turn`](crate::Turn) is
//! the difference across one turn, so the turn pays nothing extra for
//! them); turns, looks at I/O and timers, and wakes cost one increment each.

use std::cell::Cell;

/// What an event loop has done so far: from [`EventLoop::stats`](crate::EventLoop::stats).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let mut lp = corio::EventLoop::new()?;
/// lp.run_until_complete(async {
///     let task = corio::spawn(async { corio::time::sleep(Duration::from_millis(1)).await });
///     task.await.unwrap();
///     corio::call_soon(|| {});
///     corio::yield_now().await;
/// });
/// let stats = lp.stats();
/// assert!(stats.polls >= 3); // the main future twice or more, the task twice
/// assert_eq!(stats.timers_fired, 1);
/// assert_eq!(stats.callbacks_run, 1);
/// assert!(stats.turns >= 2 && stats.wakes >= 1);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Stats {
    /// Loop turns (asyncio's `_run_once`), including turns that only ran
    /// what was ready.
    pub turns: u64,
    /// Task polls, the main future of `run_until_complete` included.
    pub polls: u64,
    /// Task wakes done on the loop's own thread (a wake of a task that is
    /// already queued counts too, a wake of a finished task does not; one
    /// that finds the loop busy takes the cross-thread path and counts in
    /// `remote_wakes` instead).
    pub wakes: u64,
    /// Task wakes that came through the loop's remote queue, as the loop
    /// received them (a finished task's do not count): wakes from other threads (a pool job finishing, a
    /// waker sent away), and wakes from this thread while the loop was not
    /// running (between two `run_once` calls, say).
    pub remote_wakes: u64,
    /// I/O readiness events from the reactor.
    pub io_events: u64,
    /// Times the loop asked the operating system for I/O readiness
    /// (`epoll_wait` calls): whenever it waits, and while work is ready
    /// every 61 polls or so (more often while polls are slow) — but then
    /// only while a socket is open; a busy loop of tasks alone asks
    /// nothing.
    pub io_polls: u64,
    /// Timers that fired.
    pub timers_fired: u64,
    /// Callbacks run: `call_soon`, `call_later`, `call_soon_threadsafe`
    /// and done callbacks.
    pub callbacks_run: u64,
}

/// What the running loop has done so far (as [`EventLoop::stats`](crate::EventLoop::stats)).
///
/// # Panics
///
/// Outside a running loop.
///
/// # Examples
///
/// ```
/// corio::run(async {
///     corio::yield_now().await;
///     let stats = corio::stats();
///     assert!(stats.polls >= 1 && stats.wakes >= 1);
/// });
/// ```
#[track_caller]
pub fn stats() -> Stats {
    crate::context::current("corio::stats").counters.snapshot()
}

/// The loop's counters.
#[derive(Default)]
pub(crate) struct Counters {
    turns: Cell<u64>,
    polls: Cell<u64>,
    wakes: Cell<u64>,
    remote_wakes: Cell<u64>,
    io_events: Cell<u64>,
    io_polls: Cell<u64>,
    timers_fired: Cell<u64>,
    callbacks_run: Cell<u64>,
}

fn add(cell: &Cell<u64>, n: usize) {
    cell.set(cell.get() + n as u64);
}

impl Counters {
    /// One more turn (a busy loop chains run phases; each is a turn).
    pub(crate) fn turn(&self) {
        add(&self.turns, 1);
    }

    /// Turns so far (the reactor's waiter lists tell a flush that the
    /// flushed tasks refilled at once from one that came much later).
    pub(crate) fn turns(&self) -> u64 {
        self.turns.get()
    }

    /// `n` polls (0 or 1 from most call sites).
    pub(crate) fn polled(&self, n: usize) {
        add(&self.polls, n);
    }

    /// `n` callbacks run.
    pub(crate) fn called(&self, n: usize) {
        add(&self.callbacks_run, n);
    }

    /// Polls and callbacks so far: a turn takes the difference.
    pub(crate) fn run_so_far(&self) -> (u64, u64) {
        (self.polls.get(), self.callbacks_run.get())
    }

    /// A turn's look outside brought `io_events` events and fired
    /// `timers` timers.
    pub(crate) fn looked(&self, io_events: usize, timers: usize) {
        add(&self.io_events, io_events);
        add(&self.timers_fired, timers);
    }

    /// The reactor asked the operating system (`epoll_wait`) once more.
    pub(crate) fn io_polled(&self) {
        add(&self.io_polls, 1);
    }

    pub(crate) fn wake(&self) {
        add(&self.wakes, 1);
    }

    pub(crate) fn remote_wakes(&self, n: usize) {
        add(&self.remote_wakes, n);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            turns: self.turns.get(),
            polls: self.polls.get(),
            wakes: self.wakes.get(),
            remote_wakes: self.remote_wakes.get(),
            io_events: self.io_events.get(),
            io_polls: self.io_polls.get(),
            timers_fired: self.timers_fired.get(),
            callbacks_run: self.callbacks_run.get(),
        }
    }
}
