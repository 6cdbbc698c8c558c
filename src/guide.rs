//! How corio works inside — a guided tour for readers who know asyncio,
//! gevent or `threading`. It follows a task, a turn of the loop, a socket
//! read, a timer and a thread-pool job through the runtime, with examples
//! that step the loop ([`EventLoop::run_once`](crate::EventLoop::run_once))
//! and read the [`Turn`](crate::Turn) each step returns; then a glossary
//! maps the words of the Chinese tutorials corio grew from (the *seeds*).
//!
//! # 1. The life of a task
//!
//! **Spawn.** [`corio::spawn`](crate::spawn) (asyncio's `ensure_future`,
//! gevent's `spawn`) finds the loop running on this thread in a
//! thread-local, and panics with "no running event loop" outside one;
//! [`EventLoop::spawn`](crate::EventLoop::spawn) takes the loop itself,
//! which need not be running yet. The future is boxed into a slot of the
//! loop's task slab, and the task is named by a *key*: the slot's index plus
//! a sequence number that counts up from 1 and never repeats within the loop
//! (it is also the [`TaskId`](crate::TaskId)). The key goes on the back of
//! the *ready queue* — one FIFO list (a `Vec`) of task polls and callbacks,
//! asyncio's `_ready` — and the [`Task`](crate::Task) handle is just that
//! key. Nothing runs inside `spawn`; the first poll comes at the next turn.
//!
//! **Poll.** A turn takes the key and looks the slot up: a key whose slot is
//! empty, or holds a task with another sequence number, is *stale* and polls
//! nothing. The future is moved out of its slot and polled with no borrow of
//! the loop held (it may spawn, wake, cancel) inside `catch_unwind` (a panic
//! becomes the outcome [`TaskError::Panicked`](crate::TaskError::Panicked)).
//! A task [cancelled](crate::Task::cancel) meanwhile is not polled: its
//! future is dropped, and its outcome is `Err(Cancelled)`.
//!
//! **The waker** is built by `futures-task`'s `ArcWake` from an `Arc` that
//! holds the task's key and the loop's thread-safe half. Calling it runs
//! nothing; it only *enqueues*:
//!
//! * **Same thread.** If the loop running on the calling thread is the
//!   waker's own, the key is pushed on the ready queue — unless the task is
//!   already queued or finished, or the key is stale: such wakes are
//!   ignored. No lock, no atomic. A task waking its own waker during its
//!   poll (a [`yield_now`](crate::yield_now)) is only noted, and queued when
//!   the poll returns.
//! * **Another thread** (or this one while the loop is not running). The
//!   waker pushes itself on the loop's mutex-protected *remote queue* (once
//!   until the loop takes it) and pokes the loop's `mio::Waker` (once per
//!   batch), which interrupts a loop asleep in `epoll_wait`. The next turn
//!   moves remote wakes to the ready queue, with the same checks.
//!
//! After a `Pending` poll the future goes back into its slot, and the waker
//! into a pool for re-use — unless somebody kept a clone of it, or the task
//! woke itself: then it stays with the task.
//!
//! **Completion.** When the future returns `Ready`, the outcome is stored in
//! the slot. Then: if the task has done callbacks, one entry that runs them
//! is queued; else, if the handle was dropped, the slot is freed at once (a
//! panic nobody can see is reported, asyncio's "Task exception was never
//! retrieved"); else whoever awaits the handle is woken.
//!
//! **Done callbacks.** [`Task::add_done_callback`](crate::Task::add_done_callback)
//! is asyncio's `add_done_callback` (gevent's `link`), but the callback gets
//! `&Result<T, TaskError>` rather than the task. As in asyncio, callbacks run
//! on the loop through the ready queue — at a later turn, never inside
//! `add_done_callback` or the task's last poll — in the order added; one
//! added after the task finished is queued at once. A panicking callback is
//! caught and reported. The outcome is *lent* to them: the handle gets it
//! only after they ran.
//!
//! **Awaiting the handle.** `Task<T>` is a future of `Result<T, TaskError>`.
//! Polled too early, it leaves the awaiter's waker in the slot; once the
//! outcome is ready, it frees the slot and returns it. **Detaching:**
//! dropping the handle (or [`Task::detach`](crate::Task::detach)) lets the
//! task run on, as in gevent; its slot goes when it finishes. (asyncio's
//! loop holds its tasks only weakly, and its docs tell you to keep a
//! reference so that a task does not vanish mid-run: corio's slab owns the
//! task, so dropping the handle never loses it.)
//! [`Task::cancel_on_drop`](crate::Task::cancel_on_drop) does the opposite.
//!
//! ```rust
//! use std::cell::RefCell;
//! use std::rc::Rc;
//!
//! let mut lp = corio::EventLoop::new()?;
//! let log = Rc::new(RefCell::new(Vec::new()));
//! let task = lp.spawn(async { 6 * 7 }); // a slot, a key on the ready queue; nothing runs
//! let (a, b) = (log.clone(), log.clone());
//! task.add_done_callback(move |outcome| a.borrow_mut().push(format!("first {outcome:?}")));
//! task.add_done_callback(move |outcome| b.borrow_mut().push(format!("second {outcome:?}")));
//!
//! // Turn 1: the task's only poll. It is done; its callbacks are queued, not run.
//! let turn = lp.run_once();
//! assert_eq!((turn.tasks_polled, turn.callbacks_run), (1, 0));
//! assert!(task.is_done() && log.borrow().is_empty());
//!
//! assert_eq!(lp.run_once().callbacks_run, 2); // turn 2: both, in the order added
//! assert_eq!(*log.borrow(), ["first Ok(42)", "second Ok(42)"]);
//!
//! assert_eq!(lp.run_until_complete(task), Ok(42)); // takes the outcome, frees the slot
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! A waker may outlive its task. Woken after its task ended and another
//! task took the slot, it polls nobody, and the loop's statistics do not
//! count it as a wake. (Woken between turns, while the loop is not
//! running, it takes the remote path; the loop finds the task gone when it
//! takes the wake in.)
//!
//! ```rust
//! use std::cell::RefCell;
//! use std::rc::Rc;
//! use std::task::{Poll, Waker};
//!
//! let mut lp = corio::EventLoop::new()?;
//! let kept: Rc<RefCell<Option<Waker>>> = Rc::default();
//! let k = kept.clone();
//! let first = lp.spawn(std::future::poll_fn(move |cx| {
//!     *k.borrow_mut() = Some(cx.waker().clone());
//!     Poll::Ready("done")
//! }));
//! assert_eq!(lp.run_until_complete(first), Ok("done")); // its slot is free again
//! let second = lp.spawn(std::future::pending::<()>()); // reuses the slot, new sequence number
//! assert_eq!(lp.run_once().tasks_polled, 1);
//!
//! kept.borrow().as_ref().unwrap().wake_by_ref(); // names the first task: stale
//! let turn = lp.run_once();
//! assert_eq!(turn.tasks_polled, 0, "the wake was ignored");
//! assert_eq!(lp.stats().remote_wakes, 0, "and not counted");
//! drop(second);
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # 2. One turn of the loop
//!
//! Everything corio runs — task polls and callbacks — runs inside one
//! private function, `EventLoop::turn` (asyncio's `_run_once`). A turn:
//!
//! 1. **Takes in remote work**: wakes and
//!    [`call_soon_threadsafe`](crate::LoopHandle::call_soon_threadsafe)
//!    callbacks that other threads queued join the ready queue.
//! 2. **Decides whether to look outside** (steps 2 to 5). With nothing
//!    ready it always looks, and may wait; with work ready, only once every
//!    61 ready-queue entries run — polls and callbacks (a zero-timeout
//!    `epoll_wait` costs more than a poll) — or fewer while they are slow,
//!    about once per millisecond of work, so a
//!    task that keeps waking itself cannot starve I/O and timers. The
//!    timeout is zero if work is ready, else the time to the next timer,
//!    else "forever" — unless nothing could ever bring work (no timer, no
//!    task whose waker somebody holds, no [`LoopHandle`](crate::LoopHandle),
//!    no remote work): then the turn returns at once, [`Turn::idle`](crate::Turn::idle)
//!    (`run_forever` waits instead, as asyncio's does).
//! 3. **Waits** in `mio::Poll::poll` for I/O, a poke from another thread,
//!    or the timeout.
//! 4. **Wakes I/O waiters**: the tasks parked on sockets that became ready,
//!    and takes in the remote queue again if another thread poked the loop.
//! 5. **Fires due timers**: sleeping tasks are woken, `call_later`
//!    callbacks queued.
//! 6. **Runs what is ready now, and only that**: it takes the whole ready
//!    queue, leaving an empty one in its place, and runs its entries — task
//!    polls, callbacks, done-callback lists — in FIFO order. Whatever becomes
//!    ready meanwhile (a task woken or spawned, a callback scheduled) lands
//!    in the new queue and waits for the next turn.
//!
//! [`run_once`](crate::EventLoop::run_once) is exactly one turn.
//! [`run_until_complete`](crate::EventLoop::run_until_complete) (whose main
//! future is polled in place, not spawned) and
//! [`run_forever`](crate::EventLoop::run_forever) turn until done, running
//! the next turns' step 6 at once while the look would be skipped anyway.
//!
//! ```rust
//! use std::time::{Duration, Instant};
//!
//! let mut lp = corio::EventLoop::new()?;
//! let start = Instant::now();
//! let napper = lp.spawn(async {
//!     corio::time::sleep(Duration::from_millis(5)).await;
//!     "rested"
//! });
//! let parent = lp.spawn(async {
//!     corio::spawn(async {}).detach(); // becomes ready during the run phase
//! });
//! lp.call_soon(|| println!("a callback"));
//!
//! // Turn 1: work is ready, so no waiting and no look outside; it runs the
//! // three entries queued when its run phase began. The napper parks.
//! let turn = lp.run_once();
//! assert_eq!((turn.tasks_polled, turn.callbacks_run), (2, 1));
//! assert_eq!((turn.slept, turn.timers_fired), (Duration::ZERO, 0));
//!
//! // Turn 2: the child spawned during turn 1.
//! assert_eq!(lp.run_once().tasks_polled, 1);
//!
//! // Turn 3: nothing is ready, so it waits in mio's poll until the timer is
//! // due, fires it (the napper is queued) and polls the napper.
//! let turn = lp.run_once();
//! assert_eq!((turn.timers_fired, turn.tasks_polled), (1, 1));
//! assert!(start.elapsed() >= Duration::from_millis(5));
//!
//! assert_eq!(lp.run_until_complete(napper), Ok("rested"));
//! drop(parent);
//! assert!(lp.run_once().idle, "nothing is ready, and nothing ever could be");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # 3. How a socket read suspends and resumes
//!
//! A [`net`](crate::net) socket is a nonblocking OS socket registered with
//! the loop's reactor (a `mio::Poll`: epoll on Linux). Events are
//! edge-triggered — a socket *became* readable, said once — so the reactor
//! keeps each socket's readiness bits between events. A
//! [`TcpStream::read`](crate::net::TcpStream::read):
//!
//! 1. **Tries first.** A socket starts out marked ready both ways, so the
//!    read simply calls `read(2)`. If data is there, that is all.
//! 2. **On `WouldBlock`, parks.** It clears the socket's read readiness and
//!    leaves a clone of the task's waker in the socket's entry in the
//!    reactor, then returns `Pending`, and so does the task. (`Interrupted`
//!    is retried at once.)
//! 3. **An event comes.** A later turn looks outside (and waits, if
//!    nothing else is ready); epoll reports the socket once bytes arrive.
//!    The event's token, (generation, slot), must match the registered
//!    socket, so an event for a socket dropped meanwhile is ignored. The
//!    reactor sets the readiness bit and collects the parked wakers; step 4
//!    of the turn wakes them.
//! 4. **Wake, poll, retry.** The wake is the same-thread path (the key goes
//!    on the ready queue), step 6 of the same turn polls the task, and the
//!    read future, finding the bit set, tries `read(2)` again — which now
//!    succeeds.
//!
//! On Linux a short read clears the bit too (the kernel's buffer is empty;
//! new data makes a new edge), so the next read parks without a failing
//! system call. Parking a socket on a loop other than its own panics.
//!
//! ```rust
//! use std::time::Duration;
//! use corio::net::{TcpListener, TcpStream};
//!
//! corio::run(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let addr = listener.local_addr()?;
//!     let reader = corio::spawn(async move {
//!         let (mut conn, _) = listener.accept().await?;
//!         let mut buf = [0; 16];
//!         let n = conn.read(&mut buf).await?; // no data yet: WouldBlock, the task parks
//!         std::io::Result::Ok(buf[..n].to_vec())
//!     });
//!     let mut client = TcpStream::connect(addr).await?;
//!     corio::time::sleep(Duration::from_millis(5)).await;
//!     assert!(!reader.is_done(), "parked in the reactor");
//!
//!     let events_before = corio::stats().io_events;
//!     client.write_all(b"hello").await?; // an epoll event wakes the reader
//!     let got = reader.await.unwrap()?;
//!     assert!(!got.is_empty() && b"hello".starts_with(&got));
//!     assert!(corio::stats().io_events > events_before);
//!     Ok::<(), std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # 4. How a timer fires
//!
//! [`time::sleep(d)`](crate::time::sleep) fixes its deadline (now + `d`)
//! when it is called. Its first poll, unless the deadline has passed, arms
//! a timer: an entry in the loop's queue of deadlines (asyncio's
//! `_scheduled`, a min-heap there; in corio, buckets of about 4 ms kept in
//! order, each sorted when it comes due) that says whom to wake. Polled with the waker of the task
//! (or main future) being polled right now — the usual `sleep(d).await` —
//! it stores that task's *key* rather than a clone of the waker, which can
//! then go back to the pool; only another waker (a combinator's, another
//! executor's) is cloned.
//!
//! A turn with nothing ready waits for the queue's earliest deadline: step 2
//! makes it the timeout of `mio::Poll::poll`. Step 5 pops every entry due
//! by the clock the look just read (after the wait, if it waited), earliest first (ties in arming order): a
//! sleep's task is scheduled, a [`call_later`](crate::call_later) callback
//! queued. Never early; late by however long the loop was busy. Dropping a
//! [`Sleep`](crate::time::Sleep) disarms it: its entry stays in the queue,
//! dead, and is skipped when its bucket comes due (a queue of 64 entries
//! or more is rebuilt once over half of them are dead). `sleep(Duration::ZERO)` completes at once,
//! without yielding — unless the task's poll has spent its budget of 128
//! operations (socket operations, due sleeps, reads a
//! [`BufReader`](crate::io::BufReader) serves from its buffer, and polls of
//! locks, semaphores, queues, channels and events): then it yields once;
//! [`yield_now`](crate::yield_now) is `asyncio.sleep(0)`.
//!
//! ```rust
//! use std::cell::RefCell;
//! use std::rc::Rc;
//! use std::time::{Duration, Instant};
//!
//! let mut lp = corio::EventLoop::new()?;
//! let woke = Rc::new(RefCell::new(Vec::new()));
//! let start = Instant::now();
//! for ms in [6, 2, 4] {
//!     let woke = woke.clone();
//!     lp.spawn(async move {
//!         corio::time::sleep(Duration::from_millis(ms)).await;
//!         woke.borrow_mut().push(ms);
//!     })
//!     .detach();
//! }
//! // Turn 1: three first polls; each sleep arms its timer and parks its task.
//! let turn = lp.run_once();
//! assert_eq!((turn.tasks_polled, turn.timers_fired), (3, 0));
//!
//! // Then each turn waits for the earliest deadline, fires what is due and
//! // polls the tasks it woke, until nothing is left.
//! let mut fired = 0;
//! loop {
//!     let turn = lp.run_once();
//!     if turn.idle {
//!         break;
//!     }
//!     fired += turn.timers_fired;
//! }
//! assert_eq!(fired, 3);
//! assert_eq!(*woke.borrow(), [2, 4, 6], "deadline order, not spawn order");
//! assert!(start.elapsed() >= Duration::from_millis(6), "never early");
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # 5. How a thread-pool job comes back
//!
//! One blocking call in a task stops every task of its loop; such work goes
//! to a thread pool. [`spawn_blocking(f)`](crate::spawn_blocking) (asyncio's
//! `to_thread`) submits `f` to the loop's default pool — created at first
//! use, with up to `min(32, cores + 4)` threads, started one at a time as
//! jobs find none idle — and spawns a task that awaits the job's
//! [`JobHandle`](crate::pool::JobHandle); you get that task's handle.
//!
//! 1. The pool hands the job to an idle thread (as Python's
//!    `ThreadPoolExecutor` does; Java's pool would start another core
//!    thread first), or starts a core thread, or queues it — then, as in
//!    Java's pool, which a [`pool::ThreadPool`](crate::pool::ThreadPool)
//!    you build yourself follows, extra threads and a
//!    [`Policy`](crate::pool::Policy) for when its queue is full.
//! 2. The task polls the `JobHandle`: the job is not done, so the handle
//!    stores a clone of the task's waker in the job's shared state (a
//!    `Mutex`, plus a `Condvar` for plain threads that
//!    [`wait`](crate::pool::JobHandle::wait)), and the task parks.
//! 3. A worker thread runs `f` (a panic is caught, and the task ends
//!    `Panicked`), stores the result and calls the waker: on a thread with
//!    no loop, that is the remote path (remote queue + `mio::Waker`).
//! 4. The loop, asleep in `mio::Poll::poll`, wakes at once (no polling on
//!    a timer) and polls the task, which takes the result and finishes.
//!
//! ```rust
//! use std::sync::mpsc;
//!
//! corio::run(async {
//!     let (go, wait_for_go) = mpsc::channel::<()>();
//!     let loop_thread = std::thread::current().id();
//!     let job = corio::spawn_blocking(move || {
//!         wait_for_go.recv().unwrap(); // blocking: fine on a pool thread
//!         std::thread::current().id()
//!     });
//!     corio::yield_now().await; // the job's task runs, finds the job pending, parks
//!     let remote_before = corio::stats().remote_wakes;
//!     go.send(()).unwrap();
//!     let worker_thread = job.await.unwrap(); // the loop sleeps until the worker's wake
//!     assert_ne!(worker_thread, loop_thread);
//!     assert_eq!(corio::stats().remote_wakes, remote_before + 1);
//! });
//! ```
//!
//! A [`JobHandle`](crate::pool::JobHandle) is a future too. Done callbacks
//! of a job submitted from a loop run on that loop, before the handle gets
//! the result — seed 001's `pool.submit(task).add_done_callback(callback)`:
//!
//! ```rust
//! use std::sync::mpsc;
//! use corio::pool::ThreadPool;
//!
//! let pool = ThreadPool::new(2);
//! corio::run(async {
//!     let loop_thread = std::thread::current().id();
//!     let (tx, rx) = mpsc::channel();
//!     let job = pool.submit(|| 6 * 7).unwrap();
//!     job.add_done_callback(move |result| {
//!         tx.send((std::thread::current().id(), result.clone())).unwrap();
//!     });
//!     assert_eq!(job.await, Ok(42));
//!     assert_eq!(rx.try_recv().unwrap(), (loop_thread, Ok(42)));
//! });
//! ```
//!
//! # 6. Watching it happen
//!
//! Everything above can be watched on a live loop ([`corio::debug`](crate::debug)):
//! [`stats`](crate::stats()) counts turns, polls and wakes;
//! [`EventLoop::dump`](crate::EventLoop::dump) lists the tasks with what
//! each waits on — found by matching waker addresses against the timer queue
//! and the reactor, the very places sections 3 and 4 park them, and (in
//! debug mode) the sync primitives; a pool job's waker (section 5) shows as
//! held elsewhere, on another thread; and [`EventLoop::set_trace`](crate::EventLoop::set_trace) records
//! each spawn, poll, wake and completion, which the `timeline` example draws
//! and Perfetto opens. Here the trace shows section 1's life of a task,
//! step by step:
//!
//! ```
//! use corio::debug::TraceKind;
//!
//! let mut lp = corio::EventLoop::new()?;
//! lp.set_trace(true);
//! let id = lp.run_until_complete(async {
//!     let task = corio::spawn(async { corio::yield_now().await });
//!     let id = task.id();
//!     task.await.unwrap();
//!     id
//! });
//! let life: Vec<TraceKind> = lp
//!     .trace_events()
//!     .into_iter()
//!     .filter(|e| e.task == Some(id) && !matches!(e.kind, TraceKind::Spawn { .. }))
//!     .map(|e| e.kind)
//!     .collect();
//! assert_eq!(
//!     life,
//!     [
//!         TraceKind::PollStart,                // first poll: yield_now wakes itself…
//!         TraceKind::Wake { remote: false },   // …which only notes the wake
//!         TraceKind::PollEnd,                  // Pending: queued again
//!         TraceKind::PollStart,                // next turn
//!         TraceKind::PollEnd,                  // Ready
//!         TraceKind::Complete,                 // outcome stored, the awaiting main future woken
//!     ]
//! );
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! # 7. Glossary
//!
//! The seeds' words, what Python calls them, and where they live in corio.
//!
//! | 中文 (seeds) | Python | corio | note |
//! |---|---|---|---|
//! | 事件循环 | `asyncio.get_event_loop()`, `run_until_complete` | [`EventLoop`](crate::EventLoop), [`run`](crate::run) | the container of tasks; `!Send`, one running per thread |
//! | 任务对象 | `asyncio.ensure_future(c)`, gevent `Greenlet` | [`Task`](crate::Task), [`spawn`](crate::spawn) | a spawned future in a slab slot; the handle is its key |
//! | 协程对象 / 特殊函数 | calling an `async def` (the 特殊函数) | calling an `async fn`, an `async` block: a [`Future`] | runs nothing until polled |
//! | 挂起 | `await` on something not ready | `.await` of a `Pending` future, [`yield_now`](crate::yield_now) | the task leaves its waker behind and the loop runs others |
//! | 回调函数 | `task.add_done_callback(cb)`, `greenlet.link` | [`Task::add_done_callback`](crate::Task::add_done_callback), [`call_soon`](crate::call_soon) | runs on the loop at a later turn, never inline |
//! | 异步回调 | `pool.submit(f).add_done_callback(cb)` | [`JobHandle::add_done_callback`](crate::pool::JobHandle::add_done_callback) | runs on the submitting loop if there is one |
//! | 轮询 | asking again and again | — | what corio never does: a parked task is polled again only once woken |
//! | 阻塞 | `time.sleep`, `requests.get` | [`spawn_blocking`](crate::spawn_blocking) | blocking calls in a task stop the loop; send them to the pool |
//! | 非阻塞 | non-blocking socket, `select` | [`net::TcpStream`](crate::net::TcpStream) | try, and park on `WouldBlock` (section 3) |
//! | 同步 / 异步 / 串行 | wait for it / go on meanwhile / one after another | `.await` / [`spawn`](crate::spawn) / `a.await; b.await;` | awaiting waits here; spawning goes on |
//! | 并发 | many threads taking turns on one core | tasks on one loop, [`gather`](crate::gather) | interleaved at each `.await` |
//! | 并行 | processes or threads on several cores | [`pool::ThreadPool`](crate::pool::ThreadPool), one loop per thread | Rust has no GIL (全局解释器锁): pool threads use every core |
//! | 计算密集型 / IO密集型 | CPU-bound / IO-bound | [`spawn_blocking`](crate::spawn_blocking) / tasks | CPU work to the pool, waiting to tasks |
//! | 线程 | `threading.Thread(target=f).start()`, `join()` | [`spawn`](crate::spawn), `task.await` | a task is far cheaper than a thread |
//! | 守护线程 | `t.daemon = True` | [`run`](crate::run) | tasks left when the main future ends are cancelled |
//! | 线程池 / 进程池 | `ThreadPoolExecutor`, `threadpool`, `multiprocessing.dummy.Pool` / `ProcessPoolExecutor` | [`pool::ThreadPool`](crate::pool::ThreadPool), [`ThreadPool::map`](crate::pool::ThreadPool::map) | core/max threads, keep-alive, queue, policy; no processes: threads suffice |
//! | 休眠 | `time.sleep(d)`, `asyncio.sleep(d)`, `gevent.sleep(d)` | [`time::sleep`](crate::time::sleep) | parks the task; never `std::thread::sleep` in a task |
//! | 超时 | `join(timeout=)`, `asyncio.wait_for`, `gevent.Timeout` | [`time::timeout`](crate::time::timeout) | the inner future is dropped on time-out |
//! | 就绪 | ready to run | the ready queue; [`debug::dump`](crate::debug::dump) shows who is on it | a woken task waits there for the next run phase ([`TaskState::Pending`](crate::TaskState::Pending) covers ready and parked alike) |
//! | 互斥锁 | `threading.Lock`, `acquire()` / `release()` | [`sync::Lock`](crate::sync::Lock) | still needed on one thread: tasks switch at each `.await` |
//! | 信号量 | `Semaphore(3)` | [`sync::Semaphore`](crate::sync::Semaphore), [`BoundedSemaphore`](crate::sync::BoundedSemaphore) | limits how many at once; fair |
//! | 事件 | `threading.Event`: `set`, `clear`, `wait` | [`sync::Event`](crate::sync::Event) | `set` wakes every waiter |
//! | 条件变量 | `threading.Condition` (the seeds' "Condition对象") | [`sync::Condition`](crate::sync::Condition) | `wait(guard)` releases the lock while waiting |
//! | 队列 (生产者 / 消费者) | `queue.Queue`, `asyncio.Queue` | [`sync::Queue`](crate::sync::Queue), [`pool::channel`](crate::pool::channel) | between tasks (`put` waits when full) / from threads to tasks |
//! | 管道 | `multiprocessing.Pipe` | [`sync::mpsc`](crate::sync::mpsc) | one way, between tasks (Python's pipe is two-way by default: two channels) |
//! | 迭代器 / 可迭代对象 | `__iter__`, `__next__` | `Iterator`, [`generator::Gen`](crate::generator::Gen) | a `Gen` that takes no `send` values is an `Iterator` |
//! | 生成器 | `yield`, `next(g)`, `g.send(v)` | [`generator::Gen`](crate::generator::Gen), [`generator::Co`](crate::generator::Co) | an `async` body driven by hand, no loop |
//! | 协程 (gevent) | `gevent.spawn`, `joinall`, `getcurrent` | [`spawn`](crate::spawn), [`gather`](crate::gather), [`current_task`](crate::current_task) | no monkey-patching: use corio's sockets and timers |
