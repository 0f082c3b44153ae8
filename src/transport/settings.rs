//! TLS settings of one channel as types: what `x-smpp-tls-mode`, `x-smpp-tls-version`, the
//! keystore options and the server-name / trust-all switches become once validated.
//!
//! The configuration layer builds these (loading the keystore once); [`super::Connector::new`]
//! turns them into a TLS client context, also once, at channel initialisation.

use std::fmt;
use std::path::PathBuf;

use super::keystore::Keystore;

/// The TLS protocol version a channel speaks (`x-smpp-tls-version`).
///
/// Each value pins exactly one version: an SMSC that only speaks another one is reported as
/// such rather than silently negotiated down or up.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum TlsVersion {
    /// TLS 1.1: only with the `tls11` cargo feature (OpenSSL); rustls cannot speak it.
    V1_1,
    /// TLS 1.2, the driver's default.
    #[default]
    V1_2,
    /// TLS 1.3.
    V1_3,
}

impl TlsVersion {
    /// The spelling used in configuration and logs (`1.1`, `1.2`, `1.3`).
    pub fn as_str(self) -> &'static str {
        match self {
            TlsVersion::V1_1 => "1.1",
            TlsVersion::V1_2 => "1.2",
            TlsVersion::V1_3 => "1.3",
        }
    }

    /// Parses the `x-smpp-tls-version` value; `None` for anything else.
    pub fn parse(value: &str) -> Option<TlsVersion> {
        match value.trim() {
            "1.1" => Some(TlsVersion::V1_1),
            "1.2" => Some(TlsVersion::V1_2),
            "1.3" => Some(TlsVersion::V1_3),
            _ => None,
        }
    }
}

impl fmt::Display for TlsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The `x-smpp-tls-mode` of a channel without its parameters: what logs and error
/// classification need to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TlsMode {
    /// Plain TCP.
    Off,
    /// TLS; we verify the SMSC's certificate.
    Single,
    /// TLS; we verify the SMSC's certificate and present our own.
    Mutual,
}

impl TlsMode {
    /// The configuration spelling (`off`, `single`, `mutual`).
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Off => "off",
            TlsMode::Single => "single",
            TlsMode::Mutual => "mutual",
        }
    }
}

/// A keystore as read at channel initialisation, with the file it came from for error messages.
pub struct KeystoreFile {
    /// The `x-smpp-tls-path-to-certificate` file.
    pub path: PathBuf,
    /// What it held.
    pub contents: Keystore,
}

impl fmt::Debug for KeystoreFile {
    // By hand: the keystore type does not implement Debug, and key bytes must never be printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeystoreFile")
            .field("path", &self.path)
            .field("chain_len", &self.contents.chain.len())
            .field("has_key", &self.contents.key.is_some())
            .field("trusted_len", &self.contents.trusted.len())
            .finish()
    }
}

/// Options shared by the two TLS modes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// The pinned protocol version.
    pub version: TlsVersion,
    /// The name to verify the SMSC certificate against and to send as SNI, when
    /// `x-smpp-host` is an IP address or a load balancer whose name is not in the certificate.
    /// `None` verifies against `x-smpp-host` itself.
    pub server_name: Option<String>,
    /// Lab switch: accept any SMSC certificate. Every connection then logs a warning.
    pub trust_all: bool,
}

/// How a channel secures its link to the SMSC: a reason for each choice, not a bool.
///
/// A channel in `Single` or `Mutual` never falls back to plain TCP.
#[derive(Debug)]
pub enum TlsSettings {
    /// `x-smpp-tls-mode = off`: plain TCP.
    Off,
    /// `single`: verify the SMSC. With a keystore, trust ONLY its `trusted` certificates;
    /// without one, trust the operating system's store.
    Single {
        /// Version, server name and trust-all switch.
        options: TlsOptions,
        /// Where the trusted certificates come from, if not the operating system.
        keystore: Option<KeystoreFile>,
    },
    /// `mutual`: as `Single`, and present the keystore's certificate chain and key.
    Mutual {
        /// Version, server name and trust-all switch.
        options: TlsOptions,
        /// Our identity, and the certificates we trust.
        keystore: KeystoreFile,
    },
}

impl TlsSettings {
    /// The mode without its parameters.
    pub fn mode(&self) -> TlsMode {
        match self {
            TlsSettings::Off => TlsMode::Off,
            TlsSettings::Single { .. } => TlsMode::Single,
            TlsSettings::Mutual { .. } => TlsMode::Mutual,
        }
    }

    /// The TLS options, `None` for plain TCP.
    pub fn options(&self) -> Option<&TlsOptions> {
        match self {
            TlsSettings::Off => None,
            TlsSettings::Single { options, .. } | TlsSettings::Mutual { options, .. } => {
                Some(options)
            }
        }
    }

    /// The keystore, if any.
    pub fn keystore(&self) -> Option<&KeystoreFile> {
        match self {
            TlsSettings::Off => None,
            TlsSettings::Single { keystore, .. } => keystore.as_ref(),
            TlsSettings::Mutual { keystore, .. } => Some(keystore),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_print_as_configured() {
        for v in [TlsVersion::V1_1, TlsVersion::V1_2, TlsVersion::V1_3] {
            assert_eq!(TlsVersion::parse(v.as_str()), Some(v));
        }
        assert_eq!(TlsVersion::default(), TlsVersion::V1_2);
        assert_eq!(TlsVersion::parse("1.0"), None);
    }
}
