//! A coroutine submitted to a loop from another thread:
//! [`LoopHandle::run_coroutine_threadsafe`] (asyncio's
//! `run_coroutine_threadsafe`).
//!
//! The result comes back through the thread pool's [`JobHandle`] — the
//! cross-thread handle corio already has (`concurrent.futures.Future` in
//! Python) — so the thread can [`wait`](JobHandle::wait) for it, another
//! loop can await it, and either can cancel it. The job's life:
//!
//! ```text
//!   submitted ──the loop runs the callback──► running (a detached task)
//!       │                                        │           │
//!     cancel                                   cancel     finishes / panics
//!       ▼                                        ▼           ▼
//!   Cancelled (never made)      Cancelled; the task drops   the result
//!                               the future on its next poll
//! ```
//!
//! A job normally cannot be stopped once it runs (a thread cannot be
//! interrupted); this one can, so it carries a `stop`: sending on a
//! oneshot channel that the task polls beside the coroutine. Whoever takes
//! the `stop` out of the job's state ends the job — the cancel, or the task
//! when the coroutine finishes first — so the two never both deliver.

use std::future::{Future, poll_fn};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::{Pin, pin};
use std::sync::Arc;
use std::task::Poll;

use super::channel::oneshot;
use super::job::JobShared;
use super::{JobError, JobHandle, JobResult};
use crate::LoopHandle;
use crate::report::panic_message;

impl LoopHandle {
    /// Runs a coroutine on this handle's loop, from any thread, and gives a
    /// handle to its result: asyncio's `run_coroutine_threadsafe(coro,
    /// loop)`.
    ///
    /// `make` is called on the loop's thread, at its next turn, and the
    /// future it returns runs there as a task — so the future need not be
    /// `Send` (it may hold `Rc`s, sockets, locks of that loop); only `make`
    /// and the output cross threads. The [`JobHandle`] is Python's
    /// `concurrent.futures.Future`: [`wait`](JobHandle::wait) (or
    /// [`wait_timeout`](JobHandle::wait_timeout)) for it on a plain thread,
    /// `.await` it on another loop, add done callbacks (they run on the
    /// loop's thread when the coroutine ends, or on the thread that
    /// cancels it).
    ///
    /// What the handle gets: the output; [`JobError::Panicked`] if `make`
    /// or the future panicked (the loop goes on);
    /// [`JobError::Cancelled`] after [`JobHandle::cancel`] — which, unlike
    /// a pool job's, stops a coroutine that is running: the loop drops the
    /// future (its destructors run on the loop's thread) at its next turn —
    /// or if the loop closed before the coroutine ended;
    /// [`JobError::Rejected`] if the loop was closed already. Dropping the
    /// handle detaches the coroutine: it runs on.
    ///
    /// `make` itself crosses threads, so it cannot capture the loop's own
    /// `Rc` state. To reach state that lives on the loop, let a task there
    /// own it and take commands from a [`pool::channel`](crate::pool::channel)
    /// (the thread sends, the task awaits `recv`), or keep it in a
    /// `thread_local!` of the loop's thread that `make`'s future reads.
    ///
    /// # Examples
    ///
    /// A plain thread asks the loop for something only the loop has, and
    /// waits for the answer:
    ///
    /// ```
    /// use std::rc::Rc;
    ///
    /// let mut lp = corio::EventLoop::new()?;
    /// let handle = lp.handle();
    /// let worker = std::thread::spawn(move || {
    ///     let job = handle.run_coroutine_threadsafe(|| async {
    ///         let on_the_loop = Rc::new(20); // not Send: fine, it stays there
    ///         corio::yield_now().await;
    ///         *on_the_loop + 1
    ///     });
    ///     let answer = job.wait();
    ///     handle.stop();
    ///     answer
    /// });
    /// lp.run_forever(); // until the thread stops it
    /// assert_eq!(worker.join().unwrap(), Ok(21));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn run_coroutine_threadsafe<F, Fut>(&self, make: F) -> JobHandle<Fut::Output>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future + 'static,
        Fut::Output: Send + 'static,
    {
        let shared = JobShared::new(None);
        let (stop, stopped) = oneshot::<()>();
        shared.set_stop(Box::new(move || {
            let _ = stop.send(()); // the task may be gone already
        }));
        if self.is_closed() {
            shared.end_unstarted(JobError::Rejected);
            return JobHandle::new(shared);
        }
        let job = Unfinished(Arc::clone(&shared));
        // Refused (the loop closed just now) or dropped unrun at its close:
        // `job` goes with the callback and ends the job `Cancelled`.
        let _accepted = self.call_soon_threadsafe(move || {
            if !job.0.start() {
                return; // cancelled before it started
            }
            let future = match catch_unwind(AssertUnwindSafe(make)) {
                Ok(future) => future,
                Err(payload) => return job.finish(Err(panicked(payload))),
            };
            crate::Builder::new()
                .name("run_coroutine_threadsafe")
                .spawn(async move {
                    let mut future = pin!(future);
                    // Listened to until the handle is dropped: then nobody can
                    // cancel, the sender goes, and this waker is not kept there.
                    let mut stopped = Some(stopped);
                    let result = poll_fn(|cx| {
                        if let Some(listening) = &mut stopped {
                            match Pin::new(listening).poll(cx) {
                                Poll::Ready(Ok(())) => return Poll::Ready(None), // cancelled
                                Poll::Ready(Err(_)) => stopped = None,           // detached
                                Poll::Pending => {}
                            }
                        }
                        match catch_unwind(AssertUnwindSafe(|| future.as_mut().poll(cx))) {
                            Ok(Poll::Ready(output)) => Poll::Ready(Some(Ok(output))),
                            Ok(Poll::Pending) => Poll::Pending,
                            Err(payload) => Poll::Ready(Some(Err(panicked(payload)))),
                        }
                    })
                    .await;
                    if let Some(result) = result {
                        job.finish(result);
                    }
                })
                .detach();
        });
        JobHandle::new(shared)
    }
}

/// A coroutine's job not yet finished: dropped so (its loop closed, or the
/// callback was refused), it ends `Cancelled`.
struct Unfinished<T: Send + 'static>(Arc<JobShared<T>>);

impl<T: Send + 'static> Unfinished<T> {
    fn finish(self, result: JobResult<T>) {
        if let Some(late) = self.0.finish_stoppable(result) {
            crate::contain::drop_contained(late); // cancelled meanwhile
        }
    }
}

impl<T: Send + 'static> Drop for Unfinished<T> {
    fn drop(&mut self) {
        // (A no-op once the job has ended.)
        self.0.end_unstarted(JobError::Cancelled);
    }
}

fn panicked(payload: Box<dyn std::any::Any + Send>) -> JobError {
    let message = panic_message(&*payload);
    crate::contain::drop_contained(payload);
    JobError::Panicked(message)
}
