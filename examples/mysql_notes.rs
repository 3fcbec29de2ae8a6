//! MySQL / MariaDB inside worker processes (manual 1.15.4): `POST /notes` (body = the note's
//! text) inserts a note, `GET /notes` answers the JSON array `[{"id":N,"body":S}, ...]`.
//!
//! ```text
//! cargo run --release --example mysql_notes -- start
//! curl -d 'buy milk' http://127.0.0.1:2361/notes     # {"id":1,"body":"buy milk"}
//! curl http://127.0.0.1:2361/notes                   # [{"id":1,"body":"buy milk"}]
//! ```
//!
//! `MYSQL_URL` (default `mysql://root@127.0.0.1:3306/test`). Each process makes its own
//! `mysql_async::Pool` in `on_worker_start` (connections are opened on demand, at most 4); a
//! connection lost with the server is dropped from the pool and the next request opens a new one.
use std::cell::RefCell;
use std::rc::Rc;

use mysql_async::prelude::{Query, Queryable, WithParams};
use mysql_async::{Opts, OptsBuilder, Pool, PoolConstraints, PoolOpts};
use workerman::Worker;
use workerman::protocol::Http;
use workerman::protocol::http::Method;
use workerman_recipes::{bad_setting, env_or, json_text, not_found, note_json, notes_json, redact, text, unavailable};

const CREATE: &str = "CREATE TABLE IF NOT EXISTS notes (id BIGINT AUTO_INCREMENT PRIMARY KEY, body TEXT NOT NULL)";

async fn insert(pool: &Pool, body: String) -> mysql_async::Result<String> {
    let mut conn = pool.get_conn().await?;
    CREATE.ignore(&mut conn).await?;
    "INSERT INTO notes (body) VALUES (?)"
        .with((body.as_str(),))
        .ignore(&mut conn)
        .await?;
    let id = conn.last_insert_id().unwrap_or(0);
    Ok(note_json(id as i64, &body))
}

async fn list(pool: &Pool) -> mysql_async::Result<String> {
    let mut conn = pool.get_conn().await?;
    CREATE.ignore(&mut conn).await?;
    let rows: Vec<(i64, String)> = conn.query("SELECT id, body FROM notes ORDER BY id").await?;
    Ok(notes_json(rows))
}

fn main() -> workerman::Result<()> {
    let url = env_or("MYSQL_URL", "mysql://root@127.0.0.1:3306/test");
    let opts = Opts::from_url(&url).unwrap_or_else(|e| bad_setting("MYSQL_URL", e));
    let worker = Worker::<Http>::new("http://0.0.0.0:2361")?;
    worker.set_name("mysql_notes");
    worker.set_count(2);
    let pool: Rc<RefCell<Option<Pool>>> = Rc::new(RefCell::new(None));
    let p = pool.clone();
    worker.on_worker_start(move |_| {
        // Made here, in each worker process, on its event loop: never before run_all.
        let constraints = PoolConstraints::new(0, 4).expect("0 <= 4");
        let opts = OptsBuilder::from_opts(opts.clone()).pool_opts(PoolOpts::default().with_constraints(constraints));
        *p.borrow_mut() = Some(Pool::new(opts));
    });
    worker.on_message(move |conn, req| {
        let Some(pool) = pool.borrow().clone() else { return };
        let (conn, url) = (conn.clone(), redact(&url));
        match (req.method(), req.path()) {
            (Method::Get, "/") => {
                conn.send(text(200, format!("mysql_notes pid {}", std::process::id())));
            }
            (Method::Post, "/notes") => {
                let body = String::from_utf8_lossy(req.body()).into_owned();
                workerman::spawn(async move {
                    conn.send(match insert(&pool, body).await {
                        Ok(note) => json_text(201, note),
                        Err(e) => unavailable("MySQL", &url, e),
                    });
                });
            }
            (Method::Get, "/notes") => {
                workerman::spawn(async move {
                    conn.send(match list(&pool).await {
                        Ok(notes) => json_text(200, notes),
                        Err(e) => unavailable("MySQL", &url, e),
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
