//! alert_notification (SMPP 3.4 §4.12.1): the SMSC tells the ESME that a mobile became
//! available. It has no response.

use super::body::Body;
use crate::codec::tlv::Tlvs;
use crate::codec::types::Addr65;
use crate::codec::values::{Npi, Ton};
use crate::codec::wire::{ReadResult, Reader, Trace, Writer};

/// The body of alert_notification.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AlertNotification {
    /// TON of source_addr.
    pub source_addr_ton: Ton,
    /// NPI of source_addr.
    pub source_addr_npi: Npi,
    /// The mobile now available (max 65 incl. NUL).
    pub source_addr: Addr65,
    /// TON of esme_addr.
    pub esme_addr_ton: Ton,
    /// NPI of esme_addr.
    pub esme_addr_npi: Npi,
    /// The ESME that asked to be alerted (max 65 incl. NUL).
    pub esme_addr: Addr65,
    /// Optional parameters (ms_availability_status).
    pub tlvs: Tlvs,
}

impl Body for AlertNotification {
    fn decode<T: Trace>(r: &mut Reader<'_, T>) -> ReadResult<Self> {
        Ok(AlertNotification {
            source_addr_ton: r.u8("source_addr_ton")?.into(),
            source_addr_npi: r.u8("source_addr_npi")?.into(),
            source_addr: r.c_octet("source_addr")?,
            esme_addr_ton: r.u8("esme_addr_ton")?.into(),
            esme_addr_npi: r.u8("esme_addr_npi")?.into(),
            esme_addr: r.c_octet("esme_addr")?,
            tlvs: r.tlvs()?,
        })
    }

    fn wire_len(&self) -> usize {
        4 + self.source_addr.wire_len() + self.esme_addr.wire_len() + self.tlvs.wire_len()
    }

    fn encode(&self, w: &mut Writer<'_>) {
        w.u8(self.source_addr_ton.value());
        w.u8(self.source_addr_npi.value());
        w.c_octet(&self.source_addr);
        w.u8(self.esme_addr_ton.value());
        w.u8(self.esme_addr_npi.value());
        w.c_octet(&self.esme_addr);
        self.tlvs.encode(w);
    }
}
