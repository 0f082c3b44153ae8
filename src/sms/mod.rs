//! Message-level rules above the wire format: text codings, long-message segmentation and
//! reassembly, delivery receipts and message-id matching.
//!
//! Depends on nothing else in the crate: the API takes plain values (`&[u8]`, `&str`,
//! `u8`, `Option<..>`) so the session layer glues it to the codec's PDUs and TLVs. No I/O,
//! no clock (time is passed in), no logging.
//!
//! ```text
//!   outbound:  text --coding::CodingPolicy--> encode --segment--> [Segment] -> submit_sm
//!   inbound:   deliver_sm -> udh::parse_udh / SAR -> Reassembler -> decode
//!              deliver_sm -> receipt::parse_receipt -> MessageIdIndex::lookup
//! ```

pub mod coding;
pub mod date;
pub mod delivery_state;
pub mod error;
pub mod gsm7;
pub mod lossy;
pub mod message_id;
pub mod octet;
pub mod reassembly;
pub mod receipt;
pub mod receipt_text;
pub mod segment;
pub mod septet;
pub mod ucs2;
pub mod udh;

pub use coding::{cheapest, decode, decode_gsm_packed, encode, Coding, CodingPolicy};
pub use delivery_state::DeliveryState;
pub use error::{DecodeError, EncodeError, PackError};
pub use lossy::{decode_lossy, LossyText};
pub use message_id::{IdForm, Lookup, MatchRule, MatchRules, MessageIdIndex, MessageIdKey};
pub use reassembly::{
    Complete, DropReason, Dropped, Fragment, Pushed, Reassembler, ReassemblyError,
    ReassemblyLimits, SetKey,
};
pub use receipt::{parse_receipt, NetworkError, Receipt, ReceiptTlvs};
pub use receipt_text::{parse_text_receipt, ReceiptDate, ReceiptError, ReceiptField, TextReceipt};
pub use segment::{
    count_segments, segment, segment_binary, Concatenation, Field, GsmPacking, MaxSegments,
    SarValues, Segment, SegmentError, SegmentOptions,
};
pub use udh::{inbound_concat, parse_udh, ConcatInfo, ConcatRef, UdhError, ESM_CLASS_UDHI};
