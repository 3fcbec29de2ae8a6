//! A small memcache client (text protocol) on tokio: `get`, `set`, `delete`, with one connection
//! that is reopened after any error. Memcache has no official Rust async client we would want in
//! a worker's event loop, and the protocol is a few lines:
//!
//! ```text
//! set <key> <flags> <exptime> <bytes>\r\n<data>\r\n   →  STORED\r\n
//! get <key>\r\n                                        →  VALUE <key> <flags> <bytes>\r\n<data>\r\nEND\r\n
//!                                                         (or just END\r\n when missing)
//! delete <key>\r\n                                     →  DELETED\r\n | NOT_FOUND\r\n
//! errors:  ERROR\r\n | CLIENT_ERROR <msg>\r\n | SERVER_ERROR <msg>\r\n
//! ```
//!
//! Parsing is [`parse_reply`]: bytes in, "need more" / one reply of n bytes / error out, no I/O.

use std::fmt;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Longest key memcached accepts: 250 bytes.
pub const MAX_KEY_LEN: usize = 250;
/// Largest value read back (memcached's default item size limit): 1 MiB.
pub const MAX_VALUE_LEN: usize = 1024 * 1024;
/// Time allowed for connecting and for each reply: 2 s.
pub const TIMEOUT: Duration = Duration::from_secs(2);

/// What went wrong.
#[derive(Debug)]
pub enum Error {
    /// The connection failed, closed or timed out.
    Io(std::io::Error),
    /// The key is empty, too long, or has spaces or control characters.
    BadKey,
    /// The server answered an error (`ERROR`, `CLIENT_ERROR ...`, `SERVER_ERROR ...`) or
    /// something that is not memcache.
    Server(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Io(e) => write!(f, "{e}"),
            Error::BadKey => f.write_str("bad key (1-250 bytes, no spaces or control characters)"),
            Error::Server(s) => write!(f, "server said: {s}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

/// One parsed reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// `STORED`
    Stored,
    /// `NOT_STORED`
    NotStored,
    /// `DELETED`
    Deleted,
    /// `NOT_FOUND`
    NotFound,
    /// `VALUE ... END`: the value, or `None` for a bare `END` (a miss).
    Value(Option<Vec<u8>>),
}

/// Parses one reply at the start of `buf`: `Ok(None)` needs more bytes, `Ok(Some((reply, n)))`
/// used `n` bytes.
pub fn parse_reply(buf: &[u8]) -> Result<Option<(Reply, usize)>, Error> {
    let Some(eol) = buf.windows(2).position(|w| w == b"\r\n") else {
        if buf.len() > MAX_KEY_LEN + 64 {
            return Err(Error::Server("reply line too long".into()));
        }
        return Ok(None);
    };
    let line = std::str::from_utf8(&buf[..eol]).map_err(|_| Error::Server("not UTF-8".into()))?;
    let after = eol + 2;
    let simple = |r| Ok(Some((r, after)));
    match line {
        "STORED" => simple(Reply::Stored),
        "NOT_STORED" => simple(Reply::NotStored),
        "DELETED" => simple(Reply::Deleted),
        "NOT_FOUND" => simple(Reply::NotFound),
        "END" => simple(Reply::Value(None)),
        _ if line.starts_with("VALUE ") => {
            let mut parts = line.split(' ').skip(2);
            let _flags = parts.next();
            let len: usize = parts
                .next()
                .and_then(|l| l.parse().ok())
                .ok_or_else(|| Error::Server(format!("bad VALUE line `{line}`")))?;
            if len > MAX_VALUE_LEN {
                return Err(Error::Server(format!("value of {len} bytes is too large")));
            }
            let end = after + len;
            if buf.len() < end + 7 {
                return Ok(None);
            }
            if &buf[end..end + 7] != b"\r\nEND\r\n" {
                return Err(Error::Server("VALUE not followed by END".into()));
            }
            Ok(Some((Reply::Value(Some(buf[after..end].to_vec())), end + 7)))
        }
        _ => Err(Error::Server(line.chars().take(200).collect())),
    }
}

fn check_key(key: &str) -> Result<(), Error> {
    let ok = !key.is_empty() && key.len() <= MAX_KEY_LEN && key.bytes().all(|b| b > b' ' && b != 0x7f);
    if ok { Ok(()) } else { Err(Error::BadKey) }
}

/// A client of one memcached server (`127.0.0.1:11211`). Not `Send`: make one per process, in
/// `on_worker_start`. Calls are sequential on its one connection (`&mut self`); share it behind a
/// `tokio::sync::Mutex` or make one per task.
pub struct Client {
    addr: String,
    conn: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Client {
    /// A client for `addr`; it connects on first use.
    pub fn new(addr: &str) -> Client {
        Client {
            addr: addr.to_string(),
            conn: None,
            buf: Vec::new(),
        }
    }

    /// The server's address.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Stores `value` under `key` (no expiry).
    pub async fn set(&mut self, key: &str, value: &[u8]) -> Result<(), Error> {
        check_key(key)?;
        let mut req = format!("set {key} 0 0 {}\r\n", value.len()).into_bytes();
        req.extend_from_slice(value);
        req.extend_from_slice(b"\r\n");
        match self.call(&req).await? {
            Reply::Stored => Ok(()),
            other => Err(Error::Server(format!("{other:?}"))),
        }
    }

    /// The value under `key`, `None` when missing.
    pub async fn get(&mut self, key: &str) -> Result<Option<Vec<u8>>, Error> {
        check_key(key)?;
        match self.call(format!("get {key}\r\n").as_bytes()).await? {
            Reply::Value(v) => Ok(v),
            other => Err(Error::Server(format!("{other:?}"))),
        }
    }

    /// Deletes `key`; true if it existed.
    pub async fn delete(&mut self, key: &str) -> Result<bool, Error> {
        check_key(key)?;
        match self.call(format!("delete {key}\r\n").as_bytes()).await? {
            Reply::Deleted => Ok(true),
            Reply::NotFound => Ok(false),
            other => Err(Error::Server(format!("{other:?}"))),
        }
    }

    async fn call(&mut self, req: &[u8]) -> Result<Reply, Error> {
        let result = tokio::time::timeout(TIMEOUT, self.exchange(req)).await;
        let result = result.unwrap_or_else(|_| Err(Error::Io(std::io::ErrorKind::TimedOut.into())));
        if result.is_err() {
            // Whatever state the connection is in, the next call starts afresh.
            self.conn = None;
            self.buf.clear();
        }
        result
    }

    async fn exchange(&mut self, req: &[u8]) -> Result<Reply, Error> {
        if self.conn.is_none() {
            self.conn = Some(TcpStream::connect(&self.addr).await?);
        }
        let conn = self.conn.as_mut().expect("connected above");
        conn.write_all(req).await?;
        loop {
            if let Some((reply, n)) = parse_reply(&self.buf)? {
                self.buf.drain(..n);
                return Ok(reply);
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = conn.read(&mut chunk).await?;
            if n == 0 {
                return Err(Error::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_whole_and_split_at_every_byte() {
        let cases: &[(&[u8], Reply)] = &[
            (b"STORED\r\n", Reply::Stored),
            (b"NOT_STORED\r\n", Reply::NotStored),
            (b"DELETED\r\n", Reply::Deleted),
            (b"NOT_FOUND\r\n", Reply::NotFound),
            (b"END\r\n", Reply::Value(None)),
            (
                b"VALUE k 0 5\r\nhe\r\no\r\nEND\r\n",
                Reply::Value(Some(b"he\r\no".to_vec())),
            ),
            (b"VALUE k 7 0\r\n\r\nEND\r\n", Reply::Value(Some(Vec::new()))),
        ];
        for (wire, want) in cases {
            for cut in 0..wire.len() {
                assert_eq!(parse_reply(&wire[..cut]).unwrap(), None, "{wire:?} cut at {cut}");
            }
            let mut two = wire.to_vec();
            two.extend_from_slice(b"STORED\r\n");
            assert_eq!(parse_reply(&two).unwrap(), Some((want.clone(), wire.len())));
        }
    }

    #[test]
    fn errors_and_nonsense_are_errors() {
        for wire in [
            &b"ERROR\r\n"[..],
            b"SERVER_ERROR out of memory\r\n",
            b"CLIENT_ERROR bad data chunk\r\n",
            b"VALUE k 0 x\r\n",
            b"VALUE k 0 2\r\nabXXXXXXX",
            b"VALUE k 0 99999999999\r\n",
            b"\xff\xfe\r\n",
        ] {
            assert!(parse_reply(wire).is_err(), "{wire:?}");
        }
        assert!(parse_reply(&[b'x'; 400]).is_err());
        assert!(check_key("a b").is_err() && check_key("").is_err() && check_key(&"k".repeat(251)).is_err());
        assert!(check_key("user:42").is_ok());
    }
}
