//! Claims: the waiting messages a channel takes, and those it gives back.

use super::{damaged, stored_id, Sql, Waiting, Writer};
use crate::daemon::store::body;
use crate::daemon::store::record::ClaimedMessage;
use crate::daemon::store::sqlite::claims::Held;
use crate::daemon::store::sqlite::{from_ms, ms};
use rusqlite::params;
use std::sync::Arc;
use std::time::SystemTime;

impl Writer<'_> {
    /// Adds to `found` up to `limit` of the oldest waiting, unexpired messages of `queue`
    /// (the claim's `slot`th) not held by a channel, with what a claim hands out.
    pub(super) fn waiting_in(
        &mut self,
        found: &mut Vec<Waiting>,
        queue: &str,
        slot: usize,
        limit: usize,
        now: i64,
    ) -> Sql<()> {
        let mut taken = 0;
        let mut after = self.claims.cursor(queue);
        let s = &mut self.hot.waiting;
        // Held messages above the cursor (one given back moved it down) are skipped; a
        // page of them only means reading on.
        loop {
            let want = limit - taken;
            let mut rows = s.query(params![queue, after, now, want as i64])?;
            let mut seen = 0;
            while let Some(r) = rows.next()? {
                seen += 1;
                let seq: i64 = r.get(0)?;
                after = seq;
                if self.claims.holds(seq) {
                    continue;
                }
                taken += 1;
                found.push(Waiting {
                    seq,
                    queue: slot,
                    id: stored_id(r.get_ref(1)?.as_str().map_err(|e| {
                        rusqlite::Error::FromSqlConversionFailure(
                            1,
                            rusqlite::types::Type::Text,
                            Box::new(e),
                        )
                    })?)?,
                    to: r.get(2)?,
                    from: r.get(3)?,
                    delivery_report: r.get(4)?,
                    expires_at: r.get(5)?,
                    send_validity: r.get(6)?,
                    resend: r.get(7)?,
                    segments: r.get(8)?,
                    acked: r.get(9)?,
                    accepted_at: r.get(10)?,
                    body: r.get::<_, Option<Vec<u8>>>(11)?.unwrap_or_default(),
                });
            }
            if seen < want || taken >= limit {
                return Ok(());
            }
        }
    }

    pub(super) fn claim(
        &mut self,
        channel: &str,
        also: &[String],
        limit: usize,
        now: SystemTime,
    ) -> Sql<Vec<ClaimedMessage>> {
        let now = ms(now);
        // One ordered index scan per queue (the shared one, this channel's own, the users'
        // it serves), merged: one query with `queue IN (...)` would sort every waiting
        // message.
        let queues: Vec<&str> = ["", channel]
            .into_iter()
            .chain(also.iter().map(String::as_str))
            .collect();
        let mut waiting = Vec::with_capacity(limit.min(4096));
        for (slot, queue) in queues.iter().enumerate() {
            if queues[..slot].contains(queue) {
                continue;
            }
            self.waiting_in(&mut waiting, queue, slot, limit, now)?;
        }
        waiting.sort_unstable_by_key(|w| w.seq);
        waiting.truncate(limit);
        let mut claimed = Vec::with_capacity(waiting.len());
        // Shared by every message held in this claim.
        let holder: Arc<str> = Arc::from(channel);
        let held_in: Vec<Arc<str>> = queues.iter().map(|q| Arc::from(*q)).collect();
        // Per queue (its place in `queues`), the highest key taken.
        let mut top: Vec<(usize, i64)> = Vec::with_capacity(queues.len());
        for w in waiting {
            let mut segments: Vec<(u8, crate::sms::Segment)> = body::unpack(&w.body)
                .map_err(|e| damaged(format!("message {} has damaged segments: {e}", w.id)))?
                .into_iter()
                .enumerate()
                .map(|(idx, s)| (idx as u8, s))
                .collect();
            if w.acked > 0 && w.segments > 1 {
                let sent = self.acknowledged_segments(w.seq)?;
                segments.retain(|(idx, _)| !sent.contains(&i64::from(*idx)));
            }
            let id = w.id;
            let message = ClaimedMessage {
                seq: w.seq,
                id: id.clone(),
                to: w.to,
                from: w.from,
                delivery_report: w.delivery_report,
                expires_at: from_ms(w.expires_at),
                send_validity: w.send_validity,
                segments,
                resend: w.resend,
            };
            let slot = w.queue;
            match top.iter_mut().find(|(s, _)| *s == slot) {
                Some(t) => t.1 = t.1.max(w.seq),
                None => top.push((slot, w.seq)),
            }
            self.claims.take(
                w.seq,
                Held {
                    id,
                    channel: holder.clone(),
                    queue: held_in[slot].clone(),
                    accepted_at: w.accepted_at,
                    segments: w.segments,
                    acked: w.acked,
                    delivery_report: w.delivery_report,
                },
            );
            claimed.push(message);
        }
        for (slot, upto) in top {
            self.claims.advance(&held_in[slot], upto);
            let queue = queues[slot];
            if self.claims.mark_needed(queue, upto) {
                self.conn
                    .prepare_cached("INSERT OR REPLACE INTO claims (queue, upto) VALUES (?1, ?2)")?
                    .execute(params![queue, upto])?;
                self.claims.marked(queue, upto);
            }
        }
        Ok(claimed)
    }

    /// The indexes of the acknowledged segments of a message of several.
    pub(super) fn acknowledged_segments(&self, seq: i64) -> Sql<Vec<i64>> {
        let mut s = self
            .conn
            .prepare_cached("SELECT idx FROM segments WHERE seq = ?1")?;
        let rows = s.query_map([seq], |r| r.get(0))?;
        rows.collect()
    }

    pub(super) fn release(&mut self, seqs: &[(i64, bool)]) -> Sql<()> {
        let mut s = self
            .conn
            .prepare_cached("UPDATE messages SET resend = 1 WHERE seq = ?1 AND state = 0")?;
        for &(seq, sent) in seqs {
            if self.claims.drop_held(seq, true).is_some() && sent {
                s.execute([seq])?;
            }
        }
        Ok(())
    }
}
