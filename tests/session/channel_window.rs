//! Message flow through the real supervisor against the simulator, proven from the SMSC's
//! side: the window is filled but never exceeded, a rate-capped channel delivers everything in
//! order, an SMSC that stops answering gets the window again on the next link, throttled ones
//! are accepted exactly once in the end, and a link cut mid-window loses nothing.

use std::time::Duration;

use smppd::simulator::{Faults, SubmitOutcome as SimOutcome};

use crate::support::channel::*;
use crate::support::hang_guard::HANG_GUARD;

#[tokio::test]
async fn the_window_is_filled_to_its_size_and_never_beyond() {
    guard(async {
        const WINDOW: usize = 5;
        const N: u64 = 20;
        // Slow answers at first, so the first window is certainly full at the SMSC before
        // any answer leaves it; then quick ones, so the rest flows.
        let sim = plain_simulator(Faults {
            response_delay: Duration::from_millis(1000),
            ..Faults::default()
        })
        .await;
        let mut ch = tcp_channel(sim.local_addr(), params(WINDOW));
        for id in 0..N {
            ch.queue.send(message(id, 0)).await.unwrap();
        }
        sim.wait_until("a full window", HANG_GUARD, |r| {
            r.max_outstanding() >= WINDOW as u64
        })
        .await
        .unwrap();
        sim.set_faults(Faults {
            response_delay: Duration::from_millis(5),
            ..Faults::default()
        })
        .unwrap();
        accepted_once(&mut ch.outcomes, N).await;

        let record = sim.record();
        assert_eq!(record.connections.len(), 1, "one connection throughout");
        assert_eq!(record.connections[0].max_outstanding, WINDOW as u64);
        assert_eq!(record.submits.len() as u64, N);
        let accepted = accepted_at_simulator(&record);
        assert_eq!(accepted.len() as u64, N);
        assert!(accepted.values().all(|n| *n == 1), "{accepted:?}");
        ch.handle.stop().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_rate_capped_channel_delivers_everything_once_and_in_order() {
    guard(async {
        const N: u64 = 100;
        // Whether the pace itself is right is the business of TokenBucket's unit tests, which
        // run on a controlled clock; here the cap must not lose, duplicate or reorder anything.
        let sim = plain_simulator(Faults::default()).await;
        let mut ch = tcp_channel(sim.local_addr(), params(10).with_max_rate(50));
        for id in 0..N {
            ch.queue.send(message(id, 0)).await.unwrap();
        }
        let ids = accepted_once(&mut ch.outcomes, N).await;
        assert_eq!(ids.len() as u64, N);

        let record = sim.record();
        let texts: Vec<Vec<u8>> = record
            .submits
            .iter()
            .map(|s| s.short_message.clone())
            .collect();
        let expected: Vec<Vec<u8>> = (0..N).map(text).collect();
        assert_eq!(texts, expected, "submitted once each, in queue order");
        assert!(record
            .submits
            .iter()
            .all(|s| matches!(s.outcome, SimOutcome::Accepted { .. })));
        let counters = ch.handle.counters();
        assert_eq!((counters.submitted, counters.resent), (N, 0));
        ch.handle.stop().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn an_smsc_that_stops_answering_gets_the_window_again_on_the_next_link() {
    guard(async {
        const N: u64 = 5;
        let sim = plain_simulator(Faults {
            withhold_submit_responses: true,
            ..Faults::default()
        })
        .await;
        let params = params(10)
            .with_response_timeout(Duration::from_millis(1000))
            .unwrap();
        let mut ch = tcp_channel(sim.local_addr(), params);
        for id in 0..N {
            ch.queue.send(message(id, 0)).await.unwrap();
        }
        // The SMSC hangs with the connection open: every submit arrives, none is answered.
        sim.wait_for_submits(N as usize, HANG_GUARD).await.unwrap();
        // It recovers; the link it went silent on is given up after the response timeout,
        // and the next one carries the same messages. None is failed.
        sim.set_faults(Faults::default()).unwrap();
        accepted_once(&mut ch.outcomes, N).await;

        let counters = ch.handle.counters();
        let end = ch.handle.stop().await.unwrap();
        assert!(end.unsent.is_empty());
        let record = sim.record();
        assert_eq!(
            record.connections.len(),
            2,
            "the silent link, then a good one"
        );
        let accepted = accepted_at_simulator(&record);
        assert_eq!(accepted.len() as u64, N);
        assert!(accepted.values().all(|n| *n == 1), "{accepted:?}");
        let received = received_at_simulator(&record);
        assert!(received.values().all(|n| *n == 2), "{received:?}");
        assert_eq!(
            (counters.submitted, counters.resent, counters.failed),
            (2 * N, N, 0)
        );
    })
    .await;
}

#[tokio::test]
async fn throttled_messages_are_accepted_exactly_once_at_the_smsc() {
    guard(async {
        const N: u64 = 20;
        let sim = plain_simulator(Faults {
            throttle_every: Some(3),
            ..Faults::default()
        })
        .await;
        let params = params(5)
            .with_throttle_pause(Duration::from_millis(10), Duration::from_millis(100))
            .unwrap();
        let mut ch = tcp_channel(sim.local_addr(), params);
        for id in 0..N {
            ch.queue.send(message(id, 0)).await.unwrap();
        }
        let ids = accepted_once(&mut ch.outcomes, N).await;

        let record = sim.record();
        assert_eq!(record.connections.len(), 1);
        let accepted = accepted_at_simulator(&record);
        assert_eq!(accepted.len() as u64, N);
        assert!(accepted.values().all(|n| *n == 1), "{accepted:?}");
        // The ids the client reports are the ones the SMSC handed out for those texts.
        for s in &record.submits {
            if let SimOutcome::Accepted { message_id } = &s.outcome {
                let id: u64 = String::from_utf8_lossy(&s.short_message)[4..]
                    .parse()
                    .unwrap();
                assert_eq!(&ids[&id], message_id);
            }
        }
        let throttled = record
            .submits
            .iter()
            .filter(|s| s.outcome == SimOutcome::Throttled)
            .count() as u64;
        assert!(throttled > 0);
        assert_eq!(record.submits.len() as u64, N + throttled);
        let counters = ch.handle.counters();
        assert_eq!(
            counters.resent, throttled,
            "each throttled attempt is a re-send"
        );
        assert_eq!(counters.submitted, N + throttled);
        ch.handle.stop().await.unwrap();
    })
    .await;
}

#[tokio::test]
async fn a_link_cut_mid_window_loses_nothing_and_duplicates_at_most_a_window() {
    guard(async {
        const WINDOW: usize = 10;
        const N: u64 = 30;
        let sim = plain_simulator(Faults {
            drop_after: Some(7),
            ..Faults::default()
        })
        .await;
        let mut ch = tcp_channel(sim.local_addr(), params(WINDOW));
        for id in 0..N {
            ch.queue.send(message(id, 0)).await.unwrap();
        }
        accepted_once(&mut ch.outcomes, N).await;
        let counters = ch.handle.counters();
        let status = ch.handle.status.borrow().clone();
        ch.handle.stop().await.unwrap();

        let record = sim.record();
        let cuts = record
            .submits
            .iter()
            .filter(|s| s.outcome == SimOutcome::Dropped)
            .count() as u64;
        assert!(cuts >= 1, "the link was cut at least once");
        assert_eq!(status.binds, cuts + 1, "one bind per connection");
        let last = status.last_error.expect("the cut is reported");
        assert_eq!((last.code, last.reason), (43009, "link_lost"), "{last:?}");

        // Nothing lost: every message reached the SMSC and was accepted there.
        let received = received_at_simulator(&record);
        assert_eq!(received.len() as u64, N, "every message reached the SMSC");
        let accepted = accepted_at_simulator(&record);
        assert_eq!(accepted.len() as u64, N, "every message was accepted");
        // Duplicates are bounded by the window: per cut, the client re-sends at most what was
        // in flight, and each submit the SMSC sees again is one of those re-sends. (The SMSC
        // answers what it read before the cut, so normally only the cut submit comes again.)
        let bound = WINDOW as u64 * cuts;
        let duplicates: u64 = received.values().map(|n| n - 1).sum();
        assert!((cuts..=bound).contains(&duplicates), "{received:?}");
        let accepted_twice: u64 = accepted.values().map(|n| n - 1).sum();
        assert!(accepted_twice <= bound, "{accepted:?}");
        assert!(counters.resent >= duplicates, "{counters:?}");
        assert!(counters.resent <= bound, "{counters:?}");
        assert_eq!(counters.submitted, N + counters.resent);
    })
    .await;
}
