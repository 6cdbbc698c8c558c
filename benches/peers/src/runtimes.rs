//! The runtimes under test, behind one small trait, so that every workload
//! is written once.

use std::cell::Cell;
use std::time::Duration;

/// What a workload needs from a single-threaded runtime.
pub trait Runtime {
    type Handle<T: 'static>;

    /// Runs `future` on a fresh runtime.
    fn block_on<F: Future>(future: F) -> F::Output;
    fn spawn<F>(future: F) -> Self::Handle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static;
    fn join<T: 'static>(handle: Self::Handle<T>) -> impl Future<Output = T>;
    /// Lets the task run on without its handle.
    fn detach<T: 'static>(handle: Self::Handle<T>);
    fn sleep(duration: Duration) -> impl Future<Output = ()> + 'static;
}

pub struct Corio;

impl Runtime for Corio {
    type Handle<T: 'static> = corio::Task<T>;

    fn block_on<F: Future>(future: F) -> F::Output {
        corio::run(future)
    }

    fn spawn<F>(future: F) -> corio::Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        corio::spawn(future)
    }

    async fn join<T: 'static>(handle: corio::Task<T>) -> T {
        match handle.await {
            Ok(out) => out,
            Err(e) => panic!("{e}"),
        }
    }

    fn detach<T: 'static>(handle: corio::Task<T>) {
        drop(handle);
    }

    fn sleep(duration: Duration) -> impl Future<Output = ()> + 'static {
        corio::time::sleep(duration)
    }
}

/// tokio's current-thread runtime with a `LocalSet` (`spawn_local`: the
/// futures need not be `Send`, as with corio).
pub struct TokioLocal;

impl Runtime for TokioLocal {
    type Handle<T: 'static> = tokio::task::JoinHandle<T>;

    fn block_on<F: Future>(future: F) -> F::Output {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("tokio runtime");
        let local = tokio::task::LocalSet::new();
        local.block_on(&rt, future)
    }

    fn spawn<F>(future: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        tokio::task::spawn_local(future)
    }

    async fn join<T: 'static>(handle: tokio::task::JoinHandle<T>) -> T {
        handle.await.expect("tokio task")
    }

    fn detach<T: 'static>(handle: tokio::task::JoinHandle<T>) {
        drop(handle);
    }

    fn sleep(duration: Duration) -> impl Future<Output = ()> + 'static {
        tokio::time::sleep(duration)
    }
}

thread_local! {
    static SMOL: Cell<Option<&'static async_executor::LocalExecutor<'static>>> = const { Cell::new(None) };
}

/// smol: `async-executor`'s `LocalExecutor` driven by `async-io`.
pub struct Smol;

impl Smol {
    fn executor() -> &'static async_executor::LocalExecutor<'static> {
        SMOL.with(|cell| match cell.get() {
            Some(ex) => ex,
            None => {
                // One executor per process (each measurement is a process).
                let ex: &'static async_executor::LocalExecutor<'static> =
                    Box::leak(Box::new(async_executor::LocalExecutor::new()));
                cell.set(Some(ex));
                ex
            }
        })
    }
}

impl Runtime for Smol {
    type Handle<T: 'static> = async_executor::Task<T>;

    fn block_on<F: Future>(future: F) -> F::Output {
        let ex = Smol::executor();
        async_io::block_on(ex.run(future))
    }

    fn spawn<F>(future: F) -> async_executor::Task<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        Smol::executor().spawn(future)
    }

    async fn join<T: 'static>(handle: async_executor::Task<T>) -> T {
        handle.await
    }

    fn detach<T: 'static>(handle: async_executor::Task<T>) {
        handle.detach();
    }

    async fn sleep(duration: Duration) {
        async_io::Timer::after(duration).await;
    }
}

/// monoio with its legacy (epoll) driver.
pub struct Monoio;

impl Runtime for Monoio {
    type Handle<T: 'static> = monoio::task::JoinHandle<T>;

    fn block_on<F: Future>(future: F) -> F::Output {
        monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .expect("monoio runtime")
            .block_on(future)
    }

    fn spawn<F>(future: F) -> monoio::task::JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: 'static,
    {
        monoio::spawn(future)
    }

    async fn join<T: 'static>(handle: monoio::task::JoinHandle<T>) -> T {
        handle.await
    }

    fn detach<T: 'static>(handle: monoio::task::JoinHandle<T>) {
        drop(handle);
    }

    fn sleep(duration: Duration) -> impl Future<Output = ()> + 'static {
        monoio::time::sleep(duration)
    }
}

/// Runtimes with a pool for blocking work (issue 3's P workloads).
pub trait Blocking: Runtime {
    fn spawn_blocking<T, F>(f: F) -> impl Future<Output = T> + 'static
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static;
}

impl Blocking for Corio {
    fn spawn_blocking<T, F>(f: F) -> impl Future<Output = T> + 'static
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let task = corio::spawn_blocking(f);
        async move { task.await.expect("corio blocking job") }
    }
}

impl Blocking for TokioLocal {
    fn spawn_blocking<T, F>(f: F) -> impl Future<Output = T> + 'static
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let handle = tokio::task::spawn_blocking(f);
        async move { handle.await.expect("tokio blocking job") }
    }
}

impl Blocking for Smol {
    fn spawn_blocking<T, F>(f: F) -> impl Future<Output = T> + 'static
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        blocking::unblock(f)
    }
}
