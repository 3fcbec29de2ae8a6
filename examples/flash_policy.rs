//! The manual's Flash policy server (FAQ "port 843"), and privilege dropping: the master, started
//! as root, binds port 843 (below 1024); the worker process then runs as `nobody`. Started by a
//! non-root user, binding 843 fails with a clear error.
//!
//! ```text
//! sudo cargo run --release --example flash_policy -- start
//! printf '<policy-file-request/>\0' | nc -q1 127.0.0.1 843
//! ```
use workerman::Worker;
use workerman::protocol::Tcp;

const POLICY: &str = "<?xml version=\"1.0\"?><cross-domain-policy><site-control permitted-cross-domain-policies=\"all\"/><allow-access-from domain=\"*\" to-ports=\"*\"/></cross-domain-policy>\0";

fn main() -> workerman::Result<()> {
    let worker = Worker::<Tcp>::new("tcp://0.0.0.0:843")?;
    worker.set_name("flash_policy");
    worker.set_user("nobody");
    worker.on_message(|conn, _request| {
        conn.close_with(POLICY);
    });
    Worker::run_all()
}
