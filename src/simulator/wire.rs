//! Small bridges between the simulator's plain data and the codec's PDU types.

use bytes::{BufMut, Bytes, BytesMut};

use crate::codec::pdu::DeliverSm;
use crate::codec::{
    COctetString, CommandId, CommandStatus, EsmClass, Header, Pdu, ShortMessage, Tlv, TlvTag, Tlvs,
    HEADER_LEN,
};

use super::receipt::MESSAGE_STATE_DELIVERED;
use super::record::DeliverKind;
use super::registry::Delivery;

/// Encodes `pdu`; `None` if the codec refuses it (which only our own bug could cause, so the
/// caller drops that one PDU rather than the connection).
pub(crate) fn encode(pdu: &Pdu, sequence_number: u32, status: CommandStatus) -> Option<Bytes> {
    let mut buf = BytesMut::new();
    match pdu.encode(sequence_number, status, &mut buf) {
        Ok(()) => Some(buf.freeze()),
        Err(e) => {
            tracing::warn!(
                event = "simulator_encode_failed",
                error = %e,
                "simulator could not encode its own PDU"
            );
            None
        }
    }
}

/// A response that is the header alone: what SMPP 3.4 allows for any error response, and the
/// only form generic_nack has.
pub(crate) fn header_only(command_id: CommandId, status: CommandStatus, seq: u32) -> Bytes {
    let mut buf = BytesMut::with_capacity(HEADER_LEN);
    Header::put_header_only(command_id, status, seq, &mut buf);
    buf.freeze()
}

/// A PDU with `body` as its body, whatever it holds: how the faults send what the codec
/// would refuse to encode.
pub(crate) fn raw(command_id: CommandId, status: CommandStatus, seq: u32, body: &[u8]) -> Bytes {
    let mut buf = BytesMut::with_capacity(HEADER_LEN + body.len());
    buf.put_u32(u32::try_from(HEADER_LEN + body.len()).unwrap_or(u32::MAX));
    buf.put_u32(command_id.value());
    buf.put_u32(status.value());
    buf.put_u32(seq);
    buf.put_slice(body);
    buf.freeze()
}

/// Lossy text of a C-octet string, for records and logs (clients may send any octets).
pub(crate) fn text<const N: usize>(s: &COctetString<N>) -> String {
    String::from_utf8_lossy(s.as_bytes()).into_owned()
}

/// Builds the deliver_sm for a delivery; `None` if a field is out of its SMPP bounds.
pub(crate) fn deliver_sm(d: &Delivery) -> Option<Pdu> {
    let mut sm = DeliverSm {
        source_addr: COctetString::new(d.source_addr.clone().into_bytes()).ok()?,
        destination_addr: COctetString::new(d.destination_addr.clone().into_bytes()).ok()?,
        short_message: ShortMessage::new(d.short_message.clone()).ok()?,
        esm_class: EsmClass(d.esm_class),
        ..DeliverSm::default()
    };
    if let DeliverKind::Receipt { message_id } = &d.kind {
        sm.esm_class = EsmClass(EsmClass::DELIVERY_RECEIPT);
        let mut id = message_id.clone().into_bytes();
        id.push(0);
        sm.tlvs = Tlvs(vec![
            Tlv::new(TlvTag::ReceiptedMessageId, id).ok()?,
            Tlv::u8(TlvTag::MessageState, MESSAGE_STATE_DELIVERED).ok()?,
        ]);
    }
    Some(Pdu::DeliverSm(sm))
}
