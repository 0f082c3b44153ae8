//! replace_sm (SMPP 3.4 §4.10.1): replace a pending message's text and times.

use super::body::Body;
use crate::codec::types::{Addr21, MessageId, ShortMessage, SmppTime};
use crate::codec::values::{Npi, Ton};
use crate::codec::wire::{ReadResult, Reader, Trace, Writer};

/// The body of replace_sm.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ReplaceSm {
    /// The message to replace (max 65 incl. NUL).
    pub message_id: MessageId,
    /// TON of source_addr.
    pub source_addr_ton: Ton,
    /// NPI of source_addr.
    pub source_addr_npi: Npi,
    /// Originator of the message, as submitted (max 21 incl. NUL).
    pub source_addr: Addr21,
    /// New delivery time; empty to keep the original.
    pub schedule_delivery_time: SmppTime,
    /// New expiry; empty to keep the original.
    pub validity_period: SmppTime,
    /// New receipt request bits.
    pub registered_delivery: u8,
    /// Canned message id.
    pub sm_default_msg_id: u8,
    /// New user data.
    pub short_message: ShortMessage,
}

impl Body for ReplaceSm {
    fn decode<T: Trace>(r: &mut Reader<'_, T>) -> ReadResult<Self> {
        let s = ReplaceSm {
            message_id: r.c_octet("message_id")?,
            source_addr_ton: r.u8("source_addr_ton")?.into(),
            source_addr_npi: r.u8("source_addr_npi")?.into(),
            source_addr: r.c_octet("source_addr")?,
            schedule_delivery_time: r.time("schedule_delivery_time")?,
            validity_period: r.time("validity_period")?,
            registered_delivery: r.u8("registered_delivery")?,
            sm_default_msg_id: r.u8("sm_default_msg_id")?,
            short_message: r.short_message()?,
        };
        r.finish()?;
        Ok(s)
    }

    fn wire_len(&self) -> usize {
        self.message_id.wire_len()
            + 2
            + self.source_addr.wire_len()
            + self.schedule_delivery_time.as_c_octet().wire_len()
            + self.validity_period.as_c_octet().wire_len()
            + 3
            + self.short_message.len()
    }

    fn encode(&self, w: &mut Writer<'_>) {
        w.c_octet(&self.message_id);
        w.u8(self.source_addr_ton.value());
        w.u8(self.source_addr_npi.value());
        w.c_octet(&self.source_addr);
        w.c_octet(self.schedule_delivery_time.as_c_octet());
        w.c_octet(self.validity_period.as_c_octet());
        w.u8(self.registered_delivery);
        w.u8(self.sm_default_msg_id);
        w.short_message(&self.short_message);
    }
}
