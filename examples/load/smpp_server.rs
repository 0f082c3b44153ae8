//! `load smpp-server`: smppd's SMPP server end to end. smpp34 transceiver clients bind to
//! `smppd run` (`[smpp-server]`, plain TCP, SQLite store in a temp directory), keep `window`
//! submit_sm outstanding each with registered_delivery 1, and wait for every receipt: the
//! daemon commits each submit before its submit_sm_resp, sends it to the simulator through
//! the user's channel, commits the simulator's receipt and delivers it back as a deliver_sm
//! naming the id of the submit_sm_resp. Counted: submit_sm_resp per second, receipts per
//! second (end to end), both latencies, the daemon's CPU per message split by thread, and
//! its peak RSS. The same run measures the bare session path against the same simulator
//! (the `submit` mode's two clients), so the report can state a ratio.
//!
//! `load smpp-storm` (in `smpp_storm.rs`) reuses the daemon set-up and the streaming client.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use clap::Args;
use serde_json::Value;
use smpp34::client::{SmppClient, SmppClientListener, BIND_TYPE, SMSC};
use smpp34::common::{deliver_sm, deliver_sm_resp, SmppConnectionInformation};
use smppd::password::PasswordHash;
use smppd::secret::Secret;

use crate::stats::{
    cpu_ticks, cpu_ticks_of, median, peak_rss_kib, percentile, Stats, TICKS_PER_SECOND,
};
use crate::{smppd_binary, Impl, SimProcess, Transport, PASSWORD, SYSTEM_ID};

/// Flags of `load smpp-server`.
#[derive(Debug, Args)]
pub struct SmppServerArgs {
    /// Messages per run (each with its receipt).
    #[arg(long, default_value_t = 200_000)]
    count: u64,
    /// Submits outstanding per client.
    #[arg(long, default_value_t = 100)]
    window: usize,
    /// Transceiver clients, each bound as a user of its own (so no user's `throughput`
    /// limit of at most 100,000/s is shared).
    #[arg(long, default_value_t = 1)]
    clients: usize,
    /// Runs; the table shows medians. Each run starts a fresh daemon and simulator.
    #[arg(long, default_value_t = 3)]
    repeat: usize,
    /// Skip the bare-session baseline.
    #[arg(long)]
    no_baseline: bool,
    /// Leave `[webhook] max-queued-events` at its default (10,000), which a user's receipts
    /// count against too; without this flag the limit is raised to 1,000,000 (the simulator
    /// does not send a refused receipt again).
    #[arg(long)]
    default_outbox: bool,
}

/// No run may take longer than this, whatever the count.
const RUN_LIMIT: Duration = Duration::from_secs(300);
/// How long the run waits for the next receipt before it counts the rest as missing.
const STALLED: Duration = Duration::from_secs(10);
/// The text every client submits (the `submit` mode's).
const TEXT: &[u8] = b"perf test message";
const SOURCE: &str = "12345";
const DESTINATION: &str = "31600000000";
/// ESME_RTHROTTLED: over the user's `throughput`.
const THROTTLED: u32 = 0x58;

/// One `smppd run` with an SMPP server in a temp directory; killed and removed when dropped.
pub(crate) struct ServerDaemon {
    child: Child,
    dir: PathBuf,
    /// Where the SMPP server listens.
    pub(crate) smpp: SocketAddr,
    /// The HTTP API (for `/metrics`).
    api: String,
}

impl ServerDaemon {
    /// Starts `smppd run` with one channel to `sim` and `users` users (`system_id` and
    /// `max-binds` each), every one with [`PASSWORD`]; returns once the server listens and
    /// the channel is bound.
    pub(crate) fn start(sim: &SimProcess, users: &[(String, usize)]) -> ServerDaemon {
        ServerDaemon::start_with(sim, users, true)
    }

    /// [`ServerDaemon::start`], with the outbox limit raised or left at its default.
    fn start_with(sim: &SimProcess, users: &[(String, usize)], raise_outbox: bool) -> ServerDaemon {
        static RUNS: AtomicU64 = AtomicU64::new(0);
        let dir = std::env::temp_dir().join(format!(
            "smppd-load-server-{}-{}",
            std::process::id(),
            RUNS.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut config = format!(
            "[channel-up]\nx-smpp-host = \"127.0.0.1\"\nx-smpp-port = {}\n\
             x-smpp-system-id = \"{SYSTEM_ID}\"\npassword = \"{PASSWORD}\"\n\
             x-smpp-submit-window-size = 1000\nx-smpp-submit-max-rate = 0\n\
             [http]\nlisten = \"127.0.0.1:0\"\nfinished-retention = 60\n\
             [store]\npath = \"smppd.db\"\n\
             [smpp-server]\nlisten = \"127.0.0.1:0\"\n",
            sim.addr.port()
        );
        if raise_outbox {
            // Receipts of SMPP users wait in the outbox, whose limit is the webhook's
            // (10,000 by default); the simulator does not redeliver a refused receipt, so
            // the limit is raised. User receipts never go to this URL.
            config.push_str(
                "[webhook]\nurl = \"http://127.0.0.1:9/\"\nmax-queued-events = 1000000\n",
            );
        }
        for (system_id, max_binds) in users {
            // Every user its own salt, with the default (production) Argon2id parameters.
            let hash = PasswordHash::hash(&Secret::new(PASSWORD)).expect("hash");
            config.push_str(&format!(
                "[smpp-user-{system_id}]\nsystem-id = \"{system_id}\"\npassword-hash = \"{hash}\"\n\
                 channels = [\"up\"]\nthroughput = 100000\nmax-binds = {}\n",
                (*max_binds).clamp(1, 64)
            ));
        }
        let path = dir.join("smppd.toml");
        std::fs::write(&path, config).expect("write config");
        let (child, smpp, api) = spawn(&path);
        ServerDaemon {
            child,
            dir,
            smpp,
            api,
        }
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The store's commits and the calls they carried so far, from `/metrics`.
    fn commits(&self) -> (u64, u64) {
        use std::io::{Read, Write};
        let mut text = String::new();
        if let Ok(mut s) = std::net::TcpStream::connect(&self.api) {
            let _ = write!(s, "GET /metrics HTTP/1.0\r\nHost: {}\r\n\r\n", self.api);
            let _ = s.read_to_string(&mut text);
        }
        let value = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.trim().parse::<f64>().ok())
                .unwrap_or(0.0) as u64
        };
        (
            value("smppd_store_commits_total "),
            value("smppd_store_grouped_calls_total "),
        )
    }
}

impl Drop for ServerDaemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `smppd run --config PATH`: the child, the SMPP server's address and the HTTP API's, once
/// it listens and the channel is bound; the log is drained on a thread from then on.
fn spawn(config: &Path) -> (Child, SocketAddr, String) {
    let mut child = Command::new(smppd_binary())
        .args(["run", "--log-format", "json", "--config"])
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn smppd run");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let (mut smpp, mut bound, mut api) = (None, false, None);
    while smpp.is_none() || !bound || api.is_none() {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("smppd run exited before it started");
        };
        let event: Value = serde_json::from_str(&line).unwrap_or_default();
        match event["event"].as_str() {
            Some("bound") => bound = true,
            Some("started") => api = event["api"].as_str().map(str::to_owned),
            Some("smpp_server_listening") => {
                smpp = event["address"].as_str().and_then(|a| a.parse().ok());
            }
            _ => {}
        }
    }
    std::thread::spawn(move || for _ in lines {});
    (
        child,
        smpp.expect("server address"),
        api.expect("API address"),
    )
}

/// CPU ticks of every thread of `pid` by thread id, with the thread's name.
pub(crate) fn thread_ticks(pid: u32) -> BTreeMap<u32, (String, u64)> {
    let mut threads = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return threads;
    };
    for task in tasks.flatten() {
        let Some(tid) = task.file_name().to_str().and_then(|t| t.parse().ok()) else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(task.path().join("stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let name = stat[open + 1..close].to_string();
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        let get = |i: usize| {
            fields
                .get(i - 3)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(0)
        };
        threads.insert(tid, (name, get(14) + get(15)));
    }
    threads
}

/// The CPU between two [`thread_ticks`] readings summed by thread name, largest first.
/// tokio names its workers and its blocking pool's threads alike; threads that were not
/// there at the first reading (the blocking pool grows on demand, the workers start with
/// the runtime) are listed apart as "(started since)". Threads that ended in between are
/// not counted.
pub(crate) fn thread_split(
    before: &BTreeMap<u32, (String, u64)>,
    after: &BTreeMap<u32, (String, u64)>,
) -> Vec<(String, u64)> {
    let mut by_name: BTreeMap<String, u64> = BTreeMap::new();
    for (tid, (name, t)) in after {
        let (label, t0) = match before.get(tid) {
            Some((_, t0)) => (name.clone(), *t0),
            None => (format!("{name} (started since)"), 0),
        };
        *by_name.entry(label).or_insert(0) += t.saturating_sub(t0);
    }
    let mut split: Vec<(String, u64)> = by_name.into_iter().filter(|(_, t)| *t > 0).collect();
    split.sort_by_key(|b| std::cmp::Reverse(b.1));
    split
}

/// Submit send times and receipt arrival times by message id: whichever of the
/// submit_sm_resp and the receipt is seen second completes the pair.
#[derive(Default)]
pub(crate) struct Tracker {
    pending: Mutex<HashMap<String, Seen>>,
    /// Submit → receipt latencies of the pairs completed, µs.
    latencies: Mutex<Vec<u32>>,
    /// Pairs completed.
    pub(crate) matched: AtomicU64,
    /// Receipts (esm_class 0x04) received, duplicates included.
    pub(crate) receipts: AtomicU64,
    /// When the last pair completed.
    last: Mutex<Option<Instant>>,
    /// Whether to keep latencies and pairs at all (the storm's stream only counts).
    pub(crate) track: bool,
}

enum Seen {
    Sent(Instant),
    Receipt(Instant),
}

impl Tracker {
    fn submitted(&self, id: String, sent: Instant) {
        if !self.track {
            return;
        }
        let mut pending = self.pending.lock().expect("tracker");
        match pending.remove(&id) {
            Some(Seen::Receipt(at)) => {
                drop(pending);
                self.complete(at, sent);
            }
            _ => {
                pending.insert(id, Seen::Sent(sent));
            }
        }
    }

    fn receipt(&self, id: String) {
        let now = Instant::now();
        self.receipts.fetch_add(1, Ordering::Relaxed);
        if !self.track {
            return;
        }
        let mut pending = self.pending.lock().expect("tracker");
        match pending.remove(&id) {
            Some(Seen::Sent(sent)) => {
                drop(pending);
                self.complete(now, sent);
            }
            Some(Seen::Receipt(at)) => {
                // A second receipt (at least once) for a submit not answered yet.
                pending.insert(id, Seen::Receipt(at));
            }
            None => {
                pending.insert(id, Seen::Receipt(now));
            }
        }
    }

    fn complete(&self, at: Instant, sent: Instant) {
        let us = at
            .saturating_duration_since(sent)
            .as_micros()
            .min(u128::from(u32::MAX)) as u32;
        self.latencies.lock().expect("tracker").push(us);
        self.matched.fetch_add(1, Ordering::Relaxed);
        let mut last = self.last.lock().expect("tracker");
        *last = Some(last.map_or(at, |l| l.max(at)));
    }
}

/// smpp34's listener: the bound SMSC handle, and every receipt's id to the tracker.
struct Listener {
    bound: tokio::sync::Mutex<Option<tokio::sync::oneshot::Sender<Arc<SMSC>>>>,
    tracker: Arc<Tracker>,
}

#[async_trait::async_trait]
impl SmppClientListener for Listener {
    async fn on_smsc_bound(&self, smsc: SMSC, _session_id: &String) {
        if let Some(tx) = self.bound.lock().await.take() {
            let _ = tx.send(Arc::new(smsc));
        }
    }

    async fn on_deliver_sm(
        &self,
        pdu: deliver_sm,
        _connection_information: &SmppConnectionInformation,
        _session_id: &String,
    ) -> deliver_sm_resp {
        if pdu.esm_class & 0x3c == 0x04 {
            // "id:<our id> sub:001 ..." (SMPP 3.4 Appendix B).
            let id = pdu
                .short_message
                .strip_prefix(b"id:")
                .and_then(|rest| rest.split(|b| *b == b' ').next())
                .map(|id| String::from_utf8_lossy(id).into_owned());
            if let Some(id) = id {
                self.tracker.receipt(id);
            }
        }
        pdu.accept()
    }
}

/// A transceiver (or transmitter) bind of smpp34's client as `system_id`; `None` when it
/// did not bind within `limit`.
pub(crate) async fn bind(
    addr: SocketAddr,
    system_id: &str,
    mode: BIND_TYPE,
    window: usize,
    tracker: Arc<Tracker>,
    limit: Duration,
) -> Option<(Arc<SMSC>, SmppClient)> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let listener = Arc::new(Listener {
        bound: tokio::sync::Mutex::new(Some(tx)),
        tracker,
    });
    let limit_ms = limit.as_millis() as u64;
    let mut client = SmppClient::new_with_default_timers(
        addr.ip().to_string(),
        addr.port(),
        false,
        mode,
        system_id.to_string(),
        PASSWORD.to_string(),
        String::new(),
        0,
        0,
        String::new(),
        listener,
        // Bind wait, enquire_link, inactivity, response timers (ms) and the read buffer
        // (smpp34's defaults but the bind wait, which a storm must not cut short).
        limit_ms,
        30_000,
        300_000,
        30_000,
        1500,
        window,
    );
    client.start().await;
    let smsc = tokio::time::timeout(limit, rx).await.ok()?.ok()?;
    Some((smsc, client))
}

/// What one streaming client saw: each submit_sm_resp's arrival and latency.
#[derive(Default)]
pub(crate) struct Streamed {
    /// (when the response arrived, latency µs), per response.
    pub(crate) responses: Vec<(Instant, u32)>,
    pub(crate) errors: u64,
    pub(crate) throttled: u64,
}

/// Keeps `window` submits outstanding on `smsc` while `remaining` lasts (taken one at a
/// time, shared by every client) and `stop` is not set.
pub(crate) async fn stream(
    smsc: Arc<SMSC>,
    window: usize,
    remaining: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
    tracker: Arc<Tracker>,
) -> Streamed {
    let mut tasks = Vec::with_capacity(window);
    for _ in 0..window {
        let (smsc, remaining, stop, tracker) = (
            smsc.clone(),
            remaining.clone(),
            stop.clone(),
            tracker.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let mut seen = Streamed::default();
            while !stop.load(Ordering::Relaxed)
                && remaining
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |x| x.checked_sub(1))
                    .is_ok()
            {
                // A throttled submit is sent again by the same task, so none is lost.
                loop {
                    let sent = Instant::now();
                    let resp = smsc
                        .submit_sm()
                        .source_addr(SOURCE)
                        .destination_addr(DESTINATION)
                        .registered_delivery(1)
                        .short_message(TEXT)
                        .send()
                        .await;
                    let now = Instant::now();
                    match resp {
                        Ok(r) if r.is_success() => {
                            let us = now.duration_since(sent).as_micros() as u32;
                            seen.responses.push((now, us));
                            if let Some(id) = r.message_id {
                                tracker.submitted(id, sent);
                            }
                        }
                        Ok(r) if r.command_status() == THROTTLED => {
                            seen.throttled += 1;
                            tokio::time::sleep(Duration::from_millis(1)).await;
                            continue;
                        }
                        _ => seen.errors += 1,
                    }
                    break;
                }
            }
            seen
        }));
    }
    let mut all = Streamed::default();
    for t in tasks {
        let seen = t.await.expect("stream task");
        all.responses.extend(seen.responses);
        all.errors += seen.errors;
        all.throttled += seen.throttled;
    }
    all
}

/// One end-to-end run.
struct Run {
    submits_per_s: f64,
    e2e_per_s: f64,
    submit_p50: u32,
    submit_p99: u32,
    receipt_p50: u32,
    receipt_p99: u32,
    daemon_us_per_msg: f64,
    sim_us_per_msg: f64,
    client_us_per_msg: f64,
    peak_rss_mib: f64,
    errors: u64,
    throttled: u64,
    missing: u64,
    duplicates: u64,
    threads: Vec<(String, u64)>,
    /// Store commits per second, and store calls per message.
    commits_per_s: f64,
    calls_per_msg: f64,
    calls_per_commit: f64,
}

pub fn run(args: SmppServerArgs) {
    let mut runs = Vec::new();
    let mut baselines: Vec<(Stats, Stats)> = Vec::new();
    let load0 = loadavg();
    for i in 0..args.repeat {
        let sim = SimProcess::start(false);
        if !args.no_baseline {
            baselines.push((
                baseline(&sim, Impl::Smppd, args.window, args.count),
                baseline(&sim, Impl::Smpp34, args.window, args.count),
            ));
        }
        let users: Vec<(String, usize)> =
            (0..args.clients).map(|c| (format!("load{c}"), 4)).collect();
        let daemon = ServerDaemon::start_with(&sim, &users, !args.default_outbox);
        let r = measure(&daemon, &sim, &args);
        eprintln!(
            "run {}: {:.0} submits/s, {:.0} msg/s end to end, {:.1} µs/msg daemon CPU, load {}",
            i + 1,
            r.submits_per_s,
            r.e2e_per_s,
            r.daemon_us_per_msg,
            loadavg()
        );
        runs.push(r);
    }
    let load1 = loadavg();
    let med = |f: &dyn Fn(&Run) -> f64| median(runs.iter().map(f).collect());
    let range = |f: &dyn Fn(&Run) -> f64| {
        let v: Vec<f64> = runs.iter().map(f).collect();
        let lo = v.iter().cloned().fold(f64::MAX, f64::min);
        let hi = v.iter().cloned().fold(0.0, f64::max);
        format!("{lo:.0}–{hi:.0}")
    };
    println!(
        "\n### SMPP server end to end (`smppd run`, {} smpp34 transceiver client(s), window {} each, plain TCP, {} runs, medians; load average {} → {})\n",
        args.clients, args.window, args.repeat, load0, load1
    );
    println!("| messages | submit_sm_resp/s | end to end msg/s (all receipts back) | submit p50 / p99 µs | submit→receipt p50 / p99 ms | daemon CPU µs/msg | simulator CPU µs/msg | client CPU µs/msg | daemon peak RSS MiB |");
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {:.0} ({}) | {:.0} ({}) | {:.0} / {:.0} | {:.1} / {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
        args.count,
        med(&|r| r.submits_per_s),
        range(&|r| r.submits_per_s),
        med(&|r| r.e2e_per_s),
        range(&|r| r.e2e_per_s),
        med(&|r| f64::from(r.submit_p50)),
        med(&|r| f64::from(r.submit_p99)),
        med(&|r| f64::from(r.receipt_p50)) / 1000.0,
        med(&|r| f64::from(r.receipt_p99)) / 1000.0,
        med(&|r| r.daemon_us_per_msg),
        med(&|r| r.sim_us_per_msg),
        med(&|r| r.client_us_per_msg),
        med(&|r| r.peak_rss_mib),
    );
    let errors: u64 = runs.iter().map(|r| r.errors).sum();
    let throttled: u64 = runs.iter().map(|r| r.throttled).sum();
    let missing: u64 = runs.iter().map(|r| r.missing).sum();
    let duplicates: u64 = runs.iter().map(|r| r.duplicates).sum();
    println!(
        "\nOver all runs: {errors} submits refused, {throttled} throttled (sent again), {missing} receipts missing at the time limit, {duplicates} duplicate receipts."
    );
    println!(
        "Store (medians): {:.0} commits/s, {:.1} calls per message, {:.1} calls per commit.",
        med(&|r| r.commits_per_s),
        med(&|r| r.calls_per_msg),
        med(&|r| r.calls_per_commit)
    );
    if let Some(r) = runs.get(runs.len() / 2) {
        let total: u64 = r.threads.iter().map(|(_, t)| t).sum();
        println!("\nDaemon CPU by thread (run {}):\n", runs.len() / 2 + 1);
        println!("| thread | CPU s | share |");
        println!("|---|---:|---:|");
        for (name, t) in &r.threads {
            println!(
                "| {name} | {:.2} | {:.0} % |",
                *t as f64 / TICKS_PER_SECOND,
                *t as f64 * 100.0 / total.max(1) as f64
            );
        }
    }
    if !baselines.is_empty() {
        let rate = |f: &dyn Fn(&(Stats, Stats)) -> &Stats| {
            median(baselines.iter().map(|b| f(b).rate()).collect())
        };
        let smppd = rate(&|b| &b.0);
        let smpp34 = rate(&|b| &b.1);
        let e2e = med(&|r| r.e2e_per_s);
        let submits = med(&|r| r.submits_per_s);
        println!("\nBaseline, same runs: submit_sm → simulator directly at window {} (no store, no receipts), medians:\n", args.window);
        println!("| path | msg/s | end to end through the server / this |");
        println!("|---|---:|---:|");
        println!(
            "| smppd session (`load submit`'s smppd client) | {smppd:.0} | {:.2}× (submits {:.2}×) |",
            e2e / smppd,
            submits / smppd
        );
        println!(
            "| smpp34 client (the client of this test) | {smpp34:.0} | {:.2}× (submits {:.2}×) |",
            e2e / smpp34,
            submits / smpp34
        );
    }
    println!(
        "\nReproduce: `cargo build --release --bin smppd --example load && target/release/examples/load smpp-server --count {} --window {} --clients {} --repeat {}`",
        args.count, args.window, args.clients, args.repeat
    );
}

/// `/proc/loadavg`'s first three figures.
pub(crate) fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// One `load client` process against the simulator: the bare session path.
fn baseline(sim: &SimProcess, client: Impl, window: usize, count: u64) -> Stats {
    let exe = std::env::current_exe().expect("current exe");
    crate::client_run(&exe, sim, client, Transport::Plain, window, count)
}

fn measure(daemon: &ServerDaemon, sim: &SimProcess, args: &SmppServerArgs) -> Run {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let tracker = Arc::new(Tracker {
        track: true,
        ..Tracker::default()
    });
    let count = args.count;
    let window = args.window;
    let addr = daemon.smpp;
    let pid = daemon.pid();
    rt.block_on(async {
        let mut clients = Vec::new();
        for c in 0..args.clients {
            let (smsc, client) = bind(
                addr,
                &format!("load{c}"),
                BIND_TYPE::TRX,
                window,
                tracker.clone(),
                Duration::from_secs(30),
            )
            .await
            .expect("the load client binds");
            clients.push((smsc, client));
        }
        let remaining = Arc::new(AtomicU64::new(count));
        let stop = Arc::new(AtomicBool::new(false));
        let store0 = daemon.commits();
        let (d0, s0, c0, threads0) = (
            cpu_ticks_of(pid),
            sim.cpu_ticks(),
            cpu_ticks(),
            thread_ticks(pid),
        );
        let start = Instant::now();
        let streams: Vec<_> = clients
            .iter()
            .map(|(smsc, _)| {
                tokio::spawn(stream(
                    smsc.clone(),
                    window,
                    remaining.clone(),
                    stop.clone(),
                    tracker.clone(),
                ))
            })
            .collect();
        let mut streamed = Streamed::default();
        for s in streams {
            let seen = s.await.expect("stream");
            streamed.responses.extend(seen.responses);
            streamed.errors += seen.errors;
            streamed.throttled += seen.throttled;
        }
        let submit_seconds = streamed
            .responses
            .iter()
            .map(|(at, _)| *at)
            .max()
            .map_or(0.0, |at| at.duration_since(start).as_secs_f64());
        let accepted = streamed.responses.len() as u64;
        let deadline = start + RUN_LIMIT;
        // Receipts that stop coming for this long are not coming (a refused one is lost).
        let (mut seen, mut progress) = (0, Instant::now());
        while seen < accepted && Instant::now() < deadline && progress.elapsed() < STALLED {
            tokio::time::sleep(Duration::from_millis(2)).await;
            let now = tracker.matched.load(Ordering::Relaxed);
            if now > seen {
                (seen, progress) = (now, Instant::now());
            }
        }
        let (d1, s1, c1, threads1) = (
            cpu_ticks_of(pid),
            sim.cpu_ticks(),
            cpu_ticks(),
            thread_ticks(pid),
        );
        let store1 = daemon.commits();
        let run_seconds = start.elapsed().as_secs_f64();
        let matched = tracker.matched.load(Ordering::Relaxed);
        let last = tracker.last.lock().expect("tracker").unwrap_or(start);
        let e2e_seconds = last.duration_since(start).as_secs_f64();
        for (smsc, mut client) in clients {
            let _ = tokio::time::timeout(Duration::from_secs(2), smsc.send_unbind()).await;
            client.stop().await;
        }
        let mut submit: Vec<u32> = streamed.responses.iter().map(|(_, us)| *us).collect();
        submit.sort_unstable();
        let mut receipt = tracker.latencies.lock().expect("tracker").clone();
        receipt.sort_unstable();
        let per = |ticks: u64| ticks as f64 / TICKS_PER_SECOND * 1e6 / matched.max(1) as f64;
        Run {
            submits_per_s: accepted as f64 / submit_seconds,
            e2e_per_s: matched as f64 / e2e_seconds,
            submit_p50: percentile(&submit, 50.0),
            submit_p99: percentile(&submit, 99.0),
            receipt_p50: percentile(&receipt, 50.0),
            receipt_p99: percentile(&receipt, 99.0),
            daemon_us_per_msg: per(d1 - d0),
            sim_us_per_msg: per(s1 - s0),
            client_us_per_msg: per(c1 - c0),
            peak_rss_mib: peak_rss_kib(pid) as f64 / 1024.0,
            errors: streamed.errors,
            throttled: streamed.throttled,
            missing: accepted - matched,
            duplicates: tracker
                .receipts
                .load(Ordering::Relaxed)
                .saturating_sub(matched),
            threads: thread_split(&threads0, &threads1),
            commits_per_s: (store1.0 - store0.0) as f64 / run_seconds,
            calls_per_msg: (store1.1 - store0.1) as f64 / matched.max(1) as f64,
            calls_per_commit: (store1.1 - store0.1) as f64 / (store1.0 - store0.0).max(1) as f64,
        }
    })
}
