//! The Register: gateways announce their inner address here; business workers and API clients
//! ask it for the list.
//!
//! ```text
//!  gateway ── {"event":"gateway_connect", "address":"127.0.0.1:2300", "secret_key":""}\n ──► Register
//!  worker  ── {"event":"worker_connect","secret_key":""}\n ──────────────────────────────► Register
//!  worker  ◄─ {"event":"broadcast_addresses","addresses":["127.0.0.1:2300",...]}\n ─────── Register
//!                (to every worker connection, again whenever a gateway comes or goes)
//! ```
//! Native mode adds a challenge before the first event: `{"event":"challenge"}` is answered
//! with `{"event":"challenge","nonce":"..."}`, and the event then carries `"hmac"` instead of
//! `"secret_key"` (see [`crate::auth`]).

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::ops::Deref;
use std::rc::Rc;
use std::time::Duration;

use serde_json::{Value, json};
use workerman::protocol::Text;
use workerman::{TcpConnection, Timer, Worker};

use crate::auth::{self, AuthMode};
use crate::index;

/// How long a new connection may stay silent before it is closed.
pub const AUTH_TIMEOUT: Duration = Duration::from_secs(10);

/// A Register worker (`text://`, one process, not reloadable).
///
/// ```no_run
/// let register = workerman_gateway::Register::new("text://127.0.0.1:1236").unwrap();
/// register.set_secret_key("");
/// workerman::Worker::run_all();
/// ```
pub struct Register {
    worker: Worker<Text>,
    settings: Rc<RefCell<Settings>>,
}

#[derive(Default)]
struct Settings {
    secret_key: String,
    auth_mode: AuthMode,
}

/// Per-connection progress.
#[derive(Clone, Default)]
enum Peer {
    #[default]
    New,
    Challenged(String),
    Gateway(String),
    /// A business worker or API client; `true` if it subscribed to the routing index.
    Worker(bool),
}

#[derive(Default)]
struct State {
    peers: HashMap<u64, (TcpConnection<Text>, Peer)>,
    /// The routing index each gateway connection reported.
    index: HashMap<u64, index::Sets>,
}

impl State {
    /// Unique gateway addresses in announcement order.
    fn addresses(&self) -> Vec<String> {
        let mut by_id: BTreeMap<u64, &String> = BTreeMap::new();
        for (id, (_, p)) in &self.peers {
            if let Peer::Gateway(a) = p {
                by_id.insert(*id, a);
            }
        }
        let mut out: Vec<String> = Vec::new();
        for a in by_id.into_values() {
            if !out.contains(a) {
                out.push(a.clone());
            }
        }
        out
    }

    fn broadcast(&self) {
        let line = json!({"event": "broadcast_addresses", "addresses": self.addresses()}).to_string();
        for (conn, p) in self.peers.values() {
            if matches!(p, Peer::Worker(_)) {
                conn.send(&line);
            }
        }
    }

    /// Sends an index line to every subscribed worker.
    fn forward_index(&self, line: &str) {
        for (conn, p) in self.peers.values() {
            if matches!(p, Peer::Worker(true)) {
                conn.send(line);
            }
        }
    }

    /// Every gateway's sets, as snapshot lines with their address.
    fn index_snapshot(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (id, sets) in &self.index {
            if let Some((_, Peer::Gateway(addr))) = self.peers.get(id) {
                let mut v: Value = serde_json::from_str(&index::snapshot_line(sets.uids.iter(), sets.groups.iter()))
                    .unwrap_or_default();
                v["address"] = addr.as_str().into();
                out.push(v.to_string());
            }
        }
        out
    }
}

impl Register {
    /// A Register listening on `address` (`text://` is forced whatever the scheme).
    pub fn new(address: &str) -> workerman::Result<Register> {
        let address = match address.split_once("://") {
            Some((_, rest)) => format!("text://{rest}"),
            None => format!("text://{address}"),
        };
        let worker = Worker::<Text>::new(&address)?;
        worker.set_name("Register");
        worker.set_count(1);
        worker.set_reloadable(false);
        let settings = Rc::new(RefCell::new(Settings::default()));
        let state = Rc::new(RefCell::new(State::default()));
        let st = state.clone();
        worker.on_connect(move |conn| {
            st.borrow_mut().peers.insert(conn.id(), (conn.clone(), Peer::New));
            let (st, c) = (Rc::downgrade(&st), conn.clone());
            Timer::delay(AUTH_TIMEOUT, move || {
                let Some(st) = st.upgrade() else { return };
                let silent = matches!(st.borrow().peers.get(&c.id()), Some((_, Peer::New)));
                if silent {
                    c.destroy();
                }
            });
        });
        let (st, set) = (state.clone(), settings.clone());
        worker.on_message(move |conn, line| on_line(&st, &set.borrow(), conn, &line));
        let st = state.clone();
        worker.on_close(move |conn| {
            let removed = st.borrow_mut().peers.remove(&conn.id());
            if let Some((_, Peer::Gateway(addr))) = removed {
                let had_index = st.borrow_mut().index.remove(&conn.id()).is_some();
                st.borrow().broadcast();
                if had_index {
                    st.borrow()
                        .forward_index(&json!({"event": "index", "address": addr, "reset": true}).to_string());
                }
            }
        });
        Ok(Register { worker, settings })
    }

    /// The secret key gateways and workers must prove (default `""`: none).
    pub fn set_secret_key(&self, key: impl Into<String>) {
        self.settings.borrow_mut().secret_key = key.into();
    }

    /// How the key is proven (default [`AuthMode::Native`]; [`AuthMode::PhpCompatible`] also
    /// accepts the plain key that PHP gateways, workers and GatewayClient send).
    pub fn set_auth_mode(&self, mode: AuthMode) {
        self.settings.borrow_mut().auth_mode = mode;
    }

    /// The underlying worker.
    pub fn worker(&self) -> &Worker<Text> {
        &self.worker
    }
}

impl Deref for Register {
    type Target = Worker<Text>;
    fn deref(&self) -> &Worker<Text> {
        &self.worker
    }
}

fn on_line(state: &Rc<RefCell<State>>, settings: &Settings, conn: &TcpConnection<Text>, line: &str) {
    let peer = match state.borrow().peers.get(&conn.id()) {
        Some((_, p)) => p.clone(),
        None => return,
    };
    let msg: Option<Value> = serde_json::from_str(line).ok();
    let Some(event) = msg.as_ref().and_then(|m| m.get("event")).and_then(Value::as_str) else {
        let shown: String = line.chars().take(256).collect();
        conn.close_with(format!(
            "Bad request for Register service. Request info(IP:{}, Request Buffer:{shown}). See http://doc2.workerman.net/register-auth-timeout.html",
            conn.remote_ip()
        ));
        return;
    };
    let msg = msg.as_ref().expect("event came from msg");
    let set_peer = |p: Peer| {
        if let Some(entry) = state.borrow_mut().peers.get_mut(&conn.id()) {
            entry.1 = p;
        }
    };
    match event {
        "ping" => {
            // Does not authenticate: a silent-but-pinging connection is still timed out (§6.1.4).
        }
        "challenge" => {
            let n = auth::nonce();
            conn.send(json!({"event": "challenge", "nonce": n}).to_string());
            set_peer(Peer::Challenged(n));
        }
        "index" => {
            let Peer::Gateway(addr) = peer else { return };
            let mut line = msg.clone();
            line["address"] = addr.into();
            let mut st = state.borrow_mut();
            index::apply(st.index.entry(conn.id()).or_default(), &line);
            st.forward_index(&line.to_string());
        }
        "gateway_connect" | "worker_connect" => {
            if matches!(peer, Peer::Gateway(_) | Peer::Worker(_)) {
                return;
            }
            if !authorised(settings, &peer, msg) {
                crate::log(&format!(
                    "Register: {event} from {} with a wrong secret key; closed",
                    conn.remote_ip()
                ));
                conn.destroy();
                return;
            }
            if event == "worker_connect" {
                let subscribe = msg.get("index").and_then(Value::as_bool) == Some(true);
                set_peer(Peer::Worker(subscribe));
                let line = json!({"event": "broadcast_addresses", "addresses": state.borrow().addresses()});
                conn.send(line.to_string());
                if subscribe {
                    for l in state.borrow().index_snapshot() {
                        conn.send(l);
                    }
                }
                return;
            }
            let Some(address) = msg.get("address").and_then(Value::as_str).filter(|a| !a.is_empty()) else {
                conn.destroy();
                return;
            };
            set_peer(Peer::Gateway(address.to_owned()));
            state.borrow().broadcast();
        }
        other => {
            let shown: String = other.chars().take(64).collect();
            crate::log(&format!(
                "Register: unknown event {shown:?} from {}; closed",
                conn.remote_ip()
            ));
            conn.destroy();
        }
    }
}

fn authorised(settings: &Settings, peer: &Peer, msg: &Value) -> bool {
    if settings.secret_key.is_empty() {
        return true;
    }
    if let (Peer::Challenged(nonce), Some(h)) = (peer, msg.get("hmac").and_then(Value::as_str)) {
        return auth::verify(&settings.secret_key, "register", nonce, h);
    }
    match (settings.auth_mode, msg.get("secret_key").and_then(Value::as_str)) {
        (AuthMode::PhpCompatible, Some(k)) => auth::keys_equal(&settings.secret_key, k),
        _ => false,
    }
}
