//! The PDUs that are a header and nothing else: generic_nack (§4.3.1), unbind and unbind_resp
//! (§4.2), enquire_link and enquire_link_resp (§4.11), cancel_sm_resp (§4.9.2) and
//! replace_sm_resp (§4.10.2). They are unit variants of `Pdu`; this file holds the empty body
//! they share (also written for a response sent header-only), because a file per empty struct
//! would tell the reader nothing.

use super::body::Body;
use crate::codec::wire::{ReadResult, Reader, Trace, Writer};

/// The empty body.
pub(crate) struct Bodyless;

impl Body for Bodyless {
    /// A body-less PDU must have command_length 16: anything after the header is an error.
    fn decode<T: Trace>(r: &mut Reader<'_, T>) -> ReadResult<Self> {
        r.finish().map(|()| Bodyless)
    }

    #[inline(always)]
    fn wire_len(&self) -> usize {
        0
    }

    #[inline(always)]
    fn encode(&self, _: &mut Writer<'_>) {}
}
