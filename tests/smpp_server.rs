//! The SMPP server end to end: the real binary with the built-in simulator as its upstream
//! SMSC, and smpp34's client as a downstream user. A submit is answered with smppd's own id
//! once committed, goes out through the user's channel, and its receipt comes back to the
//! user as a deliver_sm naming that id; credits run out; a wrong password is refused and
//! logged; balances and queued receipts survive a SIGKILL. The operations API lists the
//! users and sessions, adds credits and unbinds a session; `/metrics` counts the same.

mod daemon_support;

use daemon_support::{http, Daemon, TempDir, HANG_GUARD};
use serde_json::Value;
use smpp34::client::{SmppClient, SmppClientListener, BIND_TYPE, SMSC};
use smpp34::common::{deliver_sm, deliver_sm_resp, SmppConnectionInformation};
use smppd::password::PasswordHash;
use smppd::secret::Secret;
use smppd::simulator::{Account, Simulator, SimulatorConfig, SimulatorHandle};
use std::net::SocketAddr;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, Mutex};

const UPSTREAM_PASSWORD: &str = "pw-up";
const USER_PASSWORD: &str = "acme-pw1";

async fn simulator() -> SimulatorHandle {
    Simulator::start(SimulatorConfig::loopback(vec![Account::new(
        "up",
        UPSTREAM_PASSWORD,
    )]))
    .await
    .unwrap()
}

/// A configuration with one channel to the simulator, the server on a free port and user
/// `acme` (with `extra` lines in its section).
fn config(dir: &TempDir, sim: &SimulatorHandle, extra: &str) -> std::path::PathBuf {
    let hash = PasswordHash::hash(&Secret::new(USER_PASSWORD)).unwrap();
    dir.write(
        "smppd.toml",
        &format!(
            "[channel-up]\nx-smpp-host = \"127.0.0.1\"\nx-smpp-port = {}\n\
             x-smpp-system-id = \"up\"\npassword = \"{UPSTREAM_PASSWORD}\"\n\
             x-smpp-submit-max-rate = 0\n\
             [http]\nlisten = \"127.0.0.1:0\"\n\
             [smpp-server]\nlisten = \"127.0.0.1:0\"\n\
             [smpp-user-acme]\nsystem-id = \"acme\"\npassword-hash = \"{hash}\"\n\
             channels = [\"up\"]\n{extra}",
            sim.local_addr().port()
        ),
    )
}

/// Where the server listens, from its log.
fn server_address(daemon: &Daemon) -> SocketAddr {
    let e = daemon.wait_event("smpp_server_listening", |e| {
        e["event"] == "smpp_server_listening"
    });
    e["address"].as_str().unwrap().parse().unwrap()
}

/// smpp34's listener: the bound SMSC handle, and every deliver_sm received.
struct Listener {
    bound: Mutex<Option<oneshot::Sender<Arc<SMSC>>>>,
    delivered: mpsc::UnboundedSender<deliver_sm>,
}

#[async_trait::async_trait]
impl SmppClientListener for Listener {
    async fn on_smsc_bound(&self, smsc: SMSC, _session_id: &String) {
        if let Some(tx) = self.bound.lock().await.take() {
            let _ = tx.send(Arc::new(smsc));
        }
    }

    async fn on_deliver_sm(
        &self,
        pdu: deliver_sm,
        _connection_information: &SmppConnectionInformation,
        _session_id: &String,
    ) -> deliver_sm_resp {
        let _ = self.delivered.send(pdu.clone());
        pdu.accept()
    }
}

/// A transceiver bind of smpp34's client as `acme`: the SMSC handle (`None` when the bind
/// was refused), and the deliver_sm it receives.
async fn bind(
    addr: SocketAddr,
    password: &str,
) -> (
    Option<Arc<SMSC>>,
    SmppClient,
    mpsc::UnboundedReceiver<deliver_sm>,
) {
    let (tx, rx) = oneshot::channel();
    let (delivered, deliveries) = mpsc::unbounded_channel();
    let listener = Arc::new(Listener {
        bound: Mutex::new(Some(tx)),
        delivered,
    });
    let mut client = SmppClient::new(
        addr.ip().to_string(),
        addr.port(),
        false,
        BIND_TYPE::TRX,
        "acme".to_string(),
        password.to_string(),
        String::new(),
        0,
        0,
        String::new(),
        listener,
        10,
    );
    client.start().await;
    let smsc = tokio::time::timeout(std::time::Duration::from_secs(5), rx)
        .await
        .ok()
        .and_then(Result::ok);
    (smsc, client, deliveries)
}

async fn submit(smsc: &SMSC, text: &str) -> (u32, Option<String>) {
    let resp = smsc
        .submit_sm()
        .source_addr("ACME")
        .destination_addr("31612345678")
        .registered_delivery(1)
        .short_message(text.as_bytes().to_vec())
        .send()
        .await
        .expect("a submit_sm_resp");
    (resp.command_status(), resp.message_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submit_is_answered_with_our_id_and_its_receipt_comes_back_with_it() {
    let sim = simulator().await;
    let dir = TempDir::new("smpp-server");
    let daemon = Daemon::run(&config(&dir, &sim, ""));
    let addr = server_address(&daemon);
    let (smsc, mut client, mut deliveries) = bind(addr, USER_PASSWORD).await;
    let smsc = smsc.expect("acme binds");
    let (status, id) = submit(&smsc, "hello over smpp").await;
    assert_eq!(status, 0);
    let id = id.expect("a message id");
    assert_eq!(id.len(), 32, "{id}");
    // The message left through the channel, as the client sent it.
    daemon_support::wait_until("the simulator got the message", || {
        sim.record().submits.len() == 1
    })
    .await;
    assert_eq!(
        sim.record().submits[0].short_message,
        b"hello over smpp".to_vec()
    );
    let receipt = tokio::time::timeout(HANG_GUARD, deliveries.recv())
        .await
        .expect("a receipt comes back")
        .unwrap();
    assert_eq!(receipt.esm_class & 0x3c, 0x04, "a delivery receipt");
    let text = String::from_utf8_lossy(&receipt.short_message).into_owned();
    assert!(text.starts_with(&format!("id:{id} ")), "{text}");
    assert!(text.contains("stat:DELIVRD"), "{text}");
    assert_eq!(receipt.source_addr, "31612345678");
    // The HTTP API knows the message by the same id.
    let (code, body) = http(daemon.api(), "GET", &format!("/v1/messages/{id}"), None);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["state"], "delivered");
    client.stop().await;
    daemon.signal("TERM");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_refused_and_logged_without_the_password() {
    let sim = simulator().await;
    let dir = TempDir::new("smpp-server-refused");
    let daemon = Daemon::run(&config(&dir, &sim, ""));
    let addr = server_address(&daemon);
    let (smsc, mut client, _) = bind(addr, "wrong-pw").await;
    assert!(smsc.is_none(), "the bind is refused");
    let e: Value = daemon.wait_event("smpp_bind_refused", |e| e["event"] == "smpp_bind_refused");
    assert_eq!(e["system_id"], "acme");
    assert_eq!(e["reason"], "wrong password");
    client.stop().await;
    daemon.signal("TERM");
    let out = daemon.all_output();
    assert!(!out.contains("wrong-pw") && !out.contains(USER_PASSWORD));
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credits_run_out_and_the_next_submit_is_refused() {
    let sim = simulator().await;
    let dir = TempDir::new("smpp-server-credits");
    let daemon = Daemon::run(&config(&dir, &sim, "credits = 2\n"));
    let addr = server_address(&daemon);
    let (smsc, mut client, _) = bind(addr, USER_PASSWORD).await;
    let smsc = smsc.expect("acme binds");
    assert_eq!(submit(&smsc, "one").await.0, 0);
    assert_eq!(submit(&smsc, "two").await.0, 0);
    // ESME_RSUBMITFAIL: no credits left.
    assert_eq!(submit(&smsc, "three").await.0, 0x45);
    client.stop().await;
    daemon.signal("TERM");
    sim.shutdown().await;
}

/// The body of `GET path` as text (`/metrics` is not JSON).
fn get_text(daemon: &Daemon, path: &str) -> String {
    let (status, body) =
        daemon_support::request(daemon.api(), "GET", path, None, &[], HANG_GUARD).unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_lists_users_and_sessions_adds_credits_and_unbinds_a_session() {
    let sim = simulator().await;
    let dir = TempDir::new("smpp-server-api");
    let hash = PasswordHash::hash(&Secret::new("free-pw1")).unwrap();
    let unlimited = format!(
        "credits = 5\n[smpp-user-free]\nsystem-id = \"free\"\npassword-hash = \"{hash}\"\n\
         channels = [\"up\"]\nmax-binds = 1\nthroughput = 7\n"
    );
    let daemon = Daemon::run(&config(&dir, &sim, &unlimited));
    let api = daemon.api();
    let addr = server_address(&daemon);

    let (code, body) = http(api, "GET", "/v1/smpp-users", None);
    assert_eq!(code, 200, "{body}");
    let users = body["users"].as_array().unwrap();
    assert_eq!(users.len(), 2, "{body}");
    assert_eq!(users[0]["name"], "acme");
    assert_eq!(users[0]["system_id"], "acme");
    assert_eq!(users[0]["credits"], 5);
    assert_eq!(users[0]["binds"], 0);
    assert_eq!(users[0]["max_binds"], 4);
    assert_eq!(users[0]["throughput"], 100);
    assert_eq!(users[0]["channels"], serde_json::json!(["up"]));
    assert_eq!(users[1]["name"], "free");
    assert!(users[1]["credits"].is_null(), "unlimited: {body}");
    assert_eq!(users[1]["max_binds"], 1);
    assert_eq!(users[1]["throughput"], 7);

    let (smsc, mut client, _) = bind(addr, USER_PASSWORD).await;
    let smsc = smsc.expect("acme binds");
    assert_eq!(submit(&smsc, "counted").await.0, 0);

    let (_, body) = http(api, "GET", "/v1/smpp-users", None);
    let acme = &body["users"][0];
    assert_eq!(acme["binds"], 1, "{acme}");
    assert_eq!(acme["credits"], 4, "one segment charged: {acme}");
    assert_eq!(acme["counters"]["accepted"], 1, "{acme}");
    assert_eq!(acme["counters"]["bind_refusals"], 0, "{acme}");

    let (code, body) = http(api, "GET", "/v1/smpp-sessions", None);
    assert_eq!(code, 200, "{body}");
    let sessions = body["sessions"].as_array().unwrap();
    assert_eq!(sessions.len(), 1, "{body}");
    let session = &sessions[0];
    assert_eq!(session["user"], "acme");
    assert_eq!(session["bind"], "transceiver");
    assert!(session["tls"].is_null(), "{session}");
    assert!(
        session["remote"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:"),
        "{session}"
    );
    assert!(
        session["since"].as_str().unwrap().ends_with('Z'),
        "{session}"
    );
    assert_eq!(session["counters"]["submitted"], 1, "{session}");
    let id = session["id"].as_u64().unwrap();

    // Credits: added and committed; refused for an unlimited user, an unknown one and a
    // wrong body, naming the field.
    let (code, body) = http(
        api,
        "POST",
        "/v1/smpp-users/acme/credits",
        Some(r#"{"add": 10}"#),
    );
    assert_eq!(code, 200, "{body}");
    assert_eq!(body, serde_json::json!({"name": "acme", "credits": 14}));
    let (_, users) = http(api, "GET", "/v1/smpp-users", None);
    assert_eq!(users["users"][0]["credits"], 14);
    let (code, body) = http(
        api,
        "POST",
        "/v1/smpp-users/free/credits",
        Some(r#"{"add": 10}"#),
    );
    assert_eq!(code, 409, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("no credit limit"),
        "{body}"
    );
    let (code, body) = http(
        api,
        "POST",
        "/v1/smpp-users/nobody/credits",
        Some(r#"{"add": 10}"#),
    );
    assert_eq!(code, 404, "{body}");
    for (wrong, field) in [
        (r#"{"add": 0}"#, "add"),
        (r#"{"add": 1000000000001}"#, "add"),
        (r#"{"add": "5"}"#, "add"),
        (r#"{"add": 1, "extra": 1}"#, "extra"),
    ] {
        let (code, body) = http(api, "POST", "/v1/smpp-users/acme/credits", Some(wrong));
        assert_eq!(code, 400, "{wrong}: {body}");
        assert_eq!(body["field"], field, "{wrong}: {body}");
    }

    let metrics = get_text(&daemon, "/metrics");
    for line in [
        "smppd_smpp_user_binds{user=\"acme\"} 1",
        "smppd_smpp_user_binds{user=\"free\"} 0",
        "smppd_smpp_user_credits{user=\"acme\"} 14",
        "smppd_smpp_user_submits_total{user=\"acme\",result=\"accepted\"} 1",
        "smppd_smpp_user_submits_total{user=\"acme\",result=\"no_credit\"} 0",
        "smppd_smpp_user_delivered_total{user=\"free\"} 0",
        "smppd_smpp_sessions 1",
    ] {
        assert!(metrics.lines().any(|l| l == line), "no {line}:\n{metrics}");
    }
    assert!(
        !metrics.contains("smppd_smpp_user_credits{user=\"free\"}"),
        "an unlimited user has no balance series"
    );

    // Unbind: bad and unknown ids first, then the session's own.
    let (code, body) = http(api, "DELETE", "/v1/smpp-sessions/first", None);
    assert_eq!(code, 400, "{body}");
    assert_eq!(body["field"], "id");
    let (code, body) = http(api, "DELETE", "/v1/smpp-sessions/999999", None);
    assert_eq!(code, 404, "{body}");
    let (code, body) = http(api, "DELETE", &format!("/v1/smpp-sessions/{id}"), None);
    assert_eq!(code, 202, "{body}");
    assert_eq!(body, serde_json::json!({"id": id, "unbinding": true}));
    daemon_support::wait_until("the session is closed", || {
        let (_, body) = http(api, "GET", "/v1/smpp-sessions", None);
        body["sessions"]
            .as_array()
            .is_some_and(|s| s.iter().all(|s| s["id"] != id))
    })
    .await;
    client.stop().await;
    daemon.signal("TERM");
    sim.shutdown().await;
}
