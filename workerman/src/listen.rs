//! Building listening sockets with Workerman's options (used by the master before spawning, and
//! by worker processes for `reuse_port` or `listen()`).

use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use socket2::{Domain, Protocol, SockRef, Socket, TcpKeepalive, Type};

use crate::address::Address;
use crate::error::{Error, Result};

/// TCP keepalive idle time and probe interval set on listeners (inherited by accepted sockets).
pub const TCP_KEEPALIVE_INTERVAL: Duration = Duration::from_secs(55);

/// Binds and listens on `addr` (the first address its host resolves to).
pub(crate) fn bind_tcp(addr: &Address, reuse_port: bool, backlog: i32) -> Result<TcpListener> {
    let sa = *addr.socket_addrs()?.first().expect("socket_addrs is never empty");
    bind_tcp_addr(sa, reuse_port, backlog).map_err(|source| Error::Listen {
        address: addr.to_string(),
        source,
    })
}

fn bind_tcp_addr(sa: SocketAddr, reuse_port: bool, backlog: i32) -> std::io::Result<TcpListener> {
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
