//! Seed 003's gevent lesson with named tasks.
//!
//! ```python
//! def f(n):
//!     for i in range(1, 5):
//!         print(gevent.getcurrent(), i)
//!
//! g1 = gevent.spawn(f, 5); g2 = gevent.spawn(f, 5); g3 = gevent.spawn(f, 5)
//! g1.join(); g2.join(); g3.join()
//! ```
//!
//! gevent printed each greenlet's four lines in a block: `f` never yields,
//! so a greenlet runs to the end once started. Coroutines switch only where
//! they wait. Adding `gevent.sleep(0)` — corio's `yield_now().await` —
//! makes them take turns.
//!
//! Run it: `cargo run --example gevent_style`

#[macro_use]
mod common;

use corio::Builder;

async fn f(n: u32, yield_each_time: bool) -> u32 {
    for i in 1..n {
        say!("  {} {i}", corio::current_task().expect("f runs as a task"));
        if yield_each_time {
            corio::yield_now().await; // gevent.sleep(0): let the others run
        }
    }
    n
}

fn main() {
    common::no_arguments(
        "seed 003: named tasks interleave, printing the current task, joined with gather",
    );
    corio::run(async {
        say!("Without yielding (like the seed's output): one after the other");
        let tasks: Vec<_> = (0..3)
            .map(|_| Builder::new().name("f(5)").spawn(f(5, false)))
            .collect();
        corio::gather(tasks).await; // gevent.joinall

        say!("\nWith yield_now() in the loop: they take turns");
        let tasks: Vec<_> = ["g1", "g2", "g3"]
            .into_iter()
            .map(|name| Builder::new().name(name).spawn(f(5, true)))
            .collect();
        let results = corio::gather(tasks).await;
        say!("\njoined: {results:?}");
    });
}
