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

use std::time::{Duration, Instant};

const URLS: [&str; 3] = ["www.1.com", "www.2.com", "www.3.com"];

/// Like seed 004's first try: `time.sleep(2)` inside a coroutine.
async fn get_request_blocking(url: &str, secs: Duration) {
    println!("  正在请求 (requesting): {url}");
    std::thread::sleep(secs); // blocks the thread: no other task can run
    println!("  请求结束 (done):       {url}");
}

/// Like seed 004's fix: `await asyncio.sleep(2)`.
async fn get_request(url: &str, secs: Duration) {
    println!("  正在请求 (requesting): {url}");
    corio::time::sleep(secs).await; // parks the task: the loop runs others
    println!("  请求结束 (done):       {url}");
}

fn main() {
    let secs = std::env::args()
        .nth(1)
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .unwrap_or(Duration::from_secs(2));

    println!("1) time.sleep inside tasks (blocking the loop):");
    let start = Instant::now();
    corio::run(async {
        let tasks = URLS.map(|url| corio::spawn(get_request_blocking(url, secs)));
        corio::gather(tasks).await;
    });
    let blocking = start.elapsed();
    println!("   总耗时 (total): {:.2} s\n", blocking.as_secs_f64());

    println!("2) await sleep inside tasks (the loop switches while they wait):");
    let start = Instant::now();
    corio::run(async {
        let tasks = URLS.map(|url| corio::spawn(get_request(url, secs)));
        corio::gather(tasks).await;
    });
    let awaited = start.elapsed();
    println!("   总耗时 (total): {:.2} s\n", awaited.as_secs_f64());

    println!(
        "blocking: {:.2} s ≈ 3 × {:.2} s; awaited: {:.2} s ≈ 1 × {:.2} s",
        blocking.as_secs_f64(),
        secs.as_secs_f64(),
        awaited.as_secs_f64(),
        secs.as_secs_f64()
    );
}
