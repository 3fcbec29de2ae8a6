//! `reuse_port`: each of the two processes binds its own socket with `SO_REUSEPORT`, and the kernel
//! spreads new connections across them (instead of all processes competing on one shared socket).
//! Replies with the pid of the process that served the line.
//!
//! ```text
//! cargo run --release --example reuse_port -- start
//! for i in 1 2 3 4; do echo hi | nc -q1 127.0.0.1 2380; done
//! ```
use workerman::Worker;
use workerman::protocol::Text;

fn main() -> workerman::Result<()> {
    let worker = Worker::<Text>::new("text://0.0.0.0:2380")?;
    worker.set_name("reuse_port");
    worker.set_count(2);
    worker.set_reuse_port(true);
    worker.on_message(|conn, line| {
        conn.send(format!("{} {line}", std::process::id()));
    });
    Worker::run_all()
}
