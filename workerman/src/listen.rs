//! Building listening sockets with Workerman's options (used by the master before spawning, and
//! by worker processes for `reuse_port` or `listen()`), for every transport.

use std::io;
use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::time::Duration;

use socket2::{Domain, Protocol, SockRef, Socket, TcpKeepalive, Type};

use crate::address::{Address, Target, Transport};
use crate::error::{Error, Result};

/// TCP keepalive idle time and probe interval set on listeners (inherited by accepted sockets).
pub const TCP_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(55);

/// A bound socket, ready to serve.
#[derive(Debug)]
pub(crate) enum Bound {
    /// TCP (also under TLS).
    Tcp(TcpListener),
    /// Unix domain stream socket.
    Unix(UnixListener),
    /// UDP: bound, not connected.
    Udp(UdpSocket),
}

impl Bound {
    pub fn as_raw_fd(&self) -> RawFd {
        match self {
            Bound::Tcp(l) => l.as_raw_fd(),
            Bound::Unix(l) => l.as_raw_fd(),
            Bound::Udp(s) => s.as_raw_fd(),
        }
    }

    /// Rebuilds the socket a worker process inherited, by the transport of its address.
    pub fn from_inherited(transport: Transport, fd: RawFd) -> Bound {
        match transport {
            Transport::Tcp | Transport::Ssl => Bound::Tcp(crate::sys::tcp_listener_from_fd(fd)),
            Transport::Unix => Bound::Unix(crate::sys::unix_listener_from_fd(fd)),
            Transport::Udp => Bound::Udp(crate::sys::udp_socket_from_fd(fd)),
        }
    }
}

/// Binds `addr` (the first address its host resolves to) for its transport.
/// `transport` may differ from the scheme's (`set_transport`); `ssl` binds TCP.
pub(crate) fn bind(addr: &Address, transport: Transport, reuse_port: bool, backlog: i32) -> Result<Bound> {
    let listen_err = |source| Error::Listen {
        address: addr.to_string(),
        source,
    };
    match (transport, addr.target()) {
        (Transport::Unix, Target::Unix(path)) => bind_unix(path, backlog).map(Bound::Unix).map_err(listen_err),
        (Transport::Udp, _) => {
            let sa = first(addr)?;
            bind_udp(sa, reuse_port).map(Bound::Udp).map_err(listen_err)
        }
        _ => {
            let sa = first(addr)?;
            bind_tcp_addr(sa, reuse_port, backlog)
                .map(Bound::Tcp)
                .map_err(listen_err)
        }
    }
}

fn first(addr: &Address) -> Result<SocketAddr> {
    Ok(*addr.socket_addrs()?.first().expect("socket_addrs is never empty"))
}

fn bind_tcp_addr(sa: SocketAddr, reuse_port: bool, backlog: i32) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(sa), Type::STREAM.cloexec(), Some(Protocol::TCP))?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    if sa.is_ipv6() {
        // `[::]` accepts IPv4 peers too, as in Workerman.
        let _ = socket.set_only_v6(false);
    }
    socket.set_tcp_nodelay(true)?;
    let keepalive = TcpKeepalive::new()
        .with_time(TCP_KEEPALIVE_INTERVAL)
        .with_interval(TCP_KEEPALIVE_INTERVAL)
        .with_retries(1);
    let _ = SockRef::from(&socket).set_tcp_keepalive(&keepalive);
    socket.bind(&sa.into())?;
    socket.listen(backlog)?;
    Ok(socket.into())
}

fn bind_udp(sa: SocketAddr, reuse_port: bool) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(sa), Type::DGRAM.cloexec(), Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    if reuse_port {
        socket.set_reuse_port(true)?;
    }
    if sa.is_ipv6() {
        let _ = socket.set_only_v6(false);
    }
    socket.bind(&sa.into())?;
    Ok(socket.into())
}

/// Binds a unix socket, replacing a stale socket file (one nobody listens on any more).
fn bind_unix(path: &Path, backlog: i32) -> io::Result<UnixListener> {
    if path.exists() {
        if UnixStream::connect(path).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::AddrInUse,
                "another process is listening on this socket",
            ));
        }
        std::fs::remove_file(path)?;
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let socket = Socket::new(Domain::UNIX, Type::STREAM.cloexec(), None)?;
    socket.bind(&socket2::SockAddr::unix(path)?)?;
    socket.listen(backlog)?;
    Ok(UnixListener::from(std::os::fd::OwnedFd::from(socket)))
}
