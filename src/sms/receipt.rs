//! Delivery receipts: the text form in short_message merged with the receipt TLVs
//! (receipted_message_id, message_state, network_error_code). Where both say something,
//! the TLVs win: they are typed, while the text form is a convention that SMSCs vary.

use super::delivery_state::DeliveryState;
use super::receipt_text::{parse_text_receipt, ReceiptError, TextReceipt};

/// The receipt TLVs of a deliver_sm, as the codec found them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReceiptTlvs<'a> {
    /// receipted_message_id (0x001E), without its terminating NUL.
    pub receipted_message_id: Option<&'a str>,
    /// message_state (0x0427).
    pub message_state: Option<u8>,
    /// network_error_code (0x0423): network type, then a 16-bit error code.
    pub network_error_code: Option<[u8; 3]>,
}

/// network_error_code split into its parts (SMPP v3.4 §5.3.2.31).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NetworkError {
    /// 1 ANSI-136, 2 IS-95, 3 GSM, 4 ANSI-41; other values are reserved.
    pub network_type: u8,
    /// The network's own error code.
    pub error_code: u16,
}

impl From<[u8; 3]> for NetworkError {
    fn from([network_type, hi, lo]: [u8; 3]) -> Self {
        NetworkError {
            network_type,
            error_code: u16::from_be_bytes([hi, lo]),
        }
    }
}

/// A delivery receipt with the text form and the TLVs merged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt<'a> {
    /// The id of the submitted message: receipted_message_id, else the text `id:`.
    pub message_id: Option<&'a str>,
    /// Its state: message_state, else the text `stat:`.
    pub state: Option<DeliveryState<'a>>,
    /// network_error_code, when the TLV was present.
    pub network_error: Option<NetworkError>,
    /// The text form, when short_message held one that parsed.
    pub text: Option<TextReceipt<'a>>,
    /// Why short_message did not parse, when the TLVs were enough to go on without it.
    pub text_error: Option<ReceiptError>,
}

/// Parses a receipt from a deliver_sm's short_message (or message_payload) and its TLVs.
///
/// A short_message that does not parse is an error only when the TLVs lack the message
/// id; otherwise the receipt is returned with the error in `text_error`, because the TLVs
/// alone identify the message and its state.
pub fn parse_receipt<'a>(
    short_message: &'a [u8],
    tlvs: ReceiptTlvs<'a>,
) -> Result<Receipt<'a>, ReceiptError> {
    let tlv_id = tlvs
        .receipted_message_id
        .map(|id| id.trim_end_matches('\0'))
        .filter(|id| !id.is_empty());
    let tlv_state = tlvs.message_state.map(DeliveryState::from_message_state);
    let blank = short_message.iter().all(u8::is_ascii_whitespace);
    let (text, text_error) = if blank {
        (None, None)
    } else {
        match parse_text_receipt(short_message) {
            Ok(t) => (Some(t), None),
            Err(e) if tlv_id.is_some() => (None, Some(e)),
            Err(e) => return Err(e),
        }
    };
    let message_id = tlv_id.or(text.and_then(|t| t.id));
    if message_id.is_none() && tlv_state.is_none() && text.is_none() {
        return Err(ReceiptError::NotAReceipt);
    }
    Ok(Receipt {
        message_id,
        state: tlv_state.or(text.and_then(|t| t.stat)),
        network_error: tlvs.network_error_code.map(NetworkError::from),
        text,
        text_error,
    })
}
