//! `GET /v1/channels`.

use super::AppState;
use crate::daemon::engine::ChannelStatus;
use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
use std::sync::Arc;

/// One channel as JSON.
pub(super) fn channel_json(c: &ChannelStatus) -> Value {
    let counters = &c.counters;
    json!({
        "name": c.name,
        "state": c.state,
        "bound": c.bound,
        "can_transmit": c.can_transmit,
        "can_receive": c.can_receive,
        "last_error": c.last_error.as_ref().map(|e| json!({"code": e.code, "reason": e.reason})),
        "counters": {
            "submitted": counters.submitted,
            "acknowledged": counters.acknowledged,
            "failed": counters.failed,
            "resent": counters.resent,
            "received": counters.received,
            "receipts": counters.receipts,
        },
        "window": {"in_use": counters.window_in_use, "size": counters.window_size},
    })
}

/// Every channel, in configured order.
pub(super) async fn get_channels(State(state): State<Arc<AppState>>) -> Json<Value> {
    let channels: Vec<Value> = state.engine.channels().iter().map(channel_json).collect();
    Json(json!({ "channels": channels }))
}
