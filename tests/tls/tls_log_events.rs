//! The tracing events a failure produces: two per failure, with the documented codes and the
//! structured fields, and never a password.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::pki::Pki;
use crate::support::tls_server::*;
use serde_json::Value;
use smppd::secret::Secret;
use smppd::supervisor::{emit, Attempt, ChannelFailure};
use smppd::transport::{Connector, InitError, TlsOptions, TlsSettings, TlsVersion};

/// A writer that appends to a shared buffer.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `f` with a JSON subscriber and returns the events' `fields` objects.
fn capture(f: impl FnOnce()) -> Vec<serde_json::Map<String, Value>> {
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_writer(move || writer.clone())
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    text.lines()
        .map(|line| {
            let v: Value = serde_json::from_str(line).expect("one JSON object per line");
            v["fields"].as_object().expect("fields").clone()
        })
        .collect()
}

#[tokio::test]
async fn a_rejected_certificate_logs_43009_then_43011_with_fields() {
    let pki = Pki::new();
    let addr = tls_server(server_config(&pki, &pki.server, TLS12, true), After::Echo).await;
    let err = connect(&mutual(&pki, &pki.foreign_client, TlsVersion::V1_2), addr)
        .await
        .expect_err("rejected");
    let bind_password = Secret::new("s3cr3t-pw");
    let failure = ChannelFailure::Connect(err);
    let events = capture(|| {
        let report = emit(
            &failure,
            Attempt {
                channel: "channel-opensmpp",
                attempt: 3,
                retry_in: Some(Duration::from_secs(180)),
            },
        );
        assert!(report.retryable);
    });
    assert_eq!(events.len(), 2, "{events:?}");
    let codes: Vec<u64> = events.iter().map(|e| e["code"].as_u64().unwrap()).collect();
    assert_eq!(codes, [43009, 43011]);
    assert_eq!(events[0]["event"], "channel_failure");
    assert_eq!(events[1]["event"], "channel_failure_detail");
    assert_eq!(
        events[0]["message"],
        "SMSC close socket connection. Maybe SMSC don't trust your certificate"
    );
    assert!(events[1]["message"]
        .as_str()
        .unwrap()
        .starts_with("exception caught and processed..."));
    for e in &events {
        assert_eq!(e["channel"], "channel-opensmpp");
        assert_eq!(e["phase"], "handshake");
        assert_eq!(e["reason"], "client_cert_rejected");
        assert_eq!(e["attempt"], 3);
        assert_eq!(e["retry_in_ms"], 180_000);
        assert!(!e["detail"].as_str().unwrap().is_empty());
        let line = serde_json::to_string(e).unwrap();
        assert!(
            !line.contains(bind_password.expose()),
            "password leaked: {line}"
        );
    }
}

#[test]
fn an_initialisation_failure_logs_43010_then_42403_without_retry() {
    let pki = Pki::new();
    let key_password = Secret::new("k3y-pw");
    // Mutual mode with a keystore that has no key: a set-up failure.
    let settings = TlsSettings::Mutual {
        options: TlsOptions::default(),
        keystore: pki.trust_store(),
    };
    let err: InitError = Connector::new(&settings).expect_err("no key");
    let failure = ChannelFailure::Init(err);
    let events = capture(|| {
        let report = emit(
            &failure,
            Attempt {
                channel: "channel-opensmpp",
                attempt: 1,
                retry_in: Some(Duration::from_secs(180)),
            },
        );
        assert!(!report.retryable);
    });
    let codes: Vec<u64> = events.iter().map(|e| e["code"].as_u64().unwrap()).collect();
    assert_eq!(codes, [43010, 42403]);
    assert!(events[0]["message"].as_str().unwrap().starts_with(
        "failed to initialize ssl context: keystore test-trust.p12 holds no private key"
    ));
    assert_eq!(events[1]["message"], "channel driver initialization failed");
    for e in &events {
        assert_eq!(e["phase"], "tls_init");
        assert_eq!(e["reason"], "no_private_key");
        // Not retried: no retry delay is logged.
        assert!(e.get("retry_in_ms").is_none(), "{e:?}");
        let line = serde_json::to_string(e).unwrap();
        assert!(
            !line.contains(key_password.expose()),
            "password leaked: {line}"
        );
    }
}
