//! `io::BufReader` with and without `max_line_length`, seeded and
//! randomized: random lines (lengths around the limit, `\r`, `;`, bytes
//! that are not UTF-8), a reader that hands out random pieces and returns
//! `Pending` and errors at random, futures dropped after a poll or three,
//! and `read_line`, `read_until`, `Lines::next_line`, `poll_read` and
//! `poll_fill_buf`/`consume` mixed at random — each result checked against
//! a model that knows only the documented promise (the stream position):
//! a line too long is an error as soon as `limit + 1` bytes are in,
//! nothing of it is returned, the buffer never grows past the larger of
//! its capacity and the limit, and the next call reads the line after it.
//! Futures are polled by hand (no loop needed).
//! `SEEDS=N` runs more or fewer (default 3,000); `SEED=n` runs one.

mod common;

use std::cell::Cell;
use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use corio::io::{BufReader, Lines};
use futures_io::{AsyncBufRead, AsyncRead};

// ----- a tiny seeded RNG, shared by the test and the reader -----

#[derive(Clone)]
struct Rng(Rc<Cell<u64>>);

impl Rng {
    fn new(seed: u64) -> Rng {
        Rng(Rc::new(Cell::new(
            seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1,
        )))
    }
    fn next(&self) -> u64 {
        let mut x = self.0.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0.set(x);
        x
    }
    fn below(&self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// Gives `data` in random pieces, returning Pending and errors at random;
/// `given` counts the bytes handed out.
struct Chaos {
    data: Vec<u8>,
    given: Rc<Cell<usize>>,
    rng: Rng,
    max_piece: usize,
    pending_pct: usize,
    error_pct: usize,
}

impl AsyncRead for Chaos {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.rng.chance(this.pending_pct) {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if this.rng.chance(this.error_pct) {
            return Poll::Ready(Err(io::Error::other("injected")));
        }
        let at = this.given.get();
        let n = (1 + this.rng.below(this.max_piece))
            .min(out.len())
            .min(this.data.len() - at);
        out[..n].copy_from_slice(&this.data[at..at + n]);
        this.given.set(at + n);
        Poll::Ready(Ok(n))
    }
}

fn cx() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

fn is_injected(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::Other && err.to_string() == "injected"
}

fn is_too_long(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::InvalidData && err.to_string().contains("longer than")
}

fn is_not_utf8(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::InvalidData
        && err
            .get_ref()
            .is_some_and(|e| e.is::<std::string::FromUtf8Error>())
}

/// Polls `fut` up to `polls` times; None if it is still pending (then it is
/// dropped by the caller).
fn drive<F: Future>(fut: Pin<&mut F>, polls: usize) -> Option<F::Output> {
    let mut fut = fut;
    let mut cx = cx();
    for _ in 0..polls {
        if let Poll::Ready(out) = fut.as_mut().poll(&mut cx) {
            return Some(out);
        }
    }
    None
}

/// The model: the data and the logical position.
struct Model {
    data: Vec<u8>,
    pos: usize,
    limit: Option<usize>,
}

impl Model {
    /// The end (exclusive) of the piece at `pos` ended by `delim`, and
    /// whether the delimiter was found.
    fn piece(&self, delim: u8) -> (usize, bool) {
        match self.data[self.pos..].iter().position(|&b| b == delim) {
            Some(i) => (self.pos + i + 1, true),
            None => (self.data.len(), false),
        }
    }
    fn too_long(&self, end: usize) -> bool {
        self.limit.is_some_and(|l| end - self.pos > l)
    }
    /// "As soon as limit + 1 bytes are in": a call that returns Pending
    /// while the reader already handed out more than `limit` bytes of a
    /// piece that is too long is late.
    fn check_not_late(&self, delim: u8, given: usize, what: &str) {
        let (end, _) = self.piece(delim);
        if let Some(l) = self.limit {
            if self.too_long(end) && given > self.pos && given - self.pos > l {
                panic!(
                    "{what}: Pending with {} bytes of a too-long piece in (limit {l})",
                    given - self.pos
                );
            }
        }
    }
}

enum Reader {
    Buf(BufReader<Chaos>),
    Lines(Lines<Chaos>),
}

fn capacity_of(reader: &BufReader<Chaos>) -> usize {
    let dbg = format!("{reader:?}");
    let at = dbg.find("capacity: ").unwrap() + "capacity: ".len();
    dbg[at..].trim_end_matches([' ', '}']).parse().unwrap()
}

fn gen_data(rng: &Rng, limit: Option<usize>) -> Vec<u8> {
    let scale = limit.unwrap_or(20).max(2);
    let mut data = Vec::new();
    let lines = rng.below(12);
    for _ in 0..lines {
        // Lengths around the limit: exactly, one more, one less, much more.
        let len = match rng.below(6) {
            0 => scale.saturating_sub(1),
            1 => scale,
            2 => scale + 1,
            3 => rng.below(scale * 4 + 1),
            4 => rng.below(3),
            _ => rng.below(scale + 2),
        };
        for _ in 0..len {
            data.push(match rng.below(20) {
                0 => b'\r',
                1 => 0xff, // not UTF-8
                2 => b';',
                3 => 0xc3, // half of a 2-byte char
                _ => b'a' + rng.below(26) as u8,
            });
        }
        if rng.chance(85) {
            if rng.chance(30) {
                data.push(b'\r');
            }
            data.push(b'\n');
        }
    }
    data
}

fn run_case(seed: u64) {
    let rng = Rng::new(seed);
    let limit = match rng.below(6) {
        0 => None,
        1 => Some(0),
        2 => Some(1),
        _ => Some(rng.below(40)),
    };
    let data = gen_data(&rng, limit);
    let capacity = 1 + rng.below(if rng.chance(50) { 4 } else { 64 });
    let given = Rc::new(Cell::new(0));
    let chaos = Chaos {
        data: data.clone(),
        given: given.clone(),
        rng: rng.clone(),
        max_piece: 1 + rng.below(16),
        pending_pct: rng.below(60),
        error_pct: if rng.chance(30) { rng.below(10) } else { 0 },
    };
    let mut reader = BufReader::with_capacity(capacity, chaos);
    if let Some(l) = limit {
        reader = reader.max_line_length(l);
    }
    let mut model = Model {
        data,
        pos: 0,
        limit,
    };
    let mut state = Some(Reader::Buf(reader));
    let mut lines_clean = true; // Lines holds no partial line
    let mut ops = 0;
    let ctx = |op: &str, model: &Model, ops: usize| {
        format!(
            "seed {seed} op#{ops} {op} limit {limit:?} cap {capacity} pos {} data {:?}",
            model.pos,
            String::from_utf8_lossy(&model.data)
        )
    };
    let mut eofs = 0;
    while eofs < 3 {
        ops += 1;
        assert!(ops < 20_000, "no progress: {}", ctx("", &model, ops));
        let polls = if rng.chance(30) {
            1 + rng.below(3)
        } else {
            10_000
        };
        match state.take().unwrap() {
            Reader::Buf(mut reader) => {
                if let Some(l) = limit {
                    let cap = capacity_of(&reader);
                    assert!(
                        cap <= capacity.max(l),
                        "buffer grew to {cap}: {}",
                        ctx("", &model, ops)
                    );
                }
                match rng.below(7) {
                    0 | 1 => {
                        let mut line = String::from("pre");
                        let out = {
                            let fut = pin!(reader.read_line(&mut line));
                            drive(fut, polls)
                        };
                        let what = ctx("read_line", &model, ops);
                        let (end, _) = model.piece(b'\n');
                        match out {
                            None => {
                                assert_eq!(line, "pre", "{what}");
                                model.check_not_late(b'\n', given.get(), &what);
                            }
                            Some(Err(e)) if is_injected(&e) => assert_eq!(line, "pre", "{what}"),
                            Some(Ok(0)) => {
                                assert_eq!(model.pos, model.data.len(), "{what}");
                                assert_eq!(line, "pre", "{what}");
                                eofs += 1;
                            }
                            Some(Ok(n)) => {
                                assert!(!model.too_long(end), "{what}: {n} accepted");
                                assert_eq!(n, end - model.pos, "{what}");
                                assert_eq!(
                                    line.as_bytes(),
                                    [b"pre", &model.data[model.pos..end]].concat(),
                                    "{what}"
                                );
                                model.pos = end;
                            }
                            Some(Err(e)) => {
                                assert_eq!(line, "pre", "{what}: {e}");
                                if model.too_long(end) {
                                    assert!(is_too_long(&e), "{what}: {e}");
                                } else {
                                    assert!(is_not_utf8(&e), "{what}: {e}");
                                    assert!(
                                        std::str::from_utf8(&model.data[model.pos..end]).is_err(),
                                        "{what}"
                                    );
                                }
                                model.pos = end;
                            }
                        }
                        state = Some(Reader::Buf(reader));
                    }
                    2 => {
                        let delim = if rng.chance(70) { b'\n' } else { b';' };
                        let mut buf = b"pre".to_vec();
                        let out = {
                            let fut = pin!(reader.read_until(delim, &mut buf));
                            drive(fut, polls)
                        };
                        let what = ctx(&format!("read_until({})", delim as char), &model, ops);
                        let appended = buf[3..].to_vec();
                        let (end, _) = model.piece(delim);
                        assert_eq!(
                            &appended[..],
                            &model.data[model.pos..model.pos + appended.len()],
                            "{what}"
                        );
                        match out {
                            None => {
                                // Not cancel safe: what was appended is gone.
                                model.check_not_late(delim, given.get(), &what);
                                model.pos += appended.len();
                            }
                            Some(Err(e)) if is_injected(&e) => model.pos += appended.len(),
                            Some(Ok(n)) => {
                                assert!(!model.too_long(end), "{what}: accepted {n}");
                                assert_eq!(n, end - model.pos, "{what}");
                                assert_eq!(appended.len(), n, "{what}");
                                if n == 0 {
                                    eofs += 1;
                                }
                                model.pos = end;
                            }
                            Some(Err(e)) => {
                                assert!(model.too_long(end) && is_too_long(&e), "{what}: {e}");
                                assert!(appended.len() <= limit.unwrap(), "{what}");
                                model.pos = end;
                            }
                        }
                        state = Some(Reader::Buf(reader));
                    }
                    3 => {
                        let mut out = vec![0u8; 1 + rng.below(80)];
                        let what = ctx("poll_read", &model, ops);
                        match Pin::new(&mut reader).poll_read(&mut cx(), &mut out) {
                            Poll::Pending => {}
                            Poll::Ready(Err(e)) => assert!(is_injected(&e), "{what}: {e}"),
                            Poll::Ready(Ok(n)) => {
                                assert_eq!(
                                    &out[..n],
                                    &model.data[model.pos..model.pos + n],
                                    "{what}"
                                );
                                if n == 0 {
                                    assert_eq!(model.pos, model.data.len(), "{what}");
                                    eofs += 1;
                                }
                                model.pos += n;
                            }
                        }
                        state = Some(Reader::Buf(reader));
                    }
                    4 => {
                        let what = ctx("poll_fill_buf", &model, ops);
                        let amt = rng.below(10);
                        let consumed = match Pin::new(&mut reader).poll_fill_buf(&mut cx()) {
                            Poll::Pending => None,
                            Poll::Ready(Err(e)) => {
                                assert!(is_injected(&e), "{what}: {e}");
                                None
                            }
                            Poll::Ready(Ok(slice)) => {
                                assert_eq!(
                                    slice,
                                    &model.data[model.pos..model.pos + slice.len()],
                                    "{what}"
                                );
                                if slice.is_empty() {
                                    assert_eq!(model.pos, model.data.len(), "{what}");
                                    eofs += 1;
                                }
                                Some(amt.min(slice.len()))
                            }
                        };
                        if let Some(n) = consumed {
                            Pin::new(&mut reader).consume(n);
                            model.pos += n;
                        }
                        state = Some(Reader::Buf(reader));
                    }
                    _ => {
                        lines_clean = true;
                        state = Some(Reader::Lines(reader.lines()));
                    }
                }
            }
            Reader::Lines(mut lines) => {
                if rng.chance(15) && lines_clean {
                    state = Some(Reader::Buf(lines.into_inner()));
                    continue;
                }
                let out = {
                    let fut = pin!(lines.next_line());
                    drive(fut, polls)
                };
                let what = ctx("next_line", &model, ops);
                let (end, found) = model.piece(b'\n');
                if let Some(l) = limit {
                    let dbg = format!("{lines:?}");
                    let at = dbg.find("partial: ").unwrap() + "partial: ".len();
                    let partial: usize = dbg[at..]
                        .split(|c: char| !c.is_ascii_digit())
                        .next()
                        .unwrap()
                        .parse()
                        .unwrap();
                    assert!(partial <= l, "{what}: partial {partial}");
                }
                match out {
                    None => {
                        model.check_not_late(b'\n', given.get(), &what);
                        lines_clean = false;
                    }
                    Some(Err(e)) if is_injected(&e) => lines_clean = false,
                    Some(Ok(None)) => {
                        assert_eq!(model.pos, model.data.len(), "{what}");
                        lines_clean = true;
                        eofs += 1;
                    }
                    Some(Ok(Some(text))) => {
                        assert!(!model.too_long(end), "{what}: accepted {text:?}");
                        let mut want = &model.data[model.pos..end];
                        if found {
                            want = &want[..want.len() - 1];
                            if want.last() == Some(&b'\r') {
                                want = &want[..want.len() - 1];
                            }
                        }
                        assert_eq!(text.as_bytes(), want, "{what}");
                        model.pos = end;
                        lines_clean = true;
                    }
                    Some(Err(e)) => {
                        if model.too_long(end) {
                            assert!(is_too_long(&e), "{what}: {e}");
                        } else {
                            assert!(is_not_utf8(&e), "{what}: {e}");
                        }
                        model.pos = end;
                        lines_clean = true;
                    }
                }
                state = Some(Reader::Lines(lines));
            }
        }
    }
}

#[test]
fn every_read_of_a_buffered_reader_matches_the_model_of_its_line_limit() {
    for seed in common::seeds(3000) {
        run_case(seed + 1);
    }
}
