//! `smppd pdu decode` end to end: text and JSON output, stdin, several PDUs, a malformed PDU
//! reported with its offset and reason and a non-zero exit status, typed TLVs and delivery
//! receipts read into JSON.

use std::process::Output;

use crate::support::cli::smppd;

const BIND: &str = "0000002A 00000009 00000000 00000001 736D7070636C69656E743100 70617373776F726400 00 34 00 00 00";
/// A deliver_sm delivery receipt (esm_class 0x04): the text form in short_message, then
/// receipted_message_id "ABC123", message_state 2 and network_error_code GSM 1.
const RECEIPT: &str = concat!(
    "000000B7 00000005 00000000 00000007 00 0101 34343737303039303031323300 ",
    "0101 34343737303039303034353600 04 00 00 00 00 00 00 00 00 67 ",
    // id:ABC123 sub:001 dlvrd:001 submit date:2401021030 done date:2401021031 stat:DELIVRD
    // err:000 text:Hello
    "69643A414243313233207375623A30303120646C7672643A303031207375626D6974206461",
    "74653A3234303130323130333020646F6E6520646174653A3234303130323130333120737461",
    "743A44454C49565244206572723A30303020746578743A48656C6C6F ",
    "001E0007 41424331323300 04270001 02 04230003 030001",
);
const BAD_SUBMIT: &str =
    "0000002A 00000004 00000000 0000000C 00 01 01 313131313131313131313131313131313131313131 00 00";

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn text_output_names_every_field_and_masks_the_password() {
    let o = smppd(&["pdu", "decode", BIND], b"");
    assert!(o.status.success());
    let out = stdout(&o);
    for line in [
        "PDU #1 at byte 0: bind_transceiver",
        "[   4] command_id                   0x00000009 (bind_transceiver)",
        "[  16] system_id                    \"smppclient1\"",
        "[  28] password                     ********",
        "[  38] interface_version            0x34 (52)",
        "[  41] address_range                \"\"",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
    assert!(!out.contains("\"password\""));
}

#[test]
fn json_output_is_parseable_and_complete() {
    let o = smppd(&["pdu", "decode", "--json", BIND], b"");
    assert!(o.status.success());
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["header"]["command_name"], "bind_transceiver");
    assert_eq!(v[0]["header"]["sequence_number"], 1);
    let fields = v[0]["fields"].as_array().unwrap();
    assert_eq!(fields.len(), 7);
    assert_eq!(fields[0]["name"], "system_id");
    assert_eq!(fields[0]["value"], "smppclient1");
    assert_eq!(fields[1]["value"], "********");
    assert!(v[0]["error"].is_null());
}

#[test]
fn stdin_lines_may_hold_several_pdus() {
    let input = format!("{BIND}\n# enquire_link then a body-less submit_sm_resp\n00000010 00000015 00000000 00000002\n00000010800000040000004500000007\n");
    let o = smppd(&["pdu", "decode", "-"], input.as_bytes());
    assert!(o.status.success(), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(out.contains("PDU #2 at byte 42: enquire_link"), "{out}");
    assert!(out.contains("PDU #3 at byte 58: submit_sm_resp"), "{out}");
    assert!(out.contains("ESME_RSUBMITFAIL (0x00000045)"), "{out}");
}

#[test]
fn malformed_pdu_shows_offset_reason_and_fails() {
    let o = smppd(&["pdu", "decode", BAD_SUBMIT], b"");
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(
        out.contains("[  18] source_addr_npi"),
        "fields before the error are shown: {out}"
    );
    assert!(
        out.contains("ERROR at byte 19 (PDU offset; input byte 19): source_addr: no NUL terminator within the maximum of 21 octets"),
        "{out}"
    );
    assert!(
        out.contains("a receiver answers: submit_sm_resp with ESME_RINVSRCADR"),
        "{out}"
    );

    let o = smppd(&["pdu", "decode", "--json", "0000002A 00000004"], b"");
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["error"]["field"], "header");
}

#[test]
fn bad_hex_is_a_usage_error() {
    let o = smppd(&["pdu", "decode", "00 zz"], b"");
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("'z' at character 3 is not a hex digit"));
}

#[test]
fn help_works() {
    let o = smppd(&["pdu", "decode", "--help"], b"");
    assert!(o.status.success());
    assert!(stdout(&o).contains("--json"));
}

/// The TLV fields of the first PDU of a JSON dump.
fn tlvs(v: &serde_json::Value) -> Vec<serde_json::Value> {
    v[0]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f.get("tag").is_some())
        .cloned()
        .collect()
}

#[test]
fn json_reads_a_delivery_receipt() {
    let o = smppd(&["pdu", "decode", "--json", RECEIPT], b"");
    assert!(o.status.success(), "{}", stdout(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["header"]["command_name"], "deliver_sm");
    assert!(v[0]["error"].is_null());

    let tlvs = tlvs(&v);
    assert_eq!(tlvs.len(), 3);
    assert_eq!(
        tlvs[0],
        serde_json::json!({
            "offset": 160, "tag": "0x001e", "name": "receipted_message_id", "length": 7,
            "value": "ABC123", "hex": "41424331323300", "error": null
        })
    );
    assert_eq!(tlvs[1]["name"], "message_state");
    assert_eq!(tlvs[1]["value"], "DELIVERED");
    assert_eq!(tlvs[1]["hex"], "02");
    assert_eq!(tlvs[2]["name"], "network_error_code");
    assert_eq!(tlvs[2]["value"], serde_json::json!({"type": 3, "code": 1}));

    let r = &v[0]["receipt"];
    assert_eq!(r["message_id"], "ABC123");
    assert_eq!(r["state"], "DELIVERED");
    assert_eq!(
        r["network_error"],
        serde_json::json!({"type": 3, "code": 1})
    );
    assert_eq!(r["id"], "ABC123");
    assert_eq!(r["sub"], 1);
    assert_eq!(r["dlvrd"], 1);
    assert_eq!(r["submit_date"], "2401021030");
    assert_eq!(r["submit_date_rfc3339"], "2024-01-02T10:30:00Z");
    assert_eq!(r["done_date"], "2401021031");
    assert_eq!(r["done_date_rfc3339"], "2024-01-02T10:31:00Z");
    assert_eq!(r["stat"], "DELIVERED");
    assert_eq!(r["err"], "000");
    assert_eq!(r["text"], "Hello");
    assert!(r["error"].is_null());

    // Any other PDU says so with a null receipt.
    let o = smppd(&["pdu", "decode", "--json", BIND], b"");
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v[0]["receipt"].is_null());
}

#[test]
fn text_shows_the_same_reading() {
    let o = smppd(&["pdu", "decode", RECEIPT], b"");
    assert!(o.status.success());
    let out = stdout(&o);
    for line in [
        "[  47] esm_class                    0x04 (SMSC Delivery Receipt)",
        "[ 160] receipted_message_id         tag 0x001E len 7: \"ABC123\"",
        "[ 171] message_state                tag 0x0427 len 1: 2 (DELIVERED)",
        "[ 176] network_error_code           tag 0x0423 len 3: network type 3, error code 1",
        "         receipt.message_id           \"ABC123\"",
        "         receipt.state                DELIVERED",
        "         receipt.done_date            2401021031 (2024-01-02T10:31:00Z)",
        "         receipt.stat                 DELIVERED",
        "         receipt.text                 \"Hello\"",
    ] {
        assert!(out.contains(line), "missing {line:?} in:\n{out}");
    }
}

#[test]
fn a_tlv_that_does_not_fit_its_type_is_shown_with_the_reason() {
    // receipted_message_id without its NUL (the decoder accepts it, as a session would), then
    // a vendor TLV.
    let input = concat!(
        "00000049 00000005 00000000 00000007 00 0101 34343737303039303031323300 ",
        "0101 34343737303039303034353600 04 00 00 00 00 00 00 00 00 00 ",
        "001E0006 414243313233 14000002 BEEF",
    );
    let o = smppd(&["pdu", "decode", "--json", input], b"");
    assert!(o.status.success(), "{}", stdout(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let tlvs = tlvs(&v);
    assert_eq!(tlvs[0]["name"], "receipted_message_id");
    assert!(tlvs[0]["value"].is_null());
    assert_eq!(tlvs[0]["hex"], "414243313233");
    assert_eq!(
        tlvs[0]["error"],
        "C-Octet String without its NUL terminator"
    );
    assert_eq!(
        tlvs[1],
        serde_json::json!({
            "offset": 67, "tag": "0x1400", "name": null, "length": 2,
            "value": null, "hex": "beef", "error": null
        })
    );
    // The daemon would still match on the id, so the receipt shows it.
    assert_eq!(v[0]["receipt"]["message_id"], "ABC123");

    // message_state of 2 octets: the decoder refuses the PDU, and says where.
    let input = concat!(
        "0000003F 00000005 00000000 00000007 00 0101 34343737303039303031323300 ",
        "0101 34343737303039303034353600 04 00 00 00 00 00 00 00 00 00 ",
        "04270002 0200",
    );
    let o = smppd(&["pdu", "decode", "--json", input], b"");
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["error"]["field"], "message_state");
    assert_eq!(v[0]["error"]["offset"], 57);
    assert!(v[0]["receipt"].is_null());
}
