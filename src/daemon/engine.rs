//! What the HTTP API needs from the running channels, and the shapes that flow between them.
//!
//! The API never touches a supervisor or a session directly: it sees the channels through the
//! small [`Engine`] trait (status for `/v1/channels`, `/health` and `/metrics`; a non-blocking
//! hand-over of one outbound message). Outcomes flow back the other way through
//! [`crate::daemon::api::Reports`], which the engine receives when it is built: submit
//! responses, failures, delivery receipts and inbound messages.
//!
//! ```text
//!   POST /v1/messages --> Engine::enqueue(channel, OutboundRequest)
//!   session            --> Reports::{submitted, failed, receipt, inbound} --> store, webhook
//! ```
//!
//! Depends on: `sms` (segments, delivery states) and the store's message id.

use super::store::MessageId;
use crate::config::ChannelConfig;
use crate::sms::{DeliveryState, Segment};
use std::sync::Arc;
use std::time::Duration;

/// The last error a channel reported, with its documented log code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelError {
    /// The numeric log code (e.g. 43009, 43010, 43011, 42403).
    pub code: u32,
    /// Why, in words an operator can act on.
    pub reason: String,
}

/// Counters of one channel since the daemon started. All are monotonic except the window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChannelCounters {
    /// submit_sm PDUs sent (re-sends included).
    pub submitted: u64,
    /// submit_sm_resp with status 0.
    pub acknowledged: u64,
    /// submit_sm that failed (error status, timeout, link lost).
    pub failed: u64,
    /// submit_sm sent again after a throttle or a lost link.
    pub resent: u64,
    /// deliver_sm received that were not receipts (inbound messages).
    pub received: u64,
    /// deliver_sm received that were delivery receipts.
    pub receipts: u64,
    /// Requests waiting for their response right now.
    pub window_in_use: u32,
    /// The configured window (`x-smpp-submit-window-size`).
    pub window_size: u32,
}

/// A snapshot of one channel, in configured order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelStatus {
    /// The channel's name (the section name without `channel-`).
    pub name: String,
    /// The supervisor's state in one word or phrase ("bound", "connecting", "backing off"...).
    pub state: String,
    /// Whether the SMPP session is bound now.
    pub bound: bool,
    /// Whether the bind allows submit_sm (transmitter or transceiver).
    pub can_transmit: bool,
    /// Whether the bind allows deliver_sm (receiver or transceiver).
    pub can_receive: bool,
    /// The last error, until the next successful bind clears it (or keeps it: engine's choice).
    pub last_error: Option<ChannelError>,
    /// The counters.
    pub counters: ChannelCounters,
}

impl ChannelStatus {
    /// Bound and allowed to submit: a channel the router may pick.
    pub fn can_send(&self) -> bool {
        self.bound && self.can_transmit
    }

    /// Whether the window has a free slot right now.
    pub fn has_room(&self) -> bool {
        self.counters.window_in_use < self.counters.window_size
    }
}

/// One accepted message, ready for submit_sm: the API has chosen the channel, the coding and
/// the segments (with their UDH or SAR values) using that channel's configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRequest {
    /// The id the API returned; pass it back in [`crate::daemon::api::Reports`] calls.
    pub id: MessageId,
    /// destination_addr.
    pub to: String,
    /// source_addr; `None` means the channel's default (`default-reply-address`).
    pub from: Option<String>,
    /// One submit_sm per segment, in order (segment numbers are indexes into this).
    pub segments: Vec<Segment>,
    /// Whether to ask for a delivery receipt (registered_delivery 1).
    pub delivery_report: bool,
    /// A validity period asked for by the client, to send as a relative SMPP time; `None`
    /// means the channel's `x-smpp-validity-period`.
    pub validity: Option<Duration>,
}

/// Why a channel did not take a message. Every variant surfaces as a 503 (or the router tries
/// the next channel first).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnqueueError {
    /// The channel's queue is full: back-pressure, try later or elsewhere.
    #[error("channel {channel} is full")]
    Full {
        /// The channel.
        channel: String,
    },
    /// The channel is not bound (or not able to transmit).
    #[error("channel {channel} is down: {reason}")]
    Down {
        /// The channel.
        channel: String,
        /// Why, e.g. "connecting" or the last error.
        reason: String,
    },
    /// No channel of that name: a bug in the caller, as the API checks names first.
    #[error("no channel named {channel}")]
    Unknown {
        /// The name asked for.
        channel: String,
    },
}

/// The running channels, as the API sees them. The lead implements it on top of the
/// supervisors; tests use a fake.
///
/// Both methods are called from request handlers: they must not block (take a snapshot,
/// `try_send` into a queue).
pub trait Engine: Send + Sync + 'static {
    /// Every configured channel, in configured order.
    fn channels(&self) -> Vec<ChannelStatus>;

    /// Hands `request` to `channel`'s queue. `Ok` means the channel owns it now and will
    /// report its outcome through `Reports`.
    fn enqueue(&self, channel: &str, request: OutboundRequest) -> Result<(), EnqueueError>;

    /// The configuration `channel` runs with now (`None`: the first configured channel), so
    /// that requests are segmented and checked against what a SIGHUP reload last applied.
    fn channel_config(&self, channel: Option<&str>) -> Option<Arc<ChannelConfig>>;
}

/// A receipt's state, owned (the session's [`DeliveryState`] borrows from the PDU).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReceiptState {
    /// ENROUTE: still on its way; not final.
    Enroute,
    /// DELIVRD.
    Delivered,
    /// EXPIRED: the validity period passed.
    Expired,
    /// DELETED.
    Deleted,
    /// UNDELIV.
    Undeliverable,
    /// ACCEPTD: accepted on the subscriber's behalf.
    Accepted,
    /// UNKNOWN.
    Unknown,
    /// REJECTD.
    Rejected,
    /// Anything else, verbatim (a `stat:` word or `message_state` number).
    Other(String),
}

impl ReceiptState {
    /// The word used in JSON (`"delivered"`, `"undeliverable"`...).
    pub fn as_str(&self) -> &str {
        match self {
            ReceiptState::Enroute => "enroute",
            ReceiptState::Delivered => "delivered",
            ReceiptState::Expired => "expired",
            ReceiptState::Deleted => "deleted",
            ReceiptState::Undeliverable => "undeliverable",
            ReceiptState::Accepted => "accepted",
            ReceiptState::Unknown => "unknown",
            ReceiptState::Rejected => "rejected",
            ReceiptState::Other(s) => s,
        }
    }
}

impl From<DeliveryState<'_>> for ReceiptState {
    fn from(state: DeliveryState<'_>) -> Self {
        match state {
            DeliveryState::Enroute => ReceiptState::Enroute,
            DeliveryState::Delivered => ReceiptState::Delivered,
            DeliveryState::Expired => ReceiptState::Expired,
            DeliveryState::Deleted => ReceiptState::Deleted,
            DeliveryState::Undeliverable => ReceiptState::Undeliverable,
            DeliveryState::Accepted => ReceiptState::Accepted,
            DeliveryState::Unknown => ReceiptState::Unknown,
            DeliveryState::Rejected => ReceiptState::Rejected,
            DeliveryState::OtherStat(s) => ReceiptState::Other(s.to_string()),
            DeliveryState::OtherCode(n) => ReceiptState::Other(n.to_string()),
        }
    }
}

/// A delivery receipt as the session parsed it from a deliver_sm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiptReport {
    /// The receipt's `id:` (or receipted_message_id TLV), as the SMSC wrote it.
    pub smsc_message_id: String,
    /// Its state.
    pub state: ReceiptState,
    /// The `err:` field or network error code, verbatim, when present.
    pub error_code: Option<String>,
}

/// The content of an inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboundContent {
    /// Text, decoded (and reassembled) by the session.
    Text(String),
    /// Octets whose data_coding is binary or not understood.
    Binary {
        /// The octets.
        data: Vec<u8>,
        /// The data_coding they came with.
        data_coding: u8,
    },
}

/// An inbound (mobile-originated) message, reassembled when it came in segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundReport {
    /// source_addr.
    pub from: String,
    /// destination_addr.
    pub to: String,
    /// The content.
    pub content: InboundContent,
}

/// Why the session must not acknowledge a deliver_sm yet: answer it with an error status
/// (e.g. ESME_RX_T_APPN, 0x64) so the SMSC delivers it again later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NotAccepted {
    /// The webhook queue is full.
    #[error("the webhook queue is full")]
    WebhookQueueFull,
}
