//! [`Backlog`]: what waits in the store, for `/metrics` (`smppd_queue_depth`,
//! `smppd_queue_oldest_age_seconds`, `smppd_webhook_oldest_event_age_seconds`) and
//! `GET /v1/channels`. Cheap enough for every scrape: an index-only count per queue and two
//! primary-key look-ups, never a table scan.

use std::time::{Duration, SystemTime};

/// The queue of messages that any channel may send: `queue` of [`QueueBacklog`], and the
/// `channel` label of the queue metrics, as `smppd store inspect` prints it.
pub const ANY_CHANNEL: &str = "*";

/// Queued messages of one queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueBacklog {
    /// The channel the messages are pinned to, or [`ANY_CHANNEL`].
    pub queue: String,
    /// Messages waiting to be sent, those a channel holds in flight included.
    pub depth: u64,
    /// When the oldest of them was accepted.
    pub oldest: Option<SystemTime>,
}

/// Every non-empty queue and the head of the webhook outbox.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Queues with at least one message, by name.
    pub queues: Vec<QueueBacklog>,
    /// Webhook events waiting.
    pub outbox: u64,
    /// When the oldest webhook event waiting was queued.
    pub oldest_event: Option<SystemTime>,
}

impl Backlog {
    /// The queue of `channel` ([`ANY_CHANNEL`] for unpinned messages): its depth and the
    /// age of its oldest message as of `now`; `(0, None)` when it is empty.
    pub fn queue(&self, channel: &str, now: SystemTime) -> (u64, Option<Duration>) {
        match self.queues.iter().find(|q| q.queue == channel) {
            Some(q) => (q.depth, q.oldest.map(|t| age(t, now))),
            None => (0, None),
        }
    }

    /// The age of the oldest webhook event as of `now`.
    pub fn oldest_event_age(&self, now: SystemTime) -> Option<Duration> {
        self.oldest_event.map(|t| age(t, now))
    }
}

/// How long ago `then` was; zero for a time in the future (a clock stepped back).
fn age(then: SystemTime, now: SystemTime) -> Duration {
    now.duration_since(then).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn an_absent_queue_is_empty_and_ages_never_go_negative() {
        let at = |s| UNIX_EPOCH + Duration::from_secs(s);
        let backlog = Backlog {
            queues: vec![QueueBacklog {
                queue: "a".into(),
                depth: 3,
                oldest: Some(at(100)),
            }],
            outbox: 1,
            oldest_event: Some(at(200)),
        };
        assert_eq!(
            backlog.queue("a", at(160)),
            (3, Some(Duration::from_secs(60)))
        );
        assert_eq!(backlog.queue("b", at(160)), (0, None));
        assert_eq!(backlog.oldest_event_age(at(150)), Some(Duration::ZERO));
        assert_eq!(
            backlog.oldest_event_age(at(205)),
            Some(Duration::from_secs(5))
        );
    }
}
