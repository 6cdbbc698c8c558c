//! A loop's resources come back when it is dropped: file descriptors, and
//! the loop itself, whatever still refers to it.
//!
//! Its own test binary, with one test that runs its parts in sequence: it
//! counts this process's open file descriptors, which anything running
//! beside it would disturb.

use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn dropping_a_loop_returns_its_file_descriptors() {
    a_dropped_loop_closes_its_epoll_and_eventfd();
    a_wake_after_the_loop_was_dropped_does_not_keep_it_alive();
    an_exception_handler_holding_a_task_ref_does_not_keep_the_loop_alive();
    a_done_callback_holding_handles_does_not_keep_the_loop_alive();
    handles_that_outlive_their_loop_do_not_keep_its_file_descriptors();
}

fn handles_that_outlive_their_loop_do_not_keep_its_file_descriptors() {
    let before = open_fds();
    let handles: Vec<_> = (0..10)
        .map(|_| corio::EventLoop::new().unwrap().handle())
        .collect();
    assert_eq!(open_fds(), before, "LoopHandles of dropped loops");
    assert!(handles.iter().all(|h| h.is_closed()));
    assert!(!handles[0].call_soon_threadsafe(|| ()));
    handles[0].stop(); // does nothing, and does not fail
    let tasks: Vec<_> = (0..10)
        .map(|_| corio::EventLoop::new().unwrap().spawn(async {}))
        .collect();
    assert_eq!(open_fds(), before, "Task handles of dropped loops");
    let callbacks: Vec<_> = (0..10)
        .map(|_| corio::EventLoop::new().unwrap().call_soon(|| ()))
        .collect();
    assert_eq!(open_fds(), before, "callback handles of dropped loops");
    // A socket that outlives its loop closes its own fd when dropped.
    let mut lp = corio::EventLoop::new().unwrap();
    let listener = lp
        .run_until_complete(corio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    drop(lp);
    assert_eq!(open_fds(), before + 1, "only the listener's own fd");
    drop(listener);
    assert_eq!(open_fds(), before);
    drop((handles, tasks, callbacks));
}

fn a_dropped_loop_closes_its_epoll_and_eventfd() {
    let before = open_fds();
    for _ in 0..20 {
        let mut lp = corio::EventLoop::new().unwrap();
        let task =
            lp.spawn(async { corio::time::sleep(std::time::Duration::from_millis(1)).await });
        lp.run_until_complete(task).unwrap();
    }
    assert_eq!(open_fds(), before);
}

fn a_wake_after_the_loop_was_dropped_does_not_keep_it_alive() {
    let before = open_fds();
    for _ in 0..20 {
        let mut lp = corio::EventLoop::new().unwrap();
        let kept: Arc<Mutex<Option<Waker>>> = Arc::default();
        let k = kept.clone();
        drop(lp.spawn(std::future::poll_fn(move |cx| {
            *k.lock().unwrap() = Some(cx.waker().clone());
            Poll::<()>::Pending
        })));
        lp.run_once();
        drop(lp);
        // A channel's sender, say, wakes its receiver after the loop is gone.
        let waker = kept.lock().unwrap().take().unwrap();
        waker.wake();
    }
    assert_eq!(open_fds(), before);
}

fn an_exception_handler_holding_a_task_ref_does_not_keep_the_loop_alive() {
    let before = open_fds();
    for _ in 0..20 {
        let lp = corio::EventLoop::new().unwrap();
        let task = lp.spawn(async {});
        let task_ref = task.task_ref();
        drop(task);
        lp.set_exception_handler(move |_| {
            let _ = &task_ref;
        });
        drop(lp);
    }
    assert_eq!(open_fds(), before);
}

fn a_done_callback_holding_handles_does_not_keep_the_loop_alive() {
    let before = open_fds();
    for _ in 0..20 {
        let lp = corio::EventLoop::new().unwrap();
        let watched = lp.spawn(std::future::pending::<()>());
        let guard = lp.spawn(std::future::pending::<()>()).cancel_on_drop();
        let plain = lp.spawn(std::future::pending::<()>());
        // Dropping the loop drops this callback unrun, and with it handles
        // whose destructors call back into the loop.
        watched.add_done_callback(move |_| drop((guard, plain)));
        drop(lp);
        drop(watched);
    }
    assert_eq!(open_fds(), before);
}
