//! [`GlobalDataClient`]: one async API over the built-in servers or Redis.

mod conn;
#[cfg(feature = "redis")]
mod redis;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use php_serialize::{Key, Value, serialize, unserialize};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::protocol::{FALSE, TRUE, is_refusal, request};
use conn::{Keepalive, ServerConn, Target};

/// How long a request may wait for its reply (PHP's client uses 5 s too).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// Idle time after which a connection to a built-in server is probed (PHP's client pings every
/// 25 s too); see [`GlobalDataClient::with_keepalive`].
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(25);

/// Which server of `n` holds `key`: PHP's rule, `crc32(key) % n` (CRC-32/IEEE, unsigned), with
/// an int key hashed as its decimal text. Every client must list the servers in the same order.
///
/// ```
/// use workerman_global_data::{Key, shard_index};
/// assert_eq!(shard_index(&Key::from("abc"), 3), 0);     // crc32("abc") = 891568578
/// assert_eq!(shard_index(&Key::from("user:42"), 3), 1); // 1684999558
/// ```
pub fn shard_index(key: &Key, n: usize) -> usize {
    (u64::from(crc32fast::hash(&key.to_bytes())) % n.max(1) as u64) as usize
}

enum Backend {
    Servers(Vec<ServerConn>),
    #[cfg(feature = "redis")]
    Redis(Box<redis::RedisBackend>),
}

/// A GlobalData client. Cheap to clone (clones share connections); `Send + Sync`; usable from
/// a worker's callbacks (through [`workerman::spawn`]) or any tokio program.
///
/// Built from a URL with [`GlobalDataClient::new`]:
/// * `globaldata://host:2207`, `host:2207` or `unix:///path`: a built-in server (PHP's or
///   ours); several, comma-separated, shard keys as PHP's client does ([`shard_index`]);
/// * `redis://host:6379/0` (feature `redis`): keys live in Redis under a prefix
///   (`globaldata:` unless changed with [`with_prefix`](Self::with_prefix)).
///
/// Connections open on first use; a connection the server closed is reopened by the next
/// request, so clients carry on after a server restart (a request in flight at that moment
/// fails with [`Error::ConnectionLost`] and is not retried: it may have run).
#[derive(Clone)]
pub struct GlobalDataClient {
    backend: Arc<Backend>,
    timeout: Duration,
    keepalive: Option<Duration>,
}

impl std::fmt::Debug for GlobalDataClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match &*self.backend {
            Backend::Servers(s) => s.iter().map(ServerConn::address).collect::<Vec<_>>().join(","),
            #[cfg(feature = "redis")]
            Backend::Redis(r) => r.url().to_string(),
        };
        f.debug_struct("GlobalDataClient").field("backend", &what).finish()
    }
}

fn parse_server(s: &str) -> Result<Target> {
    let bad = |reason: &str| Error::Address {
        address: s.into(),
        reason: reason.into(),
    };
    let s = s.trim();
    if let Some(path) = s.strip_prefix("unix://") {
        if path.is_empty() {
            return Err(bad("a unix socket needs a path"));
        }
        return Ok(Target::Unix(path.into()));
    }
    let hostport = s
        .strip_prefix("globaldata://")
        .or_else(|| s.strip_prefix("frame://"))
        .or_else(|| s.strip_prefix("tcp://"))
        .unwrap_or(s);
    if hostport.contains("://") {
        return Err(bad("unknown scheme (use globaldata://, unix:// or redis://)"));
    }
    match hostport.rsplit_once(':') {
        Some((host, port)) if !host.is_empty() && port.parse::<u16>().is_ok() => Ok(Target::Tcp(hostport.into())),
        _ => Err(bad("expected host:port")),
    }
}

impl GlobalDataClient {
    /// A client for `url` (see the type's docs). Nothing connects until the first request.
    pub fn new(url: &str) -> Result<GlobalDataClient> {
        let url = url.trim();
        if url.starts_with("redis://") || url.starts_with("rediss://") || url.starts_with("redis+unix://") {
            #[cfg(feature = "redis")]
            return Ok(Self::from_backend(Backend::Redis(Box::new(redis::RedisBackend::new(
                url,
                "globaldata:",
            )?))));
            #[cfg(not(feature = "redis"))]
            return Err(Error::Address {
                address: url.into(),
                reason: "built without the `redis` feature".into(),
            });
        }
        let servers: Vec<&str> = url.split(',').filter(|s| !s.trim().is_empty()).collect();
        Self::servers(&servers)
    }

    /// A client for several built-in servers (`host:port` or `unix:///path`), sharding keys as
    /// PHP's `new GlobalData\Client([...])` does.
    pub fn servers(addresses: &[&str]) -> Result<GlobalDataClient> {
        if addresses.is_empty() {
            return Err(Error::Address {
                address: String::new(),
                reason: "servers empty".into(),
            });
        }
        let conns = addresses
            .iter()
            .map(|a| parse_server(a).map(ServerConn::new))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self::from_backend(Backend::Servers(conns)))
    }

    fn from_backend(backend: Backend) -> GlobalDataClient {
        GlobalDataClient {
            backend: Arc::new(backend),
            timeout: DEFAULT_TIMEOUT,
            keepalive: Some(DEFAULT_KEEPALIVE),
        }
    }

    /// One client per URL per process, created on first use: handy in callbacks.
    ///
    /// # Panics
    /// When `url` is not a valid address (a programming error in a fixed URL).
    pub fn shared(url: &str) -> GlobalDataClient {
        static CLIENTS: OnceLock<Mutex<HashMap<String, GlobalDataClient>>> = OnceLock::new();
        let mut map = CLIENTS
            .get_or_init(Default::default)
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        map.entry(url.to_string())
            .or_insert_with(|| GlobalDataClient::new(url).unwrap_or_else(|e| panic!("{e}")))
            .clone()
    }

    /// Sets how long a request waits for its reply (default [`DEFAULT_TIMEOUT`]). With the
    /// built-in servers it is also how long a connection may leave a request or keepalive probe
    /// unanswered before it is declared dead and closed.
    pub fn with_timeout(mut self, timeout: Duration) -> GlobalDataClient {
        self.timeout = timeout;
        self
    }

    /// Built-in servers: after `interval` without traffic, probe the connection with a request
    /// every server answers (a `get`); no answer within the [timeout](Self::with_timeout) means
    /// the server is dead (a crashed host sends no FIN): the connection is closed and the next
    /// request connects afresh instead of writing into a dead socket. Default
    /// [`DEFAULT_KEEPALIVE`]; `None` turns probes off (a request left unanswered for the
    /// timeout still closes the connection). Applies to connections opened after this call:
    /// set it before first use. No effect on Redis (the redis crate has its own handling).
    pub fn with_keepalive(mut self, interval: Option<Duration>) -> GlobalDataClient {
        self.keepalive = interval;
        self
    }

    /// With the Redis backend, stores keys under `prefix` (default `globaldata:`); no effect on
    /// built-in servers. Call before sharing the client.
    pub fn with_prefix(self, prefix: &str) -> GlobalDataClient {
        #[cfg(feature = "redis")]
        if let Backend::Redis(r) = &*self.backend {
            return GlobalDataClient {
                backend: Arc::new(Backend::Redis(Box::new(r.with_prefix(prefix)))),
                timeout: self.timeout,
                keepalive: self.keepalive,
            };
        }
        let _ = prefix;
        self
    }

    /// Whether this client talks to Redis.
    pub fn is_redis(&self) -> bool {
        !matches!(&*self.backend, Backend::Servers(_))
    }

    async fn call(&self, cmd: &str, key: &Key, extra: &[(&str, Value)]) -> Result<Vec<u8>> {
        let servers = match &*self.backend {
            Backend::Servers(servers) => servers,
            #[cfg(feature = "redis")]
            Backend::Redis(_) => unreachable!("only built-in servers take wire requests"),
        };
        let server = &servers[shard_index(key, servers.len())];
        let keepalive = Keepalive {
            interval: self.keepalive,
            dead_after: self.timeout,
        };
        let reply = server.call(&request(cmd, key, extra), self.timeout, keepalive).await?;
        if is_refusal(&reply) {
            return Err(Error::Refused(String::from_utf8_lossy(&reply).into_owned()));
        }
        Ok(reply)
    }

    fn ttl_entry(ttl: Option<Duration>) -> Vec<(&'static str, Value)> {
        ttl.map(|d| ("ttl", Value::Float(d.as_secs_f64())))
            .into_iter()
            .collect()
    }

    /// The value under `key`, or [`Value::Null`] when absent (PHP cannot tell the two apart).
    pub async fn get(&self, key: impl Into<Key>) -> Result<Value> {
        Ok(unserialize(&self.get_raw(key).await?)?)
    }

    /// The serialized bytes of the value under `key` (`N;` when absent): what
    /// [`cas_raw`](Self::cas_raw) hashes.
    pub async fn get_raw(&self, key: impl Into<Key>) -> Result<Vec<u8>> {
        let key = key.into();
        match &*self.backend {
            #[cfg(feature = "redis")]
            Backend::Redis(r) => r.get(&key).await,
            Backend::Servers(_) => self.call("get", &key, &[]).await,
        }
    }

    /// Whether `key` holds a non-null value (PHP's `isset($global->key)`).
    pub async fn exists(&self, key: impl Into<Key>) -> Result<bool> {
        Ok(self.get_raw(key).await? != b"N;")
    }

    /// Stores `value` under `key` (no expiry).
    pub async fn set(&self, key: impl Into<Key>, value: impl Into<Value>) -> Result<()> {
        self.set_opt(key.into(), value.into(), None).await
    }

    /// Stores `value` under `key` for `ttl` (our extension: a PHP server ignores it and keeps
    /// the value forever; PHP clients see a missing key after expiry).
    pub async fn set_with_ttl(&self, key: impl Into<Key>, value: impl Into<Value>, ttl: Duration) -> Result<()> {
        self.set_opt(key.into(), value.into(), Some(ttl)).await
    }

    async fn set_opt(&self, key: Key, value: Value, ttl: Option<Duration>) -> Result<()> {
        match &*self.backend {
            #[cfg(feature = "redis")]
            Backend::Redis(r) => r.set(&key, &serialize(&value), ttl).await,
            Backend::Servers(_) => {
                let mut extra = vec![("value", value)];
                extra.extend(Self::ttl_entry(ttl));
                self.call("set", &key, &extra).await.map(drop)
            }
        }
    }

    /// Stores `value` unless `key` holds a non-null value; true when stored.
    pub async fn add(&self, key: impl Into<Key>, value: impl Into<Value>) -> Result<bool> {
        self.add_opt(key.into(), value.into(), None).await
    }

    /// [`add`](Self::add) with a TTL (our extension).
    pub async fn add_with_ttl(&self, key: impl Into<Key>, value: impl Into<Value>, ttl: Duration) -> Result<bool> {
        self.add_opt(key.into(), value.into(), Some(ttl)).await
    }

    async fn add_opt(&self, key: Key, value: Value, ttl: Option<Duration>) -> Result<bool> {
        match &*self.backend {
            #[cfg(feature = "redis")]
            Backend::Redis(r) => r.add(&key, &serialize(&value), ttl).await,
            Backend::Servers(_) => {
                let mut extra = vec![("value", value)];
                extra.extend(Self::ttl_entry(ttl));
                bool_reply(&self.call("add", &key, &extra).await?)
            }
        }
    }

    /// Replaces the value under `key` with `new` if it still is `old` (PHP's
    /// `$global->cas($key, $old, $new)`: the md5 of `serialize($old)` is compared, so `old` must
    /// serialize exactly as the stored value; `Value::Null` matches a missing key). True when
    /// replaced.
    pub async fn cas(&self, key: impl Into<Key>, old: &Value, new: impl Into<Value>) -> Result<bool> {
        self.cas_raw(key, &serialize(old), new).await
    }

    /// [`cas`](Self::cas) against the exact bytes of an earlier [`get_raw`](Self::get_raw).
    pub async fn cas_raw(&self, key: impl Into<Key>, old_serialized: &[u8], new: impl Into<Value>) -> Result<bool> {
        self.cas_opt(key.into(), old_serialized, new.into(), None).await
    }

    /// [`cas`](Self::cas) with a TTL on the new value (our extension).
    pub async fn cas_with_ttl(
        &self,
        key: impl Into<Key>,
        old: &Value,
        new: impl Into<Value>,
        ttl: Duration,
    ) -> Result<bool> {
        self.cas_opt(key.into(), &serialize(old), new.into(), Some(ttl)).await
    }

    async fn cas_opt(&self, key: Key, old: &[u8], new: Value, ttl: Option<Duration>) -> Result<bool> {
        match &*self.backend {
            #[cfg(feature = "redis")]
            Backend::Redis(r) => r.cas(&key, old, &serialize(&new), ttl, false).await,
            Backend::Servers(_) => {
                let mut extra = vec![("md5", Value::from(crate::md5_hex(old))), ("value", new)];
                extra.extend(Self::ttl_entry(ttl));
                bool_reply(&self.call("cas", &key, &extra).await?)
            }
        }
    }

    /// Adds `step` to the value under `key` with PHP's `+` (a non-numeric value counts as 0;
    /// int overflow gives a float) and returns the new value; `None` when the key is absent or
    /// null (nothing is created). A TTL on the key is kept.
    pub async fn increment(&self, key: impl Into<Key>, step: impl Into<Value>) -> Result<Option<Value>> {
        let key = key.into();
        let step = step.into();
        let reply = match &*self.backend {
            #[cfg(feature = "redis")]
            Backend::Redis(r) => r.increment(&key, &step).await?,
            Backend::Servers(_) => self.call("increment", &key, &[("step", step)]).await?,
        };
        if reply == FALSE {
            return Ok(None);
        }
        Ok(Some(unserialize(&reply)?))
    }

    /// Removes `key` (PHP's `unset($global->key)`).
    pub async fn delete(&self, key: impl Into<Key>) -> Result<()> {
        let key = key.into();
        match &*self.backend {
            #[cfg(feature = "redis")]
            Backend::Redis(r) => r.delete(&key).await,
            Backend::Servers(_) => self.call("delete", &key, &[]).await.map(drop),
        }
    }

    /// [`get`](Self::get) into any serde type (`None` when absent or null).
    pub async fn get_as<T: DeserializeOwned>(&self, key: impl Into<Key>) -> Result<Option<T>> {
        match self.get(key).await? {
            Value::Null => Ok(None),
            v => Ok(Some(php_serialize::from_value(v)?)),
        }
    }

    /// [`set`](Self::set) from any serde type (stored as PHP would store the equivalent array).
    pub async fn set_as<T: Serialize + ?Sized>(&self, key: impl Into<Key>, value: &T) -> Result<()> {
        self.set(key, php_serialize::to_value(value)?).await
    }
}

fn bool_reply(reply: &[u8]) -> Result<bool> {
    match reply {
        TRUE => Ok(true),
        FALSE => Ok(false),
        other => Err(Error::Decode(php_serialize::Error::message(format!(
            "expected b:0; or b:1;, got {:?}",
            String::from_utf8_lossy(other)
        )))),
    }
}
