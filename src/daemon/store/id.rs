//! [`MessageId`]: the id the API hands out for an accepted message.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};

/// An accepted message's id: 32 lowercase hex digits. The first 12 are the acceptance time
/// in milliseconds, the other 20 (80 bits) are random: ids of different daemons or restarts
/// never collide and cannot be guessed from one another, and new ids sort after old ones,
/// so the store's index of ids grows at one end instead of being written all over.
///
/// Held inline (32 ASCII bytes): an id is made, copied and dropped on every step of every
/// message, and none of that allocates.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId([u8; ID_LEN]);

/// Random bytes fetched from the OS at once per thread: 64 ids' worth, so that an id costs
/// a copy instead of a `getrandom` system call.
const POOL: usize = 64 * 10;

/// Fills `out` (at most [`POOL`] bytes) with bytes from the OS random source, taken from a
/// per-thread pool refilled when it runs out; `false` if the OS could not give any.
fn random_bits(out: &mut [u8]) -> bool {
    use ring::rand::SecureRandom;
    use std::cell::RefCell;
    thread_local! {
        /// The bytes, and how many of them are used already.
        static RANDOM: RefCell<([u8; POOL], usize)> = const { RefCell::new(([0; POOL], POOL)) };
    }
    RANDOM.with(|pool| {
        let mut pool = pool.borrow_mut();
        let (bytes, used) = &mut *pool;
        if *used + out.len() > POOL {
            if ring::rand::SystemRandom::new().fill(bytes).is_err() {
                return false;
            }
            *used = 0;
        }
        out.copy_from_slice(&bytes[*used..*used + out.len()]);
        // Each byte is handed out once: the next id takes the next ones.
        *used += out.len();
        true
    })
}

/// The length of every generated id.
pub const ID_LEN: usize = 32;

impl MessageId {
    /// A fresh id: the time now, then 80 random bits.
    pub fn generate() -> MessageId {
        let mut bytes = [0u8; 16];
        let millis = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64);
        if !random_bits(&mut bytes[6..]) {
            // The OS random source failing is next to impossible; a counter mixed with the
            // clock still gives unique ids within this process rather than a panic.
            static COUNTER: AtomicU64 = AtomicU64::new(0);
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let t = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            bytes[6..14].copy_from_slice(&(t ^ n.rotate_left(32)).to_be_bytes());
            bytes[14..].copy_from_slice(&(n as u16).to_be_bytes());
        }
        bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut text = [0u8; ID_LEN];
        for (pair, b) in text.chunks_exact_mut(2).zip(bytes) {
            pair[0] = HEX[usize::from(b >> 4)];
            pair[1] = HEX[usize::from(b & 0xf)];
        }
        MessageId(text)
    }

    /// Parses an id from a URL path: exactly [`ID_LEN`] hex digits (either case).
    pub fn parse(text: &str) -> Option<MessageId> {
        let bytes: [u8; ID_LEN] = text.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(u8::is_ascii_hexdigit)
            .then(|| MessageId(bytes.map(|b| b.to_ascii_lowercase())))
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        // Every constructor writes ASCII hex digits only, so the fallback is never taken.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("MessageId").field(&self.as_str()).finish()
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
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
        assert_eq!(MessageId::parse(&"a".repeat(ID_LEN + 1)), None);
        // 32 bytes, not 32 hex digits.
        assert_eq!(MessageId::parse(&"é".repeat(ID_LEN / 2)), None);
        assert_eq!(
            format!("{:?}", MessageId::parse(&"A".repeat(ID_LEN)).unwrap()),
            format!("MessageId({:?})", "a".repeat(ID_LEN))
        );
    }

    #[test]
    fn later_ids_sort_after_earlier_ones() {
        let a = MessageId::generate();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let b = MessageId::generate();
        assert!(a < b, "{a} {b}");
        assert_eq!(a.as_str().len(), ID_LEN);
    }
}
