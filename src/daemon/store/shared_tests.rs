//! The store's contract, tested against every backend: each test below runs once on a
//! [`SqliteStore`] in a temporary directory and once on a [`PgStore`] in a throw-away schema
//! of the server `SMPPD_TEST_POSTGRES_URL` names (without it the PostgreSQL half says loudly
//! that it was skipped, and fails when `CI` is set). What only one backend has (a full disk,
//! SQLite's migrations and query plans) is tested beside that backend.

use super::postgres::{PgOptions, PgStore};
use super::sqlite::{SqliteOptions, SqliteStore};
use super::*;
use crate::daemon::engine::{ReceiptReport, ReceiptState};
use crate::sms::{Field, Segment};
use std::time::{Duration, SystemTime};

/// The variable naming the test server.
const URL_VARIABLE: &str = "SMPPD_TEST_POSTGRES_URL";

pub(crate) fn segment(text: &str) -> Segment {
    Segment {
        bytes: text.as_bytes().to_vec(),
        field: Field::ShortMessage,
        esm_class: 0,
        data_coding: 0,
        sar: None,
    }
}

pub(crate) fn message(channel: &str, pinned: bool, segments: usize) -> NewMessage {
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
        origin: None,
    }
}

pub(super) fn now() -> SystemTime {
    SystemTime::now()
}

/// What a test may change of a backend's options.
pub(super) struct Settings {
    pub max_queued: u64,
    pub finished_retention: Duration,
}

/// A throw-away schema on the test server, dropped with this.
pub(super) struct PgSchema {
    server: String,
    name: String,
}

impl PgSchema {
    /// The server's URL with this schema as the search path.
    fn url(&self) -> String {
        let sep = if self.server.contains('?') { '&' } else { '?' };
        format!(
            "{}{sep}options=-c%20search_path%3D{}",
            self.server, self.name
        )
    }
}

/// Runs `sql` on the server at `url`, on a thread and runtime of its own (usable from
/// `Drop` and from inside a test's runtime alike).
fn admin(url: String, sql: String) -> Result<(), String> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())?;
        rt.block_on(async {
            let (client, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .map_err(|e| format!("cannot connect to {url}: {e}"))?;
            let task = tokio::spawn(conn);
            let done = client
                .batch_execute(&sql)
                .await
                .map_err(|e| format!("{sql}: {e:?}"));
            drop(client);
            let _ = task.await;
            done
        })
    })
    .join()
    .unwrap_or_else(|_| Err("the helper thread panicked".into()))
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let _ = admin(
            self.server.clone(),
            format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name),
        );
    }
}

/// Where a test's store lives.
pub(super) enum Harness {
    Sqlite(tempfile::TempDir),
    Postgres(PgSchema),
}

impl Harness {
    pub(super) fn sqlite() -> Harness {
        Harness::Sqlite(tempfile::tempdir().unwrap())
    }

    /// A fresh schema; `None` when the PostgreSQL tests are skipped.
    pub(super) fn postgres(test: &str) -> Option<Harness> {
        use std::sync::atomic::{AtomicU64, Ordering};
        static N: AtomicU64 = AtomicU64::new(0);
        let server = match std::env::var(URL_VARIABLE) {
            Ok(url) if !url.is_empty() => url,
            _ => {
                let ci = std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false");
                assert!(
                    !ci,
                    "{test}: {URL_VARIABLE} is not set, and CI is: the PostgreSQL tests must run"
                );
                // Straight to the standard error: the harness captures `eprintln!`.
                let _ = std::io::Write::write_all(
                    &mut std::io::stderr(),
                    format!("\n*** SKIPPED {test} on PostgreSQL: set {URL_VARIABLE} ***\n")
                        .as_bytes(),
                );
                return None;
            }
        };
        let name = format!(
            "smppd_unit_{}_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed),
            SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        );
        admin(server.clone(), format!("CREATE SCHEMA {name}")).unwrap();
        Some(Harness::Postgres(PgSchema { server, name }))
    }

    /// Opens (or reopens) the store, with webhook events on.
    pub(super) async fn open(
        &self,
        tweak: impl FnOnce(&mut Settings),
    ) -> (Box<dyn Store>, Recovery) {
        let mut settings = Settings {
            max_queued: 1_000_000,
            finished_retention: Duration::from_secs(3600),
        };
        tweak(&mut settings);
        match self {
            Harness::Sqlite(dir) => {
                let mut o = SqliteOptions::new(dir.path().join("smppd.db"));
                o.events = true;
                o.max_queued = settings.max_queued;
                o.finished_retention = settings.finished_retention;
                let (store, recovery) = SqliteStore::open(o).unwrap();
                (Box::new(store), recovery)
            }
            Harness::Postgres(schema) => {
                let mut o = PgOptions::new(schema.url(), "unit");
                o.events = true;
                o.pool_size = 2;
                o.max_queued = settings.max_queued;
                o.finished_retention = settings.finished_retention;
                let (store, recovery) = PgStore::open(o).await.unwrap();
                (Box::new(store), recovery)
            }
        }
    }

    /// The schema version the backend writes.
    pub(super) fn latest(&self) -> i64 {
        match self {
            Harness::Sqlite(_) => sqlite::latest_schema(),
            Harness::Postgres(_) => postgres::latest_schema(),
        }
    }
}

/// One test per backend for the test function `$name(h: Harness)`.
macro_rules! on_every_backend {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[tokio::test]
                async fn sqlite() {
                    super::$name(super::Harness::sqlite()).await;
                }

                // Two workers: dropping the schema blocks one while the store's connections
                // close on the other.
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn postgres() {
                    if let Some(h) = super::Harness::postgres(stringify!($name)) {
                        super::$name(h).await;
                    }
                }
            }
        )*
    };
}

mod users;

on_every_backend!(
    a_message_goes_from_queued_to_delivered_and_survives_a_reopen,
    claimed_messages_are_queued_again_after_a_restart,
    idempotency_keys_repeat_the_first_answer_or_refuse_another_request,
    the_queue_limit_refuses_and_expiry_reports,
    receipts_match_exact_first_then_folded_then_across_radix,
    an_id_the_smsc_reuses_points_to_the_newest_submission,
    a_receipt_right_behind_its_answer_is_matched_as_it_would_be_alone,
    a_receipt_delivered_again_after_the_final_one_still_names_its_message,
    one_report_applies_outcomes_and_receipts_in_their_order,
    the_backlog_counts_each_queue_and_dates_its_oldest_message_and_event,
    a_schema_from_a_newer_smppd_is_refused,
);

/// A store written by a newer smppd is refused, never guessed at.
async fn a_schema_from_a_newer_smppd_is_refused(h: Harness) {
    let e = match &h {
        Harness::Sqlite(dir) => {
            let path = dir.path().join("smppd.db");
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.pragma_update(None, "user_version", 99).unwrap();
            drop(conn);
            SqliteStore::open(SqliteOptions::new(&path)).unwrap_err()
        }
        Harness::Postgres(schema) => {
            admin(
                schema.url(),
                "CREATE TABLE schema_version (version BIGINT NOT NULL);
                 INSERT INTO schema_version VALUES (99);"
                    .into(),
            )
            .unwrap();
            PgStore::open(PgOptions::new(schema.url(), "unit"))
                .await
                .unwrap_err()
        }
    };
    assert!(matches!(e, StoreError::TooNew { found: 99, .. }), "{e}");
    assert!(e.to_string().contains("newer than this smppd knows"));
}

async fn a_message_goes_from_queued_to_delivered_and_survives_a_reopen(h: Harness) {
    let (store, recovery) = h.open(|_| {}).await;
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

    let (store, recovery) = h.open(|_| {}).await;
    assert_eq!((recovery.schema_found, recovery.requeued), (h.latest(), 0));
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

async fn claimed_messages_are_queued_again_after_a_restart(h: Harness) {
    let (store, _) = h.open(|_| {}).await;
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
    let (store, recovery) = h.open(|_| {}).await;
    assert_eq!(recovery.requeued, 1);
    let claimed = store.claim("a", 10, now()).await.unwrap();
    assert_eq!(claimed.len(), 2);
    assert!(claimed[0].resend && !claimed[1].resend);
}

async fn idempotency_keys_repeat_the_first_answer_or_refuse_another_request(h: Harness) {
    let (store, _) = h.open(|_| {}).await;
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

async fn the_queue_limit_refuses_and_expiry_reports(h: Harness) {
    let (store, _) = h.open(|o| o.max_queued = 2).await;
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

async fn receipts_match_exact_first_then_folded_then_across_radix(h: Harness) {
    let (store, _) = h.open(|_| {}).await;
    let upper = submitted_as(store.as_ref(), "0A1B").await;
    let lower = submitted_as(store.as_ref(), "0a1b").await;
    let decimal = submitted_as(store.as_ref(), "4660").await;
    let matched = |m: ReceiptMatch| match m {
        ReceiptMatch::Matched { id, .. } => Some(id),
        _ => None,
    };
    assert_eq!(matched(match_of(store.as_ref(), "0A1B").await), Some(upper));
    assert_eq!(matched(match_of(store.as_ref(), "0a1b").await), Some(lower));
    assert!(matches!(
        match_of(store.as_ref(), "A1B").await,
        ReceiptMatch::Ambiguous { .. }
    ));
    // 0x1234 = 4660: a hex receipt for a decimal submission, with or without its prefix.
    assert_eq!(
        matched(match_of(store.as_ref(), "1234").await),
        Some(decimal.clone())
    );
    assert_eq!(
        matched(match_of(store.as_ref(), "0x1234").await),
        Some(decimal)
    );
    // 0x1F40 = 8000: a decimal receipt for a hex submission.
    let hex = submitted_as(store.as_ref(), "1F40").await;
    assert_eq!(matched(match_of(store.as_ref(), "8000").await), Some(hex));
    assert_eq!(matched(match_of(store.as_ref(), "nope").await), None);
}

async fn an_id_the_smsc_reuses_points_to_the_newest_submission(h: Harness) {
    let (store, _) = h.open(|_| {}).await;
    let _old = submitted_as(store.as_ref(), "77").await;
    let new = submitted_as(store.as_ref(), "77").await;
    match match_of(store.as_ref(), "77").await {
        ReceiptMatch::Matched { id, .. } => assert_eq!(id, new),
        other => panic!("{other:?}"),
    }
}

/// A receipt in the same report as its answer finds what it would find in a report of its
/// own, also when the SMSC reused the id for a message with a higher `seq` answered before,
/// in this run or the one before a restart (the highest `seq` wins, as above).
async fn a_receipt_right_behind_its_answer_is_matched_as_it_would_be_alone(h: Harness) {
    let submitted = |seq: i64, smsc: &str| Change::Submitted {
        key: segment_key(seq, 0),
        smsc_message_id: smsc.into(),
    };
    let receipt = |smsc: &str| Change::Receipt {
        receipt: ReceiptReport {
            smsc_message_id: smsc.into(),
            state: ReceiptState::Delivered,
            error_code: None,
        },
        event: None,
    };
    let matched = |applied: &[Applied]| match applied.last() {
        Some(Applied::Receipt(ReceiptMatch::Matched { id, .. })) => id.clone(),
        other => panic!("{other:?}"),
    };
    let (store, _) = h.open(|_| {}).await;
    let (ids, seqs) = claimed_on_a(store.as_ref(), 2).await;
    store
        .apply("a", vec![submitted(seqs[1], "77")], now())
        .await
        .unwrap();
    let applied = store
        .apply("a", vec![submitted(seqs[0], "77"), receipt("77")], now())
        .await
        .unwrap();
    assert_eq!(matched(&applied), ids[1]);
    // A new id: the message it was just given.
    let (ids, seqs) = claimed_on_a(store.as_ref(), 2).await;
    let applied = store
        .apply(
            "a",
            vec![
                submitted(seqs[0], "88"),
                submitted(seqs[1], "99"),
                receipt("88"),
            ],
            now(),
        )
        .await
        .unwrap();
    assert_eq!(matched(&applied), ids[0]);
    // The higher one answered before a restart, the lower one (given back by the restart)
    // after it.
    let (ids, seqs) = claimed_on_a(store.as_ref(), 2).await;
    store
        .apply("a", vec![submitted(seqs[1], "66")], now())
        .await
        .unwrap();
    drop(store);
    let (store, _) = h.open(|_| {}).await;
    // What the store reads of its file at start has had time to land (the answer is the
    // same before it does).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let again = store.claim("a", 10, now()).await.unwrap();
    assert!(again.iter().any(|m| m.seq == seqs[0]));
    let applied = store
        .apply("a", vec![submitted(seqs[0], "66"), receipt("66")], now())
        .await
        .unwrap();
    assert_eq!(matched(&applied), ids[1]);
}

async fn a_receipt_delivered_again_after_the_final_one_still_names_its_message(h: Harness) {
    let (store, _) = h
        .open(|o| o.finished_retention = Duration::from_secs(60))
        .await;
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

async fn the_backlog_counts_each_queue_and_dates_its_oldest_message_and_event(h: Harness) {
    let (store, _) = h.open(|_| {}).await;
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
                    user: None,
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

/// A sink's report interleaves submit_sm_resps and receipts: each change sees every change
/// before it in the report and none after it, whatever the backend groups.
async fn one_report_applies_outcomes_and_receipts_in_their_order(h: Harness) {
    let (store, _) = h.open(|_| {}).await;
    let (ids, seqs) = claimed_on_a(store.as_ref(), 3).await;
    let submitted = |n: usize, smsc: &str| Change::Submitted {
        key: segment_key(seqs[n], 0),
        smsc_message_id: smsc.into(),
    };
    let receipt = |smsc: &str, state: ReceiptState, error: Option<&str>| Change::Receipt {
        receipt: ReceiptReport {
            smsc_message_id: smsc.into(),
            state,
            error_code: error.map(Into::into),
        },
        event: Some(serde_json::Map::new()),
    };
    let changes = vec![
        // Before the response it refers to: nothing to match yet.
        receipt("c1", ReceiptState::Delivered, None),
        submitted(0, "a1"),
        submitted(1, "b1"),
        receipt("a1", ReceiptState::Delivered, None),
        submitted(2, "c1"),
        receipt("b1", ReceiptState::Enroute, None),
        receipt("b1", ReceiptState::Undeliverable, Some("001")),
        receipt("zz", ReceiptState::Delivered, None),
        receipt("c1", ReceiptState::Delivered, None),
    ];
    let applied = store.apply("a", changes, now()).await.unwrap();
    let outcome = |a: &Applied| match a {
        Applied::Done(Some(o)) => o.state,
        other => panic!("{other:?}"),
    };
    let matched = |a: &Applied| match a {
        Applied::Receipt(ReceiptMatch::Matched { id, segment, state }) => {
            Some((id.clone(), *segment, *state))
        }
        Applied::Receipt(ReceiptMatch::NotFound) => None,
        other => panic!("{other:?}"),
    };
    assert_eq!(applied.len(), 9);
    assert_eq!(matched(&applied[0]), None);
    assert_eq!(outcome(&applied[1]), MessageState::Submitted);
    assert_eq!(outcome(&applied[2]), MessageState::Submitted);
    assert_eq!(
        matched(&applied[3]),
        Some((ids[0].clone(), 0, MessageState::Delivered))
    );
    assert_eq!(outcome(&applied[4]), MessageState::Submitted);
    assert_eq!(
        matched(&applied[5]),
        Some((ids[1].clone(), 0, MessageState::Submitted))
    );
    assert_eq!(
        matched(&applied[6]),
        Some((ids[1].clone(), 0, MessageState::Failed))
    );
    assert_eq!(matched(&applied[7]), None);
    assert_eq!(
        matched(&applied[8]),
        Some((ids[2].clone(), 0, MessageState::Delivered))
    );
    let failed = store.get(&ids[1]).await.unwrap().unwrap();
    assert_eq!(failed.state, MessageState::Failed);
    assert_eq!(
        failed.failure.map(|f| f.reason).as_deref(),
        Some("receipt: undeliverable (err 001)")
    );
    assert_eq!(
        failed.segments[0].receipt,
        Some(ReceiptState::Undeliverable)
    );
    assert_eq!(failed.segments[0].receipt_error.as_deref(), Some("001"));
    let events = store.outbox_due(20, now()).await.unwrap();
    let states: Vec<serde_json::Value> = events
        .iter()
        .map(|e| {
            let body: serde_json::Value = serde_json::from_slice(&e.body).unwrap();
            body["message_state"].clone()
        })
        .collect();
    assert_eq!(
        states,
        [
            serde_json::Value::Null,
            "delivered".into(),
            "submitted".into(),
            "failed".into(),
            serde_json::Value::Null,
            "delivered".into(),
        ]
    );
    assert_eq!((store.counts().waiting, store.counts().outbox), (0, 6));
}

/// `n` one-segment messages on channel `a`, accepted and claimed together: their ids and
/// `seq`s, in acceptance order.
async fn claimed_on_a(store: &dyn Store, n: usize) -> (Vec<MessageId>, Vec<i64>) {
    let batch: Vec<NewMessage> = (0..n).map(|_| message("a", true, 1)).collect();
    let ids: Vec<MessageId> = batch.iter().map(|m| m.id.clone()).collect();
    store.accept(batch, now()).await.unwrap();
    let seqs: Vec<i64> = store
        .claim("a", 10, now())
        .await
        .unwrap()
        .iter()
        .map(|m| m.seq)
        .collect();
    assert_eq!(seqs.len(), n);
    (ids, seqs)
}

/// Submits one single-segment message on channel `a` with `smsc_id`; returns its id.
async fn submitted_as(store: &dyn Store, smsc_id: &str) -> MessageId {
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

async fn match_of(store: &dyn Store, receipt_id: &str) -> ReceiptMatch {
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
