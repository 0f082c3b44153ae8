//! `GET /v1/cluster`: the nodes sharing the store, their last heartbeats, and which node
//! holds which session slot of which channel until when. On the embedded store: this node
//! alone, holding every slot.
//!
//! Answered from the picture the slot manager keeps (refreshed every quarter lease), not
//! from the database: a scrape of every node every second costs the database nothing.

use super::AppState;
use crate::daemon::cluster::Snapshot;
use axum::extract::State;
use axum::Json;
use std::sync::Arc;

/// The handler.
pub(super) async fn get_cluster(State(state): State<Arc<AppState>>) -> Json<Snapshot> {
    Json(state.services.board.snapshot())
}
