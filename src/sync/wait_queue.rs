//! [`WaitQueue`]: the FIFO line of waiting futures every primitive uses.
//!
//! A waiting future holds a [`Ticket`]. What it waits for — a permit, the
//! promise of an item, a notification — is *handed* to the first ticket in line
//! ([`WaitQueue::hand`]), so nobody can barge ahead, and a handed gift
//! waits in the entry until its future takes it. The cancel-safety rule
//! follows: a future dropped with a gift in its entry gets the gift back
//! from [`WaitQueue::cancel`] and passes it on. Nothing is lost, whichever
//! moment the drop comes at.
//!
//! Entries live in a slab; the line is a `VecDeque` of (slot, sequence)
//! pairs, so a cancelled entry is removed at once; its stale place in the
//! line is dropped at once from the front, or in a sweep once stale places
//! outnumber the live ones.

use std::collections::VecDeque;
use std::task::Waker;

use slab::Slab;

use crate::debug::{Number, ParkedWaker};

/// A waker that left the line without being woken (replaced by a newer
/// one, or its future dropped). Dropping a waker may run foreign code (its
/// executor's destructor), which must not find the primitive borrowed: the
/// caller drops this after its borrow ends (ARCHITECTURE.md, invariant 6).
#[must_use = "drop it after the primitive's borrow ends"]
pub(crate) struct Retired(
    #[allow(dead_code, reason = "held only to be dropped")] Option<ParkedWaker>,
);

/// A place in line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket {
    key: usize,
    seq: u64,
}

struct Entry<T> {
    seq: u64,
    waker: Option<ParkedWaker>,
    /// Handed over, not yet taken.
    gift: Option<T>,
}

pub(crate) struct WaitQueue<T> {
    entries: Slab<Entry<T>>,
    line: VecDeque<Ticket>,
    next_seq: u64,
    /// What the primitive is called in debug dumps (`"Event"` …).
    kind: &'static str,
    /// Its number in debug dumps (0 until noted).
    object: Number,
}

impl<T> WaitQueue<T> {
    /// An empty line of the primitive `kind` (named in debug dumps).
    pub(crate) fn new(kind: &'static str) -> Self {
        WaitQueue {
            entries: Slab::new(),
            line: VecDeque::new(),
            next_seq: 0,
            kind,
            object: Number::default(),
        }
    }

    /// Debug mode: a note that the task polled now holds this primitive.
    #[inline]
    pub(crate) fn hold_note(&self) -> Option<crate::debug::ParkNote> {
        crate::debug::hold_note(self.kind, &self.object)
    }

    fn park(&self, waker: &Waker) -> ParkedWaker {
        ParkedWaker::new(self.kind, &self.object, waker)
    }

    /// Joins the end of the line.
    pub(crate) fn push(&mut self, waker: &Waker) -> Ticket {
        self.next_seq += 1;
        let seq = self.next_seq;
        let parked = self.park(waker);
        let key = self.entries.insert(Entry {
            seq,
            waker: Some(parked),
            gift: None,
        });
        let ticket = Ticket { key, seq };
        self.line.push_back(ticket);
        ticket
    }

    fn entry(&mut self, ticket: Ticket) -> Option<&mut Entry<T>> {
        self.entries
            .get_mut(ticket.key)
            .filter(|entry| entry.seq == ticket.seq)
    }

    /// The gift handed to `ticket`, if any; taking it leaves the line.
    /// Otherwise remembers `waker` for the hand-over; the waker it replaces
    /// comes back, to be dropped once the caller's borrow has ended.
    pub(crate) fn take_or_wait(&mut self, ticket: Ticket, waker: &Waker) -> (Option<T>, Retired) {
        let (kind, object) = (self.kind, &self.object);
        let Some(entry) = self
            .entries
            .get_mut(ticket.key)
            .filter(|entry| entry.seq == ticket.seq)
        else {
            return (None, Retired(None));
        };
        if let Some(gift) = entry.gift.take() {
            let entry = self.entries.remove(ticket.key);
            return (Some(gift), Retired(entry.waker));
        }
        match &entry.waker {
            Some(old) if old.will_wake(waker) => (None, Retired(None)),
            _ => {
                let old = entry.waker.replace(ParkedWaker::new(kind, object, waker));
                (None, Retired(old))
            }
        }
    }

    /// The common shape of a waiting future's poll: done at once if
    /// `ready_now` (while not yet in line: `Ready(None)`); else join the
    /// line, and later take what was handed over (`Ready(Some(gift))`).
    pub(crate) fn poll_wait(
        &mut self,
        ticket: &mut Option<Ticket>,
        ready_now: bool,
        waker: &Waker,
    ) -> (std::task::Poll<Option<T>>, Retired) {
        use std::task::Poll;
        match *ticket {
            None if ready_now => (Poll::Ready(None), Retired(None)),
            None => {
                *ticket = Some(self.push(waker));
                (Poll::Pending, Retired(None))
            }
            Some(t) => match self.take_or_wait(t, waker) {
                (Some(gift), retired) => {
                    *ticket = None;
                    (Poll::Ready(Some(gift)), retired)
                }
                (None, retired) => (Poll::Pending, retired),
            },
        }
    }

    /// Leaves the line (a dropped future). Returns a gift that was handed
    /// to it and never taken — the caller must pass it on — and its waker,
    /// to be dropped once the caller's borrow has ended.
    pub(crate) fn cancel(&mut self, ticket: Ticket) -> (Option<T>, Retired) {
        if self.entry(ticket).is_none() {
            return (None, Retired(None));
        }
        let Entry { gift, waker, .. } = self.entries.remove(ticket.key);
        // Its place in line is stale now. Stale places are skipped when the
        // line moves; a line that does not move (a stop event raced against
        // work, a `get` with a timeout on an idle queue) would keep them all,
        // so they go at once from the front, and in one sweep when they
        // outnumber the live places (amortized O(1) per cancel).
        self.skip_stale();
        if self.line.len() > 2 * self.entries.len() + 8 {
            let entries = &self.entries;
            self.line
                .retain(|place| entries.get(place.key).is_some_and(|e| e.seq == place.seq));
        }
        (gift, Retired(waker))
    }

    /// Is the line empty (not even a stale place in it)? The cheap check
    /// for the uncontended fast paths.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.line.is_empty()
    }

    /// Is anybody waiting without a gift yet?
    pub(crate) fn has_waiting(&mut self) -> bool {
        self.skip_stale();
        !self.line.is_empty()
    }

    /// How many wait without a gift (counting stale places too — an upper
    /// bound: `has_waiting` drops only the stale places at the front, and
    /// those behind a live one stay until the line reaches them or a sweep
    /// removes them).
    pub(crate) fn waiting(&self) -> usize {
        self.line.len()
    }

    fn skip_stale(&mut self) {
        while let Some(&front) = self.line.front() {
            let live = self
                .entries
                .get(front.key)
                .is_some_and(|e| e.seq == front.seq);
            if live {
                return;
            }
            self.line.pop_front();
        }
    }

    /// Hands `gift` to the first in line; returns the waker to wake (after
    /// the caller's borrow ends), or the gift back if nobody waits.
    pub(crate) fn hand(&mut self, gift: T) -> Result<Option<Waker>, T> {
        self.skip_stale();
        let Some(front) = self.line.pop_front() else {
            return Err(gift);
        };
        let Some(entry) = self.entry(front) else {
            unreachable!("corio: skip_stale leaves a live entry in front")
        };
        entry.gift = Some(gift);
        Ok(entry.waker.take().map(ParkedWaker::into_waker))
    }
}

impl<T: Clone> WaitQueue<T> {
    /// Hands a copy of `gift` to everybody in line (a broadcast).
    pub(crate) fn hand_all(&mut self, gift: T, wakers: &mut Vec<Waker>) {
        while let Ok(waker) = self.hand(gift.clone()) {
            wakers.extend(waker);
        }
    }
}

/// Debug dumps: the three lines of one primitive (a `Queue`'s getters,
/// putters and joiners) show one number — each takes the first number any
/// of them got. Called after each wait joins one of the lines.
pub(crate) fn share_number<A, B, C>(a: &WaitQueue<A>, b: &WaitQueue<B>, c: &WaitQueue<C>) {
    a.object.adopt(&b.object);
    a.object.adopt(&c.object);
    b.object.adopt(&a.object);
    c.object.adopt(&a.object);
}
