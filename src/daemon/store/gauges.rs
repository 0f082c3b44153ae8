//! [`Gauges`]: the counts a backend's writer keeps live, shared by every backend.

use std::sync::atomic::{AtomicU64, Ordering};

/// Live counts, updated after each commit (for `/metrics` without a query).
#[derive(Debug, Default)]
pub struct Gauges {
    /// Messages waiting to be sent (queued, claimed or not).
    pub waiting: AtomicU64,
    /// Events in the outbox.
    pub outbox: AtomicU64,
    /// Transactions committed.
    pub commits: AtomicU64,
    /// Calls committed (sum of group sizes).
    pub grouped_calls: AtomicU64,
    /// Syncs of the WAL (`fdatasync`); each one makes every commit before it durable. The
    /// SQLite store's syncer counts them; PostgreSQL syncs on the server, unseen.
    pub syncs: AtomicU64,
    /// Waiting messages per non-empty queue (`""`: any channel's), as of the last commit
    /// (kept by the SQLite writer; PostgreSQL counts with a query).
    pub depths: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
}

/// Reads a gauge.
pub(crate) fn gauge(g: &AtomicU64) -> u64 {
    g.load(Ordering::Relaxed)
}
