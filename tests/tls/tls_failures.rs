//! Connection failures and how they are classified: untrusted, expired and misnamed server
//! certificates, refused connections, and a TLS/plain mismatch in either direction.

use std::time::Duration;

use crate::support::hang_guard::HANG_GUARD;
use crate::support::pki::Pki;
use crate::support::ports::closed_port;
use crate::support::tls_server::*;
use smppd::transport::{CertProblem, Connector, Timeouts, TlsSettings, TlsVersion, TransportError};
use tokio::io::AsyncWriteExt;

fn problem(err: &TransportError) -> CertProblem {
    match err {
        TransportError::ServerCertUntrusted { problem, .. } => problem.clone(),
        other => panic!("not a certificate problem: {other:?}"),
    }
}

#[tokio::test]
async fn a_server_cert_from_another_ca_is_not_trusted() {
    let pki = Pki::new();
    let config = server_config(&pki, &pki.foreign_server, BOTH, false);
    let addr = tls_server(config, After::Echo).await;
    let err = connect(&single(&pki, TlsVersion::V1_2), addr)
        .await
        .expect_err("untrusted");
    let err = assert_failure(
        err,
        "server_cert_untrusted",
        "No trusted certificate found (unknown issuer)",
    );
    assert_eq!(problem(&err), CertProblem::UnknownIssuer);
    assert!(
        err.to_string().contains("not trusted for 127.0.0.1"),
        "{err}"
    );
}

#[tokio::test]
async fn an_expired_server_cert_is_not_trusted() {
    let pki = Pki::new();
    let config = server_config(&pki, &pki.expired_server, BOTH, false);
    let addr = tls_server(config, After::Echo).await;
    let err = connect(&single(&pki, TlsVersion::V1_3), addr)
        .await
        .expect_err("expired");
    let err = assert_failure(
        err,
        "server_cert_untrusted",
        "No trusted certificate found (expired)",
    );
    assert_eq!(problem(&err), CertProblem::Expired);
}

#[tokio::test]
async fn a_server_cert_for_another_name_is_not_trusted() {
    let pki = Pki::new();
    let config = server_config(&pki, &pki.named_server, BOTH, false);
    let addr = tls_server(config, After::Echo).await;
    let err = connect(&single(&pki, TlsVersion::V1_2), addr)
        .await
        .expect_err("wrong name");
    let err = assert_failure(err, "server_cert_untrusted", "wrong host name");
    match problem(&err) {
        CertProblem::WrongHostName {
            expected,
            presented,
        } => {
            assert_eq!(expected, "127.0.0.1");
            assert_eq!(presented, vec!["smsc.example".to_string()]);
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_closed_port_is_connect_refused() {
    let addr = closed_port();
    for settings in [TlsSettings::Off, single(&Pki::new(), TlsVersion::V1_2)] {
        let err = connect(&settings, addr).await.expect_err("refused");
        let err = assert_failure(err, "connect_refused", "refused");
        assert!(err.to_string().contains(&addr.to_string()), "{err}");
    }
}

#[tokio::test]
async fn a_host_that_does_not_resolve_is_a_dns_failure() {
    let err = connect_host(&TlsSettings::Off, "no-such-host.invalid", 2775)
        .await
        .expect_err("no such host");
    assert_failure(err, "dns_failure", "cannot resolve no-such-host.invalid");
}

#[tokio::test]
async fn a_plain_server_that_answers_smpp_on_a_tls_channel() {
    let pki = Pki::new();
    let addr = plain_server(Plain::Nack).await;
    let err = connect(&single(&pki, TlsVersion::V1_2), addr)
        .await
        .expect_err("not TLS");
    let err = assert_failure(err, "plain_server_on_tls_channel", "does not speak TLS");
    assert!(err.detail().contains("00 00 00 10 80"), "{err}");
}

#[tokio::test]
async fn a_plain_server_that_waits_for_a_bind_on_a_tls_channel() {
    let pki = Pki::new();
    let addr = plain_server(Plain::Silent).await;
    let connector = Connector::new(&single(&pki, TlsVersion::V1_3)).expect("init");
    // The server never answers, so the handshake timeout is what ends this attempt; its
    // length does not change the outcome.
    let timeouts = Timeouts {
        connect: HANG_GUARD,
        handshake: Duration::from_millis(300),
    };
    let err = tokio::time::timeout(
        HANG_GUARD,
        connector.connect("127.0.0.1", addr.port(), timeouts),
    )
    .await
    .expect("hang guard")
    .expect_err("no ServerHello");
    let err = assert_failure(err, "plain_server_on_tls_channel", "does not speak TLS");
    assert!(err.detail().contains("no ServerHello"), "{err}");
}

#[tokio::test]
async fn a_tls_server_on_a_plain_channel_is_recognised_from_its_first_bytes() {
    let pki = Pki::new();
    let addr = tls_server(server_config(&pki, &pki.server, BOTH, false), After::Echo).await;
    let mut c = connect(&TlsSettings::Off, addr).await.expect("tcp connect");
    // A bind_transceiver header: the TLS server takes it for a broken ClientHello.
    let bind = [0u8, 0, 0, 0x2f, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1];
    c.stream.write_all(&bind).await.expect("write bind");
    // The stream looks at the first bytes itself: the read fails with the classification.
    let err = read_some(&mut c.stream)
        .await
        .expect_err("the first bytes are recognised as TLS");
    let err = TransportError::take_from_io(err).expect("the read error carries the reason");
    assert_failure(err, "tls_server_on_plain_channel", "probably requires TLS");
}
