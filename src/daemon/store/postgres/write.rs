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

use super::error::{Pg, PgError};
use super::read::segment_records;
use super::reports::{can_enter, event_body, run_end};
use super::tls::Connector;
use super::{pool, PgOptions, OUTBOX_HOLD};
use crate::daemon::engine::ReceiptReport;
use crate::daemon::store::body;
use crate::daemon::store::call::{answer, missing_result, Call, Done};
use crate::daemon::store::forms::{add_found, pick, probe, stored_forms, Found};
use crate::daemon::store::gauges::Gauges;
use crate::daemon::store::record::{
    split_key, Accepted, AcceptedMessage, Applied, Change, ClaimedMessage, MessageState,
    NewMessage, Outcome, ReceiptMatch, ReceiptWish, Refused, Upkeep,
};
use crate::daemon::store::state::{state_from_receipt, state_from_receipts};
use crate::daemon::store::user_event::{self, UserReceipt};
use crate::daemon::store::Fence;
use crate::daemon::store::{MessageId, StoreError};
use crate::sms::{MatchRule, MatchRules, MessageIdKey};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::mpsc;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Config, Row, Statement};

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

    async fn accept(
        &mut self,
        messages: &[(&NewMessage, SystemTime)],
    ) -> Pg<Vec<Result<Accepted, Refused>>> {
        let keys: Vec<&str> = messages
            .iter()
            .filter_map(|(m, _)| m.idempotency.as_ref().map(|i| i.key.as_str()))
            .collect();
        let mut earlier: HashMap<String, (AcceptedMessage, Option<String>)> = HashMap::new();
        if !keys.is_empty() {
            let rows = self
                .query(
                    "SELECT idem_key, id, segments, routed, encoding, data_coding,
                        idem_fingerprint
                     FROM messages WHERE idem_key = ANY($1)",
                    &[&keys],
                )
                .await?;
            for r in rows {
                let first = AcceptedMessage {
                    id: stored_id(r.try_get(1)?)?,
                    segments: r.try_get::<_, i64>(2)?.max(0) as usize,
                    channel: r.try_get(3)?,
                    encoding: r.try_get(4)?,
                    data_coding: r.try_get::<_, i64>(5)? as u8,
                };
                earlier.insert(r.try_get(0)?, (first, r.try_get(6)?));
            }
        }
        let mut results = Vec::with_capacity(messages.len());
        let mut rows = Rows::default();
        for (m, now) in messages {
            if let Some(idem) = &m.idempotency {
                if let Some((first, fingerprint)) = earlier.get(&idem.key) {
                    results.push(if fingerprint.as_deref() == Some(&idem.fingerprint) {
                        Ok(Accepted::Repeat(first.clone()))
                    } else {
                        Err(Refused::KeyReused {
                            key: idem.key.clone(),
                        })
                    });
                    continue;
                }
            }
            if self.counts.waiting >= i64::try_from(self.options.max_queued).unwrap_or(i64::MAX) {
                results.push(Err(Refused::QueueFull {
                    max: self.options.max_queued,
                }));
                continue;
            }
            let charged = match &m.origin {
                Some(origin) => match self.charge(&origin.user, origin.charge).await? {
                    Ok(charged) => charged,
                    Err(refused) => {
                        results.push(Err(refused));
                        continue;
                    }
                },
                None => 0,
            };
            rows.push(m, *now, charged);
            self.counts.waiting += 1;
            let accepted = AcceptedMessage {
                id: m.id.clone(),
                segments: m.segments.len(),
                channel: m.channel.clone(),
                encoding: m.encoding.to_string(),
                data_coding: m.data_coding,
            };
            if let Some(idem) = &m.idempotency {
                // A later message of the same group with this key repeats this one.
                earlier.insert(
                    idem.key.clone(),
                    (accepted.clone(), Some(idem.fingerprint.clone())),
                );
            }
            results.push(Ok(Accepted::New(accepted)));
        }
        if !rows.id.is_empty() {
            // WITH ORDINALITY and ORDER BY: keys are given in acceptance order, which is
            // the order the queue is sent in.
            self.execute(
                "INSERT INTO messages (id, channel, routed, queue, state, dest, src,
                    delivery_report, send_validity, encoding, data_coding, segments,
                    accepted_at, expires_at, idem_key, idem_fingerprint, body, origin,
                    origin_receipts, charged)
                 SELECT id, ch, ch, q, 0, d, s, dr, sv, enc, dc, n, acc, exp, ik, ifp, b, o,
                    orc, chg
                 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[],
                    $6::bool[], $7::bool[], $8::text[], $9::int8[], $10::int8[], $11::int8[],
                    $12::int8[], $13::text[], $14::text[], $15::bytea[], $16::text[],
                    $17::int8[], $18::int8[])
                    WITH ORDINALITY AS u(id, ch, q, d, s, dr, sv, enc, dc, n, acc, exp, ik,
                        ifp, b, o, orc, chg, ord)
                 ORDER BY ord",
                &[
                    &rows.id,
                    &rows.channel,
                    &rows.queue,
                    &rows.to,
                    &rows.from,
                    &rows.delivery_report,
                    &rows.send_validity,
                    &rows.encoding,
                    &rows.data_coding,
                    &rows.segments,
                    &rows.accepted_at,
                    &rows.expires_at,
                    &rows.idem_key,
                    &rows.idem_fingerprint,
                    &rows.body,
                    &rows.origin,
                    &rows.origin_receipts,
                    &rows.charged,
                ],
            )
            .await?;
        }
        Ok(results)
    }

    /// Charges `user` `charge` credits: what was charged (0 for a user without a balance),
    /// or the refusal when the balance is too low.
    async fn charge(&mut self, user: &str, charge: u32) -> Pg<Result<u32, Refused>> {
        let amount = i64::from(charge);
        let taken = self
            .query_opt(
                "UPDATE smpp_credits SET balance = balance - $2
                 WHERE \"user\" = $1 AND balance >= $2 RETURNING balance",
                &[&user, &amount],
            )
            .await?;
        if taken.is_some() {
            return Ok(Ok(charge));
        }
        let balance = self
            .query_opt(
                "SELECT balance FROM smpp_credits WHERE \"user\" = $1",
                &[&user],
            )
            .await?;
        Ok(match balance {
            None => Ok(0),
            Some(r) => Err(Refused::NoCredit {
                user: user.to_string(),
                left: r.try_get::<_, i64>(0)?.max(0) as u64,
                charge,
            }),
        })
    }

    /// Up to `limit` of the oldest waiting, unexpired, unclaimed messages `channel` may
    /// send, recorded as claimed by this node. `SKIP LOCKED`: rows another node is claiming
    /// right now are passed over, not waited for.
    async fn claim(
        &mut self,
        fence: &Fence,
        also: &[String],
        limit: usize,
        now: SystemTime,
    ) -> Pg<Vec<ClaimedMessage>> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let node = self.options.node_name.as_str();
        let channel = fence.channel.as_str();
        let slot = i32::from(fence.slot);
        let mut rows = self
            .query(
                "WITH shared AS (
                    SELECT seq FROM messages
                    WHERE queue = '' AND state = 0 AND claimed_by IS NULL AND expires_at > $3
                    ORDER BY seq LIMIT $4 FOR UPDATE SKIP LOCKED
                 ), own AS (
                    SELECT seq FROM messages
                    WHERE queue = $1 AND state = 0 AND claimed_by IS NULL AND expires_at > $3
                    ORDER BY seq LIMIT $4 FOR UPDATE SKIP LOCKED
                 ), users AS (
                    SELECT seq FROM messages
                    WHERE queue = ANY($7) AND state = 0 AND claimed_by IS NULL
                        AND expires_at > $3
                    ORDER BY seq LIMIT $4 FOR UPDATE SKIP LOCKED
                 ), pick AS (
                    SELECT seq FROM shared UNION ALL SELECT seq FROM own
                    UNION ALL SELECT seq FROM users ORDER BY seq LIMIT $4
                 )
                 UPDATE messages m SET claimed_by = $2, claimed_on = $1, claimed_at = $3,
                    claimed_slot = $5, claimed_epoch = $6
                 FROM pick WHERE m.seq = pick.seq
                 RETURNING m.seq, m.id, m.dest, m.src, m.delivery_report, m.expires_at,
                    m.send_validity, m.resend, m.segments, m.acked, m.body",
                &[
                    &channel,
                    &node,
                    &ms(now),
                    &limit,
                    &slot,
                    &fence.epoch,
                    &also,
                ],
            )
            .await?;
        rows.sort_by_key(|r| r.try_get::<_, i64>(0).unwrap_or(0));
        // The acknowledged segments of longer messages partly sent before.
        let partial: Vec<i64> = rows
            .iter()
            .filter(|r| {
                r.try_get::<_, i64>(9).unwrap_or(0) > 0 && r.try_get::<_, i64>(8).unwrap_or(0) > 1
            })
            .filter_map(|r| r.try_get(0).ok())
            .collect();
        let mut sent: HashMap<i64, Vec<i64>> = HashMap::new();
        if !partial.is_empty() {
            for r in self
                .query(
                    "SELECT seq, idx FROM segments WHERE seq = ANY($1)",
                    &[&partial],
                )
                .await?
            {
                sent.entry(r.try_get(0)?).or_default().push(r.try_get(1)?);
            }
        }
        let mut claimed = Vec::with_capacity(rows.len());
        for r in rows {
            let seq: i64 = r.try_get(0)?;
            let id: String = r.try_get(1)?;
            let blob: &[u8] = r.try_get(10)?;
            let mut segments: Vec<(u8, crate::sms::Segment)> = body::unpack(blob)
                .map_err(|e| PgError::Damaged(format!("message {id} has damaged segments: {e}")))?
                .into_iter()
                .enumerate()
                .map(|(idx, s)| (idx as u8, s))
                .collect();
            if let Some(done) = sent.get(&seq) {
                segments.retain(|(idx, _)| !done.contains(&i64::from(*idx)));
            }
            claimed.push(ClaimedMessage {
                seq,
                id: stored_id(id)?,
                to: r.try_get(2)?,
                from: r.try_get(3)?,
                delivery_report: r.try_get(4)?,
                expires_at: from_ms(r.try_get(5)?),
                send_validity: r.try_get(6)?,
                segments,
                resend: r.try_get(7)?,
            });
        }
        Ok(claimed)
    }

    /// Refuses a write under `fence` unless this node still holds its lease with that
    /// epoch. The row stays locked (`FOR KEY SHARE`) until the transaction ends, so a
    /// takeover (which locks it `FOR UPDATE`) waits for this write or this write sees the
    /// takeover: never both. The lock does not hold up a renewal (a plain `UPDATE` of a
    /// non-key column), which would otherwise deadlock with a group that checks several
    /// slots while the keeper renews them.
    async fn check_fence(&mut self, fence: &Fence) -> Pg<()> {
        if !fence.is_leased() {
            return Ok(());
        }
        let node = self.options.node_name.as_str();
        let held = self
            .query_opt(
                "SELECT 1 FROM leases
                 WHERE channel = $1 AND slot = $2 AND node = $3 AND epoch = $4
                 FOR KEY SHARE",
                &[&fence.channel, &i32::from(fence.slot), &node, &fence.epoch],
            )
            .await?;
        match held {
            Some(_) => Ok(()),
            None => Err(PgError::Fenced(fence.clone())),
        }
    }

    async fn release(&mut self, fence: Option<&Fence>, seqs: &[(i64, bool)]) -> Pg<()> {
        let (keys, sent): (Vec<i64>, Vec<bool>) = seqs.iter().copied().unzip();
        let node = self.options.node_name.as_str();
        match fence {
            // Only what this slot holds: another slot of the same channel on this node may
            // hold a message this one once held (it went back to the queue in between).
            Some(fence) => {
                self.execute(
                    "UPDATE messages m SET resend = m.resend OR u.sent, claimed_by = NULL,
                        claimed_on = NULL, claimed_at = NULL
                     FROM UNNEST($1::int8[], $2::bool[]) AS u(seq, sent)
                     WHERE m.seq = u.seq AND m.state = 0 AND m.claimed_by = $3
                        AND m.claimed_on = $4 AND m.claimed_slot = $5",
                    &[&keys, &sent, &node, &fence.channel, &i32::from(fence.slot)],
                )
                .await?
            }
            None => {
                self.execute(
                    "UPDATE messages m SET resend = m.resend OR u.sent, claimed_by = NULL,
                        claimed_on = NULL, claimed_at = NULL
                     FROM UNNEST($1::int8[], $2::bool[]) AS u(seq, sent)
                     WHERE m.seq = u.seq AND m.state = 0 AND m.claimed_by = $3",
                    &[&keys, &sent, &node],
                )
                .await?
            }
        };
        Ok(())
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

    /// Gives a message's user back what it was charged.
    async fn refund(&mut self, seq: i64) -> Pg<()> {
        self.execute(
            "WITH m AS (
                SELECT origin, charged FROM messages WHERE seq = $1
             ), refunded AS (
                UPDATE smpp_credits c SET balance = c.balance + m.charged
                FROM m WHERE c.\"user\" = m.origin
             )
             UPDATE messages SET charged = 0 WHERE seq = $1",
            &[&seq],
        )
        .await?;
        Ok(())
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

    /// Deletes a set's kept parts; how many there were.
    async fn forget_parts(&mut self, channel: &str, set: &str) -> Pg<u64> {
        self.execute(
            "DELETE FROM inbound_parts WHERE channel = $1 AND set_key = $2",
            &[&channel, &set],
        )
        .await
    }

    /// Whether the outbox holds as many events as it may.
    pub(super) fn outbox_full(&self) -> bool {
        self.counts.outbox >= i64::try_from(self.options.max_outbox).unwrap_or(i64::MAX)
    }

    /// Queues an event with a fresh, stable `event_id`, for the webhook or an SMPP user.
    async fn queue_event(
        &mut self,
        event: &Map<String, Value>,
        now: i64,
        user: Option<&str>,
    ) -> Pg<()> {
        let body = event_body(event, &[])?;
        self.queue_body(body, now, user).await
    }

    /// Queues an event's document.
    async fn queue_body(&mut self, body: Vec<u8>, now: i64, user: Option<&str>) -> Pg<()> {
        self.execute(
            "INSERT INTO outbox (body, due, created_at, target) VALUES ($1, $2, $2, $3)",
            &[&body, &now, &user],
        )
        .await?;
        // The webhook's events: those of SMPP users are bounded by nothing but the disk.
        if user.is_none() {
            self.counts.outbox += 1;
        }
        Ok(())
    }

    async fn expire(&mut self, seq: i64, now: i64) -> Pg<()> {
        let Some((channel, state, _, _, id, _, origin)) = self.message(seq).await? else {
            return Ok(());
        };
        if !self
            .enter(seq, state, EXPIRED, now, None, Cause::Holder)
            .await?
        {
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
            self.queue_event(&event, now, None).await?;
        }
        Ok(())
    }

    /// Records a submit_sm_resp. The usual case (a message this node holds, its segment
    /// acknowledged for the first time) is one statement that writes and checks at once;
    /// anything else reads the row first.
    async fn submitted(&mut self, channel: &str, key: u64, smsc_id: &str, now: i64) -> Pg<Applied> {
        let (seq, idx) = split_key(key);
        if let Some(applied) = self.first_ack(channel, seq, idx, smsc_id, now).await? {
            return Ok(applied);
        }
        let Some((owner, state, delivery_report, accepted, _, count, _)) =
            self.message(seq).await?
        else {
            return Ok(Applied::Done(None));
        };
        let earlier = self.segment_ack(seq, idx, count).await?;
        if let Some((old, on)) = &earlier {
            // Acknowledged again (a re-send after a lost response): the latest id counts,
            // and the earlier one no longer leads here.
            self.uncorrelate(on, seq, i64::from(idx), old).await?;
        }
        if count == 1 {
            self.execute(
                "UPDATE messages SET smsc_id = $2, acked_on = $3 WHERE seq = $1",
                &[&seq, &smsc_id, &channel],
            )
            .await?;
        } else {
            self.execute(
                "INSERT INTO segments (seq, idx, smsc_id, acked_on) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (seq, idx) DO UPDATE SET smsc_id = $3, acked_on = $4",
                &[&seq, &i64::from(idx), &smsc_id, &channel],
            )
            .await?;
        }
        if delivery_report {
            self.correlate(channel, seq, idx, smsc_id).await?;
        }
        if earlier.is_some() {
            return Ok(Applied::Done(self.outcome(seq, now).await?));
        }
        let acked: i64 = self
            .query_opt(
                "UPDATE messages SET acked = acked + 1 WHERE seq = $1 RETURNING acked",
                &[&seq],
            )
            .await?
            .map_or(Ok(0), |r| r.try_get(0))?;
        let mut state = state;
        if state == QUEUED
            && acked >= count
            && self
                .enter(seq, state, SUBMITTED, now, None, Cause::Holder)
                .await?
        {
            state = SUBMITTED;
        }
        Ok(Applied::Done(Some(Outcome {
            channel: owner,
            state: state_of(state),
            since_accepted: Duration::from_millis((now - accepted).max(0) as u64),
        })))
    }

    /// The first acknowledgement of a segment of a message this node holds: `None` when
    /// the row is not as the claim left it (then the caller reads it).
    async fn first_ack(
        &mut self,
        channel: &str,
        seq: i64,
        idx: u8,
        smsc_id: &str,
        now: i64,
    ) -> Pg<Option<Applied>> {
        let node = self.options.node_name.as_str();
        let single = self
            .query_opt(
                "UPDATE messages SET smsc_id = $2::text, acked_on = $3::text, channel = $3::text,
                    acked = 1, state = 1, submitted_at = $4::int8,
                    finished_at = CASE WHEN delivery_report THEN NULL ELSE $4::int8 END,
                    claimed_by = NULL, claimed_on = NULL, claimed_at = NULL
                 WHERE seq = $1 AND $6::int8 = 0 AND segments = 1 AND state = 0
                    AND smsc_id IS NULL AND claimed_by = $5
                 RETURNING accepted_at, delivery_report, 1::int8, 1::int8",
                &[&seq, &smsc_id, &channel, &now, &node, &i64::from(idx)],
            )
            .await?;
        let row = match single {
            Some(row) => Some(row),
            None => {
                // A longer message: the segment's row, if it is new and the message held,
                // then the count, all in one statement.
                self.query_opt(
                    "WITH held AS (
                        SELECT seq FROM messages
                        WHERE seq = $1 AND segments > 1 AND state = 0 AND claimed_by = $5::text
                     ), ins AS (
                        INSERT INTO segments (seq, idx, smsc_id, acked_on)
                        SELECT seq, $6::int8, $2::text, $3::text FROM held
                        ON CONFLICT (seq, idx) DO NOTHING RETURNING seq
                     )
                     UPDATE messages m SET acked = m.acked + 1, channel = $3::text,
                        state = CASE WHEN m.acked + 1 >= m.segments THEN 1 ELSE m.state END,
                        submitted_at = CASE WHEN m.acked + 1 >= m.segments THEN $4::int8
                            ELSE m.submitted_at END,
                        finished_at = CASE WHEN m.acked + 1 >= m.segments
                            AND NOT m.delivery_report THEN $4::int8 ELSE m.finished_at END,
                        claimed_by = CASE WHEN m.acked + 1 >= m.segments THEN NULL
                            ELSE m.claimed_by END,
                        claimed_on = CASE WHEN m.acked + 1 >= m.segments THEN NULL
                            ELSE m.claimed_on END,
                        claimed_at = CASE WHEN m.acked + 1 >= m.segments THEN NULL
                            ELSE m.claimed_at END
                     FROM ins WHERE m.seq = ins.seq
                     RETURNING m.accepted_at, m.delivery_report, m.acked, m.segments",
                    &[&seq, &smsc_id, &channel, &now, &node, &i64::from(idx)],
                )
                .await?
            }
        };
        let Some(row) = row else {
            return Ok(None);
        };
        let accepted: i64 = row.try_get(0)?;
        let delivery_report: bool = row.try_get(1)?;
        let done = row.try_get::<_, i64>(2)? >= row.try_get::<_, i64>(3)?;
        if done {
            self.counts.waiting -= 1;
        }
        if delivery_report {
            self.correlate(channel, seq, idx, smsc_id).await?;
        }
        Ok(Some(Applied::Done(Some(Outcome {
            channel: channel.to_string(),
            state: if done {
                MessageState::Submitted
            } else {
                MessageState::Queued
            },
            since_accepted: Duration::from_millis((now - accepted).max(0) as u64),
        }))))
    }

    /// The SMSC id a segment was acknowledged with, and on which channel.
    async fn segment_ack(&mut self, seq: i64, idx: u8, count: i64) -> Pg<Option<(String, String)>> {
        let idx = i64::from(idx);
        let row = if count == 1 {
            self.query_opt(
                "SELECT smsc_id, acked_on FROM messages WHERE seq = $1 AND $2::int8 = 0",
                &[&seq, &idx],
            )
            .await?
        } else {
            self.query_opt(
                "SELECT smsc_id, acked_on FROM segments WHERE seq = $1 AND idx = $2",
                &[&seq, &idx],
            )
            .await?
        };
        Ok(match row {
            Some(r) => match (r.try_get(0)?, r.try_get(1)?) {
                (Some(id), Some(on)) => Some((id, on)),
                _ => None,
            },
            None => None,
        })
    }

    /// Records an SMSC id under the forms a receipt may quote it in. An SMSC that reuses an
    /// id is handled when matching: the newest submission with that exact id wins.
    async fn correlate(&mut self, channel: &str, seq: i64, idx: u8, smsc_id: &str) -> Pg<()> {
        let key = MessageIdKey::new(smsc_id);
        let forms = stored_forms(&key);
        self.execute(
            "INSERT INTO correlation (channel, form, seq, idx, smsc_id)
             SELECT $1::text, form, $3::int8, $4::int8, $5::text FROM UNNEST($2::text[]) AS form
             ON CONFLICT DO NOTHING",
            &[&channel, &forms, &seq, &i64::from(idx), &key.as_str()],
        )
        .await?;
        Ok(())
    }

    /// Forgets the correlation of one segment (it was acknowledged again).
    async fn uncorrelate(&mut self, channel: &str, seq: i64, idx: i64, smsc_id: &str) -> Pg<()> {
        let forms = stored_forms(&MessageIdKey::new(smsc_id));
        self.execute(
            "DELETE FROM correlation
             WHERE channel = $1 AND form = ANY($2) AND seq = $3 AND idx = $4",
            &[&channel, &forms, &seq, &idx],
        )
        .await?;
        Ok(())
    }

    /// Matches a receipt tier by tier (as [`crate::sms::MessageIdIndex`] does) and records it.
    async fn receipt(
        &mut self,
        channel: &str,
        receipt: &ReceiptReport,
        now: i64,
    ) -> Pg<(ReceiptMatch, bool)> {
        let key = MessageIdKey::new(&receipt.smsc_message_id);
        let mut found: Vec<Found> = Vec::new();
        for tier in MatchRule::TIERS {
            // Every look-up of the tier in one statement.
            let lookups: Vec<_> = key
                .probes(tier, MatchRules::default())
                .iter()
                .flat_map(probe)
                .collect();
            if lookups.is_empty() {
                continue;
            }
            let forms: Vec<&str> = lookups.iter().map(|l| l.form.as_str()).collect();
            // One index look-up per form, whatever the plan cache holds: with `form =
            // ANY($2)` the generic plan, made while the table was small, may search the
            // channel's rows alone and filter every one of them by form (a scan of every
            // correlation of the channel per receipt). OFFSET 0 keeps the subquery apart,
            // so its plan is an index scan on (channel, form) for each form.
            let rows = self
                .query(
                    "SELECT c.seq, c.idx, c.smsc_id, c.form
                     FROM UNNEST($2::text[]) AS f(form), LATERAL (
                        SELECT seq, idx, smsc_id, form FROM correlation
                        WHERE channel = $1 AND form = f.form OFFSET 0
                     ) AS c",
                    &[&channel, &forms],
                )
                .await?;
            let mut this_tier = Vec::new();
            for r in rows {
                let smsc_id: String = r.try_get(2)?;
                let form: String = r.try_get(3)?;
                let wanted = lookups.iter().any(|l| {
                    l.form == form
                        && l.exact.as_ref().is_none_or(|x| *x == smsc_id)
                        && !(l.not_0x && smsc_id.starts_with("0x"))
                });
                if wanted {
                    this_tier.push((r.try_get(0)?, r.try_get(1)?, smsc_id));
                }
            }
            add_found(&mut found, this_tier);
            if !found.is_empty() {
                break;
            }
        }
        let (seq, idx, smsc_id) = match pick(found) {
            Ok(one) => one,
            Err(none_or_several) => return Ok((none_or_several, false)),
        };
        let Some((_, state, _, _, id, count, origin)) = self.message(seq).await? else {
            self.uncorrelate(channel, seq, idx, &smsc_id).await?;
            return Ok((ReceiptMatch::NotFound, false));
        };
        let words = (receipt.state.as_str(), receipt.error_code.as_deref());
        if count > 1 {
            self.execute(
                "UPDATE segments SET receipt = $3, receipt_error = $4
                 WHERE seq = $1 AND idx = $2",
                &[&seq, &idx, &words.0, &words.1],
            )
            .await?;
        }
        // The correlation stays after a final receipt, until the message is purged: an SMSC
        // that missed our answer delivers the receipt again, and that repeat must still name
        // its message.
        let settled = if count == 1 {
            state_from_receipt(&receipt.state, receipt.error_code.as_deref())
        } else {
            state_from_receipts(&segment_records(self.c, seq, count).await?)
        };
        let in_row = (count == 1).then_some(words);
        let mut state = state;
        let mut written = false;
        if let Some((next, reason)) = settled {
            let code = settled_code(next);
            let failure = reason.as_deref().map(|r| (None, r));
            if self
                .enter(seq, state, code, now, failure, Cause::Receipt(in_row))
                .await?
            {
                state = code;
                written = true;
            }
        }
        if let (Some((word, error)), false) = (in_row, written) {
            self.execute(
                "UPDATE messages SET receipt = $2, receipt_error = $3 WHERE seq = $1",
                &[&seq, &word, &error],
            )
            .await?;
        }
        let user = origin.is_some();
        if user && written {
            let delivered = state == DELIVERED;
            let (stat, err) = user_event::upstream_words(receipt);
            self.tell_user(seq, delivered, stat, err, now).await?;
        }
        Ok((
            ReceiptMatch::Matched {
                id: stored_id(id)?,
                segment: idx as usize,
                state: state_of(state),
            },
            user,
        ))
    }

    async fn fail_unconfigured(
        &mut self,
        configured: &[String],
        reason: &str,
        now: SystemTime,
    ) -> Pg<u64> {
        let n = self
            .execute(
                "UPDATE messages SET state = 3, finished_at = $2, failure_reason = $3,
                    claimed_by = NULL, claimed_on = NULL, claimed_at = NULL
                 WHERE state = 0 AND queue <> '' AND queue NOT LIKE '@%' AND NOT (queue = ANY($1))",
                &[&configured, &ms(now), &reason],
            )
            .await?;
        self.counts.waiting -= i64::try_from(n).unwrap_or(i64::MAX);
        Ok(n)
    }

    async fn upkeep(&mut self, now: SystemTime) -> Pg<Upkeep> {
        let at = ms(now);
        let mut upkeep = Upkeep::default();
        // Held messages are left to their channel, which reports them expired itself.
        let expired: Vec<i64> = self
            .query(
                "SELECT seq FROM messages
                 WHERE state = 0 AND expires_at <= $1 AND claimed_by IS NULL
                 ORDER BY expires_at LIMIT $2",
                &[&at, &UPKEEP_BATCH],
            )
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        for seq in expired {
            self.expire(seq, at).await?;
            upkeep.expired += 1;
        }
        // Submitted messages whose receipt never came stop waiting for it.
        let wait = at.saturating_sub(ms_of(self.options.receipt_wait));
        upkeep.purged += self
            .execute(
                "UPDATE messages SET finished_at = $1 WHERE seq IN (
                    SELECT seq FROM messages WHERE state = 1 AND finished_at IS NULL
                    AND submitted_at <= $2 LIMIT $3)",
                &[&at, &wait, &UPKEEP_BATCH],
            )
            .await?;
        let old = at.saturating_sub(ms_of(self.options.finished_retention));
        let finished: Vec<i64> = self
            .query(
                "SELECT seq FROM messages
                 WHERE finished_at IS NOT NULL AND finished_at <= $1
                 ORDER BY finished_at LIMIT $2",
                &[&old, &UPKEEP_BATCH],
            )
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        if !finished.is_empty() {
            // Every correlation row left for a message is its own: one acknowledged again
            // lost its earlier rows when it was.
            self.execute("DELETE FROM correlation WHERE seq = ANY($1)", &[&finished])
                .await?;
            self.execute("DELETE FROM segments WHERE seq = ANY($1)", &[&finished])
                .await?;
            upkeep.purged += self
                .execute("DELETE FROM messages WHERE seq = ANY($1)", &[&finished])
                .await?;
        }
        Ok(upkeep)
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
