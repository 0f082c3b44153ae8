//! The contract every PDU body implements, so that `Pdu` can dispatch decode and encode.

use crate::codec::error::EncodeError;
use crate::codec::header::CommandId;
use crate::codec::wire::{ReadResult, Reader, Trace, Writer};

/// A PDU body: decoded from a [`Reader`], encoded after its length is known.
pub(crate) trait Body: Sized {
    /// Reads the mandatory fields (and TLVs where the PDU has them) to the end of the body.
    fn decode<T: Trace>(r: &mut Reader<'_, T>) -> ReadResult<Self>;
    /// Octets the body occupies on the wire, so command_length is known before writing.
    fn wire_len(&self) -> usize;
    /// Checks rules that span fields; single-field limits hold by construction.
    fn check(&self, _id: CommandId) -> Result<(), EncodeError> {
        Ok(())
    }
    /// Writes the body; `buf` has already reserved [`Body::wire_len`] octets.
    fn encode(&self, w: &mut Writer<'_>);
}
