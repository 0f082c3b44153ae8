//! Golden byte vectors written by hand from the SMPP 3.4 field tables (chapter 4), each
//! decoded to the expected fields and re-encoded to the same octets, plus the malformed
//! bodies a session must answer without dropping the link.

use bytes::{Bytes, BytesMut};
use smppd::codec::pdu::{Bind, SubmitSm};
use smppd::codec::{
    CommandId, CommandStatus, DecodeError, EsmClass, Frame, Framer, Npi, Pdu, Reason, Reply,
    ShortMessage, Tlv, TlvTag, Tlvs, Ton,
};

/// Hex with optional spaces and line breaks, as the vectors below are laid out field by field.
fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

fn frame(bytes: &[u8]) -> Frame {
    let mut buf = BytesMut::from(bytes);
    let f = Framer::default()
        .decode(&mut buf)
        .unwrap()
        .expect("a complete PDU");
    assert!(buf.is_empty(), "the vector must be exactly one PDU");
    f
}

fn decode(bytes: &[u8]) -> (Frame, Pdu) {
    let f = frame(bytes);
    let pdu = Pdu::decode(&f).unwrap();
    (f, pdu)
}

fn encode(pdu: &Pdu, seq: u32, status: CommandStatus) -> Vec<u8> {
    let mut out = BytesMut::new();
    pdu.encode(seq, status, &mut out).unwrap();
    out.to_vec()
}

fn decode_err(bytes: &[u8]) -> DecodeError {
    Pdu::decode(&frame(bytes)).unwrap_err()
}

fn addr(s: &str) -> smppd::codec::Addr21 {
    s.try_into().unwrap()
}

const BIND_TRANSCEIVER: &str = "
    0000002A 00000009 00000000 00000001
    736D7070636C69656E743100   -- system_id 'smppclient1'
    70617373776F726400         -- password 'password'
    00                         -- system_type ''
    34 00 00                   -- interface_version 0x34, addr_ton, addr_npi
    00                         -- address_range ''";

#[test]
fn bind_transceiver() {
    let bytes = vector(BIND_TRANSCEIVER);
    let (f, pdu) = decode(&bytes);
    assert_eq!(f.header.command_id, CommandId::BindTransceiver);
    assert_eq!(f.header.sequence_number, 1);
    let expected = Pdu::BindTransceiver(Bind {
        system_id: "smppclient1".try_into().unwrap(),
        password: "password".try_into().unwrap(),
        interface_version: 0x34,
        ..Bind::default()
    });
    assert_eq!(pdu, expected);
    assert_eq!(encode(&expected, 1, CommandStatus::EsmeRok), bytes);
}

/// Strips the `-- comment` annotations from a laid-out vector.
fn vector(s: &str) -> Vec<u8> {
    hex(&s
        .lines()
        .map(|l| l.split("--").next().unwrap_or(""))
        .collect::<String>())
}

fn hello_submit() -> SubmitSm {
    SubmitSm {
        source_addr_ton: Ton::International,
        source_addr_npi: Npi::Isdn,
        source_addr: addr("447700900123"),
        dest_addr_ton: Ton::International,
        dest_addr_npi: Npi::Isdn,
        destination_addr: addr("447700900456"),
        registered_delivery: 1,
        ..SubmitSm::default()
    }
}

#[test]
fn submit_sm_without_tlvs() {
    let bytes = vector(
        "0000003E 00000004 00000000 00000002
         00                            -- service_type ''
         01 01 34343737303039303031323300  -- source ton, npi, '447700900123'
         01 01 34343737303039303034353600  -- dest ton, npi, '447700900456'
         00 00 00                      -- esm_class, protocol_id, priority_flag
         00 00                         -- schedule_delivery_time, validity_period
         01 00 00 00                   -- registered_delivery, replace_if_present, data_coding, sm_default_msg_id
         05 48656C6C6F                 -- sm_length 5, 'Hello'",
    );
    let (_, pdu) = decode(&bytes);
    let expected = Pdu::SubmitSm(SubmitSm {
        short_message: ShortMessage::new(&b"Hello"[..]).unwrap(),
        ..hello_submit()
    });
    assert_eq!(pdu, expected);
    assert_eq!(encode(&expected, 2, CommandStatus::EsmeRok), bytes);
}

const SUBMIT_WITH_TLVS: &str = "
    00000048 00000004 00000000 00000003
    00 01 01 34343737303039303031323300 01 01 34343737303039303034353600
    00 00 00 00 00 01 00 00 00
    00                         -- sm_length 0: the text is in message_payload
    0424 0005 48656C6C6F       -- message_payload 'Hello'
    0204 0002 0007             -- user_message_reference 7";

#[test]
fn submit_sm_with_tlvs() {
    let bytes = vector(SUBMIT_WITH_TLVS);
    let (_, pdu) = decode(&bytes);
    let Pdu::SubmitSm(sm) = &pdu else {
        panic!("not submit_sm: {pdu:?}")
    };
    assert_eq!(sm.tlvs.message_payload(), Some(&b"Hello"[..]));
    assert_eq!(sm.tlvs.user_message_reference(), Some(7));
    let expected = Pdu::SubmitSm(SubmitSm {
        tlvs: Tlvs(vec![
            Tlv::message_payload(&b"Hello"[..]).unwrap(),
            Tlv::u16(TlvTag::UserMessageReference, 7).unwrap(),
        ]),
        ..hello_submit()
    });
    assert_eq!(pdu, expected);
    assert_eq!(encode(&expected, 3, CommandStatus::EsmeRok), bytes);
}

#[test]
fn deliver_sm_delivery_receipt() {
    let text = "id:abc123 sub:001 dlvrd:001 submit date:2611251200 done date:2611251201 stat:DELIVRD err:000 text:Hello";
    let bytes = vector(&format!(
        "000000B0 00000005 00000000 0000002A
         00 01 01 34343737303039303034353600 01 01 34343737303039303031323300
         04                        -- esm_class: SMSC delivery receipt
         00 00 00 00 00 00 00 00
         67 {}                     -- sm_length 103, the receipt text
         001E 0007 61626331323300  -- receipted_message_id 'abc123'
         0427 0001 02              -- message_state DELIVERED",
        text.bytes().map(|b| format!("{b:02X}")).collect::<String>()
    ));
    let (f, pdu) = decode(&bytes);
    assert_eq!(f.header.sequence_number, 0x2A);
    let Pdu::DeliverSm(d) = &pdu else {
        panic!("not deliver_sm: {pdu:?}")
    };
    assert!(d.esm_class.is_delivery_receipt());
    assert_eq!(d.esm_class, EsmClass(0x04));
    assert_eq!(d.source_addr.as_str(), Some("447700900456"));
    assert_eq!(d.short_message.as_bytes(), text.as_bytes());
    assert_eq!(d.tlvs.receipted_message_id(), Some(&b"abc123"[..]));
    assert_eq!(d.tlvs.message_state(), Some(2));
    assert_eq!(encode(&pdu, 0x2A, CommandStatus::EsmeRok), bytes);
}

#[test]
fn generic_nack() {
    let bytes = vector("00000010 80000000 00000003 00000005");
    let (f, pdu) = decode(&bytes);
    assert_eq!(pdu, Pdu::GenericNack);
    assert_eq!(f.header.command_status, CommandStatus::EsmeRinvcmdid);
    assert_eq!(encode(&pdu, 5, CommandStatus::EsmeRinvcmdid), bytes);
}

#[test]
fn body_less_submit_sm_resp_with_error_status() {
    let bytes = vector("00000010 80000004 00000045 00000007");
    let (f, pdu) = decode(&bytes);
    assert_eq!(pdu, Pdu::SubmitSmResp(None));
    assert_eq!(f.header.command_status, CommandStatus::EsmeRsubmitfail);
    assert_eq!(encode(&pdu, 7, CommandStatus::EsmeRsubmitfail), bytes);
}

#[test]
fn body_less_bind_resp_decodes() {
    let bytes = vector("00000010 80000009 0000000E 00000001");
    assert_eq!(decode(&bytes).1, Pdu::BindTransceiverResp(None));
}

#[test]
fn bind_resp_with_sc_interface_version() {
    let bytes = vector("0000001A 80000002 00000000 00000001 534D534300 0210 0001 34");
    let (_, pdu) = decode(&bytes);
    let Pdu::BindTransmitterResp(Some(r)) = &pdu else {
        panic!("{pdu:?}")
    };
    assert_eq!(r.system_id.as_str(), Some("SMSC"));
    assert_eq!(r.tlvs.sc_interface_version(), Some(0x34));
    assert_eq!(encode(&pdu, 1, CommandStatus::EsmeRok), bytes);
}

#[test]
fn unknown_command_id_is_nacked_with_rinvcmdid() {
    let e = decode_err(&vector("00000010 00000099 00000000 0000000B"));
    assert_eq!(e.reason, Reason::UnknownCommandId);
    assert_eq!(e.reply(), Reply::GenericNack(CommandStatus::EsmeRinvcmdid));
    assert_eq!(e.header.sequence_number, 11);
}

#[test]
fn source_addr_without_nul_answers_submit_sm_resp_rinvsrcadr() {
    // source_addr is 21 octets with no NUL: the field's maximum is 21 including the NUL.
    let bytes = vector(
        "0000002A 00000004 00000000 0000000C
         00 01 01 313131313131313131313131313131313131313131 00 00",
    );
    let e = decode_err(&bytes);
    assert_eq!((e.field, e.offset), ("source_addr", 19));
    assert_eq!(e.reason, Reason::MissingNul { max: 21 });
    assert_eq!(
        e.reply(),
        Reply::Response {
            command_id: CommandId::SubmitSmResp,
            command_status: CommandStatus::EsmeRinvsrcadr
        }
    );
    assert_eq!(e.to_string(), "submit_sm (sequence_number 12): source_addr at byte 19: no NUL terminator within the maximum of 21 octets");
}

#[test]
fn truncated_body_is_nacked_with_rinvcmdlen() {
    // enquire_link is header-only; a submit_sm that stops after esm_class is cut short.
    let bytes = vector("00000015 00000004 00000000 00000001 00 01 01 00 01");
    let e = decode_err(&bytes);
    assert_eq!((e.field, e.offset), ("dest_addr_npi", 21));
    assert!(matches!(
        e.reason,
        Reason::Truncated {
            needed: 1,
            available: 0
        }
    ));
    assert_eq!(e.reply(), Reply::GenericNack(CommandStatus::EsmeRinvcmdlen));
    let extra = decode_err(&vector("00000011 00000015 00000000 00000001 00"));
    assert_eq!(
        (extra.field, extra.offset, extra.reason),
        ("body", 16, Reason::TrailingBytes(1))
    );
}

#[test]
fn short_message_and_message_payload_together_is_rinvmsglen() {
    let mut bytes = vector(SUBMIT_WITH_TLVS);
    // Give the PDU a one-octet short_message as well: sm_length 1, 'X'.
    bytes.splice(56..57, [0x01, b'X']);
    bytes[3] += 1;
    let e = decode_err(&bytes);
    assert_eq!((e.field, e.offset), ("sm_length", 56));
    assert_eq!(e.reason, Reason::ShortMessageAndPayload(1));
    assert_eq!(e.status(), CommandStatus::EsmeRinvmsglen);
}

/// Found by the fuzz target: Pdu::decode_owned defers short_message, and the check that it is
/// not combined with message_payload once looked at the (still empty) deferred value.
#[test]
fn fuzz_regression_decode_owned_still_rejects_short_message_with_payload() {
    let bytes = vector(
        "00000048 00000004 00000000 00000003
         00 01 01 3434373730043333330400  -- service_type, source ton/npi/addr
         02 00 F2FFFFFFB7FFFFFF0400     -- dest ton/npi/addr
         00 00 00 00 00 00 03 00 01     -- esm_class .. sm_default_msg_id
         01 01                     -- sm_length 1, short_message 0x01
         0000 0000                 -- vendor TLV 0x0000, empty
         0424 0005 48656C6C6F      -- message_payload 'Hello'
         0204 0002 0007",
    );
    let f = frame(&bytes);
    let by_ref = Pdu::decode(&f).unwrap_err();
    assert_eq!(by_ref.reason, Reason::ShortMessageAndPayload(1));
    assert_eq!(f.into_pdu(), Err(by_ref));
}

#[test]
fn tlv_errors_map_to_their_statuses() {
    let base = vector(SUBMIT_WITH_TLVS);
    // user_message_reference with length 1: wrong length for a 2-octet TLV.
    let mut bad_len = base[..66].to_vec();
    bad_len.extend_from_slice(&[0x02, 0x04, 0x00, 0x01, 0x07]);
    bad_len[3] = bad_len.len() as u8;
    let e = decode_err(&bad_len);
    assert_eq!((e.field, e.offset), ("user_message_reference", 66));
    assert_eq!(e.status(), CommandStatus::EsmeRinvparlen);
    // A TLV whose length runs past the end of the PDU.
    let mut overrun = base[..66].to_vec();
    overrun.extend_from_slice(&[0x14, 0x00, 0x00, 0x09, 0x07]);
    overrun[3] = overrun.len() as u8;
    let e = decode_err(&overrun);
    assert_eq!(
        e.reason,
        Reason::TlvValueTruncated {
            tag: 0x1400,
            length: 9,
            available: 1
        }
    );
    assert_eq!(e.status(), CommandStatus::EsmeRinvoptparstream);
}

#[test]
fn vendor_tlvs_round_trip_byte_for_byte_in_order() {
    let mut bytes = vector(SUBMIT_WITH_TLVS);
    bytes.extend_from_slice(&[0x14, 0x01, 0x00, 0x03, 0xAA, 0xBB, 0xCC]);
    bytes[3] += 7;
    let (_, pdu) = decode(&bytes);
    let Pdu::SubmitSm(sm) = &pdu else { panic!() };
    let tags: Vec<TlvTag> = sm.tlvs.iter().map(Tlv::tag).collect();
    assert_eq!(
        tags,
        [
            TlvTag::MessagePayload,
            TlvTag::UserMessageReference,
            TlvTag::Other(0x1401)
        ]
    );
    assert_eq!(encode(&pdu, 3, CommandStatus::EsmeRok), bytes);
}

#[test]
fn malformed_requests_without_a_response_of_their_own_are_nacked() {
    // outbind whose system_id has no NUL within its 16 octets: SMPP 3.4 defines no
    // outbind_resp (0x8000000B), so the answer is generic_nack with the decode's status.
    let e = decode_err(&vector(
        "00000020 0000000B 00000000 00000007 31313131313131313131313131313131",
    ));
    assert_eq!(e.header.command_id, CommandId::Outbind);
    assert_eq!(e.reply(), Reply::GenericNack(e.status()));
    // alert_notification cut short after source_addr_ton: no alert_notification_resp either.
    let e = decode_err(&vector("00000011 00000102 00000000 00000008 01"));
    assert_eq!(e.header.command_id, CommandId::AlertNotification);
    assert!(
        matches!(e.reply(), Reply::GenericNack(_)),
        "{:?}",
        e.reply()
    );
}

#[test]
fn malformed_response_is_nacked_and_nack_is_never_answered() {
    let e = decode_err(&vector("00000012 80000004 00000000 00000001 4142"));
    assert_eq!(e.reply(), Reply::GenericNack(CommandStatus::EsmeRinvcmdlen));
    let e = decode_err(&vector("00000011 80000000 00000000 00000001 00"));
    assert_eq!(e.reply(), Reply::Nothing);
}

#[test]
fn encoding_refuses_what_the_spec_forbids() {
    assert!(smppd::codec::SystemId::try_from("sixteen-chars-id").is_err());
    let both = Pdu::SubmitSm(SubmitSm {
        short_message: ShortMessage::new(Bytes::from_static(b"x")).unwrap(),
        tlvs: Tlvs(vec![Tlv::message_payload(Bytes::from_static(b"y")).unwrap()]),
        ..SubmitSm::default()
    });
    assert!(both
        .encode(1, CommandStatus::EsmeRok, &mut BytesMut::new())
        .is_err());
}
