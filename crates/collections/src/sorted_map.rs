//! [`SortedMap`]: a small ordered map kept as one vector sorted by key, with exact capacity.
//!
//! For the maps a node keeps per session or per neighbour, a few to a few dozen entries each
//! and thousands of maps per simulator process: a session's flows by flow ID (RFC 7016
//! §3.6.2, §3.6.3), an endpoint's handshakes in progress, a group's neighbours by peer ID, a
//! group engine's flows by (session, flow). A B-tree allocates nodes with room for 11 entries
//! plus child pointers (and keeps its emptied root leaf), and a hash table keeps at least an
//! eighth of its slots free; a sorted vector of exact capacity costs the entries alone, and
//! nothing once empty (docs/performance-history.md, stop 16). Lookups are binary searches; an
//! insertion or removal moves the entries after it, cheap at this size and rare (a flow opens, a
//! neighbour joins). Iteration is in key order, as with a B-tree.

use std::borrow::Borrow;

/// Entries `(K, V)` in increasing key order, no key twice. Large or often-moved values are
/// best boxed (`SortedMap<K, Box<V>>`): insertions and removals move the entries after them.
#[derive(Debug, Clone)]
pub struct SortedMap<K, V> {
    entries: Vec<(K, V)>,
}

impl<K, V> Default for SortedMap<K, V> {
    fn default() -> Self {
        SortedMap {
            entries: Vec::new(),
        }
    }
}

impl<K: Ord, V> SortedMap<K, V> {
    fn find<Q: Ord + ?Sized>(&self, key: &Q) -> Result<usize, usize>
    where
        K: Borrow<Q>,
    {
        self.entries.binary_search_by(|(k, _)| k.borrow().cmp(key))
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether `key` has an entry (`key` may be any borrowed form of the key type, as with
    /// `BTreeMap`; so for the other lookups).
    pub fn contains_key<Q: Ord + ?Sized>(&self, key: &Q) -> bool
    where
        K: Borrow<Q>,
    {
        self.find(key).is_ok()
    }

    /// The value of `key`.
    pub fn get<Q: Ord + ?Sized>(&self, key: &Q) -> Option<&V>
    where
        K: Borrow<Q>,
    {
        self.find(key).ok().map(|i| &self.entries[i].1)
    }

    /// The value of `key`, mutably.
    pub fn get_mut<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
    {
        let i = self.find(key).ok()?;
        Some(&mut self.entries[i].1)
    }

    /// The value of `key`, inserting `make()` first if there is none.
    pub fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        let i = match self.find(&key) {
            Ok(i) => i,
            Err(i) => {
                self.entries.reserve_exact(1);
                self.entries.insert(i, (key, make()));
                i
            }
        };
        &mut self.entries[i].1
    }

    /// Sets the value of `key`, returning the previous one.
    pub fn insert(&mut self, key: K, value: V) -> Option<V> {
        match self.find(&key) {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.reserve_exact(1);
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    /// Keeps the entries for which `keep` is true (in key order); the storage shrinks when at
    /// most half of it is used.
    pub fn retain(&mut self, mut keep: impl FnMut(&K, &mut V) -> bool) {
        self.entries.retain_mut(|(k, v)| keep(k, v));
        self.shrink();
    }

    /// Removes the entry of `key`, returning its value; the storage shrinks when at most half
    /// of it is used.
    pub fn remove<Q: Ord + ?Sized>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
    {
        let i = self.find(key).ok()?;
        let (_, value) = self.entries.remove(i);
        self.shrink();
        Some(value)
    }

    /// Removes the entry with the smallest key, returning it; the storage shrinks when at
    /// most half of it is used.
    pub fn pop_first(&mut self) -> Option<(K, V)> {
        if self.entries.is_empty() {
            return None;
        }
        let first = self.entries.remove(0);
        self.shrink();
        Some(first)
    }

    /// Frees storage when at most half of it is used.
    fn shrink(&mut self) {
        if self.entries.len() <= self.entries.capacity() / 2 {
            self.entries.shrink_to_fit();
        }
    }

    /// The entries in increasing key order.
    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.entries.iter().map(|(k, v)| (k, v))
    }

    /// The keys in increasing order.
    pub fn keys(&self) -> impl Iterator<Item = &K> {
        self.entries.iter().map(|(k, _)| k)
    }

    /// The values in increasing key order.
    pub fn values(&self) -> impl Iterator<Item = &V> {
        self.entries.iter().map(|(_, v)| v)
    }

    /// The entries in increasing key order, values mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (&K, &mut V)> {
        self.entries.iter_mut().map(|(k, v)| (&*k, v))
    }

    /// The values in increasing key order, mutably.
    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut V> {
        self.entries.iter_mut().map(|(_, v)| v)
    }

    /// Removes every entry and frees the storage.
    pub fn clear(&mut self) {
        self.entries = Vec::new();
    }

    /// Whether there are no entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The entries in increasing key order, by value.
impl<K, V> IntoIterator for SortedMap<K, V> {
    type Item = (K, V);
    type IntoIter = std::vec::IntoIter<(K, V)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

/// Builds a map from entries in any order; of two entries with one key, the later wins (as
/// with `BTreeMap`). Capacity is exact.
impl<K: Ord, V> FromIterator<(K, V)> for SortedMap<K, V> {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut entries: Vec<(K, V)> = iter.into_iter().collect();
        // Reversed then stably sorted: among equal keys the latest comes first and is kept.
        entries.reverse();
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        entries.dedup_by(|later, first| later.0 == first.0);
        entries.shrink_to_fit();
        SortedMap { entries }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    use proptest::prelude::*;

    proptest! {
        /// Any sequence of inserts, removals, retains, pops and get-or-inserts leaves the same
        /// entries, in the same order, as a B-tree given the same sequence; the capacity never
        /// exceeds twice the length (plus one).
        #[test]
        fn behaves_as_a_btree(ops in proptest::collection::vec((0u8..5, 0u8..40, any::<u16>()), 0..200)) {
            let mut m = SortedMap::default();
            let mut b = BTreeMap::new();
            for (op, k, v) in ops {
                match op {
                    0 => prop_assert_eq!(m.insert(k, v), b.insert(k, v)),
                    1 => prop_assert_eq!(m.remove(&k), b.remove(&k)),
                    3 => prop_assert_eq!(m.pop_first(), b.pop_first()),
                    2 => {
                        m.retain(|key, _| u16::from(*key) % 7 != v % 7);
                        b.retain(|key, _| u16::from(*key) % 7 != v % 7);
                    }
                    _ => prop_assert_eq!(*m.get_or_insert_with(k, || v), *b.entry(k).or_insert(v)),
                }
                prop_assert_eq!(m.len(), b.len());
                prop_assert!(m.entries.capacity() <= 2 * m.len() + 1);
            }
            prop_assert!(m.iter().map(|(k, v)| (*k, *v)).eq(b.iter().map(|(k, v)| (*k, *v))));
            prop_assert!(m.keys().eq(b.keys()));
            prop_assert!(m.values().eq(b.values()));
            for k in 0..40 {
                prop_assert_eq!(m.get(&k), b.get(&k));
                prop_assert_eq!(m.contains_key(&k), b.contains_key(&k));
                prop_assert_eq!(m.get_mut(&k).copied(), b.get(&k).copied());
            }
        }

        /// Collecting entries in any order, keys repeated, gives the B-tree's entries (the
        /// later of two entries with one key wins), with exact capacity.
        #[test]
        fn collects_as_a_btree(entries in proptest::collection::vec((0u8..30, any::<u16>()), 0..80)) {
            let m: SortedMap<u8, u16> = entries.iter().copied().collect();
            let b: BTreeMap<u8, u16> = entries.iter().copied().collect();
            prop_assert!(m.iter().map(|(k, v)| (*k, *v)).eq(b.iter().map(|(k, v)| (*k, *v))));
            prop_assert_eq!(m.entries.capacity(), m.len());
        }
    }

    /// An emptied map holds no storage (a B-tree keeps its root leaf), and lookups accept a
    /// borrowed form of the key.
    #[test]
    fn an_emptied_map_frees_its_storage() {
        let mut m = SortedMap::default();
        m.insert(b"tag".to_vec(), 1u32);
        m.insert(b"other".to_vec(), 2);
        assert_eq!(m.get(&b"tag"[..]), Some(&1));
        assert!(m.contains_key(&b"other"[..]));
        assert_eq!(m.remove(&b"tag"[..]), Some(1));
        assert_eq!(m.remove(&b"other"[..]), Some(2));
        assert_eq!(m.entries.capacity(), 0);
    }

    #[test]
    fn values_mut_and_clear() {
        let mut m = SortedMap::default();
        for k in [5u64, 1, 3] {
            m.insert(k, Box::new(k * 10));
        }
        for v in m.values_mut() {
            **v += 1;
        }
        assert_eq!(m.values().map(|v| **v).collect::<Vec<_>>(), [11, 31, 51]);
        assert!(!m.is_empty());
        m.clear();
        assert!(m.is_empty());
        assert_eq!(m.entries.capacity(), 0);
    }

    /// The session's flow tables (flows boxed by flow ID) behave as an ordered map (the test
    /// of the former `FlowMap`).
    #[test]
    fn behaves_as_an_ordered_map_of_boxed_flows() {
        let mut m = SortedMap::default();
        assert!(m.insert(5u64, Box::new("e")).is_none());
        assert!(m.insert(1, Box::new("a")).is_none());
        assert!(m.insert(3, Box::new("c")).is_none());
        assert_eq!(m.insert(3, Box::new("C")).as_deref(), Some(&"c"));
        assert_eq!(m.values().map(|v| **v).collect::<Vec<_>>(), ["a", "C", "e"]);
        assert_eq!(m.len(), 3);
        assert_eq!(m.iter().map(|(k, _)| *k).collect::<Vec<_>>(), [1, 3, 5]);
        assert!(m.get(&5).is_some() && m.get(&4).is_none());
        **m.get_mut(&1).unwrap() = "A";
        assert_eq!(m.get(&1).map(|v| **v), Some("A"));
        assert_eq!(m.remove(&5).as_deref(), Some(&"e"));
        assert!(m.remove(&5).is_none());
        assert!(m.get(&5).is_none() && m.get_mut(&5).is_none());
        for v in m.values_mut() {
            **v = "z";
        }
        assert_eq!(m.values().map(|v| **v).collect::<Vec<_>>(), ["z", "z"]);
        m.clear();
        assert_eq!(m.len(), 0);
        assert_eq!(m.entries.capacity(), 0);
    }
}
