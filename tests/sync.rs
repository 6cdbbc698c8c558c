//! corio::sync: fairness, cancel safety (the regressions that broke other
//! runtimes, made deterministic with `run_once`), every method's errors, a
//! seeded stress test, and a hand-written executor.

mod common;

use std::cell::{Cell, RefCell};
use std::pin::pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use common::XorShift as Rng;
use corio::EventLoop;
use corio::sync::{
    BoundedSemaphore, Event, LifoQueue, Lock, PriorityQueue, Queue, QueueShutDown, Semaphore,
    TryGetError, TryPutError,
};

/// Runs turns until no task is polled any more (bounded). A no-op callback
/// is queued before each turn so that a turn never blocks waiting.
fn settle(lp: &mut EventLoop) {
    for _ in 0..100 {
        step(lp);
        lp.call_soon(|| {});
        if lp.run_once().tasks_polled == 0 {
            return;
        }
    }
    panic!("the loop did not settle");
}

/// One turn that does not block.
fn step(lp: &mut EventLoop) {
    lp.call_soon(|| {});
    lp.run_once();
}

// ----- Semaphore -----------------------------------------------------------------

#[test]
fn semaphore_waiters_are_served_in_the_order_they_came() {
    let mut lp = EventLoop::new().unwrap();
    let sem = Rc::new(Semaphore::new(0));
    let order = Rc::new(RefCell::new(Vec::new()));
    for i in 0..5 {
        let (sem, order) = (sem.clone(), order.clone());
        lp.spawn(async move {
            sem.acquire().await.forget();
            order.borrow_mut().push(i);
        })
        .detach();
    }
    settle(&mut lp);
    for _ in 0..5 {
        sem.release();
        settle(&mut lp);
    }
    assert_eq!(*order.borrow(), [0, 1, 2, 3, 4]);
}

#[test]
fn a_newcomer_does_not_barge_ahead_of_a_waiter_that_was_handed_a_permit() {
    let mut lp = EventLoop::new().unwrap();
    let sem = Rc::new(Semaphore::new(0));
    let s = sem.clone();
    let waiter = lp.spawn(async move { s.acquire().await.forget() });
    settle(&mut lp); // parked
    sem.release(); // handed to the waiter, which has not run yet
    assert!(sem.try_acquire().is_none(), "the permit is the waiter's");
    assert_eq!(lp.run_until_complete(waiter), Ok(()));
}

#[test]
fn a_semaphore_waiter_cancelled_after_a_release_woke_it_passes_the_permit_on() {
    a_waiter_handed_a_permit_then_cancelled_passes_it_on(false);
}

/// python/cpython#90155: the release wakes A; A is cancelled before it
/// runs; the permit must not vanish. Through `acquire` or, if `owned`,
/// `acquire_owned`.
fn a_waiter_handed_a_permit_then_cancelled_passes_it_on(owned: bool) {
    let mut lp = EventLoop::new().unwrap();
    let sem = Rc::new(Semaphore::new(1));
    sem.try_acquire().unwrap().forget(); // the one permit is taken
    let got = Rc::new(Cell::new(0));
    let spawn_waiter = |lp: &mut EventLoop| {
        let (sem, got) = (sem.clone(), got.clone());
        lp.spawn(async move {
            if owned {
                sem.acquire_owned().await.forget();
            } else {
                sem.acquire().await.forget();
            }
            got.set(got.get() + 1);
        })
    };
    let a = spawn_waiter(&mut lp);
    let b = spawn_waiter(&mut lp);
    settle(&mut lp); // both parked, A first
    sem.release(); // handed to A, A queued
    assert!(a.cancel()); // A dropped before it runs
    settle(&mut lp);
    assert_eq!(got.get(), 1, "B got the permit A never used");
    assert!(b.is_done());
    assert_eq!(sem.available_permits(), 0);
    assert_eq!(Rc::strong_count(&sem), 1, "no permit keeps the semaphore");
}

#[test]
fn a_waiter_whose_timeout_expires_in_the_same_turn_as_the_release_loses_no_permit() {
    let mut lp = EventLoop::new().unwrap();
    let sem = Rc::new(Semaphore::new(0));
    let s = sem.clone();
    let waiter = lp.spawn(async move {
        corio::time::timeout(Duration::from_millis(5), s.acquire())
            .await
            .map(|permit| permit.forget())
    });
    settle(&mut lp); // parked, its deadline armed
    std::thread::sleep(Duration::from_millis(20)); // the deadline is past
    let s = sem.clone();
    lp.call_soon(move || s.release()); // the release runs in the same turn
    let outcome = lp.run_until_complete(waiter).unwrap();
    // Either the waiter took the permit, or it timed out and the permit
    // stayed: never both, never neither.
    match outcome {
        Ok(()) => assert_eq!(sem.available_permits(), 0),
        Err(_) => assert_eq!(sem.available_permits(), 1),
    }
}

#[test]
fn bounded_semaphore_refuses_a_release_past_its_bound() {
    let sem = BoundedSemaphore::new(2);
    let err = sem.release().unwrap_err();
    assert!(err.to_string().contains("released too many times"));
    sem.try_acquire().unwrap().forget();
    sem.release().unwrap();
    assert_eq!(sem.available_permits(), 2);
    assert!(sem.release().is_err());
}

#[test]
fn semaphore_methods_report_their_state() {
    let sem = Semaphore::new(1);
    assert!(!sem.locked());
    let permit = sem.try_acquire().unwrap();
    assert!(sem.locked());
    assert!(sem.try_acquire().is_none());
    drop(permit);
    assert_eq!(sem.available_permits(), 1);
    sem.release();
    assert_eq!(sem.available_permits(), 2);
}

// ----- Lock ----------------------------------------------------------------------

#[test]
fn a_lock_is_handed_on_in_order_and_a_cancelled_next_owner_passes_it_on() {
    // bpo-27585: the lock is released to A, A is cancelled before it runs:
    // B must get the lock, and it must not stay locked forever.
    let mut lp = EventLoop::new().unwrap();
    let lock = Rc::new(Lock::new(Vec::new()));
    let guard_holder = {
        let lock = lock.clone();
        lp.run_until_complete(async move {
            // Holds the lock in a task until told to let go.
            let release = Rc::new(Event::new());
            let r = release.clone();
            let holder = corio::spawn(async move {
                let _guard = lock.lock().await;
                r.wait().await;
            });
            corio::yield_now().await;
            (holder, release)
        })
    };
    let spawn_waiter = |lp: &mut EventLoop, name: &'static str| {
        let lock = lock.clone();
        lp.spawn(async move { lock.lock().await.push(name) })
    };
    let a = spawn_waiter(&mut lp, "a");
    let b = spawn_waiter(&mut lp, "b");
    settle(&mut lp);
    let (holder, release) = guard_holder;
    release.set();
    // The holder runs and drops its guard: the lock is handed to A...
    step(&mut lp);
    assert!(holder.is_done());
    // ...and A is cancelled before it ran.
    assert!(a.cancel());
    settle(&mut lp);
    assert!(b.is_done());
    assert!(!lock.locked(), "the lock was not lost");
    assert_eq!(
        *lp.run_until_complete(async { lock.lock().await.clone() }),
        ["b"]
    );
}

#[test]
#[allow(clippy::let_and_return)] // the guard must go before the lock does
fn without_a_lock_read_await_write_loses_updates_and_with_it_none() {
    // Seed 004's ticket counter, on one thread.
    let lost = corio::run(async {
        let tickets = Rc::new(Cell::new(100));
        let sellers: Vec<_> = (0..10)
            .map(|_| {
                let t = tickets.clone();
                corio::spawn(async move {
                    let n = t.get();
                    corio::yield_now().await;
                    t.set(n - 1);
                })
            })
            .collect();
        corio::gather(sellers).await;
        tickets.get()
    });
    assert_ne!(lost, 90, "updates were lost without a lock");
    let kept = corio::run(async {
        let tickets = Rc::new(Lock::new(100));
        let sellers: Vec<_> = (0..10)
            .map(|_| {
                let t = tickets.clone();
                corio::spawn(async move {
                    let mut left = t.lock().await;
                    let n = *left;
                    corio::yield_now().await;
                    *left = n - 1;
                })
            })
            .collect();
        corio::gather(sellers).await;
        let left = *tickets.lock().await;
        left
    });
    assert_eq!(kept, 90);
}

#[test]
fn try_lock_and_get_mut_work() {
    let mut lock = Lock::new(1);
    {
        let mut guard = lock.try_lock().unwrap();
        *guard += 1;
        assert!(lock.try_lock().is_none());
        assert!(lock.locked());
    }
    *lock.get_mut() += 1;
    assert_eq!(lock.into_inner(), 3);
}

// ----- Event ---------------------------------------------------------------------

#[test]
fn set_wakes_every_waiter_even_if_cleared_before_they_run() {
    let mut lp = EventLoop::new().unwrap();
    let event = Rc::new(Event::new());
    let woken = Rc::new(Cell::new(0));
    for _ in 0..3 {
        let (event, woken) = (event.clone(), woken.clone());
        lp.spawn(async move {
            event.wait().await;
            woken.set(woken.get() + 1);
        })
        .detach();
    }
    settle(&mut lp);
    event.set();
    event.clear(); // before the waiters ran
    settle(&mut lp);
    assert_eq!(woken.get(), 3);
    assert!(!event.is_set());
}

#[test]
fn a_dropped_event_wait_leaves_nothing_behind() {
    corio::run(async {
        let event = Event::new();
        assert!(
            corio::time::timeout(Duration::from_millis(1), event.wait())
                .await
                .is_err()
        );
        event.set();
        event.wait().await;
    });
}

// ----- Queue ---------------------------------------------------------------------

#[test]
fn a_getter_cancelled_with_an_item_already_handed_to_it_loses_no_item() {
    let mut lp = EventLoop::new().unwrap();
    let queue = Rc::new(Queue::new(0));
    let got = Rc::new(RefCell::new(Vec::new()));
    let spawn_getter = |lp: &mut EventLoop| {
        let (queue, got) = (queue.clone(), got.clone());
        lp.spawn(async move {
            let item = queue.get().await.unwrap();
            got.borrow_mut().push(item);
        })
    };
    let a = spawn_getter(&mut lp);
    let b = spawn_getter(&mut lp);
    settle(&mut lp);
    queue.put_nowait("item").unwrap(); // handed to A
    assert!(a.cancel()); // A dropped before it runs
    settle(&mut lp);
    assert_eq!(*got.borrow(), ["item"], "B got it");
    assert!(b.is_done());
    // Without a second getter, the item goes back to the front.
    let c = spawn_getter(&mut lp);
    settle(&mut lp);
    queue.put_nowait("second").unwrap();
    assert!(c.cancel());
    settle(&mut lp);
    assert_eq!(queue.get_nowait(), Ok("second"));
}

#[test]
fn a_putter_cancelled_after_a_place_was_handed_to_it_passes_the_place_on() {
    let mut lp = EventLoop::new().unwrap();
    let queue = Rc::new(Queue::new(1));
    queue.put_nowait(0).unwrap(); // full
    let spawn_putter = |lp: &mut EventLoop, n: i32| {
        let queue = queue.clone();
        lp.spawn(async move { queue.put(n).await.unwrap() })
    };
    let a = spawn_putter(&mut lp, 1);
    let b = spawn_putter(&mut lp, 2);
    settle(&mut lp);
    assert_eq!(queue.get_nowait(), Ok(0)); // a place is handed to A
    assert!(a.cancel());
    settle(&mut lp);
    assert!(b.is_done());
    assert_eq!(queue.get_nowait(), Ok(2));
    assert_eq!(queue.get_nowait(), Err(TryGetError::Empty));
}

#[test]
fn a_bounded_queue_makes_producers_wait_in_order() {
    let got = corio::run(async {
        let queue = Rc::new(Queue::new(2));
        let producers: Vec<_> = (0..3)
            .map(|p| {
                let q = queue.clone();
                corio::spawn(async move {
                    for i in 0..3 {
                        q.put(p * 10 + i).await.unwrap();
                    }
                })
            })
            .collect();
        let mut got = Vec::new();
        for _ in 0..9 {
            got.push(queue.get().await.unwrap());
            assert!(queue.qsize() <= 2);
        }
        corio::gather(producers).await;
        got
    });
    let mut sorted = got.clone();
    sorted.sort();
    assert_eq!(sorted, [0, 1, 2, 10, 11, 12, 20, 21, 22]);
}

#[test]
fn nowait_errors_full_empty_and_shut_down() {
    let queue = Queue::new(1);
    assert_eq!(queue.get_nowait(), Err(TryGetError::Empty));
    queue.put_nowait(1).unwrap();
    assert!(queue.full());
    assert_eq!(queue.put_nowait(2), Err(TryPutError::Full(2)));
    queue.shutdown(false);
    assert_eq!(queue.put_nowait(3), Err(TryPutError::ShutDown(3)));
    assert_eq!(queue.get_nowait(), Ok(1));
    assert_eq!(queue.get_nowait(), Err(TryGetError::ShutDown));
}

#[test]
fn shutdown_fails_waiting_putters_and_getters() {
    let mut lp = EventLoop::new().unwrap();
    let full = Rc::new(Queue::new(1));
    full.put_nowait(0).unwrap();
    let f = full.clone();
    let putter = lp.spawn(async move { f.put(1).await });
    let empty = Rc::new(Queue::<i32>::new(0));
    let e = empty.clone();
    let getter = lp.spawn(async move { e.get().await });
    settle(&mut lp);
    full.shutdown(false);
    empty.shutdown(false);
    assert_eq!(lp.run_until_complete(putter), Ok(Err(QueueShutDown(1))));
    assert_eq!(lp.run_until_complete(getter), Ok(Err(QueueShutDown(()))));
}

#[test]
fn shutdown_immediate_drops_the_items_and_releases_join() {
    corio::run(async {
        let queue = Rc::new(Queue::new(0));
        queue.put_nowait(1).unwrap();
        queue.put_nowait(2).unwrap();
        let q = queue.clone();
        let joiner = corio::spawn(async move { q.join().await });
        corio::yield_now().await;
        assert!(!joiner.is_done());
        queue.shutdown(true);
        joiner.await.unwrap();
        assert_eq!(queue.qsize(), 0);
    });
}

#[test]
fn join_waits_for_every_task_done_and_extra_task_done_is_an_error() {
    corio::run(async {
        let queue = Rc::new(Queue::new(0));
        for i in 0..3 {
            queue.put(i).await.unwrap();
        }
        let q = queue.clone();
        let worker = corio::spawn(async move {
            for _ in 0..3 {
                q.get().await.unwrap();
                corio::yield_now().await;
                q.task_done().unwrap();
            }
        });
        queue.join().await;
        assert!(worker.is_done() || worker.await.is_ok());
        assert!(queue.task_done().is_err());
    });
}

#[test]
fn lifo_and_priority_queues_give_their_orders() {
    let stack = LifoQueue::new(0);
    for i in 0..3 {
        stack.put_nowait(i).unwrap();
    }
    assert_eq!(stack.get_nowait(), Ok(2));
    let jobs = PriorityQueue::new(0);
    for p in [5, 1, 3] {
        jobs.put_nowait((p, "job")).unwrap();
    }
    assert_eq!(jobs.get_nowait().unwrap().0, 1);
    assert_eq!(jobs.get_nowait().unwrap().0, 3);
}

// ----- stress --------------------------------------------------------------------

#[test]
fn a_seeded_stress_test_conserves_permits_and_delivers_every_item_once() {
    let mut lp = EventLoop::new().unwrap();
    let sem = Rc::new(Semaphore::new(3));
    let queue = Rc::new(Queue::new(4));
    let received = Rc::new(RefCell::new(Vec::new()));
    let mut rng = Rng(0x5eed);
    let mut tasks = Vec::new();
    const ITEMS: u64 = 600;
    // Producers: each item is put once; a cancelled producer's item is
    // re-put by the test (a put dropped before it completed put nothing).
    let pending_items = Rc::new(RefCell::new((0..ITEMS).collect::<Vec<_>>()));
    let cancelled = Cell::new(0);
    for round in 0..2000 {
        match rng.next() % 4 {
            0 => {
                let item = pending_items.borrow_mut().pop();
                if let Some(item) = item {
                    let (q, p) = (queue.clone(), pending_items.clone());
                    let delay = rng.next() % 3;
                    /// Gives the item back unless it was put — also if the
                    /// task is dropped before it ever ran.
                    struct Back(Rc<RefCell<Vec<u64>>>, u64, bool);
                    impl Drop for Back {
                        fn drop(&mut self) {
                            if !self.2 {
                                self.0.borrow_mut().push(self.1);
                            }
                        }
                    }
                    let back = Back(p, item, false);
                    tasks.push(lp.spawn(async move {
                        let mut back = back;
                        for _ in 0..delay {
                            corio::yield_now().await;
                        }
                        q.put(item).await.unwrap();
                        back.2 = true;
                    }));
                }
            }
            1 => {
                let (q, s, r) = (queue.clone(), sem.clone(), received.clone());
                let limit = Duration::from_micros(rng.next() % 300);
                tasks.push(lp.spawn(async move {
                    let _permit = s.acquire().await;
                    if let Ok(Ok(item)) = corio::time::timeout(limit, q.get()).await {
                        r.borrow_mut().push(item);
                        corio::yield_now().await;
                    }
                }));
            }
            2 => {
                // Cancel a random live task (often one that was just handed
                // a permit or an item and has not run yet).
                tasks.retain(|t| !t.is_done());
                if !tasks.is_empty() {
                    let i = (rng.next() as usize) % tasks.len();
                    if tasks[i].cancel() {
                        cancelled.set(cancelled.get() + 1);
                    }
                }
            }
            _ => {
                let s = sem.clone();
                tasks.push(lp.spawn(async move {
                    let _permit = s.acquire().await;
                    corio::yield_now().await;
                }));
            }
        }
        if round % 2 == 0 {
            step(&mut lp);
        }
    }
    // Drain: cancel nothing more; re-put leftovers and collect everything.
    settle(&mut lp);
    let (q, s, r, p) = (
        queue.clone(),
        sem.clone(),
        received.clone(),
        pending_items.clone(),
    );
    lp.run_until_complete(async move {
        loop {
            let next = p.borrow_mut().pop();
            let Some(item) = next else { break };
            q.put(item).await.unwrap();
            while let Ok(item) = q.get_nowait() {
                r.borrow_mut().push(item);
            }
        }
        while let Ok(item) = q.get_nowait() {
            r.borrow_mut().push(item);
        }
        // Every task holding a permit has finished or been cancelled.
        corio::time::sleep(Duration::from_millis(5)).await;
        assert_eq!(s.available_permits(), 3, "permits conserved");
    });
    drop(tasks);
    assert!(
        cancelled.get() > 100,
        "only {} cancellations",
        cancelled.get()
    );
    let mut got = received.borrow().clone();
    got.sort();
    assert_eq!(
        got,
        (0..ITEMS).collect::<Vec<_>>(),
        "every item exactly once"
    );
}

// ----- another executor ----------------------------------------------------------

/// A minimal executor: polls one future with a no-op waker until ready.
/// Enough here because every wake in these tests comes from the future's
/// own progress.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1_000_000 {
        if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
    }
    panic!("block_on: not ready after a million polls");
}

#[test]
fn the_primitives_need_nothing_but_a_waker() {
    let out = block_on(async {
        let lock = Lock::new(0);
        *lock.lock().await += 1;
        let sem = Semaphore::new(1);
        let _permit = sem.acquire().await;
        let queue = Queue::new(0);
        queue.put(5).await.unwrap();
        let event = Event::new();
        event.set();
        event.wait().await;
        let n = *lock.lock().await;
        n + queue.get().await.unwrap()
    });
    assert_eq!(out, 6);
}

// ----- Condition -----------------------------------------------------------------

#[test]
fn notify_n_wakes_that_many_waiters_in_order_and_notify_all_the_rest() {
    use corio::sync::Condition;
    let mut lp = EventLoop::new().unwrap();
    let lock = Rc::new(Lock::new(()));
    let cond = Rc::new(Condition::new());
    let woken = Rc::new(RefCell::new(Vec::new()));
    for i in 0..4 {
        let (lock, cond, woken) = (lock.clone(), cond.clone(), woken.clone());
        lp.spawn(async move {
            let guard = lock.lock().await;
            let _guard = cond.wait(guard).await;
            woken.borrow_mut().push(i);
        })
        .detach();
    }
    settle(&mut lp);
    assert!(!lock.locked(), "waiting releases the lock");
    cond.notify(2);
    settle(&mut lp);
    assert_eq!(*woken.borrow(), [0, 1]);
    cond.notify_all();
    settle(&mut lp);
    assert_eq!(*woken.borrow(), [0, 1, 2, 3]);
}

#[test]
fn a_notified_waiter_dropped_before_it_ran_passes_the_notification_on() {
    // tokio-rs/tokio#4618: the notification must not be lost.
    use corio::sync::Condition;
    let mut lp = EventLoop::new().unwrap();
    let lock = Rc::new(Lock::new(()));
    let cond = Rc::new(Condition::new());
    let woken = Rc::new(Cell::new(0));
    let spawn_waiter = |lp: &mut EventLoop| {
        let (lock, cond, woken) = (lock.clone(), cond.clone(), woken.clone());
        lp.spawn(async move {
            let guard = lock.lock().await;
            let _guard = cond.wait(guard).await;
            woken.set(woken.get() + 1);
        })
    };
    let a = spawn_waiter(&mut lp);
    let b = spawn_waiter(&mut lp);
    settle(&mut lp);
    cond.notify(1); // to A
    assert!(a.cancel()); // A dropped before it ran
    settle(&mut lp);
    assert_eq!(woken.get(), 1, "B got A's notification");
    assert!(b.is_done());
}

#[test]
fn wait_for_checks_the_predicate_after_every_notification() {
    use corio::sync::Condition;
    corio::run(async {
        let lock = Rc::new(Lock::new(0));
        let cond = Rc::new(Condition::new());
        let (l, c) = (lock.clone(), cond.clone());
        let waiter = corio::spawn(async move {
            let guard = c.wait_for(l.lock().await, |n| *n == 3).await;
            *guard
        });
        for _ in 0..3 {
            corio::yield_now().await;
            *lock.lock().await += 1;
            cond.notify_all();
        }
        assert_eq!(waiter.await, Ok(3));
    });
}

// ----- Barrier -------------------------------------------------------------------

#[test]
fn a_barrier_releases_each_round_together_and_a_cancelled_arrival_unarrives() {
    use corio::sync::Barrier;
    let mut lp = EventLoop::new().unwrap();
    let barrier = Rc::new(Barrier::new(2));
    let b = barrier.clone();
    let first = lp.spawn(async move { b.wait().await.is_leader() });
    settle(&mut lp);
    assert_eq!(barrier.n_waiting(), 1);
    assert!(first.cancel());
    settle(&mut lp);
    assert_eq!(barrier.n_waiting(), 0, "the cancelled task left the round");
    let tasks: Vec<_> = (0..4)
        .map(|_| {
            let b = barrier.clone();
            lp.spawn(async move { b.wait().await.is_leader() })
        })
        .collect();
    let leaders = lp
        .run_until_complete(corio::gather(tasks))
        .into_iter()
        .filter(|r| *r == Ok(true))
        .count();
    assert_eq!(leaders, 2, "two rounds, one leader each");
}

// ----- oneshot and mpsc ------------------------------------------------------------

#[test]
fn oneshot_delivers_once_and_reports_a_dropped_sender() {
    use corio::sync::oneshot;
    corio::run(async {
        let (tx, rx) = oneshot::channel();
        corio::spawn(async move { tx.send(7).unwrap() }).detach();
        assert_eq!(rx.await, Ok(7));
        let (tx, rx) = oneshot::channel::<u8>();
        drop(tx);
        assert_eq!(rx.await, Err(oneshot::RecvError));
        let (tx, rx) = oneshot::channel();
        drop(rx);
        assert!(tx.is_closed());
        assert_eq!(tx.send(1), Err(1));
    });
}

#[test]
#[should_panic(expected = "oneshot Receiver was polled after it returned its value")]
fn a_oneshot_receiver_polled_again_after_its_value_panics_instead_of_blaming_the_sender() {
    use corio::sync::oneshot;
    use std::future::Future;
    use std::task::{Context, Poll};
    let (tx, mut rx) = oneshot::channel();
    tx.send(1).unwrap();
    let mut cx = Context::from_waker(std::task::Waker::noop());
    assert_eq!(
        std::pin::Pin::new(&mut rx).poll(&mut cx),
        Poll::Ready(Ok(1))
    );
    // A second poll used to answer `Err(RecvError)`: "the sender was
    // dropped without sending", which it was not.
    let _ = std::pin::Pin::new(&mut rx).poll(&mut cx);
}

#[test]
fn mpsc_ends_when_every_sender_is_gone_and_fails_sends_when_the_receiver_is() {
    use corio::sync::mpsc;
    corio::run(async {
        let (tx, mut rx) = mpsc::channel(2);
        let tx2 = tx.clone();
        tx.send(1).await.unwrap();
        tx2.send(2).await.unwrap();
        drop((tx, tx2));
        assert_eq!(rx.recv().await, Some(1));
        assert_eq!(rx.recv().await, Some(2));
        assert_eq!(rx.recv().await, None);

        let (tx, rx) = mpsc::channel(1);
        tx.send(1).await.unwrap();
        let t = Rc::new(tx);
        let t2 = t.clone();
        let blocked = corio::spawn(async move { t2.send(2).await });
        corio::yield_now().await;
        drop(rx);
        assert_eq!(blocked.await, Ok(Err(mpsc::SendError(2))));
        assert!(t.is_closed());
    });
}

#[test]
fn an_mpsc_recv_dropped_midway_loses_nothing_and_the_receiver_is_a_stream() {
    use corio::sync::mpsc;
    use futures_core::Stream;
    corio::run(async {
        let (tx, mut rx) = mpsc::unbounded_channel();
        assert!(
            corio::time::timeout(Duration::from_millis(1), rx.recv())
                .await
                .is_err()
        );
        tx.try_send("kept").unwrap();
        let next = std::future::poll_fn(|cx| std::pin::Pin::new(&mut rx).poll_next(cx)).await;
        assert_eq!(next, Some("kept"));
    });
}

#[test]
fn debug_output_names_each_queue_kind_and_shows_a_bounded_semaphore_plainly() {
    let fifo: Queue<u8> = Queue::new(3);
    let lifo: LifoQueue<u8> = LifoQueue::new(3);
    let prio: PriorityQueue<u8> = PriorityQueue::new(3);
    assert!(format!("{fifo:?}").starts_with("Queue {"), "{fifo:?}");
    assert!(format!("{lifo:?}").starts_with("LifoQueue {"), "{lifo:?}");
    assert!(
        format!("{prio:?}").starts_with("PriorityQueue {"),
        "{prio:?}"
    );
    let sem = BoundedSemaphore::new(2);
    assert_eq!(
        format!("{sem:?}"),
        "BoundedSemaphore { bound: 2, permits: 2, waiting: 0 }"
    );
}

/// A queued item whose destructor panics (user code, run by the queue).
#[derive(Debug)]
struct PanicsWhenDropped(bool);

impl Drop for PanicsWhenDropped {
    fn drop(&mut self) {
        if self.0 && !std::thread::panicking() {
            panic!("an item's destructor panics");
        }
    }
}

#[test]
fn an_immediate_shutdown_wakes_its_putters_and_joiners_even_if_an_item_destructor_panics() {
    use std::panic::{AssertUnwindSafe, catch_unwind};
    corio::run(async {
        let queue = Rc::new(Queue::new(1));
        queue.put_nowait(PanicsWhenDropped(true)).unwrap();
        let q = queue.clone();
        let putter = corio::spawn(async move { q.put(PanicsWhenDropped(false)).await.is_err() });
        let q = queue.clone();
        let joiner = corio::spawn(async move { q.join().await });
        corio::yield_now().await;
        corio::yield_now().await;
        let shut = catch_unwind(AssertUnwindSafe(|| queue.shutdown(true)));
        assert!(shut.is_err(), "the destructor's panic reaches the caller");
        // They were answered before the items were dropped: they used to
        // sleep for good.
        let put = corio::time::timeout(Duration::from_secs(5), putter).await;
        assert!(matches!(put, Ok(Ok(true))), "putter: {put:?}");
        let join = corio::time::timeout(Duration::from_secs(5), joiner).await;
        assert!(matches!(join, Ok(Ok(()))), "joiner: {join:?}");
    });
}

#[test]
fn a_sender_waiting_on_a_full_channel_fails_when_the_receiver_task_is_cancelled_with_a_panicking_value_queued()
 {
    use corio::sync::mpsc;
    corio::run(async {
        let (tx, mut rx) = mpsc::channel(1);
        tx.try_send(PanicsWhenDropped(true)).unwrap();
        let receiver = corio::spawn(async move {
            corio::time::sleep(Duration::from_secs(3600)).await;
            rx.recv().await.is_some()
        });
        let sender = corio::spawn(async move { tx.send(PanicsWhenDropped(false)).await.is_err() });
        corio::yield_now().await;
        // The loop drops the cancelled task's future, the receiver in it,
        // and contains the value's panic.
        receiver.cancel();
        let sent = corio::time::timeout(Duration::from_secs(5), sender).await;
        assert!(matches!(sent, Ok(Ok(true))), "sender: {sent:?}");
    });
}

#[test]
fn a_lock_whose_holder_panicked_goes_to_the_next_waiter_unpoisoned() {
    corio::run(async {
        let lock = Rc::new(Lock::new(0));
        let l = lock.clone();
        let holder = corio::spawn(async move {
            let mut guard = l.lock().await;
            *guard = 1;
            corio::yield_now().await;
            *guard = 2;
            panic!("panics while it holds the lock");
        });
        corio::yield_now().await;
        let l = lock.clone();
        let waiter = corio::spawn(async move { *l.lock().await });
        assert!(holder.await.is_err());
        assert_eq!(
            corio::time::timeout(Duration::from_secs(5), waiter).await,
            Ok(Ok(2))
        );
    });
}

#[test]
fn owned_permits_limit_spawned_tasks_and_a_cancelled_owned_waiter_passes_its_permit_on() {
    let mut lp = EventLoop::new().unwrap();
    let sem = Rc::new(Semaphore::new(1));
    let inside = Rc::new(Cell::new(0));
    let most = Rc::new(Cell::new(0));
    // The caller takes each permit and hands it to the task it spawns.
    let (s, i, m) = (sem.clone(), inside.clone(), most.clone());
    let spawner = lp.spawn(async move {
        let mut tasks = Vec::new();
        for _ in 0..3 {
            let permit = s.clone().acquire_owned().await;
            let (i, m) = (i.clone(), m.clone());
            tasks.push(corio::spawn(async move {
                let _permit = permit;
                i.set(i.get() + 1);
                m.set(m.get().max(i.get()));
                corio::yield_now().await;
                i.set(i.get() - 1);
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
    settle(&mut lp);
    assert!(spawner.is_done());
    assert_eq!(most.get(), 1, "never two permit holders at once");
    assert_eq!(sem.available_permits(), 1);

    sem.clone().try_acquire_owned().unwrap().forget();
    assert_eq!(
        Rc::strong_count(&sem),
        1,
        "a forgotten permit lets its Rc go"
    );
    a_waiter_handed_a_permit_then_cancelled_passes_it_on(true);
}

// ----- broadcast -----------------------------------------------------------------

/// A value that counts its clones and its drops.
#[derive(Debug)]
struct Counted {
    clones: Rc<Cell<usize>>,
    drops: Rc<Cell<usize>>,
}

impl Clone for Counted {
    fn clone(&self) -> Self {
        self.clones.set(self.clones.get() + 1);
        Counted {
            clones: self.clones.clone(),
            drops: self.drops.clone(),
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.drops.set(self.drops.get() + 1);
    }
}

#[test]
fn broadcast_gives_every_receiver_every_value_in_order_cloning_for_all_but_the_last() {
    use corio::sync::broadcast;
    let (clones, drops) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    corio::run(async {
        let (tx, mut a) = broadcast::channel(8);
        let mut b = tx.subscribe();
        let mut c = b.resubscribe();
        for _ in 0..3 {
            let value = Counted {
                clones: clones.clone(),
                drops: drops.clone(),
            };
            assert_eq!(tx.send(value).unwrap(), 3);
        }
        for rx in [&mut a, &mut b, &mut c] {
            for _ in 0..3 {
                drop(rx.recv().await.unwrap());
            }
            assert_eq!(rx.try_recv().unwrap_err(), broadcast::TryRecvError::Empty);
        }
    });
    assert_eq!(
        clones.get(),
        6,
        "two clones per value, the third receiver gets it moved"
    );
    assert_eq!(drops.get(), 9, "nothing left in the channel");
}

#[test]
fn a_broadcast_receiver_that_lags_is_told_how_many_it_missed_and_goes_on_with_the_oldest_kept() {
    use corio::sync::broadcast::{RecvError, channel};
    corio::run(async {
        let (tx, mut slow) = channel(2);
        let mut fast = tx.subscribe();
        for i in 0..5 {
            tx.send(i).unwrap();
            assert_eq!(fast.recv().await, Ok(i));
        }
        assert_eq!(slow.recv().await, Err(RecvError::Lagged(3)));
        assert_eq!(slow.recv().await, Ok(3));
        assert_eq!(slow.recv().await, Ok(4));
        drop(tx);
        assert_eq!(slow.recv().await, Err(RecvError::Closed));
        assert_eq!(fast.recv().await, Err(RecvError::Closed));
    });
}

#[test]
fn a_broadcast_value_goes_once_every_receiver_took_it_or_was_dropped() {
    use corio::sync::broadcast::channel;
    let (clones, drops) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    let counted = || Counted {
        clones: clones.clone(),
        drops: drops.clone(),
    };
    let (tx, mut a) = channel(8);
    let b = tx.subscribe();
    tx.send(counted()).unwrap();
    drop(a.try_recv().unwrap());
    assert_eq!(drops.get(), 1, "a's clone; b still has to take it");
    drop(b);
    assert_eq!(drops.get(), 2, "b is gone: nobody waits for the value");
    let late = tx.subscribe();
    tx.send(counted()).unwrap();
    drop(a);
    drop(late);
    assert_eq!(drops.get(), 3, "no receiver left to take the second");
    assert!(tx.send(counted()).is_err(), "nobody subscribed");
    assert_eq!(
        drops.get(),
        4,
        "the value came back in the error, then went"
    );
}

#[test]
fn a_waiting_broadcast_recv_is_woken_by_a_send_and_by_the_last_sender_going() {
    use corio::sync::broadcast::{RecvError, channel};
    corio::run(async {
        let (tx, rx) = channel::<&str>(4);
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let mut rx = rx.resubscribe();
                corio::spawn(async move { (rx.recv().await, rx.recv().await) })
            })
            .collect();
        corio::yield_now().await; // all three wait
        let tx2 = tx.clone();
        tx.send("one").unwrap();
        drop(tx);
        corio::yield_now().await;
        drop(tx2); // the last sender: the second recv of each ends
        for waiter in waiters {
            assert_eq!(waiter.await.unwrap(), (Ok("one"), Err(RecvError::Closed)));
        }
    });
}

#[test]
fn a_broadcast_recv_dropped_while_waiting_takes_nothing() {
    use corio::sync::broadcast::channel;
    corio::run(async {
        let (tx, mut rx) = channel(4);
        for _ in 0..3 {
            let timed_out = corio::time::timeout(Duration::from_millis(1), rx.recv()).await;
            assert!(timed_out.is_err());
        }
        let sender = corio::spawn(async move {
            corio::yield_now().await;
            tx.send(7).unwrap();
            tx
        });
        assert_eq!(rx.recv().await, Ok(7));
        drop(sender.await.unwrap());
        assert!(rx.recv().await.is_err());
    });
}

#[test]
fn a_broadcast_value_dropped_for_lack_of_room_may_use_the_channel_in_its_destructor() {
    use corio::sync::broadcast::{Sender, channel};
    // The oldest value goes inside `send`; its destructor sends again.
    struct SendsOnDrop(Option<Sender<Msg>>);
    #[derive(Clone)]
    enum Msg {
        Plain,
        #[allow(dead_code, reason = "held only for its destructor")]
        Loud(Rc<SendsOnDrop>),
    }
    impl Drop for SendsOnDrop {
        fn drop(&mut self) {
            if let Some(tx) = self.0.take() {
                let _ = tx.send(Msg::Plain);
            }
        }
    }
    let (tx, mut rx) = channel(1);
    tx.send(Msg::Loud(Rc::new(SendsOnDrop(Some(tx.clone())))))
        .ok()
        .unwrap();
    tx.send(Msg::Plain).ok().unwrap(); // pushes the loud one out
    assert_eq!(
        rx.try_recv().err(),
        Some(corio::sync::broadcast::TryRecvError::Lagged(2)),
        "the loud one went, and the value it sent pushed out the plain one"
    );
    assert!(matches!(rx.try_recv(), Ok(Msg::Plain)));
}

#[test]
fn receivers_waiting_for_a_broadcast_are_woken_even_when_the_value_it_pushes_out_panics_in_drop() {
    use corio::sync::broadcast::channel;
    common::quiet_panics();
    /// Panics when dropped, unless it is a clone.
    struct Bomb {
        armed: bool,
    }
    impl Clone for Bomb {
        fn clone(&self) -> Self {
            Bomb { armed: false }
        }
    }
    impl Drop for Bomb {
        fn drop(&mut self) {
            if self.armed && !std::thread::panicking() {
                panic!("expected: a value's destructor panics");
            }
        }
    }
    let got = corio::run(async {
        let (tx, _keeps_it) = channel::<Bomb>(1);
        tx.send(Bomb { armed: true }).ok().unwrap();
        let mut rx = tx.subscribe();
        let waiter = corio::spawn(async move { rx.recv().await.is_ok() });
        corio::yield_now().await; // it waits
        let send = std::panic::AssertUnwindSafe(|| tx.send(Bomb { armed: false }));
        assert!(
            std::panic::catch_unwind(send).is_err(),
            "the sender sees the panic"
        );
        corio::time::timeout(Duration::from_secs(5), waiter).await
    });
    assert_eq!(got.map(Result::unwrap), Ok(true), "the waiter was woken");
}

#[test]
fn a_channel_recv_dropped_while_waiting_leaves_no_waker_for_the_next_value_to_wake() {
    use std::future::Future;
    // A `recv` under a timeout that expires: the task goes on to other
    // things, and a later value must not wake it for nothing (nor a debug
    // dump show it waiting there still).
    let (waker, wakes) = common::counting_waker();
    let mut cx = Context::from_waker(&waker);
    let (tx, mut rx) = corio::sync::broadcast::channel::<u8>(4);
    assert!(pin!(rx.recv()).poll(&mut cx).is_pending()); // then dropped
    tx.send(1).unwrap();
    let (mtx, mut mrx) = corio::sync::mpsc::unbounded_channel::<u8>();
    assert!(pin!(mrx.recv()).poll(&mut cx).is_pending());
    mtx.try_send(2).unwrap();
    assert_eq!(wakes.load(std::sync::atomic::Ordering::SeqCst), 0);
    assert_eq!(rx.try_recv(), Ok(1), "nothing was taken");
    assert_eq!(mrx.try_recv(), Ok(2));
}

/// Runs `busy` (which completes 10,000 operations that never have to
/// wait) beside a task that counts its turns; returns that count.
fn turns_beside(busy: impl std::future::Future<Output = ()> + 'static) -> u32 {
    corio::run(async move {
        let ticks = Rc::new(Cell::new(0u32));
        let done = Rc::new(Cell::new(false));
        let (t, d) = (ticks.clone(), done.clone());
        let ticker = corio::spawn(async move {
            while !d.get() {
                t.set(t.get() + 1);
                corio::yield_now().await;
            }
        });
        corio::yield_now().await; // the ticker is running
        let before = ticks.get();
        busy.await;
        done.set(true);
        ticker.await.unwrap();
        ticks.get() - before
    })
}

#[test]
fn a_task_whose_primitives_never_make_it_wait_still_lets_other_tasks_run() {
    // tokio's channels and locks take from its cooperative budget; so do
    // corio's: about one turn of the others per 128 operations (10,000 /
    // 128 ≈ 78), where without a budget the busy task would hold the loop
    // for all 10,000.
    const N: usize = 10_000;
    type Case = Box<dyn FnOnce() -> u32>;
    let cases: Vec<(&str, Case)> = vec![
        (
            "mpsc",
            Box::new(|| {
                let (tx, mut rx) = corio::sync::mpsc::unbounded_channel();
                (0..N).for_each(|i| tx.try_send(i).unwrap());
                turns_beside(async move {
                    for _ in 0..N {
                        rx.recv().await.unwrap();
                    }
                })
            }),
        ),
        (
            "bounded mpsc send",
            Box::new(|| {
                let (tx, rx) = corio::sync::mpsc::channel(N);
                turns_beside(async move {
                    for i in 0..N {
                        tx.send(i).await.unwrap();
                    }
                    drop(rx);
                })
            }),
        ),
        (
            "Queue",
            Box::new(|| {
                let queue = Rc::new(Queue::new(0));
                (0..N).for_each(|i| queue.put_nowait(i).unwrap());
                turns_beside(async move {
                    for _ in 0..N {
                        queue.get().await.unwrap();
                    }
                })
            }),
        ),
        (
            "Lock",
            Box::new(|| {
                let lock = Rc::new(Lock::new(0));
                turns_beside(async move {
                    for _ in 0..N {
                        *lock.lock().await += 1;
                    }
                })
            }),
        ),
        (
            "Semaphore",
            Box::new(|| {
                let sem = Rc::new(Semaphore::new(1));
                turns_beside(async move {
                    for _ in 0..N {
                        drop(sem.acquire().await);
                    }
                })
            }),
        ),
        (
            "Event",
            Box::new(|| {
                let event = Rc::new(Event::new());
                event.set();
                turns_beside(async move {
                    for _ in 0..N {
                        event.wait().await;
                    }
                })
            }),
        ),
        (
            "broadcast",
            Box::new(|| {
                let (tx, mut rx) = corio::sync::broadcast::channel(N);
                (0..N).for_each(|i| assert!(tx.send(i).is_ok()));
                turns_beside(async move {
                    for _ in 0..N {
                        rx.recv().await.unwrap();
                    }
                })
            }),
        ),
        (
            "pool channel",
            Box::new(|| {
                let (tx, mut rx) = corio::pool::channel::unbounded();
                (0..N).for_each(|i| tx.send(i).unwrap());
                turns_beside(async move {
                    for _ in 0..N {
                        rx.recv().await.unwrap();
                    }
                })
            }),
        ),
    ];
    for (name, case) in cases {
        let turns = case();
        assert!(
            (60..=100).contains(&turns),
            "{name}: the other task ran {turns} times"
        );
    }
}
