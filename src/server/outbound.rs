//! [`DeliverWindow`]: the deliver_sm smppd has sent and the client has not yet answered.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

/// One deliver_sm in flight.
#[derive(Debug, Clone, Copy)]
struct InFlight {
    sequence_number: u32,
    key: u64,
    sent: Instant,
}

/// deliver_sm in flight, oldest first, at most `capacity` of them. A window is a handful of
/// entries, so a scan finds an answer's entry faster than a map would be kept up to date.
#[derive(Debug)]
pub(super) struct DeliverWindow {
    capacity: usize,
    in_flight: VecDeque<InFlight>,
}

impl DeliverWindow {
    pub(super) fn new(capacity: usize) -> Self {
        DeliverWindow {
            capacity,
            in_flight: VecDeque::new(),
        }
    }

    pub(super) fn len(&self) -> usize {
        self.in_flight.len()
    }

    pub(super) fn has_room(&self) -> bool {
        self.in_flight.len() < self.capacity
    }

    /// Records a deliver_sm sent at `now`; the caller checked [`DeliverWindow::has_room`].
    pub(super) fn sent(&mut self, sequence_number: u32, key: u64, now: Instant) {
        self.in_flight.push_back(InFlight {
            sequence_number,
            key,
            sent: now,
        });
    }

    /// The key of the deliver_sm answered by `sequence_number`, if it is in flight.
    pub(super) fn answered(&mut self, sequence_number: u32) -> Option<u64> {
        let at = self
            .in_flight
            .iter()
            .position(|f| f.sequence_number == sequence_number)?;
        self.in_flight.remove(at).map(|f| f.key)
    }

    /// When the oldest deliver_sm in flight will have waited `timeout`.
    pub(super) fn deadline(&self, timeout: Duration) -> Option<Instant> {
        // The minimum rather than the front: a driver's clock is monotonic, but nothing here
        // should depend on that to stay correct.
        let oldest = self.in_flight.iter().map(|f| f.sent).min()?;
        oldest.checked_add(timeout)
    }

    /// Empties the window, giving back every key still in flight, oldest first.
    pub(super) fn drain(&mut self) -> Vec<u64> {
        self.in_flight.drain(..).map(|f| f.key).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_match_by_sequence_number_in_any_order() {
        let t = Instant::now();
        let mut w = DeliverWindow::new(2);
        w.sent(7, 70, t);
        assert!(w.has_room());
        w.sent(8, 80, t + Duration::from_secs(1));
        assert!(!w.has_room());
        assert_eq!(
            w.deadline(Duration::from_secs(5)),
            Some(t + Duration::from_secs(5))
        );
        assert_eq!(
            w.answered(9),
            None,
            "unknown sequence numbers match nothing"
        );
        assert_eq!(w.answered(7), Some(70));
        assert_eq!(w.answered(7), None, "an answer counts once");
        assert_eq!(
            w.deadline(Duration::from_secs(5)),
            Some(t + Duration::from_secs(6))
        );
        assert_eq!(w.drain(), vec![80]);
        assert_eq!(w.len(), 0);
        assert_eq!(w.deadline(Duration::from_secs(5)), None);
    }
}
