//! query_sm_resp (SMPP 3.4 §4.8.2). May be body-less when the status is an error.

use super::body::Body;
use crate::codec::types::{MessageId, SmppTime};
use crate::codec::wire::{ReadResult, Reader, Trace, Writer};

/// The body of query_sm_resp.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuerySmResp {
    /// The message queried (max 65 incl. NUL).
    pub message_id: MessageId,
    /// When the message reached its final state; empty if it has not.
    pub final_date: SmppTime,
    /// §5.2.28: 1 ENROUTE, 2 DELIVERED, 3 EXPIRED, 4 DELETED, 5 UNDELIVERABLE, ...
    pub message_state: u8,
    /// Network-specific error code, 0 when none.
    pub error_code: u8,
}

impl Body for QuerySmResp {
    fn decode<T: Trace>(r: &mut Reader<'_, T>) -> ReadResult<Self> {
        let q = QuerySmResp {
            message_id: r.c_octet("message_id")?,
            final_date: r.time("final_date")?,
            message_state: r.u8("message_state")?,
            error_code: r.u8("error_code")?,
        };
        r.finish()?;
        Ok(q)
    }

    fn wire_len(&self) -> usize {
        self.message_id.wire_len() + self.final_date.as_c_octet().wire_len() + 2
    }

    fn encode(&self, w: &mut Writer<'_>) {
        w.c_octet(&self.message_id);
        w.c_octet(self.final_date.as_c_octet());
        w.u8(self.message_state);
        w.u8(self.error_code);
    }
}
