//! `Worker`: a listen address, a process count and callbacks — the unit of a start file.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitStatus;
use std::rc::Rc;
use std::time::Duration;

use crate::address::{Address, Transport};
use crate::connection::{Callbacks, ConnectionError, Limits, TcpConnection, UdpConnection};
use crate::error::{Error, Result};

mod gate;
mod tls;
use crate::connection::Timeouts;
use crate::panic::PanicReport;
use crate::protocol::{Protocol, Tcp};
use crate::settings;

pub(crate) type WorkerFn<P> = Rc<dyn Fn(&Worker<P>)>;
type WorkerExitFn<P> = Rc<dyn Fn(&Worker<P>, u32, ExitStatus)>;

/// Plain settings of a worker, as the master needs them.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    pub name: String,
    pub count: usize,
    pub address: Option<Address>,
    pub reuse_port: bool,
    pub reloadable: bool,
    pub backlog: i32,
    pub max_requests: Option<u64>,
    pub max_memory: Option<u64>,
    pub user: Option<String>,
    pub group: Option<String>,
    /// Effective transport: from the scheme, or `set_transport`.
    pub transport: Transport,
    /// Set by any `set_tls*` call.
    pub tls: Option<crate::tls::ServerTls>,
    /// Callbacks that cannot work with this worker's transport, said in one sentence.
    pub misfit: Option<String>,
    pub graceful_stop: GracefulStop,
}

/// What a graceful stop or reload (`stop -g`, `reload -g`, a retirement on `max_requests` /
/// `max_memory`) does with the connections a worker's process accepted
/// ([`Worker::set_graceful_stop`]). In both cases the process stops accepting first, and
/// keep-alive protocols end keep-alive (HTTP answers `Connection: close`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GracefulStop {
    /// Close each connection once it has been quiet — nothing buffered either way, no bytes
    /// moving — for this long (a WebSocket connection is sent `1001 Going Away` first). No time
    /// limit: a connection that keeps talking keeps the process. The default, with 1 s
    /// ([`GracefulStop::DEFAULT`]).
    CloseWhenQuiet(Duration),
    /// Workerman's behaviour: leave each connection open until the client closes it, bounded
    /// by `stop_timeout` ([`Worker::set_stop_timeout`]): what is still open then is closed
    /// (after flushing; WebSocket: `1001 Going Away` first) and the process exits.
    WaitForClient,
}

impl GracefulStop {
    /// `CloseWhenQuiet(1 s)`.
    pub const DEFAULT: GracefulStop = GracefulStop::CloseWhenQuiet(Duration::from_secs(1));
}

impl Default for GracefulStop {
    fn default() -> Self {
        GracefulStop::DEFAULT
    }
}

/// Default listen backlog (the kernel caps it at `net.core.somaxconn`).
pub const DEFAULT_BACKLOG: i32 = 102_400;

struct WorkerCallbacks<P: Protocol> {
    on_worker_start: Option<WorkerFn<P>>,
    on_worker_stop: Option<WorkerFn<P>>,
    on_worker_reload: Option<WorkerFn<P>>,
    on_worker_exit: Option<WorkerExitFn<P>>,
    conn: Callbacks<P>,
    on_udp_message: Option<crate::connection::UdpMessageFn<P>>,
    error_handler: Option<crate::panic::Handler>,
}

struct Shared<P: Protocol> {
    protocol: Rc<P>,
    spec: RefCell<Spec>,
    limits: Cell<crate::connection::LimitOverrides>,
    callbacks: RefCell<WorkerCallbacks<P>>,
    connections: RefCell<BTreeMap<u64, TcpConnection<P>>>,
    /// `connections` as a list, made when a broadcast or the heartbeat needs one and kept until
    /// a connection comes or goes: a room broadcasting several messages per loop tick walks its
    /// connections once per message, not also once to copy the map and once to drop the copy.
    snapshot: RefCell<Option<Rc<[TcpConnection<P>]>>>,
    id: Cell<usize>,
    listeners: RefCell<Vec<(Option<SocketAddr>, tokio::task::AbortHandle)>>,
    /// Whether the listeners accept (`pause_accept` / `resume_accept`); the accept loops watch it.
    accepting: tokio::sync::watch::Sender<bool>,
    stopping: Cell<bool>,
    timeouts: Cell<Timeouts>,
    gate: gate::AcceptGate,
}

/// A service: where to listen, how many processes, and what to do with connections.
///
/// ```no_run
/// use workerman::{Worker, protocol::Text};
///
/// fn main() -> workerman::Result<()> {
///     let worker = Worker::<Text>::new("text://0.0.0.0:2348")?;
///     worker.set_count(4);
///     worker.on_message(|conn, line| {
///         conn.send(format!("you said: {line}"));
///     });
///     Worker::run_all()
/// }
/// ```
///
/// Code before [`Worker::run_all`] runs in every process (the master and each worker process
/// execute the same program), so open per-process resources (database pools, clients) in
/// [`on_worker_start`](Worker::on_worker_start).
pub struct Worker<P: Protocol = Tcp> {
    shared: Rc<Shared<P>>,
}

impl<P: Protocol> Clone for Worker<P> {
    fn clone(&self) -> Self {
        Worker {
            shared: self.shared.clone(),
        }
    }
}

impl<P: Protocol> fmt::Debug for Worker<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let spec = self.shared.spec.borrow();
        f.debug_struct("Worker")
            .field("name", &spec.name)
            .field("address", &spec.address.as_ref().map(|a| a.to_string()))
            .field("count", &spec.count)
            .field("id", &self.id())
            .finish()
    }
}

impl<P: Protocol + Default> Worker<P> {
    /// A worker listening on `address` with the protocol's default configuration:
    /// `"text://0.0.0.0:2348"`, or without a scheme, `"0.0.0.0:2348"` (the scheme is then the
    /// protocol's [`Protocol::SCHEME`]). A scheme, when written, must be the protocol's or a
    /// transport (`tcp`, `ssl`, `unix`, `udp`); a mismatch is an error that says how to fix it.
    ///
    /// ```
    /// use workerman::{Worker, protocol::Text};
    ///
    /// let a = Worker::<Text>::new("text://127.0.0.1:2348").unwrap();
    /// let b = Worker::<Text>::new("127.0.0.1:2348").unwrap(); // the same address
    /// assert_eq!(a.address().unwrap().to_string(), b.address().unwrap().to_string());
    /// let err = Worker::<Text>::new("http://127.0.0.1:2348").unwrap_err().to_string();
    /// assert!(err.contains("text://127.0.0.1:2348"), "{err}");
    /// ```
    pub fn new(address: &str) -> Result<Self> {
        Self::with_protocol(address, P::default())
    }
}

impl<P: Protocol> Worker<P> {
    /// A worker listening on `address` (as in [`Worker::new`]) with a configured protocol
    /// instance.
    pub fn with_protocol(address: &str, protocol: P) -> Result<Self> {
        let addr = match address.split_once("://") {
            Some(_) => Address::parse(address)?,
            // Scheme-less: the protocol names itself.
            None => Address::parse(&format!("{}://{address}", P::SCHEME)).map_err(|e| match e {
                Error::Address { reason, .. } => Error::Address {
                    address: address.into(),
                    reason,
                },
                e => e,
            })?,
        };
        let scheme = addr.scheme();
        let implied = match scheme {
            "https" => "http",
            "wss" => "websocket",
            other => other,
        };
        if !addr.is_transport_scheme() && implied != P::SCHEME {
            let rest = address.split_once("://").map_or(address, |(_, rest)| rest);
            let protocol = std::any::type_name::<P>().rsplit("::").next().unwrap_or("P");
            return Err(Error::Address {
                address: address.into(),
                reason: format!(
                    "the scheme `{scheme}` does not match this worker's protocol `{own}` \
                     ({protocol}): write `{own}://{rest}` or just `{rest}`, or create the worker \
                     with the protocol whose scheme is `{scheme}`",
                    own = P::SCHEME,
                ),
            });
        }
        Ok(Self::build(Some(addr), protocol))
    }

    fn build(address: Option<Address>, protocol: P) -> Self {
        let service = crate::service::for_protocol(&protocol);
        let transport = address.as_ref().map(|a| a.transport()).unwrap_or(Transport::Tcp);
        let worker = Worker {
            shared: Rc::new(Shared {
                protocol: Rc::new(protocol),
                spec: RefCell::new(Spec {
                    name: "none".into(),
                    count: 1,
                    address,
                    reuse_port: false,
                    reloadable: true,
                    backlog: DEFAULT_BACKLOG,
                    max_requests: None,
                    max_memory: None,
                    user: None,
                    group: None,
                    transport,
                    tls: None,
                    misfit: None,
                    graceful_stop: GracefulStop::DEFAULT,
                }),
                limits: Cell::new(crate::connection::LimitOverrides::default()),
                callbacks: RefCell::new(WorkerCallbacks {
                    on_worker_start: None,
                    on_worker_stop: None,
                    on_worker_reload: None,
                    on_worker_exit: None,
                    conn: Callbacks {
                        service,
                        ..Callbacks::default()
                    },
                    on_udp_message: None,
                    error_handler: None,
                }),
                connections: RefCell::new(BTreeMap::new()),
                snapshot: RefCell::new(None),
                id: Cell::new(0),
                listeners: RefCell::new(Vec::new()),
                accepting: tokio::sync::watch::Sender::new(true),
                stopping: Cell::new(false),
                timeouts: Cell::new(Timeouts::default()),
                gate: gate::AcceptGate::default(),
            }),
        };
        registry::add(Rc::new(worker.clone()));
        worker
    }

    /// Number of processes to run (default 1; at least 1).
    pub fn set_count(&self, count: usize) {
        self.shared.spec.borrow_mut().count = count.max(1);
    }

    /// Number of processes.
    pub fn count(&self) -> usize {
        self.shared.spec.borrow().count
    }

    /// Name shown in logs and `status` (default `none`).
    pub fn set_name(&self, name: impl Into<String>) {
        self.shared.spec.borrow_mut().name = name.into();
    }

    /// The worker's name.
    pub fn name(&self) -> String {
        self.shared.spec.borrow().name.clone()
    }

    /// With `true`, each process binds its own socket with `SO_REUSEPORT` and the kernel spreads
    /// connections evenly; with `false` (default) the master binds once and processes share it.
    pub fn set_reuse_port(&self, on: bool) {
        self.shared.spec.borrow_mut().reuse_port = on;
    }

    /// Whether processes bind with `SO_REUSEPORT`.
    pub fn reuse_port(&self) -> bool {
        self.shared.spec.borrow().reuse_port
    }

    /// With `false`, `reload` only runs `on_worker_reload` in this worker's processes instead of
    /// replacing them (for long-lived connections that must survive a reload). Default `true`.
    pub fn set_reloadable(&self, on: bool) {
        self.shared.spec.borrow_mut().reloadable = on;
    }

    /// Whether `reload` replaces this worker's processes.
    pub fn reloadable(&self) -> bool {
        self.shared.spec.borrow().reloadable
    }

    /// Unix user the worker processes run as (they switch after binding, so ports below 1024
    /// work). Needs the master to run as root; otherwise a warning is logged and processes keep
    /// the current user. Default: the current user.
    pub fn set_user(&self, user: impl Into<String>) {
        self.shared.spec.borrow_mut().user = Some(user.into());
    }

    /// Unix group for the worker processes (default: the user's primary group).
    pub fn set_group(&self, group: impl Into<String>) {
        self.shared.spec.borrow_mut().group = Some(group.into());
    }

    /// The configured user, if any.
    pub fn user(&self) -> Option<String> {
        self.shared.spec.borrow().user.clone()
    }

    /// The transport under the protocol: set by the scheme (`ssl://`, `https://`, `udp://`...),
    /// or here (Workerman's `$worker->transport = 'ssl'` on a `text://` worker).
    pub fn set_transport(&self, transport: Transport) {
        self.shared.spec.borrow_mut().transport = transport;
    }

    /// The transport.
    pub fn transport(&self) -> Transport {
        self.shared.spec.borrow().transport
    }

    /// The certificate chain and key (PEM files) for the `ssl` transport: the certificate for
    /// every client, or, with [`add_tls_sni`](Self::add_tls_sni), for clients asking for no
    /// name or another one. They are read when each worker process starts, so `reload` picks up
    /// renewed files; the master checks them at start, so a missing or bad file is a clear start
    /// error. More TLS settings: [`set_tls_client_auth`](Self::set_tls_client_auth),
    /// [`set_tls_alpn`](Self::set_tls_alpn).
    pub fn set_tls(&self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) {
        self.tls_mut(|tls| {
            tls.default = Some(crate::tls::TlsFiles {
                cert: cert.into(),
                key: key.into(),
            })
        });
    }

    /// Listen backlog (default 102400).
    pub fn set_backlog(&self, backlog: i32) {
        self.shared.spec.borrow_mut().backlog = backlog;
    }

    /// Replaces a process once it has handled this many requests (packets), gracefully: the
    /// master starts its replacement at once, and the old process stops accepting and exits when
    /// its connections are done. Off by default. Checked every second.
    pub fn set_max_requests(&self, requests: u64) {
        self.shared.spec.borrow_mut().max_requests = Some(requests);
    }

    /// Replaces a process, like [`set_max_requests`](Self::set_max_requests), once its resident
    /// memory (RSS) reaches this many bytes. Off by default. Checked every second.
    pub fn set_max_memory(&self, bytes: u64) {
        self.shared.spec.borrow_mut().max_memory = Some(bytes);
    }

    /// The listen backlog.
    pub fn backlog(&self) -> i32 {
        self.shared.spec.borrow().backlog
    }

    /// Send buffer limit for new connections, in bytes (default: the process-wide
    /// [`TcpConnection::set_default_max_send_buffer_size`], 1 MiB unless changed).
    pub fn set_max_send_buffer_size(&self, bytes: usize) {
        let mut l = self.shared.limits.get();
        l.max_send_buffer_size = Some(bytes);
        self.shared.limits.set(l);
    }

    /// Largest packet new connections accept, in bytes (default: the process-wide
    /// [`TcpConnection::set_default_max_package_size`], 10 MiB unless changed).
    pub fn set_max_package_size(&self, bytes: usize) {
        let mut l = self.shared.limits.get();
        l.max_package_size = Some(bytes);
        self.shared.limits.set(l);
    }

    /// Caps the connections of this worker in each of its processes: at `max`, a process stops
    /// accepting (clients wait in the listen backlog) and resumes as soon as one closes. TLS
    /// handshakes under way count. Off by default (a flood then ends with the process out of
    /// file descriptors or memory).
    ///
    /// ```
    /// use workerman::{Worker, protocol::Text};
    ///
    /// let worker = Worker::<Text>::new("text://127.0.0.1:2348").unwrap();
    /// worker.set_max_connections(10_000);
    /// assert_eq!(worker.max_connections(), Some(10_000));
    /// ```
    pub fn set_max_connections(&self, max: usize) {
        self.shared.gate.set_max(Some(max));
    }

    /// The per-process connection cap, if set.
    pub fn max_connections(&self) -> Option<usize> {
        self.shared.gate.max()
    }

    /// HTTP: how long a request head may take to arrive, from its first byte (for the first
    /// request of a connection, from the connection's start); then `408 Request Timeout` and a
    /// close. `None` turns it off. Default 60 s. See [`Timeouts`] for all of them.
    pub fn set_request_head_timeout(&self, timeout: impl Into<Option<Duration>>) {
        self.update_timeouts(|t| t.request_head = timeout.into());
    }

    /// HTTP: the longest wait between two reads of a request body; then `408 Request Timeout`
    /// and a close. `None` turns it off. Default 60 s.
    pub fn set_request_body_timeout(&self, timeout: impl Into<Option<Duration>>) {
        self.update_timeouts(|t| t.request_body = timeout.into());
    }

    /// HTTP: how long a keep-alive connection may wait for its next request after a response;
    /// then it is closed. `None` turns it off. Default 75 s.
    pub fn set_keep_alive_timeout(&self, timeout: impl Into<Option<Duration>>) {
        self.update_timeouts(|t| t.keep_alive = timeout.into());
    }

    /// WebSocket: how long the opening handshake may take, from the connection's start; then
    /// the connection is closed. `None` turns it off. Default 10 s.
    pub fn set_handshake_timeout(&self, timeout: impl Into<Option<Duration>>) {
        self.update_timeouts(|t| t.handshake = timeout.into());
    }

    /// Any protocol: a connection that sent nothing for this long is closed, whatever it is
    /// doing. Off (`None`) by default.
    ///
    /// ```
    /// use std::time::Duration;
    /// use workerman::{Worker, protocol::Text};
    ///
    /// let worker = Worker::<Text>::new("text://127.0.0.1:2348").unwrap();
    /// worker.set_idle_timeout(Duration::from_secs(300));
    /// assert_eq!(worker.timeouts().idle, Some(Duration::from_secs(300)));
    /// ```
    pub fn set_idle_timeout(&self, timeout: impl Into<Option<Duration>>) {
        self.update_timeouts(|t| t.idle = timeout.into());
    }

    /// Sets every timeout at once ([`Timeouts::NONE`] turns them all off).
    pub fn set_timeouts(&self, timeouts: Timeouts) {
        self.shared.timeouts.set(timeouts);
    }

    /// The timeouts of this worker's connections.
    pub fn timeouts(&self) -> Timeouts {
        self.shared.timeouts.get()
    }

    fn update_timeouts(&self, f: impl FnOnce(&mut Timeouts)) {
        let mut t = self.shared.timeouts.get();
        f(&mut t);
        self.shared.timeouts.set(t);
    }

    /// Returns once this process has room for a connection of this worker (below
    /// `max_connections`); `pause_accept` is the accept loop's other condition.
    pub(crate) async fn accept_ready(&self) {
        let gate = &self.shared.gate;
        if gate.is_open(self.connection_count()) {
            return;
        }
        gate.wait_open(
            || self.connection_count(),
            |max| {
                crate::settings::log(&format!(
                    "worker[{}:{}] max_connections ({max}) reached: accepting paused until a connection closes",
                    self.name(),
                    std::process::id()
                ))
            },
        )
        .await;
    }

    /// An accepted socket is on its way to becoming a connection (TLS handshake): it counts
    /// against `max_connections` until [`pending_ended`](Self::pending_ended).
    pub(crate) fn pending_started(&self) {
        self.shared.gate.pending_started();
    }

    pub(crate) fn pending_ended(&self) {
        self.shared.gate.pending_ended();
    }

    /// The listen address, if any.
    pub fn address(&self) -> Option<Address> {
        self.shared.spec.borrow().address.clone()
    }

    /// This process's index among the worker's processes, `0..count`; a replacement process keeps
    /// the index of the one it replaces.
    pub fn id(&self) -> usize {
        self.shared.id.get()
    }

    /// The protocol instance.
    pub fn protocol(&self) -> &P {
        &self.shared.protocol
    }

    /// The protocol's connection-side service, shared by this worker's connections.
    pub(crate) fn service(&self) -> Option<crate::connection::service::ServiceRef<P>> {
        self.shared.callbacks.borrow().conn.service.clone()
    }

    /// Addresses this process listens on for this worker (useful with port 0).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.shared.listeners.borrow().iter().filter_map(|(a, _)| *a).collect()
    }

    /// Live connections of this worker in this process, in id order (a snapshot: safe to send to
    /// or close connections while iterating).
    pub fn connections(&self) -> Vec<TcpConnection<P>> {
        self.connection_list().to_vec()
    }

    /// The live connections as a shared list (see `Shared::snapshot`): the same list until a
    /// connection comes or goes.
    pub(crate) fn connection_list(&self) -> Rc<[TcpConnection<P>]> {
        if let Some(list) = &*self.shared.snapshot.borrow() {
            return list.clone();
        }
        let list: Rc<[TcpConnection<P>]> = self.shared.connections.borrow().values().cloned().collect();
        *self.shared.snapshot.borrow_mut() = Some(list.clone());
        list
    }

    /// A connection came or went: the list is made anew when next needed. The old one is
    /// dropped outside the borrow (dropping it may drop a connection).
    fn connections_changed(&self) {
        let old = self.shared.snapshot.borrow_mut().take();
        drop(old);
    }

    /// The live connection with this id, in this process.
    pub fn connection(&self, id: u64) -> Option<TcpConnection<P>> {
        self.shared.connections.borrow().get(&id).cloned()
    }

    /// Sends `msg` to every connection of this worker in this process; returns how many
    /// connections took it. The message is encoded once and its bytes shared by every recipient
    /// (see [`broadcast`](crate::broadcast)); each recipient keeps its own backpressure
    /// (`max_send_buffer_size`, `on_buffer_full`, `on_buffer_drain`), and the broadcasts of one
    /// loop tick reach each socket in one write. With `count` above 1, each process reaches only
    /// its own connections.
    ///
    /// ```no_run
    /// use workerman::{Worker, protocol::Text};
    ///
    /// let chat = Worker::<Text>::new("text://0.0.0.0:2348").unwrap();
    /// chat.on_message(|conn, line| {
    ///     conn.worker().broadcast(format!("user[{}] said: {line}", conn.id()));
    /// });
    /// ```
    pub fn broadcast<'a, M>(&self, msg: M) -> usize
    where
        M: Into<P::Outgoing<'a>> + Clone,
    {
        crate::connection::broadcast(self.connection_list().iter(), msg)
    }

    /// How many connections this worker holds in this process.
    pub fn connection_count(&self) -> usize {
        self.shared.connections.borrow().len()
    }

    /// Whether this worker is stopping in this process.
    pub fn is_stopping(&self) -> bool {
        self.shared.stopping.get()
    }

    /// What a graceful stop or reload does with this worker's connections (default
    /// [`GracefulStop::CloseWhenQuiet`] after 1 s; [`GracefulStop::WaitForClient`] is Workerman's
    /// behaviour). A plain `stop` / `reload` is not affected.
    ///
    /// ```no_run
    /// use workerman::{GracefulStop, Worker, protocol::Text};
    ///
    /// let worker = Worker::<Text>::new("text://0.0.0.0:2348").unwrap();
    /// worker.set_graceful_stop(GracefulStop::WaitForClient);
    /// Worker::set_stop_timeout(std::time::Duration::from_secs(30));
    /// ```
    pub fn set_graceful_stop(&self, policy: GracefulStop) {
        self.shared.spec.borrow_mut().graceful_stop = policy;
    }

    /// See [`set_graceful_stop`](Worker::set_graceful_stop).
    pub fn graceful_stop(&self) -> GracefulStop {
        self.shared.spec.borrow().graceful_stop
    }

    /// Stops accepting new connections in this process, keeping the listening socket (Workerman's
    /// `pauseAccept()`): clients still connect, into the kernel's backlog (or to another process
    /// sharing the socket), and wait there until [`resume_accept`](Worker::resume_accept).
    /// Connections already accepted carry on. For a UDP worker, datagrams wait unread. Call it
    /// inside the worker process (a callback, a timer).
    pub fn pause_accept(&self) {
        self.shared.accepting.send_replace(false);
    }

    /// Accepts again after [`pause_accept`](Worker::pause_accept).
    pub fn resume_accept(&self) {
        self.shared.accepting.send_replace(true);
    }

    /// Whether this process accepts new connections (`false` after
    /// [`pause_accept`](Worker::pause_accept)).
    pub fn is_accepting(&self) -> bool {
        *self.shared.accepting.borrow()
    }

    /// Stops listening in this process, for good (Workerman's `unlisten()`): the accept loop ends
    /// and this process's copy of the listening socket is closed; connections already accepted
    /// carry on. The port is free again only when no process holds the socket any more: with
    /// `reuse_port` each process has its own socket, otherwise the master (and the other
    /// processes of the worker) keep theirs and the kernel keeps accepting into the backlog.
    pub fn unlisten(&self) {
        self.stop_listening();
    }

    /// Watches whether the listeners should accept (for the accept loops).
    pub(crate) fn accept_switch(&self) -> tokio::sync::watch::Receiver<bool> {
        self.shared.accepting.subscribe()
    }

    /// Called in each process once it started, before connections are accepted.
    pub fn on_worker_start(&self, f: impl Fn(&Worker<P>) + 'static) {
        self.shared.callbacks.borrow_mut().on_worker_start = Some(Rc::new(f));
    }

    /// Called in each process when it stops.
    pub fn on_worker_stop(&self, f: impl Fn(&Worker<P>) + 'static) {
        self.shared.callbacks.borrow_mut().on_worker_stop = Some(Rc::new(f));
    }

    /// Called in each process on `reload`.
    pub fn on_worker_reload(&self, f: impl Fn(&Worker<P>) + 'static) {
        self.shared.callbacks.borrow_mut().on_worker_reload = Some(Rc::new(f));
    }

    /// Called **in the master** each time one of this worker's processes exited (Workerman's
    /// `onWorkerExit`): the worker, the process's pid and its exit status (`code()` for an exit,
    /// `signal()` from `std::os::unix::process::ExitStatusExt` for a kill). It runs for every
    /// exit — a crash, a kill, a reload, a stop — before the master starts a replacement. The
    /// master has no event loop: keep it short and blocking-free (log, alert, count). A panic in
    /// it is logged and the master carries on.
    ///
    /// ```no_run
    /// use workerman::{Worker, protocol::Text};
    ///
    /// let worker = Worker::<Text>::new("text://0.0.0.0:2348").unwrap();
    /// worker.on_worker_exit(|worker, pid, status| {
    ///     Worker::log(&format!("{} process {pid} exited: {status}", worker.name()));
    /// });
    /// ```
    pub fn on_worker_exit(&self, f: impl Fn(&Worker<P>, u32, ExitStatus) + 'static) {
        self.shared.callbacks.borrow_mut().on_worker_exit = Some(Rc::new(f));
    }

    /// Called when a connection is accepted, before any data.
    pub fn on_connect(&self, f: impl Fn(&TcpConnection<P>) + 'static) {
        self.shared.callbacks.borrow_mut().conn.on_connect = Some(Rc::new(f));
    }

    /// Called with each message the protocol decodes.
    pub fn on_message(&self, f: impl Fn(&TcpConnection<P>, P::Message) + 'static) {
        self.shared.callbacks.borrow_mut().conn.on_message = Some(Rc::new(f));
    }

    /// Called with each message of each datagram a `udp://` worker receives, with a handle to
    /// reply to its sender (UDP has no connections: `on_connect`, `on_message` and `on_close`
    /// are for stream workers).
    ///
    /// ```no_run
    /// use workerman::{Worker, protocol::Tcp};
    ///
    /// let worker = Worker::<Tcp>::new("udp://0.0.0.0:2351").unwrap();
    /// worker.on_udp_message(|peer, datagram| {
    ///     peer.send(datagram);
    /// });
    /// ```
    pub fn on_udp_message(&self, f: impl Fn(&UdpConnection<P>, P::Message) + 'static) {
        self.shared.callbacks.borrow_mut().on_udp_message = Some(Rc::new(f));
    }

    /// Called once when a connection closes, whoever closed it.
    pub fn on_close(&self, f: impl Fn(&TcpConnection<P>) + 'static) {
        self.shared.callbacks.borrow_mut().conn.on_close = Some(Rc::new(f));
    }

    /// Called when a send fails (buffer full, peer gone) or an outgoing connect fails.
    pub fn on_error(&self, f: impl Fn(&TcpConnection<P>, &ConnectionError) + 'static) {
        self.shared.callbacks.borrow_mut().conn.on_error = Some(Rc::new(f));
    }

    /// Called when a send leaves the send buffer at or past `max_send_buffer_size`.
    pub fn on_buffer_full(&self, f: impl Fn(&TcpConnection<P>) + 'static) {
        self.shared.callbacks.borrow_mut().conn.on_buffer_full = Some(Rc::new(f));
    }

    /// Called when a queued send buffer has been written out completely.
    pub fn on_buffer_drain(&self, f: impl Fn(&TcpConnection<P>) + 'static) {
        self.shared.callbacks.borrow_mut().conn.on_buffer_drain = Some(Rc::new(f));
    }

    /// Handles panics of this worker's callbacks and tasks instead of exiting the process (the
    /// default: log, exit with status 250, and the master starts a replacement).
    pub fn set_error_handler(&self, f: impl Fn(&PanicReport) + 'static) {
        self.shared.callbacks.borrow_mut().error_handler = Some(Rc::new(f));
    }

    /// Listens now, in this process only (Workerman's `listen()` inside `on_worker_start`). To
    /// have several processes listen on one port this way, set `reuse_port`.
    pub fn listen(&self) -> Result<()> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::NotInWorker("Worker::listen"));
        }
        let spec = self.shared.spec.borrow().clone();
        let Some(addr) = &spec.address else {
            return Ok(());
        };
        let bound = crate::listen::bind(addr, spec.transport, spec.reuse_port, spec.backlog)?;
        self.accept_on(bound)
    }

    /// Serves a bound socket in this process: accepts connections (TLS-wrapped for the `ssl`
    /// transport), or receives datagrams.
    pub(crate) fn accept_on(&self, bound: crate::listen::Bound) -> Result<()> {
        use crate::listen::Bound;
        use crate::process::accept;
        let nonblocking = |r: std::io::Result<()>| r.map_err(|e| Error::io("set_nonblocking", e));
        let register = |e| Error::io("register listener", e);
        let spec = self.spec();
        let (local, handle) = match bound {
            Bound::Tcp(l) => {
                let local = l.local_addr().ok();
                nonblocking(l.set_nonblocking(true))?;
                let l = tokio::net::TcpListener::from_std(l).map_err(register)?;
                let handle = if spec.transport == Transport::Ssl {
                    let files = spec.tls.as_ref().ok_or_else(|| Error::Address {
                        address: spec.address.as_ref().map(|a| a.to_string()).unwrap_or_default(),
                        reason: "the ssl transport needs a certificate and key: call set_tls".into(),
                    })?;
                    let acceptor = tokio_rustls::TlsAcceptor::from(crate::tls::server_config(files)?);
                    tokio::task::spawn_local(accept::tls_accept_loop(self.clone(), l, acceptor))
                } else {
                    tokio::task::spawn_local(accept::accept_loop(self.clone(), l))
                };
                (local, handle)
            }
            Bound::Unix(l) => {
                nonblocking(l.set_nonblocking(true))?;
                let l = tokio::net::UnixListener::from_std(l).map_err(register)?;
                (
                    None,
                    tokio::task::spawn_local(accept::unix_accept_loop(self.clone(), l)),
                )
            }
            Bound::Udp(s) => {
                if let Some(why) = self.misfit() {
                    return Err(Error::Address {
                        address: spec.address.as_ref().map(|a| a.to_string()).unwrap_or_default(),
                        reason: why,
                    });
                }
                let local = s.local_addr().ok();
                nonblocking(s.set_nonblocking(true))?;
                let s = tokio::net::UdpSocket::from_std(s).map_err(register)?;
                (local, tokio::task::spawn_local(accept::udp_loop(self.clone(), s)))
            }
        };
        self.shared.listeners.borrow_mut().push((local, handle.abort_handle()));
        Ok(())
    }

    /// The protocol, callbacks and limits a new connection of this worker starts with.
    pub(crate) fn connection_parts(&self) -> (Rc<P>, Callbacks<P>, Limits) {
        (
            self.shared.protocol.clone(),
            self.shared.callbacks.borrow().conn.clone(),
            self.shared.limits.get().resolve(),
        )
    }

    /// The callback of a UDP worker's messages.
    pub(crate) fn udp_message_callback(&self) -> Option<crate::connection::UdpMessageFn<P>> {
        self.shared.callbacks.borrow().on_udp_message.clone()
    }

    /// Callbacks set that this worker's transport never calls, as an error message.
    fn misfit(&self) -> Option<String> {
        let cb = self.shared.callbacks.borrow();
        let udp = self.shared.spec.borrow().transport == Transport::Udp;
        (udp && cb.on_udp_message.is_none() && cb.conn.on_message.is_some())
            .then(|| "a udp worker delivers datagrams to on_udp_message(|peer, msg| ...), not on_message".to_string())
    }

    /// Makes a connection for an accepted socket and starts its task.
    pub(crate) fn adopt(&self, io: crate::connection::Io) {
        let conn = TcpConnection::accepted(self, io);
        self.shared.connections.borrow_mut().insert(conn.id(), conn.clone());
        self.connections_changed();
        tokio::task::spawn_local(conn.drive());
    }

    pub(crate) fn forget_connection(&self, id: u64) {
        let gone = self.shared.connections.borrow_mut().remove(&id);
        if gone.is_some() {
            self.connections_changed();
        }
        drop(gone);
        self.shared.gate.room_made();
    }

    pub(crate) fn stop_listening(&self) {
        for (_, h) in self.shared.listeners.borrow_mut().drain(..) {
            h.abort();
        }
    }
}

impl Worker<Tcp> {
    /// A worker with no listener: processes that only run timers, clients or async tasks.
    pub fn without_listener() -> Self {
        Self::build(None, Tcp)
    }

    /// Runs the start file's command line (`start`, `stop`, ...). In the master it supervises the
    /// worker processes and returns only on error; in worker processes it runs the event loop.
    /// Exits the process when done.
    pub fn run_all() -> ! {
        crate::runner::run_all()
    }

    /// Stops the current worker process from one of its callbacks (Workerman's pattern for
    /// "restart after N requests"): it stops accepting, closes its connections after flushing
    /// them, and exits; the master starts its replacement at once. In `run_standalone`, ends the
    /// run. Does nothing outside a worker's event loop.
    pub fn stop_all() {
        crate::process::request_stop(false);
    }

    /// Asks the master to reload every reloadable worker process, as `./app reload` (or
    /// `reload -g` when `graceful`) does: what FileMonitor calls when code changed. Returns false
    /// outside a worker process started by a master (e.g. in `run_standalone`).
    pub fn reload_all(graceful: bool) -> bool {
        crate::process::request_reload(graceful)
    }

    /// Whether the service runs as a daemon (`start -d`); worker processes know it too.
    pub fn daemonized() -> bool {
        settings::get().daemonized
    }

    /// Makes `start` (and `restart`) run as a daemon without `-d` (Workerman's
    /// `Worker::$daemonize = true`). Call it before [`Worker::run_all`].
    pub fn set_daemonize(on: bool) {
        settings::get().daemonize = on;
    }

    /// Every worker of this program, in creation order (Workerman's `Worker::getAllWorkers()`),
    /// as type-erased handles; [`WorkerRef::downcast`] gives the typed [`Worker`] back. In a
    /// worker process this includes the workers whose processes are others (their callbacks
    /// never run here; `id`, `pause_accept`... concern this process only).
    ///
    /// ```no_run
    /// use workerman::{Worker, protocol::Text};
    ///
    /// let chat = Worker::<Text>::new("text://0.0.0.0:2348").unwrap();
    /// chat.set_name("chat");
    /// chat.on_message(|conn, line| {
    ///     if line == "workers" {
    ///         let names: Vec<String> = Worker::all().iter().map(|w| w.name()).collect();
    ///         conn.send(names.join(","));
    ///     }
    /// });
    /// ```
    pub fn all() -> Vec<WorkerRef> {
        registry::all().into_iter().map(WorkerRef).collect()
    }

    /// Called in the master when it receives `reload` (or `reload -g`), before any process is
    /// replaced (Workerman's `Worker::$onMasterReload`). Runs in the master, which has no event
    /// loop: keep it short. A panic in it is logged and the master carries on.
    pub fn on_master_reload(f: impl Fn() + 'static) {
        master_hooks::set(master_hooks::Hook::Reload, Rc::new(f));
    }

    /// Called in the master when it stops, after every worker process has exited and the pid
    /// file is removed, just before the master exits (Workerman's `Worker::$onMasterStop`).
    pub fn on_master_stop(f: impl Fn() + 'static) {
        master_hooks::set(master_hooks::Hook::Stop, Rc::new(f));
    }

    /// Writes a line to the log file (`Y-m-d H:i:s pid:N message`), and to stdout unless daemonized.
    pub fn log(message: &str) {
        settings::log(message);
    }

    /// Where the master's pid is written (default `workerman.<start file name>.pid` beside the
    /// executable).
    pub fn set_pid_file(path: impl Into<PathBuf>) {
        settings::get().pid_file = Some(path.into());
    }

    /// Where the master writes the report `status` prints (Workerman's `Worker::$statusFile`);
    /// `connections` uses the same path with the extension `connections`. Default: the pid file's
    /// path with the extensions `status` and `connections`. The CLI reads the report there, so
    /// the start file must set the same path in every run (set it before [`Worker::run_all`]).
    pub fn set_status_file(path: impl Into<PathBuf>) {
        settings::get().status_file = Some(path.into());
    }

    /// Where log lines go (default `workerman.log` beside the executable).
    pub fn set_log_file(path: impl Into<PathBuf>) {
        settings::get().log_file = Some(path.into());
    }

    /// Where stdout and stderr go in daemon mode (default `/dev/null`).
    pub fn set_stdout_file(path: impl Into<PathBuf>) {
        settings::get().stdout_file = Some(path.into());
    }

    /// Size past which the log file keeps only its newer half (default 10 MiB).
    pub fn set_log_file_max_size(bytes: u64) {
        settings::get().log_file_max_size = bytes;
    }

    /// How long a stopping worker process may take before the master kills it (default 2 s).
    pub fn set_stop_timeout(timeout: Duration) {
        settings::get().stop_timeout = timeout;
    }

    /// Runs every worker of this start file inside the current thread, as one process: no
    /// master, no CLI, each worker with id 0. Returns once [`Worker::stop_all`] is called from a
    /// callback and every connection has closed. For tests and embedding.
    pub fn run_standalone() -> Result<()> {
        crate::logging::install();
        crate::process::run_standalone()
    }
}

/// Type-erased view of a `Worker<P>`, for the master and the process runner.
pub(crate) trait AnyWorker {
    fn spec(&self) -> Spec;
    /// In a worker process: the listener, inherited or bound here (before privileges are dropped).
    fn bind(&self, inherited: Option<crate::listen::Bound>) -> Result<Option<crate::listen::Bound>>;
    /// In a worker process: run `on_worker_start`, then start accepting on `listener`.
    fn start(&self, id: usize, listener: Option<crate::listen::Bound>) -> Result<()>;
    /// In a worker process: `on_worker_stop` and stop accepting (connections are ended by the
    /// process afterwards, see `process::drain_connections`).
    fn stop(&self, graceful: bool);
    fn reload(&self);
    /// In the master: one of this worker's processes exited.
    fn exited(&self, pid: u32, status: ExitStatus);
    fn id(&self) -> usize;
    fn connection_count(&self) -> usize;
    fn pause_accept(&self);
    fn resume_accept(&self);
    fn unlisten(&self);
    fn as_any(&self) -> &dyn std::any::Any;
}

impl<P: Protocol> AnyWorker for Worker<P> {
    fn spec(&self) -> Spec {
        let mut spec = self.shared.spec.borrow().clone();
        spec.misfit = self.misfit();
        spec
    }

    fn bind(&self, inherited: Option<crate::listen::Bound>) -> Result<Option<crate::listen::Bound>> {
        let spec = self.spec();
        Ok(match (inherited, &spec.address) {
            (Some(l), _) => Some(l),
            (None, Some(addr)) => Some(crate::listen::bind(
                addr,
                spec.transport,
                spec.reuse_port,
                spec.backlog,
            )?),
            (None, None) => None,
        })
    }

    fn start(&self, id: usize, listener: Option<crate::listen::Bound>) -> Result<()> {
        self.shared.id.set(id);
        if let Some(handler) = self.shared.callbacks.borrow().error_handler.clone() {
            crate::panic::set_handler(Some(handler));
        }
        // The accept task only runs once this synchronous start returns, so connections are
        // accepted after on_worker_start (Workerman 5 order), and local_addrs() works inside it.
        if let Some(l) = listener {
            self.accept_on(l)?;
        }
        let start = self.shared.callbacks.borrow().on_worker_start.clone();
        if let Some(cb) = start {
            crate::panic::guard(|| cb(self));
        }
        Ok(())
    }

    fn stop(&self, graceful: bool) {
        if self.shared.stopping.replace(true) {
            return;
        }
        let stop = self.shared.callbacks.borrow().on_worker_stop.clone();
        if let Some(cb) = stop {
            crate::panic::guard(|| cb(self));
        }
        // The process then ends the connections (process::drain_connections).
        let _ = graceful;
        self.stop_listening();
    }

    fn reload(&self) {
        let cb = self.shared.callbacks.borrow().on_worker_reload.clone();
        if let Some(cb) = cb {
            crate::panic::guard(|| cb(self));
        }
    }

    fn exited(&self, pid: u32, status: ExitStatus) {
        let cb = self.shared.callbacks.borrow().on_worker_exit.clone();
        if let Some(cb) = cb {
            master_hooks::run("on_worker_exit", || cb(self, pid, status));
        }
    }

    fn id(&self) -> usize {
        Worker::id(self)
    }

    fn connection_count(&self) -> usize {
        Worker::connection_count(self)
    }

    fn pause_accept(&self) {
        Worker::pause_accept(self)
    }

    fn resume_accept(&self) {
        Worker::resume_accept(self)
    }

    fn unlisten(&self) {
        Worker::unlisten(self)
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

/// A worker of this program whatever its protocol, as [`Worker::all`] lists them.
#[derive(Clone)]
pub struct WorkerRef(Rc<dyn AnyWorker>);

impl fmt::Debug for WorkerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let spec = self.0.spec();
        f.debug_struct("WorkerRef")
            .field("name", &spec.name)
            .field("address", &spec.address.as_ref().map(|a| a.to_string()))
            .field("count", &spec.count)
            .finish()
    }
}

impl WorkerRef {
    /// [`Worker::name`].
    pub fn name(&self) -> String {
        self.0.spec().name
    }

    /// [`Worker::count`].
    pub fn count(&self) -> usize {
        self.0.spec().count
    }

    /// [`Worker::address`].
    pub fn address(&self) -> Option<Address> {
        self.0.spec().address
    }

    /// [`Worker::id`]: meaningful for the worker this process runs.
    pub fn id(&self) -> usize {
        self.0.id()
    }

    /// [`Worker::connection_count`] in this process.
    pub fn connection_count(&self) -> usize {
        self.0.connection_count()
    }

    /// [`Worker::pause_accept`].
    pub fn pause_accept(&self) {
        self.0.pause_accept()
    }

    /// [`Worker::resume_accept`].
    pub fn resume_accept(&self) {
        self.0.resume_accept()
    }

    /// [`Worker::unlisten`].
    pub fn unlisten(&self) {
        self.0.unlisten()
    }

    /// The typed worker, when its protocol is `P`.
    ///
    /// ```
    /// use workerman::{Worker, protocol::{Text, Tcp}};
    ///
    /// let text = Worker::<Text>::new("text://127.0.0.1:0").unwrap();
    /// let all = Worker::all();
    /// let found = all.iter().find_map(|w| w.downcast::<Text>()).unwrap();
    /// assert_eq!(found.name(), text.name());
    /// assert!(all.iter().all(|w| w.downcast::<Tcp>().is_none()));
    /// ```
    pub fn downcast<P: Protocol>(&self) -> Option<Worker<P>> {
        self.0.as_any().downcast_ref::<Worker<P>>().cloned()
    }
}

pub(crate) mod master_hooks {
    //! `Worker::on_master_reload` / `on_master_stop`: set before `run_all`, run by the master
    //! (one thread, no event loop).
    use std::cell::RefCell;
    use std::panic::{AssertUnwindSafe, catch_unwind};
    use std::rc::Rc;

    #[derive(Clone, Copy)]
    pub(crate) enum Hook {
        Reload,
        Stop,
    }

    type HookFn = Rc<dyn Fn()>;

    thread_local! {
        static HOOKS: RefCell<[Option<HookFn>; 2]> = const { RefCell::new([None, None]) };
    }

    pub(crate) fn set(hook: Hook, f: HookFn) {
        HOOKS.with(|h| h.borrow_mut()[hook as usize] = Some(f));
    }

    /// Runs the hook, if set.
    pub(crate) fn fire(hook: Hook) {
        let f = HOOKS.with(|h| h.borrow()[hook as usize].clone());
        if let Some(f) = f {
            let name = match hook {
                Hook::Reload => "on_master_reload",
                Hook::Stop => "on_master_stop",
            };
            run(name, || f());
        }
    }

    /// Runs a user callback in the master: a panic is logged, the master carries on.
    pub(crate) fn run(name: &str, f: impl FnOnce()) {
        if let Err(payload) = catch_unwind(AssertUnwindSafe(f)) {
            let message = payload
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".into());
            crate::settings::log(&format!(
                "Workerman[{}] {name} panicked: {message}",
                crate::settings::start_name()
            ));
        }
    }
}

pub(crate) mod registry {
    //! Every `Worker` created in this thread, in creation order: the same order in every process
    //! of a start file, so an index names the same worker in the master and in its processes.
    use std::cell::RefCell;
    use std::rc::Rc;

    use super::AnyWorker;

    thread_local! {
        static WORKERS: RefCell<Vec<Rc<dyn AnyWorker>>> = const { RefCell::new(Vec::new()) };
    }

    pub fn add(w: Rc<dyn AnyWorker>) {
        WORKERS.with(|ws| ws.borrow_mut().push(w));
    }

    pub fn all() -> Vec<Rc<dyn AnyWorker>> {
        WORKERS.with(|ws| ws.borrow().clone())
    }
}
