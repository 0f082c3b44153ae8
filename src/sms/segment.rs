//! Splitting an outbound text into the segments of a long message, sized exactly as
//! handsets count them.
//!
//! | coding             | single | 8-bit ref UDH / SAR | 16-bit ref UDH |
//! |--------------------|--------|---------------------|----------------|
//! | GSM 7-bit septets  | 160    | 153                 | 152            |
//! | 8-bit octets       | 140    | 134                 | 133            |
//! | UCS-2 code units   | 70     | 67                  | 66             |
//!
//! SAR segments carry no UDH over SMPP, but the SMSC inserts one toward the handset, so
//! they get the 8-bit-reference sizes. A GSM extension character never leaves its escape
//! behind, and a UTF-16 surrogate pair is never split: the segment ends one unit early.

use super::coding::CodingPolicy;
use super::error::EncodeError;
use super::septet;
use super::udh::{self, ESM_CLASS_UDHI, UDH16_LEN};
use super::{gsm7, ucs2, Coding};

/// The most octets a message_payload TLV holds (its length field is 16 bits).
pub(crate) const MAX_PAYLOAD: usize = 65_535;

/// How the segments of a long message are tied together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Concatenation {
    /// UDH with IEI 0x00 and this 8-bit reference.
    Udh8 {
        /// Chosen by the caller, e.g. a per-destination counter.
        reference: u8,
    },
    /// UDH with IEI 0x08 and this 16-bit reference.
    Udh16 {
        /// Chosen by the caller.
        reference: u16,
    },
    /// The sar_msg_ref_num / sar_total_segments / sar_segment_seqnum TLVs.
    Sar {
        /// Goes in sar_msg_ref_num.
        reference: u16,
    },
    /// No splitting: the whole message in one message_payload TLV.
    MessagePayload,
}

/// Whether GSM text is sent one septet per octet (the SMPP norm) or packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum GsmPacking {
    /// One septet per octet.
    #[default]
    Unpacked,
    /// Eight septets in seven octets, with fill bits after a UDH.
    Packed,
}

/// The most segments a message may be split into: 2..=255, default 255.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxSegments(u8);

impl MaxSegments {
    /// Validates a configured maximum.
    pub fn try_new(value: usize) -> Result<MaxSegments, SegmentError> {
        match u8::try_from(value) {
            Ok(v) if v >= 2 => Ok(MaxSegments(v)),
            _ => Err(SegmentError::InvalidMaxSegments { value }),
        }
    }

    /// The value.
    pub fn get(self) -> u8 {
        self.0
    }
}

impl Default for MaxSegments {
    fn default() -> Self {
        MaxSegments(u8::MAX)
    }
}

/// Everything [`segment`] needs besides the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentOptions {
    /// Which coding to use.
    pub policy: CodingPolicy,
    /// How segments are tied together.
    pub concatenation: Concatenation,
    /// Reject texts needing more segments than this.
    pub max_segments: MaxSegments,
    /// GSM septet packing.
    pub gsm_packing: GsmPacking,
}

impl SegmentOptions {
    /// Auto coding, unpacked GSM, at most 255 segments, with the given concatenation.
    pub fn new(concatenation: Concatenation) -> SegmentOptions {
        SegmentOptions {
            policy: CodingPolicy::Auto,
            concatenation,
            max_segments: MaxSegments::default(),
            gsm_packing: GsmPacking::Unpacked,
        }
    }
}

/// The values of the three SAR TLVs for one segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SarValues {
    /// sar_msg_ref_num.
    pub msg_ref_num: u16,
    /// sar_total_segments.
    pub total_segments: u8,
    /// sar_segment_seqnum, 1-based.
    pub segment_seqnum: u8,
}

/// Which PDU field the bytes of a [`Segment`] go in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// short_message (sm_length set to its length).
    ShortMessage,
    /// The message_payload TLV (short_message left empty).
    MessagePayload,
}

/// One submit_sm's worth of message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// UDH (if any) followed by the encoded text.
    pub bytes: Vec<u8>,
    /// Where the bytes go.
    pub field: Field,
    /// Bits to OR into esm_class: [`ESM_CLASS_UDHI`] when `bytes` starts with a UDH.
    pub esm_class: u8,
    /// data_coding for the PDU.
    pub data_coding: u8,
    /// The SAR TLV values, when SAR concatenation was asked for and the text is long.
    pub sar: Option<SarValues>,
}

/// A text that cannot be segmented as asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SegmentError {
    /// The text has a character the coding cannot represent.
    #[error(transparent)]
    Encode(#[from] EncodeError),
    /// The text needs more segments than allowed.
    #[error("the message needs {needed} segments in {coding}, more than the maximum of {max}")]
    TooManySegments {
        /// Segments the text needs.
        needed: usize,
        /// The configured maximum.
        max: u8,
        /// The coding used.
        coding: Coding,
    },
    /// A configured maximum outside 2..=255.
    #[error("maximum segment count {value} is outside 2..=255")]
    InvalidMaxSegments {
        /// The value configured.
        value: usize,
    },
    /// More octets than a message_payload TLV holds.
    #[error("the message is {octets} octets, more than message_payload's {MAX_PAYLOAD}")]
    PayloadTooLong {
        /// The encoded length.
        octets: usize,
    },
}

/// Capacity of one segment in encoded octets (unpacked septets for GSM), for a single
/// message and for each part of a concatenated one.
fn capacities(coding: Coding, concatenation: Concatenation) -> (usize, usize) {
    let multi = match concatenation {
        Concatenation::Udh16 { .. } => 1,
        _ => 0,
    };
    match coding {
        // 16-bit UDH is 7 octets = 8 septets exactly; 8-bit is 6 octets + 1 fill = 7.
        Coding::Gsm7 => (160, [153, 152][multi]),
        Coding::Ucs2 => (140, [134, 132][multi]),
        Coding::Ia5 | Coding::Latin1 | Coding::Binary => (140, [134, 133][multi]),
    }
}

/// Where each segment ends in `encoded`, given the per-part capacity. Never splits an
/// escape from its extension character nor a surrogate pair.
fn cut_points(encoded: &[u8], coding: Coding, cap: usize, ends: &mut Vec<usize>) {
    let mut start = 0;
    while encoded.len() - start > cap {
        let mut end = start + cap;
        match coding {
            Coding::Gsm7 if encoded.get(end - 1) == Some(&gsm7::ESCAPE) => end -= 1,
            Coding::Ucs2 => {
                let unit = match encoded.get(end - 2..end) {
                    Some(&[hi, lo]) => u16::from_be_bytes([hi, lo]),
                    _ => 0,
                };
                if ucs2::is_high_surrogate(unit) {
                    end -= 2;
                }
            }
            _ => {}
        }
        ends.push(end);
        start = end;
    }
    ends.push(encoded.len());
}

/// How many segments `text` needs and in which coding, without building them: for
/// pricing and for the operator's "too long" checks.
pub fn count_segments(
    text: &str,
    options: &SegmentOptions,
) -> Result<(Coding, usize), SegmentError> {
    let (coding, encoded) = options.policy.encode(text)?;
    Ok((coding, plan(&encoded, coding, options)?.len()))
}

fn plan(
    encoded: &[u8],
    coding: Coding,
    options: &SegmentOptions,
) -> Result<Vec<usize>, SegmentError> {
    let (single, part) = capacities(coding, options.concatenation);
    let mut ends = Vec::new();
    if options.concatenation == Concatenation::MessagePayload {
        if encoded.len() > MAX_PAYLOAD {
            return Err(SegmentError::PayloadTooLong {
                octets: encoded.len(),
            });
        }
        ends.push(encoded.len());
        return Ok(ends);
    }
    if encoded.len() <= single {
        ends.push(encoded.len());
        return Ok(ends);
    }
    cut_points(encoded, coding, part, &mut ends);
    let max = options.max_segments.get();
    if ends.len() > usize::from(max) {
        return Err(SegmentError::TooManySegments {
            needed: ends.len(),
            max,
            coding,
        });
    }
    Ok(ends)
}

/// Splits `text` into segments ready for submit_sm.
///
/// A text that fits one message is sent whole without UDH or SAR values (except with
/// [`Concatenation::MessagePayload`], which always uses the TLV).
pub fn segment(text: &str, options: &SegmentOptions) -> Result<Vec<Segment>, SegmentError> {
    let (coding, encoded) = options.policy.encode(text)?;
    build(&encoded, coding, options)
}

/// Splits 8-bit binary data (data_coding 4) into segments.
pub fn segment_binary(data: &[u8], options: &SegmentOptions) -> Result<Vec<Segment>, SegmentError> {
    build(data, Coding::Binary, options)
}

fn build(
    encoded: &[u8],
    coding: Coding,
    options: &SegmentOptions,
) -> Result<Vec<Segment>, SegmentError> {
    let ends = plan(encoded, coding, options)?;
    let packed = coding == Coding::Gsm7 && options.gsm_packing == GsmPacking::Packed;
    let data_coding = coding.data_coding();
    // `plan` bounded the count by MaxSegments, a u8.
    let total = u8::try_from(ends.len()).unwrap_or(u8::MAX);
    let field = if options.concatenation == Concatenation::MessagePayload {
        Field::MessagePayload
    } else {
        Field::ShortMessage
    };
    let mut segments = Vec::with_capacity(ends.len());
    let mut start = 0;
    for (i, &end) in ends.iter().enumerate() {
        let seqnum = u8::try_from(i + 1).unwrap_or(u8::MAX);
        let body = encoded.get(start..end).unwrap_or_default();
        start = end;
        let mut bytes = Vec::with_capacity(UDH16_LEN + body.len());
        let mut esm_class = 0;
        let mut sar = None;
        if total > 1 {
            match options.concatenation {
                Concatenation::Udh8 { reference } => {
                    udh::write_udh8(&mut bytes, reference, total, seqnum);
                    esm_class = ESM_CLASS_UDHI;
                }
                Concatenation::Udh16 { reference } => {
                    udh::write_udh16(&mut bytes, reference, total, seqnum);
                    esm_class = ESM_CLASS_UDHI;
                }
                Concatenation::Sar { reference } => {
                    sar = Some(SarValues {
                        msg_ref_num: reference,
                        total_segments: total,
                        segment_seqnum: seqnum,
                    })
                }
                Concatenation::MessagePayload => {}
            }
        }
        if packed {
            // Our own encoder produced the septets, so none is above 0x7F.
            septet::pack_valid_into(body, septet::fill_bits(bytes.len()), &mut bytes);
        } else {
            bytes.extend_from_slice(body);
        }
        segments.push(Segment {
            bytes,
            field,
            esm_class,
            data_coding,
            sar,
        });
    }
    Ok(segments)
}
