//! [`TokenBucket`]: the `x-smpp-submit-max-rate` cap on submits per second.
//!
//! Integer arithmetic in nanoseconds × rate, so a rate of 7/s is 7/s exactly, with no drift
//! from rounding an interval. The bucket starts full. Its burst is the smallest that still
//! lets a driver woken by millisecond timers reach the rate: one token, or 10 ms worth of
//! tokens when the rate is above 100/s. Over any period `t` at most `burst + rate × t`
//! messages pass.

use std::time::{Duration, Instant};

const NANOS_PER_SEC: u128 = 1_000_000_000;

/// A token bucket of `rate` tokens per second; rate 0 means unlimited.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    rate: u128,
    /// Capacity in units where one token is `NANOS_PER_SEC` units.
    capacity: u128,
    /// Current credit, same units.
    credit: u128,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket of `per_second` tokens per second, as of `now`.
    pub fn new(per_second: u32, now: Instant) -> Self {
        let rate = u128::from(per_second);
        let burst = (rate / 100).max(1);
        let capacity = burst * NANOS_PER_SEC;
        TokenBucket {
            rate,
            capacity,
            credit: capacity,
            last: now,
        }
    }

    /// The most tokens that can be taken at once after an idle spell.
    pub fn burst(&self) -> u32 {
        (self.capacity / NANOS_PER_SEC) as u32
    }

    fn refill(&mut self, now: Instant) {
        // A `now` earlier than the last one (clock read out of order) adds nothing.
        let elapsed = now.saturating_duration_since(self.last).as_nanos();
        if elapsed > 0 {
            self.credit = (self.credit + elapsed * self.rate).min(self.capacity);
            self.last = now;
        }
    }

    /// Takes one token if there is one; otherwise says when the next will be available.
    pub fn try_take(&mut self, now: Instant) -> Result<(), Instant> {
        if self.rate == 0 {
            return Ok(());
        }
        self.refill(now);
        if self.credit >= NANOS_PER_SEC {
            self.credit -= NANOS_PER_SEC;
            Ok(())
        } else {
            let missing = NANOS_PER_SEC - self.credit;
            let wait = missing.div_ceil(self.rate);
            Err(self.last + Duration::from_nanos(wait as u64))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends as fast as the bucket allows for `secs` seconds, jumping straight to each
    /// promised instant, and counts the sends.
    fn sends_in(rate: u32, secs: u64) -> u64 {
        let t0 = Instant::now();
        let end = t0 + Duration::from_secs(secs);
        let mut bucket = TokenBucket::new(rate, t0);
        let mut now = t0;
        let mut sent = 0;
        while now < end {
            match bucket.try_take(now) {
                Ok(()) => sent += 1,
                Err(at) => {
                    assert!(at > now, "a refusal must promise a later instant");
                    now = at;
                }
            }
        }
        sent
    }

    #[test]
    fn allows_the_rate_exactly_plus_the_initial_burst() {
        assert_eq!(sends_in(10, 10), 100);
        assert_eq!(sends_in(7, 3), 21);
        assert_eq!(sends_in(1, 5), 5);
        // 1000/s: burst of 10 at start, then 1000/s.
        assert_eq!(sends_in(1000, 2), 2000 + 10 - 1);
    }

    #[test]
    fn promised_instant_is_exact() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(4, t0);
        assert_eq!(b.try_take(t0), Ok(()));
        assert_eq!(b.try_take(t0), Err(t0 + Duration::from_millis(250)));
        assert_eq!(
            b.try_take(t0 + Duration::from_millis(249)),
            Err(t0 + Duration::from_millis(250))
        );
        assert_eq!(b.try_take(t0 + Duration::from_millis(250)), Ok(()));
    }

    #[test]
    fn idle_time_does_not_build_a_large_burst() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(10, t0);
        let later = t0 + Duration::from_secs(3600);
        assert_eq!(b.try_take(later), Ok(()));
        assert!(b.try_take(later).is_err());
        assert_eq!(TokenBucket::new(5000, t0).burst(), 50);
    }

    proptest::proptest! {
        /// Whatever the rate and however the caller polls, no span of time `t` ever sees more
        /// than `burst + rate × t` sends, and a caller that always waits as told is never
        /// refused at the instant it was promised.
        #[test]
        fn never_exceeds_burst_plus_rate(
            rate in 1u32..2000,
            gaps in proptest::collection::vec(0u64..2_000_000, 1..100),
        ) {
            let t0 = Instant::now();
            let mut bucket = TokenBucket::new(rate, t0);
            let burst = u128::from(bucket.burst());
            let mut now = t0;
            let mut sends = Vec::new();
            for gap in gaps {
                now += Duration::from_nanos(gap);
                while bucket.try_take(now).is_ok() {
                    sends.push(now);
                }
                if let Err(at) = bucket.try_take(now) {
                    proptest::prop_assert!(at > now);
                    proptest::prop_assert!(bucket.try_take(at).is_ok());
                    sends.push(at);
                    now = at;
                }
            }
            for (i, first) in sends.iter().enumerate() {
                for (j, last) in sends.iter().enumerate().skip(i) {
                    let span = last.duration_since(*first).as_nanos();
                    let allowed = burst + span * u128::from(rate) / 1_000_000_000;
                    proptest::prop_assert!((j - i + 1) as u128 <= allowed,
                        "{} sends in {span} ns at {rate}/s (burst {burst})", j - i + 1);
                }
            }
        }
    }

    #[test]
    fn zero_means_unlimited() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(0, t0);
        for _ in 0..100_000 {
            assert_eq!(b.try_take(t0), Ok(()));
        }
    }
}
