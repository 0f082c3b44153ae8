//! `load store`: the store alone, in this process, through the calls the daemon makes for
//! each message: `accept` from many concurrent callers (one message each, as HTTP requests
//! do), the feeder's `claim`, the sink's `apply` of `Submitted`, and optionally a final
//! receipt per message. No HTTP, no SMPP: what is left is the store's own cost, reported as
//! process (and SQLite writer-thread) CPU per message beside the rate and commit sizes, and
//! for PostgreSQL the round trips to the server per message. `--backend both` runs SQLite
//! and then PostgreSQL (in a throw-away schema of `--url`) with the same flags.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use clap::{Args, ValueEnum};
use smppd::daemon::store::postgres::{PgOptions, PgStore};
use smppd::daemon::store::sqlite::{SqliteOptions, SqliteStore};
use smppd::daemon::store::{segment_key, Change, ClaimedMessage, MessageId, NewMessage, Store};
use smppd::daemon::{ReceiptReport, ReceiptState};
use smppd::sms::{Field, Segment};

use crate::stats::{cpu_ticks, peak_rss_kib, percentile, TICKS_PER_SECOND};

/// Flags of `load store`.
#[derive(Debug, Args)]
pub struct StoreArgs {
    /// Messages in all.
    #[arg(long, default_value_t = 200_000)]
    count: u64,
    /// Concurrent accept callers, one message per call.
    #[arg(long, default_value_t = 32)]
    callers: usize,
    /// Messages per accept call (1 = `POST /v1/messages`, 1000 = a batch request).
    #[arg(long, default_value_t = 1)]
    per_call: usize,
    /// Messages per claim (the feeder's batch).
    #[arg(long, default_value_t = 500)]
    claim: usize,
    /// Ask for receipts and apply a final one per message.
    #[arg(long)]
    receipts: bool,
    /// With `--receipts`: report each answer with its receipt right behind it, in one call,
    /// as the sink reports an SMSC that sends a receipt at once (else answers and receipts
    /// are two calls).
    #[arg(long, requires = "receipts")]
    interleaved: bool,
    /// Which store.
    #[arg(long, value_enum, default_value_t = Backend::Sqlite)]
    backend: Backend,
    /// The PostgreSQL database (without a password) for `--backend postgres` or `both`; the
    /// run creates a schema of its own in it and drops it at the end.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1/test")]
    url: String,
}

/// `--backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backend {
    Sqlite,
    Postgres,
    Both,
}

/// The CPU ticks the store's writer thread has used so far.
fn writer_ticks() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter(|t| {
            std::fs::read_to_string(t.path().join("comm"))
                .is_ok_and(|c| c.trim_end().starts_with("smppd-store-wri"))
        })
        .map(|t| {
            let stat = std::fs::read_to_string(t.path().join("stat")).unwrap_or_default();
            // utime and stime are fields 14 and 15; the command name before them may hold
            // spaces, so count from the closing parenthesis.
            let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let field = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok());
            field(11).unwrap_or(0) + field(12).unwrap_or(0)
        })
        .sum()
}

fn message(receipts: bool) -> NewMessage {
    NewMessage {
        id: MessageId::generate(),
        channel: String::new(),
        pinned: false,
        to: "447700900123".into(),
        from: Some("smppd".into()),
        delivery_report: receipts,
        expires_at: SystemTime::now() + Duration::from_secs(3600),
        send_validity: false,
        encoding: "gsm7",
        data_coding: 0,
        segments: vec![Segment {
            bytes: b"The quick brown fox jumps over the lazy dog, a load message".to_vec(),
            field: Field::ShortMessage,
            esm_class: 0,
            data_coding: 0,
            sar: None,
        }],
        idempotency: None,
        origin: None,
    }
}

pub fn run(args: StoreArgs) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "\n### Store alone (`load store`: accept, claim, submitted{})\n",
        match (args.receipts, args.interleaved) {
            (false, _) => "",
            (true, false) => ", receipt",
            (true, true) => " and its receipt in one report",
        }
    );
    println!("| backend | messages | callers × per call | msg/s | accept p50 / p99 ms | process CPU µs/msg | writer CPU µs/msg | round trips/msg | calls per commit | commits | process peak RSS MiB (so far) |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    if matches!(args.backend, Backend::Sqlite | Backend::Both) {
        run_sqlite(&rt, &args);
    }
    if matches!(args.backend, Backend::Postgres | Backend::Both) {
        run_postgres(&rt, &args);
    }
    println!(
        "\nReproduce: `cargo build --release --example load && target/release/examples/load store --count {} --callers {} --per-call {} --claim {}{} --backend {}{}`",
        args.count,
        args.callers,
        args.per_call,
        args.claim,
        match (args.receipts, args.interleaved) {
            (false, _) => "",
            (true, false) => " --receipts",
            (true, true) => " --receipts --interleaved",
        },
        match args.backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
            Backend::Both => "both",
        },
        if args.backend == Backend::Sqlite {
            String::new()
        } else {
            format!(" --url {}", args.url)
        }
    );
}

fn run_sqlite(rt: &tokio::runtime::Runtime, args: &StoreArgs) {
    let dir = std::env::temp_dir().join(format!("smppd-load-store-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let mut options = SqliteOptions::new(dir.join("smppd.db"));
    options.max_queued = u64::MAX;
    options.events = args.receipts;
    options.max_outbox = u64::MAX;
    let (store, _) = SqliteStore::open(options).expect("open store");
    let store: Arc<dyn Store> = Arc::new(store);
    measure(rt, args, "SQLite", &store, writer_ticks, || None);
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

fn run_postgres(rt: &tokio::runtime::Runtime, args: &StoreArgs) {
    let schema = format!("smppd_load_{}", std::process::id());
    rt.block_on(admin(&args.url, &format!("CREATE SCHEMA {schema}")));
    let sep = if args.url.contains('?') { '&' } else { '?' };
    let url = format!("{}{sep}options=-c%20search_path%3D{schema}", args.url);
    let mut options = PgOptions::new(url, "load");
    options.max_queued = u64::MAX;
    options.events = args.receipts;
    options.max_outbox = u64::MAX;
    let (store, _) = rt.block_on(PgStore::open(options)).expect("open store");
    let store = Arc::new(store);
    let trips = store.clone();
    let dyn_store: Arc<dyn Store> = store;
    measure(
        rt,
        args,
        "PostgreSQL",
        &dyn_store,
        || 0,
        move || Some(trips.round_trips()),
    );
    drop(dyn_store);
    rt.block_on(admin(&args.url, &format!("DROP SCHEMA {schema} CASCADE")));
}

/// Runs `sql` on the database at `url` (creating and dropping the run's schema).
async fn admin(url: &str, sql: &str) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
    let task = tokio::spawn(connection);
    client
        .batch_execute(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    drop(client);
    let _ = task.await;
}

/// Drives `store` and prints its row of the table.
fn measure(
    rt: &tokio::runtime::Runtime,
    args: &StoreArgs,
    name: &str,
    store: &Arc<dyn Store>,
    writer: impl Fn() -> u64,
    round_trips: impl Fn() -> Option<u64>,
) {
    let start = Instant::now();
    let (cpu0, writer0, trips0) = (cpu_ticks(), writer(), round_trips());
    let latencies = rt.block_on(drive(store, args));
    let elapsed = start.elapsed().as_secs_f64();
    let (cpu, writer_cpu) = (cpu_ticks() - cpu0, writer() - writer0);
    let counts = store.counts();
    let per_msg = |ticks: u64| ticks as f64 * 1e6 / TICKS_PER_SECOND / args.count as f64;
    let trips = match (trips0, round_trips()) {
        (Some(before), Some(after)) => {
            format!("{:.3}", (after - before) as f64 / args.count as f64)
        }
        _ => "— (in process)".to_string(),
    };
    let writer_cpu = if writer_cpu == 0 {
        "—".to_string()
    } else {
        format!("{:.1}", per_msg(writer_cpu))
    };
    println!(
        "| {name} | {} | {} × {} | {:.0} | {:.2} / {:.2} | {:.1} | {writer_cpu} | {trips} | {:.1} | {} | {:.1} |",
        args.count,
        args.callers,
        args.per_call,
        args.count as f64 / elapsed,
        percentile(&latencies, 50.0) as f64 / 1000.0,
        percentile(&latencies, 99.0) as f64 / 1000.0,
        per_msg(cpu),
        counts.grouped_calls as f64 / counts.commits.max(1) as f64,
        counts.commits,
        peak_rss_kib(std::process::id()) as f64 / 1024.0,
    );
}

/// Runs accept callers and one feeder until every message is submitted (and receipted);
/// returns the accept latencies in µs, sorted.
async fn drive(store: &Arc<dyn Store>, args: &StoreArgs) -> Vec<u32> {
    let next = Arc::new(AtomicU64::new(0));
    let mut callers = Vec::new();
    for _ in 0..args.callers {
        let (store, next) = (store.clone(), next.clone());
        let (count, per_call, receipts) = (args.count, args.per_call as u64, args.receipts);
        callers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let first = next.fetch_add(per_call, Ordering::Relaxed);
                if first >= count {
                    return latencies;
                }
                let n = per_call.min(count - first);
                let batch = (0..n).map(|_| message(receipts)).collect();
                let sent = Instant::now();
                let results = store
                    .accept(batch, SystemTime::now())
                    .await
                    .expect("accept");
                assert!(results.iter().all(Result::is_ok), "a message was refused");
                latencies.push(sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32);
            }
        }));
    }
    let mut done = 0;
    while done < args.count {
        let claimed = store
            .claim("a", args.claim, SystemTime::now())
            .await
            .expect("claim");
        if claimed.is_empty() {
            tokio::time::sleep(Duration::from_micros(200)).await;
            continue;
        }
        let answer = |m: &ClaimedMessage| Change::Submitted {
            key: segment_key(m.seq, 0),
            smsc_message_id: format!("{:x}", m.seq),
        };
        let receipt = |m: &ClaimedMessage| Change::Receipt {
            receipt: ReceiptReport {
                smsc_message_id: format!("{:x}", m.seq),
                state: ReceiptState::Delivered,
                error_code: None,
            },
            event: Some(serde_json::Map::new()),
        };
        let reports: Vec<Vec<Change>> = match (args.receipts, args.interleaved) {
            (false, _) => vec![claimed.iter().map(answer).collect()],
            (true, false) => vec![
                claimed.iter().map(answer).collect(),
                claimed.iter().map(receipt).collect(),
            ],
            (true, true) => vec![claimed
                .iter()
                .flat_map(|m| [answer(m), receipt(m)])
                .collect()],
        };
        for report in reports {
            store
                .apply("a", report, SystemTime::now())
                .await
                .expect("apply");
        }
        done += claimed.len() as u64;
    }
    let mut latencies = Vec::new();
    for caller in callers {
        latencies.extend(caller.await.expect("caller"));
    }
    latencies.sort_unstable();
    latencies
}
