//! W5: TCP echo over loopback, server and client in separate
//! single-threaded processes, C connections × M round trips of 64 bytes,
//! `TCP_NODELAY`. Each runtime has a server and a client here, plus a raw
//! mio pair (no runtime at all: the limit).
//!
//! ```text
//! corio-peers echo-server <runtime> <port>            # serves until killed
//! corio-peers echo-client <runtime> <port> <conns> <msgs>   # prints "rt/s cpu_ns_per_rt"
//! corio-peers w5 [--rounds 5] [--conns 64] [--msgs 5000]
//! ```

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const MSG: usize = 64;
pub const RUNTIMES: [&str; 5] = ["raw", "corio", "tokio", "smol", "monoio"];

/// CPU time (user + system) of a process, from /proc/<pid>/stat, in ns.
pub fn cpu_ns(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name (which is in parentheses).
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields
        .get(11)
        .and_then(|u| u.parse::<u64>().ok())
        .unwrap_or(0)
        + fields
            .get(12)
            .and_then(|s| s.parse::<u64>().ok())
            .unwrap_or(0);
    // USER_HZ is 100 on Linux.
    ticks * 10_000_000
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

// ----- servers -----------------------------------------------------------------------

pub fn server(runtime: &str, port: u16) {
    match runtime {
        "raw" => raw_server(port).expect("raw server"),
        "corio" => corio_server(port),
        "tokio" => tokio_server(port),
        "smol" => smol_server(port),
        "monoio" => monoio_server(port),
        other => panic!("unknown runtime {other}"),
    }
}

fn corio_server(port: u16) {
    corio::run(async move {
        let listener = corio::net::TcpListener::bind(addr(port)).await.unwrap();
        println!("ready");
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            conn.set_nodelay(true).unwrap();
            drop(corio::spawn(async move {
                let mut buf = [0; 4096];
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
            }));
        }
    });
}

fn tokio_server(port: u16) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr(port)).await.unwrap();
        println!("ready");
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            conn.set_nodelay(true).unwrap();
            tokio::spawn(async move {
                let mut buf = [0; 4096];
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
    });
}

fn smol_server(port: u16) {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    let ex = async_executor::LocalExecutor::new();
    async_io::block_on(ex.run(async {
        let listener = async_io::Async::<std::net::TcpListener>::bind(addr(port)).unwrap();
        println!("ready");
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            conn.get_ref().set_nodelay(true).unwrap();
            ex.spawn(async move {
                let mut buf = [0; 4096];
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
            })
            .detach();
        }
    }));
}

fn monoio_server(port: u16) {
    use monoio::io::{AsyncReadRent, AsyncWriteRentExt};
    let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .build()
        .unwrap();
    rt.block_on(async move {
        let listener = monoio::net::TcpListener::bind(addr(port)).unwrap();
        println!("ready");
        loop {
            let (mut conn, _) = listener.accept().await.unwrap();
            conn.set_nodelay(true).unwrap();
            monoio::spawn(async move {
                let mut buf = vec![0u8; 4096];
                loop {
                    let (res, b) = conn.read(buf).await;
                    buf = b;
                    let n = match res {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    let out = buf[..n].to_vec();
                    let (res, _) = conn.write_all(out).await;
                    if res.is_err() {
                        break;
                    }
                }
            });
        }
    });
}

/// A hand-written mio server: the least work a server can do.
fn raw_server(port: u16) -> io::Result<()> {
    use mio::net::{TcpListener, TcpStream};
    use mio::{Events, Interest, Poll, Token};

    const LISTENER: Token = Token(usize::MAX);
    struct Conn {
        stream: TcpStream,
        pending: Vec<u8>,
    }
    let mut poll = Poll::new()?;
    let mut listener = TcpListener::bind(addr(port))?;
    poll.registry()
        .register(&mut listener, LISTENER, Interest::READABLE)?;
    let mut conns: slab::Slab<Conn> = slab::Slab::new();
    let mut events = Events::with_capacity(1024);
    let mut buf = [0u8; 4096];
    println!("ready");
    loop {
        // A signal (a profiler's, say) may interrupt the wait: wait again.
        match poll.poll(&mut events, None) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => other?,
        }
        for event in &events {
            if event.token() == LISTENER {
                loop {
                    match listener.accept() {
                        Ok((mut stream, _)) => {
                            stream.set_nodelay(true)?;
                            let entry = conns.vacant_entry();
                            poll.registry().register(
                                &mut stream,
                                Token(entry.key()),
                                Interest::READABLE | Interest::WRITABLE,
                            )?;
                            entry.insert(Conn {
                                stream,
                                pending: Vec::new(),
                            });
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(e) => return Err(e),
                    }
                }
                continue;
            }
            let key = event.token().0;
            let mut close = false;
            if let Some(conn) = conns.get_mut(key) {
                // Write out what is pending, then read and echo.
                if !conn.pending.is_empty() {
                    match conn.stream.write(&conn.pending) {
                        Ok(n) => {
                            conn.pending.drain(..n);
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(_) => close = true,
                    }
                }
                while !close && conn.pending.is_empty() {
                    match conn.stream.read(&mut buf) {
                        Ok(0) => close = true,
                        Ok(n) => match conn.stream.write(&buf[..n]) {
                            Ok(w) => conn.pending.extend_from_slice(&buf[w..n]),
                            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                                conn.pending.extend_from_slice(&buf[..n])
                            }
                            Err(_) => close = true,
                        },
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                        Err(_) => close = true,
                    }
                }
            }
            if close {
                let mut conn = conns.remove(key);
                let _ = poll.registry().deregister(&mut conn.stream);
            }
        }
    }
}

// ----- clients -----------------------------------------------------------------------

/// Runs a client; returns round trips per second.
pub fn client(runtime: &str, port: u16, conns: usize, msgs: usize) -> f64 {
    let start = Instant::now();
    match runtime {
        "raw" => raw_client(port, conns, msgs).expect("raw client"),
        "corio" => corio_client(port, conns, msgs),
        "tokio" => tokio_client(port, conns, msgs),
        "smol" => smol_client(port, conns, msgs),
        "monoio" => monoio_client(port, conns, msgs),
        other => panic!("unknown runtime {other}"),
    }
    (conns * msgs) as f64 / start.elapsed().as_secs_f64()
}

fn corio_client(port: u16, conns: usize, msgs: usize) {
    corio::run(async move {
        let tasks: Vec<_> = (0..conns)
            .map(|_| {
                corio::spawn(async move {
                    let mut conn = corio::net::TcpStream::connect(addr(port)).await.unwrap();
                    conn.set_nodelay(true).unwrap();
                    let msg = [7u8; MSG];
                    let mut buf = [0u8; MSG];
                    for _ in 0..msgs {
                        conn.write_all(&msg).await.unwrap();
                        conn.read_exact(&mut buf).await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
}

fn tokio_client(port: u16, conns: usize, msgs: usize) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    rt.block_on(async move {
        let tasks: Vec<_> = (0..conns)
            .map(|_| {
                tokio::spawn(async move {
                    let mut conn = tokio::net::TcpStream::connect(addr(port)).await.unwrap();
                    conn.set_nodelay(true).unwrap();
                    let msg = [7u8; MSG];
                    let mut buf = [0u8; MSG];
                    for _ in 0..msgs {
                        conn.write_all(&msg).await.unwrap();
                        conn.read_exact(&mut buf).await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
}

fn smol_client(port: u16, conns: usize, msgs: usize) {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    let ex = async_executor::LocalExecutor::new();
    async_io::block_on(ex.run(async {
        let tasks: Vec<_> = (0..conns)
            .map(|_| {
                ex.spawn(async move {
                    let mut conn = async_io::Async::<std::net::TcpStream>::connect(addr(port))
                        .await
                        .unwrap();
                    conn.get_ref().set_nodelay(true).unwrap();
                    let msg = [7u8; MSG];
                    let mut buf = [0u8; MSG];
                    for _ in 0..msgs {
                        conn.write_all(&msg).await.unwrap();
                        conn.read_exact(&mut buf).await.unwrap();
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
    }));
}

fn monoio_client(port: u16, conns: usize, msgs: usize) {
    use monoio::io::{AsyncReadRentExt, AsyncWriteRentExt};
    let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
        .build()
        .unwrap();
    rt.block_on(async move {
        let tasks: Vec<_> = (0..conns)
            .map(|_| {
                monoio::spawn(async move {
                    let mut conn = monoio::net::TcpStream::connect(addr(port)).await.unwrap();
                    conn.set_nodelay(true).unwrap();
                    let mut msg = vec![7u8; MSG];
                    let mut buf = vec![0u8; MSG];
                    for _ in 0..msgs {
                        let (res, m) = conn.write_all(msg).await;
                        res.unwrap();
                        msg = m;
                        let (res, b) = conn.read_exact(buf).await;
                        res.unwrap();
                        buf = b;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await;
        }
    });
}

/// A hand-written mio client.
fn raw_client(port: u16, conns: usize, msgs: usize) -> io::Result<()> {
    use mio::net::TcpStream;
    use mio::{Events, Interest, Poll, Token};

    struct Conn {
        stream: TcpStream,
        got: usize,
        done: usize,
        connected: bool,
    }
    let mut poll = Poll::new()?;
    let mut list = Vec::new();
    for i in 0..conns {
        let mut stream = TcpStream::connect(addr(port))?;
        poll.registry().register(
            &mut stream,
            Token(i),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        list.push(Conn {
            stream,
            got: 0,
            done: 0,
            connected: false,
        });
    }
    let msg = [7u8; MSG];
    let mut buf = [0u8; MSG];
    let mut finished = 0;
    let mut events = Events::with_capacity(1024);
    while finished < conns {
        poll.poll(&mut events, None)?;
        for event in &events {
            let conn = &mut list[event.token().0];
            if !conn.connected {
                // A refused connect: report it, instead of waiting forever
                // for an event that never comes.
                if let Some(err) = conn.stream.take_error()? {
                    return Err(err);
                }
                if event.is_writable() && conn.stream.peer_addr().is_ok() {
                    conn.connected = true;
                    conn.stream.set_nodelay(true)?;
                    conn.stream.write_all(&msg)?; // 64 bytes fit in any send buffer
                }
                continue;
            }
            loop {
                match conn.stream.read(&mut buf[conn.got..]) {
                    Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
                    Ok(n) => {
                        conn.got += n;
                        if conn.got == MSG {
                            conn.got = 0;
                            conn.done += 1;
                            if conn.done == msgs {
                                finished += 1;
                                break;
                            }
                            conn.stream.write_all(&msg)?;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(())
}

// ----- the W5 table ------------------------------------------------------------------

struct ServerProcess {
    child: Child,
}

/// A command that runs this program — on CPU `cpu` alone when given
/// (`taskset`), so that the scheduler does not move the two processes of
/// a pair between the machine's cores mid-run.
fn self_command(cpu: Option<usize>) -> Command {
    let exe = std::env::current_exe().expect("own path");
    match cpu {
        Some(cpu) => {
            let mut command = Command::new("taskset");
            command.arg("-c").arg(cpu.to_string()).arg(exe);
            command
        }
        None => Command::new(exe),
    }
}

impl ServerProcess {
    fn start(runtime: &str, port: u16, cpu: Option<usize>) -> ServerProcess {
        let mut child = self_command(cpu)
            .args(["echo-server", runtime, &port.to_string()])
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the server");
        // Wait for "ready"; a server that died first (its port taken, say)
        // would leave the raw client waiting on nothing.
        let mut out = child.stdout.take().expect("stdout");
        let mut ready = [0u8; 6];
        if out.read_exact(&mut ready).is_err() || &ready != b"ready\n" {
            let _ = child.kill();
            let _ = child.wait();
            eprintln!("w5: the {runtime} echo server on port {port} did not start");
            std::process::exit(1);
        }
        ServerProcess { child }
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a client process; returns (round trips/s, client CPU ns per round trip).
fn client_process(
    runtime: &str,
    port: u16,
    conns: usize,
    msgs: usize,
    cpu: Option<usize>,
) -> Option<(f64, f64)> {
    let args = [port.to_string(), conns.to_string(), msgs.to_string()];
    let args = ["echo-client", runtime, &args[0], &args[1], &args[2]];
    numbers(self_command(cpu).args(args))
}

/// Runs this program with `args` in a fresh process; returns the two
/// numbers it prints (a rate, and CPU ns per operation).
pub fn run_self(args: &[&str]) -> Option<(f64, f64)> {
    numbers(self_command(None).args(args))
}

/// Runs `command`; returns the two numbers it prints.
fn numbers(command: &mut Command) -> Option<(f64, f64)> {
    let out = command.stderr(Stdio::inherit()).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text
        .split_whitespace()
        .filter_map(|v| v.parse::<f64>().ok());
    Some((it.next()?, it.next()?))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// The median of `v`, with its minimum and maximum.
pub fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        // Nothing measured (a runtime not in `--runtimes`, raw mio
        // included): no figure, as `w6` prints it.
        return (f64::NAN, f64::NAN, f64::NAN);
    }
    let med = if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    };
    (med, v[0], v[n - 1])
}

/// The W5 table. With `pin`, the process under test runs on CPU 0 and its
/// raw-mio partner on CPU 1 (`taskset`). Beside the ratio of medians, each
/// runtime's rate is divided by the raw pair's rate of the same round, and
/// the median of those paired ratios is printed: drifts of the machine
/// between rounds cancel out of it.
pub fn w5(rounds: usize, conns: usize, msgs: usize, only: Option<String>, pin: bool) {
    let runtimes: Vec<&str> = RUNTIMES
        .iter()
        .copied()
        .filter(|rt| only.as_ref().is_none_or(|o| o.split(',').any(|x| x == *rt)))
        .collect();
    let (tested, partner) = if pin {
        (Some(0), Some(1))
    } else {
        (None, None)
    };
    // Servers: each runtime's server against the raw client (the fastest
    // client, so the server is what is measured). Clients: each runtime's
    // client against the raw server. Per round: runtime -> (rate, cpu).
    type Round<'a> = std::collections::BTreeMap<&'a str, (f64, f64)>;
    let mut server_rounds: Vec<Round> = Vec::new();
    let mut client_rounds: Vec<Round> = Vec::new();
    for round in 0..rounds {
        eprintln!("round {}/{rounds}", round + 1);
        let (mut servers, mut clients) = (Round::new(), Round::new());
        for k in 0..runtimes.len() {
            let rt = runtimes[(k + round) % runtimes.len()];
            // Server side.
            let port = free_port();
            let server = ServerProcess::start(rt, port, tested);
            let pid = server.child.id();
            let before = cpu_ns(pid);
            if let Some((rate, _)) = client_process("raw", port, conns, msgs, partner) {
                let cpu = (cpu_ns(pid) - before) as f64 / (conns * msgs) as f64;
                servers.insert(rt, (rate, cpu));
            }
            drop(server);
            // Client side.
            let port = free_port();
            let server = ServerProcess::start("raw", port, partner);
            if let Some(v) = client_process(rt, port, conns, msgs, tested) {
                clients.insert(rt, v);
            }
            drop(server);
            std::thread::sleep(Duration::from_millis(100));
        }
        server_rounds.push(servers);
        client_rounds.push(clients);
    }
    let pinned = if pin {
        ", pinned (tested process on CPU 0, raw partner on CPU 1)"
    } else {
        ""
    };
    for (side, rounds_of) in [("server", &server_rounds), ("client", &client_rounds)] {
        println!(
            "\n{side}s, {conns} connections × {msgs} round trips of {MSG} bytes{pinned}, medians of {rounds} rounds (min–max)\n"
        );
        println!(
            "| {side} | round trips/s | × raw mio | paired × raw mio | CPU ns per round trip |"
        );
        println!("|---|---|---|---|---|");
        let of = |rt: &str, pick: fn(&(f64, f64)) -> f64| -> Vec<f64> {
            rounds_of
                .iter()
                .filter_map(|r| r.get(rt))
                .map(pick)
                .collect()
        };
        let raw = median(of("raw", |x| x.0)).0;
        for rt in &runtimes {
            let rates = of(rt, |x| x.0);
            if rates.is_empty() {
                continue;
            }
            let (rate, lo, hi) = median(rates);
            let (cpu, _, _) = median(of(rt, |x| x.1));
            let paired: Vec<f64> = rounds_of
                .iter()
                .filter_map(|r| Some(r.get(rt)?.0 / r.get("raw")?.0))
                .collect();
            let paired = if paired.is_empty() {
                "—".to_owned()
            } else {
                let (p, plo, phi) = median(paired);
                format!("{p:.3} ({plo:.3}–{phi:.3})")
            };
            // CPU time comes in 10 ms ticks: a run too short for one says
            // nothing (not zero).
            let cpu = if cpu > 0.0 {
                format!("{cpu:.0}")
            } else {
                "— (run under a 10 ms tick)".to_owned()
            };
            println!(
                "| {rt} | {rate:.0} ({lo:.0}–{hi:.0}) | {:.3} | {paired} | {cpu} |",
                rate / raw
            );
        }
    }
}

/// The client subcommand: prints "round-trips/s cpu-ns-per-round-trip".
pub fn client_main(runtime: &str, port: u16, conns: usize, msgs: usize) {
    let pid = std::process::id();
    let before = cpu_ns(pid);
    let rate = client(runtime, port, conns, msgs);
    let cpu = (cpu_ns(pid) - before) as f64 / (conns * msgs) as f64;
    println!("{rate:.1} {cpu:.1}");
}
