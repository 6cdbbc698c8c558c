//! Seed 004's three requests, drawn: an SVG Gantt chart of the tasks over
//! time, made from the loop's trace.
//!
//! Two runs of the same program, one above the other:
//!
//! * the requests call `std::thread::sleep` (seed 004's `time.sleep(2)`):
//!   each poll holds the loop for the whole request, so the bars follow
//!   one another — 6 s in all;
//! * the requests `.await` `corio::time::sleep` (`await asyncio.sleep(2)`):
//!   each poll is a sliver; the tasks wait side by side — 2 s in all.
//!
//! A bar is a poll (the task runs, nobody else can); a dashed line is the
//! task ready — spawned or woken — and waiting for its turn; a thin line is
//! the task parked, waiting for a wake; a tick is a wake. The picture is built from
//! [`EventLoop::trace_events`](corio::EventLoop::trace_events) with nothing
//! but `format!` — no plotting library.
//!
//! Run it: `cargo run --release --example timeline -- --secs 0.5 --out timeline.svg`
//! (defaults: 2 s per request, `timeline.svg`); `--chrome trace.json` also
//! writes the awaited run's trace for <https://ui.perfetto.dev>.
//! `scripts/timeline_png.sh` renders the SVG to a PNG with headless Chromium.

#[macro_use]
mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use corio::EventLoop;
use corio::debug::{TraceEvent, TraceKind};

const URLS: [&str; 3] = ["www.1.com", "www.2.com", "www.3.com"];

/// Seed 004's first try: a blocking sleep inside a coroutine.
async fn get_request_blocking(url: &'static str, secs: Duration) {
    say!("  正在请求 (requesting): {url}");
    std::thread::sleep(secs); // holds the loop: no other task can run
    say!("  请求结束 (done):       {url}");
}

/// Seed 004's fix: an awaited sleep.
async fn get_request(url: &'static str, secs: Duration) {
    say!("  正在请求 (requesting): {url}");
    corio::time::sleep(secs).await; // parks the task: the loop runs others
    say!("  请求结束 (done):       {url}");
}

/// Runs the three requests on a new, tracing loop; returns its trace.
fn traced<F: Future<Output = ()> + 'static>(
    request: impl Fn(&'static str) -> F,
    chrome: Option<&str>,
) -> Vec<TraceEvent> {
    let mut lp = EventLoop::new().expect("an event loop");
    lp.set_trace(true);
    lp.run_until_complete(async {
        let tasks = URLS.map(|url| corio::Builder::new().name(url).spawn(request(url)));
        corio::gather(tasks).await;
    });
    lp.set_trace(false);
    if let Some(path) = chrome {
        match lp.write_chrome_trace(path) {
            Ok(()) => say!("  wrote {path} (open it in https://ui.perfetto.dev)"),
            Err(e) => {
                tell!("timeline: could not write {path}: {e}");
                std::process::exit(1);
            }
        }
    }
    lp.trace_events()
}

/// One row of the chart: a task (or the main future) and what it did.
#[derive(Default)]
struct Row {
    name: String,
    born: f64,
    ended: Option<f64>,
    polls: Vec<(f64, f64)>,
    wakes: Vec<f64>,
    /// Spans between becoming ready (spawn, wake) and the next poll.
    ready: Vec<(f64, f64)>,
    ready_since: Option<f64>,
}

/// Turns a trace into rows, in seconds since the trace began.
fn rows(events: &[TraceEvent]) -> (Vec<Row>, f64) {
    let mut rows: BTreeMap<u64, Row> = BTreeMap::new();
    rows.insert(
        0,
        Row {
            name: "main future".into(),
            ..Row::default()
        },
    );
    let mut open: BTreeMap<u64, f64> = BTreeMap::new();
    let mut end = 0.0f64;
    for event in events {
        let t = event.at.as_secs_f64();
        end = end.max(t);
        // The main future has no task id: row 0.
        let id = event.task.map_or(0, |id| id.as_u64());
        match &event.kind {
            TraceKind::Spawn { name, .. } => {
                let row = rows.entry(id).or_default();
                row.name = name.clone();
                row.born = t;
                row.ready_since = Some(t);
            }
            TraceKind::PollStart => {
                open.insert(id, t);
                let row = rows.entry(id).or_default();
                if let Some(since) = row.ready_since.take() {
                    row.ready.push((since, t));
                }
            }
            TraceKind::PollEnd => {
                if let Some(start) = open.remove(&id) {
                    rows.entry(id).or_default().polls.push((start, t));
                }
            }
            TraceKind::Wake { .. } => {
                let row = rows.entry(id).or_default();
                row.wakes.push(t);
                row.ready_since.get_or_insert(t);
            }
            TraceKind::Complete => rows.entry(id).or_default().ended = Some(t),
            _ => {}
        }
    }
    if let Some(main) = rows.get_mut(&0) {
        main.ended = main.polls.last().map(|p| p.1);
    }
    (rows.into_values().collect(), end)
}

/// Escapes text for SVG.
fn xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const WIDTH: f64 = 900.0;
const LEFT: f64 = 120.0;
const ROW: f64 = 26.0;
const COLORS: [&str; 4] = ["#7f7f7f", "#1f77b4", "#ff7f0e", "#2ca02c"];

/// Draws one panel at `top`; returns its height.
fn panel(svg: &mut String, top: f64, title: &str, rows: &[Row], end: f64, scale_end: f64) -> f64 {
    let plot = WIDTH - LEFT - 20.0;
    let x = |t: f64| LEFT + t / scale_end * plot;
    let _ = writeln!(
        svg,
        r#"<text x="10" y="{:.1}" font-size="15" font-weight="bold">{} — {:.2} s</text>"#,
        top + 18.0,
        xml(title),
        end
    );
    let axis_y = top + 34.0 + ROW * rows.len() as f64;
    for (i, row) in rows.iter().enumerate() {
        let y = top + 30.0 + ROW * i as f64;
        let color = COLORS[i % COLORS.len()];
        let _ = writeln!(
            svg,
            r#"<text x="10" y="{:.1}" font-size="13">{}</text>"#,
            y + 15.0,
            xml(&row.name)
        );
        let ended = row.ended.unwrap_or(end);
        let _ = writeln!(
            svg,
            r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="{color}" stroke-width="2" opacity="0.5"/>"#,
            x(row.born),
            y + 11.0,
            x(ended),
            y + 11.0
        );
        for &(start, stop) in &row.ready {
            let _ = writeln!(
                svg,
                r#"<line x1="{:.1}" y1="{2:.1}" x2="{:.1}" y2="{2:.1}" stroke="{color}" stroke-width="4" stroke-dasharray="6,4"/>"#,
                x(start),
                x(stop),
                y + 11.0
            );
        }
        for &(start, stop) in &row.polls {
            let w = (x(stop) - x(start)).max(2.0);
            let _ = writeln!(
                svg,
                r#"<rect x="{:.1}" y="{:.1}" width="{w:.1}" height="16" fill="{color}"><title>poll {:.3}–{:.3} s</title></rect>"#,
                x(start),
                y + 3.0,
                start,
                stop
            );
        }
        for &t in &row.wakes {
            let _ = writeln!(
                svg,
                r#"<line x1="{0:.1}" y1="{1:.1}" x2="{0:.1}" y2="{2:.1}" stroke="black" stroke-width="1.5"/>"#,
                x(t),
                y,
                y + 22.0
            );
        }
    }
    // The time axis, with at most ten ticks at round values.
    let _ = writeln!(
        svg,
        r#"<line x1="{LEFT}" y1="{axis_y:.1}" x2="{:.1}" y2="{axis_y:.1}" stroke="black"/>"#,
        LEFT + plot
    );
    let step = [0.01, 0.02, 0.05, 0.1, 0.2, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .find(|step| scale_end / step <= 10.0)
        .unwrap_or(10.0);
    let decimals = if step >= 1.0 {
        0
    } else if step >= 0.1 && step != 0.25 {
        1
    } else {
        2
    };
    let mut i = 0.0;
    while i * step <= scale_end + 1e-9 {
        let t = i * step;
        let _ = writeln!(
            svg,
            r#"<line x1="{0:.1}" y1="{axis_y:.1}" x2="{0:.1}" y2="{1:.1}" stroke="black"/><text x="{0:.1}" y="{2:.1}" font-size="11" text-anchor="middle">{t:.decimals$} s</text>"#,
            x(t),
            axis_y + 5.0,
            axis_y + 18.0
        );
        i += 1.0;
    }
    axis_y + 30.0 - top
}

fn svg(panels: &[(&str, Vec<Row>, f64)]) -> String {
    let scale_end = panels.iter().map(|p| p.2).fold(0.0, f64::max).max(1e-3);
    let mut body = String::new();
    let mut top = 10.0;
    for (title, rows, end) in panels {
        top += panel(&mut body, top, title, rows, *end, scale_end) + 10.0;
    }
    let legend = "bar: a poll (the task runs; no other can) · dashed: ready, waiting for its \
                  turn · thin line: parked, waiting for a wake · tick: woken";
    let _ = writeln!(
        body,
        r##"<text x="10" y="{:.1}" font-size="12" fill="#444">{legend}</text>"##,
        top + 5.0
    );
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{:.0}\" \
         font-family=\"sans-serif\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n{body}</svg>\n",
        top + 20.0
    )
}

const USAGE: &str = "usage: timeline [--secs SECONDS per request, 0.01 to 10; default 2] \
                     [--out FILE.svg] [--chrome TRACE.json]";

fn usage(problem: &str) -> ! {
    tell!("timeline: {problem} (see --help)");
    std::process::exit(2);
}

fn main() {
    let mut secs = Duration::from_secs(2);
    let mut out = String::from("timeline.svg");
    let mut chrome = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || {
            args.next()
                .unwrap_or_else(|| usage(&format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "--secs" => {
                let v = value();
                secs = match v.parse::<f64>() {
                    Ok(s) if (0.01..=10.0).contains(&s) => Duration::from_secs_f64(s),
                    _ => usage(&format!("--secs takes 0.01 to 10, got {v:?}")),
                }
            }
            "--out" => out = value(),
            "--chrome" => chrome = Some(value()),
            "-h" | "--help" => {
                say!("timeline: draws seed 004's three requests as an SVG timeline\n{USAGE}");
                return;
            }
            other => usage(&format!("unknown argument {other:?}")),
        }
    }

    // Find out now, not after the runs, if a file cannot be written —
    // without emptying one that exists, or leaving a new one behind.
    for path in std::iter::once(&out).chain(&chrome) {
        if let Err(e) = check_writable(path) {
            tell!("timeline: cannot write {path}: {e}");
            std::process::exit(1);
        }
    }

    say!("time.sleep inside the tasks (blocks the loop):");
    let blocking = traced(|url| get_request_blocking(url, secs), None);
    say!("await sleep (the tasks overlap):");
    let awaited = traced(|url| get_request(url, secs), chrome.as_deref());

    let (rows_b, end_b) = rows(&blocking);
    let (rows_a, end_a) = rows(&awaited);
    let picture = svg(&[
        (
            "std::thread::sleep in each task (time.sleep)",
            rows_b,
            end_b,
        ),
        (
            "corio::time::sleep(..).await (await asyncio.sleep)",
            rows_a,
            end_a,
        ),
    ]);
    if let Err(e) = std::fs::write(&out, picture) {
        tell!("timeline: could not write {out}: {e}");
        std::process::exit(1);
    }
    say!("wrote {out}: {end_b:.2} s blocking, {end_a:.2} s awaiting");
}

/// Can `path` be written? Opened for appending (so an existing file keeps
/// its bytes); a file created just to find out is removed again.
fn check_writable(path: &str) -> std::io::Result<()> {
    // (The link itself, if it is one: a dangling link is not a new file.)
    let existed = std::fs::symlink_metadata(path).is_ok();
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)?;
    if !existed {
        std::fs::remove_file(path)?;
    }
    Ok(())
}
