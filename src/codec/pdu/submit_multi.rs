//! submit_multi (SMPP 3.4 §4.5.1): one message to up to 255 SME addresses and/or distribution
//! lists.

use super::body::Body;
use super::submit_sm::check_payload;
use crate::codec::error::{EncodeError, Reason};
use crate::codec::header::CommandId;
use crate::codec::tlv::{TlvTag, Tlvs};
use crate::codec::types::{Addr21, DlName, ServiceType, ShortMessage, SmppTime};
use crate::codec::values::{DataCoding, EsmClass, Npi, Ton};
use crate::codec::wire::{Fail, ReadResult, Reader, Trace, Writer};

/// One entry of dest_address (§4.5.1.1), selected by dest_flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestAddress {
    /// dest_flag 1: an SME address.
    SmeAddress {
        /// TON of destination_addr.
        dest_addr_ton: Ton,
        /// NPI of destination_addr.
        dest_addr_npi: Npi,
        /// Recipient address (max 21 incl. NUL).
        destination_addr: Addr21,
    },
    /// dest_flag 2: a distribution list held by the SMSC.
    DistributionList {
        /// Name of the list (max 21 incl. NUL).
        dl_name: DlName,
    },
}

impl DestAddress {
    fn wire_len(&self) -> usize {
        match self {
            DestAddress::SmeAddress {
                destination_addr, ..
            } => 3 + destination_addr.wire_len(),
            DestAddress::DistributionList { dl_name } => 1 + dl_name.wire_len(),
        }
    }
}

/// The body of submit_multi.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SubmitMulti {
    /// SMS application service (max 6 incl. NUL).
    pub service_type: ServiceType,
    /// TON of source_addr.
    pub source_addr_ton: Ton,
    /// NPI of source_addr.
    pub source_addr_npi: Npi,
    /// Originator address (max 21 incl. NUL).
    pub source_addr: Addr21,
    /// The destinations; number_of_dests on the wire is its length (at most 255).
    pub dest_addresses: Vec<DestAddress>,
    /// Messaging mode, message type and GSM features.
    pub esm_class: EsmClass,
    /// GSM TP-PID.
    pub protocol_id: u8,
    /// Priority level.
    pub priority_flag: u8,
    /// When to deliver.
    pub schedule_delivery_time: SmppTime,
    /// When to give up.
    pub validity_period: SmppTime,
    /// Receipt request bits.
    pub registered_delivery: u8,
    /// Replace-if-present flag.
    pub replace_if_present_flag: u8,
    /// Coding of short_message.
    pub data_coding: DataCoding,
    /// Canned message id.
    pub sm_default_msg_id: u8,
    /// User data.
    pub short_message: ShortMessage,
    /// Optional parameters in wire order.
    pub tlvs: Tlvs,
}

impl Body for SubmitMulti {
    fn decode<T: Trace>(r: &mut Reader<'_, T>) -> ReadResult<Self> {
        let service_type = r.c_octet("service_type")?;
        let source_addr_ton = r.u8("source_addr_ton")?.into();
        let source_addr_npi = r.u8("source_addr_npi")?.into();
        let source_addr = r.c_octet("source_addr")?;
        let number_of_dests = r.u8("number_of_dests")?;
        let mut dest_addresses = Vec::with_capacity(usize::from(number_of_dests));
        for _ in 0..number_of_dests {
            let at = r.offset();
            dest_addresses.push(match r.u8("dest_flag")? {
                1 => DestAddress::SmeAddress {
                    dest_addr_ton: r.u8("dest_addr_ton")?.into(),
                    dest_addr_npi: r.u8("dest_addr_npi")?.into(),
                    destination_addr: r.c_octet("destination_addr")?,
                },
                2 => DestAddress::DistributionList {
                    dl_name: r.c_octet("dl_name")?,
                },
                flag => {
                    return Err(Box::new(Fail {
                        field: "dest_flag",
                        offset: at,
                        reason: Reason::BadDestFlag(flag),
                    }))
                }
            });
        }
        let esm_class = EsmClass(r.u8("esm_class")?);
        let protocol_id = r.u8("protocol_id")?;
        let priority_flag = r.u8("priority_flag")?;
        let schedule_delivery_time = r.time("schedule_delivery_time")?;
        let validity_period = r.time("validity_period")?;
        let registered_delivery = r.u8("registered_delivery")?;
        let replace_if_present_flag = r.u8("replace_if_present_flag")?;
        let data_coding = r.u8("data_coding")?.into();
        let sm_default_msg_id = r.u8("sm_default_msg_id")?;
        let sm_at = r.offset();
        let short_message = r.short_message()?;
        // From the octets consumed, not `short_message`: Pdu::decode_owned fills it in later.
        let sm_length = r.offset() - sm_at - 1;
        let tlvs = r.tlvs()?;
        check_payload(sm_length, &tlvs, sm_at)?;
        Ok(SubmitMulti {
            service_type,
            source_addr_ton,
            source_addr_npi,
            source_addr,
            dest_addresses,
            esm_class,
            protocol_id,
            priority_flag,
            schedule_delivery_time,
            validity_period,
            registered_delivery,
            replace_if_present_flag,
            data_coding,
            sm_default_msg_id,
            short_message,
            tlvs,
        })
    }

    fn wire_len(&self) -> usize {
        self.service_type.wire_len()
            + 2
            + self.source_addr.wire_len()
            + 1
            + self
                .dest_addresses
                .iter()
                .map(DestAddress::wire_len)
                .sum::<usize>()
            + 3
            + self.schedule_delivery_time.as_c_octet().wire_len()
            + self.validity_period.as_c_octet().wire_len()
            + 5
            + self.short_message.len()
            + self.tlvs.wire_len()
    }

    fn check(&self, id: CommandId) -> Result<(), EncodeError> {
        if self.dest_addresses.len() > 255 {
            return Err(EncodeError::TooMany {
                pdu: id.name(),
                field: "dest_address",
                count: self.dest_addresses.len(),
            });
        }
        if !self.short_message.is_empty() && self.tlvs.get(TlvTag::MessagePayload).is_some() {
            return Err(EncodeError::ShortMessageAndPayload { pdu: id.name() });
        }
        Ok(())
    }

    fn encode(&self, w: &mut Writer<'_>) {
        w.c_octet(&self.service_type);
        w.u8(self.source_addr_ton.value());
        w.u8(self.source_addr_npi.value());
        w.c_octet(&self.source_addr);
        // check() has bounded the list to 255 entries.
        w.u8(u8::try_from(self.dest_addresses.len()).unwrap_or(u8::MAX));
        for d in &self.dest_addresses {
            match d {
                DestAddress::SmeAddress {
                    dest_addr_ton,
                    dest_addr_npi,
                    destination_addr,
                } => {
                    w.u8(1);
                    w.u8(dest_addr_ton.value());
                    w.u8(dest_addr_npi.value());
                    w.c_octet(destination_addr);
                }
                DestAddress::DistributionList { dl_name } => {
                    w.u8(2);
                    w.c_octet(dl_name);
                }
            }
        }
        w.u8(self.esm_class.0);
        w.u8(self.protocol_id);
        w.u8(self.priority_flag);
        w.c_octet(self.schedule_delivery_time.as_c_octet());
        w.c_octet(self.validity_period.as_c_octet());
        w.u8(self.registered_delivery);
        w.u8(self.replace_if_present_flag);
        w.u8(self.data_coding.value());
        w.u8(self.sm_default_msg_id);
        w.short_message(&self.short_message);
        self.tlvs.encode(w);
    }
}
