//! `NetGroup.estimatedMemberCount` and the target neighbor count (docs/protocol/netgroup.md,
//! "Member count estimate" to "Target neighbour count").
//!
//! The estimate looks only at the local neighbourhood of the ring: the span covered by the two
//! members before and the two after our own address is four average gaps, so the group holds about
//! `2^64 / (span / 4)` members (addresses compared on their first 64 bits). This is librtmfp's
//! formula, which it states is Flash's. Like any inverse-of-a-gap estimator it is skewed upwards:
//! for uniformly spread addresses its *mean* is about 4/3 of the true count while its *median* is
//! within ~10% (the span is a Gamma(4) variable); the target neighbor count only uses its log2.

use std::cmp::Ordering;

use crate::best_list::Ring;
use crate::id::GroupAddress;

/// Base of the target neighbor count: `floor(log2(N)) + 13` (docs/protocol/netgroup.md, "Target
/// neighbour count").
pub const TARGET_NEIGHBORS_BASE: usize = 13;

/// Flash `estimatedMemberCount` (docs/protocol/netgroup.md, "Member count estimate") from the heard
/// list `heard` (a [`Ring`], e.g. (group address, record) pairs sorted by address with no address
/// twice; only the addresses are read) as seen by the member at `own`.
///
/// With fewer than 4 other members the count of known members is returned. Otherwise the
/// first 64 bits of the addresses 2 before and 2 after `own` on the ring give the span `D`
/// (mod 2^64) and the result is `2^64 / (D / 4) + 1`. `own` itself is ignored if present in
/// `heard`. A degenerate span of 0 (colliding prefixes) yields the heard-list size. An unsorted
/// slice gives an unspecified estimate, never a panic.
pub fn estimated_member_count<H: Ring + ?Sized>(heard: &H, own: &GroupAddress) -> f64 {
    let n = heard.len();
    // First index at or after `own`, and first index after it.
    let at = heard.lower_bound(own);
    let past = at + usize::from(at < n && heard.cmp_address(at, own) == Ordering::Equal);
    let others = n - (past - at);
    if others < 4 {
        return others as f64;
    }
    // The others in ring order starting just after `own` are indices past.., then ..at.
    let other = |k: usize| {
        let i = if k < n - past {
            past + k
        } else {
            k - (n - past)
        };
        heard.prefix(i)
    };
    let (last, first) = (other(1), other(others - 2));
    let span = last.wrapping_sub(first);
    if span == 0 {
        return others as f64;
    }
    // 2^64 / (span / 4) + 1
    4.0 * 18_446_744_073_709_551_616.0 / span as f64 + 1.0
}

/// The number of neighbors a member aims for: `floor(log2(estimate)) + 13`
/// (docs/protocol/netgroup.md, "Target neighbour count", librtmfp `TargetNeighborsCount`).
/// Estimates below 1 (an empty group) give 13.
pub fn target_neighbor_count(estimate: f64) -> usize {
    if estimate.is_nan() || estimate < 1.0 {
        return TARGET_NEIGHBORS_BASE;
    }
    let log = estimate.log2().floor();
    // log2 of any finite f64 is below 1024
    (log.min(1024.0) as usize) + TARGET_NEIGHBORS_BASE
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::PeerId;
    use rand_chacha::rand_core::{RngCore, SeedableRng};
    use std::collections::BTreeMap;

    fn random_group(n: usize, seed: u64) -> Vec<(GroupAddress, PeerId)> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let mut map = BTreeMap::new();
        while map.len() < n {
            let mut id = [0u8; 32];
            rng.fill_bytes(&mut id);
            let p = PeerId(id);
            map.insert(p.group_address(), p);
        }
        map.into_iter().collect()
    }

    #[test]
    fn small_heard_lists_count_directly() {
        let g = random_group(3, 1);
        let own = GroupAddress([0x55; 32]);
        assert_eq!(estimated_member_count(&g, &own), 3.0);
        // own inside the map is not counted
        let (first, _) = &g[0];
        assert_eq!(estimated_member_count(&g, first), 2.0);
        assert_eq!(
            estimated_member_count::<[(GroupAddress, PeerId)]>(&[], &own),
            0.0
        );
    }

    #[test]
    fn evenly_spaced_ring_is_exact() {
        // 16 members at i * 2^60: span of 4 gaps = 2^62, estimate = 2^64 / 2^60 + 1 = 17.
        let mut map = BTreeMap::new();
        for i in 0u8..16 {
            let mut a = [0u8; 32];
            a[0] = i << 4;
            map.insert(GroupAddress(a), PeerId(a));
        }
        let map: Vec<_> = map.into_iter().collect();
        let (own, _) = &map[5];
        let own = *own;
        assert_eq!(estimated_member_count(&map, &own), 17.0);
        // From a point between two members, across the wrap: the span e0..10 is 3 gaps of 2^60,
        // which the formula reads as 4 gaps (the point itself splits one).
        let mut between = [0xffu8; 32];
        between[0] = 0xf8;
        let e = estimated_member_count(&map, &GroupAddress(between));
        assert!((e - (64.0 / 3.0 + 1.0)).abs() < 1e-9, "{e}");
    }

    #[test]
    fn estimate_tracks_group_size() {
        for (n, seed) in [(100usize, 11u64), (1000, 12), (10_000, 13)] {
            let group = random_group(n, seed);
            // Estimates from 64 members spread over the ring.
            let step = n / 64;
            let mut estimates: Vec<f64> = group
                .iter()
                .map(|(a, _)| a)
                .step_by(step.max(1))
                .take(64)
                .map(|own| estimated_member_count(&group, own))
                .collect();
            estimates.sort_by(f64::total_cmp);
            let median = estimates[estimates.len() / 2];
            let harmonic = estimates.len() as f64 / estimates.iter().map(|e| 1.0 / e).sum::<f64>();
            let truth = n as f64;
            assert!(
                (median / truth - 1.0).abs() < 0.3,
                "n={n}: median estimate {median}"
            );
            assert!(
                (harmonic / truth - 1.0).abs() < 0.3,
                "n={n}: harmonic-mean estimate {harmonic}"
            );
        }
    }

    #[test]
    fn target_counts() {
        assert_eq!(target_neighbor_count(0.0), 13);
        assert_eq!(target_neighbor_count(1.0), 13);
        assert_eq!(target_neighbor_count(2000.0), 23);
        assert_eq!(target_neighbor_count(1024.0), 23);
        assert_eq!(target_neighbor_count(1023.9), 22);
        assert_eq!(target_neighbor_count(f64::INFINITY), 1024 + 13);
        assert_eq!(target_neighbor_count(f64::NAN), 13);
    }
}
