//! cancel_sm (SMPP 3.4 §4.9.1): cancel one pending message, or all matching ones.

use super::body::Body;
use crate::codec::types::{Addr21, MessageId, ServiceType};
use crate::codec::values::{Npi, Ton};
use crate::codec::wire::{ReadResult, Reader, Trace, Writer};

/// The body of cancel_sm.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CancelSm {
    /// Service type of the messages to cancel (max 6 incl. NUL).
    pub service_type: ServiceType,
    /// The message to cancel; empty to cancel by addresses (max 65 incl. NUL).
    pub message_id: MessageId,
    /// TON of source_addr.
    pub source_addr_ton: Ton,
    /// NPI of source_addr.
    pub source_addr_npi: Npi,
    /// Originator of the message(s) (max 21 incl. NUL).
    pub source_addr: Addr21,
    /// TON of destination_addr.
    pub dest_addr_ton: Ton,
    /// NPI of destination_addr.
    pub dest_addr_npi: Npi,
    /// Recipient of the message(s) (max 21 incl. NUL).
    pub destination_addr: Addr21,
}

impl Body for CancelSm {
    fn decode<T: Trace>(r: &mut Reader<'_, T>) -> ReadResult<Self> {
        let c = CancelSm {
            service_type: r.c_octet("service_type")?,
            message_id: r.c_octet("message_id")?,
            source_addr_ton: r.u8("source_addr_ton")?.into(),
            source_addr_npi: r.u8("source_addr_npi")?.into(),
            source_addr: r.c_octet("source_addr")?,
            dest_addr_ton: r.u8("dest_addr_ton")?.into(),
            dest_addr_npi: r.u8("dest_addr_npi")?.into(),
            destination_addr: r.c_octet("destination_addr")?,
        };
        r.finish()?;
        Ok(c)
    }

    fn wire_len(&self) -> usize {
        self.service_type.wire_len()
            + self.message_id.wire_len()
            + self.source_addr.wire_len()
            + self.destination_addr.wire_len()
            + 4
    }

    fn encode(&self, w: &mut Writer<'_>) {
        w.c_octet(&self.service_type);
        w.c_octet(&self.message_id);
        w.u8(self.source_addr_ton.value());
        w.u8(self.source_addr_npi.value());
        w.c_octet(&self.source_addr);
        w.u8(self.dest_addr_ton.value());
        w.u8(self.dest_addr_npi.value());
        w.c_octet(&self.destination_addr);
    }
}
