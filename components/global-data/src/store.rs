//! The built-in server's data: PHP-serialized values by normalised key, with our optional TTLs,
//! and the snapshot file format.

use std::collections::{BTreeSet, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use php_serialize::{Array, Key, Value, serialize, unserialize};

use crate::protocol::{Command, FALSE, NULL, TRUE};

/// Milliseconds since the Unix epoch (what TTL deadlines and snapshots use).
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

#[derive(Debug, Clone)]
struct Entry {
    /// `serialize(value)`: what `get` answers and what `cas` hashes.
    bytes: Vec<u8>,
    /// Unix ms after which the entry is gone.
    expires: Option<u64>,
}

/// The key/value map of one GlobalData server.
#[derive(Debug, Default)]
pub struct Store {
    map: HashMap<Key, Entry>,
    deadlines: BTreeSet<(u64, Key)>,
}

impl Store {
    /// An empty store.
    pub fn new() -> Store {
        Store::default()
    }

    /// Number of live and not-yet-swept entries.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the store is empty.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn live(&mut self, key: &Key, now: u64) -> Option<&Entry> {
        if self.map.get(key)?.expires.is_some_and(|t| t <= now) {
            self.remove(key);
            return None;
        }
        self.map.get(key)
    }

    fn remove(&mut self, key: &Key) {
        if let Some(e) = self.map.remove(key)
            && let Some(t) = e.expires
        {
            self.deadlines.remove(&(t, key.clone()));
        }
    }

    fn put(&mut self, key: Key, bytes: Vec<u8>, expires: Option<u64>) {
        self.remove(&key);
        if let Some(t) = expires {
            self.deadlines.insert((t, key.clone()));
        }
        self.map.insert(key, Entry { bytes, expires });
    }

    /// Removes every entry whose TTL has passed; returns how many.
    pub fn sweep(&mut self, now: u64) -> usize {
        let mut n = 0;
        while let Some((t, key)) = self.deadlines.first().cloned() {
            if t > now {
                break;
            }
            self.deadlines.pop_first();
            self.map.remove(&key);
            n += 1;
        }
        n
    }

    /// Runs one command at time `now` (Unix ms) and returns the reply body, exactly as PHP's
    /// server would (§3.2).
    pub fn execute(&mut self, cmd: Command, now: u64) -> Vec<u8> {
        let deadline = |ttl: Option<u64>| ttl.map(|ms| now.saturating_add(ms));
        match cmd {
            Command::Get { key } => match self.live(&key, now) {
                Some(e) => e.bytes.clone(),
                None => NULL.to_vec(),
            },
            Command::Set { key, value, ttl_ms } => {
                self.put(key, serialize(&value), deadline(ttl_ms));
                TRUE.to_vec()
            }
            Command::Add { key, value, ttl_ms } => {
                if self.live(&key, now).is_some_and(|e| e.bytes != NULL) {
                    return FALSE.to_vec();
                }
                self.put(key, serialize(&value), deadline(ttl_ms));
                TRUE.to_vec()
            }
            Command::Increment { key, step } => {
                let Some(e) = self.live(&key, now).filter(|e| e.bytes != NULL) else {
                    return FALSE.to_vec();
                };
                let expires = e.expires;
                // Stored bytes are our own canonical output: they decode.
                let current = unserialize(&e.bytes).unwrap_or(Value::Null);
                let Ok(new) = crate::arith::increment(&current, &step) else {
                    // parse_request already refused such steps.
                    return FALSE.to_vec();
                };
                let bytes = serialize(&new);
                if let Some(e) = self.map.get_mut(&key) {
                    e.bytes.clone_from(&bytes);
                    e.expires = expires;
                }
                bytes
            }
            Command::Cas {
                key,
                md5,
                value,
                ttl_ms,
            } => {
                let current = self.live(&key, now).map_or(NULL, |e| &e.bytes[..]);
                let digest = crate::md5_hex(current);
                if md5.as_deref() != Some(digest.as_bytes()) {
                    return FALSE.to_vec();
                }
                self.put(key, serialize(&value), deadline(ttl_ms));
                TRUE.to_vec()
            }
            Command::Delete { key } => {
                self.remove(&key);
                TRUE.to_vec()
            }
        }
    }

    /// The snapshot: `serialize(['data' => [key => value, …], 'expires' => [key => unix_ms, …]])`,
    /// which PHP can read too. Entries already expired at `now` are left out.
    pub fn snapshot(&self, now: u64) -> Vec<u8> {
        let live: Vec<_> = self
            .map
            .iter()
            .filter(|(_, e)| e.expires.is_none_or(|t| t > now))
            .collect();
        let mut out = Vec::with_capacity(64 + live.iter().map(|(_, e)| e.bytes.len() + 16).sum::<usize>());
        out.extend_from_slice(format!("a:2:{{s:4:\"data\";a:{}:{{", live.len()).as_bytes());
        for (k, e) in &live {
            key_bytes(k, &mut out);
            out.extend_from_slice(&e.bytes);
        }
        let expiring: Vec<_> = live.iter().filter_map(|(k, e)| Some((k, e.expires?))).collect();
        out.extend_from_slice(format!("}}s:7:\"expires\";a:{}:{{", expiring.len()).as_bytes());
        for (k, t) in expiring {
            key_bytes(k, &mut out);
            out.extend_from_slice(format!("i:{t};").as_bytes());
        }
        out.extend_from_slice(b"}}");
        out
    }

    /// Loads a [`snapshot`](Self::snapshot), dropping entries that expired meanwhile.
    pub fn from_snapshot(bytes: &[u8], now: u64) -> Result<Store, php_serialize::Error> {
        let v = unserialize(bytes)?;
        let bad = || php_serialize::Error::message("not a GlobalData snapshot");
        let top = v.as_array().ok_or_else(bad)?;
        let data = top.get_str("data").and_then(Value::as_array).ok_or_else(bad)?;
        let empty = Array::new();
        let expires = top.get_str("expires").and_then(Value::as_array).unwrap_or(&empty);
        let mut store = Store::new();
        for (k, v) in data.iter() {
            let t = expires.get(k).and_then(Value::as_int).map(|t| t as u64);
            if t.is_some_and(|t| t <= now) {
                continue;
            }
            store.put(k.clone(), serialize(v), t);
        }
        Ok(store)
    }
}

fn key_bytes(k: &Key, out: &mut Vec<u8>) {
    php_serialize::serialize_into(&Value::from(k.clone()), out);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{Request, parse_request, request};

    fn run(store: &mut Store, body: &[u8], now: u64) -> Vec<u8> {
        match parse_request(body) {
            Request::Command(c) => store.execute(c, now),
            other => panic!("{other:?}"),
        }
    }

    fn k(s: &str) -> Key {
        Key::from(s)
    }

    #[test]
    fn commands_as_php() {
        let mut s = Store::new();
        let t = 1000;
        assert_eq!(run(&mut s, &request("get", &k("x"), &[]), t), b"N;");
        assert_eq!(
            run(&mut s, &request("increment", &k("x"), &[("step", 1.into())]), t),
            b"b:0;"
        );
        assert_eq!(
            run(&mut s, &request("set", &k("counter"), &[("value", 10.into())]), t),
            b"b:1;"
        );
        assert_eq!(
            run(&mut s, &request("increment", &k("counter"), &[("step", 1.into())]), t),
            b"i:11;"
        );
        assert_eq!(
            run(&mut s, &request("increment", &k("counter"), &[("step", 5.5.into())]), t),
            b"d:16.5;"
        );
        // "5" and 5 are the same key.
        assert_eq!(
            run(&mut s, &request("set", &k("5"), &[("value", "five".into())]), t),
            b"b:1;"
        );
        assert_eq!(run(&mut s, &request("get", &Key::Int(5), &[]), t), b"s:4:\"five\";");
        // add: refused over a non-null value, allowed over null.
        assert_eq!(
            run(&mut s, &request("add", &k("5"), &[("value", 1.into())]), t),
            b"b:0;"
        );
        assert_eq!(run(&mut s, &request("set", &k("n"), &[]), t), b"b:1;");
        assert_eq!(
            run(&mut s, &request("add", &k("n"), &[("value", 1.into())]), t),
            b"b:1;"
        );
        // cas with md5 of the serialized current value; md5("N;") for missing.
        let list = Value::Array(Array::from_values([1, 2, 3]));
        assert_eq!(run(&mut s, &request("set", &k("abc"), &[("value", list)]), t), b"b:1;");
        let new = Value::Array(Array::from_values([5, 6, 7]));
        let cas = |md5: &str| request("cas", &k("abc"), &[("md5", md5.into()), ("value", new.clone())]);
        assert_eq!(run(&mut s, &cas("dcca48101505dd86b703689a604fe3c4"), t), b"b:0;");
        assert_eq!(run(&mut s, &cas("262bbc0aa0dc62a93e350f1f7df792b9"), t), b"b:1;");
        let fresh = request(
            "cas",
            &k("new"),
            &[("md5", "dcca48101505dd86b703689a604fe3c4".into()), ("value", 1.into())],
        );
        assert_eq!(run(&mut s, &fresh, t), b"b:1;");
        assert_eq!(run(&mut s, &request("delete", &k("abc"), &[]), t), b"b:1;");
        assert_eq!(run(&mut s, &request("delete", &k("abc"), &[]), t), b"b:1;");
        assert_eq!(run(&mut s, &request("get", &k("abc"), &[]), t), b"N;");
    }

    #[test]
    fn ttl_expires_and_increment_keeps_it() {
        let mut s = Store::new();
        let set = request("set", &k("t"), &[("value", 1.into()), ("ttl", 2.into())]);
        assert_eq!(run(&mut s, &set, 1000), b"b:1;");
        assert_eq!(
            run(&mut s, &request("increment", &k("t"), &[("step", 1.into())]), 2000),
            b"i:2;"
        );
        assert_eq!(run(&mut s, &request("get", &k("t"), &[]), 2999), b"i:2;");
        assert_eq!(run(&mut s, &request("get", &k("t"), &[]), 3000), b"N;");
        run(&mut s, &set, 10_000);
        assert_eq!(s.sweep(11_000), 0);
        assert_eq!(s.sweep(12_000), 1);
        assert!(s.is_empty());
    }

    #[test]
    fn snapshot_round_trip() {
        let mut s = Store::new();
        run(
            &mut s,
            &request("set", &k("a"), &[("value", Value::Array(Array::from_values(["x"])))]),
            0,
        );
        run(&mut s, &request("set", &Key::Int(7), &[("value", 1.5.into())]), 0);
        run(
            &mut s,
            &request("set", &k("ttl"), &[("value", 1.into()), ("ttl", 10.into())]),
            0,
        );
        run(
            &mut s,
            &request("set", &k("gone"), &[("value", 1.into()), ("ttl", 1.into())]),
            0,
        );
        let snap = s.snapshot(5000);
        let mut back = Store::from_snapshot(&snap, 6000).unwrap();
        assert_eq!(back.len(), 3);
        assert_eq!(
            run(&mut back, &request("get", &k("a"), &[]), 6000),
            b"a:1:{i:0;s:1:\"x\";}"
        );
        assert_eq!(run(&mut back, &request("get", &k("7"), &[]), 6000), b"d:1.5;");
        assert_eq!(run(&mut back, &request("get", &k("ttl"), &[]), 9999), b"i:1;");
        assert_eq!(run(&mut back, &request("get", &k("ttl"), &[]), 10_000), b"N;");
        assert!(Store::from_snapshot(b"i:1;", 0).is_err());
    }
}
