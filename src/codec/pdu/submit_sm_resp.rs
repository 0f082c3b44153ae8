//! submit_sm_resp (SMPP 3.4 §4.4.2). A response with an error status may omit the body entirely;
//! `Pdu` then holds `None`.

use super::body::Body;
use crate::codec::types::MessageId;
use crate::codec::wire::{ReadResult, Reader, Trace, Writer};

/// The body of submit_sm_resp.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubmitSmResp {
    /// The SMSC's message id (max 65 incl. NUL).
    pub message_id: MessageId,
}

impl Body for SubmitSmResp {
    fn decode<T: Trace>(r: &mut Reader<'_, T>) -> ReadResult<Self> {
        let message_id = r.c_octet("message_id")?;
        r.finish()?;
        Ok(SubmitSmResp { message_id })
    }

    fn wire_len(&self) -> usize {
        self.message_id.wire_len()
    }

    fn encode(&self, w: &mut Writer<'_>) {
        w.c_octet(&self.message_id);
    }
}
