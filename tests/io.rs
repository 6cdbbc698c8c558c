//! corio::io: buffered lines over sockets, cancel-safe lines, batched
//! writes, copy, and stdin read without blocking the loop.

mod common;

use common::run_bounded as run;
use std::cell::Cell;
use std::io::ErrorKind;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use corio::io::{BufReader, BufWriter, copy};
use corio::net::TcpStream;
use corio::time::{sleep, timeout};
use futures_io::AsyncWrite;

use common::connected_pair as pair;

#[test]
fn lines_split_across_packets_are_read_whole() {
    run(async {
        let (client, mut server) = pair().await;
        let _writer = corio::spawn(async move {
            for part in [&b"GET / HT"[..], b"TP/1.1\r\nHost: x\r", b"\n\r\n"] {
                server.write_all(part).await.unwrap();
                sleep(Duration::from_millis(10)).await;
            }
        });
        let mut lines = BufReader::new(client).lines();
        assert_eq!(lines.next_line().await.unwrap().unwrap(), "GET / HTTP/1.1");
        assert_eq!(lines.next_line().await.unwrap().unwrap(), "Host: x");
        assert_eq!(lines.next_line().await.unwrap().unwrap(), "");
        assert_eq!(lines.next_line().await.unwrap(), None);
    });
}

/// Writes "half a ", then 50 ms later "line\nnext\n", then keeps the
/// connection open.
async fn half_a_line_then_the_rest(mut server: TcpStream) {
    server.write_all(b"half a ").await.unwrap();
    sleep(Duration::from_millis(50)).await;
    server.write_all(b"line\nnext\n").await.unwrap();
    sleep(Duration::from_secs(5)).await;
}

#[test]
fn a_dropped_next_line_loses_nothing() {
    run(async {
        let (client, server) = pair().await;
        let _writer = corio::spawn(half_a_line_then_the_rest(server));
        let mut lines = BufReader::new(client).lines();
        // Gives up while the line is half there.
        assert!(
            timeout(Duration::from_millis(20), lines.next_line())
                .await
                .is_err()
        );
        assert_eq!(lines.next_line().await.unwrap().unwrap(), "half a line");
        assert_eq!(lines.next_line().await.unwrap().unwrap(), "next");
    });
}

#[test]
fn a_read_line_cancelled_mid_line_leaves_its_bytes_for_the_next() {
    run(async {
        let (client, server) = pair().await;
        let _writer = corio::spawn(half_a_line_then_the_rest(server));
        let mut reader = BufReader::with_capacity(4, client); // the line spans refills
        let mut line = String::new();
        let early = timeout(Duration::from_millis(20), reader.read_line(&mut line)).await;
        assert!(early.is_err(), "the line is not complete yet");
        assert_eq!(line, "", "nothing is appended before the line is whole");
        assert_eq!(reader.read_line(&mut line).await.unwrap(), 12);
        assert_eq!(line, "half a line\n");
        line.clear();
        reader.read_line(&mut line).await.unwrap();
        assert_eq!(line, "next\n");
    });
}

#[test]
fn a_last_line_ending_in_a_lone_cr_keeps_it() {
    run(async {
        let mut lines = BufReader::new(&b"a\r\nb\r"[..]).lines();
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("a"));
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("b\r"));
        assert_eq!(lines.next_line().await.unwrap(), None);
    });
}

#[test]
fn a_line_that_is_not_utf8_is_an_invalid_data_error() {
    run(async {
        let mut reader = BufReader::new(&b"ok\n\xff\xfe\n"[..]);
        let mut line = String::new();
        reader.read_line(&mut line).await.unwrap();
        let err = reader.read_line(&mut line).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        assert_eq!(line, "ok\n", "the bad line is not appended");
    });
}

#[test]
fn a_line_that_is_not_utf8_is_consumed_and_its_bytes_come_with_the_error() {
    run(async {
        let mut reader = BufReader::new(&b"\xff\xfeabc\nnext\n"[..]);
        let mut line = String::new();
        let err = reader.read_line(&mut line).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        let bytes = err
            .into_inner()
            .and_then(|inner| inner.downcast::<std::string::FromUtf8Error>().ok())
            .map(|e| e.into_bytes());
        assert_eq!(bytes.as_deref(), Some(&b"\xff\xfeabc\n"[..]));
        // The next call goes on after it (a loop that logs errors and
        // reads on does not read the same bad line for ever).
        assert_eq!(reader.read_line(&mut line).await.unwrap(), 5);
        assert_eq!(line, "next\n");
    });
}

/// A writer that counts its `poll_write` calls.
struct Counting {
    writes: Rc<Cell<usize>>,
    data: Vec<u8>,
}

impl AsyncWrite for Counting {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        self.writes.set(self.writes.get() + 1);
        self.data.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_close(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[test]
fn a_buf_writer_turns_many_small_writes_into_few() {
    run(async {
        let writes = Rc::new(Cell::new(0));
        let mut out = BufWriter::with_capacity(
            1024,
            Counting {
                writes: writes.clone(),
                data: Vec::new(),
            },
        );
        for i in 0..1000 {
            out.write_all(format!("{i}\n").as_bytes()).await.unwrap();
        }
        out.flush().await.unwrap();
        let expected: String = (0..1000).map(|i| format!("{i}\n")).collect();
        assert_eq!(out.get_ref().data, expected.as_bytes());
        assert!(writes.get() <= 5, "{} writes for 3,890 bytes", writes.get());
    });
}

#[test]
fn copy_moves_a_whole_stream_between_sockets() {
    run(async {
        // client -> proxy -> sink
        let (client, proxy_in) = pair().await;
        let (proxy_out, sink) = pair().await;
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 253) as u8).collect();
        let expected = data.clone();
        let _sender = corio::spawn(async move {
            let mut client = client;
            client.write_all(&data).await.unwrap();
            client.shutdown(std::net::Shutdown::Write).unwrap();
            client // keep it open until the end
        });
        let proxy = corio::spawn(async move {
            let (mut from, mut to) = (proxy_in, proxy_out);
            let n = copy(&mut from, &mut to).await.unwrap();
            to.shutdown(std::net::Shutdown::Write).unwrap();
            n
        });
        let mut sink = sink;
        let mut got = Vec::new();
        sink.read_to_end(&mut got).await.unwrap();
        assert_eq!(proxy.await.unwrap(), expected.len() as u64);
        assert!(got == expected);
    });
}

/// Runs the ignored test `child` of this binary in a child process with
/// `CHILD_ENV` set, feeding its stdin by `feed` (then closing it); returns
/// what it printed.
fn run_child(child: &str, feed: impl FnOnce(&mut std::process::ChildStdin)) -> String {
    use std::process::{Command, Stdio};

    let mut process = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            child,
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, child)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = process.stdin.take().unwrap();
    feed(&mut stdin);
    drop(stdin); // end of input
    let out = process.wait_with_output().unwrap();
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Set (to its own name) in a child process started by [`run_child`].
const CHILD_ENV: &str = "CORIO_IO_TEST_CHILD";

/// Is this process the child `name` of [`run_child`]?
fn is_child(name: &str) -> bool {
    std::env::var(CHILD_ENV).is_ok_and(|child| child == name)
}

/// The child's line that starts with `prefix` (the test harness may print
/// its own words before ours on a line).
fn child_line(out: &str, prefix: &str) -> Option<String> {
    out.lines()
        .find_map(|l| l.find(prefix).map(|i| l[i..].to_string()))
}

/// The child half of the stdin test: reads lines with corio::io::stdin
/// while a ticker task keeps running, and prints what happened.
#[test]
#[ignore = "run by stdin_lines_are_read_without_blocking_the_loop in a child process"]
fn stdin_child() {
    if !is_child("stdin_child") {
        return;
    }
    corio::run(async {
        let ticks = Rc::new(Cell::new(0));
        let t = ticks.clone();
        let _ticker = corio::spawn(async move {
            loop {
                sleep(Duration::from_millis(5)).await;
                t.set(t.get() + 1);
            }
        });
        let mut input = corio::io::stdin();
        while let Some(line) = input.next_line().await.unwrap() {
            println!("LINE {line} TICKS {}", ticks.get());
        }
        println!("END");
    });
}

#[test]
fn stdin_lines_are_read_without_blocking_the_loop() {
    use std::io::Write;

    let out = run_child("stdin_child", |stdin| {
        stdin.write_all(b"first\n").unwrap();
        stdin.flush().unwrap();
        // While the child waits for the next line, its ticker must run.
        std::thread::sleep(Duration::from_millis(200));
        stdin.write_all(b"second\r\n").unwrap();
    });
    // The test harness may print its own words before ours on a line.
    let lines: Vec<&str> = out
        .lines()
        .filter_map(|l| l.find("LINE ").or_else(|| l.find("END")).map(|i| &l[i..]))
        .collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with("LINE first TICKS"));
    let ticks: u32 = lines[1]
        .strip_prefix("LINE second TICKS ")
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("unexpected: {}", lines[1]));
    assert!(
        ticks >= 5,
        "the loop was blocked while stdin was read ({ticks} ticks)"
    );
    assert_eq!(lines[2], "END");
}

/// The child half of the next test: a read for a dropped `Stdin` must not
/// lose its line.
#[test]
#[ignore = "run by a_line_read_for_a_dropped_stdin_goes_to_the_next_one in a child process"]
fn stdin_dropped_child() {
    if !is_child("stdin_dropped_child") {
        return;
    }
    corio::run(async {
        let early =
            corio::time::timeout(Duration::from_millis(50), corio::io::stdin().next_line()).await;
        assert!(early.is_err(), "nothing was typed yet");
        let line = corio::io::stdin().next_line().await.unwrap();
        println!("GOT {line:?}");
    });
}

#[test]
fn a_line_read_for_a_dropped_stdin_goes_to_the_next_one() {
    use std::io::Write;

    let out = run_child("stdin_dropped_child", |stdin| {
        std::thread::sleep(Duration::from_millis(300)); // the first call timed out
        stdin.write_all(b"first\n").unwrap();
        stdin.flush().unwrap();
        std::thread::sleep(Duration::from_millis(300));
        let _ = stdin.write_all(b"second\n"); // the child may be gone already
    });
    let got = child_line(&out, "GOT ");
    assert_eq!(got.as_deref(), Some("GOT Some(\"first\")"), "{out}");
}

/// The child half of the next test: two reads in flight, both dropped.
#[test]
#[ignore = "run by two_dropped_stdin_reads_lose_no_line in a child process"]
fn two_dropped_stdin_reads_child() {
    if !is_child("two_dropped_stdin_reads_child") {
        return;
    }
    corio::run(async {
        let mut a = corio::io::stdin();
        let mut b = corio::io::stdin();
        let early = corio::time::timeout(
            Duration::from_millis(100),
            corio::gather([a.next_line(), b.next_line()]),
        )
        .await;
        assert!(early.is_err(), "nothing was typed yet");
        let mut got = Vec::new();
        for _ in 0..3 {
            let line =
                corio::time::timeout(Duration::from_secs(3), corio::io::stdin().next_line()).await;
            got.push(format!("{line:?}"));
        }
        got.sort();
        println!("GOT {}", got.join(" | "));
    });
}

#[test]
fn two_dropped_stdin_reads_lose_no_line() {
    use std::io::Write;

    let out = run_child("two_dropped_stdin_reads_child", |stdin| {
        std::thread::sleep(Duration::from_millis(500));
        stdin.write_all(b"one\ntwo\nthree\n").unwrap();
        stdin.flush().unwrap();
        std::thread::sleep(Duration::from_millis(300));
    });
    let got = child_line(&out, "GOT ");
    assert_eq!(
        got.as_deref(),
        Some("GOT Ok(Ok(Some(\"one\"))) | Ok(Ok(Some(\"three\"))) | Ok(Ok(Some(\"two\")))"),
        "{out}"
    );
}

/// The child half of the next test: a read started early, handed from
/// one dropped call to the next, must still give the first line.
#[test]
#[ignore = "run by a_read_left_by_dropped_calls_keeps_its_place_in_line in a child process"]
fn left_read_keeps_its_place_child() {
    if !is_child("left_read_keeps_its_place_child") {
        return;
    }
    corio::run(async {
        let ms = Duration::from_millis;
        // Read 1 starts (nothing typed yet) and is left by its call...
        assert!(
            timeout(ms(100), corio::io::stdin().next_line())
                .await
                .is_err()
        );
        // ... taken over by a second call, left again ...
        assert!(
            timeout(ms(50), corio::io::stdin().next_line())
                .await
                .is_err()
        );
        // ... taken over by one of these two (the other starts read 2),
        // both left ...
        let (mut a, mut b) = (corio::io::stdin(), corio::io::stdin());
        let _ = timeout(ms(100), corio::gather([a.next_line(), b.next_line()])).await;
        // ... and taken over once more.
        assert!(
            timeout(ms(50), corio::io::stdin().next_line())
                .await
                .is_err()
        );
        let first = timeout(ms(3000), corio::io::stdin().next_line()).await;
        let second = timeout(ms(3000), corio::io::stdin().next_line()).await;
        println!("GOT {first:?} {second:?}");
    });
}

#[test]
fn a_read_left_by_dropped_calls_keeps_its_place_in_line() {
    use std::io::Write;

    let out = run_child("left_read_keeps_its_place_child", |stdin| {
        std::thread::sleep(Duration::from_millis(600));
        stdin.write_all(b"one\ntwo\n").unwrap();
        stdin.flush().unwrap();
        std::thread::sleep(Duration::from_millis(300));
    });
    let got = child_line(&out, "GOT ");
    assert_eq!(
        got.as_deref(),
        Some("GOT Ok(Ok(Some(\"one\"))) Ok(Ok(Some(\"two\")))"),
        "{out}"
    );
}

/// The child half of the next test: writes 50,000 lines to stdout through
/// `BufWriter<Stdout>` while a ticker task counts its ticks.
#[test]
#[ignore = "run by a_slow_reader_of_stdout_holds_up_the_writing_task_not_the_loop in a child process"]
fn stdout_child() {
    if !is_child("stdout_child") {
        return;
    }
    let ticks = corio::run(async {
        let ticks = std::rc::Rc::new(std::cell::Cell::new(0u32));
        let counter = std::rc::Rc::clone(&ticks);
        let ticker = corio::spawn(async move {
            loop {
                sleep(Duration::from_millis(20)).await;
                counter.set(counter.get() + 1);
            }
        });
        let mut out = corio::io::BufWriter::new(corio::io::stdout());
        for i in 0..50_000 {
            out.write_all(format!("line {i}\n").as_bytes())
                .await
                .unwrap();
        }
        out.flush().await.unwrap();
        ticker.cancel();
        ticks.get()
    });
    println!("TICKS {ticks}");
}

#[test]
fn a_slow_reader_of_stdout_holds_up_the_writing_task_not_the_loop() {
    let out = run_child("stdout_child", |_stdin| {
        // Nobody reads the child's output for a while: its pipe fills.
        std::thread::sleep(Duration::from_millis(500));
    });
    // (The harness's "test stdout_child ... " may start the first line.)
    let lines: Vec<&str> = out
        .lines()
        .filter_map(|l| l.find("line ").map(|at| &l[at..]))
        .collect();
    assert_eq!(lines.len(), 50_000, "every line arrived");
    assert!(
        lines
            .iter()
            .enumerate()
            .all(|(i, l)| *l == format!("line {i}")),
        "in order"
    );
    let ticks: u32 = child_line(&out, "TICKS ")
        .and_then(|l| l["TICKS ".len()..].trim().parse().ok())
        .expect("the child says how often its ticker ran");
    // ~25 in 500 ms; a loop blocked in the write would have ticked about once.
    assert!(
        ticks >= 5,
        "the ticker ran {ticks} times while the pipe was full"
    );
}

/// The child half of the next test: writes to a stdout nobody reads.
#[test]
#[ignore = "run by a_stdout_whose_reader_has_gone_reports_broken_pipe in a child process"]
fn stdout_gone_child() {
    if !is_child("stdout_gone_child") {
        return;
    }
    let mut go = String::new();
    std::io::stdin().read_line(&mut go).unwrap(); // once the reader has gone
    let result = corio::run(async {
        let mut out = corio::io::BufWriter::new(corio::io::stdout());
        for _ in 0..1_000 {
            out.write_all(&[b'x'; 1024]).await?;
        }
        out.flush().await
    });
    eprintln!("RESULT {:?}", result.map_err(|err| err.kind()));
}

#[test]
fn a_stdout_whose_reader_has_gone_reports_broken_pipe() {
    use std::io::Write;
    use std::process::{Command, Stdio};

    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "stdout_gone_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "stdout_gone_child")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Past the test harness's own words (it names the test before it
    // runs it), the reader goes (`tool | head`, say); then the child
    // writes.
    let mut harness = child.stdout.take().unwrap();
    let mut seen = Vec::new();
    let mut byte = [0u8; 1];
    while !String::from_utf8_lossy(&seen).contains("stdout_gone_child ...") {
        use std::io::Read;
        assert_eq!(
            harness.read(&mut byte).unwrap(),
            1,
            "{}",
            String::from_utf8_lossy(&seen)
        );
        seen.push(byte[0]);
    }
    drop(harness);
    child.stdin.take().unwrap().write_all(b"go\n").unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("RESULT Err(BrokenPipe)"), "{stderr}");
}

/// The child half of the next test: counts the lines and checks their
/// order, and how many pool jobs the loop ran for them.
#[test]
#[ignore = "run by many_stdin_lines_arrive_in_order_a_pipeful_per_pool_job in a child process"]
fn stdin_many_lines_child() {
    if !is_child("stdin_many_lines_child") {
        return;
    }
    let mut lp = corio::EventLoop::new().unwrap();
    let (count, in_order) = lp.run_until_complete(async {
        let mut input = corio::io::stdin();
        let (mut count, mut in_order) = (0u64, true);
        while let Some(line) = timeout(Duration::from_secs(10), input.next_line())
            .await
            .unwrap()
            .unwrap()
        {
            count += 1;
            in_order &= line == count.to_string();
        }
        (count, in_order)
    });
    // Each pool job that ends wakes the loop from its thread.
    println!(
        "GOT {count} {in_order} jobs<{}",
        lp.stats().remote_wakes < 1_000
    );
}

#[test]
fn many_stdin_lines_arrive_in_order_a_pipeful_per_pool_job() {
    use std::io::Write;

    let out = run_child("stdin_many_lines_child", |stdin| {
        let mut input = String::new();
        for i in 1..=100_000 {
            input.push_str(&i.to_string());
            input.push('\n');
        }
        stdin.write_all(input.as_bytes()).unwrap();
    });
    let got = child_line(&out, "GOT ");
    assert_eq!(got.as_deref(), Some("GOT 100000 true jobs<true"), "{out}");
}

/// The child half of the next test.
#[test]
#[ignore = "run by stdin_refuses_lines_over_its_limit_and_goes_on in a child process"]
fn stdin_limit_child() {
    if !is_child("stdin_limit_child") {
        return;
    }
    corio::run(async {
        let mut input = corio::io::stdin().max_line_length(1024);
        let mut got = Vec::new();
        for _ in 0..5 {
            let line = timeout(Duration::from_secs(5), input.next_line()).await;
            got.push(match line {
                Ok(Ok(line)) => format!("{line:?}"),
                Ok(Err(err)) => {
                    let too_long = err
                        .get_ref()
                        .and_then(|e| e.downcast_ref::<corio::io::LineTooLong>())
                        .is_some();
                    format!(
                        "{:?}{}",
                        err.kind(),
                        if too_long { "(too long)" } else { "" }
                    )
                }
                Err(_) => "timed out".to_string(),
            });
        }
        println!("GOT {}", got.join(" | "));
    });
}

#[test]
fn stdin_refuses_lines_over_its_limit_and_goes_on() {
    use std::io::Write;

    let out = run_child("stdin_limit_child", |stdin| {
        let mut input = b"hi\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 100_000));
        input.extend_from_slice(b"\n\xff\xfe\nbye\n");
        stdin.write_all(&input).unwrap();
    });
    let got = child_line(&out, "GOT ");
    assert_eq!(
        got.as_deref(),
        Some("GOT Some(\"hi\") | InvalidData(too long) | InvalidData | Some(\"bye\") | None"),
        "{out}"
    );
}

#[test]
fn lines_go_on_after_a_line_that_is_not_utf8() {
    run(async {
        let mut lines = BufReader::new(&b"a\n\xff\nb\n"[..]).lines();
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("a"));
        let err = lines.next_line().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("b"));
        assert_eq!(lines.next_line().await.unwrap(), None);
    });
}

#[test]
fn a_line_longer_than_the_limit_is_an_error_and_the_next_line_reads_whole() {
    run(async {
        // Over a socket, in pieces: the over-long line keeps coming after
        // the error, and is dropped as it comes, never held in memory.
        let (client, mut server) = pair().await;
        let _writer = corio::spawn(async move {
            server.write_all(b"short\n").await.unwrap();
            for _ in 0..64 {
                server.write_all(&[b'x'; 16 * 1024]).await.unwrap(); // 1 MiB, no newline
                corio::yield_now().await;
            }
            server
                .write_all(b"\nexactly-16-byte\n\nlast")
                .await
                .unwrap();
        });
        let mut reader = BufReader::new(client).max_line_length(16);
        let mut line = String::new();
        assert_eq!(reader.read_line(&mut line).await.unwrap(), 6);
        assert_eq!(line, "short\n");
        line.clear();
        let err = reader.read_line(&mut line).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        assert!(err.to_string().contains("longer than 16 bytes"), "{err}");
        assert_eq!(line, "", "nothing of the long line is appended");
        // The next call skips the rest of the long line, then reads on;
        // a line of exactly the limit (with its `\n`) passes.
        assert_eq!(reader.read_line(&mut line).await.unwrap(), 16);
        assert_eq!(line, "exactly-16-byte\n");
        assert!(
            reader.buffer().len() <= 8 * 1024,
            "the long line was not kept"
        );
        let mut lines = reader.lines();
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some(""));
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("last"));
        assert_eq!(lines.next_line().await.unwrap(), None);
    });
}

#[test]
fn lines_and_read_until_keep_the_limit_too_and_an_over_long_last_line_ends_with_the_stream() {
    run(async {
        let input = format!("ok\n{}\nafter\n{}", "y".repeat(50), "z".repeat(50));
        let mut lines = BufReader::with_capacity(8, input.as_bytes())
            .max_line_length(10)
            .lines();
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("ok"));
        let err = lines.next_line().await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("after"));
        assert!(
            lines.next_line().await.is_err(),
            "the last line is too long too"
        );
        assert_eq!(lines.next_line().await.unwrap(), None);

        let mut reader = BufReader::new(&b"k=v;0123456789abcdef;next;"[..]).max_line_length(8);
        let mut field = Vec::new();
        assert_eq!(reader.read_until(b';', &mut field).await.unwrap(), 4);
        field.clear();
        let err = reader.read_until(b';', &mut field).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidData);
        field.clear();
        assert_eq!(reader.read_until(b';', &mut field).await.unwrap(), 5);
        assert_eq!(field, b"next;");
    });
}

#[test]
fn a_line_loop_over_buffered_bytes_lets_other_tasks_run() {
    run(async {
        let text = "a line\n".repeat(10_000);
        let ticks = Rc::new(Cell::new(0u32));
        let done = Rc::new(Cell::new(false));
        let (t, d) = (ticks.clone(), done.clone());
        let ticker = corio::spawn(async move {
            while !d.get() {
                t.set(t.get() + 1);
                corio::yield_now().await;
            }
        });
        // The reader never waits for bytes: without a budget on buffered
        // lines it would read all 10,000 in one poll.
        let mut reader = BufReader::new(text.as_bytes());
        let mut line = String::new();
        let mut lines = 0;
        while reader.read_line(&mut line).await.unwrap() > 0 {
            lines += 1;
        }
        done.set(true);
        assert_eq!(lines, 10_000);
        assert!(
            ticks.get() >= 10, // about 10,000 / 128 (the budget) in fact
            "the other task ran {} times",
            ticks.get()
        );
        ticker.await.unwrap();
    });
}
