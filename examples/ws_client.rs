//! A WebSocket client on the command line: connects to the `ws://` or `wss://` URL given as an
//! argument, sends each line read from stdin as a text message, and prints every message
//! received (`< text`, or `< [binary: N bytes]`). At the end of stdin it closes cleanly (close
//! code 1000) and exits; when the server goes away it reconnects every second.
//!
//! ```text
//! cargo run --release --example websocket_echo -- start -d
//! cargo run --release --example ws_client -- ws://127.0.0.1:2346/
//! hello            # typed
//! < hello          # the echo
//! ```
//! `WS_CLIENT_CA=ca.pem` trusts that CA for `wss://` (default: the system's roots).
//!
//! It runs in the foreground with [`Worker::run_standalone`], not `run_all`: worker processes
//! spawned by a master get `/dev/null` as stdin (they may be daemonized), so an interactive
//! client must run its event loop in the process that owns the terminal. The first argument
//! holding `://` is the URL (`ws_client start ws://...` works too; `start` is ignored).
use std::cell::Cell;
use std::io::BufRead;
use std::rc::Rc;
use std::time::Duration;

use workerman::protocol::Ws;
use workerman::protocol::websocket::Message;
use workerman::{AsyncTcpConnection, Worker};

fn main() {
    let Some(url) = std::env::args().skip(1).find(|a| a.contains("://")) else {
        eprintln!("usage: ws_client ws://host:port/path (or wss://...)");
        std::process::exit(2);
    };
    let worker = Worker::without_listener();
    worker.set_name("ws_client");
    worker.on_worker_start(move |_| {
        let conn = match AsyncTcpConnection::<Ws>::new(&url) {
            Ok(c) => c,
            Err(e) => {
                eprintln!("ws_client: {e}");
                Worker::stop_all();
                return;
            }
        };
        if let Ok(ca) = std::env::var("WS_CLIENT_CA") {
            conn.set_tls_ca(ca);
        }
        let stdin_done = Rc::new(Cell::new(false));
        let done = stdin_done.clone();
        conn.on_websocket_connect(move |c, _resp| {
            eprintln!(
                "ws_client: connected to {}",
                c.remote_address().map(|a| a.to_string()).unwrap_or_default()
            );
            // stdin ended while connecting: the queued lines went out just before this.
            if done.get() {
                c.close_websocket(1000, "bye");
            }
        });
        conn.on_message(|_, msg| match msg {
            Message::Text(t) => println!("< {t}"),
            Message::Binary(b) => println!("< [binary: {} bytes]", b.len()),
        });
        conn.on_error(|_, e| eprintln!("ws_client: {e}"));
        let done = stdin_done.clone();
        conn.on_close(move |c| {
            if done.get() {
                Worker::stop_all();
            } else {
                eprintln!("ws_client: closed; reconnecting in 1 s");
                c.reconnect(Duration::from_secs(1));
            }
        });
        conn.connect();

        // stdin is read by a plain thread (blocking reads) and handed to the event loop.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<String>();
        std::thread::spawn(move || {
            for line in std::io::stdin().lock().lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        workerman::spawn(async move {
            while let Some(line) = rx.recv().await {
                // Sent at once when open; queued until the handshake while (re)connecting.
                conn.send(line);
            }
            stdin_done.set(true);
            // Open: close now. Otherwise on_websocket_connect closes once the queued lines are
            // sent, or a failed connect's on_close ends the run.
            if conn.is_websocket_open() {
                conn.close_websocket(1000, "bye");
            }
        });
    });
    if let Err(e) = Worker::run_standalone() {
        eprintln!("ws_client: {e}");
        std::process::exit(1);
    }
}
