//! [`MemoryStore`]: the bounded in-memory [`MessageStore`].

use super::record::{
    Failure, MessageRecord, MessageState, NewMessage, Outcome, ReceiptMatch, SegmentRecord,
    Transition,
};
use super::{MessageId, MessageStore, StoreError};
use crate::daemon::engine::{ReceiptReport, ReceiptState};
use crate::sms::{Lookup, MessageIdIndex};
use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

/// How long a submitted message waits for its receipt before it is forgotten. SMSCs keep
/// messages for at most their validity period (commonly 48-72 hours); a receipt lost by the
/// SMSC must not pin a slot of the bounded store forever.
pub const RECEIPT_WAIT: Duration = Duration::from_secs(72 * 3600);

/// The current time; injected so that tests can age messages without sleeping.
pub type Clock = Box<dyn Fn() -> SystemTime + Send + Sync>;

/// Where a receipt's SMSC id points: a message and one of its segments.
type SegmentRef = (MessageId, usize);

#[derive(Default)]
struct Inner {
    messages: HashMap<MessageId, MessageRecord>,
    /// Finished messages, in the order they finished (so also by time).
    finished: VecDeque<(SystemTime, MessageId)>,
    /// Submitted messages waiting for receipts, in the order they were submitted.
    awaiting: VecDeque<(SystemTime, MessageId)>,
    /// One index per channel: SMSC ids are unique per SMSC, not across them.
    receipts: HashMap<String, MessageIdIndex<SegmentRef>>,
}

/// A bounded in-memory store. One mutex guards it all; every operation is a few map
/// look-ups, never an await.
pub struct MemoryStore {
    max: usize,
    retention: Duration,
    clock: Clock,
    inner: Mutex<Inner>,
}

impl MemoryStore {
    /// A store tracking at most `max` messages, keeping finished ones for `retention`.
    pub fn new(max: usize, retention: Duration) -> Self {
        Self::with_clock(max, retention, Box::new(SystemTime::now))
    }

    /// Like [`MemoryStore::new`], reading the time from `clock`.
    pub fn with_clock(max: usize, retention: Duration, clock: Clock) -> Self {
        MemoryStore {
            max,
            retention,
            clock,
            inner: Mutex::new(Inner::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while holding the lock leaves maps that are still consistent
        // enough to serve; refusing every later request would be worse.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Inner {
    fn forget(&mut self, id: &MessageId) {
        let Some(record) = self.messages.remove(id) else {
            return;
        };
        if let Some(index) = self.receipts.get_mut(&record.channel) {
            for segment in &record.segments {
                if let Some(smsc_id) = &segment.smsc_message_id {
                    index.remove_submit(smsc_id);
                }
            }
        }
    }

    /// Drops finished messages older than `retention` and submitted ones that waited too
    /// long for a receipt. Queue entries whose message moved on are skipped.
    fn purge(&mut self, now: SystemTime, retention: Duration) {
        while let Some((at, id)) = self.finished.front().cloned() {
            if now.duration_since(at).unwrap_or_default() < retention {
                break;
            }
            self.finished.pop_front();
            self.forget(&id);
        }
        while let Some((at, id)) = self.awaiting.front().cloned() {
            if now.duration_since(at).unwrap_or_default() < RECEIPT_WAIT {
                break;
            }
            self.awaiting.pop_front();
            if self
                .messages
                .get(&id)
                .is_some_and(|m| m.state == MessageState::Submitted)
            {
                self.forget(&id);
            }
        }
    }

    fn enter(&mut self, id: &MessageId, state: MessageState, now: SystemTime) {
        let Some(record) = self.messages.get_mut(id) else {
            return;
        };
        if record.state == state || record.state.is_final() {
            return;
        }
        record.state = state;
        record.history.push(Transition { state, at: now });
        if state.is_final() || (state == MessageState::Submitted && !record.delivery_report) {
            self.finished.push_back((now, id.clone()));
        } else if state == MessageState::Submitted {
            self.awaiting.push_back((now, id.clone()));
        }
    }

    fn outcome(&self, id: &MessageId, now: SystemTime) -> Option<Outcome> {
        let record = self.messages.get(id)?;
        let accepted = record.history.first().map_or(now, |t| t.at);
        Some(Outcome {
            channel: record.channel.clone(),
            state: record.state,
            since_accepted: now.duration_since(accepted).unwrap_or_default(),
        })
    }
}

/// The message state that the segments' receipts add up to, if they settle it.
fn state_from_receipts(segments: &[SegmentRecord]) -> Option<(MessageState, Option<String>)> {
    let failed = segments.iter().find(|s| {
        matches!(
            s.receipt,
            Some(ReceiptState::Undeliverable | ReceiptState::Rejected | ReceiptState::Deleted)
        )
    });
    if let Some(s) = failed {
        let state = s.receipt.as_ref().map_or("", |r| r.as_str());
        let reason = match &s.receipt_error {
            Some(err) => format!("receipt: {state} (err {err})"),
            None => format!("receipt: {state}"),
        };
        return Some((MessageState::Failed, Some(reason)));
    }
    if segments
        .iter()
        .any(|s| s.receipt == Some(ReceiptState::Expired))
    {
        return Some((MessageState::Expired, None));
    }
    let delivered = segments.iter().all(|s| {
        matches!(
            s.receipt,
            Some(ReceiptState::Delivered | ReceiptState::Accepted)
        )
    });
    delivered.then_some((MessageState::Delivered, None))
}

/// Whether a receipt in this state is the last one its segment gets.
fn is_final_receipt(state: &ReceiptState) -> bool {
    matches!(
        state,
        ReceiptState::Delivered
            | ReceiptState::Expired
            | ReceiptState::Deleted
            | ReceiptState::Undeliverable
            | ReceiptState::Accepted
            | ReceiptState::Rejected
    )
}

impl MessageStore for MemoryStore {
    fn insert(&self, message: NewMessage) -> Result<(), StoreError> {
        let now = (self.clock)();
        let mut inner = self.lock();
        inner.purge(now, self.retention);
        // Full: a finished message goes early (oldest first) before a new one is refused;
        // a message still on its way is never evicted.
        while inner.messages.len() >= self.max {
            match inner.finished.pop_front() {
                Some((_, id)) => inner.forget(&id),
                None => return Err(StoreError::Full { max: self.max }),
            }
        }
        if inner.messages.contains_key(&message.id) {
            return Err(StoreError::Duplicate(message.id));
        }
        let record = MessageRecord {
            id: message.id.clone(),
            channel: message.channel,
            to: message.to,
            from: message.from,
            delivery_report: message.delivery_report,
            state: MessageState::Queued,
            segments: vec![SegmentRecord::default(); message.segments.max(1)],
            failure: None,
            history: vec![Transition {
                state: MessageState::Queued,
                at: now,
            }],
        };
        inner.messages.insert(message.id, record);
        Ok(())
    }

    fn remove(&self, id: &MessageId) {
        self.lock().forget(id);
    }

    fn get(&self, id: &MessageId) -> Option<MessageRecord> {
        let now = (self.clock)();
        let mut inner = self.lock();
        inner.purge(now, self.retention);
        inner.messages.get(id).cloned()
    }

    fn len(&self) -> usize {
        self.lock().messages.len()
    }

    fn on_submitted(
        &self,
        id: &MessageId,
        segment: usize,
        smsc_message_id: &str,
    ) -> Option<Outcome> {
        let now = (self.clock)();
        let mut inner = self.lock();
        let record = inner.messages.get_mut(id)?;
        let slot = record.segments.get_mut(segment)?;
        slot.smsc_message_id = Some(smsc_message_id.to_string());
        let all_acknowledged = record.segments.iter().all(|s| s.smsc_message_id.is_some());
        let channel = record.channel.clone();
        let wants_receipt = record.delivery_report;
        if wants_receipt {
            inner
                .receipts
                .entry(channel)
                .or_default()
                .insert(smsc_message_id, (id.clone(), segment));
        }
        if all_acknowledged {
            inner.enter(id, MessageState::Submitted, now);
        }
        inner.outcome(id, now)
    }

    fn on_failed(&self, id: &MessageId, status: Option<u32>, reason: &str) -> Option<Outcome> {
        let now = (self.clock)();
        let mut inner = self.lock();
        let record = inner.messages.get_mut(id)?;
        if !record.state.is_final() {
            record.failure = Some(Failure {
                status,
                reason: reason.to_string(),
            });
        }
        inner.enter(id, MessageState::Failed, now);
        inner.outcome(id, now)
    }

    fn on_receipt(&self, channel: &str, receipt: &ReceiptReport) -> ReceiptMatch {
        let now = (self.clock)();
        let mut inner = self.lock();
        let Some(index) = inner.receipts.get_mut(channel) else {
            return ReceiptMatch::NotFound;
        };
        let found = if is_final_receipt(&receipt.state) {
            index.remove(&receipt.smsc_message_id)
        } else {
            match index.get(&receipt.smsc_message_id) {
                Lookup::Found {
                    submit_id,
                    value,
                    rule,
                } => Lookup::Found {
                    submit_id,
                    value: value.clone(),
                    rule,
                },
                Lookup::Ambiguous { rule, submit_ids } => Lookup::Ambiguous { rule, submit_ids },
                Lookup::NotFound => Lookup::NotFound,
            }
        };
        let (id, segment) = match found {
            Lookup::Found { value, .. } => value,
            Lookup::Ambiguous { submit_ids, .. } => return ReceiptMatch::Ambiguous { submit_ids },
            Lookup::NotFound => return ReceiptMatch::NotFound,
        };
        let Some(record) = inner.messages.get_mut(&id) else {
            return ReceiptMatch::NotFound;
        };
        if let Some(slot) = record.segments.get_mut(segment) {
            slot.receipt = Some(receipt.state.clone());
            slot.receipt_error = receipt.error_code.clone();
        }
        if let Some((state, reason)) = state_from_receipts(&record.segments) {
            if state == MessageState::Failed && !record.state.is_final() {
                record.failure = Some(Failure {
                    status: None,
                    reason: reason.unwrap_or_default(),
                });
            }
            inner.enter(&id, state, now);
        }
        let state = inner
            .messages
            .get(&id)
            .map_or(MessageState::Failed, |m| m.state);
        ReceiptMatch::Matched { id, segment, state }
    }
}

#[cfg(test)]
mod tests;
