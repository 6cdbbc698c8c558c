//! Criterion micro-benchmarks of the hot paths, every runtime in one
//! process: spawn + join, a wake/poll hand-off, a yield, a timer
//! register + cancel. `cargo bench` here; the README's table comes from the
//! fresh-process runner (`cargo run --release -- table`), which is what
//! `../shared/BENCHMARKS.md` prescribes.

#[path = "../src/runtimes.rs"]
mod runtimes;
#[path = "../src/workloads.rs"]
#[allow(dead_code)]
mod workloads;

use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use runtimes::{Corio, Monoio, Runtime, Smol, TokioLocal};

/// Runs `f(n)` (which returns ns per operation) for criterion's `iters`.
fn per_op(iters: u64, f: impl Fn(usize) -> f64) -> Duration {
    let n = iters.max(1) as usize;
    Duration::from_nanos((f(n) * n as f64) as u64)
}

fn bench<R: Runtime>(c: &mut Criterion, name: &str) {
    c.bench_function(&format!("spawn_join/{name}"), |b| {
        b.iter_custom(|iters| per_op(iters, workloads::w1::<R>))
    });
    c.bench_function(&format!("hand_off/{name}"), |b| {
        b.iter_custom(|iters| per_op(iters.max(2), workloads::w2::<R>))
    });
    c.bench_with_input(BenchmarkId::new("yield", name), &(), |b, _| {
        b.iter_custom(|iters| per_op(iters.max(1000), workloads::w3::<R>))
    });
    c.bench_function(&format!("timer_register_cancel/{name}"), |b| {
        b.iter_custom(|iters| per_op(iters, workloads::w4c::<R>))
    });
}

fn all(c: &mut Criterion) {
    bench::<Corio>(c, "corio");
    bench::<TokioLocal>(c, "tokio");
    bench::<Smol>(c, "smol");
    bench::<Monoio>(c, "monoio");
}

criterion_group!(benches, all);
criterion_main!(benches);
