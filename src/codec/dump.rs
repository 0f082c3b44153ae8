//! A decoder for people: walks a byte stream of concatenated PDUs and lists every header field,
//! mandatory field and TLV by its spec name with its byte offset, stopping exactly where a
//! malformed PDU stops the decoder, and saying why. Rendered as aligned text or as JSON.
//!
//! It reuses the real decoder through [`Trace`], so what it shows is what the session would
//! see. The bind `password` is masked in both renderings.

use super::error::Reply;
use super::frame::Frame;
use super::header::{Header, HEADER_LEN};
use super::pdu::Pdu;
use super::tlv::{Tlv, TlvKind};
use super::values::{DataCoding, Npi, Ton};
use super::wire::{FieldValue, Trace};
use bytes::Bytes;
use serde_json::{json, Value};
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
        let error = Pdu::decode_traced(&frame, &mut trace)
            .err()
            .map(|e| DumpError {
                offset: e.offset,
                field: e.field,
                reason: e.reason.to_string(),
                reply: Some(e.reply()),
            });
        out.push(PduDump {
            start,
            header: Some(header),
            fields: trace.0,
            error,
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
    }
}

/// True when any PDU in the dump is malformed.
pub fn has_errors(dumps: &[PduDump]) -> bool {
    dumps.iter().any(|d| d.error.is_some())
}

const MASK: &str = "********";

fn quoted(b: &[u8]) -> String {
    format!("\"{}\"", b.escape_ascii())
}

fn octets(b: &[u8]) -> String {
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
    } else if field == "esm_class" && (v >> 2) & 0x0F == 1 {
        Some("SMSC Delivery Receipt")
    } else {
        None
    }
}

fn tlv_text(t: &Tlv) -> String {
    let v = t.value();
    let shown = match t.tag().kind() {
        Some(TlvKind::U8 | TlvKind::U16 | TlvKind::U32) => {
            t.as_uint().map_or_else(|| octets(v), |n| n.to_string())
        }
        Some(TlvKind::COctet(_)) => quoted(v.strip_suffix(&[0]).unwrap_or(v)),
        Some(TlvKind::Empty) => "(present)".to_string(),
        _ => octets(v),
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

/// Renders the dump as aligned text: one line per field, `[offset] name value`.
pub fn to_text(dumps: &[PduDump]) -> String {
    let mut s = String::new();
    for (i, d) in dumps.iter().enumerate() {
        let name = d.header.map_or("?", |h| h.command_id.name());
        let _ = writeln!(s, "PDU #{} at byte {}: {name}", i + 1, d.start);
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
    s
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
        FieldValue::Tlv(t) => json!({
            "tag": t.tag().value(),
            "length": t.value().len(),
            "value": t.as_uint().filter(|_| matches!(t.tag().kind(), Some(TlvKind::U8 | TlvKind::U16 | TlvKind::U32)))
                .map_or_else(|| json!(hex(t.value())), |n| json!(n)),
        }),
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|c| format!("{c:02x}")).collect()
}

/// Renders the dump as a JSON array, one object per PDU.
pub fn to_json(dumps: &[PduDump]) -> Value {
    Value::Array(
        dumps
            .iter()
            .map(|d| {
                json!({
                    "start": d.start,
                    "header": d.header.map(|h| json!({
                        "command_length": h.command_length,
                        "command_id": h.command_id.value(),
                        "command_name": h.command_id.name(),
                        "command_status": h.command_status.value(),
                        "command_status_name": h.command_status.spec_name(),
                        "sequence_number": h.sequence_number,
                    })),
                    "fields": d.fields.iter().map(|f| json!({ "offset": f.offset, "name": f.name, "value": value_json(f) })).collect::<Vec<_>>(),
                    "error": d.error.as_ref().map(|e| json!({
                        "offset": e.offset,
                        "input_offset": d.start + e.offset,
                        "field": e.field,
                        "reason": e.reason,
                        "reply": e.reply.as_ref().map(reply_text),
                    })),
                })
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let text = to_text(&d);
        assert!(
            text.contains("[  28] password                     ********"),
            "{text}"
        );
        assert!(
            !text.contains("\"password\""),
            "the password must not be shown: {text}"
        );
        assert!(!to_json(&d).to_string().contains("\"password\"}"));
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
}
