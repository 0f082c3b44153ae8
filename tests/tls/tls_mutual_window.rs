//! Mutual mode: the SMSC rejecting our certificate during the TLS 1.2 handshake, and after a
//! successful TLS 1.3 handshake (seen on the first read), versus closes that are not
//! certificate rejections.

use crate::support::pki::Pki;
use crate::support::tls_server::*;
use smppd::supervisor::CERT_REJECTED_TEXT;
use smppd::transport::{Phase, ReadEnd, RejectionSeen, Stream, TlsVersion, TransportError};
use tokio::io::AsyncWriteExt;

/// A bind_transceiver header, as the session would send first.
const BIND: [u8; 16] = [0, 0, 0, 0x2f, 0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1];

/// Sends a bind and reads the answer the way the session does, classifying how it ended.
async fn bind_and_read(stream: &mut Stream) -> Result<Vec<u8>, TransportError> {
    if let Err(e) = stream.write_all(&BIND).await {
        return Err(stream.classify_read_end(ReadEnd::Error(&e)));
    }
    if let Err(e) = stream.flush().await {
        return Err(stream.classify_read_end(ReadEnd::Error(&e)));
    }
    match read_some(stream).await {
        // Before the first byte the stream classifies an early end itself, as the session
        // relies on; after it, a clean EOF is only a read of zero bytes.
        Ok(bytes) if bytes.is_empty() => {
            assert!(
                stream.received_data(),
                "an early EOF must come back as an error"
            );
            Err(stream.classify_read_end(ReadEnd::Eof))
        }
        Ok(bytes) => Ok(bytes),
        Err(e) => match TransportError::take_from_io(e) {
            Ok(classified) => Err(classified),
            Err(e) => Err(stream.classify_read_end(ReadEnd::Error(&e))),
        },
    }
}

fn seen(err: &TransportError) -> RejectionSeen {
    match err {
        TransportError::ClientCertRejected { seen, .. } => *seen,
        other => panic!("not a rejection: {other:?}"),
    }
}

#[tokio::test]
async fn tls12_rejection_of_our_certificate_fails_the_handshake() {
    let pki = Pki::new();
    let addr = tls_server(server_config(&pki, &pki.server, TLS12, true), After::Echo).await;
    let err = connect(&mutual(&pki, &pki.foreign_client, TlsVersion::V1_2), addr)
        .await
        .expect_err("rejected");
    let err = assert_failure(err, "client_cert_rejected", CERT_REJECTED_TEXT);
    assert_eq!(seen(&err), RejectionSeen::Handshake);
    assert_eq!(err.phase(), Phase::Handshake);
}

#[tokio::test]
async fn tls13_rejection_of_our_certificate_shows_on_the_first_read() {
    let pki = Pki::new();
    let addr = tls_server(server_config(&pki, &pki.server, TLS13, true), After::Echo).await;
    // TLS 1.3: our side is done before the server has judged our certificate.
    let mut c = connect(&mutual(&pki, &pki.foreign_client, TlsVersion::V1_3), addr)
        .await
        .expect("handshake completes on our side");
    let err = bind_and_read(&mut c.stream)
        .await
        .expect_err("the bind response never comes");
    let err = assert_failure(err, "client_cert_rejected", CERT_REJECTED_TEXT);
    assert_eq!(seen(&err), RejectionSeen::FirstRead);
    assert_eq!(err.phase(), Phase::Bind);
}

#[tokio::test]
async fn tls13_close_right_after_the_handshake_is_taken_for_a_rejection() {
    // Indistinguishable from a rejection in TLS 1.3, and the driver's text says "Maybe".
    let pki = Pki::new();
    let addr = tls_server(server_config(&pki, &pki.server, TLS13, true), After::Close).await;
    let mut c = connect(&mutual(&pki, &pki.client, TlsVersion::V1_3), addr)
        .await
        .expect("handshake");
    let err = bind_and_read(&mut c.stream).await.expect_err("closed");
    let err = assert_failure(err, "client_cert_rejected", CERT_REJECTED_TEXT);
    assert_eq!(seen(&err), RejectionSeen::FirstRead);
}

#[tokio::test]
async fn tls12_close_right_after_the_handshake_is_not_a_rejection() {
    // In TLS 1.2 a completed handshake means the server accepted our certificate.
    let pki = Pki::new();
    let addr = tls_server(server_config(&pki, &pki.server, TLS12, true), After::Close).await;
    let mut c = connect(&mutual(&pki, &pki.client, TlsVersion::V1_2), addr)
        .await
        .expect("handshake");
    let err = bind_and_read(&mut c.stream).await.expect_err("closed");
    assert_failure(err, "link_lost", "before the first PDU");
}

#[tokio::test]
async fn single_mode_close_after_a_tls13_handshake_is_not_a_rejection() {
    let pki = Pki::new();
    let addr = tls_server(server_config(&pki, &pki.server, TLS13, false), After::Close).await;
    let mut c = connect(&single(&pki, TlsVersion::V1_3), addr)
        .await
        .expect("handshake");
    let err = bind_and_read(&mut c.stream).await.expect_err("closed");
    assert_failure(err, "link_lost", "before the first PDU");
}

#[tokio::test]
async fn a_later_disconnect_in_tls13_mutual_is_not_a_rejection() {
    let pki = Pki::new();
    let resp = vec![0, 0, 0, 0x11, 0x80, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 1, 0];
    let config = server_config(&pki, &pki.server, TLS13, true);
    let addr = tls_server(config, After::SendThenClose(resp.clone())).await;
    let mut c = connect(&mutual(&pki, &pki.client, TlsVersion::V1_3), addr)
        .await
        .expect("handshake");
    // The bind response arrives (perhaps over several reads), then the link drops.
    let mut got = bind_and_read(&mut c.stream).await.expect("bind response");
    assert!(c.stream.received_data());
    let err = loop {
        match bind_and_read(&mut c.stream).await {
            Ok(more) => got.extend(more),
            Err(err) => break err,
        }
    };
    assert_eq!(got, resp);
    let err = assert_failure(err, "link_lost", "SMSC close socket connection");
    assert!(!err.detail().contains("before the first PDU"), "{err}");
}
