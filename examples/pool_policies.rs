//! Seed 003's Java `ThreadPoolExecutor` lesson: core threads, a bounded
//! queue, extra threads, and the four rejection policies (拒绝策略).
//!
//! The seed's rule for a new job (任务来临):
//!
//! > 首先判断核心线程是否空闲 … 如果核心线程已满，则判断任务队列是否有地方存放该任务 …
//! > 如果任务队列满了，再判断是否超出最大可容纳线程数，如果没超这个数量，开创非核心线程执行任务，
//! > 如果超出了，就调用handler实现拒绝策略。
//!
//! that is: core threads → queue → extra (non-core) threads → policy.
//!
//! Each policy gets a tiny pool — 1 core thread, at most 2 threads, a queue
//! of 1 — and five jobs. Every job holds its thread until `main` lets it
//! go, which `main` does after the last submit, one job at a time, in
//! order: nothing finishes early, and the output — down to the thread each
//! job ran on — is the same on every run:
//!
//! * job 1 starts the core thread, job 2 waits in the queue, job 3 starts
//!   the one extra thread;
//! * jobs 4 and 5 find everything full, and the policy decides:
//!   `Abort` refuses them (`Err(Rejected::Full)` from `submit`), `Discard`
//!   drops them (their handles give `Err(JobError::Rejected)`),
//!   `DiscardOldest` drops the oldest queued job to make room, and
//!   `CallerRuns` runs them on the submitting thread, `main`.
//!
//! Run it: `cargo run --release --example pool_policies`

#[macro_use]
mod common;

use std::sync::{Arc, Condvar, Mutex};
use std::thread::ThreadId;

use corio::pool::{JobHandle, JobResult, Policy, Rejected, ThreadPool};

/// The pool of every policy: Java's corePoolSize, maximumPoolSize and
/// workQueue capacity.
const CORE: usize = 1;
const MAX: usize = 2;
const QUEUE: usize = 1;
/// Jobs submitted to it: one more than it can take, and one more again.
const JOBS: usize = 5;

/// A turnstile that lets the jobs go one at a time: job `n` waits until
/// `main` has let `n` go.
///
/// The thread that lets them go never waits at it: under `CallerRuns` a
/// job runs on `main` itself, inside `submit`, and waiting there for a
/// release only `main` can give would hang forever — the classic
/// `CallerRuns` trap.
struct Gate {
    released: Mutex<usize>,
    changed: Condvar,
    opener: ThreadId,
}

impl Gate {
    /// A closed gate, to be opened by the current thread.
    fn new() -> Arc<Gate> {
        Arc::new(Gate {
            released: Mutex::new(0),
            changed: Condvar::new(),
            opener: std::thread::current().id(),
        })
    }

    /// Waits until job `n` may go (at once on the opener's thread).
    fn pass(&self, n: usize) {
        if std::thread::current().id() == self.opener {
            return;
        }
        let mut released = self
            .released
            .lock()
            .expect("no job panics holding the lock");
        while *released < n {
            released = self
                .changed
                .wait(released)
                .expect("no job panics holding the lock");
        }
    }

    /// Lets job `n` (and every job before it) go.
    fn release(&self, n: usize) {
        *self
            .released
            .lock()
            .expect("no job panics holding the lock") = n;
        self.changed.notify_all();
    }
}

/// Opens the gate all the way when dropped — also when `main` unwinds (a
/// failed assertion, say), so that no job is left waiting at it while
/// dropping the pool joins the threads.
struct OpenOnDrop(Arc<Gate>);

impl Drop for OpenOnDrop {
    fn drop(&mut self) {
        self.0.release(usize::MAX);
    }
}

/// Job `n`: waits at the gate, then returns the name of its thread.
fn job(n: usize, gate: Arc<Gate>) -> impl FnOnce() -> String + Send + 'static {
    move || {
        gate.pass(n);
        std::thread::current().name().unwrap_or("?").to_string()
    }
}

/// What one `submit` did, told from the pool's thread and queue counts
/// before and after it.
fn where_it_went(
    policy: Policy,
    submitted: &Result<JobHandle<String>, Rejected>,
    before: (usize, usize),
    after: (usize, usize),
) -> &'static str {
    let (threads, queued) = after;
    match submitted {
        Err(Rejected::Full) => "pool full → Abort: submit returned Err(Rejected::Full)",
        Err(Rejected::ShutDown) => "refused: the pool is shut down",
        Ok(_) if threads > before.0 && threads <= CORE => "a new core thread runs it (核心线程)",
        Ok(_) if threads > before.0 => "queue full: a new non-core thread runs it (非核心线程)",
        Ok(_) if queued > before.1 => "core thread busy: it waits in the queue (任务队列)",
        Ok(_) => match policy {
            Policy::Discard => "pool full → Discard: dropped, it will never run",
            Policy::DiscardOldest => {
                "pool full → DiscardOldest: queued in place of the oldest queued job"
            }
            Policy::CallerRuns => {
                "pool full → CallerRuns: it already ran, right here inside submit"
            }
            _ => "pool full",
        },
    }
}

/// The numbers of the jobs that have ended so far.
fn done_jobs(handles: &[Result<JobHandle<String>, Rejected>]) -> Vec<usize> {
    (1..)
        .zip(handles)
        .filter(|(_, submitted)| submitted.as_ref().is_ok_and(|handle| handle.is_done()))
        .map(|(n, _)| n)
        .collect()
}

/// What finally became of a job.
fn outcome(result: &JobResult<String>) -> String {
    match result {
        Ok(thread) if thread == "main" => format!("Ok: ran on the caller thread {thread:?}"),
        Ok(thread) => format!("Ok: ran on pool thread {thread:?}"),
        Err(err) => format!("Err(JobError::{err:?}): {err}"),
    }
}

/// Five gated jobs on a core-1, max-2, queue-1 pool under `policy`.
fn try_policy(policy: Policy, seed_name: &str) {
    say!("{policy:?} ({seed_name}):");
    let pool = ThreadPool::builder()
        .core_threads(CORE)
        .max_threads(MAX)
        .queue_capacity(QUEUE)
        .policy(policy)
        .thread_name(format!("{policy:?}").to_lowercase())
        .build();
    let gate = Gate::new();
    let _open_at_the_end = OpenOnDrop(Arc::clone(&gate)); // dropped before the pool

    let mut handles: Vec<Result<JobHandle<String>, Rejected>> = Vec::new();
    for n in 1..=JOBS {
        let done_before = done_jobs(&handles);
        let before = (pool.threads(), pool.queued());
        let submitted = pool.submit(job(n, Arc::clone(&gate)));
        let after = (pool.threads(), pool.queued());
        say!(
            "  submit job {n} -> {}  [threads {}, queued {}]",
            where_it_went(policy, &submitted, before, after),
            after.0,
            after.1
        );
        // No job can finish before its release, so an earlier job that
        // ended during this submit was dropped to make room (DiscardOldest).
        for m in done_jobs(&handles) {
            if !done_before.contains(&m) {
                say!("      (job {m} was dropped from the queue to make room)");
            }
        }
        handles.push(submitted);
    }

    // Let the jobs go one by one, in order, so that which thread takes a
    // queued job is the same on every run.
    say!("  -- all submitted; now letting the jobs finish one by one:");
    for (n, submitted) in (1..).zip(handles) {
        gate.release(n);
        match submitted {
            Err(rejected) => say!("  job {n}: never accepted (Err(Rejected::{rejected:?}))"),
            Ok(handle) => say!("  job {n}: {}", outcome(&handle.wait())),
        }
    }
    say!();
    // Dropping the pool joins its threads.
}

fn main() {
    common::no_arguments(
        "seed 003: a bounded thread pool: core threads, a queue, extra threads, rejection policies",
    );
    say!(
        "任务来临: 核心线程 → 队列 → 非核心线程 → 拒绝策略\n\
         a new job goes to: core threads → the queue → extra threads → the rejection policy\n\
         (pool: core_threads {CORE}, max_threads {MAX}, queue_capacity {QUEUE}; \
         {JOBS} jobs, held until all are submitted)\n"
    );
    try_policy(
        Policy::Abort,
        "AbortPolicy: 不执行新任务，抛异常提示线程池已满",
    );
    try_policy(Policy::Discard, "DiscardPolicy: 不执行新任务，也不抛出异常");
    try_policy(
        Policy::DiscardOldest,
        "DiscardOldestPolicy: 将消息队列中的第一个任务替换为当前新进来的任务执行",
    );
    try_policy(
        Policy::CallerRuns,
        "CallerRunsPolicy: 直接调用execute来执行当前任务",
    );
}
