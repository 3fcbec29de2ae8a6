//! The socket under a connection, driven by readiness (no I/O inside protocols).
//!
//! Reads go through `AsyncRead::poll_read`, which treats a short read as "drained" and clears the
//! readiness, so a request/response exchange costs one read per message rather than a second read
//! that would only return `EAGAIN`. Writes use `try_write` on a shared reference, so any callback
//! can write without waiting for the connection's task.

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::BytesMut;
use tokio::net::TcpStream;

/// A connected stream socket.
pub(crate) enum Io {
    /// Borrowed mutably only inside `poll_read_buf`, which calls no user code.
    Tcp(RefCell<TcpStream>),
}

impl Io {
    pub fn tcp(stream: TcpStream) -> Io {
        Io::Tcp(RefCell::new(stream))
    }

    pub fn poll_write_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Io::Tcp(s) => s.borrow().poll_write_ready(cx),
        }
    }

    /// Reads into `buf`'s spare capacity; `Ok(0)` is end of stream.
    pub fn poll_read_buf(&self, cx: &mut Context<'_>, buf: &mut BytesMut) -> Poll<io::Result<usize>> {
        match self {
            Io::Tcp(s) => tokio_util::io::poll_read_buf(Pin::new(&mut *s.borrow_mut()), cx, buf),
        }
    }

    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Io::Tcp(s) => s.borrow().try_write(buf),
        }
    }

    pub fn peer_addr(&self) -> Option<SocketAddr> {
        match self {
            Io::Tcp(s) => s.borrow().peer_addr().ok(),
        }
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Io::Tcp(s) => s.borrow().local_addr().ok(),
        }
    }
}
