//! Client side: whom to trust (a CA file, the system's roots, or — dangerously — anyone), a
//! client certificate for mutual TLS, the server name (SNI and certificate check), ALPN.

use std::path::PathBuf;
use std::sync::Arc;

use rustls::DigitallySignedStruct;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};

use super::{TlsFiles, ca_roots, load_pair, provider, tls_err};
use crate::error::Result;

/// An outgoing TLS connection's settings, as
/// [`AsyncTcpConnection`](crate::AsyncTcpConnection)'s `set_tls*` methods collect them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientTls {
    /// Trust the CAs of this PEM file instead of the system's roots.
    pub ca: Option<PathBuf>,
    /// Accept any server certificate: no check of who the server is. Dangerous; for tests and
    /// closed networks only.
    pub danger_accept_invalid_certs: bool,
    /// A certificate and key presented to servers that ask for one (mutual TLS).
    pub client_cert: Option<TlsFiles>,
    /// The name sent as SNI and checked against the server's certificate (default: the host
    /// of the address; an IP address is checked but, as TLS prescribes, not sent).
    pub server_name: Option<String>,
    /// Application protocols offered through ALPN, most preferred first.
    pub alpn: Vec<Vec<u8>>,
}

/// Accepts every certificate, still checking that the handshake is signed by its key.
#[derive(Debug)]
struct AcceptAnyCert(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> std::result::Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> std::result::Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A client configuration: trusting the CA certificates of `tls.ca` (PEM), or the system's
/// roots, or anyone when `danger_accept_invalid_certs` is set; presenting `tls.client_cert`
/// when the server asks; offering `tls.alpn`.
pub fn client_config(tls: &ClientTls) -> Result<Arc<rustls::ClientConfig>> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err("TLS configuration".into(), e))?;
    let builder = if tls.danger_accept_invalid_certs {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider())))
    } else {
        let roots = match &tls.ca {
            Some(path) => ca_roots(path)?,
            None => {
                let mut roots = rustls::RootCertStore::empty();
                for cert in rustls_native_certs::load_native_certs().certs {
                    let _ = roots.add(cert);
                }
                roots
            }
        };
        builder.with_root_certificates(roots)
    };
    let mut config = match &tls.client_cert {
        None => builder.with_no_client_auth(),
        Some(files) => {
            let (certs, key) = load_pair(files)?;
            builder.with_client_auth_cert(certs, key).map_err(|e| {
                tls_err(
                    format!(
                        "TLS client certificate {} does not fit key {}",
                        files.cert.display(),
                        files.key.display()
                    ),
                    e,
                )
            })?
        }
    };
    config.alpn_protocols = tls.alpn.clone();
    Ok(Arc::new(config))
}
