//! A worker's TLS settings beyond its certificate: certificates chosen by SNI, client
//! certificates, ALPN.

use std::path::PathBuf;

use super::Worker;
use crate::protocol::Protocol;
use crate::tls::{ClientAuth, ServerTls, TlsFiles};

impl<P: Protocol> Worker<P> {
    pub(super) fn tls_mut(&self, f: impl FnOnce(&mut ServerTls)) {
        f(self.shared.spec.borrow_mut().tls.get_or_insert_with(ServerTls::default));
    }

    /// Adds a certificate chain and key (PEM files) for clients asking for `server_name` (SNI):
    /// several sites on one port, each with its own certificate. `*.example.com` covers one
    /// label in its place. Clients asking for no name, or another one, get the
    /// [`set_tls`](Self::set_tls) certificate; without one their handshake fails. Read and
    /// checked like `set_tls`'s files.
    ///
    /// ```no_run
    /// # use workerman::{Worker, protocol::Http};
    /// let worker = Worker::<Http>::new("https://0.0.0.0:443").unwrap();
    /// worker.set_tls("default.pem", "default.key");
    /// worker.add_tls_sni("a.example.com", "a.pem", "a.key");
    /// worker.add_tls_sni("*.b.example.com", "b.pem", "b.key");
    /// ```
    pub fn add_tls_sni(&self, server_name: &str, cert: impl Into<PathBuf>, key: impl Into<PathBuf>) {
        let files = TlsFiles {
            cert: cert.into(),
            key: key.into(),
        };
        self.tls_mut(|tls| tls.sni.push((server_name.to_ascii_lowercase(), files)));
    }

    /// Asks clients for a certificate signed by a CA of the PEM file `ca`: required (mutual TLS:
    /// clients without one fail the handshake) or optional. The certificate a client presented is
    /// in [`TcpConnection::tls_info`](crate::TcpConnection::tls_info).
    pub fn set_tls_client_auth(&self, ca: impl Into<PathBuf>, mode: ClientAuth) {
        let ca = ca.into();
        self.tls_mut(|tls| tls.client_auth = Some((ca, mode)));
    }

    /// Application protocols this server agrees to through ALPN, most preferred first
    /// (`["h2", "http/1.1"]`). A client offering none of them fails the handshake; one offering
    /// no ALPN at all is served. The one agreed is in
    /// [`TcpConnection::tls_info`](crate::TcpConnection::tls_info).
    pub fn set_tls_alpn<S: AsRef<[u8]>>(&self, protocols: &[S]) {
        let alpn = protocols.iter().map(|p| p.as_ref().to_vec()).collect();
        self.tls_mut(|tls| tls.alpn = alpn);
    }
}
