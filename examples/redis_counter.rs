//! Redis inside worker processes (manual 1.15.5): `GET /incr/<key>` answers the key's new value.
//!
//! ```text
//! cargo run --release --example redis_counter -- start
//! curl http://127.0.0.1:2362/incr/visits      # 1
//! curl http://127.0.0.1:2362/incr/visits      # 2
//! ```
//!
//! `REDIS_URL` (default `redis://127.0.0.1:6379/0`). Each process makes its own
//! `ConnectionManager` (one multiplexed connection that reconnects by itself) on first use; while
//! Redis is away, requests answer 503 and the log says why.
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use workerman::Worker;
use workerman::protocol::Http;
use workerman::protocol::http::Method;
use workerman_recipes::{bad_setting, env_or, not_found, redact, text, unavailable};

type Shared = Rc<RefCell<Option<ConnectionManager>>>;

/// This process's connection, made on first use (and again if the first attempt failed).
async fn connection(client: &redis::Client, shared: &Shared) -> redis::RedisResult<ConnectionManager> {
    if let Some(c) = shared.borrow().as_ref() {
        return Ok(c.clone());
    }
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_secs(2)))
        .set_response_timeout(Some(Duration::from_secs(10)))
        .set_number_of_retries(1);
    let c = ConnectionManager::new_with_config(client.clone(), config).await?;
    *shared.borrow_mut() = Some(c.clone());
    Ok(c)
}

fn main() -> workerman::Result<()> {
    let url = env_or("REDIS_URL", "redis://127.0.0.1:6379/0");
    let client = redis::Client::open(url.as_str()).unwrap_or_else(|e| bad_setting("REDIS_URL", e));
    let worker = Worker::<Http>::new("http://0.0.0.0:2362")?;
    worker.set_name("redis_counter");
    worker.set_count(2);
    // Per process: the Rc lives in each worker process's copy of this closure's state.
    let shared: Shared = Rc::new(RefCell::new(None));
    worker.on_message(move |conn, req| {
        let path = req.path();
        if req.method() == Method::Get && path == "/" {
            conn.send(text(200, format!("redis_counter pid {}", std::process::id())));
            return;
        }
        let Some(key) = path
            .strip_prefix("/incr/")
            .filter(|k| !k.is_empty() && req.method() == Method::Get)
        else {
            conn.send(not_found());
            return;
        };
        let (conn, key, client, shared, url) = (
            conn.clone(),
            key.to_string(),
            client.clone(),
            shared.clone(),
            redact(&url),
        );
        workerman::spawn(async move {
            let result = async {
                let mut c = connection(&client, &shared).await?;
                redis::cmd("INCR").arg(&key).query_async::<i64>(&mut c).await
            }
            .await;
            conn.send(match result {
                Ok(n) => text(200, n.to_string()),
                Err(e) => unavailable("Redis", &url, e),
            });
        });
    });
    Worker::run_all()
}
