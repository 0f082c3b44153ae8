//! The shapes the store keeps and returns.

use super::event_body::Field;
use super::MessageId;
use crate::daemon::engine::ReceiptState;
use crate::sms::Segment;
use std::time::{Duration, SystemTime};

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageState {
    /// Accepted and on disk; waiting for a channel able to transmit (or handed to one and
    /// not yet acknowledged by the SMSC).
    Queued,
    /// Every segment acknowledged by the SMSC (each has an SMSC message id).
    Submitted,
    /// Every segment's receipt says delivered (or accepted on the subscriber's behalf).
    Delivered,
    /// Refused by the SMSC, or reported undeliverable/rejected/deleted by a receipt.
    Failed,
    /// Its validity passed before it could be sent, or a receipt says so.
    Expired,
}

impl MessageState {
    /// Every state, in the order of their stored codes.
    pub const ALL: [MessageState; 5] = [
        MessageState::Queued,
        MessageState::Submitted,
        MessageState::Delivered,
        MessageState::Failed,
        MessageState::Expired,
    ];

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
    /// The channel that sent it, or that the router chose while it waits.
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
    /// When its validity ends; it is never sent after that.
    pub expires_at: SystemTime,
    /// The SMPP user that submitted it, when one did.
    pub origin: Option<String>,
}

/// An `Idempotency-Key` with a fingerprint of the request it came with, so that a key
/// reused for a different request is told apart from a retry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    /// The client's key.
    pub key: String,
    /// A digest of the request body (or batch item) it came with.
    pub fingerprint: String,
}

/// A message to accept: routed, segmented and ready to be committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// Its id.
    pub id: MessageId,
    /// The channel the router chose (whose configuration segmented it).
    pub channel: String,
    /// Whether the client named the channel: then only that channel sends it. Otherwise any
    /// channel able to transmit may.
    pub pinned: bool,
    /// The destination.
    pub to: String,
    /// The source, when given.
    pub from: Option<String>,
    /// Whether a receipt is asked for.
    pub delivery_report: bool,
    /// When its validity ends.
    pub expires_at: SystemTime,
    /// Whether the remaining validity is sent as submit_sm's validity_period (the client or
    /// the channel asked for one); otherwise the channel's own setting is sent.
    pub send_validity: bool,
    /// The coding's word for the API (`gsm7`, `ucs2`...).
    pub encoding: &'static str,
    /// data_coding of the segments.
    pub data_coding: u8,
    /// The segments, in order (at least one).
    pub segments: Vec<Segment>,
    /// The request's idempotency key, when it had one.
    pub idempotency: Option<Idempotency>,
    /// The SMPP server's user that submitted it, when one did: the message waits in that
    /// user's queue (see [`user_queue`]) and its receipts go back to that user.
    pub origin: Option<Origin>,
}

/// Who submitted a message over the SMPP server, and what that costs and asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The user (the NAME of its `[smpp-user-NAME]` section).
    pub user: String,
    /// Which receipts the user asked for (its submit's registered_delivery).
    pub receipts: ReceiptWish,
    /// Credits charged at accept: the user's balance is lowered by this much in the same
    /// transaction, or the message is refused ([`Refused::NoCredit`]). 0 for a user without
    /// a balance (unlimited).
    pub charge: u32,
}

/// Which delivery receipts an SMPP user asked for (SMPP 3.4 §5.2.17, bits 0-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptWish {
    /// None.
    None,
    /// The final outcome, success or failure.
    Final,
    /// Only a failure.
    FailureOnly,
}

impl ReceiptWish {
    /// From registered_delivery.
    pub fn from_registered_delivery(value: u8) -> ReceiptWish {
        match value & 0x03 {
            1 => ReceiptWish::Final,
            2 => ReceiptWish::FailureOnly,
            _ => ReceiptWish::None,
        }
    }

    /// The stored code (0, 1, 2: registered_delivery's own values).
    pub fn code(self) -> i64 {
        match self {
            ReceiptWish::None => 0,
            ReceiptWish::Final => 1,
            ReceiptWish::FailureOnly => 2,
        }
    }

    /// From a stored code.
    pub fn from_code(code: i64) -> ReceiptWish {
        match code {
            1 => ReceiptWish::Final,
            2 => ReceiptWish::FailureOnly,
            _ => ReceiptWish::None,
        }
    }

    /// Whether a final outcome (`delivered` or not) is reported.
    pub fn wants(self, delivered: bool) -> bool {
        match self {
            ReceiptWish::None => false,
            ReceiptWish::Final => true,
            ReceiptWish::FailureOnly => !delivered,
        }
    }
}

/// The queue of the messages an SMPP user submitted: channel names cannot hold `@`, so it
/// is never a channel's own queue.
pub fn user_queue(user: &str) -> String {
    format!("@{user}")
}

impl NewMessage {
    /// The queue the message waits in: its user's, its channel's when the client named one,
    /// else the shared one (`""`).
    pub fn queue(&self) -> std::borrow::Cow<'_, str> {
        match (&self.origin, self.pinned) {
            (Some(origin), _) => std::borrow::Cow::Owned(user_queue(&origin.user)),
            (None, true) => std::borrow::Cow::Borrowed(&self.channel),
            (None, false) => std::borrow::Cow::Borrowed(""),
        }
    }
}

/// What the API answers for an accepted message (also when a retry repeats it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AcceptedMessage {
    /// The id.
    pub id: MessageId,
    /// Segments.
    pub segments: usize,
    /// The channel chosen for it.
    pub channel: String,
    /// The coding's word.
    pub encoding: String,
    /// data_coding.
    pub data_coding: u8,
}

/// The result of accepting one message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Accepted {
    /// Committed now.
    New(AcceptedMessage),
    /// The idempotency key was seen before with the same request: the first result.
    Repeat(AcceptedMessage),
}

/// Why one message was not accepted (the others of the same batch may have been).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// `[store] max-queued` messages wait already.
    #[error("the queue is full: {max} messages are waiting ([store] max-queued); try again later")]
    QueueFull {
        /// The configured limit.
        max: u64,
    },
    /// The idempotency key was used before for a different request.
    #[error("Idempotency-Key {key:?} was used before for a different request")]
    KeyReused {
        /// The key.
        key: String,
    },
    /// The submitting SMPP user's balance is below the message's charge.
    #[error(
        "the SMPP user {user} has {left} credits left, fewer than the {charge} this message costs"
    )]
    NoCredit {
        /// The user.
        user: String,
        /// What it has left.
        left: u64,
        /// What the message costs.
        charge: u32,
    },
}

/// A message handed to a channel: what it needs to build each segment's submit_sm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedMessage {
    /// The store's key of the message (see [`segment_key`]).
    pub seq: i64,
    /// The API id, for logs.
    pub id: MessageId,
    /// The destination.
    pub to: String,
    /// The source, when given.
    pub from: Option<String>,
    /// Whether a receipt is asked for.
    pub delivery_report: bool,
    /// When its validity ends.
    pub expires_at: SystemTime,
    /// Whether to send the remaining validity as validity_period.
    pub send_validity: bool,
    /// The segments still to send, with their index.
    pub segments: Vec<(u8, Segment)>,
    /// Whether an earlier claim of it may have reached the SMSC (a re-send).
    pub resend: bool,
}

/// The key of segment `index` of the message with store key `seq`, as carried through the
/// session in [`crate::session::OutboundMessage::id`].
pub fn segment_key(seq: i64, index: u8) -> u64 {
    ((seq as u64) << 8) | u64::from(index)
}

/// The message key and segment index of a segment key.
pub fn split_key(key: u64) -> (i64, u8) {
    ((key >> 8) as i64, (key & 0xff) as u8)
}

/// What a channel reports back, applied to the store in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A segment was acknowledged with the SMSC's message id.
    Submitted {
        /// The segment's key.
        key: u64,
        /// The SMSC's message_id.
        smsc_message_id: String,
    },
    /// A segment (hence its message) failed for good.
    Failed {
        /// The segment's key.
        key: u64,
        /// The error response's command_status, if there was one.
        status: Option<u32>,
        /// What happened.
        reason: String,
    },
    /// A claimed message's validity ran out before it was sent.
    Expired {
        /// The message's key.
        seq: i64,
    },
    /// A delivery receipt; `event` (when a webhook is configured) is completed with what it
    /// matched and queued in the outbox in the same transaction.
    Receipt {
        /// The receipt.
        receipt: crate::daemon::engine::ReceiptReport,
        /// The webhook event, without its match fields.
        event: Option<serde_json::Map<String, serde_json::Value>>,
    },
    /// An event (an inbound message) to queue in the outbox.
    Event {
        /// The event, without `event_id`.
        event: serde_json::Map<String, serde_json::Value>,
        /// The SMPP user it goes to; `None`: the webhook.
        user: Option<String>,
    },
    /// One segment of a long inbound message, kept until the others arrive.
    Part {
        /// Which long message (channel-independent key text).
        set: String,
        /// Its number, 1-based.
        number: u8,
        /// Everything needed to rebuild it after a restart.
        data: Vec<u8>,
    },
    /// A long inbound message is complete: queue its event and forget its kept parts, both
    /// or neither (when the outbox is full, the parts stay for the SMSC's redelivery).
    Completed {
        /// Which long message.
        set: String,
        /// The event, without `event_id`.
        event: serde_json::Map<String, serde_json::Value>,
        /// The SMPP user it goes to; `None`: the webhook.
        user: Option<String>,
    },
    /// A long inbound message was given up (incomplete for too long): forget its parts.
    PartsDone {
        /// Which long message.
        set: String,
    },
}

/// What applying one [`Change`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Done; for outcomes, what the message became (for the metrics).
    Done(Option<Outcome>),
    /// The receipt's match.
    Receipt(ReceiptMatch),
    /// Not taken: the outbox is full (`[webhook] max-queued-events`); nothing changed.
    OutboxFull,
}

/// What an outcome changed, for the metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The message's channel.
    pub channel: String,
    /// Its state after the change.
    pub state: MessageState,
    /// Time from acceptance to this change.
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
    /// No message has that SMSC id (aged out, or not ours).
    NotFound,
    /// Several segments match equally well; none was updated.
    Ambiguous {
        /// The SMSC ids that matched.
        submit_ids: Vec<String>,
    },
}

impl ReceiptMatch {
    /// What a receipt's webhook event says of the message it matched: `message_id`,
    /// `segment` and `message_state`, null when it matched no one message.
    pub(crate) fn event_fields(&self) -> [(&'static str, Field<'_>); 3] {
        let (id, segment, state) = match self {
            ReceiptMatch::Matched { id, segment, state } => (
                Field::Text(id.as_str()),
                Field::Number(*segment),
                Field::Text(state.as_str()),
            ),
            _ => (Field::Null, Field::Null, Field::Null),
        };
        [
            ("message_id", id),
            ("segment", segment),
            ("message_state", state),
        ]
    }
}

/// One webhook event waiting in the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEvent {
    /// Its place in the outbox (delivery order).
    pub seq: i64,
    /// The JSON document, `event_id` included.
    pub body: Vec<u8>,
    /// Failed attempts so far.
    pub attempts: u32,
    /// Not before this time.
    pub due: SystemTime,
}

/// One kept part of a long inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPart {
    /// The channel it came on.
    pub channel: String,
    /// Which long message.
    pub set: String,
    /// Its number.
    pub number: u8,
    /// What [`Change::Part`] stored.
    pub data: Vec<u8>,
}

/// What periodic upkeep did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Upkeep {
    /// Queued messages whose validity ran out.
    pub expired: u64,
    /// Finished messages, correlations and idempotency keys removed after their retention.
    pub purged: u64,
}

/// Counts for `smppd store inspect` and `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StoreStats {
    /// The schema version of the file.
    pub schema_version: i64,
    /// Messages by state, every state listed (in [`MessageState::ALL`] order), zeros included.
    pub by_state: Vec<(MessageState, u64)>,
    /// Queued messages per queue (a channel's name, or `*` for any channel).
    pub queued_by_channel: Vec<(String, u64)>,
    /// When the oldest queued message was accepted.
    pub oldest_queued: Option<SystemTime>,
    /// Webhook events waiting.
    pub outbox: u64,
    /// Parts of long inbound messages waiting for the rest.
    pub inbound_parts: u64,
    /// Receipt correlations kept.
    pub correlations: u64,
    /// The database file's size in octets (WAL included).
    pub file_bytes: u64,
}

impl StoreStats {
    /// How many messages are in `state`.
    pub fn messages_in(&self, state: MessageState) -> u64 {
        self.by_state
            .iter()
            .find(|(s, _)| *s == state)
            .map_or(0, |(_, n)| *n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_in_a_state_are_counted_by_state() {
        let stats = StoreStats {
            by_state: vec![(MessageState::Queued, 3), (MessageState::Failed, 1)],
            ..StoreStats::default()
        };
        assert_eq!(stats.messages_in(MessageState::Queued), 3);
        assert_eq!(stats.messages_in(MessageState::Failed), 1);
        assert_eq!(stats.messages_in(MessageState::Delivered), 0);
    }
}
