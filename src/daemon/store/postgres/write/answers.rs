//! submit_sm_resp: a segment acknowledged with the SMSC's id.

use super::{state_of, Cause, Tx, QUEUED, SUBMITTED};
use crate::daemon::store::postgres::error::Pg;
use crate::daemon::store::record::{split_key, Applied, MessageState, Outcome};
use std::time::Duration;

impl Tx<'_> {
    /// Records a submit_sm_resp. The usual case (a message this node holds, its segment
    /// acknowledged for the first time) is one statement that writes and checks at once;
    /// anything else reads the row first.
    pub(super) async fn submitted(
        &mut self,
        channel: &str,
        key: u64,
        smsc_id: &str,
        now: i64,
    ) -> Pg<Applied> {
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
    pub(super) async fn first_ack(
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
    pub(super) async fn segment_ack(
        &mut self,
        seq: i64,
        idx: u8,
        count: i64,
    ) -> Pg<Option<(String, String)>> {
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
}
