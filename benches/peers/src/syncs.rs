//! Issue 5's sync workloads: uncontended lock/unlock (S1), 1M messages
//! through a bounded mpsc channel (S2), and the same through corio's
//! `Queue` put/get (S3), beside tokio's sync types and smol's
//! async-lock / async-channel, each on its own runtime.

use std::hint::black_box;
use std::rc::Rc;
use std::time::Instant;

use crate::runtimes::{Corio, Runtime, Smol, TokioLocal};

const CAPACITY: usize = 1024;

fn per(start: Instant, n: usize) -> f64 {
    start.elapsed().as_nanos() as f64 / n as f64
}

pub fn measure(runtime: &str, workload: &str, n: usize) -> f64 {
    match (runtime, workload) {
        ("corio", "S1") => Corio::block_on(async move {
            let lock = corio::sync::Lock::new(0u64);
            let start = Instant::now();
            for _ in 0..n {
                let mut guard = lock.lock().await;
                *guard += 1;
                black_box(&*guard);
            }
            per(start, n)
        }),
        ("tokio", "S1") => TokioLocal::block_on(async move {
            let lock = tokio::sync::Mutex::new(0u64);
            let start = Instant::now();
            for _ in 0..n {
                let mut guard = lock.lock().await;
                *guard += 1;
                black_box(&*guard);
            }
            per(start, n)
        }),
        ("smol", "S1") => Smol::block_on(async move {
            let lock = async_lock::Mutex::new(0u64);
            let start = Instant::now();
            for _ in 0..n {
                let mut guard = lock.lock().await;
                *guard += 1;
                black_box(&*guard);
            }
            per(start, n)
        }),
        ("corio", "S2") => Corio::block_on(async move {
            let (tx, mut rx) = corio::sync::mpsc::channel(CAPACITY);
            let start = Instant::now();
            let producer = Corio::spawn(async move {
                for i in 0..n {
                    tx.send(i).await.unwrap();
                }
            });
            let mut sum = 0usize;
            while let Some(i) = rx.recv().await {
                sum += i;
            }
            Corio::join(producer).await;
            assert_eq!(sum, n * (n - 1) / 2);
            per(start, n)
        }),
        ("tokio", "S2") | ("tokio", "S3") => TokioLocal::block_on(async move {
            let (tx, mut rx) = tokio::sync::mpsc::channel(CAPACITY);
            let start = Instant::now();
            let producer = TokioLocal::spawn(async move {
                for i in 0..n {
                    tx.send(i).await.unwrap();
                }
            });
            let mut sum = 0usize;
            while let Some(i) = rx.recv().await {
                sum += i;
            }
            TokioLocal::join(producer).await;
            assert_eq!(sum, n * (n - 1) / 2);
            per(start, n)
        }),
        ("smol", "S2") | ("smol", "S3") => Smol::block_on(async move {
            let (tx, rx) = async_channel::bounded(CAPACITY);
            let start = Instant::now();
            let producer = Smol::spawn(async move {
                for i in 0..n {
                    tx.send(i).await.unwrap();
                }
            });
            let mut sum = 0usize;
            while let Ok(i) = rx.recv().await {
                sum += i;
            }
            Smol::join(producer).await;
            assert_eq!(sum, n * (n - 1) / 2);
            per(start, n)
        }),
        ("corio", "S3") => Corio::block_on(async move {
            let queue = Rc::new(corio::sync::Queue::new(CAPACITY));
            let q = queue.clone();
            let start = Instant::now();
            let producer = Corio::spawn(async move {
                for i in 0..n {
                    q.put(i).await.unwrap();
                }
            });
            let mut sum = 0usize;
            for _ in 0..n {
                sum += queue.get().await.unwrap();
            }
            Corio::join(producer).await;
            assert_eq!(sum, n * (n - 1) / 2);
            per(start, n)
        }),
        _ => f64::NAN,
    }
}
