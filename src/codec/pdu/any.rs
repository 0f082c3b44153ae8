//! The [`Pdu`] enum: any PDU, one variant per SMPP 3.4 command, with decode and encode
//! dispatched on the command_id. Re-exported at the codec's root as `codec::Pdu`.

use super::body::Body;
use super::bodyless::Bodyless;
use super::{
    AlertNotification, Bind, BindResp, CancelSm, DataSm, DataSmResp, DeliverSm, DeliverSmResp,
    Outbind, QuerySm, QuerySmResp, ReplaceSm, SubmitMulti, SubmitMultiResp, SubmitSm, SubmitSmResp,
};
use crate::codec::error::{DecodeError, EncodeError, Reason};
use crate::codec::frame::Frame;
use crate::codec::header::{CommandId, HEADER_LEN};
use crate::codec::status::CommandStatus;
use crate::codec::types::ShortMessage;
use crate::codec::wire::{Fail, NoTrace, ReadResult, Reader, Trace, Writer};
use bytes::{Bytes, BytesMut};

macro_rules! pdus {
    (
        bodyless { $( $(#[$bm:meta])* $bl:ident, )* }
        body { $( $(#[$dm:meta])* $b:ident($bt:ty), )* }
        optional { $( $(#[$om:meta])* $o:ident($ot:ty), )* }
    ) => {
        /// A decoded PDU body, one variant per SMPP 3.4 command. The header fields that vary per
        /// PDU (command_status, sequence_number) are passed to [`Pdu::encode`] and read from
        /// [`Frame::header`] on decode, so the same body can be answered or resent freely.
        #[derive(Debug, Clone, PartialEq, Eq)]
        pub enum Pdu {
            $( $(#[$bm])* $bl, )*
            $( $(#[$dm])* $b($bt), )*
            $( $(#[$om])* $o(Option<$ot>), )*
        }

        impl Pdu {
            /// The command_id this PDU is sent with.
            pub fn command_id(&self) -> CommandId {
                match self {
                    $( Pdu::$bl => CommandId::$bl, )*
                    $( Pdu::$b(_) => CommandId::$b, )*
                    $( Pdu::$o(_) => CommandId::$o, )*
                }
            }

            #[inline(always)]
            fn decode_body<T: Trace>(id: CommandId, r: &mut Reader<'_, T>) -> ReadResult<Pdu> {
                Ok(match id {
                    $( CommandId::$bl => { Bodyless::decode(r)?; Pdu::$bl } )*
                    $( CommandId::$b => Pdu::$b(<$bt>::decode(r)?), )*
                    $( CommandId::$o => Pdu::$o(if r.remaining() == 0 { None } else { Some(<$ot>::decode(r)?) }), )*
                    CommandId::Other(_) => {
                        return Err(Box::new(Fail { field: "command_id", offset: 4, reason: Reason::UnknownCommandId }))
                    }
                })
            }

            /// Octets of the body (command_length minus the header).
            pub fn body_len(&self) -> usize {
                match self {
                    $( Pdu::$bl => 0, )*
                    $( Pdu::$b(b) => b.wire_len(), )*
                    $( Pdu::$o(b) => b.as_ref().map_or(0, Body::wire_len), )*
                }
            }

            /// Appends the whole PDU (header and body) to `buf`. command_length is computed
            /// first, so the buffer grows once and each field is one copy into it.
            pub fn encode(
                &self,
                sequence_number: u32,
                command_status: CommandStatus,
                buf: &mut BytesMut,
            ) -> Result<(), EncodeError> {
                // One dispatch, then a writer specialised for the body's type: the length,
                // the checks and the field writes of one body inline into one function.
                let header = (sequence_number, command_status);
                match self {
                    $( Pdu::$bl => write_pdu(CommandId::$bl, header, buf, &Bodyless), )*
                    $( Pdu::$b(b) => write_pdu(CommandId::$b, header, buf, b), )*
                    $( Pdu::$o(Some(b)) => write_pdu(CommandId::$o, header, buf, b), )*
                    $( Pdu::$o(None) => write_pdu(CommandId::$o, header, buf, &Bodyless), )*
                }
            }
        }
    };
}

pdus! {
    bodyless {
        /// generic_nack (§4.3.1): answer to a PDU with an invalid header.
        GenericNack,
        /// unbind (§4.2.1).
        Unbind,
        /// unbind_resp (§4.2.2).
        UnbindResp,
        /// enquire_link (§4.11.1): keep-alive.
        EnquireLink,
        /// enquire_link_resp (§4.11.2).
        EnquireLinkResp,
        /// cancel_sm_resp (§4.9.2).
        CancelSmResp,
        /// replace_sm_resp (§4.10.2).
        ReplaceSmResp,
    }
    body {
        /// bind_transmitter (§4.1.1).
        BindTransmitter(Bind),
        /// bind_receiver (§4.1.3).
        BindReceiver(Bind),
        /// bind_transceiver (§4.1.5).
        BindTransceiver(Bind),
        /// outbind (§4.1.7).
        Outbind(Outbind),
        /// submit_sm (§4.4.1).
        SubmitSm(SubmitSm),
        /// submit_multi (§4.5.1).
        SubmitMulti(SubmitMulti),
        /// deliver_sm (§4.6.1).
        DeliverSm(DeliverSm),
        /// data_sm (§4.7.1).
        DataSm(DataSm),
        /// query_sm (§4.8.1).
        QuerySm(QuerySm),
        /// cancel_sm (§4.9.1).
        CancelSm(CancelSm),
        /// replace_sm (§4.10.1).
        ReplaceSm(ReplaceSm),
        /// alert_notification (§4.12.1).
        AlertNotification(AlertNotification),
    }
    optional {
        /// bind_transmitter_resp (§4.1.2); `None` when the SMSC sent the header only.
        BindTransmitterResp(BindResp),
        /// bind_receiver_resp (§4.1.4); `None` when header only.
        BindReceiverResp(BindResp),
        /// bind_transceiver_resp (§4.1.6); `None` when header only.
        BindTransceiverResp(BindResp),
        /// submit_sm_resp (§4.4.2); `None` when header only (error status).
        SubmitSmResp(SubmitSmResp),
        /// submit_multi_resp (§4.5.2); `None` when header only.
        SubmitMultiResp(SubmitMultiResp),
        /// deliver_sm_resp (§4.6.2); `None` when header only.
        DeliverSmResp(DeliverSmResp),
        /// data_sm_resp (§4.7.2); `None` when header only.
        DataSmResp(DataSmResp),
        /// query_sm_resp (§4.8.2); `None` when header only.
        QuerySmResp(QuerySmResp),
    }
}

impl Pdu {
    /// Decodes a frame's body according to its command_id. Strings and short_message share the
    /// frame's memory. On error the [`DecodeError`] names the field and byte offset and says
    /// how to answer ([`DecodeError::reply`]).
    pub fn decode(frame: &Frame) -> Result<Pdu, DecodeError> {
        Self::decode_traced(frame, &mut NoTrace)
    }

    /// Like [`Pdu::decode`], reporting every field read to `trace` (used by the dump).
    pub fn decode_traced<T: Trace>(frame: &Frame, trace: &mut T) -> Result<Pdu, DecodeError> {
        let mut r = Reader::new(&frame.body, trace);
        Self::decode_body(frame.header.command_id, &mut r).map_err(|f| DecodeError {
            header: frame.header,
            field: f.field,
            offset: f.offset,
            reason: f.reason,
        })
    }

    /// Decodes a frame the caller no longer needs: the fast path for a session. Same result as
    /// [`Pdu::decode`], but short_message takes over the frame's own `Bytes` (narrowed) instead
    /// of a new reference to it, saving two atomic reference-count updates per message.
    #[inline]
    pub fn decode_owned(frame: Frame) -> Result<Pdu, DecodeError> {
        let Frame { header, body } = frame;
        match Self::decode_deferred(header.command_id, &body) {
            Ok((mut pdu, range)) => {
                if let (Some((start, end)), Some(sm)) = (range, pdu.short_message_mut()) {
                    // Moved whole, then narrowed in place: narrowing a copy first and moving
                    // that stalled on store forwarding.
                    *sm = ShortMessage::from_checked(body);
                    sm.narrow(start, end);
                }
                Ok(pdu)
            }
            Err(f) => Err(DecodeError {
                header,
                field: f.field,
                offset: f.offset,
                reason: f.reason,
            }),
        }
    }

    /// The body of [`Pdu::decode_owned`], out of line so that the frame's header stays in
    /// registers: short_message is left empty and its range returned instead.
    fn decode_deferred(id: CommandId, body: &Bytes) -> ReadResult<(Pdu, Option<(usize, usize)>)> {
        let mut trace = NoTrace;
        let mut r = Reader::new(body, &mut trace);
        r.defer_short_message();
        let pdu = Self::decode_body(id, &mut r)?;
        Ok((pdu, r.deferred_sm()))
    }

    /// short_message of the PDUs that carry one.
    fn short_message_mut(&mut self) -> Option<&mut ShortMessage> {
        match self {
            Pdu::SubmitSm(p) | Pdu::DeliverSm(p) => Some(&mut p.short_message),
            Pdu::SubmitMulti(p) => Some(&mut p.short_message),
            Pdu::ReplaceSm(p) => Some(&mut p.short_message),
            _ => None,
        }
    }
}

/// Zeros to size a typical PDU's output slice with one copy before the fields are written.
static ZEROS: [u8; 512] = [0; 512];

/// Appends header and `body` to `buf`, growing it once to the exact command_length.
#[inline(always)]
pub(super) fn write_pdu<B: Body>(
    id: CommandId,
    (sequence_number, command_status): (u32, CommandStatus),
    buf: &mut BytesMut,
    body: &B,
) -> Result<(), EncodeError> {
    body.check(id)?;
    let len = HEADER_LEN + body.wire_len();
    let command_length = u32::try_from(len).map_err(|_| EncodeError::TooLarge(len))?;
    let start = buf.len();
    // Grow once, then plain copies into the sized slice.
    match ZEROS.get(..len) {
        // Most PDUs: one vectorised copy of zeros, cheaper than resize's byte loop.
        Some(zeros) => buf.extend_from_slice(zeros),
        None => buf.resize(start + len, 0),
    }
    let fits = {
        let mut w = Writer::new(buf.get_mut(start..).unwrap_or_default());
        w.u32(command_length);
        w.u32(id.value());
        w.u32(command_status.value());
        w.u32(sequence_number);
        body.encode(&mut w);
        w.fits()
    };
    if !fits {
        buf.truncate(start);
        return Err(EncodeError::LengthMismatch(id.name()));
    }
    Ok(())
}
