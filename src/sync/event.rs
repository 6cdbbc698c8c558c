//! `Event`: a flag tasks can wait for.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::wait_queue::{Ticket, WaitQueue};

/// A flag that the tasks of one loop wait for (asyncio's `Event`;
/// `threading.Event`'s role between tasks, not threads — an OS thread
/// signals a task through [`pool::channel`](crate::pool::channel)):
/// [`set`](Self::set) wakes every waiter, [`clear`](Self::clear) resets it.
///
/// A waiter woken by `set` returns even if `clear` came right after (it was
/// set while it waited), as in asyncio. Cancel safe: a dropped `wait` leaves
/// nothing behind.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use corio::sync::Event;
///
/// corio::run(async {
///     let ready = Rc::new(Event::new());
///     let r = ready.clone();
///     let waiter = corio::spawn(async move {
///         r.wait().await;
///         "went"
///     });
///     corio::yield_now().await;
///     assert!(!waiter.is_done());
///     ready.set();
///     assert_eq!(waiter.await, Ok("went"));
/// });
/// ```
pub struct Event {
    state: RefCell<State>,
}

struct State {
    set: bool,
    waiters: WaitQueue<()>,
}

impl Default for Event {
    fn default() -> Event {
        Event::new()
    }
}

impl Event {
    /// A cleared event.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!corio::sync::Event::new().is_set());
    /// ```
    pub fn new() -> Event {
        Event {
            state: RefCell::new(State {
                set: false,
                waiters: WaitQueue::new("Event"),
            }),
        }
    }

    /// Sets the flag and wakes every waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = corio::sync::Event::new();
    /// event.set();
    /// assert!(event.is_set());
    /// ```
    pub fn set(&self) {
        let mut wakers = Vec::new();
        {
            let mut st = self.state.borrow_mut();
            st.set = true;
            st.waiters.hand_all((), &mut wakers);
        }
        for waker in wakers {
            waker.wake();
        }
    }

    /// Clears the flag; later `wait`s wait again.
    ///
    /// # Examples
    ///
    /// ```
    /// let event = corio::sync::Event::new();
    /// event.set();
    /// event.clear();
    /// assert!(!event.is_set());
    /// ```
    pub fn clear(&self) {
        self.state.borrow_mut().set = false;
    }

    /// Is the flag set?
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!corio::sync::Event::new().is_set());
    /// ```
    pub fn is_set(&self) -> bool {
        self.state.borrow().set
    }

    /// Waits until the flag is set (at once if it is). Cancel safe: a
    /// dropped wait leaves nothing behind.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    ///
    /// corio::run(async {
    ///     let event = Rc::new(corio::sync::Event::new());
    ///     let e = event.clone();
    ///     let waiter = corio::spawn(async move { e.wait().await; "woken" });
    ///     corio::yield_now().await;
    ///     assert!(!waiter.is_done()); // waits for the set
    ///     event.set();
    ///     assert_eq!(waiter.await.unwrap(), "woken");
    ///     event.wait().await; // set already: returns at once
    /// });
    /// ```
    pub fn wait(&self) -> EventWait<'_> {
        EventWait {
            event: self,
            ticket: None,
        }
    }
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state.borrow();
        f.debug_struct("Event")
            .field("set", &st.set)
            .field("waiting", &st.waiters.waiting())
            .finish()
    }
}

/// The future of [`Event::wait`].
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let event = corio::sync::Event::new();
///     let wait: corio::sync::EventWait<'_> = event.wait();
///     event.set(); // before the first poll: still seen
///     wait.await;
///     assert!(event.is_set()); // waiting does not clear it
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct EventWait<'a> {
    event: &'a Event,
    ticket: Option<Ticket>,
}

impl Future for EventWait<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        std::task::ready!(crate::context::poll_budget(cx));
        let this = &mut *self;
        let mut st = this.event.state.borrow_mut();
        let set = st.set;
        let (poll, retired) = st.waiters.poll_wait(&mut this.ticket, set, cx.waker());
        drop(st);
        drop(retired);
        poll.map(|_| ())
    }
}

impl Drop for EventWait<'_> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket {
            // A `set` handed to us needs no passing on: everybody got one.
            // (The borrow ends with the statement, before `_left` goes.)
            let _left = self.event.state.borrow_mut().waiters.cancel(ticket);
        }
    }
}

impl fmt::Debug for EventWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventWait")
            .field("waiting", &self.ticket.is_some())
            .finish()
    }
}
