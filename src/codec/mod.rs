//! The pure SMPP v3.4 wire codec: framing, PDUs, TLVs and command statuses.
//!
//! No sockets, clocks or logging here, which is what makes it fuzzable and benchable; it
//! depends on nothing else in smppd. The root re-exports the codec's API; [`pdu`] holds the
//! PDU bodies and [`dump`] the field-by-field dump of `smppd pdu decode`. The flow for a
//! reader of a socket:
//!
//! ```text
//!  BytesMut --Framer::decode--> Frame { header, body: Bytes } --Frame::into_pdu--> Pdu
//!                 |                                                  |
//!            FrameError (fatal: close)                DecodeError (answer per .reply(), keep link)
//!  Pdu::encode(sequence_number, command_status, &mut BytesMut)  --> wire octets
//! ```
//!
//! Field types are bounded when built ([`COctetString`], [`ShortMessage`]), so encoding cannot
//! exceed the specification's limits; decoding shares the frame's memory (`Bytes`) for strings and short_message.

pub mod dump;
mod error;
mod frame;
mod header;
pub mod pdu;
mod status;
mod tlv;
mod types;
mod values;
mod wire;

// Framing and the PDU enum.
pub use frame::{hand_over, Frame, Framer, DEFAULT_MAX_PDU_LEN};
pub use header::{CommandId, Header, HEADER_LEN};
pub use pdu::any::Pdu;

// Errors of decoding and encoding, and how to answer them.
pub use error::{DecodeError, EncodeError, FrameError, Reason, Reply};

// Command statuses.
pub use status::{CommandStatus, StatusClass};

// Field types, bounded when built.
pub use types::{
    Addr21, COctetString, MessageId, ShortMessage, SmppTime, SystemId, TimeKind, ValueError,
};
pub use values::{DataCoding, EsmClass, MessageState, Npi, Ton};

// TLVs.
pub use tlv::{Tlv, TlvKind, TlvTag, TlvValue, TlvValueError, Tlvs};
