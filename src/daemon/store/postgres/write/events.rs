//! Events for the webhook and SMPP users (the outbox), and the parts of long inbound
//! messages kept until they are whole.

use super::Tx;
use crate::daemon::store::postgres::error::Pg;
use crate::daemon::store::postgres::reports::event_body;
use serde_json::{Map, Value};

impl Tx<'_> {
    /// Deletes a set's kept parts; how many there were.
    pub(super) async fn forget_parts(&mut self, channel: &str, set: &str) -> Pg<u64> {
        self.execute(
            "DELETE FROM inbound_parts WHERE channel = $1 AND set_key = $2",
            &[&channel, &set],
        )
        .await
    }

    /// Whether the outbox holds as many events as it may.
    pub(in crate::daemon::store::postgres) fn outbox_full(&self) -> bool {
        self.counts.outbox >= i64::try_from(self.options.max_outbox).unwrap_or(i64::MAX)
    }

    /// Queues an event with a fresh, stable `event_id`, for the webhook or an SMPP user.
    pub(super) async fn queue_event(
        &mut self,
        event: &Map<String, Value>,
        now: i64,
        user: Option<&str>,
    ) -> Pg<()> {
        let body = event_body(event, &[])?;
        self.queue_body(body, now, user).await
    }

    /// Queues an event's document.
    pub(super) async fn queue_body(
        &mut self,
        body: Vec<u8>,
        now: i64,
        user: Option<&str>,
    ) -> Pg<()> {
        self.execute(
            "INSERT INTO outbox (body, due, created_at, target) VALUES ($1, $2, $2, $3)",
            &[&body, &now, &user],
        )
        .await?;
        // The webhook's events: those of SMPP users are bounded by nothing but the disk.
        if user.is_none() {
            self.counts.outbox += 1;
        }
        Ok(())
    }
}
