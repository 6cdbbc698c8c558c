//! `http::Error`: what went wrong, as a kind you can match on and a
//! sentence you can print.

use std::fmt;
use std::io;

/// Which way a request failed. Match on it; print the [`Error`] itself for
/// the details.
///
/// # Examples
///
/// ```
/// use corio::http::{self, ErrorKind};
///
/// corio::run(async {
///     let err = http::get("https://example.com/").await.unwrap_err();
///     assert_eq!(err.kind(), ErrorKind::Unsupported); // no TLS in corio
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// A connect, read, write or total time limit passed.
    Timeout,
    /// The response head (trailers included) or body is larger than the
    /// client's limit, or the head has more than 128 header fields.
    TooLarge,
    /// The response breaks HTTP/1.1's rules: a bad status line or header,
    /// bad chunk framing, conflicting or invalid `Content-Length`, a
    /// `Location` that is not a URL.
    Malformed,
    /// The server closed the connection before the response was complete
    /// (or a streaming body was read on another event loop than the one
    /// that sent its request: its connection cannot be used there).
    Closed,
    /// The network said no: connection refused or reset, name not found.
    Io,
    /// Something corio does not do: `https://` and other schemes,
    /// credentials in the URL (`user:password@`), a transfer coding other
    /// than `chunked`, `101 Switching Protocols`.
    Unsupported,
    /// More redirects than the client allows, or a redirect loop.
    TooManyRedirects,
    /// The request could not be sent as given (a URL that does not parse,
    /// a header name that is not a token, a value with a control byte);
    /// nothing was sent.
    InvalidRequest,
}

impl ErrorKind {
    fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Timeout => "timed out",
            ErrorKind::TooLarge => "response too large",
            ErrorKind::Malformed => "malformed response",
            ErrorKind::Closed => "connection closed early",
            ErrorKind::Io => "network error",
            ErrorKind::Unsupported => "unsupported",
            ErrorKind::TooManyRedirects => "too many redirects",
            ErrorKind::InvalidRequest => "invalid request",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed HTTP request: its [`kind`](Error::kind), a message that says
/// what happened, and the URL it happened at.
///
/// It converts into `std::io::Error` (so `?` works in functions returning
/// `io::Result`): `Timeout` becomes `TimedOut`, `Closed` `UnexpectedEof`,
/// `Unsupported` `Unsupported`, `InvalidRequest` `InvalidInput`, `Io` keeps
/// the underlying error's kind, and the rest become `InvalidData`.
///
/// # Examples
///
/// ```
/// use corio::http::{self, ErrorKind};
///
/// corio::run(async {
///     let err = http::get("http://exa mple.com/").await.unwrap_err();
///     assert_eq!(err.kind(), ErrorKind::InvalidRequest);
///     println!("{err}"); // invalid request: not a URL: invalid international domain name (http://exa mple.com/)
/// });
/// ```
pub struct Error {
    /// Boxed: `Result<T, Error>` is then hardly larger than `T`, and the
    /// client's futures pass results up through several levels on every
    /// request — errors are the rare case that may pay for an allocation.
    inner: Box<Inner>,
}

struct Inner {
    kind: ErrorKind,
    message: String,
    url: Option<String>,
    source: Option<io::Error>,
    /// It failed while connecting: nothing was sent.
    connect: bool,
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Inner {
            kind,
            message,
            url,
            source,
            connect,
        } = &*self.inner;
        f.debug_struct("Error")
            .field("kind", kind)
            .field("message", message)
            .field("url", url)
            .field("source", source)
            .field("connect", connect)
            .finish()
    }
}

impl Error {
    /// A copy (an `io::Error` source is copied as its kind and message):
    /// for a builder that holds the first bad setting and is cloned.
    pub(crate) fn duplicate(&self) -> Error {
        let Inner {
            kind,
            message,
            url,
            source,
            connect,
        } = &*self.inner;
        Error {
            inner: Box::new(Inner {
                kind: *kind,
                message: message.clone(),
                url: url.clone(),
                source: source
                    .as_ref()
                    .map(|err| io::Error::new(err.kind(), err.to_string())),
                connect: *connect,
            }),
        }
    }

    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                url: None,
                source: None,
                connect: false,
            }),
        }
    }

    /// Marks a failure to connect (resolving the name, connecting, the
    /// connect or total time limit passing meanwhile).
    pub(crate) fn connecting(mut self) -> Error {
        self.inner.connect = true;
        self
    }

    /// An I/O error; timeouts and early closes get their own kinds.
    pub(crate) fn io(err: io::Error, doing: &str) -> Error {
        let kind = match err.kind() {
            io::ErrorKind::TimedOut => ErrorKind::Timeout,
            io::ErrorKind::UnexpectedEof => ErrorKind::Closed,
            _ => ErrorKind::Io,
        };
        let mut error = Error::new(kind, format!("{doing}: {err}"));
        error.inner.source = Some(err);
        error
    }

    /// Attaches the URL, unless one is already there.
    pub(crate) fn at(mut self, url: &str) -> Error {
        if self.inner.url.is_none() {
            self.inner.url = Some(url.to_owned());
        }
        self
    }

    /// What kind of failure this is.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::{self, ErrorKind};
    ///
    /// corio::run(async {
    ///     let err = http::get("ftp://example.com/file").await.unwrap_err();
    ///     assert_eq!(err.kind(), ErrorKind::Unsupported);
    /// });
    /// ```
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The URL of the request that failed (after redirects: the last one).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let err = corio::http::get("https://example.com/").await.unwrap_err();
    ///     assert_eq!(err.url(), Some("https://example.com/"));
    /// });
    /// ```
    pub fn url(&self) -> Option<&str> {
        self.inner.url.as_deref()
    }

    /// Is this a time limit passing? (`kind() == Timeout`.)
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let err = corio::http::get("https://example.com/").await.unwrap_err();
    ///     assert!(!err.is_timeout());
    /// });
    /// ```
    pub fn is_timeout(&self) -> bool {
        self.inner.kind == ErrorKind::Timeout
    }

    /// Did the request fail while connecting — resolving the name, a
    /// refused connection, the connect timeout (or the total one passing
    /// meanwhile)? Then nothing was sent, and trying again is safe
    /// whatever the method (requests' `ConnectionError` and
    /// `ConnectTimeout`, aiohttp's `ClientConnectorError`). A timeout or
    /// a reset after the connection was made is not one: the server may
    /// have acted on the request.
    ///
    /// # Examples
    ///
    /// ```
    /// // A port nobody listens on: bound, then let go.
    /// let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    /// corio::run(async move {
    ///     let client = corio::http::Client::new();
    ///     let err = client.post(format!("http://127.0.0.1:{port}/")).send().await.unwrap_err();
    ///     assert!(err.is_connect()); // refused: safe to retry, even a POST
    /// });
    /// ```
    pub fn is_connect(&self) -> bool {
        self.inner.connect
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.inner.kind, self.inner.message)?;
        if let Some(url) = &self.inner.url {
            write!(f, " ({url})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.inner.source.as_ref().map(|e| e as _)
    }
}

impl From<Error> for io::Error {
    fn from(err: Error) -> io::Error {
        let kind = match (&err.inner.source, err.inner.kind) {
            (Some(source), ErrorKind::Io) => source.kind(),
            (_, ErrorKind::Timeout) => io::ErrorKind::TimedOut,
            (_, ErrorKind::Closed) => io::ErrorKind::UnexpectedEof,
            (_, ErrorKind::Unsupported) => io::ErrorKind::Unsupported,
            (_, ErrorKind::InvalidRequest) => io::ErrorKind::InvalidInput,
            _ => io::ErrorKind::InvalidData,
        };
        io::Error::new(kind, err)
    }
}
