//! [`KeystoreError`]: why a channel's keystore could not be used.
//!
//! The supervisor logs `Display` after `failed to initialize ssl context: ` (log id 43010), so
//! the two password failures keep the wording operators know from the Java driver. No variant
//! carries a password, so no rendering of an error can reveal one.

use std::io;
use std::path::PathBuf;

/// Why a keystore could not be loaded or does not fit the TLS mode.
#[derive(Debug, thiserror::Error)]
pub enum KeystoreError {
    /// The file could not be read (missing, a directory, no permission...).
    #[error("cannot read keystore file {path}: {source}")]
    Unreadable {
        /// The file named in the configuration.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// The bytes are not a PKCS#12 (PFX) structure at all.
    #[error("{path} is not a PKCS#12 file: {detail}")]
    NotPkcs12 {
        /// The file named in the configuration.
        path: PathBuf,
        /// Which part failed to parse.
        detail: String,
    },
    /// The file password did not verify the MAC (or, in a file without MAC, did not decrypt
    /// the certificates).
    #[error("keystore password was incorrect")]
    WrongFilePassword,
    /// The file opened, but the key password did not decrypt the private-key bag.
    #[error("Get Key failed: {cause}")]
    WrongKeyPassword {
        /// What went wrong, e.g. `Given final block not properly padded`.
        cause: String,
    },
    /// The file opened with the right password but something inside it is malformed.
    #[error("keystore {path} is damaged: {detail}")]
    Damaged {
        /// The file named in the configuration.
        path: PathBuf,
        /// What is wrong inside it.
        detail: String,
    },
    /// A PEM file held no usable item of the kind expected, or a malformed one.
    #[error("{path} is not a usable PEM file: {detail}")]
    InvalidPem {
        /// The PEM file.
        path: PathBuf,
        /// What was expected or what failed.
        detail: String,
    },
    /// Mutual TLS needs our own key, and the keystore holds none.
    #[error(
        "keystore holds no private key, which mutual TLS needs to present a client certificate"
    )]
    NoPrivateKey,
    /// The private key does not belong to the certificate it was stored with.
    #[error("the private key does not match the certificate {certificate}")]
    KeyMismatch {
        /// Subject of the certificate, or a description when none could be paired with it.
        certificate: String,
    },
    /// There is no certificate to trust, so no SMSC certificate could ever be verified.
    #[error("trust store holds no certificate")]
    EmptyTrustStore,
    /// An algorithm the file uses (encryption, MAC, key type) that smppd cannot handle.
    #[error("unsupported {what} algorithm {oid}")]
    UnsupportedAlgorithm {
        /// Where the algorithm is used, e.g. `key bag encryption`.
        what: &'static str,
        /// The algorithm's object identifier, dotted.
        oid: String,
    },
}

impl KeystoreError {
    /// A stable machine-readable reason, for metrics and for tests that must not depend on
    /// wording.
    pub fn reason(&self) -> &'static str {
        match self {
            KeystoreError::Unreadable { source, .. }
                if source.kind() == io::ErrorKind::NotFound =>
            {
                "keystore_not_found"
            }
            KeystoreError::Unreadable { .. } => "keystore_unreadable",
            KeystoreError::NotPkcs12 { .. } => "keystore_not_pkcs12",
            KeystoreError::WrongFilePassword => "keystore_wrong_file_password",
            KeystoreError::WrongKeyPassword { .. } => "keystore_wrong_key_password",
            KeystoreError::Damaged { .. } => "keystore_damaged",
            KeystoreError::InvalidPem { .. } => "keystore_invalid_pem",
            KeystoreError::NoPrivateKey => "keystore_no_private_key",
            KeystoreError::KeyMismatch { .. } => "keystore_key_mismatch",
            KeystoreError::EmptyTrustStore => "keystore_empty_trust_store",
            KeystoreError::UnsupportedAlgorithm { .. } => "keystore_unsupported_algorithm",
        }
    }
}
