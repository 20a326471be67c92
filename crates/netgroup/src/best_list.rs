//! Best-list selection: which members a node should be connected to, or which members to tell a
//! neighbour about in a group report (netgroup digest §3.6, librtmfp `buildBestList`).
//!
//! For a target address `A` over the heard list `H` (address → peer ID, sorted on the ring):
//! 1. if `|H| ≤ 6`: everyone;
//! 2. else the 6 ring neighbours of `A` (2 predecessors, 4 successors, skipping `A` itself), up
//!    to 6 lowest-latency connected peers, one random member, then "fingers": while the list is
//!    shorter than the target count, advance `|H| / 2^missing` positions from `A` and take the
//!    next entry not yet chosen, which places peers at about 1/2^k of the ring in index space.
//!
//! Two librtmfp slips are not copied: its latency loop skips the lowest-RTT peer (the digest's
//! off-by-one), and when `A` is past the last address it starts the neighbour window one entry
//! early (3 predecessors + 3 successors). Here the window always wraps to the first address.

use std::collections::{BTreeMap, BTreeSet};

use rand_core::RngCore;

use crate::id::{GroupAddress, PeerId};

/// Heard lists of at most this many members are returned whole (digest §3.6 step 1).
pub const SMALL_GROUP: usize = 6;
/// Ring neighbours taken around the target: 2 before and 4 after (digest §3.6 step 2a).
pub const RING_NEIGHBORS: usize = 6;
/// Ring neighbours taken before the target.
pub const RING_PREDECESSORS: usize = 2;
/// Most low-latency peers added (digest §3.6 step 2b).
pub const LOW_LATENCY: usize = 6;
/// Random draws tried before the random pick falls back to a scan.
const RANDOM_TRIES: usize = 16;

/// What a best list is computed for (netgroup digest §3.6).
#[derive(Debug, Clone, Copy)]
pub struct BestListRequest<'a> {
    /// Ring position the list is built around: our own address, or a neighbour's when building
    /// the report we send it.
    pub target: GroupAddress,
    /// The member at `target` when it is a neighbour (it is never put in its own list and is
    /// excluded from the finger budget); `None` when building our own list.
    pub target_peer: Option<PeerId>,
    /// Target size: [`crate::estimate::target_neighbor_count`] of *our* member estimate.
    pub target_count: usize,
    /// Connected peers with their smoothed RTT in microseconds (any order; ties are broken by
    /// peer ID). librtmfp uses its own RTTs even for a neighbour's list.
    pub latencies: &'a [(PeerId, u64)],
}

/// Computes the best list over the heard list `heard` (group address → peer ID; it should not
/// contain our own entry) for `req` (netgroup digest §3.6). Deterministic for a given `rng`
/// state; costs O(|H| + latencies·log) time. Returns the chosen peer IDs, sorted.
pub fn best_list<R: RngCore + ?Sized>(
    heard: &BTreeMap<GroupAddress, PeerId>,
    req: &BestListRequest<'_>,
    rng: &mut R,
) -> BTreeSet<PeerId> {
    let mut best = BTreeSet::new();
    let ring: Vec<(&GroupAddress, &PeerId)> = heard.iter().collect();
    let n = ring.len();
    if n <= SMALL_GROUP {
        best.extend(
            ring.iter()
                .filter(|(a, p)| **a != req.target && Some(**p) != req.target_peer)
                .map(|(_, p)| **p),
        );
        return best;
    }
    let is_target = |i: usize| *ring[i].0 == req.target || Some(*ring[i].1) == req.target_peer;

    // a. Ring neighbours: start at the first address ≥ A (wrapping), step back 2, take 6.
    let successor = ring.partition_point(|(a, _)| **a < req.target) % n;
    let mut i = (successor + n - RING_PREDECESSORS % n) % n;
    let mut taken = 0;
    for _ in 0..n {
        if taken == RING_NEIGHBORS {
            break;
        }
        if !is_target(i) {
            best.insert(*ring[i].1);
            taken += 1;
        }
        i = (i + 1) % n;
    }

    // b. Lowest latency connected peers (including the very lowest one).
    let mut by_rtt: Vec<(u64, PeerId)> = req
        .latencies
        .iter()
        .filter(|(p, _)| Some(*p) != req.target_peer)
        .map(|(p, rtt)| (*rtt, *p))
        .collect();
    // Equal RTTs (a LAN, a simulator with uniform delays) are broken by ring distance from the
    // target, not by peer ID: an ID order is the same for every member and would make the few
    // lowest IDs everyone's neighbours.
    by_rtt.sort_by_cached_key(|(rtt, p)| (*rtt, p.group_address().distance(&req.target)));
    best.extend(by_rtt.iter().take(LOW_LATENCY).map(|(_, p)| *p));

    // c. One random member not selected yet.
    let eligible = |i: usize, best: &BTreeSet<PeerId>| !is_target(i) && !best.contains(ring[i].1);
    let mut pick = None;
    for _ in 0..RANDOM_TRIES {
        let i = (rng.next_u64() % n as u64) as usize;
        if eligible(i, &best) {
            pick = Some(i);
            break;
        }
    }
    if pick.is_none() {
        let start = (rng.next_u64() % n as u64) as usize;
        pick = (0..n)
            .map(|k| (start + k) % n)
            .find(|&i| eligible(i, &best));
    }
    if let Some(i) = pick {
        best.insert(*ring[i].1);
    }

    // d. Fingers, from lower_bound(A), at |H| / 2^missing steps.
    let available = n - (0..n).filter(|&i| is_target(i)).count();
    let target_count = req.target_count.min(available);
    let mut cursor = successor;
    let mut missing = target_count.saturating_sub(best.len());
    while missing > 0 {
        let step = u32::try_from(missing)
            .ok()
            .and_then(|m| 1usize.checked_shl(m))
            .map_or(0, |d| n / d);
        cursor = (cursor + step) % n;
        let mut guard = 0;
        while !eligible(cursor, &best) && guard < n {
            cursor = (cursor + 1) % n;
            guard += 1;
        }
        if guard == n {
            break; // everyone is chosen already
        }
        best.insert(*ring[cursor].1);
        missing = target_count.saturating_sub(best.len());
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    /// Members at evenly spaced addresses `i * 2^248` (first byte = i), peer ID = address.
    fn ring(n: usize) -> BTreeMap<GroupAddress, PeerId> {
        (0..n)
            .map(|i| {
                let mut a = [0u8; 32];
                a[0] = (i * 256 / n) as u8;
                a[31] = i as u8;
                (GroupAddress(a), PeerId(a))
            })
            .collect()
    }

    fn idx(map: &BTreeMap<GroupAddress, PeerId>, p: &PeerId) -> usize {
        map.values().position(|q| q == p).unwrap()
    }

    fn req(target: GroupAddress, target_count: usize) -> BestListRequest<'static> {
        BestListRequest {
            target,
            target_peer: None,
            target_count,
            latencies: &[],
        }
    }

    #[test]
    fn small_groups_get_everyone() {
        let h = ring(6);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let r = req(GroupAddress([0x99; 32]), 20);
        assert_eq!(best_list(&h, &r, &mut rng).len(), 6);
        // For a neighbour's list, the neighbour itself is left out.
        let (a, p) = h.iter().nth(2).unwrap();
        let r = BestListRequest {
            target: *a,
            target_peer: Some(*p),
            ..r
        };
        let b = best_list(&h, &r, &mut rng);
        assert_eq!(b.len(), 5);
        assert!(!b.contains(p));
    }

    #[test]
    fn ring_neighbours_are_two_before_and_four_after() {
        let h = ring(64);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        // Our own address, just above member 10: neighbours 9, 10 and 11..=14.
        let mut own = *h.keys().nth(10).unwrap();
        own.0[31] = 0xff;
        let b = best_list(&h, &req(own, 13), &mut rng);
        for i in 9..=14 {
            assert!(b.contains(h.values().nth(i).unwrap()), "missing {i}");
        }
        // For member 10 itself: 8, 9 and 11..=14, never 10.
        let (a, p) = h.iter().nth(10).unwrap();
        let r = BestListRequest {
            target: *a,
            target_peer: Some(*p),
            ..req(*a, 13)
        };
        let b = best_list(&h, &r, &mut rng);
        assert!(!b.contains(p));
        for i in [8, 9, 11, 12, 13, 14] {
            assert!(b.contains(h.values().nth(i).unwrap()), "missing {i}");
        }
    }

    #[test]
    fn window_wraps_past_the_last_address() {
        let h = ring(64);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let own = GroupAddress([0xff; 32]); // after member 63
        let b = best_list(&h, &req(own, 13), &mut rng);
        for i in [62, 63, 0, 1, 2, 3] {
            assert!(b.contains(h.values().nth(i).unwrap()), "missing {i}");
        }
    }

    #[test]
    fn size_equals_target_and_is_deterministic() {
        let h = ring(200);
        let own = GroupAddress([0x42; 32]);
        for target in [13usize, 17, 20] {
            let a = best_list(&h, &req(own, target), &mut ChaCha8Rng::seed_from_u64(9));
            let b = best_list(&h, &req(own, target), &mut ChaCha8Rng::seed_from_u64(9));
            assert_eq!(a.len(), target);
            assert_eq!(a, b);
        }
        // A target larger than the group is capped by the heard list.
        assert_eq!(
            best_list(&h, &req(own, 500), &mut ChaCha8Rng::seed_from_u64(9)).len(),
            200
        );
    }

    #[test]
    fn lowest_latency_peer_is_included() {
        let h = ring(100);
        let far: Vec<PeerId> = h.values().skip(40).take(8).copied().collect();
        let lat: Vec<(PeerId, u64)> = far
            .iter()
            .enumerate()
            .map(|(i, p)| (*p, 1000 * (i as u64 + 1)))
            .collect();
        let r = BestListRequest {
            latencies: &lat,
            ..req(GroupAddress([0; 32]), 13)
        };
        let b = best_list(&h, &r, &mut ChaCha8Rng::seed_from_u64(4));
        for p in &far[..LOW_LATENCY] {
            assert!(b.contains(p));
        }
    }

    #[test]
    fn fingers_spread_over_the_ring() {
        let n = 1024;
        let h = ring(n);
        let own = GroupAddress([0; 32]);
        let b = best_list(&h, &req(own, 23), &mut ChaCha8Rng::seed_from_u64(5));
        assert_eq!(b.len(), 23);
        let mut positions: Vec<usize> = b.iter().map(|p| idx(&h, p)).collect();
        positions.sort();
        // Some finger in each half and each quarter of the ring beyond the neighbour window.
        for (lo, hi) in [(8, 256), (256, 512), (512, 768), (768, n - 2)] {
            assert!(
                positions.iter().any(|&x| x >= lo && x < hi),
                "no finger in {lo}..{hi}: {positions:?}"
            );
        }
    }
}
