//! The delivery receipt text the simulator sends, in the de-facto format of SMPP 3.4
//! Appendix B that most SMSCs copy:
//!
//! `id:<id> sub:001 dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DELIVRD err:000 text:<20>`
//!
//! Dates are UTC; the simulator has no notion of a local SMSC time zone.

use crate::sms::date_digits;
use std::time::SystemTime;

/// message_state value for DELIVERED (SMPP 3.4 §5.2.28).
pub(crate) const MESSAGE_STATE_DELIVERED: u8 = 2;

/// How many octets of the original text a receipt quotes.
pub(crate) const QUOTED_TEXT_LEN: usize = 20;

/// Builds the receipt's short_message for message `id`, quoting the start of `text`.
/// Written octet by octet: a receipt per submit made the formatting machinery a tenth of a
/// loaded simulator's CPU.
pub(crate) fn receipt_text(
    id: &str,
    submitted: SystemTime,
    done: SystemTime,
    text: &[u8],
) -> Vec<u8> {
    let quoted = &text[..text.len().min(QUOTED_TEXT_LEN)];
    let mut out = Vec::with_capacity(100 + id.len() + quoted.len());
    out.extend_from_slice(b"id:");
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(b" sub:001 dlvrd:001 submit date:");
    out.extend_from_slice(&date_digits(submitted));
    out.extend_from_slice(b" done date:");
    out.extend_from_slice(&date_digits(done));
    out.extend_from_slice(b" stat:DELIVRD err:000 text:");
    out.extend_from_slice(quoted);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn the_text_quotes_at_most_twenty_octets() {
        let t = UNIX_EPOCH;
        let r = receipt_text("abc", t, t, b"0123456789012345678901234");
        let r = String::from_utf8(r).unwrap();
        assert_eq!(
            r,
            "id:abc sub:001 dlvrd:001 submit date:7001010000 done date:7001010000 \
             stat:DELIVRD err:000 text:01234567890123456789"
        );
    }
}
