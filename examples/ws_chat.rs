//! A browser chat room: a page on http://0.0.0.0:2356 connects to websocket://0.0.0.0:2357.
//! Every message is broadcast to everyone as `NAME: TEXT`; joins and leaves are announced.
//!
//! ```text
//! cargo run --release --example ws_chat -- start
//! open http://127.0.0.1:2356/?name=alice in two browser tabs
//! ```
//! The page is served by a `tcp://` worker writing one raw HTTP/1.1 response (the `http://`
//! protocol lives in its own module); the chat runs in one process so a broadcast reaches
//! everyone (`count` 1).
use std::cell::Cell;
use std::rc::Rc;

use workerman::Worker;
use workerman::protocol::Tcp;
use workerman::protocol::websocket::WebSocket;

/// The name a connection chose (`?name=` in the WebSocket URL).
#[derive(Clone)]
struct Name(String);

const PAGE: &str = include_str!("ws_chat.html");

fn main() -> workerman::Result<()> {
    let page = Worker::<Tcp>::new("tcp://0.0.0.0:2356")?;
    page.set_name("ws_chat_page");
    page.on_message(|conn, request| {
        // One request per connection; the page is answered to any GET.
        if request.starts_with(b"GET ") {
            conn.close_with(format!(
                "HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: {}\r\n\
                 Connection: close\r\n\r\n{PAGE}",
                PAGE.len()
            ));
        } else {
            conn.close_with("HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        }
    });

    let chat = Worker::<WebSocket>::new("websocket://0.0.0.0:2357")?;
    chat.set_name("ws_chat");
    chat.set_count(1);
    let guests = Rc::new(Cell::new(0u64));
    let w = chat.clone();
    chat.on_websocket_connect(move |conn, req, _resp| {
        let name = req.query("name").filter(|n| !n.trim().is_empty()).unwrap_or_else(|| {
            guests.set(guests.get() + 1);
            format!("guest{}", guests.get())
        });
        let name: String = name.chars().take(32).collect();
        conn.set_data(Name(name.clone()));
        // Frames sent here go out right after this connection's 101.
        broadcast(&w, &format!("* {name} joined"));
    });
    let w = chat.clone();
    chat.on_message(move |conn, msg| {
        let Some(Name(name)) = conn.data::<Name>() else { return };
        if let Some(text) = msg.as_text() {
            broadcast(&w, &format!("{name}: {text}"));
        }
    });
    let w = chat.clone();
    chat.on_close(move |conn| {
        if let Some(Name(n)) = conn.data::<Name>() {
            broadcast(&w, &format!("* {n} left"));
        }
    });
    Worker::run_all()
}

fn broadcast(worker: &Worker<WebSocket>, line: &str) {
    for conn in worker.connections() {
        conn.send(line);
    }
}
