//! Seed 003's "yield 实现多任务" (multitasking with `yield`), grown into a
//! scheduler and then into the event loop.
//!
//! ```python
//! def t1():
//!     while True:
//!         print("---1----")
//!         time.sleep(0.1)
//!         yield
//!
//! def t2():
//!     while True:
//!         print("---2----")
//!         time.sleep(0.1)
//!         yield
//!
//! task1 = t1(); task2 = t2()
//! while True:
//!     next(task1)
//!     next(task2)
//! ```
//!
//! Four steps:
//!
//! 1. the seed's `t1`/`t2` as [`Gen`]s, resumed in turn by hand (a few
//!    rounds instead of `while True`);
//! 2. any number of generators in a `VecDeque`: pop the front one, resume
//!    it, push it back unless it finished — a scheduler in ten lines, and
//!    the shape of `corio::EventLoop::run_once`;
//! 3. why a generator cannot simply `await` a sleep: nobody would wake it;
//! 4. the same round-robin with real tasks, `corio::yield_now().await` as
//!    their `yield`, stepped one turn at a time with `EventLoop::run_once`.
//!    The interleaving is the same as in step 2.
//!
//! Run it: `cargo run --release --example round_robin`

#[macro_use]
mod common;

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};

// The module is `generator`, not `gen`: `gen` is a keyword in Rust 2024.
use corio::generator::{Co, Gen, GenState};
use corio::{Builder, EventLoop};

/// The seed's `time.sleep(0.1)` in `t1` and `t2`.
const PAUSE: Duration = Duration::from_millis(100);

/// How many `next(task1); next(task2)` rounds instead of `while True`.
const ROUNDS: u32 = 3;

/// The workers of steps 2 and 4: a name and how many steps each takes.
const JOBS: [(&str, u32); 3] = [("t1", 2), ("t2", 4), ("t3", 3)];

/// Seed 003's `t1()` / `t2()`: print a mark, pause, yield — forever.
fn forever(mark: &'static str) -> Gen<()> {
    Gen::new(move |co| async move {
        loop {
            say!("    {mark}");
            // time.sleep(0.1): blocks the thread. Here nothing else could
            // run meanwhile anyway — the caller is waiting in `next`.
            std::thread::sleep(PAUSE);
            co.yield_(()).await; // yield: back to `main`'s loop
        }
    })
    .boxed()
}

/// A worker for the scheduler: yields its step number `steps` times, then
/// returns how many steps it took.
fn worker(steps: u32) -> Gen<u32, u32> {
    Gen::new(move |co| async move {
        for step in 1..=steps {
            co.yield_(step).await;
        }
        steps
    })
    .boxed()
}

/// Step 2: round-robin over generators. Returns what happened, in order.
///
/// This is `EventLoop::run_once` (src/event_loop.rs, `run_ready`) with
/// generators for tasks: a turn takes only the entries that are ready *now*
/// off the front of the queue and runs each one until it stops. Here a
/// generator stops at `co.yield_` and *we* put it back at the end of the
/// line; there a task stops at an `.await` that is not ready, and its
/// *waker* puts it back in line when it can go on.
fn run_generators() -> Vec<String> {
    let mut ready: VecDeque<(&str, Gen<u32, u32>)> = JOBS
        .iter()
        .map(|&(name, steps)| (name, worker(steps)))
        .collect();
    let mut log = Vec::new();
    let mut turn = 0;
    // run_forever: turn after turn while anything is ready.
    while !ready.is_empty() {
        turn += 1;
        let start = log.len();
        // run_ready does the same with less counting: it takes the whole
        // queue (`Batch::take`) and runs it, while new entries go to a
        // fresh one. Counting the entries ready now is the same rule.
        let ready_now = ready.len();
        for _ in 0..ready_now {
            let Some((name, mut g)) = ready.pop_front() else {
                break;
            };
            match g.resume(()) {
                Ok(GenState::Yielded(step)) => {
                    log.push(format!("{name} step {step}"));
                    ready.push_back((name, g)); // back to the end of the line
                }
                // Finished: not pushed back (the loop frees a done task's slot).
                Ok(GenState::Complete(steps)) => log.push(format!("{name} done ({steps})")),
                Err(err) => panic!("{name}: {err}"),
            }
        }
        say!("    turn {turn}: {}", log[start..].join(" | "));
    }
    log
}

/// Step 3: a generator that awaits a sleep. `resume` polls its body with a
/// waker that does nothing, so the sleep's timer could never wake it:
/// `resume` says so instead of hanging.
fn sleep_in_a_generator() {
    corio::run(async {
        let mut g = Gen::new(|co: Co<()>| async move {
            corio::time::sleep(PAUSE).await; // an await that is not co.yield_
            co.yield_(()).await;
        });
        match g.resume(()) {
            Err(err) => say!("    resume → Err({err:?}):\n      {err}"),
            other => say!("    resume → {other:?} (unexpected)"),
        }
    });
}

/// Step 4: the same workers as real tasks on an event loop, stepped one
/// turn at a time. Returns what happened, in order.
fn run_tasks() -> std::io::Result<Vec<String>> {
    let mut lp = EventLoop::new()?;
    let log = Rc::new(RefCell::new(Vec::<String>::new()));
    let tasks: Vec<_> = JOBS
        .iter()
        .map(|&(name, steps)| {
            let log = Rc::clone(&log);
            Builder::new().name(name).spawn_on(&lp, async move {
                for step in 1..=steps {
                    log.borrow_mut().push(format!("{name} step {step}"));
                    // The task's `yield` (gevent.sleep(0)): an await that is
                    // not ready the first time. Its waker puts the task at
                    // the back of the ready queue, so the others go first.
                    corio::yield_now().await;
                }
                log.borrow_mut().push(format!("{name} done ({steps})"));
                steps
            })
        })
        .collect();

    for turn in 1.. {
        let start = log.borrow().len();
        // One turn: pops what was ready and polls each task once.
        if lp.run_once().idle {
            break; // nothing ready, nothing could ever be: all done
        }
        say!("    turn {turn}: {}", log.borrow()[start..].join(" | "));
    }
    // The tasks are done; collect their results (asyncio.gather).
    let results = lp.run_until_complete(corio::gather(tasks));
    say!("    results: {results:?}");
    Ok(log.take())
}

fn main() -> std::io::Result<()> {
    common::no_arguments("seed 003: multitasking with yield: generators taking turns, then tasks");
    say!("1) yield 实现多任务: next(task1); next(task2), {ROUNDS} rounds");
    let (mut task1, mut task2) = (forever("---1----"), forever("---2----"));
    let start = Instant::now();
    for round in 1..=ROUNDS {
        say!("  round {round}");
        task1.next(); // next(task1)
        task2.next(); // next(task2)
    }
    say!(
        "  {} × 2 steps × {} ms of time.sleep = {:.2} s: one step at a time\n",
        ROUNDS,
        PAUSE.as_millis(),
        start.elapsed().as_secs_f64()
    );

    say!("2) a scheduler: generators in a VecDeque, pop front / resume / push back");
    let by_hand = run_generators();

    say!("\n3) a generator cannot await a sleep: no event loop wakes it");
    sleep_in_a_generator();

    say!("\n4) the same with tasks: yield_now().await on an event loop, run_once per turn");
    let by_loop = run_tasks()?;

    assert_eq!(by_hand, by_loop);
    say!("\nsame interleaving in 2) and 4): {}", by_hand == by_loop);
    Ok(())
}
