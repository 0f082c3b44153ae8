//! The codec's errors and what a receiver should answer to each.
//!
//! * [`FrameError`]: the header's command_length is impossible. The stream can no longer be
//!   split into PDUs, so the session must drop the connection (after a generic_nack with
//!   ESME_RINVCMDLEN if it wishes).
//! * [`DecodeError`]: the frame was well delimited but its body is malformed. It carries the
//!   header, the field and byte offset, and [`DecodeError::reply`] says which PDU and status to
//!   answer with, so the session can answer and keep the link.
//! * [`EncodeError`]: a PDU breaks a rule that spans several fields (the single-field limits
//!   are enforced when the field types are built).

use super::header::{CommandId, Header};
use super::status::CommandStatus;
use super::tlv::TlvTag;
use thiserror::Error;

/// command_length cannot delimit a PDU; fatal for the stream.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum FrameError {
    /// Shorter than the 16-octet header it must include.
    #[error("command_length {command_length} at byte 0 is below the 16-octet header (command_id 0x{command_id:08X}, sequence_number {sequence_number})")]
    TooShort {
        /// The value read.
        command_length: u32,
        /// command_id, for the log line (may be garbage).
        command_id: u32,
        /// sequence_number, for the log line (may be garbage).
        sequence_number: u32,
    },
    /// Longer than the configured maximum PDU size.
    #[error("command_length {command_length} at byte 0 exceeds the maximum PDU size of {max} octets (command_id 0x{command_id:08X}, sequence_number {sequence_number})")]
    TooLong {
        /// The value read.
        command_length: u32,
        /// The configured limit.
        max: u32,
        /// command_id, for the log line.
        command_id: u32,
        /// sequence_number, for the log line.
        sequence_number: u32,
    },
}

/// Why a field could not be read. Offsets are counted from the first octet of the PDU
/// (so the first body octet is byte 16).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Reason {
    /// The body ended inside this field.
    #[error("body ends after {available} of {needed} octets")]
    Truncated {
        /// Octets the field needs.
        needed: usize,
        /// Octets left in the body.
        available: usize,
    },
    /// No NUL terminator within the field's maximum size.
    #[error("no NUL terminator within the maximum of {max} octets")]
    MissingNul {
        /// Maximum size including the NUL.
        max: usize,
    },
    /// Not `YYMMDDhhmmsstnnp`.
    #[error("invalid SMPP time: {0}")]
    BadTime(&'static str),
    /// sm_length is above 254.
    #[error("sm_length {0} exceeds 254")]
    SmLengthTooLarge(u8),
    /// sm_length is non-zero and a message_payload TLV is also present (SMPP 3.4 §5.3.2.32).
    #[error("short_message (sm_length {0}) and message_payload are both present")]
    ShortMessageAndPayload(u8),
    /// A dest_flag other than 1 (SME address) or 2 (distribution list).
    #[error("dest_flag {0} is neither 1 (SME address) nor 2 (distribution list)")]
    BadDestFlag(u8),
    /// The remaining octets cannot hold a TLV header.
    #[error("{0} octets left cannot hold a TLV tag and length")]
    TlvHeaderTruncated(usize),
    /// A TLV's length runs past the end of the PDU.
    #[error("TLV 0x{tag:04X} declares {length} octets but only {available} remain")]
    TlvValueTruncated {
        /// Tag value.
        tag: u16,
        /// Declared length.
        length: u16,
        /// Octets left.
        available: usize,
    },
    /// A known TLV with a length its definition does not allow.
    #[error("TLV {tag:?} has length {length}, allowed {min}..={max}")]
    TlvLength {
        /// The tag.
        tag: TlvTag,
        /// Declared length.
        length: u16,
        /// Minimum allowed length.
        min: u16,
        /// Maximum allowed length.
        max: u16,
    },
    /// Octets left over after the last field of a PDU that takes no TLVs.
    #[error("{0} unexpected octets after the last field")]
    TrailingBytes(usize),
    /// The command_id is not an SMPP 3.4 PDU.
    #[error("unknown command_id")]
    UnknownCommandId,
}

/// How a receiver should answer a malformed PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// Answer with generic_nack carrying this status and the PDU's sequence_number: used for
    /// unknown command ids, bad lengths, and malformed responses (a response is never answered
    /// with another response).
    GenericNack(CommandStatus),
    /// Answer with the request's own response (`command_id`) carrying this status.
    Response {
        /// The `_resp` command id.
        command_id: CommandId,
        /// The error status to put in its header.
        command_status: CommandStatus,
    },
    /// Do not answer: the malformed PDU is itself a generic_nack, and nacking a nack loops.
    Nothing,
}

impl Reply {
    /// Appends this answer to the PDU numbered `sequence_number` as a header-only PDU (see
    /// [`Header::put_header_only`]); appends nothing for [`Reply::Nothing`].
    pub fn put(self, sequence_number: u32, out: &mut bytes::BytesMut) {
        let (command_id, command_status) = match self {
            Reply::GenericNack(status) => (CommandId::GenericNack, status),
            Reply::Response {
                command_id,
                command_status,
            } => (command_id, command_status),
            Reply::Nothing => return,
        };
        Header::put_header_only(command_id, command_status, sequence_number, out);
    }
}

/// A well-framed PDU whose body is malformed. Not fatal: answer per [`DecodeError::reply`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{pdu} (sequence_number {seq}): {field} at byte {offset}: {reason}", pdu = header.command_id.name(), seq = header.sequence_number)]
pub struct DecodeError {
    /// The PDU's header, as read.
    pub header: Header,
    /// The field being read (spec name), or `"command_id"`/`"body"`.
    pub field: &'static str,
    /// Offset from the first octet of the PDU where the field starts.
    pub offset: usize,
    /// What was wrong.
    pub reason: Reason,
}

impl DecodeError {
    /// The command_status a receiver should answer with, chosen from the field and reason:
    /// a bad address answers ESME_RINVSRCADR/RINVDSTADR, a bad TLV stream RINVOPTPARSTREAM,
    /// a wrong TLV length RINVPARLEN, a body that runs short RINVCMDLEN, and so on; ESME_RSYSERR
    /// when nothing more precise fits.
    pub fn status(&self) -> CommandStatus {
        use CommandStatus as S;
        match &self.reason {
            Reason::UnknownCommandId => S::EsmeRinvcmdid,
            Reason::Truncated { .. } | Reason::TrailingBytes(_) => S::EsmeRinvcmdlen,
            Reason::SmLengthTooLarge(_) | Reason::ShortMessageAndPayload(_) => S::EsmeRinvmsglen,
            Reason::BadDestFlag(_) => S::EsmeRinvdestflag,
            Reason::TlvHeaderTruncated(_) | Reason::TlvValueTruncated { .. } => {
                S::EsmeRinvoptparstream
            }
            Reason::TlvLength { .. } => S::EsmeRinvparlen,
            Reason::MissingNul { .. } | Reason::BadTime(_) => match self.field {
                "system_id" => S::EsmeRinvsysid,
                "password" => S::EsmeRinvpaswd,
                "system_type" => S::EsmeRinvsystyp,
                "service_type" => S::EsmeRinvsertyp,
                "source_addr" | "esme_addr" | "address_range" => S::EsmeRinvsrcadr,
                "destination_addr" => S::EsmeRinvdstadr,
                "dl_name" => S::EsmeRinvdlname,
                "message_id" => S::EsmeRinvmsgid,
                "schedule_delivery_time" => S::EsmeRinvsched,
                "validity_period" => S::EsmeRinvexpiry,
                _ => S::EsmeRsyserr,
            },
        }
    }

    /// Which PDU to answer with. Requests with a known command id get their own `_resp`,
    /// except when the frame length itself is wrong (generic_nack ESME_RINVCMDLEN, as SMPP 3.4
    /// §4.3 describes); responses, unknown ids and the requests SMPP 3.4 gives no response
    /// (outbind, alert_notification) get generic_nack; generic_nack gets nothing.
    pub fn reply(&self) -> Reply {
        let id = self.header.command_id;
        let status = self.status();
        if id == CommandId::GenericNack {
            return Reply::Nothing;
        }
        if matches!(id, CommandId::Other(_))
            || matches!(id.response(), CommandId::Other(_))
            || id.is_response()
            || status == CommandStatus::EsmeRinvcmdlen
        {
            return Reply::GenericNack(status);
        }
        Reply::Response {
            command_id: id.response(),
            command_status: status,
        }
    }
}

/// A PDU that breaks a rule spanning several fields.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    /// SMPP 3.4 §5.3.2.32: with message_payload, sm_length must be zero.
    #[error("{pdu}: short_message and message_payload are both set")]
    ShortMessageAndPayload {
        /// The PDU being encoded.
        pdu: &'static str,
    },
    /// More than 255 destinations or unsuccess_smes: the count is one octet.
    #[error("{pdu}: {field} has {count} entries, the maximum is 255")]
    TooMany {
        /// The PDU being encoded.
        pdu: &'static str,
        /// The list field.
        field: &'static str,
        /// Entries supplied.
        count: usize,
    },
    /// The body did not fill the length computed for it: a codec bug, reported rather than
    /// sent as a corrupt PDU.
    #[error("{0}: encoded body does not match its computed length (codec bug)")]
    LengthMismatch(&'static str),
    /// The PDU would exceed 2^32-1 octets.
    #[error("PDU of {0} octets does not fit command_length")]
    TooLarge(usize),
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::BytesMut;

    #[test]
    fn a_reply_is_put_as_a_header_alone_and_nothing_is_put_for_a_nack() {
        let put = |reply: Reply| {
            let mut out = BytesMut::new();
            reply.put(7, &mut out);
            out
        };
        let nack = put(Reply::GenericNack(CommandStatus::EsmeRinvcmdid));
        assert_eq!(
            Header::peek(&nack),
            Some(Header {
                command_length: 16,
                command_id: CommandId::GenericNack,
                command_status: CommandStatus::EsmeRinvcmdid,
                sequence_number: 7,
            })
        );
        assert_eq!(nack.len(), 16);
        let response = put(Reply::Response {
            command_id: CommandId::SubmitSmResp,
            command_status: CommandStatus::EsmeRinvdstadr,
        });
        assert_eq!(
            Header::peek(&response),
            Some(Header {
                command_length: 16,
                command_id: CommandId::SubmitSmResp,
                command_status: CommandStatus::EsmeRinvdstadr,
                sequence_number: 7,
            })
        );
        assert_eq!(response.len(), 16);
        assert!(put(Reply::Nothing).is_empty());
    }
}
