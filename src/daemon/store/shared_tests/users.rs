//! The SMPP server's users in the store: their queues, their credits, and the receipts and
//! inbound messages that go back to them instead of to the webhook.

use super::*;

fn user_message(user: &str, charge: u32, receipts: ReceiptWish) -> NewMessage {
    let mut m = message("a", false, 1);
    m.origin = Some(Origin {
        user: user.into(),
        receipts,
        charge,
    });
    m
}

/// Accepts `messages` (all of user `acme`) and claims them all on channel `a`.
async fn accepted_and_claimed(store: &dyn Store, messages: Vec<NewMessage>) -> Vec<ClaimedMessage> {
    let count = messages.len();
    store.accept(messages, now()).await.unwrap();
    let claimed = store
        .claim_with(&Fence::unleased("a"), vec![user_queue("acme")], 10, now())
        .await
        .unwrap();
    assert_eq!(claimed.len(), count);
    claimed
}

fn webhook_event() -> serde_json::Map<String, serde_json::Value> {
    let mut event = serde_json::Map::new();
    event.insert("type".into(), "receipt".into());
    event
}

fn json(body: &[u8]) -> serde_json::Value {
    serde_json::from_slice(body).unwrap()
}

on_every_backend!(
    a_users_messages_wait_in_its_queue_for_the_channels_serving_it,
    credits_are_charged_at_accept_refused_when_short_and_refunded_on_failure,
    a_users_receipts_and_routed_events_go_to_that_user_only,
    a_users_receipt_right_behind_its_answer_goes_to_that_user,
);

async fn a_users_messages_wait_in_its_queue_for_the_channels_serving_it(h: Harness) {
    let (store, _) = h.open(|_| {}).await;
    let mine = user_message("acme", 0, ReceiptWish::None);
    let id = mine.id.clone();
    let accepted = store
        .accept(vec![mine, message("a", false, 1)], now())
        .await
        .unwrap();
    assert!(accepted.iter().all(Result::is_ok), "{accepted:?}");
    // A channel not serving the user sees only the shared queue.
    let plain = store.claim("a", 10, now()).await.unwrap();
    assert_eq!(plain.len(), 1);
    assert_ne!(plain[0].id, id);
    let served = store
        .claim_with(&Fence::unleased("b"), vec![user_queue("acme")], 10, now())
        .await
        .unwrap();
    assert_eq!(served.len(), 1);
    assert_eq!(served[0].id, id);
    assert_eq!(
        store.get(&id).await.unwrap().unwrap().origin.as_deref(),
        Some("acme")
    );
    drop(store);
    // Claimed and never answered: queued again after a restart, in the user's queue.
    let (store, _) = h.open(|_| {}).await;
    // A channel not serving the user gets back only the shared message it held.
    let plain = store.claim("a", 10, now()).await.unwrap();
    assert_eq!(plain.len(), 1);
    assert_ne!(plain[0].id, id);
    let again = store
        .claim_with(&Fence::unleased("b"), vec![user_queue("acme")], 10, now())
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, id);
    assert!(again[0].resend);
}

async fn credits_are_charged_at_accept_refused_when_short_and_refunded_on_failure(h: Harness) {
    let (store, _) = h.open(|_| {}).await;
    store
        .credits_configure(vec![("acme".into(), Some(3)), ("free".into(), None)])
        .await
        .unwrap();
    let results = store
        .accept(
            vec![
                user_message("acme", 2, ReceiptWish::None),
                user_message("acme", 2, ReceiptWish::None),
                user_message("free", 5, ReceiptWish::None),
            ],
            now(),
        )
        .await
        .unwrap();
    assert!(results[0].is_ok() && results[2].is_ok(), "{results:?}");
    match &results[1] {
        Err(Refused::NoCredit { user, left, charge }) => {
            assert_eq!((user.as_str(), *left, *charge), ("acme", 1, 2));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        store.credits().await.unwrap(),
        vec![("acme".to_string(), 1)]
    );
    // Configured again (a reload): the balance stays what it became.
    store
        .credits_configure(vec![("acme".into(), Some(100))])
        .await
        .unwrap();
    assert_eq!(
        store.credits_add("acme".into(), 10).await.unwrap(),
        Some(11)
    );
    assert_eq!(store.credits_add("free".into(), 5).await.unwrap(), None);

    // Refused by the SMSC: the charge comes back. Taken by the SMSC: it does not.
    let sent = user_message("acme", 2, ReceiptWish::None);
    store.accept(vec![sent], now()).await.unwrap();
    let claimed = store
        .claim_with(&Fence::unleased("a"), vec![user_queue("acme")], 10, now())
        .await
        .unwrap();
    assert_eq!(claimed.len(), 2, "the first message and this one");
    assert_eq!(store.credits().await.unwrap()[0].1, 9);
    store
        .apply(
            "a",
            vec![
                Change::Failed {
                    key: segment_key(claimed[0].seq, 0),
                    status: Some(0x45),
                    reason: "refused".into(),
                },
                Change::Submitted {
                    key: segment_key(claimed[1].seq, 0),
                    smsc_message_id: "S1".into(),
                },
            ],
            now(),
        )
        .await
        .unwrap();
    assert_eq!(store.credits().await.unwrap()[0].1, 11);
    // Unlimited again: no balance kept, nothing charged.
    store
        .credits_configure(vec![("acme".into(), None)])
        .await
        .unwrap();
    assert!(store.credits().await.unwrap().is_empty());
    let free = store
        .accept(vec![user_message("acme", 1000, ReceiptWish::None)], now())
        .await
        .unwrap();
    assert!(free[0].is_ok(), "{free:?}");
    // A user given a balance after sending without one is charged from then on.
    let before = store
        .accept(vec![user_message("late", 5, ReceiptWish::None)], now())
        .await
        .unwrap();
    assert!(before[0].is_ok(), "{before:?}");
    store
        .credits_configure(vec![("late".into(), Some(4))])
        .await
        .unwrap();
    let after = store
        .accept(vec![user_message("late", 5, ReceiptWish::None)], now())
        .await
        .unwrap();
    assert!(
        matches!(
            &after[0],
            Err(Refused::NoCredit {
                left: 4,
                charge: 5,
                ..
            })
        ),
        "{after:?}"
    );
}

async fn a_users_receipts_and_routed_events_go_to_that_user_only(h: Harness) {
    let (store, _) = h.open(|_| {}).await;
    let delivered = user_message("acme", 0, ReceiptWish::Final);
    let failure_only = user_message("acme", 0, ReceiptWish::FailureOnly);
    let refused = user_message("acme", 0, ReceiptWish::Final);
    let ids = [
        delivered.id.clone(),
        failure_only.id.clone(),
        refused.id.clone(),
    ];
    let claimed =
        accepted_and_claimed(store.as_ref(), vec![delivered, failure_only, refused]).await;
    let receipt = |smsc: &str| Change::Receipt {
        receipt: ReceiptReport {
            smsc_message_id: smsc.into(),
            state: ReceiptState::Delivered,
            error_code: Some("000".into()),
        },
        event: Some(webhook_event()),
    };
    let mut mo = serde_json::Map::new();
    mo.insert("type".into(), "user_mo".into());
    let mut inbound = serde_json::Map::new();
    inbound.insert("type".into(), "inbound".into());
    store
        .apply(
            "a",
            vec![
                Change::Submitted {
                    key: segment_key(claimed[0].seq, 0),
                    smsc_message_id: "U1".into(),
                },
                Change::Submitted {
                    key: segment_key(claimed[1].seq, 0),
                    smsc_message_id: "U2".into(),
                },
                Change::Failed {
                    key: segment_key(claimed[2].seq, 0),
                    status: Some(0x45),
                    reason: "refused".into(),
                },
                receipt("U1"),
                receipt("U2"),
                Change::Event {
                    event: mo,
                    user: Some("acme".into()),
                },
                Change::Event {
                    event: inbound,
                    user: None,
                },
            ],
            now(),
        )
        .await
        .unwrap();
    let webhook = store.outbox_due(10, now()).await.unwrap();
    assert_eq!(webhook.len(), 1, "only the event meant for the webhook");
    assert_eq!(
        store.counts().outbox,
        1,
        "users' events do not count against the webhook's bound"
    );
    assert_eq!(json(&webhook[0].body)["type"], "inbound");
    let events = store.outbox_due_for("acme", 10, now()).await.unwrap();
    let bodies: Vec<serde_json::Value> = events.iter().map(|e| json(&e.body)).collect();
    assert_eq!(bodies.len(), 3, "{bodies:?}");
    assert_eq!(bodies[0]["message_id"], ids[2].as_str());
    assert_eq!(
        (&bodies[0]["stat"], &bodies[0]["err"]),
        (&"REJECTD".into(), &"069".into())
    );
    assert_eq!(bodies[1]["message_id"], ids[0].as_str());
    assert_eq!(bodies[1]["stat"], "DELIVRD");
    assert_eq!(bodies[1]["to"], "447700900123");
    assert_eq!(bodies[2]["type"], "user_mo");
    assert!(bodies.iter().all(|b| b["event_id"].as_str().is_some()));
    assert!(store
        .outbox_due_for("other", 10, now())
        .await
        .unwrap()
        .is_empty());
    store
        .outbox_delivered(events.iter().map(|e| e.seq).collect())
        .await
        .unwrap();
    assert!(store
        .outbox_due_for("acme", 10, now())
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.counts().outbox, 1);
}

/// A fast SMSC sends the receipt right behind the submit_sm_resp, so both come in one
/// report: the user is told exactly as when they come apart.
async fn a_users_receipt_right_behind_its_answer_goes_to_that_user(h: Harness) {
    let (store, _) = h.open(|_| {}).await;
    let delivered = user_message("acme", 0, ReceiptWish::Final);
    let failed = user_message("acme", 0, ReceiptWish::FailureOnly);
    let quiet = user_message("acme", 0, ReceiptWish::FailureOnly);
    let ids = [delivered.id.clone(), failed.id.clone(), quiet.id.clone()];
    let claimed = accepted_and_claimed(store.as_ref(), vec![delivered, failed, quiet]).await;
    let answer = |n: usize, smsc: &str| Change::Submitted {
        key: segment_key(claimed[n].seq, 0),
        smsc_message_id: smsc.into(),
    };
    let receipt = |smsc: &str, state: ReceiptState| Change::Receipt {
        receipt: ReceiptReport {
            smsc_message_id: smsc.into(),
            state,
            error_code: Some("001".into()),
        },
        event: Some(webhook_event()),
    };
    let applied = store
        .apply(
            "a",
            vec![
                answer(0, "V1"),
                receipt("V1", ReceiptState::Delivered),
                answer(1, "V2"),
                receipt("V2", ReceiptState::Undeliverable),
                answer(2, "V3"),
                receipt("V3", ReceiptState::Delivered),
            ],
            now(),
        )
        .await
        .unwrap();
    let states: Vec<Option<MessageState>> = applied
        .iter()
        .map(|a| match a {
            Applied::Done(Some(o)) => Some(o.state),
            Applied::Receipt(ReceiptMatch::Matched { state, .. }) => Some(*state),
            _ => None,
        })
        .collect();
    use MessageState::{Delivered, Failed, Submitted};
    assert_eq!(
        states,
        [
            Some(Submitted),
            Some(Delivered),
            Some(Submitted),
            Some(Failed),
            Some(Submitted),
            Some(Delivered)
        ]
    );
    assert!(
        store.outbox_due(10, now()).await.unwrap().is_empty(),
        "a user's receipts never reach the webhook"
    );
    let events = store.outbox_due_for("acme", 10, now()).await.unwrap();
    let told: Vec<(serde_json::Value, serde_json::Value)> = events
        .iter()
        .map(|e| {
            let body = json(&e.body);
            (body["message_id"].clone(), body["stat"].clone())
        })
        .collect();
    assert_eq!(
        told,
        [
            (ids[0].as_str().into(), "DELIVRD".into()),
            (ids[1].as_str().into(), "UNDELIV".into()),
        ],
        "the third asked for failures only"
    );
    let record = store.get(&ids[1]).await.unwrap().unwrap();
    assert_eq!(record.state, MessageState::Failed);
    assert_eq!(record.segments[0].smsc_message_id.as_deref(), Some("V2"));
    assert_eq!(
        record.segments[0].receipt,
        Some(ReceiptState::Undeliverable)
    );
}
