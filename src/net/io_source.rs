//! [`IoSource`]: a mio socket registered with the loop's reactor — the bridge
//! between nonblocking system calls and tasks.
//!
//! Every operation follows mio's rule for edge-triggered readiness: *try
//! first*. If the source may be ready, do the system call; if it fails with
//! `WouldBlock`, clear the readiness and park the task's waker in the source
//! (the next event wakes it); `Interrupted` is simply retried. A spurious
//! event costs one failed try. (smol's `Async::read_with` has the same
//! shape.) Each poll of a task may complete a bounded number of operations
//! ([`Core::take_io_budget`]); then the task yields, so a socket that never
//! runs dry cannot hold the loop.

use std::io;
use std::rc::Rc;
use std::task::{Context, Poll};

use mio::Interest;

use crate::context;
use crate::core::Core;
use crate::reactor::{Direction, Registration, Source};

pub(crate) struct IoSource<T: mio::event::Source> {
    /// `None` only once `into_inner` has taken it.
    io: Option<T>,
    source: Rc<Source>,
    core: Rc<Core>,
    /// What the user holds, for messages: "socket", or "signal listener".
    what: &'static str,
}

impl<T: mio::event::Source> IoSource<T> {
    /// Registers `io` with the running loop's reactor.
    ///
    /// Panics outside a running loop (asyncio's "no running event loop").
    #[track_caller]
    pub(crate) fn new(io: T, interest: Interest) -> io::Result<IoSource<T>> {
        IoSource::new_as(io, interest, "corio::net", "socket")
    }

    /// [`new`](Self::new) for another API than sockets: `api` names it in
    /// the panic outside a loop, `what` in the panics of a wrong loop.
    #[track_caller]
    pub(crate) fn new_as(
        mut io: T,
        interest: Interest,
        api: &'static str,
        what: &'static str,
    ) -> io::Result<IoSource<T>> {
        let core = context::current(api);
        let source = core.reactor.borrow_mut().register(&mut io, interest)?;
        Ok(IoSource {
            io: Some(io),
            source,
            core,
            what,
        })
    }

    /// Was this source registered with the loop running on this thread?
    pub(crate) fn on_current_loop(&self) -> bool {
        context::with_current(|core| Rc::ptr_eq(core, &self.core)) == Some(true)
    }

    /// Was this source registered with `core`'s loop?
    pub(crate) fn of_loop(&self, core: &std::rc::Weak<Core>) -> bool {
        std::ptr::eq(Rc::as_ptr(&self.core), core.as_ptr())
    }

    /// Has the loop this source was registered with closed?
    pub(crate) fn loop_closed(&self) -> bool {
        self.core.shared().is_closed()
    }

    /// The clock of the loop this source belongs to (`Core::loop_time`).
    pub(crate) fn loop_time(&self) -> std::time::Instant {
        self.core.loop_time()
    }

    pub(crate) fn get_ref(&self) -> &T {
        match &self.io {
            Some(io) => io,
            None => unreachable!("corio: an IoSource is used after into_inner"),
        }
    }

    /// Runs `op` when the source may be ready in `dir`, parking the task
    /// until it is; see the module docs.
    pub(crate) fn poll_io<R>(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io_as(dir, cx, None, op)
    }

    /// [`poll_io`](Self::poll_io) for a future that keeps `reg` (and gives
    /// it back with [`unregister`](Self::unregister) when it goes): its
    /// waker is registered rather than parked, so it leaves the source
    /// with the future — however many futures wait there, and however many
    /// give up.
    pub(crate) fn poll_io_registered<R>(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
        reg: &mut Registration,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.poll_io_as(dir, cx, Some(reg), op)
    }

    /// A future that called [`poll_io_registered`](Self::poll_io_registered)
    /// no longer waits.
    pub(crate) fn unregister(&self, dir: Direction, reg: &mut Registration) {
        self.source.unregister(dir, reg);
    }

    /// A wait in `dir` for one future: registered, and unregistered when
    /// the `Waiting` is dropped (keep it in the future's state).
    pub(crate) fn waiting(&self, dir: Direction) -> Waiting<'_, T> {
        Waiting {
            io: self,
            dir,
            reg: Registration::default(),
        }
    }

    fn poll_io_as<R>(
        &self,
        dir: Direction,
        cx: &mut Context<'_>,
        mut reg: Option<&mut Registration>,
        mut op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        loop {
            if !self.source.is_ready(dir) {
                match reg.as_deref_mut() {
                    Some(reg) => self.register(dir, cx, reg),
                    None => self.park(dir, cx),
                }
                return Poll::Pending;
            }
            if !self.core.take_io_budget(cx.waker()) {
                // This poll did its share of I/O: let the others run (the
                // task comes back at once; see `Core::take_io_budget`).
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            match op(self.get_ref()) {
                Ok(done) => return Poll::Ready(Ok(done)),
                // One look at the error's kind (decoding an OS error is a
                // table lookup, and `WouldBlock` comes on most waits).
                Err(e) => match e.kind() {
                    io::ErrorKind::WouldBlock => self.source.clear_ready(dir),
                    io::ErrorKind::Interrupted => {}
                    _ => return Poll::Ready(Err(e)),
                },
            }
        }
    }

    /// Waits until the source may be ready in `dir` (without an operation).
    pub(crate) fn poll_ready(&self, dir: Direction, cx: &mut Context<'_>) -> Poll<()> {
        if self.source.is_ready(dir) {
            Poll::Ready(())
        } else {
            self.park(dir, cx);
            Poll::Pending
        }
    }

    /// Parks the task — on this socket's own loop: a socket used on another
    /// loop would wait on a reactor nobody polls, so that is refused.
    fn park(&self, dir: Direction, cx: &mut Context<'_>) {
        self.refuse_other_loops();
        self.source
            .park(dir, cx.waker(), self.core.counters.turns());
    }

    /// [`park`](Self::park) for a future that keeps `reg`.
    fn register(&self, dir: Direction, cx: &mut Context<'_>, reg: &mut Registration) {
        self.refuse_other_loops();
        self.source.register(dir, cx.waker(), reg);
    }

    fn refuse_other_loops(&self) {
        let here = context::with_current(|core| Rc::ptr_eq(core, &self.core));
        let what = self.what;
        match here {
            Some(false) => panic!(
                "corio: this {what} belongs to another event loop ({what}s are registered \
                 with the loop that created them; create it on this loop instead)"
            ),
            // Polled with no loop running (by another executor, say) after
            // its own loop was closed: nothing will poll that reactor again.
            None if self.core.shared().is_closed() => panic!(
                "corio: this {what}'s event loop has been closed, so nothing would ever \
                 wake a wait on it ({what}s are registered with the loop that created them; \
                 create it on a running loop instead)"
            ),
            _ => {}
        }
    }

    /// Was `dir` closed (hang-up or error seen)? Then waiting for another
    /// event there would wait forever.
    pub(crate) fn is_closed(&self, dir: Direction) -> bool {
        self.source.is_closed(dir)
    }

    /// When the loop's reactor last looked at I/O (`Core::looked_at`).
    pub(crate) fn looked_at(&self) -> std::time::Instant {
        self.core.looked_at()
    }

    /// Might an operation in `dir` succeed now (an event came since the
    /// readiness was last cleared)?
    pub(crate) fn is_ready(&self, dir: Direction) -> bool {
        self.source.is_ready(dir)
    }

    /// The readiness in `dir` was used up (an operation would block).
    pub(crate) fn clear_ready(&self, dir: Direction) {
        self.source.clear_ready(dir);
    }

    /// A short read drained the socket (see `Source::drained`).
    pub(crate) fn drained(&self, dir: Direction) {
        self.source.drained(dir);
    }

    /// Deregisters and gives the socket back.
    pub(crate) fn into_inner(mut self) -> T {
        let mut io = self.io.take().expect("corio: IoSource::into_inner twice");
        self.deregister(&mut io);
        io
    }

    /// Takes the socket out of the reactor and wakes whoever was parked on
    /// it: a task polling it through `AsyncRead` or `poll_accept` may share
    /// it with the task that drops it (an `Rc<RefCell<Option<_>>>`), and
    /// must get a poll to find it gone — or it would wait for ever, on
    /// events that can no longer come. (A waker of a task that gave up
    /// waiting gets a spurious wake: harmless.)
    fn deregister(&self, io: &mut T) {
        let mut wakers = match self.core.reactor.try_borrow_mut() {
            Ok(mut reactor) => reactor.deregister(io, &self.source),
            // The reactor is busy only inside its own poll, which runs no
            // user code; closing the descriptor removes it from epoll anyway.
            Err(_) => Vec::new(),
        };
        crate::contain::wake_all_contained(&mut wakers);
    }
}

impl<T: mio::event::Source> Drop for IoSource<T> {
    fn drop(&mut self) {
        if let Some(mut io) = self.io.take() {
            // Deregister first, then close: a later socket that gets the
            // same descriptor number has a new token anyway.
            self.deregister(&mut io);
            drop(io);
        }
    }
}

/// One future's wait on one direction of an [`IoSource`]: its waker is
/// registered for as long as the future waits, and leaves with it (see
/// [`IoSource::poll_io_registered`]).
pub(crate) struct Waiting<'a, T: mio::event::Source> {
    io: &'a IoSource<T>,
    dir: Direction,
    reg: Registration,
}

impl<T: mio::event::Source> Waiting<'_, T> {
    /// [`IoSource::poll_io`], registered.
    pub(crate) fn poll_io<R>(
        &mut self,
        cx: &mut Context<'_>,
        op: impl FnMut(&T) -> io::Result<R>,
    ) -> Poll<io::Result<R>> {
        self.io.poll_io_registered(self.dir, cx, &mut self.reg, op)
    }
}

impl<T: mio::event::Source> Drop for Waiting<'_, T> {
    fn drop(&mut self) {
        self.io.unregister(self.dir, &mut self.reg);
    }
}
