//! TLS for SIP streams (RFC 3261 §26.2.1): the server side for phones, the client side for trunks.
//! Both run over the same stream code as TCP; only the handshake differs.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, RootCertStore, ServerConfig};

use crate::TransportError;

/// The certificate phones see on the TLS and WSS listeners, read from PEM files (the chain leaf
/// first) and read again by [`ServerCertificate::reload`] (SIGHUP) without a restart: handshakes
/// after a reload present the new certificate; connections up keep theirs.
#[derive(Debug)]
pub struct ServerCertificate {
    certificate: PathBuf,
    private_key: PathBuf,
    current: RwLock<Arc<CertifiedKey>>,
}

impl ServerCertificate {
    fn load(certificate: &Path, private_key: &Path) -> Result<Arc<CertifiedKey>, TransportError> {
        let chain = read_certificates(certificate)?;
        let key = PrivateKeyDer::from_pem_file(private_key).map_err(|e| TransportError::Tls {
            path: private_key.to_path_buf(),
            reason: format!("no usable private key: {e}"),
        })?;
        let provider = rustls::crypto::ring::default_provider();
        let certified =
            CertifiedKey::from_der(chain, key, &provider).map_err(|e| TransportError::Tls {
                path: private_key.to_path_buf(),
                reason: format!("key does not fit the certificate: {e}"),
            })?;
        Ok(Arc::new(certified))
    }

    /// Reads the files again; on any error the certificate in use stays (and the error says why).
    pub fn reload(&self) -> Result<(), TransportError> {
        let fresh = ServerCertificate::load(&self.certificate, &self.private_key)?;
        match self.current.write() {
            Ok(mut current) => *current = fresh,
            Err(poisoned) => *poisoned.into_inner() = fresh,
        }
        Ok(())
    }
}

impl ResolvesServerCert for ServerCertificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        match self.current.read() {
            Ok(current) => Some(current.clone()),
            Err(poisoned) => Some(poisoned.into_inner().clone()),
        }
    }
}

/// The server side for phones: the certificate (kept for reloads) and the rustls configuration the
/// TLS and WSS listeners share.
pub fn server_config(
    certificate: &Path,
    private_key: &Path,
) -> Result<(Arc<ServerConfig>, Arc<ServerCertificate>), TransportError> {
    let current = ServerCertificate::load(certificate, private_key)?;
    let resolver = Arc::new(ServerCertificate {
        certificate: certificate.to_path_buf(),
        private_key: private_key.to_path_buf(),
        current: RwLock::new(current),
    });
    let config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error(certificate, e))?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
    Ok((Arc::new(config), resolver))
}

/// How we check carriers: the Mozilla roots, plus the CAs of `extra_ca` (a PEM file) for a carrier
/// with a private CA.
pub fn client_config(extra_ca: Option<&Path>) -> Result<Arc<ClientConfig>, TransportError> {
    let mut roots = RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = extra_ca {
        for cert in read_certificates(path)? {
            roots.add(cert).map_err(|e| tls_error(path, e))?;
        }
    }
    let config =
        ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| tls_error(extra_ca.unwrap_or(Path::new("-")), e))?
            .with_root_certificates(roots)
            .with_no_client_auth();
    Ok(Arc::new(config))
}

/// The name a trunk's certificate must carry: its host, a name or an address.
pub(crate) fn server_name(host: &str) -> Option<ServerName<'static>> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_owned()).ok()
}

fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TransportError> {
    // Read first so a missing file says so rather than "no certificate".
    let pem = std::fs::read(path).map_err(|e| TransportError::Tls {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| tls_error(path, e))?;
    if certs.is_empty() {
        return Err(TransportError::Tls {
            path: path.to_path_buf(),
            reason: "no PEM certificate in it".into(),
        });
    }
    Ok(certs)
}

fn tls_error(path: &Path, e: impl std::fmt::Display) -> TransportError {
    TransportError::Tls {
        path: PathBuf::from(path),
        reason: e.to_string(),
    }
}

/// Handshakes that do not finish in this time are dropped (a peer that connects and stalls).
pub(crate) const HANDSHAKE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
