//! Connections: a cheap clonable handle per TCP connection, owned by its worker process.
//!
//! Each accepted socket gets one task on the worker's event loop. It reads up to 64 KiB at a time,
//! lets the protocol cut packets out of the buffer and hands each decoded message to `on_message`.
//! Replies sent while a read is being processed are coalesced into one write after it; replies
//! sent from elsewhere (a timer, another connection, an async task) are written immediately when
//! the socket can take them, and queued otherwise.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::task::Waker;

use bytes::{Buf, BytesMut};

use crate::panic::guard;
use crate::protocol::{Context, Protocol};
use crate::stats;
use crate::worker::Worker;

mod client;
mod data;
mod driver;
pub(crate) mod pool;
pub(crate) mod registry;
mod stream;
mod tls_info;
mod types;

pub use client::{AsyncTcpConnection, AsyncUdpConnection};
use data::Extensions;
use registry::Entry;
pub(crate) use stream::Io;
pub use types::{ConnectionError, SendResult, Status};

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

pub(crate) type ConnFn<P> = Rc<dyn Fn(&TcpConnection<P>)>;
pub(crate) type MessageFn<P> = Rc<dyn Fn(&TcpConnection<P>, <P as Protocol>::Message)>;
pub(crate) type ErrorFn<P> = Rc<dyn Fn(&TcpConnection<P>, &ConnectionError)>;

/// The callbacks of one connection, copied from its worker at accept time.
pub(crate) struct Callbacks<P: Protocol> {
    pub on_connect: Option<ConnFn<P>>,
    pub on_message: Option<MessageFn<P>>,
    pub on_close: Option<ConnFn<P>>,
    pub on_error: Option<ErrorFn<P>>,
    pub on_buffer_full: Option<ConnFn<P>>,
    pub on_buffer_drain: Option<ConnFn<P>>,
    /// The protocol's connection-side service (hooks, handshake replies, file streaming).
    pub service: Option<crate::service::ServiceRef<P>>,
}

impl<P: Protocol> Default for Callbacks<P> {
    fn default() -> Self {
        Callbacks {
            on_connect: None,
            on_message: None,
            on_close: None,
            on_error: None,
            on_buffer_full: None,
            on_buffer_drain: None,
            service: None,
        }
    }
}

impl<P: Protocol> Clone for Callbacks<P> {
    fn clone(&self) -> Self {
        Callbacks {
            on_connect: self.on_connect.clone(),
            on_message: self.on_message.clone(),
            on_close: self.on_close.clone(),
            on_error: self.on_error.clone(),
            on_buffer_full: self.on_buffer_full.clone(),
            on_buffer_drain: self.on_buffer_drain.clone(),
            service: self.service.clone(),
        }
    }
}

/// Size limits of a connection.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub max_send_buffer_size: usize,
    pub max_package_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_send_buffer_size: DEFAULT_MAX_SEND_BUFFER_SIZE,
            max_package_size: DEFAULT_MAX_PACKAGE_SIZE,
        }
    }
}

struct State<P: Protocol> {
    status: Status,
    recv: BytesMut,
    /// Size of the packet being waited for, once `input` told it.
    want: Option<usize>,
    send: BytesMut,
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
    /// Datagrams sent by a UDP client before its socket exists, one entry per send.
    pending_datagrams: Vec<bytes::Bytes>,
}

struct Inner<P: Protocol> {
    id: u64,
    protocol: Rc<P>,
    worker: Option<Worker<P>>,
    io: RefCell<Option<Rc<Io>>>,
    peer: Cell<Option<SocketAddr>>,
    local: Cell<Option<SocketAddr>>,
    /// Counted in `status` and listed by `connections` right now.
    counted: Cell<bool>,
    /// Where an outgoing connection connects to (`None` for accepted connections).
    client: Option<client::ClientInfo>,
    st: RefCell<State<P>>,
    /// Set by `wake`; the connection's task re-examines its state when it sees it.
    woken: Cell<bool>,
    waker: Cell<Option<Waker>>,
    /// Wakes `drained()` callers when the send buffer empties or the connection closes.
    drain: tokio::sync::Notify,
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
    pub(crate) fn new(
        protocol: Rc<P>,
        worker: Option<Worker<P>>,
        io: Option<Io>,
        cb: Callbacks<P>,
        limits: Limits,
    ) -> Self {
        Self::build(protocol, worker, io, cb, limits, true, None)
    }

    /// The reply handle of one received datagram: not a live connection (not counted, not
    /// listed, no task); each send is one datagram to the sender.
    pub(crate) fn datagram(
        protocol: Rc<P>,
        worker: Option<Worker<P>>,
        io: Io,
        cb: Callbacks<P>,
        limits: Limits,
    ) -> Self {
        Self::build(protocol, worker, Some(io), cb, limits, false, None)
    }

    /// Frames and delivers one datagram (see [`datagram`](Self::datagram)).
    pub(crate) fn deliver(&self, data: &[u8]) {
        {
            let mut st = self.inner.st.borrow_mut();
            if st.recv.capacity() == 0 {
                st.recv = pool::take_read();
            }
            st.recv.extend_from_slice(data);
            st.bytes_read += data.len() as u64;
        }
        self.dispatch();
    }

    /// `counted`: a live connection (stats, `connections` listing); `client`: an outgoing one.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn build(
        protocol: Rc<P>,
        worker: Option<Worker<P>>,
        io: Option<Io>,
        cb: Callbacks<P>,
        limits: Limits,
        counted: bool,
        client: Option<client::ClientInfo>,
    ) -> Self {
        let status = if io.is_some() {
            Status::Established
        } else {
            Status::Connecting
        };
        let (peer, local) = io
            .as_ref()
            .map(|io| (io.peer_addr(), io.local_addr()))
            .unwrap_or((None, None));
        let conn = TcpConnection {
            inner: Rc::new(Inner {
                id: next_id(),
                protocol,
                worker,
                io: RefCell::new(io.map(Rc::new)),
                peer: Cell::new(peer),
                local: Cell::new(local),
                counted: Cell::new(false),
                client,
                st: RefCell::new(State {
                    status,
                    recv: BytesMut::new(),
                    want: None,
                    send: BytesMut::new(),
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
                    pending_datagrams: Vec::new(),
                }),
                woken: Cell::new(false),
                waker: Cell::new(None),
                drain: tokio::sync::Notify::new(),
            }),
        };
        if counted {
            conn.count_in();
        }
        conn
    }

    /// Counts the connection as live (stats, `connections`), once.
    pub(crate) fn count_in(&self) {
        if !self.inner.counted.replace(true) {
            stats::connection_opened();
            registry::register(self.inner.id, Rc::new(Entry(Rc::downgrade(&self.inner))));
        }
    }

    /// Per-process id, from 1 (ids repeat across processes; prefix with the worker id if needed).
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// The worker that accepted this connection (`None` for outgoing connections).
    pub fn worker(&self) -> Option<&Worker<P>> {
        self.inner.worker.as_ref()
    }

    /// The protocol instance framing this connection.
    pub fn protocol(&self) -> &P {
        &self.inner.protocol
    }

    /// Where the connection is in its life.
    pub fn status(&self) -> Status {
        self.inner.st.borrow().status
    }

    /// The peer's address.
    pub fn remote_address(&self) -> Option<SocketAddr> {
        self.inner.peer.get()
    }

    /// The peer's IP as text (`127.0.0.1`, `::1`), empty when unknown.
    pub fn remote_ip(&self) -> String {
        self.remote_address().map(|a| a.ip().to_string()).unwrap_or_default()
    }

    /// The peer's port, 0 when unknown.
    pub fn remote_port(&self) -> u16 {
        self.remote_address().map(|a| a.port()).unwrap_or(0)
    }

    /// This side's address.
    pub fn local_address(&self) -> Option<SocketAddr> {
        self.inner.local.get()
    }

    /// This side's IP as text, empty when unknown.
    pub fn local_ip(&self) -> String {
        self.local_address().map(|a| a.ip().to_string()).unwrap_or_default()
    }

    /// This side's port, 0 when unknown.
    pub fn local_port(&self) -> u16 {
        self.local_address().map(|a| a.port()).unwrap_or(0)
    }

    /// Bytes received so far.
    pub fn bytes_read(&self) -> u64 {
        self.inner.st.borrow().bytes_read
    }

    /// Bytes handed to the kernel so far.
    pub fn bytes_written(&self) -> u64 {
        self.inner.st.borrow().bytes_written
    }

    /// Bytes waiting in the send buffer.
    pub fn send_buffer_len(&self) -> usize {
        self.inner.st.borrow().send.len()
    }

    /// Bytes received but not yet delivered (a partial packet).
    pub fn recv_buffer_len(&self) -> usize {
        self.inner.st.borrow().recv.len()
    }

    /// The send buffer limit, in bytes; at or past it `on_buffer_full` fires and further sends fail.
    pub fn max_send_buffer_size(&self) -> usize {
        self.inner.st.borrow().limits.max_send_buffer_size
    }

    /// Sets the send buffer limit for this connection, in bytes.
    pub fn set_max_send_buffer_size(&self, bytes: usize) {
        self.inner.st.borrow_mut().limits.max_send_buffer_size = bytes;
    }

    /// The largest packet accepted, in bytes; a bigger one closes the connection.
    pub fn max_package_size(&self) -> usize {
        self.inner.st.borrow().limits.max_package_size
    }

    /// Sets the largest packet accepted on this connection, in bytes.
    pub fn set_max_package_size(&self, bytes: usize) {
        self.inner.st.borrow_mut().limits.max_package_size = bytes;
    }

    /// Encodes `msg` with the connection's protocol and sends it.
    ///
    /// A send is accepted while the send buffer is below `max_send_buffer_size` (one send may push
    /// it past the limit; `on_buffer_full` then fires); the next one fails with
    /// `on_error(SendBufferFull)` until the buffer drains.
    pub fn send<'a>(&self, msg: impl Into<P::Outgoing<'a>>) -> SendResult {
        let msg = msg.into();
        self.send_with(|p, cx| p.encode(msg, cx))
    }

    /// Sends bytes as they are, without the protocol's encoding.
    pub fn send_raw(&self, bytes: &[u8]) -> SendResult {
        self.send_with(|_, cx| cx.out().extend_from_slice(bytes))
    }

    fn send_with(&self, encode: impl FnOnce(&P, &mut Context<'_, P::State>)) -> SendResult {
        let mut event = false;
        let r = self.send_encoded(encode, &mut event);
        if event {
            self.service_event();
        }
        r
    }

    /// Hands an event a protocol call raised to the protocol's service.
    pub(crate) fn service_event(&self) {
        let service = self.inner.st.borrow().cb.service.clone();
        if let Some(s) = service {
            guard(|| s.event(self));
        }
    }

    /// The protocol's connection-side service.
    pub(crate) fn service(&self) -> Option<crate::service::ServiceRef<P>> {
        self.inner.st.borrow().cb.service.clone()
    }

    fn send_encoded(&self, encode: impl FnOnce(&P, &mut Context<'_, P::State>), event: &mut bool) -> SendResult {
        let inner = &*self.inner;
        let mut st = inner.st.borrow_mut();
        if matches!(st.status, Status::Closing | Status::Closed) {
            return SendResult::Failed;
        }
        let was_empty = st.send.is_empty();
        if !was_empty && st.send.len() >= st.limits.max_send_buffer_size {
            drop(st);
            stats::send_fail();
            self.emit_error(&ConnectionError::SendBufferFull);
            return SendResult::Failed;
        }
        if st.send.capacity() == 0 {
            st.send = pool::take_write();
        }
        let max = st.limits.max_package_size;
        let State { send, proto, .. } = &mut *st;
        let mut cx = Context::new(proto, send, max).with_stopping(stats::stopping());
        encode(&inner.protocol, &mut cx);
        *event = cx.event_raised();
        if cx.refused() {
            stats::send_fail();
        }
        if cx.close_requested() {
            // Written first, then closed (e.g. `Connection: close`).
            drop(st);
            self.close();
            return SendResult::Queued;
        }
        if st.send.is_empty() {
            return SendResult::Queued;
        }
        if st.status == Status::Connecting && inner.client.as_ref().is_some_and(|c| c.is_udp()) {
            let datagram = st.send.split().freeze();
            st.pending_datagrams.push(datagram);
            return SendResult::Queued;
        }
        let io = inner.io.borrow().clone();
        if let Some(io) = io.as_ref().filter(|io| io.is_datagram()) {
            // One send, one datagram: never coalesced, never queued (UDP drops when full).
            let result = io.try_write(&st.send);
            st.send.clear();
            return match result {
                Ok(n) => {
                    st.bytes_written += n as u64;
                    SendResult::Written
                }
                Err(_) => {
                    drop(st);
                    stats::send_fail();
                    SendResult::Failed
                }
            };
        }
        if !was_empty || st.in_dispatch || st.status == Status::Connecting {
            // Written by the dispatcher after this read, or by the task once writable.
            return self.queued(st);
        }
        let Some(io) = io else { return self.queued(st) };
        match io.try_write(&st.send) {
            Ok(n) => {
                st.bytes_written += n as u64;
                st.send.advance(n);
                if st.send.is_empty() {
                    pool::give_write(std::mem::take(&mut st.send));
                    SendResult::Written
                } else {
                    inner.wake();
                    self.queued(st)
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                inner.wake();
                self.queued(st)
            }
            Err(_) => {
                drop(st);
                stats::send_fail();
                self.emit_error(&ConnectionError::ClientClosed);
                // Unless on_error already replaced this session (reconnect) or closed it.
                let same = self.inner.io.borrow().as_ref().is_some_and(|now| Rc::ptr_eq(now, &io));
                if same {
                    self.destroy();
                }
                SendResult::Failed
            }
        }
    }

    fn queued(&self, mut st: std::cell::RefMut<'_, State<P>>) -> SendResult {
        let full = st.send.len() >= st.limits.max_send_buffer_size;
        let cb = if full { st.cb.on_buffer_full.clone() } else { None };
        if full {
            st.full_signalled = true;
        }
        drop(st);
        if let Some(cb) = cb {
            guard(|| cb(self));
        }
        SendResult::Queued
    }

    pub(crate) fn emit_error(&self, err: &ConnectionError) {
        let cb = self.inner.st.borrow().cb.on_error.clone();
        if let Some(cb) = cb {
            guard(|| cb(self, err));
        }
    }

    /// Closes after everything queued is written (Workerman's `close()`); no more reads.
    pub fn close(&self) {
        let mut st = self.inner.st.borrow_mut();
        match st.status {
            Status::Closing | Status::Closed => return,
            Status::Connecting => {
                drop(st);
                return self.destroy();
            }
            Status::Established => {}
        }
        st.status = Status::Closing;
        let flush_later = !st.send.is_empty() || st.unflushed || st.in_dispatch;
        drop(st);
        if flush_later {
            self.inner.wake();
        } else {
            self.destroy();
        }
    }

    /// Sends `msg`, then closes once it is written.
    pub fn close_with<'a>(&self, msg: impl Into<P::Outgoing<'a>>) {
        self.send(msg);
        self.close();
    }

    /// Closes now, dropping anything queued; `on_close` runs (once per connection).
    pub fn destroy(&self) {
        let on_close = {
            let mut st = self.inner.st.borrow_mut();
            if st.status == Status::Closed {
                return;
            }
            st.status = Status::Closed;
            st.want = None;
            pool::give_read(std::mem::take(&mut st.recv));
            st.send = BytesMut::new();
            st.cb.on_close.clone()
        };
        self.inner.io.borrow_mut().take();
        self.inner.wake();
        self.inner.drain.notify_waiters();
        if let Some(w) = &self.inner.worker {
            w.forget_connection(self.inner.id);
        }
        if self.inner.counted.replace(false) {
            stats::connection_closed();
            registry::unregister(self.inner.id);
        }
        if let Some(cb) = on_close {
            guard(|| cb(self));
        }
        // Drop the callbacks and user data (they often hold connections: this breaks the
        // cycles), outside the borrow: their destructors are user code.
        let (cb, data) = {
            let mut st = self.inner.st.borrow_mut();
            if st.status != Status::Closed {
                return; // revived by on_close (reconnect)
            }
            (std::mem::take(&mut st.cb), std::mem::take(&mut st.data))
        };
        drop(cb);
        drop(data);
    }

    /// Waits until everything queued has been handed to the kernel (or the connection closed).
    /// For producers that stream large bodies with backpressure:
    ///
    /// ```no_run
    /// # use workerman::{TcpConnection, protocol::Tcp};
    /// async fn stream(conn: TcpConnection<Tcp>, chunks: Vec<Vec<u8>>) {
    ///     for chunk in chunks {
    ///         if conn.send_buffer_len() >= conn.max_send_buffer_size() {
    ///             conn.drained().await;
    ///         }
    ///         conn.send(chunk);
    ///     }
    /// }
    /// ```
    pub async fn drained(&self) {
        loop {
            let notified = self.inner.drain.notified();
            {
                let st = self.inner.st.borrow();
                if st.send.is_empty() || st.status == Status::Closed {
                    return;
                }
            }
            notified.await;
        }
    }

    /// Stops reading: no more `on_message` until [`resume_recv`](Self::resume_recv).
    pub fn pause_recv(&self) {
        self.inner.st.borrow_mut().paused = true;
    }

    /// Reads again, first delivering any packet already buffered.
    pub fn resume_recv(&self) {
        let mut st = self.inner.st.borrow_mut();
        if !st.paused {
            return;
        }
        st.paused = false;
        let buffered = !st.recv.is_empty();
        drop(st);
        if buffered {
            self.dispatch();
        }
        self.inner.wake();
    }

    /// Whether reading is paused.
    pub fn is_paused(&self) -> bool {
        self.inner.st.borrow().paused
    }

    /// Forwards everything received here to `dest`, with backpressure: when `dest`'s send buffer
    /// fills, reading here pauses until it drains; when either side closes, so does `dest`.
    /// `a.pipe(&b); b.pipe(&a);` is a TCP proxy.
    pub fn pipe<Q>(&self, dest: &TcpConnection<Q>)
    where
        Q: Protocol,
        P::Message: for<'a> Into<Q::Outgoing<'a>>,
    {
        let to = dest.clone();
        self.on_message(move |_, msg| {
            to.send(msg);
        });
        let to = dest.clone();
        self.on_close(move |_| to.close());
        let me = self.clone();
        dest.on_buffer_full(move |_| me.pause_recv());
        let me = self.clone();
        dest.on_buffer_drain(move |_| me.resume_recv());
    }

    /// Replaces this connection's `on_message` (it starts as the worker's).
    pub fn on_message(&self, f: impl Fn(&TcpConnection<P>, P::Message) + 'static) {
        self.inner.st.borrow_mut().cb.on_message = Some(Rc::new(f));
    }

    /// Replaces this connection's `on_close`.
    pub fn on_close(&self, f: impl Fn(&TcpConnection<P>) + 'static) {
        self.inner.st.borrow_mut().cb.on_close = Some(Rc::new(f));
    }

    /// Replaces this connection's `on_error`.
    pub fn on_error(&self, f: impl Fn(&TcpConnection<P>, &ConnectionError) + 'static) {
        self.inner.st.borrow_mut().cb.on_error = Some(Rc::new(f));
    }

    /// Replaces this connection's `on_buffer_full`.
    pub fn on_buffer_full(&self, f: impl Fn(&TcpConnection<P>) + 'static) {
        self.inner.st.borrow_mut().cb.on_buffer_full = Some(Rc::new(f));
    }

    /// Replaces this connection's `on_buffer_drain`.
    pub fn on_buffer_drain(&self, f: impl Fn(&TcpConnection<P>) + 'static) {
        self.inner.st.borrow_mut().cb.on_buffer_drain = Some(Rc::new(f));
    }

    /// Runs `f` on this connection's protocol state ([`Protocol::State`]): for protocol
    /// extensions (a WebSocket connection's message type, events left by `decode`). Don't send
    /// on this connection inside `f`.
    pub fn with_protocol_state<R>(&self, f: impl FnOnce(&mut P::State) -> R) -> R {
        f(&mut self.inner.st.borrow_mut().proto)
    }

    /// Stores a value of type `T` on the connection (one per type), returning the previous one.
    ///
    /// ```no_run
    /// # use workerman::{TcpConnection, protocol::Text};
    /// struct Uid(u64);
    /// fn on_connect(conn: &TcpConnection<Text>) {
    ///     conn.set_data(Uid(42));
    ///     assert_eq!(conn.with_data(|uid: &mut Uid| uid.0), Some(42));
    /// }
    /// ```
    pub fn set_data<T: 'static>(&self, value: T) -> Option<T> {
        self.inner.st.borrow_mut().data.insert(value)
    }

    /// A clone of the stored `T`.
    pub fn data<T: Clone + 'static>(&self) -> Option<T> {
        self.inner.st.borrow().data.get::<T>().cloned()
    }

    /// Runs `f` on the stored `T`. `f` may use the connection; while it runs, the `T` is taken out
    /// (`data::<T>()` inside `f` sees `None`, and a `set_data::<T>` inside `f` wins).
    pub fn with_data<T: 'static, R>(&self, f: impl FnOnce(&mut T) -> R) -> Option<R> {
        // Taken out while `f` runs, so `f` may use this connection (send, close, other data).
        let mut value = self.inner.st.borrow_mut().data.remove::<T>()?;
        let r = f(&mut value);
        let mut st = self.inner.st.borrow_mut();
        if st.data.get::<T>().is_none() {
            st.data.insert(value);
        }
        Some(r)
    }

    /// Removes and returns the stored `T`.
    pub fn remove_data<T: 'static>(&self) -> Option<T> {
        self.inner.st.borrow_mut().data.remove::<T>()
    }
}
