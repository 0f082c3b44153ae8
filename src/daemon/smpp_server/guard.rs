//! Bind failures per remote address: after [`MAX_FAILURES`] failed binds from one address
//! within [`WINDOW`], every bind from it is refused for [`BLOCK`], without a look at the
//! password (which would cost an Argon2 verification per guess).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

/// Failed binds that block an address.
pub(crate) const MAX_FAILURES: usize = 5;
/// Within this long.
pub(crate) const WINDOW: Duration = Duration::from_secs(60);
/// For this long.
pub(crate) const BLOCK: Duration = Duration::from_secs(60);
/// The most addresses remembered: past it the oldest records go (a flood of addresses
/// must not fill memory; each is blocked on its own anyway).
const MAX_ADDRESSES: usize = 65_536;

#[derive(Debug, Default)]
struct Record {
    failures: Vec<Instant>,
    blocked_until: Option<Instant>,
}

/// The failures of every address seen failing recently.
#[derive(Debug, Default)]
pub(crate) struct FailureGuard {
    by_address: Mutex<HashMap<IpAddr, Record>>,
}

impl FailureGuard {
    /// Whether binds from `ip` are refused now.
    pub(crate) fn blocked(&self, ip: IpAddr, now: Instant) -> bool {
        self.by_address
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&ip)
            .and_then(|r| r.blocked_until)
            .is_some_and(|until| until > now)
    }

    /// Records a failed bind from `ip`; `true` when this one blocks the address.
    pub(crate) fn failed(&self, ip: IpAddr, now: Instant) -> bool {
        let mut map = self
            .by_address
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_ADDRESSES && !map.contains_key(&ip) {
            map.retain(|_, r| {
                r.blocked_until.is_some_and(|u| u > now)
                    || r.failures
                        .iter()
                        .any(|t| now.saturating_duration_since(*t) < WINDOW)
            });
            if map.len() >= MAX_ADDRESSES {
                return false;
            }
        }
        let record = map.entry(ip).or_default();
        record
            .failures
            .retain(|t| now.saturating_duration_since(*t) < WINDOW);
        record.failures.push(now);
        if record.failures.len() >= MAX_FAILURES {
            record.failures.clear();
            record.blocked_until = Some(now + BLOCK);
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_failures_in_a_minute_block_the_address_for_a_minute() {
        let g = FailureGuard::default();
        let ip: IpAddr = "203.0.113.9".parse().unwrap();
        let other: IpAddr = "203.0.113.10".parse().unwrap();
        let t0 = Instant::now();
        for n in 0..4 {
            assert!(!g.failed(ip, t0 + Duration::from_secs(n)));
        }
        assert!(!g.blocked(ip, t0 + Duration::from_secs(5)));
        assert!(g.failed(ip, t0 + Duration::from_secs(5)));
        assert!(g.blocked(ip, t0 + Duration::from_secs(6)));
        assert!(!g.blocked(other, t0 + Duration::from_secs(6)));
        assert!(!g.blocked(ip, t0 + Duration::from_secs(66)));
    }

    #[test]
    fn failures_spread_over_more_than_a_minute_do_not_block() {
        let g = FailureGuard::default();
        let ip: IpAddr = "2001:db8::1".parse().unwrap();
        let t0 = Instant::now();
        for n in 0..10 {
            assert!(!g.failed(ip, t0 + Duration::from_secs(n * 20)));
        }
    }
}
