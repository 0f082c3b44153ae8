//! data_sm_resp (SMPP 3.4 §4.7.2). May be body-less when the status is an error.

use super::body::Body;
use crate::codec::tlv::Tlvs;
use crate::codec::types::MessageId;
use crate::codec::wire::{ReadResult, Reader, Trace, Writer};

/// The body of data_sm_resp.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataSmResp {
    /// The SMSC's message id (max 65 incl. NUL).
    pub message_id: MessageId,
    /// Optional parameters (delivery_failure_reason, network_error_code, ...).
    pub tlvs: Tlvs,
}

impl Body for DataSmResp {
    fn decode<T: Trace>(r: &mut Reader<'_, T>) -> ReadResult<Self> {
        Ok(DataSmResp {
            message_id: r.c_octet("message_id")?,
            tlvs: r.tlvs()?,
        })
    }

    fn wire_len(&self) -> usize {
        self.message_id.wire_len() + self.tlvs.wire_len()
    }

    fn encode(&self, w: &mut Writer<'_>) {
        w.c_octet(&self.message_id);
        self.tlvs.encode(w);
    }
}
