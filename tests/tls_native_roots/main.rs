//! `single` mode without a keystore trusts the operating system store, which
//! `SSL_CERT_FILE` replaces when set. One test in this binary: it changes the environment.

#[path = "../support"]
mod support {
    pub mod hang_guard;
    // One test, alone in its binary, uses a little of the TLS tests' helpers.
    #[allow(dead_code)]
    pub mod pki;
    #[allow(dead_code)]
    pub mod tls_server;
}

use crate::support::pki::Pki;
use crate::support::tls_server::*;
use smppd::transport::{Connector, TlsOptions, TlsSettings};

fn no_keystore() -> TlsSettings {
    TlsSettings::Single {
        options: TlsOptions::default(),
        keystore: None,
    }
}

#[tokio::test]
async fn without_a_keystore_the_system_store_is_trusted_and_ssl_cert_file_replaces_it() {
    let pki = Pki::new();
    let dir = std::env::temp_dir().join(format!("smppd-native-roots-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let ca_file = dir.join("ca.pem");
    let empty_file = dir.join("empty.pem");
    std::fs::write(&ca_file, &pki.ca.cert_pem).expect("write CA");
    std::fs::write(&empty_file, "").expect("write empty");
    // Only SSL_CERT_FILE: SSL_CERT_DIR would add the machine's real store.
    std::env::remove_var("SSL_CERT_DIR");

    // Our CA as the whole "system" store: the test server verifies.
    std::env::set_var("SSL_CERT_FILE", &ca_file);
    let addr = tls_server(server_config(&pki, &pki.server, BOTH, false), After::Echo).await;
    let mut c = connect(&no_keystore(), addr).await.expect("system store");
    exchange(&mut c.stream, b"trusted by SSL_CERT_FILE").await;

    // An empty store is refused at initialisation, not at the first connection.
    std::env::set_var("SSL_CERT_FILE", &empty_file);
    let err = Connector::new(&no_keystore()).expect_err("empty store");
    assert_eq!(err.reason(), "empty_trust_store");
    assert!(err.to_string().contains("SSL_CERT_FILE"), "{err}");

    std::env::remove_var("SSL_CERT_FILE");
    let _ = std::fs::remove_dir_all(&dir);
}
