//! The GSM 03.38 default alphabet and its extension table (3GPP TS 23.038 §6.2.1), one
//! septet per octet ("unpacked", the usual form over SMPP with data_coding 0).
//!
//! Pure tables and loops over `&str` / `&[u8]`; packing into septets lives in
//! [`super::septet`].

use super::error::{DecodeError, EncodeError};
use super::Coding;

/// The escape septet that announces a character of the extension table.
pub const ESCAPE: u8 = 0x1B;

/// The basic character set, indexed by septet value (TS 23.038 §6.2.1, table 6.2.1.1).
/// 0x1B is the escape to the extension table; it is decoded as a space when it is not
/// followed by anything the extension table defines (see [`decode`]).
pub(crate) const BASIC: [char; 128] = [
    '@', '£', '$', '¥', 'è', 'é', 'ù', 'ì', 'ò', 'Ç', '\n', 'Ø', 'ø', '\r', 'Å', 'å', //
    'Δ', '_', 'Φ', 'Γ', 'Λ', 'Ω', 'Π', 'Ψ', 'Σ', 'Θ', 'Ξ', '\u{1B}', 'Æ', 'æ', 'ß', 'É', //
    ' ', '!', '"', '#', '¤', '%', '&', '\'', '(', ')', '*', '+', ',', '-', '.', '/', //
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ':', ';', '<', '=', '>', '?', //
    '¡', 'A', 'B', 'C', 'D', 'E', 'F', 'G', 'H', 'I', 'J', 'K', 'L', 'M', 'N', 'O', //
    'P', 'Q', 'R', 'S', 'T', 'U', 'V', 'W', 'X', 'Y', 'Z', 'Ä', 'Ö', 'Ñ', 'Ü', '§', //
    '¿', 'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i', 'j', 'k', 'l', 'm', 'n', 'o', //
    'p', 'q', 'r', 's', 't', 'u', 'v', 'w', 'x', 'y', 'z', 'ä', 'ö', 'ñ', 'ü', 'à', //
];

/// The extension table (TS 23.038 §6.2.1.1): septet after the escape, and its character.
/// The spec's reserved codes (0x0D "CR2", 0x1B "SS2") are left out on purpose: they have
/// no character of their own.
pub(crate) const EXTENSION: [(u8, char); 10] = [
    (0x0A, '\u{0C}'),
    (0x14, '^'),
    (0x28, '{'),
    (0x29, '}'),
    (0x2F, '\\'),
    (0x3C, '['),
    (0x3D, '~'),
    (0x3E, ']'),
    (0x40, '|'),
    (0x65, '€'),
];

/// Marks an entry of [`TO_SEPTET`] that needs the escape first.
const EXT_FLAG: u8 = 0x80;
/// Marks a character that the alphabet cannot represent (e.g. '`').
const NONE: u8 = 0xFF;
/// Every character of both tables but '€' is below U+0800 (the Greek capitals end at
/// U+03A9), so one 2 KiB table indexed by code point covers them, and with them every
/// character of one or two UTF-8 bytes: no bounds check in the hot loop.
const TABLE_LEN: usize = 0x800;

/// Septet for each code point below [`TABLE_LEN`]: the basic code, `EXT_FLAG | code` for
/// an extension character, [`NONE`] when absent. Built at compile time from the two tables
/// above so they cannot drift apart.
static TO_SEPTET: [u8; TABLE_LEN] = build_table();

const fn build_table() -> [u8; TABLE_LEN] {
    let mut table = [NONE; TABLE_LEN];
    let mut code = 0;
    while code < 128 {
        let c = BASIC[code] as usize;
        if c < TABLE_LEN && code != ESCAPE as usize {
            table[c] = code as u8;
        }
        code += 1;
    }
    let mut i = 0;
    while i < EXTENSION.len() {
        let (code, c) = EXTENSION[i];
        let c = c as usize;
        if c < TABLE_LEN {
            table[c] = EXT_FLAG | code;
        }
        i += 1;
    }
    table
}

/// The table entry for `c`: a basic code, `EXT_FLAG | code`, or [`NONE`].
#[inline(always)]
fn lookup(c: char) -> u8 {
    let u = c as usize;
    match TO_SEPTET.get(u) {
        Some(&v) => v,
        None if c == '€' => EXT_FLAG | 0x65,
        None => NONE,
    }
}

/// How one character is written in the GSM alphabet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Septets {
    /// One septet of the basic table.
    Basic(u8),
    /// The escape followed by this septet of the extension table: costs two septets.
    Extended(u8),
}

impl Septets {
    /// How many septets the character costs: what handsets count against 160/153.
    pub fn len(self) -> usize {
        match self {
            Septets::Basic(_) => 1,
            Septets::Extended(_) => 2,
        }
    }

    /// Always false: a character costs at least one septet. Present for clippy's sake.
    pub fn is_empty(self) -> bool {
        false
    }
}

/// The septet(s) for `c`, or `None` when the GSM alphabet cannot represent it.
#[inline]
pub fn char_to_septets(c: char) -> Option<Septets> {
    match lookup(c) {
        NONE => None,
        v if v & EXT_FLAG != 0 => Some(Septets::Extended(v & 0x7F)),
        v => Some(Septets::Basic(v)),
    }
}

/// True when every character of `text` is in the GSM alphabet (basic or extension).
pub fn is_representable(text: &str) -> bool {
    text.chars().all(|c| lookup(c) != NONE)
}

/// How many septets `text` needs (an extension character counts two), or the first
/// character that the alphabet cannot represent.
pub fn septet_count(text: &str) -> Result<usize, EncodeError> {
    let mut n = 0;
    for (position, c) in text.chars().enumerate() {
        match char_to_septets(c) {
            Some(s) => n += s.len(),
            None => return Err(unrepresentable(c, position)),
        }
    }
    Ok(n)
}

fn unrepresentable(character: char, position: usize) -> EncodeError {
    EncodeError::Unrepresentable {
        character,
        position,
        coding: Coding::Gsm7,
    }
}

/// The table entry of the character that starts `bytes` (valid UTF-8, non-empty) and
/// its length in bytes.
#[inline(always)]
fn lookup_utf8(bytes: &[u8]) -> (u8, usize) {
    match *bytes {
        [b, ..] if b < 0x80 => (TO_SEPTET[usize::from(b)], 1),
        [b, b2, ..] if b < 0xE0 => {
            let cp = (usize::from(b & 0x1F) << 6) | usize::from(b2 & 0x3F);
            (TO_SEPTET[cp & (TABLE_LEN - 1)], 2)
        }
        // '€' U+20AC.
        [0xE2, 0x82, 0xAC, ..] => (EXT_FLAG | 0x65, 3),
        [b, ..] if b < 0xF0 => (NONE, 3),
        _ => (NONE, 4),
    }
}

/// Encodes `text` as unpacked septets (one per octet), appending to `out`. On error
/// `out` is left as it was.
pub fn encode_into(text: &str, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    // At most two septets per UTF-8 byte (an ASCII extension character): size the output
    // once and write by index, so the loop has no capacity checks.
    let start = out.len();
    out.resize(start + text.len() * 2, 0);
    let dst = out.get_mut(start..).unwrap_or_default();
    match encode_slice(text, dst) {
        Ok(n) => {
            out.truncate(start + n);
            Ok(())
        }
        Err(e) => {
            out.truncate(start);
            Err(e)
        }
    }
}

/// For each octet, 0 when it is an ASCII character whose septet is the same value (letters,
/// digits, space, LF, CR and most punctuation), 0x80 otherwise.
static NOT_PLAIN: [u8; 256] = build_not_plain();

const fn build_not_plain() -> [u8; 256] {
    let table = build_table();
    let mut out = [0x80; 256];
    let mut b = 0;
    while b < 0x80 {
        if table[b] as usize == b {
            out[b] = 0;
        }
        b += 1;
    }
    out
}

/// Octets per step of the plain-run fast path in [`encode_slice`].
const RUN: usize = 8;

/// Writes the septets of `text` into `dst` (at least twice `text.len()` long), returning
/// how many were written.
#[inline]
fn encode_slice(text: &str, dst: &mut [u8]) -> Result<usize, EncodeError> {
    let bytes = text.as_bytes();
    let mut n = 0;
    let mut i = 0;
    // Up to here the octets are taken one character at a time.
    let mut careful_until = 0;
    while let Some(rest) = bytes.get(i..).filter(|r| !r.is_empty()) {
        // Most of a Latin-script text is runs of characters that are their own septet:
        // eight such octets are copied as they are after eight independent table loads,
        // with no branch per character. A run holding anything else is done the general
        // way below, character by character.
        if i >= careful_until {
            if let (Some(src), Some(out)) = (rest.get(..RUN), dst.get_mut(n..n + RUN)) {
                let flags = src.iter().fold(0, |f, &b| f | NOT_PLAIN[usize::from(b)]);
                if flags == 0 {
                    out.copy_from_slice(src);
                    i += RUN;
                    n += RUN;
                    continue;
                }
                careful_until = i + RUN;
            }
        }
        let (v, width) = lookup_utf8(rest);
        if v & EXT_FLAG == 0 {
            if let Some(d) = dst.get_mut(n) {
                *d = v;
            }
            n += 1;
        } else if v != NONE {
            if let Some([d0, d1]) = dst.get_mut(n..n + 2) {
                *d0 = ESCAPE;
                *d1 = v & 0x7F;
            }
            n += 2;
        } else {
            return Err(unrepresentable_at(text, i));
        }
        i += width;
    }
    Ok(n.min(dst.len()))
}

/// The error for the character at byte `offset` of `text`, with its char index.
#[cold]
fn unrepresentable_at(text: &str, offset: usize) -> EncodeError {
    let before = text.get(..offset).unwrap_or_default();
    let character = text
        .get(offset..)
        .and_then(|t| t.chars().next())
        .unwrap_or('\u{FFFD}');
    unrepresentable(character, before.chars().count())
}

/// Encodes `text` as unpacked septets (one per octet).
pub fn encode(text: &str) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    encode_into(text, &mut out)?;
    Ok(out)
}

/// The character of the extension table for `code`, if the table defines one.
fn extension_char(code: u8) -> Option<char> {
    EXTENSION.iter().find(|&&(k, _)| k == code).map(|&(_, c)| c)
}

/// Decodes unpacked septets (one per octet).
///
/// Strict: an octet above 0x7F, or an escape as the last septet, is an error with its
/// byte offset. An escape followed by a code the extension table leaves undefined decodes
/// as that code's basic character, which is what TS 23.038 asks a receiving handset to
/// display; an escape followed by another escape decodes as a space for the same reason.
pub fn decode(septets: &[u8]) -> Result<String, DecodeError> {
    let mut out = String::with_capacity(septets.len());
    let mut iter = septets.iter().copied().enumerate();
    while let Some((offset, s)) = iter.next() {
        if s > 0x7F {
            return Err(DecodeError::SeptetOutOfRange { offset, value: s });
        }
        if s != ESCAPE {
            out.push(BASIC[usize::from(s)]);
            continue;
        }
        match iter.next() {
            None => return Err(DecodeError::EscapeAtEnd { offset }),
            Some((offset, next)) if next > 0x7F => {
                return Err(DecodeError::SeptetOutOfRange {
                    offset,
                    value: next,
                })
            }
            Some((_, next)) => out.push(decode_escaped(next)),
        }
    }
    Ok(out)
}

/// The character shown for the escape followed by `next` (a septet, <= 0x7F).
pub(crate) fn decode_escaped(next: u8) -> char {
    match extension_char(next) {
        Some(c) => c,
        None if next == ESCAPE => ' ',
        None => BASIC[usize::from(next & 0x7F)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rustfmt::skip]
    /// The basic table of TS 23.038 §6.2.1 written out as (code, character) pairs, typed
    /// from the specification independently of [`BASIC`].
    const SPEC_BASIC: &[(u8, char)] = &[
        (0x00, '@'), (0x01, '£'), (0x02, '$'), (0x03, '¥'), (0x04, 'è'), (0x05, 'é'),
        (0x06, 'ù'), (0x07, 'ì'), (0x08, 'ò'), (0x09, 'Ç'), (0x0A, '\n'), (0x0B, 'Ø'),
        (0x0C, 'ø'), (0x0D, '\r'), (0x0E, 'Å'), (0x0F, 'å'), (0x10, '\u{0394}'),
        (0x11, '_'), (0x12, '\u{03A6}'), (0x13, '\u{0393}'), (0x14, '\u{039B}'),
        (0x15, '\u{03A9}'), (0x16, '\u{03A0}'), (0x17, '\u{03A8}'), (0x18, '\u{03A3}'),
        (0x19, '\u{0398}'), (0x1A, '\u{039E}'), (0x1C, 'Æ'), (0x1D, 'æ'), (0x1E, 'ß'),
        (0x1F, 'É'), (0x20, ' '), (0x21, '!'), (0x22, '"'), (0x23, '#'), (0x24, '\u{A4}'),
        (0x25, '%'), (0x26, '&'), (0x27, '\''), (0x28, '('), (0x29, ')'), (0x2A, '*'),
        (0x2B, '+'), (0x2C, ','), (0x2D, '-'), (0x2E, '.'), (0x2F, '/'), (0x30, '0'),
        (0x31, '1'), (0x32, '2'), (0x33, '3'), (0x34, '4'), (0x35, '5'), (0x36, '6'),
        (0x37, '7'), (0x38, '8'), (0x39, '9'), (0x3A, ':'), (0x3B, ';'), (0x3C, '<'),
        (0x3D, '='), (0x3E, '>'), (0x3F, '?'), (0x40, '\u{A1}'), (0x41, 'A'), (0x42, 'B'),
        (0x43, 'C'), (0x44, 'D'), (0x45, 'E'), (0x46, 'F'), (0x47, 'G'), (0x48, 'H'),
        (0x49, 'I'), (0x4A, 'J'), (0x4B, 'K'), (0x4C, 'L'), (0x4D, 'M'), (0x4E, 'N'),
        (0x4F, 'O'), (0x50, 'P'), (0x51, 'Q'), (0x52, 'R'), (0x53, 'S'), (0x54, 'T'),
        (0x55, 'U'), (0x56, 'V'), (0x57, 'W'), (0x58, 'X'), (0x59, 'Y'), (0x5A, 'Z'),
        (0x5B, '\u{C4}'), (0x5C, '\u{D6}'), (0x5D, '\u{D1}'), (0x5E, '\u{DC}'),
        (0x5F, '\u{A7}'), (0x60, '\u{BF}'), (0x61, 'a'), (0x62, 'b'), (0x63, 'c'),
        (0x64, 'd'), (0x65, 'e'), (0x66, 'f'), (0x67, 'g'), (0x68, 'h'), (0x69, 'i'),
        (0x6A, 'j'), (0x6B, 'k'), (0x6C, 'l'), (0x6D, 'm'), (0x6E, 'n'), (0x6F, 'o'),
        (0x70, 'p'), (0x71, 'q'), (0x72, 'r'), (0x73, 's'), (0x74, 't'), (0x75, 'u'),
        (0x76, 'v'), (0x77, 'w'), (0x78, 'x'), (0x79, 'y'), (0x7A, 'z'), (0x7B, '\u{E4}'),
        (0x7C, '\u{F6}'), (0x7D, '\u{F1}'), (0x7E, '\u{FC}'), (0x7F, '\u{E0}'),
    ];

    #[rustfmt::skip]
    /// The extension table of TS 23.038 §6.2.1.1, by Unicode code point.
    const SPEC_EXTENSION: &[(u8, char)] = &[
        (0x0A, '\u{0C}'), (0x14, '\u{5E}'), (0x28, '\u{7B}'), (0x29, '\u{7D}'),
        (0x2F, '\u{5C}'), (0x3C, '\u{5B}'), (0x3D, '\u{7E}'), (0x3E, '\u{5D}'),
        (0x40, '\u{7C}'), (0x65, '\u{20AC}'),
    ];

    #[test]
    fn basic_table_matches_the_specification() {
        assert_eq!(SPEC_BASIC.len(), 127, "all codes but the escape");
        for &(code, c) in SPEC_BASIC {
            assert_eq!(
                decode(&[code]).unwrap(),
                c.to_string(),
                "decode {code:#04x}"
            );
            assert_eq!(
                char_to_septets(c),
                Some(Septets::Basic(code)),
                "encode {c:?}"
            );
        }
    }

    #[test]
    fn extension_table_matches_the_specification() {
        for &(code, c) in SPEC_EXTENSION {
            assert_eq!(decode(&[ESCAPE, code]).unwrap(), c.to_string());
            assert_eq!(char_to_septets(c), Some(Septets::Extended(code)), "{c:?}");
            assert_eq!(encode(&c.to_string()).unwrap(), vec![ESCAPE, code]);
        }
    }

    #[test]
    fn no_other_character_is_representable() {
        let known: Vec<char> = SPEC_BASIC
            .iter()
            .chain(SPEC_EXTENSION)
            .map(|&(_, c)| c)
            .collect();
        for u in 0..0x3000u32 {
            let Some(c) = char::from_u32(u) else { continue };
            assert_eq!(char_to_septets(c).is_some(), known.contains(&c), "{c:?}");
        }
    }

    #[test]
    fn counts_extension_characters_twice() {
        assert_eq!(septet_count("a€b").unwrap(), 4);
        assert_eq!(septet_count("{}").unwrap(), 4);
    }

    #[test]
    fn unrepresentable_character_is_named_with_its_position() {
        assert_eq!(
            encode("ab`c"),
            Err(EncodeError::Unrepresentable {
                character: '`',
                position: 2,
                coding: Coding::Gsm7
            })
        );
        assert_eq!(
            encode("déjà vu ж"),
            Err(EncodeError::Unrepresentable {
                character: 'ж',
                position: 8,
                coding: Coding::Gsm7
            })
        );
    }

    #[test]
    fn fast_and_slow_paths_agree() {
        let text = "0123456789abcdef{}€Ωé 0123456789 [x]";
        let slow: Vec<u8> = text
            .chars()
            .flat_map(|c| match char_to_septets(c) {
                Some(Septets::Basic(s)) => vec![s],
                Some(Septets::Extended(s)) => vec![ESCAPE, s],
                None => vec![],
            })
            .collect();
        assert_eq!(encode(text).unwrap(), slow);
        assert_eq!(
            encode("0123456789é😀"),
            Err(unrepresentable('😀', 11)),
            "position counts characters, not bytes"
        );
        assert_eq!(encode("abcdefghij`"), Err(unrepresentable('`', 10)));
        assert_eq!(encode("€€€€€€€€ж"), Err(unrepresentable('ж', 8)));
    }

    #[test]
    fn invalid_septets_are_typed_errors_with_offsets() {
        assert_eq!(
            decode(b"ab\x80"),
            Err(DecodeError::SeptetOutOfRange {
                offset: 2,
                value: 0x80
            })
        );
        assert_eq!(
            decode(b"ab\x1B"),
            Err(DecodeError::EscapeAtEnd { offset: 2 })
        );
        assert_eq!(
            decode(b"\x1B\x90"),
            Err(DecodeError::SeptetOutOfRange {
                offset: 1,
                value: 0x90
            })
        );
    }

    #[test]
    fn undefined_extension_code_falls_back_to_the_basic_character() {
        assert_eq!(decode(&[ESCAPE, 0x41]).unwrap(), "A");
        assert_eq!(decode(&[ESCAPE, ESCAPE]).unwrap(), " ");
    }
}
