//! The [`Coding`] enum (SMPP data_coding values), the automatic choice of the cheapest
//! coding, and encode/decode dispatch.

use std::fmt;

use super::error::{DecodeError, EncodeError};
use super::{gsm7, octet, septet, ucs2};

/// A character coding of short_message, with its SMPP v3.4 data_coding value (§5.2.19).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Coding {
    /// GSM 03.38 default alphabet, data_coding 0 ("SMSC default"), one septet per octet.
    Gsm7,
    /// IA5 / ASCII, data_coding 1.
    Ia5,
    /// ISO 8859-1, data_coding 3.
    Latin1,
    /// 8-bit binary, data_coding 4: octets, not text.
    Binary,
    /// UCS-2 as UTF-16BE, data_coding 8.
    Ucs2,
}

impl Coding {
    /// The data_coding value to put in the PDU.
    pub fn data_coding(self) -> u8 {
        match self {
            Coding::Gsm7 => 0x00,
            Coding::Ia5 => 0x01,
            Coding::Latin1 => 0x03,
            Coding::Binary => 0x04,
            Coding::Ucs2 => 0x08,
        }
    }

    /// The coding an inbound data_coding value announces, or `None` for values this module
    /// does not interpret (the caller keeps the raw value).
    ///
    /// 0x02 is binary too, and 0xF0–0xFF is the "message class" group where bit 2 selects
    /// 8-bit data over the GSM alphabet (TS 23.038 §4).
    pub fn from_data_coding(value: u8) -> Option<Coding> {
        match value {
            0x00 => Some(Coding::Gsm7),
            0x01 => Some(Coding::Ia5),
            0x02 | 0x04 => Some(Coding::Binary),
            0x03 => Some(Coding::Latin1),
            0x08 => Some(Coding::Ucs2),
            0xF0..=0xFF if value & 0x04 != 0 => Some(Coding::Binary),
            0xF0..=0xFF => Some(Coding::Gsm7),
            _ => None,
        }
    }

    /// Human name, for error messages.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Coding::Gsm7 => "GSM 7-bit",
            Coding::Ia5 => "IA5",
            Coding::Latin1 => "Latin-1",
            Coding::Binary => "8-bit binary",
            Coding::Ucs2 => "UCS-2",
        }
    }
}

impl fmt::Display for Coding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (data_coding {})", self.name(), self.data_coding())
    }
}

/// How to pick the coding of an outbound text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CodingPolicy {
    /// GSM 7-bit when it represents the text exactly, else UCS-2. The default: the two
    /// codings every handset renders.
    #[default]
    Auto,
    /// GSM 7-bit, else Latin-1, else UCS-2. Only for SMSCs configured to accept
    /// data_coding 3; Latin-1 fits 140 characters where UCS-2 fits 70.
    AutoWithLatin1,
    /// Always this coding; a character it cannot represent is an error.
    Forced(Coding),
}

impl CodingPolicy {
    /// The coding this policy picks for `text`.
    pub fn choose(self, text: &str) -> Coding {
        match self {
            CodingPolicy::Forced(c) => c,
            CodingPolicy::Auto => cheapest(text),
            CodingPolicy::AutoWithLatin1 => {
                if gsm7::is_representable(text) {
                    Coding::Gsm7
                } else if text.chars().all(|c| u32::from(c) <= 0xFF) {
                    Coding::Latin1
                } else {
                    Coding::Ucs2
                }
            }
        }
    }
}

impl CodingPolicy {
    /// Chooses the coding and encodes `text` in it, in one pass when the text is GSM: the
    /// attempt to encode is the test of representability.
    pub fn encode(self, text: &str) -> Result<(Coding, Vec<u8>), EncodeError> {
        let fallback = match self {
            CodingPolicy::Forced(coding) => return Ok((coding, encode(text, coding)?)),
            CodingPolicy::Auto => Coding::Ucs2,
            CodingPolicy::AutoWithLatin1 => Coding::Latin1,
        };
        if let Ok(septets) = gsm7::encode(text) {
            return Ok((Coding::Gsm7, septets));
        }
        match octet::encode_latin1(text) {
            Ok(octets) if fallback == Coding::Latin1 => Ok((Coding::Latin1, octets)),
            _ => Ok((Coding::Ucs2, ucs2::encode(text))),
        }
    }
}

/// The cheapest of GSM 7-bit and UCS-2 that represents `text` exactly.
pub fn cheapest(text: &str) -> Coding {
    if gsm7::is_representable(text) {
        Coding::Gsm7
    } else {
        Coding::Ucs2
    }
}

/// Encodes `text` in `coding` (GSM as unpacked septets).
pub fn encode(text: &str, coding: Coding) -> Result<Vec<u8>, EncodeError> {
    match coding {
        Coding::Gsm7 => gsm7::encode(text),
        Coding::Ia5 => octet::encode_ia5(text),
        Coding::Latin1 => octet::encode_latin1(text),
        Coding::Ucs2 => Ok(ucs2::encode(text)),
        Coding::Binary => Err(EncodeError::BinaryIsNotText),
    }
}

/// Decodes `bytes` in `coding` (GSM as unpacked septets), strictly.
pub fn decode(bytes: &[u8], coding: Coding) -> Result<String, DecodeError> {
    match coding {
        Coding::Gsm7 => gsm7::decode(bytes),
        Coding::Ia5 => octet::decode_ia5(bytes),
        Coding::Latin1 => Ok(octet::decode_latin1(bytes)),
        Coding::Ucs2 => ucs2::decode(bytes),
        Coding::Binary => Err(DecodeError::BinaryIsNotText),
    }
}

/// Decodes `count` packed GSM septets after `fill` bits (e.g. from [`septet::fill_bits`]
/// of the UDH length).
pub fn decode_gsm_packed(packed: &[u8], fill: u8, count: usize) -> Result<String, DecodeError> {
    gsm7::decode(&septet::unpack(packed, fill, count)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_coding_values_round_trip() {
        for c in [
            Coding::Gsm7,
            Coding::Ia5,
            Coding::Latin1,
            Coding::Binary,
            Coding::Ucs2,
        ] {
            assert_eq!(Coding::from_data_coding(c.data_coding()), Some(c));
        }
        assert_eq!(Coding::from_data_coding(0xF5), Some(Coding::Binary));
        assert_eq!(Coding::from_data_coding(0xF1), Some(Coding::Gsm7));
        assert_eq!(Coding::from_data_coding(0x05), None);
    }

    #[test]
    fn auto_picks_gsm_then_ucs2() {
        assert_eq!(cheapest("Hello {world} €5"), Coding::Gsm7);
        assert_eq!(cheapest("Привет"), Coding::Ucs2);
        assert_eq!(cheapest("ça va"), Coding::Ucs2, "ç is not in GSM; Ç is");
        assert_eq!(CodingPolicy::AutoWithLatin1.choose("ça va"), Coding::Latin1);
        assert_eq!(CodingPolicy::AutoWithLatin1.choose("Hi"), Coding::Gsm7);
        assert_eq!(CodingPolicy::AutoWithLatin1.choose("ça 😀"), Coding::Ucs2);
        assert_eq!(
            CodingPolicy::Forced(Coding::Latin1).choose("Привет"),
            Coding::Latin1
        );
        for (policy, text) in [
            (CodingPolicy::Auto, "Hi €"),
            (CodingPolicy::Auto, "ça va"),
            (CodingPolicy::AutoWithLatin1, "ça va"),
            (CodingPolicy::AutoWithLatin1, "ça 😀"),
            (CodingPolicy::Forced(Coding::Ucs2), "Hi"),
        ] {
            let coding = policy.choose(text);
            assert_eq!(
                policy.encode(text),
                Ok((coding, encode(text, coding).unwrap()))
            );
        }
    }

    #[test]
    fn forced_latin1_with_cyrillic_names_char_and_position() {
        let err = encode("Hello Ж", Coding::Latin1).unwrap_err();
        assert_eq!(
            err,
            EncodeError::Unrepresentable {
                character: 'Ж',
                position: 6,
                coding: Coding::Latin1
            }
        );
        assert_eq!(
            err.to_string(),
            "character 'Ж' (U+0416) at position 6 cannot be represented in Latin-1 (data_coding 3)"
        );
    }

    #[test]
    fn binary_is_not_text() {
        assert_eq!(
            encode("x", Coding::Binary),
            Err(EncodeError::BinaryIsNotText)
        );
        assert_eq!(
            decode(b"x", Coding::Binary),
            Err(DecodeError::BinaryIsNotText)
        );
    }

    #[test]
    fn packed_gsm_decodes_after_fill() {
        let septets = gsm7::encode("Hi €").unwrap();
        let packed = septet::pack(&septets, 1).unwrap();
        assert_eq!(
            decode_gsm_packed(&packed, 1, septets.len()).unwrap(),
            "Hi €"
        );
    }
}
