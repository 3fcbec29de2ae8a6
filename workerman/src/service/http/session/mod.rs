//! Sessions: data kept per visitor between requests, found by a cookie (`PHPSID` by default).
//! Values are typed (anything `serde` can serialize), the session is loaded from its store on
//! first use, and saved automatically once the handler has its response.
//!
//! ```text
//!  sessions.handle(req, |req, session| async { .. })           no store access yet (lazy)
//!     session.get::<T>("k").await ──first use──► handler.read(cookie id)   (no cookie: none)
//!     session.set("k", v).await   (changes kept in memory)
//!  handler returns its Response ──► auto-save: handler.write(id, data, lifetime)
//!     (empty data: destroy; unchanged: nothing, or update_timestamp with auto_update_timestamp;
//!      a new id's Set-Cookie joins the response)   ──► the response is written
//! ```
//!
//! Handlers: [`FileSessionHandler`] (default; one file per session), `RedisSessionHandler`
//! (cargo feature `redis`) and `RedisClusterSessionHandler` (feature `redis-cluster`), or your own
//! [`SessionHandler`]. Handlers are async, so session work runs in an async handler:
//!
//! ```no_run
//! use workerman::{Worker, protocol::Http};
//! use workerman::protocol::http::{HttpConnectionExt, Response, session::Sessions};
//!
//! let sessions = Sessions::file(std::env::temp_dir()).unwrap();
//! let worker = Worker::<Http>::new("http://0.0.0.0:2345").unwrap();
//! worker.on_message(move |conn, req| {
//!     conn.respond_with(sessions.handle(req, |_req, session| async move {
//!         let visits = session.get::<u64>("visits").await?.unwrap_or(0) + 1;
//!         session.set("visits", visits).await?;
//!         Ok::<_, std::io::Error>(format!("visit number {visits}"))
//!     }));
//! });
//! ```

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::future::Future;
use std::io::{self, Read};
use std::path::PathBuf;
use std::pin::Pin;
use std::rc::Rc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::protocol::http::{PendingHeaders, Request, Response, SetCookie};

mod file;
#[cfg(feature = "redis")]
mod redis;

pub use file::FileSessionHandler;
#[cfg(feature = "redis-cluster")]
pub use redis::{RedisClusterConfig, RedisClusterSessionHandler};
#[cfg(feature = "redis")]
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
    /// Restarts the lifetime of session `id` without rewriting it (Workerman's
    /// `updateTimestamp`); default nothing.
    fn update_timestamp<'a>(&'a self, id: &'a str, lifetime: Duration) -> BoxFuture<'a, io::Result<()>> {
        let _ = (id, lifetime);
        Box::pin(async { Ok(()) })
    }
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
    /// One `gc` run per this many session loads, on average. Default 20000.
    pub gc_divisor: u32,
    /// A session that was read but not changed gets its lifetime restarted when it is saved
    /// ([`Session::refresh`]), so an active visitor's session does not expire between writes
    /// (Workerman's `Session::$autoUpdateTimestamp`). Default false.
    pub auto_update_timestamp: bool,
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
            auto_update_timestamp: false,
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
    #[cfg(feature = "redis")]
    pub fn redis(config: RedisConfig) -> Self {
        Self::new(RedisSessionHandler::new(config))
    }

    /// Sessions in a Redis Cluster (see [`RedisClusterConfig`]).
    #[cfg(feature = "redis-cluster")]
    pub fn redis_cluster(config: RedisClusterConfig) -> Self {
        Self::new(RedisClusterSessionHandler::new(config))
    }

    /// The settings.
    pub fn config(&self) -> &SessionConfig {
        &self.inner.config
    }

    /// The session of `req`, not loaded yet: the store is read on the first access, and not at
    /// all by a request that never touches it (or has no session cookie). Unsaved changes are
    /// saved when the last handle is dropped (see [`Session::set_auto_save`]);
    /// [`Sessions::handle`] saves before the response is written instead.
    pub fn session(&self, req: &Request) -> Session {
        let cfg = &self.inner.config;
        let cookie_id = req
            .cookie(&cfg.name)
            .map(|v| v.trim_matches('"'))
            .filter(|id| valid_id(id))
            .map(str::to_string);
        Session {
            shared: Rc::new(Shared {
                sessions: self.clone(),
                cookie_id,
                reply: req.reply_handle(),
                st: RefCell::new(State {
                    auto_save: true,
                    ..State::default()
                }),
            }),
        }
    }

    /// The session of `req`, loaded now (the eager form of [`Sessions::session`]).
    pub async fn start(&self, req: &Request) -> io::Result<Session> {
        let s = self.session(req);
        s.load().await?;
        Ok(s)
    }

    /// Runs `handler` with the (lazy) session of `req`, then saves the session (unless the
    /// handler called [`Session::set_auto_save`]`(false)`) before the response goes out, so the
    /// visitor's next request sees the change and a new session's cookie is in this response.
    /// A failed save is logged and answered with 500 instead. A handler's `Err` is logged and
    /// answered with 500 too (nothing is saved then). Use it with
    /// [`respond_with`](crate::protocol::http::HttpConnectionExt::respond_with).
    pub fn handle<F, Fut, R, E>(&self, req: Request, handler: F) -> impl Future<Output = Response> + 'static
    where
        F: FnOnce(Request, Session) -> Fut,
        Fut: Future<Output = Result<R, E>> + 'static,
        R: Into<Response>,
        E: std::fmt::Display,
    {
        let session = self.session(&req);
        let fut = handler(req, session.clone());
        async move {
            let resp = match fut.await {
                Ok(r) => r.into(),
                Err(e) => {
                    session.set_auto_save(false);
                    crate::Worker::log(&format!("session handler failed: {e}"));
                    return Response::new(500);
                }
            };
            let save = session.shared.st.borrow().auto_save;
            if save && let Err(e) = session.save().await {
                session.set_auto_save(false);
                crate::Worker::log(&format!("session save failed: {e}"));
                return Response::new(500);
            }
            session.set_auto_save(false);
            resp
        }
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

#[derive(Default)]
struct State {
    loaded: bool,
    /// The session id (empty until loaded).
    id: String,
    /// The store holds a record for `id` (it was read, or written by us).
    stored: bool,
    /// The visitor has (or is being sent) the cookie for `id`.
    cookie_sent: bool,
    data: BTreeMap<String, Value>,
    modified: bool,
    auto_save: bool,
}

struct Shared {
    sessions: Sessions,
    /// A well-formed id from the request's cookie, to be looked up on load.
    cookie_id: Option<String>,
    reply: Option<Rc<PendingHeaders>>,
    st: RefCell<State>,
}

/// What saving must do to the store.
enum Action {
    Nothing,
    Write(Vec<u8>),
    Destroy,
    Touch,
}

impl Shared {
    fn queue_cookie(&self, st: &mut State) {
        if !st.cookie_sent {
            st.cookie_sent = true;
            if let Some(r) = &self.reply {
                r.queue("Set-Cookie", self.sessions.cookie(&st.id));
            }
        }
    }

    /// Decides what a save does, marks the state saved, and returns the id with the action.
    fn take_save(&self) -> (String, Action) {
        let mut st = self.st.borrow_mut();
        if !st.loaded {
            return (String::new(), Action::Nothing);
        }
        let action = if st.modified {
            if st.data.is_empty() {
                if st.stored { Action::Destroy } else { Action::Nothing }
            } else {
                self.queue_cookie(&mut st);
                Action::Write(encode(&st.data))
            }
        } else if st.stored && self.sessions.inner.config.auto_update_timestamp {
            Action::Touch
        } else {
            Action::Nothing
        };
        st.modified = false;
        (st.id.clone(), action)
    }
}

async fn run_action(sessions: &Sessions, id: &str, action: Action) -> io::Result<()> {
    let h = &sessions.inner.handler;
    let lifetime = sessions.inner.config.lifetime;
    match action {
        Action::Nothing => Ok(()),
        Action::Write(data) => h.write(id, &data, lifetime).await,
        Action::Destroy => h.destroy(id).await,
        Action::Touch => h.update_timestamp(id, lifetime).await,
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        let st = self.st.get_mut();
        let (auto_save, loaded) = (st.auto_save, st.loaded);
        if !auto_save || !loaded {
            return;
        }
        let (id, action) = self.take_save();
        if matches!(action, Action::Nothing) {
            return;
        }
        if tokio::runtime::Handle::try_current().is_err() {
            crate::Worker::log(&format!(
                "session {id}: changes not saved (dropped outside the event loop)"
            ));
            return;
        }
        let sessions = self.sessions.clone();
        crate::spawn(async move {
            if let Err(e) = run_action(&sessions, &id, action).await {
                crate::Worker::log(&format!("session save failed: {e}"));
            }
        });
    }
}

/// One visitor's session: named values of any `serde` type (kept as JSON). A cheap handle
/// (clones share the data); loaded from the store on first use, see [`Sessions::session`].
///
/// Workerman's `Session` methods, async here because the first one may read the store:
/// `get`, `set`, `put`, `delete`, `forget`, `pull`, `has`, `exists`, `all`, `flush`, `save`,
/// `refresh`, `regenerate_id` (PHP's `session_regenerate_id`).
#[derive(Clone)]
pub struct Session {
    shared: Rc<Shared>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let st = self.shared.st.borrow();
        f.debug_struct("Session")
            .field("id", &st.id)
            .field("loaded", &st.loaded)
            .field("data", &st.data)
            .finish()
    }
}

fn invalid(e: serde_json::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

impl Session {
    /// Reads the session from the store unless that happened already. Every other method
    /// does it when needed; a request without a (valid) session cookie reads nothing and gets a
    /// new id.
    pub async fn load(&self) -> io::Result<()> {
        if self.shared.st.borrow().loaded {
            return Ok(());
        }
        let sessions = &self.shared.sessions;
        let cfg = &sessions.inner.config;
        if cfg.gc_divisor > 0 && random_u32()? % cfg.gc_divisor == 0 {
            let _ = sessions.inner.handler.gc(cfg.lifetime).await;
        }
        let found = match &self.shared.cookie_id {
            Some(id) => sessions.inner.handler.read(id).await?,
            None => None,
        };
        let mut st = self.shared.st.borrow_mut();
        if st.loaded {
            return Ok(());
        }
        match (found, &self.shared.cookie_id) {
            (Some(raw), Some(id)) => {
                st.id = id.clone();
                st.data = decode(&raw);
                st.stored = true;
                st.cookie_sent = true;
            }
            // Strict mode: an id the store does not know is not adopted (a planted id would
            // otherwise become the victim's session: fixation); a fresh one is issued when
            // something is saved.
            _ => st.id = new_id()?,
        }
        st.loaded = true;
        Ok(())
    }

    /// Whether the store was read already (or the session was known to be new).
    pub fn is_loaded(&self) -> bool {
        self.shared.st.borrow().loaded
    }

    /// Turns saving on drop / after [`Sessions::handle`]'s handler on or off (default on).
    /// Off: changes are kept only by an explicit [`Session::save`].
    pub fn set_auto_save(&self, on: bool) {
        self.shared.st.borrow_mut().auto_save = on;
    }

    async fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> io::Result<T> {
        self.load().await?;
        Ok(f(&mut self.shared.st.borrow_mut()))
    }

    /// The session id. A new session's cookie is queued on the response from now on.
    pub async fn id(&self) -> io::Result<String> {
        self.load().await?;
        let mut st = self.shared.st.borrow_mut();
        self.shared.queue_cookie(&mut st);
        Ok(st.id.clone())
    }

    /// The value of `name` as a `T`: `None` when missing (or null), an `InvalidData` error when
    /// it is not a `T`.
    pub async fn get<T: DeserializeOwned>(&self, name: &str) -> io::Result<Option<T>> {
        match self.get_value(name).await? {
            None | Some(Value::Null) => Ok(None),
            Some(v) => serde_json::from_value(v).map(Some).map_err(invalid),
        }
    }

    /// The value of `name` as JSON.
    pub async fn get_value(&self, name: &str) -> io::Result<Option<Value>> {
        self.with(|st| st.data.get(name).cloned()).await
    }

    /// Sets `name` to `value` (anything `serde` serializes: numbers, strings, structs, ...).
    pub async fn set(&self, name: impl Into<String>, value: impl Serialize) -> io::Result<()> {
        let v = serde_json::to_value(value).map_err(invalid)?;
        let name = name.into();
        self.with(|st| {
            st.data.insert(name, v);
            st.modified = true;
        })
        .await
    }

    /// Sets several values.
    pub async fn put<K: Into<String>, V: Serialize>(&self, values: impl IntoIterator<Item = (K, V)>) -> io::Result<()> {
        let mut vals = Vec::new();
        for (k, v) in values {
            vals.push((k.into(), serde_json::to_value(v).map_err(invalid)?));
        }
        self.with(|st| {
            st.modified |= !vals.is_empty();
            st.data.extend(vals);
        })
        .await
    }

    /// Removes `name`.
    pub async fn delete(&self, name: &str) -> io::Result<()> {
        self.forget([name]).await
    }

    /// Removes every name in `names` (Workerman's `forget`).
    pub async fn forget<S: AsRef<str>>(&self, names: impl IntoIterator<Item = S>) -> io::Result<()> {
        self.load().await?;
        let mut st = self.shared.st.borrow_mut();
        for n in names {
            st.modified |= st.data.remove(n.as_ref()).is_some();
        }
        Ok(())
    }

    /// Removes `name` and returns its value as a `T`.
    pub async fn pull<T: DeserializeOwned>(&self, name: &str) -> io::Result<Option<T>> {
        let v = self
            .with(|st| {
                let v = st.data.remove(name);
                st.modified |= v.is_some();
                v
            })
            .await?;
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(v) => serde_json::from_value(v).map(Some).map_err(invalid),
        }
    }

    /// Whether `name` is set to something other than null (PHP's `isset`).
    pub async fn has(&self, name: &str) -> io::Result<bool> {
        self.with(|st| st.data.get(name).is_some_and(|v| !v.is_null())).await
    }

    /// Whether `name` is present, even as null (PHP's `array_key_exists`).
    pub async fn exists(&self, name: &str) -> io::Result<bool> {
        self.with(|st| st.data.contains_key(name)).await
    }

    /// Every value.
    pub async fn all(&self) -> io::Result<BTreeMap<String, Value>> {
        self.with(|st| st.data.clone()).await
    }

    /// Removes every value (the record is destroyed on save).
    pub async fn flush(&self) -> io::Result<()> {
        self.with(|st| {
            st.modified |= !st.data.is_empty();
            st.data.clear();
        })
        .await
    }

    /// Writes the data now if it changed (empty data destroys the record); unchanged data
    /// gets its lifetime restarted when [`SessionConfig::auto_update_timestamp`] is on. Not
    /// needed with auto-save, but allowed (a second save has nothing to do).
    pub async fn save(&self) -> io::Result<()> {
        let (id, action) = self.shared.take_save();
        let write = matches!(action, Action::Write(_) | Action::Destroy);
        let r = run_action(&self.shared.sessions, &id, action).await;
        let mut st = self.shared.st.borrow_mut();
        match &r {
            Ok(()) if write => st.stored = !st.data.is_empty(),
            Err(_) if write => st.modified = true,
            _ => {}
        }
        r
    }

    /// Restarts the session's lifetime in the store without rewriting it (Workerman's
    /// `refresh`: the handler's `update_timestamp`). Nothing for a session not stored yet.
    pub async fn refresh(&self) -> io::Result<()> {
        self.load().await?;
        let (id, stored) = {
            let st = self.shared.st.borrow();
            (st.id.clone(), st.stored)
        };
        if !stored {
            return Ok(());
        }
        let s = &self.shared.sessions.inner;
        s.handler.update_timestamp(&id, s.config.lifetime).await
    }

    /// Moves the data to a new id (against session fixation after a login), queues the new
    /// cookie and writes the data under the new id; with `delete_old`, the old record is
    /// removed.
    pub async fn regenerate_id(&self, delete_old: bool) -> io::Result<()> {
        self.load().await?;
        let (old, was_stored) = {
            let mut st = self.shared.st.borrow_mut();
            let old = std::mem::replace(&mut st.id, new_id()?);
            st.cookie_sent = false;
            st.modified = true;
            self.shared.queue_cookie(&mut st);
            let was = std::mem::replace(&mut st.stored, false);
            (old, was)
        };
        if delete_old && was_stored {
            self.shared.sessions.inner.handler.destroy(&old).await?;
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

/// Data format: a JSON object of the values.
fn encode(data: &BTreeMap<String, Value>) -> Vec<u8> {
    serde_json::to_vec(data).expect("a map of JSON values serializes")
}

/// Reads what [`encode`] wrote; anything else is an empty session.
fn decode(raw: &[u8]) -> BTreeMap<String, Value> {
    serde_json::from_slice(raw).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block_on<F: Future>(f: F) -> F::Output {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        tokio::task::LocalSet::new().block_on(&rt, f)
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
        m.insert("a".to_string(), Value::from(1));
        m.insert("ключ".to_string(), Value::from(vec!["x", "y"]));
        assert_eq!(decode(&encode(&m)), m);
        assert!(decode(b"\xff\xff\xff\xff\0\0\0\0").is_empty());
        assert!(decode(b"[1,2]").is_empty());
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
            let s = sessions.start(&req).await.unwrap();
            let id = s.id().await.unwrap();
            s.set("n", 1).await.unwrap();
            s.save().await.unwrap();
            assert!(dir.join(format!("session_{id}")).exists());
            let req2 = request(Some(&format!("PHPSID={id}")));
            let s2 = sessions.session(&req2);
            assert!(!s2.is_loaded());
            assert_eq!(s2.get::<u32>("n").await.unwrap(), Some(1));
            assert_eq!(s2.id().await.unwrap(), id);
            assert!(s2.get::<String>("n").await.is_err(), "a number is not a string");
            s2.regenerate_id(true).await.unwrap();
            let new_id = s2.id().await.unwrap();
            assert_ne!(new_id, id);
            assert!(!dir.join(format!("session_{id}")).exists());
            let req3 = request(Some(&format!("PHPSID=\"{new_id}\"")));
            let s3 = sessions.start(&req3).await.unwrap();
            assert_eq!(s3.get::<u32>("n").await.unwrap(), Some(1));
            s3.set("gone", ()).await.unwrap();
            assert!(s3.exists("gone").await.unwrap() && !s3.has("gone").await.unwrap());
            s3.flush().await.unwrap();
            s3.save().await.unwrap();
            assert!(!dir.join(format!("session_{new_id}")).exists());
        });
        let _ = std::fs::remove_dir_all(&dir);
    }
}
