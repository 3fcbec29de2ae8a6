//! `ws`: the WebSocket client protocol (RFC 6455), used through
//! [`AsyncTcpConnection`]: `ws://host:port/path?query`, or `wss://...` for TLS (the ssl
//! transport is chosen by the scheme; the port defaults to 80 / 443).
//!
//! ```no_run
//! use std::time::Duration;
//! use workerman::{AsyncTcpConnection, Worker};
//! use workerman::protocol::Ws;
//! use workerman::protocol::websocket::Message;
//!
//! let worker = Worker::without_listener();
//! worker.on_worker_start(|_| {
//!     let conn = AsyncTcpConnection::<Ws>::new("ws://127.0.0.1:2346/chat?room=1").unwrap();
//!     conn.set_websocket_header("Authorization", "Bearer secret");
//!     conn.on_websocket_connect(|c, resp| {
//!         println!("upgraded: {}", resp.status());
//!         c.send("hello");
//!     });
//!     conn.on_message(|_, msg: Message| println!("got {msg:?}"));
//!     conn.on_close(|c| c.reconnect(Duration::from_secs(1)));
//!     conn.connect();
//! });
//! Worker::run_all();
//! ```
//!
//! ```text
//!  client (AsyncTcpConnection<Ws>)            server
//!  connected ─► GET /path  Upgrade: websocket  Sec-WebSocket-Key: <16 random bytes>
//!             ◄─ 101 + Sec-WebSocket-Accept (checked) ─► on_websocket_connect(conn, &response)
//!  conn.send(..) ─► one frame, masked with a fresh random key (queued until the 101)
//!             ◄─ unmasked frames: fragments joined, UTF-8 checked ─► on_message
//!  ping ◄─ answered with pong (or on_websocket_ping)     pong ─► on_websocket_pong
//!  close(code) ◄─ echoed; the server then closes TCP (or we do, after 2 s)
//! ```
//!
//! Unlike Workerman's `Ws` (an all-zero masking key), every frame is masked with a key from the
//! operating system's random source, as RFC 6455 §5.3 requires. A bad handshake reply (not 101,
//! wrong `Sec-WebSocket-Accept`, an extension or subprotocol that was not offered) reports
//! `on_error(ConnectFailed)` and closes. permessage-deflate is not offered.

use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::rc::Rc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use super::frame::{OpCode, Role, close_code_is_valid, parse_header, write_close, write_frame};
use super::handshake::{MAX_HANDSHAKE_SIZE, accept_key, base64};
use super::{Message, MessageType, Out, Outgoing};
use crate::connection::{AsyncTcpConnection, ConnectionError, SendResult, Status, TcpConnection};
use crate::protocol::{Context, Protocol, ProtocolError};

/// How long the client waits, after the close handshake, for the server to close TCP (RFC 6455
/// §7.1.1: the server closes first) before closing it itself: 2 s.
pub const CLOSE_WAIT: Duration = Duration::from_secs(2);

type ConnectFn = Rc<dyn Fn(&TcpConnection<Ws>, &HandshakeResponse)>;
type PayloadFn = Rc<dyn Fn(&TcpConnection<Ws>, Bytes)>;
type CloseFn = Rc<dyn Fn(&TcpConnection<Ws>, Option<u16>, &str)>;

#[derive(Default)]
struct Hooks {
    connect: Option<ConnectFn>,
    ping: Option<PayloadFn>,
    pong: Option<PayloadFn>,
    close: Option<CloseFn>,
}

#[derive(Default, Debug, Clone)]
struct Config {
    headers: Vec<(String, String)>,
    origin: Option<String>,
    protocols: Vec<String>,
    ping_interval: Option<Duration>,
}

/// The `ws://` client protocol: handshake options and hooks, one instance per
/// [`AsyncTcpConnection`]. Usually configured through the connection
/// (`conn.set_websocket_header(..)`, `conn.on_websocket_connect(..)`); the builder methods
/// serve [`AsyncTcpConnection::with_protocol`].
#[derive(Default)]
pub struct Ws {
    config: RefCell<Config>,
    hooks: RefCell<Hooks>,
}

impl std::fmt::Debug for Ws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ws")
            .field("config", &self.config.borrow())
            .finish_non_exhaustive()
    }
}

impl Ws {
    /// No extra headers, no origin, no subprotocol, no ping interval.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a handshake request header (see [`AsyncTcpConnection::set_websocket_header`]).
    pub fn header(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.add_header(name.into(), value.into());
        self
    }

    /// Sets the `Origin` header.
    pub fn origin(self, origin: impl Into<String>) -> Self {
        self.config.borrow_mut().origin = Some(origin.into());
        self
    }

    /// Offers a subprotocol (`Sec-WebSocket-Protocol`); may be called several times.
    pub fn protocol(self, name: impl Into<String>) -> Self {
        self.config.borrow_mut().protocols.push(name.into());
        self
    }

    /// Sends a ping every `interval` while the connection is open.
    pub fn ping_interval(self, interval: Duration) -> Self {
        self.config.borrow_mut().ping_interval = Some(interval.max(Duration::from_millis(1)));
        self
    }

    fn add_header(&self, name: String, value: String) {
        // Like Workerman: names and values that could break the request are skipped.
        if !name.is_empty() && !name.contains(['\r', '\n', ':', ' ']) && !value.contains(['\r', '\n']) {
            self.config.borrow_mut().headers.push((name, value));
        }
    }

    fn request(&self, conn: &TcpConnection<Ws>, key: &str) -> Vec<u8> {
        let cfg = self.config.borrow();
        let host = conn.remote_host().unwrap_or("localhost");
        let port = conn.remote_url_port().unwrap_or(0);
        let default_port = if conn.is_tls_client() { 443 } else { 80 };
        let mut s = String::with_capacity(256);
        let _ = write!(s, "GET {} HTTP/1.1\r\n", conn.remote_uri().unwrap_or("/"));
        if !cfg.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            let host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host.to_string()
            };
            if port == default_port {
                let _ = write!(s, "Host: {host}\r\n");
            } else {
                let _ = write!(s, "Host: {host}:{port}\r\n");
            }
        }
        s.push_str("Upgrade: websocket\r\nConnection: Upgrade\r\n");
        let _ = write!(s, "Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n");
        let clean = |v: &str| !v.contains(['\r', '\n']);
        if let Some(o) = cfg.origin.as_deref().filter(|o| clean(o)) {
            let _ = write!(s, "Origin: {o}\r\n");
        }
        if !cfg.protocols.is_empty() && cfg.protocols.iter().all(|p| clean(p)) {
            let _ = write!(s, "Sec-WebSocket-Protocol: {}\r\n", cfg.protocols.join(", "));
        }
        for (k, v) in &cfg.headers {
            let _ = write!(s, "{k}: {v}\r\n");
        }
        s.push_str("\r\n");
        s.into_bytes()
    }
}

impl AsyncTcpConnection<Ws> {
    /// Adds a header to the handshake request (`Authorization`, `Cookie`, ...; a `Host` header
    /// replaces the automatic one). Names or values holding CR or LF are ignored. Takes effect
    /// at the next (re)connect.
    pub fn set_websocket_header(&self, name: impl Into<String>, value: impl Into<String>) {
        self.protocol().add_header(name.into(), value.into());
    }

    /// Sets the handshake's `Origin` header (Workerman's `websocketOrigin`).
    pub fn set_websocket_origin(&self, origin: impl Into<String>) {
        self.protocol().config.borrow_mut().origin = Some(origin.into());
    }

    /// Offers a subprotocol in `Sec-WebSocket-Protocol` (Workerman's `websocketClientProtocol`);
    /// call again to offer several. The one the server chose is
    /// [`HandshakeResponse::protocol`]; a choice not offered fails the handshake.
    pub fn set_websocket_protocol(&self, name: impl Into<String>) {
        self.protocol().config.borrow_mut().protocols.push(name.into());
    }

    /// Sends a ping every `interval` while open (Workerman's `websocketPingInterval`; off by
    /// default).
    pub fn set_websocket_ping_interval(&self, interval: Duration) {
        self.protocol().config.borrow_mut().ping_interval = Some(interval.max(Duration::from_millis(1)));
    }

    /// Called when the server accepted the upgrade (status 101, accept key checked), with its
    /// response; frames sent before were queued and go out now, before any sent from here.
    /// Called again after each reconnect.
    pub fn on_websocket_connect(&self, f: impl Fn(&TcpConnection<Ws>, &HandshakeResponse) + 'static) {
        self.protocol().hooks.borrow_mut().connect = Some(Rc::new(f));
    }

    /// Called with each ping's payload instead of the automatic pong; answer with
    /// `conn.send(Outgoing::pong(payload))`.
    pub fn on_websocket_ping(&self, f: impl Fn(&TcpConnection<Ws>, Bytes) + 'static) {
        self.protocol().hooks.borrow_mut().ping = Some(Rc::new(f));
    }

    /// Called with each pong's payload.
    pub fn on_websocket_pong(&self, f: impl Fn(&TcpConnection<Ws>, Bytes) + 'static) {
        self.protocol().hooks.borrow_mut().pong = Some(Rc::new(f));
    }

    /// Called when the server sends a (valid) close frame, with its code and reason, after the
    /// close was answered; `on_close` follows when TCP closes.
    pub fn on_websocket_close(&self, f: impl Fn(&TcpConnection<Ws>, Option<u16>, &str) + 'static) {
        self.protocol().hooks.borrow_mut().close = Some(Rc::new(f));
    }
}

impl TcpConnection<Ws> {
    /// Sets the frame type strings are sent as (default [`MessageType::Text`]).
    pub fn set_message_type(&self, t: MessageType) {
        self.with_protocol_state(|s| s.send_type = t);
    }

    /// The frame type strings are sent as.
    pub fn message_type(&self) -> MessageType {
        self.with_protocol_state(|s| s.send_type)
    }

    /// Whether the handshake completed and no close frame was sent or received yet.
    pub fn is_websocket_open(&self) -> bool {
        self.with_protocol_state(|s| s.phase == Phase::Open)
    }

    /// Starts the close handshake: sends a close frame with `code` and `reason`; the server
    /// answers and closes TCP (after [`CLOSE_WAIT`] without that, the client closes it).
    /// Before the handshake completed, just closes.
    pub fn close_websocket(&self, code: u16, reason: &str) -> SendResult {
        let r = self.send(Outgoing::close(code, reason));
        close_later(self);
        r
    }
}

/// The server's handshake response, as `on_websocket_connect` sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeResponse {
    status: u16,
    headers: Vec<(String, String)>,
}

impl HandshakeResponse {
    /// The HTTP status (101).
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every header, in order.
    pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The subprotocol the server chose (`Sec-WebSocket-Protocol`), if any.
    pub fn protocol(&self) -> Option<&str> {
        self.header("sec-websocket-protocol")
    }

    /// Parses a response head and checks it answers a request with `key` offering
    /// `protocols` (RFC 6455 §4.1): 101, `Upgrade: websocket`, `Connection: Upgrade`, the right
    /// `Sec-WebSocket-Accept`, no extension, no subprotocol that was not offered.
    pub fn parse(head: &[u8], key: &str, protocols: &[String]) -> Result<HandshakeResponse, String> {
        let mut headers = [httparse::EMPTY_HEADER; 64];
        let mut resp = httparse::Response::new(&mut headers);
        match resp.parse(head) {
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) => return Err("incomplete response".into()),
            Err(e) => return Err(format!("bad response: {e}")),
        }
        let status = resp.code.unwrap_or(0);
        let mut out = Vec::with_capacity(resp.headers.len());
        for h in resp.headers.iter() {
            out.push((h.name.to_owned(), String::from_utf8_lossy(h.value).trim().to_owned()));
        }
        let r = HandshakeResponse { status, headers: out };
        if status != 101 {
            return Err(format!("status {status} {}", resp.reason.unwrap_or("")));
        }
        if !r.header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
            return Err("no `Upgrade: websocket`".into());
        }
        let has_upgrade = r
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("connection"))
            .flat_map(|(_, v)| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case("upgrade"));
        if !has_upgrade {
            return Err("no `Connection: Upgrade`".into());
        }
        match r.header("sec-websocket-accept") {
            None => return Err("Sec-WebSocket-Accept not found".into()),
            Some(a) if a != accept_key(key) => return Err("Sec-WebSocket-Accept not match".into()),
            Some(_) => {}
        }
        if let Some(ext) = r.header("sec-websocket-extensions") {
            return Err(format!("the server chose an extension that was not offered: {ext}"));
        }
        if let Some(p) = r.protocol()
            && !protocols.iter().any(|o| o == p)
        {
            return Err(format!("the server chose a subprotocol that was not offered: {p}"));
        }
        Ok(r)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Phase {
    /// Not connected yet, or the handshake request not written: frames are queued.
    #[default]
    Idle,
    /// The request was written; waiting for the 101. Frames are queued.
    Upgrading,
    Open,
    /// We sent a close frame; waiting for the server's.
    CloseSent,
    /// The close handshake is over (or failed): what arrives is ignored.
    Closed,
}

/// Per-connection state of a `ws://` client.
#[derive(Debug, Default)]
pub struct State {
    phase: Phase,
    send_type: MessageType,
    /// The handshake's `Sec-WebSocket-Key`.
    key: String,
    /// Which connect this is (tells a stale timer from a live one after a reconnect).
    session: u64,
    /// Frames sent before the 101.
    queue: BytesMut,
    partial: Option<super::assemble::Partial>,
    event: Option<Event>,
}

#[derive(Debug)]
enum Event {
    Connected(Box<HandshakeResponse>),
    Failed(String),
    Ping(Bytes),
    Pong(Bytes),
    /// The server's close frame (after ours, or answered).
    Close(Option<u16>, String),
}

thread_local! {
    static SESSIONS: Cell<u64> = const { Cell::new(0) };
    /// Bytes from the OS random source, handed out a few at a time (one syscall per 64 masks).
    static RANDOM: RefCell<([u8; 256], usize)> = const { RefCell::new(([0; 256], 256)) };
}

/// Fills `out` with bytes from the operating system's random source (getrandom(2)).
fn fill_random(out: &mut [u8]) {
    RANDOM.with(|r| {
        let (pool, pos) = &mut *r.borrow_mut();
        for b in out {
            if *pos == pool.len() {
                getrandom::fill(pool).expect("the OS random source failed");
                *pos = 0;
            }
            *b = pool[*pos];
            *pos += 1;
        }
    });
}

/// A fresh masking key (RFC 6455 §5.3: unpredictable, one per frame).
pub fn random_mask() -> [u8; 4] {
    let mut m = [0; 4];
    fill_random(&mut m);
    m
}

/// Fails the connection: a close frame with `code` (when open), then TCP is closed.
fn fail(cx: &mut Context<'_, State>, code: u16, reason: &str) -> ProtocolError {
    if cx.state.phase == Phase::Open {
        write_close(cx.out(), code, "", Some(random_mask()));
    }
    cx.state.phase = Phase::Closed;
    cx.state.partial = None;
    ProtocolError::new(format!("ws client: {reason} (close {code})"))
}

/// Closes TCP after [`CLOSE_WAIT`] unless the server did, or a reconnect started a new session.
fn close_later(conn: &TcpConnection<Ws>) {
    let session = conn.with_protocol_state(|s| s.session);
    let conn = conn.clone();
    tokio::task::spawn_local(async move {
        tokio::time::sleep(CLOSE_WAIT).await;
        if conn.with_protocol_state(|s| s.session) == session {
            conn.close();
        }
    });
}

impl Ws {
    fn decode_frame(&self, packet: &[u8], cx: &mut Context<'_, State>) -> Result<Option<Message>, ProtocolError> {
        let h = match parse_header(packet, Role::Client) {
            Ok(Some(h)) => h,
            _ => return Err(fail(cx, 1002, "bad frame")),
        };
        let payload = packet[h.header_len..].to_vec();
        match h.opcode {
            OpCode::Ping => {
                if cx.state.phase == Phase::Open {
                    if self.hooks.borrow().ping.is_some() {
                        cx.state.event = Some(Event::Ping(payload.into()));
                    } else {
                        write_frame(cx.out(), true, false, OpCode::Pong, Some(random_mask()), &payload);
                    }
                }
                Ok(None)
            }
            OpCode::Pong => {
                if self.hooks.borrow().pong.is_some() {
                    cx.state.event = Some(Event::Pong(payload.into()));
                }
                Ok(None)
            }
            OpCode::Close => self.decode_close(&payload, cx),
            OpCode::Text | OpCode::Binary if h.fin => super::assemble::message(h.opcode == OpCode::Text, payload)
                .map(Some)
                .map_err(|()| fail(cx, 1007, "text message is not valid UTF-8")),
            OpCode::Text | OpCode::Binary => {
                cx.state.partial = Some(super::assemble::Partial::new(h.opcode, false, payload));
                self.fragment_added(false, cx)
            }
            OpCode::Continuation => {
                let Some(p) = cx.state.partial.as_mut() else {
                    return Err(fail(cx, 1002, "continuation frame without a message"));
                };
                p.data.extend_from_slice(&payload);
                self.fragment_added(h.fin, cx)
            }
        }
    }

    /// Checks the UTF-8 received so far (fail fast), and completes the message on FIN.
    fn fragment_added(&self, fin: bool, cx: &mut Context<'_, State>) -> Result<Option<Message>, ProtocolError> {
        let p = cx.state.partial.as_mut().expect("a message in progress");
        if super::assemble::check_utf8(p, fin).is_err() {
            return Err(fail(cx, 1007, "text message is not valid UTF-8"));
        }
        if !fin {
            return Ok(None);
        }
        let p = cx.state.partial.take().expect("a message in progress");
        match super::assemble::message(p.text, p.data) {
            Ok(m) => Ok(Some(m)),
            Err(()) => Err(fail(cx, 1007, "text message is not valid UTF-8")),
        }
    }

    fn decode_close(&self, payload: &[u8], cx: &mut Context<'_, State>) -> Result<Option<Message>, ProtocolError> {
        let (code, reason) = match payload.len() {
            0 => (None, ""),
            1 => return Err(fail(cx, 1002, "close frame with a 1-byte payload")),
            _ => {
                let code = u16::from_be_bytes([payload[0], payload[1]]);
                if !close_code_is_valid(code) {
                    return Err(fail(cx, 1002, "invalid close code"));
                }
                match std::str::from_utf8(&payload[2..]) {
                    Ok(r) => (Some(code), r),
                    Err(_) => return Err(fail(cx, 1007, "close reason is not valid UTF-8")),
                }
            }
        };
        if cx.state.phase == Phase::Open {
            let mask = Some(random_mask());
            match code {
                Some(c) => write_close(cx.out(), c, "", mask),
                None => write_frame(cx.out(), true, false, OpCode::Close, mask, &[]),
            }
        }
        cx.state.phase = Phase::Closed;
        cx.state.partial = None;
        cx.state.event = Some(Event::Close(code, reason.to_owned()));
        Ok(None)
    }

    fn run_event(&self, conn: &TcpConnection<Ws>, event: Event) {
        let hooks = {
            let h = self.hooks.borrow();
            (h.connect.clone(), h.ping.clone(), h.pong.clone(), h.close.clone())
        };
        match event {
            Event::Connected(resp) => {
                let (queued, session) = conn.with_protocol_state(|s| (std::mem::take(&mut s.queue), s.session));
                if !queued.is_empty() {
                    conn.send_raw(&queued);
                }
                if let Some(interval) = self.config.borrow().ping_interval {
                    let conn = conn.clone();
                    tokio::task::spawn_local(async move {
                        loop {
                            tokio::time::sleep(interval).await;
                            let live = conn.status() == Status::Established
                                && conn.with_protocol_state(|s| s.session == session && s.phase == Phase::Open);
                            if !live || conn.send(Outgoing::ping(&b""[..])) == SendResult::Failed {
                                break;
                            }
                        }
                    });
                }
                if let Some(f) = hooks.0 {
                    f(conn, &resp);
                }
            }
            Event::Failed(why) => {
                let why = format!(
                    "websocket handshake with {} failed: {why}",
                    conn.remote_address().map(|a| a.to_string()).unwrap_or_default()
                );
                crate::settings::log(&format!("ws client: {why}"));
                conn.emit_error(&ConnectionError::ConnectFailed(why));
                conn.close();
            }
            Event::Ping(p) => {
                if let Some(f) = hooks.1 {
                    f(conn, p);
                }
            }
            Event::Pong(p) => {
                if let Some(f) = hooks.2 {
                    f(conn, p);
                }
            }
            Event::Close(code, reason) => {
                close_later(conn);
                if let Some(f) = hooks.3 {
                    f(conn, code, &reason);
                }
            }
        }
    }
}

impl Protocol for Ws {
    const SCHEME: &'static str = "ws";
    type Message = Message;
    type Outgoing<'a> = Outgoing<'a>;
    type State = State;

    fn input(&self, buf: &[u8], cx: &mut Context<'_, State>) -> Result<Option<usize>, ProtocolError> {
        match cx.state.phase {
            Phase::Idle => return Err(ProtocolError::new("ws client: data before the handshake request")),
            Phase::Upgrading => {
                return match memchr::memmem::find(buf, b"\r\n\r\n") {
                    Some(i) if i + 4 <= MAX_HANDSHAKE_SIZE => Ok(Some(i + 4)),
                    None if buf.len() < MAX_HANDSHAKE_SIZE => Ok(None),
                    _ => Err(ProtocolError::new("ws client: handshake response over 16 KiB")),
                };
            }
            // After the close handshake: whatever comes is dropped.
            Phase::Closed => return Ok(Some(buf.len())),
            Phase::Open | Phase::CloseSent => {}
        }
        let h = match parse_header(buf, Role::Client) {
            Ok(None) => return Ok(None),
            Ok(Some(h)) => h,
            Err(e) => return Err(fail(cx, e.code, e.reason)),
        };
        if h.rsv1 || h.rsv23 {
            return Err(fail(cx, 1002, "RSV bits set without a negotiated extension"));
        }
        let in_progress = cx.state.partial.as_ref().map(|p| p.data.len());
        if let Err(why) = super::assemble::check_sequence(h.opcode, in_progress.is_some()) {
            return Err(fail(cx, 1002, why));
        }
        let max = cx.max_package_size() as u64;
        if h.frame_len() > max || in_progress.unwrap_or(0) as u64 + h.payload_len > max {
            return Err(fail(cx, 1009, "message over max_package_size"));
        }
        Ok(Some(h.frame_len() as usize))
    }

    fn decode(&self, packet: Bytes, cx: &mut Context<'_, State>) -> Result<Option<Message>, ProtocolError> {
        match cx.state.phase {
            Phase::Idle | Phase::Closed => Ok(None),
            Phase::Upgrading => {
                let protocols = self.config.borrow().protocols.clone();
                match HandshakeResponse::parse(&packet, &cx.state.key, &protocols) {
                    Ok(resp) => {
                        cx.state.phase = Phase::Open;
                        cx.state.event = Some(Event::Connected(Box::new(resp)));
                    }
                    Err(why) => {
                        cx.state.phase = Phase::Closed;
                        cx.state.queue = BytesMut::new();
                        cx.state.event = Some(Event::Failed(why));
                    }
                }
                Ok(None)
            }
            Phase::Open | Phase::CloseSent => self.decode_frame(&packet, cx),
        }
    }

    fn encode(&self, msg: Outgoing<'_>, cx: &mut Context<'_, State>) {
        let st = &mut *cx.state;
        let (opcode, payload) = msg.0.frame(st.send_type);
        let out = match st.phase {
            Phase::Idle | Phase::Upgrading if opcode == OpCode::Close => {
                cx.close();
                return;
            }
            Phase::Idle | Phase::Upgrading if st.queue.len() >= super::MAX_QUEUED_BEFORE_HANDSHAKE => {
                crate::stats::send_fail();
                return;
            }
            Phase::Idle | Phase::Upgrading => &mut st.queue,
            Phase::Open => cx.out,
            Phase::CloseSent | Phase::Closed => return,
        };
        let mask = Some(random_mask());
        match &msg.0 {
            Out::Close(code, reason) => {
                write_close(out, *code, reason, mask);
                cx.state.phase = Phase::CloseSent;
            }
            _ => write_frame(out, true, false, opcode, mask, payload),
        }
    }

    fn handle_event(&self, conn: &TcpConnection<Self>) {
        if let Some(event) = conn.with_protocol_state(|s| s.event.take()) {
            self.run_event(conn, event);
        }
    }

    fn on_connect(&self, conn: &TcpConnection<Self>) {
        if conn.remote_uri().is_none() {
            crate::settings::log("ws:// is the WebSocket client protocol; listen with websocket:// instead");
            conn.close();
            return;
        }
        let mut raw = [0u8; 16];
        fill_random(&mut raw);
        let key = base64(&raw);
        let request = self.request(conn, &key);
        conn.with_protocol_state(|s| {
            s.phase = Phase::Upgrading;
            s.key = key;
            s.session = SESSIONS.with(|n| {
                n.set(n.get() + 1);
                n.get()
            });
        });
        conn.send_raw(&request);
    }
}
