//! Binding through the real supervisor against the built-in simulator, over plain TCP and
//! mutual TLS (1.2 and 1.3, dev PKI): each bind mode reaches the SMSC as requested, a wrong
//! password is reported and retried without submitting anything, and an SMSC that hangs up
//! right after the TLS handshake is reported the way the driver documents it.

use smppd::codec::CommandStatus;
use smppd::daemon::channels;
use smppd::secret::Secret;
use smppd::session::{BindMode, SessionParams};
use smppd::simulator::{BindMode as SimBindMode, Faults, SimulatorHandle, TlsVersions};
use smppd::supervisor::{ChannelState, CERT_REJECTED_TEXT};
use tokio::sync::mpsc;

use crate::support::channel::*;
use crate::support::hang_guard::HANG_GUARD;

const MODES: [(BindMode, SimBindMode, &str); 3] = [
    (
        BindMode::Transmitter,
        SimBindMode::Transmitter,
        "transmitter",
    ),
    (BindMode::Receiver, SimBindMode::Receiver, "receiver"),
    (
        BindMode::Transceiver,
        SimBindMode::Transceiver,
        "transceiver",
    ),
];

/// The simulator saw exactly one bind, successful, in `mode`, and the connection is bound so.
fn assert_bound_as(sim: &SimulatorHandle, mode: SimBindMode, what: &str) {
    let record = sim.record();
    assert_eq!(record.binds.len(), 1, "{what}: {:?}", record.binds);
    let bind = &record.binds[0];
    assert_eq!(bind.mode, mode, "{what}");
    assert_eq!(bind.system_id, SYSTEM_ID, "{what}");
    assert_eq!(bind.command_status, CommandStatus::EsmeRok, "{what}");
    let connection = record
        .connection(bind.connection)
        .expect("connection recorded");
    assert_eq!(
        connection.bound,
        Some((SYSTEM_ID.to_owned(), mode)),
        "{what}"
    );
}

#[tokio::test]
async fn each_bind_mode_reaches_the_smsc_over_plain_tcp() {
    guard(async {
        for (mode, sim_mode, name) in MODES {
            let sim = plain_simulator(Faults::default()).await;
            let ch = tcp_channel(sim.local_addr(), params(1).with_bind_mode(mode));
            wait_status(&ch.handle.status, |s| s.state == ChannelState::Bound).await;
            sim.wait_for_binds(1, HANG_GUARD).await.unwrap();
            assert_bound_as(&sim, sim_mode, name);
            ch.handle.stop().await.unwrap();
            sim.shutdown().await;
        }
    })
    .await;
}

#[tokio::test]
async fn each_bind_mode_reaches_the_smsc_over_mutual_tls_1_2_and_1_3() {
    guard(async {
        for (version, versions) in [("1.2", TlsVersions::Tls12), ("1.3", TlsVersions::Tls13)] {
            for (_, sim_mode, name) in MODES {
                let sim = mutual_tls_simulator(versions, Faults::default()).await;
                let extra = format!("x-smpp-bind-mode = \"{name}\"");
                let config = tls_channel_config(sim.local_addr().port(), version, &extra);
                let (events, _outcomes, _inbound) = split_events();
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
                let _queue = queue;
                wait_status(&channel.status, |s| s.state == ChannelState::Bound).await;
                sim.wait_for_binds(1, HANG_GUARD).await.unwrap();
                assert_bound_as(&sim, sim_mode, &format!("TLS {version} {name}"));
                assert!(channel.stop().await.is_some());
                sim.shutdown().await;
            }
        }
    })
    .await;
}

#[tokio::test]
async fn a_wrong_password_is_reported_retried_and_submits_nothing() {
    guard(async {
        let sim = plain_simulator(Faults::default()).await;
        let params = SessionParams::new(SYSTEM_ID, Secret::new("nope"))
            .unwrap()
            .with_max_rate(0);
        let ch = tcp_channel(sim.local_addr(), params);
        ch.queue.send(message(1, 0)).await.unwrap();

        // The supervisor backs off and binds again: the SMSC sees at least two refusals.
        let record = sim
            .wait_until("two refused binds", HANG_GUARD, |r| r.binds.len() >= 2)
            .await
            .unwrap();
        assert!(record
            .binds
            .iter()
            .all(|b| b.command_status == CommandStatus::EsmeRinvpaswd));
        let status = wait_status(&ch.handle.status, |s| s.last_error.is_some()).await;
        let last = status.last_error.unwrap();
        assert_eq!(
            (last.code, last.reason),
            (43009, "bind_rejected"),
            "{last:?}"
        );
        assert!(last.message.contains("ESME_RINVPASWD"), "{last:?}");
        assert!(
            !last.message.contains("nope"),
            "the password is never shown"
        );
        assert_eq!(status.binds, 0);

        let mut end = ch.handle.stop().await.unwrap();
        assert!(sim.record().submits.is_empty(), "nothing reached the SMSC");
        // The message was never sent: it is handed back, not lost.
        let back = match end.unsent.pop_front() {
            Some(m) => m,
            None => end.queue.try_recv().expect("the message is handed back"),
        };
        assert_eq!(back.id, 1);
    })
    .await;
}

#[tokio::test]
async fn a_hang_up_after_the_tls_handshake_is_a_rejected_certificate_only_with_tls_1_3() {
    guard(async {
        // TLS 1.3 clients finish their handshake before the server has judged their
        // certificate, so a close at the first read means "your certificate was refused".
        // TLS 1.2 settles the certificate inside the handshake: a later close is a lost link.
        let cases = [
            ("1.3", TlsVersions::Tls13, "client_cert_rejected"),
            ("1.2", TlsVersions::Tls12, "link_lost"),
        ];
        for (version, versions, reason) in cases {
            let faults = Faults {
                close_after_handshake: true,
                ..Faults::default()
            };
            let sim = mutual_tls_simulator(versions, faults).await;
            let config = tls_channel_config(sim.local_addr().port(), version, "");
            let (events, _outcomes, _inbound) = split_events();
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
            let _queue = queue;
            let status = wait_status(&channel.status, |s| s.last_error.is_some()).await;
            let last = status.last_error.unwrap();
            assert_eq!(
                (last.code, last.reason),
                (43009, reason),
                "TLS {version}: {last:?}"
            );
            if reason == "client_cert_rejected" {
                assert_eq!(last.message, CERT_REJECTED_TEXT);
            } else {
                assert_ne!(last.message, CERT_REJECTED_TEXT);
            }
            assert_eq!(status.binds, 0, "TLS {version}");
            assert!(sim.record().binds.is_empty(), "TLS {version}");
            channel.stop().await;
            sim.shutdown().await;
        }
    })
    .await;
}
