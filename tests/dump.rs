//! `EventLoop::dump` / `corio::debug::dump`: what each task waits on, and
//! debug mode's per-task data.

use std::rc::Rc;
use std::time::Duration;

use corio::debug::{Status, Waiting};
use corio::sync::{Event, Lock, Queue, Semaphore};
use corio::{Builder, EventLoop};

fn debug_loop() -> EventLoop {
    let lp = EventLoop::new().unwrap();
    lp.set_debug(true);
    lp
}

/// A task that waits for `lock`, takes it and lets it go.
fn lock_waiter(lock: &Rc<Lock<()>>, name: &str) -> corio::Task<()> {
    let lock = Rc::clone(lock);
    Builder::new()
        .name(name)
        .spawn(async move { drop(lock.lock().await) })
}

fn kinds(list: &[Waiting]) -> Vec<String> {
    list.iter()
        .map(|w| match w {
            Waiting::Timer { .. } => "timer".to_string(),
            Waiting::Io { direction, .. } => format!("io {direction}"),
            Waiting::Task { name, .. } => format!("task {name}"),
            Waiting::Sync { kind, .. } => kind.to_string(),
            Waiting::Elsewhere { wakers } => format!("elsewhere {wakers}"),
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn each_waiting_task_names_what_it_waits_on() {
    let mut lp = debug_loop();
    lp.run_until_complete(async {
        let event = Rc::new(Event::new());
        let lock = Rc::new(Lock::new(()));
        let sem = Rc::new(Semaphore::new(0));
        let queue = Rc::new(Queue::<u8>::new(0));
        let held = lock.lock().await; // so the locker waits
        let (tx, rx) = corio::sync::oneshot::channel::<()>();

        let e = Rc::clone(&event);
        let on_event = Builder::new()
            .name("on-event")
            .spawn(async move { e.wait().await });
        let l = Rc::clone(&lock);
        let on_lock = Builder::new()
            .name("on-lock")
            .spawn(async move { drop(l.lock().await) });
        let s = Rc::clone(&sem);
        let on_sem = Builder::new()
            .name("on-sem")
            .spawn(async move { drop(s.acquire().await) });
        let q = Rc::clone(&queue);
        let on_queue = Builder::new()
            .name("on-queue")
            .spawn(async move { q.get().await });
        let on_oneshot = Builder::new().name("on-oneshot").spawn(rx);
        let on_timer = Builder::new()
            .name("on-timer")
            .spawn(corio::time::sleep(Duration::from_secs(60)));
        let inner = Builder::new()
            .name("inner")
            .spawn(corio::time::sleep(Duration::from_secs(60)));
        let inner_id = inner.id();
        let on_task = Builder::new().name("on-task").spawn(inner);
        let never = Builder::new()
            .name("never")
            .spawn(std::future::pending::<()>());
        corio::yield_now().await; // every task runs once and parks

        let dump = corio::debug::dump();
        let row = |task_id| dump.task(task_id).unwrap();
        assert_eq!(kinds(&row(on_event.id()).waiting_on), ["Event"]);
        assert_eq!(kinds(&row(on_lock.id()).waiting_on), ["Lock"]);
        assert_eq!(kinds(&row(on_sem.id()).waiting_on), ["Semaphore"]);
        assert_eq!(kinds(&row(on_queue.id()).waiting_on), ["Queue.get"]);
        assert_eq!(kinds(&row(on_oneshot.id()).waiting_on), ["oneshot"]);
        assert_eq!(kinds(&row(on_timer.id()).waiting_on), ["timer"]);
        assert_eq!(kinds(&row(on_task.id()).waiting_on), ["task inner"]);
        assert_eq!(kinds(&row(inner_id).waiting_on), ["timer"]);
        assert!(
            row(never.id()).waiting_on.is_empty(),
            "nobody holds its waker"
        );
        for task in [&on_event, &on_lock, &on_sem] {
            assert_eq!(row(task.id()).status, Status::Waiting);
        }
        let me = dump.main.as_ref().unwrap();
        assert_eq!(me.status, Status::Running);
        let table = dump.to_string();
        for name in [
            "on-event",
            "Event#",
            "Lock#",
            "Queue.get#",
            "nothing (can never be woken)",
        ] {
            assert!(table.contains(name), "{name} missing from\n{table}");
        }

        // Two waiters on one primitive show the same number.
        let e = Rc::clone(&event);
        let second = corio::spawn(async move { e.wait().await });
        corio::yield_now().await;
        let dump = corio::debug::dump();
        let ids: Vec<_> = [on_event.id(), second.id()]
            .iter()
            .map(|id| dump.task(*id).unwrap().waiting_on[0].clone())
            .collect();
        assert_eq!(ids[0], ids[1]);

        // Woken, they leave the table of waiters.
        event.set();
        sem.release();
        queue.put_nowait(1).unwrap();
        drop(held);
        tx.send(()).unwrap();
        for task in [on_event, second, on_lock, on_sem] {
            task.await.unwrap();
        }
        assert_eq!(on_queue.await, Ok(Ok(1)));
        on_oneshot.await.unwrap().unwrap();
        for task in [on_timer.task_ref(), on_task.task_ref(), never.task_ref()] {
            task.cancel();
        }
    });
}

#[test]
fn a_socket_waiter_shows_its_direction_and_a_pool_waiter_a_waker_held_elsewhere() {
    let mut lp = debug_loop();
    lp.run_until_complete(async {
        let listener = corio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let accepting = corio::spawn(async move { listener.accept().await.map(|_| ()) });
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let blocking =
            corio::spawn(async move { corio::spawn_blocking(move || gate.recv().ok()).await });
        corio::yield_now().await;
        corio::yield_now().await; // the job's task, spawned by `blocking`, runs too
        let dump = corio::debug::dump();
        assert_eq!(
            kinds(&dump.task(accepting.id()).unwrap().waiting_on),
            ["io read"]
        );
        // spawn_blocking's handle is a task of the loop, which waits for a
        // waker to come back from the pool's thread.
        let row = dump.task(blocking.id()).unwrap();
        let [Waiting::Task { id: job, .. }] = row.waiting_on[..] else {
            panic!("{:?}", row.waiting_on)
        };
        assert_eq!(kinds(&dump.task(job).unwrap().waiting_on), ["elsewhere 1"]);
        release.send(()).unwrap();
        assert!(blocking.await.is_ok());
        accepting.cancel();
    });
}

#[test]
fn debug_mode_keeps_spawn_site_parent_age_polls_and_wakes() {
    let mut lp = debug_loop();
    lp.run_until_complete(async {
        let parent = corio::spawn(async {
            let child = Builder::new().name("child").spawn(async {
                for _ in 0..3 {
                    corio::yield_now().await;
                }
                corio::time::sleep(Duration::from_secs(60)).await;
            });
            child.id()
        });
        let parent_id = parent.id();
        let child_id = parent.await.unwrap();
        for _ in 0..5 {
            corio::yield_now().await;
        }
        let dump = corio::debug::dump();
        let child = dump.task(child_id).unwrap();
        assert_eq!(child.parent, Some(parent_id));
        assert_eq!(child.polls, Some(4), "three yields, then the sleep");
        assert_eq!(child.wakes, Some(3), "each yield wakes it once");
        assert!(child.age.unwrap() < Duration::from_secs(30));
        let site = child.spawned_at.unwrap();
        assert!(site.file().ends_with("tests/dump.rs"), "{site}");
        assert_eq!(child.status, Status::Waiting);
        assert!(
            dump.task(parent_id).is_none(),
            "a joined task has left the loop"
        );
        corio::all_tasks().iter().for_each(|t| {
            t.cancel();
        });
    });
}

#[test]
fn a_cancelled_task_is_ready_until_its_future_is_dropped_then_cancelled_not_done() {
    let mut lp = EventLoop::new().unwrap();
    let napper = Builder::new().name("napper").spawn_on(&lp, async {
        corio::time::sleep(Duration::from_secs(60)).await
    });
    let quick = lp.spawn(async {});
    lp.run_once();
    assert!(napper.cancel());
    assert!(!quick.cancel(), "already finished");
    assert_eq!(lp.dump().task(napper.id()).unwrap().status, Status::Ready);
    lp.run_once(); // the cancelled future is dropped
    let dump = lp.dump();
    assert_eq!(dump.task(napper.id()).unwrap().status, Status::Cancelled);
    assert_eq!(dump.task(quick.id()).unwrap().status, Status::Done);
    let text = dump.to_string();
    let row = text.lines().find(|l| l.contains("napper")).unwrap();
    assert!(row.contains("cancelled"), "{text}");
}

#[test]
fn without_debug_mode_the_dump_still_finds_what_tasks_wait_on() {
    let mut lp = EventLoop::new().unwrap();
    let napper = lp.spawn(async { corio::time::sleep(Duration::from_secs(60)).await });
    let waiter = lp.spawn(async {});
    lp.run_once();
    let dump = lp.dump();
    let row = dump.task(napper.id()).unwrap();
    assert_eq!(kinds(&row.waiting_on), ["timer"]);
    assert_eq!((row.polls, row.spawned_at.is_some()), (None, false));
    assert_eq!(dump.task(waiter.id()).unwrap().status, Status::Done);
    assert!(
        dump.main.is_none(),
        "no main future outside run_until_complete"
    );
}

#[test]
fn a_wake_from_another_thread_is_counted() {
    let mut lp = debug_loop();
    lp.run_until_complete(async {
        let (tx, rx) = std::sync::mpsc::channel();
        let task = corio::spawn(async move {
            std::future::poll_fn(|cx| {
                tx.send(cx.waker().clone()).unwrap();
                std::task::Poll::Ready(())
            })
            .await;
            corio::time::sleep(Duration::from_secs(60)).await;
        });
        corio::yield_now().await;
        let waker = rx.recv().unwrap();
        std::thread::spawn(move || waker.wake()).join().unwrap();
        corio::yield_now().await;
        corio::yield_now().await;
        let dump = corio::debug::dump();
        assert_eq!(dump.task(task.id()).unwrap().wakes, Some(1));
        task.cancel();
    });
}

#[test]
fn dropping_a_loop_in_debug_mode_lists_the_tasks_still_pending() {
    let lp = debug_loop();
    let reports = Rc::new(std::cell::RefCell::new(Vec::new()));
    let log = Rc::clone(&reports);
    lp.set_exception_handler(move |report| log.borrow_mut().push(report.clone()));
    let event = Rc::new(Event::new());
    let e = Rc::clone(&event);
    let _waiter = Builder::new()
        .name("forgotten")
        .spawn_on(&lp, async move { e.wait().await });
    let _done = lp.spawn(async {});
    let mut lp = lp;
    lp.run_once();
    // One cancelled whose drop has not run yet is not forgotten: not listed.
    let cancelled = Builder::new()
        .name("cancelled")
        .spawn_on(&lp, std::future::pending::<()>());
    cancelled.cancel();
    drop(lp);
    let reports = reports.borrow();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(!reports[0].message().contains("cancelled"), "{reports:?}");
    assert_eq!(reports[0].kind(), corio::ReportKind::DestroyedPending);
    let text = reports[0].message();
    assert!(text.contains("1 task(s) still pending"), "{text}");
    assert!(
        text.contains("\"forgotten\", spawned at tests/dump.rs:"),
        "{text}"
    );
    assert!(text.contains("waiting on Event#"), "{text}");
}

#[test]
fn corio_run_cancels_leftover_tasks_in_order_so_their_done_callbacks_run() {
    let seen = Rc::new(std::cell::RefCell::new(Vec::new()));
    let s = Rc::clone(&seen);
    corio::run(async move {
        let leftover = corio::spawn(std::future::pending::<()>());
        let s2 = Rc::clone(&s);
        leftover.add_done_callback(move |outcome| s2.borrow_mut().push(format!("{outcome:?}")));
        drop(leftover); // detached, still pending when main returns
        corio::yield_now().await;
    });
    assert_eq!(*seen.borrow(), ["Err(Cancelled)"]);
}

#[test]
fn sync_primitives_stay_send_with_their_debug_notes() {
    fn send<T: Send>() {}
    send::<Event>();
    send::<Semaphore>();
    send::<Lock<u8>>();
    send::<Queue<u8>>();
    send::<corio::sync::Condition>();
    send::<corio::sync::Barrier>();
}

#[test]
fn a_loop_dropped_by_a_panic_does_not_add_a_destroyed_but_pending_report() {
    let reports = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = std::sync::Arc::clone(&reports);
    let outcome = std::thread::spawn(move || {
        let lp = debug_loop();
        lp.set_exception_handler(move |report| log.lock().unwrap().push(report.kind()));
        let _pending = lp.spawn(std::future::pending::<()>());
        panic!("the program failed; the loop is dropped while this unwinds");
    })
    .join();
    assert!(outcome.is_err());
    assert!(reports.lock().unwrap().is_empty());
}

#[test]
fn without_debug_mode_the_table_says_what_is_missing() {
    let lp = EventLoop::new().unwrap();
    let table = lp.dump().to_string();
    assert!(table.contains("debug mode is off"), "{table}");
    let lp = debug_loop();
    assert!(!lp.dump().to_string().contains("debug mode is off"));
}

#[test]
fn every_waiter_on_one_queue_shows_the_same_number() {
    let mut lp = debug_loop();
    lp.run_until_complete(async {
        let (a, b) = (Rc::new(Queue::<u8>::new(1)), Rc::new(Queue::<u8>::new(1)));
        a.put_nowait(0).unwrap();
        b.put_nowait(0).unwrap(); // both full, one unfinished item each
        let a2 = Rc::clone(&a);
        let join_a = corio::spawn(async move { a2.join().await });
        corio::yield_now().await;
        let (b2, b3) = (Rc::clone(&b), Rc::clone(&b));
        let put_b = corio::spawn(async move { b2.put(1).await.unwrap() });
        let join_b = corio::spawn(async move { b3.join().await });
        corio::yield_now().await;
        let dump = corio::debug::dump();
        let number = |task: corio::TaskId| match dump.task(task).unwrap().waiting_on[..] {
            [Waiting::Sync { id, .. }] => id,
            ref other => panic!("{other:?}"),
        };
        let (ja, pb, jb) = (number(join_a.id()), number(put_b.id()), number(join_b.id()));
        assert_eq!(pb, jb, "one queue, one number:\n{dump}");
        assert_ne!(ja, jb, "two queues, two numbers:\n{dump}");
        join_a.cancel();
        join_b.cancel();
        put_b.cancel();
    });
}

#[test]
fn a_task_name_with_a_newline_keeps_to_its_row_of_the_dump_table() {
    let mut lp = EventLoop::new().unwrap();
    let evil = Builder::new()
        .name("evil\n   99  fake             ready")
        .spawn_on(&lp, std::future::pending::<()>());
    let ok = Builder::new()
        .name("ok")
        .spawn_on(&lp, std::future::pending::<()>());
    lp.run_once();
    let table = lp.dump().to_string();
    assert!(
        !table
            .lines()
            .any(|line| line.trim_start().starts_with("99")),
        "{table}"
    );
    assert!(table.contains("evil\\n"), "{table}");
    evil.cancel();
    ok.cancel();
}

#[test]
fn a_task_dumping_from_its_destructor_while_cancelled_is_running_not_waiting_on_nothing() {
    struct DumpOnDrop(
        Rc<std::cell::RefCell<Option<corio::debug::TaskDump>>>,
        Rc<std::cell::Cell<Option<corio::TaskId>>>,
    );
    impl Drop for DumpOnDrop {
        fn drop(&mut self) {
            let id = self.1.get().unwrap();
            *self.0.borrow_mut() = corio::debug::dump().task(id).cloned();
        }
    }
    let mut lp = debug_loop();
    let row = Rc::new(std::cell::RefCell::new(None));
    let seen = Rc::clone(&row);
    lp.run_until_complete(async move {
        let id = Rc::new(std::cell::Cell::new(None));
        let guard = DumpOnDrop(seen, Rc::clone(&id));
        let task = corio::spawn(async move {
            let _guard = guard; // "on cancel, show me what's going on"
            corio::time::sleep(Duration::from_secs(60)).await;
        });
        id.set(Some(task.id()));
        corio::yield_now().await; // it parks on its timer
        task.cancel();
        let _ = task.await;
    });
    let row = row.borrow().clone().expect("the destructor took a dump");
    assert_eq!(
        (row.status, row.waiting_on),
        (Status::Running, vec![]),
        "its own code is running (its future is being dropped), not parked with nobody to wake it"
    );
}

#[test]
fn waits_on_each_kind_of_queue_and_on_a_channel_are_named_as_the_program_names_them() {
    let mut lp = debug_loop();
    lp.run_until_complete(async {
        let lifo = Rc::new(corio::sync::LifoQueue::<u8>::new(0));
        let prio = Rc::new(corio::sync::PriorityQueue::<u8>::new(0));
        let full = Rc::new(Queue::<u8>::new(1));
        full.put_nowait(0).unwrap();
        let (tx, mut rx) = corio::sync::mpsc::channel::<u8>(1);
        let (_tx2, mut rx2) = corio::sync::mpsc::channel::<u8>(1);
        tx.try_send(0).unwrap(); // full: the next send waits

        let l = Rc::clone(&lifo);
        let on_lifo = corio::spawn(async move { l.get().await });
        let p = Rc::clone(&prio);
        let on_prio = corio::spawn(async move { p.get().await });
        let f = Rc::clone(&full);
        let on_put = corio::spawn(async move { f.put(1).await.unwrap() });
        let on_send = corio::spawn(async move { tx.send(1).await.unwrap() });
        let on_recv = corio::spawn(async move { rx2.recv().await });
        corio::yield_now().await;

        let dump = corio::debug::dump();
        let kind = |task: corio::TaskId| kinds(&dump.task(task).unwrap().waiting_on);
        assert_eq!(kind(on_lifo.id()), ["LifoQueue.get"]);
        assert_eq!(kind(on_prio.id()), ["PriorityQueue.get"]);
        assert_eq!(kind(on_put.id()), ["Queue.put"]);
        assert_eq!(kind(on_send.id()), ["mpsc.send"]);
        assert_eq!(kind(on_recv.id()), ["mpsc.recv"]);
        let table = dump.to_string();
        for name in [
            "LifoQueue.get#",
            "PriorityQueue.get#",
            "mpsc.send#",
            "mpsc.recv#",
        ] {
            assert!(table.contains(name), "{name} missing from\n{table}");
        }
        assert_eq!(rx.recv().await, Some(0));
        for task in [on_lifo, on_prio] {
            task.cancel();
        }
        on_recv.cancel();
        full.get().await.unwrap();
        on_put.await.unwrap();
        on_send.await.unwrap();
    });
}

#[test]
fn a_held_lock_names_its_holder_so_a_lock_order_deadlock_shows_both_sides() {
    let mut lp = debug_loop();
    lp.run_until_complete(async {
        let a = Rc::new(Lock::new(()));
        let b = Rc::new(Lock::new(()));
        let transfer = |name: &str, first: Rc<Lock<()>>, second: Rc<Lock<()>>| {
            Builder::new().name(name).spawn(async move {
                let _one = first.lock().await;
                corio::yield_now().await; // the other takes its first lock
                let _two = second.lock().await;
            })
        };
        let t1 = transfer("transfer-1", Rc::clone(&a), Rc::clone(&b));
        let t2 = transfer("transfer-2", Rc::clone(&b), Rc::clone(&a));
        for _ in 0..3 {
            corio::yield_now().await;
        }
        let table = corio::debug::dump().to_string();
        let (one, two) = (t1.id().as_u64(), t2.id().as_u64());
        assert!(
            table.contains(&format!("Lock#1 is held by task {one} \"transfer-1\"")),
            "{table}"
        );
        assert!(
            table.contains(&format!("Lock#2 is held by task {two} \"transfer-2\"")),
            "{table}"
        );
        t1.cancel();
        t2.cancel();
        corio::yield_now().await;
        let table = corio::debug::dump().to_string();
        assert!(!table.contains("is held by"), "released: {table}");
        // Held by the main future itself, while a task waits for it.
        let guard = a.lock().await;
        let table = corio::debug::dump().to_string();
        assert!(!table.contains("is held by"), "nobody waits: {table}");
        let waiter = lock_waiter(&a, "waiter");
        corio::yield_now().await;
        let table = corio::debug::dump().to_string();
        assert!(
            table.contains("Lock#1 is held by the main future"),
            "{table}"
        );
        drop(guard);
        waiter.await.unwrap();
    });
}

#[test]
fn a_lock_holder_that_sleeps_is_still_named_when_its_waker_went_back_to_the_pool() {
    // A sleeping task keeps no waker clone (its timer names it by key):
    // its waker may serve the next task spawned — which must not be
    // taken for the holder.
    let mut lp = debug_loop();
    lp.run_until_complete(async {
        let lock = Rc::new(Lock::new(()));
        let l = Rc::clone(&lock);
        let holder = Builder::new().name("holder").spawn(async move {
            let _guard = l.lock().await;
            corio::time::sleep(Duration::from_secs(60)).await;
        });
        corio::yield_now().await; // the holder takes the lock and sleeps
        let waiter = lock_waiter(&lock, "waiter");
        corio::yield_now().await;
        let table = corio::debug::dump().to_string();
        let line = format!("Lock#1 is held by task {} \"holder\"", holder.id().as_u64());
        assert!(table.contains(&line), "{table}");
        holder.cancel();
        waiter.await.unwrap();
    });
}

#[test]
fn a_lock_taken_by_a_callback_is_held_by_code_outside_any_task() {
    let mut lp = debug_loop();
    lp.run_until_complete(async {
        let lock = Rc::new(Lock::new(()));
        let l = Rc::clone(&lock);
        corio::call_soon(move || std::mem::forget(l.try_lock().unwrap()));
        corio::yield_now().await;
        let _waiter = lock_waiter(&lock, "waiter");
        corio::yield_now().await;
        let table = corio::debug::dump().to_string();
        assert!(
            table.contains("Lock#1 is held by code outside any task"),
            "{table}"
        );
    });
}
