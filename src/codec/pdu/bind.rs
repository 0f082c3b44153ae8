//! bind_transmitter, bind_receiver and bind_transceiver (SMPP 3.4 §4.1.1, §4.1.3, §4.1.5):
//! the three share one field table and differ only in command_id, so they share this body.

use super::body::Body;
use crate::codec::types::{AddressRange, Password, SystemId, SystemType};
use crate::codec::values::{Npi, Ton};
use crate::codec::wire::{ReadResult, Reader, Trace, Writer};

/// The body of a bind request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Bind {
    /// Identifies the ESME to the SMSC (max 16 incl. NUL).
    pub system_id: SystemId,
    /// Authenticates the ESME (max 9 incl. NUL). Masked in dumps.
    pub password: Password,
    /// Type of ESME (max 13 incl. NUL).
    pub system_type: SystemType,
    /// SMPP version supported; 0x34 for SMPP 3.4.
    pub interface_version: u8,
    /// TON of the addresses served (`address_range`).
    pub addr_ton: Ton,
    /// NPI of the addresses served.
    pub addr_npi: Npi,
    /// Addresses served by this ESME, a regular expression (max 41 incl. NUL).
    pub address_range: AddressRange,
}

impl Body for Bind {
    fn decode<T: Trace>(r: &mut Reader<'_, T>) -> ReadResult<Self> {
        let b = Bind {
            system_id: r.c_octet("system_id")?,
            password: r.c_octet("password")?,
            system_type: r.c_octet("system_type")?,
            interface_version: r.u8("interface_version")?,
            addr_ton: r.u8("addr_ton")?.into(),
            addr_npi: r.u8("addr_npi")?.into(),
            address_range: r.c_octet("address_range")?,
        };
        r.finish()?;
        Ok(b)
    }

    fn wire_len(&self) -> usize {
        self.system_id.wire_len()
            + self.password.wire_len()
            + self.system_type.wire_len()
            + 3
            + self.address_range.wire_len()
    }

    fn encode(&self, w: &mut Writer<'_>) {
        w.c_octet(&self.system_id);
        w.c_octet(&self.password);
        w.c_octet(&self.system_type);
        w.u8(self.interface_version);
        w.u8(self.addr_ton.value());
        w.u8(self.addr_npi.value());
        w.c_octet(&self.address_range);
    }
}
