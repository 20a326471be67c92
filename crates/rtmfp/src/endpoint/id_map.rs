//! [`IdMap`]: the endpoint's maps keyed by session or opening ID (its sessions, its timers).
//!
//! A peer holds a few dozen sessions (a group member: one per neighbour and one to its
//! server), a server tens of thousands. A hash table keeps at least an eighth of its slots
//! free and grows by doubling, so a member's 31 sessions sit in 64 slots; a sorted vector of
//! exact capacity costs the entries alone but moves the entries after an insertion or removal.
//! This map is a [`SortedMap`] up to [`PROMOTE_ABOVE`] entries and an [`IdHashMap`] beyond, and
//! goes back to a sorted vector when it falls to [`DEMOTE_AT`] (memory only;
//! docs/performance-history.md, stop 18). Nothing reads these maps in an order that matters, so the
//! representation never changes what a node does.

use rtmfp_collections::IdHashMap;
use rtmfp_collections::SortedMap;

/// Entries beyond which the map becomes a hash table.
const PROMOTE_ABOVE: usize = 64;
/// Entries at which a hash table becomes a sorted vector again (well below [`PROMOTE_ABOVE`],
/// so that a map near the threshold does not switch at every change).
const DEMOTE_AT: usize = 16;

/// A map from `u32` IDs to `V` (see the module docs).
#[derive(Debug)]
pub(crate) enum IdMap<V> {
    /// Up to [`PROMOTE_ABOVE`] entries.
    Small(SortedMap<u32, V>),
    /// More entries.
    Large(IdHashMap<u32, V>),
}

impl<V> Default for IdMap<V> {
    fn default() -> Self {
        IdMap::Small(SortedMap::default())
    }
}

impl<V> IdMap<V> {
    /// Number of entries.
    pub fn len(&self) -> usize {
        match self {
            IdMap::Small(m) => m.len(),
            IdMap::Large(m) => m.len(),
        }
    }

    /// The value of `id`.
    pub fn get(&self, id: &u32) -> Option<&V> {
        match self {
            IdMap::Small(m) => m.get(id),
            IdMap::Large(m) => m.get(id),
        }
    }

    /// The value of `id`, mutably.
    pub fn get_mut(&mut self, id: &u32) -> Option<&mut V> {
        match self {
            IdMap::Small(m) => m.get_mut(id),
            IdMap::Large(m) => m.get_mut(id),
        }
    }

    /// Whether `id` has a value.
    pub fn contains_key(&self, id: &u32) -> bool {
        self.get(id).is_some()
    }

    /// Sets the value of `id`, returning the previous one.
    pub fn insert(&mut self, id: u32, value: V) -> Option<V> {
        match self {
            IdMap::Small(m) if m.len() < PROMOTE_ABOVE || m.contains_key(&id) => {
                m.insert(id, value)
            }
            IdMap::Small(m) => {
                let mut large: IdHashMap<u32, V> = std::mem::take(m).into_iter().collect();
                large.insert(id, value);
                *self = IdMap::Large(large);
                None
            }
            IdMap::Large(m) => m.insert(id, value),
        }
    }

    /// Removes the value of `id`, returning it.
    pub fn remove(&mut self, id: &u32) -> Option<V> {
        match self {
            IdMap::Small(m) => m.remove(id),
            IdMap::Large(m) => {
                let old = m.remove(id);
                if m.len() <= DEMOTE_AT {
                    let small: SortedMap<u32, V> = std::mem::take(m).into_iter().collect();
                    *self = IdMap::Small(small);
                }
                old
            }
        }
    }

    /// Every entry, in no particular order.
    pub fn iter(
        &self,
    ) -> Either<impl Iterator<Item = (&u32, &V)>, impl Iterator<Item = (&u32, &V)>> {
        match self {
            IdMap::Small(m) => Either::Small(m.iter()),
            IdMap::Large(m) => Either::Large(m.iter()),
        }
    }

    /// Every entry, mutably, in no particular order.
    pub fn iter_mut(
        &mut self,
    ) -> Either<impl Iterator<Item = (&u32, &mut V)>, impl Iterator<Item = (&u32, &mut V)>> {
        match self {
            IdMap::Small(m) => Either::Small(m.iter_mut()),
            IdMap::Large(m) => Either::Large(m.iter_mut()),
        }
    }
}

/// An iterator over either representation of an [`IdMap`].
pub(crate) enum Either<A, B> {
    Small(A),
    Large(B),
}

impl<T, A: Iterator<Item = T>, B: Iterator<Item = T>> Iterator for Either<A, B> {
    type Item = T;

    fn next(&mut self) -> Option<T> {
        match self {
            Either::Small(a) => a.next(),
            Either::Large(b) => b.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeMap;

    proptest! {
        /// The map answers as a `BTreeMap` through promotions and demotions.
        #[test]
        fn behaves_as_a_btree_map(ops in proptest::collection::vec((any::<bool>(), 0u32..200, any::<u16>()), 0..600)) {
            let mut m = IdMap::default();
            let mut b = BTreeMap::new();
            for (insert, id, v) in ops {
                if insert {
                    prop_assert_eq!(m.insert(id, v), b.insert(id, v));
                } else {
                    prop_assert_eq!(m.remove(&id), b.remove(&id));
                }
                prop_assert_eq!(m.len(), b.len());
                prop_assert_eq!(m.get(&id), b.get(&id));
                prop_assert_eq!(m.contains_key(&id), b.contains_key(&id));
                match &m {
                    IdMap::Small(_) => prop_assert!(b.len() <= PROMOTE_ABOVE),
                    IdMap::Large(_) => prop_assert!(b.len() > DEMOTE_AT),
                }
            }
            let mut seen: Vec<(u32, u16)> = m.iter_mut().map(|(k, v)| (*k, *v)).collect();
            seen.sort();
            prop_assert_eq!(seen, b.into_iter().collect::<Vec<_>>());
        }
    }

    #[test]
    fn switches_representation_at_the_thresholds() {
        let mut m = IdMap::default();
        for id in 0..=PROMOTE_ABOVE as u32 {
            m.insert(id, ());
        }
        assert!(matches!(m, IdMap::Large(_)));
        for id in 0..=PROMOTE_ABOVE as u32 {
            m.remove(&id);
            if m.len() > DEMOTE_AT {
                assert!(matches!(m, IdMap::Large(_)));
            }
        }
        assert!(matches!(m, IdMap::Small(_)));
        assert_eq!(m.len(), 0);
    }
}
