//! Seed 003's UDP chat — "收发socket" — with two tasks instead of two
//! threads.
//!
//! ```python
//! def recv_msg(udp_socket):
//!     while True:
//!         recv_data = udp_socket.recvfrom(1024)
//!         print(recv_data)
//!
//! def send_msg(udp_socket, dest_ip, dest_port):
//!     while True:
//!         send_data = input('要发的数据:')
//!         udp_socket.sendto(send_data.encode('utf-8'), (dest_ip, dest_port))
//!
//! udp_socket.bind(('', 7070))
//! dest_ip = input("请输入对方ip:")
//! dest_port = int(input("请输入对方port:"))
//! threading.Thread(target=recv_msg, args=(udp_socket,)).start()
//! threading.Thread(target=send_msg, args=(udp_socket, dest_ip, dest_port)).start()
//! ```
//!
//! The seed needs two threads because `recvfrom` and `input` both block:
//! a thread stuck in one cannot do the other. Here both are tasks on one
//! loop. `recv_from(..).await` parks its task until a datagram arrives;
//! `corio::io::stdin().next_line().await` parks the other until a line is
//! typed (the terminal read itself happens on the thread pool, so the loop
//! never blocks). The two tasks share the one socket through an `Rc`.
//!
//! UDP has no connection: each `send_to` is one datagram to an address,
//! and a datagram sent before the other side is listening is simply lost.
//!
//! Run it:
//!
//! * `cargo run --release --example udp_chat` — a demo that ends by
//!   itself: two peers, A and B, in one loop, each with a receiving task
//!   and a sending task, trade a few scripted lines;
//! * to chat yourself, two terminals:
//!   `cargo run --release --example udp_chat -- --port 7070 --peer
//!   127.0.0.1:7071` and
//!   `cargo run --release --example udp_chat -- --port 7071 --peer
//!   127.0.0.1:7070`; type lines, end with Ctrl-D. Without `--peer` it asks
//!   like the seed ("请输入对方ip", "请输入对方port").
//!
//! The seed binds to all interfaces (`''`); this example binds to the
//! loopback address when the peer is on this machine, and to all
//! interfaces (`0.0.0.0` / `::`) otherwise.

#[macro_use]
mod common;

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::rc::Rc;
use std::time::{Duration, Instant};

use corio::net::UdpSocket;

const USAGE: &str = "usage: udp_chat                          (a demo that ends by itself)
       udp_chat --port P [--peer IP:PORT]   (chat; end with Ctrl-D)
  --port P         the local UDP port (default 7070, as in the seed)
  --peer IP:PORT   where to send lines (asked for if missing)";

/// Room for any datagram. (The seed's `recvfrom(1024)` cuts longer
/// datagrams short, silently: the rest of it is lost.)
const MAX_DATAGRAM: usize = 65_507;

// ----- the interactive chat ----------------------------------------------------

/// The seed's `recv_msg`: print each datagram and who sent it, forever.
async fn recv_msg(socket: Rc<UdpSocket>) {
    let mut buf = vec![0; MAX_DATAGRAM];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((n, from)) => {
                let text = String::from_utf8_lossy(&buf[..n]);
                say!("\n收到 (received) from {from}: {text}");
                prompt("要发的数据 (message to send): ");
            }
            Err(err) => tell!("\nrecvfrom failed: {err}"),
        }
    }
}

/// The seed's `send_msg`: send each line typed to `peer`, until the end of
/// input (Ctrl-D).
async fn send_msg(socket: &UdpSocket, peer: SocketAddr) -> io::Result<()> {
    // No line longer than a datagram can be: input with no newline (a
    // binary file piped in) must not grow without bound.
    let mut input = corio::io::stdin().max_line_length(MAX_DATAGRAM + 1);
    loop {
        prompt("要发的数据 (message to send): ");
        let line = match input.next_line().await {
            Ok(Some(line)) => line,
            Ok(None) => {
                say!("\n(end of input: bye)");
                return Ok(());
            }
            // A line too long, or not UTF-8: skipped, and the chat goes on.
            Err(err) if err.kind() == io::ErrorKind::InvalidData => {
                tell!("\n(not sent: stdin: {err})");
                continue;
            }
            Err(err) => return Err(err),
        };
        if line.is_empty() {
            continue;
        }
        // One line that cannot go (longer than a datagram can be, say) is
        // reported; the chat goes on.
        if let Err(err) = socket.send_to(line.as_bytes(), peer).await {
            tell!("\n(not sent: {err})");
        }
    }
}

/// Prints `text` without a newline and shows it at once (like `input`'s
/// prompt: `say_part!` flushes).
fn prompt(text: &str) {
    say_part!("{text}");
}

/// Asks for one line, like the seed's `input(question)`; `None` at the end
/// of input.
async fn ask(input: &mut corio::io::Stdin, question: &str) -> io::Result<Option<String>> {
    prompt(question);
    match input.next_line().await {
        Ok(line) => Ok(line.map(|line| line.trim().to_string())),
        // Too long or not UTF-8: no answer, so the question comes again.
        Err(err) if err.kind() == io::ErrorKind::InvalidData => Ok(Some(String::new())),
        Err(err) => Err(err),
    }
}

/// The seed's `dest_ip = input(..)` and `dest_port = int(input(..))`,
/// asked again until they make sense.
async fn ask_peer() -> io::Result<Option<SocketAddr>> {
    let mut input = corio::io::stdin().max_line_length(1024);
    let ip = loop {
        let Some(answer) = ask(&mut input, "请输入对方ip (peer ip, e.g. 127.0.0.1): ").await?
        else {
            return Ok(None);
        };
        match answer.parse::<IpAddr>() {
            Ok(ip) => break ip,
            Err(_) => say!("  not an IP address: {answer:?}"),
        }
    };
    let port = loop {
        let Some(answer) = ask(&mut input, "请输入对方port (peer port, e.g. 7071): ").await?
        else {
            return Ok(None);
        };
        match answer.parse::<u16>() {
            Ok(port) if port > 0 => break port,
            _ => say!("  not a port (1 to 65535): {answer:?}"),
        }
    };
    Ok(Some(SocketAddr::new(ip, port)))
}

/// The seed's `main`: bind, learn the peer, then the two tasks.
async fn chat(port: u16, peer: Option<SocketAddr>) -> io::Result<()> {
    let peer = match peer {
        Some(peer) => peer,
        None => match ask_peer().await? {
            Some(peer) => peer,
            None => {
                say!("\n(end of input: bye)");
                return Ok(());
            }
        },
    };
    let local_ip = match peer.ip() {
        IpAddr::V4(ip) if ip.is_loopback() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_loopback() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
    };
    let socket = match UdpSocket::bind((local_ip, port)).await {
        Ok(socket) => Rc::new(socket),
        Err(err) => {
            let hint = if err.kind() == io::ErrorKind::AddrInUse {
                " (another chat uses it? give each its own --port)"
            } else {
                ""
            };
            return Err(io::Error::new(
                err.kind(),
                format!("cannot bind {local_ip}:{port}: {err}{hint}"),
            ));
        }
    };
    say!(
        "chatting on {} with {peer}; type lines, Ctrl-D to end",
        socket.local_addr()?
    );

    // t_recv.start(): the receiving task runs on its own...
    let receiver = corio::spawn(recv_msg(Rc::clone(&socket)));
    // ...and this task is the sending one (t_send), until Ctrl-D.
    let sent = send_msg(&socket, peer).await;
    receiver.cancel(); // the seed's threads never end; tasks can be cancelled
    sent
}

// ----- the demo ----------------------------------------------------------------

/// The two peers of the demo.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Peer {
    A,
    B,
}

/// The demo's conversation: who types what, and when (ms from the start) —
/// the lines a user would type at the seed's prompt "要发的数据".
const SCRIPT: [(Peer, u64, &str); 6] = [
    (Peer::A, 0, "你好! (hello!)"),
    (Peer::B, 150, "你好, A. 我在 (hi A, I'm here)"),
    (Peer::A, 300, "UDP 没有连接 (no connection, just datagrams)"),
    (
        Peer::B,
        450,
        "每个数据报完整到达 (each datagram arrives whole)",
    ),
    (Peer::A, 600, "再见 (bye)"),
    (Peer::B, 750, "再见! (bye!)"),
];

/// Seconds since `start`, for the log lines.
fn at(start: Instant) -> String {
    format!("[{:.2} s]", start.elapsed().as_secs_f64())
}

/// A peer's sending task: its lines of the script, each at its time.
async fn demo_sender(
    me: Peer,
    socket: Rc<UdpSocket>,
    to: SocketAddr,
    start: Instant,
) -> io::Result<()> {
    for (who, ms, text) in SCRIPT {
        if who != me {
            continue;
        }
        corio::time::sleep_until(start + Duration::from_millis(ms)).await;
        // send_data = input('要发的数据:') — here, from the script.
        say!("{} {me:?} sendto   {to}: {text}", at(start));
        socket.send_to(text.as_bytes(), to).await?;
    }
    Ok(())
}

/// A peer's receiving task: as many datagrams as the other peer sends
/// (giving up after a second of silence — UDP may drop datagrams, though
/// not on loopback in practice).
async fn demo_receiver(me: Peer, socket: Rc<UdpSocket>, start: Instant) -> io::Result<()> {
    let expected = SCRIPT.iter().filter(|(who, ..)| *who != me).count();
    let mut buf = vec![0; MAX_DATAGRAM];
    for _ in 0..expected {
        let received = corio::time::timeout(Duration::from_secs(1), socket.recv_from(&mut buf));
        let Ok(result) = received.await else {
            say!("{} {me:?} (nothing more arrived)", at(start));
            break;
        };
        let (n, from) = result?;
        let text = String::from_utf8_lossy(&buf[..n]);
        say!("{}   {me:?} recvfrom {from}: {text}", at(start));
    }
    Ok(())
}

/// Two peers in one loop, each a receiving task plus a sending task: four
/// tasks where the seed would need four threads.
async fn demo() -> io::Result<()> {
    let a = Rc::new(UdpSocket::bind("127.0.0.1:0").await?);
    let b = Rc::new(UdpSocket::bind("127.0.0.1:0").await?);
    let (a_addr, b_addr) = (a.local_addr()?, b.local_addr()?);
    say!("A is {a_addr}, B is {b_addr}; four tasks on one thread:\n");

    let start = Instant::now();
    let tasks = [
        corio::spawn(demo_receiver(Peer::A, Rc::clone(&a), start)),
        corio::spawn(demo_receiver(Peer::B, Rc::clone(&b), start)),
        corio::spawn(demo_sender(Peer::A, a, b_addr, start)),
        corio::spawn(demo_sender(Peer::B, b, a_addr, start)),
    ];
    for outcome in corio::gather(tasks).await {
        outcome.map_err(io::Error::other)??;
    }
    say!(
        "\ndone in {:.2} s. To chat yourself, in two terminals (end with Ctrl-D):",
        start.elapsed().as_secs_f64()
    );
    say!("  cargo run --release --example udp_chat -- --port 7070 --peer 127.0.0.1:7071");
    say!("  cargo run --release --example udp_chat -- --port 7071 --peer 127.0.0.1:7070");
    Ok(())
}

// ----- main ----------------------------------------------------------------------

/// `None`: no arguments, run the demo. `Some((port, peer))`: chat.
fn parse_args() -> Result<Option<(u16, Option<SocketAddr>)>, String> {
    let mut argv = std::env::args().skip(1).peekable();
    if argv.peek().is_none() {
        return Ok(None);
    }
    let (mut port, mut peer) = (7070, None);
    while let Some(flag) = argv.next() {
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        if !["--port", "--peer"].contains(&flag.as_str()) {
            return Err(format!("unknown option {flag:?}"));
        }
        let value = argv.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--port" => {
                port = value
                    .parse()
                    .map_err(|_| format!("--port wants 0 to 65535, got {value:?}"))?;
            }
            "--peer" => {
                let addr: SocketAddr = value
                    .parse()
                    .map_err(|_| format!("--peer wants IP:PORT, got {value:?}"))?;
                if addr.port() == 0 {
                    return Err(format!("--peer wants a port other than 0, got {value:?}"));
                }
                peer = Some(addr);
            }
            _ => return Err(format!("unknown option {flag:?}")),
        }
    }
    Ok(Some((port, peer)))
}

fn main() {
    let result = match parse_args() {
        Ok(None) => corio::run(demo()),
        Ok(Some((port, peer))) => corio::run(chat(port, peer)),
        Err(msg) if msg.is_empty() => {
            say!("{USAGE}");
            return;
        }
        Err(msg) => {
            tell!("udp_chat: {msg} (see --help)");
            std::process::exit(2);
        }
    };
    if let Err(err) = result {
        tell!("udp_chat: {err}");
        std::process::exit(1);
    }
}
