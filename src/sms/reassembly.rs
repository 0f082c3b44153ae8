//! Reassembly of inbound concatenated messages (UDH IEI 0x00/0x08 or SAR TLVs).
//!
//! Sans-I/O: the caller passes `now` with every event and calls [`Reassembler::expire`]
//! from its timer. Memory is bounded by a maximum number of incomplete sets and of
//! buffered octets; when either is exceeded the oldest set is evicted and reported, so the
//! daemon can log what it lost rather than grow without bound.

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::time::{Duration, Instant};

use super::udh::{ConcatInfo, ConcatRef};

/// Identifies the segments of one message. Two senders may pick the same reference, so
/// the addresses are part of the key; so is the total, because a sender that reuses a
/// reference for a message of another length starts a new set.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SetKey {
    /// source_addr of the deliver_sm.
    pub source: String,
    /// destination_addr of the deliver_sm.
    pub destination: String,
    /// The concatenation reference, with its width.
    pub reference: ConcatRef,
    /// The number of segments announced.
    pub total: u8,
}

/// One inbound segment, borrowed from the PDU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fragment<'a> {
    /// source_addr.
    pub source: &'a str,
    /// destination_addr.
    pub destination: &'a str,
    /// From [`super::udh::parse_udh`] or from the SAR TLVs.
    pub concat: ConcatInfo,
    /// The user data after the UDH (or all of short_message for SAR).
    pub payload: &'a [u8],
}

/// Bounds of a [`Reassembler`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReassemblyLimits {
    /// Incomplete sets held at once.
    pub max_sets: usize,
    /// Octets of payload held at once, over all sets.
    pub max_bytes: usize,
    /// How long after its first segment an incomplete set is dropped.
    pub timeout: Duration,
    /// How long after completion a repeated segment of the same set is recognised as a
    /// duplicate (an SMSC re-sending after a lost deliver_sm_resp) instead of starting a
    /// new set that could only expire. A new message reusing the same key within this
    /// window would lose its segments, so keep it short; zero disables it.
    pub duplicate_window: Duration,
}

impl Default for ReassemblyLimits {
    /// 1 000 sets, 1 MiB, 5 minutes, 30 s duplicate window: generous for one SMPP bind.
    fn default() -> Self {
        ReassemblyLimits {
            max_sets: 1_000,
            max_bytes: 1 << 20,
            timeout: Duration::from_secs(300),
            duplicate_window: Duration::from_secs(30),
        }
    }
}

/// A message whose segments all arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Complete {
    /// Whose segments these were.
    pub key: SetKey,
    /// Payloads in segment order (seqnum 1 first).
    pub parts: Vec<Vec<u8>>,
}

impl Complete {
    /// The payloads joined, ready for [`super::decode`] (not for packed GSM, whose parts
    /// each start with their own fill bits).
    pub fn concat(&self) -> Vec<u8> {
        self.parts.concat()
    }
}

/// Why a set was dropped before it completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// Its timeout passed.
    Expired,
    /// Evicted to stay within `max_sets`.
    TooManySets,
    /// Evicted to stay within `max_bytes`.
    TooManyBytes,
}

/// An incomplete set that was given up, for the caller to report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dropped {
    /// The set.
    pub key: SetKey,
    /// How many distinct segments had arrived.
    pub received: usize,
    /// Why it was dropped.
    pub reason: DropReason,
}

/// What [`Reassembler::push`] did with a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pushed {
    /// The segment completed its message.
    Complete(Complete),
    /// Stored; more segments are awaited.
    Stored,
    /// A segment with this seqnum was already held; the first copy is kept.
    Duplicate,
}

/// A segment that cannot belong to any message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReassemblyError {
    /// seqnum 0, or above the total (TS 23.040 says to ignore such elements).
    #[error("segment number {seqnum} is outside 1..={total}")]
    BadSeqnum {
        /// The seqnum.
        seqnum: u8,
        /// The total.
        total: u8,
    },
    /// A total of 0 segments.
    #[error("a concatenated message cannot have 0 segments")]
    ZeroTotal,
    /// A set whose segments together exceed the whole byte budget; it was dropped and
    /// reported.
    #[error("concatenated message of at least {bytes} octets exceeds the reassembly budget of {max_bytes}")]
    SetTooLarge {
        /// Octets the set would hold with this segment.
        bytes: usize,
        /// The configured budget.
        max_bytes: usize,
    },
    /// One segment larger than the whole byte budget.
    #[error("segment of {len} octets exceeds the reassembly budget of {max_bytes}")]
    TooLarge {
        /// The payload length.
        len: usize,
        /// The configured budget.
        max_bytes: usize,
    },
}

#[derive(Debug)]
struct PartialSet {
    parts: Vec<Option<Vec<u8>>>,
    received: usize,
    bytes: usize,
    first_seen: Instant,
    order: u64,
}

/// Holds incomplete concatenated messages until they complete, expire or are evicted.
#[derive(Debug)]
pub struct Reassembler {
    limits: ReassemblyLimits,
    sets: HashMap<SetKey, PartialSet>,
    /// Arrival order of the sets, oldest first, for eviction and expiry.
    by_age: BTreeMap<u64, SetKey>,
    next_order: u64,
    bytes: usize,
    /// Sets completed within the duplicate window, oldest first, at most `max_sets`.
    recent: VecDeque<(Instant, SetKey)>,
    /// The keys of `recent`, for a constant-time duplicate check.
    recent_keys: HashSet<SetKey>,
}

impl Reassembler {
    /// An empty reassembler with these bounds.
    pub fn new(limits: ReassemblyLimits) -> Reassembler {
        Reassembler {
            limits,
            sets: HashMap::new(),
            by_age: BTreeMap::new(),
            next_order: 0,
            bytes: 0,
            recent: VecDeque::new(),
            recent_keys: HashSet::new(),
        }
    }

    /// Incomplete sets held.
    pub fn pending_sets(&self) -> usize {
        self.sets.len()
    }

    /// Payload octets held.
    pub fn pending_bytes(&self) -> usize {
        self.bytes
    }

    /// Adds one segment. Evictions needed to make room are appended to `dropped`.
    pub fn push(
        &mut self,
        fragment: Fragment<'_>,
        now: Instant,
        dropped: &mut Vec<Dropped>,
    ) -> Result<Pushed, ReassemblyError> {
        let ConcatInfo {
            reference,
            total,
            seqnum,
        } = fragment.concat;
        if total == 0 {
            return Err(ReassemblyError::ZeroTotal);
        }
        if seqnum == 0 || seqnum > total {
            return Err(ReassemblyError::BadSeqnum { seqnum, total });
        }
        let len = fragment.payload.len();
        if len > self.limits.max_bytes {
            return Err(ReassemblyError::TooLarge {
                len,
                max_bytes: self.limits.max_bytes,
            });
        }
        let key = SetKey {
            source: fragment.source.to_owned(),
            destination: fragment.destination.to_owned(),
            reference,
            total,
        };
        if total == 1 {
            return Ok(Pushed::Complete(Complete {
                key,
                parts: vec![fragment.payload.to_vec()],
            }));
        }
        let index = usize::from(seqnum - 1);
        self.forget_recent(now);
        if self.recent_keys.contains(&key) {
            return Ok(Pushed::Duplicate);
        }
        if let Some(set) = self.sets.get(&key) {
            if matches!(set.parts.get(index), Some(Some(_))) {
                return Ok(Pushed::Duplicate);
            }
        } else {
            // A new set: make room for it first.
            while self.sets.len() >= self.limits.max_sets.max(1) {
                if !self.evict_oldest(DropReason::TooManySets, None, dropped) {
                    break;
                }
            }
            let order = self.next_order;
            self.next_order += 1;
            self.by_age.insert(order, key.clone());
            self.sets.insert(
                key.clone(),
                PartialSet {
                    parts: vec![None; usize::from(total)],
                    received: 0,
                    bytes: 0,
                    first_seen: now,
                    order,
                },
            );
        }
        while self.bytes + len > self.limits.max_bytes {
            if !self.evict_oldest(DropReason::TooManyBytes, Some(&key), dropped) {
                // Only this set is left and it cannot grow within the budget: it can
                // never complete, so drop it now rather than exceed the bound.
                let held = self.sets.get(&key).map_or(0, |set| set.bytes);
                if let Some(order) = self.sets.get(&key).map(|set| set.order) {
                    self.remove(order, DropReason::TooManyBytes, dropped);
                }
                return Err(ReassemblyError::SetTooLarge {
                    bytes: held + len,
                    max_bytes: self.limits.max_bytes,
                });
            }
        }
        let Some(set) = self.sets.get_mut(&key) else {
            return Ok(Pushed::Stored);
        };
        if let Some(slot) = set.parts.get_mut(index) {
            *slot = Some(fragment.payload.to_vec());
        }
        set.received += 1;
        set.bytes += len;
        self.bytes += len;
        if set.received < set.parts.len() {
            return Ok(Pushed::Stored);
        }
        let Some(set) = self.sets.remove(&key) else {
            return Ok(Pushed::Stored);
        };
        self.by_age.remove(&set.order);
        self.bytes -= set.bytes;
        if !self.limits.duplicate_window.is_zero() {
            if self.recent.len() >= self.limits.max_sets.max(1) {
                if let Some((_, old)) = self.recent.pop_front() {
                    self.recent_keys.remove(&old);
                }
            }
            self.recent.push_back((now, key.clone()));
            self.recent_keys.insert(key.clone());
        }
        let parts = set.parts.into_iter().flatten().collect();
        Ok(Pushed::Complete(Complete { key, parts }))
    }

    /// Drops the oldest set other than `keep`; false when there is none.
    fn evict_oldest(
        &mut self,
        reason: DropReason,
        keep: Option<&SetKey>,
        dropped: &mut Vec<Dropped>,
    ) -> bool {
        let victim = self
            .by_age
            .iter()
            .find(|(_, k)| Some(*k) != keep)
            .map(|(&order, _)| order);
        let Some(order) = victim else {
            return false;
        };
        self.remove(order, reason, dropped);
        true
    }

    fn remove(&mut self, order: u64, reason: DropReason, dropped: &mut Vec<Dropped>) {
        let Some(key) = self.by_age.remove(&order) else {
            return;
        };
        if let Some(set) = self.sets.remove(&key) {
            self.bytes -= set.bytes;
            dropped.push(Dropped {
                key,
                received: set.received,
                reason,
            });
        }
    }

    /// Forgets completed sets older than the duplicate window.
    fn forget_recent(&mut self, now: Instant) {
        while let Some((done, _)) = self.recent.front() {
            if now.saturating_duration_since(*done) < self.limits.duplicate_window {
                break;
            }
            if let Some((_, old)) = self.recent.pop_front() {
                self.recent_keys.remove(&old);
            }
        }
    }

    /// Drops every incomplete set whose timeout has passed at `now`, returning them.
    pub fn expire(&mut self, now: Instant) -> Vec<Dropped> {
        self.forget_recent(now);
        let mut dropped = Vec::new();
        while let Some((&order, key)) = self.by_age.iter().next() {
            let expired = self.sets.get(key).is_none_or(|set| {
                now.saturating_duration_since(set.first_seen) >= self.limits.timeout
            });
            if !expired {
                break;
            }
            self.remove(order, DropReason::Expired, &mut dropped);
        }
        dropped
    }

    /// When the oldest incomplete set expires, for the caller's timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        let (_, key) = self.by_age.iter().next()?;
        let set = self.sets.get(key)?;
        Some(set.first_seen + self.limits.timeout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frag(reference: u8, total: u8, seqnum: u8, payload: &[u8]) -> Fragment<'_> {
        Fragment {
            source: "123",
            destination: "456",
            concat: ConcatInfo {
                reference: ConcatRef::Udh8(reference),
                total,
                seqnum,
            },
            payload,
        }
    }

    #[test]
    fn out_of_order_and_duplicates_complete_once() {
        let mut r = Reassembler::new(ReassemblyLimits::default());
        let now = Instant::now();
        let mut dropped = Vec::new();
        assert_eq!(
            r.push(frag(1, 3, 3, b"c"), now, &mut dropped),
            Ok(Pushed::Stored)
        );
        assert_eq!(
            r.push(frag(1, 3, 1, b"a"), now, &mut dropped),
            Ok(Pushed::Stored)
        );
        assert_eq!(
            r.push(frag(1, 3, 1, b"x"), now, &mut dropped),
            Ok(Pushed::Duplicate)
        );
        assert_eq!(r.pending_bytes(), 2);
        let Ok(Pushed::Complete(done)) = r.push(frag(1, 3, 2, b"b"), now, &mut dropped) else {
            panic!("expected completion");
        };
        assert_eq!(done.concat(), b"abc");
        assert_eq!(r.pending_sets(), 0);
        assert_eq!(r.pending_bytes(), 0);
        assert!(dropped.is_empty());
    }

    #[test]
    fn late_duplicate_after_completion_is_recognised_within_the_window() {
        let mut r = Reassembler::new(ReassemblyLimits::default());
        let t0 = Instant::now();
        let mut d = Vec::new();
        r.push(frag(1, 2, 1, b"a"), t0, &mut d).unwrap();
        assert!(matches!(
            r.push(frag(1, 2, 2, b"b"), t0, &mut d),
            Ok(Pushed::Complete(_))
        ));
        let soon = t0 + Duration::from_secs(29);
        assert_eq!(
            r.push(frag(1, 2, 2, b"b"), soon, &mut d),
            Ok(Pushed::Duplicate)
        );
        assert_eq!(r.pending_sets(), 0);
        // After the window the same key starts a new message.
        let later = t0 + Duration::from_secs(30);
        assert_eq!(
            r.push(frag(1, 2, 2, b"b"), later, &mut d),
            Ok(Pushed::Stored)
        );
        assert_eq!(r.pending_sets(), 1);
    }

    #[test]
    fn sets_are_keyed_by_addresses_reference_width_and_total() {
        let mut r = Reassembler::new(ReassemblyLimits::default());
        let now = Instant::now();
        let mut d = Vec::new();
        let mut other_sender = frag(1, 2, 1, b"x");
        other_sender.source = "999";
        let mut wide = frag(1, 2, 1, b"y");
        wide.concat.reference = ConcatRef::Udh16(1);
        let mut sar = frag(1, 2, 1, b"z");
        sar.concat.reference = ConcatRef::Sar(1);
        for f in [
            frag(1, 2, 1, b"a"),
            other_sender,
            wide,
            sar,
            frag(1, 3, 1, b"t"),
        ] {
            assert_eq!(r.push(f, now, &mut d), Ok(Pushed::Stored));
        }
        assert_eq!(r.pending_sets(), 5);
        let Ok(Pushed::Complete(done)) = r.push(frag(1, 2, 2, b"b"), now, &mut d) else {
            panic!("expected completion");
        };
        assert_eq!(done.concat(), b"ab");
        assert_eq!(r.pending_sets(), 4);
    }

    #[test]
    fn bad_segment_numbers_are_rejected() {
        let mut r = Reassembler::new(ReassemblyLimits::default());
        let now = Instant::now();
        let mut d = Vec::new();
        assert_eq!(
            r.push(frag(1, 3, 0, b""), now, &mut d),
            Err(ReassemblyError::BadSeqnum {
                seqnum: 0,
                total: 3
            })
        );
        assert_eq!(
            r.push(frag(1, 3, 4, b""), now, &mut d),
            Err(ReassemblyError::BadSeqnum {
                seqnum: 4,
                total: 3
            })
        );
        assert_eq!(
            r.push(frag(1, 0, 0, b""), now, &mut d),
            Err(ReassemblyError::ZeroTotal)
        );
    }

    #[test]
    fn oldest_set_is_evicted_and_reported() {
        let limits = ReassemblyLimits {
            max_sets: 2,
            max_bytes: 10,
            timeout: Duration::from_secs(60),
            duplicate_window: Duration::ZERO,
        };
        let mut r = Reassembler::new(limits);
        let now = Instant::now();
        let mut d = Vec::new();
        r.push(frag(1, 2, 1, b"aaaa"), now, &mut d).unwrap();
        r.push(frag(2, 2, 1, b"bbbb"), now, &mut d).unwrap();
        r.push(frag(3, 2, 1, b"cc"), now, &mut d).unwrap();
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].key.reference, ConcatRef::Udh8(1));
        assert_eq!(d[0].reason, DropReason::TooManySets);
        assert_eq!(d[0].received, 1);
        // 4 + 2 held; 6 more octets exceed 10, so set 2 goes.
        r.push(frag(3, 2, 2, b"dddddd"), now, &mut d)
            .map(|_| ())
            .unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[1].reason, DropReason::TooManyBytes);
        assert_eq!(d[1].key.reference, ConcatRef::Udh8(2));
        assert!(r.pending_bytes() <= 10);
    }

    /// Regression (fuzz/text): a set that alone outgrew the budget was kept, exceeding it.
    #[test]
    fn a_set_larger_than_the_budget_is_dropped_not_kept() {
        let limits = ReassemblyLimits {
            max_bytes: 10,
            ..ReassemblyLimits::default()
        };
        let mut r = Reassembler::new(limits);
        let now = Instant::now();
        let mut d = Vec::new();
        r.push(frag(1, 3, 1, b"aaaaaa"), now, &mut d).unwrap();
        assert_eq!(
            r.push(frag(1, 3, 2, b"bbbbbb"), now, &mut d),
            Err(ReassemblyError::SetTooLarge {
                bytes: 12,
                max_bytes: 10
            })
        );
        assert_eq!(r.pending_bytes(), 0);
        assert_eq!(r.pending_sets(), 0);
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].reason, DropReason::TooManyBytes);
        assert_eq!(d[0].received, 1);
    }

    #[test]
    fn incomplete_sets_expire() {
        let limits = ReassemblyLimits {
            timeout: Duration::from_secs(10),
            ..ReassemblyLimits::default()
        };
        let mut r = Reassembler::new(limits);
        let t0 = Instant::now();
        let mut d = Vec::new();
        r.push(frag(1, 2, 1, b"a"), t0, &mut d).unwrap();
        r.push(frag(2, 2, 1, b"b"), t0 + Duration::from_secs(5), &mut d)
            .unwrap();
        assert_eq!(r.next_deadline(), Some(t0 + Duration::from_secs(10)));
        assert!(r.expire(t0 + Duration::from_secs(9)).is_empty());
        let gone = r.expire(t0 + Duration::from_secs(10));
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].reason, DropReason::Expired);
        assert_eq!(gone[0].key.reference, ConcatRef::Udh8(1));
        assert_eq!(r.pending_sets(), 1);
        assert_eq!(r.expire(t0 + Duration::from_secs(15)).len(), 1);
        assert_eq!(r.pending_bytes(), 0);
    }
}
