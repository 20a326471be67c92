//! A bounded, time-limited "seen" cache for duplicate suppression of posts (netgroup digest §7:
//! "a message identical to one posted earlier might not be propagated"; §15 design notes).
//!
//! Entries are kept in insertion order in a ring buffer and indexed by a hash map, so insert and
//! lookup are O(1) amortized. An entry leaves when it is older than `max_age` or, when the cache
//! is full, when it is the oldest one and a new entry needs room.
//!
//! Memory: each entry holds the key twice (in the index and in the age queue), the insertion time
//! (8 bytes) and a hashbrown control byte; with the map's ≤ 87.5% load factor and power-of-two
//! growth, a 32-byte message ID costs about `2·32 + 2·8 + 1` ≈ 81 bytes, up to ~150 bytes right
//! after the map doubles. [`SeenCache::approx_bytes_per_entry`] gives the figure for any key type.
//!
//! The index uses SipHash with fixed keys (no OS randomness, so runs are reproducible). Keys are
//! expected to be SHA-256 message IDs, which an attacker cannot steer into one bucket; iteration
//! order of the map never decides anything.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hash};

use rtmfp::Instant;

type Index<K> = HashMap<K, u64, BuildHasherDefault<DefaultHasher>>;

/// A set of recently seen keys bounded both in entries and in age (netgroup digest §7).
#[derive(Debug, Clone)]
pub struct SeenCache<K> {
    index: Index<K>,
    queue: VecDeque<(K, u64)>,
    capacity: usize,
    max_age: u64,
    last: u64,
    evicted: u64,
}

impl<K: Hash + Eq + Clone> SeenCache<K> {
    /// A cache of at most `capacity` keys (at least 1), each forgotten `max_age_micros`
    /// microseconds after it was inserted. Allocation grows with use, not with `capacity`.
    pub fn new(capacity: usize, max_age_micros: u64) -> Self {
        SeenCache {
            index: Index::default(),
            queue: VecDeque::new(),
            capacity: capacity.max(1),
            max_age: max_age_micros,
            last: 0,
            evicted: 0,
        }
    }

    /// Records `key` as seen at `now`. Returns `true` if it was new (the caller should process
    /// the message), `false` if it is a live duplicate (its age is not refreshed). Time that goes
    /// backwards is treated as the latest time seen.
    pub fn insert(&mut self, now: Instant, key: K) -> bool {
        let now = self.clock(now);
        self.expire_at(now);
        if self.index.contains_key(&key) {
            return false;
        }
        if self.queue.len() >= self.capacity {
            if let Some((old, _)) = self.queue.pop_front() {
                self.index.remove(&old);
                self.evicted += 1;
            }
        }
        self.index.insert(key.clone(), now);
        self.queue.push_back((key, now));
        true
    }

    /// Whether `key` was seen less than `max_age` before `now` (and not evicted).
    pub fn contains(&self, now: Instant, key: &K) -> bool {
        let now = now.as_micros().max(self.last);
        self.index
            .get(key)
            .is_some_and(|&t| now.saturating_sub(t) < self.max_age)
    }

    /// Drops every entry older than `max_age` at `now`.
    pub fn expire(&mut self, now: Instant) {
        let now = self.clock(now);
        self.expire_at(now);
    }

    fn clock(&mut self, now: Instant) -> u64 {
        self.last = self.last.max(now.as_micros());
        self.last
    }

    fn expire_at(&mut self, now: u64) {
        while let Some((_, t)) = self.queue.front() {
            if now.saturating_sub(*t) < self.max_age {
                break;
            }
            if let Some((k, _)) = self.queue.pop_front() {
                self.index.remove(&k);
            }
        }
    }

    /// Number of keys held (expired ones included until the next insert or [`Self::expire`]).
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether the cache holds no key.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// The entry bound given at construction.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Keys dropped because the cache was full (not counting expiry): a non-zero value means
    /// duplicates older than the bound may be delivered again.
    pub fn evicted(&self) -> u64 {
        self.evicted
    }

    /// Approximate heap bytes per entry at the map's maximum load: two copies of the key, two
    /// timestamps and a control byte, scaled by 8/7 for the load factor.
    pub fn approx_bytes_per_entry() -> usize {
        let raw = 2 * std::mem::size_of::<K>() + 2 * std::mem::size_of::<u64>() + 1;
        raw * 8 / 7 + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(ms: u64) -> Instant {
        Instant::from_micros(ms * 1000)
    }

    #[test]
    fn duplicates_are_detected_until_expiry() {
        let mut c = SeenCache::new(100, 10_000_000); // 10 s
        assert!(c.insert(t(0), [1u8; 32]));
        assert!(!c.insert(t(5_000), [1u8; 32]));
        assert!(c.contains(t(9_999), &[1u8; 32]));
        assert!(!c.contains(t(10_000), &[1u8; 32]));
        // the duplicate at 5 s did not refresh the age
        assert!(c.insert(t(10_000), [1u8; 32]));
        assert_eq!(c.len(), 1);
        c.expire(t(30_000));
        assert!(c.is_empty());
    }

    #[test]
    fn bound_evicts_oldest() {
        let mut c = SeenCache::new(3, u64::MAX);
        for k in 0..5u32 {
            assert!(c.insert(t(u64::from(k)), k));
        }
        assert_eq!(c.len(), 3);
        assert_eq!(c.evicted(), 2);
        assert!(!c.contains(t(10), &0));
        assert!(!c.contains(t(10), &1));
        assert!(c.contains(t(10), &2) && c.contains(t(10), &4));
        // an evicted key is new again
        assert!(c.insert(t(11), 0));
        assert!(!c.contains(t(12), &2));
    }

    #[test]
    fn time_going_backwards_is_clamped() {
        let mut c = SeenCache::new(10, 1000);
        assert!(c.insert(Instant::from_micros(5000), 'a'));
        assert!(c.insert(Instant::from_micros(10), 'b')); // treated as 5000
        assert!(c.contains(Instant::from_micros(5999), &'b'));
        assert!(!c.contains(Instant::from_micros(6000), &'a'));
        assert!(SeenCache::<[u8; 32]>::approx_bytes_per_entry() < 120);
    }

    #[test]
    fn many_inserts_stay_bounded() {
        let mut c = SeenCache::new(1000, 1_000_000);
        for i in 0..100_000u64 {
            c.insert(Instant::from_micros(i * 10), i);
            assert!(c.len() <= 1000);
        }
        // 1 s of inserts every 10 µs is 100 000 > capacity, so the bound decided.
        assert!(c.evicted() > 0);
    }
}
