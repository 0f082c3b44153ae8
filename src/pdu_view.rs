//! What `smppd pdu decode` prints: the codec's field-by-field [`dump`] of each PDU and, for a
//! delivery receipt, the receipt as [`sms::parse_receipt`] reads it, which is the reading the
//! daemon acts on. Rendered as aligned text or as JSON from one list of values, so the two
//! always say the same.
//!
//! Depends on the codec and sms only (it joins them, as the daemon's sink does for live
//! traffic); no I/O.

use crate::codec::dump::{self, PduDump};
use crate::codec::{MessageState, Pdu};
use crate::sms::{self, DeliveryState, NetworkError, Receipt, ReceiptDate, ReceiptError};
use serde_json::{json, Map, Value};
use std::fmt::Write as _;

/// The receipt a deliver_sm or data_sm carries when its esm_class says it is one (message
/// type 1, SMSC Delivery Receipt); `None` for every other PDU.
///
/// The text form is read from short_message, or from message_payload when short_message is
/// empty; receipted_message_id, message_state and network_error_code come from the TLVs,
/// which win where both say something.
pub fn receipt(pdu: &Pdu) -> Option<Result<Receipt<'_>, ReceiptError>> {
    let (esm_class, short_message, tlvs) = match pdu {
        Pdu::DeliverSm(d) => (d.esm_class, d.short_message.as_bytes(), &d.tlvs),
        Pdu::DataSm(d) => (d.esm_class, &[][..], &d.tlvs),
        _ => return None,
    };
    if !esm_class.is_delivery_receipt() {
        return None;
    }
    let text = match tlvs.message_payload() {
        Some(payload) if short_message.is_empty() => payload,
        _ => short_message,
    };
    let receipt_tlvs = sms::ReceiptTlvs {
        receipted_message_id: tlvs
            .receipted_message_id()
            .and_then(|id| std::str::from_utf8(id).ok()),
        message_state: tlvs.message_state(),
        network_error_code: tlvs.network_error_code().map(|(network_type, code)| {
            let [hi, lo] = code.to_be_bytes();
            [network_type, hi, lo]
        }),
    };
    Some(sms::parse_receipt(text, receipt_tlvs))
}

/// A state's name: the one SMPP 3.4 §5.2.28 gives its message_state value (a `stat:` of
/// DELIVRD reads DELIVERED), or an unknown `stat:` word as written. `None` for a
/// message_state value the specification does not define.
fn state_name(state: DeliveryState<'_>) -> Option<&str> {
    match state {
        DeliveryState::OtherStat(word) => Some(word),
        known => known
            .message_state()
            .and_then(|code| MessageState::from(code).spec_name()),
    }
}

/// One value of the receipt, in a form both renderings can show.
enum Item<'a> {
    /// Text, quoted in the text rendering.
    Quoted(&'a str),
    /// A state name, shown bare.
    Word(&'a str),
    /// A count.
    Count(u32),
    /// A date as written, with its RFC 3339 form beside it when it has one.
    Date(ReceiptDate),
    /// network_error_code.
    Network(NetworkError),
    /// The `text:` octets, in the deliver_sm's coding.
    Octets(&'a [u8]),
    /// Why the text form could not be read.
    Error(String),
}

/// The receipt's values in display order, `None` where the receipt has nothing.
///
/// `message_id`, `state` and `network_error` are the merged reading (TLVs first); `id` to
/// `text` are the fields of the text form as written; `error` says why the text form was not
/// read, when it was not.
fn items<'a>(r: &'a Result<Receipt<'a>, ReceiptError>) -> [(&'static str, Option<Item<'a>>); 12] {
    let (receipt, error) = match r {
        Ok(receipt) => (Some(receipt), receipt.text_error.as_ref()),
        Err(e) => (None, Some(e)),
    };
    let text = receipt.and_then(|r| r.text);
    [
        (
            "message_id",
            receipt.and_then(|r| r.message_id).map(Item::Quoted),
        ),
        (
            "state",
            receipt
                .and_then(|r| r.state)
                .and_then(state_name)
                .map(Item::Word),
        ),
        (
            "network_error",
            receipt.and_then(|r| r.network_error).map(Item::Network),
        ),
        ("id", text.and_then(|t| t.id).map(Item::Quoted)),
        ("sub", text.and_then(|t| t.sub).map(Item::Count)),
        ("dlvrd", text.and_then(|t| t.dlvrd).map(Item::Count)),
        (
            "submit_date",
            text.and_then(|t| t.submit_date).map(Item::Date),
        ),
        ("done_date", text.and_then(|t| t.done_date).map(Item::Date)),
        (
            "stat",
            text.and_then(|t| t.stat)
                .and_then(state_name)
                .map(Item::Word),
        ),
        ("err", text.and_then(|t| t.err).map(Item::Quoted)),
        ("text", text.and_then(|t| t.text).map(Item::Octets)),
        ("error", error.map(|e| Item::Error(e.to_string()))),
    ]
}

fn receipt_text(s: &mut String, r: &Result<Receipt<'_>, ReceiptError>) {
    for (name, item) in items(r) {
        let shown = match item {
            None => continue,
            Some(Item::Quoted(v)) => dump::quoted(v.as_bytes()),
            Some(Item::Word(v)) => v.to_string(),
            Some(Item::Count(n)) => n.to_string(),
            Some(Item::Date(d)) => match d.to_rfc3339() {
                Some(t) => format!("{d} ({t})"),
                None => format!("{d} (no such day)"),
            },
            Some(Item::Network(n)) => format!(
                "network type {}, error code {}",
                n.network_type, n.error_code
            ),
            Some(Item::Octets(b)) => dump::quoted(b),
            Some(Item::Error(e)) => e,
        };
        let _ = writeln!(s, "         {:<28} {shown}", format!("receipt.{name}"));
    }
}

/// The receipt as a JSON object. Every key is always present (null when the receipt has
/// nothing there); each date appears as written and, under `*_rfc3339`, as RFC 3339 when it
/// names a real day.
fn receipt_json(r: &Result<Receipt<'_>, ReceiptError>) -> Value {
    let mut m = Map::new();
    for (name, item) in items(r) {
        if let "submit_date" | "done_date" = name {
            let date = match &item {
                Some(Item::Date(d)) => d.to_rfc3339(),
                _ => None,
            };
            m.insert(format!("{name}_rfc3339"), json!(date));
        }
        let value = match item {
            None => Value::Null,
            Some(Item::Quoted(v) | Item::Word(v)) => json!(v),
            Some(Item::Count(n)) => json!(n),
            Some(Item::Date(d)) => json!(d.to_string()),
            Some(Item::Network(n)) => json!({ "type": n.network_type, "code": n.error_code }),
            Some(Item::Octets(b)) => json!(String::from_utf8_lossy(b)),
            Some(Item::Error(e)) => json!(e),
        };
        m.insert(name.to_string(), value);
    }
    Value::Object(m)
}

/// The dump as aligned text: each PDU's fields, then `receipt.*` lines for a delivery receipt.
pub fn to_text(dumps: &[PduDump]) -> String {
    let mut s = String::new();
    for (i, d) in dumps.iter().enumerate() {
        dump::write_text(&mut s, i, d);
        if let Some(r) = d.pdu.as_ref().and_then(receipt) {
            receipt_text(&mut s, &r);
        }
    }
    s
}

/// The dump as a JSON array, one object per PDU: `start`, `header`, `fields`, `error`, and
/// `receipt` (null unless the PDU is a delivery receipt).
pub fn to_json(dumps: &[PduDump]) -> Value {
    Value::Array(
        dumps
            .iter()
            .map(|d| {
                let mut m = dump::pdu_json(d);
                let receipt = d.pdu.as_ref().and_then(receipt);
                m.insert(
                    "receipt".into(),
                    receipt.as_ref().map_or(Value::Null, receipt_json),
                );
                Value::Object(m)
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::dump::{deliver_sm_bytes, dump};
    use proptest::prelude::*;

    const RECEIPT: &[u8] = b"id:ABC123 sub:001 dlvrd:001 submit date:2401021030 done date:2401021031 stat:DELIVRD err:000 text:Hello";

    fn one(input: &[u8]) -> (Value, String) {
        let d = dump(input);
        assert_eq!(d.len(), 1);
        (to_json(&d)[0].clone(), to_text(&d))
    }

    /// A data_sm (sequence_number 9) with this esm_class and these TLVs.
    fn data_sm_bytes(esm_class: u8, tlvs: &[(u16, &[u8])]) -> Vec<u8> {
        let mut body = b"\0\x01\x01447700900123\0\x01\x01447700900456\0".to_vec();
        body.extend_from_slice(&[esm_class, 0, 0]);
        for (tag, value) in tlvs {
            body.extend_from_slice(&tag.to_be_bytes());
            body.extend_from_slice(&(value.len() as u16).to_be_bytes());
            body.extend_from_slice(value);
        }
        let mut pdu = ((16 + body.len()) as u32).to_be_bytes().to_vec();
        pdu.extend_from_slice(&[0, 0, 1, 3, 0, 0, 0, 0, 0, 0, 0, 9]);
        pdu.extend_from_slice(&body);
        pdu
    }

    #[test]
    fn a_receipt_deliver_sm_gets_its_receipt_read() {
        let input = deliver_sm_bytes(
            0x04,
            RECEIPT,
            &[(0x001E, b"ABC123\0"), (0x0427, &[2]), (0x0423, &[3, 0, 1])],
        );
        let (json, text) = one(&input);
        assert_eq!(
            json["receipt"],
            json!({
                "message_id": "ABC123",
                "state": "DELIVERED",
                "network_error": {"type": 3, "code": 1},
                "id": "ABC123",
                "sub": 1,
                "dlvrd": 1,
                "submit_date": "2401021030",
                "submit_date_rfc3339": "2024-01-02T10:30:00Z",
                "done_date": "2401021031",
                "done_date_rfc3339": "2024-01-02T10:31:00Z",
                "stat": "DELIVERED",
                "err": "000",
                "text": "Hello",
                "error": null,
            })
        );
        for line in [
            "         receipt.message_id           \"ABC123\"",
            "         receipt.state                DELIVERED",
            "         receipt.network_error        network type 3, error code 1",
            "         receipt.sub                  1",
            "         receipt.submit_date          2401021030 (2024-01-02T10:30:00Z)",
            "         receipt.stat                 DELIVERED",
            "         receipt.err                  \"000\"",
            "         receipt.text                 \"Hello\"",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
        assert!(!text.contains("receipt.error"), "{text}");
    }

    #[test]
    fn the_tlvs_win_and_an_unknown_stat_is_kept() {
        let input = deliver_sm_bytes(
            0x04,
            b"id:OTHER stat:FAILED",
            &[(0x001E, b"ABC123\0"), (0x0427, &[5])],
        );
        let (json, _) = one(&input);
        let r = &json["receipt"];
        assert_eq!(r["message_id"], "ABC123");
        assert_eq!(r["id"], "OTHER");
        assert_eq!(r["state"], "UNDELIVERABLE");
        assert_eq!(r["stat"], "FAILED");
        assert_eq!(r["submit_date"], Value::Null);
        assert_eq!(r["submit_date_rfc3339"], Value::Null);
    }

    #[test]
    fn other_pdus_have_no_receipt() {
        let (json, text) = one(&deliver_sm_bytes(0x00, RECEIPT, &[]));
        assert_eq!(json["receipt"], Value::Null);
        assert!(!text.contains("receipt."), "{text}");
        let bind = b"\x00\x00\x00\x2A\x00\x00\x00\x09\x00\x00\x00\x00\x00\x00\x00\x01smppclient1\x00password\x00\x00\x34\x00\x00\x00";
        assert_eq!(one(bind).0["receipt"], Value::Null);
    }

    #[test]
    fn a_data_sm_receipt_is_read_from_message_payload() {
        let input = data_sm_bytes(0x04, &[(0x0424, RECEIPT), (0x0427, &[2])]);
        let (json, _) = one(&input);
        assert_eq!(json["header"]["command_name"], "data_sm");
        assert_eq!(json["receipt"]["message_id"], "ABC123");
        assert_eq!(json["receipt"]["done_date"], "2401021031");
    }

    #[test]
    fn a_text_form_that_does_not_parse_is_reported() {
        // With receipted_message_id the receipt still stands, without its text fields.
        let input = deliver_sm_bytes(0x04, b"garbage", &[(0x001E, b"ABC123\0")]);
        let (json, text) = one(&input);
        let r = &json["receipt"];
        assert_eq!(r["message_id"], "ABC123");
        assert_eq!(r["id"], Value::Null);
        assert_eq!(
            r["error"],
            "unexpected text at offset 0 before the first receipt field"
        );
        assert!(
            text.contains("receipt.error                unexpected text at offset 0"),
            "{text}"
        );
        // Without it there is no receipt, only the reason.
        let (json, _) = one(&deliver_sm_bytes(0x04, b"garbage", &[]));
        assert_eq!(json["receipt"]["message_id"], Value::Null);
        assert!(json["receipt"]["error"].is_string());
    }

    #[test]
    fn a_date_that_names_no_day_is_kept_as_written() {
        let input = deliver_sm_bytes(0x04, b"id:X done date:2302291200 stat:DELIVRD", &[]);
        let (json, text) = one(&input);
        assert_eq!(json["receipt"]["done_date"], "2302291200");
        assert_eq!(json["receipt"]["done_date_rfc3339"], Value::Null);
        assert!(text.contains("2302291200 (no such day)"), "{text}");
    }

    /// A deliver_sm or data_sm flagged as a receipt, with a short_message that is either
    /// arbitrary or assembled from receipt fields, and arbitrary TLVs (standard tags
    /// included, of any length).
    fn receipt_pdus() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop_oneof![
            Just(&b"id:"[..]),
            Just(&b" sub:"[..]),
            Just(&b" dlvrd:"[..]),
            Just(&b" submit date:"[..]),
            Just(&b" done date:"[..]),
            Just(&b" stat:"[..]),
            Just(&b" err:"[..]),
            Just(&b" text:"[..]),
            Just(&b"DELIVRD"[..]),
            Just(&b"2402301260"[..]),
            Just(&b"001"[..]),
            Just(&b"\xFF\x00"[..]),
        ];
        let text = prop_oneof![
            proptest::collection::vec(piece, 0..12).prop_map(|p| p.concat()),
            proptest::collection::vec(any::<u8>(), 0..100),
        ];
        let tag = prop_oneof![
            Just(0x001Eu16),
            Just(0x001D),
            Just(0x0427),
            Just(0x0423),
            Just(0x0424),
            Just(0x020C),
            Just(0x0202),
            Just(0x130C),
            any::<u16>(),
        ];
        // Mostly short values, so that the fixed-length TLVs often have their length.
        let value = prop_oneof![
            3 => proptest::collection::vec(any::<u8>(), 0..4),
            1 => proptest::collection::vec(any::<u8>(), 0..40),
        ];
        let tlvs = proptest::collection::vec((tag, value), 0..6);
        (any::<bool>(), any::<u8>(), text, tlvs).prop_map(|(deliver, esm, text, tlvs)| {
            let esm = (esm & !0x3C) | 0x04;
            let tlvs: Vec<(u16, &[u8])> = tlvs.iter().map(|(t, v)| (*t, &v[..])).collect();
            if deliver {
                deliver_sm_bytes(esm, &text[..text.len().min(254)], &tlvs)
            } else {
                data_sm_bytes(esm, &tlvs)
            }
        })
    }

    proptest! {
        #[test]
        fn any_bytes_render_without_panicking(input in proptest::collection::vec(any::<u8>(), 0..300)) {
            let d = dump(&input);
            let json = to_json(&d);
            prop_assert_eq!(json.as_array().map(Vec::len), Some(d.len()));
            to_text(&d);
        }

        #[test]
        fn any_receipt_renders_without_panicking(input in receipt_pdus()) {
            let d = dump(&input);
            let json = to_json(&d);
            if d.iter().all(|p| p.error.is_none()) {
                prop_assert!(json[0]["receipt"].is_object(), "{}", json);
            }
            let text = serde_json::to_string(&json);
            prop_assert!(text.is_ok());
            to_text(&d);
        }
    }
}
