//! Wakers parked in corio's sync primitives, noted in debug mode.
//!
//! A task waiting on an `Event`, a `Semaphore`, a `Queue` … leaves a clone
//! of its waker in the primitive, out of the loop's sight. In debug mode
//! the primitive also takes a [`ParkNote`] and keeps it beside the clone:
//! the note is registered with the running loop while it lives, and drops
//! with the clone. So the loop knows, for the dump and the stall report,
//! which waker clones are held by corio itself and what they wait on. Off
//! the loop, or with debug mode off, [`park_note`] does nothing.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::Waker;

use crate::context;

/// Children's wakers by address, shared.
pub(crate) type Relays = Arc<[(usize, Weak<dyn Any + Send + Sync>)]>;

/// One noted waker clone.
#[derive(Clone)]
pub(crate) struct Record {
    /// `Waker::data` of the clone: whose waker it is.
    pub(crate) waker: usize,
    /// The primitive's type, as users name it (`"Event"`, `"Queue.get"` …).
    pub(crate) kind: &'static str,
    /// The primitive's number (see [`object_id`]).
    pub(crate) object: u64,
    /// For a combinator (`gather`, `wait` …) that holds its parent's waker
    /// and hands each child a waker of its own: the children's wakers,
    /// by address. A wake of any of them wakes the parent, so the dump
    /// counts their clones as the parent's.
    pub(crate) relays: Relays,
}

/// The loop's table of noted clones. (Behind a `Mutex` only so that a
/// note is `Send`, as the primitives holding notes were before notes
/// existed; it is only ever touched from the loop's thread, and only in
/// debug mode.)
#[derive(Default)]
pub(crate) struct Parked {
    table: Arc<Mutex<Table>>,
}

#[derive(Default)]
struct Table {
    records: HashMap<u64, Record>,
    /// Who holds which `Lock` (see [`hold_note`]).
    holds: HashMap<u64, Hold>,
    next: u64,
}

/// A `Lock` held: by the task (or main future) whose poll took it —
/// `None`: not a poll (a callback's `try_lock`, say). By key, not by
/// waker: a parked task's waker may go back to the pool and serve
/// another task.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Hold {
    pub(crate) task: Option<crate::waker::TaskKey>,
    pub(crate) kind: &'static str,
    pub(crate) object: u64,
}

fn lock(table: &Mutex<Table>) -> MutexGuard<'_, Table> {
    table
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Parked {
    /// A copy of every record.
    pub(crate) fn records(&self) -> Vec<Record> {
        lock(&self.table).records.values().cloned().collect()
    }

    /// A copy of every hold.
    pub(crate) fn holds(&self) -> Vec<Hold> {
        lock(&self.table).holds.values().copied().collect()
    }
}

/// Registers a waker clone (a [`Record`]) or a hold (a [`Hold`]) while
/// it lives; keep it beside the clone, or in the `Lock`. (One counter
/// numbers both maps' entries, so an id names one entry in either.)
pub(crate) struct ParkNote {
    table: Weak<Mutex<Table>>,
    id: u64,
}

impl Drop for ParkNote {
    fn drop(&mut self) {
        if let Some(table) = self.table.upgrade() {
            let mut table = lock(&table);
            if table.records.remove(&self.id).is_none() {
                table.holds.remove(&self.id);
            }
        }
    }
}

/// A note that the task being polled now holds the primitive `object` of
/// type `kind`, if the loop running here is in debug mode (the `Lock`
/// checks [`any_debug_loop`](super::any_debug_loop) first). The `Lock`
/// keeps it until it is taken again.
#[cold]
#[inline(never)]
pub(crate) fn hold_note(kind: &'static str, object: &Number) -> Option<ParkNote> {
    context::with_current(|core| {
        if !core.debug.is_on() {
            return None;
        }
        let hold = Hold {
            task: core.polling_key(),
            kind,
            object: object_id(kind, object),
        };
        let (table, id) = register(&core.debug.parked.table, |t, id| {
            t.holds.insert(id, hold);
        });
        Some(ParkNote { table, id })
    })
    .flatten()
}

impl std::fmt::Debug for ParkNote {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParkNote").field("id", &self.id).finish()
    }
}

/// A note for a clone of `waker` parked in the primitive `object` of type
/// `kind` — if a loop in debug mode runs on this thread.
#[inline]
pub(crate) fn park_note(kind: &'static str, object: &Number, waker: &Waker) -> Option<ParkNote> {
    note(kind, object, waker, || Arc::clone(&NO_RELAYS))
}

/// The relay list of a plain note: one shared empty list, so that a note
/// costs no allocation for it.
static NO_RELAYS: std::sync::LazyLock<Relays> = std::sync::LazyLock::new(|| Arc::from(Vec::new()));

/// The note, if some loop of the process is in debug mode (one load when
/// none is) and it is the one running here.
#[inline]
fn note(
    kind: &'static str,
    object: &Number,
    waker: &Waker,
    relays: impl FnOnce() -> Relays,
) -> Option<ParkNote> {
    if !super::any_debug_loop() {
        return None;
    }
    note_slow(kind, object, waker, relays)
}

#[cold]
#[inline(never)]
fn note_slow(
    kind: &'static str,
    object: &Number,
    waker: &Waker,
    relays: impl FnOnce() -> Relays,
) -> Option<ParkNote> {
    context::with_current(|core| {
        if !core.debug.is_on() {
            return None;
        }
        let record = Record {
            waker: waker.data() as usize,
            kind,
            object: object_id(kind, object),
            relays: relays(),
        };
        let (table, id) = register(&core.debug.parked.table, |t, id| {
            t.records.insert(id, record);
        });
        Some(ParkNote { table, id })
    })
    .flatten()
}

/// Adds an entry to the loop's table under a fresh id (`add` puts it in
/// the right map); gives what a note needs to take it out again.
fn register(
    table: &Arc<Mutex<Table>>,
    add: impl FnOnce(&mut Table, u64),
) -> (Weak<Mutex<Table>>, u64) {
    let mut locked = lock(table);
    let id = locked.next;
    locked.next += 1;
    add(&mut locked, id);
    (Arc::downgrade(table), id)
}

/// A primitive's number among those of its kind on this thread, given the
/// first time one of its waiters is noted (0 in `id` means "none yet"):
/// `Event#3` in dumps. The lines of one primitive (`Queue.get`,
/// `Queue.put`, `Queue.join`) are counted as one kind (`Queue`), and keep
/// their numbers equal (`wait_queue::share_number`).
fn object_id(kind: &'static str, id: &Number) -> u64 {
    let kind = kind.split('.').next().unwrap_or(kind);
    thread_local! {
        static NEXT: RefCell<HashMap<&'static str, u64>> = RefCell::new(HashMap::new());
    }
    if id.get() == 0 {
        let next = NEXT.with(|next| {
            let mut next = next.borrow_mut();
            let n = next.entry(kind).or_insert(0);
            *n += 1;
            *n
        });
        id.set(next);
    }
    id.get()
}

/// A primitive's number in debug dumps (0 until one of its waiters is
/// first noted). A primitive with several lines of waiters (a `Queue`'s
/// getters, putters and joiners) keeps their numbers equal with
/// [`adopt`](Self::adopt), so that every waiter on it shows the same `#n`.
#[derive(Debug, Default)]
pub(crate) struct Number(Cell<u64>);

impl Number {
    /// Takes `other`'s number if this one has none yet.
    pub(crate) fn adopt(&self, other: &Number) {
        if self.0.get() == 0 {
            self.0.set(other.0.get());
        }
    }

    fn get(&self) -> u64 {
        self.0.get()
    }

    fn set(&self, number: u64) {
        self.0.set(number);
    }
}

/// A waker clone parked in a primitive, with its note: the two live and
/// die together, which keeps the loop's table exact.
#[derive(Debug)]
pub(crate) struct ParkedWaker {
    waker: Waker,
    _note: Option<ParkNote>,
}

impl ParkedWaker {
    pub(crate) fn new(kind: &'static str, object: &Number, waker: &Waker) -> ParkedWaker {
        ParkedWaker {
            _note: park_note(kind, object, waker),
            waker: waker.clone(),
        }
    }

    /// The parent's waker kept by a combinator whose children wake it
    /// through their own wakers (see [`Record::relays`]); `relays` is
    /// called only in debug mode.
    pub(crate) fn relay(
        kind: &'static str,
        object: &Number,
        waker: &Waker,
        relays: impl FnOnce() -> Relays,
    ) -> ParkedWaker {
        ParkedWaker {
            _note: note(kind, object, waker, relays),
            waker: waker.clone(),
        }
    }

    pub(crate) fn will_wake(&self, waker: &Waker) -> bool {
        self.waker.will_wake(waker)
    }

    /// Takes the note off, leaving the waker (for a holder that goes away
    /// while its clone lives on elsewhere).
    pub(crate) fn take_note(&mut self) -> Option<ParkNote> {
        self._note.take()
    }

    /// The waker, its note dropped (so the table forgets it first).
    pub(crate) fn into_waker(self) -> Waker {
        self.waker
    }

    pub(crate) fn wake(self) {
        self.into_waker().wake();
    }
}
