//! `max_requests`: after 100 requests a process is replaced gracefully. The master starts the
//! replacement at once; the old process stops accepting, answers what it is asked, closes its
//! connections once they have been quiet for a second, and exits. No request is dropped.
//! (`set_max_memory` works the same way, on resident memory.)
//!
//! ```text
//! cargo run --release --example limits -- start
//! for i in $(seq 150); do echo hi; done | nc -q1 127.0.0.1 2382 | sort | uniq -c
//! ```
use workerman::Worker;
use workerman::protocol::Text;

fn main() -> workerman::Result<()> {
    let worker = Worker::<Text>::new("text://0.0.0.0:2382")?;
    worker.set_name("limits");
    worker.set_max_requests(100);
    worker.set_max_memory(512 * 1024 * 1024);
    worker.on_message(|conn, line| {
        conn.send(format!("{} {line}", std::process::id()));
    });
    Worker::run_all()
}
