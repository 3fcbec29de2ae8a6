//! One message to many connections, encoded once.
//!
//! Each recipient's protocol state names the encoding it can share
//! ([`Protocol::share_key`]): the first recipient with a key has the message built
//! ([`Protocol::encode_shared`]) and frozen into `Bytes`; every other recipient with that key
//! gets the same bytes queued (a reference count, no copy). A recipient without a key (a
//! WebSocket still in its handshake, a protocol that shares nothing) encodes on its own, as
//! `send` does. Queueing is the connection's own: its send buffer limit, `on_buffer_full`,
//! `on_error(SendBufferFull)` and `on_buffer_drain` apply per recipient, and sends of one loop
//! tick reach each socket in one write.

use bytes::{Bytes, BytesMut};

use super::{SendResult, Status, TcpConnection};
use crate::protocol::Protocol;

/// Sends `msg` to every connection of `conns`, building its bytes once per kind of recipient
/// (see [`Protocol::share_key`]) and sharing them; returns how many connections accepted it
/// (not closing, send buffer not full).
///
/// ```no_run
/// use std::cell::RefCell;
/// use std::rc::Rc;
/// use workerman::{TcpConnection, Worker, protocol::WebSocket};
///
/// let room: Rc<RefCell<Vec<TcpConnection<WebSocket>>>> = Rc::default();
/// let ws = Worker::<WebSocket>::new("websocket://0.0.0.0:8000").unwrap();
/// let r = room.clone();
/// ws.on_connect(move |conn| r.borrow_mut().push(conn.clone()));
/// let r = room.clone();
/// ws.on_message(move |_conn, msg| {
///     workerman::broadcast(r.borrow().iter(), msg.as_text().unwrap_or_default());
/// });
/// ```
pub fn broadcast<'c, 'a, P, M>(conns: impl IntoIterator<Item = &'c TcpConnection<P>>, msg: M) -> usize
where
    P: Protocol,
    M: Into<P::Outgoing<'a>> + Clone,
{
    // (key, its bytes; None = this message cannot be shared)
    let mut built: Vec<(u32, Option<Bytes>)> = Vec::new();
    let mut sent = 0;
    for conn in conns {
        let key = {
            let st = conn.inner.st.borrow();
            if matches!(st.status, Status::Closing | Status::Closed) {
                continue;
            }
            conn.inner.protocol.share_key(&st.proto)
        };
        let shared = key.and_then(|key| {
            let at = match built.iter().position(|(k, _)| *k == key) {
                Some(at) => at,
                None => {
                    let mut out = BytesMut::new();
                    let ok = conn.inner.protocol.encode_shared(msg.clone().into(), key, &mut out);
                    built.push((key, ok.then(|| out.freeze())));
                    built.len() - 1
                }
            };
            built[at].1.as_ref()
        });
        let result = match shared {
            Some(bytes) => conn.send_bytes_ref(bytes),
            None => conn.send(msg.clone()),
        };
        if result != SendResult::Failed {
            sent += 1;
        }
    }
    sent
}
