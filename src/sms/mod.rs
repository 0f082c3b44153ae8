//! Message-level rules above the wire format: text codings, long-message segmentation and
//! reassembly, delivery receipts and message-id matching.
//!
//! Depends on nothing else in the crate: the API takes plain values (`&[u8]`, `&str`,
//! `u8`, `Option<..>`) so the session layer glues it to the codec's PDUs and TLVs. No I/O,
//! no clock (time is passed in), no logging.
//!
//! The root re-exports the layer's API. [`gsm7`] (the GSM 03.38 alphabet, character by
//! character) and [`septet`] (packing septets into octets) are namespaces of their own: the
//! steps below [`encode`] and [`decode`], for callers that work on septets; `gsm7`'s own
//! `encode` and `decode` share the root's names.
//!
//! ```text
//!   outbound:  text --CodingPolicy--> encode --segment--> [Segment] -> submit_sm
//!   inbound:   deliver_sm -> parse_udh / SAR -> Reassembler -> decode
//!              deliver_sm -> parse_receipt -> MessageIdIndex::lookup
//! ```

mod coding;
mod date;
mod delivery_state;
mod error;
pub mod gsm7;
mod lossy;
mod message_id;
mod octet;
mod reassembly;
mod receipt;
mod receipt_text;
mod segment;
pub mod septet;
mod ucs2;
mod udh;

// Text codings.
pub use coding::{cheapest, decode, decode_gsm_packed, encode, Coding, CodingPolicy};
pub use error::{DecodeError, EncodeError, PackError};
pub use lossy::{decode_lossy, LossyText};

// Long messages: segmentation, the user data header, reassembly.
pub use reassembly::{
    Complete, DropReason, Dropped, Fragment, Pushed, Reassembler, ReassemblyError,
    ReassemblyLimits, SetKey,
};
pub use segment::{
    count_segments, segment, segment_binary, Concatenation, Field, GsmPacking, MaxSegments,
    SarValues, Segment, SegmentError, SegmentOptions,
};
pub use udh::{inbound_concat, parse_udh, ConcatInfo, ConcatRef, UdhError, ESM_CLASS_UDHI};

// Delivery receipts and message-id matching.
pub use delivery_state::DeliveryState;
pub use message_id::{IdForm, Lookup, MatchRule, MatchRules, MessageIdIndex, MessageIdKey};
pub use receipt::{parse_receipt, NetworkError, Receipt, ReceiptTlvs};
pub use receipt_text::{parse_text_receipt, ReceiptDate, ReceiptError, ReceiptField, TextReceipt};

// Dates in the forms SMPP and receipts write them.
pub(crate) use date::{date_digits, days_from_civil, smpp_absolute_time, yymmddhhmm};
