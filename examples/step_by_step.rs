//! Watch the loop turn by turn.
//!
//! `EventLoop::run_once` runs exactly one turn — asyncio's `_run_once` — and
//! returns a `Turn` saying what it did. This program spawns a few tasks and
//! callbacks, then steps the loop until it is idle, printing each turn:
//!
//! * a turn first waits — only if nothing is ready — for I/O, another thread
//!   or the next timer;
//! * then, if it looked outside (always when nothing was ready, else once
//!   every 61 quick ready-queue entries, or about once per millisecond of
//!   slow ones), it fires the timers that are due;
//! * then it runs what is ready *now*; what becomes ready meanwhile waits
//!   for the next turn.
//!
//! Run it: `cargo run --example step_by_step`

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use corio::EventLoop;
use corio::time::sleep;

fn main() -> std::io::Result<()> {
    common::no_arguments("prints each turn of the event loop running a small program");
    let mut lp = EventLoop::new()?;
    let start = Instant::now();
    let at = move || format!("{:>5.1} ms", start.elapsed().as_secs_f64() * 1e3);

    let pinger = lp.spawn(async move {
        say!("    [{}] ping: started, yielding once", at());
        corio::yield_now().await;
        say!("    [{}] ping: back, sleeping 20 ms", at());
        sleep(Duration::from_millis(20)).await;
        say!("    [{}] ping: woke up, spawning a child", at());
        let child = corio::spawn(async move { say!("    [{}] child: ran", at()) });
        child.id()
    });
    pinger.add_done_callback(move |_| say!("    [{}] done callback of ping", at()));
    lp.call_soon(move || say!("    [{}] call_soon callback", at()));
    lp.call_later(Duration::from_millis(10), move || {
        say!("    [{}] call_later(10 ms) callback", at())
    });

    for n in 1.. {
        say!("── turn {n}");
        let turn = lp.run_once();
        if turn.idle {
            say!("   idle: nothing is ready and nothing ever could be — stop stepping");
            break;
        }
        say!(
            "   → polled {} task(s), ran {} callback(s), fired {} timer(s), slept {:.1} ms",
            turn.tasks_polled,
            turn.callbacks_run,
            turn.timers_fired,
            turn.slept.as_secs_f64() * 1e3
        );
    }
    Ok(())
}
