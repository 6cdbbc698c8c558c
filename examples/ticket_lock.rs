//! Seed 004's 同步锁 (lock) lesson: a shared ticket counter loses sales
//! without a lock — even on one thread.
//!
//! ```python
//! def work():
//!     global n
//!     lock.acquire()            # 上锁 (the seed's second version)
//!     temp = n
//!     time.sleep(random.random())
//!     n = temp - 1
//!     lock.release()            # 解锁
//! ```
//!
//! Here 10 sellers sell 10 tickets each from a counter of 100. Each sale
//! reads the counter, `.await`s (the seed's `time.sleep`, here
//! [`corio::yield_now`]), then writes back what it read minus one.
//!
//! **Why does one thread need a lock?** Python threads are switched by the
//! interpreter at any bytecode; corio's tasks are switched only at an
//! `.await`. But that is exactly where a sale stops: between the read and
//! the write, the task is suspended and the loop runs the other sellers,
//! which read the same, stale count. When they all write back, nine of
//! every ten sales are lost. A [`Lock`] held across the `.await` makes
//! read–await–write one step for everyone else: they wait for the guard.
//! (A read and a write with no `.await` between them need no lock: nothing
//! else can run in between — the third part shows it.)
//!
//! The seed's other version (抢票, a `db.txt` with `{"count": 1}` read, slept
//! on, and written back by three processes) is the same race.
//!
//! The fourth part times the seed's warning, "加锁的代价就是使得程序失去了异步
//! 效果" (the price of a lock is losing the concurrency): with a real sleep
//! inside each sale, the sellers without the lock overlap their sleeps
//! (fast, and wrong); with it, they take turns (right, and as slow as
//! selling one by one).
//!
//! Run it: `cargo run --release --example ticket_lock`

#[macro_use]
mod common;

use std::cell::Cell;
use std::rc::Rc;

use corio::sync::Lock;

const TICKETS: u32 = 100;
const SELLERS: u32 = 10;
const SALES_EACH: u32 = 10;
/// Sellers whose first sale is traced, step by step.
const TRACED: u32 = 3;

/// Prints one step of a sale, for the first sale of the first few sellers.
fn trace(seller: u32, sale: u32, step: &str) {
    if sale == 0 && seller < TRACED {
        say!("    售票员 (seller) {seller}: {step}");
    }
}

/// The seed's first `work()`, without a lock: `temp = n`, sleep,
/// `n = temp - 1` (the seed sells once per thread; here each seller sells
/// ten times, so that the loss is plain to see).
async fn sell_without_lock(seller: u32, tickets: Rc<Cell<u32>>) {
    for sale in 0..SALES_EACH {
        let temp = tickets.get(); // temp = n
        trace(seller, sale, &format!("读到 (read)   {temp}"));
        corio::yield_now().await; // time.sleep(..): the other sellers run here
        tickets.set(temp - 1); // n = temp - 1, from a stale temp
        trace(seller, sale, &format!("写回 (wrote)  {}", temp - 1));
    }
}

/// The seed's second `work()`: the same sale, with the lock held from the
/// read to the write.
async fn sell_with_lock(seller: u32, tickets: Rc<Lock<u32>>) {
    for sale in 0..SALES_EACH {
        let mut n = tickets.lock().await; // lock.acquire()
        let temp = *n;
        trace(
            seller,
            sale,
            &format!("读到 (read)   {temp}  (holding the lock)"),
        );
        corio::yield_now().await; // suspended, but the others wait for the lock
        *n = temp - 1;
        trace(seller, sale, &format!("写回 (wrote)  {}", temp - 1));
        // `n`, the guard, is dropped here: lock.release()
    }
}

/// A read and a write with no `.await` between them: nothing can run in
/// between, so no lock is needed. The `.await` comes after the sale.
async fn sell_in_one_step(tickets: Rc<Cell<u32>>) {
    for _ in 0..SALES_EACH {
        tickets.set(tickets.get() - 1); // no suspension point inside
        corio::yield_now().await; // the others run, between whole sales
    }
}

/// Starts one task per seller and waits for them all (the seed's
/// `t.start()` … `t.join()`).
async fn run_sellers<F: Future<Output = ()> + 'static>(sell: impl Fn(u32) -> F) {
    let sellers: Vec<_> = (0..SELLERS)
        .map(|seller| corio::spawn(sell(seller)))
        .collect();
    for outcome in corio::gather(sellers).await {
        outcome.expect("a seller does not panic");
    }
}

/// Prints what is left (the seed's `print('全局变量n的值为:', n)`) against
/// what should be left, and returns it.
fn report(left: u32) -> u32 {
    let sold = SELLERS * SALES_EACH;
    let should = TICKETS - sold;
    let lost = left - should;
    say!(
        "  {sold} 张票已售出 (tickets sold); 剩余车票数量为 (tickets left): {left}, \
         should be {should} → {lost} sales lost\n"
    );
    left
}

fn main() {
    common::no_arguments(
        "seed 004: a shared ticket counter loses sales without a lock, none with one",
    );
    say!(
        "{SELLERS} sellers × {SALES_EACH} sales from {TICKETS} tickets; \
         each sale: read, .await, write\n"
    );

    say!("1) 未上锁 (no lock): Rc<Cell<u32>>");
    let unlocked = report(corio::run(async {
        let tickets = Rc::new(Cell::new(TICKETS));
        run_sellers(|seller| sell_without_lock(seller, tickets.clone())).await;
        tickets.get()
    }));

    say!("2) 上锁 (with the lock): Rc<Lock<u32>>");
    let locked = report(corio::run(async {
        let tickets = Rc::new(Lock::new(TICKETS));
        run_sellers(|seller| sell_with_lock(seller, tickets.clone())).await;
        *tickets.lock().await
    }));

    say!("3) no lock, but no .await between the read and the write:");
    let one_step = report(corio::run(async {
        let tickets = Rc::new(Cell::new(TICKETS));
        run_sellers(|_| sell_in_one_step(tickets.clone())).await;
        tickets.get()
    }));

    let should = TICKETS - SELLERS * SALES_EACH;
    assert_eq!(locked, should, "the lock loses no sale");
    assert_eq!(one_step, should, "a sale with no .await inside is atomic");
    say!(
        "no lock: {unlocked} left (wrong); lock: {locked} left; one step: {one_step} left \
         (right)"
    );
    say!("\n4) 加锁的代价 (the price of the lock): one sale each, sleeping 20 ms inside it");
    let pause = std::time::Duration::from_millis(20);
    for with_lock in [false, true] {
        let started = std::time::Instant::now();
        let left = corio::run(async move {
            let tickets = Rc::new(Lock::new(SELLERS));
            let sellers: Vec<_> = (0..SELLERS)
                .map(|_| {
                    let tickets = Rc::clone(&tickets);
                    corio::spawn(async move {
                        if with_lock {
                            let mut n = tickets.lock().await;
                            corio::time::sleep(pause).await;
                            *n -= 1;
                        } else {
                            // The lock guards each access, not the sale: read,
                            // let go, sleep, write — the seed's unlocked
                            // `temp = n; sleep; n = temp - 1`.
                            let temp = *tickets.lock().await;
                            corio::time::sleep(pause).await;
                            *tickets.lock().await = temp - 1;
                        }
                    })
                })
                .collect();
            for outcome in corio::gather(sellers).await {
                outcome.expect("a seller does not panic");
            }
            *tickets.lock().await
        });
        say!(
            "  {}: {left} of {SELLERS} left after {:.0?}",
            if with_lock {
                "with the lock   "
            } else {
                "without the lock"
            },
            started.elapsed()
        );
    }
    say!("  -> the lock makes the sales right, and makes them wait for each other");
}
