//! The public small types of connections: status, send outcome, errors.

use std::fmt;

/// Where a connection is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// An outgoing connection not connected yet.
    Connecting,
    /// Open for reading and writing.
    Established,
    /// `close` was called: flushing what is queued, then closing.
    Closing,
    /// Closed; sends fail.
    Closed,
}

impl Status {
    /// Workerman's name for the status (`ESTABLISHED`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Connecting => "CONNECTING",
            Status::Established => "ESTABLISHED",
            Status::Closing => "CLOSING",
            Status::Closed => "CLOSED",
        }
    }
}

/// The three outcomes of [`TcpConnection::send`] (Workerman's `true` / `null` / `false`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendResult {
    /// Everything was handed to the kernel.
    Written,
    /// Queued in the connection's send buffer; it goes out as the peer reads.
    Queued,
    /// Not sent: the connection is closing or closed, or its send buffer was already full.
    Failed,
}

/// What `on_error` reports.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConnectionError {
    /// An outgoing connection could not be established (Workerman code 1).
    ConnectFailed(String),
    /// A send was dropped because the send buffer was already at `max_send_buffer_size` (code 2).
    SendBufferFull,
    /// A write failed because the peer is gone; the connection is closed (code 2).
    ClientClosed,
}

impl ConnectionError {
    /// Workerman's numeric code: 1 connect failure, 2 send failure.
    pub fn code(&self) -> u32 {
        match self {
            ConnectionError::ConnectFailed(_) => 1,
            ConnectionError::SendBufferFull | ConnectionError::ClientClosed => 2,
        }
    }
}

impl fmt::Display for ConnectionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionError::ConnectFailed(why) => f.write_str(why),
            ConnectionError::SendBufferFull => f.write_str("send buffer full and drop package"),
            ConnectionError::ClientClosed => f.write_str("client closed"),
        }
    }
}

impl std::error::Error for ConnectionError {}
