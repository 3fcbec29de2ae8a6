//! Group send (manual 1.15.2.4): WebSocket clients join and leave groups; an HTTP request sends
//! to every member of a group, whichever process holds them.
//!
//! * `websocket://0.0.0.0:4238`, count 4: a client sends the text `join <group>` or
//!   `leave <group>`;
//! * `http://0.0.0.0:4239`: `GET /send?group=<g>&content=<text>` delivers `content` to every
//!   member of `<g>` in any process, and answers `ok`;
//! * a Channel server worker on `frame://0.0.0.0:2206` unless `CHANNEL_BACKEND` is Redis.
//!
//! ```text
//! cargo run --release --example group_send -- start
//! websocat ws://127.0.0.1:4238    # then type: join news
//! curl 'http://127.0.0.1:4239/send?group=news&content=hello'
//! ```
//! Each process subscribes to the event `group:<g>` while at least one of its clients is in
//! `<g>`, and unsubscribes when the last one leaves.
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use workerman::Worker;
use workerman::protocol::Http;
use workerman::protocol::http::Response;
use workerman::protocol::websocket::WebSocket;
use workerman_channel::{ChannelClient, ChannelServer};

thread_local! {
    static CHANNEL: RefCell<Option<ChannelClient>> = const { RefCell::new(None) };
}

/// Members of each group in this process (connection ids).
type Groups = Rc<RefCell<HashMap<String, HashSet<u64>>>>;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

fn channel() -> ChannelClient {
    CHANNEL.with(|c| c.borrow().clone().expect("connected in on_worker_start"))
}

fn main() -> workerman::Result<()> {
    let backend = env_or("CHANNEL_BACKEND", "channel://127.0.0.1:2206");
    if !backend.starts_with("redis") {
        ChannelServer::new("frame://0.0.0.0:2206")?;
    }
    let groups: Groups = Rc::default();

    let ws = Worker::<WebSocket>::new("websocket://0.0.0.0:4238")?;
    ws.set_name("group_send_ws");
    ws.set_count(4);
    let b = backend.clone();
    ws.on_worker_start(move |_| {
        let client = ChannelClient::connect(&b).expect("CHANNEL_BACKEND is a channel:// or redis:// URL");
        CHANNEL.with(|c| *c.borrow_mut() = Some(client));
    });
    let (g, w) = (groups.clone(), ws.clone());
    ws.on_message(move |conn, msg| {
        let Some(text) = msg.as_text() else { return };
        let (verb, group) = text.split_once(' ').unwrap_or((text, ""));
        let group = group.trim().to_string();
        if group.is_empty() {
            return;
        }
        match verb {
            "join" => join(&g, &w, &group, conn.id()),
            "leave" => leave(&g, &group, conn.id()),
            _ => {}
        }
    });
    let g = groups.clone();
    ws.on_close(move |conn| {
        let joined: Vec<String> = g
            .borrow()
            .iter()
            .filter(|(_, m)| m.contains(&conn.id()))
            .map(|(k, _)| k.clone())
            .collect();
        for group in joined {
            leave(&g, &group, conn.id());
        }
    });

    let http = Worker::<Http>::new("http://0.0.0.0:4239")?;
    http.set_name("group_send_http");
    http.on_worker_start(move |_| {
        let client = ChannelClient::connect(&backend).expect("CHANNEL_BACKEND is a channel:// or redis:// URL");
        CHANNEL.with(|c| *c.borrow_mut() = Some(client));
    });
    http.on_message(|conn, req| {
        let response = match (req.path(), req.get("group")) {
            ("/send", Some(group)) if !group.is_empty() => {
                let content = req.get("content").unwrap_or_default();
                match channel().publish(&format!("group:{group}"), content) {
                    Ok(()) => Response::new(200).with_body("ok"),
                    Err(_) => Response::new(503).with_body("backlog full"),
                }
            }
            ("/send", _) => Response::new(400).with_body("group missing"),
            _ => Response::new(404).with_body("not found"),
        };
        conn.send(response);
    });
    Worker::run_all()
}

fn join(groups: &Groups, w: &Worker<WebSocket>, group: &str, id: u64) {
    let first = {
        let mut g = groups.borrow_mut();
        let members = g.entry(group.to_string()).or_default();
        members.insert(id);
        members.len() == 1
    };
    if first {
        let (groups, w, name) = (groups.clone(), w.clone(), group.to_string());
        channel().on(&format!("group:{group}"), move |data| {
            let text = String::from_utf8_lossy(data.as_bytes().unwrap_or_default()).into_owned();
            let members: Vec<u64> = groups
                .borrow()
                .get(&name)
                .map(|m| m.iter().copied().collect())
                .unwrap_or_default();
            for id in members {
                if let Some(conn) = w.connection(id) {
                    conn.send(text.as_str());
                }
            }
        });
    }
}

fn leave(groups: &Groups, group: &str, id: u64) {
    let empty = {
        let mut g = groups.borrow_mut();
        let Some(members) = g.get_mut(group) else { return };
        members.remove(&id);
        members.is_empty()
    };
    if empty {
        groups.borrow_mut().remove(group);
        channel().unsubscribe(&format!("group:{group}"));
    }
}
