//! The server core's rules, driven by the in-memory [`Client`] on a hand-advanced clock.

use std::time::Duration;

use bytes::{BufMut, BytesMut};

use crate::codec::pdu::{CancelSm, DataSm, DeliverSmResp, QuerySm};
use crate::codec::{COctetString, CommandId, CommandStatus, MessageState, Pdu, SmppTime};

use super::client::{bind_pdu, encode, params, submit_pdu, Client};
use super::{
    BindMode, CloseReason, DeliverRefused, QueryAnswer, ServerEvent, ServerParams, Submitted,
};

use CommandStatus as S;

fn closed(reason: CloseReason) -> ServerEvent {
    ServerEvent::Closed { reason }
}

#[test]
fn an_accepted_bind_is_answered_with_our_system_id() {
    let mut c = Client::new(params());
    let seq = c.send(&bind_pdu(BindMode::Transceiver));
    let events = c.events();
    let [ServerEvent::BindRequested {
        token,
        mode,
        system_id,
        password,
        interface_version,
    }] = events.as_slice()
    else {
        panic!("expected a bind request: {events:?}");
    };
    assert_eq!(*mode, BindMode::Transceiver);
    assert_eq!(system_id, "esme");
    assert_eq!(password.expose(), "secret");
    assert_eq!(*interface_version, 0x34);
    assert!(
        !format!("{events:?}").contains("secret"),
        "the password never shows"
    );
    assert!(
        c.received().is_empty(),
        "nothing is answered before the daemon"
    );
    c.server.answer_bind(*token, Ok(()), c.now);
    let frames = c.received();
    let [resp] = frames.as_slice() else {
        panic!("{frames:?}")
    };
    assert_eq!(resp.header.command_id, CommandId::BindTransceiverResp);
    assert_eq!(resp.header.command_status, S::EsmeRok);
    assert_eq!(resp.header.sequence_number, seq);
    let Ok(Pdu::BindTransceiverResp(Some(body))) = resp.pdu() else {
        panic!("{resp:?}")
    };
    assert_eq!(body.system_id.as_bytes(), b"smppd-test");
    assert_eq!(body.tlvs.sc_interface_version(), Some(0x34));
    assert!(c.server.can_deliver());
}

#[test]
fn a_refused_bind_leaves_the_connection_open_for_another() {
    let mut c = Client::new(params());
    c.send(&bind_pdu(BindMode::Transmitter));
    let token = c.token();
    c.server.answer_bind(token, Err(S::EsmeRinvpaswd), c.now);
    assert_eq!(
        c.one(),
        (CommandId::BindTransmitterResp, S::EsmeRinvpaswd, 1)
    );
    // Answering again does nothing.
    c.server.answer_bind(token, Ok(()), c.now);
    assert!(c.received().is_empty());
    assert!(!c.server.is_closed());
    c.bind(BindMode::Transmitter);
    // ESME_ROK as an error reads as a failed bind, never as success.
    let mut c = Client::new(params());
    c.send(&bind_pdu(BindMode::Receiver));
    let token = c.token();
    c.server.answer_bind(token, Err(S::EsmeRok), c.now);
    assert_eq!(c.one().1, S::EsmeRbindfail);
}

#[test]
fn a_second_bind_is_refused_while_one_is_pending_or_bound() {
    let mut c = Client::new(params());
    c.send(&bind_pdu(BindMode::Transmitter));
    let token = c.token();
    let seq = c.send(&bind_pdu(BindMode::Receiver));
    assert_eq!(c.one(), (CommandId::BindReceiverResp, S::EsmeRalybnd, seq));
    assert!(c.events().is_empty(), "only one bind goes to the daemon");
    c.server.answer_bind(token, Ok(()), c.now);
    assert_eq!(c.one().0, CommandId::BindTransmitterResp);
    let seq = c.send(&bind_pdu(BindMode::Transceiver));
    assert_eq!(
        c.one(),
        (CommandId::BindTransceiverResp, S::EsmeRalybnd, seq)
    );
    assert!(c.events().is_empty());
}

#[test]
fn requests_before_a_bind_are_in_the_wrong_state() {
    let mut c = Client::new(params());
    let seq = c.send(&submit_pdu("early"));
    assert_eq!(c.one(), (CommandId::SubmitSmResp, S::EsmeRinvbndsts, seq));
    let seq = c.send(&Pdu::DataSm(DataSm::default()));
    assert_eq!(c.one(), (CommandId::DataSmResp, S::EsmeRinvbndsts, seq));
    let seq = c.send(&Pdu::QuerySm(QuerySm::default()));
    assert_eq!(c.one(), (CommandId::QuerySmResp, S::EsmeRinvbndsts, seq));
    let seq = c.send(&Pdu::Unbind);
    assert_eq!(c.one(), (CommandId::UnbindResp, S::EsmeRinvbndsts, seq));
    // Still before the daemon has answered the bind.
    c.send(&bind_pdu(BindMode::Transmitter));
    c.token();
    let seq = c.send(&submit_pdu("pending"));
    assert_eq!(c.one(), (CommandId::SubmitSmResp, S::EsmeRinvbndsts, seq));
    assert!(c.events().is_empty());
    assert!(!c.server.is_closed());
}

#[test]
fn a_receiver_may_not_submit_or_query() {
    let mut c = Client::new(params());
    c.bind(BindMode::Receiver);
    let seq = c.send(&submit_pdu("no"));
    assert_eq!(c.one(), (CommandId::SubmitSmResp, S::EsmeRinvbndsts, seq));
    let seq = c.send(&Pdu::QuerySm(QuerySm::default()));
    assert_eq!(c.one(), (CommandId::QuerySmResp, S::EsmeRinvbndsts, seq));
    assert!(c.events().is_empty());
}

#[test]
fn a_submit_is_answered_with_the_daemons_message_id_in_answer_order() {
    let mut c = Client::new(params());
    c.bind(BindMode::Transmitter);
    let first = c.send(&submit_pdu("one"));
    let events = c.events();
    let [ServerEvent::Submit {
        token: one,
        message: Submitted::SubmitSm(sm),
    }] = events.as_slice()
    else {
        panic!("{events:?}")
    };
    assert_eq!(sm.short_message.as_bytes(), b"one");
    let second = c.send(&submit_pdu("two"));
    let two = c.token();
    assert!(c.received().is_empty());
    // Answered in the other order: the responses follow the answers.
    c.server.answer_submit(two, Ok("id-2".into()), c.now);
    c.server.answer_submit(*one, Err(S::EsmeRinvdstadr), c.now);
    let frames = c.received();
    let [a, b] = frames.as_slice() else {
        panic!("{frames:?}")
    };
    assert_eq!(a.header.sequence_number, second);
    assert_eq!(a.header.command_status, S::EsmeRok);
    let Ok(Pdu::SubmitSmResp(Some(body))) = a.pdu() else {
        panic!("{a:?}")
    };
    assert_eq!(body.message_id.as_bytes(), b"id-2");
    assert_eq!(b.header.sequence_number, first);
    assert_eq!(b.header.command_status, S::EsmeRinvdstadr);
    // Tokens are answered once; a query answer for a submit token does nothing.
    c.server.answer_submit(two, Ok("again".into()), c.now);
    c.server.answer_query(two, Err(S::EsmeRqueryfail), c.now);
    assert!(c.received().is_empty());
}

#[test]
fn an_unsendable_message_id_is_a_system_error_not_a_silence() {
    let mut c = Client::new(params());
    c.bind(BindMode::Transmitter);
    let seq = c.send(&submit_pdu("x"));
    let token = c.token();
    c.server.answer_submit(token, Ok("x".repeat(65)), c.now);
    assert_eq!(c.one(), (CommandId::SubmitSmResp, S::EsmeRsyserr, seq));
}

#[test]
fn a_data_sm_is_answered_with_data_sm_resp() {
    let mut c = Client::new(params());
    c.bind(BindMode::Transceiver);
    let seq = c.send(&Pdu::DataSm(DataSm {
        destination_addr: COctetString::new("4479").unwrap(),
        ..DataSm::default()
    }));
    let events = c.events();
    let [ServerEvent::Submit {
        token,
        message: Submitted::DataSm(sm),
    }] = events.as_slice()
    else {
        panic!("{events:?}")
    };
    assert_eq!(sm.destination_addr.as_bytes(), b"4479");
    c.server.answer_submit(*token, Ok("d1".into()), c.now);
    let frames = c.received();
    let [resp] = frames.as_slice() else {
        panic!("{frames:?}")
    };
    assert_eq!(resp.header.sequence_number, seq);
    let Ok(Pdu::DataSmResp(Some(body))) = resp.pdu() else {
        panic!("{resp:?}")
    };
    assert_eq!(body.message_id.as_bytes(), b"d1");
}

#[test]
fn a_query_is_answered_with_the_state_the_daemon_knows() {
    let mut c = Client::new(params());
    c.bind(BindMode::Transmitter);
    let seq = c.send(&Pdu::QuerySm(QuerySm {
        message_id: COctetString::new("m-7").unwrap(),
        source_addr: COctetString::new("100").unwrap(),
        ..QuerySm::default()
    }));
    let events = c.events();
    let [ServerEvent::Query {
        token,
        message_id,
        source_addr,
    }] = events.as_slice()
    else {
        panic!("{events:?}")
    };
    assert_eq!((message_id.as_str(), source_addr.as_str()), ("m-7", "100"));
    // A submit answer for a query token does nothing, and leaves it to be answered.
    c.server.answer_submit(*token, Ok("no".into()), c.now);
    assert!(c.received().is_empty());
    let answer = QueryAnswer {
        final_date: SmppTime::new("261130120000000+").unwrap(),
        message_state: MessageState::Delivered,
        error_code: 0,
    };
    c.server.answer_query(*token, Ok(answer), c.now);
    let frames = c.received();
    let [resp] = frames.as_slice() else {
        panic!("{frames:?}")
    };
    assert_eq!(resp.header.sequence_number, seq);
    let Ok(Pdu::QuerySmResp(Some(body))) = resp.pdu() else {
        panic!("{resp:?}")
    };
    assert_eq!(body.message_id.as_bytes(), b"m-7");
    assert_eq!(body.message_state, 2);
}

#[test]
fn enquire_link_is_answered_in_every_state() {
    let mut c = Client::new(params());
    let check = |c: &mut Client| {
        let seq = c.send(&Pdu::EnquireLink);
        assert_eq!(c.one(), (CommandId::EnquireLinkResp, S::EsmeRok, seq));
    };
    check(&mut c);
    c.send(&bind_pdu(BindMode::Transceiver));
    let token = c.token();
    check(&mut c);
    c.server.answer_bind(token, Ok(()), c.now);
    c.received();
    check(&mut c);
    c.server.unbind(c.now);
    assert_eq!(c.one().0, CommandId::Unbind);
    check(&mut c);
}

#[test]
fn unknown_and_unserved_commands_are_refused_and_the_link_stays() {
    let mut c = Client::new(params());
    let mut unknown = BytesMut::new();
    unknown.put_u32(16);
    unknown.put_u32(0x0000_0777);
    unknown.put_u32(0);
    unknown.put_u32(42);
    c.send_raw(&unknown);
    assert_eq!(c.one(), (CommandId::GenericNack, S::EsmeRinvcmdid, 42));
    c.bind(BindMode::Transceiver);
    let seq = c.send(&Pdu::CancelSm(CancelSm::default()));
    assert_eq!(c.one(), (CommandId::CancelSmResp, S::EsmeRinvcmdid, seq));
    let seq = c.send(&Pdu::Outbind(Default::default()));
    assert_eq!(c.one(), (CommandId::GenericNack, S::EsmeRinvcmdid, seq));
    // A response to nothing we sent is ignored.
    c.send(&Pdu::EnquireLinkResp);
    c.send(&Pdu::SubmitSmResp(None));
    assert!(c.received().is_empty());
    assert!(c.events().is_empty());
    assert!(!c.server.is_closed());
}

#[test]
fn a_malformed_submit_gets_its_response_with_an_error_and_the_session_goes_on() {
    let mut c = Client::new(params());
    c.bind(BindMode::Transmitter);
    // A submit_sm whose body ends inside service_type: no NUL within six octets.
    let mut bad = BytesMut::new();
    bad.put_u32(16 + 7);
    bad.put_u32(CommandId::SubmitSm.value());
    bad.put_u32(0);
    bad.put_u32(77);
    bad.put_slice(b"ABCDEFG");
    c.send_raw(&bad);
    let (id, status, seq) = c.one();
    assert_eq!((id, seq), (CommandId::SubmitSmResp, 77));
    assert_eq!(status, S::EsmeRinvsertyp);
    assert!(c.events().is_empty());
    // A body that runs short is a command-length fault: generic_nack, still open.
    let mut short = BytesMut::new();
    short.put_u32(16 + 1);
    short.put_u32(CommandId::SubmitSm.value());
    short.put_u32(0);
    short.put_u32(78);
    short.put_u8(0);
    c.send_raw(&short);
    assert_eq!(c.one(), (CommandId::GenericNack, S::EsmeRinvcmdlen, 78));
    c.send(&submit_pdu("fine"));
    c.token();
    assert!(!c.server.is_closed());
}

#[test]
fn over_max_pending_a_submit_is_throttled_at_once_without_an_event() {
    let mut c = Client::new(params());
    c.bind(BindMode::Transmitter);
    let mut tokens = Vec::new();
    for _ in 0..3 {
        c.send(&submit_pdu("m"));
        tokens.push(c.token());
    }
    assert_eq!(c.server.pending_len(), 3);
    let seq = c.send(&submit_pdu("too many"));
    assert_eq!(c.one(), (CommandId::SubmitSmResp, S::EsmeRthrottled, seq));
    let seq = c.send(&Pdu::QuerySm(QuerySm::default()));
    assert_eq!(c.one(), (CommandId::QuerySmResp, S::EsmeRthrottled, seq));
    assert!(c.events().is_empty());
    // An answer makes room again.
    c.server.answer_submit(tokens[0], Ok("1".into()), c.now);
    c.received();
    c.send(&submit_pdu("room"));
    c.token();
}

#[test]
fn deliveries_need_a_receiving_bind_and_room_in_the_window() {
    let mut c = Client::new(params());
    let refused = |c: &mut Client| {
        c.server
            .deliver(1, super::client::deliver_pdu("x"), c.now)
            .unwrap_err()
    };
    assert_eq!(refused(&mut c), DeliverRefused::NotReceiving);
    c.bind(BindMode::Transmitter);
    assert!(!c.server.can_deliver());
    assert_eq!(refused(&mut c), DeliverRefused::NotReceiving);

    let mut c = Client::new(params());
    c.bind(BindMode::Receiver);
    let first = c.deliver(10);
    let second = c.deliver(11);
    assert_ne!(first, second);
    assert!(!c.server.can_deliver());
    assert_eq!(refused(&mut c), DeliverRefused::WindowFull { in_flight: 2 });
    assert!(c.received().is_empty(), "a refused deliver_sm is not sent");
    c.server.unbind(c.now);
    c.received();
    assert_eq!(refused(&mut c), DeliverRefused::Closing);
}

#[test]
fn deliver_sm_resp_is_matched_by_sequence_number_whatever_its_status() {
    let mut c = Client::new(params());
    c.bind(BindMode::Transceiver);
    let a = c.deliver(10);
    let b = c.deliver(11);
    c.answer(
        &Pdu::DeliverSmResp(Some(DeliverSmResp::default())),
        S::EsmeRok,
        b,
    );
    c.answer(&Pdu::DeliverSmResp(None), S::EsmeRxTAppn, a);
    // Unknown and repeated answers are ignored.
    c.answer(&Pdu::DeliverSmResp(None), S::EsmeRok, b);
    c.answer(&Pdu::DeliverSmResp(None), S::EsmeRok, 9999);
    assert_eq!(
        c.events(),
        [
            ServerEvent::Delivered {
                key: 11,
                status: S::EsmeRok
            },
            ServerEvent::Delivered {
                key: 10,
                status: S::EsmeRxTAppn
            },
        ]
    );
    assert!(c.received().is_empty());
    assert!(c.server.can_deliver());
    // generic_nack answers a deliver_sm too, and never as a success.
    let nacked = c.deliver(12);
    c.answer(&Pdu::GenericNack, S::EsmeRok, nacked);
    assert_eq!(
        c.events(),
        [ServerEvent::Delivered {
            key: 12,
            status: S::EsmeRsyserr
        }]
    );
}

#[test]
fn an_unanswered_deliver_sm_closes_the_connection_and_hands_its_keys_back() {
    let mut c = Client::new(params());
    c.bind(BindMode::Receiver);
    c.deliver(10);
    c.advance(Duration::from_secs(2));
    let answered = c.deliver(11);
    assert_eq!(
        c.server.next_deadline(),
        Some(c.now - Duration::from_secs(2) + Duration::from_secs(5))
    );
    c.advance(Duration::from_secs(2));
    assert!(!c.server.is_closed());
    c.answer(&Pdu::DeliverSmResp(None), S::EsmeRok, answered);
    c.events();
    c.advance(Duration::from_secs(1));
    assert!(c.server.is_closed());
    assert_eq!(
        c.events(),
        [
            ServerEvent::Undelivered { keys: vec![10] },
            closed(CloseReason::NotReading)
        ]
    );
    assert_eq!(c.server.next_deadline(), None);
}

#[test]
fn silence_while_bound_makes_us_unbind() {
    let mut c = Client::new(params());
    c.bind(BindMode::Transmitter);
    c.advance(Duration::from_secs(59));
    c.send(&Pdu::EnquireLink);
    c.received();
    assert_eq!(
        c.server.next_deadline(),
        Some(c.now + Duration::from_secs(60))
    );
    c.advance(Duration::from_secs(60));
    let (id, _, seq) = c.one();
    assert_eq!(id, CommandId::Unbind);
    assert!(!c.server.is_closed());
    // Unbinding: submits are refused, and the unbind_resp closes.
    let s = c.send(&submit_pdu("late"));
    assert_eq!(c.one(), (CommandId::SubmitSmResp, S::EsmeRinvbndsts, s));
    c.answer(&Pdu::UnbindResp, S::EsmeRok, seq);
    assert_eq!(c.events(), [closed(CloseReason::Idle)]);
    assert!(c.server.is_closed());

    // A client that does not answer the unbind is closed after the response timeout.
    let mut c = Client::new(params());
    c.bind(BindMode::Transmitter);
    c.advance(Duration::from_secs(60));
    assert_eq!(c.one().0, CommandId::Unbind);
    c.advance(Duration::from_secs(4));
    assert!(!c.server.is_closed());
    c.advance(Duration::from_secs(1));
    assert_eq!(c.events(), [closed(CloseReason::Idle)]);
}

#[test]
fn a_client_that_never_binds_is_closed() {
    let mut c = Client::new(params());
    assert_eq!(
        c.server.next_deadline(),
        Some(c.now + Duration::from_secs(10))
    );
    c.send(&bind_pdu(BindMode::Transmitter));
    let token = c.token();
    c.server.answer_bind(token, Err(S::EsmeRinvpaswd), c.now);
    assert_eq!(c.one().1, S::EsmeRinvpaswd);
    c.advance(Duration::from_secs(9));
    assert!(!c.server.is_closed());
    c.advance(Duration::from_secs(1));
    assert_eq!(c.events(), [closed(CloseReason::BindTimeout)]);
    assert!(c.server.is_closed());
    // Closed: input is left alone and answers go nowhere.
    let mut rest = encode(&Pdu::EnquireLink, 5);
    c.server.handle_bytes(&mut rest, c.now);
    assert_eq!(rest.len(), 16);
    assert!(c.received().is_empty());
}

#[test]
fn a_client_unbind_is_answered_and_ends_the_connection() {
    let mut c = Client::new(params());
    c.bind(BindMode::Transceiver);
    c.send(&submit_pdu("in flight"));
    let token = c.token();
    c.deliver(10);
    let seq = c.send(&Pdu::Unbind);
    assert_eq!(c.one(), (CommandId::UnbindResp, S::EsmeRok, seq));
    assert_eq!(
        c.events(),
        [
            ServerEvent::Unbound,
            ServerEvent::Undelivered { keys: vec![10] },
            closed(CloseReason::ClientUnbind)
        ]
    );
    assert!(c.server.is_closed());
    // The daemon's late answer is dropped: the client may submit again elsewhere.
    c.server.answer_submit(token, Ok("late".into()), c.now);
    assert!(c.received().is_empty());
    assert!(!c.server.can_deliver());
}

#[test]
fn an_operator_unbind_lets_pending_answers_through_then_closes() {
    let mut c = Client::new(params());
    c.bind(BindMode::Transceiver);
    c.send(&submit_pdu("pending"));
    let token = c.token();
    let delivered = c.deliver(10);
    c.server.unbind(c.now);
    let (id, _, unbind) = c.one();
    assert_eq!(id, CommandId::Unbind);
    assert!(!c.server.can_deliver());
    c.server.answer_submit(token, Ok("id".into()), c.now);
    assert_eq!(c.one().1, S::EsmeRok);
    c.answer(&Pdu::DeliverSmResp(None), S::EsmeRok, delivered);
    c.answer(&Pdu::UnbindResp, S::EsmeRok, unbind);
    assert_eq!(
        c.events(),
        [
            ServerEvent::Delivered {
                key: 10,
                status: S::EsmeRok
            },
            closed(CloseReason::OperatorUnbind)
        ]
    );
    // Before a bind there is nothing to unbind: it closes at once.
    let mut c = Client::new(params());
    c.server.unbind(c.now);
    assert!(c.received().is_empty());
    assert_eq!(c.events(), [closed(CloseReason::OperatorUnbind)]);
}

#[test]
fn crossing_unbinds_are_answered_and_keep_our_reason() {
    let mut c = Client::new(params());
    c.bind(BindMode::Transmitter);
    c.server.unbind(c.now);
    c.received();
    let seq = c.send(&Pdu::Unbind);
    assert_eq!(c.one(), (CommandId::UnbindResp, S::EsmeRok, seq));
    assert_eq!(
        c.events(),
        [ServerEvent::Unbound, closed(CloseReason::OperatorUnbind)]
    );
}

#[test]
fn an_impossible_command_length_is_nacked_then_closes() {
    let mut c = Client::new(params());
    let mut long = BytesMut::new();
    long.put_u32(1025);
    long.put_u32(CommandId::SubmitSm.value());
    long.put_u32(0);
    long.put_u32(9);
    c.send_raw(&long);
    assert_eq!(c.one(), (CommandId::GenericNack, S::EsmeRinvcmdlen, 9));
    let events = c.events();
    assert!(
        matches!(
            events.as_slice(),
            [ServerEvent::Closed {
                reason: CloseReason::Framing(_)
            }]
        ),
        "{events:?}"
    );
}

#[test]
fn our_sequence_numbers_wrap_within_the_allowed_range() {
    let mut c = Client::new(params());
    c.bind(BindMode::Receiver);
    c.server.set_next_sequence(0x7FFF_FFFF);
    assert_eq!(c.deliver(1), 0x7FFF_FFFF);
    assert_eq!(c.deliver(2), 1);
}

/// The PDUs of a short session, in one stream: binds, requests in each state, an unknown
/// command and a malformed one.
fn session_stream() -> Vec<u8> {
    let mut all = BytesMut::new();
    all.extend_from_slice(&encode(&Pdu::EnquireLink, 1));
    all.extend_from_slice(&encode(&submit_pdu("early"), 2));
    all.extend_from_slice(&encode(&bind_pdu(BindMode::Transceiver), 3));
    all.extend_from_slice(&encode(&bind_pdu(BindMode::Receiver), 4));
    all.extend_from_slice(&[0, 0, 0, 16, 0, 0, 7, 7, 0, 0, 0, 0, 0, 0, 0, 5]);
    all.extend_from_slice(&[0, 0, 0, 17, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 6, 1]);
    all.extend_from_slice(&encode(&Pdu::QuerySm(QuerySm::default()), 7));
    all.extend_from_slice(&encode(&Pdu::Unbind, 8));
    all.to_vec()
}

#[test]
fn partial_reads_split_at_every_octet_give_the_same_result_as_whole() {
    let stream = session_stream();
    let run = |pieces: &[&[u8]]| {
        let mut c = Client::new(params());
        let mut buf = BytesMut::new();
        for piece in pieces {
            buf.extend_from_slice(piece);
            c.server.handle_bytes(&mut buf, c.now);
        }
        assert!(buf.is_empty());
        let mut out = BytesMut::new();
        c.server.poll_transmit(&mut out);
        (out, format!("{:?}", c.events()))
    };
    let whole = run(&[&stream]);
    assert!(!whole.0.is_empty());
    for at in 0..=stream.len() {
        let (a, b) = stream.split_at(at);
        assert_eq!(run(&[a, b]), whole, "split at {at}");
    }
    let octets: Vec<&[u8]> = stream.chunks(1).collect();
    assert_eq!(run(&octets), whole, "one octet per read");
}

#[test]
fn parameters_are_checked_before_use() {
    assert_eq!(ServerParams::default().validate(), Ok(()));
    let too_long = ServerParams {
        system_id: "a-system-id-of-16".into(),
        ..ServerParams::default()
    };
    assert!(too_long.validate().is_err());
    let no_window = ServerParams {
        deliver_window: 0,
        ..ServerParams::default()
    };
    assert!(no_window.validate().is_err());
}
