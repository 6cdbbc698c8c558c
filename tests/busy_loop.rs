//! A loop kept busy by a task that computes in chunks between
//! `yield_now()`s (asyncio's `sleep(0)` idiom): timers and sockets must get
//! in about once per chunk, not once per 61 chunks. It times things, so it
//! has a binary of its own (nothing else runs beside it).

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Spins for `d` (wall time: a chunk of CPU work).
fn compute(d: Duration) {
    let start = Instant::now();
    while start.elapsed() < d {
        std::hint::spin_loop();
    }
}

#[test]
fn a_timer_beside_a_task_computing_in_slow_chunks_is_late_by_about_one_chunk() {
    const CHUNK: Duration = Duration::from_millis(5);
    let late = corio::run(async {
        let stop = Rc::new(Cell::new(false));
        let s = stop.clone();
        let worker = corio::spawn(async move {
            let start = Instant::now();
            // Bounded: 3 s at most, whatever happens.
            while !s.get() && start.elapsed() < Duration::from_secs(3) {
                compute(CHUNK);
                corio::yield_now().await;
            }
        });
        // The first sleep: the loop finds the polls slow after a few of
        // them (one clock read per stretch) and looks; the next ones: it
        // knows, and looks after every chunk.
        let mut worst = Duration::ZERO;
        for _ in 0..6 {
            let asked = Instant::now();
            corio::time::sleep(Duration::from_millis(20)).await;
            worst = worst.max(asked.elapsed().saturating_sub(Duration::from_millis(20)));
        }
        stop.set(true);
        worker.await.unwrap();
        worst
    });
    // About one chunk (5 ms) with the adaptive look — the first sleep up to
    // 8 (40 ms); 61 chunks (305 ms) with a look every 61 polls. The bound
    // is generous for a loaded machine.
    assert!(
        late < Duration::from_millis(150),
        "a 20 ms sleep was {late:?} late beside 5 ms chunks"
    );
}
