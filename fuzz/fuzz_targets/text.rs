//! Fuzzes every text decoder (unpacked and packed GSM, IA5, Latin-1, UCS-2, lossy), every
//! encoder on arbitrary UTF-8, the UDH parser, and the reassembler fed with arbitrary
//! segments. Checks the invariants that strict and lossy decoding agree, that what an
//! encoder accepts decodes back to the same text, that packing round-trips, and that the
//! reassembler stays within its byte budget.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use smppd::sms::{
    decode, decode_gsm_packed, decode_lossy, encode, parse_udh, septet, Coding, ConcatInfo,
    ConcatRef, Fragment, Reassembler, ReassemblyLimits,
};

const CODINGS: [Coding; 5] = [
    Coding::Gsm7,
    Coding::Ia5,
    Coding::Latin1,
    Coding::Binary,
    Coding::Ucs2,
];

fuzz_target!(|data: &[u8]| {
    for coding in CODINGS {
        let lossy = decode_lossy(data, coding);
        match decode(data, coding) {
            Ok(text) => {
                assert!(lossy.is_exact());
                assert_eq!(lossy.text, text);
                if coding != Coding::Gsm7 {
                    // Exact codings re-encode to the same octets.
                    assert_eq!(encode(&text, coding).as_deref(), Ok(data));
                } else {
                    let again = encode(&text, coding).expect("decoded GSM re-encodes");
                    assert_eq!(decode(&again, coding).as_deref(), Ok(text.as_str()));
                }
            }
            Err(_) => assert!(coding == Coding::Binary || !lossy.is_exact()),
        }
    }

    // Any text an API client sends: each encoder answers Ok or a typed error, and GSM's
    // fast path agrees with its own decoder.
    if let Ok(text) = std::str::from_utf8(data) {
        for coding in CODINGS {
            if let Ok(octets) = encode(text, coding) {
                assert_eq!(decode(&octets, coding).as_deref(), Ok(text));
            }
        }
    }

    if let [fill, count, rest @ ..] = data {
        let fill = fill % 8;
        let _ = decode_gsm_packed(rest, fill, usize::from(*count));
        let septets: Vec<u8> = rest.iter().map(|b| b & 0x7F).collect();
        if let Ok(packed) = septet::pack(&septets, fill) {
            let back = septet::unpack(&packed, fill, septets.len()).expect("round trip");
            assert_eq!(back, septets);
        }
    }

    let _ = parse_udh(data);

    // Reassembly: each record is [reference, total, seqnum, len, payload(len)...].
    let limits = ReassemblyLimits {
        max_sets: 4,
        max_bytes: 64,
        timeout: Duration::from_secs(10),
        duplicate_window: Duration::from_secs(3),
    };
    let mut r = Reassembler::new(limits);
    let t0 = Instant::now();
    let mut dropped = Vec::new();
    let mut rest = data;
    let mut tick = 0u64;
    while let [reference, total, seqnum, len, tail @ ..] = rest {
        let len = usize::from(*len % 32).min(tail.len());
        let (payload, tail) = tail.split_at(len);
        rest = tail;
        tick += 1;
        let now = t0 + Duration::from_secs(tick);
        let fragment = Fragment {
            source: "1",
            destination: "2",
            concat: ConcatInfo {
                reference: ConcatRef::Udh8(reference % 4),
                total: total % 5,
                seqnum: seqnum % 6,
            },
            payload,
        };
        let _ = r.push(fragment, now, &mut dropped);
        assert!(r.pending_bytes() <= 64);
        assert!(r.pending_sets() <= 4);
        if tick % 7 == 0 {
            dropped.extend(r.expire(now));
        }
    }
});
