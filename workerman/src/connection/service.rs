//! The connection's side of the protocol/service split: what a connection calls besides its
//! protocol. Implemented by the built-in protocols' services (`crate::service`); a connection
//! holds its protocol's service (if any) with its callbacks.

use std::any::Any;
use std::rc::Rc;

use super::TcpConnection;
use crate::protocol::Protocol;

/// What a connection calls besides its protocol: when it is established, and when a protocol
/// call raised an event.
pub(crate) trait Service<P: Protocol> {
    /// The connection is established (accepted, or connected; again after each reconnect),
    /// before the user's `on_connect`.
    fn opened(&self, conn: &TcpConnection<P>) {
        let _ = conn;
    }

    /// The process is stopping or reloading and closes this connection: say goodbye first
    /// (WebSocket: a `1001 Going Away` close frame). The connection is closed after flushing.
    fn going_away(&self, conn: &TcpConnection<P>) {
        let _ = conn;
    }

    /// A protocol call raised an event ([`crate::protocol::Context::raise_event`]); it waits in
    /// the protocol state.
    fn event(&self, conn: &TcpConnection<P>);

    /// For reaching the concrete service (to set its hooks).
    fn as_any(&self) -> &dyn Any;
}

/// A shared service.
pub(crate) type ServiceRef<P> = Rc<dyn Service<P>>;
