//! `redis://` as the discovery backend, in place of (or beside) Registers: gateways hold a
//! lease on their inner address, business workers and API clients read the live leases.
//!
//! ```text
//!  gateway ── every lease/3: EVAL lease ──► ZADD <prefix>:gateways <redis now + lease_ms> "10.0.0.1:2300"
//!                                            (drops expired members; PUBLISH <prefix>:events on a change)
//!  worker  ── SUBSCRIBE <prefix>:events; on each message and every lease/2: EVAL list ──►
//!             ZRANGEBYSCORE <prefix>:gateways <redis now> +inf  → the live gateway addresses
//! ```
//! Expiry times come from the Redis server's clock (`TIME` inside the scripts), so hosts'
//! clocks need not agree. A gateway that dies stops renewing and vanishes from the list when its
//! lease runs out (default 10 s); one that comes (back) is announced at once. While Redis is
//! unreachable every process keeps the list it had: established routes keep working, and the
//! leases are renewed as soon as Redis answers again.
//!
//! The address is `redis://[user:password@]host:port[/db][?prefix=NAME&lease_ms=N]`
//! (`rediss://` with TLS if the redis crate was built with it); `prefix` (default
//! `workerman-gateway`) separates clusters sharing one Redis.

use std::rc::Rc;
use std::time::Duration;

use futures_util::{FutureExt, StreamExt};
use redis::AsyncConnectionConfig;
use redis::aio::MultiplexedConnection;

use crate::error::{Error, Result};

/// Default lease: a gateway missing for this long leaves the list: 10 s.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(10);
/// Default key prefix.
pub const DEFAULT_PREFIX: &str = "workerman-gateway";
/// Retry delay after Redis failed.
const RETRY: Duration = Duration::from_secs(1);
/// Connect and reply timeout of each Redis command.
const TIMEOUT: Duration = Duration::from_secs(3);

const LEASE: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local removed = redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. string.format('%.0f', now))
local added = redis.call('ZADD', KEYS[1], string.format('%.0f', now + tonumber(ARGV[2])), ARGV[1])
if added > 0 or removed > 0 then redis.call('PUBLISH', KEYS[2], ARGV[1]) end
return added
";

const LIST: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
return redis.call('ZRANGEBYSCORE', KEYS[1], string.format('%.0f', now), '+inf')
";

/// One Redis discovery backend.
#[derive(Clone, Debug)]
pub(crate) struct Source {
    /// The address as configured (names the source in logs and in the union of lists).
    pub address: String,
    client: redis::Client,
    zset: String,
    channel: String,
    lease: Duration,
}

impl Source {
    /// Parses `redis://...?prefix=..&lease_ms=..`.
    pub fn parse(address: &str) -> Result<Source> {
        let bad = |reason: String| Error::InvalidArgument(format!("discovery address {address}: {reason}"));
        let (base, query) = address.split_once('?').unwrap_or((address, ""));
        let (mut prefix, mut lease) = (DEFAULT_PREFIX.to_owned(), DEFAULT_LEASE);
        let mut rest = Vec::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            match pair.split_once('=') {
                Some(("prefix", v)) if !v.is_empty() => prefix = v.to_owned(),
                Some(("lease_ms", v)) => {
                    let ms: u64 = v.parse().map_err(|_| bad(format!("bad lease_ms {v:?}")))?;
                    if ms < 100 {
                        return Err(bad("lease_ms must be at least 100".into()));
                    }
                    lease = Duration::from_millis(ms);
                }
                _ => rest.push(pair),
            }
        }
        let url = if rest.is_empty() {
            base.to_owned()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        let client = redis::Client::open(url.as_str()).map_err(|e| bad(e.to_string()))?;
        Ok(Source {
            address: address.to_owned(),
            client,
            zset: format!("{prefix}:gateways"),
            channel: format!("{prefix}:events"),
            lease,
        })
    }

    async fn connect(&self) -> Result<MultiplexedConnection> {
        let cfg = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(TIMEOUT))
            .set_response_timeout(Some(TIMEOUT));
        self.client
            .get_multiplexed_async_connection_with_config(&cfg)
            .await
            .map_err(|e| self.error(e))
    }

    fn error(&self, e: redis::RedisError) -> Error {
        Error::Discovery(format!("{} ({e})", self.address))
    }

    /// Takes or renews the lease of `member`; `true` if it was new (announced).
    async fn renew(&self, conn: &mut MultiplexedConnection, member: &str) -> Result<bool> {
        let added: i64 = redis::Script::new(LEASE)
            .key(&self.zset)
            .key(&self.channel)
            .arg(member)
            .arg(self.lease.as_millis() as u64)
            .invoke_async(conn)
            .await
            .map_err(|e| self.error(e))?;
        Ok(added > 0)
    }

    /// The live gateway addresses, sorted.
    async fn list_with(&self, conn: &mut MultiplexedConnection) -> Result<Vec<String>> {
        let mut list: Vec<String> = redis::Script::new(LIST)
            .key(&self.zset)
            .invoke_async(conn)
            .await
            .map_err(|e| self.error(e))?;
        list.sort();
        Ok(list)
    }

    /// The live gateway addresses, on a connection of its own (API clients).
    pub async fn list(&self) -> Result<Vec<String>> {
        let mut conn = self.connect().await?;
        self.list_with(&mut conn).await
    }
}

/// Gateways: holds the lease of `member` for the life of the process (renewed every third of
/// the lease; after a failure, retried every second).
pub(crate) fn hold(source: Source, member: String) {
    workerman::spawn(async move {
        let mut conn: Option<MultiplexedConnection> = None;
        let mut failing = false;
        loop {
            let result = async {
                if conn.is_none() {
                    conn = Some(source.connect().await?);
                }
                source.renew(conn.as_mut().expect("connected"), &member).await
            }
            .await;
            match result {
                Ok(new) => {
                    if failing || new {
                        crate::log(&format!("gateway: {member} leased in {}", source.address));
                    }
                    failing = false;
                }
                Err(e) => {
                    conn = None;
                    if !failing {
                        crate::log(&format!("gateway: cannot renew the lease of {member}: {e}; retrying"));
                    }
                    failing = true;
                }
            }
            tokio::time::sleep(if failing { RETRY } else { source.lease / 3 }).await;
        }
    });
}

/// Business workers: calls `on_list` with the live gateway list now, on every announced change
/// and every half lease (expired leases); keeps quiet while Redis is unreachable.
pub(crate) fn watch(source: Source, on_list: Rc<dyn Fn(Vec<String>)>) {
    workerman::spawn(async move {
        let mut failing = false;
        loop {
            let e = follow(&source, &on_list, &mut failing).await;
            if !failing {
                crate::log(&format!("gateway: {e}; retrying"));
            }
            failing = true;
            tokio::time::sleep(RETRY).await;
        }
    });
}

async fn follow(source: &Source, on_list: &Rc<dyn Fn(Vec<String>)>, failing: &mut bool) -> Error {
    let run = async {
        let mut pubsub = tokio::time::timeout(TIMEOUT, source.client.get_async_pubsub())
            .await
            .map_err(|_| Error::Timeout(format!("Redis {}", source.address)))?
            .map_err(|e| source.error(e))?;
        pubsub.subscribe(&source.channel).await.map_err(|e| source.error(e))?;
        let mut conn = source.connect().await?;
        let mut messages = pubsub.into_on_message();
        let mut last: Option<Vec<String>> = None;
        loop {
            let list = source.list_with(&mut conn).await?;
            if *failing {
                crate::log(&format!("gateway discovery: {} answers again", source.address));
                *failing = false;
            }
            if last.as_ref() != Some(&list) {
                on_list(list.clone());
                last = Some(list);
            }
            let closed = || Error::Discovery(format!("{} (subscription closed)", source.address));
            tokio::select! {
                m = messages.next() => {
                    m.ok_or_else(closed)?;
                    // Announcements that arrived together (gateways starting at once) are one
                    // list query, not one each.
                    while let Some(m) = messages.next().now_or_never() {
                        m.ok_or_else(closed)?;
                    }
                }
                _ = tokio::time::sleep(source.lease / 2) => {}
            }
        }
    };
    let ended: Result<std::convert::Infallible> = run.await;
    match ended {
        Ok(never) => match never {},
        Err(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn address_parameters_are_ours_the_rest_is_the_redis_crates() {
        let s = Source::parse("redis://127.0.0.1:6379/2?prefix=chat&lease_ms=3000").unwrap();
        assert_eq!((s.zset.as_str(), s.channel.as_str()), ("chat:gateways", "chat:events"));
        assert_eq!(s.lease, Duration::from_millis(3000));
        let s = Source::parse("redis://127.0.0.1").unwrap();
        assert_eq!(
            (s.zset.as_str(), s.lease),
            ("workerman-gateway:gateways", DEFAULT_LEASE)
        );
        assert!(Source::parse("redis://127.0.0.1?lease_ms=x").is_err());
        assert!(Source::parse("redis://127.0.0.1?lease_ms=5").is_err());
        assert!(crate::discovery::is_redis("redis://h") && !crate::discovery::is_redis("127.0.0.1:1236"));
    }
}
