//! An `http::Client` that outlives the loops it was used on: its own test
//! binary, since it counts this process's open descriptors.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::time::Duration;

use corio::http::Client;

/// The tests count the process's epolls: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Open descriptors of this process that are epoll instances (one per
/// event loop alive).
fn epolls() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|entry| std::fs::read_link(entry.ok()?.path()).ok())
        .filter(|link| link.to_string_lossy().contains("eventpoll"))
        .count()
}

/// A plain-thread server answering every request with a small keep-alive
/// reply; each connection gets a thread, which ends when the client
/// closes. Returns its port.
fn keep_alive_server() -> u16 {
    let listener = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            std::thread::spawn(move || {
                stream
                    .set_read_timeout(Some(Duration::from_secs(20)))
                    .unwrap();
                let mut buf = [0; 4096];
                let mut head = Vec::new();
                while let Ok(n @ 1..) = stream.read(&mut buf) {
                    head.extend_from_slice(&buf[..n]);
                    while let Some(end) = head.windows(4).position(|w| w == b"\r\n\r\n") {
                        head.drain(..end + 4);
                        let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx";
                        if stream.write_all(reply).is_err() {
                            return;
                        }
                    }
                }
                let _ = stream.shutdown(Shutdown::Both);
            });
        }
    });
    port
}

#[test]
fn a_client_that_outlives_its_loops_keeps_none_of_them_open() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let port = keep_alive_server();
    let client = Client::new();
    let before = epolls();
    // A blocking wrapper, as a small tool would write it: a loop per call,
    // each to a host of its own (so no later request asks for its key).
    for i in 1..=20u32 {
        let c = client.clone();
        let url = format!("http://127.0.0.{i}:{port}/");
        let status = corio::run(async move { c.get(url).send().await.map(|r| r.status) });
        assert_eq!(status.unwrap(), 200);
        // The loop is gone: so are its connections, and with them the
        // last references to its epoll.
        assert_eq!(epolls(), before, "after loop {i}");
        assert_eq!(client.idle_connections(), 0, "after loop {i}");
    }
}

#[test]
fn a_loop_dropped_without_corio_runs_orderly_end_leaves_no_connection_in_the_pool() {
    let _alone = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    let port = keep_alive_server();
    let client = Client::new();
    let before = epolls();
    // An event loop stepped by hand and dropped without `corio::run`'s
    // orderly end: its tasks are dropped as it closes.
    let mut lp = corio::EventLoop::new().unwrap();
    let c = client.clone();
    let url = format!("http://127.0.0.1:{port}/");
    let status = lp.run_until_complete(async move { c.get(url).send().await.map(|r| r.status) });
    assert_eq!(status.unwrap(), 200);
    assert_eq!(
        client.idle_connections(),
        1,
        "kept alive while its loop lives"
    );
    drop(lp);
    assert_eq!(epolls(), before);
    assert_eq!(client.idle_connections(), 0);
}
