//! Optional bearer-token authentication (`[http] bearer-token`).
//!
//! The configured token is kept only as its SHA-256 digest, and a presented token is hashed
//! before a constant-time comparison: neither the token's content nor its length can be
//! learnt from response timing.

use crate::secret::Secret;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use subtle::ConstantTimeEq;

/// Why a request was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("missing Authorization header: send `Authorization: Bearer <token>`")]
    Missing,
    /// A header that is not `Bearer <token>`.
    #[error("malformed Authorization header: expected `Bearer <token>`")]
    Malformed,
    /// A token that does not match.
    #[error("invalid bearer token")]
    Invalid,
}

impl AuthError {
    /// A stable word for logs.
    pub fn reason(&self) -> &'static str {
        match self {
            AuthError::Missing => "missing",
            AuthError::Malformed => "malformed",
            AuthError::Invalid => "invalid",
        }
    }
}

/// How often at most a refused request is logged: a client retrying a wrong token in a loop
/// (or someone guessing) must not flood the log, and every refusal is still counted.
pub const AUTH_LOG_EVERY: Duration = Duration::from_secs(10);

/// Counts refused requests and says when one log line (with the count) is due: the first
/// refusal at once, then at most one line per [`AUTH_LOG_EVERY`], each counting the refusals
/// since the previous line. Refusals after the last line are told with the next one.
#[derive(Debug, Default)]
pub struct AuthFailures {
    window: Mutex<FailureWindow>,
}

#[derive(Debug, Default)]
struct FailureWindow {
    last_line: Option<Instant>,
    unlogged: u64,
}

impl AuthFailures {
    /// Records one refusal at `now`; `Some(n)` when a line is due, `n` refusals counting
    /// this one.
    pub fn record(&self, now: Instant) -> Option<u64> {
        let mut w = self
            .window
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        w.unlogged += 1;
        let due = w
            .last_line
            .is_none_or(|last| now.saturating_duration_since(last) >= AUTH_LOG_EVERY);
        if !due {
            return None;
        }
        w.last_line = Some(now);
        Some(std::mem::take(&mut w.unlogged))
    }
}

/// The check for one API: either open, or guarded by one token.
#[derive(Clone)]
pub struct BearerAuth {
    digest: Option<[u8; 32]>,
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

impl BearerAuth {
    /// Guards with `token`, or lets everything through when `None`.
    pub fn new(token: Option<&Secret>) -> Self {
        BearerAuth {
            digest: token.map(|t| sha256(t.expose().as_bytes())),
        }
    }

    /// Whether a token is required at all.
    pub fn enabled(&self) -> bool {
        self.digest.is_some()
    }

    /// Checks the raw value of an `Authorization` header.
    pub fn check(&self, header: Option<&[u8]>) -> Result<(), AuthError> {
        let Some(expected) = &self.digest else {
            return Ok(());
        };
        let header = header.ok_or(AuthError::Missing)?;
        // RFC 7235: the scheme is case-insensitive; one or more spaces follow it.
        let (scheme, token) = match header.iter().position(|&b| b == b' ') {
            Some(i) => (&header[..i], header[i..].trim_ascii_start()),
            None => return Err(AuthError::Malformed),
        };
        if !scheme.eq_ignore_ascii_case(b"bearer") || token.is_empty() {
            return Err(AuthError::Malformed);
        }
        if bool::from(sha256(token).ct_eq(expected)) {
            Ok(())
        } else {
            Err(AuthError::Invalid)
        }
    }
}

impl std::fmt::Debug for BearerAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Not even the digest: it would allow offline guessing of a weak token.
        f.debug_struct("BearerAuth")
            .field("enabled", &self.enabled())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_when_no_token() {
        let auth = BearerAuth::new(None);
        assert!(!auth.enabled());
        assert_eq!(auth.check(None), Ok(()));
    }

    #[test]
    fn refusals_are_logged_at_most_once_per_window_and_all_counted() {
        let failures = AuthFailures::default();
        let t0 = Instant::now();
        assert_eq!(failures.record(t0), Some(1), "the first at once");
        for i in 1..=5 {
            assert_eq!(failures.record(t0 + Duration::from_secs(i)), None);
        }
        assert_eq!(
            failures.record(t0 + AUTH_LOG_EVERY),
            Some(6),
            "the five held back and this one"
        );
        assert_eq!(failures.record(t0 + AUTH_LOG_EVERY), None);
        assert_eq!(failures.record(t0 + AUTH_LOG_EVERY * 3), Some(2));
    }

    #[test]
    fn token_checks() {
        let secret = Secret::new("s3cr3t-token");
        let auth = BearerAuth::new(Some(&secret));
        assert_eq!(auth.check(Some(b"Bearer s3cr3t-token")), Ok(()));
        assert_eq!(auth.check(Some(b"bearer   s3cr3t-token")), Ok(()));
        assert_eq!(auth.check(None), Err(AuthError::Missing));
        assert_eq!(auth.check(Some(b"Basic abc")), Err(AuthError::Malformed));
        assert_eq!(auth.check(Some(b"Bearer")), Err(AuthError::Malformed));
        assert_eq!(auth.check(Some(b"Bearer ")), Err(AuthError::Malformed));
        assert_eq!(
            auth.check(Some(b"Bearer s3cr3t-tokeN")),
            Err(AuthError::Invalid)
        );
        assert_eq!(auth.check(Some(b"Bearer s3cr3t")), Err(AuthError::Invalid));
        assert!(!format!("{auth:?}").contains("s3cr3t"));
    }
}
