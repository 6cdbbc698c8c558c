//! Debug mode's stall report, in its own test binary: its tests wait for
//! grace periods and other threads.

mod common;

use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::rc::Rc;
use std::time::{Duration, Instant};

use corio::sync::{Event, Queue};
use corio::{EventLoop, Report, ReportKind};

fn debug_loop() -> (EventLoop, Rc<RefCell<Vec<Report>>>) {
    let (lp, reports) = plain_loop();
    lp.set_debug(true);
    (lp, reports)
}

fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    common::panic_text(&*payload)
}

#[test]
fn a_main_future_waiting_on_an_event_nobody_will_set_fails_with_who_waits_on_what() {
    let (mut lp, reports) = debug_loop();
    let started = Instant::now();
    let event = Event::new();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        lp.run_until_complete(async { event.wait().await });
    }));
    let text = panic_text(outcome.unwrap_err());
    assert!(text.contains("would block forever"), "{text}");
    assert!(text.contains("the main future waits on Event#"), "{text}");
    assert!(
        text.contains("can only be woken by code running on this loop"),
        "{text}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "no grace period for a proof"
    );
    assert!(reports.borrow().is_empty());
    // The loop is still usable.
    assert_eq!(lp.run_until_complete(async { 7 }), 7);
}

#[test]
fn a_run_once_turn_that_nothing_could_ever_end_is_idle_and_reported_in_debug_mode() {
    // Run on a thread of its own: without the proof the turn blocks for
    // ever, and the test must fail, not hang.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut lp, reports) = debug_loop();
        let event = Rc::new(Event::new());
        let e = Rc::clone(&event);
        let task = corio::Builder::new()
            .name("waiter")
            .spawn_on(&lp, async move { e.wait().await });
        let first = lp.run_once(); // the task parks on the event
        drop(event); // only the task's own future reaches the event now
        let second = lp.run_once();
        // Turned again at once: idle again, and not reported again.
        assert!(lp.run_once().idle && lp.run_once().idle);
        let reports: Vec<_> = reports
            .borrow()
            .iter()
            .map(|r| (r.kind(), r.to_string()))
            .collect();
        drop(task);
        tx.send((first.idle, second.idle, reports)).unwrap();
    });
    let (first, second, reports) = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the second turn returned");
    assert!(!first && second, "{first} {second}");
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].0, ReportKind::Stall);
    assert!(
        reports[0].1.starts_with("run_once would block forever"),
        "proven, so no \"stalled?\" before it: {reports:?}"
    );
    assert!(reports[0].1.contains("\"waiter\""), "{reports:?}");
}

#[test]
fn a_run_once_turn_waits_for_an_event_that_a_timer_will_set() {
    // Not a stall: the event is set by a timer's callback.
    let (mut lp, reports) = debug_loop();
    let event = Rc::new(Event::new());
    let e = Rc::clone(&event);
    let task = lp.spawn(async move { e.wait().await });
    lp.call_later(Duration::from_millis(20), move || event.set());
    let mut turns = 0;
    while !task.is_done() && turns < 100 {
        assert!(!lp.run_once().idle);
        turns += 1;
    }
    assert!(task.is_done());
    assert!(reports.borrow().is_empty(), "{:?}", reports.borrow());
}

#[test]
fn a_chain_of_waiters_is_explained_link_by_link() {
    let (mut lp, _reports) = debug_loop();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        lp.run_until_complete(async {
            let queue = Rc::new(Queue::<u32>::new(0));
            let q = Rc::clone(&queue);
            let consumer = corio::Builder::new()
                .name("consumer")
                .spawn(async move { q.get().await });
            consumer.await
        })
    }));
    let text = panic_text(outcome.unwrap_err());
    assert!(
        text.contains("the main future waits on task 1 \"consumer\""),
        "{text}"
    );
    assert!(
        text.contains("\"consumer\" (spawned at tests/stall.rs:"),
        "{text}"
    );
    assert!(text.contains("waits on Queue.get#"), "{text}");
}

#[test]
fn no_stall_is_reported_while_a_thread_pool_job_runs() {
    let (mut lp, reports) = debug_loop();
    lp.set_stall_grace(Duration::from_millis(50));
    let out = lp.run_until_complete(async {
        corio::spawn_blocking(|| {
            std::thread::sleep(Duration::from_millis(300));
            5
        })
        .await
    });
    assert_eq!(out, Ok(5));
    assert!(reports.borrow().is_empty(), "{:?}", reports.borrow());
}

thread_local! {
    /// An event of the test's thread that a callback can reach.
    static GO: &'static Event = Box::leak(Box::new(Event::new()));
}

fn go() -> &'static Event {
    GO.with(|go| *go)
}

/// Sets `GO` on the loop's thread, from another thread, after `delay`.
fn set_go_from_another_thread(lp: &EventLoop, delay: Duration) -> std::thread::JoinHandle<()> {
    let handle = lp.handle();
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        assert!(handle.call_soon_threadsafe(|| go().set()));
    })
}

#[test]
fn a_loop_handle_on_another_thread_means_no_proof_and_no_report_within_the_grace() {
    let (mut lp, reports) = debug_loop();
    let other = set_go_from_another_thread(&lp, Duration::from_millis(300));
    let started = Instant::now();
    lp.run_until_complete(go().wait());
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(reports.borrow().is_empty(), "{:?}", reports.borrow());
    other.join().unwrap();
}

#[test]
fn past_the_grace_an_unproven_stall_is_reported_once_and_the_loop_keeps_waiting() {
    let (mut lp, reports) = debug_loop();
    lp.set_stall_grace(Duration::from_millis(50));
    let other = set_go_from_another_thread(&lp, Duration::from_millis(400));
    lp.run_until_complete(go().wait());
    other.join().unwrap();
    let reports = reports.borrow();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].kind(), ReportKind::Stall);
    let text = reports[0].message();
    assert!(text.contains("1 LoopHandle(s) are alive"), "{text}");
    assert!(text.contains("the main future waits on Event#"), "{text}");
    let shown = reports[0].to_string();
    assert!(
        shown.starts_with("stalled? the main future has waited"),
        "{shown}"
    );
}

#[test]
fn a_waker_sent_to_another_thread_is_not_a_stall() {
    let (mut lp, reports) = debug_loop();
    lp.set_stall_grace(Duration::from_secs(10));
    let woken = lp.run_until_complete(async {
        let mut sent = false;
        std::future::poll_fn(|cx| {
            if sent {
                return std::task::Poll::Ready(true);
            }
            sent = true;
            let waker = cx.waker().clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(200));
                waker.wake();
            });
            std::task::Poll::Pending
        })
        .await
    });
    assert!(woken);
    assert!(reports.borrow().is_empty(), "{:?}", reports.borrow());
}

#[test]
fn a_stall_behind_gather_and_wait_is_proven_and_explained() {
    for combinator in ["gather", "wait", "group"] {
        let (mut lp, _reports) = debug_loop();
        let started = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            lp.run_until_complete(async {
                let never = Rc::new(Event::new());
                let tasks: Vec<_> = (0..3)
                    .map(|i| {
                        let e = Rc::clone(&never);
                        corio::Builder::new()
                            .name(format!("waiter-{i}"))
                            .spawn(async move { e.wait().await })
                    })
                    .collect();
                match combinator {
                    "gather" => drop(corio::gather(tasks).await),
                    "wait" => drop(corio::wait(tasks, corio::ReturnWhen::AllCompleted).await),
                    _ => {
                        let mut group = corio::TaskGroup::<(), ()>::new();
                        for _ in 0..2 {
                            let e = Rc::clone(&never);
                            group.spawn(async move {
                                e.wait().await;
                                Ok(())
                            });
                        }
                        drop(group.join().await);
                        drop(tasks);
                    }
                }
            })
        }));
        let text = panic_text(outcome.unwrap_err());
        assert!(text.contains("would block forever"), "{combinator}: {text}");
        assert!(
            text.contains("the main future waits on task"),
            "{combinator}: {text}"
        );
        assert!(text.contains("waits on Event#"), "{combinator}: {text}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{combinator}: no grace period"
        );
    }
}

#[test]
fn a_child_waker_sent_to_another_thread_under_gather_is_not_a_stall() {
    let (mut lp, reports) = debug_loop();
    let woken = lp.run_until_complete(async {
        let mut sent = false;
        let away = std::future::poll_fn(move |cx| {
            if sent {
                return std::task::Poll::Ready(true);
            }
            sent = true;
            let waker = cx.waker().clone(); // gather's child waker
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(200));
                waker.wake();
            });
            std::task::Poll::Pending
        });
        corio::gather([away]).await
    });
    assert_eq!(woken, [true]);
    assert!(reports.borrow().is_empty(), "{:?}", reports.borrow());
}

#[test]
fn a_job_on_a_pool_of_ones_own_is_neither_a_stall_nor_a_warning() {
    let (mut lp, reports) = debug_loop();
    lp.set_stall_grace(Duration::from_millis(50));
    let pool = corio::pool::ThreadPool::new(1);
    lp.run_until_complete(async {
        // Its done callback, run on this loop, is what wakes the main future.
        let job = pool
            .submit(|| std::thread::sleep(Duration::from_millis(300)))
            .unwrap();
        job.add_done_callback(|_| go().set());
        go().wait().await;
    });
    assert!(reports.borrow().is_empty(), "{:?}", reports.borrow());
}

#[test]
fn tasks_that_await_each_other_are_named_as_a_cycle() {
    let (mut lp, _reports) = debug_loop();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        lp.run_until_complete(async {
            let slot: Rc<RefCell<Option<corio::Task<()>>>> = Rc::default();
            let s = Rc::clone(&slot);
            let a = corio::Builder::new().name("a").spawn(async move {
                corio::yield_now().await; // b exists by now
                let b = s.borrow_mut().take().unwrap();
                b.await.unwrap();
            });
            let b = corio::Builder::new().name("b").spawn(async move {
                a.await.unwrap(); // a awaits b, b awaits a
            });
            *slot.borrow_mut() = Some(b);
            std::future::pending::<()>().await;
        })
    }));
    let text = panic_text(outcome.unwrap_err());
    assert!(
        text.contains("a cycle: task 1 \"a\" → task 2 \"b\" → task 1 \"a\""),
        "{text}"
    );
}

#[test]
fn a_wait_that_returned_early_leaves_no_claim_behind() {
    // `wait(FirstCompleted)` returns while `slow` still holds a child waker
    // of its dropped combinator; the main future then waits on a channel
    // fed by another thread. Nothing here is stuck.
    let (mut lp, reports) = debug_loop();
    let got = lp.run_until_complete(async {
        let gate = Rc::new(Event::new());
        let g = Rc::clone(&gate);
        let slow = corio::spawn(async move { g.wait().await });
        let fast = corio::spawn(async {});
        let (_, pending) = corio::wait([fast, slow], corio::ReturnWhen::FirstCompleted).await;
        let (tx, mut rx) = corio::pool::channel::unbounded();
        let feeder = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            tx.send(7u32).unwrap();
        });
        let got = rx.recv().await.unwrap();
        gate.set();
        for task in pending {
            task.await.unwrap();
        }
        feeder.join().unwrap();
        got
    });
    assert_eq!(got, 7);
    assert!(reports.borrow().is_empty(), "{:?}", reports.borrow());
}

#[test]
fn two_locks_taken_in_opposite_orders_are_a_proven_stall() {
    let (mut lp, _reports) = debug_loop();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        lp.run_until_complete(async {
            let first = Rc::new(corio::sync::Lock::new(()));
            let second = Rc::new(corio::sync::Lock::new(()));
            let (f, s) = (Rc::clone(&first), Rc::clone(&second));
            let alice = corio::Builder::new().name("alice").spawn(async move {
                let _one = f.lock().await;
                corio::yield_now().await; // bob takes the second meanwhile
                let _two = s.lock().await;
            });
            let bob = corio::Builder::new().name("bob").spawn(async move {
                let _two = second.lock().await;
                corio::yield_now().await;
                let _one = first.lock().await;
            });
            alice.await.unwrap();
            bob.await.unwrap();
        })
    }));
    let text = panic_text(outcome.unwrap_err());
    assert!(text.contains("would block forever"), "{text}");
    assert!(text.contains("task 1 \"alice\" (spawned at"), "{text}");
    assert!(text.contains("waits on Lock#2"), "{text}");
    assert!(text.contains("task 2 \"bob\" (spawned at"), "{text}");
    assert!(text.contains("waits on Lock#1"), "{text}");
    assert!(
        text.contains("Lock#1 is held by task 1 \"alice\""),
        "{text}"
    );
    assert!(text.contains("Lock#2 is held by task 2 \"bob\""), "{text}");
}

#[test]
fn a_stall_among_thousands_of_waiting_tasks_is_explained_at_once() {
    // Task k awaits task k - 1, the last one an event nobody sets: the
    // report walks 3,000 waits (it used to take time cubic in them).
    fn link(n: u32, event: Rc<Event>) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>> {
        Box::pin(async move {
            if n == 0 {
                event.wait().await;
            } else {
                corio::spawn(link(n - 1, event)).await.unwrap();
            }
        })
    }
    let (mut lp, _reports) = debug_loop();
    let started = Instant::now();
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        lp.run_until_complete(link(3000, Rc::new(Event::new())));
    }));
    let text = panic_text(outcome.unwrap_err());
    assert!(
        text.contains("would block forever"),
        "{}",
        &text[..200.min(text.len())]
    );
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the report took {:?}",
        started.elapsed()
    );
}

/// Runs `run_until_complete` of the main future `make` builds, on a
/// thread of its own, and gives the text of its "would block forever"
/// report; fails if it still waits after 10 s, or returns.
fn hang_report<F: Future<Output = ()> + 'static>(
    make: impl FnOnce(&mut EventLoop) -> F + Send + 'static,
) -> String {
    let (done_tx, done_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let result = catch_unwind(AssertUnwindSafe(|| {
            let mut lp = EventLoop::new().unwrap();
            let main = make(&mut lp);
            lp.run_until_complete(main);
        }));
        let _ = done_tx.send(result.map_err(panic_text));
    });
    let outcome = done_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the loop still waits for something that can never come");
    let text = outcome.expect_err("run_until_complete should report the hang");
    assert!(text.contains("would block forever"), "{text}");
    text
}

#[test]
fn dropping_the_last_loop_handle_on_another_thread_ends_a_blocked_wait_with_the_hang_report() {
    // While a handle exists, the loop may be woken from outside, so it
    // waits; when the last one goes, it must look again and report.
    hang_report(|lp| {
        let handle = lp.handle();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            drop(handle); // sends nothing
        });
        std::future::pending::<()>()
    });
}

#[test]
fn a_dropped_channel_receiver_does_not_leave_its_waker_with_the_senders() {
    // The receiver parked the main future's waker, then went away while a
    // sender lives: nothing can wake the main future now, and the loop
    // must say so instead of waiting for ever.
    hang_report(|_| async {
        let (tx, mut rx) = corio::pool::channel::unbounded::<u8>();
        let _ = corio::time::timeout(Duration::from_millis(5), rx.recv()).await;
        drop(rx);
        let _sender = tx;
        std::future::pending::<()>().await;
    });
}

#[test]
fn no_sync_primitive_keeps_the_waker_of_a_wait_that_was_dropped() {
    // Each wait parks the main future's waker, times out (dropped), and
    // the primitive lives on, unchanged: nothing can wake the main future
    // any more, and the loop must say so instead of waiting for ever.
    use corio::sync::{Barrier, Condition, Event, Lock, Queue, Semaphore, mpsc, oneshot};
    let short = || Duration::from_millis(2);
    eprintln!("case 1");
    hang_report(move |_| async move {
        let (tx, rx) = oneshot::channel::<u8>();
        let _ = corio::time::timeout(short(), rx).await; // the receiver goes with it
        let _keep = tx;
        std::future::pending::<()>().await;
    });
    eprintln!("case 2");
    hang_report(move |_| async move {
        // (A live receiver keeps its place in line — and the waker — across
        // a dropped `recv`, for its `Stream` form, as tokio's does.)
        let (_tx, mut rx) = mpsc::channel::<u8>(1);
        let _ = corio::time::timeout(short(), rx.recv()).await;
        drop(rx);
        std::future::pending::<()>().await;
    });
    eprintln!("case 3");
    hang_report(move |_| async move {
        let lock = Lock::new(());
        let _held = lock.lock().await;
        let _ = corio::time::timeout(short(), lock.lock()).await;
        std::future::pending::<()>().await;
    });
    eprintln!("case 4");
    hang_report(move |_| async move {
        let semaphore = Semaphore::new(0);
        let _ = corio::time::timeout(short(), semaphore.acquire()).await;
        std::future::pending::<()>().await;
    });
    eprintln!("case 5");
    hang_report(move |_| async move {
        let event = Event::new();
        let _ = corio::time::timeout(short(), event.wait()).await;
        std::future::pending::<()>().await;
    });
    eprintln!("case 6");
    hang_report(move |_| async move {
        let (lock, condition) = (Lock::new(()), Condition::new());
        let _ = corio::time::timeout(short(), condition.wait(lock.lock().await)).await;
        std::future::pending::<()>().await;
    });
    eprintln!("case 7");
    hang_report(move |_| async move {
        let barrier = Barrier::new(2);
        let _ = corio::time::timeout(short(), barrier.wait()).await;
        std::future::pending::<()>().await;
    });
    eprintln!("case 8");
    hang_report(move |_| async move {
        let queue = Queue::<u8>::new(1);
        let _ = corio::time::timeout(short(), queue.get()).await;
        queue.put_nowait(1).unwrap();
        let _ = corio::time::timeout(short(), queue.put(2)).await;
        let _ = corio::time::timeout(short(), queue.join()).await;
        std::future::pending::<()>().await;
    });
}

/// The main future awaits a pool job that never ends, gives up after a
/// moment, and lets the handle go — at once, inside a `gather`, or on
/// another thread later: nothing can wake it any more (the job runs on,
/// detached), and the loop must say so.
fn a_job_handle_let_go(how: u8) {
    hang_report(move |_| async move {
        let pool = corio::pool::ThreadPool::new(1);
        let (release, blocked) = std::sync::mpsc::channel::<()>();
        let mut job = pool
            .submit(move || {
                let _ = blocked.recv(); // until the test's end drops `release`
            })
            .unwrap();
        let short = Duration::from_millis(5);
        match how {
            0 => {
                let _ = corio::time::timeout(short, &mut job).await;
                drop(job);
            }
            1 => {
                let _ = corio::time::timeout(short, corio::gather([job])).await;
            }
            _ => {
                let _ = corio::time::timeout(short, &mut job).await;
                drop_soon_on_another_thread(Box::new(job));
            }
        }
        let _keep = (release, pool);
        std::future::pending::<()>().await;
    });
}

#[test]
fn a_dropped_job_handle_does_not_leave_its_waker_with_the_job() {
    a_job_handle_let_go(0);
    a_job_handle_let_go(1);
    a_job_handle_let_go(2);
}

/// The main future parks its waker in a channel receiver (a `recv` that
/// timed out), hands the receiver to `drop_later`, keeps the sender and
/// waits: once the receiver is gone nothing can wake it, and the loop —
/// already blocked by then — must hear of it and report the hang.
fn a_receiver_dropped_elsewhere_is_noticed(oneshot: bool, drop_later: fn(Box<dyn Send>)) {
    hang_report(move |_| async move {
        let keep: Box<dyn std::any::Any> = if oneshot {
            let (tx, mut rx) = corio::pool::channel::oneshot::<u8>();
            let _ = corio::time::timeout(Duration::from_millis(5), &mut rx).await;
            drop_later(Box::new(rx));
            Box::new(tx)
        } else {
            let (tx, mut rx) = corio::pool::channel::unbounded::<u8>();
            let _ = corio::time::timeout(Duration::from_millis(5), rx.recv()).await;
            drop_later(Box::new(rx));
            Box::new(tx)
        };
        let _sender = keep;
        std::future::pending::<()>().await;
    });
}

/// Drops `value` on a plain thread 50 ms from now (the loop is blocked by
/// then).
fn drop_soon_on_another_thread(value: Box<dyn Send>) {
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        drop(value);
    });
}

/// The same, inside a task of another loop running on that thread.
fn drop_soon_on_another_loop(value: Box<dyn Send>) {
    std::thread::spawn(move || {
        corio::run(async move {
            corio::time::sleep(Duration::from_millis(50)).await;
            drop(value);
        })
    });
}

#[test]
fn a_channel_receiver_dropped_on_another_thread_does_not_hide_a_hang() {
    a_receiver_dropped_elsewhere_is_noticed(false, drop_soon_on_another_thread);
}

#[test]
fn a_oneshot_receiver_dropped_on_another_thread_does_not_hide_a_hang() {
    a_receiver_dropped_elsewhere_is_noticed(true, drop_soon_on_another_thread);
}

#[test]
fn a_receiver_dropped_by_another_loop_does_not_hide_a_hang() {
    a_receiver_dropped_elsewhere_is_noticed(false, drop_soon_on_another_loop);
    a_receiver_dropped_elsewhere_is_noticed(true, drop_soon_on_another_loop);
}

#[test]
fn a_task_that_drops_a_receiver_in_its_own_poll_parks_instead_of_spinning() {
    // The receiver had parked the task's own waker; dropping it inside the
    // task's poll must not wake the task (it would poll, drop, wake, for
    // ever): nothing can wake it, and the loop says so.
    hang_report(|_| {
        let mut keep = Vec::new();
        std::future::poll_fn(move |cx| {
            let (tx, mut rx) = corio::pool::channel::oneshot::<u8>();
            let _ = std::pin::Pin::new(&mut rx).poll(cx);
            keep.push(tx);
            assert!(keep.len() < 1000, "the task spins");
            std::task::Poll::Pending
        })
    });
}

#[test]
fn a_task_handed_back_unfinished_by_wait_does_not_keep_the_waiters_waker() {
    // After `wait` returns, the pending task must not hold a way to wake
    // the main future: nothing else can, and the loop must report it.
    hang_report(|_| async {
        let stuck = corio::spawn(std::future::pending::<()>());
        let quick = corio::spawn(async {});
        let (_done, pending) = corio::wait([stuck, quick], corio::ReturnWhen::FirstCompleted).await;
        let _still_pending = pending;
        std::future::pending::<()>().await;
    });
}

#[test]
fn a_cancelled_task_whose_old_waker_is_held_does_not_hide_a_hang() {
    // The probe keeps a clone of the task's waker; once the task is done
    // (cancelled), that clone can wake nothing.
    hang_report(|lp| {
        let (probe, task) = common::spawn_parked(lp);
        task.cancel();
        async move {
            corio::yield_now().await; // the cancelled future is dropped
            assert!(task.is_done());
            let _keep = (probe, task);
            std::future::pending::<()>().await;
        }
    });
}

#[test]
fn a_detached_pool_job_does_not_delay_a_proven_stall() {
    // A job whose handle was dropped, with no done callback: nothing it does
    // can reach the loop any more, so the stall is proven while it runs.
    let pool = corio::pool::ThreadPool::new(1);
    let (mut lp, _reports) = debug_loop();
    let (release, gate) = std::sync::mpsc::channel::<()>();
    let started = Instant::now();
    let failed = catch_unwind(AssertUnwindSafe(|| {
        lp.run_until_complete(async {
            drop(
                pool.submit(move || gate.recv_timeout(Duration::from_secs(30)))
                    .unwrap(),
            );
            Event::new().wait().await;
        })
    }));
    let took = started.elapsed();
    release.send(()).unwrap();
    let message = panic_text(failed.unwrap_err());
    assert!(message.contains("would block forever"), "{message}");
    assert!(took < Duration::from_secs(10), "proven only after {took:?}");
}

/// How the other thread of `woken_from_another_thread` wakes the future.
#[derive(Clone, Copy)]
enum Wake {
    /// `wake_by_ref`, then the clone is kept 50 ms before it goes.
    ByRefKeptAWhile,
    /// `wake()`: the clone goes just after the wake.
    ByValue,
}

/// A future that hands a clone of its waker (under `gather`: the child
/// waker) to another thread, which wakes it at once as `how` says, while
/// the loop waits; ready once woken.
fn woken_from_another_thread(how: Wake) -> impl Future<Output = ()> {
    let woken = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut sent = false;
    std::future::poll_fn(move |cx| {
        if woken.load(std::sync::atomic::Ordering::SeqCst) {
            return std::task::Poll::Ready(());
        }
        if !sent {
            sent = true;
            let (waker, woken) = (cx.waker().clone(), std::sync::Arc::clone(&woken));
            std::thread::spawn(move || {
                woken.store(true, std::sync::atomic::Ordering::SeqCst);
                match how {
                    Wake::ByValue => waker.wake(),
                    Wake::ByRefKeptAWhile => {
                        waker.wake_by_ref();
                        std::thread::sleep(Duration::from_millis(50));
                        drop(waker);
                    }
                }
            });
        }
        std::task::Poll::Pending
    })
}

#[test]
fn a_gather_child_waker_let_go_on_another_thread_after_the_gather_does_not_hide_a_hang() {
    // The gather ends; the clone of the task's waker it kept for its child
    // waker lives on with that child waker, on the other thread, until it
    // goes while the loop waits: the loop must hear of it. (A child waker
    // woken by value does the same in a shorter window — its `Arc` goes
    // after the wake — which the seeded stall_fuzz test hit.)
    hang_report(|_| async {
        corio::gather([woken_from_another_thread(Wake::ByRefKeptAWhile)]).await;
        std::future::pending::<()>().await;
    });
}

#[test]
fn a_gather_child_waker_let_go_on_another_thread_does_not_hide_a_proven_stall() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let (mut lp, reports) = debug_loop();
        let started = Instant::now();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            lp.run_until_complete(async {
                corio::gather([woken_from_another_thread(Wake::ByRefKeptAWhile)]).await;
                Event::new().wait().await;
            })
        }));
        let took = started.elapsed();
        let kinds: Vec<_> = reports.borrow().iter().map(|r| r.kind()).collect();
        let _ = tx.send((outcome.map_err(panic_text), kinds, took));
    });
    // (It used to be proven only after the grace period, with a warning
    // first.)
    let (outcome, kinds, took) = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the stall was never proven");
    let text = outcome.expect_err("run_until_complete should report the stall");
    assert!(text.contains("would block forever"), "{text}");
    assert!(text.contains("the main future waits on Event#"), "{text}");
    assert!(kinds.is_empty(), "{kinds:?}");
    assert!(took < Duration::from_secs(2), "proven after {took:?}");
}

#[test]
fn a_gather_child_waker_woken_by_value_on_another_thread_does_not_hide_a_hang() {
    // The documented safe way: the thread wakes by value. The child
    // waker's `Arc` goes just after the wake, so the gather may be over by
    // then (a race: before the fix, one of a few hundred runs hung).
    for _ in 0..500 {
        hang_report(|_| async {
            corio::gather([woken_from_another_thread(Wake::ByValue)]).await;
            std::future::pending::<()>().await;
        });
    }
}

/// A plain loop (no debug mode) that records its reports.
fn plain_loop() -> (EventLoop, Rc<RefCell<Vec<Report>>>) {
    let lp = EventLoop::new().unwrap();
    let reports = common::capture_reports(&lp);
    (lp, reports)
}

/// Two tasks that take two locks in opposite orders (a deadlock), beside
/// a oneshot another thread fills after `delay`: the main future returns
/// the thread's value.
async fn deadlock_beside_a_late_thread(delay: Duration) -> u8 {
    let first = Rc::new(corio::sync::Lock::new(()));
    let second = Rc::new(corio::sync::Lock::new(()));
    let (f, s) = (Rc::clone(&first), Rc::clone(&second));
    let alice = corio::spawn(async move {
        let _one = f.lock().await;
        corio::yield_now().await;
        let _two = s.lock().await;
    });
    let bob = corio::spawn(async move {
        let _two = second.lock().await;
        corio::yield_now().await;
        let _one = first.lock().await;
    });
    let (tx, rx) = corio::pool::channel::oneshot();
    let thread = std::thread::spawn(move || {
        std::thread::sleep(delay);
        let _ = tx.send(7u8);
    });
    let value = rx.await.unwrap();
    thread.join().unwrap();
    drop((alice, bob)); // detached: still deadlocked, cancelled when the loop goes
    value
}

#[test]
fn without_debug_mode_a_wait_only_a_held_waker_can_end_gets_one_hint_naming_corio_debug() {
    let (mut lp, reports) = plain_loop();
    lp.set_stall_grace(Duration::from_millis(50));
    assert_eq!(
        lp.run_until_complete(deadlock_beside_a_late_thread(Duration::from_millis(400))),
        7
    );
    // Once per loop: a second quiet wait past the grace says nothing.
    assert_eq!(
        lp.run_until_complete(deadlock_beside_a_late_thread(Duration::from_millis(200))),
        7
    );
    let reports = reports.borrow();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].kind(), ReportKind::Stall);
    let shown = reports[0].to_string();
    assert!(
        shown.starts_with("stalled? the main future has waited"),
        "{shown}"
    );
    assert!(shown.contains("run with CORIO_DEBUG=1"), "{shown}");
    assert!(shown.contains("said once per loop"), "{shown}");
}

#[test]
fn without_debug_mode_no_hint_is_given_while_a_loop_handle_is_alive() {
    let (mut lp, reports) = plain_loop();
    lp.set_stall_grace(Duration::from_millis(20));
    let other = set_go_from_another_thread(&lp, Duration::from_millis(300));
    lp.run_until_complete(go().wait());
    other.join().unwrap();
    assert!(reports.borrow().is_empty(), "{:?}", reports.borrow());
}

#[test]
fn without_debug_mode_no_hint_is_given_while_a_pool_job_runs() {
    let (mut lp, reports) = plain_loop();
    lp.set_stall_grace(Duration::from_millis(20));
    let slept = lp.run_until_complete(async {
        corio::spawn_blocking(|| {
            std::thread::sleep(Duration::from_millis(300));
            true
        })
        .await
    });
    assert_eq!(slept, Ok(true));
    assert!(reports.borrow().is_empty(), "{:?}", reports.borrow());
}

#[test]
fn without_debug_mode_a_thread_that_keeps_waking_the_main_future_gets_no_hint() {
    // Each value wakes the main future: something runs, and each quiet
    // wait is new — none lasts the grace period.
    let (mut lp, reports) = plain_loop();
    lp.set_stall_grace(Duration::from_secs(2));
    let (tx, mut rx) = corio::pool::channel::unbounded();
    let thread = std::thread::spawn(move || {
        for i in 0..30u32 {
            std::thread::sleep(Duration::from_millis(100));
            tx.send(i).unwrap();
        }
    });
    let sum = lp.run_until_complete(async move {
        let mut sum = 0;
        while let Some(i) = rx.recv().await {
            sum += i;
        }
        sum
    });
    thread.join().unwrap();
    assert_eq!(sum, (0..30).sum::<u32>());
    assert!(reports.borrow().is_empty(), "{:?}", reports.borrow());
}

#[test]
fn a_stall_grace_of_duration_max_turns_the_hint_off() {
    let (mut lp, reports) = plain_loop();
    lp.set_stall_grace(Duration::MAX);
    assert_eq!(
        lp.run_until_complete(deadlock_beside_a_late_thread(Duration::from_millis(200))),
        7
    );
    assert!(reports.borrow().is_empty(), "{:?}", reports.borrow());
}

/// A future that only a waker held by another thread can end: the thread
/// sets the flag and wakes it after `delay`.
fn held_by_a_thread(delay: Duration) -> impl Future<Output = ()> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let flag = Arc::new(AtomicBool::new(false));
    let slot: Arc<Mutex<Option<std::task::Waker>>> = Arc::new(Mutex::new(None));
    let (f, s) = (Arc::clone(&flag), Arc::clone(&slot));
    std::thread::spawn(move || {
        std::thread::sleep(delay);
        f.store(true, Ordering::SeqCst);
        if let Some(waker) = s.lock().unwrap().take() {
            waker.wake();
        }
    });
    std::future::poll_fn(move |cx| {
        *slot.lock().unwrap() = Some(cx.waker().clone());
        if flag.load(Ordering::SeqCst) {
            return std::task::Poll::Ready(());
        }
        std::task::Poll::Pending
    })
}

/// A waker that forwards its wake, then keeps the thread that woke it busy
/// for a while: the pool thread's job count comes down only after that.
struct SlowAfterWake(std::task::Waker);

impl std::task::Wake for SlowAfterWake {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.wake_by_ref();
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn without_debug_mode_a_stall_right_after_a_pool_job_still_gets_the_hint() {
    // The job wakes the main future before its in-flight count comes
    // down, and nothing pokes a plain loop when it does: the loop must
    // look again by itself.
    let (mut lp, reports) = plain_loop();
    lp.set_stall_grace(Duration::from_millis(50));
    lp.run_until_complete(async {
        let mut job = std::pin::pin!(corio::spawn_blocking(|| 7));
        let out = std::future::poll_fn(|cx| {
            let waker =
                std::task::Waker::from(std::sync::Arc::new(SlowAfterWake(cx.waker().clone())));
            job.as_mut()
                .poll(&mut std::task::Context::from_waker(&waker))
        })
        .await;
        assert_eq!(out, Ok(7));
        held_by_a_thread(Duration::from_millis(800)).await;
    });
    let kinds: Vec<_> = reports.borrow().iter().map(|r| r.kind()).collect();
    assert_eq!(kinds, [ReportKind::Stall]);
    // Again and again, without the slow waker: the race is not lost.
    for _ in 0..50 {
        let (mut lp, reports) = plain_loop();
        lp.set_stall_grace(Duration::from_millis(2));
        lp.run_until_complete(async {
            corio::spawn_blocking(|| ()).await.unwrap();
            held_by_a_thread(Duration::from_millis(60)).await;
        });
        assert_eq!(reports.borrow().len(), 1, "{:?}", reports.borrow());
    }
}

/// Loop B's main future awaits a task of loop A (not running) beside a
/// future only a thread can end (after `delay`): what B's stall report says.
fn stall_on_a_task_of_another_loop(debug: bool) -> Vec<Report> {
    let lp_a = EventLoop::new().unwrap();
    let task = corio::Builder::new()
        .name("on-A")
        .spawn_on(&lp_a, std::future::pending::<()>());
    let (mut lp_b, reports) = if debug { debug_loop() } else { plain_loop() };
    lp_b.set_stall_grace(Duration::from_millis(50));
    let won = lp_b.run_until_complete(corio::select(
        task,
        held_by_a_thread(Duration::from_millis(400)),
    ));
    assert!(matches!(won, corio::Either::Right(_)));
    drop(lp_a);
    reports.take()
}

#[test]
fn a_stall_on_a_task_of_another_loop_that_is_not_running_names_that_task() {
    for debug in [false, true] {
        let reports = stall_on_a_task_of_another_loop(debug);
        assert_eq!(reports.len(), 1, "debug {debug}: {reports:?}");
        let shown = reports[0].to_string();
        assert!(
            shown.contains("task \"on-A (id ")
                && shown.contains("of another event loop, which is not running"),
            "debug {debug}: {shown}"
        );
    }
}
