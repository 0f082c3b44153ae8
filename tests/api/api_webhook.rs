//! Webhooks end to end: events committed to the store's outbox reach a tiny axum receiver
//! on 127.0.0.1:0, which answers 500 first and sees the retry.

use crate::support::api::{post, start, submitted, FakeEngine, Server};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post as route_post;
use serde_json::{json, Value};
use smppd::daemon::store::{Applied, Change, MessageId};
use smppd::daemon::{ReceiptReport, ReceiptState};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// What the receiver saw: each POST's Authorization header and JSON body.
type Seen = (Option<String>, Value);

struct Receiver {
    /// Answer 500 to this many POSTs first.
    fail_first: usize,
    count: AtomicUsize,
    seen: mpsc::UnboundedSender<Seen>,
}

async fn hook(State(r): State<Arc<Receiver>>, headers: HeaderMap, body: String) -> StatusCode {
    let auth = headers
        .get("authorization")
        .map(|v| v.to_str().unwrap_or_default().to_string());
    let value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let _ = r.seen.send((auth, value));
    if r.count.fetch_add(1, Ordering::SeqCst) < r.fail_first {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::NO_CONTENT
    }
}

async fn receiver(fail_first: usize) -> (SocketAddr, mpsc::UnboundedReceiver<Seen>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let state = Arc::new(Receiver {
        fail_first,
        count: AtomicUsize::new(0),
        seen: tx,
    });
    let app = axum::Router::new()
        .route("/hook", route_post(hook))
        .with_state(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, rx)
}

/// The next POST, waiting at most long enough to say the test hangs, not that it is slow.
async fn next(rx: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
    tokio::time::timeout(Duration::from_secs(60), rx.recv())
        .await
        .expect("the webhook receiver got nothing")
        .expect("receiver closed")
}

fn webhook_section(addr: SocketAddr, extra: &str) -> String {
    format!(
        "[webhook]\nurl = \"http://{addr}/hook\"\nbearer-token = \"hook-secret\"\n\
         retry-min-ms = 10\nretry-max-ms = 40\n{extra}"
    )
}

/// An inbound event as the sink builds it.
fn inbound(channel: &str, extra: Value) -> Change {
    let mut event =
        json!({"type": "inbound", "channel": channel, "from": "447700900123", "to": "12345"});
    if let (Some(e), Some(x)) = (event.as_object_mut(), extra.as_object()) {
        e.extend(x.clone());
    }
    let Value::Object(event) = event else {
        unreachable!()
    };
    Change::Event { event, user: None }
}

fn receipt(smsc_id: &str) -> Change {
    let Value::Object(event) = json!({"type": "receipt", "channel": "a", "smsc_message_id": smsc_id, "state": "delivered", "error_code": "000"})
    else {
        unreachable!()
    };
    Change::Receipt {
        receipt: ReceiptReport {
            smsc_message_id: smsc_id.into(),
            state: ReceiptState::Delivered,
            error_code: Some("000".into()),
        },
        event: Some(event),
    }
}

/// Applies `changes` as channel `channel`'s sink would, then pokes the sender.
async fn report(server: &Server, channel: &str, changes: Vec<Change>) -> Vec<Applied> {
    let applied = server.apply(channel, changes).await;
    server.services.webhook.as_ref().unwrap().wake.notify_one();
    applied
}

#[tokio::test]
async fn inbound_and_receipt_events_arrive_after_a_retry() {
    let (hook_addr, mut seen) = receiver(1).await;
    let server = start(&webhook_section(hook_addr, ""), FakeEngine::new(true, true)).await;

    let answer = post(
        server.addr,
        "/v1/messages",
        &json!({"to": "447700900123", "text": "hello", "channel": "a"}),
    )
    .await;
    let id = MessageId::parse(answer.body["id"].as_str().unwrap()).unwrap();
    let claimed = server.claim("a").await;
    server
        .apply("a", vec![submitted(&claimed[0], 0, "ff")])
        .await;

    report(
        &server,
        "a",
        vec![inbound("a", json!({"text": "Reply €"})), receipt("255")],
    )
    .await;
    // The store is updated at once, whatever the receiver does.
    let record = server.services.store.get(&id).await.unwrap().unwrap();
    assert_eq!(record.state.as_str(), "delivered");

    let (auth, first) = next(&mut seen).await;
    assert_eq!(auth.as_deref(), Some("Bearer hook-secret"));
    assert_eq!(first["type"], "inbound");
    assert_eq!(first["channel"], "a");
    assert_eq!(first["from"], "447700900123");
    assert_eq!(first["text"], "Reply €");

    // The first answer was 500: the same event comes again, then the receipt, in order.
    let (_, retried) = next(&mut seen).await;
    assert_eq!(retried, first);
    let (_, receipt) = next(&mut seen).await;
    assert_eq!(receipt["type"], "receipt");
    assert_eq!(receipt["smsc_message_id"], "255");
    assert_eq!(receipt["state"], "delivered");
    assert_eq!(receipt["error_code"], "000");
    assert_eq!(receipt["message_id"], id.as_str());
    assert_eq!(receipt["segment"], 0);
    assert_eq!(receipt["message_state"], "delivered");
    assert_ne!(receipt["event_id"], first["event_id"]);

    let stats = server.services.webhook.as_ref().unwrap().stats();
    assert!(stats.failed_attempts >= 1);
}

#[tokio::test]
async fn binary_inbound_is_base64() {
    let (hook_addr, mut seen) = receiver(0).await;
    let server = start(&webhook_section(hook_addr, ""), FakeEngine::new(true, true)).await;
    report(
        &server,
        "b",
        vec![inbound(
            "b",
            json!({"binary": "AAEC/w==", "data_coding": 4}),
        )],
    )
    .await;
    let (_, event) = next(&mut seen).await;
    assert_eq!(event["binary"], "AAEC/w==");
    assert_eq!(event["data_coding"], 4);
    assert_eq!(event["channel"], "b");
}

#[tokio::test]
async fn a_full_outbox_refuses_so_the_deliver_sm_is_not_acknowledged() {
    // A receiver that never says yes, and room for one waiting event.
    let (hook_addr, mut seen) = receiver(usize::MAX).await;
    let section = webhook_section(hook_addr, "max-queued-events = 1\n");
    let server = start(&section, FakeEngine::new(true, true)).await;
    let applied = report(&server, "a", vec![inbound("a", json!({"text": "x"}))]).await;
    assert_eq!(applied, [Applied::Done(None)]);
    // The event stays in the outbox until a 2xx: there is no room for another.
    next(&mut seen).await;
    let applied = report(&server, "a", vec![inbound("a", json!({"text": "y"}))]).await;
    assert_eq!(applied, [Applied::OutboxFull]);
    let answer = post(
        server.addr,
        "/v1/messages",
        &json!({"to": "1", "text": "x", "channel": "a"}),
    )
    .await;
    let id = MessageId::parse(answer.body["id"].as_str().unwrap()).unwrap();
    let claimed = server.claim("a").await;
    server
        .apply("a", vec![submitted(&claimed[0], 0, "1")])
        .await;
    let applied = report(&server, "a", vec![receipt("1")]).await;
    assert_eq!(applied, [Applied::OutboxFull]);
    // Refused means untouched: the SMSC's redelivery of the receipt will still match.
    let record = server.services.store.get(&id).await.unwrap().unwrap();
    assert_eq!(record.state.as_str(), "submitted");
    let stats = server.services.webhook.as_ref().unwrap().stats();
    assert_eq!(stats.queued, 1);
}
