//! [`MessageId`]: the id the API hands out for an accepted message.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// An accepted message's id: 32 lowercase hex digits, random, so that ids of different
/// daemons or restarts never collide and cannot be guessed from one another.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(String);

/// The length of every generated id.
pub const ID_LEN: usize = 32;

impl MessageId {
    /// A fresh random id.
    pub fn generate() -> MessageId {
        use ring::rand::SecureRandom;
        let mut bytes = [0u8; 16];
        if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
            // The OS random source failing is next to impossible; a counter mixed with the
            // clock still gives unique ids within this process rather than a panic.
            static COUNTER: AtomicU64 = AtomicU64::new(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            bytes[..8].copy_from_slice(&t.to_be_bytes());
            bytes[8..].copy_from_slice(&n.to_be_bytes());
        }
        MessageId(bytes.iter().map(|b| format!("{b:02x}")).collect())
    }

    /// Parses an id from a URL path: exactly [`ID_LEN`] hex digits (either case).
    pub fn parse(text: &str) -> Option<MessageId> {
        (text.len() == ID_LEN && text.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| MessageId(text.to_ascii_lowercase()))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_parse_back_and_differ() {
        let a = MessageId::generate();
        let b = MessageId::generate();
        assert_ne!(a, b);
        assert_eq!(MessageId::parse(a.as_str()), Some(a.clone()));
        assert_eq!(MessageId::parse(&a.as_str().to_uppercase()), Some(a));
        assert_eq!(MessageId::parse("xyz"), None);
        assert_eq!(MessageId::parse(&"g".repeat(ID_LEN)), None);
    }
}
