//! The arithmetic of leases: how many slots a node takes, and until when it may send.

use std::time::{Duration, Instant};

/// How many times a lease is renewed per lease duration: a holder whose renewal fails
/// has several more tries before its send gate closes.
pub(crate) const RENEWALS_PER_LEASE: u32 = 4;

/// How many of a channel's `sessions` slots one of `alive` nodes takes: an even spread,
/// rounded up so that every slot finds a holder (with 3 slots on 2 nodes, one node holds
/// two). A node never counts fewer than one node alive (itself).
pub(crate) fn fair_share(sessions: u16, alive: usize) -> u16 {
    let alive = u16::try_from(alive.max(1)).unwrap_or(u16::MAX);
    sessions.div_ceil(alive)
}

/// Until when a holder may send, for a hold the server set (or renewed) to last `lease`
/// by a request sent at `sent`: the server's expiry comes at `sent + lease` at the
/// earliest, and the holder stops a quarter of a lease before that, which leaves it the
/// time to close its connection before another node may bind.
pub(crate) fn gate_deadline(sent: Instant, lease: Duration) -> Instant {
    sent + lease - lease / RENEWALS_PER_LEASE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_spread_evenly_rounding_up() {
        assert_eq!(fair_share(1, 1), 1);
        assert_eq!(fair_share(1, 3), 1);
        assert_eq!(fair_share(4, 2), 2);
        assert_eq!(fair_share(3, 2), 2);
        assert_eq!(fair_share(64, 3), 22);
        // A node that sees no live node (its own heartbeat not yet read) counts itself.
        assert_eq!(fair_share(2, 0), 2);
    }

    #[test]
    fn the_gate_closes_a_quarter_lease_before_the_earliest_expiry() {
        let sent = Instant::now();
        let lease = Duration::from_secs(10);
        assert_eq!(
            gate_deadline(sent, lease),
            sent + Duration::from_millis(7_500)
        );
        assert!(gate_deadline(sent, lease) < sent + lease);
    }
}
