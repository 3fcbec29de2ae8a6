//! Connection-side services: what a protocol needs besides its codec. A codec
//! ([`crate::protocol`]) turns bytes into messages and events and messages into bytes; it never
//! sees a connection. What needs one — user hooks, handshake replies, heartbeats, reading files
//! from disk, timers — is here, driven by the connection:
//!
//! ```text
//!   connection ──opened──────────────────────────► service.opened(conn)   (ws:// request)
//!   decode/encode ─ cx.raise_event() ─► connection ─► service.event(conn)
//!                                                      takes the event from the protocol state
//!                                                      (WebSocket handshake/ping/close, HTTP file)
//! ```
//!
//! Each built-in protocol with connection-side work has one service, made with the worker (or
//! the outgoing connection) and shared by its connections: [`websocket`] for `websocket://` and
//! `ws://`, [`http`] for `http://`.

use std::any::Any;
use std::rc::Rc;

pub(crate) use crate::connection::service::{Service, ServiceRef};
use crate::protocol::{Http, Protocol, WebSocket, Ws};

pub mod http;
pub(crate) mod websocket;

/// The service of a built-in protocol, `None` for protocols without one (custom ones included).
pub(crate) fn for_protocol<P: Protocol>(protocol: &P) -> Option<ServiceRef<P>> {
    let p: &dyn Any = protocol;
    let service: Box<dyn Any> = if p.is::<WebSocket>() {
        Box::new(Rc::new(websocket::ServerService::default()) as ServiceRef<WebSocket>)
    } else if p.is::<Ws>() {
        Box::new(Rc::new(websocket::ClientService::default()) as ServiceRef<Ws>)
    } else if p.is::<Http>() {
        Box::new(Rc::new(http::HttpService::default()) as ServiceRef<Http>)
    } else {
        return None;
    };
    service.downcast::<ServiceRef<P>>().ok().map(|s| *s)
}

/// The concrete service `S` of a connection or worker, if it has that one.
pub(crate) fn concrete<P: Protocol, S: 'static>(service: Option<&ServiceRef<P>>) -> Option<&S> {
    service?.as_any().downcast_ref::<S>()
}
