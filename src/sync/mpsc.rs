//! Multi-producer, single-consumer channels between tasks of one loop.
//!
//! A channel is a [`Queue`] with ends: the queue's FIFO
//! order, fairness and cancel safety, plus close semantics — when every
//! [`Sender`] is gone the receiver drains what is left and then gets
//! `None`; when the [`Receiver`] is gone, sends fail and give their value
//! back. For values from other threads use
//! [`pool::channel`](crate::pool::channel).
//!
//! # Examples
//!
//! ```
//! use corio::sync::mpsc;
//!
//! corio::run(async {
//!     let (tx, mut rx) = mpsc::channel(8);
//!     for id in 0..3 {
//!         let tx = tx.clone();
//!         corio::spawn(async move { tx.send(id).await.unwrap() }).detach();
//!     }
//!     drop(tx); // the clones keep it open until they finish
//!     let mut got = Vec::new();
//!     while let Some(id) = rx.recv().await {
//!         got.push(id);
//!     }
//!     got.sort();
//!     assert_eq!(got, [0, 1, 2]);
//! });
//! ```

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::queue::{Put, Queue, QueueShutDown, Waits};
use super::wait_queue::Ticket;

/// The receiver is gone (or closed the channel); the value is given back.
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let (tx, rx) = corio::sync::mpsc::channel::<u8>(1);
///     drop(rx);
///     assert_eq!(tx.send(3).await, Err(corio::sync::mpsc::SendError(3)));
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("sending on a closed channel (its receiver is gone or closed it)")
    }
}

impl<T: fmt::Debug> std::error::Error for SendError<T> {}

/// Why [`Sender::try_send`] did not send; the value is given back.
///
/// # Examples
///
/// ```
/// use corio::sync::mpsc::{channel, TrySendError};
///
/// let (tx, rx) = channel(1);
/// tx.try_send(1).unwrap();
/// assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
/// drop(rx);
/// assert_eq!(tx.try_send(3), Err(TrySendError::Closed(3)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrySendError<T> {
    /// The channel holds its capacity of values.
    Full(T),
    /// The receiver is gone (or closed the channel).
    Closed(T),
}

impl<T> TrySendError<T> {
    /// The value that was not sent.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(corio::sync::mpsc::TrySendError::Full(7).into_inner(), 7);
    /// ```
    pub fn into_inner(self) -> T {
        match self {
            TrySendError::Full(value) | TrySendError::Closed(value) => value,
        }
    }
}

impl<T> fmt::Display for TrySendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrySendError::Full(_) => f.write_str("the channel is full"),
            TrySendError::Closed(_) => {
                f.write_str("the channel is closed (its receiver is gone or closed it)")
            }
        }
    }
}

impl<T: fmt::Debug> std::error::Error for TrySendError<T> {}

/// Why [`Receiver::try_recv`] got nothing.
///
/// # Examples
///
/// ```
/// use corio::sync::mpsc::{unbounded_channel, TryRecvError};
///
/// let (tx, mut rx) = unbounded_channel::<u8>();
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
/// drop(tx);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TryRecvError {
    /// Nothing is there yet.
    Empty,
    /// Nothing is there, and nothing will come: every sender is gone (or
    /// the receiver closed the channel).
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("the channel is empty"),
            TryRecvError::Closed => f.write_str(
                "the channel is empty and closed (every sender is gone, or the receiver closed it)",
            ),
        }
    }
}

impl std::error::Error for TryRecvError {}

struct Chan<T> {
    queue: Queue<T>,
    senders: Cell<usize>,
}

/// A channel holding at most `capacity` values: `send` waits while it is
/// full. `channel(0)` holds one value, as `channel(1)` does — corio has no
/// rendezvous channel, and 0 does not mean "no limit" here as it does for
/// [`Queue::new(0)`](crate::sync::Queue::new) (asyncio's `maxsize=0`):
/// for no limit, use [`unbounded_channel`].
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let (tx, mut rx) = corio::sync::mpsc::channel(1);
///     tx.send('a').await.unwrap();
///     assert!(tx.try_send('b').is_err()); // full
///     assert_eq!(rx.recv().await, Some('a'));
/// });
/// ```
pub fn channel<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    make(capacity.max(1))
}

/// A channel without a bound: `send` never waits.
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let (tx, mut rx) = corio::sync::mpsc::unbounded_channel();
///     for i in 0..1000 {
///         tx.try_send(i).unwrap();
///     }
///     assert_eq!(rx.recv().await, Some(0));
/// });
/// ```
pub fn unbounded_channel<T>() -> (Sender<T>, Receiver<T>) {
    make(0)
}

fn make<T>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    let chan = Rc::new(Chan {
        queue: Queue::with_waits(capacity, Waits::MPSC),
        senders: Cell::new(1),
    });
    (
        Sender {
            chan: Rc::clone(&chan),
        },
        Receiver { chan, ticket: None },
    )
}

/// The sending end; `Clone` for more producers.
///
/// # Examples
///
/// ```
/// let (tx, mut rx) = corio::sync::mpsc::unbounded_channel::<u8>();
/// let tx2 = tx.clone();
/// tx2.try_send(1).unwrap();
/// tx.try_send(2).unwrap();
/// assert_eq!((rx.try_recv(), rx.try_recv()), (Ok(1), Ok(2))); // one channel
/// ```
pub struct Sender<T> {
    chan: Rc<Chan<T>>,
}

impl<T> Sender<T> {
    /// Sends a value, waiting while the channel is full; fails (giving the
    /// value back) if the receiver is gone or closed the channel. Cancel safe in the queue's
    /// sense: dropped before it completed, it sent nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let (tx, mut rx) = corio::sync::mpsc::channel(4);
    ///     tx.send("hi").await.unwrap();
    ///     assert_eq!(rx.recv().await, Some("hi"));
    /// });
    /// ```
    pub fn send(&self, value: T) -> SendFuture<'_, T> {
        SendFuture {
            put: self.chan.queue.put(value),
        }
    }

    /// Sends a value if there is room now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = corio::sync::mpsc::channel(1);
    /// assert!(tx.try_send(1).is_ok());
    /// assert!(tx.try_send(2).is_err());
    /// drop(rx);
    /// ```
    pub fn try_send(&self, value: T) -> Result<(), TrySendError<T>> {
        self.chan.queue.put_nowait(value).map_err(|err| match err {
            super::TryPutError::Full(value) => TrySendError::Full(value),
            super::TryPutError::ShutDown(value) => TrySendError::Closed(value),
        })
    }

    /// Is the receiver gone, or has it closed the channel (so sends fail)?
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = corio::sync::mpsc::channel::<u8>(1);
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        self.chan.queue.put_nowait_would_fail_closed()
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Sender<T> {
        self.chan.senders.set(self.chan.senders.get() + 1);
        Sender {
            chan: Rc::clone(&self.chan),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let left = self.chan.senders.get() - 1;
        self.chan.senders.set(left);
        if left == 0 {
            // The receiver drains what is queued, then sees the end.
            self.chan.queue.shutdown(false);
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("mpsc::Sender")
    }
}

/// The future of [`Sender::send`]. (Not named `Send`: a glob import of
/// this module would hide the `Send` trait.)
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let (tx, mut rx) = corio::sync::mpsc::channel(1);
///     let send: corio::sync::mpsc::SendFuture<'_, u8> = tx.send(1);
///     send.await.unwrap();
///     assert_eq!(rx.recv().await, Some(1));
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct SendFuture<'a, T> {
    put: Put<'a, T>,
}

impl<T> Future for SendFuture<'_, T> {
    type Output = Result<(), SendError<T>>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.put)
            .poll(cx)
            .map(|result| result.map_err(|QueueShutDown(value)| SendError(value)))
    }
}

impl<T> fmt::Debug for SendFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("mpsc::SendFuture")
    }
}

/// The receiving end: [`recv`](Self::recv), or as a `Stream`.
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let (tx, mut rx) = corio::sync::mpsc::unbounded_channel();
///     tx.try_send(1).unwrap();
///     drop(tx);
///     assert_eq!(rx.recv().await, Some(1));
///     assert_eq!(rx.recv().await, None);
/// });
/// ```
pub struct Receiver<T> {
    chan: Rc<Chan<T>>,
    /// The place in line of a pending `recv` (kept across polls, so the
    /// `Stream` form loses no wake-up).
    ticket: Option<Ticket>,
}

impl<T> Receiver<T> {
    /// The next value; `None` once every sender is gone (or
    /// [`close`](Self::close) was called) and the channel is empty. Cancel
    /// safe: a value that arrived for a dropped `recv` stays first in the
    /// channel, and the dropped `recv` leaves no waker behind. (The
    /// `Stream` form keeps its place in line between polls: drop the
    /// receiver, or call `try_recv`, to give it up.)
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let (tx, mut rx) = corio::sync::mpsc::channel(2);
    ///     tx.send(9).await.unwrap();
    ///     assert_eq!(rx.recv().await, Some(9));
    /// });
    /// ```
    pub async fn recv(&mut self) -> Option<T> {
        let waiting = LeaveOnDrop(self);
        std::future::poll_fn(|cx| waiting.0.poll_recv(cx)).await
    }

    /// A value if one is there now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, mut rx) = corio::sync::mpsc::unbounded_channel();
    /// assert!(rx.try_recv().is_err());
    /// tx.try_send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        // The `Stream` form may have left its place in line: give it up
        // first, so that a value promised to it is free to take.
        self.leave_line();
        self.chan.queue.get_nowait().map_err(|err| match err {
            super::TryGetError::Empty => TryRecvError::Empty,
            super::TryGetError::ShutDown => TryRecvError::Closed,
        })
    }

    /// Closes the channel from the receiving side: sends fail from now on;
    /// values already queued can still be received.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, mut rx) = corio::sync::mpsc::unbounded_channel();
    /// tx.try_send(1).unwrap();
    /// rx.close();
    /// assert!(tx.try_send(2).is_err());
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn close(&mut self) {
        self.chan.queue.shutdown(false);
    }

    /// Gives up its place in line, if it has one (passing on a value
    /// promised to it).
    fn leave_line(&mut self) {
        if let Some(ticket) = self.ticket.take() {
            self.chan.queue.cancel_get(ticket);
        }
    }

    #[inline]
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.chan
            .queue
            .poll_get(&mut self.ticket, cx)
            .map(Result::ok)
    }
}

/// Gives up a dropped `recv`'s place in line (passing on a value promised
/// to it): a later value would wake its task for nothing, and a debug dump
/// would show the task waiting here still.
struct LeaveOnDrop<'a, T>(&'a mut Receiver<T>);

impl<T> Drop for LeaveOnDrop<'_, T> {
    fn drop(&mut self) {
        self.0.leave_line();
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        self.leave_line();
        // Senders fail from now on; what is queued is dropped.
        self.chan.queue.shutdown(true);
    }
}

impl<T> futures_core::Stream for Receiver<T> {
    type Item = T;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        self.get_mut().poll_recv(cx)
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("mpsc::Receiver")
    }
}
