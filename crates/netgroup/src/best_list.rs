//! Best-list selection: which members a node should be connected to, or which members to tell a
//! neighbour about in a group report (docs/protocol/netgroup.md, "Best list", librtmfp
//! `buildBestList`).
//!
//! For a target address `A` over the heard list `H` ((address, peer ID) pairs sorted on the ring):
//! 1. if `|H| ≤ 6`: everyone;
//! 2. else the 6 ring neighbours of `A` (2 predecessors, 4 successors, skipping `A` itself), up
//!    to 6 lowest-latency connected peers, one random member, then "fingers" until the list has
//!    the target count: the first member at or after `A + 2^(256-k)` for k = 1, 2, ...
//!
//! Where this departs from librtmfp (none of it is visible on the wire):
//! - its latency loop skips the lowest-RTT peer (the off-by-one noted in docs/protocol/netgroup.md,
//!   "Best list"), and when `A` is past the last address it starts the neighbour window one entry
//!   early (3 predecessors + 3 successors); here the lowest is kept and the window always wraps to
//!   the first address;
//! - stability, so that neighbours are not replaced on every recomputation (measured in the
//!   simulator: with librtmfp's rules a 50-member swarm opened ~97 sessions per member in 40 s):
//!   - RTTs are compared in [`RTT_BUCKET_US`] buckets, ties broken by ring distance, so jitter
//!     does not reorder the low-latency picks;
//!   - the random member is kept while it stays eligible ([`BestListRequest::keep_random`]);
//!   - fingers sit at fixed *address* offsets (Chord-like) rather than librtmfp's index
//!     offsets `|H| / 2^k`, which shift whenever the heard list grows or shrinks.
//!
//! A node connects to the members of its own list as librtmfp's `manageBestConnections` does
//! (docs/protocol/netgroup.md, "Maintenance timers"): only while it has fewer neighbours than the
//! list has members, since the members whose lists name it connect to it anyway; except that the
//! ring neighbours ([`BestList::ring`]) are always connected (`node/membership.rs`).

use std::cmp::Ordering;
use std::collections::BTreeSet;

use rand_core::RngCore;

use crate::id::{GroupAddress, PeerId};

/// Heard lists of at most this many members are returned whole (docs/protocol/netgroup.md, "Best
/// list" step 1).
pub const SMALL_GROUP: usize = 6;
/// Ring neighbours taken around the target: 2 before and 4 after (docs/protocol/netgroup.md, "Best
/// list" step 2a).
pub const RING_NEIGHBORS: usize = 6;
/// Ring neighbours taken before the target.
pub const RING_PREDECESSORS: usize = 2;
/// Most low-latency peers added (docs/protocol/netgroup.md, "Best list" step 2b).
pub const LOW_LATENCY: usize = 6;
/// Random draws tried before the random pick falls back to a scan.
const RANDOM_TRIES: usize = 16;
/// Width of the RTT buckets the low-latency picks compare, microseconds (5 ms).
pub const RTT_BUCKET_US: u64 = 5_000;

/// A value of the heard list the best list walks: the member's peer ID, alone or inside a
/// richer record.
pub trait RingMember {
    /// The member's peer ID.
    fn peer_id(&self) -> &PeerId;
}

impl RingMember for PeerId {
    fn peer_id(&self) -> &PeerId {
        self
    }
}

/// Members sorted by group address (the ring, docs/protocol/netgroup.md, "Ring distance and
/// coverage"), as the best list and [`crate::estimated_member_count`] read them: a slice or vector
/// of (address, record) pairs with no address twice, or a compact store that keeps only part of
/// each address (a node's heard list keeps the first 64 bits and recomputes the rest from the peer
/// ID on a tie). Indices are 0-based positions in address order.
pub trait Ring {
    /// Number of members.
    fn len(&self) -> usize;

    /// Whether there are no members.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Peer ID of member `i` (`i < len()`).
    fn peer(&self, i: usize) -> &PeerId;

    /// The first 64 bits of member `i`'s group address, big-endian (docs/protocol/netgroup.md,
    /// "Member count estimate").
    fn prefix(&self, i: usize) -> u64;

    /// Member `i`'s group address compared with `address`.
    fn cmp_address(&self, i: usize, address: &GroupAddress) -> Ordering;

    /// Index of the first member whose address is ≥ `address` (`len()` if none): a binary
    /// search, so on an unsorted ring some index, never a panic.
    fn lower_bound(&self, address: &GroupAddress) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.cmp_address(mid, address) == Ordering::Less {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

impl<V: RingMember> Ring for [(GroupAddress, V)] {
    fn len(&self) -> usize {
        <[_]>::len(self)
    }

    fn peer(&self, i: usize) -> &PeerId {
        self[i].1.peer_id()
    }

    fn prefix(&self, i: usize) -> u64 {
        self[i].0.prefix_u64()
    }

    fn cmp_address(&self, i: usize, address: &GroupAddress) -> Ordering {
        self[i].0.cmp(address)
    }
}

impl<V: RingMember> Ring for Vec<(GroupAddress, V)> {
    fn len(&self) -> usize {
        self.as_slice().len()
    }

    fn peer(&self, i: usize) -> &PeerId {
        Ring::peer(self.as_slice(), i)
    }

    fn prefix(&self, i: usize) -> u64 {
        Ring::prefix(self.as_slice(), i)
    }

    fn cmp_address(&self, i: usize, address: &GroupAddress) -> Ordering {
        Ring::cmp_address(self.as_slice(), i, address)
    }
}

/// What a best list is computed for (docs/protocol/netgroup.md, "Best list").
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
    /// Connected peers with their smoothed RTT in microseconds (any order). librtmfp uses its
    /// own RTTs even for a neighbour's list.
    pub latencies: &'a [(PeerId, u64)],
    /// The random member of the previous list: kept if still heard and not chosen otherwise,
    /// instead of drawing a new one.
    pub keep_random: Option<PeerId>,
}

/// Computes the best list over the heard list `heard` for `req` (docs/protocol/netgroup.md, "Best
/// list").
///
/// `heard` is the [`Ring`] of members heard of, e.g. (group address, peer ID or any
/// [`RingMember`] record) pairs sorted by address with no address twice (a `BTreeMap`'s pairs
/// collected in order are); it should not contain our own entry. An unsorted ring gives an
/// unspecified list, never a panic. Deterministic for
/// a given `rng` state; costs O(|H| + latencies·log) time. Returns the chosen peer IDs, sorted.
pub fn best_list<H: Ring + ?Sized, R: RngCore + ?Sized>(
    heard: &H,
    req: &BestListRequest<'_>,
    rng: &mut R,
) -> BTreeSet<PeerId> {
    best_list_with_random(heard, req, rng).members
}

/// A best list with how its members were chosen (docs/protocol/netgroup.md, "Best list").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BestList {
    /// Every chosen peer ID, sorted.
    pub members: BTreeSet<PeerId>,
    /// The ring neighbours among them (step a: at most `RING_NEIGHBORS`, all of them when
    /// the heard list has at most `SMALL_GROUP` members), in ring order.
    pub ring: Vec<PeerId>,
    /// The member chosen as the random pick (step c), to be passed back as
    /// [`BestListRequest::keep_random`] next time.
    pub random: Option<PeerId>,
}

/// [`best_list`], also telling which members are ring neighbours and which is the random pick.
pub fn best_list_with_random<H: Ring + ?Sized, R: RngCore + ?Sized>(
    heard: &H,
    req: &BestListRequest<'_>,
    rng: &mut R,
) -> BestList {
    let mut best = BTreeSet::new();
    let target_peer = req.target_peer.as_ref();
    let ring = heard;
    let n = ring.len();
    if n <= SMALL_GROUP {
        let all: Vec<PeerId> = (0..n)
            .filter(|&i| {
                Some(ring.peer(i)) != target_peer
                    && ring.cmp_address(i, &req.target) != Ordering::Equal
            })
            .map(|i| *ring.peer(i))
            .collect();
        best.extend(all.iter().copied());
        return BestList {
            members: best,
            ring: all,
            random: None,
        };
    }
    // The peer comparison first: it is cheap, and it settles the target's own record.
    let is_target = |i: usize| {
        target_peer == Some(ring.peer(i)) || ring.cmp_address(i, &req.target) == Ordering::Equal
    };

    // a. Ring neighbours: start at the first address ≥ A (wrapping), step back 2, take 6.
    let successor = ring.lower_bound(&req.target) % n;
    let mut i = (successor + n - RING_PREDECESSORS % n) % n;
    let mut ring_picks = Vec::with_capacity(RING_NEIGHBORS);
    for _ in 0..n {
        if ring_picks.len() == RING_NEIGHBORS {
            break;
        }
        if !is_target(i) {
            best.insert(*ring.peer(i));
            ring_picks.push(*ring.peer(i));
        }
        i = (i + 1) % n;
    }

    // b. Lowest latency connected peers (including the very lowest one).
    best.extend(lowest_latency(req));

    // c. One random member not selected yet.
    let eligible =
        |i: usize, best: &BTreeSet<PeerId>| !is_target(i) && !best.contains(ring.peer(i));
    let mut pick = req.keep_random.and_then(|p| {
        let i = (0..n).position(|i| *ring.peer(i) == p)?;
        eligible(i, &best).then_some(i)
    });
    for _ in 0..RANDOM_TRIES {
        if pick.is_some() {
            break;
        }
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
    let random = pick.map(|i| *ring.peer(i));
    if let Some(p) = random {
        best.insert(p);
    }

    // d. Fingers: the first eligible member at or after A + 2^(256-k), k = 1, 2, ...
    let targets = (0..n).filter(|&i| is_target(i)).count();
    let available = n - targets;
    let target_count = req.target_count.min(available);
    let mut k = 1u32;
    while best.len() < target_count && k <= 256 {
        let point = req.target.add_pow2(256 - k);
        let mut cursor = ring.lower_bound(&point) % n;
        let mut guard = 0;
        while !eligible(cursor, &best) && guard < n {
            cursor = (cursor + 1) % n;
            guard += 1;
        }
        if guard == n {
            break; // everyone is chosen already
        }
        best.insert(*ring.peer(cursor));
        k += 1;
    }
    BestList {
        members: best,
        ring: ring_picks,
        random,
    }
}

/// The [`LOW_LATENCY`] connected peers (other than the target) that come first in the order
/// (RTT bucket, ring distance from the target, position in `req.latencies`).
///
/// Equal RTTs (a LAN, a simulator with uniform delays) are broken by ring distance from the
/// target, not by peer ID: an ID order is the same for every member and would make the few
/// lowest IDs everyone's neighbours. A distance needs the peer's group address (a SHA-256), so
/// it is computed only for the peers of the last bucket taken, where the tie is decided.
fn lowest_latency(req: &BestListRequest<'_>) -> Vec<PeerId> {
    let mut by_rtt: Vec<(u64, usize, PeerId)> = req
        .latencies
        .iter()
        .enumerate()
        .filter(|(_, (p, _))| Some(*p) != req.target_peer)
        .map(|(i, (p, rtt))| (*rtt / RTT_BUCKET_US, i, *p))
        .collect();
    by_rtt.sort_unstable_by_key(|&(bucket, i, _)| (bucket, i));
    if by_rtt.len() <= LOW_LATENCY {
        return by_rtt.into_iter().map(|(_, _, p)| p).collect();
    }
    // Buckets below the cut are taken whole; the cut bucket's peers compete by distance.
    let cut = by_rtt[LOW_LATENCY - 1].0;
    let below = by_rtt.partition_point(|e| e.0 < cut);
    let upto = by_rtt.partition_point(|e| e.0 <= cut);
    let mut out: Vec<PeerId> = by_rtt[..below].iter().map(|e| e.2).collect();
    let mut ties: Vec<_> = by_rtt[below..upto]
        .iter()
        .map(|&(_, i, p)| (p.group_address().distance(&req.target), i, p))
        .collect();
    ties.sort_unstable_by_key(|&(d, i, _)| (d, i));
    out.extend(ties.iter().take(LOW_LATENCY - below).map(|e| e.2));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha8Rng;
    use std::collections::BTreeMap;

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

    /// The map's pairs in address order, as the best list takes them.
    fn sorted(map: &BTreeMap<GroupAddress, PeerId>) -> Vec<(GroupAddress, PeerId)> {
        map.iter().map(|(a, p)| (*a, *p)).collect()
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
            keep_random: None,
        }
    }

    #[test]
    fn small_groups_get_everyone() {
        let h = ring(6);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let r = req(GroupAddress([0x99; 32]), 20);
        assert_eq!(best_list(&sorted(&h), &r, &mut rng).len(), 6);
        // For a neighbour's list, the neighbour itself is left out.
        let (a, p) = h.iter().nth(2).unwrap();
        let r = BestListRequest {
            target: *a,
            target_peer: Some(*p),
            ..r
        };
        let b = best_list(&sorted(&h), &r, &mut rng);
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
        let b = best_list(&sorted(&h), &req(own, 13), &mut rng);
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
        let b = best_list(&sorted(&h), &r, &mut rng);
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
        let b = best_list(&sorted(&h), &req(own, 13), &mut rng);
        for i in [62, 63, 0, 1, 2, 3] {
            assert!(b.contains(h.values().nth(i).unwrap()), "missing {i}");
        }
    }

    #[test]
    fn size_equals_target_and_is_deterministic() {
        let h = ring(200);
        let own = GroupAddress([0x42; 32]);
        for target in [13usize, 17, 20] {
            let a = best_list(
                &sorted(&h),
                &req(own, target),
                &mut ChaCha8Rng::seed_from_u64(9),
            );
            let b = best_list(
                &sorted(&h),
                &req(own, target),
                &mut ChaCha8Rng::seed_from_u64(9),
            );
            assert_eq!(a.len(), target);
            assert_eq!(a, b);
        }
        // A target larger than the group is capped by the heard list.
        assert_eq!(
            best_list(
                &sorted(&h),
                &req(own, 500),
                &mut ChaCha8Rng::seed_from_u64(9)
            )
            .len(),
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
            .map(|(i, p)| (*p, RTT_BUCKET_US * (i as u64 + 1)))
            .collect();
        let r = BestListRequest {
            latencies: &lat,
            keep_random: None,
            ..req(GroupAddress([0; 32]), 13)
        };
        let b = best_list(&sorted(&h), &r, &mut ChaCha8Rng::seed_from_u64(4));
        for p in &far[..LOW_LATENCY] {
            assert!(b.contains(p));
        }
    }

    /// The low-latency picks are the first [`LOW_LATENCY`] of a full stable sort by (RTT
    /// bucket, ring distance), whatever the ties.
    #[test]
    fn lowest_latency_is_the_head_of_the_full_sort() {
        let mut rng = ChaCha8Rng::seed_from_u64(6);
        for round in 0..300 {
            let n = (rng.next_u32() % 40) as usize;
            let buckets = 1 + rng.next_u32() as u64 % 6;
            let lat: Vec<(PeerId, u64)> = (0..n)
                .map(|_| {
                    let mut a = [0u8; 32];
                    rng.fill_bytes(&mut a);
                    (PeerId(a), (rng.next_u64() % buckets) * RTT_BUCKET_US + 17)
                })
                .collect();
            let mut target = [0u8; 32];
            rng.fill_bytes(&mut target);
            let target_peer = (round % 2 == 0 && n > 0).then(|| lat[round % n].0);
            let r = BestListRequest {
                target_peer,
                latencies: &lat,
                ..req(GroupAddress(target), 13)
            };
            let mut full: Vec<(u64, PeerId)> = lat
                .iter()
                .filter(|(p, _)| Some(*p) != target_peer)
                .map(|(p, rtt)| (*rtt, *p))
                .collect();
            full.sort_by_cached_key(|(rtt, p)| {
                (*rtt / RTT_BUCKET_US, p.group_address().distance(&r.target))
            });
            let expect: BTreeSet<PeerId> = full.iter().take(LOW_LATENCY).map(|(_, p)| *p).collect();
            let got: BTreeSet<PeerId> = lowest_latency(&r).into_iter().collect();
            assert_eq!(got, expect, "round {round}");
        }
    }

    #[test]
    fn the_list_is_stable_when_members_arrive_and_rtts_jitter() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let random_member = |rng: &mut ChaCha8Rng| {
            let mut a = [0u8; 32];
            rng.fill_bytes(&mut a);
            (GroupAddress(a), PeerId(a))
        };
        let mut h: BTreeMap<GroupAddress, PeerId> =
            (0..300).map(|_| random_member(&mut rng)).collect();
        let own = random_member(&mut rng).0;
        let lat: Vec<(PeerId, u64)> = h.values().take(10).map(|p| (*p, 20_000)).collect();
        let r = BestListRequest {
            latencies: &lat,
            ..req(own, 21)
        };
        let BestList {
            members: before,
            ring,
            random,
        } = best_list_with_random(&sorted(&h), &r, &mut rng);
        assert!(random.is_some());
        // The ring neighbours: the 2 members before `own` and the 4 after it, in ring order.
        let succ: Vec<PeerId> = h.range(own..).chain(&h).take(4).map(|(_, p)| *p).collect();
        let pred: Vec<PeerId> = (h.range(..own).rev().chain(h.iter().rev()))
            .take(2)
            .map(|(_, p)| *p)
            .collect();
        let expected: Vec<PeerId> = pred.iter().rev().chain(succ.iter()).copied().collect();
        assert_eq!(ring, expected);
        assert!(ring.iter().all(|p| before.contains(p)));
        // 30 members arrive, RTTs move by ±1 ms inside their bucket.
        for _ in 0..30 {
            let (a, p) = random_member(&mut rng);
            h.insert(a, p);
        }
        let lat2: Vec<(PeerId, u64)> = lat
            .iter()
            .map(|(p, _)| (*p, 20_000 + (p.0[0] as u64 % 2) * 1_000))
            .collect();
        let r2 = BestListRequest {
            latencies: &lat2,
            keep_random: random,
            ..req(own, 21)
        };
        let BestList {
            members: after,
            random: random2,
            ..
        } = best_list_with_random(&sorted(&h), &r2, &mut rng);
        assert_eq!(random2, random, "the random member was redrawn");
        let kept = before.intersection(&after).count();
        // Only ring neighbours and fingers that a newcomer now precedes may change.
        assert!(
            kept * 4 >= before.len() * 3,
            "kept {kept} of {}",
            before.len()
        );
    }

    #[test]
    fn fingers_spread_over_the_ring() {
        let n = 1024;
        let h = ring(n);
        let own = GroupAddress([0; 32]);
        let b = best_list(
            &sorted(&h),
            &req(own, 23),
            &mut ChaCha8Rng::seed_from_u64(5),
        );
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
