//! The writer thread: group commit, and every write the store makes.

use super::claims::{ClaimBook, Held};
use super::schema::{DELIVERED, EXPIRED, FAILED, QUEUED, SUBMITTED};
use super::sync::{Pending, Progress, SyncQueue};
use super::{from_ms, ms, Gauges, SqliteOptions, MAX_GROUP};
use crate::daemon::engine::ReceiptReport;
use crate::daemon::store::body;
use crate::daemon::store::call::{answer, missing_result, Call, Done};
use crate::daemon::store::event_body::{EventBody, Field};
use crate::daemon::store::forms::{add_found, pick, stored_forms, Found, StoredForms};
use crate::daemon::store::record::{
    split_key, Accepted, AcceptedMessage, Applied, Change, ClaimedMessage, MessageState,
    NewMessage, Outcome, ReceiptMatch, ReceiptWish, Refused, SegmentRecord, Upkeep,
};
use crate::daemon::store::state::{receipt_state, state_from_receipt, state_from_receipts};
use crate::daemon::store::user_event::{self, UserReceipt};
use crate::daemon::store::Fence;
use crate::daemon::store::{MessageId, StoreError};
use crate::sms::{IdForm, MatchRule, MatchRules, MessageIdKey};
use rusqlite::{params, Connection, OptionalExtension};
use serde_json::{Map, Value};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::Ordering;
use std::sync::{Arc, PoisonError};
use std::time::SystemTime;
use tokio::sync::mpsc;

mod fresh_ids;
mod hot;
mod kept_acks;

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
                                id: stored_id(&r.get::<_, String>(0)?)?,
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
            let charged = match &m.origin {
                Some(origin) => match self.charge(&origin.user, origin.charge)? {
                    Ok(charged) => charged,
                    Err(refused) => {
                        results.push(Err(refused));
                        continue;
                    }
                },
                None => 0,
            };
            let queue = m.queue();
            self.hot.insert_message.execute(params![
                m.id.as_str(),
                m.channel,
                queue.as_ref(),
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
                body::pack(&m.segments),
                m.origin.as_ref().map(|o| o.user.as_str()),
                m.origin.as_ref().map_or(0, |o| o.receipts.code()),
                i64::from(charged),
            ])?;
            self.counts.queued(&queue);
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

    /// Charges `user` `charge` credits: what was charged (0 for a user without a balance),
    /// or the refusal when the balance is too low.
    fn charge(&mut self, user: &str, charge: u32) -> Sql<Result<u32, Refused>> {
        let balanced = match &self.balanced {
            Some(users) => users,
            None => {
                let users = {
                    let mut s = self.conn.prepare_cached("SELECT user FROM smpp_credits")?;
                    let rows = s.query_map([], |r| r.get(0))?;
                    rows.collect::<Sql<HashSet<String>>>()?
                };
                self.balanced.insert(users)
            }
        };
        if !balanced.contains(user) {
            return Ok(Ok(0));
        }
        let left: Option<i64> = self
            .conn
            .prepare_cached(
                "UPDATE smpp_credits SET balance = balance - ?2
                 WHERE user = ?1 AND balance >= ?2 RETURNING balance",
            )?
            .query_row(params![user, charge], |r| r.get(0))
            .optional()?;
        if left.is_some() {
            return Ok(Ok(charge));
        }
        let balance: Option<i64> = self
            .conn
            .prepare_cached("SELECT balance FROM smpp_credits WHERE user = ?1")?
            .query_row([user], |r| r.get(0))
            .optional()?;
        Ok(match balance {
            None => Ok(0),
            Some(left) => Err(Refused::NoCredit {
                user: user.to_string(),
                left: left.max(0) as u64,
                charge,
            }),
        })
    }

    fn credits_configure(&mut self, users: &[(String, Option<u64>)]) -> Sql<()> {
        self.balanced = None;
        for (user, first) in users {
            match first {
                Some(first) => self
                    .conn
                    .prepare_cached(
                        "INSERT INTO smpp_credits (user, balance) VALUES (?1, ?2)
                         ON CONFLICT (user) DO NOTHING",
                    )?
                    .execute(params![user, clamp_i64(*first)])?,
                None => self
                    .conn
                    .prepare_cached("DELETE FROM smpp_credits WHERE user = ?1")?
                    .execute([user])?,
            };
        }
        Ok(())
    }

    fn credits_add(&mut self, user: &str, add: u64) -> Sql<Option<u64>> {
        self.conn
            .prepare_cached(
                "UPDATE smpp_credits SET balance = min(balance + ?2, 9223372036854775807)
                 WHERE user = ?1 RETURNING balance",
            )?
            .query_row(params![user, clamp_i64(add)], |r| r.get::<_, i64>(0))
            .optional()
            .map(|b| b.map(|b| b.max(0) as u64))
    }

    /// Gives `user` back what a message that never reached the SMSC was charged.
    fn refund(&mut self, seq: i64) -> Sql<()> {
        self.conn
            .prepare_cached(
                "UPDATE smpp_credits SET balance = balance + (
                    SELECT charged FROM messages WHERE seq = ?1)
                 WHERE user = (SELECT origin FROM messages WHERE seq = ?1)",
            )?
            .execute([seq])?;
        self.conn
            .prepare_cached("UPDATE messages SET charged = 0 WHERE seq = ?1")?
            .execute([seq])?;
        Ok(())
    }

    /// Adds to `found` up to `limit` of the oldest waiting, unexpired messages of `queue`
    /// (the claim's `slot`th) not held by a channel, with what a claim hands out.
    fn waiting_in(
        &mut self,
        found: &mut Vec<Waiting>,
        queue: &str,
        slot: usize,
        limit: usize,
        now: i64,
    ) -> Sql<()> {
        let mut taken = 0;
        let mut after = self.claims.cursor(queue);
        let s = &mut self.hot.waiting;
        // Held messages above the cursor (one given back moved it down) are skipped; a
        // page of them only means reading on.
        loop {
            let want = limit - taken;
            let mut rows = s.query(params![queue, after, now, want as i64])?;
            let mut seen = 0;
            while let Some(r) = rows.next()? {
                seen += 1;
                let seq: i64 = r.get(0)?;
                after = seq;
                if self.claims.holds(seq) {
                    continue;
                }
                taken += 1;
                found.push(Waiting {
                    seq,
                    queue: slot,
                    id: stored_id(r.get_ref(1)?.as_str().map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(
                            1,
                            rusqlite::types::Type::Text,
                            Box::new(e),
                        )
                    })?)?,
                    to: r.get(2)?,
                    from: r.get(3)?,
                    delivery_report: r.get(4)?,
                    expires_at: r.get(5)?,
                    send_validity: r.get(6)?,
                    resend: r.get(7)?,
                    segments: r.get(8)?,
                    acked: r.get(9)?,
                    accepted_at: r.get(10)?,
                    body: r.get::<_, Option<Vec<u8>>>(11)?.unwrap_or_default(),
                });
            }
            if seen < want || taken >= limit {
                return Ok(());
            }
        }
    }

    fn claim(
        &mut self,
        channel: &str,
        also: &[String],
        limit: usize,
        now: SystemTime,
    ) -> Sql<Vec<ClaimedMessage>> {
        let now = ms(now);
        // One ordered index scan per queue (the shared one, this channel's own, the users'
        // it serves), merged: one query with `queue IN (...)` would sort every waiting
        // message.
        let queues: Vec<&str> = ["", channel]
            .into_iter()
            .chain(also.iter().map(String::as_str))
            .collect();
        let mut waiting = Vec::with_capacity(limit.min(4096));
        for (slot, queue) in queues.iter().enumerate() {
            if queues[..slot].contains(queue) {
                continue;
            }
            self.waiting_in(&mut waiting, queue, slot, limit, now)?;
        }
        waiting.sort_unstable_by_key(|w| w.seq);
        waiting.truncate(limit);
        let mut claimed = Vec::with_capacity(waiting.len());
        // Shared by every message held in this claim.
        let holder: Arc<str> = Arc::from(channel);
        let held_in: Vec<Arc<str>> = queues.iter().map(|q| Arc::from(*q)).collect();
        // Per queue (its place in `queues`), the highest key taken.
        let mut top: Vec<(usize, i64)> = Vec::with_capacity(queues.len());
        for w in waiting {
            let mut segments: Vec<(u8, crate::sms::Segment)> = body::unpack(&w.body)
                .map_err(|e| damaged(format!("message {} has damaged segments: {e}", w.id)))?
                .into_iter()
                .enumerate()
                .map(|(idx, s)| (idx as u8, s))
                .collect();
            if w.acked > 0 && w.segments > 1 {
                let sent = self.acknowledged_segments(w.seq)?;
                segments.retain(|(idx, _)| !sent.contains(&i64::from(*idx)));
            }
            let id = w.id;
            let message = ClaimedMessage {
                seq: w.seq,
                id: id.clone(),
                to: w.to,
                from: w.from,
                delivery_report: w.delivery_report,
                expires_at: from_ms(w.expires_at),
                send_validity: w.send_validity,
                segments,
                resend: w.resend,
            };
            let slot = w.queue;
            match top.iter_mut().find(|(s, _)| *s == slot) {
                Some(t) => t.1 = t.1.max(w.seq),
                None => top.push((slot, w.seq)),
            }
            self.claims.take(
                w.seq,
                Held {
                    id,
                    channel: holder.clone(),
                    queue: held_in[slot].clone(),
                    accepted_at: w.accepted_at,
                    segments: w.segments,
                    acked: w.acked,
                    delivery_report: w.delivery_report,
                },
            );
            claimed.push(message);
        }
        for (slot, upto) in top {
            self.claims.advance(&held_in[slot], upto);
            let queue = queues[slot];
            if self.claims.mark_needed(queue, upto) {
                self.conn
                    .prepare_cached("INSERT OR REPLACE INTO claims (queue, upto) VALUES (?1, ?2)")?
                    .execute(params![queue, upto])?;
                self.claims.marked(queue, upto);
            }
        }
        Ok(claimed)
    }

    /// The indexes of the acknowledged segments of a message of several.
    fn acknowledged_segments(&self, seq: i64) -> Sql<Vec<i64>> {
        let mut s = self
            .conn
            .prepare_cached("SELECT idx FROM segments WHERE seq = ?1")?;
        let rows = s.query_map([seq], |r| r.get(0))?;
        rows.collect()
    }

    fn release(&mut self, seqs: &[(i64, bool)]) -> Sql<()> {
        let mut s = self
            .conn
            .prepare_cached("UPDATE messages SET resend = 1 WHERE seq = ?1 AND state = 0")?;
        for &(seq, sent) in seqs {
            if self.claims.drop_held(seq, true).is_some() && sent {
                s.execute([seq])?;
            }
        }
        Ok(())
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

    /// Deletes a set's kept parts; how many there were.
    fn forget_parts(&mut self, channel: &str, set: &str) -> Sql<usize> {
        self.conn
            .prepare_cached("DELETE FROM inbound_parts WHERE channel = ?1 AND set_key = ?2")?
            .execute(params![channel, set])
    }

    fn outbox_full(&self) -> bool {
        self.counts.outbox >= self.options.max_outbox
    }

    /// Queues an event with a fresh, stable `event_id`, for the webhook or an SMPP user.
    fn queue_event(&mut self, event: &Map<String, Value>, now: i64, user: Option<&str>) -> Sql<()> {
        self.queue_event_with(event, &[], now, user)
    }

    /// Queues `event` with `added`'s fields and a fresh, stable `event_id`.
    fn queue_event_with(
        &mut self,
        event: &Map<String, Value>,
        added: &[(&'static str, Field<'_>)],
        now: i64,
        user: Option<&str>,
    ) -> Sql<()> {
        let body = EventBody {
            base: event,
            added,
            event_id: MessageId::generate().as_str(),
        }
        .to_vec()
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        self.hot.insert_event.execute(params![body, now, user])?;
        if user.is_none() {
            self.counts.outbox += 1;
        }
        Ok(())
    }

    fn expire(&mut self, seq: i64, now: i64) -> Sql<()> {
        let Some((channel, state, _, _, id, _, origin)) = self.message(seq)? else {
            return Ok(());
        };
        if !self.enter(seq, state, EXPIRED, now, None, Cause::Holder)? {
            return Ok(());
        }
        // A user's message: its user was told (see `enter`), not the webhook.
        if self.options.events && origin.is_none() {
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
            self.queue_event(&event, now, None)?;
        }
        Ok(())
    }

    /// Records a submit_sm_resp. The usual case (a held message, its segment acknowledged
    /// for the first time) is one row write and needs nothing read; anything else (a
    /// second acknowledgement, a message no longer held) reads the row first.
    fn submitted(&mut self, channel: &str, key: u64, smsc_id: &str, now: i64) -> Sql<Applied> {
        let (seq, idx) = split_key(key);
        if let Some(held) = self.claims.get(seq).cloned() {
            if let Some(applied) = self.first_ack(channel, &held, seq, idx, smsc_id, now, true)? {
                return Ok(applied);
            }
        }
        let Some((owner, state, delivery_report, accepted, _, count, _)) = self.message(seq)?
        else {
            return Ok(Applied::Done(None));
        };
        let earlier = self.segment_ack(seq, idx, count)?;
        if let Some((old, on)) = &earlier {
            // Acknowledged again (a re-send after a lost response): the latest id counts,
            // and the earlier one no longer leads here.
            self.uncorrelate(on, seq, i64::from(idx), old)?;
        }
        if count == 1 {
            self.conn
                .prepare_cached("UPDATE messages SET smsc_id = ?2, acked_on = ?3 WHERE seq = ?1")?
                .execute(params![seq, smsc_id, channel])?;
        } else {
            self.conn
                .prepare_cached(
                    "INSERT INTO segments (seq, idx, smsc_id, acked_on) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (seq, idx) DO UPDATE SET smsc_id = ?3, acked_on = ?4",
                )?
                .execute(params![seq, idx, smsc_id, channel])?;
        }
        if delivery_report {
            self.correlate(channel, seq, idx, smsc_id)?;
        }
        if earlier.is_some() {
            return Ok(Applied::Done(self.outcome(seq, now)?));
        }
        let acked: i64 = self
            .conn
            .prepare_cached("UPDATE messages SET acked = acked + 1 WHERE seq = ?1 RETURNING acked")?
            .query_row([seq], |r| r.get(0))?;
        let mut state = state;
        if state == QUEUED
            && acked >= count
            && self.enter(seq, state, SUBMITTED, now, None, Cause::Holder)?
        {
            state = SUBMITTED;
        }
        Ok(Applied::Done(Some(Outcome {
            channel: owner,
            state: state_of(state),
            since_accepted: std::time::Duration::from_millis((now - accepted).max(0) as u64),
        })))
    }

    /// The first acknowledgement of a segment of a held message, written without reading:
    /// `None` when the row is not as the claim left it (then the caller reads it). Writes
    /// the correlation too when `correlate` (a kept answer's was written when it was kept).
    #[allow(clippy::too_many_arguments)]
    fn first_ack(
        &mut self,
        channel: &str,
        held: &Held,
        seq: i64,
        idx: u8,
        smsc_id: &str,
        now: i64,
        correlate: bool,
    ) -> Sql<Option<Applied>> {
        let done = held.acked + 1 >= held.segments;
        let written = if held.segments == 1 {
            self.hot
                .first_ack
                .execute(params![seq, smsc_id, channel, now])?
        } else {
            let inserted = self
                .conn
                .prepare_cached(
                    "INSERT INTO segments (seq, idx, smsc_id, acked_on) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (seq, idx) DO NOTHING",
                )?
                .execute(params![seq, idx, smsc_id, channel])?;
            if inserted == 1 {
                self.conn
                    .prepare_cached(
                        "UPDATE messages SET acked = ?2, channel = ?3,
                            state = CASE WHEN ?4 THEN 1 ELSE state END,
                            submitted_at = CASE WHEN ?4 THEN ?5 ELSE submitted_at END,
                            finished_at = CASE WHEN ?4 AND delivery_report = 0 THEN ?5
                                ELSE finished_at END
                         WHERE seq = ?1 AND state = 0",
                    )?
                    .execute(params![seq, held.acked + 1, channel, done, now])?
            } else {
                0
            }
        };
        if written == 0 {
            return Ok(None);
        }
        if done {
            self.claims.drop_held(seq, false);
            self.counts.left(&held.queue, 1);
        } else {
            self.claims.acked(seq);
        }
        if held.delivery_report && correlate {
            self.correlate(channel, seq, idx, smsc_id)?;
        }
        Ok(Some(Applied::Done(Some(Outcome {
            channel: channel.to_string(),
            state: if done {
                MessageState::Submitted
            } else {
                MessageState::Queued
            },
            since_accepted: std::time::Duration::from_millis((now - held.accepted_at).max(0) as u64),
        }))))
    }

    /// The SMSC id a segment was acknowledged with, and on which channel.
    fn segment_ack(&self, seq: i64, idx: u8, count: i64) -> Sql<Option<(String, String)>> {
        let sql = if count == 1 {
            "SELECT smsc_id, acked_on FROM messages WHERE seq = ?1 AND ?2 = 0"
        } else {
            "SELECT smsc_id, acked_on FROM segments WHERE seq = ?1 AND idx = ?2"
        };
        let row: Option<(Option<String>, Option<String>)> = self
            .conn
            .prepare_cached(sql)?
            .query_row(params![seq, idx], |r| Ok((r.get(0)?, r.get(1)?)))
            .optional()?;
        Ok(match row {
            Some((Some(id), Some(on))) => Some((id, on)),
            _ => None,
        })
    }

    /// Records an SMSC id under the forms a receipt may quote it in (see [`stored_forms`]).
    /// An SMSC that reuses an id is handled when matching: the newest submission with that
    /// exact id wins.
    fn correlate(&mut self, channel: &str, seq: i64, idx: u8, smsc_id: &str) -> Sql<()> {
        let exact = MessageIdKey::exact_of(smsc_id);
        for form in self.forms.of(exact) {
            self.hot
                .correlate
                .execute(params![channel, form, seq, idx, exact])?;
        }
        self.fresh.written(seq, exact);
        Ok(())
    }

    /// Forgets the correlation of one segment (its final receipt came, or it is purged).
    fn uncorrelate(&mut self, channel: &str, seq: i64, idx: i64, smsc_id: &str) -> Sql<()> {
        // One primary-key delete per stored form: an `IN` list of bound values would make
        // SQLite build a temporary index at every run.
        let mut delete = self.conn.prepare_cached(
            "DELETE FROM correlation WHERE channel = ?1 AND form = ?2 AND seq = ?3 AND idx = ?4",
        )?;
        for form in stored_forms(&MessageIdKey::new(smsc_id)) {
            delete.execute(params![channel, form, seq, idx])?;
        }
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
                // An id that folding leaves alone has no `e:` row, and neither has any id
                // with the same exact text: one probe is enough.
                if MessageIdKey::new(x).folded() != x.as_str() {
                    query(BY_FORM, format!("e:{x}"), None)?;
                }
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
            // An all-hex id folds to its value in lowercase hex without leading zeros, so
            // the `f:` rows with that text are exactly the ids with this hex value.
            IdForm::Hex(n) => query(BY_FORM, format!("f:{n:x}"), None)?,
        }
        Ok(found)
    }

    /// The submission a receipt's id names, tier by tier (as [`crate::sms::MessageIdIndex`]
    /// does).
    fn find(&self, channel: &str, receipt: &ReceiptReport) -> Sql<Result<Found, ReceiptMatch>> {
        let key = MessageIdKey::new(&receipt.smsc_message_id);
        let mut found: Vec<Found> = Vec::new();
        for tier in MatchRule::TIERS {
            for probe in key.probes(tier, MatchRules::default()) {
                add_found(&mut found, self.lookup(channel, &probe)?);
            }
            if !found.is_empty() {
                break;
            }
        }
        Ok(pick(found))
    }

    /// Matches a receipt tier by tier (as [`crate::sms::MessageIdIndex`] does) and records
    /// it; also says whether it is for an SMPP user's message (its user is told, when the
    /// receipt is final and the user asked for it).
    fn receipt(
        &mut self,
        channel: &str,
        receipt: &ReceiptReport,
        now: i64,
        kept: &mut KeptAcks,
        applied: &mut [Applied],
    ) -> Sql<(ReceiptMatch, bool)> {
        let sole = self
            .fresh
            .sole(&receipt.smsc_message_id)
            .filter(|seq| kept.holds(*seq));
        let (seq, idx, smsc_id) = match sole {
            // What the look-up would find (see `fresh_ids`).
            Some(seq) => (
                seq,
                0,
                Cow::Borrowed(MessageIdKey::exact_of(&receipt.smsc_message_id)),
            ),
            None => match self.find(channel, receipt)? {
                Ok((seq, idx, smsc_id)) => (seq, idx, Cow::Owned(smsc_id)),
                Err(none_or_several) => return Ok((none_or_several, false)),
            },
        };
        if kept.holds(seq) {
            if let Some(settled) =
                self.settle_kept(kept, channel, seq, idx, receipt, now, applied)?
            {
                return Ok(settled);
            }
        }
        let Some((_, state, _, _, id, count, origin)) = self.message(seq)? else {
            self.uncorrelate(channel, seq, idx, &smsc_id)?;
            return Ok((ReceiptMatch::NotFound, false));
        };
        let words = (receipt.state.as_str(), receipt.error_code.as_deref());
        if count > 1 {
            self.conn
                .prepare_cached(
                    "UPDATE segments SET receipt = ?3, receipt_error = ?4
                     WHERE seq = ?1 AND idx = ?2",
                )?
                .execute(params![seq, idx, words.0, words.1])?;
        }
        // The correlation stays after a final receipt, until the message is purged: an SMSC
        // that missed our answer delivers the receipt again, and that repeat must still name
        // its message (the receiver cannot drop it by event_id: it is a new event).
        // A message of one segment needs no look at its segments: this receipt is all, and
        // it is written with the move it causes, in one statement.
        let settled = if count == 1 {
            state_from_receipt(&receipt.state, receipt.error_code.as_deref())
        } else {
            state_from_receipts(&segment_records(self.conn, seq, count)?)
        };
        let in_row = (count == 1).then_some(words);
        let mut state = state;
        let mut written = false;
        if let Some((next, reason)) = settled {
            let code = match next {
                MessageState::Delivered => DELIVERED,
                MessageState::Expired => EXPIRED,
                _ => FAILED,
            };
            let failure = reason.as_deref().map(|r| (None, r));
            if self.enter(seq, state, code, now, failure, Cause::Receipt(in_row))? {
                state = code;
                written = true;
            }
        }
        if let (Some((word, error)), false) = (in_row, written) {
            self.conn
                .prepare_cached(
                    "UPDATE messages SET receipt = ?2, receipt_error = ?3 WHERE seq = ?1",
                )?
                .execute(params![seq, word, error])?;
        }
        let user = origin.is_some();
        if user && written {
            let delivered = state == DELIVERED;
            let (stat, err) = user_event::upstream_words(receipt);
            self.tell_user(seq, delivered, stat, err, now)?;
        }
        Ok((
            ReceiptMatch::Matched {
                id: stored_id(&id)?,
                segment: idx as usize,
                state: state_of(state),
            },
            user,
        ))
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
        // A user's queue is left to its user's channels (and to expiry if it has none).
        for queue in queues
            .iter()
            .filter(|q| !configured.contains(q) && !q.starts_with('@'))
        {
            let n = self
                .conn
                .prepare_cached(
                    "UPDATE messages SET state = 3, finished_at = ?2,
                        failure_reason = ?3
                     WHERE queue = ?1 AND state = 0",
                )?
                .execute(params![queue, ms(now), reason])? as u64;
            self.counts.left(queue, n);
            self.claims.drop_queue(queue);
            failed += n;
        }
        Ok(failed)
    }

    /// Deletes delivered events. The webhook's are counted against its bound, so the
    /// delete says which kind it removed: first as the webhook's, then as anyone's (two
    /// primary-key statements cost half of one with `RETURNING`, which SQLite runs
    /// through a temporary table).
    fn outbox_delivered(&mut self, seqs: &[i64]) -> Sql<()> {
        for seq in seqs {
            let webhook = self
                .conn
                .prepare_cached("DELETE FROM outbox WHERE seq = ?1 AND target IS NULL")?
                .execute([seq])?;
            if webhook == 1 {
                self.counts.outbox = self.counts.outbox.saturating_sub(1);
            } else {
                self.conn
                    .prepare_cached("DELETE FROM outbox WHERE seq = ?1")?
                    .execute([seq])?;
            }
        }
        Ok(())
    }

    fn upkeep(&mut self, now: SystemTime) -> Sql<Upkeep> {
        let at = ms(now);
        let mut upkeep = Upkeep::default();
        // Held messages are left to their channel, which reports them expired itself.
        let expired: Vec<i64> = {
            let mut s = self.conn.prepare_cached(
                "SELECT seq FROM messages WHERE state = 0 AND expires_at <= ?1
                 ORDER BY expires_at LIMIT ?2",
            )?;
            let limit = UPKEEP_BATCH + self.claims.len() as i64;
            let rows = s.query_map(params![at, limit], |r| r.get(0))?;
            let mut expired = rows.collect::<Sql<Vec<i64>>>()?;
            expired.retain(|seq| !self.claims.holds(*seq));
            expired.truncate(UPKEEP_BATCH as usize);
            expired
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
        let finished: Vec<(i64, i64, Option<String>, Option<String>)> = {
            let mut s = self.conn.prepare_cached(
                "SELECT seq, segments, acked_on, smsc_id FROM messages
                 WHERE finished_at IS NOT NULL AND finished_at <= ?1
                 ORDER BY finished_at LIMIT ?2",
            )?;
            let rows = s.query_map(params![old, UPKEEP_BATCH], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?;
            rows.collect::<Sql<_>>()?
        };
        for (seq, count, acked_on, smsc_id) in finished {
            // Under the channel each segment was acknowledged on: a message may have been
            // sent partly by one channel and partly by another.
            let acknowledged: Vec<(String, i64, String)> = if count == 1 {
                acked_on
                    .zip(smsc_id)
                    .map(|(on, id)| (on, 0, id))
                    .into_iter()
                    .collect()
            } else {
                let mut s = self
                    .conn
                    .prepare_cached("SELECT acked_on, idx, smsc_id FROM segments WHERE seq = ?1")?;
                let rows = s.query_map([seq], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                rows.collect::<Sql<_>>()?
            };
            for (channel, idx, smsc_id) in acknowledged {
                self.uncorrelate(&channel, seq, idx, &smsc_id)?;
            }
            if count > 1 {
                self.conn
                    .prepare_cached("DELETE FROM segments WHERE seq = ?1")?
                    .execute([seq])?;
            }
            self.conn
                .prepare_cached("DELETE FROM messages WHERE seq = ?1")?
                .execute([seq])?;
            upkeep.purged += 1;
        }
        Ok(upkeep)
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
