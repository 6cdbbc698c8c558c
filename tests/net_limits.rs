//! Many connections and many descriptors: its own test binary, with one
//! sequential test, since it counts this process's open descriptors and
//! raises its open-file limit.

use std::time::{Duration, Instant};

use corio::net::{TcpListener, TcpStream};

/// Open descriptors of this process.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count())
}

/// The soft and hard open-file limits, from /proc/self/limits.
fn nofile_limits() -> Option<(u64, u64)> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    let mut fields = line.split_whitespace().skip(3);
    let soft = fields.next()?.parse().ok()?;
    let hard = fields.next()?.parse().ok()?;
    Some((soft, hard))
}

/// Raises the soft open-file limit to at least `needed` (up to the hard
/// limit) with util-linux's `prlimit`. Returns whether `needed` is allowed.
fn ensure_open_files(needed: u64) -> bool {
    let Some((soft, hard)) = nofile_limits() else {
        return false;
    };
    if soft >= needed {
        return true;
    }
    if hard < needed {
        return false;
    }
    let pid = std::process::id().to_string();
    let limit = format!("--nofile={hard}:{hard}");
    let raised = std::process::Command::new("prlimit")
        .args(["--pid", &pid, &limit])
        .status()
        .is_ok_and(|s| s.success());
    raised && nofile_limits().is_some_and(|(soft, _)| soft >= needed)
}

#[test]
fn many_connections_and_many_cycles() {
    if open_fds() == 0 {
        eprintln!("no /proc/self/fd here: skipped");
        return;
    }
    one_thousand_concurrent_connections_are_served_by_one_loop();
    ten_thousand_connect_close_cycles_leave_the_descriptor_count_where_it_was();
    an_accept_loop_survives_running_out_of_descriptors_without_spinning();
    the_demo_server_keeps_accepting_after_running_out_of_descriptors();
}

fn one_thousand_concurrent_connections_are_served_by_one_loop() {
    const CONNECTIONS: usize = 1000;
    // Both ends live in this process: two descriptors per connection.
    assert!(
        ensure_open_files(2 * CONNECTIONS as u64 + 200),
        "cannot raise the open-file limit to {} (see `ulimit -n`)",
        2 * CONNECTIONS + 200
    );
    let start = Instant::now();
    let served = corio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = corio::spawn(async move {
            let mut handlers = Vec::new();
            for _ in 0..CONNECTIONS {
                let (mut conn, _) = listener.accept().await.unwrap();
                handlers.push(corio::spawn(async move {
                    let mut buf = [0; 8];
                    conn.read_exact(&mut buf).await.unwrap();
                    conn.write_all(&buf).await.unwrap();
                    // Server side closes first (TIME_WAIT stays here).
                }));
            }
            for handler in handlers {
                handler.await.unwrap();
            }
        });
        // Every client connects before any sends: 1,000 open at once.
        let mut clients = Vec::new();
        for _ in 0..CONNECTIONS {
            clients.push(TcpStream::connect(addr).await.unwrap());
        }
        let tasks: Vec<_> = clients
            .into_iter()
            .enumerate()
            .map(|(i, mut client)| {
                corio::spawn(async move {
                    let msg = (i as u64).to_be_bytes();
                    client.write_all(&msg).await.unwrap();
                    let mut buf = [0; 8];
                    client.read_exact(&mut buf).await.unwrap();
                    assert_eq!(buf, msg);
                })
            })
            .collect();
        let mut served = 0;
        for task in tasks {
            task.await.unwrap();
            served += 1;
        }
        server.await.unwrap();
        served
    });
    assert_eq!(served, CONNECTIONS);
    assert!(start.elapsed() < Duration::from_secs(30));
}

fn ten_thousand_connect_close_cycles_leave_the_descriptor_count_where_it_was() {
    const CYCLES: usize = 10_000;
    let before = open_fds();
    corio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = corio::spawn(async move {
            for _ in 0..CYCLES {
                let (mut conn, _) = listener.accept().await.unwrap();
                // Close first on the server side, after one byte: the
                // client's port does not linger in TIME_WAIT.
                conn.write_all(b"x").await.unwrap();
            }
        });
        for _ in 0..CYCLES {
            let mut client = TcpStream::connect(addr).await.unwrap();
            let mut buf = [0; 1];
            client.read_exact(&mut buf).await.unwrap();
            let mut rest = Vec::new();
            client.read_to_end(&mut rest).await.unwrap(); // the server closed
        }
        server.await.unwrap();
    });
    // The loop and its default pool are gone: their descriptors too.
    let deadline = Instant::now() + Duration::from_secs(10);
    while open_fds() > before && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(open_fds(), before, "descriptors leaked");
}

/// Sets the soft open-file limit (the hard one unchanged).
fn set_soft_open_files(soft: u64) -> bool {
    let Some((_, hard)) = nofile_limits() else {
        return false;
    };
    let pid = std::process::id().to_string();
    let limit = format!("--nofile={soft}:{hard}");
    std::process::Command::new("prlimit")
        .args(["--pid", &pid, &limit])
        .status()
        .is_ok_and(|s| s.success())
}

/// Leaves no descriptor free: a low limit, filled up with `/dev/null`
/// handles (dropping them, and restoring the limit, frees them again).
fn use_up_descriptors() -> Vec<std::fs::File> {
    assert!(
        set_soft_open_files(open_fds() as u64 + 16),
        "prlimit failed"
    );
    let mut fillers = Vec::new();
    while let Ok(file) = std::fs::File::open("/dev/null") {
        fillers.push(file);
    }
    fillers
}

fn an_accept_loop_survives_running_out_of_descriptors_without_spinning() {
    use std::future::poll_fn;
    use std::pin::Pin;

    use futures_core::Stream;

    let Some((soft, _)) = nofile_limits() else {
        return;
    };
    let (errors, accepted) = corio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Three clients wait in the backlog (their connects complete in
        // the kernel before any accept).
        let mut clients = Vec::new();
        for _ in 0..3 {
            clients.push(TcpStream::connect(addr).await.unwrap());
        }
        // No descriptor left for accept (freed again below).
        let fillers = use_up_descriptors();
        let mut incoming = listener.incoming();
        let mut errors = 0;
        let mut accepted = 0;
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(200) {
            let next = corio::time::timeout(
                Duration::from_millis(20),
                poll_fn(|cx| Pin::new(&mut incoming).poll_next(cx)),
            )
            .await;
            match next {
                Ok(Some(Err(_))) => errors += 1,
                Ok(Some(Ok(_))) => accepted += 1,
                Ok(None) | Err(_) => {}
            }
        }
        // Descriptors again: the waiting connections are taken.
        drop(fillers);
        assert!(set_soft_open_files(soft));
        while accepted < 3 {
            let next = poll_fn(|cx| Pin::new(&mut incoming).poll_next(cx)).await;
            if let Some(Ok(_)) = next {
                accepted += 1;
            }
        }
        drop(clients);
        (errors, accepted)
    });
    eprintln!("EMFILE for 200 ms: {errors} failed accepts, then {accepted} accepted");
    assert!(errors >= 1, "accept should have failed with EMFILE");
    // 200 ms with a 10 ms back-off: about 20 tries, not thousands.
    assert!(
        errors <= 40,
        "the accept loop spun: {errors} errors in 200 ms"
    );
    assert_eq!(accepted, 3);
}

fn the_demo_server_keeps_accepting_after_running_out_of_descriptors() {
    use corio::http::server::{Reply, Server};

    let Some((soft, _)) = nofile_limits() else {
        return;
    };
    let answer = corio::run(async {
        let server = Server::bind("127.0.0.1:0", |_req| async { Reply::text("still here") })
            .await
            .unwrap();
        // A client waits in the backlog while the server has no descriptor
        // to accept it with.
        let mut client = TcpStream::connect(server.local_addr()).await.unwrap();
        let fillers = use_up_descriptors();
        corio::time::sleep(Duration::from_millis(100)).await; // accepts fail
        drop(fillers);
        assert!(set_soft_open_files(soft));
        client
            .write_all(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        let read = corio::time::timeout(Duration::from_secs(5), client.read_to_end(&mut answer));
        read.await.unwrap().unwrap();
        answer
    });
    assert!(
        answer.ends_with(b"still here"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}
