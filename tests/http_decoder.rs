//! The response decoder on its own, with seeded random inputs: the same
//! response split into reads at random places decodes to the same thing,
//! and random damage gives an error with a kind — never a panic, never a
//! loop. (The fuzz target in `fuzz/` does the second part without a seed.)

mod common;

use common::Rng;
use corio::http::{Error, ErrorKind, Event, ResponseDecoder};

/// What a decoder made of a response.
#[derive(Debug, PartialEq)]
struct Decoded {
    status: u16,
    body: Vec<u8>,
    keep_alive: bool,
}

/// Feeds `wire` to a decoder in reads of the sizes `cuts` gives, the way a
/// client does: unused bytes stay at the front of the buffer. After the
/// last read, the connection counts as closed.
fn decode_in_reads(
    wire: &[u8],
    head_request: bool,
    mut cut: impl FnMut() -> usize,
) -> Result<Decoded, Error> {
    let mut decoder = ResponseDecoder::new(head_request).max_body_bytes(1 << 20);
    let (mut buffer, mut fed, mut status, mut body) = (Vec::new(), 0, 0, Vec::new());
    let mut steps = 0;
    loop {
        steps += 1;
        assert!(steps < 1_000_000, "the decoder is looping");
        let eof = fed == wire.len();
        let (used, event) = decoder.decode(&buffer, eof)?;
        match event {
            Event::NeedMore => {
                assert!(!eof, "NeedMore after the end of input");
                let n = cut().clamp(1, wire.len() - fed);
                buffer.extend_from_slice(&wire[fed..fed + n]);
                fed += n;
            }
            Event::Head(head) => status = head.status,
            Event::Data(data) => {
                assert!(!data.is_empty(), "empty data events would loop");
                body.extend_from_slice(data)
            }
            Event::End => {
                return Ok(Decoded {
                    status,
                    body,
                    keep_alive: decoder.keep_alive(),
                });
            }
        }
        buffer.drain(..used);
    }
}

/// A random valid response and the body it carries.
fn random_response(rng: &mut Rng) -> (Vec<u8>, Vec<u8>, bool) {
    let body: Vec<u8> = (0..rng.below(3000)).map(|_| rng.next() as u8).collect();
    let mut wire = Vec::new();
    // Now and then a field folded over lines (obs-fold), in the interim
    // head, the final one or both: unfolded however the reads fall.
    match rng.below(8) {
        0 | 1 => wire.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n"),
        2 => wire.extend_from_slice(b"HTTP/1.1 100 Continue\r\nX-Hint: a\r\n\tb\r\n\r\n"),
        _ => {}
    }
    wire.extend_from_slice(b"HTTP/1.1 200 OK\r\n");
    if rng.below(3) == 0 {
        wire.extend_from_slice(b"Server: te\r\n st\r\n");
    } else {
        wire.extend_from_slice(b"Server: test\r\n");
    }
    let framing = rng.below(3);
    match framing {
        0 => {
            wire.extend_from_slice(format!("Content-Length: {}\r\n\r\n", body.len()).as_bytes());
            wire.extend_from_slice(&body);
        }
        1 => {
            wire.extend_from_slice(b"Transfer-Encoding: chunked\r\n\r\n");
            let mut rest = &body[..];
            while !rest.is_empty() {
                let n = (1 + rng.below(700)).min(rest.len());
                let ext = if rng.below(3) == 0 { ";a=b" } else { "" };
                wire.extend_from_slice(format!("{n:X}{ext}\r\n").as_bytes());
                wire.extend_from_slice(&rest[..n]);
                wire.extend_from_slice(b"\r\n");
                rest = &rest[n..];
            }
            wire.extend_from_slice(b"0\r\n");
            if rng.below(2) == 0 {
                wire.extend_from_slice(b"X-Checksum: 1\r\n");
            }
            wire.extend_from_slice(b"\r\n");
        }
        _ => {
            wire.extend_from_slice(b"\r\n");
            wire.extend_from_slice(&body);
        }
    }
    (wire, body, framing != 2)
}

#[test]
fn a_response_split_at_random_places_decodes_the_same_as_in_one_piece() {
    let mut rng = Rng(0x5eed_0001);
    for _ in 0..500 {
        let (wire, body, framed) = random_response(&mut rng);
        let whole = decode_in_reads(&wire, false, || usize::MAX).unwrap();
        assert_eq!(
            whole,
            Decoded {
                status: 200,
                body: body.clone(),
                keep_alive: framed
            }
        );
        let split = decode_in_reads(&wire, false, || 1 + rng.below(40)).unwrap();
        assert_eq!(split, whole);
        let bytewise = decode_in_reads(&wire, false, || 1).unwrap();
        assert_eq!(bytewise, whole);
    }
}

#[test]
fn random_damage_gives_an_error_with_a_kind_never_a_panic() {
    let mut rng = Rng(0x5eed_0002);
    let (mut ok, mut errors) = (0, 0);
    for _ in 0..3000 {
        let (mut wire, _, _) = random_response(&mut rng);
        for _ in 0..1 + rng.below(4) {
            if wire.is_empty() {
                break;
            }
            let at = rng.below(wire.len());
            match rng.below(4) {
                0 => wire[at] = rng.next() as u8,
                1 => {
                    wire.remove(at);
                }
                2 => wire.insert(at, b"\r\n:;0 \x00"[rng.below(7)]),
                _ => wire.truncate(at),
            }
        }
        let head_request = rng.below(8) == 0;
        match decode_in_reads(&wire, head_request, || 1 + rng.below(64)) {
            Ok(_) => ok += 1,
            Err(err) => {
                assert!(
                    matches!(
                        err.kind(),
                        ErrorKind::Malformed
                            | ErrorKind::Closed
                            | ErrorKind::TooLarge
                            | ErrorKind::Unsupported
                    ),
                    "{err}"
                );
                assert!(!err.to_string().is_empty());
                errors += 1;
            }
        }
    }
    assert!(
        ok > 0 && errors > 0,
        "the damage should hit both ways: {ok} ok, {errors} errors"
    );
}

#[test]
fn random_bytes_never_panic_the_decoder() {
    let mut rng = Rng(0x5eed_0003);
    for _ in 0..3000 {
        let mut wire: Vec<u8> = b"HTTP/1.1 ".to_vec();
        let alphabet = b"0123456789 \r\n:;abcHTTP/1.TransfrEncodigchunkedContentLh";
        wire.extend((0..rng.below(200)).map(|_| alphabet[rng.below(alphabet.len())]));
        let _ = decode_in_reads(&wire, false, || 1 + rng.below(16));
    }
}

#[test]
fn a_chunk_size_line_is_checked_strictly() {
    for (line, ok) in [
        ("5", true),
        ("0005", true),
        ("5 ", true),
        ("5\t;ext", true),
        ("5;name=\"quoted\"", true),
        ("00000000000000000000000000000005", true), // leading zeros do not overflow
        ("", false),
        (" 5", false),
        ("0x5", false),
        ("5 5", false),
        ("FFFFFFFFFFFFFFFFF", false), // 17 digits
        ("5;a\x01b", false),
    ] {
        let wire = format!(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n{line}\r\nhello\r\n0\r\n\r\n"
        );
        let result = decode_in_reads(wire.as_bytes(), false, || usize::MAX);
        assert_eq!(result.is_ok(), ok, "chunk size line {line:?}: {result:?}");
        if let Err(err) = result {
            assert_eq!(err.kind(), ErrorKind::Malformed);
        }
    }
}

#[test]
fn the_largest_chunk_size_is_bounded_by_the_body_limit_not_trusted() {
    let wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\nabc";
    let err = decode_in_reads(wire, false, || usize::MAX).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Closed); // it waited for data, then the input ended
}

#[test]
fn a_101_switching_protocols_is_unsupported() {
    let err = decode_in_reads(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n",
        false,
        || usize::MAX,
    )
    .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Unsupported);
}

#[test]
fn interim_heads_count_toward_the_head_limit() {
    let mut wire = Vec::new();
    for _ in 0..100 {
        wire.extend_from_slice(b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n");
    }
    let mut decoder = ResponseDecoder::new(false).max_head_bytes(1000);
    let (mut buffer, mut fed) = (Vec::new(), 0);
    let err = loop {
        match decoder.decode(&buffer, false) {
            Ok((used, Event::NeedMore)) => {
                buffer.drain(..used);
                let n = 100.min(wire.len() - fed);
                assert!(n > 0, "every interim head was accepted");
                buffer.extend_from_slice(&wire[fed..fed + n]);
                fed += n;
            }
            Ok(other) => panic!("unexpected {other:?}"),
            Err(err) => break err,
        }
    };
    assert_eq!(err.kind(), ErrorKind::TooLarge);
}

/// Feeds `pieces` one after another (unused bytes stay at the front); the
/// connection closes after the last one. Returns the reason and the body.
fn decode_pieces(
    mut decoder: ResponseDecoder,
    pieces: &[&[u8]],
) -> Result<(String, Vec<u8>), Error> {
    let (mut buffer, mut next, mut reason, mut body) = (Vec::new(), 0, String::new(), Vec::new());
    loop {
        let eof = next == pieces.len();
        let (used, event) = decoder.decode(&buffer, eof)?;
        match event {
            Event::NeedMore => {
                buffer.extend_from_slice(pieces[next]);
                next += 1;
            }
            Event::Head(head) => reason = head.reason,
            Event::Data(data) => body.extend_from_slice(data),
            Event::End => return Ok((reason, body)),
        }
        buffer.drain(..used);
    }
}

#[test]
fn an_unlimited_head_size_still_reads_chunked_trailers_that_arrive_in_pieces() {
    let decoder = ResponseDecoder::new(false).max_head_bytes(usize::MAX);
    let result = decode_pieces(
        decoder,
        &[
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n",
            b"X-Check",
            b"sum: 1\r\n\r\n",
        ],
    );
    assert_eq!(result.unwrap().1, b"hello");
}

#[test]
fn a_transfer_encoding_that_lists_no_coding_beside_a_content_length_is_malformed() {
    for te in ["", " ", ",", " , ,"] {
        let wire =
            format!("HTTP/1.1 200 OK\r\nTransfer-Encoding:{te}\r\nContent-Length: 3\r\n\r\nabc");
        let result = decode_pieces(ResponseDecoder::new(false), &[wire.as_bytes()]);
        let err = result.expect_err(&format!("Transfer-Encoding:{te:?} beside a length"));
        assert_eq!(err.kind(), ErrorKind::Malformed);
    }
}

#[test]
fn a_reason_beyond_ascii_survives_empty_lines_before_the_status_line() {
    let (reason, _) = decode_pieces(
        ResponseDecoder::new(false),
        &["\r\n\r\nHTTP/1.1 200 Ça va\r\nContent-Length: 0\r\n\r\n".as_bytes()],
    )
    .unwrap();
    assert_eq!(reason, "Ça va");
}

#[test]
fn a_field_folded_over_two_lines_is_unfolded_not_refused() {
    // RFC 9112 §5.2: a user agent MUST replace each obs-fold with spaces
    // (curl and Python's http.client accept it too).
    let wire = b"HTTP/1.1 200 OK\r\nX-Folded: a\r\n b\r\nContent-Length: 1\r\n\r\nx";
    let mut decoder = ResponseDecoder::new(false);
    let (used, event) = decoder.decode(wire, false).expect("obs-fold refused");
    let Event::Head(head) = event else {
        panic!("{event:?}")
    };
    let value = head.headers.get("x-folded").unwrap();
    assert!(
        !value.contains(&b'\r') && !value.contains(&b'\n'),
        "{value:?}"
    );
    let words: Vec<_> = String::from_utf8_lossy(value)
        .split_whitespace()
        .map(String::from)
        .collect();
    assert_eq!(words, ["a", "b"]);
    assert_eq!(
        decoder.decode(&wire[used..], false).unwrap().1,
        Event::Data(b"x")
    );
    // A framing field folded is read unfolded: "1 0" is no length.
    let wire = b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n 0\r\n\r\nx";
    let err = ResponseDecoder::new(false).decode(wire, false).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Malformed, "{err}");
}

#[test]
fn one_trailer_field_over_the_limit_is_too_large_as_many_small_ones_are() {
    let kind = |trailers: String| {
        let wire =
            format!("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n{trailers}\r\n");
        let mut decoder = ResponseDecoder::new(false).max_head_bytes(1024);
        let (used, _) = decoder.decode(wire.as_bytes(), false).unwrap();
        decoder
            .decode(&wire.as_bytes()[used..], false)
            .unwrap_err()
            .kind()
    };
    let many: String = (0..200).map(|i| format!("X-T{i}: v\r\n")).collect();
    assert_eq!(kind(many), ErrorKind::TooLarge);
    assert_eq!(
        kind(format!("X-Big: {}\r\n", "a".repeat(2000))),
        ErrorKind::TooLarge
    );
}

#[test]
fn whitespace_after_the_status_line_is_still_refused_not_taken_for_a_fold() {
    let wire = b"HTTP/1.1 200 OK\r\n X-Sneaky: 1\r\nContent-Length: 0\r\n\r\n";
    let err = ResponseDecoder::new(false).decode(wire, false).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Malformed, "{err}");
}

#[test]
fn a_run_of_line_feeds_after_a_bad_head_is_refused_without_deep_recursion() {
    // A bad byte, then thousands of bare LFs ending in a space: each LF
    // once looked like a fold to unfold, one decode per LF — a server's
    // 8 KB response overflowed the client's stack.
    let mut input = b"HTTP/1.1 200 OK\r\nA: \x01\r\n".to_vec();
    input.extend(std::iter::repeat_n(b'\n', 60_000));
    input.extend(b" x");
    let decoded = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let mut decoder = ResponseDecoder::new(false).max_head_bytes(64 * 1024);
            decoder.decode(&input, false).map(|(n, _)| n)
        })
        .unwrap()
        .join()
        .expect("the decoder's thread died");
    assert_eq!(decoded.unwrap_err().kind(), ErrorKind::Malformed);
}

#[test]
fn a_body_that_starts_with_a_space_is_no_fold_of_a_bare_lf_head() {
    let input = b"HTTP/1.1 200 OK\nX: a\n b\nContent-Length: 3\n\n ab";
    let (n, event) = ResponseDecoder::new(false).decode(input, false).unwrap();
    let Event::Head(head) = event else {
        panic!("{event:?}")
    };
    assert_eq!(head.headers.get_str("content-length"), Some("3"));
    assert_eq!(n, input.len() - 3);
}

#[test]
fn a_folded_interim_head_and_a_folded_final_head_decode_together_as_apart() {
    // The obs-fold pass once unfolded the first head only and parsed the
    // rest strictly: arriving together they were refused, apart accepted.
    let wire = b"HTTP/1.1 100 Continue\r\nA: b\r\n c\r\n\r\nHTTP/1.1 200 OK\r\nB: d\r\n e\r\nContent-Length: 0\r\n\r\n";
    assert!(
        matches!(ResponseDecoder::new(false).decode(wire, false), Ok((n, Event::Head(h))) if h.status == 200 && n == wire.len())
    );
    let wire = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nL: a\r\n b\r\n\r\nHTTP/1.1 200 OK\r\nB: d\r\n e\r\nContent-Length: 0\r\n\r\n";
    assert!(
        matches!(ResponseDecoder::new(false).decode(wire, false), Ok((_, Event::Head(h))) if h.status == 200)
    );
}

#[test]
fn empty_lines_before_the_status_line_change_nothing_about_folds() {
    // One leading empty line once made whitespace after the status line a
    // "fold" (the reason phrase became "OK   X: y"); two made a real fold
    // a refused head.
    let wire = b"\r\nHTTP/1.1 200 OK\r\n X: y\r\nContent-Length: 0\r\n\r\n";
    assert_eq!(
        ResponseDecoder::new(false)
            .decode(wire, false)
            .unwrap_err()
            .kind(),
        ErrorKind::Malformed
    );
    let wire = b"\r\n\r\nHTTP/1.1 200 OK\r\nA: b\r\n c\r\nContent-Length: 0\r\n\r\n";
    assert!(
        matches!(ResponseDecoder::new(false).decode(wire, false), Ok((_, Event::Head(h))) if h.headers.get_str("a").is_some())
    );
}
