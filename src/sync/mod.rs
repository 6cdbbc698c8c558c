//! Locks, events, semaphores and queues for the tasks of one loop — the
//! coroutine twins of `threading.Lock`, `Event`, `Semaphore` and
//! `queue.Queue` (asyncio's `asyncio.Lock`, ...).
//!
//! Why does a single thread need locks? Because a task may be suspended at
//! every `.await`: between reading shared state and writing it back, other
//! tasks run. Whatever must look atomic across an `.await` needs a
//! [`Lock`]; whatever must be limited (3 downloads at once) a
//! [`Semaphore`]; a producer/consumer pair a [`Queue`]; a fan-out to many
//! readers a [`broadcast`] channel.
//!
//! These types are for one loop: `Rc` to share them, no atomics, `!Sync`
//! (an `Arc<Event>` handed to a thread is a compile error about a
//! `RefCell`). They need nothing but a `Waker`, so they also work under
//! another executor. An OS thread signals or feeds a task through
//! [`pool::channel`](crate::pool::channel) (`oneshot` for one signal,
//! `unbounded` for many), or runs code on the loop with
//! [`LoopHandle::call_soon_threadsafe`](crate::LoopHandle::call_soon_threadsafe).
//!
//! **Fair and cancel safe.** Waiters are served in the order they came, and
//! what a waiter waits for — a permit, the lock, a notification, for a
//! queue's getter the promise of an item (the item stays in the queue
//! until the getter runs and takes it) — is *handed* to it. A waiter
//! dropped at any moment (by `timeout`, `select`, a cancelled task), even
//! after it was handed its due but before it ran, passes it on: nothing is
//! lost. Each method's docs say what it does when dropped.
//!
//! **Budgeted, as tokio's.** A task whose channel is never empty, or whose
//! lock is never taken, would never have to wait — and never let the loop
//! run anything else. So each poll of a lock, semaphore, queue, channel or
//! event takes one from the task's budget of 128 operations per poll (the
//! one sockets take from): once it is spent, the next one yields — the
//! task is woken and comes back at its next turn — as a socket read does.
//!
//! # Examples
//!
//! ```
//! use std::rc::Rc;
//! use std::time::Duration;
//! use corio::sync::{Lock, Semaphore};
//!
//! corio::run(async {
//!     let downloads = Rc::new(Semaphore::new(3)); // at most 3 at once
//!     let log = Rc::new(Lock::new(Vec::new()));
//!     let tasks: Vec<_> = (0..10)
//!         .map(|i| {
//!             let (downloads, log) = (downloads.clone(), log.clone());
//!             corio::spawn(async move {
//!                 let _slot = downloads.acquire().await;
//!                 corio::time::sleep(Duration::from_millis(1)).await;
//!                 log.lock().await.push(i);
//!             })
//!         })
//!         .collect();
//!     corio::gather(tasks).await;
//!     assert_eq!(log.lock().await.len(), 10);
//! });
//! ```

mod barrier;
pub mod broadcast;
mod condition;
mod event;
mod lock;
pub mod mpsc;
pub mod oneshot;
mod queue;
mod semaphore;
mod wait_queue;

pub use barrier::{Barrier, BarrierWait, BarrierWaitResult};
pub use condition::{CondWait, Condition};
pub use event::{Event, EventWait};
pub use lock::{Lock, LockFuture, LockGuard};
pub use queue::{
    Fifo, GenericQueue, Get, Join, Lifo, LifoQueue, Order, Priority, PriorityQueue, Put, Queue,
    QueueShutDown, TaskDoneError, TryGetError, TryPutError,
};
pub use semaphore::{
    Acquire, BoundedSemaphore, OwnedSemaphorePermit, ReleaseError, Semaphore, SemaphorePermit,
};
