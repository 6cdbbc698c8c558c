//! The HTTP client against a scripted server that answers each request by
//! a seeded random plan: any framing (length, chunked with extensions and
//! trailers, until close), interim `1xx` heads first, `204`/`304`/`HEAD`
//! without a body, HTTP/1.0, `Connection: close`, a connection the server
//! closes silently after answering (stale in the pool), replies written in
//! random pieces — and damaged replies (cut short, garbage, a bad chunk
//! size, two framings). Several tasks share one `Client`, so connections
//! pass from request to request through the pool.
//!
//! What must hold: every answer reaches the request it was for (each body
//! names its request: no answer is ever read as another's), an intact
//! reply gives exactly its status and body, a damaged one an error (never
//! a wrong body), a stale pooled connection costs no error (the request is
//! retried on a fresh one), and nothing hangs.
//! `SEEDS=N` runs more or fewer (default 8); `SEED=n` runs one.
mod common;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::time::Duration;

use common::{Rng, Watchdog};
use corio::http::{Client, Method};
use corio::net::{TcpListener, TcpStream};
use corio::time::{sleep, timeout};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Framing {
    Length,
    Chunked,
    UntilClose,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum After {
    /// Keep the connection (HTTP/1.1 default; HTTP/1.0 with keep-alive).
    Keep,
    /// Say `Connection: close`, then close.
    SayClose,
    /// Close without saying so: the client pools a dead connection.
    SilentClose,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Damage {
    None,
    /// The body ends early, then the connection closes.
    CutBody,
    /// Garbage instead of a status line.
    Garbage,
    /// The connection closes before any answer.
    NoAnswer,
    /// A chunk size that is not hex.
    BadChunkSize,
    /// Both `Content-Length` and `Transfer-Encoding: chunked`.
    TwoFramings,
}

/// How the server answers one request.
#[derive(Clone, Debug)]
struct Plan {
    status: u16,
    interim: bool,
    framing: Framing,
    filler: usize,
    after: After,
    http10: bool,
    damage: Damage,
    /// Write the reply in pieces of at most this many bytes.
    piece: usize,
}

impl Plan {
    fn random(rng: &mut Rng) -> Plan {
        let status = [200, 200, 200, 404, 204, 304, 500][rng.below(7)];
        let mut framing = [Framing::Length, Framing::Chunked, Framing::UntilClose][rng.below(3)];
        let http10 = rng.below(8) == 0;
        if http10 && framing == Framing::Chunked {
            framing = Framing::Length; // no chunked framing in HTTP/1.0
        }
        let after = if framing == Framing::UntilClose {
            After::SayClose
        } else {
            [
                After::Keep,
                After::Keep,
                After::Keep,
                After::SayClose,
                After::SilentClose,
            ][rng.below(5)]
        };
        let damage = if rng.below(6) == 0 {
            let mut damage = [
                Damage::CutBody,
                Damage::Garbage,
                Damage::NoAnswer,
                Damage::BadChunkSize,
                Damage::TwoFramings,
            ][rng.below(5)];
            // Damage that needs a body, or the framing it breaks.
            let bodiless = matches!(status, 204 | 304);
            if bodiless && matches!(damage, Damage::CutBody | Damage::BadChunkSize) {
                damage = Damage::Garbage;
            }
            if damage == Damage::CutBody && framing == Framing::UntilClose {
                framing = Framing::Length; // else a cut body is just a body
            }
            if damage == Damage::BadChunkSize {
                framing = Framing::Chunked;
            }
            damage
        } else {
            Damage::None
        };
        Plan {
            status,
            interim: rng.below(6) == 0 && !http10,
            framing,
            filler: [0, 3, 100, 5000, 70_000][rng.below(5)],
            after,
            http10,
            damage,
            piece: [1, 7, 100, 1 << 20][rng.below(4)],
        }
    }

    fn has_body(&self, head_request: bool) -> bool {
        !head_request && !matches!(self.status, 204 | 304)
    }
}

/// The body of the answer to request `id`: it names its request.
fn body_of(id: u64, filler: usize) -> Vec<u8> {
    let mut body = format!("answer to {id};").into_bytes();
    body.extend((0..filler).map(|i| b'a' + (i % 26) as u8));
    body
}

/// The bytes the server writes for `plan` (and whether it closes after).
fn reply(id: u64, plan: &Plan, head_request: bool, rng: &mut Rng) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    match plan.damage {
        Damage::NoAnswer => return (out, true),
        Damage::Garbage => {
            out.extend_from_slice(b"\x16\x03\x01 this is not HTTP\r\n\r\n");
            return (out, true);
        }
        _ => {}
    }
    if plan.interim {
        out.extend_from_slice(b"HTTP/1.1 103 Early Hints\r\nLink: </x>; rel=preload\r\n\r\n");
    }
    let version = if plan.http10 { "1.0" } else { "1.1" };
    out.extend_from_slice(format!("HTTP/{version} {} Whatever\r\n", plan.status).as_bytes());
    out.extend_from_slice(b"Server: scripted\r\n");
    let body = body_of(id, plan.filler);
    let with_body = plan.has_body(head_request);
    match plan.framing {
        Framing::Length => {
            out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes())
        }
        Framing::Chunked => out.extend_from_slice(b"Transfer-Encoding: chunked\r\n"),
        Framing::UntilClose => {}
    }
    if plan.damage == Damage::TwoFramings {
        out.extend_from_slice(b"Content-Length: 3\r\nTransfer-Encoding: chunked\r\n");
    }
    match plan.after {
        After::SayClose => out.extend_from_slice(b"Connection: close\r\n"),
        After::Keep if plan.http10 => out.extend_from_slice(b"Connection: keep-alive\r\n"),
        _ => {}
    }
    out.extend_from_slice(b"\r\n");
    let closes = plan.after != After::Keep || plan.damage != Damage::None;
    if !with_body {
        return (out, closes);
    }
    match plan.framing {
        Framing::Chunked => {
            let mut rest = &body[..];
            while !rest.is_empty() {
                let n = (1 + rng.below(9000)).min(rest.len());
                if plan.damage == Damage::BadChunkSize {
                    out.extend_from_slice(b"zz\r\n");
                } else if rng.below(4) == 0 {
                    out.extend_from_slice(format!("{n:X};ext=\"v\"\r\n").as_bytes());
                } else {
                    out.extend_from_slice(format!("{n:x}\r\n").as_bytes());
                }
                out.extend_from_slice(&rest[..n]);
                out.extend_from_slice(b"\r\n");
                rest = &rest[n..];
            }
            if rng.below(3) == 0 {
                out.extend_from_slice(b"0\r\nX-Trailer: yes\r\n\r\n");
            } else {
                out.extend_from_slice(b"0\r\n\r\n");
            }
        }
        _ => out.extend_from_slice(&body),
    }
    if plan.damage == Damage::CutBody {
        let keep = out.len() - 1 - rng.below(body.len().min(out.len() - 1));
        out.truncate(keep);
    }
    (out, closes)
}

/// How a request is made and its body read.
#[derive(Clone, Copy, Debug, PartialEq)]
enum How {
    /// `send()`: the whole response.
    Whole,
    /// `send_streaming()`, then `chunk()` to the end.
    Pieces,
    /// `send_streaming()`, one `chunk()`, then the response is dropped
    /// mid-body: its connection must not serve another request.
    FirstPiece,
}

/// What a request gave: its status and the body read.
struct Got {
    status: u16,
    body: Vec<u8>,
}

async fn fetch(
    client: &Client,
    method: Method,
    url: &str,
    how: How,
) -> Result<Got, corio::http::Error> {
    let request = client.request(method, url);
    if how == How::Whole {
        let response = request.send().await?;
        return Ok(Got {
            status: response.status,
            body: response.body,
        });
    }
    let mut response = request.send_streaming().await?;
    let mut body = Vec::new();
    while let Some(piece) = response.chunk().await? {
        body.extend_from_slice(piece);
        if how == How::FirstPiece {
            break;
        }
    }
    Ok(Got {
        status: response.status,
        body,
    })
}

/// The scripted server: reads request heads, answers each by its plan.
struct Script {
    plans: RefCell<HashMap<u64, Plan>>,
    connections: Cell<u64>,
}

async fn serve(script: Rc<Script>, mut stream: TcpStream, seed: u64) {
    let mut rng = Rng(seed | 1);
    let mut buf = Vec::new();
    let mut piece = [0u8; 4096];
    loop {
        // One request head (GET and HEAD only: no bodies).
        let end = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            match stream.read(&mut piece).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&piece[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end);
        let head_request = head.starts_with("HEAD ");
        let id: u64 = head
            .split(' ')
            .nth(1)
            .and_then(|target| target.strip_prefix("/r/"))
            .and_then(|id| id.parse().ok())
            .expect("a request for /r/ID");
        let plan = script.plans.borrow()[&id].clone();
        let (bytes, closes) = reply(id, &plan, head_request, &mut rng);
        // Tiny pieces only for short replies: a long one byte by byte
        // would take a while, and shows nothing more.
        let piece = if bytes.len() > 4096 {
            plan.piece.max(1000)
        } else {
            plan.piece
        };
        // Now and then one pause of 2 ms somewhere in the reply: a client
        // that reads part of it meanwhile must not take the rest, coming
        // later, for the answer to its next request.
        let pause_at = (rng.below(3) == 0).then(|| rng.below(bytes.len() + 1));
        let mut written = 0;
        for part in bytes.chunks(piece) {
            let (part, later) = match pause_at {
                Some(at) if (written..written + part.len()).contains(&at) => {
                    part.split_at(at - written)
                }
                _ => (part, &[][..]),
            };
            for part in [part, later] {
                if part.is_empty() {
                    continue;
                }
                if stream.write_all(part).await.is_err() {
                    return;
                }
                written += part.len();
                if Some(written) == pause_at {
                    sleep(Duration::from_millis(2)).await;
                }
            }
            if piece < 100 && rng.below(64) == 0 {
                sleep(Duration::from_millis(1)).await;
            }
        }
        if closes {
            return; // dropping the stream closes it (the server first)
        }
    }
}

#[test]
fn every_answer_reaches_its_request_intact_or_as_an_error_never_as_another_answer() {
    let watchdog = Watchdog::start("client_fuzz");
    for seed in common::seeds(8) {
        watchdog.seed(seed);
        let mut lp = corio::EventLoop::new().unwrap();
        let reports = common::capture_reports(&lp);
        lp.run_until_complete(async move {
            let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
            let addr = listener.local_addr().unwrap();
            let script = Rc::new(Script {
                plans: RefCell::new(HashMap::new()),
                connections: Cell::new(0),
            });
            let accepting = {
                let script = Rc::clone(&script);
                corio::spawn(async move {
                    loop {
                        let (stream, _) = listener.accept().await.unwrap();
                        let n = script.connections.get() + 1;
                        script.connections.set(n);
                        corio::spawn(serve(Rc::clone(&script), stream, seed * 1000 + n)).detach();
                    }
                })
            };
            let client = Client::builder()
                .read_timeout(Duration::from_secs(5))
                .follow_redirects(false)
                .build()
                .unwrap();
            let outcomes = Rc::new(Cell::new([0usize; 3]));
            let mut workers = Vec::new();
            for worker in 0..4u64 {
                let (client, script, outcomes) =
                    (client.clone(), Rc::clone(&script), Rc::clone(&outcomes));
                workers.push(corio::spawn(async move {
                    let mut rng = Rng(0x5eed ^ (seed << 8) ^ ((worker + 1) * 0x9e37_79b9));
                    for i in 0..40u64 {
                        let id = seed * 1_000_000 + worker * 1000 + i;
                        let plan = Plan::random(&mut rng);
                        script.plans.borrow_mut().insert(id, plan.clone());
                        let head_request = rng.below(6) == 0;
                        let method = if head_request {
                            Method::Head
                        } else {
                            Method::Get
                        };
                        let url = format!("http://{addr}/r/{id}");
                        let what =
                            format!("seed {seed}, request {id}, {plan:?}, head {head_request}");
                        let how = [
                            How::Whole,
                            How::Whole,
                            How::Whole,
                            How::Pieces,
                            How::FirstPiece,
                        ][rng.below(5)];
                        let what = format!("{what}, {how:?}");
                        let result =
                            timeout(Duration::from_secs(10), fetch(&client, method, &url, how))
                                .await
                                .unwrap_or_else(|_| panic!("{what}: no outcome within 10 s"));
                        let mut counts = outcomes.get();
                        match (plan.damage, result) {
                            (Damage::None, Ok(response)) => {
                                assert_eq!(response.status, plan.status, "{what}");
                                let mut expected = if plan.has_body(head_request) {
                                    body_of(id, plan.filler)
                                } else {
                                    Vec::new()
                                };
                                if how == How::FirstPiece {
                                    // Dropped after its first piece.
                                    expected.truncate(response.body.len());
                                }
                                assert!(
                                    response.body == expected,
                                    "{what}: body {:?}",
                                    String::from_utf8_lossy(
                                        &response.body[..response.body.len().min(60)]
                                    )
                                );
                                counts[0] += 1;
                            }
                            (Damage::None, Err(err)) => panic!("{what}: {err}"),
                            (_, Err(_)) => counts[1] += 1,
                            (damage, Ok(response)) => {
                                // Damage the client cannot see (yet): a
                                // HEAD or body-less reply, or a body read
                                // only as far as its first piece. Still
                                // never another request's answer: what
                                // came is a prefix of this one's.
                                assert!(
                                    body_of(id, plan.filler).starts_with(&response.body),
                                    "{what}: {damage:?} gave {:?}",
                                    String::from_utf8_lossy(&response.body)
                                );
                                // A body read to its end that was damaged
                                // is an error, not a shorter body.
                                assert!(
                                    !plan.has_body(head_request) || how == How::FirstPiece,
                                    "{what}: {damage:?} accepted"
                                );
                                counts[2] += 1;
                            }
                        }
                        outcomes.set(counts);
                    }
                }));
            }
            for worker in workers {
                worker.await.unwrap();
            }
            accepting.cancel();
            let [ok, failed, unseen] = outcomes.get();
            assert_eq!(ok + failed + unseen, 160);
            eprintln!(
                "seed {seed}: {ok} intact, {failed} errors, {unseen} damage unseen; {} connections",
                script.connections.get()
            );
            // Connections were reused (fewer than requests).
            assert!(
                script.connections.get() < 160,
                "seed {seed}: {} connections for 160 requests",
                script.connections.get()
            );
        });
        let reports = reports.borrow();
        assert!(
            reports.is_empty(),
            "seed {seed}: {:?}",
            reports.iter().map(|r| r.message()).collect::<Vec<_>>()
        );
    }
}
