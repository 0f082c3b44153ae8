//! Connections to PostgreSQL: how one is opened, and a small pool for queries.
//!
//! A `tokio_postgres::Client` pipelines the queries of every task that uses it, so the pool
//! only spreads queries over a few connections (a slow scan on one does not hold up `GET`s
//! on another) and opens a connection again when the server closed it.

use super::error::{describe, Pg, PgError};
use super::tls::Connector;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;
use tokio_postgres::{Client, Config};

/// How long opening a connection may take in all: the client's `connect_timeout` bounds
/// the TCP connect only, and a server (or a proxy before it) that accepts and then says
/// nothing would hold the start-up for ever.
const OPEN_BOUND: Duration = Duration::from_secs(10);

/// Opens one connection through `tls`; its I/O runs in a task of its own until the client
/// is dropped.
pub(super) async fn open(config: &Config, tls: &Connector, target: &str) -> Pg<Client> {
    let opened = tokio::time::timeout(OPEN_BOUND, config.connect(tls.clone()))
        .await
        .map_err(|_| PgError::Connect {
            target: target.to_string(),
            reason: format!("no answer within {} s", OPEN_BOUND.as_secs()),
        })?;
    let (client, connection) = opened.map_err(|e| PgError::Connect {
        target: target.to_string(),
        reason: describe_open(&e),
    })?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(
                event = "store_connection_closed",
                error = %describe(&e),
                "PostgreSQL connection closed"
            );
        }
    });
    Ok(client)
}

/// Why opening failed. tokio-postgres words a server that answers the SSLRequest with `N`
/// as "server does not support TLS", behind the generic "error performing TLS handshake";
/// it is said as what the operator has to change.
fn describe_open(e: &tokio_postgres::Error) -> String {
    let text = describe(e);
    if text.ends_with("server does not support TLS") {
        return "the server does not offer TLS (it answered the SSLRequest with N), and [store] tls = \"on\" requires it".into();
    }
    text
}

/// A fixed number of connections, each opened on first use and again after it closed.
pub(super) struct Pool {
    config: Config,
    tls: Connector,
    target: String,
    slots: Vec<Mutex<Option<Arc<Client>>>>,
    next: AtomicUsize,
}

impl Pool {
    /// A pool of `size` connections (at least one) to the server `config` names, through
    /// `tls`.
    pub(super) fn new(config: Config, tls: Connector, target: String, size: usize) -> Pool {
        Pool {
            config,
            tls,
            target,
            slots: (0..size.max(1)).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        }
    }

    /// The next connection, round robin.
    pub(super) async fn get(&self) -> Pg<Arc<Client>> {
        let n = self.next.fetch_add(1, Ordering::Relaxed) % self.slots.len();
        let mut slot = self.slots[n].lock().await;
        if let Some(client) = slot.as_ref().filter(|c| !c.is_closed()) {
            return Ok(client.clone());
        }
        let client = Arc::new(open(&self.config, &self.tls, &self.target).await?);
        *slot = Some(client.clone());
        Ok(client)
    }
}
