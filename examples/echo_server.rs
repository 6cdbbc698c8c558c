//! A TCP echo server: every byte a client sends comes back. The server half
//! of the seeds' socket lessons (seed 003 sends and receives on sockets
//! from threads), with one task per connection instead of one thread.
//!
//! ```python
//! # the asyncio twin
//! async def echo(reader, writer):
//!     while data := await reader.read(16384):
//!         writer.write(data)
//!         await writer.drain()
//!     writer.close()
//!
//! server = await asyncio.start_server(echo, "127.0.0.1", 7000)
//! ```
//!
//! The accept loop takes a connection and spawns a task for it, so one
//! thread serves thousands of clients at once: a task waiting for bytes
//! costs no thread, only its slot in the loop.
//!
//! **More cores: thread-per-core.** A corio loop runs on one thread, so one
//! loop uses one core. To use `N` cores, `--threads N` starts `N` OS
//! threads, and each runs its *own* loop with its *own* listening socket,
//! all bound to the same port with `SO_REUSEPORT`
//! ([`ListenOptions::reuse_port`]). The kernel hands each new connection to
//! one of the listeners, so the connections spread over the threads, and
//! the threads share nothing — no locks, no cross-thread wakes. It is the
//! same idea as running `N` copies of a Python asyncio server (or `N`
//! nginx workers) on one port. A connection stays on the thread that
//! accepted it.
//!
//! The other side of `SO_REUSEPORT`: Linux lets *any* socket of the same
//! user with the option join the port, so a second copy of this server
//! started with `--threads 2` on the same port quietly takes a share of
//! the connections instead of failing. With one thread the listener does
//! without the option, and a second copy fails with "address in use".
//!
//! Run it:
//!
//! * `cargo run --release --example echo_server` — one thread on
//!   127.0.0.1:7000; it stops by itself after 10 s;
//! * `cargo run --release --example echo_server -- --threads 2 --seconds 0`
//!   — two threads, until Ctrl-C (`--seconds 0` means no deadline);
//! * options: `--addr IP:PORT` (default 127.0.0.1:7000; port 0 picks a free
//!   one), `--threads N` (default 1), `--seconds S` (default 10).
//!
//! **Stopping cleanly on Ctrl-C.** Each loop also awaits
//! [`corio::signal::ctrl_c`] beside its accept loop (asyncio's
//! `loop.add_signal_handler(SIGINT, ...)`): Ctrl-C stops every loop the
//! way the deadline does — the accept loops end, open connections are
//! closed, and the summary is printed — instead of killing the process
//! mid-write. (Every listener gets every signal, so each thread hears it.)
//!
//! Then, in another terminal, `cargo run --release --example echo_client --
//! --addr 127.0.0.1:7000`, or `nc 127.0.0.1 7000` and type lines.
//!
//! [`ListenOptions::reuse_port`]: corio::net::ListenOptions::reuse_port
//! [`corio::signal::ctrl_c`]: corio::signal::ctrl_c

#[macro_use]
mod common;

use std::cell::Cell;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use corio::Either;
use corio::net::{ListenOptions, TcpListener, TcpStream};

const USAGE: &str = "usage: echo_server [--addr IP:PORT] [--threads N] [--seconds S]
  --addr IP:PORT  where to listen (default 127.0.0.1:7000; port 0 = any free port)
  --threads N     loops, one per OS thread, 1 to 256 (default 1)
  --seconds S     stop after S seconds, up to 86400; 0 = run until Ctrl-C (default 10)";

/// How many connections each thread prints before it goes quiet (a
/// benchmark client opens dozens at once).
const SHOW_CONNECTIONS: u64 = 3;

/// The command line.
struct Args {
    addr: SocketAddr,
    threads: usize,
    /// `None`: run until killed.
    seconds: Option<f64>,
    /// Was `--seconds` given, or is it the default?
    seconds_given: bool,
}

/// Reads `--addr`, `--threads` and `--seconds` by hand from
/// `std::env::args`.
fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        addr: SocketAddr::from(([127, 0, 0, 1], 7000)),
        threads: 1,
        seconds: Some(10.0),
        seconds_given: false,
    };
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        if !["--addr", "--threads", "--seconds"].contains(&flag.as_str()) {
            return Err(format!("unknown option {flag:?}"));
        }
        let value = argv.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--addr" => {
                args.addr = value
                    .parse()
                    .map_err(|_| format!("--addr wants IP:PORT, got {value:?}"))?;
            }
            "--threads" => match value.parse() {
                Ok(n) if (1..=256).contains(&n) => args.threads = n,
                _ => return Err(format!("--threads wants 1 to 256, got {value:?}")),
            },
            "--seconds" => {
                // 0 means "no deadline"; a day is plenty otherwise.
                args.seconds = match value.parse::<f64>() {
                    Ok(0.0) => None,
                    Ok(s) if (0.001..=86_400.0).contains(&s) => Some(s),
                    _ => {
                        return Err(format!(
                            "--seconds wants 0 (no deadline) or 0.001 to 86400, got {value:?}"
                        ));
                    }
                };
                args.seconds_given = true;
            }
            _ => return Err(format!("unknown option {flag:?}")),
        }
    }
    Ok(args)
}

/// What one thread's loop did, counted on that thread only (plain `Cell`s:
/// nothing here is shared between threads).
#[derive(Default)]
struct Stats {
    connections: Cell<u64>,
    bytes: Cell<u64>,
}

/// One connection: read up to 16 KiB, write it all back, until the client
/// closes its side (a read of 0 bytes is end of stream).
async fn echo(mut stream: TcpStream, stats: Rc<Stats>) -> io::Result<()> {
    stream.set_nodelay(true)?; // send small echoes at once (no Nagle delay)
    let mut buf = vec![0; 16 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
        stats.bytes.set(stats.bytes.get() + n as u64);
    }
}

/// Accepts connections forever, one task each (the accept loop never
/// ends by itself; a timeout around it stops it).
async fn accept_loop(listener: &TcpListener, name: &str, stats: &Rc<Stats>) {
    // Failures in a row, and how long to wait before the next try.
    let (mut failures, mut pause) = (0u64, Duration::from_millis(10));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors and the like: wait rather than
                // spin on the same error — longer each time, up to a
                // second — and say so once, not at every try.
                failures += 1;
                if failures == 1 {
                    tell!("  {name}: accept failed: {err} (trying again, less and less often)");
                }
                corio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(1));
                continue;
            }
        };
        if failures > 0 {
            tell!("  {name}: accepting again after {failures} failed tries");
            (failures, pause) = (0, Duration::from_millis(10));
        }
        let count = stats.connections.get() + 1;
        stats.connections.set(count);
        if count <= SHOW_CONNECTIONS {
            say!("  {name}: connection {count} from {peer}");
        } else if count == SHOW_CONNECTIONS + 1 {
            say!("  {name}: more connections (not shown one by one)");
        }
        let stats = Rc::clone(stats);
        let name = name.to_string();
        // Detached: the task runs on its own; the accept loop goes on.
        drop(corio::spawn(async move {
            match echo(stream, stats).await {
                Ok(()) => {}
                Err(err) if err.kind() == io::ErrorKind::ConnectionReset => {}
                Err(err) => tell!("  {name}: connection from {peer}: {err}"),
            }
        }));
    }
}

/// One thread's whole life: its own loop, its own listener on `addr`, the
/// accept loop until `deadline`. Reports the bound address (or the error)
/// on `ready` as soon as it listens.
fn serve_on_this_thread(
    addr: SocketAddr,
    reuse_port: bool,
    deadline: Option<Instant>,
    ready: mpsc::Sender<io::Result<SocketAddr>>,
) -> Rc<Stats> {
    let name = std::thread::current().name().unwrap_or("loop").to_string();
    let stats = Rc::new(Stats::default());
    // `try_run`, not `run`: out of file descriptors, this thread's loop
    // cannot even be created — say so on `ready` instead of panicking.
    let ran = corio::try_run(async {
        // Sockets belong to the loop that creates them: bind in here.
        let options = ListenOptions::new().reuse_port(reuse_port).backlog(1024);
        let listener = match options.bind(addr).await {
            Ok(listener) => listener,
            Err(err) => {
                let _ = ready.send(Err(err));
                return;
            }
        };
        let _ = ready.send(listener.local_addr());
        let serving = async {
            let serving = accept_loop(&listener, &name, &stats);
            match deadline {
                Some(deadline) => {
                    // asyncio.wait_for(serve_forever(), S): the accept loop
                    // is dropped at the deadline.
                    let _ = corio::time::timeout_at(deadline, serving).await;
                }
                None => serving.await,
            }
        };
        // Whichever comes first: the deadline, or Ctrl-C.
        let mut serving = std::pin::pin!(serving);
        match corio::select(serving.as_mut(), corio::signal::ctrl_c()).await {
            Either::Left(()) => {}
            Either::Right(Ok(())) => say!("  {name}: Ctrl-C: stopping"),
            Either::Right(Err(err)) => {
                tell!("  {name}: cannot listen for Ctrl-C ({err}); it will end the process");
                serving.await;
            }
        }
        // Leaving `run` drops the loop, and with it the connection tasks
        // still open: their sockets close.
    });
    if let Err(err) = ran {
        let why = format!("could not create an event loop: {err}");
        let _ = ready.send(Err(io::Error::new(err.kind(), why)));
    }
    stats
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(msg) => {
            if msg.is_empty() {
                say!("{USAGE}");
                return;
            }
            tell!("echo_server: {msg} (see --help)");
            std::process::exit(2);
        }
    };
    let started = Instant::now();
    let deadline = args.seconds.map(|s| started + Duration::from_secs_f64(s));
    let reuse_port = args.threads > 1;

    // Start the threads one at a time: each reports where it listens
    // before the next starts, so with port 0 the first picks the port and
    // the others join it.
    let mut addr = args.addr;
    let mut threads = Vec::new();
    for i in 0..args.threads {
        let (ready_tx, ready_rx) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(format!("loop-{i}"))
            .spawn(move || {
                let stats = serve_on_this_thread(addr, reuse_port, deadline, ready_tx);
                (stats.connections.get(), stats.bytes.get())
            })
            .expect("could not start a thread");
        match ready_rx.recv() {
            Ok(Ok(bound)) => addr = bound,
            Ok(Err(err)) => {
                tell!("echo_server: could not listen on {addr}: {err}");
                if err.kind() == io::ErrorKind::AddrInUse {
                    tell!("  (is another server running? try --addr 127.0.0.1:0)");
                }
                std::process::exit(1);
            }
            Err(_) => {
                tell!("echo_server: thread loop-{i} died before listening");
                std::process::exit(1);
            }
        }
        threads.push(thread);
    }

    if reuse_port {
        say!(
            "echo server listening on {addr}: {} threads, one corio loop each, one listener \
             each (SO_REUSEPORT: the kernel spreads the connections over them)",
            args.threads
        );
    } else {
        say!("echo server listening on {addr}: one thread, one corio loop");
    }
    say!("  try: cargo run --release --example echo_client -- --addr {addr}");
    say!(
        "   or, with netcat: nc {} {}   (type lines; they come back)",
        addr.ip(),
        addr.port()
    );
    match args.seconds {
        Some(s) if !args.seconds_given => say!(
            "  stopping by itself after {s} s (--seconds S to choose, --seconds 0 to keep it \
             running until Ctrl-C)"
        ),
        Some(s) => say!("  stopping after {s} s"),
        None => say!("  running until Ctrl-C"),
    }

    let mut total = (0, 0);
    let mut reports = Vec::new();
    for (i, thread) in threads.into_iter().enumerate() {
        let (connections, bytes) = thread.join().expect("a server thread panicked");
        reports.push(format!(
            "  loop-{i} served {connections} connection{}, echoed {}",
            if connections == 1 { "" } else { "s" },
            human_bytes(bytes)
        ));
        total = (total.0 + connections, total.1 + bytes);
    }
    say!(
        "after {:.1} s the accept loop{} stopped (open connections were closed).",
        started.elapsed().as_secs_f64(),
        if args.threads == 1 { "" } else { "s" }
    );
    for report in reports {
        say!("{report}");
    }
    if args.threads > 1 {
        say!(
            "  all together: {} connection{}, {}",
            total.0,
            if total.0 == 1 { "" } else { "s" },
            human_bytes(total.1)
        );
    }
}

/// `1234567` → `"1.2 MB"`.
fn human_bytes(bytes: u64) -> String {
    match bytes {
        0..1_000 => format!("{bytes} bytes"),
        1_000..1_000_000 => format!("{:.1} kB", bytes as f64 / 1e3),
        _ => format!("{:.1} MB", bytes as f64 / 1e6),
    }
}
