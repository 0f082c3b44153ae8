//! [`PgStore`]: the durable store on PostgreSQL, for one node now and several later.
//!
//! The same contract as [`SqliteStore`](super::sqlite::SqliteStore) (see [`super::Store`]): a
//! call returns only after its transaction committed (PostgreSQL's `synchronous_commit`
//! decides what that means on the server; its default waits for the WAL flush). Nothing blocks a tokio
//! worker: the client is asynchronous.
//!
//! * **Writes** go to one task that owns one connection and commits the calls queued since
//!   its last commit as one transaction (group commit, [`write`]); a batch of messages is
//!   one multi-row statement, not a statement per message.
//! * **Queries** run on a small pool of other connections (the `pool` module).
//! * **TLS** (the `tls` module): every connection (writer, readers, leases, `check-config`,
//!   `store inspect`) goes through the one context [`PgOptions::tls`] asks for, verified as
//!   libpq's `sslmode=verify-full`; the URL may not ask for TLS itself (the `url` module).
//! * **Claims** are durable: a claimed message records the node and channel holding it and
//!   when (`claimed_by`, `claimed_on`, `claimed_at`), taken with `FOR UPDATE SKIP LOCKED`,
//!   so that nodes sharing the queue never take the same message and a node's claims can
//!   be returned to the queue. At open, the claims this node (`node_name`) left are
//!   returned as re-sends, as the SQLite store does with its marks.
//!
//! The live counts (and so the `max-queued` check) are what this node's writer committed,
//! read from the database at open and after a reconnection: exact while one node writes.
//!
//! A namespace of its own under `store`, as [`sqlite`](super::sqlite) is: each backend's
//! [`inspect`] and [`latest_schema`] have the same names.

mod error;
mod leases;
mod pool;
mod read;
mod reports;
mod schema;
mod tls;
pub(crate) mod url;
mod write;

pub use error::PgError;
pub use leases::{Acquired, ClusterView, HeldSlot, LeaseRow, Leases, NodeRow};
pub use schema::latest as latest_schema;
pub use tls::PgTls;

use super::call::{Call, Reply};
use super::gauges::{gauge, Gauges};
use super::{
    Accepted, Applied, Backlog, Change, ClaimedMessage, Fence, LiveCounts, MessageId,
    MessageRecord, NewMessage, OutboxEvent, Recovery, Refused, Store, StoreError, StoreFuture,
    StoreStats, StoredPart, Upkeep,
};
use crate::secret::Secret;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, oneshot};

/// How long a node keeps the webhook events it took before other nodes may send them: long
/// enough for a batch of slow POSTs, short enough that a dead node's events are not late.
pub(super) const OUTBOX_HOLD: Duration = Duration::from_secs(60);

/// How long connecting may take before the store reports the server unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How the store connects and what it enforces. `Debug` shows no password: it is a
/// [`Secret`], and the URL holds none.
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// The server and database, as a `postgres://` URL or `key=value` text, without a
    /// password.
    pub url: String,
    /// The password, sent only to the server.
    pub password: Option<Secret>,
    /// This node's name, recorded on the messages it claims.
    pub node_name: String,
    /// Connections for queries (the writer has one more of its own).
    pub pool_size: usize,
    /// The most messages waiting to be sent.
    pub max_queued: u64,
    /// How long SMSC ids are kept for matching receipts.
    pub receipt_wait: Duration,
    /// How long finished messages stay queryable.
    pub finished_retention: Duration,
    /// Whether events are queued for a webhook.
    pub events: bool,
    /// The most events the outbox holds.
    pub max_outbox: u64,
    /// How long a node's hold on a session slot lasts without renewal.
    pub lease: Duration,
    /// Whether connections use TLS, and which CAs verify the server.
    pub tls: PgTls,
}

impl PgOptions {
    /// How long the server lets one of this node's transactions sit idle between two
    /// statements before it ends the session: a frozen node (SIGSTOP, a stalled VM) must
    /// not keep the lease rows and messages it locked past its lease, or no node could
    /// take its slots over. A quarter lease, at least half a second.
    pub fn idle_transaction_limit(&self) -> Duration {
        (self.lease / 4).max(Duration::from_millis(500))
    }

    /// How long a group of writes may take before the writer gives up on the connection
    /// and answers the calls with an error (a 503 for a request): a server that stopped
    /// answering must not hold requests for ever.
    pub fn write_limit(&self) -> Duration {
        self.lease.max(Duration::from_secs(5))
    }
}

impl PgOptions {
    /// Defaults for the database at `url`, claiming as `node_name`; TLS as
    /// [`PgTls::default_for`] the URL.
    pub fn new(url: impl Into<String>, node_name: impl Into<String>) -> PgOptions {
        let url = url.into();
        PgOptions {
            tls: PgTls::default_for(&url),
            url,
            password: None,
            node_name: node_name.into(),
            pool_size: 4,
            max_queued: 1_000_000,
            receipt_wait: Duration::from_secs(72 * 3600),
            finished_retention: Duration::from_secs(3600),
            events: false,
            max_outbox: 10_000,
            lease: Duration::from_secs(10),
        }
    }

    /// The client configuration (the URL, the password, and smppd's settings) and the TLS
    /// context its connections go through.
    fn client_config(&self) -> Result<(tokio_postgres::Config, tls::Connector), PgError> {
        let mut config = client_config(&self.url)?;
        if let Some(password) = &self.password {
            config.password(password.expose());
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("smppd");
        }
        // A server that vanished without a word (a cut network) is noticed by TCP itself.
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(10));
        let connector = tls::Connector::new(&self.tls)?;
        // Require, not prefer: a server (or someone in between) answering that it has no
        // TLS must not get the password in clear.
        config.ssl_mode(if connector.is_on() {
            tokio_postgres::config::SslMode::Require
        } else {
            tokio_postgres::config::SslMode::Disable
        });
        Ok((config, connector))
    }
}

/// Parses a URL (or `key=value` text) and refuses what the `url` module's `check` refuses: a password
/// (it belongs in `[store] password`, which can come from a file or the environment and
/// never shows in logs) or a TLS parameter (TLS is `[store] tls`).
pub fn client_config(url: &str) -> Result<tokio_postgres::Config, PgError> {
    url::check(url).map_err(|problem| PgError::Url(format!("expected {problem}")))
}

/// The PostgreSQL store. Cheap to share (`Arc`); dropping the last handle stops its writer
/// after the calls already queued.
pub struct PgStore {
    writes: mpsc::UnboundedSender<Call>,
    pool: pool::Pool,
    gauges: Arc<Gauges>,
    round_trips: Arc<AtomicU64>,
    url: String,
    leases: Arc<Leases>,
    node: String,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgStore")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// Connects, migrates the schema, returns the claims this node left to the queue (as
    /// re-sends) and starts the writer task. Must be called inside a tokio runtime.
    pub async fn open(options: PgOptions) -> Result<(PgStore, Recovery), StoreError> {
        let url = options.url.clone();
        let options_node = options.node_name.clone();
        let opened = async {
            let (config, tls) = options.client_config()?;
            let mut client = pool::open(&config, &tls, &url).await?;
            let schema_found = schema::migrate(&mut client).await?;
            write::limit_idle_transactions(&client, options.idle_transaction_limit()).await?;
            let requeued = client
                .execute(
                    "UPDATE messages SET resend = true, claimed_by = NULL, claimed_on = NULL,
                        claimed_at = NULL
                     WHERE claimed_by = $1 AND state = 0",
                    &[&options.node_name],
                )
                .await?;
            let counts = write::load_counts(&client).await?;
            Ok::<_, PgError>((config, tls, client, schema_found, requeued, counts))
        };
        let (config, tls, client, schema_found, requeued, counts) =
            opened.await.map_err(|e| e.into_open(&url))?;
        let gauges = Arc::new(Gauges::default());
        let pool = pool::Pool::new(config.clone(), tls.clone(), url.clone(), options.pool_size);
        let round_trips = Arc::new(AtomicU64::new(0));
        let leases = Arc::new(Leases::new(
            config.clone(),
            tls.clone(),
            url.clone(),
            options.node_name.clone(),
            instance_id(),
            options.lease,
        ));
        let writer = write::Writer::new(
            config,
            tls,
            client,
            options,
            gauges.clone(),
            counts,
            round_trips.clone(),
        );
        let (writes, calls) = mpsc::unbounded_channel();
        tokio::spawn(writer.run(calls));
        Ok((
            PgStore {
                writes,
                pool,
                gauges,
                round_trips,
                url,
                leases,
                node: options_node,
            },
            Recovery {
                schema_found,
                requeued,
            },
        ))
    }

    /// This node's lease statements (nodes, session slots).
    pub fn leases(&self) -> &Arc<Leases> {
        &self.leases
    }

    /// The live counts.
    pub fn gauges(&self) -> &Arc<Gauges> {
        &self.gauges
    }

    /// Exchanges with the server the writer has made so far (statements, prepares, BEGIN
    /// and COMMIT): what a message costs in round trips, for measurements.
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(std::sync::atomic::Ordering::Relaxed)
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
}

/// A number for this process, told apart from an earlier process of the same node name.
fn instance_id() -> i64 {
    let mut bytes = [0u8; 8];
    // Without randomness the time will do: it only has to differ from the last start's.
    if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes = (nanos as u64).to_le_bytes();
    }
    i64::from_le_bytes(bytes)
}

/// The schema version of the database `options` names, without changing anything (0: no
/// smppd schema yet); an error when it cannot be reached or is newer than this build.
pub async fn check(options: &PgOptions) -> Result<i64, StoreError> {
    let run = async {
        let (config, tls) = options.client_config()?;
        let client = pool::open(&config, &tls, &options.url).await?;
        let found = schema::version(&client).await?;
        if found > schema::latest() {
            return Err(PgError::TooNew {
                found,
                known: schema::latest(),
            });
        }
        Ok(found)
    };
    run.await.map_err(|e| e.into_open(&options.url))
}

/// Counts of the database `options` names, read-only (`smppd store inspect`).
pub async fn inspect(options: &PgOptions) -> Result<StoreStats, StoreError> {
    let found = check(options).await?;
    if found == 0 {
        return Err(StoreError::Open {
            path: options.url.clone(),
            reason: "no smppd schema (it is created at the first start)".into(),
        });
    }
    let run = async {
        let (config, tls) = options.client_config()?;
        let client = pool::open(&config, &tls, &options.url).await?;
        read::stats(&client).await
    };
    run.await.map_err(PgError::into_read)
}

impl Store for PgStore {
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
        Box::pin(async move {
            let client = self.pool.get().await.map_err(PgError::into_read)?;
            read::get(&client, &id).await.map_err(PgError::into_read)
        })
    }

    fn outbox_due(&self, limit: usize, now: SystemTime) -> StoreFuture<'_, Vec<OutboxEvent>> {
        Box::pin(async move {
            let client = self.pool.get().await.map_err(PgError::into_read)?;
            read::outbox(&client, &self.node, None, limit, now, OUTBOX_HOLD)
                .await
                .map_err(PgError::into_read)
        })
    }

    fn outbox_due_for(
        &self,
        user: &str,
        limit: usize,
        now: SystemTime,
    ) -> StoreFuture<'_, Vec<OutboxEvent>> {
        let user = user.to_string();
        Box::pin(async move {
            let client = self.pool.get().await.map_err(PgError::into_read)?;
            read::outbox(&client, &self.node, Some(&user), limit, now, OUTBOX_HOLD)
                .await
                .map_err(PgError::into_read)
        })
    }

    fn credits_configure(&self, users: Vec<(String, Option<u64>)>) -> StoreFuture<'_, ()> {
        self.write(|r| Call::Credits(users, r))
    }

    fn credits_add(&self, user: String, add: u64) -> StoreFuture<'_, Option<u64>> {
        self.write(|r| Call::CreditsAdd(user, add, r))
    }

    fn credits(&self) -> StoreFuture<'_, Vec<(String, u64)>> {
        Box::pin(async move {
            let client = self.pool.get().await.map_err(PgError::into_read)?;
            read::credits(&client).await.map_err(PgError::into_read)
        })
    }

    fn outbox_delivered(&self, seqs: Vec<i64>) -> StoreFuture<'_, ()> {
        self.write(|r| Call::OutboxDelivered(seqs, r))
    }

    fn outbox_retry(&self, seq: i64, due: SystemTime) -> StoreFuture<'_, ()> {
        self.write(|r| Call::OutboxRetry(seq, due, r))
    }

    fn parts(&self) -> StoreFuture<'_, Vec<StoredPart>> {
        Box::pin(async move {
            let client = self.pool.get().await.map_err(PgError::into_read)?;
            read::parts(&client).await.map_err(PgError::into_read)
        })
    }

    fn upkeep(&self, now: SystemTime) -> StoreFuture<'_, Upkeep> {
        self.write(|r| Call::Upkeep(now, r))
    }

    fn stats(&self) -> StoreFuture<'_, StoreStats> {
        Box::pin(async move {
            let client = self.pool.get().await.map_err(PgError::into_read)?;
            read::stats(&client).await.map_err(PgError::into_read)
        })
    }

    fn backlog(&self) -> StoreFuture<'_, Backlog> {
        Box::pin(async move {
            let client = self.pool.get().await.map_err(PgError::into_read)?;
            let mut backlog = read::backlog(&client).await.map_err(PgError::into_read)?;
            backlog.outbox = gauge(&self.gauges.outbox);
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
