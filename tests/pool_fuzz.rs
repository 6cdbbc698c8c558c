//! corio::pool, seeded and randomized: per seed one `EventLoop` and 1–3
//! plain threads submit short jobs (some panic, some sleep up to 2 ms) to a
//! randomly configured `ThreadPool` (core/max threads, keep-alive, queue
//! bound, policy), cancel them, add done callbacks, await them (raced
//! against zero timeouts, dropped after one poll), `wait` them on threads,
//! run `map`s (awaited or iterated), `spawn_blocking`, and move values over
//! `pool::channel` (unbounded, bounded, oneshot) with either end dropped at
//! random; then a random `shutdown(true|false)`, with `cancel_queued` before
//! or after it now and then.
//!
//! Checked: every job runs at most once; each outcome (handle or callback)
//! is the job's own and consistent (Ok/Panicked only if it ran, Cancelled
//! only if `cancel` said so or `cancel_queued` came, Rejected only under
//! Discard/DiscardOldest, `Err(Full)` only under Abort, `Err(ShutDown)` only
//! after shutdown); every registered done callback runs exactly once; an
//! awaited/waited handle delivers once; channel values arrive at most once,
//! in order per sender, none lost while the receiver lives; every value and
//! every closure is dropped exactly once; threads never exceed max;
//! `shutdown(true)` leaves no thread and no running job; nothing hangs (a
//! watchdog aborts the process with the seed).
//! Also: the pool's (threads, idle, queued) snapshot invariants, threads
//! beyond the core gone after keep-alive, shutdown(true) from outside
//! joining every thread (thread-local destructors done), in-pool
//! shutdown(true), nested submits, loops in debug mode (stall proof).
//! `SEEDS=N` runs more (default 150, ~3 s); `SEED=n` runs one.
mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::XorShift as Rng;
use corio::pool::channel::{self, TryRecvError, TrySendError};
use corio::pool::{JobError, JobHandle, JobResult, Policy, Rejected, ThreadPool};
use corio::time::timeout;
use corio::{EventLoop, TaskError};

const ZERO: Duration = Duration::ZERO;

static STATS: Mutex<Vec<(&'static str, u64)>> = Mutex::new(Vec::new());
fn stat(k: &'static str, n: u64) {
    let mut s = STATS.lock().unwrap_or_else(|e| e.into_inner());
    match s.iter_mut().find(|(x, _)| *x == k) {
        Some(e) => e.1 += n,
        None => s.push((k, n)),
    }
}

#[derive(Default)]
struct JobRec {
    panics: bool,
    sleep_us: u64,
    ran: u32,
    cancel_true: bool,
    /// `submit` returned `Ok`.
    accepted: bool,
    delivered: u32,
    cb_registered: u32,
    cb_ran: u32,
    /// Every outcome seen (handle and callbacks): "ok", "panicked", ...
    seen: Vec<&'static str>,
}

#[derive(Default)]
struct Track {
    errors: Vec<String>,
    jobs: Vec<JobRec>,
    /// value id -> drops
    drops: HashMap<u64, u32>,
    next_val: u64,
    shutdown_started: bool,
    shutdown_nowait: bool,
    /// `cancel_queued` was called: a job accepted may end cancelled.
    queue_cancelled: bool,
}

struct Ctx {
    t: Mutex<Track>,
    policy: Policy,
    max: usize,
    core: usize,
    capacity: usize,
    keep_alive: Duration,
    running_in_pool: AtomicUsize,
    max_seen: AtomicUsize,
    threads_seen: AtomicUsize,
    threads_ended: AtomicUsize,
}

type Shared = Arc<Ctx>;

impl Ctx {
    fn with<R>(&self, f: impl FnOnce(&mut Track) -> R) -> R {
        f(&mut self.t.lock().unwrap_or_else(|e| e.into_inner()))
    }
    fn err(&self, m: String) {
        self.with(|t| {
            if t.errors.len() < 20 {
                t.errors.push(m)
            }
        })
    }
    fn new_job(&self, rng: &mut Rng) -> usize {
        let panics = rng.below(6) == 0;
        let sleep_us = if rng.below(3) == 0 {
            rng.below(2000)
        } else {
            0
        };
        self.with(|t| {
            t.jobs.push(JobRec {
                panics,
                sleep_us,
                ..Default::default()
            });
            t.jobs.len() - 1
        })
    }
    fn val(self: &Arc<Self>, tag: u64) -> Val {
        let id = self.with(|t| {
            t.next_val += 1;
            t.drops.insert(t.next_val, 0);
            t.next_val
        });
        Val {
            id,
            tag,
            ctx: Arc::clone(self),
        }
    }
    fn outcome(&self, job: usize, r: &JobResult<Val>, via_handle: bool) {
        let kind = match r {
            Ok(v) => {
                if v.tag != job as u64 {
                    self.err(format!("job {job}: got the value of job {}", v.tag));
                }
                "ok"
            }
            Err(JobError::Panicked(m)) => {
                if *m != format!("expected: job {job}") {
                    self.err(format!("job {job}: panic message {m:?}"));
                }
                "panicked"
            }
            Err(JobError::Cancelled) => "cancelled",
            Err(JobError::Rejected) => "rejected",
            Err(e) => {
                self.err(format!("job {job}: unknown error {e:?}"));
                "?"
            }
        };
        self.with(|t| {
            let rec = &mut t.jobs[job];
            rec.seen.push(kind);
            if via_handle {
                rec.delivered += 1;
            }
        });
    }
    fn submitted(&self, job: usize, r: &Result<JobHandle<Val>, Rejected>) {
        if r.is_ok() {
            self.with(|t| t.jobs[job].accepted = true);
        }
        if let Err(e) = r {
            let ok = match e {
                Rejected::Full => self.policy == Policy::Abort,
                Rejected::ShutDown => self.with(|t| t.shutdown_started),
            };
            if !ok {
                self.err(format!(
                    "job {job}: submit refused with {e:?} (policy {:?})",
                    self.policy
                ));
            }
        }
    }
}

/// A value whose drops are counted.
struct Val {
    id: u64,
    tag: u64,
    ctx: Shared,
}
impl Drop for Val {
    fn drop(&mut self) {
        let id = self.id;
        self.ctx.with(|t| *t.drops.get_mut(&id).unwrap() += 1);
    }
}
impl std::fmt::Debug for Val {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Val({}/{})", self.id, self.tag)
    }
}

/// The closure of job `job`: counts its runs, the pool's concurrency, and
/// carries a counted token (the closure must be dropped once).
fn job_fn(ctx: &Shared, job: usize) -> impl FnOnce() -> Val + Send + 'static {
    let tok = ctx.val(u64::MAX);
    let ctx = Arc::clone(ctx);
    let (panics, sleep_us) = ctx.with(|t| (t.jobs[job].panics, t.jobs[job].sleep_us));
    move || {
        let _tok = tok;
        ctx.with(|t| t.jobs[job].ran += 1);
        let on_pool = std::thread::current()
            .name()
            .is_some_and(|n| n.starts_with("fz-"));
        if on_pool {
            register_pool_thread(&ctx);
        }
        if on_pool {
            let now = ctx.running_in_pool.fetch_add(1, Ordering::SeqCst) + 1;
            ctx.max_seen.fetch_max(now, Ordering::SeqCst);
        }
        struct Dec<'a>(&'a AtomicUsize, bool);
        impl Drop for Dec<'_> {
            fn drop(&mut self) {
                if self.1 {
                    self.0.fetch_sub(1, Ordering::SeqCst);
                }
            }
        }
        let _dec = Dec(&ctx.running_in_pool, on_pool);
        if sleep_us > 0 {
            std::thread::sleep(Duration::from_micros(sleep_us));
        }
        if panics {
            panic!("expected: job {job}");
        }
        ctx.val(job as u64)
    }
}

/// Counts the pool threads that ran a job, and (from a thread-local's
/// destructor, the last thing a thread does) those that ended.
struct ThreadMark(Shared);
impl Drop for ThreadMark {
    fn drop(&mut self) {
        self.0.threads_ended.fetch_add(1, Ordering::SeqCst);
    }
}
thread_local! { static MARK: std::cell::RefCell<Option<ThreadMark>> = const { std::cell::RefCell::new(None) }; }
fn register_pool_thread(ctx: &Shared) {
    MARK.with(|m| {
        let mut m = m.borrow_mut();
        if m.is_none() {
            ctx.threads_seen.fetch_add(1, Ordering::SeqCst);
            *m = Some(ThreadMark(Arc::clone(ctx)));
        }
    });
}

fn add_callbacks(ctx: &Shared, rng: &mut Rng, job: usize, h: &JobHandle<Val>) {
    for _ in 0..rng.below(3) {
        ctx.with(|t| t.jobs[job].cb_registered += 1);
        let c = Arc::clone(ctx);
        if h.add_done_callback(move |r| {
            c.outcome(job, r, false);
            c.with(|t| t.jobs[job].cb_ran += 1);
        }) {
        } else {
            ctx.with(|t| t.jobs[job].cb_registered -= 1);
            ctx.err(format!(
                "job {job}: add_done_callback refused before the result was taken"
            ));
        }
    }
}

fn maybe_cancel(ctx: &Shared, rng: &mut Rng, job: usize, h: &JobHandle<Val>) {
    if rng.below(4) == 0 {
        if rng.below(2) == 0 {
            std::thread::sleep(Duration::from_micros(rng.below(500)));
        }
        if h.cancel() {
            ctx.with(|t| t.jobs[job].cancel_true = true);
        }
    }
}

// ---------- plain threads ----------

fn plain_thread(
    ctx: Shared,
    pool: Arc<ThreadPool>,
    seed: u64,
    handles: std::sync::mpsc::Receiver<(usize, JobHandle<Val>)>,
) {
    let mut rng = Rng::seeded(seed);
    for _ in 0..rng.below(25) {
        check_threads(&ctx, &pool);
        match rng.below(10) {
            0..=7 => {
                let job = ctx.new_job(&mut rng);
                let r = pool.submit(job_fn(&ctx, job));
                ctx.submitted(job, &r);
                let Ok(mut h) = r else { continue };
                add_callbacks(&ctx, &mut rng, job, &h);
                maybe_cancel(&ctx, &mut rng, job, &h);
                match rng.below(4) {
                    0 => {
                        let r = h.wait();
                        ctx.outcome(job, &r, true);
                    }
                    1 => match h.wait_timeout(ZERO) {
                        Some(r) => ctx.outcome(job, &r, true),
                        None => {
                            let r = h.wait();
                            ctx.outcome(job, &r, true);
                        }
                    },
                    2 => {
                        if let Some(r) = h.wait_timeout(Duration::from_micros(rng.below(1000))) {
                            ctx.outcome(job, &r, true);
                        }
                    }
                    _ => drop(h),
                }
            }
            _ => {
                let n = rng.below(5) as usize;
                let jobs: Vec<usize> = (0..n).map(|_| ctx.new_job(&mut rng)).collect();
                let fns: Vec<_> = jobs
                    .iter()
                    .map(|&j| (j, Mutex::new(Some(job_fn(&ctx, j)))))
                    .collect();
                let m = pool.map(
                    |(_, f): (usize, Mutex<Option<_>>)| (f.lock().unwrap().take().unwrap())(),
                    fns,
                );
                let take = rng.below(n as u64 + 1) as usize;
                for (i, r) in m.take(take).enumerate() {
                    map_result(&ctx, jobs[i], r);
                }
            }
        }
    }
    for (job, h) in handles {
        let r = h.wait();
        ctx.outcome(job, &r, true);
    }
}

fn map_result(ctx: &Shared, job: usize, r: JobResult<Val>) {
    match &r {
        Err(JobError::Rejected) => {
            // An item the pool refused (any policy, or shut down): legal.
            ctx.with(|t| t.jobs[job].seen.push("map-rejected"));
        }
        _ => ctx.outcome(job, &r, true),
    }
}

fn check_threads(ctx: &Shared, pool: &ThreadPool) {
    // One consistent snapshot: the Debug output is taken under the lock.
    let dbg = format!("{pool:?}");
    let num = |key: &str| -> usize {
        let i = dbg.find(key).unwrap() + key.len() + 2;
        dbg[i..]
            .split(|c: char| !c.is_ascii_digit())
            .next()
            .unwrap()
            .parse()
            .unwrap()
    };
    let (threads, idle, queued) = (num("threads"), num("idle"), num("queued"));
    let shut = dbg.contains("shut_down: true");
    if threads > ctx.max || idle > threads {
        ctx.err(format!("{dbg}: max {}", ctx.max));
    }
    if !shut && queued > idle && threads < ctx.core {
        ctx.err(format!(
            "{dbg}: jobs wait in the queue while fewer than core {} threads run",
            ctx.core
        ));
    }
    if !shut && queued > ctx.capacity.max(idle) {
        ctx.err(format!("{dbg}: queue beyond its capacity {}", ctx.capacity));
    }
}

// ---------- channels ----------

/// Values from `senders` threads to a task (unbounded or bounded).
async fn chan_thread_to_task(ctx: Shared, rng: &mut Rng) {
    let bounded = rng.below(2) == 0;
    let (tx, mut rx) = if bounded {
        channel::bounded::<Val>(1 + rng.below(3) as usize)
    } else {
        channel::unbounded()
    };
    let senders = 1 + rng.below(2);
    let sent: Arc<Mutex<Vec<Vec<u64>>>> = Arc::new(Mutex::new(vec![Vec::new(); senders as usize]));
    let mut threads = Vec::new();
    for s in 0..senders {
        let tx = tx.clone();
        let ctx = Arc::clone(&ctx);
        let sent = Arc::clone(&sent);
        let mut r = Rng::seeded(rng.next());
        threads.push(std::thread::spawn(move || {
            let n = r.below(12);
            for i in 0..n {
                if r.below(12) == 0 {
                    break; // drop the sender early
                }
                let v = ctx.val(s * 1000 + i);
                let res = if r.below(3) == 0 {
                    match tx.try_send(v) {
                        Ok(()) => Ok(()),
                        Err(TrySendError::Full(v)) => tx.send(v).map_err(|e| e.0),
                        Err(TrySendError::Closed(v)) => Err(v),
                    }
                } else {
                    tx.send(v).map_err(|e| e.0)
                };
                match res {
                    Ok(()) => sent.lock().unwrap()[s as usize].push(i),
                    Err(_v) => break,
                }
                if r.below(3) == 0 {
                    std::thread::sleep(Duration::from_micros(r.below(300)));
                }
            }
        }));
    }
    drop(tx);
    let drop_after = if rng.below(3) == 0 {
        Some(rng.below(8))
    } else {
        None
    };
    let mut got: Vec<Vec<u64>> = vec![Vec::new(); senders as usize];
    let mut n = 0;
    let closed = loop {
        if drop_after == Some(n) {
            break false;
        }
        let v = match rng.below(4) {
            0 => match timeout(ZERO, rx.recv()).await {
                Ok(v) => v,
                Err(_) => continue,
            },
            1 => match rx.try_recv() {
                Ok(v) => Some(v),
                Err(TryRecvError::Empty) => {
                    corio::yield_now().await;
                    continue;
                }
                Err(TryRecvError::Closed) => None,
            },
            _ => rx.recv().await,
        };
        match v {
            Some(v) => {
                got[(v.tag / 1000) as usize].push(v.tag % 1000);
                stat("chan->task values", 1);
                n += 1;
            }
            None => break true,
        }
    };
    drop(rx);
    // Join the senders without blocking the loop.
    for th in threads {
        while !th.is_finished() {
            corio::time::sleep(Duration::from_micros(200)).await;
        }
        th.join().unwrap();
    }
    let sent = sent.lock().unwrap();
    for s in 0..senders as usize {
        let g = &got[s];
        if g.windows(2).any(|w| w[0] >= w[1]) {
            ctx.err(format!(
                "chan: sender {s} values out of order / duplicated: {g:?}"
            ));
        }
        if !g.iter().all(|i| sent[s].contains(i)) {
            ctx.err(format!(
                "chan: received {g:?}, sender {s} sent {:?}",
                sent[s]
            ));
        }
        if closed && *g != sent[s] {
            ctx.err(format!(
                "chan: lost values: received {g:?}, sender {s} sent {:?}",
                sent[s]
            ));
        }
    }
}

/// Values from a task (try_send) to a plain thread (recv_blocking).
async fn chan_task_to_thread(ctx: Shared, rng: &mut Rng) {
    let (tx, mut rx) = if rng.below(2) == 0 {
        channel::bounded::<Val>(1 + rng.below(3) as usize)
    } else {
        channel::unbounded()
    };
    let (done_tx, done_rx) = channel::oneshot::<(Vec<u64>, bool)>();
    let mut r = Rng::seeded(rng.next());
    let th = std::thread::spawn(move || {
        let drop_after = if r.below(3) == 0 {
            Some(r.below(6))
        } else {
            None
        };
        let mut got = Vec::new();
        let closed = loop {
            if drop_after == Some(got.len() as u64) {
                break false;
            }
            match rx.recv_blocking() {
                Some(v) => {
                    stat("chan->thread values", 1);
                    got.push(v.tag)
                }
                None => break true,
            }
        };
        drop(rx);
        let _ = done_tx.send((got, closed));
    });
    let mut sent = Vec::new();
    for i in 0..rng.below(10) {
        let mut v = ctx.val(i);
        loop {
            match tx.try_send(v) {
                Ok(()) => {
                    sent.push(i);
                    break;
                }
                Err(TrySendError::Full(back)) => {
                    v = back;
                    corio::time::sleep(Duration::from_micros(100)).await;
                }
                Err(TrySendError::Closed(_)) => break,
            }
        }
        if rng.below(3) == 0 {
            corio::yield_now().await;
        }
    }
    drop(tx);
    let (got, closed) = match timeout(Duration::from_secs(5), done_rx).await {
        Ok(Ok(x)) => x,
        other => {
            ctx.err(format!("chan task->thread: receiver thread gave {other:?}"));
            return;
        }
    };
    th.join().unwrap();
    if got.windows(2).any(|w| w[0] >= w[1]) || !got.iter().all(|i| sent.contains(i)) {
        ctx.err(format!("chan task->thread: got {got:?}, sent {sent:?}"));
    }
    if closed && got != sent {
        ctx.err(format!(
            "chan task->thread: lost values: got {got:?}, sent {sent:?}"
        ));
    }
}

async fn chan_oneshot(ctx: Shared, rng: &mut Rng) {
    let (tx, rx) = channel::oneshot::<Val>();
    let send = rng.below(4) != 0;
    let delay = rng.below(500);
    let c = Arc::clone(&ctx);
    let th = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_micros(delay));
        if send {
            tx.send(c.val(7)).is_ok()
        } else {
            false
        }
    });
    let mut rx = rx;
    let got = match rng.below(3) {
        0 => {
            drop(rx);
            None
        }
        1 => match timeout(ZERO, &mut rx).await {
            Ok(r) => Some(r),
            Err(_) => {
                if rng.below(2) == 0 {
                    drop(rx);
                    None
                } else {
                    Some(rx.await)
                }
            }
        },
        _ => Some(rx.await),
    };
    while !th.is_finished() {
        corio::time::sleep(Duration::from_micros(200)).await;
    }
    let sent_ok = th.join().unwrap();
    match got {
        Some(Ok(v)) => {
            stat("oneshot values", 1);
            if !sent_ok || v.tag != 7 {
                ctx.err(format!("oneshot: got {v:?} but send ok = {sent_ok}"));
            }
        }
        Some(Err(_)) if sent_ok => {
            ctx.err("oneshot: value sent Ok to a live receiver, receiver got RecvError".into());
        }
        Some(Err(_)) | None => {}
    }
}

// ---------- the loop's driver ----------

async fn driver(
    ctx: Shared,
    pool: Arc<ThreadPool>,
    seed: u64,
    to_threads: Vec<std::sync::mpsc::Sender<(usize, JobHandle<Val>)>>,
    threads_done: Vec<channel::OneshotReceiver<()>>,
) {
    let mut rng = Rng::seeded(seed ^ 0xdead_beef);
    let mut later: Vec<(usize, JobHandle<Val>)> = Vec::new();
    let mut blocking = Vec::new();
    for _ in 0..(10 + rng.below(30)) {
        check_threads(&ctx, &pool);
        match rng.below(22) {
            0..=12 => {
                let job = ctx.new_job(&mut rng);
                let r = pool.submit(job_fn(&ctx, job));
                ctx.submitted(job, &r);
                let Ok(mut h) = r else { continue };
                add_callbacks(&ctx, &mut rng, job, &h);
                if rng.below(4) == 0 && h.cancel() {
                    ctx.with(|t| t.jobs[job].cancel_true = true);
                }
                match rng.below(7) {
                    0 => {
                        let r = (&mut h).await;
                        ctx.outcome(job, &r, true);
                    }
                    1 => match timeout(ZERO, &mut h).await {
                        Ok(r) => ctx.outcome(job, &r, true),
                        Err(_) => later.push((job, h)),
                    },
                    2 => {
                        if let Ok(r) = timeout(ZERO, &mut h).await {
                            ctx.outcome(job, &r, true);
                        }
                        // else dropped after one poll
                    }
                    3 => drop(h),
                    4 if !to_threads.is_empty() => {
                        let i = rng.below(to_threads.len() as u64) as usize;
                        let _ = to_threads[i].send((job, h));
                    }
                    5 => {
                        corio::yield_now().await;
                        if h.cancel() {
                            ctx.with(|t| t.jobs[job].cancel_true = true);
                        }
                        later.push((job, h));
                    }
                    _ => later.push((job, h)),
                }
            }
            13..=14 => {
                let n = rng.below(5) as usize;
                let jobs: Vec<usize> = (0..n).map(|_| ctx.new_job(&mut rng)).collect();
                let fns: Vec<_> = jobs
                    .iter()
                    .map(|&j| Mutex::new(Some(job_fn(&ctx, j))))
                    .collect();
                let mut m = pool.map(
                    |f: Mutex<Option<_>>| (f.lock().unwrap().take().unwrap())(),
                    fns,
                );
                let mut got = Vec::new();
                if rng.below(2) == 0 {
                    if let Ok(rs) = timeout(ZERO, &mut m).await {
                        got.extend(rs);
                    }
                }
                if rng.below(4) != 0 {
                    got.extend((&mut m).await);
                    if got.len() != n {
                        ctx.err(format!("map of {n} gave {} results", got.len()));
                    }
                } else if rng.below(2) == 0 {
                    // The rest goes to a fresh thread to iterate.
                    let c = Arc::clone(&ctx);
                    let rest: Vec<usize> = jobs[got.len()..].to_vec();
                    let th = std::thread::spawn(move || {
                        let rs: Vec<_> = m.collect();
                        if rs.len() != rest.len() {
                            c.err(format!("map iter gave {} of {}", rs.len(), rest.len()));
                        }
                        for (j, r) in rest.into_iter().zip(rs) {
                            map_result(&c, j, r);
                        }
                    });
                    while !th.is_finished() {
                        corio::time::sleep(Duration::from_micros(200)).await;
                    }
                    th.join().unwrap();
                }
                for (j, r) in jobs.into_iter().zip(got) {
                    map_result(&ctx, j, r);
                }
            }
            19 if ctx.policy != Policy::CallerRuns => {
                // A job that submits a child job to its own pool.
                let outer = ctx.new_job(&mut rng);
                let child = ctx.new_job(&mut rng);
                let inner_fn = job_fn(&ctx, outer);
                let child_fn = job_fn(&ctx, child);
                let cb = rng.below(2) == 0;
                let p = Arc::clone(&pool);
                let c = Arc::clone(&ctx);
                let r = pool.submit(move || {
                    let r = p.submit(child_fn);
                    c.submitted(child, &r);
                    if let (Ok(h), true) = (&r, cb) {
                        c.with(|t| t.jobs[child].cb_registered += 1);
                        let c2 = Arc::clone(&c);
                        h.add_done_callback(move |r| {
                            c2.outcome(child, r, false);
                            c2.with(|t| t.jobs[child].cb_ran += 1);
                        });
                    }
                    drop(r);
                    drop(p);
                    inner_fn()
                });
                ctx.submitted(outer, &r);
                if let Ok(h) = r {
                    later.push((outer, h));
                }
            }
            15 => {
                let job = ctx.new_job(&mut rng);
                let task = corio::spawn_blocking(job_fn(&ctx, job));
                match rng.below(3) {
                    0 => {
                        task.cancel();
                    }
                    1 => blocking.push((job, task)),
                    _ => match task.await {
                        Ok(v) => ctx.outcome(job, &Ok(v), false),
                        Err(TaskError::Panicked(_)) => {
                            ctx.with(|t| t.jobs[job].seen.push("panicked"))
                        }
                        Err(TaskError::Cancelled) => {
                            ctx.err(format!("spawn_blocking {job} cancelled"))
                        }
                    },
                }
            }
            16 => chan_thread_to_task(Arc::clone(&ctx), &mut rng).await,
            17 => chan_task_to_thread(Arc::clone(&ctx), &mut rng).await,
            18 => chan_oneshot(Arc::clone(&ctx), &mut rng).await,
            _ => {
                if rng.below(2) == 0 {
                    corio::yield_now().await;
                } else {
                    corio::time::sleep(Duration::from_micros(rng.below(1000))).await;
                }
            }
        }
    }
    // The end: a shutdown, from this loop or from a fresh thread, while the
    // plain threads may still be submitting.
    let mut threads_done = threads_done;
    let mut to_threads = Some(to_threads);
    if rng.below(4) == 0 && ctx.keep_alive < Duration::from_secs(1) {
        to_threads = None; // the plain threads' last handles
        // Let everything settle, then the threads beyond the core must go
        // after keep-alive.
        for d in threads_done.drain(..) {
            let _ = d.await;
        }
        for (job, h) in later.drain(..) {
            let r = h.await;
            ctx.outcome(job, &r, true);
        }
        let deadline = Instant::now() + Duration::from_secs(2);
        while (pool.queued() != 0 || ctx.running_in_pool.load(Ordering::SeqCst) != 0)
            && Instant::now() < deadline
        {
            corio::time::sleep(Duration::from_micros(200)).await;
        }
        let ka = ctx.keep_alive;
        corio::time::sleep(ka * 2 + Duration::from_millis(30)).await;
        if pool.threads() > ctx.core {
            ctx.err(format!(
                "{} threads alive after idling {:?} (core {}, keep-alive {ka:?})",
                pool.threads(),
                ka * 2 + Duration::from_millis(30),
                ctx.core
            ));
        }
    }
    let wait = rng.below(2) == 0;
    let shutdown_mode = rng.below(4);
    let cancel_queued = rng.below(3) == 0;
    let await_first = rng.below(2) == 0;
    if await_first {
        for (job, h) in later.drain(..) {
            let r = h.await;
            ctx.outcome(job, &r, true);
        }
    }
    ctx.with(|t| {
        t.shutdown_started = true;
        t.shutdown_nowait |= !wait;
        t.queue_cancelled |= cancel_queued;
    });
    fn after_shutdown(ctx: &Shared, pool: &ThreadPool, wait: bool, outside: bool) {
        if wait
            && outside
            && ctx.keep_alive >= Duration::from_secs(10)
            && !ctx.with(|t| t.shutdown_nowait)
        {
            let (seen, ended) = (
                ctx.threads_seen.load(Ordering::SeqCst),
                ctx.threads_ended.load(Ordering::SeqCst),
            );
            if seen != ended {
                ctx.err(format!("shutdown(true) returned before the threads were joined: {seen} ran jobs, {ended} ended"));
            }
        }
        if wait {
            if pool.threads() != 0 {
                ctx.err(format!(
                    "shutdown(true) returned with {} threads",
                    pool.threads()
                ));
            }
            if ctx.running_in_pool.load(Ordering::SeqCst) != 0 {
                ctx.err("shutdown(true) returned with a job running".into());
            }
            if pool.queued() != 0 {
                ctx.err(format!(
                    "shutdown(true) returned with {} queued",
                    pool.queued()
                ));
            }
        }
    }
    if cancel_queued && shutdown_mode != 0 {
        pool.cancel_queued(); // before the shutdown: nothing is lost
    }
    match shutdown_mode {
        0 => {
            pool.shutdown(wait);
            if cancel_queued {
                pool.cancel_queued(); // after it: Python's cancel_futures
            }
            after_shutdown(&ctx, &pool, wait, true);
        }
        1 | 2 => {
            // From a fresh thread; in mode 2 from this loop at once too.
            let (tx, rx) = channel::oneshot();
            let p = Arc::clone(&pool);
            let c = Arc::clone(&ctx);
            std::thread::spawn(move || {
                p.shutdown(wait);
                after_shutdown(&c, &p, wait, true);
                let _ = tx.send(());
            });
            if shutdown_mode == 2 {
                let wait2 = rng.below(2) == 0;
                ctx.with(|t| t.shutdown_nowait |= !wait2);
                pool.shutdown(wait2);
                after_shutdown(&ctx, &pool, wait2, true);
            }
            let _ = rx.await;
        }
        _ => {
            // From inside one of the pool's jobs.
            let p = Arc::clone(&pool);
            let c = Arc::clone(&ctx);
            let job = pool.submit(move || {
                p.shutdown(wait);
                if wait && p.threads() > 1 {
                    c.err(format!(
                        "in-pool shutdown(true) returned with {} threads",
                        p.threads()
                    ));
                }
            });
            let ran = match job {
                Ok(h) => matches!(h.await, Ok(())),
                Err(_) => false,
            };
            if !ran {
                pool.shutdown(wait);
            }
            if wait {
                // The calling job's own thread exits after it returned.
                let deadline = Instant::now() + Duration::from_secs(2);
                while pool.threads() != 0 && Instant::now() < deadline {
                    corio::time::sleep(Duration::from_micros(200)).await;
                }
                // The in-pool caller joins nothing (documented).
                after_shutdown(&ctx, &pool, wait, false);
            }
        }
    }
    for (job, mut h) in later {
        if rng.below(3) == 0 {
            add_callbacks(&ctx, &mut rng, job, &h);
        }
        let r = (&mut h).await;
        ctx.outcome(job, &r, true);
        if h.add_done_callback(|_| panic!("a callback added after the result was taken ran")) {
            ctx.err(format!(
                "job {job}: add_done_callback accepted after the result was taken"
            ));
        }
    }
    for (job, task) in blocking {
        match task.await {
            Ok(v) => ctx.outcome(job, &Ok(v), false),
            Err(TaskError::Panicked(_)) => ctx.with(|t| t.jobs[job].seen.push("panicked")),
            Err(TaskError::Cancelled) => ctx.err(format!("spawn_blocking {job} cancelled")),
        }
    }
    drop(to_threads);
    for d in threads_done {
        let _ = d.await;
    }
}

fn run_one(seed: u64) -> Result<(), String> {
    let mut rng = Rng::seeded(seed);
    let core = rng.below(3) as usize;
    let max = core.max(1) + rng.below(3) as usize;
    let capacity = match rng.below(4) {
        0 => usize::MAX,
        1 => 0,
        _ => 1 + rng.below(4) as usize,
    };
    let policy = [
        Policy::Abort,
        Policy::Discard,
        Policy::DiscardOldest,
        Policy::CallerRuns,
    ][rng.below(4) as usize];
    let keep_alive = if rng.below(3) == 0 {
        Duration::from_secs(10)
    } else {
        Duration::from_micros(500 + rng.below(20_000))
    };
    let pool = Arc::new(
        ThreadPool::builder()
            .core_threads(core)
            .max_threads(max)
            .keep_alive(keep_alive)
            .queue_capacity(capacity)
            .policy(policy)
            .thread_name("fz")
            .build(),
    );
    let config =
        format!("core {core} max {max} cap {capacity} {policy:?} keep-alive {keep_alive:?}");
    let ctx: Shared = Arc::new(Ctx {
        t: Mutex::new(Track::default()),
        policy,
        core,
        capacity,
        keep_alive,
        max,
        running_in_pool: AtomicUsize::new(0),
        max_seen: AtomicUsize::new(0),
        threads_seen: AtomicUsize::new(0),
        threads_ended: AtomicUsize::new(0),
    });
    let finished = Arc::new(AtomicBool::new(false));
    {
        let finished = Arc::clone(&finished);
        let config = config.clone();
        std::thread::spawn(move || {
            let start = Instant::now();
            while !finished.load(Ordering::SeqCst) {
                if start.elapsed() > Duration::from_secs(30) {
                    eprintln!("pool_fuzz: seed {seed} ({config}) HUNG for 30 s");
                    std::process::abort();
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
    }
    let mut lp = EventLoop::new().unwrap();
    // spawn_blocking tasks cancelled after their job panicked report it.
    lp.set_exception_handler(|_| {});
    // Debug mode: its stall proof counts the jobs in flight.
    let debug = rng.below(2) == 0;
    lp.set_debug(debug);
    let n_threads = 1 + rng.below(3);
    let mut to_threads = Vec::new();
    let mut done_rxs = Vec::new();
    let mut joins = Vec::new();
    for i in 0..n_threads {
        let (htx, hrx) = std::sync::mpsc::channel();
        let (dtx, drx) = channel::oneshot();
        to_threads.push(htx);
        done_rxs.push(drx);
        let c = Arc::clone(&ctx);
        let p = Arc::clone(&pool);
        let s = rng.next() ^ i;
        joins.push(std::thread::spawn(move || {
            plain_thread(c, p, s, hrx);
            let _ = dtx.send(());
        }));
    }
    let d = driver(
        Arc::clone(&ctx),
        Arc::clone(&pool),
        rng.next(),
        to_threads,
        done_rxs,
    );
    let res = lp.run_until_complete(async move { timeout(Duration::from_secs(20), d).await });
    if res.is_err() {
        ctx.err("the driver timed out (20 s)".into());
    }
    for j in joins {
        if let Err(p) = j.join() {
            ctx.err(format!(
                "plain thread panicked: {}",
                common::panic_text(&*p)
            ));
        }
    }
    // Detached jobs (shutdown(false), dropped handles) end on their own.
    let deadline = Instant::now() + Duration::from_secs(5);
    while pool.threads() != 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(1));
    }
    if pool.threads() != 0 {
        ctx.err(format!(
            "{} pool threads alive 5 s after shutdown",
            pool.threads()
        ));
    }
    drop(lp);
    drop(pool);
    // Values still held by exiting threads (the default pool's) go soon.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let all = ctx.with(|t| t.drops.values().all(|&d| d == 1));
        if all || Instant::now() > deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    finished.store(true, Ordering::SeqCst);
    let max_seen = ctx.max_seen.load(Ordering::SeqCst);
    if max_seen > max {
        ctx.err(format!(
            "{max_seen} jobs ran at once on the pool, max {max}"
        ));
    }
    let t = ctx.t.lock().unwrap();
    let mut errors = t.errors.clone();
    for (id, &d) in &t.drops {
        if d != 1 && errors.len() < 30 {
            errors.push(format!("value {id} dropped {d} times"));
        }
    }
    let rejecting = matches!(policy, Policy::Discard | Policy::DiscardOldest);
    stat(
        if t.shutdown_nowait {
            "shutdown(false)"
        } else {
            "shutdown(true)"
        },
        1,
    );
    for r in t.jobs.iter() {
        stat("jobs", 1);
        stat("ran", r.ran as u64);
        stat("cancel_true", r.cancel_true as u64);
        stat("callbacks", r.cb_ran as u64);
        stat("delivered", r.delivered as u64);
        for k in &r.seen {
            stat(k, 1);
        }
    }
    for (j, r) in t.jobs.iter().enumerate() {
        let mut e = |m: String| {
            if errors.len() < 30 {
                errors.push(format!(
                    "job {j} (panics {}, ran {}, cancel_true {}, seen {:?}): {m}",
                    r.panics, r.ran, r.cancel_true, r.seen
                ))
            }
        };
        if r.ran > 1 {
            e("ran more than once".into());
        }
        if r.delivered > 1 {
            e(format!("handle delivered {} times", r.delivered));
        }
        if r.cb_ran != r.cb_registered {
            e(format!(
                "{} callbacks registered, {} ran",
                r.cb_registered, r.cb_ran
            ));
        }
        let kinds: std::collections::HashSet<_> =
            r.seen.iter().filter(|k| **k != "map-rejected").collect();
        if kinds.len() > 1 {
            e("different outcomes seen".into());
        }
        for k in kinds {
            match *k {
                "ok" if r.panics || r.ran != 1 => e("ok".into()),
                "panicked" if !r.panics || r.ran != 1 => e("panicked".into()),
                "cancelled" if r.ran != 0 || !(r.cancel_true || t.queue_cancelled) => {
                    e("cancelled".into())
                }
                "rejected" if r.ran != 0 || !rejecting => e("rejected".into()),
                _ => {}
            }
        }
        if r.accepted && r.ran == 0 && !r.cancel_true && !t.queue_cancelled && !rejecting {
            e("accepted, never cancelled, but never ran".into());
        }
        if r.accepted
            && r.ran == 0
            && !r.cancel_true
            && !t.queue_cancelled
            && rejecting
            && !r.seen.is_empty()
            && !r.seen.contains(&"rejected")
        {
            e("accepted, seen, but never ran".into());
        }
        if r.cancel_true && (r.ran != 0 || r.seen.iter().any(|k| *k != "cancelled")) {
            e("cancel() returned true".into());
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "seed {seed} ({config}):\n  {}",
            errors.join("\n  ")
        ))
    }
}

#[test]
fn pool_fuzz() {
    common::quiet_panics();
    common::run_seeds(
        "pool_fuzz",
        150,
        |seed, _| run_one(seed),
        || format!("{:?}", STATS.lock().unwrap()),
    );
}
