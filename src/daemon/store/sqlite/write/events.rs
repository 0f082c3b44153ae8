//! Events for the webhook and SMPP users (the outbox), and the parts of long inbound
//! messages kept until they are whole.

use super::{Sql, Writer};
use crate::daemon::store::event_body::{EventBody, Field};
use crate::daemon::store::MessageId;
use rusqlite::params;
use serde_json::{Map, Value};

impl Writer<'_> {
    pub(super) fn outbox_full(&self) -> bool {
        self.counts.outbox >= self.options.max_outbox
    }

    /// Queues an event with a fresh, stable `event_id`, for the webhook or an SMPP user.
    pub(super) fn queue_event(
        &mut self,
        event: &Map<String, Value>,
        now: i64,
        user: Option<&str>,
    ) -> Sql<()> {
        self.queue_event_with(event, &[], now, user)
    }

    /// Queues `event` with `added`'s fields and a fresh, stable `event_id`.
    pub(super) fn queue_event_with(
        &mut self,
        event: &Map<String, Value>,
        added: &[(&'static str, Field<'_>)],
        now: i64,
        user: Option<&str>,
    ) -> Sql<()> {
        let body = EventBody {
            base: event,
            added,
            event_id: MessageId::generate().as_str(),
        }
        .to_vec()
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        self.hot.insert_event.execute(params![body, now, user])?;
        if user.is_none() {
            self.counts.outbox += 1;
        }
        Ok(())
    }

    /// Deletes delivered events. The webhook's are counted against its bound, so the
    /// delete says which kind it removed: first as the webhook's, then as anyone's (two
    /// primary-key statements cost half of one with `RETURNING`, which SQLite runs
    /// through a temporary table).
    pub(super) fn outbox_delivered(&mut self, seqs: &[i64]) -> Sql<()> {
        for seq in seqs {
            let webhook = self
                .conn
                .prepare_cached("DELETE FROM outbox WHERE seq = ?1 AND target IS NULL")?
                .execute([seq])?;
            if webhook == 1 {
                self.counts.outbox = self.counts.outbox.saturating_sub(1);
            } else {
                self.conn
                    .prepare_cached("DELETE FROM outbox WHERE seq = ?1")?
                    .execute([seq])?;
            }
        }
        Ok(())
    }

    /// Deletes a set's kept parts; how many there were.
    pub(super) fn forget_parts(&mut self, channel: &str, set: &str) -> Sql<usize> {
        self.conn
            .prepare_cached("DELETE FROM inbound_parts WHERE channel = ?1 AND set_key = ?2")?
            .execute(params![channel, set])
    }
}
