//! A user's submit_sm or data_sm as the store takes it: one message of one segment, its
//! content forwarded as it came (short_message with or without a UDH, SAR options, or
//! message_payload), charged by the SMS segments its content makes.

use crate::codec::pdu::{DataSm, SubmitSm};
use crate::codec::{CommandStatus, SmppTime, TimeKind, Tlvs};
use crate::daemon::sink::sar_values;
use crate::daemon::store::{MessageId, NewMessage, Origin, ReceiptWish};
use crate::server::Submitted;
use crate::sms::{days_from_civil, Field, Segment};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The longest validity a user may ask for: what a channel's `x-smpp-validity-period` allows.
const MAX_VALIDITY: Duration = Duration::from_secs(99 * 86_400 + 23 * 3600 + 59 * 60 + 59);

/// What a submit becomes, or the status its response carries.
pub(crate) fn new_message(
    submitted: &Submitted,
    user: &str,
    first_channel: &str,
    default_validity: Duration,
    now: SystemTime,
) -> Result<NewMessage, CommandStatus> {
    let parts = Parts::of(submitted)?;
    if parts.to.is_empty() {
        return Err(CommandStatus::EsmeRinvdstadr);
    }
    let validity = match parts.validity {
        Some(t) => validity(t, now)?,
        None => default_validity,
    };
    let segment = Segment {
        bytes: parts.content.to_vec(),
        field: parts.field,
        esm_class: parts.esm_class,
        data_coding: parts.data_coding,
        sar: sar_values(parts.tlvs),
    };
    let charge = charge(&segment);
    Ok(NewMessage {
        id: MessageId::generate(),
        channel: first_channel.to_string(),
        pinned: false,
        to: parts.to,
        from: (!parts.from.is_empty()).then_some(parts.from),
        delivery_report: ReceiptWish::from_registered_delivery(parts.registered_delivery)
            != ReceiptWish::None,
        expires_at: now + validity,
        send_validity: parts.validity.is_some(),
        encoding: "binary",
        data_coding: parts.data_coding,
        segments: vec![segment],
        idempotency: None,
        origin: Some(Origin {
            user: user.to_string(),
            receipts: ReceiptWish::from_registered_delivery(parts.registered_delivery),
            charge,
        }),
    })
}

/// The fields both PDUs share.
struct Parts<'a> {
    to: String,
    from: String,
    esm_class: u8,
    data_coding: u8,
    registered_delivery: u8,
    validity: Option<&'a SmppTime>,
    field: Field,
    content: &'a [u8],
    tlvs: &'a Tlvs,
}

impl<'a> Parts<'a> {
    fn of(submitted: &'a Submitted) -> Result<Parts<'a>, CommandStatus> {
        match submitted {
            Submitted::SubmitSm(s) => Ok(Parts::submit(s)),
            Submitted::DataSm(d) => Parts::data(d),
        }
    }

    fn submit(s: &'a SubmitSm) -> Parts<'a> {
        let (field, content) = match s.tlvs.message_payload() {
            Some(payload) => (Field::MessagePayload, payload),
            None => (Field::ShortMessage, s.short_message.as_bytes()),
        };
        Parts {
            to: text(s.destination_addr.as_bytes()),
            from: text(s.source_addr.as_bytes()),
            esm_class: s.esm_class.0,
            data_coding: s.data_coding.into(),
            registered_delivery: s.registered_delivery,
            validity: (s.validity_period.kind() != TimeKind::Unset).then_some(&s.validity_period),
            field,
            content,
            tlvs: &s.tlvs,
        }
    }

    fn data(d: &'a DataSm) -> Result<Parts<'a>, CommandStatus> {
        // data_sm carries its content in message_payload only.
        let content = d
            .tlvs
            .message_payload()
            .ok_or(CommandStatus::EsmeRmissingoptparam)?;
        Ok(Parts {
            to: text(d.destination_addr.as_bytes()),
            from: text(d.source_addr.as_bytes()),
            esm_class: d.esm_class.0,
            data_coding: d.data_coding.into(),
            registered_delivery: d.registered_delivery,
            validity: None,
            field: Field::MessagePayload,
            content,
            tlvs: &d.tlvs,
        })
    }
}

/// An address as text (the codec checked it is a C-octet string; anything not UTF-8 is
/// kept lossily rather than refused: an SMSC may take it).
fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Credits a segment costs: one per SMS the upstream makes of it. A short_message is one
/// SMS (a client that splits a long message sends one submit per part, each charged one).
/// A message_payload longer than one SMS is split upstream: 153 characters per part in the
/// default alphabet (data_coding 0, one octet per character), 134 octets otherwise.
pub(crate) fn charge(segment: &Segment) -> u32 {
    let len = segment.bytes.len();
    let (single, part) = match segment.data_coding {
        0 => (160, 153),
        _ => (140, 134),
    };
    if segment.field == Field::ShortMessage || len <= single {
        return 1;
    }
    u32::try_from(len.div_ceil(part)).unwrap_or(u32::MAX)
}

/// How long a message asked for with validity_period `t` (relative or absolute) stays
/// valid from `now`, at most [`MAX_VALIDITY`]; a time already past is refused.
fn validity(t: &SmppTime, now: SystemTime) -> Result<Duration, CommandStatus> {
    let b = t.as_c_octet().as_bytes();
    let field = |at: usize| -> Result<u64, CommandStatus> {
        let pair = b.get(at..at + 2).ok_or(CommandStatus::EsmeRinvexpiry)?;
        std::str::from_utf8(pair)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or(CommandStatus::EsmeRinvexpiry)
    };
    let (yy, mo, dd, hh, mi, ss) = (
        field(0)?,
        field(2)?,
        field(4)?,
        field(6)?,
        field(8)?,
        field(10)?,
    );
    let span = match t.kind() {
        TimeKind::Unset => return Err(CommandStatus::EsmeRinvexpiry),
        TimeKind::Relative => {
            Duration::from_secs(((yy * 365 + mo * 30 + dd) * 86_400) + hh * 3600 + mi * 60 + ss)
        }
        TimeKind::Absolute => {
            let quarters = field(13)?;
            let sign = b.get(15).copied();
            let days = days_from_civil(2000 + yy as i64, mo as i64, dd as i64)
                .ok_or(CommandStatus::EsmeRinvexpiry)?;
            let local = days * 86_400 + (hh * 3600 + mi * 60 + ss) as i64;
            // The time is local to the offset: UTC = local - offset.
            let offset = (quarters * 15 * 60) as i64;
            let utc = match sign {
                Some(b'+') => local - offset,
                _ => local + offset,
            };
            let now = now
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
            if utc <= now {
                return Err(CommandStatus::EsmeRinvexpiry);
            }
            Duration::from_secs((utc - now) as u64)
        }
    };
    if span.is_zero() {
        return Err(CommandStatus::EsmeRinvexpiry);
    }
    Ok(span.min(MAX_VALIDITY))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{Addr21, ShortMessage, Tlv};

    fn submit(sm: &[u8]) -> SubmitSm {
        SubmitSm {
            destination_addr: Addr21::new("31612345678").unwrap(),
            source_addr: Addr21::new("ACME").unwrap(),
            registered_delivery: 1,
            short_message: ShortMessage::new(sm.to_vec()).unwrap(),
            ..SubmitSm::default()
        }
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn a_submit_becomes_one_segment_forwarded_as_it_came() {
        let s = Submitted::SubmitSm(Box::new(submit(b"hello")));
        let m = new_message(&s, "acme", "a", Duration::from_secs(60), at(1000)).unwrap();
        assert_eq!(m.to, "31612345678");
        assert_eq!(m.from.as_deref(), Some("ACME"));
        assert_eq!(m.segments.len(), 1);
        assert_eq!(m.segments[0].bytes, b"hello");
        assert_eq!(m.expires_at, at(1060));
        let origin = m.origin.unwrap();
        assert_eq!((origin.user.as_str(), origin.charge), ("acme", 1));
        assert_eq!(origin.receipts, ReceiptWish::Final);
    }

    #[test]
    fn a_long_payload_is_charged_by_the_parts_it_makes() {
        let mut s = submit(b"");
        s.tlvs.push(Tlv::message_payload(vec![b'a'; 307]).unwrap());
        let m = new_message(
            &Submitted::SubmitSm(Box::new(s)),
            "acme",
            "a",
            Duration::from_secs(60),
            at(0),
        )
        .unwrap();
        assert_eq!(m.segments[0].field, Field::MessagePayload);
        assert_eq!(m.origin.unwrap().charge, 3);
    }

    #[test]
    fn validity_periods_relative_and_absolute() {
        let relative = SmppTime::new("000001020304000R").unwrap();
        assert_eq!(
            validity(&relative, at(0)),
            Ok(Duration::from_secs(86_400 + 2 * 3600 + 3 * 60 + 4))
        );
        // 2030-01-01 00:00:00 at +01:00 (4 quarters) is 2029-12-31 23:00 UTC.
        let absolute = SmppTime::new("300101000000004+").unwrap();
        let utc = 1_893_456_000 - 3600;
        assert_eq!(
            validity(&absolute, at(utc - 10)),
            Ok(Duration::from_secs(10))
        );
        assert_eq!(
            validity(&absolute, at(utc + 10)),
            Err(CommandStatus::EsmeRinvexpiry)
        );
    }

    #[test]
    fn no_destination_is_refused() {
        let mut s = submit(b"x");
        s.destination_addr = Addr21::default();
        let e = new_message(
            &Submitted::SubmitSm(Box::new(s)),
            "acme",
            "a",
            Duration::from_secs(60),
            at(0),
        );
        assert_eq!(e.unwrap_err(), CommandStatus::EsmeRinvdstadr);
    }
}
