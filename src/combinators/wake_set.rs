//! Which children of a combinator asked to be polled.
//!
//! A combinator over N futures (gather, wait, as_completed, TaskGroup) is
//! woken whenever any child is. Polling all N children on every wake costs
//! O(N²) over a run; instead each child gets its own waker that records its
//! index, and the combinator polls only the children on that list — what
//! `FuturesUnordered` does, in a few lines of safe code.

use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;

use futures_task::{ArcWake, WakerRef, waker_ref};

use crate::debug::ParkedWaker;

#[derive(Default)]
struct Inner {
    woken: Vec<usize>,
    /// The parent's waker, with a debug note that lists the children's
    /// wakers (so a dump counts them as the parent's).
    parent: Option<ParkedWaker>,
    /// The thread the parent's waker was kept on (the combinator's).
    parked_on: Option<std::thread::ThreadId>,
}

impl Drop for Inner {
    /// The last child waker went on another thread (the combinator was
    /// dropped before): the parent's waker is woken instead of just dropped,
    /// as a channel receiver's is (`waker::wake_parked`). Else the parent
    /// task's loop, which counted this clone before it blocked, would never
    /// hear that nothing can wake the task any more ("would block forever",
    /// debug mode's proof): a child waker woken *by value* on another
    /// thread wakes the parent and then drops its `Arc` — after the parent
    /// may have run, finished the combinator and left a fresh clone here.
    fn drop(&mut self) {
        crate::waker::wake_parked(self.parent.take().map(|p| (p.into_waker(), self.parked_on)));
    }
}

#[derive(Default)]
struct Shared {
    inner: Mutex<Inner>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct ChildWaker {
    index: usize,
    /// On the woken list already.
    queued: AtomicBool,
    set: Arc<Shared>,
}

impl ChildWaker {
    /// Puts the child on the woken list unless it is there already; then,
    /// if `take_parent`, takes the parent's waker for the caller to wake
    /// (outside the lock).
    fn enqueue(&self, take_parent: bool) -> Option<ParkedWaker> {
        if self.queued.swap(true, Ordering::AcqRel) {
            return None;
        }
        let mut inner = self.set.lock();
        inner.woken.push(self.index);
        if take_parent {
            inner.parent.take()
        } else {
            None
        }
    }
}

impl ArcWake for ChildWaker {
    fn wake_by_ref(this: &Arc<Self>) {
        if let Some(parent) = this.enqueue(true) {
            parent.wake();
        }
    }
}

/// Per-child wakers plus the list of children woken since the last look.
pub(crate) struct WakeSet {
    shared: Arc<Shared>,
    children: Vec<Arc<ChildWaker>>,
    /// How many children the parent's note lists.
    noted: Cell<usize>,
    /// The set's number in debug dumps.
    object: crate::debug::Number,
    relays: std::cell::RefCell<Option<crate::debug::Relays>>,
}

impl WakeSet {
    /// A set of `n` children, all of them woken (so each is polled once).
    pub(crate) fn new(n: usize) -> WakeSet {
        let mut set = WakeSet {
            shared: Arc::default(),
            children: Vec::with_capacity(n),
            noted: Cell::new(0),
            object: crate::debug::Number::default(),
            relays: Default::default(),
        };
        for _ in 0..n {
            set.push();
        }
        set
    }

    /// Adds a child, woken. Returns its index.
    pub(crate) fn push(&mut self) -> usize {
        let index = self.children.len();
        self.children.push(Arc::new(ChildWaker {
            index,
            queued: AtomicBool::new(true),
            set: Arc::clone(&self.shared),
        }));
        self.shared.lock().woken.push(index);
        index
    }

    /// Puts child `index` on the woken list, so that the next look polls
    /// it (a new child in a finished one's place), unless it is there
    /// already. The parent is not woken: it is the one adding the child.
    pub(crate) fn rewake(&self, index: usize) {
        drop(self.children[index].enqueue(false));
    }

    /// Remembers `parent` as the waker to call when a child wakes, and moves
    /// the indices of the children woken since the last call into `out`.
    pub(crate) fn take_woken(&self, parent: &Waker, out: &mut Vec<usize>) {
        out.clear();
        let replaced = {
            let mut inner = self.shared.lock();
            let fresh = match &inner.parent {
                Some(old) => old.will_wake(parent) && self.noted.get() == self.children.len(),
                None => false,
            };
            std::mem::swap(&mut inner.woken, out);
            if fresh {
                None
            } else {
                self.noted.set(self.children.len());
                let build = || -> crate::debug::Relays {
                    let address = |c: &Arc<ChildWaker>| Arc::as_ptr(c) as *const () as usize;
                    self.children
                        .iter()
                        .map(|c| {
                            let weak = Arc::downgrade(c);
                            let weak: std::sync::Weak<dyn std::any::Any + Send + Sync> = weak;
                            (address(c), weak)
                        })
                        .collect::<Vec<_>>()
                        .into()
                };
                let children = || {
                    let mut cached = self.relays.borrow_mut();
                    match &*cached {
                        Some(r) if r.len() == self.children.len() => r.clone(),
                        _ => {
                            let r = build();
                            *cached = Some(r.clone());
                            r
                        }
                    }
                };
                let kept = ParkedWaker::relay("combinator", &self.object, parent, children);
                inner.parked_on = Some(crate::waker::this_thread());
                inner.parent.replace(kept)
            }
        };
        drop(replaced); // its note, outside the lock
        for &index in out.iter() {
            self.children[index].queued.store(false, Ordering::Release);
        }
    }

    /// How many children it has.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.children.len()
    }

    /// The waker to poll child `index` with.
    pub(crate) fn waker(&self, index: usize) -> WakerRef<'_> {
        waker_ref(&self.children[index])
    }
}

impl Drop for WakeSet {
    /// The combinator is gone, but child wakers still held somewhere keep
    /// the shared half — and the parent's waker in it — alive, so a late
    /// child wake still reaches the parent. What the note claimed (that
    /// this set holds each child's waker) is no longer true: it goes.
    fn drop(&mut self) {
        let note = self
            .shared
            .lock()
            .parent
            .as_mut()
            .and_then(ParkedWaker::take_note);
        drop(note); // outside the lock
    }
}
