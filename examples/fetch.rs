//! `fetch`: a tiny curl on corio's HTTP client.
//!
//! ```text
//! cargo run --example fetch -- http://127.0.0.1:8000/           # status line, headers, body size, timing
//! cargo run --example fetch -- -I http://127.0.0.1:8000/        # HEAD
//! cargo run --example fetch -- -o page.html http://127.0.0.1:8000/   # stream the body to a file
//! cargo run --example fetch -- --body http://127.0.0.1:8000/    # print the body too
//! cargo run --example fetch -- --demo                           # against a demo server of its own
//! ```
//!
//! Errors are one clear line on stderr and a non-zero exit status — try
//! `https://example.com/` (no TLS in corio), `http://127.0.0.1:1/`
//! (refused) or `not-a-url`.
//!
//! The body is read with [`StreamingResponse::chunk`]: a download larger
//! than memory goes to the file piece by piece (the client's 64 MiB body
//! limit is lifted unless `--body` is given, which keeps the body in memory
//! to print it).
//!
//! [`StreamingResponse::chunk`]: corio::http::StreamingResponse::chunk

#[macro_use]
mod common;

use std::fs::File;
use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use corio::http::server::{Reply, Server};
use corio::http::{Client, Method};

const USAGE: &str = "usage: fetch [-I] [-o FILE] [--body] [--timeout SECS] [--idle SECS] URL
       fetch --demo   (fetch from a demo server started in-process)
  --timeout SECS   the longest the whole request may take (default: no limit, as curl)
  --idle SECS      the longest the server may stay silent (default: 30)";

struct Options {
    url: String,
    head: bool,
    output: Option<String>,
    print_body: bool,
    /// The whole request's limit (curl's `--max-time`): none by default,
    /// so that a long download is not cut off.
    timeout: Option<Duration>,
    /// How long the server may stay silent.
    idle: Duration,
    demo: bool,
}

fn parse_args() -> Result<Options, String> {
    let mut options = Options {
        url: String::new(),
        head: false,
        output: None,
        print_body: false,
        timeout: None,
        idle: Duration::from_secs(30),
        demo: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "-I" | "--head" => options.head = true,
            "-o" | "--output" => {
                let path = args.next().ok_or("-o needs a file name")?;
                match path.as_str() {
                    "" => return Err("-o needs a file name, got an empty one".into()),
                    // (curl's `-o -` is stdout: here that is --body.)
                    "-" => return Err("-o - : to write the body to stdout, use --body".into()),
                    _ => options.output = Some(path),
                }
            }
            "--body" => options.print_body = true,
            "--demo" => options.demo = true,
            "--timeout" => options.timeout = Some(seconds("--timeout", args.next())?),
            "--idle" => options.idle = seconds("--idle", args.next())?,
            "-h" | "--help" => {
                say!("{USAGE}");
                std::process::exit(0);
            }
            url if !url.starts_with('-') && options.url.is_empty() => options.url = url.to_owned(),
            other => return Err(format!("unexpected argument {other:?}")),
        }
    }
    if options.url.is_empty() && !options.demo {
        return Err("no URL to fetch".into());
    }
    if !options.url.is_empty() && options.demo {
        return Err(format!(
            "--demo fetches from a server of its own: give it no URL (got {:?})",
            options.url
        ));
    }
    if !options.url.is_empty() {
        // A URL that cannot be fetched is a mistake in the arguments
        // (status 2), found before anything is sent, by the client's rules.
        corio::http::check_url(&options.url).map_err(|e| e.to_string())?;
    }
    Ok(options)
}

/// The value of a flag that takes seconds: positive and finite.
fn seconds(flag: &str, text: Option<String>) -> Result<Duration, String> {
    let text = text.ok_or(format!("{flag} needs seconds"))?;
    let secs: f64 = text
        .parse()
        .map_err(|_| format!("{flag}: {text:?} is not a number"))?;
    Duration::try_from_secs_f64(secs)
        .ok()
        .filter(|t| !t.is_zero())
        .ok_or(format!(
            "{flag} wants a number of seconds from a nanosecond up to about 10^19, got {text:?}"
        ))
}

/// Can `path` be written? An existing file is opened for writing but left
/// as it is; a new one is created and removed again.
fn check_writable(path: &str) -> Result<(), String> {
    use std::os::unix::fs::FileTypeExt;
    let cannot = |e: std::io::Error| format!("cannot create {path:?}: {e}");
    // Opening a FIFO (or a socket's path) for writing would block until a
    // reader comes — outside any timeout: refused instead.
    if let Ok(meta) = std::fs::metadata(path) {
        let kind = meta.file_type();
        if kind.is_fifo() || kind.is_socket() {
            return Err(format!(
                "{path:?} is a pipe or a socket: -o writes files (for a pipe, use --body and \
                 a shell redirection)"
            ));
        }
    }
    if std::path::Path::new(path).exists() {
        std::fs::OpenOptions::new()
            .write(true)
            .open(path)
            .map_err(cannot)?;
    } else {
        File::create(path).map_err(cannot)?;
        std::fs::remove_file(path).map_err(cannot)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    let options = match parse_args() {
        Ok(options) => options,
        Err(message) => {
            tell!("fetch: {message} (see --help)");
            return ExitCode::from(2);
        }
    };
    match corio::run(fetch(options)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            tell!("fetch: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn fetch(mut options: Options) -> Result<(), String> {
    // `--demo`: a server on this loop, so the example runs anywhere.
    let _server = if options.demo {
        let server = Server::bind("127.0.0.1:0", |req| async move {
            Reply::html(format!(
                "<h1>corio demo</h1><p>you asked for {}</p>\n",
                req.target
            ))
        })
        .await
        .map_err(|e| format!("cannot start the demo server: {e}"))?;
        if options.url.is_empty() {
            options.url = server.url("/hello?from=fetch");
        }
        Some(server)
    } else {
        None
    };

    let mut builder = Client::builder().read_timeout(options.idle);
    if let Some(timeout) = options.timeout {
        builder = builder.total_timeout(timeout);
    }
    if !options.print_body {
        // Streamed to disk, or only counted: it need not fit in memory.
        builder = builder.max_body_bytes(u64::MAX);
    }
    let client = builder.build().map_err(|e| e.to_string())?;
    let method = if options.head {
        Method::Head
    } else {
        Method::Get
    };

    // A bad path is reported before any request — without touching a file
    // that is there: it is created (or emptied) only once a response came.
    if let Some(path) = &options.output {
        check_writable(path)?;
    }
    let began = Instant::now();
    let mut response = client
        .request(method, &options.url)
        .send_streaming()
        .await
        .map_err(|e| e.to_string())?;
    let head_after = began.elapsed();

    say!(
        "{} {} {}",
        response.version,
        response.status,
        response.reason
    );
    for (name, value) in response.headers.iter() {
        say!("{name}: {}", String::from_utf8_lossy(value));
    }
    say!();
    // Created (or emptied) only now: if the head could not be shown
    // (stdout closed or full), an existing file is left as it was.
    let mut file = match &options.output {
        Some(path) => Some(File::create(path).map_err(|e| format!("cannot create {path:?}: {e}"))?),
        None => None,
    };

    let mut body_bytes = 0u64;
    let mut shown = Vec::new();
    let partial = |e: corio::http::Error| match &options.output {
        // What came is kept (as curl does), and said to be partial.
        Some(path) => format!("{e} (the first part of the body is in {path})"),
        None => e.to_string(),
    };
    while let Some(piece) = response.chunk().await.map_err(partial)? {
        body_bytes += piece.len() as u64;
        if let Some(file) = &mut file {
            // A small blocking write per piece; fine for a tool (use
            // `spawn_blocking` if the disk may be slow).
            file.write_all(piece)
                .map_err(|e| format!("writing the file: {e}"))?;
        } else if options.print_body {
            shown.extend_from_slice(piece);
        }
    }
    if options.print_body && file.is_none() {
        // The server's bytes as they are (as `curl -i` prints them), not
        // text made valid UTF-8: after the head's blank line, the output
        // is the body.
        common::write_stdout(&shown);
    }
    let total = began.elapsed();
    let per_second = body_bytes as f64 / total.as_secs_f64().max(1e-9);
    let rate = match per_second {
        r if r >= 1e6 => format!(", {:.1} MB/s", r / 1e6),
        r if r >= 1e3 => format!(", {:.1} kB/s", r / 1e3),
        r if r >= 1.0 => format!(", {r:.0} B/s"),
        _ => String::new(),
    };
    tell!(
        "-- {} body bytes{} | head after {:.1} ms, done after {:.1} ms{} | {}",
        body_bytes,
        options
            .output
            .as_deref()
            .map(|p| format!(" written to {p}"))
            .unwrap_or_default(),
        head_after.as_secs_f64() * 1e3,
        total.as_secs_f64() * 1e3,
        rate,
        response.url()
    );
    Ok(())
}
