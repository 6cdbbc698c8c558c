//! Thread counts, from `/proc/self/task`: its own test binary, with one
//! test, so that no other test's threads come and go meanwhile.

use std::time::{Duration, Instant};

use corio::pool::ThreadPool;

fn threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|dir| dir.count())
        .unwrap_or(0)
}

fn eventually_threads(n: usize, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while threads() != n {
        assert!(
            Instant::now() < deadline,
            "{what}: {} threads, expected {n}",
            threads()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn pools_leave_no_threads_behind() {
    if threads() == 0 {
        eprintln!("no /proc/self/task here: skipped");
        return;
    }
    let baseline = threads();

    // A pool's threads start on demand and are joined when it is dropped.
    let pool = ThreadPool::new(4);
    assert_eq!(threads(), baseline, "no thread before the first job");
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
    let jobs: Vec<_> = (0..4)
        .map(|_| {
            let b = barrier.clone();
            pool.submit(move || {
                b.wait();
            })
            .unwrap()
        })
        .collect();
    for job in jobs {
        job.wait().unwrap();
    }
    assert_eq!(threads(), baseline + 4);
    drop(pool);
    // Joined threads have exited; the kernel may take a moment longer to
    // remove their /proc entries.
    eventually_threads(baseline, "dropping the pool joined its threads");

    // shutdown(true) joins too.
    let pool = ThreadPool::new(2);
    pool.submit(|| ()).unwrap().wait().unwrap();
    pool.shutdown(true);
    eventually_threads(baseline, "shutdown(true) joined its threads");
    drop(pool);

    // Extra threads leave after keep-alive, without a drop.
    let pool = ThreadPool::builder()
        .core_threads(0)
        .max_threads(2)
        .queue_capacity(0)
        .keep_alive(Duration::from_millis(10))
        .build();
    pool.submit(|| ()).unwrap().wait().unwrap();
    eventually_threads(baseline, "keep-alive");
    drop(pool);

    // The loop's default pool: its idle threads exit when the loop closes.
    corio::run(async {
        let tasks: Vec<_> = (0..3).map(|i| corio::spawn_blocking(move || i)).collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    eventually_threads(baseline, "the default pool after its loop closed");
}
