//! Delivery receipts: the text form as SMSCs write it, the TLV form, and the two merged.

use smppd::sms::{
    parse_receipt, parse_text_receipt, DeliveryState, NetworkError, ReceiptDate, ReceiptError,
    ReceiptField, ReceiptTlvs,
};

const CANONICAL: &[u8] = b"id:0123456789 sub:001 dlvrd:001 submit date:2511251155 \
done date:2511251156 stat:DELIVRD err:000 text:Hello world";

fn date(year: u8, month: u8, day: u8, hour: u8, minute: u8, second: Option<u8>) -> ReceiptDate {
    ReceiptDate {
        year,
        month,
        day,
        hour,
        minute,
        second,
    }
}

#[test]
fn canonical_example() {
    let r = parse_text_receipt(CANONICAL).unwrap();
    assert_eq!(r.id, Some("0123456789"));
    assert_eq!(r.sub, Some(1));
    assert_eq!(r.dlvrd, Some(1));
    assert_eq!(r.submit_date, Some(date(25, 11, 25, 11, 55, None)));
    assert_eq!(r.done_date, Some(date(25, 11, 25, 11, 56, None)));
    assert_eq!(r.stat, Some(DeliveryState::Delivered));
    assert_eq!(r.err, Some("000"));
    assert_eq!(r.text, Some(&b"Hello world"[..]));
}

#[test]
fn values_borrow_from_the_input() {
    let r = parse_text_receipt(CANONICAL).unwrap();
    let id = r.id.unwrap();
    let range = CANONICAL.as_ptr_range();
    assert!(
        range.contains(&id.as_ptr()),
        "id is a slice of the input, not a copy"
    );
}

#[test]
fn reordered_and_uppercase_keys() {
    let r = parse_text_receipt(
        b"STAT:UNDELIV ERR:021 Done Date:2501020304 ID:abc SUB:1 DLVRD:0 SUBMIT DATE:2501020300",
    )
    .unwrap();
    assert_eq!(r.id, Some("abc"));
    assert_eq!(r.stat, Some(DeliveryState::Undeliverable));
    assert_eq!(r.err, Some("021"));
    assert_eq!(r.dlvrd, Some(0));
    assert_eq!(r.done_date, Some(date(25, 1, 2, 3, 4, None)));
    assert_eq!(r.submit_date, Some(date(25, 1, 2, 3, 0, None)));
    assert_eq!(r.text, None);
}

#[test]
fn missing_fields_are_none() {
    let r = parse_text_receipt(b"id:42 stat:EXPIRED").unwrap();
    assert_eq!(r.id, Some("42"));
    assert_eq!(r.stat, Some(DeliveryState::Expired));
    assert_eq!((r.sub, r.dlvrd, r.err), (None, None, None));
    assert_eq!((r.submit_date, r.done_date), (None, None));
}

#[test]
fn twelve_digit_dates_have_seconds() {
    let r = parse_text_receipt(b"id:1 submit date:251125115530 done_date:251125115601").unwrap();
    assert_eq!(r.submit_date, Some(date(25, 11, 25, 11, 55, Some(30))));
    assert_eq!(r.done_date, Some(date(25, 11, 25, 11, 56, Some(1))));
}

#[test]
fn text_keeps_colons_and_spaces_and_key_lookalikes() {
    let r = parse_text_receipt(b"id:7 stat:DELIVRD text:Meet at 10:30 stat:late id:x ").unwrap();
    assert_eq!(r.text, Some(&b"Meet at 10:30 stat:late id:x "[..]));
    assert_eq!(r.id, Some("7"));
}

#[test]
fn lowercase_and_unknown_stat_are_kept() {
    let r = parse_text_receipt(b"id:1 stat:delivrd").unwrap();
    assert_eq!(r.stat, Some(DeliveryState::Delivered));
    let r = parse_text_receipt(b"id:1 stat:FAILED").unwrap();
    assert_eq!(r.stat, Some(DeliveryState::OtherStat("FAILED")));
    let r = parse_text_receipt(b"id:1 stat:ENROUTE").unwrap();
    assert_eq!(r.stat, Some(DeliveryState::Enroute));
    assert_eq!(
        parse_text_receipt(b"id:1 stat:ACCEPTD").unwrap().stat,
        Some(DeliveryState::Accepted)
    );
    for (word, state) in [
        ("DELETED", DeliveryState::Deleted),
        ("UNKNOWN", DeliveryState::Unknown),
        ("REJECTD", DeliveryState::Rejected),
    ] {
        let input = format!("id:1 stat:{word}");
        assert_eq!(
            parse_text_receipt(input.as_bytes()).unwrap().stat,
            Some(state)
        );
    }
}

#[test]
fn unknown_fields_are_skipped() {
    let r = parse_text_receipt(b"id:9 vendor_x:abc stat:DELIVRD").unwrap();
    assert_eq!(r.id, Some("9"));
    assert_eq!(r.stat, Some(DeliveryState::Delivered));
}

#[test]
fn garbage_is_a_typed_error() {
    assert_eq!(parse_text_receipt(b""), Err(ReceiptError::NotAReceipt));
    assert_eq!(
        parse_text_receipt(b"Hello, how are you?"),
        Err(ReceiptError::UnexpectedText { offset: 0 })
    );
    assert_eq!(
        parse_text_receipt(b"  xx id:1"),
        Err(ReceiptError::UnexpectedText { offset: 2 })
    );
    assert_eq!(
        parse_text_receipt(b"foo:bar"),
        Err(ReceiptError::NotAReceipt),
        "a key-value pair that is no receipt field"
    );
    assert_eq!(
        parse_text_receipt(b"id:1 id:2"),
        Err(ReceiptError::DuplicateField {
            field: ReceiptField::Id,
            offset: 5
        })
    );
    assert_eq!(
        parse_text_receipt(b"id:1 done date:2513011200"),
        Err(ReceiptError::InvalidDate {
            field: ReceiptField::DoneDate,
            offset: 15,
            value: "2513011200".into()
        })
    );
    assert_eq!(
        parse_text_receipt(b"id:1 submit date:25010112"),
        Err(ReceiptError::InvalidDate {
            field: ReceiptField::SubmitDate,
            offset: 17,
            value: "25010112".into()
        })
    );
    assert_eq!(
        parse_text_receipt(b"id:1 sub:x1"),
        Err(ReceiptError::InvalidCount {
            field: ReceiptField::Sub,
            offset: 9,
            value: "x1".into()
        })
    );
    assert_eq!(
        parse_text_receipt(b"id:\xFF1"),
        Err(ReceiptError::NotUtf8 {
            field: ReceiptField::Id,
            offset: 3
        })
    );
    // Fields are judged in the order they are written: the first fault is the one reported.
    assert_eq!(
        parse_text_receipt(b"id:1 sub:x id:2"),
        Err(ReceiptError::InvalidCount {
            field: ReceiptField::Sub,
            offset: 9,
            value: "x".into()
        })
    );
    assert_eq!(
        parse_text_receipt(b"id:1 id:2 sub:x"),
        Err(ReceiptError::DuplicateField {
            field: ReceiptField::Id,
            offset: 5
        })
    );
    assert_eq!(
        parse_text_receipt(b"x_1:y id:1 x_1:z stat:DELIVRD").map(|r| (r.id, r.stat.is_some())),
        Ok((Some("1"), true)),
        "an unknown key may repeat and ends the value before it"
    );
}

#[test]
fn tlv_only_receipt() {
    let tlvs = ReceiptTlvs {
        receipted_message_id: Some("ABC123\0"),
        message_state: Some(2),
        network_error_code: Some([3, 0x00, 0x22]),
    };
    let r = parse_receipt(b"", tlvs).unwrap();
    assert_eq!(r.message_id, Some("ABC123"));
    assert_eq!(r.state, Some(DeliveryState::Delivered));
    assert_eq!(
        r.network_error,
        Some(NetworkError {
            network_type: 3,
            error_code: 0x22
        })
    );
    assert_eq!(r.text, None);
}

#[test]
fn tlvs_win_over_text() {
    let tlvs = ReceiptTlvs {
        receipted_message_id: Some("X1"),
        message_state: Some(5),
        network_error_code: None,
    };
    let r = parse_receipt(CANONICAL, tlvs).unwrap();
    assert_eq!(r.message_id, Some("X1"));
    assert_eq!(r.state, Some(DeliveryState::Undeliverable));
    assert_eq!(r.text.unwrap().stat, Some(DeliveryState::Delivered));
}

#[test]
fn text_fills_in_what_tlvs_lack() {
    let tlvs = ReceiptTlvs {
        message_state: Some(2),
        ..ReceiptTlvs::default()
    };
    let r = parse_receipt(CANONICAL, tlvs).unwrap();
    assert_eq!(r.message_id, Some("0123456789"));
    let r = parse_receipt(CANONICAL, ReceiptTlvs::default()).unwrap();
    assert_eq!(r.state, Some(DeliveryState::Delivered));
}

#[test]
fn bad_text_is_tolerated_only_when_tlvs_identify_the_message() {
    let tlvs = ReceiptTlvs {
        receipted_message_id: Some("X1"),
        message_state: Some(2),
        network_error_code: None,
    };
    let r = parse_receipt(b"garbage", tlvs).unwrap();
    assert_eq!(
        r.text_error,
        Some(ReceiptError::UnexpectedText { offset: 0 })
    );
    assert_eq!(r.message_id, Some("X1"));
    assert_eq!(
        parse_receipt(b"garbage", ReceiptTlvs::default()),
        Err(ReceiptError::UnexpectedText { offset: 0 })
    );
    assert_eq!(
        parse_receipt(b"", ReceiptTlvs::default()),
        Err(ReceiptError::NotAReceipt)
    );
}
