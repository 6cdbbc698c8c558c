//! Nonblocking TCP and UDP sockets, driven by the loop's reactor.
//!
//! A socket here is a nonblocking OS socket registered with the running
//! loop's `mio::Poll`. Its methods are `async`: a read that finds no data
//! parks the task, the loop waits in `epoll` for this and every other
//! socket at once, and the readiness event wakes the task — the coroutine
//! form of the seeds' one-thread-per-download and `select` programs.
//!
//! * [`TcpListener`] — `bind`, `accept`, [`incoming`](TcpListener::incoming);
//!   socket options before binding through [`ListenOptions`].
//! * [`TcpStream`] — `connect`, `read`/`write` and friends, `shutdown`,
//!   [`into_split`](TcpStream::into_split) for two tasks; `futures_io`'s
//!   `AsyncRead`/`AsyncWrite`.
//! * [`UdpSocket`] — `send_to`/`recv_from`, or `connect` then `send`/`recv`.
//!
//! Host names are resolved on the thread pool ([`spawn_blocking`]), never
//! on the loop; socket addresses given as such (`"127.0.0.1:80"`,
//! `SocketAddr`) need no resolution at all. Sockets belong to the loop they
//! were created on (they are `!Send`); creating one outside a running loop
//! panics with "no running event loop".
//!
//! **Cancel safety.** Dropping an unfinished `read`, `write`, `recv`,
//! `send`, `recv_from`, `send_to` or `accept` future loses nothing: each
//! completes at most one system call, and only when it returns. Dropping a
//! `read_exact` or `write_all` future part-way loses the progress it made
//! (bytes read into your buffer, or written to the peer); a `read_to_end`
//! dropped part-way leaves the bytes it read in your `Vec` (only their
//! count is lost).
//! Dropping a `connect` closes the half-open socket.
//!
//! **Fairness.** A task's poll attempts at most 128 socket operations;
//! the next one yields instead (the task runs again at once, after the
//! others). So a peer that always has bytes ready cannot keep a reader's
//! `timeout`, the timers or the other tasks waiting. (This counts the
//! operations polled with the task's own waker — directly or through
//! `timeout`, `select` and the like. Futures that `gather` or `wait` poll
//! themselves, a generator or a foreign executor poll with wakers of
//! their own and are not limited; spawn a reader as a task to have it
//! limited.)
//!
//! [`spawn_blocking`]: crate::spawn_blocking
//!
//! # Examples
//!
//! ```
//! use corio::net::{TcpListener, TcpStream};
//!
//! corio::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     let server = corio::spawn(async move {
//!         let (mut conn, _) = listener.accept().await?;
//!         let mut buf = [0; 5];
//!         conn.read_exact(&mut buf).await?;
//!         conn.write_all(&buf).await // echo
//!     });
//!     let mut client = TcpStream::connect(addr).await?;
//!     client.write_all(b"hello").await?;
//!     let mut echoed = [0; 5];
//!     client.read_exact(&mut echoed).await?;
//!     assert_eq!(&echoed, b"hello");
//!     server.await.unwrap()
//! })
//! .unwrap();
//! ```

pub(crate) mod io_source;
mod tcp;
mod udp;

pub use tcp::{
    Incoming, ListenOptions, OwnedReadHalf, OwnedWriteHalf, ReuniteError, TcpListener, TcpStream,
};
pub use udp::UdpSocket;

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};

/// Things that name socket addresses: `SocketAddr`s, `(ip, port)`, and
/// `"host:port"` strings (resolved on the thread pool when they are not
/// literal addresses). The async twin of `std::net::ToSocketAddrs`.
///
/// # Examples
///
/// ```
/// use std::net::{Ipv4Addr, SocketAddr};
///
/// corio::run(async {
///     // All of these name the same kind of address:
///     let a = corio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
///     let b = corio::net::UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).await.unwrap();
///     let c = corio::net::UdpSocket::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await.unwrap();
///     let d = corio::net::UdpSocket::bind(("localhost", 0)).await.unwrap(); // resolved
///     for socket in [a, b, c, d] {
///         assert!(socket.local_addr().unwrap().ip().is_loopback());
///     }
/// });
/// ```
pub trait ToSocketAddrs: sealed::Sealed {
    #[doc(hidden)]
    fn to_spec(&self) -> AddrSpec;
}

mod sealed {
    pub trait Sealed {}
}

/// What a [`ToSocketAddrs`] turned into: addresses, or a name to look up.
#[doc(hidden)]
#[derive(Debug)]
pub enum AddrSpec {
    Ready(Vec<SocketAddr>),
    Lookup(String),
}

macro_rules! literal_addrs {
    ($($t:ty => |$v:ident| $e:expr),* $(,)?) => {$(
        impl sealed::Sealed for $t {}
        impl ToSocketAddrs for $t {
            fn to_spec(&self) -> AddrSpec {
                let $v = self;
                AddrSpec::Ready(vec![$e])
            }
        }
    )*};
}

literal_addrs! {
    SocketAddr => |a| *a,
    SocketAddrV4 => |a| SocketAddr::V4(*a),
    SocketAddrV6 => |a| SocketAddr::V6(*a),
    (IpAddr, u16) => |a| SocketAddr::new(a.0, a.1),
    (Ipv4Addr, u16) => |a| SocketAddr::new(IpAddr::V4(a.0), a.1),
    (Ipv6Addr, u16) => |a| SocketAddr::new(IpAddr::V6(a.0), a.1),
    ([u8; 4], u16) => |a| SocketAddr::from(*a),
}

impl sealed::Sealed for str {}
impl ToSocketAddrs for str {
    fn to_spec(&self) -> AddrSpec {
        match self.parse::<SocketAddr>() {
            Ok(addr) => AddrSpec::Ready(vec![addr]),
            Err(_) => AddrSpec::Lookup(self.to_string()),
        }
    }
}

impl sealed::Sealed for String {}
impl ToSocketAddrs for String {
    fn to_spec(&self) -> AddrSpec {
        self.as_str().to_spec()
    }
}

impl sealed::Sealed for (&str, u16) {}
impl ToSocketAddrs for (&str, u16) {
    fn to_spec(&self) -> AddrSpec {
        let (host, port) = *self;
        match host.parse::<IpAddr>() {
            Ok(ip) => AddrSpec::Ready(vec![SocketAddr::new(ip, port)]),
            Err(_) => AddrSpec::Lookup(format!("{host}:{port}")),
        }
    }
}

impl sealed::Sealed for (String, u16) {}
impl ToSocketAddrs for (String, u16) {
    fn to_spec(&self) -> AddrSpec {
        (self.0.as_str(), self.1).to_spec()
    }
}

impl sealed::Sealed for [SocketAddr] {}
impl ToSocketAddrs for [SocketAddr] {
    fn to_spec(&self) -> AddrSpec {
        AddrSpec::Ready(self.to_vec())
    }
}

impl<T: ToSocketAddrs + ?Sized> sealed::Sealed for &T {}
impl<T: ToSocketAddrs + ?Sized> ToSocketAddrs for &T {
    fn to_spec(&self) -> AddrSpec {
        (**self).to_spec()
    }
}

/// The addresses `addr` names, looked up on the thread pool if needed.
pub(crate) async fn resolve(addr: &(impl ToSocketAddrs + ?Sized)) -> io::Result<Vec<SocketAddr>> {
    let addrs = match addr.to_spec() {
        AddrSpec::Ready(addrs) => addrs,
        AddrSpec::Lookup(name) => {
            let lookup = crate::spawn_blocking(move || {
                std::net::ToSocketAddrs::to_socket_addrs(&name)
                    .map(|addrs| addrs.collect::<Vec<_>>())
                    // std's message ("failed to lookup address
                    // information: ...") does not say which name.
                    .map_err(|err| io::Error::new(err.kind(), LookupError { name, err }))
            });
            match lookup.await {
                Ok(result) => result?,
                Err(err) => return Err(io::Error::other(err)),
            }
        }
    };
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "the address resolved to no socket address",
        ));
    }
    Ok(addrs)
}

/// A failed name lookup: the name, and std's error as the source.
#[derive(Debug)]
struct LookupError {
    name: String,
    err: io::Error,
}

impl std::fmt::Display for LookupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.name, self.err)
    }
}

impl std::error::Error for LookupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.err)
    }
}

/// Tries `f` on each address in turn; the first success, or the last
/// error.
pub(crate) async fn each_addr<T, F, Fut>(
    addr: &(impl ToSocketAddrs + ?Sized),
    mut f: F,
) -> io::Result<T>
where
    F: FnMut(SocketAddr) -> Fut,
    Fut: std::future::Future<Output = io::Result<T>>,
{
    let mut last = None;
    for addr in resolve(addr).await? {
        match f(addr).await {
            Ok(value) => return Ok(value),
            Err(err) => last = Some(err),
        }
    }
    Err(last.unwrap_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no address")))
}
