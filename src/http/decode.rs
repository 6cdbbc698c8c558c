//! The response decoder: bytes in, events out, and no I/O at all.
//!
//! This is the part of an HTTP client that must never trust its input.
//! It is written "sans-I/O": [`ResponseDecoder::decode`] looks at the bytes
//! received so far and says what they contain — nothing yet, the head, a
//! piece of body, the end — and how many of them it used. The client owns
//! the socket and the buffer; the decoder owns only the rules. That makes
//! it easy to test with every way of splitting a response into reads, and
//! to fuzz.
//!
//! The rules it enforces (RFC 9112):
//!
//! * the head is parsed by `httparse`, and must fit in `max_head_bytes`; a
//!   field value folded over lines (obs-fold) is unfolded, each line end of
//!   the fold becoming spaces (RFC 9112 §5.2);
//! * `1xx` interim heads are skipped; `101` is refused (corio never asks to
//!   switch protocols);
//! * a response to `HEAD`, and `204` and `304`, have no body, whatever
//!   length or coding their headers announce (framing fields that break
//!   the rules below — a bad or conflicting `Content-Length`, both
//!   framings at once — are still errors);
//! * otherwise the body is framed by `Transfer-Encoding: chunked`, by
//!   `Content-Length`, or by the connection closing. Both framings at
//!   once, differing lengths, a length that is not a decimal number, or a
//!   coding other than `chunked` are errors;
//! * chunk sizes are checked strictly (hex digits only, not empty, no
//!   overflow), chunk data must be followed by CRLF, trailers are read and
//!   dropped (together at most `max_head_bytes`, or `TooLarge`);
//! * the body may not exceed `max_body_bytes`.

use super::error::{Error, ErrorKind};
use super::headers::Headers;

/// The most header fields a response head may have.
const MAX_HEADERS: usize = 128;
/// The longest chunk-size line (size and extensions) accepted.
const MAX_CHUNK_LINE: usize = 4096;

/// An HTTP version.
///
/// # Examples
///
/// ```
/// use corio::http::Version;
///
/// assert_eq!(Version::Http11.to_string(), "HTTP/1.1");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// HTTP/1.0: connections close after each response unless the server
    /// says `Connection: keep-alive`.
    Http10,
    /// HTTP/1.1: connections stay open unless a side says
    /// `Connection: close`.
    Http11,
}

impl std::fmt::Display for Version {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Version::Http10 => "HTTP/1.0",
            Version::Http11 => "HTTP/1.1",
        })
    }
}

/// A parsed response head: the status line and the header fields.
///
/// # Examples
///
/// ```
/// use corio::http::{Event, ResponseDecoder, Version};
///
/// let mut decoder = ResponseDecoder::new(false);
/// let (_, event) = decoder.decode(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", false).unwrap();
/// let Event::Head(head) = event else { panic!() };
/// assert_eq!((head.status, head.version, head.reason.as_str()), (404, Version::Http11, "Not Found"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The status code, `100..=999`.
    pub status: u16,
    /// The version the server answered with.
    pub version: Version,
    /// The reason phrase (`"OK"`), lossily decoded.
    pub reason: String,
    /// The header fields.
    pub headers: Headers,
}

/// What [`ResponseDecoder::decode`] found in the bytes it was given.
///
/// # Examples
///
/// ```
/// use corio::http::{Event, ResponseDecoder};
///
/// let mut decoder = ResponseDecoder::new(false);
/// let (used, event) = decoder.decode(b"HTTP/1.1 200 OK\r\n", false).unwrap();
/// assert_eq!((used, event), (0, Event::NeedMore)); // the head is not complete yet
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event<'a> {
    /// Nothing more can be decoded: read more bytes, and call again with
    /// the unused ones first.
    NeedMore,
    /// The response head. Comes once, first.
    Head(Head),
    /// A piece of body: always the last bytes of the used ones.
    Data(&'a [u8]),
    /// The response is complete. Bytes after it belong to no response.
    End,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    /// `Content-Length` framing: this many bytes to go.
    Length(u64),
    /// Chunked framing.
    Chunked(Chunk),
    /// The body runs until the server closes the connection.
    UntilClose,
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Expecting a chunk-size line.
    Size,
    /// Inside a chunk's data: this many bytes to go.
    Data(u64),
    /// Expecting the CRLF that ends a chunk's data.
    DataEnd,
    /// After the last chunk: trailer lines, until an empty one.
    Trailers,
}

/// The sans-I/O HTTP/1.x response decoder: feed it the bytes received so
/// far, act on the [`Event`] it returns, drop the bytes it says it used.
///
/// `eof` tells it the connection is closed (no more bytes will come): that
/// ends a body framed by closing, and is an [`ErrorKind::Closed`] error
/// anywhere else.
///
/// # Examples
///
/// ```
/// use corio::http::{Event, ResponseDecoder};
///
/// let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
/// let mut decoder = ResponseDecoder::new(false);
/// let mut input = &wire[..];
/// let mut body = Vec::new();
/// loop {
///     let (used, event) = decoder.decode(input, false).unwrap();
///     match event {
///         Event::Head(head) => assert_eq!(head.status, 200),
///         Event::Data(data) => body.extend_from_slice(data),
///         Event::End => break,
///         Event::NeedMore => unreachable!("the whole response is here"),
///     }
///     input = &input[used..];
/// }
/// assert_eq!(body, b"hello");
/// assert!(decoder.keep_alive());
/// ```
#[derive(Debug, Clone)]
pub struct ResponseDecoder {
    state: State,
    head_request: bool,
    max_head: usize,
    max_body: u64,
    body_len: u64,
    /// Bytes of interim (1xx) heads already used: they count toward `max_head`.
    head_seen: usize,
    trailer_len: usize,
    keep_alive: bool,
    /// A redirect that will be followed (the client's): its announced
    /// length is not held against `max_body` — its body is only
    /// discarded, and the bytes read of it are still counted.
    followed_redirects: bool,
}

impl ResponseDecoder {
    /// A decoder for one response. `head_request`: the request was a
    /// `HEAD`, so the response has no body. Limits: 64 KiB of head,
    /// unlimited body.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::{Event, ResponseDecoder};
    ///
    /// // A HEAD response announces a length but sends no body.
    /// let mut decoder = ResponseDecoder::new(true);
    /// let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n";
    /// let (used, _head) = decoder.decode(wire, false).unwrap();
    /// assert_eq!(decoder.decode(&wire[used..], false).unwrap(), (0, Event::End));
    /// ```
    pub fn new(head_request: bool) -> ResponseDecoder {
        ResponseDecoder {
            state: State::Head,
            head_request,
            max_head: 64 * 1024,
            max_body: u64::MAX,
            body_len: 0,
            head_seen: 0,
            trailer_len: 0,
            keep_alive: false,
            followed_redirects: false,
        }
    }

    /// For a client that follows redirects: a 301/302/303/307/308 with a
    /// `Location` is never handed to the user, so its announced length is
    /// not refused at the head (see `followed_redirects`).
    pub(crate) fn following_redirects(mut self, yes: bool) -> ResponseDecoder {
        self.followed_redirects = yes;
        self
    }

    /// May the connection carry another message, as far as the head said
    /// (the framing and `Connection`)? Known once the head is decoded.
    pub(crate) fn head_allows_reuse(&self) -> bool {
        self.keep_alive
    }

    /// Sets the most bytes the head (status line and headers, interim
    /// heads included) may take; more is [`ErrorKind::TooLarge`].
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::{ErrorKind, ResponseDecoder};
    ///
    /// let mut decoder = ResponseDecoder::new(false).max_head_bytes(16);
    /// let err = decoder.decode(b"HTTP/1.1 200 OK\r\nServer: x\r\n", false).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::TooLarge);
    /// ```
    pub fn max_head_bytes(mut self, limit: usize) -> ResponseDecoder {
        self.max_head = limit;
        self
    }

    /// Sets the most body bytes the response may have; more is
    /// [`ErrorKind::TooLarge`] (as soon as a `Content-Length` announces it).
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::{ErrorKind, ResponseDecoder};
    ///
    /// let mut decoder = ResponseDecoder::new(false).max_body_bytes(10);
    /// let err = decoder.decode(b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", false).unwrap_err();
    /// assert_eq!(err.kind(), ErrorKind::TooLarge);
    /// ```
    pub fn max_body_bytes(mut self, limit: u64) -> ResponseDecoder {
        self.max_body = limit;
        self
    }

    /// After [`Event::End`]: may the connection carry another request, as
    /// far as the response says? True for a complete response whose body
    /// was framed (not ended by a close) and whose server keeps the
    /// connection open (HTTP/1.1 without `Connection: close`, HTTP/1.0
    /// with `Connection: keep-alive`). The decoder never sees the request:
    /// a `Connection: close` of your own is yours to honour.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::ResponseDecoder;
    ///
    /// let mut decoder = ResponseDecoder::new(false);
    /// decoder.decode(b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n", false).unwrap();
    /// decoder.decode(b"", false).unwrap();
    /// assert!(!decoder.keep_alive());
    /// ```
    pub fn keep_alive(&self) -> bool {
        self.state == State::Done && self.keep_alive
    }

    /// Has the decoder returned [`Event::End`]?
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::ResponseDecoder;
    ///
    /// let mut decoder = ResponseDecoder::new(false);
    /// assert!(!decoder.is_done());
    /// decoder.decode(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", false).unwrap();
    /// decoder.decode(b"", false).unwrap();
    /// assert!(decoder.is_done());
    /// ```
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// With `Content-Length` framing: how many body bytes are still to come.
    pub(crate) fn length_left(&self) -> Option<u64> {
        match self.state {
            State::Length(left) => Some(left),
            _ => None,
        }
    }

    /// Body bytes decoded so far.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::ResponseDecoder;
    ///
    /// let mut decoder = ResponseDecoder::new(false);
    /// let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc";
    /// let (used, _) = decoder.decode(wire, false).unwrap();
    /// decoder.decode(&wire[used..], false).unwrap();
    /// assert_eq!(decoder.body_len(), 3);
    /// ```
    pub fn body_len(&self) -> u64 {
        self.body_len
    }

    /// Decodes from the start of `input` (the bytes not yet used); returns
    /// how many bytes it used and what they were. `eof`: no bytes will
    /// follow `input`.
    ///
    /// Errors have an [`ErrorKind`] of `Malformed`, `TooLarge`, `Closed`
    /// or `Unsupported`. After an error the decoder's state is unspecified
    /// and the connection must not be reused.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::http::{ErrorKind, Event, ResponseDecoder};
    ///
    /// let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nab";
    /// let mut decoder = ResponseDecoder::new(false);
    /// let (used, _head) = decoder.decode(wire, true).unwrap();
    /// let (_, data) = decoder.decode(&wire[used..], true).unwrap();
    /// assert_eq!(data, Event::Data(b"ab"));
    /// let err = decoder.decode(b"", true).unwrap_err(); // the server closed: 3 bytes never came
    /// assert_eq!(err.kind(), ErrorKind::Closed);
    /// ```
    pub fn decode<'a>(&mut self, input: &'a [u8], eof: bool) -> Result<(usize, Event<'a>), Error> {
        match self.state {
            State::Head => self.decode_head(input, eof),
            State::Length(remaining) => {
                if remaining == 0 {
                    self.state = State::Done;
                    return Ok((0, Event::End));
                }
                if input.is_empty() {
                    return if eof {
                        Err(Error::new(
                            ErrorKind::Closed,
                            format!(
                                "the connection closed after {} of {} body bytes",
                                self.body_len,
                                self.body_len + remaining
                            ),
                        ))
                    } else {
                        Ok((0, Event::NeedMore))
                    };
                }
                let n = input
                    .len()
                    .min(usize::try_from(remaining).unwrap_or(usize::MAX));
                self.state = State::Length(remaining - n as u64);
                self.count_body(n)?;
                Ok((n, Event::Data(&input[..n])))
            }
            State::UntilClose => {
                if input.is_empty() {
                    return if eof {
                        self.state = State::Done;
                        Ok((0, Event::End))
                    } else {
                        Ok((0, Event::NeedMore))
                    };
                }
                self.count_body(input.len())?;
                Ok((input.len(), Event::Data(input)))
            }
            State::Chunked(_) => self.decode_chunked(input, eof),
            State::Done => Ok((0, Event::End)),
        }
    }

    fn count_body(&mut self, n: usize) -> Result<(), Error> {
        self.body_len += n as u64;
        if self.body_len > self.max_body {
            return Err(too_large_body(self.max_body));
        }
        Ok(())
    }

    // Out of line, like the chunked decoder: `decode` runs two or three
    // times per response, and most of those calls only slice a body.
    #[inline(never)]
    fn decode_head<'a>(&mut self, input: &'a [u8], eof: bool) -> Result<(usize, Event<'a>), Error> {
        if input.is_empty() && !eof {
            // Nothing yet (a request just sent): no parse to try.
            return Ok((0, Event::NeedMore));
        }
        let config = httparse::ParserConfig::default();
        let mut used = 0;
        loop {
            let rest = &input[used..];
            // The bytes this head is parsed from: `rest`, or a copy of the
            // head with its obs-folds made spaces (declared before the
            // fields, which may point into it).
            let unfolded: Vec<u8>;
            let mut bytes = rest;
            // Uninitialized slots: no 4 KiB of zeroing per parse.
            let mut fields =
                [const { std::mem::MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
            let mut response = httparse::Response::new(&mut []);
            let mut parsed =
                config.parse_response_with_uninit_headers(&mut response, bytes, &mut fields);
            if let Err(err) = parsed {
                if err != httparse::Error::TooManyHeaders {
                    // Perhaps a field folded over lines (obs-fold), which
                    // the strict parse refuses: RFC 9112 §5.2 says a user
                    // agent MUST replace each fold with spaces instead. Only
                    // then is the head copied — this head alone: the heads
                    // after it (a final one after a `100 Continue`) get
                    // their own turn in this loop, so they decode the same
                    // whether they arrive together or apart — and parsed
                    // again. A response without a fold pays nothing.
                    unfolded = unfold(rest).ok_or_else(|| bad_head(err, rest))?;
                    bytes = &unfolded;
                    response = httparse::Response::new(&mut []);
                    parsed = config.parse_response_with_uninit_headers(
                        &mut response,
                        bytes,
                        &mut fields,
                    );
                    if matches!(parsed, Err(e) if e != httparse::Error::TooManyHeaders) {
                        return Err(bad_head(err, rest));
                    }
                }
            }
            let len = match parsed {
                Ok(httparse::Status::Complete(len)) => len,
                Ok(httparse::Status::Partial) => {
                    if self.head_seen + used + rest.len() > self.max_head {
                        return Err(too_large_head(self.max_head));
                    }
                    if eof {
                        let what = if rest.is_empty() && used == 0 {
                            "the connection closed before any response".to_owned()
                        } else {
                            format!(
                                "the connection closed inside the response head ({} bytes)",
                                rest.len()
                            )
                        };
                        return Err(Error::new(ErrorKind::Closed, what));
                    }
                    self.head_seen += used; // interim heads, used up
                    return Ok((used, Event::NeedMore));
                }
                Err(_) => {
                    // (The only error left: the other ones returned above.)
                    return Err(Error::new(
                        ErrorKind::TooLarge,
                        format!("the response head has more than {MAX_HEADERS} header fields"),
                    ));
                }
            };
            used += len;
            if self.head_seen + used > self.max_head {
                return Err(too_large_head(self.max_head));
            }
            // `Complete` guarantees the status line parsed: three digits.
            let status = response.code.unwrap_or(0);
            if status < 100 {
                return Err(Error::new(
                    ErrorKind::Malformed,
                    format!("status code {status:03} is not a status (they start at 100)"),
                ));
            }
            let version = if response.version == Some(0) {
                Version::Http10
            } else {
                Version::Http11
            };
            if status == 101 {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    "101 Switching Protocols: corio does not switch protocols (it never asks to)",
                ));
            }
            if (100..200).contains(&status) {
                // An interim response (100 Continue, 103 Early Hints): skip it.
                continue;
            }
            // What the framing needs from the fields; then the fields
            // themselves, which point into `bytes`: keep one copy of the
            // head and where each field is in it.
            // (One pass over the fields for both.)
            let head_bytes = &bytes[..len];
            let mut framing = Framing::default();
            let mut headers = Headers::for_head(head_bytes, response.headers.len());
            for field in response.headers.iter() {
                framing.note(field.name, field.value)?;
                headers.push_from_head(head_bytes, field.name.as_bytes(), field.value);
            }
            let head = Head {
                status,
                version,
                reason: reason(response.reason, &bytes[..len]),
                headers,
            };
            self.begin_body(&head, &framing)?;
            return Ok((used, Event::Head(head)));
        }
    }

    /// Chooses the body framing (RFC 9112 §6.3) and whether the connection
    /// may be reused.
    fn begin_body(&mut self, head: &Head, framing: &Framing) -> Result<(), Error> {
        self.keep_alive = framing.keep_alive(head.version);
        if framing.transfer_encoding && framing.length.is_some() {
            // A classic request-smuggling shape: refuse it rather than pick one.
            return Err(Error::new(
                ErrorKind::Malformed,
                "the response has both Content-Length and Transfer-Encoding",
            ));
        }
        if self.head_request || head.status == 204 || head.status == 304 {
            self.state = State::Length(0);
            return Ok(());
        }
        self.state = match (framing.codings, framing.chunked, framing.length) {
            (0, _, Some(length)) => {
                let followed = self.followed_redirects
                    && matches!(head.status, 301 | 302 | 303 | 307 | 308)
                    && head.headers.contains("location");
                if length > self.max_body && !followed {
                    return Err(too_large_body(self.max_body));
                }
                State::Length(length)
            }
            (0, _, None) => {
                self.keep_alive = false;
                State::UntilClose
            }
            (1, 1, None) => {
                // HTTP/1.0 has no chunked framing: decode it, but do not
                // trust the connection afterwards (RFC 9112 §6.1).
                if head.version == Version::Http10 {
                    self.keep_alive = false;
                }
                State::Chunked(Chunk::Size)
            }
            (_, 2.., _) => {
                return Err(Error::new(
                    ErrorKind::Malformed,
                    "chunked is applied more than once",
                ));
            }
            _ => {
                return Err(Error::new(
                    ErrorKind::Unsupported,
                    format!(
                        "transfer coding {:?} is not supported (corio decodes only \"chunked\")",
                        framing.other.as_deref().unwrap_or("chunked")
                    ),
                ));
            }
        };
        Ok(())
    }

    #[inline(never)]
    fn decode_chunked<'a>(
        &mut self,
        input: &'a [u8],
        eof: bool,
    ) -> Result<(usize, Event<'a>), Error> {
        let mut used = 0;
        loop {
            let State::Chunked(chunk) = self.state else {
                return Ok((used, Event::End));
            };
            let rest = &input[used..];
            let need_more = |used| {
                if eof {
                    Err(Error::new(
                        ErrorKind::Closed,
                        "the connection closed inside a chunked body",
                    ))
                } else {
                    Ok((used, Event::NeedMore))
                }
            };
            match chunk {
                Chunk::Size => {
                    let Some(line) = take_line(rest, MAX_CHUNK_LINE)? else {
                        return need_more(used);
                    };
                    used += line.len() + 2;
                    let size = parse_chunk_size(line)?;
                    self.state = State::Chunked(if size == 0 {
                        Chunk::Trailers
                    } else {
                        Chunk::Data(size)
                    });
                }
                Chunk::Data(remaining) => {
                    if rest.is_empty() {
                        return need_more(used);
                    }
                    let n = rest
                        .len()
                        .min(usize::try_from(remaining).unwrap_or(usize::MAX));
                    self.count_body(n)?;
                    let left = remaining - n as u64;
                    self.state = State::Chunked(if left == 0 {
                        Chunk::DataEnd
                    } else {
                        Chunk::Data(left)
                    });
                    return Ok((used + n, Event::Data(&rest[..n])));
                }
                Chunk::DataEnd => {
                    if rest.len() < 2 {
                        return need_more(used);
                    }
                    if &rest[..2] != b"\r\n" {
                        return Err(Error::new(
                            ErrorKind::Malformed,
                            "chunk data is longer than its size says (no CRLF after it)",
                        ));
                    }
                    used += 2;
                    self.state = State::Chunked(Chunk::Size);
                }
                Chunk::Trailers => {
                    // A line longer than what is left of the limit is the
                    // limit passed (`TooLarge`, as in a head), not bad framing.
                    let left = self.max_head.saturating_sub(self.trailer_len);
                    let too_long = match rest.iter().position(|&b| b == b'\n') {
                        Some(lf) => lf.saturating_sub(1) > left,
                        None => rest.len() > left.saturating_add(1),
                    };
                    if too_long {
                        return Err(Error::new(
                            ErrorKind::TooLarge,
                            format!("the trailers are longer than {} bytes", self.max_head),
                        ));
                    }
                    let Some(line) = take_line(rest, left)? else {
                        return need_more(used);
                    };
                    used += line.len() + 2;
                    if line.is_empty() {
                        self.state = State::Done;
                        return Ok((used, Event::End));
                    }
                    self.trailer_len += line.len() + 2;
                    if self.trailer_len > self.max_head {
                        return Err(Error::new(
                            ErrorKind::TooLarge,
                            format!("the trailers are longer than {} bytes", self.max_head),
                        ));
                    }
                    if !line.contains(&b':') || line.iter().any(|&b| b == 0 || b == b'\r') {
                        return Err(Error::new(
                            ErrorKind::Malformed,
                            format!("bad trailer field {:?}", preview(line)),
                        ));
                    }
                }
            }
        }
    }
}

/// The line at the start of `input`, without its CRLF; `None` if the CRLF
/// has not arrived yet. A line longer than `limit`, or a bare LF, is an error.
fn take_line(input: &[u8], limit: usize) -> Result<Option<&[u8]>, Error> {
    match input.iter().position(|&b| b == b'\n') {
        Some(lf) if lf > 0 && input[lf - 1] == b'\r' => {
            if lf - 1 > limit {
                return Err(long_line(limit));
            }
            Ok(Some(&input[..lf - 1]))
        }
        Some(_) => Err(Error::new(
            ErrorKind::Malformed,
            "a line in the chunked body ends in a bare LF",
        )),
        None if input.len() > limit.saturating_add(1) => Err(long_line(limit)),
        None => Ok(None),
    }
}

fn long_line(limit: usize) -> Error {
    Error::new(
        ErrorKind::Malformed,
        format!("a line in the chunked body is longer than {limit} bytes"),
    )
}

/// `chunk-size [ BWS ; chunk-ext ]`: one or more hex digits that fit in 64
/// bits (leading zeros allowed). httparse's own parser accepts an empty
/// size and wraps on overflow, which is why this one exists.
fn parse_chunk_size(line: &[u8]) -> Result<u64, Error> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    let bad = |why: &str| {
        Error::new(
            ErrorKind::Malformed,
            format!("bad chunk size line {:?}: {why}", preview(line)),
        )
    };
    if digits == 0 {
        return Err(bad("no hex digits"));
    }
    let significant = line[..digits].iter().skip_while(|&&b| b == b'0').count();
    if significant > 16 {
        return Err(bad("the size does not fit in 64 bits"));
    }
    let mut size = 0u64;
    for &b in &line[..digits] {
        size = size << 4 | u64::from((b as char).to_digit(16).unwrap_or(0));
    }
    // After the digits: optional blanks, then nothing or `;extensions`.
    let rest = &line[digits..];
    let blanks = rest
        .iter()
        .take_while(|&&b| b == b' ' || b == b'\t')
        .count();
    match rest[blanks..].first() {
        None => Ok(size),
        Some(b';') if !rest.iter().any(|&b| b.is_ascii_control() && b != b'\t') => Ok(size),
        Some(b';') => Err(bad("a control character in a chunk extension")),
        Some(_) => Err(bad("unexpected bytes after the size")),
    }
}

/// What the body framing depends on, gathered in one pass over the fields.
#[derive(Debug, Default)]
pub(super) struct Framing {
    /// `Content-Length`: every value (across repeated fields and comma
    /// lists) must be decimal digits giving the same number (`7` and `007`
    /// agree).
    pub(super) length: Option<u64>,
    /// A `Transfer-Encoding` field is present, even one that lists no
    /// coding (`Transfer-Encoding:` or `: ,`): beside a `Content-Length`
    /// that is still two framings, read differently by different peers.
    pub(super) transfer_encoding: bool,
    /// How many transfer codings, and how many of them are `chunked`.
    pub(super) codings: usize,
    chunked: usize,
    /// A coding other than `chunked`, for the error message.
    other: Option<String>,
    /// `Connection: close` / `Connection: keep-alive`.
    close: bool,
    keep_alive: bool,
}

impl Framing {
    /// The framing facts of a message's fields (requests too: the demo
    /// server reads its requests with the same rules).
    pub(super) fn of<'a>(
        fields: impl Iterator<Item = (&'a str, &'a [u8])>,
    ) -> Result<Framing, Error> {
        let mut framing = Framing::default();
        for (name, value) in fields {
            framing.note(name, value)?;
        }
        Ok(framing)
    }

    /// May the connection carry another message, by HTTP `version`'s
    /// default and the `Connection` field?
    pub(super) fn keep_alive(&self, version: Version) -> bool {
        match version {
            Version::Http11 => !self.close,
            Version::Http10 => self.keep_alive && !self.close,
        }
    }

    #[inline]
    fn note(&mut self, name: &str, value: &[u8]) -> Result<(), Error> {
        let items = || value.split(|&b| b == b',').map(<[u8]>::trim_ascii);
        let name = name.as_bytes();
        // (By length first: most fields are none of the three.)
        let (content_length, transfer_encoding, connection) = match name.len() {
            14 => (is_named(name, b"content-length"), false, false),
            17 => (false, is_named(name, b"transfer-encoding"), false),
            10 => (false, false, is_named(name, b"connection")),
            _ => return Ok(()),
        };
        if content_length {
            for item in items() {
                let parsed = parse_decimal(item).ok_or_else(|| {
                    Error::new(
                        ErrorKind::Malformed,
                        format!("Content-Length {:?} is not a length", preview(item)),
                    )
                })?;
                match self.length {
                    Some(earlier) if earlier != parsed => {
                        return Err(Error::new(
                            ErrorKind::Malformed,
                            format!("differing Content-Length values ({earlier} and {parsed})"),
                        ));
                    }
                    _ => self.length = Some(parsed),
                }
            }
        } else if transfer_encoding {
            self.transfer_encoding = true;
            for coding in items().filter(|c| !c.is_empty()) {
                self.codings += 1;
                if coding.eq_ignore_ascii_case(b"chunked") {
                    self.chunked += 1;
                } else if self.other.is_none() {
                    self.other = Some(String::from_utf8_lossy(coding).to_ascii_lowercase());
                }
            }
        } else if connection {
            for token in items() {
                self.close |= is_named(token, b"close");
                self.keep_alive |= is_named(token, b"keep-alive");
            }
        }
        Ok(())
    }
}

/// The error for a head httparse refused (with no fold to explain it).
#[cold]
fn bad_head(err: httparse::Error, rest: &[u8]) -> Error {
    Error::new(
        ErrorKind::Malformed,
        format!("bad response head ({err}), starting {:?}", preview(rest)),
    )
}

/// A copy of the head at the start of `bytes` — that head alone, up to and
/// with the empty line that ends it — with each obs-fold (a line end
/// followed by a space or tab, inside the fields) made spaces: the same
/// length, so positions stay as they were; `None` if it has none. Empty
/// lines before the status line (which httparse skips) are no end of the
/// head. (Whitespace opening the line after the status line is no fold:
/// that stays an error, RFC 9112 §2.2.)
#[cold]
#[inline(never)]
fn unfold(bytes: &[u8]) -> Option<Vec<u8>> {
    let start = bytes.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let status_line_end = start + bytes[start..].iter().position(|&b| b == b'\n')?;
    let mut folds = Vec::new();
    // Up to the head's end, the first empty line (CRLF or bare LF): what
    // follows is the body or the next head, whose folds (if it is one) are
    // its own to unfold. (So no fold is left in the copy, nor made by the
    // replacements: a second pass finds none.)
    let mut end = bytes.len();
    for at in status_line_end..bytes.len().saturating_sub(1) {
        if bytes[at] != b'\n' {
            continue;
        }
        match bytes[at + 1] {
            b'\n' => {
                end = at + 2;
                break;
            }
            b'\r' if bytes.get(at + 2) == Some(&b'\n') => {
                end = at + 3;
                break;
            }
            b' ' | b'\t' if at > status_line_end => folds.push(at),
            _ => {}
        }
    }
    if folds.is_empty() {
        return None;
    }
    let mut copy = bytes[..end].to_vec();
    for at in folds {
        copy[at] = b' ';
        if bytes[at - 1] == b'\r' {
            copy[at - 1] = b' ';
        }
    }
    Some(copy)
}

/// The reason phrase of a status line, lossily decoded. httparse hands
/// over ASCII phrases only (any byte from 0x80 makes it give `""`), so an
/// empty one is looked up in the head itself: the bytes after
/// `HTTP/1.x NNN ` up to the end of the line.
fn reason(parsed: Option<&str>, head: &[u8]) -> String {
    match parsed {
        Some(reason) if !reason.is_empty() => reason.to_owned(),
        _ => {
            // httparse skips empty lines before the status line (RFC 9112
            // §2.2), and counts them in the head.
            let start = head
                .iter()
                .position(|&b| b != b'\r' && b != b'\n')
                .unwrap_or(head.len());
            let head = &head[start..];
            let line_end = head
                .iter()
                .position(|&b| b == b'\r' || b == b'\n')
                .unwrap_or(head.len());
            let raw = head.get(13..line_end).unwrap_or_default();
            String::from_utf8_lossy(raw).into_owned()
        }
    }
}

/// Is `name` — a header name, or a token of a header value, as httparse
/// passed them — the same as `lower` (lowercase letters and `-`) in any
/// case? Setting bit `0x20` of each byte folds case exactly here: the only
/// bytes that turn into a lowercase letter are that letter and its
/// capital, and into `-` only `-` and CR, which httparse admits in neither
/// names nor values. Eight bytes at a time: this runs for every field of
/// every response.
fn is_named(name: &[u8], lower: &[u8]) -> bool {
    const FOLD: u64 = 0x2020_2020_2020_2020;
    let word = |bytes: &[u8]| {
        let mut eight = [0u8; 8];
        eight[..bytes.len()].copy_from_slice(bytes);
        u64::from_le_bytes(eight) | FOLD
    };
    name.len() == lower.len()
        && name
            .chunks(8)
            .zip(lower.chunks(8))
            .all(|(a, b)| word(a) == word(b))
}

/// One or more decimal digits that fit in a `u64`.
fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        let digit = (b as char).to_digit(10)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

fn too_large_head(limit: usize) -> Error {
    Error::new(
        ErrorKind::TooLarge,
        format!("the response head is longer than {limit} bytes (raise `max_head_bytes`)"),
    )
}

fn too_large_body(limit: u64) -> Error {
    Error::new(
        ErrorKind::TooLarge,
        format!("the response body is longer than {limit} bytes (raise `max_body_bytes`)"),
    )
}

/// The first bytes of `bytes`, printable, for error messages.
fn preview(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(40)];
    let mut text = String::from_utf8_lossy(cut).into_owned();
    if bytes.len() > cut.len() {
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reason_phrase_beyond_ascii_is_decoded_lossily_not_dropped() {
        let reason_of = |head: &[u8]| {
            let mut decoder = ResponseDecoder::new(false);
            match decoder.decode(head, false) {
                Ok((_, Event::Head(head))) => head.reason,
                other => panic!("{other:?}"),
            }
        };
        assert_eq!(reason_of(b"HTTP/1.1 200 OK\r\n\r\n"), "OK");
        assert_eq!(reason_of("HTTP/1.1 200 Ça va\r\n\r\n".as_bytes()), "Ça va");
        assert_eq!(reason_of(b"HTTP/1.1 200 \xffok\r\n\r\n"), "\u{fffd}ok");
        assert_eq!(reason_of(b"HTTP/1.1 204 \r\n\r\n"), "");
    }

    #[test]
    fn header_names_match_in_any_case_and_nothing_else_does() {
        for name in [
            "content-length",
            "Content-Length",
            "CONTENT-LENGTH",
            "cOnTeNt-LeNgTh",
        ] {
            assert!(is_named(name.as_bytes(), b"content-length"), "{name}");
        }
        for name in [
            "Transfer-Encoding",
            "TRANSFER-ENCODING",
            "Connection",
            "connection",
        ] {
            let lower = name.to_ascii_lowercase();
            assert!(is_named(name.as_bytes(), lower.as_bytes()), "{name}");
        }
        let near_misses = [
            "content_length",
            "content-lengths",
            "content-lengt",
            "content-lengtg",
            "Transfer-Encodinh",
            "Connectio",
            "",
        ];
        for name in near_misses {
            for lower in ["content-length", "transfer-encoding", "connection"] {
                assert!(
                    !is_named(name.as_bytes(), lower.as_bytes()),
                    "{name} ~ {lower}"
                );
            }
        }
    }

    #[test]
    fn connection_tokens_are_read_in_any_case_and_only_whole() {
        let keeps = |head: &str| {
            let wire = format!("{head}\r\nContent-Length: 0\r\n\r\n");
            let mut decoder = ResponseDecoder::new(false);
            decoder.decode(wire.as_bytes(), false).unwrap();
            decoder.decode(b"", false).unwrap();
            decoder.keep_alive()
        };
        assert!(keeps("HTTP/1.1 200 OK"));
        assert!(!keeps("HTTP/1.1 200 OK\r\nConnection: CLOSE"));
        assert!(!keeps("HTTP/1.1 200 OK\r\nConnection: upgrade, Close"));
        assert!(keeps("HTTP/1.1 200 OK\r\nConnection: closed"));
        assert!(!keeps("HTTP/1.0 200 OK"));
        assert!(keeps("HTTP/1.0 200 OK\r\nConnection: Keep-Alive"));
        assert!(!keeps("HTTP/1.0 200 OK\r\nConnection: keep_alive"));
        // `close` wins in any version (RFC 9112 §9.3).
        assert!(!keeps("HTTP/1.0 200 OK\r\nConnection: keep-alive, close"));
        assert!(!keeps(
            "HTTP/1.0 200 OK\r\nConnection: close\r\nConnection: keep-alive"
        ));
    }

    #[test]
    fn a_shouted_content_length_frames_the_body() {
        let wire = b"HTTP/1.1 200 OK\r\nCONTENT-LENGTH: 3\r\n\r\nabcdef";
        let mut decoder = ResponseDecoder::new(false);
        let (used, _) = decoder.decode(wire, false).unwrap();
        let (_, data) = decoder.decode(&wire[used..], false).unwrap();
        assert_eq!(data, Event::Data(b"abc"));
    }
}
