//! A client worker: an `AsyncTcpConnection` to a `text://` server (the address in `TEXT_SERVER`,
//! default the text_chat example on 127.0.0.1:2348) that logs every line it receives, says
//! `ping N` every 2 seconds, and reconnects one second after any disconnect.
//!
//! ```text
//! cargo run --release --example text_chat -- start -d
//! cargo run --release --example text_client -- start
//! ```
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use workerman::protocol::Text;
use workerman::{AsyncTcpConnection, Timer, Worker, log};

fn main() -> workerman::Result<()> {
    let worker = Worker::without_listener();
    worker.set_name("text_client");
    worker.on_worker_start(|_| {
        let server = std::env::var("TEXT_SERVER").unwrap_or_else(|_| "text://127.0.0.1:2348".into());
        let conn = match AsyncTcpConnection::<Text>::new(&server) {
            Ok(c) => c,
            Err(e) => {
                log!("text_client: {e}");
                return;
            }
        };
        conn.on_connect(|c| {
            log!(
                "text_client: connected to {}",
                c.remote_address().map(|a| a.to_string()).unwrap_or_default()
            )
        });
        conn.on_message(|_, line| log!("text_client: got {line}"));
        conn.on_error(|_, e| log!("text_client: {e}"));
        conn.on_close(|c| {
            log!("text_client: closed; reconnecting in 1 s");
            c.reconnect(Duration::from_secs(1));
        });
        conn.connect();
        let pings = Rc::new(Cell::new(0u64));
        Timer::repeat(Duration::from_secs(2), move || {
            pings.set(pings.get() + 1);
            conn.send(format!("ping {}", pings.get()));
        });
    });
    Worker::run_all()
}
