//! Test helpers: futures that count what happens to them.
#![allow(dead_code)]

pub mod json;

use std::cell::{Cell, RefCell};
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// Watches one future: how often it was polled, whether it was dropped, and
/// the waker it was last polled with. The future completes (with its poll
/// count) once `release` was called.
#[derive(Clone, Default)]
pub struct Probe(Rc<Inner>);

#[derive(Default)]
struct Inner {
    polls: Cell<usize>,
    drops: Cell<usize>,
    released: Cell<bool>,
    waker: RefCell<Option<Waker>>,
}

impl Probe {
    pub fn new() -> Probe {
        Probe::default()
    }

    pub fn future(&self) -> ProbeFuture {
        ProbeFuture(self.clone())
    }

    pub fn polls(&self) -> usize {
        self.0.polls.get()
    }

    pub fn drops(&self) -> usize {
        self.0.drops.get()
    }

    /// The waker from the last poll.
    pub fn waker(&self) -> Waker {
        self.0.waker.borrow().clone().expect("polled at least once")
    }

    /// Lets the future complete at its next poll (does not wake it).
    pub fn release(&self) {
        self.0.released.set(true);
    }
}

pub struct ProbeFuture(Probe);

/// Spawns a probe's future on `lp` and runs one turn, so that the task is
/// parked, its waker in the probe.
pub fn spawn_parked(lp: &mut corio::EventLoop) -> (Probe, corio::Task<usize>) {
    let probe = Probe::new();
    let task = lp.spawn(probe.future());
    lp.run_once();
    assert_eq!(probe.polls(), 1);
    (probe, task)
}

impl Future for ProbeFuture {
    type Output = usize;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<usize> {
        let inner = &(self.0).0;
        inner.polls.set(inner.polls.get() + 1);
        *inner.waker.borrow_mut() = Some(cx.waker().clone());
        if inner.released.get() {
            Poll::Ready(inner.polls.get())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for ProbeFuture {
    fn drop(&mut self) {
        let inner = &(self.0).0;
        inner.drops.set(inner.drops.get() + 1);
    }
}

/// Sets a flag when dropped.
pub struct DropFlag(pub Rc<Cell<bool>>);

impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.set(true);
    }
}

/// An append-only log shared between tasks and callbacks.
#[derive(Clone, Default)]
pub struct Log(Rc<RefCell<Vec<String>>>);

impl Log {
    pub fn push(&self, entry: impl Into<String>) {
        self.0.borrow_mut().push(entry.into());
    }

    pub fn take(&self) -> Vec<String> {
        std::mem::take(&mut self.0.borrow_mut())
    }
}

/// Collects the loop's reports.
pub fn capture_reports(lp: &corio::EventLoop) -> Rc<RefCell<Vec<corio::Report>>> {
    let reports = Rc::new(RefCell::new(Vec::new()));
    let sink = reports.clone();
    lp.set_exception_handler(move |report| sink.borrow_mut().push(report.clone()));
    reports
}

/// The messages of the unretrieved-panic reports among `reports`.
pub fn unretrieved_messages(reports: &RefCell<Vec<corio::Report>>) -> Vec<String> {
    reports
        .borrow()
        .iter()
        .filter(|r| r.kind() == corio::ReportKind::UnretrievedPanic)
        .map(|r| r.message().to_owned())
        .collect()
}

/// Silences the default panic hook's message for panics the test expects
/// (they would otherwise clutter the test output). Returns a guard that
/// restores nothing: tests in a binary share the hook, so install it once.
pub fn quiet_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !panic_text(info.payload()).starts_with("expected:") {
                default(info);
            }
        }));
    });
}

/// A waker that counts its wakes (from any thread), as another executor's
/// would: for polling corio's futures by hand.
pub fn counting_waker() -> (Waker, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    struct Count(Arc<AtomicUsize>);
    impl std::task::Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let count = Arc::new(AtomicUsize::new(0));
    (Waker::from(Arc::new(Count(count.clone()))), count)
}

/// Runs `f` on a fresh loop, failing (not hanging) after 20 s: for tests
/// that talk to sockets.
pub fn run_bounded<F: std::future::Future>(f: F) -> F::Output {
    corio::run(async move {
        corio::time::timeout(std::time::Duration::from_secs(20), f)
            .await
            .expect("the test timed out")
    })
}

/// A small deterministic PRNG (xorshift64*): the same seed, the same run.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n` (`0` when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// The message of a panic payload (`panic!` with a literal or a format).
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// Runs a seeded model test: `run_one(seed, verbose)` for each of
/// [`seeds`]`(default)` — verbose when one seed is asked for — under a
/// [`Watchdog`]. A seed that returns an error or panics is collected; at
/// the end a line gives `test`, the seeds, the time and `counts()` (what
/// the seeds ran into), then the first failures, and the test fails if
/// there were any.
pub fn run_seeds(
    test: &'static str,
    default: u64,
    run_one: impl Fn(u64, bool) -> Result<(), String>,
    counts: impl FnOnce() -> String,
) {
    let seeds = seeds(default);
    let verbose = seeds.len() == 1;
    let watchdog = Watchdog::start(test);
    let began = std::time::Instant::now();
    let mut fails = Vec::new();
    for &seed in &seeds {
        watchdog.seed(seed);
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_one(seed, verbose))) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => fails.push(e),
            Err(p) => fails.push(format!("seed {seed}: panic {}", panic_text(&*p))),
        }
    }
    eprintln!(
        "{test}: {} seeds in {:?}, {}, {} failing",
        seeds.len(),
        began.elapsed(),
        counts(),
        fails.len()
    );
    for f in fails.iter().take(8) {
        eprintln!("{f}");
    }
    if !fails.is_empty() {
        // A test that silenced the seeds' panics (combinator_fuzz,
        // sync_fuzz) would silence this one too: the default hook says it.
        drop(std::panic::take_hook());
    }
    assert!(fails.is_empty(), "{test}: {} seeds failed", fails.len());
}

/// The seeds a model test runs: `SEED=n` runs that one, `SEEDS=n` the
/// first `n`, else the first `default`.
pub fn seeds(default: u64) -> Vec<u64> {
    let var = |name| std::env::var(name).ok().and_then(|s| s.parse::<u64>().ok());
    match var("SEED") {
        Some(seed) => vec![seed],
        None => (0..var("SEEDS").unwrap_or(default)).collect(),
    }
}

/// A thread that ends the test process, naming the seed, when no seed
/// starts for 10 s: a seeded model test fails instead of hanging. Call
/// [`Watchdog::seed`] as each seed starts.
pub struct Watchdog {
    current: std::sync::Arc<std::sync::atomic::AtomicU64>,
    started: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl Watchdog {
    pub fn start(test: &'static str) -> Watchdog {
        use std::sync::atomic::{AtomicU64, Ordering};
        let current = std::sync::Arc::new(AtomicU64::new(u64::MAX));
        let started = std::sync::Arc::new(AtomicU64::new(0));
        let (c, s) = (current.clone(), started.clone());
        std::thread::spawn(move || {
            let mut last = u64::MAX;
            loop {
                std::thread::sleep(std::time::Duration::from_secs(10));
                let now = s.load(Ordering::SeqCst);
                if now == last {
                    eprintln!(
                        "{test}: seed {} hangs (10 s without progress)",
                        c.load(Ordering::SeqCst)
                    );
                    std::process::exit(101);
                }
                last = now;
            }
        });
        Watchdog { current, started }
    }

    /// Seed `seed` starts now.
    pub fn seed(&self, seed: u64) {
        use std::sync::atomic::Ordering;
        self.current.store(seed, Ordering::SeqCst);
        self.started.fetch_add(1, Ordering::SeqCst);
    }
}

/// The xorshift (13, 7, 17) generator of the seeded model tests
/// (`generator_fuzz`, `sync_fuzz`, `sync`): the same seed, the same run.
pub struct XorShift(pub u64);

impl XorShift {
    /// The generator for seed `seed` of a model test, mixed so that
    /// neighbouring seeds diverge at once.
    pub fn seeded(seed: u64) -> XorShift {
        let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
        for _ in 0..4 {
            rng.next();
        }
        rng
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// A listener that never accepts, with the smallest backlog, and the
/// connections that filled its queue: a further connect to it cannot
/// complete (the kernel drops its SYNs) and can only time out.
pub async fn full_listener() -> (
    corio::net::TcpListener,
    std::net::SocketAddr,
    Vec<corio::net::TcpStream>,
) {
    let listener = corio::net::ListenOptions::new()
        .backlog(0)
        .bind("127.0.0.1:0")
        .await
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let mut queued = Vec::new();
    for _ in 0..64 {
        let attempt =
            corio::net::TcpStream::connect_timeout(addr, std::time::Duration::from_millis(100));
        match attempt.await {
            Ok(stream) => queued.push(stream),
            Err(_) => return (listener, addr, queued),
        }
    }
    panic!("64 connects completed: the backlog never filled");
}

/// A GET with `connect_timeout` to `addr` (a listener from
/// [`full_listener`], so the connect never completes): the error it ends
/// with, and how long that took.
pub async fn get_with_connect_timeout(
    addr: std::net::SocketAddr,
    connect_timeout: std::time::Duration,
) -> (corio::http::Error, std::time::Duration) {
    let client = corio::http::Client::builder()
        .connect_timeout(connect_timeout)
        .build()
        .unwrap();
    let start = std::time::Instant::now();
    let err = client
        .get(format!("http://{addr}/"))
        .send()
        .await
        .unwrap_err();
    (err, start.elapsed())
}

/// Both ends of a loopback TCP connection: (the connecting side, the
/// accepted side).
pub async fn connected_pair() -> (corio::net::TcpStream, corio::net::TcpStream) {
    let listener = corio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = corio::net::TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    (client, server)
}

/// Resident memory of this process, in bytes (for the memory tests, each
/// in a test binary of its own).
pub fn rss() -> usize {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: usize = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap();
    kb * 1024
}
