//! Several `smppd run` processes sharing one PostgreSQL schema and one in-process simulator:
//! starting them, posting load across their APIs, relating the simulator's connections to
//! the processes that opened them, and the checks every cluster test ends with.
//!
//! The nodes reach PostgreSQL through [`PgProxy`], so a test can make the database
//! unreachable without touching the machine's shared server.

pub use crate::support::pg_proxy::PgProxy;

use crate::support::daemon::{request, texts_at, Daemon, TempDir};
use crate::support::hang_guard::HANG_GUARD;
use crate::support::pg::TestSchema;
use serde_json::{json, Value};
use smppd::simulator::{Account, ConnectionId, Simulator, SimulatorConfig, SimulatorHandle};
use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The `[store] lease-seconds` of every test: short, for speed, above the contract's minimum.
pub const LEASE_SECONDS: u64 = 3;
/// The lease as a duration.
pub const LEASE: Duration = Duration::from_secs(LEASE_SECONDS);
/// The usual `x-smpp-submit-window-size`.
pub const WINDOW: usize = 10;

/// The most messages a node may make the SMSC get twice after it died or lost its slot:
/// its window, which counts a submit until its outcome is recorded (docs/durability.md:
/// Restart).
pub fn resend_bound() -> usize {
    smppd::daemon::channels::resend_bound(WINDOW)
}
/// The channel every node configures.
pub const CHANNEL: &str = "smsc";
/// The simulator account the channel binds as.
pub const SYSTEM_ID: &str = "alpha";

/// The cluster tests run one at a time: each starts several daemons whose lease timing is
/// what they test, on a machine whose cores other work shares too.
pub fn one_at_a_time() -> MutexGuard<'static, ()> {
    static SERIAL: Mutex<()> = Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// What a test's cluster looks like.
#[derive(Debug, Clone)]
pub struct Spec {
    /// How many nodes (named n1, n2, ...).
    pub nodes: usize,
    /// `x-smpp-sessions` of the channel.
    pub sessions: u32,
    /// `x-smpp-submit-max-rate` (0: no cap).
    pub rate: u32,
    /// `x-smpp-submit-window-size`.
    pub window: usize,
    /// How long after a submit_sm_resp the simulator sends the receipt.
    pub receipt_delay: Duration,
}

/// One `smppd run` process.
pub struct Node {
    pub name: String,
    pub daemon: Daemon,
    pub api: SocketAddr,
}

impl Node {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.daemon.child.id()
    }

    /// Log events named `event`, in the order logged.
    pub fn events_named(&self, event: &str) -> Vec<Value> {
        self.daemon
            .events()
            .into_iter()
            .filter(|e| e["event"] == event)
            .collect()
    }
}

/// The processes, the simulator, the database and the directory of one test. Dropping it
/// kills the processes first (also when the test panics), then drops the schema.
pub struct Cluster {
    /// Indexed like the names: `nodes[0]` is n1. `None` while a node is down.
    pub nodes: Vec<Option<Node>>,
    pub proxy: PgProxy,
    pub sim: SimulatorHandle,
    pub schema: TestSchema,
    pub dir: TempDir,
    pub spec: Spec,
    /// Runs the simulator and the proxy; only kept, and dropped last.
    _runtime: tokio::runtime::Runtime,
}

impl Cluster {
    /// Starts the simulator, the proxy and `spec.nodes` nodes; `None` when the PostgreSQL
    /// tests are skipped (see `support::pg`).
    pub fn start(test: &str, spec: Spec) -> Option<Cluster> {
        let schema = TestSchema::create(test)?;
        let mut config = SimulatorConfig::loopback(vec![Account::new(SYSTEM_ID, "pw")]);
        config.receipt_delay = spec.receipt_delay;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(3)
            .enable_all()
            .build()
            .expect("a runtime");
        let (sim, proxy) = runtime.block_on(async {
            let sim = Simulator::start(config).await.unwrap();
            (sim, PgProxy::start(schema.server()).await)
        });
        let dir = TempDir::new("cluster");
        let mut cluster = Cluster {
            nodes: Vec::new(),
            proxy,
            sim,
            schema,
            dir,
            spec: spec.clone(),
            _runtime: runtime,
        };
        for i in 0..spec.nodes {
            let node = cluster.spawn(&format!("n{}", i + 1));
            cluster.nodes.push(Some(node));
        }
        Some(cluster)
    }

    /// The configuration of the node `name`: the same channel and database for every node.
    fn config(&self, name: &str) -> PathBuf {
        let s = &self.spec;
        self.dir.write(
            &format!("{name}.toml"),
            &format!(
                "[channel-{CHANNEL}]\nx-smpp-host = \"127.0.0.1\"\nx-smpp-port = {port}\n\
                 x-smpp-system-id = \"{SYSTEM_ID}\"\npassword = \"pw\"\n\
                 x-smpp-submit-window-size = {window}\nx-smpp-submit-max-rate = {rate}\n\
                 x-smpp-sessions = {sessions}\nreconnection-timeout = 10\n\
                 [http]\nlisten = \"127.0.0.1:0\"\n\
                 [store]\nbackend = \"postgres\"\nurl = \"{url}\"\nnode-name = \"{name}\"\n\
                 lease-seconds = {LEASE_SECONDS}\npool-size = 4\n",
                port = self.sim.local_addr().port(),
                rate = s.rate,
                window = s.window,
                sessions = s.sessions,
                url = self.proxy.url(self.schema.name()),
            ),
        )
    }

    fn spawn(&self, name: &str) -> Node {
        let mut daemon = Daemon::run(&self.config(name));
        // Not `Daemon::api`: a node that refuses its configuration must fail the test at
        // once, with its reason, rather than after the hang guard.
        let deadline = Instant::now() + HANG_GUARD;
        let api = loop {
            if let Some(started) = daemon.events().iter().find(|e| e["event"] == "started") {
                break started["api"].as_str().unwrap().parse().unwrap();
            }
            if let Some(status) = daemon.child.try_wait().unwrap() {
                daemon.wait();
                panic!("{name} exited {status}:\n{}", daemon.all_output());
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not start:\n{}",
                daemon.all_output()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        Node {
            name: name.to_string(),
            daemon,
            api,
        }
    }

    /// Starts node `i` (again), with its name and configuration.
    pub fn restart(&mut self, i: usize) {
        assert!(self.nodes[i].is_none(), "n{} is still running", i + 1);
        let node = self.spawn(&format!("n{}", i + 1));
        self.nodes[i] = Some(node);
    }

    /// Node `i`, which must be running.
    pub fn node(&self, i: usize) -> &Node {
        self.nodes[i]
            .as_ref()
            .unwrap_or_else(|| panic!("n{} is down", i + 1))
    }

    /// The index of the node called `name`.
    pub fn index_of(&self, name: &str) -> usize {
        name.strip_prefix('n')
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|n| (1..=self.nodes.len()).contains(n))
            .map(|n| n - 1)
            .unwrap_or_else(|| panic!("no node is called {name:?}"))
    }

    /// The API addresses of the running nodes.
    pub fn apis(&self) -> Vec<SocketAddr> {
        self.nodes.iter().flatten().map(|n| n.api).collect()
    }

    /// Sends `signal` (KILL, STOP, CONT, TERM) to node `i`.
    pub fn signal(&self, i: usize, signal: &str) {
        self.node(i).daemon.signal(signal);
    }

    /// SIGKILLs node `i` and waits until it is gone (its sockets closed).
    pub fn kill(&mut self, i: usize) -> Node {
        let mut node = self.nodes[i].take().expect("a running node");
        node.daemon.signal("KILL");
        node.daemon.wait();
        node
    }

    /// SIGTERMs every running node and waits for each to exit; they must exit 0.
    pub fn stop_all(&mut self) -> Vec<Node> {
        for node in self.nodes.iter().flatten() {
            node.daemon.signal("TERM");
        }
        let mut stopped = Vec::new();
        for slot in &mut self.nodes {
            if let Some(mut node) = slot.take() {
                let status = node.daemon.wait();
                assert!(
                    status.success(),
                    "{} exited {status}:\n{}",
                    node.name,
                    node.daemon.all_output()
                );
                stopped.push(node);
            }
        }
        stopped
    }

    /// `GET /v1/cluster` from node `i`.
    pub fn view(&self, i: usize) -> Value {
        let (status, body) = get_json(self.node(i).api, "/v1/cluster");
        assert_eq!(status, 200, "GET /v1/cluster on n{}: {body}", i + 1);
        body
    }

    /// The node holding slot `slot`, as node `i` sees it; `None` while it is free.
    pub fn holder(&self, i: usize, slot: u64) -> Option<String> {
        let view = self.view(i);
        view["slots"]
            .as_array()
            .and_then(|slots| slots.iter().find(|s| s["slot"] == slot))
            .and_then(|s| s["node"].as_str())
            .map(str::to_string)
    }

    /// Waits until the channel's `sessions` slots all have a holder that the simulator sees
    /// bound; returns the holders' names as node `i` reports them.
    pub fn wait_all_slots_bound(&self, i: usize) -> Vec<String> {
        let sessions = u64::from(self.spec.sessions);
        poll_until("every slot held and bound", HANG_GUARD, || {
            self.sim.record().sessions_of(SYSTEM_ID).bound == sessions
        });
        poll_until("every slot shown with its holder", HANG_GUARD, || {
            (0..sessions).all(|slot| self.holder(i, slot).is_some())
        });
        (0..sessions)
            .filter_map(|slot| self.holder(i, slot))
            .collect()
    }

    /// The simulator's open connections that node `i`'s process has open: related by the
    /// remote port the simulator recorded and the local port of the process's own sockets.
    pub fn connections_of(&self, i: usize) -> BTreeSet<ConnectionId> {
        let ports = local_ports_to(self.node(i).pid(), self.sim.local_addr().port());
        self.sim
            .record()
            .connections
            .iter()
            .filter(|c| c.open && ports.contains(&c.peer.port()))
            .map(|c| c.id)
            .collect()
    }

    /// Fails unless the simulator never had more than `most` sessions of the account bound.
    pub fn assert_sessions_at_most(&self, most: u64) {
        let count = self.sim.record().sessions_of(SYSTEM_ID);
        assert!(
            count.max_bound <= most,
            "{} sessions of {SYSTEM_ID} were bound at once, more than {most}; connections: {:#?}",
            count.max_bound,
            self.sim.record().connections
        );
    }

    /// Waits until every accepted message has reached the simulator (failing when none
    /// arrives for [`HANG_GUARD`]), then checks that at most `duplicates` were sent again.
    pub fn assert_all_reach_the_smsc(&self, accepted: &[Posted], duplicates: usize) {
        let texts: BTreeSet<&[u8]> = accepted.iter().map(|p| p.text.as_bytes()).collect();
        assert_eq!(texts.len(), accepted.len(), "one text per message");
        poll_progress("every accepted message at the SMSC", texts.len(), || {
            let seen = texts_at(&self.sim);
            texts.iter().filter(|t| seen.contains_key(**t)).count()
        });
        let seen = texts_at(&self.sim);
        let sent_again: BTreeMap<&String, usize> = accepted
            .iter()
            .filter_map(|p| match seen.get(p.text.as_bytes()) {
                Some(n) if *n > 1 => Some((&p.text, n - 1)),
                _ => None,
            })
            .collect();
        let total: usize = sent_again.values().sum();
        assert!(
            total <= duplicates,
            "{total} submit_sm sent again (at most {duplicates} allowed): {sent_again:?}"
        );
    }

    /// Waits until `GET /v1/messages/{id}` on node `i` answers `state` for every message.
    pub fn wait_states(&self, i: usize, accepted: &[Posted], states: &[&str]) {
        let api = self.node(i).api;
        for p in accepted {
            poll_until(
                &format!("message {} {states:?} on n{}", p.id, i + 1),
                HANG_GUARD,
                || {
                    let (status, body) = get_json(api, &format!("/v1/messages/{}", p.id));
                    status == 200 && states.iter().any(|s| body["state"] == *s)
                },
            );
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // A failed test shows what every node logged (the harness prints a failed test's
        // captured output only).
        if std::thread::panicking() {
            for node in self.nodes.iter().flatten() {
                eprintln!("--- {} ---\n{}", node.name, node.daemon.all_output());
            }
        }
    }
}

/// One message a node accepted.
#[derive(Debug, Clone)]
pub struct Posted {
    /// The API's id.
    pub id: String,
    /// Its text, unique in the test, which is how the simulator's record names it.
    pub text: String,
    /// The API it was posted to.
    pub api: SocketAddr,
}

/// The outcome of posting: what was accepted, and the statuses of what was not (0 for no
/// answer at all).
#[derive(Debug, Default)]
pub struct Load {
    pub accepted: Vec<Posted>,
    pub refused: Vec<(u16, String)>,
}

impl Load {
    pub fn absorb(&mut self, other: Load) {
        self.accepted.extend(other.accepted);
        self.refused.extend(other.refused);
    }
}

fn message(text: &str) -> Value {
    json!({"to": "447700900123", "text": text})
}

/// `POST /v1/messages` with `text`, giving up after `timeout`.
pub fn post_one(api: SocketAddr, text: &str, timeout: Duration) -> Load {
    let mut load = Load::default();
    let body = message(text).to_string();
    match request(api, "POST", "/v1/messages", Some(&body), &[], timeout) {
        Ok((202, answer)) => {
            let answer: Value = serde_json::from_str(&answer).unwrap_or(Value::Null);
            let id = answer["id"].as_str().expect("an id in a 202").to_string();
            load.accepted.push(Posted {
                id,
                text: text.to_string(),
                api,
            });
        }
        Ok((status, answer)) => load.refused.push((status, answer)),
        Err(e) => load.refused.push((0, e.to_string())),
    }
    load
}

/// `POST /v1/messages/batch` with `texts`, giving up after `timeout`.
pub fn post_batch(api: SocketAddr, texts: &[String], timeout: Duration) -> Load {
    let mut load = Load::default();
    let body = json!({"messages": texts.iter().map(|t| message(t)).collect::<Vec<_>>()});
    match request(
        api,
        "POST",
        "/v1/messages/batch",
        Some(&body.to_string()),
        &[],
        timeout,
    ) {
        Ok((207, answer)) => {
            let answer: Value = serde_json::from_str(&answer).unwrap_or(Value::Null);
            let results = answer["results"].as_array().cloned().unwrap_or_default();
            assert_eq!(results.len(), texts.len(), "one result per item: {answer}");
            for r in results {
                let index = r["index"].as_u64().expect("an index") as usize;
                match (r["status"].as_u64(), r["id"].as_str()) {
                    (Some(202), Some(id)) => load.accepted.push(Posted {
                        id: id.to_string(),
                        text: texts[index].clone(),
                        api,
                    }),
                    (status, _) => load
                        .refused
                        .push((status.unwrap_or(0) as u16, r.to_string())),
                }
            }
        }
        Ok((status, answer)) => load.refused.push((status, answer)),
        Err(e) => load.refused.push((0, e.to_string())),
    }
    load
}

/// `texts[k]` posted to `apis[k % apis.len()]`, one thread per API: every `single_every`th
/// message of a thread alone, the others in batches of up to `batch`.
pub fn post_spread(
    apis: &[SocketAddr],
    texts: Vec<String>,
    batch: usize,
    single_every: usize,
) -> Load {
    let mut per_api: Vec<Vec<String>> = vec![Vec::new(); apis.len()];
    for (k, text) in texts.into_iter().enumerate() {
        per_api[k % apis.len()].push(text);
    }
    let threads: Vec<_> = apis
        .iter()
        .copied()
        .zip(per_api)
        .map(|(api, texts)| {
            std::thread::spawn(move || {
                let mut load = Load::default();
                let mut pending = Vec::new();
                for (k, text) in texts.into_iter().enumerate() {
                    if k % single_every == 0 {
                        load.absorb(post_one(api, &text, HANG_GUARD));
                    } else {
                        pending.push(text);
                        if pending.len() == batch {
                            load.absorb(post_batch(api, &pending, HANG_GUARD));
                            pending.clear();
                        }
                    }
                }
                if !pending.is_empty() {
                    load.absorb(post_batch(api, &pending, HANG_GUARD));
                }
                load
            })
        })
        .collect();
    let mut load = Load::default();
    for t in threads {
        load.absorb(t.join().expect("a posting thread"));
    }
    load
}

/// Texts `"{tag} {n}"` for `range`.
pub fn texts(tag: &str, range: std::ops::Range<usize>) -> Vec<String> {
    range.map(|n| format!("{tag} {n:05}")).collect()
}

/// `GET path` as JSON (`Null` when the body is not JSON).
pub fn get_json(api: SocketAddr, path: &str) -> (u16, Value) {
    let (status, body) = request(api, "GET", path, None, &[], HANG_GUARD)
        .unwrap_or_else(|e| panic!("GET {path} on {api}: {e}"));
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

/// Polls `done` every 20 ms until it holds; fails the test after `limit`.
pub fn poll_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Polls until `done` holds before `deadline`; says whether it did.
pub fn holds_by(deadline: Instant, mut done: impl FnMut() -> bool) -> bool {
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Polls `count` until it reaches `goal`; fails only when it did not change for
/// [`HANG_GUARD`] (a large load may take long; a stuck one must not be waited for forever).
pub fn poll_progress(what: &str, goal: usize, mut count: impl FnMut() -> usize) {
    let mut last = usize::MAX;
    let mut since = Instant::now();
    loop {
        let n = count();
        if n >= goal {
            return;
        }
        if n != last {
            last = n;
            since = Instant::now();
        }
        assert!(
            since.elapsed() < HANG_GUARD,
            "gave up waiting: {what} (stuck at {n} of {goal} for {HANG_GUARD:?})"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The local ports of `pid`'s TCP connections to `remote_port` (from `/proc`: the socket
/// inodes among its open files, looked up in its network namespace's TCP tables). Works on a
/// stopped process too.
pub fn local_ports_to(pid: u32, remote_port: u16) -> BTreeSet<u16> {
    let inodes: BTreeSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|dir| {
            dir.flatten()
                .filter_map(|e| std::fs::read_link(e.path()).ok())
                .filter_map(|l| {
                    let l = l.to_string_lossy().into_owned();
                    l.strip_prefix("socket:[")
                        .and_then(|s| s.strip_suffix(']'))
                        .map(str::to_string)
                })
                .collect()
        })
        .unwrap_or_default();
    let mut ports = BTreeSet::new();
    for table in ["tcp", "tcp6"] {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/net/{table}")) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let port = |addr: &str| {
                addr.rsplit(':')
                    .next()
                    .and_then(|p| u16::from_str_radix(p, 16).ok())
            };
            if fields.len() > 9
                && port(fields[2]) == Some(remote_port)
                && inodes.contains(fields[9])
            {
                if let Some(local) = port(fields[1]) {
                    ports.insert(local);
                }
            }
        }
    }
    ports
}
