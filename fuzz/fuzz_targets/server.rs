//! Feeds arbitrary bytes to one server-side session in arbitrary chunks, answers every event
//! the way a willing daemon would (binds accepted, submits given an id, queries a state),
//! delivers whenever the window allows, moves the clock on, and drains what the core writes.
//!
//! The first input octet chooses the chunk size (1..=256) so that partial reads, headers split
//! across reads and many PDUs per read are all exercised; it must never panic, and everything
//! it writes must frame and decode.
#![no_main]

use std::time::{Duration, Instant};

use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use smppd::codec::pdu::DeliverSm;
use smppd::codec::{Framer, MessageState, SmppTime};
use smppd::server::{QueryAnswer, ServerEvent, ServerParams, ServerSession};

fuzz_target!(|data: &[u8]| {
    let Some((&chunk, stream)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(chunk) + 1;
    let params = ServerParams {
        // A small limit so that length errors are reached often.
        max_pdu_len: 4096,
        deliver_window: 2,
        max_pending: 4,
        ..ServerParams::default()
    };
    let mut now = Instant::now();
    let mut server = ServerSession::new(params, now);
    let mut rx = BytesMut::new();
    let mut wire = BytesMut::new();
    let mut key = 0;
    for piece in stream.chunks(chunk) {
        rx.extend_from_slice(piece);
        server.handle_bytes(&mut rx, now);
        while let Some(event) = server.poll_event() {
            match event {
                ServerEvent::BindRequested { token, .. } => server.answer_bind(token, Ok(()), now),
                ServerEvent::Submit { token, .. } => {
                    server.answer_submit(token, Ok("fuzz-id".to_owned()), now)
                }
                ServerEvent::Query { token, .. } => {
                    let answer = QueryAnswer {
                        final_date: SmppTime::default(),
                        message_state: MessageState::Enroute,
                        error_code: 0,
                    };
                    server.answer_query(token, Ok(answer), now)
                }
                _ => {}
            }
        }
        if server.can_deliver() {
            key += 1;
            assert!(server.deliver(key, DeliverSm::default(), now).is_ok());
        }
        // A second per chunk: long inputs reach the response and idle timeouts.
        now += Duration::from_secs(1);
        server.handle_timeout(now);
        server.poll_transmit(&mut wire);
    }
    let framer = Framer::default();
    while let Some(frame) = framer.decode(&mut wire).expect("the server's output frames") {
        frame.pdu().expect("the server's output decodes");
    }
    assert!(wire.is_empty(), "the server wrote a partial PDU");
});
