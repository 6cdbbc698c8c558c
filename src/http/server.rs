//! A small HTTP/1.1 **demo** server: the local web site behind the
//! examples (`crawler`, `download`, `fetch`), the tests and the benchmarks.
//!
//! It is a demo, not a production server: it reads `Content-Length`
//! request bodies only (a chunked request gets `501`), keeps one request in
//! flight per connection, has no TLS, no compression and no protection
//! against slow clients beyond its time limits (a request head must arrive
//! within the keep-alive timeout; after that, a body or a reply may take
//! as long as it keeps moving, with no pause longer than that timeout).
//! What it does, it does by the book: keep-alive by default for HTTP/1.1,
//! `Connection: close` honoured, no body for `HEAD`, no chunked reply to
//! an HTTP/1.0 request, a last reply (an error, or one that closes) that
//! reaches the client (the server reads what the client still sends —
//! a pipelined request, the rest of a body — before closing, instead of
//! resetting the connection), and the server closes idle connections first (so that
//! the client side does not pile up `TIME_WAIT`). Running out of file
//! descriptors pauses accepting; it does not end the server.
//!
//! A handler is an `async` function from [`Request`] to [`Reply`]; it runs
//! as part of the connection's task, on the loop that bound the server. A
//! handler that panics gets its client a `500` (the connection goes on),
//! and the panic is reported like a panicking callback's (a panic in its
//! future's destructor is reported too; a reply already made stands). The
//! server alone writes the `Connection` field of a reply: a handler's own
//! is read only for `close`. A request with
//! `Expect: 100-continue` hears `100 Continue` before it sends its body
//! (any other expectation: `417`).
//! A [`Reply`] can be slowed down ([`Reply::paced`]) to play a slow
//! network, or sent `chunked`.
//!
//! # Examples
//!
//! ```
//! use corio::http::server::{Reply, Server};
//!
//! corio::run(async {
//!     let server = Server::bind("127.0.0.1:0", |req| async move {
//!         match req.path() {
//!             "/" => Reply::html(r#"<a href="/hello">hello</a>"#),
//!             "/hello" => Reply::text("hello, world"),
//!             _ => Reply::not_found(),
//!         }
//!     })
//!     .await?;
//!     let page = corio::http::get(server.url("/hello")).await?;
//!     assert_eq!(page.text(), "hello, world");
//!     assert_eq!(corio::http::get(server.url("/nope")).await?.status, 404);
//!     Ok::<_, Box<dyn std::error::Error>>(())
//! })
//! .unwrap();
//! ```

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Duration;

use slab::Slab;

use super::decode::{Framing, Version};
use super::headers::Headers;
use crate::net::{TcpListener, TcpStream, ToSocketAddrs};
use crate::task::Task;
use crate::time::{deadline_after, sleep, timeout, timeout_at};

/// The most bytes of request head the server reads.
const MAX_HEAD: usize = 64 * 1024;
/// The largest request body the server accepts.
const MAX_BODY: usize = 16 * 1024 * 1024;
/// The pieces a chunked reply is cut into (unless paced).
const CHUNK: usize = 8 * 1024;
/// After a last reply (an error, or one that closes the connection), how
/// long and how much the server reads (and discards) of what the client
/// still sends, so that closing does not reset the connection before the
/// client has read the reply.
const LINGER_TIME: Duration = Duration::from_secs(2);
const LINGER_BYTES: usize = 64 * 1024 * 1024;

/// A request as the demo server's handler sees it.
///
/// # Examples
///
/// ```
/// use corio::http::server::{Reply, Server};
///
/// corio::run(async {
///     let server = Server::bind("127.0.0.1:0", |req| async move {
///         Reply::text(format!("{} {} {:?}", req.method, req.path(), req.query()))
///     })
///     .await?;
///     let page = corio::http::get(server.url("/search?q=corio")).await?;
///     assert_eq!(page.text(), r#"GET /search Some("q=corio")"#);
///     Ok::<_, Box<dyn std::error::Error>>(())
/// })
/// .unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, ...
    pub method: String,
    /// The request target as sent: `/path?query`.
    pub target: String,
    /// The request's HTTP version.
    pub version: Version,
    /// The header fields.
    pub headers: Headers,
    /// The body (empty without `Content-Length`).
    pub body: Vec<u8>,
    /// Who sent it.
    pub peer: SocketAddr,
}

impl Request {
    /// The target's path, without the query (also for an absolute-form
    /// target, `GET http://host/a/b HTTP/1.1`: `/a/b`).
    ///
    /// # Examples
    ///
    /// ```
    /// # use corio::http::{Headers, Version, server::Request};
    /// # let req = Request {
    /// #     method: "GET".into(), target: "/a/b?c=d".into(), version: Version::Http11,
    /// #     headers: Headers::new(), body: Vec::new(), peer: ([127, 0, 0, 1], 9).into(),
    /// # };
    /// // For "GET /a/b?c=d":
    /// assert_eq!(req.path(), "/a/b");
    /// ```
    pub fn path(&self) -> &str {
        match self.origin_form().split('?').next() {
            Some("") | None => "/", // `http://host?query`
            Some(path) => path,
        }
    }

    /// The target in origin form (`/path?query`): an absolute-form target
    /// (`http://host/path?query`, which a server must accept, RFC 9112
    /// §3.2.2) without its scheme and authority.
    fn origin_form(&self) -> &str {
        let target = self.target.as_str();
        let Some((scheme, rest)) = target.split_once("://") else {
            return target;
        };
        if scheme.is_empty() || !scheme.bytes().all(|b| b.is_ascii_alphabetic()) {
            return target;
        }
        match rest.find(['/', '?']) {
            Some(at) => &rest[at..],
            None => "/",
        }
    }

    /// The target's query, after `?`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use corio::http::{Headers, Version, server::Request};
    /// # let req = Request {
    /// #     method: "GET".into(), target: "/a/b?c=d".into(), version: Version::Http11,
    /// #     headers: Headers::new(), body: Vec::new(), peer: ([127, 0, 0, 1], 9).into(),
    /// # };
    /// // For "GET /a/b?c=d":
    /// assert_eq!(req.query(), Some("c=d"));
    /// ```
    pub fn query(&self) -> Option<&str> {
        self.origin_form().split_once('?').map(|(_, query)| query)
    }
}

/// What a demo-server handler answers.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use corio::http::server::Reply;
///
/// let page = Reply::html("<p>hi</p>");
/// let created = Reply::new(201).header("Location", "/items/7").body("made");
/// let slow = Reply::text("x".repeat(1000)).paced(100, Duration::from_millis(10)); // 100 B every 10 ms
/// let streamed = Reply::text("in pieces").chunked();
/// assert_eq!((page.status(), created.status()), (200, 201));
/// assert!(format!("{slow:?} {streamed:?}").contains("chunked: true"));
/// ```
#[derive(Debug, Clone)]
pub struct Reply {
    status: u16,
    headers: Headers,
    body: Vec<u8>,
    chunked: bool,
    pace: Option<(usize, Duration)>,
    close: bool,
}

impl Reply {
    /// An empty reply with `status`.
    ///
    /// # Panics
    ///
    /// If `status` is not a final status, 200 to 599 (RFC 9110 §15: a 1xx
    /// is only ever an interim answer, and a client given one as the reply
    /// would wait for ever) — a handler's mistake, as for
    /// [`header`](Reply::header); the client gets a `500`.
    ///
    /// # Examples
    ///
    /// ```
    /// let reply = corio::http::server::Reply::new(204);
    /// assert_eq!(reply.status(), 204);
    /// ```
    pub fn new(status: u16) -> Reply {
        assert!(
            (200..=599).contains(&status),
            "corio::http::server::Reply::new: {status} is not a final status (200 to 599)"
        );
        Reply {
            status,
            headers: Headers::new(),
            body: Vec::new(),
            chunked: false,
            pace: None,
            close: false,
        }
    }

    /// `200 OK` with a `text/plain` body.
    ///
    /// # Examples
    ///
    /// ```
    /// let reply = corio::http::server::Reply::text("hello");
    /// assert_eq!(reply.status(), 200);
    /// ```
    pub fn text(body: impl Into<String>) -> Reply {
        Reply::new(200)
            .header("Content-Type", "text/plain; charset=utf-8")
            .body(body.into())
    }

    /// `200 OK` with a `text/html` body.
    ///
    /// # Examples
    ///
    /// ```
    /// let reply = corio::http::server::Reply::html("<h1>hi</h1>");
    /// assert_eq!(reply.status(), 200);
    /// ```
    pub fn html(body: impl Into<String>) -> Reply {
        Reply::new(200)
            .header("Content-Type", "text/html; charset=utf-8")
            .body(body.into())
    }

    /// A redirect (`301`, `302`, `303`, `307` or `308`) to `location`.
    ///
    /// # Panics
    ///
    /// If `status` is not one of those, or `location` is not a valid field
    /// value (CR, LF, NUL: see [`header`](Reply::header)).
    ///
    /// # Examples
    ///
    /// ```
    /// let reply = corio::http::server::Reply::redirect(302, "/elsewhere");
    /// assert_eq!(reply.status(), 302);
    /// ```
    pub fn redirect(status: u16, location: &str) -> Reply {
        assert!(
            matches!(status, 301 | 302 | 303 | 307 | 308),
            "corio::http::server::Reply::redirect: {status} is not a redirect status"
        );
        Reply::new(status).header("Location", location)
    }

    /// `404 Not Found`.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(corio::http::server::Reply::not_found().status(), 404);
    /// ```
    pub fn not_found() -> Reply {
        Reply::new(404)
            .header("Content-Type", "text/plain; charset=utf-8")
            .body("not found")
    }

    /// Adds a header.
    ///
    /// # Panics
    ///
    /// If the name is not an HTTP token or the value has a control byte
    /// other than tab (CR, LF, NUL, ...), or
    /// if it is `Content-Length` or `Transfer-Encoding` — the server frames
    /// the body itself, and a second framing field would make the reply
    /// one no client can read: the handler's code is wrong, and the reply
    /// cannot be sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::server::{Reply, Server};
    ///
    /// # corio::run(async {
    /// let server = Server::bind("127.0.0.1:0", |_req| async { Reply::new(200).header("Cache-Control", "no-store") }).await?;
    /// let response = corio::http::get(server.url("/")).await?;
    /// assert_eq!(response.header("cache-control"), Some("no-store"));
    /// # Ok::<_, Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    #[track_caller]
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> Reply {
        if ["content-length", "transfer-encoding"]
            .iter()
            .any(|framing| name.eq_ignore_ascii_case(framing))
        {
            panic!(
                "corio demo server: {name} is the server's to write (it frames the body \
                 itself): set the body with Reply::body instead"
            );
        }
        if let Err(err) = self.headers.append(name, value) {
            panic!("corio demo server: {err}");
        }
        self
    }

    /// Sets the body (sent with `Content-Length`, or chunked).
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::server::{Reply, Server};
    ///
    /// # corio::run(async {
    /// let server = Server::bind("127.0.0.1:0", |_req| async { Reply::new(200).body(vec![0u8; 1024]) }).await?;
    /// let response = corio::http::get(server.url("/")).await?;
    /// assert_eq!(response.header("content-length"), Some("1024"));
    /// assert_eq!(response.body, vec![0u8; 1024]);
    /// # Ok::<_, Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Reply {
        self.body = body.into();
        self
    }

    /// Sends the body with `Transfer-Encoding: chunked` instead of a
    /// `Content-Length` — to an HTTP/1.1 client; an HTTP/1.0 one gets a
    /// `Content-Length` body (RFC 9112 §6.1).
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::server::{Reply, Server};
    ///
    /// # corio::run(async {
    /// let server = Server::bind("127.0.0.1:0", |_req| async { Reply::text("abc").chunked() }).await?;
    /// let response = corio::http::get(server.url("/")).await?;
    /// assert_eq!(response.header("transfer-encoding"), Some("chunked"));
    /// assert_eq!(response.text(), "abc");
    /// # Ok::<_, Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    pub fn chunked(mut self) -> Reply {
        self.chunked = true;
        self
    }

    /// Sends the body `piece` bytes at a time, pausing `every` before each
    /// piece: a slow network, to watch downloads overlap.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use corio::http::server::{Reply, Server};
    ///
    /// # corio::run(async {
    /// let server = Server::bind("127.0.0.1:0", |_req| async {
    ///     Reply::text("slow").paced(1, Duration::from_millis(10)) // 1 byte every 10 ms
    /// })
    /// .await?;
    /// let started = Instant::now();
    /// let response = corio::http::get(server.url("/")).await?;
    /// assert_eq!(response.text(), "slow");
    /// assert!(started.elapsed() >= Duration::from_millis(40)); // 4 pauses
    /// # Ok::<_, Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    pub fn paced(mut self, piece: usize, every: Duration) -> Reply {
        self.pace = Some((piece.max(1), every));
        self
    }

    /// Closes the connection after this reply (`Connection: close`).
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::server::{Reply, Server};
    ///
    /// # corio::run(async {
    /// let server = Server::bind("127.0.0.1:0", |_req| async { Reply::text("bye").close() }).await?;
    /// let client = corio::http::Client::new();
    /// let response = client.get(server.url("/")).send().await?;
    /// assert_eq!(response.header("connection"), Some("close"));
    /// assert_eq!(client.idle_connections(), 0); // not kept for reuse
    /// # Ok::<_, Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    pub fn close(mut self) -> Reply {
        self.close = true;
        self
    }

    /// The status code.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(corio::http::server::Reply::new(418).status(), 418);
    /// ```
    pub fn status(&self) -> u16 {
        self.status
    }

    /// Is the body sent chunked? Only to an HTTP/1.1 client (RFC 9112
    /// §6.1): an HTTP/1.0 one gets a `Content-Length` body.
    fn chunked_for(&self, version: Version) -> bool {
        self.chunked && version != Version::Http10
    }

    /// The head's bytes: status line and fields.
    fn head(&self, version: Version, keep_alive: bool, chunked: bool) -> Vec<u8> {
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(
            format!("HTTP/1.1 {} {}\r\n", self.status, reason(self.status)).as_bytes(),
        );
        // The connection's fate is the server's to say, once: a handler's
        // own `Connection` field has been taken into account (`close`).
        for (name, value) in self.headers.iter() {
            if !name.eq_ignore_ascii_case("connection") {
                super::request::put(&mut out, name, value);
            }
        }
        if self.has_body() {
            if chunked {
                out.extend_from_slice(b"Transfer-Encoding: chunked\r\n");
            } else {
                out.extend_from_slice(
                    format!("Content-Length: {}\r\n", self.body.len()).as_bytes(),
                );
            }
        }
        if !keep_alive {
            out.extend_from_slice(b"Connection: close\r\n");
        } else if version == Version::Http10 {
            // An HTTP/1.0 client closes unless told the connection stays.
            out.extend_from_slice(b"Connection: keep-alive\r\n");
        }
        out.extend_from_slice(b"\r\n");
        out
    }

    /// 1xx, 204 and 304 replies never have a body.
    fn has_body(&self) -> bool {
        !matches!(self.status, 100..=199 | 204 | 304)
    }

    /// Writes the reply to a request of `version`; a `HEAD` request gets
    /// the head only. Each write may wait up to `idle` for the client to
    /// take bytes: a slow reader gets the whole reply, one that stops
    /// reading a `TimedOut` error.
    async fn send(
        &self,
        stream: &mut TcpStream,
        version: Version,
        head_request: bool,
        keep_alive: bool,
        idle: Duration,
    ) -> io::Result<()> {
        let chunked = self.chunked_for(version);
        let mut wire = self.head(version, keep_alive, chunked);
        if head_request || !self.has_body() {
            return write_within(stream, &wire, idle).await;
        }
        if !chunked && self.pace.is_none() {
            wire.extend_from_slice(&self.body);
            return write_within(stream, &wire, idle).await;
        }
        write_within(stream, &wire, idle).await?;
        let piece = self.pace.map_or(CHUNK, |(piece, _)| piece);
        for bytes in self.body.chunks(piece) {
            if let Some((_, every)) = self.pace {
                sleep(every).await;
            }
            wire.clear();
            if chunked {
                wire.extend_from_slice(format!("{:x}\r\n", bytes.len()).as_bytes());
                wire.extend_from_slice(bytes);
                wire.extend_from_slice(b"\r\n");
            } else {
                wire.extend_from_slice(bytes);
            }
            write_within(stream, &wire, idle).await?;
        }
        if chunked {
            write_within(stream, b"0\r\n\r\n", idle).await?;
        }
        Ok(())
    }
}

/// Writes all of `bytes`, each write waiting at most `idle`.
async fn write_within(stream: &mut TcpStream, mut bytes: &[u8], idle: Duration) -> io::Result<()> {
    while !bytes.is_empty() {
        match timeout(idle, stream.write(bytes)).await {
            Ok(Ok(0)) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(Ok(n)) => bytes = &bytes[n..],
            Ok(Err(err)) => return Err(err),
            Err(_) => return Err(io::ErrorKind::TimedOut.into()),
        }
    }
    Ok(())
}

/// The reason phrase for common status codes.
fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        304 => "Not Modified",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        404 => "Not Found",
        413 => "Content Too Large",
        417 => "Expectation Failed",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        503 => "Service Unavailable",
        _ => "",
    }
}

/// A running demo server: it serves until dropped. Dropping it closes the
/// listener and every connection.
///
/// # Examples
///
/// ```
/// use corio::http::server::{Reply, Server};
///
/// corio::run(async {
///     let server = Server::bind("127.0.0.1:0", |_req| async { Reply::text("ok") }).await?;
///     println!("serving on {}", server.url("/"));
///     corio::http::get(server.url("/")).await?;
///     assert_eq!((server.connections(), server.requests()), (1, 1));
///     Ok::<_, Box<dyn std::error::Error>>(())
/// })
/// .unwrap();
/// ```
pub struct Server {
    addr: SocketAddr,
    shared: Rc<Shared>,
    accept: Task<()>,
}

/// What the accept task and the connection tasks share.
struct Shared {
    connections: Cell<u64>,
    requests: Cell<u64>,
    keep_alive_timeout: Cell<Duration>,
    /// The connection tasks still running, to cancel when the server goes.
    tasks: RefCell<Slab<Task<()>>>,
}

impl Server {
    /// Binds `addr` (port 0 for any free port) and serves each connection
    /// in its own task, calling `handler` for each request.
    ///
    /// # Errors
    ///
    /// Binding failed (the address is in use, or not local).
    ///
    /// # Panics
    ///
    /// Outside a running loop.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::server::{Reply, Server};
    ///
    /// corio::run(async {
    ///     let server = Server::bind("127.0.0.1:0", |_req| async { Reply::text("hi") }).await?;
    ///     assert!(server.local_addr().ip().is_loopback());
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn bind<F, Fut>(addr: impl ToSocketAddrs, handler: F) -> io::Result<Server>
    where
        F: Fn(Request) -> Fut + 'static,
        Fut: Future<Output = Reply> + 'static,
    {
        let listener = TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let shared = Rc::new(Shared {
            connections: Cell::new(0),
            requests: Cell::new(0),
            keep_alive_timeout: Cell::new(Duration::from_secs(5)),
            tasks: RefCell::new(Slab::new()),
        });
        let accept = crate::Builder::new()
            .name("corio::http::server accept loop")
            .spawn(accept_loop(listener, Rc::new(handler), Rc::clone(&shared)));
        Ok(Server {
            addr,
            shared,
            accept,
        })
    }

    /// The address the server listens on.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::server::{Reply, Server};
    ///
    /// corio::run(async {
    ///     let server = Server::bind("127.0.0.1:0", |_req| async { Reply::new(204) }).await?;
    ///     assert_ne!(server.local_addr().port(), 0);
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://<address><path>`: a URL on this server.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::server::{Reply, Server};
    ///
    /// corio::run(async {
    ///     let server = Server::bind("127.0.0.1:0", |_req| async { Reply::new(204) }).await?;
    ///     assert_eq!(server.url("/a"), format!("http://{}/a", server.local_addr()));
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// How many connections the server has accepted.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::server::{Reply, Server};
    ///
    /// corio::run(async {
    ///     let server = Server::bind("127.0.0.1:0", |_req| async { Reply::new(204) }).await?;
    ///     assert_eq!(server.connections(), 0);
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn connections(&self) -> u64 {
        self.shared.connections.get()
    }

    /// How many requests the server has answered (or is answering).
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::server::{Reply, Server};
    ///
    /// corio::run(async {
    ///     let server = Server::bind("127.0.0.1:0", |_req| async { Reply::new(204) }).await?;
    ///     corio::http::get(server.url("/")).await?;
    ///     assert_eq!(server.requests(), 1);
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn requests(&self) -> u64 {
        self.shared.requests.get()
    }

    /// The server's limit on silence. Default 5 s. A request head must
    /// arrive within it, counted from when the server starts waiting (so
    /// an idle kept-alive connection is closed after it); then, while a
    /// body is read or a reply written, no pause may last longer.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use corio::http::server::{Reply, Server};
    ///
    /// corio::run(async {
    ///     let server = Server::bind("127.0.0.1:0", |_req| async { Reply::new(204) }).await?;
    ///     server.set_keep_alive_timeout(Duration::from_millis(20));
    ///     let mut silent = corio::net::TcpStream::connect(server.local_addr()).await?;
    ///     let started = Instant::now();
    ///     let mut rest = Vec::new();
    ///     silent.read_to_end(&mut rest).await?; // ends when the server closes the idle connection
    ///     assert!(started.elapsed() < Duration::from_secs(5));
    ///     Ok::<_, std::io::Error>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn set_keep_alive_timeout(&self, idle: Duration) {
        self.shared.keep_alive_timeout.set(idle);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.accept.cancel();
        for task in self.shared.tasks.borrow_mut().drain() {
            task.cancel();
        }
    }
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .field("connections", &self.connections())
            .field("requests", &self.requests())
            .finish()
    }
}

async fn accept_loop<F, Fut>(listener: TcpListener, handler: Rc<F>, shared: Rc<Shared>)
where
    F: Fn(Request) -> Fut + 'static,
    Fut: Future<Output = Reply> + 'static,
{
    let mut incoming = listener.incoming();
    loop {
        // No error ends the server: `Incoming` waits before its next
        // accept after running out of descriptors (or memory); any other
        // accept error (a connection reset while it waited) concerns one
        // connection — after a short pause, so that nothing can spin.
        let stream = match incoming.next().await {
            Ok(stream) => stream,
            Err(_) => {
                sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        shared.connections.set(shared.connections.get() + 1);
        let mut tasks = shared.tasks.borrow_mut();
        let slot = tasks.vacant_entry();
        let key = slot.key();
        let connection = serve(stream, Rc::clone(&handler), Rc::clone(&shared), key);
        slot.insert(
            crate::Builder::new()
                .name("corio::http::server connection")
                .spawn(connection),
        );
    }
}

/// Serves one connection: requests one after another, until either side
/// closes or the connection sits idle too long.
async fn serve<F, Fut>(mut stream: TcpStream, handler: Rc<F>, shared: Rc<Shared>, key: usize)
where
    F: Fn(Request) -> Fut + 'static,
    Fut: Future<Output = Reply> + 'static,
{
    // However the task ends (the client left, a handler panicked, the
    // server was dropped), its entry goes.
    struct Forget(Rc<Shared>, usize);
    impl Drop for Forget {
        fn drop(&mut self) {
            if let Ok(mut tasks) = self.0.tasks.try_borrow_mut() {
                tasks.try_remove(self.1);
            }
        }
    }
    let _forget = Forget(Rc::clone(&shared), key);
    let _ = stream.set_nodelay(true);
    let peer = stream
        .peer_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let mut buf = Vec::with_capacity(8 * 1024);
    loop {
        let idle = shared.keep_alive_timeout.get();
        let (request, keep_alive) = match read_request(&mut stream, &mut buf, peer, idle).await {
            Ok(Some(request)) => request,
            Err((reply, head_request)) => {
                let sent = reply.send(&mut stream, Version::Http11, head_request, false, idle);
                if sent.await.is_ok() {
                    linger(&mut stream).await;
                }
                break;
            }
            Ok(None) => break, // closed by the client, or idle
        };
        shared.requests.set(shared.requests.get() + 1);
        let head_request = request.method == "HEAD";
        let version = request.version;
        let reply = match contained(&*handler, request).await {
            Ok(reply) => reply,
            // The client gets an answer, and the connection goes on; the
            // panic is reported like a panicking callback's.
            Err(message) => {
                report_handler_panic(&message);
                Reply::new(500).body("the handler panicked")
            }
        };
        // (A reply that sets `Connection: close` itself means it too.)
        let closes = reply.close || reply.headers.has_token("connection", "close");
        let keep_alive = keep_alive && !closes;
        let sent = reply.send(&mut stream, version, head_request, keep_alive, idle);
        match sent.await {
            Err(_) => break,
            // The server closes: as after an error reply, it reads what the
            // client still sends (a pipelined request) before it lets go —
            // closing on unread bytes resets the connection, and the reset
            // destroys the reply the client has not read yet.
            Ok(()) if !keep_alive => {
                linger(&mut stream).await;
                break;
            }
            Ok(()) => {}
        }
    }
}

/// Runs `handler(request)` — the call, each poll of its future, and the
/// future's destructor — with panics contained: `Err(message)` for a
/// panic in the call or a poll. A panic in the destructor (which may run
/// when the server is dropped mid-request) is reported on its own.
async fn contained<F, Fut>(handler: &F, request: Request) -> Result<Reply, String>
where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = Reply>,
{
    use std::panic::{AssertUnwindSafe, catch_unwind};
    let future = catch_unwind(AssertUnwindSafe(|| handler(request))).map_err(panic_text)?;
    let mut guard = DropContained(Some(Box::pin(future)));
    std::future::poll_fn(|cx| {
        let Some(running) = guard.0.as_mut() else {
            return std::task::Poll::Ready(Err("polled after it ended".to_owned()));
        };
        match catch_unwind(AssertUnwindSafe(|| running.as_mut().poll(cx))) {
            Ok(poll) => poll.map(Ok),
            Err(payload) => std::task::Poll::Ready(Err(panic_text(payload))),
        }
    })
    .await
}

/// A panic payload's message; the payload is dropped contained.
fn panic_text(payload: Box<dyn std::any::Any + Send>) -> String {
    let message = crate::report::panic_message(&*payload);
    crate::contain::drop_contained(payload);
    message
}

/// Reports a demo-server handler's panic like a panicking callback's.
fn report_handler_panic(message: &str) {
    let report = crate::report::Report::new(
        crate::report::ReportKind::CallbackPanic,
        format!("a demo server handler panicked: {message}"),
        None,
    );
    // Not inside `with_current`: the exception handler is user code, and
    // must not run while the running-loop slot is borrowed (invariant 6).
    crate::context::report_here(report);
}

/// Holds a handler's future; drops it with a panic contained and reported,
/// however the wait for it ends (done, failed, or cancelled).
struct DropContained<T>(Option<std::pin::Pin<Box<T>>>);

impl<T> Drop for DropContained<T> {
    fn drop(&mut self) {
        let future = self.0.take();
        if let Err(payload) =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(future)))
        {
            report_handler_panic(&panic_text(payload));
        }
    }
}

/// Reads one request into `buf` (which keeps bytes of the next one), and
/// whether the client allows keep-alive. `Ok(None)`: the client closed
/// between requests, or was too slow — its head must be complete within
/// `idle` (the defence against clients that trickle a head), and then each
/// read of its body must bring bytes within `idle`. `Err(reply)`: a bad
/// request, answered with `reply` before closing.
async fn read_request(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    peer: SocketAddr,
    idle: Duration,
) -> Result<Option<(Request, bool)>, (Reply, bool)> {
    let bad = |status: u16, why: &str| Reply::new(status).body(why.to_owned()).close();
    let head_deadline = deadline_after(idle);
    // The client stopped sending (closed, or its time for the head ran out).
    let mut ended = false;
    loop {
        let mut fields = [httparse::EMPTY_HEADER; 64];
        let mut parsed = httparse::Request::new(&mut fields);
        let status = parsed.parse(buf);
        // (The refusal of a `HEAD` request gets its head only; httparse
        // keeps the method even when the fields after it fail.)
        let head_request = parsed.method == Some("HEAD");
        match status {
            Ok(httparse::Status::Complete(head_len)) if head_len > MAX_HEAD => {
                return Err((bad(431, "request head too large"), head_request));
            }
            Ok(httparse::Status::Complete(head_len)) => {
                // The client's framing rules, for the request.
                let fields = || parsed.headers.iter().map(|f| (f.name, f.value));
                let Ok(framing) = Framing::of(fields()) else {
                    return Err((bad(400, "bad Content-Length"), head_request));
                };
                // (A `Transfer-Encoding` that lists no coding is refused too:
                // beside a `Content-Length`, peers would frame it differently.)
                if framing.transfer_encoding {
                    return Err((
                        bad(
                            501,
                            "request bodies with Transfer-Encoding (chunked) are not supported by the demo server",
                        ),
                        head_request,
                    ));
                }
                let length = match framing.length.map(usize::try_from) {
                    None => 0,
                    Some(Ok(length)) if length <= MAX_BODY => length,
                    Some(_) => return Err((bad(413, "request body too large"), head_request)),
                };
                let version = if parsed.version == Some(0) {
                    Version::Http10
                } else {
                    Version::Http11
                };
                let keep_alive = framing.keep_alive(version);
                let method = parsed.method.unwrap_or("GET").to_owned();
                let target = parsed.path.unwrap_or("/").to_owned();
                let headers =
                    Headers::from_head(&buf[..head_len], fields().map(|(n, v)| (n.as_bytes(), v)));
                // `Expect: 100-continue` (RFC 9110 §10.1.1): the client
                // waits for a word before sending its body. (Any other
                // expectation cannot be met: 417.)
                let mut continue_expected = false;
                for expectation in headers
                    .get_all("expect")
                    .flat_map(|value| value.split(|&b| b == b','))
                    .map(<[u8]>::trim_ascii)
                    .filter(|item| !item.is_empty())
                {
                    if !expectation.eq_ignore_ascii_case(b"100-continue") {
                        return Err((
                            bad(417, "the only expectation met is 100-continue"),
                            head_request,
                        ));
                    }
                    continue_expected = true;
                }
                if continue_expected && version == Version::Http11 && buf.len() < head_len + length
                {
                    let sent = write_within(stream, b"HTTP/1.1 100 Continue\r\n\r\n", idle);
                    if sent.await.is_err() {
                        return Ok(None);
                    }
                }
                while buf.len() < head_len + length {
                    match timeout(idle, read_more(stream, buf)).await {
                        Ok(0) | Err(_) => return Ok(None),
                        Ok(_) => {}
                    }
                }
                let body = buf[head_len..head_len + length].to_vec();
                buf.drain(..head_len + length);
                // A buffer grown for a large body goes back to the usual
                // size: an idle keep-alive connection does not keep it.
                buf.shrink_to(8 * 1024);
                let request = Request {
                    method,
                    target,
                    version,
                    headers,
                    body,
                    peer,
                };
                return Ok(Some((request, keep_alive)));
            }
            Ok(httparse::Status::Partial) if buf.len() > MAX_HEAD => {
                return Err((bad(431, "request head too large"), head_request));
            }
            Ok(httparse::Status::Partial) if ended => return Ok(None),
            Ok(httparse::Status::Partial) => {
                // A head can end only at a line end: bytes without one are
                // read on before parsing again, so a head trickled byte by
                // byte costs a parse per line, not per byte (the parse
                // starts from the first byte each time). A bad byte inside
                // a line is found at that line's end, or when the client
                // stops sending — then the last parse answers `400`.
                loop {
                    let before = buf.len();
                    match timeout_at(head_deadline, read_more(stream, buf)).await {
                        Ok(0) | Err(_) => {
                            ended = true;
                            break;
                        }
                        Ok(_) if buf.len() > MAX_HEAD || buf[before..].contains(&b'\n') => break,
                        Ok(_) => {}
                    }
                }
            }
            Err(httparse::Error::TooManyHeaders) => {
                return Err((bad(431, "more than 64 header fields"), head_request));
            }
            Err(_) => return Err((bad(400, "malformed request"), head_request)),
        }
    }
}

/// After a last reply (an error, or one that closes the connection):
/// closes the sending side, then reads (and drops) what the client still
/// sends — its body, the rest of a head too large, a pipelined request —
/// until it closes too, for at most `LINGER_TIME` and `LINGER_BYTES`.
/// Closing a socket with unread bytes resets the connection, and the reset
/// can reach the client before it has read the reply.
async fn linger(stream: &mut TcpStream) {
    if stream.shutdown(std::net::Shutdown::Write).is_err() {
        return;
    }
    let drain = async {
        let mut piece = [0; 8 * 1024];
        let mut read = 0;
        while read < LINGER_BYTES {
            match stream.read(&mut piece).await {
                Ok(0) | Err(_) => return,
                Ok(n) => read += n,
            }
        }
    };
    let _ = timeout(LINGER_TIME, drain).await;
}

/// Appends what the stream has to `buf`; a read error counts as a close.
async fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> usize {
    let mut piece = [0; 8 * 1024];
    let n = stream.read(&mut piece).await.unwrap_or(0);
    buf.extend_from_slice(&piece[..n]);
    n
}
