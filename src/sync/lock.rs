//! `Lock<T>`: an async mutex with a guard, FIFO fair.

use std::cell::{RefCell, RefMut};
use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll};

use super::semaphore::{Acquire, Semaphore, SemaphorePermit};

/// A lock for tasks on one loop (asyncio's `Lock`; `threading.Lock`'s role
/// between tasks, not threads) that guards a value: `Lock<()>` is asyncio's bare lock, `Lock<Vec<u8>>` a
/// buffer only one task touches at a time.
///
/// Why a lock on one thread? Because a task can be suspended at every
/// `.await`: read–await–write on shared state loses updates without one
/// (seed 004's ticket counter; see the `ticket_lock` example). The lock is
/// held across awaits by holding its [`LockGuard`].
///
/// Fair: tasks get the lock in the order they asked. **Cancel safety:** a
/// `lock()` future dropped at any moment loses nothing — if the lock had
/// already been handed to it (bpo-27585), it goes to the next in line.
///
/// **Panics.** A task that panics while it holds the guard releases the
/// lock as it unwinds (asyncio's `async with lock:` releases on an
/// exception too). The lock is not poisoned, unlike `std::sync::Mutex`:
/// the next owner sees the value as the panicking task left it.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use corio::sync::Lock;
///
/// corio::run(async {
///     let tickets = Rc::new(Lock::new(100));
///     let sellers: Vec<_> = (0..4)
///         .map(|_| {
///             let tickets = tickets.clone();
///             corio::spawn(async move {
///                 let mut left = tickets.lock().await;
///                 let n = *left;
///                 corio::yield_now().await; // suspended while holding the lock
///                 *left = n - 1;
///             })
///         })
///         .collect();
///     corio::gather(sellers).await;
///     assert_eq!(*tickets.lock().await, 96);
/// });
/// ```
pub struct Lock<T = ()> {
    sem: Semaphore,
    value: RefCell<T>,
    /// Debug mode: the task that took the lock last, for the dump — which
    /// names it only while some task waits for the lock (so the lock is
    /// held). Set when the lock is taken and never cleared on release: any
    /// work in the guard's drop (a field to drop, a check) kept it from
    /// inlining into its caller and cost a lock + unlock 20–27
    /// instructions (of 92) with debug mode off.
    holder: RefCell<Option<crate::debug::ParkNote>>,
}

impl<T: Default> Default for Lock<T> {
    fn default() -> Lock<T> {
        Lock::new(T::default())
    }
}

impl<T> Lock<T> {
    /// An unlocked lock guarding `value`.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = corio::sync::Lock::new(String::new());
    /// assert!(!lock.locked());
    /// ```
    pub fn new(value: T) -> Lock<T> {
        Lock {
            sem: Semaphore::of_kind("Lock", 1),
            value: RefCell::new(value),
            holder: RefCell::new(None),
        }
    }

    /// Waits for the lock. Cancel safe (see the type's docs).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let lock = corio::sync::Lock::new(1);
    ///     *lock.lock().await += 1;
    ///     assert_eq!(*lock.lock().await, 2);
    /// });
    /// ```
    pub fn lock(&self) -> LockFuture<'_, T> {
        LockFuture {
            lock: self,
            acquire: self.sem.acquire(),
        }
    }

    /// The lock if it is free now and nobody waits for it.
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = corio::sync::Lock::new(());
    /// let guard = lock.try_lock().unwrap();
    /// assert!(lock.try_lock().is_none());
    /// drop(guard);
    /// ```
    #[must_use = "the lock is released as soon as the guard is dropped"]
    pub fn try_lock(&self) -> Option<LockGuard<'_, T>> {
        let permit = self.sem.try_acquire()?;
        Some(self.guard(permit))
    }

    #[inline]
    fn guard<'a>(&'a self, permit: SemaphorePermit<'a>) -> LockGuard<'a, T> {
        match self.value.try_borrow_mut() {
            Ok(value) => {
                if crate::debug::any_debug_loop() {
                    self.note_holder();
                }
                LockGuard {
                    value,
                    _permit: permit,
                    lock: self,
                }
            }
            Err(_) => unreachable!("corio: a Lock's value is borrowed only by its one guard"),
        }
    }

    /// Debug mode: notes the task polled now as the holder.
    #[cold]
    #[inline(never)]
    fn note_holder(&self) {
        let note = self.sem.hold_note();
        let old = std::mem::replace(&mut *self.holder.borrow_mut(), note);
        drop(old); // after the borrow
    }

    /// Is the lock held — or handed to a waiter that has not run yet?
    /// (asyncio's `locked()` is `False` in that moment; corio hands the
    /// lock straight to the first waiter, so that no newcomer can take it
    /// first.)
    ///
    /// # Examples
    ///
    /// ```
    /// let lock = corio::sync::Lock::new(());
    /// let _guard = lock.try_lock();
    /// assert!(lock.locked());
    /// ```
    pub fn locked(&self) -> bool {
        self.sem.locked()
    }

    /// The value, for whoever owns the lock outright (no other user can
    /// exist).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lock = corio::sync::Lock::new(5);
    /// *lock.get_mut() += 1;
    /// assert_eq!(lock.into_inner(), 6);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.value.get_mut()
    }

    /// The value, consuming the lock.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(corio::sync::Lock::new("v").into_inner(), "v");
    /// ```
    pub fn into_inner(self) -> T {
        self.value.into_inner()
    }
}

impl<T> fmt::Debug for Lock<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock")
            .field("locked", &self.locked())
            .finish()
    }
}

/// The future of [`Lock::lock`].
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let lock = corio::sync::Lock::new(());
///     let future: corio::sync::LockFuture<'_, ()> = lock.lock();
///     assert!(!lock.locked()); // nothing until awaited
///     let guard = future.await;
///     assert!(lock.locked());
///     drop(guard);
///     assert!(!lock.locked());
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct LockFuture<'a, T> {
    lock: &'a Lock<T>,
    acquire: Acquire<'a>,
}

impl<'a, T> Future for LockFuture<'a, T> {
    type Output = LockGuard<'a, T>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<LockGuard<'a, T>> {
        let permit = match Pin::new(&mut self.acquire).poll(cx) {
            Poll::Ready(permit) => permit,
            Poll::Pending => return Poll::Pending,
        };
        Poll::Ready(self.lock.guard(permit))
    }
}

impl<T> fmt::Debug for LockFuture<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LockFuture")
    }
}

/// The lock, held: derefs to the value; releases when dropped.
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let lock = corio::sync::Lock::new(vec![1]);
///     let mut guard: corio::sync::LockGuard<'_, Vec<i32>> = lock.lock().await;
///     guard.push(2);
///     assert_eq!(*guard, [1, 2]);
/// });
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockGuard<'a, T> {
    // Declared first, so dropped first: the value is free before the next
    // owner is handed the permit.
    value: RefMut<'a, T>,
    _permit: SemaphorePermit<'a>,
    lock: &'a Lock<T>,
}

impl<'a, T> LockGuard<'a, T> {
    /// The lock this guard holds (for `Condition` to take it again).
    pub(crate) fn lock(&self) -> &'a Lock<T> {
        self.lock
    }
}

impl<T> Deref for LockGuard<'_, T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for LockGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

impl<T: fmt::Debug> fmt::Debug for LockGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("LockGuard").field(&*self.value).finish()
    }
}
