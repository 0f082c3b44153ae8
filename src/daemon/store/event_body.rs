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

/// `base`'s fields, then `added`; an added field replaces a field of `base` of the same name.
pub(crate) struct EventBody<'a> {
    /// The caller's fields.
    pub base: &'a Map<String, Value>,
    /// The store's fields.
    pub added: &'a [(&'static str, Value)],
}

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
            if !self.added.iter().any(|(added, _)| added == name) {
                map.serialize_entry(name, value)?;
            }
        }
        for (name, value) in self.added {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parsed(body: &EventBody<'_>) -> Value {
        serde_json::from_slice(&body.to_vec().unwrap()).unwrap()
    }

    #[test]
    fn the_added_fields_join_the_callers() {
        let Value::Object(base) = json!({"type": "receipt", "channel": "a", "n": 1}) else {
            unreachable!()
        };
        let added = [("event_id", Value::from("e1")), ("segment", Value::Null)];
        let body = EventBody {
            base: &base,
            added: &added,
        };
        assert_eq!(
            parsed(&body),
            json!({"type": "receipt", "channel": "a", "n": 1, "event_id": "e1", "segment": null})
        );
    }

    #[test]
    fn an_added_field_replaces_the_callers_field_of_that_name() {
        let Value::Object(base) = json!({"event_id": "old", "x": "a \"quoted\" \u{1} text"}) else {
            unreachable!()
        };
        let added = [("event_id", Value::from("new"))];
        let bytes = EventBody {
            base: &base,
            added: &added,
        }
        .to_vec()
        .unwrap();
        let text = String::from_utf8(bytes).unwrap();
        assert_eq!(text.matches("event_id").count(), 1, "{text}");
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            json!({"event_id": "new", "x": "a \"quoted\" \u{1} text"})
        );
    }

    #[test]
    fn nothing_added_is_the_callers_map() {
        let Value::Object(base) = json!({"a": [1, 2], "b": {"c": null}}) else {
            unreachable!()
        };
        let body = EventBody {
            base: &base,
            added: &[],
        };
        assert_eq!(body.to_vec().unwrap(), serde_json::to_vec(&base).unwrap());
    }
}
