//! The operations routes of the SMPP server: its users (`GET /v1/smpp-users`), their credits
//! (`POST /v1/smpp-users/{name}/credits`), its connections (`GET /v1/smpp-sessions`) and the
//! operator's unbind (`DELETE /v1/smpp-sessions/{id}`).
//!
//! Without `[smpp-server]` there are no users and no sessions: the lists are empty and every
//! name or id is unknown (404), so the routes answer the same shapes either way.

use super::error::ApiError;
use super::AppState;
use crate::config::MAX_CREDITS;
use crate::daemon::smpp_server::{SessionEntry, SmppServer, User};
use crate::daemon::store::rfc3339;
use crate::server::BindMode;
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// A user's totals since the start.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct SmppUserCountersBody {
    /// Submits committed and answered with our id.
    pub accepted: u64,
    /// Submits answered ESME_RTHROTTLED.
    pub throttled: u64,
    /// Submits refused for want of credits.
    pub no_credit: u64,
    /// Other refused submits.
    pub refused: u64,
    /// deliver_sm the user acknowledged.
    pub delivered: u64,
    /// Binds refused.
    pub bind_refusals: u64,
}

/// One user in `GET /v1/smpp-users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct SmppUserBody {
    /// The section name (`[smpp-user-NAME]`).
    pub name: String,
    /// The system_id it binds with.
    pub system_id: String,
    /// Its balance in segments; `null`: unlimited.
    pub credits: Option<u64>,
    /// Sessions bound now.
    pub binds: usize,
    /// `max-binds`.
    pub max_binds: u8,
    /// `throughput` (segments/s).
    pub throughput: u32,
    /// Its channels, in order of preference.
    pub channels: Vec<String>,
    /// Totals.
    pub counters: SmppUserCountersBody,
}

impl SmppUserBody {
    fn new(user: &User, credits: Option<u64>) -> Self {
        let config = user.config();
        let c = &user.counters;
        SmppUserBody {
            name: user.name.clone(),
            system_id: config.system_id.clone(),
            credits,
            binds: user.binds.load(Ordering::Relaxed),
            max_binds: config.max_binds,
            throughput: config.throughput,
            channels: config.channels.clone(),
            counters: SmppUserCountersBody {
                accepted: c.accepted.load(Ordering::Relaxed),
                throttled: c.throttled.load(Ordering::Relaxed),
                no_credit: c.no_credit.load(Ordering::Relaxed),
                refused: c.refused.load(Ordering::Relaxed),
                delivered: c.delivered.load(Ordering::Relaxed),
                bind_refusals: c.bind_refusals.load(Ordering::Relaxed),
            },
        }
    }
}

/// `GET /v1/smpp-users`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct SmppUsersBody {
    /// Every user, by name.
    pub users: Vec<SmppUserBody>,
}

/// `POST /v1/smpp-users/{name}/credits`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct CreditsBody {
    /// The user.
    pub name: String,
    /// The balance after the addition, as committed.
    pub credits: u64,
}

/// A connection's totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct SmppSessionCountersBody {
    /// Submits answered with our id.
    pub submitted: u64,
    /// Submits refused.
    pub refused: u64,
    /// deliver_sm acknowledged by the client.
    pub delivered: u64,
}

/// One connection in `GET /v1/smpp-sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct SmppSessionBody {
    /// Its id (for `DELETE`).
    pub id: u64,
    /// The user it is bound as; `null` before the bind.
    pub user: Option<String>,
    /// The client's address, `ip:port`.
    pub remote: String,
    /// `transmitter`, `receiver` or `transceiver`; `null` before the bind.
    pub bind: Option<&'static str>,
    /// The TLS version; `null` over plain TCP.
    pub tls: Option<&'static str>,
    /// When it connected, RFC 3339 UTC.
    pub since: String,
    /// Totals.
    pub counters: SmppSessionCountersBody,
}

impl SmppSessionBody {
    fn new(entry: &SessionEntry) -> Self {
        let bound = entry.bound();
        let c = &entry.counters;
        SmppSessionBody {
            id: entry.id,
            bind: bound.as_ref().map(|(_, mode)| bind_word(*mode)),
            user: bound.map(|(user, _)| user),
            remote: entry.remote.to_string(),
            tls: entry.tls,
            since: rfc3339(entry.since),
            counters: SmppSessionCountersBody {
                submitted: c.submitted.load(Ordering::Relaxed),
                refused: c.refused.load(Ordering::Relaxed),
                delivered: c.delivered.load(Ordering::Relaxed),
            },
        }
    }
}

/// `GET /v1/smpp-sessions`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct SmppSessionsBody {
    /// Every open connection, oldest first.
    pub sessions: Vec<SmppSessionBody>,
}

/// `DELETE /v1/smpp-sessions/{id}` (202).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(super) struct UnbindingBody {
    /// The session.
    pub id: u64,
    /// Always `true`: the unbind was asked for; the connection closes after it.
    pub unbinding: bool,
}

/// The bind mode as the API spells it.
fn bind_word(mode: BindMode) -> &'static str {
    match mode {
        BindMode::Transmitter => "transmitter",
        BindMode::Receiver => "receiver",
        BindMode::Transceiver => "transceiver",
    }
}

fn unavailable(e: impl std::fmt::Display) -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
}

fn server(state: &AppState) -> Option<&Arc<SmppServer>> {
    state.services.smpp.as_ref()
}

/// Every user with its balance, bound sessions, limits and counters, sorted by name. 503
/// when the balances cannot be read: a limited user shown as unlimited would lie.
pub(super) async fn get_users(
    State(state): State<Arc<AppState>>,
) -> Result<Json<SmppUsersBody>, ApiError> {
    let Some(smpp) = server(&state) else {
        return Ok(Json(SmppUsersBody { users: Vec::new() }));
    };
    let credits: HashMap<String, u64> = state
        .services
        .store
        .credits()
        .await
        .map_err(unavailable)?
        .into_iter()
        .collect();
    let users = smpp
        .users
        .all()
        .iter()
        .map(|u| SmppUserBody::new(u, credits.get(&u.name).copied()))
        .collect();
    Ok(Json(SmppUsersBody { users }))
}

/// The `add` of a credits body: an integer 1..=[`MAX_CREDITS`], and no other field.
fn credits_to_add(body: &Value) -> Result<u64, ApiError> {
    let Some(object) = body.as_object() else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "the body must be {\"add\": N}",
        ));
    };
    if let Some(unknown) = object.keys().find(|k| k.as_str() != "add") {
        return Err(ApiError::field(
            unknown.clone(),
            "unknown field; the body is {\"add\": N}",
        ));
    }
    let max = MAX_CREDITS.unsigned_abs();
    match object.get("add").and_then(Value::as_u64) {
        Some(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(ApiError::field(
            "add",
            format!("required: an integer from 1 to {max} (segments)"),
        )),
    }
}

/// Adds credits to a user's balance; answered once the store committed the new balance.
/// 404 for an unknown user, 409 for one without a balance (no `credits` configured: it is
/// unlimited, and adding to nothing would be a silent no-op).
pub(super) async fn post_credits(
    State(state): State<Arc<AppState>>,
    name: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    // A path that is not UTF-8 once percent-decoded names no user either.
    let name = name.map(|Path(n)| n).unwrap_or_default();
    let add = credits_to_add(&state.read_json(&headers, body).await?)?;
    let known = server(&state).is_some_and(|s| s.users.all().iter().any(|u| u.name == name));
    if !known {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no SMPP user {name:?}: see GET /v1/smpp-users"),
        ));
    }
    match state.services.store.credits_add(name.clone(), add).await {
        Ok(Some(credits)) => Ok(Json(CreditsBody { name, credits }).into_response()),
        Ok(None) => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("SMPP user {name:?} has no credit limit (credits is not configured): there is no balance to add to"),
        )),
        Err(e) => Err(unavailable(e)),
    }
}

/// Every open connection, bound or not, oldest first.
pub(super) async fn get_sessions(State(state): State<Arc<AppState>>) -> Json<SmppSessionsBody> {
    let sessions = server(&state)
        .map(|s| s.board.all())
        .unwrap_or_default()
        .iter()
        .map(|e| SmppSessionBody::new(e))
        .collect();
    Json(SmppSessionsBody { sessions })
}

/// Asks a connection to unbind: it sends unbind to the client and closes once answered (or
/// after its timeout). 202: the request is taken, the connection is not closed yet.
pub(super) async fn delete_session(
    State(state): State<Arc<AppState>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    // A rejected path (not UTF-8 once percent-decoded) is no id either: the same JSON 400,
    // as GET /v1/messages/{id} answers.
    let id = id.map(|Path(id)| id).unwrap_or_default();
    let parsed = (!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
        .then(|| id.parse::<u64>().ok())
        .flatten();
    let Some(id) = parsed else {
        return Err(ApiError::field(
            "id",
            "not a session id: ids are decimal integers, as GET /v1/smpp-sessions lists them",
        ));
    };
    let Some(entry) = server(&state).and_then(|s| s.board.get(id)) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no SMPP session {id}: closed, or never opened"),
        ));
    };
    entry.unbind.notify_one();
    let body = UnbindingBody {
        id,
        unbinding: true,
    };
    Ok((StatusCode::ACCEPTED, Json(body)).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_credits_body_is_one_integer_in_range() {
        assert_eq!(credits_to_add(&json!({"add": 1})).unwrap(), 1);
        let max = MAX_CREDITS.unsigned_abs();
        assert_eq!(credits_to_add(&json!({"add": max})).unwrap(), max);
        for wrong in [
            json!({"add": 0}),
            json!({"add": -1}),
            json!({"add": 1.5}),
            json!({"add": "5"}),
            json!({"add": max + 1}),
            json!({}),
        ] {
            let e = credits_to_add(&wrong).unwrap_err();
            assert_eq!(e.field.as_deref(), Some("add"), "{wrong}");
        }
        let e = credits_to_add(&json!({"add": 1, "more": 2})).unwrap_err();
        assert_eq!(e.field.as_deref(), Some("more"));
        let e = credits_to_add(&json!([1])).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn bind_modes_have_the_documented_words() {
        assert_eq!(bind_word(BindMode::Transmitter), "transmitter");
        assert_eq!(bind_word(BindMode::Receiver), "receiver");
        assert_eq!(bind_word(BindMode::Transceiver), "transceiver");
    }
}
