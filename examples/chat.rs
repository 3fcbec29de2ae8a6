//! The manual's chat demo (workerman-chat) on the Gateway: rooms, private messages, heartbeats,
//! spread over 4 gateway and 4 business-worker processes.
//!
//! ```text
//! cargo run --release -p workerman-gateway --example chat -- start
//! open http://127.0.0.1:55151/?room_id=1 in two browser tabs
//! ```
//! | worker | listen | count |
//! |---|---|---|
//! | Register | `text://0.0.0.0:1236` | 1 |
//! | ChatGateway | `websocket://0.0.0.0:7272` (inner 127.0.0.1:2300..2303) | 4 |
//! | ChatBusinessWorker | — | 4 |
//! | WebServer | `http://0.0.0.0:55151` (the chat page) | 2 |
//!
//! The environment can change what the tests need (the defaults are the demo's):
//! `CHAT_PING_INTERVAL_MS`, `CHAT_PING_NOT_RESPONSE_LIMIT` (heartbeat: 10 s, no limit);
//! `CHAT_SECRET_KEY`, `CHAT_AUTH_MODE=php` (a secret key, proven the PHP way); and for one host of
//! several, `CHAT_ROLES` (any of `register,gateway,worker,web`), `CHAT_LISTEN_IP` (0.0.0.0),
//! `CHAT_LAN_IP` (127.0.0.1), `CHAT_REGISTER` (`127.0.0.1:1236`; comma-separated for several; a
//! `redis://...` address discovers through Redis instead); `CHAT_SLOW_MS` (each `say` takes that
//! long in the business worker: the reload hand-over test).
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use serde_json::{Value, json};
use workerman::Worker;
use workerman::protocol::Http;
use workerman::protocol::http::Response;
use workerman::protocol::websocket::WebSocket;
use workerman_gateway::json::object;
use workerman_gateway::{AuthMode, BusinessWorker, Context, Events, Gateway, Register};

const PAGE: &str = include_str!("chat.html");

fn main() -> workerman::Result<()> {
    // The demo's settings; the tests override some through the environment (see below).
    let secret = env("CHAT_SECRET_KEY", "");
    let mode = match env("CHAT_AUTH_MODE", "native").as_str() {
        "php" => AuthMode::PhpCompatible,
        _ => AuthMode::Native,
    };
    let roles = env("CHAT_ROLES", "register,gateway,worker,web");
    let registers: Vec<String> = env("CHAT_REGISTER", "127.0.0.1:1236")
        .split(',')
        .map(str::to_owned)
        .collect();

    if roles.contains("register") {
        let register = Register::new("text://0.0.0.0:1236")?;
        register.set_secret_key(&secret);
        register.set_auth_mode(mode);
    }

    if roles.contains("gateway") {
        let listen = env("CHAT_LISTEN_IP", "0.0.0.0");
        let gateway = Gateway::<WebSocket>::new(&format!("websocket://{listen}:7272"))?;
        gateway.set_name("ChatGateway");
        gateway.set_count(4);
        gateway.set_lan_ip(env("CHAT_LAN_IP", "127.0.0.1"));
        gateway.set_start_port(2300);
        gateway.set_ping_interval(env_ms("CHAT_PING_INTERVAL_MS").unwrap_or(Duration::from_secs(10)));
        gateway.set_ping_not_response_limit(env_u32("CHAT_PING_NOT_RESPONSE_LIMIT").unwrap_or(0));
        gateway.set_ping_data(r#"{"type":"ping"}"#);
        gateway.set_register_address(registers.clone());
        gateway.set_secret_key(&secret);
        gateway.set_auth_mode(mode);
    }

    if roles.contains("worker") {
        let worker = BusinessWorker::new(Chat);
        worker.set_name("ChatBusinessWorker");
        worker.set_count(4);
        worker.set_register_address(registers);
        worker.set_secret_key(&secret);
        worker.set_auth_mode(mode);
    }

    if roles.contains("web") {
        let web = Worker::<Http>::new("http://0.0.0.0:55151")?;
        web.set_name("WebServer");
        web.set_count(2);
        web.on_message(|conn, request| {
            let response = match request.path() {
                "/" | "/index.html" => Response::new(200)
                    .with_header("Content-Type", "text/html; charset=utf-8")
                    .with_body(PAGE),
                _ => Response::new(404).with_body("<h3>404 Not Found</h3>"),
            };
            conn.send(response);
        });
    }
    Worker::run_all()
}

/// The chat's business logic (workerman-chat's `Events`).
struct Chat;

impl Events for Chat {
    async fn on_message(&self, cx: &mut Context, message: Bytes) {
        let Ok(msg) = serde_json::from_slice::<Value>(&message) else {
            return;
        };
        match msg.get("type").and_then(Value::as_str) {
            Some("login") => login(cx, &msg).await,
            Some("say") => say(cx, &msg).await,
            _ => {} // pong and anything unknown
        }
    }

    async fn on_close(&self, cx: &mut Context) {
        let (Some(room), Some(name)) = (cx.session_str("room_id"), cx.session_str("client_name")) else {
            return;
        };
        let logout = object(&[
            ("type", json!("logout")),
            ("from_client_id", json!(cx.client_id())),
            ("from_client_name", json!(name)),
            ("time", json!(now())),
        ]);
        let _ = cx.gateway().send_to_group(&[&room], logout, &[]).await;
    }
}

async fn login(cx: &mut Context, msg: &Value) {
    let Some(room) = msg.get("room_id").and_then(scalar) else {
        return;
    };
    let name = html_escape(&msg.get("client_name").and_then(scalar).unwrap_or_default());
    let session = cx.session_mut();
    session.insert("room_id", room.as_str());
    session.insert("client_name", name.as_str());

    let gw = cx.gateway().clone();
    let mut list = serde_json::Map::new();
    for (id, s) in gw.get_client_sessions_by_group(&room).await.unwrap_or_default() {
        let n = s
            .get_str("client_name")
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_owned();
        list.insert(id, json!(n));
    }
    list.insert(cx.client_id().to_owned(), json!(name));
    let mut fields = vec![
        ("type", json!("login")),
        ("client_id", json!(cx.client_id())),
        ("client_name", json!(name)),
        ("time", json!(now())),
    ];
    // Tell the room first, then join it: the newcomer gets the member list instead.
    let _ = gw.send_to_group(&[&room], object(&fields), &[]).await;
    let _ = gw.join_group(cx.client_id(), &room).await;
    // Not in the PHP demo: the name doubles as a uid, so gateway_push's /send_to_uid reaches it.
    let _ = gw.bind_uid(cx.client_id(), &name).await;
    fields.push(("client_list", Value::Object(list)));
    let _ = cx.send_to_current_client(object(&fields)).await;
}

async fn say(cx: &mut Context, msg: &Value) {
    let (Some(room), Some(name)) = (cx.session_str("room_id"), cx.session_str("client_name")) else {
        return; // not logged in
    };
    if let Some(slow) = env_ms("CHAT_SLOW_MS") {
        tokio::time::sleep(slow).await;
    }
    let content = nl2br(&html_escape(&msg.get("content").and_then(scalar).unwrap_or_default()));
    let to = msg.get("to_client_id").and_then(scalar).unwrap_or_else(|| "all".into());
    let gw = cx.gateway().clone();
    let say = |to: &str, content: String| {
        object(&[
            ("type", json!("say")),
            ("from_client_id", json!(cx.client_id())),
            ("from_client_name", json!(name)),
            ("to_client_id", json!(to)),
            ("content", json!(content)),
            ("time", json!(now())),
        ])
    };
    if to != "all" {
        let to_name = html_escape(&msg.get("to_client_name").and_then(scalar).unwrap_or_default());
        let _ = gw
            .send_to_client(&to, say(&to, format!("<b>对你说: </b>{content}")))
            .await;
        let _ = cx
            .send_to_current_client(say(&to, format!("<b>你对{to_name}说: </b>{content}")))
            .await;
        return;
    }
    let _ = gw.send_to_group(&[&room], say("all", content), &[]).await;
}

/// A JSON string or number as text.
fn scalar(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// PHP's `htmlspecialchars` (default flags).
fn html_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#039;"),
            c => out.push(c),
        }
    }
    out
}

/// PHP's `nl2br`: `<br />` before each line break (`\r\n`, `\n\r`, `\n` or `\r`).
fn nl2br(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\n' || c == '\r' {
            out.push_str("<br />");
            out.push(c);
            if let Some(&d) = chars.peek()
                && (d == '\n' || d == '\r')
                && d != c
            {
                out.push(d);
                chars.next();
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `date('Y-m-d H:i:s')` in UTC.
fn now() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = ((secs / 86_400) as i64, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02} {:02}:{:02}:{:02}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn env_ms(name: &str) -> Option<Duration> {
    std::env::var(name).ok()?.parse().ok().map(Duration::from_millis)
}

fn env_u32(name: &str) -> Option<u32> {
    std::env::var(name).ok()?.parse().ok()
}
