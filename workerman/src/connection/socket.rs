//! The socket under a connection, for the application: its address family and its file
//! descriptor (to set socket options the crate does not wrap).

use std::os::fd::{AsRawFd, RawFd};

use super::TcpConnection;
use crate::protocol::Protocol;

impl<P: Protocol> TcpConnection<P> {
    /// Whether the peer's address is IPv4 (Workerman's `isIpV4`). An IPv4 client of a `[::]`
    /// listener has an IPv4-mapped IPv6 address (`::ffff:1.2.3.4`): that counts as IPv6, as
    /// in Workerman. `false` for unix sockets and before an outgoing connection connects.
    pub fn is_ipv4(&self) -> bool {
        self.remote_address().is_some_and(|a| a.is_ipv4())
    }

    /// Whether the peer's address is IPv6 (Workerman's `isIpV6`).
    pub fn is_ipv6(&self) -> bool {
        self.remote_address().is_some_and(|a| a.is_ipv6())
    }

    /// The socket's file descriptor (under TLS, the TCP socket's), while the connection has one:
    /// `None` before an outgoing connection is connected and after close. For socket options
    /// (`setsockopt` through `socket2::SockRef`, `libc`); reading or writing it directly would
    /// bypass the connection's buffers. Workerman's `getSocket()`.
    ///
    /// ```no_run
    /// # use workerman::{Worker, protocol::Text};
    /// # let worker = Worker::<Text>::new("text://0.0.0.0:2348").unwrap();
    /// use std::os::fd::BorrowedFd;
    /// worker.on_connect(|conn| {
    ///     if let Some(fd) = conn.raw_fd() {
    ///         // SAFETY: the descriptor stays open while `conn` is connected.
    ///         let fd = unsafe { BorrowedFd::borrow_raw(fd) };
    ///         let _ = socket2::SockRef::from(&fd).set_keepalive(true);
    ///     }
    /// });
    /// ```
    pub fn raw_fd(&self) -> Option<RawFd> {
        self.inner.io.borrow().as_ref().map(|io| io.raw_fd())
    }
}

/// The connection's file descriptor, `-1` while it has no socket (see
/// [`TcpConnection::raw_fd`], which says so with `None`).
impl<P: Protocol> AsRawFd for TcpConnection<P> {
    fn as_raw_fd(&self) -> RawFd {
        self.raw_fd().unwrap_or(-1)
    }
}
