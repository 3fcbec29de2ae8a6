//! The socket under a connection, driven by readiness (no I/O inside protocols).
//!
//! Streams (TCP, Unix, TLS over TCP) and datagram sockets (UDP) behind one interface:
//!
//! * reads go through `poll_read`, which treats a short read as "drained" and clears readiness,
//!   so a request/response exchange costs one read per message, not a second one returning
//!   `EAGAIN`; a datagram socket delivers one datagram per read;
//! * `try_write` writes at once on a shared reference (plain sockets), so any callback can
//!   write without waiting for the connection's task; TLS always goes through the task, which
//!   uses `poll_write` + `poll_flush` (rustls keeps encrypted bytes of its own until flushed).

use std::cell::RefCell;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use bytes::BytesMut;
use tokio::io::AsyncWrite;
use tokio::net::{TcpStream, UdpSocket, UnixStream};

/// A connected socket. `RefCell`s are borrowed mutably only inside the `poll_*` methods, which
/// call no user code.
pub(crate) enum Io {
    Tcp(RefCell<TcpStream>),
    Unix(RefCell<UnixStream>),
    TlsServer(Box<RefCell<tokio_rustls::server::TlsStream<TcpStream>>>),
    TlsClient(Box<RefCell<tokio_rustls::client::TlsStream<TcpStream>>>),
    /// A UDP socket: `peer` set = the reply handle of one received datagram (never read);
    /// unset = a connected client socket.
    Udp {
        socket: Rc<UdpSocket>,
        peer: Option<SocketAddr>,
    },
}

impl Io {
    pub fn tcp(stream: TcpStream) -> Io {
        Io::Tcp(RefCell::new(stream))
    }

    /// The transport's name, as `connections` shows it.
    pub fn transport(&self) -> &'static str {
        match self {
            Io::Tcp(_) => "tcp",
            Io::Unix(_) => "unix",
            Io::TlsServer(_) | Io::TlsClient(_) => "ssl",
            Io::Udp { .. } => "udp",
        }
    }

    /// Reads into `buf`'s spare capacity; `Ok(0)` is end of stream (never for datagrams).
    pub fn poll_read_buf(&self, cx: &mut Context<'_>, buf: &mut BytesMut) -> Poll<io::Result<usize>> {
        match self {
            Io::Tcp(s) => tokio_util::io::poll_read_buf(Pin::new(&mut *s.borrow_mut()), cx, buf),
            Io::Unix(s) => tokio_util::io::poll_read_buf(Pin::new(&mut *s.borrow_mut()), cx, buf),
            Io::TlsServer(s) => tokio_util::io::poll_read_buf(Pin::new(&mut *s.borrow_mut()), cx, buf),
            Io::TlsClient(s) => tokio_util::io::poll_read_buf(Pin::new(&mut *s.borrow_mut()), cx, buf),
            Io::Udp { socket, peer: None } => loop {
                match socket.poll_recv_ready(cx) {
                    Poll::Ready(Ok(())) => match socket.try_recv_buf(buf) {
                        Ok(0) => continue,
                        Ok(n) => return Poll::Ready(Ok(n)),
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
                        // A previous send got an ICMP "port unreachable": not fatal for UDP.
                        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                        Err(e) => return Poll::Ready(Err(e)),
                    },
                    other => return other.map(|r| r.map(|()| 0)),
                }
            },
            Io::Udp { .. } => Poll::Pending,
        }
    }

    /// Writes some of `buf` (a datagram socket sends all of it as one datagram).
    pub fn poll_write(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self {
            Io::Tcp(s) => Pin::new(&mut *s.borrow_mut()).poll_write(cx, buf),
            Io::Unix(s) => Pin::new(&mut *s.borrow_mut()).poll_write(cx, buf),
            Io::TlsServer(s) => Pin::new(&mut *s.borrow_mut()).poll_write(cx, buf),
            Io::TlsClient(s) => Pin::new(&mut *s.borrow_mut()).poll_write(cx, buf),
            Io::Udp {
                socket,
                peer: Some(peer),
            } => socket.poll_send_to(cx, buf, *peer),
            Io::Udp { socket, peer: None } => socket.poll_send(cx, buf),
        }
    }

    /// Writes some of `bufs`, in order (streams only: datagram sockets never get more than one
    /// buffer, see `SendBuf`).
    pub fn poll_write_vectored(&self, cx: &mut Context<'_>, bufs: &[io::IoSlice<'_>]) -> Poll<io::Result<usize>> {
        match self {
            Io::Tcp(s) => Pin::new(&mut *s.borrow_mut()).poll_write_vectored(cx, bufs),
            Io::Unix(s) => Pin::new(&mut *s.borrow_mut()).poll_write_vectored(cx, bufs),
            Io::TlsServer(s) => Pin::new(&mut *s.borrow_mut()).poll_write_vectored(cx, bufs),
            Io::TlsClient(s) => Pin::new(&mut *s.borrow_mut()).poll_write_vectored(cx, bufs),
            Io::Udp { .. } => self.poll_write(cx, bufs.first().map_or(&[][..], |b| &b[..])),
        }
    }

    /// Writes some of `bufs` now, in order, in one system call (`writev`) if the socket can take
    /// them; `WouldBlock` otherwise (always, for TLS).
    pub fn try_write_vectored(&self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        match self {
            Io::Tcp(s) => s.borrow().try_write_vectored(bufs),
            Io::Unix(s) => s.borrow().try_write_vectored(bufs),
            _ => self.try_write(bufs.first().map_or(&[][..], |b| &b[..])),
        }
    }

    /// Pushes out bytes the transport holds itself (TLS records).
    pub fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Io::TlsServer(s) => Pin::new(&mut *s.borrow_mut()).poll_flush(cx),
            Io::TlsClient(s) => Pin::new(&mut *s.borrow_mut()).poll_flush(cx),
            _ => Poll::Ready(Ok(())),
        }
    }

    /// Writes now if the socket can take it; `WouldBlock` otherwise (always, for TLS).
    pub fn try_write(&self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Io::Tcp(s) => s.borrow().try_write(buf),
            Io::Unix(s) => s.borrow().try_write(buf),
            Io::TlsServer(_) | Io::TlsClient(_) => Err(io::ErrorKind::WouldBlock.into()),
            // Straight to the kernel: tokio's `try_send*` refuse until the reactor has seen the
            // socket writable, and a datagram either fits in the socket buffer or is dropped.
            Io::Udp {
                socket,
                peer: Some(peer),
            } => socket2::SockRef::from(&**socket).send_to(buf, &(*peer).into()),
            Io::Udp { socket, peer: None } => socket2::SockRef::from(&**socket).send(buf),
        }
    }

    pub fn peer_addr(&self) -> Option<SocketAddr> {
        match self {
            Io::Tcp(s) => s.borrow().peer_addr().ok(),
            Io::TlsServer(s) => s.borrow().get_ref().0.peer_addr().ok(),
            Io::TlsClient(s) => s.borrow().get_ref().0.peer_addr().ok(),
            Io::Unix(_) => None,
            Io::Udp { peer: Some(p), .. } => Some(*p),
            Io::Udp { socket, peer: None } => socket.peer_addr().ok(),
        }
    }

    /// Half-closes the socket (`shutdown(SHUT_WR)`: the peer reads end of stream, and may still
    /// send). `Ok(false)` where there is no plain half-close: TLS (its close would need a
    /// close_notify first) and UDP.
    pub fn shutdown_write(&self) -> io::Result<bool> {
        let how = std::net::Shutdown::Write;
        match self {
            Io::Tcp(s) => socket2::SockRef::from(&*s.borrow()).shutdown(how).map(|_| true),
            Io::Unix(s) => socket2::SockRef::from(&*s.borrow()).shutdown(how).map(|_| true),
            Io::TlsServer(_) | Io::TlsClient(_) | Io::Udp { .. } => Ok(false),
        }
    }

    /// The socket's file descriptor (under TLS, the TCP socket's).
    pub fn raw_fd(&self) -> std::os::fd::RawFd {
        use std::os::fd::AsRawFd;
        match self {
            Io::Tcp(s) => s.borrow().as_raw_fd(),
            Io::Unix(s) => s.borrow().as_raw_fd(),
            Io::TlsServer(s) => s.borrow().get_ref().0.as_raw_fd(),
            Io::TlsClient(s) => s.borrow().get_ref().0.as_raw_fd(),
            Io::Udp { socket, .. } => socket.as_raw_fd(),
        }
    }

    /// What the TLS handshake settled; `None` for plain transports.
    pub fn tls_info(&self) -> Option<crate::tls::TlsInfo> {
        match self {
            Io::TlsServer(s) => {
                let s = s.borrow();
                let conn = s.get_ref().1;
                Some(crate::tls::TlsInfo::new(conn, conn.server_name()))
            }
            Io::TlsClient(s) => Some(crate::tls::TlsInfo::new(s.borrow().get_ref().1, None)),
            _ => None,
        }
    }

    pub fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Io::Tcp(s) => s.borrow().local_addr().ok(),
            Io::TlsServer(s) => s.borrow().get_ref().0.local_addr().ok(),
            Io::TlsClient(s) => s.borrow().get_ref().0.local_addr().ok(),
            Io::Unix(_) => None,
            Io::Udp { socket, .. } => socket.local_addr().ok(),
        }
    }
}
