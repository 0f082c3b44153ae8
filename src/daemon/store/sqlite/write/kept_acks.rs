//! First answers written together with their receipt.
//!
//! An SMSC often sends a message's delivery receipt right after its submit_sm_resp, so both
//! reach the store in one sink call. Written one after the other, the message's row is
//! rewritten twice, its `messages_awaiting` index entry is added and removed again, and the
//! receipt reads back the row the answer has just written. So, within one
//! [`Writer::apply`] call, the first answer for a held message of one segment that asked
//! for a receipt is kept back: its correlation is written at once (the receipt finds it
//! exactly as before) and only its row write waits. A final receipt for it later in the
//! same call writes the answer and the receipt as one row write. Any change other than an
//! answer or a receipt, a second answer for the same message, and the end of the call
//! write the kept answers on their own, as they would have been written without keeping
//! them. Nothing is kept across calls: a commit holds the same rows either way.

use super::{Sql, Writer};
use crate::daemon::engine::ReceiptReport;
use crate::daemon::store::record::{split_key, Applied, MessageState, Outcome, ReceiptMatch};
use crate::daemon::store::sqlite::schema::{DELIVERED, EXPIRED, FAILED};
use crate::daemon::store::state::state_from_receipt;
use crate::daemon::store::user_event;
use crate::seq_map::SeqMap;
use rusqlite::params;

/// The answers kept back in one [`Writer::apply`] call, by message.
#[derive(Default)]
pub(super) struct KeptAcks<'a>(SeqMap<i64, Kept<'a>>);

/// One kept answer, borrowing from the call's changes.
struct Kept<'a> {
    /// The answer's segment key.
    key: u64,
    /// The SMSC's id for the message.
    smsc_id: &'a str,
    /// Where the answer's result is in the call's results: it is replaced when the row
    /// turns out not to be as the claim left it.
    at: usize,
}

impl KeptAcks<'_> {
    /// Whether message `seq` has a kept answer.
    pub(super) fn holds(&self, seq: i64) -> bool {
        self.0.contains_key(&seq)
    }
}

impl Writer<'_> {
    /// Keeps back the answer for `key` (the `at`th change of the call) if it is the first
    /// one of a held one-segment message that asked for a receipt: writes its correlation
    /// and returns what applying it does. `None` when it is not such an answer.
    pub(super) fn keep_ack<'a>(
        &mut self,
        kept: &mut KeptAcks<'a>,
        channel: &str,
        key: u64,
        smsc_id: &'a str,
        now: i64,
        at: usize,
    ) -> Sql<Option<Applied>> {
        let (seq, idx) = split_key(key);
        let Some(held) = self.claims.get(seq) else {
            return Ok(None);
        };
        if idx != 0
            || held.segments != 1
            || held.acked != 0
            || !held.delivery_report
            || kept.holds(seq)
        {
            return Ok(None);
        }
        let since_accepted =
            std::time::Duration::from_millis((now - held.accepted_at).max(0) as u64);
        self.correlate(channel, seq, idx, smsc_id)?;
        kept.0.insert(seq, Kept { key, smsc_id, at });
        Ok(Some(Applied::Done(Some(Outcome {
            channel: channel.to_string(),
            state: MessageState::Submitted,
            since_accepted,
        }))))
    }

    /// Writes the kept answer for `only` (all kept answers when `None`) on its own.
    pub(super) fn write_kept(
        &mut self,
        kept: &mut KeptAcks<'_>,
        only: Option<i64>,
        channel: &str,
        now: i64,
        applied: &mut [Applied],
    ) -> Sql<()> {
        if kept.0.is_empty() {
            return Ok(());
        }
        let seqs: Vec<i64> = match only {
            Some(seq) if kept.holds(seq) => vec![seq],
            Some(_) => return Ok(()),
            None => {
                let mut all: Vec<i64> = kept.0.keys().copied().collect();
                // In the order the answers came, as they would have been written.
                all.sort_unstable_by_key(|seq| kept.0.get(seq).map_or(0, |k| k.at));
                all
            }
        };
        for seq in seqs {
            let Some(one) = kept.0.remove(&seq) else {
                continue;
            };
            let written = match self.claims.get(seq).cloned() {
                Some(held) => self.first_ack(channel, &held, seq, 0, one.smsc_id, now, false)?,
                None => None,
            };
            let result = match written {
                Some(result) => result,
                // Not as the claim left it: what the answer would have done unkept.
                None => self.submitted(channel, one.key, one.smsc_id, now)?,
            };
            if let Some(slot) = applied.get_mut(one.at) {
                *slot = result;
            }
        }
        Ok(())
    }

    /// Settles the kept answer for `seq` with its receipt in one row write, when the
    /// receipt is final: the match, and whether the message is an SMPP user's (its user
    /// is told, as `receipt` does). `None` when it is not final (then the answer has been
    /// written on its own and the receipt goes the usual way).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn settle_kept(
        &mut self,
        kept: &mut KeptAcks<'_>,
        channel: &str,
        seq: i64,
        idx: i64,
        receipt: &ReceiptReport,
        now: i64,
        applied: &mut [Applied],
    ) -> Sql<Option<(ReceiptMatch, bool)>> {
        let settled = if idx == 0 {
            state_from_receipt(&receipt.state, receipt.error_code.as_deref())
        } else {
            None
        };
        let held = self.claims.get(seq).cloned();
        let (Some((state, reason)), Some(held), Some(one)) = (settled, held, kept.0.get(&seq))
        else {
            self.write_kept(kept, Some(seq), channel, now, applied)?;
            return Ok(None);
        };
        let code = match state {
            MessageState::Delivered => DELIVERED,
            MessageState::Expired => EXPIRED,
            _ => FAILED,
        };
        // The answer's write and the receipt's move (`first_ack`, then `enter` with the
        // receipt as cause) as one statement.
        let written = self.hot.settle.execute(params![
            seq,
            one.smsc_id,
            channel,
            code,
            now,
            receipt.state.as_str(),
            receipt.error_code.as_deref(),
            reason,
        ])?;
        if written == 0 {
            self.write_kept(kept, Some(seq), channel, now, applied)?;
            return Ok(None);
        }
        kept.0.remove(&seq);
        self.claims.drop_held(seq, false);
        self.counts.left(&held.queue, 1);
        // Only an SMPP user's messages wait in a user's queue (see `user_queue`).
        let user = held.queue.starts_with('@');
        if user {
            let (stat, err) = user_event::upstream_words(receipt);
            self.tell_user(seq, code == DELIVERED, stat, err, now)?;
        }
        let matched = ReceiptMatch::Matched {
            id: held.id,
            segment: 0,
            state,
        };
        Ok(Some((matched, user)))
    }
}
