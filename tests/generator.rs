//! Generators driven by hand: order, sent values, completion, misuse,
//! early drop, nested yields, a shared collection of them.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;

use corio::generator::{Co, Gen, GenError, GenState, Yield};

#[test]
fn values_come_out_in_the_order_they_are_yielded() {
    let g = Gen::new(|co| async move {
        for word in ["one", "two", "three"] {
            co.yield_(word).await;
        }
    });
    assert_eq!(g.collect::<Vec<_>>(), ["one", "two", "three"]);
}

#[test]
fn a_value_sent_in_is_what_the_pending_yield_returns() {
    let mut g = Gen::new(|co| async move {
        let mut got = Vec::new();
        for i in 0..3 {
            let sent: char = co.yield_(i).await;
            got.push(sent);
        }
        got
    });
    assert_eq!(g.resume('x'), Ok(GenState::Yielded(0))); // 'x' is dropped
    assert_eq!(g.resume('a'), Ok(GenState::Yielded(1)));
    assert_eq!(g.resume('b'), Ok(GenState::Yielded(2)));
    assert_eq!(g.resume('c'), Ok(GenState::Complete(vec!['a', 'b', 'c'])));
}

/// A resume argument that counts its drops.
struct Counted(Rc<Cell<u32>>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.set(self.0.get() + 1);
    }
}

#[test]
fn the_first_resume_argument_is_dropped_not_leaked() {
    let drops = Rc::new(Cell::new(0));
    let mut g = Gen::new(|co: Co<(), Counted>| async move {
        let _second = co.yield_(()).await;
    });
    g.resume(Counted(drops.clone())).unwrap();
    assert_eq!(drops.get(), 1, "the first argument was dropped at once");
    g.resume(Counted(drops.clone())).unwrap();
    assert_eq!(drops.get(), 2);
}

#[test]
fn an_argument_that_no_yield_takes_is_dropped_when_the_body_ends() {
    let drops = Rc::new(Cell::new(0));
    let mut g = Gen::new(|co: Co<(), Counted>| async move {
        co.yield_(()).await;
        // Stop at a future that polls a yield once, then ends without it.
        let mut step = std::pin::pin!(co.yield_(()));
        let mut first = true;
        std::future::poll_fn(|cx| {
            if std::mem::take(&mut first) {
                let _ = step.as_mut().poll(cx);
                std::task::Poll::Pending
            } else {
                std::task::Poll::Ready(())
            }
        })
        .await;
    });
    g.resume(Counted(drops.clone())).unwrap(); // starts it
    assert_eq!(drops.get(), 1);
    g.resume(Counted(drops.clone())).unwrap(); // taken by the first yield
    assert_eq!(drops.get(), 2);
    assert_eq!(g.resume(Counted(drops.clone())), Ok(GenState::Complete(())));
    assert_eq!(
        drops.get(),
        3,
        "the argument nobody took went with the body"
    );
}

#[test]
fn resuming_after_completion_is_an_error() {
    let mut g = Gen::new(|_co: Co<u8>| async { "result" });
    assert!(!g.is_finished());
    assert_eq!(g.resume(()), Ok(GenState::Complete("result")));
    assert!(g.is_finished());
    assert_eq!(g.resume(()), Err(GenError::Finished));
    assert_eq!(g.next(), None);
}

#[test]
fn dropping_a_generator_midway_runs_its_destructors() {
    let alive = Rc::new(Cell::new(0));
    struct Guard(Rc<Cell<i32>>);
    impl Drop for Guard {
        fn drop(&mut self) {
            self.0.set(self.0.get() - 1);
        }
    }
    let a = alive.clone();
    let mut g = Gen::new(|co| async move {
        a.set(a.get() + 2);
        let _outer = Guard(a.clone());
        let _inner = Guard(a.clone());
        loop {
            co.yield_(()).await;
        }
    });
    g.next();
    assert_eq!(alive.get(), 2);
    drop(g); // Python's close()
    assert_eq!(alive.get(), 0, "both guards were dropped");
}

#[test]
fn yields_work_from_nested_async_functions() {
    async fn squares(co: &Co<u32>, upto: u32) -> u32 {
        for i in 1..=upto {
            co.yield_(i * i).await;
        }
        upto
    }
    let mut g = Gen::new(|co| async move {
        let a = squares(&co, 2).await;
        let b = squares(&co, 3).await;
        a + b
    });
    let mut out = Vec::new();
    let result = loop {
        match g.resume(()).unwrap() {
            GenState::Yielded(v) => out.push(v),
            GenState::Complete(r) => break r,
        }
    };
    assert_eq!(out, [1, 4, 1, 4, 9]);
    assert_eq!(result, 5);
}

#[test]
fn generators_with_different_bodies_share_one_collection() {
    // The round-robin scheduler of seed 003, for any number of generators.
    let mut ready: VecDeque<Gen<String>> = VecDeque::new();
    for (name, steps) in [("a", 1), ("b", 3), ("c", 2)] {
        ready.push_back(
            Gen::new(move |co| async move {
                for i in 0..steps {
                    co.yield_(format!("{name}{i}")).await;
                }
            })
            .boxed(),
        );
    }
    let mut log = Vec::new();
    while let Some(mut g) = ready.pop_front() {
        if let Some(step) = g.next() {
            log.push(step);
            ready.push_back(g);
        }
    }
    assert_eq!(log, ["a0", "b0", "c0", "b1", "c1", "b2"]);
}

#[test]
fn awaiting_anything_but_yield_is_reported_not_hung() {
    let mut g = Gen::new(|co| async move {
        co.yield_(1).await;
        std::future::pending::<()>().await; // would never wake
        co.yield_(2).await;
    });
    assert_eq!(g.resume(()), Ok(GenState::Yielded(1)));
    let err = g.resume(()).unwrap_err();
    assert_eq!(err, GenError::ForeignAwait);
    assert!(
        err.to_string()
            .contains("await them in the task that drives the generator")
    );
    assert_eq!(g.resume(()), Err(GenError::Finished));
}

#[test]
fn a_yield_made_but_not_awaited_does_not_hide_a_foreign_await() {
    let mut g = Gen::new(|co| async move {
        let _never_awaited = co.yield_(1);
        std::future::pending::<()>().await;
    });
    assert_eq!(g.resume(()), Err(GenError::ForeignAwait));
    assert_eq!(g.resume(()), Err(GenError::Finished));
}

#[test]
fn a_yield_that_lost_a_race_does_not_hide_a_foreign_await() {
    // Polled once and dropped — a select whose other side won — and then
    // the body awaits something else: that is not a stop at a yield.
    let drops = Rc::new(Cell::new(0));
    let counted = Counted(Rc::clone(&drops));
    let mut g = Gen::new(move |co| async move {
        let mut lost = Some(co.yield_(counted));
        std::future::poll_fn(|cx| {
            let mut yield_ = lost.take().unwrap();
            assert!(std::pin::Pin::new(&mut yield_).poll(cx).is_pending());
            Poll::Ready(()) // the other side won; `yield_` is dropped here
        })
        .await;
        std::future::pending::<()>().await;
    });
    assert!(matches!(g.resume(()), Err(GenError::ForeignAwait)));
    assert_eq!(drops.get(), 1, "the lost yield's value is dropped once");
}

#[test]
fn a_sleep_inside_a_generator_on_a_loop_is_reported_too() {
    corio::run(async {
        let mut g = Gen::new(|co| async move {
            corio::time::sleep(std::time::Duration::from_millis(1)).await;
            co.yield_(()).await;
        });
        assert_eq!(g.resume(()), Err(GenError::ForeignAwait));
    });
}

#[test]
#[should_panic(expected = "await them in the task that drives the generator")]
fn iterating_a_misused_generator_panics_with_the_explanation() {
    let g = Gen::new(|co: Co<u8>| async move {
        std::future::pending::<()>().await;
        co.yield_(1).await;
    });
    let _ = g.collect::<Vec<_>>();
}

#[test]
fn a_misused_generator_in_a_for_loop_panics_at_the_loop() {
    use std::sync::{Arc, Mutex};
    let at = Arc::new(Mutex::new(None));
    let seen = Arc::clone(&at);
    let default = Arc::new(std::panic::take_hook());
    let others = Arc::clone(&default);
    std::panic::set_hook(Box::new(move |info| {
        match info.payload().downcast_ref::<String>() {
            Some(text) if text.contains("generator awaited something") => {
                let location = info.location().map(|l| (l.file().to_string(), l.line()));
                *seen.lock().unwrap() = location;
            }
            _ => others(info),
        }
    }));
    let g = Gen::new(|co: Co<u8>| async move {
        std::future::pending::<()>().await;
        co.yield_(1).await;
    });
    let line = line!() + 1; // the `for` is on the next line
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| for _ in g {}));
    drop(std::panic::take_hook()); // back to the default hook
    assert!(outcome.is_err());
    let at = at.lock().unwrap().clone();
    assert_eq!(at, Some((file!().to_string(), line)));
}

#[test]
fn a_panicking_body_propagates_and_finishes_the_generator() {
    let mut g = Gen::new(|co| async move {
        co.yield_(1).await;
        panic!("body failed");
    });
    g.next();
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.next()));
    assert!(caught.is_err());
    assert!(g.is_finished());
    assert_eq!(g.next(), None);
}

#[test]
fn two_yields_awaited_at_once_are_reported_not_one_silently_lost() {
    // A join of two yields: both would hand a value in one resume, and only
    // one could come out.
    let mut g = Gen::new(|co: Co<i32>| async move {
        let mut first = std::pin::pin!(co.yield_(1));
        let mut second = std::pin::pin!(co.yield_(2));
        std::future::poll_fn(|cx| {
            let a = first.as_mut().poll(cx);
            let b = second.as_mut().poll(cx);
            if a.is_ready() && b.is_ready() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
        "end"
    });
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.resume(())));
    let payload = caught.expect_err("a clear panic");
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    assert!(
        message.contains("two co.yield_() awaited at once"),
        "{message}"
    );
    assert!(g.is_finished());
    assert_eq!(g.resume(()), Err(GenError::Finished));
}

#[test]
fn a_generator_can_yield_from_inside_gather() {
    // gather re-polls only the children whose waker fired: a yield must
    // ask to be polled again, or the next resume would not reach it.
    let g = Gen::new(|co| async move {
        let co = &co;
        corio::gather([async move {
            co.yield_(1).await;
            co.yield_(2).await;
        }])
        .await;
    });
    let got: Vec<i32> = g.collect();
    assert_eq!(got, [1, 2]);
}

#[test]
fn a_co_misused_inside_a_task_fails_it_with_a_clear_message() {
    // A yield awaited by a real task (not by its generator's resume) could
    // never get an argument: the task fails at once, saying why, instead
    // of parking for ever.
    let smuggled = Rc::new(std::cell::RefCell::new(None));
    let s = Rc::clone(&smuggled);
    let _g = Gen::new(move |co: Co<u8>| {
        *s.borrow_mut() = Some(co);
        async {}
    });
    let co = smuggled.borrow_mut().take().unwrap();
    assert_fails_clearly_in_a_task(async move {
        co.yield_(1).await;
    });
}

type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + 'a>>;

#[test]
fn a_yield_inside_as_completed_stops_the_body_and_gets_its_argument() {
    // One child finishes at once, the other yields: `as_completed` polls
    // the yield again in the same body poll, and again at the next resume.
    let mut g = Gen::new(|co: Co<i32>| async move {
        let co = &co;
        let children: Vec<BoxFuture<'_, i32>> = vec![
            Box::pin(async move {
                co.yield_(1).await;
                10
            }),
            Box::pin(async { 20 }),
        ];
        let mut done = corio::as_completed(children);
        let mut got = Vec::new();
        while let Some(x) = done.next().await {
            got.push(x);
        }
        got
    });
    assert_eq!(g.resume(()), Ok(GenState::Yielded(1)));
    assert_eq!(g.resume(()), Ok(GenState::Complete(vec![20, 10])));
}

#[test]
fn an_argument_left_for_a_yield_that_lost_a_race_goes_to_no_later_yield() {
    let mut g = Gen::new(|co: Co<i32, i32>| async move {
        let co = &co;
        // Stops at yield 1; at the next resume `yield_now` wins the race
        // and the yield is dropped, with the argument 100 meant for it.
        let _ = corio::select(corio::yield_now(), co.yield_(1)).await;
        let children: Vec<BoxFuture<'_, i32>> = vec![
            Box::pin(async move { co.yield_(2).await }),
            Box::pin(async { 0 }),
        ];
        let mut done = corio::as_completed(children);
        let mut got = Vec::new();
        while let Some(x) = done.next().await {
            got.push(x);
        }
        got
    });
    assert_eq!(g.resume(0), Ok(GenState::Yielded(1)));
    assert_eq!(g.resume(100), Ok(GenState::Yielded(2)));
    assert_eq!(g.resume(7), Ok(GenState::Complete(vec![0, 7])));
}

#[test]
fn a_yield_that_lost_a_race_leaves_another_yields_value_alone() {
    let mut g = Gen::new(|co: Co<i32>| async move {
        let co = &co;
        let children: Vec<BoxFuture<'_, ()>> = vec![
            Box::pin(async move {
                corio::yield_now().await;
                co.yield_(2).await;
            }),
            Box::pin(async move {
                // Stops at yield 1; at the next resume `yield_now` wins.
                let _ = corio::select(corio::yield_now(), co.yield_(1)).await;
            }),
        ];
        corio::gather(children).await;
    });
    assert_eq!(g.resume(()), Ok(GenState::Yielded(1)));
    assert_eq!(g.resume(()), Ok(GenState::Yielded(2)));
    assert_eq!(g.resume(()), Ok(GenState::Complete(())));
}

#[test]
fn a_co_misused_in_a_task_after_its_generator_panicked_fails_it_too() {
    let smuggled: Rc<std::cell::RefCell<Option<Rc<Co<u8>>>>> = Rc::default();
    let s = Rc::clone(&smuggled);
    let mut g = Gen::new(move |co: Co<u8>| {
        let co = Rc::new(co);
        *s.borrow_mut() = Some(Rc::clone(&co));
        async move {
            let _keep = co;
            panic!("expected: the body fails");
        }
    });
    let resumed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.resume(())));
    assert!(resumed.is_err());
    assert_eq!(g.resume(()), Err(GenError::Finished));
    let co = smuggled.borrow_mut().take().unwrap();
    assert_fails_clearly_in_a_task(async move {
        co.yield_(1).await;
    });
}

/// Awaits `misused` (a yield of a smuggled `Co`) in a task: the task must
/// fail with the panic that explains the misuse.
fn assert_fails_clearly_in_a_task(misused: impl Future<Output = ()> + 'static) {
    let outcome = corio::run(async move { corio::spawn(misused).await });
    match outcome {
        Err(corio::TaskError::Panicked(panic)) => assert!(
            panic.message().contains("awaited outside its generator"),
            "{}",
            panic.message()
        ),
        other => panic!("expected the misuse panic, got {other:?}"),
    }
}

#[test]
fn a_body_that_catches_the_two_yields_panic_keeps_both_yields_usable() {
    // The second yield panics before it changes anything: the first keeps
    // its stop, the second still holds its value.
    let mut g = Gen::new(|co: Co<i32, i32>| async move {
        let mut first = Box::pin(co.yield_(1));
        let mut second = Box::pin(co.yield_(2));
        std::future::poll_fn(|cx| {
            let _ = first.as_mut().poll(cx);
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _ = second.as_mut().poll(cx);
            }));
            assert!(caught.is_err(), "the two-yields panic");
            Poll::Ready(())
        })
        .await;
        drop(first); // takes back its own value, and only that
        second.await
    });
    assert_eq!(g.resume(0), Ok(GenState::Yielded(2)));
    assert_eq!(g.resume(101), Ok(GenState::Complete(101)));
}

#[test]
fn a_smuggled_co_awaited_outside_a_resume_leaves_the_generator_alone() {
    // A yield of the same `Co` polled by hand between two resumes panics
    // before it touches the mailbox: the body's own yield still gets the
    // next argument, and the body's next yield is no "two yields at once".
    type Smuggled = std::cell::RefCell<Option<Rc<Co<i32, i32>>>>;
    let smuggled: Rc<Smuggled> = Rc::default();
    let s = Rc::clone(&smuggled);
    let mut g = Gen::new(move |co: Co<i32, i32>| {
        let co = Rc::new(co);
        *s.borrow_mut() = Some(Rc::clone(&co));
        async move {
            let got = co.yield_(1).await;
            co.yield_(got).await
        }
    });
    assert_eq!(g.resume(0), Ok(GenState::Yielded(1)));
    let co = smuggled.borrow_mut().take().unwrap();
    let mut outside = Box::pin(co.yield_(50));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let polled = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = outside.as_mut().poll(&mut cx);
    }));
    assert!(polled.is_err(), "the misuse panics");
    drop(outside);
    assert_eq!(g.resume(101), Ok(GenState::Yielded(101)));
    assert_eq!(g.resume(7), Ok(GenState::Complete(7)));
}

#[test]
fn a_value_handed_in_by_a_yield_that_outlives_a_panicking_body_is_not_dropped_in_the_unwinding() {
    // The body hands in a value whose destructor panics, moves the yield
    // future out of itself (so the unwinding does not drop it), then fails.
    // Dropping the value during the unwinding would abort the process: it
    // stays until its yield is dropped. A yield of the failed generator's `Co` still
    // reports "outside its generator", not "two yields at once".
    struct Loud(Rc<Cell<u32>>, bool);
    impl Drop for Loud {
        fn drop(&mut self) {
            self.0.set(self.0.get() + 1);
            if self.1 {
                panic!("expected: a destructor that panics");
            }
        }
    }
    type Kept = Option<Pin<Box<Yield<'static, Loud, ()>>>>;
    let drops = Rc::new(Cell::new(0));
    let kept: Rc<RefCell<Kept>> = Rc::default();
    let smuggled: Rc<RefCell<Option<&'static Co<Loud>>>> = Rc::default();
    let (d, k, s) = (Rc::clone(&drops), Rc::clone(&kept), Rc::clone(&smuggled));
    let mut g = Gen::new(move |co: Co<Loud>| {
        // ('static so that its yields can leave the body; the test leaks it.)
        let co: &'static Co<Loud> = Box::leak(Box::new(co));
        *s.borrow_mut() = Some(co);
        async move {
            let mut step = Box::pin(co.yield_(Loud(d, true)));
            std::future::poll_fn(|cx| {
                let _ = step.as_mut().poll(cx); // hands the value in
                Poll::Ready(())
            })
            .await;
            *k.borrow_mut() = Some(step);
            panic!("expected: the body fails after its yield stopped");
        }
    });
    let resumed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.resume(())));
    assert!(resumed.is_err());
    assert_eq!(drops.get(), 0, "not dropped while the body's panic unwound");
    assert!(matches!(g.resume(()), Err(GenError::Finished)));
    let co = smuggled.borrow_mut().take().unwrap();
    assert_fails_clearly_in_a_task(async move {
        co.yield_(Loud(Rc::new(Cell::new(0)), false)).await;
    });
    let yield_dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        drop(kept.borrow_mut().take());
    }));
    assert!(yield_dropped.is_err(), "the value went with its yield");
    assert_eq!(drops.get(), 1);
    drop(g);
    assert_eq!(drops.get(), 1);
}

#[test]
fn a_yield_awaited_by_a_loop_run_inside_the_body_fails_clearly_instead_of_spinning() {
    // The body runs an event loop of its own (a generator resumed outside
    // any loop may) whose main future awaits the body's yield: the loop,
    // not the body, would stop there. That is a yield awaited outside its
    // generator's body: a clear panic, not a loop polling it for ever.
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut g = Gen::new(|co: Co<i32>| async move {
            let co = &co;
            let mut lp = corio::EventLoop::new().unwrap();
            lp.run_until_complete(async move { co.yield_(1).await });
            "end"
        });
        let resumed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.resume(())));
        let message = match resumed {
            Ok(state) => format!("no panic: {state:?}"),
            Err(payload) => payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_default(),
        };
        let _ = done.send((message, g.is_finished()));
    });
    let (message, finished) = finished
        .recv_timeout(std::time::Duration::from_secs(10))
        .expect("resume returned (it spun for ever)");
    assert!(
        message.contains("awaited outside its generator"),
        "{message}"
    );
    assert!(finished);
}
