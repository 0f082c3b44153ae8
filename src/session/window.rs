//! [`Window`]: the requests this session sent and still awaits a response for.
//!
//! Keyed by `sequence_number`, each entry carrying its own deadline (`now` + response
//! timeout at the time it was sent). The capacity is `x-smpp-submit-window-size`: the window
//! refuses an entry beyond it, so the driver cannot exceed it even by mistake.
//!
//! An entry that expires says whether the peer answered anything sent after it meanwhile
//! ([`Expired::answered_since`]): a peer that answers later requests lost this one, a peer
//! that answers none has stopped answering, and the driver treats the two differently.

use crate::seq_map::SeqMap;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// In-flight requests with per-request deadlines; never more than `capacity` of them.
#[derive(Debug)]
pub struct Window<T> {
    capacity: usize,
    timeout: Duration,
    /// Send order breaks deadline ties and lets [`Window::drain`] return entries in order.
    ordinal: u64,
    /// By sequence number, hashed cheaply (see [`crate::seq_map`]).
    entries: SeqMap<u32, Slot<T>>,
    deadlines: BTreeMap<(Instant, u64), u32>,
    /// The send ordinal of the newest entry answered so far (0: none yet).
    newest_answered: u64,
}

#[derive(Debug)]
struct Slot<T> {
    item: T,
    deadline: Instant,
    ordinal: u64,
}

/// An entry whose deadline passed, taken out of the window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expired<T> {
    /// Its sequence number.
    pub sequence: u32,
    /// The item.
    pub item: T,
    /// Whether an entry sent after this one has been answered: the peer is answering, just
    /// not this request. `false` when nothing sent since was answered.
    pub answered_since: bool,
}

impl<T> Window<T> {
    /// An empty window holding at most `capacity` entries (at least 1), each expiring
    /// `timeout` after it was inserted.
    pub fn new(capacity: usize, timeout: Duration) -> Self {
        Window {
            capacity: capacity.max(1),
            timeout,
            ordinal: 0,
            entries: SeqMap::default(),
            deadlines: BTreeMap::new(),
            newest_answered: 0,
        }
    }

    /// The most entries the window holds.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many entries await a response.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing awaits a response.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether another request may be sent now.
    pub fn has_room(&self) -> bool {
        self.entries.len() < self.capacity
    }

    /// Records a request sent at `now` under `sequence`. Gives the item back when the window
    /// is full or the number is already in flight.
    pub fn insert(&mut self, sequence: u32, item: T, now: Instant) -> Result<(), T> {
        if !self.has_room() || self.entries.contains_key(&sequence) {
            return Err(item);
        }
        let deadline = now + self.timeout;
        self.ordinal += 1;
        self.deadlines.insert((deadline, self.ordinal), sequence);
        self.entries.insert(
            sequence,
            Slot {
                item,
                deadline,
                ordinal: self.ordinal,
            },
        );
        Ok(())
    }

    /// Whether a request with `sequence` awaits its response.
    pub fn contains(&self, sequence: u32) -> bool {
        self.entries.contains_key(&sequence)
    }

    /// Takes out the entry a response with `sequence` answers; `None` for an unknown number
    /// (a late or spurious response).
    pub fn complete(&mut self, sequence: u32) -> Option<T> {
        let slot = self.entries.remove(&sequence)?;
        self.deadlines.remove(&(slot.deadline, slot.ordinal));
        self.newest_answered = self.newest_answered.max(slot.ordinal);
        Some(slot.item)
    }

    /// The earliest deadline among the entries, for the driver's timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.keys().next().map(|(d, _)| *d)
    }

    /// Takes out every entry whose deadline is at or before `now`, oldest first.
    pub fn expire(&mut self, now: Instant) -> Vec<Expired<T>> {
        let mut out = Vec::new();
        while let Some((&(deadline, ordinal), &sequence)) = self.deadlines.iter().next() {
            if deadline > now {
                break;
            }
            self.deadlines.remove(&(deadline, ordinal));
            if let Some(slot) = self.entries.remove(&sequence) {
                out.push(Expired {
                    sequence,
                    item: slot.item,
                    answered_since: self.newest_answered > slot.ordinal,
                });
            }
        }
        out
    }

    /// Takes out every entry in the order they were sent (link lost or stop: hand them back).
    pub fn drain(&mut self) -> Vec<(u32, T)> {
        self.deadlines.clear();
        let mut all: Vec<(u64, u32, T)> = self
            .entries
            .drain()
            .map(|(seq, slot)| (slot.ordinal, seq, slot.item))
            .collect();
        all.sort_by_key(|(ordinal, _, _)| *ordinal);
        all.into_iter().map(|(_, seq, item)| (seq, item)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Duration = Duration::from_secs(30);

    #[test]
    fn never_holds_more_than_capacity() {
        let now = Instant::now();
        let mut w = Window::new(3, T);
        for seq in 1..=3 {
            assert!(w.insert(seq, seq * 10, now).is_ok());
        }
        assert!(!w.has_room());
        assert_eq!(w.insert(4, 40, now), Err(40));
        assert_eq!(w.len(), 3);
        assert_eq!(w.complete(2), Some(20));
        assert_eq!(w.complete(2), None);
        assert!(w.insert(4, 40, now).is_ok());
        assert_eq!(w.len(), 3);
    }

    #[test]
    fn refuses_a_sequence_already_in_flight() {
        let now = Instant::now();
        let mut w = Window::new(3, T);
        w.insert(7, "a", now).unwrap();
        assert_eq!(w.insert(7, "b", now), Err("b"));
    }

    #[test]
    fn expires_exactly_at_the_deadline_oldest_first() {
        let t0 = Instant::now();
        let mut w = Window::new(10, T);
        w.insert(1, 'a', t0).unwrap();
        w.insert(2, 'b', t0 + Duration::from_secs(1)).unwrap();
        w.insert(3, 'c', t0 + Duration::from_secs(2)).unwrap();
        assert_eq!(w.next_deadline(), Some(t0 + T));
        assert!(w.expire(t0 + T - Duration::from_millis(1)).is_empty());
        let first: Vec<(u32, char)> = w
            .expire(t0 + T)
            .into_iter()
            .map(|e| (e.sequence, e.item))
            .collect();
        assert_eq!(first, vec![(1, 'a')]);
        w.complete(2);
        assert_eq!(w.next_deadline(), Some(t0 + Duration::from_secs(2) + T));
        let last: Vec<(u32, char)> = w
            .expire(t0 + T * 2)
            .into_iter()
            .map(|e| (e.sequence, e.item))
            .collect();
        assert_eq!(last, vec![(3, 'c')]);
        assert!(w.is_empty());
        assert_eq!(w.next_deadline(), None);
    }

    proptest::proptest! {
        /// Any mix of sends, responses and timeouts: never more than the capacity in flight,
        /// and every entry comes out exactly once (completed, expired or drained).
        #[test]
        fn capacity_holds_and_nothing_is_lost(
            capacity in 1usize..20,
            ops in proptest::collection::vec((0u8..3, 0u32..40, 0u64..5_000), 1..400),
        ) {
            let t0 = Instant::now();
            let mut w = Window::new(capacity, T);
            let mut now = t0;
            let mut next_seq = 1u32;
            let mut inserted = 0usize;
            let mut out = 0usize;
            for (op, pick, step_ms) in ops {
                now += Duration::from_millis(step_ms);
                match op {
                    0 => {
                        if w.insert(next_seq, next_seq, now).is_ok() {
                            inserted += 1;
                        }
                        next_seq += 1;
                    }
                    1 => out += usize::from(w.complete(pick).is_some()),
                    _ => out += w.expire(now).len(),
                }
                proptest::prop_assert!(w.len() <= capacity);
            }
            out += w.drain().len();
            proptest::prop_assert_eq!(inserted, out);
        }
    }

    #[test]
    fn an_expired_entry_says_whether_anything_sent_after_it_was_answered() {
        let t0 = Instant::now();
        let mut w = Window::new(10, T);
        for seq in 1..=4 {
            w.insert(seq, seq, t0).unwrap();
        }
        // The peer answers 3 (sent after 1 and 2), not 1 and 2; 4 gets nothing either.
        w.complete(3);
        w.insert(5, 5, t0 + Duration::from_secs(1)).unwrap();
        let answered: Vec<(u32, bool)> = w
            .expire(t0 + T + Duration::from_secs(1))
            .into_iter()
            .map(|e| (e.sequence, e.answered_since))
            .collect();
        assert_eq!(
            answered,
            vec![(1, true), (2, true), (4, false), (5, false)],
            "only entries sent before the answered one were skipped by a peer that answers"
        );
    }

    #[test]
    fn drain_returns_everything_in_send_order() {
        let now = Instant::now();
        let mut w = Window::new(10, T);
        for seq in [9, 3, 5, 1] {
            w.insert(seq, seq, now).unwrap();
        }
        let drained: Vec<u32> = w.drain().into_iter().map(|(s, _)| s).collect();
        assert_eq!(drained, vec![9, 3, 5, 1]);
        assert!(w.is_empty());
        assert_eq!(w.next_deadline(), None);
    }
}
