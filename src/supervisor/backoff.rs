//! [`Backoff`]: how long a channel waits before reconnecting.
//!
//! Exponential growth from about a second up to a ceiling (`reconnection-timeout`, default
//! 180 s, at least 10 s), with full jitter: each wait is drawn uniformly from zero to the
//! current step, so a fleet of daemons that lost the same SMSC does not reconnect in
//! lock-step. Only a session that proved healthy resets the growth ([`proved_healthy`]): a
//! bind alone does not, or an SMSC that accepts every bind and then drops the link would be
//! reconnected at the first step for ever. Sans-I/O: the caller sleeps and measures, and the
//! randomness is a [`Jitter`] that tests replace.

use std::time::Duration;

use thiserror::Error;

/// Default `reconnection-timeout`, seconds.
pub(crate) const DEFAULT_RECONNECTION_TIMEOUT_SECS: u64 = 180;
/// Smallest `reconnection-timeout` Genesys accepts, seconds.
pub(crate) const MIN_RECONNECTION_TIMEOUT_SECS: u64 = 10;
/// The first step of the growth.
pub(crate) const INITIAL_STEP: Duration = Duration::from_secs(1);

/// How long a session must stay bound, without any traffic, to count as healthy.
pub const HEALTHY_AFTER: Duration = Duration::from_secs(60);

/// Whether a session that ended proved the link healthy, so that the next failure starts the
/// back-off from the first step again: it stayed bound for [`HEALTHY_AFTER`], or it completed
/// an exchange (`exchanges`: submit_sm the SMSC accepted plus deliver_sm / data_sm it sent).
pub fn proved_healthy(bound_for: Duration, exchanges: u64) -> bool {
    bound_for >= HEALTHY_AFTER || exchanges > 0
}

/// A `reconnection-timeout` that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("reconnection-timeout is {0} s; it must be at least {MIN_RECONNECTION_TIMEOUT_SECS} s")]
pub struct BackoffError(pub u64);

/// A source of uniform fractions in `[0, 1]`, scaled to pick a wait inside a step.
pub trait Jitter: Send {
    /// A value in `0..=u32::MAX`, taken as a fraction of `u32::MAX`.
    fn next_u32(&mut self) -> u32;
}

/// The default jitter: xorshift32 seeded from the process's hash randomness. Not for
/// cryptography; enough to spread reconnects apart.
#[derive(Debug, Clone)]
pub(crate) struct XorShiftJitter(u32);

impl Default for XorShiftJitter {
    fn default() -> Self {
        use std::hash::{BuildHasher, RandomState};
        let seed = RandomState::new().hash_one(std::time::SystemTime::now()) as u32;
        XorShiftJitter(seed.max(1))
    }
}

impl Jitter for XorShiftJitter {
    fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }
}

/// Exponential back-off with full jitter between `INITIAL_STEP` and a ceiling.
pub struct Backoff {
    ceiling: Duration,
    step: Duration,
    jitter: Box<dyn Jitter>,
}

impl std::fmt::Debug for Backoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Backoff")
            .field("ceiling", &self.ceiling)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

impl Backoff {
    /// A back-off whose steps grow up to `reconnection_timeout_secs` (≥ 10).
    pub fn try_new(reconnection_timeout_secs: u64) -> Result<Self, BackoffError> {
        Self::with_jitter(
            reconnection_timeout_secs,
            Box::new(XorShiftJitter::default()),
        )
    }

    /// Same as [`Backoff::try_new`] with the randomness supplied (tests use a fixed one).
    pub fn with_jitter(
        reconnection_timeout_secs: u64,
        jitter: Box<dyn Jitter>,
    ) -> Result<Self, BackoffError> {
        if reconnection_timeout_secs < MIN_RECONNECTION_TIMEOUT_SECS {
            return Err(BackoffError(reconnection_timeout_secs));
        }
        Ok(Backoff {
            ceiling: Duration::from_secs(reconnection_timeout_secs),
            step: INITIAL_STEP,
            jitter,
        })
    }

    /// The current step: the longest the next wait can be.
    pub fn step(&self) -> Duration {
        self.step
    }

    /// The ceiling every step stays under.
    pub fn ceiling(&self) -> Duration {
        self.ceiling
    }

    /// How long to wait before the next attempt; doubles the step for the one after.
    pub fn next_delay(&mut self) -> Duration {
        // Integer arithmetic: a float product can round past Duration's range and panic.
        let step_ns = u64::try_from(self.step.as_nanos()).unwrap_or(u64::MAX);
        let scaled =
            u128::from(step_ns) * u128::from(self.jitter.next_u32()) / u128::from(u32::MAX);
        let delay = Duration::from_nanos(u64::try_from(scaled).unwrap_or(u64::MAX));
        self.step = self.step.saturating_mul(2).min(self.ceiling);
        delay
    }

    /// A session proved healthy ([`proved_healthy`]): the next failure starts from the first
    /// step again.
    pub fn reset(&mut self) {
        self.step = INITIAL_STEP;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Fixed(u32);
    impl Jitter for Fixed {
        fn next_u32(&mut self) -> u32 {
            self.0
        }
    }

    #[test]
    fn grows_to_the_ceiling_and_resets() {
        let mut b = Backoff::with_jitter(10, Box::new(Fixed(u32::MAX))).unwrap();
        let waits: Vec<u64> = (0..6).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(waits, vec![1, 2, 4, 8, 10, 10]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_secs(1));
    }

    #[test]
    fn jitter_stays_within_zero_and_the_step() {
        let mut b = Backoff::with_jitter(180, Box::new(Fixed(0))).unwrap();
        assert_eq!(b.next_delay(), Duration::ZERO);
        let mut b = Backoff::with_jitter(180, Box::new(Fixed(u32::MAX / 2))).unwrap();
        let half = b.next_delay();
        assert!(half > Duration::from_millis(499) && half < Duration::from_millis(501));
        let mut b = Backoff::try_new(180).unwrap();
        for _ in 0..1000 {
            let step = b.step();
            let d = b.next_delay();
            assert!(d <= step && step <= b.ceiling());
        }
    }

    #[test]
    fn a_huge_ceiling_does_not_overflow() {
        let mut b = Backoff::with_jitter(u64::MAX, Box::new(Fixed(u32::MAX))).unwrap();
        for _ in 0..200 {
            assert!(b.next_delay() <= b.ceiling());
        }
    }

    #[test]
    fn a_bind_alone_is_not_health() {
        assert!(!proved_healthy(Duration::ZERO, 0));
        assert!(!proved_healthy(HEALTHY_AFTER - Duration::from_millis(1), 0));
        assert!(proved_healthy(HEALTHY_AFTER, 0));
        assert!(proved_healthy(Duration::from_millis(5), 1));
    }

    #[test]
    fn ceiling_below_ten_seconds_is_refused() {
        assert_eq!(Backoff::try_new(9).unwrap_err(), BackoffError(9));
        assert!(Backoff::try_new(DEFAULT_RECONNECTION_TIMEOUT_SECS).is_ok());
    }
}
