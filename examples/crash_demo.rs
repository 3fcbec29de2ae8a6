//! What a panic and a blocking call do: the `text` line `panic` panics inside `on_message`. The panic is logged with
//! its message and location, that worker process exits with status 250, the master starts a
//! replacement with the same id, and the other process's connections carry on. With
//! `CRASH_ON_START=1` every process panics in `on_worker_start`: the master then restarts them
//! after a growing delay instead of spinning. The line `block` blocks the process for 3 s (what
//! a synchronous database call would do): `status` then shows that process `[busy]`.
//!
//! ```text
//! cargo run --release --example crash_demo -- start
//! printf 'hi\npanic\n' | nc 127.0.0.1 2359
//! ```
use workerman::Worker;
use workerman::protocol::Text;

fn main() -> workerman::Result<()> {
    let worker = Worker::<Text>::new("text://0.0.0.0:2359")?;
    worker.set_name("crash_demo");
    worker.set_count(2);
    worker.on_worker_start(|w| {
        if std::env::var_os("CRASH_ON_START").is_some() {
            panic!("crash_demo process {} refuses to start (CRASH_ON_START is set)", w.id());
        }
    });
    worker.on_message(|conn, line| {
        if line == "panic" {
            panic!("asked to panic by {}", conn.remote_ip());
        }
        if line == "block" {
            std::thread::sleep(std::time::Duration::from_secs(3));
        }
        conn.send(format!("pid {} says: {line}", std::process::id()));
    });
    Worker::run_all()
}
