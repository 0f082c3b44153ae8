//! [`KeystoreWarning`]: certificate validity problems worth telling the operator about. They
//! are data, not log lines: the supervisor decides how and when to log them.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::certificate::{format_time, CertificateFacts};

/// How close to expiry our own certificate must be before we warn.
pub const EXPIRY_WARNING: Duration = Duration::from_secs(30 * 24 * 60 * 60);

/// A certificate validity problem found in a keystore.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeystoreWarning {
    /// The certificate's validity ended before now.
    Expired {
        /// Subject of the certificate.
        subject: String,
        /// End of validity, `YYYY-MM-DD HH:MM:SS UTC`.
        not_after: String,
    },
    /// The certificate's validity starts after now (often a clock problem).
    NotYetValid {
        /// Subject of the certificate.
        subject: String,
        /// Start of validity, `YYYY-MM-DD HH:MM:SS UTC`.
        not_before: String,
    },
    /// Our own certificate expires within [`EXPIRY_WARNING`].
    ExpiresSoon {
        /// Subject of our certificate.
        subject: String,
        /// End of validity, `YYYY-MM-DD HH:MM:SS UTC`.
        not_after: String,
        /// Whole days left.
        days_left: u64,
    },
}

impl KeystoreWarning {
    /// A stable machine-readable reason.
    pub fn reason(&self) -> &'static str {
        match self {
            KeystoreWarning::Expired { .. } => "certificate_expired",
            KeystoreWarning::NotYetValid { .. } => "certificate_not_yet_valid",
            KeystoreWarning::ExpiresSoon { .. } => "certificate_expires_soon",
        }
    }
}

impl fmt::Display for KeystoreWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeystoreWarning::Expired { subject, not_after } => {
                write!(f, "certificate {subject} expired on {not_after}")
            }
            KeystoreWarning::NotYetValid {
                subject,
                not_before,
            } => {
                write!(f, "certificate {subject} is not valid before {not_before}")
            }
            KeystoreWarning::ExpiresSoon {
                subject,
                not_after,
                days_left,
            } => write!(
                f,
                "our certificate {subject} expires on {not_after}, in {days_left} days"
            ),
        }
    }
}

/// Checks one certificate against `now`; `own` adds the expiring-soon check.
pub(crate) fn check(
    facts: &CertificateFacts,
    now: SystemTime,
    own: bool,
) -> Option<KeystoreWarning> {
    let now = unix(now);
    if facts.not_after < now {
        return Some(KeystoreWarning::Expired {
            subject: facts.subject.clone(),
            not_after: format_time(facts.not_after),
        });
    }
    if facts.not_before > now {
        return Some(KeystoreWarning::NotYetValid {
            subject: facts.subject.clone(),
            not_before: format_time(facts.not_before),
        });
    }
    let left = facts.not_after.saturating_sub(now);
    let window = i64::try_from(EXPIRY_WARNING.as_secs()).unwrap_or(i64::MAX);
    if own && left < window {
        return Some(KeystoreWarning::ExpiresSoon {
            subject: facts.subject.clone(),
            not_after: format_time(facts.not_after),
            days_left: u64::try_from(left / 86_400).unwrap_or(0),
        });
    }
    None
}

/// Seconds since the epoch; times before it count as negative.
fn unix(t: SystemTime) -> i64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_secs()).unwrap_or(i64::MAX),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cert(not_before: i64, not_after: i64) -> CertificateFacts {
        CertificateFacts {
            subject: "CN=x".into(),
            issuer: "CN=x".into(),
            serial: String::new(),
            not_before,
            not_after,
            subject_raw: vec![],
            issuer_raw: vec![],
            spki: vec![],
        }
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn validity_checks() {
        let day = 86_400;
        let c = cert(10 * day, 100 * day);
        assert_eq!(check(&c, at(50 * day as u64), true), None);
        assert_eq!(
            check(&c, at(101 * day as u64), true).map(|w| w.reason()),
            Some("certificate_expired")
        );
        assert_eq!(
            check(&c, at(day as u64), false).map(|w| w.reason()),
            Some("certificate_not_yet_valid")
        );
        let soon = check(&c, at(90 * day as u64), true);
        assert!(
            matches!(
                soon,
                Some(KeystoreWarning::ExpiresSoon { days_left: 10, .. })
            ),
            "{soon:?}"
        );
        assert_eq!(check(&c, at(90 * day as u64), false), None);
    }
}
