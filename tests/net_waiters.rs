//! Many tasks waiting on one socket: the cost of parking them grows
//! linearly. Its own test binary, since it times things.

use std::rc::Rc;
use std::time::{Duration, Instant};

use corio::net::UdpSocket;

/// Parks `batches` batches of `per` tasks, one after the other, on one
/// quiet UDP socket, and times each batch's parking: with `k` tasks
/// parked already, a batch costs the same whatever `k` is — unless parking
/// scans the tasks already there.
fn park_in_batches(batches: usize, per: usize) -> Vec<Duration> {
    corio::run(async move {
        let socket = Rc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let mut tasks = Vec::with_capacity(batches * per);
        let mut times = Vec::new();
        for _ in 0..batches {
            for _ in 0..per {
                let socket = Rc::clone(&socket);
                tasks.push(corio::spawn(async move {
                    socket.recv_from(&mut [0; 8]).await.map(|_| ())
                }));
            }
            let start = Instant::now();
            corio::yield_now().await; // the new batch polled once, parked
            times.push(start.elapsed());
        }
        for task in &tasks {
            task.cancel();
        }
        times
    })
}

#[test]
fn parking_n_tasks_on_one_socket_takes_time_linear_in_n() {
    // Each batch is timed on its own, a few milliseconds, and the best of
    // five runs counts: a whole run of 16,000 would span many of the
    // scheduler's time slices, and on a loaded machine lose some of them
    // (one such run took 30× for 8× the tasks).
    let (batches, per) = (8, 2_000);
    let runs: Vec<_> = (0..5).map(|_| park_in_batches(batches, per)).collect();
    let best = |batch: usize| runs.iter().map(|times| times[batch]).min().unwrap();
    // The first batch, which parks beside nobody, against the last, which
    // parks beside 14,000: the same when parking costs O(1) (measured:
    // about 2×, the slab's and tables' growth; under two CPU hogs 2.8×),
    // 14× when registering scans the tasks already parked (measured with
    // such a scan planted).
    let (first, last) = (best(0), best(batches - 1));
    let ratio = last.as_secs_f64() / first.as_secs_f64();
    assert!(
        ratio < 6.0,
        "the last batch took {ratio:.1}x the first ({first:?} -> {last:?})"
    );
}

/// Polls it takes `n` tasks to park on one quiet UDP socket and settle.
fn polls_to_settle(n: usize) -> u64 {
    corio::run(async move {
        let socket = Rc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let before = corio::stats();
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let socket = Rc::clone(&socket);
                corio::spawn(async move { socket.recv_from(&mut [0; 8]).await.map(|_| ()) })
            })
            .collect();
        for _ in 0..40 {
            corio::yield_now().await;
        }
        let after = corio::stats();
        for task in &tasks {
            task.cancel();
        }
        after.polls - before.polls
    })
}

#[test]
fn tasks_parking_on_one_quiet_socket_are_polled_a_bounded_number_of_times_each() {
    let n = 16_384;
    let polls = polls_to_settle(n) as usize;
    assert!(polls <= 4 * n + 100, "{polls} polls for {n} parked tasks");
}

#[test]
fn tasks_woken_by_one_socket_event_run_in_the_order_they_parked() {
    for _round in 0..5 {
        let got = corio::run(async {
            let socket = Rc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
            let addr = socket.local_addr().unwrap();
            let tasks: Vec<_> = (0..8u8)
                .map(|_| {
                    let socket = Rc::clone(&socket);
                    corio::spawn(async move {
                        let mut buf = [0u8; 1];
                        socket.recv_from(&mut buf).await.unwrap();
                        buf[0]
                    })
                })
                .collect();
            corio::yield_now().await; // all parked
            let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
            for i in 0..8u8 {
                sender.send_to(&[i], addr).unwrap();
            }
            let mut got = Vec::new();
            for task in tasks {
                got.push(task.await.unwrap());
            }
            got
        });
        assert_eq!(got, (0..8).collect::<Vec<u8>>());
    }
}
