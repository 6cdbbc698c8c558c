//! How `pool::channel`'s channels report a close: what `recv().await`,
//! `try_recv`, `recv_blocking` and the oneshot receiver give once every
//! sender is gone (buffered items first, then the end), and what senders get
//! once the receiver is gone (their value back, a blocked bounded sender
//! woken) — for `unbounded`, `bounded` and `oneshot`, from the loop and from
//! plain threads. Nothing here can hang: loop runs have a timeout, waits on
//! threads a deadline.

mod common;

use std::future::poll_fn;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, mpsc};
use std::thread;
use std::time::Duration;

use common::XorShift;
use corio::EventLoop;
use corio::pool::channel::{
    self, Receiver, RecvError, SendError, Sender, TryRecvError, TrySendError,
};

/// How long anything here may take before the test calls it a hang.
const HANG: Duration = Duration::from_secs(10);

/// Makes a many-value channel.
type Make = fn() -> (Sender<u32>, Receiver<u32>);

/// The two kinds of many-value channel (bounded at two sizes), by name for
/// failure messages.
fn kinds() -> [(&'static str, Make); 3] {
    [
        ("unbounded", channel::unbounded::<u32>),
        ("bounded(1)", || channel::bounded::<u32>(1)),
        ("bounded(8)", || channel::bounded::<u32>(8)),
    ]
}

/// Runs `f` on a thread of its own; panics (instead of hanging) if it takes
/// longer than [`HANG`].
fn within<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(HANG) {
        Ok(out) => out,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("hung: {what}"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("panicked: {what}"),
    }
}

/// Runs `fut` on a fresh loop, failing (not hanging) after [`HANG`].
fn run<F: Future>(what: &str, fut: F) -> F::Output {
    corio::run(async move { corio::time::timeout(HANG, fut).await })
        .unwrap_or_else(|_| panic!("hung on the loop: {what}"))
}

/// Counts the drops of its values.
#[derive(Debug)]
struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

// ----- try_recv ---------------------------------------------------------------

#[test]
fn try_recv_reports_empty_while_any_sender_lives_and_closed_once_every_sender_is_gone() {
    for (kind, make) in kinds() {
        let (tx, mut rx) = make();
        let tx2 = tx.clone();
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "{kind}: both live");
        drop(tx);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "{kind}: one lives");
        drop(tx2);
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed), "{kind}: none");
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed), "{kind}: stays");
    }
}

#[test]
fn try_recv_returns_every_buffered_item_before_reporting_closed() {
    for (kind, make) in kinds() {
        let (tx, mut rx) = make();
        tx.send(1).unwrap();
        drop(tx);
        assert_eq!(rx.try_recv(), Ok(1), "{kind}: the item outlives the close");
        assert_eq!(rx.try_recv(), Err(TryRecvError::Closed), "{kind}");
    }
    let (tx, mut rx) = channel::unbounded();
    for i in 0..5 {
        tx.send(i).unwrap();
    }
    drop(tx);
    for i in 0..5 {
        assert_eq!(rx.try_recv(), Ok(i));
    }
    assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
}

#[test]
fn try_recv_reports_closed_once_senders_on_threads_have_sent_and_dropped() {
    for (kind, make) in kinds() {
        let (tx, mut rx) = make();
        let threads: Vec<_> = (0..3)
            .map(|t| {
                let tx = tx.clone();
                // Every thread sends at most one item: fits bounded(1) only
                // once drained, so the test drains while they run.
                thread::spawn(move || tx.send(t).unwrap())
            })
            .collect();
        drop(tx);
        let got = within(&format!("{kind}: drain with try_recv"), move || {
            let mut got = Vec::new();
            loop {
                match rx.try_recv() {
                    Ok(v) => got.push(v),
                    Err(TryRecvError::Empty) => thread::yield_now(),
                    Err(TryRecvError::Closed) => break,
                }
            }
            assert_eq!(rx.try_recv(), Err(TryRecvError::Closed));
            got.sort();
            got
        });
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(got, [0, 1, 2], "{kind}: every item before the close");
    }
}

#[test]
fn try_recv_from_a_task_reports_closed_after_the_last_sender_is_dropped_on_a_thread() {
    for (kind, make) in kinds() {
        let (tx, mut rx) = make();
        let (tx2, tx3) = (tx.clone(), tx.clone());
        thread::spawn(move || tx.send(7).unwrap()).join().unwrap();
        thread::spawn(move || drop(tx2)).join().unwrap();
        run(kind, async move {
            assert_eq!(rx.try_recv(), Ok(7), "{kind}");
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "{kind}: tx3 lives");
            thread::spawn(move || drop(tx3)).join().unwrap();
            assert_eq!(rx.try_recv(), Err(TryRecvError::Closed), "{kind}");
        });
    }
}

// ----- recv().await -------------------------------------------------------------

#[test]
fn recv_returns_every_buffered_item_before_none_once_every_sender_is_gone() {
    for (kind, make) in kinds() {
        let (tx, mut rx) = make();
        let tx2 = tx.clone();
        tx.send(1).unwrap();
        drop((tx, tx2));
        run(kind, async move {
            assert_eq!(
                rx.recv().await,
                Some(1),
                "{kind}: buffered before the close"
            );
            assert_eq!(rx.recv().await, None, "{kind}");
            assert_eq!(rx.recv().await, None, "{kind}: the end stays");
            assert_eq!(rx.try_recv(), Err(TryRecvError::Closed), "{kind}");
        });
    }
    let (tx, mut rx) = channel::unbounded();
    thread::spawn(move || {
        for i in 0..100 {
            tx.send(i).unwrap();
        }
    })
    .join()
    .unwrap();
    let got = run("unbounded, 100 buffered", async move {
        let mut got = Vec::new();
        while let Some(v) = rx.recv().await {
            got.push(v);
        }
        got
    });
    assert_eq!(got, (0..100).collect::<Vec<_>>());
}

/// Spawns a task that awaits `rx.recv()` twice and runs one turn, so that the
/// task is parked with its waker in the channel before anything is closed.
fn parked_receiver(
    lp: &mut EventLoop,
    mut rx: Receiver<u32>,
) -> corio::Task<(Option<u32>, Option<u32>)> {
    let task = lp.spawn(async move { (rx.recv().await, rx.recv().await) });
    lp.run_once();
    task
}

#[test]
fn a_task_parked_in_recv_wakes_with_none_when_the_last_sender_is_dropped_on_a_thread() {
    for (kind, make) in kinds() {
        let (tx, rx) = make();
        let mut lp = EventLoop::new().unwrap();
        let task = parked_receiver(&mut lp, rx);
        thread::spawn(move || drop(tx)).join().unwrap();
        let out = lp.run_until_complete(async move { corio::time::timeout(HANG, task).await });
        let out = out.unwrap_or_else(|_| panic!("{kind}: the close never woke the task"));
        assert_eq!(out.unwrap(), (None, None), "{kind}");
    }
}

#[test]
fn a_task_parked_in_recv_gets_the_last_item_then_none_when_a_thread_sends_and_drops() {
    for (kind, make) in kinds() {
        let (tx, rx) = make();
        let mut lp = EventLoop::new().unwrap();
        let task = parked_receiver(&mut lp, rx);
        let sender = thread::spawn(move || {
            thread::sleep(Duration::from_millis(5));
            tx.send(9).unwrap();
        }); // drops tx right after the send: item and close may come together
        let out = lp.run_until_complete(async move { corio::time::timeout(HANG, task).await });
        sender.join().unwrap();
        let out = out.unwrap_or_else(|_| panic!("{kind}: hung"));
        assert_eq!(out.unwrap(), (Some(9), None), "{kind}");
    }
}

#[test]
fn dropping_one_of_several_senders_does_not_end_a_parked_recv() {
    for (kind, make) in kinds() {
        let (tx, mut rx) = make();
        let tx2 = tx.clone();
        run(kind, async move {
            // The thread drops `tx` while the task waits in `recv`.
            let dropper = thread::spawn(move || {
                thread::sleep(Duration::from_millis(5));
                drop(tx);
            });
            let waited = corio::time::timeout(Duration::from_millis(30), rx.recv()).await;
            dropper.join().unwrap();
            assert!(waited.is_err(), "{kind}: recv ended with {waited:?}");
            assert_eq!(rx.try_recv(), Err(TryRecvError::Empty), "{kind}: tx2 lives");
            thread::spawn(move || tx2.send(3).unwrap()).join().unwrap();
            assert_eq!(rx.recv().await, Some(3), "{kind}");
            assert_eq!(rx.recv().await, None, "{kind}: tx2 went after its send");
        });
    }
}

#[test]
fn the_receiver_as_a_stream_yields_the_buffered_items_then_ends() {
    use futures_core::Stream;
    for (kind, make) in kinds() {
        let (tx, mut rx) = make();
        let producer = thread::spawn(move || {
            for i in 0..20 {
                tx.send(i).unwrap();
            }
        });
        let got = run(kind, async move {
            let mut got = Vec::new();
            while let Some(v) = poll_fn(|cx| Pin::new(&mut rx).poll_next(cx)).await {
                got.push(v);
            }
            assert_eq!(poll_fn(|cx| Pin::new(&mut rx).poll_next(cx)).await, None);
            got
        });
        producer.join().unwrap();
        assert_eq!(got, (0..20).collect::<Vec<_>>(), "{kind}");
    }
}

// ----- recv_blocking ------------------------------------------------------------

#[test]
fn recv_blocking_returns_the_buffered_items_then_none_once_every_sender_is_gone() {
    for (kind, make) in kinds() {
        let (tx, mut rx) = make();
        tx.send(4).unwrap();
        let tx2 = tx.clone();
        drop(tx);
        let consumer = thread::spawn(move || {
            let first = rx.recv_blocking();
            let second = rx.recv_blocking(); // blocks until tx2 goes
            let third = rx.recv_blocking();
            (first, second, third, rx.try_recv())
        });
        thread::sleep(Duration::from_millis(10));
        drop(tx2);
        let (first, second, third, last) = within(kind, move || consumer.join().unwrap());
        assert_eq!(
            (first, second, third, last),
            (Some(4), None, None, Err(TryRecvError::Closed)),
            "{kind}"
        );
        // Every sender gone before the thread looks, items still buffered.
        let (tx, mut rx) = make();
        tx.send(5).unwrap();
        drop(tx);
        let got = within(kind, move || [rx.recv_blocking(), rx.recv_blocking()]);
        assert_eq!(got, [Some(5), None], "{kind}: buffered, then the end");
    }
}

// ----- senders once the receiver is gone ------------------------------------------

#[test]
fn send_and_try_send_give_the_value_back_once_the_receiver_is_gone() {
    for (kind, make) in kinds() {
        let (tx, rx) = make();
        let tx2 = tx.clone();
        assert!(!tx.is_closed(), "{kind}");
        drop(rx);
        assert!(tx.is_closed() && tx2.is_closed(), "{kind}");
        assert_eq!(tx.send(1), Err(SendError(1)), "{kind}");
        assert_eq!(tx.try_send(2), Err(TrySendError::Closed(2)), "{kind}");
        let from_thread = thread::spawn(move || (tx2.is_closed(), tx2.send(3), tx2.try_send(4)))
            .join()
            .unwrap();
        assert_eq!(
            from_thread,
            (true, Err(SendError(3)), Err(TrySendError::Closed(4))),
            "{kind}: from a thread"
        );
    }
}

#[test]
fn a_full_bounded_channel_reports_closed_not_full_once_the_receiver_is_gone() {
    let (tx, rx) = channel::bounded(1);
    tx.send(1).unwrap();
    assert_eq!(tx.try_send(2), Err(TrySendError::Full(2)));
    drop(rx);
    assert_eq!(tx.try_send(3), Err(TrySendError::Closed(3)));
    // On a loop thread a send on a full channel panics; on a closed one it
    // just fails.
    run("send on the loop", async move {
        assert_eq!(tx.send(4), Err(SendError(4)));
    });
}

#[test]
fn a_receiver_dropped_on_a_task_of_the_loop_is_seen_by_senders_on_threads() {
    for (kind, make) in kinds() {
        let (tx, rx) = make();
        run(kind, async move {
            corio::spawn(async move { drop(rx) }).await.unwrap();
        });
        let got = within(kind, move || (tx.is_closed(), tx.send(5), tx.try_send(6)));
        assert_eq!(
            got,
            (true, Err(SendError(5)), Err(TrySendError::Closed(6))),
            "{kind}"
        );
    }
}

#[test]
fn every_sender_blocked_on_a_full_bounded_channel_gets_its_value_back_when_the_receiver_drops() {
    let (tx, rx) = channel::bounded::<u32>(1);
    tx.send(0).unwrap();
    let about_to_block = Arc::new(AtomicUsize::new(0));
    let blocked: Vec<_> = (1..=3)
        .map(|i| {
            let tx = tx.clone();
            let about = about_to_block.clone();
            thread::spawn(move || {
                about.fetch_add(1, Ordering::SeqCst);
                tx.send(i)
            })
        })
        .collect();
    drop(tx);
    while about_to_block.load(Ordering::SeqCst) < 3 {
        thread::yield_now();
    }
    thread::sleep(Duration::from_millis(20)); // they are in `send`, waiting
    drop(rx);
    let results = within("blocked senders see the close", move || {
        blocked
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect::<Vec<_>>()
    });
    assert_eq!(
        results,
        [Err(SendError(1)), Err(SendError(2)), Err(SendError(3))]
    );
}

#[test]
fn a_sender_blocked_on_a_full_bounded_channel_is_woken_when_a_task_drops_the_receiver() {
    let (tx, mut rx) = channel::bounded::<u32>(2);
    let sender = thread::spawn(move || {
        let mut sent = 0;
        let err = loop {
            match tx.send(sent) {
                Ok(()) => sent += 1,
                Err(e) => break e,
            }
        };
        (sent, err)
    });
    run("a task takes one item and drops the receiver", async move {
        assert_eq!(rx.recv().await, Some(0));
        // Let the sender fill the channel again and block.
        corio::time::sleep(Duration::from_millis(20)).await;
        drop(rx);
    });
    let (sent, err) = within("the blocked sender sees the close", move || {
        sender.join().unwrap()
    });
    assert!(sent >= 1, "sent {sent}");
    assert_eq!(err, SendError(sent), "the failed value is given back");
}

#[test]
fn dropping_the_receiver_drops_the_items_still_buffered() {
    for (kind, capacity) in [("unbounded", None), ("bounded(4)", Some(4))] {
        let drops = Arc::new(AtomicUsize::new(0));
        let (tx, rx) = match capacity {
            None => channel::unbounded(),
            Some(cap) => channel::bounded(cap),
        };
        for _ in 0..3 {
            tx.send(Counted(drops.clone())).unwrap();
        }
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        drop(rx);
        assert_eq!(drops.load(Ordering::SeqCst), 3, "{kind}: not kept alive");
        let back = tx.send(Counted(drops.clone())).unwrap_err().0;
        assert_eq!(
            drops.load(Ordering::SeqCst),
            3,
            "{kind}: given back, not dropped"
        );
        drop(back);
        assert_eq!(drops.load(Ordering::SeqCst), 4);
    }
}

// ----- oneshot ------------------------------------------------------------------

#[test]
fn a_oneshot_sender_dropped_without_sending_gives_recv_error() {
    // Before the receiver is awaited, on this thread.
    let (tx, rx) = channel::oneshot::<u32>();
    drop(tx);
    assert_eq!(run("dropped before", rx), Err(RecvError));
    // Before, on another thread.
    let (tx, rx) = channel::oneshot::<u32>();
    thread::spawn(move || drop(tx)).join().unwrap();
    assert_eq!(run("dropped on a thread before", rx), Err(RecvError));
    // While the receiving task is parked.
    let (tx, rx) = channel::oneshot::<u32>();
    let mut lp = EventLoop::new().unwrap();
    let task = lp.spawn(rx);
    lp.run_once();
    thread::spawn(move || drop(tx)).join().unwrap();
    let out = lp.run_until_complete(async move { corio::time::timeout(HANG, task).await });
    let out = out.expect("the dropped sender never woke the task");
    assert_eq!(out.unwrap(), Err(RecvError));
}

#[test]
fn a_oneshot_value_sent_before_its_sender_went_is_still_received() {
    let (tx, rx) = channel::oneshot();
    tx.send(1).unwrap(); // `send` consumes the sender: it is gone now
    assert_eq!(run("sent on this thread", rx), Ok(1));
    let (tx, rx) = channel::oneshot();
    thread::spawn(move || tx.send(2).unwrap()).join().unwrap();
    assert_eq!(run("sent on a thread, joined", rx), Ok(2));
    // Sent while the receiving task is parked.
    let (tx, rx) = channel::oneshot();
    let mut lp = EventLoop::new().unwrap();
    let task = lp.spawn(rx);
    lp.run_once();
    thread::spawn(move || tx.send(3).unwrap()).join().unwrap();
    let out = lp.run_until_complete(async move { corio::time::timeout(HANG, task).await });
    assert_eq!(out.expect("the send never woke the task").unwrap(), Ok(3));
}

#[test]
fn a_oneshot_send_after_the_receiver_is_gone_gives_the_value_back() {
    let (tx, rx) = channel::oneshot();
    drop(rx);
    assert_eq!(tx.send(1), Err(1));
    let (tx, rx) = channel::oneshot();
    drop(rx);
    assert_eq!(thread::spawn(move || tx.send(2)).join().unwrap(), Err(2));
    // The receiver dropped by a task on the loop, the send from a thread.
    let (tx, rx) = channel::oneshot::<u32>();
    run("a task drops the receiver", async move {
        corio::spawn(async move { drop(rx) }).await.unwrap();
    });
    assert_eq!(within("send", move || tx.send(3)), Err(3));
}

#[test]
fn a_oneshot_receiver_dropped_after_the_send_drops_the_value() {
    let drops = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = channel::oneshot();
    let d = drops.clone();
    thread::spawn(move || tx.send(Counted(d)).unwrap())
        .join()
        .unwrap();
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(rx);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

// ----- a seeded model -------------------------------------------------------------

/// Random runs of sends, clones, sender drops (here or on threads) and
/// `try_recv`s against a model: a `VecDeque` and a count of live senders.
/// Every `try_recv` must give the model's answer: the oldest item, `Empty`
/// while a sender lives, `Closed` once none does. Then, at random, the
/// receiver drops and every live sender must get its value back, or the rest
/// is drained with `recv().await`, which must end in `None` exactly when the
/// model says.
#[test]
fn try_recv_and_recv_agree_with_a_model_of_buffer_and_live_senders() {
    for seed in common::seeds(200) {
        let mut rng = XorShift::seeded(seed);
        let capacity = match rng.below(3) {
            0 => None,
            n => Some(n as usize * 2),
        };
        let (tx, mut rx) = match capacity {
            None => channel::unbounded::<u32>(),
            Some(cap) => channel::bounded::<u32>(cap),
        };
        let mut senders = vec![tx];
        let mut model = std::collections::VecDeque::new();
        let mut next = 0u32;
        let ctx = |step: usize| format!("seed {seed}, step {step}, capacity {capacity:?}");
        for step in 0..(10 + rng.below(40) as usize) {
            match rng.below(6) {
                0 | 1 if !senders.is_empty() => {
                    let i = rng.below(senders.len() as u64) as usize;
                    let full = capacity.is_some_and(|cap| model.len() >= cap);
                    let got = if rng.below(2) == 0 {
                        senders[i].try_send(next)
                    } else {
                        // From a thread, so a full bounded channel could
                        // never make the test hang on the loop's panic.
                        let tx = senders[i].clone();
                        let v = next;
                        thread::spawn(move || tx.try_send(v)).join().unwrap()
                    };
                    if full {
                        assert_eq!(got, Err(TrySendError::Full(next)), "{}", ctx(step));
                    } else {
                        assert_eq!(got, Ok(()), "{}", ctx(step));
                        model.push_back(next);
                    }
                    next += 1;
                }
                2 if !senders.is_empty() && senders.len() < 4 => {
                    let tx = senders[0].clone();
                    senders.push(tx);
                }
                3 if !senders.is_empty() => {
                    let i = rng.below(senders.len() as u64) as usize;
                    let tx = senders.swap_remove(i);
                    if rng.below(2) == 0 {
                        drop(tx);
                    } else {
                        thread::spawn(move || drop(tx)).join().unwrap();
                    }
                }
                _ => {
                    let want = match model.pop_front() {
                        Some(v) => Ok(v),
                        None if senders.is_empty() => Err(TryRecvError::Closed),
                        None => Err(TryRecvError::Empty),
                    };
                    assert_eq!(rx.try_recv(), want, "{}", ctx(step));
                }
            }
        }
        if rng.below(2) == 0 {
            drop(rx);
            for tx in senders {
                assert!(tx.is_closed(), "{}", ctx(usize::MAX));
                assert_eq!(tx.send(1), Err(SendError(1)), "{}", ctx(usize::MAX));
            }
        } else {
            let want: Vec<Option<u32>> = model.into_iter().map(Some).collect();
            let n = want.len();
            let (got, end) = run(&ctx(usize::MAX), async move {
                let mut got = Vec::new();
                for _ in 0..n {
                    got.push(rx.recv().await);
                }
                drop(senders); // those still live, on the loop thread
                (got, [rx.recv().await, rx.recv().await])
            });
            assert_eq!(got, want, "{}: buffered items first", ctx(usize::MAX));
            assert_eq!(end, [None, None], "{}: then the end", ctx(usize::MAX));
        }
    }
}
