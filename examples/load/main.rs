//! `load`: measures smppd against its own simulator, and against the `smpp34` crate's client
//! as a baseline, each client in its own process so its CPU time can be read from `/proc`.
//!
//! ```text
//! cargo build --release
//! cargo run --release --example load -- submit            # throughput, latency, CPU/message
//! cargo run --release --example load -- idle              # RSS of 1000 idle bound channels
//! cargo run --release --example load -- http              # HTTP API end to end
//! cargo run --release --example load -- http-floor        # the same requests answered at once: the floor
//! cargo run --release --example load -- http --backend both --nodes 1,2  # on SQLite and PostgreSQL
//! cargo run --release --example load -- backlog           # 1M queued with the SMSC down, then drained
//! cargo run --release --example load -- store             # the store alone (--backend sqlite/postgres/both)
//! cargo run --release --example load -- soak --minutes 30  # faults injected under load; nothing lost
//! cargo run --release --example load -- smpp-server       # SMPP client -> smppd's server -> simulator, receipts back
//! cargo run --release --example load -- smpp-storm        # 200 clients bind at once while one streams
//! ```
//!
//! Every run targets 127.0.0.1 only, spawns `target/release/smppd simulate --quiet` as the
//! SMSC (a separate process, so the client's CPU time is its own), and is bounded in both
//! message count and time. Each measurement prints a markdown table and the command that
//! reproduces it. Not a test: `cargo test` builds it but never runs it.

#![forbid(unsafe_code)]

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::{Parser, Subcommand, ValueEnum};

mod backlog;
mod http;
mod http_floor;
mod http_nodes;
mod smpp_server;
mod smpp_storm;
mod soak;
mod stats;
mod store;

use stats::{cpu_ticks, median, rss_kib, Stats};

/// The account every run binds with (the simulator is loopback-only and lives for one run).
pub(crate) const SYSTEM_ID: &str = "load";
pub(crate) const PASSWORD: &str = "loadpw";
/// No single client run may take longer than this, whatever the count.
const RUN_LIMIT: Duration = Duration::from_secs(120);

#[derive(Parser)]
#[command(about = "smppd load tool: throughput, latency, CPU and memory against the simulator")]
struct Cli {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// submit_sm -> submit_sm_resp throughput, p50/p99 latency and client CPU per message,
    /// smppd's session driver against smpp34's client, plain TCP and TLS 1.2.
    Submit {
        /// Windows (messages in flight) to measure.
        #[arg(long, value_delimiter = ',', default_value = "1,10,100,1000")]
        windows: Vec<usize>,
        /// Messages per run at window 1 (round trips one at a time are slow).
        #[arg(long, default_value_t = 20_000)]
        count_window1: u64,
        /// Messages per run at window 10 and above.
        #[arg(long, default_value_t = 200_000)]
        count: u64,
        /// Runs per cell; the table shows medians.
        #[arg(long, default_value_t = 3)]
        repeat: usize,
        /// Transports to measure.
        #[arg(long, value_delimiter = ',', default_value = "plain,tls12")]
        transports: Vec<Transport>,
    },
    /// One client run (spawned by `submit`; prints one RESULT line).
    Client {
        #[arg(long, value_enum)]
        client: Impl,
        #[arg(long)]
        addr: SocketAddr,
        #[arg(long, value_enum)]
        transport: Transport,
        #[arg(long)]
        window: usize,
        #[arg(long)]
        count: u64,
    },
    /// Resident memory per idle bound channel.
    Idle {
        /// Channels to bind in one process.
        #[arg(long, default_value_t = 1000)]
        channels: usize,
    },
    /// `smppd run` end to end: HTTP API in, simulator out.
    Http(http::HttpArgs),
    /// The floor under `http`: the same requests answered 202 at once by smppd's HTTP
    /// pieces alone (no store, no SMSC); server and client CPU per request.
    HttpFloor(http_floor::FloorArgs),
    /// The server of `http-floor` (spawned by it; prints its address, serves until killed).
    #[command(hide = true)]
    HttpFloorServer,
    /// Store and forward: messages queued through the HTTP API while the SMSC is down, then
    /// drained once it comes up; accept and drain rate, RSS and store size per checkpoint.
    Backlog(backlog::BacklogArgs),
    /// The store alone (SQLite, PostgreSQL or both): accept, claim, submitted (and
    /// receipts), CPU and round trips per message.
    Store(store::StoreArgs),
    /// A fault soak: `smppd run` under steady load while the SMSC is killed and restarted
    /// with random faults and the webhook receiver flaps; checks that nothing accepted is
    /// lost and reports the daemon's memory and descriptors.
    Soak(soak::SoakArgs),
    /// smppd's SMPP server end to end: smpp34 clients at `window` submit with
    /// registered_delivery 1 to `smppd run`, which commits, forwards to the simulator and
    /// brings every receipt back; throughput, latencies, daemon CPU and RSS, and the bare
    /// session path as a baseline.
    SmppServer(smpp_server::SmppServerArgs),
    /// A reconnect storm: many clients bind at once (Argon2id checks) while one streams;
    /// how long the storm takes and whether the stream slows down.
    SmppStorm(smpp_storm::StormArgs),
}

/// Which client library drives the session.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Impl {
    Smppd,
    Smpp34,
}

/// How the client reaches the simulator.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Transport {
    Plain,
    Tls12,
}

fn main() {
    let cli = Cli::parse();
    match cli.command {
        Cmd::Submit {
            windows,
            count_window1,
            count,
            repeat,
            transports,
        } => submit(&windows, count_window1, count, repeat, &transports),
        Cmd::Client {
            client,
            addr,
            transport,
            window,
            count,
        } => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("runtime");
            let stats = rt.block_on(async {
                // On a worker thread, not in block_on: the main thread is not a worker, and a
                // driver loop there pays a cross-thread wake-up per message (smpp34's
                // senders are spawned tasks too).
                let run = async {
                    let task = match client {
                        Impl::Smppd => tokio::spawn(clients::smppd(addr, transport, window, count)),
                        Impl::Smpp34 => {
                            tokio::spawn(clients::smpp34(addr, transport, window, count))
                        }
                    };
                    task.await.expect("client task")
                };
                tokio::time::timeout(RUN_LIMIT, run)
                    .await
                    .expect("client run exceeded its time limit")
            });
            println!("{}", stats.to_line());
        }
        Cmd::Idle { channels } => idle::run(channels),
        Cmd::Http(args) => http::run(args),
        Cmd::HttpFloor(args) => http_floor::run(args),
        Cmd::HttpFloorServer => http_floor::serve(),
        Cmd::Backlog(args) => backlog::run(args),
        Cmd::Store(args) => store::run(args),
        Cmd::Soak(args) => soak::run(args),
        Cmd::SmppServer(args) => smpp_server::run(args),
        Cmd::SmppStorm(args) => smpp_storm::run(args),
    }
}

/// The smppd binary next to this example (`target/release/examples/load` -> `target/release/smppd`).
/// `smppd run --config CONFIG` with JSON logs on a pipe, once it logged `started`: the
/// process, the log lines still to read, the HTTP API's address, and whether a channel
/// already logged `bound` (it may bind before `started` is written).
fn start_daemon(
    config: &std::path::Path,
    stderr: Stdio,
) -> (
    Child,
    std::io::Lines<BufReader<std::process::ChildStdout>>,
    String,
    bool,
) {
    let mut child = Command::new(smppd_binary())
        .args(["run", "--log-format", "json", "--config"])
        .arg(config)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .expect("spawn smppd run");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let mut bound = false;
    loop {
        let Some(Ok(line)) = lines.next() else {
            let _ = child.kill();
            let _ = child.wait();
            panic!("smppd run exited before it started");
        };
        let event: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        bound |= event["event"] == "bound";
        if event["event"] == "started" {
            let api = event["api"].as_str().expect("api address").to_owned();
            return (child, lines, api, bound);
        }
    }
}

fn smppd_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe.parent().and_then(|d| d.parent()).expect("target dir");
    let bin = dir.join("smppd");
    assert!(
        bin.exists(),
        "{} not found: run `cargo build --release` first",
        bin.display()
    );
    bin
}

/// The repository root (for certs/dev), from the build-time manifest directory.
fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A `smppd simulate --quiet` child process; killed when dropped.
struct SimProcess {
    child: Child,
    addr: SocketAddr,
}

impl SimProcess {
    fn start(tls: bool) -> SimProcess {
        SimProcess::spawn(tls, 0)
    }

    /// A plain-TCP simulator on `port` of 127.0.0.1 (`load backlog`: where a channel already
    /// tries to connect).
    fn start_on(port: u16) -> SimProcess {
        SimProcess::spawn(false, port)
    }

    /// The simulator on 127.0.0.1:`port` (0: a free port).
    fn spawn(tls: bool, port: u16) -> SimProcess {
        let mut cmd = Command::new(smppd_binary());
        cmd.args(["simulate", "--quiet", "--listen"])
            .arg(format!("127.0.0.1:{port}"))
            .env("SMPPD_SIM_ACCOUNTS", format!("{SYSTEM_ID}:{PASSWORD}"))
            .stdout(Stdio::piped());
        if tls {
            let certs = repo().join("certs/dev");
            cmd.arg("--tls-cert")
                .arg(certs.join("server-chain.pem"))
                .arg("--tls-key")
                .arg(certs.join("server.key"))
                .args(["--tls-version", "1.2"]);
        }
        let mut child = cmd.spawn().expect("spawn smppd simulate");
        let mut first = String::new();
        BufReader::new(child.stdout.as_mut().expect("stdout"))
            .read_line(&mut first)
            .expect("simulator output");
        let addr = first
            .split_whitespace()
            .nth(1)
            .and_then(|a| a.parse().ok())
            .unwrap_or_else(|| panic!("no address in {first:?}"));
        SimProcess { child, addr }
    }

    fn cpu_ticks(&self) -> u64 {
        stats::cpu_ticks_of(self.child.id())
    }
}

impl Drop for SimProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn submit(windows: &[usize], count_w1: u64, count: u64, repeat: usize, transports: &[Transport]) {
    let exe = std::env::current_exe().expect("current exe");
    for &transport in transports {
        let sim = SimProcess::start(transport == Transport::Tls12);
        println!(
            "\n### submit_sm round trips, {} (simulator {}, {} runs per cell, medians)\n",
            match transport {
                Transport::Plain => "plain TCP",
                Transport::Tls12 => "TLS 1.2",
            },
            sim.addr,
            repeat
        );
        println!("| window | messages | client | msg/s | p50 µs | p99 µs | client CPU µs/msg | simulator CPU µs/msg | client peak RSS MiB |");
        println!("|---:|---:|---|---:|---:|---:|---:|---:|---:|");
        let mut ratios = Vec::new();
        for &window in windows {
            let n = if window <= 1 { count_w1 } else { count };
            // The clients' runs alternate (smppd, smpp34, smppd, ...): on a machine whose
            // load drifts, both then see the same spells.
            let mut runs: [Vec<Stats>; 2] = [Vec::new(), Vec::new()];
            for _ in 0..repeat {
                for (i, client) in [Impl::Smppd, Impl::Smpp34].into_iter().enumerate() {
                    runs[i].push(client_run(&exe, &sim, client, transport, window, n));
                }
            }
            let mut cells = Vec::new();
            for (client, runs) in [Impl::Smppd, Impl::Smpp34].into_iter().zip(&runs) {
                let rate = median(runs.iter().map(|s| s.rate()).collect());
                let p50 = median(runs.iter().map(|s| s.p50_us as f64).collect());
                let p99 = median(runs.iter().map(|s| s.p99_us as f64).collect());
                let cpu = median(runs.iter().map(|s| s.cpu_us_per_msg()).collect());
                let sim_cpu = median(runs.iter().map(|s| s.sim_us_per_msg()).collect());
                let peak = median(runs.iter().map(|s| s.peak_kib as f64 / 1024.0).collect());
                let errors: u64 = runs.iter().map(|s| s.errors).sum();
                let spread = {
                    let rates: Vec<f64> = runs.iter().map(|s| s.rate()).collect();
                    let lo = rates.iter().cloned().fold(f64::MAX, f64::min);
                    let hi = rates.iter().cloned().fold(0.0, f64::max);
                    format!("{lo:.0}–{hi:.0}")
                };
                println!(
                    "| {window} | {n} | {client:?} | {rate:.0} ({spread}) | {p50:.0} | {p99:.0} | {cpu:.2} | {sim_cpu:.2} | {peak:.1} |{}",
                    if errors > 0 { format!(" {errors} errors") } else { String::new() }
                );
                cells.push((rate, cpu));
            }
            ratios.push((window, cells[0].0 / cells[1].0, cells[0].1 / cells[1].1));
        }
        println!("\n| window | throughput smppd/smpp34 | CPU per msg smppd/smpp34 |");
        println!("|---:|---:|---:|");
        for (window, t, c) in ratios {
            println!("| {window} | {t:.2}× | {c:.2}× |");
        }
    }
    println!(
        "\nReproduce: `cargo build --release && target/release/examples/load submit --windows {} --count-window1 {count_w1} --count {count} --repeat {repeat} --transports {}`",
        windows.iter().map(|w| w.to_string()).collect::<Vec<_>>().join(","),
        transports
            .iter()
            .map(|t| format!("{t:?}").to_lowercase())
            .collect::<Vec<_>>()
            .join(",")
    );
}

/// One `load client` process against `sim`: its result line, with the simulator's CPU over
/// the run.
fn client_run(
    exe: &std::path::Path,
    sim: &SimProcess,
    client: Impl,
    transport: Transport,
    window: usize,
    n: u64,
) -> Stats {
    let sim_before = sim.cpu_ticks();
    let mut cmd = Command::new(exe);
    cmd.args(["client", "--client"])
        .arg(format!("{client:?}").to_lowercase())
        .arg("--addr")
        .arg(sim.addr.to_string())
        .arg("--transport")
        .arg(match transport {
            Transport::Plain => "plain",
            Transport::Tls12 => "tls12",
        })
        .arg("--window")
        .arg(window.to_string())
        .arg("--count")
        .arg(n.to_string())
        // Both clients trust the dev CA through the system store variable.
        .env("SSL_CERT_FILE", repo().join("certs/dev/ca.pem"));
    let out = cmd.output().expect("client process");
    assert!(
        out.status.success(),
        "client failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text
        .lines()
        .find(|l| l.starts_with("RESULT"))
        .unwrap_or_else(|| panic!("no RESULT in {text}"));
    let mut stats = Stats::from_line(line);
    stats.sim_ticks = sim.cpu_ticks() - sim_before;
    stats
}

mod clients {
    //! The two clients under test, each as fast as its API allows with `window` requests
    //! outstanding (a closed loop: a new submit only when a response frees a slot).

    use super::*;
    use smppd::codec::pdu::SubmitSm;
    use smppd::codec::{COctetString, ShortMessage};
    use smppd::secret::Secret;
    use smppd::session::{OutboundMessage, SessionParams, SubmitOutcome};
    use smppd::supervisor::{spawn, Backoff, ChannelFailure, ChannelIo, ChannelState};
    use smppd::transport::{Connector, Timeouts, TlsOptions, TlsSettings, TlsVersion};
    use tokio::sync::mpsc;

    /// The same message for both clients: 17 bytes of text between two short numbers.
    const TEXT: &[u8] = b"perf test message";
    const SOURCE: &str = "12345";
    const DESTINATION: &str = "31600000000";

    fn tls_settings(transport: Transport) -> TlsSettings {
        match transport {
            Transport::Plain => TlsSettings::Off,
            // The dev CA comes in through SSL_CERT_FILE, as for smpp34, which verifies too.
            Transport::Tls12 => TlsSettings::Single {
                options: TlsOptions {
                    version: TlsVersion::V1_2,
                    server_name: None,
                    trust_all: false,
                },
                keystore: None,
            },
        }
    }

    /// A smppd channel (supervisor + session driver, as the daemon runs it), rate cap off.
    pub async fn smppd(addr: SocketAddr, transport: Transport, window: usize, count: u64) -> Stats {
        let connector = Arc::new(Connector::new(&tls_settings(transport)).expect("connector"));
        let host = addr.ip().to_string();
        let port = addr.port();
        let connect = move || {
            let connector = connector.clone();
            let host = host.clone();
            async move {
                connector
                    .connect(&host, port, Timeouts::default())
                    .await
                    .map(|c| c.stream)
                    .map_err(ChannelFailure::Connect)
            }
        };
        let params = SessionParams::new(SYSTEM_ID, Secret::new(PASSWORD))
            .expect("params")
            .with_window_size(window)
            .expect("window")
            .with_max_rate(0);
        let (queue, queue_rx) = mpsc::channel(window.max(1));
        let (events, mut outcomes) = mpsc::unbounded_channel();
        let handle = spawn(
            "load",
            params,
            Backoff::try_new(10).expect("backoff"),
            connect,
            ChannelIo {
                queue: queue_rx,
                events,
                gate: smppd::session::SendGate::always(),
                record: None,
            },
        );
        let mut status = handle.status.clone();
        status
            .wait_for(|s| s.state == ChannelState::Bound)
            .await
            .expect("bound");

        let template = SubmitSm {
            source_addr: COctetString::new(SOURCE.as_bytes()).expect("source"),
            destination_addr: COctetString::new(DESTINATION.as_bytes()).expect("destination"),
            short_message: ShortMessage::new(TEXT.to_vec()).expect("text"),
            ..Default::default()
        };
        let mut sent_at = Vec::with_capacity(count as usize);
        let mut latencies = Vec::with_capacity(count as usize);
        let mut errors = 0;
        let cpu0 = cpu_ticks();
        let start = Instant::now();
        let mut outstanding = 0usize;
        let mut next = 0u64;
        while (latencies.len() as u64) < count {
            while outstanding < window && next < count {
                sent_at.push(Instant::now());
                let message = OutboundMessage::new(next, template.clone());
                queue.send(message).await.expect("queue");
                next += 1;
                outstanding += 1;
            }
            let outcome = match outcomes.recv().await.expect("outcome") {
                smppd::session::SessionEvent::Outcome(o) => o,
                smppd::session::SessionEvent::Inbound(i) => {
                    i.accept();
                    continue;
                }
            };
            let id = match &outcome {
                SubmitOutcome::Accepted { message, .. } => message.id,
                SubmitOutcome::Failed { message, .. } => {
                    errors += 1;
                    message.id
                }
            };
            latencies.push(sent_at[id as usize].elapsed().as_micros() as u32);
            outstanding -= 1;
        }
        let elapsed = start.elapsed();
        let cpu = cpu_ticks() - cpu0;
        drop(queue);
        let _ = handle.stop().await;
        Stats::new(count, elapsed, cpu, latencies, errors)
    }

    /// smpp34's client: `window` tasks, each sending its next submit_sm as soon as the last
    /// one was answered (the pattern of smpp34's own `perf_esme` example).
    pub async fn smpp34(
        addr: SocketAddr,
        transport: Transport,
        window: usize,
        count: u64,
    ) -> Stats {
        use smpp34::client::{SmppClient, SmppClientListener, BIND_TYPE, SMSC};
        use tokio::sync::{oneshot, Mutex};

        struct Binder {
            tx: Mutex<Option<oneshot::Sender<Arc<SMSC>>>>,
        }
        #[async_trait::async_trait]
        impl SmppClientListener for Binder {
            async fn on_smsc_bound(&self, smsc: SMSC, _session_id: &String) {
                if let Some(tx) = self.tx.lock().await.take() {
                    let _ = tx.send(Arc::new(smsc));
                }
            }
        }

        let (tx, rx) = oneshot::channel();
        let binder = Arc::new(Binder {
            tx: Mutex::new(Some(tx)),
        });
        let mut client = SmppClient::new(
            addr.ip().to_string(),
            addr.port(),
            transport == Transport::Tls12,
            BIND_TYPE::TRX,
            SYSTEM_ID.to_string(),
            PASSWORD.to_string(),
            String::new(),
            0,
            0,
            String::new(),
            binder,
            window,
        );
        client.start().await;
        let smsc = rx.await.expect("smpp34 never bound");

        let remaining = Arc::new(AtomicU64::new(count));
        let errors = Arc::new(AtomicU64::new(0));
        let cpu0 = cpu_ticks();
        let start = Instant::now();
        let mut tasks = Vec::with_capacity(window);
        for _ in 0..window {
            let smsc = smsc.clone();
            let remaining = remaining.clone();
            let errors = errors.clone();
            tasks.push(tokio::spawn(async move {
                let mut latencies = Vec::new();
                while remaining
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |x| x.checked_sub(1))
                    .is_ok()
                {
                    let t = Instant::now();
                    let ok = smsc
                        .submit_sm()
                        .source_addr(SOURCE)
                        .destination_addr(DESTINATION)
                        .short_message(TEXT)
                        .send()
                        .await
                        .map(|r| r.is_success())
                        .unwrap_or(false);
                    if !ok {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                    latencies.push(t.elapsed().as_micros() as u32);
                }
                latencies
            }));
        }
        let mut latencies = Vec::with_capacity(count as usize);
        for t in tasks {
            latencies.extend(t.await.expect("task"));
        }
        let elapsed = start.elapsed();
        let cpu = cpu_ticks() - cpu0;
        client.stop().await;
        Stats::new(
            count,
            elapsed,
            cpu,
            latencies,
            errors.load(Ordering::Relaxed),
        )
    }
}

mod idle {
    //! Resident memory of many idle bound channels in one process.

    use super::*;
    use smppd::secret::Secret;
    use smppd::session::SessionParams;
    use smppd::supervisor::{spawn, Backoff, ChannelFailure, ChannelIo, ChannelState};
    use smppd::transport::{Connector, Timeouts, TlsSettings};
    use tokio::sync::mpsc;

    pub fn run(channels: usize) {
        let sim = SimProcess::start(false);
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let (before, after) = rt.block_on(async {
            let connector = Arc::new(Connector::new(&TlsSettings::Off).expect("connector"));
            // Warm the allocator and runtime with one channel so the baseline is not the
            // cost of the first one.
            tokio::time::sleep(Duration::from_millis(200)).await;
            let before = rss_kib(std::process::id());
            let mut handles = Vec::with_capacity(channels);
            let mut keep = Vec::with_capacity(channels);
            for i in 0..channels {
                let connector = connector.clone();
                let port = sim.addr.port();
                let connect = move || {
                    let connector = connector.clone();
                    async move {
                        connector
                            .connect("127.0.0.1", port, Timeouts::default())
                            .await
                            .map(|c| c.stream)
                            .map_err(ChannelFailure::Connect)
                    }
                };
                let params = SessionParams::new(SYSTEM_ID, Secret::new(PASSWORD))
                    .expect("params")
                    .with_window_size(100)
                    .expect("window");
                // The daemon's queue per channel holds up to the window; idle, it is empty.
                let (queue, queue_rx) = mpsc::channel(100);
                let (events, events_rx) = mpsc::unbounded_channel();
                handles.push(spawn(
                    format!("idle-{i}"),
                    params,
                    Backoff::try_new(10).expect("backoff"),
                    connect,
                    ChannelIo {
                        queue: queue_rx,
                        events,
                        gate: smppd::session::SendGate::always(),
                        record: None,
                    },
                ));
                keep.push((queue, events_rx));
            }
            for h in &handles {
                let mut status = h.status.clone();
                tokio::time::timeout(
                    Duration::from_secs(60),
                    status.wait_for(|s| s.state == ChannelState::Bound),
                )
                .await
                .expect("bind within 60 s")
                .expect("bound");
            }
            // Let buffers from the bind exchange settle before reading the idle figure.
            tokio::time::sleep(Duration::from_secs(2)).await;
            let after = rss_kib(std::process::id());
            for h in handles {
                let _ = h.stop().await;
            }
            drop(keep);
            (before, after)
        });
        let per = (after.saturating_sub(before)) as f64 / channels as f64;
        println!("\n### Idle bound channels (plain TCP, one process)\n");
        println!("| channels | VmRSS before KiB | VmRSS bound KiB | KiB per channel |");
        println!("|---:|---:|---:|---:|");
        println!("| {channels} | {before} | {after} | {per:.1} |");
        println!(
            "\nReproduce: `cargo build --release && target/release/examples/load idle --channels {channels}`"
        );
    }
}
