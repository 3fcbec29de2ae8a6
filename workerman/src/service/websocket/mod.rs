//! The WebSocket service: what `websocket://` servers and `ws://` clients do with a connection
//! besides framing — the opening handshake's reply or request, the `on_websocket_*` hooks,
//! automatic pongs, the server heartbeat, the client's ping interval and close timer. The codec
//! (`crate::protocol::websocket`) leaves typed events in its state; these take them.

use std::rc::Rc;

use bytes::Bytes;

use crate::connection::TcpConnection;
use crate::protocol::Protocol;

mod client;
mod heartbeat;
mod server;

pub(crate) use client::ClientService;
pub(crate) use server::ServerService;

type PayloadFn<P> = Rc<dyn Fn(&TcpConnection<P>, Bytes)>;
type CloseFn<P> = Rc<dyn Fn(&TcpConnection<P>, Option<u16>, &str)>;

/// Hooks of one role; `C` is its handshake hook.
pub(crate) struct Hooks<P: Protocol, C> {
    connect: Option<C>,
    ping: Option<PayloadFn<P>>,
    pong: Option<PayloadFn<P>>,
    close: Option<CloseFn<P>>,
}

impl<P: Protocol, C> Default for Hooks<P, C> {
    fn default() -> Self {
        Hooks {
            connect: None,
            ping: None,
            pong: None,
            close: None,
        }
    }
}
