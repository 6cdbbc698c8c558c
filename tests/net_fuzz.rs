//! corio::net and corio::io, seeded and randomized over loopback: the
//! cancel-safety promises of TcpStream, its owned halves, UdpSocket,
//! BufReader (read_line / read_until / lines / AsyncRead / AsyncBufRead),
//! BufWriter and copy, checked against what each method's doc says.
//!
//! One connection per seed, small socket buffers, both ends on one loop:
//! the peer writes a known pseudo-random stream in random pieces with random
//! pauses and half-closes; the client reads it with random operations, each
//! awaited plainly or raced (zero / short `timeout`, `select` against
//! `yield_now`, dropped after one poll). Cancel-safe calls must give the
//! stream exactly; `read_exact` may lose only what it put in the buffer;
//! `read_to_end` keeps exactly what it read. Meanwhile the client writes
//! segments (write / write_all / copy / BufWriter), also raced; the peer's
//! `read_to_end` must see, for each segment, exactly the bytes the returned
//! values say (a prefix for a dropped `write_all` / `copy`). UDP: datagrams
//! sent by completed sends arrive once, intact; dropped sends send nothing.
//! Every seed runs under a timeout: a hang fails it.
//! `SEEDS=N` runs more or fewer (default 100 TCP, 60 UDP, 60 accept);
//! `SEED=n` runs one; `NET_FUZZ_TIMES=1` prints each seed's time.
mod common;

use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::io;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::string::FromUtf8Error;
use std::task::Poll;
use std::time::Duration;

use common::XorShift;
use corio::io::{BufReader, BufWriter, Lines};
use corio::net::{OwnedReadHalf, OwnedWriteHalf, TcpListener, TcpStream, UdpSocket};
use corio::time::{sleep, timeout};
use corio::{Either, EventLoop, select, yield_now};
use futures_io::{AsyncBufRead, AsyncRead, AsyncWrite};

// ---------- plumbing ----------
thread_local! { static ERRORS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) }; }
fn err(msg: String) {
    ERRORS.with(|e| {
        let mut e = e.borrow_mut();
        if e.len() < 10 {
            e.push(msg)
        }
    });
}
macro_rules! check {
    ($c:expr, $($t:tt)*) => { if !$c { err(format!($($t)*)); } };
}

thread_local! { static STATS: RefCell<std::collections::BTreeMap<&'static str, u64>> = const { RefCell::new(std::collections::BTreeMap::new()) }; }
fn stat(what: &'static str) {
    STATS.with(|s| *s.borrow_mut().entry(what).or_default() += 1);
}

/// The seed's generator, shared by its tasks.
#[derive(Clone)]
struct Rng(Rc<RefCell<XorShift>>);
impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(Rc::new(RefCell::new(XorShift::seeded(seed))))
    }
    fn next(&self) -> u64 {
        self.0.borrow_mut().next()
    }
    fn below(&self, n: u64) -> u64 {
        self.next() % n
    }
    fn size(&self, max: usize) -> usize {
        // Mostly small, sometimes large.
        match self.below(4) {
            0 => 1 + self.below(8) as usize,
            1 => 1 + self.below(max.min(512) as u64) as usize,
            2 => 1 + self.below(max.min(4096) as u64) as usize,
            _ => 1 + self.below(max as u64) as usize,
        }
    }
}

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51afd7ed558ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ceb9fe1a85ec53);
    x ^ (x >> 33)
}

/// How a call is awaited.
#[derive(Debug, Clone, Copy)]
enum How {
    Plain,
    Zero,
    Short(u64),
    SelectYield,
    PollOnce,
}
fn pick_how(r: &Rng) -> How {
    match r.below(8) {
        0 | 1 => How::Plain,
        2 => How::Zero,
        3 => How::Short(r.below(200)),
        4 | 5 => How::SelectYield,
        _ => How::PollOnce,
    }
}
/// `Some(output)`, or `None` if the future was dropped unfinished.
async fn race<F: Future>(how: How, fut: F) -> Option<F::Output> {
    let out = match how {
        How::Plain => Some(fut.await),
        How::Zero => timeout(Duration::ZERO, fut).await.ok(),
        How::Short(us) => timeout(Duration::from_micros(us), fut).await.ok(),
        How::SelectYield => match select(fut, yield_now()).await {
            Either::Left(v) => Some(v),
            Either::Right(()) => None,
        },
        How::PollOnce => {
            let mut fut = pin!(fut);
            poll_fn(|cx| {
                Poll::Ready(match fut.as_mut().poll(cx) {
                    Poll::Ready(v) => Some(v),
                    Poll::Pending => None,
                })
            })
            .await
        }
    };
    if out.is_none() {
        stat("futures dropped unfinished");
        // A cancelled call may not have yielded: let the others run.
        yield_now().await;
    }
    out
}

async fn pause(r: &Rng) {
    match r.below(32) {
        0..=11 => {}
        12..=23 => yield_now().await,
        24 => sleep(Duration::from_micros(r.below(300))).await,
        _ => {
            for _ in 0..r.below(5) {
                yield_now().await
            }
        }
    }
}

// ---------- the client's reading: what it got, checked against the stream ----------
struct Got {
    expected: Rc<Vec<u8>>,
    got: Vec<u8>,
    eof: bool,
    what: &'static str,
}
impl Got {
    fn pos(&self) -> usize {
        self.got.len()
    }
    fn push(&mut self, bytes: &[u8], op: &str) {
        let p = self.got.len();
        let end = (p + bytes.len()).min(self.expected.len());
        if self.expected[p.min(end)..end] != *bytes {
            let first = (0..bytes.len())
                .find(|&i| p + i >= self.expected.len() || self.expected[p + i] != bytes[i])
                .unwrap_or(0);
            err(format!(
                "{}: {op} gave {} bytes at stream offset {p} that differ from the stream from byte {first} on",
                self.what,
                bytes.len()
            ));
        }
        self.got.extend_from_slice(bytes);
    }
    /// A buffer for `read_exact`: each byte differs from the stream's byte
    /// it would receive, so the bytes received are the matching prefix.
    fn poisoned(&self, len: usize) -> Vec<u8> {
        (0..len)
            .map(|i| !self.expected.get(self.pos() + i).copied().unwrap_or(0))
            .collect()
    }
    fn received_prefix(&self, buf: &[u8]) -> usize {
        let p = self.pos();
        (0..buf.len())
            .find(|&i| self.expected.get(p + i) != Some(&buf[i]))
            .unwrap_or(buf.len())
    }
    fn at_eof(&mut self, op: &str) {
        check!(
            self.got.len() == self.expected.len(),
            "{}: {op} said end of stream at offset {} of {}",
            self.what,
            self.got.len(),
            self.expected.len()
        );
        self.eof = true;
    }
    fn finish(&self) {
        check!(
            self.eof,
            "{}: the reader never saw the end of the stream",
            self.what
        );
        check!(
            self.got == *self.expected,
            "{}: got {} bytes, the stream has {}",
            self.what,
            self.got.len(),
            self.expected.len()
        );
    }
}

trait RawRead: AsyncRead + Unpin {
    async fn read_(&mut self, b: &mut [u8]) -> io::Result<usize>;
    async fn read_exact_(&mut self, b: &mut [u8]) -> io::Result<()>;
    async fn read_to_end_(&mut self, v: &mut Vec<u8>) -> io::Result<usize>;
}
/// The same inherent methods on the stream and on its read half.
macro_rules! raw_read {
    ($($t:ty),*) => {$(
        impl RawRead for $t {
            async fn read_(&mut self, b: &mut [u8]) -> io::Result<usize> {
                self.read(b).await
            }
            async fn read_exact_(&mut self, b: &mut [u8]) -> io::Result<()> {
                self.read_exact(b).await
            }
            async fn read_to_end_(&mut self, v: &mut Vec<u8>) -> io::Result<usize> {
                self.read_to_end(v).await
            }
        }
    )*};
}
raw_read!(TcpStream, OwnedReadHalf);

fn ok<T>(r: io::Result<T>, what: &str, op: &str) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) => {
            err(format!("{what}: {op} failed: {e}"));
            None
        }
    }
}

/// `AsyncRead::poll_read` (cancel safe), as the operation `op`.
async fn poll_read_op<R: AsyncRead + Unpin + ?Sized>(
    r: &mut R,
    how: How,
    g: &mut Got,
    rng: &Rng,
    op: &'static str,
) {
    let mut buf = vec![0u8; rng.size(20000)];
    let fut = poll_fn(|cx| Pin::new(&mut *r).poll_read(cx, &mut buf));
    if let Some(res) = race(how, fut).await {
        if let Some(n) = ok(res, g.what, op) {
            g.push(&buf[..n], op);
            if n == 0 {
                g.at_eof(op);
            }
        }
    }
}

/// `copy` into a Vec: the writer never waits, so nothing is ever "read but
/// not yet written": what the Vec holds is what was read.
async fn copy_op<R: AsyncRead + Unpin + ?Sized>(r: &mut R, how: How, g: &mut Got) {
    let what = g.what;
    let mut v = Vec::new();
    match race(how, corio::io::copy(r, &mut v)).await {
        Some(res) => {
            if let Some(n) = ok(res, what, "copy") {
                check!(
                    n as usize == v.len(),
                    "{what}: copy returned {n}, wrote {}",
                    v.len()
                );
                g.push(&v, "copy");
                g.at_eof("copy");
            }
        }
        None => g.push(&v, "dropped copy"),
    }
}

/// One random read on a raw stream or read half.
async fn raw_read_op<R: RawRead>(r: &mut R, g: &mut Got, rng: &Rng) {
    let how = pick_how(rng);
    let what = g.what;
    match rng.below(20) {
        0..=7 => {
            // read: cancel safe.
            let mut buf = vec![0u8; rng.size(20000)];
            if let Some(res) = race(how, r.read_(&mut buf)).await {
                if let Some(n) = ok(res, what, "read") {
                    g.push(&buf[..n], "read");
                    if n == 0 {
                        g.at_eof("read");
                    }
                }
            }
        }
        8..=10 => {
            // The AsyncRead form.
            poll_read_op(r, how, g, rng, "poll_read").await;
        }
        11..=15 => {
            // read_exact: a drop loses what it read into the buffer, nothing
            // more (the next read goes on right after it).
            let len = rng.size(20000);
            let mut buf = g.poisoned(len);
            let out = race(how, r.read_exact_(&mut buf)).await;
            match out {
                Some(Ok(())) => g.push(&buf, "read_exact"),
                Some(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    let k = g.received_prefix(&buf);
                    g.push(&buf[..k], "read_exact (eof)");
                    g.at_eof("read_exact");
                }
                Some(Err(e)) => err(format!("{what}: read_exact failed: {e}")),
                None => {
                    let k = g.received_prefix(&buf);
                    if k > 0 {
                        stat("read_exact dropped part-way");
                    }
                    g.push(&buf[..k], "dropped read_exact");
                }
            }
        }
        16 | 17 => {
            // read_to_end: after a drop, the buffer holds exactly what it
            // read.
            let start = rng.below(3) as usize;
            let mut v = vec![7u8; start];
            match race(how, r.read_to_end_(&mut v)).await {
                Some(res) => {
                    if let Some(n) = ok(res, what, "read_to_end") {
                        check!(
                            v.len() == start + n,
                            "{what}: read_to_end returned {n}, buffer went from {start} to {} bytes",
                            v.len()
                        );
                        g.push(&v[start.min(v.len())..], "read_to_end");
                        g.at_eof("read_to_end");
                    }
                }
                None => {
                    check!(
                        v.len() >= start && v[..start] == [7u8; 3][..start],
                        "{what}: a dropped read_to_end changed the bytes before it"
                    );
                    if v.len() > start {
                        stat("read_to_end dropped part-way");
                    }
                    g.push(&v[start.min(v.len())..], "dropped read_to_end");
                }
            }
        }
        _ => {
            copy_op(r, how, g).await;
        }
    }
}

/// One random read on a BufReader.
async fn buf_read_op(r: &mut BufReader<OwnedReadHalf>, g: &mut Got, rng: &Rng) {
    let how = pick_how(rng);
    let what = g.what;
    match rng.below(16) {
        0..=5 => {
            // read_line: cancel safe; nothing appended until the line is whole.
            let pre = if rng.below(2) == 0 { "" } else { "pre" };
            let mut line = String::from(pre);
            match race(how, r.read_line(&mut line)).await {
                None if !r.buffer().is_empty() && !r.buffer().contains(&b'\n') => {
                    stat("read_line dropped with a partial line buffered");
                    check!(
                        line == pre,
                        "{what}: a dropped read_line appended {:?}",
                        &line[pre.len()..]
                    )
                }
                None => check!(
                    line == pre,
                    "{what}: a dropped read_line appended {:?}",
                    &line[pre.len()..]
                ),
                Some(Ok(n)) => {
                    check!(
                        line.len() == pre.len() + n,
                        "{what}: read_line returned {n}, line went from {} to {} bytes",
                        pre.len(),
                        line.len()
                    );
                    let l = line.as_bytes().get(pre.len()..).unwrap_or(&[]);
                    g.push(l, "read_line");
                    if n == 0 {
                        g.at_eof("read_line");
                    } else if l.last() != Some(&b'\n') {
                        check!(
                            g.pos() == g.expected.len(),
                            "{what}: read_line gave a line without \\n before the end"
                        );
                    }
                    check!(
                        !l[..l.len().saturating_sub(1)].contains(&b'\n'),
                        "{what}: read_line gave two lines"
                    );
                }
                Some(Err(e)) if e.kind() == io::ErrorKind::InvalidData => {
                    check!(line == pre, "{what}: read_line appended a non-UTF-8 line");
                    match e.into_inner().map(|i| i.downcast::<FromUtf8Error>()) {
                        Some(Ok(bad)) => {
                            let bytes = bad.into_bytes();
                            g.push(&bytes, "read_line (not UTF-8)");
                            check!(
                                bytes.ends_with(b"\n") || g.pos() == g.expected.len(),
                                "{what}: non-UTF-8 line not whole"
                            );
                        }
                        _ => err(format!(
                            "{what}: read_line's InvalidData holds no FromUtf8Error"
                        )),
                    }
                }
                Some(Err(e)) => err(format!("{what}: read_line failed: {e}")),
            }
        }
        6..=8 => {
            // read_until: not cancel safe, but what it appended stays in buf.
            let byte = if rng.below(2) == 0 {
                b'\n'
            } else {
                b'a' + rng.below(26) as u8
            };
            let mut v = Vec::new();
            match race(how, r.read_until(byte, &mut v)).await {
                None => {
                    if !v.is_empty() {
                        stat("read_until dropped part-way");
                    }
                    g.push(&v, "dropped read_until")
                }
                Some(res) => {
                    if let Some(n) = ok(res, what, "read_until") {
                        check!(
                            n == v.len(),
                            "{what}: read_until returned {n}, appended {}",
                            v.len()
                        );
                        g.push(&v, "read_until");
                        check!(
                            !v[..v.len().saturating_sub(1)].contains(&byte),
                            "{what}: read_until went past its byte"
                        );
                        if n == 0 {
                            g.at_eof("read_until");
                        } else if v.last() != Some(&byte) {
                            check!(
                                g.pos() == g.expected.len(),
                                "{what}: read_until stopped early without its byte"
                            );
                        }
                    }
                }
            }
        }
        9..=11 => {
            poll_read_op(r, how, g, rng, "BufReader::poll_read").await;
        }
        12..=14 => {
            // fill_buf + consume.
            let fut = poll_fn(|cx| match Pin::new(&mut *r).poll_fill_buf(cx) {
                Poll::Ready(Ok(b)) => Poll::Ready(Ok(b.to_vec())),
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            });
            if let Some(res) = race(how, fut).await {
                if let Some(avail) = ok(res, what, "poll_fill_buf") {
                    check!(
                        avail == r.buffer(),
                        "{what}: fill_buf differs from buffer()"
                    );
                    if avail.is_empty() {
                        g.at_eof("poll_fill_buf");
                    } else {
                        let n = 1 + rng.below(avail.len() as u64) as usize;
                        g.push(&avail[..n], "fill_buf/consume");
                        Pin::new(&mut *r).consume(n);
                    }
                }
            }
        }
        _ => {
            copy_op(r, how, g).await;
        }
    }
}

/// The lines `Lines` must give for `stream`: bytes, without `\n` / `\r\n`.
fn expected_lines(stream: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut rest = stream;
    while !rest.is_empty() {
        match rest.iter().position(|&c| c == b'\n') {
            Some(i) => {
                let mut l = &rest[..i];
                if l.last() == Some(&b'\r') {
                    l = &l[..l.len() - 1];
                }
                out.push(l.to_vec());
                rest = &rest[i + 1..];
            }
            None => {
                out.push(rest.to_vec());
                rest = &[];
            }
        }
    }
    out
}

async fn lines_reader(mut lines: Lines<OwnedReadHalf>, expected: Rc<Vec<u8>>, rng: Rng) {
    let want = expected_lines(&expected);
    let mut i = 0;
    for _ in 0..200_000 {
        let how = pick_how(&rng);
        let res = if rng.below(3) == 0 {
            use futures_core::Stream;
            let fut = poll_fn(|cx| Pin::new(&mut lines).poll_next(cx));
            race(how, fut).await.map(|o| o.transpose())
        } else {
            race(how, lines.next_line()).await
        };
        let got = match res {
            None => {
                stat("next_line dropped");
                continue;
            }
            Some(Ok(None)) => {
                check!(
                    i == want.len(),
                    "lines: ended after {i} of {} lines",
                    want.len()
                );
                return;
            }
            Some(Ok(Some(l))) => l.into_bytes(),
            Some(Err(e)) if e.kind() == io::ErrorKind::InvalidData => {
                match e.into_inner().map(|i| i.downcast::<FromUtf8Error>()) {
                    Some(Ok(bad)) => bad.into_bytes(),
                    _ => {
                        err("lines: InvalidData without its bytes".into());
                        return;
                    }
                }
            }
            Some(Err(e)) => {
                err(format!("lines: failed: {e}"));
                return;
            }
        };
        if i >= want.len() || got != want[i] {
            err(format!(
                "lines: line {i} is {:?}, expected {:?}",
                String::from_utf8_lossy(&got),
                want.get(i).map(|w| String::from_utf8_lossy(w).into_owned())
            ));
            return;
        }
        i += 1;
        pause(&rng).await;
    }
    err("lines: too many operations".into());
}

async fn read_all<R: RawRead>(mut r: R, mut g: Got, rng: Rng) -> R {
    for _ in 0..200_000 {
        if g.eof {
            break;
        }
        raw_read_op(&mut r, &mut g, &rng).await;
        pause(&rng).await;
    }
    g.finish();
    r
}

async fn buf_read_all(mut r: BufReader<OwnedReadHalf>, mut g: Got, rng: Rng) {
    for _ in 0..200_000 {
        if g.eof {
            break;
        }
        buf_read_op(&mut r, &mut g, &rng).await;
        pause(&rng).await;
    }
    g.finish();
}

// ---------- the client's writing: segments and what was said of them ----------
#[derive(Debug, Clone, Copy)]
enum Sent {
    /// Exactly this many bytes of the segment (a return value said so).
    Exact(usize),
    /// Some prefix (a dropped write_all / copy).
    Prefix,
}
#[derive(Default)]
struct Log {
    segs: Vec<(Vec<u8>, Sent, &'static str)>,
}
impl Log {
    fn segment(&self, rng: &Rng, seed: u64) -> Vec<u8> {
        let s = self.segs.len() as u64;
        let len = rng.size(30000);
        (0..len as u64)
            .map(|i| (mix(seed ^ (s << 40) ^ i) as u8 & 0x3f) | (((s & 3) as u8) << 6))
            .collect()
    }
}

/// Does `recv` match the log: each segment in turn contributes the bytes its
/// entry says? (An NFA over (segment, offset): a dropped write's length is
/// unknown.)
fn matches_log(log: &Log, recv: &[u8]) -> Result<(), String> {
    let segs = &log.segs;
    let limit = |i: usize| match segs[i].1 {
        Sent::Exact(n) => n,
        Sent::Prefix => segs[i].0.len(),
    };
    let close = |states: &mut Vec<(usize, usize)>| {
        let mut k = 0;
        while k < states.len() {
            let (i, j) = states[k];
            if i < segs.len() {
                let skip = match segs[i].1 {
                    Sent::Exact(n) => j == n,
                    Sent::Prefix => true,
                };
                if skip && !states.contains(&(i + 1, 0)) {
                    states.push((i + 1, 0));
                }
            }
            k += 1;
        }
    };
    let mut states = vec![(0usize, 0usize)];
    close(&mut states);
    for (at, &b) in recv.iter().enumerate() {
        let mut next = Vec::new();
        for &(i, j) in &states {
            if i < segs.len() && j < limit(i) && segs[i].0[j] == b && !next.contains(&(i, j + 1)) {
                next.push((i, j + 1));
            }
        }
        if next.is_empty() {
            let (i, j) = states[0];
            return Err(format!(
                "byte {at} of {} received does not fit (segment {i} of {}, {:?}, offset {j}, by {})",
                recv.len(),
                segs.len(),
                segs.get(i).map(|s| s.1),
                segs.get(i).map(|s| s.2).unwrap_or("-")
            ));
        }
        close(&mut next);
        states = next;
    }
    if states.contains(&(segs.len(), 0)) {
        Ok(())
    } else {
        let (i, j) = states[0];
        Err(format!(
            "the {} bytes received stop in segment {i} of {} ({:?}, by {}) at offset {j}",
            recv.len(),
            segs.len(),
            segs.get(i).map(|s| s.1),
            segs.get(i).map(|s| s.2).unwrap_or("-")
        ))
    }
}

trait RawWrite: AsyncWrite + Unpin {
    async fn write_(&mut self, b: &[u8]) -> io::Result<usize>;
    async fn write_all_(&mut self, b: &[u8]) -> io::Result<()>;
}
/// The same inherent methods on the stream and on its write half.
macro_rules! raw_write {
    ($($t:ty),*) => {$(
        impl RawWrite for $t {
            async fn write_(&mut self, b: &[u8]) -> io::Result<usize> {
                self.write(b).await
            }
            async fn write_all_(&mut self, b: &[u8]) -> io::Result<()> {
                self.write_all(b).await
            }
        }
    )*};
}
raw_write!(TcpStream, OwnedWriteHalf);

async fn raw_write_op<W: RawWrite>(w: &mut W, log: &mut Log, rng: &Rng, seed: u64) {
    let how = pick_how(rng);
    let seg = log.segment(rng, seed);
    let len = seg.len();
    let (sent, by): (Sent, &'static str) = match rng.below(8) {
        0 | 1 => (
            match race(how, w.write_(&seg)).await {
                None => Sent::Exact(0),
                Some(r) => {
                    let n = ok(r, "writer", "write").unwrap_or(0);
                    check!(n <= len, "write returned {n} > {len}");
                    Sent::Exact(n)
                }
            },
            "write",
        ),
        2 => (
            match race(how, poll_fn(|cx| Pin::new(&mut *w).poll_write(cx, &seg))).await {
                None => Sent::Exact(0),
                Some(r) => Sent::Exact(ok(r, "writer", "poll_write").unwrap_or(0)),
            },
            "poll_write",
        ),
        3..=5 => (
            match race(how, w.write_all_(&seg)).await {
                None => Sent::Prefix,
                Some(r) => {
                    ok(r, "writer", "write_all");
                    Sent::Exact(len)
                }
            },
            "write_all",
        ),
        _ => (
            match race(how, corio::io::copy(&mut &seg[..], w)).await {
                None => Sent::Prefix,
                Some(r) => {
                    if let Some(n) = ok(r, "writer", "copy") {
                        check!(n as usize == len, "copy returned {n} of {len}");
                    }
                    Sent::Exact(len)
                }
            },
            "copy",
        ),
    };
    if matches!(sent, Sent::Prefix) {
        stat("write_all/copy dropped");
    }
    log.segs.push((seg, sent, by));
}

async fn bufw_write_op(w: &mut BufWriter<OwnedWriteHalf>, log: &mut Log, rng: &Rng, seed: u64) {
    let how = pick_how(rng);
    match rng.below(9) {
        8 => {
            // copy into the BufWriter: flushes it when the reader ends.
            let seg = log.segment(rng, seed);
            let sent = match race(how, corio::io::copy(&mut &seg[..], w)).await {
                None => Sent::Prefix,
                Some(r) => {
                    if let Some(n) = ok(r, "BufWriter", "copy") {
                        check!(
                            n as usize == seg.len(),
                            "copy into BufWriter returned {n} of {}",
                            seg.len()
                        );
                        check!(
                            w.buffer().is_empty(),
                            "copy into BufWriter did not flush it ({} bytes left)",
                            w.buffer().len()
                        );
                    }
                    Sent::Exact(seg.len())
                }
            };
            log.segs.push((seg, sent, "copy into BufWriter"));
        }
        0..=3 => {
            // "a dropped call may have taken part of data"
            let seg = log.segment(rng, seed);
            let sent = match race(how, w.write_all(&seg)).await {
                None => {
                    stat("BufWriter::write_all dropped");
                    Sent::Prefix
                }
                Some(r) => {
                    ok(r, "BufWriter", "write_all");
                    Sent::Exact(seg.len())
                }
            };
            log.segs.push((seg, sent, "BufWriter::write_all"));
        }
        4 | 5 => {
            let seg = log.segment(rng, seed);
            let sent = match race(how, poll_fn(|cx| Pin::new(&mut *w).poll_write(cx, &seg))).await {
                None => Sent::Exact(0),
                Some(r) => Sent::Exact(ok(r, "BufWriter", "poll_write").unwrap_or(0)),
            };
            log.segs.push((seg, sent, "BufWriter::poll_write"));
        }
        _ => {
            // flush: buffered bytes stay buffered if it is dropped.
            let before = w.buffer().len();
            let res = race(how, w.flush()).await;
            if res.is_none() && w.buffer().len() < before && !w.buffer().is_empty() {
                stat("BufWriter::flush dropped part-way");
            }
            if let Some(r) = res {
                if ok(r, "BufWriter", "flush").is_some() {
                    check!(
                        w.buffer().is_empty(),
                        "BufWriter: flush left {} bytes",
                        w.buffer().len()
                    );
                }
            }
        }
    }
}

// ---------- the peer (server side) ----------
fn stream_bytes(seed: u64, len: usize, text: bool) -> Vec<u8> {
    (0..len as u64)
        .map(|i| {
            let h = mix(seed.wrapping_mul(31) ^ i ^ 0x5555_0000_0000);
            if !text {
                return h as u8;
            }
            match h % 200 {
                0..=5 => b'\n',
                6 | 7 => b'\r',
                8 => 0xff,
                _ => b'a' + (h >> 8) as u8 % 26,
            }
        })
        .collect()
}

async fn peer_write(mut w: OwnedWriteHalf, data: Rc<Vec<u8>>, rng: Rng) {
    let mut at = 0;
    // Sometimes a trickle: small pieces, so reads are often cut short.
    let max = match rng.below(3) {
        0 => 64,
        1 => 2000,
        _ => 20000,
    };
    while at < data.len() {
        let n = rng.size(max).min(data.len() - at);
        if rng.below(2) == 0 {
            if let Err(e) = w.write_all(&data[at..at + n]).await {
                err(format!("peer write_all failed: {e}"));
                return;
            }
            at += n;
        } else {
            match w.write(&data[at..at + n]).await {
                Ok(k) => at += k,
                Err(e) => {
                    err(format!("peer write failed: {e}"));
                    return;
                }
            }
        }
        pause(&rng).await;
    }
    match rng.below(2) {
        0 => drop(w), // documented: shuts down the write side
        _ => {
            let r = poll_fn(|cx| Pin::new(&mut w).poll_close(cx)).await;
            ok(r, "peer", "poll_close");
            pause(&rng).await;
        }
    }
}

async fn peer_read(mut r: OwnedReadHalf, rng: Rng) -> Vec<u8> {
    let mut all = Vec::new();
    if rng.below(2) == 0 {
        // Slow at first: the client's writes fill the buffers.
        sleep(Duration::from_micros(rng.below(3000))).await;
        ok(r.read_to_end(&mut all).await, "peer", "read_to_end");
        return all;
    }
    let mut buf = vec![0u8; 65536];
    for _ in 0..1_000_000 {
        let n = rng.size(65536);
        match r.read(&mut buf[..n]).await {
            Ok(0) => return all,
            Ok(k) => all.extend_from_slice(&buf[..k]),
            Err(e) => {
                err(format!("peer read failed: {e}"));
                return all;
            }
        }
        pause(&rng).await;
    }
    err("peer read: too many reads".into());
    all
}

fn small_buffers(s: &TcpStream, rng: &Rng) {
    // (Nagle + delayed ACKs would make small writes wait 40 ms.)
    s.set_nodelay(true).unwrap();
    let sock = socket2::SockRef::from(s);
    if rng.below(4) != 0 {
        // (Much smaller receive buffers make loopback drop segments and
        // wait 200 ms for retransmissions.)
        let _ = sock.set_send_buffer_size(2048 << rng.below(6));
        let _ = sock.set_recv_buffer_size(32768 << rng.below(3));
    }
}

// ---------- one TCP seed ----------
#[derive(Debug, Clone, Copy)]
enum Mode {
    /// One task reads and writes the whole stream.
    Unsplit,
    /// A reader task and a writer task on the halves.
    Split,
    /// BufReader on the read half, BufWriter on the write half.
    Buffered,
    /// `lines()` on the read half.
    Lines,
}

async fn tcp_seed(seed: u64) {
    let rng = Rng::new(seed);
    let mode = match rng.below(4) {
        0 => Mode::Unsplit,
        1 => Mode::Split,
        2 => Mode::Buffered,
        _ => Mode::Lines,
    };
    let text = matches!(mode, Mode::Buffered | Mode::Lines);
    let len = match rng.below(8) {
        0 => rng.below(100) as usize,
        1..=6 => rng.below(20_000) as usize,
        _ => rng.below(150_000) as usize,
    };
    let expected = Rc::new(stream_bytes(seed, len, text));
    let nsegs = rng.below(40) as usize;

    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let accept = corio::spawn(async move { listener.accept().await });
    let client = TcpStream::connect(addr).await.unwrap();
    let (server, _) = accept.await.unwrap().unwrap();
    small_buffers(&client, &rng);
    small_buffers(&server, &rng);
    let (sr, sw) = server.into_split();
    let peer_w = corio::spawn(peer_write(sw, expected.clone(), Rng::new(seed ^ 0xAAAA)));
    let peer_r = corio::spawn(peer_read(sr, Rng::new(seed ^ 0xBBBB)));

    let got = |what| Got {
        expected: expected.clone(),
        got: Vec::new(),
        eof: false,
        what,
    };
    let log: Log = match mode {
        Mode::Unsplit => {
            let mut s = client;
            let mut g = got("TcpStream");
            let mut log = Log::default();
            let mut closed = false;
            for _ in 0..400_000 {
                if g.eof && closed {
                    break;
                }
                if !closed && (g.eof || rng.below(3) == 0) {
                    if log.segs.len() >= nsegs {
                        ok(
                            s.shutdown(std::net::Shutdown::Write),
                            "TcpStream",
                            "shutdown",
                        );
                        closed = true;
                    } else {
                        raw_write_op(&mut s, &mut log, &rng, seed).await;
                    }
                } else if !g.eof {
                    raw_read_op(&mut s, &mut g, &rng).await;
                }
                pause(&rng).await;
            }
            g.finish();
            check!(closed, "TcpStream: writer never finished");
            log
        }
        Mode::Split | Mode::Buffered | Mode::Lines => {
            let (r, w) = client.into_split();
            let reader = match mode {
                Mode::Split => corio::spawn({
                    let (g, rng) = (got("OwnedReadHalf"), rng.clone());
                    async move {
                        read_all(r, g, rng).await;
                    }
                }),
                Mode::Buffered => corio::spawn({
                    let cap = match rng.below(3) {
                        0 => 1 + rng.below(16) as usize,
                        1 => 1 + rng.below(2000) as usize,
                        _ => 8192,
                    };
                    let (g, rng) = (got("BufReader"), rng.clone());
                    buf_read_all(BufReader::with_capacity(cap, r), g, rng)
                }),
                _ => {
                    let cap = 1 + rng.below(100) as usize;
                    corio::spawn(lines_reader(
                        BufReader::with_capacity(cap, r).lines(),
                        expected.clone(),
                        rng.clone(),
                    ))
                }
            };
            let wrng = Rng::new(seed ^ 0xCCCC);
            let mut log = Log::default();
            if matches!(mode, Mode::Buffered) && wrng.below(4) != 0 {
                let cap = 1 + wrng.below(40000) as usize;
                let mut bw = BufWriter::with_capacity(cap, w);
                for _ in 0..nsegs * 2 {
                    bufw_write_op(&mut bw, &mut log, &wrng, seed).await;
                    pause(&wrng).await;
                }
                if wrng.below(2) == 0 {
                    ok(bw.flush().await, "BufWriter", "flush");
                    check!(bw.buffer().is_empty(), "BufWriter: flush left bytes");
                    drop(bw.into_inner());
                } else {
                    let r = poll_fn(|cx| Pin::new(&mut bw).poll_close(cx)).await;
                    ok(r, "BufWriter", "poll_close");
                }
            } else {
                let mut w = w;
                for _ in 0..nsegs {
                    raw_write_op(&mut w, &mut log, &wrng, seed).await;
                    pause(&wrng).await;
                }
                if wrng.below(2) == 0 {
                    drop(w); // documented: shuts down the write side
                } else {
                    ok(
                        poll_fn(|cx| Pin::new(&mut w).poll_close(cx)).await,
                        "OwnedWriteHalf",
                        "poll_close",
                    );
                }
            }
            reader.await.unwrap();
            log
        }
    };
    peer_w.await.unwrap();
    let recv = peer_r.await.unwrap();
    if let Err(e) = matches_log(&log, &recv) {
        err(format!("{mode:?}: the peer's bytes: {e}"));
    }
}

// ---------- one UDP seed ----------
async fn udp_seed(seed: u64) {
    let rng = Rng::new(seed ^ 0x1234_5678);
    let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let b = Rc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let (a_addr, b_addr) = (a.local_addr().unwrap(), b.local_addr().unwrap());
    let connected = rng.below(2) == 0;
    if connected {
        a.connect(b_addr).await.unwrap();
        b.connect(a_addr).await.unwrap();
    }
    let receivers = 1 + rng.below(2) as usize;
    let count = rng.below(300) as u32;
    let dgram = move |seq: u32, len: usize| -> Vec<u8> {
        let mut d = seq.to_le_bytes().to_vec();
        d.extend((4..len as u64).map(|i| mix(seed ^ ((seq as u64) << 32) ^ i) as u8));
        d
    };
    let dgram_len = move |seq: u32| 4 + (mix(seed ^ 0x99 ^ seq as u64) % 1400) as usize;
    let received = Rc::new(RefCell::new(Vec::<(usize, u32)>::new()));
    let mut tasks = Vec::new();
    for who in 0..receivers {
        let (b, received, rng) = (
            b.clone(),
            received.clone(),
            Rng::new(seed ^ who as u64 ^ 0x77),
        );
        tasks.push(corio::spawn(async move {
            for _ in 0..100_000 {
                let how = pick_how(&rng);
                let mut buf = vec![0u8; 8 + rng.below(1600) as usize];
                let out = if connected && rng.below(2) == 0 {
                    race(how, b.recv(&mut buf))
                        .await
                        .map(|r| r.map(|n| (n, a_addr)))
                } else {
                    race(how, b.recv_from(&mut buf)).await
                };
                let Some(res) = out else { continue };
                let Some((n, from)) = ok(res, "udp", "recv") else {
                    return;
                };
                check!(from == a_addr, "udp: datagram from {from}");
                let seq = u32::from_le_bytes(buf[..4].try_into().unwrap());
                if seq == u32::MAX {
                    return;
                }
                // (Truncated silently when longer than buf: the prefix.)
                let sent_len = dgram_len(seq);
                check!(
                    n == sent_len.min(buf.len()),
                    "udp: datagram {seq} of {sent_len} bytes received as {n} into {}",
                    buf.len()
                );
                let full = dgram(seq, n);
                check!(buf[..n] == full[..n], "udp: datagram {seq} corrupted");
                received.borrow_mut().push((who, seq));
                pause(&rng).await;
            }
            err("udp: receiver ran too many operations".into());
        }));
    }
    let mut sent = Vec::new();
    let mut lens = Vec::new();
    let window = 1 + rng.below(16) as usize;
    for seq in 0..count {
        // At most `window` datagrams in flight: loopback never drops then.
        for _ in 0..100_000 {
            if sent.len() - received.borrow().len() < window {
                break;
            }
            yield_now().await;
        }
        let len = dgram_len(seq);
        let d = dgram(seq, len);
        let how = pick_how(&rng);
        let out = if connected && rng.below(2) == 0 {
            race(how, a.send(&d)).await
        } else {
            race(how, a.send_to(&d, b_addr)).await
        };
        if let Some(r) = out {
            if let Some(n) = ok(r, "udp", "send") {
                check!(n == len, "udp: send returned {n} of {len}");
                sent.push(seq);
                lens.push(len);
            }
        }
        pause(&rng).await;
    }
    for _ in 0..100_000 {
        if received.borrow().len() >= sent.len() {
            break;
        }
        sleep(Duration::from_micros(100)).await;
    }
    for _ in 0..receivers {
        ok(
            a.send_to(&u32::MAX.to_le_bytes(), b_addr).await,
            "udp",
            "send",
        );
    }
    for t in tasks {
        t.await.unwrap();
    }
    let got = received.borrow();
    let mut seqs: Vec<u32> = got.iter().map(|&(_, s)| s).collect();
    if receivers == 1 {
        check!(
            seqs == sent,
            "udp: received {} datagrams {:?}…, sent {} {:?}…",
            seqs.len(),
            &seqs[..seqs.len().min(8)],
            sent.len(),
            &sent[..sent.len().min(8)]
        );
    } else {
        for who in 0..receivers {
            let mine: Vec<u32> = got.iter().filter(|r| r.0 == who).map(|r| r.1).collect();
            check!(
                mine.windows(2).all(|w| w[0] < w[1]),
                "udp: receiver {who} got datagrams out of order"
            );
        }
        seqs.sort();
        check!(
            seqs == sent,
            "udp: received {} datagrams, sent {} (lost or duplicated)",
            seqs.len(),
            sent.len()
        );
    }
}

fn run_one(seed: u64, udp: bool) -> Result<(), String> {
    ERRORS.with(|e| e.borrow_mut().clear());
    let mut lp = EventLoop::new().unwrap();
    let done = lp.run_until_complete(async move {
        let body = async move {
            if udp {
                udp_seed(seed).await
            } else {
                tcp_seed(seed).await
            }
        };
        timeout(Duration::from_secs(30), body).await.is_ok()
    });
    if !done {
        err("the seed did not finish within 30 s (hang)".into());
    }
    drop(lp);
    let errors = ERRORS.with(|e| std::mem::take(&mut *e.borrow_mut()));
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "seed {seed} ({}):\n  {}",
            if udp { "udp" } else { "tcp" },
            errors.join("\n  ")
        ))
    }
}

fn fuzz(udp: bool, default: u64) {
    let mut fails = Vec::new();
    let list = common::seeds(default);
    for &seed in &list {
        let t = std::time::Instant::now();
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_one(seed, udp)))
            .unwrap_or_else(|p| {
                let msg = common::panic_text(&*p);
                Err(format!("seed {seed}: panicked: {msg}"))
            });
        if std::env::var("NET_FUZZ_TIMES").is_ok() {
            eprintln!("seed {seed} udp={udp}: {:?}", t.elapsed());
        }
        if let Err(e) = r {
            fails.push(e);
        }
    }
    let stats = STATS.with(|s| s.borrow().clone());
    eprintln!("{} seeds, {} failing; {stats:?}", list.len(), fails.len());
    for f in fails.iter().take(5) {
        eprintln!("{f}");
    }
    assert!(
        fails.is_empty(),
        "{} of {} seeds failed",
        fails.len(),
        list.len()
    );
}

#[test]
fn tcp_cancel_safety_fuzz() {
    fuzz(false, 100);
}

#[test]
fn udp_cancel_safety_fuzz() {
    fuzz(true, 60);
}

// ---------- accept: "a connection is taken from the kernel only when the future completes" ----------
async fn accept_seed(seed: u64) {
    let rng = Rng::new(seed ^ 0xACCE);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let n = 1 + rng.below(12) as usize;
    let connector = corio::spawn({
        let rng = Rng::new(seed ^ 0xC0);
        async move {
            let mut ports = Vec::new();
            let mut keep = Vec::new();
            for _ in 0..n {
                let s = TcpStream::connect(addr).await.unwrap();
                ports.push(s.local_addr().unwrap().port());
                keep.push(s);
                pause(&rng).await;
            }
            (ports, keep)
        }
    });
    let mut got = Vec::new();
    let use_incoming = rng.below(2) == 0;
    let mut incoming = listener.incoming();
    for _ in 0..100_000 {
        if got.len() == n {
            break;
        }
        let how = pick_how(&rng);
        let out = if use_incoming {
            race(how, incoming.next()).await
        } else {
            race(how, listener.accept())
                .await
                .map(|r| r.map(|(s, _)| s))
        };
        if let Some(r) = out {
            if let Some(s) = ok(r, "accept", "accept") {
                got.push(s.peer_addr().unwrap().port());
            }
        }
        pause(&rng).await;
    }
    let (mut ports, _keep) = connector.await.unwrap();
    ports.sort();
    got.sort();
    check!(
        got == ports,
        "accept: accepted {:?}, connected {:?}",
        got,
        ports
    );
}

#[test]
fn accept_cancel_safety_fuzz() {
    let list = common::seeds(60);
    let mut fails = Vec::new();
    for &seed in &list {
        ERRORS.with(|e| e.borrow_mut().clear());
        let mut lp = EventLoop::new().unwrap();
        let done = lp.run_until_complete(async move {
            timeout(Duration::from_secs(30), accept_seed(seed)).await
        });
        if done.is_err() {
            err("hang".into());
        }
        let errors = ERRORS.with(|e| std::mem::take(&mut *e.borrow_mut()));
        if !errors.is_empty() {
            fails.push(format!("seed {seed}: {}", errors.join("; ")));
        }
    }
    assert!(fails.is_empty(), "{fails:#?}");
}

/// `read_line`: "Cancel safe: a call dropped before its line is complete ...
/// puts the bytes it took back into the buffer, and so does one that fails
/// reading; the next call reads them again."
#[test]
fn read_line_keeps_a_partial_line_across_a_drop_and_a_failed_read() {
    corio::run(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let peer = corio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            s.write_all(b"partial").await.unwrap();
            sleep(Duration::from_millis(50)).await;
            s.write_all(b" more").await.unwrap();
            sleep(Duration::from_millis(50)).await;
            // Reset: the reader's next read fails.
            socket2::SockRef::from(&s)
                .set_linger(Some(Duration::ZERO))
                .unwrap();
            drop(s);
        });
        let (r, _w) = TcpStream::connect(addr).await.unwrap().into_split();
        let mut r = BufReader::with_capacity(4, r);
        let mut line = String::new();
        // Dropped part-way.
        assert!(
            timeout(Duration::from_millis(25), r.read_line(&mut line))
                .await
                .is_err()
        );
        assert_eq!(line, "");
        // Fails reading (connection reset) after taking " more".
        let res = timeout(Duration::from_secs(5), r.read_line(&mut line))
            .await
            .unwrap();
        peer.await.unwrap();
        match res {
            Err(e) => {
                eprintln!("read_line failed with {e}");
                assert_eq!(line, "");
                // The next call reads the taken bytes again.
                let mut again = String::new();
                let n = timeout(Duration::from_secs(5), r.read_line(&mut again))
                    .await
                    .unwrap();
                assert_eq!(
                    (n.ok(), again.as_str()),
                    (Some(12), "partial more"),
                    "after {e}"
                );
            }
            // (Should the OS report the reset as an end of stream.)
            Ok(n) => assert_eq!((n, line.as_str()), (12, "partial more")),
        }
    });
}
