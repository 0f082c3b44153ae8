//! [`SendGate`]: the licence a session needs to write to its SMSC, and when it runs out.
//!
//! The layer above may own the right to send only for a while: on a cluster, a channel's
//! session slot is a lease that another node takes over once it expires. The holder opens
//! the gate until a moment safely before its lease can expire, and moves that moment on at
//! each renewal. The session checks the gate immediately before every write to the socket,
//! on its own clock, so a process that was frozen (SIGSTOP, a stalled VM) and wakes after
//! the moment has passed writes nothing more: it closes the connection instead. A check
//! that runs on the monotonic clock needs no database and no other task to have run first.
//!
//! A gate that is never limited ([`SendGate::always`]) is what a single node uses.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The deadline value of a gate that never closes.
const FOREVER: u64 = u64::MAX;

/// Shared between the holder (who opens and closes it) and the sessions (who check it).
/// Cloning shares it.
#[derive(Debug, Clone)]
pub struct SendGate {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The origin of the deadline's clock.
    base: Instant,
    /// Nanoseconds after `base` at which the gate closes; 0 = closed, [`FOREVER`] = never.
    deadline: AtomicU64,
}

impl SendGate {
    /// A gate that is open and never closes.
    pub fn always() -> SendGate {
        SendGate::with(FOREVER)
    }

    /// A gate that is closed until [`SendGate::open_until`] opens it.
    pub fn closed() -> SendGate {
        SendGate::with(0)
    }

    fn with(deadline: u64) -> SendGate {
        SendGate {
            inner: Arc::new(Inner {
                base: Instant::now(),
                deadline: AtomicU64::new(deadline),
            }),
        }
    }

    /// Opens the gate until `deadline` (a later call may move it either way).
    pub fn open_until(&self, deadline: Instant) {
        let nanos = deadline
            .saturating_duration_since(self.inner.base)
            .as_nanos();
        // 0 means closed: a deadline at the origin is as good as closed anyway.
        let nanos = u64::try_from(nanos).unwrap_or(FOREVER - 1).max(1);
        self.inner.deadline.store(nanos, Ordering::Release);
    }

    /// Closes the gate at once.
    pub fn close(&self) {
        self.inner.deadline.store(0, Ordering::Release);
    }

    /// Whether writing is allowed at `now`.
    pub fn is_open(&self, now: Instant) -> bool {
        match self.inner.deadline.load(Ordering::Acquire) {
            0 => false,
            FOREVER => true,
            deadline => {
                let at = now.saturating_duration_since(self.inner.base).as_nanos();
                at < u128::from(deadline)
            }
        }
    }

    /// Whether writing is allowed right now, on the monotonic clock.
    pub fn is_open_now(&self) -> bool {
        // The clock is read only for a gate that closes at a deadline: the driver asks
        // before every write.
        match self.inner.deadline.load(Ordering::Acquire) {
            0 => false,
            FOREVER => true,
            _ => self.is_open(Instant::now()),
        }
    }

    /// When the gate closes: `None` when it never does (or is closed already, see
    /// [`SendGate::is_open`]).
    pub fn deadline(&self) -> Option<Instant> {
        match self.inner.deadline.load(Ordering::Acquire) {
            0 | FOREVER => None,
            nanos => Some(self.inner.base + std::time::Duration::from_nanos(nanos)),
        }
    }
}

impl Default for SendGate {
    fn default() -> Self {
        SendGate::always()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn always_stays_open() {
        let gate = SendGate::always();
        assert!(gate.is_open(Instant::now() + Duration::from_secs(1_000_000)));
        assert_eq!(gate.deadline(), None);
    }

    #[test]
    fn closed_until_opened_then_closes_at_its_deadline() {
        let gate = SendGate::closed();
        let now = Instant::now();
        assert!(!gate.is_open(now));
        gate.open_until(now + Duration::from_secs(5));
        assert!(gate.is_open(now));
        assert!(gate.is_open(now + Duration::from_millis(4_999)));
        assert!(!gate.is_open(now + Duration::from_secs(5)));
        assert!(gate.deadline().is_some());
    }

    #[test]
    fn a_clone_sees_the_holder_close_it() {
        let gate = SendGate::closed();
        let session = gate.clone();
        gate.open_until(Instant::now() + Duration::from_secs(60));
        assert!(session.is_open_now());
        gate.close();
        assert!(!session.is_open_now());
    }

    #[test]
    fn a_deadline_in_the_past_is_closed() {
        let gate = SendGate::closed();
        let now = Instant::now();
        gate.open_until(now);
        assert!(!gate.is_open(now + Duration::from_millis(1)));
    }
}
