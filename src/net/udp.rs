//! UDP sockets.

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::net::SocketAddr;

use mio::Interest;
use socket2::{Domain, Protocol, Socket, Type};

use super::io_source::IoSource;
use super::{ToSocketAddrs, each_addr, resolve};
use crate::reactor::Direction;

/// A UDP socket: datagrams to and from any address (`send_to` /
/// `recv_from`), or to and from one peer after [`connect`](Self::connect)
/// (`send` / `recv`).
///
/// A datagram larger than the buffer given to `recv` or `recv_from` is
/// **truncated silently** by the operating system: the call returns
/// `buf.len()` bytes and the rest of that datagram is gone (an empty
/// buffer receives a whole datagram as 0 bytes). Use a buffer as
/// large as the largest datagram you expect (65,507 bytes covers any UDP
/// datagram over IPv4).
///
/// # Examples
///
/// ```
/// use corio::net::UdpSocket;
///
/// corio::run(async {
///     let a = UdpSocket::bind("127.0.0.1:0").await?;
///     let b = UdpSocket::bind("127.0.0.1:0").await?;
///     a.send_to(b"ping", b.local_addr()?).await?;
///     let mut buf = [0; 64];
///     let (n, from) = b.recv_from(&mut buf).await?;
///     assert_eq!((&buf[..n], from), (&b"ping"[..], a.local_addr()?));
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub struct UdpSocket {
    io: IoSource<mio::net::UdpSocket>,
}

impl UdpSocket {
    /// Binds to `addr` (the first address that works).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let socket = corio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     assert!(socket.local_addr().unwrap().port() > 0);
    /// });
    /// ```
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<UdpSocket> {
        each_addr(&addr, |addr| async move {
            let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
            socket.set_nonblocking(true)?;
            socket.bind(&addr.into())?;
            UdpSocket::from_std(socket.into())
        })
        .await
    }

    /// Registers a bound std socket with the running loop; it is made
    /// nonblocking.
    ///
    /// # Panics
    ///
    /// Outside a running loop.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let std_socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    ///     let addr = std_socket.local_addr().unwrap();
    ///     let socket = corio::net::UdpSocket::from_std(std_socket).unwrap();
    ///     assert_eq!(socket.local_addr().unwrap(), addr);
    /// });
    /// ```
    pub fn from_std(socket: std::net::UdpSocket) -> io::Result<UdpSocket> {
        socket.set_nonblocking(true)?;
        let io = IoSource::new(
            mio::net::UdpSocket::from_std(socket),
            Interest::READABLE | Interest::WRITABLE,
        )?;
        Ok(UdpSocket { io })
    }

    /// Deregisters it and gives back the std socket (still nonblocking).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let socket = corio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let local = socket.local_addr().unwrap();
    ///     let std_socket = socket.into_std().unwrap();
    ///     assert_eq!(std_socket.local_addr().unwrap(), local); // the same socket
    ///     std_socket.set_nonblocking(false).unwrap();
    /// });
    /// ```
    pub fn into_std(self) -> io::Result<std::net::UdpSocket> {
        Ok(self.io.into_inner().into())
    }

    /// Sends one datagram to `target`; returns the bytes sent. Cancel safe.
    /// A name that resolves to several addresses is sent to the first of
    /// the socket's own family (IPv4 or IPv6) — `localhost` may give `::1`
    /// first — else to the first one.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let socket = corio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let n = socket.send_to(b"hello", socket.local_addr().unwrap()).await.unwrap();
    ///     assert_eq!(n, 5);
    /// });
    /// ```
    pub async fn send_to(&self, buf: &[u8], target: impl ToSocketAddrs) -> io::Result<usize> {
        let addrs = resolve(&target).await?;
        let ipv6 = self.local_addr().map(|local| local.is_ipv6());
        let same_family = addrs
            .iter()
            .find(|addr| ipv6.as_ref().is_ok_and(|&ipv6| addr.is_ipv6() == ipv6));
        let Some(&addr) = same_family.or(addrs.first()) else {
            unreachable!("corio: resolve gives at least one address")
        };
        let mut waiting = self.io.waiting(Direction::Write);
        poll_fn(|cx| waiting.poll_io(cx, |s| s.send_to(buf, addr))).await
    }

    /// Receives one datagram; returns its length and sender. Cancel safe.
    /// A datagram longer than `buf` is truncated (see the type's docs).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let socket = corio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     socket.send_to(b"to myself", socket.local_addr().unwrap()).await.unwrap();
    ///     let mut buf = [0; 32];
    ///     let (n, _from) = socket.recv_from(&mut buf).await.unwrap();
    ///     assert_eq!(&buf[..n], b"to myself");
    /// });
    /// ```
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        let mut waiting = self.io.waiting(Direction::Read);
        poll_fn(|cx| waiting.poll_io(cx, |s| s.recv_from(&mut *buf))).await
    }

    /// Sets the one peer that `send` sends to and `recv` receives from
    /// (datagrams from others that arrive afterwards are dropped by the
    /// OS; ones already queued may still be received).
    ///
    /// A connected socket also hears of the peer's absence: after a `send`
    /// to a port where nothing listens, the OS's ICMP "port unreachable"
    /// makes the next `recv`, `recv_from` or `send` fail with
    /// `ConnectionRefused` (once; the socket then goes on). An unconnected
    /// socket is not told.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let a = corio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     let b = corio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     a.connect(b.local_addr().unwrap()).await.unwrap();
    ///     assert_eq!(a.peer_addr().unwrap(), b.local_addr().unwrap());
    /// });
    /// ```
    pub async fn connect(&self, addr: impl ToSocketAddrs) -> io::Result<()> {
        each_addr(&addr, |addr| async move { self.io.get_ref().connect(addr) }).await
    }

    /// Sends one datagram to the connected peer. Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let a = corio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     a.connect(a.local_addr().unwrap()).await.unwrap();
    ///     assert_eq!(a.send(b"me").await.unwrap(), 2);
    /// });
    /// ```
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        let mut waiting = self.io.waiting(Direction::Write);
        poll_fn(|cx| waiting.poll_io(cx, |s| s.send(buf))).await
    }

    /// Receives one datagram from the connected peer. Cancel safe. A
    /// datagram longer than `buf` is truncated (see the type's docs).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let a = corio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     a.connect(a.local_addr().unwrap()).await.unwrap();
    ///     a.send(b"echo").await.unwrap();
    ///     let mut buf = [0; 8];
    ///     let n = a.recv(&mut buf).await.unwrap();
    ///     assert_eq!(&buf[..n], b"echo");
    /// });
    /// ```
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        let mut waiting = self.io.waiting(Direction::Read);
        poll_fn(|cx| waiting.poll_io(cx, |s| s.recv(&mut *buf))).await
    }

    /// Allows sending to broadcast addresses (`SO_BROADCAST`).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let socket = corio::net::UdpSocket::bind("0.0.0.0:0").await.unwrap();
    ///     socket.set_broadcast(true).unwrap();
    ///     assert!(socket.broadcast().unwrap());
    /// });
    /// ```
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.io.get_ref().set_broadcast(on)
    }

    /// Is `SO_BROADCAST` set?
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let socket = corio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     assert!(!socket.broadcast().unwrap());
    /// });
    /// ```
    pub fn broadcast(&self) -> io::Result<bool> {
        self.io.get_ref().broadcast()
    }

    /// The local address.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let socket = corio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     assert!(socket.local_addr().unwrap().ip().is_loopback());
    /// });
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The connected peer's address (`NotConnected` before `connect`).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let socket = corio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    ///     assert!(socket.peer_addr().is_err());
    /// });
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().peer_addr()
    }
}

impl fmt::Debug for UdpSocket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpSocket")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

/// The socket's descriptor (for socket2's `SockRef` and other options).
#[cfg(unix)]
impl std::os::fd::AsFd for UdpSocket {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.io.get_ref().as_fd()
    }
}

/// The raw descriptor, as std's and mio's sockets give it (for libc calls).
#[cfg(unix)]
impl std::os::fd::AsRawFd for UdpSocket {
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        std::os::fd::AsFd::as_fd(self).as_raw_fd()
    }
}
