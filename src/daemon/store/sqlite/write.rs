//! The writer thread: group commit, and every write the store makes.

use super::schema::{DELIVERED, EXPIRED, FAILED, QUEUED, SUBMITTED};
use super::{from_ms, ms, Gauges, Reply, SqliteOptions, Write, MAX_GROUP};
use crate::daemon::engine::ReceiptReport;
use crate::daemon::store::record::{
    split_key, Accepted, AcceptedMessage, Applied, Change, ClaimedMessage, MessageState,
    NewMessage, Outcome, ReceiptMatch, Refused, SegmentRecord, Upkeep,
};
use crate::daemon::store::state::{is_final_receipt, receipt_state, state_from_receipts};
use crate::daemon::store::{MessageId, StoreError};
use crate::sms::{Field, IdForm, MatchRule, MatchRules, MessageIdKey, SarValues, Segment};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{Map, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::SystemTime;
use tokio::sync::mpsc;

/// How many rows one upkeep step touches per kind: small, so that the group commit it
/// shares with API requests stays short.
const UPKEEP_BATCH: i64 = 500;

/// What one call produced, kept until its transaction commits.
enum Done {
    Accept(Vec<Result<Accepted, Refused>>),
    Claim(Vec<ClaimedMessage>),
    Apply(Vec<Applied>),
    Count(u64),
    Upkeep(Upkeep),
    Nothing,
}

fn missing_result() -> StoreError {
    StoreError::Write("internal: a call produced no result".into())
}

/// Sends a call its answer (after its transaction committed, or failed).
fn answer(call: Write, result: Result<Done, StoreError>) {
    fn send<T>(reply: Reply<T>, result: Result<Done, StoreError>, pick: fn(Done) -> Option<T>) {
        let _ = reply.send(result.and_then(|d| pick(d).ok_or_else(missing_result)));
    }
    match call {
        Write::Accept(_, _, r) => send(r, result, |d| match d {
            Done::Accept(v) => Some(v),
            _ => None,
        }),
        Write::Claim(_, _, _, r) => send(r, result, |d| match d {
            Done::Claim(v) => Some(v),
            _ => None,
        }),
        Write::Apply(_, _, _, r) => send(r, result, |d| match d {
            Done::Apply(v) => Some(v),
            _ => None,
        }),
        Write::FailUnconfigured(_, _, _, r) => send(r, result, |d| match d {
            Done::Count(n) => Some(n),
            _ => None,
        }),
        Write::Upkeep(_, r) => send(r, result, |d| match d {
            Done::Upkeep(u) => Some(u),
            _ => None,
        }),
        Write::Release(_, r) | Write::OutboxDelivered(_, r) | Write::OutboxRetry(_, _, r) => {
            send(r, result, |d| match d {
                Done::Nothing => Some(()),
                _ => None,
            })
        }
    }
}

fn write_error(e: rusqlite::Error) -> StoreError {
    StoreError::Write(e.to_string())
}

/// The counts kept in memory, restored when a transaction fails.
#[derive(Debug, Clone, Copy)]
struct Counts {
    waiting: u64,
    outbox: u64,
}

/// The state of the writer thread.
pub(super) struct Writer {
    conn: Connection,
    options: SqliteOptions,
    gauges: Arc<Gauges>,
    counts: Counts,
}

type Sql<T> = Result<T, rusqlite::Error>;

/// A message's channel, state code, receipt wish, acceptance time (ms), id and number of
/// segments.
type MessageRow = (String, i64, bool, i64, String, i64);

impl Writer {
    /// Prepares the writer: queues again the messages the last run left with a channel and
    /// loads the counts. Returns how many were queued again.
    pub(super) fn new(
        conn: Connection,
        options: SqliteOptions,
        gauges: Arc<Gauges>,
    ) -> Sql<(Writer, u64)> {
        let requeued = conn.execute(
            "UPDATE messages SET claimed = 0, resend = 1 WHERE claimed = 1",
            [],
        )? as u64;
        let waiting: i64 = conn.query_row(
            "SELECT COUNT(*) FROM messages WHERE state = ?1",
            [QUEUED],
            |r| r.get(0),
        )?;
        let outbox: i64 = conn.query_row("SELECT COUNT(*) FROM outbox", [], |r| r.get(0))?;
        let counts = Counts {
            waiting: waiting as u64,
            outbox: outbox as u64,
        };
        let writer = Writer {
            conn,
            options,
            gauges,
            counts,
        };
        writer.publish();
        Ok((writer, requeued))
    }

    fn publish(&self) {
        self.gauges
            .waiting
            .store(self.counts.waiting, Ordering::Relaxed);
        self.gauges
            .outbox
            .store(self.counts.outbox, Ordering::Relaxed);
    }

    /// Runs until every handle is dropped: takes the calls waiting, one transaction for
    /// all of them, answers after the commit.
    pub(super) fn run(mut self, mut calls: mpsc::UnboundedReceiver<Write>) {
        let mut group = Vec::with_capacity(MAX_GROUP);
        while let Some(first) = calls.blocking_recv() {
            group.push(first);
            while group.len() < MAX_GROUP {
                match calls.try_recv() {
                    Ok(call) => group.push(call),
                    Err(_) => break,
                }
            }
            self.commit_group(&mut group);
        }
    }

    /// Commits `group` as one transaction. When one call fails on its own (not the whole
    /// transaction, as a full disk does), the group is rolled back and each call is run in
    /// a transaction of its own, so that only that call fails.
    fn commit_group(&mut self, group: &mut Vec<Write>) {
        let calls: Vec<Write> = std::mem::take(group);
        let before = self.counts;
        let results: Vec<Result<Done, StoreError>> = match self.transaction(&calls) {
            Ok(done) => done.into_iter().map(Ok).collect(),
            Err(error) if calls.len() == 1 => {
                self.counts = before;
                vec![Err(error)]
            }
            Err(_) => {
                self.counts = before;
                calls
                    .iter()
                    .map(|call| {
                        let before = self.counts;
                        let result = self.transaction(std::slice::from_ref(call));
                        if result.is_err() {
                            self.counts = before;
                        }
                        result.and_then(|mut d| d.pop().ok_or_else(missing_result))
                    })
                    .collect()
            }
        };
        // The live counts first: a caller that reads them after its answer sees its change.
        self.publish();
        for (call, result) in calls.into_iter().zip(results) {
            answer(call, result);
        }
    }

    /// Runs `calls` in one transaction: every result, or the first error (then nothing of
    /// it is kept).
    fn transaction(&mut self, calls: &[Write]) -> Result<Vec<Done>, StoreError> {
        self.statement("BEGIN IMMEDIATE").map_err(write_error)?;
        let mut done = Vec::with_capacity(calls.len());
        for call in calls {
            match self.run_call(call) {
                Ok(d) => done.push(d),
                Err(e) => {
                    if !self.conn.is_autocommit() {
                        let _ = self.statement("ROLLBACK");
                    }
                    return Err(write_error(e));
                }
            }
        }
        if let Err(e) = self.statement("COMMIT") {
            if !self.conn.is_autocommit() {
                let _ = self.statement("ROLLBACK");
            }
            return Err(write_error(e));
        }
        self.gauges.commits.fetch_add(1, Ordering::Relaxed);
        self.gauges
            .grouped_calls
            .fetch_add(calls.len() as u64, Ordering::Relaxed);
        Ok(done)
    }

    /// Runs a statement without parameters, prepared once.
    fn statement(&self, sql: &str) -> Sql<()> {
        self.conn.prepare_cached(sql)?.execute([])?;
        Ok(())
    }

    /// Runs one call inside the open transaction.
    fn run_call(&mut self, call: &Write) -> Sql<Done> {
        Ok(match call {
            Write::Accept(messages, now, _) => Done::Accept(self.accept(messages, *now)?),
            Write::Claim(channel, limit, now, _) => Done::Claim(self.claim(channel, *limit, *now)?),
            Write::Release(seqs, _) => {
                self.release(seqs)?;
                Done::Nothing
            }
            Write::Apply(channel, changes, now, _) => {
                Done::Apply(self.apply(channel, changes, *now)?)
            }
            Write::FailUnconfigured(configured, reason, now, _) => {
                Done::Count(self.fail_unconfigured(configured, reason, *now)?)
            }
            Write::OutboxDelivered(seqs, _) => {
                self.outbox_delivered(seqs)?;
                Done::Nothing
            }
            Write::OutboxRetry(seq, due, _) => {
                self.conn
                    .prepare_cached(
                        "UPDATE outbox SET attempts = attempts + 1, due = ?2 WHERE seq = ?1",
                    )?
                    .execute(params![seq, ms(*due)])?;
                Done::Nothing
            }
            Write::Upkeep(now, _) => Done::Upkeep(self.upkeep(*now)?),
        })
    }

    fn accept(
        &mut self,
        messages: &[NewMessage],
        now: SystemTime,
    ) -> Sql<Vec<Result<Accepted, Refused>>> {
        let mut results = Vec::with_capacity(messages.len());
        for m in messages {
            if let Some(idem) = &m.idempotency {
                let earlier = self
                    .conn
                    .prepare_cached(
                        "SELECT id, segments, routed, encoding, data_coding, idem_fingerprint
                         FROM messages WHERE idem_key = ?1",
                    )?
                    .query_row([&idem.key], |r| {
                        Ok((
                            AcceptedMessage {
                                id: stored_id(r.get(0)?)?,
                                segments: r.get::<_, i64>(1)? as usize,
                                channel: r.get(2)?,
                                encoding: r.get(3)?,
                                data_coding: r.get::<_, i64>(4)? as u8,
                            },
                            r.get::<_, Option<String>>(5)?,
                        ))
                    })
                    .optional()?;
                if let Some((first, fingerprint)) = earlier {
                    results.push(if fingerprint.as_deref() == Some(&idem.fingerprint) {
                        Ok(Accepted::Repeat(first))
                    } else {
                        Err(Refused::KeyReused {
                            key: idem.key.clone(),
                        })
                    });
                    continue;
                }
            }
            if self.counts.waiting >= self.options.max_queued {
                results.push(Err(Refused::QueueFull {
                    max: self.options.max_queued,
                }));
                continue;
            }
            self.conn
                .prepare_cached(
                    "INSERT INTO messages (id, channel, routed, queue, state, dest, src,
                        delivery_report, send_validity, encoding, data_coding, segments,
                        accepted_at, expires_at, idem_key, idem_fingerprint)
                     VALUES (?1, ?2, ?2, ?3, 0, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
                )?
                .execute(params![
                    m.id.as_str(),
                    m.channel,
                    if m.pinned { m.channel.as_str() } else { "" },
                    m.to,
                    m.from,
                    m.delivery_report,
                    m.send_validity,
                    m.encoding,
                    m.data_coding,
                    m.segments.len() as i64,
                    ms(now),
                    ms(m.expires_at),
                    m.idempotency.as_ref().map(|i| i.key.as_str()),
                    m.idempotency.as_ref().map(|i| i.fingerprint.as_str()),
                ])?;
            let seq = self.conn.last_insert_rowid();
            let mut insert = self.conn.prepare_cached(
                "INSERT INTO segments (seq, idx, body, payload, esm_class, data_coding,
                    sar_ref, sar_total, sar_seqnum)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
            )?;
            for (idx, s) in m.segments.iter().enumerate() {
                insert.execute(params![
                    seq,
                    idx as i64,
                    s.bytes,
                    s.field == Field::MessagePayload,
                    s.esm_class,
                    s.data_coding,
                    s.sar.map(|v| v.msg_ref_num),
                    s.sar.map(|v| v.total_segments),
                    s.sar.map(|v| v.segment_seqnum),
                ])?;
            }
            self.counts.waiting += 1;
            results.push(Ok(Accepted::New(AcceptedMessage {
                id: m.id.clone(),
                segments: m.segments.len(),
                channel: m.channel.clone(),
                encoding: m.encoding.to_string(),
                data_coding: m.data_coding,
            })));
        }
        Ok(results)
    }

    /// The oldest waiting messages of one queue.
    fn waiting_in(&self, queue: &str, limit: usize, now: i64) -> Sql<Vec<i64>> {
        let mut s = self.conn.prepare_cached(
            "SELECT seq FROM messages WHERE queue = ?1 AND state = 0 AND claimed = 0
             AND expires_at > ?2 ORDER BY seq LIMIT ?3",
        )?;
        let rows = s.query_map(params![queue, now, limit as i64], |r| r.get(0))?;
        rows.collect()
    }

    fn claim(&mut self, channel: &str, limit: usize, now: SystemTime) -> Sql<Vec<ClaimedMessage>> {
        let now = ms(now);
        // Two ordered index scans (this channel's own queue and the shared one), merged:
        // one query with `queue IN (...)` would sort every waiting message.
        let mut seqs = self.waiting_in("", limit, now)?;
        seqs.extend(self.waiting_in(channel, limit, now)?);
        seqs.sort_unstable();
        seqs.truncate(limit);
        let mut claimed = Vec::with_capacity(seqs.len());
        for seq in seqs {
            let mut message = self
                .conn
                .prepare_cached(
                    "UPDATE messages SET claimed = 1, channel = ?2 WHERE seq = ?1
                     RETURNING id, dest, src, delivery_report, expires_at, send_validity, resend",
                )?
                .query_row(params![seq, channel], |r| {
                    Ok(ClaimedMessage {
                        seq,
                        id: stored_id(r.get(0)?)?,
                        to: r.get(1)?,
                        from: r.get(2)?,
                        delivery_report: r.get(3)?,
                        expires_at: from_ms(r.get(4)?),
                        send_validity: r.get(5)?,
                        segments: Vec::new(),
                        resend: r.get(6)?,
                    })
                })?;
            // No ORDER BY and no test on smsc_id in SQL: with either, SQLite prepares the
            // statement again at every run (its plan depends on the bound value). Sorted and
            // filtered here instead.
            let mut s = self.conn.prepare_cached(
                "SELECT idx, body, payload, esm_class, data_coding, sar_ref, sar_total, sar_seqnum,
                    smsc_id IS NULL
                 FROM segments WHERE seq = ?1",
            )?;
            let rows = s.query_map([seq], |r| {
                let unsent: bool = r.get(8)?;
                let sar = match (r.get(5)?, r.get(6)?, r.get(7)?) {
                    (Some(msg_ref_num), Some(total_segments), Some(segment_seqnum)) => {
                        Some(SarValues {
                            msg_ref_num,
                            total_segments,
                            segment_seqnum,
                        })
                    }
                    _ => None,
                };
                Ok((
                    unsent,
                    r.get::<_, u8>(0)?,
                    Segment {
                        bytes: r.get(1)?,
                        field: if r.get(2)? {
                            Field::MessagePayload
                        } else {
                            Field::ShortMessage
                        },
                        esm_class: r.get(3)?,
                        data_coding: r.get(4)?,
                        sar,
                    },
                ))
            })?;
            let mut segments: Vec<(u8, Segment)> = rows
                .filter(|row| !matches!(row, Ok((false, ..))))
                .map(|row| row.map(|(_, idx, segment)| (idx, segment)))
                .collect::<Sql<_>>()?;
            segments.sort_by_key(|(idx, _)| *idx);
            message.segments = segments;
            claimed.push(message);
        }
        Ok(claimed)
    }

    fn release(&mut self, seqs: &[(i64, bool)]) -> Sql<()> {
        let mut s = self.conn.prepare_cached(
            "UPDATE messages SET claimed = 0, resend = MAX(resend, ?2) WHERE seq = ?1 AND claimed = 1",
        )?;
        for (seq, sent) in seqs {
            s.execute(params![seq, sent])?;
        }
        Ok(())
    }

    /// The message's channel, state, receipt wish, acceptance time and id.
    fn message(&self, seq: i64) -> Sql<Option<MessageRow>> {
        self.conn
            .prepare_cached(
                "SELECT channel, state, delivery_report, accepted_at, id, segments
                 FROM messages WHERE seq = ?1",
            )?
            .query_row([seq], |r| {
                Ok((
                    r.get(0)?,
                    r.get(1)?,
                    r.get(2)?,
                    r.get(3)?,
                    r.get(4)?,
                    r.get(5)?,
                ))
            })
            .optional()
    }

    /// Moves a message to `state`; leaves a message in a final state alone. Returns whether
    /// it moved.
    fn enter(
        &mut self,
        seq: i64,
        from: i64,
        state: i64,
        now: i64,
        failure: Option<(Option<u32>, &str)>,
    ) -> Sql<bool> {
        if from == state || from == DELIVERED || from == FAILED || from == EXPIRED {
            return Ok(false);
        }
        let finished = state != SUBMITTED;
        self.conn
            .prepare_cached(
                "UPDATE messages SET state = ?2, claimed = 0,
                    submitted_at = CASE WHEN ?2 = 1 THEN ?3 ELSE submitted_at END,
                    finished_at = CASE WHEN ?4 OR (?2 = 1 AND delivery_report = 0) THEN ?3 ELSE finished_at END,
                    failure_status = COALESCE(?5, failure_status),
                    failure_reason = COALESCE(?6, failure_reason)
                 WHERE seq = ?1",
            )?
            .execute(params![
                seq,
                state,
                now,
                finished,
                failure.and_then(|f| f.0),
                failure.map(|f| f.1),
            ])?;
        if from == QUEUED {
            self.counts.waiting = self.counts.waiting.saturating_sub(1);
        }
        Ok(true)
    }

    fn outcome(&self, seq: i64, now: i64) -> Sql<Option<Outcome>> {
        Ok(self
            .message(seq)?
            .map(|(channel, state, _, accepted, ..)| Outcome {
                channel,
                state: state_of(state),
                since_accepted: std::time::Duration::from_millis((now - accepted).max(0) as u64),
            }))
    }

    fn apply(&mut self, channel: &str, changes: &[Change], now: SystemTime) -> Sql<Vec<Applied>> {
        let at = ms(now);
        let mut applied = Vec::with_capacity(changes.len());
        for change in changes {
            applied.push(match change {
                Change::Submitted {
                    key,
                    smsc_message_id,
                } => self.submitted(channel, *key, smsc_message_id, at)?,
                Change::Failed {
                    key,
                    status,
                    reason,
                } => {
                    let (seq, _) = split_key(*key);
                    match self.message(seq)? {
                        Some((_, state, ..)) => {
                            self.enter(seq, state, FAILED, at, Some((*status, reason)))?;
                            Applied::Done(self.outcome(seq, at)?)
                        }
                        None => Applied::Done(None),
                    }
                }
                Change::Expired { seq } => {
                    self.expire(*seq, at)?;
                    Applied::Done(self.outcome(*seq, at)?)
                }
                Change::Receipt { receipt, event } => {
                    if event.is_some() && self.outbox_full() {
                        Applied::OutboxFull
                    } else {
                        let matched = self.receipt(channel, receipt, at)?;
                        if let Some(mut event) = event.clone() {
                            let (id, segment, state) = match &matched {
                                ReceiptMatch::Matched { id, segment, state } => (
                                    Value::from(id.as_str()),
                                    Value::from(*segment),
                                    Value::from(state.as_str()),
                                ),
                                _ => (Value::Null, Value::Null, Value::Null),
                            };
                            event.insert("message_id".into(), id);
                            event.insert("segment".into(), segment);
                            event.insert("message_state".into(), state);
                            self.queue_event(event, at)?;
                        }
                        Applied::Receipt(matched)
                    }
                }
                Change::Event { event } => {
                    if self.outbox_full() {
                        Applied::OutboxFull
                    } else {
                        self.queue_event(event.clone(), at)?;
                        Applied::Done(None)
                    }
                }
                Change::Part { set, number, data } => {
                    self.conn
                        .prepare_cached(
                            "INSERT OR REPLACE INTO inbound_parts (channel, set_key, number, data)
                             VALUES (?1, ?2, ?3, ?4)",
                        )?
                        .execute(params![channel, set, number, data])?;
                    Applied::Done(None)
                }
                Change::Completed { set, event } => {
                    if self.outbox_full() {
                        Applied::OutboxFull
                    } else {
                        self.queue_event(event.clone(), at)?;
                        self.forget_parts(channel, set)?;
                        Applied::Done(None)
                    }
                }
                Change::PartsDone { set } => {
                    self.forget_parts(channel, set)?;
                    Applied::Done(None)
                }
            });
        }
        Ok(applied)
    }

    fn forget_parts(&mut self, channel: &str, set: &str) -> Sql<()> {
        self.conn
            .prepare_cached("DELETE FROM inbound_parts WHERE channel = ?1 AND set_key = ?2")?
            .execute(params![channel, set])?;
        Ok(())
    }

    fn outbox_full(&self) -> bool {
        self.counts.outbox >= self.options.max_outbox
    }

    /// Queues a webhook event with a fresh, stable `event_id`.
    fn queue_event(&mut self, mut event: Map<String, Value>, now: i64) -> Sql<()> {
        event.insert(
            "event_id".into(),
            Value::from(MessageId::generate().as_str()),
        );
        let body = Value::Object(event).to_string();
        self.conn
            .prepare_cached("INSERT INTO outbox (body, due) VALUES (?1, ?2)")?
            .execute(params![body.as_bytes(), now])?;
        self.counts.outbox += 1;
        Ok(())
    }

    fn expire(&mut self, seq: i64, now: i64) -> Sql<()> {
        let Some((channel, state, _, _, id, _)) = self.message(seq)? else {
            return Ok(());
        };
        if !self.enter(seq, state, EXPIRED, now, None)? {
            return Ok(());
        }
        if self.options.events {
            let mut event = Map::new();
            event.insert("type".into(), Value::from("expired"));
            event.insert("channel".into(), Value::from(channel));
            event.insert("message_id".into(), Value::from(id));
            event.insert("message_state".into(), Value::from("expired"));
            event.insert(
                "expired_at".into(),
                Value::from(crate::daemon::store::rfc3339(from_ms(now))),
            );
            // The outbox bound is for what the SMSC can redeliver; an expiry has no one to
            // redeliver it, so it is queued even past the bound.
            self.queue_event(event, now)?;
        }
        Ok(())
    }

    fn submitted(&mut self, channel: &str, key: u64, smsc_id: &str, now: i64) -> Sql<Applied> {
        let (seq, idx) = split_key(key);
        let first = self
            .conn
            .prepare_cached(
                "UPDATE segments SET smsc_id = ?3, acked_on = ?4
                 WHERE seq = ?1 AND idx = ?2 AND smsc_id IS NULL",
            )?
            .execute(params![seq, idx, smsc_id, channel])?;
        if first == 0 {
            // Acknowledged again (a re-send after a lost response): the latest id counts,
            // and the earlier one no longer leads here.
            let earlier: Option<(Option<String>, Option<String>)> = self
                .conn
                .prepare_cached(
                    "SELECT acked_on, smsc_id FROM segments WHERE seq = ?1 AND idx = ?2",
                )?
                .query_row(params![seq, idx], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            if let Some((Some(on), Some(old))) = earlier {
                self.uncorrelate(&on, seq, i64::from(idx), &old)?;
            }
            let again = self
                .conn
                .prepare_cached(
                    "UPDATE segments SET smsc_id = ?3, acked_on = ?4 WHERE seq = ?1 AND idx = ?2",
                )?
                .execute(params![seq, idx, smsc_id, channel])?;
            if again == 0 {
                return Ok(Applied::Done(None));
            }
            if let Some((_, _, true, ..)) = self.message(seq)? {
                self.correlate(channel, seq, idx, smsc_id)?;
            }
            return Ok(Applied::Done(self.outcome(seq, now)?));
        }
        // One statement counts the segment and, with the last one, submits the message
        // (every right-hand side reads the row as it was).
        let row = self
            .conn
            .prepare_cached(
                "UPDATE messages SET acked = acked + 1,
                    state = CASE WHEN state = 0 AND acked + 1 >= segments THEN 1 ELSE state END,
                    claimed = CASE WHEN state = 0 AND acked + 1 >= segments THEN 0 ELSE claimed END,
                    submitted_at = CASE WHEN state = 0 AND acked + 1 >= segments THEN ?2
                        ELSE submitted_at END,
                    finished_at = CASE WHEN state = 0 AND acked + 1 >= segments
                        AND delivery_report = 0 THEN ?2 ELSE finished_at END
                 WHERE seq = ?1
                 RETURNING channel, state, delivery_report, accepted_at, acked, segments",
            )?
            .query_row(params![seq, now], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, bool>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                ))
            })
            .optional()?;
        let Some((owner, state, delivery_report, accepted, acked, segments)) = row else {
            return Ok(Applied::Done(None));
        };
        if state == SUBMITTED && acked == segments {
            self.counts.waiting = self.counts.waiting.saturating_sub(1);
        }
        if delivery_report {
            self.correlate(channel, seq, idx, smsc_id)?;
        }
        Ok(Applied::Done(Some(Outcome {
            channel: owner,
            state: state_of(state),
            since_accepted: std::time::Duration::from_millis((now - accepted).max(0) as u64),
        })))
    }

    /// Records an SMSC id under the forms a receipt may quote it in (see [`stored_forms`]).
    /// An SMSC that reuses an id is handled when matching: the newest submission with that
    /// exact id wins.
    fn correlate(&mut self, channel: &str, seq: i64, idx: u8, smsc_id: &str) -> Sql<()> {
        let mut insert = self.conn.prepare_cached(
            "INSERT OR IGNORE INTO correlation (channel, form, seq, idx, smsc_id)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        let key = MessageIdKey::new(smsc_id);
        for form in stored_forms(&key) {
            insert.execute(params![channel, form, seq, idx, key.as_str()])?;
        }
        Ok(())
    }

    /// Forgets the correlation of one segment (its final receipt came, or it is purged).
    fn uncorrelate(&mut self, channel: &str, seq: i64, idx: i64, smsc_id: &str) -> Sql<()> {
        // At most three forms, deleted by one statement (a form repeated when fewer).
        let forms = stored_forms(&MessageIdKey::new(smsc_id));
        let form = |i: usize| forms.get(i).or(forms.last()).map_or("", String::as_str);
        self.conn
            .prepare_cached(
                "DELETE FROM correlation WHERE channel = ?1 AND seq = ?2 AND idx = ?3
                 AND form IN (?4, ?5, ?6)",
            )?
            .execute(params![channel, seq, idx, form(0), form(1), form(2)])?;
        Ok(())
    }

    /// The submissions one probe of a receipt's id finds.
    fn lookup(&self, channel: &str, probe: &IdForm) -> Sql<Vec<(i64, i64, String)>> {
        let mut found = Vec::new();
        let mut query = |sql: &str, form: String, filter: Option<&str>| -> Sql<()> {
            let mut s = self.conn.prepare_cached(sql)?;
            let rows = s.query_map(params![channel, form], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get::<_, String>(2)?))
            })?;
            for row in rows {
                let row = row?;
                if filter.is_none_or(|f| row.2 == f) {
                    found.push(row);
                }
            }
            Ok(())
        };
        const BY_FORM: &str =
            "SELECT seq, idx, smsc_id FROM correlation WHERE channel = ?1 AND form = ?2";
        match probe {
            // Stored as `e:` when folding changes it, else only as `f:` (same text).
            // Two probes: one statement with OR measured slower (it scans the channel's rows).
            IdForm::Exact(x) => {
                query(BY_FORM, format!("e:{x}"), None)?;
                query(BY_FORM, format!("f:{x}"), Some(x))?;
            }
            IdForm::Folded(y) => query(BY_FORM, format!("f:{y}"), None)?,
            // An all-decimal id's folded form is its value in decimal; an `0x` id's is not.
            IdForm::Decimal(n) => query(
                "SELECT seq, idx, smsc_id FROM correlation WHERE channel = ?1 AND form = ?2
                 AND smsc_id NOT LIKE '0x%'",
                format!("f:{n}"),
                None,
            )?,
            IdForm::Hex(n) => query(BY_FORM, format!("h:{n}"), None)?,
        }
        Ok(found)
    }

    /// Matches a receipt tier by tier (as [`crate::sms::MessageIdIndex`] does) and records it.
    fn receipt(&mut self, channel: &str, receipt: &ReceiptReport, now: i64) -> Sql<ReceiptMatch> {
        let key = MessageIdKey::new(&receipt.smsc_message_id);
        let mut found: Vec<(i64, i64, String)> = Vec::new();
        for tier in MatchRule::TIERS {
            for probe in key.probes(tier, MatchRules::default()) {
                found.extend(self.lookup(channel, &probe)?);
            }
            found.sort();
            found.dedup_by(|a, b| a.0 == b.0 && a.1 == b.1);
            if !found.is_empty() {
                break;
            }
        }
        // The same id submitted more than once (the SMSC reused it): the newest counts.
        if found.len() > 1 && found.iter().all(|f| f.2 == found[0].2) {
            let newest = found.iter().max_by_key(|f| (f.0, f.1)).cloned();
            found = newest.into_iter().collect();
        }
        let (seq, idx, smsc_id) = match found.as_slice() {
            [] => return Ok(ReceiptMatch::NotFound),
            [(seq, idx, smsc_id)] => (*seq, *idx, smsc_id.clone()),
            many => {
                let mut submit_ids: Vec<String> = many.iter().map(|f| f.2.clone()).collect();
                submit_ids.sort();
                return Ok(ReceiptMatch::Ambiguous { submit_ids });
            }
        };
        let Some((_, state, _, _, id, count)) = self.message(seq)? else {
            self.uncorrelate(channel, seq, idx, &smsc_id)?;
            return Ok(ReceiptMatch::NotFound);
        };
        self.conn
            .prepare_cached(
                "UPDATE segments SET receipt = ?3, receipt_error = ?4 WHERE seq = ?1 AND idx = ?2",
            )?
            .execute(params![
                seq,
                idx,
                receipt.state.as_str(),
                receipt.error_code
            ])?;
        if is_final_receipt(&receipt.state) {
            self.uncorrelate(channel, seq, idx, &smsc_id)?;
        }
        // A message of one segment needs no look at its segments: this receipt is all.
        let segments = if count == 1 {
            vec![SegmentRecord {
                smsc_message_id: Some(smsc_id.clone()),
                receipt: Some(receipt.state.clone()),
                receipt_error: receipt.error_code.clone(),
            }]
        } else {
            self.segment_records(seq)?
        };
        let mut state = state;
        if let Some((next, reason)) = state_from_receipts(&segments) {
            let code = match next {
                MessageState::Delivered => DELIVERED,
                MessageState::Expired => EXPIRED,
                _ => FAILED,
            };
            let failure = reason.as_deref().map(|r| (None, r));
            if self.enter(seq, state, code, now, failure)? {
                state = code;
            }
        }
        Ok(ReceiptMatch::Matched {
            id: stored_id(id)?,
            segment: idx as usize,
            state: state_of(state),
        })
    }

    fn segment_records(&self, seq: i64) -> Sql<Vec<SegmentRecord>> {
        segment_records(&self.conn, seq)
    }

    fn fail_unconfigured(
        &mut self,
        configured: &[String],
        reason: &str,
        now: SystemTime,
    ) -> Sql<u64> {
        let queues: Vec<String> = {
            let mut s = self.conn.prepare_cached(
                "SELECT DISTINCT queue FROM messages WHERE state = 0 AND queue <> ''",
            )?;
            let rows = s.query_map([], |r| r.get(0))?;
            rows.collect::<Sql<_>>()?
        };
        let mut failed = 0;
        for queue in queues.iter().filter(|q| !configured.contains(q)) {
            let n = self
                .conn
                .prepare_cached(
                    "UPDATE messages SET state = 3, claimed = 0, finished_at = ?2,
                        failure_reason = ?3
                     WHERE queue = ?1 AND state = 0",
                )?
                .execute(params![queue, ms(now), reason])? as u64;
            self.counts.waiting = self.counts.waiting.saturating_sub(n);
            failed += n;
        }
        Ok(failed)
    }

    fn outbox_delivered(&mut self, seqs: &[i64]) -> Sql<()> {
        let mut s = self
            .conn
            .prepare_cached("DELETE FROM outbox WHERE seq = ?1")?;
        for seq in seqs {
            let n = s.execute([seq])? as u64;
            self.counts.outbox = self.counts.outbox.saturating_sub(n);
        }
        Ok(())
    }

    fn upkeep(&mut self, now: SystemTime) -> Sql<Upkeep> {
        let at = ms(now);
        let mut upkeep = Upkeep::default();
        let expired: Vec<i64> = {
            let mut s = self.conn.prepare_cached(
                "SELECT seq FROM messages WHERE state = 0 AND expires_at <= ?1 AND claimed = 0
                 ORDER BY expires_at LIMIT ?2",
            )?;
            let rows = s.query_map(params![at, UPKEEP_BATCH], |r| r.get(0))?;
            rows.collect::<Sql<_>>()?
        };
        for seq in expired {
            self.expire(seq, at)?;
            upkeep.expired += 1;
        }
        // Submitted messages whose receipt never came stop waiting for it.
        let wait = at.saturating_sub(ms_of(self.options.receipt_wait));
        upkeep.purged += self
            .conn
            .prepare_cached(
                "UPDATE messages SET finished_at = ?1 WHERE seq IN (
                    SELECT seq FROM messages WHERE state = 1 AND finished_at IS NULL
                    AND submitted_at <= ?2 LIMIT ?3)",
            )?
            .execute(params![at, wait, UPKEEP_BATCH])? as u64;
        let old = at.saturating_sub(ms_of(self.options.finished_retention));
        let finished: Vec<i64> = {
            let mut s = self.conn.prepare_cached(
                "SELECT seq FROM messages WHERE finished_at IS NOT NULL AND finished_at <= ?1
                 ORDER BY finished_at LIMIT ?2",
            )?;
            let rows = s.query_map(params![old, UPKEEP_BATCH], |r| r.get(0))?;
            rows.collect::<Sql<_>>()?
        };
        for seq in finished {
            let acknowledged: Vec<(String, i64, String)> = {
                // Under the channel each segment was acknowledged on: a message may have
                // been sent partly by one channel and partly by another.
                let mut s = self.conn.prepare_cached(
                    "SELECT acked_on, idx, smsc_id FROM segments
                     WHERE seq = ?1 AND smsc_id IS NOT NULL AND acked_on IS NOT NULL",
                )?;
                let rows = s.query_map([seq], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                rows.collect::<Sql<_>>()?
            };
            for (channel, idx, smsc_id) in acknowledged {
                self.uncorrelate(&channel, seq, idx, &smsc_id)?;
            }
            self.conn
                .prepare_cached("DELETE FROM segments WHERE seq = ?1")?
                .execute([seq])?;
            self.conn
                .prepare_cached("DELETE FROM messages WHERE seq = ?1")?
                .execute([seq])?;
            upkeep.purged += 1;
        }
        Ok(upkeep)
    }
}

/// What is known of each segment of message `seq`, in order. Sorted here: an ORDER BY would
/// make SQLite prepare the statement again at every run.
pub(super) fn segment_records(conn: &Connection, seq: i64) -> Sql<Vec<SegmentRecord>> {
    let mut s = conn.prepare_cached(
        "SELECT idx, smsc_id, receipt, receipt_error FROM segments WHERE seq = ?1",
    )?;
    let rows = s.query_map([seq], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            SegmentRecord {
                smsc_message_id: r.get(1)?,
                receipt: r.get::<_, Option<String>>(2)?.map(|w| receipt_state(&w)),
                receipt_error: r.get(3)?,
            },
        ))
    })?;
    let mut records = rows.collect::<Sql<Vec<_>>>()?;
    records.sort_by_key(|(idx, _)| *idx);
    Ok(records.into_iter().map(|(_, r)| r).collect())
}

/// The forms an SMSC id is stored under: `f:` its folded form always; `e:` the exact text
/// only when folding changes it (else the `f:` row, whose `smsc_id` is the exact text,
/// answers exact probes); `h:` its value when it is all hex digits. An all-decimal id needs
/// no form of its own: its folded form is its value in decimal.
fn stored_forms(key: &MessageIdKey) -> Vec<String> {
    let mut forms = Vec::with_capacity(3);
    let mut exact = None;
    for form in key.forms() {
        match form {
            IdForm::Exact(x) => exact = Some(x),
            IdForm::Folded(y) => {
                if exact.as_deref() != Some(y.as_str()) {
                    if let Some(x) = exact.take() {
                        forms.push(format!("e:{x}"));
                    }
                }
                forms.push(format!("f:{y}"));
            }
            IdForm::Decimal(_) => {}
            IdForm::Hex(n) => forms.push(format!("h:{n}")),
        }
    }
    forms
}

/// A message id read back from the file; anything else is a damaged row, reported as such.
pub(super) fn stored_id(text: String) -> Sql<MessageId> {
    MessageId::parse(&text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("damaged row: {text:?} is not a message id").into(),
        )
    })
}

fn ms_of(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// A stored state code as a [`MessageState`].
pub(super) fn state_of(code: i64) -> MessageState {
    match code {
        QUEUED => MessageState::Queued,
        SUBMITTED => MessageState::Submitted,
        DELIVERED => MessageState::Delivered,
        EXPIRED => MessageState::Expired,
        _ => MessageState::Failed,
    }
}
