//! An HTTP client inside worker processes (manual 1.15.6): `GET /fetch?url=<url>` fetches the URL
//! and answers `{"status":N,"bytes":N}` — the upstream's status and body size.
//!
//! ```text
//! cargo run --release --example http_fetch -- start
//! curl 'http://127.0.0.1:2363/fetch?url=http://127.0.0.1:2345/'    # {"status":200,"bytes":11}
//! ```
//!
//! The client is `reqwest` with rustls on ring (the crypto provider the core already uses; no
//! second one), one per process, made in `on_worker_start`, with its own connection pool. Every
//! fetch is a task on the process's event loop: a slow upstream holds up only the requests that
//! wait for it. An upstream that cannot be reached (or takes longer than `FETCH_TIMEOUT_SECS`,
//! default 10) answers 503 with a log line.
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use workerman::Worker;
use workerman::protocol::Http;
use workerman::protocol::http::Method;
use workerman_recipes::{env_or, json, json_text, not_found, text, unavailable};

fn main() -> workerman::Result<()> {
    let timeout: u64 = env_or("FETCH_TIMEOUT_SECS", "10").parse().unwrap_or(10);
    let worker = Worker::<Http>::new("http://0.0.0.0:2363")?;
    worker.set_name("http_fetch");
    worker.set_count(2);
    let client: Rc<RefCell<Option<reqwest::Client>>> = Rc::new(RefCell::new(None));
    let c = client.clone();
    worker.on_worker_start(move |_| {
        // rustls on ring, for https:// upstreams.
        let _ = rustls::crypto::ring::default_provider().install_default();
        match reqwest::Client::builder()
            .timeout(Duration::from_secs(timeout))
            .connect_timeout(Duration::from_secs(5))
            .build()
        {
            Ok(client) => *c.borrow_mut() = Some(client),
            Err(e) => workerman::log!("http_fetch: cannot build the HTTP client: {e}"),
        }
    });
    worker.on_message(move |conn, req| match (req.method(), req.path()) {
        (Method::Get, "/") => {
            conn.send(text(200, format!("http_fetch pid {}", std::process::id())));
        }
        (Method::Get, "/fetch") => {
            let Some(url) = req
                .get("url")
                .filter(|u| u.starts_with("http://") || u.starts_with("https://"))
            else {
                conn.send(json(400, &serde_json::json!({ "error": "url=http(s)://... required" })));
                return;
            };
            let Some(client) = client.borrow().clone() else {
                conn.send(unavailable("HTTP client", "-", "not built"));
                return;
            };
            let (conn, url) = (conn.clone(), url.to_string());
            workerman::spawn(async move {
                let result = async {
                    let resp = client.get(&url).send().await?;
                    let status = resp.status().as_u16();
                    let body = resp.bytes().await?;
                    Ok::<_, reqwest::Error>((status, body.len()))
                }
                .await;
                conn.send(match result {
                    Ok((status, bytes)) => json_text(200, format!(r#"{{"status":{status},"bytes":{bytes}}}"#)),
                    Err(e) => unavailable("upstream", &url, e),
                });
            });
        }
        _ => {
            conn.send(not_found());
        }
    });
    Worker::run_all()
}
