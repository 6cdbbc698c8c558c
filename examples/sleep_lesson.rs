//! Seed 004's lesson: a blocking sleep inside tasks serializes them; an
//! awaited sleep lets them overlap.
//!
//! Three "requests" of 2 seconds each:
//!
//! * `time.sleep(2)` inside `async def` blocks the whole thread — the loop
//!   cannot switch tasks — so the three take 6 s;
//! * `await asyncio.sleep(2)` parks the task and lets the loop run the
//!   others, so the three take 2 s.
//!
//! Run it: `cargo run --release --example sleep_lesson` (an optional
//! argument sets the seconds per request, e.g. `-- 0.5`).

#[macro_use]
mod common;

use std::time::{Duration, Instant};

const URLS: [&str; 3] = ["www.1.com", "www.2.com", "www.3.com"];

/// Like seed 004's first try: `time.sleep(2)` inside a coroutine.
async fn get_request_blocking(url: &'static str, secs: Duration) {
    say!("  正在请求 (requesting): {url}");
    std::thread::sleep(secs); // blocks the thread: no other task can run
    say!("  请求结束 (done):       {url}");
}

/// Like seed 004's fix: `await asyncio.sleep(2)`.
async fn get_request(url: &'static str, secs: Duration) {
    say!("  正在请求 (requesting): {url}");
    corio::time::sleep(secs).await; // parks the task: the loop runs others
    say!("  请求结束 (done):       {url}");
}

/// Spawns one task per URL on a new loop, waits for all (asyncio's
/// `loop.run_until_complete(asyncio.wait(tasks))`), and returns the time.
fn time_three_requests<F: Future<Output = ()> + 'static>(
    request: impl Fn(&'static str) -> F,
) -> Duration {
    let start = Instant::now();
    corio::run(async {
        let tasks = URLS.map(|url| corio::spawn(request(url)));
        corio::gather(tasks).await;
    });
    let total = start.elapsed();
    say!("   总耗时 (total): {:.2} s\n", total.as_secs_f64());
    total
}

fn main() {
    let usage = "usage: sleep_lesson [SECONDS per request, 0 to 60; default 2]";
    let secs = match common::one_argument(usage) {
        None => Duration::from_secs(2),
        Some(arg) => match arg.parse::<f64>() {
            Ok(s) if s.is_finite() && (0.0..=60.0).contains(&s) => Duration::from_secs_f64(s),
            _ => common::bad_argument(usage, &arg),
        },
    };

    say!("1) time.sleep inside tasks (blocking the loop):");
    let blocking = time_three_requests(|url| get_request_blocking(url, secs));
    say!("2) await sleep inside tasks (the loop switches while they wait):");
    let awaited = time_three_requests(|url| get_request(url, secs));

    say!(
        "blocking: {:.2} s ≈ 3 × {:.2} s; awaited: {:.2} s ≈ 1 × {:.2} s",
        blocking.as_secs_f64(),
        secs.as_secs_f64(),
        awaited.as_secs_f64(),
        secs.as_secs_f64()
    );
}
