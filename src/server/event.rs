//! What the core tells the daemon ([`ServerEvent`]) and the small types events carry.

use std::fmt;

use crate::codec::pdu::{DataSm, SubmitSm};
use crate::codec::{CommandStatus, FrameError, MessageState, SmppTime};
use crate::secret::Secret;

/// Names one request awaiting the daemon's answer. Opaque and unique within its connection;
/// answering a token twice, or one the core does not know, does nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Token(pub(crate) u64);

/// The kind of bind the client asked for (SMPP v3.4 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BindMode {
    /// bind_transmitter: the client submits.
    Transmitter,
    /// bind_receiver: smppd delivers.
    Receiver,
    /// bind_transceiver: both.
    Transceiver,
}

impl BindMode {
    /// May the client submit (and query) in this mode?
    pub fn transmits(self) -> bool {
        matches!(self, BindMode::Transmitter | BindMode::Transceiver)
    }

    /// May smppd send deliver_sm in this mode?
    pub fn receives(self) -> bool {
        matches!(self, BindMode::Receiver | BindMode::Transceiver)
    }
}

/// A message the client submitted, as decoded: the daemon needs to know which PDU it was,
/// since data_sm carries its text in message_payload and answers with data_sm_resp. Boxed:
/// the bodies are a few hundred octets each, and events travel through a queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submitted {
    /// submit_sm (§4.4.1).
    SubmitSm(Box<SubmitSm>),
    /// data_sm (§4.7.1).
    DataSm(Box<DataSm>),
}

/// What the daemon knows of a queried message, for query_sm_resp (§4.8.2). The message_id
/// sent back is the one the client asked about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryAnswer {
    /// When the message reached its final state; empty while it has not.
    pub final_date: SmppTime,
    /// The message's state (§5.2.28).
    pub message_state: MessageState,
    /// Network-specific error code, 0 when none.
    pub error_code: u8,
}

/// Why the connection closed; the driver logs it and closes the socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The client sent unbind and was answered.
    ClientUnbind,
    /// Nothing was received for `idle_timeout`; smppd unbound.
    Idle,
    /// A deliver_sm went unanswered for `response_timeout`: the client is not reading.
    NotReading,
    /// No successful bind within `bind_timeout` of the connection opening.
    BindTimeout,
    /// A command_length the framer cannot accept; the stream cannot be resynchronised.
    Framing(FrameError),
    /// The daemon asked for the unbind ([`super::ServerSession::unbind`]).
    OperatorUnbind,
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::ClientUnbind => f.write_str("the client unbound"),
            CloseReason::Idle => f.write_str("nothing received for the idle timeout"),
            CloseReason::NotReading => f.write_str("the client left a PDU of ours unanswered"),
            CloseReason::BindTimeout => f.write_str("no bind within the bind timeout"),
            CloseReason::Framing(e) => write!(f, "framing error: {e}"),
            CloseReason::OperatorUnbind => f.write_str("unbound by the operator"),
        }
    }
}

/// What the daemon must know or decide. Events come out in the order their causes happened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// The client asks to bind; answer with [`super::ServerSession::answer_bind`] once its
    /// credentials are checked. Only one bind is ever awaiting an answer.
    BindRequested {
        /// What to answer.
        token: Token,
        /// The kind of bind asked for.
        mode: BindMode,
        /// The client's system_id (lossy UTF-8).
        system_id: String,
        /// The client's password (lossy UTF-8); never logged.
        password: Secret,
        /// The SMPP version the client speaks (0x34 for v3.4).
        interface_version: u8,
    },
    /// The client submitted a message; commit it, then answer with
    /// [`super::ServerSession::answer_submit`].
    Submit {
        /// What to answer.
        token: Token,
        /// The submit_sm or data_sm as received.
        message: Submitted,
    },
    /// The client asks for a message's state; answer with
    /// [`super::ServerSession::answer_query`].
    Query {
        /// What to answer.
        token: Token,
        /// The message id asked about (lossy UTF-8).
        message_id: String,
        /// The source address the client gives for it (lossy UTF-8).
        source_addr: String,
    },
    /// The client answered the deliver_sm queued with `key`. An error status is reported as
    /// it came; the daemon decides whether to try again.
    Delivered {
        /// The key given to [`super::ServerSession::deliver`].
        key: u64,
        /// The command_status of the deliver_sm_resp (or generic_nack).
        status: CommandStatus,
    },
    /// deliver_sm that will never be answered because the connection is closing; the daemon
    /// keeps them queued. Only sent when there is at least one key.
    Undelivered {
        /// The keys given to [`super::ServerSession::deliver`], oldest first.
        keys: Vec<u64>,
    },
    /// The client unbound; its unbind_resp is queued and `Closed` follows.
    Unbound,
    /// The connection is finished: flush what [`super::ServerSession::poll_transmit`] gives,
    /// then close the socket. Always the last event.
    Closed {
        /// Why.
        reason: CloseReason,
    },
}
