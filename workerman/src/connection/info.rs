//! What a connection tells about itself: id, worker, addresses, counters and size limits.

use std::net::SocketAddr;

use super::{Status, TcpConnection};
use crate::protocol::Protocol;
use crate::worker::Worker;

impl<P: Protocol> TcpConnection<P> {
    /// Per-process id, from 1 (ids repeat across processes; prefix with the worker id if needed).
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// The worker that accepted this connection: its other connections, its settings,
    /// [`broadcast`](Worker::broadcast).
    ///
    /// ```no_run
    /// # use workerman::{Worker, protocol::Text};
    /// let chat = Worker::<Text>::new("text://0.0.0.0:2348").unwrap();
    /// chat.on_message(|conn, line| {
    ///     conn.worker().broadcast(line.as_str());
    /// });
    /// ```
    ///
    /// # Panics
    /// On an outgoing connection ([`AsyncTcpConnection`](super::AsyncTcpConnection)), which no
    /// worker accepted; [`is_outgoing`](Self::is_outgoing) tells them apart.
    pub fn worker(&self) -> &Worker<P> {
        self.accepted_by()
            .expect("TcpConnection::worker() on an outgoing connection, which no worker accepted")
    }

    /// Whether this is an outgoing connection ([`AsyncTcpConnection`](super::AsyncTcpConnection),
    /// [`AsyncUdpConnection`](super::AsyncUdpConnection)) rather than one a worker accepted.
    pub fn is_outgoing(&self) -> bool {
        self.inner.mode.client().is_some()
    }

    /// The worker that accepted this connection; `None` for outgoing connections.
    pub(crate) fn accepted_by(&self) -> Option<&Worker<P>> {
        self.inner.mode.worker()
    }

    /// The protocol instance framing this connection.
    pub fn protocol(&self) -> &P {
        &self.inner.protocol
    }

    /// Where the connection is in its life.
    pub fn status(&self) -> Status {
        self.inner.st.borrow().status
    }

    /// The peer's address.
    pub fn remote_address(&self) -> Option<SocketAddr> {
        self.inner.peer.get()
    }

    /// The peer's IP as text (`127.0.0.1`, `::1`), empty when unknown.
    pub fn remote_ip(&self) -> String {
        self.remote_address().map(|a| a.ip().to_string()).unwrap_or_default()
    }

    /// The peer's port, 0 when unknown.
    pub fn remote_port(&self) -> u16 {
        self.remote_address().map(|a| a.port()).unwrap_or(0)
    }

    /// This side's address.
    pub fn local_address(&self) -> Option<SocketAddr> {
        self.inner.local.get()
    }

    /// This side's IP as text, empty when unknown.
    pub fn local_ip(&self) -> String {
        self.local_address().map(|a| a.ip().to_string()).unwrap_or_default()
    }

    /// This side's port, 0 when unknown.
    pub fn local_port(&self) -> u16 {
        self.local_address().map(|a| a.port()).unwrap_or(0)
    }

    /// Bytes received so far.
    pub fn bytes_read(&self) -> u64 {
        self.inner.st.borrow().bytes_read
    }

    /// Bytes handed to the kernel so far.
    pub fn bytes_written(&self) -> u64 {
        self.inner.st.borrow().bytes_written
    }

    /// Bytes waiting in the send buffer.
    pub fn send_buffer_len(&self) -> usize {
        self.inner.st.borrow().send.len()
    }

    /// Bytes received but not yet delivered (a partial packet).
    pub fn recv_buffer_len(&self) -> usize {
        self.inner.st.borrow().recv.len()
    }

    /// The send buffer limit, in bytes; at or past it `on_buffer_full` fires and further sends fail.
    pub fn max_send_buffer_size(&self) -> usize {
        self.inner.st.borrow().limits.max_send_buffer_size
    }

    /// Sets the send buffer limit for this connection, in bytes.
    pub fn set_max_send_buffer_size(&self, bytes: usize) {
        self.inner.st.borrow_mut().limits.max_send_buffer_size = bytes;
    }

    /// The largest packet accepted, in bytes; a bigger one closes the connection.
    pub fn max_package_size(&self) -> usize {
        self.inner.st.borrow().limits.max_package_size
    }

    /// Sets the largest packet accepted on this connection, in bytes.
    pub fn set_max_package_size(&self, bytes: usize) {
        self.inner.st.borrow_mut().limits.max_package_size = bytes;
    }
}
