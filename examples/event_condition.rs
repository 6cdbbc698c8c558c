//! Seed 002's tables of `Event` and `Condition` methods, as code: each
//! method in turn, with a line saying what it did.
//!
//! The seed's Event table (一个线程设置Event对象，另一个线程等待Event对象 — one
//! thread sets the event, another waits for it):
//!
//! | 对象方法  | 说明 (what it does)                                        |
//! |-----------|------------------------------------------------------------|
//! | `set()`   | 设置Event对象内部信号为真 — sets the flag                   |
//! | `isSet()` | 判断对象内部的信号标志 — reads the flag (`is_set()` here)   |
//! | `clear()` | 清除对象内部的信号标志 — clears the flag                    |
//! | `wait()`  | 内部信号为真，很快执行 — flag set: returns at once;          |
//! |           | 内部信号为假，一直等待至超时或信号变成真 — flag clear: waits |
//! |           | until a timeout, or until the flag is set                  |
//!
//! The seed's Condition table lists `wait()`, `notify()` and `notify_all()`
//! (condition对象可以在某些事件触发后才处理数据 — process data only once
//! something happened). A [`Condition`] goes with a [`Lock`] guarding the
//! data: `wait(guard)` gives up the lock while it sleeps and takes it back
//! before it returns, `notify(n)` wakes `n` waiters, `notify_all()` all of
//! them, and `wait_for(guard, predicate)` is the `while not predicate:
//! wait()` loop written for you. The scenes follow the seed's 爬图 crawler:
//!
//! 1. **Event**: three crawlers wait for a start signal;
//! 2. **wait, notify(n), notify_all**: three downloaders wait on a shelf of
//!    image URLs a producer fills, one URL, then two, then closes it;
//! 3. **wait_for**: three tasks each wait until enough pages are crawled.
//!
//! Run it: `cargo run --release --example event_condition`

#[macro_use]
mod common;

use std::collections::VecDeque;
use std::fmt::Display;
use std::rc::Rc;
use std::time::{Duration, Instant};

use corio::sync::{Condition, Event, Lock};
use corio::time::{sleep, timeout};

const STEP: Duration = Duration::from_millis(50);

/// Prints one line with the time since `start`.
fn say(start: Instant, what: impl Display) {
    say!("  [{:4.2} s] {what}", start.elapsed().as_secs_f64());
}

/// Spawns `count` tasks made by `make` and waits for them all.
async fn spawn_all<F: Future<Output = ()> + 'static>(count: usize, make: impl Fn(usize) -> F) {
    let tasks: Vec<_> = (0..count).map(|i| corio::spawn(make(i))).collect();
    for outcome in corio::gather(tasks).await {
        outcome.expect("the example's tasks do not panic");
    }
}

// ---------------------------------------------------------------- 1) Event

/// A crawler waiting for the start signal: `event.wait()` with the flag
/// clear waits until someone sets it.
async fn crawler(i: usize, go: Rc<Event>, start: Instant) {
    say(start, format!("爬虫-{i} (crawler): go.wait() …"));
    go.wait().await;
    say(
        start,
        format!("爬虫-{i}: woken — 信号变成真 (the flag was set)"),
    );
}

/// Each Event method of the seed's table in turn.
async fn event_methods(start: Instant) {
    let go = Rc::new(Event::new());
    say(
        start,
        format!("Event::new(); go.is_set() = {}  (isSet)", go.is_set()),
    );

    let waited = timeout(STEP, go.wait()).await;
    say(
        start,
        format!(
            "timeout(0.05 s, go.wait()): {}  (内部信号为假，一直等待至超时: waits until the \
             timeout)",
            if waited.is_err() {
                "timed out"
            } else {
                "returned"
            }
        ),
    );

    let crawlers = corio::spawn(spawn_all(3, {
        let go = go.clone();
        move |i| crawler(i, go.clone(), start)
    }));
    sleep(STEP).await; // the crawlers are all waiting now
    say(
        start,
        "go.set()  (设置Event对象内部信号为真): wakes every waiter",
    );
    go.set();
    crawlers.await.expect("the crawlers do not panic");

    let before = Instant::now();
    go.wait().await;
    say(
        start,
        format!(
            "go.is_set() = {}; go.wait() returned in {:.3} s  (内部信号为真，很快执行: at once)",
            go.is_set(),
            before.elapsed().as_secs_f64()
        ),
    );

    go.clear();
    let waited = timeout(STEP, go.wait()).await;
    say(
        start,
        format!(
            "go.clear()  (清除对象内部的信号标志): is_set() = {}; go.wait() {} again",
            go.is_set(),
            if waited.is_err() {
                "timed out"
            } else {
                "returned"
            }
        ),
    );
}

// ------------------------------------------- 2) wait, notify(n), notify_all

/// The data the condition is about, behind the lock: image URLs to
/// download, and whether more will come.
#[derive(Default)]
struct Shelf {
    images: VecDeque<String>,
    closed: bool,
}

/// A downloader: the classic condition loop (`with cond: while not
/// images: cond.wait()`), then a download outside the lock. Leaves when
/// the shelf is closed and empty.
async fn downloader(i: usize, shelf: Rc<Lock<Shelf>>, cond: Rc<Condition>, start: Instant) {
    loop {
        let mut guard = shelf.lock().await; // with cond: (takes the lock)
        let mut woken = "";
        while guard.images.is_empty() && !guard.closed {
            say(
                start,
                format!("消费线程-{i}: no image → cond.wait()  (lock released)"),
            );
            guard = cond.wait(guard).await; // sleeps; returns with the lock again
            woken = "woken, ";
        }
        let Some(image) = guard.images.pop_front() else {
            say(
                start,
                format!("消费线程-{i}: shelf closed → 任务完成~ (done)"),
            );
            return;
        };
        drop(guard); // don't hold the lock while downloading
        say(start, format!("消费线程-{i}: {woken}took {image}"));
        sleep(STEP / 5).await;
        say(
            start,
            format!("消费线程-{i}: {image} 下载完成 (downloaded)"),
        );
    }
}

/// The producer: one image and `notify(1)`, two images and `notify(2)`,
/// then closes the shelf and calls `notify_all()`.
async fn condition_methods(start: Instant) {
    let shelf = Rc::new(Lock::new(Shelf::default()));
    let cond = Rc::new(Condition::new());
    let downloaders = corio::spawn(spawn_all(3, {
        let (shelf, cond) = (shelf.clone(), cond.clone());
        move |i| downloader(i, shelf.clone(), cond.clone(), start)
    }));
    sleep(STEP).await; // all three are waiting now

    let mut next = 1;
    for n in [1, 2] {
        let mut guard = shelf.lock().await;
        for _ in 0..n {
            guard.images.push_back(format!("img{next}.jpg"));
            next += 1;
        }
        say(
            start,
            format!("生产线程: put {n} image(s) → cond.notify({n}): wakes {n} waiter(s)"),
        );
        // Like Python, notify while holding the lock (corio does not insist).
        cond.notify(n);
        drop(guard);
        sleep(STEP).await;
    }

    shelf.lock().await.closed = true;
    say(
        start,
        "生产线程: shelf closed → cond.notify_all(): wakes every waiter",
    );
    cond.notify_all();
    downloaders.await.expect("the downloaders do not panic");
}

// ------------------------------------------------------------- 3) wait_for

/// Waits with `wait_for` until at least `want` pages are crawled, and
/// counts how often the predicate was checked.
async fn wait_for_pages(
    i: usize,
    want: u32,
    pages: Rc<Lock<u32>>,
    cond: Rc<Condition>,
    start: Instant,
) {
    let guard = pages.lock().await;
    say(
        start,
        format!("waiter-{i}: cond.wait_for(pages >= {want}) …"),
    );
    let mut checks = 0;
    let guard = cond
        .wait_for(guard, |&crawled| {
            checks += 1;
            crawled >= want
        })
        .await;
    say(
        start,
        format!(
            "waiter-{i}: pages = {} >= {want}, true at check number {checks}",
            *guard
        ),
    );
}

/// A crawler counts pages and calls `notify_all()` after each one; each
/// waiter's `wait_for` checks its predicate again and sleeps on until it
/// holds.
async fn wait_for_method(start: Instant) {
    let pages = Rc::new(Lock::new(0));
    let cond = Rc::new(Condition::new());
    let waiters = corio::spawn(spawn_all(3, {
        let (pages, cond) = (pages.clone(), cond.clone());
        move |i| wait_for_pages(i, 2 * (i as u32 + 1), pages.clone(), cond.clone(), start)
    }));
    corio::yield_now().await; // let them start waiting

    for _ in 0..6 {
        sleep(STEP / 2).await;
        let mut crawled = pages.lock().await;
        *crawled += 1;
        say(
            start,
            format!("爬虫: page {} crawled → cond.notify_all()", *crawled),
        );
        cond.notify_all();
    }
    waiters.await.expect("the waiters do not panic");
}

fn main() {
    common::no_arguments("seed 002: the methods of Event and Condition, one by one");
    let start = Instant::now();
    corio::run(async move {
        say!("1) Event: set, is_set, clear, wait");
        event_methods(start).await;
        say!("\n2) Condition: wait, notify(n), notify_all");
        condition_methods(start).await;
        say!(
            "\n3) Condition: wait_for(guard, predicate) — every notify_all wakes every waiter; \
             wait_for checks its predicate and sleeps again while it is false"
        );
        wait_for_method(start).await;
    });
    say!("\n总耗时 (total): {:.2} s", start.elapsed().as_secs_f64());
}
