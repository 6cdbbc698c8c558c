//! `Client`: requests with time limits, redirects and kept-alive
//! connections, on top of the decoder and `corio::net`.
//!
//! One request, step by step (`Client::exchange`):
//!
//! 1. take an idle connection to the same `host:port` from the pool, or
//!    connect a new one (names resolve on the thread pool);
//! 2. write the request head and body (one buffer; the idle limit counts
//!    the silence between writes, not their total). If a write fails, or
//!    waits past the idle limit, while the server's answer is already
//!    there (a 413 to a body it does not want), that answer is the
//!    response — at once if it is an error answer (4xx, 5xx) that comes
//!    while a write waits: the server will not read the rest;
//! 3. read until the decoder has the head, and hand back a
//!    [`StreamingResponse`] that owns the connection;
//! 4. when the body has been read to its end, the whole request was sent,
//!    and both sides allow it, the connection goes back to the pool. Any
//!    error drops it instead: a connection whose response went wrong is
//!    never reused.
//!
//! If step 2 or 3 fails on a *reused* connection because it was closed or
//! reset before a single byte of response arrived, the server probably
//! closed it while it sat idle: an idempotent request is retried once on a
//! fresh connection. (Any other failure — a timeout, say — is not retried.)

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::future::{Future, poll_fn};
use std::hash::{BuildHasherDefault, Hasher};
use std::io;
use std::pin::{Pin, pin};
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use url::Url;

use super::decode::{Event, Head, ResponseDecoder, Version};
use super::error::{Error, ErrorKind};
use super::headers::Headers;
use super::request::{self, Connect, Method, Target};
use crate::net::TcpStream;
use crate::sync::{OwnedSemaphorePermit, Semaphore};
use crate::time::{Sleep, sleep_until};

/// The first size of a connection's read buffer.
const READ_BUFFER: usize = 16 * 1024;
/// A redirect's body is read (so the connection can be reused) only up to
/// this size; a longer one closes the connection instead.
const DISCARD_LIMIT: u64 = 64 * 1024;
/// ... and the longest it waits for one (past that, a new connection is
/// cheaper than the request's time).
const DISCARD_TIME: Duration = Duration::from_secs(1);

/// The settings a [`Client`] is built with.
#[derive(Debug, Clone)]
struct Config {
    connect_timeout: Duration,
    read_timeout: Duration,
    total_timeout: Option<Duration>,
    follow_redirects: bool,
    max_redirects: usize,
    max_head_bytes: usize,
    max_body_bytes: u64,
    /// `User-Agent`, `Accept`, `Accept-Encoding`, `Connection` and the
    /// user's default headers: sent unless the request sets them.
    default_headers: Headers,
    pool_idle_timeout: Duration,
    pool_max_idle_per_host: usize,
    /// How many requests may hold a connection at once (`None`: any).
    max_connections: Option<usize>,
}

impl Default for Config {
    fn default() -> Config {
        let mut default_headers = Headers::new();
        let fields: [(&str, &str); 4] = [
            ("User-Agent", concat!("corio/", env!("CARGO_PKG_VERSION"))),
            ("Accept", "*/*"),
            ("Accept-Encoding", "identity"),
            ("Connection", "keep-alive"),
        ];
        for (name, value) in fields {
            default_headers.push_unchecked(name, value.as_bytes());
        }
        Config {
            connect_timeout: Duration::from_secs(10),
            read_timeout: Duration::from_secs(30),
            total_timeout: None,
            follow_redirects: true,
            max_redirects: 10,
            max_head_bytes: 64 * 1024,
            max_body_bytes: 64 * 1024 * 1024,
            default_headers,
            pool_idle_timeout: Duration::from_secs(30),
            pool_max_idle_per_host: 16,
            max_connections: None,
        }
    }
}

/// An HTTP/1.1 client (aiohttp's `ClientSession`, requests' `Session`):
/// settings, plus a pool of kept-alive connections reused per
/// `host:port`. Cloning is cheap and shares the pool.
///
/// Defaults: connect timeout 10 s, read timeout (idle between bytes) 30 s,
/// no total timeout, up to 10 redirects followed, 64 KiB of response head,
/// 64 MiB of body, idle connections kept 30 s (16 per host), no limit on
/// the connections in use at once.
///
/// A `Client` belongs to one thread (it is `!Send`), like the sockets it
/// keeps; it may outlive a loop: the idle connections of a loop are closed
/// as it ends (a client kept across `corio::run` calls does not keep their
/// loops open), and a client used on two loops at once drops one loop's
/// connections rather than use them on the other.
///
/// # Examples
///
/// ```
/// use corio::http::{Client, server::{Reply, Server}};
///
/// corio::run(async {
///     let server = Server::bind("127.0.0.1:0", |_req| async { Reply::text("hi") }).await?;
///     let client = Client::new();
///     for _ in 0..3 {
///         let response = client.get(server.url("/")).send().await?;
///         assert_eq!((response.status, response.text().as_ref()), (200, "hi"));
///     }
///     assert_eq!(server.connections(), 1); // one connection, kept alive
///     Ok::<_, Box<dyn std::error::Error>>(())
/// })
/// .unwrap();
/// ```
#[derive(Clone)]
pub struct Client {
    inner: Rc<Inner>,
}

struct Inner {
    config: Config,
    pool: RefCell<Pool>,
    /// The last URL parsed, for clients that fetch one URL again and
    /// again (polling, benchmarks): parsing costs more than the rest of a
    /// request's own work.
    last_url: RefCell<Option<Rc<Parsed>>>,
    /// Request buffers to reuse.
    buffers: RefCell<Vec<Vec<u8>>>,
    /// `config.default_headers` as they go on the wire.
    defaults_wire: Vec<u8>,
    /// The default `Connection` field says `close`.
    defaults_close: bool,
    /// `config.max_connections` permits: one per connection in use.
    limit: Option<Rc<Semaphore>>,
}

/// A request's URL: the text as given, or — when it is the URL the
/// client fetched last — that parse, shared.
enum RequestUrl {
    Text(String),
    Parsed(Rc<Parsed>),
}

impl RequestUrl {
    fn as_str(&self) -> &str {
        match self {
            RequestUrl::Text(text) => text,
            RequestUrl::Parsed(parsed) => &parsed.shown,
        }
    }
}

impl fmt::Debug for RequestUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// A checked URL and where it sends a request.
struct Parsed {
    /// The URL as given: what the next request's URL is compared with.
    text: Arc<str>,
    /// The URL as parsed (`url.as_str()`: no stray spaces, the scheme and
    /// host in lower case): what responses and errors show. Shared with
    /// the responses from this URL (an `Arc`: a `Response` is `Send`), so
    /// they need no copy of it.
    shown: Arc<str>,
    url: Url,
    target: Target,
    /// `target.authority` as the pool's key.
    key: PoolKey,
    /// The bytes of a GET of this URL with the client's default headers,
    /// once one was sent.
    plain_get: std::cell::OnceCell<Box<[u8]>>,
}

impl Parsed {
    fn new(text: String, url: Url) -> Parsed {
        let target = request::target(&url);
        let key = PoolKey::new(Rc::clone(&target.authority));
        let text: Arc<str> = text.into();
        let shown = if *text == *url.as_str() {
            Arc::clone(&text)
        } else {
            url.as_str().into()
        };
        Parsed {
            text,
            shown,
            url,
            target,
            key,
            plain_get: std::cell::OnceCell::new(),
        }
    }
}

impl Default for Client {
    fn default() -> Client {
        Client::new()
    }
}

impl Client {
    /// A client with the default settings.
    ///
    /// # Examples
    ///
    /// ```
    /// let client = corio::http::Client::new();
    /// assert_eq!(client.idle_connections(), 0);
    /// assert!(format!("{client:?}").contains("max_redirects: 10")); // a default
    /// ```
    pub fn new() -> Client {
        Client::from_config(Config::default())
    }

    /// A [`Builder`] to change the settings.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let client = corio::http::Client::builder()
    ///     .read_timeout(Duration::from_secs(5))
    ///     .max_redirects(3)
    ///     .build()
    ///     .unwrap();
    /// let settings = format!("{client:?}");
    /// assert!(settings.contains("read_timeout: 5s") && settings.contains("max_redirects: 3"));
    /// ```
    pub fn builder() -> Builder {
        Builder {
            config: Config::default(),
            error: None,
        }
    }

    fn from_config(config: Config) -> Client {
        Client {
            inner: Rc::new(Inner {
                defaults_wire: request::wire_form(&config.default_headers),
                defaults_close: config.default_headers.has_token("connection", "close"),
                limit: config
                    .max_connections
                    .map(|max| Rc::new(Semaphore::new(max))),
                config,
                pool: RefCell::new(Pool::default()),
                last_url: RefCell::new(None),
                buffers: RefCell::new(Vec::new()),
            }),
        }
    }

    /// A `GET` request, to finish and [`send`](RequestBuilder::send).
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::{Client, server::{Reply, Server}};
    ///
    /// corio::run(async {
    ///     let server = Server::bind("127.0.0.1:0", |req| async move { Reply::text(req.path().to_owned()) }).await?;
    ///     let response = Client::new().get(server.url("/a/b?c=d")).send().await?;
    ///     assert_eq!(response.text(), "/a/b");
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn get(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::Get, url)
    }

    /// A `HEAD` request: the response has headers and no body.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::{Client, server::{Reply, Server}};
    ///
    /// corio::run(async {
    ///     let server = Server::bind("127.0.0.1:0", |_req| async { Reply::text("12345") }).await?;
    ///     let response = Client::new().head(server.url("/")).send().await?;
    ///     assert_eq!(response.header("content-length"), Some("5"));
    ///     assert!(response.body.is_empty());
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn head(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::Head, url)
    }

    /// A `POST` request; give it a [`body`](RequestBuilder::body).
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::{Client, server::{Reply, Server}};
    ///
    /// corio::run(async {
    ///     let server = Server::bind("127.0.0.1:0", |req| async move { Reply::new(201).body(req.body) }).await?;
    ///     let response = Client::new().post(server.url("/")).body("data").send().await?;
    ///     assert_eq!((response.status, response.body.as_slice()), (201, &b"data"[..]));
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn post(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::Post, url)
    }

    /// A `PUT` request; give it a [`body`](RequestBuilder::body).
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::{Client, server::{Reply, Server}};
    ///
    /// corio::run(async {
    ///     let server = Server::bind("127.0.0.1:0", |req| async move { Reply::text(req.method) }).await?;
    ///     let response = Client::new().put(server.url("/x")).body(vec![1, 2, 3]).send().await?;
    ///     assert_eq!(response.text(), "PUT");
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn put(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::Put, url)
    }

    /// A `DELETE` request.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::{Client, server::{Reply, Server}};
    ///
    /// corio::run(async {
    ///     let server = Server::bind("127.0.0.1:0", |req| async move { Reply::text(req.method) }).await?;
    ///     let response = Client::new().delete(server.url("/x")).send().await?;
    ///     assert_eq!(response.text(), "DELETE");
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn delete(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::Delete, url)
    }

    /// A `PATCH` request (not idempotent: never retried on a fresh
    /// connection).
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::{Client, server::{Reply, Server}};
    ///
    /// corio::run(async {
    ///     let server = Server::bind("127.0.0.1:0", |req| async move { Reply::text(req.method) }).await?;
    ///     let response = Client::new().patch(server.url("/x")).body("a=1").send().await?;
    ///     assert_eq!(response.text(), "PATCH");
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn patch(&self, url: impl AsRef<str>) -> RequestBuilder {
        self.request(Method::Patch, url)
    }

    /// A request with any [`Method`].
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::{Client, Method, server::{Reply, Server}};
    ///
    /// corio::run(async {
    ///     let server = Server::bind("127.0.0.1:0", |req| async move { Reply::text(req.method) }).await?;
    ///     let response = Client::new().request(Method::Options, server.url("/")).send().await?;
    ///     assert_eq!(response.text(), "OPTIONS");
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn request(&self, method: Method, url: impl AsRef<str>) -> RequestBuilder {
        let text = url.as_ref();
        // The URL fetched last, again: take its parse now, and skip copying
        // the text.
        let last = self.inner.last_url.borrow();
        let url = match last.as_ref().filter(|last| *last.text == *text) {
            Some(last) => RequestUrl::Parsed(Rc::clone(last)),
            None => RequestUrl::Text(text.to_owned()),
        };
        drop(last);
        RequestBuilder {
            client: self.clone(),
            method,
            url,
            headers: Headers::new(),
            body: Vec::new(),
            timeout: self.inner.config.total_timeout,
            follow_redirects: self.inner.config.follow_redirects,
            error: None,
        }
    }

    /// How many idle connections the pool holds now.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(corio::http::Client::new().idle_connections(), 0);
    /// ```
    pub fn idle_connections(&self) -> usize {
        self.inner.pool.borrow().len()
    }

    /// Parses and checks `text` (or reuses the last parse of the same text).
    fn parse(&self, url: RequestUrl) -> Result<Rc<Parsed>, Error> {
        let text = match url {
            RequestUrl::Parsed(parsed) => return Ok(parsed),
            RequestUrl::Text(text) => text,
        };
        if let Some(last) = self
            .inner
            .last_url
            .borrow()
            .as_ref()
            .filter(|last| *last.text == *text)
        {
            return Ok(Rc::clone(last));
        }
        let url = request::parse_url(&text)?;
        let parsed = Rc::new(Parsed::new(text, url));
        *self.inner.last_url.borrow_mut() = Some(Rc::clone(&parsed));
        Ok(parsed)
    }

    /// Sends one request and reads the response head; follows no redirect.
    // (The parts of one hop of the redirect loop, borrowed from it: a
    // struct of them would only be taken apart again here.)
    #[allow(clippy::too_many_arguments)]
    async fn exchange(
        &self,
        method: Method,
        url: &Parsed,
        headers: &Headers,
        defaults: &Headers,
        body: &[u8],
        deadline: Option<Deadline>,
        follow: bool,
    ) -> Result<StreamingResponse, Error> {
        let config = &self.inner.config;
        let plain_defaults = std::ptr::eq(defaults, &config.default_headers);
        let defaults_wire = plain_defaults.then_some(&self.inner.defaults_wire[..]);
        let encode = |wire: &mut Vec<u8>| {
            request::encode(
                wire,
                method,
                &url.target,
                headers,
                defaults,
                defaults_wire,
                body,
            );
        };
        // A plain GET (the client's default headers, nothing of its own)
        // is the same bytes every time: encoded once per URL. Any other
        // request is encoded into a reused buffer.
        let plain_get = method == Method::Get && headers.is_empty() && body.is_empty();
        let mut buffer = Vec::new();
        let wire: &[u8] = if plain_get && plain_defaults {
            url.plain_get.get_or_init(|| {
                let mut wire = Vec::new();
                encode(&mut wire);
                wire.into_boxed_slice()
            })
        } else {
            buffer = self.inner.buffers.borrow_mut().pop().unwrap_or_default();
            buffer.clear();
            encode(&mut buffer);
            &buffer
        };
        // Whatever `Connection` field goes out (the request's, else the
        // default, which redirects never change) decides whether we may
        // reuse the connection.
        let closing = if headers.is_empty() || !headers.contains("connection") {
            self.inner.defaults_close
        } else {
            headers.has_token("connection", "close")
        };
        // Sent on a pooled connection or a new one. (Inline, not a
        // function of its own: one level of future less on every request.)
        let target = &url.target;
        let clock = Clock {
            idle: config.read_timeout,
            deadline,
        };
        // Under `max_connections`, wait for a place first (FIFO).
        let mut permit = match &self.inner.limit {
            None => None,
            Some(limit) => match Rc::clone(limit).try_acquire_owned() {
                Some(permit) => Some(permit),
                None => Some(Box::pin(wait_for_place(limit, deadline)).await?),
            },
        };
        let mut fresh_only = false;
        let result = loop {
            let pooled = if fresh_only {
                None
            } else {
                self.checkout(&url.key, method.is_idempotent())
            };
            let reused = pooled.is_some();
            let mut conn = match pooled {
                Some(conn) => conn,
                // Boxed: connecting (name resolution included) is a large future,
                // and a rare one — it should not make every request's future large.
                None => match Box::pin(self.connect(target, &url.key, deadline)).await {
                    Ok(conn) => conn,
                    Err(err) => break Err(err),
                },
            };
            conn.decoder = ResponseDecoder::new(method == Method::Head)
                .max_head_bytes(config.max_head_bytes)
                .max_body_bytes(config.max_body_bytes)
                .following_redirects(follow);
            conn.clock = clock;
            match conn.exchange(wire).await {
                Ok(head) => {
                    // (Behind a test: the assignment's drop of the old
                    // `None` is an out-of-line call on every request.)
                    if permit.is_some() {
                        conn.permit = permit.take();
                    }
                    break Ok(StreamingResponse {
                        status: head.status,
                        version: head.version,
                        reason: head.reason,
                        headers: head.headers,
                        url: Arc::clone(&url.shown),
                        body: Body {
                            conn: Some(conn),
                            pool: Rc::downgrade(&self.inner),
                            reusable: !closing,
                            failed: None,
                        },
                    });
                }
                // The server closed the idle connection meanwhile: once more,
                // on a fresh one.
                Err(err)
                    if reused && conn.received == 0 && method.is_idempotent() && is_stale(&err) =>
                {
                    fresh_only = true;
                }
                Err(err) => break Err(err),
            }
        };
        if buffer.capacity() > 0 && buffer.capacity() <= 64 * 1024 {
            self.inner.buffers.borrow_mut().push(buffer);
        }
        result
    }

    /// Connects to the target, within the connect timeout (and the total).
    async fn connect(
        &self,
        target: &Target,
        key: &PoolKey,
        deadline: Option<Deadline>,
    ) -> Result<Box<Conn>, Error> {
        let clock = Clock {
            idle: self.inner.config.connect_timeout,
            deadline,
        };
        let what = "connecting";
        let stream = match &target.connect {
            Connect::Addr(addr) => {
                limited(
                    TcpStream::connect(*addr),
                    &mut Timers::default(),
                    &clock,
                    what,
                )
                .await
            }
            Connect::Name(name, port) => {
                limited(
                    TcpStream::connect((name.as_str(), *port)),
                    &mut Timers::default(),
                    &clock,
                    what,
                )
                .await
            }
        }
        .map_err(Error::connecting)?;
        // Requests go out from one buffer, written as fast as the socket
        // takes them; replies should not wait for Nagle.
        stream
            .set_nodelay(true)
            .map_err(|e| Error::io(e, "setting TCP_NODELAY"))?;
        // Boxed: a connection moves between the pool and responses, and a
        // box moves as one pointer.
        Ok(Box::new(Conn {
            stream,
            key: key.clone(),
            buf: vec![0; READ_BUFFER],
            start: 0,
            end: 0,
            eof: false,
            read_dry_at: None,
            received: 0,
            cut_short: false,
            // Set by each request.
            decoder: ResponseDecoder::new(false),
            clock,
            timers: Timers::default(),
            permit: None,
        }))
    }

    /// An idle connection to `key` that belongs to this loop, if any. For a
    /// request that cannot be retried on a fresh connection (`!retryable`:
    /// a POST), each candidate is checked with a `peek` even if the loop
    /// has seen nothing arrive on it.
    fn checkout(&self, key: &PoolKey, retryable: bool) -> Option<Box<Conn>> {
        let timeout = self.inner.config.pool_idle_timeout;
        let mut pool = self.inner.pool.borrow_mut();
        let idle = pool.idle.get_mut(key)?;
        // The most recently used first: the least likely to have been closed.
        while let Some(entry) = idle.pop() {
            // Anything that arrived while it sat idle (a FIN, a late `408`,
            // stray bytes) would be read as the answer to the next request.
            // (The loop's clock, not a fresh read: its lag only lets a
            // connection in that expired that much ago, and the checks
            // below and the retry of a stale connection cover it.)
            let now = entry.conn.stream.loop_time();
            // (`since + timeout` compared, not `now - since`: cheaper.)
            let fresh = entry.since.checked_add(timeout).is_none_or(|end| now < end);
            let stream = &entry.conn.stream;
            if fresh
                && stream.on_current_loop()
                && stream.is_quiet(!retryable, entry.conn.read_dry_at)
            {
                return Some(entry.conn);
            }
        }
        None
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .field("idle_connections", &self.idle_connections())
            .finish()
    }
}

/// Sets up a [`Client`]; from [`Client::builder`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let client = corio::http::Client::builder()
///     .connect_timeout(Duration::from_secs(2))
///     .total_timeout(Duration::from_secs(20))
///     .user_agent("my-crawler/1.0")
///     .default_header("Accept-Language", "zh-CN")
///     .build()
///     .unwrap();
/// let settings = format!("{client:?}");
/// assert!(settings.contains("connect_timeout: 2s"));
/// assert!(settings.contains(r#""User-Agent": "my-crawler/1.0""#));
/// assert!(settings.contains(r#""Accept-Language": "zh-CN""#));
/// ```
#[derive(Debug)]
pub struct Builder {
    config: Config,
    error: Option<Error>,
}

/// One set of settings for several clients (a first bad setting comes
/// along, to fail each `build`).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// let settings = corio::http::Client::builder().read_timeout(Duration::from_secs(3));
/// let a = settings.clone().max_redirects(0).build().unwrap();
/// let b = settings.build().unwrap();
/// assert!(format!("{a:?}").contains("read_timeout: 3s") && format!("{b:?}").contains("read_timeout: 3s"));
/// assert!(format!("{a:?}").contains("max_redirects: 0") && format!("{b:?}").contains("max_redirects: 10"));
/// ```
impl Clone for Builder {
    fn clone(&self) -> Builder {
        Builder {
            config: self.config.clone(),
            error: self.error.as_ref().map(Error::duplicate),
        }
    }
}

/// The same as [`Client::builder`].
///
/// # Examples
///
/// ```
/// let client = corio::http::Builder::default().build().unwrap();
/// assert!(format!("{client:?}").contains("max_redirects: 10"));
/// ```
impl Default for Builder {
    fn default() -> Builder {
        Client::builder()
    }
}

/// A zero time limit would fail nearly every request at once (only what
/// is done at the first try would pass: `time::timeout`'s rule), which is
/// never what a setting means: it becomes the builder's first error, if it
/// has none yet.
fn refuse_zero(error: &mut Option<Error>, timeout: Duration, what: &str) {
    if timeout.is_zero() {
        error.get_or_insert_with(|| {
            let message = format!(
                "a {what} of zero would fail every request at once; to keep the default, do \
                 not set it"
            );
            Error::new(ErrorKind::InvalidRequest, message)
        });
    }
}

impl Builder {
    /// How long a connect (name resolution included) may take. Default 10 s.
    /// Zero is refused (as for the read and total timeouts):
    /// [`build`](Self::build) fails with [`ErrorKind::InvalidRequest`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let builder = corio::http::Client::builder().connect_timeout(Duration::from_secs(1));
    /// assert!(format!("{builder:?}").contains("connect_timeout: 1s"));
    /// let zero = corio::http::Client::builder().connect_timeout(Duration::ZERO).build();
    /// assert_eq!(zero.unwrap_err().kind(), corio::http::ErrorKind::InvalidRequest);
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Builder {
        refuse_zero(&mut self.error, timeout, "connect timeout");
        self.config.connect_timeout = timeout;
        self
    }

    /// How long a read or write may wait with no progress: the longest
    /// silence between bytes. Default 30 s; zero is refused. The silence is counted from
    /// when it began, also across [`StreamingResponse::chunk`] calls that
    /// a caller's own timeout cut short.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use corio::http::{Client, ErrorKind};
    ///
    /// # corio::run(async {
    /// # let silent = std::net::TcpListener::bind("127.0.0.1:0")?; // accepts (backlog), never answers
    /// # let url = format!("http://{}/", silent.local_addr()?);
    /// let client = Client::builder().read_timeout(Duration::from_millis(30)).build()?;
    /// let started = Instant::now();
    /// let err = client.get(url).send().await.unwrap_err(); // the server never answers
    /// assert_eq!(err.kind(), ErrorKind::Timeout);
    /// assert!(started.elapsed() < Duration::from_secs(5));
    /// # Ok::<_, Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    pub fn read_timeout(mut self, timeout: Duration) -> Builder {
        refuse_zero(&mut self.error, timeout, "read timeout");
        self.config.read_timeout = timeout;
        self
    }

    /// How long a whole request may take: connect, redirects and reading
    /// the body included. Default: no limit (the read timeout still
    /// applies); zero is refused. [`RequestBuilder::timeout`] sets it for one request.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use corio::http::{Client, ErrorKind};
    ///
    /// # corio::run(async {
    /// # let silent = std::net::TcpListener::bind("127.0.0.1:0")?; // accepts (backlog), never answers
    /// # let url = format!("http://{}/", silent.local_addr()?);
    /// let client = Client::builder().total_timeout(Duration::from_millis(30)).build()?;
    /// let started = Instant::now();
    /// let err = client.get(url).send().await.unwrap_err(); // the server never answers
    /// assert_eq!(err.kind(), ErrorKind::Timeout);
    /// assert!(started.elapsed() < Duration::from_secs(5)); // not the 30 s read timeout
    /// # Ok::<_, Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    pub fn total_timeout(mut self, timeout: Duration) -> Builder {
        refuse_zero(&mut self.error, timeout, "total timeout");
        self.config.total_timeout = Some(timeout);
        self
    }

    /// Whether to follow redirects at all. Default: yes. Without, a `3xx`
    /// response is returned as it is. One request can say otherwise:
    /// [`RequestBuilder::follow_redirects`].
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::{Client, server::{Reply, Server}};
    ///
    /// # corio::run(async {
    /// let server = Server::bind("127.0.0.1:0", |_req| async { Reply::redirect(302, "/elsewhere") }).await?;
    /// let client = Client::builder().follow_redirects(false).build()?;
    /// let response = client.get(server.url("/")).send().await?;
    /// assert_eq!(response.status, 302);
    /// assert_eq!(response.header("location"), Some("/elsewhere"));
    /// # Ok::<_, Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    pub fn follow_redirects(mut self, follow: bool) -> Builder {
        self.config.follow_redirects = follow;
        self
    }

    /// How many redirects one request may follow; one more is an
    /// [`ErrorKind::TooManyRedirects`] error. Default 10.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::{Client, ErrorKind, server::{Reply, Server}};
    ///
    /// # corio::run(async {
    /// let server = Server::bind("127.0.0.1:0", |req| async move {
    ///     match req.path() {
    ///         "/a" => Reply::redirect(302, "/b"),
    ///         "/b" => Reply::redirect(302, "/c"),
    ///         _ => Reply::text("end"),
    ///     }
    /// })
    /// .await?;
    /// let one = Client::builder().max_redirects(1).build()?;
    /// let err = one.get(server.url("/a")).send().await.unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::TooManyRedirects);
    /// let two = Client::builder().max_redirects(2).build()?;
    /// assert_eq!(two.get(server.url("/a")).send().await?.text(), "end");
    /// # Ok::<_, Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    pub fn max_redirects(mut self, max: usize) -> Builder {
        self.config.max_redirects = max;
        self
    }

    /// The most bytes a response head may have. Default 64 KiB.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::{Client, ErrorKind, server::{Reply, Server}};
    ///
    /// # corio::run(async {
    /// let server = Server::bind("127.0.0.1:0", |_req| async {
    ///     Reply::new(200).header("X-Padding", "x".repeat(200))
    /// })
    /// .await?;
    /// let client = Client::builder().max_head_bytes(128).build()?;
    /// let err = client.get(server.url("/")).send().await.unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::TooLarge);
    /// # Ok::<_, Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    pub fn max_head_bytes(mut self, max: usize) -> Builder {
        self.config.max_head_bytes = max;
        self
    }

    /// The most bytes a response body may have, buffered or streamed.
    /// Default 64 MiB; `u64::MAX` for no limit (with
    /// [`send_streaming`](RequestBuilder::send_streaming), a body need not
    /// fit in memory).
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::{Client, ErrorKind, server::{Reply, Server}};
    ///
    /// # corio::run(async {
    /// let server = Server::bind("127.0.0.1:0", |_req| async { Reply::text("twelve bytes") }).await?;
    /// let client = Client::builder().max_body_bytes(4).build()?;
    /// let err = client.get(server.url("/")).send().await.unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::TooLarge);
    /// # Ok::<_, Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    pub fn max_body_bytes(mut self, max: u64) -> Builder {
        self.config.max_body_bytes = max;
        self
    }

    /// The `User-Agent` header. Default `corio/<version>`.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::{Client, server::{Reply, Server}};
    ///
    /// # corio::run(async {
    /// let server = Server::bind("127.0.0.1:0", |req| async move {
    ///     Reply::text(req.headers.get_str("user-agent").unwrap_or("").to_owned())
    /// })
    /// .await?;
    /// let client = Client::builder().user_agent("fetch/1.0").build()?;
    /// assert_eq!(client.get(server.url("/")).send().await?.text(), "fetch/1.0");
    /// # Ok::<_, Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    pub fn user_agent(self, agent: impl AsRef<[u8]>) -> Builder {
        self.default_header("User-Agent", agent)
    }

    /// A header sent with every request that does not set it itself.
    /// A bad name or value makes [`build`](Self::build) fail.
    ///
    /// # Examples
    ///
    /// ```
    /// let client = corio::http::Client::builder().default_header("Accept", "text/html").build();
    /// assert!(client.is_ok());
    /// let client = corio::http::Client::builder().default_header("X", "a\r\nb").build();
    /// assert!(client.is_err());
    /// ```
    pub fn default_header(mut self, name: &str, value: impl AsRef<[u8]>) -> Builder {
        let checked = if ["host", "content-length", "transfer-encoding"]
            .iter()
            .any(|f| name.eq_ignore_ascii_case(f))
        {
            Err(Error::new(
                ErrorKind::InvalidRequest,
                format!("{name} is set per request by the client; it cannot be a default header"),
            ))
        } else {
            self.config.default_headers.insert(name, value)
        };
        if let Err(err) = checked {
            self.error.get_or_insert(err);
        }
        self
    }

    /// Whether to keep connections open for reuse. Default: yes. Without,
    /// every request says `Connection: close` and gets its own connection
    /// — unless the request sets a `Connection` field of its own, which
    /// replaces this default like any other (`keep-alive` there keeps
    /// that connection for reuse).
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::{Client, server::{Reply, Server}};
    ///
    /// # corio::run(async {
    /// let server = Server::bind("127.0.0.1:0", |_req| async { Reply::text("hi") }).await?;
    /// let client = Client::builder().keep_alive(false).build()?;
    /// client.get(server.url("/")).send().await?;
    /// client.get(server.url("/")).send().await?;
    /// assert_eq!(client.idle_connections(), 0);
    /// assert_eq!(server.connections(), 2); // one connection per request
    /// # Ok::<_, Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    pub fn keep_alive(mut self, keep: bool) -> Builder {
        let value = if keep { "keep-alive" } else { "close" };
        self.config.default_headers.remove("Connection");
        self.config
            .default_headers
            .push_unchecked("Connection", value.as_bytes());
        self
    }

    /// How long an idle connection is kept for reuse (default 30 s), and
    /// how many per `host:port` (default 16). Either one zero turns pooling
    /// off: every connection closes after its response.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use corio::http::{Client, server::{Reply, Server}};
    ///
    /// # corio::run(async {
    /// let server = Server::bind("127.0.0.1:0", |_req| async { Reply::text("hi") }).await?;
    /// let pooled = Client::builder().pool(Duration::from_secs(5), 4).build()?;
    /// pooled.get(server.url("/")).send().await?;
    /// assert_eq!(pooled.idle_connections(), 1); // kept for the next request
    /// let unpooled = Client::builder().pool(Duration::from_secs(5), 0).build()?;
    /// unpooled.get(server.url("/")).send().await?;
    /// assert_eq!(unpooled.idle_connections(), 0);
    /// let expired = Client::builder().pool(Duration::ZERO, 4).build()?;
    /// expired.get(server.url("/")).send().await?;
    /// assert_eq!(expired.idle_connections(), 0); // would expire at once
    /// # Ok::<_, Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    pub fn pool(mut self, idle_timeout: Duration, max_idle_per_host: usize) -> Builder {
        self.config.pool_idle_timeout = idle_timeout;
        self.config.pool_max_idle_per_host = max_idle_per_host;
        self
    }

    /// At most `max` requests hold a connection at once (aiohttp's
    /// `TCPConnector(limit=max)`); the others wait for a place, first come
    /// first served. Default: no limit (as requests, reqwest and hyper;
    /// aiohttp's is 100) — then a thousand requests at once open a
    /// thousand sockets, and past the open-file limit they fail with "Too
    /// many open files". A place is held from the request until its
    /// response is read (a [`StreamingResponse`] holds it until read to
    /// the end or dropped) and is let go as the connection goes back to
    /// the pool: idle connections, at most `max_idle_per_host` per host
    /// ([`pool`](Self::pool)), do not count. A wait counts against the total timeout
    /// (its error is then a timeout that [`is_connect`](Error::is_connect));
    /// without one it is not bounded: holding `max` streaming responses
    /// unread while sending another waits for ever. Zero is refused, as
    /// it would make every request wait for ever.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::{cell::Cell, rc::Rc, time::Duration};
    /// use corio::http::{Client, server::{Reply, Server}};
    ///
    /// # corio::run(async {
    /// // A server that counts the requests it serves at once.
    /// let (now, most) = (Rc::new(Cell::new(0)), Rc::new(Cell::new(0)));
    /// let (n, m) = (now.clone(), most.clone());
    /// let server = Server::bind("127.0.0.1:0", move |_req| {
    ///     let (n, m) = (n.clone(), m.clone());
    ///     async move {
    ///         n.set(n.get() + 1);
    ///         m.set(m.get().max(n.get()));
    ///         corio::time::sleep(Duration::from_millis(5)).await;
    ///         n.set(n.get() - 1);
    ///         Reply::text("ok")
    ///     }
    /// }).await?;
    /// let client = Client::builder().max_connections(2).build()?;
    /// let requests = (0..6).map(|_| client.get(server.url("/")).send());
    /// for response in corio::gather(requests).await {
    ///     assert_eq!(response?.text(), "ok");
    /// }
    /// assert_eq!(most.get(), 2); // never more than two at once
    /// # Ok::<_, Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    pub fn max_connections(mut self, max: usize) -> Builder {
        if max == 0 {
            self.error.get_or_insert_with(|| {
                Error::new(
                    ErrorKind::InvalidRequest,
                    "max_connections of zero would make every request wait for ever; for no \
                     limit, do not set it",
                )
            });
        }
        self.config.max_connections = Some(max);
        self
    }

    /// The client, or the first bad setting.
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(corio::http::Client::builder().build().is_ok());
    /// ```
    pub fn build(self) -> Result<Client, Error> {
        match self.error {
            Some(err) => Err(err),
            None => Ok(Client::from_config(self.config)),
        }
    }
}

/// One request being put together: from [`Client::get`] and friends, or
/// [`get`](super::get).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use corio::http::{Client, server::{Reply, Server}};
///
/// corio::run(async {
///     let server = Server::bind("127.0.0.1:0", |req| async move {
///         Reply::text(req.headers.get_str("x-token").unwrap_or("none").to_owned())
///     })
///     .await?;
///     let response = Client::new()
///         .get(server.url("/"))
///         .header("X-Token", "abc")
///         .timeout(Duration::from_secs(5))
///         .send()
///         .await?;
///     assert_eq!(response.text(), "abc");
///     Ok::<_, Box<dyn std::error::Error>>(())
/// })
/// .unwrap();
/// ```
#[must_use = "a request does nothing until it is sent"]
#[derive(Debug)]
pub struct RequestBuilder {
    client: Client,
    method: Method,
    url: RequestUrl,
    headers: Headers,
    body: Vec<u8>,
    timeout: Option<Duration>,
    follow_redirects: bool,
    error: Option<Error>,
}

impl RequestBuilder {
    /// Adds a header. A name that is not a token, or a value with a
    /// control byte other than tab (CR, LF, NUL, ...), makes the request
    /// fail with
    /// [`ErrorKind::InvalidRequest`] before anything is sent.
    /// `Content-Length` and `Transfer-Encoding` are the client's to set
    /// (from the body) and are refused too. `Host` is single-valued: a
    /// second one replaces the first (two would be a 400 at a careful
    /// server, and proxies disagree on which one counts).
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::{Client, ErrorKind};
    ///
    /// corio::run(async {
    ///     let err = Client::new()
    ///         .get("http://127.0.0.1:9/")
    ///         .header("X-Name", "a\r\nInjected: 1")
    ///         .send()
    ///         .await
    ///         .unwrap_err();
    ///     assert_eq!(err.kind(), ErrorKind::InvalidRequest);
    /// });
    /// ```
    pub fn header(mut self, name: &str, value: impl AsRef<[u8]>) -> RequestBuilder {
        let checked = if name.eq_ignore_ascii_case("content-length")
            || name.eq_ignore_ascii_case("transfer-encoding")
        {
            Err(Error::new(
                ErrorKind::InvalidRequest,
                format!("{name} is set by the client from the body; do not set it by hand"),
            ))
        } else if name.eq_ignore_ascii_case("host") {
            self.headers.insert(name, value)
        } else {
            self.headers.append(name, value)
        };
        if let Err(err) = checked {
            self.error.get_or_insert(err);
        }
        self
    }

    /// Adds query parameters to the URL (requests' `params=`, aiohttp's
    /// `params`), each name and value encoded as an HTML form does — a
    /// space as `+`, and `&`, `=`, `#`, `+`, `%` and anything not ASCII
    /// as `%XX` — after any query the URL already has, before its
    /// fragment.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::{Client, server::{Reply, Server}};
    ///
    /// # corio::run(async {
    /// let server = Server::bind("127.0.0.1:0", |req| async move {
    ///     Reply::text(req.query().unwrap_or("").to_owned())
    /// }).await?;
    /// let response = Client::new()
    ///     .get(server.url("/search?page=2"))
    ///     .query([("q", "fish & chips"), ("lang", "fr=ça")])
    ///     .send()
    ///     .await?;
    /// assert_eq!(response.text(), "page=2&q=fish+%26+chips&lang=fr%3D%C3%A7a");
    /// # Ok::<_, Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    pub fn query<K, V>(mut self, pairs: impl IntoIterator<Item = (K, V)>) -> RequestBuilder
    where
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let text = match &self.url {
            RequestUrl::Text(text) => text.as_str(),
            RequestUrl::Parsed(parsed) => &parsed.text,
        };
        let (base, fragment) = text.split_at(text.find('#').unwrap_or(text.len()));
        let mut url = String::with_capacity(text.len() + 32);
        url.push_str(base);
        let mut separator = match base.find('?') {
            None => "?",
            Some(_) if base.ends_with(['?', '&']) => "",
            Some(_) => "&",
        };
        for (name, value) in pairs {
            url.push_str(separator);
            url.extend(url::form_urlencoded::byte_serialize(
                name.as_ref().as_bytes(),
            ));
            url.push('=');
            url.extend(url::form_urlencoded::byte_serialize(
                value.as_ref().as_bytes(),
            ));
            separator = "&";
        }
        url.push_str(fragment);
        self.url = RequestUrl::Text(url);
        self
    }

    /// The request body, sent with a `Content-Length`.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::{Client, server::{Reply, Server}};
    ///
    /// # corio::run(async {
    /// let server = Server::bind("127.0.0.1:0", |req| async move { Reply::new(200).body(req.body) }).await?;
    /// let response = Client::new().post(server.url("/")).body("name=corio").send().await?;
    /// assert_eq!(response.text(), "name=corio"); // echoed back
    /// # Ok::<_, Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> RequestBuilder {
        self.body = body.into();
        self
    }

    /// Whether this request follows redirects, whatever the client's
    /// setting ([`Builder::follow_redirects`]; requests' `allow_redirects`).
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::{Client, server::{Reply, Server}};
    ///
    /// # corio::run(async {
    /// let server = Server::bind("127.0.0.1:0", |req| async move {
    ///     match req.path() {
    ///         "/old" => Reply::redirect(301, "/new"),
    ///         _ => Reply::text("here"),
    ///     }
    /// }).await?;
    /// let client = Client::new();
    /// let moved = client.get(server.url("/old")).follow_redirects(false).send().await?;
    /// assert_eq!((moved.status, moved.header("location")), (301, Some("/new")));
    /// let followed = client.get(server.url("/old")).send().await?;
    /// assert_eq!(followed.text(), "here");
    /// # Ok::<_, Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    pub fn follow_redirects(mut self, follow: bool) -> RequestBuilder {
        self.follow_redirects = follow;
        self
    }

    /// A total time limit for this request (connect, redirects and body),
    /// instead of the client's. Zero makes the request fail with
    /// [`ErrorKind::InvalidRequest`] before anything is sent.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use corio::http::{Client, ErrorKind};
    ///
    /// # corio::run(async {
    /// # let silent = std::net::TcpListener::bind("127.0.0.1:0")?; // accepts (backlog), never answers
    /// # let url = format!("http://{}/", silent.local_addr()?);
    /// let started = Instant::now();
    /// let err = Client::new().get(url).timeout(Duration::from_millis(30)).send().await.unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::Timeout);
    /// assert!(started.elapsed() < Duration::from_secs(5)); // not the client's 30 s
    /// # Ok::<_, Box<dyn std::error::Error>>(()) }).unwrap();
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> RequestBuilder {
        refuse_zero(&mut self.error, timeout, "request timeout");
        self.timeout = Some(timeout);
        self
    }

    /// Sends the request and reads the whole response into memory.
    ///
    /// # Errors
    ///
    /// An [`Error`] whose [`kind`](Error::kind) says what went wrong. An
    /// HTTP error status (404, 500) is *not* an error: check
    /// `response.status`.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::{Client, server::{Reply, Server}};
    ///
    /// corio::run(async {
    ///     let server = Server::bind("127.0.0.1:0", |_req| async { Reply::new(404) }).await?;
    ///     let response = Client::new().get(server.url("/missing")).send().await?;
    ///     assert_eq!(response.status, 404);
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn send(mut self) -> Result<Response, Error> {
        // `follow` directly, not through `send_streaming`: one level of
        // future less to build and move on every request.
        let deadline = self.deadline();
        let mut response = self.follow(deadline).await?;
        // The body is read where the response is, not by `into_response`'s
        // own future: that would move the response into it.
        let body = response.read_body().await?;
        Ok(response.with_body(body))
    }

    /// Sends the request and returns once the response head has arrived;
    /// read the body piece by piece with [`StreamingResponse::chunk`] —
    /// for bodies larger than memory. The total timeout, if any, keeps
    /// running while the body is read.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::{Client, server::{Reply, Server}};
    ///
    /// corio::run(async {
    ///     let server = Server::bind("127.0.0.1:0", |_req| async { Reply::new(200).body(vec![7; 100_000]) }).await?;
    ///     let mut response = Client::new().get(server.url("/big")).send_streaming().await?;
    ///     let mut total = 0;
    ///     while let Some(piece) = response.chunk().await? {
    ///         total += piece.len(); // write it to a file, hash it, ...
    ///     }
    ///     assert_eq!(total, 100_000);
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn send_streaming(mut self) -> Result<StreamingResponse, Error> {
        let deadline = self.deadline();
        self.follow(deadline).await
    }

    /// The total timeout's deadline, from now. Every wait inside (connect,
    /// write, read, a redirect's body) checks it itself, and reports the
    /// URL it was at.
    fn deadline(&self) -> Option<Deadline> {
        self.timeout.map(|total| Deadline {
            at: crate::time::deadline_after(total),
            total,
        })
    }

    /// The redirect loop (RFC 9110 §15.4).
    ///
    /// It works on the builder in place (a redirect may change its method,
    /// headers and body): moving the builder into this future and apart
    /// again cost more than the rest of `send`'s own work.
    async fn follow(&mut self, deadline: Option<Deadline>) -> Result<StreamingResponse, Error> {
        let RequestBuilder {
            client,
            method,
            url,
            headers,
            body,
            error,
            follow_redirects,
            ..
        } = self;
        let follow = *follow_redirects;
        let mut method = *method;
        if let Some(err) = error.take() {
            return Err(err.at(url.as_str()));
        }
        let config = &client.inner.config;
        let url = std::mem::replace(url, RequestUrl::Text(String::new()));
        let mut url = client.parse(url)?;
        // Filled at the first redirect: most requests have none.
        let mut visited: Vec<(Method, Url)> = Vec::new();
        // The client's default headers, minus credentials once a redirect
        // has left the origin they were meant for, and minus those about a
        // body once a redirect has dropped it.
        let mut defaults = Cow::Borrowed(&config.default_headers);
        loop {
            let response = client
                .exchange(method, &url, headers, &defaults, body, deadline, follow)
                .await
                .map_err(|err| err.at(&url.shown))?;
            let redirect = matches!(response.status, 301 | 302 | 303 | 307 | 308);
            if !redirect || !follow {
                return Ok(response);
            }
            let Some(location) = response.headers.get("location").map(<[u8]>::to_vec) else {
                return Ok(response); // a 3xx without a Location is just a response
            };
            let next = redirect_target(&url.url, &location).map_err(|err| err.at(&url.shown))?;
            if visited.is_empty() {
                visited.push((method, url.url.clone()));
            }
            if visited.len() > config.max_redirects {
                return Err(Error::new(
                    ErrorKind::TooManyRedirects,
                    format!(
                        "stopped after {} redirects; the next went to {next}",
                        config.max_redirects
                    ),
                )
                .at(&url.shown));
            }
            // 303 turns anything but HEAD into GET; 301 and 302 turn POST
            // into GET (what browsers do, allowed by §15.4.2-3); 307 and
            // 308 keep method and body.
            let to_get = match response.status {
                303 => method != Method::Head,
                301 | 302 => method == Method::Post,
                _ => false,
            };
            if to_get {
                method = Method::Get;
                *body = Vec::new();
                // The headers that describe the body go with it (a request
                // without content must not expect 100-continue: RFC 9110
                // §10.1.1).
                drop_headers(headers, &mut defaults, &BODY_HEADERS);
            }
            if (next.host(), next.port_or_known_default())
                != (url.url.host(), url.url.port_or_known_default())
            {
                // Credentials are for the origin they were given to.
                drop_headers(headers, &mut defaults, &super::headers::CREDENTIALS);
                // (and a `Host` of the request's own: it named the old origin)
                drop_headers(headers, &mut defaults, &["host"]);
            }
            if visited.iter().any(|(m, u)| *m == method && *u == next) {
                return Err(Error::new(
                    ErrorKind::TooManyRedirects,
                    format!("redirect loop: {next} was visited before"),
                )
                .at(&url.shown));
            }
            // Boxed: rare, and it should not grow every request's future.
            Box::pin(response.discard()).await;
            visited.push((method, next.clone()));
            url = Rc::new(Parsed::new(next.to_string(), next));
        }
    }
}

/// Do `bytes` begin with an error answer's complete head (4xx or 5xx),
/// after any interim (1xx) heads? For an upload the server answered
/// before reading it all.
fn is_error_answer(bytes: &[u8]) -> bool {
    let mut rest = bytes;
    loop {
        let mut fields = [httparse::EMPTY_HEADER; 32];
        let mut head = httparse::Response::new(&mut fields);
        match head.parse(rest) {
            Ok(httparse::Status::Complete(len)) => match head.code {
                Some(100..=199) => rest = &rest[len..],
                Some(code) => return code >= 400,
                None => return false,
            },
            // Part of a head, or one we cannot judge here (too many
            // fields): the write goes on, as before.
            _ => return false,
        }
    }
}

/// Waits for a place under the client's `max_connections`, within the
/// total timeout if there is one.
async fn wait_for_place(
    limit: &Rc<Semaphore>,
    deadline: Option<Deadline>,
) -> Result<OwnedSemaphorePermit, Error> {
    let place = Rc::clone(limit).acquire_owned();
    match deadline {
        None => Ok(place.await),
        Some(deadline) => crate::time::timeout_at(deadline.at, place)
            .await
            .map_err(|_| {
                let message = format!(
                    "the request took longer than its total timeout of {:?} waiting for a \
                     connection: all of max_connections were in use",
                    deadline.total
                );
                Error::new(ErrorKind::Timeout, message).connecting()
            }),
    }
}

/// Where a `Location` points, resolved against the URL it came from.
fn redirect_target(base: &Url, location: &[u8]) -> Result<Url, Error> {
    // Bytes beyond ASCII (a Location in Latin-1, say) are sent on
    // percent-encoded, as browsers and curl do.
    let encoded;
    let text = match std::str::from_utf8(location) {
        Ok(text) => text,
        Err(_) => {
            encoded = location.iter().fold(String::new(), |mut out, &b| {
                if b.is_ascii() {
                    out.push(char::from(b));
                } else {
                    out.push_str(&format!("%{b:02X}"));
                }
                out
            });
            &encoded
        }
    };
    let mut next = base.join(text.trim()).map_err(|err| {
        Error::new(
            ErrorKind::Malformed,
            format!("the redirect Location {text:?} is not a URL: {err}"),
        )
    })?;
    // A Location without a fragment inherits the request's (RFC 9110
    // §10.2.2).
    if next.fragment().is_none() {
        next.set_fragment(base.fragment());
    }
    request::check_url(&next).map_err(|err| err.at(next.as_str()))?;
    Ok(next)
}

/// Removes `names` from a redirected request's headers and from its copy
/// of the client's defaults (copied only if one of them is there).
fn drop_headers(headers: &mut Headers, defaults: &mut Cow<'_, Headers>, names: &[&str]) {
    for &name in names {
        headers.remove(name);
        if defaults.contains(name) {
            defaults.to_mut().remove(name);
        }
    }
}

/// The request headers that describe its content, dropped when a redirect
/// turns the request into a GET without one.
const BODY_HEADERS: [&str; 5] = [
    "content-type",
    "content-encoding",
    "content-language",
    "content-location",
    "expect",
];

/// A total time limit: when it ends and how long it was (for the message).
#[derive(Debug, Clone, Copy)]
struct Deadline {
    at: Instant,
    total: Duration,
}

impl Deadline {
    fn error(self) -> Error {
        Error::new(
            ErrorKind::Timeout,
            format!(
                "the request took longer than its total timeout of {:?}",
                self.total
            ),
        )
    }
}

/// The time limits of one I/O step: an idle limit, and the total.
#[derive(Debug, Clone, Copy)]
struct Clock {
    idle: Duration,
    deadline: Option<Deadline>,
}

/// An open connection and the bytes received on it but not yet decoded.
struct Conn {
    stream: TcpStream,
    /// The pool key: `host:port`.
    key: PoolKey,
    buf: Vec<u8>,
    /// `buf[start..end]` is received and not yet used.
    start: usize,
    end: usize,
    /// The server closed its side.
    eof: bool,
    /// When a read last found the socket dry (a short read): the pool
    /// trusts that for a millisecond instead of `peek`ing
    /// (`TcpStream::is_quiet`).
    read_dry_at: Option<Instant>,
    /// Bytes received since the current request was sent.
    received: usize,
    /// The response came before the whole request was sent: the
    /// connection is not reused.
    cut_short: bool,
    /// The current request's response decoder and time limits: a
    /// connection carries one request at a time, and keeping them here
    /// keeps them out of every future and result that passes a response
    /// along.
    decoder: ResponseDecoder,
    clock: Clock,
    timers: Timers,
    /// Its request's place under the client's `max_connections`, while
    /// the connection serves it (let go when it goes back to the pool).
    permit: Option<OwnedSemaphorePermit>,
}

/// A connection's timers, armed at most once per wait and moved lazily:
/// an I/O step that completes at once arms none, and a later deadline does
/// not re-arm the idle timer — when the old one fires, it is moved on.
#[derive(Default)]
struct Timers {
    idle: Option<Sleep>,
    /// The current request's total deadline.
    total: Option<Sleep>,
    /// When the current wait's idle limit ends: kept across a wait whose
    /// future was dropped (a caller's own timeout around `chunk`), so that
    /// the silence is counted from when it began, not from each new call.
    idle_until: Option<Instant>,
}

/// Runs one I/O step within the clock's idle limit and total deadline.
async fn limited<T>(
    step: impl Future<Output = io::Result<T>>,
    timers: &mut Timers,
    clock: &Clock,
    doing: &str,
) -> Result<T, Error> {
    let mut step = pin!(step);
    // The idle limit counts from the first time the step has to wait (or
    // an earlier step's wait that was dropped unfinished).
    poll_fn(|cx| {
        if let Poll::Ready(out) = step.as_mut().poll(cx) {
            timers.idle_until = None;
            // A peer that always has bytes ready never makes us wait, so the
            // total deadline is checked here too (one clock read, only for
            // requests that have one).
            if let Some(deadline) = clock.deadline.filter(|d| Instant::now() >= d.at) {
                return Poll::Ready(Err(deadline.error()));
            }
            return Poll::Ready(out.map_err(|err| Error::io(err, doing)));
        }
        // A fresh clock read, once per wait that has to wait: the loop's
        // cached clock may be as old as a task that blocked the loop, and
        // a limit counted from it could end before the wait began.
        let until = *timers
            .idle_until
            .get_or_insert_with(|| crate::time::deadline_after(clock.idle));
        let idle = timers.idle.get_or_insert_with(|| sleep_until(until));
        while Pin::new(&mut *idle).poll(cx).is_ready() {
            if idle.deadline() >= until {
                timers.idle_until = None;
                return Poll::Ready(Err(Error::new(
                    ErrorKind::Timeout,
                    format!("{doing}: nothing happened for {:?}", clock.idle),
                )));
            }
            idle.reset(until); // it fired for an earlier wait: move it on
        }
        if let Some(deadline) = clock.deadline {
            let total = timers.total.get_or_insert_with(|| sleep_until(deadline.at));
            if Pin::new(total).poll(cx).is_ready() {
                timers.idle_until = None;
                return Poll::Ready(Err(deadline.error()));
            }
        }
        Poll::Pending
    })
    .await
}

/// Did a request fail the way it does on a connection the server closed
/// while it sat idle (closed, or reset)? Then a retry on a new one may work.
fn is_stale(err: &Error) -> bool {
    let io_kind = std::error::Error::source(err)
        .and_then(|source| source.downcast_ref::<io::Error>())
        .map(io::Error::kind);
    err.kind() == ErrorKind::Closed
        || matches!(
            io_kind,
            Some(
                io::ErrorKind::BrokenPipe
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
            )
        )
}

impl Conn {
    /// Sends `wire` and reads until the decoder has the response head.
    async fn exchange(&mut self, wire: &[u8]) -> Result<Head, Error> {
        self.received = 0;
        self.cut_short = false;
        // Write by write, so the idle limit is on silence, not on the total.
        // A server may answer before it has read the whole request (a 413
        // for a body too large), then reset or stop reading: when the write
        // fails (or waits past the idle limit), an answer that is there is
        // the response (RFC 9112 §9.5), read instead of the rest written —
        // and so is an error answer (4xx, 5xx) that comes while the write
        // waits: the server has refused the request, and will not read the
        // rest. (Other bytes that come while the write merely waits — a
        // `100 Continue`, a `103`, a streaming server's early `200` — are
        // left for after the body.)
        let mut rest = wire;
        // Why the write stopped, when it stopped with bytes there to read.
        let mut stalled = None;
        while !rest.is_empty() {
            let doing = "sending the request";
            let written = if rest.len() == wire.len() {
                // The first write: nothing of this request has gone out, so
                // nothing that arrives can answer it yet.
                limited(
                    self.stream.write(rest),
                    &mut self.timers,
                    &self.clock,
                    doing,
                )
                .await
                .map(Some)
            } else {
                // Boxed: only an upload larger than the socket's buffer
                // gets here, and every request's future would otherwise
                // carry this one's state.
                let step = Box::pin(self.stream.write_unless_answered(rest, is_error_answer));
                limited(step, &mut self.timers, &self.clock, doing).await
            };
            match written {
                Ok(None) => {
                    self.cut_short = true; // the rest is not sent
                    break;
                }
                Ok(Some(0)) => {
                    return Err(Error::new(
                        ErrorKind::Closed,
                        "the connection closed while sending the request",
                    ));
                }
                Ok(Some(n)) => rest = &rest[n..],
                // Answered first: the answer says more than the error.
                Err(err) if self.stream.has_unread_bytes() => {
                    self.cut_short = true;
                    stalled = Some(err);
                    break;
                }
                Err(err) => return Err(err),
            }
        }
        loop {
            // Nothing there yet (the request just went out): the decoder
            // would only say so.
            if self.start == self.end && !self.eof && stalled.is_none() {
                self.fill().await?;
                continue;
            }
            let (used, event) = self
                .decoder
                .decode(&self.buf[self.start..self.end], self.eof)?;
            match event {
                Event::NeedMore => {
                    self.start += used; // an interim (1xx) head, used up
                    // The write stopped on bytes that were only interim
                    // heads, now used up, and nothing more is there: the
                    // stall is the error — not a second wait, for an answer.
                    // (Part of a head in the buffer is an answer coming:
                    // wait for the rest.)
                    if stalled.is_some()
                        && self.start == self.end
                        && !self.stream.has_unread_bytes()
                    {
                        if let Some(err) = stalled.take() {
                            return Err(err);
                        }
                    }
                    self.fill().await?;
                }
                Event::Head(head) => {
                    self.start += used;
                    return Ok(head);
                }
                Event::Data(_) | Event::End => unreachable!("the decoder gives the head first"),
            }
        }
    }

    /// Reads more bytes after the unread ones; at the end of the stream,
    /// sets `eof`.
    async fn fill(&mut self) -> Result<(), Error> {
        if self.start == self.end {
            (self.start, self.end) = (0, 0);
        } else if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                (self.start, self.end) = (0, self.end - self.start);
            } else {
                // A head larger than the buffer: grow (the decoder caps it).
                self.buf.resize(self.buf.len() * 2, 0);
            }
        }
        let Conn {
            stream,
            buf,
            end,
            timers,
            clock,
            ..
        } = self;
        let space = buf.len() - *end;
        let n = limited(
            stream.read(&mut buf[*end..]),
            timers,
            clock,
            "reading the response",
        )
        .await?;
        // A short read drained the socket (on epoll it also cleared the
        // readiness): the connection is known to be quiet as of now.
        self.read_dry_at = (n > 0 && n < space).then(Instant::now);
        self.end += n;
        self.received += n;
        self.eof = n == 0;
        Ok(())
    }
}

/// A response whose head has arrived and whose body is read on demand:
/// from [`RequestBuilder::send_streaming`]. Dropping it before the end of
/// the body closes the connection — unless the rest of the body has already
/// arrived (a `HEAD`'s or `204`'s response, a body read to its last byte):
/// then the connection goes back to the pool, as if read to the end.
///
/// # Examples
///
/// ```
/// use corio::http::{Client, server::{Reply, Server}};
///
/// corio::run(async {
///     let server = Server::bind("127.0.0.1:0", |_req| async { Reply::text("streamed") }).await?;
///     let response = Client::new().get(server.url("/")).send_streaming().await?;
///     assert_eq!(response.status, 200);
///     let whole = response.into_response().await?; // or read it with `chunk`
///     assert_eq!(whole.text(), "streamed");
///     Ok::<_, Box<dyn std::error::Error>>(())
/// })
/// .unwrap();
/// ```
pub struct StreamingResponse {
    /// The status code.
    pub status: u16,
    /// The HTTP version of the response.
    pub version: Version,
    /// The reason phrase.
    pub reason: String,
    /// The header fields.
    pub headers: Headers,
    url: Arc<str>,
    body: Body,
}

/// What [`StreamingResponse::decode_buffered`] found.
enum Piece {
    /// Body bytes: their place in the connection's buffer.
    Data(std::ops::Range<usize>),
    /// The body is complete.
    End,
    /// The buffer holds no more of the body.
    NeedMore,
}

/// The body half of a streaming response: the connection and the decoder.
struct Body {
    /// `None` once the body ended or failed.
    /// (Its decoder and time limits are the connection's.)
    conn: Option<Box<Conn>>,
    pool: Weak<Inner>,
    /// The request allowed reuse (no `Connection: close` from our side).
    reusable: bool,
    /// The body failed with this error: later calls report it again.
    failed: Option<Box<(ErrorKind, String)>>,
}

impl StreamingResponse {
    /// The next piece of the body, or `None` at its end. When the body
    /// ends cleanly, the connection goes back to the client's pool.
    ///
    /// Cancel safety: dropping the future loses no body bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::{Client, server::{Reply, Server}};
    ///
    /// corio::run(async {
    ///     let server = Server::bind("127.0.0.1:0", |_req| async { Reply::text("abc").chunked() }).await?;
    ///     let mut response = Client::new().get(server.url("/")).send_streaming().await?;
    ///     let mut body = Vec::new();
    ///     while let Some(piece) = response.chunk().await? {
    ///         body.extend_from_slice(piece);
    ///     }
    ///     assert_eq!(body, b"abc");
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn chunk(&mut self) -> Result<Option<&[u8]>, Error> {
        let piece = loop {
            match self.decode_buffered()? {
                Piece::Data(piece) => break piece,
                Piece::End => return Ok(None),
                Piece::NeedMore => self.fill_body().await?,
            }
        };
        Ok(self.body.conn.as_ref().map(|conn| &conn.buf[piece]))
    }

    /// Decodes what the connection has buffered, without waiting: the next
    /// piece of body (its place in the buffer), the end, or a need for
    /// more bytes. At the end the connection goes back to the pool.
    fn decode_buffered(&mut self) -> Result<Piece, Error> {
        let body = &mut self.body;
        let Some(conn) = body.conn.as_mut() else {
            return match &body.failed {
                // Asked again after an error: the body is still incomplete.
                Some(failed) => Err(Error::new(failed.0, failed.1.clone()).at(&self.url)),
                None => Ok(Piece::End),
            };
        };
        let (used, event) = match conn
            .decoder
            .decode(&conn.buf[conn.start..conn.end], conn.eof)
        {
            Ok(step) => step,
            Err(err) => return Err(body.fail(err).at(&self.url)),
        };
        // The decoder may have used framing bytes (a chunk-size line, a
        // CRLF) before the data or before it ran out; data is the last
        // `len` of the used bytes.
        let piece = match event {
            Event::NeedMore => Piece::NeedMore,
            Event::Data(data) => Piece::Data(conn.start + used - data.len()..conn.start + used),
            Event::End => Piece::End,
            Event::Head(_) => unreachable!("the decoder gives one head"),
        };
        conn.start += used;
        if let Piece::End = piece {
            body.finish();
        }
        Ok(piece)
    }

    /// Waits for more of the body to arrive.
    async fn fill_body(&mut self) -> Result<(), Error> {
        let Some(conn) = self.body.conn.as_mut() else {
            return Ok(());
        };
        // A response carried to another loop: its socket cannot wait there.
        if crate::context::with_current(|_| ()).is_some() && !conn.stream.on_current_loop() {
            let err = Error::new(
                ErrorKind::Closed,
                "the response's connection belongs to an earlier event loop; read its body on the loop that sent it",
            );
            return Err(self.body.fail(err).at(&self.url));
        }
        match conn.fill().await {
            Ok(()) => Ok(()),
            Err(err) => Err(self.body.fail(err).at(&self.url)),
        }
    }

    /// Reads the rest of the body into memory: a [`Response`].
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::{Client, server::{Reply, Server}};
    ///
    /// corio::run(async {
    ///     let server = Server::bind("127.0.0.1:0", |_req| async { Reply::text("all of it") }).await?;
    ///     let response = Client::new().get(server.url("/")).send_streaming().await?;
    ///     assert_eq!(response.into_response().await?.body, b"all of it");
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })
    /// .unwrap();
    /// ```
    pub async fn into_response(mut self) -> Result<Response, Error> {
        let body = self.read_body().await?;
        Ok(self.with_body(body))
    }

    /// The rest of the body, in memory.
    async fn read_body(&mut self) -> Result<Vec<u8>, Error> {
        // Sized up front when the length is known (up to 1 MiB: a larger
        // promise is believed as it arrives).
        let length_left = self
            .body
            .conn
            .as_ref()
            .and_then(|c| c.decoder.length_left());
        let mut body = match length_left {
            Some(length) => {
                Vec::with_capacity(usize::try_from(length).unwrap_or(usize::MAX).min(1 << 20))
            }
            None => Vec::new(),
        };
        // Not through `chunk`: what is buffered (often the whole body) is
        // taken without building a future per piece.
        loop {
            match self.decode_buffered()? {
                Piece::Data(piece) => {
                    if let Some(conn) = &self.body.conn {
                        body.extend_from_slice(&conn.buf[piece]);
                    }
                }
                Piece::End => return Ok(body),
                Piece::NeedMore => self.fill_body().await?,
            }
        }
    }

    /// The response with its whole `body`.
    #[inline]
    fn with_body(self, body: Vec<u8>) -> Response {
        Response {
            status: self.status,
            version: self.version,
            reason: self.reason,
            headers: self.headers,
            body,
            url: self.url,
        }
    }

    /// The first value of header `name` (any case), if it is UTF-8.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::{Client, server::{Reply, Server}};
    ///
    /// corio::run(async {
    ///     let server = Server::bind("127.0.0.1:0", |_req| async { Reply::html("<p>") }).await?;
    ///     let response = Client::new().get(server.url("/")).send_streaming().await?;
    ///     assert_eq!(response.header("Content-Type"), Some("text/html; charset=utf-8"));
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get_str(name)
    }

    /// Decodes `body` — bytes read from this response with
    /// [`chunk`](Self::chunk) — by the `charset` of its `Content-Type`,
    /// exactly as [`Response::text`] does: for a body collected piece by
    /// piece (under a size cap of the caller's, say).
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::{Client, server::{Reply, Server}};
    ///
    /// corio::run(async {
    ///     let server = Server::bind("127.0.0.1:0", |_req| async {
    ///         Reply::new(200)
    ///             .header("Content-Type", "text/html; charset=iso-8859-1")
    ///             .body(vec![b'h', 0xe9])
    ///             .chunked()
    ///     })
    ///     .await?;
    ///     let mut response = Client::new().get(server.url("/")).send_streaming().await?;
    ///     let mut body = Vec::new();
    ///     while let Some(piece) = response.chunk().await? {
    ///         body.extend_from_slice(piece);
    ///     }
    ///     assert_eq!(response.decode_text(&body), "hé");
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn decode_text<'a>(&self, body: &'a [u8]) -> Cow<'a, str> {
        decode_text(&self.headers, body)
    }

    /// Is the status a success (2xx)? As [`Response::is_success`].
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::server::{Reply, Server};
    ///
    /// corio::run(async {
    ///     let server = Server::bind("127.0.0.1:0", |_req| async { Reply::new(404) }).await?;
    ///     let url = server.url("/");
    ///     let response = corio::http::Client::new().get(url).send_streaming().await?;
    ///     assert!(!response.is_success());
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    /// The URL that answered (after redirects), as parsed: without stray
    /// spaces, the scheme and host in lower case.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::{Client, server::{Reply, Server}};
    ///
    /// corio::run(async {
    ///     let server = Server::bind("127.0.0.1:0", |_req| async { Reply::text("") }).await?;
    ///     let response = Client::new().get(server.url("/x")).send_streaming().await?;
    ///     assert!(response.url().ends_with("/x"));
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Reads and drops a short body so that the connection can be reused;
    /// a long one (or any error) just closes the connection.
    async fn discard(mut self) {
        // Read only a body that lets the connection be reused, and only a
        // small one, quickly; otherwise the connection is simply dropped
        // (with `self`) — a body that runs until the close, or a slow one,
        // must not spend the request's time.
        let worth_reading = self.body.reusable
            && self.body.conn.as_ref().is_some_and(|c| {
                c.decoder.head_allows_reuse()
                    && c.decoder
                        .length_left()
                        .is_none_or(|left| left <= DISCARD_LIMIT)
            });
        if !worth_reading {
            return;
        }
        // At most a quarter of what is left of the request's total time,
        // so that the redirect's target gets the rest.
        let left = self
            .body
            .conn
            .as_ref()
            .and_then(|c| c.clock.deadline)
            .map(|d| d.at.saturating_duration_since(Instant::now()) / 4);
        let budget = left.map_or(DISCARD_TIME, |left| left.min(DISCARD_TIME));
        let drain = async {
            // (Once the connection is gone, `chunk` returns at once.)
            while self.body.conn.as_ref().map_or(0, |c| c.decoder.body_len()) <= DISCARD_LIMIT {
                match self.chunk().await {
                    Ok(Some(_)) => {}
                    Ok(None) | Err(_) => return,
                }
            }
        };
        let _ = crate::time::timeout(budget, drain).await;
    }
}

impl Body {
    /// The body failed: the connection is dropped (never reused), and the
    /// error remembered.
    fn fail(&mut self, err: Error) -> Error {
        self.conn = None;
        self.failed = Some(Box::new((
            err.kind(),
            format!("the body failed earlier: {err}"),
        )));
        err
    }

    /// The body ended cleanly: the connection goes back to the pool, if
    /// both sides allow reuse and nothing unexpected follows the response.
    fn finish(&mut self) {
        let Some(mut conn) = self.conn.take() else {
            return;
        };
        conn.timers.total = None; // the request is over: disarm its deadline
        // The idle timer stays armed for the connection's next request,
        // but must not wake this one's task when it fires.
        if let Some(idle) = &mut conn.timers.idle {
            idle.release_waiter();
        }
        let clean = self.reusable
            && conn.decoder.keep_alive()
            && conn.start == conn.end
            && !conn.eof
            && !conn.cut_short;
        if let (true, Some(inner)) = (clean, self.pool.upgrade()) {
            Pool::checkin(&inner, conn);
        }
    }
}

impl Drop for Body {
    /// A response dropped unread may still be complete as it stands — a
    /// `HEAD`'s, a `204`'s, a body read to its last byte but not to the
    /// `None` after it, or one whose rest is already buffered: then its
    /// connection goes back to the pool as if it had been read to the end.
    /// (Decoding the buffered bytes only: nothing waits here. On no loop,
    /// or another loop than the connection's, it just closes.)
    fn drop(&mut self) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        if std::thread::panicking()
            || crate::context::with_current(|_| ()).is_none()
            || !conn.stream.on_current_loop()
        {
            return;
        }
        loop {
            match conn
                .decoder
                .decode(&conn.buf[conn.start..conn.end], conn.eof)
            {
                Ok((used, Event::Data(_))) => conn.start += used,
                Ok((used, Event::End)) => {
                    conn.start += used;
                    self.finish();
                    return;
                }
                // More is to come (or the body is broken): the connection closes.
                _ => return,
            }
        }
    }
}

impl fmt::Debug for StreamingResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamingResponse")
            .field("status", &self.status)
            .field("version", &self.version)
            .field("reason", &self.reason)
            .field("headers", &self.headers)
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

/// A complete response, body in memory: from [`RequestBuilder::send`] or
/// [`get`](super::get).
///
/// # Examples
///
/// ```
/// use corio::http::{self, server::{Reply, Server}};
///
/// corio::run(async {
///     let server = Server::bind("127.0.0.1:0", |_req| async { Reply::html("<h1>hi</h1>") }).await?;
///     let response = http::get(server.url("/")).await?;
///     println!("{} {} {}", response.version, response.status, response.reason); // HTTP/1.1 200 OK
///     assert_eq!(response.header("content-type"), Some("text/html; charset=utf-8"));
///     assert_eq!(response.text(), "<h1>hi</h1>");
///     Ok::<_, Box<dyn std::error::Error>>(())
/// })
/// .unwrap();
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The HTTP version of the response.
    pub version: Version,
    /// The reason phrase.
    pub reason: String,
    /// The header fields (values as bytes; lookup ignores case).
    pub headers: Headers,
    /// The body.
    pub body: Vec<u8>,
    url: Arc<str>,
}

impl Response {
    /// The body as text, decoded by the `charset` of its `Content-Type`:
    /// ISO-8859-1 (also named `latin1`, `l1`) byte for byte; anything else
    /// — UTF-8, no charset, a charset corio does not know (`us-ascii`
    /// included: a page labelled so is often UTF-8, and ASCII decodes the
    /// same either way) — as UTF-8, with invalid bytes replaced by `�`.
    /// (The raw bytes are in [`body`](Self::body), for other decoders.)
    /// The body is as sent: corio asks for `Accept-Encoding: identity` and
    /// decompresses nothing, so a server that compresses anyway gives
    /// compressed bytes — its `Content-Encoding` header says so.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::server::{Reply, Server};
    ///
    /// corio::run(async {
    ///     let server = Server::bind("127.0.0.1:0", |req| async move {
    ///         match req.path() {
    ///             "/latin1" => Reply::new(200)
    ///                 .header("Content-Type", "text/plain; charset=ISO-8859-1")
    ///                 .body(vec![b'h', 0xe9, b'l']),
    ///             "/mislabelled" => Reply::new(200)
    ///                 .header("Content-Type", "text/plain; charset=us-ascii")
    ///                 .body("café"),
    ///             _ => Reply::text("事件循环"),
    ///         }
    ///     })
    ///     .await?;
    ///     let get = |path| corio::http::get(server.url(path));
    ///     assert_eq!(get("/").await?.text(), "事件循环");
    ///     assert_eq!(get("/latin1").await?.text(), "hél");
    ///     assert_eq!(get("/mislabelled").await?.text(), "café"); // often UTF-8
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn text(&self) -> Cow<'_, str> {
        decode_text(&self.headers, &self.body)
    }

    /// The first value of header `name` (any case), if it is UTF-8; the
    /// raw bytes are in [`headers`](Self::headers).
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::server::{Reply, Server};
    ///
    /// corio::run(async {
    ///     let server = Server::bind("127.0.0.1:0", |_req| async { Reply::text("x").header("X-Id", "7") }).await?;
    ///     assert_eq!(corio::http::get(server.url("/")).await?.header("x-id"), Some("7"));
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get_str(name)
    }

    /// The URL that answered (after redirects), as parsed: without stray
    /// spaces, the scheme and host in lower case.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::server::{Reply, Server};
    ///
    /// corio::run(async {
    ///     let server = Server::bind("127.0.0.1:0", |req| async move {
    ///         match req.path() {
    ///             "/old" => Reply::redirect(301, "/new"),
    ///             _ => Reply::text("moved here"),
    ///         }
    ///     })
    ///     .await?;
    ///     let response = corio::http::get(server.url("/old")).await?;
    ///     assert!(response.url().ends_with("/new"));
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Is the status 2xx?
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::server::{Reply, Server};
    ///
    /// corio::run(async {
    ///     let server = Server::bind("127.0.0.1:0", |_req| async { Reply::new(500) }).await?;
    ///     assert!(!corio::http::get(server.url("/")).await?.is_success());
    ///     Ok::<_, Box<dyn std::error::Error>>(())
    /// })
    /// .unwrap();
    /// ```
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.status)
            .field("version", &self.version)
            .field("reason", &self.reason)
            .field("headers", &self.headers)
            .field("body", &format_args!("{} bytes", self.body.len()))
            .field("url", &self.url)
            .finish()
    }
}

/// Idle connections, by `host:port`, newest last.
#[derive(Default)]
struct Pool {
    idle: HashMap<PoolKey, Vec<Idle>, BuildHasherDefault<KeyHash>>,
    /// The task closing expired connections, if one was started.
    reaper: Option<Reaper>,
}

/// A reaper task, on the loop it runs on.
struct Reaper {
    /// Cleared by the task when it ends.
    running: Rc<Cell<bool>>,
    /// Its loop: a client used on another loop needs a reaper there.
    /// (Weak: a client that outlives the loop must not keep it open.)
    on: std::rc::Weak<crate::core::Core>,
    /// Cancelled when the pool goes (the client dropped), or when a new
    /// reaper replaces it, so that it does not sleep on until the next
    /// expiry.
    _task: crate::CancelOnDrop<()>,
}

struct Idle {
    conn: Box<Conn>,
    since: Instant,
}

impl Pool {
    fn len(&self) -> usize {
        self.idle.values().map(Vec::len).sum()
    }

    /// Puts a connection back, and makes sure a reaper will close it when
    /// it has been idle too long.
    fn checkin(inner: &Rc<Inner>, mut conn: Box<Conn>) {
        let config = &inner.config;
        if config.pool_max_idle_per_host == 0 || config.pool_idle_timeout.is_zero() {
            return; // no pooling: the connection closes
        }
        // An idle connection does not count against `max_connections`.
        if conn.permit.is_some() {
            conn.permit = None;
        }
        let mut pool = inner.pool.borrow_mut();
        // The key is usually there already (its connections are out
        // serving requests): look it up without cloning it.
        let idle = match pool.idle.get_mut(&conn.key) {
            Some(idle) => idle,
            None => pool.idle.entry(conn.key.clone()).or_default(),
        };
        if idle.len() >= config.pool_max_idle_per_host {
            idle.remove(0); // the oldest goes
        }
        // The loop's clock: it may lag (`Core::loop_time`), which only
        // shortens the connection's stay by that much.
        let since = conn.stream.loop_time();
        idle.push(Idle { conn, since });
        let here = pool.reaper.as_ref().is_some_and(|reaper| {
            reaper.running.get()
                && crate::context::with_current(|core| {
                    std::ptr::eq(Rc::as_ptr(core), reaper.on.as_ptr())
                }) == Some(true)
        });
        if !here {
            // A reaper starts on this loop: connections of loops that have
            // closed are of no use any more (their reapers dropped their
            // own as they went; these were left without one).
            let on = Rc::downgrade(&crate::context::current("corio::http"));
            let closed = pool.take_idle(TcpStream::loop_closed);
            let running = Rc::new(Cell::new(true));
            let task = crate::Builder::new()
                .name("corio::http pool reaper")
                .spawn(reap(Rc::downgrade(inner), Rc::clone(&running), on.clone()));
            let old = pool.reaper.replace(Reaper {
                running,
                on,
                _task: task.cancel_on_drop(),
            });
            drop(pool);
            drop((closed, old)); // closed, and cancelled, outside the pool's borrow
        }
    }

    /// Takes out the idle connections whose stream is `doomed`, for the
    /// caller to close.
    fn take_idle(&mut self, doomed: impl Fn(&TcpStream) -> bool) -> Vec<Idle> {
        let mut taken = Vec::new();
        for idle in self.idle.values_mut() {
            if !idle.iter().any(|entry| doomed(&entry.conn.stream)) {
                continue; // the usual case: nothing to take, nothing to move
            }
            let (gone, kept): (Vec<Idle>, Vec<Idle>) = std::mem::take(idle)
                .into_iter()
                .partition(|entry| doomed(&entry.conn.stream));
            *idle = kept;
            taken.extend(gone);
        }
        self.idle.retain(|_, idle| !idle.is_empty());
        taken
    }

    /// Closes connections idle for `timeout` or more; returns when the
    /// next one expires.
    fn purge(&mut self, timeout: Duration) -> Option<Instant> {
        let now = Instant::now();
        for idle in self.idle.values_mut() {
            idle.retain(|entry| now.duration_since(entry.since) < timeout);
        }
        self.idle.retain(|_, idle| !idle.is_empty());
        self.idle
            .values()
            .flatten()
            // A timeout too long to add to an instant never expires.
            .filter_map(|entry| entry.since.checked_add(timeout))
            .min()
    }
}

/// The pool's reaper: a task that sleeps until the next idle connection
/// expires, closes it, and ends once the pool has stayed empty for a
/// moment (or the client is gone). Dropped unfinished — its loop ending,
/// or a reaper on another loop taking over — it clears the flag too, and
/// closes the idle connections of its loop (and of closed ones): a client
/// that outlives a loop must not keep it open with them.
fn reap(
    client: Weak<Inner>,
    running: Rc<Cell<bool>>,
    on: Weak<crate::core::Core>,
) -> impl Future<Output = ()> {
    struct Clear {
        running: Rc<Cell<bool>>,
        client: Weak<Inner>,
        on: Weak<crate::core::Core>,
        finished: bool,
    }
    impl Drop for Clear {
        fn drop(&mut self) {
            self.running.set(false);
            if self.finished {
                return;
            }
            let Some(inner) = self.client.upgrade() else {
                return;
            };
            // (Not while the pool is borrowed: then it is being worked on,
            // and the next reaper's start drops closed loops' connections.)
            // Its own handle goes too: a task handle keeps its loop.
            let doomed = inner.pool.try_borrow_mut().map(|mut pool| {
                let reaper = pool
                    .reaper
                    .take_if(|reaper| std::ptr::eq(reaper.on.as_ptr(), self.on.as_ptr()));
                let idle =
                    pool.take_idle(|stream| stream.of_loop(&self.on) || stream.loop_closed());
                (reaper, idle)
            });
            drop(doomed); // closed outside the pool's borrow
        }
    }
    // Made here, outside the `async` block, so that it is dropped with a
    // reaper that never ran as well.
    let clear = Clear {
        running,
        client: client.clone(),
        on,
        finished: false,
    };
    async move {
        let mut clear = clear; // (the whole guard, not just the field used)
        // An empty pool is often empty only for a moment — every connection
        // is out serving a request — so the reaper ends only when the pool is
        // still empty a little later (else a busy client would start a reaper
        // for nearly every request). A little: while it lingers, its timer
        // keeps a loop that is otherwise stuck from being reported.
        let mut was_empty = false;
        loop {
            let (next, linger, empty) = {
                let Some(inner) = client.upgrade() else {
                    clear.finished = true;
                    return;
                };
                let mut pool = inner.pool.borrow_mut();
                let timeout = inner.config.pool_idle_timeout;
                let next = pool.purge(timeout);
                (next, timeout.min(REAPER_LINGER), pool.idle.is_empty())
            };
            match next {
                Some(at) => crate::time::sleep_until(at).await,
                // Nothing left (for a while now), or nothing that will ever
                // expire (a timeout too long to add to an instant).
                None if was_empty || !empty => {
                    clear.finished = true;
                    return;
                }
                None => crate::time::sleep(linger).await,
            }
            was_empty = empty;
        }
    }
}

/// How long the reaper waits on an empty pool before it ends.
const REAPER_LINGER: Duration = Duration::from_secs(1);

/// A key of the pool: `host:port`, with its hash worked out once (per URL
/// parsed, or per connection), not at every check-out and check-in. Keys
/// of the same URL share their text, so most comparisons are one of
/// pointers.
#[derive(Clone)]
struct PoolKey {
    hash: u64,
    name: Rc<str>,
}

impl PoolKey {
    fn new(name: Rc<str>) -> PoolKey {
        let mut hasher = WordHash::default();
        hasher.write(name.as_bytes());
        PoolKey {
            hash: hasher.finish(),
            name,
        }
    }
}

impl PartialEq for PoolKey {
    fn eq(&self, other: &PoolKey) -> bool {
        Rc::ptr_eq(&self.name, &other.name) || (self.hash == other.hash && self.name == other.name)
    }
}

impl Eq for PoolKey {}

impl std::hash::Hash for PoolKey {
    fn hash<H: Hasher>(&self, state: &mut H) {
        state.write_u64(self.hash);
    }
}

/// The pool map's hasher: a [`PoolKey`] brings its hash along.
#[derive(Default)]
struct KeyHash(u64);

impl Hasher for KeyHash {
    fn write(&mut self, bytes: &[u8]) {
        // (Not used by `PoolKey`; any other key still hashes well.)
        let mut words = WordHash(self.0);
        words.write(bytes);
        self.0 = words.0;
    }

    fn write_u64(&mut self, hash: u64) {
        self.0 = hash;
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// The pool's hash: FxHash's multiply-and-rotate, eight bytes at a time
/// (byte-at-a-time FNV cost more than the rest of a pool lookup). Keys are
/// `host:port` strings and the map holds only idle connections, at most
/// `max_idle_per_host` per key, so a weak hash costs little even when the
/// hosts come from crawled links.
#[derive(Default)]
struct WordHash(u64);

impl WordHash {
    fn mix(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

impl Hasher for WordHash {
    fn write(&mut self, bytes: &[u8]) {
        let mut words = bytes.chunks_exact(8);
        for word in &mut words {
            let mut eight = [0u8; 8];
            eight.copy_from_slice(word);
            self.mix(u64::from_le_bytes(eight));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut eight = [0u8; 8];
            eight[..rest.len()].copy_from_slice(rest);
            self.mix(u64::from_le_bytes(eight));
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

/// `body` as text, by the `charset` of the `Content-Type` in `headers`
/// (see [`Response::text`]).
fn decode_text<'a>(headers: &Headers, body: &'a [u8]) -> Cow<'a, str> {
    let latin1 = headers
        .get("content-type")
        .and_then(charset)
        .is_some_and(|name| {
            ["iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1"]
                .iter()
                .any(|known| name.eq_ignore_ascii_case(known.as_bytes()))
        });
    if latin1 {
        Cow::Owned(body.iter().map(|&byte| char::from(byte)).collect())
    } else {
        String::from_utf8_lossy(body)
    }
}

/// The `charset` parameter of a `Content-Type` value, unquoted.
fn charset(content_type: &[u8]) -> Option<&[u8]> {
    content_type
        .split(|&b| b == b';')
        .skip(1)
        .find_map(|param| {
            let param = param.trim_ascii();
            let (name, value) = param.split_at(param.iter().position(|&b| b == b'=')?);
            if !name.trim_ascii().eq_ignore_ascii_case(b"charset") {
                return None;
            }
            let value = value[1..].trim_ascii();
            Some(
                value
                    .strip_prefix(b"\"")
                    .and_then(|v| v.strip_suffix(b"\""))
                    .unwrap_or(value),
            )
        })
}

#[cfg(test)]
mod tests {
    use super::charset;

    #[test]
    fn the_charset_parameter_is_found_in_any_case_with_or_without_quotes() {
        let found = |value: &str| charset(value.as_bytes()).map(|c| c.to_vec());
        assert_eq!(
            found("text/html; charset=ISO-8859-1"),
            Some(b"ISO-8859-1".to_vec())
        );
        assert_eq!(
            found("text/html;charset=\"latin1\""),
            Some(b"latin1".to_vec())
        );
        assert_eq!(
            found("text/html; q=1 ; CharSet = utf-8 "),
            Some(b"utf-8".to_vec())
        );
        assert_eq!(found("text/html"), None);
        assert_eq!(found("text/html; charset"), None);
        assert_eq!(found("charset=utf-8"), None, "a parameter, not the type");
        assert_eq!(found("text/html; charset=\""), Some(b"\"".to_vec()));
    }
}
