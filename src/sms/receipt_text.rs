//! The de-facto text form of a delivery receipt (SMPP v3.4 Appendix B):
//!
//! ```text
//! id:IIIIIIIIII sub:SSS dlvrd:DDD submit date:YYMMDDhhmm done date:YYMMDDhhmm stat:DDDDDDD err:E text:...
//! ```
//!
//! Tolerant where SMSCs differ: keys in any case and order, any field missing, dates with
//! or without seconds, `submit_date` for `submit date`, unknown `word:` fields skipped,
//! unknown `stat:` values kept. `text:` runs to the end of the input because the quoted
//! message may contain colons and spaces. Strict where a guess would hide a fault: text
//! before the first key, a repeated key, a malformed date or count is an error with the
//! byte offset. Values borrow from the input.

use super::delivery_state::DeliveryState;

/// A receipt date, `YYMMDDhhmm[ss]`, as the SMSC wrote it (no time zone is given).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ReceiptDate {
    /// Two-digit year, 0..=99.
    pub year: u8,
    /// 1..=12.
    pub month: u8,
    /// 1..=31.
    pub day: u8,
    /// 0..=23.
    pub hour: u8,
    /// 0..=59.
    pub minute: u8,
    /// 0..=59, when the 12-digit form was used.
    pub second: Option<u8>,
}

impl ReceiptDate {
    /// The date as RFC 3339, or `None` when it names no real instant (31 April, 29 February
    /// 2023, or fields out of range in a value built by hand). A receipt gives neither century
    /// nor time zone: the year is read as 20YY and the time as UTC, which is what smppd's
    /// simulator writes; an SMSC that writes local time needs its offset applied by the reader.
    pub fn to_rfc3339(self) -> Option<String> {
        let year = 2000 + u16::from(self.year);
        let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
        let days_in_month = match self.month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        let second = self.second.unwrap_or(0);
        let valid = self.year <= 99
            && (1..=days_in_month).contains(&self.day)
            && self.hour <= 23
            && self.minute <= 59
            && second <= 59;
        valid.then(|| {
            format!(
                "{year:04}-{:02}-{:02}T{:02}:{:02}:{second:02}Z",
                self.month, self.day, self.hour, self.minute
            )
        })
    }
}

/// As written in the receipt: `YYMMDDhhmm`, or `YYMMDDhhmmss` when seconds were given.
impl std::fmt::Display for ReceiptDate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:02}{:02}{:02}{:02}{:02}",
            self.year, self.month, self.day, self.hour, self.minute
        )?;
        match self.second {
            Some(s) => write!(f, "{s:02}"),
            None => Ok(()),
        }
    }
}

/// The fields of a text receipt. Each is `None` when the SMSC left it out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TextReceipt<'a> {
    /// `id:` the message id, as written.
    pub id: Option<&'a str>,
    /// `sub:` number of messages originally submitted.
    pub sub: Option<u32>,
    /// `dlvrd:` number delivered.
    pub dlvrd: Option<u32>,
    /// `submit date:`.
    pub submit_date: Option<ReceiptDate>,
    /// `done date:`.
    pub done_date: Option<ReceiptDate>,
    /// `stat:`.
    pub stat: Option<DeliveryState<'a>>,
    /// `err:` network or SMSC error code, verbatim (often three digits, sometimes hex).
    pub err: Option<&'a str>,
    /// `text:` the start of the original message, raw octets in the deliver_sm's coding.
    pub text: Option<&'a [u8]>,
}

/// Which field of the text form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiptField {
    /// `id:`
    Id,
    /// `sub:`
    Sub,
    /// `dlvrd:`
    Dlvrd,
    /// `submit date:`
    SubmitDate,
    /// `done date:`
    DoneDate,
    /// `stat:`
    Stat,
    /// `err:`
    Err,
    /// `text:`
    Text,
}

/// A receipt that does not parse. Offsets are byte offsets into short_message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// No receipt field at all (nor receipt TLVs).
    #[error("not a delivery receipt: no id:, stat: or other receipt field found")]
    NotAReceipt,
    /// Something other than a `key:` where the receipt should start.
    #[error("unexpected text at offset {offset} before the first receipt field")]
    UnexpectedText {
        /// Where it starts.
        offset: usize,
    },
    /// A field given twice, which makes the receipt ambiguous.
    #[error("receipt field {field:?} repeated at offset {offset}")]
    DuplicateField {
        /// The field.
        field: ReceiptField,
        /// Offset of the second key.
        offset: usize,
    },
    /// A date that is not 10 or 12 digits of a valid YYMMDDhhmm\[ss\].
    #[error("receipt field {field:?} at offset {offset}: {value:?} is not a YYMMDDhhmm[ss] date")]
    InvalidDate {
        /// The field.
        field: ReceiptField,
        /// Offset of the value.
        offset: usize,
        /// The value.
        value: String,
    },
    /// sub: or dlvrd: that is not a decimal count.
    #[error("receipt field {field:?} at offset {offset}: {value:?} is not a count")]
    InvalidCount {
        /// The field.
        field: ReceiptField,
        /// Offset of the value.
        offset: usize,
        /// The value.
        value: String,
    },
    /// A value (other than text:) that is not UTF-8.
    #[error("receipt field {field:?} has a non-UTF-8 octet at offset {offset}")]
    NotUtf8 {
        /// The field.
        field: ReceiptField,
        /// Offset of the bad octet.
        offset: usize,
    },
}

/// Known keys, lowercase, longest spellings first where one is a prefix of another.
const KEYS: [(&[u8], ReceiptField); 10] = [
    (b"id", ReceiptField::Id),
    (b"sub", ReceiptField::Sub),
    (b"dlvrd", ReceiptField::Dlvrd),
    (b"submit date", ReceiptField::SubmitDate),
    (b"submit_date", ReceiptField::SubmitDate),
    (b"done date", ReceiptField::DoneDate),
    (b"done_date", ReceiptField::DoneDate),
    (b"stat", ReceiptField::Stat),
    (b"err", ReceiptField::Err),
    (b"text", ReceiptField::Text),
];

/// The key starting at `rest`, and the length including its colon. `Some(None, len)` is
/// an unknown `word:` that ends the previous value and is otherwise skipped.
fn match_key(rest: &[u8]) -> Option<(Option<ReceiptField>, usize)> {
    for &(name, field) in &KEYS {
        if let Some(head) = rest.get(..name.len()) {
            if head.eq_ignore_ascii_case(name) && rest.get(name.len()) == Some(&b':') {
                return Some((Some(field), name.len() + 1));
            }
        }
    }
    let word = rest
        .iter()
        .take_while(|b| b.is_ascii_alphanumeric() || **b == b'_')
        .count();
    if word > 0
        && rest.get(word) == Some(&b':')
        && rest.first().is_some_and(u8::is_ascii_alphabetic)
    {
        return Some((None, word + 1));
    }
    None
}

/// Parses the text form of a receipt.
///
/// One pass: each value runs from its key to the next key, so a value is read when the key
/// after it is found (or the input ends), and nothing is allocated.
pub fn parse_text_receipt(input: &[u8]) -> Result<TextReceipt<'_>, ReceiptError> {
    let mut receipt = TextReceipt::default();
    // The known fields read so far, one bit each.
    let mut seen: u16 = 0;
    // The last key found (field or unknown, key offset, value start): its value is open.
    let mut open: Option<(Option<ReceiptField>, usize, usize)> = None;
    let mut pos = 0;
    let mut at_boundary = true;
    while let Some(&b) = input.get(pos) {
        if at_boundary && !b.is_ascii_whitespace() {
            if let Some((field, len)) = input.get(pos..).and_then(match_key) {
                if let Some(key) = open.take() {
                    read_value(&mut receipt, &mut seen, input, key, pos)?;
                }
                open = Some((field, pos, pos + len));
                pos += len;
                if field == Some(ReceiptField::Text) {
                    break;
                }
                at_boundary = false;
                continue;
            }
            if open.is_none() {
                return Err(ReceiptError::UnexpectedText { offset: pos });
            }
        }
        at_boundary = b.is_ascii_whitespace();
        pos += 1;
    }
    if let Some(key) = open {
        read_value(&mut receipt, &mut seen, input, key, input.len())?;
    }
    if seen == 0 {
        return Err(ReceiptError::NotAReceipt);
    }
    Ok(receipt)
}

// The fields seen are kept as bits of a `u16` (`Text` is the last field).
const _: () = assert!((ReceiptField::Text as u16) < 16);

/// Reads the value of `key` (field or unknown, key offset, value start), which ends at `end`,
/// into `receipt`; unknown keys are skipped.
fn read_value<'a>(
    receipt: &mut TextReceipt<'a>,
    seen: &mut u16,
    input: &'a [u8],
    (field, key_offset, start): (Option<ReceiptField>, usize, usize),
    end: usize,
) -> Result<(), ReceiptError> {
    let Some(field) = field else {
        return Ok(());
    };
    // Every field has a bit of its own (checked at compile time below).
    let bit = 1u16 << (field as u16);
    if *seen & bit != 0 {
        return Err(ReceiptError::DuplicateField {
            field,
            offset: key_offset,
        });
    }
    *seen |= bit;
    let raw = input.get(start..end).unwrap_or_default();
    if field == ReceiptField::Text {
        receipt.text = Some(raw);
        return Ok(());
    }
    let (value, offset) = trimmed(raw, start);
    let value = std::str::from_utf8(value).map_err(|e| ReceiptError::NotUtf8 {
        field,
        offset: offset + e.valid_up_to(),
    })?;
    match field {
        ReceiptField::Id => receipt.id = Some(value),
        ReceiptField::Sub => receipt.sub = Some(count(field, value, offset)?),
        ReceiptField::Dlvrd => receipt.dlvrd = Some(count(field, value, offset)?),
        ReceiptField::SubmitDate => receipt.submit_date = Some(date(field, value, offset)?),
        ReceiptField::DoneDate => receipt.done_date = Some(date(field, value, offset)?),
        ReceiptField::Stat => receipt.stat = Some(DeliveryState::from_stat(value)),
        ReceiptField::Err => receipt.err = Some(value),
        ReceiptField::Text => {}
    }
    Ok(())
}

/// `raw` without surrounding whitespace, and the offset where the trimmed value starts.
fn trimmed(raw: &[u8], start: usize) -> (&[u8], usize) {
    let lead = raw.iter().take_while(|b| b.is_ascii_whitespace()).count();
    let rest = raw.get(lead..).unwrap_or_default();
    let trail = rest
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_whitespace())
        .count();
    let value = rest.get(..rest.len() - trail).unwrap_or_default();
    (value, start + lead)
}

fn count(field: ReceiptField, value: &str, offset: usize) -> Result<u32, ReceiptError> {
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        if let Ok(n) = value.parse() {
            return Ok(n);
        }
    }
    Err(ReceiptError::InvalidCount {
        field,
        offset,
        value: value.to_owned(),
    })
}

fn date(field: ReceiptField, value: &str, offset: usize) -> Result<ReceiptDate, ReceiptError> {
    let invalid = || ReceiptError::InvalidDate {
        field,
        offset,
        value: value.to_owned(),
    };
    let b = value.as_bytes();
    if !(b.len() == 10 || b.len() == 12) || !b.iter().all(u8::is_ascii_digit) {
        return Err(invalid());
    }
    let two = |i: usize| -> u8 {
        match (b.get(i), b.get(i + 1)) {
            (Some(h), Some(l)) => (h - b'0') * 10 + (l - b'0'),
            _ => 0,
        }
    };
    let d = ReceiptDate {
        year: two(0),
        month: two(2),
        day: two(4),
        hour: two(6),
        minute: two(8),
        second: (b.len() == 12).then(|| two(10)),
    };
    let valid = (1..=12).contains(&d.month)
        && (1..=31).contains(&d.day)
        && d.hour <= 23
        && d.minute <= 59
        && d.second.is_none_or(|s| s <= 59);
    if valid {
        Ok(d)
    } else {
        Err(invalid())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(text: &str) -> ReceiptDate {
        let input = format!("done date:{text}");
        let receipt = parse_text_receipt(input.as_bytes()).expect("a valid date");
        receipt.done_date.expect("done date is given")
    }

    #[test]
    fn dates_print_as_written_and_as_rfc3339() {
        let d = date("2401021030");
        assert_eq!(d.to_string(), "2401021030");
        assert_eq!(d.to_rfc3339().as_deref(), Some("2024-01-02T10:30:00Z"));
        let d = date("991231235959");
        assert_eq!(d.to_string(), "991231235959");
        assert_eq!(d.to_rfc3339().as_deref(), Some("2099-12-31T23:59:59Z"));
        assert_eq!(
            date("2402291200").to_rfc3339().as_deref(),
            Some("2024-02-29T12:00:00Z")
        );
        assert_eq!(
            date("0002290000").to_rfc3339().as_deref(),
            Some("2000-02-29T00:00:00Z")
        );
    }

    #[test]
    fn days_that_do_not_exist_have_no_rfc3339_form() {
        // The text parser checks each field's range, not the calendar.
        for text in ["2302291200", "2404311200", "2406310000", "2411310000"] {
            let d = date(text);
            assert_eq!(d.to_string(), text);
            assert_eq!(d.to_rfc3339(), None, "{text}");
        }
        let by_hand = ReceiptDate {
            year: 100,
            month: 13,
            day: 0,
            hour: 24,
            minute: 60,
            second: Some(60),
        };
        assert_eq!(by_hand.to_rfc3339(), None);
    }
}
