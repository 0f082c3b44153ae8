//! A decoder for people: walks a byte stream of concatenated PDUs and lists every header field,
//! mandatory field and TLV by its spec name with its byte offset, stopping exactly where a
//! malformed PDU stops the decoder, and saying why. Rendered as aligned text or as JSON, one
//! PDU at a time ([`write_text`], [`pdu_json`]) so that a layer above can add what the codec
//! cannot know (`smppd::pdu_view` adds the delivery receipt).
//!
//! It reuses the real decoder through [`Trace`], so what it shows is what the session would
//! see. The bind `password` is masked in both renderings. Standard TLVs are shown as the type
//! SMPP 3.4 §5.3.2 gives them ([`Tlv::typed`]), with the raw octets beside the reading.
//!
//! A namespace of its own, apart from the codec's root: a view for people (`smppd pdu decode`),
//! not part of the wire API that sessions use.

// What the decoder reports of each field it reads.
pub use super::wire::{FieldValue, Trace};

use super::error::Reply;
use super::frame::Frame;
use super::header::{Header, HEADER_LEN};
use super::tlv::{Tlv, TlvValue};
use super::values::{DataCoding, MessageState, Npi, Ton};
use super::Pdu;
use bytes::Bytes;
use serde_json::{json, Map, Value};
use std::fmt::Write as _;

/// One field as read: where it starts, its spec name and its value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpField {
    /// Offset from the first octet of the PDU.
    pub offset: usize,
    /// Spec name (TLVs: the tag's name, or `tlv` for unknown tags).
    pub name: &'static str,
    /// The value.
    pub value: FieldValue,
}

/// Why the dump of one PDU stopped early.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DumpError {
    /// Offset from the first octet of the PDU where the offending field starts.
    pub offset: usize,
    /// The field (spec name) or `header`.
    pub field: &'static str,
    /// Human-readable reason.
    pub reason: String,
    /// What a receiver would answer, if the framing allowed an answer.
    pub reply: Option<Reply>,
}

/// One PDU of the stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PduDump {
    /// Offset of the PDU within the input.
    pub start: usize,
    /// The header, when 16 octets were available.
    pub header: Option<Header>,
    /// Body fields read, in order, up to the error if any.
    pub fields: Vec<DumpField>,
    /// Set when the PDU is malformed.
    pub error: Option<DumpError>,
    /// The decoded PDU, when the body decoded.
    pub pdu: Option<Pdu>,
}

struct Collect(Vec<DumpField>);

impl Trace for Collect {
    const ENABLED: bool = true;
    fn field(&mut self, name: &'static str, offset: usize, value: FieldValue) {
        self.0.push(DumpField {
            offset,
            name,
            value,
        });
    }
}

/// Splits `input` into PDUs and decodes each one, stopping at the first framing error (after
/// which PDU boundaries are unknown). Body errors do not stop the walk: the next PDU is found
/// from command_length, as a session would.
pub fn dump(input: &[u8]) -> Vec<PduDump> {
    let mut out = Vec::new();
    let mut start = 0;
    while let Some(rest) = input.get(start..).filter(|r| !r.is_empty()) {
        let Some(header) = Header::peek(rest) else {
            out.push(framing_error(
                start,
                None,
                "header",
                format!("only {} octets left, a header needs 16", rest.len()),
            ));
            break;
        };
        let len = header.command_length as usize;
        if len < HEADER_LEN {
            out.push(framing_error(
                start,
                Some(header),
                "command_length",
                format!("command_length {len} is below the 16-octet header"),
            ));
            break;
        }
        let Some(pdu) = rest.get(..len) else {
            let why = format!("command_length {len} but only {} octets given", rest.len());
            out.push(framing_error(start, Some(header), "command_length", why));
            break;
        };
        let frame = Frame {
            header,
            body: Bytes::copy_from_slice(pdu.get(HEADER_LEN..).unwrap_or_default()),
        };
        let mut trace = Collect(Vec::new());
        let (pdu, error) = match Pdu::decode_traced(&frame, &mut trace) {
            Ok(pdu) => (Some(pdu), None),
            Err(e) => (
                None,
                Some(DumpError {
                    offset: e.offset,
                    field: e.field,
                    reason: e.reason.to_string(),
                    reply: Some(e.reply()),
                }),
            ),
        };
        out.push(PduDump {
            start,
            header: Some(header),
            fields: trace.0,
            error,
            pdu,
        });
        start += len;
    }
    out
}

fn framing_error(
    start: usize,
    header: Option<Header>,
    field: &'static str,
    reason: String,
) -> PduDump {
    PduDump {
        start,
        header,
        fields: Vec::new(),
        error: Some(DumpError {
            offset: 0,
            field,
            reason,
            reply: None,
        }),
        pdu: None,
    }
}

/// True when any PDU in the dump is malformed.
pub fn has_errors(dumps: &[PduDump]) -> bool {
    dumps.iter().any(|d| d.error.is_some())
}

const MASK: &str = "********";

/// `b` in double quotes, non-printable octets escaped.
pub(crate) fn quoted(b: &[u8]) -> String {
    format!("\"{}\"", b.escape_ascii())
}

/// `b` quoted when it is printable ASCII, else as upper-case hex.
pub(crate) fn octets(b: &[u8]) -> String {
    if b.iter().all(|c| c.is_ascii_graphic() || *c == b' ') {
        quoted(b)
    } else {
        b.iter().map(|c| format!("{c:02X}")).collect()
    }
}

/// A name for the octet values the spec enumerates, shown beside the number.
fn annotation(field: &str, v: u8) -> Option<&'static str> {
    if field.ends_with("_ton") {
        Ton::from(v).spec_name()
    } else if field.ends_with("_npi") {
        Npi::from(v).spec_name()
    } else if field == "data_coding" {
        DataCoding::from(v).spec_name()
    } else if field == "message_state" {
        MessageState::from(v).spec_name()
    } else if field == "esm_class" && (v >> 2) & 0x0F == 1 {
        Some("SMSC Delivery Receipt")
    } else {
        None
    }
}

/// A TLV's value as read by [`Tlv::typed`], in the shapes both renderings use, so they agree.
struct TlvReading {
    /// The reading as text; `None` for unknown tags and malformed values.
    text: Option<String>,
    /// The reading as JSON; null for unknown tags and malformed values.
    json: Value,
    /// Why the octets are not a value of the tag's type.
    error: Option<String>,
}

fn read_tlv(t: &Tlv) -> TlvReading {
    let ok = |text: String, json: Value| TlvReading {
        text: Some(text),
        json,
        error: None,
    };
    let failed = |error: String| TlvReading {
        text: None,
        json: Value::Null,
        error: Some(error),
    };
    match t.typed() {
        None => TlvReading {
            text: None,
            json: Value::Null,
            error: None,
        },
        Some(Err(e)) => failed(e.to_string()),
        Some(Ok(TlvValue::Present)) => ok("(present)".to_string(), json!(true)),
        Some(Ok(TlvValue::Integer(n))) => ok(n.to_string(), json!(n)),
        Some(Ok(TlvValue::Text(s))) => ok(quoted(s.as_bytes()), json!(s)),
        Some(Ok(TlvValue::MessageState(m))) => match m.spec_name() {
            Some(name) => ok(format!("{} ({name})", m.value()), json!(name)),
            None => failed(format!(
                "message_state {} is not a state SMPP 3.4 §5.2.28 defines",
                m.value()
            )),
        },
        Some(Ok(TlvValue::NetworkErrorCode {
            network_type,
            error_code,
        })) => ok(
            format!("network type {network_type}, error code {error_code}"),
            json!({ "type": network_type, "code": error_code }),
        ),
        Some(Ok(TlvValue::Octets(b))) => ok(octets(b), json!(hex(b))),
    }
}

fn tlv_text(t: &Tlv) -> String {
    let v = t.value();
    let r = read_tlv(t);
    let shown = match (r.text, r.error) {
        (Some(text), _) => text,
        (None, Some(e)) => format!("{} (error: {e})", octets(v)),
        (None, None) => octets(v),
    };
    format!("tag 0x{:04X} len {}: {shown}", t.tag().value(), v.len())
}

fn value_text(f: &DumpField) -> String {
    if f.name == "password" {
        return MASK.to_string();
    }
    match &f.value {
        FieldValue::U8(v) => match annotation(f.name, *v) {
            Some(a) => format!("0x{v:02X} ({a})"),
            None => format!("0x{v:02X} ({v})"),
        },
        FieldValue::U32(v) => format!("0x{v:08X} ({v})"),
        FieldValue::COctet(b) => quoted(b),
        FieldValue::Octets(b) => format!("{} ({} octets)", octets(b), b.len()),
        FieldValue::Tlv(t) => tlv_text(t),
    }
}

fn reply_text(r: &Reply) -> String {
    match r {
        Reply::GenericNack(s) => format!("generic_nack with {s}"),
        Reply::Response {
            command_id,
            command_status,
        } => format!("{} with {command_status}", command_id.name()),
        Reply::Nothing => "nothing (never answer a generic_nack)".to_string(),
    }
}

/// Appends one PDU as aligned text, one line per field, `[offset] name value`; `index` counts
/// from 0 and is shown from 1.
pub fn write_text(s: &mut String, index: usize, d: &PduDump) {
    let name = d.header.map_or("?", |h| h.command_id.name());
    let _ = writeln!(s, "PDU #{} at byte {}: {name}", index + 1, d.start);
    if let Some(h) = d.header {
        let _ = writeln!(
            s,
            "  [{:>4}] {:<28} {}",
            0, "command_length", h.command_length
        );
        let _ = writeln!(
            s,
            "  [{:>4}] {:<28} 0x{:08X} ({})",
            4,
            "command_id",
            h.command_id.value(),
            h.command_id.name()
        );
        let _ = writeln!(
            s,
            "  [{:>4}] {:<28} {}",
            8, "command_status", h.command_status
        );
        let _ = writeln!(
            s,
            "  [{:>4}] {:<28} {}",
            12, "sequence_number", h.sequence_number
        );
    }
    for f in &d.fields {
        let _ = writeln!(s, "  [{:>4}] {:<28} {}", f.offset, f.name, value_text(f));
    }
    if let Some(e) = &d.error {
        let _ = writeln!(
            s,
            "  ERROR at byte {} (PDU offset; input byte {}): {}: {}",
            e.offset,
            d.start + e.offset,
            e.field,
            e.reason
        );
        if let Some(r) = &e.reply {
            let _ = writeln!(s, "  a receiver answers: {}", reply_text(r));
        }
    }
}

fn value_json(f: &DumpField) -> Value {
    if f.name == "password" {
        return json!(MASK);
    }
    match &f.value {
        FieldValue::U8(v) => match annotation(f.name, *v) {
            Some(a) => json!({ "value": v, "meaning": a }),
            None => json!(v),
        },
        FieldValue::U32(v) => json!(v),
        FieldValue::COctet(b) => json!(String::from_utf8_lossy(b)),
        FieldValue::Octets(b) => json!({ "hex": hex(b), "text": String::from_utf8_lossy(b) }),
        FieldValue::Tlv(t) => read_tlv(t).json,
    }
}

/// A field as JSON. A TLV is `{offset, tag, name, length, value, hex, error}`: `name` is
/// null for an unknown tag, `value` is the typed reading (null for an unknown tag or when the
/// octets do not fit the type, `error` then says why), `hex` the octets as received.
fn field_json(f: &DumpField) -> Value {
    let FieldValue::Tlv(t) = &f.value else {
        return json!({ "offset": f.offset, "name": f.name, "value": value_json(f) });
    };
    let r = read_tlv(t);
    json!({
        "offset": f.offset,
        "tag": format!("0x{:04x}", t.tag().value()),
        "name": t.tag().spec_name(),
        "length": t.value().len(),
        "value": r.json,
        "hex": hex(t.value()),
        "error": r.error,
    })
}

/// `b` as lower-case hex.
pub(crate) fn hex(b: &[u8]) -> String {
    b.iter().map(|c| format!("{c:02x}")).collect()
}

/// One PDU as a JSON object: `start`, `header`, `fields` and `error`.
pub fn pdu_json(d: &PduDump) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("start".into(), json!(d.start));
    m.insert(
        "header".into(),
        json!(d.header.map(|h| json!({
            "command_length": h.command_length,
            "command_id": h.command_id.value(),
            "command_name": h.command_id.name(),
            "command_status": h.command_status.value(),
            "command_status_name": h.command_status.spec_name(),
            "sequence_number": h.sequence_number,
        }))),
    );
    m.insert(
        "fields".into(),
        Value::Array(d.fields.iter().map(field_json).collect()),
    );
    m.insert(
        "error".into(),
        json!(d.error.as_ref().map(|e| json!({
            "offset": e.offset,
            "input_offset": d.start + e.offset,
            "field": e.field,
            "reason": e.reason,
            "reply": e.reply.as_ref().map(reply_text),
        }))),
    );
    m
}

/// A deliver_sm (sequence_number 7) with this esm_class and short_message, then these TLVs
/// as (tag, value) exactly as given, for tests here and in the layers above.
#[cfg(test)]
pub(crate) fn deliver_sm_bytes(
    esm_class: u8,
    short_message: &[u8],
    tlvs: &[(u16, &[u8])],
) -> Vec<u8> {
    let mut body = vec![0u8]; // service_type
    body.extend_from_slice(b"\x01\x01447700900123\0\x01\x01447700900456\0");
    body.extend_from_slice(&[esm_class, 0, 0, 0, 0, 0, 0, 0, 0]);
    body.push(u8::try_from(short_message.len()).unwrap_or(u8::MAX));
    body.extend_from_slice(short_message);
    for (tag, value) in tlvs {
        body.extend_from_slice(&tag.to_be_bytes());
        body.extend_from_slice(&u16::try_from(value.len()).unwrap_or(u16::MAX).to_be_bytes());
        body.extend_from_slice(value);
    }
    let len = u32::try_from(HEADER_LEN + body.len()).unwrap_or(u32::MAX);
    let mut pdu = Vec::with_capacity(HEADER_LEN + body.len());
    pdu.extend_from_slice(&len.to_be_bytes());
    pdu.extend_from_slice(&[0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 7]);
    pdu.extend_from_slice(&body);
    pdu
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(d: &[PduDump]) -> String {
        let mut s = String::new();
        for (i, d) in d.iter().enumerate() {
            write_text(&mut s, i, d);
        }
        s
    }

    /// The JSON objects of the TLV fields of the first PDU.
    fn tlv_json(d: &[PduDump]) -> Vec<Value> {
        let fields = pdu_json(&d[0]).remove("fields").unwrap();
        let Value::Array(fields) = fields else {
            panic!("fields is an array")
        };
        fields
            .into_iter()
            .filter(|f| f.get("tag").is_some())
            .collect()
    }

    const BIND: &[u8] = b"\x00\x00\x00\x2A\x00\x00\x00\x09\x00\x00\x00\x00\x00\x00\x00\x01smppclient1\x00password\x00\x00\x34\x00\x00\x00";

    #[test]
    fn lists_every_field_and_masks_the_password() {
        let d = dump(BIND);
        assert_eq!(d.len(), 1);
        let names: Vec<_> = d[0].fields.iter().map(|f| f.name).collect();
        assert_eq!(
            names,
            [
                "system_id",
                "password",
                "system_type",
                "interface_version",
                "addr_ton",
                "addr_npi",
                "address_range"
            ]
        );
        let text = text(&d);
        assert!(
            text.contains("[  28] password                     ********"),
            "{text}"
        );
        assert!(
            !text.contains("\"password\""),
            "the password must not be shown: {text}"
        );
        let json = Value::Object(pdu_json(&d[0])).to_string();
        assert!(json.contains("\"********\""), "{json}");
        assert!(!json.contains("\"password\"}"), "{json}");
    }

    #[test]
    fn stops_where_the_decoder_stops_and_keeps_walking() {
        let mut input = BIND.to_vec();
        input[36] = b'x'; // Overwrite password's NUL: none within its 9 octets now.
        input.extend_from_slice(BIND);
        let d = dump(&input);
        assert_eq!(d.len(), 2, "a body error must not lose the next PDU");
        let e = d[0].error.as_ref().unwrap();
        assert_eq!((e.offset, e.field), (28, "password"));
        assert!(d[1].error.is_none());
    }

    #[test]
    fn tlvs_are_shown_typed_beside_their_octets() {
        let input = deliver_sm_bytes(
            0x04,
            b"",
            &[
                (0x001E, b"ABC123\0"),
                (0x0427, &[2]),
                (0x0423, &[3, 0, 1]),
                (0x020C, &[0x12, 0x34]),
                (0x0202, &[0xA0, 1, 2]),
                (0x130C, &[]),
                (0x1400, &[0xBE, 0xEF]),
            ],
        );
        let d = dump(&input);
        assert!(d[0].error.is_none(), "{:?}", d[0].error);
        let tlvs = tlv_json(&d);
        let expect = [
            json!({"offset": 57, "tag": "0x001e", "name": "receipted_message_id", "length": 7, "value": "ABC123", "hex": "41424331323300", "error": null}),
            json!({"offset": 68, "tag": "0x0427", "name": "message_state", "length": 1, "value": "DELIVERED", "hex": "02", "error": null}),
            json!({"offset": 73, "tag": "0x0423", "name": "network_error_code", "length": 3, "value": {"type": 3, "code": 1}, "hex": "030001", "error": null}),
            json!({"offset": 80, "tag": "0x020c", "name": "sar_msg_ref_num", "length": 2, "value": 4660, "hex": "1234", "error": null}),
            json!({"offset": 86, "tag": "0x0202", "name": "source_subaddress", "length": 3, "value": "a00102", "hex": "a00102", "error": null}),
            json!({"offset": 93, "tag": "0x130c", "name": "alert_on_message_delivery", "length": 0, "value": true, "hex": "", "error": null}),
            json!({"offset": 97, "tag": "0x1400", "name": null, "length": 2, "value": null, "hex": "beef", "error": null}),
        ];
        assert_eq!(tlvs, expect);
        let text = text(&d);
        for line in [
            "[  57] receipted_message_id         tag 0x001E len 7: \"ABC123\"",
            "[  68] message_state                tag 0x0427 len 1: 2 (DELIVERED)",
            "[  73] network_error_code           tag 0x0423 len 3: network type 3, error code 1",
            "[  80] sar_msg_ref_num              tag 0x020C len 2: 4660",
            "[  93] alert_on_message_delivery    tag 0x130C len 0: (present)",
            "[  97] tlv                          tag 0x1400 len 2: BEEF",
        ] {
            assert!(text.contains(line), "missing {line:?} in\n{text}");
        }
    }

    #[test]
    fn a_tlv_that_does_not_fit_its_type_says_why() {
        // The decoder accepts both (it checks lengths only); the reading does not.
        let input = deliver_sm_bytes(0x04, b"", &[(0x001E, b"ABC123"), (0x0427, &[9])]);
        let d = dump(&input);
        assert!(d[0].error.is_none(), "{:?}", d[0].error);
        let tlvs = tlv_json(&d);
        assert_eq!(tlvs[0]["value"], Value::Null);
        assert_eq!(tlvs[0]["hex"], "414243313233");
        assert_eq!(
            tlvs[0]["error"],
            "C-Octet String without its NUL terminator"
        );
        assert_eq!(tlvs[1]["value"], Value::Null);
        assert_eq!(
            tlvs[1]["error"],
            "message_state 9 is not a state SMPP 3.4 §5.2.28 defines"
        );
        let text = text(&d);
        assert!(
            text.contains(
                "tag 0x001E len 6: \"ABC123\" (error: C-Octet String without its NUL terminator)"
            ),
            "{text}"
        );
    }

    #[test]
    fn a_tlv_of_the_wrong_length_stops_the_pdu_as_the_decoder_does() {
        let input = deliver_sm_bytes(0x04, b"", &[(0x0427, &[2, 0])]);
        let d = dump(&input);
        let e = d[0].error.as_ref().unwrap();
        assert_eq!((e.offset, e.field), (57, "message_state"));
        assert!(d[0].pdu.is_none());
    }
}
