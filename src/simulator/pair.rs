//! smppd's client core ([`SessionCore`]) against the simulator's SMSC core ([`Smsc`]) in
//! memory, on a clock advanced by hand: the two sans-I/O halves of a link, written apart,
//! wired together without sockets or timers, in the manner of quinn's `Pair`. Every timing
//! rule of the client session (keep-alive, response timeout, rate, throttle pauses, graceful
//! stop, the flush batch) is checked here deterministically; the socket tests stay as the
//! safety net for the drivers around the cores.

use std::collections::VecDeque;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};

use crate::codec::pdu::SubmitSm;
use crate::codec::{COctetString, CommandId, CommandStatus, Framer, Header, ShortMessage};
use crate::secret::Secret;
use crate::session::{
    BindState, CoreEvent, EndReason, Fill, OutboundMessage, Pulled, SessionCore, SessionError,
    SessionParams, SubmitOutcome,
};

use super::config::{Account, SimulatorConfig};
use super::faults::Faults;
use super::registry::Delivery;
use super::shared::Shared;
use super::smsc::{Action, Smsc};

/// What one write of the client carried.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Write {
    submits: usize,
    others: usize,
}

/// The two cores and the wire between them.
struct Pair {
    start: Instant,
    /// Where [`Pair::elapsed`] counts from: the start, then the moment the bind succeeded.
    epoch: Instant,
    now: Instant,
    client: SessionCore,
    smsc: Smsc,
    shared: Shared,
    smsc_framer: Framer,
    /// Octets the client wrote that the SMSC has not read.
    to_smsc: BytesMut,
    /// Octets on their way to the client, each due at its moment.
    to_client: VecDeque<(Instant, Bytes)>,
    client_inbuf: BytesMut,
    /// Receipts the SMSC decided to send, each due at its moment.
    receipts: Vec<(Instant, Delivery)>,
    /// The client's queue.
    queue: VecDeque<OutboundMessage>,
    /// Everything the client reported, in order, with when.
    events: Vec<(Duration, CoreEvent)>,
    /// What each of the client's writes carried.
    writes: Vec<Write>,
    /// The most submits in flight seen at any moment.
    max_in_flight: usize,
    /// The SMSC closed the connection.
    smsc_closed: bool,
    /// The client's end, once it has one.
    end: Option<Result<EndReason, SessionError>>,
}

fn config(faults: Faults, receipt_delay: Duration) -> SimulatorConfig {
    let mut c = SimulatorConfig::loopback(vec![Account::new("esme", "secret")]);
    c.faults = faults;
    c.receipt_delay = receipt_delay;
    c
}

/// A window of `window`, no rate cap (the tests that want one set it).
fn params(window: usize) -> SessionParams {
    SessionParams::new("esme", Secret::new("secret"))
        .and_then(|p| p.with_window_size(window))
        .expect("valid parameters")
        .with_max_rate(0)
}

fn message(id: u64) -> OutboundMessage {
    OutboundMessage::new(
        id,
        SubmitSm {
            destination_addr: COctetString::new("447700900123").expect("address"),
            registered_delivery: 1,
            short_message: ShortMessage::new(format!("message {id}")).expect("text"),
            ..SubmitSm::default()
        },
    )
}

impl Pair {
    fn new(params: SessionParams, faults: Faults) -> Pair {
        Pair::with_receipts(params, faults, Duration::from_secs(3600))
    }

    fn with_receipts(params: SessionParams, faults: Faults, receipt_delay: Duration) -> Pair {
        let shared = Shared::new(&config(faults, receipt_delay)).expect("simulator config");
        shared.recorder.connected(1, ([127, 0, 0, 1], 2775).into());
        let now = Instant::now();
        Pair {
            start: now,
            epoch: now,
            now,
            client: SessionCore::new(params, now),
            smsc: Smsc::new(1),
            shared,
            smsc_framer: Framer::default(),
            to_smsc: BytesMut::new(),
            to_client: VecDeque::new(),
            client_inbuf: BytesMut::new(),
            receipts: Vec::new(),
            queue: VecDeque::new(),
            events: Vec::new(),
            writes: Vec::new(),
            max_in_flight: 0,
            smsc_closed: false,
            end: None,
        }
    }

    fn wall(&self) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_800_000_000) + (self.now - self.start)
    }

    fn elapsed(&self) -> Duration {
        self.now - self.epoch
    }

    /// Binds and starts the client's bound work.
    fn bound(mut self) -> Pair {
        self.run_until(Duration::from_secs(10), |p| p.client.is_bound());
        assert!(self.client.is_bound(), "bound: {:?}", self.end);
        let now = self.now;
        self.epoch = now;
        self.client
            .start(now, Default::default(), None, VecDeque::new());
        self
    }

    fn enqueue(&mut self, n: u64) {
        let first = self.queue.len() as u64;
        self.queue.extend((first..first + n).map(message));
    }

    /// Runs both sides at the current moment until neither has anything more to do.
    fn settle(&mut self) {
        for _ in 0..100_000 {
            if self.end.is_some() || !self.step() {
                return;
            }
        }
        panic!("the pair never settled");
    }

    /// One turn of each side; whether anything moved.
    fn step(&mut self) -> bool {
        let now = self.now;
        let mut moved = false;
        self.client.handle_timeout(now);
        // The client's driver: fill, write, fill again while the core asks for a write.
        loop {
            let queue = &mut self.queue;
            let fill = self.client.fill(now, 0, || match queue.pop_front() {
                Some(m) => Pulled::Message(m),
                None => Pulled::Empty,
            });
            self.max_in_flight = self.max_in_flight.max(self.client.in_flight());
            let mut out = BytesMut::new();
            if self.client.poll_transmit(&mut out) {
                moved = true;
                self.writes.push(count(&out));
                self.to_smsc.extend_from_slice(&out);
            }
            if fill != Fill::WantsWrite {
                break;
            }
        }
        while let Some(event) = self.client.poll_event() {
            moved = true;
            if let CoreEvent::Inbound {
                sequence, response, ..
            } = &event
            {
                // The layer above stores it and accepts it at once.
                self.client
                    .answer(*sequence, *response, CommandStatus::EsmeRok);
            }
            self.events.push((self.elapsed(), event));
        }
        if let Some(deadline) = self.client.finishing() {
            if self.to_smsc.is_empty() || now >= deadline {
                self.end = self.client.take_end();
                return true;
            }
        }
        moved |= self.smsc_reads();
        moved |= self.deliver_due();
        moved
    }

    /// The SMSC reads every whole PDU the client wrote and acts on it.
    fn smsc_reads(&mut self) -> bool {
        let mut moved = false;
        if self.smsc_closed {
            self.to_smsc.clear();
            return false;
        }
        while let Ok(Some(frame)) = self.smsc_framer.decode(&mut self.to_smsc) {
            moved = true;
            let mut actions = Vec::new();
            let wall = self.wall();
            self.smsc.handle(&frame, &self.shared, wall, &mut actions);
            for action in actions {
                self.act(action);
            }
        }
        moved
    }

    fn act(&mut self, action: Action) {
        match action {
            Action::Respond { bytes, after, .. } => {
                self.to_client.push_back((self.now + after, bytes))
            }
            Action::Send(bytes) => self.to_client.push_back((self.now, bytes)),
            Action::Receipt { delivery, after } => self.receipts.push((self.now + after, delivery)),
            Action::Close | Action::Cut => self.smsc_closed = true,
            Action::Register(_) | Action::Unregister => {}
        }
    }

    /// What is due reaches the client: responses, and receipts the SMSC now sends.
    fn deliver_due(&mut self) -> bool {
        let now = self.now;
        let mut moved = false;
        let due: Vec<Delivery> = {
            let (due, later) = std::mem::take(&mut self.receipts)
                .into_iter()
                .partition(|(at, _)| *at <= now);
            self.receipts = later;
            due.into_iter().map(|(_, d)| d).collect()
        };
        for delivery in due {
            if let Ok(Some(action)) = self.smsc.deliver(delivery, &self.shared) {
                self.act(action);
            }
        }
        // In the order they were decided, as one TCP stream keeps them.
        while self.to_client.front().is_some_and(|(at, _)| *at <= now) {
            if let Some((_, bytes)) = self.to_client.pop_front() {
                self.client_inbuf.extend_from_slice(&bytes);
            }
        }
        if !self.client_inbuf.is_empty() {
            moved = true;
            self.client.handle_bytes(&mut self.client_inbuf, now);
        }
        if self.smsc_closed && self.to_client.is_empty() && self.end.is_none() {
            self.end = Some(self.client.peer_closed());
            moved = true;
        }
        moved
    }

    /// Advances the clock to the next moment either side has something to do (at most
    /// `limit` ahead), then settles.
    fn advance(&mut self, limit: Duration) {
        let next = [
            self.client.next_deadline(),
            self.to_client.front().map(|(at, _)| *at),
            self.receipts.iter().map(|(at, _)| *at).min(),
        ]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(self.now + limit)
        .min(self.now + limit);
        self.now = next.max(self.now);
        self.settle();
    }

    /// Advances until `done` holds or `within` has passed on the virtual clock.
    fn run_until(&mut self, within: Duration, mut done: impl FnMut(&Pair) -> bool) {
        let until = self.now + within;
        self.settle();
        while !done(self) && self.now < until && self.end.is_none() {
            self.advance(until - self.now);
        }
    }

    fn accepted(&self) -> Vec<(Duration, u64, String)> {
        self.events
            .iter()
            .filter_map(|(at, e)| match e {
                CoreEvent::Outcome(SubmitOutcome::Accepted {
                    message,
                    message_id,
                }) => Some((*at, message.id, message_id.clone())),
                _ => None,
            })
            .collect()
    }

    fn receipts_in(&self) -> usize {
        self.events
            .iter()
            .filter(|(_, e)| {
                matches!(
                    e,
                    CoreEvent::Inbound {
                        is_receipt: true,
                        ..
                    }
                )
            })
            .count()
    }
}

/// Counts the PDUs in one write.
fn count(out: &[u8]) -> Write {
    let mut w = Write::default();
    let mut rest = out;
    while let Some(h) = Header::peek(rest) {
        if h.command_id == CommandId::SubmitSm {
            w.submits += 1;
        } else {
            w.others += 1;
        }
        rest = rest.get(h.command_length as usize..).unwrap_or_default();
    }
    w
}

#[test]
fn binds_and_sends_everything_through_the_window_in_writes_the_answers_pace() {
    let mut pair = Pair::new(params(10), Faults::default()).bound();
    assert_eq!(pair.client.smsc_system_id(), super::smsc::SMSC_SYSTEM_ID);
    pair.enqueue(95);
    pair.run_until(Duration::from_secs(5), |p| p.accepted().len() == 95);
    let accepted = pair.accepted();
    assert_eq!(accepted.len(), 95);
    // In order, each with its own SMSC id.
    let ids: Vec<u64> = accepted.iter().map(|(_, id, _)| *id).collect();
    assert_eq!(ids, (0..95).collect::<Vec<_>>());
    let mut smsc_ids: Vec<&String> = accepted.iter().map(|(_, _, m)| m).collect();
    smsc_ids.dedup();
    assert_eq!(smsc_ids.len(), 95);
    assert!(
        pair.max_in_flight <= 10,
        "window exceeded: {}",
        pair.max_in_flight
    );
    let submit_writes: Vec<usize> = pair
        .writes
        .iter()
        .map(|w| w.submits)
        .filter(|&n| n > 0)
        .collect();
    // The first write fills the window; every later one carries what the answers before it
    // freed, never more than a window.
    assert_eq!(submit_writes.first(), Some(&10), "{submit_writes:?}");
    assert!(submit_writes.iter().all(|&n| n <= 10), "{submit_writes:?}");
    assert_eq!(submit_writes.iter().sum::<usize>(), 95);
    assert_eq!(pair.client.in_flight(), 0);
}

#[test]
fn window_one_sends_one_submit_per_write_and_waits_for_each_answer() {
    let faults = Faults {
        response_delay: Duration::from_millis(10),
        ..Faults::default()
    };
    let mut pair = Pair::new(params(1), faults).bound();
    pair.enqueue(5);
    pair.run_until(Duration::from_secs(5), |p| p.accepted().len() == 5);
    assert_eq!(pair.max_in_flight, 1);
    // One round trip of 10 ms each: the fifth answer arrives at 50 ms, not earlier.
    let accepted = pair.accepted();
    assert_eq!(accepted.len(), 5);
    assert_eq!(accepted[4].0, Duration::from_millis(50));
    assert!(pair.writes.iter().all(|w| w.submits <= 1));
}

#[test]
fn receipts_follow_their_submit_outcome_and_are_answered() {
    let mut pair =
        Pair::with_receipts(params(10), Faults::default(), Duration::from_millis(200)).bound();
    pair.enqueue(20);
    pair.run_until(Duration::from_secs(5), |p| p.receipts_in() == 20);
    assert_eq!(pair.receipts_in(), 20);
    // Every receipt after every outcome (they are due 200 ms after their submit).
    let last_outcome = pair
        .events
        .iter()
        .rposition(|(_, e)| matches!(e, CoreEvent::Outcome(_)))
        .expect("outcomes");
    let first_receipt = pair
        .events
        .iter()
        .position(|(_, e)| matches!(e, CoreEvent::Inbound { .. }))
        .expect("receipts");
    assert!(last_outcome < first_receipt);
    // The SMSC saw every deliver_sm answered ESME_ROK.
    pair.settle();
    let record = pair.shared.recorder.snapshot();
    assert_eq!(record.acknowledged_receipts().len(), 20);
}

#[test]
fn the_rate_spaces_submits_on_the_clock() {
    let params = params(10).with_max_rate(10);
    let mut pair = Pair::new(params, Faults::default()).bound();
    pair.enqueue(30);
    pair.run_until(Duration::from_secs(10), |p| p.accepted().len() == 30);
    let accepted = pair.accepted();
    assert_eq!(accepted.len(), 30);
    // At 10 per second, whatever the burst, 30 messages take well over a second and the
    // rate is never exceeded over any second after the first burst.
    let last = accepted[29].0;
    assert!(last >= Duration::from_secs(1), "all 30 by {last:?}");
    let burst = pair.client.params().max_rate() as usize;
    for (i, (at, _, _)) in accepted.iter().enumerate() {
        let window_start = at.saturating_sub(Duration::from_secs(1));
        let in_last_second = accepted[..=i]
            .iter()
            .filter(|(t, _, _)| *t > window_start)
            .count();
        assert!(
            in_last_second <= burst + 10,
            "{in_last_second} within a second"
        );
    }
}

#[test]
fn keep_alive_goes_out_when_idle_and_a_silent_smsc_ends_the_session() {
    let params = params(10)
        .with_enquire_link_interval(Duration::from_secs(30))
        .and_then(|p| p.with_response_timeout(Duration::from_secs(5)))
        .expect("valid");
    let mut pair = Pair::new(params.clone(), Faults::default()).bound();
    pair.run_until(Duration::from_secs(95), |_| false);
    assert!(
        pair.end.is_none(),
        "an answering SMSC keeps the link: {:?}",
        pair.end
    );
    // The first write was the bind.
    let enquires = pair.writes[1..].iter().filter(|w| w.others > 0).count();
    assert_eq!(enquires, 3, "one enquire_link per 30 s idle");

    let faults = Faults {
        ignore_enquire_link: true,
        ..Faults::default()
    };
    let mut pair = Pair::new(params, faults).bound();
    pair.run_until(Duration::from_secs(60), |_| false);
    assert!(matches!(
        pair.end,
        Some(Err(SessionError::EnquireLinkUnanswered { .. }))
    ));
    // 30 s idle, then 5 s for the answer.
    assert_eq!(pair.elapsed(), Duration::from_secs(35));
}

#[test]
fn a_silent_link_hands_the_window_back_for_the_next_one() {
    let params = params(4)
        .with_response_timeout(Duration::from_secs(5))
        .expect("valid");
    let faults = Faults {
        withhold_submit_responses: true,
        ..Faults::default()
    };
    let mut pair = Pair::new(params, faults).bound();
    pair.enqueue(6);
    pair.run_until(Duration::from_secs(30), |_| false);
    assert!(matches!(
        pair.end,
        Some(Err(SessionError::SubmitsUnanswered { .. }))
    ));
    assert_eq!(pair.elapsed(), Duration::from_secs(5));
    let unsent = pair.client.close();
    let ids: Vec<u64> = unsent.iter().map(|m| m.id).collect();
    // The four written first (in send order, each written once), then the two never taken.
    assert_eq!(ids, vec![0, 1, 2, 3]);
    assert!(unsent.iter().all(|m| m.attempts == 1));
    assert_eq!(pair.queue.len(), 2);
    assert_eq!(pair.client.state(), BindState::Closed);
}

#[test]
fn throttling_pauses_and_resends_without_spending_a_retry() {
    let faults = Faults {
        throttle_every: Some(3),
        ..Faults::default()
    };
    let params = params(1)
        .with_throttle_pause(Duration::from_millis(100), Duration::from_secs(1))
        .expect("valid");
    let mut pair = Pair::new(params, faults).bound();
    pair.enqueue(4);
    pair.run_until(Duration::from_secs(10), |p| p.accepted().len() == 4);
    let accepted = pair.accepted();
    assert_eq!(accepted.len(), 4, "{:?}", pair.events);
    // The throttled one was paused 100 ms and sent again, then accepted.
    assert!(accepted[3].0 >= Duration::from_millis(100));
    let failed = pair
        .events
        .iter()
        .filter(|(_, e)| matches!(e, CoreEvent::Outcome(SubmitOutcome::Failed { .. })))
        .count();
    assert_eq!(failed, 0);
}

#[test]
fn a_graceful_stop_waits_for_the_window_then_unbinds() {
    let faults = Faults {
        response_delay: Duration::from_millis(300),
        ..Faults::default()
    };
    let mut pair = Pair::new(params(10), faults).bound();
    pair.enqueue(25);
    pair.settle();
    assert_eq!(pair.client.in_flight(), 10);
    let now = pair.now;
    pair.client.stop(now);
    pair.run_until(Duration::from_secs(60), |_| false);
    assert!(
        matches!(pair.end, Some(Ok(EndReason::Stopped))),
        "{:?}",
        pair.end
    );
    // The ten in flight were answered before the unbind; nothing more was taken.
    assert_eq!(pair.accepted().len(), 10);
    assert_eq!(pair.queue.len(), 15);
    assert_eq!(pair.elapsed(), Duration::from_millis(300));
    assert!(pair.client.close().is_empty());
}

#[test]
fn a_wrong_password_ends_the_bind_with_the_smsc_s_status() {
    let params = SessionParams::new("esme", Secret::new("wrong")).expect("valid");
    let mut pair = Pair::new(params, Faults::default());
    pair.settle();
    assert!(matches!(
        pair.end,
        Some(Err(SessionError::BindRejected {
            status: CommandStatus::EsmeRinvpaswd
        }))
    ));
    assert!(!pair.client.is_bound());
}
