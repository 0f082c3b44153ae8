//! `load soak`: a fault soak. `smppd run` (the real binary, durable store in a temporary
//! directory, one plain-TCP channel asking for delivery receipts, a `[webhook]` pointing at a
//! receiver in this process) takes a steady load through `POST /v1/messages` for `--minutes`,
//! some of it long multi-segment and UCS-2 texts, while faults are injected at random
//! (seeded; `--seed` replays a run's choices):
//!
//! - the SMSC (`smppd simulate`) is killed and restarted on the same port, with a random
//!   fault for a while (links cut, throttling, slow answers, enquire_link ignored on an idle
//!   link, a hung SMSC, after-bind unbinds and garbage, connections closed at once), then
//!   healthy again; every simulator sends MO messages (`--mo-every-ms`) and appends what it
//!   received to its own record file (`--record-file`);
//! - the webhook receiver answers 503, stops accepting connections, never answers, or
//!   answers too late, for random periods.
//!
//! Then the load stops, the SMSC and the receiver are left healthy, and the daemon drains
//! (bounded). Checked from the simulators' record files and what the receiver got: every
//! message answered 202 reached the SMSC whole (every segment, the text intact), duplicates
//! stay within one window per lost link, every receipt and every MO the SMSC saw
//! acknowledged reached the webhook (by SMSC id, and by API message id and segment); and the
//! daemon's resident memory and open descriptors at the start, middle and end are reported.
//! Prints a markdown report and the command that reproduces it; exits non-zero when anything
//! is missing.
//!
//! ```text
//!   soak.rs     the run: set-up, the fault loop, the drain
//!   load        POST /v1/messages at a steady rate        receiver  the flapping webhook
//!   smsc        simulator processes and their faults      ledger    their record files
//!   verify      the comparison and the failure rules      report    the markdown
//!   resources   VmRSS and descriptors from /proc          rng       the seeded choices
//! ```

mod ledger;
mod load;
mod receiver;
mod report;
mod resources;
mod rng;
mod smsc;
mod verify;

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use clap::Args;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::{start_daemon, PASSWORD, SYSTEM_ID};
use ledger::Ledger;
use load::{Load, Sent, IN_FLIGHT};
use receiver::{Mode, Receiver};
use report::Report;
use resources::Resources;
use rng::Rng;
use smsc::{Fault, Smsc};

/// Flags of `load soak`.
#[derive(Debug, Args)]
pub struct SoakArgs {
    /// How long the load and the faults last.
    #[arg(long, default_value_t = 3)]
    minutes: u64,
    /// Seed of every random choice (default: from the clock; the report prints it).
    #[arg(long)]
    seed: Option<u64>,
    /// Messages offered per second through `POST /v1/messages`.
    #[arg(long, default_value_t = 200)]
    rate: u64,
    /// The channel's window (`x-smpp-submit-window-size`): the most a lost link may cause
    /// to be sent twice.
    #[arg(long, default_value_t = 50)]
    window: usize,
    /// Milliseconds between MO messages from each simulator.
    #[arg(long, default_value_t = 250)]
    mo_every_ms: u64,
    /// The longest wait, after the load stops, for everything to arrive.
    #[arg(long, default_value_t = 300)]
    drain_seconds: u64,
}

/// The webhook timeout the daemon is given; `Late` answers come after it.
const WEBHOOK_TIMEOUT_MS: u64 = 1000;
/// Keep-alive settings of the channel: an unanswered enquire_link is found within
/// ENQUIRE_LINK_MS + RESPONSE_WAIT_MS of the link going idle.
const ENQUIRE_LINK_MS: u64 = 2000;
const RESPONSE_WAIT_MS: u64 = 3000;

type HttpClient = Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

/// Counts of the daemon's log lines by event (channel failures by reason).
type LogTally = Arc<Mutex<BTreeMap<String, u64>>>;

/// A run in progress.
struct Soak {
    rt: tokio::runtime::Runtime,
    rng: Rng,
    smsc: Smsc,
    daemon: Child,
    api: String,
    receiver: Arc<Receiver>,
    tally: LogTally,
    ledger: Ledger,
    /// Record files of `smsc` the ledger follows so far.
    followed: usize,
    resources: Resources,
    /// Set when the daemon exited by itself.
    died: Option<std::process::ExitStatus>,
    t0: Instant,
}

impl Soak {
    /// False once the daemon has exited; takes the resource samples that are due.
    fn tick(&mut self) -> bool {
        if let Ok(Some(status)) = self.daemon.try_wait() {
            self.died = Some(status);
            return false;
        }
        self.resources.tick();
        true
    }

    /// Sleeps `d` in small steps, ticking; false if the daemon died.
    fn wait(&mut self, d: Duration) -> bool {
        let until = Instant::now() + d;
        while Instant::now() < until {
            if !self.tick() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(250).min(until - Instant::now()));
        }
        self.tick()
    }

    /// Folds what the simulators appended to their record files since the last call.
    fn read_records(&mut self) {
        while self.followed < self.smsc.records.len() {
            let (path, number) = self.smsc.records[self.followed].clone();
            self.ledger.follow(path, number);
            self.followed += 1;
        }
        self.ledger.update();
    }

    /// Random SMSC faults, each followed by a healthy SMSC, until `total` has passed since
    /// `t0`. `pause_until` pauses the load (ms since `t0`). Returns the faults by kind.
    fn faults(&mut self, total: Duration, pause_until: &AtomicU64) -> BTreeMap<String, u64> {
        let mut faults = BTreeMap::new();
        let mut last_read = Instant::now();
        loop {
            let left = total.saturating_sub(self.t0.elapsed());
            let gap = Duration::from_secs(self.rng.range(15, 45)).min(left);
            if !self.wait(gap) {
                return faults;
            }
            // Fold the record files now and then, so the end does not read them all at once.
            if last_read.elapsed() > Duration::from_secs(20) {
                self.read_records();
                last_read = Instant::now();
            }
            if self.t0.elapsed() >= total {
                return faults;
            }
            let fault = Fault::random(&mut self.rng);
            *faults.entry(fault.kind()).or_default() += 1;
            eprintln!(
                "soak: {:>5.0} s  fault: {} {}",
                self.t0.elapsed().as_secs_f64(),
                fault.kind(),
                fault.flags().join(" ")
            );
            let alive = match fault {
                Fault::Killed { down } => {
                    self.smsc.stop(true);
                    let alive = self.wait(down);
                    self.smsc.start(&[], true, &mut self.rng, true);
                    alive
                }
                _ => {
                    // Any PDU proves a link alive, so the idle-link fault sends no MO either.
                    let mo = fault != Fault::IgnoreEnquireLinkIdle;
                    let hard = self.rng.chance(50);
                    self.smsc.start(&fault.flags(), mo, &mut self.rng, hard);
                    let mut hold = Duration::from_secs(self.rng.range(10, 40));
                    if fault == Fault::IgnoreEnquireLinkIdle {
                        // Silence long enough for an enquire_link to be sent and time out.
                        let quiet = ENQUIRE_LINK_MS + RESPONSE_WAIT_MS + 3000;
                        let now = self.t0.elapsed().as_millis() as u64;
                        pause_until.store(now + quiet, Ordering::SeqCst);
                        hold = hold.max(Duration::from_millis(quiet + 2000));
                    }
                    let alive = self.wait(hold);
                    let hard = self.rng.chance(50);
                    self.smsc.start(&[], true, &mut self.rng, hard);
                    alive
                }
            };
            if !alive {
                return faults;
            }
        }
    }
}

pub fn run(args: SoakArgs) {
    let seed = args.seed.unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1)
    });
    let reproduce = format!(
        "cargo build --release --bin smppd --example load && target/release/examples/load soak \
         --minutes {} --seed {seed} --rate {} --window {} --mo-every-ms {} --drain-seconds {}",
        args.minutes, args.rate, args.window, args.mo_every_ms, args.drain_seconds
    );
    eprintln!("soak: seed {seed}");
    let mut rng = Rng::new(seed);
    let dir = tempfile::Builder::new()
        .prefix("smppd-soak-")
        .tempdir()
        .expect("temp dir");
    eprintln!("soak: working in {}", dir.path().display());
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");

    // The webhook receiver, the first (healthy) SMSC, the daemon.
    let late = Duration::from_millis(WEBHOOK_TIMEOUT_MS + 300);
    let receiver = Arc::new(rt.block_on(Receiver::start(late)));
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
        l.local_addr().expect("address").port()
    };
    let mut smsc = Smsc::new(dir.path(), port, args.mo_every_ms);
    smsc.start(&[], true, &mut rng, true);
    let (daemon, api, tally) = start(dir.path(), port, receiver.port, args.window);
    let pid = daemon.id();
    eprintln!(
        "soak: smppd run (pid {pid}) on {api}, SMSC on port {port}, webhook on port {}",
        receiver.port
    );

    // Load, webhook flapping, SMSC faults.
    let t0 = Instant::now();
    let total = Duration::from_secs(args.minutes * 60);
    let sent: Arc<Mutex<Sent>> = Arc::default();
    let stop_load = Arc::new(AtomicBool::new(false));
    let pause_until = Arc::new(AtomicU64::new(0));
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(IN_FLIGHT)
        .build_http();
    let load = Load {
        client: client.clone(),
        api: api.clone(),
        rate: args.rate,
        sent: sent.clone(),
        stop: stop_load.clone(),
        pause_until: pause_until.clone(),
        t0,
    };
    let load_task = rt.spawn(load.run(rng.fork()));
    let stop_flap = Arc::new(AtomicBool::new(false));
    let flaps: Arc<Mutex<BTreeMap<&'static str, u64>>> = Arc::default();
    let flap_task = rt.spawn(flap(
        receiver.clone(),
        rng.fork(),
        stop_flap.clone(),
        flaps.clone(),
    ));
    let mut soak = Soak {
        rt,
        rng,
        smsc,
        daemon,
        api,
        receiver,
        tally,
        ledger: Ledger::default(),
        followed: 0,
        resources: Resources::new(pid, t0, total),
        died: None,
        t0,
    };
    let faults = soak.faults(total, &pause_until);
    let load_s = t0.elapsed().as_secs_f64();
    eprintln!("soak: {load_s:>5.0} s  load stopped; draining");

    // Drain: no new load, a healthy receiver, and a healthy SMSC that sends no MO (so the
    // totals settle).
    stop_load.store(true, Ordering::SeqCst);
    let _ = soak.rt.block_on(load_task);
    stop_flap.store(true, Ordering::SeqCst);
    let _ = soak.rt.block_on(flap_task);
    soak.receiver.set(Mode::Healthy);
    // Every fault period ends with a healthy SMSC: let it deliver the receipts it owes
    // before it makes way for the last one.
    let mut alive = soak.wait(Duration::from_secs(5));
    if alive {
        soak.smsc.start(&[], false, &mut soak.rng, false);
    }
    let last_process = soak.smsc.started - 1;
    let drain_start = Instant::now();
    let mut waiting_at_end = None;
    let mut drained = false;
    while alive {
        soak.read_records();
        let verdict = {
            let s = sent.lock().expect("sent");
            let r = soak.receiver.received.lock().expect("received");
            verify::verify(&s, &soak.ledger, &r)
        };
        // The last SMSC sends a receipt for every segment it accepts: wait for their answers.
        let base = u64::from(last_process) * smsc::ID_SPACING + 0x1000_0000;
        let owed = soak
            .ledger
            .by_smsc_id
            .keys()
            .filter(|id| {
                !soak.ledger.receipts_acked.contains(*id)
                    && u64::from_str_radix(id, 16).is_ok_and(|v| v >= base)
            })
            .count();
        waiting_at_end = soak.rt.block_on(waiting(&client, &soak.api));
        if verdict.complete() && owed == 0 && waiting_at_end == Some((0, 0)) {
            drained = true;
            break;
        }
        if drain_start.elapsed() > Duration::from_secs(args.drain_seconds) {
            eprintln!(
                "soak: drain timed out: {} messages missing at the SMSC, {} receipts and {} MO \
                 missing at the webhook, {owed} receipts of the last SMSC unanswered, \
                 waiting/outbox {waiting_at_end:?}",
                verdict.missing.len(),
                verdict.receipts_missing.len(),
                verdict.mo_missing.len()
            );
            break;
        }
        alive = soak.wait(Duration::from_secs(2));
    }
    let drain_s = drain_start.elapsed().as_secs_f64();

    // The end sample without the load's connections: drop the client's pool first.
    drop(client);
    std::thread::sleep(Duration::from_secs(2));
    soak.resources.finish();

    let sent = sent.lock().expect("sent");
    let verdict = {
        let r = soak.receiver.received.lock().expect("received");
        verify::verify(&sent, &soak.ledger, &r)
    };
    // A segment with an acknowledged receipt but no receipt event under its API id is
    // explained only when the SMSC id the daemon kept for it (a later copy's) never had its
    // receipt acknowledged: the daemon cannot match a receipt to an id it never learned.
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let mut explained = 0;
    let mut unexplained = Vec::new();
    for (n, segment) in &verdict.receipt_gaps {
        let Some(id) = sent.accepted[*n as usize].as_ref().map(|a| a.id.clone()) else {
            continue;
        };
        let uri = format!("http://{}/v1/messages/{id}", soak.api);
        let status = soak.rt.block_on(get_json(&client, &uri));
        let kept = status["segments"][usize::from(*segment) - 1]["smsc_message_id"]
            .as_str()
            .map(str::to_owned);
        match kept {
            Some(kept) if !soak.ledger.receipts_acked.contains(&kept) => explained += 1,
            _ => unexplained.push(format!(
                "{id} segment {}: {}",
                segment - 1,
                status["segments"]
            )),
        }
    }

    // A receipt reported unmatched is fine only for an SMSC id the daemon never learnt (the
    // submit_sm_resp was lost with a link and the segment sent again): not for the id it
    // keeps for that segment.
    let mut unmatched_known = Vec::new();
    for smsc_id in &verdict.unmatched_ids {
        let Some((n, segment)) = soak.ledger.by_smsc_id.get(smsc_id) else {
            continue;
        };
        let Some(id) = sent.accepted[*n as usize].as_ref().map(|a| a.id.clone()) else {
            continue;
        };
        let uri = format!("http://{}/v1/messages/{id}", soak.api);
        let status = soak.rt.block_on(get_json(&client, &uri));
        let kept = status["segments"][usize::from(*segment) - 1]["smsc_message_id"].as_str();
        if kept.is_some_and(|k| k.eq_ignore_ascii_case(smsc_id)) {
            unmatched_known.push(format!("{smsc_id} ({id} segment {})", segment - 1));
        }
    }

    // Stop the daemon as systemd would, and the SMSC.
    let stopped = stop_daemon(&mut soak.daemon, soak.died);
    soak.smsc.stop(false);
    let log = soak.tally.lock().expect("tally").clone();
    let flaps = flaps.lock().expect("flaps").clone();
    let received = soak.receiver.received.lock().expect("received");
    let report = Report {
        minutes: args.minutes,
        seed,
        rate: args.rate,
        window: args.window,
        load_s,
        drain_s,
        drain_limit_s: args.drain_seconds,
        drained,
        sent: &sent,
        verdict: &verdict,
        ledger: &soak.ledger,
        received: &received,
        explained,
        unexplained: &unexplained,
        unmatched_known: &unmatched_known,
        faults: &faults,
        flaps: &flaps,
        simulators: soak.smsc.started,
        log: &log,
        resources: &soak.resources,
        waiting_at_end,
        stopped: &stopped,
        reproduce: &reproduce,
    };
    let failures = verify::failures(&report);
    report.print(&failures);
    if failures.is_empty() {
        drop(dir);
    } else {
        let kept = dir.keep();
        eprintln!("soak: kept {} for inspection", kept.display());
        std::process::exit(1);
    }
}

/// Writes the configuration into `dir` and starts `smppd run` on it; returns once the
/// channel is bound: the process, the API's address and the tally of its log.
fn start(
    dir: &Path,
    smsc_port: u16,
    webhook_port: u16,
    window: usize,
) -> (Child, String, LogTally) {
    let config = dir.join("smppd.toml");
    std::fs::write(
        &config,
        format!(
            "[channel-soak]\nx-smpp-host = \"127.0.0.1\"\nx-smpp-port = {smsc_port}\n\
             x-smpp-system-id = \"{SYSTEM_ID}\"\npassword = \"{PASSWORD}\"\n\
             x-smpp-submit-window-size = {window}\nx-smpp-submit-max-rate = 0\n\
             x-smpp-delivery-report = true\n\
             x-smpp-enquire-link-timeout = {ENQUIRE_LINK_MS}\n\
             x-smpp-response-max-waiting-time = {RESPONSE_WAIT_MS}\n\
             reconnection-timeout = 10\n\
             [http]\nlisten = \"127.0.0.1:0\"\n\
             [store]\npath = \"smppd.db\"\n\
             [webhook]\nurl = \"http://127.0.0.1:{webhook_port}/events\"\n\
             timeout-ms = {WEBHOOK_TIMEOUT_MS}\nretry-min-ms = 100\nretry-max-ms = 2000\n\
             max-queued-events = 1000000\n"
        ),
    )
    .expect("write config");
    let stderr = std::fs::File::create(dir.join("daemon.stderr")).expect("stderr file");
    let (daemon, lines, api, bound_early) = start_daemon(&config, Stdio::from(stderr));
    let tally: LogTally = Arc::default();
    if bound_early {
        tally.lock().expect("tally").insert("bound".into(), 1);
    }
    follow_log(lines, dir.join("daemon.log"), tally.clone());
    let until = Instant::now() + Duration::from_secs(60);
    while !tally.lock().expect("tally").contains_key("bound") {
        assert!(
            Instant::now() < until,
            "the channel did not bind within 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (daemon, api, tally)
}

/// Writes the daemon's log to `path` and tallies its events.
fn follow_log(
    lines: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
    path: std::path::PathBuf,
    tally: LogTally,
) {
    std::thread::spawn(move || {
        let mut file = std::io::BufWriter::new(std::fs::File::create(path).expect("daemon log"));
        for line in lines.map_while(Result::ok) {
            let _ = writeln!(file, "{line}");
            let v: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
            let event = v["event"].as_str().unwrap_or("(no event)");
            let key = match v["reason"].as_str() {
                Some(reason) if event == "channel_failure" => format!("{event}: {reason}"),
                _ => event.to_owned(),
            };
            *tally.lock().expect("tally").entry(key).or_default() += 1;
        }
        let _ = file.flush();
    });
}

/// The webhook receiver's misbehaviour, at random, until `stop`.
async fn flap(
    receiver: Arc<Receiver>,
    mut rng: Rng,
    stop: Arc<AtomicBool>,
    counts: Arc<Mutex<BTreeMap<&'static str, u64>>>,
) {
    let sleep = |d: Duration, stop: Arc<AtomicBool>| async move {
        let until = Instant::now() + d;
        while Instant::now() < until && !stop.load(Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    };
    loop {
        sleep(Duration::from_secs(rng.range(10, 40)), stop.clone()).await;
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let (mode, hold) = match rng.below(4) {
            0 => (Mode::Unavailable, rng.range(5, 30)),
            1 => (Mode::Closed, rng.range(5, 30)),
            2 => (Mode::Hang, rng.range(5, 15)),
            _ => (Mode::Late, rng.range(3, 10)),
        };
        *counts
            .lock()
            .expect("counts")
            .entry(mode.name())
            .or_default() += 1;
        receiver.set(mode);
        sleep(Duration::from_secs(hold), stop.clone()).await;
        receiver.set(Mode::Healthy);
    }
}

async fn get_json(client: &HttpClient, uri: &str) -> Value {
    let Ok(request) = hyper::Request::get(uri).body(Full::new(Bytes::new())) else {
        return Value::Null;
    };
    let Ok(response) = client.request(request).await else {
        return Value::Null;
    };
    let bytes = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    serde_json::from_slice(&bytes).unwrap_or(Value::Null)
}

/// `smppd_messages_tracked` and `smppd_webhook_queued` from `/metrics` (`None` when the
/// API does not answer).
async fn waiting(client: &HttpClient, api: &str) -> Option<(u64, u64)> {
    let request = hyper::Request::get(format!("http://{api}/metrics"))
        .body(Full::new(Bytes::new()))
        .ok()?;
    let response = client.request(request).await.ok()?;
    let bytes = response.into_body().collect().await.ok()?.to_bytes();
    let text = String::from_utf8_lossy(&bytes);
    let value = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse::<f64>().ok())
            .map(|v| v as u64)
    };
    Some((
        value("smppd_messages_tracked ")?,
        value("smppd_webhook_queued ").unwrap_or(0),
    ))
}

/// SIGTERM, then up to 30 s for the exit: (clean, how it ended).
fn stop_daemon(daemon: &mut Child, died: Option<std::process::ExitStatus>) -> (bool, String) {
    if let Some(status) = died {
        return (false, format!("it exited during the run: {status}"));
    }
    let _ = std::process::Command::new("kill")
        .args(["-TERM", &daemon.id().to_string()])
        .status();
    let until = Instant::now() + Duration::from_secs(30);
    while Instant::now() < until {
        if let Ok(Some(status)) = daemon.try_wait() {
            return (status.success(), format!("SIGTERM, {status}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = daemon.kill();
    let _ = daemon.wait();
    (false, "no exit within 30 s of SIGTERM; killed".into())
}
