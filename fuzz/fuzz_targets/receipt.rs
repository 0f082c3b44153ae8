//! Fuzzes the delivery-receipt parsers: the text form alone, and merged with TLVs taken
//! from the first octets. Neither may panic; a parsed receipt must borrow from the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smppd::sms::{parse_receipt, parse_text_receipt, ReceiptTlvs};

fuzz_target!(|data: &[u8]| {
    if let Ok(r) = parse_text_receipt(data) {
        if let Some(text) = r.text {
            assert!(text.len() <= data.len());
        }
        if let Some(id) = r.id {
            assert!(id.len() <= data.len());
        }
    }
    let (head, rest) = data.split_at(data.len().min(4));
    let tlvs = ReceiptTlvs {
        receipted_message_id: head
            .first()
            .filter(|b| **b & 1 == 1)
            .map(|_| std::str::from_utf8(rest.get(..8).unwrap_or(rest)).unwrap_or("x")),
        message_state: head.get(1).copied(),
        network_error_code: match head {
            [_, _, a, b] => Some([*a, *b, 0]),
            _ => None,
        },
    };
    if let Ok(r) = parse_receipt(rest, tlvs) {
        // TLVs win over the text form.
        if let Some(state) = tlvs.message_state {
            assert_eq!(r.state.and_then(|s| s.message_state()), Some(state));
        }
    }
});
