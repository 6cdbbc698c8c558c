//! corio's sync primitives, seeded and randomized: worker tasks on one
//! `EventLoop` lock, acquire, wait, put and get, each wait plain or raced
//! (`select` against `yield_now`, a zero `timeout`, an abort flag the driver
//! sets, `Task::cancel`), while the driver, between turns, releases, sets,
//! notifies, shuts down and cancels at random. Lock, Semaphore,
//! BoundedSemaphore, Event, Condition and Barrier are checked against an
//! exact model of their FIFO line (every poll's outcome is predicted: the
//! fast path, who is handed what, what a dropped waiter passes on); queues
//! and mpsc against item conservation (every item dropped once, never while
//! queued), their order (FIFO / LIFO / smallest first), `maxsize`,
//! shutdown and `join`. When the loop goes idle, no waiter the model says
//! was served may still be pending; a run that never settles fails.
//! `broadcast_fuzz` checks broadcast against a model of numbered values.
//! `SEEDS=N` runs more or fewer (default 20,000; 5,000 for broadcast);
//! `SEED=n` runs one.
mod common;

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};
use std::time::Duration;

use common::XorShift as Rng;

/// The generator of worker `w` of seed `seed`.
fn worker_rng(seed: u64, w: usize) -> Rng {
    Rng::seeded(seed ^ ((w as u64 + 1) * 7919))
}
use corio::sync::{
    Barrier, BoundedSemaphore, Condition, Event, GenericQueue, Lifo, Lock, Order, Priority,
    Semaphore, TryGetError, TryPutError, mpsc,
};
use corio::{EventLoop, Task};

// ---------- shared model state ----------
#[derive(Default)]
struct St {
    errors: Vec<String>,
    next_id: u64,
    drops: HashMap<u64, u32>,
    /// Items the model says are stored in the queue (put order).
    queued: Vec<(u8, u64)>,
    /// Queued items may be dropped now (an immediate shutdown).
    may_drop_queued: bool,
}
#[derive(Default, Debug, Clone, Copy)]
struct Stats {
    waits: u64,
    served_after_wait: u64,
    dropped_waiting: u64,
    dropped_handed: u64,
    idle_cleanups: u64,
}
thread_local! { static STATS: Cell<Stats> = Cell::new(Stats::default()); }
fn stat(f: impl FnOnce(&mut Stats)) {
    STATS.with(|c| {
        let mut s = c.get();
        f(&mut s);
        c.set(s)
    });
}
thread_local! { static ST: RefCell<St> = RefCell::new(St::default()); }
fn st<R>(f: impl FnOnce(&mut St) -> R) -> R {
    ST.with(|s| f(&mut s.borrow_mut()))
}
fn err(msg: String) {
    st(|s| {
        if s.errors.len() < 20 {
            s.errors.push(msg)
        }
    });
}
macro_rules! check {
    ($c:expr, $($t:tt)*) => { if !$c { err(format!($($t)*)); } };
}

/// An item: ordered by (key, id), counts its drops.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Item(u8, u64);
impl Item {
    fn new(key: u8) -> Item {
        st(|s| {
            s.next_id += 1;
            s.drops.insert(s.next_id, 0);
            Item(key, s.next_id)
        })
    }
}
impl Drop for Item {
    fn drop(&mut self) {
        let (k, id) = (self.0, self.1);
        st(|s| {
            let d = s.drops.get_mut(&id).unwrap();
            *d += 1;
            if *d > 1 {
                s.errors.push(format!("item {id} dropped twice"));
            }
            if !s.may_drop_queued && s.queued.contains(&(k, id)) {
                s.errors
                    .push(format!("item {id} dropped while still in the queue (lost)"));
            }
        });
    }
}

// ---------- observing a future ----------
type OnPoll<O> = Box<dyn FnMut(bool, Option<&O>)>;
/// Reports each poll (`first`, output if ready) and a drop while pending
/// (`polled` before).
struct Obs<F: Future> {
    fut: Pin<Box<F>>,
    polled: bool,
    done: bool,
    on_poll: OnPoll<F::Output>,
    on_drop: Box<dyn FnMut(bool)>,
}
fn obs<F: Future>(
    fut: F,
    on_poll: impl FnMut(bool, Option<&F::Output>) + 'static,
    on_drop: impl FnMut(bool) + 'static,
) -> Obs<F> {
    Obs {
        fut: Box::pin(fut),
        polled: false,
        done: false,
        on_poll: Box::new(on_poll),
        on_drop: Box::new(on_drop),
    }
}
impl<F: Future> Future for Obs<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        assert!(!this.done, "Obs polled after done");
        let first = !this.polled;
        this.polled = true;
        let r = this.fut.as_mut().poll(cx);
        if first && r.is_pending() {
            stat(|s| s.waits += 1);
        }
        if !first && r.is_ready() {
            stat(|s| s.served_after_wait += 1);
        }
        match &r {
            Poll::Ready(o) => {
                this.done = true;
                (this.on_poll)(first, Some(o));
            }
            Poll::Pending => (this.on_poll)(first, None),
        }
        r
    }
}
impl<F: Future> Drop for Obs<F> {
    fn drop(&mut self) {
        if !self.done {
            if self.polled {
                stat(|s| s.dropped_waiting += 1);
            }
            (self.on_drop)(self.polled);
        }
    }
}

/// Drops the inner future (without polling it again) once `flag` is set.
struct Abortable<F> {
    fut: Option<Pin<Box<F>>>,
    flag: Rc<Cell<bool>>,
}
impl<F: Future> Future for Abortable<F> {
    type Output = Option<F::Output>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.flag.replace(false) {
            self.fut = None;
            return Poll::Ready(None);
        }
        match self.fut.as_mut().unwrap().as_mut().poll(cx) {
            Poll::Ready(o) => Poll::Ready(Some(o)),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Awaits `f` plainly or raced: `None` if it was dropped unfinished.
async fn wrap<F: Future>(how: u64, abort: &Rc<Cell<bool>>, f: F) -> Option<F::Output> {
    match how {
        0..=2 => Some(f.await),
        3 => {
            abort.set(false);
            Abortable {
                fut: Some(Box::pin(f)),
                flag: abort.clone(),
            }
            .await
        }
        4 => corio::select(f, corio::yield_now()).await.left(),
        5 => corio::time::timeout(Duration::ZERO, f).await.ok(),
        _ => corio::select(f, async {
            corio::yield_now().await;
            corio::yield_now().await;
        })
        .await
        .left(),
    }
}

async fn yields(n: u64) {
    for _ in 0..n {
        corio::yield_now().await;
    }
}

// ---------- exact model of a FIFO line (Semaphore, Lock, Event, Barrier, Condition) ----------
#[derive(Default)]
struct Line {
    line: VecDeque<u64>,
    handed: HashSet<u64>,
}
impl Line {
    fn hand(&mut self) -> bool {
        match self.line.pop_front() {
            Some(w) => {
                self.handed.insert(w);
                true
            }
            None => false,
        }
    }
    fn leave(&mut self, w: u64) -> bool {
        // true if it had been handed its due
        if self.handed.remove(&w) {
            stat(|s| s.dropped_handed += 1);
            return true;
        }
        let n = self.line.len();
        self.line.retain(|&x| x != w);
        assert_eq!(self.line.len() + 1, n, "waiter {w} not in model line");
        false
    }
}

#[derive(Default)]
struct SemM {
    permits: usize,
    line: Line,
    holders: usize,
    forgotten: usize,
    next_w: u64,
}
impl SemM {
    fn release(&mut self) {
        if !self.line.hand() {
            self.permits += 1;
        }
    }
}

/// A permit or guard the model counts as held: released in the model
/// right before the real one (also when the task is cancelled holding it).
struct Held<P> {
    m: Rc<RefCell<SemM>>,
    p: Option<P>,
}
impl<P> Held<P> {
    fn took(m: &Rc<RefCell<SemM>>, p: P) -> Held<P> {
        {
            let mut mm = m.borrow_mut();
            mm.permits -= 1;
            mm.holders += 1;
        }
        Held {
            m: m.clone(),
            p: Some(p),
        }
    }
    fn forget(&mut self, bounded: bool) -> P {
        let mut mm = self.m.borrow_mut();
        mm.holders -= 1;
        if bounded {
            mm.forgotten += 1;
        }
        self.p.take().unwrap()
    }
}
impl<P> Drop for Held<P> {
    fn drop(&mut self) {
        if let Some(p) = self.p.take() {
            {
                let mut mm = self.m.borrow_mut();
                mm.holders -= 1;
                mm.release();
            }
            drop(p);
        }
    }
}

// ---------- scenarios ----------
struct Run {
    lp: EventLoop,
    tasks: Vec<Task<()>>,
    aborts: Vec<Rc<Cell<bool>>>,
}

/// Drives the loop: `step` acts between turns (it may use the rng), `idle`
/// checks liveness and cleans up when the loop goes idle (returns false
/// when it has nothing more to do).
fn drive(
    run: &mut Run,
    r: &mut Rng,
    mut step: impl FnMut(&mut Rng, bool),
    mut idle: impl FnMut(&mut Rng, u32) -> bool,
) {
    let mut idles = 0u32;
    let mut turns = 0u32;
    let mut quiet = 0u32;
    loop {
        // A waiter parked in a primitive holds a waker, so the loop would
        // wait for it forever: a callback each turn keeps turns from
        // blocking, and two turns without a task poll or a timer are idle.
        run.lp.call_soon(|| {});
        let t = run.lp.run_once();
        quiet = if t.tasks_polled == 0 && t.timers_fired == 0 {
            quiet + 1
        } else {
            0
        };
        let t_idle = quiet >= 2;
        turns += 1;
        let all_done = run.tasks.iter().all(|t| t.is_done());
        if all_done {
            break;
        }
        if turns > 20_000 {
            err("no quiescence after 20000 turns (livelock?)".into());
            break;
        }
        if t_idle {
            stat(|s| s.idle_cleanups += 1);
            quiet = 0;
            idles += 1;
            if idles > 20 {
                err("loop idle again and again with tasks pending".into());
            }
            if idles > 20 || !idle(r, idles) {
                // what is left waits legitimately: cancel it
                for t in &run.tasks {
                    t.cancel();
                }
                for _ in 0..10 {
                    run.lp.call_soon(|| {});
                    run.lp.run_once();
                }
                check!(
                    run.tasks.iter().all(|t| t.is_done()),
                    "tasks left after cancelling all"
                );
                break;
            }
        } else if idles == 0 && r.below(3) == 0 {
            quiet = 0;
            match r.below(8) {
                0 => {
                    let i = r.below(run.tasks.len() as u64) as usize;
                    run.tasks[i].cancel();
                }
                1 | 2 => {
                    let i = r.below(run.aborts.len() as u64) as usize;
                    run.aborts[i].set(true);
                }
                _ => step(r, false),
            }
        }
    }
}

fn new_run(n: usize) -> Run {
    Run {
        lp: EventLoop::new().unwrap(),
        tasks: Vec::new(),
        aborts: (0..n).map(|_| Rc::new(Cell::new(false))).collect(),
    }
}

// Semaphore / BoundedSemaphore / Lock share one exact model.
enum SemKind {
    Plain(Rc<Semaphore>),
    Bounded(Rc<BoundedSemaphore>),
    Lock(Rc<Lock<u64>>),
}

fn sem_scenario(seed: u64, r: &mut Rng, kind: u64) {
    let n = 2 + r.below(5) as usize;
    let init = match kind {
        2 => 1,
        _ => r.below(4) as usize,
    };
    let sk = Rc::new(match kind {
        0 => SemKind::Plain(Rc::new(Semaphore::new(init))),
        1 => SemKind::Bounded(Rc::new(BoundedSemaphore::new(init))),
        _ => SemKind::Lock(Rc::new(Lock::new(0))),
    });
    let m = Rc::new(RefCell::new(SemM {
        permits: init,
        ..Default::default()
    }));
    let cs_count = Rc::new(Cell::new(0u64));
    let mut run = new_run(n);
    for w in 0..n {
        let (sk, m, abort, cs_count) = (
            sk.clone(),
            m.clone(),
            run.aborts[w].clone(),
            cs_count.clone(),
        );
        let mut wr = worker_rng(seed, w);
        run.tasks.push(run.lp.spawn(async move {
            for _ in 0..1 + wr.below(8) {
                match wr.below(10) {
                    0..=5 => {
                        let wid = {
                            let mut mm = m.borrow_mut();
                            mm.next_w += 1;
                            mm.next_w
                        };
                        let (m1, m2) = (m.clone(), m.clone());
                        let on_poll = move |first: bool, ready: bool| {
                            let mut mm = m1.borrow_mut();
                            if first {
                                let fast = mm.permits > 0 && mm.line.line.is_empty();
                                check!(fast == ready, "waiter {wid}: first poll ready={ready}, model fast path={fast} (permits {}, line {:?})", mm.permits, mm.line.line);
                                if ready {
                                    mm.permits -= 1;
                                    mm.holders += 1;
                                } else {
                                    mm.line.line.push_back(wid);
                                }
                            } else {
                                let handed = mm.line.handed.contains(&wid);
                                check!(handed == ready, "waiter {wid}: later poll ready={ready}, model handed={handed} (line {:?})", mm.line.line);
                                if ready {
                                    mm.line.handed.remove(&wid);
                                    mm.holders += 1;
                                }
                            }
                        };
                        let on_drop = move |polled: bool| {
                            if polled {
                                let mut mm = m2.borrow_mut();
                                if mm.line.leave(wid) {
                                    mm.release();
                                }
                            }
                        };
                        let how = wr.below(7);
                        let hold = wr.below(3);
                        let fate = wr.below(6);
                        let bounded = matches!(&*sk, SemKind::Bounded(_));
                        // One body for both semaphores (their permits differ in type).
                        macro_rules! acquire_and_hold {
                            ($s:expr) => {{
                                let p = wrap(how, &abort, obs($s.acquire(), move |f, o: Option<&_>| on_poll(f, o.is_some()), on_drop)).await;
                                if let Some(p) = p {
                                    let mut h = Held { m: m.clone(), p: Some(p) };
                                    yields(hold).await;
                                    if fate == 0 {
                                        h.forget(bounded).forget();
                                    }
                                }
                            }};
                        }
                        match &*sk {
                            SemKind::Plain(s) => acquire_and_hold!(s),
                            SemKind::Bounded(s) => acquire_and_hold!(s),
                            SemKind::Lock(l) => {
                                let g = wrap(how, &abort, obs(l.lock(), move |f, o: Option<&_>| on_poll(f, o.is_some()), on_drop)).await;
                                if let Some(g) = g {
                                    let mut h = Held { m: m.clone(), p: Some(g) };
                                    let g = h.p.as_mut().unwrap();
                                    let v = **g;
                                    yields(hold).await;
                                    let g = h.p.as_mut().unwrap();
                                    **g = v + 1;
                                    cs_count.set(cs_count.get() + 1);
                                }
                            }
                        }
                    }
                    6 => {
                        let expect = {
                            let mm = m.borrow();
                            mm.permits > 0 && mm.line.line.is_empty()
                        };
                        let got = match &*sk {
                            SemKind::Plain(s) => s.try_acquire().map(|p| drop(Held::took(&m, p))).is_some(),
                            SemKind::Bounded(s) => s.try_acquire().map(|p| drop(Held::took(&m, p))).is_some(),
                            SemKind::Lock(l) => l.try_lock().map(|g| drop(Held::took(&m, g))).is_some(),
                        };
                        check!(got == expect, "try_acquire gave {got}, model {expect}");
                    }
                    _ => yields(1 + wr.below(2)).await,
                }
            }
        }));
    }
    let check_state = |m: &SemM| {
        let (avail, locked) = match &*sk {
            SemKind::Plain(s) => (s.available_permits(), s.locked()),
            SemKind::Bounded(s) => (s.available_permits(), s.locked()),
            SemKind::Lock(l) => (m.permits, l.locked()),
        };
        check!(
            avail == m.permits,
            "available_permits {avail}, model {}",
            m.permits
        );
        let ml = m.permits == 0 || !m.line.line.is_empty();
        check!(locked == ml, "locked() {locked}, model {ml}");
    };
    drive(
        &mut run,
        r,
        |r, _| {
            check_state(&m.borrow());
            match &*sk {
                SemKind::Plain(s) if r.below(4) == 0 => {
                    m.borrow_mut().release();
                    s.release();
                }
                SemKind::Bounded(s) => {
                    let ok = {
                        let mut mm = m.borrow_mut();
                        if mm.forgotten > 0 {
                            mm.forgotten -= 1;
                            mm.release();
                            true
                        } else {
                            false
                        }
                    };
                    check!(
                        s.release().is_ok() == ok,
                        "BoundedSemaphore::release result != model ({ok})"
                    );
                }
                _ => {}
            }
        },
        |_, _| {
            let mut mm = m.borrow_mut();
            check!(
                mm.line.handed.is_empty(),
                "idle, but handed waiters {:?} still pending",
                mm.line.handed
            );
            check!(mm.holders == 0, "idle with {} holders", mm.holders);
            if mm.line.line.is_empty() {
                return false;
            }
            // only a line waiting for permits nobody will release is legit
            check!(
                mm.permits == 0,
                "idle with {} permits and waiters {:?}",
                mm.permits,
                mm.line.line
            );
            match &*sk {
                SemKind::Plain(s) => {
                    mm.release();
                    drop(mm);
                    s.release();
                    true
                }
                SemKind::Bounded(s) if mm.forgotten > 0 => {
                    mm.forgotten -= 1;
                    mm.release();
                    drop(mm);
                    check!(s.release().is_ok(), "bounded release failed");
                    true
                }
                _ => false,
            }
        },
    );
    check_state(&m.borrow());
    drop(run);
    if let SemKind::Lock(l) = &*sk {
        let v = *l.try_lock().expect("lock free at the end");
        check!(
            v == cs_count.get(),
            "lock value {v} != critical sections {} (mutual exclusion)",
            cs_count.get()
        );
    }
}

fn event_scenario(seed: u64, r: &mut Rng) {
    let n = 2 + r.below(5) as usize;
    let ev = Rc::new(Event::new());
    let m = Rc::new(RefCell::new((false, Line::default(), 0u64)));
    let mut run = new_run(n);
    for w in 0..n {
        let (ev, m, abort) = (ev.clone(), m.clone(), run.aborts[w].clone());
        let mut wr = worker_rng(seed, w);
        run.tasks.push(run.lp.spawn(async move {
            for _ in 0..1 + wr.below(6) {
                if wr.below(4) == 0 {
                    yields(1).await;
                    continue;
                }
                let wid = {
                    let mut mm = m.borrow_mut();
                    mm.2 += 1;
                    mm.2
                };
                let (m1, m2) = (m.clone(), m.clone());
                let f = obs(
                    ev.wait(),
                    move |first, out: Option<&()>| {
                        let mut mm = m1.borrow_mut();
                        let ready = out.is_some();
                        if first {
                            check!(
                                ready == mm.0,
                                "Event wait {wid}: first poll ready={ready}, set={}",
                                mm.0
                            );
                            if !ready {
                                mm.1.line.push_back(wid);
                            }
                        } else {
                            let h = mm.1.handed.remove(&wid);
                            check!(
                                h == ready,
                                "Event wait {wid}: ready={ready}, model handed={h}"
                            );
                        }
                    },
                    move |polled| {
                        if polled {
                            m2.borrow_mut().1.leave(wid);
                        }
                    },
                );
                wrap(wr.below(7), &abort, f).await;
            }
        }));
    }
    let set = |ev: &Event, m: &RefCell<(bool, Line, u64)>| {
        let mut mm = m.borrow_mut();
        mm.0 = true;
        while mm.1.hand() {}
        drop(mm);
        ev.set();
    };
    drive(
        &mut run,
        r,
        |r, _| {
            if r.below(2) == 0 {
                set(&ev, &m);
            } else {
                m.borrow_mut().0 = false;
                ev.clear();
            }
            check!(ev.is_set() == m.borrow().0, "is_set disagrees");
        },
        |_, _| {
            check!(
                m.borrow().1.handed.is_empty(),
                "idle with woken Event waiters pending"
            );
            set(&ev, &m);
            true
        },
    );
}

fn barrier_scenario(seed: u64, r: &mut Rng) {
    let n = 2 + r.below(5) as usize;
    let parties = 1 + r.below(4) as usize;
    let b = Rc::new(Barrier::new(parties));
    // (arrived, line, next id)
    let m = Rc::new(RefCell::new((0usize, Line::default(), 0u64)));
    let mut run = new_run(n);
    for w in 0..n {
        let (b, m, abort) = (b.clone(), m.clone(), run.aborts[w].clone());
        let mut wr = worker_rng(seed, w);
        run.tasks.push(run.lp.spawn(async move {
            for _ in 0..1 + wr.below(4) {
                let wid = {
                    let mut mm = m.borrow_mut();
                    mm.2 += 1;
                    mm.2
                };
                let (m1, m2) = (m.clone(), m.clone());
                let f = obs(
                    b.wait(),
                    move |first, out: Option<&corio::sync::BarrierWaitResult>| {
                        let mut mm = m1.borrow_mut();
                        if first {
                            mm.0 += 1;
                            let complete = mm.0 == parties;
                            check!(complete == out.is_some(), "Barrier {wid}: first poll ready={}, model round complete={complete}", out.is_some());
                            if complete {
                                check!(out.unwrap().is_leader(), "completing arrival not leader");
                                mm.0 = 0;
                                while mm.1.hand() {}
                            } else {
                                mm.1.line.push_back(wid);
                            }
                        } else {
                            let h = mm.1.handed.remove(&wid);
                            check!(h == out.is_some(), "Barrier {wid}: ready={}, model released={h}", out.is_some());
                            if let Some(o) = out {
                                check!(!o.is_leader(), "two leaders");
                            }
                        }
                    },
                    move |polled| {
                        if polled {
                            let mut mm = m2.borrow_mut();
                            if !mm.1.leave(wid) {
                                mm.0 -= 1;
                            }
                        }
                    },
                );
                wrap(wr.below(7), &abort, f).await;
                yields(wr.below(2)).await;
            }
        }));
    }
    let tasks: Vec<_> = run.tasks.iter().map(|t| t.task_ref()).collect();
    drive(
        &mut run,
        r,
        |_, _| {
            check!(
                b.n_waiting() == m.borrow().0,
                "n_waiting {} != model {}",
                b.n_waiting(),
                m.borrow().0
            );
        },
        |r, _| {
            let mm = m.borrow();
            check!(
                mm.1.handed.is_empty(),
                "idle with released barrier waiters pending"
            );
            check!(mm.0 < parties, "idle with a full round");
            drop(mm);
            // cancel one pending task
            let pend: Vec<_> = tasks.iter().filter(|t| !t.is_done()).collect();
            if pend.is_empty() {
                return false;
            }
            pend[r.below(pend.len() as u64) as usize].cancel();
            true
        },
    );
}

fn condition_scenario(seed: u64, r: &mut Rng) {
    let n = 2 + r.below(5) as usize;
    let lock = Rc::new(Lock::new(0u64));
    let cond = Rc::new(Condition::new());
    let in_cs = Rc::new(Cell::new(false));
    let m = Rc::new(RefCell::new((Line::default(), 0u64)));
    let notify = |cond: &Condition, m: &RefCell<(Line, u64)>, k: usize| {
        let mut mm = m.borrow_mut();
        for _ in 0..k {
            if !mm.0.hand() {
                break;
            }
        }
        drop(mm);
        if k == usize::MAX {
            cond.notify_all()
        } else {
            cond.notify(k)
        }
    };
    let mut run = new_run(n);
    for w in 0..n {
        let (lock, cond, m, abort, in_cs) = (
            lock.clone(),
            cond.clone(),
            m.clone(),
            run.aborts[w].clone(),
            in_cs.clone(),
        );
        let mut wr = worker_rng(seed, w);
        run.tasks.push(run.lp.spawn(async move {
            for _ in 0..1 + wr.below(5) {
                match wr.below(4) {
                    0 => {
                        notify(&cond, &m, wr.below(3) as usize);
                        yields(1).await;
                    }
                    _ => {
                        let Some(g) = wrap(wr.below(7), &abort, lock.lock()).await else {
                            continue;
                        };
                        check!(!in_cs.get(), "two lock holders");
                        in_cs.set(true);
                        let cs = ClearOnDrop(in_cs.clone());
                        yields(wr.below(2)).await;
                        std::mem::forget(cs); // the wait takes the guard
                        let wid = {
                            let mut mm = m.borrow_mut();
                            mm.1 += 1;
                            mm.1
                        };
                        let (m1, m2, c1, in1) =
                            (m.clone(), m.clone(), in_cs.clone(), in_cs.clone());
                        let f = obs(
                            cond.wait(g),
                            move |first, out: Option<&_>| {
                                let mut mm = m1.borrow_mut();
                                if first {
                                    check!(out.is_none(), "CondWait {wid} ready at once");
                                    mm.0.line.push_back(wid);
                                    c1.set(false); // the lock was let go
                                } else if out.is_some() {
                                    let h = mm.0.handed.remove(&wid);
                                    check!(h, "CondWait {wid} returned without a notification");
                                    check!(!c1.get(), "CondWait {wid} relocked a held lock");
                                    c1.set(true);
                                }
                            },
                            move |polled| {
                                if !polled {
                                    in1.set(false); // guard dropped with the wait
                                    return;
                                }
                                let mut mm = m2.borrow_mut();
                                if mm.0.leave(wid) {
                                    // a notified waiter passes it on
                                    mm.0.hand();
                                }
                            },
                        );
                        if let Some(g) = wrap(wr.below(7), &abort, f).await {
                            let cs = ClearOnDrop(in_cs.clone());
                            yields(wr.below(2)).await;
                            drop(cs);
                            drop(g);
                        }
                    }
                }
            }
        }));
    }
    // A task cancelled while it holds the guard releases the lock.
    drive(
        &mut run,
        r,
        |r, _| {
            let k = match r.below(4) {
                0 => usize::MAX,
                x => x as usize - 1,
            };
            notify(&cond, &m, k);
        },
        |_, _| {
            check!(
                m.borrow().0.handed.is_empty(),
                "idle with notified CondWaits {:?} pending",
                m.borrow().0.handed
            );
            if m.borrow().0.line.is_empty() {
                return false;
            }
            notify(&cond, &m, usize::MAX);
            true
        },
    );
}

/// Clears the Condition scenario's "lock held" flag when the holder goes
/// (also when its task is cancelled).
struct ClearOnDrop(Rc<Cell<bool>>);
impl Drop for ClearOnDrop {
    fn drop(&mut self) {
        self.0.set(false);
    }
}

struct SetOnDrop(Rc<Cell<bool>>);
impl Drop for SetOnDrop {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

// ---------- queues (loose model: conservation, order, bounds, liveness) ----------
#[derive(Default)]
struct QM {
    shut: bool,
    unfinished: usize,
    joiners: Line,
    next_j: u64,
    getters: HashSet<u64>,
    putters: HashSet<u64>,
    next_w: u64,
}

#[derive(Clone, Copy, PartialEq)]
enum Ord3 {
    Fifo,
    Lifo,
    Prio,
}

fn expect_next(order: Ord3) -> Option<(u8, u64)> {
    st(|s| match order {
        Ord3::Fifo => s.queued.first().copied(),
        Ord3::Lifo => s.queued.last().copied(),
        Ord3::Prio => s.queued.iter().min().copied(),
    })
}
fn took(order: Ord3, it: &Item) {
    let exp = expect_next(order);
    check!(
        exp == Some((it.0, it.1)),
        "got item {:?}, model expected {exp:?}",
        (it.0, it.1)
    );
    st(|s| s.queued.retain(|&x| x != (it.0, it.1)));
}

fn queue_scenario<O: Order<Item> + 'static>(seed: u64, r: &mut Rng, order: Ord3) {
    let n = 2 + r.below(5) as usize;
    let maxsize = r.below(4) as usize;
    let q: Rc<GenericQueue<Item, O>> = Rc::new(GenericQueue::new(maxsize));
    let m = Rc::new(RefCell::new(QM::default()));
    let mut run = new_run(n);
    for w in 0..n {
        let (q, m, abort) = (q.clone(), m.clone(), run.aborts[w].clone());
        let mut wr = worker_rng(seed, w);
        run.tasks.push(run.lp.spawn(async move {
            for _ in 0..1 + wr.below(8) {
                let how = wr.below(7);
                let wid = {
                    let mut mm = m.borrow_mut();
                    mm.next_w += 1;
                    mm.next_w
                };
                match wr.below(12) {
                    0..=3 => {
                        let it = Item::new(wr.below(4) as u8);
                        let key = (it.0, it.1);
                        let (m1, m2) = (m.clone(), m.clone());
                        let f = obs(
                            q.put(it),
                            move |_first, out: Option<&Result<(), _>>| {
                                let mut mm = m1.borrow_mut();
                                match out {
                                    None => {
                                        mm.putters.insert(wid);
                                    }
                                    Some(Ok(())) => {
                                        mm.putters.remove(&wid);
                                        check!(!mm.shut, "put succeeded after shutdown");
                                        st(|s| s.queued.push(key));
                                        mm.unfinished += 1;
                                    }
                                    Some(Err(_)) => {
                                        mm.putters.remove(&wid);
                                        check!(mm.shut, "put failed but queue not shut down");
                                    }
                                }
                            },
                            move |_| {
                                m2.borrow_mut().putters.remove(&wid);
                            },
                        );
                        wrap(how, &abort, f).await;
                    }
                    4..=7 => {
                        let (m1, m2) = (m.clone(), m.clone());
                        let f = obs(
                            q.get(),
                            move |_first, out: Option<&Result<Item, _>>| {
                                let mut mm = m1.borrow_mut();
                                match out {
                                    None => {
                                        mm.getters.insert(wid);
                                    }
                                    Some(Ok(it)) => {
                                        mm.getters.remove(&wid);
                                        took(order, it);
                                    }
                                    Some(Err(_)) => {
                                        mm.getters.remove(&wid);
                                        check!(
                                            mm.shut && st(|s| s.queued.is_empty()),
                                            "get failed: shut={}, queued={:?}",
                                            mm.shut,
                                            st(|s| s.queued.clone())
                                        );
                                    }
                                }
                            },
                            move |_| {
                                m2.borrow_mut().getters.remove(&wid);
                            },
                        );
                        if let Some(Ok(it)) = wrap(how, &abort, f).await {
                            yields(wr.below(2)).await;
                            drop(it);
                            if wr.below(2) == 0 {
                                let mut mm = m.borrow_mut();
                                let ok = q.task_done().is_ok();
                                check!(
                                    ok == (mm.unfinished > 0),
                                    "task_done ok={ok}, model unfinished {}",
                                    mm.unfinished
                                );
                                if ok {
                                    mm.unfinished -= 1;
                                    if mm.unfinished == 0 {
                                        while mm.joiners.hand() {}
                                    }
                                }
                            }
                        }
                    }
                    8 => {
                        let it = Item::new(wr.below(4) as u8);
                        let key = (it.0, it.1);
                        let full = maxsize > 0 && st(|s| s.queued.len()) >= maxsize;
                        let shut = m.borrow().shut;
                        match q.put_nowait(it) {
                            Ok(()) => {
                                check!(!shut && !full, "put_nowait ok: shut={shut} full={full}");
                                st(|s| s.queued.push(key));
                                m.borrow_mut().unfinished += 1;
                            }
                            Err(TryPutError::ShutDown(_)) => {
                                check!(shut, "put_nowait ShutDown on an open queue")
                            }
                            Err(TryPutError::Full(_)) => check!(
                                !shut && maxsize > 0,
                                "put_nowait Full: shut={shut}, maxsize={maxsize}"
                            ),
                        }
                    }
                    9 => {
                        let shut = m.borrow().shut;
                        let empty = st(|s| s.queued.is_empty());
                        match q.get_nowait() {
                            Ok(it) => took(order, &it),
                            Err(TryGetError::Empty) => check!(
                                empty && !shut,
                                "get_nowait Empty: empty={empty} shut={shut}"
                            ),
                            Err(TryGetError::ShutDown) => check!(
                                empty && shut,
                                "get_nowait ShutDown: empty={empty} shut={shut}"
                            ),
                        }
                    }
                    10 => {
                        let jid = {
                            let mut mm = m.borrow_mut();
                            mm.next_j += 1;
                            mm.next_j
                        };
                        let (m1, m2) = (m.clone(), m.clone());
                        let f = obs(
                            q.join(),
                            move |first, out: Option<&()>| {
                                let mut mm = m1.borrow_mut();
                                if first {
                                    check!(
                                        out.is_some() == (mm.unfinished == 0),
                                        "join {jid}: first poll ready={}, unfinished {}",
                                        out.is_some(),
                                        mm.unfinished
                                    );
                                    if out.is_none() {
                                        mm.joiners.line.push_back(jid);
                                    }
                                } else {
                                    let h = mm.joiners.handed.remove(&jid);
                                    check!(
                                        h == out.is_some(),
                                        "join {jid}: ready={}, model woken={h}",
                                        out.is_some()
                                    );
                                }
                            },
                            move |polled| {
                                if polled {
                                    m2.borrow_mut().joiners.leave(jid);
                                }
                            },
                        );
                        wrap(how, &abort, f).await;
                    }
                    _ => yields(1).await,
                }
            }
        }));
    }
    let shutdown = |q: &GenericQueue<Item, O>, m: &RefCell<QM>, immediate: bool| {
        m.borrow_mut().shut = true;
        if immediate {
            let dropped = st(|s| {
                s.may_drop_queued = true;
                std::mem::take(&mut s.queued)
            });
            q.shutdown(true);
            st(|s| {
                s.may_drop_queued = false;
                for (_, id) in &dropped {
                    if s.drops[id] != 1 {
                        s.errors
                            .push(format!("immediate shutdown: queued item {id} not dropped"));
                    }
                }
            });
            let mut mm = m.borrow_mut();
            mm.unfinished = mm.unfinished.saturating_sub(dropped.len());
            if mm.unfinished == 0 {
                while mm.joiners.hand() {}
            }
        } else {
            q.shutdown(false);
        }
    };
    drive(
        &mut run,
        r,
        |r, _| {
            let len = st(|s| s.queued.len());
            check!(q.qsize() == len, "qsize {} != model {len}", q.qsize());
            check!(
                maxsize == 0 || len <= maxsize,
                "qsize {len} > maxsize {maxsize}"
            );
            if r.below(12) == 0 {
                shutdown(&q, &m, r.below(2) == 0);
            }
        },
        |_, idles| {
            let len = st(|s| s.queued.len());
            let mm = m.borrow();
            check!(
                mm.joiners.handed.is_empty(),
                "idle with woken joiners pending"
            );
            check!(
                mm.unfinished != 0 || mm.joiners.line.is_empty(),
                "idle with joiners while nothing is unfinished"
            );
            check!(
                mm.getters.is_empty() || len == 0,
                "idle with getters {:?} pending and {len} items queued",
                mm.getters
            );
            check!(
                !(!mm.putters.is_empty() && (mm.shut || maxsize == 0 || len < maxsize)),
                "idle with putters {:?} pending (shut {}, len {len}, maxsize {maxsize})",
                mm.putters,
                mm.shut
            );
            check!(
                !mm.shut || mm.getters.is_empty(),
                "idle after shutdown with getters pending"
            );
            drop(mm);
            if !m.borrow().shut {
                shutdown(&q, &m, idles % 2 == 0);
                return true;
            }
            // joiners: finish the unfinished
            let mut mm = m.borrow_mut();
            if mm.unfinished > 0 {
                let mut k = 0;
                while q.task_done().is_ok() {
                    k += 1;
                }
                check!(
                    k == mm.unfinished,
                    "task_done accepted {k} more, model unfinished {}",
                    mm.unfinished
                );
                mm.unfinished = 0;
                while mm.joiners.hand() {}
                return true;
            }
            false
        },
    );
    st(|s| s.may_drop_queued = true);
    drop(run);
    drop(q);
    st(|s| s.queued.clear());
}

fn mpsc_scenario(seed: u64, r: &mut Rng) {
    let n = 1 + r.below(4) as usize;
    let cap = r.below(4) as usize;
    let (tx, rx) = if cap == 0 {
        mpsc::unbounded_channel::<Item>()
    } else {
        mpsc::channel::<Item>(cap)
    };
    let cap = if cap == 0 { 0 } else { cap.max(1) };
    let sent: Rc<RefCell<VecDeque<u64>>> = Rc::new(RefCell::new(VecDeque::new()));
    let closed = Rc::new(Cell::new(false));
    let mut run = new_run(n + 1);
    for w in 0..n {
        let (tx, abort, sent, closed) = (
            tx.clone(),
            run.aborts[w].clone(),
            sent.clone(),
            closed.clone(),
        );
        let mut wr = worker_rng(seed, w);
        run.tasks.push(run.lp.spawn(async move {
            for _ in 0..1 + wr.below(8) {
                let it = Item::new(0);
                let id = it.1;
                if wr.below(4) == 0 {
                    match tx.try_send(it) {
                        Ok(()) => sent.borrow_mut().push_back(id),
                        Err(mpsc::TrySendError::Full(_)) => check!(cap > 0, "unbounded Full"),
                        Err(mpsc::TrySendError::Closed(_)) => {
                            check!(closed.get(), "try_send Closed while open")
                        }
                    }
                    continue;
                }
                let s2 = sent.clone();
                let c2 = closed.clone();
                let f = obs(
                    tx.send(it),
                    move |_, out: Option<&Result<(), _>>| match out {
                        Some(Ok(())) => s2.borrow_mut().push_back(id),
                        Some(Err(_)) => check!(c2.get(), "send failed while open"),
                        None => {}
                    },
                    |_| {},
                );
                wrap(wr.below(7), &abort, f).await;
                yields(wr.below(2)).await;
            }
        }));
    }
    drop(tx);
    let abort = run.aborts[n].clone();
    let (sent2, closed2) = (sent.clone(), closed.clone());
    let mut wr = Rng::seeded(seed ^ 0xabcdef);
    let done = Rc::new(Cell::new(false));
    let done2 = done.clone();
    run.tasks.push(run.lp.spawn(async move {
        let mut rx = rx;
        // dropped before `rx`: sends may fail from then on
        let _closed = SetOnDrop(closed2.clone());
        loop {
            let (s3, c3) = (sent2.clone(), closed2.clone());
            let check_got = move |got: &Option<Item>| match got {
                Some(it) => {
                    let exp = s3.borrow_mut().pop_front();
                    check!(
                        exp == Some(it.1),
                        "recv got {}, expected {exp:?} (FIFO)",
                        it.1
                    );
                }
                None => {
                    let _ = &c3;
                    check!(
                        s3.borrow().is_empty(),
                        "recv None with {:?} still sent",
                        s3.borrow()
                    );
                }
            };
            match wr.below(6) {
                0 => {
                    let got = rx.try_recv();
                    match got {
                        Ok(it) => check_got(&Some(it)),
                        Err(mpsc::TryRecvError::Empty) => {
                            check!(sent2.borrow().is_empty(), "try_recv Empty with items sent")
                        }
                        Err(mpsc::TryRecvError::Closed) => {
                            check!(sent2.borrow().is_empty(), "try_recv Closed with items sent");
                            break;
                        }
                    }
                    yields(1).await;
                }
                1 if wr.below(8) == 0 => {
                    closed2.set(true);
                    rx.close();
                }
                _ => {
                    let got = wrap(wr.below(7), &abort, rx.recv()).await;
                    if let Some(g) = got {
                        let end = g.is_none();
                        check_got(&g);
                        if end {
                            break;
                        }
                    }
                }
            }
        }
        done2.set(true);
    }));
    drive(
        &mut run,
        r,
        |_, _| {},
        |_, _| {
            err("mpsc: idle with tasks pending".into());
            false
        },
    );
    drop(run);
}

fn run_one(seed: u64) -> Result<(), String> {
    ST.with(|s| *s.borrow_mut() = St::default());
    let mut r = Rng::seeded(seed);
    let kind = r.below(10);
    let name = [
        "Semaphore",
        "BoundedSemaphore",
        "Lock",
        "Event",
        "Barrier",
        "Condition",
        "Queue",
        "LifoQueue",
        "PriorityQueue",
        "mpsc",
    ][kind as usize];
    match kind {
        0..=2 => sem_scenario(seed, &mut r, kind),
        3 => event_scenario(seed, &mut r),
        4 => barrier_scenario(seed, &mut r),
        5 => condition_scenario(seed, &mut r),
        6 => queue_scenario::<corio::sync::Fifo>(seed, &mut r, Ord3::Fifo),
        7 => queue_scenario::<Lifo>(seed, &mut r, Ord3::Lifo),
        8 => queue_scenario::<Priority>(seed, &mut r, Ord3::Prio),
        _ => mpsc_scenario(seed, &mut r),
    }
    let errors = st(|s| {
        let mut e = std::mem::take(&mut s.errors);
        for (id, d) in &s.drops {
            if *d != 1 {
                e.push(format!("item {id} dropped {d} times at the end"));
            }
        }
        e
    });
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!("seed {seed} ({name}):\n  {}", errors.join("\n  ")))
    }
}

#[test]
fn sync_fuzz() {
    // The seeds' panics are expected (each is checked): silenced.
    std::panic::set_hook(Box::new(|_| {}));
    common::run_seeds(
        "sync_fuzz",
        20000,
        |seed, _| run_one(seed),
        || format!("{:?}", STATS.with(|c| c.get())),
    );
}

// ---------- broadcast ----------

/// A value that keeps count of its live copies, by id.
struct Tracked {
    id: u64,
    live: Rc<RefCell<HashMap<u64, i64>>>,
}

impl Tracked {
    fn new(id: u64, live: &Rc<RefCell<HashMap<u64, i64>>>) -> Tracked {
        *live.borrow_mut().entry(id).or_default() += 1;
        Tracked {
            id,
            live: live.clone(),
        }
    }
}

impl Clone for Tracked {
    fn clone(&self) -> Tracked {
        Tracked::new(self.id, &self.live)
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        *self.live.borrow_mut().entry(self.id).or_default() -= 1;
    }
}

/// What a receive should give, by the model: the value numbered `next`,
/// or the gap before the oldest value kept, or nothing (yet, or for good).
#[derive(Debug, PartialEq)]
enum Expect {
    Value(u64),
    Lagged(u64),
    Empty,
    Closed,
}

/// One seeded run of broadcast: random sends, subscriptions, clones and
/// drops of both ends, `try_recv`s, and `recv`s polled once and then
/// dropped (or, when they wait, polled again after a send), against a
/// model of numbered values — each receiver gets exactly the values sent
/// while it was subscribed, in order, each gap reported as a `Lagged` of
/// its exact size; every copy of every value is dropped by the end.
fn broadcast_run(seed: u64) -> Result<(), String> {
    use corio::sync::broadcast::{self, RecvError, TryRecvError};
    let mut r = Rng::seeded(seed);
    let live = Rc::new(RefCell::new(HashMap::new()));
    let capacity = 1 + r.below(4) as usize;
    let (tx, rx) = broadcast::channel::<Tracked>(capacity);
    let mut senders = vec![tx];
    let mut receivers = vec![(rx, 0u64)]; // (receiver, model: next number)
    let mut end = 0u64; // the model: number of the next value sent
    let expect = |next: &mut u64, end: u64, open: bool| -> Expect {
        let first = end.saturating_sub(capacity as u64);
        if *next < first {
            let missed = first - *next;
            *next = first;
            Expect::Lagged(missed)
        } else if *next < end {
            *next += 1;
            Expect::Value(*next - 1)
        } else if open {
            Expect::Empty
        } else {
            Expect::Closed
        }
    };
    let tried = |result: Result<Tracked, TryRecvError>| match result {
        Ok(value) => Expect::Value(value.id),
        Err(TryRecvError::Lagged(n)) => Expect::Lagged(n),
        Err(TryRecvError::Closed) => Expect::Closed,
        Err(TryRecvError::Empty) => Expect::Empty,
    };
    let got = |polled: Poll<Result<Tracked, RecvError>>| match polled {
        Poll::Ready(Ok(value)) => Expect::Value(value.id),
        Poll::Ready(Err(RecvError::Lagged(n))) => Expect::Lagged(n),
        Poll::Ready(Err(RecvError::Closed)) => Expect::Closed,
        Poll::Pending => Expect::Empty,
    };
    let mut cx = Context::from_waker(std::task::Waker::noop());
    for step in 0..200 {
        let open = !senders.is_empty();
        match r.below(10) {
            0..=2 if open => {
                let tx = &senders[r.below(senders.len() as u64) as usize];
                let sent = tx.send(Tracked::new(end, &live));
                match (sent, receivers.len()) {
                    (Err(_), 0) => {}
                    (Ok(n), k) if n == k => end += 1,
                    (sent, k) => {
                        return Err(format!(
                            "seed {seed} step {step}: send gave {:?} with {k} receivers",
                            sent.map_err(|_| "SendError")
                        ));
                    }
                }
            }
            3 | 4 if !receivers.is_empty() => {
                let i = r.below(receivers.len() as u64) as usize;
                let (rx, next) = &mut receivers[i];
                let want = expect(next, end, open);
                let have = tried(rx.try_recv());
                if have != want {
                    return Err(format!(
                        "seed {seed} step {step}: try_recv {have:?}, model {want:?}"
                    ));
                }
            }
            5 | 6 if !receivers.is_empty() => {
                let i = r.below(receivers.len() as u64) as usize;
                let (rx, next) = &mut receivers[i];
                let want = expect(next, end, open);
                let mut recv = std::pin::pin!(rx.recv());
                let have = got(recv.as_mut().poll(&mut cx));
                if have != want {
                    return Err(format!(
                        "seed {seed} step {step}: recv {have:?}, model {want:?}"
                    ));
                }
                // Waiting: dropped now, or woken by a send and polled again.
                if have == Expect::Empty && r.below(2) == 0 {
                    let count = senders[0].receiver_count();
                    if senders[0].send(Tracked::new(end, &live)).ok() != Some(count) {
                        return Err(format!("seed {seed} step {step}: send to a waiter failed"));
                    }
                    end += 1;
                    let want = expect(next, end, true);
                    let have = got(recv.as_mut().poll(&mut cx));
                    if have != want {
                        return Err(format!(
                            "seed {seed} step {step}: woken recv {have:?}, model {want:?}"
                        ));
                    }
                }
            }
            7 => {
                let new = match (open, receivers.is_empty()) {
                    (true, _) if r.below(2) == 0 => senders[0].subscribe(),
                    (_, false) => receivers[0].0.resubscribe(),
                    (true, true) => senders[0].subscribe(),
                    (false, true) => continue,
                };
                receivers.push((new, end));
            }
            8 if !receivers.is_empty() => {
                let i = r.below(receivers.len() as u64) as usize;
                drop(receivers.swap_remove(i));
            }
            9 if open => {
                if r.below(3) == 0 {
                    drop(senders.pop());
                } else {
                    senders.push(senders[0].clone());
                }
            }
            _ => {}
        }
        // The channel holds one copy of each value some receiver still has
        // to take (all of them were subscribed when it was sent), among
        // the last `capacity` — and no other.
        for (&id, &copies) in live.borrow().iter() {
            // (An id at `end` or past it belongs to a send that failed.)
            let sent_and_kept = id < end && id + capacity as u64 >= end;
            let kept = sent_and_kept && receivers.iter().any(|(_, next)| *next <= id);
            if copies != i64::from(kept) {
                return Err(format!(
                    "seed {seed} step {step}: value {id} has {copies} copies, the model {}",
                    i64::from(kept)
                ));
            }
        }
    }
    drop(senders);
    for (rx, next) in &mut receivers {
        loop {
            let want = expect(next, end, false);
            let have = tried(rx.try_recv());
            if have != want {
                return Err(format!(
                    "seed {seed} draining: try_recv {have:?}, model {want:?}"
                ));
            }
            if have == Expect::Closed {
                break;
            }
        }
    }
    drop(receivers);
    let leaked: Vec<_> = live
        .borrow()
        .iter()
        .filter(|(_, n)| **n != 0)
        .map(|(id, n)| (*id, *n))
        .collect();
    if leaked.is_empty() {
        Ok(())
    } else {
        Err(format!("seed {seed}: copies left (id, count): {leaked:?}"))
    }
}

#[test]
fn broadcast_fuzz() {
    common::run_seeds(
        "broadcast_fuzz",
        5000,
        |seed, _| broadcast_run(seed),
        String::new,
    );
}
