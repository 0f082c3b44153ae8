//! The concatenation information elements of the user data header (TS 23.040 §9.2.3.24.1
//! and §9.2.3.24.8): building them for outbound segments, finding them in inbound ones.

use super::segment::SarValues;

/// The esm_class bit (SMPP v3.4 §5.2.12) that says short_message starts with a UDH.
pub const ESM_CLASS_UDHI: u8 = 0x40;

/// IEI of concatenation with an 8-bit reference.
pub(crate) const IEI_CONCAT_8: u8 = 0x00;
/// IEI of concatenation with a 16-bit reference.
pub(crate) const IEI_CONCAT_16: u8 = 0x08;

/// Length in octets (UDHL included) of a UDH holding only the 8-bit concatenation IE.
#[cfg(test)]
pub(crate) const UDH8_LEN: usize = 6;
/// Length in octets (UDHL included) of a UDH holding only the 16-bit concatenation IE.
pub(crate) const UDH16_LEN: usize = 7;

/// The reference that ties the segments of one message together, with its width: an
/// 8-bit and a 16-bit reference of the same value belong to different messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConcatRef {
    /// From UDH IEI 0x00.
    Udh8(u8),
    /// From UDH IEI 0x08.
    Udh16(u16),
    /// From the sar_msg_ref_num TLV.
    Sar(u16),
}

/// Concatenation values of one inbound segment, wherever they came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConcatInfo {
    /// The message reference.
    pub reference: ConcatRef,
    /// How many segments the message has (1..=255).
    pub total: u8,
    /// This segment's number, 1-based.
    pub seqnum: u8,
}

/// A UDH that does not parse. Offsets are into short_message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UdhError {
    /// short_message is empty although UDHI is set.
    #[error("UDHI is set but short_message is empty")]
    Empty,
    /// UDHL claims more octets than short_message has.
    #[error("UDH length {udhl} needs {needed} octets, short_message has {available}")]
    HeaderTooLong {
        /// The UDHL octet.
        udhl: u8,
        /// 1 + UDHL.
        needed: usize,
        /// Length of short_message.
        available: usize,
    },
    /// An information element runs past the end of the header.
    #[error("information element {iei:#04x} at offset {offset} runs past the UDH")]
    ElementTooLong {
        /// The IEI.
        iei: u8,
        /// Offset of the IEI.
        offset: usize,
    },
    /// A concatenation element of the wrong length.
    #[error(
        "concatenation element {iei:#04x} at offset {offset} has length {len}, expected {expected}"
    )]
    BadConcatLength {
        /// The IEI.
        iei: u8,
        /// Offset of the IEI.
        offset: usize,
        /// Its length octet.
        len: u8,
        /// The length the spec gives.
        expected: u8,
    },
}

/// Writes the 8-bit-reference concatenation UDH.
pub(crate) fn write_udh8(out: &mut Vec<u8>, reference: u8, total: u8, seqnum: u8) {
    out.extend_from_slice(&[0x05, IEI_CONCAT_8, 0x03, reference, total, seqnum]);
}

/// Writes the 16-bit-reference concatenation UDH.
pub(crate) fn write_udh16(out: &mut Vec<u8>, reference: u16, total: u8, seqnum: u8) {
    let [hi, lo] = reference.to_be_bytes();
    out.extend_from_slice(&[0x06, IEI_CONCAT_16, 0x04, hi, lo, total, seqnum]);
}

/// Splits a short_message whose UDHI bit is set into its concatenation values (if the UDH
/// has a concatenation element) and the user data after the header.
///
/// Other information elements (port numbers, etc.) are skipped. When several
/// concatenation elements appear the last one wins, as TS 23.040 §9.2.3.24 says for
/// repeated elements.
pub fn parse_udh(short_message: &[u8]) -> Result<(Option<ConcatInfo>, &[u8]), UdhError> {
    let (&udhl, _) = short_message.split_first().ok_or(UdhError::Empty)?;
    let needed = 1 + usize::from(udhl);
    let (header, payload) = match short_message.split_at_checked(needed) {
        Some((h, p)) => (h, p),
        None => {
            return Err(UdhError::HeaderTooLong {
                udhl,
                needed,
                available: short_message.len(),
            })
        }
    };
    let mut concat = None;
    let mut offset = 1;
    while let Some(&iei) = header.get(offset) {
        let len_pos = offset + 1;
        let Some(&len) = header.get(len_pos) else {
            return Err(UdhError::ElementTooLong { iei, offset });
        };
        let start = len_pos + 1;
        let end = start + usize::from(len);
        let Some(data) = header.get(start..end) else {
            return Err(UdhError::ElementTooLong { iei, offset });
        };
        match (iei, data) {
            (IEI_CONCAT_8, &[reference, total, seqnum]) => {
                concat = Some(ConcatInfo {
                    reference: ConcatRef::Udh8(reference),
                    total,
                    seqnum,
                })
            }
            (IEI_CONCAT_16, &[hi, lo, total, seqnum]) => {
                concat = Some(ConcatInfo {
                    reference: ConcatRef::Udh16(u16::from_be_bytes([hi, lo])),
                    total,
                    seqnum,
                })
            }
            (IEI_CONCAT_8 | IEI_CONCAT_16, _) => {
                return Err(UdhError::BadConcatLength {
                    iei,
                    offset,
                    len,
                    expected: if iei == IEI_CONCAT_8 { 3 } else { 4 },
                })
            }
            _ => {}
        }
        offset = end;
    }
    Ok((concat, payload))
}

/// The concatenation values and user data of an inbound deliver_sm, from whichever
/// source it uses: the UDH when esm_class has UDHI set, else the SAR TLVs when present,
/// else none (a single message). The glue the session layer calls before
/// [`super::Reassembler::push`].
pub fn inbound_concat(
    esm_class: u8,
    short_message: &[u8],
    sar: Option<SarValues>,
) -> Result<(Option<ConcatInfo>, &[u8]), UdhError> {
    if esm_class & ESM_CLASS_UDHI != 0 {
        let (info, payload) = parse_udh(short_message)?;
        if info.is_some() {
            return Ok((info, payload));
        }
        return Ok((sar.map(ConcatInfo::from), payload));
    }
    Ok((sar.map(ConcatInfo::from), short_message))
}

impl From<SarValues> for ConcatInfo {
    fn from(sar: SarValues) -> Self {
        ConcatInfo {
            reference: ConcatRef::Sar(sar.msg_ref_num),
            total: sar.total_segments,
            seqnum: sar.segment_seqnum,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inbound_concat_picks_udh_then_sar() {
        let sar = SarValues {
            msg_ref_num: 9,
            total_segments: 2,
            segment_seqnum: 1,
        };
        let with_udh = [0x05, 0x00, 0x03, 0x07, 0x02, 0x02, b'x'];
        let (info, payload) = inbound_concat(ESM_CLASS_UDHI, &with_udh, Some(sar)).unwrap();
        assert_eq!(info.unwrap().reference, ConcatRef::Udh8(7));
        assert_eq!(payload, b"x");
        let (info, payload) = inbound_concat(0, b"plain", Some(sar)).unwrap();
        assert_eq!(
            info,
            Some(ConcatInfo {
                reference: ConcatRef::Sar(9),
                total: 2,
                seqnum: 1
            })
        );
        assert_eq!(payload, b"plain");
        assert_eq!(
            inbound_concat(0, b"plain", None).unwrap(),
            (None, &b"plain"[..])
        );
        assert_eq!(
            inbound_concat(ESM_CLASS_UDHI, &[], None),
            Err(UdhError::Empty)
        );
    }

    #[test]
    fn builds_and_parses_both_concatenation_elements() {
        let mut sm = Vec::new();
        write_udh8(&mut sm, 0xAB, 3, 2);
        sm.extend_from_slice(b"hi");
        assert_eq!(sm[..UDH8_LEN], [0x05, 0x00, 0x03, 0xAB, 0x03, 0x02]);
        let (info, payload) = parse_udh(&sm).unwrap();
        assert_eq!(
            info,
            Some(ConcatInfo {
                reference: ConcatRef::Udh8(0xAB),
                total: 3,
                seqnum: 2
            })
        );
        assert_eq!(payload, b"hi");

        let mut sm = Vec::new();
        write_udh16(&mut sm, 0x1234, 2, 1);
        assert_eq!(sm, [0x06, 0x08, 0x04, 0x12, 0x34, 0x02, 0x01]);
        let (info, payload) = parse_udh(&sm).unwrap();
        assert_eq!(info.unwrap().reference, ConcatRef::Udh16(0x1234));
        assert!(payload.is_empty());
    }

    #[test]
    fn skips_other_elements() {
        // Port addressing (IEI 0x05, 4 octets) then 8-bit concatenation.
        let sm = [
            0x0B, 0x05, 0x04, 0x0B, 0x84, 0x23, 0xF0, 0x00, 0x03, 0x07, 0x02, 0x01, b'x',
        ];
        let (info, payload) = parse_udh(&sm).unwrap();
        assert_eq!(info.unwrap().reference, ConcatRef::Udh8(7));
        assert_eq!(payload, b"x");
        assert_eq!(
            parse_udh(&[0x02, 0x05, 0x00, b'y']).unwrap(),
            (None, &b"y"[..])
        );
    }

    #[test]
    fn malformed_headers_are_precise_errors() {
        assert_eq!(parse_udh(&[]), Err(UdhError::Empty));
        assert_eq!(
            parse_udh(&[0x05, 0x00, 0x03]),
            Err(UdhError::HeaderTooLong {
                udhl: 5,
                needed: 6,
                available: 3
            })
        );
        assert_eq!(
            parse_udh(&[0x03, 0x00, 0x03, 0x01]),
            Err(UdhError::ElementTooLong { iei: 0, offset: 1 })
        );
        assert_eq!(
            parse_udh(&[0x04, 0x00, 0x02, 0x01, 0x02]),
            Err(UdhError::BadConcatLength {
                iei: 0,
                offset: 1,
                len: 2,
                expected: 3
            })
        );
        assert_eq!(
            parse_udh(&[0x01, 0x00]),
            Err(UdhError::ElementTooLong { iei: 0, offset: 1 })
        );
    }
}
