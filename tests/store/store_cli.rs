//! `smppd store inspect` end to end: a store made through the library, kept open as a running
//! daemon would, inspected by the real binary as text and as JSON; a missing store and a
//! broken configuration exit with their own status.

use smppd::daemon::store::sqlite::{SqliteOptions, SqliteStore};
use smppd::daemon::store::{MessageId, NewMessage, Store};
use smppd::sms::{Field, Segment};
use std::path::{Path, PathBuf};

use crate::support::cli::smppd;
use std::time::{Duration, SystemTime};

const CHANNEL: &str = "[channel-a]\nx-smpp-host = \"127.0.0.1\"\nx-smpp-system-id = \"a\"\n";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Writes `smppd.toml` in `dir` with `[store] path = store`.
fn config(dir: &Path, store: &str) -> PathBuf {
    let path = dir.join("smppd.toml");
    std::fs::write(&path, format!("{CHANNEL}[store]\npath = \"{store}\"\n")).unwrap();
    path
}

fn message(channel: &str, pinned: bool) -> NewMessage {
    NewMessage {
        id: MessageId::generate(),
        channel: channel.into(),
        pinned,
        to: "447700900123".into(),
        from: None,
        delivery_report: true,
        expires_at: SystemTime::now() + Duration::from_secs(3600),
        send_validity: false,
        encoding: "gsm7",
        data_coding: 0,
        segments: vec![Segment {
            bytes: b"hello".to_vec(),
            field: Field::ShortMessage,
            esm_class: 0,
            data_coding: 0,
            sar: None,
        }],
        idempotency: None,
        origin: None,
    }
}

#[test]
fn inspect_counts_an_open_store_as_text_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let file = config(dir.path(), "q.db");
    let db = dir.path().join("q.db");
    // Kept open until the end: inspection is read-only and works beside a running daemon.
    let (store, _) = SqliteStore::open(SqliteOptions::new(&db)).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let accepted = runtime
        .block_on(store.accept(
            vec![message("a", true), message("a", false)],
            SystemTime::now(),
        ))
        .unwrap();
    assert!(accepted.iter().all(Result::is_ok), "{accepted:?}");
    let file = file.to_str().unwrap();

    let o = smppd(&["store", "inspect", "--config", file], b"");
    let out = text(&o.stdout);
    assert!(o.status.success(), "{out}{}", text(&o.stderr));
    for line in [
        format!(
            "store {} (schema version {}, ",
            db.display(),
            smppd::daemon::store::sqlite::latest_schema()
        ),
        "messages: queued 2, submitted 0, delivered 0, failed 0, expired 0\n".to_string(),
        "queued per channel: * (any channel) 1, a 1\n".to_string(),
        "oldest queued: ".to_string(),
        "webhook outbox: 0 events\n".to_string(),
        "inbound parts waiting: 0\n".to_string(),
        "receipt correlations: 0\n".to_string(),
    ] {
        assert!(out.contains(&line), "missing {line:?} in:\n{out}");
    }

    let o = smppd(&["store", "inspect", "-c", file, "--json"], b"");
    assert!(o.status.success(), "{}", text(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["path"], db.display().to_string());
    assert_eq!(
        v["schema_version"],
        smppd::daemon::store::sqlite::latest_schema()
    );
    assert!(v["file_bytes"].as_u64().unwrap() > 0);
    assert_eq!(
        v["messages"],
        serde_json::json!({"queued": 2, "submitted": 0, "delivered": 0, "failed": 0, "expired": 0})
    );
    assert_eq!(v["queued_by_channel"], serde_json::json!({"a": 1, "*": 1}));
    let oldest = v["oldest_queued"].as_str().unwrap();
    assert!(oldest.len() == 24 && oldest.ends_with('Z'), "{oldest}");
    assert_eq!(v["outbox"], 0);
    assert_eq!(v["inbound_parts"], 0);
    assert_eq!(v["correlations"], 0);
    drop(store);
}

#[test]
fn a_missing_store_exits_1_and_a_broken_configuration_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = config(dir.path(), "missing.db");
    let o = smppd(
        &["store", "inspect", "--config", file.to_str().unwrap()],
        b"",
    );
    assert_eq!(o.status.code(), Some(1));
    let err = text(&o.stderr);
    let missing = dir.path().join("missing.db");
    assert!(err.starts_with("smppd store inspect: "), "{err}");
    assert!(err.contains(&missing.display().to_string()), "{err}");
    assert!(o.stdout.is_empty());
    assert!(!missing.exists(), "inspection must not create the store");

    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "[channel-a]\nx-smpp-host = 5\n").unwrap();
    let o = smppd(
        &["store", "inspect", "--config", broken.to_str().unwrap()],
        b"",
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(!o.stderr.is_empty());
    assert!(o.stdout.is_empty());
}
