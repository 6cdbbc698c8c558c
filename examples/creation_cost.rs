//! Seed 003's 协程 lesson: 创建开销：进程 > 线程 > 协程 — a process costs more
//! to create than a thread, and a thread more than a coroutine.
//!
//! It times, per creation:
//!
//! * a process: `Command::new("/bin/true").status()` — start a program that
//!   exits at once, and wait for it (`multiprocessing.Process` + `join`);
//! * a thread: `std::thread::spawn(..).join()` (`threading.Thread` +
//!   `start` + `join`);
//! * a task: `corio::spawn(..).await`, one after another inside one
//!   `corio::run` (`gevent.spawn` + `join`);
//!
//! and, as an aside, a job on a [`ThreadPool`] whose thread already runs:
//! reusing a thread instead of creating one is what pools are for (seed
//! 000: 重用进程和线程).
//!
//! These are rough wall-clock timings of a few hundred or thousand
//! creations each, not a benchmark: they vary between machines and between
//! runs, and only the order of magnitude matters. The crate's benchmarks
//! live in `benches/`. The whole run takes well under two seconds.
//!
//! Run it: `cargo run --release --example creation_cost`

#[macro_use]
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use corio::pool::ThreadPool;

const PROCESSES: u32 = 200;
const THREADS: u32 = 2_000;
const POOL_JOBS: u32 = 2_000;
const TASKS: u32 = 20_000;

/// The program started for the process timing.
const TRUE: &str = "/bin/true";

/// Microseconds per creation.
fn per_one(total: Duration, count: u32) -> f64 {
    total.as_secs_f64() * 1e6 / f64::from(count)
}

/// Prints one timing line and returns the µs per creation.
fn report(label: &str, count: u32, total: Duration) -> f64 {
    let micros = per_one(total, count);
    // Chinese characters take two columns in a terminal.
    let width: usize = label
        .chars()
        .map(|c| if c > '\u{2e80}' { 2 } else { 1 })
        .sum();
    let pad = " ".repeat(36usize.saturating_sub(width));
    say!("  {label}{pad} {count:>6} × {micros:>8.2} µs");
    micros
}

/// Starts `/bin/true` `count` times, waiting for each; `None` (with a
/// message) if it cannot be started here.
fn time_processes(count: u32) -> Option<Duration> {
    let start = Instant::now();
    for _ in 0..count {
        match Command::new(TRUE).status() {
            Ok(status) if status.success() => {}
            Ok(status) => {
                say!("  进程 process: skipped, {TRUE} ended with {status}");
                return None;
            }
            Err(err) => {
                say!("  进程 process: skipped, cannot start {TRUE}: {err}");
                return None;
            }
        }
    }
    Some(start.elapsed())
}

/// Spawns and joins `count` threads, one after another.
fn time_threads(count: u32) -> Duration {
    let start = Instant::now();
    let mut sum = 0u64;
    for i in 0..count {
        sum += std::thread::spawn(move || u64::from(i))
            .join()
            .expect("the thread does not panic");
    }
    assert_eq!(sum, (0..u64::from(count)).sum::<u64>());
    start.elapsed()
}

/// Submits `count` jobs to a one-thread pool and waits for each: the same
/// thread runs them all.
fn time_pool_jobs(count: u32) -> Duration {
    let pool = ThreadPool::new(1);
    pool.submit(|| ())
        .expect("the pool is open")
        .wait()
        .expect("warm-up");
    let start = Instant::now();
    for i in 0..count {
        let job = pool.submit(move || u64::from(i)).expect("the pool is open");
        assert_eq!(job.wait(), Ok(u64::from(i)));
    }
    start.elapsed()
}

/// Spawns and awaits `count` tasks, one after another, on one loop.
fn time_tasks(count: u32) -> Duration {
    corio::run(async move {
        let start = Instant::now();
        let mut sum = 0u64;
        for i in 0..count {
            sum += corio::spawn(async move { u64::from(i) })
                .await
                .expect("the task does not panic");
        }
        assert_eq!(sum, (0..u64::from(count)).sum::<u64>());
        start.elapsed()
    })
}

fn main() {
    common::no_arguments(
        "seed 003: a process costs more to create than a thread, a thread more than a task",
    );
    say!("创建开销：进程 > 线程 > 协程  (creation cost: process > thread > coroutine)");
    say!("(rough wall-clock timings, not a benchmark)\n");

    let process =
        time_processes(PROCESSES).map(|t| report("进程 process (/bin/true + wait):", PROCESSES, t));
    let thread = report(
        "线程 thread (spawn + join):",
        THREADS,
        time_threads(THREADS),
    );
    let task = report(
        "协程 task (corio::spawn + await):",
        TASKS,
        time_tasks(TASKS),
    );
    let pooled = report(
        "线程池 pool job (submit + wait):",
        POOL_JOBS,
        time_pool_jobs(POOL_JOBS),
    );

    say!();
    if let Some(process) = process {
        say!("  a process costs ≈ {:>5.0} × a thread", process / thread);
    }
    say!("  a thread  costs ≈ {:>5.0} × a task", thread / task);
    if let Some(process) = process {
        say!("  a process costs ≈ {:>5.0} × a task", process / task);
    }
    say!(
        "  a job on a running pool thread costs ≈ {:.1} × a task, {:.2} × a new thread: \
         no thread is created",
        pooled / task,
        pooled / thread
    );
}
