//! `[store]` turned into a backend's options, and the backend opened: the one place that
//! knows both the configuration and the store (which knows nothing of TOML).

use super::cluster::{Board, StoreKind};
use super::store::postgres::{Leases, PgOptions, PgStore};
use super::store::sqlite::{SqliteOptions, SqliteStore};
use super::store::{postgres, Recovery, Store, StoreError, StoreStats};
use crate::config::{Config, PostgresStore, StoreBackend};
use std::io::Read;
use std::sync::Arc;

/// The node name when `node-name` is not set and no host name can be read.
const FALLBACK_NODE: &str = "smppd";

/// This machine's host name (the default `node-name`), read from the kernel: a bounded read
/// of a file that holds at most 64 octets.
pub(crate) fn host_name() -> String {
    let mut name = String::new();
    let read = std::fs::File::open("/proc/sys/kernel/hostname")
        .and_then(|f| f.take(256).read_to_string(&mut name));
    let name = match read {
        Ok(_) => name.trim().to_string(),
        Err(_) => std::env::var("HOSTNAME").unwrap_or_default(),
    };
    if name.is_empty() {
        FALLBACK_NODE.to_string()
    } else {
        name
    }
}

/// The SQLite store's options for `config`.
pub(crate) fn sqlite_options(config: &Config) -> SqliteOptions {
    let mut options = SqliteOptions::new(config.store.path.clone());
    common(
        config,
        |max_queued, receipt_wait, retention, events, max_outbox| {
            options.max_queued = max_queued;
            options.receipt_wait = receipt_wait;
            options.finished_retention = retention;
            options.events = events;
            options.max_outbox = max_outbox;
        },
    );
    options
}

/// The PostgreSQL store's options for `config` and its `[store]` PostgreSQL keys.
pub fn postgres_options(config: &Config, pg: &PostgresStore) -> PgOptions {
    let node = pg.node_name.clone().unwrap_or_else(host_name);
    let mut options = PgOptions::new(pg.url.clone(), node);
    options.password = pg.password.clone();
    options.pool_size = pg.pool_size;
    options.lease = pg.lease;
    options.tls = pg.tls.clone();
    common(
        config,
        |max_queued, receipt_wait, retention, events, max_outbox| {
            options.max_queued = max_queued;
            options.receipt_wait = receipt_wait;
            options.finished_retention = retention;
            options.events = events;
            options.max_outbox = max_outbox;
        },
    );
    options
}

/// Hands the settings every backend shares to `set`.
fn common(
    config: &Config,
    set: impl FnOnce(u64, std::time::Duration, std::time::Duration, bool, u64),
) {
    let max_outbox = config
        .webhook
        .as_ref()
        .map_or(10_000, |hook| hook.max_queued_events as u64);
    set(
        config.store.max_queued,
        config.store.receipt_wait,
        config.http.finished_retention,
        config.webhook.is_some(),
        max_outbox,
    );
}

/// Where the store is, for logs and messages: the file, or the URL (which holds no
/// password).
pub(crate) fn describe(config: &Config) -> String {
    match &config.store.backend {
        StoreBackend::Sqlite => config.store.path.display().to_string(),
        StoreBackend::Postgres(pg) => pg.url.clone(),
    }
}

/// An opened store and what comes with it.
pub(crate) struct Opened {
    /// The store.
    pub store: Arc<dyn Store>,
    /// What opening it found.
    pub recovery: Recovery,
    /// The lease statements, when several nodes may share the store.
    pub leases: Option<Arc<Leases>>,
    /// The cluster's picture, for this node.
    pub board: Arc<Board>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Shared handles and tasks: what they point to is not this value's to print.
        f.debug_struct("Opened").finish_non_exhaustive()
    }
}

/// Opens the backend `[store]` names: SQLite off the runtime's workers (it reads and
/// migrates the file), PostgreSQL asynchronously.
pub(crate) async fn open(config: &Config) -> Result<Opened, StoreError> {
    match &config.store.backend {
        StoreBackend::Sqlite => {
            let options = sqlite_options(config);
            let (store, recovery) = tokio::task::spawn_blocking(move || SqliteStore::open(options))
                .await
                .map_err(|e| StoreError::Open {
                    path: describe(config),
                    reason: e.to_string(),
                })??;
            Ok(Opened {
                store: Arc::new(store),
                recovery,
                leases: None,
                board: Arc::new(Board::new(&host_name(), StoreKind::Sqlite, None)),
            })
        }
        StoreBackend::Postgres(pg) => {
            let options = postgres_options(config, pg);
            let board = Arc::new(Board::new(
                &options.node_name,
                StoreKind::Postgres,
                Some(pg.lease),
            ));
            let (store, recovery) = PgStore::open(options).await?;
            let leases = store.leases().clone();
            Ok(Opened {
                store: Arc::new(store),
                recovery,
                leases: Some(leases),
                board,
            })
        }
    }
}

/// What `check-config` and `store inspect` find in a PostgreSQL database, without changing
/// it: the schema version (0: none yet; an error when newer than this build or
/// unreachable), and the counts when there is a schema.
pub async fn inspect_postgres(
    config: &Config,
    pg: &PostgresStore,
) -> Result<(i64, Option<StoreStats>), StoreError> {
    let options = postgres_options(config, pg);
    let found = postgres::check(&options).await?;
    if found == 0 {
        return Ok((0, None));
    }
    let stats = postgres::inspect(&options).await?;
    Ok((found, Some(stats)))
}
