//! Inputs the fuzzers found, replayed through the same checks as `fuzz/fuzz_targets/text.rs`
//! so that each fixed crash stays fixed.

use std::time::{Duration, Instant};

use smppd::sms::{ConcatInfo, ConcatRef, Fragment, Reassembler, ReassemblyLimits};

/// The reassembly half of the `text` fuzz target: records of
/// [reference, total, seqnum, len, payload...] pushed into a small reassembler whose bounds
/// must hold after every push.
fn replay_reassembly(data: &[u8]) {
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
        assert!(
            r.pending_bytes() <= 64,
            "byte budget exceeded after record {tick}"
        );
        assert!(r.pending_sets() <= 4);
        if tick.is_multiple_of(7) {
            dropped.extend(r.expire(now));
        }
    }
}

fn unhex(parts: &[&str]) -> Vec<u8> {
    let hex: String = parts.concat();
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

/// fuzz/text crash-ee5f864a: one set outgrew the 64-octet budget on its own and was kept.
#[test]
fn reassembly_set_larger_than_budget() {
    let data = unhex(&[
        "0510003011dbf7df2f1000301105df202000003ee0e007070707070f070707070707070707070707073b070707e0e0e0",
        "3e3ee0e03a070707070707f9f4070707e0e0e03e3e3e3000000020202020202020202020202020202020202020203020",
        "e026ffffdf26feffdfff2100000000ffdfffff26febf33df26fedbf7ffffdf26ffffdf26feffdffffeffffffffffffff",
        "ffffffffffffffffffffbf37df2677777707070707070707070707073b070707e0e0e03e3ee0e03a070707070707f9f4",
        "070707e0e0e03e3e3e3100000020202020202020202020202020202020202020203020e026ffffdf26feffdfff210000",
        "0000ffdfffff26febf33df26fedbf7ffffdf26ff0100000000000009ffffffffffffffffffffffffffffffffffbf3707",
        "070f070707070707070707070707073b070707e0e0e03e0180e03a070707070707f9f4070707e0e0e03e3e3e31000001",
        "1100000020202020202020202020202020202020202020203020e026ffffdf26feffdfff2100000000ffdfffff26febf",
        "33df26fedbf7ffffdf26ffffdf26feffdffffeffffffffffffffffffffffffffffffdfffbfff37267777770707070707",
        "0707070707073b070707e0e0e03e3ee0e03a070707070707f9f4070707e0e0e03e3e3e31000000202020202020202020",
        "20202020202020202020203020e026ffffdf26feffdfff2100000000ffdfffff26febf33df26fedbf7ffffdf26ffffdf",
        "26feffdffffeffffffffffffffffffffffffffffffffffbf37df26777777df7777777777777777ffffdf26feffdfff21",
        "00000000ffdfffff26fec033df26feffffdf26ffffdf26feffdfff210040000600df20200000df7777777777777777ff",
        "ffdf26feffdfff2100000000ffdfffff26fec033df26feffffdf26ffffdf26fedf26777777df7777777777777777ffff",
        "df26feffdfff2100000000ffdfffff26fec033df26feffffdf26ffffdf26feffdfff210040000600df20200000df7777",
        "777777777777ffffdf26feffdfff2100000000ffdfffff26fec033df26feffffdf26ffffdf26feffdfff210040000600",
        "df202000003ee0e007070707070f07070707072f07ff00002868",
    ]);
    assert_eq!(data.len(), 794);
    replay_reassembly(&data);
}
