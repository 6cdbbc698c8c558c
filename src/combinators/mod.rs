//! Waiting on many futures at once: `gather`, `wait`, `as_completed`,
//! `select`/`race` and [`TaskGroup`].
//!
//! These are ordinary futures built from other futures; the loop knows
//! nothing of them. Each child of `gather`, `wait`, `as_completed` and
//! `TaskGroup` gets its own waker (see `wake_set.rs`), so they poll only the
//! children that were woken; `select`/`race` poll both of their two futures
//! each time, with the awaiting task's waker.

mod gather;
mod group;
mod select;
mod wait;
mod wake_set;

pub use gather::{AsCompleted, as_completed, gather};
pub use group::{GroupError, GroupFailed, TaskGroup};
#[doc(hidden)]
pub use select::__select_if;
pub use select::{Either, race, select};
pub use wait::{ReturnWhen, wait};
