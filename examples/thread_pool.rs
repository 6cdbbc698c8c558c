//! Seed 000's thread-pool lesson: `threadpool.ThreadPool(8)` greets four
//! names, one of them slow.
//!
//! ```python
//! def sayhello(str):
//!     print("Hello ", str)
//!     if str == 'aa':
//!         time.sleep(8)
//!     time.sleep(2)
//!
//! name_list = ['xiaozi', 'aa', 'bb', 'cc']
//! pool = threadpool.ThreadPool(8)
//! requests = threadpool.makeRequests(sayhello, name_list)
//! print(len(requests))                      # 4
//! [pool.putRequest(req) for req in requests]
//! pool.wait()
//! print('%d second' % (time.time() - start_time))   # 10 second
//! ```
//!
//! One by one, the four greetings take 2 + 10 + 2 + 2 = 16 seed-seconds.
//! On the pool they all run at once, so the whole batch takes as long as
//! the slowest one, 'aa': 10 seed-seconds. The seconds are scaled down: one
//! seed-second is 0.05 s here, so the whole run (0.8 s one by one, 0.5 s on
//! the pool, 0.5 s with `map`, 0.1 s for the fourth part, 0.2 s for the
//! fifth) takes about 2.1 s.
//!
//! The third part does the same with [`ThreadPool::map`], the twin of
//! `concurrent.futures`' `Executor.map`: results come back in name order.
//!
//! The fourth is seed 001's `ProcessPoolExecutor(2)` given three tasks that
//! print `os.getpid()`: two workers serve the three, the third task waiting
//! for a free one — here two threads, named, and `pool.threads()` in place
//! of `threading.enumerate()`.
//!
//! The fifth is seed 004's "下述代码必须会" (must know): five `Thread`s that
//! each "request" for 2 seed-seconds, joined, then the same five on
//! `multiprocessing.dummy.Pool(5).map` — about 2 seed-seconds each way
//! (another 0.2 s here):
//!
//! ```python
//! for url in urls:
//!     t = Thread(target=get_requests, args=(url,)); t.start(); ts.append(t)
//! for t in ts: t.join()
//! print('总耗时:', time.time()-start)
//!
//! pool = Pool(5)
//! pool.map(get_regeust, urls)
//! ```
//!
//! Run it: `cargo run --release --example thread_pool`. An optional argument
//! sets the real seconds per seed-second, e.g. `-- 1` for the seed's own
//! timings.

#[macro_use]
mod common;

use std::time::{Duration, Instant};

use corio::pool::ThreadPool;

const NAMES: [&str; 4] = ["xiaozi", "aa", "bb", "cc"];

/// Seed 000's `sayhello`: 2 seed-seconds of work, plus 8 more for 'aa'.
/// Prints when it starts, and on which thread.
fn sayhello(name: &str, unit: Duration, start: Instant) {
    say!(
        "  [{:4.2} s] Hello  {name:<6} (thread {})",
        start.elapsed().as_secs_f64(),
        std::thread::current().name().unwrap_or("?")
    );
    if name == "aa" {
        std::thread::sleep(unit * 8);
    }
    std::thread::sleep(unit * 2);
}

/// Prints the total like the seed (`10 second`), in seed-seconds and in
/// real seconds.
fn report(total: Duration, unit: Duration, expected: &str) -> Duration {
    let seed_seconds = total.as_secs_f64() / unit.as_secs_f64();
    say!(
        "  {seed_seconds:.0} second  (总耗时 total: {:.2} s real; {expected})\n",
        total.as_secs_f64()
    );
    total
}

/// A plain `for` loop on the main thread: each greeting waits for the one
/// before.
fn one_by_one(unit: Duration) -> Duration {
    let start = Instant::now();
    for name in NAMES {
        sayhello(name, unit, start);
    }
    report(start.elapsed(), unit, "≈ the sum, 2 + 10 + 2 + 2")
}

/// The seed's shape: `ThreadPool(8)`, `makeRequests`, `putRequest`, `wait`.
fn on_a_pool(unit: Duration) -> Duration {
    let start = Instant::now();
    let pool = ThreadPool::new(8); // threadpool.ThreadPool(8)

    // makeRequests(sayhello, name_list): one request (a closure) per name.
    let requests: Vec<_> = NAMES
        .iter()
        .map(|&name| move || sayhello(name, unit, start))
        .collect();
    say!("  {}", requests.len()); // print(len(requests)): 4

    // putRequest: each request starts on a free thread right away.
    let handles: Vec<_> = requests
        .into_iter()
        .map(|request| pool.submit(request).expect("the queue is unbounded"))
        .collect();

    // pool.wait(): wait for every request to finish.
    for handle in handles {
        handle.wait().expect("sayhello does not panic");
    }
    report(start.elapsed(), unit, "≈ the slowest, 'aa': 10")
}

/// The same with `pool.map`: the results come back in the order of the
/// names, however the jobs finish.
fn with_map(unit: Duration) -> Duration {
    let start = Instant::now();
    let pool = ThreadPool::new(8);
    let lengths = pool.map(
        move |name: &str| {
            sayhello(name, unit, start);
            name.len()
        },
        NAMES,
    );
    // Iterating waits for each result in turn (the slow 'aa' holds up the
    // ones after it, which are already done by then).
    for (name, length) in NAMES.iter().zip(lengths) {
        say!("  map result for {name:<6}: {length:?}");
    }
    report(start.elapsed(), unit, "≈ the slowest again")
}

/// Seed 001: a pool of two workers given three tasks, each printing which
/// worker runs it (the seed's `os.getpid()`): the workers are reused.
fn reused_workers(unit: Duration) {
    let start = Instant::now();
    let pool = ThreadPool::new(2);
    let jobs: Vec<_> = (1..=3)
        .map(|task| {
            pool.submit(move || {
                std::thread::sleep(unit); // time.sleep(1)
                say!(
                    "  [{:5.2} s] task {task} ran on {}",
                    start.elapsed().as_secs_f64(),
                    std::thread::current().name().unwrap_or("?")
                );
            })
            .expect("the pool takes the job")
        })
        .collect();
    for job in jobs {
        job.wait().expect("the task does not panic");
    }
    say!(
        "  -> three tasks, {} threads: the third waited for a free one and reused it",
        pool.threads()
    );
}

/// Seed 004's "must know" (必须会): five requests of 2 seed-seconds each,
/// on five `Thread`s joined one by one, then on `Pool(5).map` (its
/// `multiprocessing.dummy.Pool`, a thread pool) — both take about one
/// request's time, 2 seed-seconds.
fn must_know(unit: Duration) {
    const URLS: [&str; 5] = [
        "www.1.com",
        "www.2.com",
        "www.3.com",
        "www.4.com",
        "www.5.com",
    ];
    fn get_request(url: &str, unit: Duration, start: Instant) {
        let at = || start.elapsed().as_secs_f64();
        say!("  [{:4.2} s] 正在请求数据 (requesting): {url}", at());
        std::thread::sleep(unit * 2); // time.sleep(2)
        say!("  [{:4.2} s] 请求结束 (done): {url}", at());
    }

    let start = Instant::now();
    let threads: Vec<_> = URLS
        .iter()
        .map(|&url| std::thread::spawn(move || get_request(url, unit, start)))
        .collect();
    for thread in threads {
        thread.join().expect("get_request does not panic");
    }
    say!("  five Threads, joined:");
    report(start.elapsed(), unit, "≈ one request: 2");

    let start = Instant::now();
    let pool = ThreadPool::new(5); // Pool(5)
    let done: Vec<_> = pool
        .map(move |url: &str| get_request(url, unit, start), URLS)
        .collect();
    assert_eq!(done.len(), URLS.len());
    say!("  pool.map on ThreadPool::new(5):");
    report(start.elapsed(), unit, "≈ one request again");
}

fn main() {
    let usage = "usage: thread_pool [real SECONDS per seed-second, 0.001 up to 10; default 0.05]";
    let unit = match common::one_argument(usage) {
        None => Duration::from_millis(50),
        // (A smaller unit rounds the lesson's sleeps to nothing.)
        Some(arg) => match arg.parse::<f64>() {
            Ok(s) if (0.001..=10.0).contains(&s) => Duration::from_secs_f64(s),
            _ => common::bad_argument(usage, &arg),
        },
    };
    say!("(1 seed-second = {:.2} s real here)\n", unit.as_secs_f64());

    say!("1) one by one, in a for loop (串行):");
    let serial = one_by_one(unit);
    say!("2) on ThreadPool::new(8): makeRequests + putRequest + wait (线程池):");
    let pooled = on_a_pool(unit);
    say!("3) on ThreadPool::new(8) with pool.map (Executor.map):");
    let mapped = with_map(unit);

    say!(
        "one by one: {:.2} s ≈ the sum (16 units); pool: {:.2} s and map: {:.2} s ≈ the \
         slowest (10 units)",
        serial.as_secs_f64(),
        pooled.as_secs_f64(),
        mapped.as_secs_f64()
    );

    say!(
        "\n4) ThreadPool::new(2) given three tasks (seed 001's ProcessPoolExecutor(2), os.getpid()):"
    );
    reused_workers(unit);

    say!("\n5) seed 004's must-know: five Threads, then Pool(5).map (multiprocessing.dummy):");
    must_know(unit);
}
