//! State transitions, bounds, ageing and receipt correlation of the in-memory store.

use super::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

const RETENTION: Duration = Duration::from_secs(60);

/// A store whose clock the test moves by hand.
fn store(max: usize) -> (MemoryStore, Arc<AtomicU64>) {
    let secs = Arc::new(AtomicU64::new(1_000_000));
    let clock = secs.clone();
    let store = MemoryStore::with_clock(
        max,
        RETENTION,
        Box::new(move || {
            SystemTime::UNIX_EPOCH + Duration::from_secs(clock.load(Ordering::SeqCst))
        }),
    );
    (store, secs)
}

fn new_message(segments: usize, delivery_report: bool) -> NewMessage {
    NewMessage {
        id: MessageId::generate(),
        channel: "a".into(),
        to: "+441234".into(),
        from: None,
        segments,
        delivery_report,
    }
}

fn receipt(smsc_id: &str, state: ReceiptState) -> ReceiptReport {
    ReceiptReport {
        smsc_message_id: smsc_id.into(),
        state,
        error_code: None,
    }
}

#[test]
fn queued_submitted_delivered_with_hex_and_decimal_ids() {
    let (store, clock) = store(10);
    let m = new_message(2, true);
    let id = m.id.clone();
    store.insert(m).unwrap();
    assert_eq!(store.get(&id).unwrap().state, MessageState::Queued);

    clock.fetch_add(2, Ordering::SeqCst);
    let first = store.on_submitted(&id, 0, "0A1B").unwrap();
    assert_eq!(first.state, MessageState::Queued, "one of two segments");
    assert_eq!(first.since_accepted, Duration::from_secs(2));
    let second = store.on_submitted(&id, 1, "0A1C").unwrap();
    assert_eq!(second.state, MessageState::Submitted);
    assert_eq!(second.channel, "a");

    // 0x0A1B = 2587, 0x0A1C = 2588: the SMSC writes receipts in decimal.
    clock.fetch_add(5, Ordering::SeqCst);
    let r = store.on_receipt("a", &receipt("2587", ReceiptState::Delivered));
    assert_eq!(
        r,
        ReceiptMatch::Matched {
            id: id.clone(),
            segment: 0,
            state: MessageState::Submitted
        }
    );
    let r = store.on_receipt("a", &receipt("2588", ReceiptState::Delivered));
    assert!(matches!(
        r,
        ReceiptMatch::Matched {
            segment: 1,
            state: MessageState::Delivered,
            ..
        }
    ));

    let record = store.get(&id).unwrap();
    assert_eq!(record.state, MessageState::Delivered);
    let ids: Vec<_> = record
        .segments
        .iter()
        .map(|s| s.smsc_message_id.as_deref())
        .collect();
    assert_eq!(ids, [Some("0A1B"), Some("0A1C")]);
    let states: Vec<_> = record.history.iter().map(|t| t.state).collect();
    assert_eq!(
        states,
        [
            MessageState::Queued,
            MessageState::Submitted,
            MessageState::Delivered
        ]
    );
    let t0 = record.history[0].at;
    assert_eq!(
        record.history[2].at.duration_since(t0).unwrap(),
        Duration::from_secs(7)
    );

    // A final receipt removes the id from the index: a repeat matches nothing.
    assert_eq!(
        store.on_receipt("a", &receipt("2588", ReceiptState::Delivered)),
        ReceiptMatch::NotFound
    );
}

#[test]
fn receipts_match_only_their_channel_and_case_or_zero_variants() {
    let (store, _) = store(10);
    let m = new_message(1, true);
    let id = m.id.clone();
    store.insert(m).unwrap();
    store.on_submitted(&id, 0, "00ab12").unwrap();
    assert_eq!(
        store.on_receipt("b", &receipt("AB12", ReceiptState::Delivered)),
        ReceiptMatch::NotFound
    );
    // An intermediate receipt leaves the message where it is and keeps it matchable.
    let r = store.on_receipt("a", &receipt("AB12", ReceiptState::Enroute));
    assert!(matches!(
        r,
        ReceiptMatch::Matched {
            state: MessageState::Submitted,
            ..
        }
    ));
    let r = store.on_receipt("a", &receipt("AB12", ReceiptState::Delivered));
    assert!(matches!(
        r,
        ReceiptMatch::Matched {
            state: MessageState::Delivered,
            ..
        }
    ));
}

#[test]
fn failures_from_responses_and_receipts() {
    let (store, _) = store(10);
    let m = new_message(1, true);
    let id = m.id.clone();
    store.insert(m).unwrap();
    let outcome = store
        .on_failed(&id, Some(0x45), "submit_sm failed")
        .unwrap();
    assert_eq!(outcome.state, MessageState::Failed);
    let record = store.get(&id).unwrap();
    assert_eq!(record.failure.unwrap().status, Some(0x45));
    // A final state is final: a late success changes nothing.
    assert_eq!(
        store.on_submitted(&id, 0, "1").unwrap().state,
        MessageState::Failed
    );

    let m = new_message(1, true);
    let id = m.id.clone();
    store.insert(m).unwrap();
    store.on_submitted(&id, 0, "77").unwrap();
    let mut r = receipt("77", ReceiptState::Undeliverable);
    r.error_code = Some("001".into());
    store.on_receipt("a", &r);
    let record = store.get(&id).unwrap();
    assert_eq!(record.state, MessageState::Failed);
    let failure = record.failure.unwrap();
    assert_eq!(failure.status, None);
    assert_eq!(failure.reason, "receipt: undeliverable (err 001)");

    let m = new_message(1, true);
    let id = m.id.clone();
    store.insert(m).unwrap();
    store.on_submitted(&id, 0, "78").unwrap();
    store.on_receipt("a", &receipt("78", ReceiptState::Expired));
    assert_eq!(store.get(&id).unwrap().state, MessageState::Expired);
}

#[test]
fn full_store_refuses_and_finished_messages_age_out() {
    let (store, clock) = store(2);
    let a = new_message(1, true);
    let b = new_message(1, false);
    let (a_id, b_id) = (a.id.clone(), b.id.clone());
    store.insert(a).unwrap();
    store.insert(b).unwrap();
    assert_eq!(
        store.insert(new_message(1, true)),
        Err(StoreError::Full { max: 2 })
    );

    // b needs no receipt, so being submitted finishes it; a still waits for its receipt.
    store.on_submitted(&a_id, 0, "1").unwrap();
    store.on_submitted(&b_id, 0, "2").unwrap();
    clock.fetch_add(RETENTION.as_secs() - 1, Ordering::SeqCst);
    assert!(store.get(&b_id).is_some(), "not aged yet");
    clock.fetch_add(1, Ordering::SeqCst);
    assert!(store.get(&b_id).is_none(), "finished and past retention");
    assert!(
        store.get(&a_id).is_some(),
        "unfinished messages are never evicted"
    );
    let c = new_message(1, true);
    let c_id = c.id.clone();
    store.insert(c).unwrap();
    assert_eq!(store.len(), 2);
    assert_eq!(
        store.insert(new_message(1, true)),
        Err(StoreError::Full { max: 2 })
    );

    // When full, a finished message makes room before its retention ends.
    store.on_failed(&c_id, None, "response timeout").unwrap();
    let d = new_message(1, true);
    let d_id = d.id.clone();
    store.insert(d).unwrap();
    assert!(store.get(&c_id).is_none());
    assert!(store.get(&d_id).is_some());
    store.remove(&d_id);

    // ...until their receipt is hopelessly overdue.
    clock.fetch_add(RECEIPT_WAIT.as_secs(), Ordering::SeqCst);
    assert!(store.get(&a_id).is_none());
    assert_eq!(
        store.on_receipt("a", &receipt("1", ReceiptState::Delivered)),
        ReceiptMatch::NotFound
    );
}

#[test]
fn unknown_ids_and_segments_are_ignored() {
    let (store, _) = store(2);
    let m = new_message(1, true);
    let id = m.id.clone();
    store.insert(m).unwrap();
    assert!(store.on_submitted(&id, 5, "x").is_none());
    assert!(store.on_submitted(&MessageId::generate(), 0, "x").is_none());
    store.remove(&id);
    assert!(store.is_empty());
}
