//! UCS-2 as SMSCs actually carry it (data_coding 8): UTF-16 big-endian, so characters
//! beyond the Basic Multilingual Plane (emoji) travel as surrogate pairs.

use super::error::DecodeError;

/// Encodes `text` as UTF-16BE. Every `char` is representable.
pub(crate) fn encode(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() * 2);
    encode_into(text, &mut out);
    out
}

/// Encodes `text` as UTF-16BE, appending to `out`.
pub(crate) fn encode_into(text: &str, out: &mut Vec<u8>) {
    for unit in text.encode_utf16() {
        out.extend_from_slice(&unit.to_be_bytes());
    }
}

/// Number of UTF-16 code units in `text`: what handsets count against 70/67.
#[cfg(test)]
pub(crate) fn unit_count(text: &str) -> usize {
    text.chars().map(char::len_utf16).sum()
}

/// True for the first half of a surrogate pair.
pub(crate) fn is_high_surrogate(unit: u16) -> bool {
    (0xD800..=0xDBFF).contains(&unit)
}

/// Decodes UTF-16BE strictly: odd length or an unpaired surrogate is an error with the
/// byte offset.
pub(crate) fn decode(bytes: &[u8]) -> Result<String, DecodeError> {
    if !bytes.len().is_multiple_of(2) {
        return Err(DecodeError::OddLength { len: bytes.len() });
    }
    let units = bytes
        .chunks_exact(2)
        .map(|pair| u16::from_be_bytes([pair[0], pair[1]]));
    let mut out = String::with_capacity(bytes.len());
    let mut offset = 0;
    for r in char::decode_utf16(units) {
        match r {
            Ok(c) => {
                out.push(c);
                offset += c.len_utf16() * 2;
            }
            Err(e) => {
                return Err(DecodeError::UnpairedSurrogate {
                    offset,
                    unit: e.unpaired_surrogate(),
                })
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_bmp_and_surrogate_pairs_big_endian() {
        // TS 23.038 §6.1.2.2 / ISO 10646: 'A' U+0041, 'Ж' U+0416, '€' U+20AC.
        assert_eq!(encode("AЖ€"), [0x00, 0x41, 0x04, 0x16, 0x20, 0xAC]);
        // U+1F600 = D83D DE00.
        assert_eq!(encode("😀"), [0xD8, 0x3D, 0xDE, 0x00]);
        assert_eq!(unit_count("a😀"), 3);
    }

    /// UCS-2 in TS 23.038 §6.2.3 is ISO/IEC 10646: each character is its code point as a
    /// big-endian 16-bit unit. Pairs typed from the Unicode charts, independently of the
    /// encoder; the last two are outside the BMP and travel as UTF-16 surrogate pairs.
    #[rustfmt::skip]
    const SPEC: &[(char, &[u8])] = &[
        ('@', &[0x00, 0x40]), ('£', &[0x00, 0xA3]), ('ß', &[0x00, 0xDF]),
        ('Δ', &[0x03, 0x94]), ('Ω', &[0x03, 0xA9]), ('Я', &[0x04, 0x2F]),
        ('א', &[0x05, 0xD0]), ('ب', &[0x06, 0x28]), ('क', &[0x09, 0x15]),
        ('ก', &[0x0E, 0x01]), ('€', &[0x20, 0xAC]), ('中', &[0x4E, 0x2D]),
        ('한', &[0xD5, 0x5C]), ('\u{FFFD}', &[0xFF, 0xFD]),
        ('😀', &[0xD8, 0x3D, 0xDE, 0x00]), ('\u{10FFFF}', &[0xDB, 0xFF, 0xDF, 0xFF]),
    ];

    #[test]
    fn code_units_match_iso_10646() {
        for &(c, bytes) in SPEC {
            assert_eq!(encode(&c.to_string()), bytes, "{c:?}");
            assert_eq!(decode(bytes).unwrap(), c.to_string());
        }
    }

    #[test]
    fn decoding_rejects_odd_length_and_lone_surrogates() {
        assert_eq!(
            decode(&[0, 0x41, 0]),
            Err(DecodeError::OddLength { len: 3 })
        );
        assert_eq!(
            decode(&[0, 0x41, 0xD8, 0x3D, 0, 0x41]),
            Err(DecodeError::UnpairedSurrogate {
                offset: 2,
                unit: 0xD83D
            })
        );
        assert_eq!(
            decode(&[0xDE, 0x00]),
            Err(DecodeError::UnpairedSurrogate {
                offset: 0,
                unit: 0xDE00
            })
        );
        assert_eq!(
            decode(&[0, 0x41, 0xD8, 0x3D]),
            Err(DecodeError::UnpairedSurrogate {
                offset: 2,
                unit: 0xD83D
            })
        );
        assert_eq!(decode(&[0xD8, 0x3D, 0xDE, 0x00]).unwrap(), "😀");
    }
}
