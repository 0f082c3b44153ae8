//! PKCS#12 files as OpenSSL 3 writes them, made at test time: default and `-legacy`
//! encryption, MAC-less, same or empty key password, CA-only trust stores.

use std::path::Path;
use std::time::SystemTime;

use crate::support::keystore_pki::{read, Pki};
use rustls_pki_types::CertificateDer;
use smppd::secret::Secret;
use smppd::transport::keystore::{Keystore, KeystoreError};

fn load(path: &Path, file: &str, key: &str) -> Result<Keystore, KeystoreError> {
    Keystore::load_pkcs12(path, &Secret::new(file), &Secret::new(key))
}

fn pem_der(pki: &Pki, name: &str) -> CertificateDer<'static> {
    use rustls_pki_types::pem::PemObject;
    CertificateDer::from_pem_file(pki.path(name)).expect("PEM certificate")
}

/// Leaf first, then the CA; only the CA is trusted.
fn assert_leaf_and_ca(pki: &Pki, ks: &Keystore) {
    let leaf = pem_der(pki, "leaf.pem");
    let ca = pem_der(pki, "ca.pem");
    assert_eq!(ks.chain, vec![leaf, ca.clone()]);
    assert_eq!(ks.trusted, vec![ca]);
    let (_, key) = ks.require_key().expect("mutual TLS material");
    assert!(matches!(key, rustls_pki_types::PrivateKeyDer::Pkcs8(_)));
}

#[test]
fn openssl3_default_and_legacy_and_macless_bundles_load() {
    let pki = Pki::new();
    for (name, extra) in [
        ("default.p12", &[][..]),
        ("legacy.p12", &["-legacy"][..]),
        ("nomac.p12", &["-nomac"][..]),
    ] {
        let path = pki.export(name, "s3cret", extra);
        let ks = load(&path, "s3cret", "s3cret").unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_leaf_and_ca(&pki, &ks);
        // An empty key password means "the file password".
        assert_leaf_and_ca(&pki, &load(&path, "s3cret", "").unwrap());
    }
}

#[test]
fn legacy_bundle_reports_wrong_passwords_like_java() {
    let pki = Pki::new();
    let path = pki.export("legacy.p12", "right", &["-legacy"]);
    let e = load(&path, "wrong", "right").unwrap_err();
    assert_eq!(e.to_string(), "keystore password was incorrect");
    assert_eq!(e.reason(), "keystore_wrong_file_password");
    let e = load(&path, "right", "wrong").unwrap_err();
    assert_eq!(e.reason(), "keystore_wrong_key_password");
    assert!(e.to_string().starts_with("Get Key failed: "), "{e}");
}

#[test]
fn macless_bundle_with_wrong_password_is_a_file_password_error() {
    // `-nomac` alone leaves the certificates in clear; ask for them to be encrypted so the
    // file password protects something.
    let pki = Pki::new();
    let path = pki.export("nomac.p12", "right", &["-nomac", "-certpbe", "AES-256-CBC"]);
    let e = load(&path, "wrong", "right").unwrap_err();
    assert_eq!(e.reason(), "keystore_wrong_file_password", "{e}");
}

#[test]
fn openssl_trust_store_without_trusted_attribute_is_trusted() {
    let pki = Pki::new();
    let path = pki.trust_store("trust.p12", "changeit");
    let ks = load(&path, "changeit", "").unwrap();
    assert!(ks.chain.is_empty() && ks.key.is_none());
    assert_eq!(ks.trusted, vec![pem_der(&pki, "ca.pem")]);
    assert_eq!(ks.require_trusted().unwrap().len(), 1);
    assert_eq!(
        ks.require_key().unwrap_err().reason(),
        "keystore_no_private_key"
    );
    assert!(ks.warnings(SystemTime::now()).is_empty());
}

#[test]
fn bytes_and_file_give_the_same_keystore() {
    let pki = Pki::new();
    let path = pki.export("default.p12", "pw", &[]);
    let a = load(&path, "pw", "pw").unwrap();
    let b = Keystore::from_pkcs12_der(&read(&path), &path, &Secret::new("pw"), &Secret::new("pw"))
        .unwrap();
    assert_eq!(a.chain, b.chain);
    assert_eq!(a.trusted, b.trusted);
}
