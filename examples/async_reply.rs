//! Async work from a callback: each line starts a task on the worker's own event loop that
//! resolves the host name in the line (async DNS through tokio) and replies when done, while the
//! connection keeps serving other lines.
//!
//! ```text
//! cargo run --release --example async_reply -- start
//! printf 'localhost\n' | nc -q1 127.0.0.1 2358     # localhost -> 127.0.0.1
//! ```
use std::time::Duration;

use workerman::Worker;
use workerman::protocol::Text;

fn main() -> workerman::Result<()> {
    let worker = Worker::<Text>::new("text://0.0.0.0:2358")?;
    worker.set_name("async_reply");
    worker.on_message(|conn, host| {
        let conn = conn.clone();
        workerman::spawn(async move {
            let lookup =
                tokio::time::timeout(Duration::from_secs(5), tokio::net::lookup_host((host.as_str(), 0))).await;
            let reply = match lookup {
                Ok(Ok(mut addrs)) => match addrs.next() {
                    Some(a) => format!("{host} -> {}", a.ip()),
                    None => format!("{host} -> no address"),
                },
                Ok(Err(e)) => format!("{host} -> error: {e}"),
                Err(_) => format!("{host} -> timed out"),
            };
            conn.send(reply);
        });
    });
    Worker::run_all()
}
