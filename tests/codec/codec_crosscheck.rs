//! Cross-checks against two independent SMPP implementations over randomly generated
//! submit_sm, deliver_sm (delivery receipts) and bind PDUs:
//! * rusmpp 0.4: smppd's octets decode in rusmpp to the same fields, and rusmpp re-encodes
//!   them to the same octets, which smppd decodes back to the original PDU.
//! * smpp34 1.5: smppd's octets decode in smpp34 to the same fields; PDUs built and encoded by
//!   smpp34 are byte-identical to smppd's and decode in smppd to the same fields. (smpp34 has
//!   no public constructor for binds, so binds are checked in one direction only.)

use bytes::{BufMut, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;
use rusmpp::decode::DecodeWithLength;
use rusmpp::encode::{owned::Encode, Length};
use smppd::codec::pdu::{Bind, SubmitSm};
use smppd::codec::{
    COctetString, CommandStatus, DataCoding, EsmClass, Framer, Npi, Pdu, ShortMessage, SmppTime,
    Tlv, TlvTag, Tlvs, Ton,
};

fn ascii<const N: usize>() -> impl Strategy<Value = COctetString<N>> {
    vec(0x20u8..0x7F, 0..N).prop_map(|v| COctetString::new(v).unwrap())
}

fn time() -> impl Strategy<Value = SmppTime> {
    prop_oneof![
        Just(SmppTime::unset()),
        (0u8..100, 1u8..=12, 1u8..=28, 0u8..24, 0u8..60).prop_map(|(y, mo, d, h, mi)| {
            SmppTime::new(format!("{y:02}{mo:02}{d:02}{h:02}{mi:02}00004+")).unwrap()
        }),
        (0u32..100_000).prop_map(|v| SmppTime::new(format!("0000{v:08}000R")).unwrap()),
    ]
}

/// TLVs an ESME commonly sends, with valid values, plus a vendor TLV kept verbatim.
fn submit_tlv() -> impl Strategy<Value = Tlv> {
    prop_oneof![
        any::<u16>().prop_map(|v| Tlv::u16(TlvTag::SarMsgRefNum, v).unwrap()),
        any::<u8>().prop_map(|v| Tlv::u8(TlvTag::SarTotalSegments, v).unwrap()),
        any::<u8>().prop_map(|v| Tlv::u8(TlvTag::SarSegmentSeqnum, v).unwrap()),
        any::<u16>().prop_map(|v| Tlv::u16(TlvTag::UserMessageReference, v).unwrap()),
        any::<u16>().prop_map(|v| Tlv::u16(TlvTag::SourcePort, v).unwrap()),
        any::<u16>().prop_map(|v| Tlv::u16(TlvTag::DestinationPort, v).unwrap()),
        vec(any::<u8>(), 0..8).prop_map(|v| Tlv::new(TlvTag::Other(0x1400), v).unwrap()),
    ]
}

fn receipt_tlvs() -> impl Strategy<Value = Tlvs> {
    (vec(b'0'..=b'z', 1..20), 1u8..=8, any::<u16>()).prop_map(|(mut id, state, err)| {
        id.retain(u8::is_ascii_alphanumeric);
        id.push(0);
        Tlvs(vec![
            Tlv::new(TlvTag::ReceiptedMessageId, id).unwrap(),
            Tlv::u8(TlvTag::MessageState, state).unwrap(),
            Tlv::new(
                TlvTag::NetworkErrorCode,
                vec![3, (err >> 8) as u8, err as u8],
            )
            .unwrap(),
        ])
    })
}

prop_compose! {
    fn submit_sm()(service_type in ascii(), source_addr_ton in 0u8..7, source_addr_npi in prop::sample::select(&[0u8, 1, 3, 4, 6, 8, 9, 10, 14, 18][..]),
                   source_addr in ascii(), dest_addr_ton in 0u8..7, dest_addr_npi in prop::sample::select(&[0u8, 1, 8, 9][..]),
                   destination_addr in ascii(), esm_class in prop::sample::select(&[0u8, 1, 2, 3, 0x40, 0x43, 0x80][..]),
                   protocol_id in any::<u8>(), priority_flag in 0u8..4, schedule_delivery_time in time(), validity_period in time(),
                   registered_delivery in 0u8..4, replace_if_present_flag in 0u8..2, data_coding in prop::sample::select(&[0u8, 1, 2, 3, 4, 8][..]),
                   short_message in vec(any::<u8>(), 0..=254), tlvs in vec(submit_tlv(), 0..4)) -> SubmitSm {
        SubmitSm {
            service_type, source_addr_ton: source_addr_ton.into(), source_addr_npi: source_addr_npi.into(), source_addr,
            dest_addr_ton: dest_addr_ton.into(), dest_addr_npi: dest_addr_npi.into(), destination_addr, esm_class: EsmClass(esm_class),
            protocol_id, priority_flag, schedule_delivery_time, validity_period, registered_delivery, replace_if_present_flag,
            data_coding: DataCoding::from(data_coding), sm_default_msg_id: 0,
            short_message: ShortMessage::new(short_message).unwrap(), tlvs: Tlvs(tlvs),
        }
    }
}

prop_compose! {
    fn receipt()(sm in submit_sm(), text in vec(0x20u8..0x7F, 0..=160), tlvs in receipt_tlvs()) -> SubmitSm {
        SubmitSm {
            esm_class: EsmClass(EsmClass::DELIVERY_RECEIPT),
            schedule_delivery_time: SmppTime::unset(),
            validity_period: SmppTime::unset(),
            replace_if_present_flag: 0,
            short_message: ShortMessage::new(text).unwrap(),
            tlvs,
            ..sm
        }
    }
}

prop_compose! {
    fn bind()(system_id in ascii(), password in ascii(), system_type in ascii(), addr_ton in 0u8..7, addr_npi in 0u8..2,
              address_range in ascii()) -> Bind {
        Bind { system_id, password, system_type, interface_version: 0x34, addr_ton: Ton::from(addr_ton), addr_npi: Npi::from(addr_npi), address_range }
    }
}

fn encode(pdu: &Pdu, seq: u32) -> Vec<u8> {
    let mut buf = BytesMut::new();
    pdu.encode(seq, CommandStatus::EsmeRok, &mut buf).unwrap();
    buf.to_vec()
}

fn decode(bytes: &[u8]) -> Pdu {
    let frame = Framer::default()
        .decode(&mut BytesMut::from(bytes))
        .unwrap()
        .unwrap();
    Pdu::decode(&frame).unwrap()
}

fn rusmpp_decode(bytes: &[u8]) -> rusmpp::Command {
    let mut src = BytesMut::from(&bytes[4..]);
    let (cmd, used) = rusmpp::Command::decode(&mut src, bytes.len() - 4).unwrap();
    assert_eq!(used, bytes.len() - 4);
    cmd
}

fn rusmpp_encode(cmd: &rusmpp::Command) -> Vec<u8> {
    let mut dst = BytesMut::with_capacity(4 + cmd.length());
    dst.put_u32((4 + cmd.length()) as u32);
    cmd.encode(&mut dst);
    dst.to_vec()
}

fn tlv_bytes(tlvs: &Tlvs) -> Vec<u8> {
    let mut v = Vec::new();
    for t in tlvs.iter() {
        v.extend_from_slice(&t.tag().value().to_be_bytes());
        v.extend_from_slice(&(t.value().len() as u16).to_be_bytes());
        v.extend_from_slice(t.value());
    }
    v
}

fn rusmpp_tlv_bytes(tlvs: &[rusmpp::tlvs::Tlv]) -> Vec<u8> {
    let mut dst = BytesMut::new();
    for t in tlvs {
        t.encode(&mut dst);
    }
    dst.to_vec()
}

fn s<const N: usize>(c: &COctetString<N>) -> &str {
    c.as_str().unwrap()
}

fn t(c: &SmppTime) -> &str {
    c.as_c_octet().as_str().unwrap()
}

/// The mandatory fields of submit_sm/deliver_sm in a shape both peers can be compared with.
#[derive(Debug, PartialEq)]
struct SmFields<'a> {
    service_type: &'a str,
    source: (u8, u8, &'a str),
    dest: (u8, u8, &'a str),
    esm_protocol_priority: (u8, u8, u8),
    times: (&'a str, &'a str),
    flags: (u8, u8, u8, u8),
    short_message: &'a [u8],
}

fn ours(sm: &SubmitSm) -> SmFields<'_> {
    SmFields {
        service_type: s(&sm.service_type),
        source: (
            sm.source_addr_ton.value(),
            sm.source_addr_npi.value(),
            s(&sm.source_addr),
        ),
        dest: (
            sm.dest_addr_ton.value(),
            sm.dest_addr_npi.value(),
            s(&sm.destination_addr),
        ),
        esm_protocol_priority: (sm.esm_class.0, sm.protocol_id, sm.priority_flag),
        times: (t(&sm.schedule_delivery_time), t(&sm.validity_period)),
        flags: (
            sm.registered_delivery,
            sm.replace_if_present_flag,
            sm.data_coding.value(),
            sm.sm_default_msg_id,
        ),
        short_message: sm.short_message.as_bytes(),
    }
}

macro_rules! rusmpp_fields {
    ($r:expr) => {
        SmFields {
            service_type: $r.service_type.value().as_str(),
            source: (
                u8::from($r.source_addr_ton),
                u8::from($r.source_addr_npi),
                $r.source_addr.as_str(),
            ),
            dest: (
                u8::from($r.dest_addr_ton),
                u8::from($r.dest_addr_npi),
                $r.destination_addr.as_str(),
            ),
            esm_protocol_priority: (
                u8::from($r.esm_class),
                $r.protocol_id,
                u8::from($r.priority_flag),
            ),
            times: (
                $r.schedule_delivery_time.as_str(),
                $r.validity_period.as_str(),
            ),
            flags: (
                u8::from($r.registered_delivery),
                u8::from($r.replace_if_present_flag),
                u8::from($r.data_coding),
                $r.sm_default_msg_id,
            ),
            short_message: AsRef::<[u8]>::as_ref($r.short_message()),
        }
    };
}

macro_rules! smpp34_fields {
    ($p:expr) => {
        SmFields {
            service_type: &$p.service_type,
            source: ($p.source_addr_ton, $p.source_addr_npi, &$p.source_addr),
            dest: ($p.dest_addr_ton, $p.dest_addr_npi, &$p.destination_addr),
            esm_protocol_priority: ($p.esm_class, $p.protocol_id, $p.priority_flag),
            times: (&$p.schedule_delivery_time, &$p.validity_period),
            flags: (
                $p.registered_delivery,
                $p.replace_if_present_flag,
                $p.data_coding,
                $p.sm_default_msg_id,
            ),
            short_message: &$p.short_message,
        }
    };
}

fn smpp34_tlvs(tlvs: &Tlvs) -> Vec<smpp34::Tlv> {
    tlvs.iter()
        .map(|t| smpp34::Tlv {
            tag: t.tag().value(),
            value: t.value().to_vec(),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn submit_sm_agrees_with_rusmpp(sm in submit_sm(), seq in 1u32..0x7FFF_FFFF) {
        let bytes = encode(&Pdu::SubmitSm(sm.clone()), seq);
        let cmd = rusmpp_decode(&bytes);
        prop_assert_eq!(cmd.sequence_number(), seq);
        let Some(rusmpp::Pdu::SubmitSm(r)) = cmd.pdu() else { panic!("rusmpp decoded {cmd:?}") };
        prop_assert_eq!(rusmpp_fields!(r), ours(&sm));
        prop_assert_eq!(rusmpp_tlv_bytes(r.tlvs()), tlv_bytes(&sm.tlvs));
        let theirs = rusmpp_encode(&cmd);
        prop_assert_eq!(&theirs, &bytes);
        prop_assert_eq!(decode(&theirs), Pdu::SubmitSm(sm));
    }

    #[test]
    fn deliver_sm_receipt_agrees_with_rusmpp(d in receipt(), seq in 1u32..0x7FFF_FFFF) {
        let bytes = encode(&Pdu::DeliverSm(d.clone()), seq);
        let cmd = rusmpp_decode(&bytes);
        let Some(rusmpp::Pdu::DeliverSm(r)) = cmd.pdu() else { panic!("rusmpp decoded {cmd:?}") };
        prop_assert_eq!(rusmpp_fields!(r), ours(&d));
        prop_assert_eq!(rusmpp_tlv_bytes(r.tlvs()), tlv_bytes(&d.tlvs));
        let theirs = rusmpp_encode(&cmd);
        prop_assert_eq!(&theirs, &bytes);
        prop_assert_eq!(decode(&theirs), Pdu::DeliverSm(d));
    }

    #[test]
    fn bind_agrees_with_rusmpp(b in bind(), seq in 1u32..0x7FFF_FFFF) {
        let bytes = encode(&Pdu::BindTransceiver(b.clone()), seq);
        let cmd = rusmpp_decode(&bytes);
        let Some(rusmpp::Pdu::BindTransceiver(r)) = cmd.pdu() else { panic!("rusmpp decoded {cmd:?}") };
        prop_assert_eq!(
            (r.system_id.as_str(), r.password.as_str(), r.system_type.as_str(), u8::from(r.interface_version)),
            (s(&b.system_id), s(&b.password), s(&b.system_type), b.interface_version)
        );
        prop_assert_eq!(
            (u8::from(r.addr_ton), u8::from(r.addr_npi), r.address_range.as_str()),
            (b.addr_ton.value(), b.addr_npi.value(), s(&b.address_range))
        );
        let theirs = rusmpp_encode(&cmd);
        prop_assert_eq!(&theirs, &bytes);
        prop_assert_eq!(decode(&theirs), Pdu::BindTransceiver(b));
    }

    #[test]
    fn submit_sm_agrees_with_smpp34(sm in submit_sm(), seq in 1u32..0x7FFF_FFFF) {
        let bytes = encode(&Pdu::SubmitSm(sm.clone()), seq);
        let header = smpp34::CommandHeader::decode(&bytes).unwrap();
        prop_assert_eq!((header.command_length as usize, header.sequence_number), (bytes.len(), seq));
        let p = smpp34::submit_sm::decode(header, &bytes).unwrap();
        prop_assert_eq!(smpp34_fields!(p), ours(&sm));
        prop_assert_eq!(&p.tlvs, &smpp34_tlvs(&sm.tlvs));

        let built = smpp34::submit_sm::new(
            seq, p.service_type.clone(), p.source_addr_ton, p.source_addr_npi, p.source_addr.clone(), p.dest_addr_ton,
            p.dest_addr_npi, p.destination_addr.clone(), p.esm_class, p.protocol_id, p.priority_flag,
            p.schedule_delivery_time.clone(), p.validity_period.clone(), p.registered_delivery, p.replace_if_present_flag,
            p.data_coding, p.sm_default_msg_id, p.short_message.clone(),
        ).with_tlvs(smpp34_tlvs(&sm.tlvs));
        let theirs = built.encode();
        prop_assert_eq!(&theirs, &bytes);
        prop_assert_eq!(decode(&theirs), Pdu::SubmitSm(sm));
    }

    #[test]
    fn deliver_sm_receipt_agrees_with_smpp34(d in receipt(), seq in 1u32..0x7FFF_FFFF) {
        let bytes = encode(&Pdu::DeliverSm(d.clone()), seq);
        let header = smpp34::CommandHeader::decode(&bytes).unwrap();
        let p = smpp34::deliver_sm::decode(header, &bytes).unwrap();
        prop_assert_eq!(smpp34_fields!(p), ours(&d));
        prop_assert_eq!(&p.tlvs, &smpp34_tlvs(&d.tlvs));

        let built = smpp34::deliver_sm::new(
            seq, p.service_type.clone(), p.source_addr_ton, p.source_addr_npi, p.source_addr.clone(), p.dest_addr_ton,
            p.dest_addr_npi, p.destination_addr.clone(), p.esm_class, p.protocol_id, p.priority_flag,
            p.schedule_delivery_time.clone(), p.validity_period.clone(), p.registered_delivery, p.replace_if_present_flag,
            p.data_coding, p.sm_default_msg_id, p.short_message.clone(),
        ).with_tlvs(smpp34_tlvs(&d.tlvs));
        let theirs = built.encode();
        prop_assert_eq!(&theirs, &bytes);
        prop_assert_eq!(decode(&theirs), Pdu::DeliverSm(d));
    }

    #[test]
    fn bind_decodes_the_same_in_smpp34(b in bind(), seq in 1u32..0x7FFF_FFFF) {
        let bytes = encode(&Pdu::BindTransceiver(b.clone()), seq);
        let header = smpp34::CommandHeader::decode(&bytes).unwrap();
        let p = smpp34::bind_transceiver::decode(header, &bytes).unwrap();
        prop_assert_eq!(
            (p.system_id.as_str(), p.password.as_str(), p.system_type.as_str(), p.interface_version),
            (s(&b.system_id), s(&b.password), s(&b.system_type), b.interface_version)
        );
        prop_assert_eq!(
            (p.addr_ton, p.addr_npi, p.address_range.as_str()),
            (b.addr_ton.value(), b.addr_npi.value(), s(&b.address_range))
        );
    }
}
