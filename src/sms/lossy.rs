//! Lossy decoding for display: never fails, replaces what it cannot decode with U+FFFD and
//! lists every replacement so the caller can show or log that the text was altered.

use super::error::DecodeError;
use super::{gsm7, octet, Coding};

/// The replacement character written in place of undecodable input.
pub(crate) const REPLACEMENT: char = '\u{FFFD}';

/// Decoded text plus the places where input was replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LossyText {
    /// The text, with U+FFFD (the replacement character) where input could not be decoded.
    pub text: String,
    /// One entry per replacement, in input order; empty when the decode was exact.
    pub replacements: Vec<DecodeError>,
}

impl LossyText {
    /// True when nothing was replaced.
    pub fn is_exact(&self) -> bool {
        self.replacements.is_empty()
    }
}

/// Decodes `bytes` in `coding` for display. Binary is shown as Latin-1 so every octet
/// stays visible; that is not a replacement.
pub fn decode_lossy(bytes: &[u8], coding: Coding) -> LossyText {
    let mut text = String::with_capacity(bytes.len());
    let mut replacements = Vec::new();
    match coding {
        Coding::Latin1 | Coding::Binary => text = octet::decode_latin1(bytes),
        Coding::Ia5 => {
            for (offset, &b) in bytes.iter().enumerate() {
                if b > 0x7F {
                    text.push(REPLACEMENT);
                    replacements.push(DecodeError::NotIa5 { offset, value: b });
                } else {
                    text.push(char::from(b));
                }
            }
        }
        Coding::Gsm7 => {
            let mut iter = bytes.iter().copied().enumerate().peekable();
            while let Some((offset, s)) = iter.next() {
                if s > 0x7F {
                    text.push(REPLACEMENT);
                    replacements.push(DecodeError::SeptetOutOfRange { offset, value: s });
                } else if s == gsm7::ESCAPE {
                    match iter.peek() {
                        None => {
                            text.push(REPLACEMENT);
                            replacements.push(DecodeError::EscapeAtEnd { offset });
                        }
                        // The escape and its invalid follower make one replacement,
                        // reported by the next round for the follower.
                        Some(&(_, next)) if next > 0x7F => {}
                        Some(&(_, next)) => {
                            iter.next();
                            text.push(gsm7::decode_escaped(next));
                        }
                    }
                } else {
                    text.push(gsm7::BASIC[usize::from(s)]);
                }
            }
        }
        Coding::Ucs2 => {
            let units = bytes
                .chunks_exact(2)
                .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
            let mut offset = 0;
            for r in char::decode_utf16(units) {
                match r {
                    Ok(c) => {
                        text.push(c);
                        offset += c.len_utf16() * 2;
                    }
                    Err(e) => {
                        text.push(REPLACEMENT);
                        replacements.push(DecodeError::UnpairedSurrogate {
                            offset,
                            unit: e.unpaired_surrogate(),
                        });
                        offset += 2;
                    }
                }
            }
            if !bytes.len().is_multiple_of(2) {
                text.push(REPLACEMENT);
                replacements.push(DecodeError::OddLength { len: bytes.len() });
            }
        }
    }
    // Strict decoders and this one must agree on valid input.
    debug_assert!(
        !replacements.is_empty() || coding == Coding::Binary || {
            super::decode(bytes, coding).as_deref() == Ok(text.as_str())
        }
    );
    LossyText { text, replacements }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_each_replacement() {
        let lossy = decode_lossy(b"a\x80b\x1B", Coding::Gsm7);
        assert_eq!(lossy.text, "a\u{FFFD}b\u{FFFD}");
        assert_eq!(
            lossy.replacements,
            [
                DecodeError::SeptetOutOfRange {
                    offset: 1,
                    value: 0x80
                },
                DecodeError::EscapeAtEnd { offset: 3 }
            ]
        );
    }

    #[test]
    fn escape_before_an_invalid_septet_is_one_replacement() {
        let lossy = decode_lossy(b"a\x1B\x90b", Coding::Gsm7);
        assert_eq!(lossy.text, "a\u{FFFD}b");
        assert_eq!(
            lossy.replacements,
            [DecodeError::SeptetOutOfRange {
                offset: 2,
                value: 0x90
            }]
        );
    }

    #[test]
    fn ucs2_lone_surrogate_and_odd_tail() {
        let lossy = decode_lossy(&[0xD8, 0x3D, 0x00, 0x41, 0x00], Coding::Ucs2);
        assert_eq!(lossy.text, "\u{FFFD}A\u{FFFD}");
        assert_eq!(lossy.replacements.len(), 2);
        assert!(!lossy.is_exact());
    }

    #[test]
    fn exact_input_has_no_replacements() {
        let lossy = decode_lossy(&[0x00, 0x41], Coding::Ucs2);
        assert!(lossy.is_exact());
        assert_eq!(lossy.text, "A");
        assert!(decode_lossy(b"ok", Coding::Ia5).is_exact());
    }
}
