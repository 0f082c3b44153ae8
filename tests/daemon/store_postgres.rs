//! The daemon on PostgreSQL (`[store] backend = "postgres"`), with the real binary against
//! the simulator: messages posted are delivered, receipts are matched with the API's ids
//! (also across a SIGKILL), and a SIGKILL with a backlog loses nothing. Each test runs in a
//! throw-away schema of the server `SMPPD_TEST_POSTGRES_URL` names (see `support::pg`).

use crate::support::daemon::{call, http, texts_at, wait_until, Daemon, TempDir};
use crate::support::hang_guard::HANG_GUARD;
use crate::support::pg::TestSchema;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{json, Value};
use smppd::simulator::{Account, Simulator, SimulatorConfig, SimulatorHandle};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;

const WINDOW: usize = 10;

fn config(dir: &TempDir, schema: &TestSchema, smsc: SocketAddr, rate: u32, extra: &str) -> PathBuf {
    dir.write(
        "smppd.toml",
        &format!(
            "[channel-alpha]\nx-smpp-host = \"127.0.0.1\"\nx-smpp-port = {}\n\
             x-smpp-system-id = \"alpha\"\npassword = \"pw\"\n\
             x-smpp-submit-window-size = {WINDOW}\nx-smpp-submit-max-rate = {rate}\n\
             reconnection-timeout = 10\n\
             [http]\nlisten = \"127.0.0.1:0\"\n\
             [store]\nbackend = \"postgres\"\nurl = \"{}\"\nnode-name = \"test-node\"\n\
             pool-size = 2\nlease-seconds = 2\n{extra}",
            smsc.port(),
            schema.url()
        ),
    )
}

fn start(config: &Path) -> (Daemon, SocketAddr) {
    let daemon = Daemon::run(config);
    let api = daemon.api();
    (daemon, api)
}

async fn webhook() -> (SocketAddr, mpsc::UnboundedReceiver<Value>) {
    async fn hook(State(tx): State<mpsc::UnboundedSender<Value>>, body: String) -> StatusCode {
        let _ = tx.send(serde_json::from_str(&body).unwrap_or(Value::Null));
        StatusCode::NO_CONTENT
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new()
        .route("/hook", post(hook))
        .with_state(tx);
    tokio::spawn(async move { axum::serve(listener, app).await });
    (address, rx)
}

async fn simulator(receipt_delay: Duration) -> SimulatorHandle {
    let mut config = SimulatorConfig::loopback(vec![Account::new("alpha", "pw")]);
    config.receipt_delay = receipt_delay;
    Simulator::start(config).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_delivered_and_receipts_matched_also_across_a_sigkill() {
    let Some(schema) = TestSchema::create("store_postgres::receipts") else {
        return;
    };
    // Receipts come well after the responses: the daemon is killed in between, and the
    // simulator keeps them for the account's next bind.
    let sim = simulator(Duration::from_secs(3)).await;
    let (hook, mut events) = webhook().await;
    let dir = TempDir::new("pg-receipts");
    let extra = format!("[webhook]\nurl = \"http://{hook}/hook\"\n");
    let config = config(&dir, &schema, sim.local_addr(), 0, &extra);
    let (mut daemon, api) = start(&config);
    daemon.wait_event("store opened", |e| e["event"] == "store_opened");
    daemon.wait_event("bound", |e| e["event"] == "bound");
    let mut ids = Vec::new();
    for i in 0..3 {
        let body = json!({"to": "447700900123", "text": format!("receipt {i}")});
        let (status, answer) =
            call(api, "POST", "/v1/messages".into(), Some(body.to_string())).await;
        assert_eq!(status, 202, "{answer}");
        ids.push(answer["id"].as_str().unwrap().to_string());
    }
    // And a batch.
    let batch: Vec<Value> = (0..20)
        .map(|i| json!({"to": "447700900124", "text": format!("batch {i}")}))
        .collect();
    let (status, body) = call(
        api,
        "POST",
        "/v1/messages/batch".into(),
        Some(json!({ "messages": batch }).to_string()),
    )
    .await;
    assert_eq!(status, 207, "{body}");
    assert_eq!(body["accepted"], 20, "{body}");
    // Every response recorded before the kill: what the SMSC answered but the store had not
    // recorded yet would be sent again too, beyond the window.
    let batch_ids: Vec<String> = body["results"]
        .as_array()
        .map(|r| {
            r.iter()
                .filter_map(|m| m["id"].as_str())
                .map(String::from)
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(batch_ids.len(), 20, "{body}");
    for id in ids.iter().chain(&batch_ids) {
        wait_until("submitted", || {
            http(api, "GET", &format!("/v1/messages/{id}"), None).1["state"] == "submitted"
        })
        .await;
    }
    wait_until("the batch at the SMSC", || texts_at(&sim).len() == 23).await;
    daemon.signal("KILL");
    daemon.wait();

    let (mut daemon, api) = start(&config);
    let mut matched = Vec::new();
    while matched.len() < ids.len() {
        let event = tokio::time::timeout(HANG_GUARD, events.recv())
            .await
            .expect("receipts reach the webhook after the restart")
            .unwrap();
        if event["type"] == "receipt" && ids.iter().any(|id| event["message_id"] == id.as_str()) {
            assert_eq!(event["message_state"], "delivered", "{event}");
            assert_eq!(
                event["event_id"].as_str().map(str::len),
                Some(32),
                "{event}"
            );
            matched.push(event["message_id"].as_str().unwrap_or("").to_string());
        }
    }
    matched.sort();
    ids.sort();
    assert_eq!(matched, ids, "every receipt reported with the API's id");
    let (_, message) = call(api, "GET", format!("/v1/messages/{}", ids[0]), None).await;
    assert_eq!(message["state"], "delivered", "{message}");
    daemon.signal("TERM");
    assert!(daemon.wait().success(), "{}", daemon.all_output());
    // At least once: what was written but not yet answered when the kill came may be sent
    // again, never more than a window of it.
    let sent = texts_at(&sim);
    let duplicates: usize = sent.values().map(|n| n - 1).sum();
    assert!(duplicates <= WINDOW, "sent again: {sent:?}");
    assert_eq!(sent.len(), 23, "{sent:?}");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_with_a_backlog_then_restart_sends_every_accepted_message() {
    let Some(schema) = TestSchema::create("store_postgres::backlog") else {
        return;
    };
    let sim = simulator(Duration::from_millis(0)).await;
    let dir = TempDir::new("pg-backlog");
    // 100 messages a second: the backlog of 400 takes seconds, the kill comes at once.
    let config = config(&dir, &schema, sim.local_addr(), 100, "");
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
    assert!(
        texts_at(&sim).len() < 400,
        "the kill came too late to prove anything"
    );

    let (mut daemon, api) = start(&config);
    let recovered = daemon.wait_event("store opened", |e| e["event"] == "store_opened");
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
    // What the killed run held is queued again (it may have reached the SMSC).
    assert!(recovered["requeued"].as_u64().is_some(), "{recovered}");
    let (status, message) = call(api, "GET", format!("/v1/messages/{first_id}"), None).await;
    assert_eq!(status, 200, "{message}");
    assert_eq!(message["id"], first_id.as_str());
    daemon.signal("TERM");
    assert!(daemon.wait().success(), "{}", daemon.all_output());
    sim.shutdown().await;
}

#[test]
fn check_config_connects_and_refuses_a_newer_schema() {
    let Some(schema) = TestSchema::create("store_postgres::check_config") else {
        return;
    };
    let dir = TempDir::new("pg-check");
    let smsc: SocketAddr = "127.0.0.1:9".parse().unwrap();
    let config = config(&dir, &schema, smsc, 0, "");
    let check = |config: &Path| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_smppd"))
            .arg("check-config")
            .arg(config)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (ok, out) = check(&config);
    assert!(ok, "{out}");
    assert!(out.contains("no schema yet"), "{out}");
    crate::support::pg::execute(
        &schema.url(),
        "CREATE TABLE schema_version (version BIGINT NOT NULL);
         INSERT INTO schema_version VALUES (999);",
    );
    let (ok, out) = check(&config);
    assert!(!ok, "{out}");
    assert!(
        out.contains("schema version 999, newer than this smppd knows"),
        "{out}"
    );
    // Unreachable: a port nothing listens on.
    let unreachable = dir.write(
        "down.toml",
        "[channel-alpha]\nx-smpp-host = \"127.0.0.1\"\nx-smpp-system-id = \"a\"\n\
         [store]\nbackend = \"postgres\"\nurl = \"postgres://smppd@127.0.0.1:9/smppd\"\n",
    );
    let (ok, out) = check(&unreachable);
    assert!(!ok, "{out}");
    assert!(out.contains("cannot connect to the server"), "{out}");
}
