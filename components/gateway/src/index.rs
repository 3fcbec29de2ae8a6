//! The routing index (native, not in GatewayWorker): which gateways hold which uids and groups,
//! so `send_to_uid` / `send_to_group` go only to those gateways instead of to every gateway.
//!
//! ```text
//!  Gateway ── CMD_INDEX packet, body = the line below without "address" ──► each business worker that asked
//!  Gateway ── {"event":"index","reset":false,"add_uids":["42"],"del_uids":[],"add_groups":[],"del_groups":[]}\n ──► Register
//!  Register ── the same line plus "address":"<that gateway>" ──► business workers that asked ("index":true)
//! ```
//! A gateway sends a full snapshot (`"reset":true`) to each worker when it connects and to each
//! Register after each (re)connect, then changes; the
//! Register sends a snapshot of every gateway to a subscribing worker, and a `reset` with empty
//! lists when a gateway goes away. A uid or group the index does not know is sent to every
//! gateway, as GatewayWorker does; a process's own `bind_uid` / `join_group` count at once, so
//! its next send reaches the new member even before the Register's update arrives.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

/// How long a process's own binds are trusted before the index must have them.
const LOCAL_TTL: Duration = Duration::from_secs(10);

/// Uids and groups held by one gateway.
#[derive(Default, Debug, Clone)]
pub(crate) struct Sets {
    pub uids: HashSet<String>,
    pub groups: HashSet<String>,
}

/// Pending changes of one gateway's sets.
#[derive(Default, Debug)]
pub(crate) struct Delta {
    add_uids: BTreeSet<String>,
    del_uids: BTreeSet<String>,
    add_groups: BTreeSet<String>,
    del_groups: BTreeSet<String>,
}

impl Delta {
    /// A uid appeared on this gateway.
    pub fn uid_added(&mut self, u: &str) {
        self.del_uids.remove(u);
        self.add_uids.insert(u.to_owned());
    }
    /// A uid has no connection left on this gateway.
    pub fn uid_removed(&mut self, u: &str) {
        self.add_uids.remove(u);
        self.del_uids.insert(u.to_owned());
    }
    /// A group appeared on this gateway.
    pub fn group_added(&mut self, g: &str) {
        self.del_groups.remove(g);
        self.add_groups.insert(g.to_owned());
    }
    /// A group has no member left on this gateway.
    pub fn group_removed(&mut self, g: &str) {
        self.add_groups.remove(g);
        self.del_groups.insert(g.to_owned());
    }
    /// Whether there is nothing to send.
    pub fn is_empty(&self) -> bool {
        self.add_uids.is_empty() && self.del_uids.is_empty() && self.add_groups.is_empty() && self.del_groups.is_empty()
    }
    /// The Register line for these changes, emptying them.
    pub fn take_line(&mut self) -> String {
        let d = std::mem::take(self);
        json!({"event": "index", "reset": false, "add_uids": d.add_uids, "del_uids": d.del_uids,
               "add_groups": d.add_groups, "del_groups": d.del_groups})
        .to_string()
    }
}

/// A full snapshot line.
pub(crate) fn snapshot_line<'a>(
    uids: impl Iterator<Item = &'a String>,
    groups: impl Iterator<Item = &'a String>,
) -> String {
    let uids: Vec<&String> = uids.collect();
    let groups: Vec<&String> = groups.collect();
    json!({"event": "index", "reset": true, "add_uids": uids, "del_uids": [], "add_groups": groups, "del_groups": []})
        .to_string()
}

fn strings(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
        .unwrap_or_default()
}

/// Applies an index line to one gateway's sets.
pub(crate) fn apply(sets: &mut Sets, msg: &Value) {
    if msg.get("reset").and_then(Value::as_bool) == Some(true) {
        *sets = Sets::default();
    }
    for u in strings(msg.get("add_uids")) {
        sets.uids.insert(u);
    }
    for u in strings(msg.get("del_uids")) {
        sets.uids.remove(&u);
    }
    for g in strings(msg.get("add_groups")) {
        sets.groups.insert(g);
    }
    for g in strings(msg.get("del_groups")) {
        sets.groups.remove(&g);
    }
}

/// What a business worker knows: per Register, per gateway, the sets; plus its own recent binds.
#[derive(Default, Debug)]
pub(crate) struct RouteIndex {
    by_register: HashMap<String, HashMap<String, Sets>>,
    local: Vec<(Instant, String, Kind, String)>,
}

/// Uid or group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Uid,
    Group,
}

impl RouteIndex {
    /// Applies a line from `register` (it carries the gateway's `address`).
    pub fn apply(&mut self, register: &str, msg: &Value) {
        let Some(address) = msg.get("address").and_then(Value::as_str) else {
            return;
        };
        let gateways = self.by_register.entry(register.to_owned()).or_default();
        let sets = gateways.entry(address.to_owned()).or_default();
        apply(sets, msg);
        if sets.uids.is_empty() && sets.groups.is_empty() {
            gateways.remove(address);
        }
    }

    /// Records this process's own bind or join on `gateway`.
    pub fn add_local(&mut self, kind: Kind, name: &str, gateway: &str) {
        let now = Instant::now();
        self.local.retain(|(at, ..)| now.duration_since(*at) < LOCAL_TTL);
        self.local.push((now, name.to_owned(), kind, gateway.to_owned()));
    }

    /// The gateways holding any of `names`, or `None` when the index has never heard of one of
    /// them (send to every gateway then).
    pub fn gateways(&self, kind: Kind, names: &[&str]) -> Option<BTreeSet<String>> {
        let now = Instant::now();
        let mut out = BTreeSet::new();
        for n in names {
            let mut known = false;
            for gateways in self.by_register.values() {
                for (addr, sets) in gateways {
                    let has = match kind {
                        Kind::Uid => sets.uids.contains(*n),
                        Kind::Group => sets.groups.contains(*n),
                    };
                    if has {
                        known = true;
                        out.insert(addr.clone());
                    }
                }
            }
            for (at, name, k, gw) in &self.local {
                if *k == kind && name == n && now.duration_since(*at) < LOCAL_TTL {
                    known = true;
                    out.insert(gw.clone());
                }
            }
            if !known {
                return None;
            }
        }
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_snapshots_and_unknown_names() {
        let mut d = Delta::default();
        d.uid_added("42");
        d.group_added("room");
        d.group_removed("room");
        let line: Value = serde_json::from_str(&d.take_line()).unwrap();
        assert!(d.is_empty());
        let mut idx = RouteIndex::default();
        let mut with_addr = line.clone();
        with_addr["address"] = json!("10.0.0.1:2300");
        idx.apply("r1", &with_addr);
        assert_eq!(idx.gateways(Kind::Uid, &["42"]).unwrap().len(), 1);
        assert_eq!(
            idx.gateways(Kind::Uid, &["42", "7"]),
            None,
            "an unknown uid means every gateway"
        );
        assert_eq!(idx.gateways(Kind::Group, &["room"]), None);
        idx.add_local(Kind::Group, "room", "10.0.0.2:2300");
        assert_eq!(
            idx.gateways(Kind::Group, &["room"])
                .unwrap()
                .into_iter()
                .collect::<Vec<_>>(),
            ["10.0.0.2:2300"]
        );
        // A reset with nothing (gateway gone) forgets it.
        idx.apply("r1", &json!({"address": "10.0.0.1:2300", "reset": true}));
        assert_eq!(idx.gateways(Kind::Uid, &["42"]), None);
    }
}
