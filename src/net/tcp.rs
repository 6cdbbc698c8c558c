//! TCP: listeners, streams and their halves.

use std::fmt;
use std::future::{Future, poll_fn};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use mio::Interest;
use socket2::{Domain, Protocol, SockRef, Socket, Type};

use super::io_source::IoSource;
use super::{ToSocketAddrs, each_addr};
use crate::reactor::{Direction, Registration};
use crate::time::Sleep;

// ----- listener ----------------------------------------------------------------

/// Options for a listening socket, set (through socket2) before it binds.
///
/// # Examples
///
/// ```
/// use corio::net::ListenOptions;
///
/// corio::run(async {
///     // Two listeners on one port: the kernel spreads connections over
///     // them (run one per thread, each on its own loop).
///     let a = ListenOptions::new().reuse_port(true).backlog(512).bind("127.0.0.1:0").await?;
///     let port = a.local_addr()?.port();
///     let b = ListenOptions::new().reuse_port(true).bind(("127.0.0.1", port)).await?;
///     assert_eq!(b.local_addr()?.port(), port);
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct ListenOptions {
    reuse_address: bool,
    reuse_port: bool,
    backlog: i32,
}

impl Default for ListenOptions {
    fn default() -> ListenOptions {
        ListenOptions::new()
    }
}

impl ListenOptions {
    /// The defaults: `SO_REUSEADDR` on (as std does on Unix), no
    /// `SO_REUSEPORT`, a backlog of 1024.
    ///
    /// # Examples
    ///
    /// ```
    /// let options = corio::net::ListenOptions::new();
    /// let shown = format!("{options:?}"); // the defaults
    /// assert!(shown.contains("reuse_address: true") && shown.contains("backlog: 1024"));
    /// ```
    pub fn new() -> ListenOptions {
        ListenOptions {
            reuse_address: true,
            reuse_port: false,
            backlog: 1024,
        }
    }

    /// Sets `SO_REUSEADDR` (rebinding a port whose old connections linger
    /// in `TIME_WAIT`).
    ///
    /// # Examples
    ///
    /// ```
    /// let options = corio::net::ListenOptions::new().reuse_address(false);
    /// assert!(format!("{options:?}").contains("reuse_address: false"));
    /// ```
    pub fn reuse_address(mut self, on: bool) -> ListenOptions {
        self.reuse_address = on;
        self
    }

    /// Sets `SO_REUSEPORT`: several sockets — one per thread and loop —
    /// listen on one port, and the kernel balances connections between
    /// them. Any other socket of the same user that sets it may join the
    /// port too (a second copy of your server starts silently instead of
    /// failing with "address in use"): set it only when you mean it.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let options = corio::net::ListenOptions::new().reuse_port(true);
    ///     let first = options.bind("127.0.0.1:0").await.unwrap();
    ///     let addr = first.local_addr().unwrap();
    ///     let second = options.bind(addr).await.unwrap(); // the same port, no "address in use"
    ///     assert_eq!(second.local_addr().unwrap(), addr);
    ///     // Without it, the port is taken:
    ///     assert!(corio::net::ListenOptions::new().bind(addr).await.is_err());
    /// });
    /// ```
    pub fn reuse_port(mut self, on: bool) -> ListenOptions {
        self.reuse_port = on;
        self
    }

    /// How many connections may wait to be accepted (`listen`'s backlog;
    /// the kernel caps it at `net.core.somaxconn`).
    ///
    /// # Examples
    ///
    /// ```
    /// let options = corio::net::ListenOptions::new().backlog(4096);
    /// assert!(format!("{options:?}").contains("backlog: 4096"));
    /// ```
    pub fn backlog(mut self, backlog: u32) -> ListenOptions {
        self.backlog = i32::try_from(backlog).unwrap_or(i32::MAX);
        self
    }

    /// Binds a listener with these options: the first address that works.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let listener = corio::net::ListenOptions::new().bind("127.0.0.1:0").await.unwrap();
    ///     assert!(listener.local_addr().unwrap().port() > 0);
    /// });
    /// ```
    pub async fn bind(&self, addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        each_addr(&addr, |addr| async move { self.bind_addr(addr) }).await
    }

    fn bind_addr(&self, addr: SocketAddr) -> io::Result<TcpListener> {
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
        socket.set_nonblocking(true)?;
        socket.set_reuse_address(self.reuse_address)?;
        if self.reuse_port {
            socket.set_reuse_port(true)?;
        }
        socket.bind(&addr.into())?;
        socket.listen(self.backlog)?;
        TcpListener::from_std(socket.into())
    }
}

/// A listening TCP socket.
///
/// # Examples
///
/// ```
/// use corio::net::{TcpListener, TcpStream};
///
/// corio::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///     let client = corio::spawn(async move { TcpStream::connect(addr).await });
///     let (_conn, peer) = listener.accept().await?;
///     assert_eq!(peer, client.await.unwrap()?.local_addr()?);
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub struct TcpListener {
    io: IoSource<mio::net::TcpListener>,
}

impl TcpListener {
    /// Binds to `addr` with the default [`ListenOptions`].
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let v6 = corio::net::TcpListener::bind("[::1]:0").await;
    ///     // IPv6 may be off on some machines; IPv4 always works:
    ///     let listener = corio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     assert!(addr.ip().is_loopback() && addr.port() != 0); // port 0: the system picked one
    ///     if let Ok(v6) = v6 {
    ///         assert!(v6.local_addr().unwrap().is_ipv6());
    ///     }
    /// });
    /// ```
    pub async fn bind(addr: impl ToSocketAddrs) -> io::Result<TcpListener> {
        ListenOptions::new().bind(addr).await
    }

    /// Waits for a connection; gives the stream and the peer's address.
    ///
    /// Errors come back as they are: out of file descriptors (`EMFILE`),
    /// `accept` fails at once, and a loop that just calls it again spins
    /// until a descriptor is free. [`incoming`](Self::incoming) backs off
    /// on a timer instead — use it for an accept loop.
    ///
    /// Cancel safe: a connection is taken from the kernel only when the
    /// future completes.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let listener = corio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     corio::spawn(corio::net::TcpStream::connect(addr));
    ///     let (stream, _peer) = listener.accept().await.unwrap();
    ///     assert_eq!(stream.local_addr().unwrap(), addr);
    /// });
    /// ```
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let mut waiting = self.io.waiting(Direction::Read);
        let (stream, addr) = poll_fn(|cx| waiting.poll_io(cx, |l| l.accept())).await?;
        TcpStream::from_mio(stream, Some(addr)).map(|stream| (stream, addr))
    }

    /// The poll form of [`accept`](Self::accept).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::future::poll_fn;
    ///
    /// corio::run(async {
    ///     let listener = corio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let client = corio::spawn(corio::net::TcpStream::connect(listener.local_addr().unwrap()));
    ///     let (_stream, peer) = poll_fn(|cx| listener.poll_accept(cx)).await.unwrap();
    ///     assert_eq!(peer, client.await.unwrap().unwrap().local_addr().unwrap());
    /// });
    /// ```
    pub fn poll_accept(&self, cx: &mut Context<'_>) -> Poll<io::Result<(TcpStream, SocketAddr)>> {
        let (stream, addr) = ready!(self.io.poll_io(Direction::Read, cx, |l| l.accept()))?;
        Poll::Ready(TcpStream::from_mio(stream, Some(addr)).map(|stream| (stream, addr)))
    }

    /// The connections, as a `Stream` of `io::Result<TcpStream>` (each
    /// stream's [`peer_addr`](TcpStream::peer_addr) is the address the
    /// accept had, also once the peer has gone).
    ///
    /// An accept loop over it survives running out of file descriptors
    /// (`EMFILE`) and similar resource errors: the error is yielded, and
    /// the next accept waits [`Incoming::BACKOFF`] on a timer first — no
    /// spinning, and the pending connections are taken once descriptors
    /// are free again.
    ///
    /// # Examples
    ///
    /// The accept loop of a server (asyncio's `start_server`): one task
    /// per connection; an error is about one connection (or a shortage of
    /// descriptors, waited out), not the end of the server.
    ///
    /// ```
    /// corio::run(async {
    ///     let listener = corio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     corio::spawn(async move { corio::net::TcpStream::connect(addr).await });
    ///     let mut incoming = listener.incoming();
    ///     let mut served = 0;
    ///     loop {
    ///         let Ok(stream) = incoming.next().await else { continue };
    ///         corio::spawn(async move { drop(stream) /* serve it */ });
    ///         served += 1;
    ///         if served == 1 {
    ///             break; // (a server would go on)
    ///         }
    ///     }
    ///     assert_eq!(served, 1);
    /// });
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming {
            listener: self,
            backoff: None,
            reg: Registration::default(),
        }
    }

    /// The address it listens on.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let listener = corio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     assert!(listener.local_addr().unwrap().ip().is_loopback());
    /// });
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Registers a std listener (bound and listening) with the running
    /// loop; it is made nonblocking.
    ///
    /// # Panics
    ///
    /// Outside a running loop.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let addr = std_listener.local_addr().unwrap();
    ///     let listener = corio::net::TcpListener::from_std(std_listener).unwrap();
    ///     assert_eq!(listener.local_addr().unwrap(), addr);
    /// });
    /// ```
    pub fn from_std(listener: std::net::TcpListener) -> io::Result<TcpListener> {
        listener.set_nonblocking(true)?;
        let io = IoSource::new(
            mio::net::TcpListener::from_std(listener),
            Interest::READABLE,
        )?;
        Ok(TcpListener { io })
    }

    /// Deregisters it and gives back the std listener (still nonblocking).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let listener = corio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let std_listener = listener.into_std().unwrap();
    ///     assert_eq!(std_listener.local_addr().unwrap(), addr);
    /// });
    /// ```
    pub fn into_std(self) -> io::Result<std::net::TcpListener> {
        Ok(self.io.into_inner().into())
    }
}

impl fmt::Debug for TcpListener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpListener")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

/// The connections of a [`TcpListener`], as a `Stream`; see
/// [`TcpListener::incoming`].
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let listener = corio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
///     let addr = listener.local_addr().unwrap();
///     corio::spawn(corio::net::TcpStream::connect(addr)).detach();
///     let mut incoming: corio::net::Incoming<'_> = listener.incoming();
///     assert_eq!(incoming.next().await.unwrap().local_addr().unwrap(), addr);
/// });
/// ```
pub struct Incoming<'a> {
    listener: &'a TcpListener,
    backoff: Option<Pin<Box<Sleep>>>,
    /// Its wait for a connection (see `IoSource::poll_io_registered`).
    reg: Registration,
}

impl Incoming<'_> {
    /// How long the next accept waits after a resource error (`EMFILE`,
    /// `ENFILE`, `ENOBUFS`, `ENOMEM`).
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(corio::net::Incoming::BACKOFF, std::time::Duration::from_millis(10));
    /// ```
    pub const BACKOFF: Duration = Duration::from_millis(10);

    /// The next connection (never `None`: a listener does not end), or the
    /// error of this attempt — after which the loop goes on; see
    /// [`TcpListener::incoming`]. Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let listener = corio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     corio::spawn(corio::net::TcpStream::connect(addr)).detach();
    ///     let mut incoming = listener.incoming();
    ///     let conn = incoming.next().await.unwrap();
    ///     assert_eq!(conn.local_addr().unwrap(), addr);
    /// });
    /// ```
    pub async fn next(&mut self) -> io::Result<TcpStream> {
        use futures_core::Stream;
        match poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await {
            Some(result) => result,
            None => unreachable!("corio: Incoming never ends"),
        }
    }
}

/// Errors of `accept` that concern the process, not one connection: retry
/// later rather than at once.
fn is_resource_error(err: &io::Error) -> bool {
    // EMFILE, ENFILE, ENOBUFS, ENOMEM on Linux; EMFILE, ENFILE, ENOBUFS,
    // ENOMEM on the BSDs and macOS.
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const CODES: [i32; 4] = [24, 23, 105, 12];
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    const CODES: [i32; 4] = [24, 23, 55, 12];
    err.raw_os_error().is_some_and(|code| CODES.contains(&code))
        || err.kind() == io::ErrorKind::OutOfMemory
}

impl futures_core::Stream for Incoming<'_> {
    type Item = io::Result<TcpStream>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(backoff) = self.backoff.as_mut() {
            ready!(backoff.as_mut().poll(cx));
            self.backoff = None;
        }
        let this = &mut *self;
        let accepted = ready!(this.listener.io.poll_io_registered(
            Direction::Read,
            cx,
            &mut this.reg,
            |l| l.accept()
        ))
        .and_then(|(stream, peer)| TcpStream::from_mio(stream, Some(peer)));
        match accepted {
            Ok(stream) => Poll::Ready(Some(Ok(stream))),
            Err(err) => {
                if is_resource_error(&err) {
                    self.backoff = Some(Box::pin(crate::time::sleep(Incoming::BACKOFF)));
                }
                Poll::Ready(Some(Err(err)))
            }
        }
    }
}

impl Drop for Incoming<'_> {
    fn drop(&mut self) {
        self.listener.io.unregister(Direction::Read, &mut self.reg);
    }
}

impl fmt::Debug for Incoming<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Incoming")
            .field("backing_off", &self.backoff.is_some())
            .finish()
    }
}

// ----- stream --------------------------------------------------------------------

type Source = IoSource<mio::net::TcpStream>;

/// A TCP connection.
///
/// Read and write with the `async` methods, or through `futures_io`'s
/// `AsyncRead` / `AsyncWrite`. For a reader task and a writer task at once,
/// [`into_split`](Self::into_split).
///
/// # Examples
///
/// ```
/// use corio::net::{TcpListener, TcpStream};
///
/// corio::run(async {
///     let listener = TcpListener::bind("127.0.0.1:0").await?;
///     let addr = listener.local_addr()?;
///     corio::spawn(async move {
///         let (mut conn, _) = listener.accept().await?;
///         conn.write_all(b"HTTP/1.0 200 OK\r\n\r\nhi").await?;
///         conn.shutdown(std::net::Shutdown::Write)
///     });
///     let mut stream = TcpStream::connect(addr).await?;
///     let mut page = Vec::new();
///     stream.read_to_end(&mut page).await?;
///     assert!(page.ends_with(b"hi"));
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub struct TcpStream {
    io: Rc<Source>,
    /// The peer's address as `accept` or `connect` knew it (see
    /// [`peer_addr`](Self::peer_addr)).
    peer: Option<SocketAddr>,
}

/// `EINPROGRESS`: a nonblocking `connect` has started. Only that code, as
/// mio has it: on Linux a TCP `connect` fails with `EAGAIN` when the kernel
/// has no room for the connection (its routing cache), and taking that
/// for "in progress" would end, after a wait, in a misleading
/// `NotConnected` instead of the kernel's own error. (Windows says
/// `WSAEWOULDBLOCK` where unix says `EINPROGRESS`.)
fn connect_in_progress(err: &io::Error) -> bool {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    const EINPROGRESS: i32 = 115;
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    const EINPROGRESS: i32 = 36;
    if cfg!(windows) {
        return err.kind() == io::ErrorKind::WouldBlock;
    }
    err.raw_os_error() == Some(EINPROGRESS)
}

impl TcpStream {
    /// Connects to `addr` (trying each address a name resolves to).
    ///
    /// The connect is nonblocking: the socket is created with socket2,
    /// `connect` starts, the task parks until the socket is writable, and
    /// the outcome is read from `SO_ERROR` — so a refused connection is
    /// `ConnectionRefused`, not a hang. Names are resolved on the thread
    /// pool. Dropping the future closes the half-open socket.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     // Nobody listens on this port (it was just freed):
    ///     let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    ///     let err = corio::net::TcpStream::connect(("127.0.0.1", port)).await.unwrap_err();
    ///     assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    /// });
    /// ```
    pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpStream> {
        each_addr(&addr, connect_addr).await
    }

    /// Like [`connect`](Self::connect), giving up after `timeout` with
    /// `TimedOut` (name resolution included).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// corio::run(async {
    ///     let listener = corio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let stream = corio::net::TcpStream::connect_timeout(addr, Duration::from_secs(5)).await;
    ///     assert!(stream.is_ok());
    /// });
    /// ```
    pub async fn connect_timeout(
        addr: impl ToSocketAddrs,
        timeout: Duration,
    ) -> io::Result<TcpStream> {
        match crate::time::timeout(timeout, TcpStream::connect(addr)).await {
            Ok(result) => result,
            Err(_) => Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("connect timed out after {timeout:?}"),
            )),
        }
    }

    /// Was this stream created on the loop running on this thread? (A
    /// pooled connection from a loop that has ended is useless.)
    pub(crate) fn on_current_loop(&self) -> bool {
        self.io.on_current_loop()
    }

    /// Was this stream created on `core`'s loop?
    pub(crate) fn of_loop(&self, core: &std::rc::Weak<crate::core::Core>) -> bool {
        self.io.of_loop(core)
    }

    /// Has the loop this stream was created on closed? (It is of no use
    /// then.)
    pub(crate) fn loop_closed(&self) -> bool {
        self.io.loop_closed()
    }

    /// The clock of the loop this stream belongs to, as it last read it:
    /// for bookkeeping that may lag (by what ran since the loop's last look
    /// at I/O and timers: `Core::loop_time`) — idle-connection stamps.
    pub(crate) fn loop_time(&self) -> std::time::Instant {
        self.io.loop_time()
    }

    /// For a connection that waited idle in a pool: has nothing arrived
    /// (no data, no FIN, no error) since it was last read dry? Unless
    /// `sure`, the cleared readiness is trusted when what the loop knows is
    /// under a millisecond old — as recent as anything a `peek` could tell
    /// (the next bytes may come just after either). It knows the socket
    /// was quiet as of the reactor's last look at I/O, or as of
    /// `read_dry_at`, when a read last found it dry, if the caller noted
    /// that and the read came within a millisecond of the look (a
    /// keep-alive connection taken again by the task that has just read
    /// its response: one clock read instead of a `peek`). Otherwise —
    /// the reactor saw an event meanwhile, or the loop was busy since it
    /// knew (bytes may have come that it has not seen yet), or `sure` — it
    /// costs a `peek`.
    pub(crate) fn is_quiet(&self, sure: bool, read_dry_at: Option<std::time::Instant>) -> bool {
        const FRESH: std::time::Duration = std::time::Duration::from_millis(1);
        let trusted = || {
            // A read that came over a millisecond after the look may have
            // stopped short at an urgent byte the reactor never saw (which
            // would have kept the readiness: `URGENT` in reactor.rs), with
            // data behind it: it counts only within that millisecond — the
            // window a fresh look has always had.
            // (Instants compared with `t + FRESH`, not durations
            // subtracted: a pooled connection is checked on every request.)
            let within_fresh = |t: std::time::Instant, of: std::time::Instant| {
                of.checked_add(FRESH).is_none_or(|end| t < end)
            };
            if self.io.is_ready(Direction::Read) {
                return false;
            }
            let look = self.io.looked_at();
            let known = match read_dry_at {
                Some(at) if within_fresh(at, look) => at.max(look),
                _ => look,
            };
            within_fresh(std::time::Instant::now(), known)
        };
        if !sure && trusted() {
            return true;
        }
        match self.io.get_ref().peek(&mut [0u8; 1]) {
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                self.io.clear_ready(Direction::Read);
                true
            }
            _ => false, // data nobody asked for, the end of the stream, or an error
        }
    }

    /// Has the peer sent bytes that are waiting to be read? (After a write
    /// failed: a peer that answered and then reset or stopped reading
    /// leaves its answer readable.)
    pub(crate) fn has_unread_bytes(&self) -> bool {
        matches!(self.io.get_ref().peek(&mut [0u8; 1]), Ok(n) if n > 0)
    }

    /// [`write`](Self::write), unless while it waits (the peer is not
    /// reading) bytes arrive that `answered` says end the exchange — an
    /// HTTP server's early error answer to an upload: then `Ok(None)`, the
    /// bytes left to read (peeked, up to 1 KiB, not taken). Only bytes that
    /// arrive first are looked at: bytes the check turns down are looked at
    /// again only when the write is polled again.
    ///
    /// (One `poll_fn`, not an `async fn` around one: it is on every HTTP
    /// request's path.)
    pub(crate) fn write_unless_answered<'a>(
        &'a mut self,
        buf: &'a [u8],
        answered: fn(&[u8]) -> bool,
    ) -> impl Future<Output = io::Result<Option<usize>>> + 'a {
        // Made when the write first waits: most writes never do.
        let mut peeked = Vec::new();
        let mut reading = None;
        let io = &self.io;
        poll_fn(move |cx| {
            if let Poll::Ready(out) = poll_write(io, cx, buf) {
                return Poll::Ready(out.map(Some));
            }
            if peeked.is_empty() {
                peeked = vec![0; 1024];
            }
            let reading = reading.get_or_insert_with(|| io.waiting(Direction::Read));
            match reading.poll_io(cx, |s| s.peek(&mut peeked)) {
                Poll::Ready(Ok(n)) if n > 0 && answered(&peeked[..n]) => Poll::Ready(Ok(None)),
                // Nothing yet (parked for it), or not an answer, the end of
                // the stream or an error: the write goes on, and fails
                // if the peer has gone.
                _ => Poll::Pending,
            }
        })
    }

    fn from_mio(stream: mio::net::TcpStream, peer: Option<SocketAddr>) -> io::Result<TcpStream> {
        // Urgent data is watched for where a short read counts as drained
        // (epoll): see `poll_read`.
        #[cfg(any(target_os = "linux", target_os = "android"))]
        let interest = Interest::READABLE | Interest::WRITABLE | Interest::PRIORITY;
        #[cfg(not(any(target_os = "linux", target_os = "android")))]
        let interest = Interest::READABLE | Interest::WRITABLE;
        let io = IoSource::new(stream, interest)?;
        Ok(TcpStream {
            io: Rc::new(io),
            peer,
        })
    }

    /// Registers a connected std stream with the running loop; it is made
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
    ///     let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    ///     let addr = listener.local_addr().unwrap();
    ///     let std_stream = std::net::TcpStream::connect(addr).unwrap();
    ///     let stream = corio::net::TcpStream::from_std(std_stream).unwrap();
    ///     assert_eq!(stream.peer_addr().unwrap(), addr);
    /// });
    /// ```
    pub fn from_std(stream: std::net::TcpStream) -> io::Result<TcpStream> {
        stream.set_nonblocking(true)?;
        let peer = stream.peer_addr().ok();
        TcpStream::from_mio(mio::net::TcpStream::from_std(stream), peer)
    }

    /// Deregisters it and gives back the std stream (still nonblocking).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let listener = corio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    ///     let stream = corio::net::TcpStream::connect(listener.local_addr().unwrap()).await.unwrap();
    ///     let local = stream.local_addr().unwrap();
    ///     let std_stream = stream.into_std().unwrap();
    ///     assert_eq!(std_stream.local_addr().unwrap(), local); // the same socket
    ///     std_stream.set_nonblocking(false).unwrap();
    /// });
    /// ```
    pub fn into_std(self) -> io::Result<std::net::TcpStream> {
        // Only halves share the source, and `into_split` consumed the
        // stream to make them.
        match Rc::try_unwrap(self.io) {
            Ok(io) => Ok(io.into_inner().into()),
            Err(_) => unreachable!("corio: a TcpStream's source is shared only by its halves"),
        }
    }

    /// Copies the bytes that are waiting to be read into `buf` without
    /// taking them: the next read returns them again (`MSG_PEEK`; std's
    /// and tokio's `peek`). Waits until there is at least one, or the end
    /// of the stream (`Ok(0)`, as for an empty `buf`). For a protocol
    /// sniffed by its first bytes, say. Cancel safe: it takes no bytes.
    /// An error is the socket's, and is taken as a read's would be: after
    /// a peer's reset, one `peek` gives `ConnectionReset` and the next
    /// ones, like `read`, the end of the stream (Linux's `MSG_PEEK`).
    ///
    /// # Examples
    ///
    /// ```
    /// # corio::run(async {
    /// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let addr = listener.local_addr()?;
    /// # corio::spawn(async move { let (mut c, _) = listener.accept().await?; c.write_all(b"GET /").await });
    /// let mut stream = corio::net::TcpStream::connect(addr).await?;
    /// let mut first = [0; 3];
    /// let n = stream.peek(&mut first).await?;
    /// assert!(n > 0 && b"GET".starts_with(&first[..n]));
    /// let mut all = Vec::new();
    /// stream.read_to_end(&mut all).await?;
    /// assert_eq!(all, b"GET /"); // the peeked bytes too
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn peek(&self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut waiting = self.io.waiting(Direction::Read);
        poll_fn(|cx| waiting.poll_io(cx, |s| s.peek(&mut *buf))).await
    }

    /// Reads some bytes into `buf`; `Ok(0)` at end of stream (or for an
    /// empty `buf`). Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// # corio::run(async {
    /// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let addr = listener.local_addr()?;
    /// # corio::spawn(async move { let (mut c, _) = listener.accept().await?; c.write_all(b"hi").await });
    /// let mut stream = corio::net::TcpStream::connect(addr).await?;
    /// let mut buf = [0; 16];
    /// let n = stream.read(&mut buf).await?;
    /// assert!(n > 0 && b"hi".starts_with(&buf[..n]));
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| poll_read(&self.io, cx, buf)).await
    }

    /// Writes some bytes of `buf`; returns how many. Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// # corio::run(async {
    /// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let mut stream = corio::net::TcpStream::connect(listener.local_addr()?).await?;
    /// let n = stream.write(b"hello").await?;
    /// assert!(n > 0);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| poll_write(&self.io, cx, buf)).await
    }

    /// Reads exactly `buf.len()` bytes; `UnexpectedEof` if the stream ends
    /// first. Not cancel safe: bytes read before a drop are lost.
    ///
    /// # Examples
    ///
    /// ```
    /// # corio::run(async {
    /// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let addr = listener.local_addr()?;
    /// # corio::spawn(async move { let (mut c, _) = listener.accept().await?; c.write_all(b"abcd").await });
    /// let mut stream = corio::net::TcpStream::connect(addr).await?;
    /// let mut buf = [0; 4];
    /// stream.read_exact(&mut buf).await?;
    /// assert_eq!(&buf, b"abcd");
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        read_exact(&self.io, buf).await
    }

    /// Writes all of `buf`. Not cancel safe: part of it may have been
    /// sent before a drop.
    ///
    /// # Examples
    ///
    /// ```
    /// # corio::run(async {
    /// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let addr = listener.local_addr()?;
    /// # let peer = corio::spawn(async move {
    /// #     let (mut c, _) = listener.accept().await?;
    /// #     let mut got = Vec::new();
    /// #     c.read_to_end(&mut got).await.map(|_| got)
    /// # });
    /// let mut stream = corio::net::TcpStream::connect(addr).await?;
    /// stream.write_all(b"GET / HTTP/1.0\r\n\r\n").await?;
    /// drop(stream);
    /// assert_eq!(peer.await.unwrap()?, b"GET / HTTP/1.0\r\n\r\n"); // all of it arrived
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        write_all(&self.io, buf).await
    }

    /// Reads until the end of the stream, appending to `buf`; returns how
    /// many bytes it read. If the future is dropped part-way, `buf` holds
    /// exactly the bytes read so far (the count is lost).
    ///
    /// # Examples
    ///
    /// ```
    /// # corio::run(async {
    /// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let addr = listener.local_addr()?;
    /// # corio::spawn(async move { let (mut c, _) = listener.accept().await?; c.write_all(b"all of it").await });
    /// let mut stream = corio::net::TcpStream::connect(addr).await?;
    /// let mut buf = Vec::new();
    /// stream.read_to_end(&mut buf).await?;
    /// assert_eq!(buf, b"all of it");
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        read_to_end(&self.io, buf).await
    }

    /// Does nothing: a TCP stream has no user-space buffer (here for the
    /// familiar shape; `BufWriter` flushes for real).
    ///
    /// # Examples
    ///
    /// ```
    /// # corio::run(async {
    /// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let addr = listener.local_addr()?;
    /// # let peer = corio::spawn(async move {
    /// #     let (mut c, _) = listener.accept().await?;
    /// #     let mut got = Vec::new();
    /// #     c.read_to_end(&mut got).await.map(|_| got)
    /// # });
    /// let mut stream = corio::net::TcpStream::connect(addr).await?;
    /// stream.write_all(b"sent").await?;
    /// stream.flush().await?; // nothing to do: the bytes went out with `write_all`
    /// drop(stream);
    /// assert_eq!(peer.await.unwrap()?, b"sent");
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Shuts down the read side, the write side (the peer then reads end of
    /// stream) or both.
    ///
    /// # Examples
    ///
    /// ```
    /// # corio::run(async {
    /// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let addr = listener.local_addr()?;
    /// # let peer = corio::spawn(async move {
    /// #     let (mut c, _) = listener.accept().await?;
    /// #     let mut got = Vec::new();
    /// #     c.read_to_end(&mut got).await.map(|_| got)
    /// # });
    /// let mut stream = corio::net::TcpStream::connect(addr).await?;
    /// stream.write_all(b"bye").await?;
    /// stream.shutdown(std::net::Shutdown::Write)?;
    /// assert_eq!(peer.await.unwrap()?, b"bye"); // the peer saw the end, with `stream` still open
    /// assert!(stream.local_addr().is_ok());
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        self.io.get_ref().shutdown(how)
    }

    /// The address of the peer: the one `accept` or `connect` had (or,
    /// for [`from_std`](Self::from_std), the one the socket had then).
    ///
    /// Remembered, not asked of the kernel each time: it still answers
    /// after the peer has reset or closed the connection — when a server
    /// most wants to log who it was — where `getpeername` (std's and
    /// tokio's `peer_addr`) fails with `NotConnected`. asyncio's
    /// `get_extra_info("peername")` keeps it the same way. So an accept
    /// loop over [`TcpListener::incoming`], which yields only the stream,
    /// loses nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// # corio::run(async {
    /// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let addr = listener.local_addr()?;
    /// let stream = corio::net::TcpStream::connect(addr).await?;
    /// assert_eq!(stream.peer_addr()?, addr);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        peer_addr(&self.io, self.peer)
    }

    /// The local address.
    ///
    /// # Examples
    ///
    /// ```
    /// # corio::run(async {
    /// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = corio::net::TcpStream::connect(listener.local_addr()?).await?;
    /// assert!(stream.local_addr()?.ip().is_loopback());
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Sets `TCP_NODELAY` (send small writes at once instead of waiting to
    /// coalesce them: what request/response protocols want).
    ///
    /// # Examples
    ///
    /// ```
    /// # corio::run(async {
    /// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = corio::net::TcpStream::connect(listener.local_addr()?).await?;
    /// stream.set_nodelay(true)?;
    /// assert!(stream.nodelay()?);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.io.get_ref().set_nodelay(nodelay)
    }

    /// Is `TCP_NODELAY` set?
    ///
    /// # Examples
    ///
    /// ```
    /// # corio::run(async {
    /// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = corio::net::TcpStream::connect(listener.local_addr()?).await?;
    /// assert!(!stream.nodelay()?);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn nodelay(&self) -> io::Result<bool> {
        self.io.get_ref().nodelay()
    }

    /// Turns TCP keep-alive on with this idle time before the first probe
    /// (`Some`), or off (`None`) — through socket2. The kernel counts the
    /// idle time in whole seconds: a fraction is rounded up (so 500 ms is
    /// 1 s). An idle time the kernel refuses (zero; on Linux, more than
    /// 32,767 s) is an `InvalidInput` error that leaves keep-alive as it
    /// was.
    ///
    /// # Examples
    ///
    /// ```
    /// # corio::run(async {
    /// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// use std::time::Duration;
    ///
    /// let stream = corio::net::TcpStream::connect(listener.local_addr()?).await?;
    /// stream.set_keepalive(Some(Duration::from_secs(60)))?;
    /// stream.set_keepalive(Some(Duration::from_millis(500)))?; // 1 s
    /// let zero = stream.set_keepalive(Some(Duration::ZERO));
    /// assert_eq!(zero.unwrap_err().kind(), std::io::ErrorKind::InvalidInput);
    /// stream.set_keepalive(None)?;
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn set_keepalive(&self, idle: Option<Duration>) -> io::Result<()> {
        let socket = SockRef::from(self.io.get_ref());
        let Some(idle) = idle else {
            return socket.set_keepalive(false);
        };
        let seconds = idle
            .as_secs()
            .saturating_add(u64::from(idle.subsec_nanos() > 0));
        let was_on = socket.keepalive()?;
        let keepalive = socket2::TcpKeepalive::new().with_time(Duration::from_secs(seconds));
        let set = socket.set_tcp_keepalive(&keepalive);
        // socket2 turns SO_KEEPALIVE on before it sets the time: a time the
        // kernel refused must not leave it on.
        if set.is_err() && !was_on {
            let _ = socket.set_keepalive(false);
        }
        set
    }

    /// Sets `SO_LINGER` to zero: closing (dropping) the stream then
    /// discards unsent data and sends the peer a reset (RST) instead of the
    /// orderly FIN, and the socket skips `TIME_WAIT`. For a server that
    /// drops a misbehaving client, or a test that needs a reset peer.
    ///
    /// There is no `set_linger(Some(t))` with `t > 0`: a nonzero linger
    /// makes `close` *block* the loop's thread until the unsent data is
    /// acknowledged or `t` runs out (tokio deprecated its `set_linger` for
    /// this). To be sure the peer got everything, call
    /// [`shutdown(Shutdown::Write)`](Self::shutdown) and then read to the
    /// end instead.
    ///
    /// # Examples
    ///
    /// ```
    /// # corio::run(async {
    /// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// use std::time::Duration;
    ///
    /// let stream = corio::net::TcpStream::connect(listener.local_addr()?).await?;
    /// assert_eq!(stream.linger()?, None); // the default: an orderly close
    /// stream.set_zero_linger()?;
    /// assert_eq!(stream.linger()?, Some(Duration::ZERO));
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    #[doc(alias = "set_linger")]
    #[doc(alias = "SO_LINGER")]
    pub fn set_zero_linger(&self) -> io::Result<()> {
        SockRef::from(self.io.get_ref()).set_linger(Some(Duration::ZERO))
    }

    /// The `SO_LINGER` setting: `None` (the default: `close` returns at
    /// once and the kernel sends what is left), or the linger time.
    ///
    /// # Examples
    ///
    /// ```
    /// # corio::run(async {
    /// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = corio::net::TcpStream::connect(listener.local_addr()?).await?;
    /// assert_eq!(stream.linger()?, None);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn linger(&self) -> io::Result<Option<Duration>> {
        SockRef::from(self.io.get_ref()).linger()
    }

    /// Splits the stream into a read half and a write half, each usable
    /// from its own task at the same time (one reader, one writer). Dropping
    /// the write half shuts down the write side.
    ///
    /// # Examples
    ///
    /// ```
    /// # corio::run(async {
    /// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let addr = listener.local_addr()?;
    /// # corio::spawn(async move { let (mut c, _) = listener.accept().await?; let mut b = [0; 4]; c.read_exact(&mut b).await?; c.write_all(&b).await });
    /// let stream = corio::net::TcpStream::connect(addr).await?;
    /// let (mut reader, mut writer) = stream.into_split();
    /// let echo = corio::spawn(async move {
    ///     let mut buf = [0; 4];
    ///     reader.read_exact(&mut buf).await.map(|()| buf)
    /// });
    /// writer.write_all(b"ping").await?;
    /// assert_eq!(&echo.await.unwrap()?, b"ping");
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn into_split(self) -> (OwnedReadHalf, OwnedWriteHalf) {
        (
            OwnedReadHalf {
                io: Rc::clone(&self.io),
                peer: self.peer,
            },
            OwnedWriteHalf {
                io: self.io,
                peer: self.peer,
                shut_on_drop: true,
            },
        )
    }
}

/// The remembered peer address, else the kernel's (`TcpStream::peer_addr`).
fn peer_addr(io: &Source, peer: Option<SocketAddr>) -> io::Result<SocketAddr> {
    match peer {
        Some(addr) => Ok(addr),
        None => io.get_ref().peer_addr(),
    }
}

async fn connect_addr(addr: SocketAddr) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    socket.set_nonblocking(true)?;
    match socket.connect(&addr.into()) {
        Ok(()) => {}
        Err(err) if connect_in_progress(&err) => {}
        Err(err) => return Err(err),
    }
    let std_stream: std::net::TcpStream = socket.into();
    let stream = TcpStream::from_mio(mio::net::TcpStream::from_std(std_stream), Some(addr))?;
    // Writable means the connect is done, one way or the other.
    poll_fn(|cx| {
        loop {
            ready!(stream.io.poll_ready(Direction::Write, cx));
            if let Some(err) = stream.io.get_ref().take_error()? {
                return Poll::Ready(Err(err));
            }
            match stream.io.get_ref().peer_addr() {
                Ok(_) => return Poll::Ready(Ok(())),
                // A spurious wake-up: not connected yet — unless the socket
                // hung up without an error, which no later event will fix.
                Err(err) if err.kind() == io::ErrorKind::NotConnected => {
                    if stream.io.is_closed(Direction::Write) {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::NotConnected,
                            "the connection closed before it was established",
                        )));
                    }
                    stream.io.clear_ready(Direction::Write);
                }
                Err(err) => return Poll::Ready(Err(err)),
            }
        }
    })
    .await?;
    Ok(stream)
}

fn poll_read(io: &Source, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
    if buf.is_empty() {
        return Poll::Ready(Ok(0));
    }
    let len = buf.len();
    let n = ready!(io.poll_io(Direction::Read, cx, |s| (&*s).read(&mut *buf)))?;
    // A short read drained the socket's buffer. With epoll's edge trigger,
    // more data makes a new event, so the next read may park at once
    // instead of paying for a read that says EAGAIN. Only where the
    // selector is epoll: with level-triggered ones (mio's poll(2) fallback,
    // Windows) this would lose wake-ups (tokio-rs/tokio#5866). A read also
    // stops short at an urgent (out-of-band) byte with data queued behind
    // it: once one was announced, the reactor ignores `drained` on that
    // socket (`URGENT` in reactor.rs).
    #[cfg(any(target_os = "linux", target_os = "android"))]
    if n > 0 && n < len {
        io.drained(Direction::Read);
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    let _ = len;
    Poll::Ready(Ok(n))
}

fn poll_write(io: &Source, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
    if buf.is_empty() {
        return Poll::Ready(Ok(0));
    }
    io.poll_io(Direction::Write, cx, |s| (&*s).write(buf))
}

// `read_exact` and `write_all` are one `poll_fn` each rather than an
// `async fn` around a `poll_fn` per step: one state machine instead of two
// nested ones, on every message of a line protocol (W5's echo client).

fn read_exact<'a>(io: &'a Source, buf: &'a mut [u8]) -> impl Future<Output = io::Result<()>> + 'a {
    let mut filled = 0;
    poll_fn(move |cx| {
        while filled < buf.len() {
            let n = ready!(poll_read(io, cx, &mut buf[filled..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
            }
            filled += n;
        }
        Poll::Ready(Ok(()))
    })
}

fn write_all<'a>(io: &'a Source, buf: &'a [u8]) -> impl Future<Output = io::Result<()>> + 'a {
    let mut written = 0;
    poll_fn(move |cx| {
        while written < buf.len() {
            let n = ready!(poll_write(io, cx, &buf[written..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            written += n;
        }
        Poll::Ready(Ok(()))
    })
}

async fn read_to_end(io: &Source, buf: &mut Vec<u8>) -> io::Result<usize> {
    /// Keeps `buf` to the bytes actually read, also if the future is
    /// dropped while a read is pending in the zeroed spare space.
    struct Filled<'a> {
        buf: &'a mut Vec<u8>,
        len: usize,
    }
    impl Drop for Filled<'_> {
        fn drop(&mut self) {
            self.buf.truncate(self.len);
        }
    }

    let start = buf.len();
    let mut filled = Filled { len: start, buf };
    let mut chunk = 4096;
    loop {
        let len = filled.len;
        filled.buf.resize(len + chunk, 0);
        let n = poll_fn(|cx| poll_read(io, cx, &mut filled.buf[len..])).await?;
        if n == 0 {
            return Ok(filled.len - start);
        }
        filled.len += n;
        if n == chunk {
            chunk = (chunk * 2).min(1 << 20);
        }
    }
}

impl fmt::Debug for TcpStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpStream")
            .field("local_addr", &self.local_addr().ok())
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}

impl futures_io::AsyncRead for TcpStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        poll_read(&self.io, cx, buf)
    }
}

impl futures_io::AsyncWrite for TcpStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        poll_write(&self.io, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.shutdown(Shutdown::Write))
    }
}

// ----- halves --------------------------------------------------------------------

/// The read half of a [`TcpStream`]; see [`TcpStream::into_split`].
///
/// # Examples
///
/// ```
/// # corio::run(async {
/// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let stream = corio::net::TcpStream::connect(listener.local_addr()?).await?;
/// let (reader, _writer): (corio::net::OwnedReadHalf, _) = stream.into_split();
/// assert!(reader.peer_addr().is_ok());
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub struct OwnedReadHalf {
    io: Rc<Source>,
    peer: Option<SocketAddr>,
}

impl OwnedReadHalf {
    /// Like [`TcpStream::read`]. Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// # corio::run(async {
    /// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let addr = listener.local_addr()?;
    /// # corio::spawn(async move { let (mut c, _) = listener.accept().await?; c.write_all(b"x").await });
    /// let (mut reader, _writer) = corio::net::TcpStream::connect(addr).await?.into_split();
    /// let mut buf = [0; 1];
    /// assert_eq!(reader.read(&mut buf).await?, 1);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        poll_fn(|cx| poll_read(&self.io, cx, buf)).await
    }

    /// Like [`TcpStream::read_exact`]. Not cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// # corio::run(async {
    /// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let addr = listener.local_addr()?;
    /// # corio::spawn(async move { let (mut c, _) = listener.accept().await?; c.write_all(b"xy").await });
    /// let (mut reader, _writer) = corio::net::TcpStream::connect(addr).await?.into_split();
    /// let mut buf = [0; 2];
    /// reader.read_exact(&mut buf).await?;
    /// assert_eq!(&buf, b"xy");
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn read_exact(&mut self, buf: &mut [u8]) -> io::Result<()> {
        read_exact(&self.io, buf).await
    }

    /// Like [`TcpStream::read_to_end`] (after a drop, `buf` holds the bytes
    /// read so far).
    ///
    /// # Examples
    ///
    /// ```
    /// # corio::run(async {
    /// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let addr = listener.local_addr()?;
    /// # corio::spawn(async move { let (mut c, _) = listener.accept().await?; c.write_all(b"xy").await });
    /// let (mut reader, _writer) = corio::net::TcpStream::connect(addr).await?.into_split();
    /// let mut all = Vec::new();
    /// reader.read_to_end(&mut all).await?;
    /// assert_eq!(all, b"xy");
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn read_to_end(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        read_to_end(&self.io, buf).await
    }

    /// The address of the peer, remembered as
    /// [`TcpStream::peer_addr`] says.
    ///
    /// # Examples
    ///
    /// ```
    /// # corio::run(async {
    /// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let (reader, _) = corio::net::TcpStream::connect(listener.local_addr()?).await?.into_split();
    /// assert_eq!(reader.peer_addr()?, listener.local_addr()?);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        peer_addr(&self.io, self.peer)
    }

    /// The local address.
    ///
    /// # Examples
    ///
    /// ```
    /// # corio::run(async {
    /// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let stream = corio::net::TcpStream::connect(listener.local_addr()?).await?;
    /// let local = stream.local_addr()?;
    /// let (reader, _writer) = stream.into_split();
    /// assert_eq!(reader.local_addr()?, local);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// Puts the two halves of one stream back together (the write side is
    /// not shut down). Halves of two different streams are an error that
    /// gives both back.
    ///
    /// # Examples
    ///
    /// ```
    /// # corio::run(async {
    /// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let addr = listener.local_addr()?;
    /// let (reader, writer) = corio::net::TcpStream::connect(addr).await?.into_split();
    /// let (other_reader, other_writer) = corio::net::TcpStream::connect(addr).await?.into_split();
    /// // Not a pair: both halves come back in the error.
    /// let err = reader.reunite(other_writer).unwrap_err();
    /// let (reader, _other_writer) = (err.0, err.1);
    /// let stream = reader.reunite(writer).expect("halves of one stream");
    /// assert_eq!(stream.peer_addr()?, addr);
    /// # drop(other_reader);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn reunite(self, other: OwnedWriteHalf) -> Result<TcpStream, ReuniteError> {
        if !Rc::ptr_eq(&self.io, &other.io) {
            return Err(ReuniteError(self, other));
        }
        drop(self);
        Ok(other.into_stream())
    }
}

/// Two halves passed to `reunite` came from different streams; both are
/// in here, unharmed.
///
/// # Examples
///
/// ```
/// # corio::run(async {
/// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
/// # let addr = listener.local_addr()?;
/// let (a_reader, _a_writer) = corio::net::TcpStream::connect(addr).await?.into_split();
/// let (_b_reader, b_writer) = corio::net::TcpStream::connect(addr).await?.into_split();
/// let err: corio::net::ReuniteError = a_reader.reunite(b_writer).unwrap_err();
/// assert_eq!(err.to_string(), "tried to reunite halves of two different TCP streams");
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub struct ReuniteError(pub OwnedReadHalf, pub OwnedWriteHalf);

impl fmt::Debug for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ReuniteError")
            .field(&self.0)
            .field(&self.1)
            .finish()
    }
}

impl fmt::Display for ReuniteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves of two different TCP streams")
    }
}

impl std::error::Error for ReuniteError {}

/// For `?` in functions that return `io::Result` (the halves are dropped:
/// an `io::Error` must be `Send`, and they are not).
///
/// # Examples
///
/// ```
/// # corio::run(async {
/// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
/// # let addr = listener.local_addr()?;
/// let (a, _) = corio::net::TcpStream::connect(addr).await?.into_split();
/// let (_, b) = corio::net::TcpStream::connect(addr).await?.into_split();
/// let err = std::io::Error::from(a.reunite(b).unwrap_err());
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
impl From<ReuniteError> for io::Error {
    fn from(err: ReuniteError) -> io::Error {
        io::Error::new(io::ErrorKind::InvalidInput, err.to_string())
    }
}

impl fmt::Debug for OwnedReadHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedReadHalf")
            .field("peer_addr", &self.peer_addr().ok())
            .finish()
    }
}

impl futures_io::AsyncRead for OwnedReadHalf {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        poll_read(&self.io, cx, buf)
    }
}

/// The write half of a [`TcpStream`]; see [`TcpStream::into_split`].
/// Dropping it shuts down the write side (the peer reads end of stream).
///
/// # Examples
///
/// ```
/// # corio::run(async {
/// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let stream = corio::net::TcpStream::connect(listener.local_addr()?).await?;
/// let (_reader, writer): (_, corio::net::OwnedWriteHalf) = stream.into_split();
/// assert!(writer.local_addr().is_ok());
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
pub struct OwnedWriteHalf {
    io: Rc<Source>,
    peer: Option<SocketAddr>,
    /// Cleared when the half goes back into a stream (`reunite`).
    shut_on_drop: bool,
}

impl OwnedWriteHalf {
    /// Like [`TcpStream::write`]. Cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// # corio::run(async {
    /// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let (_r, mut writer) = corio::net::TcpStream::connect(listener.local_addr()?).await?.into_split();
    /// assert!(writer.write(b"x").await? > 0);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        poll_fn(|cx| poll_write(&self.io, cx, buf)).await
    }

    /// Like [`TcpStream::write_all`]. Not cancel safe.
    ///
    /// # Examples
    ///
    /// ```
    /// # corio::run(async {
    /// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// # let addr = listener.local_addr()?;
    /// # let peer = corio::spawn(async move {
    /// #     let (mut c, _) = listener.accept().await?;
    /// #     let mut got = Vec::new();
    /// #     c.read_to_end(&mut got).await.map(|_| got)
    /// # });
    /// let (_r, mut writer) = corio::net::TcpStream::connect(addr).await?.into_split();
    /// writer.write_all(b"all").await?;
    /// drop(writer); // shuts the write side down
    /// assert_eq!(peer.await.unwrap()?, b"all");
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        write_all(&self.io, buf).await
    }

    /// Like [`TcpStream::flush`]: does nothing (no user-space buffer).
    ///
    /// # Examples
    ///
    /// ```
    /// # corio::run(async {
    /// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let (_r, mut writer) = corio::net::TcpStream::connect(listener.local_addr()?).await?.into_split();
    /// writer.write_all(b"x").await?;
    /// assert!(writer.flush().await.is_ok());
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub async fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }

    /// Shuts down the write side now (the peer reads end of stream), keeping
    /// the half — to [`reunite`](Self::reunite) it later, say; dropping it
    /// does the same.
    ///
    /// # Examples
    ///
    /// ```
    /// # corio::run(async {
    /// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let (reader, writer) = corio::net::TcpStream::connect(listener.local_addr()?).await?.into_split();
    /// let (mut peer, _) = listener.accept().await?;
    /// writer.shutdown()?;
    /// let mut all = Vec::new();
    /// assert_eq!(peer.read_to_end(&mut all).await?, 0); // end of stream
    /// let _stream = reader.reunite(writer).unwrap();
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn shutdown(&self) -> io::Result<()> {
        self.io.get_ref().shutdown(Shutdown::Write)
    }

    /// The local address.
    ///
    /// # Examples
    ///
    /// ```
    /// # corio::run(async {
    /// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let (_r, writer) = corio::net::TcpStream::connect(listener.local_addr()?).await?.into_split();
    /// assert!(writer.local_addr()?.ip().is_loopback());
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.io.get_ref().local_addr()
    }

    /// The address of the peer, remembered as
    /// [`TcpStream::peer_addr`] says.
    ///
    /// # Examples
    ///
    /// ```
    /// # corio::run(async {
    /// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let (_r, writer) = corio::net::TcpStream::connect(listener.local_addr()?).await?.into_split();
    /// assert_eq!(writer.peer_addr()?, listener.local_addr()?);
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        peer_addr(&self.io, self.peer)
    }

    /// [`OwnedReadHalf::reunite`] the other way round.
    ///
    /// # Examples
    ///
    /// ```
    /// # corio::run(async {
    /// # let listener = corio::net::TcpListener::bind("127.0.0.1:0").await?;
    /// let (reader, writer) = corio::net::TcpStream::connect(listener.local_addr()?).await?.into_split();
    /// let stream = writer.reunite(reader).expect("halves of one stream");
    /// assert!(stream.local_addr()?.ip().is_loopback());
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    pub fn reunite(self, other: OwnedReadHalf) -> Result<TcpStream, ReuniteError> {
        other.reunite(self)
    }

    /// The stream again, its write side left open (for `reunite`, once the
    /// read half is gone).
    fn into_stream(mut self) -> TcpStream {
        self.shut_on_drop = false;
        TcpStream {
            io: Rc::clone(&self.io),
            peer: self.peer,
        }
    }
}

impl Drop for OwnedWriteHalf {
    fn drop(&mut self) {
        // The peer sees end of stream; errors (already closed) don't matter.
        if self.shut_on_drop {
            let _ = self.io.get_ref().shutdown(Shutdown::Write);
        }
    }
}

impl fmt::Debug for OwnedWriteHalf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedWriteHalf")
            .field("local_addr", &self.local_addr().ok())
            .finish()
    }
}

impl futures_io::AsyncWrite for OwnedWriteHalf {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        poll_write(&self.io, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(self.io.get_ref().shutdown(Shutdown::Write))
    }
}

#[cfg(unix)]
mod fd {
    use std::os::fd::{AsFd, BorrowedFd};

    use super::{OwnedReadHalf, OwnedWriteHalf, TcpListener, TcpStream};

    /// The socket's descriptor (for socket2's `SockRef` and other options).
    impl AsFd for TcpListener {
        fn as_fd(&self) -> BorrowedFd<'_> {
            self.io.get_ref().as_fd()
        }
    }

    /// The socket's descriptor (for socket2's `SockRef` and other options).
    impl AsFd for TcpStream {
        fn as_fd(&self) -> BorrowedFd<'_> {
            self.io.get_ref().as_fd()
        }
    }

    /// The socket's descriptor.
    impl AsFd for OwnedReadHalf {
        fn as_fd(&self) -> BorrowedFd<'_> {
            self.io.get_ref().as_fd()
        }
    }

    /// The socket's descriptor.
    impl AsFd for OwnedWriteHalf {
        fn as_fd(&self) -> BorrowedFd<'_> {
            self.io.get_ref().as_fd()
        }
    }

    /// The raw descriptor, as std's and mio's sockets give it (for libc calls).
    macro_rules! as_raw_fd {
        ($($t:ty),*) => {$(
            impl std::os::fd::AsRawFd for $t {
                fn as_raw_fd(&self) -> std::os::fd::RawFd {
                    self.as_fd().as_raw_fd()
                }
            }
        )*};
    }
    as_raw_fd!(TcpListener, TcpStream, OwnedReadHalf, OwnedWriteHalf);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(any(target_os = "linux", target_os = "android"))]
    fn only_einprogress_means_a_connect_has_started() {
        assert!(connect_in_progress(&io::Error::from_raw_os_error(115)));
        // EAGAIN: the kernel had no room for it — an error, not a start.
        let eagain = io::Error::from_raw_os_error(11);
        assert_eq!(eagain.kind(), io::ErrorKind::WouldBlock);
        assert!(!connect_in_progress(&eagain));
        assert!(!connect_in_progress(&io::Error::from_raw_os_error(111)));
    }
}
