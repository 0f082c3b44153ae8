//! The one-octet-per-character codings: IA5/ASCII (data_coding 1) and ISO 8859-1 Latin-1
//! (data_coding 3).

use super::error::{DecodeError, EncodeError};
use super::Coding;

/// Encodes `text` as IA5 (7-bit ASCII), one octet per character.
pub(crate) fn encode_ia5(text: &str) -> Result<Vec<u8>, EncodeError> {
    if text.is_ascii() {
        return Ok(text.as_bytes().to_vec());
    }
    Err(first_outside(text, 0x7F, Coding::Ia5))
}

/// Encodes `text` as Latin-1: every character up to U+00FF is one octet.
pub(crate) fn encode_latin1(text: &str) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(text.len());
    for (position, c) in text.chars().enumerate() {
        match u8::try_from(u32::from(c)) {
            Ok(b) => out.push(b),
            Err(_) => {
                return Err(EncodeError::Unrepresentable {
                    character: c,
                    position,
                    coding: Coding::Latin1,
                })
            }
        }
    }
    Ok(out)
}

fn first_outside(text: &str, max: u32, coding: Coding) -> EncodeError {
    // Only called when such a character exists; the fallback keeps it total anyway.
    let (position, character) = text
        .chars()
        .enumerate()
        .find(|&(_, c)| u32::from(c) > max)
        .unwrap_or((0, '\u{FFFD}'));
    EncodeError::Unrepresentable {
        character,
        position,
        coding,
    }
}

/// Decodes IA5: an octet above 0x7F is an error with its offset.
pub(crate) fn decode_ia5(bytes: &[u8]) -> Result<String, DecodeError> {
    match std::str::from_utf8(bytes) {
        Ok(s) if s.is_ascii() => Ok(s.to_owned()),
        _ => {
            let (offset, &value) = bytes
                .iter()
                .enumerate()
                .find(|&(_, &b)| b > 0x7F)
                .unwrap_or((0, &0));
            Err(DecodeError::NotIa5 { offset, value })
        }
    }
}

/// Decodes Latin-1. Every octet is a character, so this cannot fail.
pub(crate) fn decode_latin1(bytes: &[u8]) -> String {
    bytes.iter().map(|&b| char::from(b)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latin1_round_trips_every_octet() {
        let all: Vec<u8> = (0..=255).collect();
        let text = decode_latin1(&all);
        assert_eq!(text.chars().count(), 256);
        assert_eq!(encode_latin1(&text).unwrap(), all);
    }

    #[test]
    fn latin1_names_a_cyrillic_character_and_its_position() {
        assert_eq!(
            encode_latin1("Grüße, Привет"),
            Err(EncodeError::Unrepresentable {
                character: 'П',
                position: 7,
                coding: Coding::Latin1
            })
        );
    }

    #[test]
    fn ia5_rejects_non_ascii_both_ways() {
        assert_eq!(
            encode_ia5("abcé"),
            Err(EncodeError::Unrepresentable {
                character: 'é',
                position: 3,
                coding: Coding::Ia5
            })
        );
        assert_eq!(
            decode_ia5(b"ab\xE9"),
            Err(DecodeError::NotIa5 {
                offset: 2,
                value: 0xE9
            })
        );
        assert_eq!(decode_ia5(b"hi").unwrap(), "hi");
    }
}
