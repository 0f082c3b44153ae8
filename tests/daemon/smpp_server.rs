//! The SMPP server end to end: the real binary with the built-in simulator as its upstream
//! SMSC, and smpp34's client as a downstream user. A submit is answered with smppd's own id
//! once committed, goes out through the user's channel, and its receipt comes back to the
//! user as a deliver_sm naming that id; credits run out; a wrong password is refused and
//! logged; balances and queued receipts survive a SIGKILL. The operations API lists the
//! users and sessions, adds credits and unbinds a session; `/metrics` counts the same.

use crate::support::daemon::{http, Daemon, TempDir};
use crate::support::hang_guard::HANG_GUARD;
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
    bind_as(addr, password, BIND_TYPE::TRX).await
}

/// [`bind`] with another bind type.
async fn bind_as(
    addr: SocketAddr,
    password: &str,
    mode: BIND_TYPE,
) -> (
    Option<Arc<SMSC>>,
    SmppClient,
    mpsc::UnboundedReceiver<deliver_sm>,
) {
    bind_with(addr, "acme", password, mode).await
}

/// [`bind`] with another system_id and bind type.
async fn bind_with(
    addr: SocketAddr,
    system_id: &str,
    password: &str,
    mode: BIND_TYPE,
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
        mode,
        system_id.to_string(),
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
    crate::support::daemon::wait_until("the simulator got the message", || {
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
    // And so does query_sm: DELIVERED (2), with the final date.
    let query = smsc
        .send_query_sm(id.clone(), 0, 0, "ACME".into())
        .await
        .expect("a query_sm_resp");
    assert!(query.is_success());
    assert_eq!(query.message_state, 2);
    assert_eq!(query.final_date.len(), 16, "{}", query.final_date);
    let unknown = smsc
        .send_query_sm("0".repeat(32), 0, 0, "ACME".into())
        .await
        .expect("a query_sm_resp");
    assert!(!unknown.is_success(), "not one of this user's messages");
    client.stop().await;
    daemon.signal("TERM");
    sim.shutdown().await;
}

/// The receipt's `id:` field.
fn receipt_id(pdu: &deliver_sm) -> String {
    let text = String::from_utf8_lossy(&pdu.short_message).into_owned();
    text.strip_prefix("id:")
        .and_then(|t| t.split(' ').next())
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn receipts_wait_for_a_receiver_and_credits_and_receipts_survive_a_sigkill() {
    let sim = simulator().await;
    let dir = TempDir::new("smpp-server-kill");
    let path = config(&dir, &sim, "credits = 3\n");
    let mut daemon = Daemon::run(&path);
    let addr = server_address(&daemon);
    // A transmitter only: the receipts have no one to go to yet.
    let (smsc, mut client, _) = bind_as(addr, USER_PASSWORD, BIND_TYPE::TX).await;
    let smsc = smsc.expect("acme binds");
    let mut ids = Vec::new();
    for text in ["one", "two", "three"] {
        let (status, id) = submit(&smsc, text).await;
        assert_eq!(status, 0);
        ids.push(id.unwrap());
    }
    client.stop().await;
    let api = daemon.api();
    crate::support::daemon::wait_until("every receipt is in", || {
        ids.iter().all(|id| {
            http(api, "GET", &format!("/v1/messages/{id}"), None).1["state"] == "delivered"
        })
    })
    .await;
    daemon.child.kill().unwrap();
    daemon.wait();

    let daemon = Daemon::run(&path);
    let addr = server_address(&daemon);
    let (smsc, mut client, mut deliveries) = bind(addr, USER_PASSWORD).await;
    let smsc = smsc.expect("acme binds again");
    let mut got = Vec::new();
    while got.len() < ids.len() {
        let pdu = tokio::time::timeout(HANG_GUARD, deliveries.recv())
            .await
            .expect("the kept receipts are delivered")
            .unwrap();
        got.push(receipt_id(&pdu));
    }
    got.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got, want);
    // Three credits were spent before the kill: none is left after it.
    assert_eq!(submit(&smsc, "four").await.0, 0x45);
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

/// A bind_transceiver as `acme`, for the tests that speak through rusmpp's codec.
fn rusmpp_bind(sequence_number: u32) -> rusmpp::Command {
    use rusmpp::pdus::BindTransceiver;
    use rusmpp::types::COctetString;
    use std::str::FromStr;
    rusmpp::Command::builder()
        .status(rusmpp::CommandStatus::EsmeRok)
        .sequence_number(sequence_number)
        .pdu(
            BindTransceiver::builder()
                .system_id(COctetString::from_str("acme").unwrap())
                .password(COctetString::from_str(USER_PASSWORD).unwrap())
                .build(),
        )
}

/// A submit_sm of `text` from ACME, through rusmpp's codec.
fn rusmpp_submit(sequence_number: u32, text: &str) -> rusmpp::Command {
    use rusmpp::pdus::SubmitSm;
    use rusmpp::types::{COctetString, OctetString};
    use std::str::FromStr;
    rusmpp::Command::builder()
        .status(rusmpp::CommandStatus::EsmeRok)
        .sequence_number(sequence_number)
        .pdu(
            SubmitSm::builder()
                .source_addr(COctetString::from_str("ACME").unwrap())
                .destination_addr(COctetString::from_str("31612345678").unwrap())
                .short_message(OctetString::from_str(text).unwrap())
                .build(),
        )
}

/// Submits that arrive in one read are committed together: each answer still pairs with
/// its own submit (sequence number, our id, its credit), and only the charged ones go out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submits_written_at_once_are_each_answered_for_themselves() {
    use futures_util::{SinkExt, StreamExt};
    use rusmpp::{tokio_codec::CommandCodec, Command, CommandId, CommandStatus, Pdu};
    use tokio_util::codec::Framed;

    let sim = simulator().await;
    let dir = TempDir::new("smpp-server-burst");
    let daemon = Daemon::run(&config(&dir, &sim, "credits = 5\n"));
    let addr = server_address(&daemon);
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let mut client = Framed::new(tcp, CommandCodec::new());
    client.send(rusmpp_bind(1)).await.unwrap();
    let resp = client.next().await.unwrap().unwrap();
    assert_eq!(resp.status(), CommandStatus::EsmeRok, "{resp:?}");
    // Eight submits, one write: `feed` buffers, `flush` writes them together.
    for n in 2..10u32 {
        client
            .feed(rusmpp_submit(n, &format!("burst {n}")))
            .await
            .unwrap();
    }
    SinkExt::<Command>::flush(&mut client).await.unwrap();
    let mut answers = std::collections::BTreeMap::new();
    while answers.len() < 8 {
        let command = tokio::time::timeout(HANG_GUARD, client.next())
            .await
            .expect("every submit is answered")
            .unwrap()
            .unwrap();
        if command.id() == CommandId::SubmitSmResp {
            // A refusal carries no body, so no id.
            let id = match command.pdu() {
                Some(Pdu::SubmitSmResp(resp)) => resp.message_id().to_string(),
                _ => String::new(),
            };
            let before = answers.insert(command.sequence_number(), (command.status(), id));
            assert!(before.is_none(), "one answer per submit");
        }
    }
    assert_eq!(
        answers.keys().copied().collect::<Vec<_>>(),
        (2..10).collect::<Vec<_>>()
    );
    let accepted: std::collections::BTreeSet<u32> = answers
        .iter()
        .filter(|(_, (status, _))| *status == CommandStatus::EsmeRok)
        .map(|(n, _)| *n)
        .collect();
    // Five credits: five accepted, each with an id of its own; the rest refused for credit.
    assert_eq!(accepted.len(), 5, "{answers:?}");
    let ids: std::collections::BTreeSet<&String> = accepted.iter().map(|n| &answers[n].1).collect();
    assert_eq!(ids.len(), 5, "{answers:?}");
    assert!(ids.iter().all(|id| id.len() == 32), "{answers:?}");
    for (n, (status, _)) in &answers {
        if !accepted.contains(n) {
            // ESME_RSUBMITFAIL: no credits left.
            assert_eq!(*status, CommandStatus::EsmeRsubmitfail, "submit {n}");
        }
    }
    // What went upstream is exactly what was answered as accepted.
    crate::support::daemon::wait_until("the accepted submits reach the simulator", || {
        sim.record().submits.len() >= 5
    })
    .await;
    let sent: std::collections::BTreeSet<String> = sim
        .record()
        .submits
        .iter()
        .map(|s| String::from_utf8_lossy(&s.short_message).into_owned())
        .collect();
    let expected: std::collections::BTreeSet<String> =
        accepted.iter().map(|n| format!("burst {n}")).collect();
    assert_eq!(sent, expected);
    daemon.signal("TERM");
    sim.shutdown().await;
}

/// TLS and mutual TLS, with rusmpp's codec as the client over rustls.
mod tls {
    use super::*;
    use crate::support::dev_pki::dev;
    use futures_util::{SinkExt, StreamExt};
    use rusmpp::{tokio_codec::CommandCodec, CommandStatus, Pdu};
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    use tokio_util::codec::Framed;

    /// The `[smpp-server]` TLS lines: the development PKI's server keystore, and in mutual
    /// mode its CA for client certificates.
    fn tls_lines(mutual: bool) -> String {
        let mut lines = format!(
            "tls-mode = \"{}\"\ntls-version = \"1.2\"\ntls-path-to-certificate = \"{}\"\n\
             tls-certificate-file-password = \"changeit\"\ntls-certificate-password = \"changeit\"\n",
            if mutual { "mutual" } else { "single" },
            dev("server.p12").display()
        );
        if mutual {
            lines.push_str(&format!(
                "tls-client-ca = \"{}\"\n",
                dev("ca.pem").display()
            ));
        }
        lines
    }

    fn tls_config(dir: &TempDir, sim: &SimulatorHandle, mutual: bool) -> std::path::PathBuf {
        let path = config(dir, sim, "");
        let text = std::fs::read_to_string(&path).unwrap().replace(
            "[smpp-server]\nlisten = \"127.0.0.1:0\"\n",
            &format!(
                "[smpp-server]\nlisten = \"127.0.0.1:0\"\n{}",
                tls_lines(mutual)
            ),
        );
        dir.write("smppd.toml", &text)
    }

    type Client = Framed<tokio_rustls::client::TlsStream<tokio::net::TcpStream>, CommandCodec>;

    async fn connect(addr: SocketAddr, identity: bool) -> std::io::Result<Client> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(dev("ca.pem")).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS12])
            .unwrap()
            .with_root_certificates(roots);
        let config = if identity {
            let chain = CertificateDer::pem_file_iter(dev("client.pem"))
                .unwrap()
                .map(Result::unwrap)
                .collect();
            let key = PrivateKeyDer::from_pem_file(dev("client.key")).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        } else {
            builder.with_no_client_auth()
        };
        let tcp = tokio::net::TcpStream::connect(addr).await?;
        let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
            .connect(ServerName::try_from("localhost").unwrap(), tcp)
            .await?;
        Ok(Framed::new(tls, CommandCodec::new()))
    }

    /// Binds as `acme` and submits one message; the submit_sm_resp's id.
    async fn bind_and_submit(client: &mut Client) -> Option<String> {
        client.send(rusmpp_bind(1)).await.ok()?;
        let resp = client.next().await?.ok()?;
        assert_eq!(resp.status(), CommandStatus::EsmeRok, "{resp:?}");
        client.send(rusmpp_submit(2, "over tls")).await.ok()?;
        loop {
            let command = client.next().await?.ok()?;
            if let Some(Pdu::SubmitSmResp(resp)) = command.pdu() {
                assert_eq!(command.status(), CommandStatus::EsmeRok);
                return Some(resp.message_id().to_string());
            }
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_client_submits_over_tls() {
        let sim = simulator().await;
        let dir = TempDir::new("smpp-server-tls");
        let daemon = Daemon::run(&tls_config(&dir, &sim, false));
        let addr = server_address(&daemon);
        let mut client = connect(addr, false).await.expect("TLS handshake");
        let id = bind_and_submit(&mut client).await.expect("a message id");
        assert_eq!(id.len(), 32, "{id}");
        crate::support::daemon::wait_until("the simulator got it", || {
            sim.record().submits.len() == 1
        })
        .await;
        daemon.signal("TERM");
        sim.shutdown().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn mutual_tls_takes_a_client_certificate_and_refuses_a_client_without_one() {
        let sim = simulator().await;
        let dir = TempDir::new("smpp-server-mutual");
        let daemon = Daemon::run(&tls_config(&dir, &sim, true));
        let addr = server_address(&daemon);
        let mut client = connect(addr, true).await.expect("TLS handshake");
        assert!(bind_and_submit(&mut client).await.is_some());
        // Without a certificate: the handshake (or the first read after it) fails, and the
        // server logs why.
        let refused = match connect(addr, false).await {
            Err(_) => true,
            Ok(mut c) => bind_and_submit(&mut c).await.is_none(),
        };
        assert!(refused, "a client without a certificate is refused");
        let e = daemon.wait_event("smpp_tls_failed", |e| e["event"] == "smpp_tls_failed");
        assert!(e["error"].as_str().is_some(), "{e}");
        daemon.signal("TERM");
        sim.shutdown().await;
    }
}

/// The `reason` of the `n`th `smpp_bind_refused` event (0-based), once it is logged.
fn refusal(daemon: &Daemon, n: usize) -> String {
    daemon.wait_event("a bind refusal", |e| {
        e["event"] == "smpp_bind_refused"
            && daemon
                .events()
                .iter()
                .filter(|e| e["event"] == "smpp_bind_refused")
                .count()
                > n
    });
    daemon
        .events()
        .into_iter()
        .filter(|e| e["event"] == "smpp_bind_refused")
        .nth(n)
        .map(|e| e["reason"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_of_bind_refusal_is_refused_and_logged() {
    let sim = simulator().await;
    let dir = TempDir::new("smpp-server-binds");
    let daemon = Daemon::run(&config(&dir, &sim, "max-binds = 1\n"));
    let addr = server_address(&daemon);
    // Unknown system_id.
    let (smsc, mut c, _) = bind_with(addr, "nobody", USER_PASSWORD, BIND_TYPE::TRX).await;
    assert!(smsc.is_none());
    c.stop().await;
    assert_eq!(refusal(&daemon, 0), "unknown system_id");
    // max-binds = 1: a second session of the user is refused while the first is bound.
    let (first, mut one, _) = bind(addr, USER_PASSWORD).await;
    assert!(first.is_some());
    let (second, mut two, _) = bind(addr, USER_PASSWORD).await;
    assert!(second.is_none());
    two.stop().await;
    assert_eq!(refusal(&daemon, 1), "max-binds sessions already bound");
    one.stop().await;
    // Four more failures make five from this address: then even the right password is
    // refused without a look.
    for _ in 0..4 {
        let (smsc, mut c, _) = bind(addr, "wrong-pw").await;
        assert!(smsc.is_none());
        c.stop().await;
    }
    let (smsc, mut c, _) = bind(addr, USER_PASSWORD).await;
    assert!(smsc.is_none(), "the address is blocked");
    c.stop().await;
    assert_eq!(
        refusal(&daemon, 6),
        "address blocked after repeated bind failures"
    );
    daemon.signal("TERM");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bind_from_outside_allowed_ips_is_refused() {
    let sim = simulator().await;
    let dir = TempDir::new("smpp-server-ips");
    let daemon = Daemon::run(&config(&dir, &sim, "allowed-ips = [\"192.0.2.0/24\"]\n"));
    let addr = server_address(&daemon);
    let (smsc, mut c, _) = bind(addr, USER_PASSWORD).await;
    assert!(smsc.is_none());
    c.stop().await;
    assert_eq!(refusal(&daemon, 0), "address not in allowed-ips");
    daemon.signal("TERM");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn submits_over_the_throughput_are_throttled() {
    let sim = simulator().await;
    let dir = TempDir::new("smpp-server-throughput");
    let daemon = Daemon::run(&config(&dir, &sim, "throughput = 1\n"));
    let addr = server_address(&daemon);
    let (smsc, mut client, _) = bind(addr, USER_PASSWORD).await;
    let smsc = smsc.expect("acme binds");
    assert_eq!(submit(&smsc, "one").await.0, 0);
    // ESME_RTHROTTLED: the bucket holds one second's worth, and it is spent.
    assert_eq!(submit(&smsc, "two").await.0, 0x58);
    client.stop().await;
    daemon.signal("TERM");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_that_expires_unsent_is_refunded_and_reported_expired() {
    // The channel points at a port where nothing listens: the message waits, then expires.
    let sim = simulator().await;
    let dir = TempDir::new("smpp-server-expiry");
    let path = config(&dir, &sim, "credits = 1\n");
    let text = std::fs::read_to_string(&path).unwrap().replace(
        &format!("x-smpp-port = {}", sim.local_addr().port()),
        "x-smpp-port = 9",
    );
    let path = dir.write("smppd.toml", &text);
    let daemon = Daemon::run(&path);
    let addr = server_address(&daemon);
    let (smsc, mut client, mut deliveries) = bind(addr, USER_PASSWORD).await;
    let smsc = smsc.expect("acme binds");
    let resp = smsc
        .submit_sm()
        .source_addr("ACME")
        .destination_addr("31612345678")
        .registered_delivery(1)
        .validity_period("000000000002000R")
        .short_message(b"soon gone".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.command_status(), 0);
    let id = resp.message_id.unwrap();
    assert_eq!(submit(&smsc, "no credit").await.0, 0x45);
    let receipt = tokio::time::timeout(HANG_GUARD, deliveries.recv())
        .await
        .expect("an expiry receipt")
        .unwrap();
    assert_eq!(receipt_id(&receipt), id);
    let text = String::from_utf8_lossy(&receipt.short_message).into_owned();
    assert!(text.contains("stat:EXPIRED"), "{text}");
    // The credit came back with the expiry.
    assert_eq!(submit(&smsc, "refunded").await.0, 0);
    client.stop().await;
    daemon.signal("TERM");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inbound_message_to_a_users_range_reaches_that_user_by_the_longest_match() {
    let sim = simulator().await;
    let dir = TempDir::new("smpp-server-mo");
    // acme holds the prefix; beta (another user, same password for brevity) one number in it.
    let hash = PasswordHash::hash(&Secret::new(USER_PASSWORD)).unwrap();
    let path = config(&dir, &sim, "address-ranges = [\"3169988*\"]\n");
    let text = std::fs::read_to_string(&path).unwrap()
        + &format!(
            "[smpp-user-beta]\nsystem-id = \"beta\"\npassword-hash = \"{hash}\"\n\
             channels = [\"up\"]\naddress-ranges = [\"+31699887766\"]\n"
        );
    let daemon = Daemon::run(&dir.write("smppd.toml", &text));
    let addr = server_address(&daemon);
    sim.wait_for_binds(1, HANG_GUARD).await.unwrap();
    let (acme, mut a, mut to_acme) = bind(addr, USER_PASSWORD).await;
    let (beta, mut b, mut to_beta) = bind_with(addr, "beta", USER_PASSWORD, BIND_TYPE::RX).await;
    assert!(acme.is_some() && beta.is_some());
    for (to, text) in [("31699887700", "for acme"), ("31699887766", "for beta")] {
        let mo = smppd::simulator::MoMessage {
            source_addr: "447700900123".into(),
            destination_addr: to.into(),
            short_message: text.as_bytes().to_vec(),
            esm_class: 0,
        };
        let status = sim.inject_mo("up", mo, HANG_GUARD).await.unwrap();
        assert_eq!(status.value(), 0, "acknowledged once stored");
    }
    let got = tokio::time::timeout(HANG_GUARD, to_acme.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (got.destination_addr.as_str(), &got.short_message[..]),
        ("31699887700", &b"for acme"[..])
    );
    assert_eq!(got.source_addr, "447700900123");
    let got = tokio::time::timeout(HANG_GUARD, to_beta.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&got.short_message[..], b"for beta");
    assert!(
        to_acme.try_recv().is_err(),
        "the exact range wins over the prefix"
    );
    a.stop().await;
    b.stop().await;
    daemon.signal("TERM");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_postgresql_a_submit_is_charged_and_its_receipt_comes_back() {
    let Some(schema) = crate::support::pg::TestSchema::create("smpp_server_on_postgresql") else {
        return;
    };
    let sim = simulator().await;
    let dir = TempDir::new("smpp-server-pg");
    let path = config(&dir, &sim, "credits = 1\n");
    let text = std::fs::read_to_string(&path).unwrap()
        + &format!(
            "[store]\nbackend = \"postgres\"\nurl = \"{}\"\nnode-name = \"n1\"\n",
            schema.url()
        );
    let daemon = Daemon::run(&dir.write("smppd.toml", &text));
    let addr = server_address(&daemon);
    let (smsc, mut client, mut deliveries) = bind(addr, USER_PASSWORD).await;
    let smsc = smsc.expect("acme binds");
    let (status, id) = submit(&smsc, "hello on postgres").await;
    assert_eq!(status, 0);
    let id = id.unwrap();
    assert_eq!(submit(&smsc, "no credit").await.0, 0x45);
    let receipt = tokio::time::timeout(HANG_GUARD, deliveries.recv())
        .await
        .expect("a receipt comes back")
        .unwrap();
    assert_eq!(receipt_id(&receipt), id);
    client.stop().await;
    daemon.signal("TERM");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_keeps_an_unchanged_users_sessions_and_unbinds_one_whose_password_changed() {
    let sim = simulator().await;
    let dir = TempDir::new("smpp-server-reload");
    let hash = PasswordHash::hash(&Secret::new(USER_PASSWORD)).unwrap();
    let path = config(&dir, &sim, "");
    let beta = |hash: &str, throughput: u32| {
        format!(
            "[smpp-user-beta]\nsystem-id = \"beta\"\npassword-hash = \"{hash}\"\n\
             channels = [\"up\"]\nthroughput = {throughput}\n"
        )
    };
    let base = std::fs::read_to_string(&path).unwrap();
    dir.write("smppd.toml", &format!("{base}{}", beta(&hash, 100)));
    let daemon = Daemon::run(&path);
    let addr = server_address(&daemon);
    let (acme, mut a, _) = bind(addr, USER_PASSWORD).await;
    let (beta_smsc, mut b, _) = bind_with(addr, "beta", USER_PASSWORD, BIND_TYPE::TRX).await;
    let (acme, beta_smsc) = (acme.unwrap(), beta_smsc.unwrap());
    // acme: only its throughput changes; beta: a new password.
    let other = PasswordHash::hash(&Secret::new("other-pw")).unwrap();
    let acme_section = "channels = [\"up\"]\n";
    let reloaded =
        base.replace(acme_section, "channels = [\"up\"]\nthroughput = 500\n") + &beta(&other, 100);
    dir.write("smppd.toml", &reloaded);
    daemon.signal("HUP");
    daemon.wait_event("the reload", |e| e["event"] == "reloaded");
    let closed = daemon.wait_event("beta's session closing", |e| {
        e["event"] == "smpp_session_closed" && e["user"] == "beta"
    });
    assert_eq!(closed["reason"], "unbound by the operator");
    // acme's session is still bound and still submits.
    assert_eq!(submit(&acme, "still bound").await.0, 0);
    assert!(daemon
        .events()
        .iter()
        .all(|e| !(e["event"] == "smpp_session_closed" && e["user"] == "acme")));
    drop(beta_smsc);
    a.stop().await;
    b.stop().await;
    daemon.signal("TERM");
    sim.shutdown().await;
}

/// The body of `GET path` as text (`/metrics` is not JSON).
fn get_text(daemon: &Daemon, path: &str) -> String {
    let (status, body) =
        crate::support::daemon::request(daemon.api(), "GET", path, None, &[], HANG_GUARD).unwrap();
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
    crate::support::daemon::wait_until("the session is closed", || {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_parts_of_a_long_message_go_out_as_the_client_split_them() {
    let sim = simulator().await;
    let dir = TempDir::new("smpp-server-udh");
    let daemon = Daemon::run(&config(&dir, &sim, ""));
    let addr = server_address(&daemon);
    let (smsc, mut client, _) = bind(addr, USER_PASSWORD).await;
    let smsc = smsc.expect("acme binds");
    let mut ids = Vec::new();
    for (n, text) in [(1u8, &b"first half, "[..]), (2, &b"second half"[..])] {
        let mut sm = vec![0x05, 0x00, 0x03, 0x7A, 0x02, n];
        sm.extend_from_slice(text);
        let resp = smsc
            .submit_sm()
            .source_addr("ACME")
            .destination_addr("31612345678")
            .esm_class(0x40)
            .short_message(sm)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.command_status(), 0);
        ids.push(resp.message_id.unwrap());
    }
    assert_ne!(ids[0], ids[1], "one message, and one id, per submit");
    crate::support::daemon::wait_until("both parts reached the SMSC", || {
        sim.record().submits.len() == 2
    })
    .await;
    let record = sim.record();
    for (n, submit) in record.submits.iter().enumerate() {
        assert_eq!(submit.esm_class, 0x40, "the UDH indicator is kept");
        assert_eq!(
            submit.short_message[..6],
            [0x05, 0x00, 0x03, 0x7A, 0x02, n as u8 + 1]
        );
    }
    client.stop().await;
    daemon.signal("TERM");
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_receipt_comes_back_once_to_a_user_with_two_receivers() {
    let sim = simulator().await;
    let dir = TempDir::new("smpp-server-once");
    let daemon = Daemon::run(&config(&dir, &sim, "throughput = 100000\n"));
    let addr = server_address(&daemon);
    let (smsc, mut one, mut first) = bind(addr, USER_PASSWORD).await;
    let (_, mut two, mut second) = bind_as(addr, USER_PASSWORD, BIND_TYPE::RX).await;
    let smsc = smsc.expect("acme binds");
    let mut ids = std::collections::BTreeSet::new();
    for n in 0..300 {
        let (status, id) = submit(&smsc, &format!("message {n}")).await;
        assert_eq!(status, 0);
        ids.insert(id.unwrap());
    }
    let mut got = Vec::new();
    while got.len() < ids.len() {
        let pdu = tokio::select! {
            p = first.recv() => p,
            p = second.recv() => p,
            _ = tokio::time::sleep(HANG_GUARD) => panic!("{} of {} receipts", got.len(), ids.len()),
        };
        got.push(receipt_id(&pdu.unwrap()));
    }
    // Every one, and (the run going well) none twice: answered events leave for good.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    while let Ok(p) = first.try_recv().or_else(|_| second.try_recv()) {
        got.push(receipt_id(&p));
    }
    let unique: std::collections::BTreeSet<String> = got.iter().cloned().collect();
    let missing = ids.difference(&unique).count();
    assert_eq!(missing, 0, "receipts that never came");
    assert_eq!(got.len(), ids.len(), "no receipt was delivered twice");
    one.stop().await;
    two.stop().await;
    daemon.signal("TERM");
    sim.shutdown().await;
}
