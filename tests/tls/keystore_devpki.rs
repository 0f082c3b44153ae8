//! The committed development PKI (`certs/dev`, made by `certs/gen-dev-pki.sh`) loads as
//! docs/tls.md says: every format, both password arrangements, both kinds of trust store. The
//! Java-written files are here because CI has no JDK; the script that made them is committed.

use crate::support::dev_pki::dev;
use smppd::secret::Secret;
use smppd::transport::keystore::{Keystore, KeystoreError};

fn load(name: &str, file: &str, key: &str) -> Result<Keystore, KeystoreError> {
    Keystore::load_pkcs12(&dev(name), &Secret::new(file), &Secret::new(key))
}

fn assert_client(ks: &Keystore) {
    assert!(ks.key.is_some());
    assert_eq!(ks.chain.len(), 2, "client leaf then the CA");
    assert_eq!(ks.trusted.len(), 1, "the CA, not our own leaf");
    assert_eq!(ks.chain.get(1), ks.trusted.first());
    assert!(ks.require_key().is_ok());
}

#[test]
fn openssl_default_bundle() {
    assert_client(&load("client.p12", "changeit", "changeit").unwrap());
    assert_client(&load("client.p12", "changeit", "").unwrap());
}

#[test]
fn openssl_legacy_bundle() {
    assert_client(&load("client-legacy.p12", "changeit", "changeit").unwrap());
}

#[test]
fn keytool_bundle() {
    assert_client(&load("client-keytool.p12", "changeit", "changeit").unwrap());
}

#[test]
fn java_api_bundle_with_two_passwords() {
    assert_client(&load("client-two-passwords.p12", "filepass", "keypass").unwrap());
    let wrong_key = load("client-two-passwords.p12", "filepass", "filepass").unwrap_err();
    assert_eq!(wrong_key.reason(), "keystore_wrong_key_password");
    assert!(
        wrong_key.to_string().starts_with("Get Key failed: "),
        "{wrong_key}"
    );
    let wrong_file = load("client-two-passwords.p12", "keypass", "keypass").unwrap_err();
    assert_eq!(wrong_file.to_string(), "keystore password was incorrect");
}

#[test]
fn trust_stores_from_openssl_and_keytool() {
    for name in ["truststore.p12", "truststore-keytool.p12"] {
        let ks = load(name, "changeit", "").unwrap();
        assert!(ks.key.is_none() && ks.chain.is_empty(), "{name}");
        assert_eq!(ks.trusted.len(), 1, "{name}");
        assert_eq!(
            ks.require_key().unwrap_err().reason(),
            "keystore_no_private_key"
        );
    }
}

#[test]
fn pem_copies() {
    let ks = Keystore::load_pem(
        Some(&dev("client-chain.pem")),
        Some(&dev("client.key")),
        Some(&dev("ca.pem")),
    )
    .unwrap();
    assert_eq!(ks.chain.len(), 2);
    assert_eq!(ks.trusted.len(), 1);
    assert!(ks.require_key().is_ok());
}
