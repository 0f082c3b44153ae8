//! The durable store: every accepted message, its segments and outcomes, the receipt
//! correlation, the webhook outbox and the parts of long inbound messages.
//!
//! **202 means on disk.** The API answers only after the message is committed; a channel
//! acknowledges a deliver_sm only after its event is committed; nothing is held only in
//! memory. [`Store`] is shaped for a network database: every call is one asynchronous round
//! trip that carries a batch, so a backend can group many callers into one transaction.
//! [`sqlite::SqliteStore`] is the embedded backend: one writer thread with group commit
//! (WAL), one syncer thread that fsyncs the WAL before any answer leaves, one reader thread,
//! never a tokio worker. [`postgres::PgStore`] keeps the same promises on PostgreSQL, with
//! durable claims so that several nodes can share it.
//!
//! The root holds what every backend shares (the [`Store`] contract, the records, the
//! message ids); [`sqlite`] and [`postgres`] are namespaces with each backend's own API (its
//! store and options, its schema version, `inspect`), whose names the other backend repeats.
//!
//! ```text
//!   queued --claimed by a channel--> (queued, sending) --all segments acknowledged--> submitted
//!     |  \                                   |                                           |
//!     |   validity passed --> expired        +--error response--> failed      receipts --+--> delivered
//!     |                                                                                  +--> failed / expired
//!     +-- restart: messages claimed but not answered are queued again and re-sent
//! ```
//!
//! Depends on: `sms` (segments, message-id matching) and the engine's report types.

mod backlog;
mod body;
mod call;
mod event_body;
mod fence;
mod forms;
mod gauges;
mod id;
pub mod postgres;
mod record;
pub mod sqlite;
mod state;
mod time;
mod user_event;

#[cfg(test)]
pub(crate) mod shared_tests;

// The records a store keeps and the changes it applies.
pub use fence::Fence;
pub use id::{MessageId, ID_LEN};
pub use record::{
    segment_key, split_key, user_queue, Accepted, AcceptedMessage, Applied, Change, ClaimedMessage,
    Failure, Idempotency, MessageRecord, MessageState, NewMessage, Origin, OutboxEvent, Outcome,
    ReceiptMatch, ReceiptWish, Refused, SegmentRecord, StoreStats, StoredPart, Transition, Upkeep,
};
pub use state::{is_final_receipt, state_from_receipts};
pub use time::rfc3339;

// The queues' backlog, for the API's and the feeders' view of them.
pub use backlog::{Backlog, QueueBacklog, ANY_CHANNEL};

// The outbox events of the SMPP server's users.
#[cfg(test)]
pub(crate) use user_event::UserReceipt;
pub(crate) use user_event::{UserMo, USER_MO, USER_RECEIPT};

use std::future::Future;
use std::pin::Pin;
use std::time::SystemTime;

/// A store call in flight.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Whether a call ran, as soon as the store knows ([`Store::apply_ordered`]).
pub type Ran = tokio::sync::oneshot::Receiver<bool>;

/// Why a store call failed as a whole. Nothing it would have changed was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be written (disk full, I/O error, read-only file...).
    #[error("the store cannot write to disk: {0}")]
    Write(String),
    /// The database cannot be read.
    #[error("the store cannot read: {0}")]
    Read(String),
    /// The database cannot be opened or migrated.
    #[error("cannot open the store {path}: {reason}")]
    Open {
        /// The file.
        path: String,
        /// Why.
        reason: String,
    },
    /// The file was written by a newer smppd.
    #[error("the store {path} has schema version {found}, newer than this smppd knows ({known}); run the newer smppd or restore a backup")]
    TooNew {
        /// The file.
        path: String,
        /// Its version.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// The store's threads are gone (the daemon is stopping).
    #[error("the store is closed")]
    Closed,
    /// A write on behalf of a channel's session slot whose lease another node has taken
    /// over (or that was released): nothing was written.
    #[error("{fence} is no longer held by this node: another node took it over")]
    Fenced {
        /// The slot and the epoch the write was made under.
        fence: Fence,
    },
}

/// Where messages and events are kept. Every method is one round trip; batches go in one
/// transaction, and a call returns only once that transaction is durable.
pub trait Store: Send + Sync + 'static {
    /// Commits `messages` as `queued`. One result per message, in order: a message may be
    /// refused (queue full, key reused) while others of the batch are accepted.
    fn accept(
        &self,
        messages: Vec<NewMessage>,
        now: SystemTime,
    ) -> StoreFuture<'_, Vec<Result<Accepted, Refused>>>;

    /// Takes up to `limit` queued, unexpired messages that the fence's channel may send
    /// (pinned to it, or to none, or waiting in one of the queues `also` names: the SMPP
    /// users' queues this channel serves now), oldest first, and marks them as handed to
    /// its slot. [`StoreError::Fenced`] when the slot's lease was taken over.
    fn claim_with(
        &self,
        fence: &Fence,
        also: Vec<String>,
        limit: usize,
        now: SystemTime,
    ) -> StoreFuture<'_, Vec<ClaimedMessage>>;

    /// [`Store::claim_with`] from the channel's own queue and the shared one only.
    fn claim_for(
        &self,
        fence: &Fence,
        limit: usize,
        now: SystemTime,
    ) -> StoreFuture<'_, Vec<ClaimedMessage>> {
        self.claim_with(fence, Vec::new(), limit, now)
    }

    /// Gives claimed messages back to the queue (a channel stopped holding them); `true`
    /// beside a message that may have reached the SMSC (its re-send is counted). With a
    /// fence, only what that slot still holds goes back, and only while it holds its lease.
    fn release_for(&self, fence: Option<&Fence>, seqs: Vec<(i64, bool)>) -> StoreFuture<'_, ()>;

    /// Applies what the fence's slot reported, in order, in one transaction.
    fn apply_for(
        &self,
        fence: &Fence,
        changes: Vec<Change>,
        now: SystemTime,
    ) -> StoreFuture<'_, Vec<Applied>>;

    /// [`Store::apply_for`], telling early when the changes have run. `Ran` gives `true`
    /// once they are committed in the store's order, perhaps not yet durably: a call made
    /// after that runs after them, whatever becomes of their durability (a failed sync
    /// answers them with an error, and applying them again is as safe as after any failed
    /// call). `false`, or a dropped sender, when the caller must wait for the answer to
    /// know. The default tells nothing early.
    fn apply_ordered(
        &self,
        fence: &Fence,
        changes: Vec<Change>,
        now: SystemTime,
    ) -> (Ran, StoreFuture<'_, Vec<Applied>>) {
        let (_, ran) = tokio::sync::oneshot::channel();
        (ran, self.apply_for(fence, changes, now))
    }

    /// [`Store::claim_for`] slot 0 of `channel`, unleased.
    fn claim(
        &self,
        channel: &str,
        limit: usize,
        now: SystemTime,
    ) -> StoreFuture<'_, Vec<ClaimedMessage>> {
        self.claim_for(&Fence::unleased(channel), limit, now)
    }

    /// [`Store::release_for`] without a fence.
    fn release(&self, seqs: Vec<(i64, bool)>) -> StoreFuture<'_, ()> {
        self.release_for(None, seqs)
    }

    /// [`Store::apply_for`] slot 0 of `channel`, unleased.
    fn apply(
        &self,
        channel: &str,
        changes: Vec<Change>,
        now: SystemTime,
    ) -> StoreFuture<'_, Vec<Applied>> {
        self.apply_for(&Fence::unleased(channel), changes, now)
    }

    /// Fails every queued message tied to a channel not in `configured` (it was removed
    /// from the configuration: nothing could ever send it). Returns how many.
    fn fail_unconfigured(
        &self,
        configured: Vec<String>,
        reason: &str,
        now: SystemTime,
    ) -> StoreFuture<'_, u64>;

    /// One message, as `GET /v1/messages/{id}` shows it.
    fn get(&self, id: &MessageId) -> StoreFuture<'_, Option<MessageRecord>>;

    /// The first `limit` events of the outbox, in delivery order, each with the time it is
    /// due (the sender keeps the order: it waits for the head rather than skipping it).
    /// `now` is for backends that filter by due time.
    fn outbox_due(&self, limit: usize, now: SystemTime) -> StoreFuture<'_, Vec<OutboxEvent>>;

    /// [`Store::outbox_due`] for the events of one SMPP user (receipts of its messages,
    /// inbound messages routed to it), which the webhook never sees.
    fn outbox_due_for(
        &self,
        user: &str,
        limit: usize,
        now: SystemTime,
    ) -> StoreFuture<'_, Vec<OutboxEvent>>;

    /// Removes delivered events.
    fn outbox_delivered(&self, seqs: Vec<i64>) -> StoreFuture<'_, ()>;

    /// Sets which SMPP users have a balance: `Some(first)` gives a user without one a
    /// balance of `first` (a user that has one keeps it); `None` takes a user's balance away
    /// (unlimited). Users not named are left as they are.
    fn credits_configure(&self, users: Vec<(String, Option<u64>)>) -> StoreFuture<'_, ()>;

    /// Adds `add` credits to a user's balance; the new balance, or `None` when the user has
    /// none (unlimited).
    fn credits_add(&self, user: String, add: u64) -> StoreFuture<'_, Option<u64>>;

    /// Every balance, by user.
    fn credits(&self) -> StoreFuture<'_, Vec<(String, u64)>>;

    /// Records a failed attempt of event `seq`; it is due again at `due`.
    fn outbox_retry(&self, seq: i64, due: SystemTime) -> StoreFuture<'_, ()>;

    /// Every kept part of long inbound messages (to rebuild the reassembly after a start).
    fn parts(&self) -> StoreFuture<'_, Vec<StoredPart>>;

    /// Expires queued messages whose validity ran out and purges, in small batches, what
    /// outlived its retention.
    fn upkeep(&self, now: SystemTime) -> StoreFuture<'_, Upkeep>;

    /// Counts for inspection; may scan, so not for every scrape.
    fn stats(&self) -> StoreFuture<'_, StoreStats>;

    /// Queued messages per queue and the head of the webhook outbox: cheap, for `/metrics`
    /// and `GET /v1/channels`.
    fn backlog(&self) -> StoreFuture<'_, Backlog>;

    /// The counts kept live, as of the last commit (cheap: for `/metrics` and `/health`).
    fn counts(&self) -> LiveCounts;
}

/// What opening a store found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recovery {
    /// The schema version the store had (0: new).
    pub schema_found: i64,
    /// Messages that were handed to a channel when the last run ended, queued again to be
    /// re-sent (they may have reached the SMSC: at-least-once).
    pub requeued: u64,
}

/// Counts a backend keeps up to date as it commits.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LiveCounts {
    /// Messages waiting to be sent.
    pub waiting: u64,
    /// Webhook events in the outbox.
    pub outbox: u64,
    /// Transactions committed since the start.
    pub commits: u64,
    /// Calls those transactions carried (group commit: calls / commits per transaction).
    pub grouped_calls: u64,
    /// Syncs to disk that made those transactions durable (one may cover several).
    pub syncs: u64,
}
