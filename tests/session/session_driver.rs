//! The session driver against a scripted SMSC over real loopback TCP sockets.

use std::collections::{BTreeMap, HashSet};
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use smppd::codec::pdu::{DataSm, DeliverSm};
use smppd::codec::{CommandId, CommandStatus, EsmClass, Pdu};
use smppd::session::{
    BindMode, Counters, EndReason, FailureReason, InboundPdu, Session, SessionError, SubmitOutcome,
};

use crate::support::hang_guard::guard;
use crate::support::peer::{
    bound, bound_in_memory, bound_recorded, bound_with, memory_pair, message, pair, params, Peer,
};

#[tokio::test]
async fn binds_in_each_mode_with_the_configured_credentials() {
    guard(async {
        for (mode, id) in [
            (BindMode::Transmitter, CommandId::BindTransmitter),
            (BindMode::Receiver, CommandId::BindReceiver),
            (BindMode::Transceiver, CommandId::BindTransceiver),
        ] {
            let (client, mut peer) = pair().await;
            let (session, (seen, pdu)) = tokio::join!(
                Session::bind(client, params().with_bind_mode(mode)),
                peer.answer_bind(CommandStatus::EsmeRok)
            );
            assert_eq!(seen, id);
            let (Pdu::BindTransmitter(b) | Pdu::BindReceiver(b) | Pdu::BindTransceiver(b)) = pdu
            else {
                panic!("not a bind");
            };
            assert_eq!(b.system_id.as_bytes(), b"esme");
            assert_eq!(b.password.as_bytes(), b"secret");
            assert_eq!(b.interface_version, 0x34);
            let session = session.unwrap();
            assert_eq!(session.smsc_system_id(), "SIM");
            assert_eq!(session.state().bound_mode(), Some(mode));
        }
    })
    .await;
}

#[tokio::test]
async fn wrong_password_fails_the_bind_with_the_status() {
    guard(async {
        let (client, mut peer) = pair().await;
        let (result, _) = tokio::join!(
            Session::bind(client, params()),
            peer.answer_bind(CommandStatus::EsmeRinvpaswd)
        );
        match result {
            Err(SessionError::BindRejected { status }) => {
                assert_eq!(status, CommandStatus::EsmeRinvpaswd)
            }
            other => panic!("expected BindRejected, got {other:?}"),
        }
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn unanswered_bind_times_out() {
    let (client, mut peer) = memory_pair();
    let params = params().with_bind_timeout(Duration::from_secs(5)).unwrap();
    let (result, _) = tokio::join!(Session::bind(client, params), peer.expect());
    assert!(
        matches!(result, Err(SessionError::BindTimeout { .. })),
        "{result:?}"
    );
}

/// A bind_transceiver_resp saying ESME_ROK whose system_id is 300 octets without a NUL.
fn malformed_bind_resp(sequence: u32) -> Vec<u8> {
    let mut bytes = Vec::new();
    for word in [16 + 300, 0x8000_0009, 0, sequence] {
        bytes.extend_from_slice(&u32::to_be_bytes(word));
    }
    bytes.extend_from_slice(&[b'A'; 300]);
    bytes
}

#[tokio::test(start_paused = true)]
async fn an_ok_bind_resp_that_does_not_decode_is_a_protocol_violation_not_a_bind() {
    let (client, mut peer) = memory_pair();
    let smsc = async {
        let (h, _) = peer.expect().await;
        peer.send_raw(&malformed_bind_resp(h.sequence_number)).await;
    };
    let (result, ()) = tokio::join!(Session::bind(client, params()), smsc);
    match result {
        Err(SessionError::BindRespMalformed { source }) => {
            assert_eq!(source.field, "system_id");
            assert_eq!(source.header.command_status, CommandStatus::EsmeRok);
        }
        other => panic!("expected BindRespMalformed, got {other:?}"),
    }
    // The session gave up on the link: it is closed.
    assert!(peer.read().await.is_none(), "the connection is closed");
}

#[tokio::test(start_paused = true)]
async fn a_pdu_that_arrives_with_the_bind_resp_is_handled_at_once() {
    let (client, mut peer) = memory_pair();
    let smsc = async {
        let (h, _) = peer.expect().await;
        // bind_resp and an enquire_link in one write, so they arrive in one read.
        let mut both = bytes::BytesMut::new();
        Pdu::BindTransceiverResp(Some(Default::default()))
            .encode(h.sequence_number, CommandStatus::EsmeRok, &mut both)
            .unwrap();
        Pdu::EnquireLink
            .encode(77, CommandStatus::EsmeRok, &mut both)
            .unwrap();
        peer.send_raw(&both).await;
    };
    let (session, ()) = tokio::join!(Session::bind(client, params()), smsc);
    let _upper = crate::support::peer::run(session.unwrap(), vec![], Arc::new(Counters::default()));
    // Answered without any further byte from the SMSC (not the session's own enquire_link
    // after its keep-alive interval, which the paused clock would reach at once).
    let (h, pdu) = peer.expect().await;
    assert_eq!((pdu, h.sequence_number), (Pdu::EnquireLinkResp, 77));
}

#[tokio::test]
async fn window_is_never_exceeded_and_smsc_enquire_link_is_answered_while_full() {
    guard(async {
        const N: usize = 3;
        let (mut upper, mut peer) = bound(
            params().with_window_size(N).unwrap().with_max_rate(0),
            vec![],
        )
        .await;
        for id in 0..10 {
            upper.queue.send(message(id)).await.unwrap();
        }
        let mut outstanding = Vec::new();
        let mut max_seen = 0;
        let mut answered = 0;
        while answered < 10 {
            let (h, pdu) = peer.expect().await;
            match pdu {
                Pdu::SubmitSm(_) => {
                    outstanding.push(h.sequence_number);
                    assert!(outstanding.len() <= N, "more than {N} submits in flight");
                    max_seen = max_seen.max(outstanding.len());
                }
                Pdu::EnquireLinkResp => {
                    assert_eq!(h.sequence_number, 9999);
                    // The window is full and we got an answer: now release it.
                    for seq in outstanding.drain(..) {
                        peer.answer_submit(seq, CommandStatus::EsmeRok).await;
                        answered += 1;
                    }
                    continue;
                }
                other => panic!("unexpected {:?}", other.command_id()),
            }
            if outstanding.len() == N || answered + outstanding.len() == 10 {
                // Full (or the last few): probe with enquire_link before answering anything.
                peer.send(Pdu::EnquireLink, 9999, CommandStatus::EsmeRok)
                    .await;
            }
        }
        assert_eq!(max_seen, N);
        let mut accepted = HashSet::new();
        for _ in 0..10 {
            match upper.outcomes.recv().await.unwrap() {
                SubmitOutcome::Accepted {
                    message,
                    message_id,
                } => {
                    assert!(message_id.starts_with('m'));
                    assert!(accepted.insert(message.id));
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(accepted.len(), 10);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_submit_the_smsc_skips_fails_after_the_response_timeout_and_is_not_resent() {
    let params = params()
        .with_response_timeout(Duration::from_secs(2))
        .unwrap()
        .with_enquire_link_interval(Duration::from_secs(3600))
        .unwrap();
    let (mut upper, mut peer) = bound_in_memory(params, vec![]).await;
    upper.queue.send(message(7)).await.unwrap();
    upper.queue.send(message(8)).await.unwrap();
    let (first, pdu) = peer.expect().await;
    assert!(matches!(pdu, Pdu::SubmitSm(_)));
    let (second, _) = peer.expect().await;
    // The SMSC answers the later submit and never the first: it lost that one, and may
    // still deliver it.
    peer.answer_submit(second.sequence_number, CommandStatus::EsmeRok)
        .await;
    assert!(matches!(
        upper.outcomes.recv().await.unwrap(),
        SubmitOutcome::Accepted { message, .. } if message.id == 8
    ));
    match upper.outcomes.recv().await.unwrap() {
        SubmitOutcome::Failed { message, reason } => {
            assert_eq!(message.id, 7);
            assert_eq!(reason, FailureReason::NoResponse);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(upper.counters.snapshot().failed, 1);
    // The link stays up, and nothing is sent again.
    upper.stop.send(true).unwrap();
    let (unbind, pdu) = peer.expect().await;
    assert_eq!(pdu, Pdu::Unbind, "{first:?}");
    peer.send(
        Pdu::UnbindResp,
        unbind.sequence_number,
        CommandStatus::EsmeRok,
    )
    .await;
    let end = upper.session.await.unwrap();
    assert!(end.result.is_ok(), "{:?}", end.result);
    assert!(end.unsent.is_empty());
}

#[tokio::test(start_paused = true)]
async fn an_smsc_that_stops_answering_ends_the_link_and_gets_its_window_again() {
    let params = params()
        .with_window_size(3)
        .unwrap()
        .with_response_timeout(Duration::from_secs(2))
        .unwrap()
        .with_enquire_link_interval(Duration::from_secs(3600))
        .unwrap();
    let (mut upper, mut peer) = bound_in_memory(params, vec![]).await;
    for id in 1..=5 {
        upper.queue.send(message(id)).await.unwrap();
    }
    // The first is answered, then nothing: the SMSC hangs with the connection open.
    let (h, _) = peer.expect().await;
    peer.answer_submit(h.sequence_number, CommandStatus::EsmeRok)
        .await;
    for _ in 0..3 {
        assert!(matches!(peer.expect().await.1, Pdu::SubmitSm(_)));
    }
    let end = upper.session.await.unwrap();
    assert!(
        matches!(end.result, Err(SessionError::SubmitsUnanswered { .. })),
        "{:?}",
        end.result
    );
    // Nothing failed: the three unanswered come back, in send order (the fifth was never
    // taken from the queue: the window was full).
    let unsent: Vec<(u64, u32)> = end.unsent.iter().map(|m| (m.id, m.attempts)).collect();
    assert_eq!(unsent, [(2, 1), (3, 1), (4, 1)]);
    assert!(matches!(
        upper.outcomes.recv().await.unwrap(),
        SubmitOutcome::Accepted { message, .. } if message.id == 1
    ));
    assert!(upper.outcomes.try_recv().is_err(), "no message failed");
    assert_eq!(upper.counters.snapshot().failed, 0);
}

#[tokio::test]
async fn throttled_messages_are_all_accepted_exactly_once() {
    guard(async {
        const TOTAL: u64 = 30;
        let params = params()
            .with_window_size(5)
            .unwrap()
            .with_max_rate(0)
            .with_throttle_pause(Duration::from_millis(10), Duration::from_millis(40))
            .unwrap();
        let (mut upper, mut peer) = bound(params, vec![]).await;
        for id in 0..TOTAL {
            upper.queue.send(message(id)).await.unwrap();
        }
        let smsc = tokio::spawn(async move {
            let mut submits = 0u64;
            let mut throttled = 0u64;
            let mut accepted = 0u64;
            while accepted < TOTAL {
                let (h, pdu) = peer.expect().await;
                match pdu {
                    Pdu::SubmitSm(_) => {
                        submits += 1;
                        if submits.is_multiple_of(3) {
                            throttled += 1;
                            peer.answer_submit(h.sequence_number, CommandStatus::EsmeRthrottled)
                                .await;
                        } else {
                            accepted += 1;
                            peer.answer_submit(h.sequence_number, CommandStatus::EsmeRok)
                                .await;
                        }
                    }
                    Pdu::EnquireLink => {
                        peer.send(
                            Pdu::EnquireLinkResp,
                            h.sequence_number,
                            CommandStatus::EsmeRok,
                        )
                        .await
                    }
                    other => panic!("unexpected {:?}", other.command_id()),
                }
            }
            (submits, throttled, peer)
        });
        let mut seen = BTreeMap::new();
        for _ in 0..TOTAL {
            match upper.outcomes.recv().await.unwrap() {
                SubmitOutcome::Accepted { message, .. } => {
                    *seen.entry(message.id).or_insert(0) += 1
                }
                other => panic!("{other:?}"),
            }
        }
        let (submits, throttled, _peer) = smsc.await.unwrap();
        assert!(throttled > 0);
        assert_eq!(seen.len() as u64, TOTAL);
        assert!(
            seen.values().all(|n| *n == 1),
            "accepted more than once: {seen:?}"
        );
        let totals = upper.counters.snapshot();
        assert_eq!(totals.submitted, submits);
        assert_eq!(totals.resent, throttled);
        assert_eq!(totals.acknowledged, TOTAL);
        assert_eq!(totals.failed, 0);
    })
    .await;
}

#[tokio::test]
async fn a_dropped_link_hands_everything_in_flight_back_for_resending() {
    guard(async {
        let counters = Arc::new(Counters::default());
        let params = params().with_window_size(5).unwrap().with_max_rate(0);
        let (mut upper, mut peer) = bound_with(params.clone(), vec![], counters.clone()).await;
        for id in 0..5 {
            upper.queue.send(message(id)).await.unwrap();
        }
        let mut seqs = Vec::new();
        while seqs.len() < 5 {
            let (h, pdu) = peer.expect().await;
            assert!(matches!(pdu, Pdu::SubmitSm(_)));
            seqs.push(h.sequence_number);
        }
        peer.answer_submit(seqs[0], CommandStatus::EsmeRok).await;
        peer.answer_submit(seqs[1], CommandStatus::EsmeRok).await;
        // Wait until both acceptances are through before the link drops.
        for _ in 0..2 {
            assert!(matches!(
                upper.outcomes.recv().await.unwrap(),
                SubmitOutcome::Accepted { .. }
            ));
        }
        peer.drop_connection();
        let end = upper.session.await.unwrap();
        assert!(
            matches!(end.result, Err(SessionError::LinkLost { .. })),
            "{:?}",
            end.result
        );
        let ids: Vec<u64> = end.unsent.iter().map(|m| m.id).collect();
        assert_eq!(ids, vec![2, 3, 4]);
        assert!(end.unsent.iter().all(|m| m.attempts == 1));

        // The next session sends them again first.
        let (mut upper2, mut peer2) = bound_with(params, end.unsent.into(), counters.clone()).await;
        for _ in 0..3 {
            let (h, _) = peer2.expect().await;
            peer2
                .answer_submit(h.sequence_number, CommandStatus::EsmeRok)
                .await;
        }
        let mut ids = Vec::new();
        for _ in 0..3 {
            match upper2.outcomes.recv().await.unwrap() {
                SubmitOutcome::Accepted { message, .. } => {
                    assert_eq!(message.attempts, 2);
                    ids.push(message.id);
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(ids, vec![2, 3, 4]);
        let totals = counters.snapshot();
        assert_eq!(
            (totals.submitted, totals.resent, totals.acknowledged),
            (8, 3, 5)
        );
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn unanswered_enquire_link_declares_the_link_dead() {
    let params = params()
        .with_enquire_link_interval(Duration::from_secs(10))
        .unwrap()
        .with_response_timeout(Duration::from_secs(5))
        .unwrap();
    let (upper, mut peer) = bound_in_memory(params, vec![]).await;
    let (_, pdu) = peer.expect().await;
    assert_eq!(pdu, Pdu::EnquireLink);
    let end = upper.session.await.unwrap();
    assert!(
        matches!(end.result, Err(SessionError::EnquireLinkUnanswered { .. })),
        "{:?}",
        end.result
    );
}

#[tokio::test(start_paused = true)]
async fn answered_enquire_links_keep_the_session_up() {
    let params = params()
        .with_enquire_link_interval(Duration::from_secs(10))
        .unwrap();
    let (upper, mut peer) = bound_in_memory(params, vec![]).await;
    for _ in 0..3 {
        let (h, pdu) = peer.expect().await;
        assert_eq!(pdu, Pdu::EnquireLink);
        peer.send(
            Pdu::EnquireLinkResp,
            h.sequence_number,
            CommandStatus::EsmeRok,
        )
        .await;
    }
    assert!(!upper.session.is_finished());
}

#[tokio::test]
async fn smsc_unbind_is_answered_and_ends_the_session() {
    guard(async {
        // Window full: two submits await responses when the SMSC unbinds.
        let params = params().with_window_size(2).unwrap().with_max_rate(0);
        let (upper, mut peer) = bound(params, (0..3).map(message).collect()).await;
        for _ in 0..2 {
            assert!(matches!(peer.expect().await.1, Pdu::SubmitSm(_)));
        }
        peer.send(Pdu::Unbind, 77, CommandStatus::EsmeRok).await;
        let (h, pdu) = peer.expect().await;
        assert_eq!((pdu, h.sequence_number), (Pdu::UnbindResp, 77));
        let end = upper.session.await.unwrap();
        assert_eq!(end.result.unwrap(), EndReason::UnboundBySmsc);
        assert_eq!(
            end.unsent.iter().map(|m| m.id).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        assert!(
            peer.read().await.is_none(),
            "the session closes the connection"
        );
    })
    .await;
}

/// A submit keeps its place in the record window after its response, until the layer above
/// drops its outcome (once recorded): written-and-unrecorded never exceeds the places, even
/// with a larger SMPP window and an SMSC that answers at once.
#[tokio::test]
async fn written_submits_wait_for_their_outcomes_to_be_recorded() {
    guard(async {
        let params = params().with_window_size(10).unwrap().with_max_rate(0);
        let (mut upper, mut peer) = bound_recorded(params, 3).await;
        for id in 0..6 {
            upper.queue.send(message(id)).await.unwrap();
        }
        let mut kept = Vec::new();
        for expected in 0..3 {
            let (h, pdu) = peer.expect().await;
            assert!(matches!(pdu, Pdu::SubmitSm(_)), "{pdu:?}");
            peer.answer_submit(h.sequence_number, CommandStatus::EsmeRok)
                .await;
            let outcome = upper.outcomes.recv().await.unwrap();
            assert_eq!(outcome_id(&outcome), expected);
            kept.push(outcome);
        }
        // Three answered and not recorded: nothing more is written.
        assert!(
            tokio::time::timeout(Duration::from_millis(300), peer.read())
                .await
                .is_err(),
            "a fourth submit was written with every place held"
        );
        // Recording one outcome frees one place: exactly one more submit.
        drop(kept.remove(0));
        let (h, _) = peer.expect().await;
        peer.answer_submit(h.sequence_number, CommandStatus::EsmeRok)
            .await;
        kept.push(upper.outcomes.recv().await.unwrap());
        assert!(
            tokio::time::timeout(Duration::from_millis(300), peer.read())
                .await
                .is_err(),
            "more than one submit after one place was freed"
        );
        drop(kept);
        for _ in 4..6 {
            let (h, _) = peer.expect().await;
            peer.answer_submit(h.sequence_number, CommandStatus::EsmeRok)
                .await;
        }
        let last: Vec<u64> = [
            upper.outcomes.recv().await.unwrap(),
            upper.outcomes.recv().await.unwrap(),
        ]
        .iter()
        .map(outcome_id)
        .collect();
        assert_eq!(last, vec![4, 5]);
    })
    .await;
}

fn outcome_id(outcome: &SubmitOutcome) -> u64 {
    match outcome {
        SubmitOutcome::Accepted { message, .. } | SubmitOutcome::Failed { message, .. } => {
            message.id
        }
    }
}

#[tokio::test]
async fn a_closed_gate_ends_the_session_without_another_write() {
    guard(async {
        let params = params().with_window_size(2).unwrap().with_max_rate(0);
        let (upper, mut peer) = bound(params, vec![message(0)]).await;
        let (h, pdu) = peer.expect().await;
        assert!(matches!(pdu, Pdu::SubmitSm(_)));
        // The licence runs out while message 0 awaits its response and 1 is queued.
        upper.gate.close();
        upper.queue.send(message(1)).await.unwrap();
        peer.answer_submit(h.sequence_number, CommandStatus::EsmeRok)
            .await;
        let end = upper.session.await.unwrap();
        assert_eq!(end.result.unwrap(), EndReason::Fenced);
        // Not even an unbind or a response: the connection just closes.
        assert!(
            peer.read().await.is_none(),
            "nothing written after the gate closed"
        );
        assert!(
            end.unsent.iter().all(|m| m.id == 0 || m.id == 1),
            "{:?}",
            end.unsent.iter().map(|m| m.id).collect::<Vec<_>>()
        );
    })
    .await;
}

#[tokio::test]
async fn graceful_stop_waits_for_responses_unbinds_and_returns_unsent() {
    guard(async {
        let params = params().with_window_size(2).unwrap().with_max_rate(0);
        let resend: Vec<_> = (0..5).map(message).collect();
        let (mut upper, mut peer) = bound(params, resend).await;
        let mut seqs = Vec::new();
        while seqs.len() < 2 {
            let (h, _) = peer.expect().await;
            seqs.push(h.sequence_number);
        }
        upper.stop.send(true).unwrap();
        // Let the session see the stop before its window frees up.
        tokio::task::yield_now().await;
        for seq in seqs {
            peer.answer_submit(seq, CommandStatus::EsmeRok).await;
        }
        let (h, pdu) = peer.expect().await;
        assert_eq!(pdu, Pdu::Unbind, "no new submit after the stop");
        peer.send(Pdu::UnbindResp, h.sequence_number, CommandStatus::EsmeRok)
            .await;
        let end = upper.session.await.unwrap();
        assert_eq!(end.result.unwrap(), EndReason::Stopped);
        let ids: Vec<u64> = end.unsent.iter().map(|m| m.id).collect();
        assert_eq!(ids, vec![2, 3, 4]);
        assert!(end.unsent.iter().all(|m| m.attempts == 0));
        for _ in 0..2 {
            assert!(matches!(
                upper.outcomes.recv().await.unwrap(),
                SubmitOutcome::Accepted { .. }
            ));
        }
    })
    .await;
}

#[tokio::test]
async fn malformed_and_unknown_pdus_are_nacked_and_the_session_survives() {
    guard(async {
        let (upper, mut peer) = bound(params(), vec![]).await;
        // An unknown command_id.
        peer.send_raw(&[0, 0, 0, 16, 0, 0, 0, 0x99, 0, 0, 0, 0, 0, 0, 0, 5])
            .await;
        let (h, pdu) = peer.expect().await;
        assert_eq!((pdu, h.sequence_number), (Pdu::GenericNack, 5));
        assert_eq!(h.command_status, CommandStatus::EsmeRinvcmdid);
        // A deliver_sm whose body stops inside service_type.
        peer.send_raw(&[
            0, 0, 0, 19, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 6, b'a', b'b', b'c',
        ])
        .await;
        let (h, _) = peer.expect().await;
        assert_eq!(h.sequence_number, 6);
        assert_ne!(h.command_status, CommandStatus::EsmeRok);
        // Still alive.
        peer.send(Pdu::EnquireLink, 8, CommandStatus::EsmeRok).await;
        let (h, pdu) = peer.expect().await;
        assert_eq!((pdu, h.sequence_number), (Pdu::EnquireLinkResp, 8));
        assert!(!upper.session.is_finished());
    })
    .await;
}

#[tokio::test]
async fn deliver_sm_is_acknowledged_only_after_the_sink_accepts_it() {
    guard(async {
        let (mut upper, mut peer) = bound(params(), vec![]).await;
        let receipt = DeliverSm {
            esm_class: EsmClass(EsmClass::DELIVERY_RECEIPT),
            ..Default::default()
        };
        peer.send(Pdu::DeliverSm(receipt), 40, CommandStatus::EsmeRok)
            .await;
        peer.send(Pdu::EnquireLink, 41, CommandStatus::EsmeRok)
            .await;
        let inbound = upper.inbound.recv().await.unwrap();
        assert!(inbound.is_receipt);
        assert!(matches!(inbound.pdu, InboundPdu::Deliver(_)));
        // The enquire_link after it is answered, the deliver_sm is not (not accepted yet).
        let (h, pdu) = peer.expect().await;
        assert_eq!((pdu, h.sequence_number), (Pdu::EnquireLinkResp, 41));
        inbound.accept();
        let (h, pdu) = peer.expect().await;
        assert_eq!(h.sequence_number, 40);
        assert_eq!(h.command_status, CommandStatus::EsmeRok);
        assert!(matches!(pdu, Pdu::DeliverSmResp(_)));

        // Dropped unaccepted: a temporary error asks the SMSC to deliver it again.
        peer.send(
            Pdu::DeliverSm(DeliverSm::default()),
            42,
            CommandStatus::EsmeRok,
        )
        .await;
        drop(upper.inbound.recv().await.unwrap());
        let (h, _) = peer.expect().await;
        assert_eq!(h.sequence_number, 42);
        assert_eq!(h.command_status, CommandStatus::EsmeRxTAppn);
        let totals = upper.counters.snapshot();
        assert_eq!((totals.received, totals.receipts), (2, 1));
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn submits_are_paced_at_the_configured_rate() {
    let params = params().with_window_size(100).unwrap().with_max_rate(5);
    let (upper, mut peer) = bound_in_memory(params, vec![]).await;
    for id in 0..11 {
        upper.queue.send(message(id)).await.unwrap();
    }
    let mut times = Vec::new();
    while times.len() < 11 {
        let (h, pdu) = peer.expect().await;
        if let Pdu::SubmitSm(_) = pdu {
            times.push(tokio::time::Instant::now());
            peer.answer_submit(h.sequence_number, CommandStatus::EsmeRok)
                .await;
        }
    }
    // Virtual time: one submit at once, then one every 200 ms, never sooner.
    for (k, t) in times.iter().enumerate() {
        let since = *t - times[0];
        let due = Duration::from_millis(200 * k as u64);
        assert!(since >= due, "submit {k} after {since:?}, due at {due:?}");
        assert!(
            since < due + Duration::from_millis(5),
            "submit {k} late: {since:?}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn transient_errors_are_retried_a_bounded_number_of_times() {
    let params = params()
        .with_transient_retry_limit(2)
        .unwrap()
        .with_enquire_link_interval(Duration::from_secs(3600))
        .unwrap();
    let (mut upper, mut peer) = bound_in_memory(params, vec![]).await;
    upper.queue.send(message(1)).await.unwrap();
    for _ in 0..3 {
        let (h, pdu) = peer.expect().await;
        assert!(matches!(pdu, Pdu::SubmitSm(_)));
        peer.answer_submit(h.sequence_number, CommandStatus::EsmeRsyserr)
            .await;
    }
    match upper.outcomes.recv().await.unwrap() {
        SubmitOutcome::Failed { message, reason } => {
            assert_eq!(message.attempts, 3);
            assert_eq!(
                reason,
                FailureReason::RetriesExhausted(CommandStatus::EsmeRsyserr)
            );
        }
        other => panic!("{other:?}"),
    }
    // A permanent error is not retried at all.
    upper.queue.send(message(2)).await.unwrap();
    let (h, _) = peer.expect().await;
    peer.answer_submit(h.sequence_number, CommandStatus::EsmeRinvdstadr)
        .await;
    match upper.outcomes.recv().await.unwrap() {
        SubmitOutcome::Failed { message, reason } => {
            assert_eq!(message.attempts, 1);
            assert_eq!(
                reason,
                FailureReason::Rejected(CommandStatus::EsmeRinvdstadr)
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_bind_state_error_ends_the_session_and_hands_the_message_back() {
    guard(async {
        let (upper, mut peer) = bound(params(), vec![]).await;
        upper.queue.send(message(9)).await.unwrap();
        let (h, _) = peer.expect().await;
        peer.answer_submit(h.sequence_number, CommandStatus::EsmeRinvbndsts)
            .await;
        let end = upper.session.await.unwrap();
        assert!(
            matches!(end.result, Err(SessionError::ProtocolViolation { .. })),
            "{:?}",
            end.result
        );
        assert_eq!(end.unsent.iter().map(|m| m.id).collect::<Vec<_>>(), vec![9]);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn graceful_stop_is_bounded_when_responses_never_come() {
    let params = params()
        .with_drain_timeout(Duration::from_secs(5))
        .unwrap()
        .with_enquire_link_interval(Duration::from_secs(3600))
        .unwrap();
    let (upper, mut peer) = bound_in_memory(params, (0..2).map(message).collect()).await;
    for _ in 0..2 {
        let (_, pdu) = peer.expect().await;
        assert!(matches!(pdu, Pdu::SubmitSm(_)));
    }
    upper.stop.send(true).unwrap();
    let (h, pdu) = peer.expect().await;
    assert_eq!(pdu, Pdu::Unbind);
    peer.send(Pdu::UnbindResp, h.sequence_number, CommandStatus::EsmeRok)
        .await;
    let end = upper.session.await.unwrap();
    assert_eq!(end.result.unwrap(), EndReason::Stopped);
    assert_eq!(
        end.unsent.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![0, 1]
    );
}

/// A stream that counts the writes made to it.
struct CountingWrites {
    inner: tokio::io::DuplexStream,
    writes: Arc<AtomicUsize>,
}

impl AsyncRead for CountingWrites {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CountingWrites {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(_))) {
            self.writes.fetch_add(1, Ordering::SeqCst);
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[tokio::test]
async fn a_burst_of_submits_leaves_in_a_few_writes() {
    guard(async {
        const N: u64 = 50;
        let (client, mut peer) = memory_pair();
        let writes = Arc::new(AtomicUsize::new(0));
        let client = CountingWrites {
            inner: client,
            writes: writes.clone(),
        };
        let params = params()
            .with_window_size(N as usize)
            .unwrap()
            .with_max_rate(0);
        let (session, _) = tokio::join!(
            Session::bind(client, params),
            peer.answer_bind(CommandStatus::EsmeRok)
        );
        let after_bind = writes.load(Ordering::SeqCst);
        let upper = crate::support::peer::run(
            session.unwrap(),
            (0..N).map(message).collect(),
            Arc::new(Counters::default()),
        );
        for _ in 0..N {
            assert!(matches!(peer.expect().await.1, Pdu::SubmitSm(_)));
        }
        let submit_writes = writes.load(Ordering::SeqCst) - after_bind;
        // One write per PDU would be 50; coalescing makes it one or two.
        assert!(submit_writes <= 3, "{submit_writes} writes for {N} submits");
        drop(upper);
    })
    .await;
}

/// Keeps the peer type in use in every build of this file.
#[allow(dead_code)]
fn _peer_is_used(_: Peer) {}

#[tokio::test]
async fn data_sm_is_handed_up_and_a_transmitter_refuses_deliver_sm() {
    guard(async {
        let (mut upper, mut peer) = bound(params(), vec![]).await;
        peer.send(Pdu::DataSm(DataSm::default()), 50, CommandStatus::EsmeRok)
            .await;
        let inbound = upper.inbound.recv().await.unwrap();
        assert!(matches!(inbound.pdu, InboundPdu::Data(_)));
        inbound.accept();
        let (h, pdu) = peer.expect().await;
        assert!(matches!(pdu, Pdu::DataSmResp(_)));
        assert_eq!(
            (h.sequence_number, h.command_status),
            (50, CommandStatus::EsmeRok)
        );

        // Bound as transmitter, a deliver_sm is out of place: ESME_RINVBNDSTS, session alive.
        let tx = params().with_bind_mode(BindMode::Transmitter);
        let (upper, mut peer) = bound(tx, vec![]).await;
        peer.send(
            Pdu::DeliverSm(DeliverSm::default()),
            51,
            CommandStatus::EsmeRok,
        )
        .await;
        let (h, pdu) = peer.expect().await;
        assert!(matches!(pdu, Pdu::DeliverSmResp(_)));
        assert_eq!(
            (h.sequence_number, h.command_status),
            (51, CommandStatus::EsmeRinvbndsts)
        );
        peer.send(Pdu::EnquireLink, 52, CommandStatus::EsmeRok)
            .await;
        assert_eq!(peer.expect().await.1, Pdu::EnquireLinkResp);
        assert!(!upper.session.is_finished());
    })
    .await;
}

#[tokio::test]
async fn hostile_bytes_never_panic_the_session_and_lose_no_message() {
    guard(async {
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for _ in 0..40 {
            let resend: Vec<_> = (0..3).map(message).collect();
            let (mut upper, mut peer) =
                bound_in_memory(params().with_window_size(2).unwrap(), resend).await;
            // Plausible headers (valid lengths, real and unknown command ids) with random
            // bodies, then pure noise.
            let mut bytes = Vec::new();
            for _ in 0..20 {
                let body_len = (next() % 40) as u32;
                let ids = [
                    0x8000_0004u32,
                    5,
                    0x103,
                    0x15,
                    6,
                    0x8000_0000,
                    0x99,
                    0x8000_0009,
                ];
                let id = ids[(next() % ids.len() as u64) as usize];
                bytes.extend_from_slice(&(16 + body_len).to_be_bytes());
                bytes.extend_from_slice(&id.to_be_bytes());
                bytes.extend_from_slice(&((next() % 0x100) as u32).to_be_bytes());
                bytes.extend_from_slice(&((next() % 8) as u32).to_be_bytes());
                bytes.extend((0..body_len).map(|_| next() as u8));
            }
            bytes.extend((0..64).map(|_| next() as u8));
            peer.send_raw(&bytes).await;
            drop(peer);
            let end = upper.session.await.expect("the session task panicked");
            // Any end is fine (a random unbind ends it cleanly); a panic or a loss is not.
            // Every message is accounted for: outcome or handed back.
            upper.outcomes.close();
            let mut resolved = end.unsent.len();
            while upper.outcomes.recv().await.is_some() {
                resolved += 1;
            }
            assert_eq!(resolved, 3);
        }
    })
    .await;
}
