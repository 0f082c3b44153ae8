//! The cost of durability: what one commit of the SQLite store costs against the machine's
//! own fsync, measured in the same run.
//!
//! * `fsync baseline`: write 4 KiB to a file and `sync_data` it — the floor of any durable
//!   commit on this disk;
//! * `accept 1`: one message, one caller: a whole commit (WAL append + fsync) per message;
//! * `accept 32 callers`: 32 concurrent callers of one message each, i.e. what 32 HTTP
//!   connections do: group commit folds them into few transactions;
//! * `accept batch 1000`: one call with 1000 messages (`POST /v1/messages/batch`);
//! * `claim + submitted 100`: a feeder's claim of 100 messages and the sink's 100 outcomes.
//!
//! Criterion reports time per iteration; throughput is set in messages, so msg/s appear too.
//!
//! Run: `cargo bench --bench store -- --warm-up-time 1 --measurement-time 5`

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use smppd::daemon::store::sqlite::{SqliteOptions, SqliteStore};
use smppd::daemon::store::{segment_key, Change, MessageId, NewMessage, Store};
use smppd::sms::{Field, Segment};
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

fn message() -> NewMessage {
    NewMessage {
        id: MessageId::generate(),
        channel: "a".into(),
        pinned: false,
        to: "447700900123".into(),
        from: Some("smppd".into()),
        delivery_report: true,
        expires_at: SystemTime::now() + Duration::from_secs(3600),
        send_validity: false,
        encoding: "gsm7",
        data_coding: 0,
        segments: vec![Segment {
            bytes: b"The quick brown fox jumps over the lazy dog, a benchmark message".to_vec(),
            field: Field::ShortMessage,
            esm_class: 0,
            data_coding: 0,
            sar: None,
        }],
        idempotency: None,
        origin: None,
    }
}

fn open(dir: &tempfile::TempDir) -> Arc<SqliteStore> {
    let mut options = SqliteOptions::new(dir.path().join("bench.db"));
    options.max_queued = u64::MAX;
    let (store, _) = SqliteStore::open(options).expect("store");
    Arc::new(store)
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    let store = open(&dir);
    let mut group = c.benchmark_group("store");

    group.throughput(Throughput::Elements(1));
    let mut file = std::fs::File::create(dir.path().join("fsync")).expect("file");
    let block = [7u8; 4096];
    group.bench_function("fsync baseline (4 KiB write + fdatasync)", |b| {
        b.iter(|| {
            file.write_all(&block).expect("write");
            file.sync_data().expect("fsync");
        })
    });
    group.bench_function("accept 1", |b| {
        b.iter(|| rt.block_on(store.accept(vec![message()], SystemTime::now())))
    });

    group.throughput(Throughput::Elements(32));
    group.bench_function("accept 32 callers", |b| {
        b.iter(|| {
            rt.block_on(async {
                let calls: Vec<_> = (0..32)
                    .map(|_| {
                        let store = store.clone();
                        tokio::spawn(async move {
                            store.accept(vec![message()], SystemTime::now()).await
                        })
                    })
                    .collect();
                for call in calls {
                    let _ = call.await;
                }
            })
        })
    });

    group.throughput(Throughput::Elements(1000));
    group.bench_function("accept batch 1000", |b| {
        b.iter(|| {
            let batch = (0..1000).map(|_| message()).collect();
            rt.block_on(store.accept(batch, SystemTime::now()))
        })
    });

    group.throughput(Throughput::Elements(100));
    group.bench_function("claim + submitted 100", |b| {
        b.iter(|| {
            rt.block_on(async {
                let claimed = store
                    .claim("a", 100, SystemTime::now())
                    .await
                    .expect("claim");
                let changes = claimed
                    .iter()
                    .map(|m| Change::Submitted {
                        key: segment_key(m.seq, 0),
                        smsc_message_id: format!("{:x}", m.seq),
                    })
                    .collect();
                store
                    .apply("a", changes, SystemTime::now())
                    .await
                    .expect("apply")
            })
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
