//! The Gateway: holds client connections (any protocol), forwards their events to business
//! workers, and executes what workers and API clients ask (send, bind, group, session, query).
//!
//! ```text
//!  clients ──websocket://0.0.0.0:7272──► Gateway process i ◄──gateway://lan_ip:(start_port+i)── business workers, API clients
//!                                             │
//!                                             └── text:// ──► Register(s): {"event":"gateway_connect", "address":"lan_ip:port"}
//! ```
//! Gateways never reload (`reloadable = false`): client connections survive a `reload`, which
//! replaces only the business workers.

use std::cell::{Cell, RefCell};
use std::net::{IpAddr, Ipv4Addr};
use std::ops::Deref;
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;
use workerman::connection::AsyncTcpConnection;
use workerman::protocol::Text;
use workerman::{TcpConnection, Timer, Worker};

use crate::auth::AuthMode;
use crate::client_id::ClientId;
use crate::client_protocol::ClientProtocol;
use crate::discovery::{self, Hello, RegisterConfig};
use crate::frame::{FLAG_BODY_IS_SCALAR, GatewayProtocol, Packet, cmd};
use crate::index;

mod heartbeat;
mod inner;
mod query;
pub(crate) mod state;

use state::{Client, State, Target};

/// Default per-client send buffer (GatewayWorker's `sendToClientBufferSize`): 1,024,000 bytes.
pub const DEFAULT_SEND_TO_CLIENT_BUFFER_SIZE: usize = 1_024_000;
/// Default send buffer toward each business worker (`sendToWorkerBufferSize`): 10,240,000 bytes.
pub const DEFAULT_SEND_TO_WORKER_BUFFER_SIZE: usize = 10_240_000;
/// Default bound of events kept while no business worker is connected: 100,000.
pub const DEFAULT_MAX_PENDING_EVENTS: usize = 100_000;
/// Keep-alive period toward business workers when `lan_ip` is not 127.0.0.1.
pub const WORKER_PING_INTERVAL: Duration = Duration::from_secs(25);

/// Gateway settings (GatewayWorker's public properties).
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub lan_ip: String,
    pub start_port: u16,
    pub inner_listen_ip: Option<String>,
    pub register: RegisterConfig,
    pub ping_interval: Duration,
    pub ping_not_response_limit: u32,
    pub ping_data: Bytes,
    pub send_to_worker_buffer_size: usize,
    pub max_pending_events: usize,
    pub route_index: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            lan_ip: "127.0.0.1".into(),
            start_port: 2000,
            inner_listen_ip: None,
            register: RegisterConfig {
                addresses: vec!["127.0.0.1:1236".into()],
                secret_key: String::new(),
                auth_mode: AuthMode::default(),
            },
            ping_interval: Duration::ZERO,
            ping_not_response_limit: 0,
            ping_data: Bytes::new(),
            send_to_worker_buffer_size: DEFAULT_SEND_TO_WORKER_BUFFER_SIZE,
            max_pending_events: DEFAULT_MAX_PENDING_EVENTS,
            route_index: true,
        }
    }
}

/// A client event, as a [router](Gateway::set_router) sees it (GatewayWorker's `$cmd`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ClientEvent {
    /// The client connected.
    Connect,
    /// The client sent a message.
    Message,
    /// The client closed.
    Close,
    /// The client's WebSocket handshake completed.
    WebSocketConnect,
}

impl ClientEvent {
    fn of(cmd: u8) -> ClientEvent {
        match cmd {
            cmd::ON_CONNECT => ClientEvent::Connect,
            cmd::ON_CLOSE => ClientEvent::Close,
            cmd::ON_WEBSOCKET_CONNECT => ClientEvent::WebSocketConnect,
            _ => ClientEvent::Message,
        }
    }
}

/// What a custom router chooses from (see [`Gateway::set_router`]).
#[derive(Debug)]
#[non_exhaustive]
pub struct RouteRequest<'a> {
    /// The client whose event is routed.
    pub client_id: ClientId,
    /// The event.
    pub event: ClientEvent,
    /// The worker the client's previous event went to, if it is still available.
    pub current: Option<&'a str>,
    /// The available business workers (connected, not leaving), as `ip:name:process id`,
    /// sorted; never empty.
    pub workers: &'a [&'a str],
}

/// A custom router: returns the index in `workers` of the worker that gets the event.
pub(crate) type Router = Rc<dyn Fn(&RouteRequest<'_>) -> usize>;
type ClientHook<P> = Rc<dyn Fn(&str, &TcpConnection<P>)>;
type WorkerHook = Rc<dyn Fn(&str)>;

/// The user's callbacks on the gateway side (GatewayWorker's `Gateway::$onConnect`...).
pub(crate) struct UserHooks<P: ClientProtocol> {
    pub on_client_connect: Option<ClientHook<P>>,
    pub on_client_close: Option<ClientHook<P>>,
    pub on_worker_connect: Option<WorkerHook>,
    pub on_worker_close: Option<WorkerHook>,
}

impl<P: ClientProtocol> Default for UserHooks<P> {
    fn default() -> Self {
        UserHooks {
            on_client_connect: None,
            on_client_close: None,
            on_worker_connect: None,
            on_worker_close: None,
        }
    }
}

/// One gateway process's settings, identity and tables.
pub(crate) struct Core<P: ClientProtocol> {
    /// A custom router, if set.
    pub router: RefCell<Option<Router>>,
    /// The user's gateway-side callbacks.
    pub hooks: RefCell<UserHooks<P>>,
    pub settings: RefCell<Settings>,
    pub state: RefCell<State<P>>,
    /// Inner ip (as u32) and port of this process.
    pub me: Cell<(u32, u16)>,
    /// The client-facing port.
    pub gateway_port: Cell<u16>,
    /// The links to the Registers.
    pub registers: RefCell<Vec<AsyncTcpConnection<Text>>>,
}

/// The id a client connection has in its gateway's tables.
#[derive(Clone, Copy)]
struct ClientKey(u32);

/// A Gateway worker for clients speaking `P`.
///
/// ```no_run
/// use std::time::Duration;
/// use workerman::protocol::WebSocket;
/// use workerman_gateway::Gateway;
///
/// let gateway = Gateway::<WebSocket>::new("websocket://0.0.0.0:7272").unwrap();
/// gateway.set_name("ChatGateway");
/// gateway.set_count(4);
/// gateway.set_lan_ip("127.0.0.1");
/// gateway.set_start_port(2300);
/// gateway.set_ping_interval(Duration::from_secs(10));
/// gateway.set_ping_data(r#"{"type":"ping"}"#);
/// gateway.set_register_address(["127.0.0.1:1236"]);
/// workerman::Worker::run_all();
/// ```
pub struct Gateway<P: ClientProtocol> {
    worker: Worker<P>,
    core: Rc<Core<P>>,
}

impl<P: ClientProtocol + Default> Gateway<P> {
    /// A gateway listening for clients on `address`.
    pub fn new(address: &str) -> workerman::Result<Gateway<P>> {
        Self::with_protocol(address, P::default())
    }
}

impl<P: ClientProtocol> Gateway<P> {
    /// A gateway with a configured protocol instance.
    pub fn with_protocol(address: &str, protocol: P) -> workerman::Result<Gateway<P>> {
        let worker = Worker::with_protocol(address, protocol)?;
        worker.set_name("Gateway");
        worker.set_reloadable(false);
        worker.set_max_send_buffer_size(DEFAULT_SEND_TO_CLIENT_BUFFER_SIZE);
        let core = Rc::new(Core {
            router: RefCell::new(None),
            hooks: RefCell::new(UserHooks::default()),
            settings: RefCell::new(Settings::default()),
            state: RefCell::new(State::default()),
            me: Cell::new((0, 0)),
            gateway_port: Cell::new(0),
            registers: RefCell::new(Vec::new()),
        });
        let gw = Gateway { worker, core };
        gw.wire();
        Ok(gw)
    }

    /// The LAN address business workers reach this gateway at (default `127.0.0.1`); a
    /// literal IPv4 address, since it is part of every client_id.
    pub fn set_lan_ip(&self, ip: impl Into<String>) {
        self.core.settings.borrow_mut().lan_ip = ip.into();
    }

    /// First inner port (default 2000): process `i` listens on `start_port + i`.
    pub fn set_start_port(&self, port: u16) {
        self.core.settings.borrow_mut().start_port = port;
    }

    /// The address the inner listener binds (default: `lan_ip`, or `0.0.0.0` when it is public).
    pub fn set_inner_listen_ip(&self, ip: impl Into<String>) {
        self.core.settings.borrow_mut().inner_listen_ip = Some(ip.into());
    }

    /// Register addresses (`host:port`; default `127.0.0.1:1236`); several for failover; a
    /// `redis://host:port[/db][?prefix=..&lease_ms=..]` address makes this gateway hold a lease on
    /// its inner address in Redis instead (see the Gateway chapter).
    pub fn set_register_address<S: Into<String>>(&self, addresses: impl IntoIterator<Item = S>) {
        self.core.settings.borrow_mut().register.addresses = addresses.into_iter().map(Into::into).collect();
    }

    /// The secret key workers, API clients and this gateway prove (default `""`: none).
    pub fn set_secret_key(&self, key: impl Into<String>) {
        self.core.settings.borrow_mut().register.secret_key = key.into();
    }

    /// How the secret is proven (see [`AuthMode`]; default native HMAC).
    pub fn set_auth_mode(&self, mode: AuthMode) {
        self.core.settings.borrow_mut().register.auth_mode = mode;
    }

    /// Heartbeat period toward clients (default zero: off).
    pub fn set_ping_interval(&self, interval: Duration) {
        self.core.settings.borrow_mut().ping_interval = interval;
    }

    /// Unanswered heartbeats before a silent client is dropped (default 0: never).
    pub fn set_ping_not_response_limit(&self, limit: u32) {
        self.core.settings.borrow_mut().ping_not_response_limit = limit;
    }

    /// What a heartbeat sends, encoded by the client protocol (default empty: nothing sent).
    pub fn set_ping_data(&self, data: impl Into<Bytes>) {
        self.core.settings.borrow_mut().ping_data = data.into();
    }

    /// Send buffer per client in bytes (default [`DEFAULT_SEND_TO_CLIENT_BUFFER_SIZE`]).
    pub fn set_send_to_client_buffer_size(&self, bytes: usize) {
        self.worker.set_max_send_buffer_size(bytes);
    }

    /// Send buffer toward each business worker in bytes (default
    /// [`DEFAULT_SEND_TO_WORKER_BUFFER_SIZE`]).
    pub fn set_send_to_worker_buffer_size(&self, bytes: usize) {
        self.core.settings.borrow_mut().send_to_worker_buffer_size = bytes;
    }

    /// Events kept, in order, while no business worker is connected (default
    /// [`DEFAULT_MAX_PENDING_EVENTS`]); past it, the client whose event does not fit is dropped.
    pub fn set_max_pending_events(&self, n: usize) {
        self.core.settings.borrow_mut().max_pending_events = n;
    }

    /// Whether this gateway tells the Registers which uids and groups it holds, so business
    /// workers send to a uid or group only where it has members (default `true`; turn it off
    /// with a PHP Register, which closes connections that send unknown events).
    pub fn set_route_index(&self, on: bool) {
        self.core.settings.borrow_mut().route_index = on;
    }

    /// Chooses the business worker of each client event (GatewayWorker's `$gateway->router`);
    /// the default sends a client's events to one worker (the least loaded when it first needs
    /// one) for as long as that worker is there. `router` gets the available workers and
    /// returns an index among them (taken modulo their number). While the worker a client's
    /// last event went to is leaving (reload), the client's next events wait for its hand-over
    /// whatever the router says, so they stay in order.
    ///
    /// ```no_run
    /// # let gateway = workerman_gateway::Gateway::<workerman::protocol::Text>::new("text://0.0.0.0:8480").unwrap();
    /// // Every event of a client to the same worker, by a hash of its connection id.
    /// gateway.set_router(|r| r.client_id.connection_id as usize % r.workers.len());
    /// ```
    pub fn set_router(&self, router: impl Fn(&RouteRequest<'_>) -> usize + 'static) {
        *self.core.router.borrow_mut() = Some(Rc::new(router));
    }

    /// Called in the gateway process when a client connects, before its business worker hears
    /// of it (GatewayWorker's `Gateway::$onConnect`). Use this, not `on_connect` of the
    /// underlying worker, which the gateway itself uses.
    pub fn on_client_connect(&self, f: impl Fn(&str, &TcpConnection<P>) + 'static) {
        self.core.hooks.borrow_mut().on_client_connect = Some(Rc::new(f));
    }

    /// Called in the gateway process when a client's connection closes, after its close event
    /// went to its business worker (GatewayWorker's `Gateway::$onClose`).
    pub fn on_client_close(&self, f: impl Fn(&str, &TcpConnection<P>) + 'static) {
        self.core.hooks.borrow_mut().on_client_close = Some(Rc::new(f));
    }

    /// Called with its key (`ip:name:process id`) when a business worker connects to this
    /// gateway process (GatewayWorker's `onBusinessWorkerConnected`).
    pub fn on_business_worker_connect(&self, f: impl Fn(&str) + 'static) {
        self.core.hooks.borrow_mut().on_worker_connect = Some(Rc::new(f));
    }

    /// Called with its key when a business worker's connection to this gateway process closes
    /// (GatewayWorker's `onBusinessWorkerClose`).
    pub fn on_business_worker_close(&self, f: impl Fn(&str) + 'static) {
        self.core.hooks.borrow_mut().on_worker_close = Some(Rc::new(f));
    }

    /// The client-facing worker.
    pub fn worker(&self) -> &Worker<P> {
        &self.worker
    }

    fn wire(&self) {
        let core = self.core.clone();
        self.worker.on_worker_start(move |w| {
            if let Err(e) = start(&core, w) {
                crate::log(&format!("gateway: cannot start: {e}"));
                Worker::<workerman::protocol::Tcp>::stop_all();
            }
        });
        let core = self.core.clone();
        self.worker.on_connect(move |conn| on_client_connect(&core, conn));
        let core = self.core.clone();
        self.worker.on_message(move |conn, msg| {
            let Some(ClientKey(id)) = conn.data::<ClientKey>() else {
                return;
            };
            if let Some(c) = core.state.borrow_mut().clients.get_mut(&id) {
                c.ping = -1;
            }
            emit(&core, id, cmd::ON_MESSAGE, P::message_body(msg), FLAG_BODY_IS_SCALAR);
        });
        let core = self.core.clone();
        self.worker.on_close(move |conn| {
            let Some(ClientKey(id)) = conn.data::<ClientKey>() else {
                return;
            };
            emit(&core, id, cmd::ON_CLOSE, Bytes::new(), FLAG_BODY_IS_SCALAR);
            core.state.borrow_mut().remove_client(id);
            flush_index(&core);
            let hook = core.hooks.borrow().on_client_close.clone();
            if let Some(f) = hook {
                f(&client_id(&core, id).to_string(), conn);
            }
        });
        let core = self.core.clone();
        P::hook_handshake(
            &self.worker,
            Rc::new(move |conn, data| {
                let Some(ClientKey(id)) = conn.data::<ClientKey>() else {
                    return;
                };
                let body = php_serialize::serialize(&data);
                emit(&core, id, cmd::ON_WEBSOCKET_CONNECT, Bytes::from(body), 0);
            }),
        );
    }
}

impl<P: ClientProtocol> Deref for Gateway<P> {
    type Target = Worker<P>;
    fn deref(&self) -> &Worker<P> {
        &self.worker
    }
}

/// In each gateway process: the inner listener, the Register links, the heartbeat.
fn start<P: ClientProtocol>(core: &Rc<Core<P>>, w: &Worker<P>) -> Result<(), String> {
    let s = core.settings.borrow().clone();
    let ip: Ipv4Addr = s
        .lan_ip
        .parse()
        .map_err(|_| format!("lan_ip {:?} must be a literal IPv4 address", s.lan_ip))?;
    let port = u16::try_from(usize::from(s.start_port) + w.id())
        .map_err(|_| format!("start_port {} + process id {} exceeds 65535", s.start_port, w.id()))?;
    core.me.set((u32::from(ip), port));
    let gport = w
        .local_addrs()
        .first()
        .map(|a| a.port())
        .or_else(|| {
            w.address()
                .and_then(|a| a.socket_addrs().ok()?.first().map(|s| s.port()))
        })
        .unwrap_or(0);
    core.gateway_port.set(gport);
    let listen_ip = s.inner_listen_ip.clone().unwrap_or_else(|| {
        if is_public(IpAddr::V4(ip)) {
            "0.0.0.0".into()
        } else {
            s.lan_ip.clone()
        }
    });
    let inner_worker =
        Worker::<GatewayProtocol>::new(&format!("gateway://{listen_ip}:{port}")).map_err(|e| e.to_string())?;
    inner_worker.set_name(format!("{}(inner)", w.name()));
    inner_worker.set_max_send_buffer_size(s.send_to_worker_buffer_size);
    inner::wire(core, &inner_worker);
    inner_worker
        .listen()
        .map_err(|e| format!("inner listener {listen_ip}:{port}: {e}"))?;
    let weak = Rc::downgrade(core);
    let after_hello: discovery::AfterHello = Rc::new(move |link: &TcpConnection<Text>| {
        let Some(core) = weak.upgrade() else { return };
        if !core.settings.borrow().route_index {
            return;
        }
        let st = core.state.borrow();
        link.send(index::snapshot_line(st.uids.keys(), st.groups.keys()));
    });
    let hooks = discovery::Hooks {
        after_hello: Some(after_hello),
        ..Default::default()
    };
    let links = discovery::start(&s.register, Hello::Gateway(format!("{}:{port}", s.lan_ip)), hooks);
    *core.registers.borrow_mut() = links;
    heartbeat::start(core);
    if s.lan_ip != "127.0.0.1" {
        let core = Rc::downgrade(core);
        Timer::repeat(WORKER_PING_INTERVAL, move || {
            let Some(core) = core.upgrade() else { return };
            let conns: Vec<_> = core.state.borrow().workers.values().map(|w| w.conn.clone()).collect();
            let ping = Packet::new(cmd::PING);
            for c in conns {
                c.send(&ping);
            }
        });
    }
    Ok(())
}

/// Sends the uids and groups that appeared or vanished to every business worker that asked for
/// the index (directly, in order with the events it gets from here) and to every connected
/// Register.
pub(crate) fn flush_index<P: ClientProtocol>(core: &Core<P>) {
    let line = {
        let mut st = core.state.borrow_mut();
        if st.delta.is_empty() {
            return;
        }
        let line = st.delta.take_line();
        if !core.settings.borrow().route_index {
            return;
        }
        line
    };
    let workers: Vec<_> = core
        .state
        .borrow()
        .workers
        .values()
        .filter(|w| w.index)
        .map(|w| w.conn.clone())
        .collect();
    if !workers.is_empty() {
        let packet = Packet::new(cmd::INDEX).with_body(line.clone());
        for w in workers {
            send_to_worker(&w, &packet);
        }
    }
    for link in core.registers.borrow().iter() {
        if link.status() == workerman::Status::Established {
            link.send(&line);
        }
    }
}

fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => !(v4.is_private() || v4.is_loopback() || v4.is_link_local() || v4.is_unspecified()),
        IpAddr::V6(_) => false,
    }
}

fn on_client_connect<P: ClientProtocol>(core: &Rc<Core<P>>, conn: &TcpConnection<P>) {
    let (client_ip, client_port) = match conn.remote_address() {
        Some(std::net::SocketAddr::V4(a)) => (u32::from(*a.ip()), a.port()),
        Some(a) => (0, a.port()),
        None => (0, 0),
    };
    let id = {
        let mut st = core.state.borrow_mut();
        let id = st.alloc_id();
        st.clients.insert(
            id,
            Client {
                conn: conn.clone(),
                client_ip,
                client_port,
                uid: None,
                groups: Default::default(),
                session: Bytes::new(),
                worker: None,
                ping: -1,
            },
        );
        id
    };
    conn.set_data(ClientKey(id));
    let hook = core.hooks.borrow().on_client_connect.clone();
    if let Some(f) = hook {
        f(&client_id(core, id).to_string(), conn);
    }
    emit(core, id, cmd::ON_CONNECT, Bytes::new(), FLAG_BODY_IS_SCALAR);
}

/// The client_id of connection `id` of this gateway process.
fn client_id<P: ClientProtocol>(core: &Core<P>, id: u32) -> ClientId {
    let (ip, port) = core.me.get();
    ClientId::new(Ipv4Addr::from(ip), port, id)
}

/// The header of an event about client `id`.
fn event_packet<P: ClientProtocol>(core: &Core<P>, c: &Client<P>, id: u32, cmd: u8, body: Bytes, flag: u8) -> Packet {
    let (local_ip, local_port) = core.me.get();
    Packet {
        cmd,
        local_ip,
        local_port,
        client_ip: c.client_ip,
        client_port: c.client_port,
        connection_id: id,
        flag,
        gateway_port: core.gateway_port.get(),
        ext_data: c.session.clone(),
        body,
    }
}

/// Sends an event about client `id` to its business worker, or keeps it until one connects.
pub(crate) fn emit<P: ClientProtocol>(core: &Rc<Core<P>>, id: u32, cmd: u8, body: Bytes, flag: u8) {
    let packet = {
        let st = core.state.borrow();
        let Some(c) = st.clients.get(&id) else { return };
        event_packet(core, c, id, cmd, body, flag)
    };
    dispatch(core, id, packet);
}

/// Routes an event packet about client `id`: to a worker, held for a leaving one, or kept until
/// a worker connects (past `max_pending_events` the client is dropped).
pub(crate) fn dispatch<P: ClientProtocol>(core: &Rc<Core<P>>, id: u32, packet: Packet) {
    let router = core.router.borrow().clone();
    let target = match &router {
        Some(r) => {
            let req = RouteRequest {
                client_id: client_id(core, id),
                event: ClientEvent::of(packet.cmd),
                current: None,
                workers: &[],
            };
            core.state.borrow_mut().route(id, Some((r, req)))
        }
        None => core.state.borrow_mut().route(id, None),
    };
    match target {
        Target::Worker(w) => send_to_worker(&w, &packet),
        Target::Wait(key) => {
            if let Some(w) = core.state.borrow_mut().workers.get_mut(&key) {
                w.held.push_back((id, packet));
            }
        }
        Target::Nobody => {
            let max = core.settings.borrow().max_pending_events;
            let overflow = {
                let mut st = core.state.borrow_mut();
                if st.pending.len() < max {
                    st.pending.push_back((id, packet));
                    None
                } else {
                    st.clients.get(&id).map(|c| c.conn.clone())
                }
            };
            if let Some(conn) = overflow {
                crate::log("gateway: no business worker connected and the pending queue is full; client dropped");
                conn.destroy();
            }
        }
    }
}

/// A business worker's link closed: what it handed back unhandled, then what waited for it,
/// go to the other workers in order (with the clients' sessions as they are now).
pub(crate) fn release<P: ClientProtocol>(core: &Rc<Core<P>>, link: state::WorkerLink) {
    let events = link.returned.into_iter().map(|p| (p.connection_id, p)).chain(link.held);
    for (id, mut p) in events {
        if let Some(c) = core.state.borrow().clients.get(&id) {
            p.ext_data = c.session.clone();
        }
        dispatch(core, id, p);
    }
}

/// Writes a packet to a worker connection, logging when its buffer is full.
pub(crate) fn send_to_worker(conn: &TcpConnection<GatewayProtocol>, packet: &Packet) {
    if conn.send(packet) == workerman::SendResult::Failed {
        crate::log(&format!(
            "gateway: SendBufferToWorker fail (cmd {}, worker {})",
            packet.cmd,
            conn.remote_address().map(|a| a.to_string()).unwrap_or_default()
        ));
    }
}
