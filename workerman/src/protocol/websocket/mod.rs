//! `websocket`: the WebSocket server protocol (RFC 6455, strict), with permessage-deflate (RFC
//! 7692) and an optional heartbeat.
//!
//! ```no_run
//! use workerman::Worker;
//! use workerman::protocol::websocket::{Message, WebSocket};
//!
//! fn main() -> workerman::Result<()> {
//!     let worker = Worker::<WebSocket>::new("websocket://0.0.0.0:2346")?;
//!     worker.on_websocket_connect(|_conn, req, resp| {
//!         if req.query("token").as_deref() != Some("secret") {
//!             resp.reject(403);
//!         }
//!     });
//!     worker.on_message(|conn, msg| match msg {
//!         Message::Text(s) => { conn.send(format!("you said {s}")); }
//!         Message::Binary(b) => { conn.send(b); }
//!     });
//!     Worker::run_all()
//! }
//! ```
//!
//! A connection goes through the opening handshake (an HTTP/1.1 upgrade request, answered with
//! `101 Switching Protocols` or a 4xx and a close), then exchanges frames ([`frame`]):
//!
//! ```text
//!  client                         server
//!  GET /path  Upgrade: websocket ─►  on_websocket_connect(conn, request, response)  (may reject)
//!            ◄─ 101 Switching Protocols
//!  text/binary frames (masked)  ─►  fragments joined, UTF-8 checked, inflated ─► on_message
//!            ◄─ conn.send(..): one unmasked frame per send
//!  ping ─►  pong (automatic, or on_websocket_ping)      pong ─► on_websocket_pong
//!  close(code) ─►  close(code) echoed, then TCP closed  (on_websocket_close, then on_close)
//! ```
//!
//! Any violation (unmasked frame, RSV bits without an extension, reserved opcode, fragmented or
//! long control frame, bad continuation, invalid UTF-8 in a text message or a close reason,
//! invalid close code, a frame or message over the limits) is answered with a close frame —
//! 1002 protocol error, 1007 invalid data, 1009 too big — and the connection is closed and logged.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};

use super::{Context, Protocol, ProtocolError};
use crate::connection::{SendResult, Status, TcpConnection};
use crate::worker::Worker;

mod assemble;
pub mod client;
pub mod deflate;
pub mod frame;
mod handshake;
mod heartbeat;

pub use frame::{OpCode, Role};
pub use handshake::{MAX_HANDSHAKE_SIZE, Rejection, Request, Response, accept_key};

use frame::{close_code_is_valid, parse_header, write_close, write_frame};

/// A complete message received from the peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message (valid UTF-8, checked).
    Text(String),
    /// A binary message.
    Binary(Bytes),
}

impl Message {
    /// The payload bytes.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Message::Text(s) => s.as_bytes(),
            Message::Binary(b) => b,
        }
    }

    /// The text, for a text message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(s) => Some(s),
            Message::Binary(_) => None,
        }
    }

    /// The payload as bytes, whatever the type.
    pub fn into_bytes(self) -> Bytes {
        match self {
            Message::Text(s) => Bytes::from(s),
            Message::Binary(b) => b,
        }
    }

    /// Whether this is a text message.
    pub fn is_text(&self) -> bool {
        matches!(self, Message::Text(_))
    }

    /// The message type.
    pub fn message_type(&self) -> MessageType {
        match self {
            Message::Text(_) => MessageType::Text,
            Message::Binary(_) => MessageType::Binary,
        }
    }

    /// Payload length in bytes.
    pub fn len(&self) -> usize {
        self.as_bytes().len()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The frame type strings are sent as (Workerman's `websocketType`): text by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MessageType {
    /// Text frames (`BINARY_TYPE_BLOB`); browsers get a `string`.
    #[default]
    Text,
    /// Binary frames (`BINARY_TYPE_ARRAYBUFFER`); browsers get a `Blob`/`ArrayBuffer`.
    Binary,
}

/// What `conn.send(..)` accepts: strings go out as the connection's [`MessageType`] (text unless
/// changed), bytes as binary, a [`Message`] as its own type; [`Outgoing::ping`],
/// [`Outgoing::close`] and friends build control frames.
///
/// ```no_run
/// # use workerman::TcpConnection;
/// # use workerman::protocol::websocket::{Outgoing, WebSocket};
/// # fn f(conn: &TcpConnection<WebSocket>) {
/// conn.send("hello");                       // text frame
/// conn.send(vec![1u8, 2, 3]);               // binary frame
/// conn.send(Outgoing::binary("as binary")); // binary frame from a string
/// conn.send(Outgoing::close(1000, "bye"));  // close frame, then the connection closes
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing<'a>(Out<'a>);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Out<'a> {
    Str(Cow<'a, str>),
    Text(Cow<'a, str>),
    Binary(Cow<'a, [u8]>),
    Ping(Cow<'a, [u8]>),
    Pong(Cow<'a, [u8]>),
    Close(u16, Cow<'a, str>),
}

impl Out<'_> {
    /// The frame this becomes: opcode and (unmasked, uncompressed) payload; a plain string goes
    /// as the connection's message type, control payloads are cut to 125 bytes.
    fn frame(&self, send_type: MessageType) -> (OpCode, &[u8]) {
        match self {
            Out::Str(s) => match send_type {
                MessageType::Text => (OpCode::Text, s.as_bytes()),
                MessageType::Binary => (OpCode::Binary, s.as_bytes()),
            },
            Out::Text(s) => (OpCode::Text, s.as_bytes()),
            Out::Binary(b) => (OpCode::Binary, b),
            Out::Ping(b) => (OpCode::Ping, &b[..b.len().min(frame::MAX_CONTROL_PAYLOAD)]),
            Out::Pong(b) => (OpCode::Pong, &b[..b.len().min(frame::MAX_CONTROL_PAYLOAD)]),
            Out::Close(..) => (OpCode::Close, &[]),
        }
    }
}

impl<'a> Outgoing<'a> {
    /// A text frame, whatever the connection's message type.
    pub fn text(s: impl Into<Cow<'a, str>>) -> Self {
        Outgoing(Out::Text(s.into()))
    }

    /// A binary frame.
    pub fn binary(b: impl AsRef<[u8]> + 'a) -> Self {
        Outgoing(Out::Binary(Cow::Owned(b.as_ref().to_vec())))
    }

    /// A ping (payload cut to 125 bytes).
    pub fn ping(b: impl Into<Cow<'a, [u8]>>) -> Self {
        Outgoing(Out::Ping(b.into()))
    }

    /// A pong (payload cut to 125 bytes), e.g. the answer of an `on_websocket_ping` hook.
    pub fn pong(b: impl Into<Cow<'a, [u8]>>) -> Self {
        Outgoing(Out::Pong(b.into()))
    }

    /// A close frame with a status code (1000 normal, 1001 going away, 1008 policy, 4000-4999
    /// application codes) and a reason (cut to 123 bytes); the connection closes after it.
    pub fn close(code: u16, reason: impl Into<Cow<'a, str>>) -> Self {
        Outgoing(Out::Close(code, reason.into()))
    }
}

impl<'a> From<&'a str> for Outgoing<'a> {
    fn from(s: &'a str) -> Self {
        Outgoing(Out::Str(Cow::Borrowed(s)))
    }
}
impl<'a> From<&'a String> for Outgoing<'a> {
    fn from(s: &'a String) -> Self {
        Outgoing(Out::Str(Cow::Borrowed(s)))
    }
}
impl From<String> for Outgoing<'_> {
    fn from(s: String) -> Self {
        Outgoing(Out::Str(Cow::Owned(s)))
    }
}
impl<'a> From<Cow<'a, str>> for Outgoing<'a> {
    fn from(s: Cow<'a, str>) -> Self {
        Outgoing(Out::Str(s))
    }
}
impl<'a> From<&'a [u8]> for Outgoing<'a> {
    fn from(b: &'a [u8]) -> Self {
        Outgoing(Out::Binary(Cow::Borrowed(b)))
    }
}
impl<'a, const N: usize> From<&'a [u8; N]> for Outgoing<'a> {
    fn from(b: &'a [u8; N]) -> Self {
        Outgoing(Out::Binary(Cow::Borrowed(b)))
    }
}
impl<'a> From<&'a Vec<u8>> for Outgoing<'a> {
    fn from(b: &'a Vec<u8>) -> Self {
        Outgoing(Out::Binary(Cow::Borrowed(b)))
    }
}
impl From<Vec<u8>> for Outgoing<'_> {
    fn from(b: Vec<u8>) -> Self {
        Outgoing(Out::Binary(Cow::Owned(b)))
    }
}
impl<'a> From<&'a Bytes> for Outgoing<'a> {
    fn from(b: &'a Bytes) -> Self {
        Outgoing(Out::Binary(Cow::Borrowed(b)))
    }
}
impl From<Bytes> for Outgoing<'_> {
    fn from(b: Bytes) -> Self {
        Outgoing(Out::Binary(Cow::Owned(b.into())))
    }
}
impl From<Message> for Outgoing<'_> {
    fn from(m: Message) -> Self {
        match m {
            Message::Text(s) => Outgoing(Out::Text(Cow::Owned(s))),
            Message::Binary(b) => b.into(),
        }
    }
}
impl<'a> From<&'a Message> for Outgoing<'a> {
    fn from(m: &'a Message) -> Self {
        match m {
            Message::Text(s) => Outgoing(Out::Text(Cow::Borrowed(s))),
            Message::Binary(b) => b.into(),
        }
    }
}

type ConnectFn = Rc<dyn Fn(&TcpConnection<WebSocket>, &Request, &mut Response)>;
type PayloadFn = Rc<dyn Fn(&TcpConnection<WebSocket>, Bytes)>;
type CloseFn = Rc<dyn Fn(&TcpConnection<WebSocket>, Option<u16>, &str)>;

#[derive(Default)]
struct Hooks {
    connect: Option<ConnectFn>,
    ping: Option<PayloadFn>,
    pong: Option<PayloadFn>,
    close: Option<CloseFn>,
}

/// The `websocket://` protocol: configuration and hooks, one instance per worker.
///
/// ```no_run
/// use std::time::Duration;
/// use workerman::Worker;
/// use workerman::protocol::websocket::WebSocket;
///
/// let ws = WebSocket::new()
///     .max_message_size(1 << 20)
///     .heartbeat(Duration::from_secs(25), Duration::from_secs(60));
/// let worker = Worker::with_protocol("websocket://0.0.0.0:2346", ws).unwrap();
/// ```
#[derive(Default)]
pub struct WebSocket {
    max_frame_size: Option<usize>,
    max_message_size: Option<usize>,
    no_deflate: bool,
    heartbeat: Option<(Duration, Duration)>,
    hooks: RefCell<Hooks>,
    heartbeat_started: Cell<bool>,
}

impl std::fmt::Debug for WebSocket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocket")
            .field("max_frame_size", &self.max_frame_size)
            .field("max_message_size", &self.max_message_size)
            .field("permessage_deflate", &!self.no_deflate)
            .field("heartbeat", &self.heartbeat)
            .finish_non_exhaustive()
    }
}

impl WebSocket {
    /// The defaults: limits from the connection's `max_package_size`, permessage-deflate
    /// accepted, no heartbeat.
    pub fn new() -> Self {
        Self::default()
    }

    /// Largest frame payload accepted, in bytes (default: the connection's `max_package_size`,
    /// 10 MiB); a bigger frame is refused with close code 1009.
    pub fn max_frame_size(mut self, bytes: usize) -> Self {
        self.max_frame_size = Some(bytes);
        self
    }

    /// Largest message accepted (all fragments, after inflating), in bytes (default: the
    /// connection's `max_package_size`, 10 MiB); a bigger one is refused with close code 1009.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message_size = Some(bytes);
        self
    }

    /// Whether to accept permessage-deflate offers (default `true`).
    pub fn permessage_deflate(mut self, on: bool) -> Self {
        self.no_deflate = !on;
        self
    }

    /// Turns the heartbeat on (off by default): every `interval`, each connection that sent
    /// nothing during the last interval gets a ping; one silent for `timeout` or longer is sent
    /// a close frame (1001) and closed. Any frame counts as life, pongs included.
    pub fn heartbeat(mut self, interval: Duration, timeout: Duration) -> Self {
        self.heartbeat = Some((interval.max(Duration::from_millis(1)), timeout));
        self
    }

    /// Sets the handshake hook (see [`Worker::on_websocket_connect`]).
    pub fn set_on_websocket_connect(&self, f: impl Fn(&TcpConnection<WebSocket>, &Request, &mut Response) + 'static) {
        self.hooks.borrow_mut().connect = Some(Rc::new(f));
    }

    /// Sets the ping hook (see [`Worker::on_websocket_ping`]).
    pub fn set_on_websocket_ping(&self, f: impl Fn(&TcpConnection<WebSocket>, Bytes) + 'static) {
        self.hooks.borrow_mut().ping = Some(Rc::new(f));
    }

    /// Sets the pong hook (see [`Worker::on_websocket_pong`]).
    pub fn set_on_websocket_pong(&self, f: impl Fn(&TcpConnection<WebSocket>, Bytes) + 'static) {
        self.hooks.borrow_mut().pong = Some(Rc::new(f));
    }

    /// Sets the close-frame hook (see [`Worker::on_websocket_close`]).
    pub fn set_on_websocket_close(&self, f: impl Fn(&TcpConnection<WebSocket>, Option<u16>, &str) + 'static) {
        self.hooks.borrow_mut().close = Some(Rc::new(f));
    }
}

impl Worker<WebSocket> {
    /// Called once the handshake request is complete and valid, before the 101 is sent: read
    /// the request's path, query, headers and cookies; add response headers, or
    /// [`Response::reject`] with an HTTP status (or `conn.close()`). Frames sent from here go
    /// out right after the 101.
    pub fn on_websocket_connect(&self, f: impl Fn(&TcpConnection<WebSocket>, &Request, &mut Response) + 'static) {
        self.protocol().set_on_websocket_connect(f);
    }

    /// Called with each ping's payload instead of the automatic pong; answer with
    /// `conn.send(Outgoing::pong(payload))`.
    pub fn on_websocket_ping(&self, f: impl Fn(&TcpConnection<WebSocket>, Bytes) + 'static) {
        self.protocol().set_on_websocket_ping(f);
    }

    /// Called with each pong's payload.
    pub fn on_websocket_pong(&self, f: impl Fn(&TcpConnection<WebSocket>, Bytes) + 'static) {
        self.protocol().set_on_websocket_pong(f);
    }

    /// Called when the peer sends a (valid) close frame, with its code and reason; the close
    /// is answered and the connection closed either way (`on_close` follows).
    pub fn on_websocket_close(&self, f: impl Fn(&TcpConnection<WebSocket>, Option<u16>, &str) + 'static) {
        self.protocol().set_on_websocket_close(f);
    }
}

impl TcpConnection<WebSocket> {
    /// Sets the frame type strings are sent as (default [`MessageType::Text`]).
    pub fn set_message_type(&self, t: MessageType) {
        self.with_protocol_state(|s| s.send_type = t);
    }

    /// The frame type strings are sent as.
    pub fn message_type(&self) -> MessageType {
        self.with_protocol_state(|s| s.send_type)
    }

    /// Whether permessage-deflate was negotiated on this connection.
    pub fn is_deflate(&self) -> bool {
        self.with_protocol_state(|s| s.deflate.is_some())
    }

    /// Sends a close frame with `code` and `reason`, then closes (the clean way to close;
    /// `close()` alone just closes TCP, as in Workerman).
    pub fn close_websocket(&self, code: u16, reason: &str) -> SendResult {
        self.send(Outgoing::close(code, reason))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
enum Phase {
    #[default]
    Handshake,
    Open,
    /// A close frame was sent or received: nothing more is read or sent.
    Closed,
}

/// Per-connection state: 32 bytes; fragments, queued frames and inflaters live in boxes
/// that exist only while needed.
#[derive(Debug, Default)]
pub struct State {
    phase: Phase,
    send_type: MessageType,
    /// The 101 was written (until then frames are queued).
    responded: bool,
    /// A frame arrived since the last heartbeat tick.
    seen: bool,
    silent_ticks: u16,
    deflate: Option<deflate::Params>,
    partial: Option<Box<assemble::Partial>>,
    extra: Option<Box<Extra>>,
}

#[derive(Debug, Default)]
struct Extra {
    event: Option<Event>,
    /// Frames sent before the 101 went out.
    queue: BytesMut,
    inflater: Option<deflate::Inflater>,
}

#[derive(Debug)]
enum Event {
    Handshake {
        request: Box<Request>,
        accept: String,
        extension: Option<String>,
    },
    Ping(Bytes),
    Pong(Bytes),
    Close(Option<u16>, String),
}

impl State {
    fn extra(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Default::default)
    }

    fn set_event(&mut self, e: Event) {
        self.extra().event = Some(e);
    }

    fn take_event(&mut self) -> Option<Event> {
        let extra = self.extra.as_mut()?;
        let e = extra.event.take();
        if extra.queue.is_empty() && extra.inflater.is_none() {
            self.extra = None;
        }
        e
    }
}

/// Writes a close frame with `code` (when the connection is open) and returns the error that
/// closes the connection.
fn fail(cx: &mut Context<'_, State>, code: u16, reason: &str) -> ProtocolError {
    if cx.state.phase == Phase::Open && cx.state.responded {
        write_close(cx.out(), code, "", None);
    }
    cx.state.phase = Phase::Closed;
    cx.state.partial = None;
    ProtocolError::new(format!("websocket: {reason} (close {code})"))
}

fn reject(cx: &mut Context<'_, State>, r: Rejection) -> ProtocolError {
    cx.out().extend_from_slice(&r.response());
    cx.state.phase = Phase::Closed;
    ProtocolError::new(format!("websocket handshake refused with {}: {}", r.status, r.reason))
}

impl WebSocket {
    fn frame_limit(&self, cx: &Context<'_, State>, header_len: usize) -> usize {
        let package = cx.max_package_size().saturating_sub(header_len);
        self.max_frame_size.map_or(package, |m| m.min(package))
    }

    fn message_limit(&self, cx: &Context<'_, State>) -> usize {
        self.max_message_size.unwrap_or(cx.max_package_size())
    }

    fn input_handshake(&self, buf: &[u8], cx: &mut Context<'_, State>) -> Result<Option<usize>, ProtocolError> {
        let n = buf.len().min(4);
        if buf[..n] != b"GET "[..n] {
            return Err(reject(cx, Rejection::new(400, "not a GET request")));
        }
        match memchr::memmem::find(buf, b"\r\n\r\n") {
            Some(i) if i + 4 <= MAX_HANDSHAKE_SIZE => Ok(Some(i + 4)),
            None if buf.len() < MAX_HANDSHAKE_SIZE => Ok(None),
            _ => Err(reject(cx, Rejection::new(431, "handshake request over 16 KiB"))),
        }
    }

    fn decode_handshake(&self, packet: &[u8], cx: &mut Context<'_, State>) -> Result<Option<Message>, ProtocolError> {
        let request = Request::parse(packet).map_err(|r| reject(cx, r))?;
        let accept = request.validate().map_err(|r| reject(cx, r))?;
        let negotiated = if self.no_deflate {
            None
        } else {
            let offers = request
                .headers()
                .filter(|(k, _)| k.eq_ignore_ascii_case("sec-websocket-extensions"))
                .map(|(_, v)| v);
            deflate::negotiate(offers)
        };
        let (params, extension) = negotiated.map_or((None, None), |(p, e)| (Some(p), Some(e)));
        cx.state.deflate = params;
        cx.state.phase = Phase::Open;
        if self.hooks.borrow().connect.is_some() || self.heartbeat.is_some() {
            cx.state.set_event(Event::Handshake {
                request: Box::new(request),
                accept,
                extension,
            });
        } else {
            let mut head = Vec::with_capacity(160);
            Response::default().write_101(&accept, extension.as_deref(), &mut head);
            cx.out().extend_from_slice(&head);
            cx.state.responded = true;
        }
        Ok(None)
    }

    fn decode_frame(&self, packet: &[u8], cx: &mut Context<'_, State>) -> Result<Option<Message>, ProtocolError> {
        let h = match parse_header(packet, Role::Server) {
            Ok(Some(h)) => h,
            _ => return Err(fail(cx, 1002, "bad frame")),
        };
        let body = &packet[h.header_len..];
        let mut payload = body.to_vec();
        if let Some(mask) = h.mask {
            frame::apply_mask(&mut payload, mask, 0);
        }
        cx.state.seen = true;
        match h.opcode {
            OpCode::Ping => {
                if self.hooks.borrow().ping.is_some() {
                    cx.state.set_event(Event::Ping(payload.into()));
                } else {
                    write_frame(cx.out(), true, false, OpCode::Pong, None, &payload);
                }
                Ok(None)
            }
            OpCode::Pong => {
                if self.hooks.borrow().pong.is_some() {
                    cx.state.set_event(Event::Pong(payload.into()));
                }
                Ok(None)
            }
            OpCode::Close => self.decode_close(&payload, cx),
            OpCode::Text | OpCode::Binary if h.fin && !h.rsv1 => assemble::message(h.opcode == OpCode::Text, payload)
                .map(Some)
                .map_err(|()| fail(cx, 1007, "text message is not valid UTF-8")),
            OpCode::Text | OpCode::Binary => {
                cx.state.partial = Some(Box::new(assemble::Partial::new(h.opcode, h.rsv1, payload)));
                self.fragment_added(h.fin, cx)
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
        if assemble::check_utf8(p, fin).is_err() {
            return Err(fail(cx, 1007, "text message is not valid UTF-8"));
        }
        if !fin {
            return Ok(None);
        }
        let p = cx.state.partial.take().expect("a message in progress");
        let data = if p.compressed {
            let max = self.message_limit(cx);
            let st = &mut *cx.state;
            let own = if st.deflate.is_some_and(|d| !d.client_no_context_takeover) {
                Some(st.extra().inflater.get_or_insert_with(deflate::Inflater::new))
            } else {
                None
            };
            match deflate::inflate(own, &p.data, max) {
                Ok(d) => d,
                Err(deflate::InflateError::TooBig) => return Err(fail(cx, 1009, "inflated message too big")),
                Err(deflate::InflateError::Corrupt) => return Err(fail(cx, 1007, "bad deflate data")),
            }
        } else {
            p.data
        };
        match assemble::message(p.text, data) {
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
        match code {
            Some(c) => write_close(cx.out(), c, "", None),
            None => write_frame(cx.out(), true, false, OpCode::Close, None, &[]),
        }
        cx.state.phase = Phase::Closed;
        cx.state.partial = None;
        if self.hooks.borrow().close.is_some() {
            cx.state.set_event(Event::Close(code, reason.to_owned()));
        }
        cx.close();
        Ok(None)
    }

    /// Runs the hooks of an event left by `decode`.
    fn run_event(&self, conn: &TcpConnection<WebSocket>, event: Event) {
        let hooks = {
            let h = self.hooks.borrow();
            (h.connect.clone(), h.ping.clone(), h.pong.clone(), h.close.clone())
        };
        match event {
            Event::Handshake {
                request,
                accept,
                extension,
            } => {
                if let Some((interval, timeout)) = self.heartbeat
                    && !self.heartbeat_started.replace(true)
                    && let Some(w) = conn.worker()
                {
                    heartbeat::start(w.clone(), interval, timeout);
                }
                let mut resp = Response::default();
                if let Some(f) = hooks.0 {
                    f(conn, &request, &mut resp);
                }
                if let Some(status) = resp.rejected() {
                    conn.send_raw(&Rejection::new(status, "").response());
                    conn.close();
                    return;
                }
                if conn.status() != Status::Established {
                    return;
                }
                let mut head = Vec::with_capacity(160);
                resp.write_101(&accept, extension.as_deref(), &mut head);
                let queued = conn.with_protocol_state(|s| {
                    s.responded = true;
                    let q = s.extra.as_mut().map(|e| std::mem::take(&mut e.queue));
                    s.take_event();
                    q
                });
                if let Some(q) = queued {
                    head.extend_from_slice(&q);
                }
                conn.send_raw(&head);
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
                if let Some(f) = hooks.3 {
                    f(conn, code, &reason);
                }
            }
        }
    }
}

impl Protocol for WebSocket {
    const SCHEME: &'static str = "websocket";
    type Message = Message;
    type Outgoing<'a> = Outgoing<'a>;
    type State = State;

    fn input(&self, buf: &[u8], cx: &mut Context<'_, State>) -> Result<Option<usize>, ProtocolError> {
        match cx.state.phase {
            Phase::Handshake => return self.input_handshake(buf, cx),
            Phase::Open => {}
            Phase::Closed => return Err(ProtocolError::new("websocket: data after the close frame")),
        }
        let h = match parse_header(buf, Role::Server) {
            Ok(None) => return Ok(None),
            Ok(Some(h)) => h,
            Err(e) => return Err(fail(cx, e.code, e.reason)),
        };
        if h.rsv23 {
            return Err(fail(cx, 1002, "RSV2/RSV3 set without a negotiated extension"));
        }
        if h.rsv1 && (cx.state.deflate.is_none() || h.opcode.is_control() || h.opcode == OpCode::Continuation) {
            return Err(fail(cx, 1002, "RSV1 set outside a compressed message's first frame"));
        }
        let in_progress = cx.state.partial.as_ref().map(|p| p.data.len());
        if let Err(why) = assemble::check_sequence(h.opcode, in_progress.is_some()) {
            return Err(fail(cx, 1002, why));
        }
        if h.payload_len > self.frame_limit(cx, h.header_len) as u64 {
            return Err(fail(cx, 1009, "frame over the size limit"));
        }
        if !h.opcode.is_control() && in_progress.unwrap_or(0) as u64 + h.payload_len > self.message_limit(cx) as u64 {
            return Err(fail(cx, 1009, "message over the size limit"));
        }
        Ok(Some(h.frame_len() as usize))
    }

    fn decode(&self, packet: Bytes, cx: &mut Context<'_, State>) -> Result<Option<Message>, ProtocolError> {
        match cx.state.phase {
            Phase::Handshake => self.decode_handshake(&packet, cx),
            Phase::Open => self.decode_frame(&packet, cx),
            Phase::Closed => Ok(None),
        }
    }

    fn encode(&self, msg: Outgoing<'_>, cx: &mut Context<'_, State>) {
        let st = &mut *cx.state;
        if st.phase == Phase::Closed {
            return;
        }
        let (opcode, payload) = msg.0.frame(st.send_type);
        let compressed = match st.deflate {
            Some(d) if !opcode.is_control() => {
                let mut c = Vec::new();
                deflate::compress(payload, d.server_max_window_bits, &mut c);
                Some(c)
            }
            _ => None,
        };
        let write = |out: &mut BytesMut| match (&msg.0, &compressed) {
            (Out::Close(code, reason), _) => write_close(out, *code, reason, None),
            (_, Some(c)) => write_frame(out, true, true, opcode, None, c),
            (_, None) => write_frame(out, true, false, opcode, None, payload),
        };
        if st.responded {
            write(cx.out());
        } else if st.extra().queue.len() < MAX_QUEUED_BEFORE_HANDSHAKE {
            write(&mut st.extra().queue);
        } else {
            // A peer that never finishes its handshake cannot make broadcasts pile up here.
            crate::stats::send_fail();
        }
        if let Out::Close(..) = msg.0 {
            cx.state.phase = Phase::Closed;
            cx.close();
        }
    }

    fn handle_event(&self, conn: &TcpConnection<Self>) {
        if let Some(event) = conn.with_protocol_state(State::take_event) {
            self.run_event(conn, event);
        }
    }
}

/// Bytes of frames kept for a connection whose handshake is not done yet (then dropped and
/// counted as send failures): the default send buffer limit, 1 MiB.
pub const MAX_QUEUED_BEFORE_HANDSHAKE: usize = crate::connection::DEFAULT_MAX_SEND_BUFFER_SIZE;

#[cfg(test)]
mod tests;

/// The manual's WebSocket chapter, compiled as doc tests so its examples stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../../docs/websocket.md")]
pub struct WebSocketChapter;
