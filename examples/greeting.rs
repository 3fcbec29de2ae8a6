//! Reload with new code: replies `v1: LINE`. Build, start, change the reply (or install a new
//! binary at the same path), then `reload`: every worker process is replaced, one at a time, by
//! the program now on disk, and new connections get the new reply. `greeting_v2` is the same
//! program with the reply changed, for trying this (and for the tests).
//!
//! ```text
//! cargo build --release --example greeting && cp target/release/examples/greeting /tmp/app
//! /tmp/app start -d; echo hi | nc -q1 127.0.0.1 2381          # v1: hi
//! cp target/release/examples/greeting_v2 /tmp/app.new && mv /tmp/app.new /tmp/app
//! /tmp/app reload; echo hi | nc -q1 127.0.0.1 2381            # v2: hi
//! ```
use workerman::Worker;
use workerman::protocol::Text;

/// The reply prefix; `greeting_v2` differs only here.
const VERSION: &str = "v1";

fn main() -> workerman::Result<()> {
    let worker = Worker::<Text>::new("text://0.0.0.0:2381")?;
    worker.set_name("greeting");
    worker.set_count(2);
    worker.on_message(|conn, line| {
        conn.send(format!("{VERSION}: {line}"));
    });
    Worker::run_all()
}
