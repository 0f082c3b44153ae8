//! The transport layer's errors: [`InitError`] when a channel's TLS context cannot be built,
//! [`TransportError`] when a connection cannot be opened or dies before the first PDU.
//!
//! Both surface at the supervisor, which assigns the log codes (`supervisor::ChannelFailure`).
//! Each variant has a stable machine-readable [`TransportError::reason`] and a human detail.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::keystore::KeystoreError;
use super::settings::TlsVersion;

/// The step of opening a channel at which a failure happened (the `phase` log field).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Building the TLS context from the keystore and settings, at channel initialisation.
    TlsInit,
    /// Resolving the host and opening TCP.
    Connect,
    /// The TLS handshake.
    Handshake,
    /// Waiting for the bind response (also where TLS 1.3 certificate rejections show).
    Bind,
    /// After the bind, while the session runs.
    Session,
}

impl Phase {
    /// The `phase` field value.
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::TlsInit => "tls_init",
            Phase::Connect => "connect",
            Phase::Handshake => "handshake",
            Phase::Bind => "bind",
            Phase::Session => "session",
        }
    }
}

/// Why a channel's TLS context could not be built. Not retried: the configuration or the
/// keystore must be fixed first.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    /// The keystore could not be read. Displays exactly as the keystore error (the 43010 text).
    #[error("{source}")]
    Keystore {
        /// The keystore file.
        path: PathBuf,
        /// What went wrong.
        source: KeystoreError,
    },
    /// Mutual mode without a private key to present.
    #[error("keystore {path} holds no private key, which mutual mode needs", path = path.display())]
    NoPrivateKey {
        /// The keystore file.
        path: PathBuf,
    },
    /// Mutual mode with a key but no certificate to present.
    #[error("keystore {path} holds no certificate for its private key", path = path.display())]
    NoCertificateChain {
        /// The keystore file.
        path: PathBuf,
    },
    /// Nothing to trust: an empty keystore trust list, or an empty operating-system store.
    #[error("no trusted certificate: {detail}")]
    EmptyTrustStore {
        /// Where we looked.
        detail: String,
    },
    /// A certificate or key that the TLS library refuses.
    #[error("unusable certificate or key in {source_name}: {detail}")]
    BadCertificate {
        /// The keystore file, or `operating system store`.
        source_name: String,
        /// The library's complaint.
        detail: String,
    },
    /// `x-smpp-tls-version = 1.1` in a build without OpenSSL.
    #[error(
        "TLS 1.1 is not supported by this build (rustls cannot speak it); \
         rebuild with `cargo build --features tls11` or use 1.2"
    )]
    Tls11Unavailable,
    /// The server-name override is neither a DNS name nor an IP address.
    #[error("invalid TLS server name {name:?}")]
    InvalidServerName {
        /// The configured value.
        name: String,
    },
    /// The TLS library refused the configuration (e.g. no cipher suite for the version).
    #[error("TLS setup failed: {detail}")]
    Setup {
        /// The library's complaint.
        detail: String,
    },
}

impl InitError {
    /// A stable machine-readable reason.
    pub fn reason(&self) -> &'static str {
        match self {
            InitError::Keystore { source, .. } => source.reason(),
            InitError::NoPrivateKey { .. } => "no_private_key",
            InitError::NoCertificateChain { .. } => "no_certificate_chain",
            InitError::EmptyTrustStore { .. } => "empty_trust_store",
            InitError::BadCertificate { .. } => "bad_certificate",
            InitError::Tls11Unavailable => "tls11_unavailable",
            InitError::InvalidServerName { .. } => "invalid_server_name",
            InitError::Setup { .. } => "tls_setup",
        }
    }

    /// The detail for logs: the message, with the keystore path when the message lacks it.
    pub fn detail(&self) -> String {
        match self {
            InitError::Keystore { path, source } => format!("{}: {source}", path.display()),
            other => other.to_string(),
        }
    }
}

/// What is wrong with the SMSC's certificate, from our point of view.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CertProblem {
    /// It does not chain to any certificate we trust.
    UnknownIssuer,
    /// It has expired.
    Expired,
    /// It is not valid yet.
    NotYetValid,
    /// It is not issued for the name we expected.
    WrongHostName {
        /// The name we checked.
        expected: String,
        /// The names in the certificate, when known.
        presented: Vec<String>,
    },
    /// It has been revoked.
    Revoked,
    /// Its signature does not verify.
    BadSignature,
    /// It may not be used for a TLS server.
    WrongPurpose,
    /// Anything else the verifier said.
    Other(String),
}

impl std::fmt::Display for CertProblem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CertProblem::UnknownIssuer => f.write_str("unknown issuer"),
            CertProblem::Expired => f.write_str("expired"),
            CertProblem::NotYetValid => f.write_str("not yet valid"),
            CertProblem::WrongHostName {
                expected,
                presented,
            } if presented.is_empty() => {
                write!(f, "wrong host name: not valid for {expected}")
            }
            CertProblem::WrongHostName {
                expected,
                presented,
            } => write!(
                f,
                "wrong host name: not valid for {expected}, only for {}",
                presented.join(", ")
            ),
            CertProblem::Revoked => f.write_str("revoked"),
            CertProblem::BadSignature => f.write_str("bad signature"),
            CertProblem::WrongPurpose => f.write_str("not a TLS server certificate"),
            CertProblem::Other(detail) => f.write_str(detail),
        }
    }
}

/// Where a rejection of our certificate became visible.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RejectionSeen {
    /// During the handshake (TLS 1.1/1.2: the server checks before its Finished).
    Handshake,
    /// On the first read after a successful handshake (TLS 1.3: the server checks after the
    /// client has finished, so the alert or close arrives where the bind response should).
    FirstRead,
}

/// Why a connection to the SMSC could not be opened, or died before its first PDU.
/// All are retried by the supervisor.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The host name did not resolve.
    #[error("cannot resolve {host}: {detail}")]
    Dns {
        /// `x-smpp-host`.
        host: String,
        /// The resolver's complaint.
        detail: String,
    },
    /// Nothing listens on the port (TCP RST).
    #[error("connection to {address} refused")]
    ConnectRefused {
        /// The address tried last.
        address: SocketAddr,
    },
    /// TCP connect did not complete in time.
    #[error("connection to {address} timed out after {} ms", timeout.as_millis())]
    ConnectTimedOut {
        /// The address tried last.
        address: SocketAddr,
        /// The connect timeout.
        timeout: Duration,
    },
    /// Another TCP connect error (unreachable network, ...). The socket error is the
    /// `source`, so it appears once in a cause chain, not twice.
    #[error("cannot connect to {address}")]
    ConnectFailed {
        /// The address tried last.
        address: SocketAddr,
        /// The socket error.
        source: io::Error,
    },
    /// The SMSC's certificate failed verification.
    #[error("SMSC certificate of {address} not trusted for {server_name}: {problem}")]
    ServerCertUntrusted {
        /// The SMSC.
        address: SocketAddr,
        /// The name we verified against.
        server_name: String,
        /// What is wrong with it.
        problem: CertProblem,
    },
    /// Mutual mode: the SMSC refused our certificate (alert, or closed the connection).
    #[error("SMSC {address} rejected our certificate ({detail})")]
    ClientCertRejected {
        /// The SMSC.
        address: SocketAddr,
        /// During the handshake or on the first read.
        seen: RejectionSeen,
        /// The alert, EOF or reset seen.
        detail: String,
    },
    /// The SMSC does not speak the pinned TLS version.
    #[error("SMSC {address} does not accept TLS {version}: {detail}")]
    VersionNotSupported {
        /// The SMSC.
        address: SocketAddr,
        /// Our pinned version.
        version: TlsVersion,
        /// The alert or error seen.
        detail: String,
    },
    /// TLS channel, but the peer does not answer like a TLS server.
    #[error(
        "SMSC {address} does not speak TLS on this port ({detail}); is x-smpp-tls-mode wrong?"
    )]
    PlainServerOnTlsChannel {
        /// The SMSC.
        address: SocketAddr,
        /// What came back instead of a ServerHello.
        detail: String,
    },
    /// Plain channel, but the peer answered with TLS records.
    #[error("SMSC {address} answered with TLS records; the SMSC probably requires TLS (set x-smpp-tls-mode)")]
    TlsServerOnPlainChannel {
        /// The SMSC.
        address: SocketAddr,
    },
    /// Any other handshake failure.
    #[error("TLS handshake with {address} failed: {detail}")]
    HandshakeFailed {
        /// The SMSC.
        address: SocketAddr,
        /// The error seen.
        detail: String,
    },
    /// The connection closed or failed after it was established, for no reason we can name.
    #[error("connection to {address} lost: {detail}")]
    LinkLost {
        /// The SMSC.
        address: SocketAddr,
        /// EOF, reset or the error seen.
        detail: String,
    },
}

impl TransportError {
    /// The transport error inside an `io::Error` returned by a [`super::Stream`] read, if any.
    pub fn from_io(err: &std::io::Error) -> Option<&TransportError> {
        err.get_ref()?.downcast_ref::<TransportError>()
    }

    /// Takes the transport error out of an `io::Error` returned by a [`super::Stream`] read;
    /// any other error is given back unchanged.
    pub fn take_from_io(err: std::io::Error) -> Result<TransportError, std::io::Error> {
        if Self::from_io(&err).is_none() {
            return Err(err);
        }
        let kind = err.kind();
        match err
            .into_inner()
            .map(|inner| inner.downcast::<TransportError>())
        {
            Some(Ok(e)) => Ok(*e),
            Some(Err(inner)) => Err(std::io::Error::new(kind, inner)),
            None => Err(std::io::Error::from(kind)),
        }
    }

    /// A stable machine-readable reason (the `reason` log field).
    pub fn reason(&self) -> &'static str {
        match self {
            TransportError::Dns { .. } => "dns_failure",
            TransportError::ConnectRefused { .. } => "connect_refused",
            TransportError::ConnectTimedOut { .. } => "connect_timeout",
            TransportError::ConnectFailed { .. } => "connect_failed",
            TransportError::ServerCertUntrusted { .. } => "server_cert_untrusted",
            TransportError::ClientCertRejected { .. } => "client_cert_rejected",
            TransportError::VersionNotSupported { .. } => "tls_version_unsupported",
            TransportError::PlainServerOnTlsChannel { .. } => "plain_server_on_tls_channel",
            TransportError::TlsServerOnPlainChannel { .. } => "tls_server_on_plain_channel",
            TransportError::HandshakeFailed { .. } => "tls_handshake_failed",
            TransportError::LinkLost { .. } => "link_lost",
        }
    }

    /// The detail for logs: the specific cause, without the general explanation.
    pub fn detail(&self) -> String {
        match self {
            TransportError::Dns { detail, .. }
            | TransportError::ClientCertRejected { detail, .. }
            | TransportError::VersionNotSupported { detail, .. }
            | TransportError::PlainServerOnTlsChannel { detail, .. }
            | TransportError::HandshakeFailed { detail, .. }
            | TransportError::LinkLost { detail, .. } => detail.clone(),
            TransportError::ServerCertUntrusted { problem, .. } => problem.to_string(),
            TransportError::ConnectFailed { source, .. } => source.to_string(),
            other => other.to_string(),
        }
    }

    /// The step at which it happened.
    pub fn phase(&self) -> Phase {
        match self {
            TransportError::Dns { .. }
            | TransportError::ConnectRefused { .. }
            | TransportError::ConnectTimedOut { .. }
            | TransportError::ConnectFailed { .. } => Phase::Connect,
            TransportError::ServerCertUntrusted { .. }
            | TransportError::VersionNotSupported { .. }
            | TransportError::PlainServerOnTlsChannel { .. }
            | TransportError::HandshakeFailed { .. } => Phase::Handshake,
            TransportError::ClientCertRejected { seen, .. } => match seen {
                RejectionSeen::Handshake => Phase::Handshake,
                RejectionSeen::FirstRead => Phase::Bind,
            },
            TransportError::TlsServerOnPlainChannel { .. } | TransportError::LinkLost { .. } => {
                Phase::Bind
            }
        }
    }
}
