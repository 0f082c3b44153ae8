//! The deliver_sm made from an SMPP user's outbox event: a receipt of one of the user's
//! messages ([`USER_RECEIPT`]) or an inbound message routed to it ([`USER_MO`]).
//!
//! The outbox keeps JSON (one outbox serves the webhook and the users); this is where it
//! becomes a PDU again, just before a receiver bind of the user gets it. An event that does
//! not read is an error naming its field, never a panic: the body came from disk.

use crate::codec::pdu::DeliverSm;
use crate::codec::{
    COctetString, DataCoding, EsmClass, ShortMessage, Tlv, TlvTag, Tlvs, ValueError,
};
use crate::daemon::store::{USER_MO, USER_RECEIPT};
use crate::sms::{yymmddhhmm, DeliveryState};
use serde_json::{Map, Value};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Why an outbox event cannot become a deliver_sm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DeliverError {
    /// The body is not a JSON object.
    #[error("the event is not a JSON object: {0}")]
    NotJson(String),
    /// A field the event type needs is absent.
    #[error("the event has no `{field}`")]
    Missing {
        /// The field.
        field: &'static str,
    },
    /// A field holds a value of the wrong kind.
    #[error("the event's `{field}` is not {expected}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What it should hold.
        expected: &'static str,
    },
    /// A field's value does not fit the PDU field it goes in.
    #[error("the event's `{field}` does not fit in a deliver_sm: {error}")]
    TooLong {
        /// The field.
        field: &'static str,
        /// What the codec said.
        error: ValueError,
    },
    /// The event is of a type no user receives.
    #[error("the event's type {0:?} is not one an SMPP user receives")]
    UnknownType(String),
}

/// The deliver_sm for the outbox event `event` (its body, as the store keeps it).
pub(crate) fn deliver_sm(event: &[u8]) -> Result<DeliverSm, DeliverError> {
    let event: Map<String, Value> =
        serde_json::from_slice(event).map_err(|e| DeliverError::NotJson(e.to_string()))?;
    let event = Event(&event);
    match event.str("type")? {
        USER_RECEIPT => receipt(&event),
        USER_MO => mobile_originated(&event),
        other => Err(DeliverError::UnknownType(other.to_string())),
    }
}

/// A receipt as SMPP 3.4 Appendix B writes it, from the message's destination back to its
/// source, with the receipt TLVs for clients that read those rather than the text.
fn receipt(event: &Event<'_>) -> Result<DeliverSm, DeliverError> {
    let message_id = event.str("message_id")?;
    let stat = event.str("stat")?;
    let err = event.str("err")?;
    let to = event.str("to")?;
    let from = event.nullable_str("from")?.unwrap_or("");
    let submitted = event.time("submitted_at")?;
    let done = event.time("done_at")?;
    let state = DeliveryState::from_stat(stat);
    let dlvrd = if state == DeliveryState::Delivered {
        "001"
    } else {
        "000"
    };
    let text = format!(
        "id:{message_id} sub:001 dlvrd:{dlvrd} submit date:{} done date:{} stat:{stat} err:{err} text:",
        yymmddhhmm(submitted),
        yymmddhhmm(done),
    );
    let mut id = message_id.as_bytes().to_vec();
    id.push(0);
    let mut tlvs = vec![Tlv::new(TlvTag::ReceiptedMessageId, id).map_err(too_long("message_id"))?];
    // A word the specification does not name has no message_state: the text carries it.
    if let Some(value) = state.message_state() {
        tlvs.push(Tlv::u8(TlvTag::MessageState, value).map_err(too_long("stat"))?);
    }
    Ok(DeliverSm {
        source_addr: address("to", to)?,
        destination_addr: address("from", from)?,
        esm_class: EsmClass(EsmClass::DELIVERY_RECEIPT),
        short_message: ShortMessage::new(text.into_bytes()).map_err(too_long("message_id"))?,
        tlvs: Tlvs(tlvs),
        ..DeliverSm::default()
    })
}

/// An inbound message with the octets and data_coding the SMSC sent; beyond what
/// short_message holds, in message_payload (a long message arrives whole, not re-split).
fn mobile_originated(event: &Event<'_>) -> Result<DeliverSm, DeliverError> {
    let from = event.str("from")?;
    let to = event.str("to")?;
    let data_coding =
        u8::try_from(event.u64("data_coding")?).map_err(|_| DeliverError::Invalid {
            field: "data_coding",
            expected: "a number 0-255",
        })?;
    let octets = unhex(event.str("hex")?).ok_or(DeliverError::Invalid {
        field: "hex",
        expected: "an even count of hex digits",
    })?;
    let (short_message, tlvs) = if octets.len() <= ShortMessage::MAX {
        let short = ShortMessage::new(octets).map_err(too_long("hex"))?;
        (short, Tlvs::default())
    } else {
        let payload = Tlv::message_payload(octets).map_err(too_long("hex"))?;
        (ShortMessage::default(), Tlvs(vec![payload]))
    };
    Ok(DeliverSm {
        source_addr: address("from", from)?,
        destination_addr: address("to", to)?,
        data_coding: DataCoding::from(data_coding),
        short_message,
        tlvs,
        ..DeliverSm::default()
    })
}

/// An event's fields, each read or refused by name.
struct Event<'a>(&'a Map<String, Value>);

impl<'a> Event<'a> {
    fn get(&self, field: &'static str) -> Result<&'a Value, DeliverError> {
        self.0.get(field).ok_or(DeliverError::Missing { field })
    }

    fn str(&self, field: &'static str) -> Result<&'a str, DeliverError> {
        self.get(field)?.as_str().ok_or(DeliverError::Invalid {
            field,
            expected: "a string",
        })
    }

    /// A string that may be `null` (but must be there).
    fn nullable_str(&self, field: &'static str) -> Result<Option<&'a str>, DeliverError> {
        match self.get(field)? {
            Value::Null => Ok(None),
            v => v.as_str().map(Some).ok_or(DeliverError::Invalid {
                field,
                expected: "a string or null",
            }),
        }
    }

    fn u64(&self, field: &'static str) -> Result<u64, DeliverError> {
        self.get(field)?.as_u64().ok_or(DeliverError::Invalid {
            field,
            expected: "a non-negative integer",
        })
    }

    /// A time the store wrote as milliseconds since the epoch.
    fn time(&self, field: &'static str) -> Result<SystemTime, DeliverError> {
        Ok(UNIX_EPOCH + Duration::from_millis(self.u64(field)?))
    }
}

fn address(field: &'static str, value: &str) -> Result<COctetString<21>, DeliverError> {
    COctetString::new(value).map_err(too_long(field))
}

fn too_long(field: &'static str) -> impl Fn(ValueError) -> DeliverError {
    move |error| DeliverError::TooLong { field, error }
}

/// The octets of lower- or upper-case hex digits; `None` for anything else.
fn unhex(text: &str) -> Option<Vec<u8>> {
    let digits = text.as_bytes();
    if !digits.len().is_multiple_of(2) {
        return None;
    }
    digits
        .chunks(2)
        .map(|pair| {
            let high = char::from(pair[0]).to_digit(16)?;
            let low = char::from(pair[1]).to_digit(16)?;
            u8::try_from(high << 4 | low).ok()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{CommandStatus, Framer, Pdu};
    use crate::daemon::store::{UserMo, UserReceipt};
    use crate::sms::{parse_receipt, ReceiptTlvs};
    use bytes::BytesMut;

    /// `sm` through the codec and back.
    fn round_trip(sm: DeliverSm) -> DeliverSm {
        let mut buf = BytesMut::new();
        Pdu::DeliverSm(sm)
            .encode(7, CommandStatus::EsmeRok, &mut buf)
            .unwrap();
        let frame = Framer::default().decode(&mut buf).unwrap().unwrap();
        match Pdu::decode(&frame).unwrap() {
            Pdu::DeliverSm(d) => d,
            other => panic!("{other:?}"),
        }
    }

    fn body(mut event: Map<String, Value>) -> Vec<u8> {
        event.insert("event_id".into(), "e1".into());
        serde_json::to_vec(&event).unwrap()
    }

    fn receipt_event(stat: &str) -> Map<String, Value> {
        UserReceipt {
            message_id: "0123456789abcdef0123456789abcdef",
            stat: stat.into(),
            err: "000".into(),
            to: "31600000000",
            from: Some("acme"),
            // 2026-11-25 11:56 and 11:57 UTC.
            submitted_at: 1_795_607_760_000,
            done_at: 1_795_607_820_000,
        }
        .event()
    }

    #[test]
    fn a_receipt_reads_back_as_the_receipt_it_reports() {
        let d = round_trip(deliver_sm(&body(receipt_event("DELIVRD"))).unwrap());
        assert!(d.esm_class.is_delivery_receipt());
        assert_eq!(d.source_addr.as_bytes(), b"31600000000");
        assert_eq!(d.destination_addr.as_bytes(), b"acme");
        let id = d.tlvs.receipted_message_id().unwrap();
        assert_eq!(id, b"0123456789abcdef0123456789abcdef");
        let tlvs = ReceiptTlvs {
            receipted_message_id: std::str::from_utf8(id).ok(),
            message_state: d
                .tlvs
                .get(TlvTag::MessageState)
                .and_then(Tlv::as_uint)
                .and_then(|v| u8::try_from(v).ok()),
            network_error_code: None,
        };
        assert_eq!(tlvs.message_state, Some(2));
        let r = parse_receipt(d.short_message.as_bytes(), tlvs).unwrap();
        let text = r.text.unwrap();
        assert_eq!(text.id, Some("0123456789abcdef0123456789abcdef"));
        assert_eq!(text.stat, Some(DeliveryState::Delivered));
        assert_eq!(text.err, Some("000"));
        assert_eq!((text.sub, text.dlvrd), (Some(1), Some(1)));
        assert_eq!(text.submit_date.unwrap().to_string(), "2611251156");
        assert_eq!(text.done_date.unwrap().to_string(), "2611251157");
    }

    #[test]
    fn each_stat_word_gets_its_message_state() {
        let cases = [
            ("ENROUTE", Some(1)),
            ("DELIVRD", Some(2)),
            ("EXPIRED", Some(3)),
            ("DELETED", Some(4)),
            ("UNDELIV", Some(5)),
            ("ACCEPTD", Some(6)),
            ("UNKNOWN", Some(7)),
            ("REJECTD", Some(8)),
            ("SOMETHI", None),
        ];
        for (stat, state) in cases {
            let d = deliver_sm(&body(receipt_event(stat))).unwrap();
            let got = d.tlvs.get(TlvTag::MessageState).and_then(Tlv::as_uint);
            assert_eq!(got, state, "{stat}");
            let text = String::from_utf8_lossy(d.short_message.as_bytes()).into_owned();
            let dlvrd = if stat == "DELIVRD" { "001" } else { "000" };
            assert!(text.contains(&format!("dlvrd:{dlvrd} ")), "{text}");
        }
    }

    #[test]
    fn a_receipt_without_a_source_goes_to_an_empty_address() {
        let mut e = receipt_event("UNDELIV");
        e.insert("from".into(), Value::Null);
        let d = deliver_sm(&body(e)).unwrap();
        assert!(d.destination_addr.is_empty());
    }

    fn mo_event(octets: &[u8]) -> Map<String, Value> {
        UserMo {
            channel: "smsc-a",
            from: "447700900123",
            to: "3169988",
            data_coding: 8,
            octets,
        }
        .event()
    }

    #[test]
    fn a_short_mo_goes_in_short_message() {
        let d = round_trip(deliver_sm(&body(mo_event(&[0x00, 0x41]))).unwrap());
        assert_eq!(d.esm_class, EsmClass(0));
        assert_eq!(d.data_coding.value(), 8);
        assert_eq!(d.source_addr.as_bytes(), b"447700900123");
        assert_eq!(d.destination_addr.as_bytes(), b"3169988");
        assert_eq!(d.short_message.as_bytes(), [0x00, 0x41]);
        assert!(d.tlvs.is_empty());
    }

    #[test]
    fn a_long_mo_goes_in_message_payload() {
        let octets: Vec<u8> = (0..300u32).map(|i| (i % 251) as u8).collect();
        let d = round_trip(deliver_sm(&body(mo_event(&octets))).unwrap());
        assert!(d.short_message.is_empty());
        assert_eq!(d.tlvs.message_payload(), Some(&octets[..]));
        // At the limit, short_message still holds it.
        let d = deliver_sm(&body(mo_event(&octets[..254]))).unwrap();
        assert_eq!(d.short_message.len(), 254);
    }

    #[test]
    fn malformed_events_name_what_is_wrong() {
        let missing = |field: &str| {
            let mut e = receipt_event("DELIVRD");
            e.remove(field);
            deliver_sm(&body(e)).unwrap_err()
        };
        for field in [
            "message_id",
            "stat",
            "err",
            "to",
            "from",
            "submitted_at",
            "done_at",
        ] {
            assert!(
                matches!(missing(field), DeliverError::Missing { field: f } if f == field),
                "{field}"
            );
        }
        let with = |mut e: Map<String, Value>, field: &str, value: Value| {
            e.insert(field.into(), value);
            deliver_sm(&body(e)).unwrap_err()
        };
        let invalid = |field: &'static str| move |e: DeliverError| matches!(e, DeliverError::Invalid { field: f, .. } if f == field);
        let e = with(receipt_event("DELIVRD"), "done_at", Value::from(-1));
        assert!(invalid("done_at")(e));
        let e = with(mo_event(b"x"), "hex", Value::from("0g"));
        assert!(invalid("hex")(e));
        let e = with(mo_event(b"x"), "hex", Value::from("abc"));
        assert!(invalid("hex")(e));
        let e = with(mo_event(b"x"), "data_coding", Value::from(256));
        assert!(invalid("data_coding")(e));
        let e = with(mo_event(b"x"), "to", Value::from("1".repeat(21)));
        assert!(
            matches!(e, DeliverError::TooLong { field: "to", .. }),
            "{e}"
        );
        let e = with(mo_event(b"x"), "type", Value::from("inbound"));
        assert_eq!(e, DeliverError::UnknownType("inbound".into()));
        assert!(matches!(deliver_sm(b"[1]"), Err(DeliverError::NotJson(_))));
        assert!(matches!(deliver_sm(b"\xff"), Err(DeliverError::NotJson(_))));
        assert_eq!(
            deliver_sm(b"{}"),
            Err(DeliverError::Missing { field: "type" })
        );
    }
}
