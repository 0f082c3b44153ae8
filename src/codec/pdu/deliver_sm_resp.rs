//! deliver_sm_resp (SMPP 3.4 §4.6.2). A response with an error status may omit the body entirely;
//! `Pdu` then holds `None`.

use super::body::Body;
use crate::codec::types::MessageId;
use crate::codec::wire::{ReadResult, Reader, Trace, Writer};

/// The body of deliver_sm_resp.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeliverSmResp {
    /// Unused by SMPP 3.4: always NULL (empty), kept so that odd SMSCs round-trip.
    pub message_id: MessageId,
}

impl Body for DeliverSmResp {
    fn decode<T: Trace>(r: &mut Reader<'_, T>) -> ReadResult<Self> {
        let message_id = r.c_octet("message_id")?;
        r.finish()?;
        Ok(DeliverSmResp { message_id })
    }

    fn wire_len(&self) -> usize {
        self.message_id.wire_len()
    }

    fn encode(&self, w: &mut Writer<'_>) {
        w.c_octet(&self.message_id);
    }
}
