//! PKCS#12 and PEM keystores (placeholder; the real loader lands from the keystore branch).
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
/// Certificates and key read from a channel's keystore, once, when the channel is initialised.
pub struct Keystore {
    /// Our certificate chain, leaf first; empty when the file holds no private key.
    pub chain: Vec<CertificateDer<'static>>,
    /// Our private key (PKCS#8 DER), if the file holds one.
    pub key: Option<PrivateKeyDer<'static>>,
    /// Certificates to trust as roots: every certificate in the file except our own leaf.
    pub trusted: Vec<CertificateDer<'static>>,
}

/// Why a keystore could not be read (placeholder: the real enum has more variants).
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    /// The file password does not open the file.
    #[error("keystore password was incorrect")]
    WrongFilePassword,
}

impl KeystoreError {
    /// A stable machine-readable reason for logs.
    pub fn reason(&self) -> &'static str {
        "keystore_password_incorrect"
    }
}
