//! Generators: coroutines driven by hand — the bridge from Python's `yield`
//! to tasks.
//!
//! Seed 003 walks this road: an iterator class with `__next__`; then a
//! function with `yield`, a *generator*, whose body stops at each `yield`
//! and goes on at the next `next()`; then `send(value)`, which makes the
//! paused `yield` return that value — the generator has become a
//! *coroutine*; and finally two generators `t1`, `t2` run in turn by
//! `while True: next(t1); next(t2)` — cooperative multitasking by hand.
//!
//! Stable Rust has no `yield`, but an `async` block is the same machine: it
//! stops at each `.await` that is not ready and goes on when polled again.
//! [`Gen`] drives such a block by hand. Its body gets a [`Co`] and calls
//! `co.yield_(value).await`; [`Gen::resume`] polls the body until the next
//! yield (Python's `next` / `send`) or its end. No event loop is involved:
//! the body is polled with a no-op waker, right inside `resume`.
//!
//! The event loop is the round-robin grown up: instead of you calling
//! `next` on each generator in turn, [`EventLoop::run_once`](crate::EventLoop::run_once)
//! polls each *task* that is ready, and a task's "yield" is any `.await`
//! that is not ready yet — a timer, a socket, a lock — whose waker puts it
//! back in line when it can go on. A generator knows only `co.yield_`:
//! awaiting a sleep or a socket inside one would wait for a waker that
//! nobody calls, so `resume` reports it as a [`GenError`] instead. (With
//! no loop running at all, `sleep` panics already where the sleep is
//! made: "no running event loop".)
//!
//! Not here, beside Python's: `throw()` (send a `Result` as the resume
//! argument and let the body match on it); `yield from` (loop over the
//! sub-generator's `resume`, yielding each value and passing each
//! argument on); async generators (a task sending into a
//! [`sync::mpsc`](crate::sync::mpsc) channel is corio's `async for`). A
//! [`Gen`] stays on the thread that made it (it is not `Send`).
//!
//! # Examples
//!
//! Python's `def fib(): a, b = 0, 1; while True: yield a; a, b = b, a + b`:
//!
//! ```
//! use corio::generator::Gen;
//!
//! let fib = Gen::new(|co| async move {
//!     let (mut a, mut b) = (0u64, 1);
//!     loop {
//!         co.yield_(a).await;
//!         (a, b) = (b, a + b);
//!     }
//! });
//! let first: Vec<u64> = fib.take(10).collect();
//! assert_eq!(first, [0, 1, 1, 2, 3, 5, 8, 13, 21, 34]);
//! ```
//!
//! A coroutine that receives values with `send` (here `resume(arg)`):
//!
//! ```
//! use corio::generator::{Gen, GenState};
//!
//! // A running average: each value sent in gives the average so far.
//! let mut averager = Gen::new(|co| async move {
//!     let (mut total, mut count) = (0.0, 0.0);
//!     let mut average = 0.0;
//!     loop {
//!         let value: f64 = co.yield_(average).await;
//!         total += value;
//!         count += 1.0;
//!         average = total / count;
//!     }
//! });
//! averager.resume(0.0).unwrap(); // start it: runs to the first yield
//! assert_eq!(averager.resume(10.0), Ok(GenState::Yielded(10.0)));
//! assert_eq!(averager.resume(20.0), Ok(GenState::Yielded(15.0)));
//! ```

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

/// What a [`resume`](Gen::resume) ran into: the next yielded value, or the
/// end of the body with its result.
///
/// # Examples
///
/// ```
/// use corio::generator::{Gen, GenState};
///
/// let mut once = Gen::new(|co| async move {
///     co.yield_('a').await;
///     "done"
/// });
/// assert_eq!(once.resume(()), Ok(GenState::Yielded('a')));
/// assert_eq!(once.resume(()), Ok(GenState::Complete("done")));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenState<Y, R> {
    /// The body stopped at `co.yield_(value)`.
    Yielded(Y),
    /// The body ended with this value (Python's `StopIteration.value`).
    Complete(R),
}

/// Why a generator could not be resumed.
///
/// # Examples
///
/// ```
/// use corio::generator::{Gen, GenError};
///
/// let mut g = Gen::new(|_co: corio::generator::Co<()>| async { 1 });
/// g.resume(()).unwrap();
/// assert_eq!(g.resume(()), Err(GenError::Finished));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum GenError {
    /// The body already ended (or failed); there is nothing to resume
    /// (Python raises `StopIteration` again).
    Finished,
    /// The body awaited something other than `co.yield_` — a sleep, a
    /// socket, a lock, a `yield_now` — which only an event loop can
    /// finish. The generator is finished from then on.
    ForeignAwait,
}

impl fmt::Display for GenError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GenError::Finished => f.write_str("the generator has already finished"),
            GenError::ForeignAwait => f.write_str(
                "the generator awaited something other than its own co.yield_() (another \
                 future, or another generator's Co): a generator's body is driven by resume \
                 and next, never by an event loop — even when a task calls them — so sleeps, \
                 sockets and locks never wake it; await them in the task that drives the \
                 generator (passing results in with resume), or yield the values they produce",
            ),
        }
    }
}

impl std::error::Error for GenError {}

/// Where a generator's resume is, as the mailbox records it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No resume is running.
    Idle,
    /// A resume is polling the body, which has not stopped at a yield (yet).
    Running,
    /// A resume is polling the body, which stopped at a yield.
    Stopped,
}

/// The mailbox between a generator's body and whoever resumes it.
struct Mailbox<Y, A> {
    /// Set to `Running` by `resume` before it polls the body, and back to
    /// `Idle` after; a yield's first poll turns `Running` into `Stopped`
    /// (finding anything else is misuse: a second yield in one resume, or
    /// no resume at all).
    phase: Cell<Phase>,
    /// The value of the yield that stopped, taken by `resume` after the
    /// poll. A body that returns `Pending` without a value here awaited
    /// something else — even if it made a yield future without awaiting it
    /// (that future keeps its value). (After a body panicked, a value may
    /// stay here: see `Resuming`.)
    yielded: Cell<Option<Y>>,
    /// Set by `resume`, taken by the pending `yield_` — the one that handed
    /// its value in during the resume before (see `resumes`): a yield that
    /// lost a race and was dropped leaves it to nobody else.
    arg: Cell<Option<A>>,
    /// How many resumes have begun. A yield notes the number of the resume
    /// after the one in which it hands its value in: that resume's argument
    /// is its own, and no other yield's. (Inside a combinator — `gather`,
    /// `select` — one yield may hand its value in while an older one,
    /// polled in the same body poll, takes its argument or is dropped: the
    /// numbers keep each to its own value and argument.)
    resumes: Cell<u64>,
}

/// The handle a generator's body yields through.
///
/// # Examples
///
/// ```
/// use corio::generator::{Co, Gen};
///
/// // Yields can come from nested async functions that get the `Co`.
/// async fn count_to(co: &Co<u32>, n: u32) {
///     for i in 1..=n {
///         co.yield_(i).await;
///     }
/// }
///
/// let g = Gen::new(|co| async move {
///     count_to(&co, 2).await;
///     count_to(&co, 1).await;
/// });
/// assert_eq!(g.collect::<Vec<_>>(), [1, 2, 1]);
/// ```
pub struct Co<Y, A = ()> {
    mailbox: Rc<Mailbox<Y, A>>,
}

impl<Y, A> Co<Y, A> {
    /// Stops the body here, handing `value` to `resume`; returns the
    /// argument of the next `resume` (Python's `x = yield value`).
    ///
    /// A body stops at one yield at a time: two yields awaited at once
    /// (joined, or both branches of a `select`) panic with a clear message.
    /// So does a yield first polled outside its generator's
    /// [`resume`](Gen::resume) — a `Co` smuggled into a task, say — or
    /// awaited by an event loop run inside the body: only the body can
    /// stop.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::generator::{Gen, GenState};
    ///
    /// let mut echo = Gen::new(|co| async move {
    ///     let mut heard = co.yield_(String::new()).await;
    ///     loop {
    ///         heard = co.yield_(format!("you said {heard}")).await;
    ///     }
    /// });
    /// echo.resume("ignored: the first resume only starts the body").unwrap();
    /// assert_eq!(echo.resume("hi"), Ok(GenState::Yielded("you said hi".to_string())));
    /// ```
    pub fn yield_(&self, value: Y) -> Yield<'_, Y, A> {
        // The future carries the value to the mailbox when it is first
        // polled — when the body really stops there — and brings back the
        // next argument when polled again.
        Yield {
            mailbox: &self.mailbox,
            step: Step::Holding(value),
        }
    }
}

impl<Y, A> fmt::Debug for Co<Y, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Co")
    }
}

/// The future of [`Co::yield_`].
///
/// # Examples
///
/// ```
/// let g = corio::generator::Gen::new(|co| async move {
///     let step: corio::generator::Yield<'_, i32, ()> = co.yield_(1);
///     step.await;
/// });
/// assert_eq!(g.collect::<Vec<_>>(), [1]);
/// ```
#[must_use = "a yield does nothing unless awaited"]
pub struct Yield<'a, Y, A> {
    mailbox: &'a Mailbox<Y, A>,
    step: Step<Y>,
}

/// Where a yield future is.
enum Step<Y> {
    /// Made, not polled: it holds the value.
    Holding(Y),
    /// Polled once: the value went to the mailbox (unless `resume` took
    /// it), and the argument of the resume with this number is the result.
    /// `Handed(0)` once the result is returned: no resume has number 0.
    Handed(u64),
}

impl<Y, A> Unpin for Yield<'_, Y, A> {}

impl<Y, A> Future for Yield<'_, Y, A> {
    type Output = A;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<A> {
        let mailbox = self.mailbox;
        match self.step {
            Step::Holding(_) => {
                // First poll: stop here; resume finds the value in the
                // mailbox. The stop asks to be polled again, as the
                // `Future` contract wants: the next resume is that wake-up.
                // (The body's own waker is a no-op; a combinator inside the
                // body — `gather`, say — re-polls only children whose waker
                // fired.)
                cx.waker().wake_by_ref();
                if mailbox.phase.get() != Phase::Running {
                    self.misplaced();
                }
                mailbox.phase.set(Phase::Stopped);
                let owner = mailbox.resumes.get() + 1;
                if let Step::Holding(value) = std::mem::replace(&mut self.step, Step::Handed(owner))
                {
                    mailbox.yielded.set(Some(value));
                }
                Poll::Pending
            }
            Step::Handed(owner) => {
                // Polled again: the argument of the resume after the one
                // that stopped here is our result.
                if mailbox.resumes.get() == owner {
                    if let Some(arg) = mailbox.arg.take() {
                        self.step = Step::Handed(0);
                        return Poll::Ready(arg);
                    }
                }
                // Not resumed yet: polled again in the same body poll (a
                // combinator that re-polls whatever was woken). Wake again,
                // or the combinator would not poll it at the next resume.
                // Outside a resume (a yield that stopped inside the body,
                // then moved to a task) no wake: the task parks instead of
                // spinning.
                if mailbox.phase.get() != Phase::Idle {
                    polled_again_in_a_resume(cx);
                }
                Poll::Pending
            }
        }
    }
}

/// Marks a resume in progress (`Phase::Running`) until dropped — when the
/// body's poll returns, or when it panics, so that a `Co` kept elsewhere
/// does not think a resume still runs. A value a yield handed in before the panic
/// goes with that yield: as the body unwinds, like any of its locals — or,
/// if the yield was moved out of the body, later, when it is dropped (or
/// with the mailbox). This guard itself drops nothing: a destructor that
/// panicked during the unwinding would abort the process.
struct Resuming<'a>(&'a Cell<Phase>);

impl<'a> Resuming<'a> {
    #[inline]
    fn start(phase: &'a Cell<Phase>) -> Resuming<'a> {
        phase.set(Phase::Running);
        Resuming(phase)
    }
}

impl Drop for Resuming<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.set(Phase::Idle);
    }
}

/// A yield first polled outside any resume (its `Co` smuggled into a
/// task): there is no body to stop. A programming error: the task panics.
#[cold]
#[inline(never)]
fn outside_a_resume() -> ! {
    panic!(
        "corio: co.yield_() awaited outside its generator: a yield stops the generator's \
         body, so only the body, driven by Gen::resume, may await it (to send values to \
         a task, use a channel)"
    )
}

/// A yield polled again, not resumed yet, while a resume runs: wakes, so
/// that a combinator in the body polls it at the next resume. Unless a
/// corio loop polls it with the waker of its task or main future: no body
/// is polled with one (`resume` polls with a no-op waker, combinators with
/// their children's), so it is a loop run inside the body awaiting the
/// body's yield — woken, that loop would poll it for ever. (Out of line:
/// only yields inside combinators, or misused, come here.)
#[cold]
#[inline(never)]
fn polled_again_in_a_resume(cx: &Context<'_>) {
    let by_a_loop = crate::context::with_current(|core| core.own_key(cx.waker()).is_some());
    if by_a_loop == Some(true) {
        awaited_by_a_loop_inside_the_body();
    }
    cx.waker().wake_by_ref();
}

/// See [`polled_again_in_a_resume`]: the task (or main future) fails.
#[cold]
#[inline(never)]
fn awaited_by_a_loop_inside_the_body() -> ! {
    panic!(
        "corio: co.yield_() awaited outside its generator: by a task or main future of an \
         event loop run inside the generator's body — a yield stops the body, so only the \
         body, driven by Gen::resume, may await it (yield the loop's result instead)"
    )
}

/// Two yields handed a value in one resume (a `join` of two `co.yield_`,
/// a `select` whose branches both yield): only one value could come out,
/// and the next argument would go to either. A programming error, like a
/// `RefCell` borrowed twice: the body panics, which ends the generator.
#[cold]
#[inline(never)]
fn concurrent_yields() -> ! {
    panic!(
        "corio: two co.yield_() awaited at once: a generator stops at one yield at a time \
         (await them one after the other)"
    )
}

impl<Y, A> Yield<'_, Y, A> {
    /// A first poll that cannot stop the body: another yield stopped in
    /// this resume already, or no resume is running (a `Co` smuggled into a
    /// task). Nothing in the mailbox was touched yet — the other yield's
    /// value stays there, ours in this future (a body that catches the
    /// panic keeps both yields usable) — so it only panics.
    #[cold]
    #[inline(never)]
    fn misplaced(&self) -> ! {
        if self.mailbox.phase.get() == Phase::Stopped {
            concurrent_yields()
        } else {
            outside_a_resume()
        }
    }
}

impl<Y, A> Drop for Yield<'_, Y, A> {
    /// A yield dropped after its first poll but before it returned (it
    /// lost a race inside the body) takes its value back out of the
    /// mailbox, so that a stop somewhere else is not taken for a yield.
    /// So does an argument left for it.
    #[inline]
    fn drop(&mut self) {
        // (`Handed(0)` returned its result: nothing of it is left.)
        if let Step::Handed(owner @ 1..) = self.step {
            self.dropped_early(owner);
        }
    }
}

impl<Y, A> Yield<'_, Y, A> {
    /// [`Drop`] of a yield that handed its value in and has not returned.
    #[cold]
    #[inline(never)]
    fn dropped_early(&self, owner: u64) {
        let mailbox = self.mailbox;
        let resumes = mailbox.resumes.get();
        if resumes + 1 == owner {
            // Still the resume it stopped in: a value there is its own (no
            // other yield can stop beside it). Between resumes the value
            // is gone — unless the body panicked, which left it here: then
            // it goes with the yield, unless a panic unwinds now.
            match mailbox.phase.get() {
                Phase::Stopped => {
                    mailbox.phase.set(Phase::Running);
                    drop(mailbox.yielded.take());
                }
                Phase::Idle if !std::thread::panicking() => drop(mailbox.yielded.take()),
                Phase::Idle | Phase::Running => {}
            }
        }
        if resumes == owner {
            drop(mailbox.arg.take());
        }
    }
}

impl<Y, A> fmt::Debug for Yield<'_, Y, A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Yield")
    }
}

/// A generator: an `async` body that yields values of type `Y` through a
/// [`Co`], receives a value of type `A` at each resume (default `()`), and
/// ends with a value of type `R`.
///
/// `Gen::new` keeps the body's own type (`F`), so each resume is a direct,
/// inlinable call. [`boxed`](Gen::boxed) erases it: `Gen<Y, R, A>` (the
/// default `F`) is one type for every body, so different generators can
/// share a `Vec` or a `VecDeque` (the `round_robin` example).
///
/// Dropping a generator part-way drops its body and runs the destructors
/// of whatever it holds (Python's `close()`), in Rust's order: the body's
/// live locals last declared first. So in a pipeline whose stage loops
/// `for x in source` below a clean-up guard, `source` (declared later) is
/// dropped — its own clean-up run — before the stage's guard; Python runs
/// the stage's `finally` first and closes `source` after. A panic in the
/// body propagates out of `resume`, and the generator is finished.
///
/// # Examples
///
/// Seed 003's two generators, run in turn by hand:
///
/// ```
/// use corio::generator::Gen;
///
/// let task = |name: &'static str| Gen::new(move |co| async move {
///     for i in 0..2 {
///         co.yield_(format!("{name} step {i}")).await;
///     }
/// });
/// let (mut t1, mut t2) = (task("t1"), task("t2"));
/// let mut log = Vec::new();
/// for _ in 0..2 {
///     log.extend(t1.next()); // next(task1)
///     log.extend(t2.next()); // next(task2)
/// }
/// assert_eq!(log, ["t1 step 0", "t2 step 0", "t1 step 1", "t2 step 1"]);
/// ```
pub struct Gen<Y, R = (), A = (), F: ?Sized = dyn Future<Output = R>> {
    mailbox: Rc<Mailbox<Y, A>>,
    /// `None` once finished (completed, failed or misused).
    body: Option<Pin<Box<F>>>,
    /// The first resume has run.
    started: bool,
    _result: std::marker::PhantomData<fn() -> R>,
}

impl<Y, R, A, F: Future<Output = R>> Gen<Y, R, A, F> {
    /// A generator running `body(co)`; nothing runs before the first
    /// [`resume`](Self::resume).
    ///
    /// # Examples
    ///
    /// ```
    /// let g = corio::generator::Gen::new(|co| async move {
    ///     co.yield_(1).await;
    ///     co.yield_(2).await;
    /// });
    /// assert_eq!(g.collect::<Vec<i32>>(), [1, 2]);
    /// ```
    pub fn new<B>(body: B) -> Gen<Y, R, A, F>
    where
        B: FnOnce(Co<Y, A>) -> F,
    {
        let mailbox = Rc::new(Mailbox {
            phase: Cell::new(Phase::Idle),
            yielded: Cell::new(None),
            arg: Cell::new(None),
            resumes: Cell::new(0),
        });
        let co = Co {
            mailbox: Rc::clone(&mailbox),
        };
        Gen {
            mailbox,
            body: Some(Box::pin(body(co))),
            started: false,
            _result: std::marker::PhantomData,
        }
    }

    /// The same generator with its body's type erased: `Gen<Y, R, A>`, one
    /// type for every body, so that different generators can share a
    /// collection. (A call through a `dyn` pointer per resume; the typed
    /// form lets the compiler inline the body.)
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::generator::Gen;
    ///
    /// let gens: Vec<Gen<u32>> = vec![
    ///     Gen::new(|co| async move { co.yield_(1).await }).boxed(),
    ///     Gen::new(|co| async move {
    ///         for i in 10..12 {
    ///             co.yield_(i).await;
    ///         }
    ///     })
    ///     .boxed(),
    /// ];
    /// let all: Vec<u32> = gens.into_iter().flatten().collect();
    /// assert_eq!(all, [1, 10, 11]);
    /// ```
    pub fn boxed(self) -> Gen<Y, R, A>
    where
        F: 'static,
    {
        let body: Option<Pin<Box<dyn Future<Output = R>>>> = match self.body {
            Some(body) => Some(body),
            None => None,
        };
        Gen {
            mailbox: self.mailbox,
            body,
            started: self.started,
            _result: std::marker::PhantomData,
        }
    }
}

impl<Y, R, A, F: Future<Output = R> + ?Sized> Gen<Y, R, A, F> {
    /// Runs the body until its next `co.yield_` or its end (Python's
    /// `gen.send(arg)`; `next(gen)` when `A` is `()`).
    ///
    /// `arg` becomes the value of the `co.yield_(..).await` the body is
    /// stopped at. The first resume starts the body, which is not stopped
    /// at any yield yet, so its `arg` is dropped (Python requires
    /// `send(None)` there). Resuming a finished generator is
    /// `Err(GenError::Finished)`; a body that awaited anything but
    /// `co.yield_` that was not ready at once gives
    /// `Err(GenError::ForeignAwait)` and is finished.
    ///
    /// # Examples
    ///
    /// ```
    /// use corio::generator::{Gen, GenError, GenState};
    ///
    /// let mut adder = Gen::new(|co| async move {
    ///     let a: i32 = co.yield_(()).await;
    ///     let b: i32 = co.yield_(()).await;
    ///     a + b
    /// });
    /// assert_eq!(adder.resume(0), Ok(GenState::Yielded(()))); // starts it; 0 is dropped
    /// assert_eq!(adder.resume(2), Ok(GenState::Yielded(())));
    /// assert_eq!(adder.resume(3), Ok(GenState::Complete(5)));
    /// assert_eq!(adder.resume(4), Err(GenError::Finished));
    /// ```
    #[inline]
    pub fn resume(&mut self, arg: A) -> Result<GenState<Y, R>, GenError> {
        // The body is taken out while it runs: if it panics, it is dropped
        // on the way out and the generator is finished.
        let Some(mut body) = self.body.take() else {
            return Err(GenError::Finished);
        };
        let mailbox = &*self.mailbox;
        if self.started {
            // The body is stopped at a yield, whose future takes this.
            mailbox.arg.set(Some(arg));
        } else {
            // The first resume starts the body: no yield is there to take
            // its argument.
            self.started = true;
            drop(arg);
        }
        mailbox.resumes.set(mailbox.resumes.get() + 1);
        let mut cx = Context::from_waker(Waker::noop());
        let resuming = Resuming::start(&mailbox.phase);
        let polled = body.as_mut().poll(&mut cx);
        drop(resuming);
        let yielded = mailbox.yielded.take();
        match polled {
            Poll::Pending => match yielded {
                Some(value) => {
                    self.body = Some(body);
                    Ok(GenState::Yielded(value))
                }
                // Stopped at something else (perhaps after making a yield
                // future it did not await, which keeps its value).
                None => {
                    drop(mailbox.arg.take());
                    Err(GenError::ForeignAwait)
                }
            },
            Poll::Ready(result) => {
                // A yield polled once but not again (raced against
                // something that ended the body) may have left its value,
                // and an argument nobody took.
                drop(yielded);
                drop(mailbox.arg.take());
                Ok(GenState::Complete(result))
            }
        }
    }

    /// Has the body ended (or failed)?
    ///
    /// # Examples
    ///
    /// ```
    /// let mut g = corio::generator::Gen::new(|_co: corio::generator::Co<()>| async {});
    /// assert!(!g.is_finished());
    /// g.resume(()).unwrap();
    /// assert!(g.is_finished());
    /// ```
    pub fn is_finished(&self) -> bool {
        self.body.is_none()
    }
}

/// Python's `for x in gen`: each `next` resumes with `()`; the iteration
/// ends when the body does (its result is dropped).
///
/// # Panics
///
/// `next` panics with the [`GenError::ForeignAwait`] message if the body
/// awaits anything but `co.yield_` (an iterator has no way to return an
/// error); use [`Gen::resume`] to get it as a value.
impl<Y, R, F: Future<Output = R> + ?Sized> Iterator for Gen<Y, R, (), F> {
    type Item = Y;

    #[track_caller] // the panic points at the caller's `next` or `for` loop
    fn next(&mut self) -> Option<Y> {
        match self.resume(()) {
            Ok(GenState::Yielded(value)) => Some(value),
            Ok(GenState::Complete(_)) | Err(GenError::Finished) => None,
            Err(err) => panic!("corio: {err}"),
        }
    }
}

impl<Y, R, A, F: Future<Output = R> + ?Sized> fmt::Debug for Gen<Y, R, A, F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gen")
            .field("finished", &self.is_finished())
            .finish()
    }
}
