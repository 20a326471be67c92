//! A bounded, time-limited "seen" cache for duplicate suppression of posts
//! (docs/protocol/netgroup.md, "Posting": "a message identical to one posted earlier might not be
//! propagated"; docs/protocol/netgroup.md, "Open gaps" design notes).
//!
//! Entries are kept in insertion order in a ring buffer and indexed by a hash table of their
//! sequence numbers, so insert and lookup are O(1) amortized. An entry leaves when it is older
//! than `max_age` or, when the cache is full, when it is the oldest one and a new entry needs
//! room.
//!
//! Memory: each entry holds the key once (in the age queue) with its insertion time (8 bytes);
//! the index holds its sequence number (8 bytes) and a control byte, at a ≤ 87.5 % load factor
//! with power-of-two growth. A 32-byte message ID costs about `32 + 8 + 9·8/7` ≈ 51 bytes, up
//! to ≈ 62 right after the table doubles (docs/performance-history.md, stop 17).
//! [`SeenCache::approx_bytes_per_entry`] gives the figure for any key type. A member keeps up to
//! `seen_capacity` of them (100,000 by default), so in a long run with steady posting this cache
//! can be a member's largest structure.
//!
//! The index hashes keys with SipHash under fixed keys (no OS randomness, so runs are
//! reproducible). Keys are expected to be SHA-256 message IDs, which an attacker cannot steer
//! into one bucket; iteration order of the table never decides anything.

use std::collections::hash_map::DefaultHasher;
use std::collections::VecDeque;
use std::hash::{BuildHasher, BuildHasherDefault, Hash};

use hashbrown::HashTable;
use rtmfp::Instant;

/// The fixed-key hasher of the index.
type KeyHasher = BuildHasherDefault<DefaultHasher>;

fn hash_of<K: Hash>(key: &K) -> u64 {
    KeyHasher::default().hash_one(key)
}

/// A set of recently seen keys bounded both in entries and in age (docs/protocol/netgroup.md,
/// "Posting").
#[derive(Debug, Clone)]
pub struct SeenCache<K> {
    /// Sequence numbers of the queued entries, found by the hash of their key.
    index: HashTable<u64>,
    /// (key, insertion time in µs), oldest first.
    queue: VecDeque<(K, u64)>,
    /// Sequence number of the entry at the front of `queue`.
    head: u64,
    capacity: usize,
    max_age: u64,
    last: u64,
    evicted: u64,
}

impl<K: Hash + Eq> SeenCache<K> {
    /// A cache of at most `capacity` keys (at least 1), each forgotten `max_age_micros`
    /// microseconds after it was inserted. Allocation grows with use, not with `capacity`.
    pub fn new(capacity: usize, max_age_micros: u64) -> Self {
        SeenCache {
            index: HashTable::new(),
            queue: VecDeque::new(),
            head: 0,
            capacity: capacity.max(1),
            max_age: max_age_micros,
            last: 0,
            evicted: 0,
        }
    }

    /// The queued entry of `key`: its key and insertion time.
    fn find(&self, key: &K) -> Option<&(K, u64)> {
        let (queue, head) = (&self.queue, self.head);
        let seq = self
            .index
            .find(hash_of(key), |&s| queue[(s - head) as usize].0 == *key)?;
        Some(&queue[(*seq - head) as usize])
    }

    /// Drops the oldest entry, if any.
    fn pop_oldest(&mut self) -> bool {
        let Some((key, _)) = self.queue.front() else {
            return false;
        };
        let head = self.head;
        if let Ok(entry) = self.index.find_entry(hash_of(key), |&s| s == head) {
            entry.remove();
        }
        self.queue.pop_front();
        self.head += 1;
        true
    }

    /// Records `key` as seen at `now`. Returns `true` if it was new (the caller should process
    /// the message), `false` if it is a live duplicate (its age is not refreshed). Time that goes
    /// backwards is treated as the latest time seen.
    pub fn insert(&mut self, now: Instant, key: K) -> bool {
        let now = self.clock(now);
        self.expire_at(now);
        if self.find(&key).is_some() {
            return false;
        }
        if self.queue.len() >= self.capacity && self.pop_oldest() {
            self.evicted += 1;
        }
        let seq = self.head + self.queue.len() as u64;
        let (queue, head) = (&self.queue, self.head);
        self.index.insert_unique(hash_of(&key), seq, |&s| {
            hash_of(&queue[(s - head) as usize].0)
        });
        self.queue.push_back((key, now));
        true
    }

    /// Whether `key` was seen less than `max_age` before `now` (and not evicted).
    pub fn contains(&self, now: Instant, key: &K) -> bool {
        let now = now.as_micros().max(self.last);
        self.find(key)
            .is_some_and(|&(_, t)| now.saturating_sub(t) < self.max_age)
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
            self.pop_oldest();
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

    /// Approximate heap bytes per entry at the table's maximum load: the key and its time in
    /// the queue, a sequence number and a control byte in the index scaled by 8/7 for the load
    /// factor.
    pub fn approx_bytes_per_entry() -> usize {
        let queued = std::mem::size_of::<K>() + std::mem::size_of::<u64>();
        let indexed = std::mem::size_of::<u64>() + 1;
        queued + indexed * 8 / 7 + 1
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
        assert!(SeenCache::<[u8; 32]>::approx_bytes_per_entry() <= 52);
    }

    proptest::proptest! {
        /// Any sequence of inserts, lookups and expiries (time jittering backwards too) answers
        /// as a plain list of (key, time) kept oldest first, bounded and aged the same way.
        #[test]
        fn behaves_as_a_bounded_aged_list(
            ops in proptest::collection::vec((0u8..3, 0u8..12, 0u64..40), 0..300),
            capacity in 1usize..8,
        ) {
            let max_age = 25;
            let mut c = SeenCache::new(capacity, max_age);
            let mut model: VecDeque<(u8, u64)> = VecDeque::new();
            let (mut last, mut t, mut evicted) = (0u64, 0u64, 0u64);
            for (op, key, step) in ops {
                // Mostly forward, sometimes back (clamped to the latest time seen).
                t = if step < 4 { t.saturating_sub(step) } else { t + step / 4 };
                let now = Instant::from_micros(t);
                match op {
                    0 => {
                        last = last.max(t);
                        while model.front().is_some_and(|&(_, at)| last - at >= max_age) {
                            model.pop_front();
                        }
                        let new = !model.iter().any(|&(k, _)| k == key);
                        if new {
                            if model.len() >= capacity {
                                model.pop_front();
                                evicted += 1;
                            }
                            model.push_back((key, last));
                        }
                        proptest::prop_assert_eq!(c.insert(now, key), new);
                    }
                    1 => {
                        let at = t.max(last);
                        let live = model.iter().any(|&(k, s)| k == key && at - s < max_age);
                        proptest::prop_assert_eq!(c.contains(now, &key), live);
                    }
                    _ => {
                        last = last.max(t);
                        while model.front().is_some_and(|&(_, at)| last - at >= max_age) {
                            model.pop_front();
                        }
                        c.expire(now);
                    }
                }
                proptest::prop_assert_eq!(c.len(), model.len());
                proptest::prop_assert_eq!(c.evicted(), evicted);
            }
        }
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
