//! The errors of the text codings. Segmentation, reassembly, receipts and message ids each
//! have their own enum beside their code.

use super::Coding;

/// Text that a coding cannot represent. Surfaces from [`super::encode`] and
/// [`super::segment()`]; the session turns it into a rejected submission.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A character outside the coding's repertoire, named with its index in the text
    /// counted in characters (not bytes), so an operator can find it.
    #[error("character {character:?} (U+{:04X}) at position {position} cannot be represented in {coding}", u32::from(*character))]
    Unrepresentable {
        /// The character.
        character: char,
        /// Its index in the text, in characters.
        position: usize,
        /// The coding that was asked for.
        coding: Coding,
    },
    /// 8-bit binary carries octets, not text: use the binary segmentation instead.
    #[error("8-bit binary (data_coding 4) carries octets, not text")]
    BinaryIsNotText,
}

/// Octets that are not valid in the coding they claim. Offsets are byte offsets into the
/// input given to the decoder (for packed GSM: septet index into the unpacked septets).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// An unpacked GSM octet with its top bit set.
    #[error("GSM septet {value:#04x} at offset {offset} is above 0x7F")]
    SeptetOutOfRange {
        /// Offset of the octet.
        offset: usize,
        /// Its value.
        value: u8,
    },
    /// The GSM escape (0x1B) as the last septet, with no character after it.
    #[error("GSM escape at offset {offset} ends the message")]
    EscapeAtEnd {
        /// Offset of the escape.
        offset: usize,
    },
    /// An IA5 octet with its top bit set.
    #[error("octet {value:#04x} at offset {offset} is not IA5 (ASCII)")]
    NotIa5 {
        /// Offset of the octet.
        offset: usize,
        /// Its value.
        value: u8,
    },
    /// UCS-2 text of odd length: the last octet has no partner.
    #[error("UCS-2 text has odd length {len}: the octet at offset {} has no partner", len - 1)]
    OddLength {
        /// The length of the input.
        len: usize,
    },
    /// A UTF-16 surrogate without its partner.
    #[error("unpaired UTF-16 surrogate {unit:#06x} at offset {offset}")]
    UnpairedSurrogate {
        /// Offset of the code unit's first octet.
        offset: usize,
        /// The code unit.
        unit: u16,
    },
    /// Packed septets shorter than the septet count needs.
    #[error("packed GSM text needs {needed} octets, only {available} present")]
    PackedTooShort {
        /// Octets needed.
        needed: usize,
        /// Octets present.
        available: usize,
    },
    /// Fill bits must be 0..=6.
    #[error("{fill} fill bits: at most 6 can precede a septet")]
    FillTooLarge {
        /// The fill bits asked for.
        fill: u8,
    },
    /// 8-bit binary is not text.
    #[error("8-bit binary (data_coding 4) carries octets, not text")]
    BinaryIsNotText,
}

/// Septets that cannot be packed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackError {
    /// A value above 0x7F, which seven bits cannot hold.
    #[error("septet {value:#04x} at offset {offset} is above 0x7F")]
    SeptetOutOfRange {
        /// Offset of the value.
        offset: usize,
        /// The value.
        value: u8,
    },
    /// Fill bits must be 0..=6.
    #[error("{fill} fill bits: at most 6 can precede a septet")]
    FillTooLarge {
        /// The fill bits asked for.
        fill: u8,
    },
}
