//! Seed 003's 迭代器 (iterator) and 生成器 (generator) lessons, side by side.
//!
//! The seed prints the first ten Fibonacci numbers twice. First with an
//! iterator class that keeps its state in fields and hands out one number
//! per `__next__`:
//!
//! ```python
//! class Fibonacci():
//!     def __init__(self, all_num):
//!         self.all_num = all_num; self.cur_num = 0; self.a = 0; self.b = 1
//!     def __iter__(self):
//!         return self
//!     def __next__(self):
//!         if self.cur_num < self.all_num:
//!             ret = self.a
//!             self.cur_num += 1
//!             self.a, self.b = self.b, self.a + self.b
//!             return ret
//!         else:
//!             raise StopIteration
//! ```
//!
//! then with a generator, a function whose state is its local variables and
//! that stops at each `yield` ("把 return 替换成 yield"):
//!
//! ```python
//! def create_num(all_num):
//!     a, b = 0, 1
//!     cur_num = 0
//!     while cur_num < all_num:
//!         yield a
//!         a, b = b, a + b
//!         cur_num += 1
//! ```
//!
//! In Rust the class is a struct implementing [`Iterator`] (`next` returns
//! `None` where Python raises `StopIteration`), and the generator is a
//! [`Gen`] whose `async` body calls `co.yield_(a).await`. Both print the
//! same numbers; the last part resumes the generator by hand to show where
//! its body stops.
//!
//! Run it: `cargo run --release --example fibonacci` (an optional argument
//! sets how many numbers, e.g. `-- 20`).

#[macro_use]
mod common;

// The module is `generator`, not `gen`: `gen` is a reserved keyword in
// Rust 2024 (it is kept for future built-in generators).
use corio::generator::{Gen, GenState};

/// Seed 003's `class Fibonacci`: the state lives in fields, and each call
/// of `next` (Python's `__next__`) computes one number from them.
struct Fibonacci {
    all_num: u32,
    cur_num: u32,
    a: u64,
    b: u64,
}

impl Fibonacci {
    /// `Fibonacci(all_num)`: `__init__` sets the counters and `a, b = 0, 1`.
    fn new(all_num: u32) -> Fibonacci {
        Fibonacci {
            all_num,
            cur_num: 0,
            a: 0,
            b: 1,
        }
    }
}

impl Iterator for Fibonacci {
    type Item = u64;

    /// `__next__`: the next number, or `None` (Python: `raise StopIteration`).
    fn next(&mut self) -> Option<u64> {
        if self.cur_num < self.all_num {
            let ret = self.a;
            self.cur_num += 1;
            (self.a, self.b) = (self.b, self.a + self.b);
            Some(ret)
        } else {
            None
        }
    }
}

/// Seed 003's `create_num(all_num)`: the same numbers, but the state is the
/// body's local variables, kept alive across each `yield`.
///
/// The body ends by returning how many numbers it yielded: Python's
/// `return` in a generator, which arrives as `StopIteration.value`.
fn create_num(all_num: u32) -> Gen<u64, u32> {
    Gen::new(move |co| async move {
        let (mut a, mut b) = (0u64, 1u64);
        let mut cur_num = 0;
        while cur_num < all_num {
            co.yield_(a).await; // yield a: stop here until the next `next()`
            (a, b) = (b, a + b);
            cur_num += 1;
        }
        cur_num
    })
    .boxed()
}

/// Seed 003's `for num in obj: print(num, end=' ')`, for any iterator.
fn print_all(label: &str, numbers: impl Iterator<Item = u64>) -> Vec<u64> {
    let numbers: Vec<u64> = numbers.collect();
    let line: Vec<String> = numbers.iter().map(u64::to_string).collect();
    let out = format!("  {label:<15} {}", line.join(" "));
    say!("{}", out.trim_end());
    numbers
}

/// A generator that says what its body is doing, resumed by hand: the body
/// runs only inside `resume`, from one `yield` to the next.
fn step_by_step() {
    let mut obj = Gen::new(|co| async move {
        say!("      body: started, a, b = 0, 1");
        let (mut a, mut b) = (0u64, 1u64);
        for _ in 0..3 {
            say!("      body: yield {a}");
            co.yield_(a).await;
            say!("      body: back after the yield, a, b = b, a + b");
            (a, b) = (b, a + b);
        }
        say!("      body: loop over, return \"done\"");
        "done"
    });
    say!("    obj = a talking create_num(3): nothing has run yet");
    loop {
        say!("    resume →");
        match obj.resume(()) {
            Ok(GenState::Yielded(n)) => say!("    ← Yielded({n})"),
            Ok(GenState::Complete(r)) => {
                say!("    ← Complete({r:?})  (Python: StopIteration, value {r:?})");
                break;
            }
            Err(err) => panic!("unexpected: {err}"),
        }
    }
}

fn main() {
    let usage = "usage: fibonacci [HOW MANY, 0 to 92; default 10]";
    let all_num = match common::one_argument(usage) {
        None => 10,
        Some(arg) => match arg.parse::<u32>() {
            Ok(n) if n <= 92 => n, // past 92, `a + b` overflows a u64
            _ => common::bad_argument(usage, &arg),
        },
    };

    say!("1) 迭代器 (iterator): struct Fibonacci + impl Iterator");
    let from_iterator = print_all(&format!("Fibonacci({all_num}):"), Fibonacci::new(all_num));

    say!("2) 生成器 (generator): Gen + co.yield_(a).await");
    let from_generator = print_all(&format!("create_num({all_num}):"), create_num(all_num));

    assert_eq!(from_iterator, from_generator);
    say!("   same numbers: {}", from_iterator == from_generator);

    say!("\n3) 通过 next() 执行 (driven by next): where the body stops");
    step_by_step();

    // A `for` loop (the `Iterator` impl) drops the body's return value;
    // `resume` hands it over, like catching `StopIteration` and reading
    // its `.value`.
    let mut obj = create_num(all_num);
    let taken = obj.by_ref().take(all_num as usize).count();
    say!("\n   took {taken} numbers with next(); the body waits at its last yield");
    say!("   resume(()) → {:?}", obj.resume(()));
    say!(
        "   next()     → {:?}  (finished: StopIteration again)",
        obj.next()
    );
}
