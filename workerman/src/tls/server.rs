//! Server side: the certificate (one, or several chosen by the name the client asks for),
//! client-certificate verification, ALPN.
//!
//! ```text
//!   ClientHello ── SNI "b.example" ──► certificate added for "b.example" (or "*.example")
//!                └─ no SNI / unknown ─► the default certificate (set_tls); none: handshake fails
//! ```

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use rustls::server::{ClientHello, ResolvesServerCert, WebPkiClientVerifier};
use rustls::sign::CertifiedKey;

use super::{TlsFiles, ca_roots, certified_key, provider, tls_err};
use crate::error::Result;

/// Whether a TLS server asks its clients for a certificate signed by a given CA.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// Clients must present a valid certificate; others fail the handshake (mutual TLS).
    Required,
    /// Clients may present one; a presented certificate must be valid. See
    /// [`TlsInfo::peer_certificates`](super::TlsInfo::peer_certificates) for who did.
    Optional,
}

/// A TLS server's settings, as [`Worker`](crate::Worker)'s `set_tls*` methods collect them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerTls {
    /// The certificate for clients that send no server name, or one with no certificate of its
    /// own ([`Worker::set_tls`](crate::Worker::set_tls)).
    pub default: Option<TlsFiles>,
    /// Certificates chosen by the server name the client sends (SNI), lower case; a name
    /// `*.example.com` matches one label in its place
    /// ([`Worker::add_tls_sni`](crate::Worker::add_tls_sni)).
    pub sni: Vec<(String, TlsFiles)>,
    /// A PEM file of CAs client certificates are checked against, and whether one is required
    /// ([`Worker::set_tls_client_auth`](crate::Worker::set_tls_client_auth)).
    pub client_auth: Option<(PathBuf, ClientAuth)>,
    /// Application protocols offered through ALPN, most preferred first
    /// ([`Worker::set_tls_alpn`](crate::Worker::set_tls_alpn)).
    pub alpn: Vec<Vec<u8>>,
}

/// Picks the certificate for a ClientHello: exact name, then wildcard, then the default.
#[derive(Debug)]
struct SniResolver {
    by_name: HashMap<String, Arc<CertifiedKey>>,
    default: Option<Arc<CertifiedKey>>,
}

impl SniResolver {
    fn pick(&self, name: Option<&str>) -> Option<Arc<CertifiedKey>> {
        if let Some(name) = name {
            let name = name.to_ascii_lowercase();
            if let Some(k) = self.by_name.get(&name) {
                return Some(k.clone());
            }
            let wildcard = name.split_once('.').map(|(_, parent)| format!("*.{parent}"));
            if let Some(k) = wildcard.and_then(|w| self.by_name.get(&w)) {
                return Some(k.clone());
            }
        }
        self.default.clone()
    }
}

impl ResolvesServerCert for SniResolver {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.pick(hello.server_name())
    }
}

/// Loads a server configuration; a missing or bad file is a clear error, and so is a
/// configuration without any certificate.
pub fn server_config(tls: &ServerTls) -> Result<Arc<rustls::ServerConfig>> {
    if tls.default.is_none() && tls.sni.is_empty() {
        return Err(tls_err(
            "TLS configuration".into(),
            "the ssl transport needs a certificate and key: call set_tls",
        ));
    }
    let default = tls.default.as_ref().map(certified_key).transpose()?;
    let mut by_name = HashMap::new();
    for (name, files) in &tls.sni {
        by_name.insert(name.to_ascii_lowercase(), certified_key(files)?);
    }
    let builder = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err("TLS configuration".into(), e))?;
    let builder = match &tls.client_auth {
        None => builder.with_no_client_auth(),
        Some((ca, mode)) => {
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(ca_roots(ca)?), provider());
            let verifier = match mode {
                ClientAuth::Required => verifier,
                ClientAuth::Optional => verifier.allow_unauthenticated(),
            };
            let verifier = verifier
                .build()
                .map_err(|e| tls_err(format!("bad client CA file {}", ca.display()), e))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let mut config = builder.with_cert_resolver(Arc::new(SniResolver { by_name, default }));
    config.alpn_protocols = tls.alpn.clone();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> Arc<CertifiedKey> {
        let cert = rcgen::generate_simple_self_signed(vec![name.into()]).unwrap();
        let der = rustls::pki_types::PrivateKeyDer::try_from(cert.signing_key.serialize_der()).unwrap();
        Arc::new(CertifiedKey::from_der(vec![cert.cert.der().clone()], der, &provider()).unwrap())
    }

    #[test]
    fn exact_name_then_wildcard_then_default() {
        let (a, star, def) = (key("a.test"), key("x.b.test"), key("default"));
        let r = SniResolver {
            by_name: HashMap::from([
                ("a.test".to_string(), a.clone()),
                ("*.b.test".to_string(), star.clone()),
            ]),
            default: Some(def.clone()),
        };
        assert!(Arc::ptr_eq(&r.pick(Some("A.Test")).unwrap(), &a));
        assert!(Arc::ptr_eq(&r.pick(Some("x.b.test")).unwrap(), &star));
        assert!(
            Arc::ptr_eq(&r.pick(Some("y.x.b.test")).unwrap(), &def),
            "a wildcard covers one label"
        );
        assert!(Arc::ptr_eq(&r.pick(None).unwrap(), &def));
        let no_default = SniResolver {
            by_name: HashMap::new(),
            default: None,
        };
        assert!(no_default.pick(Some("a.test")).is_none());
    }

    #[test]
    fn no_certificate_is_a_clear_error() {
        let err = server_config(&ServerTls::default()).unwrap_err().to_string();
        assert!(err.contains("call set_tls"), "{err}");
    }
}
