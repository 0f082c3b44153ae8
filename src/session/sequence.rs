//! [`SequenceNumbers`]: the `sequence_number` allocator for PDUs this session originates.

/// The largest sequence number SMPP v3.4 allows (section 3.2: 0x00000001 to 0x7FFFFFFF).
pub(crate) const MAX_SEQUENCE: u32 = 0x7FFF_FFFF;

/// Hands out sequence numbers 1, 2, … 0x7FFFFFFF, then 1 again; never 0, never above the
/// range the specification allows.
#[derive(Debug, Clone)]
pub struct SequenceNumbers {
    next: u32,
}

impl Default for SequenceNumbers {
    fn default() -> Self {
        SequenceNumbers::new()
    }
}

impl SequenceNumbers {
    /// An allocator whose first number is 1.
    pub fn new() -> Self {
        SequenceNumbers { next: 1 }
    }

    /// An allocator whose first number is `first` (out-of-range values start at 1); lets tests
    /// reach the wrap without two billion calls.
    pub fn starting_at(first: u32) -> Self {
        let next = if (1..=MAX_SEQUENCE).contains(&first) {
            first
        } else {
            1
        };
        SequenceNumbers { next }
    }

    /// The next sequence number.
    pub fn next_number(&mut self) -> u32 {
        let n = self.next;
        self.next = if n >= MAX_SEQUENCE { 1 } else { n + 1 };
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starts_at_one_and_counts_up() {
        let mut s = SequenceNumbers::new();
        assert_eq!(s.next_number(), 1);
        assert_eq!(s.next_number(), 2);
    }

    #[test]
    fn wraps_from_max_back_to_one_never_zero() {
        let mut s = SequenceNumbers::starting_at(MAX_SEQUENCE - 1);
        assert_eq!(s.next_number(), MAX_SEQUENCE - 1);
        assert_eq!(s.next_number(), MAX_SEQUENCE);
        assert_eq!(s.next_number(), 1);
        assert_eq!(SequenceNumbers::starting_at(0).next_number(), 1);
        assert_eq!(SequenceNumbers::starting_at(u32::MAX).next_number(), 1);
    }
}
