//! `load http`: `smppd run` end to end. One plain-TCP channel (window 1000, no rate cap)
//! bound to a `smppd simulate --quiet` process; messages go in through `POST /v1/messages`
//! (one per request, several keep-alive connections) or `POST /v1/messages/batch` (1000 per
//! request). Counted: messages the API accepted, and submit_sm the simulator acknowledged
//! (the channel's `acknowledged` counter from `GET /v1/channels`), per second.
//! `LOAD_DEBUG=1` prints the body of every response that refused something.

use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::{Args, ValueEnum};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::stats::{cpu_ticks, cpu_ticks_of, peak_rss_kib, percentile, TICKS_PER_SECOND};
use crate::{start_daemon, SimProcess, PASSWORD, SYSTEM_ID};

/// Flags of `load http`.
#[derive(Debug, Args)]
pub struct HttpArgs {
    /// Messages per mode.
    #[arg(long, default_value_t = 200_000)]
    pub(crate) count: u64,
    /// Concurrent requests (each on its own keep-alive connection).
    #[arg(long, default_value_t = 32)]
    pub(crate) concurrency: usize,
    /// Concurrent batch requests (1000 messages each; each one commit).
    #[arg(long, default_value_t = 4)]
    pub(crate) batch_concurrency: usize,
    /// Which endpoints to measure.
    #[arg(long, value_delimiter = ',', default_value = "single,batch")]
    pub(crate) modes: Vec<Mode>,
    /// The store: without it, SQLite as above; with it, one row per store and node count
    /// (`both`: SQLite, then PostgreSQL with each of `--nodes`), see `http_nodes`.
    #[arg(long, value_enum)]
    pub(crate) backend: Option<crate::http_nodes::Backend>,
    /// The PostgreSQL database (without a password); each configuration runs in a schema
    /// of its own, dropped after it.
    #[arg(long, default_value = "postgres://postgres@127.0.0.1/test")]
    pub(crate) url: String,
    /// Node counts to measure on PostgreSQL (`smppd run` processes sharing the store).
    #[arg(long, value_delimiter = ',', default_value = "1")]
    pub(crate) nodes: Vec<usize>,
    /// How many times to measure every configuration, alternating them.
    #[arg(long, default_value_t = 1)]
    pub(crate) repeat: usize,
}

/// Which endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// `POST /v1/messages`, one message per request.
    Single,
    /// `POST /v1/messages/batch`, 1000 messages per request.
    Batch,
}

pub(crate) const BATCH: u64 = 1000;
/// The whole measurement may not take longer than this per mode.
const MODE_LIMIT: Duration = Duration::from_secs(180);

pub(crate) type HttpClient =
    Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>;

pub fn run(args: HttpArgs) {
    if let Some(backend) = args.backend {
        return crate::http_nodes::run(&args, backend);
    }
    let sim = SimProcess::start(false);
    let dir = std::env::temp_dir().join(format!("smppd-load-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let config = dir.join("smppd.toml");
    // The store is the real one: every 202 is an fsynced commit, in the temp directory.
    std::fs::write(
        &config,
        format!(
            "[channel-load]\nx-smpp-host = \"127.0.0.1\"\nx-smpp-port = {}\n\
             x-smpp-system-id = \"{SYSTEM_ID}\"\npassword = \"{PASSWORD}\"\n\
             x-smpp-submit-window-size = 1000\nx-smpp-submit-max-rate = 0\n\
             [http]\nlisten = \"127.0.0.1:0\"\nfinished-retention = 60\n\
             [store]\npath = \"smppd.db\"\n",
            sim.addr.port()
        ),
    )
    .expect("write config");
    let (mut daemon, mut lines, api, mut bound) = start_daemon(&config, Stdio::null());
    while !bound {
        let line = lines.next().expect("daemon exited").expect("daemon output");
        let event: Value = serde_json::from_str(&line).unwrap_or(Value::Null);
        bound = event["event"] == "bound";
    }
    // Keep draining the log so the daemon never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    let daemon_pid = daemon.id();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!(
        "\n### HTTP API end to end (`smppd run`, one plain-TCP channel, window 1000, rate 0)\n"
    );
    println!("| endpoint | messages | concurrency | accepted by API msg/s | acknowledged by simulator msg/s | refused | request p50 / p99 ms | daemon CPU µs/msg | simulator CPU µs/msg | load client CPU µs/msg | daemon peak RSS MiB | store calls per commit |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for mode in &args.modes {
        let concurrency = match mode {
            Mode::Single => args.concurrency,
            Mode::Batch => args.batch_concurrency,
        };
        let (d0, s0, l0) = (cpu_ticks_of(daemon_pid), sim.cpu_ticks(), cpu_ticks());
        let c0 = rt.block_on(commits(&api));
        // The timer must be created inside the runtime.
        let r = rt.block_on(async {
            tokio::time::timeout(MODE_LIMIT, drive(&api, *mode, args.count, concurrency)).await
        });
        let Ok(r) = r else {
            println!(
                "| {mode:?} | {} | timed out after {MODE_LIMIT:?} |",
                args.count
            );
            continue;
        };
        let (d1, s1, l1) = (cpu_ticks_of(daemon_pid), sim.cpu_ticks(), cpu_ticks());
        let c1 = rt.block_on(commits(&api));
        let per = |ticks: u64| ticks as f64 / TICKS_PER_SECOND * 1e6 / r.accepted.max(1) as f64;
        let mut latencies = r.latencies_us.clone();
        latencies.sort_unstable();
        let ms = |p: f64| f64::from(percentile(&latencies, p)) / 1000.0;
        let grouped = (c1.1 - c0.1) as f64 / (c1.0 - c0.0).max(1) as f64;
        println!(
            "| {} | {} | {} | {:.0} | {:.0} | {} | {:.2} / {:.2} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |",
            match mode {
                Mode::Single => "POST /v1/messages",
                Mode::Batch => "POST /v1/messages/batch (1000)",
            },
            r.accepted,
            concurrency,
            r.accepted as f64 / r.api_seconds,
            r.acknowledged as f64 / r.e2e_seconds,
            r.refused,
            ms(50.0),
            ms(99.0),
            per(d1 - d0),
            per(s1 - s0),
            per(l1 - l0),
            peak_rss_kib(daemon_pid) as f64 / 1024.0,
            grouped,
        );
    }
    let _ = daemon.kill();
    let _ = daemon.wait();
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "\nReproduce: `cargo build --release && target/release/examples/load http --count {} --concurrency {} --batch-concurrency {} --modes {}`",
        args.count,
        args.concurrency,
        args.batch_concurrency,
        args.modes
            .iter()
            .map(|m| format!("{m:?}").to_lowercase())
            .collect::<Vec<_>>()
            .join(",")
    );
}

pub(crate) struct ModeResult {
    /// Each request's round trip, µs.
    pub(crate) latencies_us: Vec<u32>,
    pub(crate) accepted: u64,
    pub(crate) refused: u64,
    pub(crate) acknowledged: u64,
    pub(crate) api_seconds: f64,
    pub(crate) e2e_seconds: f64,
}

/// The store's commits and the calls they carried, from `/metrics`.
async fn commits(api: &str) -> (u64, u64) {
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let Ok(uri) = format!("http://{api}/metrics").parse::<hyper::Uri>() else {
        return (0, 0);
    };
    let Ok(resp) = client.get(uri).await else {
        return (0, 0);
    };
    let text = resp
        .into_body()
        .collect()
        .await
        .map(|b| String::from_utf8_lossy(&b.to_bytes()).into_owned())
        .unwrap_or_default();
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

/// Sum of every `acknowledged` counter in `GET /v1/channels`.
async fn acknowledged(client: &HttpClient, api: &str) -> u64 {
    let req = hyper::Request::get(format!("http://{api}/v1/channels"))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let Ok(resp) = client.request(req).await else {
        return 0;
    };
    let body = resp.into_body().collect().await.map(|b| b.to_bytes());
    let value: Value = body
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    fn sum(v: &Value) -> u64 {
        match v {
            Value::Object(m) => m
                .iter()
                .map(|(k, v)| {
                    if k == "acknowledged" {
                        v.as_u64().unwrap_or(0)
                    } else {
                        sum(v)
                    }
                })
                .sum(),
            Value::Array(a) => a.iter().map(sum).sum(),
            _ => 0,
        }
    }
    sum(&value)
}

async fn drive(api: &str, mode: Mode, count: u64, concurrency: usize) -> ModeResult {
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(concurrency)
        .build_http();
    let ack0 = acknowledged(&client, api).await;
    let start = Instant::now();
    let posted = post_all(&client, &[api.to_string()], mode, count, concurrency).await;
    let accepted = posted.accepted;
    let mut acked = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        // A failed read counts 0: keep the last good figure rather than wrap around.
        acked = acked.max(acknowledged(&client, api).await.saturating_sub(ack0));
        if acked >= accepted {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    ModeResult {
        latencies_us: posted.latencies_us,
        accepted,
        refused: posted.refused,
        acknowledged: acked,
        api_seconds: posted.api_seconds,
        e2e_seconds: start.elapsed().as_secs_f64(),
    }
}

/// What [`post_all`] counted.
pub(crate) struct Posted {
    pub(crate) accepted: u64,
    pub(crate) refused: u64,
    pub(crate) latencies_us: Vec<u32>,
    pub(crate) api_seconds: f64,
}

/// Posts `count` messages in `mode` over `concurrency` connections, the requests spread
/// round robin over the API addresses `apis`.
pub(crate) async fn post_all(
    client: &HttpClient,
    apis: &[String],
    mode: Mode,
    count: u64,
    concurrency: usize,
) -> Posted {
    let one = r#"{"to":"447700900001","from":"12345","text":"perf test message"}"#;
    let (path, body, per_request) = match mode {
        Mode::Single => ("/v1/messages", Bytes::from(one), 1),
        Mode::Batch => {
            let items = vec![one; BATCH as usize].join(",");
            (
                "/v1/messages/batch",
                Bytes::from(format!("{{\"messages\":[{items}]}}")),
                BATCH,
            )
        }
    };
    let uris: Arc<Vec<String>> = Arc::new(
        apis.iter()
            .map(|api| format!("http://{api}{path}"))
            .collect(),
    );
    let requests = count.div_ceil(per_request);
    let remaining = Arc::new(AtomicU64::new(requests));
    let accepted = Arc::new(AtomicU64::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(std::sync::Mutex::new(Vec::new()));
    let start = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, body, remaining, accepted, refused, latencies, uris) = (
            client.clone(),
            body.clone(),
            remaining.clone(),
            accepted.clone(),
            refused.clone(),
            latencies.clone(),
            uris.clone(),
        );
        tasks.push(tokio::spawn(async move {
            while let Ok(left) =
                remaining.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |x| x.checked_sub(1))
            {
                let uri = &uris[(left % uris.len() as u64) as usize];
                let sent = Instant::now();
                let req = hyper::Request::post(uri)
                    .header("content-type", "application/json")
                    .body(Full::new(body.clone()))
                    .expect("request");
                let Ok(resp) = client.request(req).await else {
                    refused.fetch_add(per_request, Ordering::Relaxed);
                    continue;
                };
                let status = resp.status().as_u16();
                let bytes = resp
                    .into_body()
                    .collect()
                    .await
                    .map(|b| b.to_bytes())
                    .unwrap_or_default();
                let took = sent.elapsed().as_micros().min(u128::from(u32::MAX)) as u32;
                if let Ok(mut l) = latencies.lock() {
                    l.push(took);
                }
                let ok = match mode {
                    Mode::Single => u64::from(status == 202),
                    Mode::Batch => serde_json::from_slice::<Value>(&bytes)
                        .ok()
                        .and_then(|v| v["accepted"].as_u64())
                        .unwrap_or(0),
                };
                if ok < per_request && std::env::var_os("LOAD_DEBUG").is_some() {
                    eprintln!(
                        "refused: {status} {}",
                        String::from_utf8_lossy(&bytes[..bytes.len().min(300)])
                    );
                }
                accepted.fetch_add(ok, Ordering::Relaxed);
                refused.fetch_add(per_request - ok, Ordering::Relaxed);
                if ok < per_request {
                    // A full queue answers at once: give the channel time to drain (about
                    // what it sends in the time a refused batch would take to re-parse),
                    // rather than making the daemon parse items it must refuse again.
                    let pause = if per_request > 1 { 100 } else { 1 };
                    tokio::time::sleep(Duration::from_millis(pause)).await;
                }
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let latencies_us = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    Posted {
        accepted: accepted.load(Ordering::Relaxed),
        refused: refused.load(Ordering::Relaxed),
        latencies_us,
        api_seconds: start.elapsed().as_secs_f64(),
    }
}
