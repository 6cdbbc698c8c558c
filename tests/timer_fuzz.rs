//! Timers, seeded and randomized, against a model. Each seed builds a
//! program of 10–40 timer operations with deadlines 0–15 ms from a common
//! start — tasks that `sleep` / `sleep_until`, `call_at` / `call_later`
//! callbacks, cancels (at once, or from another timer's callback or task,
//! before or after the target's deadline), `select`s and `timeout`s whose
//! losing sleep is dropped, `timeout`s around futures that finish at once,
//! earlier, later or never, and `interval`s ticking a few times — runs it on
//! one loop, and checks what the timer docs promise:
//!
//! * nothing fires before its deadline (compared as `Instant`s: exact);
//! * every live timer fires exactly once, within 2 s; a cancel that
//!   returned `true` means the callback never runs / the task never wakes,
//!   one that returned `false` comes after the target fired;
//! * a dropped sleep never fires: the task that dropped it is not woken
//!   again by it;
//! * `timeout`: a future that never finishes gives `Elapsed` (and is
//!   dropped first), one that is ready at once or whose own deadline comes
//!   before the limit gives `Ok` ("a future that is ready in time wins");
//! * intervals tick the asked number of times, never early, on the schedule
//!   of their `MissedTickBehavior`;
//! * order: ARCHITECTURE.md ("Timers") says the ~4 ms buckets still fire
//!   "never early and ties in arming order, as before" — each bucket is
//!   sorted when it comes due. So, of two timers that were in the queue
//!   before their deadlines (callbacks always are; a sleep is when its first
//!   poll returned `Pending`), the one with the earlier deadline is seen
//!   first, and equal deadlines are seen in arming order. A sleep whose
//!   deadline had passed at its first poll never enters the queue and is
//!   left out (it completes at that poll, which may be after a later timer
//!   fired when the machine stalls). This subsumes "deadlines ≥ 10 ms apart
//!   fire in order".
//!
//! No upper bound on lateness is asserted except the 2 s limit. `SEEDS=N`
//! runs more or fewer (default 100, about 3 s); `SEED=n` runs one and
//! prints its program.
mod common;

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use common::DropFlag;
use common::XorShift as Rng;
use corio::time::{MissedTickBehavior, interval, sleep, sleep_until, timeout, timeout_at};
use corio::{CallbackHandle, Either, Task, TaskError};

/// Deadlines are 0..=SPAN_US µs after the start.
const SPAN_US: u64 = 15_000;
/// The root waits this long before checking that everything is done, so
/// that a timer which should not fire would have had its chance.
const END_US: u64 = 26_000;

fn us(n: u64) -> Duration {
    Duration::from_micros(n)
}

// ---------- the program ----------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Via {
    Callback,
    Task,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Inner {
    /// `pending()`: must give `Elapsed`.
    Never,
    /// Ready at its first poll: must give `Ok`, even with a zero limit.
    Ready,
    /// A `sleep_until(start + at)`.
    Sleep(u64),
}

#[derive(Debug, Clone)]
enum Op {
    /// A task: `sleep_until(start + at)`, then records.
    SleepUntil {
        at: u64,
    },
    /// A task: `sleep(d)` (made at its first poll), then records.
    Sleep {
        d: u64,
    },
    CallAt {
        at: u64,
    },
    CallLater {
        d: u64,
    },
    /// The root cancels op `target` right after arming it.
    CancelNow {
        target: usize,
    },
    /// At `start + at`, a callback or a task cancels op `target`.
    Cancel {
        at: u64,
        via: Via,
        target: usize,
    },
    /// A task: `select(sleep_until(win), sleep_until(lose))`, then waits on a
    /// gate opened by a callback at `release`: the dropped `lose` sleep must
    /// not wake it in between.
    Select {
        win: u64,
        lose: u64,
        release: u64,
    },
    /// A task: `timeout(d)` (or `timeout_at(start + d)`) around `inner`.
    Timeout {
        d: u64,
        absolute: bool,
        inner: Inner,
    },
    Interval {
        period: u64,
        ticks: usize,
        missed: MissedTickBehavior,
    },
}

impl Op {
    /// About when it fires (µs after the start).
    fn nominal(&self) -> u64 {
        match *self {
            Op::SleepUntil { at } | Op::CallAt { at } | Op::Cancel { at, .. } => at,
            Op::Sleep { d } | Op::CallLater { d } | Op::Timeout { d, .. } => d,
            Op::Select { win, .. } => win,
            Op::CancelNow { .. } | Op::Interval { .. } => 0,
        }
    }

    fn cancellable(&self) -> bool {
        matches!(
            self,
            Op::SleepUntil { .. } | Op::Sleep { .. } | Op::CallAt { .. } | Op::CallLater { .. }
        )
    }

    fn is_callback(&self) -> bool {
        matches!(
            self,
            Op::CallAt { .. }
                | Op::CallLater { .. }
                | Op::Cancel {
                    via: Via::Callback,
                    ..
                }
        )
    }
}

fn generate(r: &mut Rng) -> Vec<Op> {
    let n = 10 + r.below(31) as usize;
    let mut ops: Vec<Op> = Vec::with_capacity(n);
    let mut used: Vec<u64> = Vec::new();
    // Absolute deadlines, sometimes one used before (a tie).
    let mut at = |r: &mut Rng| {
        if !used.is_empty() && r.below(5) == 0 {
            used[r.below(used.len() as u64) as usize]
        } else {
            let a = r.below(SPAN_US + 1);
            used.push(a);
            a
        }
    };
    for _ in 0..n {
        let targets: Vec<usize> = (0..ops.len()).filter(|&i| ops[i].cancellable()).collect();
        let op = match r.below(20) {
            0..=3 => Op::SleepUntil { at: at(r) },
            4 | 5 => Op::Sleep {
                d: r.below(SPAN_US + 1),
            },
            6..=8 => Op::CallAt { at: at(r) },
            9 => Op::CallLater {
                d: r.below(SPAN_US + 1),
            },
            10..=12 if !targets.is_empty() => {
                let target = targets[r.below(targets.len() as u64) as usize];
                // Near the target's deadline, before or after it.
                let t = ops[target].nominal() as i64;
                let delta = 1_000 + r.below(5_000) as i64;
                let a = if r.below(2) == 0 {
                    t - delta
                } else {
                    t + delta
                };
                Op::Cancel {
                    at: a.clamp(0, SPAN_US as i64) as u64,
                    via: if r.below(2) == 0 {
                        Via::Callback
                    } else {
                        Via::Task
                    },
                    target,
                }
            }
            13 if !targets.is_empty() => Op::CancelNow {
                target: targets[r.below(targets.len() as u64) as usize],
            },
            13..=15 => {
                let win = r.below(SPAN_US - 5_000);
                let lose = win + 1_000 + r.below(4_000);
                Op::Select {
                    win,
                    lose,
                    release: lose + 500 + r.below(3_000),
                }
            }
            16..=18 => Op::Timeout {
                d: if r.below(6) == 0 {
                    0
                } else {
                    r.below(SPAN_US + 1)
                },
                absolute: r.below(2) == 0,
                inner: match r.below(4) {
                    0 => Inner::Never,
                    1 => Inner::Ready,
                    _ => Inner::Sleep(r.below(SPAN_US + 1)),
                },
            },
            _ => Op::Interval {
                period: 1_000 + r.below(4_001),
                ticks: 2 + r.below(3) as usize,
                missed: [
                    MissedTickBehavior::Skip,
                    MissedTickBehavior::Burst,
                    MissedTickBehavior::Delay,
                ][r.below(3) as usize],
            },
        };
        ops.push(op);
    }
    ops
}

// ---------- what happened ----------

/// One op's timer as observed.
#[derive(Debug, Clone, Default)]
struct Rec {
    /// Bounds on the deadline (equal when it is known exactly).
    lo: Option<Instant>,
    hi: Option<Instant>,
    /// Was it in the timer queue before its deadline passed?
    in_queue: bool,
    /// When it was armed, in the program's arming order.
    arm_seq: u64,
    /// (when, observation number) of each firing.
    fires: Vec<(Instant, u64)>,
    /// Cancels of this op: what each returned, at which observation
    /// number, by which op (`None`: the root, at once).
    cancels: Vec<(bool, u64, Option<usize>)>,
    /// The task's outcome: Ok, or cancelled.
    task: Option<Result<(), ()>>,
    /// Select: which side won; Timeout: Ok / Elapsed; when seen.
    outcome: Option<(String, Instant)>,
    /// Timeout: was the inner future dropped when `timeout` returned
    /// `Elapsed`? Select: polls of the gate.
    flag: bool,
    gate_polls: u32,
    /// Interval: (scheduled, seen) per tick, and bounds on its creation.
    ticks: Vec<(Instant, Instant)>,
}

/// What the seeds exercised, summed over the run.
#[derive(Debug, Default, Clone, Copy)]
struct Counts {
    ordered_pairs: u64,
    ties: u64,
    sleeps_queued: u64,
    sleeps_due_at_first_poll: u64,
    cancels_true: u64,
    cancels_false: u64,
    certain_cancels: u64,
    elapsed: u64,
    ok: u64,
    interval_ticks: u64,
}

thread_local! { static COUNTS: Cell<Counts> = Cell::new(Counts::default()); }

fn count(f: impl FnOnce(&mut Counts)) {
    COUNTS.with(|c| {
        let mut v = c.get();
        f(&mut v);
        c.set(v);
    });
}

#[derive(Default)]
struct St {
    recs: Vec<Rec>,
    obs: u64,
    arm: u64,
}

thread_local! { static ST: RefCell<St> = RefCell::new(St::default()); }

fn st<R>(f: impl FnOnce(&mut St) -> R) -> R {
    ST.with(|s| f(&mut s.borrow_mut()))
}

fn fire(id: usize) {
    let now = Instant::now();
    st(|s| {
        s.obs += 1;
        let n = s.obs;
        s.recs[id].fires.push((now, n));
    });
}

fn next_arm() -> u64 {
    st(|s| {
        s.arm += 1;
        s.arm
    })
}

/// Polls a sleep, noting whether its first poll armed a timer (returned
/// `Pending`) and in which arming order.
struct Armed {
    id: usize,
    polled: bool,
    sleep: corio::time::Sleep,
}

impl Future for Armed {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let first = !self.polled;
        self.polled = true;
        let seq = if first { next_arm() } else { 0 };
        let poll = Pin::new(&mut self.sleep).poll(cx);
        if first {
            let id = self.id;
            let pending = poll.is_pending();
            st(|s| {
                s.recs[id].arm_seq = seq;
                s.recs[id].in_queue = pending;
            });
        }
        poll
    }
}

fn armed(id: usize, sleep: corio::time::Sleep) -> Armed {
    let dl = sleep.deadline();
    st(|s| {
        s.recs[id].lo = Some(dl);
        s.recs[id].hi = Some(dl);
    });
    Armed {
        id,
        polled: false,
        sleep,
    }
}

/// A future that completes once opened, counting its polls.
#[derive(Clone, Default)]
struct Gate(Rc<GateState>);

/// Opened?, polls so far, the waker of the last pending poll.
type GateState = (Cell<bool>, Cell<u32>, RefCell<Option<Waker>>);

impl Gate {
    fn open(&self) {
        self.0.0.set(true);
        if let Some(w) = self.0.2.borrow_mut().take() {
            w.wake();
        }
    }
}

impl Future for Gate {
    type Output = u32;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        let g = &self.0;
        g.1.set(g.1.get() + 1);
        if g.0.get() {
            Poll::Ready(g.1.get())
        } else {
            *g.2.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

// ---------- running a program ----------

type Tasks = Rc<RefCell<Vec<Option<Task<()>>>>>;
type Handles = Rc<RefCell<Vec<Option<CallbackHandle>>>>;

/// Cancels op `target` (a callback or a task); notes what `cancel`
/// returned, after the canceller's own observation.
fn cancel(target: usize, by: Option<usize>, tasks: &Tasks, handles: &Handles) {
    let done = if let Some(h) = &handles.borrow()[target] {
        h.cancel()
    } else {
        let t = tasks.borrow();
        t[target].as_ref().expect("a target").cancel()
    };
    st(|s| {
        s.obs += 1;
        let n = s.obs;
        s.recs[target].cancels.push((done, n, by));
    });
}

fn run_program(ops: &[Op]) -> Result<Instant, String> {
    let mut lp = corio::EventLoop::new().map_err(|e| e.to_string())?;
    let n = ops.len();
    st(|s| *s = St::default());
    st(|s| s.recs = vec![Rec::default(); n]);
    let tasks: Tasks = Rc::new(RefCell::new((0..n).map(|_| None).collect()));
    let handles: Handles = Rc::new(RefCell::new((0..n).map(|_| None).collect()));
    let ops = ops.to_vec();
    let start = Instant::now();
    let root = {
        let tasks = tasks.clone();
        let handles = handles.clone();
        async move {
            let at = move |a: u64| start + us(a);
            for (id, op) in ops.iter().enumerate() {
                match *op {
                    Op::SleepUntil { at: a } => {
                        let t = corio::spawn(async move {
                            armed(id, sleep_until(at(a))).await;
                            fire(id);
                        });
                        tasks.borrow_mut()[id] = Some(t);
                    }
                    Op::Sleep { d } => {
                        let t = corio::spawn(async move {
                            armed(id, sleep(us(d))).await;
                            fire(id);
                        });
                        tasks.borrow_mut()[id] = Some(t);
                    }
                    Op::CallAt { at: a } => {
                        let seq = next_arm();
                        let h = corio::call_at(at(a), move || fire(id));
                        st(|s| {
                            let r = &mut s.recs[id];
                            (r.lo, r.hi, r.in_queue, r.arm_seq) =
                                (Some(at(a)), Some(at(a)), true, seq);
                        });
                        handles.borrow_mut()[id] = Some(h);
                    }
                    Op::CallLater { d } => {
                        let seq = next_arm();
                        let before = Instant::now();
                        let h = corio::call_later(us(d), move || fire(id));
                        let after = Instant::now();
                        st(|s| {
                            let r = &mut s.recs[id];
                            (r.lo, r.hi, r.in_queue, r.arm_seq) =
                                (Some(before + us(d)), Some(after + us(d)), true, seq);
                        });
                        handles.borrow_mut()[id] = Some(h);
                    }
                    Op::CancelNow { target } => cancel(target, None, &tasks, &handles),
                    Op::Cancel {
                        at: a,
                        via: Via::Callback,
                        target,
                    } => {
                        let seq = next_arm();
                        let (t, h) = (tasks.clone(), handles.clone());
                        let h = corio::call_at(at(a), move || {
                            fire(id);
                            cancel(target, Some(id), &t, &h);
                        });
                        st(|s| {
                            let r = &mut s.recs[id];
                            (r.lo, r.hi, r.in_queue, r.arm_seq) =
                                (Some(at(a)), Some(at(a)), true, seq);
                        });
                        handles.borrow_mut()[id] = Some(h);
                    }
                    Op::Cancel {
                        at: a,
                        via: Via::Task,
                        target,
                    } => {
                        let (t, h) = (tasks.clone(), handles.clone());
                        let task = corio::spawn(async move {
                            armed(id, sleep_until(at(a))).await;
                            fire(id);
                            cancel(target, Some(id), &t, &h);
                        });
                        // Not a cancel target itself: kept aside.
                        tasks.borrow_mut()[id] = Some(task);
                    }
                    Op::Select { win, lose, release } => {
                        let gate = Gate::default();
                        let g = gate.clone();
                        // Opens the gate; not itself a checked timer.
                        corio::call_at(at(release), move || g.open());
                        let t = corio::spawn(async move {
                            let won =
                                corio::select(sleep_until(at(win)), sleep_until(at(lose))).await;
                            let side = match won {
                                Either::Left(()) => "win",
                                Either::Right(()) => "lose",
                            };
                            let seen = Instant::now();
                            let polls = gate.await;
                            st(|s| {
                                let r = &mut s.recs[id];
                                r.outcome = Some((side.to_string(), seen));
                                r.gate_polls = polls;
                            });
                        });
                        tasks.borrow_mut()[id] = Some(t);
                    }
                    Op::Timeout { d, absolute, inner } => {
                        let t = corio::spawn(async move {
                            let dropped = Rc::new(Cell::new(false));
                            let guard = DropFlag(dropped.clone());
                            let fut = async move {
                                let _guard = guard;
                                match inner {
                                    Inner::Never => std::future::pending::<u32>().await,
                                    Inner::Ready => 7,
                                    Inner::Sleep(a) => {
                                        sleep_until(at(a)).await;
                                        7
                                    }
                                }
                            };
                            let before = Instant::now();
                            let out = if absolute {
                                timeout_at(at(d), fut).await
                            } else {
                                timeout(us(d), fut).await
                            };
                            let seen = Instant::now();
                            let (lo, hi) = if absolute {
                                (at(d), at(d))
                            } else {
                                // The limit counts from the call, between
                                // `before` and now.
                                (before + us(d), seen + us(d))
                            };
                            let what = match out {
                                Ok(7) => "ok".to_string(),
                                Ok(v) => format!("ok({v})"),
                                Err(_) => "elapsed".to_string(),
                            };
                            let was_dropped = dropped.get();
                            st(|s| {
                                let r = &mut s.recs[id];
                                r.lo = Some(lo);
                                r.hi = Some(hi);
                                r.outcome = Some((what, seen));
                                r.flag = was_dropped;
                            });
                        });
                        tasks.borrow_mut()[id] = Some(t);
                    }
                    Op::Interval {
                        period,
                        ticks,
                        missed,
                    } => {
                        let t = corio::spawn(async move {
                            let before = Instant::now();
                            let mut iv = interval(us(period));
                            iv.set_missed_tick_behavior(missed);
                            st(|s| s.recs[id].lo = Some(before));
                            for _ in 0..ticks {
                                let scheduled = iv.tick().await;
                                let seen = Instant::now();
                                st(|s| s.recs[id].ticks.push((scheduled, seen)));
                            }
                        });
                        tasks.borrow_mut()[id] = Some(t);
                    }
                }
            }
            // Past every deadline (so that what should not fire had its
            // chance), then until everything is done.
            sleep_until(at(END_US)).await;
            let all_done = || {
                tasks.borrow().iter().flatten().all(|t| t.is_done())
                    && handles.borrow().iter().flatten().all(|h| !h.is_pending())
            };
            let waited = timeout(Duration::from_secs(2), async {
                while !all_done() {
                    sleep(Duration::from_millis(1)).await;
                }
            })
            .await;
            if waited.is_err() {
                return Err("not every timer fired within 2 s".to_string());
            }
            let list: Vec<(usize, Task<()>)> = tasks
                .borrow_mut()
                .iter_mut()
                .enumerate()
                .filter_map(|(i, t)| t.take().map(|t| (i, t)))
                .collect();
            for (id, t) in list {
                let out = match t.await {
                    Ok(()) => Ok(()),
                    Err(TaskError::Cancelled) => Err(()),
                    Err(e) => return Err(format!("op {id}: task failed: {e:?}")),
                };
                st(|s| s.recs[id].task = Some(out));
            }
            Ok(())
        }
    };
    lp.run_until_complete(root)?;
    Ok(start)
}

// ---------- the checks ----------

fn check(ops: &[Op], start: Instant) -> Vec<String> {
    let recs = st(|s| s.recs.clone());
    let mut errs = Vec::new();
    let at = |a: u64| start + us(a);
    let late = |t: Instant| t.saturating_duration_since(start);
    for (id, op) in ops.iter().enumerate() {
        let r = &recs[id];
        let mut err = |m: String| errs.push(format!("op {id} {op:?}: {m}"));
        let is_task = !op.is_callback() && !matches!(op, Op::CancelNow { .. });
        if is_task && r.task.is_none() {
            err("its task's outcome was not collected".into());
        }
        match *op {
            Op::SleepUntil { .. } | Op::Sleep { .. } | Op::CallAt { .. } | Op::CallLater { .. } => {
                let yes: Vec<_> = r.cancels.iter().filter(|c| c.0).collect();
                if yes.len() > 1 {
                    err(format!("cancelled twice: {:?}", r.cancels));
                }
                if let Some(&&(_, n, _)) = yes.first() {
                    if !r.fires.is_empty() {
                        err(format!(
                            "cancelled (observation {n}) but fired: {:?}",
                            r.fires
                        ));
                    }
                    if is_task && r.task != Some(Err(())) {
                        err(format!("cancelled, but the task ended {:?}", r.task));
                    }
                } else {
                    if r.fires.len() != 1 {
                        err(format!("live, fired {} times", r.fires.len()));
                    }
                    if is_task && r.task != Some(Ok(())) {
                        err(format!("live, but the task ended {:?}", r.task));
                    }
                }
                if matches!(op, Op::SleepUntil { .. } | Op::Sleep { .. }) && r.lo.is_some() {
                    count(|c| {
                        if r.in_queue {
                            c.sleeps_queued += 1
                        } else {
                            c.sleeps_due_at_first_poll += 1
                        }
                    });
                }
                for &(done, n, by) in &r.cancels {
                    count(|c| {
                        if done {
                            c.cancels_true += 1
                        } else {
                            c.cancels_false += 1
                        }
                    });
                    let fired_before = r.fires.iter().any(|f| f.1 < n);
                    let cancelled_before = r.cancels.iter().any(|c| c.0 && c.1 < n);
                    if !done && !fired_before && !cancelled_before {
                        err(format!(
                            "cancel at observation {n} returned false before it fired"
                        ));
                    }
                    // Certain by the order guarantee: both in the queue, one
                    // deadline wholly before the other.
                    let by_rec = by.map(|b| &recs[b]);
                    let certain = by_rec.is_none_or(|b| b.in_queue) && r.in_queue;
                    let (Some(lo), Some(hi)) = (r.lo, r.hi) else {
                        continue;
                    };
                    match by_rec {
                        None => {
                            if fired_before {
                                err("fired before the root cancelled it at once".into());
                            }
                        }
                        Some(b) if certain => {
                            let (blo, bhi) = (b.lo.unwrap(), b.hi.unwrap());
                            if bhi < lo || hi < blo {
                                count(|c| c.certain_cancels += 1);
                            }
                            if bhi < lo && fired_before {
                                err(format!(
                                    "fired before op {} cancelled it, whose deadline is earlier",
                                    by.unwrap()
                                ));
                            }
                            if hi < blo && !fired_before && !cancelled_before {
                                err(format!(
                                    "op {} cancelled it before it fired, but its deadline is earlier",
                                    by.unwrap()
                                ));
                            }
                        }
                        Some(_) => {}
                    }
                }
                if let (Some(f), Some(lo)) = (r.fires.first(), r.lo) {
                    if f.0 < lo {
                        err(format!("fired {:?} early", lo - f.0));
                    }
                }
            }
            Op::CancelNow { .. } => {}
            Op::Cancel { .. } => {
                if r.fires.len() != 1 {
                    err(format!("the canceller fired {} times", r.fires.len()));
                }
                if let (Some(f), Some(lo)) = (r.fires.first(), r.lo) {
                    if f.0 < lo {
                        err(format!("fired {:?} early", lo - f.0));
                    }
                }
                if is_task && r.task != Some(Ok(())) {
                    err(format!("the canceller task ended {:?}", r.task));
                }
            }
            Op::Select { win, .. } => match &r.outcome {
                Some((side, seen)) => {
                    if side != "win" {
                        err(format!("select: the later sleep won ({side})"));
                    }
                    if *seen < at(win) {
                        err(format!("select returned {:?} early", at(win) - *seen));
                    }
                    if r.gate_polls > 2 {
                        err(format!(
                            "the task was woken {} times after the select: the dropped sleep fired",
                            r.gate_polls - 2
                        ));
                    }
                }
                None => err("the select task did not finish".into()),
            },
            Op::Timeout { inner, .. } => {
                let Some((what, seen)) = &r.outcome else {
                    err("the timeout task did not finish".into());
                    continue;
                };
                let (lo, seen) = (r.lo.unwrap(), *seen);
                let elapsed = what == "elapsed";
                count(|c| if elapsed { c.elapsed += 1 } else { c.ok += 1 });
                if elapsed && seen < lo {
                    err(format!("Elapsed {:?} early", lo - seen));
                }
                if elapsed && !r.flag {
                    err("Elapsed, but the inner future was not dropped first".into());
                }
                if !elapsed && what != "ok" {
                    err(format!("wrong output {what}"));
                }
                match inner {
                    Inner::Never if !elapsed => err(format!("a pending future gave {what}")),
                    Inner::Ready if elapsed => err("a ready future gave Elapsed".into()),
                    Inner::Sleep(a) => {
                        if !elapsed && seen < at(a) {
                            err(format!("Ok {:?} before the inner deadline", at(a) - seen));
                        }
                        if elapsed && at(a) < lo {
                            err("Elapsed, but the inner deadline came first".into());
                        }
                    }
                    _ => {}
                }
            }
            Op::Interval {
                period,
                ticks,
                missed,
            } => {
                let p = us(period);
                let t = &r.ticks;
                if t.len() != ticks {
                    err(format!("{} ticks of {ticks}", t.len()));
                    continue;
                }
                count(|c| c.interval_ticks += t.len() as u64);
                let s0 = t[0].0;
                if s0 < r.lo.unwrap() || s0 > t[0].1 {
                    err("the first tick is not the interval's creation".into());
                }
                for k in 0..t.len() {
                    let (s, seen) = t[k];
                    if seen < s {
                        err(format!("tick {k} seen {:?} early", s - seen));
                    }
                    if k == 0 {
                        continue;
                    }
                    let (prev, prev_seen) = t[k - 1];
                    if seen < prev_seen {
                        err(format!("tick {k} seen before tick {}", k - 1));
                    }
                    let ok = match missed {
                        MissedTickBehavior::Burst => s == s0 + p * k as u32,
                        MissedTickBehavior::Skip => {
                            s > prev && (s - s0).as_nanos() % p.as_nanos() == 0
                        }
                        MissedTickBehavior::Delay => s >= prev + p,
                    };
                    if !ok {
                        err(format!(
                            "tick {k} scheduled at {:?} after the first (previous {:?})",
                            s - s0,
                            prev - s0
                        ));
                    }
                }
            }
        }
    }
    // Order: of two timers in the queue before their deadlines, the earlier
    // deadline is seen first; equal deadlines in arming order.
    let seen: Vec<(usize, &Rec)> = recs
        .iter()
        .enumerate()
        .filter(|(_, r)| r.in_queue && r.fires.len() == 1 && r.lo.is_some())
        .collect();
    for &(a, ra) in &seen {
        for &(b, rb) in &seen {
            let (oa, ob) = (ra.fires[0].1, rb.fires[0].1);
            let earlier = ra.hi.unwrap() < rb.lo.unwrap();
            let tie = ra.lo == ra.hi && rb.lo == rb.hi && ra.lo == rb.lo && ra.arm_seq < rb.arm_seq;
            count(|c| {
                c.ordered_pairs += u64::from(earlier);
                c.ties += u64::from(tie);
            });
            if (earlier || tie) && oa > ob {
                errs.push(format!(
                    "order: op {a} (deadline {:?}{}) was seen after op {b} (deadline {:?}): {:?} / {:?} {:?} / {:?}",
                    late(ra.lo.unwrap()),
                    if tie { ", armed first" } else { "" },
                    late(rb.lo.unwrap()),
                    ops[a],
                    ops[b],
                    late(ra.fires[0].0),
                    late(rb.fires[0].0),
                ));
            }
        }
    }
    errs
}

fn run_one(seed: u64, verbose: bool) -> Result<(), String> {
    let mut r = Rng::seeded(seed);
    let ops = generate(&mut r);
    if verbose {
        for (i, op) in ops.iter().enumerate() {
            eprintln!("  {i:2}: {op:?}");
        }
    }
    let errs = match run_program(&ops) {
        Ok(start) => check(&ops, start),
        Err(e) => vec![e],
    };
    if errs.is_empty() {
        return Ok(());
    }
    let program: Vec<String> = ops
        .iter()
        .enumerate()
        .map(|(i, op)| format!("{i:2}: {op:?}"))
        .collect();
    Err(format!(
        "seed {seed}:\n  {}\n program:\n  {}",
        errs.join("\n  "),
        program.join("\n  ")
    ))
}

#[test]
fn timer_fuzz() {
    // Nothing may hang: a seed that takes 10 s ends the run.
    common::run_seeds("timer_fuzz", 100, run_one, || {
        format!("{:?}", COUNTS.with(|c| c.get()))
    });
}
