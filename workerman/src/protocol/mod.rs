//! Application protocols: how a byte stream is cut into messages, and how replies are framed.
//!
//! A protocol is Workerman's `input` / `decode` / `encode` triple, typed. It never sees a socket:
//! the connection owns the buffers, calls [`Protocol::input`] with everything received so far
//! (starting at a packet boundary), cuts the packet when enough bytes are there, and passes it to
//! [`Protocol::decode`]. Whatever `decode` returns reaches `on_message`.
//!
//! ```text
//!   socket bytes ──► receive buffer ──input()──► Some(n) ──► first n bytes ──decode()──► on_message
//!                                      │
//!                                      ├─ None   : wait for more bytes
//!                                      └─ Err(e) : log, count, close this connection
//!
//!   conn.send(x) ──encode(x)──► send buffer ──► socket
//! ```
//!
//! A custom protocol is one impl; its [`Protocol::SCHEME`] makes it usable as
//! `"myproto://0.0.0.0:1234"`. See `examples/json_nl.rs` for the manual's JsonNL protocol.

use std::borrow::Cow;
use std::fmt;

use bytes::{Bytes, BytesMut};

mod frame;
pub mod http;
mod line;
mod tcp;
mod text;
pub mod websocket;

pub use frame::Frame;
pub use http::Http;
pub use line::Line;
pub use tcp::Tcp;
pub use text::Text;
pub use websocket::WebSocket;
pub use websocket::client::Ws;

/// A framing and encoding of messages over a byte stream.
///
/// Implementations hold configuration (the worker keeps one instance); per-connection state lives
/// in [`Protocol::State`], handed to every call through [`Context`].
pub trait Protocol: Sized + 'static {
    /// The scheme naming this protocol in addresses, lower case (`"text"` for `text://...`).
    const SCHEME: &'static str;
    /// What `on_message` receives.
    type Message;
    /// What `send` accepts; `conn.send(x)` takes anything `Into<Outgoing>`.
    type Outgoing<'a>;
    /// Per-connection protocol state (handshake progress, fragments...); `()` when stateless.
    type State: Default + 'static;

    /// Looks at the buffered bytes (always starting at a packet boundary) and tells the packet size.
    ///
    /// Returns `Ok(None)` when more bytes are needed, `Ok(Some(n))` when the next packet is exactly
    /// `n` bytes (`n` may exceed what is buffered; the connection then waits without calling `input`
    /// again), and `Err` for bad input: the connection is then closed, logged and counted.
    fn input(&self, buf: &[u8], cx: &mut Context<'_, Self::State>) -> Result<Option<usize>, ProtocolError>;

    /// Turns one packet into a message; `Ok(None)` delivers nothing (e.g. a control frame handled here).
    fn decode(&self, packet: Bytes, cx: &mut Context<'_, Self::State>) -> Result<Option<Self::Message>, ProtocolError>;

    /// Appends the wire form of `msg` to [`Context::out`]; may ask to close after it is written
    /// (an HTTP response with `Connection: close`).
    fn encode(&self, msg: Self::Outgoing<'_>, cx: &mut Context<'_, Self::State>);

    /// For broadcasts (one message to many connections, e.g. [`Worker::broadcast`]): which
    /// shared encoding a connection in `state` can take. Connections with the same key receive
    /// the same bytes, built once by [`encode_shared`](Self::encode_shared) and shared (not
    /// copied); `None` means this connection encodes the message on its own (the default, and
    /// e.g. a WebSocket whose handshake is not done yet).
    ///
    /// [`Worker::broadcast`]: crate::Worker::broadcast
    fn share_key(&self, state: &Self::State) -> Option<u32> {
        let _ = state;
        None
    }

    /// Appends to `out` the bytes [`encode`](Self::encode) would append for a connection whose
    /// [`share_key`](Self::share_key) is `key`, without touching any state; returns `false` when
    /// this message cannot be shared (a WebSocket close frame changes the connection's state):
    /// then every connection encodes it on its own. The default shares nothing.
    fn encode_shared(&self, msg: Self::Outgoing<'_>, key: u32, out: &mut BytesMut) -> bool {
        let _ = (msg, key, out);
        false
    }

    /// Where a connection stands, for the worker's timeouts ([`Timeouts`](crate::connection::Timeouts)):
    /// `buffered` bytes of an incomplete packet are waiting. The default, [`Phase::Open`], leaves
    /// only the idle timeout; HTTP reports request heads, bodies and keep-alive waits, WebSocket
    /// its opening handshake.
    fn phase(&self, state: &Self::State, buffered: usize) -> Phase {
        let _ = (state, buffered);
        Phase::Open
    }

    /// A timeout of `phase` is closing the connection: what is written to [`Context::out`] is
    /// sent before the close (HTTP answers a late request head or body with `408`). The default
    /// writes nothing.
    fn timed_out(&self, phase: Phase, cx: &mut Context<'_, Self::State>) {
        let _ = (phase, cx);
    }
}

/// Where a connection stands between reads, as its protocol tells ([`Protocol::phase`]): it
/// decides which of the worker's timeouts applies ([`Timeouts`](crate::connection::Timeouts)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Phase {
    /// No phase timeout, only the idle one: a message in progress of a protocol without phases,
    /// or the application's turn (a request not answered yet, a response being streamed).
    #[default]
    Open,
    /// The opening handshake is not done (WebSocket): the handshake timeout.
    Handshake,
    /// A request head is incomplete (or, on a new connection, not started): the request-head
    /// timeout, from its start.
    Head,
    /// A request head is complete, its body is not: the request-body timeout, between reads.
    Body,
    /// Waiting for the next request after answering one: the keep-alive timeout.
    KeepAlive,
}

/// What a protocol call may see and do besides parsing: its per-connection state, the size limit,
/// the output buffer (encoded messages; from `input`/`decode`: pongs, close frames, error
/// replies), whether the process is stopping, a request to close, and a note that an event waits
/// in the state for the connection-side service (see [`Context::raise_event`]).
///
/// Built by the connection (or by [`testing`]) for each call: a codec sees values, never the
/// connection, the worker or the event loop.
pub struct Context<'a, S> {
    /// The connection's protocol state.
    pub state: &'a mut S,
    out: &'a mut BytesMut,
    max_package_size: usize,
    close: bool,
    event: bool,
    refused: bool,
    stopping: bool,
    peer: Option<std::net::SocketAddr>,
}

impl<'a, S> Context<'a, S> {
    /// A context over `state`, writing replies to `out`.
    pub fn new(state: &'a mut S, out: &'a mut BytesMut, max_package_size: usize) -> Self {
        Context {
            state,
            out,
            max_package_size,
            close: false,
            event: false,
            refused: false,
            stopping: false,
            peer: None,
        }
    }

    /// The same context, telling the protocol whether the process is stopping (connections do
    /// this; see [`Context::stopping`]).
    pub fn with_stopping(mut self, stopping: bool) -> Self {
        self.stopping = stopping;
        self
    }

    /// The same context, telling the protocol the peer's address (connections do this).
    pub fn with_peer(mut self, peer: Option<std::net::SocketAddr>) -> Self {
        self.peer = peer;
        self
    }

    /// The peer's address, when known (an HTTP request's client ip and port).
    pub fn peer(&self) -> Option<std::net::SocketAddr> {
        self.peer
    }

    /// The largest packet this connection accepts, in bytes.
    pub fn max_package_size(&self) -> usize {
        self.max_package_size
    }

    /// Bytes written here go to the peer, after anything already queued.
    pub fn out(&mut self) -> &mut BytesMut {
        self.out
    }

    /// Whether this process is stopping gracefully (a stop, reload or retirement in progress):
    /// request/response protocols should end keep-alive now (HTTP: `Connection: close`).
    pub fn stopping(&self) -> bool {
        self.stopping
    }

    /// Asks the connection to close once everything queued, including replies, is written.
    pub fn close(&mut self) {
        self.close = true;
    }

    /// Whether [`Context::close`] was called.
    pub fn close_requested(&self) -> bool {
        self.close
    }

    /// Tells the connection that this call left an event in [`Protocol::State`] (a WebSocket
    /// handshake, ping or close; an HTTP file body to read): the connection hands it to the
    /// protocol's connection-side service (hooks, handshake replies, heartbeats, file streaming)
    /// once the call returned. Protocols without a service may ignore this; [`testing`] does.
    pub fn raise_event(&mut self) {
        self.event = true;
    }

    /// Whether [`Context::raise_event`] was called.
    pub fn event_raised(&self) -> bool {
        self.event
    }

    /// Drops the message being encoded, counted as a failed send (a WebSocket frame sent before
    /// the handshake while too much is queued already).
    pub fn refuse(&mut self) {
        self.refused = true;
    }

    /// Whether [`Context::refuse`] was called.
    pub fn refused(&self) -> bool {
        self.refused
    }
}

/// Bad input: the connection that sent it is closed, and the reason logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError {
    reason: Cow<'static, str>,
}

impl ProtocolError {
    /// An error with a reason a person can act on.
    pub fn new(reason: impl Into<Cow<'static, str>>) -> Self {
        ProtocolError { reason: reason.into() }
    }

    /// The reason.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

impl std::error::Error for ProtocolError {}

/// Bytes to send, borrowed or owned: `conn.send("hi")`, `conn.send(format!(..))`, `conn.send(&vec)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload<'a>(Cow<'a, [u8]>);

impl Payload<'_> {
    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl AsRef<[u8]> for Payload<'_> {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl<'a> From<&'a str> for Payload<'a> {
    fn from(s: &'a str) -> Self {
        Payload(Cow::Borrowed(s.as_bytes()))
    }
}
impl<'a> From<&'a String> for Payload<'a> {
    fn from(s: &'a String) -> Self {
        Payload(Cow::Borrowed(s.as_bytes()))
    }
}
impl From<String> for Payload<'_> {
    fn from(s: String) -> Self {
        Payload(Cow::Owned(s.into_bytes()))
    }
}
impl<'a> From<&'a [u8]> for Payload<'a> {
    fn from(s: &'a [u8]) -> Self {
        Payload(Cow::Borrowed(s))
    }
}
impl<'a, const N: usize> From<&'a [u8; N]> for Payload<'a> {
    fn from(s: &'a [u8; N]) -> Self {
        Payload(Cow::Borrowed(s))
    }
}
impl<'a> From<&'a Vec<u8>> for Payload<'a> {
    fn from(s: &'a Vec<u8>) -> Self {
        Payload(Cow::Borrowed(s))
    }
}
impl From<Vec<u8>> for Payload<'_> {
    fn from(s: Vec<u8>) -> Self {
        Payload(Cow::Owned(s))
    }
}
impl<'a> From<&'a Bytes> for Payload<'a> {
    fn from(s: &'a Bytes) -> Self {
        Payload(Cow::Borrowed(s))
    }
}
impl From<Bytes> for Payload<'_> {
    fn from(s: Bytes) -> Self {
        Payload(Cow::Owned(s.into()))
    }
}
impl<'a> From<Cow<'a, str>> for Payload<'a> {
    fn from(s: Cow<'a, str>) -> Self {
        match s {
            Cow::Borrowed(s) => s.into(),
            Cow::Owned(s) => s.into(),
        }
    }
}

/// What [`cut_packet`] did.
pub(crate) enum Cut {
    /// A packet was cut and decoded; its message (if any) is in the slot.
    Delivered,
    /// More bytes are needed.
    Wait,
    /// Bad input; the reason.
    Fail(String),
}

/// Cuts the next packet from `recv` and decodes it, enforcing `max_package_size`; `want` carries
/// the size `input` announced across calls. The one implementation of the input/decode contract,
/// shared by connections and by [`testing`].
///
/// The message goes into `msg` rather than the return value: a message can be large (an HTTP
/// `Request` is a few hundred bytes) and a connection hands it on from that slot, without moving
/// it through the wrappers around this call.
pub(crate) fn cut_packet<P: Protocol>(
    protocol: &P,
    recv: &mut BytesMut,
    want: &mut Option<usize>,
    cx: &mut Context<'_, P::State>,
    msg: &mut Option<P::Message>,
) -> Cut {
    let max = cx.max_package_size();
    let n = match *want {
        Some(n) => n,
        None => match protocol.input(recv, cx) {
            Ok(None) if recv.len() >= max => {
                return Cut::Fail(format!(
                    "packet exceeds max_package_size ({max} bytes) without completing"
                ));
            }
            Ok(None) => return Cut::Wait,
            Ok(Some(0)) => return Cut::Fail("protocol returned a zero-length packet".into()),
            Ok(Some(n)) if n > max => {
                return Cut::Fail(format!("packet of {n} bytes exceeds max_package_size ({max} bytes)"));
            }
            Ok(Some(n)) => n,
            Err(e) => return Cut::Fail(e.to_string()),
        },
    };
    if n > recv.len() {
        *want = Some(n);
        return Cut::Wait;
    }
    *want = None;
    let packet = recv.split_to(n).freeze();
    match protocol.decode(packet, cx) {
        Ok(m) => {
            *msg = m;
            Cut::Delivered
        }
        Err(e) => Cut::Fail(e.to_string()),
    }
}

pub mod testing {
    //! Drives a protocol exactly the way a connection does, without sockets: for unit tests and
    //! fuzz targets of built-in and custom protocols.
    //!
    //! ```
    //! use workerman::protocol::{Text, testing};
    //! testing::check_splits(&Text, b"a\nb\r\n", &["a".to_string(), "b".to_string()]);
    //! ```
    use super::*;

    /// Feeds `chunks` one after another into one receive buffer, as successive reads, cutting
    /// packets like a connection with `max_package_size = max`; returns every message, or the
    /// reason the connection would have been closed.
    pub fn feed<P: Protocol>(p: &P, chunks: &[&[u8]], max: usize) -> Result<Vec<P::Message>, ProtocolError> {
        let mut state = P::State::default();
        let mut out = BytesMut::new();
        let mut buf = BytesMut::new();
        let mut want: Option<usize> = None;
        let mut msgs = Vec::new();
        for chunk in chunks {
            buf.extend_from_slice(chunk);
            while !buf.is_empty() {
                let mut cx = Context::new(&mut state, &mut out, max);
                let mut msg = None;
                match cut_packet(p, &mut buf, &mut want, &mut cx, &mut msg) {
                    Cut::Delivered => msgs.extend(msg),
                    Cut::Wait => break,
                    Cut::Fail(why) => return Err(ProtocolError::new(why)),
                }
            }
        }
        Ok(msgs)
    }

    /// Asserts that `wire` decodes to `expected` whole, split at every byte, and byte by byte.
    ///
    /// # Panics
    /// When any way of cutting the stream gives other messages.
    pub fn check_splits<P: Protocol>(p: &P, wire: &[u8], expected: &[P::Message])
    where
        P::Message: PartialEq + fmt::Debug,
    {
        assert_eq!(feed(p, &[wire], 1 << 20).unwrap(), expected, "whole");
        for i in 0..=wire.len() {
            let (a, b) = wire.split_at(i);
            assert_eq!(feed(p, &[a, b], 1 << 20).unwrap(), expected, "split at {i}");
        }
        let bytes: Vec<&[u8]> = wire.chunks(1).collect();
        assert_eq!(feed(p, &bytes, 1 << 20).unwrap(), expected, "byte by byte");
    }
}
