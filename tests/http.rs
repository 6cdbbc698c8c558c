//! The HTTP client against local servers: every body framing, every error
//! kind, keep-alive reuse (counted by the server), redirects and limits.
//!
//! Most servers here are *scripted*: after each request they send exactly
//! the bytes a test chose — well-formed or not — pause, drip, or close.

mod common;

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::run_bounded;
use corio::http::server::{Reply, Server};
use corio::http::{self, Client, ErrorKind, Method};
use corio::net::{TcpListener, TcpStream};
use corio::time::sleep;

/// What a scripted server does after it has read a request.
#[derive(Clone, Debug)]
enum Step {
    /// Write these bytes.
    Send(Vec<u8>),
    /// Write these bytes one at a time, pausing before each.
    Drip(Vec<u8>, Duration),
    /// Write this piece again and again, until the client goes away.
    Endless(Vec<u8>),
    Pause(Duration),
    /// Close the connection (a FIN).
    Close,
}

use Step::*;

fn send(bytes: &str) -> Step {
    Send(bytes.as_bytes().to_vec())
}

struct Scripted {
    addr: SocketAddr,
    /// Connections accepted.
    accepted: Rc<Cell<usize>>,
    /// Every request head received, in order.
    requests: Rc<RefCell<Vec<String>>>,
}

impl Scripted {
    fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    fn request(&self, n: usize) -> String {
        self.requests.borrow()[n].clone()
    }
}

/// A server that answers request number `n` (counted over all
/// connections, from 0) with `script(n)`.
async fn scripted(script: impl Fn(usize) -> Vec<Step> + 'static) -> Scripted {
    let script: Rc<dyn Fn(usize) -> Vec<Step>> = Rc::new(script);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accepted = Rc::new(Cell::new(0));
    let requests = Rc::new(RefCell::new(Vec::new()));
    let (count, seen) = (Rc::clone(&accepted), Rc::clone(&requests));
    corio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            count.set(count.get() + 1);
            corio::spawn(serve_script(stream, Rc::clone(&script), Rc::clone(&seen))).detach();
        }
    })
    .detach();
    Scripted {
        addr,
        accepted,
        requests,
    }
}

async fn serve_script(
    mut stream: TcpStream,
    script: Rc<dyn Fn(usize) -> Vec<Step>>,
    seen: Rc<RefCell<Vec<String>>>,
) {
    let mut buf = Vec::new();
    loop {
        // Read one request: the head, and a Content-Length body.
        let (head_len, body_len) = loop {
            let mut fields = [httparse::EMPTY_HEADER; 32];
            let mut request = httparse::Request::new(&mut fields);
            if let Ok(httparse::Status::Complete(len)) = request.parse(&buf) {
                let body = request
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .map_or(0, |h| {
                        std::str::from_utf8(h.value)
                            .unwrap()
                            .parse::<usize>()
                            .unwrap()
                    });
                break (len, body);
            }
            let mut piece = [0; 4096];
            match stream.read(&mut piece).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&piece[..n]),
            }
        };
        while buf.len() < head_len + body_len {
            let mut piece = [0; 4096];
            match stream.read(&mut piece).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&piece[..n]),
            }
        }
        let request: Vec<u8> = buf.drain(..head_len + body_len).collect();
        let n = {
            let mut seen = seen.borrow_mut();
            seen.push(String::from_utf8_lossy(&request).into_owned());
            seen.len() - 1
        };
        for step in script(n) {
            let written = match step {
                Send(bytes) => stream.write_all(&bytes).await,
                Drip(bytes, every) => {
                    let mut result = Ok(());
                    for byte in bytes {
                        sleep(every).await;
                        result = stream.write_all(&[byte]).await;
                        if result.is_err() {
                            break;
                        }
                    }
                    result
                }
                Endless(piece) => loop {
                    if let Err(err) = stream.write_all(&piece).await {
                        break Err(err);
                    }
                },
                Pause(d) => {
                    sleep(d).await;
                    Ok(())
                }
                Close => return,
            };
            if written.is_err() {
                return;
            }
        }
    }
}

/// GET `/` and the body as text: what most tests here do.
async fn get_text(client: &Client, server: &impl Site) -> String {
    client
        .get(server.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .into_owned()
}

/// Anything with URLs: the scripted servers and the demo server.
trait Site {
    fn url(&self, path: &str) -> String;
}

impl Site for Scripted {
    fn url(&self, path: &str) -> String {
        Scripted::url(self, path)
    }
}

impl Site for Server {
    fn url(&self, path: &str) -> String {
        Server::url(self, path)
    }
}

fn ok_with(body: &str) -> Vec<Step> {
    vec![send(&format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    ))]
}

async fn error_kind_for(response: &'static str) -> ErrorKind {
    let server = scripted(move |_| vec![send(response), Close]).await;
    http::get(server.url("/")).await.unwrap_err().kind()
}

// ----- body framings ---------------------------------------------------------------

#[test]
fn a_content_length_body_is_read_exactly_and_the_connection_is_reused() {
    run_bounded(async {
        let server = scripted(|n| ok_with(&format!("response {n}"))).await;
        let client = Client::new();
        for n in 0..3 {
            let response = client.get(server.url("/")).send().await.unwrap();
            assert_eq!(response.text(), format!("response {n}"));
        }
        assert_eq!(server.accepted.get(), 1);
    });
}

#[test]
fn a_busy_client_keeps_one_pool_reaper_instead_of_one_per_request() {
    run_bounded(async {
        let server = scripted(|n| ok_with(&format!("response {n}"))).await;
        let client = Client::new();
        // One connection, so the pool is empty whenever a request is out:
        // the reaper must not end (and a new one start) every time.
        let mut seen = std::collections::HashSet::new();
        for _ in 0..20 {
            // The next request takes the connection out of the pool at
            // once, before the reaper started by this one first runs.
            client.get(server.url("/")).send().await.unwrap();
            seen.extend(corio::all_tasks().iter().map(|task| task.id()));
        }
        assert_eq!(server.accepted.get(), 1);
        // The main task, the server's tasks and one reaper.
        assert!(seen.len() <= 5, "{} tasks came and went", seen.len());
    });
}

#[test]
fn repeated_gets_of_one_url_send_the_same_request_and_others_their_own() {
    run_bounded(async {
        let server = scripted(|n| ok_with(&format!("response {n}"))).await;
        let client = Client::new();
        let (a, b) = (server.url("/a?x=1"), server.url("/b"));
        client.get(&a).send().await.unwrap();
        client.get(&a).send().await.unwrap(); // the encoded GET, reused
        client.get(&a).header("X-Extra", "1").send().await.unwrap();
        client.post(&a).body("data").send().await.unwrap();
        client.get(&b).send().await.unwrap();
        client.get(&a).send().await.unwrap();
        let line = |n: usize| server.request(n).lines().next().unwrap().to_owned();
        assert_eq!(server.request(0), server.request(1));
        assert_eq!(server.request(0), server.request(5));
        assert!(server.request(2).contains("X-Extra: 1"));
        assert!(!server.request(5).contains("X-Extra"));
        assert_eq!(line(3), "POST /a?x=1 HTTP/1.1");
        assert!(server.request(3).contains("Content-Length: 4"));
        assert_eq!(line(4), "GET /b HTTP/1.1");
    });
}

#[test]
fn a_chunked_body_with_extensions_and_trailers_is_decoded() {
    run_bounded(async {
        let server = scripted(|_| {
            vec![send(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                 5;name=value\r\nhello\r\n1 ; x\r\n,\r\n06\r\n world\r\n0\r\nExpires: never\r\nX-Trailer: 1\r\n\r\n",
            )]
        })
        .await;
        let client = Client::new();
        for _ in 0..2 {
            let response = client.get(server.url("/")).send().await.unwrap();
            assert_eq!(response.text(), "hello, world");
        }
        assert_eq!(
            server.accepted.get(),
            1,
            "a chunked response ends cleanly: the connection is reused"
        );
    });
}

#[test]
fn a_body_without_length_ends_when_the_server_closes() {
    run_bounded(async {
        let server = scripted(|_| {
            vec![
                send("HTTP/1.1 200 OK\r\n\r\nuntil "),
                Pause(Duration::from_millis(20)),
                send("close"),
                Close,
            ]
        })
        .await;
        let client = Client::new();
        assert_eq!(get_text(&client, &server).await, "until close");
        assert_eq!(
            client.idle_connections(),
            0,
            "a close-delimited connection cannot be reused"
        );
        assert_eq!(get_text(&client, &server).await, "until close");
        assert_eq!(server.accepted.get(), 2);
    });
}

#[test]
fn head_204_and_304_responses_have_no_body_whatever_their_headers_say() {
    run_bounded(async {
        let server = scripted(|n| match n {
            0 => vec![send("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")],
            1 => vec![send("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n")],
            2 => vec![send(
                "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
            )],
            _ => ok_with("after"),
        })
        .await;
        let client = Client::new();
        let head = client.head(server.url("/")).send().await.unwrap();
        assert_eq!((head.status, head.body.len()), (200, 0));
        assert_eq!(
            client.get(server.url("/")).send().await.unwrap().status,
            204
        );
        assert_eq!(
            client.get(server.url("/")).send().await.unwrap().status,
            304
        );
        // Had any of them waited for a body, this would read it as the next response.
        assert_eq!(get_text(&client, &server).await, "after");
        assert_eq!(server.accepted.get(), 1);
    });
}

#[test]
fn interim_1xx_responses_are_skipped() {
    run_bounded(async {
        let server = scripted(|_| {
            vec![
                send("HTTP/1.1 100 Continue\r\n\r\n"),
                Pause(Duration::from_millis(10)),
                send("HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
            ]
        })
        .await;
        let response = http::get(server.url("/")).await.unwrap();
        assert_eq!((response.status, response.text().as_ref()), (200, "ok"));
        assert!(
            response.header("link").is_none(),
            "the interim head's fields are not the response's"
        );
    });
}

#[test]
fn a_large_body_streams_in_pieces_and_arrives_intact() {
    run_bounded(async {
        let body: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
        let expected = body.clone();
        let server = Server::bind("127.0.0.1:0", move |_req| {
            let body = body.clone();
            async move { Reply::new(200).body(body).chunked() }
        })
        .await
        .unwrap();
        let mut response = Client::new()
            .get(server.url("/big"))
            .send_streaming()
            .await
            .unwrap();
        let (mut received, mut pieces) = (Vec::new(), 0);
        while let Some(piece) = response.chunk().await.unwrap() {
            received.extend_from_slice(piece);
            pieces += 1;
        }
        assert!(pieces > 1);
        assert!(received == expected, "the streamed body differs");
        assert!(
            response.chunk().await.unwrap().is_none(),
            "the end stays the end"
        );
    });
}

// ----- malformed responses --------------------------------------------------------

#[test]
fn both_content_length_and_transfer_encoding_is_malformed() {
    let kind = run_bounded(error_kind_for(
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    ));
    assert_eq!(kind, ErrorKind::Malformed);
}

#[test]
fn differing_content_lengths_are_malformed_and_repeated_equal_ones_are_fine() {
    run_bounded(async {
        let kind = error_kind_for(
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
        )
        .await;
        assert_eq!(kind, ErrorKind::Malformed);
        let kind = error_kind_for("HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!").await;
        assert_eq!(kind, ErrorKind::Malformed);
        let kind = error_kind_for("HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello").await;
        assert_eq!(kind, ErrorKind::Malformed);
        let server = scripted(|_| {
            vec![send(
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello",
            )]
        })
        .await;
        assert_eq!(http::get(server.url("/")).await.unwrap().text(), "hello");
    });
}

#[test]
fn a_transfer_coding_other_than_chunked_is_unsupported() {
    let kind = run_bounded(error_kind_for(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
    ));
    assert_eq!(kind, ErrorKind::Unsupported);
}

#[test]
fn a_malformed_status_line_header_or_plain_garbage_is_malformed() {
    run_bounded(async {
        for wire in [
            "HTTP/1.1 2xx OK\r\n\r\n",
            "HTTP/9.9 200 OK\r\n\r\n",
            "HTTP/1.1 200 OK\r\nBad Header Name: x\r\n\r\n",
            "HTTP/1.1 200 OK\r\nX: a\x00b\r\n\r\n",
            "<html>this is not HTTP at all</html>\r\n\r\n",
            "\x16\x03\x01\x02\x00\x01\x00\x01\x7c\x03\x03 tls-ish garbage\r\n\r\n",
        ] {
            let kind = error_kind_for(wire).await;
            assert_eq!(kind, ErrorKind::Malformed, "for {wire:?}");
        }
    });
}

#[test]
fn bad_chunk_sizes_are_malformed() {
    run_bounded(async {
        for chunks in [
            "\r\nhello\r\n0\r\n\r\n",                  // empty size
            "z\r\nhello\r\n0\r\n\r\n",                 // not hex
            "-5\r\nhello\r\n0\r\n\r\n",                // a sign
            "10000000000000005\r\nhello\r\n0\r\n\r\n", // 17 significant digits: overflow
            "5\r\nhello!!\r\n0\r\n\r\n",               // more data than the size
            "5\nhello\r\n0\r\n\r\n",                   // bare LF
        ] {
            let wire: &'static str = Box::leak(
                format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{chunks}")
                    .into_boxed_str(),
            );
            assert_eq!(
                error_kind_for(wire).await,
                ErrorKind::Malformed,
                "for {chunks:?}"
            );
        }
    });
}

#[test]
fn a_connection_whose_response_was_in_error_is_never_reused() {
    run_bounded(async {
        // The first response has an extra chunk-terminator the client
        // cannot account for; the second is fine.
        let server = scripted(|n| match n {
            0 => vec![send("HTTP/1.1 200 OK\r\nContent-Length: 2, 3\r\n\r\nabc")],
            _ => ok_with("fine"),
        })
        .await;
        let client = Client::new();
        assert_eq!(
            client.get(server.url("/")).send().await.unwrap_err().kind(),
            ErrorKind::Malformed
        );
        assert_eq!(get_text(&client, &server).await, "fine");
        assert_eq!(server.accepted.get(), 2);
    });
}

#[test]
fn a_response_with_bytes_after_its_end_does_not_leave_its_connection_for_reuse() {
    run_bounded(async {
        let server =
            scripted(|_| vec![send("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokEXTRA")]).await;
        let client = Client::new();
        assert_eq!(get_text(&client, &server).await, "ok");
        assert_eq!(client.idle_connections(), 0);
    });
}

// ----- limits ----------------------------------------------------------------------

#[test]
fn an_oversized_head_is_too_large() {
    run_bounded(async {
        let big_header = format!("HTTP/1.1 200 OK\r\nX-Big: {}\r\n\r\n", "a".repeat(10_000));
        let server = scripted(move |_| vec![send(&big_header)]).await;
        let client = Client::builder().max_head_bytes(4096).build().unwrap();
        let err = client.get(server.url("/")).send().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooLarge);
        assert!(err.to_string().contains("max_head_bytes"), "{err}");
        // A head that never ends is cut off at the limit too.
        let server = scripted(|_| {
            vec![
                send("HTTP/1.1 200 OK\r\n"),
                Endless(b"X-More: yes\r\n".to_vec()),
            ]
        })
        .await;
        assert_eq!(
            client.get(server.url("/")).send().await.unwrap_err().kind(),
            ErrorKind::TooLarge
        );
    });
}

#[test]
fn an_announced_body_over_the_limit_is_refused_at_once() {
    run_bounded(async {
        let server = scripted(|_| {
            vec![send(
                "HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n",
            )]
        })
        .await;
        let client = Client::builder().max_body_bytes(1000).build().unwrap();
        assert_eq!(
            client.get(server.url("/")).send().await.unwrap_err().kind(),
            ErrorKind::TooLarge
        );
    });
}

#[test]
fn an_endless_chunked_body_stops_at_the_body_limit() {
    run_bounded(async {
        let server = scripted(|_| {
            vec![
                send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
                Endless(
                    b"400\r\n"
                        .iter()
                        .copied()
                        .chain([b'x'; 1024])
                        .chain(*b"\r\n")
                        .collect(),
                ),
            ]
        })
        .await;
        let client = Client::builder().max_body_bytes(1 << 20).build().unwrap();
        let start = Instant::now();
        let err = client.get(server.url("/")).send().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooLarge);
        assert!(start.elapsed() < Duration::from_secs(5));
    });
}

// ----- closed connections and timeouts --------------------------------------------

#[test]
fn a_connection_closed_mid_body_is_closed() {
    run_bounded(async {
        let kind =
            error_kind_for("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part of it").await;
        assert_eq!(kind, ErrorKind::Closed);
        let kind =
            error_kind_for("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n100\r\nonly part")
                .await;
        assert_eq!(kind, ErrorKind::Closed);
        let kind = error_kind_for("HTTP/1.1 200 OK\r\nContent-").await;
        assert_eq!(kind, ErrorKind::Closed);
        let kind = error_kind_for("").await;
        assert_eq!(kind, ErrorKind::Closed);
    });
}

#[test]
fn a_server_that_drips_one_byte_per_100ms_meets_the_read_timeout() {
    run_bounded(async {
        let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello".to_vec();
        let server = scripted(move |_| vec![Drip(wire.clone(), Duration::from_millis(100))]).await;
        let client = Client::builder()
            .read_timeout(Duration::from_millis(40))
            .build()
            .unwrap();
        let start = Instant::now();
        let err = client.get(server.url("/")).send().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout);
        assert!(err.is_timeout());
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
    });
}

#[test]
fn a_drip_that_beats_the_read_timeout_still_meets_the_total_timeout() {
    run_bounded(async {
        // The head at once (a loaded machine must not make it late for the
        // streaming part below), then the body a byte per 10 ms: over a
        // second, every gap well inside the read timeout.
        let server = scripted(move |_| {
            vec![
                Send(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n".to_vec()),
                Drip(vec![b'x'; 100], Duration::from_millis(10)),
            ]
        })
        .await;
        let client = Client::builder()
            .read_timeout(Duration::from_secs(1))
            .total_timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let start = Instant::now();
        let err = client.get(server.url("/")).send().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout);
        assert!(err.to_string().contains("total timeout"), "{err}");
        let took = start.elapsed();
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_secs(3),
            "{took:?}"
        );
        // The total limit covers a streamed body too.
        let mut streaming = client
            .get(server.url("/"))
            .timeout(Duration::from_millis(700))
            .send_streaming()
            .await
            .unwrap();
        let err = loop {
            match streaming.chunk().await {
                Ok(Some(_)) => {}
                Ok(None) => panic!("the body should not finish in time"),
                Err(err) => break err,
            }
        };
        assert_eq!(err.kind(), ErrorKind::Timeout);
    });
}

#[test]
fn connecting_to_a_closed_port_is_an_io_error() {
    run_bounded(async {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = http::get(format!("http://127.0.0.1:{port}/"))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Io);
        let io: std::io::Error = err.into();
        assert_eq!(io.kind(), std::io::ErrorKind::ConnectionRefused);
    });
}

// ----- keep-alive ------------------------------------------------------------------

#[test]
fn connections_are_reused_per_host_and_port() {
    run_bounded(async {
        let a = Server::bind("127.0.0.1:0", |_req| async { Reply::text("a") })
            .await
            .unwrap();
        let b = Server::bind("127.0.0.1:0", |_req| async { Reply::text("b") })
            .await
            .unwrap();
        let client = Client::new();
        for _ in 0..5 {
            assert_eq!(client.get(a.url("/")).send().await.unwrap().text(), "a");
            assert_eq!(client.get(b.url("/x")).send().await.unwrap().text(), "b");
        }
        assert_eq!((a.connections(), b.connections()), (1, 1));
        assert_eq!((a.requests(), b.requests()), (5, 5));
        assert_eq!(client.idle_connections(), 2);
        // Concurrent requests need their own connections; afterwards they all wait in the pool.
        let tasks: Vec<_> = (0..4)
            .map(|_| corio::spawn(client.get(a.url("/")).send()))
            .collect();
        for result in corio::gather(tasks).await {
            assert_eq!(result.unwrap().unwrap().text(), "a");
        }
        assert_eq!(a.connections(), 4);
    });
}

#[test]
fn connection_close_from_either_side_is_not_reused() {
    run_bounded(async {
        let server = Server::bind("127.0.0.1:0", |req| async move {
            if req.path() == "/bye" {
                Reply::text("bye").close()
            } else {
                Reply::text("hi")
            }
        })
        .await
        .unwrap();
        let client = Client::new();
        client.get(server.url("/bye")).send().await.unwrap();
        client.get(server.url("/")).send().await.unwrap();
        assert_eq!(server.connections(), 2);
        let closing = Client::builder().keep_alive(false).build().unwrap();
        closing.get(server.url("/")).send().await.unwrap();
        closing.get(server.url("/")).send().await.unwrap();
        assert_eq!(server.connections(), 4);
        let request = Client::new()
            .get(server.url("/"))
            .header("Connection", "close")
            .send()
            .await
            .unwrap();
        assert_eq!(request.header("connection"), Some("close"));
    });
}

#[test]
fn an_http_1_0_response_closes_unless_it_says_keep_alive() {
    run_bounded(async {
        let server = scripted(|n| match n {
            0 => vec![
                send("HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok"),
                Close,
            ],
            _ => vec![send(
                "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok",
            )],
        })
        .await;
        let client = Client::new();
        client.get(server.url("/")).send().await.unwrap();
        assert_eq!(client.idle_connections(), 0);
        client.get(server.url("/")).send().await.unwrap();
        assert_eq!(client.idle_connections(), 1);
    });
}

#[test]
fn a_pooled_connection_the_server_closed_while_idle_is_not_used() {
    run_bounded(async {
        let server = Server::bind("127.0.0.1:0", |req| async move { Reply::text(req.method) })
            .await
            .unwrap();
        server.set_keep_alive_timeout(Duration::from_millis(30));
        let client = Client::new();
        assert_eq!(get_text(&client, &server).await, "GET");
        sleep(Duration::from_millis(150)).await; // the server closes the idle connection
        assert_eq!(
            client.idle_connections(),
            1,
            "the client has not looked yet"
        );
        // The FIN is noticed before the request is sent: even a POST is safe.
        assert_eq!(
            client
                .post(server.url("/"))
                .body("x")
                .send()
                .await
                .unwrap()
                .text(),
            "POST"
        );
        assert_eq!(server.connections(), 2);
    });
}

#[test]
fn a_reused_connection_closed_under_a_request_is_retried_once_only_for_idempotent_methods() {
    run_bounded(async {
        // Request 1 arrives on the kept-alive connection and the server
        // closes without answering: the race a check before sending cannot see.
        let server = scripted(|n| if n == 1 { vec![Close] } else { ok_with("ok") }).await;
        let client = Client::new();
        client.get(server.url("/")).send().await.unwrap();
        assert_eq!(get_text(&client, &server).await, "ok");
        assert_eq!(
            (server.accepted.get(), server.requests.borrow().len()),
            (2, 3),
            "sent twice, on two connections"
        );

        let server = scripted(|n| if n == 1 { vec![Close] } else { ok_with("ok") }).await;
        client.get(server.url("/")).send().await.unwrap();
        let err = client
            .post(server.url("/"))
            .body("x")
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Closed, "{err}");
        assert_eq!(
            server.requests.borrow().len(),
            2,
            "a POST is never sent twice"
        );
    });
}

#[test]
fn a_connection_the_server_closed_right_after_its_response_is_not_a_failure_for_the_next_request() {
    run_bounded(async {
        // Closed at once, without `Connection: close`: the next request,
        // sent at once by the same task, may still find it trusted (just
        // read dry); a GET then goes again on a new connection, a POST is
        // checked first and never sent on it.
        let server = scripted(|n| match n {
            0 | 2 => vec![send("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"), Close],
            _ => ok_with("fresh"),
        })
        .await;
        let client = Client::new();
        client.get(server.url("/")).send().await.unwrap();
        assert_eq!(get_text(&client, &server).await, "fresh");
        client.get(server.url("/")).send().await.unwrap();
        let posted = client.post(server.url("/")).body("x").send().await.unwrap();
        assert_eq!(posted.text(), "fresh");
        assert_eq!(
            (server.accepted.get(), server.requests.borrow().len()),
            (3, 4),
            "each closed connection replaced once; every request answered once"
        );
    });
}

#[test]
fn idle_connections_are_closed_after_the_pool_timeout() {
    run_bounded(async {
        let server = Server::bind("127.0.0.1:0", |_req| async { Reply::text("x") })
            .await
            .unwrap();
        let client = Client::builder()
            .pool(Duration::from_millis(50), 4)
            .build()
            .unwrap();
        client.get(server.url("/")).send().await.unwrap();
        assert_eq!(client.idle_connections(), 1);
        sleep(Duration::from_millis(200)).await;
        assert_eq!(client.idle_connections(), 0);
    });
}

// ----- redirects -------------------------------------------------------------------

async fn redirecting_server() -> Server {
    Server::bind("127.0.0.1:0", |req| async move {
        let path = req.path().to_owned();
        match path.as_str() {
            "/301" => Reply::redirect(301, "/echo"),
            "/302" => Reply::redirect(302, "echo"), // relative to /302's directory
            "/303" => Reply::redirect(303, "/echo"),
            "/307" => Reply::redirect(307, "/echo"),
            "/308" => Reply::redirect(308, "/echo?from=308"),
            "/loop-a" => Reply::redirect(302, "/loop-b"),
            "/loop-b" => Reply::redirect(302, "/loop-a"),
            "/echo" => Reply::text(format!(
                "{} {} {}",
                req.method,
                req.target,
                String::from_utf8_lossy(&req.body)
            )),
            _ => match path
                .strip_prefix("/chain/")
                .and_then(|n| n.parse::<u32>().ok())
            {
                Some(0) => Reply::text("end of chain"),
                Some(n) => Reply::redirect(302, &format!("/chain/{}", n - 1)),
                None => Reply::not_found(),
            },
        }
    })
    .await
    .unwrap()
}

#[test]
fn redirects_follow_rfc_9110_method_rules() {
    run_bounded(async {
        let server = redirecting_server().await;
        let client = Client::new();
        let post = |path: &str| client.post(server.url(path)).body("data").send();
        assert_eq!(post("/301").await.unwrap().text(), "GET /echo ");
        assert_eq!(post("/302").await.unwrap().text(), "GET /echo ");
        assert_eq!(post("/303").await.unwrap().text(), "GET /echo ");
        assert_eq!(post("/307").await.unwrap().text(), "POST /echo data");
        assert_eq!(
            post("/308").await.unwrap().text(),
            "POST /echo?from=308 data"
        );
        let put = client
            .put(server.url("/303"))
            .body("x")
            .send()
            .await
            .unwrap();
        assert_eq!(put.text(), "GET /echo ");
        let head = client.head(server.url("/303")).send().await.unwrap();
        assert_eq!(head.status, 200);
        let response = client.get(server.url("/301")).send().await.unwrap();
        assert!(response.url().ends_with("/echo"), "{}", response.url());
        assert_eq!(server.connections(), 1, "redirects reuse the connection");
    });
}

#[test]
fn a_redirect_that_drops_the_body_drops_the_headers_about_it() {
    // RFC 9110 §10.1.1: no 100-continue expectation without content.
    run_bounded(async {
        let server = Server::bind("127.0.0.1:0", |req| async move {
            match req.path() {
                "/a" => Reply::redirect(303, "/b"),
                _ => Reply::text(
                    ["content-type", "content-encoding", "expect", "x-keep"]
                        .into_iter()
                        .filter(|name| req.headers.get(name).is_some())
                        .collect::<Vec<_>>()
                        .join(","),
                ),
            }
        })
        .await
        .unwrap();
        let response = Client::new()
            .post(server.url("/a"))
            .header("Content-Type", "text/plain")
            .header("Content-Encoding", "identity")
            .header("Expect", "100-continue")
            .header("X-Keep", "1")
            .body("data")
            .send()
            .await
            .unwrap();
        assert_eq!(response.text(), "x-keep");
    });
}

#[test]
fn a_redirect_keeps_the_fragment_of_the_url_it_left() {
    // RFC 9110 §10.2.2: a Location without a fragment inherits it.
    run_bounded(async {
        let server = redirecting_server().await;
        let client = Client::new();
        let response = client.get(server.url("/301#part")).send().await.unwrap();
        assert!(response.url().ends_with("/echo#part"), "{}", response.url());
        let response = client.get(server.url("/chain/1#a")).send().await.unwrap();
        assert!(response.url().ends_with("/chain/0#a"), "{}", response.url());
    });
}

#[test]
fn the_redirect_limit_and_loops_are_errors() {
    run_bounded(async {
        let server = redirecting_server().await;
        let client = Client::builder().max_redirects(3).build().unwrap();
        assert_eq!(
            client
                .get(server.url("/chain/3"))
                .send()
                .await
                .unwrap()
                .text(),
            "end of chain"
        );
        let err = client.get(server.url("/chain/4")).send().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooManyRedirects);
        let err = Client::new()
            .get(server.url("/loop-a"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::TooManyRedirects);
        assert!(err.to_string().contains("loop"), "{err}");
        let manual = Client::builder().follow_redirects(false).build().unwrap();
        let response = manual.get(server.url("/301")).send().await.unwrap();
        assert_eq!(
            (response.status, response.header("location")),
            (301, Some("/echo"))
        );
    });
}

/// Two origins (two ports): `/away` on the first redirects to the second;
/// `/here` redirects within the first. Both echo the `Authorization` they got.
async fn two_origins() -> (Server, Server) {
    let echo_auth = |req: corio::http::server::Request| async move {
        Reply::text(format!("auth={:?}", req.headers.get_str("authorization")))
    };
    let other = Server::bind("127.0.0.1:0", echo_auth).await.unwrap();
    let target = other.url("/");
    let server = Server::bind("127.0.0.1:0", move |req| {
        let target = target.clone();
        async move {
            match req.path() {
                "/away" => Reply::redirect(302, &target),
                "/here" => Reply::redirect(302, "/show"),
                _ => echo_auth(req).await,
            }
        }
    })
    .await
    .unwrap();
    (server, other)
}

#[test]
fn authorization_is_not_carried_to_another_host() {
    run_bounded(async {
        let (server, _other) = two_origins().await;
        let client = Client::new();
        let get = |path: &str| {
            client
                .get(server.url(path))
                .header("Authorization", "Bearer secret")
                .send()
        };
        assert_eq!(
            get("/here").await.unwrap().text(),
            r#"auth=Some("Bearer secret")"#
        );
        assert_eq!(get("/away").await.unwrap().text(), "auth=None");
    });
}

#[test]
fn a_location_that_is_not_http_is_an_error() {
    run_bounded(async {
        let server = scripted(|_| {
            vec![send(
                "HTTP/1.1 302 Found\r\nLocation: https://example.com/\r\nContent-Length: 0\r\n\r\n",
            )]
        })
        .await;
        assert_eq!(
            http::get(server.url("/")).await.unwrap_err().kind(),
            ErrorKind::Unsupported
        );
        let server = scripted(|_| {
            vec![send(
                "HTTP/1.1 302 Found\r\nLocation: http://[::1\r\nContent-Length: 0\r\n\r\n",
            )]
        })
        .await;
        assert_eq!(
            http::get(server.url("/")).await.unwrap_err().kind(),
            ErrorKind::Malformed
        );
    });
}

// ----- requests and URLs ----------------------------------------------------------

#[test]
fn the_request_has_host_user_agent_accept_encoding_connection_and_content_length() {
    run_bounded(async {
        let server = scripted(|_| ok_with("")).await;
        Client::new()
            .post(server.url("/form?a=1"))
            .body("x=1")
            .send()
            .await
            .unwrap();
        let request = server.request(0);
        let lines: Vec<&str> = request.split("\r\n").collect();
        assert_eq!(lines[0], "POST /form?a=1 HTTP/1.1");
        let host = format!("Host: {}", server.addr);
        for field in [
            host.as_str(),
            "Accept-Encoding: identity",
            "Connection: keep-alive",
            "Content-Length: 3",
        ] {
            assert!(lines.contains(&field), "{field:?} missing from {request:?}");
        }
        assert!(lines.iter().any(|l| l.starts_with("User-Agent: corio/")));
        assert!(request.ends_with("\r\n\r\nx=1"));
    });
}

#[test]
fn a_request_goes_out_with_one_host_field_the_last_one_set() {
    run_bounded(async {
        let server = scripted(|_| ok_with("")).await;
        Client::new()
            .get(server.url("/"))
            .header("Host", "a.example")
            .header("host", "b.example")
            .send()
            .await
            .unwrap();
        let request = server.request(0);
        let hosts: Vec<&str> = request
            .split("\r\n")
            .filter(|line| line.to_ascii_lowercase().starts_with("host:"))
            .collect();
        assert_eq!(hosts, ["host: b.example"], "{request:?}");
    });
}

#[test]
fn percent_encoding_and_queries_are_kept_as_given() {
    run_bounded(async {
        let server = scripted(|_| ok_with("")).await;
        http::get(server.url("/a%20b/%2F/c?x=%41&y=1#fragment"))
            .await
            .unwrap();
        assert!(
            server
                .request(0)
                .starts_with("GET /a%20b/%2F/c?x=%41&y=1 HTTP/1.1\r\n"),
            "{}",
            server.request(0)
        );
    });
}

#[test]
fn header_injection_is_refused_before_anything_is_sent() {
    run_bounded(async {
        let server = scripted(|_| ok_with("")).await;
        for (name, value) in [
            ("X-A", "1\r\nX-Injected: 1"),
            ("X-B", "1\n2"),
            ("X-C", "nul\0"),
            ("Bad Name", "x"),
            ("", "x"),
            ("Content-Length", "5"),
        ] {
            let err = Client::new()
                .get(server.url("/"))
                .header(name, value)
                .send()
                .await
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{name:?}: {value:?}");
        }
        assert_eq!(server.accepted.get(), 0);
    });
}

#[test]
fn header_values_with_other_control_bytes_are_refused_before_anything_is_sent() {
    // RFC 9110 §5.5: a field value is VCHAR, obs-text, SP and HTAB only; a
    // value with another control byte is a malformed request (corio's own
    // demo server answers it 400).
    run_bounded(async {
        let server = Server::bind("127.0.0.1:0", |_req| async { Reply::text("sent") })
            .await
            .unwrap();
        for value in [&b"a\x01b"[..], b"a\x0bb", b"a\x1bb", b"a\x7fb"] {
            let result = Client::new()
                .get(server.url("/"))
                .header("X-A", value)
                .send()
                .await;
            assert_eq!(
                result.map(|r| r.status).map_err(|e| e.kind()),
                Err(ErrorKind::InvalidRequest),
                "{value:?}"
            );
        }
        let built = Client::builder().user_agent("agent\x7f").build();
        assert_eq!(
            built.map(drop).map_err(|e| e.kind()),
            Err(ErrorKind::InvalidRequest)
        );
        assert_eq!(server.connections(), 0);
    });
}

#[test]
fn a_url_without_its_scheme_is_refused_with_the_url_it_probably_meant() {
    run_bounded(async {
        for url in [
            "127.0.0.1:8080/x",
            "localhost:8080",
            "example.com/a?b=c",
            " localhost:1/ ",
        ] {
            let err = http::get(url).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{url}");
            let expected = format!("did you mean http://{}?", url.trim());
            assert!(err.to_string().contains(&expected), "{url}: {err}");
        }
        // A scheme that was meant stays an unsupported one; words stay no URL.
        let err = http::get("mailto:corio@example.com").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported, "{err}");
        let err = http::get("not a url").await.unwrap_err();
        assert!(err.to_string().contains("not a URL"), "{err}");
    });
}

#[test]
fn query_parameters_are_form_encoded_after_the_query_there_is_and_before_the_fragment() {
    run_bounded(async {
        let server = Server::bind("127.0.0.1:0", |req| async move { Reply::text(req.target) })
            .await
            .unwrap();
        let client = Client::new();
        let cases = [
            ("/p", "/p?a=1+2&b=%26%3D%23%2B%25"),
            ("/p?", "/p?a=1+2&b=%26%3D%23%2B%25"),
            ("/p?x=y", "/p?x=y&a=1+2&b=%26%3D%23%2B%25"),
            ("/p?x=y&", "/p?x=y&a=1+2&b=%26%3D%23%2B%25"),
            ("/p#frag", "/p?a=1+2&b=%26%3D%23%2B%25"),
        ];
        for (path, target) in cases {
            let response = client
                .get(server.url(path))
                .query([("a", "1 2"), ("b", "&=#+%")])
                .send()
                .await
                .unwrap();
            assert_eq!(response.text(), target, "{path}");
        }
        // Twice: each call adds its own; none changes nothing.
        let response = client
            .get(server.url("/p"))
            .query([("a", "1")])
            .query(Vec::<(String, String)>::new())
            .query(vec![("é".to_owned(), String::new())])
            .send()
            .await
            .unwrap();
        assert_eq!(response.text(), "/p?a=1&%C3%A9=");
    });
}

#[test]
fn only_a_failure_to_connect_says_is_connect() {
    run_bounded(async {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let refused = http::get(format!("http://127.0.0.1:{port}/"))
            .await
            .unwrap_err();
        assert!(refused.is_connect(), "{refused}");
        let (_listener, addr, _queued) = common::full_listener().await;
        let (timed_out, _) =
            common::get_with_connect_timeout(addr, Duration::from_millis(50)).await;
        assert!(
            timed_out.is_connect() && timed_out.is_timeout(),
            "{timed_out}"
        );
        // Connected, then closed or silent: the server may have acted on it.
        let closing = scripted(|_| vec![Close]).await;
        let closed = http::get(closing.url("/")).await.unwrap_err();
        assert!(!closed.is_connect(), "{closed}");
        let silent = scripted(|_| vec![Pause(Duration::from_secs(5))]).await;
        let client = Client::builder()
            .read_timeout(Duration::from_millis(50))
            .build()
            .unwrap();
        let read = client.get(silent.url("/")).send().await.unwrap_err();
        assert!(read.is_timeout() && !read.is_connect(), "{read}");
        assert!(
            !http::get("http://exa mple.com/")
                .await
                .unwrap_err()
                .is_connect()
        );
    });
}

/// A demo server whose handler takes `pause` and counts how many it
/// serves at once: (server, the most at once).
async fn counting_server(pause: Duration) -> (Server, Rc<Cell<usize>>) {
    let (now, most) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    let seen = most.clone();
    let server = Server::bind("127.0.0.1:0", move |_req| {
        let (now, most) = (now.clone(), most.clone());
        async move {
            now.set(now.get() + 1);
            most.set(most.get().max(now.get()));
            sleep(pause).await;
            now.set(now.get() - 1);
            Reply::text("ok")
        }
    })
    .await
    .unwrap();
    (server, seen)
}

#[test]
fn max_connections_bounds_the_requests_that_hold_a_connection_at_once() {
    run_bounded(async {
        let (server, most) = counting_server(Duration::from_millis(2)).await;
        let client = Client::builder().max_connections(3).build().unwrap();
        let requests = (0..20).map(|_| client.get(server.url("/")).send());
        for response in corio::gather(requests).await {
            assert_eq!(response.unwrap().text(), "ok");
        }
        assert_eq!(most.get(), 3);
        assert_eq!(server.connections(), 3); // reused by those that waited
        assert_eq!(client.idle_connections(), 3);
    });
}

#[test]
fn a_streaming_response_holds_its_place_until_it_is_dropped_and_a_wait_meets_the_total_timeout() {
    run_bounded(async {
        let (server, _) = counting_server(Duration::ZERO).await;
        let client = Client::builder().max_connections(1).build().unwrap();
        let held = client.get(server.url("/")).send_streaming().await.unwrap();
        let err = client
            .get(server.url("/"))
            .timeout(Duration::from_millis(30))
            .send()
            .await
            .unwrap_err();
        assert!(err.is_timeout() && err.is_connect(), "{err}");
        assert!(err.to_string().contains("max_connections"), "{err}");
        drop(held); // unread: its connection closes, its place is free
        let response = client.get(server.url("/")).send().await.unwrap();
        assert_eq!(response.text(), "ok");
    });
}

#[test]
fn a_request_that_fails_gives_its_place_back() {
    run_bounded(async {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (server, _) = counting_server(Duration::ZERO).await;
        let client = Client::builder().max_connections(1).build().unwrap();
        for _ in 0..3 {
            let refused = client.get(format!("http://127.0.0.1:{port}/")).send().await;
            assert!(refused.unwrap_err().is_connect());
            let closing = scripted(|_| vec![Close]).await;
            assert!(client.get(closing.url("/")).send().await.is_err());
        }
        assert_eq!(
            client.get(server.url("/")).send().await.unwrap().text(),
            "ok"
        );
        let err = Client::builder().max_connections(0).build().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{err}");
    });
}

#[test]
fn a_request_may_follow_redirects_or_not_whatever_its_client_says() {
    run_bounded(async {
        let server = Server::bind("127.0.0.1:0", |req| async move {
            match req.path() {
                "/old" => Reply::redirect(308, "/new"),
                _ => Reply::text("new"),
            }
        })
        .await
        .unwrap();
        let following = Client::new();
        let staying = Client::builder().follow_redirects(false).build().unwrap();
        for (client, follow, expected) in [
            (&following, None, "new"),
            (&following, Some(false), ""),
            (&staying, None, ""),
            (&staying, Some(true), "new"),
        ] {
            let mut request = client.post(server.url("/old")).body("kept");
            if let Some(follow) = follow {
                request = request.follow_redirects(follow);
            }
            let response = request.send().await.unwrap();
            let status = if expected.is_empty() { 308 } else { 200 };
            assert_eq!(response.status, status, "{follow:?}");
            assert_eq!(response.text(), expected, "{follow:?}");
        }
    });
}

#[test]
fn a_zero_idle_timeout_turns_pooling_off() {
    run_bounded(async {
        let server = scripted(|n| ok_with(&format!("response {n}"))).await;
        let client = Client::builder().pool(Duration::ZERO, 4).build().unwrap();
        for n in 0..3 {
            let response = client.get(server.url("/")).send().await.unwrap();
            assert_eq!(response.text(), format!("response {n}"));
            assert_eq!(client.idle_connections(), 0);
        }
        assert_eq!(server.accepted.get(), 3);
    });
}

#[test]
fn other_schemes_and_bad_urls_are_clear_errors() {
    run_bounded(async {
        let err = http::get("https://example.com/").await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Unsupported);
        assert!(err.to_string().contains("TLS"), "{err}");
        assert_eq!(
            http::get("ftp://example.com/").await.unwrap_err().kind(),
            ErrorKind::Unsupported
        );
        assert_eq!(
            http::get("not a url").await.unwrap_err().kind(),
            ErrorKind::InvalidRequest
        );
        // The URL standard would fetch http://x/ for these.
        for url in ["http:///x", "http:/x", "http:x", " HTTP:////x/y"] {
            let err = http::get(url).await.unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{url}");
            assert!(err.to_string().contains("no host"), "{url}: {err}");
        }
        // Tabs and newlines are dropped by the URL standard: still a host.
        for url in ["http:/\t/127.0.0.1:1/", "http:\n//127.0.0.1:1/"] {
            assert_eq!(
                http::check_url(url).map_err(|e| e.to_string()),
                Ok(()),
                "{url:?}"
            );
        }
        assert_eq!(
            http::get("http://user:pw@127.0.0.1/")
                .await
                .unwrap_err()
                .kind(),
            ErrorKind::Unsupported
        );
    });
}

#[test]
fn names_and_ipv6_literals_work() {
    run_bounded(async {
        let server = Server::bind("127.0.0.1:0", |req| async move {
            Reply::text(req.headers.get_str("host").unwrap_or("").to_owned())
        })
        .await
        .unwrap();
        let port = server.local_addr().port();
        let by_name = http::get(format!("http://localhost:{port}/")).await;
        // `localhost` may resolve to ::1 first, where nobody listens: the next address is tried.
        assert_eq!(by_name.unwrap().text(), format!("localhost:{port}"));
        if let Ok(v6) = Server::bind("[::1]:0", |req| async move {
            Reply::text(req.headers.get_str("host").unwrap_or("").to_owned())
        })
        .await
        {
            let port = v6.local_addr().port();
            assert_eq!(
                http::get(format!("http://[::1]:{port}/"))
                    .await
                    .unwrap()
                    .text(),
                format!("[::1]:{port}")
            );
        }
    });
}

#[test]
fn methods_and_bodies_reach_the_server() {
    run_bounded(async {
        let server = Server::bind("127.0.0.1:0", |req| async move {
            Reply::text(format!(
                "{} {}",
                req.method,
                String::from_utf8_lossy(&req.body)
            ))
        })
        .await
        .unwrap();
        let client = Client::new();
        for (method, expected) in [
            (Method::Get, "GET "),
            (Method::Post, "POST body"),
            (Method::Put, "PUT body"),
            (Method::Delete, "DELETE body"),
            (Method::Patch, "PATCH body"),
        ] {
            let body = if method == Method::Get { "" } else { "body" };
            let response = client
                .request(method, server.url("/"))
                .body(body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.text(), expected);
        }
    });
}

// ----- regressions from review -----------------------------------------------------

#[test]
fn a_chunked_body_split_at_any_framing_boundary_decodes_the_same() {
    run_bounded(async {
        let head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
        let wire = format!("{head}5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n");
        // Every split point: each pair of pieces arrives with a pause between.
        for at in head.len()..wire.len() {
            let (first, second) = (wire[..at].to_owned(), wire[at..].to_owned());
            let server = scripted(move |_| {
                vec![send(&first), Pause(Duration::from_millis(2)), send(&second)]
            })
            .await;
            let response = http::get(server.url("/")).await;
            assert_eq!(
                response.map(|r| r.text().into_owned()).ok().as_deref(),
                Some("hello world"),
                "split at {at}"
            );
        }
        // A size line alone, then data that does not match it: never taken as body.
        let server = scripted(move |_| {
            vec![
                send(&format!("{head}5\r\n")),
                Pause(Duration::from_millis(20)),
                send("ab\r\n0\r\n\r\n"),
                Close,
            ]
        })
        .await;
        assert!(http::get(server.url("/")).await.is_err());
    });
}

#[test]
fn the_demo_server_paces_chunked_replies_and_the_client_reads_them() {
    run_bounded(async {
        let server = Server::bind("127.0.0.1:0", |_req| async {
            Reply::text("abcdef")
                .chunked()
                .paced(2, Duration::from_millis(10))
        })
        .await
        .unwrap();
        assert_eq!(http::get(server.url("/")).await.unwrap().text(), "abcdef");
    });
}

#[test]
fn an_interim_head_counts_once_toward_the_head_limit() {
    run_bounded(async {
        let server = scripted(|_| {
            vec![
                send("HTTP/1.1 100 Continue\r\n\r\n"),
                Drip(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
                    Duration::from_millis(1),
                ),
            ]
        })
        .await;
        let client = Client::builder().max_head_bytes(200).build().unwrap();
        assert_eq!(get_text(&client, &server).await, "ok");
    });
}

#[test]
fn default_credentials_stay_with_their_origin_and_framing_fields_are_not_defaults() {
    run_bounded(async {
        let (server, _other) = two_origins().await;
        let client = Client::builder()
            .default_header("Authorization", "Bearer secret")
            .build()
            .unwrap();
        assert_eq!(
            get_text(&client, &server).await,
            r#"auth=Some("Bearer secret")"#
        );
        assert_eq!(
            client.get(server.url("/away")).send().await.unwrap().text(),
            "auth=None"
        );
        for name in ["Host", "content-length", "Transfer-Encoding"] {
            let err = Client::builder()
                .default_header(name, "x")
                .build()
                .unwrap_err();
            assert_eq!(err.kind(), ErrorKind::InvalidRequest, "{name}");
        }
    });
}

#[test]
fn a_pool_of_zero_closes_every_connection() {
    run_bounded(async {
        let server = Server::bind("127.0.0.1:0", |_req| async { Reply::text("x") })
            .await
            .unwrap();
        let client = Client::builder()
            .pool(Duration::from_secs(1), 0)
            .build()
            .unwrap();
        for _ in 0..3 {
            assert_eq!(get_text(&client, &server).await, "x");
        }
        assert_eq!((client.idle_connections(), server.connections()), (0, 3));
    });
}

#[test]
fn durations_too_long_to_add_mean_no_limit() {
    run_bounded(async {
        let server = Server::bind("127.0.0.1:0", |_req| async { Reply::text("x") })
            .await
            .unwrap();
        let client = Client::builder()
            .read_timeout(Duration::MAX)
            .connect_timeout(Duration::MAX)
            .total_timeout(Duration::MAX)
            .pool(Duration::MAX, 4)
            .build()
            .unwrap();
        assert_eq!(get_text(&client, &server).await, "x");
        let response = client
            .get(server.url("/"))
            .timeout(Duration::MAX)
            .send()
            .await
            .unwrap();
        assert_eq!(response.text(), "x");
    });
}

#[test]
fn a_body_that_failed_keeps_failing_instead_of_ending() {
    run_bounded(async {
        let server = scripted(|_| {
            vec![
                send("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"),
                Pause(Duration::from_millis(300)),
            ]
        })
        .await;
        let client = Client::builder()
            .read_timeout(Duration::from_millis(50))
            .build()
            .unwrap();
        let mut response = client.get(server.url("/")).send_streaming().await.unwrap();
        assert_eq!(response.chunk().await.unwrap(), Some(&b"abc"[..]));
        assert_eq!(
            response.chunk().await.unwrap_err().kind(),
            ErrorKind::Timeout
        );
        assert_eq!(
            response.chunk().await.unwrap_err().kind(),
            ErrorKind::Timeout,
            "not a clean end"
        );
    });
}

#[test]
fn bytes_that_arrive_on_an_idle_connection_are_not_taken_as_the_next_response() {
    run_bounded(async {
        let server = scripted(|n| match n {
            0 => vec![
                send("HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"),
                Pause(Duration::from_millis(20)),
                send("HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"),
                Close,
            ],
            _ => ok_with("fresh"),
        })
        .await;
        let client = Client::new();
        client.get(server.url("/")).send().await.unwrap();
        sleep(Duration::from_millis(100)).await;
        let response = client.get(server.url("/")).send().await.unwrap();
        assert_eq!((response.status, response.text().as_ref()), (200, "fresh"));
        assert_eq!(server.accepted.get(), 2);
    });
}

#[test]
fn bytes_that_arrive_while_the_loop_is_blocked_right_after_a_response_are_not_taken_as_the_next_response()
 {
    // A server on its own thread (one on the loop could not send while the
    // loop is blocked): a response, then — 20 ms later, unasked — a 408
    // and a close; the next connection answers "fresh".
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let mut accepted = 0;
        for stream in listener.incoming().take(2) {
            let mut stream = stream.unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            accepted += 1;
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request).unwrap();
            if accepted == 1 {
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na")
                    .unwrap();
                std::thread::sleep(Duration::from_millis(20));
                stream
                    .write_all(b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
                    .unwrap();
            } else {
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")
                    .unwrap();
            }
        }
        accepted
    });
    run_bounded(async move {
        let client = Client::new();
        let url = format!("http://{addr}/");
        client.get(&url).send().await.unwrap();
        // The same task, the same turn: the socket was read dry just now,
        // but then the loop is blocked long enough for the 408 to come, and
        // nothing has looked at I/O since.
        std::thread::sleep(Duration::from_millis(150));
        let response = client.get(&url).send().await.unwrap();
        assert_eq!((response.status, response.text().as_ref()), (200, "fresh"));
    });
    assert_eq!(server.join().unwrap(), 2);
}

#[test]
fn a_status_below_100_is_malformed() {
    let kind = run_bounded(error_kind_for(
        "HTTP/1.1 099 Weird\r\nContent-Length: 1\r\n\r\nx",
    ));
    assert_eq!(kind, ErrorKind::Malformed);
}

#[test]
fn an_http_1_0_chunked_response_is_decoded_but_not_reused() {
    run_bounded(async {
        let server = scripted(|_| {
            vec![send("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n")]
        })
        .await;
        let client = Client::new();
        assert_eq!(get_text(&client, &server).await, "ok");
        assert_eq!(client.idle_connections(), 0);
    });
}

#[test]
fn the_demo_server_forgets_finished_connections_and_drops_the_rest() {
    run_bounded(async {
        let server = Server::bind("127.0.0.1:0", |_req| async { Reply::text("x").close() })
            .await
            .unwrap();
        for _ in 0..20 {
            http::get(server.url("/")).await.unwrap();
        }
        sleep(Duration::from_millis(50)).await;
        let before = corio::all_tasks().len();
        assert!(
            before <= 3,
            "{before} tasks: the root, the accept loop, maybe a reaper"
        );
        let client = Client::new();
        client.get(server.url("/")).send().await.unwrap(); // a kept-alive connection
        drop(server);
        sleep(Duration::from_millis(50)).await;
        assert!(
            corio::all_tasks().len() <= 2,
            "the accept loop and the connection are gone"
        );
    });
}

#[test]
fn the_demo_server_refuses_bad_content_lengths() {
    run_bounded(async {
        let server = Server::bind("127.0.0.1:0", |_req| async { Reply::text("x") })
            .await
            .unwrap();
        for length in ["+5", "5, 6", "-1", "abc"] {
            let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
            let request =
                format!("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\nhello");
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut answer = Vec::new();
            stream.read_to_end(&mut answer).await.unwrap();
            assert!(
                answer.starts_with(b"HTTP/1.1 400 "),
                "{length}: {}",
                String::from_utf8_lossy(&answer)
            );
        }
    });
}

#[test]
fn a_connect_that_cannot_complete_meets_the_connect_timeout() {
    run_bounded(async {
        let (_listener, addr, _queued) = common::full_listener().await;
        let (err, took) = common::get_with_connect_timeout(addr, Duration::from_millis(200)).await;
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
        assert!(err.to_string().contains("connecting"), "{err}");
        assert!(
            took >= Duration::from_millis(200) && took < Duration::from_secs(2),
            "{took:?}"
        );
    });
}

#[test]
fn an_endless_body_that_never_makes_the_client_wait_still_meets_the_total_timeout() {
    run_bounded(async {
        let chunk: Vec<u8> = b"4000\r\n"
            .iter()
            .copied()
            .chain([b'x'; 0x4000])
            .chain(*b"\r\n")
            .collect();
        let server = scripted(move |_| {
            vec![
                send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
                Endless(chunk.clone()),
            ]
        })
        .await;
        let client = Client::builder()
            .max_body_bytes(u64::MAX)
            .total_timeout(Duration::from_millis(300))
            .build()
            .unwrap();
        let start = Instant::now();
        let err = client.get(server.url("/")).send().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
        assert!(
            start.elapsed() < Duration::from_secs(3),
            "{:?}",
            start.elapsed()
        );
    });
}

#[test]
fn a_response_shows_the_url_as_parsed_not_as_typed() {
    run_bounded(async {
        let server = Server::bind("127.0.0.1:0", |_req| async { Reply::text("ok") })
            .await
            .unwrap();
        let typed = format!("  HTTP://{}/a  ", server.local_addr());
        let client = Client::new();
        let response = client.get(&typed).send().await.unwrap();
        assert_eq!(response.url(), format!("http://{}/a", server.local_addr()));
        // Asked again the same way (the parse is reused): the same.
        let again = client.get(&typed).send().await.unwrap();
        assert_eq!(again.url(), response.url());
    });
}

#[test]
fn debug_output_of_clients_and_requests_hides_credentials() {
    let client = Client::builder()
        .default_header("Authorization", "Bearer s3cret")
        .build()
        .unwrap();
    let request = client
        .get("http://127.0.0.1:9/")
        .header("Cookie", "session=abc")
        .header("Proxy-Authorization", "Basic cGFzcw==");
    let shown = format!("{client:?} {request:?}");
    for secret in ["s3cret", "session=abc", "cGFzcw=="] {
        assert!(!shown.contains(secret), "{shown}");
    }
    assert!(shown.contains("<redacted>"), "{shown}");
}

mod demo_server_edges {
    //! The demo server on bad or unusual input: it answers, and its answer
    //! arrives.
    use super::*;

    /// Everything the server sends until it closes (bounded).
    async fn read_all(stream: &mut TcpStream) -> Vec<u8> {
        let mut out = Vec::new();
        let read = corio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out));
        read.await.expect("the server closes").expect("no reset");
        out
    }

    #[test]
    fn an_error_reply_reaches_a_client_that_still_sends() {
        run_bounded(async {
            let server = Server::bind("127.0.0.1:0", |_req| async { Reply::text("x") })
                .await
                .unwrap();
            // A head too large (431), and a chunked body (501): the server
            // answers before it has read all the client sends.
            let mut big_head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ".to_vec();
            big_head.extend(std::iter::repeat_n(b'a', 200 * 1024));
            big_head.extend_from_slice(b"\r\n\r\n");
            let mut chunked = b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            for _ in 0..64 {
                chunked.extend_from_slice(b"1000\r\n");
                chunked.extend(std::iter::repeat_n(b'z', 0x1000));
                chunked.extend_from_slice(b"\r\n");
            }
            chunked.extend_from_slice(b"0\r\n\r\n");
            for (wire, status) in [(big_head, "431"), (chunked, "501")] {
                let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
                let _ = stream.write_all(&wire).await;
                let answer = read_all(&mut stream).await;
                let expected = format!("HTTP/1.1 {status} ");
                assert!(
                    answer.starts_with(expected.as_bytes()),
                    "{}",
                    String::from_utf8_lossy(&answer)
                );
            }
            // A body over the server's limit: the client reads the 413.
            let body = vec![b'x'; 17 * 1024 * 1024];
            let response = Client::new().post(server.url("/")).body(body).send().await;
            assert_eq!(
                response.map(|r| r.status).map_err(|e| e.to_string()),
                Ok(413)
            );
        });
    }

    #[test]
    fn a_reply_that_closes_reaches_a_client_that_pipelined_another_request() {
        run_bounded(async {
            let server = Server::bind("127.0.0.1:0", |req| async move {
                if req.path() == "/big" {
                    sleep(Duration::from_millis(100)).await; // the next request arrives
                    Reply::new(200).body(vec![b'z'; 8 << 20]).close()
                } else {
                    Reply::text("second")
                }
            })
            .await
            .unwrap();
            let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
            // Two requests at once (RFC 9112 §9.3.2); the first is answered
            // with a close, the second is never read — yet the first's
            // reply must arrive whole, ending in a close, not a reset.
            // (The second comes while the handler runs: the server has not
            // read it when it closes.)
            stream
                .write_all(b"GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap();
            sleep(Duration::from_millis(30)).await;
            stream
                .write_all(b"GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap();
            sleep(Duration::from_millis(400)).await; // the server has closed by now
            let answer = read_all(&mut stream).await;
            let head_end = answer
                .windows(4)
                .position(|w| w == b"\r\n\r\n")
                .expect("a head")
                + 4;
            assert!(answer.starts_with(b"HTTP/1.1 200 "));
            assert_eq!(answer.len() - head_end, 8 << 20);
        });
    }

    #[test]
    fn a_handler_that_replies_with_an_interim_status_gets_its_client_a_500() {
        common::quiet_panics();
        run_bounded(async {
            let server = Server::bind("127.0.0.1:0", |_req| async { Reply::new(100) })
                .await
                .unwrap();
            let response = corio::http::get(server.url("/")).await.unwrap();
            assert_eq!(response.status, 500);
        });
    }

    #[test]
    fn an_http10_request_gets_no_chunked_reply() {
        run_bounded(async {
            let server = Server::bind("127.0.0.1:0", |_req| async {
                Reply::text("hello").chunked()
            })
            .await
            .unwrap();
            let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
            stream.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
            let answer = String::from_utf8(read_all(&mut stream).await).unwrap();
            let lower = answer.to_ascii_lowercase();
            assert!(!lower.contains("transfer-encoding"), "{answer}");
            assert!(lower.contains("content-length: 5\r\n"), "{answer}");
            assert!(answer.ends_with("\r\n\r\nhello"), "{answer}");
        });
    }

    #[test]
    fn a_paced_reply_with_no_idle_limit_is_sent() {
        run_bounded(async {
            let server = Server::bind("127.0.0.1:0", |_req| async {
                Reply::text("slow").paced(2, Duration::from_millis(1))
            })
            .await
            .unwrap();
            server.set_keep_alive_timeout(Duration::MAX); // never close idle ones
            let page = http::get(server.url("/"))
                .await
                .map(|r| r.text().into_owned());
            assert_eq!(page.map_err(|e| e.to_string()), Ok("slow".to_owned()));
        });
    }
}

mod answers_out_of_turn {
    //! Servers that answer at odd moments: between requests, or before the
    //! request is all sent.
    use super::*;
    use std::io::{Read, Write};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// What to send for the `n`th request: pieces, each after its pause in
    /// ms (`b""` closes the connection).
    type Script = fn(usize) -> Vec<(u64, &'static [u8])>;

    /// A std-thread server: for each request head (bodies are not read) it
    /// plays `reply(n)`, where `n` counts requests over all connections.
    fn serve(reply: Script) -> (String, Arc<AtomicUsize>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let count = Arc::new(AtomicUsize::new(0));
        let requests = Arc::clone(&count);
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let (Ok(mut conn), count) = (conn, Arc::clone(&count)) else {
                    return;
                };
                std::thread::spawn(move || {
                    conn.set_read_timeout(Some(Duration::from_secs(10)))
                        .unwrap();
                    loop {
                        let (mut head, mut byte) = (Vec::new(), [0u8]);
                        while !head.ends_with(b"\r\n\r\n") {
                            if conn.read(&mut byte).unwrap_or(0) == 0 {
                                return;
                            }
                            head.push(byte[0]);
                        }
                        for (pause, bytes) in reply(count.fetch_add(1, Ordering::SeqCst)) {
                            std::thread::sleep(Duration::from_millis(pause));
                            if bytes.is_empty() || conn.write_all(bytes).is_err() {
                                return;
                            }
                        }
                    }
                });
            }
        });
        (url, requests)
    }

    #[test]
    fn a_post_does_not_go_out_on_a_pooled_connection_the_server_closed_while_the_loop_was_busy() {
        // One request per connection, then a close a little later — while
        // HTTP says the connection stays alive.
        let (url, _) = serve(|_| {
            vec![
                (0, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
                (30, b""),
            ]
        });
        run_bounded(async move {
            let client = Client::new();
            assert_eq!(client.get(&url).send().await.unwrap().status, 200);
            // The loop is busy (a blocking call in a task) while the
            // server's FIN arrives: the reactor has not seen it.
            std::thread::sleep(Duration::from_millis(100));
            let post = client.post(&url).body("body").send().await;
            assert_eq!(post.map(|r| r.status).map_err(|e| e.to_string()), Ok(200));
        });
    }

    #[test]
    fn a_response_that_came_while_the_loop_was_busy_is_not_taken_for_the_next() {
        let (url, _) = serve(|n| match n {
            0 => vec![
                (0, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n0"),
                (30, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstray"),
            ],
            1 => vec![(0, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1")],
            _ => vec![(0, b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2")],
        });
        run_bounded(async move {
            let client = Client::new();
            let mut got = vec![client.get(&url).send().await.unwrap().text().into_owned()];
            std::thread::sleep(Duration::from_millis(100)); // the loop is busy
            for _ in 0..2 {
                got.push(client.get(&url).send().await.unwrap().text().into_owned());
            }
            assert_eq!(got, ["0", "1", "2"]);
        });
    }

    #[test]
    fn an_early_error_response_to_a_large_body_is_the_response_and_nothing_is_sent_twice() {
        // The server answers 413 after the head and closes (resetting the
        // rest of the body); then one that answers and stops reading.
        let (url, requests) = serve(|n| {
            match n {
            0 => vec![(0, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")],
            _ => vec![
                (0, b"HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"),
                (0, b""),
            ],
        }
        });
        run_bounded(async move {
            let client = Client::new();
            client.get(&url).send().await.unwrap(); // a pooled connection
            let put = client.put(&url).body(vec![b'x'; 8 << 20]).send().await;
            assert_eq!(put.map(|r| r.status).map_err(|e| e.to_string()), Ok(413));
            assert_eq!(requests.load(Ordering::SeqCst), 2, "the PUT went out once");
        });
        let (url, _) = serve(|_| {
            vec![
                (0, b"HTTP/1.1 413 Content Too Large\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"),
                (3000, b""),
            ]
        });
        // (This one stops reading: the answer is found when the write has
        // waited its idle limit.)
        run_bounded(async move {
            let client = Client::builder()
                .read_timeout(Duration::from_millis(300))
                .build()
                .unwrap();
            let put = client.put(&url).body(vec![b'x'; 8 << 20]).send().await;
            assert_eq!(put.map(|r| r.status).map_err(|e| e.to_string()), Ok(413));
        });
    }

    /// One connection: reads the head, sends `first`, pauses 300 ms (the
    /// client's write of a large body has to wait), reads the whole body,
    /// then sends `last`. Reports how many body bytes it read.
    fn interim_then_final(
        first: &'static [u8],
        last: &'static [u8],
    ) -> (String, std::sync::mpsc::Receiver<usize>) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let (mut conn, _) = listener.accept().unwrap();
            conn.set_read_timeout(Some(Duration::from_secs(10)))
                .unwrap();
            let (mut head, mut byte) = (Vec::new(), [0u8]);
            while !head.ends_with(b"\r\n\r\n") {
                if conn.read(&mut byte).unwrap_or(0) == 0 {
                    return;
                }
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).to_ascii_lowercase();
            let length: usize = head
                .split("content-length: ")
                .nth(1)
                .and_then(|rest| rest.split("\r\n").next())
                .and_then(|n| n.trim().parse().ok())
                .unwrap();
            conn.write_all(first).unwrap();
            std::thread::sleep(Duration::from_millis(300));
            let (mut got, mut buf) = (0, vec![0u8; 64 * 1024]);
            while got < length {
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got += n,
                }
            }
            let _ = tx.send(got);
            if got == length {
                let _ = conn.write_all(last);
            }
            std::thread::sleep(Duration::from_millis(500));
        });
        (url, rx)
    }

    #[test]
    fn interim_or_early_heads_during_a_large_body_do_not_stop_the_body() {
        let cases: [(&[u8], &[u8]); 3] = [
            (
                b"HTTP/1.1 100 Continue\r\n\r\n",
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            ),
            (
                b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n",
                b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            ),
            (
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                b"2\r\nok\r\n0\r\n\r\n",
            ),
        ];
        for (first, last) in cases {
            let (url, body_bytes) = interim_then_final(first, last);
            run_bounded(async move {
                let client = Client::builder()
                    .read_timeout(Duration::from_secs(3))
                    .build()
                    .unwrap();
                let got = client
                    .put(&url)
                    .body(vec![b'x'; 8 << 20])
                    .send()
                    .await
                    .map(|r| (r.status, r.text().into_owned()))
                    .map_err(|e| e.to_string());
                assert_eq!(got, Ok((200, "ok".to_owned())));
            });
            assert_eq!(
                body_bytes.recv().unwrap(),
                8 << 20,
                "the whole body went out"
            );
        }
    }
}

#[test]
fn a_redirect_whose_body_is_over_the_body_limit_is_still_followed() {
    // The limit is for responses the user gets; a followed redirect's body
    // is only thrown away.
    run_bounded(async {
        let server = scripted(|n| match n {
            0 => vec![send(
                "HTTP/1.1 302 Found\r\nLocation: /b\r\nContent-Length: 40\r\n\r\nThis page has moved to /b, go there now.",
            )],
            _ => ok_with("ok"),
        })
        .await;
        let client = Client::builder().max_body_bytes(10).build().unwrap();
        let got = client.get(server.url("/a")).send().await.unwrap();
        assert_eq!(got.text(), "ok");
    });
}

#[test]
fn a_redirect_whose_connection_cannot_be_reused_is_followed_without_waiting_for_its_body() {
    // A 302 whose body runs until the close, which comes 5 s later.
    run_bounded(async {
        let server = scripted(|n| match n {
            0 => vec![
                send("HTTP/1.1 302 Found\r\nLocation: /b\r\n\r\nmoved"),
                Pause(Duration::from_secs(5)),
                Close,
            ],
            _ => ok_with("ok"),
        })
        .await;
        let client = Client::builder()
            .total_timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let start = Instant::now();
        let got = client.get(server.url("/a")).send().await.unwrap();
        assert_eq!(got.text(), "ok");
        assert!(
            start.elapsed() < Duration::from_secs(1),
            "{:?}",
            start.elapsed()
        );
    });
}

#[test]
fn a_redirect_location_beyond_utf8_is_followed_percent_encoded() {
    run_bounded(async {
        let server = scripted(|n| match n {
            0 => vec![Send(
                b"HTTP/1.1 302 Found\r\nLocation: /caf\xe9\r\nContent-Length: 0\r\n\r\n".to_vec(),
            )],
            _ => ok_with("ok"),
        })
        .await;
        let got = Client::new().get(server.url("/a")).send().await.unwrap();
        assert_eq!(got.text(), "ok");
        assert!(
            server.request(1).starts_with("GET /caf%E9 HTTP/1.1\r\n"),
            "{}",
            server.request(1)
        );
    });
}

#[test]
fn a_slow_redirect_body_does_not_spend_a_short_total_timeout() {
    run_bounded(async {
        let server = scripted(|n| match n {
            0 => vec![
                send("HTTP/1.1 302 Found\r\nLocation: /b\r\nContent-Length: 5\r\n\r\n"),
                Pause(Duration::from_secs(5)),
            ],
            _ => ok_with("ok"),
        })
        .await;
        let client = Client::builder()
            .total_timeout(Duration::from_millis(900))
            .build()
            .unwrap();
        let got = client.get(server.url("/a")).send().await.unwrap();
        assert_eq!(got.text(), "ok");
    });
}

/// A demo server whose handler panics on `/panic` and otherwise echoes
/// the method, the path and the body.
async fn echo_or_panic_server() -> Server {
    Server::bind("127.0.0.1:0", |req| async move {
        if req.path() == "/panic" {
            panic!("expected: the handler panics");
        }
        let body = String::from_utf8_lossy(&req.body).into_owned();
        Reply::text(format!("{} {} {body}", req.method, req.path()))
    })
    .await
    .unwrap()
}

#[test]
fn a_request_that_expects_100_continue_hears_100_continue_before_sending_its_body() {
    run_bounded(async {
        let server = echo_or_panic_server().await;
        let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
        stream
            .write_all(
                b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
            )
            .await
            .unwrap();
        let mut piece = [0; 1024];
        let n = corio::time::timeout(Duration::from_secs(2), stream.read(&mut piece))
            .await
            .expect("no 100 Continue within 2 s")
            .unwrap();
        assert!(piece[..n].starts_with(b"HTTP/1.1 100 Continue\r\n\r\n"));
        stream.write_all(b"hello").await.unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut rest = Vec::new();
        let read = corio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest));
        read.await.unwrap().unwrap();
        let rest = String::from_utf8_lossy(&rest);
        assert!(rest.starts_with("HTTP/1.1 200"), "{rest}");
        assert!(rest.ends_with("POST /e hello"), "{rest}");
    });
}

#[test]
fn a_panicking_handler_answers_500_and_the_connection_goes_on() {
    common::quiet_panics();
    run_bounded(async {
        let server = echo_or_panic_server().await;
        let out = then_after(&server, "/panic").await;
        assert!(out.starts_with("HTTP/1.1 500"), "{out:?}");
        assert!(out.ends_with("GET /after "), "{out:?}");
    });
}

/// Sends `request` on a new connection and reads the first piece of the
/// answer (within 5 s): the connection, still open, and that piece in
/// lowercase.
async fn first_answer(server: &Server, request: &[u8]) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut piece = [0; 1024];
    let n = corio::time::timeout(Duration::from_secs(5), stream.read(&mut piece))
        .await
        .unwrap()
        .unwrap();
    let head = String::from_utf8_lossy(&piece[..n]).to_ascii_lowercase();
    (stream, head)
}

/// `GET path`, then pipelined on the same connection `GET /after` with
/// `Connection: close`: what comes back for both.
async fn then_after(server: &Server, path: &str) -> String {
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    );
    raw_exchange(server, request.as_bytes()).await
}

/// Sends `request` to `server` on a connection of its own and reads what
/// comes back until the server closes (within 5 s).
async fn raw_exchange(server: &Server, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let read = corio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out));
    read.await.unwrap().unwrap();
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn an_http_1_0_request_that_asks_for_keep_alive_is_told_the_connection_stays() {
    run_bounded(async {
        let server = echo_or_panic_server().await;
        let (mut stream, head) = first_answer(
            &server,
            b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        )
        .await;
        assert!(head.contains("connection: keep-alive\r\n"), "{head}");
        // ... and it does: a second request on it is answered.
        stream.write_all(b"GET /b HTTP/1.0\r\n\r\n").await.unwrap();
        let mut rest = Vec::new();
        let read = corio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut rest));
        read.await.unwrap().unwrap();
        assert!(String::from_utf8_lossy(&rest).ends_with("GET /b "));
    });
}

#[test]
fn a_handler_that_panics_before_returning_its_future_answers_500_and_the_connection_goes_on() {
    common::quiet_panics();
    run_bounded(async {
        let server = Server::bind("127.0.0.1:0", |req| {
            if req.path() == "/panic" {
                panic!("expected: the handler panics before its future exists");
            }
            async move { Reply::text(format!("{} {} ", req.method, req.path())) }
        })
        .await
        .unwrap();
        let out = then_after(&server, "/panic").await;
        assert!(out.starts_with("HTTP/1.1 500"), "{out:?}");
        assert!(out.ends_with("GET /after "), "{out:?}");
    });
}

/// A handler future that is ready at once and whose destructor panics.
struct ReadyThenBoom(Option<Reply>);

impl std::future::Future for ReadyThenBoom {
    type Output = Reply;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Reply> {
        std::task::Poll::Ready(self.0.take().unwrap())
    }
}

impl Drop for ReadyThenBoom {
    fn drop(&mut self) {
        panic!("expected: the handler's future panics when dropped");
    }
}

#[test]
fn a_handler_future_whose_destructor_panics_still_gets_its_client_an_answer() {
    common::quiet_panics();
    run_bounded(async {
        let server = Server::bind("127.0.0.1:0", |req| {
            ReadyThenBoom(Some(Reply::text(format!("{} {} ", req.method, req.path()))))
        })
        .await
        .unwrap();
        let out = then_after(&server, "/a").await;
        // Its reply stands (the panic is reported on its own).
        assert!(out.starts_with("HTTP/1.1 200"), "{out:?}");
        assert!(out.ends_with("GET /after "), "{out:?}");
    });
}

#[test]
fn expect_fields_are_read_as_lists_every_one_of_them() {
    run_bounded(async {
        let server = echo_or_panic_server().await;
        let out = raw_exchange(
            &server,
            b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: a-miracle\r\n\r\n",
        )
        .await;
        assert!(out.starts_with("HTTP/1.1 417"), "{out:?}");
        let out = raw_exchange(
            &server,
            b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\nExpect: a-miracle\r\nConnection: close\r\n\r\nhello",
        )
        .await;
        assert!(
            out.starts_with("HTTP/1.1 417 Expectation Failed"),
            "{out:?}"
        );
        let out = raw_exchange(
            &server,
            b"POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue, \r\nConnection: close\r\n\r\nhello",
        )
        .await;
        assert!(
            out.ends_with("POST /e hello"),
            "an empty list element is ignored: {out:?}"
        );
    });
}

#[test]
fn a_reply_that_sets_connection_close_itself_closes_and_is_not_told_keep_alive() {
    run_bounded(async {
        let server = Server::bind("127.0.0.1:0", |_req| async move {
            Reply::text("bye").header("Connection", "close")
        })
        .await
        .unwrap();
        let out = raw_exchange(
            &server,
            b"GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        )
        .await;
        let head = out.to_ascii_lowercase();
        assert!(!head.contains("connection: keep-alive"), "{head:?}");
        assert_eq!(head.matches("connection: close").count(), 1, "{head:?}");
    });
}

#[test]
fn the_server_alone_says_what_becomes_of_the_connection() {
    // A reply's own Connection field never contradicts the server's word:
    // HTTP/1.0 keep-alive is still announced, a close is said once.
    run_bounded(async {
        let server = Server::bind("127.0.0.1:0", |req| async move {
            let connection = if req.path() == "/trace" {
                "x-trace"
            } else {
                "keep-alive"
            };
            Reply::text("hi").header("Connection", connection)
        })
        .await
        .unwrap();
        let (_stream, head) = first_answer(
            &server,
            b"GET /trace HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        )
        .await;
        assert!(head.contains("connection: keep-alive\r\n"), "{head:?}");
        let out = raw_exchange(
            &server,
            b"GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        let head = out.to_ascii_lowercase();
        assert_eq!(head.matches("connection:").count(), 1, "{head:?}");
        assert!(head.contains("connection: close\r\n"), "{head:?}");
    });
}

/// A handler future that never finishes and panics when dropped.
struct PendingThenBoom;

impl std::future::Future for PendingThenBoom {
    type Output = Reply;
    fn poll(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Reply> {
        std::task::Poll::Pending
    }
}

impl Drop for PendingThenBoom {
    fn drop(&mut self) {
        panic!("expected: the pending handler future panics when dropped");
    }
}

#[test]
fn a_streaming_response_complete_as_it_stands_gives_its_connection_back_when_dropped() {
    run_bounded(async {
        let server = Server::bind("127.0.0.1:0", |_req| async { Reply::text("abcde") })
            .await
            .unwrap();
        let client = Client::new();
        // A HEAD's has no body to read: nothing was left unread.
        drop(client.head(server.url("/")).send_streaming().await.unwrap());
        assert_eq!(client.idle_connections(), 1, "after a HEAD");
        // Read to its last byte, not to the `None` after it.
        let mut response = client.get(server.url("/")).send_streaming().await.unwrap();
        assert_eq!(response.chunk().await.unwrap().unwrap(), b"abcde");
        drop(response);
        assert_eq!(client.idle_connections(), 1, "after the last byte");
        assert_eq!(server.connections(), 1);
    });
}

#[test]
fn a_complete_streaming_response_dropped_as_its_loop_closes_is_no_trouble() {
    let client = Client::new();
    let c = client.clone();
    corio::run(async move {
        let server = Server::bind("127.0.0.1:0", |_req| async { Reply::text("abc") })
            .await
            .unwrap();
        let response = c.head(server.url("/")).send_streaming().await.unwrap();
        // Held by a task that the closing loop drops, with the response.
        corio::spawn(async move {
            let _held = response;
            std::future::pending::<()>().await;
        })
        .detach();
        corio::yield_now().await;
    });
    assert_eq!(client.idle_connections(), 0);
}

#[test]
fn the_exception_handler_told_of_a_demo_handler_panic_runs_outside_corio_s_borrows() {
    let mut lp = corio::EventLoop::new().unwrap();
    let seen = Rc::new(RefCell::new(Vec::<String>::new()));
    let log = seen.clone();
    lp.set_exception_handler(move |_report| {
        // A handler that (wrongly) runs a loop: it must get corio's own
        // message, not a `RefCell already borrowed` from inside corio.
        let tried = std::panic::catch_unwind(|| {
            corio::EventLoop::new()
                .unwrap()
                .run_until_complete(async {})
        });
        let payload = tried.unwrap_err();
        let message = payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        log.borrow_mut().push(message);
    });
    lp.run_until_complete(async {
        let server = Server::bind("127.0.0.1:0", |_req| async {
            panic!("expected: the handler panics");
        })
        .await
        .unwrap();
        let url = server.url("/");
        let _ = corio::time::timeout(Duration::from_secs(5), corio::http::get(&url)).await;
    });
    let seen = seen.borrow();
    assert!(
        seen.first()
            .is_some_and(|m| m.contains("another one is running")),
        "{seen:?}"
    );
}

#[test]
fn a_handler_future_dropped_with_the_server_has_its_destructor_panic_reported() {
    common::quiet_panics();
    let mut lp = corio::EventLoop::new().unwrap();
    let reports = common::capture_reports(&lp);
    lp.run_until_complete(async {
        let server = Server::bind("127.0.0.1:0", |_req| PendingThenBoom)
            .await
            .unwrap();
        let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
        stream
            .write_all(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        sleep(Duration::from_millis(100)).await; // the handler is running
        drop(server);
        let mut out = Vec::new();
        let read = corio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut out));
        assert!(read.await.is_ok(), "the connection was not closed");
    });
    let messages: Vec<String> = reports
        .borrow()
        .iter()
        .map(|r| r.message().to_owned())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("the pending handler future panics")),
        "{messages:?}"
    );
}

#[test]
fn the_demo_server_accepts_absolute_form_targets() {
    run_bounded(async {
        let server = echo_or_panic_server().await;
        let out = raw_exchange(
            &server,
            b"GET http://x/a/b?c=d HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(out.starts_with("HTTP/1.1 200"), "{out}");
        assert!(out.ends_with("GET /a/b "), "{out}");
        let out = raw_exchange(
            &server,
            b"GET http://x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
        )
        .await;
        assert!(out.ends_with("GET / "), "{out}");
    });
}

#[test]
fn the_demo_server_answers_431_to_heads_too_large_or_with_too_many_fields() {
    run_bounded(async {
        let server = echo_or_panic_server().await;
        let mut fields = String::new();
        for i in 0..65 {
            fields.push_str(&format!("X-{i}: {i}\r\n"));
        }
        let many = format!("GET / HTTP/1.1\r\nHost: x\r\n{fields}\r\n");
        let out = raw_exchange(&server, many.as_bytes()).await;
        assert!(out.starts_with("HTTP/1.1 431"), "{out}");
        // Just over the 64 KiB limit, in one field: refused, though it
        // may arrive in one read with the rest of the head.
        let big = format!(
            "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
            "a".repeat(64 * 1024)
        );
        let out = raw_exchange(&server, big.as_bytes()).await;
        assert!(out.starts_with("HTTP/1.1 431"), "{out}");
    });
}

#[test]
fn the_demo_server_reads_a_head_trickled_byte_by_byte_and_still_refuses_a_bad_line_without_its_end()
{
    run_bounded(async {
        let server = echo_or_panic_server().await;
        server.set_keep_alive_timeout(Duration::from_millis(300));
        // Byte by byte, each byte its own segment (the server reads them in
        // small pieces): it reads on to each line end before it parses
        // again — 8 parses here, against 42 when it parsed after every
        // read — and answers.
        let head = format!(
            "GET /slow HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Long: {}\r\n\r\n",
            "y".repeat(2000)
        );
        let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
        stream.set_nodelay(true).unwrap();
        for byte in head.as_bytes() {
            stream.write_all(&[*byte]).await.unwrap();
            corio::yield_now().await;
        }
        let mut answer = Vec::new();
        let read = corio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut answer));
        read.await.unwrap().unwrap();
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("GET /slow "), "{answer}");
        // A bad byte in a line that never ends, then the client's end of
        // stream: still a 400 (from the last parse), not a silent close.
        for ending in ["fin", "silence"] {
            let mut stream = TcpStream::connect(server.local_addr()).await.unwrap();
            stream.write_all(b"GET /\x01bad HTTP/1.1").await.unwrap();
            if ending == "fin" {
                stream.shutdown(std::net::Shutdown::Write).unwrap();
            } // else: the head's time (300 ms here) runs out
            let mut out = Vec::new();
            let read = corio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut out));
            read.await.unwrap().unwrap();
            let out = String::from_utf8_lossy(&out);
            assert!(out.starts_with("HTTP/1.1 400"), "{ending}: {out}");
        }
    });
}

#[test]
fn a_stalled_upload_meets_the_read_timeout_once_even_after_a_100_continue() {
    for first in [&b""[..], b"HTTP/1.1 100 Continue\r\n\r\n"] {
        // The server answers `first`, then neither reads nor writes.
        let url = early_answer_server(vec![(0, first)], false);
        run_bounded(async move {
            let client = Client::builder()
                .read_timeout(Duration::from_millis(500))
                .build()
                .unwrap();
            let start = std::time::Instant::now();
            let err = client
                .put(&url)
                .body(vec![b'x'; 16 << 20])
                .send()
                .await
                .unwrap_err();
            let took = start.elapsed();
            assert_eq!(err.kind(), ErrorKind::Timeout, "{err}");
            // The stalled upload is the error — not a second wait of a
            // whole read timeout for an answer after the interim head.
            assert!(err.to_string().contains("sending the request"), "{err}");
            assert!(took < Duration::from_secs(5), "{took:?}: {err}");
        });
    }
}

/// A server that reads a request head, never reads the body, and sends
/// `pieces` one after another, each after its delay (ms from the head).
fn early_answer_server(pieces: Vec<(u64, &'static [u8])>, reset: bool) -> String {
    early_answer_server_holding(pieces, reset, Duration::from_secs(3))
}

/// [`early_answer_server`], holding the connection open for `hold` after
/// its answer when it does not reset.
fn early_answer_server_holding(
    pieces: Vec<(u64, &'static [u8])>,
    reset: bool,
    hold: Duration,
) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let (mut head, mut byte) = (Vec::new(), [0u8]);
        while !head.ends_with(b"\r\n\r\n") {
            if conn.read(&mut byte).unwrap_or(0) == 0 {
                return;
            }
            head.push(byte[0]);
        }
        let t0 = std::time::Instant::now();
        for (at, piece) in pieces {
            let at = Duration::from_millis(at);
            std::thread::sleep(at.saturating_sub(t0.elapsed()));
            conn.write_all(piece).unwrap();
        }
        if reset {
            drop(conn); // unread body bytes: a reset
        } else {
            std::thread::sleep(hold);
        }
    });
    url
}

#[test]
fn an_error_answer_that_comes_while_an_upload_waits_ends_the_upload_at_once() {
    // The server answers and neither reads nor closes for 10 s: the
    // client does not wait out its read timeout (8 s) to read the answer.
    for answer in [
        EARLY_413,
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 No\r\nContent-Length: 2\r\n\r\nno",
    ] {
        let url = early_answer_server_holding(vec![(0, answer)], false, Duration::from_secs(10));
        run_bounded(async move {
            let client = Client::builder()
                .read_timeout(Duration::from_secs(8))
                .build()
                .unwrap();
            let start = std::time::Instant::now();
            let response = client
                .put(&url)
                .body(vec![b'x'; 16 << 20])
                .send()
                .await
                .unwrap();
            assert!(
                response.status == 413 || response.text() == "no",
                "{}",
                response.status
            );
            assert!(
                start.elapsed() < Duration::from_secs(4),
                "{:?}",
                start.elapsed()
            );
            assert_eq!(client.idle_connections(), 0); // cut short: not reused
        });
    }
}

#[test]
fn an_early_success_head_does_not_stop_an_upload_the_server_goes_on_reading() {
    use std::io::{Read, Write};
    // A streaming server: it answers `200` at once, reads the whole body
    // (only after a pause, so that the upload has to wait), and ends its
    // answer with the count of bytes it read.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let size = 16usize << 20;
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let (mut head, mut byte) = (Vec::new(), [0u8]);
        while !head.ends_with(b"\r\n\r\n") {
            if conn.read(&mut byte).unwrap_or(0) == 0 {
                return;
            }
            head.push(byte[0]);
        }
        conn.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let (mut read, mut buf) = (0, vec![0u8; 64 << 10]);
        while read < size {
            match conn.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
        }
        let count = read.to_string();
        let tail = format!("{:x}\r\n{count}\r\n0\r\n\r\n", count.len());
        let _ = conn.write_all(tail.as_bytes());
    });
    run_bounded(async move {
        let response = Client::new()
            .put(&url)
            .body(vec![b'x'; size])
            .send()
            .await
            .unwrap();
        assert_eq!(
            (response.status, response.text().as_ref()),
            (200, "16777216")
        );
    });
}

fn put_16mib(url: String) -> Result<u16, String> {
    run_bounded(async move {
        let client = Client::builder()
            .read_timeout(Duration::from_millis(500))
            .build()
            .unwrap();
        client
            .put(&url)
            .body(vec![b'x'; 16 << 20])
            .send()
            .await
            .map(|r| r.status)
            .map_err(|e| e.to_string())
    })
}

const EARLY_413: &[u8] =
    b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";

#[test]
fn an_early_413_is_the_response_when_the_server_then_stops_reading() {
    // (Not when it resets: a reset may make the kernel drop the answer
    // before the client reads it — why servers close lingering, RFC 9112
    // §9.6, as corio's demo server does.)
    let c100: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
    let reset = false;
    assert_eq!(
        put_16mib(early_answer_server(vec![(0, EARLY_413)], reset)),
        Ok(413),
        "reset {reset}"
    );
    assert_eq!(
        put_16mib(early_answer_server(vec![(0, c100), (0, EARLY_413)], reset)),
        Ok(413),
        "reset {reset}"
    );
    // In two pieces, a few ms apart, before the reset / the stall.
    assert_eq!(
        put_16mib(early_answer_server(
            vec![(0, &EARLY_413[..20]), (20, &EARLY_413[20..])],
            reset
        )),
        Ok(413),
        "reset {reset}"
    );
}

#[test]
fn an_early_413_whose_head_straddles_the_upload_stall_is_the_response() {
    // The 413's first bytes come before the upload's idle limit (500 ms),
    // the rest 150 ms later — well within the read timeout.
    let split = vec![(420, &EARLY_413[..20]), (570, &EARLY_413[20..])];
    assert_eq!(put_16mib(early_answer_server(split, false)), Ok(413));
}

#[test]
fn a_100_continue_then_an_early_413_straddling_the_upload_stall_is_the_response() {
    let split = vec![
        (0, &b"HTTP/1.1 100 Continue\r\n\r\n"[..]),
        (420, &EARLY_413[..20]),
        (570, &EARLY_413[20..]),
    ];
    assert_eq!(put_16mib(early_answer_server(split, false)), Ok(413));
}

#[test]
fn a_demo_reply_refuses_framing_fields_of_its_own() {
    // The server frames the body; a second Content-Length (or a
    // Transfer-Encoding beside one) would be a reply no client can read.
    for name in ["Content-Length", "transfer-encoding"] {
        let made = std::panic::catch_unwind(|| Reply::new(200).header(name, "3"));
        assert!(made.is_err(), "{name}");
    }
}

#[test]
fn bytes_behind_an_urgent_byte_that_came_after_the_loop_last_looked_are_not_taken_as_the_next_response()
 {
    // The loop looks (the response is readable), is then busy for a while
    // before the client task reads; meanwhile an urgent (out-of-band) byte
    // and a 408 arrive. The read stops short at the urgent mark — a short
    // read, yet the 408 is still queued, and the reactor has not seen the
    // EPOLLPRI (so `URGENT` does not protect `drained`). The fresh
    // `read_dry_at` must not make the pool trust the connection.
    use std::future::Future;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
    use std::task::{Context, Poll};

    struct Gate<F> {
        inner: Pin<Box<F>>,
        waiting: Arc<AtomicBool>,
        answered: Arc<AtomicBool>,
        held: Arc<AtomicBool>,
        sent: Arc<AtomicBool>,
    }
    impl<F: Future> Future for Gate<F> {
        type Output = F::Output;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
            // Woken by the look that saw the response: block the loop (as a
            // busy task would) until the urgent byte and the 408 are sent.
            if self.answered.load(SeqCst) && !self.held.load(SeqCst) {
                self.held.store(true, SeqCst);
                while !self.sent.load(SeqCst) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
            let poll = self.inner.as_mut().poll(cx);
            if poll.is_pending() {
                // The request is out and the client waits: now the server
                // may answer (an answer inside this poll would skip the gate).
                self.waiting.store(true, SeqCst);
            }
            poll
        }
    }

    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let waiting = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicBool::new(false));
    let held = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicBool::new(false));
    let (w, a, h, s) = (
        waiting.clone(),
        answered.clone(),
        held.clone(),
        sent.clone(),
    );
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut first, _) = listener.accept().unwrap();
        first.set_nodelay(true).unwrap();
        let mut request = [0u8; 1024];
        let _ = first.read(&mut request).unwrap();
        while !w.load(SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        a.store(true, SeqCst);
        first
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na")
            .unwrap();
        while !h.load(SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        socket2::SockRef::from(&first)
            .send_out_of_band(b"!")
            .unwrap();
        first
            .write_all(
                b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
            )
            .unwrap();
        std::thread::sleep(Duration::from_millis(20)); // all of it arrived
        s.store(true, SeqCst);
        // The next connection, if the client opens one (2 s at most);
        // `first` stays open meanwhile.
        listener.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut accepted = 1;
        while Instant::now() < deadline {
            match listener.accept() {
                Ok((mut second, _)) => {
                    second.set_nonblocking(false).unwrap();
                    let _ = second.read(&mut request).unwrap();
                    second
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")
                        .unwrap();
                    accepted += 1;
                    break;
                }
                Err(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        drop(first);
        accepted
    });
    let statuses = run_bounded(async move {
        let client = Client::new();
        let url = format!("http://{addr}/");
        let first = Gate {
            inner: Box::pin(client.get(&url).send()),
            waiting,
            answered,
            held,
            sent,
        }
        .await
        .unwrap();
        let response = client.get(&url).send().await.unwrap();
        (first.status, response.status, response.text().to_string())
    });
    let accepted = server.join().unwrap();
    assert_eq!(statuses, (200, 200, "fresh".to_string()));
    assert_eq!(accepted, 2);
}

#[test]
fn an_http_1_0_request_that_says_both_keep_alive_and_close_is_closed() {
    // RFC 9112 §9.3: the `close` option comes first, whatever the version.
    run_bounded(async {
        let server = echo_or_panic_server().await;
        let (mut stream, head) = first_answer(
            &server,
            b"GET /a HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n",
        )
        .await;
        assert!(head.contains("connection: close\r\n"), "{head:?}");
        let mut rest = Vec::new();
        let read = corio::time::timeout(Duration::from_secs(2), stream.read_to_end(&mut rest));
        assert!(read.await.is_ok(), "the connection was kept open");
    });
}

#[test]
fn an_error_reply_to_a_head_request_has_no_body_either() {
    // RFC 9110 §9.3.2: no content in any response to HEAD, refusals too.
    run_bounded(async {
        let server = echo_or_panic_server().await;
        // Refused for their heads: too many fields, too long, malformed.
        let mut many = b"HEAD / HTTP/1.1\r\nHost: x\r\n".to_vec();
        for i in 0..70 {
            many.extend_from_slice(format!("X-{i}: y\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        let mut long = b"HEAD / HTTP/1.1\r\nHost: x\r\nX-Long: ".to_vec();
        long.extend(std::iter::repeat_n(b'a', 70 * 1024));
        long.extend_from_slice(b"\r\n\r\n");
        for request in [
            &b"HEAD / HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\n\r\n"[..],
            b"HEAD / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n",
            b"HEAD / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n",
            b"HEAD / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999\r\n\r\n",
            &many,
            &long,
            b"HEAD / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n",
        ] {
            let out = raw_exchange(&server, request).await;
            assert!(
                out.starts_with("HTTP/1.1 4") || out.starts_with("HTTP/1.1 5"),
                "{out:?}"
            );
            assert!(out.ends_with("\r\n\r\n"), "a body after the head: {out:?}");
        }
    });
}

#[test]
fn a_slow_chunked_body_read_under_a_short_timeout_again_and_again_arrives_once_and_whole() {
    run_bounded(async {
        let wire = "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n".as_bytes().to_vec();
        let server = scripted(move |n| match n {
            0 => vec![
                send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
                Drip(wire.clone(), Duration::from_millis(7)),
            ],
            _ => ok_with("next"),
        })
        .await;
        let client = Client::new();
        let mut response = client.get(server.url("/")).send_streaming().await.unwrap();
        let mut body = Vec::new();
        let mut cancelled = 0;
        loop {
            match corio::time::timeout(Duration::from_millis(2), response.chunk()).await {
                Ok(Ok(Some(piece))) => body.extend_from_slice(piece),
                Ok(Ok(None)) => break,
                Ok(Err(err)) => panic!("{err}"),
                Err(_) => cancelled += 1,
            }
        }
        assert!(cancelled > 5, "{cancelled}");
        assert_eq!(body, b"hello world");
        assert_eq!(client.idle_connections(), 1);
        assert_eq!(get_text(&client, &server).await, "next");
        assert_eq!(server.accepted.get(), 1);
    });
}

#[test]
fn a_silent_server_meets_the_read_timeout_even_when_each_chunk_wait_is_cut_short_by_the_caller() {
    run_bounded(async {
        let server = scripted(|_| {
            vec![
                send("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab"),
                Pause(Duration::from_secs(5)),
            ]
        })
        .await;
        let client = Client::builder()
            .read_timeout(Duration::from_millis(200))
            .build()
            .unwrap();
        let mut response = client.get(server.url("/")).send_streaming().await.unwrap();
        assert_eq!(response.chunk().await.unwrap(), Some(&b"ab"[..]));
        let start = Instant::now();
        let outcome = loop {
            match corio::time::timeout(Duration::from_millis(50), response.chunk()).await {
                Ok(Ok(Some(_))) => panic!("no more bytes were sent"),
                Ok(outcome) => break outcome.map(|_| ()),
                Err(_) if start.elapsed() > Duration::from_secs(2) => break Ok(()),
                Err(_) => {}
            }
        };
        let err = outcome.expect_err("the server was silent for 2 s; the read timeout is 200 ms");
        assert_eq!(err.kind(), ErrorKind::Timeout);
    });
}

#[test]
fn a_streaming_response_carried_to_a_second_loop_fails_cleanly() {
    let client = Client::new();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        use std::io::{Read, Write};
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0; 4096];
        let _ = s.read(&mut buf);
        s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab")
            .unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let _ = s.write_all(b"cdefghij");
        std::thread::sleep(Duration::from_millis(300));
    });
    let mut response = corio::run(async {
        let mut r = client
            .get(format!("http://{addr}/"))
            .send_streaming()
            .await
            .unwrap();
        assert_eq!(r.chunk().await.unwrap(), Some(&b"ab"[..]));
        r
    });
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run_bounded(async { response.chunk().await.map(|p| p.map(<[u8]>::to_vec)) })
    }));
    server.join().unwrap();
    let result = outcome.expect("reading the rest of the body on another loop panicked");
    assert_eq!(result.map_err(|err| err.kind()), Err(ErrorKind::Closed));
}

#[test]
fn a_cloned_client_builder_carries_its_first_bad_setting_to_each_build() {
    let bad = Client::builder().default_header("X-Bad", "a\r\nInjected: 1");
    let copy = bad.clone();
    let (first, second) = (bad.build().unwrap_err(), copy.build().unwrap_err());
    assert_eq!(first.kind(), ErrorKind::InvalidRequest);
    assert_eq!(first.to_string(), second.to_string());
}

#[test]
fn a_zero_time_limit_is_refused_before_anything_is_sent() {
    // Zero would fail nearly every request at once (aiohttp reads it as
    // "no limit", requests refuses it): refused, and said so.
    let builders = [
        Client::builder().connect_timeout(Duration::ZERO),
        Client::builder().read_timeout(Duration::ZERO),
        Client::builder().total_timeout(Duration::ZERO),
    ];
    for builder in builders {
        let err = builder.build().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidRequest);
        assert!(err.to_string().contains("of zero"), "{err}");
    }
    let err = run_bounded(async {
        // Nobody listens there: a sent request would fail otherwise.
        let request = Client::new().get("http://127.0.0.1:9/");
        request.timeout(Duration::ZERO).send().await.unwrap_err()
    });
    assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    assert!(err.to_string().contains("request timeout of zero"), "{err}");
}

#[test]
fn a_pooled_connections_idle_timer_is_not_something_its_last_requester_waits_on_and_corios_tasks_are_named()
 {
    run_bounded(async {
        let server = Server::bind("127.0.0.1:0", |_req| async { Reply::text("ok") })
            .await
            .unwrap();
        let client = Client::builder()
            .read_timeout(Duration::from_secs(17))
            .build()
            .unwrap();
        let url = server.url("/");
        let fetcher = corio::Builder::new().name("fetcher").spawn(async move {
            for _ in 0..3 {
                assert_eq!(client.get(&url).send().await.unwrap().status, 200);
            }
            // The connection is back in the pool; this task waits on nothing.
            let client = client; // kept: its pool keeps the connection
            std::future::pending::<()>().await;
            drop(client);
        });
        sleep(Duration::from_millis(100)).await;
        let dump = corio::debug::dump();
        // corio's own tasks say what they are.
        let table = dump.to_string();
        for name in [
            "corio::http::server accept loop",
            "corio::http::server connection",
            "corio::http pool reaper",
        ] {
            assert!(table.contains(name), "{name}: {table}");
        }
        let row = dump.task(fetcher.id()).unwrap();
        assert!(
            !row.waiting_on
                .iter()
                .any(|w| matches!(w, corio::debug::Waiting::Timer { .. })),
            "{:?}",
            row.waiting_on
        );
        fetcher.cancel();
    });
}
