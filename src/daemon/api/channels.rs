//! `GET /v1/channels`.

use super::AppState;
use crate::daemon::engine::ChannelStatus;
use axum::extract::State;
use axum::Json;
use serde::Serialize;
use std::sync::Arc;

/// A channel's last error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ErrorBody {
    /// The documented log code (43009, 43010...).
    pub code: u32,
    /// Why, in words.
    pub reason: String,
}

/// Message totals of a channel since the daemon started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CountersBody {
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
pub struct WindowBody {
    /// Requests awaiting their response.
    pub in_use: u32,
    /// `x-smpp-submit-window-size`.
    pub size: u32,
}

/// One channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelBody {
    /// Its name.
    pub name: String,
    /// Its state in a word or phrase.
    pub state: String,
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
}

impl From<&ChannelStatus> for ChannelBody {
    fn from(c: &ChannelStatus) -> Self {
        let counters = &c.counters;
        ChannelBody {
            name: c.name.clone(),
            state: c.state.clone(),
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
        }
    }
}

/// `GET /v1/channels`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChannelsBody {
    /// Every channel, in configured order.
    pub channels: Vec<ChannelBody>,
}

/// Every channel, in configured order.
pub(super) async fn get_channels(State(state): State<Arc<AppState>>) -> Json<ChannelsBody> {
    let channels = state
        .engine
        .channels()
        .iter()
        .map(ChannelBody::from)
        .collect();
    Json(ChannelsBody { channels })
}
