//! Connections: a cheap clonable handle per TCP connection, owned by its worker process.
//!
//! Each accepted socket gets one task on the worker's event loop. It reads up to 64 KiB at a time,
//! lets the protocol cut packets out of the buffer and hands each decoded message to `on_message`.
//! Replies sent while a read is being processed are coalesced into one write after it; replies
//! sent from elsewhere (a timer, another connection, an async task) are written immediately when
//! the socket can take them, and queued otherwise.
//!
//! One file per concern:
//!
//! | file | what |
//! |---|---|
//! | `mod.rs` | the handle, its state, the three modes (accepted / outgoing / UDP reply) |
//! | `info.rs` | accessors: ids, addresses, counters, limits |
//! | `write.rs` | sending: the one "write now" routine used by `send`, `flush` and the task |
//! | `close.rs` | the close lifecycle (`close`, `destroy`, `drained`) and the live-connection guard |
//! | `driver.rs` | the connection's task: reading, cutting packets, dispatching them |
//! | `callbacks.rs` | per-connection callbacks, flow control (`pause_recv`, `pipe`) |
//! | `data.rs` | typed user data on a connection |
//! | `udp.rs` | [`UdpConnection`], the reply handle of a received datagram |
//! | `client.rs` | outgoing connections ([`AsyncTcpConnection`], [`AsyncUdpConnection`]) |
//! | `stream.rs`, `tls_info.rs` | the socket under a connection (TCP, Unix, TLS, UDP); TLS handshake details |
//! | `registry.rs`, `pool.rs` | live connections of the process; spare buffers |
//! | `timeout.rs` | the worker's timeouts: one deadline per connection, one queue per process |

use std::cell::{Cell, RefCell};
use std::fmt;
use std::net::SocketAddr;
use std::rc::Rc;
use std::task::Waker;

use bytes::BytesMut;

use crate::protocol::Protocol;
use crate::worker::Worker;

mod broadcast;
mod callbacks;
mod client;
mod close;
mod data;
mod defaults;
mod driver;
mod info;
pub(crate) mod pool;
pub mod proxy;
pub(crate) mod registry;
mod sendbuf;
pub(crate) mod service;
mod socket;
mod stream;
mod timeout;
mod tls_info;
mod types;
mod udp;
mod write;

pub use broadcast::broadcast;
pub(crate) use callbacks::{Callbacks, MessageFn};
pub use client::{AsyncTcpConnection, AsyncUdpConnection};
pub use close::DEFAULT_END_LINGER;
use close::Live;
use data::Extensions;
pub(crate) use stream::Io;
pub use timeout::{
    DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_KEEP_ALIVE_TIMEOUT, DEFAULT_REQUEST_BODY_TIMEOUT, DEFAULT_REQUEST_HEAD_TIMEOUT,
    Timeouts,
};
pub use types::{ConnectionError, SendResult, Status};
pub use udp::UdpConnection;
pub(crate) use udp::UdpMessageFn;

/// Default for `max_send_buffer_size`: 1 MiB.
pub const DEFAULT_MAX_SEND_BUFFER_SIZE: usize = 1024 * 1024;
/// Default for `max_package_size`: 10 MiB.
pub const DEFAULT_MAX_PACKAGE_SIZE: usize = 10 * 1024 * 1024;

thread_local! {
    static NEXT_ID: Cell<u64> = const { Cell::new(1) };
}

pub(crate) fn next_id() -> u64 {
    NEXT_ID.with(|n| {
        let id = n.get();
        n.set(id.wrapping_add(1).max(1));
        id
    })
}

/// Size limits of a connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_send_buffer_size: usize,
    pub max_package_size: usize,
}

impl Default for Limits {
    /// The process-wide defaults ([`TcpConnection::set_default_max_send_buffer_size`]), as they
    /// are now.
    fn default() -> Self {
        Limits {
            max_send_buffer_size: defaults::max_send_buffer_size(),
            max_package_size: defaults::max_package_size(),
        }
    }
}

/// The limits a worker set itself; the others follow the process-wide defaults at the time
/// each connection is made.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct LimitOverrides {
    pub max_send_buffer_size: Option<usize>,
    pub max_package_size: Option<usize>,
}

impl LimitOverrides {
    /// The limits a new connection starts with.
    pub fn resolve(self) -> Limits {
        let d = Limits::default();
        Limits {
            max_send_buffer_size: self.max_send_buffer_size.unwrap_or(d.max_send_buffer_size),
            max_package_size: self.max_package_size.unwrap_or(d.max_package_size),
        }
    }
}

/// What a connection is, fixed at creation.
pub(crate) enum Mode<P: Protocol> {
    /// Accepted by one of this worker's listeners; live (counted, listed) until closed.
    Accepted(Worker<P>),
    /// An outgoing connection ([`AsyncTcpConnection`], [`AsyncUdpConnection`]); live from
    /// `connect` until closed.
    Client(Box<client::ClientInfo>),
    /// The reply handle of one received datagram: never live (not counted, not listed, no
    /// task); each send is one datagram to the sender.
    UdpReply(Worker<P>),
}

impl<P: Protocol> Mode<P> {
    /// The worker whose listener the connection (or datagram) came from.
    pub(crate) fn worker(&self) -> Option<&Worker<P>> {
        match self {
            Mode::Accepted(w) | Mode::UdpReply(w) => Some(w),
            Mode::Client(_) => None,
        }
    }

    /// Whether each send is one datagram (a UDP reply handle or an outgoing UDP connection),
    /// known without looking at the socket.
    pub(crate) fn is_datagram(&self) -> bool {
        match self {
            Mode::UdpReply(_) => true,
            Mode::Client(info) => info.is_udp(),
            Mode::Accepted(_) => false,
        }
    }

    /// Where an outgoing connection connects to.
    pub(crate) fn client(&self) -> Option<&client::ClientInfo> {
        match self {
            Mode::Client(info) => Some(info),
            _ => None,
        }
    }
}

struct State<P: Protocol> {
    status: Status,
    recv: BytesMut,
    /// Size of the packet being waited for, once `input` told it.
    want: Option<usize>,
    send: sendbuf::SendBuf,
    proto: P::State,
    paused: bool,
    in_dispatch: bool,
    limits: Limits,
    cb: Callbacks<P>,
    data: Extensions,
    bytes_read: u64,
    bytes_written: u64,
    /// The transport may hold written bytes of its own (TLS) that still need a flush.
    unflushed: bool,
    /// `on_buffer_full` fired and `on_buffer_drain` has not yet.
    full_signalled: bool,
    /// Bytes were queued outside a read's dispatch and wait for the end-of-tick flush.
    deferred: bool,
    /// Datagrams sent by a UDP client before its socket exists, one entry per send.
    pending_datagrams: Vec<bytes::Bytes>,
    /// Where the connection stands for its worker's timeouts, and its deadline.
    clock: timeout::Clock,
}

struct Inner<P: Protocol> {
    id: u64,
    protocol: Rc<P>,
    mode: Mode<P>,
    io: RefCell<Option<Rc<Io>>>,
    peer: Cell<Option<SocketAddr>>,
    local: Cell<Option<SocketAddr>>,
    /// Present while the connection is live: counted in `status`, listed by `connections`.
    live: RefCell<Option<Live>>,
    st: RefCell<State<P>>,
    /// Set by `wake`; the connection's task re-examines its state when it sees it.
    woken: Cell<bool>,
    waker: Cell<Option<Waker>>,
    /// Wakes `drained()` callers when the send buffer empties or the connection closes.
    drain: tokio::sync::Notify,
    /// How many wait on `drain` (an emptied send buffer notifies only if some do: the notify
    /// takes a lock, and a busy connection empties its buffer after every write).
    drain_waiters: Cell<usize>,
}

impl<P: Protocol> Inner<P> {
    /// Makes the connection's task look at its state again (data queued, close requested...).
    fn wake(&self) {
        self.woken.set(true);
        if let Some(w) = self.waker.take() {
            w.wake();
        }
    }
}

/// One TCP connection, as seen by callbacks. Clone it freely (it is a reference-counted handle)
/// to keep it in a map, a timer or an async task.
pub struct TcpConnection<P: Protocol> {
    inner: Rc<Inner<P>>,
}

impl<P: Protocol> Clone for TcpConnection<P> {
    fn clone(&self) -> Self {
        TcpConnection {
            inner: self.inner.clone(),
        }
    }
}

impl<P: Protocol> PartialEq for TcpConnection<P> {
    fn eq(&self, other: &Self) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }
}

impl<P: Protocol> Eq for TcpConnection<P> {}

impl<P: Protocol> fmt::Debug for TcpConnection<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TcpConnection")
            .field("id", &self.inner.id)
            .field("status", &self.status())
            .field("remote", &self.remote_address())
            .finish()
    }
}

impl<P: Protocol> TcpConnection<P> {
    /// A connection accepted by `worker`'s listener: live at once.
    pub(crate) fn accepted(worker: &Worker<P>, io: Io) -> Self {
        let (protocol, cb, limits) = worker.connection_parts();
        let conn = Self::build(protocol, Mode::Accepted(worker.clone()), Some(io), cb, limits);
        conn.count_in();
        conn
    }

    /// A connection in `mode`, established when `io` is given, connecting otherwise; not live
    /// yet (see [`count_in`](Self::count_in)).
    fn build(protocol: Rc<P>, mode: Mode<P>, io: Option<Io>, cb: Callbacks<P>, limits: Limits) -> Self {
        let status = if io.is_some() {
            Status::Established
        } else {
            Status::Connecting
        };
        let accepted = matches!(mode, Mode::Accepted(_));
        let (peer, local) = io
            .as_ref()
            .map(|io| (io.peer_addr(), io.local_addr()))
            .unwrap_or((None, None));
        TcpConnection {
            inner: Rc::new(Inner {
                id: next_id(),
                protocol,
                mode,
                io: RefCell::new(io.map(Rc::new)),
                peer: Cell::new(peer),
                local: Cell::new(local),
                live: RefCell::new(None),
                st: RefCell::new(State {
                    status,
                    recv: BytesMut::new(),
                    want: None,
                    send: sendbuf::SendBuf::default(),
                    proto: P::State::default(),
                    paused: false,
                    in_dispatch: false,
                    limits,
                    cb,
                    data: Extensions::default(),
                    bytes_read: 0,
                    bytes_written: 0,
                    unflushed: false,
                    full_signalled: false,
                    deferred: false,
                    pending_datagrams: Vec::new(),
                    clock: timeout::Clock::new(accepted),
                }),
                woken: Cell::new(false),
                waker: Cell::new(None),
                drain: tokio::sync::Notify::new(),
                drain_waiters: Cell::new(0),
            }),
        }
    }
}
