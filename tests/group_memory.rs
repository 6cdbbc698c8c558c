//! Memory of a long-lived `TaskGroup` (a server's supervisor): children
//! that finished are not all kept until `join`.
//!
//! Its own test binary, with one test: it reads this process's resident
//! memory, which anything running beside it would disturb.

mod common;

use common::rss;
use std::time::Duration;

use corio::TaskGroup;

#[test]
fn a_long_lived_group_lets_go_of_children_that_finished() {
    corio::run(async {
        let mut group = TaskGroup::<(), ()>::new();
        for _ in 0..1000 {
            group.spawn(async { Ok(()) });
        }
        corio::time::sleep(Duration::from_millis(5)).await;
        let before = rss();
        const CHILDREN: usize = 200_000;
        for _ in 0..CHILDREN / 1000 {
            for _ in 0..1000 {
                group.spawn(async { Ok(()) });
            }
            corio::yield_now().await;
            corio::yield_now().await;
        }
        let per_child = rss().saturating_sub(before) / CHILDREN;
        // It used to keep each finished child's handle and loop slot until
        // `join`: about 250 bytes each. What it must keep is the output's
        // place in the list `join` returns (and a few bytes of bookkeeping).
        assert!(per_child < 100, "{per_child} bytes per finished child");
        assert_eq!(group.join().await.unwrap().len(), CHILDREN + 1000);
    });
}
