//! Upkeep: expiry, purging, and messages of channels no longer configured.

use super::{ms_of, Cause, Sql, Writer, UPKEEP_BATCH};
use crate::daemon::store::event_body::expired_event;
use crate::daemon::store::record::Upkeep;
use crate::daemon::store::sqlite::schema::EXPIRED;
use crate::daemon::store::sqlite::{from_ms, ms};
use rusqlite::params;
use std::time::SystemTime;

impl Writer<'_> {
    pub(super) fn expire(&mut self, seq: i64, now: i64) -> Sql<()> {
        let Some((channel, state, _, _, id, _, origin)) = self.message(seq)? else {
            return Ok(());
        };
        if !self.enter(seq, state, EXPIRED, now, None, Cause::Holder)? {
            return Ok(());
        }
        // A user's message: its user was told (see `enter`), not the webhook.
        if self.options.events && origin.is_none() {
            let event = expired_event(channel, id, from_ms(now));
            // The outbox bound is for what the SMSC can redeliver; an expiry has no one to
            // redeliver it, so it is queued even past the bound.
            self.queue_event(&event, now, None)?;
        }
        Ok(())
    }

    pub(super) fn fail_unconfigured(
        &mut self,
        configured: &[String],
        reason: &str,
        now: SystemTime,
    ) -> Sql<u64> {
        let queues: Vec<String> = {
            let mut s = self.conn.prepare_cached(
                "SELECT DISTINCT queue FROM messages WHERE state = 0 AND queue <> ''",
            )?;
            let rows = s.query_map([], |r| r.get(0))?;
            rows.collect::<Sql<_>>()?
        };
        let mut failed = 0;
        // A user's queue is left to its user's channels (and to expiry if it has none).
        for queue in queues
            .iter()
            .filter(|q| !configured.contains(q) && !q.starts_with('@'))
        {
            let n = self
                .conn
                .prepare_cached(
                    "UPDATE messages SET state = 3, finished_at = ?2,
                        failure_reason = ?3
                     WHERE queue = ?1 AND state = 0",
                )?
                .execute(params![queue, ms(now), reason])? as u64;
            self.counts.left(queue, n);
            self.claims.drop_queue(queue);
            failed += n;
        }
        Ok(failed)
    }

    pub(super) fn upkeep(&mut self, now: SystemTime) -> Sql<Upkeep> {
        let at = ms(now);
        let mut upkeep = Upkeep::default();
        // Held messages are left to their channel, which reports them expired itself.
        let expired: Vec<i64> = {
            let mut s = self.conn.prepare_cached(
                "SELECT seq FROM messages WHERE state = 0 AND expires_at <= ?1
                 ORDER BY expires_at LIMIT ?2",
            )?;
            let limit = UPKEEP_BATCH + self.claims.len() as i64;
            let rows = s.query_map(params![at, limit], |r| r.get(0))?;
            let mut expired = rows.collect::<Sql<Vec<i64>>>()?;
            expired.retain(|seq| !self.claims.holds(*seq));
            expired.truncate(UPKEEP_BATCH as usize);
            expired
        };
        for seq in expired {
            self.expire(seq, at)?;
            upkeep.expired += 1;
        }
        // Submitted messages whose receipt never came stop waiting for it.
        let wait = at.saturating_sub(ms_of(self.options.receipt_wait));
        upkeep.purged += self
            .conn
            .prepare_cached(
                "UPDATE messages SET finished_at = ?1 WHERE seq IN (
                    SELECT seq FROM messages WHERE state = 1 AND finished_at IS NULL
                    AND submitted_at <= ?2 LIMIT ?3)",
            )?
            .execute(params![at, wait, UPKEEP_BATCH])? as u64;
        let old = at.saturating_sub(ms_of(self.options.finished_retention));
        let finished: Vec<(i64, i64, Option<String>, Option<String>)> = {
            let mut s = self.conn.prepare_cached(
                "SELECT seq, segments, acked_on, smsc_id FROM messages
                 WHERE finished_at IS NOT NULL AND finished_at <= ?1
                 ORDER BY finished_at LIMIT ?2",
            )?;
            let rows = s.query_map(params![old, UPKEEP_BATCH], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))
            })?;
            rows.collect::<Sql<_>>()?
        };
        for (seq, count, acked_on, smsc_id) in finished {
            // Under the channel each segment was acknowledged on: a message may have been
            // sent partly by one channel and partly by another.
            let acknowledged: Vec<(String, i64, String)> = if count == 1 {
                acked_on
                    .zip(smsc_id)
                    .map(|(on, id)| (on, 0, id))
                    .into_iter()
                    .collect()
            } else {
                let mut s = self
                    .conn
                    .prepare_cached("SELECT acked_on, idx, smsc_id FROM segments WHERE seq = ?1")?;
                let rows = s.query_map([seq], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                rows.collect::<Sql<_>>()?
            };
            for (channel, idx, smsc_id) in acknowledged {
                self.uncorrelate(&channel, seq, idx, &smsc_id)?;
            }
            if count > 1 {
                self.conn
                    .prepare_cached("DELETE FROM segments WHERE seq = ?1")?
                    .execute([seq])?;
            }
            self.conn
                .prepare_cached("DELETE FROM messages WHERE seq = ?1")?
                .execute([seq])?;
            upkeep.purged += 1;
        }
        Ok(upkeep)
    }
}
