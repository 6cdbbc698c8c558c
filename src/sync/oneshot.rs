//! A oneshot channel between tasks of one loop: one value, sent once —
//! asyncio's "a `Future` you set a result on". A receiver whose sender
//! went away without sending gets [`RecvError`]; a send whose receiver
//! went away gives its value back. For a value from another thread use
//! [`pool::channel::oneshot`](crate::pool::channel::oneshot).
//!
//! # Examples
//!
//! ```
//! use corio::sync::oneshot;
//!
//! corio::run(async {
//!     // A task hands back one answer (asyncio: fut.set_result(...)).
//!     let (tx, rx) = oneshot::channel();
//!     corio::spawn(async move { tx.send(6 * 7).unwrap() }).detach();
//!     assert_eq!(rx.await, Ok(42));
//!
//!     // Nobody left to answer: the receiver is told.
//!     let (tx, rx) = oneshot::channel::<u32>();
//!     drop(tx);
//!     assert_eq!(rx.await, Err(oneshot::RecvError));
//!
//!     // Nobody left to listen: the value comes back.
//!     let (tx, rx) = oneshot::channel();
//!     drop(rx);
//!     assert_eq!(tx.send("unheard"), Err("unheard"));
//! });
//! ```

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use crate::debug::ParkedWaker;

/// The sender was dropped without sending.
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let (tx, rx) = corio::sync::oneshot::channel::<u8>();
///     drop(tx);
///     assert_eq!(rx.await, Err(corio::sync::oneshot::RecvError));
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvError;

impl fmt::Display for RecvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the sender was dropped without sending")
    }
}

impl std::error::Error for RecvError {}

struct State<T> {
    value: Option<T>,
    sender_alive: bool,
    receiver_alive: bool,
    /// The receiver has returned the value (polling it again is a bug).
    received: bool,
    waker: Option<ParkedWaker>,
    /// Its number in debug dumps.
    object: crate::debug::Number,
}

/// A channel for one value from one task to another (asyncio's "a Future
/// you set a result on"). For values from other threads use
/// [`pool::channel::oneshot`](crate::pool::channel::oneshot).
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let (tx, rx) = corio::sync::oneshot::channel();
///     corio::spawn(async move { tx.send("result").unwrap() }).detach();
///     assert_eq!(rx.await, Ok("result"));
/// });
/// ```
pub fn channel<T>() -> (Sender<T>, Receiver<T>) {
    let state = Rc::new(RefCell::new(State {
        value: None,
        sender_alive: true,
        receiver_alive: true,
        received: false,
        waker: None,
        object: crate::debug::Number::default(),
    }));
    (
        Sender {
            state: Rc::clone(&state),
        },
        Receiver { state },
    )
}

/// Sends the one value; see [`channel`].
///
/// # Examples
///
/// ```
/// let (tx, rx) = corio::sync::oneshot::channel::<i32>();
/// drop(rx);
/// assert_eq!(tx.send(1), Err(1));
/// ```
pub struct Sender<T> {
    state: Rc<RefCell<State<T>>>,
}

impl<T> Sender<T> {
    /// Sends the value; gives it back if the receiver is gone.
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, _rx) = corio::sync::oneshot::channel();
    /// assert!(tx.send(5).is_ok());
    /// ```
    pub fn send(self, value: T) -> Result<(), T> {
        let waker = {
            let mut st = self.state.borrow_mut();
            if !st.receiver_alive {
                return Err(value);
            }
            st.value = Some(value);
            st.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
        Ok(())
    }

    /// Is the receiver gone (so a `send` would fail)?
    ///
    /// # Examples
    ///
    /// ```
    /// let (tx, rx) = corio::sync::oneshot::channel::<()>();
    /// drop(rx);
    /// assert!(tx.is_closed());
    /// ```
    pub fn is_closed(&self) -> bool {
        !self.state.borrow().receiver_alive
    }
}

impl<T> Drop for Sender<T> {
    fn drop(&mut self) {
        let waker = {
            let mut st = self.state.borrow_mut();
            st.sender_alive = false;
            st.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl<T> fmt::Debug for Sender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("oneshot::Sender")
    }
}

/// Awaits the one value: `Err(RecvError)` if the sender was dropped
/// without sending. Cancel safe: dropping it drops the value, if any.
///
/// # Panics
///
/// When polled again after it returned the value (a future is done once
/// it is ready).
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let (tx, rx) = corio::sync::oneshot::channel();
///     tx.send(1).unwrap();
///     assert_eq!(rx.await, Ok(1));
/// });
/// ```
pub struct Receiver<T> {
    state: Rc<RefCell<State<T>>>,
}

impl<T> Future for Receiver<T> {
    type Output = Result<T, RecvError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<T, RecvError>> {
        let mut st = self.state.borrow_mut();
        assert!(
            !st.received,
            "corio: a oneshot Receiver was polled after it returned its value"
        );
        if let Some(value) = st.value.take() {
            st.received = true;
            return Poll::Ready(Ok(value));
        }
        if !st.sender_alive {
            return Poll::Ready(Err(RecvError));
        }
        let replaced = match &st.waker {
            Some(old) if old.will_wake(cx.waker()) => None,
            _ => {
                let parked = ParkedWaker::new("oneshot", &st.object, cx.waker());
                st.waker.replace(parked)
            }
        };
        // The replaced waker goes once the borrow has ended (invariant 6).
        drop(st);
        drop(replaced);
        Poll::Pending
    }
}

impl<T> Drop for Receiver<T> {
    fn drop(&mut self) {
        // The waker it parked goes too: kept with a live sender, it would
        // count as a way to wake its task (hiding a hang) and show in dumps
        // as a wait on this channel.
        let (value, waker) = {
            let mut st = self.state.borrow_mut();
            st.receiver_alive = false;
            (st.value.take(), st.waker.take())
        };
        // Outside the borrow (invariant 6).
        drop(value);
        drop(waker);
    }
}

impl<T> fmt::Debug for Receiver<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("oneshot::Receiver")
    }
}
