//! Property tests: every coding round-trips the text it can represent, septet packing
//! round-trips at every fill, and segmenting then reassembling in any order, with
//! duplicates, gives the text back.

use std::time::Instant;

use proptest::prelude::*;
use smppd::sms::{
    decode, encode, gsm7, parse_udh, segment, septet, Coding, CodingPolicy, ConcatInfo, ConcatRef,
    Concatenation, Fragment, Pushed, Reassembler, ReassemblyLimits, SegmentOptions, ESM_CLASS_UDHI,
};

/// Every character of the GSM alphabet, basic and extension, from the crate's tables.
fn gsm_chars() -> Vec<char> {
    (0u8..128)
        .filter(|&s| s != gsm7::ESCAPE)
        .filter_map(|s| gsm7::decode(&[s]).ok())
        .chain(
            [0x0A, 0x14, 0x28, 0x29, 0x2F, 0x3C, 0x3D, 0x3E, 0x40, 0x65]
                .iter()
                .filter_map(|&s| gsm7::decode(&[gsm7::ESCAPE, s]).ok()),
        )
        .flat_map(|s| s.chars().collect::<Vec<_>>())
        .collect()
}

fn gsm_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(prop::sample::select(gsm_chars()), 0..max)
        .prop_map(|v| v.into_iter().collect())
}

/// Runs of plain ASCII (letters, digits, space) of every length broken by single characters
/// of any kind, GSM or not: the shape that the encoder's eight-octet fast path meets in
/// real texts, with every boundary between a run and a special character.
fn runs_text() -> impl Strategy<Value = String> {
    let special = prop_oneof![
        prop::sample::select(gsm_chars()),
        prop::sample::select(vec!['`', 'Ж', '€', '😀', 'é', '{']),
    ];
    prop::collection::vec(("[a-zA-Z0-9 ]{0,20}", special), 0..20).prop_map(|parts| {
        parts
            .into_iter()
            .flat_map(|(run, c)| run.chars().chain([c]).collect::<Vec<_>>())
            .collect()
    })
}

/// GSM unpacked septets of `text` one character at a time, or the first character the
/// alphabet lacks with its position: the reference the fast encoder must agree with.
fn gsm_reference(text: &str) -> Result<Vec<u8>, (char, usize)> {
    let mut out = Vec::new();
    for (position, c) in text.chars().enumerate() {
        match gsm7::char_to_septets(c) {
            Some(gsm7::Septets::Basic(s)) => out.push(s),
            Some(gsm7::Septets::Extended(s)) => out.extend([gsm7::ESCAPE, s]),
            None => return Err((c, position)),
        }
    }
    Ok(out)
}

fn latin1_text() -> impl Strategy<Value = String> {
    prop::collection::vec(0u8..=255, 0..300).prop_map(|v| v.into_iter().map(char::from).collect())
}

/// Mostly GSM with some other scripts and emoji, so both codings and every boundary rule
/// get exercised.
fn any_text() -> impl Strategy<Value = String> {
    prop_oneof![
        gsm_text(700),
        prop::collection::vec(
            prop_oneof![
                prop::sample::select(gsm_chars()),
                prop::sample::select(vec!['Ж', '你', '😀', '🇩', 'é', 'ç', '\u{10FFFF}']),
            ],
            0..500
        )
        .prop_map(|v| v.into_iter().collect()),
        ".{0,300}",
    ]
}

fn concatenation() -> impl Strategy<Value = Concatenation> {
    prop_oneof![
        any::<u8>().prop_map(|reference| Concatenation::Udh8 { reference }),
        any::<u16>().prop_map(|reference| Concatenation::Udh16 { reference }),
        any::<u16>().prop_map(|reference| Concatenation::Sar { reference }),
    ]
}

proptest! {
    #[test]
    fn gsm_encoding_agrees_with_the_character_by_character_reference(text in runs_text()) {
        match (gsm7::encode(&text), gsm_reference(&text)) {
            (Ok(fast), Ok(reference)) => prop_assert_eq!(fast, reference),
            (Err(smppd::sms::EncodeError::Unrepresentable { character, position, .. }), Err(expected)) => {
                prop_assert_eq!((character, position), expected)
            }
            (fast, reference) => prop_assert!(false, "encoder {:?} vs reference {:?}", fast, reference),
        }
    }

    #[test]
    fn gsm_round_trips(text in gsm_text(400)) {
        let septets = encode(&text, Coding::Gsm7).unwrap();
        prop_assert_eq!(septets.len(), gsm7::septet_count(&text).unwrap());
        prop_assert_eq!(decode(&septets, Coding::Gsm7).unwrap(), text);
    }

    #[test]
    fn packed_gsm_round_trips(text in gsm_text(400), fill in 0u8..7) {
        let septets = encode(&text, Coding::Gsm7).unwrap();
        let packed = septet::pack(&septets, fill).unwrap();
        prop_assert_eq!(packed.len(), (septets.len() * 7 + usize::from(fill)).div_ceil(8));
        let back = smppd::sms::decode_gsm_packed(&packed, fill, septets.len()).unwrap();
        prop_assert_eq!(back, text);
    }

    #[test]
    fn septets_pack_and_unpack(septets in prop::collection::vec(0u8..128, 0..400), fill in 0u8..7) {
        let packed = septet::pack(&septets, fill).unwrap();
        prop_assert_eq!(septet::unpack(&packed, fill, septets.len()).unwrap(), septets);
    }

    #[test]
    fn latin1_round_trips(text in latin1_text()) {
        let bytes = encode(&text, Coding::Latin1).unwrap();
        prop_assert_eq!(bytes.len(), text.chars().count());
        prop_assert_eq!(decode(&bytes, Coding::Latin1).unwrap(), text);
    }

    #[test]
    fn ia5_round_trips(text in "[\\x00-\\x7F]{0,300}") {
        let bytes = encode(&text, Coding::Ia5).unwrap();
        prop_assert_eq!(decode(&bytes, Coding::Ia5).unwrap(), text);
    }

    #[test]
    fn ucs2_round_trips(text in ".{0,300}") {
        let bytes = encode(&text, Coding::Ucs2).unwrap();
        prop_assert_eq!(decode(&bytes, Coding::Ucs2).unwrap(), text);
    }

    #[test]
    fn auto_coding_is_exact(text in any_text()) {
        let coding = CodingPolicy::Auto.choose(&text);
        let bytes = encode(&text, coding).unwrap();
        prop_assert_eq!(decode(&bytes, coding).unwrap(), text);
    }

    #[test]
    fn segment_then_reassemble_in_any_order(
        text in any_text(),
        concatenation in concatenation(),
        keys in prop::collection::vec(any::<u32>(), 8),
        duplicates in prop::collection::vec(any::<prop::sample::Index>(), 0..4),
    ) {
        let segments = segment(&text, &SegmentOptions::new(concatenation)).unwrap();
        let coding = Coding::from_data_coding(segments[0].data_coding).unwrap();
        // Each segment's concatenation values, as the receiving side finds them.
        let mut fragments: Vec<(ConcatInfo, &[u8])> = Vec::new();
        for s in &segments {
            if s.esm_class & ESM_CLASS_UDHI != 0 {
                let (info, payload) = parse_udh(&s.bytes).unwrap();
                fragments.push((info.unwrap(), payload));
            } else if let Some(sar) = s.sar {
                let info = ConcatInfo {
                    reference: ConcatRef::Sar(sar.msg_ref_num),
                    total: sar.total_segments,
                    seqnum: sar.segment_seqnum,
                };
                fragments.push((info, &s.bytes));
            } else {
                prop_assert_eq!(segments.len(), 1);
                prop_assert_eq!(decode(&s.bytes, coding).unwrap(), text.clone());
                return Ok(());
            }
        }
        for d in &duplicates {
            fragments.push(fragments[d.index(fragments.len())]);
        }
        // A random permutation: sort by random keys, cycling when there are more parts.
        let mut order: Vec<usize> = (0..fragments.len()).collect();
        order.sort_by_key(|&i| (keys[i % keys.len()], i));
        let mut r = Reassembler::new(ReassemblyLimits::default());
        let mut dropped = Vec::new();
        let mut done = Vec::new();
        for i in order {
            let (concat, payload) = fragments[i];
            let f = Fragment { source: "a", destination: "b", concat, payload };
            if let Pushed::Complete(c) = r.push(f, Instant::now(), &mut dropped).unwrap() {
                done.push(c);
            }
        }
        prop_assert!(dropped.is_empty());
        prop_assert_eq!(done.len(), 1);
        prop_assert_eq!(decode(&done[0].concat(), coding).unwrap(), text);
        prop_assert_eq!(r.pending_sets(), 0);
    }
}
