//! The 16-octet PDU header (SMPP 3.4 §3.2) and the command_id values (§5.1.2).

use super::status::CommandStatus;
use super::values::value_enum;

/// Size of the PDU header: command_length, command_id, command_status, sequence_number.
pub const HEADER_LEN: usize = 16;

value_enum! {
    /// command_id, SMPP 3.4 §5.1.2. Responses are the request id with bit 31 set.
    pub enum CommandId: u32 {
        /// generic_nack.
        GenericNack = 0x8000_0000 => "generic_nack",
        /// bind_receiver.
        BindReceiver = 0x0000_0001 => "bind_receiver",
        /// bind_receiver_resp.
        BindReceiverResp = 0x8000_0001 => "bind_receiver_resp",
        /// bind_transmitter.
        BindTransmitter = 0x0000_0002 => "bind_transmitter",
        /// bind_transmitter_resp.
        BindTransmitterResp = 0x8000_0002 => "bind_transmitter_resp",
        /// query_sm.
        QuerySm = 0x0000_0003 => "query_sm",
        /// query_sm_resp.
        QuerySmResp = 0x8000_0003 => "query_sm_resp",
        /// submit_sm.
        SubmitSm = 0x0000_0004 => "submit_sm",
        /// submit_sm_resp.
        SubmitSmResp = 0x8000_0004 => "submit_sm_resp",
        /// deliver_sm.
        DeliverSm = 0x0000_0005 => "deliver_sm",
        /// deliver_sm_resp.
        DeliverSmResp = 0x8000_0005 => "deliver_sm_resp",
        /// unbind.
        Unbind = 0x0000_0006 => "unbind",
        /// unbind_resp.
        UnbindResp = 0x8000_0006 => "unbind_resp",
        /// replace_sm.
        ReplaceSm = 0x0000_0007 => "replace_sm",
        /// replace_sm_resp.
        ReplaceSmResp = 0x8000_0007 => "replace_sm_resp",
        /// cancel_sm.
        CancelSm = 0x0000_0008 => "cancel_sm",
        /// cancel_sm_resp.
        CancelSmResp = 0x8000_0008 => "cancel_sm_resp",
        /// bind_transceiver.
        BindTransceiver = 0x0000_0009 => "bind_transceiver",
        /// bind_transceiver_resp.
        BindTransceiverResp = 0x8000_0009 => "bind_transceiver_resp",
        /// outbind.
        Outbind = 0x0000_000B => "outbind",
        /// enquire_link.
        EnquireLink = 0x0000_0015 => "enquire_link",
        /// enquire_link_resp.
        EnquireLinkResp = 0x8000_0015 => "enquire_link_resp",
        /// submit_multi.
        SubmitMulti = 0x0000_0021 => "submit_multi",
        /// submit_multi_resp.
        SubmitMultiResp = 0x8000_0021 => "submit_multi_resp",
        /// alert_notification.
        AlertNotification = 0x0000_0102 => "alert_notification",
        /// data_sm.
        DataSm = 0x0000_0103 => "data_sm",
        /// data_sm_resp.
        DataSmResp = 0x8000_0103 => "data_sm_resp",
    }
}

impl CommandId {
    /// True for response PDUs (bit 31 set), including generic_nack.
    pub const fn is_response(self) -> bool {
        self.value() & 0x8000_0000 != 0
    }

    /// The id of the response matching this request (bit 31 set). For a response it is itself.
    pub fn response(self) -> CommandId {
        CommandId::from(self.value() | 0x8000_0000)
    }

    /// The spec name, or `"unknown"` for values SMPP 3.4 does not define.
    pub fn name(self) -> &'static str {
        self.spec_name().unwrap_or("unknown")
    }
}

/// The PDU header (SMPP 3.4 §3.2). `command_length` counts the whole PDU, header included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// Total PDU length in octets, header included.
    pub command_length: u32,
    /// Which PDU this is.
    pub command_id: CommandId,
    /// Result of a request; zero in requests.
    pub command_status: CommandStatus,
    /// Pairs a response with its request.
    pub sequence_number: u32,
}

impl Header {
    /// Reads the four header fields from the first 16 octets; `None` if fewer are available.
    #[inline]
    pub fn peek(buf: &[u8]) -> Option<Header> {
        let word = |i: usize| buf.get(i..i + 4)?.try_into().ok().map(u32::from_be_bytes);
        Some(Header {
            command_length: word(0)?,
            command_id: CommandId::from(word(4)?),
            command_status: CommandStatus::from(word(8)?),
            sequence_number: word(12)?,
        })
    }

    /// Appends a PDU that is this header's command id, status and sequence number alone
    /// (`command_length` 16): the form SMPP 3.4 allows for every error response, and the only
    /// form generic_nack, enquire_link_resp and unbind_resp have.
    pub fn put_header_only(
        command_id: CommandId,
        command_status: CommandStatus,
        sequence_number: u32,
        out: &mut bytes::BytesMut,
    ) {
        use bytes::BufMut;
        out.reserve(HEADER_LEN);
        out.put_u32(HEADER_LEN as u32);
        out.put_u32(command_id.value());
        out.put_u32(command_status.value());
        out.put_u32(sequence_number);
    }
}
