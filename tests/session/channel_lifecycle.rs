//! A channel's life beyond message flow, against the simulator through the real supervisor:
//! a dead keep-alive is reported and the channel binds again, a graceful stop unbinds and
//! loses nothing, and over mutual TLS mobile-originated messages and delivery receipts reach
//! the layer above and are acknowledged to the SMSC only once accepted.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use smppd::codec::CommandStatus;
use smppd::daemon::channels;
use smppd::session::SubmitOutcome;
use smppd::simulator::{AfterBind, DeliverKind, Faults, MoMessage, TlsVersions};
use smppd::supervisor::{spawn, Backoff, ChannelFailure, ChannelIo, ChannelState};
use smppd::transport::TransportError;
use tokio::net::TcpStream;
use tokio::sync::mpsc;

use crate::support::channel::*;
use crate::support::hang_guard::HANG_GUARD;

#[tokio::test]
async fn an_unanswered_enquire_link_is_reported_and_the_channel_binds_again() {
    guard(async {
        let sim = plain_simulator(Faults {
            ignore_enquire_link: true,
            ..Faults::default()
        })
        .await;
        let params = params(1)
            .with_enquire_link_interval(Duration::from_millis(1000))
            .unwrap()
            .with_response_timeout(Duration::from_millis(1000))
            .unwrap();
        let ch = tcp_channel(sim.local_addr(), params);
        let record = sim.wait_for_binds(2, HANG_GUARD).await.unwrap();
        assert!(!record.connections[0].open, "the dead link was closed");
        assert!(!record.connections[0].unbound, "a dead link is not unbound");
        // The failure is recorded before the back-off, so before the second bind.
        let last = ch
            .handle
            .status
            .borrow()
            .last_error
            .clone()
            .expect("reported");
        assert_eq!(
            (last.code, last.reason),
            (43009, "enquire_link_unanswered"),
            "{last:?}"
        );
        // Counted by code for `smppd_channel_failures_total`, with its follow-up 43011;
        // the binds dated for `smppd_channel_seconds_since_bind`.
        let status = ch.handle.status.borrow().clone();
        assert!(status.failures.get(43009) >= 1, "{status:?}");
        assert_eq!(
            status.failures.get(43011),
            status.failures.get(43009),
            "{status:?}"
        );
        assert_eq!(status.failures.get(43010), 0, "{status:?}");
        assert!(status.last_bind.is_some(), "{status:?}");
        assert!(
            status.since_last_bind().expect("bound before") < HANG_GUARD,
            "{status:?}"
        );
        ch.handle.stop().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn an_smsc_that_unbinds_after_every_bind_is_reconnected_with_growing_pauses() {
    guard(async {
        let sim = plain_simulator(Faults {
            after_bind: Some(AfterBind::Unbind),
            ..Faults::default()
        })
        .await;
        let addr = sim.local_addr();
        let times = Arc::new(Mutex::new(Vec::new()));
        let seen = times.clone();
        let connect = move || {
            seen.lock().unwrap().push(Instant::now());
            async move {
                TcpStream::connect(addr).await.map_err(|_| {
                    ChannelFailure::Connect(TransportError::ConnectRefused { address: addr })
                })
            }
        };
        let (_queue, queue_rx) = mpsc::channel(10);
        let (events, _outcomes, _inbound) = split_events();
        let handle = spawn(
            "flappy",
            params(1),
            Backoff::with_jitter(10, Box::new(Longest)).unwrap(),
            connect,
            ChannelIo {
                queue: queue_rx,
                events,
                gate: smppd::session::SendGate::always(),
                record: None,
            },
        );
        sim.wait_for_binds(3, HANG_GUARD).await.unwrap();
        // Each bind was accepted and undone at once: no reconnect comes sooner than the
        // back-off step allows (1 s, then 2 s), where a bind used to reset it to the first.
        let times = times.lock().unwrap().clone();
        assert!(times.len() >= 3, "{times:?}");
        assert!(
            times[1] - times[0] >= Duration::from_millis(950),
            "{times:?}"
        );
        assert!(
            times[2] - times[1] >= Duration::from_millis(1950),
            "{times:?}"
        );
        handle.stop().await.unwrap();
        sim.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn a_graceful_stop_unbinds_and_every_message_is_accepted_or_handed_back() {
    guard(async {
        const N: u64 = 20;
        const WINDOW: usize = 5;
        // Slow answers, so that the stop finds a full window in flight.
        let sim = plain_simulator(Faults {
            response_delay: Duration::from_millis(300),
            ..Faults::default()
        })
        .await;
        let mut ch = tcp_channel(sim.local_addr(), params(WINDOW));
        for id in 0..N {
            ch.queue.send(message(id, 0)).await.unwrap();
        }
        wait_status(&ch.handle.status, |s| s.state == ChannelState::Bound).await;
        sim.wait_for_submits(WINDOW, HANG_GUARD).await.unwrap();

        let mut status = ch.handle.status.clone();
        let mut end = ch.handle.stop().await.unwrap();
        assert_eq!(status.borrow_and_update().state, ChannelState::Stopped);

        // Every message is in exactly one place: accepted, handed back unsent, or still
        // queued. None failed, none is missing.
        let mut accepted = BTreeSet::new();
        while let Ok(outcome) = ch.outcomes.try_recv() {
            match outcome {
                SubmitOutcome::Accepted { message, .. } => {
                    assert!(accepted.insert(message.id), "{} twice", message.id)
                }
                other => panic!("a graceful stop fails nothing: {other:?}"),
            }
        }
        assert!(
            accepted.len() >= WINDOW,
            "the window in flight was drained: {accepted:?}"
        );
        let mut back = BTreeSet::new();
        for m in end.unsent.drain(..) {
            assert!(back.insert(m.id), "{} handed back twice", m.id);
        }
        while let Ok(m) = end.queue.try_recv() {
            assert!(back.insert(m.id), "{} handed back twice", m.id);
        }
        assert!(accepted.is_disjoint(&back), "{accepted:?} / {back:?}");
        let all: BTreeSet<u64> = accepted.union(&back).copied().collect();
        assert_eq!(all, (0..N).collect::<BTreeSet<_>>());

        // The SMSC saw an unbind and the connection closed; it accepted exactly the messages
        // the channel reports accepted, once each, and never saw the ones handed back.
        let record = sim
            .wait_until("the connection to close", HANG_GUARD, |r| {
                r.connections.iter().all(|c| !c.open)
            })
            .await
            .unwrap();
        assert_eq!(record.connections.len(), 1);
        assert!(record.connections[0].unbound, "the SMSC saw an unbind");
        let at_smsc = accepted_at_simulator(&record);
        let expected: std::collections::BTreeMap<Vec<u8>, u64> =
            accepted.iter().map(|id| (text(*id), 1)).collect();
        assert_eq!(at_smsc, expected);
        assert_eq!(record.submits.len(), accepted.len());
    })
    .await;
}

#[tokio::test]
async fn mobile_originated_messages_and_receipts_arrive_over_mutual_tls() {
    guard(async {
        let sim = mutual_tls_simulator(TlsVersions::Tls13, Faults::default()).await;
        let config = tls_channel_config(sim.local_addr().port(), "1.3", "");
        let (events, mut outcomes, mut inbound) = split_events();
        let (queue, queue_rx) = mpsc::channel(100);
        let channel = channels::supervise(
            &config,
            smppd::supervisor::ChannelIo {
                queue: queue_rx,
                events,
                gate: smppd::session::SendGate::always(),
                record: None,
            },
        );
        wait_status(&channel.status, |s| s.state == ChannelState::Bound).await;

        // A mobile-originated message: the SMSC's deliver_sm is answered only once the layer
        // above accepts it.
        let mo = MoMessage {
            source_addr: "447700900002".into(),
            destination_addr: "12345".into(),
            short_message: b"reply".to_vec(),
            esm_class: 0,
        };
        let inject = sim.inject_mo(SYSTEM_ID, mo, HANG_GUARD);
        let accept = async {
            let msg = inbound.recv().await.expect("inbound open");
            assert!(!msg.is_receipt);
            msg.accept();
        };
        let (status, ()) = tokio::join!(inject, accept);
        assert_eq!(status.unwrap(), CommandStatus::EsmeRok);
        let record = sim.record();
        assert_eq!(record.delivers.len(), 1);
        assert_eq!(record.delivers[0].kind, DeliverKind::MobileOriginated);
        assert_eq!(
            record.delivers[0].response_status,
            Some(CommandStatus::EsmeRok)
        );

        // A submit asking for a receipt: the receipt arrives flagged as one, for that message.
        queue.send(message(7, 1)).await.unwrap();
        let message_id = match guard(outcomes.recv()).await.unwrap() {
            SubmitOutcome::Accepted {
                message,
                message_id,
            } => {
                assert_eq!(message.id, 7);
                message_id
            }
            other => panic!("{other:?}"),
        };
        let receipt = guard(inbound.recv()).await.expect("inbound open");
        assert!(receipt.is_receipt);
        receipt.accept();
        let record = sim
            .wait_for_acknowledged_receipts(1, HANG_GUARD)
            .await
            .unwrap();
        assert_eq!(
            record.acknowledged_receipts()[0].kind,
            DeliverKind::Receipt { message_id }
        );
        assert!(channel.stop().await.is_some());
        sim.shutdown().await;
    })
    .await;
}
