//! A browser chat room: a page on http://0.0.0.0:2356 connects to websocket://0.0.0.0:2357.
//! Every message is broadcast to everyone as `NAME: TEXT`; joins and leaves are announced.
//!
//! ```text
//! cargo run --release --example ws_chat -- start
//! open http://127.0.0.1:2356/?name=alice in two browser tabs
//! ```
//! The page is served by an `http://` worker; the chat runs in one process so a broadcast
//! reaches everyone (`count` 1).
use std::cell::Cell;
use std::rc::Rc;

use workerman::Worker;
use workerman::protocol::Http;
use workerman::protocol::http::Response;
use workerman::protocol::websocket::WebSocket;

/// The name a connection chose (`?name=` in the WebSocket URL).
#[derive(Clone)]
struct Name(String);

const PAGE: &str = include_str!("ws_chat.html");

fn main() -> workerman::Result<()> {
    let page = Worker::<Http>::new("http://0.0.0.0:2356")?;
    page.set_name("ws_chat_page");
    page.on_message(|conn, request| {
        let response = if request.path() == "/" {
            Response::new(200)
                .with_header("Content-Type", "text/html; charset=utf-8")
                .with_body(PAGE)
        } else {
            Response::new(404).with_body("not found")
        };
        conn.send(response);
    });

    let chat = Worker::<WebSocket>::new("websocket://0.0.0.0:2357")?;
    chat.set_name("ws_chat");
    chat.set_count(1);
    let guests = Rc::new(Cell::new(0u64));
    chat.on_websocket_connect(move |conn, req, _resp| {
        let name = req.query("name").filter(|n| !n.trim().is_empty()).unwrap_or_else(|| {
            guests.set(guests.get() + 1);
            format!("guest{}", guests.get())
        });
        let name: String = name.chars().take(32).collect();
        conn.set_data(Name(name.clone()));
        // Frames sent here go out right after this connection's 101.
        conn.worker().broadcast(format!("* {name} joined"));
    });
    chat.on_message(|conn, msg| {
        let Some(Name(name)) = conn.data::<Name>() else { return };
        if let Some(text) = msg.as_text() {
            conn.worker().broadcast(format!("{name}: {text}"));
        }
    });
    chat.on_close(|conn| {
        if let Some(Name(n)) = conn.data::<Name>() {
            conn.worker().broadcast(format!("* {n} left"));
        }
    });
    Worker::run_all()
}
