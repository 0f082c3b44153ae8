//! The record as proof: counts, order, correlation and outstanding peaks across several
//! connections, plus mobile-originated injection through the handle.

mod simulator_support;

use std::time::Duration;

use simulator_support::client::Client;
use simulator_support::{config, GUARD};
use smppd::codec::{CommandId, CommandStatus, Pdu};
use smppd::simulator::{DeliverKind, Faults, MoMessage, Simulator, SimulatorError, SubmitOutcome};

#[tokio::test]
async fn every_submit_is_recorded_once_in_order_per_connection() {
    let sim = Simulator::start(config()).await.unwrap();
    let mut a = Client::tcp(sim.local_addr()).await;
    let mut b = Client::tcp(sim.local_addr()).await;
    a.bind(CommandId::BindTransmitter, "esme", "secret").await;
    b.bind(CommandId::BindTransceiver, "other", "pw2").await;
    let mut sent_a = Vec::new();
    let mut sent_b = Vec::new();
    for i in 0..10u16 {
        sent_a.push((a.submit(&format!("a{i}"), 0, Some(i)).await, i));
        sent_b.push((b.submit(&format!("b{i}"), 0, Some(100 + i)).await, 100 + i));
    }
    for _ in 0..10 {
        a.expect().await;
        b.expect().await;
    }
    let submits = sim.wait_for_submits(20, GUARD).await.unwrap();
    assert_eq!(submits.len(), 20);
    let per = |system_id: &str| -> Vec<(u32, u16)> {
        submits
            .iter()
            .filter(|s| s.system_id == system_id)
            .map(|s| (s.sequence_number, s.user_message_reference.unwrap()))
            .collect()
    };
    assert_eq!(per("esme"), sent_a);
    assert_eq!(per("other"), sent_b);
    let first = &submits.iter().find(|s| s.system_id == "esme").unwrap();
    assert_eq!(first.short_message, b"a0");
    assert_eq!(
        (first.source_addr.as_str(), first.destination_addr.as_str()),
        ("1000", "2000")
    );
    assert!(submits
        .iter()
        .all(|s| matches!(s.outcome, SubmitOutcome::Accepted { .. })));
    let record = sim.record();
    assert_eq!(record.connections.len(), 2);
    assert!(record.connections.iter().all(|c| c.submits == 10));
    sim.shutdown().await;
}

#[tokio::test]
async fn max_outstanding_is_the_most_submits_a_client_kept_unanswered() {
    let mut cfg = config();
    cfg.faults = Faults {
        withhold_submit_responses: true,
        ..Faults::default()
    };
    let sim = Simulator::start(cfg).await.unwrap();
    let mut c = Client::tcp(sim.local_addr()).await;
    c.bind(CommandId::BindTransmitter, "esme", "secret").await;
    for _ in 0..3 {
        c.submit("window", 0, None).await;
    }
    sim.wait_for_submits(3, GUARD).await.unwrap();
    let mut other = Client::tcp(sim.local_addr()).await;
    other
        .bind(CommandId::BindTransmitter, "esme", "secret")
        .await;
    other.submit("one", 0, None).await;
    let record = sim.wait_for_submits(4, GUARD).await.unwrap();
    assert_eq!(record.len(), 4);
    let snapshot = sim.record();
    let peaks: Vec<u64> = snapshot
        .connections
        .iter()
        .map(|c| c.max_outstanding)
        .collect();
    assert_eq!(peaks, [3, 1]);
    sim.shutdown().await;
}

#[tokio::test]
async fn mobile_originated_messages_reach_a_bound_receiver_and_report_the_ack() {
    let sim = Simulator::start(config()).await.unwrap();
    let mo = || MoMessage {
        source_addr: "447700900123".into(),
        destination_addr: "1000".into(),
        short_message: b"STOP".to_vec(),
        esm_class: 0,
    };
    // Nobody bound yet, and a transmitter cannot receive.
    let err = sim.inject_mo("esme", mo(), GUARD).await.unwrap_err();
    assert!(matches!(err, SimulatorError::NotBound(_)), "{err}");
    let mut tx = Client::tcp(sim.local_addr()).await;
    tx.bind(CommandId::BindTransmitter, "esme", "secret").await;
    assert!(sim.inject_mo("esme", mo(), GUARD).await.is_err());

    let mut rx = Client::tcp(sim.local_addr()).await;
    rx.bind(CommandId::BindReceiver, "esme", "secret").await;
    let client = tokio::spawn(async move {
        let deliver = rx.expect().await;
        let Ok(Pdu::DeliverSm(sm)) = deliver.pdu() else {
            panic!("expected deliver_sm");
        };
        rx.ack(&deliver).await;
        (sm, rx)
    });
    let status = sim.inject_mo("esme", mo(), GUARD).await.unwrap();
    assert_eq!(status, CommandStatus::EsmeRok);
    let (sm, mut rx) = client.await.unwrap();
    assert_eq!(sm.short_message.as_bytes(), b"STOP");
    assert_eq!(sm.source_addr.as_bytes(), b"447700900123");
    assert_eq!(sm.esm_class.0, 0);

    // A client that never answers: the injector times out, the record says unanswered.
    let pending = sim.inject_mo("esme", mo(), Duration::from_millis(100));
    let (result, frame) = tokio::join!(pending, rx.expect());
    assert!(matches!(result, Err(SimulatorError::Timeout(_))));
    assert_eq!(frame.header.command_id, CommandId::DeliverSm);
    let record = sim.record();
    let mos: Vec<_> = record
        .delivers
        .iter()
        .filter(|d| d.kind == DeliverKind::MobileOriginated)
        .map(|d| d.response_status)
        .collect();
    assert_eq!(mos, [Some(CommandStatus::EsmeRok), None]);

    // A late answer is still recorded.
    rx.ack(&frame).await;
    sim.wait_until("the late ack", GUARD, |s| {
        s.delivers
            .iter()
            .all(|d| d.response_status == Some(CommandStatus::EsmeRok))
    })
    .await
    .unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn an_unacknowledged_receipt_is_sent_again_to_the_next_receiver() {
    let sim = Simulator::start(config()).await.unwrap();
    let mut trx = Client::tcp(sim.local_addr()).await;
    trx.bind(CommandId::BindTransceiver, "esme", "secret").await;
    trx.submit("at least once", 1, None).await;
    assert_eq!(
        trx.expect().await.header.command_status,
        CommandStatus::EsmeRok
    );
    let first = trx.expect().await;
    assert_eq!(first.header.command_id, CommandId::DeliverSm);
    drop(trx); // gone before acknowledging

    let mut rx = Client::tcp(sim.local_addr()).await;
    rx.bind(CommandId::BindReceiver, "esme", "secret").await;
    let again = rx.expect().await;
    assert_eq!(again.header.command_id, CommandId::DeliverSm);
    assert_eq!(first.body, again.body);
    rx.ack(&again).await;
    let record = sim.wait_for_acknowledged_receipts(1, GUARD).await.unwrap();
    assert_eq!(record.delivers.len(), 2);
    sim.shutdown().await;
}

#[tokio::test]
async fn many_concurrent_clients_are_served_and_every_id_is_unique() {
    let sim = Simulator::start(config()).await.unwrap();
    let addr = sim.local_addr();
    let mut clients = Vec::new();
    for _ in 0..16 {
        clients.push(tokio::spawn(async move {
            let mut c = Client::tcp(addr).await;
            c.bind(CommandId::BindTransmitter, "esme", "secret").await;
            let mut ids = Vec::new();
            for i in 0..8 {
                c.submit(&format!("m{i}"), 0, None).await;
                ids.push(simulator_support::client::message_id(&c.expect().await));
            }
            ids
        }));
    }
    let mut ids = Vec::new();
    for c in clients {
        ids.extend(c.await.unwrap());
    }
    assert_eq!(ids.len(), 128);
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 128, "message ids repeated");
    let submits = sim.wait_for_submits(128, GUARD).await.unwrap();
    assert_eq!(submits.len(), 128);
    sim.shutdown().await;
}

#[tokio::test]
async fn shutdown_closes_every_connection_and_garbage_never_stops_the_server() {
    let sim = Simulator::start(config()).await.unwrap();
    // Hostile bytes: a pseudo-random stream, framed however it happens to fall.
    let mut garbage = Vec::with_capacity(4096);
    let mut x: u32 = 0x1234_5678;
    for _ in 0..4096 {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        garbage.push(x as u8);
    }
    let mut bad = Client::tcp(sim.local_addr()).await;
    // Whether all of it is written depends on when the server hangs up; either is fine.
    let _ = bad.try_send_raw(&garbage).await;
    let mut good = Client::tcp(sim.local_addr()).await;
    assert_eq!(
        good.bind(CommandId::BindTransceiver, "esme", "secret")
            .await,
        CommandStatus::EsmeRok
    );
    sim.shutdown().await;
    assert!(
        good.recv().await.is_none(),
        "shutdown must close open sessions"
    );
}
