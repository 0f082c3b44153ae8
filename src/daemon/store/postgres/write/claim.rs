//! Claims under a slot's fence: the waiting messages a channel takes, and those it gives
//! back.

use super::{from_ms, ms, stored_id, Tx};
use crate::daemon::store::postgres::error::{Pg, PgError};
use crate::daemon::store::record::ClaimedMessage;
use crate::daemon::store::{body, Fence};
use std::collections::HashMap;
use std::time::SystemTime;

impl Tx<'_> {
    /// Up to `limit` of the oldest waiting, unexpired, unclaimed messages `channel` may
    /// send, recorded as claimed by this node. `SKIP LOCKED`: rows another node is claiming
    /// right now are passed over, not waited for.
    pub(super) async fn claim(
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
    pub(super) async fn check_fence(&mut self, fence: &Fence) -> Pg<()> {
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

    pub(super) async fn release(&mut self, fence: Option<&Fence>, seqs: &[(i64, bool)]) -> Pg<()> {
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
}
