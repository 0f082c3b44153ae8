//! The store's [`Backlog`] as `/metrics` and `GET /v1/channels` read it: one query shared by
//! every request within [`BACKLOG_TTL`], so that a status page open on many phones and a
//! Prometheus scraping every few seconds cost the store's reader one query a second at most.

use crate::daemon::store::{Backlog, Store, StoreError};
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// How long one reading of the backlog is served again.
pub const BACKLOG_TTL: Duration = Duration::from_secs(1);

/// The last reading and when it was taken.
#[derive(Debug, Default)]
pub(super) struct BacklogCache {
    last: Mutex<Option<(Instant, Backlog)>>,
}

impl BacklogCache {
    /// The backlog, read again when the last reading is older than [`BACKLOG_TTL`]. Callers
    /// that arrive while it is being read wait for that reading instead of starting another.
    pub(super) async fn get(&self, store: &dyn Store) -> Result<Backlog, StoreError> {
        let mut last = self.last.lock().await;
        if let Some((at, backlog)) = last.as_ref() {
            if at.elapsed() < BACKLOG_TTL {
                return Ok(backlog.clone());
            }
        }
        match store.backlog().await {
            Ok(backlog) => {
                *last = Some((Instant::now(), backlog.clone()));
                Ok(backlog)
            }
            Err(e) => {
                tracing::warn!(
                    event = "backlog_unreadable",
                    error = %e,
                    "cannot read the queues and the webhook outbox from the store"
                );
                Err(e)
            }
        }
    }
}
