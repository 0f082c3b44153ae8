use super::*;
use crate::daemon::engine::{ReceiptReport, ReceiptState};
use crate::daemon::store::shared_tests::{message, now};
use crate::daemon::store::{segment_key, ReceiptMatch};

fn dir() -> tempfile::TempDir {
    tempfile::tempdir().unwrap()
}

fn options(dir: &tempfile::TempDir) -> SqliteOptions {
    let mut o = SqliteOptions::new(dir.path().join("smppd.db"));
    o.events = true;
    o
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

#[test]
fn the_claim_query_is_prepared_once_whatever_it_is_given() {
    let dir = dir();
    let (store, _) = SqliteStore::open(options(&dir)).unwrap();
    drop(store);
    let conn = open_reader(&dir.path().join("smppd.db")).unwrap();
    // As the writer runs it: prepared once, bound anew for each claim.
    let mut s = conn.prepare(super::write::WAITING).unwrap();
    for (queue, limit) in [("", 1i64), ("a", 7), ("", 500), ("b", 3)] {
        s.query(rusqlite::params![queue, 0, 0, limit])
            .unwrap()
            .next()
            .unwrap();
    }
    assert_eq!(s.get_status(rusqlite::StatementStatus::RePrepare), 0);
}
