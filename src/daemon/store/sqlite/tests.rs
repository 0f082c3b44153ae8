use super::*;
use crate::daemon::engine::{ReceiptReport, ReceiptState};
use crate::daemon::store::{
    segment_key, Backlog, Idempotency, MessageState, QueueBacklog, ReceiptMatch,
};
use crate::sms::{Field, Segment};
use std::time::{Duration, SystemTime};

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn options(dir: &tempfile::TempDir) -> SqliteOptions {
    let mut o = SqliteOptions::new(dir.path().join("smppd.db"));
    o.events = true;
    o
}

fn segment(text: &str) -> Segment {
    Segment {
        bytes: text.as_bytes().to_vec(),
        field: Field::ShortMessage,
        esm_class: 0,
        data_coding: 0,
        sar: None,
    }
}

fn message(channel: &str, pinned: bool, segments: usize) -> NewMessage {
    NewMessage {
        id: MessageId::generate(),
        channel: channel.into(),
        pinned,
        to: "447700900123".into(),
        from: None,
        delivery_report: true,
        expires_at: SystemTime::now() + Duration::from_secs(3600),
        send_validity: false,
        encoding: "gsm7",
        data_coding: 0,
        segments: (0..segments)
            .map(|i| segment(&format!("part {i}")))
            .collect(),
        idempotency: None,
    }
}

fn now() -> SystemTime {
    SystemTime::now()
}

#[tokio::test]
async fn a_message_goes_from_queued_to_delivered_and_survives_a_reopen() {
    let dir = dir();
    let (store, recovery) = SqliteStore::open(options(&dir)).unwrap();
    assert_eq!(recovery.schema_found, 0);
    let m = message("a", false, 2);
    let id = m.id.clone();
    let accepted = store.accept(vec![m], now()).await.unwrap();
    assert!(matches!(accepted[0], Ok(Accepted::New(_))));
    let claimed = store.claim("b", 10, now()).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].segments.len(), 2);
    assert!(!claimed[0].resend);
    let seq = claimed[0].seq;
    let applied = store
        .apply(
            "b",
            vec![
                Change::Submitted {
                    key: segment_key(seq, 0),
                    smsc_message_id: "1A".into(),
                },
                Change::Submitted {
                    key: segment_key(seq, 1),
                    smsc_message_id: "1B".into(),
                },
            ],
            now(),
        )
        .await
        .unwrap();
    assert!(
        matches!(&applied[1], Applied::Done(Some(o)) if o.state == MessageState::Submitted && o.channel == "b")
    );
    drop(store);

    let (store, recovery) = SqliteStore::open(options(&dir)).unwrap();
    assert_eq!(
        (recovery.schema_found, recovery.requeued),
        (super::schema::latest(), 0)
    );
    let record = store.get(&id).await.unwrap().unwrap();
    assert_eq!(record.state, MessageState::Submitted);
    assert_eq!(record.segments[1].smsc_message_id.as_deref(), Some("1B"));
    // Receipts quote the ids in decimal: matched across radix, after the restart.
    for (n, smsc) in ["26", "27"].into_iter().enumerate() {
        let mut event = serde_json::Map::new();
        event.insert("type".into(), "receipt".into());
        let applied = store
            .apply(
                "b",
                vec![Change::Receipt {
                    receipt: ReceiptReport {
                        smsc_message_id: smsc.into(),
                        state: ReceiptState::Delivered,
                        error_code: None,
                    },
                    event: Some(event),
                }],
                now(),
            )
            .await
            .unwrap();
        match &applied[0] {
            Applied::Receipt(ReceiptMatch::Matched {
                id: got, segment, ..
            }) => {
                assert_eq!((got, *segment), (&id, n));
            }
            other => panic!("{other:?}"),
        }
    }
    let record = store.get(&id).await.unwrap().unwrap();
    assert_eq!(record.state, MessageState::Delivered);
    let events = store.outbox_due(10, now()).await.unwrap();
    assert_eq!(events.len(), 2);
    let body: serde_json::Value = serde_json::from_slice(&events[1].body).unwrap();
    assert_eq!(body["message_id"], id.as_str());
    assert_eq!(body["message_state"], "delivered");
    assert_eq!(body["event_id"].as_str().unwrap().len(), 32);
    store
        .outbox_delivered(events.iter().map(|e| e.seq).collect())
        .await
        .unwrap();
    assert!(store.outbox_due(10, now()).await.unwrap().is_empty());
}

#[tokio::test]
async fn claimed_messages_are_queued_again_after_a_restart() {
    let dir = dir();
    let (store, _) = SqliteStore::open(options(&dir)).unwrap();
    store
        .accept(vec![message("a", true, 1), message("a", true, 1)], now())
        .await
        .unwrap();
    assert!(
        store.claim("b", 10, now()).await.unwrap().is_empty(),
        "pinned to a"
    );
    assert_eq!(store.claim("a", 1, now()).await.unwrap().len(), 1);
    drop(store);
    let (store, recovery) = SqliteStore::open(options(&dir)).unwrap();
    assert_eq!(recovery.requeued, 1);
    let claimed = store.claim("a", 10, now()).await.unwrap();
    assert_eq!(claimed.len(), 2);
    assert!(claimed[0].resend && !claimed[1].resend);
}

#[tokio::test]
async fn idempotency_keys_repeat_the_first_answer_or_refuse_another_request() {
    let dir = dir();
    let (store, _) = SqliteStore::open(options(&dir)).unwrap();
    let key = |fingerprint: &str| {
        let mut m = message("a", false, 1);
        m.idempotency = Some(Idempotency {
            key: "k1".into(),
            fingerprint: fingerprint.into(),
        });
        m
    };
    let first = store
        .accept(vec![key("x"), key("x"), key("y")], now())
        .await
        .unwrap();
    let Ok(Accepted::New(a)) = &first[0] else {
        panic!("{first:?}")
    };
    let Ok(Accepted::Repeat(b)) = &first[1] else {
        panic!("{first:?}")
    };
    assert_eq!(a, b);
    assert!(matches!(&first[2], Err(Refused::KeyReused { .. })));
    // Sent by another channel than the one chosen: a repeat still answers the first answer.
    assert_eq!(store.claim("b", 10, now()).await.unwrap().len(), 1);
    let again = store.accept(vec![key("x")], now()).await.unwrap();
    assert_eq!(again, vec![Ok(Accepted::Repeat(a.clone()))]);
    assert_eq!(a.channel, "a");
}

#[tokio::test]
async fn the_queue_limit_refuses_and_expiry_reports() {
    let dir = dir();
    let mut o = options(&dir);
    o.max_queued = 2;
    let (store, _) = SqliteStore::open(o).unwrap();
    let mut short = message("a", false, 1);
    short.expires_at = now() - Duration::from_secs(1);
    let id = short.id.clone();
    let r = store
        .accept(
            vec![short, message("a", false, 1), message("a", false, 1)],
            now(),
        )
        .await
        .unwrap();
    assert!(matches!(r[2], Err(Refused::QueueFull { max: 2 })));
    // The expired one is never claimed; upkeep expires it and tells the webhook.
    assert_eq!(store.claim("a", 10, now()).await.unwrap().len(), 1);
    let upkeep = store.upkeep(now()).await.unwrap();
    assert_eq!(upkeep.expired, 1);
    assert_eq!(
        store.get(&id).await.unwrap().unwrap().state,
        MessageState::Expired
    );
    let events = store.outbox_due(10, now()).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&events[0].body).unwrap();
    assert_eq!(
        (body["type"].as_str(), body["message_id"].as_str()),
        (Some("expired"), Some(id.as_str()))
    );
    // Room again.
    let r = store
        .accept(vec![message("a", false, 1)], now())
        .await
        .unwrap();
    assert!(r[0].is_ok());
}

#[tokio::test]
async fn a_full_disk_refuses_with_the_reason_and_keeps_what_was_accepted() {
    let dir = dir();
    let mut o = options(&dir);
    o.max_page_count = Some(40);
    let (store, _) = SqliteStore::open(o).unwrap();
    let mut kept = Vec::new();
    let mut refused = None;
    for _ in 0..2000 {
        let mut m = message("a", false, 1);
        m.segments[0].bytes = vec![b'x'; 140];
        let id = m.id.clone();
        match store.accept(vec![m], now()).await {
            Ok(_) => kept.push(id),
            Err(e) => {
                refused = Some(e);
                break;
            }
        }
    }
    let refused = refused.expect("the file filled up");
    assert!(
        matches!(&refused, StoreError::Write(r) if r.contains("full")),
        "{refused}"
    );
    for id in &kept {
        assert!(store.get(id).await.unwrap().is_some());
    }
    // Sending (and purging) still works, so the store recovers by itself.
    let claimed = store.claim("a", 5, now()).await.unwrap();
    assert_eq!(claimed.len(), 5);
}

#[tokio::test]
async fn a_file_from_a_newer_smppd_is_refused() {
    let dir = dir();
    let path = dir.path().join("smppd.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", 99).unwrap();
    }
    let e = SqliteStore::open(SqliteOptions::new(&path)).unwrap_err();
    assert!(matches!(e, StoreError::TooNew { found: 99, .. }), "{e}");
    assert!(e.to_string().contains("newer than this smppd knows"));
}

/// Submits one single-segment message on channel `a` with `smsc_id`; returns its id.
async fn submitted_as(store: &SqliteStore, smsc_id: &str) -> MessageId {
    let m = message("a", true, 1);
    let id = m.id.clone();
    store.accept(vec![m], now()).await.unwrap();
    let claimed = store.claim("a", 1, now()).await.unwrap();
    let change = Change::Submitted {
        key: segment_key(claimed[0].seq, 0),
        smsc_message_id: smsc_id.into(),
    };
    store.apply("a", vec![change], now()).await.unwrap();
    id
}

async fn match_of(store: &SqliteStore, receipt_id: &str) -> ReceiptMatch {
    let receipt = ReceiptReport {
        smsc_message_id: receipt_id.into(),
        state: ReceiptState::Enroute,
        error_code: None,
    };
    let change = Change::Receipt {
        receipt,
        event: None,
    };
    match store.apply("a", vec![change], now()).await.unwrap().pop() {
        Some(Applied::Receipt(m)) => m,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn receipts_match_exact_first_then_folded_then_across_radix() {
    let dir = dir();
    let (store, _) = SqliteStore::open(options(&dir)).unwrap();
    let upper = submitted_as(&store, "0A1B").await;
    let lower = submitted_as(&store, "0a1b").await;
    let decimal = submitted_as(&store, "4660").await;
    let matched = |m: ReceiptMatch| match m {
        ReceiptMatch::Matched { id, .. } => Some(id),
        _ => None,
    };
    assert_eq!(matched(match_of(&store, "0A1B").await), Some(upper));
    assert_eq!(matched(match_of(&store, "0a1b").await), Some(lower));
    assert!(matches!(
        match_of(&store, "A1B").await,
        ReceiptMatch::Ambiguous { .. }
    ));
    // 0x1234 = 4660: a hex receipt for a decimal submission, with or without its prefix.
    assert_eq!(
        matched(match_of(&store, "1234").await),
        Some(decimal.clone())
    );
    assert_eq!(matched(match_of(&store, "0x1234").await), Some(decimal));
    // 0x1F40 = 8000: a decimal receipt for a hex submission.
    let hex = submitted_as(&store, "1F40").await;
    assert_eq!(matched(match_of(&store, "8000").await), Some(hex));
    assert_eq!(matched(match_of(&store, "nope").await), None);
}

#[tokio::test]
async fn an_id_the_smsc_reuses_points_to_the_newest_submission() {
    let dir = dir();
    let (store, _) = SqliteStore::open(options(&dir)).unwrap();
    let _old = submitted_as(&store, "77").await;
    let new = submitted_as(&store, "77").await;
    match match_of(&store, "77").await {
        ReceiptMatch::Matched { id, .. } => assert_eq!(id, new),
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_call_that_fails_alone_fails_alone() {
    let dir = dir();
    let (store, _) = SqliteStore::open(options(&dir)).unwrap();
    // A damaged row, as another program (or a bad disk) could leave one.
    {
        let conn = Connection::open(dir.path().join("smppd.db")).unwrap();
        conn.execute_batch("PRAGMA busy_timeout = 10000;").unwrap();
        conn.execute(
            "INSERT INTO messages (id, channel, routed, queue, state, dest, delivery_report,
                send_validity, encoding, data_coding, segments, accepted_at, expires_at)
             VALUES ('not-an-id', 'bad', 'bad', 'bad', 0, '1', 0, 0, 'gsm7', 0, 1, 0, ?1)",
            [super::ms(now()) + 3_600_000],
        )
        .unwrap();
    }
    let m = message("a", true, 1);
    let id = m.id.clone();
    // Both calls are queued before either is awaited, so they may share a transaction.
    let claim = store.claim("bad", 10, now());
    let accept = store.accept(vec![m], now());
    let (claim, accept) = tokio::join!(claim, accept);
    let error = claim.unwrap_err();
    assert!(error.to_string().contains("damaged row"), "{error}");
    assert!(matches!(accept.unwrap()[0], Ok(Accepted::New(_))));
    assert!(store.get(&id).await.unwrap().is_some());
    assert_eq!(
        store.counts().waiting,
        1,
        "the damaged row was not counted at open"
    );
}

/// A file written by the first schema (segments in rows of their own, claims per row) is
/// brought to the latest at open, with nothing lost: waiting messages claimable with their
/// segments, a claimed one marked as a possible re-send, acknowledged ids still matching
/// receipts.
#[tokio::test]
async fn a_file_of_the_first_schema_is_migrated_with_its_messages() {
    let dir = dir();
    let path = dir.path().join("smppd.db");
    let (one, two, three) = (
        MessageId::generate(),
        MessageId::generate(),
        MessageId::generate(),
    );
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(super::schema::MIGRATIONS[0].sql)
            .unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        let at = super::ms(now());
        let insert = |id: &MessageId, state: i64, claimed: i64, dr: i64, segments: i64| {
            conn.execute(
                "INSERT INTO messages (id, channel, routed, queue, state, claimed, dest,
                    delivery_report, send_validity, encoding, data_coding, segments,
                    accepted_at, expires_at, submitted_at, acked)
                 VALUES (?1, 'a', 'a', 'a', ?2, ?3, '447700900123', ?4, 0, 'gsm7', 0, ?5, ?6,
                    ?7, CASE WHEN ?2 = 1 THEN ?6 END, CASE WHEN ?2 = 1 THEN ?5 ELSE 0 END)",
                rusqlite::params![
                    id.as_str(),
                    state,
                    claimed,
                    dr,
                    segments,
                    at,
                    at + 3_600_000
                ],
            )
            .unwrap();
            conn.last_insert_rowid()
        };
        let segment = |seq: i64, idx: i64, body: &str, smsc: Option<&str>| {
            conn.execute(
                "INSERT INTO segments (seq, idx, body, payload, esm_class, data_coding, sar_ref,
                    sar_total, sar_seqnum, smsc_id, acked_on)
                 VALUES (?1, ?2, ?3, 0, 64, 0, 7, 2, ?2 + 1, ?4, CASE WHEN ?4 IS NULL THEN NULL
                    ELSE 'a' END)",
                rusqlite::params![seq, idx, body.as_bytes(), smsc],
            )
            .unwrap();
        };
        let s1 = insert(&one, 0, 0, 0, 2);
        segment(s1, 0, "first half", None);
        segment(s1, 1, "second half", None);
        let s2 = insert(&two, 0, 1, 0, 1);
        segment(s2, 0, "claimed", None);
        let s3 = insert(&three, 1, 0, 1, 1);
        segment(s3, 0, "sent", Some("ABC1"));
        conn.execute(
            "INSERT INTO correlation (channel, form, seq, idx, smsc_id)
             VALUES ('a', 'f:abc1', ?1, 0, 'ABC1'), ('a', 'h:43969', ?1, 0, 'ABC1')",
            [s3],
        )
        .unwrap();
    }
    let (store, recovery) = SqliteStore::open(options(&dir)).unwrap();
    assert_eq!(recovery.schema_found, 1);
    let claimed = store.claim("a", 10, now()).await.unwrap();
    assert_eq!(claimed.len(), 2);
    assert_eq!(claimed[0].id, one);
    let texts: Vec<&[u8]> = claimed[0]
        .segments
        .iter()
        .map(|(_, s)| s.bytes.as_slice())
        .collect();
    assert_eq!(texts, [&b"first half"[..], b"second half"]);
    let sar = claimed[0].segments[1].1.sar.unwrap();
    assert_eq!(
        (sar.msg_ref_num, sar.total_segments, sar.segment_seqnum),
        (7, 2, 2)
    );
    assert_eq!(claimed[0].segments[1].1.esm_class, 64);
    assert!(!claimed[0].resend);
    assert_eq!(claimed[1].id, two);
    assert!(claimed[1].resend, "claimed when the old file was closed");
    let record = store.get(&three).await.unwrap().unwrap();
    assert_eq!(record.segments[0].smsc_message_id.as_deref(), Some("ABC1"));
    let value_rows: i64 = Connection::open(&path)
        .unwrap()
        .query_row(
            "SELECT count(*) FROM correlation WHERE form LIKE 'h:%'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        value_rows, 0,
        "hex values are found through the folded form"
    );
    // 0xABC1 = 43969: found across radix without its old `h:` row.
    match match_of_on(&store, "a", "43969").await {
        ReceiptMatch::Matched { id, .. } => assert_eq!(id, three),
        other => panic!("{other:?}"),
    }
    match match_of_on(&store, "a", "ABC1").await {
        ReceiptMatch::Matched { id, .. } => assert_eq!(id, three),
        other => panic!("{other:?}"),
    }
}

async fn match_of_on(store: &SqliteStore, channel: &str, smsc: &str) -> ReceiptMatch {
    let applied = store
        .apply(
            channel,
            vec![Change::Receipt {
                receipt: ReceiptReport {
                    smsc_message_id: smsc.into(),
                    state: ReceiptState::Delivered,
                    error_code: None,
                },
                event: None,
            }],
            now(),
        )
        .await
        .unwrap();
    match applied.into_iter().next() {
        Some(Applied::Receipt(m)) => m,
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_receipt_delivered_again_after_the_final_one_still_names_its_message() {
    let dir = dir();
    let mut o = options(&dir);
    o.finished_retention = Duration::from_secs(60);
    let (store, _) = SqliteStore::open(o).unwrap();
    let m = message("a", false, 2);
    let id = m.id.clone();
    store.accept(vec![m], now()).await.unwrap();
    let seq = store.claim("a", 10, now()).await.unwrap()[0].seq;
    let submitted = ["1A", "1B"]
        .iter()
        .enumerate()
        .map(|(i, smsc)| Change::Submitted {
            key: segment_key(seq, i as u8),
            smsc_message_id: (*smsc).into(),
        })
        .collect();
    store.apply("a", submitted, now()).await.unwrap();
    let receipt = |smsc: &str| Change::Receipt {
        receipt: ReceiptReport {
            smsc_message_id: smsc.into(),
            state: ReceiptState::Delivered,
            error_code: None,
        },
        event: Some(serde_json::Map::new()),
    };
    // Each final receipt comes twice: the SMSC did not see the first answer (a lost link).
    let t = now();
    for smsc in ["1A", "1B", "1A", "1B"] {
        let applied = store.apply("a", vec![receipt(smsc)], t).await.unwrap();
        match &applied[0] {
            Applied::Receipt(ReceiptMatch::Matched {
                id: got, segment, ..
            }) => assert_eq!((got, *segment), (&id, usize::from(smsc == "1B")), "{smsc}"),
            other => panic!("{smsc}: {other:?}"),
        }
    }
    let record = store.get(&id).await.unwrap().unwrap();
    assert_eq!(record.state, MessageState::Delivered);
    let events = store.outbox_due(10, now()).await.unwrap();
    assert_eq!(events.len(), 4);
    let states: Vec<serde_json::Value> = events
        .iter()
        .map(|e| {
            let body: serde_json::Value = serde_json::from_slice(&e.body).unwrap();
            assert_eq!(body["message_id"], id.as_str());
            body["message_state"].clone()
        })
        .collect();
    assert_eq!(states, ["submitted", "delivered", "delivered", "delivered"]);
    // Once the message is purged, its ids match nothing any more.
    let purged = store.upkeep(t + Duration::from_secs(61)).await.unwrap();
    assert_eq!(purged.purged, 1);
    assert_eq!(store.stats().await.unwrap().correlations, 0);
    let applied = store
        .apply("a", vec![receipt("1A")], t + Duration::from_secs(62))
        .await
        .unwrap();
    assert!(matches!(
        applied[0],
        Applied::Receipt(ReceiptMatch::NotFound)
    ));
}

#[tokio::test]
async fn the_backlog_counts_each_queue_and_dates_its_oldest_message_and_event() {
    let dir = dir();
    let (store, _) = SqliteStore::open(options(&dir)).unwrap();
    assert_eq!(store.backlog().await.unwrap(), Backlog::default());
    // In the past (the messages expire an hour from now), in whole seconds (the store keeps
    // milliseconds).
    let t0 = now() - Duration::from_secs(1_000);
    let t0 = SystemTime::UNIX_EPOCH
        + Duration::from_secs(t0.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs());
    let at = |s: u64| t0 + Duration::from_secs(s);
    store
        .accept(vec![message("a", true, 1)], at(0))
        .await
        .unwrap();
    store
        .accept(vec![message("a", true, 2), message("b", false, 1)], at(10))
        .await
        .unwrap();
    store
        .accept(vec![message("b", false, 1)], at(20))
        .await
        .unwrap();
    // A claimed message still waits (it is in flight) until the SMSC answers.
    assert_eq!(store.claim("a", 1, at(30)).await.unwrap().len(), 1);
    let mut event = serde_json::Map::new();
    event.insert("type".into(), "inbound".into());
    for s in [40, 50] {
        store
            .apply(
                "a",
                vec![Change::Event {
                    event: event.clone(),
                }],
                at(s),
            )
            .await
            .unwrap();
    }
    let backlog = store.backlog().await.unwrap();
    assert_eq!(
        backlog.queues,
        vec![
            QueueBacklog {
                queue: "*".into(),
                depth: 2,
                oldest: Some(at(10)),
            },
            QueueBacklog {
                queue: "a".into(),
                depth: 2,
                oldest: Some(at(0)),
            },
        ]
    );
    assert_eq!(backlog.outbox, 2);
    // A retry moves the event's due time, not when it was queued.
    let head = store.outbox_due(1, at(60)).await.unwrap();
    store.outbox_retry(head[0].seq, at(900)).await.unwrap();
    assert_eq!(store.backlog().await.unwrap().oldest_event, Some(at(40)));
}

#[test]
fn the_backlog_reads_from_the_waiting_index() {
    let dir = dir();
    let (store, _) = SqliteStore::open(options(&dir)).unwrap();
    drop(store);
    let conn = Connection::open(dir.path().join("smppd.db")).unwrap();
    let plan = |sql: &str| -> Vec<String> {
        let mut s = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let params: Vec<&str> = vec!["a"; s.parameter_count()];
        s.query_map(rusqlite::params_from_iter(params), |r| {
            r.get::<_, String>(3)
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    };
    let depths = plan(super::backlog::DEPTHS);
    assert!(
        depths
            .iter()
            .any(|step| step.contains("COVERING INDEX messages_waiting")),
        "{depths:?}"
    );
    // The oldest of a queue is one seek, not a scan.
    let head = plan(super::backlog::HEAD);
    assert!(
        head.iter()
            .any(|step| step.starts_with("SEARCH") && step.contains("messages_waiting")),
        "{head:?}"
    );
}

#[tokio::test]
async fn queue_depths_are_counted_in_and_out_and_read_again_at_open() {
    let dir = dir();
    let (store, _) = SqliteStore::open(options(&dir)).unwrap();
    let depths = |b: Backlog| -> Vec<(String, u64)> {
        b.queues.into_iter().map(|q| (q.queue, q.depth)).collect()
    };
    store
        .accept(
            vec![
                message("a", true, 1),
                message("a", true, 1),
                message("b", false, 1),
            ],
            now(),
        )
        .await
        .unwrap();
    assert_eq!(
        depths(store.backlog().await.unwrap()),
        [("*".to_string(), 1), ("a".to_string(), 2)]
    );
    // Answered: one of "a" leaves; failed: the one of any channel leaves.
    let claimed = store.claim("a", 3, now()).await.unwrap();
    assert_eq!(claimed.len(), 3);
    // In order of acceptance: the two of "a", then the one of any channel.
    let (pinned, shared) = (claimed[0].seq, claimed[2].seq);
    store
        .apply(
            "a",
            vec![
                Change::Submitted {
                    key: segment_key(pinned, 0),
                    smsc_message_id: "9".into(),
                },
                Change::Failed {
                    key: segment_key(shared, 0),
                    status: Some(0x45),
                    reason: "refused".into(),
                },
            ],
            now(),
        )
        .await
        .unwrap();
    let left = depths(store.backlog().await.unwrap());
    assert_eq!(left, [("a".to_string(), 1)]);
    assert_eq!(store.counts().waiting, 1);
    drop(store);
    let (store, _) = SqliteStore::open(options(&dir)).unwrap();
    assert_eq!(depths(store.backlog().await.unwrap()), left);
    assert_eq!(store.counts().waiting, 1);
}

#[tokio::test]
async fn an_answer_leaves_only_after_its_commit_is_synced() {
    let dir = dir();
    let (store, _) = SqliteStore::open(options(&dir)).unwrap();
    assert_eq!(store.counts().syncs, 0);
    let accepted = store.accept(vec![message("a", false, 1)], now()).await;
    assert!(matches!(accepted.unwrap()[0], Ok(Accepted::New(_))));
    let after_accept = store.counts();
    assert!(
        after_accept.syncs >= 1,
        "answered before the WAL was synced"
    );
    assert!(after_accept.syncs <= after_accept.commits);
    // A call that writes nothing waits for nothing new: no sync of its own.
    let due = store.outbox_due(10, now()).await.unwrap();
    assert!(due.is_empty());
    assert_eq!(store.counts().syncs, after_accept.syncs);
    // The claim writes its mark: synced before the claimed message is handed out.
    let claimed = store.claim("a", 10, now()).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(store.counts().syncs, after_accept.syncs + 1);
}
