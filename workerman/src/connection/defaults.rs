//! Process-wide defaults for connection limits: Workerman's
//! `TcpConnection::$defaultMaxSendBufferSize` and `TcpConnection::$defaultMaxPackageSize`.
//!
//! They apply to every connection of this process that has no limit of its own: accepted
//! connections of a worker without `set_max_send_buffer_size` / `set_max_package_size`, and
//! outgoing connections ([`AsyncTcpConnection`](super::AsyncTcpConnection),
//! [`AsyncUdpConnection`](super::AsyncUdpConnection)), read when each connection is created.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::{DEFAULT_MAX_PACKAGE_SIZE, DEFAULT_MAX_SEND_BUFFER_SIZE, TcpConnection};
use crate::protocol::Protocol;

static MAX_SEND_BUFFER_SIZE: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_SEND_BUFFER_SIZE);
static MAX_PACKAGE_SIZE: AtomicUsize = AtomicUsize::new(DEFAULT_MAX_PACKAGE_SIZE);

/// The current process-wide send buffer limit, in bytes.
pub(crate) fn max_send_buffer_size() -> usize {
    MAX_SEND_BUFFER_SIZE.load(Ordering::Relaxed)
}

/// The current process-wide package size limit, in bytes.
pub(crate) fn max_package_size() -> usize {
    MAX_PACKAGE_SIZE.load(Ordering::Relaxed)
}

impl<P: Protocol> TcpConnection<P> {
    /// Sets the send buffer limit, in bytes, of every connection of this process created from
    /// now on without a limit of its own (default 1 MiB; Workerman's
    /// `TcpConnection::$defaultMaxSendBufferSize`): accepted connections of workers that did not
    /// call `set_max_send_buffer_size`, and outgoing connections. Call it at the top of `main`
    /// to apply everywhere, or in `on_worker_start` for one process.
    ///
    /// ```no_run
    /// use workerman::{TcpConnection, protocol::Tcp};
    /// TcpConnection::<Tcp>::set_default_max_send_buffer_size(8 * 1024 * 1024);
    /// TcpConnection::<Tcp>::set_default_max_package_size(64 * 1024);
    /// ```
    ///
    /// The protocol parameter does not matter: the default is one for the whole process.
    pub fn set_default_max_send_buffer_size(bytes: usize) {
        MAX_SEND_BUFFER_SIZE.store(bytes, Ordering::Relaxed);
    }

    /// The same for the largest packet a connection accepts, in bytes (default 10 MiB;
    /// Workerman's `TcpConnection::$defaultMaxPackageSize`).
    pub fn set_default_max_package_size(bytes: usize) {
        MAX_PACKAGE_SIZE.store(bytes, Ordering::Relaxed);
    }

    /// The process-wide send buffer limit new connections start with.
    pub fn default_max_send_buffer_size() -> usize {
        max_send_buffer_size()
    }

    /// The process-wide package size limit new connections start with.
    pub fn default_max_package_size() -> usize {
        max_package_size()
    }
}
