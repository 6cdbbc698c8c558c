//! The trace: `set_trace`, `trace_events` and `write_chrome_trace`.

mod common;

use std::time::Duration;

use common::json::{self, Json};
use corio::EventLoop;
use corio::debug::TraceKind;

/// What the trace recorded of one task, in order.
fn kinds_of(lp: &EventLoop, id: corio::TaskId) -> Vec<TraceKind> {
    lp.trace_events()
        .into_iter()
        .filter(|e| e.task == Some(id))
        .map(|e| e.kind)
        .collect()
}

#[test]
fn a_task_traces_spawn_polls_wake_and_completion_in_order() {
    let mut lp = EventLoop::new().unwrap();
    lp.set_trace(true);
    let id = lp.run_until_complete(async {
        let task = corio::spawn(async {
            corio::yield_now().await;
        });
        let id = task.id();
        task.await.unwrap();
        id
    });
    let kinds = kinds_of(&lp, id);
    let spawn = TraceKind::Spawn {
        parent: None,
        name: format!("Task-{}", id.as_u64()),
    };
    assert_eq!(
        kinds,
        [
            spawn,
            TraceKind::PollStart,
            TraceKind::Wake { remote: false }, // the yield wakes itself
            TraceKind::PollEnd,
            TraceKind::PollStart,
            TraceKind::PollEnd,
            TraceKind::Complete,
        ]
    );
}

#[test]
fn stopping_the_trace_keeps_its_events_and_records_no_more() {
    let mut lp = EventLoop::new().unwrap();
    lp.set_trace(true);
    lp.run_until_complete(async {});
    lp.set_trace(false);
    let n = lp.trace_events().len();
    assert!(n >= 2);
    lp.run_until_complete(async { corio::spawn(async {}).await.unwrap() });
    assert_eq!(lp.trace_events().len(), n);
}

/// Seed 004's program, scaled down, plus a socket, a callback and a wake
/// from another thread: every kind of event.
fn traced_program(lp: &mut EventLoop) {
    lp.run_until_complete(async {
        let requests: Vec<_> = ["www.1.com", "www.2.com", "www.3.com"]
            .into_iter()
            .map(|url| {
                corio::Builder::new().name(url).spawn(async move {
                    corio::time::sleep(Duration::from_millis(20)).await;
                    url
                })
            })
            .collect();
        corio::gather(requests).await;
        corio::call_soon(|| {});
        corio::yield_now().await;
        let listener = corio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accept = corio::spawn(async move { listener.accept().await.map(|_| ()) });
        let _client = corio::net::TcpStream::connect(addr).await.unwrap();
        accept.await.unwrap().unwrap();
        corio::spawn_blocking(|| ()).await.unwrap();
    });
}

#[test]
fn the_chrome_trace_parses_as_json_with_each_tasks_events_in_order() {
    let mut lp = EventLoop::new().unwrap();
    lp.set_trace(true);
    traced_program(&mut lp);
    let path = std::env::temp_dir().join(format!("corio-trace-test-{}.json", std::process::id()));
    lp.write_chrome_trace(&path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    let doc = json::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let events = doc.get("traceEvents").and_then(Json::as_array).unwrap();

    // Every event has the fields the format requires.
    for e in events {
        let ph = e.get("ph").and_then(Json::as_str).unwrap();
        assert!(["M", "X", "i"].contains(&ph), "{e:?}");
        assert!(e.get("name").and_then(Json::as_str).is_some(), "{e:?}");
        assert!(e.get("tid").and_then(Json::as_f64).is_some(), "{e:?}");
        if ph != "M" {
            assert!(e.get("ts").and_then(Json::as_f64).is_some(), "{e:?}");
        }
    }
    let names: Vec<&str> = events
        .iter()
        .filter_map(|e| e.get("name").and_then(Json::as_str))
        .collect();
    for kind in [
        "thread_name",
        "spawn",
        "poll",
        "poll main",
        "wake",
        "wake (other thread)",
        "complete",
        "timers fired",
        "I/O ready",
        "callback",
    ] {
        assert!(names.contains(&kind), "no {kind:?} in {names:?}");
    }

    // The track of "www.2.com": spawned, polled, woken by its timer,
    // polled again, completed — in this order, in time.
    let tid = events
        .iter()
        .find(|e| {
            e.get("name").and_then(Json::as_str) == Some("thread_name")
                && e.get("args")
                    .and_then(|a| a.get("name"))
                    .and_then(Json::as_str)
                    .is_some_and(|n| n.ends_with("www.2.com"))
        })
        .and_then(|e| e.get("tid"))
        .and_then(Json::as_f64)
        .unwrap();
    let mut track: Vec<(f64, &str)> = events
        .iter()
        .filter(|e| e.get("tid").and_then(Json::as_f64) == Some(tid))
        .filter(|e| e.get("ph").and_then(Json::as_str) != Some("M"))
        .map(|e| {
            let ts = e.get("ts").and_then(Json::as_f64).unwrap();
            (ts, e.get("name").and_then(Json::as_str).unwrap())
        })
        .collect();
    track.sort_by(|a, b| a.0.total_cmp(&b.0));
    let track: Vec<&str> = track.into_iter().map(|(_, name)| name).collect();
    assert_eq!(track, ["spawn", "poll", "wake", "poll", "complete"]);
}
#[test]
fn the_tests_json_reader_reads_what_json_allows_and_refuses_the_rest() {
    let doc = json::parse(r#"{"a":[1,-2.5e3,true,null],"b":"x\"\u00e9y"}"#).unwrap();
    assert_eq!(doc.get("b").and_then(Json::as_str), Some("x\"éy"));
    assert_eq!(
        doc.get("a").and_then(Json::as_array).map(<[Json]>::len),
        Some(4)
    );
    for bad in ["{", "[1,]", "{\"a\" 1}", "\"\u{1}\"", "1 2", "{\"a\":1,}"] {
        assert!(json::parse(bad).is_err(), "{bad:?} parsed");
    }
}

#[test]
fn a_task_cancelled_before_its_first_poll_traces_no_poll() {
    let mut lp = EventLoop::new().unwrap();
    lp.set_trace(true);
    let task = lp.spawn(async {});
    let id = task.id();
    task.cancel();
    lp.run_once();
    let kinds = kinds_of(&lp, id);
    assert!(
        matches!(kinds[..], [TraceKind::Spawn { .. }, TraceKind::Complete]),
        "{kinds:?}"
    );
}

#[test]
fn a_callback_cancelled_after_it_was_queued_is_not_traced_as_run() {
    let mut lp = EventLoop::new().unwrap();
    lp.set_trace(true);
    lp.call_soon(|| {}).cancel();
    assert_eq!(lp.run_once().callbacks_run, 0);
    let events = lp.trace_events();
    assert!(
        !events.iter().any(|e| e.kind == TraceKind::CallbackStart),
        "{events:?}"
    );
}

#[test]
fn each_done_callback_is_a_slice_of_its_own() {
    let mut lp = EventLoop::new().unwrap();
    lp.set_trace(true);
    lp.run_until_complete(async {
        let task = corio::spawn(async {});
        task.add_done_callback(|_| {});
        task.add_done_callback(|_| {});
        task.await.unwrap();
    });
    let starts = lp
        .trace_events()
        .iter()
        .filter(|e| e.kind == TraceKind::CallbackStart)
        .count();
    assert_eq!(starts, 2);
}

/// Where the first event matching `is` is, in the trace of `lp`.
fn position(lp: &EventLoop, is: impl Fn(&corio::debug::TraceEvent) -> bool) -> usize {
    lp.trace_events()
        .iter()
        .position(is)
        .expect("the event is in the trace")
}

#[test]
fn a_timer_firing_is_traced_before_the_wake_it_causes() {
    let mut lp = EventLoop::new().unwrap();
    lp.set_trace(true);
    let id = lp.run_until_complete(async {
        let sleeper = corio::spawn(corio::time::sleep(Duration::from_millis(5)));
        let id = sleeper.id();
        sleeper.await.unwrap();
        id
    });
    let fired = position(&lp, |e| matches!(e.kind, TraceKind::TimersFired { .. }));
    let woke = position(&lp, |e| {
        e.task == Some(id) && matches!(e.kind, TraceKind::Wake { .. })
    });
    assert!(fired < woke, "{:?}", lp.trace_events());
}

#[test]
fn io_readiness_is_traced_before_the_wake_it_causes() {
    let mut lp = EventLoop::new().unwrap();
    lp.set_trace(true);
    let id = lp.run_until_complete(async {
        let socket = corio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let receiver = corio::spawn(async move {
            let mut buf = [0u8; 8];
            socket.recv_from(&mut buf).await.unwrap().0
        });
        let id = receiver.id();
        corio::yield_now().await; // it waits on the socket
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sender.send_to(b"hi", addr).unwrap();
        assert_eq!(receiver.await.unwrap(), 2);
        id
    });
    let ready = position(&lp, |e| matches!(e.kind, TraceKind::IoReady { .. }));
    let woke = position(&lp, |e| {
        e.task == Some(id) && matches!(e.kind, TraceKind::Wake { .. })
    });
    assert!(ready < woke, "{:?}", lp.trace_events());
}

#[test]
fn a_task_that_finishes_is_traced_complete_before_the_wake_of_its_awaiter() {
    let mut lp = EventLoop::new().unwrap();
    lp.set_trace(true);
    let (child, parent) = lp.run_until_complete(async {
        let child = corio::spawn(async { corio::yield_now().await });
        let child_id = child.id();
        let parent = corio::spawn(async move { child.await.unwrap() });
        let parent_id = parent.id();
        parent.await.unwrap();
        (child_id, parent_id)
    });
    // The child's last poll ends, it completes, then its awaiter is woken.
    let events = lp.trace_events();
    let complete = position(&lp, |e| {
        e.task == Some(child) && e.kind == TraceKind::Complete
    });
    let woke = events
        .iter()
        .rposition(|e| e.task == Some(parent) && matches!(e.kind, TraceKind::Wake { .. }))
        .expect("the parent was woken");
    assert!(complete < woke, "{events:?}");
    assert_eq!(
        kinds_of(&lp, child)[1..],
        [
            TraceKind::PollStart,
            TraceKind::Wake { remote: false }, // its yield
            TraceKind::PollEnd,
            TraceKind::PollStart,
            TraceKind::PollEnd,
            TraceKind::Complete
        ]
    );
}
