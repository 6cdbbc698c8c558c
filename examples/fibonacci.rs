//! Seed 003's 迭代器 (iterator) and 生成器 (generator) lessons, side by side.
//!
//! The 迭代器 lesson has two programs. The first (part 0 here) is an
//! *iterable* whose `__iter__` hands out a separate *iterator* object:
//!
//! ```python
//! class my_class():
//!     def __init__(self): self.names = list()
//!     def add(self, name): self.names.append(name)
//!     def __iter__(self): return itor_class(self)   # a new iterator each time
//!
//! class itor_class():
//!     def __init__(self, obj): self.index = 0; self.obj = obj
//!     def __next__(self):
//!         if self.index < len(self.obj.names):
//!             ret = self.obj.names[self.index]; self.index += 1; return ret
//!         else:
//!             raise StopIteration
//!
//! for name in my_iter: print(name)
//! print('是否为可迭代对象;', isinstance(my_iter, Iterable))
//! ```
//!
//! In Rust, `__iter__` is `impl IntoIterator for &MyClass`, whose
//! `into_iter` returns a fresh [`ItorClass`] that borrows the names and
//! keeps its own index. Watch for: the iterable can be looped over again
//! and again (each `for` gets a new iterator), while one iterator, once
//! used up, yields nothing more. `isinstance` becomes a question for the
//! compiler: a function that takes `impl IntoIterator` (Python's
//! `Iterable`) or `impl Iterator` (`Iterator`) compiles only for values
//! that are one.
//!
//! The second program, and the 生成器 lesson after it, print the first
//! ten Fibonacci numbers: first with an iterator class that keeps its
//! state in fields and hands out one number per `__next__`:
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
//! its body stops. (`Fibonacci` is its own iterator, like the seed's
//! `__iter__` returning `self`: it can be looped over only once.)
//!
//! Run it: `cargo run --release --example fibonacci` (an optional argument
//! sets how many numbers, e.g. `-- 20`).

#[macro_use]
mod common;

// The module is `generator`, not `gen`: `gen` is a reserved keyword in
// Rust 2024 (it is kept for future built-in generators).
use corio::generator::{Gen, GenState};

/// Seed 003's `my_class`: an *iterable*. It holds the names; it does not
/// remember how far a loop has got — each iterator does that.
struct MyClass {
    names: Vec<String>,
}

impl MyClass {
    fn new() -> MyClass {
        MyClass { names: Vec::new() }
    }

    fn add(&mut self, name: &str) {
        self.names.push(name.to_string());
    }
}

/// `__iter__`: `for name in &my_iter` calls this, and gets a *new*
/// iterator every time.
impl<'a> IntoIterator for &'a MyClass {
    type Item = &'a str;
    type IntoIter = ItorClass<'a>;

    fn into_iter(self) -> ItorClass<'a> {
        ItorClass {
            obj: self,
            index: 0,
        } // itor_class(self)
    }
}

/// Seed 003's `itor_class`: the *iterator*. It points at the names
/// (`self.obj`) and keeps the index of the next one.
struct ItorClass<'a> {
    obj: &'a MyClass,
    index: usize,
}

impl<'a> Iterator for ItorClass<'a> {
    type Item = &'a str;

    /// `__next__`: `None` where Python raises `StopIteration`.
    fn next(&mut self) -> Option<&'a str> {
        if self.index < self.obj.names.len() {
            let ret = &self.obj.names[self.index];
            self.index += 1;
            Some(ret)
        } else {
            None
        }
    }
}

/// `isinstance(x, Iterable)`, asked of the compiler: this call compiles
/// only when `x` is something a `for` loop takes.
fn is_iterable<T: IntoIterator>(_x: &T) -> bool {
    true
}

/// `isinstance(x, Iterator)`: compiles only when `x` has a `next`.
fn is_iterator<T: Iterator>(_x: &T) -> bool {
    true
}

/// Part 0: the iterable and its separate iterator.
fn iterable_and_iterator() {
    let mut my_iter = MyClass::new();
    my_iter.add("a");
    my_iter.add("b");
    my_iter.add("c");

    // The seed's loop, twice: each `for` calls `into_iter` (`__iter__`)
    // again, so the second loop starts from the first name too.
    for round in 1..=2 {
        let names: Vec<&str> = (&my_iter).into_iter().collect();
        say!(
            "  for name in my_iter (loop {round}):   {}",
            names.join(" ")
        );
    }

    // One iterator, driven by hand: `itor = iter(my_iter)`, then
    // `next(itor)` until it is used up (Python: `StopIteration`; Rust:
    // `None`). It keeps its index: used up, it stays used up.
    let mut itor = (&my_iter).into_iter();
    let nexts: Vec<String> = (0..4).map(|_| format!("{:?}", itor.next())).collect();
    say!(
        "  itor = iter(my_iter); next(itor) × 4: {}",
        nexts.join(" ")
    );

    say!(
        "  是否为可迭代对象 isinstance(my_iter, Iterable): {}  (&MyClass: IntoIterator)",
        is_iterable(&&my_iter)
    );
    say!(
        "  ItorClass is an Iterator:                     {}  (Python says False for \
         itor_class: it has no __iter__)",
        is_iterator(&(&my_iter).into_iter())
    );
    // `is_iterator(&my_iter)` does not compile — Python's
    // `isinstance(my_iter, Iterator)` is False: `my_class` has no
    // `__next__`. Here Rust and Python part: Rust gives every `Iterator`
    // an `IntoIterator` that returns itself, so an `ItorClass` can be
    // looped over and is an `Iterator`. Python does not: the seed's
    // `itor_class` has `__next__` but no `__iter__`, so `for x in itor`
    // is a TypeError and `isinstance(itor, Iterator)` is False — a
    // Python iterator needs `def __iter__(self): return self` too.
    say!(
        "  isinstance(my_iter, Iterator):                false (is_iterator(&my_iter) does not compile)\n"
    );
}

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

    say!("0) 可迭代对象 (iterable) my_class and its iterator itor_class:");
    iterable_and_iterator();

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
    if taken > 0 {
        say!("\n   took {taken} numbers with next(); the body waits at its last yield");
    } else {
        say!("\n   took no number with next(); the body has not started");
    }
    say!("   resume(()) → {:?}", obj.resume(()));
    say!(
        "   next()     → {:?}  (finished: StopIteration again)",
        obj.next()
    );
}
