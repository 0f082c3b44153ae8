//! Message ids handed out in submit_sm_resp: unique per simulator run, in either style.

use std::sync::atomic::{AtomicU64, Ordering};

use super::config::MessageIdStyle;

/// Hands out ids from a counter. Decimal ids start at 1_000_000_000 and hex ids at
/// 0x1000_0000 so both have a fixed width (10 and 8 characters) for a long time; clients that
/// match receipts by id must not assume that, but the fixed width makes logs easier to read.
#[derive(Debug)]
pub(crate) struct MessageIds {
    style: MessageIdStyle,
    next: AtomicU64,
}

impl MessageIds {
    /// Ids from the style's first value plus `offset`.
    pub(crate) fn new(style: MessageIdStyle, offset: u64) -> Self {
        MessageIds {
            style,
            next: AtomicU64::new(offset),
        }
    }

    /// The next id; never repeats within one simulator.
    pub(crate) fn next(&self) -> String {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        match self.style {
            MessageIdStyle::Hex => format!("{:x}", 0x1000_0000_u64.saturating_add(n)),
            MessageIdStyle::Decimal => format!("{}", 1_000_000_000_u64.saturating_add(n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_styled() {
        let hex = MessageIds::new(MessageIdStyle::Hex, 0);
        assert_eq!(hex.next(), "10000000");
        assert_eq!(hex.next(), "10000001");
        let dec = MessageIds::new(MessageIdStyle::Decimal, 0);
        assert_eq!(dec.next(), "1000000000");
        assert!(dec.next().bytes().all(|b| b.is_ascii_digit()));
    }

    #[test]
    fn an_offset_moves_the_first_id() {
        let hex = MessageIds::new(MessageIdStyle::Hex, 0x100);
        assert_eq!(hex.next(), "10000100");
        let dec = MessageIds::new(MessageIdStyle::Decimal, 5_000_000);
        assert_eq!(dec.next(), "1005000000");
    }
}
