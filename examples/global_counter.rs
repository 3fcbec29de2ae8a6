//! A counter shared by every process (manual 1.15.1): a GlobalData server on 2207 and
//! `http://0.0.0.0:2360` with 4 processes; each request increments the key `hits` and answers
//! the new value as a plain-text body. Concurrent requests always get distinct values.
//!
//! ```text
//! cargo run --release --example global_counter -- start
//! curl http://127.0.0.1:2360/        # 1, then 2, 3, ...
//! GLOBAL_DATA_BACKEND=redis://127.0.0.1:6379/0 cargo run --release --example global_counter -- start
//! ```
//! `GLOBAL_DATA_BACKEND`: `globaldata://127.0.0.1:2207` (default; the server runs in this
//! program) or `redis://host:port/db` (every process on Redis; the built-in server is not
//! started, so several hosts can share the count).
use workerman::Worker;
use workerman::protocol::Http;
use workerman::protocol::http::Response;
use workerman_global_data::{GlobalDataClient, GlobalDataServer, Value};

fn main() -> workerman::Result<()> {
    let backend = std::env::var("GLOBAL_DATA_BACKEND").unwrap_or_else(|_| "globaldata://127.0.0.1:2207".into());
    // Check the URL once, before any process starts.
    let client = GlobalDataClient::new(&backend).map_err(|e| workerman::Error::Address {
        address: backend.clone(),
        reason: e.to_string(),
    })?;
    if !client.is_redis() {
        GlobalDataServer::new("0.0.0.0:2207")?;
    }

    let web = Worker::<Http>::new("http://0.0.0.0:2360")?;
    web.set_name("global_counter");
    web.set_count(4);
    web.on_message(move |conn, _req| {
        let (conn, client) = (conn.clone(), client.clone());
        workerman::spawn(async move {
            let reply = match next_hit(&client).await {
                Ok(n) => Response::new(200).with_body(n.to_string()),
                Err(e) => Response::new(503).with_body(format!("GlobalData: {e}")),
            };
            conn.send(reply.with_header("Content-Type", "text/plain"));
        });
    });
    Worker::run_all()
}

/// `increment` creates nothing, so the first hit creates the key with `add` (atomic: one
/// process wins, the others then increment).
async fn next_hit(client: &GlobalDataClient) -> workerman_global_data::Result<i64> {
    loop {
        if let Some(v) = client.increment("hits", 1).await? {
            return Ok(as_int(&v));
        }
        if client.add("hits", 1).await? {
            return Ok(1);
        }
    }
}

fn as_int(v: &Value) -> i64 {
    match v {
        Value::Int(n) => *n,
        Value::Float(f) => *f as i64,
        _ => 0,
    }
}
