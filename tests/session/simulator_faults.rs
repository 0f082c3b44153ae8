//! Every fault switch, observed from the client side, set at start or at run time.

use std::time::{Duration, Instant};

use crate::support::hang_guard::HANG_GUARD;
use crate::support::simulator::client::Client;
use crate::support::simulator::config;
use smppd::codec::{CommandId, CommandStatus, Pdu};
use smppd::simulator::{Faults, Simulator, SubmitOutcome};

async fn bound_tx(sim: &smppd::simulator::SimulatorHandle) -> Client {
    let mut c = Client::tcp(sim.local_addr()).await;
    assert_eq!(
        c.bind(CommandId::BindTransmitter, "esme", "secret").await,
        CommandStatus::EsmeRok
    );
    c
}

#[tokio::test]
async fn throttle_every_nth_submit() {
    let mut cfg = config();
    cfg.faults.throttle_every = Some(2);
    let sim = Simulator::start(cfg).await.unwrap();
    let mut c = bound_tx(&sim).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        c.submit("t", 0, None).await;
        statuses.push(c.expect().await.header.command_status);
    }
    use CommandStatus::{EsmeRok as Ok, EsmeRthrottled as Thr};
    assert_eq!(statuses, [Ok, Thr, Ok, Thr]);

    // Switched off at run time: the next submit is accepted.
    sim.set_faults(Faults::default()).unwrap();
    c.submit("t", 0, None).await;
    assert_eq!(c.expect().await.header.command_status, Ok);
    sim.shutdown().await;
}

#[tokio::test]
async fn drop_after_n_submits_closes_without_answering_the_last() {
    let mut cfg = config();
    cfg.faults.drop_after = Some(3);
    let sim = Simulator::start(cfg).await.unwrap();
    let mut c = bound_tx(&sim).await;
    for _ in 0..2 {
        c.submit("d", 0, None).await;
        assert_eq!(c.expect().await.header.command_id, CommandId::SubmitSmResp);
    }
    c.submit("d", 0, None).await;
    assert!(c.recv().await.is_none(), "expected the connection to drop");
    let record = sim
        .wait_until("the connection to close", HANG_GUARD, |s| {
            !s.connections[0].open
        })
        .await
        .unwrap();
    assert_eq!(record.submits[2].outcome, SubmitOutcome::Dropped);
    assert_eq!(record.connections[0].outstanding, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn drop_after_still_answers_the_submits_before_the_drop_when_they_come_in_one_burst() {
    // A client with a full window writes several submits at once; the simulator reads them
    // in one go. The answers decided before the Nth submit must still reach the client,
    // or no connection ever makes progress.
    let mut cfg = config();
    cfg.faults.drop_after = Some(3);
    let sim = Simulator::start(cfg).await.unwrap();
    let mut c = bound_tx(&sim).await;
    let mut burst = bytes::BytesMut::new();
    for seq in 10..14 {
        Pdu::SubmitSm(crate::support::simulator::client::submit_sm("b", 0, None))
            .encode(seq, CommandStatus::EsmeRok, &mut burst)
            .unwrap();
    }
    c.send_raw(&burst).await;
    for seq in 10..12 {
        let resp = c.expect().await;
        assert_eq!(resp.header.command_id, CommandId::SubmitSmResp);
        assert_eq!(resp.header.sequence_number, seq);
        assert_eq!(resp.header.command_status, CommandStatus::EsmeRok);
    }
    assert!(c.recv().await.is_none(), "expected the connection to drop");
    drop(c);
    let record = sim
        .wait_until("the connection to close", HANG_GUARD, |s| {
            !s.connections[0].open
        })
        .await
        .unwrap();
    // The fourth submit came after the cut: never read, never recorded.
    assert_eq!(record.submits.len(), 3);
    assert_eq!(record.submits[2].outcome, SubmitOutcome::Dropped);
    assert_eq!(record.connections[0].outstanding, 1);
    sim.shutdown().await;
}

#[tokio::test]
async fn close_after_handshake_on_plain_tcp_closes_before_any_pdu() {
    let sim = Simulator::start(config()).await.unwrap();
    sim.set_faults(Faults {
        close_after_handshake: true,
        ..Faults::default()
    })
    .unwrap();
    let mut c = Client::tcp(sim.local_addr()).await;
    assert!(c.recv().await.is_none());
    sim.shutdown().await;
}

#[tokio::test]
async fn responses_are_delayed_by_at_least_the_configured_duration() {
    let sim = Simulator::start(config()).await.unwrap();
    let mut c = bound_tx(&sim).await;
    let delay = Duration::from_millis(200);
    sim.set_faults(Faults {
        response_delay: delay,
        ..Faults::default()
    })
    .unwrap();
    let started = Instant::now();
    let seq = c.send(&Pdu::EnquireLink).await;
    let resp = c.expect().await;
    assert_eq!(resp.header.sequence_number, seq);
    // A lower bound only: the simulator sleeps at least this long, however loaded the machine.
    assert!(started.elapsed() >= delay);
    sim.shutdown().await;
}

#[tokio::test]
async fn ignore_enquire_link_answers_everything_else() {
    let mut cfg = config();
    cfg.faults.ignore_enquire_link = true;
    let sim = Simulator::start(cfg).await.unwrap();
    let mut c = bound_tx(&sim).await;
    c.send(&Pdu::EnquireLink).await;
    let seq = c.submit("after keep-alive", 0, None).await;
    // The server handles PDUs in order, so had it answered the enquire_link, that answer
    // would come first.
    let next = c.expect().await;
    assert_eq!(next.header.command_id, CommandId::SubmitSmResp);
    assert_eq!(next.header.sequence_number, seq);
    sim.shutdown().await;
}

#[tokio::test]
async fn withheld_submits_are_recorded_as_outstanding() {
    let mut cfg = config();
    cfg.faults.withhold_submit_responses = true;
    let sim = Simulator::start(cfg).await.unwrap();
    let mut c = bound_tx(&sim).await;
    for i in 0..5 {
        c.submit(&format!("w{i}"), 0, None).await;
    }
    let seq = c.send(&Pdu::EnquireLink).await;
    let next = c.expect().await;
    assert_eq!(next.header.command_id, CommandId::EnquireLinkResp);
    assert_eq!(next.header.sequence_number, seq);
    let submits = sim.wait_for_submits(5, HANG_GUARD).await.unwrap();
    assert!(submits.iter().all(|s| s.outcome == SubmitOutcome::Withheld));
    let record = sim.record();
    assert_eq!(record.connections[0].outstanding, 5);
    assert_eq!(record.max_outstanding(), 5);

    // Released at run time: later submits are answered, the peak stays.
    sim.set_faults(Faults::default()).unwrap();
    c.submit("released", 0, None).await;
    assert_eq!(c.expect().await.header.command_id, CommandId::SubmitSmResp);
    let record = sim
        .wait_until("the response to be counted", HANG_GUARD, |s| {
            s.connections[0].outstanding == 5
        })
        .await
        .unwrap();
    assert_eq!(record.max_outstanding(), 6);
    sim.shutdown().await;
}
