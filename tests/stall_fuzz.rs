//! The two stall verdicts, seeded and randomized: the plain loop's "would
//! block forever" (nobody holds a waker that could wake anything) and debug
//! mode's proven stall (every waker is held by corio's own waiters, and no
//! timer, I/O waiter, pool job in flight or `LoopHandle` is left).
//!
//! Each seed builds a small program whose progress hangs on one *gate*
//! task. The gate waits on exactly one outside source — a `sleep`, a
//! `call_later`, a `timeout` that elapses, a `spawn_blocking` job, a job
//! submitted to a `ThreadPool` (awaited, or only its done callback), a
//! `LoopHandle` on another thread that calls `call_soon_threadsafe`, a
//! waker held by another thread that wakes it, or a read on a loopback
//! socket whose peer (another thread) writes — each of which fires after a
//! few milliseconds. Behind the gate hangs a chain of tasks, each waiting
//! on the one before through an `Event` (with bystanders waiting on it
//! too), a `Lock` that the task before holds while it waits, a `Queue` get,
//! a `Semaphore` acquire, a `oneshot` receive, or that task's handle; the
//! main future awaits the chain's end (the last link's primitive itself, or
//! the tasks' handles one by one or through `gather`).
//!
//! A *live* program is let go by its source: it must finish, with no panic
//! and no proven-stall report (a debug-mode warning after a shortened grace
//! period is allowed for the sources corio cannot see through — a
//! `LoopHandle`, a waker on another thread — and must say the loop keeps
//! waiting). A *stuck* program either has no source or lets its source fire
//! and then, in the gate, waits on something nothing left can end: an
//! `Event` never set, a `Queue` nobody feeds, a `Semaphore` of no permits,
//! a `Lock` held by a task that waits on such an event, a `oneshot` whose
//! sender that task keeps, a task in a cycle of tasks awaiting each other,
//! or a future that keeps no waker. It must be called stuck, and within
//! the source's delay and a bounded time:
//!
//! * in debug mode, `run_until_complete` panics with "would block forever"
//!   and who waits on what — every task of the chain named with what it
//!   waits on (`Event#`, `Lock#`, `Queue.get#`, `Semaphore#`, `oneshot#`,
//!   `task N "name"`, a cycle), the main future's line too — and nothing is
//!   reported; stepped with `run_once` (the main future a task of its
//!   own), the turn is idle and one `ReportKind::Stall` report
//!   (`run_once would block forever`) says the same;
//! * without debug mode only a program whose waits keep no waker at all can
//!   be told (a waker parked in a primitive counts as one that could wake):
//!   there the main future and the bystanders leave primitives' waits by a
//!   `timeout` and end on a future that keeps no waker, and
//!   `run_until_complete` panics ("would block forever") or a `run_once`
//!   turn is idle. (A pool job's done callback is not counted by the plain
//!   check — a documented limit — so that source is used in debug mode
//!   only.)
//!
//! Every seed fails the test rather than hang (`common::Watchdog`), and
//! joins every thread it started. `SEEDS=N` runs more or fewer (default
//! 150, about a second in a debug build); `SEED=n` runs one and prints its
//! program.
mod common;

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use common::XorShift as Rng;
use corio::sync::{Condition, Event, Lock, Queue, Semaphore, mpsc, oneshot};
use corio::{EventLoop, Report, ReportKind, Task};

type BoxFut = Pin<Box<dyn Future<Output = ()>>>;

/// What the seeds ran into, for the summary line.
#[derive(Default, Debug, Clone, Copy)]
struct Stats {
    live_debug: u64,
    live_plain: u64,
    proven_panics: u64,
    proven_reports: u64,
    plain_panics: u64,
    plain_idle_turns: u64,
    warnings: u64,
    chain_tasks: u64,
}
thread_local! { static STATS: std::cell::Cell<Stats> = std::cell::Cell::new(Stats::default()); }
fn stat(f: impl FnOnce(&mut Stats)) {
    STATS.with(|c| {
        let mut s = c.get();
        f(&mut s);
        c.set(s)
    });
}

/// What lets the gate go.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Source {
    Sleep,
    CallLater,
    TimeoutElapses,
    Blocking,
    Submit,
    /// A pool job's done callback sets an event; the handle is kept or
    /// dropped (debug mode only: the plain check does not count it).
    DoneCallback {
        keep: bool,
    },
    LoopHandle,
    ForeignWaker,
    /// A `corio::pool::channel` (unbounded or oneshot) fed by another
    /// thread.
    Channel {
        oneshot: bool,
    },
    Io,
}

/// What the stuck gate waits on after its source (if any) fired.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Never {
    Event,
    Queue,
    Semaphore,
    /// A lock held by the task "holder", which waits on an event never set.
    LockHeld,
    /// A oneshot whose sender the task "holder" keeps (it waits on an event
    /// never set).
    OneshotKept,
    /// The gate awaits "c1"; "c1" and "c2" await each other.
    Cycle,
    /// A future that keeps no waker.
    NoWaker,
}

/// How a chain task waits on the one before it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Link {
    Event {
        bystanders: usize,
    },
    Lock,
    Queue,
    Semaphore,
    Oneshot,
    /// `sync::mpsc` (a queue with ends): the sender is the task before.
    Mpsc,
    /// A `Condition` over a `Lock<bool>`, waited on until the flag is set.
    Condition,
    Handle,
}

/// What the gate (or, without debug mode, the main future) leaves behind
/// before its source: timers, I/O registrations, a pool job and a
/// `LoopHandle` that can no longer wake anybody, none of which may delay
/// or prevent the verdict.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Residue {
    None,
    CancelledCallLater,
    TimeoutWon,
    DroppedSleep,
    DroppedInterval,
    AbandonedUdpRecv,
    AbandonedAccept,
    /// A pool job, still running, whose handle a timeout dropped.
    AbandonedJob,
    DroppedLoopHandle,
}

/// How the gate waits on its source.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Wrap {
    Plain,
    /// `select` against an event nobody sets: the task's waker is both in
    /// the event (noted) and with the source (not).
    SelectNever,
    /// Inside `gather`, beside a future that ends at once.
    Gather,
    /// In a task of its own, whose handle the gate awaits.
    Spawned,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Driver {
    RunUntilComplete,
    RunOnce,
}

#[derive(Debug)]
struct Plan {
    debug: bool,
    driver: Driver,
    /// A shortened stall grace (1 ms) instead of the default 5 s.
    short_grace: bool,
    residue: Residue,
    wrap: Wrap,
    source: Option<Source>,
    delay: Duration,
    /// `None`: live (the source lets the gate go for good).
    never: Option<Never>,
    links: Vec<Link>,
    /// The main future is the chain's last waiter (else it awaits handles).
    main_is_last: bool,
    gather: bool,
    /// Plain mode: waits on primitives that the main future and bystanders
    /// leave by a timeout.
    plain_bystanders: usize,
}

impl Plan {
    fn random(rng: &mut Rng) -> Plan {
        let debug = rng.below(3) != 0;
        let driver = if rng.below(3) == 0 {
            Driver::RunOnce
        } else {
            Driver::RunUntilComplete
        };
        let mut sources = vec![
            Source::Sleep,
            Source::CallLater,
            Source::TimeoutElapses,
            Source::Blocking,
            Source::Submit,
            Source::LoopHandle,
            Source::ForeignWaker,
            Source::Channel {
                oneshot: rng.below(2) == 0,
            },
            Source::Io,
        ];
        if debug {
            sources.push(Source::DoneCallback {
                keep: rng.below(2) == 0,
            });
        }
        let live = rng.below(2) == 0;
        let source = if live || rng.below(4) != 0 {
            Some(sources[rng.below(sources.len() as u64) as usize])
        } else {
            None
        };
        let nevers = [
            Never::Event,
            Never::Queue,
            Never::Semaphore,
            Never::LockHeld,
            Never::OneshotKept,
            Never::Cycle,
            Never::NoWaker,
        ];
        let never = (!live).then(|| {
            if debug {
                nevers[rng.below(nevers.len() as u64) as usize]
            } else {
                Never::NoWaker
            }
        });
        let mut links = Vec::new();
        if debug {
            for _ in 0..rng.below(5) {
                links.push(match rng.below(8) {
                    0 => Link::Event {
                        bystanders: rng.below(3) as usize,
                    },
                    1 => Link::Lock,
                    2 => Link::Queue,
                    3 => Link::Semaphore,
                    4 => Link::Oneshot,
                    5 => Link::Mpsc,
                    6 => Link::Condition,
                    _ => Link::Handle,
                });
            }
        }
        let residues = [
            Residue::None,
            Residue::CancelledCallLater,
            Residue::TimeoutWon,
            Residue::DroppedSleep,
            Residue::DroppedInterval,
            Residue::AbandonedUdpRecv,
            Residue::AbandonedAccept,
            Residue::AbandonedJob,
            Residue::DroppedLoopHandle,
        ];
        let wraps = [Wrap::Plain, Wrap::SelectNever, Wrap::Gather, Wrap::Spawned];
        Plan {
            wrap: wraps[rng.below(4) as usize],
            residue: if rng.below(2) == 0 {
                residues[rng.below(residues.len() as u64) as usize]
            } else {
                Residue::None
            },
            debug,
            driver,
            short_grace: rng.below(3) == 0,
            source,
            delay: Duration::from_micros(rng.below(6) * 1000 + rng.below(3) * 300),
            never,
            main_is_last: debug && !links.is_empty() && rng.below(2) == 0,
            gather: rng.below(2) == 0,
            plain_bystanders: if debug { 0 } else { rng.below(3) as usize },
            links,
        }
    }
}

thread_local! {
    /// The event that a `LoopHandle`'s callback or a pool job's done
    /// callback sets (they must be `Send`: they reach it on this thread).
    static GATE: RefCell<Option<Rc<Event>>> = const { RefCell::new(None) };
}

fn set_gate() {
    GATE.with(|g| g.borrow().as_ref().expect("the seed's gate event").set());
}

/// What a seed shares between its tasks and the checks.
#[derive(Default)]
struct World {
    /// Task names → ids.
    ids: RefCell<HashMap<String, u64>>,
    threads: RefCell<Vec<std::thread::JoinHandle<()>>>,
    /// The gate's source fired.
    fired: RefCell<Option<Instant>>,
    /// What must live as long as the loop (a socket nobody waits on).
    keep: RefCell<Vec<Box<dyn std::any::Any>>>,
}

impl World {
    #[track_caller]
    fn spawn(self: &Rc<World>, name: &str, f: impl Future<Output = ()> + 'static) -> Task<()> {
        let task = corio::Builder::new().name(name).spawn(f);
        self.ids
            .borrow_mut()
            .insert(name.to_owned(), task.id().as_u64());
        task
    }

    fn task_line(&self, name: &str) -> String {
        format!("task {} {name:?}", self.ids.borrow()[name])
    }
}

/// A future that keeps no waker: nothing can ever wake it.
fn no_waker() -> impl Future<Output = ()> {
    std::future::poll_fn(|_| Poll::Pending)
}

/// Waits on `source`, which fires after `delay`.
async fn wait_on(source: Source, delay: Duration, world: Rc<World>) {
    match source {
        Source::Sleep => corio::time::sleep(delay).await,
        Source::CallLater => {
            let event = Rc::new(Event::new());
            let e = Rc::clone(&event);
            corio::call_later(delay, move || e.set());
            event.wait().await;
        }
        Source::TimeoutElapses => {
            let never = Event::new();
            let out = corio::time::timeout(delay, never.wait()).await;
            assert!(out.is_err(), "an event nobody sets was set");
        }
        Source::Blocking => {
            let out = corio::spawn_blocking(move || {
                std::thread::sleep(delay);
                7
            })
            .await;
            assert_eq!(out, Ok(7));
        }
        Source::Submit => {
            let out = pool()
                .submit(move || {
                    std::thread::sleep(delay);
                    8
                })
                .unwrap()
                .await;
            assert_eq!(out, Ok(8));
        }
        Source::DoneCallback { keep } => {
            let event = Rc::new(Event::new());
            GATE.with(|g| *g.borrow_mut() = Some(Rc::clone(&event)));
            let job = pool().submit(move || std::thread::sleep(delay)).unwrap();
            assert!(job.add_done_callback(|_| set_gate()));
            let kept = keep.then_some(job);
            event.wait().await;
            drop(kept);
        }
        Source::LoopHandle => {
            let event = Rc::new(Event::new());
            GATE.with(|g| *g.borrow_mut() = Some(Rc::clone(&event)));
            let handle = corio::LoopHandle::current();
            world.threads.borrow_mut().push(std::thread::spawn(move || {
                std::thread::sleep(delay);
                assert!(handle.call_soon_threadsafe(set_gate));
            }));
            event.wait().await;
        }
        Source::ForeignWaker => {
            let flag = Arc::new(AtomicBool::new(false));
            let mut sent = false;
            let w = Rc::clone(&world);
            std::future::poll_fn(move |cx: &mut Context<'_>| {
                if flag.load(Ordering::SeqCst) {
                    return Poll::Ready(());
                }
                if !sent {
                    sent = true;
                    let (waker, flag) = (cx.waker().clone(), Arc::clone(&flag));
                    w.threads.borrow_mut().push(std::thread::spawn(move || {
                        std::thread::sleep(delay);
                        flag.store(true, Ordering::SeqCst);
                        waker.wake();
                    }));
                }
                Poll::Pending
            })
            .await;
        }
        Source::Channel { oneshot: false } => {
            let (tx, mut rx) = corio::pool::channel::unbounded::<u32>();
            world.threads.borrow_mut().push(std::thread::spawn(move || {
                std::thread::sleep(delay);
                tx.send(9).unwrap();
            }));
            assert_eq!(rx.recv().await, Some(9));
        }
        Source::Channel { oneshot: true } => {
            let (tx, rx) = corio::pool::channel::oneshot::<u32>();
            world.threads.borrow_mut().push(std::thread::spawn(move || {
                std::thread::sleep(delay);
                tx.send(9).unwrap();
            }));
            assert_eq!(rx.await.ok(), Some(9));
        }
        Source::Io => {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (mut server, _) = listener.accept().unwrap();
            let mut stream = corio::net::TcpStream::from_std(client).unwrap();
            world.threads.borrow_mut().push(std::thread::spawn(move || {
                use std::io::Write;
                std::thread::sleep(delay);
                server.write_all(b"!").unwrap();
            }));
            let mut buf = [0u8; 1];
            let n = stream.read(&mut buf).await.unwrap();
            assert_eq!((n, buf[0]), (1, b'!'));
            // The stream stays open (and registered) with nobody waiting on
            // it while the gate goes on.
            world.keep.borrow_mut().push(Box::new(stream));
        }
    }
    *world.fired.borrow_mut() = Some(Instant::now());
}

/// Waits on `source` as `wrap` says.
async fn wrapped(wrap: Wrap, source: Source, delay: Duration, world: Rc<World>) {
    let wait = wait_on(source, delay, Rc::clone(&world));
    match wrap {
        Wrap::Plain => wait.await,
        Wrap::SelectNever => {
            let never = Event::new();
            let won = corio::select(never.wait(), wait).await;
            assert!(won.right().is_some());
        }
        Wrap::Gather => {
            let both: Vec<BoxFut> = vec![Box::pin(wait), Box::pin(async {})];
            corio::gather(both).await;
        }
        Wrap::Spawned => world.spawn("source", wait).await.unwrap(),
    }
}

/// Leaves `residue` behind.
async fn leave(residue: Residue, world: Rc<World>) {
    let long = Duration::from_secs(60);
    let short = Duration::from_micros(300);
    match residue {
        Residue::None => {}
        Residue::CancelledCallLater => assert!(corio::call_later(long, || ()).cancel()),
        Residue::TimeoutWon => corio::time::timeout(long, corio::yield_now())
            .await
            .unwrap(),
        Residue::DroppedSleep => {
            let out = corio::time::timeout(short, corio::time::sleep(long)).await;
            assert!(out.is_err());
        }
        Residue::DroppedInterval => {
            let mut interval = corio::time::interval(long);
            interval.tick().await; // the first tick is at once
        }
        Residue::AbandonedUdpRecv => {
            let socket = corio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
            let mut buf = [0u8; 4];
            let out = corio::time::timeout(short, socket.recv(&mut buf)).await;
            assert!(out.is_err());
            world.keep.borrow_mut().push(Box::new(socket));
        }
        Residue::AbandonedAccept => {
            let listener = corio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            let out = corio::time::timeout(short, listener.accept()).await;
            assert!(out.is_err());
            world.keep.borrow_mut().push(Box::new(listener));
        }
        Residue::AbandonedJob => {
            static POOL: std::sync::OnceLock<corio::pool::ThreadPool> = std::sync::OnceLock::new();
            let pool = POOL.get_or_init(|| corio::pool::ThreadPool::new(1));
            let (release, blocked) = std::sync::mpsc::channel::<()>();
            let job = pool
                .submit(move || {
                    let _ = blocked.recv_timeout(Duration::from_secs(10));
                })
                .unwrap();
            let out = corio::time::timeout(short, job).await;
            assert!(out.is_err());
            // Released at the seed's end.
            world.keep.borrow_mut().push(Box::new(release));
        }
        Residue::DroppedLoopHandle => {
            let handle = corio::LoopHandle::current();
            std::thread::spawn(move || drop(handle)).join().unwrap();
        }
    }
}

/// The shared pool of `Source::Submit` and `Source::DoneCallback`.
fn pool() -> &'static corio::pool::ThreadPool {
    static POOL: std::sync::OnceLock<corio::pool::ThreadPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| corio::pool::ThreadPool::new(2))
}

/// One link's two ends: the releasing side (run by the task before) and
/// the waiting side.
enum Out {
    Event(Rc<Event>),
    Lock(Rc<Lock<()>>),
    Queue(Rc<Queue<u32>>),
    Semaphore(Rc<Semaphore>),
    Oneshot(Option<oneshot::Sender<u32>>),
    Mpsc(mpsc::Sender<u32>),
    Condition(Rc<(Lock<bool>, Condition)>),
    Handle,
}

enum In {
    Event(Rc<Event>),
    Lock(Rc<Lock<()>>),
    Queue(Rc<Queue<u32>>),
    Semaphore(Rc<Semaphore>),
    Oneshot(oneshot::Receiver<u32>),
    Mpsc(mpsc::Receiver<u32>),
    Condition(Rc<(Lock<bool>, Condition)>),
    Handle(Task<()>),
}

fn link_ends(link: Link) -> (Out, In) {
    match link {
        Link::Event { .. } => {
            let e = Rc::new(Event::new());
            (Out::Event(Rc::clone(&e)), In::Event(e))
        }
        Link::Lock => {
            let l = Rc::new(Lock::new(()));
            (Out::Lock(Rc::clone(&l)), In::Lock(l))
        }
        Link::Queue => {
            let q = Rc::new(Queue::new(0));
            (Out::Queue(Rc::clone(&q)), In::Queue(q))
        }
        Link::Semaphore => {
            let s = Rc::new(Semaphore::new(0));
            (Out::Semaphore(Rc::clone(&s)), In::Semaphore(s))
        }
        Link::Oneshot => {
            let (tx, rx) = oneshot::channel();
            (Out::Oneshot(Some(tx)), In::Oneshot(rx))
        }
        Link::Mpsc => {
            let (tx, rx) = mpsc::channel(1);
            (Out::Mpsc(tx), In::Mpsc(rx))
        }
        Link::Condition => {
            let c = Rc::new((Lock::new(false), Condition::new()));
            (Out::Condition(Rc::clone(&c)), In::Condition(c))
        }
        Link::Handle => unreachable!("a handle link is made from the task before"),
    }
}

/// What the dump names for a wait on `link`'s waiting side.
fn waits_on(link: Link) -> &'static str {
    match link {
        Link::Event { .. } => "Event#",
        Link::Lock => "Lock#",
        Link::Queue => "Queue.get#",
        Link::Semaphore => "Semaphore#",
        Link::Oneshot => "oneshot#",
        Link::Mpsc => "mpsc.recv#",
        Link::Condition => "Condition#",
        Link::Handle => "task ",
    }
}

/// A chain task's body: takes its outgoing lock at once (before anyone can
/// ask for it), waits on `first` (its own wait), then lets the next one go.
fn node(first: BoxFut, out: Option<Out>) -> BoxFut {
    Box::pin(async move {
        let mut out = out;
        let guard_lock = match &out {
            Some(Out::Lock(l)) => Some(Rc::clone(l)),
            _ => None,
        };
        let guard = guard_lock.as_ref().map(|l| l.try_lock().expect("free"));
        first.await;
        match out.as_mut() {
            Some(Out::Event(e)) => e.set(),
            Some(Out::Lock(_)) => drop(guard),
            Some(Out::Queue(q)) => q.put_nowait(1).unwrap(),
            Some(Out::Semaphore(s)) => s.release(),
            Some(Out::Oneshot(tx)) => tx.take().unwrap().send(1).unwrap(),
            Some(Out::Mpsc(tx)) => tx.try_send(1).unwrap(),
            Some(Out::Condition(c)) => {
                *c.0.try_lock().expect("nobody holds it past a wait") = true;
                c.1.notify_all();
            }
            Some(Out::Handle) | None => {}
        }
        // (A task that let go is done: a handle link's awaiter goes on.)
    })
}

fn wait_in(input: In) -> BoxFut {
    Box::pin(async move {
        match input {
            In::Event(e) => e.wait().await,
            In::Lock(l) => drop(l.lock().await),
            In::Queue(q) => assert_eq!(q.get().await.unwrap(), 1),
            In::Semaphore(s) => s.acquire().await.forget(),
            In::Oneshot(rx) => assert_eq!(rx.await, Ok(1)),
            In::Mpsc(mut rx) => assert_eq!(rx.recv().await, Some(1)),
            In::Condition(c) => {
                let mut flag = c.0.lock().await;
                while !*flag {
                    flag = c.1.wait(flag).await;
                }
            }
            In::Handle(t) => t.await.unwrap(),
        }
    })
}

/// The gate's stuck wait (and the helpers it needs, spawned first).
fn never_wait(never: Never, world: &Rc<World>) -> BoxFut {
    let never_event = || {
        let e = Event::new();
        async move { e.wait().await }
    };
    match never {
        Never::Event => Box::pin(never_event()),
        Never::Queue => Box::pin(async {
            let q = Queue::<u32>::new(0);
            let _ = q.get().await;
        }),
        Never::Semaphore => Box::pin(async {
            Semaphore::new(0).acquire().await.forget();
        }),
        Never::LockHeld => {
            let lock = Rc::new(Lock::new(()));
            let l = Rc::clone(&lock);
            let wait = never_event();
            world
                .spawn("holder", async move {
                    let _held = l.try_lock().expect("free");
                    wait.await;
                })
                .detach();
            Box::pin(async move { drop(lock.lock().await) })
        }
        Never::OneshotKept => {
            let (tx, rx) = oneshot::channel::<u32>();
            let wait = never_event();
            world
                .spawn("holder", async move {
                    let _kept = tx;
                    wait.await;
                })
                .detach();
            Box::pin(async move {
                let _ = rx.await;
            })
        }
        Never::Cycle => {
            // c1 awaits c2 and c2 awaits c1; c1 would then set the event
            // the gate waits on.
            let done = Rc::new(Event::new());
            let d = Rc::clone(&done);
            let slot: Rc<RefCell<Option<Task<()>>>> = Rc::default();
            let s = Rc::clone(&slot);
            let c1 = world.spawn("c1", async move {
                corio::yield_now().await; // c2 exists by now
                let c2 = s.borrow_mut().take().unwrap();
                drop(c2.await);
                d.set();
            });
            let c2 = world.spawn("c2", async move { drop(c1.await) });
            *slot.borrow_mut() = Some(c2);
            Box::pin(async move { done.wait().await })
        }
        Never::NoWaker => Box::pin(no_waker()),
    }
}

/// Builds the seed's program; returns the main future and what its
/// stall report must say (lines that must appear).
fn program(plan: &Plan, world: &Rc<World>) -> (BoxFut, Vec<String>) {
    let mut expect = Vec::new();
    // Helpers of the stuck wait are spawned before the gate.
    let never = plan.never.map(|n| never_wait(n, world));
    if let Some(n) = plan.never {
        let gate_waits = match n {
            Never::Event | Never::Cycle => "Event#",
            Never::Queue => "Queue.get#",
            Never::Semaphore => "Semaphore#",
            Never::LockHeld => "Lock#",
            Never::OneshotKept => "oneshot#",
            Never::NoWaker => "nothing",
        };
        expect.push(format!("\"gate\" (spawned at|waits on {gate_waits}"));
        match n {
            Never::LockHeld | Never::OneshotKept => {
                expect.push("\"holder\" (spawned at|waits on Event#".to_owned())
            }
            Never::Cycle => {
                expect.push("\"c1\" (spawned at|waits on task ".to_owned());
                expect.push("\"c2\" (spawned at|waits on task ".to_owned());
                expect.push("a cycle: task ".to_owned());
            }
            _ => {}
        }
    }
    let (source, residue, wrap) = (plan.source, plan.residue, plan.wrap);
    let (delay, w) = (plan.delay, Rc::clone(world));
    let gate_wait: BoxFut = Box::pin(async move {
        leave(residue, Rc::clone(&w)).await;
        if let Some(source) = source {
            wrapped(wrap, source, delay, w).await;
        }
        if let Some(never) = never {
            never.await;
        }
    });
    // The chain: node 0 is the gate, node i waits on link i - 1.
    let mut handles: Vec<Task<()>> = Vec::new();
    let mut names = vec!["gate".to_owned()];
    let n = plan.links.len();
    let mut first = Some(gate_wait);
    let mut bystander_names = Vec::new();
    for i in 0..=n {
        let name = names[i].clone();
        let is_main = plan.main_is_last && i == n;
        if is_main {
            break;
        }
        let out_link = plan.links.get(i).copied();
        let (out, input) = match out_link {
            None => (None, None),
            Some(Link::Handle) => (Some(Out::Handle), None),
            Some(link) => {
                let (o, i) = link_ends(link);
                (Some(o), Some(i))
            }
        };
        let extra = match (out_link, &out) {
            (Some(Link::Event { bystanders }), Some(Out::Event(e))) => {
                (0..bystanders).map(|_| Rc::clone(e)).collect::<Vec<_>>()
            }
            _ => Vec::new(),
        };
        let task = world.spawn(&name, node(first.take().unwrap(), out));
        for (b, e) in extra.into_iter().enumerate() {
            let bname = format!("{name}-by{b}");
            handles.push(world.spawn(&bname, async move { e.wait().await }));
            if plan.never.is_some() {
                expect.push(format!("\"{bname}\" (spawned at|waits on Event#"));
            }
            bystander_names.push(bname);
        }
        let next_name = format!("t{}", i + 1);
        if let Some(link) = out_link {
            if plan.never.is_some() {
                let waits = if link == Link::Handle {
                    world.task_line(&name)
                } else {
                    waits_on(link).to_owned()
                };
                if plan.main_is_last && i + 1 == n {
                    expect.push(format!("MAIN|waits on {waits}"));
                } else {
                    expect.push(format!("\"{next_name}\" (spawned at|waits on {waits}"));
                }
            }
            first = Some(match input {
                Some(input) => {
                    handles.insert(0, task);
                    wait_in(input)
                }
                None => wait_in(In::Handle(task)),
            });
            names.push(next_name);
        } else {
            handles.insert(0, task);
        }
    }
    let gather = plan.gather;
    let main: BoxFut = if plan.main_is_last {
        let first = first.unwrap();
        Box::pin(async move {
            first.await;
            for h in handles {
                h.await.unwrap();
            }
        })
    } else {
        if plan.never.is_some() {
            // The main future waits on the chain's last task first (or,
            // through `gather`, on tasks).
            let last = names.last().unwrap();
            let waits = if gather {
                "task ".to_owned()
            } else {
                world.task_line(last)
            };
            expect.push(format!("MAIN|waits on {waits}"));
        }
        drop(first);
        Box::pin(async move {
            if gather {
                for out in corio::gather(handles).await {
                    out.unwrap();
                }
            } else {
                for h in handles {
                    h.await.unwrap();
                }
            }
        })
    };
    (main, expect)
}

/// The plain (no debug mode) program: the main future and its bystanders
/// give up waits on primitives by a timeout, the main future waits on the
/// source, and a stuck one then on a future that keeps no waker.
fn plain_program(plan: &Plan, world: &Rc<World>, rng: &mut Rng) -> BoxFut {
    let give_up = |k: u64| -> BoxFut {
        let short = Duration::from_micros(200);
        match k {
            0 => Box::pin(async move {
                let _ = corio::time::timeout(short, Event::new().wait()).await;
            }),
            1 => Box::pin(async move {
                let lock = Lock::new(());
                let _held = lock.lock().await;
                let _ = corio::time::timeout(short, lock.lock()).await;
            }),
            2 => Box::pin(async move {
                let q = Queue::<u32>::new(0);
                let _ = corio::time::timeout(short, q.get()).await;
            }),
            3 => Box::pin(async move {
                let s = Semaphore::new(0);
                let _ = corio::time::timeout(short, s.acquire()).await;
            }),
            _ => Box::pin(async move {
                let (_tx, rx) = oneshot::channel::<u32>();
                let _ = corio::time::timeout(short, rx).await;
            }),
        }
    };
    for b in 0..plan.plain_bystanders {
        let wait = give_up(rng.below(5));
        world
            .spawn(&format!("bystander-{b}"), async move {
                wait.await;
                no_waker().await;
            })
            .detach();
    }
    let before = give_up(rng.below(5));
    let (source, delay, never, w) = (plan.source, plan.delay, plan.never, Rc::clone(world));
    let (residue, wrap) = (plan.residue, plan.wrap);
    Box::pin(async move {
        before.await;
        leave(residue, Rc::clone(&w)).await;
        if let Some(source) = source {
            wrapped(wrap, source, delay, w).await;
        }
        if never.is_some() {
            no_waker().await;
        }
    })
}

/// Does `text` have a line with both parts of `want` ("a|b"), or `want`?
/// (`MAIN|x`: the main future's line — of the main task under `run_once`.)
fn has_line(text: &str, want: &str, driver: Driver) -> bool {
    let want = match want.strip_prefix("MAIN|") {
        Some(x) if driver == Driver::RunUntilComplete => format!("the main future {x}"),
        Some(x) => format!("\"main\" (spawned at|{x}"),
        None => want.to_owned(),
    };
    match want.split_once('|') {
        Some((a, b)) => text.lines().any(|l| l.contains(a) && l.contains(b)),
        None => text.contains(&want),
    }
}

fn run_one(seed: u64, verbose: bool) -> Result<(), String> {
    let mut rng = Rng::seeded(seed);
    let plan = Plan::random(&mut rng);
    if verbose {
        eprintln!("seed {seed}: {plan:#?}");
    }
    let fail = |what: String| format!("seed {seed}: {what}\n{plan:?}");
    let mut lp = EventLoop::new().unwrap();
    lp.set_debug(plan.debug);
    if plan.short_grace {
        lp.set_stall_grace(Duration::from_millis(1));
    }
    let reports = common::capture_reports(&lp);
    let world = Rc::new(World::default());
    GATE.with(|g| *g.borrow_mut() = None);
    let started = Instant::now();
    // Build the program inside the loop (spawns need it running).
    let built = lp.run_until_complete({
        let world = Rc::clone(&world);
        let plan = &plan;
        let rng = &mut rng;
        async move {
            let built = if plan.debug {
                program(plan, &world)
            } else {
                (plain_program(plan, &world, rng), Vec::new())
            };
            // Every task has its first poll before the main future's:
            // each lock is taken by its holder first.
            corio::yield_now().await;
            corio::yield_now().await;
            built
        }
    });
    let (main, expect) = built;
    let stuck = plan.never.is_some();
    // What the loop said: `Some(text)` when it called the program stuck.
    let verdict: Result<Option<String>, String> = match plan.driver {
        Driver::RunUntilComplete => {
            match catch_unwind(AssertUnwindSafe(|| lp.run_until_complete(main))) {
                Ok(()) => Ok(None),
                Err(p) => {
                    let text = common::panic_text(&*p);
                    if text.contains("would block forever") {
                        Ok(Some(text))
                    } else {
                        Err(format!("panicked: {text}"))
                    }
                }
            }
        }
        Driver::RunOnce => {
            let task = corio::Builder::new().name("main").spawn_on(&lp, main);
            let mut idle = false;
            let mut turns = 0u64;
            while !task.is_done() {
                turns += 1;
                if turns > 1_000_000 {
                    return Err(fail("a million turns without an end".into()));
                }
                if lp.run_once().idle {
                    idle = true;
                    break;
                }
            }
            if task.is_done() {
                match catch_unwind(AssertUnwindSafe(|| lp.run_until_complete(task))) {
                    Ok(Ok(())) => Ok(None),
                    Ok(Err(e)) => Err(format!("the main task failed: {e}")),
                    Err(p) => Err(format!("panicked: {}", common::panic_text(&*p))),
                }
            } else if idle && plan.debug {
                let stalls: Vec<String> = reports
                    .borrow()
                    .iter()
                    .filter(|r| r.kind() == ReportKind::Stall)
                    .map(|r| r.message().to_owned())
                    .collect();
                match &stalls[..] {
                    [one] => Ok(Some(one.clone())),
                    _ => Err(format!("an idle turn with stall reports {stalls:?}")),
                }
            } else {
                Ok(Some(String::from("(an idle turn)")))
            }
        }
    };
    let took = started.elapsed();
    let fired = *world.fired.borrow();
    let reports: Vec<Report> = reports.borrow().clone();
    // Let the loop go (tasks still pending are dropped), then the threads.
    world.keep.borrow_mut().clear();
    drop(lp);
    for t in world.threads.take() {
        t.join()
            .map_err(|_| fail("a helper thread panicked".into()))?;
    }
    GATE.with(|g| *g.borrow_mut() = None);
    let verdict = verdict.map_err(fail)?;
    // Warnings of an unproven stall are allowed past a shortened grace,
    // for a source the loop cannot see through, under run_until_complete
    // (which keeps waiting); proofs come as reports only from run_once.
    let (proofs, warnings): (Vec<&Report>, Vec<&Report>) = reports
        .iter()
        .filter(|r| r.kind() == ReportKind::Stall)
        .partition(|r| r.message().contains("would block forever"));
    // (Without debug mode the warning is the one-line hint, which a live
    // `LoopHandle` rules out.)
    let may_warn = plan.short_grace
        && plan.driver == Driver::RunUntilComplete
        && if plan.debug {
            matches!(
                plan.source,
                Some(Source::LoopHandle | Source::ForeignWaker | Source::Channel { .. })
            )
        } else {
            matches!(
                plan.source,
                Some(Source::ForeignWaker | Source::Channel { .. })
            )
        };
    for w in &warnings {
        if !may_warn || !w.message().contains("the loop keeps waiting") {
            return Err(fail(format!("an unexpected stall warning: {w:?}")));
        }
    }
    let want_proofs = usize::from(stuck && plan.debug && plan.driver == Driver::RunOnce);
    if proofs.len() != want_proofs {
        return Err(fail(format!("{} proof reports: {proofs:?}", proofs.len())));
    }
    if verbose {
        eprintln!("seed {seed}: stuck {stuck}, verdict {verdict:?}");
    }
    stat(|s| {
        s.warnings += warnings.len() as u64;
        s.chain_tasks += plan.links.len() as u64;
        match (stuck, plan.debug, plan.driver) {
            (false, true, _) => s.live_debug += 1,
            (false, false, _) => s.live_plain += 1,
            (true, true, Driver::RunUntilComplete) => s.proven_panics += 1,
            (true, true, Driver::RunOnce) => s.proven_reports += 1,
            (true, false, Driver::RunUntilComplete) => s.plain_panics += 1,
            (true, false, Driver::RunOnce) => s.plain_idle_turns += 1,
        }
    });
    match (stuck, verdict) {
        (false, Some(text)) => {
            return Err(fail(format!(
                "a program with a live source was called stuck after {took:?}:\n{text}"
            )));
        }
        (false, None) => {
            if took > plan.delay + Duration::from_secs(2) {
                return Err(fail(format!("a live program took {took:?}")));
            }
        }
        (true, None) => {
            return Err(fail(format!(
                "a stuck program was not called stuck (it finished?) in {took:?}"
            )));
        }
        (true, Some(text)) => {
            if plan.source.is_some() && fired.is_none() {
                return Err(fail(format!(
                    "called stuck before the source fired:\n{text}"
                )));
            }
            if took > plan.delay + Duration::from_secs(2) {
                return Err(fail(format!("a stall proven only after {took:?}")));
            }
            if plan.debug {
                let head = if plan.driver == Driver::RunOnce {
                    "run_once would block forever"
                } else {
                    "corio: run_until_complete would block forever"
                };
                if !text.starts_with(head) {
                    return Err(fail(format!("not the proof's message:\n{text}")));
                }
                if !text.contains("Who waits on what:") {
                    return Err(fail(format!("no who-waits-on-what:\n{text}")));
                }
                for want in &expect {
                    if !has_line(&text, want, plan.driver) {
                        return Err(fail(format!("no line with {want:?} in:\n{text}")));
                    }
                }
            } else if plan.driver == Driver::RunUntilComplete
                && !text.starts_with(
                    "corio: run_until_complete would block forever: the main future is pending \
                     and nothing can ever wake it",
                )
            {
                return Err(fail(format!("not the plain check's message:\n{text}")));
            }
        }
    }
    if verbose {
        eprintln!("seed {seed}: ok in {took:?}");
    }
    Ok(())
}

/// Silences the panic hook for the panics the test provokes ("would block
/// forever"); any other panic is printed as usual.
fn quiet_stall_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !common::panic_text(info.payload()).contains("would block forever") {
                default(info);
            }
        }));
    });
}

#[test]
fn stall_fuzz() {
    quiet_stall_panics();
    common::run_seeds("stall_fuzz", 150, run_one, || {
        format!("{:?}", STATS.with(|c| c.get()))
    });
}
