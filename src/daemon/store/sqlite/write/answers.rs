//! submit_sm_resp: a segment acknowledged with the SMSC's id.

use super::{state_of, Cause, Sql, Writer};
use crate::daemon::store::record::{split_key, Applied, MessageState, Outcome};
use crate::daemon::store::sqlite::claims::Held;
use crate::daemon::store::sqlite::schema::{QUEUED, SUBMITTED};
use rusqlite::{params, OptionalExtension};

impl Writer<'_> {
    /// Records a submit_sm_resp. The usual case (a held message, its segment acknowledged
    /// for the first time) is one row write and needs nothing read; anything else (a
    /// second acknowledgement, a message no longer held) reads the row first.
    pub(super) fn submitted(
        &mut self,
        channel: &str,
        key: u64,
        smsc_id: &str,
        now: i64,
    ) -> Sql<Applied> {
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
    pub(super) fn first_ack(
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
    pub(super) fn segment_ack(
        &self,
        seq: i64,
        idx: u8,
        count: i64,
    ) -> Sql<Option<(String, String)>> {
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
}
