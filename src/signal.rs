//! Unix signals as things a task awaits: Ctrl-C and friends.
//!
//! asyncio has `loop.add_signal_handler(signal.SIGINT, cb)`, gevent
//! `gevent.signal_handler`, tokio `signal::ctrl_c()`. Here:
//!
//! * [`ctrl_c`] — wait for the next Ctrl-C (`SIGINT`);
//! * [`Signals`] — wait for any of several signals (`SIGTERM` from a
//!   service manager, `SIGHUP` to reload …), again and again.
//!
//! **How a signal reaches a task.** A signal handler may do almost nothing
//! (it interrupts the program anywhere, a lock may be held), so corio's
//! handler — installed through the `signal-hook` crate — only writes a
//! byte into a socket pair, one per signal of each [`Signals`]. The other
//! end is registered with the loop like any socket: the byte makes it
//! readable, the waiting task wakes, and the signal is handled as ordinary
//! code in the loop's turn (the self-pipe trick, which is also how asyncio
//! does it).
//!
//! **While nobody listens, a signal does what it always did.** As long as
//! a `Signals` exists for a signal, that signal is delivered to it instead
//! of its default action — Ctrl-C no longer ends the program. When the
//! last one is dropped, the default action is back (asyncio's
//! `remove_signal_handler`; tokio instead keeps the default off for the
//! rest of the process). [`ctrl_c`] listens for as long as its loop lives,
//! from the loop's first call on (so that one made anew for each step of a
//! loop of work leaves no gap between two). Several listeners — on different
//! loops or threads too — each get every signal. Signals that arrive
//! before `recv` is called again are merged into one (as they are by the
//! operating system while one is pending).
//!
//! The caveat: corio's handler stays installed once a signal was
//! listened to, and, with no listener left, performs the signal's
//! *default* action itself — whatever the signal did before. A signal the
//! process ignored when the first listener came (`nohup` ignores
//! `SIGHUP`) is not ignored after the last one went; an action of your own
//! registered with `signal-hook` for that signal runs, and then the
//! default action too; and another library that installs a handler of its
//! own for it (`ctrlc`, say) conflicts with corio's. For a signal your
//! program handles in some other way, do not listen to it here.
//!
//! ```no_run
//! use std::time::Duration;
//! use corio::{Either, select};
//!
//! corio::run(async {
//!     let work = corio::time::sleep(Duration::from_secs(3600)); // a server, say
//!     match select(work, corio::signal::ctrl_c()).await {
//!         Either::Left(()) => println!("done"),
//!         Either::Right(Ok(())) => println!("Ctrl-C: cleaning up"),
//!         Either::Right(Err(err)) => eprintln!("cannot listen for Ctrl-C: {err}"),
//!     }
//! });
//! ```

use std::cell::Cell;
use std::future::{Future, poll_fn};
use std::io::{self, Read};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::Poll;

use mio::Interest;
use mio::net::UnixStream;

use crate::net::io_source::IoSource;
use crate::reactor::Direction;

pub use signal_hook::consts::signal::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2};

/// Waits for the next Ctrl-C (`SIGINT`), tokio's `signal::ctrl_c`.
///
/// The first `ctrl_c()` on a loop takes Ctrl-C from its default action
/// (ending the program) for as long as that loop lives (or a `ctrl_c()`
/// future made on it, kept beyond its close) — asyncio's
/// `add_signal_handler`, which lasts until the loop closes; tokio keeps it
/// for the rest of the process. So `ctrl_c()` made anew in a loop (in a
/// `select` beside each piece of work) never lets a Ctrl-C between two of
/// them end the program: a Ctrl-C that comes while no `ctrl_c()` future
/// waits is kept, and the next one made completes at once. Every
/// `ctrl_c()` future that exists when Ctrl-C comes completes. For a
/// listener that gives the default action back when it goes, use
/// [`Signals`]. An error means the signal could not be listened to.
///
/// # Panics
///
/// Outside a running loop (as sockets do).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// corio::run(async {
///     // Nobody presses Ctrl-C here: the timeout ends the wait.
///     let pressed = corio::time::timeout(Duration::from_millis(10), corio::signal::ctrl_c()).await;
///     assert!(pressed.is_err());
/// });
/// ```
#[track_caller]
pub fn ctrl_c() -> impl Future<Output = io::Result<()>> {
    let core = crate::context::current("corio::signal::ctrl_c");
    // Listening starts now (at the loop's first `ctrl_c`), not at the
    // first poll: a Ctrl-C in between is not lost, nor does it end the
    // program.
    let listener = core.loop_local(|| {
        Pipe::new(SIGINT).map(|pipe| CtrlC {
            pipe,
            heard: Cell::new(0),
        })
    });
    // Ctrl-Cs read before this call are not this future's; one still in
    // the pipe is.
    let seen = listener.as_ref().map_or(0, |listener| listener.heard.get());
    async move {
        let listener = listener?;
        let mut wait = listener.pipe.read.waiting(Direction::Read);
        poll_fn(|cx| {
            // Another `ctrl_c()` future read it first.
            if listener.heard.get() > seen {
                return Poll::Ready(Ok(()));
            }
            match wait.poll_io(cx, drain) {
                Poll::Ready(Ok(0)) => Poll::Ready(Err(pipe_closed())),
                Poll::Ready(Ok(_)) => {
                    listener.heard.set(listener.heard.get() + 1);
                    Poll::Ready(Ok(()))
                }
                Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }
}

/// A loop's Ctrl-C listener: made by its first [`ctrl_c`], kept until the
/// loop closes (`Core::loop_local`).
struct CtrlC {
    pipe: Pipe,
    /// How many times the pipe was read (each read takes every Ctrl-C
    /// that had come: they merge).
    heard: Cell<u64>,
}

fn pipe_closed() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "corio::signal: the signal's socket pair closed",
    )
}

/// A set of signals a task can await, again and again (asyncio's
/// `add_signal_handler`, tokio's `signal::unix::signal`). See the [module
/// docs](self) for how they arrive and what happens while nobody listens.
///
/// # Examples
///
/// ```
/// use corio::signal::{SIGUSR1, SIGUSR2, Signals};
///
/// corio::run(async {
///     let mut signals = Signals::new([SIGUSR1, SIGUSR2])?;
///     // Another process would send it (`kill -USR2 PID`); here, we do.
///     signal_hook::low_level::raise(SIGUSR2)?;
///     assert_eq!(signals.recv().await?, SIGUSR2);
///     Ok::<(), std::io::Error>(())
/// })?;
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Signals {
    pipes: Vec<Pipe>,
}

/// One signal of a [`Signals`]: the read end of the socket pair its
/// handler writes to.
struct Pipe {
    signal: i32,
    read: IoSource<UnixStream>,
    /// The handler's registration (it owns the write end, closed when it
    /// is unregistered).
    id: signal_hook::SigId,
}

impl Signals {
    /// Starts listening for `signals` (for example [`SIGINT`], [`SIGTERM`],
    /// [`SIGHUP`]): from now on each of them is delivered here, not to its
    /// default action, until this is dropped.
    ///
    /// # Errors
    ///
    /// `InvalidInput` for a signal that cannot be handled (`SIGKILL`,
    /// `SIGSTOP`, and those that mean the program is broken: `SIGSEGV`,
    /// `SIGILL`, `SIGFPE`), for one the system does not know, or for an
    /// empty list; the operating system's error if a socket pair cannot be
    /// made (out of file descriptors, say).
    ///
    /// # Panics
    ///
    /// Outside a running loop (as sockets do).
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::signal::{SIGTERM, Signals};
    ///
    /// corio::run(async {
    ///     assert!(Signals::new([SIGTERM]).is_ok());
    ///     let err = Signals::new([9]).err().unwrap(); // SIGKILL cannot be caught
    ///     assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    /// });
    /// ```
    #[track_caller]
    pub fn new(signals: impl IntoIterator<Item = i32>) -> io::Result<Signals> {
        let mut wanted: Vec<i32> = Vec::new();
        for signal in signals {
            check(signal)?;
            if !wanted.contains(&signal) {
                wanted.push(signal);
            }
        }
        if wanted.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "Signals::new: no signal to listen for",
            ));
        }
        let mut made = Signals { pipes: Vec::new() };
        for signal in wanted {
            made.pipes.push(Pipe::new(signal)?); // a failure drops the ones made
        }
        Ok(made)
    }

    /// Waits for the next of the signals and says which one came.
    ///
    /// Cancel safe: a signal that arrives while nobody awaits `recv` waits
    /// for the next call.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::signal::{SIGUSR1, Signals};
    ///
    /// corio::run(async {
    ///     let mut signals = Signals::new([SIGUSR1]).unwrap();
    ///     std::thread::spawn(|| signal_hook::low_level::raise(SIGUSR1));
    ///     assert_eq!(signals.recv().await.unwrap(), SIGUSR1);
    /// });
    /// ```
    pub async fn recv(&mut self) -> io::Result<i32> {
        let mut waits: Vec<_> = self
            .pipes
            .iter()
            .map(|pipe| (pipe.signal, pipe.read.waiting(Direction::Read)))
            .collect();
        poll_fn(|cx| {
            for (signal, wait) in &mut waits {
                // Every byte waiting in the pipe is one signal: take them
                // all, and report them as one.
                let read = wait.poll_io(cx, drain);
                match read {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(pipe_closed())),
                    Poll::Ready(Ok(_)) => return Poll::Ready(Ok(*signal)),
                    Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                    Poll::Pending => {}
                }
            }
            Poll::Pending
        })
        .await
    }
}

/// Reads every byte waiting in a signal's pipe: how many there were (0:
/// the pipe closed; `WouldBlock`: none yet).
fn drain(mut stream: &UnixStream) -> io::Result<usize> {
    let mut bytes = [0u8; 64];
    let mut total = 0;
    loop {
        match stream.read(&mut bytes) {
            Ok(n) => {
                total += n;
                if n < bytes.len() {
                    return Ok(total); // short: nothing more (or closed)
                }
            }
            Err(err) if total > 0 && err.kind() == io::ErrorKind::WouldBlock => return Ok(total),
            Err(err) => return Err(err),
        }
    }
}

impl std::fmt::Debug for Signals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let signals: Vec<i32> = self.pipes.iter().map(|pipe| pipe.signal).collect();
        f.debug_struct("Signals")
            .field("signals", &signals)
            .finish()
    }
}

impl Pipe {
    #[track_caller]
    fn new(signal: i32) -> io::Result<Pipe> {
        let (read, write) = StdUnixStream::pair()?;
        read.set_nonblocking(true)?;
        let read = IoSource::new_as(
            UnixStream::from_std(read),
            Interest::READABLE,
            "corio::signal",
            "signal listener",
        )?;
        // The default-action handler first: handlers run in the order they
        // were registered, so it has looked at its flag before the byte
        // wakes anybody (who might drop the last listener, and raise the
        // flag, while this same signal's handlers still run).
        install_default(signal)?;
        // (The handler writes with `MSG_DONTWAIT`: a full pipe drops the
        // byte, never blocks the handler.)
        let id = signal_hook::low_level::pipe::register(signal, write)?;
        count(signal, true);
        Ok(Pipe { signal, read, id })
    }
}

impl Drop for Pipe {
    fn drop(&mut self) {
        // Default action first, then the byte's handler goes: a signal in
        // between finds one of the two, never neither.
        count(self.signal, false);
        signal_hook::low_level::unregister(self.id);
    }
}

/// Refuses what `signal-hook` would panic on or fail with, with a clear
/// error.
fn check(signal: i32) -> io::Result<()> {
    if signal_hook::consts::FORBIDDEN.contains(&signal) {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "signal {signal} cannot be handled (SIGKILL, SIGSTOP, SIGSEGV, SIGILL and SIGFPE cannot)"
            ),
        ));
    }
    if signal_hook::low_level::signal_name(signal).is_none() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{signal} is not a signal this system knows"),
        ));
    }
    Ok(())
}

/// Per signal, for the whole process: how many pipes listen, and the flag
/// that tells corio's handler to perform the default action (nobody does).
static LISTENERS: Mutex<Vec<(i32, usize, Arc<AtomicBool>)>> = Mutex::new(Vec::new());

/// Installs, once per process and signal, the handler that performs the
/// signal's default action while nobody listens.
fn install_default(signal: i32) -> io::Result<()> {
    let mut all = LISTENERS.lock().unwrap_or_else(PoisonError::into_inner);
    if !all.iter().any(|(s, ..)| *s == signal) {
        let nobody = Arc::new(AtomicBool::new(true));
        signal_hook::flag::register_conditional_default(signal, Arc::clone(&nobody))?;
        all.push((signal, 0, nobody));
    }
    Ok(())
}

/// One more (`start`) or one fewer listener for `signal` (whose default
/// handler is installed).
fn count(signal: i32, start: bool) {
    let mut all = LISTENERS.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some((_, count, nobody)) = all.iter_mut().find(|(s, ..)| *s == signal) {
        *count = if start {
            *count + 1
        } else {
            count.saturating_sub(1)
        };
        nobody.store(*count == 0, Ordering::SeqCst);
    }
}
