//! In-process servers: workers created in a thread of their own, run with
//! `Worker::run_standalone`, on port 0.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;

use workerman::Worker;
use workerman::protocol::Protocol;

use crate::wait::TIMEOUT;

/// A server started by [`serve`].
pub struct Served<T> {
    /// The address the returned worker listens on.
    pub addr: SocketAddr,
    /// What the test's callbacks sent through the sender `setup` got.
    pub rx: mpsc::Receiver<T>,
    /// The server thread: `run_standalone`'s result once something calls `Worker::stop_all`.
    pub thread: thread::JoinHandle<workerman::Result<()>>,
}

/// Runs `setup` in a new server thread, then `Worker::run_standalone`. `setup` gets a sender for
/// the test's own events and returns the worker the test connects to; returns once that worker
/// listens.
pub fn serve<P, T, F>(setup: F) -> Served<T>
where
    P: Protocol,
    T: Send + 'static,
    F: FnOnce(mpsc::Sender<T>) -> Worker<P> + Send + 'static,
{
    let (addr_tx, addr_rx) = mpsc::channel();
    let (tx, rx) = mpsc::channel();
    let thread = thread::spawn(move || {
        let worker = setup(tx);
        // Registered after the test's workers, so it runs once they listen.
        let probe = Worker::without_listener();
        probe.on_worker_start(move |_| {
            let _ = addr_tx.send(worker.local_addrs()[0]);
        });
        Worker::run_standalone()
    });
    let addr = addr_rx.recv_timeout(TIMEOUT).expect("server did not start");
    Served { addr, rx, thread }
}

/// Runs `setup` (which creates workers and reports through its sender, typically from
/// `on_worker_start`) and then `Worker::run_standalone` in a new thread; returns the reports.
pub fn run<T: Send + 'static>(setup: impl FnOnce(mpsc::Sender<T>) + Send + 'static) -> mpsc::Receiver<T> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        setup(tx);
        Worker::run_standalone()
    });
    rx
}
