//! A channel started from a configuration text, end to end: keystore read from the committed
//! dev PKI, mutual TLS to the built-in simulator, bind, submit, outcome — and the 43010 path
//! when the keystore password is wrong.

use crate::support::dev_pki::dev;
use crate::support::events::split_events;
use crate::support::hang_guard::HANG_GUARD;
use std::path::Path;

use smppd::codec::pdu::SubmitSm;
use smppd::codec::{COctetString, ShortMessage};
use smppd::config::Config;
use smppd::daemon::channels;
use smppd::session::{OutboundMessage, SubmitOutcome};
use smppd::simulator::{
    Account, ClientAuth, Simulator, SimulatorConfig, TlsServerSettings, TlsVersions,
};
use smppd::supervisor::ChannelState;
use tokio::sync::mpsc;

async fn mutual_tls_simulator() -> smppd::simulator::SimulatorHandle {
    let mut config = SimulatorConfig::loopback(vec![Account::new("acme", "pw")]);
    config.tls = Some(TlsServerSettings {
        cert_chain: dev("server-chain.pem"),
        private_key: dev("server.key"),
        client_auth: ClientAuth::Required { ca: dev("ca.pem") },
        versions: TlsVersions::Both,
    });
    Simulator::start(config).await.expect("simulator starts")
}

fn channel_config(port: u16, file_password: &str, version: &str) -> smppd::config::ChannelConfig {
    let text = format!(
        r#"
[channel-demo]
x-smpp-host = "127.0.0.1"
x-smpp-port = {port}
x-smpp-system-id = "acme"
password = "pw"
x-smpp-submit-max-rate = 0
x-smpp-tls-mode = "mutual"
x-smpp-tls-version = "{version}"
x-smpp-tls-path-to-certificate = "{p12}"
x-smpp-tls-certificate-file-password = "{file_password}"
"#,
        p12 = dev("client.p12").display(),
    );
    let parsed = Config::parse(&text, Path::new("/tmp/demo.toml"), &|_| None)
        .unwrap_or_else(|e| panic!("{e}"));
    parsed.config.channels.into_iter().next().unwrap()
}

fn message(id: u64) -> OutboundMessage {
    OutboundMessage::new(
        id,
        SubmitSm {
            destination_addr: COctetString::new(&b"447700900123"[..]).unwrap(),
            short_message: ShortMessage::new(format!("hello {id}").into_bytes()).unwrap(),
            ..Default::default()
        },
    )
}

#[tokio::test]
async fn a_configured_mutual_tls_channel_binds_and_submits() {
    for version in ["1.2", "1.3"] {
        let sim = mutual_tls_simulator().await;
        let (events, mut outcomes, _inbound) = split_events();
        let config = channel_config(sim.local_addr().port(), "changeit", version);
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
        let mut status = channel.status.clone();
        tokio::time::timeout(
            HANG_GUARD,
            status.wait_for(|s| s.state == ChannelState::Bound),
        )
        .await
        .expect("hang guard")
        .expect("status channel open");
        for id in 1..=5 {
            queue.send(message(id)).await.unwrap();
        }
        let mut accepted = Vec::new();
        while accepted.len() < 5 {
            match tokio::time::timeout(HANG_GUARD, outcomes.recv()).await {
                Ok(Some(SubmitOutcome::Accepted {
                    message,
                    message_id,
                })) => {
                    assert!(!message_id.is_empty());
                    accepted.push(message.id);
                }
                other => panic!("TLS {version}: unexpected outcome {other:?}"),
            }
        }
        accepted.sort_unstable();
        assert_eq!(accepted, [1, 2, 3, 4, 5], "TLS {version}");
        assert_eq!(sim.record().submits.len(), 5, "TLS {version}");
        assert!(channel.stop().await.is_some());
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn a_wrong_keystore_password_fails_the_channel_with_43010() {
    let (events, _outcomes, _inbound) = split_events();
    // Nothing listens on this port: the channel must not even try to connect.
    let config = channel_config(9, "wrong", "1.2");
    let (_queue, queue_rx) = mpsc::channel(100);
    let channel = channels::supervise(
        &config,
        smppd::supervisor::ChannelIo {
            queue: queue_rx,
            events,
            gate: smppd::session::SendGate::always(),
            record: None,
        },
    );
    let status = channel.status.borrow().clone();
    assert_eq!(status.state, ChannelState::Failed);
    assert_eq!(status.connect_attempts, 0);
    let last = status.last_error.expect("the failure is kept");
    assert_eq!(last.code, 43010);
    assert_eq!(
        last.message,
        "failed to initialize ssl context: keystore password was incorrect"
    );
    assert_eq!(last.reason, "keystore_wrong_file_password");
}
