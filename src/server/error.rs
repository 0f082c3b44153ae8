//! The server core's errors: parameters it cannot work with, and deliveries it cannot take.
//!
//! Neither is fatal for the connection: [`ParamError`] surfaces when the configuration is
//! checked, [`DeliverRefused`] to the daemon calling [`super::ServerSession::deliver`], which
//! keeps the message queued and tries again when [`super::ServerSession::can_deliver`] allows.

use thiserror::Error;

use crate::codec::{EncodeError, ValueError};

/// A [`super::ServerParams`] value the core cannot honour.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ParamError {
    /// The system_id does not fit a bind response (15 octets, no NUL).
    #[error("system_id cannot be sent in bind_resp: {0}")]
    SystemId(ValueError),
    /// max_pdu_len is smaller than the 16-octet header.
    #[error("max_pdu_len {0} is below the 16-octet PDU header")]
    MaxPduLen(u32),
    /// A window of zero would never let anything through.
    #[error("{0} must be at least 1")]
    Zero(&'static str),
}

/// Why [`super::ServerSession::deliver`] did not queue a deliver_sm. The message stays the
/// daemon's to keep.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DeliverRefused {
    /// The client is not bound as a receiver or transceiver (not yet, or as a transmitter).
    #[error("the client is not bound to receive")]
    NotReceiving,
    /// The connection is unbinding or closed.
    #[error("the connection is closing")]
    Closing,
    /// `deliver_window` deliver_sm are already unanswered.
    #[error("{in_flight} deliver_sm are already unanswered")]
    WindowFull {
        /// deliver_sm in flight.
        in_flight: usize,
    },
    /// The PDU breaks a rule spanning several fields and cannot be encoded.
    #[error("deliver_sm cannot be encoded: {0}")]
    Encode(EncodeError),
}
