//! Query commands: the reply payload (PHP `serialize()` of the result), framed by the caller
//! as `u32be len` + payload.

use std::collections::BTreeSet;

use php_serialize::{Array, Value, serialize};
use serde_json::Value as Json;

use super::Core;
use super::inner::names;
use crate::client_protocol::ClientProtocol;
use crate::frame::{Packet, cmd};
use crate::php;

fn ids_list(ids: impl IntoIterator<Item = u32>) -> Value {
    Value::Array(Array::from_values(ids.into_iter().map(i64::from)))
}

fn session_value(s: &[u8]) -> Value {
    Value::Bytes(s.to_vec())
}

/// The payload answering query `p`, or `None` for an unknown command.
pub(super) fn answer<P: ClientProtocol>(core: &Core<P>, p: &Packet) -> Option<Vec<u8>> {
    let st = core.state.borrow();
    let ext = String::from_utf8_lossy(&p.ext_data);
    let json = || serde_json::from_slice::<Json>(&p.ext_data).ok();
    let v = match p.cmd {
        cmd::IS_ONLINE => Value::Int(i64::from(st.clients.contains_key(&p.connection_id))),
        cmd::GET_SESSION_BY_CLIENT_ID => {
            return Some(match st.clients.get(&p.connection_id) {
                None => b"N;".to_vec(),
                Some(c) if c.session.is_empty() => b"a:0:{}".to_vec(),
                Some(c) => c.session.to_vec(),
            });
        }
        cmd::GET_ALL_CLIENT_SESSIONS => {
            let mut a = Array::new();
            for (id, c) in &st.clients {
                a.insert(i64::from(*id), session_value(&c.session));
            }
            Value::Array(a)
        }
        cmd::GET_CLIENT_SESSIONS_BY_GROUP => {
            let mut a = Array::new();
            for id in st.groups.get(ext.as_ref()).into_iter().flatten() {
                if let Some(c) = st.clients.get(id) {
                    a.insert(i64::from(*id), session_value(&c.session));
                }
            }
            Value::Array(a)
        }
        cmd::GET_CLIENT_COUNT_BY_GROUP => {
            let n = if ext.is_empty() {
                st.clients.len()
            } else {
                st.groups.get(ext.as_ref()).map_or(0, |g| g.len())
            };
            Value::Int(n as i64)
        }
        cmd::GET_CLIENT_ID_BY_UID => ids_list(st.uids.get(ext.as_ref()).into_iter().flatten().copied()),
        cmd::BATCH_GET_CLIENT_ID_BY_UID => {
            let mut a = Array::new();
            for uid in names(json().as_ref()) {
                a.insert(
                    php::key(&uid),
                    ids_list(st.uids.get(&uid).into_iter().flatten().copied()),
                );
            }
            Value::Array(a)
        }
        cmd::GET_GROUP_ID_LIST => Value::Array(Array::from_values(st.groups.keys().map(|g| php::key_value(g)))),
        cmd::BATCH_GET_CLIENT_COUNT_BY_GROUP => {
            let mut a = Array::new();
            for g in names(json().as_ref()) {
                let n = st.groups.get(&g).map_or(0, |s| s.len());
                a.insert(php::key(&g), n as i64);
            }
            Value::Array(a)
        }
        cmd::SELECT => select(&st, json()),
        _ => return None,
    };
    Some(serialize(&v))
}

/// SELECT: `{"fields":[uid|groups|session...],"where":{groups|uid|connection_id}}`.
fn select<P: ClientProtocol>(st: &super::State<P>, q: Option<Json>) -> Value {
    let Some(q) = q else { return Value::Array(Array::new()) };
    let fields: Vec<String> = names(q.get("fields"));
    let mut chosen: BTreeSet<u32> = BTreeSet::new();
    match q.get("where") {
        Some(Json::Object(w)) if !w.is_empty() => {
            for g in names(w.get("groups")) {
                chosen.extend(st.groups.get(&g).into_iter().flatten());
            }
            for u in names(w.get("uid")) {
                chosen.extend(st.uids.get(&u).into_iter().flatten());
            }
            for id in names(w.get("connection_id")) {
                if let Ok(id) = id.parse::<u32>()
                    && st.clients.contains_key(&id)
                {
                    chosen.insert(id);
                }
            }
        }
        _ => chosen.extend(st.clients.keys()),
    }
    let mut out = Array::new();
    for id in chosen {
        let Some(c) = st.clients.get(&id) else { continue };
        let mut row = Array::new();
        for f in &fields {
            match f.as_str() {
                "uid" => {
                    row.insert("uid", c.uid.as_deref().map(Value::from).unwrap_or(Value::Null));
                }
                "groups" => {
                    let mut g = Array::new();
                    for name in &c.groups {
                        g.insert(php::key(name), name.as_str());
                    }
                    row.insert("groups", g);
                }
                "session" => {
                    row.insert("session", session_value(&c.session));
                }
                _ => {}
            }
        }
        out.insert(i64::from(id), row);
    }
    Value::Array(out)
}
