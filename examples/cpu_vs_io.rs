//! Seeds 003/004's lesson: 计算密集型多线程没啥提升，IO密集型可以加速 —
//! concurrency speeds up waiting, not computing.
//!
//! Seed 003 sums `range(1000000)` four times, once serially and once on
//! four threads, and gets the same time (0.150 s vs 0.155 s): Python's GIL
//! lets one thread compute at a time. A corio loop is one thread, so tasks
//! are in the same spot:
//!
//! * (a) two CPU-bound chunks in two tasks on one loop take as long as
//!   doing them one after the other: a task that computes never waits, so
//!   the loop never switches — no gain;
//! * (b) two 200 ms sleeps in two tasks overlap: ~200 ms, not 400 (seed
//!   004's `asyncio.sleep`);
//! * (c) the same CPU chunks sent to threads with `corio::spawn_blocking`
//!   run in parallel, on as many cores as the machine has: ~half the time
//!   on two cores or more (Rust threads have no GIL).
//!
//! Each chunk is calibrated at start-up to take about 50 ms here. The
//! three CPU-bound ways take turns for five rounds, and each one's fastest
//! round is shown, so that a busy moment on the machine hurts all of them
//! alike. They are still rough wall-clock numbers: they depend on the
//! machine and on what else runs on it.
//!
//! Run it: `cargo run --release --example cpu_vs_io` (in release: a debug
//! build computes far slower).

#[macro_use]
mod common;

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Wall-clock time of one chunk of computing.
const CHUNK_TIME: Duration = Duration::from_millis(50);
/// Wall-clock time of one sleep in (b).
const SLEEP_TIME: Duration = Duration::from_millis(200);

/// Seed 003's `job`: `sum(range(n))`, computed one number at a time.
/// `black_box` keeps the compiler from replacing the loop by a formula.
#[inline(never)] // the same machine code in every caller, for fair timings
fn crunch(n: u64) -> u64 {
    let mut total = 0u64;
    for i in 0..n {
        total = total.wrapping_add(black_box(i));
    }
    total
}

/// How many numbers `crunch` adds in about `CHUNK_TIME` on this machine:
/// the fastest of three short trial runs, scaled up.
fn calibrate() -> u64 {
    let mut n = 1_000_000;
    while time(|| crunch(n)) < Duration::from_millis(10) {
        n *= 2;
    }
    let fastest = (0..3)
        .map(|_| time(|| crunch(n)))
        .min()
        .expect("three runs");
    (n as f64 * CHUNK_TIME.as_secs_f64() / fastest.as_secs_f64()) as u64
}

/// How long `f` takes.
fn time<T>(f: impl FnOnce() -> T) -> Duration {
    let start = Instant::now();
    black_box(f());
    start.elapsed()
}

/// Rounds of the CPU-bound timings.
const ROUNDS: usize = 5;

/// (a) Both chunks one after the other, on this thread.
fn serially(n: u64) -> u64 {
    crunch(n) + crunch(n)
}

/// (a) Both chunks in two tasks on one loop.
fn in_two_tasks(n: u64) -> u64 {
    corio::run(async move {
        let chunks = [
            corio::spawn(async move { crunch(n) }),
            corio::spawn(async move { crunch(n) }),
        ];
        corio::gather(chunks)
            .await
            .into_iter()
            .map(|chunk| chunk.expect("crunch does not panic"))
            .sum()
    })
}

/// (c) Both chunks on pool threads with `spawn_blocking`; the loop awaits
/// them.
fn with_spawn_blocking(n: u64) -> u64 {
    corio::run(async move {
        let chunks = [
            corio::spawn_blocking(move || crunch(n)),
            corio::spawn_blocking(move || crunch(n)),
        ];
        corio::gather(chunks)
            .await
            .into_iter()
            .map(|chunk| chunk.expect("crunch does not panic"))
            .sum()
    })
}

/// (b) Two tasks that each sleep `SLEEP_TIME`, on one loop.
fn two_sleeps() {
    corio::run(async {
        let sleeps = [
            corio::spawn(corio::time::sleep(SLEEP_TIME)),
            corio::spawn(corio::time::sleep(SLEEP_TIME)),
        ];
        for sleep in corio::gather(sleeps).await {
            sleep.expect("sleep does not panic");
        }
    });
}

/// Prints a timing line.
fn show(label: &str, took: Duration) {
    say!("  {label:<46} {:>4} ms", took.as_millis());
}

fn main() {
    common::no_arguments("seeds 003/004: threads and tasks speed up waiting, not computing");
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let n = calibrate();
    say!("在python：计算密集型多线程单任务没啥提升，IO密集型可以加速");
    say!("(CPU-bound work gains nothing from concurrency; waiting does)");
    say!(
        "available_parallelism: {cores} core(s); one chunk = sum of {n} numbers ≈ {} ms\n",
        CHUNK_TIME.as_millis()
    );

    // The CPU-bound ways take turns; each keeps its fastest round.
    let ways: [fn(u64) -> u64; 3] = [serially, in_two_tasks, with_spawn_blocking];
    let mut fastest = [Duration::MAX; 3];
    let expected = serially(n);
    for _ in 0..ROUNDS {
        for (way, best) in ways.iter().zip(&mut fastest) {
            let start = Instant::now();
            assert_eq!(way(n), expected);
            *best = (*best).min(start.elapsed());
        }
    }
    let [serial, tasks, threads] = fastest;

    say!("(a) CPU-bound: two chunks (fastest of {ROUNDS} rounds)");
    show("one after the other (no_mult):", serial);
    show("two tasks on one loop (mult):", tasks);
    say!(
        "  -> tasks / serial = {:.2}: no gain, the loop runs one task at a time\n",
        tasks.as_secs_f64() / serial.as_secs_f64()
    );

    say!("(b) waiting: two sleeps of {} ms", SLEEP_TIME.as_millis());
    let slept = time(two_sleeps);
    show("two tasks on one loop, await sleep:", slept);
    say!(
        "  -> {:.2} × one sleep, not 2 ×: they overlap, the loop switches while they wait\n",
        slept.as_secs_f64() / SLEEP_TIME.as_secs_f64()
    );

    say!("(c) CPU-bound again, sent to threads with spawn_blocking");
    show("two spawn_blocking jobs, awaited by the loop:", threads);
    let ratio = threads.as_secs_f64() / serial.as_secs_f64();
    let expected = if cores >= 2 {
        "two cores run the two chunks at once, ≈ 0.5 expected"
    } else {
        "one core cannot run them in parallel, ≈ 1 expected"
    };
    say!("  -> threads / serial = {ratio:.2} on {cores} core(s): {expected}");
    if cores >= 2 && ratio > 0.75 {
        say!("     (slower than that here: are other programs busy on the cores?)");
    }
}
