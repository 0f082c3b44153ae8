//! What `smppd keystore inspect` reports about a PKCS#12 file: its structure, every
//! certificate, whether our key is there and matches, and which of the two passwords is wrong.
//! The CLI only prints an [`Inspection`]; the checks are the same the channel runs at start.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use super::pkcs12::{Container, SectionKind};
use super::{
    assemble, effective_key_password, key_spki, read, warnings, CertificateFacts, KeystoreError,
    KeystoreWarning,
};
use crate::secret::Secret;

/// The verdict on one of the two passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordCheck {
    /// No password was supplied, so it was not tried.
    NotGiven,
    /// Not needed: nothing in the file is protected by it (e.g. no key bag).
    NotNeeded,
    /// It opened what it protects.
    Correct,
    /// It did not.
    Wrong,
    /// Not tried, because an earlier step failed (the file did not open).
    Unchecked,
}

/// One certificate found in the file.
#[derive(Debug, Clone)]
pub struct CertificateReport {
    /// Subject, issuer, serial, validity.
    pub facts: CertificateFacts,
    /// The Java alias (PKCS#9 friendlyName), if any.
    pub friendly_name: Option<String>,
    /// Whether a private key in the file is paired with this certificate.
    pub has_key: bool,
    /// Whether that key holds this certificate's public key; `None` when not checked (no key,
    /// or the key password was missing or wrong).
    pub key_matches: Option<bool>,
}

/// Everything `inspect` found out, including the first error, if any.
#[derive(Debug)]
pub struct Inspection {
    /// The file inspected.
    pub path: PathBuf,
    /// MAC digest name and iteration count, `None` when the file has no MAC.
    pub mac: Option<(String, i32)>,
    /// How each top-level section is stored.
    pub sections: Vec<SectionKind>,
    /// Verdict on the file password.
    pub file_password: PasswordCheck,
    /// Verdict on the key password.
    pub key_password: PasswordCheck,
    /// Number of private-key bags.
    pub keys: usize,
    /// Every certificate the file password gave access to.
    pub certificates: Vec<CertificateReport>,
    /// Validity warnings, as the channel would report them.
    pub warnings: Vec<KeystoreWarning>,
    /// Why the file cannot be used as given, if it cannot.
    pub error: Option<KeystoreError>,
}

impl Inspection {
    /// Whether a channel could load this file with these passwords. False when the file
    /// password was not given, since the contents could not be checked.
    pub fn is_ok(&self) -> bool {
        self.error.is_none() && self.file_password != PasswordCheck::NotGiven
    }
}

/// Inspects a PKCS#12 file. Without `file_password` only the structure is reported; an absent
/// `key_password` means the file password, as when loading.
pub fn inspect(
    path: &Path,
    file_password: Option<&Secret>,
    key_password: Option<&Secret>,
    now: SystemTime,
) -> Inspection {
    let mut report = Inspection {
        path: path.to_path_buf(),
        mac: None,
        sections: Vec::new(),
        file_password: PasswordCheck::NotGiven,
        key_password: PasswordCheck::NotGiven,
        keys: 0,
        certificates: Vec::new(),
        warnings: Vec::new(),
        error: None,
    };
    let data = match read(path) {
        Ok(d) => d,
        Err(e) => return report.failed(e),
    };
    let container = match Container::parse(&data, path) {
        Ok(c) => c,
        Err(e) => return report.failed(e),
    };
    report.mac = container.mac_summary();
    report.sections = container.section_kinds();
    let Some(file_password) = file_password else {
        return report;
    };
    let bags = match container.open(file_password, path) {
        Ok(b) => b,
        Err(e) => {
            if matches!(e, KeystoreError::WrongFilePassword) {
                report.file_password = PasswordCheck::Wrong;
            }
            report.key_password = PasswordCheck::Unchecked;
            return report.failed(e);
        }
    };
    report.file_password = PasswordCheck::Correct;
    report.keys = bags.keys.len();
    for cert in &bags.certs {
        let facts = match CertificateFacts::parse(&cert.der) {
            Ok(f) => f,
            Err(detail) => {
                return report.failed(KeystoreError::Damaged {
                    path: path.to_path_buf(),
                    detail,
                })
            }
        };
        let has_key = cert.local_key_id.as_ref().is_some_and(|id| {
            bags.keys
                .iter()
                .any(|k| k.local_key_id.as_ref() == Some(id))
        });
        report.certificates.push(CertificateReport {
            facts,
            friendly_name: cert.friendly_name.clone(),
            has_key,
            key_matches: None,
        });
    }
    if bags.keys.is_empty() {
        report.key_password = PasswordCheck::NotNeeded;
    } else {
        let key_password = key_password.unwrap_or(file_password);
        match bags.decrypt_keys(effective_key_password(file_password, key_password), path) {
            Ok(keys) => {
                report.key_password = PasswordCheck::Correct;
                let spkis: Vec<Option<Vec<u8>>> = keys
                    .iter()
                    .map(|k| key_spki(&k.pkcs8).ok().flatten())
                    .collect();
                for cert in &mut report.certificates {
                    let matches = spkis
                        .iter()
                        .any(|s| s.as_deref() == Some(cert.facts.spki.as_slice()));
                    if cert.has_key || matches {
                        cert.has_key = true;
                        cert.key_matches = Some(matches);
                    }
                }
                let certs = bags
                    .certs
                    .iter()
                    .map(|c| (c.der.clone(), c.local_key_id.clone()))
                    .collect();
                let key = keys.into_iter().next().map(|k| (k.pkcs8, k.local_key_id));
                match assemble(certs, key, path) {
                    Ok(keystore) => report.warnings = keystore.warnings(now),
                    Err(e) => report.error = Some(e),
                }
            }
            Err(e) => {
                if matches!(e, KeystoreError::WrongKeyPassword { .. }) {
                    report.key_password = PasswordCheck::Wrong;
                }
                report.error = Some(e);
            }
        }
    }
    if report.warnings.is_empty() {
        report.warnings = report
            .certificates
            .iter()
            .filter_map(|c| warnings::check(&c.facts, now, c.has_key))
            .collect();
    }
    if report.error.is_none() && report.certificates.is_empty() {
        report.error = Some(KeystoreError::EmptyTrustStore);
    }
    report
}

impl Inspection {
    fn failed(mut self, e: KeystoreError) -> Inspection {
        self.error = Some(e);
        self
    }
}
