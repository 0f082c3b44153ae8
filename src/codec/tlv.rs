//! Optional parameters (TLVs), SMPP 3.4 §3.2.4 and §5.3.
//!
//! A TLV keeps its value as the received octets, so unknown and vendor TLVs re-encode byte for
//! byte and their order is preserved; typed getters on [`Tlvs`] read the standard ones.
//! Decoding checks the lengths the specification fixes (a 1-octet TLV with length 2 answers
//! ESME_RINVPARLEN) and [`Tlv::new`] checks the same rules, so encoding is always valid.
//! [`Tlv::typed`] reads a standard TLV's value as the type §5.3.2 gives it, for display.

use super::types::ValueError;
use super::values::{value_enum, MessageState};
use super::wire::Writer;
use bytes::Bytes;

value_enum! {
    /// Parameter tag, SMPP 3.4 §5.3.2.
    pub enum TlvTag: u16 {
        /// §5.3.2.1 dest_addr_subunit (1 octet).
        DestAddrSubunit = 0x0005 => "dest_addr_subunit",
        /// §5.3.2.3 dest_network_type (1 octet).
        DestNetworkType = 0x0006 => "dest_network_type",
        /// §5.3.2.5 dest_bearer_type (1 octet).
        DestBearerType = 0x0007 => "dest_bearer_type",
        /// §5.3.2.7 dest_telematics_id (2 octets).
        DestTelematicsId = 0x0008 => "dest_telematics_id",
        /// §5.3.2.2 source_addr_subunit (1 octet).
        SourceAddrSubunit = 0x000D => "source_addr_subunit",
        /// §5.3.2.4 source_network_type (1 octet).
        SourceNetworkType = 0x000E => "source_network_type",
        /// §5.3.2.6 source_bearer_type (1 octet).
        SourceBearerType = 0x000F => "source_bearer_type",
        /// §5.3.2.8 source_telematics_id (1 octet).
        SourceTelematicsId = 0x0010 => "source_telematics_id",
        /// §5.3.2.9 qos_time_to_live (4 octets).
        QosTimeToLive = 0x0017 => "qos_time_to_live",
        /// §5.3.2.10 payload_type (1 octet).
        PayloadType = 0x0019 => "payload_type",
        /// §5.3.2.11 additional_status_info_text (C-Octet, up to 256).
        AdditionalStatusInfoText = 0x001D => "additional_status_info_text",
        /// §5.3.2.12 receipted_message_id (C-Octet, up to 65).
        ReceiptedMessageId = 0x001E => "receipted_message_id",
        /// §5.3.2.13 ms_msg_wait_facilities (1 octet).
        MsMsgWaitFacilities = 0x0030 => "ms_msg_wait_facilities",
        /// §5.3.2.14 privacy_indicator (1 octet).
        PrivacyIndicator = 0x0201 => "privacy_indicator",
        /// §5.3.2.15 source_subaddress (2-23 octets).
        SourceSubaddress = 0x0202 => "source_subaddress",
        /// §5.3.2.16 dest_subaddress (2-23 octets).
        DestSubaddress = 0x0203 => "dest_subaddress",
        /// §5.3.2.17 user_message_reference (2 octets).
        UserMessageReference = 0x0204 => "user_message_reference",
        /// §5.3.2.18 user_response_code (1 octet).
        UserResponseCode = 0x0205 => "user_response_code",
        /// §5.3.2.20 source_port (2 octets).
        SourcePort = 0x020A => "source_port",
        /// §5.3.2.21 destination_port (2 octets).
        DestinationPort = 0x020B => "destination_port",
        /// §5.3.2.22 sar_msg_ref_num (2 octets).
        SarMsgRefNum = 0x020C => "sar_msg_ref_num",
        /// §5.3.2.19 language_indicator (1 octet).
        LanguageIndicator = 0x020D => "language_indicator",
        /// §5.3.2.23 sar_total_segments (1 octet).
        SarTotalSegments = 0x020E => "sar_total_segments",
        /// §5.3.2.24 sar_segment_seqnum (1 octet).
        SarSegmentSeqnum = 0x020F => "sar_segment_seqnum",
        /// §5.3.2.25 sc_interface_version (1 octet).
        ScInterfaceVersion = 0x0210 => "sc_interface_version",
        /// §5.3.2.37 callback_num_pres_ind (1 octet).
        CallbackNumPresInd = 0x0302 => "callback_num_pres_ind",
        /// §5.3.2.38 callback_num_atag (up to 65 octets).
        CallbackNumAtag = 0x0303 => "callback_num_atag",
        /// §5.3.2.39 number_of_messages (1 octet).
        NumberOfMessages = 0x0304 => "number_of_messages",
        /// §5.3.2.36 callback_num (4-19 octets).
        CallbackNum = 0x0381 => "callback_num",
        /// §5.3.2.28 dpf_result (1 octet).
        DpfResult = 0x0420 => "dpf_result",
        /// §5.3.2.29 set_dpf (1 octet).
        SetDpf = 0x0421 => "set_dpf",
        /// §5.3.2.30 ms_availability_status (1 octet).
        MsAvailabilityStatus = 0x0422 => "ms_availability_status",
        /// §5.3.2.31 network_error_code (3 octets).
        NetworkErrorCode = 0x0423 => "network_error_code",
        /// §5.3.2.32 message_payload (any length).
        MessagePayload = 0x0424 => "message_payload",
        /// §5.3.2.33 delivery_failure_reason (1 octet).
        DeliveryFailureReason = 0x0425 => "delivery_failure_reason",
        /// §5.3.2.34 more_messages_to_send (1 octet).
        MoreMessagesToSend = 0x0426 => "more_messages_to_send",
        /// §5.3.2.35 message_state (1 octet).
        MessageState = 0x0427 => "message_state",
        /// §5.3.2.44 ussd_service_op (1 octet).
        UssdServiceOp = 0x0501 => "ussd_service_op",
        /// §5.3.2.26 display_time (1 octet).
        DisplayTime = 0x1201 => "display_time",
        /// §5.3.2.40 sms_signal (2 octets).
        SmsSignal = 0x1203 => "sms_signal",
        /// §5.3.2.27 ms_validity (1 octet).
        MsValidity = 0x1204 => "ms_validity",
        /// §5.3.2.41 alert_on_message_delivery (no value).
        AlertOnMessageDelivery = 0x130C => "alert_on_message_delivery",
        /// §5.3.2.42 its_reply_type (1 octet).
        ItsReplyType = 0x1380 => "its_reply_type",
        /// §5.3.2.43 its_session_info (2 octets).
        ItsSessionInfo = 0x1383 => "its_session_info",
    }
}

/// The shape of a standard TLV's value, used for length checks and for display.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlvKind {
    /// Zero-length flag.
    Empty,
    /// One-octet integer.
    U8,
    /// Two-octet integer.
    U16,
    /// Four-octet integer.
    U32,
    /// C-Octet string of at most this many octets including the NUL.
    COctet(u16),
    /// Octet string within these bounds.
    Octets(u16, u16),
}

impl TlvKind {
    /// The allowed value lengths, inclusive.
    pub const fn length_range(self) -> (u16, u16) {
        match self {
            TlvKind::Empty => (0, 0),
            TlvKind::U8 => (1, 1),
            TlvKind::U16 => (2, 2),
            TlvKind::U32 => (4, 4),
            TlvKind::COctet(max) => (1, max),
            TlvKind::Octets(min, max) => (min, max),
        }
    }
}

impl TlvTag {
    /// The value shape SMPP 3.4 defines for this tag; `None` for unknown tags, which are
    /// accepted with any length.
    pub const fn kind(self) -> Option<TlvKind> {
        use TlvKind::*;
        use TlvTag as T;
        Some(match self {
            T::DestAddrSubunit | T::DestNetworkType | T::DestBearerType => U8,
            T::SourceAddrSubunit | T::SourceNetworkType | T::SourceBearerType => U8,
            T::SourceTelematicsId | T::PayloadType | T::MsMsgWaitFacilities => U8,
            T::PrivacyIndicator | T::UserResponseCode | T::LanguageIndicator => U8,
            T::SarTotalSegments | T::SarSegmentSeqnum | T::ScInterfaceVersion => U8,
            T::CallbackNumPresInd | T::NumberOfMessages | T::DpfResult | T::SetDpf => U8,
            T::MsAvailabilityStatus | T::DeliveryFailureReason | T::MoreMessagesToSend => U8,
            T::MessageState | T::UssdServiceOp | T::DisplayTime | T::MsValidity => U8,
            T::ItsReplyType => U8,
            T::DestTelematicsId | T::UserMessageReference | T::SourcePort => U16,
            T::DestinationPort | T::SarMsgRefNum | T::SmsSignal => U16,
            T::ItsSessionInfo => Octets(2, 2),
            T::QosTimeToLive => U32,
            T::AdditionalStatusInfoText => COctet(256),
            T::ReceiptedMessageId => COctet(65),
            T::SourceSubaddress | T::DestSubaddress => Octets(2, 23),
            T::CallbackNumAtag => Octets(0, 65),
            T::CallbackNum => Octets(4, 19),
            T::NetworkErrorCode => Octets(3, 3),
            T::MessagePayload => Octets(0, u16::MAX),
            T::AlertOnMessageDelivery => Empty,
            T::Other(_) => return None,
        })
    }

    /// The spec name, or `"unknown"` for vendor tags.
    pub fn name(self) -> &'static str {
        self.spec_name().unwrap_or("unknown")
    }
}

/// A standard TLV's value read as the type SMPP 3.4 §5.3.2 gives it; see [`Tlv::typed`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlvValue<'a> {
    /// A TLV without a value (alert_on_message_delivery): its presence is the value.
    Present,
    /// An integer TLV of 1, 2 or 4 octets (sar_msg_ref_num, user_message_reference, ...).
    Integer(u32),
    /// A C-Octet String TLV (receipted_message_id, additional_status_info_text), without its
    /// NUL.
    Text(&'a str),
    /// message_state (§5.3.2.35), whose values §5.2.28 names.
    MessageState(MessageState),
    /// network_error_code (§5.3.2.31).
    NetworkErrorCode {
        /// 1 ANSI-136, 2 IS-95, 3 GSM, 4 ANSI-41; other values are reserved.
        network_type: u8,
        /// The network's own error code.
        error_code: u16,
    },
    /// An Octet String TLV (message_payload, source_subaddress, callback_num, ...), as
    /// received.
    Octets(&'a [u8]),
}

/// Why a standard TLV's octets are not a value of its type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlvValueError {
    /// A length the type does not allow (the decoder refuses these; a TLV built inside the
    /// crate might still carry one).
    #[error("length {len} where the type takes {} octets", allowed(*min, *max))]
    Length {
        /// The value's length.
        len: usize,
        /// The shortest the type allows.
        min: u16,
        /// The longest the type allows.
        max: u16,
    },
    /// A C-Octet String whose last octet is not NUL.
    #[error("C-Octet String without its NUL terminator")]
    MissingNul,
    /// A C-Octet String with a NUL before its last octet.
    #[error("C-Octet String with a NUL at octet {at}, before its end")]
    EmbeddedNul {
        /// Offset of the first NUL within the value.
        at: usize,
    },
    /// A C-Octet String that is not text.
    #[error("C-Octet String with a non-UTF-8 octet at {at}")]
    NotText {
        /// Offset of the first offending octet within the value.
        at: usize,
    },
}

/// Values up to this size are copied inline; larger ones share the frame's memory.
const INLINE: usize = 22;

/// A TLV value: small ones (every integer TLV, most ids) inline, so decoding them costs no
/// reference-count updates; large ones (message_payload) as a zero-copy `Bytes`. Same size as
/// `Bytes` alone.
#[derive(Clone)]
enum Value {
    Inline { len: u8, buf: [u8; INLINE] },
    Shared(Bytes),
}

impl Value {
    #[inline]
    fn copy(v: &[u8]) -> Option<Value> {
        let mut buf = [0u8; INLINE];
        buf.get_mut(..v.len())?.copy_from_slice(v);
        Some(Value::Inline {
            len: u8::try_from(v.len()).ok()?,
            buf,
        })
    }

    #[inline]
    fn as_slice(&self) -> &[u8] {
        match self {
            Value::Inline { len, buf } => buf.get(..usize::from(*len)).unwrap_or_default(),
            Value::Shared(b) => b,
        }
    }
}

/// One optional parameter: its tag and the value octets exactly as received or built.
#[derive(Clone)]
pub struct Tlv {
    tag: TlvTag,
    value: Value,
}

impl PartialEq for Tlv {
    fn eq(&self, other: &Self) -> bool {
        self.tag == other.tag && self.value() == other.value()
    }
}

impl Eq for Tlv {}

impl std::hash::Hash for Tlv {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.tag.hash(state);
        self.value().hash(state);
    }
}

impl std::fmt::Debug for Tlv {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tlv")
            .field("tag", &self.tag)
            .field(
                "value",
                &format_args!("b\"{}\"", self.value().escape_ascii()),
            )
            .finish()
    }
}

impl Tlv {
    /// Builds a TLV, checking the value length against the tag's definition (any length up to
    /// 65535 for unknown tags).
    pub fn new(tag: impl Into<TlvTag>, value: impl Into<Bytes>) -> Result<Tlv, ValueError> {
        let tag = tag.into();
        let value = value.into();
        let (min, max) = tag.kind().map_or((0, u16::MAX), TlvKind::length_range);
        if value.len() > usize::from(max) {
            return Err(ValueError::TooLong {
                len: value.len(),
                max: usize::from(max),
            });
        }
        if value.len() < usize::from(min) {
            return Err(ValueError::TooShort {
                len: value.len(),
                min: usize::from(min),
            });
        }
        let value = Value::copy(&value).unwrap_or(Value::Shared(value));
        Ok(Tlv { tag, value })
    }

    /// A one-octet TLV such as sar_total_segments or message_state.
    pub fn u8(tag: impl Into<TlvTag>, v: u8) -> Result<Tlv, ValueError> {
        Tlv::new(tag, Bytes::copy_from_slice(&[v]))
    }

    /// A two-octet TLV such as sar_msg_ref_num or destination_port.
    pub fn u16(tag: impl Into<TlvTag>, v: u16) -> Result<Tlv, ValueError> {
        Tlv::new(tag, Bytes::copy_from_slice(&v.to_be_bytes()))
    }

    /// message_payload carrying `payload` (up to 65535 octets).
    pub fn message_payload(payload: impl Into<Bytes>) -> Result<Tlv, ValueError> {
        Tlv::new(TlvTag::MessagePayload, payload)
    }

    /// A value already checked by the decoder: `body[start..end]`, copied when small.
    #[inline]
    pub(crate) fn from_checked(tag: TlvTag, body: &Bytes, start: usize, end: usize) -> Tlv {
        let value = body
            .get(start..end)
            .and_then(Value::copy)
            .unwrap_or_else(|| Value::Shared(body.slice(start..end)));
        Tlv { tag, value }
    }

    /// The tag.
    pub fn tag(&self) -> TlvTag {
        self.tag
    }

    /// The value octets.
    #[inline]
    pub fn value(&self) -> &[u8] {
        self.value.as_slice()
    }

    /// The value as `Bytes`: shares the frame's memory for large values, copies small ones.
    pub fn value_bytes(&self) -> Bytes {
        match &self.value {
            Value::Shared(b) => b.clone(),
            Value::Inline { .. } => Bytes::copy_from_slice(self.value()),
        }
    }

    /// The value as an integer when it is 1, 2 or 4 octets long.
    pub fn as_uint(&self) -> Option<u32> {
        match *self.value() {
            [a] => Some(u32::from(a)),
            [a, b] => Some(u32::from(u16::from_be_bytes([a, b]))),
            [a, b, c, d] => Some(u32::from_be_bytes([a, b, c, d])),
            _ => None,
        }
    }

    /// The value read as the type SMPP 3.4 §5.3.2 gives the tag, or `None` for an unknown tag
    /// (whose type nobody can know). Never panics: octets that do not fit the type give the
    /// reason instead.
    pub fn typed(&self) -> Option<Result<TlvValue<'_>, TlvValueError>> {
        let kind = self.tag.kind()?;
        let v = self.value();
        let (min, max) = kind.length_range();
        if v.len() < usize::from(min) || v.len() > usize::from(max) {
            return Some(Err(TlvValueError::Length {
                len: v.len(),
                min,
                max,
            }));
        }
        Some(match (self.tag, kind, v) {
            (TlvTag::MessageState, _, &[state]) => Ok(TlvValue::MessageState(state.into())),
            (TlvTag::NetworkErrorCode, _, &[network_type, hi, lo]) => {
                Ok(TlvValue::NetworkErrorCode {
                    network_type,
                    error_code: u16::from_be_bytes([hi, lo]),
                })
            }
            (_, TlvKind::Empty, _) => Ok(TlvValue::Present),
            (_, TlvKind::U8 | TlvKind::U16 | TlvKind::U32, _) => self
                .as_uint()
                .map(TlvValue::Integer)
                .ok_or(TlvValueError::Length {
                    len: v.len(),
                    min,
                    max,
                }),
            (_, TlvKind::COctet(_), _) => c_octet_text(v).map(TlvValue::Text),
            (_, TlvKind::Octets(..), _) => Ok(TlvValue::Octets(v)),
        })
    }

    /// Octets on the wire: tag, length, value.
    pub fn wire_len(&self) -> usize {
        4 + self.value().len()
    }

    pub(crate) fn encode(&self, w: &mut Writer<'_>) {
        let [t0, t1] = self.tag.value().to_be_bytes();
        // Tlv::new and the decoder bound the value to u16::MAX octets.
        let [l0, l1] = u16::try_from(self.value().len())
            .unwrap_or(u16::MAX)
            .to_be_bytes();
        w.slice(&[t0, t1, l0, l1]);
        w.slice(self.value());
    }
}

/// "exactly 2" or "2 to 23", for [`TlvValueError::Length`].
fn allowed(min: u16, max: u16) -> String {
    if min == max {
        format!("exactly {min}")
    } else {
        format!("{min} to {max}")
    }
}

/// The text of a C-Octet String value: everything before the one NUL, which must be last.
fn c_octet_text(v: &[u8]) -> Result<&str, TlvValueError> {
    let Some((&0, text)) = v.split_last() else {
        return Err(TlvValueError::MissingNul);
    };
    if let Some(at) = text.iter().position(|&b| b == 0) {
        return Err(TlvValueError::EmbeddedNul { at });
    }
    std::str::from_utf8(text).map_err(|e| TlvValueError::NotText {
        at: e.valid_up_to(),
    })
}

/// The TLVs of one PDU, in wire order.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct Tlvs(pub Vec<Tlv>);

macro_rules! getters {
    ($( $(#[$m:meta])* $name:ident: $tag:ident -> $ty:ty; )*) => {
        $(
            $(#[$m])*
            pub fn $name(&self) -> Option<$ty> {
                self.get(TlvTag::$tag).and_then(Tlv::as_uint).and_then(|v| <$ty>::try_from(v).ok())
            }
        )*
    };
}

impl Tlvs {
    /// No TLVs.
    pub const fn new() -> Self {
        Tlvs(Vec::new())
    }

    /// The first TLV with this tag.
    pub fn get(&self, tag: TlvTag) -> Option<&Tlv> {
        self.0.iter().find(|t| t.tag == tag)
    }

    /// Appends a TLV.
    pub fn push(&mut self, tlv: Tlv) {
        self.0.push(tlv);
    }

    /// Iterates in wire order.
    pub fn iter(&self) -> std::slice::Iter<'_, Tlv> {
        self.0.iter()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Octets on the wire.
    pub fn wire_len(&self) -> usize {
        self.0.iter().map(Tlv::wire_len).sum()
    }

    pub(crate) fn encode(&self, w: &mut Writer<'_>) {
        for t in &self.0 {
            t.encode(w);
        }
    }

    /// message_payload's octets (long messages instead of short_message); use
    /// [`Tlv::value_bytes`] on [`Tlvs::get`] for a zero-copy `Bytes`.
    pub fn message_payload(&self) -> Option<&[u8]> {
        self.get(TlvTag::MessagePayload).map(Tlv::value)
    }

    /// receipted_message_id without its NUL terminator (delivery receipts).
    pub fn receipted_message_id(&self) -> Option<&[u8]> {
        self.c_octet(TlvTag::ReceiptedMessageId)
    }

    /// additional_status_info_text without its NUL terminator.
    pub fn additional_status_info_text(&self) -> Option<&[u8]> {
        self.c_octet(TlvTag::AdditionalStatusInfoText)
    }

    /// network_error_code: (network type, error code), §5.3.2.31.
    pub fn network_error_code(&self) -> Option<(u8, u16)> {
        match *self.get(TlvTag::NetworkErrorCode)?.value() {
            [t, a, b] => Some((t, u16::from_be_bytes([a, b]))),
            _ => None,
        }
    }

    /// callback_num octets (digit mode, TON, NPI, digits), §5.3.2.36.
    pub fn callback_num(&self) -> Option<&[u8]> {
        self.get(TlvTag::CallbackNum).map(Tlv::value)
    }

    /// source_subaddress octets, §5.3.2.15.
    pub fn source_subaddress(&self) -> Option<&[u8]> {
        self.get(TlvTag::SourceSubaddress).map(Tlv::value)
    }

    /// dest_subaddress octets, §5.3.2.16.
    pub fn dest_subaddress(&self) -> Option<&[u8]> {
        self.get(TlvTag::DestSubaddress).map(Tlv::value)
    }

    /// True when alert_on_message_delivery is present (it has no value).
    pub fn alert_on_message_delivery(&self) -> bool {
        self.get(TlvTag::AlertOnMessageDelivery).is_some()
    }

    fn c_octet(&self, tag: TlvTag) -> Option<&[u8]> {
        let v = self.get(tag)?.value();
        Some(v.strip_suffix(&[0]).unwrap_or(v))
    }

    getters! {
        /// sar_msg_ref_num, §5.3.2.22.
        sar_msg_ref_num: SarMsgRefNum -> u16;
        /// sar_total_segments, §5.3.2.23.
        sar_total_segments: SarTotalSegments -> u8;
        /// sar_segment_seqnum, §5.3.2.24.
        sar_segment_seqnum: SarSegmentSeqnum -> u8;
        /// message_state, §5.3.2.35.
        message_state: MessageState -> u8;
        /// user_message_reference, §5.3.2.17.
        user_message_reference: UserMessageReference -> u16;
        /// source_port, §5.3.2.20.
        source_port: SourcePort -> u16;
        /// destination_port, §5.3.2.21.
        destination_port: DestinationPort -> u16;
        /// payload_type, §5.3.2.10.
        payload_type: PayloadType -> u8;
        /// more_messages_to_send, §5.3.2.34.
        more_messages_to_send: MoreMessagesToSend -> u8;
        /// sc_interface_version, §5.3.2.25.
        sc_interface_version: ScInterfaceVersion -> u8;
        /// ms_availability_status, §5.3.2.30.
        ms_availability_status: MsAvailabilityStatus -> u8;
        /// dest_addr_subunit, §5.3.2.1.
        dest_addr_subunit: DestAddrSubunit -> u8;
        /// ussd_service_op, §5.3.2.44.
        ussd_service_op: UssdServiceOp -> u8;
        /// language_indicator, §5.3.2.19.
        language_indicator: LanguageIndicator -> u8;
        /// privacy_indicator, §5.3.2.14.
        privacy_indicator: PrivacyIndicator -> u8;
        /// ms_msg_wait_facilities, §5.3.2.13.
        ms_msg_wait_facilities: MsMsgWaitFacilities -> u8;
        /// delivery_failure_reason, §5.3.2.33.
        delivery_failure_reason: DeliveryFailureReason -> u8;
        /// dpf_result, §5.3.2.28.
        dpf_result: DpfResult -> u8;
        /// set_dpf, §5.3.2.29.
        set_dpf: SetDpf -> u8;
        /// qos_time_to_live, §5.3.2.9.
        qos_time_to_live: QosTimeToLive -> u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_getters_read_standard_tlvs() {
        let t = Tlvs(vec![
            Tlv::u16(TlvTag::SarMsgRefNum, 0x1234).unwrap(),
            Tlv::u8(TlvTag::MessageState, 2).unwrap(),
            Tlv::new(TlvTag::ReceiptedMessageId, &b"abc\0"[..]).unwrap(),
            Tlv::new(TlvTag::NetworkErrorCode, &[3u8, 0, 1][..]).unwrap(),
        ]);
        assert_eq!(t.sar_msg_ref_num(), Some(0x1234));
        assert_eq!(t.message_state(), Some(2));
        assert_eq!(t.receipted_message_id(), Some(&b"abc"[..]));
        assert_eq!(t.network_error_code(), Some((3, 1)));
        assert_eq!(t.sar_total_segments(), None);
    }

    /// A TLV as a peer might send it, bypassing the length checks of [`Tlv::new`].
    fn raw(tag: TlvTag, value: &[u8]) -> Tlv {
        Tlv::from_checked(tag, &Bytes::copy_from_slice(value), 0, value.len())
    }

    #[track_caller]
    fn assert_typed(tag: TlvTag, value: &[u8], want: Result<TlvValue<'_>, TlvValueError>) {
        assert_eq!(raw(tag, value).typed(), Some(want), "{tag:?} {value:?}");
    }

    fn error(tag: TlvTag, value: &[u8]) -> String {
        match raw(tag, value).typed() {
            Some(Err(e)) => e.to_string(),
            other => panic!("{tag:?} {value:?} read as {other:?}"),
        }
    }

    #[test]
    fn integers_of_each_width() {
        assert_typed(TlvTag::SarTotalSegments, &[3], Ok(TlvValue::Integer(3)));
        assert_typed(
            TlvTag::SarMsgRefNum,
            &[0x12, 0x34],
            Ok(TlvValue::Integer(0x1234)),
        );
        assert_typed(
            TlvTag::UserMessageReference,
            &[0xFF, 0xFF],
            Ok(TlvValue::Integer(65535)),
        );
        assert_typed(
            TlvTag::QosTimeToLive,
            &[0, 1, 0, 0],
            Ok(TlvValue::Integer(65536)),
        );
    }

    #[test]
    fn c_octet_strings_are_text_without_their_nul() {
        assert_typed(
            TlvTag::ReceiptedMessageId,
            b"ABC123\0",
            Ok(TlvValue::Text("ABC123")),
        );
        assert_typed(
            TlvTag::AdditionalStatusInfoText,
            b"\0",
            Ok(TlvValue::Text("")),
        );
    }

    #[test]
    fn message_state_is_named_and_network_error_code_split() {
        assert_typed(
            TlvTag::MessageState,
            &[2],
            Ok(TlvValue::MessageState(MessageState::Delivered)),
        );
        assert_eq!(MessageState::Delivered.spec_name(), Some("DELIVERED"));
        assert_eq!(
            MessageState::Undeliverable.spec_name(),
            Some("UNDELIVERABLE")
        );
        assert_typed(
            TlvTag::MessageState,
            &[9],
            Ok(TlvValue::MessageState(MessageState::Other(9))),
        );
        assert_typed(
            TlvTag::NetworkErrorCode,
            &[3, 0x01, 0x02],
            Ok(TlvValue::NetworkErrorCode {
                network_type: 3,
                error_code: 0x0102,
            }),
        );
    }

    #[test]
    fn octet_strings_flags_and_unknown_tags() {
        assert_typed(
            TlvTag::SourceSubaddress,
            &[0xA0, 1, 2],
            Ok(TlvValue::Octets(&[0xA0, 1, 2])),
        );
        assert_typed(TlvTag::MessagePayload, b"", Ok(TlvValue::Octets(b"")));
        assert_typed(TlvTag::AlertOnMessageDelivery, b"", Ok(TlvValue::Present));
        assert_eq!(raw(TlvTag::Other(0x1400), b"x").typed(), None);
    }

    #[test]
    fn malformed_values_give_the_reason() {
        assert_typed(
            TlvTag::ReceiptedMessageId,
            b"ABC",
            Err(TlvValueError::MissingNul),
        );
        assert_typed(
            TlvTag::ReceiptedMessageId,
            b"AB\0C\0",
            Err(TlvValueError::EmbeddedNul { at: 2 }),
        );
        assert_typed(
            TlvTag::AdditionalStatusInfoText,
            b"ok\xFF\0",
            Err(TlvValueError::NotText { at: 2 }),
        );
        assert_typed(
            TlvTag::SarMsgRefNum,
            &[1],
            Err(TlvValueError::Length {
                len: 1,
                min: 2,
                max: 2,
            }),
        );
        assert_eq!(
            error(TlvTag::SarMsgRefNum, &[1]),
            "length 1 where the type takes exactly 2 octets"
        );
        assert_eq!(
            error(TlvTag::SourceSubaddress, &[0xA0]),
            "length 1 where the type takes 2 to 23 octets"
        );
        assert_eq!(
            error(TlvTag::ReceiptedMessageId, b"ABC"),
            "C-Octet String without its NUL terminator"
        );
        assert!(error(TlvTag::MessageState, &[1, 2]).starts_with("length 2"));
        assert!(error(TlvTag::NetworkErrorCode, &[3, 0]).starts_with("length 2"));
        assert!(error(TlvTag::AlertOnMessageDelivery, &[1]).starts_with("length 1"));
        assert!(error(TlvTag::ReceiptedMessageId, b"").starts_with("length 0"));
    }

    #[test]
    fn lengths_are_checked_when_building() {
        assert!(Tlv::new(TlvTag::SarMsgRefNum, &[1u8][..]).is_err());
        assert!(Tlv::new(TlvTag::Other(0x1400), &[1u8, 2, 3][..]).is_ok());
        assert!(Tlv::new(TlvTag::AlertOnMessageDelivery, Bytes::new()).is_ok());
    }
}
