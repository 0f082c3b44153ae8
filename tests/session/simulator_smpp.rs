//! The simulator as an SMSC: binds, submits, receipts, keep-alive, unbind and bad input,
//! driven by a small codec-level client over loopback (plain TCP and TLS).

use std::time::Duration;

use crate::support::hang_guard::HANG_GUARD;
use crate::support::simulator::client::{message_id, Client};
use crate::support::simulator::config;
use crate::support::simulator::pki::PemFiles;
use smppd::codec::{CommandId, CommandStatus, EsmClass, Pdu};
use smppd::simulator::{
    BindMode, DeliverKind, MessageIdStyle, Simulator, SubmitOutcome, TlsVersions,
};

#[tokio::test]
async fn binds_in_every_mode_and_refuses_a_second_bind() {
    let sim = Simulator::start(config()).await.unwrap();
    for id in [
        CommandId::BindTransmitter,
        CommandId::BindReceiver,
        CommandId::BindTransceiver,
    ] {
        let mut c = Client::tcp(sim.local_addr()).await;
        assert_eq!(c.bind(id, "esme", "secret").await, CommandStatus::EsmeRok);
        assert_eq!(
            c.bind(id, "esme", "secret").await,
            CommandStatus::EsmeRalybnd
        );
    }
    let record = sim.wait_for_binds(3, HANG_GUARD).await.unwrap();
    let modes: Vec<_> = record
        .binds
        .iter()
        .filter(|b| b.command_status == CommandStatus::EsmeRok)
        .map(|b| b.mode)
        .collect();
    assert_eq!(
        modes,
        [
            BindMode::Transmitter,
            BindMode::Receiver,
            BindMode::Transceiver
        ]
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn wrong_credentials_are_refused_with_the_matching_status() {
    let sim = Simulator::start(config()).await.unwrap();
    let mut c = Client::tcp(sim.local_addr()).await;
    let tx = CommandId::BindTransmitter;
    assert_eq!(
        c.bind(tx, "esme", "wrong").await,
        CommandStatus::EsmeRinvpaswd
    );
    assert_eq!(
        c.bind(tx, "nobody", "secret").await,
        CommandStatus::EsmeRinvsysid
    );
    // A refused bind leaves the session open and unbound: a correct one still works.
    assert_eq!(c.bind(tx, "esme", "secret").await, CommandStatus::EsmeRok);
    sim.shutdown().await;
}

#[tokio::test]
async fn a_submit_gets_an_id_and_a_receipt_that_is_recorded_as_acknowledged() {
    let pki = PemFiles::new();
    let mut cfg = config();
    cfg.tls = Some(pki.server(true, TlsVersions::Both));
    let sim = Simulator::start(cfg).await.unwrap();
    let mut c = Client::tls(sim.local_addr(), &pki, true).await;
    assert_eq!(
        c.bind(CommandId::BindTransceiver, "esme", "secret").await,
        CommandStatus::EsmeRok
    );
    let seq = c
        .submit("hello receipt world, longer than twenty", 1, Some(7))
        .await;
    let resp = c.expect().await;
    assert_eq!(resp.header.command_id, CommandId::SubmitSmResp);
    assert_eq!(resp.header.sequence_number, seq);
    let id = message_id(&resp);

    let deliver = c.expect().await;
    let Ok(Pdu::DeliverSm(receipt)) = deliver.pdu() else {
        panic!("expected deliver_sm, got {deliver:?}");
    };
    assert_eq!(receipt.esm_class, EsmClass(0x04));
    assert_eq!(receipt.tlvs.receipted_message_id(), Some(id.as_bytes()));
    assert_eq!(receipt.tlvs.message_state(), Some(2));
    let text = String::from_utf8(receipt.short_message.as_bytes().to_vec()).unwrap();
    assert!(
        text.starts_with(&format!("id:{id} sub:001 dlvrd:001 submit date:")),
        "{text}"
    );
    assert!(
        text.ends_with("stat:DELIVRD err:000 text:hello receipt world,"),
        "{text}"
    );
    c.ack(&deliver).await;

    let record = sim
        .wait_for_acknowledged_receipts(1, HANG_GUARD)
        .await
        .unwrap();
    assert_eq!(
        record.delivers[0].kind,
        DeliverKind::Receipt {
            message_id: id.clone()
        }
    );
    assert_eq!(record.submits[0].user_message_reference, Some(7));
    assert_eq!(
        record.submits[0].outcome,
        SubmitOutcome::Accepted { message_id: id }
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn receipts_reach_a_separate_receiver_session_after_the_configured_delay() {
    let mut cfg = config();
    cfg.message_id_style = MessageIdStyle::Decimal;
    cfg.receipt_delay = Duration::from_millis(50);
    let sim = Simulator::start(cfg).await.unwrap();
    let mut tx = Client::tcp(sim.local_addr()).await;
    let mut rx = Client::tcp(sim.local_addr()).await;
    tx.bind(CommandId::BindTransmitter, "esme", "secret").await;
    rx.bind(CommandId::BindReceiver, "esme", "secret").await;
    tx.submit("to the receiver", 2, None).await;
    let id = message_id(&tx.expect().await);
    assert!(id.bytes().all(|b| b.is_ascii_digit()), "{id}");
    let deliver = rx.expect().await;
    let Ok(Pdu::DeliverSm(receipt)) = deliver.pdu() else {
        panic!("expected deliver_sm");
    };
    assert_eq!(receipt.tlvs.receipted_message_id(), Some(id.as_bytes()));
    rx.ack(&deliver).await;
    sim.wait_for_acknowledged_receipts(1, HANG_GUARD)
        .await
        .unwrap();
    sim.shutdown().await;
}

#[tokio::test]
async fn message_ids_follow_the_configured_style_and_never_repeat() {
    for style in [MessageIdStyle::Hex, MessageIdStyle::Decimal] {
        let mut cfg = config();
        cfg.message_id_style = style;
        let sim = Simulator::start(cfg).await.unwrap();
        let mut c = Client::tcp(sim.local_addr()).await;
        c.bind(CommandId::BindTransmitter, "esme", "secret").await;
        let mut ids = Vec::new();
        for _ in 0..5 {
            c.submit("x", 0, None).await;
            ids.push(message_id(&c.expect().await));
        }
        for id in &ids {
            let ok = match style {
                MessageIdStyle::Hex => id.bytes().all(|b| b.is_ascii_hexdigit()),
                MessageIdStyle::Decimal => id.bytes().all(|b| b.is_ascii_digit()),
            };
            assert!(ok, "{style:?}: {id}");
        }
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len());
        sim.shutdown().await;
    }
}

#[tokio::test]
async fn enquire_link_is_answered_and_unbind_closes_the_connection() {
    let sim = Simulator::start(config()).await.unwrap();
    let mut c = Client::tcp(sim.local_addr()).await;
    let seq = c.send(&Pdu::EnquireLink).await;
    let resp = c.expect().await;
    assert_eq!(resp.header.command_id, CommandId::EnquireLinkResp);
    assert_eq!(resp.header.sequence_number, seq);
    c.bind(CommandId::BindTransceiver, "esme", "secret").await;
    let seq = c.send(&Pdu::Unbind).await;
    let resp = c.expect().await;
    assert_eq!(resp.header.command_id, CommandId::UnbindResp);
    assert_eq!(resp.header.sequence_number, seq);
    assert!(
        c.recv().await.is_none(),
        "the simulator closes after unbind_resp"
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn bad_input_is_answered_without_closing_the_connection() {
    let sim = Simulator::start(config()).await.unwrap();
    let mut c = Client::tcp(sim.local_addr()).await;
    // submit_sm before bind.
    c.submit("early", 0, None).await;
    let resp = c.expect().await;
    assert_eq!(resp.header.command_status, CommandStatus::EsmeRinvbndsts);
    c.bind(CommandId::BindTransmitter, "esme", "secret").await;

    // An unknown command_id gets generic_nack ESME_RINVCMDID.
    let mut unknown = Vec::new();
    for word in [16u32, 0x0000_0777, 0, 42] {
        unknown.extend_from_slice(&word.to_be_bytes());
    }
    c.send_raw(&unknown).await;
    let nack = c.expect().await;
    assert_eq!(nack.header.command_id, CommandId::GenericNack);
    assert_eq!(nack.header.command_status, CommandStatus::EsmeRinvcmdid);
    assert_eq!(nack.header.sequence_number, 42);

    // A submit_sm whose body stops in the middle of a field.
    let mut truncated = Vec::new();
    for word in [16u32 + 3, 0x0000_0004, 0, 43] {
        truncated.extend_from_slice(&word.to_be_bytes());
    }
    truncated.extend_from_slice(&[0, 1, 1]);
    c.send_raw(&truncated).await;
    let resp = c.expect().await;
    assert_eq!(resp.header.sequence_number, 43);
    assert_ne!(resp.header.command_status, CommandStatus::EsmeRok);

    // Still alive.
    c.submit("after the bad ones", 0, None).await;
    let resp = c.expect().await;
    assert_eq!(resp.header.command_id, CommandId::SubmitSmResp);
    assert_eq!(resp.header.command_status, CommandStatus::EsmeRok);
    sim.shutdown().await;
}

#[tokio::test]
async fn an_impossible_length_is_nacked_and_the_connection_closed() {
    let sim = Simulator::start(config()).await.unwrap();
    let mut c = Client::tcp(sim.local_addr()).await;
    let mut bad = Vec::new();
    for word in [4u32, 0x0000_0015, 0, 9] {
        bad.extend_from_slice(&word.to_be_bytes());
    }
    c.send_raw(&bad).await;
    let nack = c.expect().await;
    assert_eq!(nack.header.command_id, CommandId::GenericNack);
    assert_eq!(nack.header.command_status, CommandStatus::EsmeRinvcmdlen);
    assert!(c.recv().await.is_none());
    // The record says why the connection was dropped.
    let record = sim
        .wait_until("the connection to close", HANG_GUARD, |s| {
            !s.connections[0].open
        })
        .await
        .unwrap();
    match &record.connections[0].close_reason {
        Some(smppd::simulator::CloseReason::FramingError(detail)) => {
            assert!(detail.contains("command_length 4"), "{detail}")
        }
        other => panic!("expected a framing error, got {other:?}"),
    }
    // The server itself is unharmed.
    let mut c = Client::tcp(sim.local_addr()).await;
    assert_eq!(
        c.bind(CommandId::BindTransmitter, "esme", "secret").await,
        CommandStatus::EsmeRok
    );
    sim.shutdown().await;
}

#[tokio::test]
async fn a_client_that_never_reads_is_disconnected_instead_of_buffered() {
    let sim = Simulator::start(config()).await.unwrap();
    let mut c = Client::tcp(sim.local_addr()).await;
    assert_eq!(
        c.bind(CommandId::BindTransceiver, "esme", "secret").await,
        CommandStatus::EsmeRok
    );
    // 4096 enquire_links per write, each answered with 16 octets nobody reads. Once the
    // kernel's buffers and the simulator's bounded queue are full, it must hang up.
    let mut chunk = bytes::BytesMut::new();
    for seq in 1..=4096 {
        Pdu::EnquireLink
            .encode(seq, CommandStatus::EsmeRok, &mut chunk)
            .unwrap();
    }
    let limit = 64 * 1024 * 1024 / chunk.len();
    let mut writes = 0;
    while writes < limit && c.try_send_raw(&chunk).await {
        writes += 1;
    }
    assert!(
        writes < limit,
        "still accepting input after {writes} writes of unanswered enquire_links"
    );
    let record = sim
        .wait_until("the connection closed", HANG_GUARD, |r| {
            r.connections.iter().all(|c| !c.open)
        })
        .await
        .unwrap();
    assert!(
        !record.connections[0].unbound,
        "closed by the simulator, not by unbind"
    );
    sim.shutdown().await;
}
