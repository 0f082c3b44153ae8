//! The PEM alternative to PKCS#12: a certificate chain file, a key file and a CA file, parsed
//! with rustls-pki-types' [`PemObject`] (rustls-pemfile is archived, RUSTSEC-2025-0134).

use std::path::Path;

use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use super::{read, CertificateFacts, Keystore, KeystoreError};

/// See [`Keystore::load_pem`]. Unlike a PKCS#12 file, the trusted certificates are exactly
/// those of the CA file: PEM users name their roots explicitly.
pub(super) fn load(
    cert_chain: Option<&Path>,
    key: Option<&Path>,
    ca: Option<&Path>,
) -> Result<Keystore, KeystoreError> {
    let chain = match cert_chain {
        Some(path) => certificates(path)?,
        None => Vec::new(),
    };
    let key = match key {
        Some(path) => Some(private_key(path)?),
        None => None,
    };
    let trusted = match ca {
        Some(path) => {
            let certs = certificates(path)?;
            if certs.is_empty() {
                return Err(KeystoreError::EmptyTrustStore);
            }
            certs
        }
        None => Vec::new(),
    };
    if let Some(key) = &key {
        let leaf = chain.first().ok_or_else(|| KeystoreError::KeyMismatch {
            certificate: "(no certificate chain was given for the key)".into(),
        })?;
        let facts = CertificateFacts::parse(leaf).map_err(|detail| KeystoreError::InvalidPem {
            path: cert_chain.unwrap_or(Path::new("")).to_path_buf(),
            detail,
        })?;
        let spki = super::spki_of(key.clone_key(), || "(PEM private key)".into())?;
        if spki.as_deref() != Some(facts.spki.as_slice()) {
            return Err(KeystoreError::KeyMismatch {
                certificate: facts.subject,
            });
        }
    }
    Ok(Keystore {
        chain: if key.is_some() { chain } else { Vec::new() },
        key,
        trusted,
    })
}

/// Every `CERTIFICATE` block of a PEM file; other blocks are skipped.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, KeystoreError> {
    let data = read(path)?;
    let certs = CertificateDer::pem_slice_iter(&data)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(path, format!("{e}")))?;
    for cert in &certs {
        CertificateFacts::parse(cert).map_err(|detail| invalid(path, detail))?;
    }
    Ok(certs)
}

/// The first private key block (PKCS#8, PKCS#1 or SEC1) of a PEM file.
fn private_key(path: &Path) -> Result<PrivateKeyDer<'static>, KeystoreError> {
    let data = read(path)?;
    PrivateKeyDer::from_pem_slice(&data).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => invalid(
            path,
            "no PRIVATE KEY block (an encrypted key must be decrypted first)".into(),
        ),
        other => invalid(path, format!("{other}")),
    })
}

fn invalid(path: &Path, detail: String) -> KeystoreError {
    KeystoreError::InvalidPem {
        path: path.to_path_buf(),
        detail,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, contents: &[u8]) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(name);
        std::fs::write(&path, contents).unwrap();
        (dir, path)
    }

    #[test]
    fn a_file_without_a_key_block_is_invalid_pem() {
        let (_dir, path) = file("key.pem", b"just text\n");
        let e = private_key(&path).unwrap_err();
        assert_eq!(e.reason(), "keystore_invalid_pem");
        assert!(e.to_string().contains("no PRIVATE KEY block"), "{e}");
    }

    #[test]
    fn a_certificate_block_with_garbage_inside_is_invalid_pem() {
        let (_dir, path) = file(
            "c.pem",
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        );
        assert_eq!(
            certificates(&path).unwrap_err().reason(),
            "keystore_invalid_pem"
        );
    }

    #[test]
    fn no_files_give_an_empty_keystore() {
        let ks = load(None, None, None).unwrap();
        assert!(ks.chain.is_empty() && ks.key.is_none() && ks.trusted.is_empty());
        assert_eq!(
            ks.require_trusted().unwrap_err().reason(),
            "keystore_empty_trust_store"
        );
    }
}
