//! Generators inside combinators, seeded and randomized: bodies built from
//! yields, `gather`, `select` against `yield_now`, `as_completed` loops and
//! nested async fns, resumed with numbered arguments; every yield must get
//! the argument of the resume after its stop, every value is dropped once,
//! and the only panic is the documented two-yields-at-once one. `SEEDS=N`
//! runs more or fewer (default 20,000); `SHOW=foreign` or `SHOW=panic` prints small
//! examples of those outcomes.
mod common;

use std::cell::RefCell;
use std::collections::HashMap;
use std::future::{Future, poll_fn};
use std::pin::Pin;
use std::task::{Context, Poll};

use common::XorShift as Rng;
use corio::generator::{Co, Gen, GenError, GenState};

const WILD: u64 = 10;
type BoxFut<'a> = Pin<Box<dyn Future<Output = ()> + 'a>>;

// ---------- tracking ----------
#[derive(Debug, Clone, Copy, PartialEq)]
enum YS {
    Live,
    Returned,
    Dropped,
}
#[derive(Debug)]
struct Y {
    handed: usize,
    value: u64,
    status: YS,
}
#[derive(Default)]
struct St {
    next_id: u64,
    drops: HashMap<u64, u32>,
    resume: usize, // index of the current resume (1-based), usize::MAX = teardown
    in_poll: bool,
    yields: Vec<Y>,
    args: Vec<u64>, // args[k] = arg id of resume k
    expect_panic: bool,
    errors: Vec<String>,
}
thread_local! { static ST: RefCell<St> = RefCell::new(St::default()); }
fn st<R>(f: impl FnOnce(&mut St) -> R) -> R {
    ST.with(|s| f(&mut s.borrow_mut()))
}

#[derive(Debug)]
struct Val(u64);
impl Val {
    fn new() -> Val {
        st(|s| {
            s.next_id += 1;
            s.drops.insert(s.next_id, 0);
            Val(s.next_id)
        })
    }
}
impl Drop for Val {
    fn drop(&mut self) {
        let id = self.0;
        st(|s| {
            let d = s.drops.get_mut(&id).unwrap();
            *d += 1;
            if *d > 1 {
                s.errors.push(format!("value {id} dropped twice"));
            }
        });
    }
}

struct Guard {
    yid: usize,
    handed: bool,
    done: bool,
}
impl Drop for Guard {
    fn drop(&mut self) {
        if !self.handed || self.done {
            return;
        }
        let yid = self.yid;
        st(|s| {
            let r = s.resume;
            let in_poll = s.in_poll;
            let y = &mut s.yields[yid];
            y.status = YS::Dropped;
            let h = y.handed;
            if r != usize::MAX && in_poll && !(r == h || r == h + 1) {
                s.errors.push(format!(
                    "yield {yid} (handed in resume {h}) dropped in body poll of resume {r}: stale"
                ));
            }
            if r != usize::MAX && !in_poll && h < r {
                s.errors.push(format!("yield {yid} (handed in resume {h}) never got resume {}'s argument; torn down in resume {r}", h + 1));
            }
        });
    }
}

async fn tracked_yield(co: &Co<Val, Val>) {
    let yid = st(|s| {
        s.yields.push(Y {
            handed: 0,
            value: 0,
            status: YS::Live,
        });
        s.yields.len() - 1
    });
    let v = Val::new();
    let vid = v.0;
    let mut fut = co.yield_(v);
    let mut g = Guard {
        yid,
        handed: false,
        done: false,
    };
    let arg = poll_fn(|cx| {
        if !g.handed {
            g.handed = true;
            st(|s| {
                let r = s.resume;
                let live_now = s
                    .yields
                    .iter()
                    .filter(|y| y.status == YS::Live && y.handed == r && y.value != 0)
                    .count();
                if live_now >= 1 {
                    s.expect_panic = true;
                }
                let y = &mut s.yields[yid];
                y.handed = r;
                y.value = vid;
            });
        }
        Pin::new(&mut fut).poll(cx)
    })
    .await;
    g.done = true;
    st(|s| {
        let r = s.resume;
        let h = s.yields[yid].handed;
        s.yields[yid].status = YS::Returned;
        if r != h + 1 {
            s.errors.push(format!(
                "yield {yid} handed in resume {h} returned in resume {r}"
            ));
        } else if s.args.get(r).copied() != Some(arg.0) {
            s.errors.push(format!(
                "yield {yid} got arg {} but resume {r} sent {:?}",
                arg.0,
                s.args.get(r)
            ));
        }
    });
}

// ---------- shapes ----------
#[derive(Debug, Clone)]
enum Node {
    Yield,
    YieldNow,
    Seq(Vec<Node>),
    Gather(Vec<Node>),
    Select {
        yield_first: bool,
        inner: Box<Node>,
    },
    AsCompleted {
        children: Vec<Node>,
        body_yields: bool,
        brk: Option<usize>,
    },
    Nested(Box<Node>),
}

fn exec<'a>(co: &'a Co<Val, Val>, n: &'a Node) -> BoxFut<'a> {
    Box::pin(async move {
        match n {
            Node::Yield => tracked_yield(co).await,
            Node::YieldNow => corio::yield_now().await,
            Node::Seq(v) => {
                for c in v {
                    exec(co, c).await;
                }
            }
            Node::Gather(v) => {
                corio::gather(v.iter().map(|c| exec(co, c))).await;
            }
            Node::Select { yield_first, inner } => {
                if *yield_first {
                    let _ = corio::select(exec(co, inner), corio::yield_now()).await;
                } else {
                    let _ = corio::select(corio::yield_now(), exec(co, inner)).await;
                }
            }
            Node::AsCompleted {
                children,
                body_yields,
                brk,
            } => {
                let mut done = corio::as_completed(children.iter().map(|c| exec(co, c)));
                let mut k = 0;
                while let Some(()) = done.next().await {
                    k += 1;
                    if Some(k) == *brk {
                        break;
                    }
                    if *body_yields {
                        tracked_yield(co).await;
                    }
                }
            }
            Node::Nested(b) => nested(co, b).await,
        }
    })
}
async fn nested(co: &Co<Val, Val>, n: &Node) {
    exec(co, n).await
}

fn plain(r: &mut Rng, d: u32) -> Node {
    // A sibling of a yielding child: completes at once or after yield_now().
    match r.below(4) {
        0 | 1 => Node::YieldNow,
        2 => Node::Seq(vec![]),
        _ => {
            if d == 0 {
                Node::Seq(vec![])
            } else {
                Node::Nested(Box::new(plain(r, d - 1)))
            }
        }
    }
}
/// `n` children at depth `d - 1`: child `y` yields, and with `wild` any
/// other may too; the rest do not.
fn children(r: &mut Rng, d: u32, n: usize, y: usize, wild: bool) -> Vec<Node> {
    (0..n)
        .map(|i| {
            if i == y || (wild && r.below(2) == 0) {
                yielding(r, d - 1)
            } else {
                plain(r, d - 1)
            }
        })
        .collect()
}

fn yielding(r: &mut Rng, d: u32) -> Node {
    if d == 0 {
        return Node::Yield;
    }
    match r.below(7) {
        0 => Node::Yield,
        1 => Node::Seq(
            (0..1 + r.below(4))
                .map(|_| {
                    if r.below(4) == 0 {
                        Node::Seq(vec![])
                    } else {
                        yielding(r, d - 1)
                    }
                })
                .collect(),
        ),
        2 | 3 => {
            let n = 2 + r.below(2) as usize;
            let y = r.below(n as u64) as usize;
            let wild = r.below(WILD) == 0; // sometimes several yielding children
            Node::Gather(children(r, d, n, y, wild))
        }
        4 => Node::Select {
            yield_first: r.below(2) == 0,
            inner: Box::new(if r.below(2) == 0 {
                Node::Yield
            } else {
                yielding(r, d - 1)
            }),
        },
        5 => {
            let n = 1 + r.below(3) as usize;
            let y = r.below(n as u64) as usize;
            let wild = r.below(WILD) == 0;
            let body_yields = r.below(3) == 0;
            let y = if body_yields && r.below(3) != 0 {
                usize::MAX
            } else {
                y
            };
            Node::AsCompleted {
                children: children(r, d, n, y, wild),
                body_yields,
                brk: if r.below(4) == 0 {
                    Some(1 + r.below(n as u64) as usize)
                } else {
                    None
                },
            }
        }
        _ => Node::Nested(Box::new(yielding(r, d - 1))),
    }
}

struct Watched<F>(Pin<Box<F>>);
impl<F: Future> Future for Watched<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                st(|s| s.in_poll = false);
            }
        }
        st(|s| s.in_poll = true);
        let _r = Reset;
        self.0.as_mut().poll(cx)
    }
}

#[derive(Default, Debug)]
struct Stats {
    complete: u32,
    foreign: u32,
    panics: u32,
    early_drop: u32,
    capped: u32,
    resumes: u64,
    yields: u64,
}

fn run_one(seed: u64, stats: &mut Stats) -> Result<(), String> {
    ST.with(|s| *s.borrow_mut() = St::default());
    let mut r = Rng::seeded(seed);
    let shape = Node::Seq(
        (0..2 + r.below(5))
            .map(|_| {
                let d = 1 + r.below(5) as u32;
                yielding(&mut r, d)
            })
            .collect(),
    );
    let drop_at = if r.below(6) == 0 {
        Some(1 + r.below(12) as usize)
    } else {
        None
    };
    let sh = shape.clone();
    let mut g = Gen::new(move |co: Co<Val, Val>| {
        Watched(Box::pin(async move {
            let co = &co;
            exec(co, &sh).await;
        }))
    });
    st(|s| s.args.push(0));
    let mut outcome = "capped";
    for k in 1..=300usize {
        if Some(k) == drop_at {
            outcome = "early drop";
            break;
        }
        let a = Val::new();
        st(|s| {
            s.resume = k;
            s.args.push(a.0);
            s.expect_panic = false;
        });
        stats.resumes += 1;
        let res = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| g.resume(a)));
        let expect_panic = st(|s| s.expect_panic);
        match res {
            Err(p) => {
                let msg = common::panic_text(&*p);
                if !(msg.contains("two co.yield_() awaited at once") && expect_panic) {
                    st(|s| {
                        s.errors.push(format!("resume {k}: panic {msg:?} (two live yields handed this resume: {expect_panic})"))
                    });
                }
                outcome = "panic";
                break;
            }
            Ok(res) => {
                if expect_panic {
                    st(|s| {
                        s.errors
                            .push(format!("resume {k}: two yields handed in but no panic"))
                    });
                }
                let live: Vec<(usize, usize, u64)> = st(|s| {
                    s.yields
                        .iter()
                        .enumerate()
                        .filter(|(_, y)| y.status == YS::Live && y.value != 0)
                        .map(|(i, y)| (i, y.handed, y.value))
                        .collect()
                });
                match res {
                    Ok(GenState::Yielded(v)) => {
                        stats.yields += 1;
                        if !(live.len() == 1 && live[0].1 == k && live[0].2 == v.0) {
                            st(|s| {
                                s.errors.push(format!("resume {k}: Yielded value {} but live yields (id, resume handed, value) = {live:?}", v.0))
                            });
                        }
                    }
                    Ok(GenState::Complete(())) => {
                        outcome = "complete";
                        if !live.is_empty() {
                            st(|s| {
                                s.errors
                                    .push(format!("resume {k}: Complete with live yields {live:?}"))
                            });
                        }
                        break;
                    }
                    Err(GenError::ForeignAwait) => {
                        outcome = "foreign";
                        break;
                    }
                    Err(e) => {
                        st(|s| s.errors.push(format!("resume {k}: {e:?}")));
                        break;
                    }
                }
            }
        }
        let errs = st(|s| s.errors.len());
        if errs > 0 {
            break;
        }
    }
    match outcome {
        "complete" => stats.complete += 1,
        "foreign" => stats.foreign += 1,
        "panic" => stats.panics += 1,
        "early drop" => stats.early_drop += 1,
        _ => stats.capped += 1,
    }
    st(|s| s.resume = usize::MAX);
    drop(g);
    let errors = st(|s| {
        let mut e = std::mem::take(&mut s.errors);
        for (id, d) in &s.drops {
            if *d != 1 {
                e.push(format!("value {id} dropped {d} times at the end"));
            }
        }
        e
    });
    if std::env::var("SHOW").ok().as_deref() == Some(outcome) {
        let d = format!("{shape:?}");
        if d.len() < 90 {
            eprintln!(
                "{outcome}: {d} trace={:?}",
                st(|s| s
                    .yields
                    .iter()
                    .map(|y| (y.handed, y.status))
                    .collect::<Vec<_>>())
            );
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "seed {seed} ({outcome}): shape {shape:?}\n  {}",
            errors.join("\n  ")
        ))
    }
}

#[test]
fn generator_fuzz() {
    std::panic::set_hook(Box::new(|_| {}));
    let seeds = common::seeds(20000);
    let mut stats = Stats::default();
    let mut fails = Vec::new();
    for &seed in &seeds {
        if let Err(e) = run_one(seed, &mut stats) {
            fails.push(e);
        }
    }
    let _ = std::panic::take_hook();
    eprintln!("{} seeds: {stats:?}, {} failing", seeds.len(), fails.len());
    for f in fails.iter().take(5) {
        eprintln!("{f}");
    }
    assert!(fails.is_empty());
}
