//! Many tasks waiting on one socket: the cost of parking them grows
//! linearly. Its own test binary, since it times things.

use std::rc::Rc;
use std::time::{Duration, Instant};

use corio::net::UdpSocket;

/// How long it takes `n` tasks to park on one quiet UDP socket.
fn park_all(n: usize) -> Duration {
    corio::run(async move {
        let socket = Rc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
        let tasks: Vec<_> = (0..n)
            .map(|_| {
                let socket = Rc::clone(&socket);
                corio::spawn(async move { socket.recv_from(&mut [0; 8]).await.map(|_| ()) })
            })
            .collect();
        let start = Instant::now();
        corio::yield_now().await; // every task polled once, parked
        let took = start.elapsed();
        for task in &tasks {
            task.cancel();
        }
        took
    })
}

#[test]
fn parking_n_tasks_on_one_socket_takes_time_linear_in_n() {
    park_all(1_000); // warm up
    // The best of five of each: a run the machine's other work preempted
    // (a loaded run once took 30× for 8×) does not count.
    let best = |n| (0..5).map(|_| park_all(n)).min().unwrap();
    let small = best(2_000);
    let large = best(16_000);
    let ratio = large.as_secs_f64() / small.as_secs_f64();
    // 8× the tasks: linear is 8×, quadratic 64×.
    assert!(
        ratio < 25.0,
        "8x the tasks took {ratio:.0}x the time ({small:?} -> {large:?})"
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
