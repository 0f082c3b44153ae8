//! TLS between the store and PostgreSQL (`[store] tls`, `tls-ca`), against the test server
//! behind a TLS-terminating proxy (`crate::support::pg::tls_proxy`), whose certificates the test
//! makes (`tests/support/pki.rs`): the test server's own TLS, if any, is not relied on.
//!
//! Proves: with the right CA the store opens through TLS and a message written by the
//! writer is read back by the readers (and the lease connection works), also after the
//! connections closed and were opened again; a certificate of
//! an unknown CA or for another host name is refused with the problem named; a server that
//! answers the SSLRequest with `N` is refused with that said; `check-config` and
//! `smppd store inspect` connect through TLS too.

use crate::support::cli::smppd;
use crate::support::pg::TestSchema;
use crate::support::pg_tls_proxy::{Offer, PgTlsProxy};
use crate::support::pki::{Leaf, Pki};
use smppd::daemon::store::postgres::{PgOptions, PgStore, PgTls};
use smppd::daemon::store::{MessageId, NewMessage, Store, StoreError};
use smppd::sms::{Field, Segment};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

fn message() -> NewMessage {
    NewMessage {
        id: MessageId::generate(),
        channel: "smsc".into(),
        pinned: false,
        to: "447700900123".into(),
        from: None,
        delivery_report: false,
        expires_at: SystemTime::now() + Duration::from_secs(3600),
        send_validity: false,
        encoding: "gsm7",
        data_coding: 0,
        segments: vec![Segment {
            bytes: b"over TLS".to_vec(),
            field: Field::ShortMessage,
            esm_class: 0,
            data_coding: 0,
            sar: None,
        }],
        idempotency: None,
        origin: None,
    }
}

/// A proxy presenting `leaf` (TLS 1.2 and 1.3).
async fn tls_proxy(schema: &TestSchema, pki: &Pki, leaf: &Leaf) -> PgTlsProxy {
    let config = crate::support::tls_server::server_config(
        pki,
        leaf,
        crate::support::tls_server::BOTH,
        false,
    );
    PgTlsProxy::start(schema.server(), Offer::Tls(config)).await
}

/// `pem` written to a file in `dir`.
fn ca_file(dir: &tempfile::TempDir, name: &str, pem: &str) -> PathBuf {
    let path = dir.path().join(name);
    std::fs::write(&path, pem).unwrap();
    path
}

fn options(url: String, ca: Option<PathBuf>) -> PgOptions {
    let mut options = PgOptions::new(url, "tls-node");
    options.pool_size = 1;
    options.tls = PgTls::Verify { ca };
    options
}

/// Why opening failed.
async fn open_error(options: PgOptions) -> String {
    match PgStore::open(options).await {
        Ok(_) => panic!("the store opened"),
        Err(StoreError::Open { reason, .. }) => reason,
        Err(other) => panic!("{other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_store_opens_through_tls_and_a_message_round_trips() {
    let Some(schema) = TestSchema::create("store_postgres_tls::round_trip") else {
        return;
    };
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let ca = ca_file(&dir, "ca.pem", &pki.ca.cert_pem);
    let proxy = tls_proxy(&schema, &pki, &pki.server).await;
    // 127.0.0.1 would default to no TLS: it is asked for.
    let (store, _) = PgStore::open(options(proxy.url(schema.name()), Some(ca)))
        .await
        .unwrap();
    let sent = message();
    let id = sent.id.clone();
    let accepted = store.accept(vec![sent], SystemTime::now()).await.unwrap();
    assert!(accepted[0].is_ok(), "{accepted:?}");
    let read = store
        .get(&id)
        .await
        .unwrap()
        .expect("the message, read back");
    assert_eq!((read.id, read.to.as_str()), (id, "447700900123"));
    assert!(
        store.leases().register().await.unwrap(),
        "the lease connection"
    );

    // The connections closed (a server restart): the writer and the readers open new ones,
    // and the proxy takes nothing but TLS.
    let before = proxy.handshakes();
    proxy.close_connections();
    let again = message();
    let id = again.id.clone();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        // The first call after the close may still meet the old connection and fail: the
        // store reports that and connects again for the next one.
        if let Ok(accepted) = store.accept(vec![again.clone()], SystemTime::now()).await {
            assert!(accepted[0].is_ok(), "{accepted:?}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no reconnection");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let read = loop {
        match store.get(&id).await {
            Ok(read) => break read,
            Err(e) => assert!(tokio::time::Instant::now() < deadline, "{e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(read.is_some(), "the second message, read back");
    assert!(
        proxy.handshakes() >= before + 2,
        "the writer and a reader connected again through TLS: {before} then {}",
        proxy.handshakes()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_of_an_unknown_ca_or_for_another_host_is_refused() {
    let Some(schema) = TestSchema::create("store_postgres_tls::refused") else {
        return;
    };
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    let ca = ca_file(&dir, "ca.pem", &pki.ca.cert_pem);

    let foreign = tls_proxy(&schema, &pki, &pki.foreign_server).await;
    let reason = open_error(options(foreign.url(schema.name()), Some(ca.clone()))).await;
    assert!(
        reason.contains("certificate is issued by a CA not trusted")
            && reason.contains(&ca.display().to_string()),
        "{reason}"
    );
    // The system's trust store does not hold the test CA either.
    let ours = tls_proxy(&schema, &pki, &pki.server).await;
    let reason = open_error(options(ours.url(schema.name()), None)).await;
    assert!(
        reason.contains("not trusted") && reason.contains("the system's trust store"),
        "{reason}"
    );

    let named = tls_proxy(&schema, &pki, &pki.named_server).await;
    let reason = open_error(options(named.url(schema.name()), Some(ca))).await;
    assert!(
        reason.contains("certificate is not valid for the host name 127.0.0.1"),
        "{reason}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_tls_is_refused_when_tls_is_on() {
    let Some(schema) = TestSchema::create("store_postgres_tls::no_tls") else {
        return;
    };
    let proxy = PgTlsProxy::start(schema.server(), Offer::NoTls).await;
    let reason = open_error(options(proxy.url(schema.name()), None)).await;
    assert!(reason.contains("the server does not offer TLS"), "{reason}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_config_and_store_inspect_connect_through_tls() {
    let Some(schema) = TestSchema::create("store_postgres_tls::cli") else {
        return;
    };
    let pki = Pki::new();
    let dir = tempfile::tempdir().unwrap();
    ca_file(&dir, "db-ca.pem", &pki.ca.cert_pem);
    let proxy = tls_proxy(&schema, &pki, &pki.server).await;
    // The schema, made through TLS as the daemon would.
    let url = proxy.url(schema.name());
    let (store, _) = PgStore::open(options(url.clone(), Some(dir.path().join("db-ca.pem"))))
        .await
        .unwrap();
    drop(store);
    let config = |ca: &str| {
        format!(
            "[channel-alpha]\nx-smpp-host = \"127.0.0.1\"\nx-smpp-system-id = \"alpha\"\n\
             [store]\nbackend = \"postgres\"\nurl = \"{url}\"\ntls = \"on\"\ntls-ca = \"{ca}\"\n"
        )
    };
    let good = dir.path().join("smppd.toml");
    std::fs::write(&good, config("db-ca.pem")).unwrap();
    ca_file(&dir, "other-ca.pem", &pki.other_ca.cert_pem);
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, config("other-ca.pem")).unwrap();
    let run = |args: Vec<String>| {
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            smppd(&args, b"")
        })
    };
    let path = |p: &Path| p.to_str().unwrap().to_string();

    let o = run(vec!["check-config".into(), path(&good)]).await.unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success(), "{text}");
    assert!(
        text.contains("over TLS verified with tls-ca") && text.contains("db-ca.pem"),
        "{text}"
    );
    let o = run(vec![
        "store".into(),
        "inspect".into(),
        "-c".into(),
        path(&good),
    ])
    .await
    .unwrap();
    let text = String::from_utf8_lossy(&o.stderr).to_string();
    assert!(o.status.success(), "{text}");

    for args in [
        vec!["check-config".to_string(), path(&bad)],
        vec!["store".into(), "inspect".into(), "-c".into(), path(&bad)],
    ] {
        let o = run(args.clone()).await.unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(!o.status.success(), "{args:?}: {text}");
        assert!(
            text.contains("not trusted") && text.contains("other-ca.pem"),
            "{args:?}: {text}"
        );
    }
}
