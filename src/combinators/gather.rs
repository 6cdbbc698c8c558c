//! `gather` and `as_completed`: many futures polled in place.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use super::wake_set::WakeSet;
use crate::task::handoff::{self, HandOff, Unhanded};

/// Futures polled in place, each with its own waker.
struct Children<F: Future> {
    futures: Vec<Option<Pin<Box<F>>>>,
    wake: WakeSet,
    remaining: usize,
    woken: Vec<usize>,
    /// Per child, the task panics it was given so far (`handoff.rs`), for
    /// a combinator that may be dropped holding outputs it took.
    handoffs: Vec<Vec<Arc<HandOff>>>,
    /// The indices of finished children, for [`push`](Self::push) to
    /// reuse — kept only once something was pushed (`gather` never
    /// pushes, and needs no list as long as its input).
    free: Option<Vec<usize>>,
}

impl<F: Future> Children<F> {
    fn new(futures: impl IntoIterator<Item = F>) -> Children<F> {
        let futures: Vec<_> = futures.into_iter().map(|f| Some(Box::pin(f))).collect();
        let n = futures.len();
        Children {
            futures,
            wake: WakeSet::new(n),
            remaining: n,
            woken: Vec::new(),
            handoffs: (0..n).map(|_| Vec::new()).collect(),
            free: None,
        }
    }

    /// Adds a child, to be polled at the next `poll_woken`. It takes the
    /// place of a finished one if there is one, so that a long-lived
    /// set (a server's) keeps as many places as it ever had children at
    /// once. (A late wake through a clone of the finished child's waker
    /// polls the new one spuriously: harmless.)
    fn push(&mut self, future: F) {
        let free = self.free.get_or_insert_with(|| {
            let finished = self.futures.iter().enumerate();
            finished
                .filter(|(_, f)| f.is_none())
                .map(|(i, _)| i)
                .collect()
        });
        let future = Some(Box::pin(future));
        match free.pop() {
            Some(index) => {
                self.futures[index] = future;
                self.wake.rewake(index);
            }
            None => {
                self.futures.push(future);
                self.wake.push();
                self.handoffs.push(Vec::new());
            }
        }
        self.remaining += 1;
    }

    /// Notes that child `index` finished (its place may be reused).
    fn finished(&mut self, index: usize) {
        self.remaining -= 1;
        if let Some(free) = &mut self.free {
            free.push(index);
        }
    }

    /// Polls the children that were woken; hands each finished one's index
    /// and output to `done`, in the order they were polled — with the
    /// hand-offs of the panics it was given.
    fn poll_woken(
        &mut self,
        cx: &mut Context<'_>,
        mut done: impl FnMut(usize, F::Output, Vec<Arc<HandOff>>),
    ) {
        self.wake.take_woken(cx.waker(), &mut self.woken);
        for position in 0..self.woken.len() {
            let index = self.woken[position];
            let Some(future) = self.futures[index].as_mut() else {
                continue;
            };
            let waker = self.wake.waker(index);
            let mut child_cx = Context::from_waker(&waker);
            let given = &mut self.handoffs[index];
            let polled = catch_unwind(AssertUnwindSafe(|| {
                let (polled, taken) = handoff::watch(|| future.as_mut().poll(&mut child_cx));
                given.extend(taken);
                polled
            }));
            let polled = match polled {
                Ok(polled) => polled,
                Err(payload) => {
                    // The panic goes on to the caller; one that catches it
                    // (a stream held across it) finds the panicked child
                    // gone and the children woken after it still woken.
                    // (Taken out and counted before its destructor runs,
                    // which may panic too: then the poll's panic goes on.)
                    // The task panics it was given go down with it (never
                    // reported: it did not finish), not to a future pushed
                    // into its place.
                    let dead = self.futures[index].take();
                    let given = std::mem::take(&mut self.handoffs[index]);
                    self.finished(index);
                    self.wake_after(position);
                    drop(catch_unwind(AssertUnwindSafe(move || drop((dead, given)))));
                    std::panic::resume_unwind(payload);
                }
            };
            if let Poll::Ready(output) = polled {
                // Counted and its output handed to `done` before the
                // finished future is dropped: a destructor that panics
                // goes on to the caller like a panicking poll, and one
                // that catches it loses neither the output nor a wake.
                let finished = self.futures[index].take();
                self.finished(index);
                let given = std::mem::take(&mut self.handoffs[index]);
                done(index, output, given);
                if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(finished))) {
                    self.wake_after(position);
                    std::panic::resume_unwind(payload);
                }
            }
        }
    }

    /// Wakes the children after `position` on the list being polled: a
    /// panic stopped the pass before it reached them.
    fn wake_after(&self, position: usize) {
        for &later in &self.woken[position + 1..] {
            self.wake.waker(later).wake_by_ref();
        }
    }
}

/// Runs futures concurrently and returns their outputs in input order
/// (asyncio's `gather`, gevent's `joinall`).
///
/// The futures are polled in place, inside the task that awaits `gather`;
/// pass [`Task`](crate::Task)s to have them run as tasks of their own (then
/// the outputs are `Result<T, TaskError>`). Only the futures that were woken
/// are polled again.
///
/// Dropped before it returns (a timeout, a `select`), it drops the outputs
/// it has taken so far — a task's panic inside them, seen by nobody, is
/// reported as unretrieved — and the futures it still holds: for tasks,
/// dropping a handle detaches the task, which runs on (unlike asyncio's
/// `wait_for(gather(..))`, which cancels them); pass
/// [`cancel_on_drop`](crate::Task::cancel_on_drop) handles for that.
/// Given `&mut Task`s (`tasks.iter_mut()`), the handles stay yours, but
/// the outcomes of the tasks that finished were taken and go with the
/// `gather`: gevent's `joinall(timeout=..)`, which keeps each finished
/// greenlet's value, is a loop that awaits each `&mut task` under
/// [`timeout_at`](crate::time::timeout_at) one deadline.
///
/// Given tasks, a panic is contained in its task's `Err(TaskError)`
/// (asyncio's `return_exceptions=True`). A plain future that panics is
/// not contained: the panic goes through `gather` to the task awaiting
/// it, and the other futures are dropped — while that panic unwinds, so
/// a destructor among them that panics too aborts the process (Rust's
/// rule for a panic during a panic; tasks, whose futures the loop drops,
/// do not have this problem).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use corio::time::sleep;
///
/// corio::run(async {
///     let slow_first = [30u64, 10, 20].map(|ms| async move {
///         sleep(Duration::from_millis(ms)).await;
///         ms
///     });
///     assert_eq!(corio::gather(slow_first).await, [30, 10, 20]);
/// });
/// ```
#[doc(alias = "joinall")]
#[doc(alias = "join_all")]
pub async fn gather<I>(futures: I) -> Vec<<I::Item as Future>::Output>
where
    I: IntoIterator,
    I::Item: Future,
{
    let mut children = Children::new(futures);
    // Dropped before the end (a timeout, a `select`), the outputs taken so
    // far report the task panics inside them as unretrieved.
    let mut taken = Unhanded::new(children.futures.iter().map(|_| None).collect::<Vec<_>>());
    std::future::poll_fn(|cx| {
        children.poll_woken(cx, |index, output, given| {
            taken.outputs[index] = Some(output);
            taken.took(given);
        });
        if children.remaining == 0 {
            taken.handed_out_all();
            Poll::Ready(
                std::mem::take(&mut taken.outputs)
                    .into_iter()
                    .flatten()
                    .collect(),
            )
        } else {
            Poll::Pending
        }
    })
    .await
}

/// Yields the outputs of futures in the order they complete (asyncio's
/// `as_completed`).
///
/// The futures are polled in place by whoever awaits
/// [`next`](AsCompleted::next); pass [`Task`](crate::Task)s to run them as
/// tasks. `AsCompleted` is also a [`Stream`](futures_core::Stream).
///
/// "The order they complete" is the order in which `as_completed` sees
/// them complete, and it first looks at the first `next()`: tasks that had
/// already finished by then come out in input order (asyncio's come out
/// in the order of a set it builds from the input: no order to rely on).
///
/// A `next()` with no output kept polls every child that was woken and
/// keeps the outputs that are not handed out yet; one with outputs kept
/// returns the first of them and polls nothing. Dropping the stream drops those outputs
/// too; a task's panic inside them — one a child took from its task and
/// finished with, unseen — is then reported as unretrieved (to the loop's
/// exception handler, or on stderr with no loop running or closing), as it
/// would be for a task whose handle was dropped unawaited. A panic that
/// `next()` returned counts as retrieved; so does one a child kept only
/// elsewhere.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use corio::time::sleep;
///
/// corio::run(async {
///     let mut done = corio::as_completed([30u64, 10, 20].map(|ms| async move {
///         sleep(Duration::from_millis(ms)).await;
///         ms
///     }));
///     let mut order = Vec::new();
///     while let Some(ms) = done.next().await {
///         order.push(ms);
///     }
///     assert_eq!(order, [10, 20, 30]);
/// });
/// ```
pub fn as_completed<I>(futures: I) -> AsCompleted<I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    AsCompleted {
        children: Children::new(futures),
        finished: Unhanded::new(VecDeque::new()),
    }
}

/// The stream returned by [`as_completed`].
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let mut done = corio::as_completed([1, 2].map(|i| async move { i }));
///     assert_eq!(done.len(), 2);
///     assert_eq!(done.next().await, Some(1));
///     assert_eq!(done.len(), 1);
/// });
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct AsCompleted<F: Future> {
    children: Children<F>,
    /// Outputs not handed out yet (dropped with the stream, the task
    /// panics inside them are reported: `task/handoff.rs`).
    finished: Unhanded<VecDeque<F::Output>>,
}

impl<F: Future> AsCompleted<F> {
    /// The next output to complete, or `None` once all were returned.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let mut done = corio::as_completed(Vec::<std::future::Ready<()>>::new());
    ///     assert_eq!(done.next().await, None);
    /// });
    /// ```
    pub async fn next(&mut self) -> Option<F::Output> {
        std::future::poll_fn(|cx| self.poll_next_output(cx)).await
    }

    /// Adds a future: its output comes out of [`next`](Self::next) like
    /// the others' — also after `next` returned `None` (then all earlier
    /// ones were out). With tasks, this is tokio's `JoinSet` (`spawn` +
    /// `join_next`) and `FuturesUnordered::push`: a server or a crawler
    /// collects results as they finish while it starts more work. A
    /// finished future's place is reused, so a long-lived stream holds as
    /// many places as it ever had futures running at once.
    ///
    /// Dropping the stream drops the futures left: [`Task`](crate::Task)s
    /// are detached then, and go on running; push
    /// [`task.cancel_on_drop()`](crate::Task::cancel_on_drop) to have them
    /// cancelled instead, as a `JoinSet` aborts its tasks.
    ///
    /// # Examples
    ///
    /// Results as they come, while more work starts:
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// corio::run(async {
    ///     let fetch = |ms: u64| corio::spawn(async move {
    ///         corio::time::sleep(Duration::from_millis(ms)).await;
    ///         ms
    ///     });
    ///     let mut running = corio::as_completed(vec![fetch(20)]);
    ///     running.push(fetch(5));
    ///     let mut order = Vec::new();
    ///     while let Some(done) = running.next().await {
    ///         let ms = done.unwrap();
    ///         order.push(ms);
    ///         if ms == 5 {
    ///             running.push(fetch(1)); // found more work
    ///         }
    ///     }
    ///     assert_eq!(order, [5, 1, 20]);
    /// });
    /// ```
    pub fn push(&mut self, future: F) {
        self.children.push(future);
    }

    /// How many outputs are still to come.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let done = corio::as_completed([async { 1 }]);
    ///     assert_eq!(done.len(), 1);
    /// });
    /// ```
    pub fn len(&self) -> usize {
        self.children.remaining + self.finished.outputs.len()
    }

    /// Have all outputs been returned?
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let mut done = corio::as_completed([async { 1 }]);
    ///     assert!(!done.is_empty());
    ///     done.next().await;
    ///     assert!(done.is_empty());
    /// });
    /// ```
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn poll_next_output(&mut self, cx: &mut Context<'_>) -> Poll<Option<F::Output>> {
        if self.finished.outputs.is_empty() && self.children.remaining > 0 {
            let finished = &mut self.finished;
            self.children.poll_woken(cx, |_, output, given| {
                finished.outputs.push_back(output);
                finished.took(given);
            });
        }
        match self.finished.outputs.pop_front() {
            Some(output) => {
                self.finished.handed_out_first();
                Poll::Ready(Some(output))
            }
            None if self.children.remaining == 0 => Poll::Ready(None),
            None => Poll::Pending,
        }
    }
}

// The futures are boxed and outputs are never pinned: moving is fine.
impl<F: Future> Unpin for AsCompleted<F> {}

impl<F: Future> futures_core::Stream for AsCompleted<F> {
    type Item = F::Output;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<F::Output>> {
        self.get_mut().poll_next_output(cx)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.len(), Some(self.len()))
    }
}

impl<F: Future> std::fmt::Debug for AsCompleted<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsCompleted")
            .field("remaining", &self.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::future::{Ready, ready};

    #[test]
    fn a_pushed_future_takes_the_place_of_a_finished_one() {
        crate::run(async {
            let mut running = crate::as_completed(vec![ready(0)]);
            assert_eq!(running.next().await, Some(0));
            for i in 1..100 {
                running.push(ready(i));
                assert_eq!(running.next().await, Some(i));
            }
            assert_eq!(running.children.futures.len(), 1, "one place, reused");
            running.push(ready(1));
            running.push(ready(2));
            assert_eq!(running.children.futures.len(), 2);
            assert_eq!(running.children.wake.len(), 2);
        });
    }

    #[test]
    fn a_child_that_panics_leaves_its_task_panics_to_no_future_pushed_in_its_place() {
        use std::future::Future;
        use std::panic::{AssertUnwindSafe, catch_unwind};
        use std::pin::Pin;
        use std::task::Poll;
        type Boxed = Pin<Box<dyn Future<Output = ()>>>;
        crate::run(async {
            let bad = crate::spawn(async { panic!("expected: a task panics") });
            crate::yield_now().await;
            let child: Boxed = Box::pin(async move {
                let _held = bad.await; // the task's panic, given to this child
                crate::yield_now().await;
                panic!("expected: the child panics holding it");
            });
            let mut running = crate::as_completed(vec![child]);
            let mut polls = 0;
            std::future::poll_fn(|cx| {
                polls += 1;
                let mut next = std::pin::pin!(running.next());
                if polls == 1 {
                    assert!(next.as_mut().poll(cx).is_pending());
                    return Poll::Pending; // the child woke itself
                }
                let polled = catch_unwind(AssertUnwindSafe(|| next.as_mut().poll(cx)));
                assert!(polled.is_err(), "the child's panic goes on");
                Poll::Ready(())
            })
            .await;
            assert!(
                running.children.handoffs[0].is_empty(),
                "gone with the child"
            );
            running.push(Box::pin(async {}));
            assert_eq!(running.children.futures.len(), 1, "its place reused");
            assert_eq!(running.next().await, Some(()));
        });
    }

    #[test]
    fn pushing_keeps_one_handoff_list_per_child() {
        crate::run(async {
            let mut running = crate::as_completed(Vec::<Ready<u32>>::new());
            running.push(ready(1));
            running.push(ready(2));
            assert_eq!(running.children.handoffs.len(), 2);
            assert_eq!(running.next().await, Some(1));
            assert_eq!(running.next().await, Some(2));
        });
    }
}
