//! `POST /v1/messages`, `POST /v1/messages/batch` and `GET /v1/messages/{id}`.
//!
//! A 202 is sent only after the message is committed to the store (see
//! [`crate::daemon::dispatch::Dispatcher`]); a batch is committed in one transaction.

use super::error::ApiError;
use super::request;
use super::AppState;
use crate::daemon::dispatch::DispatchError;
use crate::daemon::dispatch::MessageRequest;
use crate::daemon::router::RouteError;
use crate::daemon::store::{rfc3339, Accepted, AcceptedMessage, MessageId, MessageRecord, Refused};
use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The most messages one batch may hold.
pub(super) const MAX_BATCH: usize = 1000;

/// The header carrying an idempotency key.
pub const IDEMPOTENCY_HEADER: &str = "Idempotency-Key";

/// The answer for an accepted message (202, or 200 for a repeat of an idempotency key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AcceptedBody {
    /// The message's id.
    pub id: String,
    /// How many submit_sm it takes.
    pub segments: usize,
    /// The channel chosen for it.
    pub channel: String,
    /// The coding's word.
    pub encoding: String,
    /// data_coding.
    pub data_coding: u8,
}

impl From<AcceptedMessage> for AcceptedBody {
    fn from(a: AcceptedMessage) -> Self {
        AcceptedBody {
            id: a.id.to_string(),
            segments: a.segments,
            channel: a.channel,
            encoding: a.encoding,
            data_coding: a.data_coding,
        }
    }
}

/// One item of a batch answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum BatchItem {
    /// Accepted (status 202, or 200 for a repeated idempotency key).
    Accepted {
        /// Its place in the request.
        index: usize,
        /// 202 or 200.
        status: u16,
        /// What a single request would have answered.
        #[serde(flatten)]
        accepted: AcceptedBody,
    },
    /// Refused.
    Refused {
        /// Its place in the request.
        index: usize,
        /// The status a single request would have got.
        status: u16,
        /// Why.
        error: String,
        /// The field at fault, as `messages[i].field`.
        field: Option<String>,
    },
}

/// The answer to a batch (207).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchBody {
    /// Items accepted.
    pub accepted: usize,
    /// Items refused.
    pub rejected: usize,
    /// One per item, in order.
    pub results: Vec<BatchItem>,
}

/// One segment in `GET /v1/messages/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SegmentBody {
    /// The SMSC's id, once acknowledged.
    pub smsc_message_id: Option<String>,
    /// The latest receipt's state.
    pub receipt: Option<String>,
    /// The latest receipt's error code.
    pub receipt_error: Option<String>,
}

/// Why a message failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailureBody {
    /// The error response's command_status.
    pub status: Option<u32>,
    /// The same in hex (`0x0000000b`).
    pub status_hex: Option<String>,
    /// What happened.
    pub reason: String,
}

/// `GET /v1/messages/{id}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MessageBody {
    /// The id.
    pub id: String,
    /// queued, submitted, delivered, failed or expired.
    pub state: &'static str,
    /// The channel that sent it (or was chosen while it waits).
    pub channel: String,
    /// The destination.
    pub to: String,
    /// The source, when given.
    pub from: Option<String>,
    /// Whether a receipt was asked for.
    pub delivery_report: bool,
    /// One per segment.
    pub segments: Vec<SegmentBody>,
    /// Why it failed.
    pub failure: Option<FailureBody>,
    /// When each state was entered.
    pub timestamps: BTreeMap<&'static str, String>,
    /// When its validity ends.
    pub expires_at: String,
}

impl From<MessageRecord> for MessageBody {
    fn from(record: MessageRecord) -> Self {
        let mut timestamps = BTreeMap::new();
        for t in &record.history {
            timestamps
                .entry(t.state.as_str())
                .or_insert_with(|| rfc3339(t.at));
        }
        MessageBody {
            id: record.id.to_string(),
            state: record.state.as_str(),
            channel: record.channel,
            to: record.to,
            from: record.from,
            delivery_report: record.delivery_report,
            segments: record
                .segments
                .into_iter()
                .map(|s| SegmentBody {
                    smsc_message_id: s.smsc_message_id,
                    receipt: s.receipt.map(|r| r.as_str().to_string()),
                    receipt_error: s.receipt_error,
                })
                .collect(),
            failure: record.failure.map(|f| FailureBody {
                status: f.status,
                status_hex: f.status.map(|s| format!("0x{s:08x}")),
                reason: f.reason,
            }),
            timestamps,
            expires_at: rfc3339(record.expires_at),
        }
    }
}

fn unavailable(reason: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, reason)
}

/// The answer for one refused message; `key_field` names where its idempotency key was.
fn refusal(e: DispatchError, key_field: &str) -> ApiError {
    match e {
        DispatchError::Route(
            e @ (RouteError::UnknownChannel { .. } | RouteError::ReceiverOnly(_)),
        ) => ApiError::field("channel", e.to_string()),
        DispatchError::Route(e @ RouteError::Unavailable(_)) => unavailable(e.to_string()),
        DispatchError::Content { field, reason } => ApiError::field(field, reason),
        DispatchError::Refused(e @ Refused::QueueFull { .. }) => unavailable(e.to_string()),
        DispatchError::Refused(e @ Refused::NoCredit { .. }) => {
            ApiError::new(StatusCode::PAYMENT_REQUIRED, e.to_string())
        }
        DispatchError::Refused(e @ Refused::KeyReused { .. }) => ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            error: e.to_string(),
            field: Some(key_field.to_string()),
        },
        DispatchError::Store(e) => unavailable(e.to_string()),
    }
}

fn accepted_status(a: &Accepted) -> (StatusCode, AcceptedBody) {
    match a {
        Accepted::New(m) => (StatusCode::ACCEPTED, m.clone().into()),
        Accepted::Repeat(m) => (StatusCode::OK, m.clone().into()),
    }
}

/// `POST /v1/messages`: 202 once committed; with an `Idempotency-Key` seen before, 200 and
/// the first answer.
pub(super) async fn post_message(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let value = state.read_json(&headers, body).await?;
    let mut request = request::parse(&value)?;
    let mut key_field = "idempotency_key";
    if let Some(key) = headers.get(IDEMPOTENCY_HEADER) {
        let key = key
            .to_str()
            .map_err(|_| ApiError::field(IDEMPOTENCY_HEADER, "must be printable ASCII"))?;
        request.idempotency = Some(request::idempotency(key, &value, IDEMPOTENCY_HEADER)?);
        key_field = IDEMPOTENCY_HEADER;
    }
    let mut results = state
        .dispatcher
        .accept(vec![request])
        .await
        .map_err(|e| unavailable(e.to_string()))?;
    match results.pop() {
        Some(Ok(accepted)) => {
            let (status, body) = accepted_status(&accepted);
            Ok((status, Json(body)).into_response())
        }
        Some(Err(e)) => Err(refusal(e, key_field)),
        None => Err(unavailable("the store gave no answer")),
    }
}

/// `POST /v1/messages/batch`: `{"messages": [...]}`; each item is accepted or refused on
/// its own, all accepted ones in one commit, and the answer (207) lists one result per item,
/// in order.
pub(super) async fn post_batch(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let value = state.read_json(&headers, body).await?;
    let Some(object) = value.as_object() else {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "the body must be {\"messages\": [...]}",
        ));
    };
    if let Some(unknown) = object.keys().find(|k| k.as_str() != "messages") {
        return Err(ApiError::field(
            unknown.clone(),
            "unknown field; the body is {\"messages\": [...]}",
        ));
    }
    let Some(items) = object.get("messages").and_then(Value::as_array) else {
        return Err(ApiError::field(
            "messages",
            "required: an array of 1-1000 message objects",
        ));
    };
    if items.is_empty() || items.len() > MAX_BATCH {
        return Err(ApiError::field(
            "messages",
            format!(
                "holds {} messages; a batch holds 1-{MAX_BATCH}",
                items.len()
            ),
        ));
    }
    let parsed: Vec<Result<MessageRequest, ApiError>> = items.iter().map(request::parse).collect();
    let requests: Vec<MessageRequest> = parsed.iter().filter_map(|p| p.clone().ok()).collect();
    let mut outcomes = state
        .dispatcher
        .accept(requests)
        .await
        .map_err(|e| unavailable(e.to_string()))?
        .into_iter();
    let mut accepted = 0usize;
    let results: Vec<BatchItem> = parsed
        .into_iter()
        .enumerate()
        .map(|(index, p)| {
            let outcome = p.and_then(|_| match outcomes.next() {
                Some(Ok(a)) => Ok(a),
                Some(Err(e)) => Err(refusal(e, "idempotency_key")),
                None => Err(unavailable("the store gave no answer")),
            });
            match outcome {
                Ok(a) => {
                    accepted += 1;
                    let (status, body) = accepted_status(&a);
                    BatchItem::Accepted {
                        index,
                        status: status.as_u16(),
                        accepted: body,
                    }
                }
                Err(e) => {
                    let e = e.within(&format!("messages[{index}]"));
                    BatchItem::Refused {
                        index,
                        status: e.status.as_u16(),
                        error: e.error,
                        field: e.field,
                    }
                }
            }
        })
        .collect();
    let body = BatchBody {
        accepted,
        rejected: items.len() - accepted,
        results,
    };
    Ok((StatusCode::MULTI_STATUS, Json(body)).into_response())
}

/// `GET /v1/messages/{id}`.
pub(super) async fn get_message(
    State(state): State<Arc<AppState>>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    // A rejected path (not UTF-8 once percent-decoded) is no id either: the same JSON 400,
    // not axum's plain-text rejection.
    let id = id.map(|Path(id)| id).unwrap_or_default();
    let Some(id) = MessageId::parse(&id) else {
        return Err(ApiError::field(
            "id",
            "not a message id: ids are 32 hexadecimal digits",
        ));
    };
    match state.services.store.get(&id).await {
        Ok(Some(record)) => Ok(Json(MessageBody::from(record)).into_response()),
        Ok(None) => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no message {id}: never accepted, or finished and aged out"),
        )),
        Err(e) => Err(unavailable(e.to_string())),
    }
}
