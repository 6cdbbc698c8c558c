//! The loop's timer queue: what is due when.
//!
//! This is asyncio's `_scheduled` list: a binary min-heap of deadlines.
//! Each heap entry points at a slot in a slab; the slot says what to do when
//! the deadline passes — wake a [`Sleep`](crate::time::Sleep)'s task, or queue
//! a `call_later` callback.
//!
//! Cancelling is lazy, as in asyncio: the slot is freed at once, and its heap
//! entry, which no longer matches any slot, is skipped when it reaches the top.
//! So that create/cancel churn cannot grow the heap without bound, the heap
//! is rebuilt without dead entries once they are more than half of it
//! (asyncio's `_MIN_CANCELLED_TIMER_HANDLES_FRACTION`). Rebuilding costs
//! O(n) and happens at most once per n/2 cancels: O(1) amortized.
//!
//! Deadlines are stored as nanoseconds since the loop's creation (`u64`,
//! good for 584 years), which keeps an entry at 24 bytes.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::{Duration, Instant};

use slab::Slab;

use crate::waker::Waiter;

/// Names a timer: slot index plus a sequence number that never repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimerKey {
    index: u32,
    seq: u64,
}

/// What happens when a timer's deadline passes.
pub(crate) enum TimerAction<C> {
    /// Wake whoever waits in a `Sleep` (always `Some` while armed).
    Wake(Option<Waiter>),
    /// Queue a `call_later` callback.
    Call(C),
}

struct TimerSlot<C> {
    seq: u64,
    action: TimerAction<C>,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    /// Nanoseconds since `Timers::epoch`.
    when: u64,
    /// Ties fire in the order they were armed.
    seq: u64,
    index: u32,
}

/// A min-heap of deadlines with lazy cancellation.
///
/// `C` is what a `call_later` timer carries (the loop's callback key).
pub(crate) struct Timers<C> {
    heap: BinaryHeap<Reverse<Entry>>,
    slots: Slab<TimerSlot<C>>,
    /// Heap entries whose slot was freed by a cancel.
    dead: usize,
    next_seq: u64,
    epoch: Instant,
}

impl<C> Timers<C> {
    /// Below this many entries, dead ones are never worth a rebuild.
    const MIN_REBUILD: usize = 64;

    pub(crate) fn new() -> Timers<C> {
        Timers {
            heap: BinaryHeap::new(),
            slots: Slab::new(),
            dead: 0,
            next_seq: 0,
            epoch: Instant::now(),
        }
    }

    /// Number of armed timers.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    fn ticks(&self, t: Instant) -> u64 {
        // Deadlines in the past (before the epoch) are simply due.
        let nanos = t.saturating_duration_since(self.epoch).as_nanos();
        u64::try_from(nanos).unwrap_or(u64::MAX)
    }

    /// Arms a timer for `when`.
    pub(crate) fn insert(&mut self, when: Instant, action: TimerAction<C>) -> TimerKey {
        let seq = self.next_seq;
        self.next_seq += 1;
        let index = self.slots.insert(TimerSlot { seq, action });
        let index = u32::try_from(index).expect("more than 4 billion timers armed at once");
        self.heap.push(Reverse(Entry {
            when: self.ticks(when),
            seq,
            index,
        }));
        TimerKey { index, seq }
    }

    fn slot_mut(&mut self, key: TimerKey) -> Option<&mut TimerSlot<C>> {
        self.slots
            .get_mut(key.index as usize)
            .filter(|slot| slot.seq == key.seq)
    }

    /// Stores whom a `Sleep` must wake, after its latest poll (see
    /// [`Waiter::update`]). Returns `Err(())` if the timer is no longer
    /// armed (it fired, or was cancelled), else the waiter it replaced, for
    /// the caller to drop outside the loop's state.
    pub(crate) fn set_waiter(
        &mut self,
        key: TimerKey,
        own: Option<crate::waker::TaskKey>,
        waker: &std::task::Waker,
    ) -> Result<Option<Waiter>, ()> {
        match self.slot_mut(key) {
            Some(TimerSlot {
                action: TimerAction::Wake(slot),
                ..
            }) => Ok(Waiter::update(slot, own, waker)),
            _ => Err(()),
        }
    }

    /// The armed sleeps and their deadlines (for `debug::dump`; walks the
    /// whole heap).
    pub(crate) fn sleepers(&self) -> impl Iterator<Item = (Instant, &Waiter)> {
        self.heap.iter().filter_map(|Reverse(entry)| {
            let slot = self.slots.get(entry.index as usize)?;
            match &slot.action {
                TimerAction::Wake(Some(waiter)) if slot.seq == entry.seq => {
                    Some((self.epoch + Duration::from_nanos(entry.when), waiter))
                }
                _ => None,
            }
        })
    }

    /// Disarms a timer. Returns its action if it was still armed.
    pub(crate) fn cancel(&mut self, key: TimerKey) -> Option<TimerAction<C>> {
        self.slot_mut(key)?;
        let slot = self.slots.remove(key.index as usize);
        self.dead += 1;
        if self.heap.len() >= Self::MIN_REBUILD && self.dead * 2 > self.heap.len() {
            let slots = &self.slots;
            self.heap
                .retain(|Reverse(e)| slots.get(e.index as usize).is_some_and(|s| s.seq == e.seq));
            self.dead = 0;
        }
        Some(slot.action)
    }

    /// How long until the earliest armed deadline (zero if it is due).
    pub(crate) fn next_timeout(&mut self, now: Instant) -> Option<Duration> {
        self.drop_dead_top();
        let Reverse(top) = self.heap.peek()?;
        let now = self.ticks(now);
        Some(Duration::from_nanos(top.when.saturating_sub(now)))
    }

    fn drop_dead_top(&mut self) {
        while let Some(Reverse(top)) = self.heap.peek() {
            let live = self
                .slots
                .get(top.index as usize)
                .is_some_and(|s| s.seq == top.seq);
            if live {
                break;
            }
            self.heap.pop();
            self.dead -= 1;
        }
    }

    /// Removes every timer whose deadline is at or before `now` and hands
    /// its action to `fire`, earliest first. Never fires a timer early: an
    /// entry fires only once `now` has reached its deadline.
    pub(crate) fn fire_due(&mut self, now: Instant, mut fire: impl FnMut(TimerAction<C>)) -> usize {
        let now = self.ticks(now);
        let mut fired = 0;
        while let Some(Reverse(top)) = self.heap.peek() {
            if top.when > now {
                break;
            }
            let Some(Reverse(entry)) = self.heap.pop() else {
                break;
            };
            let live = self
                .slots
                .get(entry.index as usize)
                .is_some_and(|s| s.seq == entry.seq);
            if live {
                let slot = self.slots.remove(entry.index as usize);
                fire(slot.action);
                fired += 1;
            } else {
                self.dead -= 1;
            }
        }
        fired
    }

    /// Disarms everything (the loop is closing).
    pub(crate) fn drain(&mut self) -> Vec<TimerAction<C>> {
        self.heap.clear();
        self.dead = 0;
        self.slots.drain().map(|slot| slot.action).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fired_order(timers: &mut Timers<u32>, now: Instant) -> Vec<u32> {
        let mut out = Vec::new();
        timers.fire_due(now, |action| match action {
            TimerAction::Call(c) => out.push(c),
            TimerAction::Wake(_) => {}
        });
        out
    }

    #[test]
    fn due_timers_fire_in_deadline_order_and_ties_in_arming_order() {
        let mut timers = Timers::new();
        let t0 = Instant::now();
        timers.insert(t0 + Duration::from_millis(30), TimerAction::Call(3));
        timers.insert(t0 + Duration::from_millis(10), TimerAction::Call(1));
        timers.insert(t0 + Duration::from_millis(20), TimerAction::Call(2));
        timers.insert(t0 + Duration::from_millis(20), TimerAction::Call(22));
        assert_eq!(
            fired_order(&mut timers, t0 + Duration::from_millis(25)),
            [1, 2, 22]
        );
        assert_eq!(timers.len(), 1);
        assert_eq!(
            fired_order(&mut timers, t0 + Duration::from_millis(30)),
            [3]
        );
    }

    #[test]
    fn a_timer_never_fires_before_its_deadline() {
        let mut timers = Timers::new();
        let t0 = Instant::now();
        let deadline = t0 + Duration::from_millis(10);
        timers.insert(deadline, TimerAction::Call(1));
        assert!(fired_order(&mut timers, deadline - Duration::from_nanos(1)).is_empty());
        assert_eq!(fired_order(&mut timers, deadline), [1]);
    }

    #[test]
    fn a_cancelled_timer_does_not_fire() {
        let mut timers = Timers::new();
        let t0 = Instant::now();
        let key = timers.insert(t0, TimerAction::Call(1));
        assert!(timers.cancel(key).is_some());
        assert!(timers.cancel(key).is_none(), "cancel twice");
        assert!(fired_order(&mut timers, t0 + Duration::from_secs(1)).is_empty());
        assert_eq!(timers.next_timeout(t0), None);
    }

    #[test]
    fn create_and_cancel_churn_keeps_the_heap_bounded() {
        let mut timers: Timers<u32> = Timers::new();
        let far = Instant::now() + Duration::from_secs(3600);
        let keep = timers.insert(far, TimerAction::Call(0));
        for _ in 0..100_000 {
            let key = timers.insert(far, TimerAction::Call(1));
            timers.cancel(key);
        }
        assert!(
            timers.heap.len() <= 2 * Timers::<u32>::MIN_REBUILD,
            "{}",
            timers.heap.len()
        );
        assert_eq!(timers.len(), 1);
        assert!(timers.cancel(keep).is_some());
    }
}
