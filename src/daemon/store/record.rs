//! The shapes the store keeps and returns.

use super::MessageId;
use crate::daemon::engine::ReceiptState;
use std::time::{Duration, SystemTime};

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageState {
    /// Accepted by the API, handed to a channel, not yet acknowledged by the SMSC.
    Queued,
    /// Every segment acknowledged by the SMSC (each has an SMSC message id).
    Submitted,
    /// Every segment's receipt says delivered (or accepted on the subscriber's behalf).
    Delivered,
    /// Refused by the SMSC, lost, or reported undeliverable/rejected/deleted by a receipt.
    Failed,
    /// A receipt says the validity period passed.
    Expired,
}

impl MessageState {
    /// The word used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageState::Queued => "queued",
            MessageState::Submitted => "submitted",
            MessageState::Delivered => "delivered",
            MessageState::Failed => "failed",
            MessageState::Expired => "expired",
        }
    }

    /// Whether nothing more will happen to the message.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            MessageState::Delivered | MessageState::Failed | MessageState::Expired
        )
    }
}

/// Why a message failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The SMPP command_status of the error response, when the SMSC sent one.
    pub status: Option<u32>,
    /// What happened, in words.
    pub reason: String,
}

/// What is known about one segment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SegmentRecord {
    /// The SMSC's message_id from submit_sm_resp.
    pub smsc_message_id: Option<String>,
    /// The latest receipt's state.
    pub receipt: Option<ReceiptState>,
    /// The latest receipt's error code, verbatim.
    pub receipt_error: Option<String>,
}

/// One change of state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// The state entered.
    pub state: MessageState,
    /// When.
    pub at: SystemTime,
}

/// A snapshot of one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRecord {
    /// Its id.
    pub id: MessageId,
    /// The channel it was handed to.
    pub channel: String,
    /// The destination.
    pub to: String,
    /// The source, when the client gave one.
    pub from: Option<String>,
    /// Whether a receipt was asked for.
    pub delivery_report: bool,
    /// The current state.
    pub state: MessageState,
    /// One entry per segment, in order.
    pub segments: Vec<SegmentRecord>,
    /// Why it failed, when it did.
    pub failure: Option<Failure>,
    /// Every state entered, oldest first (the first is always `queued`).
    pub history: Vec<Transition>,
}

/// A message to start tracking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// Its id.
    pub id: MessageId,
    /// The channel it goes to.
    pub channel: String,
    /// The destination.
    pub to: String,
    /// The source, when given.
    pub from: Option<String>,
    /// How many segments it was split into (at least 1).
    pub segments: usize,
    /// Whether a receipt was asked for.
    pub delivery_report: bool,
}

/// What an outcome call changed, for the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The message's channel.
    pub channel: String,
    /// Its state after the call.
    pub state: MessageState,
    /// Time from acceptance by the API to this call.
    pub since_accepted: Duration,
}

/// What a receipt matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptMatch {
    /// One segment of one message.
    Matched {
        /// The message.
        id: MessageId,
        /// The segment, 0-based.
        segment: usize,
        /// The message's state after the receipt.
        state: MessageState,
    },
    /// No tracked message has that SMSC id (aged out, or not ours).
    NotFound,
    /// Several segments match equally well; none was updated.
    Ambiguous {
        /// The SMSC ids that matched.
        submit_ids: Vec<String>,
    },
}
