//! The Autobahn client driver (`scripts/autobahn_client.sh`): runs every case of a fuzzing
//! server (kosoku or Autobahn's `wstest -m fuzzingserver`) with the `ws://` client, echoing each
//! message back, then asks the server to write its reports.
//!
//! ```text
//! kosoku -m fuzzingserver 127.0.0.1:9001 &
//! cargo run --release --example autobahn_client -- ws://127.0.0.1:9001
//! ```
//! It runs in the foreground ([`Worker::run_standalone`]): no master, no CLI, one process, and
//! it exits when the reports are written.
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use workerman::protocol::Ws;
use workerman::protocol::websocket::Message;
use workerman::{AsyncTcpConnection, Worker};

const AGENT: &str = "workerman-rs";

fn main() -> workerman::Result<()> {
    let base = std::env::args()
        .skip(1)
        .find(|a| a.contains("://"))
        .unwrap_or_else(|| "ws://127.0.0.1:9001".into());
    let base = Rc::new(base.trim_end_matches('/').to_string());
    let worker = Worker::without_listener();
    worker.set_name("autobahn_client");
    worker.on_worker_start(move |_| {
        let count = Rc::new(Cell::new(0u32));
        let conn = AsyncTcpConnection::<Ws>::new(&format!("{base}/getCaseCount")).expect("url");
        let c = count.clone();
        conn.on_message(move |_, msg: Message| {
            c.set(msg.as_text().and_then(|t| t.trim().parse().ok()).unwrap_or(0));
        });
        let base = base.clone();
        conn.on_close(move |_| {
            println!("autobahn_client: {} cases", count.get());
            run_case(base.clone(), 1, count.get());
        });
        conn.connect();
    });
    Worker::run_standalone()
}

fn run_case(base: Rc<String>, case: u32, count: u32) {
    if case > count {
        let conn = AsyncTcpConnection::<Ws>::new(&format!("{base}/updateReports?agent={AGENT}")).expect("url");
        conn.on_close(|_| {
            println!("autobahn_client: reports updated");
            Worker::stop_all();
        });
        conn.connect();
        return;
    }
    let conn = AsyncTcpConnection::<Ws>::new(&format!("{base}/runCase?case={case}&agent={AGENT}")).expect("url");
    // Section 9 sends messages up to 16 MiB.
    conn.set_max_package_size(64 * 1024 * 1024);
    conn.set_max_send_buffer_size(64 * 1024 * 1024);
    conn.set_connect_timeout(Duration::from_secs(10));
    conn.on_message(|c, msg| {
        c.send(msg);
    });
    conn.on_error(move |_, e| eprintln!("autobahn_client: case {case}: {e}"));
    conn.on_close(move |_| run_case(base.clone(), case + 1, count));
    conn.connect();
}
