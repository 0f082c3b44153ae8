//! What smppd needs to know about one X.509 certificate: names, serial, validity and public
//! key, read with x509-parser. Parsing happens once, when the keystore is loaded; a
//! certificate that does not parse makes the keystore unusable.

use x509_parser::prelude::{FromDer, X509Certificate};

/// The facts about one certificate that keystore assembly, warnings and `inspect` use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateFacts {
    /// Subject distinguished name, e.g. `CN=localhost, O=smppd dev`.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// Serial number in colon-separated hex.
    pub serial: String,
    /// Start of validity, seconds since the Unix epoch.
    pub not_before: i64,
    /// End of validity, seconds since the Unix epoch.
    pub not_after: i64,
    pub(crate) subject_raw: Vec<u8>,
    pub(crate) issuer_raw: Vec<u8>,
    /// The full SubjectPublicKeyInfo DER, compared with the private key's.
    pub(crate) spki: Vec<u8>,
}

impl CertificateFacts {
    /// Parses a DER certificate; the error says what failed.
    pub fn parse(der: &[u8]) -> Result<CertificateFacts, String> {
        let (_, cert) =
            X509Certificate::from_der(der).map_err(|e| format!("X.509 certificate: {e}"))?;
        let validity = cert.validity();
        Ok(CertificateFacts {
            subject: cert.subject().to_string(),
            issuer: cert.issuer().to_string(),
            serial: cert.raw_serial_as_string(),
            not_before: validity.not_before.timestamp(),
            not_after: validity.not_after.timestamp(),
            subject_raw: cert.subject().as_raw().to_vec(),
            issuer_raw: cert.issuer().as_raw().to_vec(),
            spki: cert.public_key().raw.to_vec(),
        })
    }

    /// Whether the certificate names itself as its issuer (a root, or a self-signed leaf).
    pub fn is_self_issued(&self) -> bool {
        self.subject_raw == self.issuer_raw
    }
}

/// Orders certificates from `leaf` up by issuer name, stopping at a self-issued certificate,
/// a missing issuer or a loop. Returns indexes into `certs`.
pub(crate) fn chain_from(leaf: usize, certs: &[CertificateFacts]) -> Vec<usize> {
    let mut chain = vec![leaf];
    let mut current = leaf;
    while let Some(cert) = certs.get(current) {
        if cert.is_self_issued() {
            break;
        }
        let issuer = certs
            .iter()
            .enumerate()
            .position(|(i, c)| !chain.contains(&i) && c.subject_raw == cert.issuer_raw);
        match issuer {
            Some(i) => {
                chain.push(i);
                current = i;
            }
            None => break,
        }
    }
    chain
}

/// Formats seconds since the epoch as `YYYY-MM-DD HH:MM:SS UTC`, the form warnings use.
pub fn format_time(unix: i64) -> String {
    match x509_parser::time::ASN1Time::from_timestamp(unix) {
        Ok(t) => {
            let d = t.to_datetime();
            format!(
                "{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC",
                d.year(),
                u8::from(d.month()),
                d.day(),
                d.hour(),
                d.minute(),
                d.second()
            )
        }
        Err(_) => format!("{unix} seconds after the epoch"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(subject: &str, issuer: &str) -> CertificateFacts {
        CertificateFacts {
            subject: subject.into(),
            issuer: issuer.into(),
            serial: String::new(),
            not_before: 0,
            not_after: 0,
            subject_raw: subject.as_bytes().to_vec(),
            issuer_raw: issuer.as_bytes().to_vec(),
            spki: Vec::new(),
        }
    }

    #[test]
    fn chain_follows_issuers_and_stops_at_root() {
        let certs = [
            facts("root", "root"),
            facts("leaf", "mid"),
            facts("mid", "root"),
        ];
        assert_eq!(chain_from(1, &certs), vec![1, 2, 0]);
    }

    #[test]
    fn chain_survives_loops_and_gaps() {
        let certs = [facts("a", "b"), facts("b", "a")];
        assert_eq!(chain_from(0, &certs), vec![0, 1]);
        let lonely = [facts("a", "nobody")];
        assert_eq!(chain_from(0, &lonely), vec![0]);
        assert_eq!(chain_from(5, &lonely), vec![5]);
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(CertificateFacts::parse(b"\x30\x03\x02\x01").is_err());
        assert!(CertificateFacts::parse(&[]).is_err());
    }

    #[test]
    fn time_is_formatted_in_utc() {
        assert_eq!(format_time(0), "1970-01-01 00:00:00 UTC");
        assert_eq!(format_time(1_790_000_000), "2026-09-21 14:13:20 UTC");
    }
}
