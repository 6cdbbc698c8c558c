//! `shutdown(true)` and dropping a pool join every thread before they
//! return — also after a job shut its own pool down, and when two callers
//! shut it down at once. Its own test binary: it sleeps in thread-exit
//! destructors, and counts on nothing else running beside it.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use corio::pool::ThreadPool;

/// Sets its flag when its thread exits, a while after the thread's last
/// job: a pool that returns before joining the thread returns before it.
struct OnExit(Arc<AtomicBool>);

impl Drop for OnExit {
    fn drop(&mut self) {
        std::thread::sleep(Duration::from_millis(300));
        self.0.store(true, Ordering::SeqCst);
    }
}

thread_local! {
    static EXIT: RefCell<Option<OnExit>> = const { RefCell::new(None) };
}

fn on_exit(flag: &Arc<AtomicBool>) {
    let flag = Arc::clone(flag);
    EXIT.with(|exit| *exit.borrow_mut() = Some(OnExit(flag)));
}

#[test]
fn dropping_a_pool_whose_job_shut_it_down_joins_the_thread() {
    let exited = Arc::new(AtomicBool::new(false));
    let pool = Arc::new(ThreadPool::new(1));
    let (p, flag) = (Arc::clone(&pool), Arc::clone(&exited));
    pool.submit(move || {
        on_exit(&flag);
        p.shutdown(true);
    })
    .unwrap()
    .wait()
    .unwrap();
    drop(pool); // the last reference: joins every thread
    assert!(
        exited.load(Ordering::SeqCst),
        "returned before the thread was joined"
    );
}

#[test]
fn a_second_shutdown_at_the_same_time_waits_for_the_join_too() {
    let exited = Arc::new(AtomicBool::new(false));
    let pool = Arc::new(ThreadPool::new(1));
    let flag = Arc::clone(&exited);
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let _job = pool.submit(move || {
        on_exit(&flag);
        rx.recv().ok();
    });
    std::thread::sleep(Duration::from_millis(50));
    let p = Arc::clone(&pool);
    let first = std::thread::spawn(move || p.shutdown(true)); // takes the handles
    std::thread::sleep(Duration::from_millis(50));
    tx.send(()).unwrap();
    pool.shutdown(true);
    let joined = exited.load(Ordering::SeqCst);
    first.join().unwrap();
    assert!(
        joined,
        "the second shutdown(true) returned before the thread was joined"
    );
}

thread_local! {
    static KEEP: RefCell<Option<Arc<ThreadPool>>> = const { RefCell::new(None) };
}

#[test]
fn the_last_handle_on_a_pool_dropped_by_its_own_thread_at_exit_does_not_abort() {
    // A pool thread keeps the last `Arc` of its pool in a thread-local:
    // the pool is dropped (and shut down) by that thread as it exits, and
    // must not try to join itself.
    let pool = keep_alive_pool();
    let p = Arc::clone(&pool);
    pool.submit(move || KEEP.with(|k| *k.borrow_mut() = Some(p)))
        .unwrap()
        .wait()
        .unwrap();
    drop(pool);
    std::thread::sleep(Duration::from_millis(300)); // it leaves, and drops the pool
}

#[test]
fn a_thread_leaving_by_keep_alive_may_submit_to_its_pool_from_a_destructor() {
    // Its thread-local destructor submits to the pool it leaves: the
    // submit must neither join that thread (itself) nor wait for it.
    let pool = keep_alive_pool();
    let p = Arc::clone(&pool);
    pool.submit(move || {
        let p = Arc::clone(&p);
        LATE.with(|late| *late.borrow_mut() = Some(SubmitOnExit(p)));
    })
    .unwrap()
    .wait()
    .unwrap();
    std::thread::sleep(Duration::from_millis(300));
}

/// Submits a job to its pool when its thread exits.
struct SubmitOnExit(Arc<ThreadPool>);

impl Drop for SubmitOnExit {
    fn drop(&mut self) {
        let _ = self.0.submit(|| ());
    }
}

thread_local! {
    static LATE: RefCell<Option<SubmitOnExit>> = const { RefCell::new(None) };
}

#[test]
fn submit_does_not_wait_for_the_destructors_of_a_thread_that_left() {
    use std::sync::Mutex;
    let pool = keep_alive_pool();
    let lock = Arc::new(Mutex::new(()));
    let l = Arc::clone(&lock);
    // The thread's exit waits for a lock the submitter below holds.
    pool.submit(move || {
        let l = Arc::clone(&l);
        LOCK_ON_EXIT.with(|slot| *slot.borrow_mut() = Some(LockOnExit(l)));
    })
    .unwrap()
    .wait()
    .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let p = Arc::clone(&pool);
    std::thread::spawn(move || {
        let _held = lock.lock().unwrap();
        while p.threads() > 0 {
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(20));
        let _ = p.submit(|| ());
        tx.send(()).unwrap();
    });
    assert!(
        rx.recv_timeout(Duration::from_secs(5)).is_ok(),
        "submit waited for a thread that left by keep-alive"
    );
}

/// Takes a lock when its thread exits.
struct LockOnExit(Arc<std::sync::Mutex<()>>);

impl Drop for LockOnExit {
    fn drop(&mut self) {
        drop(self.0.lock());
    }
}

thread_local! {
    static LOCK_ON_EXIT: RefCell<Option<LockOnExit>> = const { RefCell::new(None) };
}

/// A pool of one thread that leaves after 10 ms without work.
fn keep_alive_pool() -> Arc<ThreadPool> {
    Arc::new(
        ThreadPool::builder()
            .core_threads(0)
            .max_threads(1)
            .queue_capacity(0)
            .keep_alive(Duration::from_millis(10))
            .build(),
    )
}
