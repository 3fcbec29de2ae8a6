//! Sessions: data kept per visitor between requests, found by a cookie (`PHPSID` by default).
//!
//! ```text
//!  request ──cookie PHPSID=<id>──► Sessions::start ──handler.read(id)──► Session (get/set/...)
//!                 (no/invalid id: new id, Set-Cookie queued on the connection's next response)
//!  session.save().await ──handler.write(id, data, lifetime)   (empty data: handler.destroy(id))
//! ```
//!
//! Handlers: [`FileSessionHandler`] (default; one file per session) and
//! [`RedisSessionHandler`] (`SETEX`), or your own [`SessionHandler`]. Handlers are async, so
//! session work runs in an async handler:
//!
//! ```no_run
//! use workerman::{Worker, protocol::Http};
//! use workerman::protocol::http::{HttpConnectionExt, Response, session::Sessions};
//!
//! let sessions = Sessions::file(std::env::temp_dir()).unwrap();
//! let worker = Worker::<Http>::new("http://0.0.0.0:2345").unwrap();
//! worker.on_message(move |conn, req| {
//!     let sessions = sessions.clone();
//!     conn.respond_with(async move {
//!         let Ok(mut session) = sessions.start(&req).await else {
//!             return Response::new(500);
//!         };
//!         let visits = session.get("visits").and_then(|v| v.parse().ok()).unwrap_or(0u64) + 1;
//!         session.set("visits", visits.to_string());
//!         if session.save().await.is_err() {
//!             return Response::new(500);
//!         }
//!         Response::from(format!("visit number {visits}"))
//!     });
//! });
//! ```

use std::collections::BTreeMap;
use std::future::Future;
use std::io::{self, Read};
use std::path::PathBuf;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use crate::protocol::http::{ReplyHeaders, Request, SetCookie};

mod file;
mod redis;

pub use file::FileSessionHandler;
pub use redis::{RedisConfig, RedisSessionHandler};

/// A boxed future, for object-safe async handler methods.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Where session data is kept (Workerman's `SessionHandlerInterface`).
pub trait SessionHandler {
    /// The data of session `id`, `None` when there is none (or it expired).
    fn read<'a>(&'a self, id: &'a str) -> BoxFuture<'a, io::Result<Option<Vec<u8>>>>;
    /// Stores `data` for `id`, to expire `lifetime` after this write.
    fn write<'a>(&'a self, id: &'a str, data: &'a [u8], lifetime: Duration) -> BoxFuture<'a, io::Result<()>>;
    /// Removes session `id`.
    fn destroy<'a>(&'a self, id: &'a str) -> BoxFuture<'a, io::Result<()>>;
    /// Removes sessions idle longer than `lifetime` (for stores without expiry); default nothing.
    fn gc<'a>(&'a self, lifetime: Duration) -> BoxFuture<'a, io::Result<()>> {
        let _ = lifetime;
        Box::pin(async { Ok(()) })
    }
}

/// Session settings (Workerman's `Session::$name`, `$lifetime`, `$cookieLifetime`, ...).
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// Cookie name. Default `PHPSID`.
    pub name: String,
    /// How long data lives after its last write. Default 1440 s.
    pub lifetime: Duration,
    /// The cookie's `Max-Age`; `None` (default): a browser-session cookie.
    pub cookie_lifetime: Option<Duration>,
    /// Cookie `Path`. Default `/`.
    pub path: String,
    /// Cookie `Domain`. Default none.
    pub domain: String,
    /// Cookie `Secure`. Default false.
    pub secure: bool,
    /// Cookie `HttpOnly`. Default true.
    pub http_only: bool,
    /// Cookie `SameSite` (`Lax`, `Strict`, `None`). Default none.
    pub same_site: String,
    /// One `gc` run per this many session starts, on average. Default 20000.
    pub gc_divisor: u32,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            name: "PHPSID".into(),
            lifetime: Duration::from_secs(1440),
            cookie_lifetime: None,
            path: "/".into(),
            domain: String::new(),
            secure: false,
            http_only: true,
            same_site: String::new(),
            gc_divisor: 20000,
        }
    }
}

struct Inner {
    config: SessionConfig,
    handler: Box<dyn SessionHandler>,
}

/// The session store of a worker process: a handler and the settings. Cheap to clone.
#[derive(Clone)]
pub struct Sessions {
    inner: Rc<Inner>,
}

impl Sessions {
    /// Sessions kept by `handler`, default settings.
    pub fn new(handler: impl SessionHandler + 'static) -> Self {
        Self::with_config(handler, SessionConfig::default())
    }

    /// Sessions kept by `handler` with `config`.
    pub fn with_config(handler: impl SessionHandler + 'static, config: SessionConfig) -> Self {
        Sessions {
            inner: Rc::new(Inner {
                config,
                handler: Box::new(handler),
            }),
        }
    }

    /// Sessions in files `session_<id>` under `dir` (created if missing).
    pub fn file(dir: impl Into<PathBuf>) -> io::Result<Self> {
        Ok(Self::new(FileSessionHandler::new(dir)?))
    }

    /// Sessions in Redis (see [`RedisConfig`]).
    pub fn redis(config: RedisConfig) -> Self {
        Self::new(RedisSessionHandler::new(config))
    }

    /// The settings.
    pub fn config(&self) -> &SessionConfig {
        &self.inner.config
    }

    /// The session of `req`: the one its cookie names if that id is valid, else a new one whose
    /// cookie is queued on the connection's next response.
    pub async fn start(&self, req: &Request) -> io::Result<Session> {
        let cfg = &self.inner.config;
        if cfg.gc_divisor > 0 && random_u32()? % cfg.gc_divisor == 0 {
            let _ = self.inner.handler.gc(cfg.lifetime).await;
        }
        let from_cookie = req
            .cookie(&cfg.name)
            .map(|v| v.trim_matches('"'))
            .filter(|id| valid_id(id));
        let mut session = Session {
            id: String::new(),
            data: BTreeMap::new(),
            modified: false,
            sessions: self.clone(),
            req_cookie: None,
        };
        match from_cookie {
            // Strict mode: an id the store does not know is not adopted (a planted id would
            // otherwise become the victim's session: fixation); a fresh one is issued.
            Some(id) => match self.inner.handler.read(id).await? {
                Some(raw) => {
                    session.id = id.to_string();
                    session.data = decode(&raw);
                }
                None => {
                    session.id = new_id()?;
                    session.queue_cookie(req);
                }
            },
            None => {
                session.id = new_id()?;
                session.queue_cookie(req);
            }
        }
        session.req_cookie = req.reply_handle().map(CookieQueue);
        Ok(session)
    }

    fn cookie(&self, id: &str) -> String {
        let cfg = &self.inner.config;
        let mut c = SetCookie::new(&cfg.name, id)
            .raw()
            .path(&cfg.path)
            .domain(&cfg.domain)
            .secure(cfg.secure)
            .http_only(cfg.http_only)
            .same_site(&cfg.same_site);
        if let Some(l) = cfg.cookie_lifetime {
            c = c.max_age(l.as_secs() as i64);
        }
        c.to_string()
    }
}

/// Queues Set-Cookie on the request's connection after `start` returned.
struct CookieQueue(Rc<dyn ReplyHeaders>);

/// One visitor's session: string keys and values. Changes are kept by [`Session::save`].
pub struct Session {
    id: String,
    data: BTreeMap<String, String>,
    modified: bool,
    sessions: Sessions,
    req_cookie: Option<CookieQueue>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("id", &self.id)
            .field("data", &self.data)
            .finish()
    }
}

impl Session {
    fn queue_cookie(&self, req: &Request) {
        req.queue_response_header("Set-Cookie", self.sessions.cookie(&self.id));
    }

    /// The session id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.data.get(name).map(String::as_str)
    }

    /// Sets `name` to `value`.
    pub fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.data.insert(name.into(), value.into());
        self.modified = true;
    }

    /// Sets several values.
    pub fn put<K: Into<String>, V: Into<String>>(&mut self, values: impl IntoIterator<Item = (K, V)>) {
        for (k, v) in values {
            self.set(k, v);
        }
    }

    /// Removes `name`.
    pub fn delete(&mut self, name: &str) {
        self.modified |= self.data.remove(name).is_some();
    }

    /// Removes and returns `name`.
    pub fn pull(&mut self, name: &str) -> Option<String> {
        let v = self.data.remove(name);
        self.modified |= v.is_some();
        v
    }

    /// Whether `name` is set.
    pub fn has(&self, name: &str) -> bool {
        self.data.contains_key(name)
    }

    /// Every value.
    pub fn all(&self) -> &BTreeMap<String, String> {
        &self.data
    }

    /// Removes every value (the record is destroyed on save).
    pub fn flush(&mut self) {
        self.modified |= !self.data.is_empty();
        self.data.clear();
    }

    /// Writes the data if it changed (empty data destroys the record).
    pub async fn save(&mut self) -> io::Result<()> {
        if !self.modified {
            return Ok(());
        }
        let handler = &self.sessions.inner.handler;
        if self.data.is_empty() {
            handler.destroy(&self.id).await?;
        } else {
            handler
                .write(&self.id, &encode(&self.data), self.sessions.inner.config.lifetime)
                .await?;
        }
        self.modified = false;
        Ok(())
    }

    /// Moves the data to a new id (against session fixation after a login) and queues the new
    /// cookie; with `delete_old`, the old record is removed.
    pub async fn regenerate_id(&mut self, delete_old: bool) -> io::Result<()> {
        let old = std::mem::replace(&mut self.id, new_id()?);
        if delete_old {
            self.sessions.inner.handler.destroy(&old).await?;
        }
        self.modified = true;
        if let Some(q) = &self.req_cookie {
            q.0.queue("Set-Cookie", self.sessions.cookie(&self.id));
        }
        self.save().await
    }
}

/// `^[a-zA-Z0-9,-]{16,256}$`
fn valid_id(id: &str) -> bool {
    (16..=256).contains(&id.len()) && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b',' || b == b'-')
}

fn random_bytes(buf: &mut [u8]) -> io::Result<()> {
    std::fs::File::open("/dev/urandom")?.read_exact(buf)
}

fn random_u32() -> io::Result<u32> {
    let mut b = [0u8; 4];
    random_bytes(&mut b)?;
    Ok(u32::from_le_bytes(b))
}

/// 32 random alphanumeric characters.
fn new_id() -> io::Result<String> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut b = [0u8; 32];
    random_bytes(&mut b)?;
    Ok(b.iter()
        .map(|&x| ALPHABET[x as usize % ALPHABET.len()] as char)
        .collect())
}

/// Data format: for each entry, key length and value length (u32 LE) then the bytes.
fn encode(data: &BTreeMap<String, String>) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in data {
        out.extend_from_slice(&(k.len() as u32).to_le_bytes());
        out.extend_from_slice(&(v.len() as u32).to_le_bytes());
        out.extend_from_slice(k.as_bytes());
        out.extend_from_slice(v.as_bytes());
    }
    out
}

/// Reads what [`encode`] wrote; stops at the first malformed entry.
fn decode(mut raw: &[u8]) -> BTreeMap<String, String> {
    let mut map = BTreeMap::new();
    while raw.len() >= 8 {
        let k = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]) as usize;
        let v = u32::from_le_bytes([raw[4], raw[5], raw[6], raw[7]]) as usize;
        let rest = &raw[8..];
        if rest.len() < k.saturating_add(v) {
            break;
        }
        let (Ok(key), Ok(val)) = (std::str::from_utf8(&rest[..k]), std::str::from_utf8(&rest[k..k + v])) else {
            break;
        };
        map.insert(key.to_string(), val.to_string());
        raw = &rest[k + v..];
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn request(cookie: Option<&str>) -> Request {
        let mut b = http::Request::builder().uri("/");
        if let Some(c) = cookie {
            b = b.header("cookie", c);
        }
        Request::try_from(b.body(Vec::<u8>::new()).unwrap()).unwrap()
    }

    #[test]
    fn data_round_trip() {
        let mut m = BTreeMap::new();
        m.insert("a".to_string(), "1".to_string());
        m.insert("ключ".to_string(), String::new());
        assert_eq!(decode(&encode(&m)), m);
        assert!(decode(b"\xff\xff\xff\xff\0\0\0\0").is_empty());
    }

    #[test]
    fn ids() {
        let id = new_id().unwrap();
        assert!(valid_id(&id));
        assert!(!valid_id("short"));
        assert!(!valid_id("aaaaaaaaaaaaaaaaaaaa/"));
    }

    #[test]
    fn file_sessions_persist_regenerate_and_flush() {
        let dir = std::env::temp_dir().join(format!("wm-sess-{}", std::process::id()));
        let sessions = Sessions::file(&dir).unwrap();
        block_on(async {
            let req = request(None);
            let mut s = sessions.start(&req).await.unwrap();
            let id = s.id().to_string();
            s.set("n", "1");
            s.save().await.unwrap();
            assert!(dir.join(format!("session_{id}")).exists());
            let req2 = request(Some(&format!("PHPSID={id}")));
            let mut s2 = sessions.start(&req2).await.unwrap();
            assert_eq!((s2.id(), s2.get("n")), (id.as_str(), Some("1")));
            s2.regenerate_id(true).await.unwrap();
            assert_ne!(s2.id(), id);
            assert!(!dir.join(format!("session_{id}")).exists());
            let new_id = s2.id().to_string();
            let req3 = request(Some(&format!("PHPSID=\"{new_id}\"")));
            let mut s3 = sessions.start(&req3).await.unwrap();
            assert_eq!(s3.get("n"), Some("1"));
            s3.flush();
            s3.save().await.unwrap();
            assert!(!dir.join(format!("session_{new_id}")).exists());
        });
        let _ = std::fs::remove_dir_all(&dir);
    }
}
