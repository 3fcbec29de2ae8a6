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
//! | `mqtt` | `rumqttc` (no TLS) | `mqtt_bridge` (2364) |
//! | `dns` | `hickory-resolver` (UDP/TCP) | `dns_lookup` (2366) |
//! | `amqp` | `amqprs` | `queue_worker` (2365, `QUEUE_BACKEND=amqp`) |
//! | `stomp` | [`stomp`] | `queue_worker` (2365, `QUEUE_BACKEND=stomp`) |
//!
//! The rules every recipe follows: clients and pools are made in `on_worker_start`, one per
//! process (never before `run_all`: the master forks and execs, and tokio is not fork-safe); every
//! call is async on the process's event loop, so a slow server holds up only the requests waiting
//! for it; a failure answers 503 with a log line naming the server; the client reconnects by
//! itself when the server comes back.

use std::fmt::Display;

#[cfg(feature = "memcache")]
pub mod memcache;
#[cfg(feature = "stomp")]
pub mod stomp;

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

/// A broker address from a URL such as `mqtt://user:password@host:port` (see [`mqtt_address`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrokerAddress {
    /// Host name or IP address.
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// User name and password, when the URL has them.
    pub login: Option<(String, String)>,
}

/// Parses `mqtt://[user[:password]@]host[:port][/]` (also `tcp://`); the port defaults to 1883.
pub fn mqtt_address(url: &str) -> Result<BrokerAddress, String> {
    let rest = match url.split_once("://") {
        Some(("mqtt" | "tcp", rest)) => rest,
        Some((scheme, _)) => {
            return Err(format!(
                "{url}: scheme {scheme}:// is not mqtt:// (TLS is not built in)"
            ));
        }
        None => url,
    };
    authority(url, rest.trim_end_matches('/'), 1883)
}

/// `[user[:password]@]host[:port]` (user and password percent-decoded).
fn authority(url: &str, rest: &str, default_port: u16) -> Result<BrokerAddress, String> {
    let (login, hostport) = match rest.rsplit_once('@') {
        Some((auth, hp)) => {
            let (user, pw) = auth.split_once(':').unwrap_or((auth, ""));
            (Some((percent_decode(user), percent_decode(pw))), hp)
        }
        None => (None, rest),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        // `[::1]` alone has colons but no port.
        Some((h, p)) if !hostport.ends_with(']') => (h, p.parse().map_err(|_| format!("{url}: bad port {p:?}"))?),
        _ => (hostport, default_port),
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() || host.contains('/') {
        return Err(format!("{url}: no host"));
    }
    Ok(BrokerAddress {
        host: host.to_string(),
        port,
        login,
    })
}

/// An AMQP broker from `amqp://user:password@host:port/vhost` (see [`amqp_address`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmqpAddress {
    /// Host, port and login (`guest`/`guest` when the URL has none).
    pub broker: BrokerAddress,
    /// The virtual host, decoded (`%2f` → `/`; `/` when the URL has no path).
    pub vhost: String,
}

/// Parses `amqp://[user[:password]@]host[:port][/vhost]`; the port defaults to 5672, the login to
/// `guest`/`guest`, the virtual host to `/` (written `%2f` in URLs).
pub fn amqp_address(url: &str) -> Result<AmqpAddress, String> {
    let rest = match url.split_once("://") {
        Some(("amqp", rest)) => rest,
        Some((scheme, _)) => {
            return Err(format!(
                "{url}: scheme {scheme}:// is not amqp:// (TLS is not built in)"
            ));
        }
        None => return Err(format!("{url}: not an amqp:// URL")),
    };
    let (authority_part, vhost) = match rest.split_once('/') {
        Some((a, v)) if !v.is_empty() => (a, percent_decode(v)),
        Some((a, _)) => (a, "/".to_string()),
        None => (rest, "/".to_string()),
    };
    let mut broker = authority(url, authority_part, 5672)?;
    broker.login.get_or_insert_with(|| ("guest".into(), "guest".into()));
    Ok(AmqpAddress { broker, vhost })
}

/// `%XX` escapes decoded (invalid escapes kept as they are).
pub fn percent_decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mqtt_urls() {
        let a = mqtt_address("mqtt://127.0.0.1:1883").unwrap();
        assert_eq!((a.host.as_str(), a.port, a.login), ("127.0.0.1", 1883, None));
        let a = mqtt_address("mqtt://u:p%40ss@broker/").unwrap();
        assert_eq!(
            (a.host.as_str(), a.port, a.login),
            ("broker", 1883, Some(("u".into(), "p@ss".into())))
        );
        assert_eq!(mqtt_address("tcp://[::1]:1884").unwrap().host, "::1");
        assert_eq!(mqtt_address("127.0.0.1:9").unwrap().port, 9);
        assert!(mqtt_address("mqtts://h:8883").is_err());
        assert!(mqtt_address("mqtt://h:x").is_err());
        assert!(mqtt_address("mqtt://").is_err());
    }

    #[test]
    fn amqp_urls() {
        let a = amqp_address("amqp://guest:guest@127.0.0.1:5672/%2f").unwrap();
        assert_eq!(a.vhost, "/");
        assert_eq!((a.broker.host.as_str(), a.broker.port), ("127.0.0.1", 5672));
        assert_eq!(a.broker.login, Some(("guest".into(), "guest".into())));
        let a = amqp_address("amqp://rabbit").unwrap();
        assert_eq!((a.broker.port, a.vhost.as_str()), (5672, "/"));
        let a = amqp_address("amqp://u:p@h:5673/prod").unwrap();
        assert_eq!((a.broker.port, a.vhost.as_str()), (5673, "prod"));
        assert_eq!(a.broker.login, Some(("u".into(), "p".into())));
        assert!(amqp_address("amqps://h").is_err());
        assert!(amqp_address("h:5672").is_err());
    }

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
