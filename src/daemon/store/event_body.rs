//! The JSON document of a queued event: the caller's fields and those the store adds.
//!
//! An event arrives as a map built by the caller (a receipt's fields, an inbound message's)
//! and leaves for the outbox with the fields only the store knows (the message a receipt
//! matched, a fresh `event_id`). The store writes both into one document straight from the
//! borrowed map: the caller's changes stay whole for a retry of the transaction, and the
//! writer, which every event of every channel passes through, neither copies nor rebuilds
//! the map.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};
use std::time::SystemTime;

/// `base`'s fields, then `added`, then `event_id`; an added field replaces a field of `base`
/// of the same name.
pub(crate) struct EventBody<'a> {
    /// The caller's fields.
    pub base: &'a Map<String, Value>,
    /// The store's fields.
    pub added: &'a [(&'static str, Field<'a>)],
    /// The event's stable id.
    pub event_id: &'a str,
}

/// The value of a field the store adds: borrowed, so adding it allocates nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Field<'a> {
    /// A string.
    Text(&'a str),
    /// A number.
    Number(usize),
    /// `null`.
    Null,
}

impl Serialize for Field<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Field::Text(text) => serializer.serialize_str(text),
            Field::Number(n) => serializer.serialize_u64(*n as u64),
            Field::Null => serializer.serialize_unit(),
        }
    }
}

/// The name of the field every event carries.
const EVENT_ID: &str = "event_id";

impl EventBody<'_> {
    /// The document as bytes.
    pub(crate) fn to_vec(&self) -> serde_json::Result<Vec<u8>> {
        serde_json::to_vec(self)
    }
}

impl Serialize for EventBody<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (name, value) in self.base {
            if name != EVENT_ID && !self.added.iter().any(|(added, _)| added == name) {
                map.serialize_entry(name, value)?;
            }
        }
        for (name, value) in self.added {
            map.serialize_entry(name, value)?;
        }
        map.serialize_entry(EVENT_ID, self.event_id)?;
        map.end()
    }
}

/// The webhook's event for a message that expired before it was sent.
pub(crate) fn expired_event(
    channel: String,
    message_id: String,
    at: SystemTime,
) -> Map<String, Value> {
    let mut event = Map::new();
    event.insert("type".into(), Value::from("expired"));
    event.insert("channel".into(), Value::from(channel));
    event.insert("message_id".into(), Value::from(message_id));
    event.insert("message_state".into(), Value::from("expired"));
    event.insert(
        "expired_at".into(),
        Value::from(crate::daemon::store::rfc3339(at)),
    );
    event
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parsed(body: &EventBody<'_>) -> Value {
        serde_json::from_slice(&body.to_vec().unwrap()).unwrap()
    }

    #[test]
    fn an_expiry_names_its_channel_message_and_time() {
        let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let event = expired_event("smsc-a".into(), "m1".into(), at);
        assert_eq!(
            Value::Object(event),
            json!({"type": "expired", "channel": "smsc-a", "message_id": "m1",
                "message_state": "expired", "expired_at": "2023-11-14T22:13:20.000Z"})
        );
    }

    #[test]
    fn the_added_fields_join_the_callers() {
        let Value::Object(base) = json!({"type": "receipt", "channel": "a", "n": 1}) else {
            unreachable!()
        };
        let added = [("segment", Field::Null), ("m", Field::Text("m1"))];
        let body = EventBody {
            base: &base,
            added: &added,
            event_id: "e1",
        };
        assert_eq!(
            parsed(&body),
            json!({"type": "receipt", "channel": "a", "n": 1, "event_id": "e1", "segment": null,
                "m": "m1"})
        );
    }

    #[test]
    fn the_stores_fields_replace_the_callers_fields_of_those_names() {
        let Value::Object(base) =
            json!({"event_id": "old", "n": 1, "x": "a \"quoted\" \u{1} text"})
        else {
            unreachable!()
        };
        let added = [("n", Field::Number(7))];
        let bytes = EventBody {
            base: &base,
            added: &added,
            event_id: "new",
        }
        .to_vec()
        .unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(text.matches("event_id").count(), 1, "{text}");
        assert_eq!(text.matches("\"n\"").count(), 1, "{text}");
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({"event_id": "new", "n": 7, "x": "a \"quoted\" \u{1} text"})
        );
    }

    #[test]
    fn nothing_added_is_the_callers_map_and_its_id() {
        let Value::Object(mut base) = json!({"a": [1, 2], "b": {"c": null}}) else {
            unreachable!()
        };
        let body = EventBody {
            base: &base,
            added: &[],
            event_id: "e",
        };
        let bytes = body.to_vec().unwrap();
        base.insert("event_id".into(), "e".into());
        assert_eq!(bytes, serde_json::to_vec(&base).unwrap());
    }
}
