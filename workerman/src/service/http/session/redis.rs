//! `RedisSessionHandler`: sessions in Redis (`GET`, `SETEX`, `DEL`), spoken over one
//! connection per process with a few hand-written RESP commands.
//!
//! ```text
//! *3\r\n$5\r\nSETEX\r\n$25\r\nredis_session_<id>\r\n$4\r\n1440\r\n ... → +OK\r\n
//! ```

use std::io;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufStream};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

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

/// Sessions in Redis, each a key `<prefix><id>` written with `SETEX <lifetime>`.
#[derive(Debug)]
pub struct RedisSessionHandler {
    config: RedisConfig,
    conn: Mutex<Option<BufStream<TcpStream>>>,
}

/// A RESP reply (the kinds these commands return).
#[derive(Debug, PartialEq, Eq)]
enum Reply {
    Simple(String),
    Int(i64),
    Bulk(Option<Vec<u8>>),
}

impl RedisSessionHandler {
    /// A handler for `config`; it connects on first use (and again after an error).
    pub fn new(config: RedisConfig) -> Self {
        RedisSessionHandler {
            config,
            conn: Mutex::new(None),
        }
    }

    /// Sends `PING` and waits for `PONG`: whether Redis is reachable with these settings.
    pub async fn ping(&self) -> io::Result<()> {
        match self.command(&[b"PING"]).await? {
            Reply::Simple(s) if s == "PONG" => Ok(()),
            other => Err(io::Error::other(format!("unexpected PING reply {other:?}"))),
        }
    }

    fn key(&self, id: &str) -> Vec<u8> {
        format!("{}{id}", self.config.prefix).into_bytes()
    }

    async fn connect(&self) -> io::Result<BufStream<TcpStream>> {
        let stream = TcpStream::connect(&self.config.addr).await?;
        stream.set_nodelay(true)?;
        let mut s = BufStream::new(stream);
        if let Some(pass) = &self.config.auth {
            expect_ok(round_trip(&mut s, &[b"AUTH", pass.as_bytes()]).await?)?;
        }
        if self.config.database != 0 {
            let db = self.config.database.to_string();
            expect_ok(round_trip(&mut s, &[b"SELECT", db.as_bytes()]).await?)?;
        }
        Ok(s)
    }

    async fn command(&self, args: &[&[u8]]) -> io::Result<Reply> {
        let run = async {
            let mut guard = self.conn.lock().await;
            if guard.is_none() {
                *guard = Some(self.connect().await?);
            }
            let Some(conn) = guard.as_mut() else {
                return Err(io::Error::other("no redis connection"));
            };
            match round_trip(conn, args).await {
                Ok(r) => Ok(r),
                Err(e) => {
                    // A broken connection is replaced on the next command.
                    *guard = None;
                    Err(e)
                }
            }
        };
        match tokio::time::timeout(self.config.timeout, run).await {
            Ok(r) => r,
            Err(_) => {
                if let Ok(mut g) = self.conn.try_lock() {
                    *g = None;
                }
                Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "redis at {} did not answer in {:?}",
                        self.config.addr, self.config.timeout
                    ),
                ))
            }
        }
    }
}

fn expect_ok(r: Reply) -> io::Result<()> {
    match r {
        Reply::Simple(s) if s == "OK" => Ok(()),
        other => Err(io::Error::other(format!("unexpected redis reply {other:?}"))),
    }
}

async fn round_trip(s: &mut BufStream<TcpStream>, args: &[&[u8]]) -> io::Result<Reply> {
    let mut cmd = format!("*{}\r\n", args.len()).into_bytes();
    for a in args {
        cmd.extend_from_slice(format!("${}\r\n", a.len()).as_bytes());
        cmd.extend_from_slice(a);
        cmd.extend_from_slice(b"\r\n");
    }
    s.write_all(&cmd).await?;
    s.flush().await?;
    read_reply(s).await
}

async fn read_line(s: &mut BufStream<TcpStream>) -> io::Result<String> {
    let mut line = String::new();
    if s.read_line(&mut line).await? == 0 {
        return Err(io::Error::new(
            io::ErrorKind::UnexpectedEof,
            "redis closed the connection",
        ));
    }
    Ok(line.trim_end_matches(['\r', '\n']).to_string())
}

async fn read_reply(s: &mut BufStream<TcpStream>) -> io::Result<Reply> {
    let line = read_line(s).await?;
    let bad = || io::Error::new(io::ErrorKind::InvalidData, format!("bad redis reply {line:?}"));
    let (kind, rest) = line.split_at_checked(1).ok_or_else(bad)?;
    match kind {
        "+" => Ok(Reply::Simple(rest.to_string())),
        "-" => Err(io::Error::other(format!("redis error: {rest}"))),
        ":" => rest.parse().map(Reply::Int).map_err(|_| bad()),
        "$" => {
            let n: i64 = rest.parse().map_err(|_| bad())?;
            if n < 0 {
                return Ok(Reply::Bulk(None));
            }
            let mut data = vec![0u8; n as usize + 2];
            s.read_exact(&mut data).await?;
            data.truncate(n as usize);
            Ok(Reply::Bulk(Some(data)))
        }
        _ => Err(bad()),
    }
}

impl SessionHandler for RedisSessionHandler {
    fn read<'a>(&'a self, id: &'a str) -> BoxFuture<'a, io::Result<Option<Vec<u8>>>> {
        Box::pin(async move {
            match self.command(&[b"GET", &self.key(id)]).await? {
                Reply::Bulk(v) => Ok(v),
                other => Err(io::Error::other(format!("unexpected GET reply {other:?}"))),
            }
        })
    }

    fn write<'a>(&'a self, id: &'a str, data: &'a [u8], lifetime: Duration) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            let secs = lifetime.as_secs().max(1).to_string();
            expect_ok(self.command(&[b"SETEX", &self.key(id), secs.as_bytes(), data]).await?)
        })
    }

    fn destroy<'a>(&'a self, id: &'a str) -> BoxFuture<'a, io::Result<()>> {
        Box::pin(async move {
            match self.command(&[b"DEL", &self.key(id)]).await? {
                Reply::Int(_) => Ok(()),
                other => Err(io::Error::other(format!("unexpected DEL reply {other:?}"))),
            }
        })
    }
}
