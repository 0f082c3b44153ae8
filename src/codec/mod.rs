//! The pure SMPP v3.4 wire codec: framing, PDUs, TLVs and command statuses.
//!
//! No sockets, clocks or logging here, which is what makes it fuzzable and benchable; it
//! depends on nothing else in smppd. The flow for a reader of a socket:
//!
//! ```text
//!  BytesMut --Framer::decode--> Frame { header, body: Bytes } --Frame::into_pdu--> Pdu
//!                 |                                                  |
//!            FrameError (fatal: close)                DecodeError (answer per .reply(), keep link)
//!  Pdu::encode(sequence_number, command_status, &mut BytesMut)  --> wire octets
//! ```
//!
//! Field types are bounded when built ([`types`]), so encoding cannot exceed the specification's
//! limits; decoding shares the frame's memory (`Bytes`) for strings and short_message.

pub mod dump;
pub mod error;
pub mod frame;
pub mod header;
pub mod pdu;
pub mod status;
pub mod tlv;
pub mod types;
pub mod values;
pub mod wire;

pub use error::{DecodeError, EncodeError, FrameError, Reason, Reply};
pub use frame::{hand_over, Frame, Framer, DEFAULT_MAX_PDU_LEN};
pub use header::{CommandId, Header, HEADER_LEN};
pub use pdu::Pdu;
pub use status::{CommandStatus, StatusClass};
pub use tlv::{Tlv, TlvTag, TlvValue, TlvValueError, Tlvs};
pub use types::{COctetString, ShortMessage, SmppTime, ValueError};
pub use values::{DataCoding, EsmClass, MessageState, Npi, Ton};
