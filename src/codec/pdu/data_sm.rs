//! data_sm (SMPP 3.4 §4.7.1): a message whose payload and options travel in TLVs.

use super::body::Body;
use crate::codec::tlv::Tlvs;
use crate::codec::types::{Addr65, ServiceType};
use crate::codec::values::{DataCoding, EsmClass, Npi, Ton};
use crate::codec::wire::{ReadResult, Reader, Trace, Writer};

/// The body of data_sm.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DataSm {
    /// SMS application service (max 6 incl. NUL).
    pub service_type: ServiceType,
    /// TON of source_addr.
    pub source_addr_ton: Ton,
    /// NPI of source_addr.
    pub source_addr_npi: Npi,
    /// Originator address (max 65 incl. NUL).
    pub source_addr: Addr65,
    /// TON of destination_addr.
    pub dest_addr_ton: Ton,
    /// NPI of destination_addr.
    pub dest_addr_npi: Npi,
    /// Recipient address (max 65 incl. NUL).
    pub destination_addr: Addr65,
    /// Messaging mode, message type and GSM features.
    pub esm_class: EsmClass,
    /// Receipt request bits.
    pub registered_delivery: u8,
    /// Coding of the payload.
    pub data_coding: DataCoding,
    /// Optional parameters, message_payload among them.
    pub tlvs: Tlvs,
}

impl Body for DataSm {
    fn decode<T: Trace>(r: &mut Reader<'_, T>) -> ReadResult<Self> {
        Ok(DataSm {
            service_type: r.c_octet("service_type")?,
            source_addr_ton: r.u8("source_addr_ton")?.into(),
            source_addr_npi: r.u8("source_addr_npi")?.into(),
            source_addr: r.c_octet("source_addr")?,
            dest_addr_ton: r.u8("dest_addr_ton")?.into(),
            dest_addr_npi: r.u8("dest_addr_npi")?.into(),
            destination_addr: r.c_octet("destination_addr")?,
            esm_class: EsmClass(r.u8("esm_class")?),
            registered_delivery: r.u8("registered_delivery")?,
            data_coding: r.u8("data_coding")?.into(),
            tlvs: r.tlvs()?,
        })
    }

    fn wire_len(&self) -> usize {
        self.service_type.wire_len()
            + self.source_addr.wire_len()
            + self.destination_addr.wire_len()
            + 7
            + self.tlvs.wire_len()
    }

    fn encode(&self, w: &mut Writer<'_>) {
        w.c_octet(&self.service_type);
        w.u8(self.source_addr_ton.value());
        w.u8(self.source_addr_npi.value());
        w.c_octet(&self.source_addr);
        w.u8(self.dest_addr_ton.value());
        w.u8(self.dest_addr_npi.value());
        w.c_octet(&self.destination_addr);
        w.u8(self.esm_class.0);
        w.u8(self.registered_delivery);
        w.u8(self.data_coding.value());
        self.tlvs.encode(w);
    }
}
