//! `select` and `race`: the first of two futures.

use std::pin::pin;
use std::task::Poll;

/// The output of [`select`]: which future finished first.
///
/// # Examples
///
/// ```
/// use corio::Either;
///
/// let e: Either<i32, &str> = Either::Left(1);
/// assert!(e.is_left());
/// assert_eq!(e.left(), Some(1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Either<L, R> {
    /// The first future won.
    Left(L),
    /// The second future won.
    Right(R),
}

impl<L, R> Either<L, R> {
    /// Did the first future win?
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(corio::Either::<(), ()>::Left(()).is_left());
    /// ```
    pub fn is_left(&self) -> bool {
        matches!(self, Either::Left(_))
    }

    /// Did the second future win?
    ///
    /// # Examples
    ///
    /// ```
    /// assert!(corio::Either::<(), ()>::Right(()).is_right());
    /// ```
    pub fn is_right(&self) -> bool {
        matches!(self, Either::Right(_))
    }

    /// The first future's output, if it won.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(corio::Either::<i32, i32>::Right(2).left(), None);
    /// ```
    pub fn left(self) -> Option<L> {
        match self {
            Either::Left(l) => Some(l),
            Either::Right(_) => None,
        }
    }

    /// The second future's output, if it won.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(corio::Either::<i32, i32>::Right(2).right(), Some(2));
    /// ```
    pub fn right(self) -> Option<R> {
        match self {
            Either::Left(_) => None,
            Either::Right(r) => Some(r),
        }
    }
}

/// Waits for the first of two futures and drops the other.
///
/// `a` is polled before `b` each time, so if both are ready `a` wins. The
/// loser is dropped — cancelled, unless it is a [`Task`](crate::Task), which
/// dropping detaches.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use corio::{Either, time::sleep};
///
/// corio::run(async {
///     let fast = async { sleep(Duration::from_millis(1)).await; "fast" };
///     let slow = async { sleep(Duration::from_secs(60)).await; 60 };
///     assert_eq!(corio::select(fast, slow).await, Either::Left("fast"));
/// });
/// ```
pub async fn select<A: Future, B: Future>(a: A, b: B) -> Either<A::Output, B::Output> {
    let mut a = pin!(a);
    let mut b = pin!(b);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(out) = a.as_mut().poll(cx) {
            return Poll::Ready(Either::Left(out));
        }
        if let Poll::Ready(out) = b.as_mut().poll(cx) {
            return Poll::Ready(Either::Right(out));
        }
        Poll::Pending
    })
    .await
}

/// The output of whichever of two futures of the same output type finishes
/// first; the other is dropped. See [`select`].
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use corio::time::sleep;
///
/// corio::run(async {
///     let a = async { sleep(Duration::from_millis(20)).await; "a" };
///     let b = async { sleep(Duration::from_millis(1)).await; "b" };
///     assert_eq!(corio::race(a, b).await, "b");
/// });
/// ```
pub async fn race<T>(a: impl Future<Output = T>, b: impl Future<Output = T>) -> T {
    match select(a, b).await {
        Either::Left(out) | Either::Right(out) => out,
    }
}

/// Waits for the first of several futures and runs that branch — tokio's
/// `select!` (with `biased;`), asyncio's `wait(.., FIRST_COMPLETED)` with
/// the winner's code in place.
///
/// Each branch is `pattern = future => expression`, separated by commas
/// (optional after a `{ .. }` body). The futures are made at once, then
/// polled in the order written (the first ready one wins, as in
/// [`select`], which this nests); the others are dropped. The winner's
/// output is bound to its pattern by `let` — so the pattern must be
/// irrefutable (a name, `_`, a tuple, `ref mut v`; tokio's `Some(v) =`
/// gets "refutable pattern in local binding": match inside the body
/// instead) — and its expression is the value of the whole `select!`. The expressions run in the enclosing function, so
/// `?`, `return`, `break` and `continue` act there. Use it inside `async`
/// code (it `.await`s).
///
/// As in tokio, a branch may have a guard — `pattern = future, if
/// condition => expression` — evaluated first (all guards, in written
/// order): a branch whose guard is false is disabled for this `select!`,
/// its future made but never polled (a loop's `next()` on a set that may
/// be empty, say). An `else => expression` branch, last, runs when every
/// branch is disabled; without one, that panics (as tokio's does).
///
/// # Examples
///
/// A worker that takes messages until told to stop, and says when it is
/// idle:
///
/// ```
/// use std::rc::Rc;
/// use std::time::Duration;
/// use corio::{sync::{Event, mpsc}, time::sleep};
///
/// corio::run(async {
///     let (tx, mut rx) = mpsc::channel::<u32>(8);
///     let stop = Rc::new(Event::new());
///     let stopper = Rc::clone(&stop);
///     corio::spawn(async move {
///         for n in 1..=3 {
///             tx.send(n).await.unwrap();
///         }
///         sleep(Duration::from_millis(30)).await; // the worker goes idle
///         stopper.set();
///     })
///     .detach();
///     let (mut sum, mut idle) = (0, 0);
///     loop {
///         corio::select! {
///             () = stop.wait() => break,
///             message = rx.recv() => match message {
///                 Some(n) => sum += n,
///                 None => break, // every sender is gone
///             },
///             () = sleep(Duration::from_millis(10)) => idle += 1,
///         }
///     }
///     assert_eq!(sum, 6);
///     assert!(idle >= 1);
/// });
/// ```
///
/// Guards: a server's loop that accepts work and reaps finished tasks —
/// the reaping branch only while there are tasks (an empty
/// [`as_completed`](crate::as_completed) set ends at once, and would win
/// every time):
///
/// ```
/// use std::time::Duration;
/// use corio::time::sleep;
///
/// corio::run(async {
///     let mut running = corio::as_completed(Vec::<corio::Task<u32>>::new());
///     let (mut started, mut finished) = (0, 0);
///     let mut ticks = corio::time::interval(Duration::from_millis(2));
///     while finished < 3 {
///         corio::select! {
///             next = running.next(), if !running.is_empty() => {
///                 finished += next.expect("not empty").expect("no task fails");
///             }
///             _ = ticks.tick(), if started < 3 => {
///                 started += 1;
///                 running.push(corio::spawn(async { sleep(Duration::from_millis(1)).await; 1 }));
///             }
///             else => unreachable!("a branch is always enabled here"),
///         }
///     }
///     assert_eq!((started, finished), (3, 3));
/// });
/// ```
#[macro_export]
macro_rules! select {
    ($($branches:tt)+) => {
        $crate::__select_parse!([] $($branches)+)
    };
}

/// `select!`'s branches, one at a time, into `(pattern, future, guard,
/// body)` groups (the guard `true` where none is written), and the `else`
/// body if there is one: a `{ .. }` body may go without a comma after it,
/// as in tokio.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_parse {
    // Every branch read: with an `else`, or without (then a select whose
    // every branch is disabled panics, as tokio's does).
    ([$($done:tt)+] else => $else:expr $(,)?) => {
        $crate::__select_build!([$($done)+] $else)
    };
    ([$($done:tt)+]) => {
        $crate::__select_build!([$($done)+] ::std::panic!(
            "corio::select!: every branch is disabled (its `if` is false) and there is no `else` branch"
        ))
    };
    // A branch with an `if` guard ...
    ([$($done:tt)*] $pattern:pat = $future:expr, if $guard:expr => $then:block $(,)?) => {
        $crate::__select_parse!([$($done)* ($pattern, $future, $guard, $then)])
    };
    ([$($done:tt)*] $pattern:pat = $future:expr, if $guard:expr => $then:block, $($rest:tt)+) => {
        $crate::__select_parse!([$($done)* ($pattern, $future, $guard, $then)] $($rest)+)
    };
    ([$($done:tt)*] $pattern:pat = $future:expr, if $guard:expr => $then:block $($rest:tt)+) => {
        $crate::__select_parse!([$($done)* ($pattern, $future, $guard, $then)] $($rest)+)
    };
    ([$($done:tt)*] $pattern:pat = $future:expr, if $guard:expr => $then:expr $(,)?) => {
        $crate::__select_parse!([$($done)* ($pattern, $future, $guard, $then)])
    };
    ([$($done:tt)*] $pattern:pat = $future:expr, if $guard:expr => $then:expr, $($rest:tt)+) => {
        $crate::__select_parse!([$($done)* ($pattern, $future, $guard, $then)] $($rest)+)
    };
    // ... and one without.
    ([$($done:tt)*] $pattern:pat = $future:expr => $then:block $(,)?) => {
        $crate::__select_parse!([$($done)* ($pattern, $future, true, $then)])
    };
    ([$($done:tt)*] $pattern:pat = $future:expr => $then:block, $($rest:tt)+) => {
        $crate::__select_parse!([$($done)* ($pattern, $future, true, $then)] $($rest)+)
    };
    ([$($done:tt)*] $pattern:pat = $future:expr => $then:block $($rest:tt)+) => {
        $crate::__select_parse!([$($done)* ($pattern, $future, true, $then)] $($rest)+)
    };
    ([$($done:tt)*] $pattern:pat = $future:expr => $then:expr $(,)?) => {
        $crate::__select_parse!([$($done)* ($pattern, $future, true, $then)])
    };
    ([$($done:tt)*] $pattern:pat = $future:expr => $then:expr, $($rest:tt)+) => {
        $crate::__select_parse!([$($done)* ($pattern, $future, true, $then)] $($rest)+)
    };
}

/// `select!` put together: the guards first, in written order; then, if
/// any branch is enabled, the futures (a disabled branch's future is made
/// but never polled, as in tokio), raced; else the `else` body.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_build {
    ([$(($pattern:pat, $future:expr, $guard:expr, $then:expr))+] $else:expr) => {{
        let guards = [$($guard),+];
        if guards.contains(&true) {
            let mut guards = guards.into_iter();
            $crate::__select_match!(
                $crate::__select_nest!($(
                    $crate::__select_if(guards.next() == Some(true), $future)
                ),+).await;
                $($pattern => $then),+
            )
        } else {
            $else
        }
    }};
}

/// A `select!` branch's future, polled only if its guard held.
#[doc(hidden)]
pub async fn __select_if<F: Future>(enabled: bool, future: F) -> F::Output {
    if enabled {
        future.await
    } else {
        std::future::pending().await
    }
}

/// `select!`'s futures, nested: `select(a, select(b, c))`.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_nest {
    ($future:expr) => {
        $future
    };
    ($future:expr, $($rest:expr),+) => {
        $crate::select($future, $crate::__select_nest!($($rest),+))
    };
}

/// `select!`'s branches, matched against the nested `Either`s. Each
/// pattern is bound by `let` (so a refutable one is refused with the
/// compiler's plain "refutable pattern in local binding", and `ref mut`
/// works in every branch).
#[doc(hidden)]
#[macro_export]
macro_rules! __select_match {
    ($output:expr; $pattern:pat => $then:expr) => {{
        let $pattern = { $output };
        $then
    }};
    ($output:expr; $pattern:pat => $then:expr, $($rest_pattern:pat => $rest_then:expr),+) => {
        match $output {
            $crate::Either::Left(output) => {
                let $pattern = { output };
                $then
            }
            $crate::Either::Right(rest) => $crate::__select_match!(rest; $($rest_pattern => $rest_then),+),
        }
    };
}
