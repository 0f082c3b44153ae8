//! Text coding and segmentation, smppd beside rusmpp's `extra` encoders in the same run.
//!
//! smpp34 has no text coding or concatenation, so it has no entry here. rusmpp does not
//! pack septets (it sends GSM unpacked), so its unpacked encoding stands beside both of
//! ours in the GSM group.
//!
//! Run: `cargo bench --bench text -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::str::FromStr;

use criterion::{criterion_group, criterion_main, Criterion};
use rusmpp::extra::concatenation::{Concatenator, SubmitSmMultipartExt};
use rusmpp::extra::encoding::gsm7bit::Gsm7BitUnpacked;
use rusmpp::pdus::SubmitSm;
use rusmpp::types::{COctetString, OctetString};
use smppd::sms::{self, Coding, Concatenation, SegmentOptions};

/// 160 GSM characters: ASCII with a few Greek and extension characters, as real traffic.
fn text_160() -> String {
    let base = "Your code is 483920. Valid 10 min. Price: 5€ {promo}. Ω Σ Δ café déjà vu! ";
    base.chars().cycle().take(160).collect()
}

fn text_1000() -> String {
    let base = "Dear customer, your parcel #123456 is out for delivery today between \
                10:00 and 14:00 [tracking: example]. Reply STOP to opt out; fees ~ 0.05€. ";
    base.chars().cycle().take(1000).collect()
}

fn gsm_160(c: &mut Criterion) {
    let text = text_160();
    let mut group = c.benchmark_group("gsm_160_chars");
    group.bench_function("smppd_encode_unpacked", |b| {
        b.iter(|| sms::encode(black_box(&text), Coding::Gsm7))
    });
    group.bench_function("smppd_encode_and_pack", |b| {
        b.iter(|| {
            let septets = sms::gsm7::encode(black_box(&text)).unwrap_or_default();
            sms::septet::pack(&septets, 0)
        })
    });
    let rusmpp = Gsm7BitUnpacked::new();
    group.bench_function("rusmpp_encode_unpacked", |b| {
        b.iter(|| rusmpp.encode_to_vec(black_box(&text)))
    });
    group.finish();
}

fn segment_1000(c: &mut Criterion) {
    let text = text_1000();
    let options = SegmentOptions::new(Concatenation::Udh8 { reference: 7 });
    let mut group = c.benchmark_group("segment_1000_chars");
    group.bench_function("smppd_segment_udh8", |b| {
        b.iter(|| sms::segment(black_box(&text), &options))
    });
    let rusmpp = Gsm7BitUnpacked::new();
    group.bench_function("rusmpp_concatenate", |b| {
        // Encode and split only: rusmpp's UDH is added by the PDU builder below. It sizes
        // parts as 160 - 6 = 154 septets (handsets count 153): one part fewer would not
        // change the work much at this length.
        b.iter(|| rusmpp.concatenate(black_box(&text), 160, 6))
    });
    let sm = SubmitSm::builder()
        .source_addr(COctetString::from_str("12345").unwrap_or_default())
        .destination_addr(COctetString::from_str("491701234567").unwrap_or_default())
        .short_message(OctetString::empty())
        .build();
    // The builder's default max_short_message_size is 140, so 134 septets per part.
    group.bench_function("rusmpp_multipart_pdus", |b| {
        b.iter(|| {
            sm.clone()
                .multipart(black_box(&text))
                .reference_u8(7)
                .gsm7bit_unpacked()
                .build()
        })
    });
    group.finish();
}

criterion_group!(benches, gsm_160, segment_1000);
criterion_main!(benches);
