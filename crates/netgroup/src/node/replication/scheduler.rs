//! Fetch scheduling (netgroup digest §9, `replicationStrategy`): which wanted indices to
//! request next, and from which neighbour.
//!
//! - [`holder_segments`] cuts the index space into segments over which the number of
//!   neighbours holding an index is constant (a sweep over every neighbour's have ranges).
//! - [`candidates`] walks the wanted indices some neighbour holds, lowest first
//!   ([`ReplicationStrategy::LowestFirst`]) or fewest holders first, ties to the lowest index
//!   ([`ReplicationStrategy::RarestFirst`]).
//! - [`choose_holder`] spreads the load: the eligible holder with the fewest timeouts, then
//!   the fewest requests in flight, ties broken at random.

use rand_core::RngCore;

use super::ranges::RangeSet;

/// Flash `NetGroupReplicationStrategy` (digest §9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReplicationStrategy {
    /// `"lowestFirst"`: request the lowest wanted index first (the default here; the digest
    /// does not know Flash's).
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

/// Up to `limit` wanted indices that some neighbour holds, in strategy order, skipping those
/// for which `skip` holds (already in flight, no eligible holder...). At most `scan_limit`
/// indices are examined, so a huge want set costs a bounded amount of work per call.
pub fn candidates(
    want: &RangeSet,
    segments: &[Segment],
    strategy: ReplicationStrategy,
    limit: usize,
    scan_limit: usize,
    mut skip: impl FnMut(u64) -> bool,
) -> Vec<u64> {
    let mut order: Vec<&Segment> = segments.iter().collect();
    if strategy == ReplicationStrategy::RarestFirst {
        order.sort_by_key(|s| (s.count, s.start));
    }
    let mut out = Vec::new();
    let mut scanned = 0usize;
    for seg in order {
        for i in want.indices_within(seg.start, seg.end) {
            if out.len() >= limit || scanned >= scan_limit {
                return out;
            }
            scanned += 1;
            if !skip(i) {
                out.push(i);
            }
        }
    }
    out
}

/// A neighbour that holds an index and may be asked for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HolderLoad<P> {
    /// The neighbour.
    pub peer: P,
    /// Fetches that timed out since its last object.
    pub strikes: u32,
    /// Our requests in flight to it.
    pub in_flight: usize,
}

/// The holder to ask: fewest strikes, then fewest in flight, ties at random.
pub fn choose_holder<P: Copy>(holders: &[HolderLoad<P>], rng: &mut impl RngCore) -> Option<P> {
    let best = holders.iter().map(|h| (h.strikes, h.in_flight)).min()?;
    let tied: Vec<P> = holders
        .iter()
        .filter(|h| (h.strikes, h.in_flight) == best)
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

    #[test]
    fn strategies_order_candidates() {
        let a = set(&[(0, 9)]);
        let b = set(&[(0, 4)]);
        let segs = holder_segments([&a, &b].into_iter());
        let want = set(&[(2, 7)]);
        let low = candidates(
            &want,
            &segs,
            ReplicationStrategy::LowestFirst,
            4,
            100,
            |_| false,
        );
        assert_eq!(low, vec![2, 3, 4, 5]);
        let rare = candidates(
            &want,
            &segs,
            ReplicationStrategy::RarestFirst,
            4,
            100,
            |_| false,
        );
        assert_eq!(rare, vec![5, 6, 7, 2]);
        let skip = candidates(
            &want,
            &segs,
            ReplicationStrategy::RarestFirst,
            4,
            100,
            |i| i == 6,
        );
        assert_eq!(skip, vec![5, 7, 2, 3]);
        // Not held by anyone: never a candidate.
        let want = set(&[(50, 60)]);
        assert!(candidates(
            &want,
            &segs,
            ReplicationStrategy::LowestFirst,
            4,
            100,
            |_| false
        )
        .is_empty());
    }

    #[test]
    fn scan_is_bounded() {
        let a = set(&[(0, u64::MAX - 1)]);
        let segs = holder_segments([&a].into_iter());
        let want = set(&[(0, 1 << 50)]);
        let got = candidates(
            &want,
            &segs,
            ReplicationStrategy::LowestFirst,
            8,
            1000,
            |_| true,
        );
        assert!(got.is_empty());
    }

    #[test]
    fn holder_choice_spreads_and_avoids_strikes() {
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let h = [
            HolderLoad {
                peer: 1,
                strikes: 0,
                in_flight: 2,
            },
            HolderLoad {
                peer: 2,
                strikes: 0,
                in_flight: 0,
            },
            HolderLoad {
                peer: 3,
                strikes: 1,
                in_flight: 0,
            },
            HolderLoad {
                peer: 4,
                strikes: 0,
                in_flight: 0,
            },
        ];
        let mut seen = [0; 5];
        for _ in 0..100 {
            seen[choose_holder(&h, &mut rng).unwrap()] += 1;
        }
        assert_eq!(seen[1] + seen[3], 0);
        assert!(seen[2] > 20 && seen[4] > 20, "{seen:?}");
        assert_eq!(choose_holder::<u8>(&[], &mut rng), None);
    }
}
