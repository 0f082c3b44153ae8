//! Turning what the TLS library and the socket report into a [`TransportError`] that names
//! the cause an operator can act on.
//!
//! Each TLS backend (rustls, and OpenSSL with `tls11`) first reduces its errors to an
//! [`Observed`]; the decisions are then made once, here, for both: during the handshake by
//! [`classify_handshake`], and in the TLS 1.3 window after it by
//! [`classify_first_read_error`].

use std::io;
use std::net::SocketAddr;

use rustls::{AlertDescription, CertificateError};

use super::error::{CertProblem, RejectionSeen, TransportError};
use super::settings::{TlsMode, TlsVersion};

/// What kind of alert the peer sent, as far as classification cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AlertKind {
    /// protocol_version: no common TLS version.
    ProtocolVersion,
    /// handshake_failure or insufficient_security: no acceptable parameters. As the server's
    /// first record it refuses our ClientHello (version or cipher suites); after its
    /// ServerHello, in mutual mode, it refuses our certificate.
    HandshakeFailure,
    /// An alert a server sends when it does not accept the client's certificate.
    CertificateRejection,
    /// Anything else.
    Other,
}

/// A failure as a TLS backend or the socket reported it, before interpretation.
#[derive(Clone, Debug)]
pub(crate) enum Observed {
    /// Our verifier refused the server's certificate.
    ServerCertInvalid(CertProblem),
    /// The peer sent a fatal alert.
    Alert { name: String, kind: AlertKind },
    /// Our side found no TLS version in common with the server.
    NoCommonVersion(String),
    /// The peer sent bytes that are not TLS.
    Malformed(String),
    /// TCP EOF without close_notify.
    Eof,
    /// A clean TLS close (close_notify, then EOF).
    CleanClose,
    /// TCP reset or broken pipe.
    Reset(String),
    /// No answer in time.
    TimedOut(String),
    /// Anything else.
    Other(String),
}

/// What the handshake classifier needs to know besides the failure.
#[derive(Clone, Debug)]
pub(crate) struct HandshakeContext {
    pub address: SocketAddr,
    pub mode: TlsMode,
    pub version: TlsVersion,
    /// The name the SMSC certificate is verified against.
    pub server_name: String,
    /// How many bytes the server sent before the failure, and the first of them.
    pub received: u64,
    pub head: Vec<u8>,
}

/// Whether `bytes` start like a TLS record: handshake (0x16) or alert (0x15) content type,
/// then a 0x03 0x0X version.
///
/// On a plain channel this is how to recognise an SMSC that requires TLS: an SMPP PDU cannot
/// start like this, since it would announce a length above 350 MB.
pub fn looks_like_tls_record(bytes: &[u8]) -> bool {
    matches!(bytes, [0x15 | 0x16, 0x03, minor, ..] if *minor <= 0x04)
}

/// The certificate problem behind a rustls verification error.
pub(crate) fn cert_problem(err: &CertificateError) -> CertProblem {
    match err {
        CertificateError::UnknownIssuer => CertProblem::UnknownIssuer,
        CertificateError::Expired | CertificateError::ExpiredContext { .. } => CertProblem::Expired,
        CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
            CertProblem::NotYetValid
        }
        CertificateError::NotValidForName => CertProblem::WrongHostName {
            expected: String::new(),
            presented: Vec::new(),
        },
        CertificateError::NotValidForNameContext {
            expected,
            presented,
        } => CertProblem::WrongHostName {
            expected: expected.to_str().into_owned(),
            presented: presented.iter().map(|n| readable_name(n)).collect(),
        },
        CertificateError::Revoked => CertProblem::Revoked,
        CertificateError::BadSignature => CertProblem::BadSignature,
        CertificateError::InvalidPurpose | CertificateError::InvalidPurposeContext { .. } => {
            CertProblem::WrongPurpose
        }
        // CertificateError is non-exhaustive; the rest keep the library's own words.
        other => CertProblem::Other(other.to_string()),
    }
}

/// rustls lists certificate names in `Debug` form (`DnsName("smsc.example")`); operators
/// want the bare name.
fn readable_name(name: &str) -> String {
    name.strip_prefix("DnsName(\"")
        .and_then(|rest| rest.strip_suffix("\")"))
        .unwrap_or(name)
        .to_owned()
}

fn alert_kind(alert: AlertDescription) -> AlertKind {
    match alert {
        AlertDescription::ProtocolVersion => AlertKind::ProtocolVersion,
        AlertDescription::HandshakeFailure | AlertDescription::InsufficientSecurity => {
            AlertKind::HandshakeFailure
        }
        AlertDescription::BadCertificate
        | AlertDescription::UnknownCA
        | AlertDescription::CertificateUnknown
        | AlertDescription::CertificateRequired
        | AlertDescription::UnsupportedCertificate
        | AlertDescription::CertificateExpired
        | AlertDescription::CertificateRevoked
        | AlertDescription::AccessDenied => AlertKind::CertificateRejection,
        _ => AlertKind::Other,
    }
}

/// Reduces a rustls error to an [`Observed`].
pub(crate) fn observe_rustls(err: &rustls::Error) -> Observed {
    use rustls::PeerIncompatible as P;
    match err {
        rustls::Error::InvalidCertificate(cert) => Observed::ServerCertInvalid(cert_problem(cert)),
        rustls::Error::AlertReceived(alert) => Observed::Alert {
            name: format!("{alert:?}"),
            kind: alert_kind(*alert),
        },
        rustls::Error::PeerIncompatible(
            P::ServerDoesNotSupportTls12Or13
            | P::ServerTlsVersionIsDisabledByOurConfig
            | P::SupportedVersionsExtensionRequired
            | P::Tls12NotOffered
            | P::Tls12NotOfferedOrEnabled,
        ) => Observed::NoCommonVersion(err.to_string()),
        rustls::Error::InvalidMessage(_) | rustls::Error::InappropriateMessage { .. } => {
            Observed::Malformed(err.to_string())
        }
        other => Observed::Other(other.to_string()),
    }
}

/// Reduces an I/O error from a TLS stream or a socket to an [`Observed`].
pub(crate) fn observe_io(err: &io::Error) -> Observed {
    if let Some(inner) = err.get_ref() {
        if let Some(tls) = inner.downcast_ref::<rustls::Error>() {
            return observe_rustls(tls);
        }
        #[cfg(feature = "tls11")]
        if let Some(ssl) = inner.downcast_ref::<openssl::ssl::Error>() {
            return super::openssl11::observe_ssl(ssl);
        }
    }
    match err.kind() {
        io::ErrorKind::UnexpectedEof => Observed::Eof,
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => Observed::Reset(err.to_string()),
        io::ErrorKind::TimedOut => Observed::TimedOut(err.to_string()),
        _ => Observed::Other(err.to_string()),
    }
}

fn hex_head(head: &[u8]) -> String {
    head.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Classifies a failed handshake.
pub(crate) fn classify_handshake(observed: Observed, ctx: &HandshakeContext) -> TransportError {
    let address = ctx.address;
    // Whatever the library said, bytes that are not TLS mean a plain server.
    if ctx.received > 0 && !looks_like_tls_record(&ctx.head) {
        return TransportError::PlainServerOnTlsChannel {
            address,
            detail: format!(
                "received {} instead of a TLS ServerHello",
                hex_head(&ctx.head)
            ),
        };
    }
    match observed {
        Observed::ServerCertInvalid(problem) => TransportError::ServerCertUntrusted {
            address,
            server_name: ctx.server_name.clone(),
            problem,
        },
        Observed::Alert {
            kind: AlertKind::ProtocolVersion,
            name,
        } => TransportError::VersionNotSupported {
            address,
            version: ctx.version,
            detail: format!("server sent alert {name}"),
        },
        Observed::NoCommonVersion(detail) => TransportError::VersionNotSupported {
            address,
            version: ctx.version,
            detail,
        },
        // The server's very first record is an alert: it refused our ClientHello, which only
        // carries versions, cipher suites and extensions. With a pinned version, that is
        // almost always the version (TLS 1.1 also implies old cipher suites).
        Observed::Alert {
            kind: AlertKind::HandshakeFailure,
            name,
        } if ctx.head.first() == Some(&0x15) => TransportError::VersionNotSupported {
            address,
            version: ctx.version,
            detail: format!(
                "server refused our ClientHello with alert {name}: \
                 no TLS version or cipher suite in common"
            ),
        },
        Observed::Alert {
            kind: AlertKind::CertificateRejection | AlertKind::HandshakeFailure,
            name,
        } if ctx.mode == TlsMode::Mutual => TransportError::ClientCertRejected {
            address,
            seen: RejectionSeen::Handshake,
            detail: format!("server sent alert {name}"),
        },
        Observed::Alert {
            kind: AlertKind::CertificateRejection | AlertKind::HandshakeFailure,
            name,
        } => TransportError::HandshakeFailed {
            address,
            detail: format!(
                "server sent alert {name}; if the SMSC requires a client certificate, \
                 set x-smpp-tls-mode = mutual"
            ),
        },
        Observed::Alert {
            kind: AlertKind::Other,
            name,
        } => TransportError::HandshakeFailed {
            address,
            detail: format!("server sent alert {name}"),
        },
        Observed::Eof | Observed::CleanClose | Observed::Reset(_) if ctx.received == 0 => {
            TransportError::PlainServerOnTlsChannel {
                address,
                detail: "connection closed without any answer to the ClientHello".into(),
            }
        }
        Observed::Eof | Observed::CleanClose | Observed::Reset(_)
            if ctx.mode == TlsMode::Mutual =>
        {
            TransportError::ClientCertRejected {
                address,
                seen: RejectionSeen::Handshake,
                detail: "connection closed during the handshake, after our certificate".into(),
            }
        }
        Observed::TimedOut(detail) if ctx.received == 0 => {
            TransportError::PlainServerOnTlsChannel {
                address,
                detail: format!(
                    "no ServerHello ({detail}); the server seems to wait for the client \
                     to speak first, as a plain SMPP server does"
                ),
            }
        }
        Observed::Eof => TransportError::HandshakeFailed {
            address,
            detail: "connection closed during the handshake".into(),
        },
        Observed::CleanClose => TransportError::HandshakeFailed {
            address,
            detail: "server closed the connection during the handshake".into(),
        },
        Observed::Reset(detail)
        | Observed::TimedOut(detail)
        | Observed::Malformed(detail)
        | Observed::Other(detail) => TransportError::HandshakeFailed { address, detail },
    }
}

/// How a read on an established link ended without data.
#[derive(Clone, Copy, Debug)]
pub enum ReadEnd<'a> {
    /// The read returned 0 bytes: the peer closed (for TLS, after close_notify).
    Eof,
    /// The read failed.
    Error(&'a io::Error),
}

/// Classifies a read that failed or hit EOF **before the first PDU bytes arrived** (normally
/// the read of the bind response).
///
/// In mutual mode over TLS 1.3 the server judges our certificate after our side considers the
/// handshake done, so its rejection arrives here: as an alert (bad_certificate, unknown_ca,
/// certificate_unknown, certificate_required, handshake_failure, ...), an EOF without
/// close_notify, or a reset. Those become [`TransportError::ClientCertRejected`]. In every
/// other case (plain, single, TLS 1.1/1.2 where a completed handshake means the server has
/// accepted us) the result is [`TransportError::LinkLost`].
///
/// Call it only while no PDU byte has been read; [`super::Stream::classify_read_end`] keeps
/// track of that and never mistakes a later disconnect for a certificate rejection.
pub fn classify_first_read_error(
    end: ReadEnd<'_>,
    mode: TlsMode,
    negotiated: Option<TlsVersion>,
    address: SocketAddr,
) -> TransportError {
    let observed = match end {
        ReadEnd::Eof => Observed::CleanClose,
        ReadEnd::Error(err) => observe_io(err),
    };
    let in_window = mode == TlsMode::Mutual && negotiated == Some(TlsVersion::V1_3);
    let rejected = |detail: String| TransportError::ClientCertRejected {
        address,
        seen: RejectionSeen::FirstRead,
        detail,
    };
    match observed {
        Observed::Alert {
            kind: AlertKind::CertificateRejection | AlertKind::HandshakeFailure,
            name,
        } if in_window => rejected(format!("server sent alert {name} after the handshake")),
        Observed::Eof if in_window => {
            rejected("connection closed without close_notify before the bind response".into())
        }
        Observed::CleanClose if in_window => {
            rejected("connection closed right after the handshake, before the bind response".into())
        }
        Observed::Reset(detail) if in_window => rejected(format!(
            "connection reset before the bind response ({detail})"
        )),
        other => lost(other, address, "before the first PDU"),
    }
}

/// A link that ended for no reason we can name.
pub(crate) fn link_lost(end: ReadEnd<'_>, address: SocketAddr) -> TransportError {
    let observed = match end {
        ReadEnd::Eof => Observed::CleanClose,
        ReadEnd::Error(err) => observe_io(err),
    };
    lost(observed, address, "")
}

fn lost(observed: Observed, address: SocketAddr, when: &str) -> TransportError {
    let what = match observed {
        Observed::CleanClose => "SMSC closed the connection".to_string(),
        Observed::Eof => "SMSC closed the connection without close_notify".to_string(),
        Observed::Alert {
            name,
            kind: AlertKind::CertificateRejection,
        } => format!(
            "SMSC sent alert {name} (if it requires a client certificate, \
             set x-smpp-tls-mode = mutual)"
        ),
        Observed::Alert { name, .. } => format!("SMSC sent alert {name}"),
        Observed::ServerCertInvalid(problem) => problem.to_string(),
        Observed::NoCommonVersion(d)
        | Observed::Malformed(d)
        | Observed::Reset(d)
        | Observed::TimedOut(d)
        | Observed::Other(d) => d,
    };
    let detail = if when.is_empty() {
        what
    } else {
        format!("{what} {when}")
    };
    TransportError::LinkLost { address, detail }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr() -> SocketAddr {
        "127.0.0.1:2775".parse().unwrap()
    }

    #[test]
    fn tls_records_are_recognised_and_smpp_is_not() {
        assert!(looks_like_tls_record(&[0x15, 0x03, 0x03, 0x00, 0x02]));
        assert!(looks_like_tls_record(&[0x16, 0x03, 0x01]));
        assert!(!looks_like_tls_record(&[0x00, 0x00, 0x00, 0x10]));
        assert!(!looks_like_tls_record(&[0x16, 0x03]));
        assert!(!looks_like_tls_record(&[0x16, 0x03, 0x09]));
    }

    #[test]
    fn first_read_rejection_only_in_mutual_tls13() {
        let reset = io::Error::from(io::ErrorKind::ConnectionReset);
        let e = classify_first_read_error(
            ReadEnd::Error(&reset),
            TlsMode::Mutual,
            Some(TlsVersion::V1_3),
            addr(),
        );
        assert_eq!(e.reason(), "client_cert_rejected");
        for (mode, version) in [
            (TlsMode::Mutual, Some(TlsVersion::V1_2)),
            (TlsMode::Single, Some(TlsVersion::V1_3)),
            (TlsMode::Off, None),
        ] {
            let e = classify_first_read_error(ReadEnd::Error(&reset), mode, version, addr());
            assert_eq!(e.reason(), "link_lost", "{mode:?} {version:?}");
        }
    }

    #[test]
    fn alerts_after_the_handshake_are_read_from_rustls_errors() {
        let err = io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::AlertReceived(AlertDescription::CertificateRequired),
        );
        let e = classify_first_read_error(
            ReadEnd::Error(&err),
            TlsMode::Mutual,
            Some(TlsVersion::V1_3),
            addr(),
        );
        assert!(e.detail().contains("CertificateRequired"), "{e}");
        assert_eq!(e.reason(), "client_cert_rejected");
    }
}
