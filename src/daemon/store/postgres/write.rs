//! The writer task: group commit, and every write the store makes.
//!
//! One task owns one connection. It takes every call queued since its last commit (up to
//! [`MAX_GROUP`]) into one transaction, commits once and only then answers them all, as the
//! SQLite writer does. Consecutive accepts of a group become one multi-row `INSERT` from
//! `UNNEST` arrays, so a group of any number of messages costs a fixed number of round
//! trips. Should one call fail on its own, the group is rolled back and each call is run in
//! a transaction of its own, so that only that call fails. A lost connection fails the
//! group; the next group connects again (and re-reads the live counts, since the server
//! may have committed the last group before the connection broke).
//!
//! This file holds the task, the transaction around a group and what the kinds of writes
//! share; each kind has a file of its own, as in the SQLite writer: [`accept`], [`claim`],
//! [`answers`], [`receipts`], [`events`] and [`upkeep`].

use super::error::{Pg, PgError};
use super::reports::{can_enter, event_body, run_end};
use super::tls::Connector;
use super::{pool, PgOptions, OUTBOX_HOLD};
use crate::daemon::store::body;
use crate::daemon::store::call::{answer, missing_result, Call, Done};
use crate::daemon::store::gauges::Gauges;
use crate::daemon::store::record::{
    split_key, Applied, Change, MessageState, NewMessage, Outcome, ReceiptWish,
};
use crate::daemon::store::user_event::{self, UserReceipt};
use crate::daemon::store::{MessageId, StoreError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, Row, Statement};

mod accept;
mod answers;
mod claim;
mod events;
mod receipts;
mod upkeep;

/// The most calls one transaction takes.
pub(super) const MAX_GROUP: usize = 512;

/// How many rows one upkeep step touches per kind: small, so that the group commit it
/// shares with API requests stays short.
const UPKEEP_BATCH: i64 = 500;

/// Stored state codes (`messages.state`), as in the SQLite store.
pub(super) const QUEUED: i64 = 0;
pub(super) const SUBMITTED: i64 = 1;
pub(super) const DELIVERED: i64 = 2;
pub(super) const FAILED: i64 = 3;
pub(super) const EXPIRED: i64 = 4;

/// The cluster-wide counts, as of the start of the current transaction plus what it
/// changed; restored when a transaction fails.
///
/// Every node keeps its own row of `node_counts`, to which each transaction adds what it
/// changed (no row is shared, so nodes never wait on each other for it); the totals are
/// the sums over the rows, read at the start of each transaction. The `max-queued` and
/// outbox limits so hold for the cluster, give or take the groups other nodes are
/// committing at the same moment.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Counts {
    pub waiting: i64,
    pub outbox: i64,
}

/// Asks the server to end this session when one of its transactions sits idle longer than
/// `limit` (see [`PgOptions::idle_transaction_limit`]).
pub(super) async fn limit_idle_transactions(client: &Client, limit: Duration) -> Pg<()> {
    client
        .batch_execute(&format!(
            "SET idle_in_transaction_session_timeout = {}",
            limit.as_millis()
        ))
        .await?;
    Ok(())
}

/// The totals over every node's row.
const READ_COUNTS: &str =
    "SELECT COALESCE(SUM(waiting), 0)::int8, COALESCE(SUM(outbox), 0)::int8 FROM node_counts";

/// Reads the live counts from the database.
pub(super) async fn load_counts(client: &Client) -> Pg<Counts> {
    let row = client.query_one(READ_COUNTS, &[]).await?;
    Ok(Counts {
        waiting: row.try_get(0)?,
        outbox: row.try_get(1)?,
    })
}

/// The state of the writer task.
pub(super) struct Writer {
    config: Config,
    /// The TLS every connection it opens goes through.
    tls: Connector,
    target: String,
    client: Option<Client>,
    statements: HashMap<&'static str, Statement>,
    options: PgOptions,
    gauges: Arc<Gauges>,
    counts: Counts,
    round_trips: Arc<AtomicU64>,
}

impl Writer {
    /// A writer on an open connection whose counts were read.
    pub(super) fn new(
        config: Config,
        tls: Connector,
        client: Client,
        options: PgOptions,
        gauges: Arc<Gauges>,
        counts: Counts,
        round_trips: Arc<AtomicU64>,
    ) -> Writer {
        let writer = Writer {
            round_trips,
            config,
            tls,
            target: options.url.clone(),
            client: Some(client),
            statements: HashMap::new(),
            options,
            gauges,
            counts,
        };
        writer.publish();
        writer
    }

    fn publish(&self) {
        self.gauges
            .waiting
            .store(self.counts.waiting.max(0).unsigned_abs(), Ordering::Relaxed);
        self.gauges
            .outbox
            .store(self.counts.outbox.max(0).unsigned_abs(), Ordering::Relaxed);
    }

    /// Runs until every handle is dropped: takes the calls waiting, one transaction for all
    /// of them, answers after the commit.
    pub(super) async fn run(mut self, mut calls: mpsc::UnboundedReceiver<Call>) {
        let mut group = Vec::with_capacity(MAX_GROUP);
        while let Some(first) = calls.recv().await {
            group.push(first);
            while group.len() < MAX_GROUP {
                match calls.try_recv() {
                    Ok(call) => group.push(call),
                    Err(_) => break,
                }
            }
            self.commit_group(std::mem::take(&mut group)).await;
        }
    }

    /// A connection, opened again (with the counts re-read) when the last one closed.
    async fn connected(&mut self) -> Pg<()> {
        if self.client.as_ref().is_some_and(|c| !c.is_closed()) {
            return Ok(());
        }
        self.client = None;
        self.statements.clear();
        let client = pool::open(&self.config, &self.tls, &self.target).await?;
        limit_idle_transactions(&client, self.options.idle_transaction_limit()).await?;
        self.counts = load_counts(&client).await?;
        self.client = Some(client);
        Ok(())
    }

    async fn commit_group(&mut self, calls: Vec<Call>) {
        if let Err(e) = self.connected().await {
            let error = e.into_write();
            for call in calls {
                answer(call, Err(error.clone()));
            }
            return;
        }
        let before = self.counts;
        let results: Vec<Result<Done, StoreError>> = match self.transaction(&calls).await {
            Ok(done) => done.into_iter().map(Ok).collect(),
            Err(error) if calls.len() == 1 => {
                self.counts = before;
                vec![Err(error)]
            }
            Err(_) => {
                self.counts = before;
                let mut results = Vec::with_capacity(calls.len());
                for call in &calls {
                    let before = self.counts;
                    let result = self.transaction(std::slice::from_ref(call)).await;
                    if result.is_err() {
                        self.counts = before;
                    }
                    results.push(result.and_then(|mut d| d.pop().ok_or_else(missing_result)));
                }
                results
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
    async fn transaction(&mut self, calls: &[Call]) -> Result<Vec<Done>, StoreError> {
        let Some(client) = self.client.as_ref() else {
            return Err(StoreError::Write("not connected".into()));
        };
        let mut tx = Tx {
            c: client,
            statements: &mut self.statements,
            options: &self.options,
            counts: &mut self.counts,
            round_trips: &self.round_trips,
        };
        let limit = self.options.write_limit();
        let result = match tokio::time::timeout(limit, tx.run(calls)).await {
            Ok(result) => result,
            Err(_) => {
                // Whether the server committed is unknown: the callers get an error (they
                // may try again, idempotently with a key), and the connection is dropped so
                // that nothing of this transaction can still commit later.
                self.client = None;
                return Err(StoreError::Write(format!(
                    "PostgreSQL did not answer within {} s",
                    limit.as_secs()
                )));
            }
        };
        match result {
            Ok(done) => {
                self.gauges.commits.fetch_add(1, Ordering::Relaxed);
                self.gauges
                    .grouped_calls
                    .fetch_add(calls.len() as u64, Ordering::Relaxed);
                Ok(done)
            }
            Err(e) => {
                if let Some(client) = self.client.as_ref() {
                    self.round_trips.fetch_add(1, Ordering::Relaxed);
                    if client.batch_execute("ROLLBACK").await.is_err() {
                        // The connection is gone: the next group opens another.
                        self.client = None;
                    }
                }
                Err(e.into_write())
            }
        }
    }
}

/// One transaction of the writer: its connection, prepared statements and counts.
pub(super) struct Tx<'a> {
    c: &'a Client,
    statements: &'a mut HashMap<&'static str, Statement>,
    pub(super) options: &'a PgOptions,
    pub(super) counts: &'a mut Counts,
    round_trips: &'a AtomicU64,
}

type Params<'p> = &'p [&'p (dyn ToSql + Sync)];

/// A message's channel, state code, receipt wish, acceptance time (ms), id and number of
/// segments.
type MessageRow = (String, i64, bool, i64, String, i64, Option<String>);

/// Why a message leaves the queue, for [`Tx::enter`].
#[derive(Clone, Copy)]
enum Cause<'a> {
    /// The channel's own report (an answer, an expiry it found), or upkeep: the channel
    /// holding the message, if one does, becomes its channel.
    Holder,
    /// A receipt settled it: its channel stays as the answers made it. For a message of
    /// one segment, the receipt's state word and error, written in the same statement.
    Receipt(Option<(&'a str, Option<&'a str>)>),
}

impl Tx<'_> {
    /// Counts one exchange with the server (for `load store`'s round trips per message).
    fn trip(&self) {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
    }

    /// Runs a statement without parameters or results (BEGIN, COMMIT).
    async fn simple(&self, sql: &str) -> Pg<()> {
        self.trip();
        Ok(self.c.batch_execute(sql).await?)
    }

    /// A statement prepared once per connection.
    async fn statement(&mut self, sql: &'static str) -> Pg<Statement> {
        if let Some(s) = self.statements.get(sql) {
            return Ok(s.clone());
        }
        self.trip();
        let s = self.c.prepare(sql).await?;
        self.statements.insert(sql, s.clone());
        Ok(s)
    }

    pub(super) async fn query(&mut self, sql: &'static str, params: Params<'_>) -> Pg<Vec<Row>> {
        let s = self.statement(sql).await?;
        self.trip();
        Ok(self.c.query(&s, params).await?)
    }

    async fn query_opt(&mut self, sql: &'static str, params: Params<'_>) -> Pg<Option<Row>> {
        let s = self.statement(sql).await?;
        self.trip();
        Ok(self.c.query_opt(&s, params).await?)
    }

    pub(super) async fn execute(&mut self, sql: &'static str, params: Params<'_>) -> Pg<u64> {
        let s = self.statement(sql).await?;
        self.trip();
        Ok(self.c.execute(&s, params).await?)
    }

    async fn run(&mut self, calls: &[Call]) -> Pg<Vec<Done>> {
        self.simple("BEGIN").await?;
        let totals = self.query_opt(READ_COUNTS, &[]).await?;
        if let Some(row) = totals {
            self.counts.waiting = row.try_get(0)?;
            self.counts.outbox = row.try_get(1)?;
        }
        let start = *self.counts;
        let mut done = Vec::with_capacity(calls.len());
        let mut at = 0;
        while at < calls.len() {
            if !matches!(calls[at], Call::Accept(..)) {
                done.push(self.run_call(&calls[at]).await?);
                at += 1;
                continue;
            }
            // A run of accepts: one look-up of their keys and one insert for all of them.
            let end = calls[at..]
                .iter()
                .position(|c| !matches!(c, Call::Accept(..)))
                .map_or(calls.len(), |n| at + n);
            let mut all = Vec::new();
            for call in &calls[at..end] {
                if let Call::Accept(messages, now, _) = call {
                    all.extend(messages.iter().map(|m| (m, *now)));
                }
            }
            let mut results = self.accept(&all).await?.into_iter();
            for call in &calls[at..end] {
                if let Call::Accept(messages, ..) = call {
                    done.push(Done::Accept(
                        results.by_ref().take(messages.len()).collect(),
                    ));
                }
            }
            at = end;
        }
        let waiting = self.counts.waiting - start.waiting;
        let outbox = self.counts.outbox - start.outbox;
        if waiting != 0 || outbox != 0 {
            let node = self.options.node_name.as_str();
            self.execute(
                "INSERT INTO node_counts AS n (node, waiting, outbox) VALUES ($1, $2, $3)
                 ON CONFLICT (node) DO UPDATE
                    SET waiting = n.waiting + $2, outbox = n.outbox + $3",
                &[&node, &waiting, &outbox],
            )
            .await?;
        }
        self.simple("COMMIT").await?;
        Ok(done)
    }

    async fn run_call(&mut self, call: &Call) -> Pg<Done> {
        Ok(match call {
            Call::Accept(messages, now, _) => {
                let all: Vec<_> = messages.iter().map(|m| (m, *now)).collect();
                Done::Accept(self.accept(&all).await?)
            }
            Call::Claim(fence, also, limit, now, _) => {
                self.check_fence(fence).await?;
                Done::Claim(self.claim(fence, also, *limit, *now).await?)
            }
            Call::Release(fence, seqs, _) => {
                if let Some(fence) = fence {
                    self.check_fence(fence).await?;
                }
                self.release(fence.as_ref(), seqs).await?;
                Done::Nothing
            }
            Call::Apply(fence, changes, now, _, _) => {
                self.check_fence(fence).await?;
                Done::Apply(self.apply(&fence.channel, changes, *now).await?)
            }
            Call::FailUnconfigured(configured, reason, now, _) => {
                Done::Count(self.fail_unconfigured(configured, reason, *now).await?)
            }
            Call::OutboxDelivered(seqs, _) => {
                let webhook = self
                    .query(
                        "DELETE FROM outbox WHERE seq = ANY($1) RETURNING target IS NULL",
                        &[seqs],
                    )
                    .await?
                    .iter()
                    .filter(|r| r.try_get::<_, bool>(0).unwrap_or(false))
                    .count();
                self.counts.outbox -= i64::try_from(webhook).unwrap_or(i64::MAX);
                Done::Nothing
            }
            Call::OutboxRetry(seq, due, _) => {
                self.execute(
                    // Given back: any node may try it again once it is due.
                    "UPDATE outbox SET attempts = attempts + 1, due = $2, claimed_by = NULL,
                        claimed_until = NULL
                     WHERE seq = $1",
                    &[seq, &ms(*due)],
                )
                .await?;
                Done::Nothing
            }
            Call::Upkeep(now, _) => Done::Upkeep(self.upkeep(*now).await?),
            // The store reads its outbox on the pool (a PostgreSQL commit is durable when it
            // returns); a call that comes here anyway is answered the same way.
            Call::OutboxDue(target, limit, _) => {
                self.trip();
                let node = self.options.node_name.as_str();
                let now = SystemTime::now();
                let target = target.as_deref();
                Done::Outbox(
                    super::read::outbox(self.c, node, target, *limit, now, OUTBOX_HOLD).await?,
                )
            }
            Call::Credits(users, _) => {
                for (user, first) in users {
                    match first {
                        Some(first) => {
                            let first = i64::try_from(*first).unwrap_or(i64::MAX);
                            self.execute(
                                "INSERT INTO smpp_credits (\"user\", balance) VALUES ($1, $2)
                                 ON CONFLICT (\"user\") DO NOTHING",
                                &[user, &first],
                            )
                            .await?
                        }
                        None => {
                            self.execute("DELETE FROM smpp_credits WHERE \"user\" = $1", &[user])
                                .await?
                        }
                    };
                }
                Done::Nothing
            }
            Call::CreditsAdd(user, add, _) => {
                let add = i64::try_from(*add).unwrap_or(i64::MAX);
                let row = self
                    .query_opt(
                        "UPDATE smpp_credits SET balance = LEAST(balance::numeric + $2::int8,
                            9223372036854775807)::int8
                         WHERE \"user\" = $1 RETURNING balance",
                        &[user, &add],
                    )
                    .await?;
                Done::Balance(match row {
                    Some(r) => Some(r.try_get::<_, i64>(0)?.max(0) as u64),
                    None => None,
                })
            }
        })
    }

    /// The message's channel, state, receipt wish, acceptance time, id and segments.
    async fn message(&mut self, seq: i64) -> Pg<Option<MessageRow>> {
        let row = self
            .query_opt(
                "SELECT channel, state, delivery_report, accepted_at, id, segments, origin
                 FROM messages WHERE seq = $1",
                &[&seq],
            )
            .await?;
        Ok(match row {
            Some(r) => Some((
                r.try_get(0)?,
                r.try_get(1)?,
                r.try_get(2)?,
                r.try_get(3)?,
                r.try_get(4)?,
                r.try_get(5)?,
                r.try_get(6)?,
            )),
            None => None,
        })
    }

    /// Moves a message to `state`; leaves a message in a final state alone. Returns whether
    /// it moved. Leaving the queue ends its claim; see [`Cause`] for what the cause changes.
    async fn enter(
        &mut self,
        seq: i64,
        from: i64,
        state: i64,
        now: i64,
        failure: Option<(Option<u32>, &str)>,
        cause: Cause<'_>,
    ) -> Pg<bool> {
        let (receipt, by_holder) = match cause {
            Cause::Holder => (None, true),
            Cause::Receipt(words) => (words, false),
        };
        if !can_enter(from, state) {
            return Ok(false);
        }
        let finished = state != SUBMITTED;
        let status = failure.and_then(|f| f.0).map(i64::from);
        let reason = failure.map(|f| f.1);
        let has_receipt = receipt.is_some();
        let word = receipt.map(|r| r.0);
        let error = receipt.and_then(|r| r.1);
        let moved = self
            .query_opt(
                "UPDATE messages SET state = $2::int8,
                submitted_at = CASE WHEN $2::int8 = 1 THEN $3::int8 ELSE submitted_at END,
                finished_at = CASE WHEN $4::bool OR ($2::int8 = 1 AND NOT delivery_report)
                    THEN $3::int8 ELSE finished_at END,
                failure_status = COALESCE($5::int8, failure_status),
                failure_reason = COALESCE($6::text, failure_reason),
                channel = CASE WHEN $7::bool THEN COALESCE(claimed_on, channel) ELSE channel END,
                receipt = CASE WHEN $8::bool THEN $9::text ELSE receipt END,
                receipt_error = CASE WHEN $8::bool THEN $10::text ELSE receipt_error END,
                claimed_by = NULL, claimed_on = NULL, claimed_at = NULL
             WHERE seq = $1 RETURNING origin",
                &[
                    &seq,
                    &state,
                    &now,
                    &finished,
                    &status,
                    &reason,
                    &by_holder,
                    &has_receipt,
                    &word,
                    &error,
                ],
            )
            .await?;
        if from == QUEUED {
            self.counts.waiting -= 1;
        }
        let origin: Option<String> = match moved {
            Some(r) => r.try_get(0)?,
            None => None,
        };
        // A user's message that failed or expired before the SMSC took it: the user gets
        // its credits back and, if it asked, a receipt saying so.
        if origin.is_some() && by_holder && from == QUEUED && (state == FAILED || state == EXPIRED)
        {
            self.refund(seq).await?;
            let (stat, err) = user_event::unsent_words(state == EXPIRED, failure.and_then(|f| f.0));
            self.tell_user(seq, false, stat, err, now).await?;
        }
        Ok(true)
    }

    /// Queues a receipt for the SMPP user that submitted message `seq`, when the outcome
    /// is final and the user asked for it.
    async fn tell_user(
        &mut self,
        seq: i64,
        delivered: bool,
        stat: String,
        err: String,
        now: i64,
    ) -> Pg<()> {
        let Some(r) = self
            .query_opt(
                "SELECT origin, origin_receipts, id, dest, src, accepted_at FROM messages
                 WHERE seq = $1",
                &[&seq],
            )
            .await?
        else {
            return Ok(());
        };
        let Some(user) = r.try_get::<_, Option<String>>(0)? else {
            return Ok(());
        };
        if !ReceiptWish::from_code(r.try_get(1)?).wants(delivered) {
            return Ok(());
        }
        let (id, to, from): (String, String, Option<String>) =
            (r.try_get(2)?, r.try_get(3)?, r.try_get(4)?);
        let event = UserReceipt {
            message_id: &id,
            stat,
            err,
            to: &to,
            from: from.as_deref(),
            submitted_at: r.try_get(5)?,
            done_at: now,
        }
        .event();
        self.queue_event(&event, now, Some(&user)).await
    }

    async fn outcome(&mut self, seq: i64, now: i64) -> Pg<Option<Outcome>> {
        Ok(self
            .message(seq)
            .await?
            .map(|(channel, state, _, accepted, ..)| Outcome {
                channel,
                state: state_of(state),
                since_accepted: Duration::from_millis((now - accepted).max(0) as u64),
            }))
    }

    /// Applies a channel's report in order: runs of submit_sm_resps and receipts as
    /// [`Tx::reports`] batches them, anything else one change at a time.
    async fn apply(
        &mut self,
        channel: &str,
        changes: &[Change],
        now: SystemTime,
    ) -> Pg<Vec<Applied>> {
        let at = ms(now);
        let mut applied = Vec::with_capacity(changes.len());
        let mut n = 0;
        while let Some(change) = changes.get(n) {
            if matches!(change, Change::Submitted { .. } | Change::Receipt { .. }) {
                let end = run_end(changes, n).max(n + 1);
                let run = changes.get(n..end).unwrap_or_default();
                applied.extend(self.reports(channel, run, at).await?);
                n = end;
            } else {
                applied.push(self.change(channel, change, at).await?);
                n += 1;
            }
        }
        Ok(applied)
    }

    /// Applies one change of a channel's report on its own.
    pub(super) async fn change(&mut self, channel: &str, change: &Change, at: i64) -> Pg<Applied> {
        Ok(match change {
            Change::Submitted {
                key,
                smsc_message_id,
            } => self.submitted(channel, *key, smsc_message_id, at).await?,
            Change::Failed {
                key,
                status,
                reason,
            } => {
                let (seq, _) = split_key(*key);
                match self.message(seq).await? {
                    Some((_, state, ..)) => {
                        let failure = Some((*status, reason.as_str()));
                        self.enter(seq, state, FAILED, at, failure, Cause::Holder)
                            .await?;
                        Applied::Done(self.outcome(seq, at).await?)
                    }
                    None => Applied::Done(None),
                }
            }
            Change::Expired { seq } => {
                self.expire(*seq, at).await?;
                Applied::Done(self.outcome(*seq, at).await?)
            }
            Change::Receipt { receipt, event } => {
                if self.outbox_full() {
                    Applied::OutboxFull
                } else {
                    let (matched, users) = self.receipt(channel, receipt, at).await?;
                    // A receipt for a user's message goes to that user only.
                    if let (Some(event), false) = (event, users) {
                        let body = event_body(event, &matched.event_fields())?;
                        self.queue_body(body, at, None).await?;
                    }
                    Applied::Receipt(matched)
                }
            }
            Change::Event { event, user } => {
                // The webhook's bound is for the webhook's events.
                if user.is_none() && self.outbox_full() {
                    Applied::OutboxFull
                } else {
                    self.queue_event(event, at, user.as_deref()).await?;
                    Applied::Done(None)
                }
            }
            Change::Part { set, number, data } => {
                self.execute(
                    "INSERT INTO inbound_parts (channel, set_key, number, data)
                     VALUES ($1, $2, $3, $4)
                     ON CONFLICT (channel, set_key, number) DO UPDATE SET data = $4",
                    &[&channel, set, &i64::from(*number), data],
                )
                .await?;
                Applied::Done(None)
            }
            Change::Completed { set, event, user } => {
                if user.is_none() && self.outbox_full() {
                    Applied::OutboxFull
                } else {
                    // Whoever takes the set's kept parts completes it: a sibling session (on
                    // any node) that saw the same set whole finds none left and queues nothing.
                    if self.forget_parts(channel, set).await? > 0 {
                        self.queue_event(event, at, user.as_deref()).await?;
                    }
                    Applied::Done(None)
                }
            }
            Change::PartsDone { set } => {
                self.forget_parts(channel, set).await?;
                Applied::Done(None)
            }
        })
    }
}

/// The columns of the messages one insert writes, as arrays for `UNNEST`.
#[derive(Default)]
struct Rows<'a> {
    id: Vec<&'a str>,
    channel: Vec<&'a str>,
    queue: Vec<String>,
    to: Vec<&'a str>,
    from: Vec<Option<&'a str>>,
    delivery_report: Vec<bool>,
    send_validity: Vec<bool>,
    encoding: Vec<&'a str>,
    data_coding: Vec<i64>,
    segments: Vec<i64>,
    accepted_at: Vec<i64>,
    expires_at: Vec<i64>,
    idem_key: Vec<Option<&'a str>>,
    idem_fingerprint: Vec<Option<&'a str>>,
    body: Vec<Vec<u8>>,
    origin: Vec<Option<&'a str>>,
    origin_receipts: Vec<i64>,
    charged: Vec<i64>,
}

impl<'a> Rows<'a> {
    fn push(&mut self, m: &'a NewMessage, now: SystemTime, charged: u32) {
        self.id.push(m.id.as_str());
        self.channel.push(&m.channel);
        self.queue.push(m.queue().into_owned());
        self.origin.push(m.origin.as_ref().map(|o| o.user.as_str()));
        self.origin_receipts
            .push(m.origin.as_ref().map_or(0, |o| o.receipts.code()));
        self.charged.push(i64::from(charged));
        self.to.push(&m.to);
        self.from.push(m.from.as_deref());
        self.delivery_report.push(m.delivery_report);
        self.send_validity.push(m.send_validity);
        self.encoding.push(m.encoding);
        self.data_coding.push(i64::from(m.data_coding));
        self.segments.push(m.segments.len() as i64);
        self.accepted_at.push(ms(now));
        self.expires_at.push(ms(m.expires_at));
        self.idem_key
            .push(m.idempotency.as_ref().map(|i| i.key.as_str()));
        self.idem_fingerprint
            .push(m.idempotency.as_ref().map(|i| i.fingerprint.as_str()));
        self.body.push(body::pack(&m.segments));
    }
}

/// A message id read back; anything else is a damaged row, reported as such.
pub(super) fn stored_id(text: String) -> Pg<MessageId> {
    MessageId::parse(&text).ok_or_else(|| PgError::Damaged(format!("{text:?} is not a message id")))
}

/// Milliseconds since the epoch, as stored.
pub(super) fn ms(t: SystemTime) -> i64 {
    crate::daemon::store::sqlite::ms(t)
}

/// A stored time back as a `SystemTime`.
pub(super) fn from_ms(ms: i64) -> SystemTime {
    crate::daemon::store::sqlite::from_ms(ms)
}

fn ms_of(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// The state code a message settled by its receipts takes.
pub(super) fn settled_code(state: MessageState) -> i64 {
    match state {
        MessageState::Delivered => DELIVERED,
        MessageState::Expired => EXPIRED,
        _ => FAILED,
    }
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
