//! Task wakers: how a parked task asks to be polled again.
//!
//! A [`Waker`](std::task::Waker) is what a future keeps when it returns
//! `Pending`; calling `wake()` on it must get the task polled again. corio
//! builds its wakers with `futures-task`'s [`ArcWake`]: the waker is an
//! `Arc<TaskWaker>` that names the task by its [`TaskKey`] — slab index plus
//! the sequence number given at spawn — and knows the loop's thread-safe
//! [`Shared`] half.
//!
//! Waking never runs anything (invariant 1 of `ARCHITECTURE.md`); it only
//! enqueues:
//!
//! * **Its loop running on this thread** (the common case): the loop is
//!   found in the thread-local [`crate::context`], and the task is
//!   pushed on the ready queue unless it is already there — or, if it is
//!   the task being polled right now (a yield), only noted, and queued when
//!   its poll returns (`Core::wake_polling`). No atomics, no locks.
//! * **Anywhere else** — another thread, or this one while the waker's loop
//!   is not the one running here (or its state is borrowed): the waker puts
//!   itself on the loop's remote queue,
//!   at most once until the loop has taken it (`remote_queued`), and pokes
//!   the loop's `mio::Waker` so a loop blocked in `poll` wakes up. A wake
//!   that consumes its clone (`wake()`) queues that very clone (or, if the
//!   waker is queued already, drops it and pokes the loop again): the loop
//!   must not count, among the wakers still held, a clone that another
//!   thread is about to drop.
//!
//! A waker may outlive its task. Its key then names a slot that is empty or
//! holds a task spawned later with another sequence number, and the wake is
//! ignored (invariant 4).
//!
//! Allocating an `Arc` per task would cost a malloc per spawn, so the loop
//! keeps a [`WakerPool`]: after a poll that leaves the task parked, a waker
//! that nobody else holds (`Arc::strong_count == 1`) goes back to the pool
//! and is re-keyed for the next task that needs one. A waker that someone
//! kept stays with its task, and so does that of a task queued again by its
//! poll (a yield): it runs again soon.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering, fence};
use std::thread::ThreadId;

use futures_task::ArcWake;

use crate::context;
use crate::core::{Core, Scheduled};
use crate::handle::Shared;

/// Names a task: its slab index and the sequence number it was spawned with.
///
/// The sequence number never repeats within a loop, so a key whose slot now
/// holds another task no longer matches it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TaskKey {
    pub(crate) index: u32,
    pub(crate) seq: u64,
}

impl TaskKey {
    /// The slab index reserved for the main future of `run_until_complete`.
    pub(crate) const ROOT_INDEX: u32 = u32::MAX;

    pub(crate) fn is_root(self) -> bool {
        self.index == Self::ROOT_INDEX
    }
}

/// The heap half of a corio waker.
pub(crate) struct TaskWaker {
    shared: Arc<Shared>,
    // The key lives in atomics only so that a pooled waker can be re-keyed
    // through a shared `Arc`; it is written only while nobody else holds it.
    index: AtomicU32,
    seq: AtomicU64,
    /// Set while this waker sits on the loop's remote queue.
    remote_queued: AtomicBool,
}

impl TaskWaker {
    pub(crate) fn new(shared: &Arc<Shared>, key: TaskKey) -> Arc<TaskWaker> {
        Arc::new(TaskWaker {
            shared: Arc::clone(shared),
            index: AtomicU32::new(key.index),
            seq: AtomicU64::new(key.seq),
            remote_queued: AtomicBool::new(false),
        })
    }

    pub(crate) fn key(&self) -> TaskKey {
        TaskKey {
            index: self.index.load(Ordering::Relaxed),
            seq: self.seq.load(Ordering::Relaxed),
        }
    }

    /// Called by the loop when it takes this waker off the remote queue,
    /// before it schedules the task. A swap, not a store: a wake on another
    /// thread that found the flag raised queued nothing of its own, and
    /// this read-modify-write (acquiring what every raise released) is what
    /// makes that wake happen before the poll it relies on.
    pub(crate) fn clear_remote_queued(&self) {
        self.remote_queued.swap(false, Ordering::AcqRel);
    }

    fn wake_from_elsewhere(this: &Arc<Self>) {
        if !this.remote_queued.swap(true, Ordering::AcqRel) {
            this.shared.push_remote_wake(Arc::clone(this));
        }
    }
}

impl ArcWake for TaskWaker {
    fn wake(self: Arc<Self>) {
        // (Each wake has a closure of its own: one shared by both would be
        // compiled once, out of line — 8 instructions more per hand-off.)
        if context::with_current(|core| TaskWaker::wake_on(core, &self)) != Some(true) {
            TaskWaker::wake_from_elsewhere_owned(self);
        }
    }

    fn wake_by_ref(this: &Arc<Self>) {
        if context::with_current(|core| TaskWaker::wake_on(core, this)) != Some(true) {
            TaskWaker::wake_from_elsewhere(this);
        }
    }
}

impl TaskWaker {
    /// The same-thread wake, on the loop running here: done if `core` is
    /// this waker's loop (and its state is not borrowed right now).
    #[inline(always)]
    fn wake_on(core: &Core, this: &Arc<Self>) -> bool {
        // The waker of the task being polled (a yield, mostly) is this
        // loop's by definition; any other must be checked.
        if !core.wake_polling(this) {
            if !Arc::ptr_eq(core.shared(), &this.shared) {
                return false; // another loop's
            }
            match core.schedule(this.key()) {
                Scheduled::Live => {}
                Scheduled::Gone => return true, // finished: not a wake to count
                Scheduled::Busy => return false,
            }
        }
        core.counters.wake();
        // (A wake that had to take the remote path is noted when the loop
        // takes it in.)
        if core.debug.watching() {
            core.debug.woke(this.key(), false);
        }
        true
    }

    /// The remote path of a wake that consumes its waker (`wake()`, not
    /// `wake_by_ref()`): this clone itself goes onto the remote queue.
    /// Pushing another clone and dropping this one afterwards would race
    /// with the loop: if it took the wake, polled the task and counted the
    /// wakers still held (`Core::could_be_woken`) before this thread
    /// dropped its clone, it would count that clone, wait, and never hear
    /// that it went — a hang the loop should have reported. The loop drops
    /// the clones it takes off the queue before it counts.
    fn wake_from_elsewhere_owned(this: Arc<Self>) {
        let shared = Arc::clone(&this.shared);
        if !this.remote_queued.swap(true, Ordering::AcqRel) {
            shared.push_remote_wake(this);
        } else {
            // Queued already (once per waker, or a thread waking in a loop
            // would grow the queue without bound): drop this clone, then
            // poke the loop — if it took the queued wake and counted this
            // clone in the meantime, it looks again now that it is gone.
            drop(this);
            shared.notify();
        }
    }
}

/// Whom to wake when something a future waits for happens.
///
/// corio's timers usually run directly in a task and are polled with that
/// task's own waker. Then they remember the
/// task's key instead of cloning the waker: the wake is the same (the task
/// is scheduled), but the task's waker stays unshared and goes back to the
/// pool — no `Arc` per parked task. Any other waker (a combinator's child
/// waker, another executor's) is cloned as usual.
pub(crate) enum Waiter {
    Task(TaskKey),
    Waker(std::task::Waker),
}

impl Waiter {
    /// The waiter for a future polled with `waker`; `own` is the key of the
    /// task being polled if `waker` is that task's own waker.
    pub(crate) fn new(own: Option<TaskKey>, waker: &std::task::Waker) -> Waiter {
        match own {
            Some(key) => Waiter::Task(key),
            None => Waiter::Waker(waker.clone()),
        }
    }

    /// Points `slot` at the waiter for `(own, waker)`, cloning nothing if
    /// it already is that. Returns the waiter it replaced, for the caller
    /// to drop outside the loop's state.
    pub(crate) fn update(
        slot: &mut Option<Waiter>,
        own: Option<TaskKey>,
        waker: &std::task::Waker,
    ) -> Option<Waiter> {
        let unchanged = match (&*slot, own) {
            (Some(Waiter::Task(key)), Some(own)) => *key == own,
            (Some(Waiter::Waker(old)), None) => old.will_wake(waker),
            _ => false,
        };
        if unchanged {
            None
        } else {
            slot.replace(Waiter::new(own, waker))
        }
    }

    /// Wakes it: schedules the task, or calls the waker — foreign code (a
    /// waker of another executor), whose panic is contained: it must not
    /// unwind through the loop, nor cost the wakes after it.
    pub(crate) fn wake(self, core: &crate::core::Core) {
        match self {
            Waiter::Task(key) => match core.schedule(key) {
                Scheduled::Live => {
                    core.counters.wake();
                    if core.debug.watching() {
                        core.debug.woke(key, false);
                    }
                }
                Scheduled::Gone => {}
                // The state is busy (a wake from inside the loop's own
                // bookkeeping): take the remote path, as a waker would
                // (counted when the loop takes it in).
                Scheduled::Busy => core
                    .shared()
                    .push_remote_wake(TaskWaker::new(core.shared(), key)),
            },
            Waiter::Waker(waker) => crate::contain::wake_contained(waker),
        }
    }
}

/// Wakers that nobody else holds, kept for re-use.
pub(crate) struct WakerPool {
    free: Vec<Arc<TaskWaker>>,
}

impl WakerPool {
    /// Enough to cover the tasks of a busy turn; beyond it, wakers are freed.
    const CAPACITY: usize = 1024;

    pub(crate) fn new() -> WakerPool {
        WakerPool { free: Vec::new() }
    }

    /// A waker for `key`: a pooled one re-keyed, or a new one.
    #[inline]
    pub(crate) fn get(&mut self, shared: &Arc<Shared>, key: TaskKey) -> Arc<TaskWaker> {
        match self.free.pop() {
            Some(waker) => {
                // Only wakers with no other holder are pooled, and a holder
                // can only come from an existing clone: nobody can observe
                // these stores but us.
                waker.index.store(key.index, Ordering::Relaxed);
                waker.seq.store(key.seq, Ordering::Relaxed);
                waker
            }
            None => TaskWaker::new(shared, key),
        }
    }

    /// Takes `waker` back if nobody else holds it (keeping it unless the
    /// pool is full); otherwise gives it back.
    ///
    /// Returns the waker when somebody else still holds a clone, so the
    /// caller can keep it with its task (or drop its share).
    #[inline(always)]
    pub(crate) fn put(&mut self, waker: Arc<TaskWaker>) -> Option<Arc<TaskWaker>> {
        if Arc::strong_count(&waker) == 1 {
            // Pairs with the release decrement of the last other holder, so
            // its final reads of the key happen before we re-key it.
            fence(Ordering::Acquire);
            if self.free.len() < Self::CAPACITY {
                self.free.push(waker);
            }
            None
        } else {
            Some(waker)
        }
    }
}

/// What to do with a waker that corio parked for a task (in a channel
/// receiver, a [`JobHandle`](crate::pool::JobHandle), a combinator's child
/// wakers) when the thing holding it goes, given the thread it was parked
/// on. On another thread (a plain thread, a pool worker, another loop's)
/// it is woken instead of just dropped: else the task would lose a
/// possible waker without its loop hearing of it, and that loop, blocked
/// already, would never see that nothing can wake the task any more (the
/// "would block forever" check counts waker clones). The task gets one
/// spurious poll. On the parking thread the waker is just dropped: the
/// task's loop, if it runs, looks again before it blocks — and waking there
/// would make a task that drops a receiver in its own poll spin.
pub(crate) fn wake_parked(parked: Option<(std::task::Waker, Option<ThreadId>)>) {
    if let Some((waker, parked_on)) = parked {
        if parked_on != Some(this_thread()) {
            crate::contain::wake_contained(waker);
        }
    }
}

/// This thread's id, read once per thread (`thread::current()` costs an
/// `Arc` clone).
pub(crate) fn this_thread() -> ThreadId {
    thread_local! {
        static ID: ThreadId = std::thread::current().id();
    }
    ID.with(|id| *id)
}
