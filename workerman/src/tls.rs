//! TLS with rustls: server configurations from PEM certificate and key files, client
//! configurations trusting a given CA file or the system's roots.
//!
//! Files are read when a worker process starts (and checked once by the master at start), so a
//! renewed certificate is picked up by `reload`, without a restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{Error, Result};

/// Paths of a PEM certificate chain and its private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain, leaf first (PEM).
    pub cert: PathBuf,
    /// The private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
}

fn tls_err(what: String, why: impl std::fmt::Display) -> Error {
    Error::io(
        what,
        std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_string()),
    )
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn read(path: &Path, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(format!("cannot read the TLS {what} {}", path.display()), e))
}

/// Loads a server configuration; a missing or bad file is a clear error.
pub fn server_config(files: &TlsFiles) -> Result<Arc<rustls::ServerConfig>> {
    let cert_pem = read(&files.cert, "certificate")?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| tls_err(format!("bad TLS certificate {}", files.cert.display()), e))?;
    if certs.is_empty() {
        return Err(tls_err(
            format!("bad TLS certificate {}", files.cert.display()),
            "no certificate in the file",
        ));
    }
    let key_pem = read(&files.key, "key")?;
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| tls_err(format!("bad TLS key {}", files.key.display()), e))?;
    let config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err("TLS configuration".into(), e))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            tls_err(
                format!(
                    "TLS certificate {} does not fit key {}",
                    files.cert.display(),
                    files.key.display()
                ),
                e,
            )
        })?;
    Ok(Arc::new(config))
}

/// A client configuration trusting the CA certificates in `ca` (PEM), or the system's roots.
pub fn client_config(ca: Option<&Path>) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(path) => {
            let pem = read(path, "CA file")?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                let cert = cert.map_err(|e| tls_err(format!("bad CA file {}", path.display()), e))?;
                roots
                    .add(cert)
                    .map_err(|e| tls_err(format!("bad CA certificate in {}", path.display()), e))?;
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|e| tls_err("TLS configuration".into(), e))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}
