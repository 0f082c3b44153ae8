//! "202 means on disk", with the real binary: SIGKILL with a backlog loses nothing, messages
//! accepted while the SMSC is down go out when it comes up, and an inbound message
//! acknowledged while the webhook is down survives a SIGKILL.

use crate::support::daemon::{call, http, texts_at, wait_until, Daemon, TempDir};
use crate::support::hang_guard::HANG_GUARD;
use crate::support::ports::closed_port;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{json, Value};
use smppd::codec::CommandStatus;
use smppd::simulator::{Account, MoMessage, Simulator, SimulatorConfig, SimulatorHandle};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc;

const WINDOW: usize = 10;

async fn simulator_on(listen: SocketAddr) -> SimulatorHandle {
    let mut config = SimulatorConfig::loopback(vec![Account::new("alpha", "pw")]);
    config.listen = listen;
    Simulator::start(config).await.unwrap()
}

fn config(dir: &TempDir, smsc: SocketAddr, rate: u32, extra: &str) -> std::path::PathBuf {
    dir.write(
        "smppd.toml",
        &format!(
            "[channel-alpha]\nx-smpp-host = \"127.0.0.1\"\nx-smpp-port = {}\n\
             x-smpp-system-id = \"alpha\"\npassword = \"pw\"\n\
             x-smpp-submit-window-size = {WINDOW}\nx-smpp-submit-max-rate = {rate}\n\
             reconnection-timeout = 10\n\
             [http]\nlisten = \"127.0.0.1:0\"\n{extra}",
            smsc.port()
        ),
    )
}

fn start(config: &Path) -> (Daemon, SocketAddr) {
    let daemon = Daemon::run(config);
    let api = daemon.api();
    (daemon, api)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_a_backlog_then_restart_sends_every_accepted_message() {
    let sim = simulator_on("127.0.0.1:0".parse().unwrap()).await;
    let dir = TempDir::new("kill-backlog");
    // 100 messages a second: the backlog of 400 takes seconds, the kill comes at once.
    let config = config(&dir, sim.local_addr(), 100, "");
    let (mut daemon, api) = start(&config);
    daemon.wait_event("bound", |e| e["event"] == "bound");
    let messages: Vec<Value> = (0..400)
        .map(|i| json!({"to": "447700900123", "text": format!("backlog {i}")}))
        .collect();
    let (status, body) = call(
        api,
        "POST",
        "/v1/messages/batch".into(),
        Some(json!({ "messages": messages }).to_string()),
    )
    .await;
    assert_eq!(status, 207, "{body}");
    assert_eq!(body["accepted"], 400, "{body}");
    let first_id = body["results"][0]["id"].as_str().unwrap().to_string();
    daemon.signal("KILL");
    daemon.wait();
    let before_restart = texts_at(&sim).len();
    assert!(
        before_restart < 400,
        "the kill came too late to prove anything"
    );

    let (mut daemon, api) = start(&config);
    wait_until("every accepted message at the SMSC", || {
        texts_at(&sim).len() == 400
    })
    .await;
    let seen = texts_at(&sim);
    for i in 0..400 {
        assert!(
            seen.contains_key(format!("backlog {i}").as_bytes()),
            "backlog {i} lost"
        );
    }
    let duplicates: usize = seen.values().map(|n| n - 1).sum();
    assert!(
        duplicates <= WINDOW,
        "{duplicates} duplicates, window {WINDOW}"
    );
    // The message is known after the restart, exactly as before.
    let (status, message) = call(api, "GET", format!("/v1/messages/{first_id}"), None).await;
    assert_eq!(status, 200, "{message}");
    assert_eq!(message["id"], first_id.as_str());
    daemon.signal("TERM");
    assert!(daemon.wait().success(), "{}", daemon.all_output());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_accepted_while_the_smsc_is_down_go_out_when_it_comes_up() {
    let smsc = closed_port();
    let dir = TempDir::new("smsc-down");
    let config = config(&dir, smsc, 0, "");
    let (mut daemon, api) = start(&config);
    let mut ids = Vec::new();
    for i in 0..5 {
        let body = json!({"to": "447700900123", "text": format!("while down {i}")});
        let (status, answer) =
            call(api, "POST", "/v1/messages".into(), Some(body.to_string())).await;
        assert_eq!(status, 202, "no SMSC, still accepted: {answer}");
        ids.push(answer["id"].as_str().unwrap().to_string());
    }
    let (_, queued) = call(api, "GET", format!("/v1/messages/{}", ids[0]), None).await;
    assert_eq!(queued["state"], "queued");
    let sim = simulator_on(smsc).await;
    wait_until("the five messages at the SMSC", || {
        texts_at(&sim).len() == 5
    })
    .await;
    wait_until("the message acknowledged by the SMSC", || {
        let path = format!("/v1/messages/{}", ids[0]);
        let state = http(api, "GET", &path, None).1["state"].clone();
        state == "submitted" || state == "delivered"
    })
    .await;
    daemon.signal("TERM");
    assert!(daemon.wait().success(), "{}", daemon.all_output());
    sim.shutdown().await;
}

async fn webhook_on(listener: tokio::net::TcpListener) -> mpsc::UnboundedReceiver<Value> {
    async fn hook(State(tx): State<mpsc::UnboundedSender<Value>>, body: String) -> StatusCode {
        let _ = tx.send(serde_json::from_str(&body).unwrap_or(Value::Null));
        StatusCode::NO_CONTENT
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new()
        .route("/hook", post(hook))
        .with_state(tx);
    tokio::spawn(async move { axum::serve(listener, app).await });
    rx
}

/// One segment of a two-part MO message (UDH IEI 0x00, reference 0x2A).
fn segment(seqnum: u8, text: &[u8]) -> MoMessage {
    let mut sm = vec![0x05, 0x00, 0x03, 0x2A, 0x02, seqnum];
    sm.extend_from_slice(text);
    MoMessage {
        source_addr: "447700900002".into(),
        destination_addr: "12345".into(),
        short_message: sm,
        esm_class: 0x40,
    }
}

/// MO messages acknowledged while the webhook is down, then the daemon stopped by `signal`
/// (with the first part of a long message still waiting for its second): after a restart
/// the webhook gets the whole message and the long one once its last part comes.
async fn next(events: &mut mpsc::UnboundedReceiver<Value>) -> Value {
    tokio::time::timeout(HANG_GUARD, events.recv())
        .await
        .expect("an event reaches the webhook after the restart")
        .expect("webhook receiver open")
}

async fn inbound_survives(signal: &str) {
    let sim = simulator_on("127.0.0.1:0".parse().unwrap()).await;
    let hook = closed_port();
    let dir = TempDir::new("mo-stop");
    let extra =
        format!("[webhook]\nurl = \"http://{hook}/hook\"\nretry-min-ms = 10\nretry-max-ms = 100\n");
    let config = config(&dir, sim.local_addr(), 0, &extra);
    let (mut daemon, _api) = start(&config);
    daemon.wait_event("bound", |e| e["event"] == "bound");
    let mo = MoMessage {
        source_addr: "447700900002".into(),
        destination_addr: "12345".into(),
        short_message: b"keep me".to_vec(),
        esm_class: 0,
    };
    let status = sim.inject_mo("alpha", mo, HANG_GUARD).await.unwrap();
    assert_eq!(status, CommandStatus::EsmeRok, "acknowledged once on disk");
    let status = sim
        .inject_mo("alpha", segment(1, b"hello "), HANG_GUARD)
        .await
        .unwrap();
    assert_eq!(
        status,
        CommandStatus::EsmeRok,
        "a part is acknowledged once stored"
    );
    daemon.signal(signal);
    daemon.wait();

    let mut events = webhook_on(tokio::net::TcpListener::bind(hook).await.unwrap()).await;
    let (mut daemon, _api) = start(&config);
    daemon.wait_event("bound", |e| e["event"] == "bound");
    let event = next(&mut events).await;
    assert_eq!(event["type"], "inbound");
    assert_eq!(event["text"], "keep me");
    assert_eq!(event["event_id"].as_str().map(str::len), Some(32));
    let status = sim
        .inject_mo("alpha", segment(2, b"world"), HANG_GUARD)
        .await
        .unwrap();
    assert_eq!(status, CommandStatus::EsmeRok);
    let event = next(&mut events).await;
    assert_eq!(
        event["text"], "hello world",
        "the part kept across the {signal}"
    );
    daemon.signal("TERM");
    assert!(daemon.wait().success(), "{}", daemon.all_output());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_messages_acknowledged_while_the_webhook_is_down_survive_sigkill() {
    inbound_survives("KILL").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_messages_acknowledged_while_the_webhook_is_down_survive_sigterm() {
    inbound_survives("TERM").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idempotency_key_repeated_after_a_restart_sends_one_message() {
    let sim = simulator_on("127.0.0.1:0".parse().unwrap()).await;
    let dir = TempDir::new("idempotent");
    let config = config(&dir, sim.local_addr(), 0, "");
    let body = json!({"to": "447700900123", "text": "exactly once"}).to_string();
    let post_with_key = |api: SocketAddr, body: String| {
        tokio::task::spawn_blocking(move || {
            crate::support::daemon::http_with_headers(
                api,
                "POST",
                "/v1/messages",
                Some(&body),
                &[("Idempotency-Key", "order-42")],
            )
        })
    };
    let (mut daemon, api) = start(&config);
    let (status, first) = post_with_key(api, body.clone()).await.unwrap();
    assert_eq!(status, 202, "{first}");
    let (status, again) = post_with_key(api, body.clone()).await.unwrap();
    assert_eq!((status, &again["id"]), (200, &first["id"]));
    // Killed once its submit_sm_resp is recorded: a kill before that would re-send it
    // (at-least-once), which is not what this test is about.
    let path = format!("/v1/messages/{}", first["id"].as_str().unwrap_or(""));
    wait_until("the message acknowledged", || {
        let state = http(api, "GET", &path, None).1["state"].clone();
        state == "submitted" || state == "delivered"
    })
    .await;
    daemon.signal("KILL");
    daemon.wait();
    let (mut daemon, api) = start(&config);
    let (status, after) = post_with_key(api, body.clone()).await.unwrap();
    assert_eq!(
        (status, &after["id"]),
        (200, &first["id"]),
        "remembered across a crash"
    );
    wait_until("the message at the SMSC", || !texts_at(&sim).is_empty()).await;
    daemon.signal("TERM");
    assert!(daemon.wait().success(), "{}", daemon.all_output());
    let sent = texts_at(&sim);
    assert_eq!(sent.get(&b"exactly once"[..]), Some(&1), "{sent:?}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_of_messages_submitted_before_a_sigkill_are_matched_after_the_restart() {
    let mut sim_config = SimulatorConfig::loopback(vec![Account::new("alpha", "pw")]);
    // Receipts come well after the responses: the daemon is killed in between, and the
    // simulator keeps them for the account's next bind.
    sim_config.receipt_delay = Duration::from_secs(3);
    let sim = Simulator::start(sim_config).await.unwrap();
    let hook = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_addr = hook.local_addr().unwrap();
    let mut events = webhook_on(hook).await;
    let dir = TempDir::new("receipt-kill");
    let extra = format!("[webhook]\nurl = \"http://{hook_addr}/hook\"\n");
    let config = config(&dir, sim.local_addr(), 0, &extra);
    let (mut daemon, api) = start(&config);
    daemon.wait_event("bound", |e| e["event"] == "bound");
    let mut ids = Vec::new();
    for i in 0..3 {
        let body = json!({"to": "447700900123", "text": format!("receipt {i}")});
        let (status, answer) =
            call(api, "POST", "/v1/messages".into(), Some(body.to_string())).await;
        assert_eq!(status, 202, "{answer}");
        ids.push(answer["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        wait_until("submitted", || {
            http(api, "GET", &format!("/v1/messages/{id}"), None).1["state"] == "submitted"
        })
        .await;
    }
    daemon.signal("KILL");
    daemon.wait();

    let (mut daemon, api) = start(&config);
    let mut matched = Vec::new();
    while matched.len() < ids.len() {
        let event = tokio::time::timeout(HANG_GUARD, events.recv())
            .await
            .expect("receipts reach the webhook after the restart")
            .unwrap();
        if event["type"] == "receipt" {
            assert_eq!(event["message_state"], "delivered", "{event}");
            matched.push(event["message_id"].as_str().unwrap_or("").to_string());
        }
    }
    matched.sort();
    ids.sort();
    assert_eq!(matched, ids, "every receipt reported with the API's id");
    let (_, message) = call(api, "GET", format!("/v1/messages/{}", ids[0]), None).await;
    assert_eq!(message["state"], "delivered");
    daemon.signal("TERM");
    assert!(daemon.wait().success(), "{}", daemon.all_output());
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_whose_validity_passes_while_queued_expires_unsent() {
    let smsc = closed_port();
    let hook = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook_addr = hook.local_addr().unwrap();
    let mut events = webhook_on(hook).await;
    let dir = TempDir::new("expiry");
    let extra = format!("[webhook]\nurl = \"http://{hook_addr}/hook\"\n");
    let config = config(&dir, smsc, 0, &extra);
    let (mut daemon, api) = start(&config);
    let body = json!({"to": "447700900123", "text": "too late", "validity": 1});
    let (status, answer) = call(api, "POST", "/v1/messages".into(), Some(body.to_string())).await;
    assert_eq!(status, 202, "{answer}");
    let id = answer["id"].as_str().unwrap().to_string();
    let event = tokio::time::timeout(HANG_GUARD, events.recv())
        .await
        .expect("the expiry reaches the webhook")
        .unwrap();
    assert_eq!(event["type"], "expired", "{event}");
    assert_eq!(event["message_id"], id.as_str());
    let (_, message) = call(api, "GET", format!("/v1/messages/{id}"), None).await;
    assert_eq!(message["state"], "expired");
    // The SMSC comes up: the expired message is never sent.
    let sim = simulator_on(smsc).await;
    sim.wait_for_binds(1, HANG_GUARD).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        sim.record().submits.is_empty(),
        "an expired message was sent"
    );
    daemon.signal("TERM");
    assert!(daemon.wait().success(), "{}", daemon.all_output());
    sim.shutdown().await;
}
