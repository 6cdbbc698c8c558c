//! A small HTTP/1.1 client (and a demo server): what the crawlers of
//! seeds 001 and 004 — the Python tutorials corio grew from — reach for
//! with `requests` in a thread pool and `aiohttp` in coroutines.
//!
//! ```python
//! async with aiohttp.ClientSession() as sess:        # client = Client::new()
//!     async with await sess.get(url) as response:    # client.get(url).send().await?
//!         page_text = await response.text()          # response.text()
//! ```
//!
//! * [`get`] — one request with default settings.
//! * [`Client`] — settings and a pool of kept-alive connections:
//!   connect / read / total timeouts, redirects (with a limit and loop
//!   detection), size limits for the response head and body, default
//!   headers, an optional limit on the connections in use at once.
//!   [`RequestBuilder::send`] gives a [`Response`] with the body
//!   in memory; [`RequestBuilder::send_streaming`] a [`StreamingResponse`]
//!   to read piece by piece.
//! * [`ResponseDecoder`] — the response parser on its own, with no I/O
//!   ("sans-I/O"): bytes in, [`Event`]s out. It is where every rule about
//!   untrusted input lives, so it is public, tested with every way of
//!   splitting a response, and fuzzed.
//! * [`server`] — a small demo server for examples and tests.
//!
//! **What goes wrong is an [`Error`]** with an [`ErrorKind`]: `Timeout`,
//! `TooLarge`, `Malformed`, `Closed`, `Io`, `Unsupported` (`https://`: corio
//! has no TLS), `TooManyRedirects`, `InvalidRequest`. Nothing a server
//! sends can make the client panic, and no request waits past its time
//! limits. An HTTP error status (404, 500) is a [`Response`], not an error.
//!
//! **How a request travels.** The URL is parsed by the `url` crate; the
//! host name is resolved on the thread pool (never on the loop); the
//! request goes out from one buffer; the response is read into a buffer and
//! fed to the decoder until it has the head; the body is decoded from the
//! same buffer as it arrives. A connection whose response ended cleanly,
//! with keep-alive on both sides, waits in the client's pool for the next
//! request to the same `host:port`.
//!
//! # Examples
//!
//! Seed 004's crawler: three pages fetched at once, each parsed in a done
//! callback, from a local server whose pages take 200 ms each. The callback
//! gets what awaiting the task would give: `Err(TaskError)` if the task was
//! cancelled or panicked, else the task's output — here the
//! `Result<Response, http::Error>` of `http::get`.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use corio::http::{self, server::{Reply, Server}};
//!
//! corio::run(async {
//!     let site = Server::bind("127.0.0.1:0", |req| async move {
//!         corio::time::sleep(Duration::from_millis(200)).await; // a slow page
//!         Reply::html(format!(r#"<a id="feng" href="{}/next">next</a>"#, req.path()))
//!     })
//!     .await?;
//!     let start = Instant::now();
//!     let mut tasks = Vec::new();
//!     for page in ["/bobo", "/jay", "/tom"] {
//!         let task = corio::spawn(http::get(site.url(page)));
//!         task.add_done_callback(|result| {
//!             // parse(t): the page, or the error, arrives here
//!             if let Ok(Ok(response)) = result {
//!                 println!("{}", response.text());
//!             }
//!         });
//!         tasks.push(task);
//!     }
//!     let pages = corio::gather(tasks).await;
//!     assert!(pages.iter().all(|page| matches!(page, Ok(Ok(r)) if r.status == 200)));
//!     assert!(start.elapsed() < Duration::from_millis(550)); // together (~200 ms), not one by one (600)
//!     Ok::<_, std::io::Error>(())
//! })
//! .unwrap();
//! ```

mod client;
mod decode;
mod error;
mod headers;
mod request;
pub mod server;

pub use client::{Builder, Client, RequestBuilder, Response, StreamingResponse};
pub use decode::{Event, Head, ResponseDecoder, Version};
pub use error::{Error, ErrorKind};
pub use headers::{Fields, GetAll, Headers};
pub use request::Method;

/// `GET url` with a fresh [`Client`] of default settings: the whole
/// response in memory. For many requests, make one `Client` and reuse it:
/// it keeps connections alive.
///
/// # Errors
///
/// An [`Error`] with its [`ErrorKind`]; an HTTP error status is not one.
///
/// # Panics
///
/// Outside a running loop.
///
/// # Examples
///
/// ```
/// use corio::http::{self, server::{Reply, Server}};
///
/// corio::run(async {
///     let server = Server::bind("127.0.0.1:0", |_req| async { Reply::text("hello") }).await?;
///     let response = http::get(server.url("/")).await?;
///     assert_eq!((response.status, response.text().as_ref()), (200, "hello"));
///     Ok::<_, Box<dyn std::error::Error>>(())
/// })
/// .unwrap();
/// ```
pub async fn get(url: impl AsRef<str>) -> Result<Response, Error> {
    Client::new().get(url).send().await
}

/// Checks `url` the way every request does before anything is sent: a
/// URL, `http://` (no TLS: `https://` is [`ErrorKind::Unsupported`]), a
/// host, no credentials (`user:password@`). The error is the one a
/// request for it would give — for a tool to tell a mistake in its
/// arguments from a failure on the network.
///
/// # Examples
///
/// ```
/// use corio::http::{check_url, ErrorKind};
///
/// assert!(check_url("http://127.0.0.1:8000/a?b=c").is_ok());
/// assert_eq!(check_url("https://example.com/").unwrap_err().kind(), ErrorKind::Unsupported);
/// assert_eq!(check_url("not a url").unwrap_err().kind(), ErrorKind::InvalidRequest);
/// assert_eq!(check_url("http:///path").unwrap_err().kind(), ErrorKind::InvalidRequest); // no host
/// assert_eq!(check_url("http://me:pw@host/").unwrap_err().kind(), ErrorKind::Unsupported);
/// ```
pub fn check_url(url: &str) -> Result<(), Error> {
    request::parse_url(url).map(drop)
}
