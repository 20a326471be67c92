//! Fetch scheduling (docs/protocol/netgroup.md, "Object replication", `replicationStrategy`): which
//! wanted indices to request next, and from which neighbour.
//!
//! - [`holder_segments`] cuts the index space into segments over which the number of
//!   neighbours holding an index is constant (a sweep over every neighbour's have ranges).
//! - [`candidates`] walks the wanted indices some neighbour holds, lowest first
//!   ([`ReplicationStrategy::LowestFirst`]) or fewest holders first
//!   ([`ReplicationStrategy::RarestFirst`]). Ties are broken at random so that members
//!   wanting the same range do not move in lockstep (each would otherwise ask the first
//!   holder for the same index at the same time, and it would serve nearly every fetch):
//!   rarest-first starts each class of equally rare indices at a random position (wrapping
//!   around); lowest-first takes its first `shuffle` candidates (the lowest ones) in random
//!   order.
//! - [`choose_holder`] spreads the load: the eligible holder with the fewest faulty objects,
//!   then the fewest timeouts, then the least load (requests in flight, plus one for a
//!   holder that looks like a seed: the largest have set, which everyone else asks too),
//!   ties broken at random.
//!
//! Randomness is the node's seeded RNG (sans-IO: never the OS's).

use rand_core::RngCore;

use super::ranges::RangeSet;

/// Flash `NetGroupReplicationStrategy` (docs/protocol/netgroup.md, "Object replication").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReplicationStrategy {
    /// `"lowestFirst"`: request the lowest wanted index first (the default here;
    /// docs/protocol/netgroup.md, "Object replication" does not know Flash's).
    #[default]
    LowestFirst,
    /// `"rarestFirst"`: request the index the fewest neighbours hold first.
    RarestFirst,
}

/// Indices `start..=end`, each held by `count` (> 0) neighbours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    /// First index.
    pub start: u64,
    /// Last index (inclusive).
    pub end: u64,
    /// Neighbours holding each index of the segment.
    pub count: usize,
}

/// Segments of constant holder count over the union of `haves`, ascending.
pub fn holder_segments<'a>(haves: impl Iterator<Item = &'a RangeSet>) -> Vec<Segment> {
    // (position, delta): +1 at a range start, -1 just after its end.
    let mut points: Vec<(u64, i64)> = Vec::new();
    for set in haves {
        for (s, e) in set.ranges() {
            points.push((s, 1));
            // A range ending at u64::MAX never closes.
            if let Some(x) = e.checked_add(1) {
                points.push((x, -1));
            }
        }
    }
    points.sort_unstable();
    let mut out = Vec::new();
    let mut count: i64 = 0;
    let mut i = 0;
    while i < points.len() {
        let at = points[i].0;
        while i < points.len() && points[i].0 == at {
            count += points[i].1;
            i += 1;
        }
        if count > 0 {
            let end = match points.get(i) {
                Some((next, _)) => next - 1,
                None => u64::MAX,
            };
            out.push(Segment {
                start: at,
                end,
                count: count as usize,
            });
        }
    }
    out
}

/// How [`candidates`] orders and bounds its walk.
#[derive(Debug, Clone, Copy)]
pub struct CandidateOrder {
    /// The strategy.
    pub strategy: ReplicationStrategy,
    /// Most indices returned.
    pub limit: usize,
    /// Most indices examined (skipped ones included): a huge want set costs a bounded amount
    /// of work per call.
    pub scan_limit: usize,
    /// [`ReplicationStrategy::LowestFirst`]: the first `shuffle` candidates are returned in
    /// random order (0 or 1: strictly lowest first).
    pub shuffle: usize,
}

/// Most wanted ranges gathered per rarity class by [`candidates`] (rarest-first); a class
/// with more is walked over its lowest ones only.
const MAX_CLASS_RANGES: usize = 16 * 1024;

/// Up to `order.limit` wanted indices that some neighbour holds, in strategy order with
/// random tie-breaking (module docs), skipping those for which `skip` holds (already in
/// flight, no eligible holder...).
pub fn candidates(
    want: &RangeSet,
    segments: &[Segment],
    order: CandidateOrder,
    rng: &mut impl RngCore,
    mut skip: impl FnMut(u64) -> bool,
) -> Vec<u64> {
    let mut out = Vec::new();
    let mut scanned = 0usize;
    let mut take = |i: u64, out: &mut Vec<u64>| -> bool {
        if out.len() >= order.limit || scanned >= order.scan_limit {
            return false;
        }
        scanned += 1;
        if !skip(i) {
            out.push(i);
        }
        true
    };
    match order.strategy {
        ReplicationStrategy::LowestFirst => {
            'walk: for seg in segments {
                for i in want.indices_within(seg.start, seg.end) {
                    if !take(i, &mut out) {
                        break 'walk;
                    }
                }
            }
            let n = order.shuffle.min(out.len());
            shuffle(&mut out[..n], rng);
        }
        ReplicationStrategy::RarestFirst => {
            // Wanted ranges by holder count, ascending.
            let mut classes: std::collections::BTreeMap<usize, Vec<(u64, u64)>> =
                std::collections::BTreeMap::new();
            for seg in segments {
                let class = classes.entry(seg.count).or_default();
                for r in want.ranges_within(seg.start, seg.end) {
                    if class.len() >= MAX_CLASS_RANGES {
                        break;
                    }
                    class.push(r);
                }
            }
            for ranges in classes.values() {
                if !walk_rotated(ranges, rng, |i| take(i, &mut out)) {
                    break;
                }
            }
        }
    }
    out
}

/// Calls `f` on every index of `ranges` (ascending, disjoint), starting at a random one and
/// wrapping around; stops when `f` returns false. Returns false if stopped.
fn walk_rotated(
    ranges: &[(u64, u64)],
    rng: &mut impl RngCore,
    mut f: impl FnMut(u64) -> bool,
) -> bool {
    let total = ranges
        .iter()
        .fold(0u64, |a, (s, e)| a.saturating_add(e - s).saturating_add(1));
    if total == 0 {
        return true;
    }
    let mut skip = rng.next_u64() % total;
    // The range holding the starting position, and the offset in it.
    let mut first = 0;
    for (k, (s, e)) in ranges.iter().enumerate() {
        let len = (e - s).saturating_add(1);
        if skip < len {
            first = k;
            break;
        }
        skip -= len;
    }
    let (s0, e0) = ranges[first];
    let start = s0 + skip;
    let pieces = std::iter::once((start, e0))
        .chain(ranges[first + 1..].iter().copied())
        .chain(ranges[..first].iter().copied())
        .chain((start > s0).then(|| (s0, start - 1)));
    for (s, e) in pieces {
        for i in s..=e {
            if !f(i) {
                return false;
            }
        }
    }
    true
}

/// Fisher–Yates with the caller's RNG.
fn shuffle<T>(v: &mut [T], rng: &mut impl RngCore) {
    for i in (1..v.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        v.swap(i, j);
    }
}

/// A neighbour that holds an index and may be asked for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HolderLoad<P> {
    /// The neighbour.
    pub peer: P,
    /// Objects it sent that the application reported faulty.
    pub faults: u32,
    /// Fetches that timed out since its last object.
    pub strikes: u32,
    /// Our requests in flight to it.
    pub in_flight: usize,
    /// It looks like a seed (its have set is the largest of our neighbours'): every member
    /// asks it, so it counts one request more.
    pub seed: bool,
}

/// The holder to ask: fewest faults, then fewest strikes, then least load (in flight, plus
/// one for a seed), ties at random.
pub fn choose_holder<P: Copy>(holders: &[HolderLoad<P>], rng: &mut impl RngCore) -> Option<P> {
    let key = |h: &HolderLoad<P>| (h.faults, h.strikes, h.in_flight + usize::from(h.seed));
    let best = holders.iter().map(key).min()?;
    let tied: Vec<P> = holders
        .iter()
        .filter(|h| key(h) == best)
        .map(|h| h.peer)
        .collect();
    let k = (rng.next_u64() % tied.len() as u64) as usize;
    Some(tied[k])
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn set(r: &[(u64, u64)]) -> RangeSet {
        let mut s = RangeSet::new();
        for (a, b) in r {
            s.insert(*a, *b);
        }
        s
    }

    #[test]
    fn segments_count_holders() {
        let a = set(&[(0, 9)]);
        let b = set(&[(5, 14)]);
        let c = set(&[(5, 5), (20, 20)]);
        let segs = holder_segments([&a, &b, &c].into_iter());
        let v: Vec<_> = segs.iter().map(|s| (s.start, s.end, s.count)).collect();
        assert_eq!(
            v,
            vec![(0, 4, 1), (5, 5, 3), (6, 9, 2), (10, 14, 1), (20, 20, 1)]
        );
        let top = set(&[(u64::MAX - 1, u64::MAX)]);
        let segs = holder_segments([&top].into_iter());
        assert_eq!(segs.len(), 1);
        assert_eq!(segs[0].end, u64::MAX);
    }

    fn order(strategy: ReplicationStrategy, limit: usize, shuffle: usize) -> CandidateOrder {
        CandidateOrder {
            strategy,
            limit,
            scan_limit: 100,
            shuffle,
        }
    }

    #[test]
    fn strategies_order_candidates() {
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let a = set(&[(0, 9)]);
        let b = set(&[(0, 4)]);
        let segs = holder_segments([&a, &b].into_iter());
        let want = set(&[(2, 7)]);
        use ReplicationStrategy::{LowestFirst, RarestFirst};
        let low = candidates(&want, &segs, order(LowestFirst, 4, 0), &mut rng, |_| false);
        assert_eq!(low, vec![2, 3, 4, 5]);
        // Rarest first: the indices one neighbour holds (5..=7) before those two hold, each
        // class walked from a random start, wrapping around.
        for _ in 0..20 {
            let rare = candidates(&want, &segs, order(RarestFirst, 6, 0), &mut rng, |_| false);
            let mut head = rare[..3].to_vec();
            let mut tail = rare[3..].to_vec();
            assert!(
                [vec![5, 6, 7], vec![6, 7, 5], vec![7, 5, 6]].contains(&head),
                "{rare:?}"
            );
            head.sort_unstable();
            tail.sort_unstable();
            assert_eq!((head, tail), (vec![5, 6, 7], vec![2, 3, 4]));
        }
        let skip = candidates(&want, &segs, order(RarestFirst, 6, 0), &mut rng, |i| i == 6);
        assert_eq!(skip.len(), 5);
        assert!(!skip.contains(&6));
        // Not held by anyone: never a candidate.
        let want = set(&[(50, 60)]);
        assert!(candidates(&want, &segs, order(LowestFirst, 4, 0), &mut rng, |_| false).is_empty());
    }

    #[test]
    fn ties_are_broken_at_random() {
        let mut rng = ChaCha8Rng::seed_from_u64(8);
        let a = set(&[(0, 999)]);
        let segs = holder_segments([&a].into_iter());
        let want = set(&[(0, 99), (500, 599)]);
        use ReplicationStrategy::{LowestFirst, RarestFirst};
        // Rarest first over one class: the first pick is spread over the whole class.
        let mut firsts = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let c = candidates(&want, &segs, order(RarestFirst, 200, 0), &mut rng, |_| {
                false
            });
            assert_eq!(c.len(), 100, "scan limit");
            firsts.insert(c[0]);
            assert!(c.iter().all(|i| want.contains(*i)));
        }
        assert!(firsts.len() > 100, "{}", firsts.len());
        assert!(firsts.iter().any(|i| *i >= 500));
        // Lowest first: the lowest `shuffle` ones in random order, then ascending.
        let mut seen_first = std::collections::BTreeSet::new();
        for _ in 0..100 {
            let c = candidates(&want, &segs, order(LowestFirst, 12, 8), &mut rng, |_| false);
            let mut head = c[..8].to_vec();
            head.sort_unstable();
            assert_eq!(head, (0..8).collect::<Vec<_>>());
            assert_eq!(&c[8..], &[8, 9, 10, 11]);
            seen_first.insert(c[0]);
        }
        assert_eq!(seen_first.len(), 8);
    }

    #[test]
    fn scan_is_bounded() {
        let mut rng = ChaCha8Rng::seed_from_u64(9);
        let a = set(&[(0, u64::MAX - 1)]);
        let segs = holder_segments([&a].into_iter());
        let want = set(&[(0, 1 << 50)]);
        for strategy in [
            ReplicationStrategy::LowestFirst,
            ReplicationStrategy::RarestFirst,
        ] {
            let o = CandidateOrder {
                strategy,
                limit: 8,
                scan_limit: 1000,
                shuffle: 8,
            };
            assert!(candidates(&want, &segs, o, &mut rng, |_| true).is_empty());
        }
        // Rotation over a class spanning the whole index space does not overflow.
        let all = set(&[(0, u64::MAX)]);
        let segs = holder_segments([&all].into_iter());
        let o = CandidateOrder {
            strategy: ReplicationStrategy::RarestFirst,
            limit: 3,
            scan_limit: 10,
            shuffle: 0,
        };
        assert_eq!(candidates(&all, &segs, o, &mut rng, |_| false).len(), 3);
    }

    fn load(peer: u8, faults: u32, strikes: u32, in_flight: usize, seed: bool) -> HolderLoad<u8> {
        HolderLoad {
            peer,
            faults,
            strikes,
            in_flight,
            seed,
        }
    }

    #[test]
    fn holder_choice_spreads_and_avoids_strikes() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let h = [
            load(1, 0, 0, 2, false),
            load(2, 0, 0, 0, false),
            load(3, 0, 1, 0, false),
            load(4, 0, 0, 0, false),
        ];
        let mut seen = [0; 5];
        for _ in 0..100 {
            seen[choose_holder(&h, &mut rng).unwrap() as usize] += 1;
        }
        assert_eq!(seen[1] + seen[3], 0);
        assert!(seen[2] > 20 && seen[4] > 20, "{seen:?}");
        assert_eq!(choose_holder::<u8>(&[], &mut rng), None);
    }

    #[test]
    fn holder_choice_avoids_faults_and_spares_the_seed() {
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        // A faulty holder loses to a slow, busy one.
        let h = [load(1, 1, 0, 0, false), load(2, 0, 1, 3, true)];
        assert_eq!(choose_holder(&h, &mut rng), Some(2));
        // An idle seed ties with a member that has one request in flight.
        let h = [load(1, 0, 0, 0, true), load(2, 0, 0, 1, false)];
        let mut seen = [0; 3];
        for _ in 0..100 {
            seen[choose_holder(&h, &mut rng).unwrap() as usize] += 1;
        }
        assert!(seen[1] > 20 && seen[2] > 20, "{seen:?}");
        // An idle member beats an idle seed.
        let h = [load(1, 0, 0, 0, true), load(2, 0, 0, 0, false)];
        assert_eq!(choose_holder(&h, &mut rng), Some(2));
    }
}
