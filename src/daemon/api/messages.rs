//! `POST /v1/messages`, `POST /v1/messages/batch` and `GET /v1/messages/{id}`.

use super::error::ApiError;
use super::request::{self, Content, Encoding, MessageRequest};
use super::AppState;
use crate::config::{ChannelConfig, OutboundEncoding};
use crate::daemon::engine::{EnqueueError, OutboundRequest};
use crate::daemon::mask::mask_card_numbers;
use crate::daemon::router::RouteError;
use crate::daemon::store::{rfc3339, MessageId, MessageRecord, NewMessage, StoreError};
use crate::sms::{
    segment, segment_binary, Coding, CodingPolicy, Concatenation, MaxSegments, Segment,
    SegmentError, SegmentOptions,
};
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// The most messages one batch may hold.
pub const MAX_BATCH: usize = 1000;

/// What a caller gets back for an accepted message.
struct Accepted {
    id: MessageId,
    segments: usize,
    channel: String,
    coding: Coding,
}

impl Accepted {
    fn json(&self) -> Value {
        json!({
            "id": self.id.as_str(),
            "segments": self.segments,
            "channel": self.channel,
            "encoding": coding_word(self.coding),
            "data_coding": self.coding.data_coding(),
        })
    }
}

fn coding_word(coding: Coding) -> &'static str {
    match coding {
        Coding::Gsm7 => "gsm7",
        Coding::Ia5 => "ascii",
        Coding::Latin1 => "latin1",
        Coding::Binary => "binary",
        Coding::Ucs2 => "ucs2",
    }
}

fn policy(encoding: Option<Encoding>, channel: &ChannelConfig) -> CodingPolicy {
    let forced = match encoding {
        Some(Encoding::Auto) => return CodingPolicy::Auto,
        Some(Encoding::Gsm7) => Coding::Gsm7,
        Some(Encoding::Ascii) => Coding::Ia5,
        Some(Encoding::Latin1) => Coding::Latin1,
        Some(Encoding::Ucs2) => Coding::Ucs2,
        None => match channel.outbound_encoding {
            OutboundEncoding::Auto => return CodingPolicy::Auto,
            OutboundEncoding::Gsm7 => Coding::Gsm7,
            OutboundEncoding::Ascii => Coding::Ia5,
            OutboundEncoding::Latin1 => Coding::Latin1,
            OutboundEncoding::Ucs2 => Coding::Ucs2,
        },
    };
    CodingPolicy::Forced(forced)
}

/// Encodes and splits the content as `channel` sends it; a 400 naming the content field when
/// it cannot be (a character the coding lacks, too many segments).
fn build_segments(
    state: &AppState,
    request: &MessageRequest,
    channel: &ChannelConfig,
) -> Result<(Vec<Segment>, Coding), ApiError> {
    let concatenation = if channel.use_message_payload {
        Concatenation::MessagePayload
    } else {
        let reference = state.udh_reference.fetch_add(1, Ordering::Relaxed) as u8;
        Concatenation::Udh8 { reference }
    };
    let options = SegmentOptions {
        policy: policy(request.encoding, channel),
        concatenation,
        max_segments: MaxSegments::try_new(usize::from(channel.max_segments)).unwrap_or_default(),
        ..SegmentOptions::new(concatenation)
    };
    let (result, coding, field) = match &request.content {
        Content::Text(text) => {
            // An empty text is sent as the channel's x-smpp-empty-message, as configured.
            let text = if text.is_empty() {
                channel.empty_message.as_str()
            } else {
                text
            };
            let coding = options.policy.choose(text);
            (segment(text, &options), coding, "text")
        }
        Content::Binary(data) => (segment_binary(data, &options), Coding::Binary, "binary"),
    };
    let explain = |e: SegmentError| match e {
        SegmentError::TooManySegments { .. } => {
            format!("{e} (channel {}'s x-smpp-sar-max-segments)", channel.name)
        }
        other => other.to_string(),
    };
    result
        .map(|segments| (segments, coding))
        .map_err(|e| ApiError::field(field, explain(e)))
}

fn unavailable(reason: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::SERVICE_UNAVAILABLE, reason)
}

/// Routes, validates against the chosen channel, stores and enqueues one message.
fn accept(state: &AppState, request: MessageRequest) -> Result<Accepted, ApiError> {
    let statuses = state.engine.channels();
    let candidates = match state
        .router
        .candidates(&statuses, request.channel.as_deref())
    {
        Ok(candidates) => candidates,
        Err(e @ RouteError::UnknownChannel { .. }) => {
            return Err(ApiError::field("channel", e.to_string()))
        }
        Err(RouteError::Unavailable(reason)) => {
            // A request that no channel could ever send is the client's to fix first.
            let config = request
                .channel
                .as_deref()
                .and_then(|n| state.channel_config(Some(n)))
                .or_else(|| state.channel_config(None));
            if let Some(config) = config {
                build_segments(state, &request, &config)?;
            }
            return Err(unavailable(reason));
        }
    };
    let mut last = String::from("no configured channel can send now");
    for name in candidates {
        let Some(config) = state.channel_config(Some(&name)) else {
            continue;
        };
        let (segments, coding) = build_segments(state, &request, &config)?;
        let id = MessageId::generate();
        let count = segments.len();
        let stored = state.services.store.insert(NewMessage {
            id: id.clone(),
            channel: name.clone(),
            to: request.to.clone(),
            from: request.from.clone(),
            segments: count,
            delivery_report: request.delivery_report.unwrap_or(config.delivery_report),
        });
        match stored {
            Ok(()) => {}
            Err(e @ StoreError::Full { .. }) => return Err(unavailable(e.to_string())),
            Err(e @ StoreError::Duplicate(_)) => {
                return Err(ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    e.to_string(),
                ))
            }
        }
        let outbound = OutboundRequest {
            id: id.clone(),
            to: request.to.clone(),
            from: request.from.clone(),
            segments,
            delivery_report: request.delivery_report.unwrap_or(config.delivery_report),
            validity: request.validity,
        };
        match state.engine.enqueue(&name, outbound) {
            Ok(()) => {
                if config.debug_mode {
                    // x-debug-mode: texts reach the log only at debug level, card numbers masked.
                    if let Content::Text(text) = &request.content {
                        tracing::debug!(
                            channel = %name,
                            event = "outbound_text",
                            id = %id,
                            text = %mask_card_numbers(text),
                            "outbound message text"
                        );
                    }
                }
                return Ok(Accepted {
                    id,
                    segments: count,
                    channel: name,
                    coding,
                });
            }
            Err(e) => {
                state.services.store.remove(&id);
                last = match e {
                    EnqueueError::Full { .. } | EnqueueError::Down { .. } => e.to_string(),
                    EnqueueError::Unknown { .. } => format!("engine: {e}"),
                };
            }
        }
    }
    Err(unavailable(last))
}

/// `POST /v1/messages`.
pub(super) async fn post_message(
    State(state): State<Arc<AppState>>,
    body: Body,
) -> Result<Response, ApiError> {
    let value = state.read_json(body).await?;
    let request = request::parse(&value)?;
    let accepted = accept(&state, request)?;
    Ok((StatusCode::ACCEPTED, Json(accepted.json())).into_response())
}

/// `POST /v1/messages/batch`: `{"messages": [...]}`; each item is accepted or refused on
/// its own, and the answer (207) lists one result per item, in order.
pub(super) async fn post_batch(
    State(state): State<Arc<AppState>>,
    body: Body,
) -> Result<Response, ApiError> {
    let value = state.read_json(body).await?;
    let Some(object) = value.as_object() else {
        return Err(ApiError::field(
            "",
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
    let mut accepted = 0usize;
    let results: Vec<Value> = items
        .iter()
        .enumerate()
        .map(|(index, item)| {
            let outcome = request::parse(item).and_then(|r| accept(&state, r));
            match outcome {
                Ok(a) => {
                    accepted += 1;
                    let mut v = a.json();
                    v["index"] = json!(index);
                    v["status"] = json!(202);
                    v
                }
                Err(e) => {
                    let e = e.within(&format!("messages[{index}]"));
                    json!({
                        "index": index,
                        "status": e.status.as_u16(),
                        "error": e.error,
                        "field": e.field,
                    })
                }
            }
        })
        .collect();
    let body = json!({
        "accepted": accepted,
        "rejected": items.len() - accepted,
        "results": results,
    });
    Ok((StatusCode::MULTI_STATUS, Json(body)).into_response())
}

fn record_json(record: &MessageRecord) -> Value {
    let segments: Vec<Value> = record
        .segments
        .iter()
        .map(|s| {
            json!({
                "smsc_message_id": s.smsc_message_id,
                "receipt": s.receipt.as_ref().map(|r| r.as_str()),
                "receipt_error": s.receipt_error,
            })
        })
        .collect();
    let mut timestamps = serde_json::Map::new();
    for t in &record.history {
        timestamps
            .entry(t.state.as_str())
            .or_insert_with(|| json!(rfc3339(t.at)));
    }
    let failure = record.failure.as_ref().map(|f| {
        json!({
            "status": f.status,
            "status_hex": f.status.map(|s| format!("0x{s:08x}")),
            "reason": f.reason,
        })
    });
    json!({
        "id": record.id.as_str(),
        "state": record.state.as_str(),
        "channel": record.channel,
        "to": record.to,
        "from": record.from,
        "delivery_report": record.delivery_report,
        "segments": segments,
        "failure": failure,
        "timestamps": timestamps,
    })
}

/// `GET /v1/messages/{id}`.
pub(super) async fn get_message(
    State(state): State<Arc<AppState>>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let Some(id) = MessageId::parse(&id) else {
        return Err(ApiError::field(
            "id",
            "not a message id: ids are 32 hexadecimal digits",
        ));
    };
    match state.services.store.get(&id) {
        Some(record) => Ok(Json(record_json(&record)).into_response()),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no message {id}: never accepted, or finished and aged out"),
        )),
    }
}
