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
