//! `Queue`, `LifoQueue`, `PriorityQueue`: producer/consumer queues for tasks.

use std::cell::RefCell;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::wait_queue::{Ticket, WaitQueue, share_number};

/// In which order a [`Queue`] gives its items: [`Fifo`], [`Lifo`] or
/// [`Priority`]. (Sealed: these three are all there are.)
///
/// # Examples
///
/// ```
/// use corio::sync::{GenericQueue, Priority};
///
/// let queue: GenericQueue<u8, Priority> = GenericQueue::new(0);
/// queue.put_nowait(3).unwrap();
/// queue.put_nowait(1).unwrap();
/// assert_eq!(queue.get_nowait(), Ok(1));
/// ```
pub trait Order<T>: sealed::Sealed {
    #[doc(hidden)]
    type Store: Store<T>;
    /// The queue's name in `Debug` output.
    #[doc(hidden)]
    const NAME: &'static str;
    /// What debug dumps call a wait in `get`, `put` and `join`.
    #[doc(hidden)]
    const WAITS: Waits;
}

/// The names debug dumps give to a queue's three lines of waiters.
#[doc(hidden)]
#[derive(Debug, Clone, Copy)]
pub struct Waits {
    get: &'static str,
    put: &'static str,
    join: &'static str,
}

impl Waits {
    /// An `mpsc` channel's: a channel, not a `Queue`, to its user.
    pub(crate) const MPSC: Waits = Waits {
        get: "mpsc.recv",
        put: "mpsc.send",
        join: "mpsc.join",
    };
}

mod sealed {
    pub trait Sealed {}
}

#[doc(hidden)]
pub trait Store<T>: Default {
    fn push(&mut self, item: T);
    fn pop(&mut self) -> Option<T>;
    fn len(&self) -> usize;
    fn take_all(&mut self) -> Vec<T>;
}

/// First in, first out (asyncio's `Queue`).
///
/// # Examples
///
/// ```
/// let queue: corio::sync::GenericQueue<u8, corio::sync::Fifo> = corio::sync::Queue::new(0);
/// queue.put_nowait(1).unwrap();
/// queue.put_nowait(2).unwrap();
/// assert_eq!(queue.get_nowait(), Ok(1));
/// ```
#[derive(Debug)]
pub struct Fifo;
/// Last in, first out (asyncio's `LifoQueue`).
///
/// # Examples
///
/// ```
/// let stack: corio::sync::GenericQueue<u8, corio::sync::Lifo> = corio::sync::LifoQueue::new(0);
/// stack.put_nowait(1).unwrap();
/// stack.put_nowait(2).unwrap();
/// assert_eq!(stack.get_nowait(), Ok(2));
/// ```
#[derive(Debug)]
pub struct Lifo;
/// Smallest first (asyncio's `PriorityQueue`; items are `Ord`, e.g.
/// `(priority, data)` tuples).
///
/// The items' `Ord` runs while the queue is borrowed (inside `put`, `get`
/// and their `_nowait` forms): it must not call the queue's own methods,
/// which would panic (`RefCell already borrowed`). An `Ord` that panics
/// propagates to the caller and may leave a waiting getter or putter
/// unwoken — keep it a plain comparison.
///
/// # Examples
///
/// ```
/// let jobs: corio::sync::GenericQueue<(u8, &str), corio::sync::Priority> =
///     corio::sync::PriorityQueue::new(0);
/// jobs.put_nowait((9, "later")).unwrap();
/// jobs.put_nowait((0, "now")).unwrap();
/// assert_eq!(jobs.get_nowait(), Ok((0, "now")));
/// ```
#[derive(Debug)]
pub struct Priority;

impl sealed::Sealed for Fifo {}
impl sealed::Sealed for Lifo {}
impl sealed::Sealed for Priority {}

impl<T> Order<T> for Fifo {
    type Store = VecDeque<T>;
    const NAME: &'static str = "Queue";
    const WAITS: Waits = Waits {
        get: "Queue.get",
        put: "Queue.put",
        join: "Queue.join",
    };
}
impl<T> Order<T> for Lifo {
    type Store = Vec<T>;
    const NAME: &'static str = "LifoQueue";
    const WAITS: Waits = Waits {
        get: "LifoQueue.get",
        put: "LifoQueue.put",
        join: "LifoQueue.join",
    };
}
impl<T: Ord> Order<T> for Priority {
    type Store = BinaryHeap<Reverse<T>>;
    const NAME: &'static str = "PriorityQueue";
    const WAITS: Waits = Waits {
        get: "PriorityQueue.get",
        put: "PriorityQueue.put",
        join: "PriorityQueue.join",
    };
}

impl<T> Store<T> for VecDeque<T> {
    fn push(&mut self, item: T) {
        self.push_back(item);
    }
    fn pop(&mut self) -> Option<T> {
        self.pop_front()
    }
    fn len(&self) -> usize {
        VecDeque::len(self)
    }
    fn take_all(&mut self) -> Vec<T> {
        self.drain(..).collect()
    }
}

impl<T> Store<T> for Vec<T> {
    fn push(&mut self, item: T) {
        Vec::push(self, item);
    }
    fn pop(&mut self) -> Option<T> {
        Vec::pop(self)
    }
    fn len(&self) -> usize {
        Vec::len(self)
    }
    fn take_all(&mut self) -> Vec<T> {
        std::mem::take(self)
    }
}

impl<T: Ord> Store<T> for BinaryHeap<Reverse<T>> {
    fn push(&mut self, item: T) {
        BinaryHeap::push(self, Reverse(item));
    }
    fn pop(&mut self) -> Option<T> {
        BinaryHeap::pop(self).map(|Reverse(item)| item)
    }
    fn len(&self) -> usize {
        BinaryHeap::len(self)
    }
    fn take_all(&mut self) -> Vec<T> {
        self.drain().map(|Reverse(item)| item).collect()
    }
}

/// The queue was shut down ([`Queue::shutdown`]); a `put` gives its item
/// back in it.
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let queue = corio::sync::Queue::new(0);
///     queue.shutdown(false);
///     assert_eq!(queue.put(1).await, Err(corio::sync::QueueShutDown(1)));
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueShutDown<T = ()>(pub T);

impl<T> fmt::Display for QueueShutDown<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the queue is shut down")
    }
}

impl<T: fmt::Debug> std::error::Error for QueueShutDown<T> {}

/// Why [`Queue::put_nowait`] did not put (asyncio's `QueueFull`, or
/// `QueueShutDown`); the item is given back.
///
/// # Examples
///
/// ```
/// use corio::sync::{Queue, TryPutError};
///
/// let queue = Queue::new(1);
/// queue.put_nowait('a').unwrap();
/// assert_eq!(queue.put_nowait('b'), Err(TryPutError::Full('b')));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryPutError<T> {
    /// The queue has no room (asyncio's `QueueFull`): it holds `maxsize`
    /// items, or places freed by `get`s are handed to waiting `put`s that
    /// have not run yet (see [`full`](GenericQueue::full)).
    Full(T),
    /// The queue was shut down.
    ShutDown(T),
}

impl<T> TryPutError<T> {
    /// The item that was not put, whichever the reason.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = corio::sync::Queue::new(1);
    /// queue.put_nowait(1).unwrap();
    /// assert_eq!(queue.put_nowait(2).unwrap_err().into_inner(), 2);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TryPutError::Full(item) | TryPutError::ShutDown(item) => item,
        }
    }
}

impl<T> fmt::Display for TryPutError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryPutError::Full(_) => f.write_str("the queue is full"),
            TryPutError::ShutDown(_) => f.write_str("the queue is shut down"),
        }
    }
}

impl<T: fmt::Debug> std::error::Error for TryPutError<T> {}

/// Why [`Queue::get_nowait`] got nothing (asyncio's `QueueEmpty`, or
/// `QueueShutDown`).
///
/// # Examples
///
/// ```
/// use corio::sync::{Queue, TryGetError};
///
/// let queue = Queue::<u8>::new(0);
/// assert_eq!(queue.get_nowait(), Err(TryGetError::Empty));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryGetError {
    /// Nothing is queued (asyncio's `QueueEmpty`).
    Empty,
    /// Nothing is queued and the queue was shut down.
    ShutDown,
}

impl fmt::Display for TryGetError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryGetError::Empty => f.write_str("the queue is empty"),
            TryGetError::ShutDown => f.write_str("the queue is empty and shut down"),
        }
    }
}

impl std::error::Error for TryGetError {}

/// [`Queue::task_done`] was called more times than items were put.
///
/// # Examples
///
/// ```
/// let queue = corio::sync::Queue::<u8>::new(0);
/// assert!(queue.task_done().is_err());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskDoneError;

impl fmt::Display for TaskDoneError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("task_done() called more times than there were items")
    }
}

impl std::error::Error for TaskDoneError {}

struct State<T, S> {
    items: S,
    maxsize: usize,
    /// Places handed to waiting putters, not yet filled.
    reserved: usize,
    /// Stored items promised to getters that were woken for them and take
    /// one when they run (asyncio's getters, too, take from the store when
    /// they run, so the store's order is the only order). `get_nowait`
    /// takes any; newcomers take only from the rest — until the queue shuts
    /// down: no more items come then, and any getter takes what is left.
    claimed: usize,
    /// Getters get `true` (an item is theirs to take) or `false` (the
    /// queue shut down: take one if any is left, else fail).
    getters: WaitQueue<bool>,
    /// Putters get `true` (a place) or `false` (the queue shut down).
    putters: WaitQueue<bool>,
    /// Items put and not yet marked done.
    unfinished: usize,
    joiners: WaitQueue<()>,
    shut_down: bool,
    _item: PhantomData<fn() -> T>,
}

impl<T, S: Store<T>> State<T, S> {
    /// A waiter joined one of the lines: debug dumps show one number for
    /// the three (a few loads; nothing to do once they have one).
    #[inline]
    fn joined(&self) {
        share_number(&self.getters, &self.putters, &self.joiners);
    }

    /// Room for one more: every stored item takes some (those promised to
    /// woken getters too: `maxsize` holds however getters come and go), and
    /// so do places handed to waiting putters.
    #[inline]
    fn has_room(&self) -> bool {
        self.maxsize == 0 || self.items.len() + self.reserved < self.maxsize
    }

    /// Is there an item nobody was promised?
    #[inline]
    fn has_unclaimed(&self) -> bool {
        self.items.len() > self.claimed
    }

    /// Stores an item, and promises one to the first waiting getter.
    #[inline]
    fn deliver(&mut self, item: T) -> Option<Waker> {
        self.items.push(item);
        self.claim_for_next()
    }

    /// An unclaimed item goes to the first waiting getter, if any.
    fn claim_for_next(&mut self) -> Option<Waker> {
        if self.has_unclaimed() {
            if let Ok(waker) = self.getters.hand(true) {
                self.claimed += 1;
                return waker;
            }
        }
        None
    }

    /// A place may have come free: hand it to the first waiting putter.
    #[inline]
    fn free_place(&mut self) -> Option<Waker> {
        if self.maxsize > 0 && self.has_room() && self.putters.has_waiting() {
            self.reserved += 1;
            match self.putters.hand(true) {
                Ok(waker) => return waker,
                Err(_) => self.reserved -= 1,
            }
        }
        None
    }
}

/// A queue for tasks on one loop (asyncio's `Queue`, `queue.Queue`):
/// producers [`put`](Self::put), consumers [`get`](Self::get); with a
/// `maxsize`, producers wait while it is full. [`task_done`](Self::task_done)
/// and [`join`](Self::join) let a producer wait until every item was
/// processed; [`shutdown`](Self::shutdown) ends it.
///
/// The order is FIFO; [`LifoQueue`] and [`PriorityQueue`] are the same
/// type with another [`Order`]. Waiting producers and consumers are served
/// in the order they came: a `get` that arrives while getters wait (even
/// ones woken for an item that have not run yet) waits behind them unless
/// there are more items than those promised to them. Then it takes one at
/// once — the next in the queue's order, as every getter does when it
/// runs, so a woken getter that has not run yet gets the item after
/// (asyncio's getters, too, take from the queue when they run).
/// `get_nowait`, like asyncio's, takes any item there is, as `empty()` and
/// `qsize()` count it; a woken getter that then finds none waits again.
///
/// **Cancel safety.** A `get` dropped at any moment loses no item: items
/// stay in the queue until a getter runs and takes one (as in asyncio), so
/// the promise of one made to a waiting getter that goes away passes to
/// the next consumer, and the order is always the queue's. A `put` dropped
/// before it completed put nothing (its item is dropped with it); a place
/// already handed to it goes to the next producer.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use corio::sync::Queue;
///
/// corio::run(async {
///     let queue = Rc::new(Queue::new(2));
///     let q = queue.clone();
///     let producer = corio::spawn(async move {
///         for url in ["/a", "/b", "/c"] {
///             q.put(url).await.unwrap(); // waits while 2 are queued
///         }
///     });
///     let mut got = Vec::new();
///     for _ in 0..3 {
///         got.push(queue.get().await.unwrap());
///         queue.task_done().unwrap();
///     }
///     producer.await.unwrap();
///     queue.join().await;
///     assert_eq!(got, ["/a", "/b", "/c"]);
/// });
/// ```
pub type Queue<T> = GenericQueue<T, Fifo>;

/// The one queue type behind [`Queue`], [`LifoQueue`] and [`PriorityQueue`]
/// (the aliases pick its [`Order`]); its methods are documented here.
///
/// # Examples
///
/// ```
/// use corio::sync::{GenericQueue, Lifo};
///
/// let stack: GenericQueue<u8, Lifo> = corio::sync::LifoQueue::new(0);
/// stack.put_nowait(1).unwrap();
/// stack.put_nowait(2).unwrap();
/// assert_eq!(stack.get_nowait(), Ok(2)); // last in, first out
/// ```
pub struct GenericQueue<T, O: Order<T>> {
    state: RefCell<State<T, O::Store>>,
    _order: PhantomData<O>,
}

/// A last-in, first-out [`Queue`] (asyncio's `LifoQueue`).
///
/// # Examples
///
/// ```
/// let stack = corio::sync::LifoQueue::new(0);
/// stack.put_nowait(1).unwrap();
/// stack.put_nowait(2).unwrap();
/// assert_eq!(stack.get_nowait(), Ok(2));
/// ```
pub type LifoQueue<T> = GenericQueue<T, Lifo>;

/// A smallest-first [`Queue`] (asyncio's `PriorityQueue`).
///
/// # Examples
///
/// ```
/// let jobs = corio::sync::PriorityQueue::new(0);
/// jobs.put_nowait((2, "later")).unwrap();
/// jobs.put_nowait((1, "first")).unwrap();
/// assert_eq!(jobs.get_nowait(), Ok((1, "first")));
/// ```
pub type PriorityQueue<T> = GenericQueue<T, Priority>;

impl<T, O: Order<T>> GenericQueue<T, O> {
    /// A queue holding at most `maxsize` items (`0`: no limit).
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = corio::sync::Queue::<String>::new(10);
    /// assert_eq!(queue.maxsize(), 10);
    /// ```
    pub fn new(maxsize: usize) -> GenericQueue<T, O> {
        GenericQueue::with_waits(maxsize, O::WAITS)
    }

    /// A queue whose waits debug dumps call by `waits`' names.
    pub(crate) fn with_waits(maxsize: usize, waits: Waits) -> GenericQueue<T, O> {
        GenericQueue {
            state: RefCell::new(State {
                items: O::Store::default(),
                maxsize,
                reserved: 0,
                claimed: 0,
                getters: WaitQueue::new(waits.get),
                putters: WaitQueue::new(waits.put),
                unfinished: 0,
                joiners: WaitQueue::new(waits.join),
                shut_down: false,
                _item: PhantomData,
            }),
            _order: PhantomData,
        }
    }

    /// Puts an item, waiting while the queue is full. Fails (giving the
    /// item back) once the queue is shut down. Cancel safe: see the type.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let queue = corio::sync::Queue::new(0);
    ///     queue.put("job").await.unwrap();
    ///     assert_eq!(queue.qsize(), 1);
    /// });
    /// ```
    pub fn put(&self, item: T) -> Put<'_, T, O> {
        Put {
            queue: self,
            item: Some(item),
            ticket: None,
        }
    }

    /// Puts an item if there is room now.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = corio::sync::Queue::new(1);
    /// assert!(queue.put_nowait(1).is_ok());
    /// assert!(queue.put_nowait(2).is_err());
    /// ```
    pub fn put_nowait(&self, item: T) -> Result<(), TryPutError<T>> {
        let waker = {
            let mut st = self.state.borrow_mut();
            if st.shut_down {
                return Err(TryPutError::ShutDown(item));
            }
            if !st.has_room() || st.putters.has_waiting() {
                return Err(TryPutError::Full(item));
            }
            st.unfinished += 1;
            st.deliver(item)
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// Takes an item, waiting while the queue is empty. Fails once the
    /// queue is shut down and empty. Cancel safe: see the type.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let queue = corio::sync::Queue::new(0);
    ///     queue.put_nowait(7).unwrap();
    ///     assert_eq!(queue.get().await, Ok(7));
    /// });
    /// ```
    pub fn get(&self) -> Get<'_, T, O> {
        Get {
            queue: self,
            ticket: None,
        }
    }

    /// Takes an item if there is one now.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = corio::sync::Queue::new(0);
    /// queue.put_nowait('x').unwrap();
    /// assert_eq!(queue.get_nowait(), Ok('x'));
    /// ```
    pub fn get_nowait(&self) -> Result<T, TryGetError> {
        let (item, waker) = {
            let mut st = self.state.borrow_mut();
            // Any stored item, as `empty()` says — even one promised to a
            // getter woken for it that has not run yet (asyncio's rule: that
            // getter finds the queue empty and waits again).
            match st.items.pop() {
                Some(item) => (item, st.free_place()),
                None if st.shut_down => return Err(TryGetError::ShutDown),
                None => return Err(TryGetError::Empty),
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(item)
    }

    /// Marks one item taken with `get` as processed (for [`join`](Self::join)).
    /// An error if called more times than items were put.
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = corio::sync::Queue::new(0);
    /// queue.put_nowait(1).unwrap();
    /// queue.get_nowait().unwrap();
    /// assert!(queue.task_done().is_ok());
    /// assert!(queue.task_done().is_err());
    /// ```
    pub fn task_done(&self) -> Result<(), TaskDoneError> {
        let mut wakers = Vec::new();
        {
            let mut st = self.state.borrow_mut();
            if st.unfinished == 0 {
                return Err(TaskDoneError);
            }
            st.unfinished -= 1;
            if st.unfinished == 0 {
                st.joiners.hand_all((), &mut wakers);
            }
        }
        for waker in wakers {
            waker.wake();
        }
        Ok(())
    }

    /// Waits until every item put has been marked done with `task_done`.
    /// Cancel safe: a dropped join leaves nothing behind.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    ///
    /// corio::run(async {
    ///     let queue = Rc::new(corio::sync::Queue::<u8>::new(0));
    ///     queue.join().await; // nothing put: done at once
    ///     queue.put_nowait(7).unwrap();
    ///     let q = queue.clone();
    ///     let joiner = corio::spawn(async move { q.join().await });
    ///     corio::yield_now().await;
    ///     assert!(!joiner.is_done()); // 7 is not done yet
    ///     assert_eq!(queue.get_nowait(), Ok(7));
    ///     queue.task_done().unwrap();
    ///     joiner.await.unwrap(); // every item put is done
    /// });
    /// ```
    pub fn join(&self) -> Join<'_, T, O> {
        Join {
            queue: self,
            ticket: None,
        }
    }

    /// Shuts the queue down: `put`s fail from now on (waiting ones too). With
    /// `immediate`, the queued items are dropped (and counted as done) and
    /// waiting `get`s fail; without, `get`s go on until the queue is empty,
    /// then fail.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::sync::{Queue, TryGetError};
    ///
    /// let queue = Queue::new(0);
    /// queue.put_nowait(1).unwrap();
    /// queue.shutdown(false);
    /// assert_eq!(queue.get_nowait(), Ok(1)); // what was queued still comes out
    /// assert_eq!(queue.get_nowait(), Err(TryGetError::ShutDown));
    /// ```
    pub fn shutdown(&self, immediate: bool) {
        let mut wakers = Vec::new();
        let dropped = {
            let mut st = self.state.borrow_mut();
            st.shut_down = true;
            st.putters.hand_all(false, &mut wakers);
            let dropped = if immediate {
                let dropped = st.items.take_all();
                st.unfinished = st.unfinished.saturating_sub(dropped.len());
                if st.unfinished == 0 {
                    st.joiners.hand_all((), &mut wakers);
                }
                dropped
            } else {
                Vec::new()
            };
            // Getters still in line are woken: no more items will come.
            // (Each takes one still left when it runs, promised to another
            // or not, else fails.)
            st.getters.hand_all(false, &mut wakers);
            dropped
        };
        // Wake first: the items' destructors are user code, and one that
        // panics must not leave the putters, getters and joiners that were
        // just handed their answer asleep for good.
        for waker in wakers {
            waker.wake();
        }
        drop(dropped);
    }

    /// Would a put fail because the queue is shut down?
    pub(crate) fn put_nowait_would_fail_closed(&self) -> bool {
        self.state.borrow().shut_down
    }

    /// Items queued right now (those promised to woken getters that have
    /// not run yet included, as in asyncio).
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = corio::sync::Queue::new(0);
    /// queue.put_nowait(()).unwrap();
    /// assert_eq!(queue.qsize(), 1);
    /// ```
    #[doc(alias = "len")]
    pub fn qsize(&self) -> usize {
        self.state.borrow().items.len()
    }

    /// The most items it holds (`0`: no limit).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(corio::sync::Queue::<u8>::new(0).maxsize(), 0);
    /// ```
    pub fn maxsize(&self) -> usize {
        self.state.borrow().maxsize
    }

    /// Is it empty?
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(corio::sync::Queue::<u8>::new(0).empty());
    /// ```
    #[doc(alias = "is_empty")]
    pub fn empty(&self) -> bool {
        self.qsize() == 0
    }

    /// Is there no room for another item — would `put_nowait` fail with
    /// `Full`? Never for an unbounded queue (`maxsize` 0); for a bounded
    /// one that is `qsize() >= maxsize()`, except while a place freed
    /// by a `get` is handed to a waiting `put` that has not run yet: the
    /// place is that putter's, so the queue is full (and may be empty).
    ///
    /// # Examples
    ///
    /// ```
    /// let queue = corio::sync::Queue::new(1);
    /// queue.put_nowait(1).unwrap();
    /// assert!(queue.full());
    /// ```
    #[doc(alias = "is_full")]
    pub fn full(&self) -> bool {
        !self.state.borrow().has_room()
    }
}

impl<T, O: Order<T>> fmt::Debug for GenericQueue<T, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state.borrow();
        f.debug_struct(O::NAME)
            .field("qsize", &st.items.len())
            .field("maxsize", &st.maxsize)
            .field("shut_down", &st.shut_down)
            .field("getters", &st.getters.waiting())
            .field("putters", &st.putters.waiting())
            .finish()
    }
}

/// The future of [`Queue::put`].
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let queue = corio::sync::Queue::new(0);
///     let put: corio::sync::Put<'_, i32> = queue.put(1);
///     assert_eq!(queue.qsize(), 0); // nothing until awaited
///     put.await.unwrap();
///     assert_eq!(queue.get_nowait(), Ok(1));
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Put<'a, T, O: Order<T> = Fifo> {
    queue: &'a GenericQueue<T, O>,
    item: Option<T>,
    ticket: Option<Ticket>,
}

impl<T, O: Order<T>> Unpin for Put<'_, T, O> {}

impl<T, O: Order<T>> Future for Put<'_, T, O> {
    type Output = Result<(), QueueShutDown<T>>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        std::task::ready!(crate::context::poll_budget(cx));
        let this = &mut *self;
        // Declared before the borrow, so dropped after it.
        let _retired;
        let mut st = this.queue.state.borrow_mut();
        let placed = match this.ticket {
            None => {
                if st.shut_down {
                    drop(st);
                    let item = this
                        .item
                        .take()
                        .expect("corio: Put polled after it completed");
                    return Poll::Ready(Err(QueueShutDown(item)));
                }
                if st.has_room() && !st.putters.has_waiting() {
                    true
                } else {
                    this.ticket = Some(st.putters.push(cx.waker()));
                    st.joined();
                    return Poll::Pending;
                }
            }
            Some(ticket) => match st.putters.take_or_wait(ticket, cx.waker()) {
                (None, left) => {
                    _retired = left;
                    st.joined();
                    return Poll::Pending;
                }
                (Some(place), left) => {
                    _retired = left;
                    this.ticket = None;
                    if place {
                        st.reserved -= 1;
                    }
                    // A place handed before a shutdown is no use after it.
                    place && !st.shut_down
                }
            },
        };
        let item = this
            .item
            .take()
            .expect("corio: Put polled after it completed");
        if !placed {
            drop(st);
            return Poll::Ready(Err(QueueShutDown(item)));
        }
        st.unfinished += 1;
        let waker = st.deliver(item);
        drop(st);
        if let Some(waker) = waker {
            waker.wake();
        }
        Poll::Ready(Ok(()))
    }
}

impl<T, O: Order<T>> Drop for Put<'_, T, O> {
    fn drop(&mut self) {
        let Some(ticket) = self.ticket else {
            return;
        };
        let retired;
        let waker = {
            let mut st = self.queue.state.borrow_mut();
            let (place, left) = st.putters.cancel(ticket);
            retired = left;
            match place {
                // A place had been handed to us: it goes to the next putter.
                Some(true) => {
                    st.reserved -= 1;
                    st.free_place()
                }
                _ => None,
            }
        };
        drop(retired);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T, O: Order<T>> fmt::Debug for Put<'_, T, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Put")
            .field("waiting", &self.ticket.is_some())
            .finish()
    }
}

/// The future of [`Queue::get`].
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let queue = corio::sync::Queue::new(0);
///     queue.put_nowait(1).unwrap();
///     let get: corio::sync::Get<'_, i32> = queue.get();
///     assert_eq!(get.await, Ok(1));
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Get<'a, T, O: Order<T> = Fifo> {
    queue: &'a GenericQueue<T, O>,
    ticket: Option<Ticket>,
}

impl<T, O: Order<T>> Future for Get<'_, T, O> {
    type Output = Result<T, QueueShutDown>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        this.queue.poll_get(&mut this.ticket, cx)
    }
}

impl<T, O: Order<T>> Drop for Get<'_, T, O> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            self.queue.cancel_get(ticket);
        }
    }
}

impl<T, O: Order<T>> GenericQueue<T, O> {
    /// A `get` as a poll function, its place in line kept in `ticket`
    /// (for `Get`, and for channel receivers that are `Stream`s).
    #[inline]
    pub(crate) fn poll_get(
        &self,
        ticket: &mut Option<Ticket>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<T, QueueShutDown>> {
        std::task::ready!(crate::context::poll_budget(cx));
        // Declared before the borrow, so dropped after it.
        let _retired;
        let mut st = self.state.borrow_mut();
        let item = match *ticket {
            // (Once the queue is shut down, no more items come: a promise
            // no longer reserves one, and any getter may take what is left
            // — asyncio's rule; a promised getter that finds none fails.)
            None => match (st.has_unclaimed() || st.shut_down)
                .then(|| st.items.pop())
                .flatten()
            {
                Some(item) => item,
                None if st.shut_down => return Poll::Ready(Err(QueueShutDown(()))),
                None => {
                    *ticket = Some(st.getters.push(cx.waker()));
                    st.joined();
                    return Poll::Pending;
                }
            },
            Some(t) => match st.getters.take_or_wait(t, cx.waker()) {
                (None, left) => {
                    _retired = left;
                    st.joined();
                    return Poll::Pending;
                }
                (Some(promised), left) => {
                    _retired = left;
                    *ticket = None;
                    if promised {
                        st.claimed -= 1;
                    }
                    // After a shutdown, any item left may be taken.
                    let take = promised || st.has_unclaimed() || st.shut_down;
                    match take.then(|| st.items.pop()).flatten() {
                        Some(item) => item,
                        None if st.shut_down => return Poll::Ready(Err(QueueShutDown(()))),
                        // The promised item was taken by `get_nowait`
                        // meanwhile: wait again, at the back (asyncio's
                        // getter, too, finds the queue empty and re-queues).
                        None => {
                            *ticket = Some(st.getters.push(cx.waker()));
                            st.joined();
                            return Poll::Pending;
                        }
                    }
                }
            },
        };
        let waker = st.free_place();
        drop(st);
        if let Some(waker) = waker {
            waker.wake();
        }
        Poll::Ready(Ok(item))
    }

    /// A waiting `get` leaves the line; the promise of an item made to it
    /// passes to the next getter (the item itself never left the store).
    pub(crate) fn cancel_get(&self, ticket: Ticket) {
        let (retired, waker) = {
            let mut st = self.state.borrow_mut();
            let (promised, left) = st.getters.cancel(ticket);
            let waker = if promised == Some(true) {
                st.claimed -= 1;
                st.claim_for_next()
            } else {
                None
            };
            (left, waker)
        };
        drop(retired);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T, O: Order<T>> fmt::Debug for Get<'_, T, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Get")
            .field("waiting", &self.ticket.is_some())
            .finish()
    }
}

/// The future of [`Queue::join`].
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let queue = corio::sync::Queue::<u8>::new(0);
///     queue.put_nowait(1).unwrap();
///     queue.get_nowait().unwrap();
///     queue.task_done().unwrap();
///     let join: corio::sync::Join<'_, u8> = queue.join();
///     let done = corio::time::timeout(std::time::Duration::from_secs(5), join).await;
///     assert!(done.is_ok()); // every item taken and marked done: ready at once
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Join<'a, T, O: Order<T> = Fifo> {
    queue: &'a GenericQueue<T, O>,
    ticket: Option<Ticket>,
}

impl<T, O: Order<T>> Future for Join<'_, T, O> {
    type Output = ();

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        let mut st = this.queue.state.borrow_mut();
        let done = st.unfinished == 0;
        let (poll, retired) = st.joiners.poll_wait(&mut this.ticket, done, cx.waker());
        if poll.is_pending() {
            st.joined();
        }
        drop(st);
        drop(retired);
        poll.map(|_| ())
    }
}

impl<T, O: Order<T>> Drop for Join<'_, T, O> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket {
            // (The borrow ends with the statement, before `_left` goes.)
            let _left = self.queue.state.borrow_mut().joiners.cancel(ticket);
        }
    }
}

impl<T, O: Order<T>> fmt::Debug for Join<'_, T, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Join")
            .field("waiting", &self.ticket.is_some())
            .finish()
    }
}
