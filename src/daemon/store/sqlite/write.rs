//! The writer thread: group commit, and every write the store makes.
//!
//! This file holds the thread's loop, the transaction around a group of calls, and what
//! the kinds of writes share (a message's row, its moves between states, the outcome a
//! caller is told); each kind has a file of its own: [`accept`] (and the credits it
//! charges), [`claim`], [`answers`] (submit_sm_resp), [`receipts`] (correlation and
//! matching), [`events`] (the outbox and inbound parts) and [`upkeep`] (expiry and purging).

use super::claims::ClaimBook;
use super::schema::{DELIVERED, EXPIRED, FAILED, QUEUED, SUBMITTED};
use super::sync::{Pending, Progress, SyncQueue};
use super::{ms, Gauges, SqliteOptions, MAX_GROUP};
use crate::daemon::store::call::{answer, missing_result, Call, Done};
use crate::daemon::store::forms::StoredForms;
use crate::daemon::store::record::{
    split_key, Applied, Change, MessageState, Outcome, ReceiptWish, SegmentRecord,
};
use crate::daemon::store::state::receipt_state;
use crate::daemon::store::user_event::{self, UserReceipt};
use crate::daemon::store::Fence;
use crate::daemon::store::{MessageId, StoreError};
use rusqlite::{params, Connection, OptionalExtension};
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::SystemTime;
use tokio::sync::mpsc;

mod accept;
mod answers;
mod claim;
mod events;
mod fresh_ids;
mod hot;
mod kept_acks;
mod receipts;
mod upkeep;

use fresh_ids::FreshIds;
use hot::Hot;
use kept_acks::KeptAcks;

/// How many rows one upkeep step touches per kind: small, so that the group commit it
/// shares with API requests stays short.
const UPKEEP_BATCH: i64 = 500;

fn write_error(e: rusqlite::Error) -> StoreError {
    StoreError::Write(e.to_string())
}

/// The counts kept in memory, restored when a transaction fails.
#[derive(Debug, Clone)]
struct Counts {
    waiting: u64,
    outbox: u64,
    /// Waiting messages per queue (`""`: any channel's): kept here so that the backlog's
    /// depths cost nothing to read however long the queues grow.
    depths: BTreeMap<String, u64>,
}

impl Counts {
    fn queued(&mut self, queue: &str) {
        self.waiting += 1;
        match self.depths.get_mut(queue) {
            Some(n) => *n += 1,
            None => {
                self.depths.insert(queue.to_string(), 1);
            }
        }
    }

    fn left(&mut self, queue: &str, n: u64) {
        self.waiting = self.waiting.saturating_sub(n);
        if let Some(depth) = self.depths.get_mut(queue) {
            *depth = depth.saturating_sub(n);
            if *depth == 0 {
                self.depths.remove(queue);
            }
        }
    }
}

/// A page of the waiting messages of a queue (`?1`) above a cursor (`?2`), unexpired at
/// `?3`, at most `?4` of them.
///
/// `+?1` and `+?4`, not `?1` and `?4`: SQLite's planner looks at the values bound to a
/// LIMIT and to an equality when it prepares a statement, and marks the statement to be
/// prepared again once other values are bound. Each claim asks for another limit and reads
/// two queues, so every query would be prepared anew, at several times the cost of running
/// it. A unary plus hides the parameter from the planner; the plan (the
/// `messages_waiting` index, `queue = ? AND seq > ?`) stays the same.
pub(super) const WAITING: &str = "SELECT seq, id, dest, src, delivery_report, expires_at,
        send_validity, resend, segments, acked, accepted_at, body
     FROM messages WHERE queue = +?1 AND state = 0 AND seq > ?2 AND expires_at > ?3
     ORDER BY seq LIMIT +?4";

/// The state of the writer thread, on the connection the thread owns.
pub(super) struct Writer<'c> {
    conn: &'c Connection,
    /// The statements run for nearly every message, prepared once.
    hot: Hot<'c>,
    options: SqliteOptions,
    gauges: Arc<Gauges>,
    counts: Counts,
    claims: ClaimBook,
    /// Which receipts of the current call need no look-up.
    fresh: FreshIds,
    /// Where the forms of each correlated SMSC id are written.
    forms: StoredForms,
    /// The SMPP users with a row in `smpp_credits` (a balance), when known: a user without
    /// one is charged nothing, and most accepts need no statement to learn that. Forgotten
    /// when the rows change (configuration) and when a transaction rolls back.
    balanced: Option<HashSet<String>>,
    /// Where answers wait for their commit to be on disk.
    sync: SyncQueue,
    /// How far the syncer got.
    progress: Arc<Progress>,
    /// Commits that wrote something, so far.
    written: u64,
}

type Sql<T> = Result<T, rusqlite::Error>;

/// A message's channel, state code, receipt wish, acceptance time (ms), id, number of
/// segments and the SMPP user that submitted it.
type MessageRow = (String, i64, bool, i64, String, i64, Option<String>);

/// What a user's receipt needs of its message: the user, the receipts it asked for, the
/// id, destination, source and acceptance time (ms).
type OriginRow = (Option<String>, i64, String, String, Option<String>, i64);

/// Why a message leaves the queue, for [`Writer::enter`].
enum Cause<'a> {
    /// The channel's own report (an answer, an expiry it found), or upkeep: the channel
    /// holding the message, if one does, becomes its channel.
    Holder,
    /// A receipt settled it: its channel stays as the answers made it. For a message of
    /// one segment, the receipt's state word and error, written into the row in the same
    /// statement.
    Receipt(Option<(&'a str, Option<&'a str>)>),
}

/// A waiting message as a claim reads it.
struct Waiting {
    seq: i64,
    /// Which of the claim's queues it waits in.
    queue: usize,
    id: MessageId,
    to: String,
    from: Option<String>,
    delivery_report: bool,
    expires_at: i64,
    send_validity: bool,
    resend: bool,
    segments: i64,
    acked: i64,
    accepted_at: i64,
    body: Vec<u8>,
}

impl<'c> Writer<'c> {
    /// Prepares the writer: marks as possible re-sends the queued messages the last run may
    /// have handed to the SMSC (see [`ClaimBook`]) and loads the counts. Returns how many
    /// were marked.
    pub(super) fn new(
        conn: &'c Connection,
        options: SqliteOptions,
        gauges: Arc<Gauges>,
        sync: (SyncQueue, Arc<Progress>),
    ) -> Sql<(Writer<'c>, u64)> {
        let marks: Vec<(String, i64)> = {
            let mut s = conn.prepare("SELECT queue, upto FROM claims")?;
            let rows = s.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Sql<_>>()?
        };
        let mut requeued = 0;
        for (queue, upto) in &marks {
            requeued += conn.execute(
                "UPDATE messages SET resend = 1 WHERE queue = ?1 AND state = 0 AND seq <= ?2",
                params![queue, upto],
            )? as u64;
        }
        conn.execute("DELETE FROM claims", [])?;
        let depths: BTreeMap<String, u64> = {
            let mut s = conn.prepare(super::backlog::DEPTHS)?;
            let rows = s.query_map([], |r| Ok((r.get(0)?, r.get::<_, i64>(1)?.max(0) as u64)))?;
            rows.collect::<Sql<_>>()?
        };
        // The webhook's events: those of SMPP users are bounded by nothing but the disk.
        let outbox: i64 = conn.query_row(
            "SELECT COUNT(*) FROM outbox WHERE target IS NULL",
            [],
            |r| r.get(0),
        )?;
        let counts = Counts {
            waiting: depths.values().sum(),
            outbox: outbox as u64,
            depths,
        };
        let fresh = FreshIds::scan(&options.path);
        let writer = Writer {
            conn,
            hot: Hot::prepare(conn)?,
            options,
            gauges,
            counts,
            claims: ClaimBook::new(false),
            fresh,
            forms: StoredForms::default(),
            balanced: None,
            sync: sync.0,
            progress: sync.1,
            written: 0,
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
        let mut depths = self
            .gauges
            .depths
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if *depths != self.counts.depths {
            depths.clone_from(&self.counts.depths);
        }
    }

    /// Runs until every handle is dropped: takes the calls waiting, one transaction for
    /// all of them, answers after the commit.
    pub(super) fn run(mut self, mut calls: mpsc::UnboundedReceiver<Call>) {
        let mut group = Vec::with_capacity(MAX_GROUP);
        while let Some(first) = calls.blocking_recv() {
            // While the disk is behind, calls gather here into the next group.
            self.progress.wait_for_room(self.written);
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
    /// a transaction of its own, so that only that call fails. The answers go to the
    /// syncer, which sends them once the commit is on disk.
    fn commit_group(&mut self, group: &mut Vec<Call>) {
        let mut calls: Vec<Call> = std::mem::take(group);
        let changes = self.conn.total_changes();
        let before = self.counts.clone();
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
                        let before = self.counts.clone();
                        let result = self.transaction(std::slice::from_ref(call));
                        if result.is_err() {
                            self.counts = before;
                        }
                        result.and_then(|mut d| d.pop().ok_or_else(missing_result))
                    })
                    .collect()
            }
        };
        // Whoever waits to send its next call until this one ran may send it now: the next
        // group runs after this one, whatever becomes of this one's sync.
        for (call, result) in calls.iter_mut().zip(&results) {
            if let Call::Apply(_, _, _, _, ran) = call {
                if let Some(ran) = ran.take() {
                    let _ = ran.send(result.is_ok());
                }
            }
        }
        // The live counts first: a caller that reads them after its answer sees its change.
        self.publish();
        if self.conn.total_changes() != changes {
            self.written += 1;
        }
        let pending = Pending {
            commit: self.written,
            answer: Box::new(move |failed: Option<StoreError>| {
                for (call, result) in calls.into_iter().zip(results) {
                    let result = match (&failed, result) {
                        (Some(e), Ok(_)) => Err(e.clone()),
                        (_, result) => result,
                    };
                    answer(call, result);
                }
            }),
        };
        if let Err(unsent) = self.sync.send(pending) {
            (unsent.0.answer)(Some(StoreError::Closed));
        }
    }

    /// Runs `calls` in one transaction: every result, or the first error (then nothing of
    /// it is kept).
    fn transaction(&mut self, calls: &[Call]) -> Result<Vec<Done>, StoreError> {
        self.statement("BEGIN IMMEDIATE").map_err(write_error)?;
        let mut done = Vec::with_capacity(calls.len());
        let mut run = || -> Sql<()> {
            for call in calls {
                done.push(self.run_call(call)?);
            }
            if self.claims.clear_due() {
                self.statement("DELETE FROM claims")?;
                self.claims.cleared();
            }
            self.statement("COMMIT")
        };
        if let Err(e) = run() {
            if !self.conn.is_autocommit() {
                let _ = self.statement("ROLLBACK");
            }
            self.claims.rollback();
            self.balanced = None;
            return Err(write_error(e));
        }
        self.claims.commit();
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
    fn run_call(&mut self, call: &Call) -> Sql<Done> {
        Ok(match call {
            Call::Accept(messages, now, _) => Done::Accept(self.accept(messages, *now)?),
            Call::Claim(fence, also, limit, now, _) => {
                Done::Claim(self.claim(&fence.channel, also, *limit, *now)?)
            }
            // One node: every slot is this node's, nothing to fence.
            Call::Release(_, seqs, _) => {
                self.release(seqs)?;
                Done::Nothing
            }
            Call::Apply(Fence { channel, .. }, changes, now, _, _) => {
                Done::Apply(self.apply(channel, changes, *now)?)
            }
            Call::FailUnconfigured(configured, reason, now, _) => {
                Done::Count(self.fail_unconfigured(configured, reason, *now)?)
            }
            Call::OutboxDelivered(seqs, _) => {
                self.outbox_delivered(seqs)?;
                Done::Nothing
            }
            Call::OutboxRetry(seq, due, _) => {
                self.conn
                    .prepare_cached(
                        "UPDATE outbox SET attempts = attempts + 1, due = ?2 WHERE seq = ?1",
                    )?
                    .execute(params![seq, ms(*due)])?;
                Done::Nothing
            }
            Call::Upkeep(now, _) => Done::Upkeep(self.upkeep(*now)?),
            Call::OutboxDue(target, limit, _) => {
                Done::Outbox(super::read::outbox(self.conn, target.as_deref(), *limit)?)
            }
            Call::Credits(users, _) => {
                self.credits_configure(users)?;
                Done::Nothing
            }
            Call::CreditsAdd(user, add, _) => Done::Balance(self.credits_add(user, *add)?),
        })
    }

    /// The message's channel, state, receipt wish, acceptance time and id.
    fn message(&self, seq: i64) -> Sql<Option<MessageRow>> {
        self.conn
            .prepare_cached(
                "SELECT channel, state, delivery_report, accepted_at, id, segments, origin
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
                    r.get(6)?,
                ))
            })
            .optional()
    }

    /// Moves a message to `state`; leaves a message in a final state alone. Returns whether
    /// it moved. See [`Cause`] for what the cause changes.
    fn enter(
        &mut self,
        seq: i64,
        from: i64,
        state: i64,
        now: i64,
        failure: Option<(Option<u32>, &str)>,
        cause: Cause<'_>,
    ) -> Sql<bool> {
        let (receipt, settled_by_receipt) = match cause {
            Cause::Holder => (None, false),
            Cause::Receipt(words) => (words, true),
        };
        if from == state || from == DELIVERED || from == FAILED || from == EXPIRED {
            return Ok(false);
        }
        let finished = state != SUBMITTED;
        // A message leaving the queue is no longer held. When the channel holding it is the
        // cause (its answer, its expiry report), the message becomes that channel's; a
        // receipt for a segment another channel sent does not make it the holder's.
        let held = self.claims.drop_held(seq, false);
        let queue = match (&held, from == QUEUED) {
            (_, false) => None,
            (Some(h), true) => Some(h.queue.clone()),
            // Not held (upkeep's expiry, a receipt for a part sent before a restart): read.
            (None, true) => Some(Arc::from(self.conn.query_row(
                "SELECT queue FROM messages WHERE seq = ?1",
                [seq],
                |r| r.get::<_, String>(0),
            )?)),
        };
        let holder = if settled_by_receipt {
            None
        } else {
            held.map(|h| h.channel.clone())
        };
        self.conn
            .prepare_cached(
                "UPDATE messages SET state = ?2,
                    submitted_at = CASE WHEN ?2 = 1 THEN ?3 ELSE submitted_at END,
                    finished_at = CASE WHEN ?4 OR (?2 = 1 AND delivery_report = 0) THEN ?3 ELSE finished_at END,
                    failure_status = COALESCE(?5, failure_status),
                    failure_reason = COALESCE(?6, failure_reason),
                    channel = COALESCE(?7, channel),
                    receipt = CASE WHEN ?8 THEN ?9 ELSE receipt END,
                    receipt_error = CASE WHEN ?8 THEN ?10 ELSE receipt_error END
                 WHERE seq = ?1",
            )?
            .execute(params![
                seq,
                state,
                now,
                finished,
                failure.and_then(|f| f.0),
                failure.map(|f| f.1),
                holder,
                receipt.is_some(),
                receipt.map(|r| r.0),
                receipt.and_then(|r| r.1),
            ])?;
        if let Some(queue) = queue {
            self.counts.left(&queue, 1);
            // A user's message that failed or expired before the SMSC took it: the user
            // gets its credits back and, if it asked, a receipt saying so.
            if queue.starts_with('@')
                && !settled_by_receipt
                && (state == FAILED || state == EXPIRED)
            {
                self.refund(seq)?;
                let (stat, err) =
                    user_event::unsent_words(state == EXPIRED, failure.and_then(|f| f.0));
                self.tell_user(seq, false, stat, err, now)?;
            }
        }
        Ok(true)
    }

    /// Queues a receipt for the SMPP user that submitted message `seq`, when the outcome
    /// is final and the user asked for it.
    fn tell_user(
        &mut self,
        seq: i64,
        delivered: bool,
        stat: String,
        err: String,
        now: i64,
    ) -> Sql<()> {
        let row: Option<OriginRow> = self
            .conn
            .prepare_cached(
                "SELECT origin, origin_receipts, id, dest, src, accepted_at FROM messages
                 WHERE seq = ?1",
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
            .optional()?;
        let Some((Some(user), wish, id, to, from, accepted)) = row else {
            return Ok(());
        };
        if !ReceiptWish::from_code(wish).wants(delivered) {
            return Ok(());
        }
        let event = UserReceipt {
            message_id: &id,
            stat,
            err,
            to: &to,
            from: from.as_deref(),
            submitted_at: accepted,
            done_at: now,
        }
        .event();
        self.queue_event(&event, now, Some(&user))
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
        let mut kept = KeptAcks::default();
        self.fresh.end_call();
        for change in changes {
            match change {
                Change::Submitted { key, .. } => {
                    // A second answer for a kept one: the first is written before it.
                    let (seq, _) = split_key(*key);
                    self.write_kept(&mut kept, Some(seq), channel, at, &mut applied)?;
                }
                Change::Receipt { .. } => {}
                _ => self.write_kept(&mut kept, None, channel, at, &mut applied)?,
            }
            let next = applied.len();
            let result = match change {
                Change::Submitted {
                    key,
                    smsc_message_id,
                } => match self.keep_ack(&mut kept, channel, *key, smsc_message_id, at, next)? {
                    Some(kept) => kept,
                    None => self.submitted(channel, *key, smsc_message_id, at)?,
                },
                Change::Failed {
                    key,
                    status,
                    reason,
                } => {
                    let (seq, _) = split_key(*key);
                    match self.message(seq)? {
                        Some((_, state, ..)) => {
                            self.enter(
                                seq,
                                state,
                                FAILED,
                                at,
                                Some((*status, reason)),
                                Cause::Holder,
                            )?;
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
                    if self.outbox_full() {
                        Applied::OutboxFull
                    } else {
                        let (matched, users) =
                            self.receipt(channel, receipt, at, &mut kept, &mut applied)?;
                        // A receipt for a user's message goes to that user only.
                        if let (Some(event), false) = (event, users) {
                            let added = matched.event_fields();
                            self.queue_event_with(event, &added, at, None)?;
                        }
                        Applied::Receipt(matched)
                    }
                }
                Change::Event { event, user } => {
                    // The webhook's bound is for the webhook's events.
                    if user.is_none() && self.outbox_full() {
                        Applied::OutboxFull
                    } else {
                        self.queue_event(event, at, user.as_deref())?;
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
                Change::Completed { set, event, user } => {
                    if user.is_none() && self.outbox_full() {
                        Applied::OutboxFull
                    } else {
                        // Whoever takes the set's kept parts completes it: a sibling session
                        // that saw the same set whole finds none left and queues nothing.
                        if self.forget_parts(channel, set)? > 0 {
                            self.queue_event(event, at, user.as_deref())?;
                        }
                        Applied::Done(None)
                    }
                }
                Change::PartsDone { set } => {
                    self.forget_parts(channel, set)?;
                    Applied::Done(None)
                }
            };
            applied.push(result);
        }
        self.write_kept(&mut kept, None, channel, at, &mut applied)?;
        self.fresh.end_call();
        Ok(applied)
    }
}

/// What is known of each segment of message `seq` (of `count`), in order: the message row
/// holds it for one segment, `segments` for more (a row per acknowledged segment).
pub(super) fn segment_records(conn: &Connection, seq: i64, count: i64) -> Sql<Vec<SegmentRecord>> {
    let record = |r: &rusqlite::Row| -> Sql<SegmentRecord> {
        Ok(SegmentRecord {
            smsc_message_id: r.get(1)?,
            receipt: r.get::<_, Option<String>>(2)?.map(|w| receipt_state(&w)),
            receipt_error: r.get(3)?,
        })
    };
    if count == 1 {
        return conn
            .prepare_cached(
                "SELECT 0, smsc_id, receipt, receipt_error FROM messages WHERE seq = ?1",
            )?
            .query_row([seq], record)
            .map(|r| vec![r]);
    }
    let mut records = vec![SegmentRecord::default(); usize::try_from(count).unwrap_or(0)];
    let mut s = conn.prepare_cached(
        "SELECT idx, smsc_id, receipt, receipt_error FROM segments WHERE seq = ?1",
    )?;
    let mut rows = s.query([seq])?;
    while let Some(r) = rows.next()? {
        let idx: i64 = r.get(0)?;
        if let Some(slot) = usize::try_from(idx).ok().and_then(|i| records.get_mut(i)) {
            *slot = record(r)?;
        }
    }
    Ok(records)
}

/// A row the store cannot read back, reported as damaged.
fn damaged(what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(
        0,
        rusqlite::types::Type::Blob,
        format!("damaged row: {what}").into(),
    )
}

/// A message id read back from the file; anything else is a damaged row, reported as such.
pub(super) fn stored_id(text: &str) -> Sql<MessageId> {
    MessageId::parse(text).ok_or_else(|| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("damaged row: {text:?} is not a message id").into(),
        )
    })
}

/// A count as SQLite's integer, at most `i64::MAX`.
fn clamp_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
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
