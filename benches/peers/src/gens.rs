//! Issue 6's generator workloads: G1 a resume/yield round trip, corio's
//! `Gen` beside genawaiter's `rc::Gen`; G2 the overhead of a generator over
//! a hand-written `Iterator` when each item costs about 20 ns of work.

use std::hint::black_box;
use std::time::Instant;

fn per(start: Instant, n: usize) -> f64 {
    start.elapsed().as_nanos() as f64 / n as f64
}

/// About 20 ns of work that the optimizer cannot remove.
#[inline(never)]
fn work(i: u64) -> u64 {
    let mut x = black_box(i);
    for _ in 0..26 {
        x = black_box(
            x.wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407),
        );
    }
    x
}

struct Work {
    i: u64,
    n: u64,
}

impl Iterator for Work {
    type Item = u64;
    fn next(&mut self) -> Option<u64> {
        if self.i == self.n {
            return None;
        }
        self.i += 1;
        Some(work(self.i))
    }
}

/// Runs one (runtime, workload) pair. Each measured loop is a function of
/// its own that is never inlined into this dispatcher, the same for every
/// runtime: inlined into one big `match`, a loop's code depends on its
/// neighbours' (register pressure, spills), which is noise, not the cost of a
/// generator. (When this was changed, corio's G1 loop inlined here took 32
/// instructions per round trip and genawaiter's 29; each on its own, 23 and
/// 28 — see PERFORMANCE.md.)
pub fn measure(runtime: &str, workload: &str, n: usize) -> f64 {
    let n64 = n as u64;
    let start = Instant::now();
    let sum = match (runtime, workload) {
        ("corio", "G1") => corio_g1(black_box(n64)),
        ("genawaiter", "G1") => genawaiter_g1(black_box(n64)),
        ("iterator", "G2") => iterator_g2(black_box(n64)),
        ("corio", "G2") => corio_g2(black_box(n64)),
        ("genawaiter", "G2") => genawaiter_g2(black_box(n64)),
        _ => return f64::NAN,
    };
    black_box(sum);
    per(start, n)
}

/// G1, corio: `n` resume/yield round trips; returns the sum of the values.
#[inline(never)]
fn corio_g1(n: u64) -> u64 {
    let mut g = corio::generator::Gen::new(|co| async move {
        for i in 0..n {
            co.yield_(i).await;
        }
    });
    let mut sum = 0u64;
    while let Ok(corio::generator::GenState::Yielded(v)) = g.resume(()) {
        sum = sum.wrapping_add(v);
    }
    sum
}

/// G1, genawaiter: the same loop on `genawaiter::rc::Gen`.
#[inline(never)]
fn genawaiter_g1(n: u64) -> u64 {
    let mut g = genawaiter::rc::Gen::new(|co| async move {
        for i in 0..n {
            co.yield_(i).await;
        }
    });
    let mut sum = 0u64;
    while let genawaiter::GeneratorState::Yielded(v) = g.resume() {
        sum = sum.wrapping_add(v);
    }
    sum
}

/// G2, the hand-written iterator: `n` items of ~20 ns of work.
#[inline(never)]
fn iterator_g2(n: u64) -> u64 {
    Work { i: 0, n }.fold(0u64, |a, v| a.wrapping_add(v))
}

/// G2, corio: the same items from a generator, consumed as an iterator.
#[inline(never)]
fn corio_g2(n: u64) -> u64 {
    let g = corio::generator::Gen::new(|co| async move {
        for i in 1..=n {
            co.yield_(work(i)).await;
        }
    });
    g.fold(0u64, |a, v| a.wrapping_add(v))
}

/// G2, genawaiter: the same items from `genawaiter::rc::Gen`.
#[inline(never)]
fn genawaiter_g2(n: u64) -> u64 {
    let g = genawaiter::rc::Gen::new(|co| async move {
        for i in 1..=n {
            co.yield_(work(i)).await;
        }
    });
    g.into_iter().fold(0u64, |a, v| a.wrapping_add(v))
}
