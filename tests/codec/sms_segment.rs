//! Segment counts and boundaries as handsets count them, on the texts that usually break
//! gateways: extension characters and emoji exactly at a boundary, and the lengths either
//! side of each limit.

use smppd::sms::{
    count_segments, decode, parse_udh, segment, segment_binary, Coding, CodingPolicy,
    Concatenation, EncodeError, Field, MaxSegments, SegmentError, SegmentOptions, ESM_CLASS_UDHI,
};

const UDH8: Concatenation = Concatenation::Udh8 { reference: 0x42 };
const UDH16: Concatenation = Concatenation::Udh16 { reference: 0x1234 };

fn opts(concatenation: Concatenation) -> SegmentOptions {
    SegmentOptions::new(concatenation)
}

/// The text of each segment, decoded back.
fn texts(text: &str, concatenation: Concatenation) -> Vec<String> {
    let segments = segment(text, &opts(concatenation)).unwrap();
    segments
        .iter()
        .map(|s| {
            let body = if s.esm_class & ESM_CLASS_UDHI != 0 {
                parse_udh(&s.bytes).unwrap().1
            } else {
                &s.bytes
            };
            decode(body, Coding::from_data_coding(s.data_coding).unwrap()).unwrap()
        })
        .collect()
}

fn count(text: &str, concatenation: Concatenation) -> usize {
    count_segments(text, &opts(concatenation)).unwrap().1
}

#[test]
fn gsm_limits_160_153_152() {
    assert_eq!(count(&"a".repeat(160), UDH8), 1);
    assert_eq!(count(&"a".repeat(161), UDH8), 2);
    assert_eq!(count(&"a".repeat(306), UDH8), 2);
    assert_eq!(count(&"a".repeat(307), UDH8), 3);
    assert_eq!(count(&"a".repeat(304), UDH16), 2);
    assert_eq!(count(&"a".repeat(305), UDH16), 3);
    let parts = texts(&"a".repeat(307), UDH8);
    assert_eq!(
        parts.iter().map(String::len).collect::<Vec<_>>(),
        [153, 153, 1]
    );
    // 153 and 154 septets still fit one 160-septet SMS: no header needed.
    assert_eq!(count(&"a".repeat(153), UDH8), 1);
    assert_eq!(count(&"a".repeat(154), UDH8), 1);
}

#[test]
fn extension_character_at_a_boundary_moves_whole() {
    for ext in ['€', '^', '{', '|'] {
        // 152 plain septets, then the two-septet character would straddle 153.
        let text = format!("{}{ext}{}", "a".repeat(152), "b".repeat(10));
        let parts = texts(&text, UDH8);
        assert_eq!(parts.len(), 2, "{ext}");
        assert_eq!(
            parts[0],
            "a".repeat(152),
            "{ext}: segment 1 ends before the escape"
        );
        assert!(parts[1].starts_with(ext), "{ext}");
        // One earlier: it fits exactly.
        let text = format!("{}{ext}{}", "a".repeat(151), "b".repeat(10));
        let parts = texts(&text, UDH8);
        assert_eq!(parts[0].chars().count(), 152, "{ext}");
        assert!(parts[0].ends_with(ext), "{ext}");
    }
    // 80 '€' = 160 septets fits one SMS; 81 does not.
    assert_eq!(count(&"€".repeat(80), UDH8), 1);
    assert_eq!(count(&"€".repeat(81), UDH8), 2);
    // With a 16-bit reference (152 septets) an even split of '€' fills exactly.
    let parts = texts(&"€".repeat(81), UDH16);
    assert_eq!(parts[0].chars().count(), 76);
}

#[test]
fn ucs2_limits_70_67_66() {
    assert_eq!(count(&"Ж".repeat(70), UDH8), 1);
    assert_eq!(count(&"Ж".repeat(71), UDH8), 2);
    assert_eq!(count(&"Ж".repeat(134), UDH8), 2);
    assert_eq!(count(&"Ж".repeat(135), UDH8), 3);
    assert_eq!(count(&"Ж".repeat(132), UDH16), 2);
    assert_eq!(count(&"Ж".repeat(133), UDH16), 3);
    let segments = segment(&"Ж".repeat(71), &opts(UDH8)).unwrap();
    assert_eq!(segments[0].bytes.len(), 6 + 134);
    assert_eq!(segments[0].data_coding, 8);
}

#[test]
fn emoji_at_a_boundary_is_never_split() {
    // 66 units then an emoji (2 units) would straddle 67.
    let text = format!("{}😀{}", "Ж".repeat(66), "Ж".repeat(5));
    let parts = texts(&text, UDH8);
    assert_eq!(parts[0], "Ж".repeat(66));
    assert!(parts[1].starts_with('😀'));
    assert_eq!(parts.concat(), text);
    // 35 emoji = 70 units: one SMS.
    assert_eq!(count(&"😀".repeat(35), UDH8), 1);
    assert_eq!(count(&"😀".repeat(36), UDH8), 2);
}

#[test]
fn mixed_scripts_go_ucs2_and_round_trip() {
    let text = "Hello Привет 你好 مرحبا 😀 ".repeat(8);
    let (coding, _) = count_segments(&text, &opts(UDH8)).unwrap();
    assert_eq!(coding, Coding::Ucs2);
    assert_eq!(texts(&text, UDH8).concat(), text);
}

#[test]
fn forced_latin1_with_cyrillic_is_an_error_naming_it() {
    let options = SegmentOptions {
        policy: CodingPolicy::Forced(Coding::Latin1),
        ..opts(UDH8)
    };
    assert_eq!(
        segment("Grüße aus Москва", &options),
        Err(SegmentError::Encode(EncodeError::Unrepresentable {
            character: 'М',
            position: 10,
            coding: Coding::Latin1
        }))
    );
    let parts = segment(&"é".repeat(141), &options).unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0].bytes.len(), 6 + 134);
    assert_eq!(parts[0].data_coding, 3);
}

#[test]
fn udh_headers_and_flags() {
    let segments = segment(&"x".repeat(200), &opts(UDH8)).unwrap();
    for (i, s) in segments.iter().enumerate() {
        assert_eq!(s.esm_class, ESM_CLASS_UDHI);
        assert_eq!(s.field, Field::ShortMessage);
        assert_eq!(s.bytes[..6], [0x05, 0x00, 0x03, 0x42, 2, i as u8 + 1]);
        assert_eq!(s.sar, None);
    }
    let segments = segment(&"x".repeat(200), &opts(UDH16)).unwrap();
    assert_eq!(segments[1].bytes[..7], [0x06, 0x08, 0x04, 0x12, 0x34, 2, 2]);
    // A short text needs no header.
    let single = segment("hi", &opts(UDH8)).unwrap();
    assert_eq!(single.len(), 1);
    assert_eq!(single[0].esm_class, 0);
    assert_eq!(single[0].bytes, b"hi");
}

#[test]
fn sar_values_and_sizes() {
    let segments = segment(
        &"x".repeat(307),
        &opts(Concatenation::Sar { reference: 77 }),
    )
    .unwrap();
    assert_eq!(segments.len(), 3);
    for (i, s) in segments.iter().enumerate() {
        let sar = s.sar.unwrap();
        assert_eq!((sar.msg_ref_num, sar.total_segments), (77, 3));
        assert_eq!(usize::from(sar.segment_seqnum), i + 1);
        assert_eq!(s.esm_class, 0, "no UDH with SAR");
    }
    assert_eq!(segments[0].bytes.len(), 153);
}

#[test]
fn message_payload_is_one_unsplit_message() {
    let text = "y".repeat(1000);
    let segments = segment(&text, &opts(Concatenation::MessagePayload)).unwrap();
    assert_eq!(segments.len(), 1);
    assert_eq!(segments[0].field, Field::MessagePayload);
    assert_eq!(segments[0].bytes.len(), 1000);
    assert_eq!(
        segment_binary(&[0; 70_000], &opts(Concatenation::MessagePayload)),
        Err(SegmentError::PayloadTooLong { octets: 70_000 })
    );
}

#[test]
fn binary_uses_140_134_133() {
    let o8 = opts(UDH8);
    assert_eq!(segment_binary(&[1; 140], &o8).unwrap().len(), 1);
    let parts = segment_binary(&[1; 141], &o8).unwrap();
    assert_eq!(parts[0].bytes.len(), 6 + 134);
    assert_eq!(parts[0].data_coding, 4);
    let parts = segment_binary(&[1; 267], &opts(UDH16)).unwrap();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[0].bytes.len(), 7 + 133);
}

#[test]
fn maximum_segment_count_is_validated_and_enforced() {
    assert_eq!(
        MaxSegments::try_new(1),
        Err(SegmentError::InvalidMaxSegments { value: 1 })
    );
    assert_eq!(
        MaxSegments::try_new(256),
        Err(SegmentError::InvalidMaxSegments { value: 256 })
    );
    assert_eq!(MaxSegments::try_new(2).unwrap().get(), 2);
    assert_eq!(MaxSegments::default().get(), 255);
    let options = SegmentOptions {
        max_segments: MaxSegments::try_new(3).unwrap(),
        ..opts(UDH8)
    };
    assert!(segment(&"a".repeat(459), &options).is_ok());
    let err = segment(&"a".repeat(460), &options).unwrap_err();
    assert_eq!(
        err,
        SegmentError::TooManySegments {
            needed: 4,
            max: 3,
            coding: Coding::Gsm7
        }
    );
    assert_eq!(
        err.to_string(),
        "the message needs 4 segments in GSM 7-bit (data_coding 0), more than the maximum of 3"
    );
    assert!(matches!(
        segment(&"a".repeat(153 * 256), &opts(UDH8)),
        Err(SegmentError::TooManySegments {
            needed: 256,
            max: 255,
            ..
        })
    ));
}

#[test]
fn packed_gsm_segments_carry_fill_bits() {
    use smppd::sms::{decode_gsm_packed, septet, GsmPacking};
    let options = SegmentOptions {
        gsm_packing: GsmPacking::Packed,
        ..opts(UDH8)
    };
    let text = "The quick brown fox {jumps} over the lazy dog €".repeat(5);
    let segments = segment(&text, &options).unwrap();
    assert_eq!(segments.len(), 2);
    // 6-octet UDH + 153 septets packed after 1 fill bit = 6 + 134 octets: exactly 140.
    assert_eq!(segments[0].bytes.len(), 140);
    let mut back = String::new();
    let unpacked = texts(&text, UDH8);
    for (s, expected) in segments.iter().zip(&unpacked) {
        let (_, payload) = parse_udh(&s.bytes).unwrap();
        let count = smppd::sms::gsm7::septet_count(expected).unwrap();
        back += &decode_gsm_packed(payload, septet::fill_bits(6), count).unwrap();
    }
    assert_eq!(back, text);
}
