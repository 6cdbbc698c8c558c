//! Combinators, seeded and randomized, against a model. Each seed builds,
//! on one loop, 1–12 children — small programs that finish with a value
//! after k yields or after a 0–5 ms sleep, fail (return `Err`, or panic),
//! or never finish — some of them cancelled from outside at a random point
//! by a killer task holding their handle. It then applies one combinator
//! and checks what the docs promise:
//!
//! * `gather` of futures: outputs in input order; on a timeout around it
//!   (some child never finishes) every child is dropped.
//! * `gather` of tasks: each outcome in input order — `Ok(Ok)`, `Ok(Err)`,
//!   `Panicked` with the child's message, or `Cancelled` exactly when a
//!   `cancel` returned `true` (and then the child never finished). Half
//!   the seeds put a short timeout around it: dropped mid-way, the task
//!   panics it took are reported ("Always", below).
//! * `wait(.., ReturnWhen::*)`: `done` and `pending` partition the input,
//!   each in input order; every done task is done; `FirstCompleted` has
//!   something done, `AllCompleted` nothing pending, `FirstException` a
//!   panicked task in `done` unless nothing is pending (cancels and `Err`
//!   returns are no exceptions); it returns (no hang) when the docs say it
//!   must; done tasks give their outcome at once.
//! * `as_completed` of futures: outputs in exactly the order the children
//!   completed (they are polled in place); `len()` counts down; stopping
//!   early and dropping the stream drops every child.
//! * `as_completed` of tasks: every outcome once; tasks already finished
//!   before the first `next()` come out first, in input order.
//! * `select` / `race`: on futures, the winner by the model where it is
//!   determined (`a` wins ties; the loser never completes and is dropped
//!   when `select` returns); on tasks, the loser is detached, not cancelled.
//! * `TaskGroup`: `Ok(outputs in spawn order)`, or the first failure to
//!   happen (`Failed`, `Task(Panicked)`, `Task(Cancelled)` for a child
//!   cancelled from outside); when `join` returns every child is gone;
//!   dropping the group (unjoined, or its `join` future on a timeout)
//!   cancels the children still running.
//!
//! Always: every child's destructor runs exactly once; at the end no task
//! is left (`all_tasks()` is empty); a panic nobody took is reported (and
//! only those); the loop ends. `SEEDS=N` runs more or fewer (default 1000,
//! a few seconds), `SEED=n` runs one and prints its program.
mod common;

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::XorShift as Rng;
use corio::time::{sleep, timeout};
use corio::{Either, EventLoop, GroupError, ReturnWhen, Task, TaskError, TaskGroup, TaskRef};

// ---------- the children ----------

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    /// `Ok(id)` after k yields.
    Yields(u32),
    /// `Ok(id)` after a sleep of so many ms.
    Sleep(u64),
    /// `Err(id)` after k yields.
    Fail(u32),
    /// Panics after k yields.
    Panic(u32),
    /// Never finishes.
    Never,
}

#[derive(Debug, Clone, Copy)]
struct Child {
    kind: Kind,
    /// A killer task cancels this child after so many yields.
    killer: Option<u32>,
}

type Out = Result<u32, u32>;

#[derive(Default)]
struct Rec {
    drops: Vec<u32>,
    /// Finished on its own (returned, or panicked).
    completed: Vec<bool>,
    /// Completion order.
    log: Vec<usize>,
    /// Failures in the order they happened: `Err`, panic, outside cancel.
    failures: Vec<usize>,
    /// A `cancel` from outside (killer or the root) returned `true`.
    cancelled: Vec<bool>,
    /// Panics whose outcome the test took.
    taken_panics: usize,
    errors: Vec<String>,
}

type R = Rc<RefCell<Rec>>;

fn err(r: &R, msg: String) {
    r.borrow_mut().errors.push(msg);
}

macro_rules! check {
    ($r:expr, $cond:expr, $($fmt:tt)+) => {
        if !$cond {
            err($r, format!($($fmt)+));
        }
    };
}

struct Guard(R, usize);

impl Drop for Guard {
    fn drop(&mut self) {
        let mut s = self.0.borrow_mut();
        s.drops[self.1] += 1;
        if !s.completed[self.1] && s.cancelled[self.1] {
            s.failures.push(self.1);
        }
    }
}

fn finish(r: &R, id: usize, kind: Kind) -> Out {
    let mut s = r.borrow_mut();
    s.completed[id] = true;
    s.log.push(id);
    match kind {
        Kind::Fail(_) => {
            s.failures.push(id);
            Err(id as u32)
        }
        Kind::Panic(_) => {
            s.failures.push(id);
            drop(s);
            panic!("expected: child {id}");
        }
        _ => Ok(id as u32),
    }
}

fn child(r: &R, id: usize, kind: Kind) -> impl Future<Output = Out> + 'static {
    let guard = Guard(r.clone(), id); // dropped with the future, polled or not
    let r = r.clone();
    async move {
        let _guard = guard;
        match kind {
            Kind::Yields(k) | Kind::Fail(k) | Kind::Panic(k) => {
                for _ in 0..k {
                    corio::yield_now().await;
                }
            }
            Kind::Sleep(ms) => sleep(Duration::from_millis(ms)).await,
            Kind::Never => std::future::pending::<()>().await,
        }
        finish(&r, id, kind)
    }
}

/// Cancels `target` (child `id`), recording a `true`.
fn cancel(r: &R, id: usize, target: &TaskRef) {
    if target.cancel() {
        r.borrow_mut().cancelled[id] = true;
    }
}

fn spawn_killers(r: &R, children: &[Child], refs: &[TaskRef]) -> Vec<Task<()>> {
    let mut killers = Vec::new();
    for (id, c) in children.iter().enumerate() {
        if let Some(k) = c.killer {
            let (r, target) = (r.clone(), refs[id].clone());
            killers.push(corio::spawn(async move {
                for _ in 0..k {
                    corio::yield_now().await;
                }
                cancel(&r, id, &target);
            }));
        }
    }
    killers
}

/// Checks a task child's outcome against the model (call once the killers
/// are done, or when the child is known to be finished).
fn check_task(r: &R, id: usize, kind: Kind, got: &Result<Out, TaskError>) {
    let s = r.borrow();
    let (cancelled, completed) = (s.cancelled[id], s.completed[id]);
    drop(s);
    if let Err(TaskError::Panicked(_)) = got {
        r.borrow_mut().taken_panics += 1;
    }
    let ok = if cancelled {
        check!(
            r,
            !completed,
            "child {id}: cancel returned true, yet it finished"
        );
        matches!(got, Err(TaskError::Cancelled))
    } else {
        match (kind, got) {
            (Kind::Yields(_) | Kind::Sleep(_), Ok(Ok(v))) => *v as usize == id,
            (Kind::Fail(_), Ok(Err(v))) => *v as usize == id,
            (Kind::Panic(_), Err(TaskError::Panicked(p))) => {
                p.message() == format!("expected: child {id}")
            }
            _ => false,
        }
    };
    check!(
        r,
        ok,
        "child {id} ({kind:?}, cancelled {cancelled}): got {got:?}"
    );
}

/// The id an outcome names, if any (`Cancelled` names nobody).
fn id_of(got: &Result<Out, TaskError>) -> Option<usize> {
    match got {
        Ok(Ok(v)) | Ok(Err(v)) => Some(*v as usize),
        Err(TaskError::Panicked(p)) => p.message().strip_prefix("expected: child ")?.parse().ok(),
        Err(_) => None,
    }
}

fn check_drops(r: &R, what: &str, ids: impl IntoIterator<Item = usize>) {
    for id in ids {
        let d = r.borrow().drops[id];
        check!(r, d == 1, "{what}: child {id} dropped {d} times");
    }
}

async fn yields(n: usize) {
    for _ in 0..n {
        corio::yield_now().await;
    }
}

/// Cancels every child task still running, awaits the killers, and lets
/// the loop drop what was cancelled.
async fn cleanup(r: &R, refs: &[TaskRef], killers: Vec<Task<()>>) {
    for k in killers {
        check!(r, k.await.is_ok(), "a killer failed");
    }
    for (id, t) in refs.iter().enumerate() {
        cancel(r, id, t);
    }
    for _ in 0..100 {
        if corio::all_tasks().is_empty() {
            break;
        }
        corio::yield_now().await;
    }
}

// ---------- the program ----------

#[derive(Debug, Clone, Copy)]
enum Comb {
    GatherFutures {
        never_ms: Option<u64>,
    },
    /// With `within_ms`, gather runs under that timeout: dropped mid-way,
    /// the task panics it took must be reported.
    GatherTasks {
        within_ms: Option<u64>,
    },
    Wait(ReturnWhen),
    AsCompletedFutures {
        take: Option<usize>,
    },
    AsCompletedTasks {
        take: Option<usize>,
        pre_sleep: bool,
    },
    Select {
        race: bool,
        tasks: bool,
    },
    Group {
        mode: GroupMode,
    },
}

#[derive(Debug, Clone, Copy)]
enum GroupMode {
    Join,
    /// Dropped unjoined after so many yields.
    Drop(usize),
    /// `join` under a timeout of so many ms.
    Timeout(u64),
}

fn kind(rng: &mut Rng, allow: &[u8]) -> Kind {
    loop {
        let k = rng.below(5) as u8;
        if !allow.contains(&k) {
            continue;
        }
        let y = rng.below(5) as u32;
        return match k {
            0 => Kind::Yields(y),
            1 => Kind::Sleep(rng.below(6)),
            2 => Kind::Fail(y),
            3 => Kind::Panic(y),
            _ => Kind::Never,
        };
    }
}

fn killer(rng: &mut Rng, p: u64) -> Option<u32> {
    (rng.below(100) < p).then(|| rng.below(8) as u32)
}

fn program(rng: &mut Rng) -> (Comb, Vec<Child>) {
    let n = 1 + rng.below(12) as usize;
    let pick = rng.below(7);
    let mut ch: Vec<Child> = Vec::new();
    let comb = match pick {
        0 => {
            let never = rng.below(4) == 0;
            let allow: &[u8] = if never { &[0, 1, 2, 4] } else { &[0, 1, 2] };
            for _ in 0..n {
                ch.push(Child {
                    kind: kind(rng, allow),
                    killer: None,
                });
            }
            let any_never = ch.iter().any(|c| c.kind == Kind::Never);
            Comb::GatherFutures {
                never_ms: any_never.then(|| rng.below(8)),
            }
        }
        1 => {
            for _ in 0..n {
                let kind = kind(rng, &[0, 1, 2, 3, 4]);
                let killer = if kind == Kind::Never {
                    Some(rng.below(8) as u32)
                } else {
                    killer(rng, 25)
                };
                ch.push(Child { kind, killer });
            }
            let within_ms = (rng.below(2) == 0).then(|| rng.below(12));
            Comb::GatherTasks { within_ms }
        }
        2 => {
            let when = [
                ReturnWhen::FirstCompleted,
                ReturnWhen::FirstException,
                ReturnWhen::AllCompleted,
            ][rng.below(3) as usize];
            for _ in 0..n {
                let kind = kind(rng, &[0, 1, 2, 3, 4]);
                let p = if kind == Kind::Never { 50 } else { 25 };
                ch.push(Child {
                    kind,
                    killer: killer(rng, p),
                });
            }
            let unkilled_never = |c: &Child| c.kind == Kind::Never && c.killer.is_none();
            let fix = match when {
                ReturnWhen::FirstCompleted => ch.iter().all(unkilled_never),
                ReturnWhen::AllCompleted => true,
                _ => !ch
                    .iter()
                    .any(|c| matches!(c.kind, Kind::Panic(_)) && c.killer.is_none()),
            };
            if fix {
                for c in ch.iter_mut().filter(|c| unkilled_never(c)) {
                    c.killer = Some(rng.below(8) as u32);
                }
            }
            Comb::Wait(when)
        }
        3 => {
            let early = rng.below(2) == 0;
            let allow: &[u8] = if early { &[0, 1, 2, 4] } else { &[0, 1, 2] };
            for _ in 0..n {
                ch.push(Child {
                    kind: kind(rng, allow),
                    killer: None,
                });
            }
            let finishing = ch.iter().filter(|c| c.kind != Kind::Never).count();
            Comb::AsCompletedFutures {
                take: early.then(|| rng.below(finishing as u64 + 1) as usize),
            }
        }
        4 => {
            let early = rng.below(2) == 0;
            for _ in 0..n {
                let kind = kind(rng, &[0, 1, 2, 3, 4]);
                let killer = if kind == Kind::Never && !early {
                    Some(rng.below(8) as u32)
                } else {
                    killer(rng, 25)
                };
                ch.push(Child { kind, killer });
            }
            let finishing = ch
                .iter()
                .filter(|c| c.kind != Kind::Never || c.killer.is_some())
                .count();
            Comb::AsCompletedTasks {
                take: early.then(|| rng.below(finishing as u64 + 1) as usize),
                pre_sleep: rng.below(2) == 0,
            }
        }
        5 => {
            let tasks = rng.below(2) == 0;
            let allow: &[u8] = if tasks {
                &[0, 1, 2, 3, 4]
            } else {
                &[0, 1, 2, 4]
            };
            loop {
                ch.clear();
                for _ in 0..2 {
                    ch.push(Child {
                        kind: kind(rng, allow),
                        killer: None,
                    });
                }
                if !ch.iter().all(|c| c.kind == Kind::Never) {
                    break;
                }
            }
            Comb::Select {
                race: rng.below(2) == 0,
                tasks,
            }
        }
        _ => {
            for _ in 0..n {
                let kind = kind(rng, &[0, 0, 1, 2, 3, 4]);
                ch.push(Child {
                    kind,
                    killer: killer(rng, 20),
                });
            }
            let sure_failure = ch.iter().any(|c| {
                matches!(c.kind, Kind::Fail(_) | Kind::Panic(_))
                    || (c.kind == Kind::Never && c.killer.is_some())
            });
            let may_hang = ch
                .iter()
                .any(|c| c.kind == Kind::Never && c.killer.is_none());
            let mode = match rng.below(4) {
                0 => GroupMode::Drop(rng.below(8) as usize),
                1 => GroupMode::Timeout(rng.below(8)),
                _ if may_hang && !sure_failure => GroupMode::Timeout(rng.below(8)),
                _ => GroupMode::Join,
            };
            Comb::Group { mode }
        }
    };
    (comb, ch)
}

// ---------- the scenarios ----------

async fn gather_futures(r: &R, ch: &[Child], never_ms: Option<u64>) {
    let futs: Vec<_> = ch
        .iter()
        .enumerate()
        .map(|(i, c)| child(r, i, c.kind))
        .collect();
    match never_ms {
        Some(ms) => {
            let got = timeout(Duration::from_millis(ms), corio::gather(futs)).await;
            check!(
                r,
                got.is_err(),
                "gather with a never-child returned {got:?}"
            );
        }
        None => {
            let got = corio::gather(futs).await;
            let want: Vec<Out> = ch
                .iter()
                .enumerate()
                .map(|(i, c)| match c.kind {
                    Kind::Fail(_) => Err(i as u32),
                    _ => Ok(i as u32),
                })
                .collect();
            check!(r, got == want, "gather: got {got:?}, want {want:?}");
        }
    }
    check_drops(r, "after gather", 0..ch.len());
}

fn spawn_all(r: &R, ch: &[Child]) -> (Vec<Task<Out>>, Vec<TaskRef>) {
    let tasks: Vec<_> = ch
        .iter()
        .enumerate()
        .map(|(i, c)| corio::spawn(child(r, i, c.kind)))
        .collect();
    let refs = tasks.iter().map(|t| t.task_ref()).collect();
    (tasks, refs)
}

async fn gather_tasks(r: &R, ch: &[Child], within_ms: Option<u64>) {
    let (tasks, refs) = spawn_all(r, ch);
    let killers = spawn_killers(r, ch, &refs);
    let got = match within_ms {
        None => corio::gather(tasks).await,
        Some(ms) => match timeout(Duration::from_millis(ms), corio::gather(tasks)).await {
            Ok(got) => got,
            Err(_) => {
                // Dropped mid-way: nothing to check but the accounting of
                // panics (every one taken or reported) at the end.
                cleanup(r, &refs, killers).await;
                return;
            }
        },
    };
    check!(
        r,
        got.len() == ch.len(),
        "gather of tasks: {} outputs",
        got.len()
    );
    check_drops(r, "after gather of tasks", 0..ch.len());
    cleanup(r, &refs, killers).await;
    for (i, g) in got.iter().enumerate() {
        check_task(r, i, ch[i].kind, g);
    }
}

async fn wait(r: &R, ch: &[Child], when: ReturnWhen) {
    let (tasks, refs) = spawn_all(r, ch);
    let ids: Vec<_> = tasks.iter().map(|t| t.id()).collect();
    let killers = spawn_killers(r, ch, &refs);
    let (done, pending) = corio::wait(tasks, when).await;
    let index = |t: &Task<Out>| ids.iter().position(|&x| x == t.id()).unwrap();
    let d: Vec<usize> = done.iter().map(index).collect();
    let p: Vec<usize> = pending.iter().map(index).collect();
    let mut all: Vec<usize> = d.iter().chain(&p).copied().collect();
    check!(
        r,
        d.is_sorted() && p.is_sorted(),
        "wait: done {d:?} / pending {p:?} not in input order"
    );
    all.sort();
    check!(
        r,
        all == (0..ch.len()).collect::<Vec<_>>(),
        "wait: done {d:?} + pending {p:?} is not the input"
    );
    for t in &done {
        check!(r, t.is_done(), "wait: a task in done is not done");
    }
    if pending.iter().any(|t| t.is_done()) {
        PENDING_DONE.fetch_add(1, Ordering::Relaxed);
    }
    match when {
        ReturnWhen::FirstCompleted => {
            check!(r, !d.is_empty(), "wait(FirstCompleted): nothing done")
        }
        ReturnWhen::AllCompleted => check!(r, p.is_empty(), "wait(AllCompleted): {p:?} pending"),
        ReturnWhen::FirstException => {}
    }
    // Done tasks give their outcome at once.
    let mut outs = Vec::new();
    for t in done {
        let got = corio::time::timeout(Duration::ZERO, t).await;
        match got {
            Ok(got) => outs.push(got),
            Err(_) => {
                err(
                    r,
                    "wait: a done task's outcome was not ready at once".into(),
                );
                return;
            }
        }
    }
    if when == ReturnWhen::FirstException && !p.is_empty() {
        let panicked = outs
            .iter()
            .any(|o| matches!(o, Err(TaskError::Panicked(_))));
        check!(
            r,
            panicked,
            "wait(FirstException) returned with {p:?} pending and no panic in done {d:?}: {outs:?}"
        );
    }
    for t in &pending {
        cancel(r, index(t), &t.task_ref());
    }
    let mut pouts = Vec::new();
    for t in pending {
        pouts.push(t.await);
    }
    cleanup(r, &refs, killers).await;
    for (&i, o) in d.iter().zip(&outs) {
        check_task(r, i, ch[i].kind, o);
    }
    for (&i, o) in p.iter().zip(&pouts) {
        check_task(r, i, ch[i].kind, o);
    }
}

/// Takes up to `take` outputs from `stream` (all of them if `None`:
/// then checks that all `n` came), calling `each` with the stream and the
/// count so far before each `next()`.
async fn next_outputs<F: Future>(
    r: &R,
    stream: &mut corio::AsCompleted<F>,
    n: usize,
    take: Option<usize>,
    what: &str,
    mut each: impl FnMut(&corio::AsCompleted<F>, usize),
) -> Vec<F::Output> {
    let mut got = Vec::new();
    while take.is_none_or(|t| got.len() < t) {
        each(stream, got.len());
        match stream.next().await {
            Some(out) => got.push(out),
            None => break,
        }
    }
    if take.is_none() {
        check!(r, got.len() == n, "{what}: {} outputs of {n}", got.len());
    }
    got
}

async fn as_completed_futures(r: &R, ch: &[Child], take: Option<usize>) {
    let futs: Vec<_> = ch
        .iter()
        .enumerate()
        .map(|(i, c)| child(r, i, c.kind))
        .collect();
    let n = ch.len();
    let mut stream = corio::as_completed(futs);
    let got = next_outputs(r, &mut stream, n, take, "as_completed", |stream, got| {
        check!(
            r,
            stream.len() == n - got,
            "as_completed: len {} after {got} of {n}",
            stream.len()
        );
    })
    .await;
    if take.is_none() {
        check_drops(r, "as_completed consumed", 0..n);
    }
    drop(stream);
    check_drops(r, "as_completed dropped", 0..n);
    let log = r.borrow().log.clone();
    for (i, out) in got.iter().enumerate() {
        let want = log.get(i).map(|&id| match ch[id].kind {
            Kind::Fail(_) => Err(id as u32),
            _ => Ok(id as u32),
        });
        check!(
            r,
            Some(*out) == want,
            "as_completed: output {i} is {out:?}, completion order {log:?}"
        );
    }
}

async fn as_completed_tasks(r: &R, ch: &[Child], take: Option<usize>, pre_sleep: bool) {
    let (tasks, refs) = spawn_all(r, ch);
    let killers = spawn_killers(r, ch, &refs);
    let n = ch.len();
    let mut stream = corio::as_completed(tasks);
    let (mut before, mut at_first) = (vec![false; n], vec![false; n]);
    if pre_sleep {
        yields(3).await;
        for (i, t) in refs.iter().enumerate() {
            before[i] = t.is_done();
        }
        sleep(Duration::from_millis(10)).await;
    }
    for (i, t) in refs.iter().enumerate() {
        at_first[i] = t.is_done();
    }
    let got = next_outputs(r, &mut stream, n, take, "as_completed of tasks", |_, _| {}).await;
    drop(stream); // detaches the rest
    // Finished before the sleep: out first, in input order, before any
    // that was not finished at the first `next()`.
    let named: Vec<usize> = got.iter().filter_map(id_of).collect();
    let early: Vec<usize> = named.iter().copied().filter(|&i| before[i]).collect();
    check!(
        r,
        early.is_sorted(),
        "as_completed: tasks done before it looked came out as {early:?}"
    );
    if let Some(late) = named.iter().position(|&i| !at_first[i]) {
        let after: Vec<usize> = named[late..]
            .iter()
            .copied()
            .filter(|&i| before[i])
            .collect();
        check!(
            r,
            after.is_empty(),
            "as_completed: {after:?} (done before) came out after {} (not done)",
            named[late]
        );
    }
    cleanup(r, &refs, killers).await;
    let mut seen = vec![false; n];
    let mut cancels = 0;
    for g in &got {
        match id_of(g) {
            Some(i) if i < n && !seen[i] => {
                seen[i] = true;
                check_task(r, i, ch[i].kind, g);
            }
            Some(i) => err(
                r,
                format!("as_completed: output {g:?} (child {i}) twice or unknown"),
            ),
            None => cancels += 1,
        }
    }
    let cancelled = r.borrow().cancelled.iter().filter(|&&c| c).count();
    check!(
        r,
        cancels <= cancelled,
        "as_completed: {cancels} Cancelled outputs, {cancelled} cancels"
    );
    if take.is_none() {
        for i in (0..n).filter(|&i| !seen[i]) {
            check!(
                r,
                r.borrow().cancelled[i],
                "as_completed: child {i} never came out"
            );
        }
    }
}

/// Does `a` beat `b` in `select(a, b)` of futures? `None`: not determined.
fn a_wins(a: Kind, b: Kind) -> Option<bool> {
    use Kind::*;
    match (a, b) {
        (Never, _) => Some(false),
        (_, Never) => Some(true),
        (Yields(0) | Fail(0), _) => Some(true),
        (Yields(x) | Fail(x), Yields(y) | Fail(y)) => Some(x <= y),
        (Sleep(x), Sleep(y)) if x <= y => Some(true),
        _ => None,
    }
}

async fn select(r: &R, ch: &[Child], race: bool, tasks: bool) {
    let (ka, kb) = (ch[0].kind, ch[1].kind);
    if !tasks {
        let (a, b) = (child(r, 0, ka), child(r, 1, kb));
        let winner = if race {
            let out = corio::race(a, b).await;
            let id = match out {
                Ok(v) | Err(v) => v as usize,
            };
            check!(r, id < 2, "race: output {out:?}");
            id
        } else {
            match corio::select(a, b).await {
                Either::Left(v) => {
                    check!(r, v == Ok(0) || v == Err(0), "select: left gave {v:?}");
                    0
                }
                Either::Right(v) => {
                    check!(r, v == Ok(1) || v == Err(1), "select: right gave {v:?}");
                    1
                }
            }
        };
        if let Some(a) = a_wins(ka, kb) {
            let want = if a { 0 } else { 1 };
            check!(r, winner == want, "select({ka:?}, {kb:?}): {winner} won");
        }
        let log = r.borrow().log.clone();
        check!(
            r,
            log == [winner],
            "select: completions {log:?}, winner {winner}"
        );
        check_drops(r, "after select", 0..2);
        return;
    }
    let (tasks, refs) = spawn_all(r, ch);
    let mut it = tasks.into_iter();
    let (a, b) = (it.next().unwrap(), it.next().unwrap());
    let (winner, out) = match corio::select(a, b).await {
        Either::Left(o) => (0, o),
        Either::Right(o) => (1, o),
    };
    let loser = 1 - winner;
    check!(
        r,
        !refs[loser].is_cancelled(),
        "select of tasks: the loser was cancelled (dropping detaches)"
    );
    check_task(r, winner, ch[winner].kind, &out);
    if ch[loser].kind != Kind::Never {
        // Detached, it runs on to its end.
        let t0 = Instant::now();
        while !refs[loser].is_done() && t0.elapsed() < Duration::from_secs(1) {
            yields(1).await;
        }
        let done = r.borrow().completed[loser];
        check!(
            r,
            done,
            "select of tasks: the detached loser did not finish"
        );
    }
    cleanup(r, &refs, Vec::new()).await;
}

async fn group(r: &R, ch: &[Child], mode: GroupMode) {
    let mut group = TaskGroup::<u32, u32>::new();
    let refs: Vec<TaskRef> = ch
        .iter()
        .enumerate()
        .map(|(i, c)| group.spawn(child(r, i, c.kind)))
        .collect();
    let killers = spawn_killers(r, ch, &refs);
    let n = ch.len();
    let result = match mode {
        GroupMode::Drop(k) => {
            yields(k).await;
            drop(group);
            None
        }
        GroupMode::Timeout(ms) => timeout(Duration::from_millis(ms), group.join()).await.ok(),
        GroupMode::Join => Some(group.join().await),
    };
    let Some(result) = result else {
        // Dropped: the children still running are cancelled, and dropped
        // at the next turn.
        yields(2).await;
        check_drops(r, "group dropped", 0..n);
        cleanup(r, &refs, killers).await;
        return;
    };
    // Joined: every child is gone.
    check_drops(r, "group joined", 0..n);
    for (i, t) in refs.iter().enumerate() {
        check!(r, t.is_done(), "group joined: child {i} not done");
    }
    let failures = r.borrow().failures.clone();
    match (&result, failures.first()) {
        (Ok(v), None) => {
            let want: Vec<u32> = (0..n as u32).collect();
            check!(r, *v == want, "group: Ok({v:?}), want {want:?}");
        }
        (Err(e), Some(&first)) => {
            let cancelled = r.borrow().cancelled[first];
            let ok = match (ch[first].kind, e) {
                (_, GroupError::Task(TaskError::Cancelled)) => cancelled,
                (Kind::Fail(_), GroupError::Failed(v)) => *v as usize == first && !cancelled,
                (Kind::Panic(_), GroupError::Task(TaskError::Panicked(p))) => {
                    r.borrow_mut().taken_panics += 1;
                    p.message() == format!("expected: child {first}")
                }
                _ => false,
            };
            check!(
                r,
                ok,
                "group: {e:?}, but the first failure was child {first} ({:?}, cancelled {cancelled}); failures {failures:?}",
                ch[first].kind
            );
        }
        _ => err(r, format!("group: {result:?}, failures {failures:?}")),
    }
    cleanup(r, &refs, killers).await;
}

// ---------- the driver ----------

static PENDING_DONE: AtomicU64 = AtomicU64::new(0);

fn run_one(seed: u64, verbose: bool) -> Result<(), String> {
    let mut rng = Rng::seeded(seed);
    let (comb, ch) = program(&mut rng);
    if verbose {
        eprintln!("seed {seed}: {comb:?}");
        for (i, c) in ch.iter().enumerate() {
            eprintln!("  child {i}: {c:?}");
        }
    }
    let n = ch.len();
    let r: R = Rc::new(RefCell::new(Rec {
        drops: vec![0; n],
        completed: vec![false; n],
        cancelled: vec![false; n],
        ..Rec::default()
    }));
    let mut lp = EventLoop::new().map_err(|e| e.to_string())?;
    let reports = common::capture_reports(&lp);
    let root = {
        let (r, ch) = (r.clone(), ch.clone());
        async move {
            match comb {
                Comb::GatherFutures { never_ms } => gather_futures(&r, &ch, never_ms).await,
                Comb::GatherTasks { within_ms } => gather_tasks(&r, &ch, within_ms).await,
                Comb::Wait(when) => wait(&r, &ch, when).await,
                Comb::AsCompletedFutures { take } => as_completed_futures(&r, &ch, take).await,
                Comb::AsCompletedTasks { take, pre_sleep } => {
                    as_completed_tasks(&r, &ch, take, pre_sleep).await
                }
                Comb::Select { race, tasks } => select(&r, &ch, race, tasks).await,
                Comb::Group { mode } => group(&r, &ch, mode).await,
            }
            let left = corio::all_tasks();
            check!(&r, left.is_empty(), "{} tasks left at the end", left.len());
            check_drops(&r, "at the end", 0..ch.len());
        }
    };
    let out = lp.run_until_complete(async { timeout(Duration::from_secs(2), root).await });
    if out.is_err() {
        err(&r, "timed out (2 s): a combinator hung".into());
    }
    check_drops(&r, "after the loop", 0..n);
    let panicked = ch
        .iter()
        .enumerate()
        .filter(|&(i, c)| matches!(c.kind, Kind::Panic(_)) && r.borrow().completed[i])
        .count();
    let unseen = reports
        .borrow()
        .iter()
        .filter(|rep| rep.kind() == corio::ReportKind::UnretrievedPanic)
        .count();
    let taken = r.borrow().taken_panics;
    if out.is_ok() {
        // Every panic is taken by the test or reported as unseen, exactly
        // once — including one that a dropped `as_completed` took from its
        // task and never handed out.
        check!(
            &r,
            panicked == taken + unseen,
            "{panicked} panics: {taken} taken, {unseen} reported unseen"
        );
    }
    drop(lp);
    check_drops(&r, "after the loop closed", 0..n);
    let errors = std::mem::take(&mut r.borrow_mut().errors);
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "seed {seed} ({comb:?}, {ch:?}):\n  {}",
            errors.join("\n  ")
        ))
    }
}

#[test]
fn combinator_fuzz() {
    // Nothing may hang: a seed that takes 10 s ends the run. The seeds'
    // panics are expected (each is checked as an outcome): silenced.
    std::panic::set_hook(Box::new(|_| {}));
    common::run_seeds("combinator_fuzz", 1000, run_one, || {
        let pending_done = PENDING_DONE.load(Ordering::Relaxed);
        format!("{pending_done} with a pending task already done")
    });
}
