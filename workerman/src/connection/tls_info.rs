//! A connection's TLS handshake outcome, for the application.

use super::TcpConnection;
use crate::protocol::Protocol;
use crate::tls::TlsInfo;

impl<P: Protocol> TcpConnection<P> {
    /// What the TLS handshake settled (server name asked for, ALPN protocol, the peer's
    /// certificates, version); `None` on plain connections and before an outgoing connection
    /// is connected.
    ///
    /// ```no_run
    /// # use workerman::{Worker, protocol::Text};
    /// # let worker = Worker::<Text>::new("ssl://0.0.0.0:443").unwrap();
    /// worker.on_connect(|conn| {
    ///     if let Some(tls) = conn.tls_info() {
    ///         let who = if tls.peer_certificates.is_empty() { "anonymous" } else { "certified" };
    ///         conn.send(format!("hello {who} client of {:?}", tls.server_name));
    ///     }
    /// });
    /// ```
    pub fn tls_info(&self) -> Option<TlsInfo> {
        self.inner.io.borrow().as_ref().and_then(|io| io.tls_info())
    }
}
