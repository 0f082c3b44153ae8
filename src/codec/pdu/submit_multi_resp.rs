//! submit_multi_resp (SMPP 3.4 §4.5.2): the message id plus the destinations that failed.

use super::body::Body;
use crate::codec::error::EncodeError;
use crate::codec::header::CommandId;
use crate::codec::status::CommandStatus;
use crate::codec::types::{Addr21, MessageId};
use crate::codec::values::{Npi, Ton};
use crate::codec::wire::{ReadResult, Reader, Trace, Writer};

/// One entry of unsuccess_sme (§4.5.2.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsuccessSme {
    /// TON of destination_addr.
    pub dest_addr_ton: Ton,
    /// NPI of destination_addr.
    pub dest_addr_npi: Npi,
    /// The address that failed (max 21 incl. NUL).
    pub destination_addr: Addr21,
    /// Why it failed.
    pub error_status_code: CommandStatus,
}

/// The body of submit_multi_resp.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubmitMultiResp {
    /// The SMSC's message id (max 65 incl. NUL).
    pub message_id: MessageId,
    /// Destinations the SMSC refused; no_unsuccess on the wire is its length.
    pub unsuccess_smes: Vec<UnsuccessSme>,
}

impl Body for SubmitMultiResp {
    fn decode<T: Trace>(r: &mut Reader<'_, T>) -> ReadResult<Self> {
        let message_id = r.c_octet("message_id")?;
        let no_unsuccess = r.u8("no_unsuccess")?;
        let mut unsuccess_smes = Vec::with_capacity(usize::from(no_unsuccess));
        for _ in 0..no_unsuccess {
            unsuccess_smes.push(UnsuccessSme {
                dest_addr_ton: r.u8("dest_addr_ton")?.into(),
                dest_addr_npi: r.u8("dest_addr_npi")?.into(),
                destination_addr: r.c_octet("destination_addr")?,
                error_status_code: r.u32("error_status_code")?.into(),
            });
        }
        r.finish()?;
        Ok(SubmitMultiResp {
            message_id,
            unsuccess_smes,
        })
    }

    fn wire_len(&self) -> usize {
        self.message_id.wire_len()
            + 1
            + self
                .unsuccess_smes
                .iter()
                .map(|u| 6 + u.destination_addr.wire_len())
                .sum::<usize>()
    }

    fn check(&self, id: CommandId) -> Result<(), EncodeError> {
        if self.unsuccess_smes.len() > 255 {
            return Err(EncodeError::TooMany {
                pdu: id.name(),
                field: "unsuccess_sme",
                count: self.unsuccess_smes.len(),
            });
        }
        Ok(())
    }

    fn encode(&self, w: &mut Writer<'_>) {
        w.c_octet(&self.message_id);
        w.u8(u8::try_from(self.unsuccess_smes.len()).unwrap_or(u8::MAX));
        for u in &self.unsuccess_smes {
            w.u8(u.dest_addr_ton.value());
            w.u8(u.dest_addr_npi.value());
            w.c_octet(&u.destination_addr);
            w.u32(u.error_status_code.value());
        }
    }
}
