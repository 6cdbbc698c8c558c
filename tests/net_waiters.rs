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
    let small = park_all(2_000);
    let large = park_all(16_000);
    let ratio = large.as_secs_f64() / small.as_secs_f64();
    // 8× the tasks: linear is 8×, quadratic 64×.
    assert!(
        ratio < 25.0,
        "8x the tasks took {ratio:.0}x the time ({small:?} -> {large:?})"
    );
}
