//! Redis session handlers on the `redis` crate (cargo features `redis` and `redis-cluster`):
//! each session is a key `<prefix><id>` written with `SET .. EX <lifetime>`, read with `GET`,
//! its lifetime restarted with `EXPIRE`, removed with `DEL`.
//!
//! ```text
//!  RedisSessionHandler         one ConnectionManager per process (reconnects by itself)
//!  RedisClusterSessionHandler  one cluster connection per process: each key goes to the master
//!                              owning its hash slot; MOVED/ASK redirections are followed
//! ```
//!
//! Both connect on first use; a failed connect is retried by the next command. Every command
//! is bounded by the configured timeout.

use std::future::Future;
use std::io;
use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::{Cmd, FromRedisValue, RedisError};
use tokio::sync::OnceCell;

use super::{BoxFuture, SessionHandler};

/// Where and how to reach Redis (Workerman's `RedisSessionHandler` config).
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// `host:port`. Default `127.0.0.1:6379`.
    pub addr: String,
    /// Password for `AUTH`, if any.
    pub auth: Option<String>,
    /// Database for `SELECT`. Default 0.
    pub database: u32,
    /// Key prefix. Default `redis_session_`.
    pub prefix: String,
    /// Connect and command timeout. Default 2 s.
    pub timeout: Duration,
}

impl Default for RedisConfig {
    fn default() -> Self {
        RedisConfig {
            addr: "127.0.0.1:6379".into(),
            auth: None,
            database: 0,
            prefix: "redis_session_".into(),
            timeout: Duration::from_secs(2),
        }
    }
}

fn io_err(e: RedisError) -> io::Error {
    io::Error::other(format!("redis: {e}"))
}

fn password(auth: &Option<String>) -> String {
    match auth {
        Some(p) => format!(
            ":{}@",
            percent_encoding::utf8_percent_encode(p, percent_encoding::NON_ALPHANUMERIC)
        ),
        None => String::new(),
    }
}

/// Runs `fut` within `timeout`, naming `what` in the error.
async fn bounded<T>(what: &str, timeout: Duration, fut: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    match tokio::time::timeout(timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("redis at {what} did not answer in {timeout:?}"),
        )),
    }
}

async fn query<C: ConnectionLike, T: FromRedisValue>(mut conn: C, cmd: Cmd) -> io::Result<T> {
    cmd.query_async(&mut conn).await.map_err(io_err)
}

/// Sessions in Redis, each a key `<prefix><id>` written with `SET .. EX <lifetime>`.
pub struct RedisSessionHandler {
    config: RedisConfig,
    conn: OnceCell<ConnectionManager>,
}

impl std::fmt::Debug for RedisSessionHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisSessionHandler")
            .field("addr", &self.config.addr)
            .field("database", &self.config.database)
            .field("prefix", &self.config.prefix)
            .finish()
    }
}

impl RedisSessionHandler {
    /// A handler for `config`; it connects on first use (and again after an error).
    pub fn new(config: RedisConfig) -> Self {
        RedisSessionHandler {
            config,
            conn: OnceCell::new(),
        }
    }

    /// Sends `PING`: whether Redis is reachable with these settings.
    pub async fn ping(&self) -> io::Result<()> {
        let _: String = self.run(redis::cmd("PING")).await?;
        Ok(())
    }

    async fn connection(&self) -> io::Result<ConnectionManager> {
        let c = self
            .conn
            .get_or_try_init(|| async {
                let url = format!(
                    "redis://{}{}/{}",
                    password(&self.config.auth),
                    self.config.addr,
                    self.config.database
                );
                let client = redis::Client::open(url).map_err(io_err)?;
                let t = self.config.timeout;
                let cfg = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(t))
                    .set_response_timeout(Some(t))
                    .set_number_of_retries(1);
                ConnectionManager::new_with_config(client, cfg).await.map_err(io_err)
            })
            .await?;
        Ok(c.clone())
    }

    async fn run<T: FromRedisValue>(&self, cmd: Cmd) -> io::Result<T> {
        bounded(&self.config.addr, self.config.timeout, async {
            query(self.connection().await?, cmd).await
        })
        .await
    }
}

/// Where and how to reach a Redis Cluster (Workerman's `RedisClusterSessionHandler` config).
#[cfg(feature = "redis-cluster")]
#[derive(Debug, Clone)]
pub struct RedisClusterConfig {
    /// Some of the cluster's nodes, `host:port` each; the others are discovered from them.
    pub nodes: Vec<String>,
    /// Password for `AUTH`, if any (the same on every node).
    pub auth: Option<String>,
    /// Key prefix. Default `redis_session_`.
    pub prefix: String,
    /// Connect and command timeout. Default 2 s.
    pub timeout: Duration,
}

#[cfg(feature = "redis-cluster")]
impl Default for RedisClusterConfig {
    fn default() -> Self {
        RedisClusterConfig {
            nodes: vec!["127.0.0.1:7000".into()],
            auth: None,
            prefix: "redis_session_".into(),
            timeout: Duration::from_secs(2),
        }
    }
}

/// Sessions in a Redis Cluster: the same keys and commands as [`RedisSessionHandler`], each
/// sent to the master that owns the key's slot.
#[cfg(feature = "redis-cluster")]
pub struct RedisClusterSessionHandler {
    config: RedisClusterConfig,
    conn: OnceCell<redis::cluster_async::ClusterConnection>,
}

#[cfg(feature = "redis-cluster")]
impl std::fmt::Debug for RedisClusterSessionHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisClusterSessionHandler")
            .field("nodes", &self.config.nodes)
            .field("prefix", &self.config.prefix)
            .finish()
    }
}

#[cfg(feature = "redis-cluster")]
impl RedisClusterSessionHandler {
    /// A handler for `config`; it connects on first use (and again after an error).
    pub fn new(config: RedisClusterConfig) -> Self {
        RedisClusterSessionHandler {
            config,
            conn: OnceCell::new(),
        }
    }

    /// Sends `PING` (to a random master): whether the cluster is reachable.
    pub async fn ping(&self) -> io::Result<()> {
        let _: String = self.run(redis::cmd("PING")).await?;
        Ok(())
    }

    async fn connection(&self) -> io::Result<redis::cluster_async::ClusterConnection> {
        let c = self
            .conn
            .get_or_try_init(|| async {
                let pass = password(&self.config.auth);
                let nodes: Vec<String> = self.config.nodes.iter().map(|n| format!("redis://{pass}{n}")).collect();
                let t = self.config.timeout;
                let client = redis::cluster::ClusterClient::builder(nodes)
                    .connection_timeout(t)
                    .response_timeout(t)
                    .build()
                    .map_err(io_err)?;
                client.get_async_connection().await.map_err(io_err)
            })
            .await?;
        Ok(c.clone())
    }

    async fn run<T: FromRedisValue>(&self, cmd: Cmd) -> io::Result<T> {
        let what = self.config.nodes.join(",");
        bounded(&what, self.config.timeout, async {
            query(self.connection().await?, cmd).await
        })
        .await
    }
}

macro_rules! session_handler {
    ($ty:ty) => {
        impl SessionHandler for $ty {
            fn read<'a>(&'a self, id: &'a str) -> BoxFuture<'a, io::Result<Option<Vec<u8>>>> {
                Box::pin(async move {
                    let mut c = redis::cmd("GET");
                    c.arg(format!("{}{id}", self.config.prefix));
                    self.run(c).await
                })
            }

            fn write<'a>(&'a self, id: &'a str, data: &'a [u8], lifetime: Duration) -> BoxFuture<'a, io::Result<()>> {
                Box::pin(async move {
                    let mut c = redis::cmd("SET");
                    c.arg(format!("{}{id}", self.config.prefix))
                        .arg(data)
                        .arg("EX")
                        .arg(lifetime.as_secs().max(1));
                    self.run::<()>(c).await
                })
            }

            fn destroy<'a>(&'a self, id: &'a str) -> BoxFuture<'a, io::Result<()>> {
                Box::pin(async move {
                    let mut c = redis::cmd("DEL");
                    c.arg(format!("{}{id}", self.config.prefix));
                    self.run::<i64>(c).await.map(drop)
                })
            }

            fn update_timestamp<'a>(&'a self, id: &'a str, lifetime: Duration) -> BoxFuture<'a, io::Result<()>> {
                Box::pin(async move {
                    let mut c = redis::cmd("EXPIRE");
                    c.arg(format!("{}{id}", self.config.prefix))
                        .arg(lifetime.as_secs().max(1));
                    self.run::<i64>(c).await.map(drop)
                })
            }
        }
    };
}

session_handler!(RedisSessionHandler);
#[cfg(feature = "redis-cluster")]
session_handler!(RedisClusterSessionHandler);
