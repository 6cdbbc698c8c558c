//! `wait`: block until some or all of a set of tasks are done.

use std::task::{Context, Poll};

use super::wake_set::WakeSet;
use crate::task::Task;

/// When [`wait`] returns (asyncio's `FIRST_COMPLETED`, `FIRST_EXCEPTION`,
/// `ALL_COMPLETED`).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use corio::{ReturnWhen, time::sleep};
///
/// corio::run(async {
///     let slow = corio::spawn(async { sleep(Duration::from_secs(60)).await });
///     let failing = corio::spawn(async { panic!("boom") });
///     let (done, pending) = corio::wait([slow, failing], ReturnWhen::FirstException).await;
///     assert_eq!((done.len(), pending.len()), (1, 1), "returned at the panic");
///     pending[0].cancel();
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReturnWhen {
    /// As soon as any task is done.
    FirstCompleted,
    /// As soon as any task panics — or when all are done, if none does.
    /// (Cancelled tasks do not count as failures, as in asyncio.)
    FirstException,
    /// When every task is done.
    AllCompleted,
}

/// Waits until tasks are done, per `when`, and returns them split into
/// `(done, pending)`, each in input order (asyncio's `asyncio.wait`).
///
/// Nothing is taken from the tasks: await the done ones to get their
/// outcomes (they are ready at once). An empty input returns at once.
///
/// There is no `timeout` argument (asyncio's `wait(timeout=)`): wrapped in
/// [`time::timeout`](crate::time::timeout), an elapsed wait drops every
/// handle, and the tasks run on detached with no `(done, pending)` to look
/// at. To wait until a deadline and keep the handles, add a task that
/// sleeps until it, with [`ReturnWhen::FirstCompleted`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use corio::{ReturnWhen, time::sleep};
///
/// corio::run(async {
///     let tasks: Vec<_> = [50u64, 1, 60]
///         .map(|ms| corio::spawn(async move { sleep(Duration::from_millis(ms)).await; ms }))
///         .into();
///     let (done, pending) = corio::wait(tasks, ReturnWhen::FirstCompleted).await;
///     assert_eq!(done.len(), 1);
///     assert_eq!(pending.len(), 2);
///     for task in done {
///         assert_eq!(task.await, Ok(1));
///     }
/// });
/// ```
pub async fn wait<T, I>(tasks: I, when: ReturnWhen) -> (Vec<Task<T>>, Vec<Task<T>>)
where
    T: 'static,
    I: IntoIterator<Item = Task<T>>,
{
    let tasks: Vec<Task<T>> = tasks.into_iter().collect();
    let wake = WakeSet::new(tasks.len());
    let mut is_done = vec![false; tasks.len()];
    let mut done_count = 0;
    let mut panicked = false;
    let mut woken = Vec::new();
    if !tasks.is_empty() {
        std::future::poll_fn(|cx| {
            wake.take_woken(cx.waker(), &mut woken);
            for &index in &woken {
                if is_done[index] {
                    continue;
                }
                let waker = wake.waker(index);
                let mut child_cx = Context::from_waker(&waker);
                if tasks[index].poll_finished(&mut child_cx).is_ready() {
                    is_done[index] = true;
                    done_count += 1;
                    panicked |= tasks[index].has_panicked();
                }
            }
            let finished = match when {
                ReturnWhen::FirstCompleted => done_count > 0,
                ReturnWhen::FirstException => panicked || done_count == tasks.len(),
                ReturnWhen::AllCompleted => done_count == tasks.len(),
            };
            if finished {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }
    let mut done = Vec::new();
    let mut pending = Vec::new();
    for (task, finished) in tasks.into_iter().zip(is_done) {
        if finished {
            done.push(task);
        } else {
            task.forget_join_waker(); // nobody waits through `wait` any more
            pending.push(task);
        }
    }
    (done, pending)
}
