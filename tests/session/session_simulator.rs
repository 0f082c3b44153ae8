//! The session and the channel task against the built-in SMSC simulator over loopback TCP:
//! a second, independent implementation of the other end of the protocol.

use crate::support::channel::{accepted_once, message, params, plain_simulator, NoWait};
use crate::support::events::split_events;
use crate::support::hang_guard::{guard, HANG_GUARD};
use std::net::SocketAddr;
use std::time::Duration;

use smppd::codec::CommandStatus;
use smppd::secret::Secret;
use smppd::session::{OutboundMessage, Session, SessionError, SessionParams, SubmitOutcome};
use smppd::simulator::{Faults, MoMessage};
use smppd::supervisor::{spawn, Backoff, ChannelFailure, ChannelHandle, ChannelIo, ChannelState};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

struct Channel {
    handle: ChannelHandle,
    queue: mpsc::Sender<OutboundMessage>,
    outcomes: mpsc::UnboundedReceiver<SubmitOutcome>,
    inbound: mpsc::UnboundedReceiver<smppd::session::Inbound>,
}

fn channel(addr: SocketAddr, params: SessionParams) -> Channel {
    let (queue, queue_rx) = mpsc::channel(1000);
    let (events, outcomes, inbound) = split_events();
    let connect = move || async move {
        let stream = TcpStream::connect(addr).await.map_err(|_| {
            ChannelFailure::Connect(smppd::transport::TransportError::ConnectRefused {
                address: addr,
            })
        })?;
        stream.set_nodelay(true).ok();
        Ok(stream)
    };
    let handle = spawn(
        "simulated",
        params,
        Backoff::with_jitter(10, Box::new(NoWait)).unwrap(),
        connect,
        ChannelIo {
            queue: queue_rx,
            events,
            gate: smppd::session::SendGate::always(),
            record: None,
        },
    );
    Channel {
        handle,
        queue,
        outcomes,
        inbound,
    }
}

#[tokio::test]
async fn wrong_password_is_refused_by_the_simulator() {
    guard(async {
        let sim = plain_simulator(Faults::default()).await;
        let stream = TcpStream::connect(sim.local_addr()).await.unwrap();
        let params = SessionParams::new("esme", Secret::new("nope")).unwrap();
        match Session::bind(stream, params).await {
            Err(SessionError::BindRejected { status }) => {
                assert_eq!(status, CommandStatus::EsmeRinvpaswd)
            }
            other => panic!("{other:?}"),
        }
    })
    .await;
}

#[tokio::test]
async fn throttled_submits_receipts_and_mo_all_arrive_exactly_once() {
    guard(async {
        const N: u64 = 20;
        const WINDOW: usize = 5;
        let sim = plain_simulator(Faults {
            throttle_every: Some(3),
            ..Faults::default()
        })
        .await;
        let params = params(WINDOW)
            .with_throttle_pause(Duration::from_millis(10), Duration::from_millis(100))
            .unwrap();
        let mut ch = channel(sim.local_addr(), params);
        for id in 0..N {
            ch.queue.send(message(id, 1)).await.unwrap();
        }
        accepted_once(&mut ch.outcomes, N).await;

        // Every receipt is accepted by the layer above, so the SMSC sees each acknowledged.
        let mut receipts = 0;
        while receipts < N {
            let inbound = ch.inbound.recv().await.unwrap();
            assert!(inbound.is_receipt);
            inbound.accept();
            receipts += 1;
        }
        sim.wait_for_acknowledged_receipts(N as usize, HANG_GUARD)
            .await
            .unwrap();

        // A mobile-originated message, answered only once accepted.
        let mo = MoMessage {
            source_addr: "447700900002".into(),
            destination_addr: "12345".into(),
            short_message: b"reply".to_vec(),
            esm_class: 0,
        };
        let inject = sim.inject_mo("esme", mo, HANG_GUARD);
        let accept = async {
            let inbound = ch.inbound.recv().await.unwrap();
            assert!(!inbound.is_receipt);
            inbound.accept();
        };
        let (status, ()) = tokio::join!(inject, accept);
        assert_eq!(status.unwrap(), CommandStatus::EsmeRok);

        let record = sim.record();
        assert!(record.max_outstanding() <= WINDOW as u64);
        let throttled = record.submits.len() as u64 - N;
        assert!(throttled > 0);
        let mut status = ch.handle.status.clone();
        let end = ch.handle.stop().await.unwrap();
        assert!(end.unsent.is_empty());
        let status = status.borrow_and_update().clone();
        assert_eq!(status.state, ChannelState::Stopped);
        assert_eq!(status.counters.resent, throttled);
        assert_eq!(status.counters.acknowledged, N);
        assert_eq!(
            (status.counters.received, status.counters.receipts),
            (N + 1, N)
        );
    })
    .await;
}

#[tokio::test]
async fn links_cut_mid_window_lose_nothing() {
    guard(async {
        const N: u64 = 12;
        let sim = plain_simulator(Faults {
            drop_after: Some(4),
            ..Faults::default()
        })
        .await;
        // A window of 3 lets the first three answers of each connection arrive before the
        // fourth submit triggers the cut, so every connection makes progress.
        let mut ch = channel(sim.local_addr(), params(3));
        for id in 0..N {
            ch.queue.send(message(id, 0)).await.unwrap();
        }
        accepted_once(&mut ch.outcomes, N).await;
        let mut status = ch.handle.status.clone();
        ch.handle.stop().await.unwrap();
        let status = status.borrow_and_update().clone();
        assert!(status.binds >= 2, "the link was cut and re-bound");
        assert!(status.counters.resent > 0);
        assert_eq!(status.counters.submitted, N + status.counters.resent);
        let last = status.last_error.unwrap();
        assert_eq!((last.code, last.reason), (43009, "link_lost"), "{last:?}");
    })
    .await;
}
