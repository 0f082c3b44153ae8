//! The body of `POST /v1/messages` (and of each batch item), checked field by field.
//!
//! The body is hostile until proven otherwise: it is read as a generic JSON value (after the
//! size limit), and every field is taken out by hand so that each 400 names the field and
//! says what is wrong with it. Unknown fields are refused too: a typo such as `delivery_reprot`
//! must not silently send a message without the receipt the client asked for.
//!
//! A namespace of its own under `api`: its items ([`parse`], [`FIELDS`], [`ENCODINGS`]) are
//! named for the body they check, and the OpenAPI description's tests check them one by one.

use super::error::ApiError;
use crate::daemon::store::Idempotency;
use axum::http::StatusCode;
use base64::Engine as _;
use serde_json::{Map, Value};
use std::time::Duration;

/// Every field a message object may have (`idempotency_key` only in a batch item; a single
/// message takes the `Idempotency-Key` header).
pub const FIELDS: [&str; 9] = [
    "to",
    "from",
    "text",
    "binary",
    "channel",
    "encoding",
    "delivery_report",
    "validity",
    "idempotency_key",
];

/// The longest validity period SMPP's relative time format can express: 99 days, 23:59:59.
pub const MAX_VALIDITY_SECS: u64 = 99 * 86_400 + 86_399;

/// The longest idempotency key accepted.
pub const MAX_IDEMPOTENCY_KEY: usize = 255;

use crate::daemon::dispatch::{Content, Encoding, MessageRequest};

/// The accepted words for `encoding`.
pub const ENCODINGS: [(&str, Encoding); 5] = [
    ("auto", Encoding::Auto),
    ("gsm7", Encoding::Gsm7),
    ("ascii", Encoding::Ascii),
    ("latin1", Encoding::Latin1),
    ("ucs2", Encoding::Ucs2),
];

/// An idempotency key as given (header or batch item), checked, with the fingerprint of the
/// request it came with; `field` names where it came from for errors.
pub fn idempotency(key: &str, request: &Value, field: &str) -> Result<Idempotency, ApiError> {
    if key.is_empty()
        || key.len() > MAX_IDEMPOTENCY_KEY
        || !key.bytes().all(|b| b.is_ascii_graphic())
    {
        return Err(ApiError::field(
            field,
            format!("must be 1-{MAX_IDEMPOTENCY_KEY} printable ASCII characters without spaces"),
        ));
    }
    // serde_json's maps are sorted: the same request always gives the same text.
    let mut canonical = request.clone();
    if let Value::Object(o) = &mut canonical {
        o.remove("idempotency_key");
    }
    let digest = ring::digest::digest(&ring::digest::SHA256, canonical.to_string().as_bytes());
    let fingerprint = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    Ok(Idempotency {
        key: key.to_string(),
        fingerprint,
    })
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A field's value, `None` when absent or null.
fn field<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object.get(key).filter(|v| !v.is_null())
}

fn string<'a>(object: &'a Map<String, Value>, key: &str) -> Result<Option<&'a str>, ApiError> {
    match field(object, key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(ApiError::field(
            key,
            format!("must be a string, not {}", type_name(other)),
        )),
    }
}

/// A destination: an MSISDN of 1-20 digits, optionally with a leading `+`.
fn is_number(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    (1..=20).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

/// A source: a number as above, or an alphanumeric sender id of at most 11 characters.
fn is_sender(s: &str) -> bool {
    is_number(s)
        || ((1..=11).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b' ' | b'.' | b'-' | b'_')))
}

/// Checks one message object.
pub fn parse(value: &Value) -> Result<MessageRequest, ApiError> {
    let Value::Object(object) = value else {
        // The whole message is at fault, not one of its fields: no `field` (a batch names
        // the item, `messages[3]`).
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("a message must be a JSON object, not {}", type_name(value)),
        ));
    };
    if let Some(unknown) = object.keys().find(|k| !FIELDS.contains(&k.as_str())) {
        return Err(ApiError::field(
            unknown.clone(),
            format!("unknown field; expected one of: {}", FIELDS.join(", ")),
        ));
    }
    let to = match string(object, "to")? {
        None => return Err(ApiError::field("to", "required: the destination number")),
        Some(s) if is_number(s) => s.to_string(),
        Some(_) => {
            return Err(ApiError::field(
                "to",
                "must be 1-20 digits with an optional leading +",
            ))
        }
    };
    let from = match string(object, "from")? {
        None => None,
        Some(s) if is_sender(s) => Some(s.to_string()),
        Some(_) => {
            return Err(ApiError::field(
                "from",
                "must be 1-20 digits with an optional leading +, or 1-11 letters, digits, spaces, '.', '-' or '_'",
            ))
        }
    };
    let text = string(object, "text")?;
    let binary = string(object, "binary")?;
    let content = match (text, binary) {
        (Some(_), Some(_)) => {
            return Err(ApiError::field(
                "binary",
                "give either text or binary, not both",
            ))
        }
        (None, None) => return Err(ApiError::field("text", "required: give text or binary")),
        (Some(""), None) => {
            return Err(ApiError::field(
                "text",
                "must not be empty: an SMS needs at least one character",
            ))
        }
        (Some(t), None) => Content::Text(t.to_string()),
        (None, Some(b)) => {
            let data = base64::engine::general_purpose::STANDARD
                .decode(b)
                .map_err(|e| ApiError::field("binary", format!("not valid base64: {e}")))?;
            if data.is_empty() {
                return Err(ApiError::field("binary", "must not be empty"));
            }
            Content::Binary(data)
        }
    };
    let channel = string(object, "channel")?.map(str::to_string);
    let encoding = match string(object, "encoding")? {
        None => None,
        Some(word) => match ENCODINGS.iter().find(|(w, _)| w.eq_ignore_ascii_case(word)) {
            Some((_, e)) => Some(*e),
            None => {
                let words: Vec<&str> = ENCODINGS.iter().map(|(w, _)| *w).collect();
                return Err(ApiError::field(
                    "encoding",
                    format!("{word:?} is not one of: {}", words.join(", ")),
                ));
            }
        },
    };
    if encoding.is_some() && matches!(content, Content::Binary(_)) {
        return Err(ApiError::field(
            "encoding",
            "applies to text only; binary is always sent as 8-bit data",
        ));
    }
    let delivery_report = match field(object, "delivery_report") {
        None => None,
        Some(Value::Bool(b)) => Some(*b),
        Some(other) => {
            return Err(ApiError::field(
                "delivery_report",
                format!("must be true or false, not {}", type_name(other)),
            ))
        }
    };
    let validity = match field(object, "validity") {
        None => None,
        Some(v) => match v.as_u64() {
            Some(n) if (1..=MAX_VALIDITY_SECS).contains(&n) => Some(Duration::from_secs(n)),
            _ => {
                return Err(ApiError::field(
                    "validity",
                    format!("must be a whole number of seconds in 1-{MAX_VALIDITY_SECS}"),
                ))
            }
        },
    };
    let idempotency = match string(object, "idempotency_key")? {
        None => None,
        Some(key) => Some(idempotency(key, value, "idempotency_key")?),
    };
    Ok(MessageRequest {
        to,
        from,
        content,
        channel,
        encoding,
        delivery_report,
        validity,
        idempotency,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn error(v: Value) -> (String, String) {
        let e = parse(&v).unwrap_err();
        (e.field.unwrap_or_default(), e.error)
    }

    #[test]
    fn minimal_and_full_requests() {
        let r = parse(&json!({"to": "+441234567", "text": "hi"})).unwrap();
        assert_eq!(r.to, "+441234567");
        assert_eq!(r.content, Content::Text("hi".into()));
        let r = parse(&json!({
            "to": "1", "from": "ACME", "binary": "AAEC", "channel": "a",
            "delivery_report": false, "validity": 3600, "encoding": null
        }))
        .unwrap();
        assert_eq!(r.content, Content::Binary(vec![0, 1, 2]));
        assert_eq!(r.from.as_deref(), Some("ACME"));
        assert_eq!(r.validity, Some(Duration::from_secs(3600)));
        assert_eq!(r.delivery_report, Some(false));
    }

    #[test]
    fn each_bad_field_is_named() {
        let cases = [
            (json!({"text": "x"}), "to"),
            (json!({"to": 5, "text": "x"}), "to"),
            (json!({"to": "12ab", "text": "x"}), "to"),
            (
                json!({"to": "1", "from": "much-too-long-sender", "text": "x"}),
                "from",
            ),
            (json!({"to": "1"}), "text"),
            (json!({"to": "1", "text": "x", "binary": "AA=="}), "binary"),
            (json!({"to": "1", "binary": "***"}), "binary"),
            (json!({"to": "1", "binary": ""}), "binary"),
            (json!({"to": "1", "text": ""}), "text"),
            (
                json!({"to": "1", "text": "x", "encoding": "utf8"}),
                "encoding",
            ),
            (
                json!({"to": "1", "binary": "AA==", "encoding": "ucs2"}),
                "encoding",
            ),
            (
                json!({"to": "1", "text": "x", "delivery_report": "yes"}),
                "delivery_report",
            ),
            (json!({"to": "1", "text": "x", "validity": 0}), "validity"),
            (json!({"to": "1", "text": "x", "validity": -5}), "validity"),
            (json!({"to": "1", "text": "x", "validity": 1.5}), "validity"),
            (
                json!({"to": "1", "text": "x", "delivery_reprot": true}),
                "delivery_reprot",
            ),
        ];
        for (body, expected) in cases {
            let (field, message) = error(body.clone());
            assert_eq!(field, expected, "{body}: {message}");
            assert!(!message.is_empty());
        }
    }

    #[test]
    fn a_message_that_is_no_object_names_no_field() {
        for body in [json!([1]), json!("x"), json!(null), json!(5)] {
            let e = parse(&body).unwrap_err();
            assert_eq!(e.status, StatusCode::BAD_REQUEST);
            assert_eq!(e.field, None, "{body}");
            assert!(e.error.starts_with("a message must be a JSON object"));
        }
    }

    #[test]
    fn empty_text_is_refused_like_empty_binary() {
        let (field, message) = error(json!({"to": "1", "text": ""}));
        assert_eq!(field, "text");
        assert_eq!(
            message,
            "must not be empty: an SMS needs at least one character"
        );
        assert!(
            parse(&json!({"to": "1", "text": " "})).is_ok(),
            "a space is text"
        );
    }
}
