//! corio side by side with its peers, on the workloads of
//! `../shared/BENCHMARKS.md`.
//!
//! ```text
//! cargo run --release -- table [--rounds 5] [--only W1,W2] [--runtimes corio,tokio]
//! cargo run --release -- run <runtime> <workload> [--n N] [--reps R]
//! cargo run --release -- w5 [--rounds 5] [--conns 64] [--msgs 5000] [--pin]   # TCP echo, see echo.rs
//! ```
//!
//! `table` runs every (runtime, workload) pair in a fresh process, rounds
//! interleaved (A B C D, B C D A, ...), and prints the median of the rounds
//! with their spread, plus corio's ratio to the best peer. `run` is one
//! such process: a warm-up, then the median of `--reps` repetitions.

mod echo;
mod floor;
mod gens;
mod http;
mod runtimes;
mod syncs;
mod workloads;

use std::collections::BTreeMap;
use std::process::Command;

use runtimes::{Blocking, Corio, Monoio, Runtime, Smol, TokioLocal};

const RUNTIMES: [&str; 4] = ["corio", "tokio", "smol", "monoio"];
/// What `run` and `table --runtimes` accept (the last two: G1 and G2 only).
/// (`floor`: the safe floor of `floor.rs`, W1–W3, W7 and W8 only; measured
/// when named.)
const TABLE_RUNTIMES: [&str; 7] = [
    "corio",
    "tokio",
    "smol",
    "monoio",
    "genawaiter",
    "iterator",
    "floor",
];

/// (id, default n, unit); lower is better for all
const WORKLOADS: [(&str, usize, &str); 16] = [
    ("W1", 1_000_000, "ns/task"),
    ("W2", 1_000_000, "ns/hand-off"),
    ("W3", 1_000_000, "ns/poll"),
    ("W4", 100_000, "CPU ns/timer"),
    ("W4c", 1_000_000, "ns/op"),
    ("W7", 100_000, "bytes/task"),
    ("W7p", 100_000, "bytes/unreachable task"),
    ("W8", 100_000, "ns/creation"),
    ("W8-raw", 1_000, "thread / process ns"),
    ("P1", 20_000, "ns/round trip"),
    ("P2", 100_000, "ns/job"),
    ("S1", 1_000_000, "ns/lock+unlock"),
    ("S2", 1_000_000, "ns/message (mpsc)"),
    ("S3", 1_000_000, "ns/put+get (Queue; peers: their channel)"),
    ("G1", 10_000_000, "ns/resume+yield"),
    ("G2", 10_000_000, "ns/item with ~20 ns of work"),
];

/// Issue 3's pool workloads: corio, tokio's `spawn_blocking`, smol's
/// `unblock` (monoio has no comparable default pool).
fn measure_blocking<R: Blocking>(workload: &str, n: usize) -> f64 {
    match workload {
        "P1" => workloads::p1::<R>(n),
        "P2" => workloads::p2::<R>(n),
        other => panic!("unknown workload {other}"),
    }
}

fn measure<R: Runtime>(workload: &str, n: usize) -> f64 {
    match workload {
        "W1" => workloads::w1::<R>(n),
        "W2" => workloads::w2::<R>(n),
        "W3" => workloads::w3::<R>(n),
        "W4" => workloads::w4::<R>(n),
        "W4c" => workloads::w4c::<R>(n),
        "W7" => workloads::w7::<R>(n, true),
        "W7p" => workloads::w7::<R>(n, false),
        "W8" => workloads::w8_task::<R>(n),
        other => panic!("unknown workload {other}"),
    }
}

fn measure_on(runtime: &str, workload: &str, n: usize) -> f64 {
    if workload.starts_with('S') {
        return syncs::measure(runtime, workload, n);
    }
    if workload.starts_with('G') {
        return gens::measure(runtime, workload, n);
    }
    if workload.starts_with('P') {
        return match runtime {
            "corio" => measure_blocking::<Corio>(workload, n),
            "tokio" => measure_blocking::<TokioLocal>(workload, n),
            "smol" => measure_blocking::<Smol>(workload, n),
            _ => f64::NAN,
        };
    }
    match runtime {
        "corio" => measure::<Corio>(workload, n),
        "tokio" => measure::<TokioLocal>(workload, n),
        "smol" => measure::<Smol>(workload, n),
        "monoio" => measure::<Monoio>(workload, n),
        "floor" if matches!(workload, "W1" | "W2" | "W3" | "W7" | "W7p" | "W8") => {
            measure::<floor::Floor>(workload, n)
        }
        "floor" => f64::NAN, // no timers
        other => panic!("unknown runtime {other}"),
    }
}

const USAGE: &str = "usage: corio-peers [COMMAND]
  table [--rounds 5] [--only W1,W2] [--runtimes corio,tokio] [--n N]   (the default)
  run <runtime> <workload> [--n N] [--reps R]
  w5 [--rounds 5] [--conns 64] [--msgs 5000] [--runtimes raw,corio] [--pin]
  echo-server <runtime> <port>
  echo-client <runtime> <port> <conns> <msgs>
  w6 [--rounds 5] [--conns 64] [--requests 100000] [--runtimes raw,corio] [--server nginx|demo]
  http-client <runtime> <addr> <conns> <requests> [path]
  http-server | nginx";

/// A wrong command line: one message and the usage, exit status 2 (no panic).
fn usage_error(message: &str) -> ! {
    eprintln!("corio-peers: {message}\n{USAGE}");
    std::process::exit(2);
}

/// The positional argument `i`, parsed.
fn arg<T: std::str::FromStr>(args: &[String], i: usize, what: &str) -> T {
    let Some(v) = args.get(i) else {
        usage_error(&format!("missing {what}"))
    };
    v.parse()
        .unwrap_or_else(|_| usage_error(&format!("bad {what} {v:?}")))
}

/// A count that must be at least 1 (0 connections or messages would hang
/// the raw clients or print a rate of nothing).
fn count(args: &[String], i: usize, what: &str) -> usize {
    let n: usize = arg(args, i, what);
    if n == 0 {
        usage_error(&format!("{what} must be at least 1"));
    }
    n
}

fn workload_names() -> String {
    WORKLOADS.iter().map(|w| w.0).collect::<Vec<_>>().join(",")
}

fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    let mid = values.len() / 2;
    if values.len() % 2 == 1 {
        values[mid]
    } else {
        (values[mid - 1] + values[mid]) / 2.0
    }
}

/// The value of flag `name`, parsed; a flag without a value or with one
/// that does not parse is a usage error (not the default, silently).
fn flag<T: std::str::FromStr>(args: &[String], name: &str) -> Option<T> {
    let i = args.iter().position(|a| a == name)?;
    let Some(v) = args.get(i + 1) else {
        usage_error(&format!("{name} needs a value"))
    };
    Some(
        v.parse()
            .unwrap_or_else(|_| usage_error(&format!("bad value for {name}: {v:?}"))),
    )
}

/// A count flag that must be at least 1 when given.
fn count_flag(args: &[String], name: &str, default: usize) -> usize {
    let n = flag(args, name).unwrap_or(default);
    if n == 0 {
        usage_error(&format!("{name} must be at least 1"));
    }
    n
}

/// Every argument must be one of `with_value` (followed by its value) or
/// `switches`: a typo (`--round 1`) is a usage error instead of a run with
/// the defaults. `-h`/`--help` prints the usage.
fn check_flags(args: &[String], with_value: &[&str], switches: &[&str]) {
    let mut i = 0;
    while i < args.len() {
        let a = args[i].as_str();
        if a == "-h" || a == "--help" {
            println!("{USAGE}");
            std::process::exit(0);
        } else if switches.contains(&a) {
            i += 1;
        } else if with_value.contains(&a) {
            if i + 1 >= args.len() {
                usage_error(&format!("{a} needs a value"));
            }
            i += 2;
        } else {
            usage_error(&format!("unknown argument {a:?}"));
        }
    }
}

/// `--runtimes` / `--only`: a comma list whose every name is in `known`.
fn name_list(args: &[String], name: &str, known: &[&str]) -> Option<String> {
    let list: String = flag(args, name)?;
    for x in list.split(',') {
        if !known.contains(&x) {
            usage_error(&format!(
                "{name}: unknown name {x:?} (one of {})",
                known.join(",")
            ));
        }
    }
    Some(list)
}

/// A positional runtime name that must be in `known`.
fn runtime_arg(args: &[String], i: usize, known: &[&str]) -> String {
    let runtime: String = arg(args, i, "runtime");
    if !known.contains(&runtime.as_str()) {
        usage_error(&format!(
            "unknown runtime {runtime:?} (one of {})",
            known.join(",")
        ));
    }
    runtime
}

/// One process, one (runtime, workload): prints the median of the reps.
fn run(args: &[String]) {
    let runtime: String = arg(args, 0, "runtime");
    let workload: String = arg(args, 1, "workload");
    let (runtime, workload) = (runtime.as_str(), workload.as_str());
    check_flags(args.get(2..).unwrap_or(&[]), &["--n", "--reps"], &[]);
    if !WORKLOADS.iter().any(|w| w.0 == workload) {
        usage_error(&format!(
            "unknown workload {workload:?} (one of {})",
            workload_names()
        ));
    }
    if !TABLE_RUNTIMES.contains(&runtime) {
        usage_error(&format!(
            "unknown runtime {runtime:?} (one of {})",
            TABLE_RUNTIMES.join(",")
        ));
    }
    if matches!(runtime, "genawaiter" | "iterator") && !workload.starts_with('G') {
        usage_error(&format!(
            "{runtime} runs only the generator workloads G1 and G2"
        ));
    }
    let default_n = WORKLOADS
        .iter()
        .find(|w| w.0 == workload)
        .map_or(0, |w| w.1);
    let n = count_flag(args, "--n", default_n);
    if workload == "W8-raw" {
        let thread = workloads::w8_thread(n);
        let process = workloads::w8_process(n / 5);
        println!("{thread:.0} {process:.0}");
        return;
    }
    if workload.starts_with("W7") {
        // Peak memory: one clean measurement, no warm-up.
        println!("{:.1}", measure_on(runtime, workload, n));
        return;
    }
    let reps = count_flag(args, "--reps", 5);
    measure_on(runtime, workload, n); // warm-up
    let mut samples: Vec<f64> = (0..reps)
        .map(|_| measure_on(runtime, workload, n))
        .collect();
    println!("{:.1}", median(&mut samples));
}

fn run_child(runtime: &str, workload: &str, extra: &[String]) -> Vec<f64> {
    let exe = std::env::current_exe().expect("own path");
    let out = Command::new(exe)
        .args(["run", runtime, workload])
        .args(extra)
        .output()
        .expect("spawn the measuring process");
    if !out.status.success() {
        eprintln!(
            "{runtime} {workload} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        return Vec::new();
    }
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|v| v.parse().ok())
        .filter(|v: &f64| !v.is_nan())
        .collect()
}

fn table(args: &[String]) {
    check_flags(args, &["--rounds", "--only", "--runtimes", "--n"], &[]);
    let rounds = count_flag(args, "--rounds", 5);
    let names: Vec<&str> = WORKLOADS.iter().map(|w| w.0).collect();
    let only: Option<String> = name_list(args, "--only", &names);
    let runtimes: Vec<String> = name_list(args, "--runtimes", &TABLE_RUNTIMES)
        .map(|r| r.split(',').map(String::from).collect())
        .unwrap_or_else(|| RUNTIMES.iter().map(|s| s.to_string()).collect());
    let mut extra = Vec::new();
    if args.iter().any(|a| a == "--n") {
        let n = count_flag(args, "--n", 1);
        extra = vec!["--n".to_string(), n.to_string()];
    }
    let workloads: Vec<_> = WORKLOADS
        .iter()
        .filter(|w| only.as_ref().is_none_or(|o| o.split(',').any(|x| x == w.0)))
        .collect();

    let mut results: BTreeMap<(String, String), Vec<Vec<f64>>> = BTreeMap::new();
    for round in 0..rounds {
        eprintln!("round {}/{rounds}", round + 1);
        for (id, _, _) in &workloads {
            if *id == "W8-raw" {
                if round == 0 {
                    let v = run_child("corio", id, &extra);
                    results
                        .entry(("raw".into(), id.to_string()))
                        .or_default()
                        .push(v);
                }
                continue;
            }
            // Rotate the order every round: A B C D, B C D A, ...
            for k in 0..runtimes.len() {
                let rt = &runtimes[(k + round) % runtimes.len()];
                if matches!(rt.as_str(), "genawaiter" | "iterator") && !id.starts_with('G') {
                    continue; // generators only: a "—" in the table
                }
                let v = run_child(rt, id, &extra);
                results
                    .entry((rt.clone(), id.to_string()))
                    .or_default()
                    .push(v);
            }
        }
    }

    println!(
        "| workload | {} | corio ÷ best peer |",
        runtimes.join(" | ")
    );
    println!("|---|{}---|", "---|".repeat(runtimes.len()));
    for (id, _, unit) in &workloads {
        if *id == "W8-raw" {
            if let Some(v) = results
                .get(&("raw".into(), id.to_string()))
                .and_then(|r| r.first())
                && v.len() == 2
            {
                println!(
                    "| W8 thread · process ({unit}) | {:.0} · {:.0} |",
                    v[0], v[1]
                );
            }
            continue;
        }
        let mut cells = Vec::new();
        let mut medians = BTreeMap::new();
        for rt in &runtimes {
            let mut vals: Vec<f64> = results
                .get(&(rt.clone(), id.to_string()))
                .map(|r| r.iter().filter_map(|v| v.first().copied()).collect())
                .unwrap_or_default();
            if vals.is_empty() {
                cells.push("—".to_string());
                continue;
            }
            let lo = vals.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = vals.iter().copied().fold(0.0, f64::max);
            let med = median(&mut vals);
            medians.insert(rt.clone(), med);
            cells.push(format!("{med:.1} ({lo:.1}–{hi:.1})"));
        }
        // BENCHMARKS.md: monoio's yield re-polls the same task at once, so
        // its W3 is not comparable. The floor is a yardstick, not a peer.
        let comparable =
            |rt: &str| !(matches!(rt, "corio" | "floor") || *id == "W3" && rt == "monoio");
        let best_peer = medians
            .iter()
            .filter(|(rt, _)| comparable(rt))
            .map(|(rt, v)| (v, rt))
            .min_by(|a, b| a.0.total_cmp(b.0));
        let ratio = match (medians.get("corio"), best_peer) {
            (Some(c), Some((p, name))) => format!("{:.2}× {name}", c / p),
            _ => "—".to_string(),
        };
        println!("| {id} ({unit}) | {} | {ratio} |", cells.join(" | "));
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    // `corio-peers w6 --help` prints the usage: it must not start a run.
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!("{USAGE}");
        return;
    }
    match args.first().map(String::as_str) {
        Some("run") => run(&args[1..]),
        Some("echo-server") => {
            let runtime = runtime_arg(&args, 1, &echo::RUNTIMES);
            echo::server(&runtime, arg(&args, 2, "port"));
        }
        Some("echo-client") => {
            let runtime = runtime_arg(&args, 1, &echo::RUNTIMES);
            let port = arg(&args, 2, "port");
            echo::client_main(
                &runtime,
                port,
                count(&args, 3, "conns"),
                count(&args, 4, "msgs"),
            );
        }
        Some("w5") => {
            let rest = &args[1..];
            check_flags(
                rest,
                &["--rounds", "--conns", "--msgs", "--runtimes"],
                &["--pin"],
            );
            let (conns, msgs) = (
                count_flag(rest, "--conns", 64),
                count_flag(rest, "--msgs", 5000),
            );
            echo::w5(
                count_flag(rest, "--rounds", 5),
                conns,
                msgs,
                name_list(rest, "--runtimes", &echo::RUNTIMES),
                rest.iter().any(|a| a == "--pin"),
            );
        }
        Some("http-client") => {
            let known: Vec<&str> = http::RUNTIMES
                .iter()
                .chain(&http::EXTRA_RUNTIMES)
                .copied()
                .collect();
            let runtime = runtime_arg(&args, 1, &known);
            http::client_main(
                &runtime,
                arg(&args, 2, "address (IP:PORT)"),
                count(&args, 3, "conns"),
                count(&args, 4, "requests"),
                args.get(5).map_or("/1k.bin", String::as_str),
            );
        }
        Some("nginx") => {
            // Serves until stdin closes: for measuring one client by hand.
            let nginx = http::Nginx::start().expect("nginx");
            println!("{}", nginx.addr);
            let _ = std::io::Read::read(&mut std::io::stdin(), &mut [0u8; 1]);
        }
        Some("w6") => {
            let rest = &args[1..];
            check_flags(
                rest,
                &[
                    "--rounds",
                    "--conns",
                    "--requests",
                    "--runtimes",
                    "--server",
                ],
                &[],
            );
            let conns = count_flag(rest, "--conns", 64);
            let requests = count_flag(rest, "--requests", 100_000);
            let server = flag::<String>(rest, "--server").unwrap_or_else(|| "nginx".to_owned());
            if server != "nginx" && server != "demo" {
                usage_error(&format!("--server takes nginx or demo, not {server:?}"));
            }
            let known: Vec<&str> = http::RUNTIMES
                .iter()
                .chain(&http::EXTRA_RUNTIMES)
                .copied()
                .collect();
            http::w6(
                count_flag(rest, "--rounds", 5),
                conns,
                requests,
                name_list(rest, "--runtimes", &known),
                &server,
            );
        }
        Some("http-server") => http::demo_server_main(),
        Some("table") => table(&args[1..]),
        None => table(&[]),
        Some("help") => println!("{USAGE}"),
        Some(other) => usage_error(&format!("unknown command {other:?}")),
    }
}
