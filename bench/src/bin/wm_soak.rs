//! The server of the soak run (`bench/soak.sh`): an `http://` worker answering `hello world`
//! (keep-alive) and a `websocket://` chat worker broadcasting every text message to the
//! connections of its process, each with several processes, in one master.
//!
//! Settings from the environment, read in every process: `WM_SOAK_HTTP` (default
//! `127.0.0.1:2480`), `WM_SOAK_WS` (default `127.0.0.1:2481`), `WM_SOAK_COUNT` (processes per
//! worker, default 2). A workerman start file (`start -d`, `reload`, `status`, `stop`).

use workerman::Worker;
use workerman::protocol::{Http, WebSocket};

fn main() -> workerman::Result<()> {
    let env = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.into());
    let count = env("WM_SOAK_COUNT", "2").parse().unwrap_or(2);
    let http = Worker::<Http>::new(&format!("http://{}", env("WM_SOAK_HTTP", "127.0.0.1:2480")))?;
    http.set_name("soak_http");
    http.set_count(count);
    http.on_message(|conn, _req| {
        conn.send("hello world");
    });
    let ws = Worker::<WebSocket>::new(&format!("websocket://{}", env("WM_SOAK_WS", "127.0.0.1:2481")))?;
    ws.set_name("soak_chat");
    ws.set_count(count);
    ws.on_message(|conn, msg| {
        if let Some(text) = msg.as_text() {
            conn.worker().broadcast(text);
        }
    });
    Worker::run_all()
}
