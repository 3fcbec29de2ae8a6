//! The `ws://` client side: writes the opening handshake request once connected, sends what was
//! queued once the 101 is checked, runs the hooks, answers pings without a hook, pings at the
//! configured interval, and closes TCP if the server does not after the close handshake.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use bytes::Bytes;

use super::Hooks;
use crate::connection::{AsyncTcpConnection, ConnectionError, SendResult, Status, TcpConnection};
use crate::protocol::websocket::client::{CLOSE_WAIT, HandshakeResponse, Target, Ws};
use crate::protocol::websocket::machine::{Event, Phase};
use crate::protocol::websocket::{MessageType, Outgoing};
use crate::service::{Service, concrete};

type ConnectFn = Rc<dyn Fn(&TcpConnection<Ws>, &HandshakeResponse)>;

/// The service of one `ws://` connection.
#[derive(Default)]
pub(crate) struct ClientService {
    hooks: RefCell<Hooks<Ws, ConnectFn>>,
}

thread_local! {
    static SESSIONS: Cell<u64> = const { Cell::new(0) };
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

/// Pings every `interval` while this session stays open.
fn ping_every(conn: &TcpConnection<Ws>, interval: Duration) {
    let conn = conn.clone();
    let session = conn.with_protocol_state(|s| s.session);
    tokio::task::spawn_local(async move {
        loop {
            tokio::time::sleep(interval).await;
            let live = conn.status() == Status::Established
                && conn.with_protocol_state(|s| s.session == session && s.core.phase == Phase::Open);
            if !live || conn.send(Outgoing::ping(&b""[..])) == SendResult::Failed {
                break;
            }
        }
    });
}

impl ClientService {
    fn opened_ok(&self, conn: &TcpConnection<Ws>, resp: &HandshakeResponse) {
        let queued = conn.with_protocol_state(|s| s.core.finish_handshake());
        if !queued.is_empty() {
            conn.send_raw(&queued);
        }
        if let Some(interval) = conn.protocol().ping_interval_config() {
            ping_every(conn, interval);
        }
        let hook = self.hooks.borrow().connect.clone();
        if let Some(f) = hook {
            f(conn, resp);
        }
    }
}

impl Service<Ws> for ClientService {
    fn opened(&self, conn: &TcpConnection<Ws>) {
        let Some(uri) = conn.remote_uri() else {
            crate::settings::log("ws:// is the WebSocket client protocol; listen with websocket:// instead");
            conn.close();
            return;
        };
        let target = Target {
            host: conn.remote_host().unwrap_or("localhost"),
            port: conn.remote_url_port().unwrap_or(0),
            uri,
            tls: conn.is_tls_client(),
        };
        let request = conn.with_protocol_state(|s| {
            s.session = SESSIONS.with(|n| {
                n.set(n.get() + 1);
                n.get()
            });
            conn.protocol().start_handshake(&target, s)
        });
        conn.send_raw(&request);
    }

    fn event(&self, conn: &TcpConnection<Ws>) {
        let Some(event) = conn.with_protocol_state(|s| s.core.take_event()) else {
            return;
        };
        match event {
            Event::Handshake(Ok(resp)) => self.opened_ok(conn, &resp),
            Event::Handshake(Err(why)) => {
                let why = format!(
                    "websocket handshake with {} failed: {why}",
                    conn.remote_address().map(|a| a.to_string()).unwrap_or_default()
                );
                crate::settings::log(&format!("ws client: {why}"));
                conn.emit_error(&ConnectionError::ConnectFailed(why));
                conn.close();
            }
            Event::Ping(p) => match self.hooks.borrow().ping.clone() {
                Some(f) => f(conn, p),
                None => {
                    conn.send(Outgoing::pong(&p[..]));
                }
            },
            Event::Pong(p) => {
                if let Some(f) = self.hooks.borrow().pong.clone() {
                    f(conn, p);
                }
            }
            Event::Close(code, reason) => {
                close_later(conn);
                if let Some(f) = self.hooks.borrow().close.clone() {
                    f(conn, code, &reason);
                }
            }
        }
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl AsyncTcpConnection<Ws> {
    fn with_hooks(&self, f: impl FnOnce(&mut Hooks<Ws, ConnectFn>)) {
        let s = self.service();
        if let Some(s) = concrete::<Ws, ClientService>(s.as_ref()) {
            f(&mut s.hooks.borrow_mut());
        }
    }

    /// Adds a header to the handshake request (`Authorization`, `Cookie`, ...; a `Host` header
    /// replaces the automatic one). Names or values holding CR or LF are ignored. Takes effect
    /// at the next (re)connect.
    pub fn set_websocket_header(&self, name: impl Into<String>, value: impl Into<String>) {
        self.protocol().add_header(name.into(), value.into());
    }

    /// Sets the handshake's `Origin` header (Workerman's `websocketOrigin`).
    pub fn set_websocket_origin(&self, origin: impl Into<String>) {
        self.protocol().set_origin(origin.into());
    }

    /// Whether the handshake offers permessage-deflate (default on; the server may still
    /// decline). Takes effect at the next (re)connect.
    pub fn set_websocket_permessage_deflate(&self, on: bool) {
        self.protocol().set_deflate(on);
    }

    /// Offers a subprotocol in `Sec-WebSocket-Protocol` (Workerman's `websocketClientProtocol`);
    /// call again to offer several. The one the server chose is
    /// [`HandshakeResponse::protocol`]; a choice not offered fails the handshake.
    pub fn set_websocket_protocol(&self, name: impl Into<String>) {
        self.protocol().add_protocol(name.into());
    }

    /// Sends a ping every `interval` while open (Workerman's `websocketPingInterval`; off by
    /// default).
    pub fn set_websocket_ping_interval(&self, interval: Duration) {
        self.protocol().set_ping_interval(interval);
    }

    /// Called when the server accepted the upgrade (status 101, accept key checked), with its
    /// response; frames sent before were queued and go out now, before any sent from here.
    /// Called again after each reconnect.
    pub fn on_websocket_connect(&self, f: impl Fn(&TcpConnection<Ws>, &HandshakeResponse) + 'static) {
        self.with_hooks(|h| h.connect = Some(Rc::new(f)));
    }

    /// Called with each ping's payload instead of the automatic pong; answer with
    /// `conn.send(Outgoing::pong(payload))`.
    pub fn on_websocket_ping(&self, f: impl Fn(&TcpConnection<Ws>, Bytes) + 'static) {
        self.with_hooks(|h| h.ping = Some(Rc::new(f)));
    }

    /// Called with each pong's payload.
    pub fn on_websocket_pong(&self, f: impl Fn(&TcpConnection<Ws>, Bytes) + 'static) {
        self.with_hooks(|h| h.pong = Some(Rc::new(f)));
    }

    /// Called when the server sends a (valid) close frame, with its code and reason, after the
    /// close was answered; `on_close` follows when TCP closes.
    pub fn on_websocket_close(&self, f: impl Fn(&TcpConnection<Ws>, Option<u16>, &str) + 'static) {
        self.with_hooks(|h| h.close = Some(Rc::new(f)));
    }
}

impl TcpConnection<Ws> {
    /// Sets the frame type strings are sent as (default [`MessageType::Text`]).
    pub fn set_message_type(&self, t: MessageType) {
        self.with_protocol_state(|s| s.core.send_type = t);
    }

    /// The frame type strings are sent as.
    pub fn message_type(&self) -> MessageType {
        self.with_protocol_state(|s| s.core.send_type)
    }

    /// Whether the server accepted permessage-deflate (offered unless turned off with
    /// [`set_websocket_permessage_deflate`](crate::AsyncTcpConnection::set_websocket_permessage_deflate)`(false)`).
    pub fn is_deflate(&self) -> bool {
        self.with_protocol_state(|s| s.core.deflate.is_some())
    }

    /// Whether the handshake completed and no close frame was sent or received yet.
    pub fn is_websocket_open(&self) -> bool {
        self.with_protocol_state(|s| s.core.phase == Phase::Open)
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
