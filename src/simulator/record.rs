//! What the simulator saw: binds, submits, deliveries and per-connection counters.
//!
//! Tests prove delivery guarantees from this record — nothing lost, nothing duplicated beyond
//! what SMPP allows, the client's window never exceeded — so it is updated at the moment each
//! event happens, and every change wakes the wait helpers on the handle.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use tokio::sync::{broadcast, watch};

use crate::codec::CommandStatus;

use super::journal::Journal;

/// Identifies one accepted TCP connection, in accept order starting at 1.
pub type ConnectionId = u64;

/// The three bind modes of SMPP 3.4 §4.1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BindMode {
    /// bind_transmitter: may submit, receives nothing.
    Transmitter,
    /// bind_receiver: receives deliver_sm, may not submit.
    Receiver,
    /// bind_transceiver: both.
    Transceiver,
}

impl BindMode {
    /// Whether deliver_sm (receipts, MO) may be sent to a session bound this way.
    pub fn receives(self) -> bool {
        matches!(self, BindMode::Receiver | BindMode::Transceiver)
    }

    /// Whether a session bound this way may submit.
    pub fn transmits(self) -> bool {
        matches!(self, BindMode::Transmitter | BindMode::Transceiver)
    }
}

/// One bind request and how it was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindRecord {
    /// The connection it arrived on.
    pub connection: ConnectionId,
    /// The system_id it named (the password is never recorded).
    pub system_id: String,
    /// The bind mode requested.
    pub mode: BindMode,
    /// The command_status of the bind_resp (ESME_ROK = bound).
    pub command_status: CommandStatus,
}

/// What the simulator did with a submit_sm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitOutcome {
    /// Answered ESME_ROK with this message id (or will be, after the response delay).
    Accepted {
        /// The id handed out in submit_sm_resp.
        message_id: String,
    },
    /// Answered ESME_RTHROTTLED by the throttle fault.
    Throttled,
    /// Never answered: the withhold fault was on.
    Withheld,
    /// Never answered: the connection was dropped by the drop fault.
    Dropped,
    /// Answered with an error status (e.g. ESME_RINVBNDSTS when not bound to transmit).
    Rejected {
        /// The command_status sent.
        command_status: CommandStatus,
    },
}

/// One submit_sm as received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubmitRecord {
    /// The connection it arrived on.
    pub connection: ConnectionId,
    /// The system_id the connection was bound as (empty if unbound).
    pub system_id: String,
    /// The client's sequence_number.
    pub sequence_number: u32,
    /// source_addr.
    pub source_addr: String,
    /// destination_addr.
    pub destination_addr: String,
    /// esm_class as sent (0x40, UDHI: short_message starts with a user data header).
    pub esm_class: u8,
    /// data_coding as sent.
    pub data_coding: u8,
    /// short_message octets, or the message_payload TLV when short_message is empty.
    pub short_message: Vec<u8>,
    /// The user_message_reference TLV, a client-side correlation id when present.
    pub user_message_reference: Option<u16>,
    /// registered_delivery as sent.
    pub registered_delivery: u8,
    /// How it was answered.
    pub outcome: SubmitOutcome,
}

/// Why a deliver_sm was sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliverKind {
    /// A delivery receipt for this message id.
    Receipt {
        /// The id from the submit_sm_resp.
        message_id: String,
    },
    /// A mobile-originated message injected through the handle.
    MobileOriginated,
}

/// One deliver_sm sent to a client and whether it was acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliverRecord {
    /// The connection it was sent on.
    pub connection: ConnectionId,
    /// The system_id of that session.
    pub system_id: String,
    /// The simulator's sequence_number for it.
    pub sequence_number: u32,
    /// Receipt or MO.
    pub kind: DeliverKind,
    /// The short_message sent (the receipt text, or the MO's octets).
    pub short_message: Vec<u8>,
    /// The command_status of the deliver_sm_resp; `None` while none has come back.
    pub response_status: Option<CommandStatus>,
}

/// Per-connection counters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectionRecord {
    /// Accept order.
    pub id: ConnectionId,
    /// The client's address.
    pub peer: SocketAddr,
    /// The bound system_id and mode, once a bind succeeded.
    pub bound: Option<(String, BindMode)>,
    /// submit_sm received on this connection.
    pub submits: u64,
    /// submit_sm received whose response has not been sent yet (withheld or delayed).
    pub outstanding: u64,
    /// The largest `outstanding` ever observed: an upper bound the client's window must respect.
    /// Only meaningful while responses are delayed or withheld; otherwise each submit is
    /// answered before the next one is read.
    pub max_outstanding: u64,
    /// True once the client sent unbind on this connection (a graceful end, as opposed to a
    /// connection that was simply closed or cut).
    pub unbound: bool,
    /// False once the connection closed.
    pub open: bool,
    /// Why it closed, once it did.
    pub close_reason: Option<CloseReason>,
}

/// Why a connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloseReason {
    /// The client closed it.
    ClientClosed,
    /// Reading from the client failed.
    ReadFailed(String),
    /// The client sent unbind; it was answered and the connection closed.
    Unbound,
    /// The client's octets could not be split into PDUs (the codec's reason); answered with
    /// generic_nack ESME_RINVCMDLEN, then closed.
    FramingError(String),
    /// The client stopped reading its answers while 1 MiB of them waited.
    NotReading,
    /// The `drop_after` fault cut it.
    DropFault,
    /// The `close_after_handshake` fault closed it.
    CloseAfterHandshake,
    /// The TLS handshake failed (the TLS library's reason).
    TlsHandshakeFailed(String),
    /// The simulator shut down.
    Shutdown,
}

impl CloseReason {
    /// A stable name for logs and the CLI.
    pub fn as_str(&self) -> &'static str {
        match self {
            CloseReason::ClientClosed => "client_closed",
            CloseReason::ReadFailed(_) => "read_failed",
            CloseReason::Unbound => "unbound",
            CloseReason::FramingError(_) => "framing_error",
            CloseReason::NotReading => "client_not_reading",
            CloseReason::DropFault => "drop_fault",
            CloseReason::CloseAfterHandshake => "close_after_handshake",
            CloseReason::TlsHandshakeFailed(_) => "tls_handshake_failed",
            CloseReason::Shutdown => "shutdown",
        }
    }

    /// The specific cause, for the reasons that have one.
    pub fn detail(&self) -> Option<&str> {
        match self {
            CloseReason::ReadFailed(d)
            | CloseReason::FramingError(d)
            | CloseReason::TlsHandshakeFailed(d) => Some(d),
            CloseReason::ClientClosed
            | CloseReason::Unbound
            | CloseReason::NotReading
            | CloseReason::DropFault
            | CloseReason::CloseAfterHandshake
            | CloseReason::Shutdown => None,
        }
    }
}

impl std::fmt::Display for CloseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.detail() {
            Some(detail) => write!(f, "{}: {detail}", self.as_str()),
            None => f.write_str(self.as_str()),
        }
    }
}

/// How many sessions of one system_id are bound at once.
///
/// A session counts from the moment its bind is answered ESME_ROK until its connection has
/// closed (an unbind ends the session only when the connection closes after it), so the
/// count errs on the high side: it is the figure an SMSC that limits binds per account
/// would check. Clients that share an account (several gateway nodes with one set of
/// session slots) prove with `max_bound` that they never held more than their slots.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionCount {
    /// Sessions bound right now.
    pub bound: u64,
    /// The largest `bound` ever reached.
    pub max_bound: u64,
}

/// A copy of everything recorded so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordSnapshot {
    /// Every connection ever accepted, in accept order.
    pub connections: Vec<ConnectionRecord>,
    /// Every bind request, in arrival order.
    pub binds: Vec<BindRecord>,
    /// Every submit_sm, in arrival order.
    pub submits: Vec<SubmitRecord>,
    /// Every deliver_sm sent (receipts and MO), in send order.
    pub delivers: Vec<DeliverRecord>,
    /// Bound sessions per system_id, now and at most; exact also when the lists above are
    /// limited.
    pub sessions: BTreeMap<String, SessionCount>,
}

impl RecordSnapshot {
    /// Receipts sent and acknowledged with ESME_ROK.
    pub fn acknowledged_receipts(&self) -> Vec<&DeliverRecord> {
        self.delivers
            .iter()
            .filter(|d| {
                matches!(d.kind, DeliverKind::Receipt { .. })
                    && d.response_status == Some(CommandStatus::EsmeRok)
            })
            .collect()
    }

    /// Drops the oldest entries of each list beyond `limit` (closed connections first), but
    /// only once a list has grown past `high_water`: draining the front of a `Vec` moves every
    /// entry kept, so trimming one entry per event would cost O(limit) per submit_sm. With
    /// `high_water` = 2 × `limit` the cost is O(1) per event, amortised. Returns how many
    /// deliveries it dropped.
    fn trim(&mut self, limit: usize, high_water: usize) -> u64 {
        fn keep_last<T>(v: &mut Vec<T>, limit: usize, high_water: usize) -> u64 {
            if v.len() > high_water.max(limit) {
                let dropped = v.len() - limit;
                v.drain(..dropped);
                return dropped as u64;
            }
            0
        }
        if self.connections.len() > high_water.max(limit) {
            let mut excess = self.connections.len() - limit;
            self.connections.retain(|c| {
                let drop = excess > 0 && !c.open;
                excess -= usize::from(drop);
                !drop
            });
        }
        keep_last(&mut self.binds, limit, high_water);
        keep_last(&mut self.submits, limit, high_water);
        keep_last(&mut self.delivers, limit, high_water)
    }

    /// The largest `max_outstanding` over all connections.
    pub fn max_outstanding(&self) -> u64 {
        self.connections
            .iter()
            .map(|c| c.max_outstanding)
            .max()
            .unwrap_or(0)
    }

    /// The record of one connection.
    pub fn connection(&self, id: ConnectionId) -> Option<&ConnectionRecord> {
        self.connections.iter().find(|c| c.id == id)
    }

    /// The bound sessions of `system_id`, now and at most (zero for one never bound).
    pub fn sessions_of(&self, system_id: &str) -> SessionCount {
        self.sessions.get(system_id).copied().unwrap_or_default()
    }
}

/// One line's worth of news, for the CLI and for tests that prefer to follow events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A connection was accepted.
    Connected(ConnectionId, SocketAddr),
    /// A bind was answered.
    Bind(BindRecord),
    /// A submit_sm arrived and was dealt with.
    Submit(SubmitRecord),
    /// A deliver_sm was sent.
    DeliverSent(DeliverRecord),
    /// A deliver_sm_resp (or a generic_nack) answered a deliver_sm.
    DeliverAnswered(DeliverRecord),
    /// A connection closed, and why.
    Closed(ConnectionId, CloseReason),
}

/// The shared, lock-protected record plus the channels that announce changes.
#[derive(Debug)]
pub(crate) struct Recorder {
    state: Mutex<RecordSnapshot>,
    /// Deliveries trimmed from the front of `state.delivers` so far (changed only under the
    /// lock): the delivery sent `n`th sits at `n - delivers_dropped`, so an answer finds it
    /// without a search (a search per answer cost a fifth of a loaded simulator's CPU).
    delivers_dropped: AtomicU64,
    limit: Option<usize>,
    changed: watch::Sender<u64>,
    events: broadcast::Sender<Event>,
    /// Where every event is also appended, when the record must outlive the process.
    journal: Option<Journal>,
}

impl Recorder {
    pub(crate) fn new(limit: Option<usize>, journal: Option<Journal>) -> Self {
        Recorder {
            state: Mutex::new(RecordSnapshot::default()),
            delivers_dropped: AtomicU64::new(0),
            limit,
            changed: watch::Sender::new(0),
            events: broadcast::Sender::new(1024),
            journal,
        }
    }

    /// A copy of the record (at most `limit` entries per list when the record is limited).
    pub(crate) fn snapshot(&self) -> RecordSnapshot {
        let mut copy = self.lock().clone();
        if let Some(limit) = self.limit {
            let _ = copy.trim(limit, limit);
        }
        copy
    }

    /// A receiver that wakes on every change.
    pub(crate) fn watch(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// A receiver of every event from now on.
    pub(crate) fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    // A poisoned lock only means another task panicked mid-update; the record is still the
    // best account we have, and the server must keep running.
    fn lock(&self) -> MutexGuard<'_, RecordSnapshot> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// An event to announce, built only when someone listens or a journal is kept: a quiet
    /// simulator under load should not clone every record just to drop the copy.
    fn news(&self, make: impl FnOnce() -> Event) -> Option<Event> {
        (self.events.receiver_count() > 0 || self.journal.is_some()).then(make)
    }

    fn update<T>(&self, event: Option<Event>, f: impl FnOnce(&mut RecordSnapshot) -> T) -> T {
        let out = {
            let mut state = self.lock();
            let out = f(&mut state);
            if let Some(limit) = self.limit {
                let dropped = state.trim(limit, limit.saturating_mul(2));
                self.delivers_dropped.fetch_add(dropped, Ordering::Relaxed);
            }
            // Under the lock, so that the file has the events in the order they were recorded.
            if let (Some(journal), Some(e)) = (&self.journal, &event) {
                journal.append(e);
            }
            out
        };
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
        if let Some(e) = event {
            // No subscriber is fine: events are optional news.
            let _ = self.events.send(e);
        }
        out
    }

    pub(crate) fn connected(&self, id: ConnectionId, peer: SocketAddr) {
        self.update(self.news(|| Event::Connected(id, peer)), |s| {
            s.connections.push(ConnectionRecord {
                id,
                peer,
                bound: None,
                submits: 0,
                outstanding: 0,
                max_outstanding: 0,
                unbound: false,
                open: true,
                close_reason: None,
            })
        });
    }

    pub(crate) fn closed(&self, id: ConnectionId, reason: CloseReason) {
        let news = self.news(|| Event::Closed(id, reason.clone()));
        self.update(news, |s| {
            if let Some(i) = position(s, id) {
                let c = &mut s.connections[i];
                if let (true, Some((system_id, _))) = (c.open, &c.bound) {
                    if let Some(count) = s.sessions.get_mut(system_id) {
                        count.bound = count.bound.saturating_sub(1);
                    }
                }
                c.open = false;
                c.close_reason = Some(reason);
            }
        });
    }

    /// The client sent unbind on connection `id`.
    pub(crate) fn unbind(&self, id: ConnectionId) {
        self.update(None, |s| {
            if let Some(i) = position(s, id) {
                s.connections[i].unbound = true;
            }
        });
    }

    pub(crate) fn bind(&self, record: BindRecord) {
        self.update(self.news(|| Event::Bind(record.clone())), |s| {
            if record.command_status == CommandStatus::EsmeRok {
                if let Some(i) = position(s, record.connection) {
                    let c = &mut s.connections[i];
                    // A connection binds once (a second bind is refused ESME_RALYBND).
                    if c.open && c.bound.is_none() {
                        let count = s.sessions.entry(record.system_id.clone()).or_default();
                        count.bound += 1;
                        count.max_bound = count.max_bound.max(count.bound);
                    }
                    c.bound = Some((record.system_id.clone(), record.mode));
                }
            }
            s.binds.push(record);
        });
    }

    /// Records a submit. It counts as outstanding until [`Recorder::responded`] is called for
    /// its response, which never happens for withheld or dropped ones.
    pub(crate) fn submit(&self, record: SubmitRecord) {
        self.update(self.news(|| Event::Submit(record.clone())), |s| {
            if let Some(i) = position(s, record.connection) {
                let c = &mut s.connections[i];
                c.submits += 1;
                c.outstanding += 1;
                c.max_outstanding = c.max_outstanding.max(c.outstanding);
            }
            s.submits.push(record);
        });
    }

    /// `n` submit responses left the simulator.
    pub(crate) fn responded(&self, id: ConnectionId, n: u64) {
        self.update(None, |s| {
            if let Some(i) = position(s, id) {
                let c = &mut s.connections[i];
                c.outstanding = c.outstanding.saturating_sub(n);
            }
        });
    }

    /// Records a deliver_sm sent; returns its place among every delivery recorded, for
    /// [`Recorder::deliver_answered`].
    pub(crate) fn deliver_sent(&self, record: DeliverRecord) -> u64 {
        self.update(self.news(|| Event::DeliverSent(record.clone())), |s| {
            let place = self.delivers_dropped.load(Ordering::Relaxed) + s.delivers.len() as u64;
            s.delivers.push(record);
            place
        })
    }

    /// `record` (a deliver_sm sent earlier, at `place` as [`Recorder::deliver_sent`] said) was
    /// answered with its `response_status`. The answer is announced and journaled even when
    /// a limited record no longer holds the delivery itself.
    pub(crate) fn deliver_answered(&self, record: DeliverRecord, place: u64) {
        let news = self.news(|| Event::DeliverAnswered(record.clone()));
        self.update(news, |s| {
            let at = place.checked_sub(self.delivers_dropped.load(Ordering::Relaxed));
            if let Some(d) = at
                .and_then(|at| usize::try_from(at).ok())
                .and_then(|at| s.delivers.get_mut(at))
                .filter(|d| {
                    d.connection == record.connection && d.sequence_number == record.sequence_number
                })
            {
                d.response_status = record.response_status;
            }
        });
    }
}

fn position(s: &RecordSnapshot, id: ConnectionId) -> Option<usize> {
    s.connections.iter().position(|c| c.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn submit(connection: ConnectionId, seq: u32, outcome: SubmitOutcome) -> SubmitRecord {
        SubmitRecord {
            connection,
            system_id: "esme".into(),
            sequence_number: seq,
            source_addr: "1".into(),
            destination_addr: "2".into(),
            esm_class: 0,
            data_coding: 0,
            short_message: b"hi".to_vec(),
            user_message_reference: None,
            registered_delivery: 0,
            outcome,
        }
    }

    #[test]
    fn outstanding_rises_with_pending_submits_and_remembers_its_peak() {
        let r = Recorder::new(None, None);
        r.connected(1, SocketAddr::from(([127, 0, 0, 1], 1)));
        r.submit(submit(1, 1, SubmitOutcome::Withheld));
        r.submit(submit(1, 2, SubmitOutcome::Throttled));
        r.submit(submit(1, 3, SubmitOutcome::Throttled));
        r.responded(1, 1);
        r.responded(1, 1);
        let c = r.snapshot().connections[0].clone();
        assert_eq!((c.submits, c.outstanding, c.max_outstanding), (3, 1, 3));
    }

    #[test]
    fn bound_sessions_are_counted_per_system_id_from_the_bind_to_the_close() {
        let r = Recorder::new(Some(1), None);
        let bind = |connection, system_id: &str, command_status| BindRecord {
            connection,
            system_id: system_id.into(),
            mode: BindMode::Transceiver,
            command_status,
        };
        let counts = |r: &Recorder, system_id: &str| {
            let c = r.snapshot().sessions_of(system_id);
            (c.bound, c.max_bound)
        };
        for id in 1..=5 {
            r.connected(id, SocketAddr::from(([127, 0, 0, 1], 1)));
        }
        r.bind(bind(1, "a", CommandStatus::EsmeRok));
        r.bind(bind(2, "a", CommandStatus::EsmeRok));
        // Refused binds, and a second bind on a bound connection, bind nothing more.
        r.bind(bind(3, "a", CommandStatus::EsmeRinvpaswd));
        r.bind(bind(2, "a", CommandStatus::EsmeRok));
        r.bind(bind(4, "b", CommandStatus::EsmeRok));
        assert_eq!(counts(&r, "a"), (2, 2));
        assert_eq!(counts(&r, "b"), (1, 1));
        // An unbind ends the session only when its connection closes.
        r.unbind(1);
        assert_eq!(counts(&r, "a"), (2, 2));
        r.closed(1, CloseReason::Unbound);
        r.closed(3, CloseReason::ClientClosed);
        assert_eq!(counts(&r, "a"), (1, 2));
        // Closing twice, or a bind recorded after the close, changes nothing.
        r.closed(1, CloseReason::ClientClosed);
        r.bind(bind(1, "a", CommandStatus::EsmeRok));
        assert_eq!(counts(&r, "a"), (1, 2));
        r.bind(bind(5, "a", CommandStatus::EsmeRok));
        assert_eq!(counts(&r, "a"), (2, 2));
        r.closed(2, CloseReason::ReadFailed("reset".into()));
        r.closed(5, CloseReason::Shutdown);
        r.closed(4, CloseReason::Shutdown);
        // Exact although the record shows one entry per list.
        assert_eq!(counts(&r, "a"), (0, 2));
        assert_eq!(counts(&r, "b"), (0, 1));
        assert_eq!(counts(&r, "never"), (0, 0));
    }

    #[test]
    fn a_limited_record_keeps_the_newest_entries_and_open_connections() {
        let r = Recorder::new(Some(2), None);
        for id in 1..=3 {
            r.connected(id, SocketAddr::from(([127, 0, 0, 1], 1)));
        }
        r.closed(2, CloseReason::ClientClosed);
        r.connected(4, SocketAddr::from(([127, 0, 0, 1], 1)));
        for seq in 1..=5 {
            r.submit(submit(1, seq, SubmitOutcome::Withheld));
        }
        let s = r.snapshot();
        let seqs: Vec<u32> = s.submits.iter().map(|x| x.sequence_number).collect();
        assert_eq!(seqs, [4, 5]);
        let ids: Vec<u64> = s.connections.iter().map(|c| c.id).collect();
        // Open connections are kept even beyond the limit; the closed one went first.
        assert_eq!(ids, [1, 3, 4]);
        assert_eq!(s.connections[0].submits, 5);
    }

    #[test]
    fn a_limited_record_stays_bounded_under_load_and_shows_exactly_the_newest() {
        let r = Recorder::new(Some(10), None);
        r.connected(1, SocketAddr::from(([127, 0, 0, 1], 1)));
        for seq in 1..=1000 {
            r.submit(submit(1, seq, SubmitOutcome::Withheld));
            assert!(r.lock().submits.len() <= 20, "trimmed at twice the limit");
        }
        let seqs: Vec<u32> = r
            .snapshot()
            .submits
            .iter()
            .map(|x| x.sequence_number)
            .collect();
        assert_eq!(seqs, (991..=1000).collect::<Vec<_>>());
    }

    #[test]
    fn a_deliver_response_marks_the_matching_delivery() {
        let r = Recorder::new(None, None);
        let sent = |seq| DeliverRecord {
            connection: 1,
            system_id: "esme".into(),
            sequence_number: seq,
            kind: DeliverKind::Receipt {
                message_id: "ab".into(),
            },
            short_message: b"id:ab".to_vec(),
            response_status: None,
        };
        let place = r.deliver_sent(sent(7));
        r.deliver_answered(
            DeliverRecord {
                response_status: Some(CommandStatus::EsmeRok),
                ..sent(8)
            },
            place,
        );
        assert!(r.snapshot().acknowledged_receipts().is_empty());
        r.deliver_answered(
            DeliverRecord {
                response_status: Some(CommandStatus::EsmeRok),
                ..sent(7)
            },
            place,
        );
        assert_eq!(r.snapshot().acknowledged_receipts().len(), 1);
    }

    #[test]
    fn answers_find_their_delivery_in_a_trimmed_record() {
        let r = Recorder::new(Some(3), None);
        let sent = |seq| DeliverRecord {
            connection: 1,
            system_id: "esme".into(),
            sequence_number: seq,
            kind: DeliverKind::MobileOriginated,
            short_message: b"mo".to_vec(),
            response_status: None,
        };
        let places: Vec<u64> = (1..=20).map(|seq| r.deliver_sent(sent(seq))).collect();
        for (seq, place) in (1..=20).zip(&places) {
            r.deliver_answered(
                DeliverRecord {
                    response_status: Some(CommandStatus::EsmeRok),
                    ..sent(seq)
                },
                *place,
            );
        }
        let s = r.snapshot();
        assert_eq!(
            s.delivers
                .iter()
                .map(|d| d.sequence_number)
                .collect::<Vec<_>>(),
            [18, 19, 20]
        );
        assert!(s
            .delivers
            .iter()
            .all(|d| d.response_status == Some(CommandStatus::EsmeRok)));
    }

    #[test]
    fn an_answer_is_journaled_after_a_limited_record_dropped_its_delivery() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("record.jsonl");
        let r = Recorder::new(Some(2), Some(Journal::open(&path).unwrap()));
        let sent = |seq| DeliverRecord {
            connection: 1,
            system_id: "esme".into(),
            sequence_number: seq,
            kind: DeliverKind::MobileOriginated,
            short_message: b"mo".to_vec(),
            response_status: None,
        };
        let places: Vec<u64> = (1..=10).map(|seq| r.deliver_sent(sent(seq))).collect();
        assert!(r.snapshot().delivers.iter().all(|d| d.sequence_number > 2));
        r.deliver_answered(
            DeliverRecord {
                response_status: Some(CommandStatus::EsmeRok),
                ..sent(1)
            },
            places[0],
        );
        let text = std::fs::read_to_string(&path).unwrap();
        let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(last["event"], "deliver_answered");
        assert_eq!(last["sequence_number"], 1);
        assert_eq!(last["command_status"], 0);
    }
}
