//! `load backlog`: store and forward at scale. `smppd run` with one plain-TCP channel
//! (window 1000, no rate cap) pointed at a port where nothing listens yet; `--count` messages
//! go in through `POST /v1/messages/batch` (1000 per request) while the SMSC is down, then a
//! `smppd simulate --quiet` process starts on that port and the channel drains the backlog.
//!
//! Recorded at each checkpoint (cumulative messages accepted, then acknowledged): the rate
//! over the interval since the previous checkpoint, the daemon's resident memory (VmRSS) and
//! the store's size on disk (`smppd.db` + `smppd.db-wal`); for the accept side also the batch
//! request latency over the interval. The acknowledged count comes from `GET /v1/channels`,
//! polled every 100 ms, so the first drain rows are only as fine as one poll.
//!
//! Checks the goal "1,000,000 messages queued while the SMSC is down, then drained at window
//! 1000 at >= 100,000 msg/s, with RSS that does not grow with the backlog; accept and drain
//! rates flat from 1k to 1M queued".

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Args;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;
use serde_json::Value;

use crate::stats::{cpu_ticks_of, peak_rss_kib, percentile, rss_kib, TICKS_PER_SECOND};
use crate::{start_daemon, SimProcess, PASSWORD, SYSTEM_ID};

/// Flags of `load backlog`.
#[derive(Debug, Args)]
pub struct BacklogArgs {
    /// Messages to queue while the SMSC is down, then drain.
    #[arg(long, default_value_t = 1_000_000)]
    count: u64,
    /// Concurrent batch requests (1000 messages each; each one commit).
    #[arg(long, default_value_t = 4)]
    batch_concurrency: usize,
    /// Totals (accepted, then acknowledged) at which to record a row; those above --count
    /// are dropped and --count itself is always the last.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "1000,10000,100000,1000000"
    )]
    checkpoints: Vec<u64>,
}

/// Messages per batch request (the API's maximum).
const BATCH: u64 = 1000;
/// The whole run (accept and drain) may not take longer than this.
const TOTAL_LIMIT: Duration = Duration::from_secs(15 * 60);
/// How often the drain phase reads the channel's counters.
const POLL: Duration = Duration::from_millis(100);
/// The same message every time: distinct texts are not needed.
const ONE: &str = r#"{"to":"447700900001","from":"12345","text":"perf test message"}"#;

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

/// `smppd run` in its temporary directory; killed (and the directory removed) when dropped.
struct Daemon {
    child: Child,
    dir: tempfile::TempDir,
    api: String,
    /// When the log first said `bound`.
    bound_at: Arc<OnceLock<Instant>>,
}

impl Daemon {
    /// Writes the configuration and starts the daemon; returns once the API listens.
    fn start(smsc_port: u16, max_queued: u64) -> Daemon {
        let dir = tempfile::Builder::new()
            .prefix("smppd-backlog-")
            .tempdir()
            .expect("temp dir");
        let config = dir.path().join("smppd.toml");
        // reconnection-timeout at its minimum (10 s): once the simulator listens, the channel
        // binds within 10 s rather than up to the default 180 s back-off.
        std::fs::write(
            &config,
            format!(
                "[channel-load]\nx-smpp-host = \"127.0.0.1\"\nx-smpp-port = {smsc_port}\n\
                 x-smpp-system-id = \"{SYSTEM_ID}\"\npassword = \"{PASSWORD}\"\n\
                 x-smpp-submit-window-size = 1000\nx-smpp-submit-max-rate = 0\n\
                 reconnection-timeout = 10\n\
                 [http]\nlisten = \"127.0.0.1:0\"\nfinished-retention = 60\n\
                 [store]\npath = \"smppd.db\"\nmax-queued = {max_queued}\n"
            ),
        )
        .expect("write config");
        let (child, lines, api, bound_early) = start_daemon(&config, Stdio::inherit());
        let bound_at = Arc::new(OnceLock::new());
        if bound_early {
            let _ = bound_at.set(Instant::now());
        }
        let bound = bound_at.clone();
        // Keep draining the log so the daemon never blocks on a full pipe; note the bind.
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if bound.get().is_none() && line.contains("\"bound\"") {
                    let event: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
                    if event["event"] == "bound" {
                        let _ = bound.set(Instant::now());
                    }
                }
            }
        });
        Daemon {
            child,
            dir,
            api,
            bound_at,
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn rss_mib(&self) -> f64 {
        rss_kib(self.pid()) as f64 / 1024.0
    }

    /// `smppd.db` + `smppd.db-wal`, MiB.
    fn store_mib(&self) -> f64 {
        store_mib(self.dir.path())
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        // The TempDir removes the directory after this.
    }
}

/// A port where nothing listens (bound and released at once).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().expect("local address").port()
}

/// One row of a curve.
struct Row {
    /// Messages accepted (or acknowledged) so far.
    at: u64,
    /// Seconds since the phase began (the first request; the bind for the drain).
    elapsed: f64,
    /// Messages per second since the previous row.
    rate: f64,
    /// Batch request latency over the interval, ms (accept only).
    p50_ms: f64,
    p99_ms: f64,
    /// Messages still waiting to be sent (`smppd_messages_tracked`; drain only).
    waiting: u64,
    rss_mib: f64,
    store_mib: f64,
}

/// The checkpoints to record, ascending, at most `count`, ending with `count`.
fn checkpoints(asked: &[u64], count: u64) -> Vec<u64> {
    let mut v: Vec<u64> = asked
        .iter()
        .copied()
        .filter(|&c| c > 0 && c < count)
        .collect();
    v.push(count);
    v.sort_unstable();
    v.dedup();
    v
}

/// Shared progress of the accept phase.
struct AcceptState {
    accepted: u64,
    refused: u64,
    /// Index of the next checkpoint to cross.
    next: usize,
    last: (Instant, u64),
    /// Batch latencies (µs) since the last row.
    latencies: Vec<u32>,
    rows: Vec<Row>,
    /// Refusal reasons and how often each came.
    reasons: BTreeMap<String, u64>,
}

/// The parts of a batch answer the tool reads (serde skips the rest).
#[derive(Deserialize)]
struct BatchAnswer {
    results: Vec<BatchItem>,
}

#[derive(Deserialize)]
struct BatchItem {
    status: u16,
    error: Option<String>,
}

/// What the accept phase measured.
struct AcceptResult {
    rows: Vec<Row>,
    accepted: u64,
    refused: u64,
    reasons: BTreeMap<String, u64>,
    seconds: f64,
    timed_out: bool,
}

async fn accept_phase(
    daemon: &Daemon,
    client: &HttpClient,
    count: u64,
    concurrency: usize,
    marks: &[u64],
    deadline: Instant,
) -> AcceptResult {
    let full_body = batch_body(BATCH);
    let uri = format!("http://{}/v1/messages/batch", daemon.api);
    // Messages not yet claimed by a request; refused ones come back here to be sent again.
    let unclaimed = Arc::new(AtomicU64::new(count));
    let start = Instant::now();
    let state = Arc::new(Mutex::new(AcceptState {
        accepted: 0,
        refused: 0,
        next: 0,
        last: (start, 0),
        latencies: Vec::new(),
        rows: Vec::new(),
        reasons: BTreeMap::new(),
    }));
    let pid = daemon.pid();
    let store = daemon.dir.path().to_path_buf();
    let marks = Arc::new(marks.to_vec());
    let mut tasks = Vec::new();
    for _ in 0..concurrency.max(1) {
        let (client, uri, full_body, unclaimed, state, marks, store) = (
            client.clone(),
            uri.clone(),
            full_body.clone(),
            unclaimed.clone(),
            state.clone(),
            marks.clone(),
            store.clone(),
        );
        tasks.push(tokio::spawn(async move {
            loop {
                if Instant::now() >= deadline {
                    return true;
                }
                {
                    let s = state.lock().expect("state");
                    // Every message accepted, or refused about as often as there are
                    // messages: something is wrong, stop rather than spin.
                    if s.accepted >= count || s.refused > count {
                        return false;
                    }
                }
                let claimed = unclaimed.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |r| {
                    (r > 0).then(|| r - r.min(BATCH))
                });
                let Ok(before) = claimed else {
                    // Others hold the rest; refusals may hand some back.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                };
                let n = before.min(BATCH);
                let body = if n == BATCH {
                    full_body.clone()
                } else {
                    batch_body(n)
                };
                let sent = Instant::now();
                let (ok, reasons) = post_batch(&client, &uri, body, n).await;
                let took = sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                let refused = n - ok;
                if refused > 0 {
                    unclaimed.fetch_add(refused, Ordering::Relaxed);
                }
                {
                    let mut s = state.lock().expect("state");
                    s.accepted += ok;
                    s.refused += refused;
                    for (reason, times) in reasons {
                        *s.reasons.entry(reason).or_default() += times;
                    }
                    s.latencies.push(took);
                    if s.next < marks.len() && s.accepted >= marks[s.next] {
                        while s.next < marks.len() && s.accepted >= marks[s.next] {
                            s.next += 1;
                        }
                        let now = Instant::now();
                        let (t0, n0) = s.last;
                        let mut latencies = std::mem::take(&mut s.latencies);
                        latencies.sort_unstable();
                        let ms = |p: f64| f64::from(percentile(&latencies, p)) / 1000.0;
                        let row = Row {
                            at: s.accepted,
                            elapsed: now.duration_since(start).as_secs_f64(),
                            rate: (s.accepted - n0) as f64
                                / now.duration_since(t0).as_secs_f64().max(1e-6),
                            p50_ms: ms(50.0),
                            p99_ms: ms(99.0),
                            waiting: 0,
                            rss_mib: rss_kib(pid) as f64 / 1024.0,
                            store_mib: store_mib(&store),
                        };
                        eprintln!(
                            "accepted {:>9} after {:>7.1} s: {:>7.0} msg/s, RSS {:.1} MiB, store {:.1} MiB",
                            row.at, row.elapsed, row.rate, row.rss_mib, row.store_mib
                        );
                        s.rows.push(row);
                        s.last = (now, s.accepted);
                    }
                }
                if refused > 0 {
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }));
    }
    let mut timed_out = false;
    for t in tasks {
        timed_out |= t.await.expect("accept task");
    }
    let seconds = start.elapsed().as_secs_f64();
    let mut s = state.lock().expect("state");
    AcceptResult {
        rows: std::mem::take(&mut s.rows),
        accepted: s.accepted,
        refused: s.refused,
        reasons: std::mem::take(&mut s.reasons),
        seconds,
        timed_out,
    }
}

/// `smppd.db` + `smppd.db-wal` in `dir`, MiB.
fn store_mib(dir: &Path) -> f64 {
    let size = |name: &str| {
        std::fs::metadata(dir.join(name))
            .map(|m| m.len())
            .unwrap_or(0)
    };
    (size("smppd.db") + size("smppd.db-wal")) as f64 / (1024.0 * 1024.0)
}

fn batch_body(n: u64) -> Bytes {
    let items = vec![ONE; n as usize].join(",");
    Bytes::from(format!("{{\"messages\":[{items}]}}"))
}

/// Posts one batch of `n`; returns how many came back 202 and why the others did not.
async fn post_batch(
    client: &HttpClient,
    uri: &str,
    body: Bytes,
    n: u64,
) -> (u64, BTreeMap<String, u64>) {
    let mut reasons = BTreeMap::new();
    let req = hyper::Request::post(uri)
        .header("content-type", "application/json")
        .body(Full::new(body))
        .expect("request");
    let resp = match client.request(req).await {
        Ok(r) => r,
        Err(e) => {
            reasons.insert(format!("request failed: {e}"), n);
            return (0, reasons);
        }
    };
    let status = resp.status().as_u16();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let answer = (status == 207)
        .then(|| serde_json::from_slice::<BatchAnswer>(&bytes).ok())
        .flatten();
    let Some(answer) = answer else {
        let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]).into_owned();
        reasons.insert(format!("HTTP {status}: {text}"), n);
        return (0, reasons);
    };
    let mut ok = 0;
    for item in answer.results {
        if item.status == 202 {
            ok += 1;
        } else {
            let reason = format!(
                "{}: {}",
                item.status,
                item.error.as_deref().unwrap_or("(no error text)")
            );
            *reasons.entry(reason).or_default() += 1;
        }
    }
    (ok, reasons)
}

/// Sum of every `acknowledged` counter in `GET /v1/channels`, and whether any channel is
/// bound.
async fn channels(client: &HttpClient, api: &str) -> (u64, bool) {
    let value = get_json(client, &format!("http://{api}/v1/channels")).await;
    let channels = value["channels"].as_array().cloned().unwrap_or_default();
    let acked = channels
        .iter()
        .map(|c| c["counters"]["acknowledged"].as_u64().unwrap_or(0))
        .sum();
    let bound = channels.iter().any(|c| c["bound"] == true);
    (acked, bound)
}

async fn get_json(client: &HttpClient, uri: &str) -> Value {
    let text = get_text(client, uri).await;
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

async fn get_text(client: &HttpClient, uri: &str) -> String {
    let Ok(req) = hyper::Request::get(uri).body(Full::new(Bytes::new())) else {
        return String::new();
    };
    let Ok(resp) = client.request(req).await else {
        return String::new();
    };
    resp.into_body()
        .collect()
        .await
        .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
        .unwrap_or_default()
}

/// `GET /metrics`: messages waiting, store commits, calls those commits carried.
struct Metrics {
    waiting: u64,
    commits: u64,
    grouped: u64,
}

async fn metrics(client: &HttpClient, api: &str) -> Metrics {
    let text = get_text(client, &format!("http://{api}/metrics")).await;
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .unwrap_or(0.0) as u64
    };
    Metrics {
        waiting: value("smppd_messages_tracked "),
        commits: value("smppd_store_commits_total "),
        grouped: value("smppd_store_grouped_calls_total "),
    }
}

/// What the drain phase measured.
struct DrainResult {
    rows: Vec<Row>,
    acknowledged: u64,
    /// From starting the simulator to the first `bound` in the log.
    bind_seconds: f64,
    /// From the bind to the poll that saw every message acknowledged (or the deadline).
    seconds: f64,
    /// From the bind to the poll that saw none waiting in the store (`smppd_messages_tracked`
    /// 0), if that came before the deadline.
    settled_seconds: Option<f64>,
    timed_out: bool,
}

async fn drain_phase(
    daemon: &Daemon,
    client: &HttpClient,
    target: u64,
    marks: &[u64],
    sim_started: Instant,
    deadline: Instant,
) -> DrainResult {
    let api = &daemon.api;
    let (ack0, _) = channels(client, api).await;
    let mut rows = Vec::new();
    let mut next = 0;
    let mut last: Option<(Instant, u64)> = None;
    let mut ticker = tokio::time::interval(POLL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (acked, timed_out) = loop {
        ticker.tick().await;
        let (total, bound) = channels(client, api).await;
        let acked = total.saturating_sub(ack0);
        let now = Instant::now();
        if last.is_none() && (bound || acked > 0) {
            // The bind is the drain's time zero; the log's moment is the precise one.
            let at = daemon.bound_at.get().copied().unwrap_or(now);
            last = Some((at.min(now), 0));
        }
        if let Some((t0, n0)) = last {
            if next < marks.len() && acked >= marks[next] {
                while next < marks.len() && acked >= marks[next] {
                    next += 1;
                }
                let waiting = metrics(client, api).await.waiting;
                let bind = daemon.bound_at.get().copied().unwrap_or(t0);
                let row = Row {
                    at: acked,
                    elapsed: now.duration_since(bind).as_secs_f64(),
                    rate: (acked - n0) as f64 / now.duration_since(t0).as_secs_f64().max(1e-6),
                    p50_ms: 0.0,
                    p99_ms: 0.0,
                    waiting,
                    rss_mib: daemon.rss_mib(),
                    store_mib: daemon.store_mib(),
                };
                eprintln!(
                    "acknowledged {:>9} after {:>7.1} s: {:>7.0} msg/s, RSS {:.1} MiB, store {:.1} MiB, waiting {}",
                    row.at, row.elapsed, row.rate, row.rss_mib, row.store_mib, row.waiting
                );
                rows.push(row);
                last = Some((now, acked));
            }
        }
        if acked >= target {
            break (acked, false);
        }
        if now >= deadline {
            break (acked, true);
        }
    };
    let end = Instant::now();
    // The store records outcomes after the acknowledgements: wait until it says nothing is
    // waiting any more (the drain as the disk sees it).
    let mut settled = None;
    if !timed_out {
        loop {
            if metrics(client, api).await.waiting == 0 {
                settled = Some(Instant::now());
                break;
            }
            if Instant::now() >= deadline {
                break;
            }
            ticker.tick().await;
        }
    }
    let bind = daemon.bound_at.get().copied();
    let since_bind = |t: Instant| t.duration_since(bind.unwrap_or(sim_started)).as_secs_f64();
    DrainResult {
        rows,
        acknowledged: acked,
        bind_seconds: bind.map_or(f64::NAN, |b| b.duration_since(sim_started).as_secs_f64()),
        seconds: since_bind(end),
        settled_seconds: settled.map(since_bind),
        timed_out,
    }
}

pub fn run(args: BacklogArgs) {
    let count = args.count.max(1);
    let marks = checkpoints(&args.checkpoints, count);
    let smsc_port = free_port();
    let daemon = Daemon::start(smsc_port, count);
    let deadline = Instant::now() + TOTAL_LIMIT;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(args.batch_concurrency.max(1) + 2)
        .build_http();
    eprintln!(
        "smppd run (pid {}) on {}, SMSC port {smsc_port} closed; queueing {count} messages",
        daemon.pid(),
        daemon.api
    );

    // Accept: the SMSC is down.
    let (d0, m0) = (
        cpu_ticks_of(daemon.pid()),
        rt.block_on(metrics(&client, &daemon.api)),
    );
    let accept = rt.block_on(accept_phase(
        &daemon,
        &client,
        count,
        args.batch_concurrency,
        &marks,
        deadline,
    ));
    let (d1, m1) = (
        cpu_ticks_of(daemon.pid()),
        rt.block_on(metrics(&client, &daemon.api)),
    );
    let accept_peak = peak_rss_kib(daemon.pid()) as f64 / 1024.0;
    let (acked_before, bound_before) = rt.block_on(channels(&client, &daemon.api));
    let queued_store = daemon.store_mib();

    // Drain: the SMSC comes up on the port the channel has been trying.
    let sim_started = Instant::now();
    let sim = SimProcess::start_on(smsc_port);
    let s0 = sim.cpu_ticks();
    let drain = if accept.accepted > 0 && !accept.timed_out {
        Some(rt.block_on(drain_phase(
            &daemon,
            &client,
            accept.accepted,
            &checkpoints(&args.checkpoints, accept.accepted),
            sim_started,
            deadline,
        )))
    } else {
        None
    };
    let (d2, s1) = (cpu_ticks_of(daemon.pid()), sim.cpu_ticks());
    let m2 = rt.block_on(metrics(&client, &daemon.api));
    let peak = peak_rss_kib(daemon.pid()) as f64 / 1024.0;
    let final_rss = daemon.rss_mib();
    let final_store = daemon.store_mib();
    drop(sim);
    drop(daemon);

    let us_per = |ticks: u64, n: u64| ticks as f64 / TICKS_PER_SECOND * 1e6 / n.max(1) as f64;
    println!(
        "\n### Backlog: {count} messages queued with the SMSC down, then drained (`smppd run`, one plain-TCP channel, window 1000, rate 0)\n"
    );
    println!(
        "Accept (`POST /v1/messages/batch`, 1000 per request, {} concurrent; no SMSC reachable):\n",
        args.batch_concurrency
    );
    println!("| queued | elapsed s | interval msg/s | batch p50 / p99 ms | daemon RSS MiB | store file MiB |");
    println!("|---:|---:|---:|---:|---:|---:|");
    for r in &accept.rows {
        println!(
            "| {} | {:.2} | {:.0} | {:.1} / {:.1} | {:.1} | {:.1} |",
            r.at, r.elapsed, r.rate, r.p50_ms, r.p99_ms, r.rss_mib, r.store_mib
        );
    }
    let accept_commits = m1.commits.saturating_sub(m0.commits);
    println!(
        "\nAccepted {} in {:.1} s ({:.0} msg/s overall), {} refused{}; daemon CPU {:.1} µs/msg; {} store commits carrying {} calls; waiting after the accept phase: {} (acknowledged {}, channel bound: {}); store {:.1} MiB; daemon peak RSS so far {:.1} MiB.",
        accept.accepted,
        accept.seconds,
        accept.accepted as f64 / accept.seconds.max(1e-6),
        accept.refused,
        if accept.timed_out { " (TIMED OUT)" } else { "" },
        us_per(d1 - d0, accept.accepted),
        accept_commits,
        m1.grouped.saturating_sub(m0.grouped),
        m1.waiting,
        acked_before,
        bound_before,
        queued_store,
        accept_peak,
    );
    for (reason, times) in &accept.reasons {
        println!("- refused {times}×: {reason}");
    }
    match &drain {
        None => println!("\nNo drain: nothing was accepted, or the accept phase ran out of time."),
        Some(d) => {
            println!("\nDrain (simulator started on the channel's port; time zero is the bind, {:.1} s after the simulator started; rows as seen by 100 ms polls of `GET /v1/channels`):\n", d.bind_seconds);
            println!("| drained | elapsed s | interval msg/s | still waiting | daemon RSS MiB | store file MiB |");
            println!("|---:|---:|---:|---:|---:|---:|");
            for r in &d.rows {
                println!(
                    "| {} | {:.2} | {:.0} | {} | {:.1} | {:.1} |",
                    r.at, r.elapsed, r.rate, r.waiting, r.rss_mib, r.store_mib
                );
            }
            println!(
                "\nAcknowledged {} of {} in {:.2} s after the bind: {:.0} msg/s{}; the store recorded the last of them as sent {}; daemon CPU {:.1} µs/msg, simulator CPU {:.1} µs/msg (from the simulator's start to the store catching up); {} store commits carrying {} calls; waiting at the end: {}.",
                d.acknowledged,
                accept.accepted,
                d.seconds,
                d.acknowledged as f64 / d.seconds.max(1e-6),
                if d.timed_out { " (TIMED OUT)" } else { "" },
                match d.settled_seconds {
                    Some(t) => format!(
                        "{t:.2} s after the bind ({:.0} msg/s)",
                        d.acknowledged as f64 / t.max(1e-6)
                    ),
                    None => "not before the deadline".to_string(),
                },
                us_per(d2 - d1, d.acknowledged),
                us_per(s1 - s0, d.acknowledged),
                m2.commits.saturating_sub(m1.commits),
                m2.grouped.saturating_sub(m1.grouped),
                m2.waiting,
            );
        }
    }
    println!(
        "\nDaemon at the end: VmRSS {final_rss:.1} MiB, peak (VmHWM) {peak:.1} MiB (after the accept phase: {accept_peak:.1} MiB); store file {final_store:.1} MiB."
    );
    println!(
        "\nReproduce: `cargo build --release --bin smppd --example load && target/release/examples/load backlog --count {} --batch-concurrency {} --checkpoints {}`",
        args.count,
        args.batch_concurrency,
        args.checkpoints
            .iter()
            .map(|c| c.to_string())
            .collect::<Vec<_>>()
            .join(",")
    );
}
