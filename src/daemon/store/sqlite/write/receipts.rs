//! Receipts: the SMSC ids kept under their correlation forms, and a receipt matched to
//! its message tier by tier.

use super::{segment_records, state_of, stored_id, Cause, KeptAcks, Sql, Writer};
use crate::daemon::engine::ReceiptReport;
use crate::daemon::store::forms::{add_found, pick, Found};
use crate::daemon::store::record::{Applied, MessageState, ReceiptMatch};
use crate::daemon::store::sqlite::schema::{DELIVERED, EXPIRED, FAILED};
use crate::daemon::store::state::{state_from_receipt, state_from_receipts};
use crate::daemon::store::user_event;
use crate::sms::{IdForm, MatchRule, MatchRules, MessageIdKey};
use rusqlite::params;
use std::borrow::Cow;

impl Writer<'_> {
    /// Records an SMSC id under the forms a receipt may quote it in (see `forms::StoredForms`).
    /// An SMSC that reuses an id is handled when matching: the newest submission with that
    /// exact id wins.
    pub(super) fn correlate(&mut self, channel: &str, seq: i64, idx: u8, smsc_id: &str) -> Sql<()> {
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
    pub(super) fn uncorrelate(
        &mut self,
        channel: &str,
        seq: i64,
        idx: i64,
        smsc_id: &str,
    ) -> Sql<()> {
        // One primary-key delete per stored form: an `IN` list of bound values would make
        // SQLite build a temporary index at every run. The forms come from the buffers
        // `correlate` uses: a purge forgets ids one after another.
        let mut delete = self.conn.prepare_cached(
            "DELETE FROM correlation WHERE channel = ?1 AND form = ?2 AND seq = ?3 AND idx = ?4",
        )?;
        for form in self.forms.of(MessageIdKey::exact_of(smsc_id)) {
            delete.execute(params![channel, form, seq, idx])?;
        }
        Ok(())
    }

    /// The submissions one probe of a receipt's id finds.
    pub(super) fn lookup(&self, channel: &str, probe: &IdForm) -> Sql<Vec<(i64, i64, String)>> {
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
    pub(super) fn find(
        &self,
        channel: &str,
        receipt: &ReceiptReport,
    ) -> Sql<Result<Found, ReceiptMatch>> {
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
    pub(super) fn receipt(
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
}
