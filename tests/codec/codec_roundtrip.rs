//! Property tests over every PDU: decode(encode(x)) == x; for valid bytes
//! encode(decode(b)) == b (including bytes mutated at random that still decode); and arbitrary
//! bytes never panic the framer or the decoder.

use bytes::{Bytes, BytesMut};
use proptest::collection::vec;
use proptest::prelude::*;
use smppd::codec::pdu::*;
use smppd::codec::{
    COctetString, CommandStatus, DataCoding, EsmClass, Framer, Npi, Pdu, ShortMessage, SmppTime,
    Tlv, TlvKind, TlvTag, Tlvs, Ton,
};

fn c_octet<const N: usize>() -> impl Strategy<Value = COctetString<N>> {
    vec(1u8..=255, 0..N).prop_map(|v| COctetString::new(v).unwrap())
}

fn time() -> impl Strategy<Value = SmppTime> {
    let absolute = (
        0u8..100,
        1u8..=12,
        1u8..=31,
        0u8..24,
        0u8..60,
        0u8..60,
        0u8..10,
        0u8..=48,
        prop_oneof![Just('+'), Just('-')],
    )
        .prop_map(|(y, mo, d, h, mi, s, t, nn, p)| {
            format!("{y:02}{mo:02}{d:02}{h:02}{mi:02}{s:02}{t}{nn:02}{p}")
        });
    let relative = (0u64..1_000_000_000_000).prop_map(|v| format!("{v:012}000R"));
    prop_oneof![Just(String::new()), absolute, relative].prop_map(|s| SmppTime::new(s).unwrap())
}

fn ton() -> impl Strategy<Value = Ton> {
    any::<u8>().prop_map(Ton::from)
}

fn npi() -> impl Strategy<Value = Npi> {
    any::<u8>().prop_map(Npi::from)
}

fn short_message() -> impl Strategy<Value = ShortMessage> {
    vec(any::<u8>(), 0..=254).prop_map(|v| ShortMessage::new(v).unwrap())
}

/// Any TLV but message_payload (added separately, since it excludes short_message).
fn tlv() -> impl Strategy<Value = Tlv> {
    any::<u16>()
        .prop_filter("message_payload is generated apart", |t| *t != 0x0424)
        .prop_flat_map(|tag| {
            let (min, max) = TlvTag::from(tag)
                .kind()
                .map_or((0, 40), TlvKind::length_range);
            vec(any::<u8>(), usize::from(min)..=usize::from(max.min(40)))
                .prop_map(move |v| Tlv::new(tag, v).unwrap())
        })
}

fn tlvs() -> impl Strategy<Value = Tlvs> {
    vec(tlv(), 0..4).prop_map(Tlvs)
}

/// short_message and TLVs where message_payload is present only when short_message is empty.
fn message_and_tlvs() -> impl Strategy<Value = (ShortMessage, Tlvs)> {
    (
        short_message(),
        tlvs(),
        proptest::option::of(vec(any::<u8>(), 0..600)),
    )
        .prop_map(|(sm, mut t, payload)| {
            if let (true, Some(p)) = (sm.is_empty(), payload) {
                t.0.insert(0, Tlv::message_payload(p).unwrap());
            }
            (sm, t)
        })
}

prop_compose! {
    fn bind()(system_id in c_octet(), password in c_octet(), system_type in c_octet(), interface_version in any::<u8>(),
              addr_ton in ton(), addr_npi in npi(), address_range in c_octet()) -> Bind {
        Bind { system_id, password, system_type, interface_version, addr_ton, addr_npi, address_range }
    }
}

prop_compose! {
    pub fn submit_sm()(service_type in c_octet(), source_addr_ton in ton(), source_addr_npi in npi(), source_addr in c_octet(),
                   dest_addr_ton in ton(), dest_addr_npi in npi(), destination_addr in c_octet(), esm_class in any::<u8>(),
                   protocol_id in any::<u8>(), priority_flag in any::<u8>(), schedule_delivery_time in time(),
                   validity_period in time(), flags in any::<(u8, u8, u8, u8)>(), (short_message, tlvs) in message_and_tlvs()) -> SubmitSm {
        SubmitSm {
            service_type, source_addr_ton, source_addr_npi, source_addr, dest_addr_ton, dest_addr_npi, destination_addr,
            esm_class: EsmClass(esm_class), protocol_id, priority_flag, schedule_delivery_time, validity_period,
            registered_delivery: flags.0, replace_if_present_flag: flags.1, data_coding: DataCoding::from(flags.2),
            sm_default_msg_id: flags.3, short_message, tlvs,
        }
    }
}

fn dest_address() -> impl Strategy<Value = DestAddress> {
    prop_oneof![
        (ton(), npi(), c_octet()).prop_map(|(dest_addr_ton, dest_addr_npi, destination_addr)| {
            DestAddress::SmeAddress {
                dest_addr_ton,
                dest_addr_npi,
                destination_addr,
            }
        }),
        c_octet().prop_map(|dl_name| DestAddress::DistributionList { dl_name }),
    ]
}

fn submit_multi() -> impl Strategy<Value = SubmitMulti> {
    (submit_sm(), vec(dest_address(), 0..6)).prop_map(|(s, dest_addresses)| SubmitMulti {
        service_type: s.service_type,
        source_addr_ton: s.source_addr_ton,
        source_addr_npi: s.source_addr_npi,
        source_addr: s.source_addr,
        dest_addresses,
        esm_class: s.esm_class,
        protocol_id: s.protocol_id,
        priority_flag: s.priority_flag,
        schedule_delivery_time: s.schedule_delivery_time,
        validity_period: s.validity_period,
        registered_delivery: s.registered_delivery,
        replace_if_present_flag: s.replace_if_present_flag,
        data_coding: s.data_coding,
        sm_default_msg_id: s.sm_default_msg_id,
        short_message: s.short_message,
        tlvs: s.tlvs,
    })
}

fn unsuccess_sme() -> impl Strategy<Value = UnsuccessSme> {
    (ton(), npi(), c_octet(), any::<u32>()).prop_map(
        |(dest_addr_ton, dest_addr_npi, destination_addr, e)| UnsuccessSme {
            dest_addr_ton,
            dest_addr_npi,
            destination_addr,
            error_status_code: CommandStatus::from(e),
        },
    )
}

fn pdu() -> impl Strategy<Value = Pdu> {
    let bind_resp = || {
        proptest::option::of(
            (c_octet(), tlvs()).prop_map(|(system_id, tlvs)| BindResp { system_id, tlvs }),
        )
    };
    prop_oneof![
        Just(Pdu::GenericNack),
        Just(Pdu::Unbind),
        Just(Pdu::UnbindResp),
        Just(Pdu::EnquireLink),
        Just(Pdu::EnquireLinkResp),
        Just(Pdu::CancelSmResp),
        Just(Pdu::ReplaceSmResp),
        bind().prop_map(Pdu::BindTransmitter),
        bind().prop_map(Pdu::BindReceiver),
        bind().prop_map(Pdu::BindTransceiver),
        bind_resp().prop_map(Pdu::BindTransmitterResp),
        bind_resp().prop_map(Pdu::BindReceiverResp),
        bind_resp().prop_map(Pdu::BindTransceiverResp),
        (c_octet(), c_octet()).prop_map(|(system_id, password)| Pdu::Outbind(Outbind {
            system_id,
            password
        })),
        submit_sm().prop_map(Pdu::SubmitSm),
        submit_sm().prop_map(Pdu::DeliverSm),
        proptest::option::of(c_octet().prop_map(|message_id| SubmitSmResp { message_id }))
            .prop_map(Pdu::SubmitSmResp),
        proptest::option::of(c_octet().prop_map(|message_id| DeliverSmResp { message_id }))
            .prop_map(Pdu::DeliverSmResp),
        submit_multi().prop_map(Pdu::SubmitMulti),
        proptest::option::of((c_octet(), vec(unsuccess_sme(), 0..5)).prop_map(
            |(message_id, unsuccess_smes)| SubmitMultiResp {
                message_id,
                unsuccess_smes
            }
        ))
        .prop_map(Pdu::SubmitMultiResp),
        (submit_sm(), c_octet(), c_octet(), tlvs()).prop_map(
            |(s, source_addr, destination_addr, tlvs)| Pdu::DataSm(DataSm {
                service_type: s.service_type,
                source_addr_ton: s.source_addr_ton,
                source_addr_npi: s.source_addr_npi,
                source_addr,
                dest_addr_ton: s.dest_addr_ton,
                dest_addr_npi: s.dest_addr_npi,
                destination_addr,
                esm_class: s.esm_class,
                registered_delivery: s.registered_delivery,
                data_coding: s.data_coding,
                tlvs,
            })
        ),
        proptest::option::of(
            (c_octet(), tlvs()).prop_map(|(message_id, tlvs)| DataSmResp { message_id, tlvs })
        )
        .prop_map(Pdu::DataSmResp),
        (c_octet(), ton(), npi(), c_octet()).prop_map(
            |(message_id, source_addr_ton, source_addr_npi, source_addr)| Pdu::QuerySm(QuerySm {
                message_id,
                source_addr_ton,
                source_addr_npi,
                source_addr
            })
        ),
        proptest::option::of((c_octet(), time(), any::<u8>(), any::<u8>()).prop_map(
            |(message_id, final_date, message_state, error_code)| {
                QuerySmResp {
                    message_id,
                    final_date,
                    message_state,
                    error_code,
                }
            }
        ))
        .prop_map(Pdu::QuerySmResp),
        (submit_sm(), c_octet()).prop_map(|(s, message_id)| Pdu::CancelSm(CancelSm {
            service_type: s.service_type,
            message_id,
            source_addr_ton: s.source_addr_ton,
            source_addr_npi: s.source_addr_npi,
            source_addr: s.source_addr,
            dest_addr_ton: s.dest_addr_ton,
            dest_addr_npi: s.dest_addr_npi,
            destination_addr: s.destination_addr,
        })),
        (submit_sm(), c_octet(), short_message()).prop_map(|(s, message_id, short_message)| {
            Pdu::ReplaceSm(ReplaceSm {
                message_id,
                source_addr_ton: s.source_addr_ton,
                source_addr_npi: s.source_addr_npi,
                source_addr: s.source_addr,
                schedule_delivery_time: s.schedule_delivery_time,
                validity_period: s.validity_period,
                registered_delivery: s.registered_delivery,
                sm_default_msg_id: s.sm_default_msg_id,
                short_message,
            })
        }),
        (ton(), npi(), c_octet(), ton(), npi(), c_octet(), tlvs()).prop_map(
            |(
                source_addr_ton,
                source_addr_npi,
                source_addr,
                esme_addr_ton,
                esme_addr_npi,
                esme_addr,
                tlvs,
            )| {
                Pdu::AlertNotification(AlertNotification {
                    source_addr_ton,
                    source_addr_npi,
                    source_addr,
                    esme_addr_ton,
                    esme_addr_npi,
                    esme_addr,
                    tlvs,
                })
            }
        ),
    ]
}

fn encode(pdu: &Pdu, seq: u32, status: u32) -> BytesMut {
    let mut buf = BytesMut::new();
    pdu.encode(seq, CommandStatus::from(status), &mut buf)
        .unwrap();
    buf
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn decode_of_encode_is_identity(pdu in pdu(), seq in any::<u32>(), status in any::<u32>()) {
        let mut buf = encode(&pdu, seq, status);
        let len = buf.len();
        let frame = Framer::new(1 << 20).decode(&mut buf).unwrap().unwrap();
        prop_assert_eq!(frame.header.command_length as usize, len);
        prop_assert_eq!(frame.header.command_id, pdu.command_id());
        prop_assert_eq!(frame.header.sequence_number, seq);
        prop_assert_eq!(frame.header.command_status.value(), status);
        prop_assert_eq!(Pdu::decode(&frame).unwrap(), pdu.clone());
        prop_assert_eq!(frame.into_pdu().unwrap(), pdu);
    }

    #[test]
    fn encode_of_decode_is_identity_even_after_mutation(pdu in pdu(), at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut bytes = encode(&pdu, 1, 0).to_vec();
        // Mutate one body octet (the header's length must stay truthful to stay one frame).
        if bytes.len() > 16 {
            let i = 16 + at.index(bytes.len() - 16);
            bytes[i] = byte;
        }
        let mut buf = BytesMut::from(&bytes[..]);
        let frame = Framer::new(1 << 20).decode(&mut buf).unwrap().unwrap();
        let by_ref = Pdu::decode(&frame);
        prop_assert_eq!(&by_ref, &frame.clone().into_pdu(), "decode and decode_owned must agree");
        if let Ok(decoded) = by_ref {
            prop_assert_eq!(&encode(&decoded, 1, 0)[..], &bytes[..]);
        }
    }

    #[test]
    fn encode_submit_writes_the_same_octets_as_the_pdu(submit in submit_sm(), seq in any::<u32>()) {
        let mut direct = BytesMut::from(&b"kept"[..]);
        let via_pdu = Pdu::SubmitSm(submit.clone()).encode(seq, CommandStatus::EsmeRok, &mut BytesMut::new());
        let result = submit.encode_submit(seq, &mut direct);
        prop_assert_eq!(result.is_ok(), via_pdu.is_ok());
        if result.is_ok() {
            prop_assert_eq!(&direct[4..], &encode(&Pdu::SubmitSm(submit), seq, 0)[..]);
        } else {
            prop_assert_eq!(&direct[..], b"kept", "a refused encode leaves the buffer as it was");
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..600), chunk in 1usize..64) {
        let framer = Framer::new(512);
        let mut buf = BytesMut::new();
        for piece in bytes.chunks(chunk) {
            buf.extend_from_slice(piece);
            while let Ok(Some(frame)) = framer.decode(&mut buf) {
                let _ = Pdu::decode(&frame);
            }
        }
    }

    #[test]
    fn arbitrary_bodies_under_every_command_id_never_panic(id in prop::sample::select(&[
        1u32, 2, 3, 4, 5, 6, 7, 8, 9, 0xB, 0x15, 0x21, 0x102, 0x103, 0x8000_0000, 0x8000_0001, 0x8000_0002, 0x8000_0003,
        0x8000_0004, 0x8000_0005, 0x8000_0006, 0x8000_0007, 0x8000_0008, 0x8000_0009, 0x8000_0015, 0x8000_0021, 0x8000_0103,
    ][..]), body in vec(any::<u8>(), 0..300)) {
        let mut bytes = Vec::with_capacity(16 + body.len());
        bytes.extend_from_slice(&((16 + body.len()) as u32).to_be_bytes());
        bytes.extend_from_slice(&id.to_be_bytes());
        bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
        bytes.extend_from_slice(&body);
        let frame = Framer::default().decode(&mut BytesMut::from(&bytes[..])).unwrap().unwrap();
        if let Ok(pdu) = Pdu::decode(&frame) {
            prop_assert_eq!(&encode(&pdu, 1, 0)[..], &bytes[..]);
        } else {
            let e = Pdu::decode(&frame).unwrap_err();
            prop_assert!(e.offset >= 4 && e.offset <= bytes.len());
            let _ = e.reply();
        }
    }
}

#[test]
fn decoding_shares_the_frame_memory() {
    let pdu = Pdu::SubmitSm(SubmitSm {
        short_message: ShortMessage::new(Bytes::from_static(b"zero copy")).unwrap(),
        ..SubmitSm::default()
    });
    let mut buf = encode(&pdu, 1, 0);
    let frame = Framer::default().decode(&mut buf).unwrap().unwrap();
    let Ok(Pdu::SubmitSm(sm)) = Pdu::decode(&frame) else {
        panic!()
    };
    let body = frame.body.as_ptr_range();
    assert!(
        body.contains(&sm.short_message.as_bytes().as_ptr()),
        "short_message must point into the frame"
    );
}
