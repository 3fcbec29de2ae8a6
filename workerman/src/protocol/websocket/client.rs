//! `ws`: the WebSocket client protocol (RFC 6455), used through
//! [`AsyncTcpConnection`](crate::AsyncTcpConnection): `ws://host:port/path?query`, or `wss://...` for TLS (the ssl
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
//! `on_error(ConnectFailed)` and closes. permessage-deflate (RFC 7692) is offered unless turned
//! off with [`Ws::permessage_deflate`]`(false)`; when the server accepts it, data messages are
//! sent compressed and compressed messages inflated (see [`is_deflate`](crate::TcpConnection::is_deflate)).

use std::cell::RefCell;
use std::fmt::Write as _;
use std::time::Duration;

use bytes::Bytes;

use super::handshake::{MAX_HANDSHAKE_SIZE, accept_key, base64};
use super::machine::{self, Core, Event, HasCore, Limits, Phase};
use super::{Message, Outgoing, Role};
use crate::protocol::{Context, Protocol, ProtocolError};

pub use super::machine::random_mask;

/// How long the client waits, after the close handshake, for the server to close TCP (RFC 6455
/// §7.1.1: the server closes first) before closing it itself: 2 s.
pub const CLOSE_WAIT: Duration = Duration::from_secs(2);

#[derive(Debug, Clone)]
struct Config {
    headers: Vec<(String, String)>,
    origin: Option<String>,
    protocols: Vec<String>,
    ping_interval: Option<Duration>,
    deflate: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            headers: Vec::new(),
            origin: None,
            protocols: Vec::new(),
            ping_interval: None,
            deflate: true,
        }
    }
}

/// The `ws://` client protocol: handshake options, one instance per
/// [`AsyncTcpConnection`](crate::AsyncTcpConnection). Usually configured through the connection
/// (`conn.set_websocket_header(..)`; hooks with `conn.on_websocket_connect(..)`); the builder
/// methods serve [`AsyncTcpConnection::with_protocol`](crate::AsyncTcpConnection::with_protocol).
#[derive(Default)]
pub struct Ws {
    config: RefCell<Config>,
}

impl std::fmt::Debug for Ws {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ws")
            .field("config", &self.config.borrow())
            .finish_non_exhaustive()
    }
}

impl Ws {
    /// No extra headers, no origin, no subprotocol, no ping interval; permessage-deflate offered.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a handshake request header (see [`AsyncTcpConnection::set_websocket_header`](crate::AsyncTcpConnection::set_websocket_header)).
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

    /// Whether to offer permessage-deflate (default `true`, as browsers do; Workerman's client
    /// does not offer it).
    pub fn permessage_deflate(self, on: bool) -> Self {
        self.set_deflate(on);
        self
    }

    pub(crate) fn set_deflate(&self, on: bool) {
        self.config.borrow_mut().deflate = on;
    }

    /// Sends a ping every `interval` while the connection is open.
    pub fn ping_interval(self, interval: Duration) -> Self {
        self.config.borrow_mut().ping_interval = Some(interval.max(Duration::from_millis(1)));
        self
    }

    /// Adds a handshake request header; names or values that could break the request are
    /// skipped (like Workerman).
    pub(crate) fn add_header(&self, name: String, value: String) {
        if !name.is_empty() && !name.contains(['\r', '\n', ':', ' ']) && !value.contains(['\r', '\n']) {
            self.config.borrow_mut().headers.push((name, value));
        }
    }

    pub(crate) fn set_origin(&self, origin: String) {
        self.config.borrow_mut().origin = Some(origin);
    }

    pub(crate) fn add_protocol(&self, name: String) {
        self.config.borrow_mut().protocols.push(name);
    }

    pub(crate) fn set_ping_interval(&self, interval: Duration) {
        self.config.borrow_mut().ping_interval = Some(interval.max(Duration::from_millis(1)));
    }

    /// The ping interval, when set.
    pub fn ping_interval_config(&self) -> Option<Duration> {
        self.config.borrow().ping_interval
    }

    /// Starts the opening handshake towards `target` (on a fresh state: a reconnect starts from
    /// the default one): a fresh key is drawn, `state` waits for the 101, and the returned
    /// request is to be written first.
    pub fn start_handshake(&self, target: &Target<'_>, state: &mut State) -> Vec<u8> {
        let mut raw = [0u8; 16];
        machine::fill_random(&mut raw);
        let key = base64(&raw);
        let request = self.request(target, &key);
        // Frames sent before the connect stay queued until the 101.
        state.core.phase = Phase::Handshake;
        state.key = key;
        request
    }

    fn request(&self, t: &Target<'_>, key: &str) -> Vec<u8> {
        let cfg = self.config.borrow();
        let mut s = String::with_capacity(256);
        let _ = write!(s, "GET {} HTTP/1.1\r\n", t.uri);
        if !cfg.headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            let host = if t.host.contains(':') {
                format!("[{}]", t.host)
            } else {
                t.host.to_string()
            };
            let default_port = if t.tls { 443 } else { 80 };
            if t.port == default_port {
                let _ = write!(s, "Host: {host}\r\n");
            } else {
                let _ = write!(s, "Host: {host}:{}\r\n", t.port);
            }
        }
        s.push_str("Upgrade: websocket\r\nConnection: Upgrade\r\n");
        let _ = write!(s, "Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n");
        let clean = |v: &str| !v.contains(['\r', '\n']);
        if let Some(o) = cfg.origin.as_deref().filter(|o| clean(o)) {
            let _ = write!(s, "Origin: {o}\r\n");
        }
        if cfg.deflate {
            let _ = write!(s, "Sec-WebSocket-Extensions: {}\r\n", super::deflate::CLIENT_OFFER);
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

/// Where the handshake request goes: the URL's host, port and path, and whether TLS is used
/// (which port the `Host` header may leave out).
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// Host name or address (IPv6 without brackets).
    pub host: &'a str,
    /// Port.
    pub port: u16,
    /// Request target: path and query.
    pub uri: &'a str,
    /// `wss://`.
    pub tls: bool,
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
    /// `Sec-WebSocket-Accept`, no subprotocol that was not offered, and no extension but
    /// permessage-deflate when `deflate` was offered (its parameters are returned).
    pub fn parse(
        head: &[u8],
        key: &str,
        protocols: &[String],
        deflate: bool,
    ) -> Result<(HandshakeResponse, Option<super::deflate::Params>), String> {
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
        let mut exts = r
            .headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case("sec-websocket-extensions"));
        let params = match (exts.next(), exts.next()) {
            (None, _) => None,
            (Some((_, ext)), None) if deflate => Some(super::deflate::accept_response(ext)?),
            (Some((_, ext)), _) => {
                return Err(format!("the server chose an extension that was not offered: {ext}"));
            }
        };
        if let Some(p) = r.protocol()
            && !protocols.iter().any(|o| o == p)
        {
            return Err(format!("the server chose a subprotocol that was not offered: {p}"));
        }
        Ok((r, params))
    }
}

/// Per-connection state of a `ws://` client.
#[derive(Debug)]
pub struct State {
    pub(crate) core: Core<Opened>,
    /// The handshake's `Sec-WebSocket-Key`.
    key: String,
    /// Which connect this is (tells a stale timer from a live one after a reconnect); kept by
    /// the service.
    pub(crate) session: u64,
}

impl Default for State {
    fn default() -> Self {
        State {
            core: Core::new(Phase::Idle),
            key: String::new(),
            session: 0,
        }
    }
}

impl HasCore for State {
    type Handshake = Opened;
    fn core(&mut self) -> &mut Core<Opened> {
        &mut self.core
    }
}

/// The server's answer to the opening handshake: accepted, or why not.
pub(crate) type Opened = Result<Box<HandshakeResponse>, String>;

impl Protocol for Ws {
    const SCHEME: &'static str = "ws";
    type Message = Message;
    type Outgoing<'a> = Outgoing<'a>;
    type State = State;

    fn input(&self, buf: &[u8], cx: &mut Context<'_, State>) -> Result<Option<usize>, ProtocolError> {
        match cx.state.core.phase {
            Phase::Idle => Err(ProtocolError::new("ws client: data before the handshake request")),
            Phase::Handshake => match memchr::memmem::find(buf, b"\r\n\r\n") {
                Some(i) if i + 4 <= MAX_HANDSHAKE_SIZE => Ok(Some(i + 4)),
                None if buf.len() < MAX_HANDSHAKE_SIZE => Ok(None),
                _ => Err(ProtocolError::new("ws client: handshake response over 16 KiB")),
            },
            Phase::Open | Phase::CloseSent => machine::input_frame(Role::Client, Limits::default(), buf, cx),
            // After the close handshake: whatever comes is dropped.
            Phase::Closed => Ok(Some(buf.len())),
        }
    }

    fn decode(&self, packet: Bytes, cx: &mut Context<'_, State>) -> Result<Option<Message>, ProtocolError> {
        match cx.state.core.phase {
            Phase::Idle | Phase::Closed => Ok(None),
            Phase::Handshake => {
                let (protocols, deflate) = {
                    let cfg = self.config.borrow();
                    (cfg.protocols.clone(), cfg.deflate)
                };
                let st = &mut *cx.state;
                match HandshakeResponse::parse(&packet, &st.key, &protocols, deflate) {
                    Ok((resp, params)) => {
                        st.core.deflate = params;
                        st.core.phase = Phase::Open;
                        st.core.set_event(Event::Handshake(Ok(Box::new(resp))));
                    }
                    Err(why) => {
                        st.core.phase = Phase::Closed;
                        st.core.drop_queue();
                        st.core.set_event(Event::Handshake(Err(why)));
                    }
                }
                cx.raise_event();
                Ok(None)
            }
            Phase::Open | Phase::CloseSent => machine::decode_frame(Role::Client, Limits::default(), &packet, cx),
        }
    }

    fn encode(&self, msg: Outgoing<'_>, cx: &mut Context<'_, State>) {
        machine::encode(Role::Client, msg, cx);
    }
}
