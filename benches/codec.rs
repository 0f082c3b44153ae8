//! Decode and encode of a 160-character submit_sm and of a deliver_sm delivery receipt, each
//! beside the same operation in rusmpp and smpp34, in the same run.
//!
//! Every contender starts from the same octets: decoders from one reused read buffer into which
//! the PDU is appended each iteration (the decoded value is dropped inside the timed loop),
//! encoders from an already built PDU into a reused buffer (smpp34's `encode(self) -> Vec<u8>` takes its PDU by value,
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

    // Each decoder reads from one reused read buffer, as a session does: the PDU's octets are
    // appended (the "socket read", identical for all three), decoded, and the result dropped,
    // all inside the timed loop.
    let mut g = c.benchmark_group(format!("decode/{name}"));
    let mut buf = BytesMut::with_capacity(4096);
    g.bench_function("smppd", |b| {
        b.iter(|| {
            buf.extend_from_slice(black_box(&wire));
            let frame = framer.decode(&mut buf).unwrap().unwrap();
            black_box(Pdu::decode(&frame).unwrap());
        })
    });
    g.bench_function("rusmpp", |b| {
        b.iter(|| {
            buf.extend_from_slice(black_box(&wire));
            let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
            buf.advance(4);
            black_box(rusmpp::Command::decode(&mut buf, len - 4).unwrap().0);
        })
    });
    if is_submit {
        g.bench_function("smpp34", |b| {
            b.iter(|| {
                buf.extend_from_slice(black_box(&wire));
                let h = smpp34::CommandHeader::decode(&buf).unwrap();
                black_box(smpp34::submit_sm::decode(h, &buf).unwrap());
                buf.clear();
            })
        });
    } else {
        g.bench_function("smpp34", |b| {
            b.iter(|| {
                buf.extend_from_slice(black_box(&wire));
                let h = smpp34::CommandHeader::decode(&buf).unwrap();
                black_box(smpp34::deliver_sm::decode(h, &buf).unwrap());
                buf.clear();
            })
        });
    }
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
