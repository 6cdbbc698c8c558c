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
