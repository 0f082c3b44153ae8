//! Property tests: whatever arrives, in whatever pieces, with whatever answers and timing,
//! the core never panics, keeps its bounds, and answers each request at most once.

use std::collections::HashMap;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use proptest::prelude::*;

use crate::codec::pdu::{DataSm, DeliverSmResp, QuerySm};
use crate::codec::{CommandId, CommandStatus, Framer, MessageState, Pdu, SmppTime};

use super::client::{bind_pdu, deliver_pdu, encode, params, submit_pdu, Client};
use super::{BindMode, QueryAnswer, ServerEvent, Token};

/// What the test client may send.
#[derive(Debug, Clone)]
enum Send {
    Bind(BindMode),
    Submit,
    DataSm,
    Query,
    EnquireLink,
    Unbind,
    Unknown,
    /// A submit_sm whose service_type never ends.
    Malformed,
    /// deliver_sm_resp (or generic_nack) for the n-th deliver_sm seen, with an error or not.
    DeliverResp {
        nth: usize,
        nack: bool,
        ok: bool,
    },
    /// unbind_resp for the last unbind seen.
    UnbindResp,
}

/// One step of a session.
#[derive(Debug, Clone)]
enum Op {
    /// Queue a PDU, then hand the core up to `feed` of the queued octets.
    Send(Send, usize),
    /// The daemon answers the n-th outstanding request (again, if `twice`).
    Answer {
        nth: usize,
        ok: bool,
        twice: bool,
    },
    Deliver(u64),
    Advance(u64),
    OperatorUnbind,
}

fn mode() -> impl Strategy<Value = BindMode> {
    prop_oneof![
        Just(BindMode::Transmitter),
        Just(BindMode::Receiver),
        Just(BindMode::Transceiver)
    ]
}

fn send() -> impl Strategy<Value = Send> {
    prop_oneof![
        4 => mode().prop_map(Send::Bind),
        18 => Just(Send::Submit),
        6 => Just(Send::DataSm),
        6 => Just(Send::Query),
        3 => Just(Send::EnquireLink),
        1 => Just(Send::Unbind),
        3 => Just(Send::Unknown),
        3 => Just(Send::Malformed),
        12 => (0usize..8, any::<bool>(), any::<bool>())
            .prop_map(|(nth, nack, ok)| Send::DeliverResp { nth, nack, ok }),
        3 => Just(Send::UnbindResp),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        32 => (send(), 1usize..200).prop_map(|(s, feed)| Op::Send(s, feed)),
        24 => (0usize..8, any::<bool>(), any::<bool>())
            .prop_map(|(nth, ok, twice)| Op::Answer { nth, ok, twice }),
        12 => (0u64..1000).prop_map(Op::Deliver),
        8 => (0u64..3_000).prop_map(Op::Advance),
        1 => (10_000u64..70_000).prop_map(Op::Advance),
        1 => Just(Op::OperatorUnbind),
    ]
}

/// A request handed to the daemon, as the test remembers it.
#[derive(Debug, Clone, Copy)]
enum Request {
    Bind(Token),
    Submit(Token),
    Query(Token),
}

/// The octets of `send`, or `None` when it answers something not seen.
fn octets(send: &Send, seq: u32, delivers: &[u32], unbind: Option<u32>) -> Option<BytesMut> {
    Some(match send {
        Send::Bind(mode) => encode(&bind_pdu(*mode), seq),
        Send::Submit => encode(&submit_pdu("hello"), seq),
        Send::DataSm => encode(&Pdu::DataSm(DataSm::default()), seq),
        Send::Query => encode(&Pdu::QuerySm(QuerySm::default()), seq),
        Send::EnquireLink => encode(&Pdu::EnquireLink, seq),
        Send::Unbind => encode(&Pdu::Unbind, seq),
        Send::Unknown | Send::Malformed => {
            let (id, body): (u32, &[u8]) = match send {
                Send::Unknown => (0x0000_0999, b""),
                _ => (CommandId::SubmitSm.value(), b"ABCDEFG"),
            };
            let mut buf = BytesMut::new();
            buf.put_u32(16 + body.len() as u32);
            buf.put_u32(id);
            buf.put_u32(0);
            buf.put_u32(seq);
            buf.put_slice(body);
            buf
        }
        Send::DeliverResp { nth, nack, ok } => {
            let answered = *delivers.get(*nth)?;
            let status = if *ok {
                CommandStatus::EsmeRok
            } else {
                CommandStatus::EsmeRxTAppn
            };
            let pdu = if *nack {
                Pdu::GenericNack
            } else {
                Pdu::DeliverSmResp(Some(DeliverSmResp::default()))
            };
            let mut buf = BytesMut::new();
            pdu.encode(answered, status, &mut buf).ok()?;
            buf
        }
        Send::UnbindResp => encode(&Pdu::UnbindResp, unbind?),
    })
}

fn answer(c: &mut Client, request: Request, ok: bool) {
    let now = c.now;
    let status = CommandStatus::EsmeRsyserr;
    match request {
        Request::Bind(t) => c
            .server
            .answer_bind(t, if ok { Ok(()) } else { Err(status) }, now),
        Request::Submit(t) => {
            c.server
                .answer_submit(t, if ok { Ok("id".into()) } else { Err(status) }, now)
        }
        Request::Query(t) => {
            let a = QueryAnswer {
                final_date: SmppTime::default(),
                message_state: MessageState::Enroute,
                error_code: 0,
            };
            c.server
                .answer_query(t, if ok { Ok(a) } else { Err(status) }, now)
        }
    }
}

proptest! {
    /// Arbitrary octets in arbitrary pieces, every event answered: no panic, bounds kept,
    /// and everything the core writes is a PDU the codec reads back.
    #[test]
    fn arbitrary_octets_never_break_the_core(
        chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..40),
        bound_first in any::<bool>(),
    ) {
        let mut c = Client::new(params());
        if bound_first {
            c.bind(BindMode::Transceiver);
        }
        let mut rx = BytesMut::new();
        let mut wire = BytesMut::new();
        for chunk in chunks {
            rx.extend_from_slice(&chunk);
            c.server.handle_bytes(&mut rx, c.now);
            while let Some(event) = c.server.poll_event() {
                match event {
                    ServerEvent::BindRequested { token, .. } => answer(&mut c, Request::Bind(token), true),
                    ServerEvent::Submit { token, .. } => answer(&mut c, Request::Submit(token), true),
                    ServerEvent::Query { token, .. } => answer(&mut c, Request::Query(token), true),
                    _ => {}
                }
            }
            if c.server.can_deliver() {
                prop_assert!(c.server.deliver(1, deliver_pdu("mo"), c.now).is_ok());
            }
            prop_assert!(c.server.pending_len() <= 3);
            prop_assert!(c.server.window_len() <= 2);
            c.advance(Duration::from_millis(700));
            c.server.poll_transmit(&mut wire);
        }
        let framer = Framer::default();
        while let Some(frame) = framer.decode(&mut wire).expect("the core's output frames") {
            prop_assert!(frame.pdu().is_ok(), "undecodable output {:?}", frame);
        }
        prop_assert!(wire.is_empty());
    }

    /// Valid-ish sessions cut into arbitrary reads, with answers (some twice), deliveries and
    /// time: the bounds hold, no request is answered twice on the wire, and once the daemon has
    /// answered everything an open connection has answered every request exactly once.
    #[test]
    fn every_request_is_answered_at_most_once(
        bound in proptest::option::of(mode()),
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        let mut c = Client::new(params());
        // Mostly start bound, so that most cases get past the bind to the traffic.
        let mut next_seq = 1u32;
        if let Some(mode) = bound {
            c.bind(mode);
            next_seq = 2;
        }
        let mut queued = BytesMut::new();
        let mut rx = BytesMut::new();
        let mut requests = Vec::<u32>::new();
        let mut outstanding = Vec::<Request>::new();
        let mut answered = Vec::<Request>::new();
        let mut responses = HashMap::<u32, usize>::new();
        let mut delivers = Vec::<u32>::new();
        let mut unbind = None;
        let mut closed_events = 0;

        let step = |c: &mut Client,
                        outstanding: &mut Vec<Request>,
                        responses: &mut HashMap<u32, usize>,
                        delivers: &mut Vec<u32>,
                        unbind: &mut Option<u32>,
                        closed_events: &mut usize| -> Result<(), TestCaseError> {
            for event in c.events() {
                prop_assert_eq!(*closed_events, 0, "an event after Closed");
                match event {
                    ServerEvent::BindRequested { token, .. } => outstanding.push(Request::Bind(token)),
                    ServerEvent::Submit { token, .. } => outstanding.push(Request::Submit(token)),
                    ServerEvent::Query { token, .. } => outstanding.push(Request::Query(token)),
                    ServerEvent::Closed { .. } => *closed_events += 1,
                    _ => {}
                }
            }
            for frame in c.received() {
                let h = frame.header;
                if h.command_id.is_response() {
                    *responses.entry(h.sequence_number).or_default() += 1;
                } else if h.command_id == CommandId::DeliverSm {
                    delivers.push(h.sequence_number);
                } else if h.command_id == CommandId::Unbind {
                    *unbind = Some(h.sequence_number);
                }
            }
            prop_assert!(c.server.pending_len() <= 3);
            prop_assert!(c.server.window_len() <= 2);
            Ok(())
        };

        for op in ops {
            match op {
                Op::Send(send, feed) => {
                    let seq = next_seq;
                    if let Some(octets) = octets(&send, seq, &delivers, unbind) {
                        if !matches!(send, Send::DeliverResp { .. } | Send::UnbindResp) {
                            next_seq += 1;
                            requests.push(seq);
                        }
                        queued.extend_from_slice(&octets);
                    }
                    let n = feed.min(queued.len());
                    rx.extend_from_slice(&queued.split_to(n));
                    c.server.handle_bytes(&mut rx, c.now);
                }
                Op::Answer { nth, ok, twice } => {
                    if !outstanding.is_empty() {
                        let request = outstanding.remove(nth % outstanding.len());
                        answer(&mut c, request, ok);
                        answered.push(request);
                    }
                    if twice {
                        if let Some(&again) = answered.get(nth % answered.len().max(1)) {
                            answer(&mut c, again, !ok);
                        }
                    }
                }
                Op::Deliver(key) => {
                    let can = c.server.can_deliver();
                    prop_assert_eq!(c.server.deliver(key, deliver_pdu("mo"), c.now).is_ok(), can);
                }
                Op::Advance(ms) => c.advance(Duration::from_millis(ms)),
                Op::OperatorUnbind => c.server.unbind(c.now),
            }
            step(&mut c, &mut outstanding, &mut responses, &mut delivers, &mut unbind, &mut closed_events)?;
        }
        // Whatever is still queued arrives, and the daemon answers everything.
        rx.extend_from_slice(&queued);
        c.server.handle_bytes(&mut rx, c.now);
        step(&mut c, &mut outstanding, &mut responses, &mut delivers, &mut unbind, &mut closed_events)?;
        for request in std::mem::take(&mut outstanding) {
            answer(&mut c, request, true);
        }
        step(&mut c, &mut outstanding, &mut responses, &mut delivers, &mut unbind, &mut closed_events)?;
        prop_assert!(closed_events <= 1);
        prop_assert_eq!(closed_events == 1, c.server.is_closed());
        for (seq, n) in &responses {
            prop_assert!(*n <= 1, "sequence number {} answered {} times", seq, n);
        }
        if !c.server.is_closed() {
            for seq in &requests {
                prop_assert_eq!(responses.get(seq), Some(&1), "request {} unanswered", seq);
            }
        }
    }
}
