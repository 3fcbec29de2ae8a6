//! The workerman side of the WebSocket room benchmarks: every text message a client sends is
//! broadcast to every connection of the worker process (`Worker::broadcast`: encoded once, the
//! bytes shared, one write per recipient per loop tick). Also the server of the 100,000 idle
//! connections benchmark (several processes, heartbeat on).
//!
//! Settings from the environment, read in every process:
//! `WM_WS_ROOM_ADDR` (`HOST:PORT`, default `127.0.0.1:2472`), `WM_WS_ROOM_COUNT` (worker
//! processes, default 1), `WM_WS_ROOM_REUSE_PORT` (`1`: a listening socket per process, so the
//! kernel spreads connections evenly), `WM_WS_ROOM_HEARTBEAT` (seconds between heartbeat ticks; off when
//! unset; the timeout is three intervals). A workerman start file:
//!
//! ```text
//! WM_WS_ROOM_ADDR=127.0.0.1:2472 target/release/wm_ws_room start -d
//! target/release/wm_ws_room stop
//! ```

use std::time::Duration;

use workerman::Worker;
use workerman::protocol::WebSocket;

fn main() -> workerman::Result<()> {
    let addr = std::env::var("WM_WS_ROOM_ADDR").unwrap_or_else(|_| "127.0.0.1:2472".into());
    let count = std::env::var("WM_WS_ROOM_COUNT")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(1);
    let mut ws = WebSocket::new();
    if let Some(secs) = std::env::var("WM_WS_ROOM_HEARTBEAT")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        ws = ws.heartbeat(Duration::from_secs(secs), Duration::from_secs(secs * 3));
    }
    let worker = Worker::with_protocol(&format!("websocket://{addr}"), ws)?;
    worker.set_name("ws_room");
    worker.set_count(count);
    worker.set_reuse_port(std::env::var("WM_WS_ROOM_REUSE_PORT").is_ok_and(|v| v == "1"));
    worker.on_message(|conn, msg| {
        if let Some(text) = msg.as_text() {
            conn.worker().broadcast(text);
        }
    });
    Worker::run_all()
}
