//! Every way a keystore can be unusable: the reason, the text the supervisor logs after
//! `failed to initialize ssl context: `, and validity warnings. Also that no password ever
//! shows in an error.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::support::keystore_pki::{read, Pki};
use p12_keystore::{KeyStore, KeyStoreEntry, PrivateKeyChain};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::PrivatePkcs8KeyDer;
use smppd::secret::Secret;
use smppd::transport::keystore::{Keystore, KeystoreError, KeystoreWarning};

const LEAKY: &str = "Tr0ub4dor&3-leak";

fn load(path: &Path, file: &str, key: &str) -> Result<Keystore, KeystoreError> {
    Keystore::load_pkcs12(path, &Secret::new(file), &Secret::new(key))
}

/// Writes `key` and `cert` (PEM files in the PKI) as one keychain with p12-keystore, which,
/// unlike openssl, does not refuse a key that does not match.
fn p12_keystore_bundle(pki: &Pki, key: &str, cert: &str, out: &str, password: &str) -> PathBuf {
    let key = PrivatePkcs8KeyDer::from_pem_file(pki.path(key)).unwrap();
    let cert = rustls_pki_types::CertificateDer::from_pem_file(pki.path(cert)).unwrap();
    let chain = PrivateKeyChain::new(
        b"id".to_vec(),
        p12_keystore::PrivateKey::from_der(key.secret_pkcs8_der()).unwrap(),
        [p12_keystore::Certificate::from_der(&cert).unwrap()],
    );
    let mut store = KeyStore::new();
    store.add_entry("test", KeyStoreEntry::PrivateKeyChain(chain));
    pki.write(out, &store.writer(password).write().unwrap())
}

/// A self-signed certificate (rcgen) valid over the given years, as PEM files and a .p12.
fn dated(pki: &Pki, name: &str, from: i32, to: i32) -> PathBuf {
    let mut params = rcgen::CertificateParams::new(vec![format!("{name}.test")]).unwrap();
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, name);
    params.not_before = rcgen::date_time_ymd(from, 1, 1);
    params.not_after = rcgen::date_time_ymd(to, 1, 1);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = params.self_signed(&key).unwrap();
    pki.write(&format!("{name}.pem"), cert.pem().as_bytes());
    pki.write(&format!("{name}.key"), key.serialize_pem().as_bytes());
    let (c, k, out) = (
        format!("{name}.pem"),
        format!("{name}.key"),
        format!("{name}.p12"),
    );
    pki.openssl(&[
        "pkcs12", "-export", "-inkey", &k, "-in", &c, "-out", &out, "-passout", "pass:pw",
    ]);
    pki.path(&out)
}

#[test]
fn missing_and_unreadable_files_name_the_path() {
    let pki = Pki::new();
    let missing = pki.path("nope.p12");
    let e = load(&missing, "pw", "pw").unwrap_err();
    assert_eq!(e.reason(), "keystore_not_found");
    assert!(
        e.to_string().starts_with(&format!(
            "cannot read keystore file {}: ",
            missing.display()
        )),
        "{e}"
    );
    let e = load(pki.dir.path(), "pw", "pw").unwrap_err();
    assert_eq!(e.reason(), "keystore_unreadable", "{e}");
}

#[test]
fn not_pkcs12_is_distinct_from_a_wrong_password() {
    let pki = Pki::new();
    for (name, bytes) in [
        ("text.p12", &b"hello, world"[..]),
        ("empty.p12", &b""[..]),
        ("pem.p12", &read(&pki.path("leaf.pem"))[..]),
    ] {
        let path = pki.write(name, bytes);
        let e = load(&path, "pw", "pw").unwrap_err();
        assert_eq!(e.reason(), "keystore_not_pkcs12", "{name}: {e}");
        assert!(e.to_string().contains("is not a PKCS#12 file: "), "{e}");
    }
}

#[test]
fn wrong_file_password_has_the_java_wording() {
    let pki = Pki::new();
    let path = pki.export("default.p12", "right", &[]);
    let e = load(&path, "wrong", "right").unwrap_err();
    assert_eq!(e.to_string(), "keystore password was incorrect");
    assert_eq!(e.reason(), "keystore_wrong_file_password");
}

#[test]
fn wrong_key_password_has_the_java_prefix() {
    let pki = Pki::new();
    let path = pki.export("default.p12", "right", &[]);
    let e = load(&path, "right", "wrong").unwrap_err();
    assert_eq!(e.reason(), "keystore_wrong_key_password");
    assert!(e.to_string().starts_with("Get Key failed: "), "{e}");
}

#[test]
fn no_key_for_mutual_tls() {
    let pki = Pki::new();
    let ks = load(&pki.trust_store("trust.p12", "pw"), "pw", "").unwrap();
    let e = ks.require_key().unwrap_err();
    assert_eq!(e.reason(), "keystore_no_private_key");
    assert!(e.to_string().contains("no private key"), "{e}");
}

#[test]
fn key_that_does_not_match_its_certificate() {
    let pki = Pki::new();
    let path = p12_keystore_bundle(&pki, "other.key", "leaf.pem", "mismatch.p12", "pw");
    let e = load(&path, "pw", "pw").unwrap_err();
    assert_eq!(e.reason(), "keystore_key_mismatch");
    assert_eq!(
        e.to_string(),
        "the private key does not match the certificate CN=test leaf"
    );
    // The same pair as PEM files.
    let e = Keystore::load_pem(
        Some(&pki.path("leaf.pem")),
        Some(&pki.path("other.key")),
        None,
    )
    .unwrap_err();
    assert_eq!(e.reason(), "keystore_key_mismatch");
}

#[test]
fn empty_trust_store() {
    let pki = Pki::new();
    let path = pki.write(
        "empty-store.p12",
        &KeyStore::new().writer("pw").write().unwrap(),
    );
    let e = load(&path, "pw", "").unwrap_err();
    assert_eq!(e.reason(), "keystore_empty_trust_store");
    assert_eq!(e.to_string(), "trust store holds no certificate");
    let e = Keystore::load_pem(None, None, Some(&pki.path("leaf.key"))).unwrap_err();
    assert_eq!(e.reason(), "keystore_empty_trust_store");
}

#[test]
fn key_algorithm_tls_cannot_use_is_named_by_oid() {
    let pki = Pki::new();
    pki.openssl(&["genpkey", "-algorithm", "ED448", "-out", "ed448.key"]);
    pki.openssl(&[
        "req",
        "-x509",
        "-new",
        "-key",
        "ed448.key",
        "-subj",
        "/CN=ed448",
        "-days",
        "2",
        "-out",
        "ed448.pem",
    ]);
    pki.openssl(&[
        "pkcs12",
        "-export",
        "-inkey",
        "ed448.key",
        "-in",
        "ed448.pem",
        "-out",
        "ed448.p12",
        "-passout",
        "pass:pw",
    ]);
    let e = load(&pki.path("ed448.p12"), "pw", "pw").unwrap_err();
    assert_eq!(e.reason(), "keystore_unsupported_algorithm");
    assert_eq!(
        e.to_string(),
        "unsupported private key algorithm 1.3.101.113"
    );
}

#[test]
fn expired_and_not_yet_valid_certificates_are_warned_about() {
    let pki = Pki::new();
    let now = SystemTime::now();
    let old = load(&dated(&pki, "old", 2000, 2001), "pw", "pw").unwrap();
    let warnings = old.warnings(now);
    assert_eq!(
        warnings,
        vec![KeystoreWarning::Expired {
            subject: "CN=old".into(),
            not_after: "2001-01-01 00:00:00 UTC".into()
        }]
    );
    assert_eq!(
        warnings[0].to_string(),
        "certificate CN=old expired on 2001-01-01 00:00:00 UTC"
    );
    assert_eq!(warnings[0].reason(), "certificate_expired");
    let old_pem =
        Keystore::load_pem(Some(&pki.path("old.pem")), Some(&pki.path("old.key")), None).unwrap();
    assert_eq!(old_pem.warnings(now).len(), 1);
    let young = load(&dated(&pki, "young", 2200, 2201), "pw", "pw").unwrap();
    let w = young.warnings(now);
    assert_eq!(
        w.first().map(|w| w.reason()),
        Some("certificate_not_yet_valid")
    );
    assert_eq!(
        w[0].to_string(),
        "certificate CN=young is not valid before 2200-01-01 00:00:00 UTC"
    );
}

#[test]
fn own_certificate_expiring_within_30_days_is_warned_about() {
    let pki = Pki::new();
    let ks = load(&pki.export("soon.p12", "pw", &[]), "pw", "pw").unwrap();
    let w = ks.warnings(SystemTime::now());
    assert_eq!(w.len(), 1, "only our leaf, not the CA: {w:?}");
    match &w[0] {
        KeystoreWarning::ExpiresSoon {
            subject, days_left, ..
        } => {
            assert_eq!(subject, "CN=test leaf");
            assert!((19..=20).contains(days_left), "{days_left}");
        }
        other => panic!("{other:?}"),
    }
    assert!(w[0]
        .to_string()
        .starts_with("our certificate CN=test leaf expires on "));
}

#[test]
fn no_password_appears_in_any_error_or_debug_output() {
    let pki = Pki::new();
    let default = pki.export("default.p12", LEAKY, &[]);
    let legacy = pki.export("legacy.p12", LEAKY, &["-legacy"]);
    let wrong = format!("{LEAKY}-wrong");
    let mut errors = vec![
        load(&default, &wrong, LEAKY).unwrap_err(),
        load(&default, LEAKY, &wrong).unwrap_err(),
        load(&legacy, &wrong, LEAKY).unwrap_err(),
        load(&legacy, LEAKY, &wrong).unwrap_err(),
        load(&pki.path("missing.p12"), LEAKY, LEAKY).unwrap_err(),
        load(&pki.write("junk.p12", b"junk"), LEAKY, LEAKY).unwrap_err(),
        load(
            &p12_keystore_bundle(&pki, "other.key", "leaf.pem", "m.p12", LEAKY),
            LEAKY,
            LEAKY,
        )
        .unwrap_err(),
    ];
    let ks = load(&default, LEAKY, LEAKY).unwrap();
    errors.push(
        load(&pki.trust_store("t.p12", LEAKY), LEAKY, LEAKY)
            .unwrap()
            .require_key()
            .unwrap_err(),
    );
    for e in &errors {
        for text in [e.to_string(), format!("{e:?}")] {
            assert!(
                !text.contains(LEAKY) && !text.contains("Tr0ub4dor"),
                "{text}"
            );
        }
    }
    let debug = format!("{ks:?}");
    assert!(
        !debug.contains(LEAKY) && debug.contains("********"),
        "{debug}"
    );
}

#[test]
fn oversized_files_are_refused_before_parsing() {
    let pki = Pki::new();
    let size = usize::try_from(smppd::transport::keystore::MAX_FILE_SIZE).unwrap() + 1;
    let path = pki.write("huge.p12", &vec![0u8; size]);
    let e = load(&path, "pw", "pw").unwrap_err();
    assert_eq!(e.reason(), "keystore_unreadable");
    assert!(e.to_string().contains("too big for a keystore"), "{e}");
}

#[test]
fn fifos_and_devices_are_refused_without_waiting_on_them() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("client.p12");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let started = std::time::Instant::now();
    let e = load(&fifo, "pw", "pw").unwrap_err();
    assert_eq!(e.reason(), "keystore_unreadable");
    assert_eq!(
        e.to_string(),
        format!(
            "cannot read keystore file {}: it is a FIFO (named pipe), not a regular file",
            fifo.display()
        )
    );
    let e = Keystore::load_pem(None, None, Some(&fifo)).unwrap_err();
    assert!(e.to_string().contains("FIFO"), "{e}");
    let e = load(Path::new("/dev/zero"), "pw", "pw").unwrap_err();
    assert_eq!(e.reason(), "keystore_unreadable");
    assert!(
        e.to_string()
            .ends_with("it is a character device, not a regular file"),
        "{e}"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
