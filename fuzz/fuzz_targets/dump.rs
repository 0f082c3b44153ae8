//! Feeds arbitrary bytes to `smppd pdu decode`'s decoder and both its renderings (text and
//! JSON, with typed TLVs and delivery receipts). None may panic, and the JSON has one entry
//! per PDU found.
//!
//! The first input octet chooses how the rest is read: as a stream of PDUs as given (even), or
//! as the body of one deliver_sm (1) or data_sm (3) under a header that frames it, so that the
//! TLV and receipt readings are reached without first guessing a valid command_length.
#![no_main]

use libfuzzer_sys::fuzz_target;
use smppd::codec::dump::dump;
use smppd::pdu_view::{to_json, to_text};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let input = match mode & 3 {
        1 | 3 => {
            let command_id: u32 = if mode & 3 == 1 { 0x0000_0005 } else { 0x0000_0103 };
            let len = u32::try_from(16 + rest.len()).unwrap_or(u32::MAX);
            let mut pdu = Vec::with_capacity(16 + rest.len());
            pdu.extend_from_slice(&len.to_be_bytes());
            pdu.extend_from_slice(&command_id.to_be_bytes());
            pdu.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 1]);
            pdu.extend_from_slice(rest);
            pdu
        }
        _ => rest.to_vec(),
    };
    let dumps = dump(&input);
    let json = to_json(&dumps);
    assert_eq!(json.as_array().map(Vec::len), Some(dumps.len()));
    let _ = json.to_string();
    let _ = to_text(&dumps);
});
