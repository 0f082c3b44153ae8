//! [`SessionError`]: why a session ended other than by a requested stop.
//!
//! Each variant surfaces from [`crate::session::Session::bind`] or in
//! [`crate::session::SessionEnd`]; the supervisor logs it once and decides to reconnect.

use std::io;
use std::time::Duration;

use thiserror::Error;

use crate::codec::{CommandStatus, DecodeError};

/// What a session was doing when its link was lost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkPhase {
    /// Sending the bind or awaiting its response: the session never got bound.
    Binding,
    /// Reading from a bound link.
    Reading,
    /// Writing to a bound link.
    Writing,
}

impl std::fmt::Display for LinkPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LinkPhase::Binding => "binding",
            LinkPhase::Reading => "reading",
            LinkPhase::Writing => "writing",
        })
    }
}

/// Why the session could not bind or did not survive.
#[derive(Debug, Error)]
pub enum SessionError {
    /// The SMSC answered the bind with an error status (e.g. ESME_RINVPASWD).
    #[error("bind rejected by the SMSC: {status}")]
    BindRejected {
        /// The bind_resp (or generic_nack) command_status.
        status: CommandStatus,
    },
    /// The SMSC answered the bind with ESME_ROK but a body that does not decode (a system_id
    /// without its NUL, a broken TLV): a protocol violation, so the session is not bound.
    #[error("the bind response does not decode")]
    BindRespMalformed {
        /// What the codec found wrong, field and offset included.
        #[source]
        source: DecodeError,
    },
    /// No bind_resp within the bind timeout.
    #[error("no bind response within {after:?}")]
    BindTimeout {
        /// The timeout that ran out.
        after: Duration,
    },
    /// The connection closed or failed.
    #[error("link lost while {during}: {source}")]
    LinkLost {
        /// What the session was doing.
        during: LinkPhase,
        /// The I/O error (UnexpectedEof when the SMSC closed the connection).
        #[source]
        source: io::Error,
    },
    /// An enquire_link went unanswered past the response timeout.
    #[error("enquire_link (sequence_number {sequence}) unanswered within {after:?}")]
    EnquireLinkUnanswered {
        /// The enquire_link's sequence number.
        sequence: u32,
        /// The response timeout.
        after: Duration,
    },
    /// A submit_sm went unanswered past the response timeout and nothing sent after it was
    /// answered either: the SMSC stopped answering on this link. Its messages go back to be
    /// sent on the next one.
    #[error("submit_sm (sequence_number {sequence}) unanswered within {after:?}, and nothing sent after it answered")]
    SubmitsUnanswered {
        /// The oldest unanswered submit_sm's sequence number.
        sequence: u32,
        /// The response timeout.
        after: Duration,
    },
    /// The SMSC broke the protocol so that the link cannot be trusted (unframeable bytes,
    /// a status saying the two sides disagree about the session state).
    #[error("protocol violation: {detail}")]
    ProtocolViolation {
        /// What happened, for the log line.
        detail: String,
    },
}

impl SessionError {
    /// The SMSC closed the connection while the session was `during` something.
    pub fn eof(during: LinkPhase) -> SessionError {
        SessionError::LinkLost {
            during,
            source: io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed by the SMSC",
            ),
        }
    }
}
