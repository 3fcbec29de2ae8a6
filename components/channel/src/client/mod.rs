//! [`ChannelClient`]: subscribe to events, publish them, and consume work queues, through the
//! built-in Channel server (`channel://host:2206`, `unix:///path`) or Redis (`redis://host/db`).
//!
//! The client is per process and single-threaded (callbacks can hold `Rc`s and connections):
//! it runs on the current thread's tokio `LocalSet` — a worker process's event loop, or a
//! `LocalSet` in a plain tokio program. The client keeps what it subscribed to and watches, and
//! restores all of it after every reconnect.

mod backoff;
mod frame;
#[cfg(feature = "redis")]
mod redis;

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::rc::Rc;
use std::time::Duration;

use php_serialize::Value;

use crate::error::ChannelError;
use crate::wire::{Name, NameKey};

pub use backoff::Backoff;

/// Bytes of publishes and enqueues held while disconnected (or not yet written) by default.
pub const DEFAULT_MAX_PENDING_BYTES: usize = 4 * 1024 * 1024;

/// How long a Redis queue item may stay unacknowledged before another consumer claims it, by
/// default (`?claim_timeout_ms=` in the URL changes it).
pub const DEFAULT_CLAIM_TIMEOUT: Duration = Duration::from_secs(30);

type EventCb = Rc<dyn Fn(Value)>;
type FallbackCb = Rc<dyn Fn(&str, Value)>;

struct Sub {
    name: Name,
    cb: Option<EventCb>,
}

struct Watch {
    name: Name,
    cb: EventCb,
    auto_reserve: bool,
}

/// Options of a [`ChannelClient`], set before [`ChannelClient::connect_with`].
#[derive(Debug, Clone)]
pub struct Options {
    /// Shared secret sent as `auth` first (our extension; the server must have the same one).
    pub secret: Option<Vec<u8>>,
    /// Bound on publishes/enqueues waiting to be written (default [`DEFAULT_MAX_PENDING_BYTES`]).
    pub max_pending_bytes: usize,
    /// Heartbeat period towards the built-in server (PHP's `Client::$pingInterval`, 55 s).
    pub ping_interval: Duration,
    /// Largest frame accepted from the server (default 10 MiB).
    pub max_package_size: usize,
    /// Redis: unacknowledged items older than this are claimed by another consumer.
    pub claim_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            secret: None,
            max_pending_bytes: DEFAULT_MAX_PENDING_BYTES,
            ping_interval: Duration::from_secs(55),
            max_package_size: crate::server::DEFAULT_MAX_PACKAGE_SIZE,
            claim_timeout: DEFAULT_CLAIM_TIMEOUT,
        }
    }
}

enum Link {
    Frame(Rc<frame::FrameLink>),
    #[cfg(feature = "redis")]
    Redis(Rc<redis::RedisLink>),
}

/// What every backend shares: the callbacks and everything to restore after a reconnect.
pub(crate) struct Core {
    subs: RefCell<BTreeMap<NameKey, Sub>>,
    watches: RefCell<BTreeMap<NameKey, Watch>>,
    fallback: RefCell<Option<FallbackCb>>,
    on_connect: RefCell<Option<Rc<dyn Fn()>>>,
    unhandled_logged: Cell<bool>,
    closed: Cell<bool>,
}

impl Core {
    /// Names of every subscribed event.
    pub(crate) fn subscribed(&self) -> Vec<Name> {
        self.subs.borrow().values().map(|s| s.name.clone()).collect()
    }

    /// Names of every watched queue, and whether any auto-reserves.
    pub(crate) fn watched(&self) -> (Vec<Name>, bool) {
        let w = self.watches.borrow();
        (
            w.values().map(|w| w.name.clone()).collect(),
            w.values().any(|w| w.auto_reserve),
        )
    }

    #[cfg_attr(not(feature = "redis"), allow(dead_code))]
    pub(crate) fn is_watched(&self, key: &NameKey) -> Option<bool> {
        self.watches.borrow().get(key).map(|w| w.auto_reserve)
    }

    pub(crate) fn closed(&self) -> bool {
        self.closed.get()
    }

    pub(crate) fn connected(&self) {
        let cb = self.on_connect.borrow().clone();
        if let Some(cb) = cb {
            cb();
        }
    }

    /// Calls the callback of an event; events nobody handles are logged once (PHP throws).
    pub(crate) fn deliver_event(&self, name: &Name, data: Value) {
        let cb = self.subs.borrow().get(&name.key).and_then(|s| s.cb.clone());
        if let Some(cb) = cb {
            return cb(data);
        }
        let fallback = self.fallback.borrow().clone();
        if let Some(cb) = fallback {
            return cb(&name.text(), data);
        }
        if !self.unhandled_logged.replace(true) {
            log(&format!("event:{} has no callback (dropped; logged once)", name.text()));
        }
    }

    /// Calls the callback of a queue; returns whether it auto-reserves, `None` when the queue
    /// is not watched (any more).
    pub(crate) fn deliver_queue(&self, name: &Name, data: Value) -> Option<bool> {
        let w = self
            .watches
            .borrow()
            .get(&name.key)
            .map(|w| (w.cb.clone(), w.auto_reserve));
        match w {
            Some((cb, auto)) => {
                cb(data);
                Some(auto)
            }
            None => {
                log(&format!("queue:{} is not watched (item not handled)", name.text()));
                None
            }
        }
    }
}

/// A Channel client: one per process, cheap to clone (all clones share one connection).
///
/// ```no_run
/// use workerman_channel::{ChannelClient, Value};
/// # fn in_a_worker() -> Result<(), workerman_channel::ChannelError> {
/// let channel = ChannelClient::connect("channel://127.0.0.1:2206")?;
/// channel.on("news", |data: Value| println!("news: {data:?}"));
/// channel.publish("news", "hello")?;
/// channel.watch("jobs", |job: Value| println!("job {job:?}"));
/// channel.enqueue("jobs", 42)?;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct ChannelClient {
    core: Rc<Core>,
    link: Rc<Link>,
}

impl ChannelClient {
    /// Connects to `url` with default [`Options`]; see [`connect_with`](Self::connect_with).
    pub fn connect(url: &str) -> Result<ChannelClient, ChannelError> {
        Self::connect_with(url, Options::default())
    }

    /// Starts connecting to `url` in the background and returns at once; commands made before
    /// the connection is up are sent once it is. URLs: `channel://host:port` (also `frame://`,
    /// `tcp://` or a bare `host:port`), `unix:///path/to.sock`, `redis://host:port/db`
    /// (`?claim_timeout_ms=N` sets [`Options::claim_timeout`]).
    ///
    /// # Panics
    /// Outside a tokio `LocalSet` (a worker process's event loop is one).
    pub fn connect_with(url: &str, options: Options) -> Result<ChannelClient, ChannelError> {
        let core = Rc::new(Core {
            subs: RefCell::new(BTreeMap::new()),
            watches: RefCell::new(BTreeMap::new()),
            fallback: RefCell::new(None),
            on_connect: RefCell::new(None),
            unhandled_logged: Cell::new(false),
            closed: Cell::new(false),
        });
        let link = if url.starts_with("redis://") || url.starts_with("rediss://") {
            #[cfg(feature = "redis")]
            {
                Link::Redis(redis::RedisLink::start(url, options, core.clone())?)
            }
            #[cfg(not(feature = "redis"))]
            {
                return Err(ChannelError::Url(format!("{url}: built without the `redis` feature")));
            }
        } else {
            Link::Frame(frame::FrameLink::start(url, options, core.clone())?)
        };
        Ok(ChannelClient {
            core,
            link: Rc::new(link),
        })
    }

    /// Calls `f` with the data of every `event` published on it (replacing an earlier callback),
    /// and subscribes.
    pub fn on(&self, event: &str, f: impl Fn(Value) + 'static) {
        self.subscribe_with(Name::new(event), Some(Rc::new(f)));
    }

    /// Subscribes without a callback: events go to [`on_message`](Self::on_message).
    pub fn subscribe(&self, event: &str) {
        self.subscribe_with(Name::new(event), None);
    }

    fn subscribe_with(&self, name: Name, cb: Option<EventCb>) {
        let new = {
            let mut subs = self.core.subs.borrow_mut();
            let new = !subs.contains_key(&name.key);
            subs.insert(name.key.clone(), Sub { name: name.clone(), cb });
            new
        };
        if new {
            match &*self.link {
                Link::Frame(l) => l.command("subscribe", &[name], None),
                #[cfg(feature = "redis")]
                Link::Redis(l) => l.subscribe(&[name]),
            }
        }
    }

    /// Receives events that have no callback of their own (PHP's `Client::$onMessage`).
    pub fn on_message(&self, f: impl Fn(&str, Value) + 'static) {
        *self.core.fallback.borrow_mut() = Some(Rc::new(f));
    }

    /// Called on every (re)connect, once subscriptions and watches have been sent again.
    pub fn on_connect(&self, f: impl Fn() + 'static) {
        *self.core.on_connect.borrow_mut() = Some(Rc::new(f));
    }

    /// Stops receiving `event` and forgets its callback.
    pub fn unsubscribe(&self, event: &str) {
        let name = Name::new(event);
        if self.core.subs.borrow_mut().remove(&name.key).is_none() {
            return;
        }
        match &*self.link {
            Link::Frame(l) => l.command("unsubscribe", &[name], None),
            #[cfg(feature = "redis")]
            Link::Redis(l) => l.unsubscribe(&[name]),
        }
    }

    /// Publishes `data` to every subscriber of `event` in every process (and host, with Redis).
    /// Queued while disconnected; [`ChannelError::Backlog`] when the queue is full.
    pub fn publish(&self, event: &str, data: impl Into<Value>) -> Result<(), ChannelError> {
        self.publish_many(&[event], data.into(), false)
    }

    /// Publishes to several events at once.
    pub fn publish_many(&self, events: &[&str], data: Value, round_robin: bool) -> Result<(), ChannelError> {
        let names: Vec<Name> = events.iter().map(|e| Name::new(e)).collect();
        match &*self.link {
            Link::Frame(l) => l.data(if round_robin { "publishLoop" } else { "publish" }, &names, &data),
            #[cfg(feature = "redis")]
            Link::Redis(l) => {
                if round_robin {
                    return Err(ChannelError::Unsupported("publishLoop on the Redis backend"));
                }
                l.publish(&names, &data)
            }
        }
    }

    /// Publishes `data` to ONE subscriber of `event`, in turn (PHP's `publish($e, $d, true)`,
    /// built-in server only).
    pub fn publish_loop(&self, event: &str, data: impl Into<Value>) -> Result<(), ChannelError> {
        self.publish_many(&[event], data.into(), true)
    }

    /// Watches `queue` and reserves an item after each one `f` handles: every item enqueued
    /// goes to exactly one watcher. Restored after reconnects (unlike PHP's client).
    pub fn watch(&self, queue: &str, f: impl Fn(Value) + 'static) {
        self.watch_with(queue, true, f);
    }

    /// [`watch`](Self::watch) with auto-reserve on or off; with it off, items come only after
    /// [`reserve`](Self::reserve), one per reserve and watched queue.
    pub fn watch_with(&self, queue: &str, auto_reserve: bool, f: impl Fn(Value) + 'static) {
        let name = Name::new(queue);
        self.core.watches.borrow_mut().insert(
            name.key.clone(),
            Watch {
                name: name.clone(),
                cb: Rc::new(f),
                auto_reserve,
            },
        );
        match &*self.link {
            Link::Frame(l) => {
                l.command("watch", std::slice::from_ref(&name), None);
                if auto_reserve {
                    l.reserve();
                }
            }
            #[cfg(feature = "redis")]
            Link::Redis(l) => l.watch(&name, auto_reserve),
        }
    }

    /// Stops watching `queue`.
    pub fn unwatch(&self, queue: &str) {
        let name = Name::new(queue);
        if self.core.watches.borrow_mut().remove(&name.key).is_none() {
            return;
        }
        match &*self.link {
            Link::Frame(l) => l.command("unwatch", &[name], None),
            #[cfg(feature = "redis")]
            Link::Redis(l) => l.unwatch(&name),
        }
    }

    /// Appends `data` to `queue`; one watcher will get it. Kept until a watcher is ready.
    pub fn enqueue(&self, queue: &str, data: impl Into<Value>) -> Result<(), ChannelError> {
        let names = [Name::new(queue)];
        let data = data.into();
        match &*self.link {
            Link::Frame(l) => l.data("enqueue", &names, &data),
            #[cfg(feature = "redis")]
            Link::Redis(l) => l.enqueue(&names[0], &data),
        }
    }

    /// Asks for one more item of every watched queue.
    pub fn reserve(&self) {
        match &*self.link {
            Link::Frame(l) => l.reserve(),
            #[cfg(feature = "redis")]
            Link::Redis(l) => l.reserve_all(),
        }
    }

    /// Waits until everything published or enqueued so far has been written (e.g. before a CLI
    /// tool exits). Waits for a connection if there is none.
    pub async fn flush(&self) {
        match &*self.link {
            Link::Frame(l) => l.flush().await,
            #[cfg(feature = "redis")]
            Link::Redis(l) => l.flush().await,
        }
    }

    /// Whether the connection is up (with Redis: the publishing connection).
    pub fn is_connected(&self) -> bool {
        match &*self.link {
            Link::Frame(l) => l.is_connected(),
            #[cfg(feature = "redis")]
            Link::Redis(l) => l.is_connected(),
        }
    }

    /// Closes the connection for good; no reconnect.
    pub fn close(&self) {
        self.core.closed.set(true);
        match &*self.link {
            Link::Frame(l) => l.close(),
            #[cfg(feature = "redis")]
            Link::Redis(l) => l.close(),
        }
    }
}

pub(crate) fn log(message: &str) {
    // Inside a worker process the line goes to the workerman log; in a plain program, stderr.
    if in_worker_process() {
        workerman::Worker::log(&format!("ChannelClient: {message}"));
    } else {
        eprintln!("ChannelClient: {message}");
    }
}

/// Whether the master started this process as a worker: it passed `WORKERMAN_WORKER` at exec
/// (the worker clears the variable at start-up, but the exec-time environment keeps it).
fn in_worker_process() -> bool {
    static IN_WORKER: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *IN_WORKER.get_or_init(|| {
        std::fs::read("/proc/self/environ")
            .map(|env| env.split(|&b| b == 0).any(|kv| kv.starts_with(b"WORKERMAN_WORKER=")))
            .unwrap_or(false)
    })
}
