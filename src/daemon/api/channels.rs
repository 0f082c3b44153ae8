//! `GET /v1/channels`: each channel's state, counters, queue, time since its last bind and
//! certificates, and the webhook outbox. The status page reads exactly these fields, as
//! `/metrics` exports the same facts (see the Metrics section of docs/operations.md).

use super::{ApiError, AppState};
use crate::daemon::engine::{CertificateStatus, ChannelPhase, ChannelSnapshot};
use crate::daemon::store::{rfc3339, Backlog, ANY_CHANNEL};
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// A channel's last error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct ErrorBody {
    /// The documented log code (43009, 43010...).
    pub code: u32,
    /// Why, in words.
    pub reason: String,
}

/// Message totals of a channel since the daemon started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct CountersBody {
    /// submit_sm sent (re-sends included).
    pub submitted: u64,
    /// submit_sm_resp with status 0.
    pub acknowledged: u64,
    /// submit_sm that failed.
    pub failed: u64,
    /// submit_sm sent again by the session.
    pub resent: u64,
    /// Inbound messages.
    pub received: u64,
    /// Delivery receipts.
    pub receipts: u64,
}

/// The submit window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct WindowBody {
    /// Requests awaiting their response.
    pub in_use: u32,
    /// `x-smpp-submit-window-size`.
    pub size: u32,
}

/// Messages waiting in the store for a queue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct QueueBody {
    /// How many (those in flight on the channel included).
    pub depth: u64,
    /// Seconds since the oldest of them was accepted; `null` when there is none.
    pub oldest_age_seconds: Option<u64>,
}

impl QueueBody {
    fn of(backlog: &Backlog, queue: &str, now: SystemTime) -> QueueBody {
        let (depth, age) = backlog.queue(queue, now);
        QueueBody {
            depth,
            oldest_age_seconds: age.map(|a| a.as_secs()),
        }
    }
}

/// One certificate of a channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct CertificateBody {
    /// `own` (presented in mutual TLS), `ca` (trusted) or `peer` (the SMSC's, as seen at the
    /// last successful handshake).
    pub role: &'static str,
    /// Subject distinguished name.
    pub subject: String,
    /// End of validity, RFC 3339 UTC.
    pub not_after: String,
    /// Seconds until then; negative once it has expired.
    pub seconds_left: i64,
}

impl CertificateBody {
    fn of(cert: &CertificateStatus, now: SystemTime) -> CertificateBody {
        let now_secs = match now.duration_since(UNIX_EPOCH) {
            Ok(d) => i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
            Err(_) => 0,
        };
        let not_after =
            UNIX_EPOCH + Duration::from_secs(u64::try_from(cert.not_after).unwrap_or(0));
        CertificateBody {
            role: cert.role.as_str(),
            subject: cert.subject.clone(),
            not_after: rfc3339(not_after),
            seconds_left: cert.not_after.saturating_sub(now_secs),
        }
    }
}

/// One channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct ChannelBody {
    /// Its name.
    pub name: String,
    /// Its state, in a word or phrase.
    pub state: ChannelPhase,
    /// Whether it is bound.
    pub bound: bool,
    /// Whether its bind may submit.
    pub can_transmit: bool,
    /// Whether its bind may receive.
    pub can_receive: bool,
    /// The last error.
    pub last_error: Option<ErrorBody>,
    /// Totals.
    pub counters: CountersBody,
    /// The window.
    pub window: WindowBody,
    /// Messages pinned to this channel waiting in the store.
    pub queue: QueueBody,
    /// Seconds since the last successful bind; `null` before the first.
    pub seconds_since_bind: Option<u64>,
    /// Our certificate, the trusted CAs and the SMSC's certificate.
    pub certificates: Vec<CertificateBody>,
}

impl ChannelBody {
    /// The body of `c`, with its queue from `backlog`, as of `now`.
    pub(super) fn new(c: &ChannelSnapshot, backlog: &Backlog, now: SystemTime) -> Self {
        let counters = &c.counters;
        ChannelBody {
            name: c.name.clone(),
            state: c.state,
            bound: c.bound,
            can_transmit: c.can_transmit,
            can_receive: c.can_receive,
            last_error: c.last_error.as_ref().map(|e| ErrorBody {
                code: e.code,
                reason: e.reason.clone(),
            }),
            counters: CountersBody {
                submitted: counters.submitted,
                acknowledged: counters.acknowledged,
                failed: counters.failed,
                resent: counters.resent,
                received: counters.received,
                receipts: counters.receipts,
            },
            window: WindowBody {
                in_use: counters.window_in_use,
                size: counters.window_size,
            },
            queue: QueueBody::of(backlog, &c.name, now),
            seconds_since_bind: c.seconds_since_bind,
            certificates: c
                .certificates
                .iter()
                .map(|cert| CertificateBody::of(cert, now))
                .collect(),
        }
    }
}

/// The webhook outbox.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct WebhookBacklogBody {
    /// Events waiting to be delivered (0 without a webhook).
    pub backlog: u64,
    /// Seconds since the oldest of them was queued; `null` when there is none.
    pub oldest_event_age_seconds: Option<u64>,
}

/// `GET /v1/channels`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct ChannelsBody {
    /// Every channel, in configured order.
    pub channels: Vec<ChannelBody>,
    /// Messages that any channel may send, waiting in the store.
    pub any_channel_queue: QueueBody,
    /// The webhook outbox.
    pub webhook: WebhookBacklogBody,
}

/// Every channel, in configured order, and what waits in the store. 503 when the store
/// cannot be read: a queue reported as empty because it could not be counted would lie.
pub(super) async fn get_channels(
    State(state): State<Arc<AppState>>,
) -> Result<Json<ChannelsBody>, ApiError> {
    let backlog = state
        .backlog()
        .await
        .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string()))?;
    let now = SystemTime::now();
    let channels = state
        .engine
        .channels()
        .iter()
        .map(|c| ChannelBody::new(c, &backlog, now))
        .collect();
    Ok(Json(ChannelsBody {
        channels,
        any_channel_queue: QueueBody::of(&backlog, ANY_CHANNEL, now),
        webhook: WebhookBacklogBody {
            backlog: backlog.outbox,
            oldest_event_age_seconds: backlog.oldest_event_age(now).map(|a| a.as_secs()),
        },
    }))
}
