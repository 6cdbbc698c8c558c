//! Seed 004: coroutine object → task object → done callback → event loop.
//!
//! The Python lesson (it sleeps with a blocking `time.sleep(2)`: with one
//! task, nothing else waits — the next lesson, `sleep_lesson`, shows why
//! that matters; this twin awaits `corio::time::sleep`, for half a second):
//!
//! ```python
//! async def get_request(url):
//!     print('正在请求的网址是:', url)
//!     time.sleep(2)
//!     print('请求网址结束!')
//!     return 123
//!
//! def t_callback(t):
//!     data = t.result()
//!     print('我是任务对象的回调函数!, 获取到特殊函数的返回值为:', data)
//!
//! c = get_request('www.1.com')        # a coroutine object: nothing runs yet
//! task = asyncio.ensure_future(c)     # a task object
//! task.add_done_callback(t_callback)  # runs once the task is done
//! loop = asyncio.get_event_loop()
//! loop.run_until_complete(task)
//! ```
//!
//! Run it: `cargo run --example hello_task`

#[macro_use]
mod common;

use std::time::Duration;

use corio::{EventLoop, TaskError};

/// 特殊函数 (the "special function"): calling it only builds a future.
async fn get_request(url: &str) -> u32 {
    say!("正在请求的网址是 (requesting): {url}");
    corio::time::sleep(Duration::from_millis(500)).await;
    say!("请求网址结束! (request done)");
    123
}

/// 回调函数 (the callback): gets the task's outcome by reference.
fn t_callback(outcome: &Result<u32, TaskError>) {
    match outcome {
        Ok(data) => say!("我是任务对象的回调函数! (the task's callback) got: {data}"),
        Err(err) => say!("the task failed: {err}"),
    }
}

fn main() -> std::io::Result<()> {
    common::no_arguments(
        "seed 004: a coroutine becomes a task on the loop; its done callback runs when it finishes",
    );
    // 协程对象 (coroutine object): a future; nothing has run yet.
    let c = get_request("www.1.com");

    // 事件循环对象 (the event loop) and 任务对象 (a task object on it).
    let mut lp = EventLoop::new()?;
    let task = lp.spawn(c); // asyncio.ensure_future(c)
    task.add_done_callback(t_callback);

    // Start the loop; it returns when the task is done.
    let result = lp.run_until_complete(task);
    say!("run_until_complete returned {result:?}");
    Ok(())
}
