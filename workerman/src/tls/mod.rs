//! TLS with rustls: server configurations (certificates, several chosen by SNI, client
//! certificate verification, ALPN) and client configurations (a CA file or the system's roots,
//! client certificates, ALPN, verification turned off on purpose).
//!
//! Files are read when a worker process starts (and checked once by the master at start), so a
//! renewed certificate is picked up by `reload`, without a restart. Outgoing connections read
//! theirs at each connect.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::error::{Error, Result};

mod client;
mod info;
mod server;

pub use client::{ClientTls, client_config};
pub use info::TlsInfo;
pub use server::{ClientAuth, ServerTls, server_config};

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

/// Reads a certificate chain and its key.
fn load_pair(files: &TlsFiles) -> Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
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
    Ok((certs, key))
}

/// A certificate chain and key, checked to belong together.
fn certified_key(files: &TlsFiles) -> Result<Arc<rustls::sign::CertifiedKey>> {
    let (certs, key) = load_pair(files)?;
    rustls::sign::CertifiedKey::from_der(certs, key, &provider())
        .map(Arc::new)
        .map_err(|e| {
            tls_err(
                format!(
                    "TLS certificate {} does not fit key {}",
                    files.cert.display(),
                    files.key.display()
                ),
                e,
            )
        })
}

/// The CA certificates of a PEM file, as a root store.
fn ca_roots(path: &Path) -> Result<rustls::RootCertStore> {
    let mut roots = rustls::RootCertStore::empty();
    let pem = read(path, "CA file")?;
    for cert in CertificateDer::pem_slice_iter(&pem) {
        let cert = cert.map_err(|e| tls_err(format!("bad CA file {}", path.display()), e))?;
        roots
            .add(cert)
            .map_err(|e| tls_err(format!("bad CA certificate in {}", path.display()), e))?;
    }
    if roots.is_empty() {
        return Err(tls_err(
            format!("bad CA file {}", path.display()),
            "no certificate in the file",
        ));
    }
    Ok(roots)
}
