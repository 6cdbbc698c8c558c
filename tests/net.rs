//! TCP and UDP on loopback: data intact, ends and errors seen, cancelled
//! readers harmless, halves in two tasks. Every test is bounded in time.

mod common;

use common::connected_pair;
use common::run_bounded as run;
use std::cell::Cell;
use std::io::ErrorKind;
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;

use corio::net::{TcpListener, TcpStream, UdpSocket};
use corio::time::timeout;

/// A listener on a free loopback port, and its address.
async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// Accepts connections forever, echoing each in its own task.
fn spawn_echo_server(listener: TcpListener) -> corio::Task<()> {
    corio::spawn(async move {
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            let _task = corio::spawn(async move {
                let mut buf = vec![0; 16 * 1024];
                loop {
                    match conn.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if conn.write_all(&buf[..n]).await.is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    })
}

#[test]
fn one_mebibyte_echoed_through_one_connection_arrives_intact() {
    run(async {
        let (listener, addr) = listener().await;
        let _server = spawn_echo_server(listener).cancel_on_drop();
        let data: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 7 % 251) as u8).collect();
        let (mut reader, mut writer) = TcpStream::connect(addr).await.unwrap().into_split();
        let expected = data.clone();
        let sending = corio::spawn(async move { writer.write_all(&data).await });
        let mut echoed = vec![0; expected.len()];
        reader.read_exact(&mut echoed).await.unwrap();
        sending.await.unwrap().unwrap();
        assert!(echoed == expected, "the echoed bytes differ");
    });
}

#[test]
fn after_the_peer_shuts_down_writing_read_to_end_returns() {
    run(async {
        let (listener, addr) = listener().await;
        let _task = corio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            conn.write_all(b"the whole page").await.unwrap();
            conn.shutdown(Shutdown::Write).unwrap();
            // Keep the connection open: only the write side ended.
            corio::time::sleep(Duration::from_secs(5)).await;
        });
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut page = Vec::new();
        assert_eq!(stream.read_to_end(&mut page).await.unwrap(), 14);
        assert_eq!(page, b"the whole page");
    });
}

#[test]
fn data_and_end_of_stream_arriving_together_are_both_read() {
    // The short-read shortcut (a read that did not fill the buffer clears
    // readiness) must not hide an end of stream that came with the data.
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = std_listener.local_addr().unwrap();
    run(async {
        let server = std::thread::spawn(move || {
            let (mut conn, _) = std_listener.accept().unwrap();
            std::io::Write::write_all(&mut conn, b"abc").unwrap();
            drop(conn); // data then FIN, back to back
        });
        let mut stream = TcpStream::connect(addr).await.unwrap();
        corio::time::sleep(Duration::from_millis(50)).await; // both have arrived
        let mut buf = [0; 100];
        assert_eq!(stream.read(&mut buf).await.unwrap(), 3);
        assert_eq!(stream.read(&mut buf).await.unwrap(), 0);
        server.join().unwrap();
    });
}

#[test]
fn data_that_arrives_after_a_short_read_wakes_the_reader() {
    run(async {
        let (listener, addr) = listener().await;
        let _task = corio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            for part in [&b"first"[..], b"second", b"third"] {
                conn.write_all(part).await.unwrap();
                corio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut got = Vec::new();
        let mut buf = [0; 64];
        while got.len() < 16 {
            let n = stream.read(&mut buf).await.unwrap();
            assert!(n > 0);
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"firstsecondthird");
    });
}

#[test]
fn connecting_to_a_closed_port_is_connection_refused() {
    run(async {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let err = TcpStream::connect(("127.0.0.1", port)).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
    });
}

#[test]
fn a_connect_that_cannot_complete_times_out() {
    run(async {
        // A listener whose queue is full: the kernel drops further SYNs,
        // and a connect can only wait.
        let (_listener, addr, _queued) = common::full_listener().await;
        let err = TcpStream::connect_timeout(addr, Duration::from_millis(200))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TimedOut);
        assert!(err.to_string().contains("timed out"));
    });
}

#[test]
fn a_peer_reset_gives_an_error_not_a_hang() {
    run(async {
        let (listener, addr) = listener().await;
        let _task = corio::spawn(async move {
            let (conn, _) = listener.accept().await.unwrap();
            // SO_LINGER 0: closing sends a reset instead of a FIN.
            conn.set_zero_linger().unwrap();
            assert_eq!(conn.linger().unwrap(), Some(Duration::ZERO));
            drop(conn);
        });
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut buf = [0; 16];
        let mut saw_error = false;
        // A reset shows as an error on read (or on a write after it).
        for _ in 0..10 {
            match stream.read(&mut buf).await {
                Err(err) => {
                    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
                    saw_error = true;
                    break;
                }
                Ok(0) => {
                    if let Err(err) = stream.write_all(b"anyone?").await {
                        assert!(matches!(
                            err.kind(),
                            ErrorKind::ConnectionReset | ErrorKind::BrokenPipe
                        ));
                        saw_error = true;
                        break;
                    }
                    corio::time::sleep(Duration::from_millis(10)).await;
                }
                Ok(_) => unreachable!("the peer sent nothing"),
            }
        }
        assert!(saw_error);
    });
}

#[test]
fn a_task_cancelled_while_it_waits_in_read_leaves_the_loop_and_other_connections_healthy() {
    run(async {
        let (listener, addr) = listener().await;
        let _server = spawn_echo_server(listener).cancel_on_drop();
        let stream = TcpStream::connect(addr).await.unwrap();
        let reader = corio::spawn(async move {
            let mut stream = stream;
            let mut buf = [0; 8];
            let n = stream.read(&mut buf).await; // nothing comes: parks
            (stream, n.map(|_| ()))
        });
        corio::time::sleep(Duration::from_millis(20)).await;
        assert!(reader.cancel());
        assert!(reader.await.is_err());
        // Other connections still work, on the same loop.
        for _ in 0..3 {
            let mut other = TcpStream::connect(addr).await.unwrap();
            other.write_all(b"still fine").await.unwrap();
            let mut buf = [0; 10];
            other.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"still fine");
        }
    });
}

#[test]
fn a_read_future_dropped_midway_loses_no_data() {
    run(async {
        let (listener, addr) = listener().await;
        let _task = corio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            corio::time::sleep(Duration::from_millis(50)).await;
            conn.write_all(b"late").await.unwrap();
            corio::time::sleep(Duration::from_secs(5)).await;
        });
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut buf = [0; 4];
        assert!(
            timeout(Duration::from_millis(5), stream.read(&mut buf))
                .await
                .is_err()
        );
        stream.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"late");
    });
}

#[test]
fn two_tasks_use_the_two_halves_of_one_stream_at_once() {
    run(async {
        let (listener, addr) = listener().await;
        let _server = spawn_echo_server(listener).cancel_on_drop();
        let (mut reader, mut writer) = TcpStream::connect(addr).await.unwrap().into_split();
        const N: usize = 1000;
        let writing = corio::spawn(async move {
            for i in 0..N {
                writer.write_all(&(i as u32).to_be_bytes()).await.unwrap();
                if i % 100 == 0 {
                    corio::yield_now().await;
                }
            }
            // Dropping the write half sends FIN; the echo server then ends.
        });
        let reading = corio::spawn(async move {
            let mut buf = [0; 4];
            for i in 0..N {
                reader.read_exact(&mut buf).await.unwrap();
                assert_eq!(u32::from_be_bytes(buf), i as u32);
            }
            let mut rest = Vec::new();
            reader.read_to_end(&mut rest).await.unwrap();
            rest.len()
        });
        writing.await.unwrap();
        assert_eq!(reading.await.unwrap(), 0);
    });
}

#[test]
fn reunited_halves_are_the_stream_again_with_its_write_side_still_open() {
    run(async {
        let (client, mut server) = connected_pair().await;
        let (reader, writer) = client.into_split();
        let mut client = reader.reunite(writer).unwrap();
        // Nothing was shut down: the server reads what comes after, and no
        // end of stream before it.
        client.write_all(b"still here").await.unwrap();
        let mut buf = [0; 10];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"still here");
        server.write_all(b"ok").await.unwrap();
        let mut two = [0; 2];
        client.read_exact(&mut two).await.unwrap();
        assert_eq!(&two, b"ok");
        // Dropping the stream closes it: now the server sees the end.
        drop(client);
        let mut rest = Vec::new();
        assert_eq!(server.read_to_end(&mut rest).await.unwrap(), 0);
    });
}

#[test]
fn halves_of_two_streams_do_not_reunite_and_come_back_working() {
    run(async {
        let (a, mut a_server) = connected_pair().await;
        let (b, mut b_server) = connected_pair().await;
        let (a_reader, a_writer) = a.into_split();
        let (b_reader, b_writer) = b.into_split();
        let err = a_reader.reunite(b_writer).unwrap_err();
        assert!(err.to_string().contains("different TCP streams"));
        let corio::net::ReuniteError(a_reader, mut b_writer) = err;
        let err = a_writer.reunite(b_reader).unwrap_err();
        let corio::net::ReuniteError(b_reader, a_writer) = err;
        // The halves still work, and each write half still shuts its side
        // down when dropped.
        b_writer.write_all(b"b").await.unwrap();
        drop(b_writer);
        let mut got = Vec::new();
        b_server.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"b");
        drop(a_writer);
        got.clear();
        a_server.read_to_end(&mut got).await.unwrap();
        assert!(got.is_empty());
        a_server.write_all(b"to a").await.unwrap();
        let mut a_reader = a_reader;
        let mut buf = [0; 4];
        a_reader.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"to a");
        drop(b_reader);
    });
}

#[test]
fn streams_work_through_futures_io_traits() {
    use std::future::poll_fn;
    use std::pin::Pin;

    use futures_io::{AsyncRead, AsyncWrite};

    run(async {
        let (listener, addr) = listener().await;
        let _server = spawn_echo_server(listener).cancel_on_drop();
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let n = poll_fn(|cx| Pin::new(&mut stream).poll_write(cx, b"trait"))
            .await
            .unwrap();
        assert_eq!(n, 5);
        let mut buf = [0; 5];
        let mut got = 0;
        while got < 5 {
            got += poll_fn(|cx| Pin::new(&mut stream).poll_read(cx, &mut buf[got..]))
                .await
                .unwrap();
        }
        assert_eq!(&buf, b"trait");
        poll_fn(|cx| Pin::new(&mut stream).poll_close(cx))
            .await
            .unwrap();
    });
}

#[test]
fn names_are_resolved_off_the_loop_and_ipv6_works_where_the_machine_has_it() {
    run(async {
        let listener = TcpListener::bind(("localhost", 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let stream = TcpStream::connect(("localhost", addr.port())).await;
        assert!(stream.is_ok());
        if let Ok(v6) = TcpListener::bind("[::1]:0").await {
            let addr = v6.local_addr().unwrap();
            let _server = spawn_echo_server(v6).cancel_on_drop();
            let mut stream = TcpStream::connect(addr).await.unwrap();
            stream.write_all(b"v6").await.unwrap();
            let mut buf = [0; 2];
            stream.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"v6");
        }
        let err = TcpStream::connect("no-such-host.invalid:80")
            .await
            .unwrap_err();
        assert_ne!(err.kind(), ErrorKind::TimedOut);
        assert!(
            err.to_string().starts_with("no-such-host.invalid:80: "),
            "the message names what was looked up: {err}"
        );
        let inner = err.get_ref().expect("a lookup error");
        assert!(inner.source().is_some(), "std's error stays the source");
    });
}

#[test]
fn a_new_socket_on_a_reused_descriptor_gets_no_stale_wake_ups() {
    use std::os::fd::{AsFd, AsRawFd};

    run(async {
        let (listener, addr) = listener().await;
        let _server = spawn_echo_server(listener).cancel_on_drop();
        // A reader parked on stream A, then cancelled: A is dropped
        // (deregistered, closed) while its waker was parked.
        let a = TcpStream::connect(addr).await.unwrap();
        let old_fd = a.as_fd().as_raw_fd();
        let parked = corio::spawn(async move {
            let mut a = a;
            let mut buf = [0; 1];
            let _ = a.read(&mut buf).await;
        });
        corio::yield_now().await;
        parked.cancel();
        let _ = parked.await;
        // B gets a descriptor — usually A's number again.
        let b = TcpStream::connect(addr).await.unwrap();
        let reused = b.as_fd().as_raw_fd() == old_fd;
        // Linux hands out the lowest free descriptor: A's number again.
        #[cfg(target_os = "linux")]
        assert!(
            reused,
            "the descriptor was not reused; the test proves nothing"
        );
        let (mut reader, mut writer) = b.into_split();
        // B's reader runs in its own task, counting its polls: it is polled
        // once, parks, and is woken only by B's own data.
        let polls = Rc::new(Cell::new(0));
        let p = polls.clone();
        let reading = corio::spawn(async move {
            let mut buf = [0; 4];
            std::future::poll_fn(|cx| {
                p.set(p.get() + 1);
                let fut = std::pin::pin!(reader.read(&mut buf));
                fut.poll(cx)
            })
            .await
            .map(|n| buf[..n].to_vec())
        });
        corio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(
            polls.get(),
            1,
            "B's reader was woken spuriously (fd reused: {reused})"
        );
        writer.write_all(b"ping").await.unwrap(); // echoed back to B
        let got = reading.await.unwrap().unwrap();
        assert!(b"ping".starts_with(&got) && !got.is_empty());
        assert_eq!(polls.get(), 2);
    });
}

// ----- UDP -----------------------------------------------------------------------

#[test]
fn udp_datagrams_round_trip() {
    run(async {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let server_addr = server.local_addr().unwrap();
        let echo = corio::spawn(async move {
            let mut buf = [0; 1500];
            for _ in 0..100 {
                let (n, from) = server.recv_from(&mut buf).await.unwrap();
                server.send_to(&buf[..n], from).await.unwrap();
            }
        });
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        client.connect(server_addr).await.unwrap();
        let mut buf = [0; 1500];
        for i in 0..100u32 {
            client.send(&i.to_be_bytes()).await.unwrap();
            let n = client.recv(&mut buf).await.unwrap();
            assert_eq!(&buf[..n], &i.to_be_bytes());
        }
        echo.await.unwrap();
    });
}

#[test]
fn a_datagram_larger_than_the_buffer_is_truncated_silently() {
    run(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        a.send_to(&[7; 100], b.local_addr().unwrap()).await.unwrap();
        a.send_to(b"next", b.local_addr().unwrap()).await.unwrap();
        let mut small = [0; 10];
        let (n, _) = b.recv_from(&mut small).await.unwrap();
        assert_eq!(n, 10, "the OS truncates: 10 of 100 bytes, no error");
        assert_eq!(small, [7; 10]);
        // The rest of that datagram is gone; the next one is whole.
        let mut buf = [0; 100];
        let (n, _) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"next");
    });
}

#[test]
#[should_panic(expected = "no running event loop")]
fn creating_a_socket_outside_a_loop_panics_with_a_clear_message() {
    let _ = TcpStream::from_std(
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| std::net::TcpStream::connect(l.local_addr()?))
            .unwrap(),
    );
}

#[test]
fn a_udp_socket_goes_on_after_an_icmp_error_without_spinning() {
    run(async {
        let closed_addr = {
            let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            closed.local_addr().unwrap()
        };
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        socket.connect(closed_addr).await.unwrap();
        socket.send(b"anyone?").await.unwrap();
        corio::time::sleep(Duration::from_millis(50)).await; // the ICMP error arrives
        let mut buf = [0; 16];
        let first = timeout(Duration::from_millis(200), socket.recv(&mut buf)).await;
        assert_eq!(
            first.unwrap().unwrap_err().kind(),
            ErrorKind::ConnectionRefused
        );
        // Nothing more comes: the next recv parks (and times out) instead of
        // spinning on a "closed" state that a UDP error does not mean.
        let started = std::time::Instant::now();
        let second = timeout(Duration::from_millis(100), socket.recv(&mut buf)).await;
        assert!(second.is_err());
        assert!(started.elapsed() < Duration::from_secs(2));
    });
}

#[test]
fn two_tasks_accepting_on_one_listener_both_get_connections() {
    run(async {
        let listener = Rc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let addr = listener.local_addr().unwrap();
        let (l1, l2) = (listener.clone(), listener.clone());
        let a = corio::spawn(async move { l1.accept().await.map(|_| ()) });
        let b = corio::spawn(async move { l2.accept().await.map(|_| ()) });
        corio::yield_now().await; // both are parked on the listener now
        let _c1 = TcpStream::connect(addr).await.unwrap();
        let _c2 = TcpStream::connect(addr).await.unwrap();
        timeout(Duration::from_secs(5), b)
            .await
            .expect("b hung")
            .unwrap()
            .unwrap();
        timeout(Duration::from_secs(5), a)
            .await
            .expect("a hung")
            .unwrap()
            .unwrap();
    });
}

#[test]
fn two_tasks_receiving_on_one_udp_socket_both_get_datagrams() {
    run(async {
        let socket = Rc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let addr = socket.local_addr().unwrap();
        let (s1, s2) = (socket.clone(), socket.clone());
        let a = corio::spawn(async move { s1.recv_from(&mut [0; 8]).await.map(|_| ()) });
        let b = corio::spawn(async move { s2.recv_from(&mut [0; 8]).await.map(|_| ()) });
        corio::yield_now().await;
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        sender.send_to(b"1", addr).await.unwrap();
        sender.send_to(b"2", addr).await.unwrap();
        timeout(Duration::from_secs(5), b)
            .await
            .expect("b hung")
            .unwrap()
            .unwrap();
        timeout(Duration::from_secs(5), a)
            .await
            .expect("a hung")
            .unwrap()
            .unwrap();
    });
}

#[test]
fn a_cancelled_read_to_end_leaves_exactly_the_bytes_read() {
    run(async {
        let (listener, addr) = listener().await;
        let _task = corio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            conn.write_all(b"abc").await.unwrap();
            corio::time::sleep(Duration::from_secs(5)).await;
        });
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut buf = Vec::new();
        let result = timeout(Duration::from_millis(100), stream.read_to_end(&mut buf)).await;
        assert!(result.is_err());
        assert_eq!(buf, b"abc");
    });
}

#[test]
fn a_loop_with_only_an_unused_socket_is_idle_not_stuck() {
    let result = std::panic::catch_unwind(|| {
        corio::run(async {
            let _listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            std::future::pending::<()>().await
        })
    });
    let err = result.expect_err("nothing can ever wake it: a clear panic, not a hang");
    let message = err
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default();
    assert!(message.contains("would block forever"), "{message}");
}

#[test]
#[should_panic(expected = "belongs to another event loop")]
fn a_socket_used_on_another_loop_is_a_clear_error() {
    let (listener, stream) = corio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        (listener, stream)
    });
    corio::run(async move {
        let _listener = listener; // kept: the connection waits in its backlog
        let mut stream = stream;
        let mut buf = [0; 1];
        let _ = stream.read(&mut buf).await;
    });
}

#[test]
fn data_after_an_urgent_byte_is_read_without_new_data_arriving() {
    // A read stops short at TCP's urgent mark with data queued behind it:
    // that short read must not count as "drained" (which would park the
    // reader until new data comes — never, here).
    run(async {
        let (mut client, server) = connected_pair().await;
        let peer = socket2::SockRef::from(&server);
        peer.send(b"abc").unwrap();
        peer.send_out_of_band(b"X").unwrap();
        peer.send(b"def").unwrap();
        corio::time::sleep(Duration::from_millis(50)).await; // all of it arrived
        let mut buf = [0; 64];
        let n = client.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"abc", "the kernel stops at the urgent mark");
        let n = timeout(Duration::from_secs(2), client.read(&mut buf))
            .await
            .expect("the bytes after the urgent mark are read")
            .unwrap();
        assert_eq!(&buf[..n], b"def");
        drop(server);
    });
}

#[test]
fn a_reader_whose_socket_never_runs_dry_still_lets_other_tasks_run() {
    // 64 KiB are buffered before the reader starts, and it reads them a
    // byte at a time: every read succeeds at once, so without a budget the
    // task would never return `Pending` and the ticker would never run.
    run(async {
        let (mut reader, mut writer) = connected_pair().await;
        writer.write_all(&[7; 64 * 1024]).await.unwrap();
        corio::time::sleep(Duration::from_millis(50)).await; // all of it arrived
        let ticks = Rc::new(Cell::new(0u32));
        let t = ticks.clone();
        let _ticker = corio::spawn(async move {
            loop {
                t.set(t.get() + 1);
                corio::yield_now().await;
            }
        });
        let mut byte = [0u8; 1];
        for _ in 0..64 * 1024 {
            reader.read_exact(&mut byte).await.unwrap();
        }
        // 65,536 reads at 128 per poll: the reader yielded 512 times.
        assert!(ticks.get() >= 256, "the ticker ran {} times", ticks.get());
    });
}

/// A minimal `block_on`, as a foreign executor run inside a task would be.
fn foreign_block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    struct Flag(AtomicBool);
    impl std::task::Wake for Flag {
        fn wake(self: Arc<Self>) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let flag = Arc::new(Flag(AtomicBool::new(false)));
    let waker = std::task::Waker::from(flag.clone());
    let mut cx = std::task::Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        if let std::task::Poll::Ready(out) = future.as_mut().poll(&mut cx) {
            return out;
        }
        if !flag.0.swap(false, Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

#[test]
fn sockets_polled_by_a_foreign_executor_or_a_generator_inside_a_task_are_not_budgeted() {
    // Only a `Pending` that leads back to the loop renews the budget; one
    // seen by another executor, or by a generator, must not come at all.
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        corio::run(async move {
            let (mut client, mut server) = connected_pair().await;
            server.write_all(&[7; 400]).await.unwrap();
            corio::time::sleep(Duration::from_millis(50)).await; // all arrived
            let read = foreign_block_on(async {
                let mut byte = [0u8; 1];
                for _ in 0..200 {
                    client.read_exact(&mut byte).await.unwrap();
                }
                200
            });
            let mut bytes = corio::generator::Gen::new(|co| async move {
                let mut byte = [0u8; 1];
                for _ in 0..200 {
                    client.read_exact(&mut byte).await.unwrap();
                    co.yield_(byte[0]).await;
                }
            });
            let yielded = bytes.by_ref().count();
            done.send((read, yielded)).unwrap();
        });
    });
    let got = finished.recv_timeout(Duration::from_secs(5));
    assert_eq!(got, Ok((200, 200)));
}

/// Polls the loop makes in 200 ms while the tasks it has wait for nothing
/// (after 20 ms to settle).
async fn polls_while_waiting() -> u64 {
    corio::time::sleep(Duration::from_millis(20)).await;
    let before = corio::stats().polls;
    corio::time::sleep(Duration::from_millis(200)).await;
    corio::stats().polls - before
}

/// Awaits each task, within 5 s, and unwraps its `io::Result`.
async fn join_all(tasks: Vec<corio::Task<std::io::Result<()>>>) {
    for task in tasks {
        let within = timeout(Duration::from_secs(5), task).await;
        within.unwrap().unwrap().unwrap();
    }
}

#[test]
fn forty_tasks_receiving_on_one_udp_socket_leave_the_loop_idle() {
    // More waiters than a direction's first limit (32): the loop must not
    // flush and refill the list for ever while nothing arrives.
    run(async {
        let socket = Rc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let addr = socket.local_addr().unwrap();
        let tasks: Vec<_> = (0..40)
            .map(|_| {
                let socket = Rc::clone(&socket);
                corio::spawn(async move { socket.recv_from(&mut [0; 8]).await.map(|_| ()) })
            })
            .collect();
        let polls = polls_while_waiting().await;
        assert!(
            polls < 100,
            "{polls} polls in 200 ms of waiting for nothing"
        );
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        for _ in 0..40 {
            sender.send_to(b"x", addr).await.unwrap();
        }
        join_all(tasks).await;
    });
}

#[test]
fn forty_tasks_accepting_on_one_listener_leave_the_loop_idle() {
    run(async {
        let listener = Rc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
        let addr = listener.local_addr().unwrap();
        let tasks: Vec<_> = (0..40)
            .map(|_| {
                let listener = Rc::clone(&listener);
                corio::spawn(async move { listener.accept().await.map(|_| ()) })
            })
            .collect();
        let polls = polls_while_waiting().await;
        assert!(
            polls < 100,
            "{polls} polls in 200 ms with no connection coming"
        );
        let mut clients = Vec::new();
        for _ in 0..40 {
            clients.push(TcpStream::connect(addr).await.unwrap());
        }
        join_all(tasks).await;
    });
}

#[test]
fn send_to_a_name_with_both_families_uses_the_address_of_the_sockets_own() {
    // `localhost` may resolve to ::1 first: an IPv4 socket must not fail
    // with "address family not supported" when 127.0.0.1 is also there.
    run(async {
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = b.local_addr().unwrap().port();
        let both: [SocketAddr; 2] = [
            format!("[::1]:{port}").parse().unwrap(),
            format!("127.0.0.1:{port}").parse().unwrap(),
        ];
        assert_eq!(a.send_to(b"hi", &both[..]).await.unwrap(), 2);
        let mut buf = [0; 8];
        let (n, _) = timeout(Duration::from_secs(5), b.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&buf[..n], b"hi");
    });
}

#[test]
fn receives_abandoned_by_the_thousand_leave_no_wakers_on_a_quiet_socket() {
    // Each receive registers a waker of its own (as children of a gather
    // do) and is dropped: its waker leaves with it, in a burst in one turn
    // as well as turn after turn.
    struct Tracked(#[allow(dead_code)] std::sync::Arc<()>);
    impl std::task::Wake for Tracked {
        fn wake(self: std::sync::Arc<Self>) {}
    }
    run(async {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let token = std::sync::Arc::new(());
        let mut buf = [0u8; 8];
        let mut abandon = |n: usize| {
            for _ in 0..n {
                let waker = std::task::Waker::from(std::sync::Arc::new(Tracked(token.clone())));
                let mut cx = std::task::Context::from_waker(&waker);
                let mut recv = std::pin::pin!(socket.recv_from(&mut buf));
                assert!(std::future::Future::poll(recv.as_mut(), &mut cx).is_pending());
            }
        };
        abandon(100_000);
        for _turn in 0..100 {
            abandon(1_000);
            corio::yield_now().await;
        }
        let held = std::sync::Arc::strong_count(&token) - 1;
        assert_eq!(held, 0, "wakers of dropped receives still registered");
    });
}

/// Runs `f` on a thread of its own: its panic message, or `Err` if it is
/// still running after `limit` (it hangs).
fn outcome_within(limit: Duration, f: impl FnOnce() + Send + 'static) -> Result<String, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let message = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)) {
            Ok(()) => "returned".to_owned(),
            Err(err) => err
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| err.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default(),
        };
        let _ = tx.send(message);
    });
    rx.recv_timeout(limit)
        .map_err(|_| format!("still running after {limit:?}"))
}

#[test]
fn a_socket_whose_loop_was_closed_is_a_clear_error_under_another_executor() {
    let message = outcome_within(Duration::from_secs(10), || {
        let (listener, mut stream) = corio::run(async {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let stream = TcpStream::connect(listener.local_addr().unwrap())
                .await
                .unwrap();
            (listener, stream)
        });
        // The loop is gone; the stream is polled by a hand-made executor.
        let (_peer, _) = listener.into_std().unwrap().accept().unwrap();
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        let mut buf = [0u8; 1];
        let mut read = std::pin::pin!(stream.read(&mut buf));
        let _ = read.as_mut().poll(&mut cx);
    });
    assert!(
        message
            .as_deref()
            .is_ok_and(|m| m.contains("event loop has been closed")),
        "{message:?}"
    );
}

#[test]
#[allow(clippy::await_holding_refcell_ref)] // see below: on purpose
fn an_abandoned_read_does_not_strand_another_tasks_read_of_the_same_stream() {
    // Task A reads through the poll-based `AsyncRead` (its borrow of the
    // shared stream lasts only while polled, its waker stays parked); a
    // read of the other task gives up meanwhile. A must still be woken.
    let got = run(async {
        let (client, mut server) = connected_pair().await;
        let shared = Rc::new(std::cell::RefCell::new(client));
        let a = Rc::clone(&shared);
        let reader = corio::spawn(async move {
            let mut buf = [0u8; 8];
            let n = std::future::poll_fn(|cx| {
                let mut stream = a.borrow_mut();
                futures_io::AsyncRead::poll_read(std::pin::Pin::new(&mut *stream), cx, &mut buf)
            })
            .await
            .unwrap();
            buf[..n].to_vec()
        });
        corio::yield_now().await; // A parked its waker
        // (Held across the await on purpose: A borrows only while polled,
        // and is not polled before this read gives up.)
        {
            let mut stream = shared.borrow_mut();
            let _ = timeout(Duration::from_millis(10), stream.read(&mut [0; 8])).await;
        }
        server.write_all(b"hi").await.unwrap();
        timeout(Duration::from_secs(5), reader)
            .await
            .map(|r| r.unwrap())
    });
    assert_eq!(got, Ok(b"hi".to_vec()), "task A was never woken");
}

#[test]
fn an_accepted_stream_knows_its_peer_address_after_the_peer_reset_it() {
    // A server's accept loop over `incoming()` (which yields the stream
    // alone) logs who connected — also when that client reset the
    // connection before the server looked: `getpeername` fails then.
    let (client_addr, server_saw) = run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let client_addr = client.local_addr().unwrap();
        client.set_zero_linger().unwrap();
        drop(client); // a reset (RST), before the server accepts
        corio::time::sleep(Duration::from_millis(20)).await;
        let stream = listener.incoming().next().await.unwrap();
        let (reader, writer) = stream.into_split();
        let seen = (reader.peer_addr(), writer.peer_addr());
        let stream = reader.reunite(writer).unwrap();
        (client_addr, (seen, stream.peer_addr()))
    });
    let ((from_reader, from_writer), from_stream) = server_saw;
    assert_eq!(from_stream.unwrap(), client_addr);
    assert_eq!(from_reader.unwrap(), client_addr);
    assert_eq!(from_writer.unwrap(), client_addr);
}

#[test]
fn peek_waits_for_bytes_leaves_them_to_read_and_sees_the_end_of_the_stream() {
    let (peeks, read, at_end) = run(async {
        let (mut client, mut server) = connected_pair().await;
        let writer = corio::spawn(async move {
            corio::time::sleep(Duration::from_millis(20)).await;
            server.write_all(b"hello").await.unwrap();
            server.shutdown(Shutdown::Write).unwrap();
            server // kept open for reading until the client is done
        });
        let mut buf = [0u8; 8];
        let n = client.peek(&mut buf).await.unwrap(); // waits for the write
        let first = buf[..n].to_vec();
        let n = client.peek(&mut buf).await.unwrap(); // the same bytes again
        let second = buf[..n].to_vec();
        let mut all = Vec::new();
        client.read_to_end(&mut all).await.unwrap();
        let at_end = client.peek(&mut buf).await.unwrap();
        drop(writer.await.unwrap());
        ((first, second), all, at_end)
    });
    assert!(!peeks.0.is_empty() && b"hello".starts_with(&peeks.0));
    assert!(peeks.1.starts_with(&peeks.0));
    assert_eq!(read, b"hello", "peeking took nothing");
    assert_eq!(at_end, 0);
}

/// A read through `AsyncRead` on a stream shared with the task that
/// closes it (an `Rc<RefCell<Option<_>>>`: a server dropping a client from
/// its map, say) — polled once, parked.
async fn read_until_gone(shared: Rc<std::cell::RefCell<Option<TcpStream>>>) -> bool {
    let mut buf = [0u8; 8];
    let gone = std::future::poll_fn(|cx| match shared.borrow_mut().as_mut() {
        Some(stream) => futures_io::AsyncRead::poll_read(std::pin::Pin::new(stream), cx, &mut buf)
            .map(|_| false),
        None => Poll::Ready(true),
    });
    gone.await
}

#[test]
fn a_task_parked_on_a_stream_that_another_task_drops_is_woken_to_find_it_gone() {
    let found_gone = run(async {
        let (client, _server) = connected_pair().await;
        let shared = Rc::new(std::cell::RefCell::new(Some(client)));
        let reader = corio::spawn(read_until_gone(Rc::clone(&shared)));
        corio::yield_now().await; // the reader parked its waker
        drop(shared.borrow_mut().take());
        timeout(Duration::from_secs(5), reader).await
    });
    assert_eq!(found_gone, Ok(Ok(true)), "the reader was never woken");
}

#[test]
fn a_task_parked_in_poll_accept_on_a_listener_that_is_dropped_is_woken() {
    let found_gone = run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let shared = Rc::new(std::cell::RefCell::new(Some(listener)));
        let polled = Rc::clone(&shared);
        let acceptor = corio::spawn(std::future::poll_fn(move |cx| {
            match polled.borrow().as_ref() {
                Some(listener) => listener.poll_accept(cx).map(|_| false),
                None => Poll::Ready(true),
            }
        }));
        corio::yield_now().await; // the acceptor parked its waker
        drop(shared.borrow_mut().take());
        timeout(Duration::from_secs(5), acceptor).await
    });
    assert_eq!(found_gone, Ok(Ok(true)), "the acceptor was never woken");
}

#[test]
fn the_main_future_parked_on_a_stream_that_a_task_drops_is_woken_not_reported_as_stuck() {
    // Before the fix, nothing could wake the main future any more: `run`
    // panicked with "would block forever" (here, the bound's timer polled
    // it after 20 s, which the elapsed time tells apart).
    let start = std::time::Instant::now();
    let found_gone = run(async {
        let (client, _server) = connected_pair().await;
        let shared = Rc::new(std::cell::RefCell::new(Some(client)));
        let closer = Rc::clone(&shared);
        corio::spawn(async move {
            // (Long enough for the connection's own first events to have
            // come and gone: they would poll the main future once more.)
            corio::time::sleep(Duration::from_millis(50)).await;
            drop(closer.borrow_mut().take());
        })
        .detach();
        read_until_gone(shared).await
    });
    assert!(found_gone);
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "the main future was not woken when the stream went"
    );
}

#[test]
fn a_panicking_foreign_waker_in_a_flushed_waiter_list_costs_no_other_wake() {
    use std::sync::Arc;
    use std::task::{Context, Wake, Waker};
    struct Panicking;
    impl Wake for Panicking {
        fn wake(self: Arc<Self>) {
            panic!("expected: a foreign waker panics");
        }
    }
    struct Quiet;
    impl Wake for Quiet {
        fn wake(self: Arc<Self>) {}
    }
    /// Parks `waker` on the listener (another executor polling it).
    fn park(listener: &TcpListener, waker: Waker) {
        assert!(
            listener
                .poll_accept(&mut Context::from_waker(&waker))
                .is_pending()
        );
    }
    let mut lp = corio::EventLoop::new().unwrap();
    lp.set_exception_handler(|_| {});
    let (victim_polls, flusher) = lp.run_until_complete(async {
        let listener = Rc::new(TcpListener::bind("127.0.0.1:0").await.unwrap());
        park(&listener, Waker::from(Arc::new(Quiet))); // the first waiter
        park(&listener, Waker::from(Arc::new(Panicking)));
        // A task of this loop waits for a connection too.
        let polls = Rc::new(Cell::new(0));
        let (l, p) = (Rc::clone(&listener), Rc::clone(&polls));
        let victim = corio::spawn(async move {
            std::future::poll_fn(|cx| {
                p.set(p.get() + 1);
                l.poll_accept(cx).map(|_| ())
            })
            .await
        });
        corio::yield_now().await; // the victim parks
        for _ in 0..30 {
            park(&listener, Waker::from(Arc::new(Quiet)));
        }
        // One more waiter fills the list: it is flushed, every parked
        // waker woken — the panicking one, and the victim's after it.
        let l = Rc::clone(&listener);
        let flusher = corio::spawn(async move {
            std::future::poll_fn(|cx| match l.poll_accept(cx) {
                Poll::Pending | Poll::Ready(_) => Poll::Ready(()),
            })
            .await
        });
        let flusher = flusher.await;
        for _ in 0..3 {
            corio::yield_now().await;
        }
        victim.cancel();
        (polls.get(), flusher.map_err(|e| e.to_string()))
    });
    assert_eq!((victim_polls, flusher), (2, Ok(())));
}

#[test]
fn a_panicking_foreign_waker_woken_by_io_costs_no_other_wake() {
    use std::sync::Arc;
    use std::task::{Context, Wake, Waker};
    struct Panicking;
    impl Wake for Panicking {
        fn wake(self: Arc<Self>) {
            panic!("expected: a foreign waker panics");
        }
    }
    let mut lp = corio::EventLoop::new().unwrap();
    let got = lp.run_until_complete(async {
        let socket = Rc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let addr = socket.local_addr().unwrap();
        // Another executor's task waits on the socket first...
        let foreign = Waker::from(Arc::new(Panicking));
        let mut buf = [0u8; 8];
        let mut first = Box::pin(socket.recv_from(&mut buf));
        assert!(
            first
                .as_mut()
                .poll(&mut Context::from_waker(&foreign))
                .is_pending()
        );
        // ... then a task of this loop.
        let s = Rc::clone(&socket);
        let receiver = corio::spawn(async move {
            let mut buf = [0u8; 8];
            s.recv_from(&mut buf).await.unwrap().0
        });
        corio::yield_now().await;
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sender.send_to(b"hi", addr).unwrap();
        let got = timeout(Duration::from_secs(5), receiver).await;
        drop(first);
        got
    });
    assert!(matches!(got, Ok(Ok(2))), "{got:?}");
}

#[test]
fn a_read_made_afresh_at_each_poll_waits_without_spinning_and_is_woken() {
    // `poll_fn(|cx| pin!(stream.read(buf)).poll(cx))` adapts the async
    // method to a poll: each read is dropped as its poll returns. Its waker
    // stays parked on the socket (as with tokio), so the next event wakes
    // the task — neither lost, nor taken back and re-woken in a spin.
    let polls = run(async {
        let (mut a, mut b) = connected_pair().await;
        let polls = Rc::new(Cell::new(0u64));
        let p = polls.clone();
        let reader = corio::spawn(async move {
            let mut buf = [0; 8];
            std::future::poll_fn(|cx| {
                p.set(p.get() + 1);
                std::pin::pin!(a.read(&mut buf)).poll(cx)
            })
            .await
            .unwrap()
        });
        corio::time::sleep(Duration::from_millis(200)).await; // nothing sent
        let during_quiet = polls.get();
        b.write_all(b"hi").await.unwrap();
        assert_eq!(reader.await.unwrap(), 2);
        during_quiet
    });
    assert!(
        polls <= 3,
        "polled {polls} times in 200 ms with nothing to read"
    );
}

#[test]
fn a_keepalive_idle_time_under_a_second_is_rounded_up_and_one_the_kernel_refuses_changes_nothing() {
    run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let stream = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let socket = socket2::SockRef::from(&stream);
        let zero = stream.set_keepalive(Some(Duration::ZERO));
        assert_eq!(zero.unwrap_err().kind(), ErrorKind::InvalidInput);
        assert!(
            !socket.keepalive().unwrap(),
            "a refused call changes nothing"
        );
        stream
            .set_keepalive(Some(Duration::from_millis(500)))
            .unwrap();
        assert!(socket.keepalive().unwrap());
        assert_eq!(socket.keepalive_time().unwrap(), Duration::from_secs(1));
        stream
            .set_keepalive(Some(Duration::from_millis(1900)))
            .unwrap();
        assert_eq!(socket.keepalive_time().unwrap(), Duration::from_secs(2));
        stream.set_keepalive(None).unwrap();
        assert!(!socket.keepalive().unwrap());
        // Too long for the kernel (Linux: 32,767 s at most), or for any
        // count of seconds: refused, and keep-alive stays off.
        for idle in [Duration::from_secs(40_000), Duration::MAX] {
            let refused = stream.set_keepalive(Some(idle));
            assert_eq!(refused.unwrap_err().kind(), ErrorKind::InvalidInput);
            assert!(!socket.keepalive().unwrap(), "{idle:?}");
        }
    });
}

#[test]
fn sockets_give_their_raw_descriptor_for_system_calls() {
    use std::os::fd::{AsFd, AsRawFd};
    run(async {
        let (listener, addr) = listener().await;
        let stream = TcpStream::connect(addr).await.unwrap();
        let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        assert_eq!(listener.as_raw_fd(), listener.as_fd().as_raw_fd());
        assert_eq!(udp.as_raw_fd(), udp.as_fd().as_raw_fd());
        let raw = stream.as_raw_fd();
        let (reader, writer) = stream.into_split();
        assert_eq!(reader.as_raw_fd(), raw);
        assert_eq!(writer.as_raw_fd(), raw);
    });
}

#[test]
fn a_wait_dropped_after_a_readiness_event_leaves_its_tasks_other_wait_on_the_socket_registered() {
    use std::future::{Future, poll_fn};
    use std::pin::pin;
    run(async {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let sender = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let (mut buf_c, mut buf_a, mut buf_b) = ([0u8; 8], [0u8; 8], [0u8; 8]);
        // Three receives in one task (one waker), all waiting.
        let mut c = pin!(socket.recv_from(&mut buf_c));
        let mut a = Some(Box::pin(socket.recv_from(&mut buf_a)));
        let mut b = pin!(socket.recv_from(&mut buf_b));
        poll_fn(|cx| {
            assert!(c.as_mut().poll(cx).is_pending());
            assert!(a.as_mut().unwrap().as_mut().poll(cx).is_pending());
            assert!(b.as_mut().poll(cx).is_pending());
            Poll::Ready(())
        })
        .await;
        sender.send_to(b"one", addr).await.unwrap();
        // The event wakes the task: c takes the datagram; a and b wait again.
        poll_fn(|cx| match c.as_mut().poll(cx) {
            Poll::Ready(got) => {
                assert_eq!(got.unwrap().0, 3);
                assert!(a.as_mut().unwrap().as_mut().poll(cx).is_pending());
                assert!(b.as_mut().poll(cx).is_pending());
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        })
        .await;
        drop(a.take()); // a gives up; b still waits
        sender.send_to(b"two!", addr).await.unwrap();
        // Without polling b again (which would register it afresh): only
        // the socket, or the deadline, wakes the task.
        let mut deadline = pin!(corio::time::sleep(Duration::from_secs(5)));
        let mut first = true;
        let got = poll_fn(|cx| {
            if deadline.as_mut().poll(cx).is_ready() {
                return Poll::Ready(None);
            }
            if std::mem::take(&mut first) {
                return Poll::Pending;
            }
            b.as_mut().poll(cx).map(Some)
        })
        .await;
        assert_eq!(got.expect("b was never woken").unwrap().0, 4);
    });
}
