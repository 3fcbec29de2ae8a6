//! A small HTTP application: query and body echo, uploads, sessions, Server-Sent Events and a
//! static folder.
//!
//! ```text
//! cargo run --example http_app -- start
//! curl 'http://127.0.0.1:2355/get?a=1&b=x'          # {"a":"1","b":"x"}
//! curl -d 'a=1' http://127.0.0.1:2355/post           # {"a":"1"}
//! curl -H 'Content-Type: application/json' -d '{"k":[1,2]}' http://127.0.0.1:2355/post
//! curl -F f=@Cargo.toml http://127.0.0.1:2355/upload # [{"field":"f","name":"Cargo.toml",...}]
//! curl -c jar -b jar http://127.0.0.1:2355/session   # 1, 2, 3 ... per cookie jar
//! curl -N http://127.0.0.1:2355/sse                  # five events, 100 ms apart
//! curl http://127.0.0.1:2355/static/index.html       # files of examples/static
//! ```
//! `HTTP_APP_STATIC_DIR` replaces the static folder, `HTTP_APP_SESSION_DIR` the session folder.
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use workerman::protocol::Http;
use workerman::protocol::http::session::Sessions;
use workerman::protocol::http::{HttpConnectionExt, Request, Response, ServerSentEvent, StaticFiles};
use workerman::{Status, TcpConnection, Timer, Worker};

fn json_response(v: &Value) -> Response {
    Response::new(200)
        .with_header("Content-Type", "application/json")
        .with_body(v.to_string())
}

fn pairs(pairs: &[(String, String)]) -> Value {
    let mut map = Map::new();
    for (k, v) in pairs {
        map.insert(k.clone(), Value::String(v.clone()));
    }
    Value::Object(map)
}

fn post(req: &Request) -> Response {
    match req.json() {
        Some(v) if req.header("content-type").is_some_and(|t| t.contains("json")) => json_response(v),
        _ => json_response(&pairs(req.post_fields())),
    }
}

fn upload(req: &Request) -> Response {
    let files: Vec<Value> = req
        .files()
        .iter()
        .map(|f| {
            json!({
                "field": f.field(),
                "name": f.name(),
                "size": f.size(),
                "type": f.content_type(),
                "error": f.error(),
            })
        })
        .collect();
    json_response(&json!({ "fields": pairs(req.post_fields()), "files": files }))
}

fn sse(conn: &TcpConnection<Http>) {
    conn.send(Response::new(200).with_header("Content-Type", "text/event-stream"));
    let conn = conn.clone();
    let sent = Rc::new(Cell::new(0u32));
    let timer = Rc::new(Cell::new(None));
    let me = timer.clone();
    timer.set(Some(Timer::add(Duration::from_millis(100), true, move || {
        if conn.status() != Status::Established {
            if let Some(id) = me.get() {
                Timer::del(id);
            }
            return;
        }
        sent.set(sent.get() + 1);
        conn.send(
            ServerSentEvent::new()
                .id(sent.get().to_string())
                .event("tick")
                .data(format!("event {}", sent.get())),
        );
        if sent.get() == 5 {
            if let Some(id) = me.get() {
                Timer::del(id);
            }
            conn.close();
        }
    })));
}

fn main() -> workerman::Result<()> {
    let static_dir = std::env::var("HTTP_APP_STATIC_DIR")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/static").into());
    let session_dir = std::env::var("HTTP_APP_SESSION_DIR")
        .map(Into::into)
        .unwrap_or_else(|_| std::env::temp_dir().join("workerman-http_app-sessions"));
    let worker = Worker::<Http>::new("http://0.0.0.0:2355")?;
    worker.set_name("http_app");
    worker.set_count(2);
    worker.on_message(move |conn, req| {
        // Opened per process on first use (code before run_all runs in every process).
        thread_local! {
            static STATE: std::cell::OnceCell<(StaticFiles, Sessions)> = const { std::cell::OnceCell::new() };
        }
        let (files, sessions) = STATE.with(|s| {
            s.get_or_init(|| {
                (
                    StaticFiles::new("/static", &static_dir).expect("static folder"),
                    Sessions::file(&session_dir).expect("session folder"),
                )
            })
            .clone()
        });
        match req.path() {
            "/get" => {
                conn.send(json_response(&pairs(req.query())));
            }
            "/post" => {
                conn.send(post(&req));
            }
            "/upload" => {
                conn.send(upload(&req));
            }
            // Loaded on first use, saved automatically before the response goes out.
            "/session" => conn.respond_with(sessions.handle(req, |_req, session| async move {
                let visits = session.get::<u64>("visits").await?.unwrap_or(0) + 1;
                session.set("visits", visits).await?;
                Ok::<_, std::io::Error>(visits.to_string())
            })),
            "/sse" => sse(conn),
            _ => match files.serve(&req) {
                Some(resp) => {
                    conn.respond(resp);
                }
                None => {
                    conn.send(Response::new(404).with_body("<h3>404 Not Found</h3>"));
                }
            },
        }
    });
    Worker::run_all()
}
