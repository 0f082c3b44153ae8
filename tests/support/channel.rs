//! Shared set-up for the `channel_*` integration tests: a simulator on loopback (plain TCP or
//! mutual TLS with the committed dev PKI), a channel through the real supervisor, and helpers
//! that wait on the channel's status or outcomes with a generous hang guard only.

use crate::support::dev_pki::dev;
pub use crate::support::events::split_events;
pub use crate::support::hang_guard::guard;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;

use smppd::codec::pdu::SubmitSm;
use smppd::codec::{COctetString, ShortMessage};
use smppd::config::{ChannelConfig, Config};
use smppd::secret::Secret;
use smppd::session::{OutboundMessage, SessionParams, SubmitOutcome};
use smppd::simulator::{
    Account, ClientAuth, Faults, RecordSnapshot, Simulator, SimulatorConfig, SimulatorHandle,
    SubmitOutcome as SimOutcome, TlsServerSettings, TlsVersions,
};
use smppd::supervisor::{
    spawn, Backoff, ChannelFailure, ChannelHandle, ChannelIo, ChannelStatus, Jitter,
};
use smppd::transport::TransportError;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};

/// The account every simulator here accepts.
pub const SYSTEM_ID: &str = "esme";
/// Its password.
pub const PASSWORD: &str = "secret";

/// Reconnect at once: back-off timing is the unit tests' business, not these.
pub struct NoWait;
impl Jitter for NoWait {
    fn next_u32(&mut self) -> u32 {
        0
    }
}

/// Always the longest wait of each back-off step: 1 s, 2 s, 4 s ...
pub struct Longest;
impl Jitter for Longest {
    fn next_u32(&mut self) -> u32 {
        u32::MAX
    }
}

/// A plain TCP simulator on 127.0.0.1:0 with the given faults.
pub async fn plain_simulator(faults: Faults) -> SimulatorHandle {
    let mut config = SimulatorConfig::loopback(vec![Account::new(SYSTEM_ID, PASSWORD)]);
    config.faults = faults;
    Simulator::start(config).await.expect("simulator starts")
}

/// A simulator that requires client certificates issued by the dev CA.
pub async fn mutual_tls_simulator(versions: TlsVersions, faults: Faults) -> SimulatorHandle {
    let mut config = SimulatorConfig::loopback(vec![Account::new(SYSTEM_ID, PASSWORD)]);
    config.faults = faults;
    config.tls = Some(TlsServerSettings {
        cert_chain: dev("server-chain.pem"),
        private_key: dev("server.key"),
        client_auth: ClientAuth::Required { ca: dev("ca.pem") },
        versions,
    });
    Simulator::start(config).await.expect("simulator starts")
}

/// Session parameters for the simulator's account: no rate cap, window `window`.
pub fn params(window: usize) -> SessionParams {
    SessionParams::new(SYSTEM_ID, Secret::new(PASSWORD))
        .unwrap()
        .with_window_size(window)
        .unwrap()
        .with_max_rate(0)
}

/// The text message `id` carries, so the simulator's record can be matched to it.
pub fn text(id: u64) -> Vec<u8> {
    format!("msg {id}").into_bytes()
}

/// Message `id`, its text from [`text`].
pub fn message(id: u64, registered_delivery: u8) -> OutboundMessage {
    OutboundMessage::new(
        id,
        SubmitSm {
            source_addr: COctetString::new(&b"12345"[..]).unwrap(),
            destination_addr: COctetString::new(&b"447700900001"[..]).unwrap(),
            short_message: ShortMessage::new(text(id)).unwrap(),
            registered_delivery,
            ..Default::default()
        },
    )
}

/// A channel under test and the test's ends of its flows.
pub struct TestChannel {
    pub handle: ChannelHandle,
    pub queue: mpsc::Sender<OutboundMessage>,
    pub outcomes: mpsc::UnboundedReceiver<SubmitOutcome>,
}

/// A channel to `addr` over plain TCP through the real supervisor, reconnecting at once.
pub fn tcp_channel(addr: SocketAddr, params: SessionParams) -> TestChannel {
    let (queue, queue_rx) = mpsc::channel(1000);
    let (events, outcomes, _inbound) = split_events();
    let connect = move || async move {
        let stream = TcpStream::connect(addr).await.map_err(|_| {
            ChannelFailure::Connect(TransportError::ConnectRefused { address: addr })
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
    TestChannel {
        handle,
        queue,
        outcomes,
    }
}

/// A channel configuration for a mutual-TLS channel to the simulator on `port`, with the dev
/// client keystore; `extra` lines are appended to the section.
pub fn tls_channel_config(port: u16, version: &str, extra: &str) -> ChannelConfig {
    let text = format!(
        r#"
[channel-sim]
x-smpp-host = "127.0.0.1"
x-smpp-port = {port}
x-smpp-system-id = "{SYSTEM_ID}"
password = "{PASSWORD}"
x-smpp-submit-max-rate = 0
x-smpp-tls-mode = "mutual"
x-smpp-tls-version = "{version}"
x-smpp-tls-path-to-certificate = "{p12}"
x-smpp-tls-certificate-file-password = "changeit"
{extra}
"#,
        p12 = dev("client.p12").display(),
    );
    let parsed = Config::parse(&text, Path::new("/tmp/channel-sim.toml"), &|_| None)
        .unwrap_or_else(|e| panic!("{e}"));
    parsed.config.channels.into_iter().next().unwrap()
}

/// Waits until the channel's status satisfies `done`; returns that status.
pub async fn wait_status(
    status: &watch::Receiver<ChannelStatus>,
    done: impl FnMut(&ChannelStatus) -> bool,
) -> ChannelStatus {
    let mut status = status.clone();
    let seen = guard(status.wait_for(done))
        .await
        .expect("the channel's status sender is alive");
    seen.clone()
}

/// Receives `n` outcomes and asserts each is an acceptance of a distinct message; returns
/// the message ids handed out, by message.
pub async fn accepted_once(
    outcomes: &mut mpsc::UnboundedReceiver<SubmitOutcome>,
    n: u64,
) -> BTreeMap<u64, String> {
    let mut seen = BTreeMap::new();
    for _ in 0..n {
        match guard(outcomes.recv()).await.expect("outcomes open") {
            SubmitOutcome::Accepted {
                message,
                message_id,
            } => {
                assert!(!message_id.is_empty());
                let previous = seen.insert(message.id, message_id);
                assert!(previous.is_none(), "message {} accepted twice", message.id);
            }
            other => panic!("expected an acceptance, got {other:?}"),
        }
    }
    seen
}

/// How many submit_sm the simulator accepted (answered ESME_ROK) per message text.
pub fn accepted_at_simulator(record: &RecordSnapshot) -> BTreeMap<Vec<u8>, u64> {
    let mut counts = BTreeMap::new();
    for s in &record.submits {
        if matches!(s.outcome, SimOutcome::Accepted { .. }) {
            *counts.entry(s.short_message.clone()).or_insert(0) += 1;
        }
    }
    counts
}

/// How many submit_sm the simulator received per message text, whatever their fate.
pub fn received_at_simulator(record: &RecordSnapshot) -> BTreeMap<Vec<u8>, u64> {
    let mut counts = BTreeMap::new();
    for s in &record.submits {
        *counts.entry(s.short_message.clone()).or_insert(0) += 1;
    }
    counts
}
