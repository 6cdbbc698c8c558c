//! What the examples share: printing that ends a program the way a Unix
//! tool ends, and the argument check of the lesson twins.
//!
//! `println!` (and `eprintln!`) panics when it cannot write — when the
//! output is piped into `head`, which closes the pipe early, or sent to a
//! full disk. A Python script ends there with one `BrokenPipeError`; a
//! Rust program would panic in every task that prints next. [`say!`] ends
//! the program instead: quietly, with status 141 (128 + `SIGPIPE`: what a
//! shell shows for a tool stopped by a closed pipe), or with one line and
//! status 1. [`tell!`] is an `eprintln!` that drops a line stderr cannot
//! take.
//!
//! (Not an example itself: Cargo takes `examples/*.rs` and
//! `examples/*/main.rs` as examples, and each one says `mod common;`.)
#![allow(dead_code, unused_macros)]

use std::io::Write;

/// `println!`, ending the program cleanly when stdout cannot be written.
macro_rules! say {
    () => {
        $crate::common::write_stdout(b"\n")
    };
    ($($arg:tt)*) => {
        $crate::common::write_stdout(format!("{}\n", format_args!($($arg)*)).as_bytes())
    };
}

/// `print!` (no newline; flushed at once), ending the program cleanly when
/// stdout cannot be written.
macro_rules! say_part {
    ($($arg:tt)*) => {
        $crate::common::write_stdout(format!($($arg)*).as_bytes())
    };
}

/// `eprintln!` that never panics: a line that stderr cannot take (a closed
/// pipe, a full disk) is dropped — the exit status still tells.
macro_rules! tell {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// Writes `bytes` to stdout as they are and flushes them. A closed stdout
/// ends the program quietly with status 141; any other failure with one
/// line on stderr and status 1.
pub fn write_stdout(bytes: &[u8]) {
    let mut stdout = std::io::stdout().lock();
    if let Err(err) = stdout.write_all(bytes).and_then(|()| stdout.flush()) {
        if err.kind() == std::io::ErrorKind::BrokenPipe {
            std::process::exit(141);
        }
        tell!("{}: cannot write to stdout: {err}", env!("CARGO_BIN_NAME"));
        std::process::exit(1);
    }
}

/// The check of a lesson twin without a knob: no arguments. `--help`
/// prints `about` (what the lesson shows) and exits; anything else is a
/// usage error, status 2.
pub fn no_arguments(about: &str) {
    let name = env!("CARGO_BIN_NAME");
    match std::env::args().nth(1).as_deref() {
        None => {}
        Some("-h" | "--help") => {
            say!("usage: {name}   (no arguments)\n{about}");
            std::process::exit(0);
        }
        Some(other) => {
            tell!("usage: {name}   (no arguments; got {other:?})");
            std::process::exit(2);
        }
    }
}

/// The check of a lesson twin with one knob: at most one argument, which
/// it returns. `--help` prints `usage` and exits; a second argument is a
/// usage error, status 2.
pub fn one_argument(usage: &str) -> Option<String> {
    let mut args = std::env::args().skip(1);
    let arg = args.next();
    if matches!(arg.as_deref(), Some("-h" | "--help")) {
        say!("{usage}");
        std::process::exit(0);
    }
    if let Some(extra) = args.next() {
        tell!("{usage}; one argument at most, got {extra:?} too");
        std::process::exit(2);
    }
    arg
}

/// Ends the program for an argument it cannot use: `usage` and what it
/// got, status 2.
pub fn bad_argument(usage: &str, arg: &str) -> ! {
    tell!("{usage}; got {arg:?}");
    std::process::exit(2);
}
