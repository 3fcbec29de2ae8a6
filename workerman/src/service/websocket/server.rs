//! The `websocket://` server side: answers the opening handshake (the `on_websocket_connect`
//! hook may add headers or reject), runs the ping/pong/close hooks, answers pings without a
//! hook, and starts the heartbeat.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::rc::Rc;

use bytes::Bytes;

use super::Hooks;
use crate::connection::{SendResult, Status, TcpConnection};
use crate::protocol::websocket::machine::Event;
use crate::protocol::websocket::server::Handshake;
use crate::protocol::websocket::{MessageType, Outgoing, Rejection, Request, Response, WebSocket};
use crate::service::{Service, concrete};
use crate::worker::Worker;

type ConnectFn = Rc<dyn Fn(&TcpConnection<WebSocket>, &Request, &mut Response)>;
type ConnectedFn = Rc<dyn Fn(&TcpConnection<WebSocket>, &Request)>;

/// The service of a `websocket://` worker, shared by its connections.
#[derive(Default)]
pub(crate) struct ServerService {
    hooks: RefCell<Hooks<WebSocket, ConnectFn>>,
    connected: RefCell<Option<ConnectedFn>>,
    heartbeat_started: Cell<bool>,
}

impl ServerService {
    fn of(worker: &Worker<WebSocket>) -> Rc<dyn Service<WebSocket>> {
        worker.service().expect("a websocket worker has its service")
    }

    fn with_hooks(worker: &Worker<WebSocket>, f: impl FnOnce(&mut Hooks<WebSocket, ConnectFn>)) {
        let s = Self::of(worker);
        if let Some(s) = concrete::<WebSocket, ServerService>(Some(&s)) {
            f(&mut s.hooks.borrow_mut());
        }
    }

    fn set_connected(worker: &Worker<WebSocket>, f: ConnectedFn) {
        let s = Self::of(worker);
        if let Some(s) = concrete::<WebSocket, ServerService>(Some(&s)) {
            *s.connected.borrow_mut() = Some(f);
        }
    }

    fn handshake(&self, conn: &TcpConnection<WebSocket>, h: Handshake) {
        if let Some((interval, timeout)) = conn.protocol().heartbeat_config()
            && !self.heartbeat_started.replace(true)
            && let Some(w) = conn.accepted_by()
        {
            super::heartbeat::start(w.clone(), interval, timeout);
        }
        let mut resp = Response::default();
        let hook = self.hooks.borrow().connect.clone();
        if let Some(f) = hook {
            f(conn, &h.request, &mut resp);
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
        resp.write_101(&h.accept, h.extension.as_deref(), &mut head);
        // Frames sent from the hook go out right after the 101.
        let queued = conn.with_protocol_state(|s| s.core.finish_handshake());
        head.extend_from_slice(&queued);
        conn.send_raw(&head);
        let connected = self.connected.borrow().clone();
        if let Some(f) = connected {
            // Once the 101 has left the send buffer: written to the socket, as the hook promises.
            let conn = conn.clone();
            let request = h.request;
            tokio::task::spawn_local(async move {
                conn.drained().await;
                if conn.status() == Status::Established {
                    crate::panic::guard(|| f(&conn, &request));
                }
            });
        }
    }
}

impl Service<WebSocket> for ServerService {
    fn event(&self, conn: &TcpConnection<WebSocket>) {
        let Some(event) = conn.with_protocol_state(|s| s.core.take_event()) else {
            return;
        };
        match event {
            Event::Handshake(h) => self.handshake(conn, h),
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
                if let Some(f) = self.hooks.borrow().close.clone() {
                    f(conn, code, &reason);
                }
            }
        }
    }

    fn going_away(&self, conn: &TcpConnection<WebSocket>) {
        // RFC 6455 §7.4.1: 1001, the endpoint is going away (a server going down).
        conn.send(Outgoing::close(1001, ""));
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}

impl Worker<WebSocket> {
    /// Called once the handshake request is complete and valid, before the 101 is sent: read
    /// the request's path, query, headers and cookies; add response headers, or
    /// [`Response::reject`] with an HTTP status (or `conn.close()`). Frames sent from here go
    /// out right after the 101.
    pub fn on_websocket_connect(&self, f: impl Fn(&TcpConnection<WebSocket>, &Request, &mut Response) + 'static) {
        ServerService::with_hooks(self, |h| h.connect = Some(Rc::new(f)));
    }

    /// Called once the handshake is done and the 101 has been written (Workerman's
    /// `onWebSocketConnected`), with the handshake request: the connection is a WebSocket now,
    /// so this is the place to register it, send a welcome, start per-connection timers.
    /// [`on_websocket_connect`](Self::on_websocket_connect) runs before, and can still refuse.
    pub fn on_websocket_connected(&self, f: impl Fn(&TcpConnection<WebSocket>, &Request) + 'static) {
        ServerService::set_connected(self, Rc::new(f));
    }

    /// Called with each ping's payload instead of the automatic pong; answer with
    /// `conn.send(Outgoing::pong(payload))`.
    pub fn on_websocket_ping(&self, f: impl Fn(&TcpConnection<WebSocket>, Bytes) + 'static) {
        ServerService::with_hooks(self, |h| h.ping = Some(Rc::new(f)));
    }

    /// Called with each pong's payload.
    pub fn on_websocket_pong(&self, f: impl Fn(&TcpConnection<WebSocket>, Bytes) + 'static) {
        ServerService::with_hooks(self, |h| h.pong = Some(Rc::new(f)));
    }

    /// Called when the peer sends a (valid) close frame, with its code and reason; the close
    /// is answered and the connection closed either way (`on_close` follows).
    pub fn on_websocket_close(&self, f: impl Fn(&TcpConnection<WebSocket>, Option<u16>, &str) + 'static) {
        ServerService::with_hooks(self, |h| h.close = Some(Rc::new(f)));
    }
}

impl TcpConnection<WebSocket> {
    /// Sets the frame type strings are sent as (default [`MessageType::Text`]).
    pub fn set_message_type(&self, t: MessageType) {
        self.with_protocol_state(|s| s.core.send_type = t);
    }

    /// The frame type strings are sent as.
    pub fn message_type(&self) -> MessageType {
        self.with_protocol_state(|s| s.core.send_type)
    }

    /// Whether permessage-deflate was negotiated on this connection.
    pub fn is_deflate(&self) -> bool {
        self.with_protocol_state(|s| s.core.deflate.is_some())
    }

    /// Sends a close frame with `code` and `reason`, then closes (the clean way to close;
    /// `close()` alone just closes TCP, as in Workerman).
    pub fn close_websocket(&self, code: u16, reason: &str) -> SendResult {
        self.send(Outgoing::close(code, reason))
    }
}
