//! Upkeep: expiry, purging, and messages of channels no longer configured.

use super::{from_ms, ms, ms_of, Cause, Tx, EXPIRED, UPKEEP_BATCH};
use crate::daemon::store::event_body::expired_event;
use crate::daemon::store::postgres::error::Pg;
use crate::daemon::store::record::Upkeep;
use std::time::SystemTime;

impl Tx<'_> {
    pub(super) async fn expire(&mut self, seq: i64, now: i64) -> Pg<()> {
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
            let event = expired_event(channel, id, from_ms(now));
            // The outbox bound is for what the SMSC can redeliver; an expiry has no one to
            // redeliver it, so it is queued even past the bound.
            self.queue_event(&event, now, None).await?;
        }
        Ok(())
    }

    pub(super) async fn fail_unconfigured(
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

    pub(super) async fn upkeep(&mut self, now: SystemTime) -> Pg<Upkeep> {
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
