//! [`KeepAlive`]: when to send enquire_link, and when to declare the link dead.
//!
//! Any PDU received proves the SMSC is alive, so the idle clock restarts on receipt. When
//! nothing has been received for the interval, the driver sends enquire_link; when that is
//! not answered within the response timeout, the link is dead (TCP may not notice a peer
//! that vanished for many minutes).

use std::time::{Duration, Instant};

/// What the driver should do about keep-alive at a given instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeepAliveAction {
    /// Nothing yet.
    Wait,
    /// The link has been idle for the interval: send an enquire_link now and report its
    /// sequence number with [`KeepAlive::on_sent`].
    SendEnquireLink,
    /// The enquire_link sent earlier went unanswered past the response timeout.
    Dead,
}

/// Idle and response deadlines for enquire_link.
#[derive(Debug, Clone)]
pub struct KeepAlive {
    interval: Duration,
    timeout: Duration,
    last_received: Instant,
    /// Sequence number and deadline of the enquire_link awaiting its response.
    pending: Option<(u32, Instant)>,
}

impl KeepAlive {
    /// Starts the idle clock at `now` (typically when the bind succeeds).
    pub fn new(interval: Duration, timeout: Duration, now: Instant) -> Self {
        KeepAlive {
            interval,
            timeout,
            last_received: now,
            pending: None,
        }
    }

    /// Any PDU arrived from the SMSC.
    pub fn on_received(&mut self, now: Instant) {
        if now > self.last_received {
            self.last_received = now;
        }
    }

    /// The driver sent enquire_link `sequence` at `now`.
    pub fn on_sent(&mut self, sequence: u32, now: Instant) {
        self.pending = Some((sequence, now + self.timeout));
    }

    /// An enquire_link_resp arrived; returns whether it answered ours.
    pub fn on_response(&mut self, sequence: u32, now: Instant) -> bool {
        self.on_received(now);
        match self.pending {
            Some((pending, _)) if pending == sequence => {
                self.pending = None;
                true
            }
            _ => false,
        }
    }

    /// The sequence number of the enquire_link awaiting its response, if any.
    pub fn pending_sequence(&self) -> Option<u32> {
        self.pending.map(|(sequence, _)| sequence)
    }

    /// What to do at `now`.
    pub fn poll(&self, now: Instant) -> KeepAliveAction {
        match self.pending {
            Some((_, deadline)) if now >= deadline => KeepAliveAction::Dead,
            Some(_) => KeepAliveAction::Wait,
            None if now >= self.last_received + self.interval => KeepAliveAction::SendEnquireLink,
            None => KeepAliveAction::Wait,
        }
    }

    /// The next instant at which [`KeepAlive::poll`] may return something other than `Wait`.
    pub fn next_deadline(&self) -> Instant {
        match self.pending {
            Some((_, deadline)) => deadline,
            None => self.last_received + self.interval,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const I: Duration = Duration::from_secs(30);
    const R: Duration = Duration::from_secs(5);

    #[test]
    fn sends_after_the_idle_interval_and_not_before() {
        let t0 = Instant::now();
        let k = KeepAlive::new(I, R, t0);
        assert_eq!(k.next_deadline(), t0 + I);
        assert_eq!(
            k.poll(t0 + I - Duration::from_millis(1)),
            KeepAliveAction::Wait
        );
        assert_eq!(k.poll(t0 + I), KeepAliveAction::SendEnquireLink);
    }

    #[test]
    fn traffic_postpones_the_enquire_link() {
        let t0 = Instant::now();
        let mut k = KeepAlive::new(I, R, t0);
        k.on_received(t0 + Duration::from_secs(20));
        assert_eq!(k.poll(t0 + I), KeepAliveAction::Wait);
        assert_eq!(k.next_deadline(), t0 + Duration::from_secs(50));
    }

    #[test]
    fn unanswered_enquire_link_means_dead() {
        let t0 = Instant::now();
        let mut k = KeepAlive::new(I, R, t0);
        k.on_sent(42, t0 + I);
        assert_eq!(k.next_deadline(), t0 + I + R);
        assert_eq!(
            k.poll(t0 + I + R - Duration::from_millis(1)),
            KeepAliveAction::Wait
        );
        // Other traffic does not excuse a missing enquire_link_resp.
        k.on_received(t0 + I + Duration::from_secs(1));
        assert_eq!(k.poll(t0 + I + R), KeepAliveAction::Dead);
    }

    #[test]
    fn answered_enquire_link_restarts_the_idle_clock() {
        let t0 = Instant::now();
        let mut k = KeepAlive::new(I, R, t0);
        k.on_sent(42, t0 + I);
        assert!(!k.on_response(41, t0 + I + Duration::from_secs(1)));
        assert!(k.on_response(42, t0 + I + Duration::from_secs(2)));
        assert_eq!(k.poll(t0 + I + R), KeepAliveAction::Wait);
        assert_eq!(k.next_deadline(), t0 + I + Duration::from_secs(2) + I);
    }
}
