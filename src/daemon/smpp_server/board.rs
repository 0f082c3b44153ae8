//! The connections of the SMPP server, for `GET /v1/smpp-sessions` and for the operator's
//! `DELETE` (unbind, then close).

use crate::server::BindMode;
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;
use tokio::sync::Notify;

/// Counters of one connection.
#[derive(Debug, Default)]
pub struct SessionCounters {
    /// Submits answered with our id.
    pub submitted: AtomicU64,
    /// Submits refused.
    pub refused: AtomicU64,
    /// deliver_sm acknowledged by the client.
    pub delivered: AtomicU64,
}

/// One connection.
#[derive(Debug)]
pub struct SessionEntry {
    /// Its id in the API.
    pub id: u64,
    /// Where the client connects from.
    pub remote: SocketAddr,
    /// The TLS version, when over TLS.
    pub tls: Option<&'static str>,
    /// When it connected.
    pub since: SystemTime,
    bound: Mutex<Option<(String, BindMode)>>,
    /// Counters.
    pub counters: SessionCounters,
    /// Notified when the operator asks for an unbind.
    pub unbind: Notify,
}

impl SessionEntry {
    /// The user and bind mode, once bound.
    pub fn bound(&self) -> Option<(String, BindMode)> {
        self.bound
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Records the bind.
    pub fn set_bound(&self, user: &str, mode: BindMode) {
        *self.bound.lock().unwrap_or_else(PoisonError::into_inner) = Some((user.to_string(), mode));
    }
}

/// Every open connection.
#[derive(Debug, Default)]
pub struct SessionBoard {
    next: AtomicU64,
    sessions: Mutex<BTreeMap<u64, Arc<SessionEntry>>>,
}

impl SessionBoard {
    /// An empty board.
    pub fn new() -> Arc<SessionBoard> {
        Arc::new(SessionBoard::default())
    }

    /// A new connection; it stays on the board until [`SessionBoard::remove`].
    pub fn open(&self, remote: SocketAddr, tls: Option<&'static str>) -> Arc<SessionEntry> {
        let id = self.next.fetch_add(1, Ordering::Relaxed) + 1;
        let entry = Arc::new(SessionEntry {
            id,
            remote,
            tls,
            since: SystemTime::now(),
            bound: Mutex::new(None),
            counters: SessionCounters::default(),
            unbind: Notify::new(),
        });
        self.lock().insert(id, entry.clone());
        entry
    }

    /// The connection closed.
    pub fn remove(&self, id: u64) {
        self.lock().remove(&id);
    }

    /// One connection.
    pub fn get(&self, id: u64) -> Option<Arc<SessionEntry>> {
        self.lock().get(&id).cloned()
    }

    /// Every connection, oldest first.
    pub fn all(&self) -> Vec<Arc<SessionEntry>> {
        self.lock().values().cloned().collect()
    }

    /// Asks every session of `user` to unbind.
    pub fn unbind_user(&self, user: &str) {
        for entry in self.all() {
            if entry.bound().is_some_and(|(u, _)| u == user) {
                entry.unbind.notify_one();
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<SessionEntry>>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
