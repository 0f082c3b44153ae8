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
pub struct InFlight {
    count: AtomicUsize,
    recorded: Notify,
}

impl InFlight {
    /// Segments outstanding now.
    pub fn get(&self) -> usize {
        self.count.load(Ordering::Relaxed)
    }

    fn handed(&self, n: usize) {
        self.count.fetch_add(n, Ordering::Relaxed);
    }

    /// The sink recorded `n` outcomes.
    pub fn recorded(&self, n: usize) {
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
pub struct Feeder {
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
    pub async fn run(mut self) -> Vec<i64> {
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
pub fn submit_sm(
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
