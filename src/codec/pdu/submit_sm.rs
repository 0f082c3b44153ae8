//! submit_sm (SMPP 3.4 §4.4.1): the ESME submits one short message.

use super::body::Body;
use crate::codec::error::{EncodeError, Reason};
use crate::codec::header::CommandId;
use crate::codec::status::CommandStatus;
use crate::codec::tlv::{TlvTag, Tlvs};
use crate::codec::types::{Addr21, ServiceType, ShortMessage, SmppTime};
use crate::codec::values::{DataCoding, EsmClass, Npi, Ton};
use crate::codec::wire::{Fail, ReadResult, Reader, Trace, Writer};
use bytes::BytesMut;

/// The body of submit_sm; deliver_sm (§4.6.1) has the same field table and reuses it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubmitSm {
    /// SMS application service (max 6 incl. NUL); empty for the SMSC default.
    pub service_type: ServiceType,
    /// TON of source_addr.
    pub source_addr_ton: Ton,
    /// NPI of source_addr.
    pub source_addr_npi: Npi,
    /// Originator address (max 21 incl. NUL).
    pub source_addr: Addr21,
    /// TON of destination_addr.
    pub dest_addr_ton: Ton,
    /// NPI of destination_addr.
    pub dest_addr_npi: Npi,
    /// Recipient address (max 21 incl. NUL).
    pub destination_addr: Addr21,
    /// Messaging mode, message type and GSM features.
    pub esm_class: EsmClass,
    /// GSM TP-PID.
    pub protocol_id: u8,
    /// Priority level (0-3).
    pub priority_flag: u8,
    /// When to deliver; empty for immediately.
    pub schedule_delivery_time: SmppTime,
    /// When to give up; empty for the SMSC default.
    pub validity_period: SmppTime,
    /// Receipt / acknowledgement request bits.
    pub registered_delivery: u8,
    /// Replace an earlier message with the same source, destination and service_type.
    pub replace_if_present_flag: u8,
    /// Coding of short_message.
    pub data_coding: DataCoding,
    /// Canned message id; 0 when unused.
    pub sm_default_msg_id: u8,
    /// User data; sm_length on the wire is its length. Empty when message_payload is used.
    pub short_message: ShortMessage,
    /// Optional parameters in wire order.
    pub tlvs: Tlvs,
}

impl Body for SubmitSm {
    #[inline]
    fn decode<T: Trace>(r: &mut Reader<'_, T>) -> ReadResult<Self> {
        let service_type = r.c_octet("service_type")?;
        let [source_addr_ton, source_addr_npi] = r.u8s(["source_addr_ton", "source_addr_npi"])?;
        let source_addr = r.c_octet("source_addr")?;
        let [dest_addr_ton, dest_addr_npi] = r.u8s(["dest_addr_ton", "dest_addr_npi"])?;
        let destination_addr = r.c_octet("destination_addr")?;
        let [esm_class, protocol_id, priority_flag] =
            r.u8s(["esm_class", "protocol_id", "priority_flag"])?;
        let schedule_delivery_time = r.time("schedule_delivery_time")?;
        let validity_period = r.time("validity_period")?;
        let [registered_delivery, replace_if_present_flag, data_coding, sm_default_msg_id] = r
            .u8s([
                "registered_delivery",
                "replace_if_present_flag",
                "data_coding",
                "sm_default_msg_id",
            ])?;
        let sm_at = r.offset();
        let short_message = r.short_message()?;
        // From the octets consumed, not `short_message`: Pdu::decode_owned fills it in later.
        let sm_length = r.offset() - sm_at - 1;
        let tlvs = r.tlvs()?;
        check_payload(sm_length, &tlvs, sm_at)?;
        Ok(SubmitSm {
            service_type,
            source_addr_ton: source_addr_ton.into(),
            source_addr_npi: source_addr_npi.into(),
            source_addr,
            dest_addr_ton: dest_addr_ton.into(),
            dest_addr_npi: dest_addr_npi.into(),
            destination_addr,
            esm_class: EsmClass(esm_class),
            protocol_id,
            priority_flag,
            schedule_delivery_time,
            validity_period,
            registered_delivery,
            replace_if_present_flag,
            data_coding: data_coding.into(),
            sm_default_msg_id,
            short_message,
            tlvs,
        })
    }

    #[inline]
    fn wire_len(&self) -> usize {
        self.service_type.wire_len()
            + self.source_addr.wire_len()
            + self.destination_addr.wire_len()
            + self.schedule_delivery_time.as_c_octet().wire_len()
            + self.validity_period.as_c_octet().wire_len()
            + 12
            + self.short_message.len()
            + self.tlvs.wire_len()
    }

    #[inline]
    fn check(&self, id: CommandId) -> Result<(), EncodeError> {
        if !self.short_message.is_empty() && self.tlvs.get(TlvTag::MessagePayload).is_some() {
            return Err(EncodeError::ShortMessageAndPayload { pdu: id.name() });
        }
        Ok(())
    }

    #[inline]
    fn encode(&self, w: &mut Writer<'_>) {
        // Runs of one-octet fields go out as one copy each.
        w.c_octet(&self.service_type);
        w.slice(&[self.source_addr_ton.value(), self.source_addr_npi.value()]);
        w.c_octet(&self.source_addr);
        w.slice(&[self.dest_addr_ton.value(), self.dest_addr_npi.value()]);
        w.c_octet(&self.destination_addr);
        w.slice(&[self.esm_class.0, self.protocol_id, self.priority_flag]);
        w.c_octet(self.schedule_delivery_time.as_c_octet());
        w.c_octet(self.validity_period.as_c_octet());
        w.slice(&[
            self.registered_delivery,
            self.replace_if_present_flag,
            self.data_coding.value(),
            self.sm_default_msg_id,
        ]);
        w.short_message(&self.short_message);
        self.tlvs.encode(w);
    }
}

impl SubmitSm {
    /// Appends this body as a submit_sm request: the same octets as
    /// `Pdu::SubmitSm(self.clone()).encode(sequence_number, ESME_ROK, buf)`, without the
    /// clone. A session keeps each message until its response arrives (to send it again after
    /// a reconnect), so it encodes from a borrow.
    pub fn encode_submit(
        &self,
        sequence_number: u32,
        buf: &mut BytesMut,
    ) -> Result<(), EncodeError> {
        super::any::write_pdu(
            CommandId::SubmitSm,
            (sequence_number, CommandStatus::EsmeRok),
            buf,
            self,
        )
    }
}

/// SMPP 3.4 §5.3.2.32: with message_payload present, sm_length must be zero.
pub(crate) fn check_payload(sm_length: usize, tlvs: &Tlvs, sm_at: usize) -> ReadResult<()> {
    if sm_length > 0 && tlvs.get(TlvTag::MessagePayload).is_some() {
        return Err(Box::new(Fail {
            field: "sm_length",
            offset: sm_at,
            reason: Reason::ShortMessageAndPayload(u8::try_from(sm_length).unwrap_or(u8::MAX)),
        }));
    }
    Ok(())
}
