//! The TLS side of the listener: a rustls [`ServerConfig`] built from PEM files.
//!
//! PEM parsing uses `rustls-pki-types`' [`PemObject`] (rustls-pemfile is archived). The ring
//! provider is named explicitly rather than relying on a process-wide default, so the simulator
//! works in test binaries where nobody installed one.

use std::path::Path;
use std::sync::Arc;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use super::config::{ClientAuth, TlsServerSettings, TlsVersions};
use super::error::SimulatorError;

/// Builds the acceptor for `settings`, reading every PEM file now.
pub(super) fn acceptor(settings: &TlsServerSettings) -> Result<TlsAcceptor, SimulatorError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let versions: &[&'static rustls::SupportedProtocolVersion] = match settings.versions {
        TlsVersions::Both => &[&rustls::version::TLS13, &rustls::version::TLS12],
        TlsVersions::Tls12 => &[&rustls::version::TLS12],
        TlsVersions::Tls13 => &[&rustls::version::TLS13],
    };
    let builder =
        ServerConfig::builder_with_provider(provider.clone()).with_protocol_versions(versions)?;
    let builder = match &settings.client_auth {
        ClientAuth::None => builder.with_no_client_auth(),
        ClientAuth::Required { ca } => {
            let mut roots = RootCertStore::empty();
            for cert in certificates(ca)? {
                roots.add(cert)?;
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| pem_error(ca, format!("unusable as a client CA: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        }
    };
    let chain = certificates(&settings.cert_chain)?;
    let key = PrivateKeyDer::from_pem_file(&settings.private_key)
        .map_err(|e| pem_error(&settings.private_key, format!("no private key: {e}")))?;
    let config = builder.with_single_cert(chain, key)?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Every certificate in a PEM file; an empty file is an error, not an empty trust store.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, SimulatorError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| pem_error(path, e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| pem_error(path, e.to_string()))?;
    if certs.is_empty() {
        return Err(pem_error(path, "no CERTIFICATE section".into()));
    }
    Ok(certs)
}

fn pem_error(path: &Path, reason: String) -> SimulatorError {
    SimulatorError::Pem {
        path: path.to_path_buf(),
        reason,
    }
}
