//! What a TLS handshake settled, for the application: the name asked for, the ALPN protocol,
//! the peer's certificates, the version.

/// The outcome of a connection's TLS handshake ([`TcpConnection::tls_info`](crate::TcpConnection::tls_info)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsInfo {
    /// The server name the client sent (SNI), on the server side; `None` on the client side
    /// and when the client sent none.
    pub server_name: Option<String>,
    /// The application protocol agreed through ALPN, if any (`b"h2"`, `b"http/1.1"`...).
    pub alpn: Option<Vec<u8>>,
    /// The peer's certificate chain, leaf first, DER-encoded: the client's certificate on a
    /// server with [`ClientAuth`](super::ClientAuth), the server's on a client. Empty when the
    /// peer presented none.
    pub peer_certificates: Vec<Vec<u8>>,
    /// The protocol version: `"TLSv1.3"` or `"TLSv1.2"`.
    pub version: &'static str,
}

impl TlsInfo {
    pub(crate) fn new(state: &rustls::CommonState, server_name: Option<&str>) -> TlsInfo {
        TlsInfo {
            server_name: server_name.map(str::to_owned),
            alpn: state.alpn_protocol().map(<[u8]>::to_vec),
            peer_certificates: state
                .peer_certificates()
                .map(|c| c.iter().map(|c| c.as_ref().to_vec()).collect())
                .unwrap_or_default(),
            version: match state.protocol_version() {
                Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2",
                _ => "TLSv1.3",
            },
        }
    }
}
