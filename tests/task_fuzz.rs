//! The task lifecycle, seeded and randomized, against a model. Each seed
//! drives one `EventLoop` with `run_once`, turn by turn, through a random
//! sequence of operations between the turns:
//!
//! * spawn named counting futures (small ones, whose output waits in place,
//!   and large ones, whose output is boxed) that log every poll and drop;
//!   each poll does what the driver planned for it: park with its waker
//!   kept, park with nobody holding it, yield, complete with a value,
//!   panic, complete and panic in its destructor, cancel itself (then
//!   complete, park or panic), or do what a callback may (below) and park;
//! * spawn a task that awaits another task's handle;
//! * cancel (`Task::cancel`, `TaskRef::cancel`), drop handles (detach), add
//!   done callbacks before and after completion; callbacks (done ones and
//!   `call_soon` ones, some of these cancelled) that wake a kept waker,
//!   spawn, cancel, drop a handle, add another done callback, or panic;
//! * wake kept wakers from this thread (`wake_by_ref` many times, or by
//!   value) and from another thread (joined before the turn), and stale
//!   wakers of finished tasks, after a new task has taken their slab slot;
//! * `call_later` callbacks (under half a millisecond, some cancelled).
//!
//! The model is the ready queue itself (FIFO; a turn runs what was queued
//! when it began; wakes from outside the loop — this thread between turns,
//! or another thread — queue at the next turn's start), so every turn's
//! spawns, polls, drops, callbacks, awaited outcomes and their order are
//! predicted exactly and compared with the log. That also checks that no
//! future is polled that was not woken (but for its first poll), none after
//! it returned `Ready` or was dropped; that a cancelled task's future is
//! dropped and its awaiter and done callbacks get `Cancelled`; that done
//! callbacks run once each, in the order added, on the loop (never inside
//! `add_done_callback` or the last poll), one added while they run at a
//! later turn. Each poll checks `current_task()` (id and name; also in the
//! destructor of a finished future) and logs `all_tasks()`, compared with
//! the model's live set. After each turn: `Turn::idle` exactly when the
//! model says nothing is queued, no timer armed and no waker of a pending
//! task held outside the loop (a turn that would wait for ever is not run:
//! the driver wakes or cancels a task first); `tasks_polled` and
//! `callbacks_run`; `is_done` / `is_cancelled` / `name` of every handle and
//! `state` of every `TaskRef`; the return value of every cancel; the
//! reports (unretrieved panics, panicking callbacks). `call_later`
//! callbacks (kept out of the exact log: when a look fires them is the
//! clock's business) run once, never before their deadline, never after a
//! cancel that returned `true`. At the end the loop is dropped: exactly the
//! pending futures are dropped then, every future was dropped exactly once,
//! and every handle left gives its outcome (`Cancelled` for the pending).
//!
//! `SEEDS=N` runs more or fewer (default 200, well under 2 s in a debug
//! build); `SEED=n` runs one and prints its operations.
mod common;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use common::XorShift as Rng;
use corio::{Builder, CallbackHandle, EventLoop, ReportKind, Task, TaskError, TaskRef, TaskState};

/// What a task's next poll does.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Act {
    /// `Pending`, its waker kept by the test.
    Park,
    /// `Pending`, nobody holds its waker.
    Bare,
    /// Wakes itself, `Pending`.
    Yield,
    /// Does what a callback may do (wake, spawn, cancel, add a done
    /// callback, drop a handle) from inside the poll, then parks (waker
    /// kept).
    Do(CbAct),
    /// Completes with the value (its waker kept).
    Ready(u64),
    /// Panics (its waker kept).
    Panic,
    /// Completes with the value, and its destructor panics (the task
    /// ends `Panicked`).
    ReadyDropPanic(u64),
    /// Cancels itself, then completes (0), parks (1) or panics (2).
    CancelSelf(u8),
}

/// What a callback does besides logging itself.
#[derive(Clone, Copy, Debug, PartialEq)]
enum CbAct {
    Log,
    /// Wakes task `j`'s kept waker.
    Wake(u64),
    /// Spawns a task (large or not) whose first poll does `CHILD[k]`.
    Spawn(u8, bool),
    /// Cancels task `j` through a `TaskRef`.
    Cancel(u64),
    /// Adds a (logging) done callback to task `k`, if the test holds its
    /// handle.
    Add(u64),
    /// Drops task `k`'s handle, if the test holds it.
    Detach(u64),
    /// Panics (contained, reported as a `CallbackPanic`).
    Panic,
}

/// The first polls of tasks spawned by callbacks and polls.
const CHILD: [Act; 6] = [
    Act::Park,
    Act::Bare,
    Act::Yield,
    Act::Ready(5),
    Act::Panic,
    Act::CancelSelf(0),
];

#[derive(Clone, Debug, PartialEq)]
enum Ev {
    Spawn(u64, String),
    /// A poll: the task, and the ids `all_tasks()` gave.
    Poll(u64, Vec<u64>),
    Drop(u64),
    /// A `call_soon` callback ran.
    Cb(u64),
    /// A `call_later` callback ran (checked apart: timers are not modelled
    /// turn by turn).
    Later(u64),
    /// A done callback ran: its id, its task, the outcome it saw.
    Done(u64, u64, String),
    /// An awaiting task got the outcome.
    Joined(u64, String),
    /// A cancel from inside the loop, and what it returned.
    Cancel(u64, bool),
}

#[derive(Default)]
struct Sh {
    log: RefCell<Vec<Ev>>,
    drops: RefCell<HashMap<u64, u32>>,
    actions: RefCell<HashMap<u64, Act>>,
    store: RefCell<HashMap<u64, Waker>>,
    handles: RefCell<HashMap<u64, Task<u64>>>,
    refs: RefCell<HashMap<u64, TaskRef>>,
    errors: RefCell<Vec<String>>,
    names: Cell<u64>,
    next_cb: Cell<u64>,
}
type S = Rc<Sh>;

impl Sh {
    fn ev(&self, ev: Ev) {
        self.log.borrow_mut().push(ev);
    }
    fn err(&self, msg: String) {
        let mut e = self.errors.borrow_mut();
        if e.len() < 20 {
            e.push(msg);
        }
    }
    fn cb_id(&self) -> u64 {
        let id = self.next_cb.get();
        self.next_cb.set(id + 1);
        id
    }
    fn dropped(&self, id: u64) {
        let mut d = self.drops.borrow_mut();
        let n = d.entry(id).or_insert(0);
        *n += 1;
        if *n > 1 {
            self.err(format!("task {id}'s future dropped twice"));
        }
        drop(d);
        self.ev(Ev::Drop(id));
    }
}

fn out_str(r: &Result<u64, TaskError>) -> String {
    match r {
        Ok(v) => format!("ok:{v}"),
        Err(TaskError::Cancelled) => "cancelled".into(),
        Err(TaskError::Panicked(p)) => format!("panic:{}:{}", p.message(), p.task_name()),
    }
}

fn live_ids() -> Vec<u64> {
    let mut ids: Vec<u64> = corio::all_tasks().iter().map(|t| t.id().as_u64()).collect();
    ids.sort();
    ids
}

/// Checks `current_task()` inside a poll of task `id` named `name`.
fn check_current(sh: &Sh, id: u64, name: &str) {
    match corio::current_task() {
        Some(t) if t.id().as_u64() == id && t.name() == name => {}
        other => sh.err(format!(
            "task {id} ({name}) polled, current_task() = {other:?}"
        )),
    }
}

/// A counting future: logs its polls and its drop; each poll does what
/// the driver planned (`Sh::actions`, `Park` when nothing is planned).
/// `N` pads it, so that large ones are boxed without the in-place wrapper.
struct Worker<const N: usize> {
    sh: S,
    id: Rc<Cell<u64>>,
    name: String,
    done: bool,
    /// Panic in the destructor.
    bomb: bool,
    _pad: [u8; N],
}

impl<const N: usize> Future for Worker<N> {
    type Output = u64;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        let id = self.id.get();
        let sh = self.sh.clone();
        if self.done {
            sh.err(format!("task {id} polled after it returned Ready"));
        }
        check_current(&sh, id, &self.name);
        sh.ev(Ev::Poll(id, live_ids()));
        let act = sh.actions.borrow_mut().remove(&id).unwrap_or(Act::Park);
        let keep = |sh: &Sh| {
            let old = sh.store.borrow_mut().insert(id, cx.waker().clone());
            drop(old);
        };
        match act {
            Act::Park => keep(&sh),
            Act::Bare => {}
            Act::Yield => cx.waker().wake_by_ref(),
            Act::Do(a) => {
                effect(&sh, a);
                keep(&sh);
            }
            // (A finished task's waker kept: stale wakes later.)
            Act::Ready(v) => {
                keep(&sh);
                self.done = true;
                return Poll::Ready(v);
            }
            Act::Panic => {
                keep(&sh);
                panic!("expected: panic in {id}")
            }
            Act::ReadyDropPanic(v) => {
                keep(&sh);
                self.done = true;
                self.bomb = true;
                return Poll::Ready(v);
            }
            Act::CancelSelf(k) => {
                let me = corio::current_task().unwrap();
                if !me.cancel() {
                    sh.err(format!("task {id}: cancelling itself returned false"));
                }
                match k {
                    0 => {
                        self.done = true;
                        return Poll::Ready(7);
                    }
                    1 => {}
                    _ => panic!("expected: panic in {id}"),
                }
            }
        }
        Poll::Pending
    }
}

impl<const N: usize> Drop for Worker<N> {
    fn drop(&mut self) {
        let id = self.id.get();
        if self.done {
            // Dropped as its task finishes: still the task's work.
            check_current(&self.sh, id, &self.name);
        }
        self.sh.dropped(id);
        if self.bomb {
            panic!("expected: panic in {id}");
        }
    }
}

/// A counting future that awaits another task's handle.
struct Joiner {
    sh: S,
    id: Rc<Cell<u64>>,
    name: String,
    handle: Task<u64>,
    done: bool,
}

impl Future for Joiner {
    type Output = u64;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u64> {
        let id = self.id.get();
        let sh = self.sh.clone();
        if self.done {
            sh.err(format!("joiner {id} polled after it returned Ready"));
        }
        check_current(&sh, id, &self.name);
        sh.ev(Ev::Poll(id, live_ids()));
        match Pin::new(&mut self.handle).poll(cx) {
            Poll::Ready(r) => {
                sh.ev(Ev::Joined(id, out_str(&r)));
                self.done = true;
                Poll::Ready(1)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl Drop for Joiner {
    fn drop(&mut self) {
        if self.done {
            check_current(&self.sh, self.id.get(), &self.name);
        }
        self.sh.dropped(self.id.get());
    }
}

fn next_name(sh: &Sh) -> String {
    let k = sh.names.get();
    sh.names.set(k + 1);
    format!("n{k}")
}

fn spawn_on<F: Future<Output = u64> + 'static>(
    lp: Option<&EventLoop>,
    name: &str,
    f: F,
) -> Task<u64> {
    let b = Builder::new().name(name);
    match lp {
        Some(lp) => b.spawn_on(lp, f),
        None => b.spawn(f),
    }
}

fn register(sh: &S, task: Task<u64>, cell: &Cell<u64>, name: String) -> u64 {
    let id = task.id().as_u64();
    cell.set(id);
    sh.refs.borrow_mut().insert(id, task.task_ref());
    sh.handles.borrow_mut().insert(id, task);
    sh.ev(Ev::Spawn(id, name));
    id
}

fn spawn_worker(sh: &S, lp: Option<&EventLoop>, big: bool, act: Act) -> u64 {
    let name = next_name(sh);
    let cell = Rc::new(Cell::new(u64::MAX));
    let task = if big {
        let f = Worker::<128> {
            sh: sh.clone(),
            id: cell.clone(),
            name: name.clone(),
            done: false,
            bomb: false,
            _pad: [0; 128],
        };
        spawn_on(lp, &name, f)
    } else {
        let f = Worker::<0> {
            sh: sh.clone(),
            id: cell.clone(),
            name: name.clone(),
            done: false,
            bomb: false,
            _pad: [],
        };
        spawn_on(lp, &name, f)
    };
    sh.actions.borrow_mut().insert(task.id().as_u64(), act);
    register(sh, task, &cell, name)
}

fn spawn_joiner(sh: &S, lp: &EventLoop, target: u64) -> u64 {
    let handle = sh.handles.borrow_mut().remove(&target).unwrap();
    let name = next_name(sh);
    let cell = Rc::new(Cell::new(u64::MAX));
    let f = Joiner {
        sh: sh.clone(),
        id: cell.clone(),
        name: name.clone(),
        handle,
        done: false,
    };
    let task = spawn_on(Some(lp), &name, f);
    register(sh, task, &cell, name)
}

fn effect(sh: &S, act: CbAct) {
    match act {
        CbAct::Log => {}
        CbAct::Wake(j) => {
            let w = sh.store.borrow().get(&j).cloned();
            if let Some(w) = w {
                w.wake();
            }
        }
        CbAct::Spawn(k, big) => {
            spawn_worker(sh, None, big, CHILD[k as usize]);
        }
        CbAct::Cancel(j) => {
            let r = sh.refs.borrow().get(&j).cloned();
            let ret = r.is_some_and(|r| r.cancel());
            sh.ev(Ev::Cancel(j, ret));
        }
        CbAct::Add(k) => {
            let hs = sh.handles.borrow();
            if let Some(h) = hs.get(&k) {
                let cb = sh.cb_id();
                if !h.add_done_callback(done_cb(sh.clone(), k, cb, CbAct::Log)) {
                    sh.err(format!(
                        "add_done_callback on {k} from a callback returned false"
                    ));
                }
            }
        }
        CbAct::Detach(k) => {
            let h = sh.handles.borrow_mut().remove(&k);
            drop(h);
        }
        CbAct::Panic => panic!("expected: callback panics"),
    }
}

fn done_cb(sh: S, task: u64, cb: u64, act: CbAct) -> impl FnOnce(&Result<u64, TaskError>) {
    move |r| {
        if let Some(t) = corio::current_task() {
            sh.err(format!("done callback {cb}: current_task() = {t:?}"));
        }
        sh.ev(Ev::Done(cb, task, out_str(r)));
        effect(&sh, act);
    }
}

// ---------- the model ----------

#[derive(Clone, Debug, PartialEq)]
enum Out {
    Ok(u64),
    Cancelled,
    Panic,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Stage {
    Pending,
    Done,
    Lent,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum E {
    Task(u64),
    Cb(u64),
    Done(u64),
}

#[derive(Debug)]
struct MT {
    name: String,
    /// The task whose handle this one awaits.
    joins: Option<u64>,
    stage: Stage,
    out: Option<Out>,
    queued: bool,
    cancelled: bool,
    detached: bool,
    released: bool,
    /// The test holds the handle (in `Sh::handles`).
    in_driver: bool,
    cbs: Vec<(u64, CbAct)>,
    cbs_queued: bool,
    join_waiter: Option<u64>,
    observed: bool,
}

#[derive(Default)]
struct Model {
    tasks: BTreeMap<u64, MT>,
    ready: Vec<E>,
    remote: Vec<u64>,
    actions: HashMap<u64, Act>,
    stored: BTreeSet<u64>,
    /// `call_soon` callbacks: their action, and whether they are pending.
    soon: HashMap<u64, (CbAct, bool)>,
    /// `call_later` callbacks still pending: their deadline.
    later: HashMap<u64, Instant>,
    next_seq: u64,
    /// The task whose slot was freed last, if no spawn took it since (the
    /// slab hands out the last freed slot first).
    last_released: Option<u64>,
    names: u64,
    next_cb: u64,
    events: Vec<Ev>,
    /// Unretrieved-panic reports expected (their messages).
    reports: Vec<String>,
}

fn panic_msg(id: u64) -> String {
    format!("expected: panic in {id}")
}

fn unretrieved(id: u64) -> String {
    format!("{:?}: {}", ReportKind::UnretrievedPanic, panic_msg(id))
}

impl Model {
    fn t(&mut self, id: u64) -> &mut MT {
        self.tasks.get_mut(&id).unwrap()
    }

    fn cb_id(&mut self) -> u64 {
        let id = self.next_cb;
        self.next_cb += 1;
        id
    }

    fn spawn(&mut self, joins: Option<u64>, act: Option<Act>) -> u64 {
        let id = self.next_seq;
        self.next_seq += 1;
        self.last_released = None;
        let name = format!("n{}", self.names);
        self.names += 1;
        self.events.push(Ev::Spawn(id, name.clone()));
        if let Some(a) = act {
            self.actions.insert(id, a);
        }
        self.tasks.insert(
            id,
            MT {
                name,
                joins,
                stage: Stage::Pending,
                out: None,
                queued: true,
                cancelled: false,
                detached: false,
                released: false,
                in_driver: true,
                cbs: Vec::new(),
                cbs_queued: false,
                join_waiter: None,
                observed: false,
            },
        );
        self.ready.push(E::Task(id));
        id
    }

    fn schedule(&mut self, id: u64) {
        if let Some(t) = self.tasks.get_mut(&id) {
            if !t.released && t.stage == Stage::Pending && !t.queued {
                t.queued = true;
                self.ready.push(E::Task(id));
            }
        }
    }

    fn cancel(&mut self, id: u64) -> bool {
        let t = self.t(id);
        if t.released || t.stage != Stage::Pending || t.cancelled {
            return false;
        }
        t.cancelled = true;
        if !t.queued {
            t.queued = true;
            self.ready.push(E::Task(id));
        }
        true
    }

    fn queue_done(&mut self, id: u64) {
        let t = self.t(id);
        if !t.cbs_queued {
            t.cbs_queued = true;
            self.ready.push(E::Done(id));
        }
    }

    fn add_cb(&mut self, id: u64, act: CbAct) {
        let cb = self.cb_id();
        let t = self.t(id);
        t.cbs.push((cb, act));
        if t.stage == Stage::Done {
            self.queue_done(id);
        }
    }

    fn out_str(&self, id: u64) -> String {
        let t = &self.tasks[&id];
        match t.out.as_ref().unwrap() {
            Out::Ok(v) => format!("ok:{v}"),
            Out::Cancelled => "cancelled".into(),
            Out::Panic => format!("panic:{}:{}", panic_msg(id), t.name),
        }
    }

    /// A handle of `id` goes (dropped by the test or with its awaiter).
    fn detach(&mut self, id: u64) {
        let t = self.t(id);
        t.detached = true;
        t.in_driver = false;
        t.join_waiter = None;
        if t.stage == Stage::Done && t.cbs.is_empty() && !t.cbs_queued {
            if t.out == Some(Out::Panic) && !t.observed {
                self.reports.push(unretrieved(id));
            }
            self.t(id).released = true;
            self.last_released = Some(id);
        }
    }

    fn finish(&mut self, id: u64, out: Out) {
        let t = self.t(id);
        t.stage = Stage::Done;
        let out = if t.cancelled { Out::Cancelled } else { out };
        t.out = Some(out.clone());
        if !t.cbs.is_empty() {
            self.queue_done(id);
        } else if t.detached {
            t.released = true;
            self.last_released = Some(id);
            if out == Out::Panic {
                self.reports.push(unretrieved(id));
            }
        } else if let Some(j) = t.join_waiter.take() {
            self.schedule(j);
        }
    }

    fn effect(&mut self, act: CbAct) {
        match act {
            CbAct::Log => {}
            CbAct::Wake(j) => {
                if self.stored.contains(&j) {
                    self.schedule(j);
                }
            }
            CbAct::Spawn(k, _) => {
                self.spawn(None, Some(CHILD[k as usize]));
            }
            CbAct::Cancel(j) => {
                let ret = self.tasks.contains_key(&j) && self.cancel(j);
                self.events.push(Ev::Cancel(j, ret));
            }
            CbAct::Add(k) => {
                if self.tasks[&k].in_driver {
                    self.add_cb(k, CbAct::Log);
                }
            }
            CbAct::Detach(k) => {
                if self.tasks[&k].in_driver {
                    self.detach(k);
                }
            }
            CbAct::Panic => self.reports.push(format!(
                "{:?}: expected: callback panics",
                ReportKind::CallbackPanic
            )),
        }
    }

    fn live(&self) -> Vec<u64> {
        self.tasks
            .iter()
            .filter(|(_, t)| !t.released && t.stage == Stage::Pending)
            .map(|(&id, _)| id)
            .collect()
    }

    /// Is a waker of a pending task held outside the loop?
    fn held(&self) -> bool {
        self.tasks.iter().any(|(&id, t)| {
            !t.released
                && t.stage == Stage::Pending
                && (self.stored.contains(&id)
                    || t.joins
                        .is_some_and(|j| self.tasks[&j].join_waiter == Some(id)))
        })
    }

    /// The start of a turn: the wakes from outside the loop join the queue.
    fn take_remote(&mut self) {
        for id in std::mem::take(&mut self.remote) {
            self.schedule(id);
        }
    }

    fn run_task(&mut self, id: u64) {
        let t = self.t(id);
        if t.released {
            return;
        }
        t.queued = false;
        if t.stage != Stage::Pending {
            return;
        }
        if t.cancelled {
            self.events.push(Ev::Drop(id));
            if let Some(target) = self.tasks[&id].joins {
                self.detach(target);
            }
            self.finish(id, Out::Cancelled);
            return;
        }
        let live = self.live();
        self.events.push(Ev::Poll(id, live));
        if let Some(target) = self.tasks[&id].joins {
            let tt = self.t(target);
            if tt.stage == Stage::Done && !tt.cbs_queued {
                tt.released = true;
                self.last_released = Some(target);
                let s = self.out_str(target);
                self.events.push(Ev::Joined(id, s));
                self.events.push(Ev::Drop(id));
                self.finish(id, Out::Ok(1));
            } else {
                tt.join_waiter = Some(id);
            }
            return;
        }
        let act = self.actions.remove(&id).unwrap_or(Act::Park);
        let mut woke = false;
        match act {
            Act::Park => {
                self.stored.insert(id);
            }
            Act::Bare => {}
            Act::Yield => woke = true,
            Act::Do(a) => {
                self.effect(a);
                self.stored.insert(id);
            }
            Act::Ready(v) => {
                self.stored.insert(id);
                self.events.push(Ev::Drop(id));
                self.finish(id, Out::Ok(v));
                return;
            }
            Act::Panic | Act::ReadyDropPanic(_) => {
                self.stored.insert(id);
                self.events.push(Ev::Drop(id));
                self.finish(id, Out::Panic);
                return;
            }
            Act::CancelSelf(k) => {
                self.cancel(id);
                if k != 1 {
                    self.events.push(Ev::Drop(id));
                    if k == 2 {
                        self.reports.push(unretrieved(id));
                    }
                    self.finish(id, Out::Cancelled);
                    return;
                }
            }
        }
        let t = self.t(id);
        if woke && !t.queued {
            t.queued = true;
            self.ready.push(E::Task(id));
        }
    }

    fn run_done(&mut self, id: u64) {
        let t = self.t(id);
        if t.released {
            return;
        }
        t.cbs_queued = false;
        if t.cbs.is_empty() {
            return;
        }
        t.stage = Stage::Lent;
        t.observed = true;
        let list = std::mem::take(&mut t.cbs);
        let s = self.out_str(id);
        for (cb, act) in list {
            self.events.push(Ev::Done(cb, id, s.clone()));
            self.effect(act);
        }
        let t = self.t(id);
        t.stage = Stage::Done;
        if !t.cbs.is_empty() {
            self.queue_done(id);
        } else if t.detached {
            t.released = true;
            self.last_released = Some(id);
        } else if let Some(j) = t.join_waiter.take() {
            self.schedule(j);
        }
    }

    /// One turn after the remote wakes were taken in; returns whether it
    /// is idle.
    fn turn(&mut self) -> bool {
        if self.ready.is_empty() {
            return self.later.is_empty();
        }
        for e in std::mem::take(&mut self.ready) {
            match e {
                E::Task(id) => self.run_task(id),
                E::Cb(cb) => {
                    let (act, pending) = self.soon[&cb];
                    if pending {
                        self.soon.get_mut(&cb).unwrap().1 = false;
                        self.events.push(Ev::Cb(cb));
                        self.effect(act);
                    }
                }
                E::Done(id) => self.run_done(id),
            }
        }
        false
    }
}

// ---------- the driver ----------

/// What the seeds exercised, summed (printed at the end).
#[derive(Clone, Copy, Debug, Default)]
struct Counts {
    turns: u64,
    idle_turns: u64,
    polls: u64,
    first_polls: u64,
    cancels: u64,
    cancelled_drops: u64,
    joined: u64,
    done_callbacks: u64,
    callbacks: u64,
    later: u64,
    panics: u64,
    stale_wakes: u64,
    stale_in_reused_slot: u64,
    thread_wakes: u64,
    slept_us: u64,
}
thread_local! { static COUNTS: Cell<Counts> = Cell::new(Counts::default()); }
fn count(f: impl FnOnce(&mut Counts)) {
    COUNTS.with(|c| {
        let mut n = c.get();
        f(&mut n);
        c.set(n)
    });
}

fn rand_act(rng: &mut Rng, m: &Model) -> Act {
    match rng.below(20) {
        0..=5 => Act::Park,
        6..=7 => Act::Bare,
        8..=10 => Act::Yield,
        11..=12 => match rand_cb(rng, m, false) {
            CbAct::Panic => Act::Park,
            a => Act::Do(a),
        },
        13..=16 => Act::Ready(rng.below(1000)),
        17 if rng.below(2) == 0 => Act::Panic,
        17 => Act::ReadyDropPanic(rng.below(1000)),
        18 => Act::CancelSelf(rng.below(3) as u8),
        _ => Act::Park,
    }
}

fn rand_cb(rng: &mut Rng, m: &Model, done: bool) -> CbAct {
    let ids: Vec<u64> = m.tasks.keys().copied().collect();
    let pick = |rng: &mut Rng| ids[rng.below(ids.len() as u64) as usize];
    match rng.below(13) {
        0..=2 => CbAct::Log,
        3 | 4 if !ids.is_empty() => CbAct::Wake(pick(rng)),
        5 | 6 => CbAct::Spawn(rng.below(CHILD.len() as u64) as u8, rng.below(2) == 0),
        7 if !ids.is_empty() => CbAct::Cancel(pick(rng)),
        8 | 9 if !ids.is_empty() && (done || rng.below(2) == 0) => CbAct::Add(pick(rng)),
        10 if !ids.is_empty() => CbAct::Detach(pick(rng)),
        11 => CbAct::Panic,
        _ => CbAct::Log,
    }
}

fn pick(rng: &mut Rng, v: &[u64]) -> Option<u64> {
    (!v.is_empty()).then(|| v[rng.below(v.len() as u64) as usize])
}

fn wake_stored(sh: &Sh, m: &mut Model, id: u64, how: u64) {
    let w = sh.store.borrow().get(&id).cloned().unwrap();
    match how {
        0 => w.wake(),
        1 => {
            for _ in 0..5 {
                w.wake_by_ref();
            }
        }
        2 => std::thread::spawn(move || {
            for _ in 0..3 {
                w.wake_by_ref();
            }
            w.wake();
        })
        .join()
        .unwrap(),
        _ => {
            for _ in 0..2 {
                w.wake_by_ref();
            }
        }
    }
    count(|c| c.thread_wakes += u64::from(how == 2));
    if !m.remote.contains(&id) {
        m.remote.push(id);
    }
}

fn run_one(seed: u64, verbose: bool) -> Result<(), String> {
    let mut rng = Rng::seeded(seed);
    let mut lp = EventLoop::new().unwrap();
    let reports = common::capture_reports(&lp);
    let sh: S = Rc::new(Sh::default());
    sh.next_cb.set(1);
    let mut m = Model {
        next_seq: 1,
        next_cb: 1,
        ..Model::default()
    };
    let mut soon_handles: Vec<(u64, CallbackHandle)> = Vec::new();
    let mut later_handles: Vec<(u64, CallbackHandle)> = Vec::new();
    let mut later_cancelled: HashSet<u64> = HashSet::new();
    let mut later_ran: HashSet<u64> = HashSet::new();
    let mut seen_reports = 0;
    let mut polled_before: HashSet<u64> = HashSet::new();
    let steps = 10 + rng.below(50);
    let mut errors: Vec<String> = Vec::new();
    for step in 0..steps {
        let mut ops = Vec::new();
        for _ in 0..1 + rng.below(3) {
            let ids: Vec<u64> = m.tasks.keys().copied().collect();
            let driver: Vec<u64> = m
                .tasks
                .iter()
                .filter(|(_, t)| t.in_driver)
                .map(|(&id, _)| id)
                .collect();
            let live_workers: Vec<u64> = m
                .tasks
                .iter()
                .filter(|(_, t)| !t.released && t.stage == Stage::Pending && t.joins.is_none())
                .map(|(&id, _)| id)
                .collect();
            let stored_live: Vec<u64> = m
                .stored
                .iter()
                .copied()
                .filter(|id| !m.tasks[id].released && m.tasks[id].stage == Stage::Pending)
                .collect();
            let stored_gone: Vec<u64> = m
                .stored
                .iter()
                .copied()
                .filter(|id| m.tasks[id].released)
                .collect();
            match rng.below(16) {
                0..=2 => {
                    let act = rand_act(&mut rng, &m);
                    let big = rng.below(3) == 0;
                    let id = spawn_worker(&sh, Some(&lp), big, act);
                    let mid = m.spawn(None, Some(act));
                    ops.push(format!("spawn {id} {act:?} big={big}"));
                    if id != mid {
                        errors.push(format!("spawned id {id}, model {mid}"));
                        break;
                    }
                }
                3 => {
                    if let Some(t) = pick(&mut rng, &driver) {
                        let id = spawn_joiner(&sh, &lp, t);
                        m.t(t).in_driver = false;
                        m.spawn(Some(t), None);
                        ops.push(format!("joiner {id} awaits {t}"));
                    }
                }
                4 | 5 => {
                    if let Some(t) = pick(&mut rng, &ids) {
                        let ret = if m.tasks[&t].in_driver && rng.below(2) == 0 {
                            sh.handles.borrow()[&t].cancel()
                        } else {
                            let r = sh.refs.borrow()[&t].clone();
                            r.cancel()
                        };
                        let want = m.cancel(t);
                        count(|c| c.cancels += u64::from(ret));
                        ops.push(format!("cancel {t} -> {ret}"));
                        if ret != want {
                            errors.push(format!("cancel({t}) returned {ret}, model {want}"));
                        }
                    }
                }
                6 => {
                    if let Some(t) = pick(&mut rng, &driver) {
                        let h = sh.handles.borrow_mut().remove(&t);
                        drop(h);
                        m.detach(t);
                        ops.push(format!("detach {t}"));
                    }
                }
                7 | 8 => {
                    if let Some(t) = pick(&mut rng, &driver) {
                        let act = rand_cb(&mut rng, &m, true);
                        let cb = sh.cb_id();
                        let ok = sh.handles.borrow()[&t].add_done_callback(done_cb(
                            sh.clone(),
                            t,
                            cb,
                            act,
                        ));
                        m.add_cb(t, act);
                        ops.push(format!("done callback {cb} on {t}: {act:?}"));
                        if !ok {
                            errors.push(format!("add_done_callback on {t} returned false"));
                        }
                    }
                }
                9 => {
                    if let Some(t) = pick(&mut rng, &live_workers) {
                        let act = rand_act(&mut rng, &m);
                        sh.actions.borrow_mut().insert(t, act);
                        m.actions.insert(t, act);
                        ops.push(format!("plan {t}: {act:?}"));
                    }
                }
                10 => {
                    if let Some(t) = pick(&mut rng, &stored_live) {
                        let how = rng.below(6);
                        wake_stored(&sh, &mut m, t, how);
                        ops.push(format!("wake {t} ({how})"));
                    }
                }
                11 => {
                    // A new task first: in the slot of the finished one
                    // (if that was the last slot freed), or of another.
                    let last = m.last_released.filter(|t| m.stored.contains(t));
                    if let Some(t) = last.or_else(|| pick(&mut rng, &stored_gone)) {
                        let id = spawn_worker(&sh, Some(&lp), false, Act::Park);
                        m.spawn(None, Some(Act::Park));
                        let how = rng.below(3);
                        wake_stored(&sh, &mut m, t, how);
                        count(|c| {
                            c.stale_wakes += 1;
                            c.stale_in_reused_slot += u64::from(last.is_some());
                        });
                        ops.push(format!("spawn {id}, stale wake {t} ({how})"));
                    }
                }
                12 => {
                    let act = rand_cb(&mut rng, &m, false);
                    let cb = sh.cb_id();
                    let id = m.cb_id();
                    assert_eq!(cb, id);
                    let s2 = sh.clone();
                    let h = lp.call_soon(move || {
                        if let Some(t) = corio::current_task() {
                            s2.err(format!("callback {cb}: current_task() = {t:?}"));
                        }
                        s2.ev(Ev::Cb(cb));
                        effect(&s2, act);
                    });
                    m.soon.insert(cb, (act, true));
                    m.ready.push(E::Cb(cb));
                    soon_handles.push((cb, h));
                    ops.push(format!("call_soon {cb}: {act:?}"));
                }
                13 => {
                    if let Some(i) = pick(
                        &mut rng,
                        &(0..soon_handles.len() as u64).collect::<Vec<_>>(),
                    ) {
                        let (cb, h) = soon_handles.swap_remove(i as usize);
                        let ret = h.cancel();
                        let want = m.soon[&cb].1;
                        m.soon.get_mut(&cb).unwrap().1 = false;
                        ops.push(format!("cancel callback {cb} -> {ret}"));
                        if ret != want {
                            errors.push(format!(
                                "callback {cb}: cancel returned {ret}, model {want}"
                            ));
                        }
                    }
                }
                14 => {
                    let cb = sh.cb_id();
                    m.cb_id();
                    let delay = Duration::from_micros(rng.below(1500).saturating_sub(1000));
                    let s2 = sh.clone();
                    let deadline = Instant::now() + delay;
                    let h = lp.call_later(delay, move || {
                        if Instant::now() < deadline {
                            s2.err(format!("call_later {cb} ran early"));
                        }
                        s2.ev(Ev::Later(cb));
                    });
                    m.later.insert(cb, deadline);
                    ops.push(format!("call_later {cb} {delay:?}"));
                    if rng.below(3) == 0 {
                        let ret = h.cancel();
                        m.later.remove(&cb);
                        later_cancelled.insert(cb);
                        if !ret {
                            errors.push(format!("call_later {cb}: cancel at once returned false"));
                        }
                    } else {
                        later_handles.push((cb, h));
                    }
                }
                _ => {
                    if let Some(t) = pick(&mut rng, &m.stored.iter().copied().collect::<Vec<_>>()) {
                        let w = sh.store.borrow_mut().remove(&t);
                        drop(w);
                        m.stored.remove(&t);
                        ops.push(format!("forget waker {t}"));
                    }
                }
            }
        }
        // Cancel some pending call_later callbacks later on.
        if !later_handles.is_empty() && rng.below(4) == 0 {
            let (cb, h) = later_handles.swap_remove(rng.below(later_handles.len() as u64) as usize);
            let ret = h.cancel();
            let want = m.later.remove(&cb).is_some();
            if ret {
                later_cancelled.insert(cb);
            }
            ops.push(format!("cancel call_later {cb} -> {ret}"));
            if ret != want {
                errors.push(format!(
                    "call_later {cb}: cancel returned {ret}, model {want}"
                ));
            }
        }
        // A turn that would wait for ever: wake or cancel a waiting task.
        m.take_remote();
        if m.ready.is_empty() && m.later.is_empty() && m.held() {
            let waiting: Vec<u64> = m.live();
            let t = waiting
                .iter()
                .copied()
                .find(|id| m.stored.contains(id))
                .unwrap_or(waiting[0]);
            if m.stored.contains(&t) {
                wake_stored(&sh, &mut m, t, 1);
                m.take_remote();
                ops.push(format!("unblock: wake {t}"));
            } else {
                let r = sh.refs.borrow()[&t].clone();
                let ret = r.cancel();
                let want = m.cancel(t);
                ops.push(format!("unblock: cancel {t} -> {ret}"));
                if ret != want {
                    errors.push(format!("cancel({t}) returned {ret}, model {want}"));
                }
            }
        }
        if verbose {
            eprintln!("step {step}: {}", ops.join("; "));
        }
        // If the model has work queued and the loop has none, the turn
        // would wait for ever (some waker is held): a timer ends the wait,
        // so that the difference fails the seed instead of hanging it.
        let guard = (!m.ready.is_empty()).then(|| {
            let s2 = sh.clone();
            lp.call_later(Duration::from_millis(100), move || {
                s2.err("the turn waited: the model had work queued".into())
            })
        });
        let turn = lp.run_once();
        if let Some(guard) = guard {
            guard.cancel();
        }
        let idle = m.turn();
        // Compare.
        let mut log = std::mem::take(&mut *sh.log.borrow_mut());
        for e in &log {
            if let Ev::Later(cb) = e {
                if later_cancelled.contains(cb) || !later_ran.insert(*cb) {
                    errors.push(format!("call_later {cb} ran after a cancel or twice"));
                }
                m.later.remove(cb);
                later_handles.retain(|(c, _)| c != cb);
            }
        }
        let laters = log.iter().filter(|e| matches!(e, Ev::Later(_))).count();
        log.retain(|e| !matches!(e, Ev::Later(_)));
        let want = std::mem::take(&mut m.events);
        if log != want {
            errors.push(format!(
                "step {step} ({}):\n    runtime {log:?}\n    model   {want:?}",
                ops.join("; ")
            ));
        }
        if turn.idle != idle {
            errors.push(format!("step {step}: turn.idle {} model {idle}", turn.idle));
        }
        let polls = log.iter().filter(|e| matches!(e, Ev::Poll(..))).count();
        let mut polled = HashSet::new();
        count(|c| {
            c.turns += 1;
            c.slept_us += turn.slept.as_micros() as u64;
            c.idle_turns += u64::from(turn.idle);
            c.later += laters as u64;
            for e in &log {
                match e {
                    Ev::Poll(id, _) => {
                        c.polls += 1;
                        if !polled_before.contains(id) {
                            c.first_polls += 1;
                        }
                        polled.insert(*id);
                    }
                    Ev::Drop(id) if !polled_before.contains(id) && !polled.contains(id) => {
                        c.cancelled_drops += 1
                    }
                    Ev::Joined(..) => c.joined += 1,
                    Ev::Done(_, _, s) => {
                        c.done_callbacks += 1;
                        c.panics += u64::from(s.starts_with("panic"));
                    }
                    Ev::Cb(_) => c.callbacks += 1,
                    Ev::Cancel(_, true) => c.cancels += 1,
                    _ => {}
                }
            }
        });
        polled_before.extend(polled);
        let calls = laters
            + log
                .iter()
                .filter(|e| matches!(e, Ev::Cb(_) | Ev::Done(..)))
                .count();
        if turn.tasks_polled != polls || turn.callbacks_run != calls {
            errors.push(format!(
                "step {step}: turn counted {} polls {} callbacks, the log {polls} {calls}",
                turn.tasks_polled, turn.callbacks_run
            ));
        }
        for (id, h) in sh.handles.borrow().iter() {
            let t = &m.tasks[id];
            let done = t.stage != Stage::Pending;
            let cancelled = t.cancelled || t.out == Some(Out::Cancelled);
            if h.is_done() != done || h.is_cancelled() != cancelled || h.name() != t.name {
                errors.push(format!(
                    "step {step}: task {id}: is_done {} is_cancelled {}, model {done} {cancelled}",
                    h.is_done(),
                    h.is_cancelled()
                ));
            }
        }
        for (id, r) in sh.refs.borrow().iter() {
            let t = &m.tasks[id];
            let want = if t.released {
                TaskState::Finished
            } else if t.cancelled || t.out == Some(Out::Cancelled) {
                TaskState::Cancelled
            } else if t.stage == Stage::Pending {
                TaskState::Pending
            } else {
                TaskState::Finished
            };
            let name = if t.released {
                format!("Task-{id}")
            } else {
                t.name.clone()
            };
            if r.state() != want
                || r.is_done() != (t.released || t.stage != Stage::Pending)
                || r.name() != name
            {
                errors.push(format!(
                    "step {step}: task {id}: {r:?} (done {}), model {want:?} {name}",
                    r.is_done()
                ));
            }
        }
        if !corio::all_tasks().is_empty() {
            errors.push("all_tasks() outside the loop is not empty".into());
        }
        let got = reports.borrow()[seen_reports..].to_vec();
        seen_reports += got.len();
        let mut got: Vec<String> = got
            .iter()
            .map(|r| format!("{:?}: {}", r.kind(), r.message()))
            .collect();
        let mut want: Vec<String> = std::mem::take(&mut m.reports);
        got.sort();
        want.sort();
        if got != want {
            errors.push(format!("step {step}: reports {got:?}, model {want:?}"));
        }
        errors.extend(sh.errors.borrow_mut().drain(..));
        if !errors.is_empty() {
            break;
        }
    }
    // The end: dropping the loop drops exactly the pending futures.
    let pending: HashSet<u64> = m.live().into_iter().collect();
    drop(lp);
    let log = std::mem::take(&mut *sh.log.borrow_mut());
    let dropped: HashSet<u64> = log
        .iter()
        .filter_map(|e| match e {
            Ev::Drop(id) => Some(*id),
            _ => None,
        })
        .collect();
    if errors.is_empty() && dropped != pending {
        errors.push(format!(
            "the loop's drop dropped {dropped:?}, model's pending {pending:?} (log {log:?})"
        ));
    }
    if errors.is_empty() {
        for &id in m.tasks.keys() {
            let n = sh.drops.borrow().get(&id).copied().unwrap_or(0);
            if n != 1 {
                errors.push(format!("task {id}'s future dropped {n} times"));
            }
        }
        for id in &pending {
            if let Some(h) = sh.handles.borrow().get(id) {
                if !h.is_done() || !h.is_cancelled() {
                    errors.push(format!(
                        "task {id} pending at the drop: handle not cancelled"
                    ));
                }
            }
        }
        for r in &reports.borrow()[seen_reports..] {
            if r.kind() != ReportKind::UnretrievedPanic {
                errors.push(format!(
                    "report at the drop: {:?} {}",
                    r.kind(),
                    r.message()
                ));
            }
        }
    }
    errors.extend(sh.errors.borrow_mut().drain(..));
    // The handles left take their outcomes (so that no panic is reported
    // unretrieved after the handler went): a task pending at the drop gives
    // `Cancelled`, a finished one its own outcome.
    let handles = std::mem::take(&mut *sh.handles.borrow_mut());
    let mut cx = Context::from_waker(Waker::noop());
    for (id, mut h) in handles {
        let want = if pending.contains(&id) {
            "cancelled".to_string()
        } else {
            m.out_str(id)
        };
        match Pin::new(&mut h).poll(&mut cx) {
            Poll::Ready(r) if out_str(&r) == want => {}
            other => errors.push(format!(
                "task {id}'s handle after the drop: {other:?}, model {want}"
            )),
        }
    }
    // Break the cycles (refs hold the loop's core).
    sh.refs.borrow_mut().clear();
    sh.store.borrow_mut().clear();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("seed {seed}:\n  {}", errors.join("\n  ")))
    }
}

#[test]
fn task_fuzz() {
    // Nothing may hang: a seed that takes 10 s ends the run.
    common::quiet_panics();
    common::run_seeds("task_fuzz", 200, run_one, || {
        format!("{:?}", COUNTS.with(|c| c.get()))
    });
}
