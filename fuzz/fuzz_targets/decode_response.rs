//! Fuzzes `corio::http::ResponseDecoder`, the part of the client that reads
//! untrusted bytes.
//!
//! Input layout:
//!
//! * byte 0, the flags:
//!   * bit 0: the request was a `HEAD`;
//!   * bits 1-2: how the rest is split into reads: 0 all at once, 1 one byte
//!     at a time, 2 reads of `byte 1 + 1` bytes, 3 reads of pseudo-random
//!     sizes (1..=64) seeded by byte 1;
//!   * bit 3: small limits (`max_head_bytes` 16..=128, `max_body_bytes`
//!     0..=56, scaled by bits 5-7); otherwise the defaults;
//! * byte 1: the split parameter;
//! * the rest: the bytes the server sent, then the connection closes.
//!
//! The rest is fed the way the client feeds a socket's reads: unused bytes
//! stay at the front of the buffer, new reads go after them, and `eof` is
//! set once the last read is in. Checked on the way:
//!
//! * no panic (from the decoder or from these checks);
//! * `used <= input.len()` on every call;
//! * `NeedMore` never comes with `eof` set;
//! * `Data` is never empty and is the last bytes of the used ones;
//! * the decoder finishes in at most `2 * len + 2` steps (every step but
//!   the last uses or reads at least one byte);
//! * after `End`, `decode` keeps returning `End` (using nothing);
//! * `body_len()` is the sum of the `Data` events;
//! * this decoding and a one-shot decoding of the whole input (with `eof`)
//!   both succeed or both fail, and when they succeed they give the same
//!   head, body and keep-alive;
//! * every error prints a non-empty message.

#![no_main]

use corio::http::{Error, Event, Head, ResponseDecoder};
use libfuzzer_sys::fuzz_target;

/// How one decoding went.
#[derive(Debug, PartialEq)]
struct Decoded {
    head: Head,
    body: Vec<u8>,
    keep_alive: bool,
}

/// The read sizes, as the flags choose them.
struct Splitter {
    mode: u8,
    param: u8,
    state: u64,
}

impl Splitter {
    fn next(&mut self) -> usize {
        match self.mode {
            0 => usize::MAX,
            1 => 1,
            2 => usize::from(self.param) + 1,
            _ => {
                // xorshift64*
                self.state ^= self.state >> 12;
                self.state ^= self.state << 25;
                self.state ^= self.state >> 27;
                (self.state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 58) as usize + 1
            }
        }
    }
}

fn decoder(flags: u8) -> ResponseDecoder {
    let decoder = ResponseDecoder::new(flags & 1 != 0);
    if flags & 0b1000 != 0 {
        let scale = usize::from(flags >> 5);
        decoder
            .max_head_bytes(16 + 16 * scale)
            .max_body_bytes(8 * scale as u64)
    } else {
        decoder
    }
}

fn check_error(err: Error) -> Error {
    assert!(!err.to_string().is_empty(), "an error with no message: {err:?}");
    err
}

/// After `End`: `End` again, using nothing, whatever comes next.
fn check_done(decoder: &mut ResponseDecoder, rest: &[u8]) {
    assert!(decoder.is_done());
    for (input, eof) in [(rest, false), (rest, true), (&[][..], false), (&[][..], true)] {
        match decoder.decode(input, eof) {
            Ok((0, Event::End)) => {}
            other => panic!("after End, decode({input:?}, {eof}) gave {other:?}"),
        }
    }
}

/// Decodes `wire` in reads of the sizes `split` gives, like the client.
fn decode_in_reads(wire: &[u8], flags: u8, split: &mut Splitter) -> Result<Decoded, Error> {
    let mut decoder = decoder(flags);
    let (mut buffer, mut fed) = (Vec::new(), 0);
    let (mut head, mut body) = (None, Vec::new());
    let max_steps = 2 * wire.len() + 2;
    let mut steps = 0;
    loop {
        steps += 1;
        assert!(
            steps <= max_steps,
            "more than {max_steps} decode steps for {} bytes: the decoder is looping",
            wire.len()
        );
        let eof = fed == wire.len();
        let (used, event) = decoder.decode(&buffer, eof).map_err(check_error)?;
        assert!(used <= buffer.len(), "used {used} of {} bytes", buffer.len());
        match event {
            Event::NeedMore => {
                assert!(!eof, "NeedMore with eof");
                let n = split.next().clamp(1, wire.len() - fed);
                buffer.extend_from_slice(&wire[fed..fed + n]);
                fed += n;
            }
            Event::Head(h) => {
                assert!(head.is_none(), "a second head: {h:?}");
                assert!(used > 0, "a head from no bytes");
                head = Some(h);
            }
            Event::Data(data) => {
                assert!(head.is_some(), "data before the head");
                assert!(!data.is_empty(), "an empty Data event");
                assert!(data.len() <= used, "Data longer than the bytes used");
                assert!(
                    std::ptr::eq(data.as_ptr(), buffer[used - data.len()..].as_ptr()),
                    "Data is not the last bytes of the used ones"
                );
                body.extend_from_slice(data);
            }
            Event::End => {
                let head = head.expect("End before the head");
                assert_eq!(decoder.body_len(), body.len() as u64, "body_len");
                let keep_alive = decoder.keep_alive();
                check_done(&mut decoder, &buffer[used..]);
                return Ok(Decoded {
                    head,
                    body,
                    keep_alive,
                });
            }
        }
        buffer.drain(..used);
    }
}

/// Decodes `wire` given all at once, with `eof`.
fn decode_at_once(wire: &[u8], flags: u8) -> Result<Decoded, Error> {
    let mut decoder = decoder(flags);
    let mut input = wire;
    let (mut head, mut body) = (None, Vec::new());
    let max_steps = 2 * wire.len() + 2;
    for _ in 0..max_steps {
        let (used, event) = decoder.decode(input, true).map_err(check_error)?;
        assert!(used <= input.len(), "used {used} of {} bytes", input.len());
        match event {
            Event::NeedMore => panic!("NeedMore with eof"),
            Event::Head(h) => head = Some(h),
            Event::Data(data) => {
                assert!(!data.is_empty(), "an empty Data event");
                body.extend_from_slice(data);
            }
            Event::End => {
                let keep_alive = decoder.keep_alive();
                check_done(&mut decoder, &input[used..]);
                return Ok(Decoded {
                    head: head.expect("End before the head"),
                    body,
                    keep_alive,
                });
            }
        }
        input = &input[used..];
    }
    panic!("more than {max_steps} decode steps for {} bytes at once", wire.len());
}

fuzz_target!(|data: &[u8]| {
    let [flags, param, wire @ ..] = data else {
        return;
    };
    let mut split = Splitter {
        mode: (flags >> 1) & 0b11,
        param: *param,
        state: u64::from(*param).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
    };
    let in_reads = decode_in_reads(wire, *flags, &mut split);
    let at_once = decode_at_once(wire, *flags);
    match (&in_reads, &at_once) {
        (Ok(in_reads), Ok(at_once)) => {
            assert_eq!(in_reads, at_once, "split and one-shot decoding differ");
        }
        // The same bytes, however they arrive, are a response or are not
        // (the error kinds may differ: what was seen first decides).
        (Ok(_), Err(_)) | (Err(_), Ok(_)) => {
            panic!("split and one-shot decoding differ: {in_reads:?} and {at_once:?}")
        }
        (Err(_), Err(_)) => {}
    }
});
