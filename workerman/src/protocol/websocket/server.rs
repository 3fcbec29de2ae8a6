//! The server's half of the opening handshake (RFC 6455 §4.2): the `websocket://` codec is the
//! shared [`machine`](super::machine) in the server role, after an HTTP/1.1 upgrade request is
//! read, checked and its permessage-deflate offer negotiated. The 101 reply, the
//! `on_websocket_*` hooks and the heartbeat are the connection side's
//! (`crate::service::websocket`).

use std::time::Duration;

use bytes::Bytes;

use super::handshake::{MAX_HANDSHAKE_SIZE, Rejection, Request};
use super::machine::{self, Core, Event, HasCore, Limits, Phase};
use super::{Message, Outgoing, Role, deflate};
use crate::protocol::{Context, Protocol, ProtocolError};

/// The `websocket://` protocol's configuration, one instance per worker.
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
#[derive(Debug, Default, Clone)]
pub struct WebSocket {
    limits: Limits,
    no_deflate: bool,
    heartbeat: Option<(Duration, Duration)>,
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
        self.limits.frame = Some(bytes);
        self
    }

    /// Largest message accepted (all fragments, after inflating), in bytes (default: the
    /// connection's `max_package_size`, 10 MiB); a bigger one is refused with close code 1009.
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.limits.message = Some(bytes);
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

    /// The heartbeat's interval and timeout, when on.
    pub fn heartbeat_config(&self) -> Option<(Duration, Duration)> {
        self.heartbeat
    }
}

/// The request of a valid opening handshake, what the 101 must carry, and the negotiated
/// extension; the service answers it.
#[derive(Debug)]
pub(crate) struct Handshake {
    pub request: Box<Request>,
    pub accept: String,
    pub extension: Option<String>,
}

/// Per-connection state of a `websocket://` connection: 32 bytes while idle.
#[derive(Debug)]
pub struct State {
    pub(crate) core: Core<Handshake>,
}

impl Default for State {
    fn default() -> Self {
        State {
            core: Core::new(Phase::Handshake),
        }
    }
}

impl HasCore for State {
    type Handshake = Handshake;
    fn core(&mut self) -> &mut Core<Handshake> {
        &mut self.core
    }
}

fn reject(cx: &mut Context<'_, State>, r: Rejection) -> ProtocolError {
    cx.out().extend_from_slice(&r.response());
    cx.state.core.phase = Phase::Closed;
    ProtocolError::new(format!("websocket handshake refused with {}: {}", r.status, r.reason))
}

impl WebSocket {
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
        let core = &mut cx.state.core;
        core.deflate = params;
        core.phase = Phase::Open;
        core.set_event(Event::Handshake(Handshake {
            request: Box::new(request),
            accept,
            extension,
        }));
        cx.raise_event();
        Ok(None)
    }
}

impl Protocol for WebSocket {
    const SCHEME: &'static str = "websocket";
    type Message = Message;
    type Outgoing<'a> = Outgoing<'a>;
    type State = State;

    fn input(&self, buf: &[u8], cx: &mut Context<'_, State>) -> Result<Option<usize>, ProtocolError> {
        match cx.state.core.phase {
            Phase::Idle | Phase::Handshake => self.input_handshake(buf, cx),
            Phase::Open | Phase::CloseSent => machine::input_frame(Role::Server, self.limits, buf, cx),
            Phase::Closed => Err(ProtocolError::new("websocket: data after the close frame")),
        }
    }

    fn decode(&self, packet: Bytes, cx: &mut Context<'_, State>) -> Result<Option<Message>, ProtocolError> {
        match cx.state.core.phase {
            Phase::Idle | Phase::Handshake => self.decode_handshake(&packet, cx),
            Phase::Open | Phase::CloseSent => machine::decode_frame(Role::Server, self.limits, &packet, cx),
            Phase::Closed => Ok(None),
        }
    }

    fn encode(&self, msg: Outgoing<'_>, cx: &mut Context<'_, State>) {
        machine::encode(Role::Server, msg, cx);
    }

    fn share_key(&self, state: &State) -> Option<u32> {
        machine::share_key(&state.core)
    }

    fn encode_shared(&self, msg: Outgoing<'_>, key: u32, out: &mut bytes::BytesMut) -> bool {
        machine::encode_shared_server(msg, key, out)
    }

    /// `Handshake` until the upgrade request has been read; `Open` after.
    fn phase(&self, state: &State, _buffered: usize) -> crate::protocol::Phase {
        match state.core.phase {
            Phase::Idle | Phase::Handshake => crate::protocol::Phase::Handshake,
            _ => crate::protocol::Phase::Open,
        }
    }
}
