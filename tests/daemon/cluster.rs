//! Several `smppd run` processes sharing one PostgreSQL database (issue 10): the real binary,
//! two or three nodes on loopback, one throw-away schema (see `support::pg`), one in-process
//! simulator, the database reached through a proxy the tests can cut (see `support::cluster`).
//!
//! The channel has `x-smpp-sessions` slots for the whole cluster, each owned through a lease
//! with a fencing epoch. What is proved, one test each: nothing posted to any node is lost
//! and every node answers for every message; the death of the slot's holder hands the slot
//! to another node within the lease and loses nothing; a receipt is matched on a node other
//! than the one that sent its message; the database going away makes the nodes refuse new
//! messages and give up their binds within the lease, and they recover by themselves; and a
//! holder frozen past its lease sends nothing once another node has its slot. Throughout,
//! the simulator counts the account's bound sessions, and no test ends with more bound at
//! once than the slots allow.
//!
//! Connections at the simulator are related to nodes through `/proc`: the remote port the
//! simulator recorded is the local port of one of the node process's sockets.

use crate::support::cluster::{
    get_json, holds_by, one_at_a_time, poll_until, post_batch, post_one, post_spread, resend_bound,
    texts, Cluster, Load, Posted, Spec, CHANNEL, LEASE, LEASE_SECONDS, SYSTEM_ID, WINDOW,
};
use crate::support::daemon::request;
use crate::support::hang_guard::HANG_GUARD;
use serde_json::Value;
use smppd::codec::CommandStatus;
use smppd::simulator::ConnectionId;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How late after the moment a lease must be given up the simulator may see the connection
/// close: the node's close reaching the simulator's read loop, and the poll. Not a
/// performance expectation; the contract's bound is the lease itself.
const OBSERVATION: Duration = Duration::from_millis(250);

/// The takeover bound the contract names: another node binds within the lease plus this,
/// counted from the holder's death.
const TAKEOVER_MARGIN: Duration = Duration::from_secs(5);

/// Whether `s` looks like an RFC 3339 date-time (`2026-11-30T04:00:00.123Z`, or with an
/// offset).
fn is_rfc3339(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| r.into_iter().all(|i| b[i].is_ascii_digit());
    b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && matches!(b[10], b'T' | b't')
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && (s.ends_with('Z')
            || s.ends_with('z')
            || b[b.len() - 6] == b'+'
            || b[b.len() - 6] == b'-')
}

/// Successful binds of the account so far.
fn ok_binds(cluster: &Cluster) -> usize {
    cluster
        .sim
        .record()
        .binds
        .iter()
        .filter(|b| b.system_id == SYSTEM_ID && b.command_status == CommandStatus::EsmeRok)
        .count()
}

/// The highest connection id the simulator has given out.
fn last_connection(cluster: &Cluster) -> ConnectionId {
    let record = cluster.sim.record();
    record.connections.iter().map(|c| c.id).max().unwrap_or(0)
}

/// A connection opened after `after` whose bind succeeded, if any.
fn bound_after(cluster: &Cluster, after: ConnectionId) -> Option<ConnectionId> {
    cluster
        .sim
        .record()
        .binds
        .iter()
        .find(|b| b.connection > after && b.command_status == CommandStatus::EsmeRok)
        .map(|b| b.connection)
}

/// submit_sm received on `connections`.
fn submits_on(cluster: &Cluster, connections: &BTreeSet<ConnectionId>) -> usize {
    cluster
        .sim
        .record()
        .submits
        .iter()
        .filter(|s| connections.contains(&s.connection))
        .count()
}

/// The last `lease_acquired` event node `i` logged for the channel's slot `slot`.
fn last_acquired(cluster: &Cluster, i: usize, slot: u64) -> Value {
    cluster
        .node(i)
        .events_named("lease_acquired")
        .into_iter()
        .rev()
        .find(|e| e["channel"] == CHANNEL && e["slot"] == slot)
        .unwrap_or_else(|| {
            panic!(
                "n{} never logged lease_acquired for slot {slot}:\n{}",
                i + 1,
                cluster.node(i).daemon.all_output()
            )
        })
}

/// Waits until node `i` logs that it took slot `slot` over from `from`; returns the event.
fn wait_taken_over(cluster: &Cluster, i: usize, slot: u64, from: &str) -> Value {
    cluster
        .node(i)
        .daemon
        .wait_event(&format!("lease_acquired from {from}"), |e| {
            e["event"] == "lease_acquired"
                && e["channel"] == CHANNEL
                && e["slot"] == slot
                && e["from"] == from
        })
}

/// Every node answers `GET /v1/messages/{id}` for every message, with the right id (on the
/// node `offset` places after the one it was posted to, in `apis` order).
fn assert_every_node_answers(apis: &[SocketAddr], accepted: &[Posted], offset: usize) {
    let threads: Vec<_> = (0..apis.len())
        .map(|t| {
            let apis = apis.to_vec();
            let mine: Vec<Posted> = accepted
                .iter()
                .enumerate()
                .filter(|(k, _)| k % apis.len() == t)
                .map(|(_, p)| p.clone())
                .collect();
            std::thread::spawn(move || {
                for p in mine {
                    let posted_to = apis.iter().position(|a| *a == p.api).unwrap_or(0);
                    let api = apis[(posted_to + offset) % apis.len()];
                    let (status, body) = get_json(api, &format!("/v1/messages/{}", p.id));
                    assert_eq!(status, 200, "GET {} on {api}: {body}", p.id);
                    assert_eq!(body["id"], p.id.as_str(), "{body}");
                    assert_ne!(body["state"], "failed", "{body}");
                    assert_ne!(body["state"], "expired", "{body}");
                }
            })
        })
        .collect();
    for t in threads {
        t.join().expect("every node answers for every message");
    }
}

/// Checks node `i`'s `GET /v1/cluster` against the contract, once every node in `names`
/// shows alive there.
fn assert_cluster_view(cluster: &Cluster, i: usize, names: &[String]) {
    poll_until(
        &format!("n{} sees every node alive and every slot held", i + 1),
        HANG_GUARD,
        || {
            let view = cluster.view(i);
            names.iter().all(|name| {
                view["nodes"].as_array().is_some_and(|nodes| {
                    nodes
                        .iter()
                        .any(|n| n["name"] == *name && n["alive"] == true)
                })
            }) && view["slots"]
                .as_array()
                .is_some_and(|slots| slots.iter().all(|s| s["node"].is_string()))
        },
    );
    let view = cluster.view(i);
    assert_eq!(view["node"], cluster.node(i).name.as_str(), "{view}");
    assert_eq!(view["backend"], "postgres", "{view}");
    assert_eq!(view["lease_seconds"], LEASE_SECONDS, "{view}");
    for node in view["nodes"].as_array().unwrap() {
        let heartbeat = node["heartbeat"].as_str().unwrap_or("");
        assert!(is_rfc3339(heartbeat), "heartbeat {heartbeat:?}: {view}");
    }
    let slots = view["slots"].as_array().expect("slots");
    let sessions = u64::from(cluster.spec.sessions);
    let numbers: BTreeSet<u64> = slots.iter().filter_map(|s| s["slot"].as_u64()).collect();
    assert_eq!(numbers, (0..sessions).collect(), "{view}");
    // A slot may be between two holders at any moment (nodes share the slots out as they
    // come and go): then its node and expiry are null.
    for slot in slots {
        assert_eq!(slot["channel"], CHANNEL, "{view}");
        assert!(slot["epoch"].as_u64().is_some(), "{view}");
        match (slot["node"].as_str(), slot["expires"].as_str()) {
            (Some(holder), Some(expires)) => {
                assert!(names.iter().any(|n| n == holder), "{view}");
                assert!(slot["epoch"].as_u64() >= Some(1), "{view}");
                assert!(is_rfc3339(expires), "expires {expires:?}: {view}");
            }
            (None, _) => assert!(slot["node"].is_null(), "{view}"),
            (Some(_), None) => panic!("a held slot without its expiry: {view}"),
        }
    }
}

/// Each lease a node acquired it also gave up (released, or lost), by channel, slot and
/// epoch.
fn assert_leases_given_up(node: &crate::support::cluster::Node) {
    let ended: Vec<Value> = node
        .daemon
        .events()
        .into_iter()
        .filter(|e| e["event"] == "lease_released" || e["event"] == "lease_lost")
        .collect();
    for acquired in node.events_named("lease_acquired") {
        assert!(
            ended.iter().any(|e| e["channel"] == acquired["channel"]
                && e["slot"] == acquired["slot"]
                && e["epoch"] == acquired["epoch"]),
            "{} acquired {acquired} and neither released nor lost it:\n{}",
            node.name,
            node.daemon.all_output()
        );
    }
}

/// Ten thousand messages posted to three nodes (one API thread each, single `POST
/// /v1/messages` and batches of 500 interleaved) with two session slots: every accepted
/// message reaches the simulator, none twice (nodes sharing the queue never take the same
/// message), every node answers `GET /v1/messages/{id}` for messages posted to another,
/// `/v1/cluster` and `/metrics` say which node answers, and at the end, stopped with
/// SIGTERM, each node released every lease it held. The simulator never had more than two
/// sessions bound.
#[test]
fn ten_thousand_messages_posted_to_three_nodes_reach_the_smsc_and_every_node_answers_for_each() {
    let _serial = one_at_a_time();
    let spec = Spec {
        nodes: 3,
        sessions: 2,
        rate: 0,
        window: WINDOW,
        receipt_delay: Duration::ZERO,
    };
    let Some(mut cluster) = Cluster::start("cluster::ten_thousand", spec) else {
        return;
    };
    cluster.wait_all_slots_bound(0);
    let names: Vec<String> = (1..=3).map(|n| format!("n{n}")).collect();
    for i in 0..3 {
        assert_cluster_view(&cluster, i, &names);
    }

    let apis = cluster.apis();
    let load = post_spread(&apis, texts("ten", 0..10_000), 500, 40);
    assert!(
        load.refused.is_empty(),
        "refused: {:?}",
        &load.refused[..load.refused.len().min(5)]
    );
    assert_eq!(load.accepted.len(), 10_000);
    cluster.assert_all_reach_the_smsc(&load.accepted, 0);
    assert_every_node_answers(&apis, &load.accepted, 1);

    for i in 0..3 {
        let node = cluster.node(i);
        let (status, text) = request(node.api, "GET", "/metrics", None, &[], HANG_GUARD).unwrap();
        assert_eq!(status, 200, "{text}");
        let label = format!("node=\"{}\"", node.name);
        let samples: Vec<&str> = text
            .lines()
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .collect();
        assert!(!samples.is_empty(), "{text}");
        for line in samples {
            assert!(
                line.contains(&label),
                "{} metric without {label}: {line}",
                node.name
            );
        }
    }
    cluster.assert_sessions_at_most(2);
    for node in cluster.stop_all() {
        assert_leases_given_up(&node);
    }
    cluster.assert_sessions_at_most(2);
}

/// Three nodes, one slot, a rate-limited backlog being sent: the slot's holder is SIGKILLed
/// while it sends, and posting goes on to the two others through the kill. Another node
/// binds within lease-seconds + 5 s of the kill (the contract's bound), logs that it took the
/// slot over from the dead node with the next epoch, and every accepted message reaches the
/// simulator, at most `resend_bound()` of them twice (the dead node's window and its answers
/// not yet recorded). Both
/// survivors answer for every message. Never more than one session bound.
#[test]
fn sigkill_of_the_slot_holder_mid_load_hands_the_slot_over_within_the_lease_and_loses_nothing() {
    let _serial = one_at_a_time();
    let spec = Spec {
        nodes: 3,
        sessions: 1,
        rate: 100,
        window: WINDOW,
        receipt_delay: Duration::ZERO,
    };
    let Some(mut cluster) = Cluster::start("cluster::sigkill", spec) else {
        return;
    };
    let holder = cluster.wait_all_slots_bound(0).remove(0);
    let h = cluster.index_of(&holder);
    let held_epoch = last_acquired(&cluster, h, 0)["epoch"]
        .as_u64()
        .expect("an epoch");
    let apis = cluster.apis();
    // 100 a second: the backlog takes seconds, the kill comes while it is being sent.
    let mut load = post_spread(&apis, texts("kill", 0..600), 100, 1000);
    assert!(load.refused.is_empty(), "{:?}", load.refused);

    // Posting goes on to the two other nodes while the holder dies and the slot moves.
    let survivors: Vec<SocketAddr> = (0..3)
        .filter(|&i| i != h)
        .map(|i| cluster.node(i).api)
        .collect();
    let done = Arc::new(AtomicBool::new(false));
    let posting = {
        let (survivors, done) = (survivors.clone(), done.clone());
        std::thread::spawn(move || {
            let mut load = Load::default();
            let mut k = 0;
            while !done.load(Ordering::Relaxed) {
                let text = format!("during {k:05}");
                load.absorb(post_one(survivors[k % 2], &text, HANG_GUARD));
                k += 1;
                std::thread::sleep(Duration::from_millis(10));
            }
            load
        })
    };
    poll_until("the backlog being sent", HANG_GUARD, || {
        cluster.sim.record().submits.len() >= 100
    });
    let before = last_connection(&cluster);
    let killed_at = Instant::now();
    let dead = cluster.kill(h);
    let deadline = killed_at + LEASE + TAKEOVER_MARGIN;
    let taken = holds_by(deadline, || bound_after(&cluster, before).is_some());
    assert!(
        taken,
        "no node bound within {:?} of the SIGKILL of {holder}; record: {:#?}",
        LEASE + TAKEOVER_MARGIN,
        cluster.sim.record().connections
    );
    let connection = bound_after(&cluster, before).unwrap();
    let taker = (0..3)
        .filter(|&i| i != h)
        .find(|&i| cluster.connections_of(i).contains(&connection))
        .unwrap_or_else(|| panic!("the new bind (connection {connection}) is no survivor's"));
    let event = wait_taken_over(&cluster, taker, 0, &holder);
    assert_eq!(event["epoch"].as_u64(), Some(held_epoch + 1), "{event}");

    // Some messages accepted after the takeover too, then the count is closed.
    let accepted_before = submits_on(&cluster, &[connection].into());
    poll_until("the new holder sending", HANG_GUARD, || {
        submits_on(&cluster, &[connection].into()) > accepted_before
    });
    done.store(true, Ordering::Relaxed);
    let during = posting.join().expect("the posting thread");
    assert!(during.refused.is_empty(), "{:?}", during.refused);
    assert!(!during.accepted.is_empty());
    load.absorb(during);
    cluster.assert_all_reach_the_smsc(&load.accepted, resend_bound());
    let survivors_load: Vec<Posted> = load
        .accepted
        .iter()
        .map(|p| Posted {
            // What was posted to the dead node is asked of the first survivor.
            api: if p.api == dead.api {
                survivors[0]
            } else {
                p.api
            },
            ..p.clone()
        })
        .collect();
    assert_every_node_answers(&survivors, &survivors_load, 1);
    assert_every_node_answers(&survivors, &survivors_load, 0);
    cluster.assert_sessions_at_most(1);
}

/// How long after its submit_sm_resp the simulator sends a receipt in the receipt test: long
/// enough for the test to see every response recorded and kill the sender before any
/// receipt is due (the test fails, rather than proves nothing, when one came sooner).
const RECEIPT_DELAY: Duration = Duration::from_secs(5);

/// Two nodes, one slot: the holder sends twenty messages (posted to both nodes' APIs, one
/// batch among them), the simulator holds their receipts back, and the holder is SIGKILLed
/// once every response is recorded. The other node takes the slot over and receives the
/// receipts: every one is acknowledged on that node's connection, never the sender's, and
/// every message ends `delivered` as that node sees it, and as the sender sees it once
/// restarted.
#[test]
fn a_receipt_for_a_message_another_node_sent_is_matched_and_seen_delivered_by_every_node() {
    let _serial = one_at_a_time();
    let spec = Spec {
        nodes: 2,
        sessions: 1,
        rate: 0,
        window: WINDOW,
        receipt_delay: RECEIPT_DELAY,
    };
    let Some(mut cluster) = Cluster::start("cluster::receipts", spec) else {
        return;
    };
    let holder = cluster.wait_all_slots_bound(0).remove(0);
    let h = cluster.index_of(&holder);
    let o = 1 - h;
    let sender = cluster.connections_of(h);
    assert_eq!(sender.len(), 1, "the holder's one connection: {sender:?}");

    let mut load = post_batch(cluster.node(o).api, &texts("receipt", 0..10), HANG_GUARD);
    for (k, text) in texts("receipt", 10..20).iter().enumerate() {
        load.absorb(post_one(cluster.node(k % 2).api, text, HANG_GUARD));
    }
    assert!(load.refused.is_empty(), "{:?}", load.refused);
    assert_eq!(load.accepted.len(), 20);
    // Every response recorded before the kill: what the store had not recorded would be
    // sent again by the other node, and its receipt would then be that node's own.
    cluster.wait_states(h, &load.accepted, &["submitted", "delivered"]);
    let record = cluster.sim.record();
    assert_eq!(record.submits.len(), 20, "{:#?}", record.submits);
    assert!(record
        .submits
        .iter()
        .all(|s| sender.contains(&s.connection)));
    assert!(
        record.delivers.is_empty(),
        "a receipt came before the kill: the test proves nothing (lengthen RECEIPT_DELAY)"
    );
    cluster.kill(h);

    cluster.wait_states(o, &load.accepted, &["delivered"]);
    let receiver = cluster.connections_of(o);
    let record = cluster.sim.record();
    let receipts = record.acknowledged_receipts();
    assert!(receipts.len() >= 20, "{:#?}", record.delivers);
    for r in receipts {
        assert!(
            receiver.contains(&r.connection) && !sender.contains(&r.connection),
            "receipt acknowledged on connection {}, not on {}'s {receiver:?}: {r:?}",
            r.connection,
            cluster.node(o).name
        );
    }
    assert_eq!(record.submits.len(), 20, "nothing was sent twice");

    cluster.restart(h);
    cluster.wait_states(h, &load.accepted, &["delivered"]);
    cluster.wait_states(o, &load.accepted, &["delivered"]);
    cluster.assert_sessions_at_most(1);
}

/// The database becomes unreachable in the middle of a load, as in a network partition: the
/// proxy between the nodes and PostgreSQL silences every open connection and answers no new
/// one (see `crate::support::pg_proxy` for why a proxy, and what exactly it does; the
/// machine's shared server cannot be restarted, and `pg_terminate_backend` alone would
/// only show the easy case, a connection that fails at once, never one that hangs).
///
/// While it is cut: the slot's holder closes its SMPP connection before its lease can have
/// expired (lease-seconds after the cut, as its last renewal came before it), logs
/// `lease_lost`, and no node binds while the database is away (watched for two leases);
/// every node answers 503 to a new message. Restored, without any help: a node binds
/// again, every node accepts messages again, and every message accepted before, during or
/// after the cut reaches the simulator (at most `resend_bound()` of them twice). Never more than one
/// session bound.
#[test]
fn a_database_outage_mid_load_makes_nodes_refuse_and_unbind_within_the_lease_then_resume() {
    let _serial = one_at_a_time();
    let spec = Spec {
        nodes: 2,
        sessions: 1,
        rate: 100,
        window: WINDOW,
        receipt_delay: Duration::ZERO,
    };
    let Some(cluster) = Cluster::start("cluster::outage", spec) else {
        return;
    };
    let holder = cluster.wait_all_slots_bound(0).remove(0);
    let h = cluster.index_of(&holder);
    let apis = cluster.apis();
    let mut load = post_spread(&apis, texts("outage", 0..400), 100, 1000);
    assert!(load.refused.is_empty(), "{:?}", load.refused);
    poll_until("the backlog being sent", HANG_GUARD, || {
        cluster.sim.record().submits.len() >= 50
    });

    let binds = ok_binds(&cluster);
    cluster.proxy.cut();
    let cut_at = Instant::now();
    let unbound = holds_by(cut_at + LEASE + OBSERVATION, || {
        cluster.sim.record().sessions_of(SYSTEM_ID).bound == 0
    });
    assert!(
        unbound,
        "{holder} still bound {:?} after the database became unreachable (lease {LEASE:?}): {:#?}",
        cut_at.elapsed(),
        cluster.sim.record().connections
    );
    let lost = cluster.node(h).daemon.wait_event("lease_lost", |e| {
        e["event"] == "lease_lost" && e["channel"] == CHANNEL && e["slot"] == 0
    });
    assert!(lost["reason"].is_string(), "{lost}");

    // New messages are refused by every node while the database is away.
    let refusals: Vec<_> = apis
        .iter()
        .enumerate()
        .map(|(i, &api)| {
            std::thread::spawn(move || post_one(api, &format!("refused {i}"), HANG_GUARD))
        })
        .collect();
    for (i, r) in refusals.into_iter().enumerate() {
        let answer = r.join().expect("a posting thread");
        assert!(
            answer.accepted.is_empty(),
            "n{} accepted {:?} with the database away",
            i + 1,
            answer.accepted
        );
        assert_eq!(answer.refused[0].0, 503, "n{}: {:?}", i + 1, answer.refused);
    }
    // No bind while it is away: two leases after the cut every lease the database held has
    // expired, and a node acting without it would have bound by then.
    let watched_until = cut_at + 2 * LEASE;
    let bound_during_cut = holds_by(watched_until, || ok_binds(&cluster) != binds);
    assert!(
        !bound_during_cut,
        "a node bound while the database was unreachable: {:#?}",
        cluster.sim.record().binds
    );
    assert_eq!(cluster.sim.record().sessions_of(SYSTEM_ID).bound, 0);

    cluster.proxy.restore();
    poll_until("a node bound again after the restore", HANG_GUARD, || {
        cluster.sim.record().sessions_of(SYSTEM_ID).bound == 1
    });
    for (i, &api) in apis.iter().enumerate() {
        let mut k = 0;
        poll_until(&format!("n{} accepting again", i + 1), HANG_GUARD, || {
            k += 1;
            let answer = post_one(api, &format!("after n{} {k:03}", i + 1), HANG_GUARD);
            let accepted = !answer.accepted.is_empty();
            load.absorb(answer);
            accepted
        });
    }
    cluster.assert_all_reach_the_smsc(&load.accepted, resend_bound());
    cluster.assert_sessions_at_most(1);
}

/// Two nodes, one slot, a backlog being sent as fast as the simulator answers (so the
/// holder's store is in the middle of recording answers): the holder is frozen with
/// SIGSTOP for longer than its lease, the other node takes the slot over (with the next
/// epoch) and sends, then the frozen node is woken with SIGCONT. It must not send a single
/// submit_sm on its old connection once the slot is another's: the simulator's count of
/// submit_sm on that connection is the same after the wake-up as when it was frozen, the
/// woken node closes the connection and logs `lease_lost`, and every bind since the freeze
/// was the other node's. Every accepted message reaches the simulator (at most
/// `resend_bound()` of them twice).
///
/// A frozen process cannot close its socket, so the simulator sees its session bound until
/// the wake-up: here the account may have had one session more than its slot (the frozen
/// one), never more, and none beyond the slot once the woken node has closed it.
#[test]
fn a_holder_frozen_past_its_lease_sends_nothing_after_another_node_took_its_slot() {
    let _serial = one_at_a_time();
    let spec = Spec {
        nodes: 2,
        sessions: 1,
        // No cap: the holder's store is busy recording answers when the freeze comes, the
        // moment a frozen node is hardest to take over from.
        rate: 0,
        window: WINDOW,
        receipt_delay: Duration::ZERO,
    };
    let Some(cluster) = Cluster::start("cluster::sigstop", spec) else {
        return;
    };
    let holder = cluster.wait_all_slots_bound(0).remove(0);
    let h = cluster.index_of(&holder);
    let o = 1 - h;
    let held_epoch = last_acquired(&cluster, h, 0)["epoch"]
        .as_u64()
        .expect("an epoch");
    let frozen = cluster.connections_of(h);
    assert_eq!(frozen.len(), 1, "the holder's one connection: {frozen:?}");
    let load = post_spread(&cluster.apis(), texts("frozen", 0..1500), 250, 1000);
    assert!(load.refused.is_empty(), "{:?}", load.refused);
    poll_until("the backlog being sent", HANG_GUARD, || {
        submits_on(&cluster, &frozen) >= 30
    });

    let before = last_connection(&cluster);
    cluster.signal(h, "STOP");
    poll_until("another node binding", HANG_GUARD, || {
        bound_after(&cluster, before).is_some()
    });
    let connection = bound_after(&cluster, before).unwrap();
    assert!(
        cluster.connections_of(o).contains(&connection),
        "the bind after the freeze (connection {connection}) is not {}'s",
        cluster.node(o).name
    );
    let event = wait_taken_over(&cluster, o, 0, &holder);
    assert_eq!(event["epoch"].as_u64(), Some(held_epoch + 1), "{event}");
    poll_until("the new holder sending", HANG_GUARD, || {
        submits_on(&cluster, &[connection].into()) > 0
    });

    let sent_before_the_wake_up = submits_on(&cluster, &frozen);
    cluster.signal(h, "CONT");
    poll_until(
        "the woken node closing its old connection",
        HANG_GUARD,
        || {
            let record = cluster.sim.record();
            frozen
                .iter()
                .all(|&id| record.connection(id).is_some_and(|c| !c.open))
        },
    );
    cluster.node(h).daemon.wait_event("lease_lost", |e| {
        e["event"] == "lease_lost" && e["channel"] == CHANNEL && e["slot"] == 0
    });
    assert_eq!(
        submits_on(&cluster, &frozen),
        sent_before_the_wake_up,
        "{holder} sent submit_sm after {} took its slot over",
        cluster.node(o).name
    );

    cluster.assert_all_reach_the_smsc(&load.accepted, resend_bound());
    let others = cluster.connections_of(o);
    let record = cluster.sim.record();
    for b in record.binds.iter().filter(|b| b.connection > before) {
        assert!(
            b.command_status != CommandStatus::EsmeRok || others.contains(&b.connection),
            "a bind since the freeze that is not {}'s: {b:?}",
            cluster.node(o).name
        );
    }
    assert!(
        record.sessions_of(SYSTEM_ID).bound <= 1,
        "{:#?}",
        record.connections
    );
    cluster.assert_sessions_at_most(2);
}
