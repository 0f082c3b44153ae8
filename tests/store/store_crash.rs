//! Crash consistency of the SQLite store: "an acknowledged write survives a SIGKILL".
//!
//! A child process (this very test binary, re-executed to run [`child_writer`]) commits in a
//! loop from several concurrent tasks, so that group commit puts several calls in one
//! transaction. It prints a line for a write only after the store's future returned `Ok`:
//!
//! * `ACK <id> <segments>`: `accept` committed the message;
//! * `CLAIM <id>`: `claim` handed it to channel `a`;
//! * `SUB <id> <smsc-id> <segments>`: `apply` recorded every segment as submitted (segment
//!   `i` got `<smsc-id>.<i>`), which also proves the message was accepted (its `ACK` may be
//!   printed later by the task that accepted it, or never if the kill comes first);
//! * `GROUP <calls> <commits>`: the store's group-commit counters.
//!
//! The parent SIGKILLs the child at a random moment, [`ROUNDS`] times, on the same file, and
//! after each kill reopens the store in-process and proves that:
//!
//! * reopening never fails, and the schema is there as soon as anything was acknowledged;
//! * every message ever acknowledged is found, with its segments, queued or submitted;
//! * every acknowledged submission is there: state `submitted`, each segment with its SMSC id;
//! * `apply` is atomic: a message has an SMSC id on all of its segments or on none, and is
//!   `submitted` exactly when it has them all;
//! * recovery queues again what the killed child held (`Recovery::requeued` counts at least
//!   the acknowledged claims still queued, and no more than the queued messages).
//!
//! It also checks that the kills landed while the child was writing (acknowledgements were
//! seen) and that transactions did group several calls.

use smppd::daemon::store::sqlite::latest_schema;
use smppd::daemon::store::sqlite::{SqliteOptions, SqliteStore};
use smppd::daemon::store::{
    segment_key, Accepted, Applied, Change, MessageId, MessageState, NewMessage, Store,
};
use smppd::sms::{Field, Segment};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// How many times the child is killed.
const ROUNDS: usize = 60;
/// The environment variable that turns [`child_writer`] into the writer, naming its file.
const CHILD_ENV: &str = "SMPPD_CRASH_CHILD_DB";
/// Concurrent writer tasks in the child.
const WRITERS: u64 = 4;
/// The longest pause of a writer between two rounds of calls, in milliseconds.
const PAUSE_MS: u64 = 20;
/// The channel that claims and submits.
const CHANNEL: &str = "a";

/// A small deterministic PRNG (splitmix64): no dependency, reproducible from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A number in `low..=high`.
    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}

fn options(path: &Path) -> SqliteOptions {
    SqliteOptions::new(path)
}

// ---------------------------------------------------------------------------------------
// The child: commits forever, acknowledging on stdout only what the store confirmed.
// ---------------------------------------------------------------------------------------

/// A no-op in a normal test run; the writer when the parent starts it with [`CHILD_ENV`].
#[test]
fn child_writer() {
    let Some(path) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("the child's runtime");
    runtime.block_on(write_forever(PathBuf::from(path)));
}

/// Writes one whole line to stdout and flushes it: once it is in the pipe, the parent sees
/// it even if the process is killed right after.
fn say(line: String) {
    let mut out = std::io::stdout().lock();
    out.write_all(line.as_bytes())
        .and_then(|()| out.flush())
        .expect("the parent reads stdout");
}

async fn write_forever(path: PathBuf) {
    // The harness printed `test child_writer ... ` without a newline: end that line.
    say("\n".into());
    let (store, _) = SqliteStore::open(options(&path)).expect("the child opens the store");
    let store = Arc::new(store);
    let pid = u64::from(std::process::id());
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..WRITERS {
        let store = store.clone();
        tasks.spawn(writer(store, pid, task));
    }
    // The writers never end; one that panics (a store error) ends the child, which the
    // parent reports.
    while let Some(done) = tasks.join_next().await {
        if let Err(e) = done {
            std::panic::resume_unwind(e.into_panic());
        }
    }
}

fn new_message(pid: u64, task: u64, n: u64, segments: u64) -> NewMessage {
    NewMessage {
        id: MessageId::generate(),
        channel: CHANNEL.into(),
        pinned: false,
        to: "447700900123".into(),
        from: None,
        delivery_report: true,
        expires_at: SystemTime::now() + Duration::from_secs(24 * 3600),
        send_validity: false,
        encoding: "gsm7",
        data_coding: 0,
        segments: (0..segments)
            .map(|i| Segment {
                bytes: format!("crash {pid} {task} {n} part {i}").into_bytes(),
                field: Field::ShortMessage,
                esm_class: 0,
                data_coding: 0,
                sar: None,
            })
            .collect(),
        idempotency: None,
        origin: None,
    }
}

async fn writer(store: Arc<SqliteStore>, pid: u64, task: u64) {
    let mut rng = Rng(pid.wrapping_mul(0x2545_f491_4f6c_dd1d) ^ task);
    let mut n = 0u64;
    loop {
        let batch: Vec<NewMessage> = (0..rng.between(1, 20))
            .map(|_| {
                n += 1;
                new_message(pid, task, n, rng.between(1, 3))
            })
            .collect();
        let segments: Vec<usize> = batch.iter().map(|m| m.segments.len()).collect();
        let results = store
            .accept(batch, SystemTime::now())
            .await
            .expect("accept");
        for (result, segments) in results.into_iter().zip(segments) {
            match result {
                Ok(Accepted::New(m)) => say(format!("ACK {} {segments}\n", m.id)),
                other => panic!("a new message was not accepted: {other:?}"),
            }
        }
        // Calls first, then commits: both only grow, so this order never shows more calls
        // than transactions carried.
        let gauges = store.gauges();
        let calls = gauges.grouped_calls.load(Ordering::Relaxed);
        let commits = gauges.commits.load(Ordering::Relaxed);
        say(format!("GROUP {calls} {commits}\n"));

        if rng.between(0, 2) == 0 {
            let claimed = store
                .claim(CHANNEL, rng.between(1, 10) as usize, SystemTime::now())
                .await
                .expect("claim");
            for m in &claimed {
                say(format!("CLAIM {}\n", m.id));
            }
            for m in claimed {
                n += 1;
                let smsc = format!("{pid:x}-{task}-{n}");
                // Nothing submitted a segment of it before, so all of them are still to send.
                let changes = m
                    .segments
                    .iter()
                    .map(|(idx, _)| Change::Submitted {
                        key: segment_key(m.seq, *idx),
                        smsc_message_id: format!("{smsc}.{idx}"),
                    })
                    .collect::<Vec<_>>();
                let applied = store
                    .apply(CHANNEL, changes, SystemTime::now())
                    .await
                    .expect("apply");
                match applied.last() {
                    Some(Applied::Done(Some(o))) if o.state == MessageState::Submitted => {}
                    other => panic!("{}: the last segment left it {other:?}", m.id),
                }
                say(format!("SUB {} {smsc} {}\n", m.id, m.segments.len()));
            }
        }
        // A short random pause keeps the number of messages (which every round checks
        // again) moderate; with several writers, commits still overlap.
        tokio::time::sleep(Duration::from_millis(rng.between(0, PAUSE_MS))).await;
    }
}

// ---------------------------------------------------------------------------------------
// The parent: kills, reopens, checks.
// ---------------------------------------------------------------------------------------

/// What the children acknowledged.
#[derive(Default)]
struct Ledger {
    /// Every message acknowledged as accepted (by `ACK` or `SUB`), with its segments.
    accepted: BTreeMap<MessageId, usize>,
    /// Every submitted message, with its SMSC id stem.
    submitted: BTreeMap<MessageId, String>,
    /// The messages the last child claimed.
    claimed_last: BTreeSet<MessageId>,
    /// Whether a transaction was ever seen carrying more than one call.
    grouped: bool,
}

impl Ledger {
    /// Takes in what one child printed (whole lines only: a line cut by the kill is not an
    /// acknowledgement). Returns how many acknowledgements it carried.
    fn record(&mut self, lines: &[String]) -> usize {
        let id = |text: &str| MessageId::parse(text).unwrap_or_else(|| panic!("bad id {text:?}"));
        let mut acks = 0;
        self.claimed_last.clear();
        for line in lines {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["ACK", m, segments] => {
                    self.accept(id(m), segments);
                    acks += 1;
                }
                ["CLAIM", m] => {
                    self.claimed_last.insert(id(m));
                }
                ["SUB", m, smsc, segments] => {
                    self.accept(id(m), segments);
                    assert!(
                        self.submitted.insert(id(m), smsc.to_string()).is_none(),
                        "{m} submitted twice"
                    );
                    acks += 1;
                }
                ["GROUP", calls, commits] => {
                    let calls: u64 = calls.parse().expect("calls");
                    let commits: u64 = commits.parse().expect("commits");
                    self.grouped |= calls > commits;
                }
                _ => assert!(
                    !["ACK", "CLAIM", "SUB", "GROUP"]
                        .iter()
                        .any(|tag| words.contains(tag)),
                    "a mangled line: {line:?}"
                ),
            }
        }
        acks
    }

    fn accept(&mut self, id: MessageId, segments: &str) {
        let segments = segments.parse().expect("segment count");
        let known = *self.accepted.entry(id.clone()).or_insert(segments);
        assert_eq!(known, segments, "{id} acknowledged with different segments");
    }
}

/// Kills the child if the test fails while it runs.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Collects whole lines until the pipe closes (the child died).
fn lines_of(pipe: impl Read + Send + 'static) -> JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut lines = Vec::new();
        loop {
            let mut line = String::new();
            match reader.read_line(&mut line) {
                Ok(0) | Err(_) => return lines,
                Ok(_) if line.ends_with('\n') => lines.push(line),
                // A line the kill cut short.
                Ok(_) => return lines,
            }
        }
    })
}

/// Starts this binary as the writer on `db`.
fn spawn_child(db: &Path) -> Killed {
    let exe = std::env::current_exe().expect("the test binary's path");
    let child = Command::new(exe)
        .args([
            "--exact",
            "store_crash::child_writer",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CHILD_ENV, db)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the child");
    Killed(child)
}

/// Reopens the store after a kill and checks every acknowledged write. Returns how many
/// messages recovery queued again.
async fn verify(round: usize, db: &Path, ledger: &Ledger) -> u64 {
    let (store, recovery) = SqliteStore::open(options(db))
        .unwrap_or_else(|e| panic!("round {round}: reopening after the kill failed: {e}"));
    if !ledger.accepted.is_empty() {
        assert_eq!(
            recovery.schema_found,
            latest_schema(),
            "round {round}: the schema is gone"
        );
    }
    // The reader answers in order: send every query, then collect the answers.
    let queries: Vec<_> = ledger
        .accepted
        .iter()
        .map(|(id, segments)| (id, *segments, store.get(id)))
        .collect();
    let mut requeued_at_least = 0;
    for (id, segments, query) in queries {
        let record = query
            .await
            .unwrap_or_else(|e| panic!("round {round}: get {id}: {e}"))
            .unwrap_or_else(|| panic!("round {round}: acknowledged message {id} is missing"));
        assert_eq!(&record.id, id);
        assert_eq!(
            record.segments.len(),
            segments,
            "round {round}: {id} lost segments"
        );
        let smsc_ids = record
            .segments
            .iter()
            .filter(|s| s.smsc_message_id.is_some())
            .count();
        assert!(
            smsc_ids == 0 || smsc_ids == segments,
            "round {round}: {id} is half submitted: {:?}",
            record.segments
        );
        match record.state {
            MessageState::Queued => assert_eq!(smsc_ids, 0, "round {round}: {id}"),
            // Submitted but killed before saying so is fine: it was not acknowledged.
            MessageState::Submitted => assert_eq!(smsc_ids, segments, "round {round}: {id}"),
            other => panic!("round {round}: {id} is {other:?}; nothing here ends a message"),
        }
        if let Some(smsc) = ledger.submitted.get(id) {
            assert_eq!(
                record.state,
                MessageState::Submitted,
                "round {round}: acknowledged submission of {id} is lost"
            );
            for (i, segment) in record.segments.iter().enumerate() {
                assert_eq!(
                    segment.smsc_message_id.as_deref(),
                    Some(format!("{smsc}.{i}").as_str()),
                    "round {round}: {id} segment {i}"
                );
            }
        }
        // Claimed by the killed child and not submitted: it must have been queued again.
        if ledger.claimed_last.contains(id) && record.state == MessageState::Queued {
            requeued_at_least += 1;
        }
    }
    for id in ledger.submitted.keys() {
        assert!(
            ledger.accepted.contains_key(id),
            "round {round}: {id} was submitted without being acknowledged as accepted"
        );
    }
    let stats = store.stats().await.expect("stats");
    let queued = stats
        .by_state
        .iter()
        .find(|(state, _)| *state == MessageState::Queued)
        .map_or(0, |(_, n)| *n);
    assert!(
        recovery.requeued >= requeued_at_least && recovery.requeued <= queued,
        "round {round}: requeued {} but {requeued_at_least} acknowledged claims are queued \
         and {queued} messages are queued",
        recovery.requeued
    );
    recovery.requeued
}

#[test]
fn acknowledged_writes_survive_sigkill_at_random_moments() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let db = dir.path().join("smppd.db");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("the parent's runtime");
    let seed = u64::from(std::process::id());
    println!("kill times seeded with {seed}");
    let mut rng = Rng(seed);
    let mut ledger = Ledger::default();
    let mut rounds_with_acks = 0;
    let mut requeued = 0;
    let started = Instant::now();

    for round in 0..ROUNDS {
        let mut child = spawn_child(&db);
        let out = lines_of(child.0.stdout.take().expect("stdout"));
        let err = lines_of(child.0.stderr.take().expect("stderr"));
        std::thread::sleep(Duration::from_millis(rng.between(20, 150)));
        if let Some(status) = child.0.try_wait().expect("poll the child") {
            let err = err.join().unwrap_or_default().concat();
            panic!("round {round}: the child stopped by itself ({status}):\n{err}");
        }
        child.0.kill().expect("SIGKILL the child");
        let status = child.0.wait().expect("wait for the child");
        assert_eq!(status.signal(), Some(9), "round {round}: {status}");
        let lines = out.join().expect("the stdout reader");
        drop(err.join());

        if ledger.record(&lines) > 0 {
            rounds_with_acks += 1;
        }
        requeued += runtime.block_on(verify(round, &db, &ledger));
    }

    println!(
        "{ROUNDS} kills in {:.1?}: {rounds_with_acks} while writing, {} messages and {} \
         submissions acknowledged, {requeued} claimed messages queued again",
        started.elapsed(),
        ledger.accepted.len(),
        ledger.submitted.len(),
    );
    assert!(
        rounds_with_acks > 0 && !ledger.submitted.is_empty(),
        "no kill landed while the child was writing: the test proved nothing"
    );
    assert!(
        ledger.grouped,
        "no transaction ever carried more than one call: group commit was not exercised"
    );
}
