//! Channels from plain threads to tasks.
//!
//! The sending side is `Send` and works on any thread; the receiving side is
//! awaited by a task. A send wakes the receiving task through its waker —
//! from another thread that queues the wake for its loop and pokes the
//! loop's `mio::Waker` — so a thread can feed tasks with no polling.
//!
//! * [`oneshot`]: one value, once (a thread's answer).
//! * [`unbounded`] and [`bounded`]: a stream of values from any number of
//!   senders (`std::sync::mpsc` with an async receiving end). A bounded
//!   channel makes a fast producer thread wait for the tasks.
//!
//! For channels between tasks of one loop, use `corio::sync` instead.
//!
//! # Examples
//!
//! ```
//! use corio::pool::channel;
//!
//! corio::run(async {
//!     let (tx, mut rx) = channel::unbounded();
//!     let producer = std::thread::spawn(move || {
//!         for line in ["GET /", "GET /about"] {
//!             tx.send(line.to_string()).unwrap();
//!         }
//!     }); // dropping `tx` ends the stream
//!     let mut got = Vec::new();
//!     while let Some(line) = rx.recv().await {
//!         got.push(line);
//!     }
//!     producer.join().unwrap();
//!     assert_eq!(got, ["GET /", "GET /about"]);
//! });
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::thread::ThreadId;

use crate::waker::{this_thread, wake_parked};

/// The value could not be sent: the receiver is gone. The value is given
/// back.
///
/// # Examples
///
/// ```
/// let (tx, rx) = corio::pool::channel::unbounded::<u8>();
/// drop(rx);
/// assert_eq!(tx.send(7).unwrap_err().0, 7);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sending on a channel whose receiver is gone")
    }
}

impl<T: fmt::Debug> std::error::Error for SendError<T> {}

/// Why [`Sender::try_send`] did not send, and why [`Receiver::try_recv`]
/// got nothing: the same errors as [`corio::sync::mpsc`](crate::sync::mpsc)'s
/// channels between tasks (one set for both families).
pub use crate::sync::mpsc::{TryRecvError, TrySendError};

/// The sender of a oneshot channel was dropped without sending.
///
/// # Examples
///
/// ```
/// let (tx, rx) = corio::pool::channel::oneshot::<u8>();
/// drop(tx);
/// assert_eq!(corio::run(rx), Err(corio::pool::channel::RecvError));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvError;

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the sender was dropped without sending")
    }
}

impl std::error::Error for RecvError {}

// ----- mpsc ------------------------------------------------------------------

struct Chan<T> {
    queue: VecDeque<T>,
    capacity: Option<usize>,
    senders: usize,
    receiver_alive: bool,
    /// The receiving task, parked.
    parked: Parked,
    /// The receiver is blocked in `recv_blocking` (a plain thread).
    receiver_blocked: bool,
}

struct ChanShared<T> {
    chan: Mutex<Chan<T>>,
    /// Signalled when a bounded channel has room again (or closes).
    not_full: Condvar,
    /// Signalled for a receiver blocked in `recv_blocking`.
    not_empty: Condvar,
}

impl<T> ChanShared<T> {
    fn lock(&self) -> MutexGuard<'_, Chan<T>> {
        // User code never runs under the lock: a poisoned one is still good.
        self.chan.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn channel<T>(capacity: Option<usize>) -> (Sender<T>, Receiver<T>) {
    let shared = Arc::new(ChanShared {
        chan: Mutex::new(Chan {
            queue: VecDeque::new(),
            capacity,
            senders: 1,
            receiver_alive: true,
            parked: Parked::default(),
            receiver_blocked: false,
        }),
        not_full: Condvar::new(),
        not_empty: Condvar::new(),
    });
    (
        Sender {
            shared: Arc::clone(&shared),
        },
        Receiver { shared },
    )
}

/// A channel with no bound: `send` never waits.
///
/// # Examples
///
/// ```
/// let (tx, mut rx) = corio::pool::channel::unbounded();
/// std::thread::spawn(move || tx.send("from a thread").unwrap());
/// assert_eq!(corio::run(rx.recv()), Some("from a thread"));
/// ```
pub fn unbounded<T>() -> (Sender<T>, Receiver<T>) {
    channel(None)
}

/// A channel holding at most `capacity` values (at least 1): a sender
/// thread waits while it is full.
///
/// # Examples
///
/// ```
/// let (tx, mut rx) = corio::pool::channel::bounded(2);
/// let producer = std::thread::spawn(move || {
///     for i in 0..100 {
///         tx.send(i).unwrap(); // waits for the task when 2 are queued
///     }
/// });
/// let sum = corio::run(async move {
///     let mut sum = 0;
///     while let Some(i) = rx.recv().await {
///         sum += i;
///     }
///     sum
/// });
/// producer.join().unwrap();
/// assert_eq!(sum, 4950);
/// ```
pub fn bounded<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    channel(Some(capacity.max(1)))
}

/// The sending side: `Send`, `Clone`, usable from any thread.
///
/// # Examples
///
/// ```
/// let (tx, mut rx) = corio::pool::channel::unbounded();
/// let tx2 = tx.clone();
/// tx.send(1).unwrap();
/// tx2.send(2).unwrap();
/// drop((tx, tx2));
/// assert_eq!(corio::run(async move { (rx.recv().await, rx.recv().await, rx.recv().await) }),
///            (Some(1), Some(2), None));
/// ```
pub struct Sender<T> {
    shared: Arc<ChanShared<T>>,
}

impl<T> Sender<T> {
    /// Sends a value; on a full bounded channel, blocks this thread until
    /// there is room. Fails, giving the value back, if the receiver is gone.
    ///
    /// # Panics
    ///
    /// If it would block on a thread that runs a corio loop (the tasks that
    /// make room could never run): use [`try_send`](Self::try_send) there.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, mut rx) = corio::pool::channel::unbounded();
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// drop(rx);
    /// assert!(tx.send(2).is_err()); // nobody receives any more
    /// ```
    #[track_caller]
    pub fn send(&self, value: T) -> Result<(), SendError<T>> {
        let mut chan = self.shared.lock();
        loop {
            if !chan.receiver_alive {
                return Err(SendError(value));
            }
            if chan.capacity.is_none_or(|cap| chan.queue.len() < cap) {
                break;
            }
            if crate::context::with_current(|_| ()).is_some() {
                panic!(
                    "corio: Sender::send on a full channel would block the event loop running \
                     on this thread; use try_send there"
                );
            }
            chan = self
                .shared
                .not_full
                .wait(chan)
                .unwrap_or_else(|e| e.into_inner());
        }
        push(&self.shared, chan, value);
        Ok(())
    }

    /// Sends a value if there is room now.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::pool::channel::{bounded, TrySendError};
    ///
    /// let (tx, rx) = bounded(1);
    /// assert_eq!(tx.try_send(1), Ok(()));
    /// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    /// drop(rx);
    /// assert_eq!(tx.try_send(3), Err(TrySendError::Closed(3)));
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        let chan = self.shared.lock();
        if !chan.receiver_alive {
            return Err(TrySendError::Closed(value));
        }
        if chan.capacity.is_some_and(|cap| chan.queue.len() >= cap) {
            return Err(TrySendError::Full(value));
        }
        push(&self.shared, chan, value);
        Ok(())
    }

    /// Is the receiver gone?
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = corio::pool::channel::unbounded::<()>();
    /// assert!(!tx.is_closed());
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        !self.shared.lock().receiver_alive
    }
}

/// Queues `value` and wakes the receiver (outside the lock).
fn push<T>(shared: &ChanShared<T>, mut chan: MutexGuard<'_, Chan<T>>, value: T) {
    chan.queue.push_back(value);
    let waker = chan.parked.take();
    let blocked = chan.receiver_blocked;
    drop(chan);
    if let Some(waker) = waker {
        waker.wake();
    }
    if blocked {
        shared.not_empty.notify_one();
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        self.shared.lock().senders += 1;
        Sender {
            shared: Arc::clone(&self.shared),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut chan = self.shared.lock();
            chan.senders -= 1;
            if chan.senders > 0 {
                return;
            }
            chan.parked.take()
        };
        if let Some(waker) = waker {
            waker.wake(); // the receiver sees the end
        }
        self.shared.not_empty.notify_one();
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sender { .. }")
    }
}

/// The receiving side, awaited by a task: [`recv`](Self::recv), or as a
/// `Stream`. Dropping it closes the channel: the values still queued are
/// dropped with it, and senders (waiting ones included) get theirs back.
///
/// # Examples
///
/// ```
/// let (tx, mut rx) = corio::pool::channel::unbounded();
/// tx.send(5).unwrap();
/// assert_eq!(rx.try_recv(), Ok(5));
/// ```
pub struct Receiver<T> {
    shared: Arc<ChanShared<T>>,
}

impl<T> Receiver<T> {
    /// Waits for the next value; `None` once the channel is empty and every
    /// sender is gone.
    ///
    /// Cancel safe: a dropped `recv` future loses no value (values stay in
    /// the channel until a `recv` returns them).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, mut rx) = corio::pool::channel::unbounded();
    /// std::thread::spawn(move || tx.send(1).unwrap());
    /// corio::run(async move {
    ///     assert_eq!(rx.recv().await, Some(1));
    ///     assert_eq!(rx.recv().await, None);
    /// });
    /// ```
    pub fn recv(&mut self) -> Recv<'_, T> {
        Recv { receiver: self }
    }

    /// Blocks this thread until a value comes — for a plain thread that
    /// shares a channel type with tasks; `None` once the channel is empty
    /// and every sender is gone.
    ///
    /// # Panics
    ///
    /// On a thread that runs a corio loop (it would block the loop):
    /// `.await` [`recv`](Self::recv) there.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, mut rx) = corio::pool::channel::unbounded();
    /// std::thread::spawn(move || tx.send("hi").unwrap());
    /// assert_eq!(rx.recv_blocking(), Some("hi"));
    /// assert_eq!(rx.recv_blocking(), None);
    /// ```
    #[track_caller]
    pub fn recv_blocking(&mut self) -> Option<T> {
        if crate::context::with_current(|_| ()).is_some() {
            panic!(
                "corio: Receiver::recv_blocking would block the event loop running on this \
                 thread; `.await` recv() instead"
            );
        }
        let mut chan = self.shared.lock();
        loop {
            if let Some(value) = chan.queue.pop_front() {
                chan.receiver_blocked = false;
                drop(chan);
                self.shared.not_full.notify_one();
                return Some(value);
            }
            if chan.senders == 0 {
                chan.receiver_blocked = false;
                return None;
            }
            chan.receiver_blocked = true;
            chan = self
                .shared
                .not_empty
                .wait(chan)
                .unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Takes a value if one is there now.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::pool::channel::{unbounded, TryRecvError};
    ///
    /// let (tx, mut rx) = unbounded();
    /// tx.send('a').unwrap();
    /// assert_eq!(rx.try_recv(), Ok('a'));
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        let mut chan = self.shared.lock();
        match chan.queue.pop_front() {
            Some(value) => {
                drop(chan);
                self.shared.not_full.notify_one();
                Ok(value)
            }
            None if chan.senders == 0 => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        std::task::ready!(crate::context::poll_budget(cx));
        let mut chan = self.shared.lock();
        if let Some(value) = chan.queue.pop_front() {
            let bounded = chan.capacity.is_some();
            drop(chan);
            if bounded {
                self.shared.not_full.notify_one();
            }
            return Poll::Ready(Some(value));
        }
        if chan.senders == 0 {
            return Poll::Ready(None);
        }
        let replaced = chan.parked.park(cx);
        drop(chan);
        drop(replaced);
        Poll::Pending
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // The parked waker goes too: a sender must not keep the task's
        // waker alive (the loop would count it as wakeable from outside).
        let (dropped, waker) = {
            let mut chan = self.shared.lock();
            chan.receiver_alive = false;
            (std::mem::take(&mut chan.queue), chan.parked.leave())
        };
        self.shared.not_full.notify_all(); // blocked senders see the close
        drop(dropped);
        wake_parked(waker);
    }
}

impl<T> futures_core::Stream for Receiver<T> {
    type Item = T;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_recv(cx)
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Receiver { .. }")
    }
}

/// The future of [`Receiver::recv`].
///
/// # Examples
///
/// ```
/// let (tx, mut rx) = corio::pool::channel::unbounded::<()>();
/// drop(tx);
/// let recv: corio::pool::channel::Recv<'_, ()> = rx.recv();
/// assert_eq!(corio::run(recv), None);
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Recv<'a, T> {
    receiver: &'a mut Receiver<T>,
}

impl<T> Future for Recv<'_, T> {
    type Output = Option<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.receiver.poll_recv(cx)
    }
}

impl<T> fmt::Debug for Recv<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Recv { .. }")
    }
}

// ----- oneshot ---------------------------------------------------------------

struct Once<T> {
    value: Option<T>,
    sender_alive: bool,
    receiver_alive: bool,
    /// The receiving task, parked.
    parked: Parked,
}

/// A channel for one value: a thread's answer to a task.
///
/// # Examples
///
/// ```
/// let (tx, rx) = corio::pool::channel::oneshot();
/// std::thread::spawn(move || tx.send(42).unwrap());
/// assert_eq!(corio::run(rx), Ok(42));
/// ```
pub fn oneshot<T>() -> (OneshotSender<T>, OneshotReceiver<T>) {
    let shared = Arc::new(Mutex::new(Once {
        value: None,
        sender_alive: true,
        receiver_alive: true,
        parked: Parked::default(),
    }));
    (
        OneshotSender {
            shared: Arc::clone(&shared),
        },
        OneshotReceiver { shared },
    )
}

fn lock_once<T>(shared: &Mutex<Once<T>>) -> MutexGuard<'_, Once<T>> {
    shared.lock().unwrap_or_else(|e| e.into_inner())
}

/// Sends the one value of a [`oneshot`] channel, from any thread.
///
/// # Examples
///
/// ```
/// let (tx, rx) = corio::pool::channel::oneshot::<&str>();
/// drop(rx);
/// assert_eq!(tx.send("late"), Err("late"));
/// ```
pub struct OneshotSender<T> {
    shared: Arc<Mutex<Once<T>>>,
}

impl<T> OneshotSender<T> {
    /// Sends the value, waking the receiving task. Gives the value back if
    /// the receiver is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = corio::pool::channel::oneshot();
    /// tx.send(1).unwrap();
    /// assert_eq!(corio::run(rx), Ok(1));
    /// ```
    pub fn send(self, value: T) -> Result<(), T> {
        let waker = {
            let mut once = lock_once(&self.shared);
            if !once.receiver_alive {
                return Err(value);
            }
            once.value = Some(value);
            once.parked.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }
}

impl<T> Drop for OneshotSender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut once = lock_once(&self.shared);
            once.sender_alive = false;
            once.parked.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> fmt::Debug for OneshotSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneshotSender { .. }")
    }
}

/// Awaits the one value of a [`oneshot`] channel: `Err(RecvError)` if the
/// sender was dropped without sending.
///
/// # Examples
///
/// ```
/// let (tx, rx) = corio::pool::channel::oneshot();
/// std::thread::spawn(move || tx.send("answer").unwrap());
/// corio::run(async move { assert_eq!(rx.await, Ok("answer")) });
/// ```
pub struct OneshotReceiver<T> {
    shared: Arc<Mutex<Once<T>>>,
}

impl<T> Future for OneshotReceiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        let mut once = lock_once(&self.shared);
        if let Some(value) = once.value.take() {
            return Poll::Ready(Ok(value));
        }
        if !once.sender_alive {
            return Poll::Ready(Err(RecvError));
        }
        let replaced = once.parked.park(cx);
        drop(once);
        drop(replaced);
        Poll::Pending
    }
}

impl<T> Drop for OneshotReceiver<T> {
    fn drop(&mut self) {
        let (value, waker) = {
            let mut once = lock_once(&self.shared);
            once.receiver_alive = false;
            (once.value.take(), once.parked.leave())
        };
        drop(value);
        wake_parked(waker);
    }
}

/// The waker of a task awaiting a receiver (or a
/// [`JobHandle`](super::JobHandle)), and the thread it parked on.
#[derive(Default)]
pub(super) struct Parked {
    waker: Option<Waker>,
    on: Option<ThreadId>,
}

impl Parked {
    /// Parks `cx`'s waker, unless it is the one parked already. Returns
    /// the waker it replaced, to be dropped outside the lock.
    pub(super) fn park(&mut self, cx: &Context<'_>) -> Option<Waker> {
        match &self.waker {
            Some(old) if old.will_wake(cx.waker()) => None,
            _ => {
                self.on = Some(this_thread());
                self.waker.replace(cx.waker().clone())
            }
        }
    }

    /// The waker, to wake (a value came, the other side went).
    pub(super) fn take(&mut self) -> Option<Waker> {
        self.waker.take()
    }

    /// The waker and its thread, as the receiver goes: for
    /// [`crate::waker::wake_parked`], outside the lock.
    pub(super) fn leave(&mut self) -> Option<(Waker, Option<ThreadId>)> {
        self.waker.take().map(|waker| (waker, self.on))
    }
}

impl<T> fmt::Debug for OneshotReceiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneshotReceiver { .. }")
    }
}
