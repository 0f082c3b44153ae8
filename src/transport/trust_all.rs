//! The `trust_all` lab switch: a server-certificate verifier that accepts any certificate.
//!
//! It still checks that the server holds the key of the certificate it sent (the handshake
//! signatures), so what it gives up is exactly "who is this?", nothing more. Each connection
//! made with it is reported by [`super::Connection::warning`] and logged.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::{DigitallySignedStruct, SignatureScheme};
use rustls_pki_types::{CertificateDer, ServerName, UnixTime};

/// The warning every trust-all connection produces.
pub const TRUST_ALL_WARNING: &str =
    "trust_all is set: the SMSC certificate was NOT verified; use only in a lab";

/// Accepts any server certificate chain; verifies handshake signatures.
#[derive(Debug)]
pub(crate) struct TrustAll {
    provider: Arc<CryptoProvider>,
}

impl TrustAll {
    pub(crate) fn new(provider: Arc<CryptoProvider>) -> Self {
        TrustAll { provider }
    }
}

impl ServerCertVerifier for TrustAll {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
