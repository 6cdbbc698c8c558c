//! `spawn_blocking`: a blocking closure on the loop's default pool, as a task.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::{JobError, JobHandle, ThreadPool};
use crate::context;
use crate::task::Task;

/// Threads of a loop's default pool: asyncio's default,
/// `min(32, cores + 4)`.
pub(crate) fn default_pool_size() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores + 4).min(32)
}

/// The pool `spawn_blocking` uses: core = max = [`default_pool_size`],
/// an unbounded queue (documented exception to bounded queues: a task
/// awaiting its job is all the back-pressure needed).
pub(crate) fn default_pool() -> ThreadPool {
    let n = default_pool_size();
    ThreadPool::builder()
        .core_threads(n)
        .max_threads(n)
        .thread_name("corio-blk") // short: Linux keeps 15 bytes of a name
        .build()
}

/// Runs a blocking closure on a thread of the loop's default pool, and
/// gives a [`Task`] for its result.
///
/// The loop's default pool is created on first use, with asyncio's size
/// (`min(32, cores + 4)` threads, kept once started, named
/// `corio-blk-1`, `corio-blk-2`, ...) and an unbounded queue. corio's
/// own blocking work shares it — resolving host names for `connect`,
/// reading stdin, writing stdout — so jobs that run for long (a blocking
/// server loop, say) belong on a [`ThreadPool`] of their own, or they
/// hold up the rest, as in asyncio. When the closure returns, the task is woken through the loop's
/// `mio::Waker`: a loop asleep in `mio::Poll` wakes at once — no polling.
///
/// Awaiting the task gives `Ok(output)`, or `Err(TaskError::Panicked)` if
/// the closure panicked (its thread survives).
///
/// **Cancelling.** [`cancel()`](Task::cancel) on *this* task cancels the
/// job if it has not started by the time the loop drops the task's future
/// — on its next turn, as for every cancelled task (asyncio's cancel
/// reaches a `run_in_executor` future on the next iteration too): a pool
/// thread that frees up in between may still start it. A running closure
/// cannot be stopped — it runs to its end and its output is dropped;
/// awaiting the task gives `Cancelled` either way. Dropping the handle
/// detaches the job, as with every [`Task`]: so when a task that awaits
/// `spawn_blocking(f)` is cancelled (or its `timeout` elapses), the handle
/// is dropped and the job still runs — asyncio would cancel the pending
/// job of `run_in_executor` there. Await
/// `spawn_blocking(f).cancel_on_drop()` to get asyncio's behaviour. When
/// the loop closes, queued jobs are cancelled and running ones are not
/// waited for (their threads exit when they return; asyncio's `run` waits
/// for them): await a job whose end matters.
///
/// # Panics
///
/// Outside a running loop, with "no running event loop".
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let sum = corio::spawn_blocking(|| (1..=100u64).sum::<u64>());
///     assert_eq!(sum.await, Ok(5050));
/// });
/// ```
#[doc(alias = "to_thread")]
#[doc(alias = "run_in_executor")]
#[track_caller]
pub fn spawn_blocking<F, T>(f: F) -> Task<T>
where
    F: FnOnce() -> T + Send + 'static,
    T: Send + 'static,
{
    let core = context::current("corio::spawn_blocking");
    let shared = std::sync::Arc::clone(core.shared());
    let job = core
        .default_pool()
        .submit(move || context::run_job_of(shared, f));
    Task::spawn_on(core, None, Blocking { job: Some(job) })
}

/// The task of a `spawn_blocking` job: waits for the job, and cancels it
/// if dropped before it started.
struct Blocking<T: Send + 'static> {
    job: Option<Result<JobHandle<T>, super::Rejected>>,
}

impl<T: Send + 'static> Future for Blocking<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let result = match self.job.as_mut() {
            Some(Ok(job)) => match Pin::new(job).poll(cx) {
                Poll::Ready(result) => result,
                Poll::Pending => return Poll::Pending,
            },
            // Only a closed loop's pool refuses work: end as cancelled.
            Some(Err(_)) | None => Err(JobError::Cancelled),
        };
        self.job = None;
        match result {
            Ok(output) => Poll::Ready(output),
            // Re-raised inside the task, which records it as `Panicked`
            // with the same message (resume_unwind prints nothing).
            Err(JobError::Panicked(message)) => std::panic::resume_unwind(Box::new(message)),
            Err(_) => {
                // Cancelled with the pool: the task ends cancelled too.
                if let Some(task) = crate::current_task() {
                    task.cancel();
                }
                Poll::Pending
            }
        }
    }
}

impl<T: Send + 'static> Drop for Blocking<T> {
    fn drop(&mut self) {
        if let Some(Ok(job)) = &self.job {
            job.cancel();
        }
    }
}
