//! The real binary end to end: a message sent over HTTP reaches the built-in simulator and
//! its receipt reaches a webhook; SIGHUP rebinds only the changed channel; SIGTERM unbinds
//! and exits 0; bad configurations give the documented errors and exit codes; no password
//! appears in any log line; every log line, at debug level, names its `event`, and its
//! `channel` when it concerns one.

use crate::support::daemon::{http, Daemon, TempDir};
use crate::support::hang_guard::HANG_GUARD;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::Value;
use smppd::simulator::{Account, Simulator, SimulatorConfig, SimulatorHandle};
use std::net::SocketAddr;
use tokio::sync::mpsc;

const SECRETS: [&str; 2] = ["pw-alpha", "pw-beta"];

async fn simulator() -> SimulatorHandle {
    Simulator::start(SimulatorConfig::loopback(vec![
        Account::new("alpha", SECRETS[0]),
        Account::new("beta", SECRETS[1]),
    ]))
    .await
    .unwrap()
}

async fn webhook() -> (SocketAddr, mpsc::UnboundedReceiver<Value>) {
    async fn hook(State(tx): State<mpsc::UnboundedSender<Value>>, body: String) -> StatusCode {
        let _ = tx.send(serde_json::from_str(&body).unwrap_or(Value::Null));
        StatusCode::NO_CONTENT
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new()
        .route("/hook", post(hook))
        .with_state(tx);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, rx)
}

fn channel(name: &str, port: u16, system_id: &str, password: &str, window: u32) -> String {
    format!(
        "[channel-{name}]\nx-smpp-host = \"127.0.0.1\"\nx-smpp-port = {port}\n\
         x-smpp-system-id = \"{system_id}\"\npassword = \"{password}\"\n\
         x-smpp-submit-window-size = {window}\nx-smpp-submit-max-rate = 0\n"
    )
}

fn assert_no_secret(daemon: &Daemon) {
    let out = daemon.all_output();
    for secret in SECRETS {
        assert!(!out.contains(secret), "password {secret} leaked:\n{out}");
    }
}

fn binds_of(sim: &SimulatorHandle, system_id: &str) -> usize {
    sim.record()
        .binds
        .iter()
        .filter(|b| b.system_id == system_id)
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_reaches_the_smsc_and_its_receipt_reaches_the_webhook() {
    let sim = simulator().await;
    let (hook, mut events) = webhook().await;
    let dir = TempDir::new("e2e");
    let config = dir.write(
        "smppd.toml",
        &format!(
            "{}\n[http]\nlisten = \"127.0.0.1:0\"\n[webhook]\nurl = \"http://{hook}/hook\"\n",
            channel("alpha", sim.local_addr().port(), "alpha", SECRETS[0], 10)
        ),
    );
    let mut daemon = Daemon::run(&config);
    let api = daemon.api();
    daemon.wait_event("bound", |e| e["event"] == "bound");
    let (status, body) = tokio::task::spawn_blocking(move || {
        http(
            api,
            "POST",
            "/v1/messages",
            Some(r#"{"to":"447700900123","text":"hello from the test"}"#),
        )
    })
    .await
    .unwrap();
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["segments"], 1);
    let receipt = tokio::time::timeout(HANG_GUARD, async {
        loop {
            let event = events.recv().await.expect("webhook receiver open");
            if event["type"] == "receipt" {
                return event;
            }
        }
    })
    .await
    .expect("a receipt event reaches the webhook");
    assert_eq!(receipt["message_id"], body["id"], "{receipt}");
    let submits = sim.record().submits;
    assert_eq!(submits.len(), 1);
    // GSM 03.38 unpacked: these characters have their ASCII values.
    assert_eq!(submits[0].short_message, b"hello from the test".to_vec());
    assert_eq!(submits[0].destination_addr, "447700900123");

    daemon.signal("TERM");
    let exit = daemon.wait();
    assert!(exit.success(), "exit {exit:?}:\n{}", daemon.all_output());
    // The session unbound before closing: the simulator saw the unbind, then the close.
    let connections = sim.record().connections;
    assert!(!connections.is_empty());
    assert!(
        connections.iter().all(|c| c.unbound && !c.open),
        "{connections:?}"
    );
    assert_no_secret(&daemon);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_rebinds_only_the_changed_channel() {
    let sim = simulator().await;
    let port = sim.local_addr().port();
    let dir = TempDir::new("hup");
    let text = |beta_window| {
        format!(
            "{}\n{}\n[http]\nlisten = \"127.0.0.1:0\"\n",
            channel("a", port, "alpha", SECRETS[0], 10),
            channel("b", port, "beta", SECRETS[1], beta_window)
        )
    };
    let config = dir.write("smppd.toml", &text(10));
    let daemon = Daemon::run(&config);
    sim.wait_for_binds(2, HANG_GUARD).await.unwrap();

    // A broken file changes nothing.
    dir.write("smppd.toml", &format!("{}\nx-smpp-hots = 1\n", text(10)));
    daemon.signal("HUP");
    daemon.wait_event("reload_rejected", |e| e["event"] == "reload_rejected");

    dir.write("smppd.toml", &text(20));
    daemon.signal("HUP");
    let reloaded = daemon.wait_event("reloaded", |e| e["event"] == "reloaded");
    assert_eq!(reloaded["restarted"], "[\"b\"]", "{reloaded}");
    sim.wait_for_binds(3, HANG_GUARD).await.unwrap();
    assert_eq!(binds_of(&sim, "alpha"), 1, "channel a kept its bind");
    assert_eq!(binds_of(&sim, "beta"), 2, "channel b was rebound");
    assert_no_secret(&daemon);
    sim.shutdown().await;
}

/// `x-smpp-sessions = 3` on one node: three binds, three slots in `GET /v1/cluster` (this
/// node, epoch 0, no expiry), and messages spread over them, each sent once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_sessions_of_one_channel_bind_and_share_the_queue() {
    let sim = simulator().await;
    let dir = TempDir::new("sessions");
    let config = dir.write(
        "smppd.toml",
        &format!(
            "{}x-smpp-sessions = 3\n[http]\nlisten = \"127.0.0.1:0\"\n",
            channel("alpha", sim.local_addr().port(), "alpha", SECRETS[0], 5)
        ),
    );
    let daemon = Daemon::run(&config);
    let api = daemon.api();
    sim.wait_for_binds(3, HANG_GUARD).await.unwrap();
    let (status, cluster) =
        tokio::task::spawn_blocking(move || http(api, "GET", "/v1/cluster", None))
            .await
            .unwrap();
    assert_eq!(status, 200, "{cluster}");
    assert_eq!(cluster["backend"], "sqlite");
    assert_eq!(cluster["nodes"].as_array().unwrap().len(), 1);
    let slots = cluster["slots"].as_array().unwrap();
    assert_eq!(slots.len(), 3, "{cluster}");
    for (i, slot) in slots.iter().enumerate() {
        assert_eq!(slot["channel"], "alpha");
        assert_eq!(slot["slot"], i);
        assert_eq!(slot["node"], cluster["node"]);
        assert_eq!(slot["epoch"], 0);
        assert!(slot["expires"].is_null());
    }
    let body = format!(
        "{{\"messages\":[{}]}}",
        (0..60)
            .map(|i| format!("{{\"to\":\"4477009{i:05}\",\"text\":\"slot test {i}\"}}"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let (status, answer) =
        tokio::task::spawn_blocking(move || http(api, "POST", "/v1/messages/batch", Some(&body)))
            .await
            .unwrap();
    assert_eq!(status, 207, "{answer}");
    assert_eq!(answer["accepted"], 60, "{answer}");
    tokio::time::timeout(HANG_GUARD, async {
        while sim.record().submits.len() < 60 {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("every message submitted");
    let record = sim.record();
    assert_eq!(record.submits.len(), 60, "each message sent once");
    assert_eq!(binds_of(&sim, "alpha"), 3);
    sim.shutdown().await;
}

/// The Debian package's configuration has every channel commented out: the daemon starts with
/// a warning, serves its API (503 for messages), binds a channel a reload adds, and stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_channel_starts_with_a_warning_and_a_reload_adds_one() {
    let sim = simulator().await;
    let dir = TempDir::new("none");
    let listen = "[http]\nlisten = \"127.0.0.1:0\"\n";
    let config = dir.write("smppd.toml", listen);
    let mut daemon = Daemon::run(&config);
    let api = daemon.api();
    let warning = daemon.wait_event("config_warning", |e| e["event"] == "config_warning");
    assert!(
        warning["message"]
            .as_str()
            .is_some_and(|m| m.contains("no [channel-NAME] section")),
        "{warning}"
    );
    let (status, body) = http(
        api,
        "POST",
        "/v1/messages",
        Some(r#"{"to":"447700900123","text":"x"}"#),
    );
    assert_eq!(status, 503, "{body}");
    assert_eq!(
        body["error"],
        "no channel can send: no channel is configured"
    );

    let port = sim.local_addr().port();
    dir.write(
        "smppd.toml",
        &format!("{}{listen}", channel("a", port, "alpha", SECRETS[0], 10)),
    );
    daemon.signal("HUP");
    daemon.wait_event("reloaded", |e| e["event"] == "reloaded");
    sim.wait_for_binds(1, HANG_GUARD).await.unwrap();
    daemon.signal("TERM");
    assert_eq!(daemon.wait().code(), Some(0), "{}", daemon.all_output());
    sim.shutdown().await;
}

#[test]
fn bad_configurations_exit_2_naming_the_problem() {
    let dir = TempDir::new("bad");
    let cases = [
        (
            "x-smpp-hots = \"h\"\n",
            "x-smpp-hots: unknown key (did you mean \"x-smpp-host\"?)",
        ),
        (
            "x-smpp-response-max-waiting-time = 999\n",
            "x-smpp-response-max-waiting-time: 999 is out of range 1000-180000",
        ),
        ("x-smpp-port = 2776\n", "line 8, column 1: duplicate key"),
    ];
    for (extra, expected) in cases {
        let config = dir.write(
            "bad.toml",
            &format!("{}{extra}", channel("x", 2775, "alpha", SECRETS[0], 10)),
        );
        let mut daemon = Daemon::run(&config);
        let exit = daemon.wait();
        assert_eq!(exit.code(), Some(2), "{}", daemon.all_output());
        let stderr = daemon.stderr.lock().unwrap().join("\n");
        assert!(stderr.contains(expected), "{stderr}");
        assert_no_secret(&daemon);
    }
}

#[test]
fn a_missing_keystore_logs_43010_then_42403_and_check_config_fails() {
    let dir = TempDir::new("ks");
    let config = dir.write(
        "smppd.toml",
        &format!(
            "{}x-smpp-tls-mode = \"mutual\"\nx-smpp-tls-path-to-certificate = \"missing.p12\"\n\
             x-smpp-tls-certificate-file-password = \"{}\"\n[http]\nlisten = \"127.0.0.1:0\"\n",
            channel("k", 2775, "alpha", SECRETS[0], 10),
            SECRETS[1]
        ),
    );
    let mut daemon = Daemon::run(&config);
    let first = daemon.wait_event("43010", |e| e["code"] == 43010);
    assert_eq!(first["channel"], "k");
    assert_eq!(first["phase"], "tls_init");
    assert!(first["message"]
        .as_str()
        .unwrap()
        .starts_with("failed to initialize ssl context: "));
    let second = daemon.wait_event("42403", |e| e["code"] == 42403);
    assert_eq!(second["message"], "channel driver initialization failed");
    // The daemon keeps running (other channels, the API); it stops cleanly.
    daemon.api();
    daemon.signal("TERM");
    assert!(daemon.wait().success());
    assert_no_secret(&daemon);

    let mut check = Daemon::spawn(&["check-config", config.to_str().unwrap()]);
    assert_eq!(check.wait().code(), Some(1));
    let out = check.stdout.lock().unwrap().join("\n");
    assert!(
        out.contains("error 43010: failed to initialize ssl context: "),
        "{out}"
    );
    assert_no_secret(&check);
}

#[test]
fn a_world_readable_inline_password_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("perm");
    let config = dir.write("smppd.toml", &channel("w", 2775, "alpha", SECRETS[0], 10));
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o644)).unwrap();
    let mut check = Daemon::spawn(&["check-config", config.to_str().unwrap()]);
    check.wait();
    let out = check.stdout.lock().unwrap().join("\n");
    assert!(
        out.contains("holds inline passwords but is readable by group or others"),
        "{out}"
    );
    assert_no_secret(&check);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_mode_logs_texts_with_card_numbers_masked() {
    const CARD: &str = "4111 1111 1111 1111";
    let sim = simulator().await;
    let dir = TempDir::new("debug");
    let config = dir.write(
        "smppd.toml",
        &format!(
            "{}x-debug-mode = true\n[http]\nlisten = \"127.0.0.1:0\"\n",
            channel("alpha", sim.local_addr().port(), "alpha", SECRETS[0], 10)
        ),
    );
    let mut daemon = Daemon::spawn(&[
        "run",
        "--config",
        config.to_str().unwrap(),
        "--log-format",
        "json",
        "--log-level",
        "debug",
    ]);
    let api = daemon.api();
    daemon.wait_event("bound", |e| e["event"] == "bound");
    let body = format!(r#"{{"to":"447700900123","text":"pay with {CARD} now"}}"#);
    let (status, _) =
        tokio::task::spawn_blocking(move || http(api, "POST", "/v1/messages", Some(&body)))
            .await
            .unwrap();
    assert_eq!(status, 202);
    let outbound = daemon.wait_event("outbound_text", |e| e["event"] == "outbound_text");
    assert_eq!(outbound["text"], "pay with ****…1111 now");

    let mo = smppd::simulator::MoMessage {
        source_addr: "447700900123".into(),
        destination_addr: "12345".into(),
        short_message: format!("card {CARD}").into_bytes(),
        esm_class: 0,
    };
    sim.inject_mo("alpha", mo, HANG_GUARD).await.unwrap();
    let inbound = daemon.wait_event("inbound_text", |e| e["event"] == "inbound_text");
    assert_eq!(inbound["text"], "card ****…1111");

    daemon.signal("TERM");
    assert!(daemon.wait().success());
    let out = daemon.all_output();
    assert!(
        !out.contains(CARD),
        "an unmasked card number was logged:\n{out}"
    );
    assert_no_secret(&daemon);
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_concatenated_mo_message_reaches_the_webhook_reassembled() {
    let sim = simulator().await;
    let (hook, mut events) = webhook().await;
    let dir = TempDir::new("concat");
    let config = dir.write(
        "smppd.toml",
        &format!(
            "{}\n[http]\nlisten = \"127.0.0.1:0\"\n[webhook]\nurl = \"http://{hook}/hook\"\n",
            channel("alpha", sim.local_addr().port(), "alpha", SECRETS[0], 10)
        ),
    );
    let mut daemon = Daemon::run(&config);
    daemon.wait_event("bound", |e| e["event"] == "bound");
    // Two segments, second first: UDH IEI 0x00 (8-bit reference 0x2A, 2 parts).
    for (seqnum, text) in [(2u8, &b"world"[..]), (1, &b"hello "[..])] {
        let mut sm = vec![0x05, 0x00, 0x03, 0x2A, 0x02, seqnum];
        sm.extend_from_slice(text);
        let mo = smppd::simulator::MoMessage {
            source_addr: "447700900123".into(),
            destination_addr: "12345".into(),
            short_message: sm,
            esm_class: 0x40,
        };
        let status = sim.inject_mo("alpha", mo, HANG_GUARD).await.unwrap();
        assert_eq!(status.value(), 0, "each segment is acknowledged");
    }
    let inbound = tokio::time::timeout(HANG_GUARD, events.recv())
        .await
        .expect("an inbound event reaches the webhook")
        .unwrap();
    assert_eq!(inbound["type"], "inbound", "{inbound}");
    assert_eq!(inbound["text"], "hello world", "{inbound}");
    assert_eq!(inbound["from"], "447700900123");
    daemon.signal("TERM");
    assert!(daemon.wait().success());
    sim.shutdown().await;
}

/// With two sessions, the SMSC delivers the two parts of a long message over different
/// binds: each session keeps its part, and the one that keeps the second takes in its
/// sibling's, so the webhook gets the message whole, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parts_of_a_long_mo_on_different_sessions_are_reassembled() {
    let sim = simulator().await;
    let (hook, mut events) = webhook().await;
    let dir = TempDir::new("concat-sessions");
    let config = dir.write(
        "smppd.toml",
        &format!(
            "{}x-smpp-sessions = 2\n[http]\nlisten = \"127.0.0.1:0\"\n[webhook]\nurl = \"http://{hook}/hook\"\n",
            channel("alpha", sim.local_addr().port(), "alpha", SECRETS[0], 10)
        ),
    );
    let daemon = Daemon::run(&config);
    sim.wait_for_binds(2, HANG_GUARD).await.unwrap();
    let connections: Vec<_> = sim
        .record()
        .binds
        .iter()
        .filter(|b| b.command_status.value() == 0)
        .map(|b| b.connection)
        .collect();
    assert_eq!(connections.len(), 2);
    for ((seqnum, text), via) in [(2u8, &b"world"[..]), (1, &b"hello "[..])]
        .into_iter()
        .zip(connections)
    {
        let mut sm = vec![0x05, 0x00, 0x03, 0x2B, 0x02, seqnum];
        sm.extend_from_slice(text);
        let mo = smppd::simulator::MoMessage {
            source_addr: "447700900123".into(),
            destination_addr: "12345".into(),
            short_message: sm,
            esm_class: 0x40,
        };
        let status = sim
            .inject_mo_via("alpha", Some(via), mo, HANG_GUARD)
            .await
            .unwrap();
        assert_eq!(status.value(), 0, "each segment is acknowledged");
    }
    let delivered: Vec<_> = sim.record().delivers.iter().map(|d| d.connection).collect();
    assert_eq!(delivered.len(), 2);
    assert_ne!(delivered[0], delivered[1], "one part per session");
    let inbound = tokio::time::timeout(HANG_GUARD, events.recv())
        .await
        .expect("an inbound event reaches the webhook")
        .unwrap();
    assert_eq!(inbound["text"], "hello world", "{inbound}");
    daemon.signal("TERM");
    sim.shutdown().await;
    assert!(events.try_recv().is_err(), "delivered once");
}

#[test]
fn a_reload_naming_a_fifo_is_refused_and_sigterm_still_stops_at_once() {
    let dir = TempDir::new("fifo");
    // No SMSC listens on port 9: the channel backs off, which is all this test needs.
    let good = format!(
        "{}[http]\nlisten = \"127.0.0.1:0\"\n",
        channel("f", 9, "alpha", SECRETS[0], 10)
    );
    let config = dir.write("smppd.toml", &good);
    let mut daemon = Daemon::run(&config);
    daemon.api();
    let fifo = dir.0.join("bind-password");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    dir.write(
        "smppd.toml",
        &good.replace(
            &format!("password = \"{}\"", SECRETS[0]),
            "password = { file = \"bind-password\" }",
        ),
    );
    daemon.signal("HUP");
    let rejected = daemon.wait_event("reload_rejected naming the FIFO", |e| {
        e["event"] == "reload_rejected"
            && e["message"]
                .as_str()
                .is_some_and(|m| m.contains("FIFO (named pipe), not a regular file"))
    });
    assert!(
        rejected["message"]
            .as_str()
            .unwrap()
            .contains(&fifo.display().to_string()),
        "{rejected}"
    );
    // The daemon still answers and stops as promptly as ever.
    let (status, _) = http(daemon.api(), "GET", "/health", None);
    assert_eq!(status, 503, "up, no channel bound");
    let asked = std::time::Instant::now();
    daemon.signal("TERM");
    assert!(daemon.wait().success(), "{}", daemon.all_output());
    assert!(
        asked.elapsed() < smppd::daemon::STOP_BOUND,
        "stopping took {:?}",
        asked.elapsed()
    );
    assert_no_secret(&daemon);
}

#[test]
fn refused_tokens_are_logged_once_per_window_with_the_client_address() {
    const TOKEN: &str = "the-real-t0ken";
    const GUESS: &str = "a-guessed-t0ken";
    let dir = TempDir::new("auth");
    let config = dir.write(
        "smppd.toml",
        &format!(
            "{}[http]\nlisten = \"127.0.0.1:0\"\nbearer-token = \"{TOKEN}\"\n",
            channel("a", 9, "alpha", SECRETS[0], 10)
        ),
    );
    let mut daemon = Daemon::run(&config);
    let api = daemon.api();
    let guess = format!("Bearer {GUESS}");
    for _ in 0..5 {
        let (status, _) = crate::support::daemon::http_with_headers(
            api,
            "GET",
            "/v1/channels",
            None,
            &[("authorization", &guess)],
        );
        assert_eq!(status, 401);
    }
    let (status, _) = http(api, "GET", "/v1/channels", None);
    assert_eq!(status, 401);
    let line = daemon.wait_event("auth_failed", |e| e["event"] == "auth_failed");
    assert_eq!(line["level"], "WARN");
    assert_eq!(line["refused"], 1, "{line}");
    assert_eq!(line["reason"], "invalid");
    assert!(
        line["remote"].as_str().unwrap().starts_with("127.0.0.1:"),
        "{line}"
    );
    daemon.signal("TERM");
    assert!(daemon.wait().success());
    let lines = daemon
        .events()
        .into_iter()
        .filter(|e| e["event"] == "auth_failed")
        .count();
    assert_eq!(lines, 1, "six refusals within 10 s, one line");
    let out = daemon.all_output();
    assert!(
        !out.contains(GUESS) && !out.contains(TOKEN),
        "a token leaked:\n{out}"
    );
}

/// Events about the whole process, which name no channel. Every other line must.
const PROCESS_EVENTS: [&str; 25] = [
    "started",
    "stopping",
    "stopped",
    "stop_timeout",
    "stopped_with_queue",
    "reload",
    "reloaded",
    "reload_rejected",
    "reload_needs_restart",
    "store_opened",
    "store_recovered",
    "store_connection_closed",
    "config_warning",
    "messages_expired",
    "upkeep_failed",
    "sd_notify_failed",
    "watchdog_failed",
    "pinned_failed",
    "pinned_not_failed",
    "webhook_failed",
    "webhook_outbox_unreadable",
    "webhook_outbox_unwritable",
    "api_accept_failed",
    "api_connection_error",
    smppd::daemon::logging::LIBRARY_EVENT,
];

/// A webhook that answers its first POST with 500 and accepts the rest.
async fn flaky_webhook() -> (SocketAddr, mpsc::UnboundedReceiver<Value>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    type Hook = (mpsc::UnboundedSender<Value>, Arc<AtomicUsize>);
    async fn hook(State((tx, calls)): State<Hook>, body: String) -> StatusCode {
        if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            return StatusCode::INTERNAL_SERVER_ERROR;
        }
        let _ = tx.send(serde_json::from_str(&body).unwrap_or(Value::Null));
        StatusCode::NO_CONTENT
    }
    let (tx, rx) = mpsc::unbounded_channel();
    let app = axum::Router::new()
        .route("/hook", post(hook))
        .with_state((tx, Arc::new(AtomicUsize::new(0))));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    (addr, rx)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_log_line_names_its_event_and_every_channel_line_its_channel() {
    use smppd::simulator::{AfterBind, Faults};
    let sim = simulator().await;
    let (hook, mut events) = flaky_webhook().await;
    let dir = TempDir::new("events");
    let port = sim.local_addr().port();
    let text = |window| {
        format!(
            "{}\n[http]\nlisten = \"127.0.0.1:0\"\n[webhook]\nurl = \"http://{hook}/hook\"\n\
             retry-min-ms = 50\n",
            channel("alpha", port, "alpha", SECRETS[0], window)
        )
    };
    let config = dir.write("smppd.toml", &text(10));
    let mut daemon = Daemon::spawn(&[
        "run",
        "--config",
        config.to_str().unwrap(),
        "--log-format",
        "json",
        "--log-level",
        "debug",
    ]);
    let api = daemon.api();
    daemon.wait_event("bound", |e| e["event"] == "bound");

    // A message over HTTP; its receipt reaches the webhook on the second try.
    let (status, body) = tokio::task::spawn_blocking(move || {
        http(
            api,
            "POST",
            "/v1/messages",
            Some(r#"{"to":"447700900123","text":"log me","delivery_report":true}"#),
        )
    })
    .await
    .unwrap();
    assert_eq!(status, 202, "{body}");
    tokio::time::timeout(HANG_GUARD, async {
        while events.recv().await.expect("webhook open")["type"] != "receipt" {}
    })
    .await
    .expect("the receipt reaches the webhook");
    daemon.wait_event("webhook_failed", |e| e["event"] == "webhook_failed");

    // A reload rebinds the channel, and the SMSC follows its bind_resp with a deliver_sm
    // that does not decode.
    sim.set_faults(Faults {
        after_bind: Some(AfterBind::MalformedPdu),
        ..Faults::default()
    })
    .unwrap();
    dir.write("smppd.toml", &text(20));
    daemon.signal("HUP");
    daemon.wait_event("reloaded", |e| e["event"] == "reloaded");
    daemon.wait_event("malformed_pdu", |e| e["event"] == "malformed_pdu");

    // Another reload, and the SMSC sends bytes that cannot be framed after the bind.
    sim.set_faults(Faults {
        after_bind: Some(AfterBind::Garbage),
        ..Faults::default()
    })
    .unwrap();
    dir.write("smppd.toml", &text(30));
    daemon.signal("HUP");
    daemon.wait_event("protocol violation", |e| {
        e["event"] == "channel_failure" && e["reason"] == "protocol_violation"
    });
    sim.set_faults(Faults::default()).unwrap();

    daemon.signal("TERM");
    let exit = daemon.wait();
    assert!(exit.success(), "exit {exit:?}:\n{}", daemon.all_output());

    let stdout = daemon.stdout.lock().unwrap().clone();
    let mut problems = Vec::new();
    for line in &stdout {
        let Ok(e) = serde_json::from_str::<Value>(line) else {
            problems.push(format!("not JSON: {line}"));
            continue;
        };
        let Some(event) = e["event"].as_str() else {
            problems.push(format!("no event: {line}"));
            continue;
        };
        if !PROCESS_EVENTS.contains(&event) && !e["channel"].is_string() {
            problems.push(format!("no channel: {line}"));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // The scenario did produce the lines it was meant to check.
    let seen: Vec<&str> = stdout
        .iter()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|e| e["event"].as_str().map(str::to_owned))
        .map(|e| {
            PROCESS_EVENTS
                .iter()
                .copied()
                .find(|p| *p == e)
                .unwrap_or("channel")
        })
        .collect();
    for expected in [
        "started",
        "reloaded",
        "webhook_failed",
        "stopped",
        "channel",
    ] {
        assert!(
            seen.contains(&expected),
            "no {expected} line:\n{}",
            stdout.join("\n")
        );
    }
    let malformed = daemon.wait_event("malformed_pdu", |e| e["event"] == "malformed_pdu");
    assert_eq!(malformed["channel"], "alpha");
    assert_no_secret(&daemon);
    sim.shutdown().await;
}
