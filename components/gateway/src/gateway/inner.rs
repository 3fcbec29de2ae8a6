//! The inner listener: business workers and API clients authorise, then send commands.

use std::rc::Rc;

use bytes::Bytes;
use serde_json::Value as Json;
use workerman::{TcpConnection, Worker};

use super::state::WorkerLink;
use super::{Core, query, send_to_worker};
use crate::auth::{self, AuthMode};
use crate::client_protocol::ClientProtocol;
use crate::frame::{FLAG_NOT_CALL_ENCODE, GatewayProtocol, Packet, cmd};
use crate::php;

/// Authorisation progress of one inner connection.
#[derive(Clone, Default)]
struct Peer {
    authed: bool,
    nonce: Option<String>,
    worker_key: Option<String>,
}

type Inner = TcpConnection<GatewayProtocol>;

pub(super) fn wire<P: ClientProtocol>(core: &Rc<Core<P>>, w: &Worker<GatewayProtocol>) {
    let c = core.clone();
    w.on_connect(move |conn| {
        let open = c.settings.borrow().register.secret_key.is_empty();
        conn.set_data(Peer {
            authed: open,
            ..Peer::default()
        });
    });
    let c = core.clone();
    w.on_message(move |conn, packet| on_packet(&c, conn, packet));
    let c = core.clone();
    w.on_close(move |conn| {
        let Some(Peer {
            worker_key: Some(key), ..
        }) = conn.data::<Peer>()
        else {
            return;
        };
        let link = {
            let mut st = c.state.borrow_mut();
            if st.workers.get(&key).is_some_and(|l| l.conn == *conn) {
                st.workers.remove(&key)
            } else {
                None
            }
        };
        if let Some(link) = link {
            super::release(&c, link);
            let hook = c.hooks.borrow().on_worker_close.clone();
            if let Some(f) = hook {
                f(&key);
            }
        }
    });
}

fn on_packet<P: ClientProtocol>(core: &Rc<Core<P>>, conn: &Inner, p: Packet) {
    let peer = conn.data::<Peer>().unwrap_or_default();
    if !peer.authed {
        authorise(core, conn, peer, p);
        return;
    }
    match p.cmd {
        cmd::WORKER_CONNECT => {
            if let Some(key) = json_str(&p.body, "worker_key") {
                add_worker(core, conn, key, wants_index(&p.body));
            }
        }
        cmd::GATEWAY_CLIENT_CONNECT | cmd::PING => {}
        cmd::ON_CONNECT | cmd::ON_MESSAGE | cmd::ON_CLOSE | cmd::ON_WEBSOCKET_CONNECT => {
            // A leaving worker hands back an event it did not handle (see `release`).
            let key = peer.worker_key.unwrap_or_default();
            match core.state.borrow_mut().workers.get_mut(&key) {
                Some(l) if l.leaving && l.conn == *conn => l.returned.push(p),
                _ => crate::log(&format!(
                    "gateway: event packet (cmd {}) from a worker that is not leaving; ignored",
                    p.cmd
                )),
            }
        }
        cmd::AUTH_CHALLENGE | cmd::AUTH_RESPONSE => {}
        cmd::WORKER_LEAVE => {
            let key = peer.worker_key.unwrap_or_default();
            if let Some(l) = core.state.borrow_mut().workers.get_mut(&key) {
                l.leaving = true;
            }
            send_to_worker(conn, &Packet::new(cmd::WORKER_LEAVE_ACK));
        }
        _ => {
            execute(core, conn, p);
            super::flush_index(core);
        }
    }
}

fn authorise<P: ClientProtocol>(core: &Rc<Core<P>>, conn: &Inner, mut peer: Peer, p: Packet) {
    let (secret, mode) = {
        let s = core.settings.borrow();
        (s.register.secret_key.clone(), s.register.auth_mode)
    };
    let plain_ok = |body: &Bytes| {
        mode == AuthMode::PhpCompatible && json_str(body, "secret_key").is_some_and(|k| auth::keys_equal(&secret, &k))
    };
    match p.cmd {
        cmd::WORKER_CONNECT | cmd::GATEWAY_CLIENT_CONNECT if plain_ok(&p.body) => {
            peer.authed = true;
            conn.set_data(peer);
            if p.cmd == cmd::WORKER_CONNECT
                && let Some(key) = json_str(&p.body, "worker_key")
            {
                add_worker(core, conn, key, wants_index(&p.body));
            }
        }
        cmd::AUTH_CHALLENGE => {
            let nonce = auth::nonce();
            peer.nonce = Some(nonce.clone());
            conn.set_data(peer);
            send_to_worker(conn, &Packet::new(cmd::AUTH_CHALLENGE).with_body(nonce));
        }
        cmd::AUTH_RESPONSE
            if peer.nonce.as_deref().is_some_and(|n| {
                json_str(&p.body, "hmac").is_some_and(|h| auth::verify(&secret, "gateway", n, &h))
            }) =>
        {
            peer.authed = true;
            conn.set_data(peer);
            if let Some(key) = json_str(&p.body, "worker_key") {
                add_worker(core, conn, key, wants_index(&p.body));
            }
        }
        _ => {
            crate::log(&format!(
                "gateway: Unauthorized request from {} (cmd {}); closed",
                conn.remote_ip(),
                p.cmd
            ));
            conn.destroy();
        }
    }
}

/// Whether a worker's hello asks for the routing index (native workers do).
fn wants_index(body: &[u8]) -> bool {
    serde_json::from_slice::<Json>(body)
        .ok()
        .and_then(|v| v.get("index")?.as_bool())
        == Some(true)
}

/// Registers a business worker under `<remote ip>:<worker_key>`, replacing (and closing) an
/// older connection with that key, sends it this gateway's routing index if it asked, then hands
/// it the events that waited for a worker.
fn add_worker<P: ClientProtocol>(core: &Rc<Core<P>>, conn: &Inner, worker_key: String, index: bool) {
    let key = format!("{}:{worker_key}", conn.remote_ip());
    conn.with_data(|p: &mut Peer| p.worker_key = Some(key.clone()));
    let index = index && core.settings.borrow().route_index;
    if index {
        // Pending changes first go to the workers that have the older snapshot.
        super::flush_index(core);
        let line = {
            let st = core.state.borrow();
            crate::index::snapshot_line(st.uids.keys(), st.groups.keys())
        };
        send_to_worker(conn, &Packet::new(cmd::INDEX).with_body(line));
    }
    let old = core
        .state
        .borrow_mut()
        .workers
        .insert(key.clone(), WorkerLink::new(conn.clone(), index));
    if let Some(old) = old.filter(|o| o.conn != *conn) {
        old.conn.destroy();
        super::release(core, old);
    }
    let hook = core.hooks.borrow().on_worker_connect.clone();
    if let Some(f) = hook {
        f(&key);
    }
    let pending: Vec<(u32, Packet)> = core.state.borrow_mut().pending.drain(..).collect();
    for (id, packet) in pending {
        super::dispatch(core, id, packet);
    }
}

/// The string field `name` of a JSON object body.
fn json_str(body: &[u8], name: &str) -> Option<String> {
    let v: Json = serde_json::from_slice(body).ok()?;
    v.get(name)?.as_str().map(str::to_owned)
}

/// The message of a send command: a string body, or the string in a serialized one; `None` for
/// a serialized null (KICK without a message) or a value that has no string form.
fn message(p: &Packet) -> Option<Bytes> {
    if p.flag & crate::frame::FLAG_BODY_IS_SCALAR != 0 {
        return Some(p.body.clone());
    }
    php::scalar_bytes(&php_serialize::unserialize(&p.body).ok()?)
}

/// Connection ids from a JSON map (`{"1":1}`) or list (`[1]`).
fn ids(v: Option<&Json>) -> Vec<u32> {
    let num = |v: &Json| match v {
        Json::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Json::String(s) => s.parse().ok(),
        _ => None,
    };
    match v {
        Some(Json::Object(o)) => o.values().filter_map(num).collect(),
        Some(Json::Array(a)) => a.iter().filter_map(num).collect(),
        _ => Vec::new(),
    }
}

/// Uids or groups from a JSON list (numbers become their decimal text).
pub(super) fn names(v: Option<&Json>) -> Vec<String> {
    let one = |v: &Json| match v {
        Json::String(s) => Some(s.clone()),
        Json::Number(n) => Some(n.to_string()),
        Json::Bool(true) => Some("1".into()),
        _ => None,
    };
    match v {
        Some(Json::Array(a)) => a.iter().filter_map(one).collect(),
        Some(Json::Object(o)) => o.values().filter_map(one).collect(),
        Some(other) => one(other).into_iter().collect(),
        None => Vec::new(),
    }
}

fn execute<P: ClientProtocol>(core: &Rc<Core<P>>, conn: &Inner, p: Packet) {
    let id = p.connection_id;
    let ext = String::from_utf8_lossy(&p.ext_data).into_owned();
    let client = |id: u32| core.state.borrow().clients.get(&id).map(|c| c.conn.clone());
    let raw = p.flag & FLAG_NOT_CALL_ENCODE != 0;
    // One message to many clients: built once, its bytes shared (`workerman::broadcast`).
    let deliver = |targets: Vec<TcpConnection<P>>, body: &Bytes| {
        if raw {
            for t in &targets {
                t.send_bytes(body.clone());
            }
        } else {
            P::broadcast_body(&targets, body);
        }
    };
    match p.cmd {
        cmd::SEND_TO_ONE => {
            if let (Some(c), Some(m)) = (client(id), message(&p)) {
                deliver(vec![c], &m);
            }
        }
        cmd::SEND_TO_ALL => {
            let Some(m) = message(&p) else { return };
            let spec: Option<Json> = serde_json::from_slice(&p.ext_data).ok();
            let st = core.state.borrow();
            let targets: Vec<_> = match spec.as_ref().and_then(|s| s.get("connections")) {
                Some(list) => ids(Some(list))
                    .into_iter()
                    .filter_map(|i| st.clients.get(&i))
                    .map(|c| c.conn.clone())
                    .collect(),
                None => {
                    let excl = ids(spec.as_ref().and_then(|s| s.get("exclude")));
                    st.clients
                        .iter()
                        .filter(|(i, _)| !excl.contains(i))
                        .map(|(_, c)| c.conn.clone())
                        .collect()
                }
            };
            drop(st);
            deliver(targets, &m);
        }
        cmd::KICK => {
            if let Some(c) = client(id) {
                if let Some(m) = message(&p).filter(|m| !m.is_empty()) {
                    deliver(vec![c.clone()], &m);
                }
                c.close();
            }
        }
        cmd::DESTROY => {
            if let Some(c) = client(id) {
                c.destroy();
            }
        }
        cmd::UPDATE_SESSION => {
            let mut st = core.state.borrow_mut();
            if let Some(c) = st.clients.get_mut(&id) {
                c.session = if c.session.is_empty() {
                    p.ext_data.clone()
                } else {
                    Bytes::from(php::merge_sessions(&c.session, &p.ext_data).unwrap_or_else(|| p.ext_data.to_vec()))
                };
            }
        }
        cmd::SET_SESSION => {
            if let Some(c) = core.state.borrow_mut().clients.get_mut(&id) {
                c.session = p.ext_data.clone();
            }
        }
        cmd::BIND_UID => {
            if !php::is_empty_key(&ext) {
                core.state.borrow_mut().bind_uid(id, ext);
            }
        }
        cmd::UNBIND_UID => core.state.borrow_mut().unbind_uid(id),
        cmd::JOIN_GROUP => {
            if !php::is_empty_key(&ext) {
                core.state.borrow_mut().join_group(id, ext);
            }
        }
        cmd::LEAVE_GROUP => core.state.borrow_mut().leave_group(id, &ext),
        cmd::UNGROUP => core.state.borrow_mut().ungroup(&ext),
        cmd::SEND_TO_UID => {
            let Some(m) = message(&p) else { return };
            let uids = names(serde_json::from_slice::<Json>(&p.ext_data).ok().as_ref());
            let st = core.state.borrow();
            let targets: Vec<_> = uids
                .iter()
                .filter_map(|u| st.uids.get(u))
                .flatten()
                .filter_map(|i| st.clients.get(i))
                .map(|c| c.conn.clone())
                .collect();
            drop(st);
            deliver(targets, &m);
        }
        cmd::SEND_TO_GROUP => {
            let Some(m) = message(&p) else { return };
            let spec: Option<Json> = serde_json::from_slice(&p.ext_data).ok();
            let groups = names(spec.as_ref().and_then(|s| s.get("group")));
            let excl = ids(spec.as_ref().and_then(|s| s.get("exclude")));
            let st = core.state.borrow();
            let targets: Vec<_> = groups
                .iter()
                .filter_map(|g| st.groups.get(g))
                .flatten()
                .filter(|i| !excl.contains(i))
                .filter_map(|i| st.clients.get(i))
                .map(|c| c.conn.clone())
                .collect();
            drop(st);
            deliver(targets, &m);
        }
        _ => match query::answer(core, &p) {
            Some(payload) => {
                let mut out = Vec::with_capacity(4 + payload.len());
                out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
                out.extend_from_slice(&payload);
                conn.send_raw(&out);
            }
            None => crate::log(&format!("gateway inner pack err cmd={}", p.cmd)),
        },
    }
}
