//! HTTP hello world: Workerman's classic benchmark target.
//!
//! ```text
//! cargo run --release --example http_hello -- start
//! curl http://127.0.0.1:2345/        # hello world
//! ```
//! The address can be overridden with `HTTP_HELLO_ADDR` (the benchmark uses it), the process
//! count with `HTTP_HELLO_COUNT`.
use workerman::Worker;
use workerman::protocol::Http;

fn main() -> workerman::Result<()> {
    let addr = std::env::var("HTTP_HELLO_ADDR").unwrap_or_else(|_| "0.0.0.0:2345".into());
    let worker = Worker::<Http>::new(&format!("http://{addr}"))?;
    worker.set_name("http_hello");
    worker.set_count(
        std::env::var("HTTP_HELLO_COUNT")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(4),
    );
    worker.on_message(|conn, _req| {
        conn.send("hello world");
    });
    Worker::run_all()
}
