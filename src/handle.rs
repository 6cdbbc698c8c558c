//! The thread-safe half of a loop, and [`LoopHandle`], the way in from other
//! threads.
//!
//! Everything else in the loop is single-threaded (`Rc`, `RefCell`). What
//! other threads may touch lives in [`Shared`], behind an `Arc`:
//!
//! * a remote queue (a `Mutex<Vec<..>>`) of cross-thread wakes and
//!   `call_soon_threadsafe` callbacks, which the loop drains at the start
//!   of each turn and again after a wait that another thread's poke ended
//!   (turns chained inside one `EventLoop::turn` end first when it is not
//!   empty);
//! * the loop's `mio::Waker`, which interrupts a loop blocked in
//!   `mio::Poll::poll` — written at most once per batch thanks to the
//!   `notified` flag, and closed (its eventfd) when the loop closes, however
//!   long handles and wakers live on;
//! * the stop request and the closed flag.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::waker::TaskWaker;

/// A callback sent from another thread.
pub(crate) type RemoteCallback = Box<dyn FnOnce() + Send>;

/// One thing another thread handed to the loop.
pub(crate) enum RemoteItem {
    Wake(Arc<TaskWaker>),
    Callback(RemoteCallback),
}

/// What other threads have handed to the loop since it last looked, in the
/// order they handed it (wakes and callbacks interleaved, as in asyncio's
/// one `_ready` deque).
#[derive(Default)]
pub(crate) struct Remote {
    pub(crate) items: Vec<RemoteItem>,
    /// `LoopHandle::stop` was called — after the callbacks above were
    /// queued: the stop travels with them, so a callback sent before it
    /// runs before `run_forever` returns (asyncio's order).
    pub(crate) stop: bool,
}

/// The part of a loop that other threads may use.
pub(crate) struct Shared {
    remote: Mutex<Remote>,
    /// True once another thread poked the loop — having queued something,
    /// or not (the last `LoopHandle` going, a pool job delivered while a
    /// loop is in debug mode); the loop clears it before it drains the
    /// queue.
    notified: AtomicBool,
    /// `None` once the loop is closed: a handle or waker that outlives the
    /// loop must not keep its eventfd open. (Locked only by the write that
    /// starts a batch, and by `close`.)
    waker: Mutex<Option<mio::Waker>>,
    stop: AtomicBool,
    closed: AtomicBool,
    /// Live [`LoopHandle`]s: while one exists, another thread may still
    /// wake the loop.
    handles: AtomicUsize,
    /// Thread-pool jobs submitted from this loop whose outcome has not
    /// been handed over yet: each may still wake a task or queue a done
    /// callback here.
    jobs: AtomicUsize,
}

impl Shared {
    pub(crate) fn new(waker: mio::Waker) -> Shared {
        Shared {
            remote: Mutex::new(Remote::default()),
            notified: AtomicBool::new(false),
            waker: Mutex::new(Some(waker)),
            stop: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            handles: AtomicUsize::new(0),
            jobs: AtomicUsize::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Remote> {
        // The queue holds no invariant a panic could break: a poisoned lock
        // is still a good queue.
        self.remote.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues a cross-thread wake, unless the loop is closed (then the
    /// wake has nothing to do, and queuing it would keep `Shared` alive
    /// through the waker's own reference to it).
    pub(crate) fn push_remote_wake(&self, waker: Arc<TaskWaker>) {
        {
            let mut remote = self.lock();
            if self.is_closed() {
                return;
            }
            remote.items.push(RemoteItem::Wake(waker));
        }
        self.notify();
    }

    /// Queues `f` unless the loop is closed; gives it back if it is.
    ///
    /// The closed flag is checked under the queue's lock, and `close` sets
    /// it under the same lock, so a callback is either refused or queued
    /// before the loop's final drain.
    pub(crate) fn push_remote_callback(&self, f: RemoteCallback) -> Result<(), RemoteCallback> {
        {
            let mut remote = self.lock();
            if self.is_closed() {
                return Err(f);
            }
            remote.items.push(RemoteItem::Callback(f));
        }
        self.notify();
        Ok(())
    }

    /// Interrupts `mio::Poll::poll`, once per batch of remote work.
    pub(crate) fn notify(&self) {
        if !self.notified.swap(true, Ordering::AcqRel) {
            // A failed write to the eventfd means the loop is gone or the
            // process is out of resources; the loop picks the queue up at its
            // next turn either way.
            let waker = self.waker.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(waker) = &*waker {
                let _ = waker.wake();
            }
        }
    }

    /// Has another thread queued work, or poked the loop, since the loop
    /// last took the queue?
    pub(crate) fn has_remote(&self) -> bool {
        self.notified.load(Ordering::Acquire)
    }

    /// Takes everything queued by other threads (loop thread only).
    pub(crate) fn take_remote(&self) -> Option<Remote> {
        // A plain load first: the common case (nothing queued) then costs no
        // atomic read-modify-write.
        if !self.notified.load(Ordering::Acquire) || !self.notified.swap(false, Ordering::AcqRel) {
            return None;
        }
        Some(std::mem::take(&mut *self.lock()))
    }

    /// Asks `run_forever` to return, waking the loop if it is blocked.
    pub(crate) fn request_stop(&self) {
        self.lock().stop = true;
        self.notify();
    }

    /// The same, from the loop's own thread: it is not blocked, so there is
    /// no need to poke it (which would cost a spurious wake-up).
    pub(crate) fn request_stop_here(&self) {
        self.stop.store(true, Ordering::Release);
    }

    pub(crate) fn stop_requested(&self) -> bool {
        self.stop.load(Ordering::Acquire)
    }

    pub(crate) fn take_stop(&self) -> bool {
        self.stop.swap(false, Ordering::AcqRel)
    }

    /// Marks the loop closed and takes what was queued, under the queue's
    /// lock: after this, nothing more is queued.
    pub(crate) fn close(&self) -> Remote {
        let mut remote = self.lock();
        self.closed.store(true, Ordering::Release);
        self.notified.store(false, Ordering::Release);
        // Nothing will wait for it any more: close the eventfd now.
        drop(self.waker.lock().unwrap_or_else(|e| e.into_inner()).take());
        std::mem::take(&mut *remote)
    }

    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    pub(crate) fn live_handles(&self) -> usize {
        self.handles.load(Ordering::Acquire)
    }

    /// A pool job was submitted from this loop.
    pub(crate) fn job_submitted(&self) {
        self.jobs.fetch_add(1, Ordering::AcqRel);
    }

    /// A job submitted from this loop handed its outcome over (its waker
    /// was woken, or its done callbacks were queued here). In debug mode —
    /// whose stall check reads the count — the loop is poked too: it may
    /// have taken that wake, polled, and counted this job as still in
    /// flight before the count came down; then, blocked, it must look
    /// again. (Without debug mode no poke: it could cost a system call per
    /// job. The plain loop's stall hint reads the count too, and looks
    /// again after its grace period instead: `Core::hint_wait`.)
    pub(crate) fn job_delivered(&self) {
        self.jobs.fetch_sub(1, Ordering::AcqRel);
        if crate::debug::any_debug_loop() {
            self.notify();
        }
    }

    /// Jobs submitted from this loop that are still to deliver.
    pub(crate) fn jobs_in_flight(&self) -> usize {
        self.jobs.load(Ordering::Acquire)
    }
}

/// A `Send + Clone` handle to an event loop, for other threads.
///
/// This is the asyncio idiom `loop.call_soon_threadsafe(cb)` plus
/// `loop.stop()`: the only ways another thread may touch a loop. A handle
/// never keeps the loop alive (nor its file descriptors); once the loop is dropped,
/// [`is_closed`](LoopHandle::is_closed) says so, `call_soon_threadsafe`
/// refuses new callbacks and `stop` does nothing.
///
/// While any handle exists the loop assumes another thread may still wake
/// it, so a [`run_once`](crate::EventLoop::run_once) with nothing ready
/// waits instead of returning an idle turn.
///
/// # Examples
///
/// A thread stops a loop that is blocked waiting for work:
///
/// ```
/// let mut lp = corio::EventLoop::new()?;
/// let handle = lp.handle();
/// let worker = std::thread::spawn(move || {
///     assert!(handle.call_soon_threadsafe(|| println!("hello from the loop thread")));
///     handle.stop();
/// });
/// lp.run_forever(); // returns once the thread called stop()
/// worker.join().unwrap();
/// # Ok::<(), std::io::Error>(())
/// ```
#[doc(alias = "get_running_loop")]
pub struct LoopHandle {
    shared: Arc<Shared>,
}

impl LoopHandle {
    pub(crate) fn new(shared: &Arc<Shared>) -> LoopHandle {
        shared.handles.fetch_add(1, Ordering::AcqRel);
        LoopHandle {
            shared: Arc::clone(shared),
        }
    }

    /// A handle to the loop running on this thread — or, inside a
    /// [`spawn_blocking`](crate::spawn_blocking) closure, to the loop that
    /// started it (as tokio's `Handle::current()`).
    ///
    /// # Panics
    ///
    /// If no loop runs on this thread, and it is not running a
    /// `spawn_blocking` closure.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let handle = corio::LoopHandle::current();
    ///     assert!(!handle.is_closed());
    ///     // From the blocking closure: back to the loop with a callback.
    ///     let (tx, rx) = corio::pool::channel::oneshot();
    ///     corio::spawn_blocking(move || {
    ///         corio::LoopHandle::current().call_soon_threadsafe(move || { let _ = tx.send("on the loop"); });
    ///     });
    ///     assert_eq!(rx.await, Ok("on the loop"));
    /// });
    /// ```
    #[track_caller]
    pub fn current() -> LoopHandle {
        if let Some(handle) = crate::context::with_current(|core| LoopHandle::new(core.shared())) {
            return handle;
        }
        if let Some(shared) = crate::context::job_loop() {
            return LoopHandle::new(&shared);
        }
        LoopHandle::new(crate::context::current("LoopHandle::current").shared())
    }

    /// Schedules `f` to run on the loop's thread at its next turn, from any
    /// thread, and wakes the loop if it is blocked waiting.
    ///
    /// Returns `false` (and drops `f`) if the loop is already closed; a
    /// callback accepted just before the loop closes is dropped unrun. A
    /// panic in `f` is contained and reported like any callback's.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::mpsc;
    ///
    /// let mut lp = corio::EventLoop::new()?;
    /// let handle = lp.handle();
    /// let (tx, rx) = mpsc::channel();
    /// let loop_thread = std::thread::current().id();
    /// std::thread::spawn(move || {
    ///     let stopper = handle.clone();
    ///     assert!(handle.call_soon_threadsafe(move || {
    ///         tx.send(std::thread::current().id()).unwrap();
    ///         stopper.stop();
    ///     }));
    /// });
    /// lp.run_forever(); // until the callback stops it
    /// assert_eq!(rx.recv().unwrap(), loop_thread, "ran on the loop's thread");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    #[must_use = "`false` means the loop is closed and `f` was dropped unrun"]
    pub fn call_soon_threadsafe(&self, f: impl FnOnce() + Send + 'static) -> bool {
        // On the loop's own thread, while it runs, this is `call_soon`
        // (asyncio's too): in line with what the thread scheduled before.
        // (Not while the loop's state is borrowed — from code the loop runs
        // inside its bookkeeping: then the remote queue, as from any
        // thread.)
        let here = crate::context::with_current(|core| {
            let usable =
                Arc::ptr_eq(core.shared(), &self.shared) && core.state.try_borrow_mut().is_ok();
            usable.then(|| std::rc::Rc::clone(core))
        });
        match here.flatten() {
            Some(core) => {
                core.call_soon(Box::new(f), None);
                true
            }
            None => self.shared.push_remote_callback(Box::new(f)).is_ok(),
        }
    }

    /// Is this handle's loop the one running on this thread?
    fn is_running_here(&self) -> bool {
        crate::context::with_current(|core| Arc::ptr_eq(core.shared(), &self.shared)) == Some(true)
    }

    /// Asks the loop to stop: [`run_forever`](crate::EventLoop::run_forever)
    /// returns after finishing its current turn. Wakes a blocked loop.
    /// (`run_until_complete` and `corio::run` end with their future, not
    /// with `stop`; to end one from another thread, have its future await
    /// a [`pool::channel::oneshot`](crate::pool::channel::oneshot).) A stop
    /// that finds no `run_forever` running — it came during a
    /// `run_until_complete`, say — stays pending: the next `run_forever`
    /// runs one turn and returns (asyncio's `run_until_complete` would fail
    /// with "Event loop stopped before Future completed" instead).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lp = corio::EventLoop::new()?;
    /// let ran = std::rc::Rc::new(std::cell::Cell::new(false));
    /// let r = ran.clone();
    /// lp.call_soon(move || r.set(true));
    /// lp.handle().stop();
    /// lp.run_forever(); // one turn, then returns
    /// assert!(ran.get());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stop(&self) {
        if self.is_running_here() {
            // From a task or callback of the loop itself: after this turn,
            // like `EventLoop::stop`.
            self.shared.request_stop_here();
        } else {
            // From elsewhere: behind what this thread sent before it.
            self.shared.request_stop();
        }
    }

    /// Has the loop been dropped?
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = corio::EventLoop::new()?;
    /// let handle = lp.handle();
    /// drop(lp);
    /// assert!(handle.is_closed());
    /// assert!(!handle.call_soon_threadsafe(|| unreachable!()));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn is_closed(&self) -> bool {
        self.shared.is_closed()
    }
}

impl Clone for LoopHandle {
    fn clone(&self) -> LoopHandle {
        LoopHandle::new(&self.shared)
    }
}

impl Drop for LoopHandle {
    fn drop(&mut self) {
        if self.shared.handles.fetch_sub(1, Ordering::AcqRel) == 1 && !self.is_running_here() {
            // The last way in from other threads is gone: a loop blocked
            // because one existed looks again whether anything could
            // still wake it (else `run_until_complete` reports the hang).
            // (On its own thread the loop is not blocked: it looks anyway.)
            self.shared.notify();
        }
    }
}

impl std::fmt::Debug for LoopHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoopHandle")
            .field("closed", &self.is_closed())
            .finish()
    }
}
