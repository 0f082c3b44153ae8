//! The segments of a message packed into one BLOB (`messages.body`): written once at accept,
//! read back whole when the message is claimed. One column instead of a row per segment
//! saves an insert at accept and a lookup at every claim.
//!
//! Layout: a format byte ([`FORMAT`]), then per segment: flags (bit 0: `message_payload`,
//! bit 1: SAR values follow), esm_class, data_coding, the SAR values when flagged (reference
//! number, big-endian u16; total; sequence number), the length of the octets (big-endian
//! u16) and the octets. Reading checks every length: a damaged BLOB is an error, never a
//! panic or a short segment.

use crate::sms::{Field, SarValues, Segment};

/// The format byte this build writes and reads.
const FORMAT: u8 = 1;
const PAYLOAD: u8 = 1;
const SAR: u8 = 2;

/// Packs `segments`. Each segment's octets fit in a u16: the sms layer never makes more.
pub(crate) fn pack(segments: &[Segment]) -> Vec<u8> {
    let size: usize = segments.iter().map(|s| 9 + s.bytes.len()).sum();
    let mut out = Vec::with_capacity(1 + size);
    out.push(FORMAT);
    for s in segments {
        let mut flags = 0;
        if s.field == Field::MessagePayload {
            flags |= PAYLOAD;
        }
        if s.sar.is_some() {
            flags |= SAR;
        }
        out.extend([flags, s.esm_class, s.data_coding]);
        if let Some(sar) = s.sar {
            out.extend(sar.msg_ref_num.to_be_bytes());
            out.extend([sar.total_segments, sar.segment_seqnum]);
        }
        let len = u16::try_from(s.bytes.len()).unwrap_or(u16::MAX);
        out.extend(len.to_be_bytes());
        out.extend(&s.bytes[..usize::from(len)]);
    }
    out
}

/// What is wrong with a stored BLOB.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BodyError {
    /// The format byte is not one this build knows.
    #[error("unknown segment format {0}")]
    Format(u8),
    /// The BLOB ends inside a segment.
    #[error("segments cut short at octet {0}")]
    Short(usize),
    /// The BLOB is empty.
    #[error("no segments")]
    Empty,
}

/// Unpacks what [`pack`] wrote.
pub(crate) fn unpack(blob: &[u8]) -> Result<Vec<Segment>, BodyError> {
    let (&format, mut rest) = blob.split_first().ok_or(BodyError::Empty)?;
    if format != FORMAT {
        return Err(BodyError::Format(format));
    }
    let mut segments = Vec::with_capacity(1);
    while !rest.is_empty() {
        let at = blob.len() - rest.len();
        let short = || BodyError::Short(at);
        let (head, tail) = rest.split_at_checked(3).ok_or_else(short)?;
        let (flags, esm_class, data_coding) = (head[0], head[1], head[2]);
        rest = tail;
        let sar = if flags & SAR != 0 {
            let (v, tail) = rest.split_at_checked(4).ok_or_else(short)?;
            rest = tail;
            Some(SarValues {
                msg_ref_num: u16::from_be_bytes([v[0], v[1]]),
                total_segments: v[2],
                segment_seqnum: v[3],
            })
        } else {
            None
        };
        let (len, tail) = rest.split_at_checked(2).ok_or_else(short)?;
        let len = usize::from(u16::from_be_bytes([len[0], len[1]]));
        let (bytes, tail) = tail.split_at_checked(len).ok_or_else(short)?;
        rest = tail;
        segments.push(Segment {
            bytes: bytes.to_vec(),
            field: if flags & PAYLOAD != 0 {
                Field::MessagePayload
            } else {
                Field::ShortMessage
            },
            esm_class,
            data_coding,
            sar,
        });
    }
    if segments.is_empty() {
        return Err(BodyError::Empty);
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn segment() -> impl Strategy<Value = Segment> {
        (
            proptest::collection::vec(any::<u8>(), 0..300),
            any::<bool>(),
            any::<u8>(),
            any::<u8>(),
            proptest::option::of((any::<u16>(), any::<u8>(), any::<u8>())),
        )
            .prop_map(|(bytes, payload, esm_class, data_coding, sar)| Segment {
                bytes,
                field: if payload {
                    Field::MessagePayload
                } else {
                    Field::ShortMessage
                },
                esm_class,
                data_coding,
                sar: sar.map(|(msg_ref_num, total_segments, segment_seqnum)| SarValues {
                    msg_ref_num,
                    total_segments,
                    segment_seqnum,
                }),
            })
    }

    proptest! {
        #[test]
        fn what_is_packed_unpacks_the_same(segments in proptest::collection::vec(segment(), 1..6)) {
            prop_assert_eq!(unpack(&pack(&segments)), Ok(segments));
        }

        #[test]
        fn any_blob_unpacks_or_fails_without_panicking(blob in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = unpack(&blob);
        }

        #[test]
        fn a_cut_blob_is_an_error(segments in proptest::collection::vec(segment(), 1..4), cut in 1usize..8) {
            let blob = pack(&segments);
            let last = segments.last().map_or(0, |s| s.bytes.len());
            prop_assume!(cut <= last + 2);
            let cut = &blob[..blob.len() - cut];
            // The cut lands in the last segment's length or octets.
            prop_assert!(unpack(cut).is_err());
        }
    }

    #[test]
    fn damage_is_named() {
        assert_eq!(unpack(&[]), Err(BodyError::Empty));
        assert_eq!(unpack(&[FORMAT]), Err(BodyError::Empty));
        assert_eq!(unpack(&[9, 0]), Err(BodyError::Format(9)));
        assert_eq!(
            unpack(&[FORMAT, 0, 0, 0, 0, 5, 1]),
            Err(BodyError::Short(1))
        );
    }
}
