//! The request side: which server a URL names, and the bytes of a request
//! head.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use url::{Host, Url};

use super::error::{Error, ErrorKind};
use super::headers::Headers;

/// An HTTP request method.
///
/// # Examples
///
/// ```
/// use corio::http::Method;
///
/// assert_eq!(Method::Get.as_str(), "GET");
/// assert!(Method::Put.is_idempotent());
/// assert!(!Method::Post.is_idempotent());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Method {
    /// `GET`: fetch a resource.
    Get,
    /// `HEAD`: like `GET`, but the response has no body.
    Head,
    /// `POST`: send data to be processed.
    Post,
    /// `PUT`: store the body at the URL.
    Put,
    /// `DELETE`: remove the resource.
    Delete,
    /// `PATCH`: change part of the resource.
    Patch,
    /// `OPTIONS`: ask what the server allows.
    Options,
}

impl Method {
    /// The method as it appears on the request line.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(corio::http::Method::Delete.as_str(), "DELETE");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
            Method::Options => "OPTIONS",
        }
    }

    /// May the request be sent twice with the effect of once (RFC 9110
    /// §9.2.2)? Only these are retried after a reused connection turns out
    /// to have been closed by the server.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::Method;
    ///
    /// assert!(Method::Get.is_idempotent() && Method::Delete.is_idempotent());
    /// assert!(!Method::Patch.is_idempotent());
    /// ```
    pub fn is_idempotent(self) -> bool {
        !matches!(self, Method::Post | Method::Patch)
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A method by its name, as sent (method names are case-sensitive, RFC
/// 9110 §9.1): for a tool's `-X PUT` option. Others are an
/// `InvalidRequest` error.
///
/// # Examples
///
/// ```
/// use corio::http::{ErrorKind, Method};
///
/// assert_eq!("PUT".parse::<Method>().unwrap(), Method::Put);
/// assert_eq!("put".parse::<Method>().unwrap_err().kind(), ErrorKind::InvalidRequest);
/// ```
impl std::str::FromStr for Method {
    type Err = Error;

    fn from_str(name: &str) -> Result<Method, Error> {
        const ALL: [Method; 7] = [
            Method::Get,
            Method::Head,
            Method::Post,
            Method::Put,
            Method::Delete,
            Method::Patch,
            Method::Options,
        ];
        ALL.into_iter()
            .find(|method| method.as_str() == name)
            .ok_or_else(|| {
                Error::new(
                    ErrorKind::InvalidRequest,
                    format!("{name:?} is not a method corio sends (GET, HEAD, POST, PUT, DELETE, PATCH, OPTIONS)"),
                )
            })
    }
}

/// Where a URL sends a request: the server to connect to, the `Host`
/// header and the request target.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// Connect here: a name to resolve, or an address.
    pub(crate) connect: Connect,
    /// `host[:port]` as the `Host` header wants it; also the key under
    /// which idle connections wait (an `Rc`: every pooled connection keeps
    /// a copy of its key, and returning one to the pool should not
    /// allocate).
    pub(crate) authority: std::rc::Rc<str>,
    /// `/path?query`, percent-encoding as given.
    pub(crate) path_and_query: String,
}

#[derive(Debug, Clone)]
pub(crate) enum Connect {
    Name(String, u16),
    Addr(SocketAddr),
}

/// Parses `url` (with the `url` crate) and checks that corio can fetch it.
pub(crate) fn parse_url(url: &str) -> Result<Url, Error> {
    let parsed = Url::parse(url);
    if no_scheme(url, &parsed) {
        let shown = url.trim();
        return Err(Error::new(
            ErrorKind::InvalidRequest,
            format!("the URL has no scheme (did you mean http://{shown}?)"),
        )
        .at(url));
    }
    let parsed = parsed.map_err(|err| {
        Error::new(ErrorKind::InvalidRequest, format!("not a URL: {err}")).at(url)
    })?;
    check_url(&parsed).map_err(|err| err.at(url))?;
    // The URL standard reads `http:///x`, `http:/x` and `http:x` as
    // `http://x/`, which a browser's address bar wants; in a program they
    // are a forgotten host (Python's urllib: "no host given").
    // (The first `:` ends the scheme: no scheme character is one.)
    let after_scheme = url.split_once(':').map_or("", |(_, rest)| rest);
    let slashes = after_scheme
        .bytes()
        .filter(|b| !matches!(b, b'\t' | b'\n' | b'\r')) // which the URL standard drops
        .take_while(|b| matches!(b, b'/' | b'\\'))
        .count();
    if slashes != 2 {
        return Err(Error::new(
            ErrorKind::InvalidRequest,
            "the URL has no host (write http://host/path)",
        )
        .at(url));
    }
    Ok(parsed)
}

/// Is `url` a host and path without `http://` — `example.com/x`,
/// `127.0.0.1:8080/x`, `localhost:8080` (which the URL standard reads as
/// the scheme `localhost:`)?
fn no_scheme(url: &str, parsed: &Result<Url, url::ParseError>) -> bool {
    let url = url.trim();
    if url.contains("://") || url.is_empty() || url.contains(char::is_whitespace) {
        return false;
    }
    match parsed {
        Err(url::ParseError::RelativeUrlWithoutBase) => true,
        // `host:port...`: a "scheme" followed by a port number.
        Ok(parsed) => {
            !matches!(parsed.scheme(), "http" | "https")
                && parsed.path().starts_with(|c: char| c.is_ascii_digit())
        }
        Err(_) => false,
    }
}

/// Only `http://` URLs with a host and no credentials are fetched.
pub(crate) fn check_url(url: &Url) -> Result<(), Error> {
    match url.scheme() {
        "http" => {}
        "https" => {
            return Err(Error::new(
                ErrorKind::Unsupported,
                "https:// needs TLS, which corio does not have (use http://, or a TLS-capable client)",
            ));
        }
        other => {
            return Err(Error::new(
                ErrorKind::Unsupported,
                format!("the scheme {other}:// is not supported (corio speaks http:// only)"),
            ));
        }
    }
    if url.host().is_none() {
        return Err(Error::new(ErrorKind::InvalidRequest, "the URL has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Error::new(
            ErrorKind::Unsupported,
            "credentials in the URL (user:password@) are not supported; send an Authorization header",
        ));
    }
    Ok(())
}

/// The target of a checked `http://` URL.
pub(crate) fn target(url: &Url) -> Target {
    let port = url.port_or_known_default().unwrap_or(80);
    let (connect, host) = match url.host() {
        Some(Host::Ipv4(ip)) => (
            Connect::Addr(SocketAddr::new(IpAddr::V4(ip), port)),
            ip.to_string(),
        ),
        Some(Host::Ipv6(ip)) => (
            Connect::Addr(SocketAddr::new(IpAddr::V6(ip), port)),
            format!("[{ip}]"),
        ),
        Some(Host::Domain(name)) => (Connect::Name(name.to_owned(), port), name.to_owned()),
        None => (Connect::Name(String::new(), port), String::new()), // refused by `check_url`
    };
    let authority = match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host,
    };
    let mut path_and_query = url.path().to_owned();
    if let Some(query) = url.query() {
        path_and_query.push('?');
        path_and_query.push_str(query);
    }
    Target {
        connect,
        authority: authority.into(),
        path_and_query,
    }
}

/// `headers` as they go on the wire: `Name: value\r\n` each.
pub(crate) fn wire_form(headers: &Headers) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in headers.iter() {
        put(&mut out, name, value);
    }
    out
}

/// Writes a request head (and body) into `out`: one buffer, which the
/// connection writes out write by write.
/// `Host` and the default fields come first, unless `headers` sets them;
/// then `headers`, then the `Content-Length` the client computes from the
/// body. `headers` was validated when it was built.
pub(crate) fn encode(
    out: &mut Vec<u8>,
    method: Method,
    target: &Target,
    headers: &Headers,
    defaults: &Headers,
    defaults_wire: Option<&[u8]>,
    body: &[u8],
) {
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.path_and_query.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    if !headers.contains("host") {
        put(out, "Host", target.authority.as_bytes());
    }
    match defaults_wire {
        // The usual case, in one copy: no field of the request overrides a default.
        Some(wire) if headers.is_empty() => out.extend_from_slice(wire),
        _ => {
            for (name, value) in defaults.iter() {
                if !headers.contains(name) {
                    put(out, name, value);
                }
            }
        }
    }
    for (name, value) in headers.iter() {
        put(out, name, value);
    }
    if !body.is_empty() || matches!(method, Method::Post | Method::Put | Method::Patch) {
        put(out, "Content-Length", body.len().to_string().as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// One `Name: value\r\n` line.
pub(crate) fn put(out: &mut Vec<u8>, name: &str, value: &[u8]) {
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}
