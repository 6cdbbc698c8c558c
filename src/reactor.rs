//! The reactor: where the loop waits for the outside world.
//!
//! It owns the loop's `mio::Poll` and a slab of I/O [`Source`]s. The turn
//! calls [`Reactor::poll`] with the time until the next timer as its
//! timeout; `poll` returns when that time is up, when an I/O source becomes
//! ready, or when another thread pokes the loop's `mio::Waker` (registered
//! under [`Reactor::WAKER`]).
//!
//! mio is edge-triggered: an event says "this socket *became* readable",
//! once. So each source remembers its readiness between events: an event
//! sets the bit, and only an operation that fails with `WouldBlock` clears
//! it — or, for `READABLE` alone, a read that came back short and so
//! drained the socket ([`Source::drained`]; see `net::io_source`). A task
//! that finds its source not ready parks
//! its waker in the source; the event wakes it. Spurious events are
//! harmless — the woken task tries, gets `WouldBlock`, parks again.
//!
//! Tokens carry a generation: a socket's slab index plus a registration
//! count. A file descriptor closed and reused by a new socket (or an event
//! still queued for a source that was just dropped) never reaches the new
//! source, because its token no longer matches.
//!
//! The reactor knows sources and wakers, nothing of tasks (see the layers in
//! `ARCHITECTURE.md`).

use std::cell::Cell;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::io;
use std::rc::Rc;
use std::task::Waker;
use std::time::Duration;

use mio::{Events, Interest, Poll, Token};
use slab::Slab;

/// A direction of readiness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Direction {
    Read,
    Write,
}

impl Direction {
    /// The bit an operation in this direction consumes.
    fn bit(self) -> u8 {
        match self {
            Direction::Read => READABLE,
            Direction::Write => WRITABLE,
        }
    }

    /// The bits that let an operation in this direction be tried.
    fn mask(self) -> u8 {
        match self {
            Direction::Read => READABLE | READ_CLOSED,
            Direction::Write => WRITABLE | WRITE_CLOSED,
        }
    }
}

/// A token is (generation << INDEX_BITS) | slab index: half the bits each.
/// The index never reaches `INDEX_MASK`, so no token equals `WAKER`.
const INDEX_BITS: u32 = usize::BITS / 2;
const INDEX_MASK: usize = (1 << INDEX_BITS) - 1;

const READABLE: u8 = 1;
const WRITABLE: u8 = 2;
/// The peer closed its side, or the socket failed: kept through a short
/// read ([`Source::drained`]) — every later operation returns at once (EOF
/// or the error), since a read that drained the last data before a FIN
/// must not park forever waiting for an edge that already came — and
/// cleared only by a `WouldBlock` ([`Source::clear_ready`]: a socket that
/// says "would block" is not closed).
const READ_CLOSED: u8 = 4;
const WRITE_CLOSED: u8 = 8;
/// Urgent (out-of-band) TCP data was announced (`EPOLLPRI`). A read stops
/// short at the urgent mark with more data queued behind it, so from then
/// on a short read proves nothing: [`Source::drained`] keeps the
/// readiness. Never cleared (urgent data is rare; the cost is one `EAGAIN`
/// read per wait on that socket).
const URGENT: u8 = 16;

/// One registered I/O object: its readiness and the wakers of the tasks
/// waiting to read and to write.
pub(crate) struct Source {
    token: Token,
    ready: Cell<u8>,
    reader: Waiters,
    writer: Waiters,
}

/// The tasks waiting on one direction of a source: usually one (kept
/// inline), sometimes several (tasks accepting on one listener, receiving
/// on one UDP socket).
#[derive(Default)]
struct Waiters {
    first: Cell<Option<Waker>>,
    /// Usually `None`: an event takes the waiters of every direction it
    /// reports — on epoll usually both, since it reports all of a socket's
    /// current readiness — and `None` is cheaper to take and test than an
    /// empty list is to move out and back.
    others: Cell<Option<Box<Others>>>,
    /// The list's limit (0 means [`Waiters::MIN_CAP`]) and the turn of its
    /// last flush; see [`Waiters::park`].
    cap: Cell<u32>,
    flushed_in_turn: Cell<u64>,
    /// Wakers of futures that hold a [`Registration`]: each stays exactly
    /// as long as a future registered it, so no limit is needed.
    registered: Cell<Option<Box<Registered>>>,
    /// Bumped whenever an event takes the registered wakers: a
    /// registration from before it is void.
    epoch: Cell<u64>,
}

/// The registered wakers: each with how many futures registered it (two
/// futures of one task share its waker) and its place in parking order.
#[derive(Default)]
struct Registered {
    wakers: HashMap<WakerId, (Waker, u32, u64)>,
    next_place: u64,
}

/// A waiting future's place among a direction's waiters (see
/// [`Source::register`]). Its owner must give it back with
/// [`Source::unregister`] when the future goes.
#[derive(Debug, Default)]
pub(crate) struct Registration {
    /// The waker registered and the epoch it was registered in.
    at: Option<(WakerId, u64)>,
}

/// The wakers after the first, in the order they parked (so tasks woken
/// together run in that order), with their identities for an O(1) check.
#[derive(Default)]
struct Others {
    wakers: Vec<Waker>,
    ids: HashSet<WakerId>,
}

/// A waker's identity: its data and vtable pointers, as `Waker::will_wake`
/// compares them. (Only compared, never followed; a parked waker keeps its
/// data alive, so no two parked wakers share one.)
type WakerId = (usize, usize);

fn waker_id(waker: &Waker) -> WakerId {
    (
        waker.data() as usize,
        std::ptr::from_ref(waker.vtable()) as usize,
    )
}

impl Waiters {
    /// Is any waker parked or registered here?
    fn any(&self) -> bool {
        let first = self.first.take();
        let others = self.others.take();
        let registered = self.registered.take();
        let any = first.is_some()
            || others.as_ref().is_some_and(|o| !o.wakers.is_empty())
            || registered.as_ref().is_some_and(|r| !r.wakers.is_empty());
        self.first.set(first);
        self.others.set(others);
        self.registered.set(registered);
        any
    }

    /// A waker stays parked until an event takes it, even if its future was
    /// dropped meanwhile (cancelled, or it lost a `select`): a socket that
    /// stays quiet while task after task parks on it and gives up would
    /// collect their wakers for ever. So when the list reaches its limit it
    /// is *flushed*: every waker in it is woken and dropped, and the tasks
    /// still waiting park again when polled.
    ///
    /// A flush that comes less than two turns after the previous one may
    /// have been refilled by the tasks it woke — the limit is too small for
    /// the tasks that really wait (40 tasks polling one socket's reads
    /// against a limit of 32 would flush and refill for ever, a busy loop;
    /// UDP receives and `accept` register instead, see [`Source::register`])
    /// — so the limit doubles; 16,000 tasks parking at once then cost two
    /// polls each. A flush that comes later halves it (not below this). So
    /// the limit follows about twice the wakers parked within two turns,
    /// live or abandoned, and shrinks again when they stop coming.
    const MIN_CAP: u32 = 32;

    #[inline]
    fn park(&self, waker: &Waker, turn: u64) {
        let first = self.first.take();
        match first {
            None => self.first.set(Some(waker.clone())),
            Some(first) if first.will_wake(waker) => self.first.set(Some(first)),
            Some(first) => {
                self.first.set(Some(first));
                self.park_another(waker, turn);
            }
        }
    }

    /// [`park`](Self::park) of a waker that is not the first: out of line,
    /// so that the usual case (one waiter) stays small.
    #[cold]
    #[inline(never)]
    fn park_another(&self, waker: &Waker, turn: u64) {
        let mut others = self.others.take().unwrap_or_default();
        // (Checked by the caller's identity, stored by the clone's,
        // which the stored clone keeps alive; for the usual wakers
        // the two are the same.)
        if !others.ids.contains(&waker_id(waker)) {
            let clone = waker.clone();
            let id = waker_id(&clone);
            let cap = self.cap.get().max(Self::MIN_CAP);
            if others.wakers.len() >= cap as usize {
                let cap = if turn <= self.flushed_in_turn.get() + 1 {
                    cap.saturating_mul(2)
                } else {
                    (cap / 2).max(Self::MIN_CAP)
                };
                self.cap.set(cap);
                self.flushed_in_turn.set(turn);
                others.ids.clear();
                let flushed = std::mem::take(&mut others.wakers);
                others.ids.insert(id);
                others.wakers.push(clone);
                // Woken with the list back in place: a wake that
                // runs code which parks here again finds it.
                self.others.set(Some(others));
                for waker in flushed {
                    // Perhaps another executor's: its panic stays
                    // here, and the wakes after it happen.
                    crate::contain::wake_contained(waker);
                }
                return;
            }
            others.ids.insert(id);
            others.wakers.push(clone);
        }
        self.others.set(Some(others));
    }

    /// Registers `waker` for the future that holds `reg`: kept until an
    /// event takes it or the future unregisters.
    fn register(&self, waker: &Waker, reg: &mut Registration) {
        let epoch = self.epoch.get();
        let mut registered = self.registered.take().unwrap_or_default();
        // Registered already, since the last event? (The key is the stored
        // clone's identity, which the stored clone keeps alive — a waker's
        // clone need not share its data.)
        if let Some((id, at)) = reg.at {
            if at == epoch
                && registered
                    .wakers
                    .get(&id)
                    .is_some_and(|e| e.0.will_wake(waker))
            {
                self.registered.set(Some(registered));
                return;
            }
        }
        let gone = match reg.at.take() {
            Some((old, at)) if at == epoch => Self::release(&mut registered, old),
            _ => None,
        };
        let clone = waker.clone();
        let id = waker_id(&clone);
        let place = registered.next_place;
        registered.next_place += 1;
        let spare = match registered.wakers.entry(id) {
            // Another future of the same task registered the same waker.
            Entry::Occupied(mut entry) => {
                entry.get_mut().1 += 1;
                Some(clone)
            }
            Entry::Vacant(entry) => {
                entry.insert((clone, 1, place));
                None
            }
        };
        reg.at = Some((id, epoch));
        self.registered.set(Some(registered));
        drop(gone); // wakers: dropped with the list back in place
        drop(spare);
    }

    /// The future that holds `reg` no longer waits.
    fn unregister(&self, reg: &mut Registration) {
        let Some((id, at)) = reg.at.take() else {
            return;
        };
        if at != self.epoch.get() {
            return; // an event took it already
        }
        let Some(mut registered) = self.registered.take() else {
            return;
        };
        let gone = Self::release(&mut registered, id);
        self.registered.set(Some(registered));
        drop(gone);
    }

    /// One registration of `id` less; the waker if that was the last.
    fn release(registered: &mut Registered, id: WakerId) -> Option<Waker> {
        let entry = registered.wakers.get_mut(&id)?;
        entry.1 -= 1;
        if entry.1 > 0 {
            return None;
        }
        registered.wakers.remove(&id).map(|(waker, _, _)| waker)
    }

    /// Moves every parked waker to `wake`.
    #[inline]
    fn take_into(&self, wake: &mut Vec<Waker>) {
        if let Some(first) = self.first.take() {
            wake.push(first);
        }
        // (Both are usually empty: the rest is out of line, so that the
        // usual case costs a few instructions, not a large frame.)
        let others = self.others.take();
        let registered = self.registered.take();
        if others.is_some() || registered.is_some() {
            self.take_others_into(others, registered, wake);
        }
    }

    /// The waiters after the first (see [`take_into`](Self::take_into)).
    #[cold]
    #[inline(never)]
    fn take_others_into(
        &self,
        others: Option<Box<Others>>,
        registered: Option<Box<Registered>>,
        wake: &mut Vec<Waker>,
    ) {
        if let Some(others) = others {
            wake.extend(others.wakers);
        }
        if let Some(registered) = registered {
            self.epoch.set(self.epoch.get() + 1);
            let mut wakers: Vec<_> = registered.wakers.into_values().collect();
            wakers.sort_unstable_by_key(|&(_, _, place)| place);
            wake.extend(wakers.into_iter().map(|(waker, _, _)| waker));
        }
    }
}

impl Source {
    fn waiters(&self, dir: Direction) -> &Waiters {
        match dir {
            Direction::Read => &self.reader,
            Direction::Write => &self.writer,
        }
    }

    /// Has `dir` been closed (hang-up or error) since readiness was last
    /// cleared?
    pub(crate) fn is_closed(&self, dir: Direction) -> bool {
        self.ready.get() & dir.mask() & !dir.bit() != 0
    }

    /// Might an operation in `dir` succeed now (as far as we know)?
    pub(crate) fn is_ready(&self, dir: Direction) -> bool {
        self.ready.get() & dir.mask() != 0
    }

    /// An operation in `dir` would block: forget the readiness until the
    /// next event — the closed state too, since a socket that says "would
    /// block" is not closed (a UDP socket goes on after an ICMP error; a
    /// TCP socket after a FIN or a reset never says it).
    pub(crate) fn clear_ready(&self, dir: Direction) {
        self.ready.set(self.ready.get() & !dir.mask());
    }

    /// A short read drained the socket: forget that it was readable, but
    /// keep a closed state, which no further event would announce again.
    pub(crate) fn drained(&self, dir: Direction) {
        let ready = self.ready.get();
        if ready & URGENT == 0 {
            self.ready.set(ready & !dir.bit());
        }
    }

    /// Parks `waker` to be woken by the next event in `dir` (cloning it only
    /// if it is not parked already).
    pub(crate) fn park(&self, dir: Direction, waker: &Waker, turn: u64) {
        self.waiters(dir).park(waker, turn);
    }

    /// Registers `waker` to be woken by the next event in `dir`, for a
    /// future that keeps `reg` and gives it back with
    /// [`unregister`](Self::unregister) when it goes: unlike a parked
    /// waker, a registered one never outlives its future's wait.
    pub(crate) fn register(&self, dir: Direction, waker: &Waker, reg: &mut Registration) {
        self.waiters(dir).register(waker, reg);
    }

    /// Gives back a future's registration (it finished or was dropped).
    pub(crate) fn unregister(&self, dir: Direction, reg: &mut Registration) {
        self.waiters(dir).unregister(reg);
    }

    /// Calls `f` with each parked waker and its direction (for
    /// `debug::dump`).
    pub(crate) fn for_each_parked(&self, mut f: impl FnMut(Direction, &Waker)) {
        for (dir, waiters) in [
            (Direction::Read, &self.reader),
            (Direction::Write, &self.writer),
        ] {
            let first = waiters.first.take();
            let others = waiters.others.take();
            let registered = waiters.registered.take();
            for waker in first
                .iter()
                .chain(others.iter().flat_map(|o| o.wakers.iter()))
                .chain(
                    registered
                        .iter()
                        .flat_map(|r| r.wakers.values().map(|e| &e.0)),
                )
            {
                f(dir, waker);
            }
            waiters.first.set(first);
            waiters.others.set(others);
            waiters.registered.set(registered);
        }
    }

    /// Takes the parked wakers (for a dropped source).
    fn take_wakers(&self) -> Vec<Waker> {
        let mut wakers = Vec::new();
        self.reader.take_into(&mut wakers);
        self.writer.take_into(&mut wakers);
        wakers
    }
}

/// What one call to [`Reactor::poll`] saw.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Polled {
    /// Readiness events of I/O sources.
    pub(crate) io_events: usize,
    /// The `mio::Waker` was poked: other threads queued work.
    pub(crate) woken: bool,
    /// The operating system was asked (`epoll_wait`); false when a look
    /// that may not wait found no socket registered.
    pub(crate) asked: bool,
}

pub(crate) struct Reactor {
    /// `None` once the loop is closed (`close`): a task handle or socket
    /// that outlives the loop must not keep its epoll fd open.
    poll: Option<Poll>,
    events: Events,
    sources: Slab<Rc<Source>>,
    /// Registrations so far: the generation part of the latest token (the
    /// next one's is this plus one).
    registrations: u32,
}

impl Reactor {
    /// The token of the loop's cross-thread `mio::Waker`.
    pub(crate) const WAKER: Token = Token(usize::MAX);

    /// A new reactor and the waker other threads use to interrupt it.
    pub(crate) fn new() -> io::Result<(Reactor, mio::Waker)> {
        let poll = Poll::new()?;
        let waker = mio::Waker::new(poll.registry(), Reactor::WAKER)?;
        let reactor = Reactor {
            poll: Some(poll),
            events: Events::with_capacity(1024),
            sources: Slab::new(),
            registrations: 0,
        };
        Ok((reactor, waker))
    }

    /// Registers `io` for `interest`, edge-triggered. The new source starts
    /// out ready in both directions, so the first operation is simply
    /// tried (it may well succeed: a connected socket is writable).
    pub(crate) fn register(
        &mut self,
        io: &mut impl mio::event::Source,
        interest: Interest,
    ) -> io::Result<Rc<Source>> {
        let entry = self.sources.vacant_entry();
        let index = entry.key();
        if index >= INDEX_MASK {
            return Err(io::Error::other("corio: too many I/O sources"));
        }
        self.registrations = self.registrations.wrapping_add(1);
        let generation = (self.registrations as usize) & INDEX_MASK;
        let token = Token((generation << INDEX_BITS) | index);
        let Some(poll) = &self.poll else {
            return Err(io::Error::other("corio: the event loop is closed"));
        };
        poll.registry().register(io, token, interest)?;
        let source = Rc::new(Source {
            token,
            ready: Cell::new(READABLE | WRITABLE),
            reader: Waiters::default(),
            writer: Waiters::default(),
        });
        entry.insert(Rc::clone(&source));
        Ok(source)
    }

    /// Deregisters `io` and forgets its source; returns the wakers still
    /// parked there, for the caller to wake outside the reactor's borrow.
    pub(crate) fn deregister(
        &mut self,
        io: &mut impl mio::event::Source,
        source: &Source,
    ) -> Vec<Waker> {
        // Failing only if the fd is already gone from the epoll set, which
        // is what we want anyway.
        // (A closed loop's epoll set is gone with its fd.)
        if let Some(poll) = &self.poll {
            let _ = poll.registry().deregister(io);
        }
        let index = source.token.0 & INDEX_MASK;
        if self
            .sources
            .get(index)
            .is_some_and(|s| s.token == source.token)
        {
            self.sources.remove(index);
        }
        source.take_wakers()
    }

    /// The loop is closing: lets go of the epoll fd (sources dropped later
    /// just close their own fds) and of the event buffer.
    pub(crate) fn close(&mut self) {
        self.poll = None;
        self.events = Events::with_capacity(0);
    }

    /// Does any task wait on I/O?
    pub(crate) fn has_waiters(&self) -> bool {
        // (Stops at the first: a server's listener usually has one. This
        // runs at every quiet look of a plain loop, for the stall hint.)
        self.sources
            .iter()
            .any(|(_, source)| source.reader.any() || source.writer.any())
    }

    /// Calls `f` with each waker parked on a registered source, with the
    /// source's token and the direction (for `debug::dump`).
    pub(crate) fn for_each_parked(&self, mut f: impl FnMut(usize, Direction, &Waker)) {
        for (_, source) in &self.sources {
            source.for_each_parked(|dir, waker| f(source.token.0, dir, waker));
        }
    }

    /// Waits for readiness, at most `timeout` (`None`: until something
    /// happens), records it in the sources and pushes the wakers to wake on
    /// `wake`. A signal interrupting the wait counts as a spurious wake-up:
    /// the loop simply goes round again.
    ///
    /// A look that may not wait (`timeout` zero) while no socket is
    /// registered asks the operating system nothing: there is no readiness
    /// to learn, and the `mio::Waker`'s news — other threads' work — reaches
    /// the loop through `Shared`'s flag, which every turn reads. A busy loop
    /// of tasks alone (no sockets) looks every 61 polls, and the system
    /// call (about 100 ns on our machines) was most of what such a look
    /// cost.
    pub(crate) fn poll(&mut self, timeout: Option<Duration>, wake: &mut Vec<Waker>) -> Polled {
        let mut polled = Polled::default();
        if timeout == Some(Duration::ZERO) && self.sources.is_empty() {
            return polled;
        }
        let Some(poll) = &mut self.poll else {
            unreachable!("corio: a closed loop is never polled");
        };
        polled.asked = true;
        match poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return polled,
            // epoll_wait fails otherwise only on a bad descriptor or a bad
            // argument: a bug in corio, not something a caller can cause.
            Err(e) => panic!("corio: mio::Poll::poll failed: {e}"),
        }
        for event in &self.events {
            let token = event.token();
            if token == Reactor::WAKER {
                polled.woken = true;
                continue;
            }
            polled.io_events += 1;
            let broken = event.is_error();
            let mut bits = 0;
            if event.is_readable() {
                bits |= READABLE;
            }
            if event.is_priority() {
                bits |= READABLE | URGENT;
            }
            if event.is_read_closed() || broken {
                bits |= READ_CLOSED;
            }
            if event.is_writable() {
                bits |= WRITABLE;
            }
            if event.is_write_closed() || broken {
                bits |= WRITE_CLOSED;
            }
            self.dispatch(token, bits, wake);
        }
        polled
    }

    /// Records readiness `bits` for the source `token` names — if it still
    /// names one: the generation in the token must match — and collects
    /// the wakers to wake.
    fn dispatch(&self, token: Token, bits: u8, wake: &mut Vec<Waker>) {
        let index = token.0 & INDEX_MASK;
        let Some(source) = self.sources.get(index).filter(|s| s.token == token) else {
            return; // a source dropped (and maybe its slot reused) meanwhile
        };
        if bits & Direction::Read.mask() != 0 {
            source.reader.take_into(wake);
        }
        if bits & Direction::Write.mask() != 0 {
            source.writer.take_into(wake);
        }
        source.ready.set(source.ready.get() | bits);
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    use super::*;

    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn an_event_for_a_dropped_source_never_reaches_the_source_that_reused_its_slot() {
        let (mut reactor, _waker) = Reactor::new().unwrap();
        let mut first = mio::net::UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let old = reactor.register(&mut first, Interest::READABLE).unwrap();
        let old_token = old.token;
        drop(reactor.deregister(&mut first, &old));
        drop(first);

        let mut second = mio::net::UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let new = reactor.register(&mut second, Interest::READABLE).unwrap();
        assert_eq!(new.token.0 & INDEX_MASK, old_token.0 & INDEX_MASK);
        assert_ne!(new.token, old_token, "same slot, new generation");

        new.clear_ready(Direction::Read);
        let count = Arc::new(Count(AtomicUsize::new(0)));
        new.park(Direction::Read, &Waker::from(count.clone()), 0);
        let mut wake = Vec::new();
        reactor.dispatch(old_token, READABLE, &mut wake);
        assert!(wake.is_empty(), "the stale event woke nobody");
        assert!(!new.is_ready(Direction::Read), "and set no readiness");
        reactor.dispatch(new.token, READABLE, &mut wake);
        assert_eq!(wake.len(), 1, "the new source's own event wakes its reader");
        assert!(new.is_ready(Direction::Read));
    }

    #[test]
    fn a_closed_state_survives_a_short_read_but_not_a_would_block() {
        let (mut reactor, _waker) = Reactor::new().unwrap();
        let mut socket = mio::net::UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let source = reactor.register(&mut socket, Interest::READABLE).unwrap();
        source.clear_ready(Direction::Read);
        reactor.dispatch(source.token, READABLE | READ_CLOSED, &mut Vec::new());
        source.drained(Direction::Read);
        assert!(
            source.is_ready(Direction::Read),
            "end of stream stays visible"
        );
        source.clear_ready(Direction::Read);
        assert!(
            !source.is_ready(Direction::Read),
            "a would-block means not closed"
        );
    }

    #[test]
    fn wakers_of_tasks_that_gave_up_do_not_pile_up_on_a_quiet_socket() {
        // One task per turn parks and goes away: the list stays bounded.
        let waiters = Waiters::default();
        for turn in 0..10_000 {
            waiters.park(&Waker::from(Arc::new(Count(AtomicUsize::new(0)))), turn);
        }
        let others = waiters.others.take().unwrap_or_default();
        assert!(
            others.wakers.len() <= Waiters::MIN_CAP as usize,
            "{}",
            others.wakers.len()
        );
    }

    #[test]
    fn more_live_waiters_than_the_limit_raise_it_instead_of_flushing_for_ever() {
        // 40 tasks wait; a flush wakes them and they park again at once.
        let waiters = Waiters::default();
        let counts: Vec<_> = (0..40)
            .map(|_| Arc::new(Count(AtomicUsize::new(0))))
            .collect();
        let mut flushes = Vec::new();
        for turn in 10..20 {
            let before: usize = counts.iter().map(|c| c.0.load(Ordering::SeqCst)).sum();
            for count in &counts {
                waiters.park(&Waker::from(count.clone()), turn);
            }
            let after: usize = counts.iter().map(|c| c.0.load(Ordering::SeqCst)).sum();
            flushes.push(after - before);
        }
        assert_eq!(&flushes[2..], [0; 8], "woken each turn: {flushes:?}");
    }

    #[test]
    fn a_waker_parked_by_a_wake_inside_a_flush_is_kept() {
        // A foreign waker whose wake() runs code inline, which parks
        // another waker on the same direction, while the list is flushed.
        thread_local! {
            static WAITERS: std::cell::RefCell<Option<(Rc<Waiters>, Waker)>> =
                const { std::cell::RefCell::new(None) };
        }
        struct ParksOnWake;
        impl Wake for ParksOnWake {
            fn wake(self: Arc<Self>) {
                if let Some((waiters, victim)) = WAITERS.with(|w| w.borrow_mut().take()) {
                    waiters.park(&victim, 7);
                }
            }
        }
        let waiters = Rc::new(Waiters::default());
        let victim = Arc::new(Count(AtomicUsize::new(0)));
        WAITERS.with(|w| {
            *w.borrow_mut() = Some((Rc::clone(&waiters), Waker::from(Arc::clone(&victim))))
        });
        // The first, then the limit's worth, then one more: a flush, whose
        // first wake parks the victim.
        for _ in 0..(Waiters::MIN_CAP + 2) {
            waiters.park(&Waker::from(Arc::new(ParksOnWake)), 7);
        }
        assert!(
            WAITERS.with(|w| w.borrow().is_none()),
            "the flush ran the wake"
        );
        let mut wake = Vec::new();
        waiters.take_into(&mut wake);
        for waker in wake {
            waker.wake();
        }
        assert_eq!(
            victim.0.load(Ordering::SeqCst),
            1,
            "the victim was kept and woken"
        );
    }

    #[test]
    fn every_task_parked_on_a_direction_is_woken() {
        let (mut reactor, _waker) = Reactor::new().unwrap();
        let mut socket = mio::net::UdpSocket::bind("127.0.0.1:0".parse().unwrap()).unwrap();
        let source = reactor.register(&mut socket, Interest::READABLE).unwrap();
        source.clear_ready(Direction::Read);
        let counts: Vec<_> = (0..3)
            .map(|_| Arc::new(Count(AtomicUsize::new(0))))
            .collect();
        for count in &counts {
            let waker = Waker::from(count.clone());
            source.park(Direction::Read, &waker, 0);
            source.park(Direction::Read, &waker, 0); // the same one again: kept once
        }
        let mut wake = Vec::new();
        reactor.dispatch(source.token, READABLE, &mut wake);
        assert_eq!(wake.len(), 3);
    }
}
