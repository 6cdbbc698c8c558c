//! `EventLoop::stats` and `corio::stats`: the loop's counters add up to
//! what its turns reported, and wakes are told apart by thread.

use std::time::Duration;

use corio::{EventLoop, Stats};

#[test]
fn a_new_loop_has_done_nothing() {
    let lp = EventLoop::new().unwrap();
    assert_eq!(lp.stats(), Stats::default());
}

#[test]
fn the_counters_add_up_what_the_turns_reported() {
    let mut lp = EventLoop::new().unwrap();
    for i in 0..3 {
        lp.spawn(async move {
            corio::time::sleep(Duration::from_millis(i + 1)).await;
            corio::call_soon(|| {});
        })
        .detach();
    }
    let (mut turns, mut polls, mut callbacks, mut timers) = (0, 0, 0, 0);
    while lp.stats().callbacks_run < 3 {
        let turn = lp.run_once();
        turns += 1;
        polls += turn.tasks_polled as u64;
        callbacks += turn.callbacks_run as u64;
        timers += turn.timers_fired as u64;
    }
    let stats = lp.stats();
    assert_eq!(
        (
            stats.turns,
            stats.polls,
            stats.callbacks_run,
            stats.timers_fired
        ),
        (turns, polls, callbacks, timers)
    );
    assert_eq!(stats.polls, 6, "three tasks, two polls each");
    assert!(
        stats.timers_fired >= 2,
        "a 0 ms sleep may be due at once; the others fire"
    );
}

#[test]
fn wakes_from_other_threads_are_counted_apart() {
    let mut lp = EventLoop::new().unwrap();
    lp.run_until_complete(async {
        // A same-thread wake: a yield.
        corio::yield_now().await;
        // An other-thread wake: a job on the pool finishing.
        corio::spawn_blocking(|| std::thread::sleep(Duration::from_millis(5)))
            .await
            .unwrap();
    });
    let stats = lp.stats();
    assert!(stats.wakes >= 1, "{stats:?}");
    assert_eq!(stats.remote_wakes, 1, "{stats:?}");
}

#[test]
fn io_events_are_counted() {
    let stats = corio::run(async {
        let listener = corio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = corio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut byte = [0u8; 1];
            conn.read_exact(&mut byte).await.unwrap(); // parks until the byte's event
        });
        let mut client = corio::net::TcpStream::connect(addr).await.unwrap();
        corio::time::sleep(Duration::from_millis(20)).await;
        client.write_all(b"x").await.unwrap();
        server.await.unwrap();
        corio::stats()
    });
    assert!(stats.io_events >= 1, "{stats:?}");
}

#[test]
fn a_task_woken_by_its_own_timer_counts_as_a_wake() {
    let mut lp = EventLoop::new().unwrap();
    lp.run_until_complete(async {
        let sleeper = corio::spawn(async {
            for _ in 0..5 {
                corio::time::sleep(Duration::from_millis(1)).await;
            }
        });
        sleeper.await.unwrap();
    });
    let stats = lp.stats();
    assert_eq!(stats.timers_fired, 5, "{stats:?}");
    assert!(
        stats.wakes >= 5,
        "each fired timer woke the task: {stats:?}"
    );
}

#[test]
fn wakes_of_a_finished_task_are_not_counted_from_this_thread_or_another() {
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::task::{Poll, Waker};

    let mut lp = EventLoop::new().unwrap();
    let kept: Rc<RefCell<Option<Waker>>> = Rc::default();
    let k = Rc::clone(&kept);
    lp.run_until_complete(async move {
        // A task that keeps its waker and finishes at once.
        let keep = Rc::clone(&k);
        let task = corio::spawn(std::future::poll_fn(move |cx| {
            *keep.borrow_mut() = Some(cx.waker().clone());
            Poll::Ready(())
        }));
        task.await.unwrap();
        let waker = k.borrow_mut().take().unwrap();
        let before = corio::stats();
        for _ in 0..10 {
            waker.wake_by_ref();
        }
        assert_eq!(corio::stats().wakes, before.wakes);
        let remote = waker.clone();
        std::thread::spawn(move || remote.wake()).join().unwrap();
        corio::yield_now().await; // the loop takes the remote wake in
        assert_eq!(corio::stats().remote_wakes, before.remote_wakes);
    });
}

/// Yields `n` times from each of two tasks: a busy loop of `2 n` polls.
async fn busy(n: usize) {
    let tasks: Vec<_> = (0..2)
        .map(|_| {
            corio::spawn(async move {
                for _ in 0..n {
                    corio::yield_now().await;
                }
            })
        })
        .collect();
    corio::gather(tasks).await;
}

#[test]
fn a_busy_loop_with_no_socket_open_never_asks_the_os_for_io() {
    let mut lp = EventLoop::new().unwrap();
    lp.run_until_complete(busy(5_000));
    let stats = lp.stats();
    assert!(stats.polls > 10_000, "{stats:?}");
    assert_eq!(stats.io_polls, 0, "{stats:?}");
}

#[test]
fn a_busy_loop_with_a_socket_open_looks_at_io_every_61_polls_or_so() {
    let mut lp = EventLoop::new().unwrap();
    let listener = lp
        .run_until_complete(corio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let before = lp.stats().io_polls;
    lp.run_until_complete(busy(5_000));
    let looks = lp.stats().io_polls - before;
    // 10,000 polls: a look after 61 of them at the latest (a turn of up
    // to 3 entries may overshoot by 2) — sooner while polls are slow,
    // about once per millisecond of work, so there is no useful upper
    // bound.
    assert!(looks >= 10_000 / 64, "{looks} looks");
    drop(listener);
}

#[test]
fn a_loop_that_waits_asks_the_os_even_with_no_socket_open() {
    let mut lp = EventLoop::new().unwrap();
    // Stepped, so that the check is about a turn that did wait: on a slow
    // machine a short sleep may be due before the loop looks (then the
    // look does not wait, and asks nothing); another sleep is tried then.
    for _ in 0..20 {
        let sleeper = lp.spawn(async { corio::time::sleep(Duration::from_millis(20)).await });
        while !sleeper.is_done() {
            let before = lp.stats().io_polls;
            let turn = lp.run_once();
            if turn.slept > Duration::ZERO {
                assert!(lp.stats().io_polls > before, "{turn:?} {:?}", lp.stats());
                return;
            }
        }
    }
    panic!("no turn waited in 20 sleeps of 20 ms");
}
