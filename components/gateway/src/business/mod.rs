//! The BusinessWorker: connects to every gateway the Register knows, receives client events
//! and runs your [`Events`] for them, one event at a time per process, in arrival order.
//!
//! ```text
//!  Gateway ──ON_CONNECT/ON_MESSAGE/ON_CLOSE/ON_WEBSOCKET_CONNECT (ext = session)──► BusinessWorker
//!  BusinessWorker ──WORKER_CONNECT {"worker_key":"<name>:<id>"}──► Gateway        (first packet)
//!  BusinessWorker ──SET_SESSION, sends, queries (GatewayClient connection)──► Gateway
//!  BusinessWorker ──WORKER_LEAVE──► Gateway ──WORKER_LEAVE_ACK──► BusinessWorker   (on reload/stop)
//! ```
//! On `reload` (or stop) a business worker tells each gateway it is leaving. The gateway routes
//! nothing more to it and answers `WORKER_LEAVE_ACK`; events of the clients bound to it wait at
//! the gateway meanwhile. On the ack the worker sends back, unhandled, every event of that gateway
//! still in its queue (the handler running now finishes), then closes the link; the gateway hands
//! the returned events, then the waiting ones, in order, to the other workers (or keeps them for
//! the next worker to connect). So however long the backlog, no accepted message is lost to a
//! reload and none is handled twice.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};
use std::net::Ipv4Addr;
use std::ops::Deref;
use std::rc::Rc;
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use php_serialize::{Array, Value};
use tokio::sync::Notify;
use workerman::connection::AsyncTcpConnection;
use workerman::protocol::Tcp;
use workerman::{TcpConnection, Worker};

use crate::auth::{self, AuthMode};
use crate::client::GatewayClient;
use crate::client_id::ClientId;
use crate::discovery::{self, Hello, RECONNECT_AFTER, RegisterConfig};
use crate::error::Result;
use crate::frame::{GatewayProtocol, Packet, cmd};
use crate::index::RouteIndex;

mod context;

pub use context::{Context, RequestData};

/// The routing-index source name of what gateways tell a worker directly.
const DIRECT: &str = "(gateway links)";

/// Default send buffer toward each gateway (`sendToGatewayBufferSize`): 10,240,000 bytes.
pub const DEFAULT_SEND_TO_GATEWAY_BUFFER_SIZE: usize = 10_240_000;

/// Your application: what happens on client events. Every method but `on_message` has a
/// default that does nothing. Handlers run one at a time per process; `await` freely.
///
/// ```no_run
/// use workerman_gateway::{BusinessWorker, Context, Events};
/// struct Echo;
/// impl Events for Echo {
///     async fn on_message(&self, cx: &mut Context, message: bytes::Bytes) {
///         let _ = cx.send_to_current_client(&message).await;
///     }
/// }
/// let bw = BusinessWorker::new(Echo);
/// bw.set_count(4);
/// workerman::Worker::run_all();
/// ```
#[allow(async_fn_in_trait)] // handlers run on the process's single-threaded loop: no Send needed
pub trait Events: 'static {
    /// Once per process, after it started; `gateway` is the process's Gateway API handle.
    fn on_worker_start(&self, gateway: &GatewayClient) {
        let _ = gateway;
    }
    /// Once per process, when it stops or reloads.
    fn on_worker_stop(&self) {}
    /// A client connected (before any protocol handshake).
    async fn on_connect(&self, cx: &mut Context) {
        let _ = cx;
    }
    /// A client's WebSocket handshake completed; `request` holds its query, headers and cookies.
    async fn on_websocket_connect(&self, cx: &mut Context, request: &RequestData) {
        let _ = (cx, request);
    }
    /// A client sent a message.
    async fn on_message(&self, cx: &mut Context, message: Bytes);
    /// A client closed; its final session is in `cx` (changes made here are not saved).
    async fn on_close(&self, cx: &mut Context) {
        let _ = cx;
    }
}

#[derive(Clone)]
struct Settings {
    register: RegisterConfig,
    send_to_gateway_buffer_size: usize,
}

/// A BusinessWorker (no listener; `count` processes each connected to every gateway).
pub struct BusinessWorker {
    worker: Worker<Tcp>,
    settings: Rc<RefCell<Settings>>,
}

impl BusinessWorker {
    /// A business worker running `events`.
    pub fn new<E: Events>(events: E) -> BusinessWorker {
        let worker = Worker::without_listener();
        worker.set_name("BusinessWorker");
        let settings = Rc::new(RefCell::new(Settings {
            register: RegisterConfig {
                addresses: vec!["127.0.0.1:1236".into()],
                secret_key: String::new(),
                auth_mode: AuthMode::default(),
            },
            send_to_gateway_buffer_size: DEFAULT_SEND_TO_GATEWAY_BUFFER_SIZE,
        }));
        let events = Rc::new(events);
        let process: Rc<RefCell<Option<Rc<Process>>>> = Rc::default();
        let (s, e, p) = (settings.clone(), events.clone(), process.clone());
        worker.on_worker_start(move |w| {
            let proc_ = start(&s.borrow(), w, e.clone());
            *p.borrow_mut() = Some(proc_);
        });
        let (e, p) = (events, process);
        worker.on_worker_stop(move |_| {
            if let Some(proc_) = p.borrow().as_ref() {
                proc_.leave();
            }
            e.on_worker_stop();
        });
        BusinessWorker { worker, settings }
    }

    /// Register addresses (default `127.0.0.1:1236`); several for failover; a
    /// `redis://host:port[/db][?prefix=..&lease_ms=..]` address discovers gateways through Redis
    /// leases instead (see the Gateway chapter).
    pub fn set_register_address<S: Into<String>>(&self, addresses: impl IntoIterator<Item = S>) {
        self.settings.borrow_mut().register.addresses = addresses.into_iter().map(Into::into).collect();
    }

    /// The cluster's secret key (default `""`).
    pub fn set_secret_key(&self, key: impl Into<String>) {
        self.settings.borrow_mut().register.secret_key = key.into();
    }

    /// How the secret is proven (default native HMAC; PHP gateways need
    /// [`AuthMode::PhpCompatible`]).
    pub fn set_auth_mode(&self, mode: AuthMode) {
        self.settings.borrow_mut().register.auth_mode = mode;
    }

    /// Send buffer toward each gateway in bytes (default [`DEFAULT_SEND_TO_GATEWAY_BUFFER_SIZE`]).
    pub fn set_send_to_gateway_buffer_size(&self, bytes: usize) {
        self.settings.borrow_mut().send_to_gateway_buffer_size = bytes;
    }

    /// The underlying worker.
    pub fn worker(&self) -> &Worker<Tcp> {
        &self.worker
    }
}

impl Deref for BusinessWorker {
    type Target = Worker<Tcp>;
    fn deref(&self) -> &Worker<Tcp> {
        &self.worker
    }
}

/// One business-worker process: its gateway links and event queue.
struct Process {
    settings: Settings,
    worker_key: String,
    links: RefCell<HashMap<String, AsyncTcpConnection<GatewayProtocol>>>,
    known: Arc<RwLock<Vec<String>>>,
    /// The union of the discovery sources' lists, as last announced.
    listed: RefCell<Vec<String>>,
    leaving: RefCell<HashSet<String>>,
    /// Which gateways hold which uids and groups (shared with the process's API handle).
    index: Arc<RwLock<RouteIndex>>,
    stopping: std::cell::Cell<bool>,
    queue: Rc<Queue>,
}

/// Client events waiting for the handler, in arrival order, with the gateway each came from.
#[derive(Default)]
struct Queue {
    items: RefCell<VecDeque<(Rc<str>, Packet)>>,
    wake: Notify,
    /// The gateway whose event the handler is running now.
    current: RefCell<Option<Rc<str>>>,
    /// Links of gateways we left, to close once the running handler is done.
    close_after: RefCell<Vec<TcpConnection<GatewayProtocol>>>,
}

impl Queue {
    fn push(&self, gateway: Rc<str>, p: Packet) {
        self.items.borrow_mut().push_back((gateway, p));
        self.wake.notify_one();
    }

    async fn pop(&self) -> Packet {
        loop {
            let next = self.items.borrow_mut().pop_front();
            if let Some((g, p)) = next {
                *self.current.borrow_mut() = Some(g);
                return p;
            }
            self.wake.notified().await;
        }
    }

    /// The running handler finished: close the links that waited for it.
    fn done(&self) {
        self.current.borrow_mut().take();
        for c in self.close_after.borrow_mut().drain(..) {
            c.close();
        }
    }

    /// Closes a left gateway's link now, or after the running handler if it is that gateway's
    /// event (so the gateway passes the client's next events on only after it).
    fn close_link(&self, gateway: &str, c: &TcpConnection<GatewayProtocol>) {
        if self.current.borrow().as_deref() == Some(gateway) {
            self.close_after.borrow_mut().push(c.clone());
        } else {
            c.close();
        }
    }

    /// Removes and returns the events that came from `gateway`, in order.
    fn take_from(&self, gateway: &str) -> Vec<Packet> {
        let mut items = self.items.borrow_mut();
        let (theirs, rest): (VecDeque<_>, VecDeque<_>) = items.drain(..).partition(|(g, _)| &**g == gateway);
        *items = rest;
        theirs.into_iter().map(|(_, p)| p).collect()
    }
}

fn start<E: Events>(settings: &Settings, w: &Worker<Tcp>, events: Rc<E>) -> Rc<Process> {
    let queue: Rc<Queue> = Rc::default();
    let known: Arc<RwLock<Vec<String>>> = Arc::default();
    let index: Arc<RwLock<RouteIndex>> = Arc::default();
    let client = GatewayClient::shared(
        known.clone(),
        index.clone(),
        settings.register.secret_key.clone(),
        settings.register.auth_mode,
    );
    let p = Rc::new(Process {
        settings: settings.clone(),
        worker_key: format!("{}:{}", w.name(), w.id()),
        links: RefCell::default(),
        known,
        listed: RefCell::default(),
        leaving: RefCell::default(),
        index: index.clone(),
        stopping: std::cell::Cell::new(false),
        queue: queue.clone(),
    });
    let weak = Rc::downgrade(&p);
    let idx = index.clone();
    let hooks = discovery::Hooks {
        on_addresses: Some(Rc::new(move |list| {
            if let Some(p) = weak.upgrade() {
                p.on_addresses(&p, list);
            }
        })),
        on_index: Some(Rc::new(move |register, line| {
            if let Ok(mut i) = idx.write() {
                i.apply(register, line);
            }
        })),
        after_hello: None,
    };
    discovery::start(&settings.register, Hello::Worker, hooks);
    events.on_worker_start(&client);
    workerman::spawn(run_events(events, client, queue));
    p
}

impl Process {
    /// The discovery sources' union changed: connect to new gateways and publish the list.
    fn on_addresses(&self, me: &Rc<Process>, list: Vec<String>) {
        *self.listed.borrow_mut() = list.clone();
        self.publish_known();
        for addr in list {
            if self.links.borrow().contains_key(&addr) || self.stopping.get() {
                continue;
            }
            match AsyncTcpConnection::<GatewayProtocol>::new(&format!("gateway://{addr}")) {
                Ok(conn) => {
                    self.wire_link(me, &addr, &conn);
                    self.links.borrow_mut().insert(addr, conn.clone());
                    conn.connect();
                }
                Err(e) => crate::log(&format!("business worker: bad gateway address {addr}: {e}")),
            }
        }
    }

    /// The gateways this process sends to: what discovery lists, plus the gateways it is still
    /// connected to. A Register that restarts learns the gateways again one by one (a Redis
    /// lease set refills the same way): until then its list is partial, and a gateway we hold a
    /// live link to must not drop out of sends to everyone and queries meanwhile.
    fn publish_known(&self) {
        let mut known = self.listed.borrow().clone();
        for (addr, conn) in self.links.borrow().iter() {
            if conn.status() == workerman::Status::Established && !known.contains(addr) {
                known.push(addr.clone());
            }
        }
        if let Ok(mut k) = self.known.write() {
            *k = known;
        }
    }

    fn hello(&self) -> Packet {
        let s = &self.settings.register;
        let body =
            serde_json::json!({"worker_key": self.worker_key, "secret_key": s.secret_key, "index": true}).to_string();
        Packet::new(cmd::WORKER_CONNECT).with_body(body)
    }

    fn wire_link(&self, me: &Rc<Process>, addr: &str, conn: &AsyncTcpConnection<GatewayProtocol>) {
        conn.set_max_send_buffer_size(self.settings.send_to_gateway_buffer_size);
        let weak = Rc::downgrade(me);
        conn.on_connect(move |c| {
            let Some(p) = weak.upgrade() else { return };
            let s = &p.settings.register;
            if s.secret_key.is_empty() || s.auth_mode == AuthMode::PhpCompatible {
                c.send(&p.hello());
            } else {
                c.send(&Packet::new(cmd::AUTH_CHALLENGE));
            }
        });
        let (weak, a) = (Rc::downgrade(me), addr.to_owned());
        conn.on_message(move |c, packet| {
            let Some(p) = weak.upgrade() else { return };
            p.on_packet(&a, c, packet);
        });
        let (weak, a) = (Rc::downgrade(me), addr.to_owned());
        conn.on_close(move |c| {
            let Some(p) = weak.upgrade() else { return };
            let still_listed = p.listed.borrow().contains(&a);
            if p.stopping.get() || !still_listed {
                p.links.borrow_mut().remove(&a);
                p.publish_known();
                return;
            }
            c.reconnect(RECONNECT_AFTER);
        });
    }

    fn on_packet(&self, addr: &str, c: &TcpConnection<GatewayProtocol>, packet: Packet) {
        match packet.cmd {
            cmd::ON_CONNECT | cmd::ON_MESSAGE | cmd::ON_CLOSE | cmd::ON_WEBSOCKET_CONNECT => {
                self.queue.push(Rc::from(addr), packet);
            }
            cmd::AUTH_CHALLENGE => {
                let s = &self.settings.register;
                let nonce = String::from_utf8_lossy(&packet.body);
                let body = serde_json::json!({
                    "hmac": auth::answer(&s.secret_key, "gateway", &nonce),
                    "worker_key": self.worker_key,
                    "index": true,
                });
                c.send(&Packet::new(cmd::AUTH_RESPONSE).with_body(body.to_string()));
            }
            cmd::INDEX => {
                // The gateway's own account, in order with its events: the freshest there is.
                if let Ok(mut line) = serde_json::from_slice::<serde_json::Value>(&packet.body) {
                    line["address"] = addr.into();
                    if let Ok(mut i) = self.index.write() {
                        i.apply(DIRECT, &line);
                    }
                }
            }
            cmd::WORKER_LEAVE_ACK => {
                // Every event of this gateway came before the ack: hand back those not handled
                // yet (the gateway passes them on, in order, before the ones it held), and go.
                self.leaving.borrow_mut().remove(addr);
                for p in self.queue.take_from(addr) {
                    c.send(&p);
                }
                self.queue.close_link(addr, c);
            }
            _ => {}
        }
    }

    /// Reload or stop: ask every gateway to route elsewhere (see the module docs).
    fn leave(&self) {
        self.stopping.set(true);
        for (addr, conn) in self.links.borrow().iter() {
            if conn.status() == workerman::Status::Established {
                self.leaving.borrow_mut().insert(addr.clone());
                conn.send(&Packet::new(cmd::WORKER_LEAVE));
            }
        }
    }
}

/// Runs events one after another, loading and saving sessions as GatewayWorker does.
async fn run_events<E: Events>(events: Rc<E>, client: GatewayClient, queue: Rc<Queue>) {
    // The session each client had after our last write, to detect stale `ext_data`.
    let mut written: HashMap<String, Bytes> = HashMap::new();
    loop {
        let p = queue.pop().await;
        // A reload or stop waits for the handler (up to stop_timeout) instead of cutting it.
        let _hold = workerman::hold_stop();
        handle(&*events, &client, &mut written, p).await;
        queue.done();
    }
}

/// Runs the handler of one event, with the session loaded before and saved after.
async fn handle<E: Events>(events: &E, client: &GatewayClient, written: &mut HashMap<String, Bytes>, p: Packet) {
    {
        let id = ClientId::new(Ipv4Addr::from(p.local_ip), p.local_port, p.connection_id);
        let cid = id.to_string();
        let mut session_bytes = p.ext_data.clone();
        if p.cmd != cmd::ON_CLOSE
            && let Some(mine) = written.get(&cid)
            && *mine != session_bytes
        {
            // The event left the gateway before our last SET_SESSION arrived: ask again.
            if let Ok(Some(a)) = client.get_session(&cid).await {
                session_bytes = Bytes::from(php_serialize::serialize(&Value::Array(a)));
            }
        }
        let session = parse_session(&session_bytes);
        let mut cx = Context::new(cid.clone(), client.clone(), &p, session);
        match p.cmd {
            cmd::ON_CONNECT => events.on_connect(&mut cx).await,
            cmd::ON_MESSAGE => events.on_message(&mut cx, p.body.clone()).await,
            cmd::ON_WEBSOCKET_CONNECT => {
                let data = RequestData::parse(&p.body);
                events.on_websocket_connect(&mut cx, &data).await;
            }
            _ => {
                events.on_close(&mut cx).await;
                written.remove(&cid);
                return;
            }
        }
        let now = match cx.take_session() {
            Some(a) => Bytes::from(php_serialize::serialize(&Value::Array(a))),
            None => Bytes::new(),
        };
        let before = if parse_session(&session_bytes).is_some() {
            session_bytes.clone()
        } else {
            Bytes::new()
        };
        if now != before && save_session(client, &id, now.clone()).await.is_ok() {
            written.insert(cid, now);
        }
    }
}

fn parse_session(b: &[u8]) -> Option<Array> {
    if b.is_empty() {
        return None;
    }
    match php_serialize::unserialize(b) {
        Ok(Value::Array(a)) => Some(a),
        _ => None,
    }
}

async fn save_session(client: &GatewayClient, id: &ClientId, bytes: Bytes) -> Result<()> {
    let p = Packet::new(cmd::SET_SESSION).with_id(id.connection_id).with_ext(bytes);
    client.send_packet(&id.gateway_address(), &p).await
}
