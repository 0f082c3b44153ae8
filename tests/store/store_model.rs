//! A model-based property test of the durable store, run against each backend: the
//! [`SqliteStore`] always, the [`PgStore`] when `SMPPD_TEST_POSTGRES_URL` names a server
//! (each case in a throw-away schema; see `tests/support/pg.rs`).
//!
//! **The model** is a plain in-memory account of what the store promises, written from the
//! `Store` trait's contract rather than from its SQL: a list of accepted messages in
//! acceptance order, each with its state (queued, claimed by a channel, submitted,
//! delivered, failed, expired), its pin, its validity, whether it is a re-send, per segment
//! the SMSC id and the latest receipt, and its timestamps; the idempotency keys and what
//! they map to; the receipt correlations (which SMSC id, quoted on which channel, leads to
//! which segment); the segments a channel holds in flight; and a virtual clock
//! (every store call takes `now`, so time is whatever the test says).
//!
//! **The test** runs random sequences of operations against both: accept (batches, pinned
//! or not, one to three segments, with or without receipts, idempotency keys reused with
//! the same or a different fingerprint, a small `max-queued`), claim by channel `a` or `b`,
//! submit_sm_resp (a fresh SMSC id per segment), error response, delivery receipts
//! (delivered, undeliverable, enroute, expired; quoting the id exactly, case-folded with
//! leading zeros, or in decimal; sometimes on the wrong channel), several answers, error
//! responses and receipts as one report of one channel (a receipt often right after its
//! answer, as a fast SMSC sends them), release (sent or not),
//! a channel reporting a claimed message expired, removal of a channel from the
//! configuration, time passing with or without upkeep (validity expiry, receipt-wait,
//! retention purge; by whole seconds or to one of the model's deadlines, give or take a
//! millisecond, to hit every `<` / `<=`), and a restart (the store dropped and the same file
//! reopened).
//!
//! **Where the backends differ**, the model says so: after a restart, SQLite marks as
//! re-sends every queued message up to the newest one taken from its queue since nothing
//! was held (its claims live in memory, with one durable mark per queue), PostgreSQL exactly
//! the messages that were claimed (its claims are durable rows).
//!
//! **What it proves**, after every operation: `get` of every message the model knows
//! returns exactly the model's record (state, channel, segments' SMSC ids and receipts,
//! failure, history, validity), purged and refused messages are gone; every accept result,
//! claim result (exactly the messages the model says the channel may take, oldest first,
//! with the segments still to send and the re-send flag; never a pinned message of the
//! other channel, never one whose validity passed), applied outcome, receipt match, upkeep
//! count and recovery count equals the model's; and the live counts (`waiting`, `outbox`)
//! and the inspection stats agree with the model.
//!
//! **Modelling choices.** SMSC ids are unique (a counter, in hex with a leading letter), so
//! every quoting of one matches one segment only. An SMSC id matches receipts on the channel
//! that reported it until its message's purge, also after its segment's final receipt (an
//! SMSC delivers a receipt again when it missed the answer; receipt-wait only stops the
//! waiting: a receipt after it still counts until the purge). An answer to a
//! segment in flight may come late, after its message failed by another way, but only
//! before the clock moves: time passing drops the answers a channel no longer holds the
//! message for, and a restart drops them all (the sessions are gone). A repeated
//! idempotency key gets the first answer, channel included, even after the other channel
//! claimed the message.
//!
//! Not covered: delivering and retrying webhook events and the outbox bound, inbound parts
//! and events, ambiguous receipts and SMSC ids reused, a segment acknowledged twice,
//! rejected/deleted/accepted receipts, error codes, write failures.

use proptest::prelude::*;
use proptest::sample::Index;
use smppd::daemon::store::postgres::{PgOptions, PgStore};
use smppd::daemon::store::sqlite::{SqliteOptions, SqliteStore};
use smppd::daemon::store::{
    segment_key, Accepted, AcceptedMessage, Applied, Change, ClaimedMessage, Failure, Idempotency,
    MessageId, MessageRecord, MessageState, NewMessage, Outcome, ReceiptMatch, Refused,
    SegmentRecord, Store, Transition, Upkeep,
};
use smppd::daemon::{ReceiptReport, ReceiptState};

use smppd::sms::{Field, SarValues, Segment};
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The channels.
const CHANNELS: [&str; 2] = ["a", "b"];
/// `[store] max-queued`, small enough to be reached.
const MAX_QUEUED: u64 = 8;
/// `[store] receipt-wait`, in milliseconds.
const RECEIPT_WAIT: i64 = 1_200_000;
/// `[http] finished-retention`, in milliseconds.
const RETENTION: i64 = 900_000;
/// The virtual clock's start (ms since the epoch).
const START: i64 = 1_700_000_000_000;
/// The reason `fail_unconfigured` is given.
const UNCONFIGURED: &str = "its channel was removed from the configuration";
/// The reason of an error response.
const REFUSED: &str = "submit_sm_resp: error";

// ---------------------------------------------------------------------------------------
// Operations
// ---------------------------------------------------------------------------------------

/// One message of an accept batch.
#[derive(Debug, Clone)]
struct Spec {
    /// The channel the router chose.
    channel: usize,
    /// Whether the client named it (only it may send the message).
    pinned: bool,
    segments: usize,
    /// Whether a receipt is asked for.
    report: bool,
    /// Idempotency key and fingerprint.
    key: Option<(usize, u8)>,
    validity_secs: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Delivered,
    Undeliverable,
    Enroute,
    Expired,
}

impl Kind {
    fn state(self) -> ReceiptState {
        match self {
            Kind::Delivered => ReceiptState::Delivered,
            Kind::Undeliverable => ReceiptState::Undeliverable,
            Kind::Enroute => ReceiptState::Enroute,
            Kind::Expired => ReceiptState::Expired,
        }
    }
}

/// How a receipt quotes the SMSC id (`A01F` from submit_sm_resp).
#[derive(Debug, Clone, Copy)]
enum Quote {
    /// `A01F`.
    Exact,
    /// `00a01f`.
    Folded,
    /// `41007`.
    Decimal,
}

/// How far the clock moves.
#[derive(Debug, Clone)]
enum Step {
    /// Whole seconds.
    Secs(u64),
    /// To one of the model's coming deadlines (a validity, a receipt-wait, a retention),
    /// give or take a millisecond: the boundaries.
    Deadline(Index, i64),
}

#[derive(Debug, Clone)]
enum Op {
    Accept(Vec<Spec>),
    Claim {
        channel: usize,
        limit: usize,
    },
    /// What a channel reports, as one `apply` call: one part, or several, each seeing the
    /// ones before it (a receipt right after its answer is the usual case on a fast SMSC).
    Report(Vec<Part>),
    /// A channel gives a claimed message back.
    Release {
        pick: Index,
        sent: bool,
    },
    /// A channel reports that a claimed message's validity ran out before it was sent.
    Expire {
        pick: Index,
    },
    /// The clock moves on; upkeep runs or not.
    Advance {
        step: Step,
        upkeep: bool,
    },
    /// The configuration keeps only these channels.
    FailUnconfigured {
        configured: Vec<usize>,
    },
    /// Drop the store and reopen the file.
    Restart,
}

fn spec() -> impl Strategy<Value = Spec> {
    (
        0..2usize,
        any::<bool>(),
        1..=3usize,
        prop::bool::weighted(0.7),
        prop::option::weighted(0.3, (0..3usize, 0..2u8)),
        prop_oneof![
            1 => Just(0u64),
            2 => 1..120u64,
            5 => 600..3000u64,
        ],
    )
        .prop_map(
            |(channel, pinned, segments, report, key, validity_secs)| Spec {
                channel,
                pinned,
                segments,
                report,
                key,
                validity_secs,
            },
        )
}

/// One change of an [`Op::Report`]; in a report of several, a part whose channel is not the
/// report's is left out.
#[derive(Debug, Clone)]
enum Part {
    /// submit_sm_resp for a segment in flight.
    Submit {
        pick: Index,
        /// Every segment of the picked one's message that its channel holds, in one batch.
        whole: bool,
    },
    /// An error response for a segment in flight.
    Fail { pick: Index, status: Option<u32> },
    /// A receipt for a segment that has an SMSC id (`awaited`: one still correlated).
    Receipt {
        pick: Index,
        awaited: bool,
        kind: Kind,
        quote: Quote,
        wrong_channel: bool,
    },
    /// A receipt for the segment answered last in this report (if any), quoted exactly.
    ReceiptForLast { kind: Kind },
}

fn kind() -> impl Strategy<Value = Kind> {
    prop_oneof![
        3 => Just(Kind::Delivered),
        1 => Just(Kind::Undeliverable),
        1 => Just(Kind::Enroute),
        1 => Just(Kind::Expired),
    ]
}

fn quote() -> impl Strategy<Value = Quote> {
    prop_oneof![
        Just(Quote::Exact),
        Just(Quote::Folded),
        Just(Quote::Decimal)
    ]
}

fn submit() -> impl Strategy<Value = Part> {
    (any::<Index>(), any::<bool>()).prop_map(|(pick, whole)| Part::Submit { pick, whole })
}

fn fail() -> impl Strategy<Value = Part> {
    (any::<Index>(), prop::option::of(1u32..0x100))
        .prop_map(|(pick, status)| Part::Fail { pick, status })
}

/// A receipt quoted on the wrong channel with probability `wrong`.
fn receipt(wrong: f64) -> impl Strategy<Value = Part> {
    (
        any::<Index>(),
        prop::bool::weighted(0.8),
        kind(),
        quote(),
        prop::bool::weighted(wrong),
    )
        .prop_map(
            |(pick, awaited, kind, quote, wrong_channel)| Part::Receipt {
                pick,
                awaited,
                kind,
                quote,
                wrong_channel,
            },
        )
}

/// A part of a report of several.
fn part() -> impl Strategy<Value = Part> {
    prop_oneof![
        4 => submit(),
        1 => fail(),
        4 => kind().prop_map(|kind| Part::ReceiptForLast { kind }),
        2 => receipt(0.0),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => prop::collection::vec(spec(), 1..4).prop_map(Op::Accept),
        4 => (0..2usize, 1..5usize).prop_map(|(channel, limit)| Op::Claim { channel, limit }),
        6 => submit().prop_map(|p| Op::Report(vec![p])),
        1 => fail().prop_map(|p| Op::Report(vec![p])),
        4 => receipt(0.1).prop_map(|p| Op::Report(vec![p])),
        3 => prop::collection::vec(part(), 2..8).prop_map(Op::Report),
        2 => (any::<Index>(), any::<bool>()).prop_map(|(pick, sent)| Op::Release { pick, sent }),
        1 => any::<Index>().prop_map(|pick| Op::Expire { pick }),
        5 => (
            prop_oneof![
                1 => Just(Step::Secs(0)),
                3 => (1..60u64).prop_map(Step::Secs),
                2 => (60..400u64).prop_map(Step::Secs),
                1 => (1000..1300u64).prop_map(Step::Secs),
                4 => (any::<Index>(), -1..=1i64).prop_map(|(pick, ms)| Step::Deadline(pick, ms)),
            ],
            prop::bool::weighted(0.7),
        )
            .prop_map(|(step, upkeep)| Op::Advance { step, upkeep }),
        1 => prop_oneof![Just(vec![]), Just(vec![0]), Just(vec![1])]
            .prop_map(|configured| Op::FailUnconfigured { configured }),
        1 => Just(Op::Restart),
    ]
}

// ---------------------------------------------------------------------------------------
// The model
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default)]
struct Seg {
    smsc: Option<String>,
    /// The channel that reported the SMSC id (receipts come on it).
    via: Option<usize>,
    receipt: Option<ReceiptState>,
}

#[derive(Debug, Clone)]
struct Msg {
    id: MessageId,
    to: String,
    body: Vec<Segment>,
    pinned: Option<usize>,
    /// The channel the router chose.
    routed: usize,
    /// The channel the store shows: the router's choice, then the last claimer.
    channel: usize,
    report: bool,
    accepted: i64,
    expires: i64,
    submitted: Option<i64>,
    /// When it stopped waiting for anything (final state, no receipt asked, receipt-wait
    /// passed): the retention runs from here.
    finished: Option<i64>,
    state: MessageState,
    /// The channel holding it, while queued.
    claimed: Option<usize>,
    resend: bool,
    /// The store's key, learnt from the first claim.
    seq: Option<i64>,
    segs: Vec<Seg>,
    failure: Option<Failure>,
    purged: bool,
}

/// Where a quoted SMSC id leads, until its message is purged.
#[derive(Debug, Clone)]
struct Corr {
    msg: usize,
    seg: usize,
}

#[derive(Debug, Default)]
struct Model {
    now: i64,
    msgs: Vec<Msg>,
    /// Ids of refused messages: never stored.
    refused: Vec<MessageId>,
    /// Idempotency key -> message and fingerprint.
    keys: BTreeMap<usize, (usize, u8)>,
    /// (channel, SMSC id as submit_sm_resp gave it) -> segment.
    corr: BTreeMap<(usize, String), Corr>,
    /// (message, segment, channel) handed to a channel and not answered yet.
    in_flight: Vec<(usize, usize, usize)>,
    outbox: u64,
    made: usize,
    next_smsc: u32,
    /// Per queue (the pin, or none), the newest message taken from it since no message was
    /// last held: after a restart, the queued messages up to it may have been sent.
    marks: BTreeMap<Option<usize>, usize>,
}

fn time(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(ms as u64)
}

/// What the segments' receipts settle the message to: any undeliverable fails it, else
/// any expired expires it, else all delivered delivers it.
fn settle(segs: &[Seg]) -> Option<(MessageState, Option<Failure>)> {
    if let Some(s) = segs
        .iter()
        .find(|s| s.receipt == Some(ReceiptState::Undeliverable))
    {
        let word = s.receipt.as_ref().map_or("", |r| r.as_str());
        return Some((
            MessageState::Failed,
            Some(Failure {
                status: None,
                reason: format!("receipt: {word}"),
            }),
        ));
    }
    if segs
        .iter()
        .any(|s| s.receipt == Some(ReceiptState::Expired))
    {
        return Some((MessageState::Expired, None));
    }
    segs.iter()
        .all(|s| s.receipt == Some(ReceiptState::Delivered))
        .then_some((MessageState::Delivered, None))
}

impl Model {
    fn new() -> Model {
        Model {
            now: START,
            next_smsc: 0xA000,
            marks: BTreeMap::new(),
            ..Model::default()
        }
    }

    fn live(&self) -> impl Iterator<Item = (usize, &Msg)> {
        self.msgs.iter().enumerate().filter(|(_, m)| !m.purged)
    }

    fn waiting(&self) -> u64 {
        self.live()
            .filter(|(_, m)| m.state == MessageState::Queued)
            .count() as u64
    }

    /// Messages a channel holds.
    fn claimed(&self) -> Vec<usize> {
        self.live()
            .filter(|(_, m)| m.state == MessageState::Queued && m.claimed.is_some())
            .map(|(k, _)| k)
            .collect()
    }

    /// A fresh SMSC id: hex with a letter first, so that no id is all decimal digits and
    /// every quoting of it (exact, folded, decimal) can only lead to its own segment.
    fn fresh_smsc(&mut self) -> String {
        self.next_smsc += 1;
        format!("{:X}", self.next_smsc)
    }

    /// Moves message `k` to `state`. Final states are final; leaving `queued` ends a
    /// claim; a failure reason, once given, stays.
    fn enter(&mut self, k: usize, state: MessageState, failure: Option<Failure>) -> bool {
        let now = self.now;
        let m = &mut self.msgs[k];
        if m.state == state || m.state.is_final() {
            return false;
        }
        m.state = state;
        m.claimed = None;
        if state == MessageState::Submitted {
            m.submitted = Some(now);
            if !m.report {
                m.finished = Some(now);
            }
        } else {
            m.finished = Some(now);
        }
        if m.failure.is_none() {
            m.failure = failure;
        }
        true
    }

    /// [`Model::enter`] for an expiry, which queues a webhook event when it happens.
    fn expire(&mut self, k: usize) {
        if self.enter(k, MessageState::Expired, None) {
            self.outbox += 1;
        }
    }

    fn outcome(&self, k: usize) -> Option<Outcome> {
        let m = &self.msgs[k];
        (!m.purged).then(|| Outcome {
            channel: CHANNELS[m.channel].to_string(),
            state: m.state,
            since_accepted: Duration::from_millis((self.now - m.accepted) as u64),
        })
    }

    fn record(&self, k: usize) -> MessageRecord {
        let m = &self.msgs[k];
        let mut history = vec![Transition {
            state: MessageState::Queued,
            at: time(m.accepted),
        }];
        if let Some(at) = m.submitted {
            history.push(Transition {
                state: MessageState::Submitted,
                at: time(at),
            });
        }
        if m.state.is_final() {
            history.push(Transition {
                state: m.state,
                at: time(m.finished.expect("a final message has finished")),
            });
        }
        MessageRecord {
            id: m.id.clone(),
            channel: CHANNELS[m.channel].to_string(),
            to: m.to.clone(),
            from: None,
            delivery_report: m.report,
            state: m.state,
            segments: m
                .segs
                .iter()
                .map(|s| SegmentRecord {
                    smsc_message_id: s.smsc.clone(),
                    receipt: s.receipt.clone(),
                    receipt_error: None,
                })
                .collect(),
            failure: m.failure.clone(),
            history,
            origin: None,
            expires_at: time(m.expires),
        }
    }

    /// When something is due to change (validity, receipt-wait, retention), from now on.
    fn deadlines(&self) -> Vec<i64> {
        let mut at = Vec::new();
        for (_, m) in self.live() {
            if m.state == MessageState::Queued {
                at.push(m.expires);
            }
            if let (MessageState::Submitted, Some(sent), None) = (m.state, m.submitted, m.finished)
            {
                at.push(sent + RECEIPT_WAIT);
            }
            if let Some(done) = m.finished {
                at.push(done + RETENTION);
            }
        }
        at.retain(|&t| t >= self.now);
        at.sort_unstable();
        at.dedup();
        at
    }

    /// What upkeep does at `now`: expires unclaimed queued messages whose validity passed,
    /// stops waiting for receipts after receipt-wait, purges finished messages (and the
    /// correlations of their segments) after the retention.
    fn upkeep(&mut self) -> Upkeep {
        let now = self.now;
        let mut upkeep = Upkeep::default();
        let expired: Vec<usize> = self
            .live()
            .filter(|(_, m)| {
                m.state == MessageState::Queued && m.claimed.is_none() && m.expires <= now
            })
            .map(|(k, _)| k)
            .collect();
        for k in expired {
            self.expire(k);
            upkeep.expired += 1;
        }
        for m in self.msgs.iter_mut().filter(|m| !m.purged) {
            if m.state == MessageState::Submitted
                && m.finished.is_none()
                && m.submitted.is_some_and(|at| at <= now - RECEIPT_WAIT)
            {
                m.finished = Some(now);
                upkeep.purged += 1;
            }
        }
        for k in 0..self.msgs.len() {
            let m = &mut self.msgs[k];
            if !m.purged && m.finished.is_some_and(|at| at <= now - RETENTION) {
                m.purged = true;
                upkeep.purged += 1;
                self.corr.retain(|_, c| c.msg != k);
                self.keys.retain(|_, (msg, _)| *msg != k);
                self.in_flight.retain(|f| f.0 != k);
            }
        }
        upkeep
    }
}

// ---------------------------------------------------------------------------------------
// Running both
// ---------------------------------------------------------------------------------------

fn same<T: PartialEq + Debug>(
    got: &T,
    want: &T,
    what: impl FnOnce() -> String,
) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{}:\n  store: {got:?}\n  model: {want:?}", what()))
    }
}

/// Where a case's store lives.
enum Backend {
    /// A file in a temporary directory.
    Sqlite(tempfile::TempDir),
    /// A throw-away schema.
    Postgres(crate::support::pg::TestSchema),
}

impl Backend {
    /// Whether claims are durable rows (PostgreSQL) rather than a mark per queue (SQLite).
    fn durable_claims(&self) -> bool {
        matches!(self, Backend::Postgres(_))
    }

    async fn open(&self) -> Result<(Box<dyn Store>, u64), String> {
        let max_queued = MAX_QUEUED;
        let receipt_wait = Duration::from_millis(RECEIPT_WAIT as u64);
        let retention = Duration::from_millis(RETENTION as u64);
        match self {
            Backend::Sqlite(dir) => {
                let mut o = SqliteOptions::new(dir.path().join("smppd.db"));
                o.max_queued = max_queued;
                o.receipt_wait = receipt_wait;
                o.finished_retention = retention;
                o.events = true;
                let (store, recovery) = SqliteStore::open(o).map_err(|e| e.to_string())?;
                Ok((Box::new(store), recovery.requeued))
            }
            Backend::Postgres(schema) => {
                let mut o = PgOptions::new(schema.url(), "model");
                o.pool_size = 2;
                o.max_queued = max_queued;
                o.receipt_wait = receipt_wait;
                o.finished_retention = retention;
                o.events = true;
                let (store, recovery) = PgStore::open(o).await.map_err(|e| e.to_string())?;
                Ok((Box::new(store), recovery.requeued))
            }
        }
    }
}

fn message(model: &mut Model, spec: &Spec) -> NewMessage {
    model.made += 1;
    let n = model.made;
    let total = spec.segments as u8;
    let segments = (0..spec.segments)
        .map(|i| Segment {
            bytes: format!("message {n} part {i}").into_bytes(),
            field: if n.is_multiple_of(3) {
                Field::MessagePayload
            } else {
                Field::ShortMessage
            },
            esm_class: 0,
            data_coding: 0,
            sar: (total > 1).then_some(SarValues {
                msg_ref_num: n as u16,
                total_segments: total,
                segment_seqnum: i as u8 + 1,
            }),
        })
        .collect();
    NewMessage {
        id: MessageId::generate(),
        channel: CHANNELS[spec.channel].to_string(),
        pinned: spec.pinned,
        to: format!("4477009{n:05}"),
        from: None,
        delivery_report: spec.report,
        expires_at: time(model.now + spec.validity_secs as i64 * 1000),
        send_validity: false,
        encoding: "gsm7",
        data_coding: 0,
        segments,
        idempotency: spec.key.map(|(key, fingerprint)| Idempotency {
            key: format!("key-{key}"),
            fingerprint: format!("request-{fingerprint}"),
        }),
        origin: None,
    }
}

/// The answer to the request that accepted `m` (a repeat of it gets the same).
fn answer(m: &Msg) -> AcceptedMessage {
    AcceptedMessage {
        id: m.id.clone(),
        segments: m.segs.len(),
        channel: CHANNELS[m.routed].to_string(),
        encoding: "gsm7".into(),
        data_coding: 0,
    }
}

async fn accept(store: &dyn Store, model: &mut Model, specs: &[Spec]) -> Result<(), String> {
    let mut batch = Vec::new();
    let mut want = Vec::new();
    for spec in specs {
        let new = message(model, spec);
        batch.push(new.clone());
        if let Some((key, fingerprint)) = spec.key {
            if let Some(&(first, first_fingerprint)) = model.keys.get(&key) {
                model.refused.push(new.id.clone());
                // The first answer, even if another channel has claimed the message since.
                want.push(if first_fingerprint == fingerprint {
                    Ok(Accepted::Repeat(answer(&model.msgs[first])))
                } else {
                    Err(Refused::KeyReused {
                        key: format!("key-{key}"),
                    })
                });
                continue;
            }
        }
        if model.waiting() >= MAX_QUEUED {
            model.refused.push(new.id.clone());
            want.push(Err(Refused::QueueFull { max: MAX_QUEUED }));
            continue;
        }
        let k = model.msgs.len();
        if let Some((key, fingerprint)) = spec.key {
            model.keys.insert(key, (k, fingerprint));
        }
        model.msgs.push(Msg {
            id: new.id.clone(),
            to: new.to.clone(),
            body: new.segments.clone(),
            pinned: spec.pinned.then_some(spec.channel),
            routed: spec.channel,
            channel: spec.channel,
            report: spec.report,
            accepted: model.now,
            expires: model.now + spec.validity_secs as i64 * 1000,
            submitted: None,
            finished: None,
            state: MessageState::Queued,
            claimed: None,
            resend: false,
            seq: None,
            segs: vec![Seg::default(); spec.segments],
            failure: None,
            purged: false,
        });
        want.push(Ok(Accepted::New(answer(&model.msgs[k]))));
    }
    let got = store
        .accept(batch, time(model.now))
        .await
        .map_err(|e| e.to_string())?;
    same(&got, &want, || "accept results".into())
}

async fn claim(
    store: &dyn Store,
    model: &mut Model,
    channel: usize,
    limit: usize,
) -> Result<(), String> {
    let now = model.now;
    let eligible: Vec<usize> = model
        .live()
        .filter(|(_, m)| {
            m.state == MessageState::Queued
                && m.claimed.is_none()
                && m.expires > now
                && m.pinned.is_none_or(|p| p == channel)
        })
        .map(|(k, _)| k)
        .take(limit)
        .collect();
    let got = store
        .claim(CHANNELS[channel], limit, time(now))
        .await
        .map_err(|e| e.to_string())?;
    for c in &got {
        if c.expires_at <= time(now) {
            return Err(format!("claimed {} whose validity has passed", c.id));
        }
    }
    let got_ids: Vec<&MessageId> = got.iter().map(|c| &c.id).collect();
    let want_ids: Vec<&MessageId> = eligible.iter().map(|&k| &model.msgs[k].id).collect();
    same(&got_ids, &want_ids, || {
        format!("claim by {} (oldest first)", CHANNELS[channel])
    })?;
    for (c, &k) in got.iter().zip(&eligible) {
        let m = &model.msgs[k];
        if let Some(seq) = m.seq {
            same(&c.seq, &seq, || format!("seq of message {k}"))?;
        } else if let Some((other, _)) = model.live().find(|(_, o)| o.seq == Some(c.seq)) {
            return Err(format!(
                "message {k} got seq {}, already message {other}'s",
                c.seq
            ));
        }
        let want = ClaimedMessage {
            seq: c.seq,
            id: m.id.clone(),
            to: m.to.clone(),
            from: None,
            delivery_report: m.report,
            expires_at: time(m.expires),
            send_validity: false,
            segments: m
                .segs
                .iter()
                .enumerate()
                .filter(|(_, s)| s.smsc.is_none())
                .map(|(i, _)| (i as u8, m.body[i].clone()))
                .collect(),
            resend: m.resend,
        };
        same(c, &want, || format!("claimed message {k}"))?;
        let unsent: Vec<usize> = want.segments.iter().map(|(i, _)| *i as usize).collect();
        let m = &mut model.msgs[k];
        m.seq = Some(c.seq);
        m.claimed = Some(channel);
        let mark = model.marks.entry(m.pinned).or_insert(k);
        *mark = (*mark).max(k);
        for i in unsent {
            model.in_flight.push((k, i, channel));
        }
    }
    Ok(())
}

/// Changes of one report, planned on the model, with what applying each must answer.
struct Planned {
    channel: usize,
    changes: Vec<Change>,
    want: Vec<Applied>,
    what: String,
}

impl Planned {
    /// Applies the report and compares every answer with the model's.
    async fn run(self, store: &dyn Store, model: &Model) -> Result<(), String> {
        let got = store
            .apply(CHANNELS[self.channel], self.changes, time(model.now))
            .await
            .map_err(|e| e.to_string())?;
        same(&got, &self.want, || self.what)
    }
}

/// submit_sm_resp for the picked segment in flight (or every segment of its message its
/// channel holds), if its channel is `on` (any when `None`). The model moves as the store
/// must; the segments answered come back with the plan.
fn plan_submit(
    model: &mut Model,
    pick: Index,
    whole: bool,
    on: Option<usize>,
) -> Option<(Planned, Vec<(usize, usize)>)> {
    if model.in_flight.is_empty() {
        return None;
    }
    let (k, _, channel) = model.in_flight[pick.index(model.in_flight.len())];
    if on.is_some_and(|c| c != channel) {
        return None;
    }
    // One segment, or every segment of its message this channel holds, in one batch.
    let answered: Vec<(usize, usize, usize)> = if whole {
        model
            .in_flight
            .iter()
            .copied()
            .filter(|f| (f.0, f.2) == (k, channel))
            .collect()
    } else {
        vec![model.in_flight[pick.index(model.in_flight.len())]]
    };
    model.in_flight.retain(|f| !answered.contains(f));
    let seq = model.msgs[k].seq.expect("in flight, so claimed");
    let mut changes = Vec::new();
    let mut want = Vec::new();
    for &(_, i, _) in &answered {
        let smsc = model.fresh_smsc();
        changes.push(Change::Submitted {
            key: segment_key(seq, i as u8),
            smsc_message_id: smsc.clone(),
        });
        if !model.msgs[k].purged {
            let m = &mut model.msgs[k];
            // An answer from the channel holding a message makes it that channel's.
            if m.state == MessageState::Queued && m.claimed == Some(channel) {
                m.channel = channel;
            }
            m.segs[i].smsc = Some(smsc.clone());
            m.segs[i].via = Some(channel);
            if m.report {
                model.corr.insert((channel, smsc), Corr { msg: k, seg: i });
            }
            let m = &model.msgs[k];
            if m.state == MessageState::Queued && m.segs.iter().all(|s| s.smsc.is_some()) {
                model.enter(k, MessageState::Submitted, None);
            }
        }
        want.push(Applied::Done(model.outcome(k)));
    }
    let segments: Vec<usize> = answered.iter().map(|f| f.1).collect();
    let plan = Planned {
        channel,
        changes,
        want,
        what: format!("submit_sm_resp for message {k} segments {segments:?}"),
    };
    Some((plan, answered.iter().map(|f| (f.0, f.1)).collect()))
}

/// An error response for the picked segment in flight, if its channel is `on`.
fn plan_fail(
    model: &mut Model,
    pick: Index,
    status: Option<u32>,
    on: Option<usize>,
) -> Option<Planned> {
    if model.in_flight.is_empty() {
        return None;
    }
    let at = pick.index(model.in_flight.len());
    if on.is_some_and(|c| c != model.in_flight[at].2) {
        return None;
    }
    let (k, i, channel) = model.in_flight.remove(at);
    let seq = model.msgs[k].seq.expect("in flight, so claimed");
    if !model.msgs[k].purged {
        let m = &mut model.msgs[k];
        if m.state == MessageState::Queued && m.claimed == Some(channel) {
            m.channel = channel;
        }
        let failure = Failure {
            status,
            reason: REFUSED.into(),
        };
        model.enter(k, MessageState::Failed, Some(failure));
    }
    Some(Planned {
        channel,
        changes: vec![Change::Failed {
            key: segment_key(seq, i as u8),
            status,
            reason: REFUSED.into(),
        }],
        want: vec![Applied::Done(model.outcome(k))],
        what: format!("error response for message {k} segment {i}"),
    })
}

/// A receipt for segment `i` of message `k` (one that has an SMSC id), quoted as `quote`
/// on the channel that reported the id (the other one when `wrong_channel`), if that
/// channel is `on`.
fn plan_receipt(
    model: &mut Model,
    (k, i): (usize, usize),
    kind: Kind,
    quote: Quote,
    wrong_channel: bool,
    on: Option<usize>,
) -> Option<Planned> {
    let seg = &model.msgs[k].segs[i];
    let smsc = seg.smsc.clone().expect("sent");
    let channel = seg.via.expect("sent") ^ usize::from(wrong_channel);
    if on.is_some_and(|c| c != channel) {
        return None;
    }
    let value = u32::from_str_radix(&smsc, 16).expect("hex");
    let quoted = match quote {
        Quote::Exact => smsc.clone(),
        Quote::Folded => format!("00{value:x}"),
        Quote::Decimal => value.to_string(),
    };
    // The event is queued whether or not the receipt matched.
    model.outbox += 1;
    let want = match model.corr.get(&(channel, smsc.clone())) {
        None => ReceiptMatch::NotFound,
        Some(c) => {
            assert_eq!((c.msg, c.seg), (k, i), "the model's correlation");
            model.msgs[k].segs[i].receipt = Some(kind.state());
            if let Some((state, failure)) = settle(&model.msgs[k].segs) {
                model.enter(k, state, failure);
            }
            ReceiptMatch::Matched {
                id: model.msgs[k].id.clone(),
                segment: i,
                state: model.msgs[k].state,
            }
        }
    };
    Some(Planned {
        channel,
        changes: vec![Change::Receipt {
            receipt: ReceiptReport {
                smsc_message_id: quoted,
                state: kind.state(),
                error_code: None,
            },
            event: Some(serde_json::Map::new()),
        }],
        want: vec![Applied::Receipt(want)],
        what: format!(
            "receipt {kind:?} for message {k} segment {i} on {}",
            CHANNELS[channel]
        ),
    })
}

/// The segments a receipt may be for (`awaited`: those still correlated; else any with an
/// SMSC id), and the picked one.
fn receipt_target(model: &Model, pick: Index, awaited: bool) -> Option<(usize, usize)> {
    let sent: Vec<(usize, usize)> = if awaited {
        model.corr.values().map(|c| (c.msg, c.seg)).collect()
    } else {
        model
            .msgs
            .iter()
            .enumerate()
            .flat_map(|(k, m)| {
                m.segs
                    .iter()
                    .enumerate()
                    .filter(|(_, s)| s.smsc.is_some())
                    .map(move |(i, _)| (k, i))
            })
            .collect()
    };
    (!sent.is_empty()).then(|| sent[pick.index(sent.len())])
}

/// One report of one or more changes: the first part that applies chooses the channel,
/// the others join only if they are for it.
async fn report(store: &dyn Store, model: &mut Model, parts: &[Part]) -> Result<(), String> {
    let mut on: Option<usize> = None;
    let mut last: Option<(usize, usize)> = None;
    let mut all: Option<Planned> = None;
    for part in parts {
        let planned = match part {
            Part::Submit { pick, whole } => {
                plan_submit(model, *pick, *whole, on).map(|(plan, answered)| {
                    last = answered.last().copied();
                    plan
                })
            }
            Part::Fail { pick, status } => plan_fail(model, *pick, *status, on),
            Part::ReceiptForLast { kind } => last
                .and_then(|segment| plan_receipt(model, segment, *kind, Quote::Exact, false, on)),
            Part::Receipt {
                pick,
                awaited,
                kind,
                quote,
                wrong_channel,
            } => receipt_target(model, *pick, *awaited).and_then(|segment| {
                plan_receipt(model, segment, *kind, *quote, *wrong_channel, on)
            }),
        };
        let Some(planned) = planned else {
            continue;
        };
        on = Some(planned.channel);
        match &mut all {
            None => all = Some(planned),
            Some(all) => {
                all.changes.extend(planned.changes);
                all.want.extend(planned.want);
                all.what = format!("{}; {}", all.what, planned.what);
            }
        }
    }
    match all {
        Some(all) => all.run(store, model).await,
        None => Ok(()),
    }
}

async fn release(
    store: &dyn Store,
    model: &mut Model,
    pick: Index,
    sent: bool,
) -> Result<(), String> {
    let claimed = model.claimed();
    if claimed.is_empty() {
        return Ok(());
    }
    let k = claimed[pick.index(claimed.len())];
    let seq = model.msgs[k].seq.expect("claimed");
    store
        .release(vec![(seq, sent)])
        .await
        .map_err(|e| e.to_string())?;
    let m = &mut model.msgs[k];
    m.claimed = None;
    m.resend |= sent;
    model.in_flight.retain(|f| f.0 != k);
    Ok(())
}

async fn expire(store: &dyn Store, model: &mut Model, pick: Index) -> Result<(), String> {
    let claimed = model.claimed();
    if claimed.is_empty() {
        return Ok(());
    }
    let k = claimed[pick.index(claimed.len())];
    let (seq, channel) = (model.msgs[k].seq.expect("claimed"), model.msgs[k].claimed);
    let got = store
        .apply(
            CHANNELS[channel.expect("claimed")],
            vec![Change::Expired { seq }],
            time(model.now),
        )
        .await
        .map_err(|e| e.to_string())?;
    if let Some(c) = channel {
        model.msgs[k].channel = c;
    }
    model.expire(k);
    model.in_flight.retain(|f| f.0 != k);
    same(&got, &vec![Applied::Done(model.outcome(k))], || {
        format!("expiry of claimed message {k}")
    })
}

async fn advance(
    store: &dyn Store,
    model: &mut Model,
    step: &Step,
    upkeep: bool,
) -> Result<(), String> {
    match *step {
        Step::Secs(secs) => model.now += secs as i64 * 1000,
        Step::Deadline(pick, ms) => {
            let deadlines = model.deadlines();
            if !deadlines.is_empty() {
                let at = deadlines[pick.index(deadlines.len())] + ms;
                model.now = model.now.max(at);
            }
        }
    }
    // Late answers come at once or not at all: a segment stays in flight only while its
    // channel still holds the message.
    let msgs = &model.msgs;
    model.in_flight.retain(|&(k, _, channel)| {
        !msgs[k].purged && msgs[k].state == MessageState::Queued && msgs[k].claimed == Some(channel)
    });
    if upkeep {
        let got = store
            .upkeep(time(model.now))
            .await
            .map_err(|e| e.to_string())?;
        same(&got, &model.upkeep(), || "upkeep".into())?;
    }
    Ok(())
}

async fn fail_unconfigured(
    store: &dyn Store,
    model: &mut Model,
    configured: &[usize],
) -> Result<(), String> {
    let names = configured
        .iter()
        .map(|&c| CHANNELS[c].to_string())
        .collect();
    let got = store
        .fail_unconfigured(names, UNCONFIGURED, time(model.now))
        .await
        .map_err(|e| e.to_string())?;
    let doomed: Vec<usize> = model
        .live()
        .filter(|(_, m)| {
            m.state == MessageState::Queued && m.pinned.is_some_and(|p| !configured.contains(&p))
        })
        .map(|(k, _)| k)
        .collect();
    for &k in &doomed {
        let failure = Failure {
            status: None,
            reason: UNCONFIGURED.into(),
        };
        model.enter(k, MessageState::Failed, Some(failure));
    }
    same(&got, &(doomed.len() as u64), || "fail_unconfigured".into())
}

/// Everything the store shows agrees with the model.
async fn check(store: &dyn Store, model: &Model) -> Result<(), String> {
    for (k, m) in model.msgs.iter().enumerate() {
        let got = store.get(&m.id).await.map_err(|e| e.to_string())?;
        let want = (!m.purged).then(|| model.record(k));
        same(&got, &want, || format!("get(message {k})"))?;
    }
    for id in &model.refused {
        let got = store.get(id).await.map_err(|e| e.to_string())?;
        same(&got, &None, || format!("get(refused {id})"))?;
    }
    let counts = store.counts();
    same(&counts.waiting, &model.waiting(), || {
        "counts().waiting".into()
    })?;
    same(&counts.outbox, &model.outbox, || "counts().outbox".into())?;
    let stats = store.stats().await.map_err(|e| e.to_string())?;
    let by_state: Vec<(MessageState, u64)> = MessageState::ALL
        .iter()
        .map(|s| {
            let n = model.live().filter(|(_, m)| m.state == *s).count();
            (*s, n as u64)
        })
        .collect();
    same(&stats.by_state, &by_state, || "stats().by_state".into())?;
    let mut queues: BTreeMap<&str, u64> = BTreeMap::new();
    for (_, m) in model
        .live()
        .filter(|(_, m)| m.state == MessageState::Queued)
    {
        *queues
            .entry(m.pinned.map_or("", |p| CHANNELS[p]))
            .or_default() += 1;
    }
    let queues: Vec<(String, u64)> = queues
        .into_iter()
        .map(|(q, n)| (if q.is_empty() { "*" } else { q }.to_string(), n))
        .collect();
    same(&stats.queued_by_channel, &queues, || {
        "stats().queued_by_channel".into()
    })?;
    let oldest = model
        .live()
        .find(|(_, m)| m.state == MessageState::Queued)
        .map(|(_, m)| time(m.accepted));
    same(&stats.oldest_queued, &oldest, || {
        "stats().oldest_queued".into()
    })?;
    let correlated = model.corr.len() as u64;
    same(&stats.correlations, &correlated, || {
        "stats().correlations".into()
    })?;
    same(&stats.outbox, &model.outbox, || "stats().outbox".into())
}

async fn run(backend: &Backend, ops: &[Op]) -> Result<(), String> {
    let (mut store, _) = backend.open().await?;
    let mut model = Model::new();
    for (step, op) in ops.iter().enumerate() {
        let done = match op {
            Op::Accept(specs) => accept(store.as_ref(), &mut model, specs).await,
            Op::Claim { channel, limit } => {
                claim(store.as_ref(), &mut model, *channel, *limit).await
            }
            Op::Report(parts) => report(store.as_ref(), &mut model, parts).await,
            Op::Release { pick, sent } => release(store.as_ref(), &mut model, *pick, *sent).await,
            Op::Expire { pick } => expire(store.as_ref(), &mut model, *pick).await,
            Op::Advance { step, upkeep } => {
                advance(store.as_ref(), &mut model, step, *upkeep).await
            }
            Op::FailUnconfigured { configured } => {
                fail_unconfigured(store.as_ref(), &mut model, configured).await
            }
            Op::Restart => {
                drop(store);
                let (reopened, requeued) = backend.open().await?;
                store = reopened;
                // Queued messages that may have reached the SMSC come back marked as
                // re-sends: with durable claims, those claimed; else those up to each
                // queue's mark.
                let marks = std::mem::take(&mut model.marks);
                let durable = backend.durable_claims();
                let mut marked = 0;
                for (k, m) in model.msgs.iter_mut().enumerate() {
                    let held = m.claimed.take().is_some();
                    let live = !m.purged && m.state == MessageState::Queued;
                    let may_be_sent = if durable {
                        held
                    } else {
                        marks.get(&m.pinned).is_some_and(|&upto| k <= upto)
                    };
                    if live && may_be_sent {
                        m.resend = true;
                        marked += 1;
                    }
                }
                model.in_flight.clear();
                same(&requeued, &marked, || "recovery.requeued".into())
            }
        };
        if model.claimed().is_empty() {
            model.marks.clear();
        }
        let checked = match done {
            Ok(()) => check(store.as_ref(), &model).await,
            Err(e) => Err(e),
        };
        checked.map_err(|e| format!("at step {step} ({op:?}): {e}"))?;
    }
    Ok(())
}

/// 64 cases by default (every store write is an fsync: about 3-6 s on a 2-core machine);
/// `PROPTEST_CASES=1000` for a deeper run.
fn config() -> ProptestConfig {
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(64);
    ProptestConfig::with_cases(cases)
}

fn run_case(backend: impl FnOnce() -> Option<Backend>, ops: &[Op]) -> Result<(), TestCaseError> {
    let Some(backend) = backend() else {
        return Ok(());
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    if let Err(e) = runtime.block_on(run(&backend, ops)) {
        return Err(TestCaseError::fail(e));
    }
    Ok(())
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn the_store_behaves_like_its_model(ops in prop::collection::vec(op(), 1..64)) {
        run_case(|| Some(Backend::Sqlite(tempfile::tempdir().unwrap())), &ops)?;
    }

    #[test]
    fn the_postgres_store_behaves_like_its_model(ops in prop::collection::vec(op(), 1..64)) {
        run_case(
            || crate::support::pg::TestSchema::create("the_postgres_store_behaves_like_its_model")
                .map(Backend::Postgres),
            &ops,
        )?;
    }
}
