//! The message store: what happened to every message the API accepted, for
//! `GET /v1/messages/{id}` and for matching delivery receipts to their messages.
//!
//! [`MessageStore`] is a trait so that a durable store can replace [`MemoryStore`] later
//! without touching the API. The store is bounded: when it holds its maximum of messages, the
//! oldest finished one makes room, and when every message is still on its way new ones are
//! refused (the API answers 503) rather than evicting one. Finished messages also age out
//! after a retention period.
//!
//! ```text
//!   queued --all segments acknowledged--> submitted --receipt DELIVRD/ACCEPTD--> delivered
//!     |                                      |------receipt EXPIRED------------> expired
//!     +--error response, timeout, lost link--+------receipt UNDELIV/REJECTD/DELETED--> failed
//! ```
//!
//! Depends on: `sms` (message-id matching) and the engine's report types.

mod id;
mod memory;
mod record;
mod time;

pub use id::{MessageId, ID_LEN};
pub use memory::{MemoryStore, RECEIPT_WAIT};
pub use record::{
    Failure, MessageRecord, MessageState, NewMessage, Outcome, ReceiptMatch, SegmentRecord,
    Transition,
};
pub use time::rfc3339;

use super::engine::ReceiptReport;

/// Why a message could not be stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The store holds its maximum of messages (`max-tracked-messages`), none finished.
    #[error("the message store is full ({max} messages tracked); try again later")]
    Full {
        /// The configured maximum.
        max: usize,
    },
    /// A message with this id is already stored (ids are random: a bug, never a client's).
    #[error("message id {0} is already in use")]
    Duplicate(MessageId),
}

/// Where accepted messages and their outcomes are kept. Every method is synchronous and
/// short: handlers and sessions call it without awaiting.
pub trait MessageStore: Send + Sync + 'static {
    /// Tracks a newly accepted message in the `queued` state.
    fn insert(&self, message: NewMessage) -> Result<(), StoreError>;

    /// Forgets a message that was stored but then refused by every channel.
    fn remove(&self, id: &MessageId);

    /// A snapshot of one message.
    fn get(&self, id: &MessageId) -> Option<MessageRecord>;

    /// Messages tracked now.
    fn len(&self) -> usize;

    /// Whether no message is tracked.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// submit_sm_resp with status 0 for segment `segment` (0-based) of `id`, carrying the
    /// SMSC's message_id. `None` when the message is unknown (aged out) or the segment is
    /// out of range.
    fn on_submitted(
        &self,
        id: &MessageId,
        segment: usize,
        smsc_message_id: &str,
    ) -> Option<Outcome>;

    /// The message failed: an error submit_sm_resp (`status` = its command_status), or a
    /// local failure such as a response timeout (`status` = `None`).
    fn on_failed(&self, id: &MessageId, status: Option<u32>, reason: &str) -> Option<Outcome>;

    /// A delivery receipt from `channel`, matched by its SMSC message id under the `sms`
    /// module's rules (exact, then case/leading zeros, then hex against decimal).
    fn on_receipt(&self, channel: &str, receipt: &ReceiptReport) -> ReceiptMatch;
}
