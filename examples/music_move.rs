//! Seed 000's first threading program: listening to music and watching a
//! movie at the same time, as two tasks.
//!
//! ```python
//! def music(func):
//!     for i in range(2):
//!         print("I was listening to %s. %s" % (func, ctime()))
//!         sleep(1)
//!
//! def move(func):
//!     for i in range(2):
//!         print("I was at the %s! %s" % (func, ctime()))
//!         sleep(5)
//!
//! t1 = threading.Thread(target=music, args=('爱情买卖',))
//! t2 = threading.Thread(target=move, args=('阿凡达',))
//! for t in threads: t.start()
//! for t in threads: t.join()
//! print("all over %s" % ctime())
//! ```
//!
//! The seed's stamps: both start at :02, music again at :03, the movie again
//! at :07, and "all over" at :12 — 10 s, the longer of the two (5 + 5), not
//! the sum (1 + 1 + 5 + 5 = 12). Each thread sleeps on its own, so the
//! waits overlap. Here the threads are two tasks on one loop, started with
//! [`corio::spawn`] and joined by awaiting them, and the sleeps are
//! `sleep(..).await`, which let the other task run.
//!
//! The seconds are scaled down: one seed-second is 0.2 s here, so the run
//! takes about 2 s (the seed's own: 10 s). `ctime()` is shown as the time
//! of day (UTC, to the millisecond — whole seconds would not tell the steps
//! apart), followed by the seed-seconds since the start.
//!
//! Run it: `cargo run --release --example music_move`. An optional argument
//! sets the real seconds per seed-second, e.g. `-- 1` for the seed's own
//! timings.

#[macro_use]
mod common;

use std::time::{Duration, Instant, SystemTime};

use corio::time::sleep;

/// A stand-in for `time.ctime()`: the time of day in UTC, and the
/// seed-seconds since `start`.
fn ctime(start: Instant, unit: Duration) -> String {
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    let (secs, millis) = (now.as_secs() % 86_400, now.subsec_millis());
    format!(
        "{:02}:{:02}:{:02}.{millis:03} UTC (seed-second {:.0})",
        secs / 3600,
        secs / 60 % 60,
        secs % 60,
        start.elapsed().as_secs_f64() / unit.as_secs_f64()
    )
}

/// The seed's `music(func)`: two songs, one seed-second each.
async fn music(func: &str, start: Instant, unit: Duration) {
    for _ in 0..2 {
        say!("  I was listening to {func}. {}", ctime(start, unit));
        sleep(unit).await; // sleep(1)
    }
}

/// The seed's `move(func)` (`move` is a keyword in Rust): two visits,
/// five seed-seconds each.
async fn movie(func: &str, start: Instant, unit: Duration) {
    for _ in 0..2 {
        say!("  I was at the {func}! {}", ctime(start, unit));
        sleep(unit * 5).await; // sleep(5)
    }
}

fn main() {
    let usage = "usage: music_move [real SECONDS per seed-second, 0.01 up to 10; default 0.2]";
    let unit = match common::one_argument(usage) {
        None => Duration::from_millis(200),
        Some(arg) => match arg.parse::<f64>() {
            Ok(s) if (0.01..=10.0).contains(&s) => Duration::from_secs_f64(s),
            _ => common::bad_argument(usage, &arg),
        },
    };
    say!("(1 seed-second = {:.2} s real here)", unit.as_secs_f64());

    let start = Instant::now();
    corio::run(async move {
        // t.start() for both: they begin at the same moment.
        let t1 = corio::spawn(async move { music("爱情买卖", start, unit).await });
        let t2 = corio::spawn(async move { movie("阿凡达", start, unit).await });
        // t.join() for both: main waits until the slower one is done.
        t1.await.expect("music does not panic");
        t2.await.expect("move does not panic");
    });
    say!("  all over {}", ctime(start, unit));
    say!(
        "  -> {:.2} s: the longer task's 10 seed-seconds, not the sum's 12",
        start.elapsed().as_secs_f64()
    );
}
