//! `smppd pdu decode` end to end: text and JSON output, stdin, several PDUs, a malformed PDU
//! reported with its offset and reason and a non-zero exit status, and typed TLVs.

use std::io::Write;
use std::process::{Command, Output, Stdio};

const BIND: &str = "0000002A 00000009 00000000 00000001 736D7070636C69656E743100 70617373776F726400 00 34 00 00 00";
const BAD_SUBMIT: &str =
    "0000002A 00000004 00000000 0000000C 00 01 01 313131313131313131313131313131313131313131 00 00";

fn smppd(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_smppd"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("smppd runs");
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

#[test]
fn text_output_names_every_field_and_masks_the_password() {
    let o = smppd(&["pdu", "decode", BIND], None);
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
    let o = smppd(&["pdu", "decode", "--json", BIND], None);
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
    let o = smppd(&["pdu", "decode", "-"], Some(&input));
    assert!(o.status.success(), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(out.contains("PDU #2 at byte 42: enquire_link"), "{out}");
    assert!(out.contains("PDU #3 at byte 58: submit_sm_resp"), "{out}");
    assert!(out.contains("ESME_RSUBMITFAIL (0x00000045)"), "{out}");
}

#[test]
fn malformed_pdu_shows_offset_reason_and_fails() {
    let o = smppd(&["pdu", "decode", BAD_SUBMIT], None);
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

    let o = smppd(&["pdu", "decode", "--json", "0000002A 00000004"], None);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["error"]["field"], "header");
}

#[test]
fn bad_hex_is_a_usage_error() {
    let o = smppd(&["pdu", "decode", "00 zz"], None);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("'z' at character 3 is not a hex digit"));
}

#[test]
fn help_works() {
    let o = smppd(&["pdu", "decode", "--help"], None);
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
fn a_tlv_that_does_not_fit_its_type_is_shown_with_the_reason() {
    // receipted_message_id without its NUL (the decoder accepts it, as a session would), then
    // a vendor TLV.
    let input = concat!(
        "00000049 00000005 00000000 00000007 00 0101 34343737303039303031323300 ",
        "0101 34343737303039303034353600 04 00 00 00 00 00 00 00 00 00 ",
        "001E0006 414243313233 14000002 BEEF",
    );
    let o = smppd(&["pdu", "decode", "--json", input], None);
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

    // message_state of 2 octets: the decoder refuses the PDU, and says where.
    let input = concat!(
        "0000003F 00000005 00000000 00000007 00 0101 34343737303039303031323300 ",
        "0101 34343737303039303034353600 04 00 00 00 00 00 00 00 00 00 ",
        "04270002 0200",
    );
    let o = smppd(&["pdu", "decode", "--json", input], None);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["error"]["field"], "message_state");
    assert_eq!(v[0]["error"]["offset"], 57);
}
