//! [`PasswordHash`]: the Argon2id hash an SMPP server user's password is checked against.
//!
//! The configuration never holds a user's password, only its hash as a PHC string
//! (`$argon2id$v=19$m=19456,t=2,p=1$SALT$HASH`), which `smppd hash-password` prints. Only
//! Argon2id is accepted: Argon2i and Argon2d each give up one of its two defences (against
//! side channels and against GPU cracking), bcrypt truncates passwords at 72 bytes, and a
//! plaintext password in the file is exactly what the hash is there to avoid.
//!
//! The cost parameters are read from the hash, so a hostile or careless file could make every
//! bind cost seconds of CPU or gigabytes of memory. [`PasswordHash::parse`] bounds them:
//! memory at most [`MAX_MEMORY_KIB`] KiB, at most [`MAX_ITERATIONS`] passes, at most
//! [`MAX_LANES`] lanes, and memory × passes at most [`MAX_MEMORY_PASSES_KIB`] (about a quarter
//! of a second of one core), so even the dearest accepted hash keeps a bind cheap.
//!
//! May depend on `crate::secret` only.

use std::fmt;

use argon2::password_hash::{PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::secret::{Secret, REDACTED};

/// The most memory a hash may ask for, in KiB (256 MiB).
pub const MAX_MEMORY_KIB: u32 = 262_144;
/// The most passes over that memory a hash may ask for.
pub const MAX_ITERATIONS: u32 = 10;
/// The most lanes a hash may ask for. This build computes them one after the other, so lanes
/// add no speed, only a bound on what a hash from elsewhere may say.
pub const MAX_LANES: u32 = 4;
/// The most memory × passes a hash may ask for, in KiB: the work of one verification. The
/// hashes `smppd hash-password` writes cost 38912; RFC 9106's second recommendation
/// (64 MiB, 3 passes) costs 196608.
pub const MAX_MEMORY_PASSES_KIB: u32 = 262_144;

/// The parameters `smppd hash-password` uses: OWASP's recommendation for Argon2id
/// (19 MiB, 2 passes, 1 lane), tens of milliseconds per verification.
pub const HASH_MEMORY_KIB: u32 = 19_456;
/// See [`HASH_MEMORY_KIB`].
pub const HASH_ITERATIONS: u32 = 2;
/// See [`HASH_MEMORY_KIB`].
pub const HASH_LANES: u32 = 1;

/// The salt length of new hashes, in bytes (RFC 9106 recommends 16).
const SALT_BYTES: usize = 16;

/// Why a string is not an acceptable password hash. No text holds the string itself: it may
/// be a plaintext password written where its hash belongs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordHashError {
    /// The string is empty.
    #[error("is empty: run `smppd hash-password` and write its output here")]
    Empty,
    /// Not a PHC string at all: most likely a plaintext password.
    #[error(
        "is not an Argon2id PHC string ($argon2id$v=19$m=...,t=...,p=...$SALT$HASH); a plaintext \
         password is refused: run `smppd hash-password` and write its output here"
    )]
    NotPhc,
    /// A bcrypt hash (`$2a$`, `$2b$`, `$2y$`).
    #[error(
        "is a bcrypt hash: only Argon2id ($argon2id$...) is accepted; run `smppd hash-password`"
    )]
    Bcrypt,
    /// An Argon2 hash of another variant.
    #[error("is an {variant} hash: only Argon2id ($argon2id$...) is accepted; run `smppd hash-password`")]
    OtherArgon2 {
        /// `argon2i` or `argon2d`.
        variant: &'static str,
    },
    /// A PHC string of another algorithm (scrypt, PBKDF2...).
    #[error(
        "names an algorithm other than Argon2id: only $argon2id$... is accepted; run `smppd hash-password`"
    )]
    OtherAlgorithm,
    /// An Argon2id hash of a version other than 1.3 (`v=19`).
    #[error("is not Argon2 version 1.3: it must say v=19")]
    Version,
    /// The parameters, salt or output are missing or malformed.
    #[error("is a malformed Argon2id hash: {0}")]
    Malformed(&'static str),
    /// A parameter above its bound.
    #[error("asks for {param}={value}, above the bound of {max}: a bind would cost too much")]
    TooCostly {
        /// `m`, `t`, `p` or `m×t`.
        param: &'static str,
        /// The value the hash asks for.
        value: u64,
        /// The bound.
        max: u64,
    },
    /// Hashing a new password failed (the system's random source, or a password longer than
    /// Argon2 takes).
    #[error("cannot hash the password: {0}")]
    Hashing(&'static str),
}

/// A parsed Argon2id PHC string whose parameters are within the bounds of this module.
///
/// Its `Debug` form never shows the hash: a leaked hash can be attacked offline.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash {
    /// The PHC string, checked by [`PasswordHash::parse`].
    phc: String,
}

impl PasswordHash {
    /// Parses and checks `text`: an Argon2id (`$argon2id$v=19$...`) PHC string with a salt, a
    /// hash output and parameters within this module's bounds.
    pub fn parse(text: &str) -> Result<PasswordHash, PasswordHashError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(PasswordHashError::Empty);
        }
        if ["$2a$", "$2b$", "$2x$", "$2y$"]
            .iter()
            .any(|p| text.starts_with(p))
        {
            return Err(PasswordHashError::Bcrypt);
        }
        if !text.starts_with('$') {
            return Err(PasswordHashError::NotPhc);
        }
        let parsed = argon2::PasswordHash::new(text).map_err(|_| PasswordHashError::NotPhc)?;
        match parsed.algorithm.as_str() {
            "argon2id" => {}
            "argon2i" => return Err(PasswordHashError::OtherArgon2 { variant: "argon2i" }),
            "argon2d" => return Err(PasswordHashError::OtherArgon2 { variant: "argon2d" }),
            _ => return Err(PasswordHashError::OtherAlgorithm),
        }
        if parsed.version != Some(19) {
            return Err(PasswordHashError::Version);
        }
        if parsed.salt.is_none() {
            return Err(PasswordHashError::Malformed("it has no salt"));
        }
        if parsed.hash.is_none() {
            return Err(PasswordHashError::Malformed("it has no hash output"));
        }
        let params = Params::try_from(&parsed)
            .map_err(|_| PasswordHashError::Malformed("its m, t or p parameter is not valid"))?;
        check_bound("m", params.m_cost(), MAX_MEMORY_KIB)?;
        check_bound("t", params.t_cost(), MAX_ITERATIONS)?;
        check_bound("p", params.p_cost(), MAX_LANES)?;
        let work = u64::from(params.m_cost()) * u64::from(params.t_cost());
        if work > u64::from(MAX_MEMORY_PASSES_KIB) {
            return Err(PasswordHashError::TooCostly {
                param: "m×t",
                value: work,
                max: u64::from(MAX_MEMORY_PASSES_KIB),
            });
        }
        Ok(PasswordHash {
            phc: text.to_string(),
        })
    }

    /// Whether `password` is the one this hash was made from. The comparison of the outputs
    /// is constant-time.
    ///
    /// This costs up to [`MAX_MEMORY_PASSES_KIB`] KiB of memory passes (tens of milliseconds
    /// for the hashes `smppd hash-password` writes): callers on an async runtime run it on a
    /// blocking thread (`tokio::task::spawn_blocking`), never on a runtime worker.
    pub fn verify(&self, password: &Secret) -> bool {
        // Parsed again rather than kept parsed: `argon2::PasswordHash` borrows its text, and
        // parsing is microseconds beside the hashing.
        let Ok(parsed) = argon2::PasswordHash::new(&self.phc) else {
            return false;
        };
        Argon2::default()
            .verify_password(password.expose().as_bytes(), &parsed)
            .is_ok()
    }

    /// A new Argon2id PHC string for `password`, with a random 16-byte salt from the operating
    /// system and the parameters [`HASH_MEMORY_KIB`], [`HASH_ITERATIONS`], [`HASH_LANES`].
    pub fn hash(password: &Secret) -> Result<String, PasswordHashError> {
        use ring::rand::SecureRandom;
        let mut salt = [0u8; SALT_BYTES];
        ring::rand::SystemRandom::new()
            .fill(&mut salt)
            .map_err(|_| PasswordHashError::Hashing("the system's random source failed"))?;
        let salt = SaltString::encode_b64(&salt)
            .map_err(|_| PasswordHashError::Hashing("the salt cannot be encoded"))?;
        let params = Params::new(HASH_MEMORY_KIB, HASH_ITERATIONS, HASH_LANES, None)
            .map_err(|_| PasswordHashError::Hashing("the parameters are not valid"))?;
        let hash = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(password.expose().as_bytes(), &salt)
            .map_err(|_| PasswordHashError::Hashing("Argon2 refused the password"))?;
        Ok(hash.to_string())
    }
}

fn check_bound(param: &'static str, value: u32, max: u32) -> Result<(), PasswordHashError> {
    if value > max {
        return Err(PasswordHashError::TooCostly {
            param,
            value: u64::from(value),
            max: u64::from(max),
        });
    }
    Ok(())
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PasswordHash({REDACTED})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Hashes with cheap parameters (m=64, t=1): the tests check the logic, not the cost.
    fn cheap_hash(password: &str) -> String {
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let params = Params::new(64, 1, 1, None).unwrap();
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(password.as_bytes(), &salt)
            .unwrap()
            .to_string()
    }

    #[test]
    fn a_new_hash_verifies_its_password_only() {
        let phc = PasswordHash::hash(&Secret::new("correct horse")).unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        let hash = PasswordHash::parse(&phc).unwrap();
        assert!(hash.verify(&Secret::new("correct horse")));
        assert!(!hash.verify(&Secret::new("correct hors")));
        assert!(!hash.verify(&Secret::new("")));
        let again = PasswordHash::hash(&Secret::new("correct horse")).unwrap();
        assert_ne!(phc, again, "each hash has its own salt");
    }

    #[test]
    fn a_hash_from_elsewhere_verifies() {
        let hash = PasswordHash::parse(&cheap_hash("s3cret")).unwrap();
        assert!(hash.verify(&Secret::new("s3cret")));
        assert!(!hash.verify(&Secret::new("S3cret")));
    }

    #[test]
    fn other_forms_are_refused_without_being_quoted() {
        let argon2id = cheap_hash("pw");
        let cases = [
            ("", PasswordHashError::Empty),
            ("hunter2", PasswordHashError::NotPhc),
            (
                "$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW",
                PasswordHashError::Bcrypt,
            ),
            (
                &argon2id.replacen("argon2id", "argon2i", 1),
                PasswordHashError::OtherArgon2 { variant: "argon2i" },
            ),
            (
                &argon2id.replacen("argon2id", "argon2d", 1),
                PasswordHashError::OtherArgon2 { variant: "argon2d" },
            ),
            (
                "$scrypt$ln=16,r=8,p=1$aM15713r3Xsvxbi31lqr1Q$nFNh2CVHVjNldFVKDHDlm4CbdRSCdEBsjjJxD+iCs5E",
                PasswordHashError::OtherAlgorithm,
            ),
            (
                &argon2id.replacen("v=19", "v=16", 1),
                PasswordHashError::Version,
            ),
            (
                &argon2id.replacen("$v=19", "", 1),
                PasswordHashError::Version,
            ),
            (
                "$argon2id$v=19$m=64,t=1,p=1$MDEyMzQ1Njc4OWFiY2RlZg",
                PasswordHashError::Malformed("it has no hash output"),
            ),
        ];
        for (text, expected) in cases {
            let e = PasswordHash::parse(text).unwrap_err();
            assert_eq!(e, expected, "{text}");
            let message = e.to_string();
            assert!(!message.contains("hunter2"), "{message}");
            assert!(!message.contains("MDEyMzQ1"), "{message}");
        }
    }

    #[test]
    fn a_plaintext_that_looks_like_phc_is_not_quoted() {
        let e = PasswordHash::parse("$hunter2$x").unwrap_err();
        assert!(!e.to_string().contains("hunter2"), "{e}");
    }

    #[test]
    fn costly_parameters_are_refused() {
        let argon2id = cheap_hash("pw");
        let with = |params: &str| argon2id.replacen("m=64,t=1,p=1", params, 1);
        let refused = |params: &str| PasswordHash::parse(&with(params)).unwrap_err();
        assert_eq!(
            refused("m=262145,t=1,p=1"),
            PasswordHashError::TooCostly {
                param: "m",
                value: 262_145,
                max: 262_144
            }
        );
        assert!(matches!(
            refused("m=64,t=11,p=1"),
            PasswordHashError::TooCostly { param: "t", .. }
        ));
        assert!(matches!(
            refused("m=64,t=1,p=5"),
            PasswordHashError::TooCostly { param: "p", .. }
        ));
        assert!(matches!(
            refused("m=65536,t=5,p=1"),
            PasswordHashError::TooCostly { param: "m×t", .. }
        ));
        assert!(
            refused("m=262145,t=1,p=1").to_string().contains("262145"),
            "the bound is named"
        );
        // At the bounds, and RFC 9106's second recommendation, are accepted.
        for params in ["m=262144,t=1,p=4", "m=26214,t=10,p=1", "m=65536,t=3,p=4"] {
            PasswordHash::parse(&with(params)).unwrap();
        }
    }

    #[test]
    fn debug_never_shows_the_hash() {
        let phc = cheap_hash("pw");
        let hash = PasswordHash::parse(&phc).unwrap();
        let debug = format!("{hash:?}");
        assert_eq!(debug, format!("PasswordHash({REDACTED})"));
        assert!(!debug.contains("argon2"), "{debug}");
    }
}
