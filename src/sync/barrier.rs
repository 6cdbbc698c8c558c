//! `Barrier`: wait until `n` tasks have arrived.

use std::cell::RefCell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use super::wait_queue::{Ticket, WaitQueue};

/// Lets `n` tasks of one loop wait for each other (asyncio's `Barrier`;
/// `threading.Barrier`'s role between tasks, not threads): each [`wait`](Self::wait) blocks until the `n`th
/// arrives, then all go on together, and the barrier is ready for the next
/// round. One of each round is told it is the leader.
///
/// Cancel safety: a `wait` dropped before the round completed un-arrives
/// (the round then needs another task); one dropped after it completed
/// changes nothing.
///
/// # Examples
///
/// ```
/// use std::rc::Rc;
/// use corio::sync::Barrier;
///
/// corio::run(async {
///     let barrier = Rc::new(Barrier::new(3));
///     let tasks: Vec<_> = (0..3)
///         .map(|_| {
///             let b = barrier.clone();
///             corio::spawn(async move { b.wait().await.is_leader() })
///         })
///         .collect();
///     let leaders = corio::gather(tasks).await.into_iter().filter(|r| *r == Ok(true)).count();
///     assert_eq!(leaders, 1);
/// });
/// ```
pub struct Barrier {
    parties: usize,
    state: RefCell<State>,
}

struct State {
    arrived: usize,
    waiters: WaitQueue<()>,
}

/// What [`Barrier::wait`] gives: whether this task was the round's leader.
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let barrier = corio::sync::Barrier::new(1);
///     assert!(barrier.wait().await.is_leader());
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BarrierWaitResult(bool);

impl BarrierWaitResult {
    /// Was this the task whose arrival completed the round?
    ///
    /// # Examples
    ///
    /// ```
    /// corio::run(async {
    ///     assert!(corio::sync::Barrier::new(1).wait().await.is_leader());
    /// });
    /// ```
    pub fn is_leader(&self) -> bool {
        self.0
    }
}

impl Barrier {
    /// A barrier for `parties` tasks. `0` is taken as 1 (each task passes
    /// alone), where asyncio raises `ValueError`.
    ///
    /// # Examples
    ///
    /// ```
    /// let barrier = corio::sync::Barrier::new(4);
    /// assert_eq!(barrier.parties(), 4);
    /// assert_eq!(corio::sync::Barrier::new(0).parties(), 1);
    /// ```
    pub fn new(parties: usize) -> Barrier {
        Barrier {
            parties: parties.max(1),
            state: RefCell::new(State {
                arrived: 0,
                waiters: WaitQueue::new("Barrier"),
            }),
        }
    }

    /// Arrives and waits for the others of this round. Cancel safe: dropped
    /// before the round completes, it un-arrives.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::rc::Rc;
    ///
    /// corio::run(async {
    ///     let barrier = Rc::new(corio::sync::Barrier::new(2));
    ///     let b = barrier.clone();
    ///     let other = corio::spawn(async move { b.wait().await.is_leader() });
    ///     corio::yield_now().await;
    ///     assert_eq!(barrier.n_waiting(), 1); // the other task waits for a second party
    ///     let mine = barrier.wait().await.is_leader();
    ///     assert!(mine ^ other.await.unwrap()); // both passed; exactly one leads
    /// });
    /// ```
    pub fn wait(&self) -> BarrierWait<'_> {
        BarrierWait {
            barrier: self,
            ticket: None,
        }
    }

    /// How many tasks a round needs.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(corio::sync::Barrier::new(2).parties(), 2);
    /// ```
    pub fn parties(&self) -> usize {
        self.parties
    }

    /// How many are waiting in the current round.
    ///
    /// # Examples
    ///
    /// ```
    /// assert_eq!(corio::sync::Barrier::new(2).n_waiting(), 0);
    /// ```
    pub fn n_waiting(&self) -> usize {
        self.state.borrow().arrived
    }
}

impl fmt::Debug for Barrier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Barrier")
            .field("parties", &self.parties)
            .field("waiting", &self.n_waiting())
            .finish()
    }
}

/// The future of [`Barrier::wait`].
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let barrier = corio::sync::Barrier::new(1);
///     let wait: corio::sync::BarrierWait<'_> = barrier.wait();
///     assert!(wait.await.is_leader()); // the only party leads its round
/// });
/// ```
#[must_use = "futures do nothing unless awaited"]
pub struct BarrierWait<'a> {
    barrier: &'a Barrier,
    ticket: Option<Ticket>,
}

impl Future for BarrierWait<'_> {
    type Output = BarrierWaitResult;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<BarrierWaitResult> {
        let barrier = self.barrier;
        let mut wakers = Vec::new();
        let mut retired = None;
        let result = {
            let mut st = barrier.state.borrow_mut();
            match self.ticket {
                None => {
                    st.arrived += 1;
                    if st.arrived == barrier.parties {
                        st.arrived = 0;
                        st.waiters.hand_all((), &mut wakers);
                        Poll::Ready(BarrierWaitResult(true))
                    } else {
                        let ticket = st.waiters.push(cx.waker());
                        drop(st);
                        self.ticket = Some(ticket);
                        Poll::Pending
                    }
                }
                Some(_) => {
                    let this = &mut *self;
                    let (poll, old) = st.waiters.poll_wait(&mut this.ticket, false, cx.waker());
                    retired = Some(old);
                    poll.map(|_| BarrierWaitResult(false))
                }
            }
        };
        drop(retired);
        for waker in wakers {
            waker.wake();
        }
        result
    }
}

impl Drop for BarrierWait<'_> {
    fn drop(&mut self) {
        if let Some(ticket) = self.ticket {
            let mut st = self.barrier.state.borrow_mut();
            let (gift, retired) = st.waiters.cancel(ticket);
            if gift.is_none() {
                // The round has not completed: we leave it.
                st.arrived -= 1;
            }
            drop(st);
            drop(retired);
        }
    }
}

impl fmt::Debug for BarrierWait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BarrierWait")
            .field("waiting", &self.ticket.is_some())
            .finish()
    }
}
