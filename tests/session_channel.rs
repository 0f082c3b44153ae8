//! The per-channel task: connect, bind, run, back off, reconnect, stop. Paused clock, so
//! sessions run over in-memory pipes (see `session_peer`).

mod events_support;
mod session_peer;

use events_support::split_events;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use smppd::codec::{CommandStatus, Pdu};
use smppd::session::SubmitOutcome;
use smppd::supervisor::{spawn, Backoff, ChannelFailure, ChannelIo, ChannelState, Jitter};
use smppd::transport::{InitError, TransportError};
use tokio::io::DuplexStream;
use tokio::sync::mpsc;

use session_peer::{message, params, Peer};

/// Always the longest wait of each step, so the delays are 1 s, 2 s, 4 s ...
struct Longest;
impl Jitter for Longest {
    fn next_u32(&mut self) -> u32 {
        u32::MAX
    }
}

fn refused() -> ChannelFailure {
    ChannelFailure::Connect(TransportError::ConnectRefused {
        address: "127.0.0.1:2775".parse().unwrap(),
    })
}

/// A connect function whose first `failures` calls are refused; later calls hand the SMSC
/// end of a fresh in-memory pipe to the test.
/// What a test connect function returns.
type Connecting = Pin<Box<dyn Future<Output = Result<DuplexStream, ChannelFailure>> + Send>>;

fn connector(
    failures: u32,
) -> (
    impl FnMut() -> Connecting + Send + 'static,
    mpsc::UnboundedReceiver<Peer<DuplexStream>>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let calls = Arc::new(AtomicU32::new(0));
    let connect = move || {
        let n = calls.fetch_add(1, Ordering::SeqCst);
        let tx = tx.clone();
        Box::pin(async move {
            if n < failures {
                return Err(refused());
            }
            let (client, peer) = session_peer::memory_pair();
            tx.send(peer).ok();
            Ok(client)
        }) as Connecting
    };
    (connect, rx)
}

#[tokio::test(start_paused = true)]
async fn reconnects_with_back_off_and_resends_what_was_in_flight() {
    let (connect, mut peers) = connector(2);
    let (queue, queue_rx) = mpsc::channel(100);
    let (events, mut outcomes, _inbound) = split_events();
    let backoff = Backoff::with_jitter(10, Box::new(Longest)).unwrap();
    let handle = spawn(
        "test",
        params(),
        backoff,
        connect,
        ChannelIo {
            queue: queue_rx,
            events,
        },
    );
    let started = tokio::time::Instant::now();

    // Two refusals, then a connection: after 1 s + 2 s of back-off.
    let mut peer = peers.recv().await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_secs(3));
    peer.answer_bind(CommandStatus::EsmeRok).await;
    queue.send(message(1)).await.unwrap();
    let (h, _) = peer.expect().await;
    peer.answer_submit(h.sequence_number, CommandStatus::EsmeRok)
        .await;
    assert!(matches!(
        outcomes.recv().await.unwrap(),
        SubmitOutcome::Accepted { .. }
    ));
    let status = handle.status.borrow().clone();
    assert_eq!(status.state, ChannelState::Bound);
    assert_eq!((status.connect_attempts, status.binds), (3, 1));
    assert_eq!(handle.counters().acknowledged, 1);
    let last = status.last_error.unwrap();
    assert_eq!((last.code, last.reason), (43009, "connect_refused"));

    // Message 2 is in flight when the link drops.
    queue.send(message(2)).await.unwrap();
    let (_, pdu) = peer.expect().await;
    assert!(matches!(pdu, Pdu::SubmitSm(_)));
    drop(peer);

    // The bind succeeded since the last failure, so the back-off starts again from 1 s.
    let before = tokio::time::Instant::now();
    let mut peer = peers.recv().await.unwrap();
    assert_eq!(before.elapsed(), Duration::from_secs(1));
    peer.answer_bind(CommandStatus::EsmeRok).await;
    let (h, _) = peer.expect().await;
    peer.answer_submit(h.sequence_number, CommandStatus::EsmeRok)
        .await;
    match outcomes.recv().await.unwrap() {
        SubmitOutcome::Accepted { message, .. } => {
            assert_eq!((message.id, message.attempts), (2, 2));
        }
        other => panic!("{other:?}"),
    }

    // Graceful stop: unbind, answered, and the channel hands everything back.
    let mut status = handle.status.clone();
    let smsc = tokio::spawn(async move {
        let (h, pdu) = peer.expect().await;
        assert_eq!(pdu, Pdu::Unbind);
        peer.send(Pdu::UnbindResp, h.sequence_number, CommandStatus::EsmeRok)
            .await;
        peer
    });
    let end = handle.stop().await.unwrap();
    let _peer = smsc.await.unwrap();
    assert!(end.unsent.is_empty());
    let status = status.borrow_and_update().clone();
    assert_eq!(status.state, ChannelState::Stopped);
    assert_eq!(
        (
            status.counters.submitted,
            status.counters.resent,
            status.counters.acknowledged
        ),
        (3, 1, 2)
    );
    assert_eq!(status.binds, 2);
}

#[tokio::test(start_paused = true)]
async fn a_fatal_connect_error_fails_the_channel() {
    let (queue, queue_rx) = mpsc::channel(10);
    let (events, _outcomes, _inbound) = split_events();
    let connect = || async {
        Err::<DuplexStream, _>(ChannelFailure::Init(InitError::NoPrivateKey {
            path: "client.p12".into(),
        }))
    };
    let handle = spawn(
        "test",
        params(),
        Backoff::try_new(10).unwrap(),
        connect,
        ChannelIo {
            queue: queue_rx,
            events,
        },
    );
    queue.send(message(5)).await.unwrap();
    let mut status = handle.status.clone();
    status
        .wait_for(|s| s.state == ChannelState::Failed)
        .await
        .unwrap();
    let last = status.borrow().last_error.clone().unwrap();
    assert_eq!(last.code, 43010);
    assert_eq!(last.reason, "no_private_key");
    assert!(last.message.contains("client.p12"), "{last:?}");
    // The message is still in the queue the channel hands back.
    let mut end = handle.stop().await.unwrap();
    assert_eq!(end.queue.recv().await.unwrap().id, 5);
}

#[tokio::test(start_paused = true)]
async fn stop_interrupts_the_back_off() {
    let (connect, _peers) = connector(u32::MAX);
    let (_queue, queue_rx) = mpsc::channel(10);
    let (events, _outcomes, _inbound) = split_events();
    let handle = spawn(
        "test",
        params(),
        Backoff::with_jitter(180, Box::new(Longest)).unwrap(),
        connect,
        ChannelIo {
            queue: queue_rx,
            events,
        },
    );
    let mut status = handle.status.clone();
    status.wait_for(|s| s.connect_attempts >= 5).await.unwrap();
    let before = tokio::time::Instant::now();
    handle.stop().await.unwrap();
    assert_eq!(before.elapsed(), Duration::ZERO);
    assert_eq!(status.borrow().state, ChannelState::Stopped);
}
