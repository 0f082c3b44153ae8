//! Each TLS mode and pinned version against in-process servers on 127.0.0.1: success and
//! byte exchange, version refusal, server-name override and trust-all.

use crate::support::pki::Pki;
use crate::support::tls_server::*;
use smppd::transport::{
    Connector, InitError, TlsMode, TlsOptions, TlsSettings, TlsVersion, TRUST_ALL_WARNING,
};

#[tokio::test]
async fn off_exchanges_bytes_over_plain_tcp() {
    let addr = plain_server(Plain::Echo).await;
    let mut c = connect(&TlsSettings::Off, addr).await.expect("connect");
    assert_eq!(c.stream.mode(), TlsMode::Off);
    assert_eq!(c.stream.tls_version(), None);
    assert!(c.warning.is_none());
    assert!(c.peer_certificate.is_none());
    exchange(&mut c.stream, b"bind_transceiver").await;
}

#[tokio::test]
async fn single_tls12_exchanges_bytes() {
    let pki = Pki::new();
    let addr = tls_server(server_config(&pki, &pki.server, BOTH, false), After::Echo).await;
    let mut c = connect(&single(&pki, TlsVersion::V1_2), addr)
        .await
        .expect("connect");
    assert_eq!(c.stream.tls_version(), Some(TlsVersion::V1_2));
    assert!(c.warning.is_none());
    exchange(&mut c.stream, b"bind over 1.2").await;
}

#[tokio::test]
async fn single_tls13_exchanges_bytes() {
    let pki = Pki::new();
    let addr = tls_server(server_config(&pki, &pki.server, BOTH, false), After::Echo).await;
    let mut c = connect(&single(&pki, TlsVersion::V1_3), addr)
        .await
        .expect("connect");
    assert_eq!(c.stream.tls_version(), Some(TlsVersion::V1_3));
    exchange(&mut c.stream, b"bind over 1.3").await;
}

#[tokio::test]
async fn mutual_tls12_and_tls13_exchange_bytes() {
    let pki = Pki::new();
    for version in [TlsVersion::V1_2, TlsVersion::V1_3] {
        let addr = tls_server(server_config(&pki, &pki.server, BOTH, true), After::Echo).await;
        let mut c = connect(&mutual(&pki, &pki.client, version), addr)
            .await
            .expect("connect");
        assert_eq!(c.stream.mode(), TlsMode::Mutual);
        assert_eq!(c.stream.tls_version(), Some(version));
        // The SMSC's leaf (not its chain), for the expiry metrics.
        assert_eq!(c.peer_certificate.as_ref(), Some(&pki.server.cert));
        exchange(&mut c.stream, b"mutual bind").await;
    }
}

#[tokio::test]
async fn pinned_tls12_is_refused_by_a_tls13_only_server() {
    let pki = Pki::new();
    let addr = tls_server(server_config(&pki, &pki.server, TLS13, false), After::Echo).await;
    let err = connect(&single(&pki, TlsVersion::V1_2), addr)
        .await
        .expect_err("no common version");
    let err = assert_failure(err, "tls_version_unsupported", "does not accept TLS 1.2");
    assert!(err.detail().contains("ProtocolVersion"), "{err}");
}

#[tokio::test]
async fn pinned_tls13_is_refused_by_a_tls12_only_server() {
    let pki = Pki::new();
    let addr = tls_server(server_config(&pki, &pki.server, TLS12, false), After::Echo).await;
    let err = connect(&single(&pki, TlsVersion::V1_3), addr)
        .await
        .expect_err("no common version");
    assert_failure(err, "tls_version_unsupported", "does not accept TLS 1.3");
}

#[tokio::test]
async fn server_name_override_verifies_an_ip_connection() {
    let pki = Pki::new();
    // The certificate names only smsc.example; we connect to 127.0.0.1.
    let config = server_config(&pki, &pki.named_server, BOTH, false);
    let addr = tls_server(config, After::Echo).await;
    let settings = TlsSettings::Single {
        options: TlsOptions {
            server_name: Some("smsc.example".into()),
            ..TlsOptions::default()
        },
        keystore: Some(pki.trust_store()),
    };
    let mut c = connect(&settings, addr).await.expect("override verifies");
    exchange(&mut c.stream, b"via the override").await;
}

#[tokio::test]
async fn trust_all_connects_to_an_untrusted_server_and_warns() {
    let pki = Pki::new();
    let addr = tls_server(
        server_config(&pki, &pki.foreign_server, BOTH, false),
        After::Echo,
    )
    .await;
    let settings = TlsSettings::Single {
        options: TlsOptions {
            trust_all: true,
            ..TlsOptions::default()
        },
        keystore: Some(pki.trust_store()),
    };
    let mut c = connect(&settings, addr).await.expect("trust_all connects");
    assert_eq!(c.warning, Some(TRUST_ALL_WARNING));
    exchange(&mut c.stream, b"lab only").await;
}

#[test]
fn the_client_context_is_built_once_per_channel() {
    let pki = Pki::new();
    let connector = Connector::new(&single(&pki, TlsVersion::V1_2)).expect("init");
    let config = connector.rustls_config().expect("rustls").clone();
    // Same Arc for every connection: the connector hands out its own context.
    assert!(std::sync::Arc::ptr_eq(
        &config,
        connector.rustls_config().expect("rustls")
    ));
    assert!(Connector::new(&TlsSettings::Off)
        .expect("plain")
        .rustls_config()
        .is_none());
}

#[test]
fn mutual_without_a_private_key_fails_initialisation() {
    let pki = Pki::new();
    let settings = TlsSettings::Mutual {
        options: TlsOptions::default(),
        keystore: pki.trust_store(),
    };
    let err = Connector::new(&settings).expect_err("no key");
    assert!(matches!(err, InitError::NoPrivateKey { .. }), "{err:?}");
    assert_eq!(err.reason(), "no_private_key");
}

#[test]
fn a_keystore_with_nothing_to_trust_fails_initialisation() {
    let pki = Pki::new();
    let mut keystore = pki.trust_store();
    keystore.contents.trusted.clear();
    let settings = TlsSettings::Single {
        options: TlsOptions::default(),
        keystore: Some(keystore),
    };
    let err = Connector::new(&settings).expect_err("empty trust");
    assert_eq!(err.reason(), "empty_trust_store");
}

#[test]
fn an_invalid_server_name_fails_initialisation() {
    let settings = TlsSettings::Single {
        options: TlsOptions {
            server_name: Some("not a name!".into()),
            trust_all: true,
            ..TlsOptions::default()
        },
        keystore: None,
    };
    let err = Connector::new(&settings).expect_err("bad name");
    assert_eq!(err.reason(), "invalid_server_name");
}

#[cfg(not(feature = "tls11"))]
#[test]
fn tls11_is_refused_without_the_feature_and_says_how_to_get_it() {
    let pki = Pki::new();
    let err = Connector::new(&single(&pki, TlsVersion::V1_1)).expect_err("no TLS 1.1");
    assert!(matches!(err, InitError::Tls11Unavailable));
    assert!(
        err.to_string().contains("cargo build --features tls11"),
        "{err}"
    );
}

#[tokio::test]
async fn single_mode_against_a_server_that_requires_a_client_certificate() {
    let pki = Pki::new();
    // TLS 1.2: the server's refusal ends the handshake.
    let addr = tls_server(server_config(&pki, &pki.server, TLS12, true), After::Echo).await;
    let err = connect(&single(&pki, TlsVersion::V1_2), addr)
        .await
        .expect_err("client certificate required");
    let err = assert_failure(err, "tls_handshake_failed", "failed to send bind request");
    assert!(err.detail().contains("x-smpp-tls-mode = mutual"), "{err}");
}
