//! The feeder of one channel: claims from the store what the channel may send, while it is
//! bound and its queue has room, and turns each segment into a submit_sm.
//!
//! The channel's queue is short (twice its window), so a channel that goes down holds few
//! messages; the rest stay in the store, where any other channel able to transmit claims the
//! ones not tied to this channel.

use super::smpp_server::{Sending, UserRoutes};
use super::store::{segment_key, Change, ClaimedMessage, Fence, Store, StoreError};
use crate::codec::pdu::SubmitSm;
use crate::codec::{
    COctetString, DataCoding, EsmClass, Npi, ShortMessage, SmppTime, Tlv, TlvTag, Tlvs, Ton,
    ValueError,
};
use crate::config::{relative_time, ChannelConfig};
use crate::session::OutboundMessage;
use crate::sms::{Field, SarValues, Segment};
use crate::supervisor::{ChannelState, ChannelStatus};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, watch, Notify};
use tokio::time::Instant;

/// The most messages one claim takes: a whole queue at the largest windows (twice the
/// window), so that one store call refills what the session emptied.
const MAX_CLAIM: usize = 2048;
/// The least time between a claim that emptied the queue and the next claim. Under a steady
/// stream of single accepted messages every commit wakes the feeder; claiming at each wake
/// costs a store call, a write to the SMSC and a commit of the answers for a handful of
/// messages each time. Waiting this long gathers them into one claim, one write and one
/// record of their responses, at the price of at most this much before a message is sent
/// (the API's answer does not wait for it). A claim that filled up is followed at once: a
/// backlog drains as fast as before.
const CLAIM_GAP: Duration = Duration::from_millis(5);
/// How often an idle feeder looks at the store without being woken (released messages,
/// another channel gone down).
const IDLE_POLL: Duration = Duration::from_millis(1000);

/// Segments handed to a channel whose outcome its sink has not recorded yet. The feeder
/// stops claiming while too many are outstanding, so a store that falls behind slows the
/// sending down instead of letting reports pile up in memory.
#[derive(Debug, Default)]
pub(crate) struct InFlight {
    count: AtomicUsize,
    recorded: Notify,
}

impl InFlight {
    /// Segments outstanding now.
    pub(crate) fn get(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    fn handed(&self, n: usize) {
        self.count.fetch_add(n, Ordering::Relaxed);
    }

    /// The sink recorded `n` outcomes.
    pub(crate) fn recorded(&self, n: usize) {
        if n == 0 {
            return;
        }
        let _ = self
            .count
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| {
                Some(c.saturating_sub(n))
            });
        self.recorded.notify_one();
    }
}

/// One channel's feeder task.
pub(crate) struct Feeder {
    /// The channel.
    pub config: Arc<ChannelConfig>,
    /// Where messages come from.
    pub store: Arc<dyn Store>,
    /// The channel's queue.
    pub queue: mpsc::Sender<OutboundMessage>,
    /// The channel's state.
    pub status: watch::Receiver<ChannelStatus>,
    /// Bumped when new messages were committed.
    pub wake: watch::Receiver<u64>,
    /// Set to stop.
    pub stop: watch::Receiver<bool>,
    /// Segments sent again after a restart or a channel stop (`smppd_resends`).
    pub resends: Arc<AtomicU64>,
    /// Segments handed over whose outcome is not recorded yet (shared with the sink).
    pub in_flight: Arc<InFlight>,
    /// The session slot it claims for (every claim is made under it).
    pub fence: Fence,
    /// Which SMPP users' queues the channel serves; told while this slot can transmit.
    pub routes: Arc<UserRoutes>,
}

impl std::fmt::Debug for Feeder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Shared handles and tasks: what they point to is not this value's to print.
        f.debug_struct("Feeder").finish_non_exhaustive()
    }
}

/// The most segments a channel's session slot holds without their outcome recorded (queued,
/// in the window, or answered and not yet committed), for a queue of `queue_capacity`: what
/// the channel keeps in memory. (Of these, the written ones are fewer: at most the slot's
/// [`crate::session::RecordWindow`].)
fn in_flight_limit(queue_capacity: usize) -> usize {
    (queue_capacity * 2).max(64)
}

impl Feeder {
    /// The most segments outstanding (queued, in the window, or reported and not yet
    /// recorded) before claiming waits for the sink.
    fn in_flight_limit(&self) -> usize {
        in_flight_limit(self.queue.max_capacity())
    }

    fn stopping(&self) -> bool {
        *self.stop.borrow()
    }

    fn may_send(&self) -> bool {
        self.status.borrow().state == ChannelState::Bound
            && self.config.session.bind_mode().can_submit()
    }

    /// Runs until stopped (or the channel's queue closes). Returns the messages it claimed
    /// but could not hand over, for the caller to release once the channel has stopped.
    pub(crate) async fn run(mut self) -> Vec<i64> {
        // When the last claim took everything there was, when it did.
        let mut emptied_at: Option<Instant> = None;
        // Counts this slot as able to transmit for the users' routes while it is.
        let mut sending: Option<Sending> = None;
        loop {
            if self.stopping() {
                return Vec::new();
            }
            let may_send = self.may_send();
            if may_send != sending.is_some() {
                sending = may_send.then(|| self.routes.sending(&self.config.name));
            }
            if !may_send {
                tokio::select! {
                    _ = self.status.changed() => {}
                    _ = self.stop.changed() => {}
                }
                continue;
            }
            if self.in_flight.get() >= self.in_flight_limit() {
                tokio::select! {
                    _ = self.in_flight.recorded.notified() => {}
                    _ = self.stop.changed() => {}
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                }
                continue;
            }
            if let Some(next) = emptied_at.map(|at| at + CLAIM_GAP) {
                if next > Instant::now() {
                    tokio::select! {
                        _ = tokio::time::sleep_until(next) => {}
                        _ = self.stop.changed() => {}
                    }
                    continue;
                }
            }
            self.wake.borrow_and_update();
            // Claim in batches of at least half the queue: one store call per batch, not
            // one per freed slot.
            let half = (self.queue.max_capacity() / 2).max(1);
            let room = self.queue.capacity();
            if room < half {
                tokio::select! {
                    permits = self.queue.reserve_many(half) => {
                        if permits.is_err() {
                            return Vec::new();
                        }
                    }
                    _ = self.stop.changed() => {}
                }
                continue;
            }
            let limit = room.min(MAX_CLAIM);
            let users = self.routes.queues_for(&self.config.name);
            let claimed = match self
                .store
                .claim_with(&self.fence, users, limit, SystemTime::now())
                .await
            {
                Ok(c) => {
                    emptied_at = (c.len() < limit).then(Instant::now);
                    c
                }
                Err(StoreError::Fenced { .. }) => {
                    // The slot was taken over: nothing more to claim; the channel is being
                    // stopped by whoever held the lease.
                    let _ = self.stop.wait_for(|s| *s).await;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(channel = %self.config.name, event = "claim_failed", error = %e, "cannot take messages from the store; retrying");
                    tokio::time::sleep(IDLE_POLL).await;
                    continue;
                }
            };
            if claimed.is_empty() {
                tokio::select! {
                    _ = self.wake.changed() => {}
                    _ = self.status.changed() => {}
                    _ = self.stop.changed() => {}
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                }
                continue;
            }
            if let Some(leftover) = self.hand_over(claimed).await {
                return leftover;
            }
        }
    }

    /// Queues every segment of `claimed`; `Some` with what was not queued when stopped.
    async fn hand_over(&mut self, claimed: Vec<ClaimedMessage>) -> Option<Vec<i64>> {
        let now = SystemTime::now();
        let mut expired = Vec::new();
        let mut rest = claimed.into_iter();
        while let Some(message) = rest.next() {
            if message.expires_at <= now {
                expired.push(Change::Expired { seq: message.seq });
                continue;
            }
            if message.resend {
                self.resends
                    .fetch_add(message.segments.len() as u64, Ordering::Relaxed);
            }
            for (index, segment) in &message.segments {
                let key = segment_key(message.seq, *index);
                let submit = match submit_sm(&self.config, &message, segment, now) {
                    Ok(s) => s,
                    Err(e) => {
                        // Checked when accepted; a failure here means a configuration
                        // change made it unsendable on this channel.
                        let change = Change::Failed {
                            key,
                            status: None,
                            reason: format!("cannot build submit_sm: {e}"),
                        };
                        let _ = self.store.apply_for(&self.fence, vec![change], now).await;
                        break;
                    }
                };
                let outbound = OutboundMessage::new(key, submit);
                let sent = tokio::select! {
                    permit = self.queue.reserve() => match permit {
                        Ok(permit) => {
                            permit.send(outbound);
                            self.in_flight.handed(1);
                            true
                        }
                        Err(_) => false,
                    },
                    _ = self.stop.changed() => false,
                };
                if !sent {
                    let mut leftover = vec![message.seq];
                    leftover.extend(rest.map(|m| m.seq));
                    self.expire(expired).await;
                    return Some(leftover);
                }
            }
        }
        self.expire(expired).await;
        None
    }

    async fn expire(&self, changes: Vec<Change>) {
        if changes.is_empty() {
            return;
        }
        // Not recorded now (store failing): still claimed, so queued again and expired by
        // the upkeep after the next start; never sent.
        if let Err(e) = self
            .store
            .apply_for(&self.fence, changes, SystemTime::now())
            .await
        {
            tracing::warn!(channel = %self.config.name, event = "expiry_not_recorded", error = %e, "cannot record expired messages");
        }
    }
}

/// One segment as a submit_sm, with the channel's addressing defaults. The validity sent is
/// what remains of the message's own (so an SMSC never keeps it longer than asked), or the
/// channel's `x-smpp-validity-period` as written.
pub(crate) fn submit_sm(
    config: &ChannelConfig,
    message: &ClaimedMessage,
    segment: &Segment,
    now: SystemTime,
) -> Result<SubmitSm, ValueError> {
    let source = message
        .from
        .as_deref()
        .or(config.default_reply_address.as_deref())
        .unwrap_or("");
    let validity = if message.send_validity {
        let left = message
            .expires_at
            .duration_since(now)
            .unwrap_or_default()
            .as_secs()
            .max(1);
        relative_time(i64::try_from(left).unwrap_or(i64::MAX))
    } else {
        config.validity_period.clone()
    };
    let mut tlvs = Tlvs::default();
    let short_message = match segment.field {
        Field::ShortMessage => ShortMessage::new(segment.bytes.clone())?,
        Field::MessagePayload => {
            tlvs.push(Tlv::message_payload(segment.bytes.clone())?);
            ShortMessage::default()
        }
    };
    if let Some(SarValues {
        msg_ref_num,
        total_segments,
        segment_seqnum,
    }) = segment.sar
    {
        tlvs.push(Tlv::u16(TlvTag::SarMsgRefNum, msg_ref_num)?);
        tlvs.push(Tlv::u8(TlvTag::SarTotalSegments, total_segments)?);
        tlvs.push(Tlv::u8(TlvTag::SarSegmentSeqnum, segment_seqnum)?);
    }
    Ok(SubmitSm {
        service_type: COctetString::new(config.service_type.clone().into_bytes())?,
        source_addr_ton: Ton::from(config.source_addr_ton),
        source_addr_npi: Npi::from(config.source_addr_npi),
        source_addr: COctetString::new(source.as_bytes())?,
        dest_addr_ton: Ton::from(config.dest_addr_ton),
        dest_addr_npi: Npi::from(config.dest_addr_npi),
        destination_addr: COctetString::new(message.to.as_bytes())?,
        esm_class: EsmClass(segment.esm_class),
        registered_delivery: u8::from(message.delivery_report),
        validity_period: SmppTime::new(validity.into_bytes())?,
        data_coding: DataCoding::from(segment.data_coding),
        short_message,
        tlvs,
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::daemon::sink::sar_values;
    use crate::daemon::store::{split_key, MessageId};
    use crate::supervisor::ChannelState;

    /// Channel `c` with a validity period of an hour, a reply address, and ton/npi set.
    fn channel() -> ChannelConfig {
        let text = "[channel-c]\nx-smpp-host = \"127.0.0.1\"\nx-smpp-system-id = \"c\"\n\
                    x-smpp-validity-period = 3600\ndefault-reply-address = \"12345\"\n\
                    x-smpp-src-addr-ton = 5\nx-smpp-src-addr-npi = 0\n\
                    x-smpp-dest-addr-ton = 1\nx-smpp-dest-addr-npi = 1\n\
                    x-smpp-service-type = \"CMT\"\n";
        crate::config::Config::parse(text, std::path::Path::new("/tmp/f.toml"), &|_| None)
            .unwrap()
            .config
            .channels
            .remove(0)
    }

    fn message(now: SystemTime) -> ClaimedMessage {
        ClaimedMessage {
            seq: 1,
            id: MessageId::generate(),
            to: "447700900123".into(),
            from: Some("Acme".into()),
            delivery_report: true,
            expires_at: now + Duration::from_secs(90),
            send_validity: true,
            segments: Vec::new(),
            resend: false,
        }
    }

    fn short(bytes: &[u8]) -> Segment {
        Segment {
            bytes: bytes.to_vec(),
            field: Field::ShortMessage,
            esm_class: 0x40,
            data_coding: 8,
            sar: None,
        }
    }

    fn time(text: &str) -> SmppTime {
        SmppTime::new(text).unwrap()
    }

    #[test]
    fn a_segment_is_sent_with_the_messages_fields_and_the_channels_addressing() {
        let now = SystemTime::now();
        let submit = submit_sm(
            &channel(),
            &message(now),
            &short(b"\x05\x00\x03\x2a\x02\x01hi"),
            now,
        )
        .unwrap();
        assert_eq!(submit.service_type.as_bytes(), b"CMT");
        assert_eq!(submit.source_addr.as_bytes(), b"Acme");
        assert_eq!(submit.source_addr_ton, Ton::from(5));
        assert_eq!(submit.source_addr_npi, Npi::from(0));
        assert_eq!(submit.destination_addr.as_bytes(), b"447700900123");
        assert_eq!(submit.dest_addr_ton, Ton::from(1));
        assert_eq!(submit.dest_addr_npi, Npi::from(1));
        assert_eq!(submit.esm_class, EsmClass(0x40));
        assert_eq!(submit.data_coding, DataCoding::from(8));
        assert_eq!(submit.registered_delivery, 1);
        assert_eq!(
            submit.short_message.as_bytes(),
            b"\x05\x00\x03\x2a\x02\x01hi"
        );
        assert!(submit.tlvs.get(TlvTag::MessagePayload).is_none());
    }

    #[test]
    fn without_a_source_the_channels_reply_address_is_sent_else_none() {
        let now = SystemTime::now();
        let mut config = channel();
        let m = ClaimedMessage {
            from: None,
            ..message(now)
        };
        let submit = submit_sm(&config, &m, &short(b"x"), now).unwrap();
        assert_eq!(submit.source_addr.as_bytes(), b"12345");
        config.default_reply_address = None;
        let submit = submit_sm(&config, &m, &short(b"x"), now).unwrap();
        assert_eq!(submit.source_addr.as_bytes(), b"");
    }

    #[test]
    fn a_message_with_its_own_validity_sends_what_remains_of_it() {
        let now = SystemTime::now();
        let config = channel();
        let submit = submit_sm(&config, &message(now), &short(b"x"), now).unwrap();
        assert_eq!(
            submit.validity_period,
            time("000000000130000R"),
            "90 s left"
        );
        // Claimed at the last moment: at least a second, never an absolute or empty time.
        let late = now + Duration::from_secs(90);
        let submit = submit_sm(&config, &message(now), &short(b"x"), late).unwrap();
        assert_eq!(submit.validity_period, time("000000000001000R"));
        // Otherwise the channel's, as written.
        let m = ClaimedMessage {
            send_validity: false,
            ..message(now)
        };
        let submit = submit_sm(&config, &m, &short(b"x"), now).unwrap();
        assert_eq!(config.validity_period, "000000010000000R");
        assert_eq!(submit.validity_period, time(&config.validity_period));
    }

    #[test]
    fn a_payload_segment_goes_in_message_payload_with_its_sar_options() {
        let now = SystemTime::now();
        let sar = SarValues {
            msg_ref_num: 700,
            total_segments: 3,
            segment_seqnum: 2,
        };
        let segment = Segment {
            field: Field::MessagePayload,
            sar: Some(sar),
            esm_class: 0,
            ..short(&[b'a'; 300])
        };
        let submit = submit_sm(&channel(), &message(now), &segment, now).unwrap();
        assert!(submit.short_message.as_bytes().is_empty());
        assert_eq!(submit.tlvs.message_payload(), Some(&[b'a'; 300][..]));
        assert_eq!(sar_values(&submit.tlvs), Some(sar));
    }

    #[test]
    fn a_segment_that_does_not_fit_its_field_is_refused() {
        let now = SystemTime::now();
        assert!(submit_sm(&channel(), &message(now), &short(&[b'a'; 300]), now).is_err());
        let m = ClaimedMessage {
            to: "1".repeat(30),
            ..message(now)
        };
        assert!(submit_sm(&channel(), &m, &short(b"x"), now).is_err());
    }

    #[test]
    fn outstanding_segments_go_down_as_outcomes_are_recorded_and_never_below_zero() {
        let in_flight = InFlight::default();
        in_flight.handed(3);
        assert_eq!(in_flight.get(), 3);
        in_flight.recorded(2);
        assert_eq!(in_flight.get(), 1);
        in_flight.recorded(5);
        assert_eq!(in_flight.get(), 0);
        assert_eq!(in_flight_limit(16), 64, "at least 64");
        assert_eq!(in_flight_limit(2000), 4000, "twice the queue");
    }

    /// A feeder of channel `c` over a fresh SQLite store, with its queue's other end and
    /// the senders of its status and stop signals.
    struct Running {
        store: Arc<dyn Store>,
        queue: mpsc::Receiver<OutboundMessage>,
        status: watch::Sender<ChannelStatus>,
        stop: watch::Sender<bool>,
        _wake: watch::Sender<u64>,
        task: tokio::task::JoinHandle<Vec<i64>>,
        _dir: tempfile::TempDir,
    }

    impl Running {
        /// Starts the feeder with `messages` already accepted, the channel in `state`.
        async fn start(
            messages: Vec<crate::daemon::store::NewMessage>,
            state: ChannelState,
        ) -> Running {
            let dir = tempfile::tempdir().unwrap();
            let (store, _) = crate::daemon::store::sqlite::SqliteStore::open(
                crate::daemon::store::sqlite::SqliteOptions::new(dir.path().join("f.db")),
            )
            .unwrap();
            let store: Arc<dyn Store> = Arc::new(store);
            store.accept(messages, SystemTime::now()).await.unwrap();
            let (queue, queue_rx) = mpsc::channel(16);
            let (status, status_rx) = watch::channel(ChannelStatus::new(state));
            let (stop, stop_rx) = watch::channel(false);
            let (wake, wake_rx) = watch::channel(0);
            let feeder = Feeder {
                config: Arc::new(channel()),
                store: store.clone(),
                queue,
                status: status_rx,
                wake: wake_rx,
                stop: stop_rx,
                resends: Arc::default(),
                in_flight: Arc::default(),
                fence: Fence::unleased("c"),
                routes: UserRoutes::new(),
            };
            Running {
                store,
                queue: queue_rx,
                status,
                stop,
                _wake: wake,
                task: tokio::spawn(feeder.run()),
                _dir: dir,
            }
        }

        async fn state_of(&self, id: &MessageId) -> &'static str {
            self.store.get(id).await.unwrap().unwrap().state.as_str()
        }
    }

    /// Only a hung test waits this long.
    const HANG_GUARD: Duration = Duration::from_secs(60);

    #[tokio::test]
    async fn nothing_is_claimed_until_the_channel_is_bound() {
        let message = crate::daemon::store::shared_tests::message("c", true, 2);
        let id = message.id.clone();
        let mut running = Running::start(vec![message], ChannelState::Connecting).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(
            running.queue.try_recv().is_err(),
            "nothing queued while not bound"
        );
        assert_eq!(running.state_of(&id).await, "queued");
        running
            .status
            .send_modify(|s| s.state = ChannelState::Bound);
        for index in 0..2u8 {
            let outbound = tokio::time::timeout(HANG_GUARD, running.queue.recv())
                .await
                .expect("queued once bound")
                .unwrap();
            assert_eq!(split_key(outbound.id).1, index, "the segments in order");
            assert_eq!(outbound.submit.destination_addr.as_bytes(), b"447700900123");
        }
        running.stop.send(true).unwrap();
        assert!(
            running.task.await.unwrap().is_empty(),
            "everything claimed was queued"
        );
    }

    #[tokio::test]
    async fn a_message_past_its_validity_is_never_handed_to_the_session() {
        let mut late = crate::daemon::store::shared_tests::message("c", true, 1);
        late.expires_at = SystemTime::now() + Duration::from_millis(30);
        let on_time = crate::daemon::store::shared_tests::message("c", true, 1);
        let (late_id, on_time_id) = (late.id.clone(), on_time.id.clone());
        let mut running = Running::start(vec![late, on_time], ChannelState::Connecting).await;
        tokio::time::sleep(Duration::from_millis(60)).await;
        running
            .status
            .send_modify(|s| s.state = ChannelState::Bound);
        tokio::time::timeout(HANG_GUARD, running.queue.recv())
            .await
            .expect("the message on time is queued")
            .unwrap();
        // Past one idle poll: the feeder has looked at the store again.
        tokio::time::sleep(IDLE_POLL + Duration::from_millis(200)).await;
        assert!(
            running.queue.try_recv().is_err(),
            "the late message is not queued"
        );
        assert_eq!(
            running.state_of(&late_id).await,
            "queued",
            "left to the upkeep"
        );
        assert_eq!(
            running.state_of(&on_time_id).await,
            "queued",
            "claimed, not sent"
        );
        let store = running.store.clone();
        running.stop.send(true).unwrap();
        assert!(running.task.await.unwrap().is_empty());
        // Neither is claimable any more: one is claimed, the other past its validity.
        let claimed = store.claim("c", 10, SystemTime::now()).await.unwrap();
        assert!(claimed.is_empty(), "{claimed:?}");
    }
}
