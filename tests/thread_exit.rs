//! Loops and streams kept in thread-locals, dropped as their thread ends —
//! after corio's own thread-locals may be gone. A failure here aborts the
//! process (a panic in a thread-local's destructor), so these run in a
//! binary of their own.
use corio::EventLoop;

#[test]
fn an_event_loop_kept_in_a_thread_local_can_be_dropped_as_its_thread_ends() {
    thread_local! {
        static KEPT: std::cell::RefCell<Option<EventLoop>> = const { std::cell::RefCell::new(None) };
    }
    let thread = std::thread::spawn(|| {
        // KEPT's destructor is registered first ...
        KEPT.with(|kept| *kept.borrow_mut() = Some(EventLoop::new().unwrap()));
        // ... `context::CLOSING`'s (first used here) after it, so it runs
        // before KEPT's at thread exit.
        drop(EventLoop::new().unwrap());
    });
    assert!(thread.join().is_ok());
}

#[test]
fn an_as_completed_kept_in_a_thread_local_can_be_dropped_as_its_thread_ends() {
    thread_local! {
        static KEPT: std::cell::RefCell<Option<corio::AsCompleted<std::future::Ready<i32>>>> =
            const { std::cell::RefCell::new(None) };
    }
    let thread = std::thread::spawn(|| {
        KEPT.with(|kept| *kept.borrow_mut() = Some(corio::as_completed([std::future::ready(1)])));
        // `handoff::OPEN` is first used here.
        drop(corio::as_completed([std::future::ready(2)]));
    });
    assert!(thread.join().is_ok());
}
