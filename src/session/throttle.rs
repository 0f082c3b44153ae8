//! [`Throttle`]: the pause in sending after the SMSC says it is overloaded.
//!
//! ESME_RTHROTTLED and ESME_RMSGQFUL mean "not now", not "never": the message goes back to
//! the head of the queue and sending pauses. Each further throttling answer doubles the
//! pause up to a ceiling; an accepted submit resets it, so a brief overload costs little.

use std::time::{Duration, Instant};

/// Doubling pause after throttling responses, reset by success.
#[derive(Debug, Clone)]
pub struct Throttle {
    first: Duration,
    max: Duration,
    next: Duration,
    paused_until: Option<Instant>,
}

impl Throttle {
    /// No pause yet; the first will last `first`, later ones up to `max`.
    pub fn new(first: Duration, max: Duration) -> Self {
        let max = max.max(first);
        Throttle {
            first,
            max,
            next: first,
            paused_until: None,
        }
    }

    /// The SMSC answered with a throttling status at `now`: pause, and lengthen the next
    /// pause. Returns when sending may resume. Several answers arriving together (a full
    /// window throttled at once) extend the pause only from its current end, not stack up.
    pub fn on_throttled(&mut self, now: Instant) -> Instant {
        if let Some(until) = self.paused_until {
            if until > now {
                return until;
            }
        }
        let until = now + self.next;
        self.paused_until = Some(until);
        self.next = self.next.saturating_mul(2).min(self.max);
        until
    }

    /// A submit was accepted: the overload is over.
    pub fn on_success(&mut self) {
        self.next = self.first;
    }

    /// When sending may resume, if it is paused at `now`.
    pub fn paused_until(&self, now: Instant) -> Option<Instant> {
        self.paused_until.filter(|until| *until > now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn pause_grows_to_the_ceiling_and_resets_on_success() {
        let t0 = Instant::now();
        let mut t = Throttle::new(S, 4 * S);
        assert_eq!(t.paused_until(t0), None);
        assert_eq!(t.on_throttled(t0), t0 + S);
        assert_eq!(t.paused_until(t0), Some(t0 + S));
        assert_eq!(t.paused_until(t0 + S), None);
        assert_eq!(t.on_throttled(t0 + S), t0 + 3 * S);
        assert_eq!(t.on_throttled(t0 + 3 * S), t0 + 7 * S);
        assert_eq!(t.on_throttled(t0 + 7 * S), t0 + 11 * S);
        t.on_success();
        assert_eq!(t.on_throttled(t0 + 11 * S), t0 + 12 * S);
    }

    #[test]
    fn answers_during_a_pause_do_not_stack() {
        let t0 = Instant::now();
        let mut t = Throttle::new(S, 8 * S);
        assert_eq!(t.on_throttled(t0), t0 + S);
        assert_eq!(t.on_throttled(t0), t0 + S);
        assert_eq!(t.on_throttled(t0 + S / 2), t0 + S);
        assert_eq!(t.on_throttled(t0 + S), t0 + 3 * S);
    }
}
