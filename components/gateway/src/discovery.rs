//! Links from a gateway or business-worker process to every Register: announce, learn the
//! gateway list, reconnect after 1 s, ping every 25 s off loopback.
//!
//! With several Registers the known gateway list is the union of their lists, so one Register
//! restarting (or down) neither hides gateways nor disturbs established connections.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use serde_json::{Value, json};
use workerman::connection::AsyncTcpConnection;
use workerman::protocol::Text;
use workerman::{TcpConnection, Timer};

use crate::auth::{self, AuthMode};

/// Reconnect delay after a Register connection closes.
pub const RECONNECT_AFTER: Duration = Duration::from_secs(1);
/// Keep-alive period toward a non-loopback Register.
pub const PING_INTERVAL: Duration = Duration::from_secs(25);

/// Who is talking to the Register.
#[derive(Clone, Debug)]
pub(crate) enum Hello {
    /// A gateway announcing its inner address.
    Gateway(String),
    /// A business worker (or API client) asking for the list.
    Worker,
}

impl Hello {
    fn line(&self, secret: &str, hmac: Option<&str>) -> String {
        let (event, address) = match self {
            Hello::Gateway(a) => ("gateway_connect", Some(a)),
            Hello::Worker => ("worker_connect", None),
        };
        let mut m = serde_json::Map::new();
        m.insert("event".into(), event.into());
        match address {
            Some(a) => m.insert("address".into(), a.as_str().into()),
            // Native: subscribe to the routing index (a PHP Register ignores the field).
            None => m.insert("index".into(), true.into()),
        };
        match hmac {
            Some(h) => m.insert("hmac".into(), h.into()),
            None => m.insert("secret_key".into(), secret.into()),
        };
        Value::Object(m).to_string()
    }
}

/// What a process needs to reach its Registers.
#[derive(Clone, Debug)]
pub(crate) struct RegisterConfig {
    pub addresses: Vec<String>,
    pub secret_key: String,
    pub auth_mode: AuthMode,
}

type OnAddresses = Rc<dyn Fn(Vec<String>)>;
/// Receives a routing-index line from a Register: `(register, line)`.
pub(crate) type OnIndex = Rc<dyn Fn(&str, &Value)>;
/// Called with a Register link once the hello went out.
pub(crate) type AfterHello = Rc<dyn Fn(&TcpConnection<Text>)>;

/// What a process does with its Register links besides the hello.
#[derive(Clone, Default)]
pub(crate) struct Hooks {
    /// Workers: the union of the gateway lists, each time one of them changes.
    pub on_addresses: Option<OnAddresses>,
    /// Workers: a routing-index line from a Register (`register`, line).
    pub on_index: Option<OnIndex>,
    /// Gateways: called once the hello went out on a (re)connected link.
    pub after_hello: Option<AfterHello>,
}

/// The union of the gateway lists of every discovery source (Registers, Redis).
struct Lists {
    by_source: RefCell<BTreeMap<String, Vec<String>>>,
    on_addresses: Option<OnAddresses>,
}

impl Lists {
    fn set(&self, source: &str, list: Vec<String>) {
        self.by_source.borrow_mut().insert(source.to_owned(), list);
        let mut all: Vec<String> = Vec::new();
        for l in self.by_source.borrow().values() {
            for a in l {
                if !all.contains(a) {
                    all.push(a.clone());
                }
            }
        }
        if let Some(f) = &self.on_addresses {
            f(all);
        }
    }
}

/// Connects to every Register in `cfg` (and, for `redis://` addresses, takes a lease or watches
/// the leases); returns the Register links.
pub(crate) fn start(cfg: &RegisterConfig, hello: Hello, hooks: Hooks) -> Vec<AsyncTcpConnection<Text>> {
    let lists = Rc::new(Lists {
        by_source: RefCell::default(),
        on_addresses: hooks.on_addresses.clone(),
    });
    let mut links = Vec::new();
    for reg in &cfg.addresses {
        if redis_source(reg, &hello, &lists) {
            continue;
        }
        let conn = match AsyncTcpConnection::<Text>::new(&format!("text://{reg}")) {
            Ok(c) => c,
            Err(e) => {
                crate::log(&format!("gateway: bad register address {reg}: {e}"));
                continue;
            }
        };
        let secret = cfg.secret_key.clone();
        let mode = cfg.auth_mode;
        let h = hello.clone();
        let after = hooks.after_hello.clone();
        conn.on_connect(move |c| {
            if secret.is_empty() || mode == AuthMode::PhpCompatible {
                c.send(h.line(&secret, None));
                if let Some(f) = &after {
                    f(c);
                }
            } else {
                c.send(json!({"event": "challenge"}).to_string());
            }
        });
        let (secret, h, lists2, hk, reg2) = (
            cfg.secret_key.clone(),
            hello.clone(),
            lists.clone(),
            hooks.clone(),
            reg.clone(),
        );
        conn.on_message(move |c, line| {
            let Ok(msg) = serde_json::from_str::<Value>(&line) else {
                crate::log(&format!("gateway: register {reg2} sent {line:?}"));
                return;
            };
            match msg.get("event").and_then(Value::as_str) {
                Some("challenge") => {
                    let nonce = msg.get("nonce").and_then(Value::as_str).unwrap_or("");
                    c.send(h.line(&secret, Some(&auth::answer(&secret, "register", nonce))));
                    if let Some(f) = &hk.after_hello {
                        f(c);
                    }
                }
                Some("index") => {
                    if let Some(f) = &hk.on_index {
                        f(&reg2, &msg);
                    }
                }
                Some("broadcast_addresses") => lists2.set(&reg2, address_list(msg.get("addresses"))),
                _ => {}
            }
        });
        conn.on_close(|c| c.reconnect(RECONNECT_AFTER));
        if !reg.starts_with("127.0.0.1") {
            let c = conn.clone();
            Timer::repeat(PING_INTERVAL, move || {
                c.send(r#"{"event":"ping"}"#);
            });
        }
        conn.connect();
        links.push(conn);
    }
    links
}

/// Whether a register address names a Redis server (discovery through leases, see `lease`).
pub(crate) fn is_redis(address: &str) -> bool {
    address.starts_with("redis://") || address.starts_with("rediss://") || address.starts_with("redis+unix://")
}

/// Handles a `redis://` address: a gateway holds a lease, a worker watches the leases. `false`
/// if `reg` is not a Redis address.
fn redis_source(reg: &str, hello: &Hello, lists: &Rc<Lists>) -> bool {
    if !is_redis(reg) {
        return false;
    }
    #[cfg(feature = "redis")]
    match crate::lease::Source::parse(reg) {
        Ok(source) => match hello {
            Hello::Gateway(address) => crate::lease::hold(source, address.clone()),
            Hello::Worker => {
                let (lists, name) = (lists.clone(), reg.to_owned());
                crate::lease::watch(source, Rc::new(move |list| lists.set(&name, list)));
            }
        },
        Err(e) => crate::log(&format!("gateway: {e}")),
    }
    #[cfg(not(feature = "redis"))]
    {
        let _ = (hello, lists);
        crate::log(&format!(
            "gateway: {reg}: this build has no Redis discovery (the workerman-gateway feature `redis`)"
        ));
    }
    true
}

/// The values of `addresses`, a JSON list or (after PHP's `array_unique`) an object.
pub(crate) fn address_list(v: Option<&Value>) -> Vec<String> {
    let strings = |it: &mut dyn Iterator<Item = &Value>| -> Vec<String> {
        it.filter_map(Value::as_str).map(str::to_owned).collect()
    };
    match v {
        Some(Value::Array(a)) => strings(&mut a.iter()),
        Some(Value::Object(o)) => strings(&mut o.values()),
        _ => Vec::new(),
    }
}
