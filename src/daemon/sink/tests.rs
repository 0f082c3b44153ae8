//! The sink against a real SQLite store: outcomes and receipts in order, inbound messages
//! committed before the SMSC is answered, and where each inbound message goes.

use super::*;
use crate::codec::pdu::{DeliverSm, SubmitSm};
use crate::codec::{CommandId, EsmClass, ShortMessage};
use crate::daemon::store::sqlite::{SqliteOptions, SqliteStore};
use crate::daemon::store::{segment_key, shared_tests, MessageId};
use crate::session::{Ack, AckVerdict, OutboundMessage};

fn receipt(smsc_id: &str, acks: &mpsc::UnboundedSender<AckVerdict>) -> Inbound {
    receipt_text(
        &format!(
            "id:{smsc_id} sub:001 dlvrd:001 submit date:2611301000 done date:2611301000 stat:DELIVRD err:000 text:"
        ),
        acks,
    )
}

/// A deliver_sm marked as a delivery receipt, with `text` as its short_message.
fn receipt_text(text: &str, acks: &mpsc::UnboundedSender<AckVerdict>) -> Inbound {
    let pdu = DeliverSm {
        esm_class: EsmClass(EsmClass::DELIVERY_RECEIPT),
        short_message: ShortMessage::new(text.as_bytes().to_vec()).unwrap(),
        ..Default::default()
    };
    let ack = Ack {
        sequence: 1,
        response: CommandId::DeliverSmResp,
        tx: acks.clone(),
    };
    Inbound::new(InboundPdu::Deliver(pdu), true, ack)
}

/// Answers and receipts reported in many small batches, each receipt right behind its
/// message's answer and often in the batch after it, while earlier batches are still
/// being synced: every receipt finds its message (the store ran the answer first), and
/// every place in the record window comes back only once its outcome is applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_in_flight_keep_each_receipt_behind_its_answer() {
    const COUNT: usize = 300;
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = SqliteStore::open(SqliteOptions::new(dir.path().join("s.db"))).unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    let accepted = store
        .accept(
            (0..COUNT)
                .map(|_| shared_tests::message("c", true, 1))
                .collect(),
            SystemTime::now(),
        )
        .await
        .unwrap();
    let ids: Vec<MessageId> = accepted
        .into_iter()
        .map(|a| match a.unwrap() {
            crate::daemon::store::Accepted::New(m) => m.id,
            other => panic!("{other:?}"),
        })
        .collect();
    let claimed = store.claim("c", COUNT, SystemTime::now()).await.unwrap();
    assert_eq!(claimed.len(), COUNT);
    let text = "[channel-c]\nx-smpp-host = \"127.0.0.1\"\nx-smpp-port = 2775\n\
                x-smpp-system-id = \"c\"\npassword = \"pw\"\n";
    let config = crate::config::Config::parse(text, std::path::Path::new("/tmp/s.toml"), &|_| None)
        .unwrap()
        .config;
    let in_flight = Arc::new(InFlight::default());
    let sink = Sink {
        config: Arc::new(config.channels[0].clone()),
        store: store.clone(),
        metrics: Arc::new(Metrics::default()),
        webhook: false,
        outbox: Arc::new(Notify::new()),
        in_flight,
        fence: Fence::unleased("c"),
        routes: UserRoutes::new(),
    };
    let (events, events_rx) = mpsc::unbounded_channel();
    let running = tokio::spawn(sink.run(events_rx));
    let record = crate::session::RecordWindow::new(COUNT);
    let (acks, mut acks_rx) = mpsc::unbounded_channel();
    for (i, message) in claimed.iter().enumerate() {
        let mut outbound = OutboundMessage::new(segment_key(message.seq, 0), SubmitSm::default());
        outbound.hold(record.try_take().unwrap());
        let smsc_id = format!("{:08X}", 0x1000 + i);
        events
            .send(SessionEvent::Outcome(SubmitOutcome::Accepted {
                message: outbound,
                message_id: smsc_id.clone(),
            }))
            .unwrap();
        events
            .send(SessionEvent::Inbound(receipt(&smsc_id, &acks)))
            .unwrap();
        if i % 7 == 0 {
            // Let the sink take what is there: the next receipts land in later batches.
            tokio::task::yield_now().await;
            tokio::time::sleep(Duration::from_micros(300)).await;
        }
    }
    for _ in 0..COUNT {
        let verdict = acks_rx.recv().await.unwrap();
        assert_eq!(verdict.status, CommandStatus::EsmeRok);
    }
    drop(events);
    running.await.unwrap();
    assert_eq!(record.free(), COUNT, "every place came back");
    for id in &ids {
        let m = store.get(id).await.unwrap().unwrap();
        assert_eq!(m.state.as_str(), "delivered", "{id:?}");
    }
}

/// A sink of channel `c` on a fresh SQLite store, with `users`' address ranges.
fn sink_for(
    users: &[crate::config::SmppUserConfig],
    webhook: bool,
) -> (Sink, Arc<dyn Store>, tempfile::TempDir) {
    sink_with_outbox(users, webhook, SqliteOptions::new("").max_outbox)
}

/// [`sink_for`] on a store whose webhook outbox holds at most `max_outbox` events.
fn sink_with_outbox(
    users: &[crate::config::SmppUserConfig],
    webhook: bool,
    max_outbox: u64,
) -> (Sink, Arc<dyn Store>, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let options = SqliteOptions {
        max_outbox,
        ..SqliteOptions::new(dir.path().join("s.db"))
    };
    let (store, _) = SqliteStore::open(options).unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    let text = "[channel-c]\nx-smpp-host = \"127.0.0.1\"\nx-smpp-port = 2775\n\
                x-smpp-system-id = \"c\"\npassword = \"pw\"\n";
    let config = crate::config::Config::parse(text, std::path::Path::new("/tmp/s.toml"), &|_| None)
        .unwrap()
        .config;
    let routes = UserRoutes::new();
    routes.set_users(users);
    let sink = Sink {
        config: Arc::new(config.channels[0].clone()),
        store: store.clone(),
        metrics: Arc::new(Metrics::default()),
        webhook,
        outbox: Arc::new(Notify::new()),
        in_flight: Arc::new(InFlight::default()),
        fence: Fence::unleased("c"),
        routes,
    };
    (sink, store, dir)
}

/// A mobile-originated deliver_sm from 447700900123 to `to`.
fn mo(
    to: &str,
    esm_class: u8,
    short_message: &[u8],
    acks: &mpsc::UnboundedSender<AckVerdict>,
) -> Inbound {
    let pdu = DeliverSm {
        source_addr: crate::codec::COctetString::new("447700900123").unwrap(),
        destination_addr: crate::codec::COctetString::new(to).unwrap(),
        esm_class: EsmClass(esm_class),
        data_coding: crate::codec::DataCoding::from(8),
        short_message: ShortMessage::new(short_message.to_vec()).unwrap(),
        ..Default::default()
    };
    let ack = Ack {
        sequence: 1,
        response: CommandId::DeliverSmResp,
        tx: acks.clone(),
    };
    Inbound::new(InboundPdu::Deliver(pdu), false, ack)
}

/// Runs `sink` over `messages`, each answered only once its event is committed; returns
/// the bodies then in the webhook's outbox.
async fn deliver(sink: Sink, messages: Vec<Vec<u8>>, to: &str) -> Vec<Value> {
    let store = sink.store.clone();
    let (events, events_rx) = mpsc::unbounded_channel();
    let running = tokio::spawn(sink.run(events_rx));
    let (acks, mut acks_rx) = mpsc::unbounded_channel();
    for m in &messages {
        let esm = if m.first() == Some(&0x05) { 0x40 } else { 0 };
        events
            .send(SessionEvent::Inbound(mo(to, esm, m, &acks)))
            .unwrap();
        let verdict = acks_rx.recv().await.unwrap();
        assert_eq!(verdict.status, CommandStatus::EsmeRok);
    }
    drop(events);
    running.await.unwrap();
    webhook_events(&store).await
}

fn bodies(events: Vec<crate::daemon::store::OutboxEvent>) -> Vec<Value> {
    events
        .iter()
        .map(|e| serde_json::from_slice(&e.body).unwrap())
        .collect()
}

/// The bodies of the events in the webhook's outbox.
async fn webhook_events(store: &Arc<dyn Store>) -> Vec<Value> {
    bodies(store.outbox_due(100, SystemTime::now()).await.unwrap())
}

async fn user_events(store: &Arc<dyn Store>, user: &str) -> Vec<Value> {
    bodies(
        store
            .outbox_due_for(user, 100, SystemTime::now())
            .await
            .unwrap(),
    )
}

use crate::daemon::smpp_server::user;
use crate::daemon::store::USER_MO;

#[tokio::test]
async fn an_mo_to_a_users_range_goes_to_the_user_without_a_webhook() {
    let (sink, store, _dir) = sink_for(&[user("acme", &["c"], &["3169988*"])], false);
    let webhook = deliver(sink, vec![vec![0x00, 0x48, 0x00, 0x69]], "31699887766").await;
    assert!(webhook.is_empty(), "{webhook:?}");
    let events = user_events(&store, "acme").await;
    assert_eq!(events.len(), 1, "{events:?}");
    let e = &events[0];
    assert_eq!(e["type"], USER_MO);
    assert_eq!(e["channel"], "c");
    assert_eq!(e["from"], "447700900123");
    assert_eq!(e["to"], "31699887766");
    assert_eq!(e["data_coding"], 8);
    assert_eq!(e["hex"], "00480069");
}

#[tokio::test]
async fn a_long_mo_to_a_users_range_arrives_once_whole() {
    let (sink, store, _dir) = sink_for(&[user("acme", &["c"], &["3169988*"])], true);
    let part = |n: u8, octets: &[u8]| {
        let mut p = vec![0x05, 0x00, 0x03, 0x2a, 0x02, n];
        p.extend_from_slice(octets);
        p
    };
    let parts = vec![part(1, &[0x00, 0x41]), part(2, &[0x00, 0x42])];
    let webhook = deliver(sink, parts, "3169988").await;
    assert!(webhook.is_empty(), "{webhook:?}");
    let events = user_events(&store, "acme").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["hex"], "00410042");
    assert!(
        store.parts().await.unwrap().is_empty(),
        "the parts are forgotten"
    );
}

#[tokio::test]
async fn an_mo_outside_every_range_goes_to_the_webhook() {
    let (sink, store, _dir) = sink_for(&[user("acme", &["c"], &["3169988*"])], true);
    let webhook = deliver(sink, vec![vec![0x00, 0x48]], "4477009").await;
    assert_eq!(webhook.len(), 1, "{webhook:?}");
    assert_eq!(webhook[0]["type"], "inbound");
    assert_eq!(webhook[0]["text"], "H");
    assert!(user_events(&store, "acme").await.is_empty());
}

#[tokio::test]
async fn the_longest_range_wins_between_users() {
    let users = [
        user("wide", &["c"], &["3169*"]),
        user("narrow", &["c"], &["316998*"]),
    ];
    let (sink, store, _dir) = sink_for(&users, true);
    let webhook = deliver(sink, vec![vec![0x00, 0x48]], "31699887766").await;
    assert!(webhook.is_empty(), "{webhook:?}");
    assert_eq!(user_events(&store, "narrow").await.len(), 1);
    assert!(user_events(&store, "wide").await.is_empty());
}

#[test]
fn kept_parts_read_back() {
    for reference in [ConcatRef::Udh8(7), ConcatRef::Udh16(700), ConcatRef::Sar(9)] {
        let part = KeptPart {
            source: "447700900123".into(),
            destination: "3169988".into(),
            concat: ConcatInfo {
                reference,
                total: 3,
                seqnum: 2,
            },
            data_coding: 8,
            payload: vec![0, 1, 255],
        };
        assert_eq!(KeptPart::decode(&part.encode()), Some(part));
    }
    assert_eq!(KeptPart::decode(b"{}"), None);
    assert_eq!(KeptPart::decode(b"\xff"), None);
}

/// A sink running over a stream of session events, with the session's end of its verdicts.
struct Running {
    events: mpsc::UnboundedSender<SessionEvent>,
    acks: mpsc::UnboundedSender<AckVerdict>,
    verdicts: mpsc::UnboundedReceiver<AckVerdict>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    fn start(sink: Sink) -> Running {
        let (events, events_rx) = mpsc::unbounded_channel();
        let (acks, verdicts) = mpsc::unbounded_channel();
        Running {
            events,
            acks,
            verdicts,
            task: tokio::spawn(sink.run(events_rx)),
        }
    }

    /// Reports the inbound PDU `make` builds and waits for the sink's verdict on it.
    async fn inbound(
        &mut self,
        make: impl FnOnce(&mpsc::UnboundedSender<AckVerdict>) -> Inbound,
    ) -> CommandStatus {
        self.events
            .send(SessionEvent::Inbound(make(&self.acks)))
            .unwrap();
        self.verdicts.recv().await.unwrap().status
    }

    /// Closes the event stream and waits for the sink to end.
    async fn stop(self) {
        drop(self.events);
        self.task.await.unwrap();
    }
}

/// Accepts one single-segment message for channel `c` and claims it, as the feeder would.
async fn claimed(store: &Arc<dyn Store>) -> crate::daemon::store::ClaimedMessage {
    store
        .accept(vec![shared_tests::message("c", true, 1)], SystemTime::now())
        .await
        .unwrap();
    let mut claimed = store.claim("c", 1, SystemTime::now()).await.unwrap();
    assert_eq!(claimed.len(), 1);
    claimed.remove(0)
}

#[tokio::test]
async fn an_mo_is_in_the_outbox_before_the_smsc_is_answered() {
    let (sink, store, _dir) = sink_for(&[], true);
    let mut running = Running::start(sink);
    let status = running
        .inbound(|acks| mo("4477009", 0, &[0x00, 0x48, 0x00, 0x69], acks))
        .await;
    assert_eq!(status, CommandStatus::EsmeRok);
    // The sink still runs: what the SMSC was told it has is already committed.
    let outbox = webhook_events(&store).await;
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    assert_eq!(outbox[0]["type"], "inbound");
    assert_eq!(outbox[0]["channel"], "c");
    assert_eq!(outbox[0]["from"], "447700900123");
    assert_eq!(outbox[0]["to"], "4477009");
    assert_eq!(outbox[0]["text"], "Hi");
    running.stop().await;
}

#[tokio::test]
async fn a_full_outbox_refuses_an_mo_for_now_and_takes_it_again_once_there_is_room() {
    let (sink, store, _dir) = sink_with_outbox(&[], true, 1);
    let mut running = Running::start(sink);
    let first = |acks: &_| mo("4477009", 0, &[0x00, 0x41], acks);
    let second = |acks: &_| mo("4477009", 0, &[0x00, 0x42], acks);
    assert_eq!(running.inbound(first).await, CommandStatus::EsmeRok);
    assert_eq!(
        running.inbound(second).await,
        CommandStatus::EsmeRxTAppn,
        "the SMSC is asked to deliver it again later"
    );
    let due = store.outbox_due(100, SystemTime::now()).await.unwrap();
    assert_eq!(bodies(due.clone()).len(), 1);
    assert_eq!(bodies(due.clone())[0]["text"], "A");
    // The webhook took the first: the SMSC's redelivery of the second now gets in.
    store
        .outbox_delivered(due.iter().map(|e| e.seq).collect())
        .await
        .unwrap();
    assert_eq!(running.inbound(second).await, CommandStatus::EsmeRok);
    let due = webhook_events(&store).await;
    assert_eq!(due.len(), 1, "{due:?}");
    assert_eq!(due[0]["text"], "B");
    running.stop().await;
}

#[tokio::test]
async fn an_mo_with_no_webhook_and_no_user_is_acknowledged_and_dropped() {
    let (sink, store, _dir) = sink_for(&[], false);
    let mut running = Running::start(sink);
    let status = running
        .inbound(|acks| mo("4477009", 0, &[0x00, 0x48], acks))
        .await;
    assert_eq!(status, CommandStatus::EsmeRok);
    running.stop().await;
    assert!(webhook_events(&store).await.is_empty());
}

#[tokio::test]
async fn a_receipt_is_matched_to_its_message_and_its_event_names_both() {
    let (sink, store, _dir) = sink_for(&[], true);
    let message = claimed(&store).await;
    let id = message.id.clone();
    let mut running = Running::start(sink);
    running
        .events
        .send(SessionEvent::Outcome(SubmitOutcome::Accepted {
            message: OutboundMessage::new(segment_key(message.seq, 0), SubmitSm::default()),
            message_id: "ABC123".into(),
        }))
        .unwrap();
    let text = "id:ABC123 sub:001 dlvrd:000 submit date:2611301000 done date:2611301001 \
                stat:UNDELIV err:012 text:";
    let status = running.inbound(|acks| receipt_text(text, acks)).await;
    assert_eq!(status, CommandStatus::EsmeRok);
    running.stop().await;
    let record = store.get(&id).await.unwrap().unwrap();
    assert_eq!(record.state.as_str(), "failed");
    assert_eq!(
        record.segments[0].smsc_message_id.as_deref(),
        Some("ABC123")
    );
    let outbox = webhook_events(&store).await;
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    let event = &outbox[0];
    assert_eq!(event["type"], "receipt");
    assert_eq!(event["channel"], "c");
    assert_eq!(event["smsc_message_id"], "ABC123");
    assert_eq!(event["state"], "undeliverable");
    assert_eq!(event["error_code"], "012");
    assert_eq!(event["message_id"], id.as_str());
    assert_eq!(event["segment"], 0);
    assert_eq!(event["message_state"], "failed");
}

#[tokio::test]
async fn a_receipt_for_no_known_message_is_acknowledged_and_reported_unmatched() {
    let (sink, store, _dir) = sink_for(&[], true);
    let mut running = Running::start(sink);
    let status = running.inbound(|acks| receipt("FFFF0001", acks)).await;
    assert_eq!(status, CommandStatus::EsmeRok);
    running.stop().await;
    let outbox = webhook_events(&store).await;
    assert_eq!(outbox.len(), 1, "{outbox:?}");
    assert_eq!(outbox[0]["smsc_message_id"], "FFFF0001");
    assert_eq!(outbox[0]["state"], "delivered");
    assert_eq!(outbox[0]["message_id"], Value::Null);
    assert_eq!(outbox[0]["message_state"], Value::Null);
}

#[tokio::test]
async fn an_unreadable_receipt_is_acknowledged_at_once_and_nothing_is_kept() {
    let (sink, store, _dir) = sink_for(&[], true);
    let mut running = Running::start(sink);
    for text in ["no receipt here", "sub:001 dlvrd:001 stat:DELIVRD"] {
        let status = running.inbound(|acks| receipt_text(text, acks)).await;
        assert_eq!(status, CommandStatus::EsmeRok, "{text}");
    }
    running.stop().await;
    assert!(webhook_events(&store).await.is_empty());
}

#[tokio::test]
async fn a_rejected_submit_is_recorded_failed_with_its_status_and_frees_its_place() {
    let (sink, store, _dir) = sink_for(&[], true);
    let message = claimed(&store).await;
    let id = message.id.clone();
    let record = crate::session::RecordWindow::new(1);
    let mut outbound = OutboundMessage::new(segment_key(message.seq, 0), SubmitSm::default());
    outbound.hold(record.try_take().unwrap());
    assert_eq!(record.free(), 0);
    let running = Running::start(sink);
    running
        .events
        .send(SessionEvent::Outcome(SubmitOutcome::Failed {
            message: outbound,
            reason: FailureReason::Rejected(CommandStatus::EsmeRinvdstadr),
        }))
        .unwrap();
    running.stop().await;
    assert_eq!(
        record.free(),
        1,
        "the place came back once the outcome was applied"
    );
    let m = store.get(&id).await.unwrap().unwrap();
    assert_eq!(m.state.as_str(), "failed");
    let failure = m.failure.expect("the failure is recorded");
    assert_eq!(failure.status, Some(CommandStatus::EsmeRinvdstadr.value()));
    assert!(
        failure.reason.starts_with("rejected: "),
        "{}",
        failure.reason
    );
}
