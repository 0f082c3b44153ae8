//! [`SeqMap`]: hash maps keyed by numbers this process hands out itself.
//!
//! The standard map hashes with SipHash, which guards against keys chosen to collide. The
//! keys here are numbers counted out one after the other by this process (a session's
//! sequence numbers, the store's message keys), never chosen by a peer, so only SipHash's
//! cost would remain: a measurable part of a window-1 round trip and of the store writer's
//! work per message. A number a peer sends back (a response's sequence number) is only
//! looked up.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A hash map keyed by numbers this process handed out.
pub type SeqMap<K, V> = HashMap<K, V, BuildHasherDefault<SequenceHasher>>;

/// Hashes an integer key with one multiplication (Fibonacci hashing): consecutive numbers
/// spread over the buckets and over the control bits hashbrown takes from the top.
#[derive(Debug, Default, Clone, Copy)]
pub struct SequenceHasher(u64);

impl Hasher for SequenceHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

#[cfg(test)]
mod tests {
    use super::SeqMap;
    use std::collections::HashSet;
    use std::hash::{BuildHasher, BuildHasherDefault};

    #[test]
    fn consecutive_keys_land_in_distinct_buckets_and_control_bits() {
        let build = BuildHasherDefault::<super::SequenceHasher>::default();
        let hashes: Vec<u64> = (0..4096u64).map(|n| build.hash_one(n)).collect();
        let low: HashSet<u64> = hashes.iter().map(|h| h & 4095).collect();
        let top: HashSet<u64> = hashes.iter().map(|h| h >> 57).collect();
        assert!(low.len() > 2500, "{} distinct buckets of 4096", low.len());
        assert_eq!(top.len(), 128, "every 7-bit control value is used");
    }

    #[test]
    fn a_map_behaves_as_a_map() {
        let mut map: SeqMap<i64, &str> = SeqMap::default();
        for n in -5..1000 {
            map.insert(n, "x");
        }
        map.insert(7, "y");
        assert_eq!(map.len(), 1005);
        assert_eq!(map.get(&7), Some(&"y"));
        assert_eq!(map.remove(&-5), Some("x"));
        assert!(!map.contains_key(&-5));
    }
}
