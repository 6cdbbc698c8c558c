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
#[macro_export]
macro_rules! select {
    ($($branches:tt)+) => {
        $crate::__select_parse!([] $($branches)+)
    };
}

/// `select!`'s branches, one at a time, into `(pattern, future, body)`
/// groups: a `{ .. }` body may go without a comma after it, as in tokio.
#[doc(hidden)]
#[macro_export]
macro_rules! __select_parse {
    ([$(($pattern:pat, $future:expr, $then:expr))+]) => {
        $crate::__select_match!(
            $crate::__select_nest!($($future),+).await;
            $($pattern => $then),+
        )
    };
    ([$($done:tt)*] $pattern:pat = $future:expr => $then:block $(,)?) => {
        $crate::__select_parse!([$($done)* ($pattern, $future, $then)])
    };
    ([$($done:tt)*] $pattern:pat = $future:expr => $then:block, $($rest:tt)+) => {
        $crate::__select_parse!([$($done)* ($pattern, $future, $then)] $($rest)+)
    };
    ([$($done:tt)*] $pattern:pat = $future:expr => $then:block $($rest:tt)+) => {
        $crate::__select_parse!([$($done)* ($pattern, $future, $then)] $($rest)+)
    };
    ([$($done:tt)*] $pattern:pat = $future:expr => $then:expr $(,)?) => {
        $crate::__select_parse!([$($done)* ($pattern, $future, $then)])
    };
    ([$($done:tt)*] $pattern:pat = $future:expr => $then:expr, $($rest:tt)+) => {
        $crate::__select_parse!([$($done)* ($pattern, $future, $then)] $($rest)+)
    };
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
