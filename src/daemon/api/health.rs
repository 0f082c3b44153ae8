//! `GET /health` and `GET /metrics`.

use super::channels::ErrorBody;
use super::AppState;
use crate::daemon::engine::ChannelPhase;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use std::sync::Arc;
use std::time::SystemTime;

/// A channel that is not bound, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct DownBody {
    /// Its name.
    pub name: String,
    /// Its state.
    pub state: ChannelPhase,
    /// Its last error.
    pub last_error: Option<ErrorBody>,
}

/// `GET /health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct HealthBody {
    /// `ok` or `unavailable`.
    pub status: &'static str,
    /// Why, in words.
    pub reason: String,
    /// The bound channels.
    pub bound: Vec<String>,
    /// The others.
    pub down: Vec<DownBody>,
}

/// 200 when at least one channel is bound (or, on a cluster, held by another node), 503
/// otherwise; the body says which are and why the others are not.
pub(super) async fn get_health(State(state): State<Arc<AppState>>) -> Response {
    let channels = state.engine.channels();
    let bound: Vec<String> = channels
        .iter()
        .filter(|c| c.bound)
        .map(|c| c.name.clone())
        .collect();
    let down: Vec<DownBody> = channels
        .iter()
        .filter(|c| !c.bound)
        .map(|c| DownBody {
            name: c.name.clone(),
            state: c.state,
            last_error: c.last_error.as_ref().map(|e| ErrorBody {
                code: e.code,
                reason: e.reason.clone(),
            }),
        })
        .collect();
    // On a cluster, a channel whose session slots all run on other nodes is `standby`
    // here: this node still accepts its messages, the others send them.
    let elsewhere = down
        .iter()
        .filter(|d| d.state == ChannelPhase::Standby)
        .count();
    let (status, word, reason) = if bound.is_empty() && elsewhere == 0 {
        let reason = if channels.is_empty() {
            "no channel is configured".to_string()
        } else {
            format!("none of the {} channels is bound", channels.len())
        };
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable", reason)
    } else if elsewhere > 0 {
        let reason = format!(
            "{} of {} channels bound here, {elsewhere} held by other nodes",
            bound.len(),
            channels.len()
        );
        (StatusCode::OK, "ok", reason)
    } else {
        let reason = format!("{} of {} channels bound", bound.len(), channels.len());
        (StatusCode::OK, "ok", reason)
    };
    let body = HealthBody {
        status: word,
        reason,
        bound,
        down,
    };
    (status, Json(body)).into_response()
}

/// The Prometheus text exposition.
pub(super) async fn get_metrics(State(state): State<Arc<AppState>>) -> Response {
    let channels = state.engine.channels();
    let services = &state.services;
    let backlog = state.backlog().await.ok();
    let mut text = services.metrics.render(
        &channels,
        services.store.counts(),
        services.resends.load(std::sync::atomic::Ordering::Relaxed),
        services.webhook.as_ref().map(|w| w.stats()),
        backlog.as_ref(),
        SystemTime::now(),
    );
    if let Some(smpp) = &services.smpp {
        // A balance that cannot be read is left out (no series), not reported as 0.
        let credits = services.store.credits().await.unwrap_or_default();
        text.push_str(&super::metrics::SmppStats::of(smpp, &credits).render());
    }
    if let Some(node) = services.board.shared_node() {
        text = super::metrics::label_node(&text, &node);
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}
