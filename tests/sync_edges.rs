//! Edge cases of corio::sync found in review, polled by hand with a no-op
//! waker (no loop, no timing): places, handed items, shutdowns, bounds.
#![allow(clippy::bool_assert_comparison)]

use corio::sync::{BoundedSemaphore, Queue, TryPutError, mpsc};
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

// Shutdown(false) while a getter holds a handed item; that getter is
//    cancelled; the other getter was told ShutDown although an item remains.
#[test]
fn an_item_returned_after_a_gentle_shutdown_can_still_be_got() {
    let q: Queue<u32> = Queue::new(0);
    let mut g2 = pin!(q.get());
    {
        let mut g1 = pin!(q.get());
        assert!(poll(g1.as_mut()).is_pending());
        assert!(poll(g2.as_mut()).is_pending());
        q.put_nowait(1).unwrap(); // handed to g1
        q.shutdown(false); // g2 handed None
    }
    // g2 was told the queue is shut down (it was empty then); the item g1
    // gave back waits in the queue for the next get.
    assert!(matches!(poll(g2.as_mut()), Poll::Ready(Err(_))));
    assert_eq!(q.get_nowait(), Ok(1));
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
