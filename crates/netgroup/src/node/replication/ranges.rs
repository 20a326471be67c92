//! [`RangeSet`]: a set of object indices kept as disjoint inclusive ranges
//! (docs/protocol/netgroup.md, "Object replication": `addHaveObjects(startIndex, endIndex)` and
//! friends take inclusive ranges).

use std::collections::BTreeMap;

/// Largest object index the Flash player accepts (docs/protocol/netgroup.md, "Object replication":
/// it checks `index <= 9 007 199 254 740 990` before calling native code).
pub const MAX_OBJECT_INDEX: u64 = 9_007_199_254_740_990;

/// A set of `u64` indices as sorted, disjoint, non-adjacent inclusive ranges. Adjacent or
/// overlapping inserts merge, so the representation is canonical: two equal sets have equal
/// [`RangeSet::ranges`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RangeSet {
    /// start -> end (inclusive).
    map: BTreeMap<u64, u64>,
}

impl RangeSet {
    /// The empty set.
    pub fn new() -> Self {
        RangeSet::default()
    }

    /// Whether the set holds no index.
    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    /// Number of disjoint ranges.
    pub fn range_count(&self) -> usize {
        self.map.len()
    }

    /// Number of indices (saturating at `u64::MAX`).
    pub fn len(&self) -> u64 {
        self.map.iter().fold(0u64, |acc, (s, e)| {
            acc.saturating_add(e - s).saturating_add(1)
        })
    }

    /// The ranges, ascending, as `(start, end)` inclusive.
    pub fn ranges(&self) -> impl Iterator<Item = (u64, u64)> + '_ {
        self.map.iter().map(|(s, e)| (*s, *e))
    }

    /// The ranges that intersect `[start, end]`, clipped to it, ascending.
    pub fn ranges_within(&self, start: u64, end: u64) -> impl Iterator<Item = (u64, u64)> + '_ {
        // The range holding `start`, if any, begins at or before it.
        let first = self
            .map
            .range(..=start)
            .next_back()
            .filter(|(_, e)| **e >= start)
            .map(|(s, _)| *s)
            .unwrap_or(start);
        self.map
            .range(first..)
            .take_while(move |(s, _)| **s <= end)
            .filter(move |(s, e)| **e >= start && **s <= end)
            .map(move |(s, e)| ((*s).max(start), (*e).min(end)))
    }

    /// Whether `index` is in the set.
    pub fn contains(&self, index: u64) -> bool {
        self.map
            .range(..=index)
            .next_back()
            .is_some_and(|(_, e)| *e >= index)
    }

    /// Adds `[start, end]` (nothing if `start > end`). Returns whether the set changed.
    pub fn insert(&mut self, start: u64, end: u64) -> bool {
        if start > end {
            return false;
        }
        let (mut s, mut e) = (start, end);
        // Merge with a range that starts before and overlaps or touches.
        if let Some((&ps, &pe)) = self.map.range(..=start).next_back() {
            if pe >= end {
                return false;
            }
            if pe.saturating_add(1) >= start {
                s = ps;
            }
        }
        // Swallow every range starting within [s, e + 1].
        let upper = e.saturating_add(1);
        let inside: Vec<(u64, u64)> = self.map.range(s..=upper).map(|(a, b)| (*a, *b)).collect();
        for (a, b) in inside {
            self.map.remove(&a);
            e = e.max(b);
        }
        self.map.insert(s, e);
        true
    }

    /// Removes `[start, end]` (nothing if `start > end`). Returns whether the set changed.
    pub fn remove(&mut self, start: u64, end: u64) -> bool {
        if start > end {
            return false;
        }
        let hit: Vec<(u64, u64)> = self.ranges_within(start, end).collect();
        if hit.is_empty() {
            return false;
        }
        for (cs, ce) in hit {
            // (cs, ce) is clipped: find the stored range holding cs.
            let (&s, &e) = match self.map.range(..=cs).next_back() {
                Some(x) => x,
                None => continue,
            };
            self.map.remove(&s);
            if s < cs {
                self.map.insert(s, cs - 1);
            }
            if e > ce {
                self.map.insert(ce + 1, e);
            }
        }
        true
    }

    /// The indices in `[start, end]` of the set, ascending (lazy: fine on huge ranges).
    pub fn indices_within(&self, start: u64, end: u64) -> impl Iterator<Item = u64> + '_ {
        self.ranges_within(start, end).flat_map(|(s, e)| s..=e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    #[test]
    fn insert_merges_overlapping_and_adjacent() {
        let mut r = RangeSet::new();
        assert!(r.insert(5, 9));
        assert!(r.insert(10, 12));
        assert!(r.insert(0, 2));
        assert_eq!(r.ranges().collect::<Vec<_>>(), vec![(0, 2), (5, 12)]);
        assert!(!r.insert(6, 8));
        assert!(r.insert(3, 4));
        assert_eq!(r.ranges().collect::<Vec<_>>(), vec![(0, 12)]);
        assert_eq!(r.len(), 13);
        assert!(!r.insert(3, 2));
    }

    #[test]
    fn remove_splits() {
        let mut r = RangeSet::new();
        r.insert(0, 100);
        assert!(r.remove(10, 20));
        assert_eq!(r.ranges().collect::<Vec<_>>(), vec![(0, 9), (21, 100)]);
        assert!(r.remove(0, 0));
        assert!(r.remove(100, 200));
        assert_eq!(r.ranges().collect::<Vec<_>>(), vec![(1, 9), (21, 99)]);
        assert!(!r.remove(10, 20));
        assert!(r.remove(0, u64::MAX));
        assert!(r.is_empty());
    }

    #[test]
    fn extremes_do_not_overflow() {
        let mut r = RangeSet::new();
        r.insert(u64::MAX - 1, u64::MAX);
        r.insert(0, u64::MAX - 2);
        assert_eq!(r.ranges().collect::<Vec<_>>(), vec![(0, u64::MAX)]);
        assert_eq!(r.len(), u64::MAX);
        assert!(r.contains(u64::MAX));
        assert_eq!(r.indices_within(3, 5).collect::<Vec<_>>(), vec![3, 4, 5]);
    }

    proptest! {
        #[test]
        fn matches_a_btreeset(ops in proptest::collection::vec((any::<bool>(), 0u64..64, 0u64..8), 0..40)) {
            let mut r = RangeSet::new();
            let mut model = BTreeSet::new();
            for (add, s, l) in ops {
                let e = s + l;
                let changed = if add { r.insert(s, e) } else { r.remove(s, e) };
                let before = model.clone();
                for i in s..=e {
                    if add { model.insert(i); } else { model.remove(&i); }
                }
                prop_assert_eq!(changed, before != model);
            }
            for i in 0..80 {
                prop_assert_eq!(r.contains(i), model.contains(&i));
            }
            prop_assert_eq!(r.len(), model.len() as u64);
            let got: Vec<u64> = r.indices_within(10, 50).collect();
            let want: Vec<u64> = model.range(10..=50).copied().collect();
            prop_assert_eq!(got, want);
            // Canonical: disjoint and non-adjacent.
            let v: Vec<_> = r.ranges().collect();
            for w in v.windows(2) {
                prop_assert!(w[0].1 + 1 < w[1].0);
            }
        }
    }
}
