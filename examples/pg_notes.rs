//! PostgreSQL inside worker processes (manual 1.15.4.3, "other databases"): the same endpoints as
//! `mysql_notes` — `POST /notes` (body = text) inserts, `GET /notes` answers
//! `[{"id":N,"body":S}, ...]`.
//!
//! ```text
//! cargo run --release --example pg_notes -- start
//! curl -d 'buy milk' http://127.0.0.1:2368/notes     # {"id":1,"body":"buy milk"}
//! curl http://127.0.0.1:2368/notes                   # [{"id":1,"body":"buy milk"}]
//! ```
//!
//! `PG_URL` (default `postgres://postgres@127.0.0.1:5432/test`). The client is `tokio-postgres`:
//! pure Rust, one connection per process that pipelines concurrent queries, no pool thread, no
//! compile-time SQL macros. Each process connects on first use; when the connection is lost, the
//! request answers 503 and the next one connects again.
use std::cell::RefCell;
use std::rc::Rc;

use tokio_postgres::{Client, Config, NoTls};
use workerman::protocol::Http;
use workerman::protocol::http::Method;
use workerman::{Worker, log};
use workerman_recipes::{bad_setting, env_or, json_text, not_found, note_json, notes_json, redact, text, unavailable};

const CREATE: &str = "CREATE TABLE IF NOT EXISTS notes (id BIGSERIAL PRIMARY KEY, body TEXT NOT NULL)";

type Shared = Rc<RefCell<Option<Rc<Client>>>>;

/// This process's connection: the live one, or a new one.
async fn client(config: &Config, shared: &Shared) -> Result<Rc<Client>, tokio_postgres::Error> {
    if let Some(c) = shared.borrow().as_ref().filter(|c| !c.is_closed()) {
        return Ok(c.clone());
    }
    let (client, connection) = config.connect(NoTls).await?;
    // The connection's I/O runs as a task of this process's event loop.
    workerman::spawn(async move {
        if let Err(e) = connection.await {
            log!("PostgreSQL connection closed: {e}");
        }
    });
    client.batch_execute(CREATE).await?;
    let client = Rc::new(client);
    *shared.borrow_mut() = Some(client.clone());
    Ok(client)
}

async fn insert(config: &Config, shared: &Shared, body: String) -> Result<String, tokio_postgres::Error> {
    let c = client(config, shared).await?;
    let row = c
        .query_one("INSERT INTO notes (body) VALUES ($1) RETURNING id", &[&body])
        .await?;
    Ok(note_json(row.get(0), &body))
}

async fn list(config: &Config, shared: &Shared) -> Result<String, tokio_postgres::Error> {
    let c = client(config, shared).await?;
    let rows = c.query("SELECT id, body FROM notes ORDER BY id", &[]).await?;
    Ok(notes_json(rows.iter().map(|r| (r.get(0), r.get(1)))))
}

fn main() -> workerman::Result<()> {
    let url = env_or("PG_URL", "postgres://postgres@127.0.0.1:5432/test");
    let mut config: Config = url.parse().unwrap_or_else(|e| bad_setting("PG_URL", e));
    config.connect_timeout(std::time::Duration::from_secs(2));
    let worker = Worker::<Http>::new("http://0.0.0.0:2368")?;
    worker.set_name("pg_notes");
    worker.set_count(2);
    let shared: Shared = Rc::new(RefCell::new(None));
    worker.on_message(move |conn, req| {
        let (conn, config, shared, url) = (conn.clone(), config.clone(), shared.clone(), redact(&url));
        match (req.method(), req.path()) {
            (Method::Get, "/") => {
                conn.send(text(200, format!("pg_notes pid {}", std::process::id())));
            }
            (Method::Post, "/notes") => {
                let body = String::from_utf8_lossy(req.body()).into_owned();
                workerman::spawn(async move {
                    conn.send(match insert(&config, &shared, body).await {
                        Ok(note) => json_text(201, note),
                        Err(e) => unavailable("PostgreSQL", &url, e),
                    });
                });
            }
            (Method::Get, "/notes") => {
                workerman::spawn(async move {
                    conn.send(match list(&config, &shared).await {
                        Ok(notes) => json_text(200, notes),
                        Err(e) => unavailable("PostgreSQL", &url, e),
                    });
                });
            }
            _ => {
                conn.send(not_found());
            }
        }
    });
    Worker::run_all()
}
