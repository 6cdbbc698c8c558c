//! `TaskGroup`: structured concurrency (asyncio's `TaskGroup`).

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::fmt;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use slab::Slab;

use super::wake_set::WakeSet;
use crate::task::{Task, TaskError, TaskRef};

/// Why a [`TaskGroup`] failed: the first child failure.
///
/// # Examples
///
/// ```
/// use corio::{GroupError, TaskError};
///
/// let e: GroupError<&str> = GroupError::Failed("disk full");
/// assert_eq!(e.to_string(), "a task of the group failed: disk full");
/// assert!(GroupError::<&str>::Task(TaskError::Cancelled).to_string().contains("cancelled"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupError<E> {
    /// A child returned `Err(e)`.
    Failed(E),
    /// A child panicked, or was cancelled from outside the group.
    Task(TaskError),
}

impl<E: fmt::Display> fmt::Display for GroupError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupError::Failed(e) => write!(f, "a task of the group failed: {e}"),
            GroupError::Task(e) => write!(f, "a task of the group did not finish: {e}"),
        }
    }
}

impl<E: fmt::Debug + fmt::Display> std::error::Error for GroupError<E> {}

/// A group of tasks that finish together (asyncio's `TaskGroup`).
///
/// Children are spawned as tasks on the running loop and return
/// `Result<T, E>`. The first child to fail — return `Err`, panic, or be
/// cancelled from outside — cancels all the others as soon as it has
/// failed (at the loop's next turn, as asyncio does from a done callback),
/// whether or not anyone is joining yet. [`join`](TaskGroup::join) waits
/// for every child, and returns that first failure once each of the others
/// is gone. So when `join` returns, no child is left running. Dropping a
/// group without joining it (or dropping the `join` future) cancels the
/// children still running.
///
/// `join` returns only the first failure: a later child's panic is
/// reported as unretrieved, to the exception handler, and a later `Err`
/// is dropped. [`join_all`](TaskGroup::join_all) returns them all, in the
/// order they happened (asyncio's `ExceptionGroup`). (A panic in
/// the destructor of a child the group cancelled reaches the exception
/// handler too, as a `DestructorPanic`, as for any cancelled task: see
/// [`set_exception_handler`](crate::EventLoop::set_exception_handler).)
/// Unlike asyncio's, a child cancelled from outside the group counts as
/// a failure (asyncio ignores it): it cancels the others, and `join`
/// returns `GroupError::Task(TaskError::Cancelled)`. `join` takes
/// the group, so children cannot add to it while it is joined.
///
/// A failure cancels the children, not the code that spawned them:
/// asyncio also cancels the body of `async with TaskGroup()`, while here
/// the spawning task goes on until it awaits `join`. Work that should
/// stop on a failure too belongs in the group, as one more child — above
/// all work that waits on the children: a producer left in the spawning
/// task, feeding workers through a bounded queue, would wait in `put` for
/// ever once a failure had cancelled them (debug mode names such a wait:
/// "the main future waits on Queue.put"). See the second example; it also
/// stops its workers the way that does not count as a failure — by
/// shutting their queue down, not by cancelling them. Or race such work
/// against [`failed`](TaskGroup::failed), which completes at the first
/// failure.
///
/// A group kept open for a long time (a server's supervisor spawning a
/// child per connection) keeps what `join` must return — each child's
/// output, in spawn order — and little more: as new children come, it
/// takes the outputs of the ones that succeeded and lets their tasks go.
/// With `T = ()` that is a few bytes per child spawned so far.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use corio::{GroupError, TaskGroup, time::sleep};
///
/// corio::run(async {
///     let mut group = TaskGroup::new();
///     group.spawn(async { sleep(Duration::from_millis(5)).await; Ok(1) });
///     group.spawn(async { Err("no route to host") });
///     group.spawn(async { sleep(Duration::from_secs(60)).await; Ok(3) }); // cancelled
///     assert_eq!(group.join().await, Err(GroupError::Failed("no route to host")));
/// });
/// ```
///
/// asyncio's producer–consumer pipeline under a `TaskGroup`, the producer
/// a child too:
///
/// ```
/// use std::rc::Rc;
/// use corio::{GroupError, TaskGroup, sync::Queue};
///
/// async fn pipeline(bad_item: u32) -> Result<Vec<u32>, GroupError<String>> {
///     let queue = Rc::new(Queue::new(5));
///     let mut group = TaskGroup::new();
///     for worker in 0..3 {
///         let queue = Rc::clone(&queue);
///         group.spawn(async move {
///             let mut done = 0;
///             // `get` fails once the queue is shut down and empty.
///             while let Ok(item) = queue.get().await {
///                 if item == bad_item {
///                     return Err(format!("worker {worker} choked on {item}"));
///                 }
///                 done += 1;
///                 queue.task_done().unwrap();
///             }
///             Ok(done)
///         });
///     }
///     group.spawn(async move {
///         for item in 0..20 {
///             queue.put(item).await.map_err(|_| "queue shut down")?;
///         }
///         queue.join().await; // every item taken and done
///         queue.shutdown(false); // the workers' `get`s fail: they return
///         Ok(0)
///     });
///     group.join().await
/// }
///
/// let done = corio::run(pipeline(99)).unwrap();
/// assert_eq!(done.iter().sum::<u32>(), 20);
/// // The failure cancels the others, the producer waiting in `put` among them.
/// let failed = corio::run(pipeline(7));
/// assert!(matches!(failed, Err(GroupError::Failed(e)) if e.ends_with("choked on 7")));
/// ```
#[must_use = "dropping a TaskGroup cancels its children; join it"]
pub struct TaskGroup<T: 'static, E: 'static> {
    tasks: Vec<Option<Task<Result<T, E>>>>,
    /// Outputs of children that succeeded and were reaped before `join`
    /// (their handles and loop slots let go), by spawn index.
    outputs: Vec<Option<T>>,
    failures: Rc<Failures>,
}

/// What the children's done callbacks share: who failed first, and whom
/// to cancel and wake then.
#[derive(Default)]
struct Failures {
    first: Cell<Option<usize>>,
    /// Every child that failed, in the order their watchers saw it —
    /// not those the group cancelled itself.
    all: RefCell<Vec<usize>>,
    /// The children the group's own cancel ended, by spawn index (none
    /// before the first failure: a long-lived group keeps no per-child
    /// entry here).
    cancelled_by_group: RefCell<HashSet<usize>>,
    /// The children to cancel at the first failure, by spawn index.
    children: RefCell<Vec<(usize, TaskRef)>>,
    /// Children whose watcher saw `Ok(Ok(_))`, not reaped yet.
    succeeded: RefCell<Vec<usize>>,
    /// The wakers of pending [`GroupFailed`] futures, each under its key.
    waiting: RefCell<Slab<Waker>>,
}

impl Failures {
    /// Child `index` failed: the first one to do so cancels the others and
    /// wakes whoever awaits [`TaskGroup::failed`].
    fn failed(&self, index: usize, outcome_is_cancelled: bool) {
        if outcome_is_cancelled && self.cancelled_by_group.borrow().contains(&index) {
            return; // the group's own doing, not a failure
        }
        self.all.borrow_mut().push(index);
        if self.first.get().is_some() {
            return;
        }
        self.first.set(Some(index));
        // (A cancel only marks the child and queues it: its future is
        // dropped, and its watcher runs, on a later turn.)
        let children = std::mem::take(&mut *self.children.borrow_mut());
        let mut cancelled = self.cancelled_by_group.borrow_mut();
        for (child_index, child) in &children {
            if child.cancel() {
                cancelled.insert(*child_index);
            }
        }
        drop(cancelled);
        let waiting = std::mem::take(&mut *self.waiting.borrow_mut());
        for (_, waker) in waiting {
            waker.wake();
        }
    }
}

/// Completes when a child of its [`TaskGroup`] has failed: see
/// [`TaskGroup::failed`].
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let mut group = corio::TaskGroup::<(), &str>::new();
///     let failed = group.failed();
///     group.spawn(async { Err("boom") });
///     failed.await; // the child's failure
///     assert!(group.join().await.is_err());
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct GroupFailed {
    failures: Rc<Failures>,
    /// Its waker's key in `failures.waiting`, while it has one there.
    key: Option<usize>,
}

impl Future for GroupFailed {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = &mut *self;
        if this.failures.first.get().is_some() {
            this.key = None; // (the failure took every waker)
            return Poll::Ready(());
        }
        let waker = cx.waker().clone();
        // (The waker it replaces is dropped after the borrow: a foreign
        // waker's drop is code of its own.)
        let _replaced = {
            let mut waiting = this.failures.waiting.borrow_mut();
            match this.key.and_then(|key| waiting.get_mut(key)) {
                Some(kept) => Some(std::mem::replace(kept, waker)),
                None => {
                    this.key = Some(waiting.insert(waker));
                    None
                }
            }
        };
        Poll::Pending
    }
}

impl Drop for GroupFailed {
    fn drop(&mut self) {
        // Before the failure, the key is still this future's: nobody else
        // inserts under it while it is taken.
        if let Some(key) = self.key.take() {
            if self.failures.first.get().is_none() {
                let removed = self.failures.waiting.borrow_mut().try_remove(key);
                drop(removed); // after the borrow
            }
        }
    }
}

impl fmt::Debug for GroupFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GroupFailed")
            .field("failed", &self.failures.first.get().is_some())
            .finish()
    }
}

impl<T: 'static, E: 'static> TaskGroup<T, E> {
    /// An empty group.
    ///
    /// # Examples
    ///
    /// ```
    /// let group = corio::TaskGroup::<(), ()>::new();
    /// assert!(group.is_empty());
    /// ```
    pub fn new() -> TaskGroup<T, E> {
        TaskGroup {
            tasks: Vec::new(),
            outputs: Vec::new(),
            failures: Rc::default(),
        }
    }

    /// Spawns a child on the running loop. Once the group has failed, a
    /// new child is cancelled at once and never runs (asyncio's
    /// `create_task` raises `RuntimeError` then).
    ///
    /// # Panics
    ///
    /// Outside a running loop.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let mut group = corio::TaskGroup::<_, ()>::new();
    ///     let child = group.spawn(async { Ok(7) });
    ///     assert!(!child.is_done());
    ///     assert_eq!(group.join().await, Ok(vec![7]));
    /// });
    /// ```
    #[track_caller]
    pub fn spawn<F>(&mut self, future: F) -> TaskRef
    where
        F: Future<Output = Result<T, E>> + 'static,
    {
        self.reap();
        let task = crate::spawn(future);
        let task_ref = task.task_ref();
        let index = self.tasks.len();
        if self.failures.first.get().is_some() {
            // The group has failed already: it joins no one.
            task.cancel();
            self.failures.cancelled_by_group.borrow_mut().insert(index);
        } else {
            self.failures
                .children
                .borrow_mut()
                .push((index, task.task_ref()));
        }
        let failures = Rc::clone(&self.failures);
        task.add_watcher(move |outcome| match outcome {
            Ok(Ok(_)) => failures.succeeded.borrow_mut().push(index),
            Err(TaskError::Cancelled) => failures.failed(index, true),
            _ => failures.failed(index, false),
        });
        self.tasks.push(Some(task));
        self.outputs.push(None);
        task_ref
    }

    /// Takes the outputs of the children that succeeded, letting their
    /// handles go, once there are enough of them to pay for a pass over the
    /// children still listed for cancelling: a long-lived group (a server's
    /// connections) holds what it must return, not every finished task.
    fn reap(&mut self) {
        let due = {
            let succeeded = self.failures.succeeded.borrow();
            succeeded.len() >= 64.max(self.failures.children.borrow().len() / 2)
        };
        if !due {
            return;
        }
        let succeeded = std::mem::take(&mut *self.failures.succeeded.borrow_mut());
        let mut cx = Context::from_waker(std::task::Waker::noop());
        for index in succeeded {
            let Some(task) = self.tasks[index].as_mut() else {
                continue;
            };
            if task.poll_finished(&mut cx).is_pending() {
                // (Its watcher ran, but not all its callbacks yet.)
                task.forget_join_waker();
                self.failures.succeeded.borrow_mut().push(index);
                continue;
            }
            let Poll::Ready(Ok(Ok(output))) = Pin::new(task).poll(&mut cx) else {
                unreachable!("corio: its watcher saw this child succeed")
            };
            self.outputs[index] = Some(output);
            self.tasks[index] = None;
        }
        self.failures
            .children
            .borrow_mut()
            .retain(|(_, child)| !child.is_done());
    }

    /// How many children were spawned.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let mut group = corio::TaskGroup::<(), ()>::new();
    ///     group.spawn(async { Ok(()) });
    ///     assert_eq!(group.len(), 1);
    /// #   group.join().await.unwrap();
    /// });
    /// ```
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    /// Were no children spawned?
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(corio::TaskGroup::<(), ()>::new().is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// A future that completes once a child has failed (returned `Err`,
    /// panicked, or was cancelled from outside): what asyncio's
    /// `async with TaskGroup()` does to its body — cancel it — done by
    /// racing the body against it. It owns what it needs, so the group
    /// may still spawn and join meanwhile; if no child ever fails, it
    /// never completes. Dropping the group without joining it cancels the
    /// children, which counts as their failure.
    ///
    /// # Examples
    ///
    /// A producer in the spawning task stops when a worker fails, instead
    /// of waiting in `put` for ever:
    ///
    /// ```
    /// use std::rc::Rc;
    /// use corio::{Either, GroupError, TaskGroup, select, sync::Queue};
    ///
    /// corio::run(async {
    ///     let queue = Rc::new(Queue::new(1));
    ///     let mut group = TaskGroup::<(), String>::new();
    ///     let q = Rc::clone(&queue);
    ///     group.spawn(async move {
    ///         let item: u32 = q.get().await.unwrap();
    ///         Err(format!("choked on {item}"))
    ///     });
    ///     let feed = async {
    ///         for item in 0.. {
    ///             queue.put(item).await.unwrap(); // full for ever after item 1
    ///         }
    ///     };
    ///     let stopped = select(feed, group.failed()).await;
    ///     assert!(matches!(stopped, Either::Right(())));
    ///     assert_eq!(group.join().await, Err(GroupError::Failed("choked on 0".into())));
    /// });
    /// ```
    pub fn failed(&self) -> GroupFailed {
        GroupFailed {
            failures: Rc::clone(&self.failures),
            key: None,
        }
    }

    fn cancel_all(&self) {
        for task in self.tasks.iter().flatten() {
            task.cancel();
        }
    }

    /// Waits for every child. Returns their outputs in spawn order, or the
    /// first failure (the first to happen, not the first in spawn order:
    /// children are watched by done callbacks, which run in the order the
    /// children finished) — after the other children were cancelled and
    /// are gone.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let mut group = corio::TaskGroup::<_, String>::new();
    ///     for i in 0..3 {
    ///         group.spawn(async move { Ok(i * 10) });
    ///     }
    ///     assert_eq!(group.join().await, Ok(vec![0, 10, 20]));
    /// });
    /// ```
    pub async fn join(mut self) -> Result<Vec<T>, GroupError<E>> {
        let n = self.tasks.len();
        let (outputs, mut errors, panicked) = self.settle().await;
        // A child's done callbacks run before its handle has the outcome,
        // so the first failure to happen is known by now (else: the first
        // that `join` saw).
        let failed = |index: usize| errors[index].is_some() || panicked[index];
        let first = self
            .failures
            .first
            .get()
            .filter(|&index| failed(index))
            .or_else(|| (0..n).find(|&index| failed(index)));
        let Some(index) = first else {
            return Ok(outputs.into_iter().flatten().collect());
        };
        match errors[index].take() {
            Some(error) => Err(error),
            None => Err(self.take_panic(index).await),
        }
    }

    /// Like [`join`](Self::join), but gives every failure, in the order
    /// they happened — asyncio's `ExceptionGroup`. As there, a child the
    /// group cancelled because another failed is not a failure; one
    /// cancelled from outside is. The panics are taken too, so none is
    /// reported as unretrieved.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use corio::{GroupError, TaskGroup, time::sleep};
    ///
    /// corio::run(async {
    ///     let mut group = TaskGroup::<u32, String>::new();
    ///     group.spawn(async { Err("first".to_string()) });
    ///     group.spawn(async { Err("second, in the same turn".to_string()) });
    ///     group.spawn(async { sleep(Duration::from_secs(60)).await; Ok(3) }); // cancelled: no failure
    ///     let errors = group.join_all().await.unwrap_err();
    ///     assert_eq!(
    ///         errors,
    ///         [GroupError::Failed("first".into()), GroupError::Failed("second, in the same turn".into())]
    ///     );
    /// });
    /// ```
    pub async fn join_all(mut self) -> Result<Vec<T>, Vec<GroupError<E>>> {
        let (outputs, mut errors, panicked) = self.settle().await;
        // (A child's watcher runs before its handle has the outcome: by now
        // every failure is listed, in the order it happened.)
        let order = std::mem::take(&mut *self.failures.all.borrow_mut());
        if order.is_empty() {
            return Ok(outputs.into_iter().flatten().collect());
        }
        let mut all = Vec::with_capacity(order.len());
        for index in order {
            if let Some(error) = errors[index].take() {
                all.push(error);
            } else if panicked[index] {
                all.push(self.take_panic(index).await);
            }
        }
        Err(all)
    }

    /// The panic of child `index`, which `settle` left in its handle.
    async fn take_panic(&mut self, index: usize) -> GroupError<E> {
        let Some(task) = self.tasks[index].take() else {
            unreachable!("corio: a panicked child keeps its handle until here")
        };
        match task.await {
            Err(e) => GroupError::Task(e),
            Ok(_) => unreachable!("corio: a child that panicked has no output"),
        }
    }

    /// Waits for every child: the outputs and the failures (a panic stays
    /// in its handle, flagged in the third list), by spawn index.
    #[allow(clippy::type_complexity)]
    async fn settle(&mut self) -> (Vec<Option<T>>, Vec<Option<GroupError<E>>>, Vec<bool>) {
        let n = self.tasks.len();
        let wake = WakeSet::new(n);
        let mut outputs: Vec<Option<T>> = std::mem::take(&mut self.outputs);
        let mut errors: Vec<Option<GroupError<E>>> = (0..n).map(|_| None).collect();
        // A child that panicked keeps its outcome in its handle until the
        // end: only the failures `join` or `join_all` return are taken;
        // the handles of any other panics are dropped with the group, which
        // reports them as panics nobody saw — also when this future is
        // dropped mid-way.
        let mut panicked = vec![false; n];
        let mut remaining = self.tasks.iter().flatten().count();
        let mut woken = Vec::new();
        std::future::poll_fn(|cx| {
            wake.take_woken(cx.waker(), &mut woken);
            for &index in &woken {
                let Some(task) = self.tasks[index].as_mut() else {
                    continue;
                };
                if panicked[index] {
                    continue;
                }
                let waker = wake.waker(index);
                let mut child_cx = Context::from_waker(&waker);
                if task.poll_finished(&mut child_cx).is_pending() {
                    continue;
                }
                remaining -= 1;
                if task.has_panicked() {
                    panicked[index] = true;
                    continue;
                }
                let Poll::Ready(outcome) = Pin::new(task).poll(&mut child_cx) else {
                    unreachable!("corio: a finished task gives its outcome at once")
                };
                self.tasks[index] = None;
                let error = match outcome {
                    Ok(Ok(output)) => {
                        outputs[index] = Some(output);
                        continue;
                    }
                    Ok(Err(e)) => GroupError::Failed(e),
                    Err(e) => GroupError::Task(e),
                };
                // (The child's watcher, which ran before its handle got
                // the outcome, has cancelled the others already.)
                errors[index] = Some(error);
            }
            if remaining == 0 {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
        (outputs, errors, panicked)
    }
}

impl<T: 'static, E: 'static> Default for TaskGroup<T, E> {
    fn default() -> Self {
        TaskGroup::new()
    }
}

impl<T: 'static, E: 'static> Drop for TaskGroup<T, E> {
    fn drop(&mut self) {
        self.cancel_all();
    }
}

impl<T: 'static, E: 'static> fmt::Debug for TaskGroup<T, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let running = self.tasks.iter().flatten().count();
        f.debug_struct("TaskGroup")
            .field("children", &self.tasks.len())
            .field("running", &running)
            .finish()
    }
}
