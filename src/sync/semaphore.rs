//! Semaphores: a count of permits, handed out in FIFO order.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use super::wait_queue::{Ticket, WaitQueue};

struct State {
    permits: usize,
    /// Permits handed to waiters that have not run yet (they are neither
    /// free nor held by anybody's code).
    handed: usize,
    /// Permits kept for good with [`SemaphorePermit::forget`] (or
    /// [`OwnedSemaphorePermit::forget`]): what a `BoundedSemaphore` may
    /// take back by hand.
    forgotten: usize,
    waiters: WaitQueue<()>,
}

impl State {
    /// Gives one permit back: to the first waiter, or to the count.
    #[inline]
    fn release(&mut self) -> Option<Waker> {
        if self.waiters.is_empty() {
            // At `usize::MAX` ("unlimited") the count stays there.
            self.permits = self.permits.saturating_add(1);
            return None;
        }
        match self.waiters.hand(()) {
            Ok(waker) => {
                self.handed += 1;
                waker
            }
            Err(()) => {
                self.permits = self.permits.saturating_add(1);
                None
            }
        }
    }
}

/// A semaphore for the tasks of one loop (asyncio's `Semaphore`;
/// `threading.Semaphore`'s role between tasks, not threads): at most
/// `permits` holders at once; the others wait in line, first come first
/// served.
///
/// [`acquire`](Self::acquire) gives a [`SemaphorePermit`] that releases on
/// drop (RAII); [`release`](Self::release) adds a permit by hand, as
/// asyncio's does. Share it between tasks with `Rc`.
///
/// **Cancel safety.** An `acquire` dropped at any moment loses nothing: if a
/// permit had already been handed to it (a `release` woke it, but it had not
/// run yet — python/cpython#90155), the permit goes to the next in line.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use corio::sync::Semaphore;
///
/// corio::run(async {
///     let limit = Rc::new(Semaphore::new(2));
///     let tasks: Vec<_> = (0..5)
///         .map(|i| {
///             let limit = limit.clone();
///             corio::spawn(async move {
///                 let _permit = limit.acquire().await; // at most 2 inside
///                 corio::time::sleep(std::time::Duration::from_millis(1)).await;
///                 i
///             })
///         })
///         .collect();
///     let done = corio::gather(tasks).await;
///     assert_eq!(done.len(), 5);
/// });
/// ```
pub struct Semaphore {
    state: RefCell<State>,
    /// For a bounded semaphore: the most permits there may be.
    bound: Option<usize>,
}

impl Semaphore {
    /// A semaphore with `permits` permits.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = corio::sync::Semaphore::new(3);
    /// assert_eq!(sem.available_permits(), 3);
    /// ```
    pub fn new(permits: usize) -> Semaphore {
        Semaphore::of_kind("Semaphore", permits)
    }

    /// A semaphore that debug dumps call `kind` (a `Lock` is one).
    pub(crate) fn of_kind(kind: &'static str, permits: usize) -> Semaphore {
        Semaphore {
            state: RefCell::new(State {
                permits,
                handed: 0,
                forgotten: 0,
                waiters: WaitQueue::new(kind),
            }),
            bound: None,
        }
    }

    /// Waits for a permit. Cancel safe (see the type's docs).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let sem = corio::sync::Semaphore::new(1);
    ///     let permit = sem.acquire().await;
    ///     assert_eq!(sem.available_permits(), 0);
    ///     drop(permit);
    ///     assert_eq!(sem.available_permits(), 1);
    /// });
    /// ```
    pub fn acquire(&self) -> Acquire<'_> {
        Acquire {
            sem: self,
            ticket: None,
        }
    }

    /// Waits for a permit that owns an `Rc` of the semaphore instead of
    /// borrowing it: one that can move into a spawned task (tokio's
    /// `acquire_owned`). Cancel safe, as [`acquire`](Self::acquire).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    /// use corio::sync::Semaphore;
    ///
    /// corio::run(async {
    ///     let limit = Rc::new(Semaphore::new(1));
    ///     let permit = limit.clone().acquire_owned().await; // taken here ...
    ///     let job = corio::spawn(async move {
    ///         let _permit = permit; // ... held by the task ...
    ///         corio::yield_now().await;
    ///     });
    ///     assert_eq!(limit.available_permits(), 0);
    ///     job.await.unwrap();
    ///     assert_eq!(limit.available_permits(), 1); // ... released when it ended
    /// });
    /// ```
    pub async fn acquire_owned(self: Rc<Self>) -> OwnedSemaphorePermit {
        // The borrowed permit's release moves to the owned one.
        std::mem::forget(self.acquire().await);
        OwnedSemaphorePermit { sem: Some(self) }
    }

    /// [`try_acquire`](Self::try_acquire), giving an owned permit (see
    /// [`acquire_owned`](Self::acquire_owned)).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    ///
    /// let sem = Rc::new(corio::sync::Semaphore::new(1));
    /// let permit = sem.clone().try_acquire_owned().unwrap();
    /// assert!(sem.clone().try_acquire_owned().is_none());
    /// drop(permit);
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    #[must_use = "a permit is released as soon as it is dropped"]
    pub fn try_acquire_owned(self: Rc<Self>) -> Option<OwnedSemaphorePermit> {
        std::mem::forget(self.try_acquire()?);
        Some(OwnedSemaphorePermit { sem: Some(self) })
    }

    /// Debug mode: a note that the task polled now holds a permit (a
    /// `Lock` keeps the last one).
    #[inline]
    pub(crate) fn hold_note(&self) -> Option<crate::debug::ParkNote> {
        self.state.borrow().waiters.hold_note()
    }

    /// A permit if one is free now and nobody waits in line before us.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = corio::sync::Semaphore::new(1);
    /// let permit = sem.try_acquire().unwrap();
    /// assert!(sem.try_acquire().is_none());
    /// drop(permit);
    /// assert!(sem.try_acquire().is_some());
    /// ```
    #[must_use = "a permit is released as soon as it is dropped"]
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        let mut st = self.state.borrow_mut();
        if st.permits > 0 && !st.waiters.has_waiting() {
            st.permits -= 1;
            Some(SemaphorePermit { sem: self })
        } else {
            None
        }
    }

    /// Adds a permit (asyncio's `release`): to the first waiter if any.
    /// The count saturates at `usize::MAX` (a semaphore made with that
    /// many is unlimited). On a [`BoundedSemaphore`] use its own `release`,
    /// which refuses to go past the initial count.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = corio::sync::Semaphore::new(0);
    /// sem.release();
    /// assert_eq!(sem.available_permits(), 1);
    /// ```
    #[inline]
    pub fn release(&self) {
        let waker = self.state.borrow_mut().release();
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Permits free right now.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(corio::sync::Semaphore::new(4).available_permits(), 4);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.state.borrow().permits
    }

    /// Would `acquire` have to wait? (asyncio's `locked()`)
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = corio::sync::Semaphore::new(1);
    /// let _permit = sem.try_acquire();
    /// assert!(sem.locked());
    /// ```
    pub fn locked(&self) -> bool {
        let mut st = self.state.borrow_mut();
        st.permits == 0 || st.waiters.has_waiting()
    }
}

impl fmt::Debug for Semaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.state.borrow();
        f.debug_struct("Semaphore")
            .field("permits", &st.permits)
            .field("waiting", &st.waiters.waiting())
            .finish()
    }
}

/// The future of [`Semaphore::acquire`].
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let sem = corio::sync::Semaphore::new(1);
///     let acquire: corio::sync::Acquire<'_> = sem.acquire();
///     let permit = acquire.await;
///     assert_eq!(sem.available_permits(), 0);
///     drop(permit);
///     assert_eq!(sem.available_permits(), 1);
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct Acquire<'a> {
    sem: &'a Semaphore,
    ticket: Option<Ticket>,
}

impl<'a> Future for Acquire<'a> {
    type Output = SemaphorePermit<'a>;

    #[inline(always)]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<SemaphorePermit<'a>> {
        std::task::ready!(crate::context::poll_budget(cx));
        let sem = self.sem;
        let mut st = sem.state.borrow_mut();
        match self.ticket {
            None => {
                if st.permits > 0 && (st.waiters.is_empty() || !st.waiters.has_waiting()) {
                    st.permits -= 1;
                    return Poll::Ready(SemaphorePermit { sem });
                }
                let ticket = st.waiters.push(cx.waker());
                drop(st);
                self.ticket = Some(ticket);
                Poll::Pending
            }
            Some(ticket) => {
                let (permit, retired) = st.waiters.take_or_wait(ticket, cx.waker());
                if permit.is_some() {
                    st.handed -= 1;
                }
                drop(st);
                drop(retired);
                if permit.is_some() {
                    self.ticket = None;
                    return Poll::Ready(SemaphorePermit { sem });
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for Acquire<'_> {
    #[inline]
    fn drop(&mut self) {
        let Some(ticket) = self.ticket else {
            return;
        };
        let retired;
        let waker = {
            let mut st = self.sem.state.borrow_mut();
            let (permit, left) = st.waiters.cancel(ticket);
            retired = left;
            match permit {
                // A permit had reached us: it goes to the next in line.
                Some(()) => {
                    st.handed -= 1;
                    st.release()
                }
                None => None,
            }
        };
        drop(retired);
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl fmt::Debug for Acquire<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Acquire")
            .field("waiting", &self.ticket.is_some())
            .finish()
    }
}

/// A permit of a [`Semaphore`]: released when dropped.
///
/// # Examples
///
/// ```
/// let sem = corio::sync::Semaphore::new(1);
/// {
///     let _permit = sem.try_acquire().unwrap();
///     assert_eq!(sem.available_permits(), 0);
/// }
/// assert_eq!(sem.available_permits(), 1);
/// ```
#[must_use = "a permit is released as soon as it is dropped"]
pub struct SemaphorePermit<'a> {
    sem: &'a Semaphore,
}

impl SemaphorePermit<'_> {
    /// Keeps the permit taken for good (no release on drop): asyncio's
    /// `acquire()` without `release()`.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = corio::sync::Semaphore::new(1);
    /// sem.try_acquire().unwrap().forget();
    /// assert_eq!(sem.available_permits(), 0);
    /// ```
    pub fn forget(self) {
        self.sem.state.borrow_mut().forgotten += 1;
        std::mem::forget(self);
    }
}

impl Drop for SemaphorePermit<'_> {
    #[inline]
    fn drop(&mut self) {
        self.sem.release();
    }
}

impl fmt::Debug for SemaphorePermit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SemaphorePermit")
    }
}

/// A permit of a [`Semaphore`] that holds an `Rc` of it (from
/// [`Semaphore::acquire_owned`]): `'static`, so it can move into a spawned
/// task. Released when dropped.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
///
/// let sem = Rc::new(corio::sync::Semaphore::new(1));
/// let permit: corio::sync::OwnedSemaphorePermit = sem.clone().try_acquire_owned().unwrap();
/// assert_eq!(sem.available_permits(), 0);
/// drop(permit);
/// assert_eq!(sem.available_permits(), 1);
/// ```
#[must_use = "a permit is released as soon as it is dropped"]
pub struct OwnedSemaphorePermit {
    /// `None` only once forgotten.
    sem: Option<Rc<Semaphore>>,
}

impl OwnedSemaphorePermit {
    /// Keeps the permit taken for good, as [`SemaphorePermit::forget`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    ///
    /// let sem = Rc::new(corio::sync::Semaphore::new(1));
    /// sem.clone().try_acquire_owned().unwrap().forget();
    /// assert_eq!(sem.available_permits(), 0);
    /// ```
    pub fn forget(mut self) {
        if let Some(sem) = self.sem.take() {
            sem.state.borrow_mut().forgotten += 1;
        }
    }
}

impl Drop for OwnedSemaphorePermit {
    #[inline]
    fn drop(&mut self) {
        if let Some(sem) = self.sem.take() {
            sem.release();
        }
    }
}

impl fmt::Debug for OwnedSemaphorePermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OwnedSemaphorePermit")
    }
}

/// A semaphore whose [`release`](Self::release) refuses to go past the
/// initial count (asyncio's `BoundedSemaphore`): releasing more than was
/// acquired is a bug, reported as an error instead of a silent extra
/// permit.
///
/// # Examples
///
/// ```
/// use corio::sync::BoundedSemaphore;
///
/// let sem = BoundedSemaphore::new(1);
/// assert!(sem.release().is_err()); // nothing was acquired
/// sem.try_acquire().unwrap().forget();
/// assert!(sem.release().is_ok());
/// ```
pub struct BoundedSemaphore {
    sem: Semaphore,
}

/// [`BoundedSemaphore::release`] past the initial count.
///
/// # Examples
///
/// ```
/// let err = corio::sync::BoundedSemaphore::new(2).release().unwrap_err();
/// assert_eq!(err.to_string(), "BoundedSemaphore released too many times (bound 2)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleaseError {
    bound: usize,
}

impl fmt::Display for ReleaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "BoundedSemaphore released too many times (bound {})",
            self.bound
        )
    }
}

impl std::error::Error for ReleaseError {}

impl BoundedSemaphore {
    /// A bounded semaphore with `permits` permits, which is also its bound.
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = corio::sync::BoundedSemaphore::new(3);
    /// assert_eq!(sem.available_permits(), 3);
    /// ```
    pub fn new(permits: usize) -> BoundedSemaphore {
        let mut sem = Semaphore::of_kind("BoundedSemaphore", permits);
        sem.bound = Some(permits);
        BoundedSemaphore { sem }
    }

    /// Waits for a permit (see [`Semaphore::acquire`]).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let sem = corio::sync::BoundedSemaphore::new(1);
    ///     let permit = sem.acquire().await;
    ///     assert!(sem.locked()); // the one permit is out
    ///     drop(permit);
    ///     assert_eq!(sem.available_permits(), 1);
    /// });
    /// ```
    pub fn acquire(&self) -> Acquire<'_> {
        self.sem.acquire()
    }

    /// A permit if one is free now (see [`Semaphore::try_acquire`]).
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = corio::sync::BoundedSemaphore::new(1);
    /// assert!(sem.try_acquire().is_some());
    /// ```
    #[must_use = "a permit is released as soon as it is dropped"]
    pub fn try_acquire(&self) -> Option<SemaphorePermit<'_>> {
        self.sem.try_acquire()
    }

    /// Gives back a permit taken with [`SemaphorePermit::forget`]; an error
    /// if none is forgotten — then the permits out are all held, and each
    /// comes back when its holder drops it, so one more would make more
    /// permits than the bound (asyncio's `ValueError`). (A permit leaked
    /// with a bare `std::mem::forget` is lost for good.)
    ///
    /// # Examples
    ///
    /// ```
    /// let sem = corio::sync::BoundedSemaphore::new(1);
    /// sem.try_acquire().unwrap().forget();
    /// sem.release().unwrap();
    /// assert!(sem.release().is_err());
    /// ```
    pub fn release(&self) -> Result<(), ReleaseError> {
        let bound = self.sem.bound.unwrap_or(usize::MAX);
        {
            let mut st = self.sem.state.borrow_mut();
            if st.forgotten == 0 {
                return Err(ReleaseError { bound });
            }
            st.forgotten -= 1;
        }
        self.sem.release();
        Ok(())
    }

    /// Permits free right now.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(corio::sync::BoundedSemaphore::new(2).available_permits(), 2);
    /// ```
    pub fn available_permits(&self) -> usize {
        self.sem.available_permits()
    }

    /// Would `acquire` have to wait?
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(!corio::sync::BoundedSemaphore::new(1).locked());
    /// ```
    pub fn locked(&self) -> bool {
        self.sem.locked()
    }
}

impl fmt::Debug for BoundedSemaphore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.sem.state.borrow();
        f.debug_struct("BoundedSemaphore")
            .field("bound", &self.sem.bound.unwrap_or(usize::MAX))
            .field("permits", &st.permits)
            .field("waiting", &st.waiters.waiting())
            .finish()
    }
}
