//! A broadcast channel between tasks of one loop: every receiver gets
//! every value (tokio's `sync::broadcast`).
//!
//! A chat server's fan-out, a shutdown or config-change notice to many
//! tasks. The channel keeps the last `capacity` values; a receiver that
//! falls further behind loses the oldest and is told how many
//! ([`RecvError::Lagged`]) — a slow reader never holds the senders up,
//! unlike a bounded queue per reader, and never makes the channel grow.
//! asyncio has no such type; its programs keep a `Queue` per reader.
//!
//! Size the capacity for a burst, not for the average: sends never wait,
//! and receivers run only when the sender's task yields — a task reading
//! a pipelined client's lines gets through up to 128 of them (one poll's
//! I/O budget) before it does, so a capacity below that makes every
//! receiver lag behind one busy client.
//!
//! Values are cloned for each receiver, except the last one to take a
//! value, which gets it moved; a value is dropped once every receiver
//! that was subscribed when it was sent has taken (or skipped) it. (The
//! clone runs while the channel is borrowed: a `Clone` impl must not use
//! the channel itself.)
//!
//! # Examples
//!
//! ```
//! use corio::sync::broadcast;
//!
//! corio::run(async {
//!     let (tx, mut first) = broadcast::channel(16);
//!     let mut second = tx.subscribe();
//!     let readers: Vec<_> = [1, 2].map(|n| {
//!         let mut rx = tx.subscribe();
//!         corio::spawn(async move {
//!             let mut got = Vec::new();
//!             while let Ok(line) = rx.recv().await {
//!                 got.push(format!("reader {n}: {line}"));
//!             }
//!             got // Err(Closed): every sender is gone
//!         })
//!     }).into();
//!     tx.send("hello").unwrap();
//!     tx.send("bye").unwrap();
//!     drop(tx);
//!     assert_eq!(first.recv().await, Ok("hello"));
//!     assert_eq!(second.recv().await, Ok("hello"));
//!     let got = corio::gather(readers).await;
//!     assert_eq!(got[1].as_ref().unwrap(), &["reader 2: hello", "reader 2: bye"]);
//! });
//! ```

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::rc::Rc;
use std::task::{Context, Poll};

use super::wait_queue::{Ticket, WaitQueue};

/// Nobody receives: the value is given back.
///
/// # Examples
///
/// ```
/// let (tx, rx) = corio::sync::broadcast::channel::<u8>(4);
/// drop(rx);
/// assert_eq!(tx.send(3), Err(corio::sync::broadcast::SendError(3)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendError<T>(pub T);

impl<T> fmt::Display for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("broadcasting with no receiver subscribed")
    }
}

impl<T: fmt::Debug> std::error::Error for SendError<T> {}

/// Why [`Receiver::recv`] returned no value.
///
/// # Examples
///
/// ```
/// use corio::sync::broadcast::{channel, RecvError};
///
/// corio::run(async {
///     let (tx, mut rx) = channel(2);
///     for i in 0..5 {
///         tx.send(i).unwrap();
///     }
///     assert_eq!(rx.recv().await, Err(RecvError::Lagged(3))); // 0, 1, 2 are gone
///     assert_eq!(rx.recv().await, Ok(3));
///     assert_eq!(rx.recv().await, Ok(4));
///     drop(tx);
///     assert_eq!(rx.recv().await, Err(RecvError::Closed));
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecvError {
    /// This receiver fell behind by more than the channel's capacity: that
    /// many values were dropped before it took them. The next `recv` gives
    /// the oldest value the channel still holds.
    Lagged(u64),
    /// Every sender is gone and this receiver has taken every value.
    Closed,
}

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecvError::Lagged(n) => write!(f, "the receiver lagged behind and missed {n} values"),
            RecvError::Closed => f.write_str("the channel is closed (every sender is gone)"),
        }
    }
}

impl std::error::Error for RecvError {}

/// Why [`Receiver::try_recv`] returned no value.
///
/// # Examples
///
/// ```
/// use corio::sync::broadcast::{channel, TryRecvError};
///
/// let (tx, mut rx) = channel::<u8>(2);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
/// drop(tx);
/// assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TryRecvError {
    /// No value is there yet.
    Empty,
    /// As [`RecvError::Lagged`].
    Lagged(u64),
    /// As [`RecvError::Closed`].
    Closed,
}

impl fmt::Display for TryRecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TryRecvError::Empty => f.write_str("no value has been sent yet"),
            TryRecvError::Lagged(n) => RecvError::Lagged(*n).fmt(f),
            TryRecvError::Closed => RecvError::Closed.fmt(f),
        }
    }
}

impl std::error::Error for TryRecvError {}

/// One value, and how many receivers have still to take it.
struct Slot<T> {
    /// `None` once the last of them took it.
    value: Option<T>,
    left: usize,
}

struct Shared<T> {
    /// The last `capacity` values, oldest first.
    slots: VecDeque<Slot<T>>,
    /// The number of the value in `slots[0]` (values are numbered from 0
    /// in the order they were sent).
    first: u64,
    capacity: usize,
    senders: usize,
    receivers: usize,
    /// Receivers waiting for the next value (or for the close).
    waiters: WaitQueue<()>,
}

impl<T> Shared<T> {
    /// The number the next value sent will get.
    fn end(&self) -> u64 {
        self.first + self.slots.len() as u64
    }

    /// Drops the values every receiver has taken from the front.
    fn trim(&mut self) {
        while self.slots.front().is_some_and(|slot| slot.left == 0) {
            self.slots.pop_front();
            self.first += 1;
        }
    }
}

/// A channel that keeps the last `capacity` values for its receivers.
///
/// # Panics
///
/// If `capacity` is 0 (a broadcast of nothing).
///
/// # Examples
///
/// ```
/// let (tx, mut rx) = corio::sync::broadcast::channel(4);
/// assert_eq!(tx.send('a'), Ok(1)); // one receiver
/// assert_eq!(rx.try_recv(), Ok('a'));
/// ```
pub fn channel<T: Clone>(capacity: usize) -> (Sender<T>, Receiver<T>) {
    assert!(
        capacity > 0,
        "corio: a broadcast channel needs a capacity of at least 1"
    );
    let shared = Rc::new(RefCell::new(Shared {
        slots: VecDeque::with_capacity(capacity.min(1024)),
        first: 0,
        capacity,
        senders: 1,
        receivers: 1,
        waiters: WaitQueue::new("broadcast.recv"),
    }));
    let receiver = Receiver {
        shared: Rc::clone(&shared),
        next: 0,
        ticket: None,
    };
    (Sender { shared }, receiver)
}

/// The sending end: clone it for more senders; the channel closes when
/// the last one is dropped.
///
/// # Examples
///
/// ```
/// let (tx, _rx) = corio::sync::broadcast::channel::<u8>(1);
/// let tx2 = tx.clone();
/// assert_eq!(tx2.receiver_count(), 1);
/// ```
pub struct Sender<T> {
    shared: Rc<RefCell<Shared<T>>>,
}

impl<T: Clone> Sender<T> {
    /// Sends `value` to every receiver subscribed now; returns how many
    /// that is. Never waits: when the channel holds `capacity` values, the
    /// oldest goes, and receivers that had not taken it yet learn they
    /// lagged. With no receiver, the value comes back in the error (a
    /// later [`subscribe`](Self::subscribe) would not see it anyway).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = corio::sync::broadcast::channel(8);
    /// let _rx2 = tx.subscribe();
    /// assert_eq!(tx.send("news"), Ok(2));
    /// drop(rx);
    /// # drop(_rx2);
    /// assert!(tx.send("nobody").is_err());
    /// ```
    pub fn send(&self, value: T) -> Result<usize, SendError<T>> {
        let mut wakers = Vec::new();
        let mut oldest = None;
        let receivers = {
            let mut st = self.shared.borrow_mut();
            if st.receivers == 0 {
                return Err(SendError(value));
            }
            // Full: the oldest goes (dropped after the borrow and after the
            // wakes: a value's destructor is user code, which may use the
            // channel, or panic — the receivers handed this send must
            // hear of it all the same).
            if st.slots.len() == st.capacity {
                oldest = st.slots.pop_front();
                st.first += 1;
            }
            let left = st.receivers;
            st.slots.push_back(Slot {
                value: Some(value),
                left,
            });
            st.waiters.hand_all((), &mut wakers);
            left
        };
        wakers.into_iter().for_each(std::task::Waker::wake);
        drop(oldest);
        Ok(receivers)
    }

    /// A new receiver, which gets the values sent from now on.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = corio::sync::broadcast::channel(8);
    /// tx.send(1).unwrap();
    /// let mut late = tx.subscribe();
    /// tx.send(2).unwrap();
    /// assert_eq!(late.try_recv(), Ok(2));
    /// ```
    pub fn subscribe(&self) -> Receiver<T> {
        subscribe(&self.shared)
    }

    /// How many receivers there are now.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = corio::sync::broadcast::channel::<()>(1);
    /// assert_eq!(tx.receiver_count(), 1);
    /// drop(rx);
    /// assert_eq!(tx.receiver_count(), 0);
    /// ```
    pub fn receiver_count(&self) -> usize {
        self.shared.borrow().receivers
    }
}

fn subscribe<T>(shared: &Rc<RefCell<Shared<T>>>) -> Receiver<T> {
    let mut st = shared.borrow_mut();
    st.receivers += 1;
    Receiver {
        shared: Rc::clone(shared),
        next: st.end(),
        ticket: None,
    }
}

impl<T> Clone for Sender<T> {
    fn clone(&self) -> Self {
        self.shared.borrow_mut().senders += 1;
        Sender {
            shared: Rc::clone(&self.shared),
        }
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let mut wakers = Vec::new();
        {
            let mut st = self.shared.borrow_mut();
            st.senders -= 1;
            if st.senders == 0 {
                st.waiters.hand_all((), &mut wakers); // to find it closed
            }
        }
        wakers.into_iter().for_each(std::task::Waker::wake);
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("broadcast::Sender")
    }
}

/// The receiving end: every value sent while it is subscribed, in order.
/// Subscribe more with [`Sender::subscribe`] or
/// [`resubscribe`](Self::resubscribe).
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let (tx, mut rx): (_, corio::sync::broadcast::Receiver<u8>) =
///         corio::sync::broadcast::channel(2);
///     tx.send(5).unwrap();
///     assert_eq!(rx.recv().await, Ok(5));
/// });
/// ```
pub struct Receiver<T> {
    shared: Rc<RefCell<Shared<T>>>,
    /// The number of the next value it takes.
    next: u64,
    /// Its place among the waiters while a `recv` waits (kept across its
    /// polls; given up when it returns or is dropped).
    ticket: Option<Ticket>,
}

impl<T: Clone> Receiver<T> {
    /// The next value; [`RecvError::Lagged`] if some were dropped before
    /// this receiver took them; [`RecvError::Closed`] once every sender
    /// is gone and it has taken the rest. Cancel safe: a dropped `recv`
    /// takes nothing, and leaves nothing behind (its waker goes with it).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let (tx, mut rx) = corio::sync::broadcast::channel(4);
    ///     corio::spawn(async move { tx.send("later").unwrap() }).detach();
    ///     assert_eq!(rx.recv().await, Ok("later"));
    /// });
    /// ```
    pub async fn recv(&mut self) -> Result<T, RecvError> {
        let waiting = LeaveOnDrop(self);
        std::future::poll_fn(|cx| waiting.0.poll_recv(cx)).await
    }

    /// The next value if there is one now.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::sync::broadcast::{channel, TryRecvError};
    ///
    /// let (tx, mut rx) = channel(4);
    /// assert_eq!(rx.try_recv(), Err(TryRecvError::Empty));
    /// tx.send(1).unwrap();
    /// assert_eq!(rx.try_recv(), Ok(1));
    /// ```
    pub fn try_recv(&mut self) -> Result<T, TryRecvError> {
        drop(self.leave_line());
        match self.take() {
            Some(Ok(value)) => Ok(value),
            Some(Err(RecvError::Lagged(n))) => Err(TryRecvError::Lagged(n)),
            Some(Err(RecvError::Closed)) => Err(TryRecvError::Closed),
            None => Err(TryRecvError::Empty),
        }
    }

    /// A new receiver of the same channel, which gets the values sent from
    /// now on (not the ones this one has still to take).
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = corio::sync::broadcast::channel(4);
    /// tx.send(1).unwrap();
    /// let mut other = rx.resubscribe();
    /// tx.send(2).unwrap();
    /// assert_eq!(other.try_recv(), Ok(2));
    /// ```
    pub fn resubscribe(&self) -> Receiver<T> {
        subscribe(&self.shared)
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        std::task::ready!(crate::context::poll_budget(cx));
        if let Some(outcome) = self.take() {
            drop(self.leave_line());
            return Poll::Ready(outcome);
        }
        // Nothing for it yet: it joins the line, or renews its waker there.
        // (No gift can be in its entry: one comes with a value or the
        // close, which `take` would have found — and only a live `recv`
        // holds a place in line.)
        let retired = {
            let mut st = self.shared.borrow_mut();
            let (poll, retired) = st.waiters.poll_wait(&mut self.ticket, false, cx.waker());
            debug_assert!(
                poll.is_pending(),
                "corio: a broadcast gift that take missed"
            );
            retired
        };
        drop(retired);
        Poll::Pending
    }

    /// Takes the next value, or says why there is none; `None` if it has
    /// to wait.
    fn take(&mut self) -> Option<Result<T, RecvError>> {
        let mut st = self.shared.borrow_mut();
        if self.next < st.first {
            let missed = st.first - self.next;
            self.next = st.first;
            return Some(Err(RecvError::Lagged(missed)));
        }
        let index = (self.next - st.first) as usize;
        let Some(slot) = st.slots.get_mut(index) else {
            return (st.senders == 0).then_some(Err(RecvError::Closed));
        };
        self.next += 1;
        slot.left -= 1;
        let value = if slot.left == 0 {
            slot.value.take()
        } else {
            slot.value.clone()
        };
        if index == 0 {
            st.trim();
        }
        match value {
            Some(value) => Some(Ok(value)),
            None => unreachable!("corio: a broadcast value is dropped only once all took it"),
        }
    }
}

impl<T> Receiver<T> {
    /// Gives up a place among the waiters, if it has one; the caller drops
    /// what comes back after the borrow.
    fn leave_line(&mut self) -> Option<super::wait_queue::Retired> {
        let ticket = self.ticket.take()?;
        let (_, retired) = self.shared.borrow_mut().waiters.cancel(ticket);
        Some(retired)
    }
}

/// Takes a dropped `recv`'s waker out of the line: a send would wake it for
/// nothing, and a debug dump would show the task waiting here still.
struct LeaveOnDrop<'a, T>(&'a mut Receiver<T>);

impl<T> Drop for LeaveOnDrop<'_, T> {
    fn drop(&mut self) {
        drop(self.0.leave_line());
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        let retired = self.leave_line();
        let dropped: Vec<T> = {
            let mut st = self.shared.borrow_mut();
            st.receivers -= 1;
            // The values it had still to take no longer wait for it.
            let from = self.next.saturating_sub(st.first) as usize;
            let mut dropped = Vec::new();
            for slot in st.slots.iter_mut().skip(from) {
                slot.left -= 1;
                if slot.left == 0 {
                    dropped.extend(slot.value.take());
                }
            }
            st.trim();
            dropped
        };
        drop(retired);
        drop(dropped); // after the borrow: a value's destructor is user code
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("broadcast::Receiver")
    }
}
