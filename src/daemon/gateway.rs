//! [`Gateway`]: the [`Engine`] the HTTP API talks to, built over the running channels.
//!
//! It turns an accepted request's segments into submit_sm (with the channel's addressing
//! defaults), hands them to the channel's queue all at once or not at all, and reports each
//! segment's outcome back to the store. It also owns the inbound side: delivery receipts
//! and mobile-originated messages (reassembled when they come in segments) are handed to the
//! API's [`Reports`], and the SMSC is answered only after that succeeded.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::api::Reports;
use super::channels::Channel;
use super::engine::{
    ChannelCounters, ChannelError, ChannelStatus, Engine, EnqueueError, InboundContent,
    InboundReport, OutboundRequest, ReceiptReport, ReceiptState,
};
use super::mask::mask_card_numbers;
use super::store::MessageId;
use crate::codec::pdu::SubmitSm;
use crate::codec::{
    COctetString, CommandStatus, DataCoding, EsmClass, Npi, ShortMessage, SmppTime, Tlv, TlvTag,
    Tlvs, Ton, ValueError,
};
use crate::config::{relative_time, ChannelConfig, InboundEncoding};
use crate::session::{FailureReason, Inbound, InboundPdu, OutboundMessage, SubmitOutcome};
use crate::sms::{
    self, Coding, ConcatInfo, Field, Fragment, Pushed, Reassembler, ReassemblyLimits, SarValues,
    Segment,
};
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
    reports: Reports,
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

    fn read_channels(&self) -> std::sync::RwLockReadGuard<'_, Vec<Channel>> {
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
            .map(|c| c.config.clone())
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

    fn channel_config(&self, channel: Option<&str>) -> Option<ChannelConfig> {
        let channels = self.read_channels();
        match channel {
            Some(name) => channels.iter().find(|c| c.config.name == name),
            None => channels.first(),
        }
        .map(|c| c.config.clone())
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
        let submits = request
            .segments
            .iter()
            .map(|segment| submit_sm(&target.config, &request, segment))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| EnqueueError::Down {
                channel: channel.to_string(),
                reason: format!("cannot build submit_sm: {e}"),
            })?;
        // All segments or none: a half-queued message would be reported neither way.
        let permits =
            target
                .queue
                .try_reserve_many(submits.len())
                .map_err(|_| EnqueueError::Full {
                    channel: channel.to_string(),
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

/// Submit outcomes and inbound messages of every channel, in one task: outcomes to the
/// store; receipts to the store and webhook; mobile-originated messages reassembled and
/// handed on. The SMSC is answered after the hand-over.
///
/// One task for both, because order matters: an SMSC may send a receipt right behind the
/// submit_sm_resp it refers to, and the receipt can only be matched once the store knows the
/// SMSC's message id. A session sends a message's outcome before it reads the PDUs after its
/// response, so draining the outcomes before each inbound message is enough.
pub struct InboundHandler {
    gateway: Arc<Gateway>,
    reassembly: HashMap<String, Reassembler>,
}

impl InboundHandler {
    /// A handler reporting through `gateway`.
    pub fn new(gateway: Arc<Gateway>) -> InboundHandler {
        InboundHandler {
            gateway,
            reassembly: HashMap::new(),
        }
    }

    /// Runs until both receivers close, expiring incomplete concatenated messages as it goes.
    pub async fn run(
        mut self,
        mut outcomes: mpsc::UnboundedReceiver<SubmitOutcome>,
        mut inbound: mpsc::UnboundedReceiver<(String, Inbound)>,
    ) {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(10));
        let mut outcomes_open = true;
        loop {
            tokio::select! {
                biased;
                next = outcomes.recv(), if outcomes_open => match next {
                    Some(outcome) => self.gateway.on_outcome(outcome),
                    None => outcomes_open = false,
                },
                next = inbound.recv() => match next {
                    Some((channel, message)) => {
                        while let Ok(outcome) = outcomes.try_recv() {
                            self.gateway.on_outcome(outcome);
                        }
                        self.handle(&channel, message);
                    }
                    None => return,
                },
                _ = tick.tick() => self.expire(Instant::now()),
            }
        }
    }

    fn expire(&mut self, now: Instant) {
        for (channel, r) in &mut self.reassembly {
            for dropped in r.expire(now) {
                tracing::warn!(
                    channel = %channel,
                    event = "inbound_segments_dropped",
                    reason = ?dropped.reason,
                    received = dropped.received,
                    total = dropped.key.total,
                    "an incomplete concatenated message was dropped"
                );
            }
        }
    }

    fn config(&self, channel: &str) -> Option<ChannelConfig> {
        self.gateway
            .read_channels()
            .iter()
            .find(|c| c.config.name == channel)
            .map(|c| c.config.clone())
    }

    /// Handles one inbound PDU and answers it.
    pub fn handle(&mut self, channel: &str, message: Inbound) {
        let fields = Fields::of(&message.pdu);
        let verdict = if message.is_receipt {
            self.receipt(channel, &fields)
        } else {
            self.mobile_originated(channel, &fields)
        };
        match verdict {
            Ok(()) => message.accept(),
            // Not stored: the SMSC keeps it and delivers it again later.
            Err(()) => message.reject(CommandStatus::EsmeRxTAppn),
        }
    }

    fn receipt(&mut self, channel: &str, f: &Fields) -> Result<(), ()> {
        let receipted = f
            .tlvs
            .receipted_message_id()
            .and_then(|b| std::str::from_utf8(b).ok());
        let tlvs = sms::ReceiptTlvs {
            receipted_message_id: receipted,
            message_state: f
                .tlvs
                .get(TlvTag::MessageState)
                .and_then(|t| t.as_uint())
                .and_then(|v| u8::try_from(v).ok()),
            network_error_code: f
                .tlvs
                .network_error_code()
                .map(|(t, c)| [t, (c >> 8) as u8, c as u8]),
        };
        let parsed = match sms::parse_receipt(&f.text, tlvs) {
            Ok(r) => r,
            Err(e) => {
                // Asking for it again would bring the same bytes: keep the link moving.
                tracing::warn!(channel, event = "receipt_unreadable", error = %e, "a delivery receipt could not be parsed");
                return Ok(());
            }
        };
        let Some(id) = parsed.message_id else {
            tracing::warn!(
                channel,
                event = "receipt_without_id",
                "a delivery receipt names no message id"
            );
            return Ok(());
        };
        let error_code = match (parsed.network_error, parsed.text.and_then(|t| t.err)) {
            (Some(n), _) => Some(format!("{}:{}", n.network_type, n.error_code)),
            (None, Some(err)) => Some(err.to_string()),
            (None, None) => None,
        };
        let report = ReceiptReport {
            smsc_message_id: id.to_string(),
            state: parsed
                .state
                .map(ReceiptState::from)
                .unwrap_or(ReceiptState::Unknown),
            error_code,
        };
        self.gateway.reports.receipt(channel, report).map_err(|e| {
            tracing::warn!(channel, event = "receipt_deferred", reason = %e, "receipt refused for now; the SMSC will deliver it again");
        })
    }

    fn mobile_originated(&mut self, channel: &str, f: &Fields) -> Result<(), ()> {
        let Some(config) = self.config(channel) else {
            return Err(());
        };
        let sar = sar_values(&f.tlvs);
        let (concat, payload) = match sms::inbound_concat(f.esm_class, &f.text, sar) {
            Ok(v) => v,
            Err(e) => {
                tracing::warn!(channel, event = "inbound_udh_invalid", error = %e, "inbound message with a broken UDH; delivered as binary");
                (None, &f.text[..])
            }
        };
        let content = match concat {
            None => decode(payload, f.data_coding, &config),
            Some(concat) => match self.push_segment(channel, f, concat, payload) {
                Some(whole) => decode(&whole, f.data_coding, &config),
                // Held until the other segments arrive (or dropped after a timeout).
                None => return Ok(()),
            },
        };
        let content = match content {
            InboundContent::Text(t) if t.is_empty() => InboundContent::Text(config.empty_message),
            other => other,
        };
        if config.debug_mode {
            if let InboundContent::Text(t) = &content {
                tracing::debug!(channel, event = "inbound_text", text = %mask_card_numbers(t), "inbound message text");
            }
        }
        let report = InboundReport {
            from: f.source.clone(),
            to: f.destination.clone(),
            content,
        };
        self.gateway.reports.inbound(channel, report).map_err(|e| {
            tracing::warn!(channel, event = "inbound_deferred", reason = %e, "inbound message refused for now; the SMSC will deliver it again");
        })
    }

    fn push_segment(
        &mut self,
        channel: &str,
        f: &Fields,
        concat: ConcatInfo,
        payload: &[u8],
    ) -> Option<Vec<u8>> {
        let r = self
            .reassembly
            .entry(channel.to_string())
            .or_insert_with(|| Reassembler::new(ReassemblyLimits::default()));
        let mut dropped = Vec::new();
        let pushed = r.push(
            Fragment {
                source: &f.source,
                destination: &f.destination,
                concat,
                payload,
            },
            Instant::now(),
            &mut dropped,
        );
        for d in dropped {
            tracing::warn!(channel, event = "inbound_segments_dropped", reason = ?d.reason, received = d.received, "an incomplete concatenated message was dropped");
        }
        match pushed {
            Ok(Pushed::Complete(complete)) => Some(complete.concat()),
            Ok(Pushed::Stored | Pushed::Duplicate) => None,
            Err(e) => {
                tracing::warn!(channel, event = "inbound_segment_invalid", error = %e, "an inbound segment was ignored");
                None
            }
        }
    }
}

/// The fields of a deliver_sm or data_sm that inbound handling reads.
struct Fields {
    source: String,
    destination: String,
    esm_class: u8,
    data_coding: u8,
    /// short_message, or message_payload when short_message is empty.
    text: Bytes,
    tlvs: Tlvs,
}

impl Fields {
    fn of(pdu: &InboundPdu) -> Fields {
        let (source, destination, esm, dc, short, tlvs) = match pdu {
            InboundPdu::Deliver(d) => (
                d.source_addr.as_bytes(),
                d.destination_addr.as_bytes(),
                d.esm_class,
                d.data_coding,
                d.short_message.bytes().clone(),
                &d.tlvs,
            ),
            InboundPdu::Data(d) => (
                d.source_addr.as_bytes(),
                d.destination_addr.as_bytes(),
                d.esm_class,
                d.data_coding,
                Bytes::new(),
                &d.tlvs,
            ),
        };
        let text = match tlvs.get(TlvTag::MessagePayload) {
            Some(p) if short.is_empty() => p.value_bytes(),
            _ => short,
        };
        Fields {
            source: String::from_utf8_lossy(source).into_owned(),
            destination: String::from_utf8_lossy(destination).into_owned(),
            esm_class: esm.0,
            data_coding: dc.value(),
            text,
            tlvs: tlvs.clone(),
        }
    }
}

fn sar_values(tlvs: &Tlvs) -> Option<SarValues> {
    let get = |tag| tlvs.get(tag).and_then(|t| t.as_uint());
    Some(SarValues {
        msg_ref_num: u16::try_from(get(TlvTag::SarMsgRefNum)?).ok()?,
        total_segments: u8::try_from(get(TlvTag::SarTotalSegments)?).ok()?,
        segment_seqnum: u8::try_from(get(TlvTag::SarSegmentSeqnum)?).ok()?,
    })
}

/// Text when the data_coding is a text coding we read (data_coding 0 per
/// `x-smpp-inbound-enc-default`) and the bytes decode; the octets otherwise, untouched.
fn decode(bytes: &[u8], data_coding: u8, config: &ChannelConfig) -> InboundContent {
    let coding = match data_coding {
        0 => Some(match config.inbound_encoding {
            InboundEncoding::Gsm7 => Coding::Gsm7,
            InboundEncoding::Ascii => Coding::Ia5,
            InboundEncoding::Latin1 => Coding::Latin1,
        }),
        other => Coding::from_data_coding(other),
    };
    match coding.map(|c| sms::decode(bytes, c)) {
        Some(Ok(text)) => InboundContent::Text(text),
        _ => InboundContent::Binary {
            data: bytes.to_vec(),
            data_coding,
        },
    }
}
