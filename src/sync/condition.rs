//! `Condition`: wait for a change made under a lock.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::lock::{LockFuture, LockGuard};
use super::wait_queue::{Ticket, WaitQueue};

/// A condition variable for the tasks of one loop (asyncio's `Condition`;
/// `threading.Condition`'s role between tasks, not threads), used with a [`Lock`](super::Lock):
/// [`wait`](Self::wait) takes the guard, releases the lock while it waits
/// for a [`notify`](Self::notify), and gives the guard back, locked again —
/// std's `Condvar` shape. Use one lock with a given condition. Unlike
/// Python's, `notify` does not require holding the lock (on one thread there
/// is no race between the change and the notification); to wait with a
/// time limit, wrap the wait in [`time::timeout`](crate::time::timeout) and
/// lock again after `Elapsed`.
///
/// Waiters are notified in the order they came. **Cancel safety:** a
/// notified `wait` dropped before it returned (while it waited to be run,
/// or to get the lock back) passes its notification to the next waiter —
/// the notification is not lost (tokio-rs/tokio#4618).
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use corio::sync::{Condition, Lock};
///
/// corio::run(async {
///     let buns = Rc::new(Lock::new(0));
///     let baked = Rc::new(Condition::new());
///     let (b, c) = (buns.clone(), baked.clone());
///     let customer = corio::spawn(async move {
///         let guard = b.lock().await;
///         let mut guard = c.wait_for(guard, |n| *n > 0).await; // sleeps, lock released
///         *guard -= 1;
///     });
///     corio::yield_now().await;
///     *buns.lock().await += 1;
///     baked.notify(1);
///     customer.await.unwrap();
///     assert_eq!(*buns.lock().await, 0);
/// });
/// ```
pub struct Condition {
    waiters: RefCell<WaitQueue<()>>,
}

impl Default for Condition {
    fn default() -> Condition {
        Condition::new()
    }
}

impl Condition {
    /// A condition with no waiters.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let (lock, cond) = (corio::sync::Lock::new(0), corio::sync::Condition::new());
    ///     cond.notify_all(); // nobody waits: nothing happens, nothing is remembered
    ///     let guard = lock.lock().await;
    ///     let timed_out = corio::time::timeout(std::time::Duration::from_millis(10), cond.wait(guard)).await;
    ///     assert!(timed_out.is_err());
    /// });
    /// ```
    pub fn new() -> Condition {
        Condition {
            waiters: RefCell::new(WaitQueue::new("Condition")),
        }
    }

    /// Releases the lock of `guard`, waits for a notification, takes the
    /// lock again and returns its guard. Cancel safe (see the type's docs);
    /// as with every condition variable, check your predicate again after
    /// waking (or use [`wait_for`](Self::wait_for)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    /// use corio::sync::{Condition, Lock};
    ///
    /// corio::run(async {
    ///     let (lock, cond) = (Rc::new(Lock::new(false)), Rc::new(Condition::new()));
    ///     let (l, c) = (lock.clone(), cond.clone());
    ///     let waiter = corio::spawn(async move {
    ///         let mut ready = l.lock().await;
    ///         while !*ready {
    ///             ready = c.wait(ready).await; // the lock is free while it waits
    ///         }
    ///         *ready
    ///     });
    ///     corio::yield_now().await;
    ///     *lock.lock().await = true;
    ///     cond.notify_all();
    ///     assert!(waiter.await.unwrap()); // woke, with the lock held again
    /// });
    /// ```
    pub fn wait<'a, 'c, T>(&'c self, guard: LockGuard<'a, T>) -> CondWait<'c, 'a, T> {
        CondWait {
            cond: self,
            lock: guard.lock(),
            stage: Stage::Start(Some(guard)),
        }
    }

    /// Waits until `predicate` holds for the locked value: checks it, and
    /// waits again after each notification while it does not. Cancel safe
    /// as [`wait`](Self::wait) is (a notification it was handed goes on).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    /// use corio::sync::{Condition, Lock};
    ///
    /// corio::run(async {
    ///     let (lock, cond) = (Rc::new(Lock::new(0)), Rc::new(Condition::new()));
    ///     let (l, c) = (lock.clone(), cond.clone());
    ///     let waiter = corio::spawn(async move {
    ///         let guard = c.wait_for(l.lock().await, |n| *n >= 3).await;
    ///         *guard
    ///     });
    ///     for _ in 0..3 {
    ///         corio::yield_now().await;
    ///         *lock.lock().await += 1;
    ///         cond.notify_all();
    ///     }
    ///     assert_eq!(waiter.await, Ok(3));
    /// });
    /// ```
    pub async fn wait_for<'a, T>(
        &self,
        mut guard: LockGuard<'a, T>,
        mut predicate: impl FnMut(&T) -> bool,
    ) -> LockGuard<'a, T> {
        while !predicate(&guard) {
            guard = self.wait(guard).await;
        }
        guard
    }

    /// Wakes up to `n` waiters, first come first served.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::{cell::Cell, rc::Rc};
    /// # use corio::sync::{Condition, Lock};
    /// # corio::run(async {
    /// let (lock, cond) = (Rc::new(Lock::new(())), Rc::new(Condition::new()));
    /// let woken = Rc::new(Cell::new(0));
    /// for _ in 0..3 {
    ///     let (lock, cond, woken) = (lock.clone(), cond.clone(), woken.clone());
    ///     corio::spawn(async move {
    ///         drop(cond.wait(lock.lock().await).await);
    ///         woken.set(woken.get() + 1);
    ///     });
    /// }
    /// corio::yield_now().await; // all three wait
    /// cond.notify(2);
    /// corio::yield_now().await;
    /// assert_eq!(woken.get(), 2); // the third still waits
    /// # });
    /// ```
    pub fn notify(&self, n: usize) {
        let mut wakers = Vec::new();
        {
            let mut waiters = self.waiters.borrow_mut();
            for _ in 0..n {
                match waiters.hand(()) {
                    Ok(waker) => wakers.extend(waker),
                    Err(()) => break,
                }
            }
        }
        for waker in wakers {
            waker.wake();
        }
    }

    /// Wakes every waiter.
    ///
    /// # Examples
    ///
    /// ```
    /// # use std::{cell::Cell, rc::Rc};
    /// # use corio::sync::{Condition, Lock};
    /// # corio::run(async {
    /// let (lock, cond) = (Rc::new(Lock::new(())), Rc::new(Condition::new()));
    /// let woken = Rc::new(Cell::new(0));
    /// for _ in 0..3 {
    ///     let (lock, cond, woken) = (lock.clone(), cond.clone(), woken.clone());
    ///     corio::spawn(async move {
    ///         drop(cond.wait(lock.lock().await).await);
    ///         woken.set(woken.get() + 1);
    ///     });
    /// }
    /// corio::yield_now().await; // all three wait
    /// cond.notify_all();
    /// corio::yield_now().await;
    /// assert_eq!(woken.get(), 3);
    /// # });
    /// ```
    pub fn notify_all(&self) {
        let mut wakers = Vec::new();
        self.waiters.borrow_mut().hand_all((), &mut wakers);
        for waker in wakers {
            waker.wake();
        }
    }
}

impl fmt::Debug for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Condition")
            .field("waiting", &self.waiters.borrow().waiting())
            .finish()
    }
}

enum Stage<'a, T> {
    /// Not polled yet: still holding the lock.
    Start(Option<LockGuard<'a, T>>),
    /// Waiting to be notified, lock released.
    Waiting(Ticket),
    /// Notified; taking the lock back.
    Relocking(LockFuture<'a, T>),
    Done,
}

/// The future of [`Condition::wait`].
///
/// # Examples
///
/// ```
/// use corio::sync::{Condition, Lock};
///
/// corio::run(async {
///     let (lock, cond) = (Lock::new(()), Condition::new());
///     let guard = lock.lock().await;
///     let wait: corio::sync::CondWait<'_, '_, ()> = cond.wait(guard);
///     drop(wait); // dropped before it ran: the lock is simply released
///     assert!(!lock.locked());
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct CondWait<'c, 'a, T> {
    cond: &'c Condition,
    lock: &'a super::Lock<T>,
    stage: Stage<'a, T>,
}

impl<'a, T> Future for CondWait<'_, 'a, T> {
    type Output = LockGuard<'a, T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<LockGuard<'a, T>> {
        let this = &mut *self;
        loop {
            match &mut this.stage {
                Stage::Start(guard) => {
                    // Join the line first, then let go of the lock.
                    let ticket = this.cond.waiters.borrow_mut().push(cx.waker());
                    let guard = guard.take();
                    this.stage = Stage::Waiting(ticket);
                    drop(guard);
                    return Poll::Pending;
                }
                Stage::Waiting(ticket) => {
                    // (The borrow ends with the statement; the waker it
                    // may have replaced is dropped after it.)
                    let (notified, _retired) = this
                        .cond
                        .waiters
                        .borrow_mut()
                        .take_or_wait(*ticket, cx.waker());
                    if notified.is_none() {
                        return Poll::Pending;
                    }
                    this.stage = Stage::Relocking(this.lock.lock());
                }
                Stage::Relocking(relock) => {
                    return match Pin::new(relock).poll(cx) {
                        Poll::Ready(guard) => {
                            this.stage = Stage::Done;
                            Poll::Ready(guard)
                        }
                        Poll::Pending => Poll::Pending,
                    };
                }
                Stage::Done => panic!("corio: CondWait polled after it completed"),
            }
        }
    }
}

impl<T> Drop for CondWait<'_, '_, T> {
    fn drop(&mut self) {
        let pass_on = match &self.stage {
            Stage::Waiting(ticket) => {
                let (notified, _retired) = self.cond.waiters.borrow_mut().cancel(*ticket);
                notified.is_some()
            }
            // Notified, but never returned to its caller: the notification
            // was not used.
            Stage::Relocking(_) => true,
            Stage::Start(_) | Stage::Done => false,
        };
        if pass_on {
            self.cond.notify(1);
        }
    }
}

impl<T> fmt::Debug for CondWait<'_, '_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let stage = match self.stage {
            Stage::Start(_) => "start",
            Stage::Waiting(_) => "waiting",
            Stage::Relocking(_) => "relocking",
            Stage::Done => "done",
        };
        f.debug_struct("CondWait").field("stage", &stage).finish()
    }
}
