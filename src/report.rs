//! Reports of failures that nobody could otherwise see.
//!
//! A panicking task is contained; its panic becomes the task's outcome. If
//! nobody awaits the task and no done callback looks at it, the panic would
//! vanish — asyncio prints "Task exception was never retrieved" for that, and
//! so does corio. A panicking callback has nobody to return to, so it is
//! reported too. In debug mode, so are polls and callbacks that hold the
//! loop too long, tasks still pending when their loop is dropped, and a
//! main future that may be stalled. Reports go to one hook per loop (asyncio's
//! `loop.set_exception_handler`); the default prints to stderr (with the
//! `log` feature, it logs through the `log` facade).

use std::fmt;
use std::panic::Location;

use crate::task::TaskId;

/// What kind of failure a [`Report`] is about.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
/// use corio::{EventLoop, ReportKind};
///
/// let mut lp = EventLoop::new()?;
/// let kinds = Rc::new(RefCell::new(Vec::new()));
/// let k = kinds.clone();
/// lp.set_exception_handler(move |report| k.borrow_mut().push(report.kind()));
/// lp.call_soon(|| panic!("in a callback"));
/// drop(lp.spawn(async { panic!("in a task nobody awaits") }));
/// lp.run_once();
/// assert_eq!(*kinds.borrow(), [ReportKind::CallbackPanic, ReportKind::UnretrievedPanic]);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ReportKind {
    /// A task panicked and nobody observed its outcome: its handle was
    /// dropped without being awaited and no done callback saw it
    /// (asyncio: "Task exception was never retrieved").
    UnretrievedPanic,
    /// A callback (`call_soon`, `call_later`, `call_soon_threadsafe` or a
    /// done callback) panicked (asyncio: "Exception in callback").
    CallbackPanic,
    /// Debug mode: one poll of a task, or one callback, held the loop for
    /// `slow_callback_duration` or longer (asyncio: "Executing <Task ...>
    /// took 0.302 seconds").
    SlowCallback,
    /// Debug mode: the loop was dropped with tasks still pending, without
    /// the orderly cancellation of [`corio::run`](crate::run) (asyncio:
    /// "Task was destroyed but it is pending!"). The message lists them.
    DestroyedPending,
    /// A destructor panicked when the loop dropped user data outside any
    /// poll or callback: a cancelled task's future, the output of a
    /// finished task nobody will take, a callback or timer dropped unrun,
    /// what a closing loop still held. The panic is contained (a cancelled
    /// task stays `Cancelled`) and reported to the loop that dropped it.
    /// (A destructor that panics where corio drops things for no loop — a
    /// pool job's output dropped on a plain thread — is reported to the
    /// loop running on that thread, if any, else on stderr.)
    DestructorPanic,
    /// Debug mode: the main future has waited for the stall grace period
    /// with nothing ready, no timer and no I/O, and corio cannot prove that
    /// nothing will wake it; or a `run_once` turn found pending tasks that
    /// it can prove nothing will ever wake (the turn is idle). The message
    /// has the dump. Without debug mode: once per loop, the hint that such
    /// a wait (no pool job of its own in flight, no `LoopHandle` alive either) has
    /// lasted the grace period, pointing to `CORIO_DEBUG=1`
    /// ([`EventLoop::set_stall_grace`](crate::EventLoop::set_stall_grace)).
    /// In both modes: a [`ThreadPool::shutdown(true)`](crate::pool::ThreadPool::shutdown)
    /// (or a pool's drop) that has held the loop's thread that long,
    /// waiting for the pool's jobs.
    Stall,
}

/// A failure the loop reports through its exception handler.
///
/// # Examples
///
/// ```
/// use std::cell::RefCell;
/// use std::rc::Rc;
/// use corio::{EventLoop, ReportKind};
///
/// let mut lp = EventLoop::new()?;
/// let seen = Rc::new(RefCell::new(Vec::new()));
/// let log = seen.clone();
/// lp.set_exception_handler(move |report| log.borrow_mut().push(report.kind()));
/// lp.call_soon(|| panic!("boom"));
/// lp.run_once();
/// assert_eq!(*seen.borrow(), [ReportKind::CallbackPanic]);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Report {
    kind: ReportKind,
    message: String,
    task: Option<(TaskId, String)>,
    site: Option<&'static Location<'static>>,
}

impl Report {
    pub(crate) fn new(kind: ReportKind, message: String, task: Option<(TaskId, String)>) -> Report {
        Report {
            kind,
            message,
            task,
            site: None,
        }
    }

    /// Where the task concerned was spawned (known in debug mode).
    pub(crate) fn with_site(mut self, site: Option<&'static Location<'static>>) -> Report {
        self.site = site;
        self
    }

    /// Where the task concerned was spawned, if the loop knew it: in debug
    /// mode ([`EventLoop::set_debug`](crate::EventLoop::set_debug)) every
    /// task's spawn site is remembered.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lp = corio::EventLoop::new()?;
    /// lp.set_debug(true);
    /// let site = std::rc::Rc::new(std::cell::RefCell::new(None));
    /// let s = site.clone();
    /// lp.set_exception_handler(move |r| *s.borrow_mut() = r.spawn_site().map(|l| l.line()));
    /// let line = line!() + 1;
    /// drop(lp.spawn(async { panic!("nobody awaits me") }));
    /// lp.run_once();
    /// assert_eq!(*site.borrow(), Some(line));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn_site(&self) -> Option<&'static Location<'static>> {
        self.site
    }

    /// What failed.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lp = corio::EventLoop::new()?;
    /// let kinds = std::rc::Rc::new(std::cell::Cell::new(None));
    /// let k = kinds.clone();
    /// lp.set_exception_handler(move |r| k.set(Some(r.kind())));
    /// drop(lp.spawn(async { panic!("nobody awaits me") }));
    /// lp.run_once();
    /// assert_eq!(kinds.get(), Some(corio::ReportKind::UnretrievedPanic));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn kind(&self) -> ReportKind {
        self.kind
    }

    /// The panic message.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lp = corio::EventLoop::new()?;
    /// let msg = std::rc::Rc::new(std::cell::RefCell::new(String::new()));
    /// let m = msg.clone();
    /// lp.set_exception_handler(move |r| *m.borrow_mut() = r.message().to_string());
    /// lp.call_soon(|| panic!("disk full"));
    /// lp.run_once();
    /// assert_eq!(*msg.borrow(), "disk full");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The name of the task concerned, if any: the task that panicked, or
    /// the task whose done callback panicked.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lp = corio::EventLoop::new()?;
    /// let name = std::rc::Rc::new(std::cell::RefCell::new(None));
    /// let n = name.clone();
    /// lp.set_exception_handler(move |r| *n.borrow_mut() = r.task_name().map(String::from));
    /// drop(corio::Builder::new().name("fetch /jay").spawn_on(&lp, async { panic!("404") }));
    /// lp.run_once();
    /// assert_eq!(name.borrow().as_deref(), Some("fetch /jay"));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn task_name(&self) -> Option<&str> {
        self.task.as_ref().map(|(_, name)| name.as_str())
    }

    /// The id of the task concerned, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut lp = corio::EventLoop::new()?;
    /// let id = std::rc::Rc::new(std::cell::Cell::new(None));
    /// let i = id.clone();
    /// lp.set_exception_handler(move |r| i.set(r.task_id()));
    /// let task = lp.spawn(async { panic!("boom") });
    /// let expected = task.id();
    /// drop(task);
    /// lp.run_once();
    /// assert_eq!(id.get(), Some(expected));
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn task_id(&self) -> Option<TaskId> {
        self.task.as_ref().map(|(id, _)| *id)
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.kind, &self.task) {
            (ReportKind::UnretrievedPanic, Some((id, name))) => {
                write!(f, "task {name:?} ({id})")?;
                if let Some(site) = self.site {
                    write!(f, ", spawned at {site},")?;
                }
                write!(f, " panicked and nobody retrieved it: {}", self.message)
            }
            (ReportKind::CallbackPanic, Some((id, name))) => write!(
                f,
                "a done callback of task {name:?} ({id}) panicked: {}",
                self.message
            ),
            (ReportKind::CallbackPanic, None) => {
                write!(f, "a callback panicked: {}", self.message)
            }
            (ReportKind::SlowCallback, _) => write!(f, "slow: {}", self.message),
            (ReportKind::DestroyedPending, _) => {
                write!(f, "destroyed but pending: {}", self.message)
            }
            // A proven stall says "would block forever"; one not proven
            // says "stalled?" itself.
            (ReportKind::Stall, _) => f.write_str(&self.message),
            (ReportKind::DestructorPanic, _) => write!(
                f,
                "a destructor panicked while corio dropped it: {}",
                self.message
            ),
            (_, _) => write!(f, "{:?}: {}", self.kind, self.message),
        }
    }
}

/// The default exception handler: one line on stderr (or, with the `log`
/// feature, one `log` record).
pub(crate) fn print_report(report: &Report) {
    let severity = match report.kind() {
        ReportKind::UnretrievedPanic | ReportKind::CallbackPanic | ReportKind::DestructorPanic => {
            Severity::Error
        }
        _ => Severity::Warn,
    };
    emit(severity, format_args!("{report}"));
}

/// How bad a line of corio's own output is: the `log` level it gets with
/// the `log` feature.
#[derive(Clone, Copy)]
pub(crate) enum Severity {
    Error,
    Warn,
}

/// Writes one line of corio's own diagnostics: to stderr, prefixed
/// `corio: ` — or, with the `log` feature, to the `log` facade (target
/// `corio`, level by `severity`). Every line corio writes goes through
/// here.
///
/// It never panics itself: it runs where a panic would do harm (a pool
/// worker between jobs, the loop's own bookkeeping). A line that cannot be
/// written — stderr closed or on a full disk — is dropped, and so is the
/// panic of a `log` backend (the panic hook sees that one: a hook that
/// panics in turn aborts, as it would for any panic).
pub(crate) fn emit(severity: Severity, message: fmt::Arguments<'_>) {
    #[cfg(feature = "log")]
    {
        let level = match severity {
            Severity::Error => log::Level::Error,
            Severity::Warn => log::Level::Warn,
        };
        let logged = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            log::log!(target: "corio", level, "{message}");
        }));
        if let Err(payload) = logged {
            drop_quietly(payload);
        }
    }
    #[cfg(not(feature = "log"))]
    {
        use std::io::Write;
        let _ = severity;
        // Not `eprintln!`: it panics when the write fails, and that panic
        // would run the panic hook (one that prints panics too would then
        // abort) or, with `panic = "abort"`, end the program. So the line
        // goes straight to stderr — past a test harness's capture (tests
        // that want corio's reports take them with
        // `set_exception_handler`).
        let _ = writeln!(std::io::stderr().lock(), "corio: {message}");
    }
}

#[cfg(feature = "log")]
/// Drops the payload of a panic `emit` caught. Not through
/// `drop_contained`, which reports through `emit` again: a payload whose
/// destructor panics too is leaked, unreported.
fn drop_quietly(payload: Box<dyn std::any::Any + Send>) {
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(payload)));
    if let Err(again) = dropped {
        std::mem::forget(again);
    }
}

/// Turns a panic payload into its message.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_string()
    }
}
