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
        x = black_box(x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407));
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

pub fn measure(runtime: &str, workload: &str, n: usize) -> f64 {
    let n64 = n as u64;
    match (runtime, workload) {
        ("corio", "G1") => {
            let mut g = corio::generator::Gen::new(|co| async move {
                for i in 0..n64 {
                    co.yield_(i).await;
                }
            });
            let start = Instant::now();
            let mut sum = 0u64;
            while let Ok(corio::generator::GenState::Yielded(v)) = g.resume(()) {
                sum = sum.wrapping_add(v);
            }
            black_box(sum);
            per(start, n)
        }
        ("genawaiter", "G1") => {
            let mut g = genawaiter::rc::Gen::new(|co| async move {
                for i in 0..n64 {
                    co.yield_(i).await;
                }
            });
            let start = Instant::now();
            let mut sum = 0u64;
            while let genawaiter::GeneratorState::Yielded(v) = g.resume() {
                sum = sum.wrapping_add(v);
            }
            black_box(sum);
            per(start, n)
        }
        ("iterator", "G2") => {
            let start = Instant::now();
            let sum = Work { i: 0, n: n64 }.fold(0u64, |a, v| a.wrapping_add(v));
            black_box(sum);
            per(start, n)
        }
        ("corio", "G2") => {
            let g = corio::generator::Gen::new(|co| async move {
                for i in 1..=n64 {
                    co.yield_(work(i)).await;
                }
            });
            let start = Instant::now();
            let sum = g.fold(0u64, |a, v| a.wrapping_add(v));
            black_box(sum);
            per(start, n)
        }
        ("genawaiter", "G2") => {
            let g = genawaiter::rc::Gen::new(|co| async move {
                for i in 1..=n64 {
                    co.yield_(work(i)).await;
                }
            });
            let start = Instant::now();
            let sum = g.into_iter().fold(0u64, |a, v| a.wrapping_add(v));
            black_box(sum);
            per(start, n)
        }
        _ => f64::NAN,
    }
}
