//! [`IdHasher`]: a deterministic hasher for small integer keys (session IDs, flow IDs), and
//! [`IdHashMap`], a hash map using it.
//!
//! Sans-IO code must not draw OS randomness, which `std`'s default `RandomState` does, and a
//! run must repeat exactly: this hasher has no per-process state. It is meant for keys the
//! node chooses itself or that are bounded per session (IDs), and for maps that are looked up
//! and never iterated in an order that matters; it is not a defence against keys chosen to
//! collide.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A multiply-rotate mix per 64-bit word (Fibonacci hashing): both the high bits (hashbrown's
/// tag) and the low bits (its bucket index) vary with every bit of a small ID.
#[derive(Debug, Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(b as u64);
        }
    }

    fn write_u32(&mut self, v: u32) {
        self.write_u64(v as u64);
    }

    fn write_u64(&mut self, v: u64) {
        self.0 = (self.0.rotate_left(5) ^ v).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// A hash map with [`IdHasher`]: deterministic, for ID keys looked up on every packet or
/// message and never iterated in an order that matters.
pub type IdHashMap<K, V> = HashMap<K, V, BuildHasherDefault<IdHasher>>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn deterministic_and_spreads_small_ids() {
        let b = BuildHasherDefault::<IdHasher>::default();
        assert_eq!(b.hash_one(7u32), b.hash_one(7u32));
        assert_eq!(b.hash_one((3u32, 9u64)), b.hash_one((3u32, 9u64)));
        assert_ne!(b.hash_one((3u32, 9u64)), b.hash_one((9u32, 3u64)));
        let low: std::collections::HashSet<u64> = (0u32..64).map(|i| b.hash_one(i) & 63).collect();
        assert!(
            low.len() > 32,
            "consecutive IDs land in many buckets: {}",
            low.len()
        );
        let high: std::collections::HashSet<u64> =
            (0u32..64).map(|i| b.hash_one(i) >> 57).collect();
        assert!(high.len() > 32, "and carry different tags: {}", high.len());
    }
}
