//! Which children of a combinator asked to be polled.
//!
//! A combinator over N futures (gather, wait, as_completed, TaskGroup) is
//! woken whenever any child is. Polling all N children on every wake costs
//! O(N²) over a run; instead each child gets its own waker that records its
//! index, and the combinator polls only the children on that list — what
//! `FuturesUnordered` does, in a few lines of safe code.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Waker;

use futures_task::{ArcWake, WakerRef, waker_ref};

#[derive(Default)]
struct Inner {
    woken: Vec<usize>,
    parent: Option<Waker>,
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

impl ArcWake for ChildWaker {
    fn wake_by_ref(this: &Arc<Self>) {
        if this.queued.swap(true, Ordering::AcqRel) {
            return;
        }
        let parent = {
            let mut inner = this.set.lock();
            inner.woken.push(this.index);
            inner.parent.take()
        };
        if let Some(parent) = parent {
            parent.wake();
        }
    }
}

/// Per-child wakers plus the list of children woken since the last look.
pub(crate) struct WakeSet {
    shared: Arc<Shared>,
    children: Vec<Arc<ChildWaker>>,
}

impl WakeSet {
    /// A set of `n` children, all of them woken (so each is polled once).
    pub(crate) fn new(n: usize) -> WakeSet {
        let mut set = WakeSet {
            shared: Arc::default(),
            children: Vec::with_capacity(n),
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

    /// Remembers `parent` as the waker to call when a child wakes, and moves
    /// the indices of the children woken since the last call into `out`.
    pub(crate) fn take_woken(&self, parent: &Waker, out: &mut Vec<usize>) {
        out.clear();
        {
            let mut inner = self.shared.lock();
            match &inner.parent {
                Some(old) if old.will_wake(parent) => {}
                _ => inner.parent = Some(parent.clone()),
            }
            std::mem::swap(&mut inner.woken, out);
        }
        for &index in out.iter() {
            self.children[index].queued.store(false, Ordering::Release);
        }
    }

    /// The waker to poll child `index` with.
    pub(crate) fn waker(&self, index: usize) -> WakerRef<'_> {
        waker_ref(&self.children[index])
    }
}
