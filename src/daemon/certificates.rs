//! [`ChannelCertificates`]: the certificates one channel presents, trusts and last saw from
//! its SMSC, reduced to subject and notAfter for `smppd_tls_certificate_not_after_seconds`
//! and `GET /v1/channels`.
//!
//! Our own certificate and the CA certificates come from the keystore the channel read at
//! start-up (they were parsed then; a keystore whose certificates do not parse never gets
//! here). The SMSC's leaf comes from the transport after each successful TLS handshake, as
//! DER: it is parsed here, and one that does not parse is skipped with a warning, never a
//! panic. A channel that trusts the operating system's store (no keystore) reports no CA:
//! those are the system's to watch, not the channel's.
//!
//! Depends on: the transport's keystore types and the engine's status types.

use std::sync::{Mutex, PoisonError};

use super::engine::{CertificateRole, CertificateStatus};
use crate::transport::keystore::CertificateFacts;
use crate::transport::TlsSettings;

/// A channel's certificates: fixed at start-up, plus the SMSC's of the last handshake.
#[derive(Debug, Default)]
pub struct ChannelCertificates {
    fixed: Vec<CertificateStatus>,
    peer: Mutex<Option<CertificateStatus>>,
}

/// Parses `der` as a certificate in `role`, or warns (naming `channel`) and gives `None`.
fn status_of(channel: &str, role: CertificateRole, der: &[u8]) -> Option<CertificateStatus> {
    match CertificateFacts::parse(der) {
        Ok(facts) => Some(CertificateStatus {
            role,
            subject: facts.subject,
            not_after: facts.not_after,
        }),
        Err(detail) => {
            tracing::warn!(
                channel,
                event = "certificate_unreadable",
                role = role.as_str(),
                detail = %detail,
                "a {} certificate cannot be read for expiry monitoring; it is left out of /metrics",
                role.as_str()
            );
            None
        }
    }
}

impl ChannelCertificates {
    /// Our certificate (the keystore's leaf) and the keystore's CA certificates, in the
    /// keystore's order; none for a plain channel or one without a keystore.
    pub fn from_settings(channel: &str, settings: &TlsSettings) -> ChannelCertificates {
        let Some(keystore) = settings.keystore() else {
            return ChannelCertificates::default();
        };
        let own = keystore
            .contents
            .chain
            .first()
            .map(|der| (CertificateRole::Own, der));
        let cas = keystore
            .contents
            .trusted
            .iter()
            .map(|der| (CertificateRole::Ca, der));
        let fixed = own
            .into_iter()
            .chain(cas)
            .filter_map(|(role, der)| status_of(channel, role, der))
            .collect();
        ChannelCertificates {
            fixed,
            peer: Mutex::new(None),
        }
    }

    /// Records the SMSC's leaf certificate from a successful handshake. One that does not
    /// parse is logged and forgets the previous one: it is no longer what the SMSC shows.
    pub fn saw_peer(&self, channel: &str, der: &[u8]) {
        let seen = status_of(channel, CertificateRole::Peer, der);
        *self.peer.lock().unwrap_or_else(PoisonError::into_inner) = seen;
    }

    /// Every certificate: own, CAs, then the SMSC's.
    pub fn snapshot(&self) -> Vec<CertificateStatus> {
        let peer = self
            .peer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        self.fixed.iter().cloned().chain(peer).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::Secret;
    use crate::transport::keystore::Keystore;
    use crate::transport::{KeystoreFile, TlsOptions, TlsVersion};
    use std::path::PathBuf;

    fn dev(name: &str) -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("certs/dev")
            .join(name)
    }

    fn options() -> TlsOptions {
        TlsOptions {
            version: TlsVersion::V1_2,
            server_name: None,
            trust_all: false,
        }
    }

    fn mutual_with_dev_client() -> TlsSettings {
        let path = dev("client.p12");
        let password = Secret::new("changeit");
        let contents = Keystore::load_pkcs12(&path, &password, &password).unwrap();
        TlsSettings::Mutual {
            options: options(),
            keystore: KeystoreFile { path, contents },
        }
    }

    #[test]
    fn own_and_ca_come_from_the_pkcs12_keystore() {
        let certs = ChannelCertificates::from_settings("a", &mutual_with_dev_client());
        let all = certs.snapshot();
        let roles: Vec<CertificateRole> = all.iter().map(|c| c.role).collect();
        assert_eq!(roles, vec![CertificateRole::Own, CertificateRole::Ca]);
        assert!(all[0].subject.contains("CN=smppd dev client"), "{all:?}");
        assert!(all[1].subject.contains("CN=smppd dev CA"), "{all:?}");
        // The development PKI is valid for 100 years from 2026.
        assert!(all.iter().all(|c| c.not_after > 4_000_000_000), "{all:?}");
    }

    #[test]
    fn a_plain_channel_has_none() {
        let certs = ChannelCertificates::from_settings("a", &TlsSettings::Off);
        assert!(certs.snapshot().is_empty());
        let single = TlsSettings::Single {
            options: options(),
            keystore: None,
        };
        assert!(ChannelCertificates::from_settings("a", &single)
            .snapshot()
            .is_empty());
    }

    #[test]
    fn the_peer_is_the_last_one_seen_and_garbage_is_skipped() {
        let certs = ChannelCertificates::default();
        let pem = std::fs::read_to_string(dev("server.pem")).unwrap();
        let der = pem_to_der(&pem);
        certs.saw_peer("a", &der);
        let all = certs.snapshot();
        assert_eq!(all.len(), 1);
        assert_eq!(all[0].role, CertificateRole::Peer);
        assert!(all[0].subject.contains("CN=localhost"), "{all:?}");
        certs.saw_peer("a", b"\x30\x03\x02\x01\x00");
        assert!(certs.snapshot().is_empty());
    }

    fn pem_to_der(pem: &str) -> Vec<u8> {
        use base64::Engine as _;
        let body: String = pem
            .lines()
            .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE"))
            .skip(1)
            .take_while(|l| !l.starts_with("-----END"))
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap()
    }
}
