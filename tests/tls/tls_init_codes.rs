//! The keystore failures an operator meets most, end to end: the real loader, the real
//! `ChannelFailure` table, and the exact Genesys texts of 43010 and 42403.

use smppd::secret::Secret;
use smppd::supervisor::ChannelFailure;
use smppd::transport::keystore::Keystore;
use smppd::transport::InitError;

use crate::support::dev_pki::dev;

fn init_failure(file: &str, file_pw: &str, key_pw: &str) -> ChannelFailure {
    let path = dev(file);
    let source = match Keystore::load_pkcs12(&path, &Secret::new(file_pw), &Secret::new(key_pw)) {
        Ok(_) => panic!("{file} opened with the wrong password"),
        Err(e) => e,
    };
    ChannelFailure::Init(InitError::Keystore { path, source })
}

#[test]
fn wrong_file_password_logs_43010_then_42403_and_is_not_retried() {
    let report = init_failure("client-two-passwords.p12", "wrong", "keypass").report();
    assert_eq!(report.primary.code, 43010);
    assert_eq!(
        report.primary.text,
        "failed to initialize ssl context: keystore password was incorrect"
    );
    assert_eq!(report.follow_up.code, 42403);
    assert_eq!(
        report.follow_up.text,
        "channel driver initialization failed"
    );
    assert!(!report.retryable);
    assert_eq!(report.reason, "keystore_wrong_file_password");
}

#[test]
fn wrong_key_password_logs_get_key_failed() {
    let report = init_failure("client-two-passwords.p12", "filepass", "wrong").report();
    assert_eq!(report.primary.code, 43010);
    assert!(
        report
            .primary
            .text
            .starts_with("failed to initialize ssl context: Get Key failed: "),
        "{}",
        report.primary.text
    );
    assert_eq!(report.follow_up.code, 42403);
    assert!(!report.retryable);
    assert_ne!(report.reason, "keystore_wrong_file_password");
}

#[test]
fn the_two_passwords_open_the_two_password_bundle() {
    let ks = Keystore::load_pkcs12(
        &dev("client-two-passwords.p12"),
        &Secret::new("filepass"),
        &Secret::new("keypass"),
    )
    .unwrap();
    assert!(ks.key.is_some());
    assert!(!ks.chain.is_empty());
}
