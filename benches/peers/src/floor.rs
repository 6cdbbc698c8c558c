//! The safe floor: the smallest single-threaded executor we could write in
//! safe Rust that keeps the contract corio's tasks keep — measured beside
//! corio so that corio's figures split into what the contract costs and
//! what corio adds on top of it. It is a yardstick, not a runtime: no I/O,
//! and its `sleep` is a thread.
//!
//! What it keeps, as corio must (issue #2):
//!
//! - tasks in a slab, named by (index, generation): a stale waker never
//!   polls the task that reused its slot;
//! - wakers from `futures-task`'s `ArcWake`: `Send + Sync`, so they can be
//!   woken from any thread (another thread's wake goes through a mutex and
//!   unparks the loop); a waker finds its loop through a thread-local;
//! - a task is queued at most once however often it is woken;
//! - futures need not be `Send`, so each sits in its own `Box::pin` (safe
//!   code has no other way to pin a future that lives in a slab);
//! - the output reaches the join handle by value, kept in place in the
//!   future (corio's trick: `Park` below) rather than in a second box;
//! - a waker nobody else holds is reused for the next task (a pool).
//!
//! What it leaves out, which corio has: task names and ids, done
//! callbacks, cancellation, panic containment and reports, the reactor and
//! timers, the loop's clock and look interval, debug mode, stats, the I/O
//! budget, and the checks that make misuse a clear error.
#![forbid(unsafe_code)]

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::marker::PhantomData;
use std::pin::{Pin, pin};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use futures_task::{ArcWake, waker_ref};
use slab::Slab;

use crate::runtimes::Runtime;

/// A task's name in the slab: index and generation.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Key {
    index: u32,
    seq: u64,
}

const ROOT: u32 = u32::MAX;

/// What other threads share with the loop.
struct Shared {
    remote: Mutex<Vec<Arc<TaskWaker>>>,
    has_remote: AtomicBool,
    thread: std::thread::Thread,
}

/// The key as atomics: a pooled waker gets a new key while nobody else
/// holds it, but the type must be `Sync` all the same.
struct SyncKey {
    index: std::sync::atomic::AtomicU32,
    seq: std::sync::atomic::AtomicU64,
}

struct TaskWaker {
    shared: Arc<Shared>,
    key: SyncKey,
    /// On the ready queue. Only the loop's thread reads or writes it (a
    /// wake from elsewhere goes through `Shared::remote`), so the atomic is
    /// a plain load and store; it is a field of the waker, not of the slot,
    /// so that a wake never looks the task up.
    queued: AtomicBool,
}

impl TaskWaker {
    fn key(&self) -> Key {
        Key {
            index: self.key.index.load(Ordering::Relaxed),
            seq: self.key.seq.load(Ordering::Relaxed),
        }
    }
}

impl ArcWake for TaskWaker {
    fn wake_by_ref(this: &Arc<Self>) {
        let here = CURRENT.with(Cell::get);
        if std::ptr::eq(here, Arc::as_ptr(&this.shared)) {
            if this.queued.load(Ordering::Relaxed) {
                return;
            }
            let woke = READY.with(|ready| match ready.try_borrow_mut() {
                Ok(mut ready) => {
                    ready.push(this.key());
                    true
                }
                Err(_) => false,
            });
            if woke {
                this.queued.store(true, Ordering::Relaxed);
                return;
            }
        }
        let shared = &this.shared;
        shared.remote.lock().unwrap().push(Arc::clone(this));
        shared.has_remote.store(true, Ordering::Release);
        shared.thread.unpark();
    }
}

/// A task's future with its output type erased.
trait Erased {
    /// `Ready(None)` once the output is parked inside (a wrapped future),
    /// `Ready(Some(output))` for an unwrapped one.
    fn poll_task(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Box<dyn Any>>>;
    fn take_output(self: Pin<&mut Self>, out: &mut dyn Any);
}

thread_local! {
    static COMPLETED: Cell<bool> = const { Cell::new(false) };
    /// The loop running here (compared, never followed).
    static CURRENT: Cell<*const Shared> = const { Cell::new(std::ptr::null()) };
    static EXEC: RefCell<Exec> = const { RefCell::new(Exec::new()) };
    /// The tasks (and the root, as `ROOT`) to poll in the next batch.
    static READY: RefCell<Vec<Key>> = const { RefCell::new(Vec::new()) };
}

/// Parks a finished task with its output (see corio's `task/slot.rs`).
struct Park(bool);

impl Future for Park {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        COMPLETED.with(|c| c.set(true));
        Poll::Pending
    }
}

impl<F: Future> Erased for F
where
    F::Output: 'static,
{
    fn poll_task(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Box<dyn Any>>> {
        match self.poll(cx) {
            Poll::Pending if std::mem::size_of::<F::Output>() > 0 && COMPLETED.with(Cell::take) => {
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
            Poll::Ready(output) => Poll::Ready(Some(Box::new(output))),
        }
    }

    fn take_output(self: Pin<&mut Self>, out: &mut dyn Any) {
        let mut cx = Context::from_waker(Waker::noop());
        if let (Poll::Ready(output), Some(out)) =
            (self.poll(&mut cx), out.downcast_mut::<Option<F::Output>>())
        {
            *out = Some(output);
        }
    }
}

struct Slot {
    seq: u64,
    future: Option<Pin<Box<dyn Erased>>>,
    /// The output of an unwrapped future.
    output: Option<Box<dyn Any>>,
    waker: Option<Arc<TaskWaker>>,
    join: Option<Waker>,
    finished: bool,
    detached: bool,
}

struct Exec {
    tasks: Slab<Slot>,
    pool: Vec<Arc<TaskWaker>>,
    next_seq: u64,
}

impl Exec {
    const fn new() -> Exec {
        Exec {
            tasks: Slab::new(),
            pool: Vec::new(),
            next_seq: 0,
        }
    }
}

/// A waker nobody else holds goes back to the pool.
fn put(pool: &mut Vec<Arc<TaskWaker>>, waker: Arc<TaskWaker>) -> Option<Arc<TaskWaker>> {
    if Arc::strong_count(&waker) == 1 {
        std::sync::atomic::fence(Ordering::Acquire);
        pool.push(waker);
        None
    } else {
        Some(waker)
    }
}

/// Polls one task.
fn run(key: Key, shared: &Arc<Shared>) {
    let taken = EXEC.with(|exec| {
        let mut exec = exec.borrow_mut();
        let exec = &mut *exec;
        let slot = exec.tasks.get_mut(key.index as usize)?;
        if slot.seq != key.seq {
            return None;
        }
        let future = slot.future.take()?;
        let waker = match slot.waker.take() {
            Some(waker) => waker,
            None => match exec.pool.pop() {
                Some(waker) => {
                    waker.key.index.store(key.index, Ordering::Relaxed);
                    waker.key.seq.store(key.seq, Ordering::Relaxed);
                    waker
                }
                None => Arc::new(TaskWaker {
                    shared: Arc::clone(shared),
                    key: SyncKey {
                        index: key.index.into(),
                        seq: key.seq.into(),
                    },
                    queued: AtomicBool::new(false),
                }),
            },
        };
        Some((future, waker))
    });
    let Some((mut future, waker)) = taken else {
        return;
    };
    waker.queued.store(false, Ordering::Relaxed);
    let polled = {
        let waker = waker_ref(&waker);
        let mut cx = Context::from_waker(&waker);
        future.as_mut().poll_task(&mut cx)
    };
    let wake = EXEC.with(|exec| {
        let mut exec = exec.borrow_mut();
        let Exec { tasks, pool, .. } = &mut *exec;
        let slot = &mut tasks[key.index as usize];
        match polled {
            Poll::Pending => {
                slot.future = Some(future);
                slot.waker = if waker.queued.load(Ordering::Relaxed) {
                    Some(waker)
                } else {
                    put(pool, waker)
                };
                None
            }
            Poll::Ready(output) => {
                slot.finished = true;
                let kept = put(pool, waker);
                if slot.detached {
                    let slot = tasks.remove(key.index as usize);
                    Some((kept, None, Some(slot)))
                } else {
                    match output {
                        Some(output) => slot.output = Some(output),
                        None => slot.future = Some(future),
                    }
                    Some((kept, slot.join.take(), None))
                }
            }
        }
    });
    if let Some((kept, join, released)) = wake {
        drop((kept, released));
        if let Some(join) = join {
            join.wake();
        }
    }
}

fn spawn<F>(future: F) -> Handle<F::Output>
where
    F: Future + 'static,
    F::Output: 'static,
{
    // Wrapped to keep the output in place, as corio does: only small
    // futures with an output that is not zero-sized.
    let future: Pin<Box<dyn Erased>> =
        if std::mem::size_of::<F::Output>() > 0 && std::mem::size_of::<F>() <= 64 {
            Box::pin(async move {
                let output = future.await;
                Park(false).await;
                output
            })
        } else {
            Box::pin(future)
        };
    EXEC.with(|exec| {
        let mut exec = exec.borrow_mut();
        let exec = &mut *exec;
        let seq = exec.next_seq;
        exec.next_seq += 1;
        let entry = exec.tasks.vacant_entry();
        let key = Key {
            index: entry.key() as u32,
            seq,
        };
        entry.insert(Slot {
            seq,
            future: Some(future),
            output: None,
            waker: None,
            join: None,
            finished: false,
            detached: false,
        });
        READY.with(|ready| ready.borrow_mut().push(key));
        Handle {
            key,
            done: false,
            _output: PhantomData,
        }
    })
}

pub struct Handle<T> {
    key: Key,
    done: bool,
    _output: PhantomData<fn() -> T>,
}

impl<T: 'static> Future for Handle<T> {
    type Output = T;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let key = self.key;
        let taken = EXEC.with(|exec| {
            let mut exec = exec.borrow_mut();
            let slot = &mut exec.tasks[key.index as usize];
            if slot.finished {
                Ok(exec.tasks.remove(key.index as usize))
            } else {
                match &slot.join {
                    Some(old) if old.will_wake(cx.waker()) => Err(None),
                    _ => Err(slot.join.replace(cx.waker().clone())),
                }
            }
        });
        match taken {
            Ok(slot) => {
                self.done = true;
                let out = match (slot.output, slot.future) {
                    (Some(output), _) => output.downcast::<T>().ok().map(|output| *output),
                    (None, Some(mut future)) => {
                        let mut out: Option<T> = None;
                        future.as_mut().take_output(&mut out);
                        out
                    }
                    (None, None) => None,
                };
                Poll::Ready(out.expect("a finished task holds its output"))
            }
            Err(replaced) => {
                drop(replaced);
                Poll::Pending
            }
        }
    }
}

impl<T> Drop for Handle<T> {
    fn drop(&mut self) {
        if self.done {
            return;
        }
        let key = self.key;
        let released = EXEC.with(|exec| {
            let mut exec = exec.borrow_mut();
            let slot = exec.tasks.get_mut(key.index as usize)?;
            slot.detached = true;
            if slot.finished {
                Some(exec.tasks.remove(key.index as usize))
            } else {
                None
            }
        });
        drop(released);
    }
}

pub fn block_on<F: Future>(future: F) -> F::Output {
    let shared = Arc::new(Shared {
        remote: Mutex::new(Vec::new()),
        has_remote: AtomicBool::new(false),
        thread: std::thread::current(),
    });
    CURRENT.with(|c| c.set(Arc::as_ptr(&shared)));
    let root_waker = Arc::new(TaskWaker {
        shared: Arc::clone(&shared),
        key: SyncKey {
            index: ROOT.into(),
            seq: 0.into(),
        },
        queued: AtomicBool::new(false),
    });
    let mut root = pin!(future);
    let mut batch: Vec<Key> = Vec::new();
    futures_task::ArcWake::wake_by_ref(&root_waker);
    let output = 'turn: loop {
        if shared.has_remote.load(Ordering::Acquire) {
            shared.has_remote.store(false, Ordering::Relaxed);
            let remote = std::mem::take(&mut *shared.remote.lock().unwrap());
            for waker in remote {
                if !waker.queued.load(Ordering::Relaxed) {
                    waker.queued.store(true, Ordering::Relaxed);
                    READY.with(|ready| ready.borrow_mut().push(waker.key()));
                }
            }
        }
        READY.with(|ready| std::mem::swap(&mut *ready.borrow_mut(), &mut batch));
        if batch.is_empty() {
            std::thread::park_timeout(Duration::from_millis(10));
        }
        for key in batch.drain(..) {
            if key.index == ROOT {
                root_waker.queued.store(false, Ordering::Relaxed);
                let waker = waker_ref(&root_waker);
                if let Poll::Ready(output) = root.as_mut().poll(&mut Context::from_waker(&waker)) {
                    break 'turn output;
                }
            } else {
                run(key, &shared);
            }
        }
    };
    // Drop what is left (a detached task that never finished).
    let left = EXEC.with(|exec| {
        let mut exec = exec.borrow_mut();
        READY.with(|ready| ready.borrow_mut().clear());
        exec.pool.clear(); // they name this loop's `Shared`
        std::mem::take(&mut exec.tasks)
    });
    drop(left);
    CURRENT.with(|c| c.set(std::ptr::null()));
    output
}

/// The floor behind the benchmarks' runtime trait.
pub struct Floor;

impl Runtime for Floor {
    type Handle<T: 'static> = Handle<T>;

    fn block_on<F: Future>(future: F) -> F::Output {
        block_on(future)
    }

    fn spawn<F>(future: F) -> Handle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        spawn(future)
    }

    async fn join<T: 'static>(handle: Handle<T>) -> T {
        handle.await
    }

    fn detach<T: 'static>(handle: Handle<T>) {
        drop(handle);
    }

    /// A thread that sleeps, then wakes the task (the remote path).
    fn sleep(duration: Duration) -> impl Future<Output = ()> + 'static {
        let mut started: Option<Arc<AtomicBool>> = None;
        std::future::poll_fn(move |cx| {
            if let Some(done) = &started {
                return if done.load(Ordering::Acquire) {
                    Poll::Ready(())
                } else {
                    Poll::Pending
                };
            }
            let done = Arc::new(AtomicBool::new(false));
            started = Some(Arc::clone(&done));
            let waker = cx.waker().clone();
            std::thread::spawn(move || {
                std::thread::sleep(duration);
                done.store(true, Ordering::Release);
                waker.wake();
            });
            Poll::Pending
        })
    }
}
