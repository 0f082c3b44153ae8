//! `smppd keystore inspect` on the committed dev PKI, passwords from the environment: it
//! lists the certificates, says which password is wrong, and fails with a non-zero status.

use std::process::{Command, Output, Stdio};

use crate::support::dev_pki::dev;

const FILE_VAR: &str = "SMPPD_KEYSTORE_FILE_PASSWORD";
const KEY_VAR: &str = "SMPPD_KEYSTORE_KEY_PASSWORD";

fn inspect(file: &str, file_password: Option<&str>, key_password: Option<&str>) -> (bool, String) {
    let path = dev(file);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_smppd"));
    cmd.args(["keystore", "inspect"])
        .arg(&path)
        .env_remove(FILE_VAR)
        .env_remove(KEY_VAR)
        .stdin(Stdio::null());
    if let Some(p) = file_password {
        cmd.env(FILE_VAR, p);
    }
    if let Some(p) = key_password {
        cmd.env(KEY_VAR, p);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run smppd");
    let out = String::from_utf8_lossy(&stdout).into_owned();
    assert!(stderr.is_empty(), "{}", String::from_utf8_lossy(&stderr));
    for p in [file_password, key_password].into_iter().flatten() {
        assert!(!out.contains(p), "password printed: {out}");
    }
    (status.success(), out)
}

#[test]
fn lists_certificates_with_right_passwords() {
    let (ok, out) = inspect(
        "client-two-passwords.p12",
        Some("filepass"),
        Some("keypass"),
    );
    assert!(ok, "{out}");
    assert!(out.contains("file password: correct"), "{out}");
    assert!(out.contains("key password: correct"), "{out}");
    assert!(
        out.contains("subject:     O=smppd development, CN=smppd dev client"),
        "{out}"
    );
    assert!(
        out.contains("subject:     O=smppd development, CN=smppd dev CA"),
        "{out}"
    );
    assert!(
        out.contains("private key: present, matches this certificate"),
        "{out}"
    );
    assert!(out.contains("serial:") && out.contains("valid:"), "{out}");
}

#[test]
fn says_the_file_password_is_wrong() {
    let (ok, out) = inspect("client-two-passwords.p12", Some("keypass"), Some("keypass"));
    assert!(!ok);
    assert!(out.contains("file password: WRONG"), "{out}");
    assert!(
        out.contains("error: keystore password was incorrect (keystore_wrong_file_password)"),
        "{out}"
    );
}

#[test]
fn says_the_key_password_is_wrong() {
    let (ok, out) = inspect("client-two-passwords.p12", Some("filepass"), None);
    assert!(!ok);
    assert!(out.contains("file password: correct"), "{out}");
    assert!(out.contains("key password: WRONG"), "{out}");
    assert!(out.contains("error: Get Key failed: "), "{out}");
    // The certificates are still listed: the file password opened them.
    assert!(out.contains("CN=smppd dev client"), "{out}");
}

#[test]
fn trust_store_and_legacy_bundles() {
    let (ok, out) = inspect("truststore.p12", Some("changeit"), None);
    assert!(ok, "{out}");
    assert!(out.contains("key password: not needed"), "{out}");
    let (ok, out) = inspect("client-legacy.p12", Some("changeit"), None);
    assert!(ok, "{out}");
    assert!(out.contains("pbeWithSHAAnd40BitRC2-CBC"), "{out}");
    assert!(out.contains("MAC: HMAC-SHA-1"), "{out}");
}

#[test]
fn without_a_password_shows_structure_and_fails() {
    let (ok, out) = inspect("client.p12", None, None);
    assert!(!ok);
    assert!(out.contains("file password: not given"), "{out}");
    assert!(out.contains("encrypted with PBES2"), "{out}");
}

#[test]
fn missing_file_fails() {
    let (ok, out) = inspect("no-such.p12", Some("pw-for-a-missing-file"), None);
    assert!(!ok);
    assert!(out.contains("(keystore_not_found)"), "{out}");
}
