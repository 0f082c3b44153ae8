//! `load http --backend ...`: `smppd run` end to end on SQLite or PostgreSQL, with one or
//! several nodes. Each configuration gets a fresh simulator and fresh daemons: on SQLite one
//! node with a store file in a temporary directory; on PostgreSQL `--nodes N` processes with
//! distinct `node-name`s sharing a schema created for the run (the connection's
//! `search_path`) and dropped after it, and one channel with `x-smpp-sessions = N`, so that
//! each node holds one session slot and binds. Requests go round robin over the nodes' APIs;
//! the acknowledged count and the CPU time are summed over the nodes. With PostgreSQL the
//! CPU of the server's processes is read from `/proc` too: the backends of the daemons'
//! connections (found by their `application_name`), and the server's WAL writer,
//! checkpointer and background writer (shared with whatever else the server serves).

use std::collections::HashMap;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::ValueEnum;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;

use crate::http::{post_all, HttpArgs, HttpClient, Mode, ModeResult};
use crate::stats::{cpu_ticks_of, peak_rss_kib, percentile, TICKS_PER_SECOND};
use crate::{start_daemon, SimProcess, PASSWORD, SYSTEM_ID};

/// `load http --backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Backend {
    Sqlite,
    Postgres,
    /// SQLite (one node) and then PostgreSQL with each of `--nodes`, in one run.
    Both,
}

/// The whole measurement may not take longer than this per mode.
const MODE_LIMIT: Duration = Duration::from_secs(240);
/// How long the nodes may take to share the slots out and bind.
const BIND_LIMIT: Duration = Duration::from_secs(60);

/// One configuration to measure.
#[derive(Debug, Clone, Copy)]
enum Setup {
    Sqlite,
    Postgres { nodes: usize },
}

impl Setup {
    fn name(self) -> String {
        match self {
            Setup::Sqlite => "SQLite, 1 node".into(),
            Setup::Postgres { nodes: 1 } => "PostgreSQL, 1 node".into(),
            Setup::Postgres { nodes } => format!("PostgreSQL, {nodes} nodes"),
        }
    }
}

pub fn run(args: &HttpArgs, backend: Backend) {
    let mut setups = Vec::new();
    if matches!(backend, Backend::Sqlite | Backend::Both) {
        setups.push(Setup::Sqlite);
    }
    if matches!(backend, Backend::Postgres | Backend::Both) {
        setups.extend(args.nodes.iter().map(|&nodes| Setup::Postgres { nodes }));
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    println!("\n### HTTP API end to end, SQLite and PostgreSQL (`smppd run`, one plain-TCP channel, window 1000, rate 0)\n");
    println!("| store | endpoint | messages | concurrency | accepted msg/s | acknowledged msg/s | refused | request p50 / p99 ms | daemon CPU µs/msg | simulator CPU µs/msg | PostgreSQL backends CPU µs/msg | PostgreSQL WAL writer etc. µs/msg | daemon peak RSS MiB (largest node) | store calls per commit |");
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for _ in 0..args.repeat.max(1) {
        for &setup in &setups {
            measure(&rt, args, setup);
        }
    }
    println!(
        "\nReproduce: `cargo build --release --bin smppd --example load && target/release/examples/load http --backend {} --url {} --nodes {} --repeat {} --count {} --concurrency {} --batch-concurrency {} --modes {}`",
        format!("{backend:?}").to_lowercase(),
        args.url,
        args.nodes
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(","),
        args.repeat,
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

/// The daemons of one configuration.
struct Nodes {
    children: Vec<Child>,
    apis: Vec<String>,
    /// The run's schema and the application name of its connections (PostgreSQL).
    schema: Option<(String, String)>,
    dir: std::path::PathBuf,
}

impl Drop for Nodes {
    fn drop(&mut self) {
        for child in &mut self.children {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn measure(rt: &tokio::runtime::Runtime, args: &HttpArgs, setup: Setup) {
    let sim = SimProcess::start(false);
    let tag = format!("{}_{}", std::process::id(), next_run());
    let dir = std::env::temp_dir().join(format!("smppd-load-nodes-{tag}"));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let channel = format!(
        "[channel-load]\nx-smpp-host = \"127.0.0.1\"\nx-smpp-port = {}\n\
         x-smpp-system-id = \"{SYSTEM_ID}\"\npassword = \"{PASSWORD}\"\n\
         x-smpp-submit-window-size = 1000\nx-smpp-submit-max-rate = 0\n",
        sim.addr.port()
    );
    let http = "[http]\nlisten = \"127.0.0.1:0\"\nfinished-retention = 60\n";
    let mut nodes = Nodes {
        children: Vec::new(),
        apis: Vec::new(),
        schema: None,
        dir: dir.clone(),
    };
    let count = match setup {
        Setup::Sqlite => 1,
        Setup::Postgres { nodes } => nodes.max(1),
    };
    let url = if let Setup::Postgres { .. } = setup {
        let schema = format!("smppd_load_{tag}");
        let application = format!("smppd-load-{tag}");
        rt.block_on(admin(&args.url, &format!("CREATE SCHEMA {schema}")));
        nodes.schema = Some((schema.clone(), application.clone()));
        let sep = if args.url.contains('?') { '&' } else { '?' };
        Some(format!(
            "{}{sep}options=-c%20search_path%3D{schema}&application_name={application}",
            args.url
        ))
    } else {
        None
    };
    for k in 0..count {
        let config = dir.join(format!("node{k}.toml"));
        let store = match &url {
            None => "[store]\npath = \"smppd.db\"\n".to_string(),
            Some(url) => format!(
                "[store]\nbackend = \"postgres\"\nurl = \"{url}\"\nnode-name = \"load-{k}\"\n"
            ),
        };
        std::fs::write(
            &config,
            format!("{channel}x-smpp-sessions = {count}\n{http}{store}"),
        )
        .expect("write config");
        let (child, lines, api, _) = start_daemon(&config, Stdio::null());
        // Keep draining the log so the daemon never blocks on a full pipe.
        std::thread::spawn(move || for _ in lines {});
        nodes.children.push(child);
        nodes.apis.push(api);
    }
    if !rt.block_on(every_node_bound(&nodes.apis)) {
        println!(
            "| {} | the nodes did not all bind within {BIND_LIMIT:?} |",
            setup.name()
        );
    } else {
        for &mode in &args.modes {
            measure_mode(rt, args, setup, &nodes, &sim, mode);
        }
    }
    drop(sim);
    let schema = nodes.schema.take();
    drop(nodes);
    if let Some((schema, _)) = schema {
        rt.block_on(admin(&args.url, &format!("DROP SCHEMA {schema} CASCADE")));
    }
}

fn next_run() -> u64 {
    static RUN: AtomicU64 = AtomicU64::new(0);
    RUN.fetch_add(1, Ordering::Relaxed)
}

fn measure_mode(
    rt: &tokio::runtime::Runtime,
    args: &HttpArgs,
    setup: Setup,
    nodes: &Nodes,
    sim: &SimProcess,
    mode: Mode,
) {
    let concurrency = match mode {
        Mode::Single => args.concurrency,
        Mode::Batch => args.batch_concurrency,
    };
    let daemon_ticks = || -> u64 { nodes.children.iter().map(|c| cpu_ticks_of(c.id())).sum() };
    let server = |rt: &tokio::runtime::Runtime| match &nodes.schema {
        Some((_, application)) => rt.block_on(server_ticks(&args.url, application)),
        None => ServerTicks::default(),
    };
    let client: HttpClient =
        rt.block_on(async { Client::builder(TokioExecutor::new()).build_http() });
    let all_commits = |rt: &tokio::runtime::Runtime| {
        nodes
            .apis
            .iter()
            .map(|api| rt.block_on(commits(&client, api)))
            .fold((0, 0), |a, c| (a.0 + c.0, a.1 + c.1))
    };
    let (d0, s0, p0, c0) = (daemon_ticks(), sim.cpu_ticks(), server(rt), all_commits(rt));
    let r = rt.block_on(async {
        tokio::time::timeout(
            MODE_LIMIT,
            drive(&nodes.apis, mode, args.count, concurrency),
        )
        .await
    });
    let Ok(r) = r else {
        println!(
            "| {} | {mode:?} | {} | timed out after {MODE_LIMIT:?} |",
            setup.name(),
            args.count
        );
        return;
    };
    let (d1, s1, p1, c1) = (daemon_ticks(), sim.cpu_ticks(), server(rt), all_commits(rt));
    let per = |ticks: u64| ticks as f64 / TICKS_PER_SECOND * 1e6 / r.accepted.max(1) as f64;
    let mut latencies = r.latencies_us.clone();
    latencies.sort_unstable();
    let ms = |p: f64| f64::from(percentile(&latencies, p)) / 1000.0;
    let grouped = (c1.1 - c0.1) as f64 / (c1.0 - c0.0).max(1) as f64;
    let (backends, background) = p1.since(&p0);
    let server_cell = |ticks: u64| match nodes.schema {
        Some(_) => format!("{:.1}", per(ticks)),
        None => "—".to_string(),
    };
    let rss = nodes
        .children
        .iter()
        .map(|c| peak_rss_kib(c.id()))
        .max()
        .unwrap_or(0);
    println!(
        "| {} | {} | {} | {} | {:.0} | {:.0} | {} | {:.2} / {:.2} | {:.1} | {:.1} | {} | {} | {:.1} | {:.1} |",
        setup.name(),
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
        server_cell(backends),
        server_cell(background),
        rss as f64 / 1024.0,
        grouped,
    );
}

/// The store's commits and the calls they carried, from `/metrics` (whose samples carry a
/// `node` label on PostgreSQL).
async fn commits(client: &HttpClient, api: &str) -> (u64, u64) {
    let req = hyper::Request::get(format!("http://{api}/metrics"))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let Ok(resp) = client.request(req).await else {
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
            .filter_map(|l| l.strip_prefix(name))
            .filter(|rest| rest.starts_with([' ', '{']))
            .find_map(|rest| rest.rsplit(' ').next()?.trim().parse::<f64>().ok())
            .unwrap_or(0.0) as u64
    };
    (
        value("smppd_store_commits_total"),
        value("smppd_store_grouped_calls_total"),
    )
}

/// Waits until every node holds its share of the channel's slots and is bound there.
async fn every_node_bound(apis: &[String]) -> bool {
    let client: HttpClient = Client::builder(TokioExecutor::new()).build_http();
    let deadline = Instant::now() + BIND_LIMIT;
    while Instant::now() < deadline {
        let mut ready = true;
        for api in apis {
            let channels = get_json(&client, api, "/v1/channels").await;
            let bound = channels["channels"]
                .as_array()
                .is_some_and(|a| a.iter().any(|c| c["bound"] == true));
            let slots = get_json(&client, api, "/v1/cluster").await;
            let node = slots["node"].as_str().unwrap_or_default().to_string();
            let held = slots["slots"].as_array().map_or(0, |a| {
                a.iter().filter(|s| s["node"] == node.as_str()).count()
            });
            ready &= bound && held == 1;
        }
        if ready {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

async fn get_json(client: &HttpClient, api: &str, path: &str) -> Value {
    let req = hyper::Request::get(format!("http://{api}{path}"))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let Ok(resp) = client.request(req).await else {
        return Value::Null;
    };
    let body = resp.into_body().collect().await.map(|b| b.to_bytes());
    body.ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null)
}

/// CPU ticks of the PostgreSQL server's processes, by pid.
#[derive(Debug, Default)]
struct ServerTicks {
    /// The backends serving the run's connections.
    backends: HashMap<u32, u64>,
    /// The WAL writer, checkpointer and background writer.
    background: HashMap<u32, u64>,
}

impl ServerTicks {
    /// The ticks used since `before`, backends and background processes apart. A process
    /// that started since counts whole.
    fn since(&self, before: &ServerTicks) -> (u64, u64) {
        let delta = |now: &HashMap<u32, u64>, then: &HashMap<u32, u64>| -> u64 {
            now.iter()
                .map(|(pid, t)| t.saturating_sub(then.get(pid).copied().unwrap_or(0)))
                .sum()
        };
        (
            delta(&self.backends, &before.backends),
            delta(&self.background, &before.background),
        )
    }
}

/// Reads the server's processes from `pg_stat_activity` and their CPU time from `/proc`
/// (the server runs on this machine).
async fn server_ticks(url: &str, application: &str) -> ServerTicks {
    let Ok((client, connection)) = tokio_postgres::connect(url, tokio_postgres::NoTls).await else {
        return ServerTicks::default();
    };
    let task = tokio::spawn(connection);
    let rows = client
        .query(
            "SELECT pid, application_name = $1 FROM pg_stat_activity
             WHERE application_name = $1
                OR backend_type IN ('walwriter', 'checkpointer', 'background writer')",
            &[&application],
        )
        .await
        .unwrap_or_default();
    drop(client);
    let _ = task.await;
    let mut ticks = ServerTicks::default();
    for row in rows {
        let (Ok(pid), Ok(ours)) = (row.try_get::<_, i32>(0), row.try_get::<_, bool>(1)) else {
            continue;
        };
        let pid = pid.unsigned_abs();
        let map = if ours {
            &mut ticks.backends
        } else {
            &mut ticks.background
        };
        map.insert(pid, cpu_ticks_of(pid));
    }
    ticks
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

/// Sends `count` messages over `concurrency` keep-alive connections, each request to the
/// next of `apis` in turn; then waits until the nodes together acknowledged them.
async fn drive(apis: &[String], mode: Mode, count: u64, concurrency: usize) -> ModeResult {
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(concurrency)
        .build_http();
    // A node that did not answer leaves the sum unknown (`None`), not smaller.
    let acknowledged_all = |client: HttpClient| async move {
        let mut sum = 0;
        for api in apis {
            let channels = get_json(&client, api, "/v1/channels").await;
            let list = channels["channels"].as_array()?;
            sum += list
                .iter()
                .map(|c| c["counters"]["acknowledged"].as_u64().unwrap_or(0))
                .sum::<u64>();
        }
        Some(sum)
    };
    let mut ack0 = None;
    while ack0.is_none() {
        ack0 = acknowledged_all(client.clone()).await;
    }
    let ack0 = ack0.unwrap_or(0);
    let start = Instant::now();
    let posted = post_all(&client, apis, mode, count, concurrency).await;
    let accepted = posted.accepted;
    let mut acked = 0;
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        if let Some(now) = acknowledged_all(client.clone()).await {
            acked = now.saturating_sub(ack0);
        }
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
