//! The loop's cached clock, and the limits counted from it: a loop that
//! runs again after a pause, or stays busy with no timer armed, must not
//! end a sleep, a timeout or an HTTP time limit early. These tests wait on
//! purpose (each well under 2 s) and only check lower bounds — or, for a
//! peer that floods a socket, a generous upper one — so they have a binary
//! of their own (nothing else runs beside them).

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use corio::EventLoop;
use corio::http::{Client, ErrorKind};

/// A std-thread HTTP server on loopback: answers every request on every
/// connection with a 2-byte body after `delay`; counts connections.
fn server(delay: Duration) -> (String, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            count.fetch_add(1, Ordering::SeqCst);
            std::thread::spawn(move || {
                stream
                    .set_read_timeout(Some(Duration::from_secs(10)))
                    .unwrap();
                let mut got = Vec::new();
                let mut piece = [0u8; 1024];
                loop {
                    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                        match stream.read(&mut piece) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => got.extend_from_slice(&piece[..n]),
                        }
                    }
                    got.clear();
                    std::thread::sleep(delay);
                    let reply = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
                    if stream.write_all(reply).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, accepted)
}

#[test]
fn a_read_timeout_on_a_loop_run_again_after_a_pause_does_not_end_early() {
    let (url, _) = server(Duration::from_millis(50));
    let mut lp = EventLoop::new().unwrap();
    let client = Client::builder()
        .read_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let first = lp.run_until_complete(async {
        let response = client.get(&url).send().await;
        corio::yield_now().await; // the pool's reaper starts and sleeps
        response
    });
    assert_eq!(first.unwrap().status, 200);
    std::thread::sleep(Duration::from_millis(500)); // longer than the limit
    let second = lp.run_until_complete(client.get(&url).send());
    assert_eq!(second.unwrap().status, 200, "the server answers in 50 ms");
}

#[test]
fn an_expired_pooled_connection_is_not_reused_when_the_loop_runs_again() {
    let (url, accepted) = server(Duration::ZERO);
    let mut lp = EventLoop::new().unwrap();
    let client = Client::builder()
        .pool(Duration::from_millis(100), 16)
        .build()
        .unwrap();
    lp.run_until_complete(async {
        client.get(&url).send().await.unwrap();
        corio::yield_now().await; // the reaper starts and sleeps
    });
    std::thread::sleep(Duration::from_millis(300));
    lp.run_until_complete(async { client.get(&url).send().await.unwrap() });
    assert_eq!(
        accepted.load(Ordering::SeqCst),
        2,
        "a connection idle for 300 ms (pool idle timeout 100 ms) was reused"
    );
}

#[test]
fn a_connect_timeout_after_a_busy_stretch_with_no_timer_armed_does_not_end_early() {
    corio::run(async {
        let (_listener, addr, _queued) = common::full_listener().await;
        // Busy, yielding, with no timer armed: only looks read the clock.
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(600) {
            corio::yield_now().await;
        }
        let limit = Duration::from_millis(300);
        let (err, took) = common::get_with_connect_timeout(addr, limit).await;
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
        assert!(took >= limit, "{took:?}: {err}");
    });
}

#[test]
fn sleeps_and_timeouts_never_end_early_among_busy_tasks() {
    corio::run(async {
        let mut tasks = Vec::new();
        for i in 0..200u64 {
            tasks.push(corio::spawn(async move {
                for j in 0..5u64 {
                    let delay = Duration::from_micros((i * 37 + j * 911) % 7000);
                    let sleep = corio::time::sleep(delay);
                    let deadline = sleep.deadline();
                    if i % 3 == 0 {
                        corio::yield_now().await;
                    }
                    sleep.await;
                    assert!(Instant::now() >= deadline, "a sleep ended early");
                    let t = Instant::now();
                    let waited = corio::time::timeout(delay, std::future::pending::<()>()).await;
                    assert!(waited.is_err());
                    assert!(t.elapsed() >= delay, "a timeout ended early");
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
}

#[test]
fn a_pool_whose_connections_never_expire_leaves_no_reaper_behind() {
    let (url, _) = server(Duration::ZERO);
    corio::run(async {
        let before = corio::all_tasks().len();
        let client = Client::builder().pool(Duration::MAX, 16).build().unwrap();
        client.get(&url).send().await.unwrap();
        corio::time::sleep(Duration::from_millis(20)).await;
        drop(client);
        corio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(corio::all_tasks().len(), before, "a reaper is left");
    });
}

#[test]
fn a_stuck_main_future_is_reported_soon_after_its_client_is_dropped() {
    let (url, _) = server(Duration::ZERO);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let mut lp = EventLoop::new().unwrap();
            lp.run_until_complete(async {
                let client = Client::new();
                client.get(&url).send().await.unwrap();
                corio::yield_now().await; // the reaper runs
                drop(client);
                std::future::pending::<()>().await;
            });
        }));
        tx.send(outcome.is_err()).unwrap();
    });
    // The client's pool cancels its reaper when it goes.
    match rx.recv_timeout(Duration::from_secs(5)) {
        Ok(panicked) => assert!(panicked, "run_until_complete returned"),
        Err(_) => panic!("a stuck main future was not reported within 5 s"),
    }
}

#[test]
fn a_client_used_on_a_second_loop_gets_a_reaper_there() {
    let (url, _) = server(Duration::ZERO);
    let client = Client::builder()
        .pool(Duration::from_millis(100), 16)
        .build()
        .unwrap();
    let mut first = EventLoop::new().unwrap();
    first.run_until_complete(async {
        client.get(&url).send().await.unwrap();
        corio::yield_now().await; // a reaper starts there, and sleeps
    });
    // The first loop stays alive but does not run.
    let mut second = EventLoop::new().unwrap();
    second.run_until_complete(async {
        client.get(&url).send().await.unwrap();
        corio::time::sleep(Duration::from_millis(400)).await;
    });
    assert_eq!(
        client.idle_connections(),
        0,
        "a connection idle for 400 ms outlived the 100 ms idle timeout"
    );
    drop(first);
}

#[test]
fn a_timeout_around_reads_from_a_flooding_peer_ends_on_time() {
    // The peer sends faster than the reader takes it in (64 bytes a read),
    // so every read succeeds at once: only the loop's I/O budget makes the
    // reading task yield, which lets the timer fire.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let flooder = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let chunk = vec![1u8; 256 * 1024];
        let start = Instant::now();
        // Until the reader goes (a write fails), for at most 5 s.
        while start.elapsed() < Duration::from_secs(5) && conn.write_all(&chunk).is_ok() {}
    });
    let elapsed = EventLoop::new().unwrap().run_until_complete(async move {
        let mut stream = corio::net::TcpStream::connect(addr).await.unwrap();
        corio::time::sleep(Duration::from_millis(50)).await; // the buffers fill up
        let start = Instant::now();
        let read_on = async {
            let mut buf = [0u8; 64];
            while stream.read(&mut buf).await.unwrap() > 0 {}
        };
        let result = corio::time::timeout(Duration::from_millis(100), read_on).await;
        assert!(result.is_err(), "the flood lasts longer than the timeout");
        start.elapsed()
    });
    flooder.join().unwrap();
    assert!(
        elapsed < Duration::from_millis(1500),
        "a 100 ms timeout took {elapsed:?}"
    );
}

#[test]
fn the_demo_server_sends_a_long_reply_to_a_slow_but_steady_reader() {
    // The reply takes longer than the keep-alive timeout to drain, but the
    // client never pauses for more than about 10 ms: the limit is on
    // silence, not on the whole reply.
    use corio::http::server::{Reply, Server};
    let total = EventLoop::new().unwrap().run_until_complete(async {
        let server = Server::bind("127.0.0.1:0", |_req| async {
            Reply::new(200).body(vec![7u8; 12 << 20])
        })
        .await
        .unwrap();
        server.set_keep_alive_timeout(Duration::from_millis(300));
        let mut response = Client::new()
            .get(server.url("/"))
            .send_streaming()
            .await
            .unwrap();
        let (mut total, mut pieces) = (0usize, 0usize);
        while let Some(piece) = response.chunk().await.unwrap() {
            total += piece.len();
            pieces += 1;
            if pieces % 16 == 0 {
                corio::time::sleep(Duration::from_millis(10)).await;
            }
        }
        total
    });
    assert_eq!(total, 12 << 20);
}

#[test]
fn the_demo_server_reads_a_long_body_from_a_slow_but_steady_sender() {
    // The body takes longer than the keep-alive timeout to arrive, with no
    // pause over about 10 ms: the head has the deadline, the body does not.
    use corio::http::server::{Reply, Server};
    let answer = EventLoop::new().unwrap().run_until_complete(async {
        let server = Server::bind("127.0.0.1:0", |req| async move {
            Reply::text(format!("got {}", req.body.len()))
        })
        .await
        .unwrap();
        server.set_keep_alive_timeout(Duration::from_millis(300));
        let mut stream = corio::net::TcpStream::connect(server.local_addr())
            .await
            .unwrap();
        let head = "POST / HTTP/1.1\r\nContent-Length: 614400\r\nConnection: close\r\n\r\n";
        stream.write_all(head.as_bytes()).await.unwrap();
        for _ in 0..60 {
            stream.write_all(&[1u8; 10 * 1024]).await.unwrap();
            corio::time::sleep(Duration::from_millis(10)).await;
        }
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await.unwrap();
        String::from_utf8(answer).unwrap()
    });
    assert!(answer.ends_with("got 614400"), "{answer}");
}
