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

#[test]
fn running_a_loop_from_a_thread_locals_destructor_after_corios_are_gone_is_a_clear_error() {
    static SEEN: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);
    struct RunsOnDrop;
    impl Drop for RunsOnDrop {
        fn drop(&mut self) {
            let ran = std::panic::catch_unwind(|| corio::run(async { 7 }));
            let seen = match ran {
                Ok(n) => format!("ran: {n}"),
                Err(payload) => match payload.downcast_ref::<&str>() {
                    Some(text) => text.to_string(),
                    None => payload
                        .downcast_ref::<String>()
                        .cloned()
                        .unwrap_or_else(|| "a panic without a message".into()),
                },
            };
            *SEEN.lock().unwrap() = Some(seen);
        }
    }
    thread_local! {
        static FLUSH: std::cell::RefCell<Option<RunsOnDrop>> = const { std::cell::RefCell::new(None) };
    }
    let thread = std::thread::spawn(|| {
        // FLUSH's destructor is registered first; corio's CURRENT (first
        // used by this run) after it, so it is gone when FLUSH's runs.
        FLUSH.with(|flush| *flush.borrow_mut() = Some(RunsOnDrop));
        corio::run(async {});
    });
    assert!(thread.join().is_ok());
    let seen = SEEN.lock().unwrap().clone().unwrap();
    assert!(seen.contains("a thread that is ending"), "{seen}");
}
