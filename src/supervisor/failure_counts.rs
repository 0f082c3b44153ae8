//! [`FailureCounts`]: how often a channel hit each documented log code, for the
//! `smppd_channel_failures_total{channel, code}` counter.
//!
//! The codes come from [`ChannelFailure::report`](super::ChannelFailure::report), the one
//! place they are assigned; this file only counts what a report says. Every failure is
//! counted, also those the log folds into a `channel_failure_repeated` summary: a rate alert
//! must see a flapping SMSC that the log, on purpose, no longer spells out line by line.

use super::failure::{
    FailureReport, DRIVER_INIT_FAILED, EXCEPTION_PROCESSED, OPEN_AND_BIND_FAILED,
    SSL_CONTEXT_FAILED,
};

/// Every documented code, in the order `/metrics` lists them.
pub const FAILURE_CODES: [u32; 4] = [
    OPEN_AND_BIND_FAILED,
    SSL_CONTEXT_FAILED,
    EXCEPTION_PROCESSED,
    DRIVER_INIT_FAILED,
];

/// Occurrences of each of [`FAILURE_CODES`] for one channel since the daemon started.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FailureCounts([u64; FAILURE_CODES.len()]);

impl FailureCounts {
    /// Counts one failure: its primary code and its follow-up (43009 and 43011, or 43010 and
    /// 42403).
    pub fn record(&mut self, report: &FailureReport) {
        self.add(report.primary.code);
        self.add(report.follow_up.code);
    }

    fn add(&mut self, code: u32) {
        // A code outside the table cannot come from `report`, which only uses the constants.
        if let Some(i) = FAILURE_CODES.iter().position(|&c| c == code) {
            self.0[i] = self.0[i].saturating_add(1);
        }
    }

    /// How often `code` occurred (0 for a code that is not documented).
    pub fn get(&self, code: u32) -> u64 {
        FAILURE_CODES
            .iter()
            .position(|&c| c == code)
            .map_or(0, |i| self.0[i])
    }

    /// Every documented code with its count, zeros included, so that a counter exists from
    /// the start and `rate()` sees its first increase.
    pub fn iter(&self) -> impl Iterator<Item = (u32, u64)> + '_ {
        FAILURE_CODES.iter().copied().zip(self.0.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::supervisor::ChannelFailure;
    use crate::transport::{InitError, TransportError};

    #[test]
    fn a_retried_failure_counts_43009_and_43011() {
        let mut counts = FailureCounts::default();
        let refused = ChannelFailure::Connect(TransportError::ConnectRefused {
            address: "127.0.0.1:2775".parse().unwrap(),
        });
        counts.record(&refused.report());
        counts.record(&refused.report());
        assert_eq!(counts.get(43009), 2);
        assert_eq!(counts.get(43011), 2);
        assert_eq!(counts.get(43010), 0);
        assert_eq!(counts.get(42403), 0);
    }

    #[test]
    fn a_setup_failure_counts_43010_and_42403() {
        let mut counts = FailureCounts::default();
        counts.record(&ChannelFailure::Init(InitError::Tls11Unavailable).report());
        let all: Vec<(u32, u64)> = counts.iter().collect();
        assert_eq!(all, vec![(43009, 0), (43010, 1), (43011, 0), (42403, 1)]);
        assert_eq!(counts.get(12345), 0);
    }
}
