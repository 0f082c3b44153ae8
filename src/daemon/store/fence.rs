//! [`Fence`]: on whose behalf a channel's claims and reports are written.

/// One session slot of a channel, under the lease epoch it is held with.
///
/// On a shared PostgreSQL store, a node sends for a channel only through the slots it holds
/// a lease on; every claim, report and release it writes names the slot and the epoch, and
/// the store refuses it ([`super::StoreError::Fenced`]) once another node took the slot
/// over (which raises the epoch). A node that stalled past its lease therefore cannot write
/// over its successor's work. Epoch 0 means "not leased" (one node, or SQLite): nothing is
/// checked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Fence {
    /// The channel's name.
    pub channel: String,
    /// The session slot, 0-based, below the channel's `x-smpp-sessions`.
    pub slot: u16,
    /// The lease epoch the slot is held with; 0 when not leased.
    pub epoch: i64,
}

impl Fence {
    /// A channel's slot 0, not leased: what a single node and the tools use.
    pub fn unleased(channel: impl Into<String>) -> Fence {
        Fence {
            channel: channel.into(),
            slot: 0,
            epoch: 0,
        }
    }

    /// Whether writes under this fence are checked against a lease.
    pub fn is_leased(&self) -> bool {
        self.epoch > 0
    }
}

impl std::fmt::Display for Fence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} slot {} (epoch {})",
            self.channel, self.slot, self.epoch
        )
    }
}
