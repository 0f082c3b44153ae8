//! A channel's reports of submit_sm_resps and delivery receipts, as a few set-based
//! statements per call.
//!
//! A sink's call carries hundreds of changes, most of them first acknowledgements of
//! one-segment messages and their receipts, interleaved. Applied one by one they cost about
//! five statements per message; here a run of them costs a fixed number of statements:
//! one `UPDATE ... FROM UNNEST` for the first acknowledgements, one `INSERT` of their
//! correlations, one look-up of every receipt's first tier, one `UPDATE` of the messages the
//! receipts settle and one `INSERT` of their webhook events.
//!
//! The result is the one the changes would have applied one by one, in order:
//!
//! * a run holds Submitted and Receipt changes alone, each message acknowledged at most once
//!   in it, and no receipt in it could match an SMSC id acknowledged later in the run; so
//!   the first acknowledgements, taken first, change nothing an earlier change of the run
//!   sees;
//! * an acknowledgement that is not such a first one, and a receipt the batch cannot settle
//!   from its look-up (no match in its first tier, a message of several segments, a message
//!   gone, a second receipt for one message), is applied on its own in its place, after
//!   what precedes it was written;
//! * the receipts settled together each touch another message, so their order among
//!   themselves matters only for their events, which are inserted in order.

use super::error::{Pg, PgError};
use super::write::{settled_code, state_of, stored_id, Tx, QUEUED};
use crate::daemon::engine::ReceiptReport;
use crate::daemon::store::event_body::{EventBody, Field};
use crate::daemon::store::forms::{add_found, pick, probe, stored_forms, Found, Lookup};
use crate::daemon::store::record::{
    split_key, Applied, Change, MessageState, Outcome, ReceiptMatch,
};
use crate::daemon::store::state::state_from_receipt;
use crate::sms::{MatchRule, MatchRules, MessageIdKey};
use serde_json::{Map, Value};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// Where the run of reports that starts at `start` ends (exclusive): at the first change
/// that is neither Submitted nor Receipt, at a second acknowledgement of one message, or at
/// an acknowledgement whose SMSC id an earlier receipt of the run could match. At least one
/// change past `start` when `changes[start]` is a report.
pub(super) fn run_end(changes: &[Change], start: usize) -> usize {
    let mut seqs = HashSet::new();
    let mut probed: HashSet<String> = HashSet::new();
    for (n, change) in changes.iter().enumerate().skip(start) {
        match change {
            Change::Submitted {
                key,
                smsc_message_id,
            } => {
                let (seq, _) = split_key(*key);
                let unseen = probed.is_empty()
                    || !stored_forms(&MessageIdKey::new(smsc_message_id))
                        .iter()
                        .any(|f| probed.contains(f));
                if !seqs.insert(seq) || !unseen {
                    return n;
                }
            }
            Change::Receipt { receipt, .. } => {
                probed.extend(probed_forms(&receipt.smsc_message_id));
            }
            _ => return n,
        }
    }
    changes.len()
}

/// Every correlation form a receipt for `smsc_id` may look up, over all tiers.
fn probed_forms(smsc_id: &str) -> Vec<String> {
    let key = MessageIdKey::new(smsc_id);
    MatchRule::TIERS
        .iter()
        .flat_map(|tier| key.probes(*tier, MatchRules::default()))
        .flat_map(|p| probe(&p))
        .map(|l| l.form)
        .collect()
}

/// The look-ups of a receipt's first tier that has any: the tier the one-by-one match
/// tries first, and the only one it tries when that tier finds something.
fn first_tier(smsc_id: &str) -> Vec<Lookup> {
    let key = MessageIdKey::new(smsc_id);
    MatchRule::TIERS
        .iter()
        .map(|tier| {
            key.probes(*tier, MatchRules::default())
                .iter()
                .flat_map(probe)
                .collect::<Vec<_>>()
        })
        .find(|lookups| !lookups.is_empty())
        .unwrap_or_default()
}

/// A correlation row a receipt's look-up found, with its message's row (when it has one).
struct Candidate {
    found: Found,
    form: String,
    message: Option<Message>,
}

/// What a receipt needs of its message: state code, id and number of segments.
#[derive(Clone)]
struct Message {
    state: i64,
    id: String,
    segments: i64,
    /// Submitted by an SMPP user (whose receipt the one-by-one match queues).
    from_user: bool,
}

/// How a receipt of the batch turned out.
enum Settled {
    /// Matched (or not) from the look-up; `Some` holds the message's row update.
    Fast(ReceiptMatch, Option<ReceiptWrite>),
    /// Left to the one-by-one match, in its place.
    Alone,
    /// Its message was settled by an earlier receipt of the batch: the batch ends before it.
    Again,
}

/// One message's row update by its receipt.
struct ReceiptWrite {
    seq: i64,
    moved: bool,
    state: i64,
    reason: Option<String>,
    word: String,
    error: Option<String>,
}

/// The writes of the receipts settled together, in the order of their changes.
#[derive(Default)]
struct ReceiptWrites {
    rows: Vec<ReceiptWrite>,
    events: Vec<Vec<u8>>,
}

impl Tx<'_> {
    /// Applies a run of reports (see [`run_end`]): what each applied, in order.
    pub(super) async fn reports(
        &mut self,
        channel: &str,
        run: &[Change],
        now: i64,
    ) -> Pg<Vec<Applied>> {
        let mut done = self.first_acks(channel, run, now).await?;
        let mut receipts = Vec::new();
        for (n, change) in run.iter().enumerate() {
            if done.get(n).is_some_and(Option::is_some) {
                continue;
            }
            if let Change::Receipt { .. } = change {
                receipts.push(n);
                continue;
            }
            // Whatever the receipts before it wrote, this change sees.
            self.receipts(channel, run, &receipts, now, &mut done)
                .await?;
            receipts.clear();
            let applied = self.change(channel, change, now).await?;
            if let Some(slot) = done.get_mut(n) {
                *slot = Some(applied);
            }
        }
        self.receipts(channel, run, &receipts, now, &mut done)
            .await?;
        Ok(done
            .into_iter()
            .map(|d| d.unwrap_or(Applied::Done(None)))
            .collect())
    }

    /// The first acknowledgements of one-segment messages this node holds, all in one
    /// statement (and their correlations in one more): what each applied, by position;
    /// `None` where the change is left to its own path. `run` acknowledges each message at
    /// most once (else nothing is taken here).
    ///
    /// Each row is found by its key alone (a subquery kept apart by `OFFSET 0`, the other
    /// conditions checked outside it) and updated by its `ctid`: joined directly, or with
    /// `claimed_by` inside the subquery, a plan made before the table has statistics scans
    /// every message this node holds (or the whole table) for each element. A row another
    /// transaction changed in between is passed over, and so left to the change's own path.
    async fn first_acks(
        &mut self,
        channel: &str,
        run: &[Change],
        now: i64,
    ) -> Pg<Vec<Option<Applied>>> {
        let mut early: Vec<Option<Applied>> = vec![None; run.len()];
        let mut seqs = Vec::new();
        let mut ids = Vec::new();
        let mut at = HashMap::new();
        for (n, change) in run.iter().enumerate() {
            let Change::Submitted {
                key,
                smsc_message_id,
            } = change
            else {
                continue;
            };
            let (seq, idx) = split_key(*key);
            if at.insert(seq, n).is_some() {
                return Ok(early);
            }
            if idx == 0 {
                seqs.push(seq);
                ids.push(smsc_message_id.as_str());
            }
        }
        if seqs.is_empty() {
            return Ok(early);
        }
        let node = self.options.node_name.as_str();
        let rows = self
            .query(
                "UPDATE messages m SET smsc_id = x.smsc, acked_on = $2::text, channel = $2::text,
                    acked = 1, state = 1, submitted_at = $3::int8,
                    finished_at = CASE WHEN m.delivery_report THEN NULL ELSE $3::int8 END,
                    claimed_by = NULL, claimed_on = NULL, claimed_at = NULL
                 FROM (
                    SELECT u.smsc, t.ctid AS tid
                    FROM UNNEST($1::int8[], $4::text[]) AS u(seq, smsc), LATERAL (
                        SELECT ctid, segments, state, smsc_id, claimed_by FROM messages
                        WHERE seq = u.seq OFFSET 0
                    ) AS t
                    WHERE t.segments = 1 AND t.state = 0 AND t.smsc_id IS NULL
                        AND t.claimed_by = $5::text
                 ) AS x
                 WHERE m.ctid = x.tid
                 RETURNING m.seq, m.accepted_at, m.delivery_report, x.smsc",
                &[&seqs, &channel, &now, &ids, &node],
            )
            .await?;
        let (mut c_seq, mut c_form, mut c_id) = (Vec::new(), Vec::new(), Vec::new());
        for r in rows {
            let seq: i64 = r.try_get(0)?;
            let accepted: i64 = r.try_get(1)?;
            if r.try_get::<_, bool>(2)? {
                let key = MessageIdKey::new(r.try_get::<_, &str>(3)?);
                for form in stored_forms(&key) {
                    c_seq.push(seq);
                    c_form.push(form);
                    c_id.push(key.as_str().to_string());
                }
            }
            self.counts.waiting -= 1;
            if let Some(slot) = at.get(&seq).and_then(|&n| early.get_mut(n)) {
                *slot = Some(Applied::Done(Some(Outcome {
                    channel: channel.to_string(),
                    state: MessageState::Submitted,
                    since_accepted: Duration::from_millis((now - accepted).max(0) as u64),
                })));
            }
        }
        if !c_seq.is_empty() {
            self.execute(
                "INSERT INTO correlation (channel, form, seq, idx, smsc_id)
                 SELECT $1::text, form, seq, 0, smsc_id
                 FROM UNNEST($2::int8[], $3::text[], $4::text[]) AS u(seq, form, smsc_id)
                 ON CONFLICT DO NOTHING",
                &[&channel, &c_seq, &c_form, &c_id],
            )
            .await?;
        }
        Ok(early)
    }

    /// Applies the receipts at `positions` of `run`, in order, into `done`: as many
    /// together as their look-ups allow, the rest one by one in their places.
    async fn receipts(
        &mut self,
        channel: &str,
        run: &[Change],
        positions: &[usize],
        now: i64,
        done: &mut [Option<Applied>],
    ) -> Pg<()> {
        let mut rest = positions;
        while !rest.is_empty() {
            let taken = self.receipt_batch(channel, run, rest, now, done).await?;
            if taken == 0 {
                // Every position is a receipt, so a batch takes at least one.
                break;
            }
            rest = rest.get(taken..).unwrap_or_default();
        }
        Ok(())
    }

    /// Settles a prefix of the receipts at `positions` from one look-up and writes it;
    /// returns how many it took. It stops after a receipt applied on its own (whose writes
    /// the look-up of the next ones must see), or before a second receipt for a message.
    async fn receipt_batch(
        &mut self,
        channel: &str,
        run: &[Change],
        positions: &[usize],
        now: i64,
        done: &mut [Option<Applied>],
    ) -> Pg<usize> {
        let reports: Vec<(&ReceiptReport, &Option<Map<String, Value>>)> = positions
            .iter()
            .filter_map(|&n| match run.get(n) {
                Some(Change::Receipt { receipt, event }) => Some((receipt, event)),
                _ => None,
            })
            .collect();
        let candidates = self.look_up(channel, &reports).await?;
        let mut writes = ReceiptWrites::default();
        let mut settled_seqs = HashSet::new();
        let mut taken = 0;
        for (k, ((receipt, event), found)) in reports.iter().zip(candidates).enumerate() {
            let n = positions.get(k).copied().unwrap_or_default();
            if event.is_some() && self.outbox_full() {
                set(done, n, Applied::OutboxFull);
                taken = k + 1;
                continue;
            }
            match self.settle(receipt, found, &settled_seqs)? {
                Settled::Fast(matched, write) => {
                    if let Some(w) = write {
                        settled_seqs.insert(w.seq);
                        writes.rows.push(w);
                    }
                    if let Some(event) = event {
                        writes
                            .events
                            .push(event_body(event, &matched.event_fields())?);
                        self.counts.outbox += 1;
                    }
                    set(done, n, Applied::Receipt(matched));
                    taken = k + 1;
                }
                Settled::Again if k > 0 => {
                    self.write_receipts(writes, now).await?;
                    return Ok(k);
                }
                Settled::Alone | Settled::Again => {
                    self.write_receipts(writes, now).await?;
                    if let Some(change) = run.get(n) {
                        let applied = self.change(channel, change, now).await?;
                        set(done, n, applied);
                    }
                    return Ok(k + 1);
                }
            }
        }
        self.write_receipts(writes, now).await?;
        Ok(taken)
    }

    /// The correlation rows every receipt's first tier finds (with their messages), in one
    /// statement: by receipt, in order. One index look-up per form (see [`Tx::receipt`] for
    /// why the subquery is kept apart), and one per message found.
    async fn look_up(
        &mut self,
        channel: &str,
        reports: &[(&ReceiptReport, &Option<Map<String, Value>>)],
    ) -> Pg<Vec<Vec<(Candidate, Lookup)>>> {
        let tiers: Vec<Vec<Lookup>> = reports
            .iter()
            .map(|(r, _)| first_tier(&r.smsc_message_id))
            .collect();
        let mut forms = Vec::new();
        let mut owners = Vec::new();
        for (k, lookups) in tiers.iter().enumerate() {
            for l in lookups {
                forms.push(l.form.as_str());
                owners.push(k as i64);
            }
        }
        let rows = self
            .query(
                "SELECT u.owner, c.seq, c.idx, c.smsc_id, c.form, m.state, m.id, m.segments,
                    m.origin IS NOT NULL
                 FROM UNNEST($2::text[], $3::int8[]) AS u(form, owner), LATERAL (
                    SELECT seq, idx, smsc_id, form FROM correlation
                    WHERE channel = $1 AND form = u.form OFFSET 0
                 ) AS c LEFT JOIN LATERAL (
                    SELECT state, id, segments, origin FROM messages WHERE seq = c.seq OFFSET 0
                 ) AS m ON true",
                &[&channel, &forms, &owners],
            )
            .await?;
        let mut by_receipt: Vec<Vec<(Candidate, Lookup)>> =
            (0..reports.len()).map(|_| Vec::new()).collect();
        for r in rows {
            let owner: i64 = r.try_get(0)?;
            let form: String = r.try_get(4)?;
            let message = match (r.try_get(5)?, r.try_get(6)?, r.try_get(7)?) {
                (Some(state), Some(id), Some(segments)) => Some(Message {
                    state,
                    id,
                    segments,
                    from_user: r.try_get::<_, Option<bool>>(8)?.unwrap_or(false),
                }),
                _ => None,
            };
            let candidate = Candidate {
                found: (r.try_get(1)?, r.try_get(2)?, r.try_get(3)?),
                form,
                message,
            };
            let k = usize::try_from(owner).unwrap_or(usize::MAX);
            let lookup = tiers
                .get(k)
                .and_then(|ls| ls.iter().find(|l| l.form == candidate.form).cloned());
            if let (Some(list), Some(lookup)) = (by_receipt.get_mut(k), lookup) {
                list.push((candidate, lookup));
            }
        }
        Ok(by_receipt)
    }

    /// How one receipt turns out from its look-up, as [`Tx::receipt`] would apply it.
    fn settle(
        &mut self,
        receipt: &ReceiptReport,
        candidates: Vec<(Candidate, Lookup)>,
        settled_seqs: &HashSet<i64>,
    ) -> Pg<Settled> {
        let mut messages: HashMap<i64, Option<Message>> = HashMap::new();
        let mut wanted = Vec::new();
        for (c, l) in candidates {
            let (seq, idx, smsc_id) = c.found;
            let fits = l.exact.as_ref().is_none_or(|x| *x == smsc_id)
                && !(l.not_0x && smsc_id.starts_with("0x"));
            if fits {
                messages.insert(seq, c.message);
                wanted.push((seq, idx, smsc_id));
            }
        }
        if wanted.is_empty() {
            // The next tiers are the one-by-one match's to try.
            return Ok(Settled::Alone);
        }
        let mut found = Vec::new();
        add_found(&mut found, wanted);
        let (seq, idx, _) = match pick(found) {
            Ok(one) => one,
            Err(none_or_several) => return Ok(Settled::Fast(none_or_several, None)),
        };
        let Some(Some(message)) = messages.remove(&seq) else {
            return Ok(Settled::Alone);
        };
        if message.segments != 1 || message.from_user {
            return Ok(Settled::Alone);
        }
        if settled_seqs.contains(&seq) {
            return Ok(Settled::Again);
        }
        let from = message.state;
        let next = state_from_receipt(&receipt.state, receipt.error_code.as_deref())
            .map(|(next, reason)| (settled_code(next), reason));
        let (moved, state, reason) = match next {
            Some((code, reason)) if can_enter(from, code) => (true, code, reason),
            _ => (false, from, None),
        };
        if moved && from == QUEUED {
            self.counts.waiting -= 1;
        }
        let matched = ReceiptMatch::Matched {
            id: stored_id(message.id)?,
            segment: idx as usize,
            state: state_of(state),
        };
        let write = ReceiptWrite {
            seq,
            moved,
            state,
            reason,
            word: receipt.state.as_str().to_string(),
            error: receipt.error_code.clone(),
        };
        Ok(Settled::Fast(matched, Some(write)))
    }

    /// Writes what a batch of receipts settled: their messages' rows in one statement,
    /// their events in one more, in order.
    async fn write_receipts(&mut self, writes: ReceiptWrites, now: i64) -> Pg<()> {
        if !writes.rows.is_empty() {
            let seqs: Vec<i64> = writes.rows.iter().map(|w| w.seq).collect();
            let moved: Vec<bool> = writes.rows.iter().map(|w| w.moved).collect();
            let states: Vec<i64> = writes.rows.iter().map(|w| w.state).collect();
            let reasons: Vec<Option<&str>> =
                writes.rows.iter().map(|w| w.reason.as_deref()).collect();
            let words: Vec<&str> = writes.rows.iter().map(|w| w.word.as_str()).collect();
            let errors: Vec<Option<&str>> =
                writes.rows.iter().map(|w| w.error.as_deref()).collect();
            // A receipt that moves its message finishes it and ends its claim, as
            // `Tx::enter` does; one that does not records its words alone. Rows are found by
            // key and written by `ctid`, as in `first_acks`; a row another transaction
            // changed in between is written on its own after it.
            let rows = self
                .query(
                    "UPDATE messages m SET
                    state = CASE WHEN u.moved THEN u.state ELSE m.state END,
                    finished_at = CASE WHEN u.moved THEN $1::int8 ELSE m.finished_at END,
                    failure_reason = CASE WHEN u.moved THEN COALESCE(u.reason, m.failure_reason)
                        ELSE m.failure_reason END,
                    receipt = u.word, receipt_error = u.error,
                    claimed_by = CASE WHEN u.moved THEN NULL ELSE m.claimed_by END,
                    claimed_on = CASE WHEN u.moved THEN NULL ELSE m.claimed_on END,
                    claimed_at = CASE WHEN u.moved THEN NULL ELSE m.claimed_at END
                 FROM (
                    SELECT u.*, t.ctid AS tid
                    FROM UNNEST($2::int8[], $3::bool[], $4::int8[], $5::text[], $6::text[],
                        $7::text[]) AS u(seq, moved, state, reason, word, error),
                    LATERAL (SELECT ctid FROM messages WHERE seq = u.seq OFFSET 0) AS t
                 ) AS u
                 WHERE m.ctid = u.tid
                 RETURNING m.seq",
                    &[&now, &seqs, &moved, &states, &reasons, &words, &errors],
                )
                .await?;
            let written: HashSet<i64> = rows
                .iter()
                .map(|r| r.try_get(0))
                .collect::<Result<_, _>>()?;
            for w in writes.rows.iter().filter(|w| !written.contains(&w.seq)) {
                self.write_receipt(w, now).await?;
            }
        }
        if !writes.events.is_empty() {
            // WITH ORDINALITY and ORDER BY: the outbox is delivered in the order of its rows.
            self.execute(
                "INSERT INTO outbox (body, due, created_at)
                 SELECT b, $2::int8, $2::int8
                 FROM UNNEST($1::bytea[]) WITH ORDINALITY AS u(b, ord) ORDER BY ord",
                &[&writes.events, &now],
            )
            .await?;
        }
        Ok(())
    }

    /// Writes one message's row as its receipt settled it, whatever the row became since:
    /// as the one-by-one match writes after its read.
    async fn write_receipt(&mut self, w: &ReceiptWrite, now: i64) -> Pg<()> {
        self.execute(
            "UPDATE messages SET
                state = CASE WHEN $2::bool THEN $3::int8 ELSE state END,
                finished_at = CASE WHEN $2::bool THEN $1::int8 ELSE finished_at END,
                failure_reason = CASE WHEN $2::bool THEN COALESCE($4::text, failure_reason)
                    ELSE failure_reason END,
                receipt = $5::text, receipt_error = $6::text,
                claimed_by = CASE WHEN $2::bool THEN NULL ELSE claimed_by END,
                claimed_on = CASE WHEN $2::bool THEN NULL ELSE claimed_on END,
                claimed_at = CASE WHEN $2::bool THEN NULL ELSE claimed_at END
             WHERE seq = $7",
            &[
                &now, &w.moved, &w.state, &w.reason, &w.word, &w.error, &w.seq,
            ],
        )
        .await?;
        Ok(())
    }
}

/// Whether a message in state `from` may enter `to`: as [`Tx::enter`] decides (a final
/// state is never left, and entering the state it is in changes nothing).
pub(super) fn can_enter(from: i64, to: i64) -> bool {
    use super::write::{DELIVERED, EXPIRED, FAILED};
    !(from == to || from == DELIVERED || from == FAILED || from == EXPIRED)
}

/// An event's stored body, with a fresh `event_id` that stays with it through every
/// delivery attempt.
pub(super) fn event_body(
    event: &Map<String, Value>,
    added: &[(&'static str, Field<'_>)],
) -> Pg<Vec<u8>> {
    EventBody {
        base: event,
        added,
        event_id: crate::daemon::store::MessageId::generate().as_str(),
    }
    .to_vec()
    .map_err(|e| PgError::Sql(format!("an event cannot be written: {e}")))
}

/// Records what a change applied at position `n`.
fn set(done: &mut [Option<Applied>], n: usize, applied: Applied) {
    if let Some(slot) = done.get_mut(n) {
        *slot = Some(applied);
    }
}
