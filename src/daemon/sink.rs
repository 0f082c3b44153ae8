//! The sink of one channel: everything its sessions report — submit outcomes, delivery
//! receipts, inbound messages — applied to the store in the order it happened.
//!
//! The sink takes every event waiting, turns them into [`Change`]s and applies them in one
//! store call (one group commit). Only once that is durable does it answer the SMSC: a
//! deliver_sm is acknowledged after its receipt or message is in the webhook outbox, and a
//! segment of a long message after the segment is stored. Order matters: an SMSC may send a
//! receipt right behind the submit_sm_resp it refers to, and the session reports both on one
//! stream, so the outcome is always applied first.
//!
//! An inbound message to an address in an SMPP user's `address-ranges` goes to that user's
//! outbox instead of the webhook, as the octets the SMSC sent (see
//! [`super::store::UserMo`]), whether or not a webhook is configured.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use bytes::Bytes;
use serde_json::{Map, Value};
use tokio::sync::{mpsc, Notify};

use super::api::Metrics;
use super::engine::{InboundContent, ReceiptReport, ReceiptState};
use super::feeder::InFlight;
use super::mask::mask_card_numbers;
use super::smpp_server::UserRoutes;
use super::store::{
    rfc3339, Applied, Change, Fence, Ran, ReceiptMatch, Store, StoreError, StoreFuture, StoredPart,
    UserMo,
};
use crate::codec::{CommandStatus, TlvTag, Tlvs};
use crate::config::{ChannelConfig, InboundEncoding};
use crate::session::{
    FailureReason, Inbound, InboundPdu, RecordPlace, SessionEvent, SubmitOutcome,
};
use crate::sms::{
    self, Coding, ConcatInfo, ConcatRef, Fragment, Pushed, Reassembler, ReassemblyLimits, SarValues,
};

/// The most events one store call takes. The next call goes as soon as this one ran (up to
/// [`MAX_SENT`] in the store's hands), and the record-window places of a call come back
/// only when it is durable: calls of ~500 answers and their receipts return a window of
/// 1000 in two steps while the writer is already on the next, where calls of 2000 events
/// held the whole window in one. Measured on a drain: 1024 beat both 4096 and 512.
const MAX_BATCH: usize = 1024;
/// The longest wait between two tries of a store call that failed.
const RETRY_MAX: Duration = Duration::from_secs(5);

/// One channel's sink task.
pub(crate) struct Sink {
    /// The channel.
    pub config: Arc<ChannelConfig>,
    /// Where everything goes.
    pub store: Arc<dyn Store>,
    /// Submit response counts and latencies.
    pub metrics: Arc<Metrics>,
    /// Whether a webhook is configured (else inbound messages are logged and dropped).
    pub webhook: bool,
    /// Poked when events were queued for the webhook.
    pub outbox: Arc<Notify>,
    /// Segments the feeder handed over whose outcome is not recorded yet.
    pub in_flight: Arc<InFlight>,
    /// The session slot whose reports these are (every write is made under it).
    pub fence: Fence,
    /// Which SMPP user an inbound message goes to, by its destination.
    pub routes: Arc<UserRoutes>,
}

impl std::fmt::Debug for Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Shared handles and tasks: what they point to is not this value's to print.
        f.debug_struct("Sink").finish_non_exhaustive()
    }
}

/// The most batches in the store's hands at once.
const MAX_SENT: usize = 3;

/// When the sink may send its next batch.
enum NextSend {
    /// Now.
    Now,
    /// Once the newest batch is known to have run.
    AfterRan(Ran),
    /// Once every batch sent is answered (the newest's run is not known early).
    AfterAnswers,
}

/// A batch sent to the store and not yet answered.
struct InStore<'a> {
    batch: Prepared,
    durable: StoreFuture<'a, Vec<Applied>>,
}

/// A batch of reports turned into changes, and what waits for them.
struct Prepared {
    changes: Vec<Change>,
    answers: Vec<Answer>,
    /// Sets of a long inbound message a part of which this batch keeps.
    held: Vec<String>,
    /// The record-window places of the reported submits: freed once their outcomes are
    /// durable (or will never be recorded here), which lets the session write more.
    places: Vec<RecordPlace>,
    /// Indexes of completed long inbound messages among the changes.
    completions: Vec<usize>,
    /// The response status each change stands for, for the metrics.
    statuses: Vec<Option<u32>>,
    /// How many submit outcomes the changes hold.
    outcomes: usize,
}

/// Whether `event` is an inbound message other than a receipt.
fn is_mobile_originated(event: &SessionEvent) -> bool {
    matches!(event, SessionEvent::Inbound(m) if !m.is_receipt)
}

/// What to do with an inbound PDU once the batch is applied.
enum Answer {
    /// Acknowledge when the change at this index was applied (not refused for a full outbox).
    After(Inbound, usize),
    /// Acknowledge (nothing to store, or nothing storable).
    Now(Inbound),
}

impl Sink {
    /// Runs until the channel's event stream ends (every session and the supervisor gone).
    ///
    /// Reports go to the store while earlier ones are still being made durable: a batch is
    /// sent once the one before it has run (the store then keeps their order whatever
    /// happens to the first's sync), and each batch is answered, in order, once durable. A
    /// batch with inbound messages other than receipts waits for every batch before it and
    /// is handled alone: reassembly reads what the store answered.
    pub(crate) async fn run(self, mut events: mpsc::UnboundedReceiver<SessionEvent>) {
        let mut reassembly = self.restore().await;
        let mut batch = Vec::new();
        let mut tick = tokio::time::interval(Duration::from_secs(10));
        // Batches in the store, oldest first, and whether another may follow the newest.
        let mut sent: VecDeque<InStore<'_>> = VecDeque::new();
        let mut next = NextSend::Now;
        loop {
            let may_send = sent.len() < MAX_SENT && matches!(next, NextSend::Now);
            tokio::select! {
                biased;
                applied = async { (&mut sent[0].durable).await }, if !sent.is_empty() => {
                    if let Some(done) = sent.pop_front() {
                        let applied = match applied {
                            Ok(applied) => Some(applied),
                            Err(e) => self.after_failure(e, &done.batch.changes).await,
                        };
                        self.finish(&mut reassembly, done.batch, applied).await;
                    }
                    if sent.is_empty() {
                        next = NextSend::Now;
                    }
                }
                ran = async {
                    match &mut next {
                        NextSend::AfterRan(ran) => ran.await,
                        _ => std::future::pending().await,
                    }
                }, if matches!(next, NextSend::AfterRan(_)) => {
                    next = if ran == Ok(true) { NextSend::Now } else { NextSend::AfterAnswers };
                }
                n = events.recv_many(&mut batch, MAX_BATCH), if may_send => {
                    if n == 0 {
                        break;
                    }
                    let events = std::mem::take(&mut batch);
                    if events.iter().any(is_mobile_originated) {
                        while let Some(done) = sent.pop_front() {
                            self.settle(&mut reassembly, done).await;
                        }
                        next = NextSend::Now;
                        let prepared = self.prepare(&mut reassembly, events);
                        let applied = self.apply_all(&prepared.changes).await;
                        self.finish(&mut reassembly, prepared, applied).await;
                        continue;
                    }
                    let prepared = self.prepare(&mut reassembly, events);
                    if prepared.changes.is_empty() && sent.is_empty() {
                        self.finish(&mut reassembly, prepared, Some(Vec::new())).await;
                        continue;
                    }
                    let (ran, durable) = self.store.apply_ordered(
                        &self.fence,
                        prepared.changes.clone(),
                        SystemTime::now(),
                    );
                    sent.push_back(InStore { batch: prepared, durable });
                    next = NextSend::AfterRan(ran);
                }
                _ = tick.tick() => self.expire_parts(&mut reassembly).await,
            }
        }
        // The sessions are gone: answer what is still in the store's hands.
        while let Some(done) = sent.pop_front() {
            self.settle(&mut reassembly, done).await;
        }
    }

    /// Waits for a batch in the store's hands and answers what waited for it.
    async fn settle(&self, r: &mut Reassembler, done: InStore<'_>) {
        let applied = match done.durable.await {
            Ok(applied) => Some(applied),
            Err(e) => self.after_failure(e, &done.batch.changes).await,
        };
        self.finish(r, done.batch, applied).await;
    }

    /// What a batch whose store call failed with `error` comes to: applied by trying again
    /// until the store takes it, or `None` when the slot was taken over.
    async fn after_failure(&self, error: StoreError, changes: &[Change]) -> Option<Vec<Applied>> {
        if let StoreError::Fenced { fence } = &error {
            self.log_fenced(fence, changes.len());
            return None;
        }
        tracing::error!(channel = %self.config.name, event = "store_write_failed", error = %error, "cannot record what the SMSC reported; retrying");
        self.apply_all(changes).await
    }

    fn log_fenced(&self, fence: &Fence, reports: usize) {
        tracing::warn!(channel = %self.config.name, event = "reports_fenced", slot = fence.slot, epoch = fence.epoch, reports, "the session slot was taken over; what it reported is left to its new holder");
    }

    /// Applies `changes` (none: nothing to do), trying again until the store takes them.
    async fn apply_all(&self, changes: &[Change]) -> Option<Vec<Applied>> {
        if changes.is_empty() {
            return Some(Vec::new());
        }
        self.apply(changes.to_vec()).await
    }

    /// The reassembly with the parts kept on disk by an earlier run.
    async fn restore(&self) -> Reassembler {
        let mut r = Reassembler::new(ReassemblyLimits::default());
        let parts: Vec<StoredPart> = loop {
            match self.store.parts().await {
                Ok(p) => break p,
                Err(e) => {
                    tracing::warn!(channel = %self.config.name, event = "store_unavailable", error = %e, "cannot read kept inbound parts; retrying");
                    tokio::time::sleep(RETRY_MAX).await;
                }
            }
        };
        let mut dropped = Vec::new();
        for part in parts.iter().filter(|p| p.channel == self.config.name) {
            if let Some(p) = KeptPart::decode(&part.data) {
                let _ = r.push(p.fragment(), Instant::now(), &mut dropped);
            }
        }
        r
    }

    async fn expire_parts(&self, r: &mut Reassembler) {
        let dropped = r.expire(Instant::now());
        let mut changes = Vec::new();
        for d in dropped {
            tracing::warn!(
                channel = %self.config.name,
                event = "inbound_segments_dropped",
                reason = ?d.reason,
                received = d.received,
                total = d.key.total,
                "an incomplete concatenated message was dropped"
            );
            changes.push(Change::PartsDone {
                set: set_text(
                    &d.key.source,
                    &d.key.destination,
                    d.key.reference,
                    d.key.total,
                ),
            });
        }
        if !changes.is_empty() {
            self.apply(changes).await;
        }
    }

    /// Applies `changes`, trying again until the store takes them: what they record was
    /// already answered by the SMSC (outcomes) or is waiting for our answer (inbound).
    /// `None` when the slot was taken over: nothing can be recorded under it any more (the
    /// new holder sends the unrecorded messages again, and the SMSC delivers the
    /// unanswered inbound PDUs again).
    async fn apply(&self, changes: Vec<Change>) -> Option<Vec<Applied>> {
        let mut delay = Duration::from_millis(50);
        loop {
            match self
                .store
                .apply_for(&self.fence, changes.clone(), SystemTime::now())
                .await
            {
                Ok(applied) => return Some(applied),
                Err(StoreError::Fenced { fence }) => {
                    self.log_fenced(&fence, changes.len());
                    return None;
                }
                Err(e) => {
                    tracing::error!(channel = %self.config.name, event = "store_write_failed", error = %e, retry_in_ms = delay.as_millis() as u64, "cannot record what the SMSC reported; retrying");
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(RETRY_MAX);
                }
            }
        }
    }

    /// Turns `events` into the changes to apply and what to do once they are.
    fn prepare(&self, r: &mut Reassembler, events: Vec<SessionEvent>) -> Prepared {
        let mut changes = Vec::with_capacity(events.len());
        let mut answers = Vec::new();
        let mut held = Vec::new();
        let mut places = Vec::new();
        for event in events {
            match event {
                SessionEvent::Outcome(mut outcome) => {
                    places.extend(outcome.message_mut().take_place());
                    changes.push(outcome_change(outcome));
                }
                SessionEvent::Inbound(message) => {
                    let fields = Fields::of(&message.pdu);
                    let before = changes.len();
                    if message.is_receipt {
                        self.receipt(&fields, &mut changes);
                    } else if let Some(set) = self.mobile_originated(r, &fields, &mut changes) {
                        held.push(set);
                    }
                    answers.push(if changes.len() > before {
                        Answer::After(message, changes.len() - 1)
                    } else {
                        Answer::Now(message)
                    });
                }
            }
        }
        // A completion refused (outbox full) leaves its parts on disk; the reassembly is
        // rebuilt from them so that the SMSC's redelivery of the last part completes it again.
        let completions: Vec<usize> = changes
            .iter()
            .enumerate()
            .filter(|(_, c)| matches!(c, Change::Completed { .. }))
            .map(|(i, _)| i)
            .collect();
        let statuses: Vec<Option<u32>> = changes
            .iter()
            .map(|c| match c {
                Change::Failed { status, .. } => *status,
                _ => Some(0),
            })
            .collect();
        let outcomes = changes
            .iter()
            .filter(|c| matches!(c, Change::Submitted { .. } | Change::Failed { .. }))
            .count();
        Prepared {
            changes,
            answers,
            held,
            places,
            completions,
            statuses,
            outcomes,
        }
    }

    /// Answers what `prepared` waited for, once applied (`None`: the slot was taken over,
    /// nothing of it is recorded here).
    async fn finish(&self, r: &mut Reassembler, prepared: Prepared, applied: Option<Vec<Applied>>) {
        let Prepared {
            answers,
            held,
            places,
            completions,
            statuses,
            outcomes,
            ..
        } = prepared;
        let Some(applied) = applied else {
            for answer in answers {
                match answer {
                    Answer::Now(m) => m.accept(),
                    Answer::After(m, _) => m.reject(CommandStatus::EsmeRxTAppn),
                }
            }
            return;
        };
        drop(places);
        self.in_flight.recorded(outcomes);
        if completions
            .iter()
            .any(|i| matches!(applied.get(*i), Some(Applied::OutboxFull)))
        {
            *r = self.restore().await;
        }
        let mut queued_events = false;
        for (a, status) in applied.iter().zip(statuses) {
            match a {
                Applied::Done(Some(outcome)) => {
                    self.metrics
                        .record_response(&outcome.channel, status, outcome.since_accepted)
                }
                Applied::Receipt(m) => log_match(&self.config.name, m),
                _ => {}
            }
        }
        for answer in answers {
            match answer {
                Answer::Now(m) => m.accept(),
                Answer::After(m, index) => match applied.get(index) {
                    Some(Applied::OutboxFull) => {
                        tracing::warn!(channel = %self.config.name, event = "inbound_deferred", reason = "the webhook outbox is full", "inbound PDU refused for now; the SMSC will deliver it again");
                        m.reject(CommandStatus::EsmeRxTAppn);
                    }
                    _ => {
                        queued_events |= self.webhook;
                        m.accept();
                    }
                },
            }
        }
        if queued_events {
            self.outbox.notify_one();
        }
        if !held.is_empty() && self.config.sessions > 1 {
            self.adopt_parts(r, held).await;
        }
    }

    /// With several sessions, the SMSC may deliver the parts of one long message over
    /// different binds (on this node or others): each session keeps its parts in the store,
    /// and after keeping one, a session takes in the parts of that set its siblings kept,
    /// so that whichever holds the last part sees the message whole. Every session reads
    /// after its own commit, so the last of them to commit finds every part.
    async fn adopt_parts(&self, r: &mut Reassembler, sets: Vec<String>) {
        let Ok(parts) = self.store.parts().await else {
            // The next part's arrival, or the next start, tries again.
            return;
        };
        let mut changes = Vec::new();
        for part in parts
            .iter()
            .filter(|p| p.channel == self.config.name && sets.contains(&p.set))
        {
            let Some(kept) = KeptPart::decode(&part.data) else {
                continue;
            };
            if let Segmented::Complete(whole) = self.push_segment(r, &kept) {
                let message = Whole {
                    source: &kept.source,
                    destination: &kept.destination,
                    data_coding: kept.data_coding,
                    octets: &whole,
                };
                self.inbound_event(message, Some(kept.set()), &mut changes);
            }
        }
        if !changes.is_empty() && self.apply(changes).await.is_some() && self.webhook {
            self.outbox.notify_one();
        }
    }

    fn receipt(&self, f: &Fields, changes: &mut Vec<Change>) {
        let channel = self.config.name.as_str();
        let receipted = f
            .tlvs
            .receipted_message_id()
            .and_then(|b| std::str::from_utf8(b).ok());
        let tlvs = sms::ReceiptTlvs {
            receipted_message_id: receipted,
            message_state: f
                .tlvs
                .get(TlvTag::MessageState)
                .and_then(|t| t.as_uint())
                .and_then(|v| u8::try_from(v).ok()),
            network_error_code: f
                .tlvs
                .network_error_code()
                .map(|(t, c)| [t, (c >> 8) as u8, c as u8]),
        };
        let parsed = match sms::parse_receipt(&f.text, tlvs) {
            Ok(r) => r,
            Err(e) => {
                // Asking for it again would bring the same bytes: keep the link moving.
                tracing::warn!(channel, event = "receipt_unreadable", error = %e, "a delivery receipt could not be parsed");
                return;
            }
        };
        let Some(id) = parsed.message_id else {
            tracing::warn!(
                channel,
                event = "receipt_without_id",
                "a delivery receipt names no message id"
            );
            return;
        };
        let error_code = match (parsed.network_error, parsed.text.and_then(|t| t.err)) {
            (Some(n), _) => Some(format!("{}:{}", n.network_type, n.error_code)),
            (None, Some(err)) => Some(err.to_string()),
            (None, None) => None,
        };
        let receipt = ReceiptReport {
            smsc_message_id: id.to_string(),
            state: parsed
                .state
                .map(ReceiptState::from)
                .unwrap_or(ReceiptState::Unknown),
            error_code,
        };
        let event = self.webhook.then(|| {
            let mut e = Map::new();
            e.insert("type".into(), "receipt".into());
            e.insert("channel".into(), channel.into());
            e.insert(
                "smsc_message_id".into(),
                receipt.smsc_message_id.clone().into(),
            );
            e.insert("state".into(), receipt.state.as_str().into());
            e.insert("error_code".into(), receipt.error_code.clone().into());
            e.insert("received_at".into(), rfc3339(SystemTime::now()).into());
            e
        });
        changes.push(Change::Receipt { receipt, event });
    }

    /// An inbound message (not a receipt): queued as an event, or its part kept until the
    /// others arrive. Returns the set of a part that was kept.
    fn mobile_originated(
        &self,
        r: &mut Reassembler,
        f: &Fields,
        changes: &mut Vec<Change>,
    ) -> Option<String> {
        let channel = self.config.name.as_str();
        let sar = sar_values(&f.tlvs);
        let (concat, payload) = match sms::inbound_concat(f.esm_class, &f.text, sar) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(channel, event = "inbound_udh_invalid", error = %e, "inbound message with a broken UDH; delivered as binary");
                (None, &f.text[..])
            }
        };
        let mut completes = None;
        let whole = match concat {
            None => None,
            Some(concat) => {
                let kept = KeptPart {
                    source: f.source.clone(),
                    destination: f.destination.clone(),
                    concat,
                    data_coding: f.data_coding,
                    payload: payload.to_vec(),
                };
                match self.push_segment(r, &kept) {
                    Segmented::Complete(whole) => {
                        completes = Some(kept.set());
                        Some(whole)
                    }
                    Segmented::Held => {
                        changes.push(Change::Part {
                            set: kept.set(),
                            number: concat.seqnum,
                            data: kept.encode(),
                        });
                        return Some(kept.set());
                    }
                    Segmented::Nothing => return None,
                }
            }
        };
        let message = Whole {
            source: &f.source,
            destination: &f.destination,
            data_coding: f.data_coding,
            octets: whole.as_deref().unwrap_or(payload),
        };
        self.inbound_event(message, completes, changes);
        None
    }

    /// The event of a whole inbound message, for the SMPP user whose address range its
    /// destination is in, else for the webhook (`completes`: the set of parts it
    /// completes, forgotten in the same transaction).
    fn inbound_event(
        &self,
        message: Whole<'_>,
        completes: Option<String>,
        changes: &mut Vec<Change>,
    ) {
        let channel = self.config.name.as_str();
        if let Some(user) = self.routes.user_for_destination(message.destination) {
            // The user's event does not depend on [webhook]: the user takes it over its own
            // binds, and the SMSC's answer still waits for its commit.
            let event = UserMo {
                channel,
                from: message.source,
                to: message.destination,
                data_coding: message.data_coding,
                octets: message.octets,
            }
            .event();
            let user = Some(user);
            changes.push(match completes {
                Some(set) => Change::Completed { set, event, user },
                None => Change::Event { event, user },
            });
            return;
        }
        let (source, destination) = (message.source, message.destination);
        let content = decode(message.octets, message.data_coding, &self.config);
        let content = match content {
            InboundContent::Text(t) if t.is_empty() => {
                InboundContent::Text(self.config.empty_message.clone())
            }
            other => other,
        };
        if self.config.debug_mode {
            if let InboundContent::Text(t) = &content {
                tracing::debug!(channel, event = "inbound_text", text = %mask_card_numbers(t), "inbound message text");
            }
        }
        if !self.webhook {
            tracing::info!(
                channel,
                event = "inbound_dropped",
                "inbound message dropped: no [webhook] configured"
            );
            if let Some(set) = completes {
                changes.push(Change::PartsDone { set });
            }
            return;
        }
        let mut event = Map::new();
        event.insert("type".into(), "inbound".into());
        event.insert("channel".into(), channel.into());
        event.insert("from".into(), source.into());
        event.insert("to".into(), destination.into());
        event.insert("received_at".into(), rfc3339(SystemTime::now()).into());
        match content {
            InboundContent::Text(text) => {
                event.insert("text".into(), text.into());
            }
            InboundContent::Binary { data, data_coding } => {
                event.insert(
                    "binary".into(),
                    base64::engine::general_purpose::STANDARD
                        .encode(data)
                        .into(),
                );
                event.insert("data_coding".into(), data_coding.into());
            }
        }
        changes.push(match completes {
            Some(set) => Change::Completed {
                set,
                event,
                user: None,
            },
            None => Change::Event { event, user: None },
        });
    }

    fn push_segment(&self, r: &mut Reassembler, part: &KeptPart) -> Segmented {
        let channel = self.config.name.as_str();
        let mut dropped = Vec::new();
        let pushed = r.push(part.fragment(), Instant::now(), &mut dropped);
        for d in dropped {
            tracing::warn!(channel, event = "inbound_segments_dropped", reason = ?d.reason, received = d.received, "an incomplete concatenated message was dropped");
        }
        match pushed {
            Ok(Pushed::Complete(complete)) => Segmented::Complete(complete.concat()),
            Ok(Pushed::Stored) => Segmented::Held,
            Ok(Pushed::Duplicate) => Segmented::Nothing,
            Err(e) => {
                tracing::warn!(channel, event = "inbound_segment_invalid", error = %e, "an inbound segment was ignored");
                Segmented::Nothing
            }
        }
    }
}

/// A whole inbound message (a long one reassembled), its octets without UDH.
struct Whole<'a> {
    source: &'a str,
    destination: &'a str,
    data_coding: u8,
    octets: &'a [u8],
}

enum Segmented {
    Complete(Vec<u8>),
    Held,
    Nothing,
}

fn outcome_change(outcome: SubmitOutcome) -> Change {
    match outcome {
        SubmitOutcome::Accepted {
            message,
            message_id,
        } => Change::Submitted {
            key: message.id,
            smsc_message_id: message_id,
        },
        SubmitOutcome::Failed { message, reason } => {
            let (status, reason) = match &reason {
                FailureReason::Rejected(s) => (Some(s.value()), format!("rejected: {s}")),
                FailureReason::RetriesExhausted(s) => {
                    (Some(s.value()), format!("retries exhausted: {s}"))
                }
                FailureReason::NoResponse => (None, "no submit_sm_resp in time".into()),
                FailureReason::Invalid(e) => (None, format!("cannot be encoded: {e}")),
            };
            Change::Failed {
                key: message.id,
                status,
                reason,
            }
        }
    }
}

fn log_match(channel: &str, m: &ReceiptMatch) {
    match m {
        ReceiptMatch::Matched { .. } => {}
        ReceiptMatch::NotFound => tracing::debug!(
            channel,
            event = "receipt_unmatched",
            "receipt for no tracked message"
        ),
        ReceiptMatch::Ambiguous { submit_ids } => tracing::warn!(
            channel,
            event = "receipt_ambiguous",
            candidates = ?submit_ids,
            "receipt matches several messages; none updated"
        ),
    }
}

/// A segment of a long inbound message as kept on disk until the others arrive.
#[derive(Debug, Clone, PartialEq, Eq)]
struct KeptPart {
    source: String,
    destination: String,
    concat: ConcatInfo,
    data_coding: u8,
    payload: Vec<u8>,
}

fn set_text(source: &str, destination: &str, reference: ConcatRef, total: u8) -> String {
    let (kind, n) = reference_parts(reference);
    format!("{source}\u{1f}{destination}\u{1f}{kind}:{n}\u{1f}{total}")
}

fn reference_parts(reference: ConcatRef) -> (&'static str, u16) {
    match reference {
        ConcatRef::Udh8(n) => ("udh8", u16::from(n)),
        ConcatRef::Udh16(n) => ("udh16", n),
        ConcatRef::Sar(n) => ("sar", n),
    }
}

impl KeptPart {
    fn set(&self) -> String {
        set_text(
            &self.source,
            &self.destination,
            self.concat.reference,
            self.concat.total,
        )
    }

    fn fragment(&self) -> Fragment<'_> {
        Fragment {
            source: &self.source,
            destination: &self.destination,
            concat: self.concat,
            payload: &self.payload,
        }
    }

    fn encode(&self) -> Vec<u8> {
        let (kind, reference) = reference_parts(self.concat.reference);
        serde_json::json!({
            "source": self.source,
            "destination": self.destination,
            "kind": kind,
            "reference": reference,
            "total": self.concat.total,
            "seqnum": self.concat.seqnum,
            "data_coding": self.data_coding,
            "payload": base64::engine::general_purpose::STANDARD.encode(&self.payload),
        })
        .to_string()
        .into_bytes()
    }

    /// Reads what [`KeptPart::encode`] wrote; `None` for anything else.
    fn decode(data: &[u8]) -> Option<KeptPart> {
        let v: Value = serde_json::from_slice(data).ok()?;
        let int = |k: &str| v.get(k).and_then(Value::as_u64);
        let reference = u16::try_from(int("reference")?).ok()?;
        let reference = match v.get("kind")?.as_str()? {
            "udh8" => ConcatRef::Udh8(u8::try_from(reference).ok()?),
            "udh16" => ConcatRef::Udh16(reference),
            "sar" => ConcatRef::Sar(reference),
            _ => return None,
        };
        Some(KeptPart {
            source: v.get("source")?.as_str()?.to_string(),
            destination: v.get("destination")?.as_str()?.to_string(),
            concat: ConcatInfo {
                reference,
                total: u8::try_from(int("total")?).ok()?,
                seqnum: u8::try_from(int("seqnum")?).ok()?,
            },
            data_coding: u8::try_from(int("data_coding")?).ok()?,
            payload: base64::engine::general_purpose::STANDARD
                .decode(v.get("payload")?.as_str()?)
                .ok()?,
        })
    }
}

/// The fields of a deliver_sm or data_sm that inbound handling reads.
struct Fields {
    source: String,
    destination: String,
    esm_class: u8,
    data_coding: u8,
    /// short_message, or message_payload when short_message is empty.
    text: Bytes,
    tlvs: Tlvs,
}

impl Fields {
    fn of(pdu: &InboundPdu) -> Fields {
        let (source, destination, esm, dc, short, tlvs) = match pdu {
            InboundPdu::Deliver(d) => (
                d.source_addr.as_bytes(),
                d.destination_addr.as_bytes(),
                d.esm_class,
                d.data_coding,
                d.short_message.bytes().clone(),
                &d.tlvs,
            ),
            InboundPdu::Data(d) => (
                d.source_addr.as_bytes(),
                d.destination_addr.as_bytes(),
                d.esm_class,
                d.data_coding,
                Bytes::new(),
                &d.tlvs,
            ),
        };
        let text = match tlvs.get(TlvTag::MessagePayload) {
            Some(p) if short.is_empty() => p.value_bytes(),
            _ => short,
        };
        Fields {
            source: String::from_utf8_lossy(source).into_owned(),
            destination: String::from_utf8_lossy(destination).into_owned(),
            esm_class: esm.0,
            data_coding: dc.value(),
            text,
            tlvs: tlvs.clone(),
        }
    }
}

/// The SAR options of a PDU, when all three are there and in range.
pub(crate) fn sar_values(tlvs: &Tlvs) -> Option<SarValues> {
    let get = |tag| tlvs.get(tag).and_then(|t| t.as_uint());
    Some(SarValues {
        msg_ref_num: u16::try_from(get(TlvTag::SarMsgRefNum)?).ok()?,
        total_segments: u8::try_from(get(TlvTag::SarTotalSegments)?).ok()?,
        segment_seqnum: u8::try_from(get(TlvTag::SarSegmentSeqnum)?).ok()?,
    })
}

/// Text when the data_coding is a text coding we read (data_coding 0 per
/// `x-smpp-inbound-enc-default`) and the bytes decode; the octets otherwise, untouched.
fn decode(bytes: &[u8], data_coding: u8, config: &ChannelConfig) -> InboundContent {
    let coding = match data_coding {
        0 => Some(match config.inbound_encoding {
            InboundEncoding::Gsm7 => Coding::Gsm7,
            InboundEncoding::Ascii => Coding::Ia5,
            InboundEncoding::Latin1 => Coding::Latin1,
        }),
        other => Coding::from_data_coding(other),
    };
    match coding.map(|c| sms::decode(bytes, c)) {
        Some(Ok(text)) => InboundContent::Text(text),
        _ => InboundContent::Binary {
            data: bytes.to_vec(),
            data_coding,
        },
    }
}

#[cfg(test)]
mod tests;
