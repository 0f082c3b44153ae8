//! Receipts: the SMSC ids kept under their correlation forms, and a receipt matched to
//! its message.

use super::{settled_code, state_of, stored_id, Cause, Tx, DELIVERED};
use crate::daemon::engine::ReceiptReport;
use crate::daemon::store::forms::{add_found, pick, probe, stored_forms, Found};
use crate::daemon::store::postgres::error::Pg;
use crate::daemon::store::postgres::read::segment_records;
use crate::daemon::store::record::ReceiptMatch;
use crate::daemon::store::state::{state_from_receipt, state_from_receipts};
use crate::daemon::store::user_event;
use crate::sms::{MatchRule, MatchRules, MessageIdKey};

impl Tx<'_> {
    /// Records an SMSC id under the forms a receipt may quote it in. An SMSC that reuses an
    /// id is handled when matching: the newest submission with that exact id wins.
    pub(super) async fn correlate(
        &mut self,
        channel: &str,
        seq: i64,
        idx: u8,
        smsc_id: &str,
    ) -> Pg<()> {
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
    pub(super) async fn uncorrelate(
        &mut self,
        channel: &str,
        seq: i64,
        idx: i64,
        smsc_id: &str,
    ) -> Pg<()> {
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
    pub(super) async fn receipt(
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
}
