//! W6: HTTP/1.1 keep-alive GETs of a 1 KiB file from a local nginx (one
//! worker, `tcp_nopush on`), 64 connections, 100,000 requests. nginx caps
//! the rate, so the figure of merit is the *client's* CPU time per request.
//!
//! Clients, each in a fresh process:
//! * `raw`   — a hand-written mio + httparse client: no runtime, the limit;
//! * `corio` — `corio::http::Client`, 64 tasks sharing one client (its pool);
//! * `tokio` — a hand-written httparse client on tokio's current-thread runtime;
//! * `corio-hand` — the same hand-written client on corio's runtime (not in
//!   the default set: it splits corio's cost into runtime and `http::Client`);
//! * `hyper` — hyper 1.x `client::conn::http1` on tokio's current-thread runtime.
//!
//! ```text
//! corio-peers w6 [--rounds 5] [--conns 64] [--requests 100000] [--runtimes raw,corio,tokio,hyper] [--server nginx|demo]
//! corio-peers http-client <runtime> <addr> <conns> <requests> [path]   # prints "req/s cpu_ns_per_req"
//! corio-peers http-server                     # corio's demo server with /1k.bin; prints its address
//! corio-peers nginx                           # nginx with /1k.bin until stdin closes; prints its address
//! ```
//!
//! `w6` starts nginx itself (it must be installed: `scripts/w6.sh` installs
//! the Debian package and runs this); `--server demo` uses corio's demo
//! server (`corio::http::server`) instead, for machines without nginx.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::echo::{cpu_ns, median, run_self};

pub const RUNTIMES: [&str; 4] = ["raw", "corio", "tokio", "hyper"];
/// Clients measured only when `--runtimes` names them.
pub const EXTRA_RUNTIMES: [&str; 1] = ["corio-hand"];
const PATH: &str = "/1k.bin";

/// CPU time of this process so far, in ns, from the scheduler's own
/// accounting (`/proc/self/task/*/schedstat`: ns on CPU, all threads).
fn own_cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return cpu_ns(std::process::id());
    };
    tasks
        .filter_map(|t| std::fs::read_to_string(t.ok()?.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

fn request_bytes(addr: SocketAddr, path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n")
        .into_bytes()
}

/// Parses a response head at the start of `buf`: (head length, body length).
fn parse_head(buf: &[u8]) -> Option<(usize, usize)> {
    let mut fields = [httparse::EMPTY_HEADER; 24];
    let mut response = httparse::Response::new(&mut fields);
    match response.parse(buf) {
        Ok(httparse::Status::Complete(head)) => {
            assert_eq!(
                response.code,
                Some(200),
                "nginx answered {:?}",
                response.code
            );
            let length = response
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .and_then(|h| std::str::from_utf8(h.value).ok()?.parse().ok())
                .expect("a Content-Length");
            Some((head, length))
        }
        Ok(httparse::Status::Partial) => None,
        Err(err) => panic!("bad response: {err}"),
    }
}

pub fn client(runtime: &str, addr: SocketAddr, conns: usize, requests: usize, path: &str) -> f64 {
    let start = Instant::now();
    match runtime {
        "raw" => raw_client(addr, conns, requests, path).expect("raw client"),
        "corio" => corio_client(addr, conns, requests, path),
        "tokio" => tokio_client(addr, conns, requests, path),
        "corio-hand" => corio_hand_client(addr, conns, requests, path),
        "hyper" => hyper_client(addr, conns, requests, path),
        other => panic!("unknown runtime {other}"),
    }
    requests as f64 / start.elapsed().as_secs_f64()
}

fn corio_client(addr: SocketAddr, conns: usize, requests: usize, path: &str) {
    use std::cell::Cell;
    use std::rc::Rc;
    let url = format!("http://{addr}{path}");
    corio::run(async move {
        let client = corio::http::Client::builder()
            .pool(Duration::from_secs(60), conns)
            .build()
            .unwrap();
        let left = Rc::new(Cell::new(requests));
        let tasks: Vec<_> = (0..conns)
            .map(|_| {
                let (client, left, url) = (client.clone(), Rc::clone(&left), url.clone());
                corio::spawn(async move {
                    while left.get() > 0 {
                        left.set(left.get() - 1);
                        let response = client.get(&url).send().await.expect("corio GET");
                        assert_eq!(response.status, 200);
                        std::hint::black_box(response.body.len());
                    }
                })
            })
            .collect();
        for result in corio::gather(tasks).await {
            result.unwrap();
        }
    });
}

fn tokio_client(addr: SocketAddr, conns: usize, requests: usize, path: &str) {
    use std::cell::Cell;
    use std::rc::Rc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    let request = Rc::new(request_bytes(addr, path));
    local.block_on(&rt, async move {
        let left = Rc::new(Cell::new(requests));
        let mut tasks = Vec::new();
        for _ in 0..conns {
            let (left, request) = (Rc::clone(&left), Rc::clone(&request));
            tasks.push(tokio::task::spawn_local(async move {
                let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                stream.set_nodelay(true).unwrap();
                let mut buf = vec![0u8; 16 * 1024];
                while left.get() > 0 {
                    left.set(left.get() - 1);
                    stream.write_all(&request).await.unwrap();
                    let mut filled = 0;
                    loop {
                        let n = stream.read(&mut buf[filled..]).await.unwrap();
                        assert!(n > 0, "nginx closed the connection");
                        filled += n;
                        if let Some((head, body)) = parse_head(&buf[..filled])
                            && filled >= head + body
                        {
                            assert_eq!(filled, head + body, "no pipelining here");
                            break;
                        }
                    }
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
}

/// `tokio_client`'s program, line for line, on corio's loop and
/// `corio::net::TcpStream`: what the runtime costs without `http::Client`.
fn corio_hand_client(addr: SocketAddr, conns: usize, requests: usize, path: &str) {
    use std::cell::Cell;
    use std::rc::Rc;
    let request = Rc::new(request_bytes(addr, path));
    corio::run(async move {
        let left = Rc::new(Cell::new(requests));
        let mut tasks = Vec::new();
        for _ in 0..conns {
            let (left, request) = (Rc::clone(&left), Rc::clone(&request));
            tasks.push(corio::spawn(async move {
                let mut stream = corio::net::TcpStream::connect(addr).await.unwrap();
                stream.set_nodelay(true).unwrap();
                let mut buf = vec![0u8; 16 * 1024];
                while left.get() > 0 {
                    left.set(left.get() - 1);
                    stream.write_all(&request).await.unwrap();
                    let mut filled = 0;
                    loop {
                        let n = stream.read(&mut buf[filled..]).await.unwrap();
                        assert!(n > 0, "nginx closed the connection");
                        filled += n;
                        if let Some((head, body)) = parse_head(&buf[..filled])
                            && filled >= head + body
                        {
                            assert_eq!(filled, head + body, "no pipelining here");
                            break;
                        }
                    }
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
}

fn hyper_client(addr: SocketAddr, conns: usize, requests: usize, path: &str) {
    use http_body_util::{BodyExt, Empty};
    use std::cell::Cell;
    use std::rc::Rc;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let local = tokio::task::LocalSet::new();
    let path = path.to_owned();
    local.block_on(&rt, async move {
        let left = Rc::new(Cell::new(requests));
        let mut tasks = Vec::new();
        for _ in 0..conns {
            let (left, path) = (Rc::clone(&left), path.clone());
            tasks.push(tokio::task::spawn_local(async move {
                let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
                stream.set_nodelay(true).unwrap();
                let io = hyper_util::rt::TokioIo::new(stream);
                let (mut sender, connection) =
                    hyper::client::conn::http1::handshake(io).await.unwrap();
                tokio::task::spawn_local(connection);
                let host = addr.to_string();
                while left.get() > 0 {
                    left.set(left.get() - 1);
                    let request = http::Request::get(path.as_str())
                        .header(http::header::HOST, host.as_str())
                        .body(Empty::<bytes::Bytes>::new())
                        .unwrap();
                    let response = sender.send_request(request).await.expect("hyper GET");
                    assert_eq!(response.status(), 200);
                    let body = response.into_body().collect().await.unwrap().to_bytes();
                    std::hint::black_box(body.len());
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    });
}

/// The limit: mio and httparse, one state machine per connection, no
/// runtime, no allocation per request.
fn raw_client(addr: SocketAddr, conns: usize, requests: usize, path: &str) -> io::Result<()> {
    use mio::net::TcpStream;
    use mio::{Events, Interest, Poll, Token};
    struct Conn {
        stream: TcpStream,
        buf: Vec<u8>,
        filled: usize,
        /// Head + body length, once the head is in.
        expect: Option<usize>,
    }
    let request = request_bytes(addr, path);
    let mut poll = Poll::new()?;
    let mut events = Events::with_capacity(1024);
    let mut pool = Vec::new();
    let mut sent = 0;
    for i in 0..conns.min(requests) {
        let std_stream = std::net::TcpStream::connect(addr)?;
        std_stream.set_nodelay(true)?;
        std_stream.set_nonblocking(true)?;
        let mut stream = TcpStream::from_std(std_stream);
        poll.registry()
            .register(&mut stream, Token(i), Interest::READABLE)?;
        stream.write_all(&request)?; // a small request on an empty socket buffer
        sent += 1;
        pool.push(Conn {
            stream,
            buf: vec![0; 16 * 1024],
            filled: 0,
            expect: None,
        });
    }
    let mut done = 0;
    while done < requests {
        poll.poll(&mut events, None)?;
        for event in events.iter() {
            let conn = &mut pool[event.token().0];
            loop {
                match conn.stream.read(&mut conn.buf[conn.filled..]) {
                    Ok(0) => return Err(io::Error::other("nginx closed a connection")),
                    Ok(n) => conn.filled += n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
                if conn.expect.is_none() {
                    conn.expect =
                        parse_head(&conn.buf[..conn.filled]).map(|(head, body)| head + body);
                }
                if let Some(total) = conn.expect.filter(|total| conn.filled >= *total) {
                    assert_eq!(conn.filled, total, "no pipelining here");
                    std::hint::black_box(&conn.buf[..total]);
                    done += 1;
                    conn.filled = 0;
                    conn.expect = None;
                    if sent < requests {
                        conn.stream.write_all(&request)?;
                        sent += 1;
                    }
                }
            }
        }
    }
    Ok(())
}

/// The `http-client` subcommand: prints "requests/s cpu-ns-per-request".
pub fn client_main(runtime: &str, addr: SocketAddr, conns: usize, requests: usize, path: &str) {
    let before = own_cpu_ns();
    let rate = client(runtime, addr, conns, requests, path);
    let cpu = (own_cpu_ns() - before) as f64 / requests as f64;
    println!("{rate:.1} {cpu:.1}");
}

/// nginx with a temporary configuration, serving a 1 KiB file.
pub struct Nginx {
    child: Child,
    dir: PathBuf,
    pub addr: SocketAddr,
}

impl Nginx {
    pub fn start() -> io::Result<Nginx> {
        let nginx = ["/usr/sbin/nginx", "/usr/local/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .ok_or_else(|| {
                io::Error::other("nginx is not installed: run scripts/w6.sh, which installs it")
            })?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        remove_stale();
        let dir = std::env::temp_dir().join(format!("corio-w6-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("html"))?;
        std::fs::write(dir.join("html/1k.bin"), vec![b'x'; 1024])?;
        let conf = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {dir}/nginx.pid;\nerror_log {dir}/error.log;\n\
             events {{ worker_connections 4096; }}\n\
             http {{\n  access_log off;\n  default_type application/octet-stream;\n  sendfile on;\n  tcp_nopush on;\n  tcp_nodelay on;\n\
               keepalive_requests 10000000;\n  keepalive_timeout 120s;\n\
               client_body_temp_path {dir}/tmp;\n  proxy_temp_path {dir}/tmp;\n  fastcgi_temp_path {dir}/tmp;\n  uwsgi_temp_path {dir}/tmp;\n  scgi_temp_path {dir}/tmp;\n\
               server {{ listen 127.0.0.1:{port}; root {dir}/html; }}\n}}\n",
            dir = dir.display()
        );
        std::fs::write(dir.join("nginx.conf"), conf)?;
        let child = Command::new(nginx)
            .args([
                "-c",
                &dir.join("nginx.conf").display().to_string(),
                "-p",
                &dir.display().to_string(),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()?;
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let began = Instant::now();
        while std::net::TcpStream::connect(addr).is_err() {
            if began.elapsed() > Duration::from_secs(5) {
                return Err(io::Error::other(format!(
                    "nginx did not start; see {}/error.log",
                    dir.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(Nginx { child, dir, addr })
    }
}

/// What runs that were interrupted left behind: Ctrl-C or a kill skips
/// `Drop`, so the directory stays, and after a kill (not Ctrl-C, which the
/// whole process group gets) nginx itself keeps serving from it. Only
/// directories whose owner process is gone are touched.
fn remove_stale() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(owner) = name
            .to_str()
            .and_then(|n| n.strip_prefix("corio-w6-"))
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if std::path::Path::new(&format!("/proc/{owner}")).exists() {
            continue; // still running
        }
        let dir = entry.path();
        let nginx = std::fs::read_to_string(dir.join("nginx.pid"))
            .ok()
            .and_then(|p| p.trim().parse::<u32>().ok());
        if let Some(nginx) = nginx {
            let cmdline = std::fs::read(format!("/proc/{nginx}/cmdline")).unwrap_or_default();
            if String::from_utf8_lossy(&cmdline).contains(&*dir.to_string_lossy()) {
                let _ = Command::new("kill").arg(nginx.to_string()).status();
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn client_process(
    runtime: &str,
    addr: SocketAddr,
    conns: usize,
    requests: usize,
) -> Option<(f64, f64)> {
    let args = [addr.to_string(), conns.to_string(), requests.to_string()];
    run_self(&["http-client", runtime, &args[0], &args[1], &args[2], PATH])
}

/// corio's demo server (`corio::http::server`) serving `/1k.bin`, for
/// machines without nginx: `http-server` prints its address and serves
/// until killed.
pub fn demo_server_main() {
    corio::run(async {
        let server = corio::http::server::Server::bind("127.0.0.1:0", |_req| async {
            corio::http::server::Reply::new(200)
                .header("Content-Type", "application/octet-stream")
                .body(vec![b'x'; 1024])
        })
        .await
        .expect("bind the demo server");
        println!("{}", server.local_addr());
        server.set_keep_alive_timeout(Duration::from_secs(120));
        std::future::pending::<()>().await;
    });
}

/// What the clients fetch from: nginx, or corio's demo server.
enum Backend {
    Nginx(Nginx),
    Demo(Child, SocketAddr),
}

impl Backend {
    fn start(kind: &str) -> io::Result<Backend> {
        if kind != "demo" {
            return Nginx::start().map(Backend::Nginx);
        }
        let mut child = Command::new(std::env::current_exe()?)
            .arg("http-server")
            .stdout(Stdio::piped())
            .spawn()?;
        let mut line = String::new();
        let mut out = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("no stdout"))?;
        let mut byte = [0u8; 1];
        while out.read(&mut byte)? == 1 && byte[0] != b'\n' {
            line.push(byte[0] as char);
        }
        let addr = line
            .trim()
            .parse()
            .map_err(|_| io::Error::other(format!("bad address {line:?}")))?;
        Ok(Backend::Demo(child, addr))
    }

    fn addr(&self) -> SocketAddr {
        match self {
            Backend::Nginx(nginx) => nginx.addr,
            Backend::Demo(_, addr) => *addr,
        }
    }
}

impl Drop for Backend {
    fn drop(&mut self) {
        if let Backend::Demo(child, _) = self {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub fn w6(rounds: usize, conns: usize, requests: usize, only: Option<String>, server: &str) {
    let runtimes: Vec<&str> = match &only {
        None => RUNTIMES.to_vec(),
        Some(only) => RUNTIMES
            .iter()
            .chain(&EXTRA_RUNTIMES)
            .copied()
            .filter(|rt| only.split(',').any(|x| x == *rt))
            .collect(),
    };
    let backend = match Backend::start(server) {
        Ok(backend) => backend,
        Err(err) => {
            eprintln!("w6: {err}");
            std::process::exit(1);
        }
    };
    let addr = backend.addr();
    // Warm nginx's caches once.
    let _ = client_process("raw", addr, conns, 10_000);
    let mut results: std::collections::BTreeMap<&str, Vec<(f64, f64)>> = Default::default();
    for round in 0..rounds {
        eprintln!("round {}/{rounds}", round + 1);
        for k in 0..runtimes.len() {
            let rt = runtimes[(k + round) % runtimes.len()];
            if let Some(v) = client_process(rt, addr, conns, requests) {
                results.entry(rt).or_default().push(v);
            }
        }
    }
    println!(
        "\nW6: {requests} keep-alive GETs of a 1 KiB file from {}, {conns} connections; \
         medians of {rounds} interleaved rounds (min–max)\n",
        if server == "demo" {
            "corio's demo server"
        } else {
            "nginx (1 worker, tcp_nopush on)"
        }
    );
    println!("| client | client CPU ns/request | × raw mio | requests/s |");
    println!("|---|---|---|---|");
    let raw = results
        .get("raw")
        .map(|v| median(v.iter().map(|x| x.1).collect()).0)
        .unwrap_or(f64::NAN);
    for rt in &runtimes {
        let Some(v) = results.get(rt) else { continue };
        let (cpu, lo, hi) = median(v.iter().map(|x| x.1).collect());
        let (rate, _, _) = median(v.iter().map(|x| x.0).collect());
        println!(
            "| {rt} | {cpu:.0} ({lo:.0}–{hi:.0}) | {:.3} | {rate:.0} |",
            cpu / raw
        );
    }
}
