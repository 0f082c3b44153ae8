//! Splitting a byte stream into PDUs (SMPP 3.4 §3.2): handles partial reads and several PDUs
//! in one read, and rejects an impossible command_length before allocating anything.

use super::error::FrameError;
use super::header::{Header, HEADER_LEN};
use super::Pdu;
use bytes::{Buf, Bytes, BytesMut};

/// The default maximum PDU size: 64 KiB covers a full message_payload plus headers.
pub const DEFAULT_MAX_PDU_LEN: u32 = 64 * 1024;

/// One PDU cut from the stream: its header and its body, sharing the read buffer's memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    /// The four header fields.
    pub header: Header,
    /// The octets after the header (command_length - 16 of them).
    pub body: Bytes,
}

impl Frame {
    /// Decodes the body; shorthand for [`Pdu::decode`].
    pub fn pdu(&self) -> Result<Pdu, super::error::DecodeError> {
        Pdu::decode(self)
    }

    /// Decodes the body, consuming the frame; shorthand for [`Pdu::decode_owned`], the fastest
    /// way from the read buffer to a PDU.
    #[inline]
    pub fn into_pdu(self) -> Result<Pdu, super::error::DecodeError> {
        Pdu::decode_owned(self)
    }
}

/// Cuts PDUs off the front of a read buffer. Holds only the size limit, so one can be shared
/// by any number of connections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framer {
    /// Largest command_length accepted, in octets (header included).
    pub max_pdu_len: u32,
}

impl Default for Framer {
    fn default() -> Self {
        Framer {
            max_pdu_len: DEFAULT_MAX_PDU_LEN,
        }
    }
}

impl Framer {
    /// A framer accepting PDUs up to `max_pdu_len` octets (at least the 16-octet header).
    pub fn new(max_pdu_len: u32) -> Self {
        Framer {
            max_pdu_len: max_pdu_len.max(HEADER_LEN as u32),
        }
    }

    /// Checks the header at the front of `buf` without consuming anything: `Ok(None)` until
    /// 16 octets are there, then the header or the fatal length error. Lets a reader size its
    /// next read (`command_length - buf.len()`) before the PDU has fully arrived.
    #[inline]
    pub fn peek(&self, buf: &[u8]) -> Result<Option<Header>, FrameError> {
        let Some(header) = Header::peek(buf) else {
            return Ok(None);
        };
        let command_length = header.command_length;
        if (command_length as usize) < HEADER_LEN {
            return Err(FrameError::TooShort {
                command_length,
                command_id: header.command_id.value(),
                sequence_number: header.sequence_number,
            });
        }
        if command_length > self.max_pdu_len {
            return Err(FrameError::TooLong {
                command_length,
                max: self.max_pdu_len,
                command_id: header.command_id.value(),
                sequence_number: header.sequence_number,
            });
        }
        Ok(Some(header))
    }

    /// Splits exactly one PDU off the front of `buf` when it is complete, without copying
    /// (`split_to(..).freeze()`). `Ok(None)` means "read more"; `buf` is then untouched. An
    /// error means the stream cannot be resynchronised and the connection should close.
    #[inline]
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        let Some(header) = self.peek(buf)? else {
            return Ok(None);
        };
        let len = header.command_length as usize;
        if buf.len() < len {
            // Reserve now so the socket read that completes this PDU does not reallocate.
            buf.reserve(len - buf.len());
            return Ok(None);
        }
        let mut pdu = buf.split_to(len);
        pdu.advance(HEADER_LEN);
        Ok(Some(Frame {
            header,
            body: pdu.freeze(),
        }))
    }
}

/// Moves the encoded PDUs waiting in `pending` to the end of `out`, for a sans-I/O core's
/// `poll_transmit`; `true` if there were any. An empty `out` takes the buffer itself instead
/// of a copy.
pub fn hand_over(pending: &mut BytesMut, out: &mut BytesMut) -> bool {
    if pending.is_empty() {
        return false;
    }
    if out.is_empty() {
        std::mem::swap(out, pending);
    } else {
        out.extend_from_slice(pending);
        pending.clear();
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enquire_link(seq: u8) -> [u8; 16] {
        [0, 0, 0, 16, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, seq]
    }

    #[test]
    fn partial_reads_wait_and_many_pdus_split_one_by_one() {
        let f = Framer::default();
        let mut all = Vec::new();
        all.extend_from_slice(&enquire_link(1));
        all.extend_from_slice(&enquire_link(2));
        let mut buf = BytesMut::from(&all[..7]);
        assert_eq!(f.decode(&mut buf), Ok(None));
        assert_eq!(buf.len(), 7, "an incomplete PDU must stay in the buffer");
        buf.extend_from_slice(&all[7..]);
        let a = f.decode(&mut buf).unwrap().unwrap();
        let b = f.decode(&mut buf).unwrap().unwrap();
        assert_eq!((a.header.sequence_number, b.header.sequence_number), (1, 2));
        assert!(buf.is_empty());
        assert_eq!(f.decode(&mut buf), Ok(None));
    }

    #[test]
    fn bad_command_length_is_fatal_and_precise() {
        let f = Framer::new(1024);
        let mut short = BytesMut::from(&[0u8, 0, 0, 15, 0, 0, 0, 0x15, 0, 0, 0, 0, 0, 0, 0, 9][..]);
        assert_eq!(
            f.decode(&mut short),
            Err(FrameError::TooShort {
                command_length: 15,
                command_id: 0x15,
                sequence_number: 9
            })
        );
        let mut long = BytesMut::from(&[0u8, 0, 4, 1, 0, 0, 0, 4, 0, 0, 0, 0, 0, 0, 0, 1][..]);
        let cap = long.capacity();
        assert!(matches!(
            f.decode(&mut long),
            Err(FrameError::TooLong {
                command_length: 1025,
                max: 1024,
                ..
            })
        ));
        assert_eq!(
            long.capacity(),
            cap,
            "nothing may be allocated for a rejected length"
        );
    }
}
