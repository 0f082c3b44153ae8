//! [`InboundHandler`]: what comes back from the SMSC — submit outcomes, delivery receipts
//! and mobile-originated messages — turned into store updates and webhook events, in order.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::mpsc;

use super::engine::{InboundContent, InboundReport, ReceiptReport, ReceiptState};
use super::gateway::Gateway;
use super::mask::mask_card_numbers;
use crate::codec::{CommandStatus, TlvTag, Tlvs};
use crate::config::{ChannelConfig, InboundEncoding};
use crate::session::{Inbound, InboundPdu, SubmitOutcome};
use crate::sms::{
    self, Coding, ConcatInfo, Fragment, Pushed, Reassembler, ReassemblyLimits, SarValues,
};

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

    fn config(&self, channel: &str) -> Option<Arc<ChannelConfig>> {
        self.gateway
            .read_channels()
            .iter()
            .find(|c| c.config.name == channel)
            .map(|c| Arc::clone(&c.config))
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
            InboundContent::Text(t) if t.is_empty() => {
                InboundContent::Text(config.empty_message.clone())
            }
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
