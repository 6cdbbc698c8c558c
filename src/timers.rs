//! The loop's timer queue: what is due when.
//!
//! This is asyncio's `_scheduled`, which is a binary min-heap of deadlines.
//! corio sorts its deadlines into *buckets* of about 4 ms instead (2^22 ns
//! of the loop's clock each), kept in order in a `BTreeMap`: arming
//! a timer finds its bucket and pushes the entry at the end; the loop sorts
//! a bucket only once it is the earliest one (when the turn asks how long
//! it may wait, or fires it) — again only if a later arming broke its
//! order — then fires from its front. A heap with
//! 100,000 timers pops through 17 levels spread over megabytes, a cache miss
//! at most of them; a bucket is a short run of memory read in order. (A
//! timer wheel, tokio's way, gets the same effect with fixed slots.)
//!
//! Each entry points at a slot in a slab; the slot says what to do when the
//! deadline passes — wake a [`Sleep`](crate::time::Sleep)'s task, or queue a
//! `call_later` callback.
//!
//! Cancelling is lazy, as in asyncio: the slot is freed at once, and its
//! entry, which no longer matches any slot, is skipped when its bucket comes
//! due. So that create/cancel churn cannot grow the buckets without bound,
//! they are rebuilt without dead entries once those are more than half of
//! all entries (asyncio's `_MIN_CANCELLED_TIMER_HANDLES_FRACTION`).
//! Rebuilding costs O(n) and happens at most once per n/2 cancels: O(1)
//! amortized.
//!
//! Deadlines are stored as nanoseconds since an epoch up to a century
//! before the loop's creation (`u64`: 584 years in all, about four
//! centuries past the loop's creation; later deadlines saturate — sleeps
//! are not capped below that: only a delay that would overflow an
//! `Instant` becomes a century), which keeps an entry at 24 bytes.

use std::collections::BTreeMap;
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

/// One armed (or cancelled, not yet dropped) deadline. Ordered by deadline,
/// then by arming order.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Entry {
    /// Nanoseconds since `Timers::epoch`.
    when: u64,
    /// Ties fire in the order they were armed.
    seq: u64,
    index: u32,
}

impl Entry {
    /// Does the entry's slot still hold its timer (not cancelled, not
    /// reused by a later one)?
    fn is_live<C>(&self, slots: &Slab<TimerSlot<C>>) -> bool {
        slots
            .get(self.index as usize)
            .is_some_and(|slot| slot.seq == self.seq)
    }
}

/// A bucket's deadlines share their bits above this one: 2^22 ns ≈ 4.2 ms.
/// Narrower buckets sort less when one comes due, but cost more memory
/// when timers are sparse (each bucket is a list and a map entry): 100,000
/// connections with a 60 s idle timeout each, armed a millisecond apart,
/// put about four timers in a bucket at this width.
const BUCKET_SHIFT: u32 = 22;

/// The deadlines of one bucket.
struct Bucket {
    /// `entries[next..]` are still queued (fired or dropped ones are before).
    entries: Vec<Entry>,
    next: usize,
    /// `entries[next..]` is in order.
    sorted: bool,
}

impl Bucket {
    /// Sorts what is still queued, if arming broke the order.
    fn sort(&mut self) {
        if !self.sorted {
            self.entries[self.next..].sort_unstable();
            self.sorted = true;
        }
    }

    fn queued(&self) -> &[Entry] {
        &self.entries[self.next..]
    }
}

/// Deadlines in buckets, with lazy cancellation.
///
/// `C` is what a `call_later` timer carries (the loop's callback key).
pub(crate) struct Timers<C> {
    /// Bucket number (`when >> BUCKET_SHIFT`) → its deadlines.
    buckets: BTreeMap<u64, Bucket>,
    slots: Slab<TimerSlot<C>>,
    /// Entries in the buckets, live or dead.
    queued: usize,
    /// Entries whose slot was freed by a cancel.
    dead: usize,
    /// Emptied entry lists, kept for the next buckets.
    spare: Vec<Vec<Entry>>,
    next_seq: u64,
    /// Deadlines are nanoseconds since this, a century before the queue
    /// was made: a deadline computed before the loop existed (a schedule
    /// prepared in advance) still sorts earliest first, and `u64`
    /// nanoseconds reach four centuries past it.
    epoch: Instant,
}

impl<C> Timers<C> {
    /// Below this many entries, dead ones are never worth a rebuild.
    const MIN_REBUILD: usize = 64;
    /// How many emptied entry lists are kept.
    const SPARE_LISTS: usize = 8;
    /// Lists that grew larger are freed, not kept: a spare list goes to the
    /// next new bucket, which may hold a single timer for an hour.
    const SPARE_CAPACITY: usize = 256;

    pub(crate) fn new() -> Timers<C> {
        Timers {
            buckets: BTreeMap::new(),
            slots: Slab::new(),
            queued: 0,
            dead: 0,
            spare: Vec::new(),
            next_seq: 0,
            epoch: Self::epoch(Instant::now()),
        }
    }

    /// As long before `now` as the platform's clock can say, up to a
    /// century.
    fn epoch(now: Instant) -> Instant {
        const YEAR: u64 = 365 * 24 * 3600;
        [100 * YEAR, YEAR, 24 * 3600, 0]
            .into_iter()
            .find_map(|secs| now.checked_sub(Duration::from_secs(secs)))
            .unwrap_or(now)
    }

    /// Armed timers.
    pub(crate) fn len(&self) -> usize {
        self.slots.len()
    }

    fn ticks(&self, t: Instant) -> u64 {
        let nanos = t.saturating_duration_since(self.epoch).as_nanos();
        u64::try_from(nanos).unwrap_or(u64::MAX)
    }

    /// Arms a timer for `when`.
    pub(crate) fn insert(&mut self, when: Instant, action: TimerAction<C>) -> TimerKey {
        let seq = self.next_seq;
        self.next_seq += 1;
        let index = self.slots.insert(TimerSlot { seq, action });
        let index = u32::try_from(index).expect("more than 4 billion timers armed at once");
        let entry = Entry {
            when: self.ticks(when),
            seq,
            index,
        };
        let spare = &mut self.spare;
        let bucket = self
            .buckets
            .entry(entry.when >> BUCKET_SHIFT)
            .or_insert_with(|| Bucket {
                entries: spare.pop().unwrap_or_default(),
                next: 0,
                sorted: true,
            });
        // Timers armed with one duration arrive in order: then the bucket
        // needs no sort at all.
        if bucket.queued().last().is_some_and(|last| *last > entry) {
            bucket.sorted = false;
        }
        bucket.entries.push(entry);
        self.queued += 1;
        TimerKey { index, seq }
    }

    fn slot_mut(&mut self, key: TimerKey) -> Option<&mut TimerSlot<C>> {
        self.slots
            .get_mut(key.index as usize)
            .filter(|slot| slot.seq == key.seq)
    }

    /// Points an armed `Sleep` timer at the waiter for `(own, waker)`.
    /// `Err` if the timer is no longer armed; `Ok` with the waiter it
    /// replaced, if any, for the caller to drop outside the loop's state.
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

    /// Takes the waiter out of an armed `Sleep` timer: it fires for
    /// nobody, unless a poll registers a waiter again.
    pub(crate) fn take_waiter(&mut self, key: TimerKey) -> Option<Waiter> {
        match self.slot_mut(key) {
            Some(TimerSlot {
                action: TimerAction::Wake(slot),
                ..
            }) => slot.take(),
            _ => None,
        }
    }

    /// The armed `Sleep` timers with their deadlines and waiters (for the
    /// debug dump), in no particular order.
    pub(crate) fn sleepers(&self) -> impl Iterator<Item = (Instant, &Waiter)> {
        self.buckets
            .values()
            .flat_map(Bucket::queued)
            .filter_map(|entry| {
                let slot = self.slots.get(entry.index as usize)?;
                match &slot.action {
                    TimerAction::Wake(Some(waiter)) if slot.seq == entry.seq => {
                        Some((self.epoch + Duration::from_nanos(entry.when), waiter))
                    }
                    _ => None,
                }
            })
    }

    /// Disarms a timer; returns its action if it was still armed.
    pub(crate) fn cancel(&mut self, key: TimerKey) -> Option<TimerAction<C>> {
        self.slot_mut(key)?;
        let slot = self.slots.remove(key.index as usize);
        self.dead += 1;
        if self.queued >= Self::MIN_REBUILD && self.dead * 2 > self.queued {
            self.rebuild();
        }
        Some(slot.action)
    }

    /// Drops every dead entry (and the buckets left empty).
    fn rebuild(&mut self) {
        let slots = &self.slots;
        let spare = &mut self.spare;
        let mut queued = 0;
        self.buckets.retain(|_, bucket| {
            let next = bucket.next;
            bucket.entries.drain(..next);
            bucket.next = 0;
            bucket.entries.retain(|entry| entry.is_live(slots));
            queued += bucket.entries.len();
            if bucket.entries.is_empty() {
                if spare.len() < Self::SPARE_LISTS
                    && bucket.entries.capacity() <= Self::SPARE_CAPACITY
                {
                    spare.push(std::mem::take(&mut bucket.entries));
                }
                return false;
            }
            true
        });
        self.queued = queued;
        self.dead = 0;
    }

    /// Time from `now` until the earliest armed deadline (zero if it has
    /// passed); `None` if no timer is armed.
    pub(crate) fn next_timeout(&mut self, now: Instant) -> Option<Duration> {
        let first = self.first_live()?;
        let now = self.ticks(now);
        Some(Duration::from_nanos(first.when.saturating_sub(now)))
    }

    /// The earliest live entry: sorts the first bucket, drops the dead
    /// entries at its front, and the buckets left empty.
    fn first_live(&mut self) -> Option<Entry> {
        loop {
            let mut first = self.buckets.first_entry()?;
            let bucket = first.get_mut();
            bucket.sort();
            while let Some(&entry) = bucket.entries.get(bucket.next) {
                if entry.is_live(&self.slots) {
                    return Some(entry);
                }
                bucket.next += 1;
                self.queued -= 1;
                self.dead -= 1;
            }
            let emptied = first.remove().entries;
            self.recycle(emptied);
        }
    }

    fn recycle(&mut self, mut entries: Vec<Entry>) {
        if self.spare.len() < Self::SPARE_LISTS && entries.capacity() <= Self::SPARE_CAPACITY {
            entries.clear();
            self.spare.push(entries);
        }
    }

    /// Removes every timer due at `now` (deadline ≤ now), earliest first,
    /// ties in arming order, and hands each action to `fire`. Returns how
    /// many fired.
    pub(crate) fn fire_due(&mut self, now: Instant, mut fire: impl FnMut(TimerAction<C>)) -> usize {
        let now = self.ticks(now);
        let mut fired = 0;
        while let Some(mut first) = self.buckets.first_entry() {
            if *first.key() << BUCKET_SHIFT > now {
                break; // the whole bucket is later
            }
            let bucket = first.get_mut();
            bucket.sort();
            while let Some(&entry) = bucket.entries.get(bucket.next) {
                if entry.when > now {
                    return fired; // the rest of this bucket is later
                }
                bucket.next += 1;
                self.queued -= 1;
                if entry.is_live(&self.slots) {
                    let slot = self.slots.remove(entry.index as usize);
                    fire(slot.action);
                    fired += 1;
                } else {
                    self.dead -= 1;
                }
            }
            let emptied = first.remove().entries;
            self.recycle(emptied);
        }
        fired
    }

    /// Disarms everything; returns the actions (for the loop to drop
    /// outside its state).
    pub(crate) fn drain(&mut self) -> Vec<TimerAction<C>> {
        self.buckets.clear();
        self.queued = 0;
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
    fn timers_fire_in_order_across_buckets_like_a_sorted_list() {
        // A small seeded generator: the same sequence on every run.
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % n
        };
        let t0 = Instant::now();
        let mut timers: Timers<u32> = Timers::new();
        // The model: (deadline, arming order, id) of every armed timer.
        let mut model: Vec<(Duration, u32, TimerKey)> = Vec::new();
        let mut now = Duration::ZERO;
        for id in 0..20_000u32 {
            match next(10) {
                // Arm, up to ~8 ms ahead (several buckets), sometimes in the
                // bucket now being fired.
                0..=5 => {
                    let at = now + Duration::from_micros(next(8_000));
                    let key = timers.insert(t0 + at, TimerAction::Call(id));
                    model.push((at, id, key));
                }
                // Cancel a random armed one.
                6 | 7 if !model.is_empty() => {
                    let i = next(model.len() as u64) as usize;
                    let (_, _, key) = model.swap_remove(i);
                    assert!(timers.cancel(key).is_some());
                }
                // Let time pass and fire what is due.
                _ => {
                    now += Duration::from_micros(next(700));
                    let fired = fired_order(&mut timers, t0 + now);
                    model.sort_by_key(|(at, id, _)| (*at, *id));
                    let due = model.partition_point(|(at, _, _)| *at <= now);
                    let expected: Vec<u32> = model.drain(..due).map(|(_, id, _)| id).collect();
                    assert_eq!(fired, expected, "at {now:?}");
                    // The next timeout is the earliest armed deadline.
                    let timeout = timers.next_timeout(t0 + now);
                    let earliest = model.iter().map(|(at, _, _)| *at).min();
                    assert_eq!(timeout, earliest.map(|at| at.saturating_sub(now)));
                }
            }
            assert_eq!(timers.len(), model.len());
        }
    }

    #[test]
    fn a_burst_in_one_bucket_leaves_no_large_list_for_the_next_bucket() {
        let t0 = Instant::now();
        let mut timers: Timers<u32> = Timers::new();
        for round in 0..3u64 {
            let at = t0 + Duration::from_millis(10 * round);
            for i in 0..10_000 {
                timers.insert(at, TimerAction::Call(i));
            }
            assert_eq!(fired_order(&mut timers, at).len(), 10_000);
            // One timer far away gets a new bucket, perhaps a spare list.
            timers.insert(t0 + Duration::from_secs(3600), TimerAction::Call(0));
        }
        let capacity: usize = timers.buckets.values().map(|b| b.entries.capacity()).sum();
        assert!(capacity <= 3 * Timers::<u32>::SPARE_CAPACITY, "{capacity}");
        assert!(
            timers
                .spare
                .iter()
                .all(|list| list.capacity() <= Timers::<u32>::SPARE_CAPACITY)
        );
    }

    #[test]
    fn create_and_cancel_churn_keeps_the_queue_bounded() {
        let mut timers: Timers<u32> = Timers::new();
        let far = Instant::now() + Duration::from_secs(3600);
        let keep = timers.insert(far, TimerAction::Call(0));
        for _ in 0..100_000 {
            let key = timers.insert(far, TimerAction::Call(1));
            timers.cancel(key);
        }
        assert!(
            timers.queued <= 2 * Timers::<u32>::MIN_REBUILD,
            "{}",
            timers.queued
        );
        assert_eq!(timers.len(), 1);
        assert!(timers.cancel(keep).is_some());
    }
}
