//! # workerman-recipes
//!
//! The Workerman manual's components chapter (1.15.4–1.15.10) for workerman-rs: how to use a
//! database, a cache, an HTTP API, a message broker, MQTT, DNS or memcache **inside worker
//! processes**. Each recipe is an example in `examples/` with a docs chapter and an integration
//! test against the real server; this crate holds what they share, and the small client we wrote
//! ourselves (memcache); each client is behind a cargo feature:
//!
//! | feature | crate | example |
//! |---|---|---|
//! | `redis` | `redis` (tokio, `ConnectionManager`) | `redis_counter` (2362) |
//! | `mysql` | `mysql_async` | `mysql_notes` (2361) |
//! | `postgres` | `tokio-postgres` | `pg_notes` (2368) |
//! | `http-client` | `reqwest` (rustls on ring) | `http_fetch` (2363) |
//! | `memcache` | [`memcache`] | `memcache_demo` (2367) |
//!
//! The rules every recipe follows: clients and pools are made in `on_worker_start`, one per
//! process (never before `run_all`: the master forks and execs, and tokio is not fork-safe); every
//! call is async on the process's event loop, so a slow server holds up only the requests waiting
//! for it; a failure answers 503 with a log line naming the server; the client reconnects by
//! itself when the server comes back.

use std::fmt::Display;

#[cfg(feature = "memcache")]
pub mod memcache;

use workerman::protocol::http::Response;

/// The value of the environment variable `name`, or `default` when unset or empty.
pub fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| default.to_string())
}

/// A response with a body and the `X-Worker-Pid` header (which process answered).
pub fn respond(status: u16, content_type: &'static str, body: impl Into<workerman::bytes::Bytes>) -> Response {
    Response::new(status)
        .with_header("Content-Type", content_type)
        .with_header("X-Worker-Pid", std::process::id().to_string())
        .with_body(body)
}

/// A JSON response.
pub fn json(status: u16, value: &serde_json::Value) -> Response {
    respond(status, "application/json", value.to_string())
}

/// A JSON response from an already encoded body.
pub fn json_text(status: u16, body: String) -> Response {
    respond(status, "application/json", body)
}

/// One note as `{"id":N,"body":S}` (keys in that order).
pub fn note_json(id: i64, body: &str) -> String {
    format!(r#"{{"id":{id},"body":{}}}"#, serde_json::Value::from(body))
}

/// Notes as a JSON array of [`note_json`] objects.
pub fn notes_json(notes: impl IntoIterator<Item = (i64, String)>) -> String {
    let items: Vec<String> = notes.into_iter().map(|(id, body)| note_json(id, &body)).collect();
    format!("[{}]", items.join(","))
}

/// A plain-text response.
pub fn text(status: u16, body: impl Into<String>) -> Response {
    respond(status, "text/plain; charset=utf-8", body.into())
}

/// 503 for a backend that failed: logs `<what> at <addr> unavailable: <error>` and answers
/// `{"error":"<what> unavailable"}` (the address and the error's details stay in the log).
pub fn unavailable(what: &str, addr: &str, error: impl Display) -> Response {
    workerman::log!("{what} at {addr} unavailable: {error}");
    json(503, &serde_json::json!({ "error": format!("{what} unavailable") }))
}

/// 404 with a JSON body.
pub fn not_found() -> Response {
    json(404, &serde_json::json!({ "error": "not found" }))
}

/// Reports a bad setting (such as an unparsable URL in `var`) and exits with status 2.
pub fn bad_setting(var: &str, error: impl Display) -> ! {
    eprintln!("{var}: {error}");
    std::process::exit(2)
}

/// A URL fit for a log line: `scheme://user:secret@host/db` → `scheme://user@host/db`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((user, host)) => {
            let user = user.split_once(':').map_or(user, |(u, _)| u);
            format!("{scheme}://{user}@{host}{tail}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_drops_passwords_only() {
        assert_eq!(
            redact("amqp://guest:guest@127.0.0.1:5672/%2f"),
            "amqp://guest@127.0.0.1:5672/%2f"
        );
        assert_eq!(
            redact("mysql://root@127.0.0.1:3306/test"),
            "mysql://root@127.0.0.1:3306/test"
        );
        assert_eq!(redact("redis://127.0.0.1:6379/0"), "redis://127.0.0.1:6379/0");
        assert_eq!(redact("redis://:pw@h:1"), "redis://@h:1");
        assert_eq!(redact("127.0.0.1:11211"), "127.0.0.1:11211");
    }
}
