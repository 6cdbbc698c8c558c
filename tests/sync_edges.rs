//! Edge cases of corio::sync found in review, polled by hand with a no-op
//! waker (no loop, no timing): places, handed items, shutdowns, bounds.
#![allow(clippy::bool_assert_comparison)]

mod common;

use common::counting_waker;
use corio::sync::{
    BoundedSemaphore, LifoQueue, PriorityQueue, Queue, QueueShutDown, TryGetError, TryPutError,
    mpsc,
};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

fn poll<F: Future + ?Sized>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

// A putter handed a place that delivers straight to a waiting getter
//    leaves room unused while the next putter keeps waiting.
#[test]
fn a_place_freed_by_a_direct_hand_over_goes_to_the_next_putter() {
    let q: Queue<u32> = Queue::new(1);
    q.put_nowait(0).unwrap(); // full
    let mut p1 = pin!(q.put(1));
    let mut p2 = pin!(q.put(2));
    assert!(poll(p1.as_mut()).is_pending());
    assert!(poll(p2.as_mut()).is_pending());
    assert_eq!(q.get_nowait(), Ok(0)); // place handed to p1 (reserved=1)
    let mut g = pin!(q.get());
    assert!(poll(g.as_mut()).is_pending()); // getter waits: items empty
    assert!(poll(p1.as_mut()).is_ready()); // p1's item goes straight to g
    assert_eq!(poll(g.as_mut()), Poll::Ready(Ok(1)));
    // g took its item: the place went to p2.
    assert_eq!(q.qsize(), 0);
    assert!(poll(p2.as_mut()).is_ready());
    let mut g2 = pin!(q.get());
    assert_eq!(poll(g2.as_mut()), Poll::Ready(Ok(2)));
}

// A putter holding a reserved place completes Ok after shutdown(immediate).
#[test]
fn a_put_handed_a_place_before_a_shutdown_fails_after_it() {
    let q: Queue<u32> = Queue::new(1);
    q.put_nowait(0).unwrap();
    let mut p1 = pin!(q.put(1));
    assert!(poll(p1.as_mut()).is_pending());
    assert_eq!(q.get_nowait(), Ok(0)); // place handed to p1
    q.shutdown(true);
    assert!(matches!(poll(p1.as_mut()), Poll::Ready(Err(_))));
    assert_eq!(q.qsize(), 0);
}

// mpsc: send reports Ok although the receiver is gone.
#[test]
fn an_mpsc_send_waiting_for_room_fails_when_the_receiver_goes() {
    let (tx, mut rx) = mpsc::channel::<u32>(1);
    tx.try_send(0).unwrap();
    let mut s = pin!(tx.send(1));
    assert!(poll(s.as_mut()).is_pending());
    assert_eq!(rx.try_recv(), Ok(0)); // place handed to s
    drop(rx);
    assert_eq!(poll(s.as_mut()), Poll::Ready(Err(mpsc::SendError(1))));
}

// A cancelled getter's item pushes the queue past maxsize.
#[test]
fn an_item_handed_to_a_getter_still_takes_up_room() {
    let q: Queue<u32> = Queue::new(1);
    {
        let mut g = pin!(q.get());
        assert!(poll(g.as_mut()).is_pending());
        q.put_nowait(1).unwrap(); // handed to g
        assert_eq!(q.put_nowait(2), Err(TryPutError::Full(2)));
    } // g dropped with its item: back in the queue
    assert_eq!(q.qsize(), 1);
    assert_eq!(q.get_nowait(), Ok(1));
}

// mpsc: a recv dropped midway keeps its ticket; try_recv then misses
//    the handed item and returns later items first.
#[test]
fn try_recv_after_a_dropped_recv_keeps_the_order() {
    let (tx, mut rx) = mpsc::unbounded_channel::<u32>();
    {
        let mut r = pin!(rx.recv());
        assert!(poll(r.as_mut()).is_pending());
    }
    tx.try_send(1).unwrap();
    tx.try_send(2).unwrap();
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(rx.try_recv(), Ok(2));
}

// Getter handed an item, cancelled after shutdown(immediate): the item
//    returns to the queue, nobody gets it, join never finishes.
#[test]
fn join_ends_when_an_immediate_shutdown_drops_an_item_a_cancelled_getter_held() {
    let q: Queue<u32> = Queue::new(0);
    let mut j = pin!(q.join());
    {
        let mut g = pin!(q.get());
        assert!(poll(g.as_mut()).is_pending());
        q.put_nowait(1).unwrap(); // handed to g, unfinished = 1
        assert!(poll(j.as_mut()).is_pending());
        q.shutdown(true);
    }
    assert_eq!(q.qsize(), 0);
    assert!(poll(j.as_mut()).is_ready());
}

// BoundedSemaphore exceeds its bound while a handed permit is in flight.
#[test]
fn a_bounded_semaphore_counts_a_permit_on_its_way_to_a_waiter() {
    let sem = BoundedSemaphore::new(1);
    sem.try_acquire().unwrap().forget();
    let mut a = pin!(sem.acquire());
    assert!(poll(a.as_mut()).is_pending());
    sem.release().unwrap(); // handed to a
    assert!(sem.release().is_err()); // only one was out
    let permit = poll(a.as_mut());
    assert!(permit.is_ready());
    assert_eq!(sem.available_permits(), 0);
    drop(permit);
    assert_eq!(sem.available_permits(), 1);
}

// Shutdown(false) while a getter was promised an item; that getter is
//    cancelled; the other getter, woken by the shutdown, still finds the
//    item when it runs (asyncio's getters re-check the queue).
#[test]
fn an_item_left_by_a_cancelled_getter_after_a_gentle_shutdown_goes_to_the_next_getter() {
    let q: Queue<u32> = Queue::new(0);
    let mut g2 = pin!(q.get());
    {
        let mut g1 = pin!(q.get());
        assert!(poll(g1.as_mut()).is_pending());
        assert!(poll(g2.as_mut()).is_pending());
        q.put_nowait(1).unwrap(); // promised to g1
        q.shutdown(false); // g2 woken: no more items will come
    }
    assert_eq!(poll(g2.as_mut()), Poll::Ready(Ok(1)));
    assert_eq!(q.get_nowait(), Err(TryGetError::ShutDown));
}
#[test]
fn after_a_gentle_shutdown_a_getter_takes_an_item_promised_to_one_that_has_not_run() {
    // No more items will come, so a promise no longer reserves one (as in
    // asyncio): a getter that runs first takes it — else it would fail
    // with an item still queued, and if the promised getter is then
    // cancelled, nobody would ever take that item.
    let q: Queue<u32> = Queue::new(0);
    let mut g1 = Box::pin(q.get());
    assert!(poll(g1.as_mut()).is_pending());
    q.put_nowait(1).unwrap(); // promised to g1, which has not run yet
    q.shutdown(false);
    let mut g2 = pin!(q.get());
    assert_eq!(poll(g2.as_mut()), Poll::Ready(Ok(1)));
    // The promised getter finds the queue empty and shut down.
    assert_eq!(poll(g1.as_mut()), Poll::Ready(Err(QueueShutDown(()))));
    q.task_done().unwrap();
    let mut join = pin!(q.join());
    assert!(poll(join.as_mut()).is_ready());
}

#[test]
fn two_blocked_senders_both_get_through() {
    let (tx, mut rx) = mpsc::channel::<u32>(1);
    tx.try_send(0).unwrap();
    let mut s1 = pin!(tx.send(1));
    let mut s2 = pin!(tx.send(2));
    assert!(poll(s1.as_mut()).is_pending());
    assert!(poll(s2.as_mut()).is_pending());
    assert_eq!(rx.try_recv(), Ok(0));
    {
        let mut r = pin!(rx.recv());
        assert!(poll(r.as_mut()).is_pending());
        assert!(poll(s1.as_mut()).is_ready());
        assert_eq!(poll(r.as_mut()), Poll::Ready(Some(1)));
    }
    let mut r = pin!(rx.recv());
    assert!(poll(r.as_mut()).is_pending());
    assert!(poll(s2.as_mut()).is_ready());
    assert_eq!(poll(r.as_mut()), Poll::Ready(Some(2)));
}

/// The number after `field: ` in a `Debug` rendering.
fn debug_count(debug: &str, field: &str) -> usize {
    let at = debug.find(&format!("{field}: ")).expect(field) + field.len() + 2;
    let digits: String = debug[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap()
}

#[test]
fn a_stop_event_raced_against_work_keeps_no_place_for_each_round() {
    // A worker's loop: "the next job, unless told to stop". Every round
    // starts a wait on the event and drops it when a job comes first; the
    // event is set only at the end.
    corio::run(async {
        let stop = std::rc::Rc::new(corio::sync::Event::new());
        let jobs = std::rc::Rc::new(Queue::new(1));
        let (s, j) = (stop.clone(), jobs.clone());
        let worker = corio::spawn(async move {
            let mut done = 0u32;
            loop {
                match corio::select(s.wait(), j.get()).await {
                    corio::Either::Left(()) => return done,
                    corio::Either::Right(_job) => done += 1,
                }
            }
        });
        for i in 0..10_000u32 {
            jobs.put(i).await.unwrap();
        }
        corio::yield_now().await;
        let waiting = debug_count(&format!("{stop:?}"), "waiting");
        assert!(
            waiting < 32,
            "{waiting} places in line for one waiter: {stop:?}"
        );
        stop.set();
        assert_eq!(worker.await, Ok(10_000));
    });
}

#[test]
fn cancelled_waits_leave_no_places_in_line() {
    let sem = corio::sync::Semaphore::new(0);
    for _ in 0..1000 {
        let mut acquire = pin!(sem.acquire());
        assert!(poll(acquire.as_mut()).is_pending());
    }
    assert_eq!(debug_count(&format!("{sem:?}"), "waiting"), 0, "{sem:?}");

    corio::run(async {
        let lock = corio::sync::Lock::new(());
        let cond = corio::sync::Condition::new();
        let queue: Queue<u8> = Queue::new(0);
        for _ in 0..1000 {
            let guard = lock.lock().await;
            let wait = corio::time::timeout(std::time::Duration::from_micros(1), cond.wait(guard));
            assert!(wait.await.is_err());
            let get = corio::time::timeout(std::time::Duration::from_micros(1), queue.get());
            assert!(get.await.is_err());
        }
        assert_eq!(debug_count(&format!("{cond:?}"), "waiting"), 0, "{cond:?}");
        assert_eq!(
            debug_count(&format!("{queue:?}"), "getters"),
            0,
            "{queue:?}"
        );
    });
}

#[test]
fn a_waiting_getter_of_a_priority_queue_gets_the_smallest_item_stored_before_it_runs() {
    corio::run(async {
        let queue = std::rc::Rc::new(corio::sync::PriorityQueue::new(0));
        let q = queue.clone();
        let consumer = corio::spawn(async move { q.get().await.unwrap() });
        corio::yield_now().await; // the consumer waits on the empty queue
        queue.put_nowait((9, "background")).unwrap();
        queue.put_nowait((0, "urgent")).unwrap();
        assert_eq!(consumer.await, Ok((0, "urgent")));
        assert_eq!(queue.get_nowait(), Ok((9, "background")));

        // And when the first item is the smallest, it stays first.
        let q = queue.clone();
        let consumer = corio::spawn(async move { q.get().await.unwrap() });
        corio::yield_now().await;
        queue.put_nowait((1, "first")).unwrap();
        queue.put_nowait((5, "second")).unwrap();
        assert_eq!(consumer.await, Ok((1, "first")));
        assert_eq!(queue.get_nowait(), Ok((5, "second")));
    });
}

#[test]
fn a_waiting_getter_of_a_lifo_queue_gets_the_last_item_stored_before_it_runs() {
    corio::run(async {
        let queue = std::rc::Rc::new(corio::sync::LifoQueue::new(0));
        let q = queue.clone();
        let consumer = corio::spawn(async move { q.get().await.unwrap() });
        corio::yield_now().await;
        for i in 0..3 {
            queue.put_nowait(i).unwrap();
        }
        assert_eq!(consumer.await, Ok(2));
        assert_eq!(queue.get_nowait(), Ok(1));
        assert_eq!(queue.get_nowait(), Ok(0));
    });
}

#[test]
fn an_item_handed_to_a_cancelled_lifo_getter_goes_to_the_bottom() {
    let queue = corio::sync::LifoQueue::new(0);
    let mut get = Box::pin(queue.get());
    assert!(poll(get.as_mut()).is_pending());
    queue.put_nowait(1).unwrap(); // handed to the waiting getter
    queue.put_nowait(2).unwrap();
    queue.put_nowait(3).unwrap();
    drop(get); // gone before it took it: 1 is the oldest
    assert_eq!(queue.get_nowait(), Ok(3));
    assert_eq!(queue.get_nowait(), Ok(2));
    assert_eq!(queue.get_nowait(), Ok(1));
}

mod waker_drops {
    //! A waker's destructor may run foreign code (its executor's
    //! bookkeeping), even code that looks at the primitive it waited on: a
    //! waker the primitive lets go of is dropped after its borrow ends.
    use super::poll;
    use std::future::Future;
    use std::pin::pin;
    use std::rc::Rc;
    use std::sync::Arc;
    use std::task::{Context, Wake, Waker};

    use corio::sync::{Event, Queue, Semaphore, oneshot};

    thread_local! {
        static SEM: Rc<Semaphore> = Rc::new(Semaphore::new(0));
        static EVENT: Rc<Event> = Rc::new(Event::new());
        static QUEUE: Rc<Queue<u8>> = Rc::new(Queue::new(1));
    }

    /// A waker whose destructor looks at every primitive (their `Debug`
    /// borrows their state).
    struct Probe;
    impl Wake for Probe {
        fn wake(self: Arc<Self>) {}
    }
    impl Drop for Probe {
        fn drop(&mut self) {
            let seen = format!(
                "{:?} {:?} {:?}",
                SEM.with(Rc::clone),
                EVENT.with(Rc::clone),
                QUEUE.with(Rc::clone)
            );
            assert!(!seen.is_empty());
        }
    }

    /// Polls `future` once with a probe waker that only the future's
    /// primitive keeps; then polls it again with another waker (which
    /// replaces the probe) if `repoll`, and drops it.
    fn wait_then_let_go<F: Future>(future: F, repoll: bool) {
        let mut future = pin!(future);
        let probe = Waker::from(Arc::new(Probe));
        let first = future.as_mut().poll(&mut Context::from_waker(&probe));
        assert!(first.is_pending());
        drop(probe);
        if repoll {
            assert!(poll(future.as_mut()).is_pending());
        }
    }

    #[test]
    fn a_replaced_or_cancelled_waker_is_dropped_outside_the_borrow() {
        let (sem, event, queue) = (
            SEM.with(Rc::clone),
            EVENT.with(Rc::clone),
            QUEUE.with(Rc::clone),
        );
        for repoll in [false, true] {
            wait_then_let_go(sem.acquire(), repoll);
            wait_then_let_go(event.wait(), repoll);
            wait_then_let_go(queue.get(), repoll);
            queue.put_nowait(1).unwrap(); // full: the next put waits
            wait_then_let_go(queue.put(2), repoll);
            assert_eq!(queue.get_nowait(), Ok(1));
            wait_then_let_go(queue.join(), repoll);
            queue.task_done().unwrap();
        }
        let (_sender, receiver) = oneshot::channel::<u8>();
        wait_then_let_go(receiver, true);
    }
}

#[test]
fn waiting_lifo_getters_leave_the_stack_in_lifo_order() {
    corio::run(async {
        let queue = std::rc::Rc::new(corio::sync::LifoQueue::new(0));
        let (q1, q2) = (queue.clone(), queue.clone());
        let first = corio::spawn(async move { q1.get().await.unwrap() });
        let second = corio::spawn(async move { q2.get().await.unwrap() });
        corio::yield_now().await; // both wait on the empty stack
        for i in 1..=4 {
            queue.put_nowait(i).unwrap();
        }
        assert_eq!(first.await, Ok(4));
        assert_eq!(second.await, Ok(3));
        assert_eq!(queue.get_nowait(), Ok(2));
        assert_eq!(queue.get_nowait(), Ok(1));
    });
}

#[test]
fn items_promised_to_two_getters_that_both_go_away_stay_in_fifo_order() {
    let q: Queue<u32> = Queue::new(0);
    let mut g1 = Box::pin(q.get());
    let mut g2 = Box::pin(q.get());
    assert!(poll(g1.as_mut()).is_pending());
    assert!(poll(g2.as_mut()).is_pending());
    q.put_nowait(1).unwrap(); // promised to g1
    q.put_nowait(2).unwrap(); // promised to g2
    drop(g1);
    drop(g2);
    assert_eq!(q.get_nowait(), Ok(1));
    assert_eq!(q.get_nowait(), Ok(2));
}

#[test]
fn when_the_first_of_two_woken_getters_goes_away_the_second_gets_the_oldest_item() {
    let q: Queue<u32> = Queue::new(0);
    let mut g1 = Box::pin(q.get());
    let mut g2 = Box::pin(q.get());
    assert!(poll(g1.as_mut()).is_pending());
    assert!(poll(g2.as_mut()).is_pending());
    q.put_nowait(1).unwrap();
    q.put_nowait(2).unwrap();
    drop(g1);
    assert_eq!(poll(g2.as_mut()), Poll::Ready(Ok(1)));
    assert_eq!(q.get_nowait(), Ok(2));
}

#[test]
fn the_first_of_two_waiting_priority_getters_gets_the_smallest_item() {
    let q = PriorityQueue::new(0);
    let mut g1 = pin!(q.get());
    let mut g2 = pin!(q.get());
    assert!(poll(g1.as_mut()).is_pending());
    assert!(poll(g2.as_mut()).is_pending());
    q.put_nowait((5, "background")).unwrap();
    q.put_nowait((0, "urgent")).unwrap();
    assert_eq!(poll(g1.as_mut()), Poll::Ready(Ok((0, "urgent"))));
    assert_eq!(poll(g2.as_mut()), Poll::Ready(Ok((5, "background"))));
}

#[test]
fn the_first_of_two_waiting_lifo_getters_gets_the_last_item() {
    let q = LifoQueue::new(0);
    let mut g1 = pin!(q.get());
    let mut g2 = pin!(q.get());
    assert!(poll(g1.as_mut()).is_pending());
    assert!(poll(g2.as_mut()).is_pending());
    q.put_nowait(1).unwrap();
    q.put_nowait(2).unwrap();
    assert_eq!(poll(g1.as_mut()), Poll::Ready(Ok(2)));
    assert_eq!(poll(g2.as_mut()), Poll::Ready(Ok(1)));
}

#[test]
fn get_nowait_may_take_an_item_promised_to_a_woken_getter_which_then_waits_again() {
    // asyncio's rule: empty(), qsize() and get_nowait agree; the woken
    // getter that finds nothing goes back in line.
    let q: Queue<u32> = Queue::new(0);
    let mut g1 = pin!(q.get());
    assert!(poll(g1.as_mut()).is_pending());
    q.put_nowait(1).unwrap(); // promised to g1
    assert_eq!(q.qsize(), 1);
    assert_eq!(q.get_nowait(), Ok(1));
    assert!(poll(g1.as_mut()).is_pending(), "g1 waits again");
    q.put_nowait(2).unwrap();
    assert_eq!(poll(g1.as_mut()), Poll::Ready(Ok(2)));
}

#[test]
fn a_newcomer_get_waits_behind_a_getter_woken_for_an_item() {
    let q: Queue<u32> = Queue::new(0);
    let mut g1 = pin!(q.get());
    assert!(poll(g1.as_mut()).is_pending());
    q.put_nowait(1).unwrap(); // promised to g1
    let mut late = pin!(q.get());
    assert!(
        poll(late.as_mut()).is_pending(),
        "the newcomer does not overtake"
    );
    assert_eq!(poll(g1.as_mut()), Poll::Ready(Ok(1)));
}

#[test]
fn an_immediate_shutdown_fails_a_getter_whose_item_it_dropped() {
    let q: Queue<u32> = Queue::new(0);
    let mut g1 = pin!(q.get());
    assert!(poll(g1.as_mut()).is_pending());
    q.put_nowait(1).unwrap(); // promised to g1
    q.shutdown(true); // and dropped
    assert!(matches!(poll(g1.as_mut()), Poll::Ready(Err(_))));
    assert_eq!(q.get_nowait(), Err(TryGetError::ShutDown));
}

#[test]
fn a_bounded_semaphore_never_holds_more_permits_than_its_bound() {
    let sem = BoundedSemaphore::new(2);
    let held = sem.try_acquire().unwrap(); // one free, one held, none forgotten
    assert!(
        sem.release().is_err(),
        "the held permit comes back by itself"
    );
    drop(held);
    assert_eq!(sem.available_permits(), 2);
}

#[test]
fn draining_a_queue_while_a_consumer_waits_never_sees_empty_disagree() {
    corio::run(async {
        let q = std::rc::Rc::new(Queue::<u32>::new(0));
        let q2 = std::rc::Rc::clone(&q);
        let consumer = corio::spawn(async move { q2.get().await });
        corio::yield_now().await; // the consumer waits in get()
        q.put_nowait(1).unwrap(); // promised to the consumer
        q.put_nowait(2).unwrap();
        let mut drained = Vec::new();
        while !q.empty() {
            match q.get_nowait() {
                Ok(item) => drained.push(item),
                Err(e) => panic!("empty() was false, get_nowait: {e:?} (drained {drained:?})"),
            }
        }
        // get_nowait takes what empty() counts, the item promised to the
        // woken consumer too (asyncio's rule); the consumer waits again.
        assert_eq!(drained, [1, 2]);
        q.put_nowait(3).unwrap();
        assert_eq!(consumer.await.unwrap(), Ok(3));
    });
}

#[test]
fn qsize_full_and_put_nowait_agree_while_a_getter_is_woken_for_an_item() {
    corio::run(async {
        let queue = std::rc::Rc::new(Queue::new(1));
        let q = std::rc::Rc::clone(&queue);
        let getter = corio::spawn(async move { q.get().await.unwrap() });
        corio::yield_now().await; // the getter waits
        queue.put_nowait(1).unwrap(); // promised to it
        let (qsize, maxsize, full) = (queue.qsize(), queue.maxsize(), queue.full());
        assert_eq!(full, qsize >= maxsize);
        assert_eq!(queue.put_nowait(2).is_ok(), qsize < maxsize);
        assert_eq!(getter.await, Ok(1));
    });
}

#[test]
fn a_queue_is_full_while_a_freed_place_is_handed_to_a_waiting_putter() {
    let q: Queue<u32> = Queue::new(1);
    q.put_nowait(0).unwrap();
    let mut putter = pin!(q.put(1));
    assert!(poll(putter.as_mut()).is_pending());
    assert_eq!(q.get_nowait(), Ok(0)); // the freed place goes to the putter
    assert!(q.empty());
    assert!(q.full(), "the place is the putter's");
    assert_eq!(q.put_nowait(2), Err(TryPutError::Full(2)));
    assert_eq!(poll(putter.as_mut()), Poll::Ready(Ok(())));
    assert_eq!(q.get_nowait(), Ok(1));
}

#[test]
fn an_unlimited_semaphore_stays_unlimited_after_a_release() {
    let sem = corio::sync::Semaphore::new(usize::MAX);
    sem.release();
    assert_eq!(sem.available_permits(), usize::MAX);
    assert!(sem.try_acquire().is_some());
}

/// Polls `wait` with one waker, then with another (it moved to another
/// task, or a select polled it elsewhere), then does `act`: only the
/// second waker may be woken, once.
fn only_the_latest_waker_is_woken<F: Future + ?Sized>(
    mut wait: std::pin::Pin<&mut F>,
    act: impl FnOnce(),
) {
    use std::sync::atomic::Ordering::SeqCst;
    let (first, first_wakes) = counting_waker();
    let (second, second_wakes) = counting_waker();
    for waker in [&first, &second] {
        let polled = wait.as_mut().poll(&mut Context::from_waker(waker));
        assert!(polled.is_pending());
    }
    act();
    let wakes = (first_wakes.load(SeqCst), second_wakes.load(SeqCst));
    assert_eq!(wakes, (0, 1));
}

#[test]
fn a_wait_polled_again_with_another_waker_wakes_the_latest_one() {
    let q: Queue<u32> = Queue::new(0);
    let mut get = pin!(q.get());
    only_the_latest_waker_is_woken(get.as_mut(), || q.put_nowait(7).unwrap());
    assert_eq!(poll(get.as_mut()), Poll::Ready(Ok(7)));

    let sem = BoundedSemaphore::new(1);
    let held = sem.try_acquire().unwrap();
    let mut acquire = pin!(sem.acquire());
    only_the_latest_waker_is_woken(acquire.as_mut(), || drop(held));
    assert!(poll(acquire.as_mut()).is_ready());

    let (tx, mut rx) = corio::sync::oneshot::channel();
    let mut rx = std::pin::Pin::new(&mut rx);
    only_the_latest_waker_is_woken(rx.as_mut(), || tx.send(3).unwrap());
    assert_eq!(poll(rx.as_mut()), Poll::Ready(Ok(3)));
}

#[test]
fn a_oneshot_receiver_already_waiting_is_woken_when_its_sender_is_dropped_unsent() {
    use std::sync::atomic::Ordering::SeqCst;
    let (tx, mut rx) = corio::sync::oneshot::channel::<u8>();
    let (waker, wakes) = counting_waker();
    let mut rx = std::pin::Pin::new(&mut rx);
    assert!(
        rx.as_mut()
            .poll(&mut Context::from_waker(&waker))
            .is_pending()
    );
    drop(tx);
    assert_eq!(wakes.load(SeqCst), 1);
    assert_eq!(
        poll(rx.as_mut()),
        Poll::Ready(Err(corio::sync::oneshot::RecvError))
    );
}

#[test]
fn an_mpsc_channel_of_capacity_zero_holds_one_value() {
    let (tx, mut rx) = mpsc::channel(0);
    assert_eq!(tx.try_send(1), Ok(()));
    assert_eq!(tx.try_send(2), Err(mpsc::TrySendError::Full(2)));
    let mut send = pin!(tx.send(3));
    assert!(poll(send.as_mut()).is_pending());
    assert_eq!(rx.try_recv(), Ok(1));
    assert_eq!(poll(send.as_mut()), Poll::Ready(Ok(())));
    assert_eq!(tx.try_send(4), Err(mpsc::TrySendError::Full(4)));
    assert_eq!(rx.try_recv(), Ok(3));
}
