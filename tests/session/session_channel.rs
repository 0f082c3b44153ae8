//! The per-channel task: connect, bind, run, back off, reconnect, stop. Paused clock, so
//! sessions run over in-memory pipes (see `support::peer`).

use crate::support::events::split_events;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use smppd::codec::{CommandStatus, Pdu};
use smppd::daemon::logging::{self, CapturedLogs, LogFormat};
use smppd::session::SubmitOutcome;
use smppd::supervisor::{
    spawn, Backoff, ChannelFailure, ChannelHandle, ChannelIo, ChannelState, Jitter,
};
use smppd::transport::{InitError, TransportError};
use tokio::io::DuplexStream;
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::support::peer::{message, params, Peer};

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
            let (client, peer) = crate::support::peer::memory_pair();
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
            gate: smppd::session::SendGate::always(),
            record: None,
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

    // The session proved healthy (a submit was accepted), so the back-off starts again
    // from 1 s.
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
            gate: smppd::session::SendGate::always(),
            record: None,
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
            gate: smppd::session::SendGate::always(),
            record: None,
        },
    );
    let mut status = handle.status.clone();
    status.wait_for(|s| s.connect_attempts >= 5).await.unwrap();
    let before = tokio::time::Instant::now();
    handle.stop().await.unwrap();
    assert_eq!(before.elapsed(), Duration::ZERO);
    assert_eq!(status.borrow().state, ChannelState::Stopped);
}

/// What a scripted SMSC does with connection number `n` (counting from 1).
type Script = fn(u32, Peer<DuplexStream>) -> Pin<Box<dyn Future<Output = ()> + Send>>;

/// A connect function whose every connection is served by `script`, and the times at which
/// the channel connected.
fn scripted(
    script: Script,
) -> (
    impl FnMut() -> Connecting + Send + 'static,
    Arc<Mutex<Vec<Instant>>>,
) {
    let times = Arc::new(Mutex::new(Vec::new()));
    let seen = times.clone();
    let connect = move || {
        let n = {
            let mut times = seen.lock().unwrap();
            times.push(Instant::now());
            times.len() as u32
        };
        let (client, peer) = crate::support::peer::memory_pair();
        tokio::spawn(script(n, peer));
        Box::pin(async move { Ok(client) }) as Connecting
    };
    (connect, times)
}

/// Accepts the bind, and unbinds in the same breath.
fn binds_then_unbinds(
    _: u32,
    mut peer: Peer<DuplexStream>,
) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        peer.answer_bind(CommandStatus::EsmeRok).await;
        peer.send(Pdu::Unbind, 0x1000, CommandStatus::EsmeRok).await;
        while peer.read().await.is_some() {}
    })
}

/// Accepts the bind, then sends sixteen octets that cannot be framed (command_length 4).
fn binds_then_sends_garbage(
    _: u32,
    mut peer: Peer<DuplexStream>,
) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        peer.answer_bind(CommandStatus::EsmeRok).await;
        let mut garbage = Vec::new();
        for word in [4u32, 0x0000_0015, 0, 7] {
            garbage.extend_from_slice(&word.to_be_bytes());
        }
        peer.send_raw(&garbage).await;
        while peer.read().await.is_some() {}
    })
}

/// Answers the bind with ESME_ROK and a 300-octet system_id without its NUL.
fn malformed_bind_resp(
    _: u32,
    mut peer: Peer<DuplexStream>,
) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        let (h, _) = peer.expect().await;
        let mut resp = Vec::new();
        for word in [16 + 300, 0x8000_0009, 0, h.sequence_number] {
            resp.extend_from_slice(&u32::to_be_bytes(word));
        }
        resp.extend_from_slice(&[b'A'; 300]);
        peer.send_raw(&resp).await;
        while peer.read().await.is_some() {}
    })
}

/// An SMSC that is down for the first four connections (each closed at once, before the
/// bind is answered), then binds and answers whatever comes.
fn down_then_up(n: u32, mut peer: Peer<DuplexStream>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(async move {
        if n <= 4 {
            peer.drop_connection();
            return;
        }
        peer.answer_bind(CommandStatus::EsmeRok).await;
        while let Some((h, pdu)) = peer.read().await {
            let (reply, last) = match pdu {
                Pdu::EnquireLink => (Pdu::EnquireLinkResp, false),
                Pdu::Unbind => (Pdu::UnbindResp, true),
                _ => continue,
            };
            peer.send(reply, h.sequence_number, CommandStatus::EsmeRok)
                .await;
            if last {
                return;
            }
        }
    })
}

/// JSON logs at info level, captured for this test's thread (the paused runtime's).
fn capture() -> (CapturedLogs, tracing::subscriber::DefaultGuard) {
    let logs = CapturedLogs::default();
    let subscriber = logging::subscriber(LogFormat::Json, "info", logs.clone()).unwrap();
    let guard = tracing::subscriber::set_default(subscriber);
    // A log statement first reached by another test's thread while this subscriber was being
    // registered may have cached "nobody listens": ask every call site again.
    tracing::callsite::rebuild_interest_cache();
    (logs, guard)
}

fn lines(logs: &CapturedLogs) -> Vec<Value> {
    logs.contents()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A channel named `flappy` with the longest wait of every back-off step (1 s, 2 s, 4 s ...
/// up to 180 s).
fn flappy(connect: impl FnMut() -> Connecting + Send + 'static) -> ChannelHandle {
    let (_queue, queue_rx) = mpsc::channel(10);
    let (events, _outcomes, _inbound) = split_events();
    spawn(
        "flappy",
        params(),
        Backoff::with_jitter(180, Box::new(Longest)).unwrap(),
        connect,
        ChannelIo {
            queue: queue_rx,
            events,
            gate: smppd::session::SendGate::always(),
            record: None,
        },
    )
}

fn intervals(times: &Mutex<Vec<Instant>>) -> Vec<u64> {
    times
        .lock()
        .unwrap()
        .windows(2)
        .map(|w| (w[1] - w[0]).as_secs())
        .collect()
}

#[tokio::test(start_paused = true)]
async fn an_smsc_that_unbinds_after_every_bind_is_retried_ever_more_slowly_and_summarised() {
    let (logs, _guard) = capture();
    let (connect, times) = scripted(binds_then_unbinds);
    let handle = flappy(connect);
    tokio::time::sleep(Duration::from_secs(75)).await;

    // A bind alone does not reset the back-off: the pauses grow step by step (they stayed at
    // the first step, 75 reconnects in 75 s, when every bind reset it).
    assert_eq!(intervals(&times), [1, 2, 4, 8, 16, 32]);
    assert_eq!(handle.status.borrow().binds, 7);
    handle.stop().await.unwrap();

    // The first unbind is logged; the next five (at 1, 3, 7, 15 and 31 s) are counted and
    // summarised once the minute is over; the one at 63 s is logged again.
    let lines = lines(&logs);
    let events: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    assert_eq!(
        events,
        [
            "bound",
            "unbound_by_smsc",
            "bound",
            "unbound_by_smsc_repeated",
            "bound",
            "unbound_by_smsc"
        ],
        "{lines:#?}"
    );
    let summary = &lines[3];
    assert_eq!(summary["channel"], "flappy");
    assert_eq!(summary["repeated"], 5);
    assert_eq!(summary["over_s"], 60);
    assert_eq!(
        summary["message"],
        "unbound by the SMSC: repeated 5 times in the last 60 s"
    );
    assert!(lines.iter().all(|l| l["channel"] == "flappy"), "{lines:#?}");
}

#[tokio::test(start_paused = true)]
async fn the_bind_that_ends_a_repeated_failure_is_logged_at_info() {
    let (logs, _guard) = capture();
    let (connect, times) = scripted(down_then_up);
    let handle = flappy(connect);
    tokio::time::sleep(Duration::from_secs(20)).await;
    assert_eq!(times.lock().unwrap().len(), 5);
    assert_eq!(handle.status.borrow().state, ChannelState::Bound);
    handle.stop().await.unwrap();

    // The first failure in full, the three after it only counted, and the recovery shown:
    // an operator sees the channel come back without a debug log.
    let lines = lines(&logs);
    let events: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    let failures = events.iter().filter(|e| **e == "channel_failure").count();
    assert_eq!(failures, 1, "{lines:#?}");
    let bound = events.iter().position(|e| *e == "bound");
    let failed = events.iter().position(|e| *e == "channel_failure");
    assert!(bound.is_some() && failed < bound, "{lines:#?}");
}

#[tokio::test(start_paused = true)]
async fn an_smsc_that_sends_garbage_after_every_bind_is_retried_ever_more_slowly_and_summarised() {
    let (logs, _guard) = capture();
    let (connect, times) = scripted(binds_then_sends_garbage);
    let handle = flappy(connect);
    tokio::time::sleep(Duration::from_secs(75)).await;
    assert_eq!(intervals(&times), [1, 2, 4, 8, 16, 32]);
    let last = handle.status.borrow().last_error.clone().unwrap();
    assert_eq!((last.code, last.reason), (43009, "protocol_violation"));
    handle.stop().await.unwrap();

    let lines = lines(&logs);
    let events: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    assert_eq!(
        events,
        [
            "bound",
            "channel_failure",
            "channel_failure_detail",
            "bound",
            "channel_failure_repeated",
            "bound",
            "channel_failure",
            "channel_failure_detail"
        ],
        "{lines:#?}"
    );
    // Logged in full: the first failure and the first after the summary, with the attempt
    // count and the wait that grew in between.
    let full: Vec<(u64, u64)> = lines
        .iter()
        .filter(|l| l["event"] == "channel_failure")
        .map(|l| {
            assert_eq!(
                (l["code"].as_u64(), l["reason"].as_str()),
                (Some(43009), Some("protocol_violation"))
            );
            (
                l["attempt"].as_u64().unwrap(),
                l["retry_in_ms"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(full, [(1, 1_000), (7, 64_000)]);
    let summary = &lines[4];
    assert_eq!(summary["code"], 43009);
    assert_eq!(summary["reason"], "protocol_violation");
    assert_eq!(summary["repeated"], 5);
    assert_eq!(summary["channel"], "flappy");
    assert_eq!(
        summary["message"],
        "protocol_violation: repeated 5 times in the last 60 s"
    );
}

#[tokio::test(start_paused = true)]
async fn a_session_that_exchanged_a_message_resets_the_back_off() {
    /// Connection 4 accepts a submit before it unbinds; the others unbind at once.
    fn script(n: u32, mut peer: Peer<DuplexStream>) -> Pin<Box<dyn Future<Output = ()> + Send>> {
        Box::pin(async move {
            peer.answer_bind(CommandStatus::EsmeRok).await;
            if n == 4 {
                let (h, pdu) = peer.expect().await;
                assert!(matches!(pdu, Pdu::SubmitSm(_)));
                peer.answer_submit(h.sequence_number, CommandStatus::EsmeRok)
                    .await;
            }
            peer.send(Pdu::Unbind, 0x1000, CommandStatus::EsmeRok).await;
            while peer.read().await.is_some() {}
        })
    }
    let (connect, times) = scripted(script);
    let (queue, queue_rx) = mpsc::channel(10);
    let (events, mut outcomes, _inbound) = split_events();
    let handle = spawn(
        "test",
        params(),
        Backoff::with_jitter(180, Box::new(Longest)).unwrap(),
        connect,
        ChannelIo {
            queue: queue_rx,
            events,
            gate: smppd::session::SendGate::always(),
            record: None,
        },
    );
    queue.send(message(1)).await.unwrap();
    tokio::time::sleep(Duration::from_secs(12)).await;
    // 1, 2, 4 while the SMSC only unbinds; the fourth session had an accepted submit, so the
    // wait after it is the first step again, and grows from there.
    assert_eq!(intervals(&times), [1, 2, 4, 1, 2]);
    assert!(matches!(
        outcomes.recv().await.unwrap(),
        SubmitOutcome::Accepted { .. }
    ));
    handle.stop().await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn an_ok_bind_resp_that_does_not_decode_is_no_bind_and_is_retried_with_back_off() {
    let (logs, _guard) = capture();
    let (connect, times) = scripted(malformed_bind_resp);
    let handle = flappy(connect);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(intervals(&times), [1, 2, 4]);
    let status = handle.status.borrow().clone();
    assert_eq!(status.binds, 0, "never counted as bound");
    assert_ne!(status.state, ChannelState::Bound);
    let last = status.last_error.unwrap();
    assert_eq!((last.code, last.reason), (43009, "protocol_violation"));
    handle.stop().await.unwrap();

    let lines = lines(&logs);
    assert!(lines.iter().all(|l| l["event"] != "bound"), "{lines:#?}");
    let first = lines
        .iter()
        .find(|l| l["event"] == "channel_failure")
        .expect("the failure is logged");
    assert_eq!(first["phase"], "bind");
    assert_eq!(first["reason"], "protocol_violation");
    let detail = first["detail"].as_str().unwrap();
    assert!(
        detail.contains("system_id") && detail.contains("no NUL terminator"),
        "{detail}"
    );
}
