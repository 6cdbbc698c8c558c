//! corio — a hand-rolled, single-threaded coroutine runtime.
//!
//! corio is an event loop you can read: tasks in a slab, wakers that only
//! enqueue, one function — the *turn* — that runs everything. Its names are
//! the ones you know from Python's asyncio and gevent:
//!
//! | asyncio / gevent                         | corio                                   |
//! |------------------------------------------|-----------------------------------------|
//! | `asyncio.run(main())`                    | [`corio::run(main())`](run)             |
//! | `loop.run_until_complete(fut)`           | [`EventLoop::run_until_complete`]       |
//! | `ensure_future` / `create_task` / `gevent.spawn` | [`spawn`], [`Builder`]          |
//! | `task.add_done_callback(cb)` / `link`    | [`Task::add_done_callback`]             |
//! | `task.cancel()` / `kill`                 | [`Task::cancel`]                        |
//! | `loop.call_soon` / `call_later` / `call_at` | [`call_soon`], [`call_later`], [`call_at`] |
//! | `loop.call_soon_threadsafe`              | [`LoopHandle::call_soon_threadsafe`]    |
//! | `asyncio.sleep(d)` / `gevent.sleep(d)`   | [`time::sleep`]                         |
//! | `asyncio.sleep(0)`                       | [`yield_now`]                           |
//! | `asyncio.wait_for` / `gevent.Timeout`    | [`time::timeout`]                       |
//! | `asyncio.gather` / `gevent.joinall`      | [`gather`]                              |
//! | `asyncio.wait`, `as_completed`, `TaskGroup` | [`wait`], [`as_completed`], [`TaskGroup`] |
//! | `asyncio.current_task` / `gevent.getcurrent` | [`current_task`]                    |
//! | `asyncio.to_thread` / `run_in_executor`  | [`spawn_blocking`]                      |
//! | `ThreadPoolExecutor` / Java's `ThreadPoolExecutor` | [`pool::ThreadPool`]          |
//! | `loop.add_signal_handler(SIGINT, cb)`    | [`signal::ctrl_c`], [`signal::Signals`] |
//!
//! # A first program
//!
//! Seed 004's lesson: three "requests" of two seconds each overlap when
//! they *await* their sleep (here scaled down to 100 ms):
//!
//! ```
//! use std::time::{Duration, Instant};
//! use corio::time::sleep;
//!
//! async fn get_request(url: &'static str) -> &'static str {
//!     sleep(Duration::from_millis(100)).await; // the task parks; others run
//!     url
//! }
//!
//! let start = Instant::now();
//! let pages = corio::run(async {
//!     let tasks = ["www.1.com", "www.2.com", "www.3.com"].map(|url| corio::spawn(get_request(url)));
//!     corio::gather(tasks).await
//! });
//! assert_eq!(pages, [Ok("www.1.com"), Ok("www.2.com"), Ok("www.3.com")]);
//! assert!(start.elapsed() < Duration::from_millis(250)); // ~100 ms, not 300
//! ```
//!
//! # How it works, in one paragraph
//!
//! [`spawn`] boxes the future into a slab slot and pushes its key on the
//! ready queue. A turn ([`EventLoop::run_once`]) takes in other threads'
//! work and, when it looks outside, I/O readiness and due timers; then it
//! polls what is ready at that point, each task with a waker that names the
//! task's key. A task that cannot go on returns `Pending` after leaving its
//! waker with whatever it waits for — a timer, a socket, another task. When
//! that thing happens, it calls `wake()`, which does nothing but push the
//! key on the ready queue again. With nothing ready, the turn waits in
//! `mio::Poll::poll` for I/O, the next timer or another thread — unless
//! nothing could ever wake it: then the turn is idle. `ARCHITECTURE.md` has
//! the map.
//!
//! corio is written in safe Rust only (`#![forbid(unsafe_code)]`).

#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![warn(missing_debug_implementations)]

mod callback;
mod combinators;
mod contain;
mod context;
mod core;
mod event_loop;
mod handle;
mod reactor;
mod report;
mod stats;
mod task;
mod timers;
mod waker;

pub mod debug;
pub mod generator;
pub mod guide;
pub mod http;
pub mod io;
pub mod net;
pub mod pool;
pub mod signal;
pub mod sync;
pub mod time;

pub use callback::{CallbackHandle, call_at, call_later, call_soon};
#[doc(hidden)]
pub use combinators::__select_if; // for `select!`
pub use combinators::{
    AsCompleted, Either, GroupError, GroupFailed, ReturnWhen, TaskGroup, as_completed, gather,
    race, select, wait,
};
pub use event_loop::{EventLoop, Turn, run, try_run};
pub use handle::LoopHandle;
pub use pool::spawn_blocking;
pub use report::{Report, ReportKind};
pub use stats::{Stats, stats};
pub use task::{
    Builder, CancelOnDrop, PanicError, Task, TaskError, TaskId, TaskRef, TaskState, YieldNow,
    all_tasks, current_task, spawn, yield_now,
};

/// The README's code, checked as a doc test so that it stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
