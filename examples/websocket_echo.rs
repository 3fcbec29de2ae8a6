//! Echoes every WebSocket message with its type (text stays text, binary stays binary): the
//! Autobahn conformance target (`scripts/autobahn.sh`).
//!
//! ```text
//! cargo run --release --example websocket_echo -- start
//! python3 -m websockets ws://127.0.0.1:2346/
//! ```
//! The address can be overridden with `WEBSOCKET_ECHO_ADDR` (e.g. `127.0.0.1:2470` for benches).
use workerman::Worker;
use workerman::protocol::WebSocket;

fn main() -> workerman::Result<()> {
    let addr = std::env::var("WEBSOCKET_ECHO_ADDR").unwrap_or_else(|_| "0.0.0.0:2346".into());
    let worker = Worker::<WebSocket>::new(&format!("websocket://{addr}"))?;
    worker.set_name("websocket_echo");
    // Autobahn sends messages up to 16 MiB.
    worker.set_max_package_size(64 * 1024 * 1024);
    worker.on_message(|conn, msg| {
        conn.send(msg);
    });
    Worker::run_all()
}
