//! The thread pool: where jobs go, rejection policies, shutdown, handles
//! on loops and on plain threads, spawn_blocking, and thread → task channels.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};
use std::time::{Duration, Instant};

use corio::pool::channel;
use corio::pool::{JobError, JobHandle, Policy, Rejected, ThreadPool};
use corio::{EventLoop, TaskError};

/// A gate jobs wait at until the test opens it: makes "busy" deterministic.
#[derive(Clone, Default)]
struct Gate(Arc<(Mutex<bool>, Condvar)>);

impl Gate {
    fn open(&self) {
        *self.0.0.lock().unwrap() = true;
        self.0.1.notify_all();
    }

    fn wait(&self) {
        let mut open = self.0.0.lock().unwrap();
        while !*open {
            open = self.0.1.wait(open).unwrap();
        }
    }
}

/// Runs `f` on a thread of its own; `None` if it takes longer than `secs`
/// (a hang).
fn within<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(secs)).ok()
}

/// Waits (bounded) until `cond` holds.
fn eventually(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// A job that waits at the gate, then returns its number and thread name.
fn gated(pool: &ThreadPool, gate: &Gate, n: usize) -> Result<JobHandle<(usize, String)>, Rejected> {
    let gate = gate.clone();
    pool.submit(move || {
        gate.wait();
        (n, std::thread::current().name().unwrap_or("?").to_string())
    })
}

fn tiny_pool(policy: Policy) -> ThreadPool {
    ThreadPool::builder()
        .core_threads(1)
        .max_threads(2)
        .queue_capacity(1)
        .policy(policy)
        .thread_name("tiny")
        .build()
}

// ----- where jobs go -----------------------------------------------------------

#[test]
fn jobs_go_to_core_threads_then_the_queue_then_extra_threads_then_the_policy() {
    let pool = tiny_pool(Policy::Abort);
    let gate = Gate::default();
    let first = gated(&pool, &gate, 1).unwrap(); // starts core thread 1
    assert_eq!((pool.threads(), pool.queued()), (1, 0));
    let second = gated(&pool, &gate, 2).unwrap(); // core busy: queued
    assert_eq!((pool.threads(), pool.queued()), (1, 1));
    let third = gated(&pool, &gate, 3).unwrap(); // queue full: extra thread
    assert_eq!((pool.threads(), pool.queued()), (2, 1));
    assert_eq!(gated(&pool, &gate, 4).unwrap_err(), Rejected::Full); // policy
    gate.open();
    assert_eq!(first.wait().unwrap(), (1, "tiny-1".to_string()));
    assert_eq!(third.wait().unwrap(), (3, "tiny-2".to_string()));
    assert_eq!(second.wait().unwrap().0, 2);
}

#[test]
fn an_idle_core_thread_takes_the_next_job_instead_of_a_new_thread() {
    let pool = ThreadPool::new(4);
    for i in 0..20 {
        assert_eq!(pool.submit(move || i).unwrap().wait(), Ok(i));
        eventually("the thread is idle again", || pool.idle_threads() == 1);
    }
    assert_eq!(pool.threads(), 1, "one thread, reused for every job");
}

#[test]
fn a_pool_with_no_core_threads_still_runs_its_queue() {
    let pool = ThreadPool::builder()
        .core_threads(0)
        .max_threads(1)
        .keep_alive(Duration::from_millis(5))
        .build();
    let jobs: Vec<_> = (0..5).map(|i| pool.submit(move || i).unwrap()).collect();
    let got: Vec<_> = jobs.into_iter().map(|j| j.wait().unwrap()).collect();
    assert_eq!(got, [0, 1, 2, 3, 4]);
    eventually("the extra thread leaves", || pool.threads() == 0);
    assert_eq!(pool.submit(|| 9).unwrap().wait(), Ok(9), "and comes back");
}

#[test]
fn the_queue_holds_at_most_its_capacity() {
    let pool = ThreadPool::builder()
        .core_threads(1)
        .max_threads(1)
        .queue_capacity(3)
        .build();
    let gate = Gate::default();
    let jobs: Vec<_> = (0..4).map(|i| gated(&pool, &gate, i).unwrap()).collect();
    assert_eq!(pool.queued(), 3);
    assert_eq!(gated(&pool, &gate, 4).unwrap_err(), Rejected::Full);
    gate.open();
    for (i, job) in jobs.into_iter().enumerate() {
        assert_eq!(job.wait().unwrap().0, i);
    }
}

#[test]
fn threads_beyond_the_core_exit_after_keep_alive() {
    let pool = ThreadPool::builder()
        .core_threads(1)
        .max_threads(3)
        .queue_capacity(0)
        .keep_alive(Duration::from_millis(20))
        .build();
    let gate = Gate::default();
    let jobs: Vec<_> = (0..3).map(|i| gated(&pool, &gate, i).unwrap()).collect();
    assert_eq!(pool.threads(), 3);
    gate.open();
    for job in jobs {
        job.wait().unwrap();
    }
    eventually("the pool shrinks back to its core", || pool.threads() == 1);
    // The core thread stays, and still works.
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(pool.threads(), 1);
    assert_eq!(pool.submit(|| 5).unwrap().wait(), Ok(5));
}

// ----- rejection policies ------------------------------------------------------

/// Fills the tiny pool (2 running, 1 queued); returns the three handles.
fn fill(pool: &ThreadPool, gate: &Gate) -> Vec<JobHandle<(usize, String)>> {
    (1..=3).map(|i| gated(pool, gate, i).unwrap()).collect()
}

#[test]
fn abort_refuses_the_job_with_an_error() {
    let pool = tiny_pool(Policy::Abort);
    let gate = Gate::default();
    let jobs = fill(&pool, &gate);
    let err = pool.submit(|| ()).unwrap_err();
    assert_eq!(err, Rejected::Full);
    assert!(err.to_string().contains("queue is full"));
    gate.open();
    assert_eq!(
        jobs.into_iter().map(|j| j.wait().unwrap().0).sum::<usize>(),
        6
    );
}

#[test]
fn discard_completes_the_new_job_with_rejected() {
    let pool = tiny_pool(Policy::Discard);
    let gate = Gate::default();
    let jobs = fill(&pool, &gate);
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let dropped = pool
        .submit(move || r.fetch_add(1, Ordering::SeqCst))
        .unwrap();
    assert!(dropped.is_done());
    assert_eq!(dropped.wait(), Err(JobError::Rejected));
    gate.open();
    for job in jobs {
        job.wait().unwrap();
    }
    assert_eq!(ran.load(Ordering::SeqCst), 0, "a discarded job never runs");
}

#[test]
fn discard_oldest_completes_the_oldest_queued_job_with_rejected_and_queues_the_new_one() {
    let pool = tiny_pool(Policy::DiscardOldest);
    let gate = Gate::default();
    let mut jobs = fill(&pool, &gate); // job 2 is the queued one
    let newest = gated(&pool, &gate, 4).unwrap();
    let queued = jobs.remove(1);
    assert_eq!(queued.wait(), Err(JobError::Rejected));
    gate.open();
    assert_eq!(newest.wait().unwrap().0, 4);
    for job in jobs {
        job.wait().unwrap();
    }
}

#[test]
fn discard_oldest_keeps_the_job_handed_to_an_idle_thread_and_discards_the_oldest_waiting_one() {
    // One thread, idle; x goes to it, y waits, z finds the queue full. If
    // the thread has not taken x yet, x still sits at the queue's front —
    // but it is not waiting, and must not be the one discarded.
    for _ in 0..100 {
        let pool = ThreadPool::builder()
            .core_threads(1)
            .max_threads(1)
            .queue_capacity(2)
            .policy(Policy::DiscardOldest)
            .build();
        pool.submit(|| ()).unwrap().wait().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while pool.idle_threads() == 0 {
            assert!(Instant::now() < deadline, "the thread never went idle");
            std::thread::sleep(Duration::from_micros(100));
        }
        let x = pool.submit(|| "x").unwrap();
        let y = pool.submit(|| "y").unwrap();
        let z = pool.submit(|| "z").unwrap();
        assert_eq!(x.wait(), Ok("x"), "the job handed to the idle thread runs");
        assert_eq!(z.wait(), Ok("z"), "the new job is queued");
        assert!(matches!(y.wait(), Ok("y") | Err(JobError::Rejected)));
    }
}

#[test]
fn discard_oldest_without_a_queue_discards_the_new_job() {
    let pool = ThreadPool::builder()
        .core_threads(1)
        .queue_capacity(0)
        .policy(Policy::DiscardOldest)
        .build();
    let gate = Gate::default();
    let running = gated(&pool, &gate, 1).unwrap();
    let dropped = gated(&pool, &gate, 2).unwrap();
    assert_eq!(dropped.wait(), Err(JobError::Rejected));
    gate.open();
    assert_eq!(running.wait().unwrap().0, 1);
}

#[test]
fn caller_runs_runs_the_job_on_the_submitting_thread() {
    let pool = tiny_pool(Policy::CallerRuns);
    let gate = Gate::default();
    let jobs = fill(&pool, &gate);
    let here = std::thread::current().id();
    let job = pool
        .submit(move || std::thread::current().id() == here)
        .unwrap();
    assert!(job.is_done(), "it ran inside submit");
    assert_eq!(job.wait(), Ok(true));
    gate.open();
    for job in jobs {
        job.wait().unwrap();
    }
}

// ----- handles -----------------------------------------------------------------

#[test]
fn a_panicking_job_gives_panicked_and_its_thread_goes_on() {
    let pool = ThreadPool::new(1);
    let job = pool.submit(|| -> u8 { panic!("job failed") }).unwrap();
    assert_eq!(job.wait(), Err(JobError::Panicked("job failed".into())));
    let name = pool.submit(|| std::thread::current().name().map(String::from));
    assert_eq!(name.unwrap().wait(), Ok(Some("corio-pool-1".into())));
    assert_eq!(pool.threads(), 1, "the same thread survived");
}

#[test]
fn a_cancelled_queued_job_never_starts() {
    let pool = ThreadPool::new(1);
    let gate = Gate::default();
    let busy = gated(&pool, &gate, 1).unwrap();
    let ran = Arc::new(AtomicUsize::new(0));
    let r = ran.clone();
    let queued = pool
        .submit(move || r.fetch_add(1, Ordering::SeqCst))
        .unwrap();
    assert!(queued.cancel());
    assert!(!queued.cancel(), "a second cancel does nothing");
    assert!(queued.is_done());
    gate.open();
    busy.wait().unwrap();
    assert_eq!(queued.wait(), Err(JobError::Cancelled));
    pool.shutdown(true);
    assert_eq!(ran.load(Ordering::SeqCst), 0);
}

#[test]
fn a_running_job_cannot_be_cancelled() {
    let pool = ThreadPool::new(1);
    let gate = Gate::default();
    let (started_tx, started) = mpsc::channel();
    let g = gate.clone();
    let job = pool
        .submit(move || {
            started_tx.send(()).unwrap();
            g.wait();
            "finished"
        })
        .unwrap();
    started.recv().unwrap();
    assert!(!job.cancel());
    gate.open();
    assert_eq!(job.wait(), Ok("finished"));
}

#[test]
fn wait_timeout_gives_up_and_can_wait_again() {
    let pool = ThreadPool::new(1);
    let gate = Gate::default();
    let mut job = gated(&pool, &gate, 7).unwrap();
    assert_eq!(job.wait_timeout(Duration::from_millis(10)), None);
    gate.open();
    let got = job.wait_timeout(Duration::from_secs(10));
    assert_eq!(got.map(|r| r.map(|(n, _)| n)), Some(Ok(7)));
}

#[test]
fn handles_can_be_waited_on_from_other_threads() {
    fn assert_send<T: Send>(_: &T) {}
    let pool = ThreadPool::new(2);
    let job = pool.submit(|| 1 + 1).unwrap();
    assert_send(&job);
    let got = std::thread::spawn(move || job.wait()).join().unwrap();
    assert_eq!(got, Ok(2));
}

#[test]
#[should_panic(expected = "would block the event loop")]
fn waiting_on_a_loop_thread_is_a_clear_error() {
    let pool = ThreadPool::new(1);
    corio::run(async move {
        let job = pool.submit(|| ()).unwrap();
        let _ = job.wait();
    });
}

#[test]
fn iterating_a_map_on_a_loop_thread_is_a_clear_error_that_loses_no_item() {
    let pool = ThreadPool::new(2);
    let mut results = pool.map(|x: u32| x + 1, [1, 2]);
    let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        corio::run(async { results.next() })
    }));
    let err = refused.expect_err("blocking the loop is refused");
    let message = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        message.contains("(Map::next) would block the event loop") && message.contains("the Map"),
        "{message}"
    );
    // Before: the first item's job left the Map before the check, its
    // result lost: [Ok(3)].
    assert_eq!(results.collect::<Vec<_>>(), [Ok(2), Ok(3)]);
}

#[test]
fn done_callbacks_of_jobs_submitted_from_a_plain_thread_run_on_the_worker() {
    let pool = ThreadPool::builder().thread_name("w").build();
    let (tx, rx) = mpsc::channel();
    let job = pool.submit(|| 3).unwrap();
    let tx2 = tx.clone();
    job.add_done_callback(move |r| {
        let thread = std::thread::current().name().map(String::from);
        tx2.send((r.clone(), thread)).unwrap();
    });
    assert_eq!(job.wait(), Ok(3));
    let (result, thread) = rx.recv().unwrap();
    assert_eq!(result, Ok(3));
    // Usually the worker; the caller if the job had ended before the add.
    assert!(
        thread.as_deref() == Some("w-1")
            || thread == std::thread::current().name().map(String::from)
    );
}

#[test]
fn done_callbacks_of_jobs_submitted_from_a_task_run_on_the_loop_before_the_handle_is_ready() {
    let pool = ThreadPool::new(1);
    let order = Arc::new(Mutex::new(Vec::new()));
    let o = order.clone();
    let loop_thread = std::thread::current().id();
    corio::run(async move {
        let job = pool.submit(|| 10).unwrap();
        let o2 = o.clone();
        assert!(job.add_done_callback(move |r| {
            assert_eq!(std::thread::current().id(), loop_thread, "runs on the loop");
            o2.lock().unwrap().push(format!("callback {r:?}"));
        }));
        let result = job.await;
        o.lock().unwrap().push(format!("handle {result:?}"));
    });
    assert_eq!(*order.lock().unwrap(), ["callback Ok(10)", "handle Ok(10)"]);
}

#[test]
fn a_callback_added_after_the_job_ended_still_runs_and_one_after_the_result_was_taken_does_not() {
    let pool = ThreadPool::new(1);
    let job = pool.submit(|| 1).unwrap();
    while !job.is_done() {
        std::thread::yield_now();
    }
    let (tx, rx) = mpsc::channel();
    assert!(job.add_done_callback(move |r| tx.send(r.clone()).unwrap()));
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), Ok(1));
    let got = corio::run(async {
        let mut job = job;
        let got = (&mut job).await;
        (got, job.add_done_callback(|_| panic!("never runs")))
    });
    assert_eq!(got, (Ok(1), false));
}

#[test]
fn a_panicking_done_callback_is_contained_and_the_result_still_arrives() {
    let pool = ThreadPool::new(1);
    let gate = Gate::default();
    let job = gated(&pool, &gate, 1).unwrap();
    job.add_done_callback(|_| panic!("callback bug"));
    gate.open();
    assert_eq!(job.wait().unwrap().0, 1);
}

#[test]
fn a_panicking_done_callback_on_the_loop_goes_to_the_loops_exception_handler() {
    use std::cell::RefCell;
    use std::rc::Rc;
    let mut lp = EventLoop::new().unwrap();
    let reports = Rc::new(RefCell::new(Vec::new()));
    let log = Rc::clone(&reports);
    lp.set_exception_handler(move |report| {
        log.borrow_mut()
            .push((report.kind(), report.message().to_owned()))
    });
    let got = lp.run_until_complete(async {
        let pool = ThreadPool::new(1);
        let job = pool.submit(|| 5).unwrap();
        job.add_done_callback(|_| panic!("callback bug"));
        job.await
    });
    assert_eq!(got, Ok(5));
    let reports = reports.borrow();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].0, corio::ReportKind::CallbackPanic);
    assert!(reports[0].1.contains("callback bug"), "{reports:?}");
}

#[test]
fn a_pool_shut_down_without_waiting_is_dropped_on_its_loop_without_waiting() {
    // The job waits for a task of the loop: a drop that joined it would
    // hold the loop, and the task would never run.
    let got = within(10, || {
        corio::run(async {
            let pool = ThreadPool::new(1);
            let (tx, rx) = mpsc::channel::<u32>();
            let job = pool.submit(move || rx.recv().unwrap()).unwrap();
            let feeder = corio::spawn(async move {
                corio::time::sleep(Duration::from_millis(20)).await;
                tx.send(7).unwrap();
            });
            pool.shutdown(false);
            drop(pool);
            feeder.await.unwrap();
            job.await
        })
    });
    assert_eq!(got, Some(Ok(7)));
}

#[test]
fn a_map_dropped_before_its_end_cancels_the_jobs_still_queued() {
    let pool = ThreadPool::new(1);
    let ran = Arc::new(AtomicUsize::new(0));
    let r = Arc::clone(&ran);
    // The first job runs at once; the others wait at the gate, so that
    // the second is running and the rest are queued when the map goes.
    let gate = Gate::default();
    let g = gate.clone();
    let mut results = pool.map(
        move |i: u32| {
            if i > 0 {
                g.wait();
            }
            r.fetch_add(1, Ordering::SeqCst);
            i
        },
        0..10,
    );
    assert_eq!(results.next(), Some(Ok(0)));
    drop(results);
    gate.open();
    pool.shutdown(true);
    // The first ran, and the second if the thread had taken it already;
    // the rest were cancelled while queued.
    let ran = ran.load(Ordering::SeqCst);
    assert!((1..=2).contains(&ran), "{ran} ran");
}

#[test]
fn map_keeps_the_order_of_the_items() {
    let pool = ThreadPool::new(4);
    // Later items finish first.
    let got: Vec<_> = pool
        .map(
            |i: u64| {
                std::thread::sleep(Duration::from_millis(20 - 4 * i));
                i * 10
            },
            0..5,
        )
        .collect();
    assert_eq!(got, [Ok(0), Ok(10), Ok(20), Ok(30), Ok(40)]);
}

#[test]
fn map_gives_rejected_in_place_of_items_the_pool_refused() {
    let pool = ThreadPool::builder()
        .core_threads(1)
        .queue_capacity(1)
        .build();
    let gate = Gate::default();
    let g = gate.clone();
    let got = std::thread::scope(|s| {
        let map = pool.map(
            move |i: u32| {
                g.wait();
                i
            },
            0..4,
        );
        s.spawn(|| gate.open());
        map.collect::<Vec<_>>()
    });
    assert_eq!(
        got,
        [
            Ok(0),
            Ok(1),
            Err(JobError::Rejected),
            Err(JobError::Rejected)
        ]
    );
}

// ----- shutdown ----------------------------------------------------------------

#[test]
fn shutdown_with_wait_runs_the_queued_jobs_first() {
    let pool = ThreadPool::new(1);
    let done = Arc::new(AtomicUsize::new(0));
    let jobs: Vec<_> = (0..10)
        .map(|_| {
            let d = done.clone();
            pool.submit(move || {
                std::thread::sleep(Duration::from_millis(1));
                d.fetch_add(1, Ordering::SeqCst)
            })
            .unwrap()
        })
        .collect();
    pool.shutdown(true);
    assert_eq!(done.load(Ordering::SeqCst), 10);
    assert_eq!(pool.threads(), 0);
    assert!(jobs.into_iter().all(|job| job.wait().is_ok()));
    assert_eq!(pool.submit(|| ()).unwrap_err(), Rejected::ShutDown);
}

#[test]
fn shutdown_without_wait_returns_at_once_and_the_queued_jobs_still_run() {
    let pool = ThreadPool::new(1);
    let gate = Gate::default();
    let running = gated(&pool, &gate, 1).unwrap();
    let queued: Vec<_> = (2..5).map(|i| gated(&pool, &gate, i).unwrap()).collect();
    pool.shutdown(false); // returns with the gate still shut
    assert_eq!(pool.submit(|| ()).unwrap_err(), Rejected::ShutDown);
    drop(pool); // does not wait either
    gate.open();
    assert_eq!(running.wait().unwrap().0, 1);
    let got: Vec<_> = queued.into_iter().map(|j| j.wait().unwrap().0).collect();
    assert_eq!(got, [2, 3, 4], "queued jobs run, as with Python's default");
}

#[test]
fn cancel_queued_after_shutdown_cancels_only_the_jobs_not_started() {
    let pool = ThreadPool::new(1);
    let gate = Gate::default();
    let running = gated(&pool, &gate, 1).unwrap();
    let queued: Vec<_> = (2..5).map(|i| gated(&pool, &gate, i).unwrap()).collect();
    queued[0].cancel(); // cancelled already: not counted again
    pool.shutdown(false);
    let (first, second) = (pool.cancel_queued(), pool.cancel_queued());
    gate.open(); // before any assertion: a failing one must not hang
    assert_eq!((first, second), (2, 0), "nothing is left to cancel");
    for job in queued {
        assert_eq!(job.wait(), Err(JobError::Cancelled));
    }
    assert_eq!(running.wait().unwrap().0, 1, "the running job finishes");
    eventually("the thread exits", || pool.threads() == 0);
}

#[test]
fn cancel_queued_racing_handle_cancels_counts_each_job_once() {
    const JOBS: usize = 200;
    for round in 0..50 {
        let pool = ThreadPool::new(1);
        let gate = Gate::default();
        let running = gated(&pool, &gate, 0).unwrap();
        let queued: Vec<_> = (1..=JOBS)
            .map(|i| gated(&pool, &gate, i).unwrap())
            .collect();
        let start = Arc::new(std::sync::Barrier::new(2));
        let canceller = {
            let start = start.clone();
            std::thread::spawn(move || {
                start.wait();
                let by_handles = queued.iter().filter(|job| job.cancel()).count();
                (by_handles, queued)
            })
        };
        start.wait();
        let by_pool = pool.cancel_queued();
        let (by_handles, queued) = canceller.join().unwrap();
        gate.open(); // before any assertion: a failing one must not hang
        assert_eq!(
            by_pool + by_handles,
            JOBS,
            "round {round}: each job counted once"
        );
        for job in queued {
            assert_eq!(job.wait(), Err(JobError::Cancelled));
        }
        assert_eq!(running.wait().unwrap().0, 0);
    }
}

#[test]
fn cancel_queued_on_a_running_pool_leaves_it_taking_jobs() {
    let pool = ThreadPool::new(1);
    let gate = Gate::default();
    let running = gated(&pool, &gate, 1).unwrap();
    let queued = gated(&pool, &gate, 2).unwrap();
    let cancelled = pool.cancel_queued();
    let later = gated(&pool, &gate, 3).unwrap();
    gate.open(); // before any assertion: a failing one must not hang
    assert_eq!(cancelled, 1);
    assert_eq!(queued.wait(), Err(JobError::Cancelled));
    assert_eq!(running.wait().unwrap().0, 1);
    assert_eq!(later.wait().unwrap().0, 3);
}

#[test]
fn dropping_the_pool_finishes_queued_work() {
    let pool = ThreadPool::new(1);
    let jobs: Vec<_> = (0..5).map(|i| pool.submit(move || i).unwrap()).collect();
    drop(pool);
    let got: Vec<_> = jobs.into_iter().map(|j| j.wait().unwrap()).collect();
    assert_eq!(got, [0, 1, 2, 3, 4]);
}

#[test]
fn a_job_may_drop_the_last_reference_to_its_own_pool() {
    let pool = Arc::new(ThreadPool::new(1));
    let p = pool.clone();
    let (tx, rx) = mpsc::channel();
    let job = pool.submit(move || tx.send(p).unwrap()).unwrap();
    let p = rx.recv().unwrap();
    drop(pool);
    job.wait().unwrap();
    // The last reference goes on the worker itself: no self-join deadlock.
    let job = p.submit(|| ()).unwrap();
    let p2 = Arc::new(Mutex::new(Some(p)));
    let p3 = p2.clone();
    drop(job);
    let last = p2.lock().unwrap().take().unwrap();
    let done = last
        .submit(move || drop(p3.lock().unwrap().take()))
        .unwrap();
    drop(last); // joins the worker, which is not running a self-drop
    done.wait().unwrap();
}

// ----- on a loop -----------------------------------------------------------------

#[test]
fn a_finished_job_wakes_a_loop_blocked_in_poll_with_no_timers() {
    let pool = Arc::new(ThreadPool::new(1));
    let gate = Gate::default();
    let job = gated(&pool, &gate, 9).unwrap();
    let (tx, rx) = mpsc::channel();
    // The loop runs on its own thread, so a lost wake-up fails the test
    // (recv_timeout) instead of hanging it.
    let looper = std::thread::spawn(move || {
        let mut lp = EventLoop::new().unwrap();
        tx.send(lp.run_until_complete(job).map(|(n, _)| n)).unwrap();
    });
    std::thread::sleep(Duration::from_millis(50)); // the loop is in mio::Poll now
    gate.open();
    let got = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the loop was not woken");
    assert_eq!(got, Ok(9));
    looper.join().unwrap();
}

#[test]
fn callbacks_queued_on_a_loop_that_closes_before_running_them_still_run() {
    let pool = ThreadPool::new(1);
    let (tx, rx) = mpsc::channel();
    let job = {
        let mut lp = EventLoop::new().unwrap();
        lp.run_until_complete(async {
            let job = pool.submit(|| 7).unwrap();
            job.add_done_callback(move |r| tx.send(r.clone()).unwrap());
            // The job ends meanwhile: its callbacks go to this loop's queue,
            // which closes before another turn.
            std::thread::sleep(Duration::from_millis(100));
            Some(job)
        })
        .unwrap()
    };
    assert_eq!(rx.recv_timeout(Duration::from_secs(10)).unwrap(), Ok(7));
    let mut job = job;
    assert_eq!(job.wait_timeout(Duration::from_secs(10)), Some(Ok(7)));
}

#[test]
fn a_result_whose_destructor_panics_does_not_kill_the_worker() {
    struct Bomb;
    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("bomb");
        }
    }
    let pool = ThreadPool::new(1);
    let gate = Gate::default();
    let g = gate.clone();
    let job = pool.submit(move || {
        g.wait();
        Bomb
    });
    drop(job.unwrap()); // nobody takes the result: dropped on the worker
    gate.open();
    let mut next = pool.submit(|| 2).unwrap();
    assert_eq!(next.wait_timeout(Duration::from_secs(10)), Some(Ok(2)));
    assert_eq!(pool.threads(), 1);
}

#[test]
#[should_panic(expected = "after the result was taken")]
fn waiting_after_the_result_was_taken_is_a_clear_error() {
    let pool = ThreadPool::new(1);
    let mut job = pool.submit(|| 1).unwrap();
    assert_eq!(corio::run(&mut job), Ok(1));
    let _ = job.wait();
}

#[test]
fn a_thread_name_with_a_nul_is_cleaned_instead_of_panicking() {
    let pool = ThreadPool::builder().thread_name("a\0b").build();
    let name = pool.submit(|| std::thread::current().name().map(String::from));
    assert_eq!(name.unwrap().wait(), Ok(Some("ab-1".to_string())));
}

#[test]
fn spawn_blocking_runs_off_the_loop_and_the_loop_stays_responsive() {
    let loop_thread = std::thread::current().id();
    corio::run(async move {
        let blocking = corio::spawn_blocking(move || std::thread::current().id());
        // While the job runs, tasks on the loop go on.
        let ticker = corio::spawn(async {
            for _ in 0..3 {
                corio::time::sleep(Duration::from_millis(1)).await;
            }
            "ticked"
        });
        assert_eq!(ticker.await, Ok("ticked"));
        let thread = blocking.await.unwrap();
        assert_ne!(thread, loop_thread);
    });
}

#[test]
fn a_panicking_spawn_blocking_gives_panicked_with_the_message() {
    let err =
        corio::run(async { corio::spawn_blocking(|| -> u8 { panic!("disk on fire") }).await });
    match err {
        Err(TaskError::Panicked(p)) => assert_eq!(p.message(), "disk on fire"),
        other => panic!("expected a panic, got {other:?}"),
    }
}

#[test]
fn many_spawn_blocking_jobs_all_complete() {
    let total = corio::run(async {
        let tasks: Vec<_> = (0..200u64)
            .map(|i| corio::spawn_blocking(move || i))
            .collect();
        let mut total = 0;
        for task in tasks {
            total += task.await.unwrap();
        }
        total
    });
    assert_eq!(total, 199 * 200 / 2);
}

#[test]
fn a_loop_dropped_while_its_jobs_run_is_fine_and_the_jobs_finish() {
    let gate = Gate::default();
    let finished = Arc::new(AtomicUsize::new(0));
    let (started_tx, started) = mpsc::channel();
    {
        let mut lp = EventLoop::new().unwrap();
        let (g, f) = (gate.clone(), finished.clone());
        lp.run_until_complete(async move {
            let _detached = corio::spawn_blocking(move || {
                started_tx.send(()).unwrap();
                g.wait();
                f.fetch_add(1, Ordering::SeqCst);
            });
            corio::yield_now().await;
        });
        started.recv().unwrap();
        // Leaving the loop with the job running (and its task pending):
        // closing cancels the task, but a running job cannot be stopped.
    }
    gate.open();
    eventually("the job finishes after its loop is gone", || {
        finished.load(Ordering::SeqCst) == 1
    });
}

#[test]
fn closing_a_loop_cancels_its_blocking_jobs_that_have_not_started() {
    let ran = Arc::new(AtomicUsize::new(0));
    let gate = Gate::default();
    {
        let mut lp = EventLoop::new().unwrap();
        let (r, g) = (ran.clone(), gate.clone());
        lp.run_until_complete(async move {
            // Occupy every thread of the default pool, then queue one more.
            let n = std::thread::available_parallelism().map_or(1, |n| n.get()) + 4;
            for _ in 0..n.min(32) {
                let g = g.clone();
                drop(corio::spawn_blocking(move || g.wait()));
            }
            drop(corio::spawn_blocking(move || {
                r.fetch_add(1, Ordering::SeqCst)
            }));
            corio::yield_now().await;
        });
    }
    gate.open();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(
        ran.load(Ordering::SeqCst),
        0,
        "the queued job was cancelled"
    );
}

#[test]
#[allow(clippy::async_yields_async)] // the job's handle leaves the loop
fn a_job_with_a_loop_callback_finishing_after_the_loop_closed_runs_it_on_the_worker() {
    let pool = ThreadPool::builder().thread_name("late").build();
    let gate = Gate::default();
    let (tx, rx) = mpsc::channel();
    let job = {
        let mut lp = EventLoop::new().unwrap();
        let g = gate.clone();
        lp.run_until_complete(async {
            let job = pool.submit(move || g.wait()).unwrap();
            job.add_done_callback(move |r| {
                let thread = std::thread::current().name().map(String::from);
                tx.send((r.clone(), thread)).unwrap();
            });
            job
        })
    }; // the loop is closed here
    gate.open();
    let (result, thread) = rx.recv_timeout(Duration::from_secs(10)).unwrap();
    assert_eq!(result, Ok(()));
    assert_eq!(thread.as_deref(), Some("late-1"));
    assert_eq!(job.wait(), Ok(()));
}

#[test]
#[allow(clippy::async_yields_async)] // the job's handle leaves the loop
fn a_pool_dropped_after_its_loop_is_gone_is_fine() {
    let pool = ThreadPool::new(2);
    let job = {
        let mut lp = EventLoop::new().unwrap();
        lp.run_until_complete(async { pool.submit(|| 5).unwrap() })
    };
    assert_eq!(job.wait(), Ok(5));
    drop(pool);
}

// ----- channels ------------------------------------------------------------------

/// Receives on a loop until every sender is gone.
fn receive_all<T>(mut rx: channel::Receiver<T>) -> Vec<T> {
    corio::run(async move {
        let mut got = Vec::new();
        while let Some(item) = rx.recv().await {
            got.push(item);
        }
        got
    })
}

#[test]
fn a_thread_feeds_a_task_through_an_unbounded_channel_and_the_end_is_seen() {
    let (tx, rx) = channel::unbounded();
    let producer = std::thread::spawn(move || {
        for i in 0..1000 {
            tx.send(i).unwrap();
        }
    });
    let got = receive_all(rx);
    producer.join().unwrap();
    assert_eq!(got, (0..1000).collect::<Vec<_>>());
}

#[test]
fn a_bounded_channel_makes_the_producer_thread_wait() {
    let (tx, rx) = channel::bounded(2);
    let sent = Arc::new(AtomicUsize::new(0));
    let s = sent.clone();
    let producer = std::thread::spawn(move || {
        for i in 0..10 {
            tx.send(i).unwrap();
            s.fetch_add(1, Ordering::SeqCst);
        }
    });
    eventually("two are queued", || sent.load(Ordering::SeqCst) >= 2);
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(
        sent.load(Ordering::SeqCst),
        2,
        "blocked once two are queued"
    );
    let got = receive_all(rx);
    producer.join().unwrap();
    assert_eq!(got.len(), 10);
}

#[test]
fn a_dropped_receiver_unblocks_and_fails_a_waiting_sender() {
    let (tx, rx) = channel::bounded(1);
    tx.send(1).unwrap();
    let sender = std::thread::spawn(move || tx.send(2));
    std::thread::sleep(Duration::from_millis(20));
    drop(rx);
    assert_eq!(sender.join().unwrap(), Err(channel::SendError(2)));
}

#[test]
#[should_panic(expected = "would block the event loop")]
fn a_full_send_on_a_loop_thread_is_a_clear_error() {
    let (tx, _rx) = channel::bounded(1);
    corio::run(async move {
        tx.send(1).unwrap();
        tx.send(2).unwrap();
    });
}

#[test]
fn a_dropped_recv_future_loses_no_value() {
    let (tx, mut rx) = channel::unbounded();
    corio::run(async move {
        let timed_out = corio::time::timeout(Duration::from_millis(5), rx.recv()).await;
        assert!(timed_out.is_err());
        tx.send("kept").unwrap();
        assert_eq!(rx.recv().await, Some("kept"));
    });
}

#[test]
fn a_oneshot_from_a_thread_wakes_a_loop_with_nothing_else_to_do() {
    let (tx, rx) = channel::oneshot();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        tx.send("hello").unwrap();
    });
    assert_eq!(corio::run(rx), Ok("hello"));
    sender.join().unwrap();
    let (tx, rx) = channel::oneshot::<()>();
    std::thread::spawn(move || drop(tx)).join().unwrap();
    assert_eq!(corio::run(rx), Err(channel::RecvError));
}

#[test]
fn a_cancelled_job_gives_its_queue_place_to_the_next_one() {
    let pool = ThreadPool::builder()
        .core_threads(1)
        .queue_capacity(1)
        .build();
    let gate = Gate::default();
    let running = gated(&pool, &gate, 1).unwrap();
    let queued = gated(&pool, &gate, 2).unwrap();
    assert_eq!(gated(&pool, &gate, 3).unwrap_err(), Rejected::Full);
    assert!(queued.cancel());
    let next = gated(&pool, &gate, 4).expect("the cancelled job's place is free");
    gate.open();
    assert_eq!(running.wait().unwrap().0, 1);
    assert_eq!(next.wait().unwrap().0, 4);
    assert_eq!(queued.wait(), Err(JobError::Cancelled));
}

#[test]
fn two_shutdowns_at_once_both_wait_for_every_thread() {
    let pool = Arc::new(ThreadPool::new(2));
    let gate = Gate::default();
    let jobs: Vec<_> = (0..2).map(|i| gated(&pool, &gate, i).unwrap()).collect();
    let p = pool.clone();
    let first = std::thread::spawn(move || p.shutdown(true));
    std::thread::sleep(Duration::from_millis(20));
    let p = pool.clone();
    let g = gate.clone();
    let second = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        g.open();
    });
    pool.shutdown(true);
    assert_eq!(pool.threads(), 0, "the second shutdown waited too");
    first.join().unwrap();
    second.join().unwrap();
    drop(p);
    for job in jobs {
        job.wait().unwrap();
    }
}

#[test]
fn a_plain_thread_can_block_on_a_channel_receiver() {
    let (tx, mut rx) = channel::bounded(4);
    let consumer = std::thread::spawn(move || {
        let mut got = Vec::new();
        while let Some(v) = rx.recv_blocking() {
            got.push(v);
        }
        got
    });
    corio::run(async move {
        for i in 0..100 {
            while let Err(channel::TrySendError::Full(_)) = tx.try_send(i) {
                corio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    });
    assert_eq!(consumer.join().unwrap(), (0..100).collect::<Vec<_>>());
}

/// Occupies every thread of the running loop's default pool (asyncio's
/// `min(32, cores + 4)`) with a job that waits for `gate`: the next job
/// submitted waits in the queue.
fn fill_the_default_pool(gate: &Gate) -> Vec<corio::Task<()>> {
    let n = std::thread::available_parallelism().map_or(1, |n| n.get()) + 4;
    (0..n.min(32))
        .map(|_| {
            let g = gate.clone();
            corio::spawn_blocking(move || g.wait())
        })
        .collect()
}

#[test]
fn cancelling_a_queued_spawn_blocking_task_keeps_its_job_from_running() {
    let ran = Arc::new(AtomicUsize::new(0));
    let gate = Gate::default();
    let (r, g) = (ran.clone(), gate.clone());
    corio::run(async move {
        let busy = fill_the_default_pool(&g);
        let queued = corio::spawn_blocking(move || r.fetch_add(1, Ordering::SeqCst));
        corio::yield_now().await;
        assert!(queued.cancel());
        assert_eq!(queued.await, Err(TaskError::Cancelled));
        g.open();
        for task in busy {
            task.await.unwrap();
        }
    });
    assert_eq!(ran.load(Ordering::SeqCst), 0);
    drop(gate);
}

#[test]
fn the_default_pool_runs_min_32_cores_plus_4_jobs_at_once() {
    let expected = (std::thread::available_parallelism().map_or(1, |n| n.get()) + 4).min(32);
    let gate = Gate::default();
    let started = Arc::new(AtomicUsize::new(0));
    let (g, s) = (gate.clone(), started.clone());
    corio::run(async move {
        let tasks: Vec<_> = (0..expected + 3)
            .map(|_| {
                let (g, s) = (g.clone(), s.clone());
                corio::spawn_blocking(move || {
                    s.fetch_add(1, Ordering::SeqCst);
                    g.wait();
                })
            })
            .collect();
        let deadline = Instant::now() + Duration::from_secs(10);
        while s.load(Ordering::SeqCst) < expected && Instant::now() < deadline {
            corio::time::sleep(Duration::from_millis(1)).await;
        }
        corio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(
            s.load(Ordering::SeqCst),
            expected,
            "the rest wait in the queue"
        );
        g.open();
        for task in tasks {
            task.await.unwrap();
        }
    });
    assert_eq!(started.load(Ordering::SeqCst), expected + 3);
    drop(gate);
}

mod review_edges {
    //! Panicking destructors in odd places, jobs that shut their own pool
    //! down, and a policy's edge: none may hang, abort or pick wrongly.
    use super::*;

    struct PanicOnDrop;
    impl Drop for PanicOnDrop {
        fn drop(&mut self) {
            panic!("a destructor panicked (expected)");
        }
    }

    /// A job result whose destructor panics with a payload that panics too.
    struct ResultWithBadPayload;
    impl Drop for ResultWithBadPayload {
        fn drop(&mut self) {
            std::panic::panic_any(PanicOnDrop);
        }
    }

    #[test]
    fn a_job_whose_panic_payload_panics_when_dropped_still_ends() {
        let got = within(5, || {
            let pool = ThreadPool::new(1);
            pool.submit(|| std::panic::panic_any(PanicOnDrop))
                .unwrap()
                .wait()
        });
        assert!(matches!(got, Some(Err(JobError::Panicked(_)))), "{got:?}");
        // A result dropped on the worker, panicking so: the worker lives on.
        let got = within(5, || {
            let pool = ThreadPool::new(1);
            drop(pool.submit(|| ResultWithBadPayload).unwrap());
            std::thread::sleep(Duration::from_millis(100));
            let mut next = pool.submit(|| 1).unwrap();
            next.wait_timeout(Duration::from_secs(2))
        });
        assert_eq!(got, Some(Some(Ok(1))));
    }

    #[test]
    fn a_finished_result_whose_destructor_panics_is_contained_when_its_handle_is_dropped() {
        // The worker stored the result before the handle went: the handle
        // drops it, and its panic must not unwind into the dropping thread
        // (a detached thread dying of a payload that panics when dropped
        // aborts the process). It was a race in the test above.
        let pool = ThreadPool::new(1);
        let job = pool.submit(|| ResultWithBadPayload).unwrap();
        eventually("the job finished", || job.is_done());
        let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| drop(job)));
        if let Err(payload) = dropped {
            std::mem::forget(payload); // it would panic again
            panic!("the result's destructor panicked into the thread that dropped its handle");
        }
        let mut next = pool.submit(|| 1).unwrap();
        assert_eq!(next.wait_timeout(Duration::from_secs(10)), Some(Ok(1)));
    }

    #[test]
    fn a_shutdown_ends_every_queued_job_though_closures_panic_when_dropped() {
        let got = within(5, || {
            let pool = ThreadPool::new(1);
            let (tx, rx) = mpsc::channel::<()>();
            let _busy = pool.submit(move || rx.recv().ok()).unwrap();
            let (first, second) = (PanicOnDrop, PanicOnDrop);
            let _bad = pool.submit(move || drop(first)).unwrap();
            let _worse = pool.submit(move || drop(second)).unwrap();
            let other = pool.submit(|| 2).unwrap();
            pool.shutdown(false);
            pool.cancel_queued();
            tx.send(()).unwrap();
            other.wait()
        });
        assert_eq!(got, Some(Err(JobError::Cancelled)));
    }

    #[test]
    fn two_jobs_that_shut_their_own_pool_down_and_wait_both_return() {
        let got = within(5, || {
            let pool = Arc::new(ThreadPool::new(2));
            let barrier = Arc::new(std::sync::Barrier::new(2));
            let jobs: Vec<_> = (0..2)
                .map(|_| {
                    let (pool2, barrier) = (Arc::clone(&pool), Arc::clone(&barrier));
                    pool.submit(move || {
                        barrier.wait();
                        pool2.shutdown(true);
                    })
                    .unwrap()
                })
                .collect();
            jobs.into_iter().map(JobHandle::wait).collect::<Vec<_>>()
        });
        assert_eq!(got, Some(vec![Ok(()), Ok(())]), "deadlock");
    }

    #[test]
    fn discard_oldest_with_no_queue_refuses_the_new_job_like_discard() {
        let pool = ThreadPool::builder()
            .core_threads(1)
            .max_threads(1)
            .queue_capacity(0)
            .policy(Policy::DiscardOldest)
            .build();
        pool.submit(|| ()).unwrap().wait().unwrap(); // one idle thread
        std::thread::sleep(Duration::from_millis(5));
        let first = pool
            .submit(|| std::thread::sleep(Duration::from_millis(50)))
            .unwrap();
        let second = pool.submit(|| ()).unwrap();
        assert_eq!(
            (first.wait(), second.wait()),
            (Ok(()), Err(JobError::Rejected))
        );
    }

    #[test]
    fn an_outside_shutdown_waits_for_a_job_that_is_inside_its_own_shutdown() {
        // Races the outside caller against the job's wake-up; before the
        // fix about half the rounds returned early.
        for round in 0..50u32 {
            let pool = Arc::new(ThreadPool::new(2));
            let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
            let (release, released) = mpsc::channel::<()>();
            let _slow = pool.submit(move || released.recv().ok()).unwrap();
            let (inner, finished) = (Arc::clone(&pool), Arc::clone(&done));
            let (entered, entering) = mpsc::channel::<()>();
            let _job = pool
                .submit(move || {
                    entered.send(()).unwrap();
                    inner.shutdown(true); // waits for the slow job
                    std::thread::sleep(Duration::from_millis(5));
                    finished.store(true, Ordering::SeqCst);
                })
                .unwrap();
            entering.recv().unwrap();
            std::thread::sleep(Duration::from_millis(2));
            release.send(()).unwrap();
            let until = Instant::now() + Duration::from_micros(u64::from(round % 50));
            while Instant::now() < until {
                std::hint::spin_loop();
            }
            pool.shutdown(true); // joins every thread before returning
            assert!(done.load(Ordering::SeqCst), "round {round}: returned early");
        }
    }
}

#[test]
fn a_job_that_shuts_its_single_thread_pool_down_with_wait_returns_and_the_queue_still_runs() {
    // It cannot wait for its own (only) thread: it returns, and the
    // queued job runs once the calling job has returned.
    within(10, || {
        let pool = Arc::new(ThreadPool::new(1));
        let gate = Gate::default();
        let (p, g) = (pool.clone(), gate.clone());
        let first = pool
            .submit(move || {
                g.wait();
                p.shutdown(true);
            })
            .unwrap();
        let queued = pool.submit(|| 7).unwrap();
        gate.open();
        first.wait().unwrap();
        assert_eq!(queued.wait(), Ok(7));
    })
    .expect("shutdown(true) from a job hung");
}

#[test]
fn is_done_turns_true_only_when_the_result_is_there_for_the_handle() {
    let pool = ThreadPool::new(1);
    let gate = Gate::default();
    let g = gate.clone();
    let mut job = pool
        .submit(move || {
            g.wait();
            1
        })
        .unwrap();
    // A slow done callback: the result is lent to it first.
    job.add_done_callback(|_| std::thread::sleep(Duration::from_millis(300)));
    gate.open();
    eventually("the job is done", || job.is_done());
    assert_eq!(job.wait_timeout(Duration::ZERO), Some(Ok(1)));
}

#[test]
fn debug_says_when_done_callbacks_still_hold_the_result() {
    let pool = ThreadPool::new(1);
    // The job waits for its callback to be added: added after the job
    // finished, the callback would run here, on this thread, and wait for
    // a gate only this thread opens.
    let start = Gate::default();
    let s = start.clone();
    let job = pool
        .submit(move || {
            s.wait();
            1
        })
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let gate = Gate::default();
    let g = gate.clone();
    job.add_done_callback(move |_| {
        tx.send(()).unwrap();
        g.wait();
    });
    start.open();
    rx.recv().unwrap(); // the callback is running: the result is lent
    let shown = format!("{job:?}");
    assert!(!job.is_done());
    gate.open();
    assert_eq!(shown, "JobHandle(done, callbacks running)");
    assert_eq!(job.wait(), Ok(1));
}

#[test]
fn two_jobs_that_shut_their_two_thread_pool_down_and_then_meet_both_return() {
    // Each waits for the other after its shutdown(true): neither call may
    // wait for the other's thread.
    for round in 0..20 {
        let got = within(5, move || {
            let pool = Arc::new(ThreadPool::new(2));
            let before = Arc::new(std::sync::Barrier::new(2));
            let after = Arc::new(std::sync::Barrier::new(2));
            let jobs: Vec<_> = (0..2)
                .map(|_| {
                    let (p, b, a) = (pool.clone(), before.clone(), after.clone());
                    pool.submit(move || {
                        b.wait();
                        p.shutdown(true);
                        a.wait();
                    })
                    .unwrap()
                })
                .collect();
            jobs.into_iter().map(JobHandle::wait).collect::<Vec<_>>()
        });
        assert_eq!(got, Some(vec![Ok(()), Ok(())]), "round {round}: deadlock");
    }
}

#[test]
fn a_map_awaited_in_part_then_iterated_gives_every_result_in_line() {
    // Awaiting a Map moves finished results out of their jobs; given up
    // (a timeout), the iterator must still start with them.
    let pool = ThreadPool::new(2);
    let (tx, rx) = mpsc::channel::<()>();
    let rx = Arc::new(Mutex::new(rx));
    let mut map = pool.map(
        move |i: u32| {
            if i == 1 {
                rx.lock().unwrap().recv().ok();
            }
            i
        },
        0..3,
    );
    let timed_out = corio::run(async {
        corio::time::timeout(Duration::from_millis(200), &mut map)
            .await
            .is_err()
    });
    assert!(timed_out);
    assert_eq!(map.size_hint(), (3, Some(3)));
    tx.send(()).unwrap();
    let rest: Vec<_> = map.collect();
    assert_eq!(rest, vec![Ok(0), Ok(1), Ok(2)]);
}

#[test]
fn the_default_pools_thread_names_fit_in_what_linux_keeps() {
    let name = corio::run(async {
        corio::spawn_blocking(|| std::thread::current().name().map(String::from)).await
    })
    .unwrap()
    .unwrap();
    assert!(name.starts_with("corio-blk-"), "{name}");
    assert!(name.len() <= 15, "{name}");
}

#[test]
fn a_channel_recv_polled_again_with_another_waker_wakes_the_latest_one() {
    use std::future::Future;
    use std::task::Context;
    let (first, first_wakes) = common::counting_waker();
    let (second, second_wakes) = common::counting_waker();
    let (tx, mut rx) = channel::unbounded::<u8>();
    {
        let mut recv = std::pin::pin!(rx.recv());
        let pending = recv.as_mut().poll(&mut Context::from_waker(&first));
        assert!(pending.is_pending());
        // Moved to another task: polled with a new waker.
        let pending = recv.as_mut().poll(&mut Context::from_waker(&second));
        assert!(pending.is_pending());
    }
    std::thread::spawn(move || tx.send(1).unwrap())
        .join()
        .unwrap();
    let wakes = (
        first_wakes.load(Ordering::SeqCst),
        second_wakes.load(Ordering::SeqCst),
    );
    assert_eq!(wakes, (0, 1));
    assert_eq!(rx.try_recv(), Ok(1));
}

#[test]
fn a_cancelled_awaiter_detaches_its_spawn_blocking_job_unless_it_holds_it_cancel_on_drop() {
    let (detached, guarded) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let gate = Gate::default();
    let (d, gd, g) = (detached.clone(), guarded.clone(), gate.clone());
    corio::run(async move {
        let busy = fill_the_default_pool(&g);
        // Both jobs queue behind the busy ones; each awaiter is cancelled.
        let d2 = d.clone();
        let plain = corio::spawn(async move {
            corio::spawn_blocking(move || d2.fetch_add(1, Ordering::SeqCst)).await
        });
        let held = corio::spawn(async move {
            corio::spawn_blocking(move || gd.fetch_add(1, Ordering::SeqCst))
                .cancel_on_drop()
                .await
        });
        corio::yield_now().await;
        assert!(plain.cancel());
        assert!(held.cancel());
        assert_eq!(plain.await, Err(TaskError::Cancelled));
        assert_eq!(held.await, Err(TaskError::Cancelled));
        // `cancel()` is carried out on the cancelled task's own turn: the
        // inner task, cancelled while `held` was dropped, drops its job's
        // handle at the next turn.
        corio::yield_now().await;
        g.open();
        for task in busy {
            task.await.unwrap();
        }
        let deadline = Instant::now() + Duration::from_secs(10);
        while d.load(Ordering::SeqCst) == 0 && Instant::now() < deadline {
            corio::time::sleep(Duration::from_millis(1)).await;
        }
        // Time for the held job to run, had it not been cancelled.
        corio::time::sleep(Duration::from_millis(20)).await;
    });
    assert_eq!(detached.load(Ordering::SeqCst), 1, "the detached job ran");
    assert_eq!(
        guarded.load(Ordering::SeqCst),
        0,
        "the held job was cancelled"
    );
    drop(gate);
}

// ---- LoopHandle::run_coroutine_threadsafe: a thread runs a coroutine on a loop

/// Runs a loop on a thread of its own until its handle stops it; gives the
/// handle and the loop thread's join handle.
fn loop_on_a_thread() -> (corio::LoopHandle, std::thread::JoinHandle<()>) {
    let (tx, rx) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        let mut lp = EventLoop::new().unwrap();
        tx.send(lp.handle()).unwrap();
        lp.run_forever();
    });
    (rx.recv().unwrap(), thread)
}

#[test]
fn a_thread_runs_a_coroutine_on_the_loop_and_waits_for_its_output() {
    let mut lp = EventLoop::new().unwrap();
    let handle = lp.handle();
    let loop_thread = std::thread::current().id();
    let worker = std::thread::spawn(move || {
        let job = handle.run_coroutine_threadsafe(|| async {
            let not_send = std::rc::Rc::new(2); // made and kept on the loop's thread
            corio::time::sleep(Duration::from_millis(5)).await;
            (*not_send * 21, std::thread::current().id())
        });
        let got = job.wait();
        handle.stop();
        got
    });
    lp.run_forever();
    assert_eq!(worker.join().unwrap(), Ok((42, loop_thread)));
}

#[test]
fn a_panicking_coroutine_gives_panicked_and_its_loop_goes_on() {
    let (handle, thread) = loop_on_a_thread();
    let job = handle.run_coroutine_threadsafe(|| async {
        corio::yield_now().await;
        if true {
            panic!("coroutine blew up");
        }
    });
    assert_eq!(
        job.wait(),
        Err(JobError::Panicked("coroutine blew up".into()))
    );
    let made =
        handle.run_coroutine_threadsafe(|| -> std::future::Ready<u8> { panic!("make blew up") });
    assert_eq!(made.wait(), Err(JobError::Panicked("make blew up".into())));
    let after = handle.run_coroutine_threadsafe(|| async { "still running" });
    assert_eq!(after.wait(), Ok("still running"));
    handle.stop();
    thread.join().unwrap();
}

/// Records on which thread it was dropped.
struct DropsOn(Arc<Mutex<Option<std::thread::ThreadId>>>);

impl Drop for DropsOn {
    fn drop(&mut self) {
        *self.0.lock().unwrap() = Some(std::thread::current().id());
    }
}

#[test]
fn cancelling_a_running_coroutine_drops_it_on_the_loop_thread_and_gives_cancelled() {
    let (handle, thread) = loop_on_a_thread();
    let dropped_on = Arc::new(Mutex::new(None));
    let started = Gate::default();
    let (d, s) = (Arc::clone(&dropped_on), started.clone());
    let mut job = handle.run_coroutine_threadsafe(move || async move {
        let _guard = DropsOn(d);
        s.open();
        std::future::pending::<()>().await;
    });
    started.wait();
    assert_eq!(job.wait_timeout(Duration::from_millis(10)), None, "it runs");
    assert!(job.cancel(), "a running coroutine can be cancelled");
    assert!(!job.cancel(), "once");
    assert_eq!(job.wait(), Err(JobError::Cancelled));
    // The loop drops the future at its next turn, on its own thread.
    let loop_thread = handle
        .run_coroutine_threadsafe(|| async { std::thread::current().id() })
        .wait()
        .unwrap();
    assert_eq!(*dropped_on.lock().unwrap(), Some(loop_thread));
    handle.stop();
    thread.join().unwrap();
}

#[test]
fn a_coroutine_cancelled_before_its_turn_is_never_made() {
    let mut lp = EventLoop::new().unwrap();
    let handle = lp.handle();
    let made = Arc::new(AtomicUsize::new(0));
    let m = Arc::clone(&made);
    let job = handle.run_coroutine_threadsafe(move || {
        m.fetch_add(1, Ordering::SeqCst);
        async {}
    });
    assert!(job.cancel());
    lp.run_until_complete(async { corio::yield_now().await });
    assert_eq!(made.load(Ordering::SeqCst), 0);
    assert_eq!(
        within(10, move || job.wait()),
        Some(Err(JobError::Cancelled))
    );
}

#[test]
fn a_closed_loop_rejects_a_coroutine_and_a_closing_one_cancels_those_it_runs() {
    let lp = EventLoop::new().unwrap();
    let handle = lp.handle();
    drop(lp);
    let job = handle.run_coroutine_threadsafe(|| async { 1 });
    assert_eq!(job.wait(), Err(JobError::Rejected));

    // One queued when the loop closes, one running: neither waits forever.
    let mut lp = EventLoop::new().unwrap();
    let handle = lp.handle();
    let running = handle.run_coroutine_threadsafe(std::future::pending::<u8>);
    lp.run_until_complete(async { corio::yield_now().await });
    let queued = handle.run_coroutine_threadsafe(|| async { 2 });
    drop(lp);
    assert_eq!(
        within(10, move || running.wait()),
        Some(Err(JobError::Cancelled))
    );
    assert_eq!(
        within(10, move || queued.wait()),
        Some(Err(JobError::Cancelled))
    );
}

#[test]
fn a_coroutine_handle_is_awaited_on_another_loop_with_done_callbacks() {
    let (handle, thread) = loop_on_a_thread();
    let (tx, rx) = mpsc::channel();
    let got = corio::run(async move {
        let job = handle.run_coroutine_threadsafe(|| async { 7 });
        job.add_done_callback(move |result| tx.send(result.clone()).unwrap());
        let got = job.await;
        handle.stop();
        got
    });
    assert_eq!(got, Ok(7));
    assert_eq!(rx.recv().unwrap(), Ok(7), "the callback saw it first");
    thread.join().unwrap();
}

#[test]
fn a_coroutine_cancelled_as_it_finishes_delivers_one_outcome_and_drops_its_output_once() {
    let (handle, thread) = loop_on_a_thread();
    let made = Arc::new(AtomicUsize::new(0));
    let drops = Arc::new(AtomicUsize::new(0));
    struct Counted(Arc<AtomicUsize>);
    impl Drop for Counted {
        fn drop(&mut self) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let (mut finished, mut cancelled) = (0, 0);
    for _ in 0..300 {
        let (m, d) = (Arc::clone(&made), Arc::clone(&drops));
        let job = handle.run_coroutine_threadsafe(move || async move {
            m.fetch_add(1, Ordering::SeqCst);
            Counted(d)
        });
        let won = job.cancel();
        match job.wait() {
            Ok(output) => {
                assert!(!won, "a cancel that won gives Cancelled");
                finished += 1;
                drop(output);
            }
            Err(JobError::Cancelled) => {
                assert!(won, "only a cancel that won gives Cancelled");
                cancelled += 1;
            }
            Err(other) => panic!("{other:?}"),
        }
    }
    handle.run_coroutine_threadsafe(|| async {}).wait().unwrap(); // a turn later
    assert_eq!(finished + cancelled, 300);
    // Every output made was dropped exactly once: here, or on the loop
    // when a cancel came first.
    assert_eq!(drops.load(Ordering::SeqCst), made.load(Ordering::SeqCst));
    handle.stop();
    thread.join().unwrap();
}

#[test]
fn shutting_a_pool_down_on_a_loop_thread_says_once_that_it_holds_the_loop_if_that_lasts() {
    let mut lp = EventLoop::new().unwrap();
    lp.set_stall_grace(Duration::from_millis(50));
    let reports = common::capture_reports(&lp);
    lp.run_until_complete(async {
        let pool = ThreadPool::new(2);
        let slow = pool
            .submit(|| std::thread::sleep(Duration::from_millis(400)))
            .unwrap();
        drop(slow);
        pool.shutdown(true); // holds the loop for ~400 ms
    });
    let reports = reports.borrow();
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert_eq!(reports[0].kind(), corio::ReportKind::Stall);
    assert!(
        reports[0].message().contains("ThreadPool::shutdown(true)"),
        "{}",
        reports[0].message()
    );
}

#[test]
fn a_detached_coroutine_that_can_never_finish_leaves_would_block_forever_to_the_loop() {
    let told = within(10, || {
        let mut lp = EventLoop::new().unwrap();
        let handle = lp.handle();
        drop(handle.run_coroutine_threadsafe(std::future::pending::<()>)); // detached
        drop(handle);
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            lp.run_until_complete(async {
                corio::yield_now().await; // the coroutine starts, and parks for ever
                std::future::pending::<()>().await;
            })
        }));
        let err = outcome.expect_err("nothing can ever wake the main future");
        common::panic_text(&*err)
    });
    let told = told.expect("told at once, not left waiting");
    assert!(told.contains("would block forever"), "{told}");
}

#[test]
fn shutting_down_an_idle_pool_on_a_loop_thread_says_nothing_even_with_no_grace() {
    let mut lp = EventLoop::new().unwrap();
    lp.set_stall_grace(Duration::ZERO);
    let reports = common::capture_reports(&lp);
    lp.run_until_complete(async {
        let pool = ThreadPool::new(2);
        let jobs = [pool.submit(|| 1).unwrap(), pool.submit(|| 2).unwrap()];
        for job in jobs {
            job.await.unwrap();
        }
        // Wait until both threads are idle (their jobs are over).
        for _ in 0..5_000 {
            if pool.idle_threads() == pool.threads() {
                break;
            }
            corio::time::sleep(Duration::from_millis(1)).await;
        }
        assert_eq!(pool.idle_threads(), pool.threads());
        pool.shutdown(true);
    });
    assert!(reports.borrow().is_empty(), "{:?}", reports.borrow());
}

#[test]
fn loop_handle_current_inside_spawn_blocking_is_the_loop_that_started_the_job() {
    // tokio's `Handle::current()` works inside `spawn_blocking`; so does
    // corio's — and not in a job of a pool of one's own, nor after the job.
    corio::run(async {
        let (tx, rx) = channel::oneshot();
        let job = corio::spawn_blocking(move || {
            let handle = corio::LoopHandle::current();
            handle.call_soon_threadsafe(move || {
                let on_loop = corio::current_task().is_none(); // a callback, on the loop
                assert!(tx.send(on_loop).is_ok());
            })
        });
        assert_eq!(job.await, Ok(true));
        assert_eq!(rx.await, Ok(true));
        // A job that panics leaves nothing behind on its thread.
        let panicked = corio::spawn_blocking(|| panic!("expected: a blocking job panics"));
        assert!(matches!(panicked.await, Err(TaskError::Panicked(_))));
    });
    let pool = ThreadPool::new(1);
    let outside = pool
        .submit(|| std::panic::catch_unwind(corio::LoopHandle::current).is_err())
        .unwrap()
        .wait();
    assert_eq!(outside, Ok(true));
}
