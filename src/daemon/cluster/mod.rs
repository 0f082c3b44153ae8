//! Which session slots of which channels run on this node, and the cluster as this node
//! sees it (`GET /v1/cluster`).
//!
//! On the embedded store there is one node: every slot of every channel runs here
//! ([`Slots::local`]). On PostgreSQL several nodes share the store, and a slot runs
//! where its lease is held ([`Slots::leased`]): the lease keeper renews what this
//! node holds, takes free or expired slots up to this node's share, gives up slots above
//! it, and stops a slot the moment its lease can no longer be trusted (see
//! [`crate::session::SendGate`] and [`crate::daemon::store::Fence`]).
//!
//! Depends on: the store's lease statements, the channels (to start and stop slots).

mod board;
mod share;
mod slots;

// What the rest of the daemon uses.
pub(crate) use board::{Board, Snapshot, StoreKind};
pub(crate) use slots::Slots;
