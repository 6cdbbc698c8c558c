//! The reactor: where the loop waits for the outside world.
//!
//! It owns the loop's `mio::Poll`. The turn calls [`Reactor::poll`] with the
//! time until the next timer as its timeout; `poll` returns when that time
//! is up, when an I/O source becomes ready, or when another thread pokes the
//! loop's `mio::Waker` (registered under [`Reactor::WAKER`]).
//!
//! The reactor knows sources and wakers, nothing of tasks (see the layers in
//! `ARCHITECTURE.md`). Sockets register here in `corio::net`.

use std::io;
use std::time::Duration;

use mio::{Events, Poll, Token};

/// What one call to [`Reactor::poll`] saw.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Polled {
    /// Readiness events of I/O sources.
    pub(crate) io_events: usize,
    /// The `mio::Waker` was poked: other threads queued work.
    pub(crate) woken: bool,
}

pub(crate) struct Reactor {
    poll: Poll,
    events: Events,
}

impl Reactor {
    /// The token of the loop's cross-thread `mio::Waker`.
    pub(crate) const WAKER: Token = Token(usize::MAX);

    /// A new reactor and the waker other threads use to interrupt it.
    pub(crate) fn new() -> io::Result<(Reactor, mio::Waker)> {
        let poll = Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), Reactor::WAKER)?;
        let reactor = Reactor {
            poll,
            events: Events::with_capacity(1024),
        };
        Ok((reactor, waker))
    }

    /// Does any I/O source wait for readiness? (None can yet: sockets come
    /// with `corio::net`.)
    pub(crate) fn has_sources(&self) -> bool {
        false
    }

    /// Waits for readiness, at most `timeout` (`None`: until something
    /// happens). A signal interrupting the wait counts as a spurious wake-up:
    /// the loop simply goes round again.
    pub(crate) fn poll(&mut self, timeout: Option<Duration>) -> Polled {
        let mut polled = Polled::default();
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return polled,
            // epoll_wait fails otherwise only on a bad descriptor or a bad
            // argument: a bug in corio, not something a caller can cause.
            Err(e) => panic!("corio: mio::Poll::poll failed: {e}"),
        }
        for event in &self.events {
            if event.token() == Reactor::WAKER {
                polled.woken = true;
            } else {
                polled.io_events += 1;
            }
        }
        polled
    }
}
