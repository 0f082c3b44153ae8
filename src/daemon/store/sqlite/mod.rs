//! [`SqliteStore`]: the embedded durable store.
//!
//! One file in WAL mode. Three dedicated threads do the disk work, so none of it runs on a
//! tokio worker:
//!
//! * the **writer** takes every write call queued since its last commit (up to
//!   [`MAX_GROUP`]) into one transaction and commits once (group commit): many API requests
//!   and channel reports share one transaction. Should one call fail on its own, the
//!   transaction is rolled back and each call of the group runs in a transaction of its own,
//!   so that only that call fails;
//! * the **syncer** fsyncs the WAL and only then sends the answers of the commits it covers
//!   (`sync.rs`): no caller hears of a commit before it is on disk, and one fsync covers
//!   every commit the writer made while the previous one ran;
//! * the **reader** answers queries from its own read-only connection, which sees every
//!   committed transaction and never waits for the writer.
//!
//! A fourth thread lives only at start: it reads what the writer wants to know of a table
//! that may be large without making the writer wait for it (`write/fresh_ids.rs`).
//!
//! A namespace of its own under `store`, as [`postgres`](super::postgres) is: each backend's
//! [`inspect`] and [`latest_schema`] have the same names.

mod backlog;

mod claims;
mod read;
mod schema;
mod sync;
mod write;

use super::call::{Call, Reply};
use super::{
    Accepted, Applied, Backlog, Change, ClaimedMessage, Fence, LiveCounts, MessageId,
    MessageRecord, NewMessage, OutboxEvent, Ran, Refused, Store, StoreError, StoreFuture,
    StoreStats, StoredPart, Upkeep,
};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};

pub use schema::latest as latest_schema;

/// The most calls one transaction takes.
pub const MAX_GROUP: usize = 512;

/// Prepared statements kept per connection: more than the store has, so none is prepared
/// twice.
const STATEMENT_CACHE: usize = 64;

/// How the store is opened and what it enforces.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// The database file.
    pub path: PathBuf,
    /// `[store] max-queued`: the most messages waiting to be sent.
    pub max_queued: u64,
    /// `[store] receipt-wait`: how long SMSC ids are kept for matching receipts.
    pub receipt_wait: Duration,
    /// `[http] finished-retention`: how long finished messages stay queryable.
    pub finished_retention: Duration,
    /// Whether events are queued for a webhook (`[webhook]` is configured).
    pub events: bool,
    /// `[webhook] max-queued-events`: the most events the outbox holds.
    pub max_outbox: u64,
    /// SQLite's `max_page_count`, to bound the file (tests emulate a full disk with it).
    pub max_page_count: Option<u64>,
}

impl SqliteOptions {
    /// Defaults for a file at `path`.
    pub fn new(path: impl Into<PathBuf>) -> SqliteOptions {
        SqliteOptions {
            path: path.into(),
            max_queued: 1_000_000,
            receipt_wait: Duration::from_secs(72 * 3600),
            finished_retention: Duration::from_secs(3600),
            events: false,
            max_outbox: 10_000,
            max_page_count: None,
        }
    }
}

use super::gauges::{gauge, Gauges};
use super::Recovery;

/// A query for the reader thread.
enum Read {
    Get(MessageId, Reply<Option<MessageRecord>>),
    Parts(Reply<Vec<StoredPart>>),
    Stats(Reply<StoreStats>),
    /// With the depths of the non-empty queues, which the writer counts.
    Backlog(Vec<(String, u64)>, Reply<Backlog>),
    Credits(Reply<Vec<(String, u64)>>),
}

/// The embedded store. Cheap to share (`Arc`); dropping the last handle stops its threads
/// after the calls already queued.
pub struct SqliteStore {
    writes: mpsc::UnboundedSender<Call>,
    reads: mpsc::UnboundedSender<Read>,
    gauges: Arc<Gauges>,
    path: PathBuf,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Milliseconds since the epoch, as stored.
pub(crate) fn ms(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// A stored time back as a `SystemTime`.
pub(crate) fn from_ms(ms: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0))
}

fn open_error(path: &Path, e: impl std::fmt::Display) -> StoreError {
    StoreError::Open {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

/// Creates the file readable by its owner only (it holds message texts and numbers) when
/// it does not exist yet; SQLite gives its WAL and shared-memory files the same mode.
fn create_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// Opens a writing connection with the durability settings.
fn open_writer(options: &SqliteOptions) -> Result<Connection, StoreError> {
    let path = &options.path;
    create_private(path).map_err(|e| open_error(path, e))?;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE
            | OpenFlags::SQLITE_OPEN_NO_MUTEX
            | OpenFlags::SQLITE_OPEN_URI,
    )
    .map_err(|e| open_error(path, e))?;
    // 16 KiB pages for a new file (an existing file keeps its own): a quarter of the pages
    // for the same cache, so fewer B-tree splits, and SQLite's scan of its page-cache hash
    // table at the end of a transaction that split a page (it moves a page out of the way
    // to a temporary number) costs a quarter. Measured: 15% less daemon CPU per drained
    // message (docs/performance.md).
    conn.execute_batch("PRAGMA page_size = 16384;")
        .map_err(|e| open_error(path, e))?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .map_err(|e| open_error(path, e))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(open_error(
            path,
            format!("the file system does not allow WAL mode (journal_mode is {mode})"),
        ));
    }
    conn.execute_batch(
        // NORMAL: a commit returns once written to the WAL; the syncer thread (`sync.rs`)
        // fsyncs the WAL before anyone is answered, so an answer still means on disk, and
        // the writer goes on while the disk works. A 64 MiB page cache keeps the indexes of
        // a large backlog in memory (a bound, not a cost per message); statement journals
        // stay in memory too.
        "PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = OFF;
         PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;",
    )
    .map_err(|e| open_error(path, e))?;
    // Every statement the writer runs stays prepared (rusqlite's default keeps 16).
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    if let Some(pages) = options.max_page_count {
        conn.query_row(&format!("PRAGMA max_page_count = {pages}"), [], |_| Ok(()))
            .map_err(|e| open_error(path, e))?;
    }
    Ok(conn)
}

/// Opens the WAL of the store at `path` for the syncer (creating it, private, if SQLite
/// has not yet: SQLite takes an empty WAL as no WAL). The file stays the same while the
/// writer's connection is open: SQLite rewrites it in place, and removes it only when the
/// last connection closes.
fn open_wal(path: &Path) -> Result<std::fs::File, StoreError> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut wal = path.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        // Never truncated here: it may hold commits a crash left for SQLite to recover.
        .truncate(false)
        .mode(0o600)
        .open(&wal)
        .map_err(|e| open_error(path, format!("cannot open its WAL for syncing: {e}")))
}

/// Opens a read-only connection to a file that exists and is migrated.
pub(crate) fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| open_error(path, e))?;
    conn.execute_batch("PRAGMA busy_timeout = 10000;")
        .map_err(|e| open_error(path, e))?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

impl SqliteStore {
    /// Opens (creating when missing) and migrates the file, queues again what the last run
    /// left handed to channels, and starts the writer and reader threads.
    pub fn open(options: SqliteOptions) -> Result<(SqliteStore, Recovery), StoreError> {
        let path = options.path.clone();
        let mut conn = open_writer(&options)?;
        let schema_found = schema::migrate(&mut conn).map_err(|e| match e {
            schema::MigrateError::TooNew(found) => StoreError::TooNew {
                path: path.display().to_string(),
                found,
                known: schema::latest(),
            },
            schema::MigrateError::Sql(e) => open_error(&path, e),
        })?;
        let gauges = Arc::new(Gauges::default());
        let wal = open_wal(&path)?;
        let (sync_tx, sync_rx) = std::sync::mpsc::channel();
        let progress = Arc::new(sync::Progress::default());
        let (writes, write_rx) = mpsc::unbounded_channel();
        let (reads, read_rx) = mpsc::unbounded_channel();
        // The writer borrows its connection for its prepared statements, so the thread that
        // owns the connection builds it, and says how that went before running it.
        let (ready, started) = std::sync::mpsc::channel();
        let writer_options = options.clone();
        let writer_gauges = gauges.clone();
        let writer_progress = progress.clone();
        std::thread::Builder::new()
            .name("smppd-store-writer".into())
            .spawn(move || {
                let sync = (sync_tx, writer_progress);
                match write::Writer::new(&conn, writer_options, writer_gauges, sync) {
                    Ok((writer, requeued)) => {
                        let _ = ready.send(Ok(requeued));
                        writer.run(write_rx);
                    }
                    Err(e) => {
                        let _ = ready.send(Err(e));
                    }
                }
            })
            .map_err(|e| open_error(&path, e))?;
        let requeued = started
            .recv()
            .map_err(|_| open_error(&path, "the writer thread ended before it started"))?
            .map_err(|e| open_error(&path, e))?;
        let syncer = sync::Syncer::new(wal, gauges.clone(), progress);
        let reader = read::Reader::new(open_reader(&path)?, path.clone());
        std::thread::Builder::new()
            .name("smppd-store-sync".into())
            .spawn(move || syncer.run(sync_rx))
            .map_err(|e| open_error(&path, e))?;
        std::thread::Builder::new()
            .name("smppd-store-reader".into())
            .spawn(move || reader.run(read_rx))
            .map_err(|e| open_error(&path, e))?;
        Ok((
            SqliteStore {
                writes,
                reads,
                gauges,
                path,
            },
            Recovery {
                schema_found,
                requeued,
            },
        ))
    }

    /// The live counts.
    pub fn gauges(&self) -> &Arc<Gauges> {
        &self.gauges
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn write<T: Send + 'static>(&self, make: impl FnOnce(Reply<T>) -> Call) -> StoreFuture<'_, T> {
        let (tx, rx) = oneshot::channel();
        let sent = self.writes.send(make(tx)).is_ok();
        Box::pin(async move {
            if !sent {
                return Err(StoreError::Closed);
            }
            rx.await.unwrap_or(Err(StoreError::Closed))
        })
    }

    fn read<T: Send + 'static>(&self, make: impl FnOnce(Reply<T>) -> Read) -> StoreFuture<'_, T> {
        let (tx, rx) = oneshot::channel();
        let sent = self.reads.send(make(tx)).is_ok();
        Box::pin(async move {
            if !sent {
                return Err(StoreError::Closed);
            }
            rx.await.unwrap_or(Err(StoreError::Closed))
        })
    }
}

impl Store for SqliteStore {
    fn accept(
        &self,
        messages: Vec<NewMessage>,
        now: SystemTime,
    ) -> StoreFuture<'_, Vec<Result<Accepted, Refused>>> {
        self.write(|r| Call::Accept(messages, now, r))
    }

    fn claim_with(
        &self,
        fence: &Fence,
        also: Vec<String>,
        limit: usize,
        now: SystemTime,
    ) -> StoreFuture<'_, Vec<ClaimedMessage>> {
        let fence = fence.clone();
        self.write(|r| Call::Claim(fence, also, limit, now, r))
    }

    fn release_for(&self, fence: Option<&Fence>, seqs: Vec<(i64, bool)>) -> StoreFuture<'_, ()> {
        let fence = fence.cloned();
        self.write(|r| Call::Release(fence, seqs, r))
    }

    fn apply_for(
        &self,
        fence: &Fence,
        changes: Vec<Change>,
        now: SystemTime,
    ) -> StoreFuture<'_, Vec<Applied>> {
        let fence = fence.clone();
        self.write(|r| Call::Apply(fence, changes, now, r, None))
    }

    fn apply_ordered(
        &self,
        fence: &Fence,
        changes: Vec<Change>,
        now: SystemTime,
    ) -> (Ran, StoreFuture<'_, Vec<Applied>>) {
        let fence = fence.clone();
        let (tx, ran) = oneshot::channel();
        let durable = self.write(|r| Call::Apply(fence, changes, now, r, Some(tx)));
        (ran, durable)
    }

    fn fail_unconfigured(
        &self,
        configured: Vec<String>,
        reason: &str,
        now: SystemTime,
    ) -> StoreFuture<'_, u64> {
        let reason = reason.to_string();
        self.write(|r| Call::FailUnconfigured(configured, reason, now, r))
    }

    fn get(&self, id: &MessageId) -> StoreFuture<'_, Option<MessageRecord>> {
        let id = id.clone();
        self.read(|r| Read::Get(id, r))
    }

    fn outbox_due(&self, limit: usize, _now: SystemTime) -> StoreFuture<'_, Vec<OutboxEvent>> {
        self.write(|r| Call::OutboxDue(None, limit, r))
    }

    fn outbox_due_for(
        &self,
        user: &str,
        limit: usize,
        _now: SystemTime,
    ) -> StoreFuture<'_, Vec<OutboxEvent>> {
        let user = user.to_string();
        self.write(|r| Call::OutboxDue(Some(user), limit, r))
    }

    fn credits_configure(&self, users: Vec<(String, Option<u64>)>) -> StoreFuture<'_, ()> {
        self.write(|r| Call::Credits(users, r))
    }

    fn credits_add(&self, user: String, add: u64) -> StoreFuture<'_, Option<u64>> {
        self.write(|r| Call::CreditsAdd(user, add, r))
    }

    fn credits(&self) -> StoreFuture<'_, Vec<(String, u64)>> {
        self.read(Read::Credits)
    }

    fn outbox_delivered(&self, seqs: Vec<i64>) -> StoreFuture<'_, ()> {
        self.write(|r| Call::OutboxDelivered(seqs, r))
    }

    fn outbox_retry(&self, seq: i64, due: SystemTime) -> StoreFuture<'_, ()> {
        self.write(|r| Call::OutboxRetry(seq, due, r))
    }

    fn parts(&self) -> StoreFuture<'_, Vec<StoredPart>> {
        self.read(Read::Parts)
    }

    fn upkeep(&self, now: SystemTime) -> StoreFuture<'_, Upkeep> {
        self.write(|r| Call::Upkeep(now, r))
    }

    fn stats(&self) -> StoreFuture<'_, StoreStats> {
        self.read(Read::Stats)
    }

    fn backlog(&self) -> StoreFuture<'_, Backlog> {
        let depths = self
            .gauges
            .depths
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .iter()
            .map(|(queue, depth)| (queue.clone(), *depth))
            .collect();
        let query = self.read(|r| Read::Backlog(depths, r));
        let gauges = self.gauges.clone();
        Box::pin(async move {
            let mut backlog = query.await?;
            backlog.outbox = gauge(&gauges.outbox);
            Ok(backlog)
        })
    }

    fn counts(&self) -> LiveCounts {
        let g = &self.gauges;
        LiveCounts {
            waiting: gauge(&g.waiting),
            outbox: gauge(&g.outbox),
            commits: gauge(&g.commits),
            grouped_calls: gauge(&g.grouped_calls),
            syncs: gauge(&g.syncs),
        }
    }
}

/// Counts of a store file opened read-only, without starting threads (`smppd store
/// inspect`, also while a daemon runs on the file).
pub fn inspect(path: &Path) -> Result<StoreStats, StoreError> {
    if !path.exists() {
        return Err(open_error(path, "no such file"));
    }
    let conn = open_reader(path)?;
    let found: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(|e| open_error(path, e))?;
    if found > schema::latest() {
        return Err(StoreError::TooNew {
            path: path.display().to_string(),
            found,
            known: schema::latest(),
        });
    }
    if found == 0 {
        return Err(open_error(path, "not an smppd store (no schema)"));
    }
    read::stats(&conn, path).map_err(|e| StoreError::Read(e.to_string()))
}

#[cfg(test)]
mod tests;
