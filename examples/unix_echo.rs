//! A text echo on a unix domain socket. A stale socket file left by a crash is replaced at start;
//! the file is removed at stop.
//!
//! ```text
//! cargo run --release --example unix_echo -- start
//! echo hi | nc -q1 -U /tmp/workerman-unix_echo.sock     # hi
//! ```
use workerman::Worker;
use workerman::protocol::Text;

fn main() -> workerman::Result<()> {
    let worker = Worker::<Text>::with_protocol("unix:///tmp/workerman-unix_echo.sock", Text)?;
    worker.set_name("unix_echo");
    worker.on_message(|conn, line| {
        conn.send(line);
    });
    Worker::run_all()
}
