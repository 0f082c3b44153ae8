//! The delivery receipt text the simulator sends, in the de-facto format of SMPP 3.4
//! Appendix B that most SMSCs copy:
//!
//! `id:<id> sub:001 dlvrd:001 submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DELIVRD err:000 text:<20>`
//!
//! Dates are UTC; the simulator has no notion of a local SMSC time zone.

use std::time::{SystemTime, UNIX_EPOCH};

/// message_state value for DELIVERED (SMPP 3.4 §5.2.28).
pub const MESSAGE_STATE_DELIVERED: u8 = 2;

/// How many octets of the original text a receipt quotes.
pub const QUOTED_TEXT_LEN: usize = 20;

/// Builds the receipt's short_message for message `id`, quoting the start of `text`.
/// Written octet by octet: a receipt per submit made the formatting machinery a tenth of a
/// loaded simulator's CPU.
pub fn receipt_text(id: &str, submitted: SystemTime, done: SystemTime, text: &[u8]) -> Vec<u8> {
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

/// Formats a time as `YYMMDDhhmm` in UTC. Times before 1970 print as 1970.
pub fn yymmddhhmm(t: SystemTime) -> String {
    date_digits(t).iter().map(|&d| char::from(d)).collect()
}

/// `YYMMDDhhmm` as ASCII digits.
fn date_digits(t: SystemTime) -> [u8; 10] {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil_from_days(days);
    let mut out = [0u8; 10];
    for (i, v) in [y % 100, m, d, rem / 3600, (rem % 3600) / 60]
        .into_iter()
        .enumerate()
    {
        // Every value is below 100.
        out[2 * i] = b'0' + (v / 10 % 10) as u8;
        out[2 * i + 1] = b'0' + (v % 10) as u8;
    }
    out
}

// Howard Hinnant's days-to-civil algorithm, restricted to dates after 1970 so it stays in
// unsigned arithmetic; avoids a date crate for one format string.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn dates_are_utc_yymmddhhmm() {
        // 2026-11-25 11:56:00 UTC
        let t = UNIX_EPOCH + Duration::from_secs(1_795_607_760);
        assert_eq!(yymmddhhmm(t), "2611251156");
        assert_eq!(yymmddhhmm(UNIX_EPOCH), "7001010000");
        // Leap day.
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400);
        assert_eq!(yymmddhhmm(leap), "0002290000");
    }

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
