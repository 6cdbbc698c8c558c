//! The task dump: every task of a loop, and what each one waits on.
//!
//! Nothing is recorded for it while tasks run: the dump is *found out* when
//! asked for, by looking at who holds each waiting task's waker. A task's
//! waker is one `Arc`, so every clone of it points at the same place;
//! corio walks its own structures — the timer queue, the reactor's sources,
//! the join wakers of other tasks, the wakers its sync primitives parked
//! (noted in debug mode, see `park.rs`) — and matches the addresses.
//! Clones that none of these hold are counted as held "elsewhere": by
//! another thread, or by a future corio does not know.

use std::collections::HashMap;
use std::fmt;
use std::panic::Location;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::core::Core;
use crate::reactor::Direction;
use crate::task::TaskId;
use crate::waker::{TaskKey, TaskWaker, Waiter};

/// Where a task is in its life, as a dump sees it.
///
/// # Examples
///
/// ```
/// use corio::debug::Status;
///
/// corio::run(async {
///     let me = corio::spawn(async {
///         let dump = corio::debug::dump();
///         dump.task(corio::current_task().unwrap().id()).unwrap().status
///     });
///     assert_eq!(me.await, Ok(Status::Running));
/// });
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Status {
    /// Being polled right now (the task that asked for the dump).
    Running,
    /// On the ready queue: it will be polled this turn or the next.
    Ready,
    /// Parked until something wakes it.
    Waiting,
    /// Finished; its outcome waits for its handle or done callbacks.
    Done,
    /// Finished by [`Task::cancel`](crate::Task::cancel): its future was
    /// dropped, and its outcome (`Cancelled`) waits as a `Done` one does.
    /// (Cancelled but not yet dropped, it is `Ready`.)
    Cancelled,
}

/// One thing a waiting task waits on.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use corio::debug::Waiting;
///
/// corio::run(async {
///     let sleeper = corio::spawn(corio::time::sleep(Duration::from_secs(60)));
///     corio::yield_now().await;
///     let dump = corio::debug::dump();
///     let row = dump.task(sleeper.id()).unwrap();
///     assert!(matches!(row.waiting_on[..], [Waiting::Timer { .. }]));
///     sleeper.cancel();
/// });
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Waiting {
    /// A timer (a `sleep`, an `interval`, a `timeout`'s deadline).
    Timer {
        /// When it fires.
        deadline: Instant,
    },
    /// A socket becoming readable or writable.
    Io {
        /// The source's registration token in the reactor.
        source: usize,
        /// `"read"` or `"write"`.
        direction: &'static str,
    },
    /// Another task's completion (an `.await` of its handle).
    Task {
        /// The awaited task.
        id: TaskId,
        /// Its name.
        name: String,
    },
    /// One of corio's sync primitives (noted in debug mode only).
    Sync {
        /// Its type: `"Event"`, `"Lock"`, `"Semaphore"`, `"Queue.get"` …
        kind: &'static str,
        /// Its number, the same for every waiter on the same primitive.
        id: u64,
    },
    /// Clones of the task's waker that corio cannot see: held by another
    /// thread (a thread-pool job, a `LoopHandle` user) or by a future that
    /// keeps wakers itself — and, with debug mode off, by a `sync`
    /// primitive (debug mode tells those apart as [`Sync`](Waiting::Sync)).
    Elsewhere {
        /// How many clones.
        wakers: usize,
    },
}

impl Waiting {
    /// Could this wake the task without any code of this loop running?
    fn comes_from_outside(&self) -> bool {
        matches!(
            self,
            Waiting::Timer { .. } | Waiting::Io { .. } | Waiting::Elsewhere { .. }
        )
    }
}

impl fmt::Display for Waiting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Waiting::Timer { deadline } => {
                let left = deadline.saturating_duration_since(Instant::now());
                write!(f, "timer (due in {left:.0?})")
            }
            Waiting::Io { source, direction } => write!(f, "I/O {direction} (source {source:#x})"),
            Waiting::Task { id, name } => write!(f, "task {} {name:?}", id.as_u64()),
            Waiting::Sync { kind, id } => write!(f, "{kind}#{id}"),
            Waiting::Elsewhere { wakers: 1 } => {
                write!(
                    f,
                    "a waker held elsewhere (another thread, a pool job …; with debug mode \
                     off, also an Event, Lock, Queue …)"
                )
            }
            Waiting::Elsewhere { wakers } => {
                write!(
                    f,
                    "{wakers} wakers held elsewhere (other threads, pool jobs …; with debug \
                     mode off, also Events, Locks, Queues …)"
                )
            }
        }
    }
}

/// One task in a [`Dump`].
///
/// The fields after `waiting_on` come from debug mode's side table: they
/// are `None` for tasks spawned while debug mode was off, and for every
/// task once it is switched off.
///
/// # Examples
///
/// ```
/// let mut lp = corio::EventLoop::new()?;
/// lp.set_debug(true);
/// let task = lp.spawn(async {});
/// let dump = lp.dump();
/// let row = dump.task(task.id()).unwrap();
/// assert_eq!(row.status, corio::debug::Status::Ready);
/// assert_eq!(row.polls, Some(0));
/// assert!(row.spawned_at.unwrap().file().ends_with(".rs"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct TaskDump {
    /// The task's id.
    pub id: TaskId,
    /// Its name (`Task-N` unless given one).
    pub name: String,
    /// Running, ready, waiting or done.
    pub status: Status,
    /// What it waits on, if it waits; empty for a waiting task means that
    /// nobody holds its waker — nothing can ever wake it.
    pub waiting_on: Vec<Waiting>,
    /// Time since it was spawned.
    pub age: Option<Duration>,
    /// How often it was polled.
    pub polls: Option<u64>,
    /// How often it was woken.
    pub wakes: Option<u64>,
    /// Where `spawn` was called.
    pub spawned_at: Option<&'static Location<'static>>,
    /// The task that spawned it (`None` also for tasks spawned outside any
    /// task).
    pub parent: Option<TaskId>,
}

/// The main future of `run_until_complete` in a [`Dump`].
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let dump = corio::debug::dump();
///     assert_eq!(dump.main.unwrap().status, corio::debug::Status::Running);
/// });
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct MainDump {
    /// Running, ready or waiting.
    pub status: Status,
    /// What it waits on, if it waits.
    pub waiting_on: Vec<Waiting>,
}

/// A snapshot of a loop's tasks: [`EventLoop::dump`](crate::EventLoop::dump)
/// or [`dump`]. Its `Display` is a table.
///
/// # Examples
///
/// ```
/// let lp = corio::EventLoop::new()?;
/// let task = corio::Builder::new().name("job").spawn_on(&lp, async {});
/// let table = lp.dump().to_string();
/// assert!(table.contains("job"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Dump {
    /// The main future, while `run_until_complete` runs one.
    pub main: Option<MainDump>,
    /// Every task in the loop, oldest first.
    pub tasks: Vec<TaskDump>,
    /// When the dump was taken.
    pub taken_at: Instant,
    /// Debug mode was on: waits on sync primitives are named, and the
    /// per-task columns are filled.
    pub debug: bool,
    /// Some waker was found held more often than it has clones: the
    /// accounting cannot be trusted for a proof.
    inconsistent: bool,
    /// Debug mode: who holds each `Lock` that is held, one line each
    /// (`Lock#1 is held by task 2 "transfer"`), by the lock's number.
    holders: Vec<(u64, String)>,
}

impl Dump {
    /// The row of the task `id`, if it is in the loop.
    ///
    /// # Examples
    ///
    /// ```
    /// let lp = corio::EventLoop::new()?;
    /// let task = lp.spawn(async {});
    /// assert_eq!(lp.dump().task(task.id()).unwrap().id, task.id());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn task(&self, id: TaskId) -> Option<&TaskDump> {
        self.tasks.iter().find(|row| row.id == id)
    }
}

/// The dump of the loop running on this thread.
///
/// # Panics
///
/// Outside a running loop (use [`EventLoop::dump`](crate::EventLoop::dump)
/// there).
///
/// # Examples
///
/// ```
/// corio::run(async {
///     let idle = corio::Builder::new().name("idle").spawn(async {});
///     let dump = corio::debug::dump();
///     assert_eq!(dump.task(idle.id()).unwrap().name, "idle");
///     assert!(dump.to_string().contains("idle")); // the table
/// });
/// ```
#[track_caller]
pub fn dump() -> Dump {
    crate::context::current("corio::debug::dump").dump()
}

fn address(waker: &std::task::Waker) -> usize {
    waker.data() as usize
}

fn arc_address(waker: &Arc<TaskWaker>) -> usize {
    Arc::as_ptr(waker) as *const () as usize
}

impl Core {
    /// Finds out what every task waits on (see the module docs).
    pub(crate) fn dump(&self) -> Dump {
        let taken_at = Instant::now();
        let records = self.debug.parked.records();
        let st = self.state.borrow();
        let current = self.current_task();
        let root_key = st.root.as_ref().map(|root| TaskKey {
            index: TaskKey::ROOT_INDEX,
            seq: root.seq,
        });

        // Whose waker lives at which address, and how many clones of it
        // exist besides the loop's own.
        let mut owner: HashMap<usize, TaskKey> = HashMap::new();
        let mut clones: HashMap<TaskKey, usize> = HashMap::new();
        for (index, slot) in st.tasks.iter() {
            if let Some(waker) = &slot.waker {
                let key = TaskKey {
                    index: index as u32,
                    seq: slot.seq,
                };
                owner.insert(arc_address(waker), key);
                clones.insert(key, Arc::strong_count(waker) - 1);
            }
        }
        if let (Some(key), Some(waker)) = (root_key, self.root_waker()) {
            owner.insert(arc_address(&waker), key);
            // Minus the loop's own and the one just upgraded.
            clones.insert(key, Arc::strong_count(&waker) - 2);
        }

        // A combinator's children wake their parent through wakers of their
        // own: those are the parent's too (nested combinators, several
        // rounds), and their clones count as the parent's.
        let mut relayed = vec![false; records.len()];
        loop {
            let mut more = false;
            for (record, done) in records.iter().zip(&mut relayed) {
                if *done || record.relays.is_empty() {
                    continue;
                }
                let Some(&key) = owner.get(&record.waker) else {
                    continue;
                };
                for (child, weak) in record.relays.iter() {
                    owner.insert(*child, key);
                    // Minus the set's own reference.
                    let extra = weak.strong_count().saturating_sub(1);
                    *clones.entry(key).or_default() += extra;
                }
                *done = true;
                more = true;
            }
            if !more {
                break;
            }
        }

        // Who holds them.
        let mut waits: HashMap<TaskKey, Vec<Waiting>> = HashMap::new();
        let mut held: HashMap<TaskKey, usize> = HashMap::new();
        let mut note = |key: TaskKey, waiting: Waiting, is_clone: bool| {
            waits.entry(key).or_default().push(waiting);
            if is_clone {
                *held.entry(key).or_default() += 1;
            }
        };
        for (deadline, waiter) in st.timers.sleepers() {
            let waiting = Waiting::Timer { deadline };
            match waiter {
                Waiter::Task(key) => note(*key, waiting, false),
                Waiter::Waker(waker) => {
                    if let Some(&key) = owner.get(&address(waker)) {
                        note(key, waiting, true);
                    }
                }
            }
        }
        for (_, slot) in st.tasks.iter() {
            if let Some(waker) = &slot.join_waker {
                if let Some(&key) = owner.get(&address(waker)) {
                    let waiting = Waiting::Task {
                        id: slot.id(),
                        name: slot.name(),
                    };
                    note(key, waiting, true);
                }
            }
        }
        if let Ok(reactor) = self.reactor.try_borrow() {
            reactor.for_each_parked(|source, dir, waker| {
                if let Some(&key) = owner.get(&address(waker)) {
                    let direction = match dir {
                        Direction::Read => "read",
                        Direction::Write => "write",
                    };
                    note(key, Waiting::Io { source, direction }, true);
                }
            });
        }
        for record in &records {
            if let Some(&key) = owner.get(&record.waker) {
                if !record.relays.is_empty() {
                    continue; // counted below
                }
                let waiting = Waiting::Sync {
                    kind: record.kind,
                    id: record.object,
                };
                note(key, waiting, true);
            }
        }
        // A combinator's hold on its parent: what it waits on is listed
        // through its children.
        for record in records.iter().filter(|r| !r.relays.is_empty()) {
            if let Some(&key) = owner.get(&record.waker) {
                *held.entry(key).or_default() += 1;
            }
        }

        // Who holds which lock: the last task to take it, named only while
        // a task waits for it (a lock's note is not cleared on release).
        let waited_on = |kind: &str, object: u64| {
            records
                .iter()
                .any(|r| r.kind == kind && r.object == object && owner.contains_key(&r.waker))
        };
        let mut holders: Vec<(u64, String)> = self
            .debug
            .parked
            .holds()
            .into_iter()
            .filter(|hold| waited_on(hold.kind, hold.object))
            .map(|hold| {
                let by = match hold.task {
                    Some(key) if Some(key) == root_key => "the main future".to_string(),
                    Some(key) => match st.tasks.get(key.index as usize) {
                        Some(slot) if slot.seq == key.seq => {
                            format!("task {} {:?}", slot.id().as_u64(), slot.name())
                        }
                        _ => "a task that has finished".to_string(),
                    },
                    None => "code outside any task (a callback, say)".to_string(),
                };
                let line = format!("{}#{} is held by {by}", hold.kind, hold.object);
                (hold.object, line)
            })
            .collect();
        holders.sort();

        let mut inconsistent = false;
        // A row's status, and what it waits on if it waits.
        let mut status_of = |key: TaskKey, running: bool, done: bool, queued: bool| {
            let status = match () {
                () if running => Status::Running,
                () if done => Status::Done,
                () if queued => Status::Ready,
                () => Status::Waiting,
            };
            let mut list = Vec::new();
            if status == Status::Waiting {
                list = waits.remove(&key).unwrap_or_default();
                let seen = held.get(&key).copied().unwrap_or(0);
                let all = clones.get(&key).copied().unwrap_or(0);
                inconsistent |= seen > all;
                let unseen = all.saturating_sub(seen);
                if unseen > 0 {
                    list.push(Waiting::Elsewhere { wakers: unseen });
                }
            }
            (status, list)
        };

        let main = st.root.as_ref().zip(root_key).map(|(root, key)| {
            let running = self.polling_key() == Some(key);
            let (status, waiting_on) = status_of(key, running, false, root.queued);
            MainDump { status, waiting_on }
        });

        let mut tasks = Vec::with_capacity(st.tasks.len());
        for (index, slot) in st.tasks.iter() {
            let key = TaskKey {
                index: index as u32,
                seq: slot.seq,
            };
            // `Stage::Running` outside a poll: its future is off the slot
            // being dropped (a cancellation) — its own code runs now.
            let running =
                current == Some(key) || matches!(slot.stage, crate::task::slot::Stage::Running);
            let (mut status, waiting_on) = status_of(key, running, slot.is_finished(), slot.queued);
            if status == Status::Done && slot.cancelled {
                status = Status::Cancelled;
            }
            let info = self.debug.with_task(key, |info| {
                (
                    taken_at.saturating_duration_since(info.born),
                    info.polls,
                    info.wakes,
                    info.site,
                    info.parent,
                )
            });
            tasks.push(TaskDump {
                id: slot.id(),
                name: slot.name(),
                status,
                waiting_on,
                age: info.map(|i| i.0),
                polls: info.map(|i| i.1),
                wakes: info.map(|i| i.2),
                spawned_at: info.map(|i| i.3),
                parent: info.and_then(|i| i.4),
            });
        }
        tasks.sort_by_key(|row| row.id);
        Dump {
            main,
            tasks,
            taken_at,
            debug: self.debug.is_on(),
            inconsistent,
            holders,
        }
    }
}

impl Dump {
    /// Could only code of this loop wake every waiter? True when no task
    /// and no main future waits on a timer, on I/O or on a waker held
    /// outside corio's sight.
    pub(crate) fn only_the_loop_can_wake(&self) -> bool {
        let outside = |list: &[Waiting]| list.iter().any(Waiting::comes_from_outside);
        !self.inconsistent
            && !self.main.as_ref().is_some_and(|m| outside(&m.waiting_on))
            && !self.tasks.iter().any(|t| outside(&t.waiting_on))
    }

    /// "who waits on what", one line per waiting task, for the stall
    /// report.
    pub(crate) fn who_waits(&self) -> String {
        let mut out = String::new();
        let list = |waiting: &[Waiting]| {
            if waiting.is_empty() {
                "nothing: nobody holds its waker, so it can never be woken".to_string()
            } else {
                waiting
                    .iter()
                    .map(Waiting::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        if let Some(main) = &self.main {
            if main.status == Status::Waiting {
                out.push_str(&format!(
                    "  the main future waits on {}\n",
                    list(&main.waiting_on)
                ));
            }
        }
        for task in self.tasks.iter().filter(|t| t.status == Status::Waiting) {
            let at = task
                .spawned_at
                .map_or(String::new(), |site| format!(" (spawned at {site})"));
            out.push_str(&format!(
                "  task {} {:?}{at} waits on {}\n",
                task.id.as_u64(),
                task.name,
                list(&task.waiting_on)
            ));
        }
        for cycle in self.await_cycles() {
            let names: Vec<String> = cycle
                .iter()
                .chain(cycle.first())
                .map(|id| {
                    let name = self.task(*id).map_or("?", |t| t.name.as_str());
                    format!("task {} {name:?}", id.as_u64())
                })
                .collect();
            let what = if cycle.len() == 1 {
                "awaits itself"
            } else {
                "each awaits the next: none can finish first"
            };
            out.push_str(&format!("  a cycle: {} ({what})\n", names.join(" → ")));
        }
        out
    }

    /// Tasks that await one another in a ring, each ring once, from its
    /// smallest id. A ring is a strongly connected component of the "awaits"
    /// graph (Tarjan's algorithm, in time linear in tasks and awaits: a
    /// stall report on thousands of tasks must not take minutes); its
    /// members are listed along the awaits from the smallest id, then any
    /// the walk missed (a component that is not one simple ring).
    fn await_cycles(&self) -> Vec<Vec<TaskId>> {
        use std::collections::{HashMap, HashSet};
        let index: HashMap<TaskId, usize> = self
            .tasks
            .iter()
            .enumerate()
            .map(|(i, t)| (t.id, i))
            .collect();
        let edges: Vec<Vec<usize>> = self
            .tasks
            .iter()
            .map(|t| {
                t.waiting_on
                    .iter()
                    .filter_map(|w| match w {
                        Waiting::Task { id, .. } => index.get(id).copied(),
                        _ => None,
                    })
                    .collect()
            })
            .collect();
        let components = strongly_connected(&edges);
        let mut cycles: Vec<Vec<TaskId>> = Vec::new();
        for component in components {
            let ring = component.len() > 1 || edges[component[0]].contains(&component[0]);
            if !ring {
                continue;
            }
            let members: HashSet<usize> = component.iter().copied().collect();
            let Some(&start) = component.iter().min_by_key(|&&i| self.tasks[i].id) else {
                continue;
            };
            let mut walk = vec![start];
            let mut seen = HashSet::from([start]);
            let mut at = start;
            while let Some(next) = edges[at]
                .iter()
                .copied()
                .find(|w| members.contains(w) && !seen.contains(w))
            {
                walk.push(next);
                seen.insert(next);
                at = next;
            }
            let mut rest: Vec<usize> = component
                .iter()
                .copied()
                .filter(|i| !seen.contains(i))
                .collect();
            rest.sort_by_key(|&i| self.tasks[i].id);
            walk.extend(rest);
            cycles.push(walk.into_iter().map(|i| self.tasks[i].id).collect());
        }
        cycles.sort();
        cycles
    }
}

/// The strongly connected components of a graph given as out-edges per
/// node: Tarjan's algorithm, with an explicit stack (a chain of thousands
/// of awaiting tasks must not overflow the thread's).
fn strongly_connected(edges: &[Vec<usize>]) -> Vec<Vec<usize>> {
    const UNSEEN: usize = usize::MAX;
    let n = edges.len();
    let mut order = vec![UNSEEN; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut next = 0;
    let mut components = Vec::new();
    for root in 0..n {
        if order[root] != UNSEEN {
            continue;
        }
        // (node, how many of its edges were followed)
        let mut calls = vec![(root, 0)];
        order[root] = next;
        low[root] = next;
        next += 1;
        stack.push(root);
        on_stack[root] = true;
        while let Some(&(v, followed)) = calls.last() {
            if let Some(&w) = edges[v].get(followed) {
                if let Some(top) = calls.last_mut() {
                    top.1 += 1;
                }
                if order[w] == UNSEEN {
                    order[w] = next;
                    low[w] = next;
                    next += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    calls.push((w, 0));
                } else if on_stack[w] {
                    low[v] = low[v].min(order[w]);
                }
                continue;
            }
            calls.pop();
            if let Some(&(u, _)) = calls.last() {
                low[u] = low[u].min(low[v]);
            }
            if low[v] == order[v] {
                let mut component = Vec::new();
                while let Some(w) = stack.pop() {
                    on_stack[w] = false;
                    component.push(w);
                    if w == v {
                        break;
                    }
                }
                components.push(component);
            }
        }
    }
    components
}

impl fmt::Display for Dump {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = |s: Status| match s {
            Status::Running => "running",
            Status::Ready => "ready",
            Status::Waiting => "waiting",
            Status::Done => "done",
            Status::Cancelled => "cancelled",
        };
        let waits = |list: &[Waiting], s: Status| {
            if s != Status::Waiting {
                String::new()
            } else if list.is_empty() {
                "nothing (can never be woken)".to_string()
            } else {
                list.iter()
                    .map(Waiting::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        };
        let opt = |n: Option<u64>| n.map_or("-".to_string(), |n| n.to_string());
        writeln!(
            f,
            "{:>5}  {:<16} {:<8} {:>8} {:>6} {:>6} {:>6}  {:<28} waiting on",
            "id", "name", "status", "age", "polls", "wakes", "parent", "spawned at"
        )?;
        if let Some(main) = &self.main {
            writeln!(
                f,
                "{:>5}  {:<16} {:<8} {:>8} {:>6} {:>6} {:>6}  {:<28} {}",
                "-",
                "(main future)",
                status(main.status),
                "-",
                "-",
                "-",
                "-",
                "-",
                waits(&main.waiting_on, main.status)
            )?;
        }
        for t in &self.tasks {
            let age = t.age.map_or("-".to_string(), |a| format!("{a:.1?}"));
            let site = t.spawned_at.map_or("-".to_string(), |s| s.to_string());
            let parent = t.parent.map_or("-".to_string(), |p| p.as_u64().to_string());
            writeln!(
                f,
                "{:>5}  {:<16} {:<8} {:>8} {:>6} {:>6} {:>6}  {:<28} {}",
                t.id.as_u64(),
                // Escaped: a name with a newline would split its row (or
                // fake another).
                t.name.escape_debug().to_string(),
                status(t.status),
                age,
                opt(t.polls),
                opt(t.wakes),
                parent,
                site,
                waits(&t.waiting_on, t.status)
            )?;
        }
        for (_, line) in &self.holders {
            writeln!(f, "{line}")?;
        }
        if !self.debug {
            writeln!(
                f,
                "(debug mode is off: a wait on an Event, Lock, Queue … that began while it was \
                 off shows as a waker held elsewhere, and ages, counts and spawn sites are \
                 missing; set CORIO_DEBUG=1)"
            )?;
        }
        Ok(())
    }
}
