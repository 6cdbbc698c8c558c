//! The demo server (`corio::http::server`) fed seeded random requests over
//! loopback: valid ones — any method, target, version, fields, bodies,
//! `Expect: 100-continue`, pipelined two or three to a connection, written
//! in random pieces — must each get the handler's answer, in order; damaged
//! ones (bytes flipped, inserted, cut out, a `Content-Length` made wrong)
//! and plain garbage must get well-formed replies or a close — never a
//! panic, never a hang, never bytes that are not HTTP. Every connection
//! ends with the client's half-close, so nothing here waits for a timeout;
//! each case is bounded anyway. At the end the server still answers, and
//! no connection task is left behind.
//! `SEEDS=N` runs more or fewer (default 60, 8 connections each); `SEED=n`
//! runs one.
mod common;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use common::{Rng, Watchdog};
use corio::http::server::{Reply, Server};
use corio::http::{Event, ResponseDecoder};
use corio::net::TcpStream;
use corio::time::{sleep, timeout};

/// One request as the generator made it, and what its answer must be.
struct Sent {
    wire: Vec<u8>,
    head_request: bool,
    /// The handler's answer: `METHOD TARGET BODY-LENGTH BODY-SUM`.
    answer: String,
    /// The server closes after answering it.
    closes: bool,
}

const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"];
const FIELD_NAMES: [&str; 8] = [
    "Accept",
    "X-Trace",
    "User-Agent",
    "Cookie",
    "If-None-Match",
    "x-lower",
    "X-Empty",
    "Cache-Control",
];

/// The handler's summary of a body: its length and a sum of its bytes.
fn body_sum(body: &[u8]) -> u64 {
    body.iter()
        .enumerate()
        .map(|(i, &b)| (i as u64 + 1) * u64::from(b))
        .sum()
}

fn pick<'a>(rng: &mut Rng, items: &[&'a str]) -> &'a str {
    items[rng.below(items.len())]
}

fn random_text(rng: &mut Rng, alphabet: &[u8], max: usize) -> String {
    (0..rng.below(max + 1))
        .map(|_| alphabet[rng.below(alphabet.len())] as char)
        .collect()
}

/// Appends a header field, with a random choice of space after the colon.
fn field(rng: &mut Rng, wire: &mut Vec<u8>, name: &str, value: &str) {
    let space = [" ", "", "\t"][rng.below(3)];
    wire.extend_from_slice(format!("{name}:{space}{value}\r\n").as_bytes());
}

/// A valid request. `last` says whether it may close the connection (only
/// the last of a pipeline may: a server that closes with requests unread
/// resets the connection, and a reset may overtake the reply).
fn random_request(rng: &mut Rng, last: bool) -> Sent {
    let method = pick(rng, &METHODS);
    let mut target = format!(
        "/{}",
        random_text(rng, b"abcxyz0189/._~-%", 24).replace("//", "/")
    );
    if rng.below(3) == 0 {
        target.push('?');
        target.push_str(&random_text(rng, b"abq=&0123%+", 16));
    }
    if rng.below(4) == 0 {
        target.push_str("/chunk"); // the handler answers these chunked
    }
    let http10 = rng.below(6) == 0;
    let mut wire = format!(
        "{method} {target} HTTP/1.{}\r\n",
        if http10 { 0 } else { 1 }
    )
    .into_bytes();
    if rng.below(5) != 0 {
        field(rng, &mut wire, "Host", "127.0.0.1");
    }
    let body: Vec<u8> = if rng.below(2) == 0 {
        let len = [0, 1, 17, 1000, 3000][rng.below(5)];
        (0..len).map(|_| rng.next() as u8).collect()
    } else {
        Vec::new()
    };
    let mut fields: Vec<(String, String)> = (0..rng.below(6))
        .map(|_| {
            let name = pick(rng, &FIELD_NAMES).to_owned();
            let value = random_text(rng, b"abc XYZ019,;=\"/\t", 20);
            (name, value.trim_matches([' ', '\t']).to_owned())
        })
        .collect();
    if !body.is_empty() || rng.below(4) == 0 {
        let name = ["Content-Length", "content-length", "CONTENT-LENGTH"][rng.below(3)];
        fields.push((name.to_owned(), body.len().to_string()));
        if rng.below(8) == 0 {
            // A repeat with the same value is allowed (RFC 9110 §8.6).
            fields.push((name.to_owned(), body.len().to_string()));
        }
        if !http10 && rng.below(4) == 0 {
            fields.push(("Expect".to_owned(), "100-continue".to_owned()));
        }
    }
    // Whether the connection stays: HTTP/1.1 unless `close`, HTTP/1.0 only
    // with `keep-alive`.
    let keep_alive = if last && rng.below(3) == 0 {
        if http10 {
            false
        } else {
            fields.push(("Connection".to_owned(), "close".to_owned()));
            false
        }
    } else {
        if http10 {
            fields.push(("Connection".to_owned(), "keep-alive".to_owned()));
        }
        true
    };
    let position = rng.below(fields.len() + 1).min(fields.len());
    fields.rotate_left(position);
    for (name, value) in &fields {
        field(rng, &mut wire, name, value);
    }
    wire.extend_from_slice(b"\r\n");
    wire.extend_from_slice(&body);
    Sent {
        wire,
        head_request: method == "HEAD",
        answer: format!("{method} {target} {} {}", body.len(), body_sum(&body)),
        closes: !keep_alive,
    }
}

/// `wire` with one to three random kinds of damage.
fn damage(rng: &mut Rng, mut wire: Vec<u8>) -> Vec<u8> {
    for _ in 0..1 + rng.below(3) {
        let at = rng.below(wire.len() + 1);
        match rng.below(7) {
            0 if at < wire.len() => wire[at] = rng.next() as u8,
            1 => wire.insert(at, [b'\r', b'\n', b'\0', b':', b' ', 0x80][rng.below(6)]),
            2 if at < wire.len() => {
                let end = (at + 1 + rng.below(8)).min(wire.len());
                wire.drain(at..end);
            }
            3 => wire.truncate(at),
            4 => {
                let bad = [
                    "-1",
                    "1e3",
                    "+5",
                    "99999999999999999999",
                    "12, 13",
                    "",
                    "0x10",
                ];
                let field = format!("Content-Length: {}\r\n", pick(rng, &bad));
                if let Some(line_end) = wire.windows(2).position(|w| w == b"\r\n") {
                    wire.splice(line_end + 2..line_end + 2, field.into_bytes());
                }
            }
            5 => wire
                .splice(at..at, b"\r\n\r\n".iter().copied())
                .for_each(drop),
            _ => {
                let junk: Vec<u8> = (0..rng.below(40)).map(|_| rng.next() as u8).collect();
                wire.splice(at..at, junk).for_each(drop);
            }
        }
    }
    wire
}

/// Sends `wire` in random pieces (a short pause now and then), then
/// half-closes; meanwhile reads everything the server sends until it
/// closes. A reset after the server's answer (it may close with damaged
/// bytes unread) ends the read like a close.
async fn exchange(addr: SocketAddr, wire: Vec<u8>, rng: &mut Rng) -> Vec<u8> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut reader, mut writer) = stream.into_split();
    let cuts: Vec<usize> = (0..wire.len()).map(|_| 1 + rng.below(700)).collect();
    let pauses: Vec<bool> = (0..wire.len()).map(|_| rng.below(4) == 0).collect();
    let sending = corio::spawn(async move {
        let mut rest = &wire[..];
        let mut i = 0;
        while !rest.is_empty() {
            let n = cuts[i].min(rest.len());
            if writer.write_all(&rest[..n]).await.is_err() {
                return; // the server answered and closed: fine
            }
            if pauses[i] {
                sleep(Duration::from_millis(1)).await;
            }
            rest = &rest[n..];
            i += 1;
        }
        drop(writer); // the write half half-closes as it goes
    });
    let mut received = Vec::new();
    let mut piece = [0; 4096];
    loop {
        match reader.read(&mut piece).await {
            Ok(0) => break,
            Ok(n) => received.extend_from_slice(&piece[..n]),
            Err(err) if err.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(err) => panic!("reading the replies: {err}"),
        }
    }
    let _ = sending.await;
    received
}

/// The replies in `bytes`, decoded one after another (`head_requests[i]`:
/// the i-th was to a `HEAD`): (status, body, keeps the connection) each,
/// or the first error.
fn decode_replies(
    mut bytes: &[u8],
    head_requests: &[bool],
) -> Result<Vec<(u16, Vec<u8>, bool)>, String> {
    let mut replies = Vec::new();
    while !bytes.is_empty() {
        if bytes == b"HTTP/1.1 100 Continue\r\n\r\n" {
            // A go-ahead for a body that never came (the client closed):
            // nothing follows it.
            break;
        }
        let head_request = head_requests.get(replies.len()).copied().unwrap_or(false);
        let mut decoder = ResponseDecoder::new(head_request).max_body_bytes(1 << 20);
        let (mut status, mut body) = (0, Vec::new());
        loop {
            let (used, event) = decoder
                .decode(bytes, true)
                .map_err(|err| format!("reply {}: {err}", replies.len()))?;
            bytes = &bytes[used..];
            match event {
                Event::Head(head) => status = head.status,
                Event::Data(data) => body.extend_from_slice(data),
                Event::End => break,
                Event::NeedMore => unreachable!("the whole input is there"),
            }
        }
        replies.push((status, body, decoder.keep_alive()));
    }
    Ok(replies)
}

/// The statuses the server itself answers bad requests with.
const REFUSALS: [u16; 5] = [400, 413, 417, 431, 501];

#[test]
fn random_requests_get_their_answers_and_damaged_ones_a_refusal_or_a_close() {
    let watchdog = Watchdog::start("server_fuzz");
    let mut lp = corio::EventLoop::new().unwrap();
    let reports = common::capture_reports(&lp);
    lp.run_until_complete(async {
        let server = Server::bind("127.0.0.1:0", |req| async move {
            let answer = format!(
                "{} {} {} {}",
                req.method,
                req.target,
                req.body.len(),
                body_sum(&req.body)
            );
            let reply = Reply::text(answer);
            if req.target.ends_with("/chunk") {
                reply.chunked()
            } else {
                reply
            }
        })
        .await
        .unwrap();
        let addr = server.local_addr();
        let baseline = corio::all_tasks().len();
        let stats = Rc::new(RefCell::new([0usize; 4]));
        for seed in common::seeds(60) {
            watchdog.seed(seed);
            let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (seed + 1).wrapping_mul(0x2545_f491));
            for case in 0..8 {
                let what = format!("seed {seed}, connection {case}");
                let kind = rng.below(4);
                let pipeline: Vec<Sent> = {
                    let n = 1 + rng.below(3);
                    (0..n)
                        .map(|i| random_request(&mut rng, i + 1 == n))
                        .collect()
                };
                let mut wire: Vec<u8> = pipeline.iter().flat_map(|s| s.wire.clone()).collect();
                match kind {
                    0 | 1 => {}
                    2 => wire = damage(&mut rng, wire),
                    _ => wire = (0..rng.below(300)).map(|_| rng.next() as u8).collect(),
                }
                let received = timeout(
                    Duration::from_secs(10),
                    exchange(addr, wire.clone(), &mut rng),
                )
                .await
                .unwrap_or_else(|_| panic!("{what}: no close within 10 s"));
                stats.borrow_mut()[kind] += 1;
                if kind <= 1 {
                    let heads: Vec<bool> = pipeline.iter().map(|s| s.head_request).collect();
                    let replies = decode_replies(&received, &heads).unwrap_or_else(|err| {
                        panic!("{what}: {err}\n{}", String::from_utf8_lossy(&received))
                    });
                    assert_eq!(
                        replies.len(),
                        pipeline.len(),
                        "{what}: one reply per request"
                    );
                    for (sent, (status, body, keeps)) in pipeline.iter().zip(&replies) {
                        assert_eq!(
                            *status,
                            200,
                            "{what}: {:?}",
                            String::from_utf8_lossy(&sent.wire)
                        );
                        let expected = if sent.head_request { "" } else { &sent.answer };
                        assert_eq!(String::from_utf8_lossy(body), expected, "{what}");
                        assert_eq!(*keeps, !sent.closes, "{what}: the connection's fate");
                    }
                } else if !wire.windows(4).any(|w| w == b"HEAD") {
                    // (A damaged request that says HEAD gets a body-less
                    // reply the decoder would need to be told of.)
                    let replies = decode_replies(&received, &[]).unwrap_or_else(|err| {
                        panic!(
                            "{what}: {err}\nsent {:?}\ngot {:?}",
                            String::from_utf8_lossy(&wire),
                            String::from_utf8_lossy(&received)
                        )
                    });
                    for (status, _, _) in replies {
                        assert!(
                            status == 200 || REFUSALS.contains(&status),
                            "{what}: status {status}"
                        );
                    }
                }
            }
        }
        // Still serving; and every connection's task has ended.
        let page = corio::http::get(format!("http://{addr}/after"))
            .await
            .unwrap();
        assert_eq!(page.text(), "GET /after 0 0");
        sleep(Duration::from_millis(20)).await;
        assert!(
            corio::all_tasks().len() <= baseline + 1,
            "{} tasks left, {baseline} before (a pooled connection may stay)",
            corio::all_tasks().len()
        );
        eprintln!(
            "cases (valid, valid, damaged, garbage): {:?}",
            stats.borrow()
        );
    });
    let reports = reports.borrow();
    assert!(
        reports.is_empty(),
        "reports: {:?}",
        reports.iter().map(|r| r.message()).collect::<Vec<_>>()
    );
}
