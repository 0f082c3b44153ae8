//! [`Board`]: the latest picture of the cluster, written by the slot manager and read by
//! `GET /v1/cluster` and `/metrics` without a database round trip.

use serde::Serialize;
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

/// One node, as `GET /v1/cluster` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeView {
    /// Its `node-name`.
    pub name: String,
    /// Its last heartbeat (RFC 3339, the database's clock).
    pub heartbeat: String,
    /// Whether that heartbeat is younger than one lease.
    pub alive: bool,
}

/// One session slot, as `GET /v1/cluster` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlotView {
    /// The channel.
    pub channel: String,
    /// The slot, 0-based.
    pub slot: u16,
    /// The node holding it; `null` when nobody does.
    pub node: Option<String>,
    /// The fencing epoch (0 on a single node: nothing to fence).
    pub epoch: i64,
    /// When the hold expires (RFC 3339, the database's clock); `null` on a single node or
    /// when nobody holds it.
    pub expires: Option<String>,
}

/// The store the nodes share, as `GET /v1/cluster` names it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    /// `sqlite`: the embedded store, one node.
    #[default]
    Sqlite,
    /// `postgres`: several nodes may share it.
    Postgres,
}

/// The body of `GET /v1/cluster`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// This node's name.
    pub node: String,
    /// `sqlite` (one node) or `postgres`.
    pub backend: StoreKind,
    /// `[store] lease-seconds` (PostgreSQL), else `null`.
    pub lease_seconds: Option<u64>,
    /// Every node, by name.
    pub nodes: Vec<NodeView>,
    /// Every session slot of every configured channel, by channel and slot.
    pub slots: Vec<SlotView>,
}

/// Shared between the writer (the slot manager) and the readers.
#[derive(Debug, Default)]
pub struct Board {
    snapshot: RwLock<Snapshot>,
}

impl Board {
    /// A board for node `node` on `backend`, with nothing seen yet.
    pub fn new(node: &str, backend: StoreKind, lease: Option<Duration>) -> Board {
        Board {
            snapshot: RwLock::new(Snapshot {
                node: node.to_string(),
                backend,
                lease_seconds: lease.map(|l| l.as_secs()),
                nodes: Vec::new(),
                slots: Vec::new(),
            }),
        }
    }

    /// The latest picture.
    pub fn snapshot(&self) -> Snapshot {
        self.snapshot
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// This node's name when several nodes may share the store (the `node` label of
    /// `/metrics`); `None` on a single node.
    pub fn shared_node(&self) -> Option<String> {
        let s = self.snapshot.read().unwrap_or_else(PoisonError::into_inner);
        (s.backend == StoreKind::Postgres).then(|| s.node.clone())
    }

    /// Replaces the nodes and slots.
    pub fn publish(&self, nodes: Vec<NodeView>, slots: Vec<SlotView>) {
        let mut s = self
            .snapshot
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        s.nodes = nodes;
        s.slots = slots;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `GET /v1/cluster`'s `backend` keeps its words.
    #[test]
    fn every_store_kind_has_its_word() {
        for (kind, word) in [
            (StoreKind::Sqlite, "sqlite"),
            (StoreKind::Postgres, "postgres"),
        ] {
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::Value::String(word.to_string())
            );
        }
    }

    #[test]
    fn only_a_shared_store_labels_the_node() {
        let single = Board::new("n1", StoreKind::Sqlite, None);
        assert_eq!(single.shared_node(), None);
        let shared = Board::new("n1", StoreKind::Postgres, Some(Duration::from_secs(30)));
        assert_eq!(shared.shared_node().as_deref(), Some("n1"));
    }
}
