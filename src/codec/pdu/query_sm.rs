//! query_sm (SMPP 3.4 §4.8.1): ask the SMSC for a message's state.

use super::body::Body;
use crate::codec::types::{Addr21, MessageId};
use crate::codec::values::{Npi, Ton};
use crate::codec::wire::{ReadResult, Reader, Trace, Writer};

/// The body of query_sm.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuerySm {
    /// The SMSC's id of the message to query (max 65 incl. NUL).
    pub message_id: MessageId,
    /// TON of source_addr.
    pub source_addr_ton: Ton,
    /// NPI of source_addr.
    pub source_addr_npi: Npi,
    /// Originator of the message, as submitted (max 21 incl. NUL).
    pub source_addr: Addr21,
}

impl Body for QuerySm {
    fn decode<T: Trace>(r: &mut Reader<'_, T>) -> ReadResult<Self> {
        let q = QuerySm {
            message_id: r.c_octet("message_id")?,
            source_addr_ton: r.u8("source_addr_ton")?.into(),
            source_addr_npi: r.u8("source_addr_npi")?.into(),
            source_addr: r.c_octet("source_addr")?,
        };
        r.finish()?;
        Ok(q)
    }

    fn wire_len(&self) -> usize {
        self.message_id.wire_len() + 2 + self.source_addr.wire_len()
    }

    fn encode(&self, w: &mut Writer<'_>) {
        w.c_octet(&self.message_id);
        w.u8(self.source_addr_ton.value());
        w.u8(self.source_addr_npi.value());
        w.c_octet(&self.source_addr);
    }
}
