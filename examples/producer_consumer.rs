//! Seed 002's 爬图 (image crawler) lesson: 5 producers and 5 consumers
//! sharing a `queue.Queue`, as tasks on one loop.
//!
//! ```python
//! class Procuder(threading.Thread):           # 生产者 (producer)
//!     def run(self):
//!         while True:
//!             if self.page_queue.empty():
//!                 print(self.name + '任务完成~')
//!                 break
//!             ...
//!             self.img_queue.put((img_url, img_name))
//!
//! class Consumer(threading.Thread):           # 消费者 (consumer)
//!     def run(self):
//!         while True:
//!             if self.img_queue.empty() and self.page_queue.empty():
//!                 print(self.name + '任务完成~')
//!                 break
//!             img_url, img_name = self.img_queue.get()
//!             request.urlretrieve(img_url, './imgs/%s' % img_name)
//!             print(img_name + "下载完成")
//! ```
//!
//! Simpler than the seed, which chains two queues (producers take pages
//! from `page_queue` and put the image URLs they find into `img_queue`,
//! which the consumers download): here five producers put page URLs into
//! one bounded [`Queue`] (`maxsize` 5: a producer waits while it is full);
//! five consumers take them and "download" each one (a short sleep). The timestamps show both sides
//! overlapping, and the producers held back by the full queue. (`qsize`
//! counts the URLs in the queue, as asyncio's does — also one promised to
//! a consumer waiting in `get()` that has not run yet: so the first puts
//! show 1, 2, 3 though consumers wait.)
//!
//! **Ending cleanly.** The seed's consumers stop when they *see* an empty
//! queue — a race: a queue can be empty for a moment while a producer is
//! still working (the consumer quits too early), or a consumer can pass the
//! check and then block in `get()` for ever (the program hangs). Here
//! nobody guesses:
//!
//! 1. each consumer calls `task_done()` after each download;
//! 2. once the producers are done, `queue.join().await` returns when every
//!    URL put has been marked done;
//! 3. `queue.shutdown(false)` then makes the consumers' waiting `get()`
//!    fail with `QueueShutDown`, and they leave their loop.
//!
//! At the end every URL is checked to have been downloaded exactly once.
//!
//! Run it: `cargo run --release --example producer_consumer`

#[macro_use]
mod common;

use std::rc::Rc;
use std::time::{Duration, Instant};

use corio::sync::Queue;
use corio::time::sleep;

const PRODUCERS: usize = 5;
const CONSUMERS: usize = 5;
const PAGES_EACH: usize = 4;
const MAXSIZE: usize = 5;

/// Seed 002's page address, `http://www.doutula.com/photo/list/?page=%d`.
fn page_url(page: usize) -> String {
    format!("http://www.doutula.com/photo/list/?page={page}")
}

/// Seconds since `start`, for the timestamps.
fn secs(start: Instant) -> f64 {
    start.elapsed().as_secs_f64()
}

/// A fake download: 60 to 120 ms, depending on the page.
async fn download(page: usize) {
    sleep(Duration::from_millis(60 + 30 * (page % 3) as u64)).await;
}

/// 生产者: finds its pages (10 ms each) and puts their URLs into the
/// queue, waiting whenever it is full. Producer `p` has the pages `p + 1`,
/// `p + 1 + PRODUCERS`, …
async fn producer(p: usize, queue: Rc<Queue<(usize, String)>>, start: Instant) {
    for i in 0..PAGES_EACH {
        let page = p + 1 + i * PRODUCERS;
        sleep(Duration::from_millis(10)).await; // crawling the list page
        let full = queue.full();
        queue
            .put((page, page_url(page)))
            .await
            .expect("the queue is shut down only after the producers are done");
        say!(
            "  [{:4.2} s] 生产线程-{p} (producer) put page={page:<2} qsize {}{}",
            secs(start),
            queue.qsize(),
            if full {
                "  (waited: 队列满, queue full)"
            } else {
                ""
            }
        );
    }
    say!(
        "  [{:4.2} s] 生产线程-{p} 任务完成~ (producer done)",
        secs(start)
    );
}

/// 消费者: takes URLs until the queue is shut down, downloads each one and
/// marks it done. Returns the pages it downloaded.
async fn consumer(c: usize, queue: Rc<Queue<(usize, String)>>, start: Instant) -> Vec<usize> {
    let mut downloaded = Vec::new();
    while let Ok((page, url)) = queue.get().await {
        download(page).await;
        say!(
            "  [{:4.2} s] 消费线程-{c} (consumer) 下载完成 (downloaded) {url}",
            secs(start)
        );
        downloaded.push(page);
        queue.task_done().expect("one task_done per item got");
    }
    // get() failed: the queue was shut down and is empty.
    say!(
        "  [{:4.2} s] 消费线程-{c} 任务完成~ (consumer done: queue shut down)",
        secs(start)
    );
    downloaded
}

fn main() {
    common::no_arguments("seed 002: producers and consumers sharing a bounded queue");
    let start = Instant::now();
    let downloads = corio::run(async move {
        let queue = Rc::new(Queue::new(MAXSIZE)); // Queue(5)
        let consumers: Vec<_> = (0..CONSUMERS)
            .map(|c| corio::spawn(consumer(c, queue.clone(), start)))
            .collect();
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|p| corio::spawn(producer(p, queue.clone(), start)))
            .collect();

        for outcome in corio::gather(producers).await {
            outcome.expect("a producer does not panic");
        }
        say!(
            "  [{:4.2} s] all producers done; queue.join() …",
            secs(start)
        );
        queue.join().await; // every URL put has had its task_done()
        say!(
            "  [{:4.2} s] queue.join() returned: every URL downloaded; queue.shutdown(false)",
            secs(start)
        );
        queue.shutdown(false); // the consumers' get() fails: they leave

        corio::gather(consumers)
            .await
            .into_iter()
            .map(|outcome| outcome.expect("a consumer does not panic"))
            .collect::<Vec<_>>()
    });

    // Every page, downloaded exactly once.
    for (c, pages) in downloads.iter().enumerate() {
        say!("消费线程-{c} downloaded pages {pages:?}");
    }
    let mut all: Vec<usize> = downloads.concat();
    all.sort_unstable();
    let expected: Vec<usize> = (1..=PRODUCERS * PAGES_EACH).collect();
    assert_eq!(all, expected, "every URL downloaded exactly once");
    say!(
        "{} URLs put, {} downloaded, each exactly once; 总耗时 (total): {:.2} s",
        expected.len(),
        all.len(),
        secs(start)
    );
}
