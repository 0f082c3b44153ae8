//! [`Gateway`]: the [`Engine`] the HTTP API talks to, built over the running channels.
//!
//! It turns an accepted request's segments into submit_sm (with the channel's addressing
//! defaults), hands them to the channel's queue all at once or not at all, and reports each
//! segment's outcome back to the store. What comes back from the SMSC is handled by
//! [`super::inbound::InboundHandler`].

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use tokio::sync::mpsc;

use super::api::Reports;
use super::channels::Channel;
use super::engine::{
    ChannelCounters, ChannelError, ChannelStatus, Engine, EnqueueError, OutboundRequest,
};
use super::store::MessageId;
use crate::codec::pdu::SubmitSm;
use crate::codec::{
    COctetString, DataCoding, EsmClass, Npi, ShortMessage, SmppTime, Tlv, TlvTag, Tlvs, Ton,
    ValueError,
};
use crate::config::{relative_time, ChannelConfig};
use crate::session::{FailureReason, OutboundMessage, SubmitOutcome};
use crate::sms::{Field, SarValues, Segment};
use crate::supervisor::ChannelState;

/// Where a submitted segment came from, to report its outcome.
#[derive(Debug, Clone)]
struct Pending {
    id: MessageId,
    segment: usize,
}

/// The running channels, seen as an [`Engine`].
pub struct Gateway {
    channels: RwLock<Vec<Channel>>,
    pending: Mutex<HashMap<u64, Pending>>,
    next_id: AtomicU64,
    pub(super) reports: Reports,
}

impl Gateway {
    /// A gateway over `channels` (in configured order), reporting to `reports`.
    pub fn new(channels: Vec<Channel>, reports: Reports) -> Arc<Gateway> {
        Arc::new(Gateway {
            channels: RwLock::new(channels),
            pending: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            reports,
        })
    }

    pub(super) fn read_channels(&self) -> std::sync::RwLockReadGuard<'_, Vec<Channel>> {
        self.channels.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes every channel out (to stop them), leaving none.
    pub fn take_channels(&self) -> Vec<Channel> {
        let mut guard = self
            .channels
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        std::mem::take(&mut *guard)
    }

    /// Takes the channels named in `names` out, leaving the others running.
    pub fn take_named(&self, names: &[String]) -> Vec<Channel> {
        let mut guard = self
            .channels
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let (taken, kept) = std::mem::take(&mut *guard)
            .into_iter()
            .partition(|c| names.contains(&c.config.name));
        *guard = kept;
        taken
    }

    /// Puts `channel` in, replacing one of the same name, keeping `order` (channel names in
    /// configured order) for the result.
    pub fn insert(&self, channel: Channel, order: &[String]) {
        let mut guard = self
            .channels
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        guard.retain(|c| c.config.name != channel.config.name);
        guard.push(channel);
        guard.sort_by_key(|c| order.iter().position(|n| *n == c.config.name));
    }

    /// The configurations of the running channels, in order.
    pub fn configs(&self) -> Vec<ChannelConfig> {
        self.read_channels()
            .iter()
            .map(|c| ChannelConfig::clone(&c.config))
            .collect()
    }

    /// One-line summary for systemd's STATUS: how many channels are bound.
    pub fn summary(&self) -> String {
        let channels = self.read_channels();
        let bound = channels
            .iter()
            .filter(|c| c.status.borrow().state == ChannelState::Bound)
            .count();
        let failed = channels
            .iter()
            .filter(|c| c.status.borrow().state == ChannelState::Failed)
            .count();
        let mut s = format!("{bound} of {} channels bound", channels.len());
        if failed > 0 {
            s.push_str(&format!(", {failed} failed (see logs: 43010)"));
        }
        s
    }

    /// Re-queues messages a stopped channel gave back, on the channel now holding its name;
    /// fails them when there is none (the channel was removed from the configuration).
    pub fn requeue(&self, channel: &str, messages: impl IntoIterator<Item = OutboundMessage>) {
        let channels = self.read_channels();
        let target = channels.iter().find(|c| c.config.name == channel);
        for message in messages {
            let sent = match target {
                Some(c) => c.queue.try_send(message).map_err(|e| match e {
                    mpsc::error::TrySendError::Full(m) | mpsc::error::TrySendError::Closed(m) => m,
                }),
                None => Err(message),
            };
            if let Err(message) = sent {
                self.finish(message.id, |reports, p| {
                    reports.failed(&p.id, None, "channel removed or full during a reload");
                });
            }
        }
    }

    fn finish(&self, key: u64, report: impl FnOnce(&Reports, &Pending)) {
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&key);
        match pending {
            Some(p) => report(&self.reports, &p),
            None => tracing::warn!(
                event = "unknown_outcome",
                key,
                "outcome for no pending message"
            ),
        }
    }

    /// Reports one submit outcome to the store.
    pub fn on_outcome(&self, outcome: SubmitOutcome) {
        match outcome {
            SubmitOutcome::Accepted {
                message,
                message_id,
            } => self.finish(message.id, |r, p| {
                r.submitted(&p.id, p.segment, &message_id)
            }),
            SubmitOutcome::Failed { message, reason } => {
                let (status, text) = match &reason {
                    FailureReason::Rejected(s) => (Some(s.value()), format!("rejected: {s}")),
                    FailureReason::RetriesExhausted(s) => {
                        (Some(s.value()), format!("retries exhausted: {s}"))
                    }
                    FailureReason::NoResponse => (None, "no submit_sm_resp in time".into()),
                    FailureReason::Invalid(e) => (None, format!("cannot be encoded: {e}")),
                };
                self.finish(message.id, |r, p| r.failed(&p.id, status, &text));
            }
        }
    }

    fn channel_status(channel: &Channel) -> ChannelStatus {
        let status = channel.status.borrow().clone();
        let counters = channel.counters();
        let bind = channel.config.bind_mode;
        let state = match status.state {
            ChannelState::Starting => "starting",
            ChannelState::Connecting => "connecting",
            ChannelState::Binding => "binding",
            ChannelState::Bound => "bound",
            ChannelState::BackingOff { .. } => "backing off",
            ChannelState::Stopped => "stopped",
            ChannelState::Failed => "failed",
        };
        ChannelStatus {
            name: channel.config.name.clone(),
            state: state.to_string(),
            bound: status.state == ChannelState::Bound,
            can_transmit: bind.can_submit(),
            can_receive: bind.can_receive(),
            last_error: status.last_error.map(|e| ChannelError {
                code: e.code,
                reason: format!("{}: {}", e.reason, e.message),
            }),
            counters: ChannelCounters {
                submitted: counters.submitted,
                acknowledged: counters.acknowledged,
                failed: counters.failed,
                resent: counters.resent,
                received: counters.received,
                receipts: counters.receipts,
                window_in_use: u32::try_from(counters.in_flight).unwrap_or(u32::MAX),
                window_size: u32::from(channel.config.window_size),
            },
        }
    }
}

impl Engine for Gateway {
    fn channels(&self) -> Vec<ChannelStatus> {
        self.read_channels()
            .iter()
            .map(Self::channel_status)
            .collect()
    }

    fn channel_config(&self, channel: Option<&str>) -> Option<Arc<ChannelConfig>> {
        let channels = self.read_channels();
        match channel {
            Some(name) => channels.iter().find(|c| c.config.name == name),
            None => channels.first(),
        }
        .map(|c| Arc::clone(&c.config))
    }

    fn enqueue(&self, channel: &str, request: OutboundRequest) -> Result<(), EnqueueError> {
        let channels = self.read_channels();
        let Some(target) = channels.iter().find(|c| c.config.name == channel) else {
            return Err(EnqueueError::Unknown {
                channel: channel.to_string(),
            });
        };
        let state = target.status.borrow().state;
        if state != ChannelState::Bound || !target.config.bind_mode.can_submit() {
            return Err(EnqueueError::Down {
                channel: channel.to_string(),
                reason: format!("{state:?}"),
            });
        }
        // All segments or none: a half-queued message would be reported neither way. Room is
        // reserved before any submit_sm is built, so that a full channel (the usual refusal
        // under load) costs nothing more; unused permits are released when dropped.
        let permits = target
            .queue
            .try_reserve_many(request.segments.len())
            .map_err(|_| EnqueueError::Full {
                channel: channel.to_string(),
            })?;
        let submits = request
            .segments
            .iter()
            .map(|segment| submit_sm(&target.config, &request, segment))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| EnqueueError::Down {
                channel: channel.to_string(),
                reason: format!("cannot build submit_sm: {e}"),
            })?;
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        for ((segment, submit), permit) in submits.into_iter().enumerate().zip(permits) {
            let key = self.next_id.fetch_add(1, Ordering::Relaxed);
            pending.insert(
                key,
                Pending {
                    id: request.id.clone(),
                    segment,
                },
            );
            permit.send(OutboundMessage {
                id: key,
                submit,
                attempts: 0,
            });
        }
        Ok(())
    }
}

/// One segment as a submit_sm, with the channel's addressing defaults.
fn submit_sm(
    config: &ChannelConfig,
    request: &OutboundRequest,
    segment: &Segment,
) -> Result<SubmitSm, ValueError> {
    let source = request
        .from
        .as_deref()
        .or(config.default_reply_address.as_deref())
        .unwrap_or("");
    let validity = match request.validity {
        Some(d) => relative_time(i64::try_from(d.as_secs()).unwrap_or(i64::MAX)),
        None => config.validity_period.clone(),
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
        destination_addr: COctetString::new(request.to.as_bytes())?,
        esm_class: EsmClass(segment.esm_class),
        registered_delivery: u8::from(request.delivery_report),
        validity_period: SmppTime::new(validity.into_bytes())?,
        data_coding: DataCoding::from(segment.data_coding),
        short_message,
        tlvs,
        ..Default::default()
    })
}
