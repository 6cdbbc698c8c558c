//! Seed 003's "send 可向生成器传参" (`send` passes a value into a generator):
//! the classic running-average coroutine.
//!
//! ```python
//! def averager():
//!     total, count, average = 0.0, 0, None
//!     while True:
//!         term = yield average        # hand out the average, wait for a term
//!         if term is None:
//!             break                   # the sentinel: stop
//!         total += term
//!         count += 1
//!         average = total / count
//!     return (count, average)         # arrives as StopIteration.value
//!
//! avg = averager()
//! next(avg)           # prime it: run to the first yield (same as send(None))
//! avg.send(10)        # 10.0
//! avg.send(30)        # 20.0
//! avg.send(5)         # 15.0
//! avg.send(None)      # StopIteration: (3, 15.0)
//! ```
//!
//! `x = yield value` is `let x = co.yield_(value).await`, and
//! `gen.send(x)` is `gen.resume(x)`, which returns
//! `Ok(GenState::Yielded(value))` — or `Ok(GenState::Complete(result))` when
//! the body returns. This program shows:
//!
//! 1. priming: the first `resume` only starts the body — it is not stopped
//!    at a `yield` yet, so nothing can receive the value sent, and the value
//!    is dropped (Python refuses it: "can't send non-None value to a
//!    just-started generator");
//! 2. sending values and getting the running average back;
//! 3. the sentinel `None`: the body returns `Summary`, then resuming again
//!    is `Err(GenError::Finished)` (Python raises `StopIteration` again);
//! 4. what goes wrong if you forget to prime, and a `primed` helper.
//!
//! Run it: `cargo run --release --example running_average`

#[macro_use]
mod common;

// The module is `generator`, not `gen`: `gen` is a keyword in Rust 2024.
use corio::generator::{Gen, GenError, GenState};

/// The averager's type, `Gen<yielded, returned, sent>`: it yields the
/// average so far, returns a [`Summary`], and is sent the next term.
type Averager = Gen<Option<f64>, Summary, Option<f64>>;

/// What the averager returns when it ends: Python's `(count, average)`.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Summary {
    count: u32,
    average: Option<f64>,
}

/// The averager: yields the average so far (`None` before the first term),
/// receives the next term at each resume, and stops at the term `None`.
fn averager() -> Averager {
    Gen::new(|co| async move {
        let (mut total, mut count) = (0.0, 0);
        let mut average = None;
        // term = yield average; if term is None: break
        while let Some(term) = co.yield_(average).await {
            total += term;
            count += 1;
            average = Some(total / f64::from(count));
        }
        Summary { count, average }
    })
    .boxed()
}

/// Like the `@coroutine` decorator Python programs use for this: returns
/// the generator already primed, stopped at its first `yield`.
fn primed(mut avg: Averager) -> Averager {
    let first = avg.resume(None);
    assert_eq!(first, Ok(GenState::Yielded(None)), "a fresh averager");
    avg
}

/// `avg.send(term)`, printed: what was sent and what came back.
fn send(avg: &mut Averager, term: Option<f64>) {
    let call = format!("resume({term:?})");
    let (answer, note) = match avg.resume(term) {
        Ok(GenState::Yielded(None)) => ("Yielded(None)".to_string(), "no average yet"),
        Ok(GenState::Yielded(average)) => (format!("Yielded({average:?})"), "average so far"),
        Ok(GenState::Complete(summary)) => (format!("Complete({summary:?})"), ""),
        Err(GenError::Finished) => ("Err(Finished)".to_string(), "Python: StopIteration again"),
        Err(err) => (format!("Err({err:?})"), "unexpected"),
    };
    let line = format!("  {call:<18} → {answer:<19} {note}");
    say!("{}", line.trim_end());
}

fn main() {
    common::no_arguments("seed 003: send passes values into a generator (a running average)");
    say!("1) 启动生成器 (priming): the first resume runs the body to its first yield");
    let mut avg = averager();
    say!("  avg = averager(): nothing has run yet");
    send(&mut avg, None); // next(avg): the argument goes nowhere

    say!("\n2) send 可向生成器传参 (send passes a value in): each resume returns the average");
    for term in [10.0, 30.0, 5.0] {
        send(&mut avg, Some(term));
    }

    say!("\n3) the sentinel None ends the body; after that the generator is finished");
    send(&mut avg, None); // Python: StopIteration, value (3, 15.0)
    send(&mut avg, Some(1.0)); // Python: StopIteration again
    say!("  is_finished() = {}", avg.is_finished());

    say!("\n4) forgetting to prime: the first term is lost, silently");
    let mut unprimed = averager();
    send(&mut unprimed, Some(10.0)); // only starts the body: 10 is dropped
    send(&mut unprimed, Some(30.0)); // 30 alone: 30, not 20
    send(&mut unprimed, None);
    say!("  fix: prime it first — primed(averager()), like Python's @coroutine decorator");
    let mut avg = primed(averager());
    send(&mut avg, Some(10.0));
    send(&mut avg, Some(30.0));
}
