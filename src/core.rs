//! The loop's state and the steps a turn is made of.
//!
//! [`Core`] is everything one event loop owns: the task slab, the ready
//! queue, the callbacks, the timers, the reactor. It lives in an `Rc` shared
//! by the [`EventLoop`](crate::EventLoop), task handles and timer futures;
//! the turn itself — the order in which these steps run — is
//! `EventLoop::turn` in `event_loop.rs`.
//!
//! Borrowing rule (invariant 6): `state` is borrowed only for short,
//! bookkeeping-only stretches. Whenever user code runs — a poll, a callback,
//! a destructor, a wake, the exception handler — nothing is borrowed, so
//! that code may freely spawn, wake, cancel or drop handles. This is why
//! the methods below take things *out* of the state, release it, do the
//! work, and borrow again to put results back.

use std::cell::{Cell, RefCell};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures_task::waker_ref;
use slab::Slab;

use crate::callback::{CallbackKey, CallbackSlot, Watch};
use crate::contain::{drop_contained, wake_contained};
use crate::debug::{self, Debug, TraceKind};
use crate::handle::{RemoteItem, Shared};
use crate::reactor::Reactor;
use crate::report::{Report, ReportKind, Severity, emit, panic_message, print_report};
use crate::task::slot::{DoneCallbacks, Finished, Outcome, Stage, TaskFuture, TaskSlot};
use crate::task::{PanicError, TaskError};
use crate::timers::{TimerAction, Timers};
use crate::waker::{TaskKey, TaskWaker, WakerPool};

/// One entry of the ready queue — asyncio's `_ready` deque, which likewise
/// holds both callbacks and task steps, in the order they became ready.
#[derive(Clone, Copy)]
pub(crate) enum Runnable {
    /// Poll this task (the main future, for the root key).
    Task(TaskKey),
    /// Run this `call_soon` / `call_later` / `call_soon_threadsafe` callback.
    Callback(CallbackKey),
    /// Run the done callbacks of this finished task.
    DoneCallbacks(TaskKey),
}

/// What a wake found (`Core::schedule`).
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheduled {
    /// The task is queued (now, or it already was).
    Live,
    /// The task has finished, or the key is stale: nothing to do.
    Gone,
    /// The loop's state is borrowed: wake by the remote path.
    Busy,
}

/// Debug mode: who a timed poll is about, and when it began.
struct TimedPoll {
    task: Option<(crate::task::TaskId, String)>,
    /// The future will be polled (not a stale key, not a cancelled task
    /// whose future is only dropped).
    will_poll: bool,
    site: Option<&'static std::panic::Location<'static>>,
    started: Instant,
}

/// Receives the loop's reports (see `EventLoop::set_exception_handler`).
pub(crate) type ExceptionHandler = Rc<dyn Fn(&Report)>;

/// How a task's run ended, before its slot says whether it was cancelled
/// meanwhile (then the outcome is `Cancelled` whatever the ending).
pub(crate) enum Ending {
    /// The future produced its output (`Held` or `Boxed`).
    Output(Outcome),
    /// The future panicked, with this message.
    Panic(String),
    /// The future was dropped unfinished.
    Cancelled,
}

/// The main future of `run_until_complete`, while one runs.
pub(crate) struct RootState {
    pub(crate) seq: u64,
    pub(crate) queued: bool,
}

/// The single-threaded state of a loop, behind one `RefCell`.
pub(crate) struct State {
    pub(crate) tasks: Slab<TaskSlot>,
    /// What runs in the next turn, in order. A turn takes the whole queue
    /// and runs it (`EventLoop::run_ready`); what becomes ready meanwhile
    /// queues here for the turn after.
    pub(crate) ready: Vec<Runnable>,
    /// The previous turn's queue, emptied, kept for its allocation.
    pub(crate) spare: Vec<Runnable>,
    pub(crate) callbacks: Slab<CallbackSlot>,
    pub(crate) timers: Timers<CallbackKey>,
    pub(crate) wakers: WakerPool,
    pub(crate) root: Option<RootState>,
    next_task_seq: u64,
    pub(crate) next_callback_seq: u64,
    next_root_seq: u64,
}

/// Socket operations one poll may attempt before it yields — done or not
/// (a try that gets `WouldBlock` counts too), and sleeps found due at their
/// first poll ([`Core::take_io_budget`]).
pub(crate) const IO_BUDGET: u32 = 128;

/// An event loop's insides, shared by everything that belongs to the loop.
pub(crate) struct Core {
    pub(crate) state: RefCell<State>,
    shared: Arc<Shared>,
    pub(crate) reactor: RefCell<Reactor>,
    /// The key of whatever is being polled right now (a task, or the main
    /// future); meaningless while `polling_waker` is null.
    polling_key: Cell<TaskKey>,
    /// The address of its waker, null when nothing is polled: to recognise
    /// that waker in [`Core::own_key`] and on the hottest wake path, in one
    /// load.
    polling_waker: Cell<*const ()>,
    /// The task being polled woke its own waker during the poll (a yield,
    /// mostly). Recorded here instead of queueing it at once — the cheapest
    /// wake there is; `run_task` queues the task when the poll returns.
    woke_itself: Cell<bool>,
    exception_handler: RefCell<Option<ExceptionHandler>>,
    /// The clock as last read by the loop. It is never ahead of the real
    /// clock, so "deadline <= now" on it means the deadline has truly passed.
    now: Cell<Instant>,
    /// When the reactor last looked at I/O: what it knows of the sockets
    /// is that old ([`Core::looked_at`]).
    looked_at: Cell<Instant>,
    /// Ready-queue entries (task polls and callbacks) run since the loop
    /// last looked at I/O and timers.
    polls_since_look: Cell<usize>,
    /// How many a busy loop runs before it looks again ([`LOOK_INTERVAL`],
    /// fewer while polls are slow: [`next_look_interval`]).
    look_interval: Cell<usize>,
    /// The count at which [`look_due`](Self::look_due) next takes a closer
    /// look: [`EARLY_CHECK`] while the stretch's early clock read is to
    /// come, else `look_interval`.
    check_at: Cell<usize>,
    /// Every timer due at or before this instant has fired (left the timer
    /// queue); `None` before the first firing.
    fired_through: Cell<Option<Instant>>,
    /// Inside `run_until_complete` / `run_forever` / `run_once`.
    running: Cell<bool>,
    /// The wakers of I/O waiters a reactor poll made ready; kept between
    /// turns for its allocation.
    io_wakers: Cell<Vec<std::task::Waker>>,
    /// The same for the timers one pass fired (`fire_timers`).
    due_timers: Cell<Vec<TimerAction<CallbackKey>>>,
    /// The pool of `spawn_blocking`, started on first use.
    default_pool: std::cell::OnceCell<crate::pool::ThreadPool>,
    /// What the loop has done: `EventLoop::stats`.
    pub(crate) counters: crate::stats::Counters,
    /// Debug mode: slow polls and callbacks, spawn sites.
    pub(crate) debug: crate::debug::Debug,
    /// The waker of the main future while one runs (weak: it must not
    /// count as a holder), for the dump.
    root_waker: RefCell<std::sync::Weak<TaskWaker>>,
    /// Values that live as long as the loop, one per type
    /// ([`loop_local`](Self::loop_local)): the Ctrl-C listener of
    /// `signal::ctrl_c`. Dropped when the loop closes.
    locals: RefCell<Vec<Rc<dyn std::any::Any>>>,
}

impl Core {
    pub(crate) fn new() -> std::io::Result<Rc<Core>> {
        let (reactor, waker) = Reactor::new()?;
        Ok(Rc::new(Core {
            state: RefCell::new(State {
                tasks: Slab::new(),
                ready: Vec::new(),
                spare: Vec::new(),
                callbacks: Slab::new(),
                timers: Timers::new(),
                wakers: WakerPool::new(),
                root: None,
                next_task_seq: 1,
                next_callback_seq: 1,
                next_root_seq: 1,
            }),
            shared: Arc::new(Shared::new(waker)),
            reactor: RefCell::new(reactor),
            polling_key: Cell::new(TaskKey { index: 0, seq: 0 }),
            polling_waker: Cell::new(std::ptr::null()),
            woke_itself: Cell::new(false),
            exception_handler: RefCell::new(None),
            now: Cell::new(Instant::now()),
            looked_at: Cell::new(Instant::now()),
            polls_since_look: Cell::new(0),
            look_interval: Cell::new(LOOK_INTERVAL),
            check_at: Cell::new(EARLY_CHECK),
            fired_through: Cell::new(None),
            running: Cell::new(false),
            io_wakers: Cell::new(Vec::new()),
            due_timers: Cell::new(Vec::new()),
            default_pool: std::cell::OnceCell::new(),
            counters: crate::stats::Counters::default(),
            debug: crate::debug::Debug::from_env(),
            root_waker: RefCell::new(std::sync::Weak::new()),
            locals: RefCell::new(Vec::new()),
        }))
    }

    /// This loop's value of type `T`, made by `make` the first time (an
    /// error is given back and nothing kept). It lives until the loop
    /// closes.
    pub(crate) fn loop_local<T: 'static, E>(
        &self,
        make: impl FnOnce() -> Result<T, E>,
    ) -> Result<Rc<T>, E> {
        let found = self
            .locals
            .borrow()
            .iter()
            .find_map(|value| Rc::clone(value).downcast::<T>().ok());
        if let Some(value) = found {
            return Ok(value);
        }
        let value = Rc::new(make()?);
        self.locals
            .borrow_mut()
            .push(Rc::clone(&value) as Rc<dyn std::any::Any>);
        Ok(value)
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    pub(crate) fn take_io_wakers(&self) -> Vec<std::task::Waker> {
        self.io_wakers.take()
    }

    pub(crate) fn put_io_wakers(&self, wakers: Vec<std::task::Waker>) {
        self.io_wakers.set(wakers);
    }

    /// The loop's default thread pool (for `spawn_blocking`).
    pub(crate) fn default_pool(&self) -> &crate::pool::ThreadPool {
        self.default_pool
            .get_or_init(crate::pool::blocking::default_pool)
    }

    /// The key of whatever is being polled right now (the main future's
    /// included).
    pub(crate) fn polling_key(&self) -> Option<TaskKey> {
        (!self.polling_waker.get().is_null()).then(|| self.polling_key.get())
    }

    /// The main future's waker, while one runs.
    pub(crate) fn root_waker(&self) -> Option<Arc<TaskWaker>> {
        self.root_waker.borrow().upgrade()
    }

    /// The task being polled right now (not the main future: it is no task).
    pub(crate) fn current_task(&self) -> Option<TaskKey> {
        self.polling_key().filter(|key| !key.is_root())
    }

    /// The key of the task (or main future) being polled, if `waker` is
    /// its own waker — see [`Waiter`](crate::waker::Waiter). (Only the waker's address is
    /// compared, never followed.)
    pub(crate) fn own_key(&self, waker: &std::task::Waker) -> Option<TaskKey> {
        let data = self.polling_waker.get();
        (!data.is_null() && std::ptr::eq(waker.data(), data)).then(|| self.polling_key.get())
    }

    /// Marks `key` as being polled with `waker` until the returned guard
    /// is dropped — also when the poll unwinds, so that a stale entry never
    /// outlives its waker (whose address a later waker may reuse). Polls
    /// never nest (a loop cannot run inside one of its polls), so the guard
    /// just clears the marks.
    pub(crate) fn begin_polling(&self, key: TaskKey, waker: &Arc<TaskWaker>) -> Polling<'_> {
        let data = Arc::as_ptr(waker).cast();
        self.polling_key.set(key);
        crate::context::start_budget(data);
        self.polling_waker.set(data);
        self.woke_itself.set(false);
        Polling { core: self }
    }

    /// The same-thread wake of `waker`, if it is the waker of whatever is
    /// being polled right now: remembered, to be queued when the poll
    /// returns. Returns false (nothing done) for any other waker.
    #[inline]
    pub(crate) fn wake_polling(&self, waker: &Arc<TaskWaker>) -> bool {
        let polled = std::ptr::eq(Arc::as_ptr(waker).cast(), self.polling_waker.get());
        if polled {
            self.woke_itself.set(true);
        }
        polled
    }

    /// Takes one socket operation from the current poll's budget; false
    /// when it is used up: the caller then wakes its task and returns
    /// `Pending` instead of doing the operation.
    ///
    /// A socket that always has bytes ready (a peer faster than its
    /// reader) would otherwise never return `Pending`: its task would hold
    /// the loop, and a `timeout` around it, the timers and every other task
    /// would wait until the peer paused. tokio has the same budget (its
    /// "cooperative scheduling"), also of 128. A `BufReader` takes one
    /// for each read it serves from its buffer (a line, say), so that a
    /// line loop over one socket read of a thousand lines yields too; and
    /// corio's locks, semaphores, queues, channels and events take one per
    /// poll (`context::poll_budget`), so that a channel with a backlog
    /// does not hold the loop either. (The count is the thread's, in
    /// `context`: one poll runs on a thread at a time.)
    ///
    /// Only operations polled with the waker of the task this loop is
    /// polling count (directly, or through `timeout`, `select` and other
    /// futures that pass their context on): only then does a `Pending`
    /// lead back to the loop, which renews the budget at the task's next
    /// poll. A socket polled with any other waker — by a foreign executor
    /// running inside a task, a generator, the children of `gather` — is
    /// not budgeted, as before: there a `Pending` would spin, or end the
    /// generator.
    #[inline]
    pub(crate) fn take_io_budget(&self, waker: &Waker) -> bool {
        // (The budget is the thread's, in `context`: one poll at a time
        // runs on a thread, and corio's primitives reach it there without
        // finding their loop first.)
        crate::context::take_io_budget(waker)
    }

    /// Is this loop running (inside `run_*`)? Only then does it keep its
    /// cached clock fresh.
    pub(crate) fn is_running(&self) -> bool {
        self.running.get()
    }

    pub(crate) fn set_running(&self, running: bool) {
        self.running.set(running);
    }

    pub(crate) fn cached_now(&self) -> Instant {
        self.now.get()
    }

    /// The time for bookkeeping that may lag a little (asyncio's
    /// `loop.time()` is read fresh; this one is not): the clock as the
    /// loop last read it — when it starts running, at every look at I/O
    /// and timers, after every wait, and when a sleep is made or reset — so
    /// it can be behind by as long as everything that ran since then: up to
    /// `LOOK_INTERVAL` polls and callbacks, over many chained turns of
    /// `run_until_complete` or `run_forever`, or one larger batch (a task
    /// that blocks the loop makes that long). A loop that is not running
    /// reads the real clock. Never ahead of the real clock.
    pub(crate) fn loop_time(&self) -> Instant {
        if self.is_running() {
            self.cached_now()
        } else {
            Instant::now()
        }
    }

    /// The reactor just looked at I/O, as of the cached clock.
    pub(crate) fn note_look(&self) {
        self.looked_at.set(self.now.get());
    }

    /// When the reactor last looked at I/O. Whatever arrived on a socket
    /// since then, the loop does not know yet (a socket's readiness says
    /// nothing of it).
    pub(crate) fn looked_at(&self) -> Instant {
        self.looked_at.get()
    }

    pub(crate) fn refresh_now(&self) -> Instant {
        let now = Instant::now();
        self.now.set(now);
        now
    }

    /// Has the timer of a sleep with this deadline certainly fired (so it
    /// is no longer in the timer queue)?
    pub(crate) fn timer_fired(&self, deadline: Instant) -> bool {
        self.fired_through.get().is_some_and(|t| deadline <= t)
    }

    /// Has a busy loop run enough since its last look to look again? After
    /// its interval's worth of entries, or — found by one clock read once
    /// [`EARLY_CHECK`] entries have run — after more than
    /// [`LOOK_EVERY`] of work.
    #[inline]
    pub(crate) fn look_due(&self) -> bool {
        // (One compare on the hot path, as with a fixed interval.)
        self.polls_since_look.get() >= self.check_at.get() && self.closer_look()
    }

    /// `check_at` reached: the end of the stretch, or its one early clock
    /// read — has it taken longer than `LOOK_EVERY` already? Then it ends
    /// here: the look is due until it has happened. (The read refreshes the
    /// cached clock too.)
    #[cold]
    fn closer_look(&self) -> bool {
        let interval = self.look_interval.get();
        if self.check_at.get() >= interval {
            return true;
        }
        let now = self.refresh_now();
        if now.saturating_duration_since(self.looked_at.get()) > LOOK_EVERY {
            self.look_interval.set(self.check_at.get());
            return true;
        }
        self.check_at.set(interval);
        self.polls_since_look.get() >= interval
    }

    pub(crate) fn count_polls(&self, polls: usize) {
        self.polls_since_look
            .set(self.polls_since_look.get() + polls);
    }

    /// The loop looked outside after `busy` of work since the look before
    /// (its run phases, timers and callbacks): the count starts again, and
    /// the next stretch is as long as those polls' speed asks for.
    pub(crate) fn looked(&self, busy: Duration) {
        let polls = self.polls_since_look.replace(0);
        let interval = next_look_interval(polls, busy);
        self.look_interval.set(interval);
        self.check_at.set(interval.min(EARLY_CHECK));
    }

    /// Time from `now` until the next armed timer; `None` if no timer is
    /// armed.
    pub(crate) fn next_timer_timeout(&self, now: Instant) -> Option<std::time::Duration> {
        if self.state.borrow().timers.len() == 0 {
            return None;
        }
        self.state.borrow_mut().timers.next_timeout(now)
    }

    // ----- waking ------------------------------------------------------------

    /// Puts a task on the ready queue unless it is there already, finished,
    /// or the key is stale. This is all a wake does.
    ///
    /// Says whether the task is live (queued now or already), gone (a wake
    /// that did nothing: not counted as one), or whether the state is busy
    /// (a wake from inside the loop's own bookkeeping): then the caller
    /// takes the remote path instead.
    #[inline(always)]
    pub(crate) fn schedule(&self, key: TaskKey) -> Scheduled {
        let Ok(mut st) = self.state.try_borrow_mut() else {
            return Scheduled::Busy;
        };
        let st = &mut *st;
        if key.is_root() {
            return match &mut st.root {
                Some(root) if root.seq == key.seq => {
                    if !root.queued {
                        root.queued = true;
                        st.ready.push(Runnable::Task(key));
                    }
                    Scheduled::Live
                }
                _ => Scheduled::Gone,
            };
        }
        match slot_mut(&mut st.tasks, key) {
            Some(slot) if matches!(slot.stage, Stage::Pending(_) | Stage::Running) => {
                if !slot.queued {
                    slot.queued = true;
                    st.ready.push(Runnable::Task(key));
                }
                Scheduled::Live
            }
            _ => Scheduled::Gone,
        }
    }

    /// Takes in what other threads queued: their wakes and their callbacks.
    /// Returns whether another thread had announced anything — work, a
    /// stop, or the poke of its last `LoopHandle` going — whose wake-up of
    /// the `mio::Waker` may still wait in epoll (`look_outside`).
    #[inline]
    pub(crate) fn take_remote(&self) -> bool {
        // Checked on every turn: keep the common, empty, case to one load.
        if self.shared.has_remote() {
            self.take_remote_slow();
            return true;
        }
        false
    }

    #[cold]
    fn take_remote_slow(&self) {
        let Some(remote) = self.shared.take_remote() else {
            return;
        };
        // In the order the threads handed them over: a callback sent
        // before a wake runs before the task it wakes.
        let mut wakes = 0;
        for item in remote.items {
            match item {
                RemoteItem::Wake(waker) => {
                    waker.clear_remote_queued();
                    // (The state is not borrowed here: never busy.)
                    if self.schedule(waker.key()) == Scheduled::Live {
                        wakes += 1;
                        if self.debug.watching() {
                            self.debug.woke(waker.key(), true);
                        }
                    }
                }
                RemoteItem::Callback(callback) => {
                    self.call_soon(callback, None);
                }
            }
        }
        self.counters.remote_wakes(wakes);
        if remote.stop {
            self.shared.request_stop_here();
        }
    }

    // ----- tasks -------------------------------------------------------------

    /// Adds a task to the slab and queues its first poll.
    pub(crate) fn spawn(&self, name: Option<String>, future: Pin<Box<dyn TaskFuture>>) -> TaskKey {
        let mut st = self.state.borrow_mut();
        let st = &mut *st;
        let seq = st.next_task_seq;
        st.next_task_seq += 1;
        let entry = st.tasks.vacant_entry();
        let index = match u32::try_from(entry.key()) {
            Ok(index) if index != TaskKey::ROOT_INDEX => index,
            _ => panic!("corio: more than 4 billion tasks alive at once"),
        };
        let mut slot = TaskSlot::new(seq, future, name);
        slot.queued = true;
        entry.insert(slot);
        let key = TaskKey { index, seq };
        st.ready.push(Runnable::Task(key));
        key
    }

    /// Debug mode and trace: notes a spawn, its name, site and parent.
    #[cold]
    pub(crate) fn note_spawn(&self, key: TaskKey, site: &'static std::panic::Location<'static>) {
        let name = {
            let st = self.state.borrow();
            st.tasks
                .get(key.index as usize)
                .filter(|slot| slot.seq == key.seq)
                .map_or_else(String::new, |slot| slot.name())
        };
        self.debug.spawned(key, name, site, self.current_task());
    }

    /// Polls one task: the heart of the executor.
    ///
    /// Returns whether a future was polled (a stale key or a cancelled task
    /// polls nothing).
    #[inline(always)]
    pub(crate) fn run_task(&self, key: TaskKey) -> bool {
        // 1. Take the future out of its slot, and a waker for it.
        let (mut future, waker, keep) = {
            let mut st = self.state.borrow_mut();
            let st = &mut *st;
            let Some(slot) = slot_mut(&mut st.tasks, key) else {
                return false;
            };
            slot.queued = false;
            let future = match std::mem::replace(&mut slot.stage, Stage::Running) {
                Stage::Pending(future) => future,
                // Running, or finished: nothing to poll. (Put back as it
                // was; running is what the slot holds already.)
                other => {
                    slot.stage = other;
                    return false;
                }
            };
            if slot.cancelled {
                // Its waker goes too (to the pool, or just a count down): a
                // finished task must not look wakeable from outside.
                if let Some(waker) = slot.waker.take() {
                    drop(st.wakers.put(waker));
                }
                (future, None, false)
            } else {
                let waker = match slot.waker.take() {
                    Some(waker) => waker,
                    None => st.wakers.get(&self.shared, key),
                };
                (future, Some(waker), slot.keeps_output())
            }
        };
        let Some(waker) = waker else {
            // Cancelled: drop the future instead of polling it.
            self.drop_reported(future);
            self.finish(key, Ending::Cancelled, None);
            return false;
        };

        // 2. Poll it with nothing borrowed: it may spawn, wake, cancel, drop
        //    handles. A panic stays inside the task.
        let polling = self.begin_polling(key, &waker);
        let polled = {
            let waker = waker_ref(&waker);
            let mut cx = Context::from_waker(&waker);
            catch_unwind(AssertUnwindSafe(|| {
                future.as_mut().poll_task(&mut cx, keep)
            }))
        };
        let woke_itself = polling.end();

        // 3. Put it back, or record how it ended.
        match polled {
            Ok(Poll::Pending) => {
                let mut st = self.state.borrow_mut();
                let st = &mut *st;
                let Some(slot) = slot_mut(&mut st.tasks, key) else {
                    unreachable!("corio: a running task's slot is never freed")
                };
                // (The stage it replaces is `Running`, which owns nothing:
                // forgetting it saves the drop glue's call.)
                let running = std::mem::replace(&mut slot.stage, Stage::Pending(future));
                debug_assert!(matches!(running, Stage::Running));
                std::mem::forget(running);
                if woke_itself && !slot.queued {
                    slot.queued = true;
                    st.ready.push(Runnable::Task(key));
                }
                // A task that was woken while it ran (a yield) runs again
                // soon: it keeps its waker. A parked one keeps it only if
                // somebody holds a clone; else the waker goes to the pool.
                slot.waker = if slot.queued {
                    Some(waker)
                } else {
                    st.wakers.put(waker)
                };
            }
            Ok(Poll::Ready(Finished::InPlace)) => {
                self.finish(key, Ending::Output(Outcome::Held(future)), Some(waker));
            }
            Ok(Poll::Ready(Finished::Boxed(output))) => {
                // Dropping the finished future is still the task's work: a
                // panicking destructor makes it `Panicked`, and the
                // destructor sees the task as `current_task()` — as for a
                // wrapped future, whose inner future is dropped in its poll.
                let polling = self.begin_polling(key, &waker);
                let dropped = catch_unwind(AssertUnwindSafe(move || drop(future)));
                drop(polling);
                match dropped {
                    Ok(()) => {
                        let output = Ending::Output(Outcome::Boxed(output));
                        self.finish(key, output, Some(waker));
                    }
                    Err(payload) => {
                        self.drop_reported(output);
                        let message = panic_message(&*payload);
                        self.drop_reported(payload);
                        self.finish(key, Ending::Panic(message), Some(waker));
                    }
                }
            }
            Err(payload) => self.panicked(key, future, waker, payload),
        }
        true
    }

    /// The task's future panicked.
    #[cold]
    fn panicked(
        &self,
        key: TaskKey,
        future: Pin<Box<dyn TaskFuture>>,
        waker: Arc<TaskWaker>,
        payload: Box<dyn std::any::Any + Send>,
    ) {
        let message = panic_message(&*payload);
        self.drop_reported(payload);
        self.drop_reported(future);
        self.finish(key, Ending::Panic(message), Some(waker));
    }

    /// Records how a task ended, then: queues its done callbacks, or frees
    /// the slot if nobody can see the outcome, or wakes whoever awaits it.
    /// All in one borrow of the state; the task's waker (if it had one out)
    /// goes back to the pool on the way.
    pub(crate) fn finish(&self, key: TaskKey, ending: Ending, waker: Option<Arc<TaskWaker>>) {
        self.debug.finished(key);
        let mut unwanted = None;
        let mut released = None;
        let mut report = None;
        let mut wake = None;
        let mut kept_waker = None;
        {
            let mut st = self.state.borrow_mut();
            let st = &mut *st;
            if let Some(waker) = waker {
                kept_waker = st.wakers.put(waker);
            }
            let Some(slot) = slot_mut(&mut st.tasks, key) else {
                return;
            };
            // Once `cancel()` returned true, the outcome is `Cancelled`.
            let outcome = match ending {
                Ending::Output(output) if slot.cancelled => {
                    unwanted = Some(output);
                    Outcome::Err(TaskError::Cancelled)
                }
                Ending::Output(output) => output,
                // A panic after `cancel()` returned true (in the poll that
                // cancelled the task): the outcome stays `Cancelled`, so
                // nobody can receive the panic — report it, not lose it.
                Ending::Panic(message) if slot.cancelled => {
                    report = Some(
                        Report::new(
                            ReportKind::UnretrievedPanic,
                            message,
                            Some((slot.id(), slot.name())),
                        )
                        .with_site(self.debug.site(key)),
                    );
                    Outcome::Err(TaskError::Cancelled)
                }
                Ending::Cancelled if slot.cancelled => Outcome::Err(TaskError::Cancelled),
                Ending::Panic(message) => {
                    let panic = PanicError::new(message, slot.name());
                    Outcome::Err(TaskError::Panicked(panic))
                }
                Ending::Cancelled => Outcome::Err(TaskError::Cancelled),
            };
            let panicked = outcome.is_panic();
            // Replaces `Running` (a finishing task's future is off its
            // slot), which owns nothing: no drop glue needed.
            let running = std::mem::replace(&mut slot.stage, Stage::Done(outcome));
            debug_assert!(matches!(running, Stage::Running));
            std::mem::forget(running);
            if slot.has_callbacks() {
                queue_done_callbacks(st, key);
            } else if slot.detached {
                if panicked {
                    report = Some(unretrieved_panic(slot, &self.debug, key.index));
                }
                released = Some(release(st, &self.debug, key));
            } else {
                wake = slot.join_waker.take();
            }
        }
        drop(kept_waker);
        self.drop_reported((unwanted, released));
        if let Some(report) = report {
            self.report(report);
        }
        if let Some(waker) = wake {
            wake_contained(waker);
        }
    }

    /// Runs the done callbacks of a finished task, with its outcome lent to
    /// them. Returns how many ran.
    pub(crate) fn run_done_callbacks(&self, key: TaskKey, watch: Watch<'_>) -> usize {
        let (callbacks, mut outcome, id, name) = {
            let mut st = self.state.borrow_mut();
            let Some(slot) = slot_mut(&mut st.tasks, key) else {
                return 0;
            };
            slot.callbacks_queued = false;
            let Some(callbacks) = slot.extra.as_mut().and_then(|extra| extra.callbacks.take())
            else {
                return 0;
            };
            let Stage::Done(outcome) = std::mem::replace(&mut slot.stage, Stage::Lent) else {
                unreachable!("corio: done callbacks are queued only for finished tasks")
            };
            slot.observed |= callbacks.observing;
            (callbacks, outcome, slot.id(), slot.name())
        };

        let (ran, panics) = callbacks.run(&mut outcome, watch);

        let mut released = None;
        let mut wake = None;
        let mut unseen = None;
        {
            let mut st = self.state.borrow_mut();
            let st = &mut *st;
            if let Some(slot) = slot_mut(&mut st.tasks, key) {
                slot.stage = Stage::Done(outcome);
                if slot.has_callbacks() {
                    // Added while these ran: they run at a later turn.
                    queue_done_callbacks(st, key);
                } else if slot.detached {
                    // Only corio's own watchers saw a panic (the handle
                    // went while they were queued): nobody else will.
                    if !slot.observed
                        && matches!(&slot.stage, Stage::Done(outcome) if outcome.is_panic())
                    {
                        unseen = Some(unretrieved_panic(slot, &self.debug, key.index));
                    }
                    released = Some(release(st, &self.debug, key));
                } else {
                    wake = slot.join_waker.take();
                }
            }
        }
        self.drop_reported(released);
        for message in panics {
            let task = Some((id, name.clone()));
            self.report(Report::new(ReportKind::CallbackPanic, message, task));
        }
        if let Some(report) = unseen {
            self.report(report);
        }
        if let Some(waker) = wake {
            wake_contained(waker);
        }
        ran
    }

    // ----- timers ------------------------------------------------------------

    /// Fires every timer due by the cached clock (which the look just
    /// read): wakes sleeping tasks and queues `call_later` callbacks.
    /// Returns how many fired.
    pub(crate) fn fire_timers(&self) -> usize {
        if self.state.borrow().timers.len() == 0 {
            return 0;
        }
        let now = self.cached_now();
        // What fired, in firing order (earliest first, ties in arming
        // order): sleepers are woken and callbacks queued in that order
        // after the borrow, so both kinds reach the ready queue as due.
        let mut due = self.due_timers.take();
        let fired = {
            let mut st = self.state.borrow_mut();
            let State {
                timers, callbacks, ..
            } = &mut *st;
            timers.fire_due(now, |action| {
                match &action {
                    TimerAction::Call(key) => match crate::callback::slot_mut(callbacks, *key) {
                        Some(slot) => slot.timer = None,
                        None => return,
                    },
                    TimerAction::Wake(None) => return,
                    TimerAction::Wake(Some(_)) => {}
                }
                due.push(action);
            });
            // Counted: the timers that wake somebody or queue a callback
            // (a released sleep's entry, due, wakes nobody).
            due.len()
        };
        self.fired_through.set(Some(now));
        if fired > 0 && self.debug.tracing() {
            self.debug.trace_timers(fired);
        }
        // Wake outside the borrow: waking borrows the state again. A
        // waker of another executor is foreign code: its panic stays here,
        // and the wakes after it still happen (it may also cancel a
        // callback of this pass, which then is not queued).
        for action in due.drain(..) {
            match action {
                TimerAction::Wake(Some(waiter)) => waiter.wake(self),
                TimerAction::Wake(None) => {}
                TimerAction::Call(key) => {
                    let mut st = self.state.borrow_mut();
                    let st = &mut *st;
                    if crate::callback::slot_mut(&mut st.callbacks, key).is_some() {
                        st.ready.push(Runnable::Callback(key));
                    }
                }
            }
        }
        self.due_timers.set(due);
        fired
    }

    // ----- the main future ---------------------------------------------------

    /// Starts a main future: returns its waker, and queues its first poll.
    pub(crate) fn begin_root(&self) -> Arc<TaskWaker> {
        let mut st = self.state.borrow_mut();
        let seq = st.next_root_seq;
        st.next_root_seq += 1;
        st.root = Some(RootState { seq, queued: true });
        let key = TaskKey {
            index: TaskKey::ROOT_INDEX,
            seq,
        };
        st.ready.push(Runnable::Task(key));
        let waker = TaskWaker::new(&self.shared, key);
        *self.root_waker.borrow_mut() = Arc::downgrade(&waker);
        waker
    }

    /// Takes the main future off the queue before polling it. Returns false
    /// for a stale key (a previous main future's waker).
    pub(crate) fn unqueue_root(&self, key: TaskKey) -> bool {
        let mut st = self.state.borrow_mut();
        match &mut st.root {
            Some(root) if root.seq == key.seq => {
                root.queued = false;
                true
            }
            _ => false,
        }
    }

    pub(crate) fn end_root(&self) {
        self.state.borrow_mut().root = None;
    }

    // ----- reports -----------------------------------------------------------

    pub(crate) fn set_exception_handler(&self, handler: Option<ExceptionHandler>) {
        let old = self.exception_handler.replace(handler);
        drop(old);
    }

    /// Drops user data of this loop (a cancelled task's future, an output
    /// nobody takes, a callback dropped unrun), containing a panicking
    /// destructor: it is reported to this loop's exception handler as a
    /// `DestructorPanic` — whichever loop runs on this thread, if any.
    /// Call it with nothing borrowed, as any user code.
    pub(crate) fn drop_reported<T>(&self, value: T) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(move || drop(value))) {
            let message = panic_message(&*payload);
            // The payload's own destructor could panic again: leak it.
            std::mem::forget(payload);
            self.report(Report::new(ReportKind::DestructorPanic, message, None));
        }
    }

    /// Hands a report to the exception handler (stderr by default). A
    /// panicking handler is itself contained, and both are printed.
    pub(crate) fn report(&self, report: Report) {
        let handler = self.exception_handler.borrow().clone();
        match handler {
            None => print_report(&report),
            Some(handler) => {
                if let Err(payload) = catch_unwind(AssertUnwindSafe(|| handler(&report))) {
                    print_report(&report);
                    emit(
                        Severity::Error,
                        format_args!(
                            "the exception handler panicked too: {}",
                            panic_message(&*payload)
                        ),
                    );
                    // Its payload's destructor could panic again: leak it.
                    std::mem::forget(payload);
                }
            }
        }
    }

    /// Debug mode: `run_task`, timed, and reported if too slow.
    #[cold]
    #[inline(never)]
    pub(crate) fn run_task_timed(&self, key: TaskKey) -> bool {
        self.debug.stall.progress();
        let timed = self.before_timed_poll(key);
        let will_poll = timed.will_poll;
        if will_poll {
            self.debug.poll_started(Some(key));
        }
        let polled = self.run_task(key);
        if will_poll {
            self.debug.poll_ended(Some(key));
        }
        self.after_timed_poll(timed);
        polled
    }

    /// Debug mode, before a poll: who the task is (read now — a task that
    /// finishes in this poll may leave the slab) and when the poll began.
    #[cold]
    #[inline(never)]
    fn before_timed_poll(&self, key: TaskKey) -> TimedPoll {
        let (task, will_poll) = {
            let st = self.state.borrow();
            let slot = st
                .tasks
                .get(key.index as usize)
                .filter(|slot| slot.seq == key.seq);
            let will_poll =
                slot.is_some_and(|s| matches!(s.stage, Stage::Pending(_)) && !s.cancelled);
            (slot.map(|slot| (slot.id(), slot.name())), will_poll)
        };
        TimedPoll {
            task,
            will_poll,
            site: self.debug.site(key),
            started: Instant::now(),
        }
    }

    /// Debug mode, after a poll: report it if it held the loop too long.
    #[cold]
    #[inline(never)]
    fn after_timed_poll(&self, timed: TimedPoll) {
        if let Some(took) = self.debug.too_slow(timed.started) {
            let TimedPoll {
                task,
                site,
                will_poll,
                ..
            } = timed;
            self.report_slow_poll(task, site, took, will_poll);
        }
    }

    /// Debug mode or the trace: runs one callback (`run`) as a traced
    /// slice of its own, and reports it if it held the loop too long.
    #[cold]
    #[inline(never)]
    pub(crate) fn watch_callback(&self, run: &mut dyn FnMut()) {
        self.debug.stall.progress();
        let started = Instant::now();
        self.debug.trace.record(TraceKind::CallbackStart, None);
        run();
        self.debug.trace.record(TraceKind::CallbackEnd, None);
        if let Some(took) = self.debug.too_slow(started) {
            self.report_slow_callback(took);
        }
    }

    /// Reports a slow poll of a task — or, with no `task`, of the main
    /// future of `run_until_complete`.
    #[cold]
    pub(crate) fn report_slow_poll(
        &self,
        task: Option<(crate::task::TaskId, String)>,
        site: Option<&'static std::panic::Location<'static>>,
        took: std::time::Duration,
        polled: bool,
    ) {
        let at = match (site, &task) {
            (Some(site), Some(_)) => format!(", spawned at {site}"),
            (Some(site), None) => format!(" (run at {site})"),
            (None, _) => String::new(),
        };
        let who = match &task {
            Some((_, name)) => format!("task {name:?}"),
            None => "the main future".to_string(),
        };
        let threshold = self.debug.threshold();
        let message = if polled {
            format!(
                "a poll of {who}{at} held the loop for {took:.0?} (slow_callback_duration \
                 is {threshold:?}): blocking work belongs in spawn_blocking, long loops need a \
                 yield_now().await"
            )
        } else {
            // Not a poll: the future of a cancelled task was dropped.
            format!(
                "dropping cancelled {who}{at} held the loop for {took:.0?} \
                 (slow_callback_duration is {threshold:?}): its future's destructors are slow"
            )
        };
        self.report(Report::new(ReportKind::SlowCallback, message, task).with_site(site));
    }

    // ----- idleness and closing ----------------------------------------------

    /// Could anything ever give this loop work, if it waited?
    ///
    /// True if work is ready or queued by another thread, a timer is armed,
    /// a `LoopHandle` exists, or some waker of a pending
    /// task (or of the main future) is held by somebody other than the loop.
    /// A pending task whose waker nobody holds can never be woken.
    pub(crate) fn could_be_woken(&self, root_waker: Option<&Arc<TaskWaker>>) -> bool {
        // (A registered socket alone cannot wake anybody: a task waiting on
        // one has left its waker there, which the waker count below sees.)
        //
        // Order matters, against another thread that queues a wake or a
        // callback and then lets go of its handle or waker: the handles and
        // wakers are counted first, and the remote queue looked at last. If
        // a count shows the other thread let go, the fence makes what it
        // queued before visible to `has_remote`.
        if self.shared.live_handles() > 0 {
            return true;
        }
        if root_waker.is_some_and(|w| Arc::strong_count(w) > 1) {
            return true;
        }
        let busy = {
            let st = self.state.borrow();
            !st.ready.is_empty()
                || st.timers.len() > 0
                || st.tasks.iter().any(|(_, slot)| {
                    slot.waker
                        .as_ref()
                        .is_some_and(|w| Arc::strong_count(w) > 1)
                })
        };
        std::sync::atomic::fence(std::sync::atomic::Ordering::Acquire);
        busy || self.shared.has_remote()
    }

    /// Shuts the loop down: every unfinished task is cancelled (its future
    /// dropped, its handle left with `Cancelled`); callbacks, timers, done
    /// callbacks and the exception handler are dropped without running.
    /// Everything is dropped outside the state's borrow, since destructors
    /// are user code. Safe to call more than once.
    pub(crate) fn close(&self) {
        // (Not while a panic unwinds — a failed main future, a proven
        // stall: that message is the one to read.)
        if self.debug.is_on() && !std::thread::panicking() {
            self.report_destroyed_pending();
        }
        // Refuse new cross-thread work, and take what was queued.
        let remote = self.shared.close();
        // Queued blocking jobs end as cancelled; running ones are not
        // waited for (one may block forever, on stdin say).
        if let Some(pool) = self.default_pool.get() {
            pool.shutdown_detached();
        }
        // Each round takes every pending future at once. A destructor cannot
        // add tasks to this loop: it is not entered, so `corio::spawn` there
        // finds no running loop (a panic, reported) or an outer one, which
        // gets the task. So a second round finds none; the bound of rounds
        // is only a safeguard.
        for _ in 0..Self::CLOSE_ROUNDS {
            let pending = self.take_pending_futures();
            if pending.is_empty() {
                break;
            }
            for (key, future) in pending {
                self.drop_reported(future);
                self.finish(key, Ending::Cancelled, None);
            }
        }
        let leftovers = {
            let mut st = self.state.borrow_mut();
            let st = &mut *st;
            // Done callbacks will not run; the outcomes stay for the handles,
            // and whoever awaits one (a task of another loop) is woken: the
            // callbacks it was waiting behind are gone.
            let mut callback_lists = Vec::new();
            let mut join_wakers = Vec::new();
            for (_, slot) in st.tasks.iter_mut() {
                slot.callbacks_queued = false;
                if let Some(extra) = &mut slot.extra {
                    if let Some(list) = extra.callbacks.take() {
                        callback_lists.push(list);
                        join_wakers.extend(slot.join_waker.take());
                    }
                }
            }
            let unreachable: Vec<usize> = st
                .tasks
                .iter()
                .filter(|(_, slot)| slot.is_finished() && slot.is_unreachable())
                .map(|(index, _)| index)
                .collect();
            // A panic that only dropped callbacks would have seen: nobody
            // will see it now.
            let unseen: Vec<Report> = unreachable
                .iter()
                .map(|&i| (i, &st.tasks[i]))
                .filter(|(_, slot)| {
                    !slot.observed
                        && matches!(&slot.stage, Stage::Done(outcome) if outcome.is_panic())
                })
                .map(|(i, slot)| unretrieved_panic(slot, &self.debug, i as u32))
                .collect();
            let freed: Vec<TaskSlot> = unreachable
                .into_iter()
                .map(|i| {
                    let seq = st.tasks[i].seq;
                    let key = TaskKey {
                        index: i as u32,
                        seq,
                    };
                    release(st, &self.debug, key)
                })
                .collect();
            (
                callback_lists,
                join_wakers,
                freed,
                unseen,
                std::mem::take(&mut st.ready),
                std::mem::take(&mut st.callbacks),
                st.timers.drain(),
            )
        };
        let (callback_lists, join_wakers, freed, unseen, ready, callbacks, timers) = leftovers;
        self.debug.forget_callback_sites();
        for report in unseen {
            self.report(report);
        }
        // One by one, each contained: were they dropped together, a second
        // panicking destructor would panic during the first one's unwinding
        // — and abort the process.
        callback_lists
            .into_iter()
            .for_each(DoneCallbacks::drop_each_contained);
        join_wakers.into_iter().for_each(wake_contained);
        freed
            .into_iter()
            .for_each(|value| self.drop_reported(value));
        drop(ready); // keys only
        callbacks
            .into_iter()
            .for_each(|value| self.drop_reported(value));
        timers
            .into_iter()
            .for_each(|value| self.drop_reported(value));
        remote
            .items
            .into_iter()
            .for_each(|value| self.drop_reported(value));
        // The loop's own values (each may hold a socket of this loop,
        // whose source holds the loop: a cycle broken here).
        let locals = std::mem::take(&mut *self.locals.borrow_mut());
        locals
            .into_iter()
            .for_each(|value| self.drop_reported(value));
        // Last, so that reports raised while the rest was dropped (a
        // panicked task's handle in a callback that never ran) still reach
        // it. A handler may hold handles of this loop: drop it, or the two
        // would keep each other alive. Later reports go to stderr.
        let handler = self.exception_handler.take();
        drop_contained(handler);
        // The epoll fd goes now, not when the last handle of this loop (a
        // `Task`, a socket) does. (The eventfd went with `shared.close()`.)
        self.reactor.borrow_mut().close();
    }

    /// Debug mode: lists the tasks that `close` is about to cancel.
    #[cold]
    fn report_destroyed_pending(&self) {
        let dump = self.dump();
        // A task already cancelled is not forgotten: its drop just had not
        // run yet (it runs now).
        let cancelled: std::collections::HashSet<u64> = {
            let st = self.state.borrow();
            st.tasks
                .iter()
                .filter(|(_, slot)| slot.cancelled)
                .map(|(_, slot)| slot.id().as_u64())
                .collect()
        };
        let pending: Vec<_> = dump
            .tasks
            .iter()
            .filter(|t| !matches!(t.status, debug::Status::Done | debug::Status::Cancelled))
            .filter(|t| !cancelled.contains(&t.id.as_u64()))
            .collect();
        if pending.is_empty() {
            return;
        }
        let mut message = format!(
            "the loop was dropped with {} task(s) still pending; their futures are dropped \
             now, in no particular order (corio::run cancels leftover tasks in order, and so \
             can you: cancel or await them before dropping the loop):",
            pending.len()
        );
        for task in pending {
            message.push_str(&format!("\n  task {} {:?}", task.id.as_u64(), task.name));
            if let Some(site) = task.spawned_at {
                message.push_str(&format!(", spawned at {site}"));
            }
            if !task.waiting_on.is_empty() {
                let on: Vec<String> = task.waiting_on.iter().map(ToString::to_string).collect();
                message.push_str(&format!(", waiting on {}", on.join(", ")));
            }
        }
        self.report(Report::new(ReportKind::DestroyedPending, message, None));
    }

    /// Cancels every unfinished task, the way `Task::cancel` does (each is
    /// queued, to be dropped at its next poll). Returns how many.
    pub(crate) fn cancel_all(&self) -> usize {
        let mut st = self.state.borrow_mut();
        let st = &mut *st;
        let mut cancelled = 0;
        for (index, slot) in st.tasks.iter_mut() {
            if slot.is_finished() || slot.cancelled {
                continue;
            }
            slot.cancelled = true;
            cancelled += 1;
            if !slot.queued {
                slot.queued = true;
                let key = TaskKey {
                    index: index as u32,
                    seq: slot.seq,
                };
                st.ready.push(Runnable::Task(key));
            }
        }
        cancelled
    }

    /// At most how many rounds `close` takes pending futures in. One
    /// suffices: a destructor cannot add tasks to this loop, which is not
    /// entered while it closes (see `close`); the bound is a safeguard.
    const CLOSE_ROUNDS: usize = 16;

    /// Takes the futures of all pending tasks, marking them cancelled.
    fn take_pending_futures(&self) -> Vec<(TaskKey, Pin<Box<dyn TaskFuture>>)> {
        let mut st = self.state.borrow_mut();
        st.tasks
            .iter_mut()
            .filter(|(_, slot)| matches!(slot.stage, Stage::Pending(_)))
            .map(|(index, slot)| {
                let key = TaskKey {
                    index: index as u32,
                    seq: slot.seq,
                };
                slot.cancelled = true;
                let Stage::Pending(future) = std::mem::replace(&mut slot.stage, Stage::Running)
                else {
                    unreachable!()
                };
                (key, future)
            })
            .collect()
    }
}

/// What is being polled, for as long as it lives; see
/// [`Core::begin_polling`].
pub(crate) struct Polling<'a> {
    core: &'a Core,
}

impl Polling<'_> {
    /// Ends the poll; returns whether the polled thing woke itself.
    pub(crate) fn end(self) -> bool {
        self.core.woke_itself.get()
    }
}

impl Drop for Polling<'_> {
    fn drop(&mut self) {
        self.core.polling_waker.set(std::ptr::null());
        crate::context::end_budget();
    }
}

/// How many ready-queue entries (task polls and callbacks) a busy loop
/// runs between two looks at I/O and timers while its polls are quick: a
/// zero-timeout `epoll_wait` and a clock read cost more than a task poll,
/// so a busy loop batches them (tokio's `event_interval`, also 61), yet a
/// task that keeps waking itself still lets I/O and timers in within that
/// many entries. (The look comes at the start of the first turn after
/// them: a turn's batch always runs whole, however long.)
const LOOK_INTERVAL: usize = 61;

/// Roughly the work a busy loop with slow polls does between two looks.
const LOOK_EVERY: Duration = Duration::from_millis(1);

/// After this many entries of a stretch, the loop reads the clock once: a
/// stretch that has taken longer than `LOOK_EVERY` by then ends there. So
/// polls that turn slow (a task that starts computing in chunks between
/// yields) delay timers by at most this many of them, not a whole
/// `LOOK_INTERVAL`, before the interval adapts — for one clock read per
/// stretch of quick polls.
const EARLY_CHECK: usize = 8;

/// The length of the next stretch between two looks, from the last one's:
/// `LOOK_INTERVAL` entries while they are quick; when they took longer than
/// `LOOK_EVERY` together, about as many as fit in `LOOK_EVERY` at their
/// speed — at least one. A task that computes in chunks between
/// `yield_now()`s (asyncio's `sleep(0)` idiom) then delays timers and
/// sockets by about one chunk, not 61, once a first stretch (cut short
/// after `EARLY_CHECK` slow entries) has shown how slow its polls are. The
/// look every `LOOK_INTERVAL` entries alone let a 50 ms `timeout` around
/// 5 ms chunks fire after 300 ms.
fn next_look_interval(polls: usize, busy: Duration) -> usize {
    if busy <= LOOK_EVERY || polls == 0 {
        return LOOK_INTERVAL;
    }
    let fit = polls as u128 * LOOK_EVERY.as_nanos() / busy.as_nanos();
    (fit as usize).clamp(1, LOOK_INTERVAL)
}

/// The slot a key names, if it still holds that task.
pub(crate) fn slot_mut(tasks: &mut Slab<TaskSlot>, key: TaskKey) -> Option<&mut TaskSlot> {
    tasks
        .get_mut(key.index as usize)
        .filter(|slot| slot.seq == key.seq)
}

/// Queues a `DoneCallbacks` entry for a finished task (once).
pub(crate) fn queue_done_callbacks(st: &mut State, key: TaskKey) {
    if let Some(slot) = slot_mut(&mut st.tasks, key) {
        if !slot.callbacks_queued {
            slot.callbacks_queued = true;
            st.ready.push(Runnable::DoneCallbacks(key));
        }
    }
}

/// Frees a task's slot; its waker goes back to the pool if nobody holds it.
/// The caller drops the returned slot after releasing the state.
pub(crate) fn release(st: &mut State, debug: &Debug, key: TaskKey) -> TaskSlot {
    debug.released(key);
    let mut slot = st.tasks.remove(key.index as usize);
    if let Some(waker) = slot.waker.take() {
        drop(st.wakers.put(waker));
    }
    slot
}

/// The report for a panic that nobody will ever see otherwise (with where
/// the task was spawned, in debug mode).
pub(crate) fn unretrieved_panic(slot: &TaskSlot, debug: &Debug, index: u32) -> Report {
    let key = TaskKey {
        index,
        seq: slot.seq,
    };
    let message = match &slot.stage {
        Stage::Done(Outcome::Err(TaskError::Panicked(panic))) => panic.message().to_string(),
        _ => String::new(),
    };
    Report::new(
        ReportKind::UnretrievedPanic,
        message,
        Some((slot.id(), slot.name())),
    )
    .with_site(debug.site(key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_look_interval_shrinks_with_slow_polls_and_stays_at_61_for_quick_ones() {
        let ms = Duration::from_millis;
        assert_eq!(
            next_look_interval(61, Duration::from_micros(50)),
            LOOK_INTERVAL
        );
        assert_eq!(next_look_interval(61, ms(1)), LOOK_INTERVAL);
        assert_eq!(
            next_look_interval(0, ms(500)),
            LOOK_INTERVAL,
            "a look after a wait"
        );
        assert_eq!(next_look_interval(61, ms(2)), 30);
        assert_eq!(
            next_look_interval(61, ms(305)),
            1,
            "5 ms polls: a look after each"
        );
        assert_eq!(
            next_look_interval(1000, ms(4)),
            LOOK_INTERVAL,
            "never above 61"
        );
    }
}
