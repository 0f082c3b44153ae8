//! Session-slot leases and fencing on PostgreSQL, in process: two stores stand for two
//! nodes sharing one database (one throw-away schema of `SMPPD_TEST_POSTGRES_URL`, see
//! `support::pg`).
//!
//! Proves: a held slot cannot be acquired by another node; an expired one is taken over with
//! a higher epoch and the former holder's claims come back to the queue as re-sends; after
//! a takeover the former holder can neither renew, claim, record outcomes nor release under
//! its old epoch; node names are exclusive while their holder is alive.

use crate::support::pg::TestSchema;
use smppd::daemon::store::postgres::{HeldSlot, PgOptions, PgStore};
use smppd::daemon::store::{segment_key, Change, Fence, MessageId, NewMessage, Store, StoreError};
use smppd::sms::{Field, Segment};
use std::time::{Duration, SystemTime};

const CHANNEL: &str = "smsc";
const LEASE: Duration = Duration::from_secs(2);

fn message(n: usize) -> NewMessage {
    NewMessage {
        id: MessageId::generate(),
        channel: CHANNEL.into(),
        pinned: false,
        to: "447700900123".into(),
        from: None,
        delivery_report: false,
        expires_at: SystemTime::now() + Duration::from_secs(3600),
        send_validity: false,
        encoding: "gsm7",
        data_coding: 0,
        segments: vec![Segment {
            bytes: format!("lease test {n}").into_bytes(),
            field: Field::ShortMessage,
            esm_class: 0,
            data_coding: 0,
            sar: None,
        }],
        idempotency: None,
        origin: None,
    }
}

async fn node(schema: &TestSchema, name: &str) -> PgStore {
    let mut options = PgOptions::new(schema.url(), name);
    options.lease = LEASE;
    options.pool_size = 1;
    PgStore::open(options).await.unwrap().0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_taken_over_slot_fences_its_former_holder() {
    let Some(schema) = TestSchema::create("store_leases::fencing") else {
        return;
    };
    let a = node(&schema, "node-a").await;
    let b = node(&schema, "node-b").await;
    assert!(a.leases().register().await.unwrap());
    assert!(b.leases().register().await.unwrap());

    let won = a
        .leases()
        .acquire(CHANNEL, 0)
        .await
        .unwrap()
        .expect("a free slot");
    assert_eq!((won.epoch, won.from.as_deref(), won.requeued), (1, None, 0));
    assert_eq!(
        b.leases().acquire(CHANNEL, 0).await.unwrap(),
        None,
        "held by a"
    );
    let fence_a = Fence {
        channel: CHANNEL.into(),
        slot: 0,
        epoch: won.epoch,
    };

    let accepted = a
        .accept((0..5).map(message).collect(), SystemTime::now())
        .await
        .unwrap();
    assert!(accepted.iter().all(Result::is_ok));
    let claimed = a.claim_for(&fence_a, 3, SystemTime::now()).await.unwrap();
    assert_eq!(claimed.len(), 3);
    assert!(claimed.iter().all(|m| !m.resend));
    // One of them is answered while a still holds the slot: that outcome stays.
    let first = Change::Submitted {
        key: segment_key(claimed[0].seq, 0),
        smsc_message_id: "A1".into(),
    };
    a.apply_for(&fence_a, vec![first], SystemTime::now())
        .await
        .unwrap();

    // a stops renewing (frozen); once its hold expired, b takes the slot over.
    tokio::time::sleep(LEASE + Duration::from_millis(300)).await;
    let taken = b
        .leases()
        .acquire(CHANNEL, 0)
        .await
        .unwrap()
        .expect("expired");
    assert_eq!(taken.epoch, 2);
    assert_eq!(taken.from.as_deref(), Some("node-a"));
    assert_eq!(taken.requeued, 2, "a's two unanswered claims go back");

    // a wakes: every write under its old epoch is refused, nothing is changed.
    let held_a = HeldSlot {
        channel: CHANNEL.into(),
        slot: 0,
        epoch: 1,
    };
    let (kept, view) = a
        .leases()
        .turn(std::slice::from_ref(&held_a))
        .await
        .unwrap();
    assert!(kept.is_empty(), "the renewal of a lost slot is refused");
    let row = view.leases.iter().find(|l| l.slot == 0).unwrap();
    assert_eq!(
        (row.node.as_deref(), row.epoch, row.valid),
        (Some("node-b"), 2, true)
    );
    let late = Change::Submitted {
        key: segment_key(claimed[1].seq, 0),
        smsc_message_id: "A2".into(),
    };
    let fenced = a.apply_for(&fence_a, vec![late], SystemTime::now()).await;
    assert!(
        matches!(fenced, Err(StoreError::Fenced { .. })),
        "{fenced:?}"
    );
    let fenced = a.claim_for(&fence_a, 10, SystemTime::now()).await;
    assert!(
        matches!(fenced, Err(StoreError::Fenced { .. })),
        "{fenced:?}"
    );
    let fenced = a
        .release_for(Some(&fence_a), vec![(claimed[1].seq, true)])
        .await;
    assert!(
        matches!(fenced, Err(StoreError::Fenced { .. })),
        "{fenced:?}"
    );

    // b claims the two returned messages (as re-sends) and the two never claimed.
    let fence_b = Fence {
        channel: CHANNEL.into(),
        slot: 0,
        epoch: 2,
    };
    let mine = b.claim_for(&fence_b, 10, SystemTime::now()).await.unwrap();
    assert_eq!(mine.len(), 4);
    assert_eq!(mine.iter().filter(|m| m.resend).count(), 2);
    assert!(
        !mine.iter().any(|m| m.seq == claimed[0].seq),
        "answered stays answered"
    );
    let second = b.get(&claimed[1].id).await.unwrap().unwrap();
    assert!(
        second.segments.iter().all(|s| s.smsc_message_id.is_none()),
        "a's late answer was not recorded"
    );

    // b gives the slot up; a may take it again, with a higher epoch still.
    b.leases()
        .release(&HeldSlot {
            channel: CHANNEL.into(),
            slot: 0,
            epoch: 2,
        })
        .await
        .unwrap();
    let again = a
        .leases()
        .acquire(CHANNEL, 0)
        .await
        .unwrap()
        .expect("released");
    assert_eq!((again.epoch, again.from.as_deref()), (3, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_name_is_exclusive_while_its_holder_lives() {
    let Some(schema) = TestSchema::create("store_leases::names") else {
        return;
    };
    let first = node(&schema, "same").await;
    let second = node(&schema, "same").await;
    assert!(first.leases().register().await.unwrap());
    assert!(!second.leases().register().await.unwrap(), "a live twin");
    // The first process falls silent: after one lease the name is free again.
    tokio::time::sleep(LEASE + Duration::from_millis(300)).await;
    assert!(second.leases().register().await.unwrap());
    // And the first, were it to wake, no longer owns it.
    assert!(!first.leases().register().await.unwrap());
    // A node that stops signs off: its successor need not wait.
    second.leases().sign_off().await.unwrap();
    let third = node(&schema, "same").await;
    assert!(third.leases().register().await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_queue_limit_holds_for_the_whole_cluster() {
    let Some(schema) = TestSchema::create("store_leases::max_queued") else {
        return;
    };
    let open = |name: &'static str| {
        let url = schema.url();
        async move {
            let mut options = PgOptions::new(url, name);
            options.max_queued = 3;
            options.pool_size = 1;
            PgStore::open(options).await.unwrap().0
        }
    };
    let a = open("node-a").await;
    let b = open("node-b").await;
    let now = SystemTime::now();
    let first = a.accept(vec![message(0), message(1)], now).await.unwrap();
    assert!(first.iter().all(Result::is_ok));
    // b counts a's two: one more fits, the next does not.
    let second = b.accept(vec![message(2), message(3)], now).await.unwrap();
    assert!(second[0].is_ok());
    assert!(second[1].is_err(), "{:?}", second[1]);
    assert_eq!(a.counts().waiting, 2, "a's own view, as of its last commit");
    // b sends one of a's messages: the room it leaves is seen by a.
    let claimed = b.claim(CHANNEL, 1, now).await.unwrap();
    let sent = Change::Submitted {
        key: segment_key(claimed[0].seq, 0),
        smsc_message_id: "B1".into(),
    };
    b.apply(CHANNEL, vec![sent], now).await.unwrap();
    let third = a.accept(vec![message(4), message(5)], now).await.unwrap();
    assert!(third[0].is_ok());
    assert!(third[1].is_err(), "{:?}", third[1]);
    assert_eq!(a.counts().waiting, 3);
}
