//! Echoes every `frame` (4-byte big-endian total length, then the body).
//!
//! ```text
//! cargo run --release --example frame_echo -- start
//! printf '\0\0\0\x09jhdxr' | nc -q1 127.0.0.1 2350 | xxd
//! ```
use workerman::Worker;
use workerman::protocol::Frame;

fn main() -> workerman::Result<()> {
    let worker = Worker::<Frame>::new("frame://0.0.0.0:2350")?;
    worker.set_name("frame_echo");
    worker.on_message(|conn, body| {
        conn.send(body);
    });
    Worker::run_all()
}
