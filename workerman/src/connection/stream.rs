//! The socket under a connection, driven by readiness (no I/O inside protocols).

use std::io;
use std::net::SocketAddr;

use bytes::BytesMut;
use tokio::net::TcpStream;

/// A connected stream socket.
pub(crate) enum Io {
    Tcp(TcpStream),
}

impl Io {
    pub async fn readable(&self) -> io::Result<()> {
        match self {
            Io::Tcp(s) => s.readable().await,
        }
    }

    pub async fn writable(&self) -> io::Result<()> {
        match self {
            Io::Tcp(s) => s.writable().await,
        }
    }

    pub fn try_read_buf(&self, buf: &mut BytesMut) -> io::Result<usize> {
        match self {
            Io::Tcp(s) => s.try_read_buf(buf),
        }
    }

    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Io::Tcp(s) => s.try_write(buf),
        }
    }

    pub fn peer_addr(&self) -> Option<SocketAddr> {
        match self {
            Io::Tcp(s) => s.peer_addr().ok(),
        }
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Io::Tcp(s) => s.local_addr().ok(),
        }
    }
}
