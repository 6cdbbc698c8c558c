//! The trace: what the loop did, event by event, with timestamps.
//!
//! While [`EventLoop::set_trace`](crate::EventLoop::set_trace) is on, the
//! loop appends a [`TraceEvent`] at each spawn, poll start and end, wake,
//! completion, I/O readiness, timer firing and callback. The events can be
//! read back ([`EventLoop::trace_events`](crate::EventLoop::trace_events))
//! or written as Chrome trace-event JSON
//! ([`EventLoop::write_chrome_trace`](crate::EventLoop::write_chrome_trace)),
//! which Perfetto (<https://ui.perfetto.dev>) and `chrome://tracing` open:
//! one track per task, polls as slices, wakes as instants.

use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use crate::task::TaskId;

/// At most this many events are kept — the first ones: about 72 MB, plus
/// the task names that spawn events carry; later ones are counted, not
/// stored.
const MAX_EVENTS: usize = 1_000_000;

/// One thing the loop did, as the trace records it.
///
/// # Examples
///
/// ```
/// use corio::debug::TraceKind;
///
/// let mut lp = corio::EventLoop::new()?;
/// lp.set_trace(true);
/// lp.run_until_complete(async { corio::spawn(async {}).await.unwrap() });
/// let kinds: Vec<_> = lp.trace_events().into_iter().filter(|e| e.task.is_some()).map(|e| e.kind).collect();
/// assert!(matches!(kinds[0], TraceKind::Spawn { .. }));
/// assert_eq!(kinds[1..], [TraceKind::PollStart, TraceKind::PollEnd, TraceKind::Complete]);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TraceEvent {
    /// Time since the trace was switched on.
    pub at: Duration,
    /// The task it is about. `None`: the main future (for polls and
    /// wakes), or the loop itself (I/O, timers, callbacks).
    pub task: Option<TaskId>,
    /// What happened.
    pub kind: TraceKind,
}

/// What a [`TraceEvent`] records.
///
/// # Examples
///
/// ```
/// use corio::debug::TraceKind;
///
/// let wake = TraceKind::Wake { remote: true };
/// assert_ne!(wake, TraceKind::Wake { remote: false });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TraceKind {
    /// The task was spawned (by `parent`, when a task spawned it).
    Spawn {
        /// The spawning task.
        parent: Option<TaskId>,
        /// The new task's name.
        name: String,
    },
    /// A poll began.
    PollStart,
    /// A poll ended.
    PollEnd,
    /// The task was woken.
    Wake {
        /// The wake came through the loop's remote queue: from another
        /// thread, or from this one while the loop was not running or was
        /// busy with its own bookkeeping.
        remote: bool,
    },
    /// The task finished (its output, panic or cancellation is recorded).
    Complete,
    /// The reactor reported readiness of this many I/O sources.
    IoReady {
        /// Readiness events received.
        events: usize,
    },
    /// This many timers fired.
    TimersFired {
        /// Timers that fired.
        count: usize,
    },
    /// A callback began (`call_soon`, `call_later`, a done callback …).
    CallbackStart,
    /// The callback ended.
    CallbackEnd,
}

/// The loop's trace buffer.
pub(crate) struct Recorder {
    /// When recording started; `None` while not recording.
    start: Cell<Option<Instant>>,
    events: RefCell<Vec<TraceEvent>>,
    dropped: Cell<u64>,
}

impl Default for Recorder {
    fn default() -> Recorder {
        Recorder {
            start: Cell::new(None),
            events: RefCell::new(Vec::new()),
            dropped: Cell::new(0),
        }
    }
}

impl Recorder {
    /// Starts a new trace (dropping an old one).
    pub(crate) fn start(&self) {
        let now = Instant::now();
        self.start.set(Some(now));
        self.events.borrow_mut().clear();
        self.dropped.set(0);
    }

    /// Stops recording; the events stay.
    pub(crate) fn stop(&self) {
        self.start.set(None);
    }

    /// Appends an event, if a trace was started.
    pub(crate) fn record(&self, kind: TraceKind, task: Option<TaskId>) {
        let Some(start) = self.start.get() else {
            return;
        };
        let Ok(mut events) = self.events.try_borrow_mut() else {
            return;
        };
        if events.len() >= MAX_EVENTS {
            self.dropped.set(self.dropped.get() + 1);
            return;
        }
        events.push(TraceEvent {
            at: start.elapsed(),
            task,
            kind,
        });
    }

    pub(crate) fn events(&self) -> Vec<TraceEvent> {
        self.events.borrow().clone()
    }

    /// Writes the events as Chrome trace-event JSON to `out`, from a
    /// borrow (no copy of the trace).
    pub(crate) fn write_chrome(&self, out: &mut impl std::io::Write) -> std::io::Result<()> {
        let events = self.events.borrow();
        write_chrome_json(out, &events, self.dropped.get())
    }
}

/// Writes `events` as Chrome trace-event JSON (the "JSON object format"):
/// track 0 is the loop and the main future, track N is task N.
pub(crate) fn write_chrome_json(
    out: &mut impl std::io::Write,
    events: &[TraceEvent],
    dropped: u64,
) -> std::io::Result<()> {
    out.write_all(b"{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n")?;
    let mut first = true;
    let mut push = |out: &mut dyn std::io::Write, event: String| {
        let sep: &[u8] = if first { b"" } else { b",\n" };
        first = false;
        out.write_all(sep)?;
        out.write_all(event.as_bytes())
    };
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    let tid = |task: Option<TaskId>| task.map_or(0, TaskId::as_u64);
    push(
        out,
        "{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":0,\
         \"args\":{\"name\":\"loop / main future\"}}"
            .to_string(),
    )?;
    // Open polls and callbacks, to turn start/end pairs into slices.
    let mut open_polls: std::collections::HashMap<u64, Duration> = Default::default();
    let mut open_callback = None;
    for event in events {
        let t = tid(event.task);
        let ts = micros(event.at);
        let instant = |name: &str, args: String| {
            format!(
                "{{\"name\":\"{name}\",\"ph\":\"i\",\"s\":\"t\",\"pid\":1,\"tid\":{t},\
                 \"ts\":{ts:.3},\"args\":{{{args}}}}}"
            )
        };
        match &event.kind {
            TraceKind::Spawn { parent, name } => {
                let label = format!("task {t} {name}");
                push(
                    out,
                    format!(
                        "{{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":1,\"tid\":{t},\
                         \"args\":{{\"name\":{}}}}}",
                        json_string(&label)
                    ),
                )?;
                push(
                    out,
                    format!(
                        "{{\"name\":\"thread_sort_index\",\"ph\":\"M\",\"pid\":1,\"tid\":{t},\
                         \"args\":{{\"sort_index\":{t}}}}}"
                    ),
                )?;
                let parent = parent.map_or("null".to_string(), |p| p.as_u64().to_string());
                push(out, instant("spawn", format!("\"parent\":{parent}")))?;
            }
            TraceKind::PollStart => {
                open_polls.insert(t, event.at);
            }
            TraceKind::PollEnd => {
                if let Some(began) = open_polls.remove(&t) {
                    let name = if event.task.is_some() {
                        "poll"
                    } else {
                        "poll main"
                    };
                    push(out, slice(name, t, began, event.at))?;
                }
            }
            TraceKind::Wake { remote } => {
                let name = if *remote {
                    "wake (other thread)"
                } else {
                    "wake"
                };
                push(out, instant(name, String::new()))?;
            }
            TraceKind::Complete => push(out, instant("complete", String::new()))?,
            TraceKind::IoReady { events } => {
                push(out, instant("I/O ready", format!("\"events\":{events}")))?;
            }
            TraceKind::TimersFired { count } => {
                push(out, instant("timers fired", format!("\"count\":{count}")))?;
            }
            TraceKind::CallbackStart => open_callback = Some(event.at),
            TraceKind::CallbackEnd => {
                if let Some(began) = open_callback.take() {
                    push(out, slice("callback", 0, began, event.at))?;
                }
            }
        }
    }
    if dropped > 0 {
        let at = events.last().map_or(Duration::ZERO, |e| e.at);
        push(
            out,
            format!(
                "{{\"name\":\"trace full: {dropped} events dropped\",\"ph\":\"i\",\"s\":\"g\",\
                 \"pid\":1,\"tid\":0,\"ts\":{:.3}}}",
                micros(at)
            ),
        )?;
    }
    out.write_all(b"\n]}\n")
}

fn slice(name: &str, tid: u64, began: Duration, ended: Duration) -> String {
    let ts = began.as_secs_f64() * 1e6;
    let dur = ended.saturating_sub(began).as_secs_f64() * 1e6;
    format!(
        "{{\"name\":\"{name}\",\"ph\":\"X\",\"pid\":1,\"tid\":{tid},\"ts\":{ts:.3},\"dur\":{dur:.3}}}"
    )
}

/// `s` as a JSON string literal.
fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_escape_quotes_backslashes_and_controls() {
        assert_eq!(json_string("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
    }

    #[test]
    fn a_poll_becomes_one_slice_on_its_task_track() {
        let events = [
            TraceEvent {
                at: Duration::from_micros(10),
                task: Some(TaskId(3)),
                kind: TraceKind::PollStart,
            },
            TraceEvent {
                at: Duration::from_micros(25),
                task: Some(TaskId(3)),
                kind: TraceKind::PollEnd,
            },
        ];
        let mut json = Vec::new();
        write_chrome_json(&mut json, &events, 0).unwrap();
        let json = String::from_utf8(json).unwrap();
        assert!(json.contains(
            "{\"name\":\"poll\",\"ph\":\"X\",\"pid\":1,\"tid\":3,\"ts\":10.000,\"dur\":15.000}"
        ));
    }
}
