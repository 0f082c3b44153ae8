//! Decode and encode of a 160-character submit_sm and of a deliver_sm delivery receipt, each
//! beside the same operation in rusmpp and smpp34, in the same run.
//!
//! Every contender starts from the same octets: decoders consume PDUs from a read buffer that
//! already holds a batch of them (filling it is not timed; dropping each decoded value is),
//! encoders write an already built PDU into a reused buffer (smpp34's `encode(self) -> Vec<u8>` takes its PDU by value,
//! so its clone happens in untimed setup).
//!
//! Run: `cargo bench --bench codec -- --warm-up-time 1 --measurement-time 3`

use bytes::{Buf, BufMut, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use rusmpp::decode::DecodeWithLength;
use rusmpp::encode::{owned::Encode, Length};
use smppd::codec::pdu::SubmitSm;
use smppd::codec::{
    CommandStatus, EsmClass, Framer, Npi, Pdu, ShortMessage, Tlv, TlvTag, Tlvs, Ton,
};
use std::hint::black_box;
use std::time::{Duration, Instant};

fn submit_160() -> Pdu {
    let text = "The quick brown fox jumps over the lazy dog while the SMSC counts octets; this message is exactly one hundred and sixty characters long for the benchmark run!!!";
    assert_eq!(text.len(), 160);
    Pdu::SubmitSm(SubmitSm {
        source_addr_ton: Ton::Alphanumeric,
        source_addr_npi: Npi::Unknown,
        source_addr: "smppd".try_into().unwrap(),
        dest_addr_ton: Ton::International,
        dest_addr_npi: Npi::Isdn,
        destination_addr: "447700900123".try_into().unwrap(),
        registered_delivery: 1,
        short_message: ShortMessage::new(text.as_bytes().to_vec()).unwrap(),
        ..SubmitSm::default()
    })
}

fn receipt() -> Pdu {
    let text = "id:0123456789abcdef sub:001 dlvrd:001 submit date:2611251200 done date:2611251201 stat:DELIVRD err:000 text:The quick brown fox";
    Pdu::DeliverSm(SubmitSm {
        source_addr_ton: Ton::International,
        source_addr_npi: Npi::Isdn,
        source_addr: "447700900123".try_into().unwrap(),
        dest_addr_ton: Ton::Alphanumeric,
        destination_addr: "smppd".try_into().unwrap(),
        esm_class: EsmClass(EsmClass::DELIVERY_RECEIPT),
        short_message: ShortMessage::new(text.as_bytes().to_vec()).unwrap(),
        tlvs: Tlvs(vec![
            Tlv::new(TlvTag::ReceiptedMessageId, &b"0123456789abcdef\0"[..]).unwrap(),
            Tlv::u8(TlvTag::MessageState, 2).unwrap(),
        ]),
        ..SubmitSm::default()
    })
}

/// Times `decode` over `iters` copies of `wire`, refilling a read buffer in untimed batches.
fn batched(iters: u64, wire: &[u8], mut decode: impl FnMut(&mut BytesMut)) -> Duration {
    const BATCH: u64 = 256;
    let mut total = Duration::ZERO;
    let mut left = iters;
    while left > 0 {
        let n = left.min(BATCH);
        left -= n;
        let mut buf = BytesMut::with_capacity(wire.len() * n as usize);
        for _ in 0..n {
            buf.extend_from_slice(wire);
        }
        let start = Instant::now();
        for _ in 0..n {
            decode(&mut buf);
        }
        total += start.elapsed();
    }
    total
}

fn bench_pdu(c: &mut Criterion, name: &str, pdu: Pdu) {
    let mut wire = BytesMut::new();
    pdu.encode(7, CommandStatus::EsmeRok, &mut wire).unwrap();
    let wire = wire.freeze();
    let framer = Framer::default();

    let rusmpp_cmd = rusmpp::Command::decode(&mut BytesMut::from(&wire[4..]), wire.len() - 4)
        .unwrap()
        .0;
    let smpp34_submit =
        smpp34::submit_sm::decode(smpp34::CommandHeader::decode(&wire).unwrap(), &wire);
    let smpp34_deliver =
        smpp34::deliver_sm::decode(smpp34::CommandHeader::decode(&wire).unwrap(), &wire);
    let is_submit = matches!(pdu, Pdu::SubmitSm(_));

    // Each decoder consumes PDUs from a read buffer already holding a batch of them, as after
    // one large socket read; only the decoding (and dropping the result) is timed.
    let mut g = c.benchmark_group(format!("decode/{name}"));
    g.bench_function("smppd", |b| {
        b.iter_custom(|iters| {
            batched(iters, &wire, |buf| {
                let frame = framer.decode(buf).unwrap().unwrap();
                black_box(frame.into_pdu().unwrap());
            })
        })
    });
    g.bench_function("rusmpp", |b| {
        b.iter_custom(|iters| {
            batched(iters, &wire, |buf| {
                let len = buf.get_u32() as usize;
                black_box(rusmpp::Command::decode(buf, len - 4).unwrap().0);
            })
        })
    });
    g.bench_function("smpp34", |b| {
        b.iter_custom(|iters| {
            batched(iters, &wire, |buf| {
                let h = smpp34::CommandHeader::decode(buf.get(..wire.len()).unwrap()).unwrap();
                let pdu = buf.get(..wire.len()).unwrap();
                if is_submit {
                    black_box(smpp34::submit_sm::decode(h, pdu).unwrap());
                } else {
                    black_box(smpp34::deliver_sm::decode(h, pdu).unwrap());
                }
                buf.advance(wire.len());
            })
        })
    });
    g.finish();

    let mut g = c.benchmark_group(format!("encode/{name}"));
    let mut out = BytesMut::with_capacity(1024);
    g.bench_function("smppd", |b| {
        b.iter(|| {
            out.clear();
            black_box(&pdu)
                .encode(7, CommandStatus::EsmeRok, &mut out)
                .unwrap();
            black_box(out.len())
        })
    });
    g.bench_function("rusmpp", |b| {
        b.iter(|| {
            out.clear();
            let cmd = black_box(&rusmpp_cmd);
            out.put_u32((4 + cmd.length()) as u32);
            cmd.encode(&mut out);
            black_box(out.len())
        })
    });
    match (is_submit, smpp34_submit, smpp34_deliver) {
        (true, Ok(p), _) => {
            assert_eq!(p.clone().encode(), wire.to_vec());
            g.bench_function("smpp34", |b| {
                b.iter_batched(|| p.clone(), |p| p.encode(), BatchSize::SmallInput)
            });
        }
        (false, _, Ok(p)) => {
            assert_eq!(p.clone().encode(), wire.to_vec());
            g.bench_function("smpp34", |b| {
                b.iter_batched(|| p.clone(), |p| p.encode(), BatchSize::SmallInput)
            });
        }
        _ => panic!("smpp34 could not decode the benchmark PDU"),
    }
    g.finish();
}

fn codec(c: &mut Criterion) {
    bench_pdu(c, "submit_sm_160", submit_160());
    bench_pdu(c, "deliver_sm_receipt", receipt());
}

criterion_group!(benches, codec);
criterion_main!(benches);
