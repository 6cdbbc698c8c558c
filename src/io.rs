//! Buffered reading and writing, `copy`, and stdin — what line protocols
//! and small tools need on top of `futures_io`'s `AsyncRead`/`AsyncWrite`.
//!
//! * [`BufReader`] — [`read_line`](BufReader::read_line),
//!   [`lines`](BufReader::lines), [`read_until`](BufReader::read_until);
//!   [`max_line_length`](BufReader::max_line_length) caps a line (for
//!   input from the network: a [`LineTooLong`] error, not unbounded
//!   memory).
//! * [`BufWriter`] — many small writes become few system calls; call
//!   [`flush`](BufWriter::flush) before dropping it.
//! * [`copy`] — everything from a reader into a writer.
//! * [`stdin`] — lines typed by the user, read on the thread pool so the
//!   loop never blocks on the terminal; [`stdout`] — output written there,
//!   so a slow reader of a pipe never blocks the loop either.
//!
//! # Examples
//!
//! ```
//! use corio::io::{BufReader, BufWriter};
//! use corio::net::{TcpListener, TcpStream};
//!
//! corio::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     corio::spawn(async move {
//!         let (conn, _) = listener.accept().await?;
//!         let (reader, writer) = conn.into_split();
//!         let (mut reader, mut writer) = (BufReader::new(reader), BufWriter::new(writer));
//!         let mut line = String::new();
//!         while reader.read_line(&mut line).await? > 0 {
//!             writer.write_all(line.to_uppercase().as_bytes()).await?;
//!             writer.flush().await?;
//!             line.clear();
//!         }
//!         std::io::Result::Ok(())
//!     });
//!     let (reader, mut writer) = TcpStream::connect(addr).await?.into_split();
//!     writer.write_all(b"hello\n").await?;
//!     let mut reader = BufReader::new(reader);
//!     let mut reply = String::new();
//!     reader.read_line(&mut reply).await?;
//!     assert_eq!(reply, "HELLO\n");
//!     std::io::Result::Ok(())
//! })
//! .unwrap();
//! ```

use std::fmt;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use futures_io::{AsyncBufRead, AsyncRead, AsyncWrite};

const DEFAULT_CAPACITY: usize = 8 * 1024;

// ----- BufReader -------------------------------------------------------------------

/// Adds a buffer to a reader: fewer system calls for small reads, and
/// line-by-line reading.
///
/// # Examples
///
/// ```
/// use corio::io::BufReader;
///
/// corio::run(async {
///     let mut reader = BufReader::new(&b"one\ntwo\n"[..]);
///     let mut line = String::new();
///     reader.read_line(&mut line).await.unwrap();
///     assert_eq!(line, "one\n");
/// });
/// ```
pub struct BufReader<R> {
    inner: R,
    buf: Box<[u8]>,
    pos: usize,
    filled: usize,
    /// The longest line `read_line`, `lines` and `read_until` accept.
    max_line: Option<usize>,
    /// After a line too long: the rest of it, up to this byte, is dropped
    /// as it comes.
    skip_to: Option<u8>,
}

impl<R: AsyncRead + Unpin> BufReader<R> {
    /// A reader with an 8 KiB buffer.
    ///
    /// # Examples
    ///
    /// ```
    /// let reader = corio::io::BufReader::new(&b"data"[..]);
    /// assert!(reader.buffer().is_empty());
    /// ```
    pub fn new(inner: R) -> BufReader<R> {
        BufReader::with_capacity(DEFAULT_CAPACITY, inner)
    }

    /// A reader with a buffer of `capacity` bytes (at least 1).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let mut reader = corio::io::BufReader::with_capacity(2, &b"ab\ncd\n"[..]);
    ///     let mut line = String::new();
    ///     reader.read_line(&mut line).await.unwrap();
    ///     assert_eq!(line, "ab\n"); // a line longer than the buffer still comes whole
    ///     assert!(reader.buffer().len() <= 2); // the buffer holds at most 2 bytes
    /// });
    /// ```
    pub fn with_capacity(capacity: usize, inner: R) -> BufReader<R> {
        BufReader {
            inner,
            buf: vec![0; capacity.max(1)].into_boxed_slice(),
            pos: 0,
            filled: 0,
            max_line: None,
            skip_to: None,
        }
    }

    /// Refuses lines longer than `limit` bytes (counting their ending) in
    /// [`read_line`](Self::read_line), [`lines`](Self::lines) and
    /// [`read_until`](Self::read_until) — a cap like asyncio's
    /// `StreamReader` `limit` (64 KiB there, not counting the `\n`).
    /// Without one (the default, as std's and tokio's), a peer that never
    /// sends `\n` makes the line — and the memory — grow for as long as it
    /// sends: set one for input from the network.
    ///
    /// A line too long is an `InvalidData` error, whose inner error is a
    /// [`LineTooLong`], as soon as its first `limit + 1` bytes are in.
    /// `read_line` and `lines` return nothing of it (asyncio drops it too);
    /// `read_until` leaves in its `buf` what it had appended before (as on
    /// any error). The rest of the line is dropped as it comes — never
    /// held — and the next call reads the line after it. (An end of the
    /// stream ends the line too: from a terminal, bytes typed after a
    /// Ctrl-D count as a new line.)
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::io::BufReader;
    ///
    /// corio::run(async {
    ///     let input = format!("hi\n{}\nbye\n", "x".repeat(100_000));
    ///     let mut lines = BufReader::new(input.as_bytes()).max_line_length(1024).lines();
    ///     assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("hi"));
    ///     let too_long = lines.next_line().await.unwrap_err();
    ///     assert_eq!(too_long.kind(), std::io::ErrorKind::InvalidData);
    ///     assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("bye"));
    /// });
    /// ```
    pub fn max_line_length(mut self, limit: usize) -> BufReader<R> {
        self.max_line = Some(limit);
        self
    }

    /// The bytes read from the inner reader but not yet consumed.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let mut reader = corio::io::BufReader::new(&b"ab\ncd"[..]);
    ///     let mut line = String::new();
    ///     reader.read_line(&mut line).await.unwrap();
    ///     assert_eq!(reader.buffer(), b"cd");
    /// });
    /// ```
    pub fn buffer(&self) -> &[u8] {
        &self.buf[self.pos..self.filled]
    }

    /// The inner reader.
    ///
    /// # Examples
    ///
    /// ```
    /// let reader = corio::io::BufReader::new(&b"x"[..]);
    /// assert_eq!(*reader.get_ref(), b"x");
    /// ```
    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// The inner reader, mutably (reading from it directly skips what is
    /// buffered).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut reader = corio::io::BufReader::new(&b"xyz"[..]);
    /// let inner: &mut &[u8] = reader.get_mut();
    /// *inner = &inner[1..]; // skips a byte behind the reader's back
    /// assert_eq!(reader.into_inner(), b"yz");
    /// ```
    pub fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// The inner reader; buffered bytes are lost.
    ///
    /// # Examples
    ///
    /// ```
    /// let reader = corio::io::BufReader::new(&b"x"[..]);
    /// assert_eq!(reader.into_inner(), b"x");
    /// ```
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        // Bytes served from the buffer cost the task's poll budget too, as
        // a socket read does: one 8 KiB read can hold a thousand short
        // lines, and a line loop over a fast peer would otherwise keep the
        // loop to itself (a chat server's writers starved behind it).
        if self.pos < self.filled && !crate::context::take_io_budget(cx.waker()) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        loop {
            if self.pos >= self.filled {
                let n = ready!(Pin::new(&mut self.inner).poll_read(cx, &mut self.buf))?;
                self.pos = 0;
                self.filled = n;
                if n == 0 {
                    self.skip_to = None; // the end ends a line too
                }
            }
            // The rest of a line too long goes as it comes.
            let Some(end) = self.skip_to else { break };
            match self.buf[self.pos..self.filled]
                .iter()
                .position(|&b| b == end)
            {
                Some(i) => {
                    self.pos += i + 1;
                    self.skip_to = None;
                }
                None => self.pos = self.filled,
            }
        }
        Poll::Ready(Ok(&self.buf[self.pos..self.filled]))
    }

    /// The error for a line longer than the limit; the rest of it, up to
    /// `end`, will be dropped as it comes (`found`: it has ended already).
    fn line_too_long(&mut self, end: u8, found: bool) -> io::Error {
        if !found {
            self.skip_to = Some(end);
        }
        let limit = self.max_line.unwrap_or(usize::MAX);
        io::Error::new(io::ErrorKind::InvalidData, LineTooLong { limit })
    }

    /// Reads into `buf` up to and including `byte` (or to the end of the
    /// stream); returns how many bytes it appended. With a
    /// [`max_line_length`](Self::max_line_length), a piece longer than it
    /// is an `InvalidData` error (what was appended stays in `buf`; the
    /// rest of the piece is dropped as it comes).
    ///
    /// Not cancel safe: bytes appended before a drop stay in `buf`, but a
    /// retry starts a new search.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let mut reader = corio::io::BufReader::new(&b"key=value;rest"[..]);
    ///     let mut field = Vec::new();
    ///     reader.read_until(b';', &mut field).await.unwrap();
    ///     assert_eq!(field, b"key=value;");
    /// });
    /// ```
    pub async fn read_until(&mut self, byte: u8, buf: &mut Vec<u8>) -> io::Result<usize> {
        let mut read = 0;
        loop {
            let (done, used) = {
                let available = poll_fn(|cx| {
                    self.poll_fill(cx)
                        .map(|r| r.map(|b| (b.len(), b.iter().position(|&c| c == byte))))
                })
                .await?;
                let limit = self.max_line.unwrap_or(usize::MAX);
                match available {
                    (0, _) => (true, 0),
                    (_, Some(i)) if read + i + 1 > limit => {
                        self.pos += i + 1;
                        return Err(self.line_too_long(byte, true));
                    }
                    (len, None) if read + len > limit => {
                        self.pos += len;
                        return Err(self.line_too_long(byte, false));
                    }
                    (_, Some(i)) => {
                        buf.extend_from_slice(&self.buf[self.pos..=self.pos + i]);
                        (true, i + 1)
                    }
                    (len, None) => {
                        buf.extend_from_slice(&self.buf[self.pos..self.filled]);
                        (false, len)
                    }
                }
            };
            self.pos += used;
            read += used;
            if done {
                return Ok(read);
            }
        }
    }

    /// Reads one line, including its `\n`, appending it to `line`; returns
    /// the bytes read, `0` at the end of the stream. A line that is not
    /// UTF-8 is not appended: it is an `InvalidData` error whose inner
    /// error, a [`FromUtf8Error`](std::string::FromUtf8Error), holds the
    /// line's bytes (`err.into_inner()`, then `downcast`), and the next
    /// call reads the line after it — as std's `read_line` consumes it,
    /// but without losing it.
    ///
    /// Cancel safe: a call dropped before its line is complete (a timeout
    /// around it, say) puts the bytes it took back into the buffer, and so
    /// does one that fails reading; the next call reads them again.
    /// Nothing is appended to `line` until the whole line is there. (A
    /// line longer than [`max_line_length`](Self::max_line_length) is the
    /// exception: an `InvalidData` error with a [`LineTooLong`] inside, and
    /// dropped.)
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let mut reader = corio::io::BufReader::new(&b"first\nsecond"[..]);
    ///     let mut line = String::new();
    ///     assert_eq!(reader.read_line(&mut line).await.unwrap(), 6);
    ///     assert_eq!(reader.read_line(&mut line).await.unwrap(), 6);
    ///     assert_eq!(line, "first\nsecond");
    ///     assert_eq!(reader.read_line(&mut line).await.unwrap(), 0);
    /// });
    /// ```
    pub async fn read_line(&mut self, line: &mut String) -> io::Result<usize> {
        let mut taken = Unread {
            reader: self,
            bytes: Vec::new(),
        };
        let n = match taken.reader.read_until(b'\n', &mut taken.bytes).await {
            Ok(n) => n,
            Err(err) => {
                if is_too_long(&err) {
                    taken.bytes.clear(); // a line too long: dropped, not read again
                }
                return Err(err);
            }
        };
        // The line is complete: from here on it is ours.
        let bytes = std::mem::take(&mut taken.bytes);
        match String::from_utf8(bytes) {
            Ok(text) => {
                line.push_str(&text);
                Ok(n)
            }
            Err(not_utf8) => Err(io::Error::new(io::ErrorKind::InvalidData, not_utf8)),
        }
    }

    /// The lines, without their `\n` or `\r\n`, as a `Stream` of
    /// `io::Result<String>` (use [`Lines::next_line`] to await one). A line
    /// that is not UTF-8 is an error as in [`read_line`](Self::read_line),
    /// its bytes inside, and so is one longer than
    /// [`max_line_length`](Self::max_line_length) (dropped); the next line
    /// follows.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let mut lines = corio::io::BufReader::new(&b"a\r\nb\n"[..]).lines();
    ///     assert_eq!(lines.next_line().await.unwrap(), Some("a".to_string()));
    ///     assert_eq!(lines.next_line().await.unwrap(), Some("b".to_string()));
    ///     assert_eq!(lines.next_line().await.unwrap(), None);
    /// });
    /// ```
    pub fn lines(self) -> Lines<R> {
        Lines {
            reader: self,
            partial: Vec::new(),
        }
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for BufReader<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        // A read at least as large as the buffer skips it.
        if self.pos >= self.filled && out.len() >= self.buf.len() && self.skip_to.is_none() {
            return Pin::new(&mut self.inner).poll_read(cx, out);
        }
        let available = ready!(self.poll_fill(cx))?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.pos += n;
        Poll::Ready(Ok(n))
    }
}

impl<R: AsyncRead + Unpin> AsyncBufRead for BufReader<R> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        self.get_mut().poll_fill(cx)
    }

    fn consume(mut self: Pin<&mut Self>, amt: usize) {
        self.pos = (self.pos + amt).min(self.filled);
    }
}

impl<R> fmt::Debug for BufReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufReader")
            .field("buffered", &(self.filled - self.pos))
            .field("capacity", &self.buf.len())
            .finish()
    }
}

impl<R> BufReader<R> {
    /// Puts `bytes` back in front of what is buffered, to be read again.
    /// (The buffer grows if they do not fit.)
    fn unread(&mut self, bytes: &[u8]) {
        if bytes.is_empty() {
            return;
        }
        let rest = &self.buf[self.pos..self.filled];
        let filled = bytes.len() + rest.len();
        let mut joined = Vec::with_capacity(filled.max(self.buf.len()));
        joined.extend_from_slice(bytes);
        joined.extend_from_slice(rest);
        joined.resize(filled.max(self.buf.len()), 0);
        self.buf = joined.into_boxed_slice();
        self.pos = 0;
        self.filled = filled;
    }
}

/// The bytes a [`BufReader::read_line`] took so far: put back into the
/// reader if the call ends before its line does.
struct Unread<'a, R> {
    reader: &'a mut BufReader<R>,
    bytes: Vec<u8>,
}

impl<R> Drop for Unread<'_, R> {
    fn drop(&mut self) {
        self.reader.unread(&self.bytes);
    }
}

/// The lines of a [`BufReader`]; see [`BufReader::lines`].
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let mut lines: corio::io::Lines<&[u8]> = corio::io::BufReader::new(&b"x\n"[..]).lines();
///     assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("x"));
/// });
/// ```
pub struct Lines<R> {
    reader: BufReader<R>,
    /// A line begun by a `next_line` future that was dropped: kept, so
    /// nothing is lost.
    partial: Vec<u8>,
}

impl<R: AsyncRead + Unpin> Lines<R> {
    /// The next line, without its `\n` / `\r\n`; `None` at the end.
    ///
    /// Cancel safe: a line begun by a dropped call is finished by the next.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let mut lines = corio::io::BufReader::new(&b"only"[..]).lines();
    ///     assert_eq!(lines.next_line().await.unwrap(), Some("only".to_string()));
    ///     assert_eq!(lines.next_line().await.unwrap(), None);
    /// });
    /// ```
    pub async fn next_line(&mut self) -> io::Result<Option<String>> {
        poll_fn(|cx| self.poll_line(cx)).await
    }

    fn poll_line(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<Option<String>>> {
        let limit = self.reader.max_line.unwrap_or(usize::MAX);
        loop {
            let available = ready!(self.reader.poll_fill(cx))?;
            if available.is_empty() {
                if self.partial.is_empty() {
                    return Poll::Ready(Ok(None));
                }
                // The last line, ended by the end of the stream: a `\r`
                // there is part of it.
                let line = std::mem::take(&mut self.partial);
                return Poll::Ready(finish_line(line, false).map(Some));
            }
            match available.iter().position(|&c| c == b'\n') {
                Some(i) if self.partial.len() + i + 1 > limit => {
                    self.partial.clear();
                    self.reader.pos += i + 1;
                    return Poll::Ready(Err(self.reader.line_too_long(b'\n', true)));
                }
                Some(i) => {
                    self.partial.extend_from_slice(&available[..i]);
                    self.reader.pos += i + 1;
                    let line = std::mem::take(&mut self.partial);
                    return Poll::Ready(finish_line(line, true).map(Some));
                }
                None if self.partial.len() + available.len() > limit => {
                    self.partial.clear();
                    self.reader.pos += available.len();
                    return Poll::Ready(Err(self.reader.line_too_long(b'\n', false)));
                }
                None => {
                    let len = available.len();
                    self.partial.extend_from_slice(available);
                    self.reader.pos += len;
                }
            }
        }
    }

    /// The reader back (a line begun and not finished is lost).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let mut lines = corio::io::BufReader::new(&b"a\nb\n"[..]).lines();
    ///     assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("a"));
    ///     let mut reader = lines.into_inner(); // with what it had buffered
    ///     let mut rest = String::new();
    ///     reader.read_line(&mut rest).await.unwrap();
    ///     assert_eq!(rest, "b\n");
    /// });
    /// ```
    pub fn into_inner(self) -> BufReader<R> {
        self.reader
    }
}

/// The inner error of the `InvalidData` error for a line longer than
/// [`BufReader::max_line_length`] or [`Stdin::max_line_length`]: tells it
/// from a line that is not UTF-8.
///
/// # Examples
///
/// ```
/// use corio::io::{BufReader, LineTooLong};
///
/// corio::run(async {
///     let mut reader = BufReader::new(&b"a very long line\nok\n"[..]).max_line_length(8);
///     let mut line = String::new();
///     let err = reader.read_line(&mut line).await.unwrap_err();
///     let too_long = err.get_ref().and_then(|e| e.downcast_ref::<LineTooLong>());
///     assert_eq!(too_long.map(LineTooLong::limit), Some(8));
///     assert_eq!(reader.read_line(&mut line).await.unwrap(), 3); // "ok\n"
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineTooLong {
    limit: usize,
}

impl LineTooLong {
    /// The limit the line went over.
    ///
    /// # Examples
    ///
    /// ```
    /// # corio::run(async {
    /// let mut lines = corio::io::BufReader::new(&b"0123456789\n"[..]).max_line_length(4).lines();
    /// let err = lines.next_line().await.unwrap_err();
    /// let inner = err.into_inner().unwrap().downcast::<corio::io::LineTooLong>().unwrap();
    /// assert_eq!(inner.limit(), 4);
    /// # });
    /// ```
    pub fn limit(&self) -> usize {
        self.limit
    }
}

impl fmt::Display for LineTooLong {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a line longer than {} bytes (max_line_length)",
            self.limit
        )
    }
}

impl std::error::Error for LineTooLong {}

fn is_too_long(err: &io::Error) -> bool {
    err.get_ref().is_some_and(|inner| inner.is::<LineTooLong>())
}

/// A line's text, without the `\r` of a `\r\n` ending (`newline`: a
/// `\n` ended it).
fn finish_line(mut bytes: Vec<u8>, newline: bool) -> io::Result<String> {
    if newline && bytes.last() == Some(&b'\r') {
        bytes.pop();
    }
    // (The error keeps the bytes, as `read_line`'s does.)
    String::from_utf8(bytes)
        .map_err(|not_utf8| io::Error::new(io::ErrorKind::InvalidData, not_utf8))
}

impl<R: AsyncRead + Unpin> futures_core::Stream for Lines<R> {
    type Item = io::Result<String>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_line(cx).map(Result::transpose)
    }
}

impl<R> fmt::Debug for Lines<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lines")
            .field("partial", &self.partial.len())
            .finish()
    }
}

// ----- BufWriter -------------------------------------------------------------------

/// Adds a buffer to a writer: small writes collect in memory and go out in
/// one system call at [`flush`](Self::flush) (or when the buffer is full).
///
/// Dropping a `BufWriter` with unflushed data loses that data (flushing
/// needs an `.await`, which `Drop` cannot do): flush first.
///
/// # Examples
///
/// ```
/// use corio::io::BufWriter;
///
/// corio::run(async {
///     let mut out = BufWriter::new(Vec::new());
///     out.write_all(b"a").await.unwrap();
///     out.write_all(b"b").await.unwrap();
///     assert!(out.get_ref().is_empty()); // still buffered
///     out.flush().await.unwrap();
///     assert_eq!(out.get_ref(), b"ab");
/// });
/// ```
pub struct BufWriter<W> {
    inner: W,
    buf: Vec<u8>,
    capacity: usize,
}

impl<W: AsyncWrite + Unpin> BufWriter<W> {
    /// A writer with an 8 KiB buffer.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let mut writer = corio::io::BufWriter::new(Vec::<u8>::new());
    ///     writer.write_all(b"hi").await.unwrap();
    ///     assert!(writer.get_ref().is_empty()); // still in the buffer
    ///     writer.flush().await.unwrap();
    ///     assert_eq!(writer.get_ref(), b"hi");
    /// });
    /// ```
    pub fn new(inner: W) -> BufWriter<W> {
        BufWriter::with_capacity(DEFAULT_CAPACITY, inner)
    }

    /// A writer with a buffer of `capacity` bytes (at least 1).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let mut writer = corio::io::BufWriter::with_capacity(4, Vec::<u8>::new());
    ///     writer.write_all(b"abc").await.unwrap();
    ///     assert_eq!(writer.buffer(), b"abc"); // fits: kept
    ///     writer.write_all(b"defg").await.unwrap();
    ///     assert_eq!(writer.get_ref(), b"abcdefg"); // would not fit: written out
    /// });
    /// ```
    pub fn with_capacity(capacity: usize, inner: W) -> BufWriter<W> {
        BufWriter {
            inner,
            buf: Vec::with_capacity(capacity.max(1)),
            capacity: capacity.max(1),
        }
    }

    /// The inner writer.
    ///
    /// # Examples
    ///
    /// ```
    /// let writer = corio::io::BufWriter::new(Vec::<u8>::new());
    /// assert!(writer.get_ref().is_empty());
    /// ```
    pub fn get_ref(&self) -> &W {
        &self.inner
    }

    /// The inner writer, mutably (writing to it directly jumps the queue).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let mut writer = corio::io::BufWriter::new(Vec::<u8>::new());
    ///     writer.write_all(&[1]).await.unwrap();
    ///     writer.get_mut().push(2); // jumps the queue
    ///     writer.flush().await.unwrap();
    ///     assert_eq!(writer.get_ref(), &[2, 1]);
    /// });
    /// ```
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    /// The bytes waiting in the buffer.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let mut writer = corio::io::BufWriter::new(Vec::<u8>::new());
    ///     writer.write_all(b"xy").await.unwrap();
    ///     assert_eq!(writer.buffer(), b"xy");
    /// });
    /// ```
    pub fn buffer(&self) -> &[u8] {
        &self.buf
    }

    /// The inner writer; unflushed bytes are lost (flush first).
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let mut writer = corio::io::BufWriter::new(Vec::<u8>::new());
    ///     writer.write_all(b"z").await.unwrap();
    ///     writer.flush().await.unwrap();
    ///     assert_eq!(writer.into_inner(), b"z");
    /// });
    /// ```
    pub fn into_inner(self) -> W {
        self.inner
    }

    /// Writes the buffer out (not the inner writer's own flush).
    fn poll_flush_buf(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut written = 0;
        let result = loop {
            if written >= self.buf.len() {
                break Ok(());
            }
            match Pin::new(&mut self.inner).poll_write(cx, &self.buf[written..]) {
                Poll::Ready(Ok(0)) => break Err(io::ErrorKind::WriteZero.into()),
                Poll::Ready(Ok(n)) => written += n,
                Poll::Ready(Err(e)) => break Err(e),
                Poll::Pending => {
                    self.buf.drain(..written);
                    return Poll::Pending;
                }
            }
        };
        self.buf.drain(..written);
        Poll::Ready(result)
    }

    /// Buffers all of `data`, writing the buffer out when it fills (data
    /// larger than the buffer goes straight through). Cancel safe in the
    /// sense that buffered bytes stay buffered; a dropped call may have
    /// taken part of `data`.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let mut writer = corio::io::BufWriter::with_capacity(4, Vec::new());
    ///     writer.write_all(b"longer than four").await.unwrap();
    ///     writer.flush().await.unwrap();
    ///     assert_eq!(writer.get_ref(), b"longer than four");
    /// });
    /// ```
    pub async fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        while !data.is_empty() {
            let n = poll_fn(|cx| Pin::new(&mut *self).poll_write(cx, data)).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            data = &data[n..];
        }
        Ok(())
    }

    /// Writes out everything buffered, then flushes the inner writer.
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     let mut writer = corio::io::BufWriter::new(Vec::new());
    ///     writer.write_all(b"done").await.unwrap();
    ///     writer.flush().await.unwrap();
    ///     assert!(writer.buffer().is_empty());
    /// });
    /// ```
    pub async fn flush(&mut self) -> io::Result<()> {
        poll_fn(|cx| Pin::new(&mut *self).poll_flush(cx)).await
    }
}

impl<W: AsyncWrite + Unpin> AsyncWrite for BufWriter<W> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.buf.len() + data.len() > self.capacity {
            ready!(self.poll_flush_buf(cx))?;
        }
        if data.len() >= self.capacity {
            Pin::new(&mut self.inner).poll_write(cx, data)
        } else {
            self.buf.extend_from_slice(data);
            Poll::Ready(Ok(data.len()))
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_flush_buf(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_flush_buf(cx))?;
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

impl<W> fmt::Debug for BufWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BufWriter")
            .field("buffered", &self.buf.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

// ----- copy ------------------------------------------------------------------------

/// Copies everything from `reader` to `writer` until the reader ends, then
/// flushes the writer; returns the bytes copied.
///
/// Not cancel safe: bytes read but not yet written when the future is
/// dropped are lost.
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let mut out = Vec::new();
///     let n = corio::io::copy(&mut &b"through"[..], &mut out).await.unwrap();
///     assert_eq!((n, &out[..]), (7, &b"through"[..]));
/// });
/// ```
pub async fn copy<R, W>(reader: &mut R, writer: &mut W) -> io::Result<u64>
where
    R: AsyncRead + Unpin + ?Sized,
    W: AsyncWrite + Unpin + ?Sized,
{
    let mut buf = vec![0; DEFAULT_CAPACITY];
    let mut total = 0u64;
    loop {
        let n = poll_fn(|cx| Pin::new(&mut *reader).poll_read(cx, &mut buf)).await?;
        if n == 0 {
            poll_fn(|cx| Pin::new(&mut *writer).poll_flush(cx)).await?;
            return Ok(total);
        }
        let mut data = &buf[..n];
        while !data.is_empty() {
            let written = poll_fn(|cx| Pin::new(&mut *writer).poll_write(cx, data)).await?;
            if written == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            data = &data[written..];
        }
        total += n as u64;
    }
}

// ----- stdin -----------------------------------------------------------------------

/// Standard input for tasks; see [`stdin`].
///
/// # Examples
///
/// ```no_run
/// corio::run(async {
///     let mut input = corio::io::stdin();
///     while let Some(line) = input.next_line().await.unwrap() {
///         println!("you typed {line:?}");
///     }
/// });
/// ```
pub struct Stdin {
    /// The longest line taken (`max_line_length`).
    max_line: Option<usize>,
}

/// One line's outcome: the line, `None` at the end of input, or an error
/// (not UTF-8, too long, or the read failed).
type Line = io::Result<Option<String>>;

/// A read of standard input on a pool thread (it puts every line it
/// completes on [`READY`]), with its place in line: reads are numbered as
/// they start.
type LineRead = (u64, crate::pool::JobHandle<()>);

/// Lines read and cut that no call has taken yet, oldest first: one read
/// takes whatever the pipe holds (up to 64 KiB), so one pool job serves
/// many lines — not one job per line. A read finds lines here already
/// (another read's) and returns at once: it reads only when none wait.
static READY: std::sync::Mutex<std::collections::VecDeque<Line>> =
    std::sync::Mutex::new(std::collections::VecDeque::new());

fn ready_lines() -> std::sync::MutexGuard<'static, std::collections::VecDeque<Line>> {
    READY.lock().unwrap_or_else(|e| e.into_inner())
}

/// Bytes read from standard input and not yet cut into lines (the start
/// of a line whose end has not come).
struct Pending {
    bytes: Vec<u8>,
    /// How many of `bytes` are known to hold no `\n`.
    searched: usize,
    /// The rest of a line over the limit is being dropped (its error was
    /// given already).
    skipping: bool,
}

static PENDING: std::sync::Mutex<Pending> = std::sync::Mutex::new(Pending {
    bytes: Vec::new(),
    searched: 0,
    skipping: false,
});

/// The number of the next read to start.
static STARTED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// Reads left by calls that were dropped, oldest first, shared by every
/// [`Stdin`] of the process, as the terminal is: a line read for a call (or
/// a handle) that went away goes to the next caller, whichever handle it
/// uses.
static LEFT: std::sync::Mutex<std::collections::VecDeque<LineRead>> =
    std::sync::Mutex::new(std::collections::VecDeque::new());

fn left_reads() -> std::sync::MutexGuard<'static, std::collections::VecDeque<LineRead>> {
    // It holds no invariant a panic could break.
    LEFT.lock().unwrap_or_else(|e| e.into_inner())
}

/// Leaves an unfinished read to the next caller if the call is dropped —
/// in its place among the reads left, by when it started (a read taken
/// over from an earlier call and dropped again is still the oldest).
struct Reading(Option<LineRead>);

impl Drop for Reading {
    fn drop(&mut self) {
        if let Some(read) = self.0.take() {
            let mut left = left_reads();
            let place = left.partition_point(|(started, _)| *started < read.0);
            left.insert(place, read);
        }
    }
}

/// Standard input, read line by line without blocking the loop: a thread
/// of the loop's default pool ([`spawn_blocking`](crate::spawn_blocking))
/// reads whatever the pipe holds (up to 64 KiB at a time) while tasks go
/// on, and cuts it into lines — one pool job serves every line it read
/// (a million short lines take about 0.1 s).
///
/// # Examples
///
/// ```no_run
/// corio::run(async {
///     let mut input = corio::io::stdin();
///     if let Some(name) = input.next_line().await.unwrap() {
///         println!("hello, {name}");
///     }
/// });
/// ```
pub fn stdin() -> Stdin {
    Stdin { max_line: None }
}

impl Stdin {
    /// Refuses lines longer than `limit` bytes (the `\n` counted), as
    /// [`BufReader::max_line_length`] does: such a line is an
    /// `InvalidData` error whose inner error is a [`LineTooLong`], its
    /// bytes dropped as they are read, and the next call reads the line
    /// after it. Without a limit a line is read whole, however long — input
    /// without a newline (a binary file piped in) would grow without
    /// bound. (A read left by a dropped call keeps the limit of the call
    /// that started it.)
    ///
    /// # Examples
    ///
    /// ```no_run
    /// corio::run(async {
    ///     let mut input = corio::io::stdin().max_line_length(64 * 1024);
    ///     match input.next_line().await {
    ///         Ok(line) => println!("{line:?}"),
    ///         Err(err) => eprintln!("skipped: {err}"), // too long, or not UTF-8
    ///     }
    /// });
    /// ```
    pub fn max_line_length(mut self, limit: usize) -> Stdin {
        self.max_line = Some(limit);
        self
    }

    /// The next line typed, without its `\n` / `\r\n`; `None` at the end of
    /// input (Ctrl-D).
    ///
    /// Cancel safe: a line being read when the call is dropped is returned
    /// by the next call — on any `Stdin` of the process, since they share
    /// the terminal. Lines are cut in the order they were typed and handed
    /// out in that order, whichever call (or `Stdin`) asks next: no line is
    /// lost or read twice; calls waiting at the same time get them in the
    /// order they look. (When the loop closes, a read still blocked on the
    /// terminal is left to its thread, not waited for; the lines it reads
    /// go to the next call, on any loop.)
    ///
    /// # Panics
    ///
    /// Outside a running loop.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// corio::run(async {
    ///     let mut input = corio::io::stdin();
    ///     let first = input.next_line().await.unwrap();
    ///     # drop(first);
    /// });
    /// ```
    pub async fn next_line(&mut self) -> io::Result<Option<String>> {
        // Each round takes a read — one left by a dropped call, else a new
        // one — and waits for it to put lines on `READY` (or to find some
        // there). Another call may take them first: then it reads again.
        // (A read left by a call on a loop that has closed since may have
        // been cancelled before it started: then too.)
        loop {
            if let Some(line) = ready_lines().pop_front() {
                return line;
            }
            let read = match left_reads().pop_front() {
                Some(read) => read,
                None => {
                    // Numbered before it is submitted: its place in line.
                    let number = STARTED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let job = crate::context::current("corio::io::Stdin::next_line")
                        .default_pool()
                        .submit({
                            let limit = self.max_line;
                            move || read_stdin_lines(limit)
                        })
                        .map_err(io::Error::other)?;
                    (number, job)
                }
            };
            let mut reading = Reading(Some(read));
            let result = poll_fn(|cx| match reading.0.as_mut() {
                Some((_, read)) => Pin::new(read).poll(cx),
                None => Poll::Pending, // not reached: it returns once
            })
            .await;
            reading.0 = None;
            match result {
                Ok(()) | Err(crate::pool::JobError::Cancelled) => continue,
                Err(err) => return Err(err.into()),
            }
        }
    }
}

/// Unless lines wait on [`READY`] already, reads standard input (blocking)
/// until at least one line is complete, and puts every line complete by
/// then there: lines of at most `limit` bytes with their `\n`, if there is
/// a limit (a longer one is an error, and the rest of it is dropped as it
/// comes). At the end of input, the last line without a `\n`, then `None`.
fn read_stdin_lines(limit: Option<usize>) {
    use std::io::Read;
    // One read at a time: the others wait here, then find its lines.
    let mut pending = PENDING.lock().unwrap_or_else(|e| e.into_inner());
    let pending = &mut *pending;
    let mut chunk = Vec::new();
    loop {
        let lines = cut_lines(pending, limit);
        let mut ready = ready_lines();
        ready.extend(lines);
        if !ready.is_empty() {
            return;
        }
        drop(ready);
        chunk.resize(64 * 1024, 0);
        let n = match io::stdin().lock().read(&mut chunk) {
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
            Err(err) => return ready_lines().push_back(Err(err)),
        };
        if n == 0 {
            // The end (Ctrl-D on a terminal, which may be typed on after).
            let last = std::mem::take(&mut pending.bytes);
            pending.searched = 0;
            let skipped = std::mem::replace(&mut pending.skipping, false);
            let mut ready = ready_lines();
            if !last.is_empty() && !skipped {
                ready.push_back(finish_line(last, false).map(Some));
            }
            ready.push_back(Ok(None));
            return;
        }
        pending.bytes.extend_from_slice(&chunk[..n]);
    }
}

/// The complete lines at the start of `pending` (and the error for a line
/// already over `limit` without its end).
fn cut_lines(pending: &mut Pending, limit: Option<usize>) -> Vec<Line> {
    let too_long = |limit| {
        Err(io::Error::new(
            io::ErrorKind::InvalidData,
            LineTooLong { limit },
        ))
    };
    let mut lines = Vec::new();
    let mut start = 0;
    let mut from = pending.searched;
    while let Some(at) = pending.bytes[from..].iter().position(|&b| b == b'\n') {
        let end = from + at + 1; // past the `\n`
        if std::mem::replace(&mut pending.skipping, false) {
            // The end of a line refused before.
        } else if let Some(limit) = limit.filter(|&limit| end - start > limit) {
            lines.push(too_long(limit));
        } else {
            let line = pending.bytes[start..end - 1].to_vec();
            lines.push(finish_line(line, true).map(Some));
        }
        start = end;
        from = end;
    }
    pending.bytes.drain(..start);
    pending.searched = pending.bytes.len();
    // A line already longer than the limit, its end still to come: refused
    // now, and the rest dropped as it arrives.
    if let Some(limit) = limit {
        if pending.skipping {
            pending.bytes.clear();
            pending.searched = 0;
        } else if pending.bytes.len() > limit {
            lines.push(too_long(limit));
            pending.bytes.clear();
            pending.searched = 0;
            pending.skipping = true;
        }
    }
    lines
}

impl fmt::Debug for Stdin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stdin")
            .field("reads_left", &left_reads().len())
            .finish()
    }
}

// ----- stdout ----------------------------------------------------------------------

/// Standard output for tasks, written on the thread pool; see [`stdout`].
///
/// # Examples
///
/// ```
/// use corio::io::BufWriter;
///
/// corio::run(async {
///     let mut out = BufWriter::new(corio::io::stdout());
///     out.write_all(b"hello from a task\n").await?;
///     out.flush().await // before the loop ends: see `stdout`
/// })
/// .unwrap();
/// ```
pub struct Stdout {
    /// The write handed to a pool thread last, until its end is seen.
    writing: Option<crate::pool::JobHandle<io::Result<()>>>,
}

/// Standard output as an [`AsyncWrite`], for tasks: a write hands its bytes
/// (up to 64 KiB) to a thread of the loop's default pool and returns at
/// once; the next write or [`flush`](futures_io::AsyncWrite::poll_flush)
/// waits for that one to be done — so a slow reader at the other end of a
/// pipe (`tool | less`) holds up only the task that writes, never the
/// loop. Wrap it in a [`BufWriter`] for many small writes (asyncio:
/// `connect_write_pipe`; tokio: `io::stdout()`).
///
/// A failed write (`BrokenPipe` once the reader has gone: `tool | head`)
/// is reported by the next write or flush. **Flush before the loop ends**:
/// a write still queued on the pool when the loop closes is dropped, as
/// the loop's queued pool jobs are. Output from several `Stdout`s (or from
/// `println!`) may interleave at write boundaries.
///
/// # Panics
///
/// Writing outside a running loop.
///
/// # Examples
///
/// ```
/// use corio::io::BufWriter;
///
/// corio::run(async {
///     let mut out = BufWriter::new(corio::io::stdout());
///     for n in 1..=3 {
///         out.write_all(format!("line {n}\n").as_bytes()).await?;
///     }
///     out.flush().await
/// })
/// .unwrap();
/// ```
pub fn stdout() -> Stdout {
    Stdout { writing: None }
}

impl Stdout {
    /// Waits for the write in flight, if any; its error, if it failed.
    fn poll_written(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(writing) = self.writing.as_mut() else {
            return Poll::Ready(Ok(()));
        };
        let result = ready!(Pin::new(writing).poll(cx));
        self.writing = None;
        Poll::Ready(match result {
            Ok(written) => written,
            Err(err) => Err(io::Error::other(err)),
        })
    }
}

impl AsyncWrite for Stdout {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        ready!(this.poll_written(cx))?;
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let bytes = buf[..buf.len().min(64 * 1024)].to_vec();
        let n = bytes.len();
        let job = crate::context::current("corio::io::Stdout")
            .default_pool()
            .submit(move || {
                use std::io::Write;
                let mut out = io::stdout().lock();
                out.write_all(&bytes)?;
                out.flush()
            })
            .map_err(io::Error::other)?;
        this.writing = Some(job);
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_written(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_written(cx)
    }
}

impl fmt::Debug for Stdout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stdout")
            .field("writing", &self.writing.is_some())
            .finish()
    }
}
