//! Outgoing connections: [`AsyncTcpConnection`] (TCP, TLS, Unix) and [`AsyncUdpConnection`].
//!
//! They are [`TcpConnection`]s with somewhere to connect to: the same send/buffer semantics, the
//! same callbacks, plus `connect`, `reconnect(delay)` and connect failures reported to `on_error`
//! (then `on_close`, unless `reconnect` is called from one of them). Sends made while connecting
//! are queued and written once connected. Names are resolved asynchronously.

use std::cell::{Cell, RefCell};
use std::net::SocketAddr;
use std::ops::Deref;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use tokio::net::{TcpSocket, UdpSocket, UnixStream};

use super::{Callbacks, ConnectionError, Io, Limits, Mode, Status, TcpConnection};
use crate::address::{Address, Target, Transport};
use crate::error::{Error, Result};
use crate::panic::guard;
use crate::protocol::Protocol;
use crate::stats;

/// Default for [`AsyncTcpConnection::set_connect_timeout`]: 30 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where and how an outgoing connection connects.
pub(crate) struct ClientInfo {
    address: Address,
    /// Path and query of the URL (`/` when it had none).
    uri: String,
    transport: Cell<Transport>,
    tls: RefCell<crate::tls::ClientTls>,
    proxy: RefCell<Option<super::proxy::Proxy>>,
    local: Cell<Option<SocketAddr>>,
    connect_timeout: Cell<Duration>,
    reconnect: RefCell<Option<tokio::task::AbortHandle>>,
}

impl ClientInfo {
    pub(crate) fn is_udp(&self) -> bool {
        self.transport.get() == Transport::Udp
    }
}

fn client_parts<P: Protocol>(address: &str) -> Result<(Address, String)> {
    let (authority, uri) = split_url(address);
    let addr = Address::parse(&authority).map_err(|e| match e {
        Error::Address { reason, .. } => Error::Address {
            address: address.into(),
            reason,
        },
        e => e,
    })?;
    // `wss://` is `ws://` over TLS (Address::parse already chose the ssl transport), as
    // `https://` is `http://`.
    let implied = match addr.scheme() {
        "wss" => "ws",
        "https" => "http",
        other => other,
    };
    if !addr.is_transport_scheme() && implied != P::SCHEME {
        return Err(Error::Address {
            address: address.into(),
            reason: format!(
                "the scheme `{}` does not match this connection's protocol `{}`",
                addr.scheme(),
                P::SCHEME
            ),
        });
    }
    Ok((addr, uri))
}

/// Splits a client URL into `scheme://host:port` (for [`Address::parse`]) and the request
/// target (path and query, `/` when absent; the fragment dropped): `ws://h:1/a?b` →
/// (`ws://h:1`, `/a?b`). A missing port is filled in for `ws` (80) and `wss` (443). Addresses
/// without a path, and `unix://` ones, pass through unchanged.
fn split_url(address: &str) -> (String, String) {
    let Some((scheme, rest)) = address.split_once("://") else {
        return (address.to_string(), "/".into());
    };
    if scheme.eq_ignore_ascii_case("unix") {
        return (address.to_string(), "/".into());
    }
    let host_end = if rest.starts_with('[') {
        rest.find(']').unwrap_or(0)
    } else {
        0
    };
    let cut = rest[host_end..]
        .find(['/', '?', '#'])
        .map_or(rest.len(), |i| host_end + i);
    let (authority, tail) = rest.split_at(cut);
    let tail = tail.split_once('#').map_or(tail, |(t, _)| t);
    let uri = match tail.chars().next() {
        None => "/".to_string(),
        Some('?') => format!("/{tail}"),
        Some(_) => tail.to_string(),
    };
    let has_port = match authority.rfind(']') {
        Some(i) => authority[i..].contains(':'),
        None => authority.contains(':'),
    };
    let default_port = match scheme.to_ascii_lowercase().as_str() {
        "ws" => Some(80),
        "wss" => Some(443),
        _ => None,
    };
    let authority = match default_port {
        Some(port) if !has_port && !authority.is_empty() => format!("{authority}:{port}"),
        _ => authority.to_string(),
    };
    (format!("{scheme}://{authority}"), uri)
}

fn build<P: Protocol>((addr, uri): (Address, String), protocol: P) -> TcpConnection<P> {
    let transport = addr.transport();
    let info = ClientInfo {
        address: addr,
        uri,
        transport: Cell::new(transport),
        tls: RefCell::new(crate::tls::ClientTls::default()),
        proxy: RefCell::new(None),
        local: Cell::new(None),
        connect_timeout: Cell::new(DEFAULT_CONNECT_TIMEOUT),
        reconnect: RefCell::new(None),
    };
    let callbacks = Callbacks {
        service: crate::service::for_protocol(&protocol),
        ..Callbacks::default()
    };
    // Counted once connecting: a connection that is never connected is not a live one.
    TcpConnection::build(
        Rc::new(protocol),
        Mode::Client(Box::new(info)),
        None,
        callbacks,
        Limits::default(),
    )
}

/// An outgoing stream connection (Workerman's `AsyncTcpConnection`): `tcp://`, `text://`,
/// `frame://` or any protocol's scheme; `ssl://` (or [`set_transport`](Self::set_transport)) for
/// TLS; `unix:///path`. Dereferences to [`TcpConnection`] for `send`, `close`, callbacks...
///
/// ```no_run
/// use std::time::Duration;
/// use workerman::connection::AsyncTcpConnection;
/// use workerman::protocol::Text;
///
/// // Inside a worker process (e.g. in on_worker_start):
/// let conn = AsyncTcpConnection::<Text>::new("text://127.0.0.1:2348").unwrap();
/// conn.on_connect(|c| {
///     c.send("hello");
/// });
/// conn.on_message(|_, line| println!("got {line}"));
/// conn.on_close(|c| c.reconnect(Duration::from_secs(1)));
/// conn.connect();
/// ```
pub struct AsyncTcpConnection<P: Protocol> {
    conn: TcpConnection<P>,
}

impl<P: Protocol> Clone for AsyncTcpConnection<P> {
    fn clone(&self) -> Self {
        AsyncTcpConnection {
            conn: self.conn.clone(),
        }
    }
}

impl<P: Protocol> Deref for AsyncTcpConnection<P> {
    type Target = TcpConnection<P>;
    fn deref(&self) -> &TcpConnection<P> {
        &self.conn
    }
}

impl<P: Protocol + Default> AsyncTcpConnection<P> {
    /// A connection to `address`, not connected yet (call [`connect`](TcpConnection::connect)).
    pub fn new(address: &str) -> Result<Self> {
        Self::with_protocol(address, P::default())
    }
}

impl<P: Protocol> AsyncTcpConnection<P> {
    /// A connection to `address` with a configured protocol instance.
    pub fn with_protocol(address: &str, protocol: P) -> Result<Self> {
        let addr = client_parts::<P>(address)?;
        if addr.0.transport() == Transport::Udp {
            return Err(Error::Address {
                address: address.into(),
                reason: "use AsyncUdpConnection for udp".into(),
            });
        }
        Ok(AsyncTcpConnection {
            conn: build(addr, protocol),
        })
    }

    /// The connection handle.
    pub fn connection(&self) -> &TcpConnection<P> {
        &self.conn
    }

    /// Called on each successful connect (also after a reconnect).
    pub fn on_connect(&self, f: impl Fn(&TcpConnection<P>) + 'static) {
        self.conn.inner.st.borrow_mut().cb.on_connect = Some(Rc::new(f));
    }

    /// Binds the local side to this address before connecting (Workerman's `bindto`).
    pub fn set_local_address(&self, addr: SocketAddr) {
        self.info().local.set(Some(addr));
    }

    /// `Transport::Ssl` for TLS (Workerman's `$connection->transport = 'ssl'`).
    pub fn set_transport(&self, transport: Transport) {
        self.info().transport.set(transport);
    }

    /// Trust the CA certificates in this PEM file instead of the system's roots (TLS).
    pub fn set_tls_ca(&self, path: impl Into<PathBuf>) {
        self.info().tls.borrow_mut().ca = Some(path.into());
    }

    /// The server name: sent in the handshake (SNI), and the name the server's certificate
    /// must carry (default: the host of the address). Set it when connecting by IP address to
    /// a server that picks its certificate by name.
    pub fn set_tls_server_name(&self, name: impl Into<String>) {
        self.info().tls.borrow_mut().server_name = Some(name.into());
    }

    /// Presents this certificate chain and key (PEM files) to servers that ask for a client
    /// certificate (mutual TLS).
    pub fn set_tls_client_cert(&self, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) {
        self.info().tls.borrow_mut().client_cert = Some(crate::tls::TlsFiles {
            cert: cert.into(),
            key: key.into(),
        });
    }

    /// Application protocols to offer through ALPN, most preferred first (`["h2", "http/1.1"]`);
    /// the one agreed is in [`TcpConnection::tls_info`].
    pub fn set_tls_alpn<S: AsRef<[u8]>>(&self, protocols: &[S]) {
        self.info().tls.borrow_mut().alpn = protocols.iter().map(|p| p.as_ref().to_vec()).collect();
    }

    /// **Dangerous**: accepts any server certificate — expired, self-signed, for another name.
    /// The connection is encrypted but the server is not authenticated, so anyone between the
    /// two can read and change everything (Workerman's `verify_peer => false`). For tests and
    /// closed networks only; prefer [`set_tls_ca`](Self::set_tls_ca) with the server's CA.
    pub fn danger_accept_invalid_certs(&self) {
        self.info().tls.borrow_mut().danger_accept_invalid_certs = true;
    }

    /// Connects through a proxy: `socks5://[user:pass@]host:port` (Workerman's `proxySocks5`)
    /// or `http://[user:pass@]host:port` for HTTP `CONNECT` (Workerman's `proxyHttp`); user
    /// and password percent-encoded. The proxy resolves the target's host name; TLS, the
    /// WebSocket handshake and the protocol then run through the tunnel. A proxy that refuses
    /// (bad credentials, a target it will not reach) is a connect failure: `on_error` gets
    /// `ConnectFailed` with the proxy's reason, then `on_close`.
    ///
    /// ```no_run
    /// # use workerman::{AsyncTcpConnection, protocol::Ws};
    /// let ws = AsyncTcpConnection::<Ws>::new("wss://example.com/feed").unwrap();
    /// ws.set_proxy("socks5://me:secret@127.0.0.1:1080").unwrap();
    /// ```
    ///
    /// # Errors
    /// An address that does not parse, with the reason (the password never shown).
    pub fn set_proxy(&self, url: &str) -> Result<()> {
        let proxy = super::proxy::Proxy::parse(url).map_err(|reason| Error::Address {
            address: self.info().address.to_string(),
            reason,
        })?;
        *self.info().proxy.borrow_mut() = Some(proxy);
        Ok(())
    }

    /// How long a connect (name resolution, TCP and TLS handshakes) may take (default 30 s).
    pub fn set_connect_timeout(&self, timeout: Duration) {
        self.info().connect_timeout.set(timeout);
    }

    fn info(&self) -> &ClientInfo {
        self.conn
            .inner
            .mode
            .client()
            .expect("an AsyncTcpConnection has client info")
    }
}

/// An outgoing UDP "connection" (Workerman's `AsyncUdpConnection`): `udp://host:port`, or a
/// protocol scheme with [`Transport::Udp`] set... `connect` binds a local socket and connects it
/// to the peer; each `send` is one datagram (a `send` before `connect` connects, as in
/// Workerman; sends made before the socket is connected are queued and leave one datagram
/// each, in order, once it is); each datagram received is framed
/// on its own and delivered to `on_message`. `close` fires `on_close` locally (UDP tells the peer nothing).
pub struct AsyncUdpConnection<P: Protocol> {
    conn: TcpConnection<P>,
}

impl<P: Protocol> Clone for AsyncUdpConnection<P> {
    fn clone(&self) -> Self {
        AsyncUdpConnection {
            conn: self.conn.clone(),
        }
    }
}

impl<P: Protocol> Deref for AsyncUdpConnection<P> {
    type Target = TcpConnection<P>;
    fn deref(&self) -> &TcpConnection<P> {
        &self.conn
    }
}

impl<P: Protocol + Default> AsyncUdpConnection<P> {
    /// A UDP socket for `address` (`udp://1.2.3.4:53`, or `text://...` for text datagrams).
    pub fn new(address: &str) -> Result<Self> {
        Self::with_protocol(address, P::default())
    }
}

impl<P: Protocol> AsyncUdpConnection<P> {
    /// A UDP socket for `address` with a configured protocol instance.
    pub fn with_protocol(address: &str, protocol: P) -> Result<Self> {
        let addr = client_parts::<P>(address)?;
        if matches!(addr.0.target(), Target::Unix(_)) {
            return Err(Error::Address {
                address: address.into(),
                reason: "UDP needs host:port".into(),
            });
        }
        let conn = build(addr, protocol);
        conn.inner.mode.client().expect("client").transport.set(Transport::Udp);
        Ok(AsyncUdpConnection { conn })
    }

    /// Called once the socket is connected.
    pub fn on_connect(&self, f: impl Fn(&TcpConnection<P>) + 'static) {
        self.conn.inner.st.borrow_mut().cb.on_connect = Some(Rc::new(f));
    }

    /// Binds the local side to this address.
    pub fn set_local_address(&self, addr: SocketAddr) {
        self.conn.inner.mode.client().expect("client").local.set(Some(addr));
    }
}

impl<P: Protocol> TcpConnection<P> {
    /// The request target of an outgoing connection's URL: path and query (`/chat?room=1`),
    /// `/` when the URL has none (Workerman's `getRemoteURI`). `None` for accepted connections.
    pub fn remote_uri(&self) -> Option<&str> {
        self.inner.mode.client().map(|c| c.uri.as_str())
    }

    /// The host an outgoing connection connects to, as written in its URL (a name or an IP
    /// literal, IPv6 without brackets; Workerman's `getRemoteHost`). `None` for accepted
    /// connections and unix sockets.
    pub fn remote_host(&self) -> Option<&str> {
        match self.inner.mode.client()?.address.target() {
            Target::Inet { host, .. } => Some(host),
            Target::Unix(_) => None,
        }
    }

    /// The port of an outgoing connection's URL (80 for `ws://`, 443 for `wss://` when none
    /// was written). `None` for accepted connections and unix sockets.
    pub fn remote_url_port(&self) -> Option<u16> {
        match self.inner.mode.client()?.address.target() {
            Target::Inet { port, .. } => Some(*port),
            Target::Unix(_) => None,
        }
    }

    /// Whether this outgoing connection uses TLS (`wss://`, `ssl://`, or `set_transport(Ssl)`).
    pub fn is_tls_client(&self) -> bool {
        self.inner
            .mode
            .client()
            .is_some_and(|c| c.transport.get() == Transport::Ssl)
    }

    /// Connects an outgoing connection ([`AsyncTcpConnection`], [`AsyncUdpConnection`]) in the
    /// background; `on_connect` or `on_error` + `on_close` tell how it went. No-op for accepted
    /// connections, and while connected.
    ///
    /// # Panics
    /// Outside a worker process's event loop.
    pub fn connect(&self) {
        if self.inner.mode.client().is_none() {
            return;
        }
        if self.status() == Status::Closed {
            self.revive();
        }
        if self.status() != Status::Connecting || self.inner.io.borrow().is_some() {
            return;
        }
        self.count_in();
        self.cancel_reconnect();
        tokio::task::spawn_local(self.clone().run_connect());
    }

    /// Connects again after `after` (typically from `on_close` or `on_error`); the callbacks are
    /// kept. Replaces a reconnect already scheduled.
    pub fn reconnect(&self, after: Duration) {
        let Some(info) = &self.inner.mode.client() else { return };
        // A stopping process does not start new connections (a client reconnecting from
        // on_close would otherwise keep a graceful stop or reload waiting forever).
        if stats::stopping() {
            return;
        }
        match self.status() {
            Status::Closed => self.revive(),
            Status::Connecting if self.inner.io.borrow().is_none() => {}
            // Connected: close this session first, keeping the callbacks.
            _ => {
                self.destroy_keeping_callbacks();
                self.revive();
            }
        }
        self.cancel_reconnect();
        self.count_in();
        let conn = self.clone();
        let handle = tokio::task::spawn_local(async move {
            tokio::time::sleep(after).await;
            conn.inner.mode.client().expect("client").reconnect.borrow_mut().take();
            conn.run_connect().await;
        });
        *info.reconnect.borrow_mut() = Some(handle.abort_handle());
    }

    /// Cancels a reconnect scheduled by [`reconnect`](Self::reconnect).
    pub fn cancel_reconnect(&self) {
        if let Some(info) = &self.inner.mode.client()
            && let Some(h) = info.reconnect.borrow_mut().take()
        {
            h.abort();
        }
    }

    /// Makes a closed outgoing connection connectable again.
    fn revive(&self) {
        let mut st = self.inner.st.borrow_mut();
        if st.status != Status::Closed {
            return;
        }
        st.status = Status::Connecting;
        st.want = None;
        st.recv = bytes::BytesMut::new();
        st.send = super::sendbuf::SendBuf::default();
        st.unflushed = false;
        st.proto = P::State::default();
    }

    fn destroy_keeping_callbacks(&self) {
        let cb = self.inner.st.borrow().cb.clone();
        self.destroy();
        self.inner.st.borrow_mut().cb = cb;
    }

    async fn run_connect(self) {
        let info = self.inner.mode.client().expect("client");
        let timeout = info.connect_timeout.get();
        let result = match tokio::time::timeout(timeout, open(info)).await {
            Ok(r) => r,
            Err(_) => Err(format!(
                "connect {} fail after {} seconds",
                info.address,
                timeout.as_secs_f64()
            )),
        };
        if self.status() != Status::Connecting {
            return; // closed meanwhile
        }
        match result {
            Ok(io) => {
                self.inner.peer.set(io.peer_addr());
                self.inner.local.set(io.local_addr());
                // Datagrams sent before the socket existed leave one by one, in order.
                let pending = std::mem::take(&mut self.inner.st.borrow_mut().pending_datagrams);
                for d in pending {
                    let _ = io.try_write(&d);
                }
                *self.inner.io.borrow_mut() = Some(Rc::new(io));
                self.inner.st.borrow_mut().status = Status::Established;
                tokio::task::spawn_local(self.clone().drive());
            }
            Err(why) => {
                let cb = self.inner.st.borrow().cb.on_error.clone();
                if let Some(cb) = cb {
                    guard(|| cb(&self, &ConnectionError::ConnectFailed(why)));
                }
                if self.status() == Status::Connecting && info.reconnect.borrow().is_none() {
                    self.destroy();
                }
            }
        }
    }
}

/// Opens the socket an outgoing connection describes.
async fn open(info: &ClientInfo) -> std::result::Result<Io, String> {
    let addr = &info.address;
    let proxy = info.proxy.borrow().clone();
    let (host, port) = match addr.target() {
        Target::Unix(_) if proxy.is_some() => {
            return Err(format!(
                "connect {addr} fail: a proxy reaches host:port targets, not unix sockets"
            ));
        }
        Target::Unix(path) => {
            return UnixStream::connect(path)
                .await
                .map(|s| Io::Unix(RefCell::new(s)))
                .map_err(|e| format!("connect {addr} fail: {e}"));
        }
        Target::Inet { host, port } => (host.clone(), *port),
    };
    // Through a proxy, the TCP connection goes to the proxy, which resolves the target's name.
    let (dial_host, dial_port) = match &proxy {
        Some(p) if info.transport.get() != Transport::Udp => (p.host.clone(), p.port),
        _ => (host.clone(), port),
    };
    let via = proxy.as_ref().map(|p| format!(" via {p}")).unwrap_or_default();
    let candidates: Vec<SocketAddr> = tokio::net::lookup_host((dial_host.as_str(), dial_port))
        .await
        .map_err(|e| format!("cannot resolve {dial_host}: {e}"))?
        .collect();
    let fail = |e: &dyn std::fmt::Display| format!("connect {addr}{via} fail: {e}");
    if info.transport.get() == Transport::Udp {
        let peer = *candidates
            .first()
            .ok_or_else(|| format!("{host} resolves to no address"))?;
        let local = info.local.get().unwrap_or_else(|| match peer {
            SocketAddr::V4(_) => "0.0.0.0:0".parse().expect("literal"),
            SocketAddr::V6(_) => "[::]:0".parse().expect("literal"),
        });
        let socket = UdpSocket::bind(local).await.map_err(|e| fail(&e))?;
        socket.connect(peer).await.map_err(|e| fail(&e))?;
        return Ok(Io::Udp {
            socket: Rc::new(socket),
            peer: None,
        });
    }
    let mut last = format!("{dial_host} resolves to no address");
    let mut stream = None;
    for peer in candidates {
        let socket = match peer {
            SocketAddr::V4(_) => TcpSocket::new_v4(),
            SocketAddr::V6(_) => TcpSocket::new_v6(),
        }
        .map_err(|e| fail(&e))?;
        if let Some(local) = info.local.get() {
            socket.bind(local).map_err(|e| fail(&e))?;
        }
        match socket.connect(peer).await {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last = fail(&e),
        }
    }
    let mut stream = stream.ok_or(last)?;
    let _ = stream.set_nodelay(true);
    if let Some(p) = &proxy {
        super::proxy::tunnel(&mut stream, p, &host, port)
            .await
            .map_err(|e| format!("connect {addr} fail: {e}"))?;
    }
    if info.transport.get() != Transport::Ssl {
        return Ok(Io::tcp(stream));
    }
    let tls = info.tls.borrow().clone();
    let config = crate::tls::client_config(&tls).map_err(|e| e.to_string())?;
    let name = tls.server_name.unwrap_or(host);
    let server_name = rustls::pki_types::ServerName::try_from(name.clone())
        .map_err(|e| format!("bad TLS server name {name}: {e}"))?;
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(server_name, stream)
        .await
        .map_err(|e| format!("TLS handshake with {addr} failed: {e}"))?;
    Ok(Io::TlsClient(Box::new(RefCell::new(tls))))
}

#[cfg(test)]
mod tests {
    use super::split_url;

    #[test]
    fn client_urls_split_into_address_and_target() {
        let cases = [
            ("text://127.0.0.1:2348", "text://127.0.0.1:2348", "/"),
            ("ws://h:2346/chat?room=1", "ws://h:2346", "/chat?room=1"),
            ("ws://h/", "ws://h:80", "/"),
            ("wss://example.com", "wss://example.com:443", "/"),
            ("WSS://example.com/a#frag", "WSS://example.com:443", "/a"),
            ("ws://h:1?x=1", "ws://h:1", "/?x=1"),
            ("ws://[::1]:2346/p", "ws://[::1]:2346", "/p"),
            ("ws://[::1]/p", "ws://[::1]:80", "/p"),
            ("unix:///tmp/a.sock", "unix:///tmp/a.sock", "/"),
            ("tcp://h", "tcp://h", "/"),
            ("noscheme", "noscheme", "/"),
        ];
        for (url, authority, uri) in cases {
            assert_eq!(split_url(url), (authority.to_string(), uri.to_string()), "{url}");
        }
    }
}
