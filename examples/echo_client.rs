//! An echo client: `C` connections, each sending `M` messages of `SIZE`
//! bytes and waiting for each to come back — the client half of the
//! seeds' socket lessons, with one task per connection where seed 003
//! would start one thread each.
//!
//! ```python
//! # the asyncio twin of one connection
//! async def client(msg, m):
//!     reader, writer = await asyncio.open_connection("127.0.0.1", 7000)
//!     for _ in range(m):
//!         writer.write(msg)
//!         assert await reader.readexactly(len(msg)) == msg
//!     writer.close()
//!
//! await asyncio.gather(*(client(msg, 1000) for _ in range(64)))
//! ```
//!
//! All `C` tasks run on one loop, on this one thread: while one waits for
//! its echo, the loop runs the others. Every echoed byte is checked.
//!
//! Without `--addr` the example brings its own server: a second OS thread
//! runs its own corio loop with an echo server on a free port (port 0),
//! and sends the port back over a `std::sync::mpsc` channel. At the end the
//! client stops that loop from this thread with its `LoopHandle`.
//!
//! Run it:
//!
//! * `cargo run --release --example echo_client` — with its own server;
//! * `cargo run --release --example echo_client -- --addr 127.0.0.1:7000` —
//!   against a running `echo_server` (start it with `cargo run --release
//!   --example echo_server -- --threads 2` in another terminal);
//! * options: `--connections C` (default 64), `--messages M` (default
//!   1000), `--size SIZE` in bytes (default 64).

#[macro_use]
mod common;

use std::cell::Cell;
use std::io;
use std::net::{Shutdown, SocketAddr};
use std::rc::Rc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use corio::net::{TcpListener, TcpStream};
use corio::{EventLoop, LoopHandle};

/// How long a client waits for one echo before it gives up.
const ECHO_WAIT: Duration = Duration::from_secs(5);

const USAGE: &str =
    "usage: echo_client [--addr IP:PORT] [--connections C] [--messages M] [--size SIZE]
  --addr IP:PORT     an echo server to use (default: start one on a thread of its own)
  --connections C    connections, one task each (default 64)
  --messages M       round trips per connection (default 1000)
  --size SIZE        bytes per message (default 64)";

/// The command line.
struct Args {
    addr: Option<SocketAddr>,
    connections: usize,
    messages: usize,
    size: usize,
}

/// Reads the options by hand from `std::env::args`.
fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        addr: None,
        connections: 64,
        messages: 1000,
        size: 64,
    };
    let mut argv = std::env::args().skip(1);
    while let Some(flag) = argv.next() {
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        if !["--addr", "--connections", "--messages", "--size"].contains(&flag.as_str()) {
            return Err(format!("unknown option {flag:?}"));
        }
        let value = argv.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = |max: usize| match value.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => Ok(n),
            _ => Err(format!("{flag} wants 1 to {max}, got {value:?}")),
        };
        match flag.as_str() {
            "--addr" => {
                let addr: SocketAddr = value
                    .parse()
                    .map_err(|_| format!("--addr wants IP:PORT, got {value:?}"))?;
                if addr.port() == 0 {
                    return Err(format!("--addr wants a server's port, not 0: {value:?}"));
                }
                args.addr = Some(addr);
            }
            "--connections" => args.connections = number(10_000)?,
            "--messages" => args.messages = number(100_000_000)?,
            "--size" => args.size = number(16 * 1024 * 1024)?,
            _ => return Err(format!("unknown option {flag:?}")),
        }
    }
    // Each connection holds its message twice (sent, and echoed back).
    let memory = 2 * args.connections * args.size;
    if memory > MAX_MEMORY {
        return Err(format!(
            "--connections × --size would hold {} MB of messages (each connection keeps its \
             message twice); at most {} MB",
            memory / 1_000_000,
            MAX_MEMORY / 1_000_000
        ));
    }
    Ok(args)
}

/// The most message memory the options may ask for.
const MAX_MEMORY: usize = 1 << 30;

/// The bytes of message `i` on connection `conn`: a pattern that differs
/// from one message to the next, so a lost, repeated or reordered echo
/// shows.
fn fill_message(buf: &mut [u8], conn: usize, i: usize) {
    for (j, byte) in buf.iter_mut().enumerate() {
        *byte = (conn.wrapping_mul(31) ^ i.wrapping_mul(7)).wrapping_add(j) as u8;
    }
}

/// The most a client writes before it reads the echo back.
const PIECE: usize = 64 * 1024;

/// One connection, as one task: `messages` round trips of `size` bytes,
/// each echo checked. Returns the round trips made.
///
/// Each echo must come within `ECHO_WAIT`.
async fn client(addr: SocketAddr, conn: usize, messages: usize, size: usize) -> io::Result<usize> {
    // A server whose backlog is full never answers the handshake: the
    // kernel would retry for two minutes.
    let mut stream = match corio::time::timeout(ECHO_WAIT, TcpStream::connect(addr)).await {
        Ok(connected) => connected?,
        Err(_) => {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!(
                    "connecting to {addr}: no answer within {} s",
                    ECHO_WAIT.as_secs()
                ),
            ));
        }
    };
    stream.set_nodelay(true)?; // small messages go out at once
    let mut message = vec![0; size];
    let mut echoed = vec![0; size];
    for i in 0..messages {
        fill_message(&mut message, conn, i);
        // A large message goes in pieces, each read back before the next
        // is written: writing 16 MiB before reading anything would stall
        // once the echo had filled the socket buffers both ways.
        for (piece, back) in message.chunks(PIECE).zip(echoed.chunks_mut(PIECE)) {
            let round_trip = async {
                stream.write_all(piece).await?;
                stream.read_exact(back).await
            };
            // A server that is not an echo server may answer nothing at all
            // (or stop reading).
            match corio::time::timeout(ECHO_WAIT, round_trip).await {
                Ok(done) => done?,
                Err(_) => {
                    return Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        format!(
                            "message {i}: no echo within {} s — is {addr} an echo server?",
                            ECHO_WAIT.as_secs()
                        ),
                    ));
                }
            }
        }
        if echoed != message {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("message {i}: the echo differs from what was sent"),
            ));
        }
    }
    // Say "no more" (the server reads end of stream and closes); then
    // nothing more may arrive.
    stream.shutdown(Shutdown::Write)?;
    if stream.read(&mut echoed).await? != 0 {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            "bytes arrived after the last echo",
        ));
    }
    Ok(messages)
}

/// The server's side of one connection: echo until end of stream.
async fn echo(mut stream: TcpStream) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut buf = vec![0; 16 * 1024];
    loop {
        let n = stream.read(&mut buf).await?;
        if n == 0 {
            return Ok(());
        }
        stream.write_all(&buf[..n]).await?;
    }
}

/// Starts an echo server on a new thread with its own loop, listening on a
/// free port of 127.0.0.1. Gives back its address, a handle to stop its
/// loop, and the thread (which returns how many connections it served).
fn start_server_thread() -> io::Result<(SocketAddr, LoopHandle, JoinHandle<u64>)> {
    let (ready_tx, ready_rx) = mpsc::channel::<io::Result<(SocketAddr, LoopHandle)>>();
    let thread = std::thread::Builder::new()
        .name("echo-server".into())
        .spawn(move || {
            let served = Rc::new(Cell::new(0));
            let mut event_loop = match EventLoop::new() {
                Ok(event_loop) => event_loop,
                Err(err) => {
                    let _ = ready_tx.send(Err(err));
                    return 0;
                }
            };
            let handle = event_loop.handle();
            let count = Rc::clone(&served);
            let server = event_loop.spawn(async move {
                // The listener is created on this thread's loop.
                let listener = match TcpListener::bind("127.0.0.1:0").await {
                    Ok(listener) => listener,
                    Err(err) => {
                        let _ = ready_tx.send(Err(err));
                        return;
                    }
                };
                let _ = ready_tx.send(listener.local_addr().map(|addr| (addr, handle)));
                loop {
                    match listener.accept().await {
                        Ok((stream, _peer)) => {
                            count.set(count.get() + 1);
                            drop(corio::spawn(async move {
                                if let Err(err) = echo(stream).await {
                                    tell!("  echo-server: {err}");
                                }
                            }));
                        }
                        Err(err) => {
                            tell!("  echo-server: accept failed: {err}");
                            corio::time::sleep(Duration::from_millis(10)).await;
                        }
                    }
                }
            });
            // loop.run_forever(): until the client thread calls stop().
            event_loop.run_forever();
            // Stop accepting, and let the loop drop the accept loop before
            // the loop itself goes (debug mode would report it pending).
            server.cancel();
            event_loop.run_once();
            served.get()
        })?;
    match ready_rx.recv() {
        Ok(Ok((addr, handle))) => Ok((addr, handle, thread)),
        Ok(Err(err)) => Err(err),
        Err(_) => Err(io::Error::other("the server thread died before listening")),
    }
}

/// `1234567` → `"1,234,567"`.
fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(msg) if msg.is_empty() => {
            say!("{USAGE}");
            return;
        }
        Err(msg) => {
            tell!("echo_client: {msg} (see --help)");
            std::process::exit(2);
        }
    };

    let (addr, own_server) = match args.addr {
        Some(addr) => (addr, None),
        None => match start_server_thread() {
            Ok((addr, handle, thread)) => {
                say!(
                    "no --addr: started an echo server on {addr}, on a thread of its own (its \
                     own corio loop)"
                );
                (addr, Some((handle, thread)))
            }
            Err(err) => {
                tell!("echo_client: could not start the echo server: {err}");
                std::process::exit(1);
            }
        },
    };

    let (connections, messages, size) = (args.connections, args.messages, args.size);
    say!(
        "{connections} connection{} × {} round trip{} × {size} bytes, one task per connection, \
         all on this thread's loop",
        if connections == 1 { "" } else { "s" },
        thousands(messages as u64),
        if messages == 1 { "" } else { "s" },
    );
    let start = Instant::now();
    let results = corio::run(async {
        let tasks: Vec<_> = (0..connections)
            .map(|conn| corio::spawn(client(addr, conn, messages, size)))
            .collect();
        corio::gather(tasks).await // asyncio.gather: all of them, in order
    });
    let elapsed = start.elapsed();

    let mut round_trips = 0;
    let mut failed = 0;
    let mut refused = 0;
    for (conn, result) in results.into_iter().enumerate() {
        match result {
            Ok(Ok(n)) => round_trips += n as u64,
            Ok(Err(err)) => {
                failed += 1;
                if err.kind() == io::ErrorKind::ConnectionRefused {
                    refused += 1;
                }
                if failed <= 3 {
                    tell!("  connection {conn}: {err}");
                }
            }
            Err(err) => {
                failed += 1;
                tell!("  connection {conn}: the task failed: {err}");
            }
        }
    }
    let secs = elapsed.as_secs_f64();
    if round_trips > 0 {
        say!(
            "  {} round trip{} in {secs:.2} s: {} round trips/s ({:.1} MB/s each way), every \
             echo checked",
            thousands(round_trips),
            if round_trips == 1 { "" } else { "s" },
            thousands((round_trips as f64 / secs) as u64),
            (round_trips * size as u64) as f64 / secs / 1e6
        );
    }
    if failed == connections && refused == connections {
        say!(
            "  {} refused (see above). Is an echo server running on {addr}? Start one with: \
             cargo run --release --example echo_server -- --addr {addr}",
            if connections == 1 {
                "the connection was"
            } else {
                "every connection was"
            }
        );
    } else if failed == connections {
        say!(
            "  {} failed (see above)",
            if connections == 1 {
                "the connection"
            } else {
                "every connection"
            }
        );
    } else if failed > 0 {
        say!("  {failed} of {connections} connections failed (see above)");
    }

    if let Some((handle, thread)) = own_server {
        // LoopHandle::stop wakes the server's loop from this thread and
        // makes its run_forever() return.
        handle.stop();
        let served = thread.join().expect("the server thread panicked");
        say!(
            "  the server thread served {served} connection{}, then its loop stopped",
            if served == 1 { "" } else { "s" }
        );
    }
    if failed > 0 {
        std::process::exit(1);
    }
}
