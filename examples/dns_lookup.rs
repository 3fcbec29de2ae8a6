//! DNS inside worker processes (manual 1.15.9): `GET /resolve?name=<n>&type=A|AAAA|MX|TXT`
//! answers a JSON array of records.
//!
//! ```text
//! cargo run --release --example dns_lookup -- start
//! curl 'http://127.0.0.1:2366/resolve?name=example.com&type=A'    # ["93.184.215.14"]
//! curl 'http://127.0.0.1:2366/resolve?name=example.com&type=MX'   # [{"preference":0,"exchange":"."}]
//! ```
//!
//! Records: A and AAAA as address strings, TXT as strings (the record's character-strings joined),
//! MX as `{"preference":N,"exchange":"host."}`. A name that does not exist answers 404, a name
//! without records of that type `[]`, a bad name or type 400; a server that does not answer (or
//! answers SERVFAIL/REFUSED) 503 with a log line.
//!
//! `DNS_SERVER` (`ip` or `ip:port`) sends every query to that server; unset, the system's resolver
//! configuration (`/etc/resolv.conf`) is used. Each process builds its own `hickory-resolver`
//! (async, on the process's event loop; UDP with TCP fallback) in `on_worker_start`.
use std::cell::RefCell;
use std::net::{IpAddr, SocketAddr};
use std::rc::Rc;
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig};
use hickory_resolver::net::NetError;
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::op::ResponseCode;
use hickory_resolver::proto::rr::{Name, RData, RecordType};
use workerman::Worker;
use workerman::protocol::Http;
use workerman::protocol::http::Method;
use workerman_recipes::{bad_setting, env_or, json, json_text, not_found, text, unavailable};

/// `DNS_SERVER` as a socket address (port 53 when not given).
fn server(value: &str) -> Result<SocketAddr, String> {
    value
        .parse::<SocketAddr>()
        .or_else(|_| value.parse::<IpAddr>().map(|ip| SocketAddr::new(ip, 53)))
        .map_err(|_| format!("{value:?} is not an IP address or ip:port"))
}

/// A resolver for this process: the one server given, or the system configuration.
fn resolver(server: Option<SocketAddr>) -> Result<TokioResolver, NetError> {
    let mut builder = match server {
        Some(addr) => {
            let connections = [ConnectionConfig::udp(), ConnectionConfig::tcp()]
                .into_iter()
                .map(|mut c| {
                    c.port = addr.port();
                    c
                })
                .collect();
            let ns = NameServerConfig::new(addr.ip(), true, connections);
            TokioResolver::builder_with_config(
                ResolverConfig::from_name_servers(vec![ns]),
                TokioRuntimeProvider::default(),
            )
        }
        None => TokioResolver::builder_tokio()?,
    };
    // Fail within a few seconds (then 503), rather than the default 5 s × 3 attempts.
    builder.options_mut().timeout = Duration::from_secs(2);
    builder.options_mut().attempts = 1;
    builder.build()
}

/// The answer's records of `kind` as JSON values.
fn records(answers: &[hickory_resolver::proto::rr::Record], kind: RecordType) -> Vec<serde_json::Value> {
    answers
        .iter()
        .filter(|r| r.record_type() == kind)
        .filter_map(|r| match &r.data {
            RData::A(a) => Some(a.0.to_string().into()),
            RData::AAAA(a) => Some(a.0.to_string().into()),
            RData::MX(mx) => Some(serde_json::json!({
                "preference": mx.preference,
                "exchange": mx.exchange.to_string(),
            })),
            RData::TXT(txt) => Some(
                txt.txt_data
                    .iter()
                    .map(|s| String::from_utf8_lossy(s))
                    .collect::<String>()
                    .into(),
            ),
            _ => None,
        })
        .collect()
}

fn bad_request(message: &str) -> workerman::protocol::http::Response {
    json(400, &serde_json::json!({ "error": message }))
}

fn main() -> workerman::Result<()> {
    let setting = env_or("DNS_SERVER", "");
    let server = (!setting.is_empty()).then(|| server(&setting).unwrap_or_else(|e| bad_setting("DNS_SERVER", e)));
    let shown = server.map_or_else(|| "the system resolver".to_string(), |a| a.to_string());
    let worker = Worker::<Http>::new("http://0.0.0.0:2366")?;
    worker.set_name("dns_lookup");
    worker.set_count(2);
    // Per process, made in on_worker_start (the resolver's sockets belong to this process's loop).
    let shared: Rc<RefCell<Option<TokioResolver>>> = Rc::new(RefCell::new(None));
    let slot = shared.clone();
    worker.on_worker_start(move |_| match resolver(server) {
        Ok(r) => *slot.borrow_mut() = Some(r),
        Err(e) => workerman::log!("DNS: no resolver ({e}); /resolve answers 503"),
    });
    worker.on_message(move |conn, req| {
        if req.method() == Method::Get && req.path() == "/" {
            conn.send(text(200, format!("dns_lookup pid {}", std::process::id())));
            return;
        }
        if req.method() != Method::Get || req.path() != "/resolve" {
            conn.send(not_found());
            return;
        }
        let Some(name) = req.get("name").filter(|n| !n.is_empty()).map(str::to_string) else {
            conn.send(bad_request("name is missing"));
            return;
        };
        let kind = match req.get("type").unwrap_or("A").to_ascii_uppercase().as_str() {
            "A" => RecordType::A,
            "AAAA" => RecordType::AAAA,
            "MX" => RecordType::MX,
            "TXT" => RecordType::TXT,
            _ => {
                conn.send(bad_request("type must be A, AAAA, MX or TXT"));
                return;
            }
        };
        let Ok(name) = Name::from_utf8(&name) else {
            conn.send(bad_request("bad name"));
            return;
        };
        let Some(resolver) = shared.borrow().clone() else {
            conn.send(unavailable("DNS", &shown, "no resolver"));
            return;
        };
        let (conn, shown) = (conn.clone(), shown.clone());
        workerman::spawn(async move {
            conn.send(match resolver.lookup(name.clone(), kind).await {
                Ok(lookup) => json_text(
                    200,
                    serde_json::Value::from(records(lookup.answers(), kind)).to_string(),
                ),
                Err(e) if e.is_nx_domain() => json(404, &serde_json::json!({ "error": "no such name" })),
                Err(NetError::Dns(hickory_resolver::net::DnsError::NoRecordsFound(nr)))
                    if nr.response_code == ResponseCode::NoError =>
                {
                    json_text(200, "[]".to_string())
                }
                Err(e) => unavailable("DNS", &shown, format_args!("{name} {kind}: {e}")),
            });
        });
    });
    Worker::run_all()
}
