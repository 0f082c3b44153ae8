//! Keystores: the certificates and private key a TLS channel presents and trusts.
//!
//! Two formats are read: PKCS#12 (`.p12`/`.pfx`, as the Genesys driver's
//! `x-smpp-tls-path-to-certificate` names, with separate file and key passwords) and PEM.
//! Nothing here opens a socket; the TLS code builds its rustls configuration from a
//! [`Keystore`]. May depend on `crate::secret` and `crate::limited_file` only.
//!
//! - `pkcs12`: the two-password PKCS#12 reader, `pbe` its decryption schemes;
//! - `pem`: the PEM alternative;
//! - `certificate`: facts about one certificate, chain ordering;
//! - `warnings`: expired / not yet valid / expiring-soon certificates;
//! - `inspect`: what `smppd keystore inspect` reports ([`inspect()`], [`Inspection`]);
//! - `error`: [`KeystoreError`], whose `Display` is the 43010 log text.
//!
//! A namespace of its own under `transport`: the key material and its inspection are used
//! apart from any connection (`smppd keystore inspect`, `smppd check-config`, the
//! PostgreSQL store's client certificate). Its root re-exports the items of these files.

mod certificate;
mod error;
mod inspect;
mod oid;
mod pbe;
mod pem;
mod pkcs12;
mod warnings;

use std::path::Path;
use std::time::SystemTime;

use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};

// Certificates, errors and warnings.
pub use certificate::{format_time, CertificateFacts};
pub use error::KeystoreError;
pub use warnings::{KeystoreWarning, EXPIRY_WARNING};

// What `smppd keystore inspect` reports.
pub use inspect::{inspect, CertificateReport, Inspection, PasswordCheck};
pub use pkcs12::SectionKind;

use crate::secret::Secret;

/// Certificates and key read from a channel's keystore, once, when the channel is initialised.
///
/// A channel reads its keystore when it is created and keeps this value for its lifetime;
/// reconnects reuse it and never touch the file again. So a wrong password or a damaged file
/// stops the channel at start-up (log 43010, then 42403) instead of failing every connection,
/// and a replaced file takes effect after a restart, as every driver option does.
pub struct Keystore {
    /// Our certificate chain, leaf first; empty when the file holds no private key.
    pub chain: Vec<CertificateDer<'static>>,
    /// Our private key (PKCS#8 DER), if the file holds one.
    pub key: Option<PrivateKeyDer<'static>>,
    /// Certificates to trust as roots: every certificate in the file except our own leaf.
    pub trusted: Vec<CertificateDer<'static>>,
}

impl Clone for Keystore {
    fn clone(&self) -> Keystore {
        Keystore {
            chain: self.chain.clone(),
            key: self.key.as_ref().map(|k| k.clone_key()),
            trusted: self.trusted.clone(),
        }
    }
}

impl std::fmt::Debug for Keystore {
    // The key is secret material: show only that it is there.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keystore")
            .field("chain", &self.chain.len())
            .field("key", &self.key.as_ref().map(|_| crate::secret::REDACTED))
            .field("trusted", &self.trusted.len())
            .finish()
    }
}

impl Keystore {
    /// Reads a PKCS#12 file. `file_password` verifies the MAC and decrypts the certificate
    /// sections; `key_password` decrypts the private key. An empty `key_password` means "the
    /// same as the file password", as `keytool` assumes when `-keypass` is not given.
    ///
    /// Our leaf is the certificate paired with the key by the localKeyId attribute, else the
    /// one holding the key's public key. A file with several keys uses the first; every
    /// certificate except our leaf is trusted, whether or not Java marked it trusted.
    pub fn load_pkcs12(
        path: &Path,
        file_password: &Secret,
        key_password: &Secret,
    ) -> Result<Keystore, KeystoreError> {
        let data = read(path)?;
        Keystore::from_pkcs12_der(&data, path, file_password, key_password)
    }

    /// [`Keystore::load_pkcs12`] on bytes already read; `path` only names them in errors.
    pub fn from_pkcs12_der(
        data: &[u8],
        path: &Path,
        file_password: &Secret,
        key_password: &Secret,
    ) -> Result<Keystore, KeystoreError> {
        let container = pkcs12::Container::parse(data, path)?;
        let bags = container.open(file_password, path)?;
        let keys = bags.decrypt_keys(effective_key_password(file_password, key_password), path)?;
        let certs: Vec<(Vec<u8>, Option<Vec<u8>>)> = bags
            .certs
            .into_iter()
            .map(|c| (c.der, c.local_key_id))
            .collect();
        let key = keys.into_iter().next().map(|k| (k.pkcs8, k.local_key_id));
        assemble(certs, key, path)
    }

    /// Reads PEM files: our chain (leaf first) and key for mutual TLS, and the CA
    /// certificates to trust. The key may be PKCS#8, PKCS#1 (RSA) or SEC1 (EC).
    pub fn load_pem(
        cert_chain: Option<&Path>,
        key: Option<&Path>,
        ca: Option<&Path>,
    ) -> Result<Keystore, KeystoreError> {
        pem::load(cert_chain, key, ca)
    }

    /// Our chain and key, or [`KeystoreError::NoPrivateKey`]: what mutual TLS needs.
    pub fn require_key(
        &self,
    ) -> Result<(&[CertificateDer<'static>], &PrivateKeyDer<'static>), KeystoreError> {
        match &self.key {
            Some(key) if !self.chain.is_empty() => Ok((&self.chain, key)),
            _ => Err(KeystoreError::NoPrivateKey),
        }
    }

    /// The certificates to trust, or [`KeystoreError::EmptyTrustStore`]: verifying the SMSC
    /// needs at least one.
    pub fn require_trusted(&self) -> Result<&[CertificateDer<'static>], KeystoreError> {
        if self.trusted.is_empty() {
            Err(KeystoreError::EmptyTrustStore)
        } else {
            Ok(&self.trusted)
        }
    }

    /// Validity problems as of `now`: any certificate expired or not yet valid, and our own
    /// certificate expiring within [`EXPIRY_WARNING`].
    pub fn warnings(&self, now: SystemTime) -> Vec<KeystoreWarning> {
        let own = self.chain.iter().take(1).map(|c| (c, true));
        let others = self
            .chain
            .iter()
            .skip(1)
            .chain(&self.trusted)
            .map(|c| (c, false));
        let mut seen: Vec<&[u8]> = Vec::new();
        let mut out = Vec::new();
        for (der, is_own) in own.chain(others) {
            if seen.contains(&der.as_ref()) {
                continue;
            }
            seen.push(der.as_ref());
            // Every certificate was parsed at load time; one that somehow no longer parses
            // has nothing to warn about.
            if let Ok(facts) = CertificateFacts::parse(der) {
                out.extend(warnings::check(&facts, now, is_own));
            }
        }
        out
    }
}

/// The key password to use: the file password when none was given.
pub(crate) fn effective_key_password<'a>(file: &'a Secret, key: &'a Secret) -> &'a Secret {
    if key.is_empty() {
        file
    } else {
        key
    }
}

/// The largest keystore file we read. Real ones are a few kilobytes; a path pointing at a
/// device or a huge file must not exhaust memory at channel start.
pub const MAX_FILE_SIZE: u64 = 1 << 20;

/// Reads a whole keystore or PEM file: a regular file (a FIFO or a device is refused without
/// waiting on it) of at most [`MAX_FILE_SIZE`] bytes, naming it in the error.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, KeystoreError> {
    crate::limited_file::read(path, MAX_FILE_SIZE, "a keystore").map_err(|e| {
        KeystoreError::Unreadable {
            path: path.to_path_buf(),
            source: e.into(),
        }
    })
}

/// Builds a [`Keystore`] from certificates (DER, optional localKeyId) and an optional PKCS#8
/// key with its localKeyId: picks our leaf, checks it holds our key, orders the chain.
pub(crate) fn assemble(
    certs: Vec<(Vec<u8>, Option<Vec<u8>>)>,
    key: Option<(Vec<u8>, Option<Vec<u8>>)>,
    path: &Path,
) -> Result<Keystore, KeystoreError> {
    let facts = certs
        .iter()
        .map(|(der, _)| CertificateFacts::parse(der))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|detail| KeystoreError::Damaged {
            path: path.to_path_buf(),
            detail,
        })?;
    let Some((pkcs8, key_id)) = key else {
        // A trust store. OpenSSL marks no certificate as trusted, so all of them are.
        if certs.is_empty() {
            return Err(KeystoreError::EmptyTrustStore);
        }
        return Ok(Keystore {
            chain: Vec::new(),
            key: None,
            trusted: dedup(certs.into_iter().map(|(der, _)| der)),
        });
    };
    let spki = key_spki(&pkcs8)?;
    // The certificate paired by localKeyId, else the one carrying the key's public key.
    let by_id = key_id
        .as_ref()
        .and_then(|id| certs.iter().position(|(_, cid)| cid.as_ref() == Some(id)));
    let leaf = match by_id {
        Some(i) => i,
        None => facts
            .iter()
            .position(|f| spki.as_deref() == Some(f.spki.as_slice()))
            .ok_or_else(|| KeystoreError::KeyMismatch {
                certificate: match facts.first() {
                    Some(_) => "(no certificate in the keystore holds the key's public key)".into(),
                    None => "(the keystore holds no certificate for the key)".into(),
                },
            })?,
    };
    let leaf_facts = facts.get(leaf).ok_or_else(|| KeystoreError::KeyMismatch {
        certificate: "(none)".into(),
    })?;
    // A certificate paired by localKeyId must still hold our public key. When the provider
    // cannot derive the public key (`None`), the pairing attribute is all we have.
    if spki
        .as_deref()
        .is_some_and(|spki| spki != leaf_facts.spki.as_slice())
    {
        return Err(KeystoreError::KeyMismatch {
            certificate: leaf_facts.subject.clone(),
        });
    }
    let order = certificate::chain_from(leaf, &facts);
    let der_at = |i: usize| certs.get(i).map(|(der, _)| der.clone());
    let chain: Vec<CertificateDer<'static>> = order
        .iter()
        .filter_map(|&i| der_at(i))
        .map(CertificateDer::from)
        .collect();
    let leaf_der = der_at(leaf).unwrap_or_default();
    let trusted = dedup(
        certs
            .iter()
            .map(|(der, _)| der.clone())
            .filter(|der| *der != leaf_der),
    );
    Ok(Keystore {
        chain,
        key: Some(PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8))),
        trusted,
    })
}

/// The SubjectPublicKeyInfo of a PKCS#8 key, via the ring provider TLS will sign with, so a
/// key TLS cannot use is refused here, naming its algorithm.
pub(crate) fn key_spki(pkcs8: &[u8]) -> Result<Option<Vec<u8>>, KeystoreError> {
    let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pkcs8.to_vec()));
    spki_of(der, || pkcs8_algorithm(pkcs8))
}

/// The SubjectPublicKeyInfo of any private key rustls can load.
pub(crate) fn spki_of(
    key: PrivateKeyDer<'static>,
    algorithm: impl FnOnce() -> String,
) -> Result<Option<Vec<u8>>, KeystoreError> {
    let provider = rustls::crypto::ring::default_provider();
    let signer = provider.key_provider.load_private_key(key).map_err(|_| {
        KeystoreError::UnsupportedAlgorithm {
            what: "private key",
            oid: algorithm(),
        }
    })?;
    Ok(signer.public_key().map(|spki| spki.as_ref().to_vec()))
}

/// The algorithm OID of a PKCS#8 key, for error messages.
fn pkcs8_algorithm(pkcs8: &[u8]) -> String {
    use der::Decode;
    match pkcs8::PrivateKeyInfoRef::from_der(pkcs8) {
        Ok(info) => info.algorithm.oid.to_string(),
        Err(_) => "(unreadable PKCS#8)".into(),
    }
}

fn dedup(ders: impl Iterator<Item = Vec<u8>>) -> Vec<CertificateDer<'static>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    for der in ders {
        if !out.contains(&der) {
            out.push(der);
        }
    }
    out.into_iter().map(CertificateDer::from).collect()
}
