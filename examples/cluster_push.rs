//! Cluster push (manual 1.15.2.3): a message for one WebSocket client reaches it whichever
//! process — or host — holds it.
//!
//! * a Channel server worker on `frame://0.0.0.0:2206` (unless the backend is Redis);
//! * `websocket://0.0.0.0:4236`, count 4: each client first receives
//!   `{"type":"welcome","id":"<ID>"}`, ID unique across processes and hosts (`host-pid-conn`);
//! * `http://0.0.0.0:4237`, count 2: `GET /push?to=<ID>&content=<text>` sends `content` to that
//!   client, `GET /broadcast?content=<text>` to every client of every process; both answer `ok`.
//!
//! ```text
//! cargo run --release --example cluster_push -- start
//! websocat ws://127.0.0.1:4236          # {"type":"welcome","id":"myhost-1234-1"}
//! curl 'http://127.0.0.1:4237/push?to=myhost-1234-1&content=hi'
//! curl 'http://127.0.0.1:4237/broadcast?content=hello+all'
//! ```
//! Env: `CHANNEL_BACKEND` (default `channel://127.0.0.1:2206`; `redis://127.0.0.1:6379/0` puts
//! every process on Redis and starts no Channel server), `CLUSTER_PUSH_WS_PORT`,
//! `CLUSTER_PUSH_HTTP_PORT` (a second copy beside the first acts as a second host; give it its
//! own `WORKERMAN_PID_FILE` and `WORKERMAN_LOG_FILE`).
use std::cell::RefCell;

use workerman::Worker;
use workerman::protocol::Http;
use workerman::protocol::http::Response;
use workerman::protocol::websocket::WebSocket;
use workerman_channel::php_serialize::Array;
use workerman_channel::{ChannelClient, ChannelServer, Value};

const BROADCAST: &str = "cluster_push:broadcast";

thread_local! {
    /// This process's Channel client, made in `on_worker_start`.
    static CHANNEL: RefCell<Option<ChannelClient>> = const { RefCell::new(None) };
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// `host-pid`: names this process on every host (host names reduced to `[A-Za-z0-9.]`).
fn process_tag() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_else(|_| "host".into());
    let host: String = host
        .trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '.')
        .collect();
    format!("{host}-{}", std::process::id())
}

fn connect(backend: &str) -> ChannelClient {
    let client = ChannelClient::connect(backend).expect("CHANNEL_BACKEND is a channel:// or redis:// URL");
    CHANNEL.with(|c| *c.borrow_mut() = Some(client.clone()));
    client
}

fn main() -> workerman::Result<()> {
    let backend = env_or("CHANNEL_BACKEND", "channel://127.0.0.1:2206");
    if !backend.starts_with("redis") {
        ChannelServer::new("frame://0.0.0.0:2206")?;
    }

    let ws_port = env_or("CLUSTER_PUSH_WS_PORT", "4236");
    let ws = Worker::<WebSocket>::new(&format!("websocket://0.0.0.0:{ws_port}"))?;
    ws.set_name("cluster_push_ws");
    ws.set_count(4);
    let b = backend.clone();
    ws.on_worker_start(move |w| {
        let channel = connect(&b);
        let tag = process_tag();
        // Pushes for clients of this process: [connection id, content].
        let w1 = w.clone();
        channel.on(&format!("cluster_push:{tag}"), move |data| {
            let Some(list) = data.as_array() else { return };
            let mut items = list.iter().map(|(_, v)| v);
            if let (Some(id), Some(content)) = (items.next().and_then(Value::as_int), items.next()) {
                if let Some(conn) = w1.connection(id as u64) {
                    conn.send(String::from_utf8_lossy(content.as_bytes().unwrap_or_default()).into_owned());
                }
            }
        });
        let w2 = w.clone();
        channel.on(BROADCAST, move |data| {
            let text = String::from_utf8_lossy(data.as_bytes().unwrap_or_default()).into_owned();
            for conn in w2.connections() {
                conn.send(text.as_str());
            }
        });
    });
    // Frames sent here go out right after the handshake's 101.
    ws.on_websocket_connect(|conn, _req, _resp| {
        let id = format!("{}-{}", process_tag(), conn.id());
        conn.send(format!(r#"{{"type":"welcome","id":"{id}"}}"#));
    });

    let http_port = env_or("CLUSTER_PUSH_HTTP_PORT", "4237");
    let http = Worker::<Http>::new(&format!("http://0.0.0.0:{http_port}"))?;
    http.set_name("cluster_push_http");
    http.set_count(2);
    http.on_worker_start(move |_| {
        connect(&backend);
    });
    http.on_message(|conn, req| {
        let result = CHANNEL.with(|c| {
            let c = c.borrow();
            let channel = c.as_ref().expect("connected in on_worker_start");
            let content = req.get("content").unwrap_or_default();
            match req.path() {
                "/push" => {
                    // ID = host-pid-conn: the process's event is everything before the last '-'.
                    let Some((tag, id)) = req.get("to").and_then(|to| to.rsplit_once('-')) else {
                        return Err((400, "bad to"));
                    };
                    let Ok(id) = id.parse::<i64>() else {
                        return Err((400, "bad to"));
                    };
                    let mut data = Array::new();
                    data.push(Value::Int(id));
                    data.push(Value::from(content));
                    channel
                        .publish(&format!("cluster_push:{tag}"), Value::Array(data))
                        .map_err(|_| (503, "backlog full"))
                }
                "/broadcast" => channel.publish(BROADCAST, content).map_err(|_| (503, "backlog full")),
                _ => Err((404, "not found")),
            }
        });
        match result {
            Ok(()) => conn.send(Response::new(200).with_body("ok")),
            Err((code, why)) => conn.send(Response::new(code).with_body(why)),
        };
    });
    Worker::run_all()
}
