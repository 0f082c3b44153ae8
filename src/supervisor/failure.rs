//! The documented log codes of the Genesys SMS driver, assigned in exactly one place:
//! [`ChannelFailure::report`], an exhaustive `match` with no `_` arm, so that a new error
//! variant anywhere below cannot compile until someone decides how it is logged.
//!
//! | primary | follow-up | when | retried |
//! |---|---|---|---|
//! | 43010 `failed to initialize ssl context: <cause>` | 42403 `channel driver initialization failed` | keystore or TLS set-up | no |
//! | 43009 `<what failed>` | 43011 `exception caught and processed... <causes>` | connect, handshake, bind | yes |

use std::error::Error as StdError;
use std::time::Duration;

use crate::session::{LinkPhase, SessionError};
use crate::transport::{InitError, Phase, TransportError};

/// Opening the link or binding failed (`oSmpp.openAndBind`).
pub const OPEN_AND_BIND_FAILED: u32 = 43009;
/// The channel's TLS context could not be built (`oSmpp.initialize`).
pub const SSL_CONTEXT_FAILED: u32 = 43010;
/// The exception behind a 43009; the channel keeps running and retries.
pub const EXCEPTION_PROCESSED: u32 = 43011;
/// The channel could not be created; it stays down until the configuration is fixed.
pub const DRIVER_INIT_FAILED: u32 = 42403;

/// The text of 43009 when the SMSC dropped us over our certificate, as the driver logs it.
pub const CERT_REJECTED_TEXT: &str =
    "SMSC close socket connection. Maybe SMSC don't trust your certificate";
/// The text of 42403.
pub(crate) const DRIVER_INIT_FAILED_TEXT: &str = "channel driver initialization failed";

/// Everything that stops a channel from running, from initialisation to a lost link.
#[derive(Debug)]
pub enum ChannelFailure {
    /// The keystore or TLS context could not be set up. Not retried.
    Init(InitError),
    /// Connecting, the TLS handshake, or the wait for the bind response failed.
    Connect(TransportError),
    /// An established, bound link was lost.
    Link(TransportError),
    /// The SMPP session failed in a way the transport did not see: no bind response, an
    /// unanswered enquire_link, a protocol violation, or a lost link without more detail.
    Session(SessionError),
}

/// Sorts a session's failure into the table: a bind rejection by its status, a lost link by
/// the transport's classification when the stream gave one (before the first byte: the TLS
/// 1.3 certificate window, a TLS server on a plain channel), everything else as it is.
impl From<SessionError> for ChannelFailure {
    fn from(e: SessionError) -> Self {
        match e {
            SessionError::LinkLost { during, source } => {
                match TransportError::take_from_io(source) {
                    Ok(t) if during == LinkPhase::Binding => ChannelFailure::Connect(t),
                    Ok(t) => ChannelFailure::Link(t),
                    Err(source) => {
                        ChannelFailure::Session(SessionError::LinkLost { during, source })
                    }
                }
            }
            other => ChannelFailure::Session(other),
        }
    }
}

impl From<InitError> for ChannelFailure {
    fn from(e: InitError) -> Self {
        ChannelFailure::Init(e)
    }
}

/// A transport error while opening the channel (up to the bind response); a link lost
/// after the bind is [`ChannelFailure::Link`], built explicitly.
impl From<TransportError> for ChannelFailure {
    fn from(e: TransportError) -> Self {
        ChannelFailure::Connect(e)
    }
}

/// One log event: its code and its text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogEvent {
    /// The documented message id.
    pub code: u32,
    /// The message text.
    pub text: String,
}

/// How a failure is logged and handled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailureReport {
    /// 43010 or 43009.
    pub primary: LogEvent,
    /// 42403 or 43011.
    pub follow_up: LogEvent,
    /// Where it happened.
    pub phase: Phase,
    /// A stable machine-readable reason.
    pub reason: &'static str,
    /// The specific cause.
    pub detail: String,
    /// Whether the supervisor tries again after the back-off.
    pub retryable: bool,
}

/// The error and its sources, joined the way an exception trace reads.
fn cause_chain(err: &dyn StdError) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": caused by: ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

fn retried(primary: String, cause: &dyn StdError) -> (LogEvent, LogEvent, bool) {
    (
        LogEvent {
            code: OPEN_AND_BIND_FAILED,
            text: primary,
        },
        LogEvent {
            code: EXCEPTION_PROCESSED,
            text: format!("exception caught and processed... {}", cause_chain(cause)),
        },
        true,
    )
}

/// The report of `failure` with these two events.
fn report(
    (primary, follow_up, retryable): (LogEvent, LogEvent, bool),
    failure: &ChannelFailure,
) -> FailureReport {
    FailureReport {
        primary,
        follow_up,
        phase: failure.phase(),
        reason: failure.reason(),
        detail: failure.detail(),
        retryable,
    }
}

/// A bind rejection as an error, so its 43011 trace reads like the others.
#[derive(Debug, thiserror::Error)]
#[error("bind rejected by SMSC with command_status 0x{status:08X}: {detail}")]
struct BindRejected<'a> {
    status: u32,
    detail: &'a str,
}

impl ChannelFailure {
    /// The codes, texts and fields for this failure: THE table of log codes.
    pub fn report(&self) -> FailureReport {
        use TransportError as T;
        let (primary, follow_up, retryable) = match self {
            ChannelFailure::Init(e) => (
                LogEvent {
                    code: SSL_CONTEXT_FAILED,
                    text: format!("failed to initialize ssl context: {e}"),
                },
                LogEvent {
                    code: DRIVER_INIT_FAILED,
                    text: DRIVER_INIT_FAILED_TEXT.to_owned(),
                },
                false,
            ),
            ChannelFailure::Connect(
                e @ (T::Dns { .. }
                | T::ConnectRefused { .. }
                | T::ConnectTimedOut { .. }
                | T::ConnectFailed { .. }),
            ) => retried(format!("failed to open connection to SMSC: {e}"), e),
            ChannelFailure::Connect(e @ T::ServerCertUntrusted { problem, .. }) => retried(
                format!(
                    "failed to send bind request: TLS handshake failed: \
                     No trusted certificate found ({problem})"
                ),
                e,
            ),
            ChannelFailure::Connect(e @ T::ClientCertRejected { .. }) => {
                retried(CERT_REJECTED_TEXT.to_owned(), e)
            }
            ChannelFailure::Connect(
                e @ (T::VersionNotSupported { .. }
                | T::PlainServerOnTlsChannel { .. }
                | T::TlsServerOnPlainChannel { .. }
                | T::HandshakeFailed { .. }),
            ) => retried(format!("failed to send bind request: {e}"), e),
            ChannelFailure::Connect(e @ T::LinkLost { .. }) => {
                retried(format!("SMSC close socket connection: {e}"), e)
            }
            ChannelFailure::Link(e) => retried(format!("connection to SMSC lost: {e}"), e),
            ChannelFailure::Session(e) => {
                let text = match e {
                    SessionError::BindRejected { status } => {
                        let detail = status.to_string();
                        let e = BindRejected {
                            status: status.value(),
                            detail: &detail,
                        };
                        return report(retried(format!("failed to bind: {e}"), &e), self);
                    }
                    SessionError::BindRespMalformed { .. } => format!("failed to bind: {e}"),
                    SessionError::BindTimeout { .. } => format!("failed to send bind request: {e}"),
                    SessionError::LinkLost { .. } => format!("SMSC close socket connection: {e}"),
                    SessionError::EnquireLinkUnanswered { .. }
                    | SessionError::SubmitsUnanswered { .. }
                    | SessionError::ProtocolViolation { .. } => {
                        format!("connection to SMSC lost: {e}")
                    }
                };
                retried(text, e)
            }
        };
        report((primary, follow_up, retryable), self)
    }

    /// Whether the supervisor retries the channel (false only for set-up failures).
    pub fn retryable(&self) -> bool {
        self.report().retryable
    }

    fn phase(&self) -> Phase {
        match self {
            ChannelFailure::Init(_) => Phase::TlsInit,
            ChannelFailure::Connect(e) => e.phase(),
            ChannelFailure::Link(_) => Phase::Session,
            ChannelFailure::Session(e) => match e {
                SessionError::BindRejected { .. }
                | SessionError::BindRespMalformed { .. }
                | SessionError::BindTimeout { .. } => Phase::Bind,
                SessionError::LinkLost {
                    during: LinkPhase::Binding,
                    ..
                } => Phase::Bind,
                SessionError::LinkLost { .. }
                | SessionError::EnquireLinkUnanswered { .. }
                | SessionError::SubmitsUnanswered { .. }
                | SessionError::ProtocolViolation { .. } => Phase::Session,
            },
        }
    }

    fn reason(&self) -> &'static str {
        match self {
            ChannelFailure::Init(e) => e.reason(),
            ChannelFailure::Connect(e) | ChannelFailure::Link(e) => e.reason(),
            ChannelFailure::Session(e) => match e {
                SessionError::BindRejected { .. } => "bind_rejected",
                SessionError::BindRespMalformed { .. } => "protocol_violation",
                SessionError::BindTimeout { .. } => "bind_timeout",
                SessionError::LinkLost { .. } => "link_lost",
                SessionError::EnquireLinkUnanswered { .. } => "enquire_link_unanswered",
                SessionError::SubmitsUnanswered { .. } => "submits_unanswered",
                SessionError::ProtocolViolation { .. } => "protocol_violation",
            },
        }
    }

    fn detail(&self) -> String {
        match self {
            ChannelFailure::Init(e) => e.detail(),
            ChannelFailure::Connect(e) | ChannelFailure::Link(e) => e.detail(),
            ChannelFailure::Session(SessionError::BindRejected { status }) => {
                format!("command_status 0x{:08X}: {status}", status.value())
            }
            ChannelFailure::Session(e) => cause_chain(e),
        }
    }
}

/// Which channel and attempt a failure belongs to.
#[derive(Clone, Copy, Debug)]
pub struct Attempt<'a> {
    /// The channel's configuration section name.
    pub channel: &'a str,
    /// 1 for the first failure, counting up until a session proves healthy (see
    /// [`crate::supervisor::backoff::proved_healthy`]).
    pub attempt: u32,
    /// When the next attempt starts, if there is one.
    pub retry_in: Option<Duration>,
}

/// Logs a failure as its pair of events (43009 + 43011, or 43010 + 42403), each with the
/// fields `code`, `event` (`channel_failure`, then `channel_failure_detail`), `channel`, `phase`, `reason`, `detail`, `attempt` and, when retried,
/// `retry_in_ms`. Returns the report so the caller can act on `retryable`.
///
/// No field carries a password: errors never hold one (passwords are
/// [`crate::secret::Secret`]s and stay in the configuration).
pub fn emit(failure: &ChannelFailure, at: Attempt<'_>) -> FailureReport {
    let report = failure.report();
    emit_report(&report, at);
    report
}

/// [`emit`] for a report already built.
pub(crate) fn emit_report(report: &FailureReport, at: Attempt<'_>) {
    let retry_in_ms = at
        .retry_in
        .filter(|_| report.retryable)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    // `event` names the kind of line for filters: the failure itself, then its trace (43011)
    // or its consequence (42403).
    for (event, kind) in [
        (&report.primary, "channel_failure"),
        (&report.follow_up, "channel_failure_detail"),
    ] {
        tracing::error!(
            code = event.code,
            event = kind,
            channel = at.channel,
            phase = report.phase.as_str(),
            reason = report.reason,
            detail = %report.detail,
            attempt = at.attempt,
            retry_in_ms,
            "{}",
            event.text
        );
    }
}

/// Logs that the failure with `code` and `reason` happened `repeated` more times in `over`
/// without being logged: one line with the fields `code`, `event`
/// (`channel_failure_repeated`), `channel`, `reason`, `repeated` and `over_s`.
pub(crate) fn emit_repeated(
    channel: &str,
    code: u32,
    reason: &'static str,
    repeated: u32,
    over: Duration,
) {
    let over_s = over.as_secs();
    tracing::error!(
        code,
        event = "channel_failure_repeated",
        channel,
        reason,
        repeated,
        over_s,
        "{reason}: repeated {repeated} times in the last {over_s} s"
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::CommandStatus;
    use crate::transport::{CertProblem, RejectionSeen, TlsVersion};
    use std::net::SocketAddr;

    fn addr() -> SocketAddr {
        "127.0.0.1:2776".parse().unwrap()
    }

    /// (failure, primary code, primary text fragment, follow-up code, reason, phase, retried)
    fn table() -> Vec<(ChannelFailure, u32, String, u32, &'static str, Phase, bool)> {
        use ChannelFailure::{Connect, Init, Link, Session};
        use TransportError as T;
        let address = addr();
        vec![
            (
                Init(InitError::NoPrivateKey {
                    path: "esme.p12".into(),
                }),
                43010,
                "failed to initialize ssl context: keystore esme.p12 holds no private key".into(),
                42403,
                "no_private_key",
                Phase::TlsInit,
                false,
            ),
            (
                Init(InitError::Tls11Unavailable),
                43010,
                "failed to initialize ssl context: TLS 1.1 is not supported".into(),
                42403,
                "tls11_unavailable",
                Phase::TlsInit,
                false,
            ),
            (
                Init(InitError::EmptyTrustStore {
                    detail: "nothing".into(),
                }),
                43010,
                "failed to initialize ssl context: no trusted certificate".into(),
                42403,
                "empty_trust_store",
                Phase::TlsInit,
                false,
            ),
            (
                Connect(T::Dns {
                    host: "smsc.invalid".into(),
                    detail: "no such host".into(),
                }),
                43009,
                "failed to open connection to SMSC: cannot resolve smsc.invalid".into(),
                43011,
                "dns_failure",
                Phase::Connect,
                true,
            ),
            (
                Connect(T::ConnectRefused { address }),
                43009,
                format!("failed to open connection to SMSC: connection to {address} refused"),
                43011,
                "connect_refused",
                Phase::Connect,
                true,
            ),
            (
                Connect(T::ConnectTimedOut {
                    address,
                    timeout: Duration::from_secs(5),
                }),
                43009,
                "timed out after 5000 ms".into(),
                43011,
                "connect_timeout",
                Phase::Connect,
                true,
            ),
            (
                Connect(T::ConnectFailed {
                    address,
                    source: std::io::Error::other("network unreachable"),
                }),
                43009,
                "failed to open connection to SMSC: cannot connect".into(),
                43011,
                "connect_failed",
                Phase::Connect,
                true,
            ),
            (
                Connect(T::ServerCertUntrusted {
                    address,
                    server_name: String::new(),
                    problem: CertProblem::UnknownIssuer,
                }),
                43009,
                "failed to send bind request: TLS handshake failed: No trusted certificate found (unknown issuer)".into(),
                43011,
                "server_cert_untrusted",
                Phase::Handshake,
                true,
            ),
            (
                Connect(T::ClientCertRejected {
                    address,
                    seen: RejectionSeen::FirstRead,
                    detail: "alert".into(),
                }),
                43009,
                CERT_REJECTED_TEXT.into(),
                43011,
                "client_cert_rejected",
                Phase::Bind,
                true,
            ),
            (
                Connect(T::VersionNotSupported {
                    address,
                    version: TlsVersion::V1_3,
                    detail: "alert".into(),
                }),
                43009,
                "failed to send bind request: SMSC 127.0.0.1:2776 does not accept TLS 1.3".into(),
                43011,
                "tls_version_unsupported",
                Phase::Handshake,
                true,
            ),
            (
                Connect(T::PlainServerOnTlsChannel {
                    address,
                    detail: "EOF".into(),
                }),
                43009,
                "does not speak TLS on this port".into(),
                43011,
                "plain_server_on_tls_channel",
                Phase::Handshake,
                true,
            ),
            (
                Connect(T::TlsServerOnPlainChannel { address }),
                43009,
                "the SMSC probably requires TLS".into(),
                43011,
                "tls_server_on_plain_channel",
                Phase::Bind,
                true,
            ),
            (
                Connect(T::HandshakeFailed {
                    address,
                    detail: "decrypt error".into(),
                }),
                43009,
                "failed to send bind request: TLS handshake with 127.0.0.1:2776 failed".into(),
                43011,
                "tls_handshake_failed",
                Phase::Handshake,
                true,
            ),
            (
                Connect(T::LinkLost {
                    address,
                    detail: "EOF".into(),
                }),
                43009,
                "SMSC close socket connection: ".into(),
                43011,
                "link_lost",
                Phase::Bind,
                true,
            ),
            (
                Session(SessionError::BindRejected {
                    status: CommandStatus::EsmeRinvpaswd,
                }),
                43009,
                "failed to bind: bind rejected by SMSC with command_status 0x0000000E".into(),
                43011,
                "bind_rejected",
                Phase::Bind,
                true,
            ),
            (
                Link(T::LinkLost {
                    address,
                    detail: "reset".into(),
                }),
                43009,
                "connection to SMSC lost".into(),
                43011,
                "link_lost",
                Phase::Session,
                true,
            ),
        ]
    }

    #[test]
    fn every_failure_gets_its_documented_codes() {
        for (failure, code, text, follow, reason, phase, retried) in table() {
            let r = failure.report();
            assert_eq!(r.primary.code, code, "{failure:?}");
            assert!(
                r.primary.text.contains(&text),
                "{:?} lacks {text:?}",
                r.primary.text
            );
            assert_eq!(r.follow_up.code, follow, "{failure:?}");
            assert_eq!(r.reason, reason, "{failure:?}");
            assert_eq!(r.phase, phase, "{failure:?}");
            assert_eq!(r.retryable, retried, "{failure:?}");
            assert_eq!(failure.retryable(), retried);
            if follow == EXCEPTION_PROCESSED {
                assert!(r
                    .follow_up
                    .text
                    .starts_with("exception caught and processed... "));
            } else {
                assert_eq!(r.follow_up.text, DRIVER_INIT_FAILED_TEXT);
            }
        }
    }

    #[test]
    fn the_exception_trace_follows_the_cause_chain() {
        let failure = ChannelFailure::Connect(TransportError::ConnectFailed {
            address: addr(),
            source: std::io::Error::other("network unreachable"),
        });
        let r = failure.report();
        assert!(
            r.follow_up.text.ends_with("caused by: network unreachable"),
            "{}",
            r.follow_up.text
        );
    }

    #[test]
    fn session_failures_are_sorted_into_the_table() {
        use crate::codec::CommandStatus;
        use std::io;

        let rejected = ChannelFailure::from(SessionError::BindRejected {
            status: CommandStatus::from(0x0000_000E),
        });
        let report = rejected.report();
        assert_eq!(
            (report.primary.code, report.reason),
            (43009, "bind_rejected")
        );
        assert!(
            report.detail.starts_with("command_status 0x0000000E"),
            "{report:?}"
        );
        assert_eq!(report.phase, Phase::Bind);

        // A bind_resp "OK" whose system_id has no NUL is a protocol violation at bind time.
        let frame = crate::codec::Frame {
            header: crate::codec::Header {
                command_length: 16 + 300,
                command_id: crate::codec::CommandId::BindTransceiverResp,
                command_status: CommandStatus::EsmeRok,
                sequence_number: 1,
            },
            body: vec![b'A'; 300].into(),
        };
        let source = frame.pdu().unwrap_err();
        let malformed = ChannelFailure::from(SessionError::BindRespMalformed { source }).report();
        assert_eq!(
            (malformed.primary.code, malformed.reason, malformed.phase),
            (43009, "protocol_violation", Phase::Bind)
        );
        assert!(malformed.retryable);
        assert!(
            malformed.primary.text.starts_with("failed to bind: "),
            "{}",
            malformed.primary.text
        );
        assert!(
            malformed.detail.contains("system_id at byte 16"),
            "{}",
            malformed.detail
        );

        let timeout = ChannelFailure::from(SessionError::BindTimeout {
            after: Duration::from_secs(30),
        })
        .report();
        assert_eq!(
            (timeout.primary.code, timeout.reason),
            (43009, "bind_timeout")
        );
        assert!(timeout
            .primary
            .text
            .starts_with("failed to send bind request: "));
        assert_eq!(timeout.follow_up.code, 43011);

        // A lost link whose stream classified it keeps the transport's reason and phase.
        let classified =
            io::Error::other(TransportError::TlsServerOnPlainChannel { address: addr() });
        let failure = ChannelFailure::from(SessionError::LinkLost {
            during: LinkPhase::Binding,
            source: classified,
        });
        assert!(matches!(failure, ChannelFailure::Connect(_)));
        assert_eq!(failure.report().reason, "tls_server_on_plain_channel");

        // Without a classification it is a plain lost link, in the session phase.
        let plain = ChannelFailure::from(SessionError::LinkLost {
            during: LinkPhase::Reading,
            source: io::Error::from(io::ErrorKind::UnexpectedEof),
        })
        .report();
        assert_eq!((plain.reason, plain.phase), ("link_lost", Phase::Session));
        assert!(plain.retryable);

        let dead = ChannelFailure::from(SessionError::EnquireLinkUnanswered {
            sequence: 7,
            after: Duration::from_secs(30),
        })
        .report();
        assert_eq!(dead.reason, "enquire_link_unanswered");
        assert!(dead.retryable);

        let silent = ChannelFailure::from(SessionError::SubmitsUnanswered {
            sequence: 9,
            after: Duration::from_secs(30),
        })
        .report();
        assert_eq!(
            (silent.reason, silent.phase),
            ("submits_unanswered", Phase::Session)
        );
        assert!(silent.retryable);
    }
}
