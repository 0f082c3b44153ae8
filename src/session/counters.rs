//! [`Counters`]: running totals a channel exposes (submitted, acknowledged, failed, re-sent,
//! received, receipts). Atomics so the supervisor can snapshot them while a session runs.

use std::sync::atomic::{AtomicU64, Ordering};

/// Totals over every session of a channel.
#[derive(Debug, Default)]
pub struct Counters {
    submitted: AtomicU64,
    acknowledged: AtomicU64,
    failed: AtomicU64,
    resent: AtomicU64,
    received: AtomicU64,
    receipts: AtomicU64,
    in_flight: AtomicU64,
}

/// A copy of [`Counters`] at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CountersSnapshot {
    /// submit_sm PDUs written (re-sends included).
    pub submitted: u64,
    /// Messages the SMSC accepted.
    pub acknowledged: u64,
    /// Messages that failed for good.
    pub failed: u64,
    /// submit_sm PDUs that were re-sends of a message sent before.
    pub resent: u64,
    /// deliver_sm / data_sm received (receipts included).
    pub received: u64,
    /// Of those, delivery receipts.
    pub receipts: u64,
    /// submit_sm awaiting their response right now (window occupancy; a gauge, not a total).
    pub in_flight: u64,
}

impl Counters {
    pub(crate) fn submitted(&self, resend: bool) {
        self.submitted.fetch_add(1, Ordering::Relaxed);
        if resend {
            self.resent.fetch_add(1, Ordering::Relaxed);
        }
    }
    pub(crate) fn acknowledged(&self) {
        self.acknowledged.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn failed(&self) {
        self.failed.fetch_add(1, Ordering::Relaxed);
    }
    pub(crate) fn received(&self, receipt: bool) {
        self.received.fetch_add(1, Ordering::Relaxed);
        if receipt {
            self.receipts.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(crate) fn set_in_flight(&self, n: usize) {
        self.in_flight
            .store(u64::try_from(n).unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    /// The totals now.
    pub fn snapshot(&self) -> CountersSnapshot {
        CountersSnapshot {
            submitted: self.submitted.load(Ordering::Relaxed),
            acknowledged: self.acknowledged.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            resent: self.resent.load(Ordering::Relaxed),
            received: self.received.load(Ordering::Relaxed),
            receipts: self.receipts.load(Ordering::Relaxed),
            in_flight: self.in_flight.load(Ordering::Relaxed),
        }
    }
}
