//! bind_transmitter_resp, bind_receiver_resp, bind_transceiver_resp (SMPP 3.4 §4.1.2, §4.1.4,
//! §4.1.6). An SMSC refusing a bind may send the header alone; `Pdu` then holds `None`.

use super::body::Body;
use crate::codec::tlv::Tlvs;
use crate::codec::types::SystemId;
use crate::codec::wire::{ReadResult, Reader, Trace, Writer};

/// The body of a bind response.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BindResp {
    /// Identifies the SMSC (max 16 incl. NUL).
    pub system_id: SystemId,
    /// Optional parameters; SMPP 3.4 defines sc_interface_version here.
    pub tlvs: Tlvs,
}

impl Body for BindResp {
    fn decode<T: Trace>(r: &mut Reader<'_, T>) -> ReadResult<Self> {
        Ok(BindResp {
            system_id: r.c_octet("system_id")?,
            tlvs: r.tlvs()?,
        })
    }

    fn wire_len(&self) -> usize {
        self.system_id.wire_len() + self.tlvs.wire_len()
    }

    fn encode(&self, w: &mut Writer<'_>) {
        w.c_octet(&self.system_id);
        self.tlvs.encode(w);
    }
}
