//! The record as proof: counts, order, correlation and outstanding peaks across several
//! connections, plus mobile-originated injection through the handle.

use std::time::Duration;

use crate::support::hang_guard::HANG_GUARD;
use crate::support::simulator::client::Client;
use crate::support::simulator::config;
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
    let submits = sim.wait_for_submits(20, HANG_GUARD).await.unwrap();
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
    sim.wait_for_submits(3, HANG_GUARD).await.unwrap();
    let mut other = Client::tcp(sim.local_addr()).await;
    other
        .bind(CommandId::BindTransmitter, "esme", "secret")
        .await;
    other.submit("one", 0, None).await;
    let record = sim.wait_for_submits(4, HANG_GUARD).await.unwrap();
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
    let err = sim.inject_mo("esme", mo(), HANG_GUARD).await.unwrap_err();
    assert!(matches!(err, SimulatorError::NotBound(_)), "{err}");
    let mut tx = Client::tcp(sim.local_addr()).await;
    tx.bind(CommandId::BindTransmitter, "esme", "secret").await;
    assert!(sim.inject_mo("esme", mo(), HANG_GUARD).await.is_err());

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
    let status = sim.inject_mo("esme", mo(), HANG_GUARD).await.unwrap();
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
    sim.wait_until("the late ack", HANG_GUARD, |s| {
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
    let record = sim
        .wait_for_acknowledged_receipts(1, HANG_GUARD)
        .await
        .unwrap();
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
                ids.push(crate::support::simulator::client::message_id(
                    &c.expect().await,
                ));
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
    let submits = sim.wait_for_submits(128, HANG_GUARD).await.unwrap();
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

/// The JSON lines of a record file.
fn record_lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[tokio::test]
async fn the_record_file_holds_each_submit_before_its_answer_and_across_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("record.jsonl");
    let mut cfg = config();
    cfg.record_file = Some(path.clone());
    let sim = Simulator::start(cfg.clone()).await.unwrap();
    let mut c = Client::tcp(sim.local_addr()).await;
    c.bind(CommandId::BindTransceiver, "esme", "secret").await;
    c.submit("first run", 1, None).await;
    let id = crate::support::simulator::client::message_id(&c.expect().await);
    // The answer is here: so is its line, with the octets and the id handed out.
    let lines = record_lines(&path);
    let submit = lines
        .iter()
        .find(|l| l["event"] == "submit")
        .expect("a submit line");
    assert_eq!(submit["outcome"], "accepted");
    assert_eq!(submit["message_id"], id.as_str());
    assert_eq!(submit["destination_addr"], "2000");
    assert_eq!(submit["short_message"], "66697273742072756e"); // "first run"
    let receipt = c.expect().await;
    assert_eq!(receipt.header.command_id, CommandId::DeliverSm);
    c.ack(&receipt).await;
    sim.wait_for_acknowledged_receipts(1, HANG_GUARD)
        .await
        .unwrap();
    sim.shutdown().await;

    // A second simulator on the same file, with its own ids, appends after the first.
    cfg.message_id_offset = 1_000;
    let sim = Simulator::start(cfg).await.unwrap();
    let mut c = Client::tcp(sim.local_addr()).await;
    c.bind(CommandId::BindTransmitter, "esme", "secret").await;
    c.submit("second run", 0, None).await;
    let second = crate::support::simulator::client::message_id(&c.expect().await);
    assert_ne!(
        second, id,
        "a restarted simulator with an offset reuses no id"
    );
    sim.shutdown().await;

    let lines = record_lines(&path);
    let events: Vec<&str> = lines.iter().map(|l| l["event"].as_str().unwrap()).collect();
    assert_eq!(
        events,
        [
            "connected",
            "bind",
            "submit",
            "deliver_sent",
            "deliver_answered",
            "closed",
            "connected",
            "bind",
            "submit",
            "closed"
        ]
    );
    assert_eq!(lines[3]["kind"], "receipt");
    assert_eq!(lines[3]["message_id"], id.as_str());
    assert_eq!(lines[4]["command_status"], 0);
    assert_eq!(lines[5]["reason"], "shutdown");
    assert_eq!(lines[8]["message_id"], second.as_str());
}

#[tokio::test]
async fn mo_messages_on_a_timer_reach_every_receiver_with_unique_texts() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("record.jsonl");
    let mut cfg = config();
    cfg.mo_interval = Some(Duration::from_millis(20));
    cfg.record_file = Some(path.clone());
    let sim = Simulator::start(cfg).await.unwrap();
    let mut tx = Client::tcp(sim.local_addr()).await;
    tx.bind(CommandId::BindTransmitter, "esme", "secret").await;
    let mut trx = Client::tcp(sim.local_addr()).await;
    trx.bind(CommandId::BindTransceiver, "esme", "secret").await;
    let mut rx = Client::tcp(sim.local_addr()).await;
    rx.bind(CommandId::BindReceiver, "other", "pw2").await;
    let mut texts = Vec::new();
    for client in [&mut trx, &mut rx] {
        for _ in 0..3 {
            let frame = client.expect().await;
            let Ok(Pdu::DeliverSm(sm)) = frame.pdu() else {
                panic!("expected deliver_sm, got {frame:?}");
            };
            assert_eq!(sm.source_addr.as_bytes(), b"447700900999");
            assert_eq!(sm.destination_addr.as_bytes(), b"12345");
            client.ack(&frame).await;
            texts.push(String::from_utf8(sm.short_message.as_bytes().to_vec()).unwrap());
        }
    }
    assert!(texts.iter().all(|t| t.starts_with("mo ")), "{texts:?}");
    let mut unique = texts.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), texts.len(), "repeated MO texts: {texts:?}");
    sim.wait_until("six acknowledged MO", HANG_GUARD, |s| {
        s.delivers
            .iter()
            .filter(|d| {
                d.kind == DeliverKind::MobileOriginated
                    && d.response_status == Some(CommandStatus::EsmeRok)
            })
            .count()
            >= 6
    })
    .await
    .unwrap();
    // The transmitter got none: its next frame would be an answer to something it sent.
    tx.send(&Pdu::EnquireLink).await;
    assert_eq!(
        tx.expect().await.header.command_id,
        CommandId::EnquireLinkResp
    );
    sim.shutdown().await;
    let answered: Vec<String> = record_lines(&path)
        .iter()
        .filter(|l| l["event"] == "deliver_answered" && l["kind"] == "mo")
        .map(|l| l["short_message"].as_str().unwrap().to_owned())
        .collect();
    for text in &texts {
        let hex: String = text.bytes().map(|b| format!("{b:02x}")).collect();
        assert!(answered.contains(&hex), "{text} not in the record file");
    }
}
