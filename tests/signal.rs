//! Unix signals delivered to tasks, in their own test binary: signals are
//! process-wide, so the tests here take turns (one lock), and one test
//! checks the default action in a child process.

mod common;

use std::io;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use corio::signal::{SIGUSR1, SIGUSR2, Signals};
use signal_hook::low_level::raise;

/// One test at a time: each raises signals at the whole process.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Runs this binary's `test` again in a child process with `env` set (the
/// child's side of the test), and gives its status and output.
fn in_a_child(test: &str, env: &str) -> (std::process::Output, String) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(env, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (out, stdout)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Listens for `listen`, has another thread raise `raise` after `delay`,
/// and says which signal `recv` gave.
async fn raised_on_another_thread(listen: &[i32], raised: i32, delay: Duration) -> i32 {
    let mut signals = Signals::new(listen.iter().copied()).unwrap();
    let sender = std::thread::spawn(move || {
        std::thread::sleep(delay);
        raise(raised).unwrap();
    });
    let got = signals.recv().await.unwrap();
    sender.join().unwrap();
    got
}

#[test]
fn a_signal_from_another_thread_wakes_the_task_that_awaits_it() {
    let _turn = one_at_a_time();
    let got = corio::run(raised_on_another_thread(
        &[SIGUSR1, SIGUSR2],
        SIGUSR2,
        Duration::from_millis(50),
    ));
    assert_eq!(got, SIGUSR2);
}

#[test]
fn a_signal_that_comes_before_recv_is_kept_for_it_and_repeats_merge_into_one() {
    let _turn = one_at_a_time();
    corio::run(async {
        let mut signals = Signals::new([SIGUSR1]).unwrap();
        for _ in 0..200 {
            raise(SIGUSR1).unwrap();
        }
        assert_eq!(signals.recv().await.unwrap(), SIGUSR1);
        // The 200 were one: nothing more is waiting.
        let more = corio::time::timeout(Duration::from_millis(50), signals.recv()).await;
        assert!(more.is_err(), "{more:?}");
        // A later one comes through.
        raise(SIGUSR1).unwrap();
        assert_eq!(signals.recv().await.unwrap(), SIGUSR1);
    });
}

#[test]
fn every_listener_gets_every_signal_on_any_thread() {
    let _turn = one_at_a_time();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let other = std::thread::spawn(move || {
        corio::run(async move {
            let mut signals = Signals::new([SIGUSR1]).unwrap();
            ready_tx.send(()).unwrap();
            signals.recv().await.unwrap()
        })
    });
    ready_rx.recv().unwrap();
    let here = corio::run(async {
        let mut first = Signals::new([SIGUSR1]).unwrap();
        let mut second = Signals::new([SIGUSR1, SIGUSR2]).unwrap();
        raise(SIGUSR1).unwrap();
        (first.recv().await.unwrap(), second.recv().await.unwrap())
    });
    assert_eq!(here, (SIGUSR1, SIGUSR1));
    assert_eq!(other.join().unwrap(), SIGUSR1);
}

#[test]
fn a_cancelled_recv_loses_no_signal() {
    let _turn = one_at_a_time();
    corio::run(async {
        let mut signals = Signals::new([SIGUSR2]).unwrap();
        let early = corio::time::timeout(Duration::from_millis(20), signals.recv()).await;
        assert!(early.is_err());
        raise(SIGUSR2).unwrap();
        assert_eq!(signals.recv().await.unwrap(), SIGUSR2);
    });
}

#[test]
fn signals_that_cannot_be_handled_are_refused_with_a_clear_error() {
    let _turn = one_at_a_time();
    corio::run(async {
        for (signal, says) in [
            (9, "cannot be handled"),  // SIGKILL
            (19, "cannot be handled"), // SIGSTOP
            (11, "cannot be handled"), // SIGSEGV
            (0, "not a signal"),
            (1000, "not a signal"),
            (-3, "not a signal"),
        ] {
            let err = Signals::new([SIGUSR1, signal]).unwrap_err();
            assert_eq!(err.kind(), io::ErrorKind::InvalidInput, "{signal}");
            assert!(err.to_string().contains(says), "{signal}: {err}");
        }
        let none = Signals::new([]).unwrap_err();
        assert_eq!(none.kind(), io::ErrorKind::InvalidInput);
    });
}

#[test]
fn dropping_signals_closes_both_ends_of_each_pipe() {
    let _turn = one_at_a_time();
    corio::run(async {
        let before = open_fds();
        let signals = Signals::new([SIGUSR1, SIGUSR2]).unwrap();
        assert_eq!(open_fds(), before + 4);
        drop(signals);
        assert_eq!(open_fds(), before);
    });
}

/// In a child process (this test binary run again with `CORIO_SIGNAL_CHILD`
/// set): listen for SIGUSR2, stop listening, then raise it — the default
/// action (ending the process) must be back.
#[test]
fn once_the_last_listener_is_gone_the_signal_does_its_default_action_again() {
    if std::env::var_os("CORIO_SIGNAL_CHILD").is_some() {
        corio::run(async {
            let mut signals = Signals::new([SIGUSR2]).unwrap();
            raise(SIGUSR2).unwrap(); // delivered, not deadly
            assert_eq!(signals.recv().await.unwrap(), SIGUSR2);
        });
        println!("survived the first");
        raise(SIGUSR2).unwrap(); // nobody listens: this ends the process
        std::thread::sleep(Duration::from_secs(5));
        println!("survived the second");
        return;
    }
    let _turn = one_at_a_time();
    let (out, stdout) = in_a_child(
        "once_the_last_listener_is_gone_the_signal_does_its_default_action_again",
        "CORIO_SIGNAL_CHILD",
    );
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        out.status.signal(),
        Some(SIGUSR2),
        "{:?}\n{stdout}",
        out.status
    );
    assert!(stdout.contains("survived the first"), "{stdout}");
    assert!(!stdout.contains("survived the second"), "{stdout}");
}

#[test]
fn a_loop_that_only_waits_for_a_signal_is_not_called_stalled() {
    // The signal's socket pair is I/O the loop waits on: no stall hint
    // (nor, in debug mode, a stall report) while the program waits.
    let _turn = one_at_a_time();
    for debug in [false, true] {
        let mut lp = corio::EventLoop::new().unwrap();
        lp.set_debug(debug);
        lp.set_stall_grace(Duration::from_millis(20));
        let reports = common::capture_reports(&lp);
        let got = lp.run_until_complete(raised_on_another_thread(
            &[SIGUSR1],
            SIGUSR1,
            Duration::from_millis(200),
        ));
        assert_eq!(got, SIGUSR1);
        assert!(reports.borrow().is_empty(), "{:?}", reports.borrow());
    }
}

/// In a child process (`CORIO_SIGNAL_RACE` set): the process's first
/// listener of a signal, which another thread raises; the loop drops the
/// listener as soon as it hears it, and the process must live on.
#[test]
fn a_signal_heard_by_the_last_listener_does_not_also_end_the_program() {
    if std::env::var_os("CORIO_SIGNAL_RACE").is_some() {
        corio::run(async {
            let mut signals = Signals::new([SIGUSR1]).unwrap();
            let other = std::thread::spawn(|| raise(SIGUSR1).unwrap());
            assert_eq!(signals.recv().await.unwrap(), SIGUSR1);
            drop(signals); // the default action is back — for the next one
            other.join().unwrap();
        });
        println!("lived on");
        return;
    }
    let _turn = one_at_a_time();
    // (Before the fix, about one run in five died: the signal's handlers
    // ran in the order pipe, then default action, on the raising thread,
    // and the loop could drop the listener in between.)
    for _ in 0..30 {
        let (out, stdout) = in_a_child(
            "a_signal_heard_by_the_last_listener_does_not_also_end_the_program",
            "CORIO_SIGNAL_RACE",
        );
        assert!(out.status.success(), "{:?}\n{stdout}", out.status);
        assert!(stdout.contains("lived on"), "{stdout}");
    }
}

#[test]
fn outside_a_loop_ctrl_c_and_signals_name_themselves() {
    let _turn = one_at_a_time();
    for make in [(|| drop(corio::signal::ctrl_c())) as fn(), || {
        drop(Signals::new([SIGUSR1]))
    }] {
        let text = common::panic_text(&*std::panic::catch_unwind(make).unwrap_err());
        assert!(text.contains("corio::signal"), "{text}");
        assert!(!text.contains("corio::net"), "{text}");
    }
}

/// In a child process: `ctrl_c()` made anew for each step, as in a loop
/// of `select(step, ctrl_c())` — a Ctrl-C between two of them must neither
/// end the program nor be lost; once the loop is closed, Ctrl-C ends the
/// program again.
#[test]
fn ctrl_c_made_anew_for_each_step_leaves_no_gap_and_keeps_a_ctrl_c_for_the_next() {
    use corio::signal::{SIGINT, ctrl_c};
    if std::env::var_os("CORIO_CTRL_C_CHILD").is_some() {
        corio::run(async {
            let first = corio::time::timeout(Duration::from_millis(10), ctrl_c()).await;
            assert!(first.is_err(), "nobody pressed it yet");
            raise(SIGINT).unwrap(); // between two `ctrl_c()`s: no future exists
            println!("survived the gap");
            let next = corio::time::timeout(Duration::from_secs(5), ctrl_c()).await;
            assert!(matches!(next, Ok(Ok(()))), "{next:?}");
            println!("kept for the next");
            let after = corio::time::timeout(Duration::from_millis(50), ctrl_c()).await;
            assert!(after.is_err(), "given once: {after:?}");
        });
        raise(SIGINT).unwrap(); // the loop is closed: this ends the process
        std::thread::sleep(Duration::from_secs(5));
        println!("survived after the loop");
        return;
    }
    let _turn = one_at_a_time();
    let (out, stdout) = in_a_child(
        "ctrl_c_made_anew_for_each_step_leaves_no_gap_and_keeps_a_ctrl_c_for_the_next",
        "CORIO_CTRL_C_CHILD",
    );
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(
        out.status.signal(),
        Some(SIGINT),
        "{:?}\n{stdout}",
        out.status
    );
    assert!(stdout.contains("survived the gap"), "{stdout}");
    assert!(stdout.contains("kept for the next"), "{stdout}");
    assert!(!stdout.contains("survived after the loop"), "{stdout}");
}

#[test]
fn every_ctrl_c_future_waiting_when_ctrl_c_comes_completes() {
    use corio::signal::{SIGINT, ctrl_c};
    let _turn = one_at_a_time();
    let fds = open_fds();
    corio::run(async {
        let (a, b) = (ctrl_c(), ctrl_c());
        let sender = std::thread::spawn(|| {
            std::thread::sleep(Duration::from_millis(50));
            raise(SIGINT).unwrap();
        });
        let both = corio::time::timeout(
            Duration::from_secs(5),
            corio::gather(vec![
                Box::pin(a) as std::pin::Pin<Box<dyn std::future::Future<Output = io::Result<()>>>>,
                Box::pin(b),
            ]),
        )
        .await
        .expect("both complete");
        assert!(both.iter().all(Result::is_ok), "{both:?}");
        sender.join().unwrap();
    });
    assert_eq!(open_fds(), fds, "the loop's listener closed with it");
}
