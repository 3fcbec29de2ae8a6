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

use bytes::Bytes;

mod assemble;
pub mod client;
pub mod deflate;
pub mod frame;
mod handshake;
pub(crate) mod machine;
pub(crate) mod server;

pub use frame::{OpCode, Role};
pub use handshake::{MAX_HANDSHAKE_SIZE, Rejection, Request, Response, accept_key};

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

pub use machine::{MAX_QUEUED_BEFORE_HANDSHAKE, random_mask};
pub use server::{State, WebSocket};

#[cfg(test)]
mod tests;

/// The manual's WebSocket chapter, compiled as doc tests so its examples stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../../docs/websocket.md")]
pub struct WebSocketChapter;
