//! Starts a GlobalData server in a thread of the test process (`Worker::run_standalone`, port 0).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use workerman::Worker;
use workerman_global_data::GlobalDataServer;

/// Runs a server on 127.0.0.1:0 in its own thread; returns its address.
pub fn start_server() -> SocketAddr {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let server = GlobalDataServer::new("127.0.0.1:0").expect("server");
        let worker = server.worker().clone();
        let probe = Worker::without_listener();
        probe.on_worker_start(move |_| {
            let _ = tx.send(worker.local_addrs()[0]);
        });
        Worker::run_standalone()
    });
    rx.recv_timeout(Duration::from_secs(10)).expect("server did not start")
}
