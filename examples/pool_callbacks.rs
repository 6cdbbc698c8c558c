//! Seed 001's lesson: `add_done_callback` on a thread pool, then the
//! crawler built from chained callbacks (爬虫三部曲: get_page → parse →
//! save).
//!
//! First (part 0), the seed's 异步回调 (asynchronous callback) on a plain
//! thread, and the way it replaces 轮询 (polling: "重复的隔一段时间就问一次 —
//! 效率低 无法及时获取结果", asking again and again, wasteful and late):
//!
//! ```python
//! def task(callback):
//!     print("run")
//!     for i in range(100000000): 1+1
//!     callback("ok")
//!
//! def finished(res):
//!     print("任务完成!", res)
//!
//! print("start")
//! t = Thread(target=task, args=(finished,))
//! t.start()        # 执行task时 没有导致主线程卡主 (main is not held up)
//! print("over")
//! ```
//!
//! `Thread(target=task, args=(finished,))` is `std::thread::spawn(move ||
//! task(finished))`: a function handed to the thread, which calls it when
//! the work is done. Watch for "over" before "任务完成!", and for the
//! polling version, which asks many times and still learns late.
//!
//! ```python
//! def task(num):
//!     time.sleep(1)
//!     print(num)
//!     return "hello python"
//!
//! def callback(obj):
//!     print(obj.result())
//!
//! pool = ThreadPoolExecutor()
//! res = pool.submit(task, 123)
//! res.add_done_callback(callback)
//! print("over")
//! ```
//!
//! Then the crawler: `get_page(index_url)` with `parse_index` as its
//! callback, which submits `get_page(detail_url)` for every link with
//! `parse_detail` as *its* callback, which submits `save_video`. The pages
//! are fake — [`fetch`] returns canned HTML after a short sleep — so it
//! runs without a network.
//!
//! Where does a callback run? Each part runs twice:
//!
//! * submitted from the main thread (no loop): on the worker thread that
//!   finished the job, like `concurrent.futures` (or right away on the
//!   caller, if the job had already finished when the callback was added);
//! * submitted from inside `corio::run`: on the loop's thread (here `main`),
//!   queued there like asyncio's `call_soon_threadsafe` — so callbacks can
//!   touch the loop's tasks, and never run at the same time as each other.
//!
//! How `main` knows the whole chain is done, with no sleeping: every job
//! and callback of a crawl holds a clone of a channel's sender. A callback
//! that submits more work hands clones on; when the last job or callback
//! finishes, the last sender is dropped, and the receiving loop in `main`
//! ends.
//!
//! Run it: `cargo run --release --example pool_callbacks`

#[macro_use]
mod common;

use std::sync::Arc;
use std::time::Duration;

use corio::pool::{JobResult, ThreadPool};

/// How long a fake page takes to "download".
const PAGE_TIME: Duration = Duration::from_millis(40);

/// Prints a line after the name of the thread we are on: `main`, or a
/// pool thread such as `crawler-2`.
fn say(line: &str) {
    let thread = std::thread::current();
    say!("  [{:<9}] {line}", thread.name().unwrap_or("?"));
}

// ---------------------------------------------------------------------------
// Part 0: a plain thread, polled or calling back.

/// Seed 001's first `task(callback)`: some work (a 100 ms sleep here,
/// for the seed's counting loop), then it calls the function it was given.
fn task_with_callback(callback: impl FnOnce(&str)) {
    say("run   (task)");
    std::thread::sleep(Duration::from_millis(100));
    callback("ok");
}

/// Seed 001's `finished(res)`: the callback, called on the task's thread.
fn finished(res: &str) {
    say(&format!("任务完成! {res}   (finished, the callback)"));
}

/// 轮询 (polling): main asks "done yet?" every 30 ms, and each answer can
/// be up to 30 ms late.
fn polling() {
    let start = std::time::Instant::now();
    let t = std::thread::Builder::new()
        .name("Thread-1".into())
        .spawn(|| task_with_callback(|_res| {})) // a callback that does nothing
        .expect("a thread can be started");
    let mut asked = 1;
    while !t.is_finished() {
        std::thread::sleep(Duration::from_millis(30)); // doing nothing useful
        asked += 1;
    }
    say(&format!(
        "asked {asked} times; learned it was done after {:.0} ms (the task took 100 ms)",
        start.elapsed().as_secs_f64() * 1000.0
    ));
    t.join().expect("the task does not panic");
}

/// 异步回调: `t = Thread(target=task, args=(finished,)); t.start()`.
fn thread_with_callback() -> std::thread::JoinHandle<()> {
    say("start");
    let t = std::thread::Builder::new()
        .name("Thread-2".into())
        .spawn(|| task_with_callback(finished)) // target=task, args=(finished,)
        .expect("a thread can be started");
    say("over   (main goes on at once)");
    t
}

// ---------------------------------------------------------------------------
// Parts 1 and 2: a callback on a thread-pool job.

/// Seed 001's `task(num)`: sleeps (1 s in the seed, 0.1 s here), prints
/// `num`, returns `"hello python"`.
fn task(num: u32) -> &'static str {
    std::thread::sleep(Duration::from_millis(100));
    say(&format!("{num}   (task)"));
    "hello python"
}

/// Seed 001's `callback(obj)`: prints the job's result.
fn callback(result: &JobResult<&'static str>) {
    match result {
        Ok(text) => say(&format!("{text}   (callback)")),
        Err(err) => say(&format!("the job failed: {err}   (callback)")),
    }
}

/// `submit(task, 123).add_done_callback(callback)`, then `print("over")`.
/// Waiting on the handle at the end returns only after the callback ran.
fn submit_with_callback(pool: &ThreadPool) -> corio::pool::JobHandle<&'static str> {
    let res = pool.submit(|| task(123)).expect("the queue is unbounded");
    res.add_done_callback(callback);
    say("over   (main goes on at once)");
    res
}

// ---------------------------------------------------------------------------
// The crawler.

/// A fake `requests.get(url).text`: waits a little, returns canned HTML.
/// Index pages link to two detail pages; detail pages ending in `-2` have
/// no video.
fn fetch(url: &str) -> String {
    std::thread::sleep(PAGE_TIME);
    if let Some((_, n)) = url
        .strip_suffix(".html")
        .and_then(|u| u.rsplit_once("list-3-"))
    {
        format!(
            r#"<div class="items"><a href="/p/{n}-1.html">one</a></div>
               <div class="items"><a href="/p/{n}-2.html">two</a></div>"#
        )
    } else if url.ends_with("-2.html") {
        "<p>this page has no video</p>".to_string()
    } else {
        let id = url
            .rsplit('/')
            .next()
            .unwrap_or("x")
            .trim_end_matches(".html");
        format!(r#"<video><source src="http://www.xiaohuar.com/v/{id}.mp4"></video>"#)
    }
}

/// `re.findall('<start>(.*?)<end>', html)`, without a regex crate.
fn find_all(html: &str, start: &str, end: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find(start) {
        rest = &rest[at + start.len()..];
        let Some(stop) = rest.find(end) else { break };
        found.push(rest[..stop].to_string());
        rest = &rest[stop..];
    }
    found
}

/// What every job and callback of one crawl carries: the pool to submit
/// to, and where to report a saved video. `saved` owns the channel's
/// sender, so dropping the last clone of a `Crawl` closes the channel.
#[derive(Clone)]
struct Crawl {
    pool: Arc<ThreadPool>,
    saved: Arc<dyn Fn(String) + Send + Sync>,
}

/// 一 发送请求: `get_page(url)`, on a pool thread.
fn get_page(url: String) -> String {
    say(&format!("{url} GET start ..."));
    fetch(&url)
}

/// `pool.submit(get_page, url).add_done_callback(then)`.
fn submit_page(crawl: &Crawl, url: String, then: fn(Crawl, &JobResult<String>)) {
    let job = crawl
        .pool
        .submit(move || get_page(url))
        .expect("the queue is unbounded");
    let crawl = crawl.clone();
    job.add_done_callback(move |page| then(crawl, page));
    // Dropping `job` detaches it: it still runs, and so does its callback.
}

/// 二 解析主页: the callback of an index page; submits its detail pages.
fn parse_index(crawl: Crawl, page: &JobResult<String>) {
    let Ok(html) = page else { return };
    let detail_urls = find_all(html, r#"<div class="items"><a href=""#, "\"");
    say(&format!(
        "parse_index: {} links   (callback)",
        detail_urls.len()
    ));
    for detail_url in detail_urls {
        let detail_url = if detail_url.starts_with("http") {
            detail_url
        } else {
            format!("http://www.xiaohuar.com{detail_url}")
        };
        submit_page(&crawl, detail_url, parse_detail);
    }
}

/// 二 解析详情页: the callback of a detail page; submits `save_video`.
fn parse_detail(crawl: Crawl, page: &JobResult<String>) {
    let Ok(html) = page else { return };
    let video_urls = find_all(html, r#"<source src=""#, "\"");
    say(&format!("== {video_urls:?}   (parse_detail callback)"));
    if let Some(video_url) = video_urls.into_iter().next() {
        let saver = crawl.clone();
        let job = crawl.pool.submit(move || save_video(saver, video_url));
        drop(job.expect("the queue is unbounded")); // no callback: detach it
    }
}

/// 三 保存数据: `save_video(url)`, on a pool thread (the file is fake too).
fn save_video(crawl: Crawl, video_url: String) {
    say(&format!("--- {video_url}   (save_video)"));
    std::thread::sleep(PAGE_TIME);
    (crawl.saved)(video_url);
}

/// The seed's `__main__`: one `get_page` per index page, with
/// `parse_index` as the callback. Returns at once; `crawl` (and so the
/// report channel) lives on in the jobs and callbacks.
fn start_crawl(crawl: Crawl, pages: u32) {
    let base_url = "http://www.xiaohuar.com/list-3-{}.html";
    for line in 0..pages {
        submit_page(
            &crawl,
            base_url.replace("{}", &line.to_string()),
            parse_index,
        );
    }
}

fn main() {
    common::no_arguments(
        "seed 001: a callback handed to a thread (vs polling), then done callbacks on \
         thread-pool jobs, from threads and from a loop",
    );
    let pool = Arc::new(
        ThreadPool::builder()
            .core_threads(8)
            .thread_name("crawler")
            .build(),
    );

    say!("0) a plain thread, polled (轮询), then handed a callback (异步回调):");
    polling();
    let t = thread_with_callback();
    // Python waits for a (non-daemon) thread at exit; Rust's main does not,
    // so join it before going on.
    t.join().expect("the task does not panic");
    say!("   -> the callback ran on the task's own thread, as soon as it was done\n");

    say!("1) submit(task, 123).add_done_callback(callback), from the main thread:");
    let res = submit_with_callback(&pool);
    assert_eq!(res.wait(), Ok("hello python")); // after the callback ran
    say!("   -> the callback ran on the pool thread that finished the job\n");

    say!("2) the same, submitted from corio::run's main future (on the loop):");
    let res = corio::run(async { submit_with_callback(&pool).await });
    assert_eq!(res, Ok("hello python"));
    say!("   -> the callback ran on the loop's thread, main\n");

    say!("3) the crawler, submitted from the main thread (callbacks on pool threads):");
    let (tx, rx) = std::sync::mpsc::channel();
    let crawl = Crawl {
        pool: Arc::clone(&pool),
        saved: Arc::new(move |video| tx.send(video).expect("main is receiving")),
    };
    start_crawl(crawl, 2);
    // Ends once the last job or callback of the crawl has dropped its sender.
    let saved: Vec<String> = rx.iter().collect();
    say!("   -> saved {} videos: {saved:?}\n", saved.len());

    say!("4) the crawler, submitted from inside corio::run (callbacks on the loop):");
    let saved = corio::run(async {
        let (tx, mut rx) = corio::pool::channel::unbounded();
        let crawl = Crawl {
            pool: Arc::clone(&pool),
            saved: Arc::new(move |video| tx.send(video).expect("the main future is receiving")),
        };
        start_crawl(crawl, 2);
        let mut saved = Vec::new();
        // `None` once every sender is gone: the whole chain has finished.
        while let Some(video) = rx.recv().await {
            say(&format!("main future got {video}"));
            saved.push(video);
        }
        saved
    });
    say!("   -> saved {} videos: {saved:?}", saved.len());
}
