//! [`UdpConnection`]: the reply handle of a datagram received by a `udp://` worker.
//!
//! UDP has no connections: each datagram is framed on its own and every message in it is
//! delivered to the worker's `on_udp_message` with a handle bound to the sender. The handle is
//! not live (not counted in `status`, not listed by `connections`, no task, no `on_connect` /
//! `on_close`); each send is one datagram to the sender, sent at once or dropped.

use std::fmt;
use std::net::SocketAddr;
use std::rc::Rc;

use super::{Callbacks, Io, MessageFn, Mode, SendResult, TcpConnection, pool};
use crate::protocol::Protocol;
use crate::worker::Worker;

pub(crate) type UdpMessageFn<P> = Rc<dyn Fn(&UdpConnection<P>, <P as Protocol>::Message)>;

/// The sender of a datagram, as seen by a UDP worker's
/// [`on_udp_message`](crate::Worker::on_udp_message). Clone it to keep replying later (from a
/// timer, for example).
///
/// ```no_run
/// use workerman::{Worker, protocol::Text};
///
/// let worker = Worker::<Text>::new("udp://0.0.0.0:2351").unwrap();
/// worker.on_udp_message(|peer, line| {
///     peer.send(format!("{} said {line}", peer.remote_ip()));
/// });
/// ```
pub struct UdpConnection<P: Protocol> {
    conn: TcpConnection<P>,
}

impl<P: Protocol> Clone for UdpConnection<P> {
    fn clone(&self) -> Self {
        UdpConnection {
            conn: self.conn.clone(),
        }
    }
}

impl<P: Protocol> fmt::Debug for UdpConnection<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UdpConnection")
            .field("remote", &self.remote_address())
            .finish()
    }
}

impl<P: Protocol> UdpConnection<P> {
    /// Frames one datagram received by `worker` from `peer` and delivers its messages to `on_message`.
    pub(crate) fn receive(
        worker: &Worker<P>,
        socket: Rc<tokio::net::UdpSocket>,
        peer: SocketAddr,
        datagram: &[u8],
        on_message: Option<&UdpMessageFn<P>>,
    ) {
        let (protocol, parts, limits) = worker.connection_parts();
        let io = Io::Udp {
            socket,
            peer: Some(peer),
        };
        let mut cb = Callbacks {
            service: parts.service,
            ..Callbacks::default()
        };
        if let Some(f) = on_message.cloned() {
            let deliver: MessageFn<P> = Rc::new(move |conn, msg| f(&UdpConnection { conn: conn.clone() }, msg));
            cb.on_message = Some(deliver);
        }
        let conn = TcpConnection::build(protocol, Mode::UdpReply(worker.clone()), Some(io), cb, limits);
        {
            let mut st = conn.inner.st.borrow_mut();
            if st.recv.capacity() == 0 {
                st.recv = pool::take_read();
            }
            st.recv.extend_from_slice(datagram);
            st.bytes_read += datagram.len() as u64;
        }
        conn.dispatch();
    }

    /// Encodes `msg` with the worker's protocol and sends it to the peer as one datagram:
    /// [`SendResult::Written`], or [`SendResult::Failed`] when the kernel refused it (or after
    /// [`close`](Self::close)).
    pub fn send<'a>(&self, msg: impl Into<P::Outgoing<'a>>) -> SendResult {
        self.conn.send(msg)
    }

    /// Sends bytes as they are, as one datagram.
    pub fn send_raw(&self, bytes: &[u8]) -> SendResult {
        self.conn.send_raw(bytes)
    }

    /// Sends nothing more through this handle (UDP tells the peer nothing).
    pub fn close(&self) {
        self.conn.close();
    }

    /// The sender's address.
    pub fn remote_address(&self) -> Option<SocketAddr> {
        self.conn.remote_address()
    }

    /// The sender's IP as text.
    pub fn remote_ip(&self) -> String {
        self.conn.remote_ip()
    }

    /// The sender's port.
    pub fn remote_port(&self) -> u16 {
        self.conn.remote_port()
    }

    /// The address the datagram was received on.
    pub fn local_address(&self) -> Option<SocketAddr> {
        self.conn.local_address()
    }

    /// The worker that received the datagram.
    pub fn worker(&self) -> &Worker<P> {
        self.conn
            .inner
            .mode
            .worker()
            .expect("a UDP reply handle belongs to a worker")
    }

    /// The protocol instance framing the datagrams.
    pub fn protocol(&self) -> &P {
        self.conn.protocol()
    }
}
