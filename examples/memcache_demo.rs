//! memcache inside worker processes (manual 1.15.10): `POST /set/<key>` stores the body,
//! `GET /get/<key>` answers it (404 when missing).
//!
//! ```text
//! cargo run --release --example memcache_demo -- start
//! curl -d 'hello' http://127.0.0.1:2367/set/greeting    # STORED
//! curl http://127.0.0.1:2367/get/greeting               # hello
//! ```
//!
//! `MEMCACHE_ADDR` (default `127.0.0.1:11211`). The client is our own small text-protocol client
//! (`workerman_recipes::memcache`): one connection per process, reopened after any error; calls of
//! one process take turns on it (a `tokio::sync::Mutex`), and never block the event loop.
use std::rc::Rc;

use tokio::sync::Mutex;
use workerman::Worker;
use workerman::protocol::Http;
use workerman::protocol::http::Method;
use workerman_recipes::memcache::{Client, Error};
use workerman_recipes::{env_or, json, not_found, respond, text, unavailable};

fn main() -> workerman::Result<()> {
    let addr = env_or("MEMCACHE_ADDR", "127.0.0.1:11211");
    let worker = Worker::<Http>::new("http://0.0.0.0:2367")?;
    worker.set_name("memcache_demo");
    worker.set_count(2);
    // One client per process: connecting waits for the first call, in the worker process.
    let client = Rc::new(Mutex::new(Client::new(&addr)));
    worker.on_message(move |conn, req| {
        let path = req.path();
        if req.method() == Method::Get && path == "/" {
            conn.send(text(200, format!("memcache_demo pid {}", std::process::id())));
            return;
        }
        let (op, key) = match (req.method(), path.strip_prefix("/set/"), path.strip_prefix("/get/")) {
            (Method::Post, Some(key), _) => ("set", key),
            (Method::Get, _, Some(key)) => ("get", key),
            _ => {
                conn.send(not_found());
                return;
            }
        };
        let (conn, client, key, body) = (conn.clone(), client.clone(), key.to_string(), req.body().clone());
        workerman::spawn(async move {
            let mut c = client.lock().await;
            let reply = match op {
                "set" => c.set(&key, &body).await.map(|()| text(200, "STORED")),
                _ => c.get(&key).await.map(|v| match v {
                    Some(v) => respond(200, "application/octet-stream", v),
                    None => not_found(),
                }),
            };
            conn.send(match reply {
                Ok(r) => r,
                Err(Error::BadKey) => json(400, &serde_json::json!({ "error": "bad key" })),
                Err(e) => unavailable("memcache", c.addr(), e),
            });
        });
    });
    Worker::run_all()
}
