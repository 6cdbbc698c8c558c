//! The workloads of `../shared/BENCHMARKS.md`, written once for every runtime.

use std::cell::RefCell;
use std::hint::black_box;
use std::pin::{Pin, pin};
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use crate::runtimes::{Blocking, Runtime};

fn per(elapsed: Duration, n: usize) -> f64 {
    elapsed.as_nanos() as f64 / n as f64
}

/// W1: spawn `n` tasks `async move { i }` (handles in a pre-sized Vec), then
/// await each in order and sum. ns per task.
pub fn w1<R: Runtime>(n: usize) -> f64 {
    R::block_on(async move {
        let mut handles = Vec::with_capacity(n);
        let start = Instant::now();
        for i in 0..n {
            handles.push(R::spawn(async move { i }));
        }
        let mut sum = 0usize;
        for handle in handles {
            sum += R::join(handle).await;
        }
        let elapsed = start.elapsed();
        assert_eq!(sum, n * (n - 1) / 2);
        per(elapsed, n)
    })
}

/// The tiny flag future of W2, the same for every runtime.
#[derive(Default)]
struct FlagState {
    set: bool,
    waker: Option<Waker>,
}

#[derive(Clone, Default)]
struct Flag(Rc<RefCell<FlagState>>);

impl Flag {
    fn signal(&self) {
        let mut state = self.0.borrow_mut();
        state.set = true;
        if let Some(waker) = &state.waker {
            waker.wake_by_ref();
        }
    }

    fn wait(&self) -> FlagWait<'_> {
        FlagWait(self)
    }
}

struct FlagWait<'a>(&'a Flag);

impl Future for FlagWait<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = (self.0).0.borrow_mut();
        if state.set {
            state.set = false;
            return Poll::Ready(());
        }
        match &state.waker {
            Some(waker) if waker.will_wake(cx.waker()) => {}
            _ => state.waker = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

/// W2: two tasks hand a token back and forth `n` times. ns per hand-off
/// (one wake + one poll); a round trip is two hand-offs.
pub fn w2<R: Runtime>(n: usize) -> f64 {
    R::block_on(async move {
        let ping = Flag::default();
        let pong = Flag::default();
        let rounds = n / 2;
        let (p1, q1) = (ping.clone(), pong.clone());
        let start = Instant::now();
        let a = R::spawn(async move {
            for _ in 0..rounds {
                q1.signal();
                p1.wait().await;
            }
        });
        let b = R::spawn(async move {
            for _ in 0..rounds {
                pong.wait().await;
                ping.signal();
            }
        });
        R::join(a).await;
        R::join(b).await;
        per(start.elapsed(), rounds * 2)
    })
}

/// Wakes itself once and returns `Pending`: the same yield for every runtime.
struct Yield(bool);

impl Future for Yield {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            return Poll::Ready(());
        }
        self.0 = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// W3: `tasks` tasks × `yields` yields. ns per poll.
pub fn w3<R: Runtime>(n: usize) -> f64 {
    let tasks = 1000;
    let yields = n / tasks;
    R::block_on(async move {
        let start = Instant::now();
        let handles: Vec<_> = (0..tasks)
            .map(|_| {
                R::spawn(async move {
                    for _ in 0..yields {
                        Yield(false).await;
                    }
                })
            })
            .collect();
        for handle in handles {
            R::join(handle).await;
        }
        per(start.elapsed(), tasks * yields)
    })
}

/// CPU time of this thread so far (user + system), in nanoseconds, from
/// the scheduler's own accounting (`/proc/thread-self/schedstat`): finer
/// than `getrusage`, and no `unsafe` needed.
pub fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let nanos = stat
        .split_whitespace()
        .next()
        .and_then(|f| f.parse().ok())
        .unwrap_or(0);
    Duration::from_nanos(nanos)
}

/// A fixed-seed pseudo-random sequence (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

/// W4: `n` tasks each sleeping a pseudo-random 1–100 ms; await all. CPU ns
/// per timer.
pub fn w4<R: Runtime>(n: usize) -> f64 {
    R::block_on(async move {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let delays: Vec<Duration> = (0..n)
            .map(|_| Duration::from_millis(1 + rng.next() % 100))
            .collect();
        let cpu = cpu_time();
        let handles: Vec<_> = delays.into_iter().map(|d| R::spawn(R::sleep(d))).collect();
        for handle in handles {
            R::join(handle).await;
        }
        per(cpu_time() - cpu, n)
    })
}

/// W4c: create a 10 s sleep, poll it once (so it is really registered),
/// drop it — `n` times. ns per register + cancel.
pub fn w4c<R: Runtime>(n: usize) -> f64 {
    R::block_on(async move {
        let start = Instant::now();
        for _ in 0..n {
            let mut sleep = pin!(R::sleep(Duration::from_secs(10)));
            std::future::poll_fn(|cx| {
                let _ = sleep.as_mut().poll(cx);
                Poll::Ready(())
            })
            .await;
        }
        per(start.elapsed(), n)
    })
}

/// Resident set size of this process, in bytes.
pub fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<usize>()
                .ok()
        })
        .map_or(0, |kb| kb * 1024)
}

/// Never ready; keeps the waker it was polled with, as a task parked on a
/// channel or a lock would (its waker is held by what it waits for).
struct Parked(Option<Waker>);

impl Future for Parked {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.0 = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// W7: `n` detached tasks each awaiting a never-ready future with a 64-byte
/// payload. Bytes per task: the RSS growth of a second batch of `n` tasks,
/// divided by `n` — the first batch warms the allocator and the runtime's
/// queues, so that memory freed during start-up does not hide the cost.
///
/// With `keeps_waker`, the never-ready future holds its waker (a task parked
/// on something); without, it is `std::future::pending()`, whose task no
/// waker can reach — a runtime may then free it (monoio does).
pub fn w7<R: Runtime>(n: usize, keeps_waker: bool) -> f64 {
    fn batch<R: Runtime>(n: usize, keeps_waker: bool) {
        for i in 0..n {
            R::detach(R::spawn(async move {
                let payload = [i as u8; 64];
                black_box(&payload);
                if keeps_waker {
                    Parked(None).await;
                } else {
                    std::future::pending::<()>().await;
                }
                black_box(&payload);
            }));
        }
    }
    R::block_on(async move {
        batch::<R>(n, keeps_waker);
        R::sleep(Duration::from_millis(50)).await; // every task reaches its await
        let before = rss();
        batch::<R>(n, keeps_waker);
        R::sleep(Duration::from_millis(50)).await;
        (rss() - before) as f64 / n as f64
    })
}

/// W8 (task): spawn + await one trivial task, sequentially. ns per creation.
pub fn w8_task<R: Runtime>(n: usize) -> f64 {
    R::block_on(async move {
        let start = Instant::now();
        for i in 0..n {
            black_box(R::join(R::spawn(async move { i })).await);
        }
        per(start.elapsed(), n)
    })
}

/// W8 (thread): `std::thread::spawn(..).join()`. ns per creation.
pub fn w8_thread(n: usize) -> f64 {
    let start = Instant::now();
    for i in 0..n {
        black_box(std::thread::spawn(move || i).join().expect("thread"));
    }
    per(start.elapsed(), n)
}

/// W8 (process): `Command::new("/bin/true").status()`. ns per creation.
pub fn w8_process(n: usize) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        let status = std::process::Command::new("/bin/true")
            .status()
            .expect("/bin/true");
        assert!(status.success());
    }
    per(start.elapsed(), n)
}

/// P1: submit a trivial blocking job from the loop, run it on the pool,
/// complete back on the loop — sequentially. ns per round trip.
pub fn p1<R: Blocking>(n: usize) -> f64 {
    R::block_on(async move {
        let start = Instant::now();
        for i in 0..n {
            black_box(R::spawn_blocking(move || i).await);
        }
        per(start.elapsed(), n)
    })
}

/// P2: `n` tiny blocking jobs submitted at once, then awaited in order.
/// ns per job (throughput).
pub fn p2<R: Blocking>(n: usize) -> f64 {
    R::block_on(async move {
        let start = Instant::now();
        let jobs: Vec<_> = (0..n)
            .map(|i| R::spawn_blocking(move || black_box(i)))
            .collect();
        let mut sum = 0;
        for job in jobs {
            sum += job.await;
        }
        assert_eq!(sum, n * (n - 1) / 2);
        per(start.elapsed(), n)
    })
}
