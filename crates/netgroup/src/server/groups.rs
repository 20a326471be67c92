//! Group membership kept by the rendezvous server, and whom it introduces to a newcomer
//! (docs/protocol/netgroup.md, "Server introductions"; our policy is documented in
//! `docs/rendezvous-server.md`).

use std::collections::BTreeMap;
use std::ops::Bound::{Excluded, Unbounded};

use rand_core::RngCore;
use rtmfp::SessionId;

use crate::id::{GroupAddress, PeerId};

/// Whom the server introduces to a member that joins a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntroductionPolicy {
    /// Members taken on each side of the newcomer's group address on the ring (MonaServer2
    /// uses 3): they give the newcomer its ring neighbours and the local density from which it
    /// estimates the group size (docs/protocol/netgroup.md, "Member count estimate").
    pub ring_each_side: usize,
    /// Further members drawn at random from the rest of the group, so that newcomers reach
    /// distant parts of the ring at once.
    pub random: usize,
}

impl Default for IntroductionPolicy {
    fn default() -> Self {
        IntroductionPolicy {
            ring_each_side: 3,
            random: 2,
        }
    }
}

/// A member as the server knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Member {
    /// Its peer ID.
    pub peer_id: PeerId,
    /// Its session with the server.
    pub session: SessionId,
}

/// Why a join was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// The server already holds its maximum number of groups.
    #[error("too many groups")]
    TooManyGroups,
    /// This client already joined its maximum number of groups.
    #[error("too many groups for one client")]
    TooManyMemberships,
    /// The group already holds its maximum number of members.
    #[error("group full")]
    GroupFull,
}

/// Every group, keyed by group ID; members on the ring by group address.
#[derive(Debug, Default)]
pub struct Groups {
    groups: BTreeMap<[u8; 32], BTreeMap<GroupAddress, Member>>,
    memberships: BTreeMap<SessionId, Vec<[u8; 32]>>,
    max_groups: usize,
    max_per_client: usize,
    max_members: usize,
}

impl Groups {
    /// Empty, with limits: groups in total, groups per client, members per group.
    pub fn new(max_groups: usize, max_per_client: usize, max_members: usize) -> Self {
        Groups {
            max_groups,
            max_per_client,
            max_members,
            ..Default::default()
        }
    }

    /// Number of groups with at least one member.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether there is no group.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }

    /// Total memberships.
    pub fn membership_count(&self) -> usize {
        self.memberships.values().map(Vec::len).sum()
    }

    /// Members of a group, in ring order.
    pub fn members(&self, group: &[u8; 32]) -> impl Iterator<Item = &Member> {
        self.groups.get(group).into_iter().flat_map(|m| m.values())
    }

    /// Adds `member` to `group` and returns the members to introduce to it under `policy`
    /// (never itself). Joining twice is harmless and introduces again.
    pub fn join(
        &mut self,
        group: [u8; 32],
        member: Member,
        policy: &IntroductionPolicy,
        rng: &mut dyn RngCore,
    ) -> Result<Vec<Member>, JoinError> {
        let joined = self.memberships.get(&member.session).map_or(0, Vec::len);
        let exists = self.groups.contains_key(&group);
        if !exists && self.groups.len() >= self.max_groups {
            return Err(JoinError::TooManyGroups);
        }
        let already = self
            .memberships
            .get(&member.session)
            .is_some_and(|g| g.contains(&group));
        if !already && joined >= self.max_per_client {
            return Err(JoinError::TooManyMemberships);
        }
        let ring = self.groups.entry(group).or_default();
        let address = member.peer_id.group_address();
        if !ring.contains_key(&address) && ring.len() >= self.max_members {
            if ring.is_empty() {
                self.groups.remove(&group);
            }
            return Err(JoinError::GroupFull);
        }
        let intro = select(ring, &address, policy, rng);
        ring.insert(address, member);
        if !already {
            self.memberships
                .entry(member.session)
                .or_default()
                .push(group);
        }
        Ok(intro)
    }

    /// Removes the member on `session` from `group`.
    pub fn leave(&mut self, group: &[u8; 32], session: SessionId) {
        if let Some(ring) = self.groups.get_mut(group) {
            ring.retain(|_, m| m.session != session);
            if ring.is_empty() {
                self.groups.remove(group);
            }
        }
        if let Some(gs) = self.memberships.get_mut(&session) {
            gs.retain(|g| g != group);
            if gs.is_empty() {
                self.memberships.remove(&session);
            }
        }
    }

    /// Removes the member on `session` from every group; returns how many it left.
    pub fn leave_all(&mut self, session: SessionId) -> usize {
        let groups = self.memberships.remove(&session).unwrap_or_default();
        for g in &groups {
            if let Some(ring) = self.groups.get_mut(g) {
                ring.retain(|_, m| m.session != session);
                if ring.is_empty() {
                    self.groups.remove(g);
                }
            }
        }
        groups.len()
    }
}

/// The members of `ring` (never `me`) to introduce to a newcomer at `me`: `ring_each_side`
/// successors and predecessors, then `random` others, each found at the first member at or
/// after a random address. O(log n) per pick: joins stay cheap in groups of millions.
fn select(
    ring: &BTreeMap<GroupAddress, Member>,
    me: &GroupAddress,
    policy: &IntroductionPolicy,
    rng: &mut dyn RngCore,
) -> Vec<Member> {
    let others = || ring.iter().filter(move |(a, _)| *a != me);
    let n = ring.len() - usize::from(ring.contains_key(me));
    if n <= 2 * policy.ring_each_side + policy.random {
        return others().map(|(_, m)| *m).collect();
    }
    let above = || ring.range((Excluded(*me), Unbounded));
    let below = || ring.range(..*me);
    // With n > 2k the k nearest on each side (cyclically) are distinct members.
    let successors = above().chain(below()).take(policy.ring_each_side);
    let predecessors = below()
        .rev()
        .chain(above().rev())
        .take(policy.ring_each_side);
    let mut out: Vec<(GroupAddress, Member)> = successors
        .zip(predecessors)
        .flat_map(|((sa, sm), (pa, pm))| [(*sa, *sm), (*pa, *pm)])
        .collect();
    let mut wanted = policy.random;
    let mut tries = 0;
    while wanted > 0 && tries < 8 * policy.random + 8 {
        tries += 1;
        let mut at = [0u8; 32];
        rng.fill_bytes(&mut at);
        let at = GroupAddress(at);
        let pick = ring
            .range(at..)
            .chain(ring.range(..at))
            .find(|(a, _)| *a != me && !out.iter().any(|(o, _)| o == *a));
        if let Some((a, m)) = pick {
            out.push((*a, *m));
            wanted -= 1;
        }
    }
    out.into_iter().map(|(_, m)| m).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha8Rng;

    fn member(i: u32) -> Member {
        let mut id = [0u8; 32];
        id[..4].copy_from_slice(&i.to_be_bytes());
        Member {
            peer_id: PeerId(id),
            session: SessionId(i),
        }
    }

    #[test]
    fn small_groups_introduce_everyone() {
        let mut g = Groups::new(10, 10, 100);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let p = IntroductionPolicy::default();
        assert!(g.join([1; 32], member(1), &p, &mut rng).unwrap().is_empty());
        let intro = g.join([1; 32], member(2), &p, &mut rng).unwrap();
        assert_eq!(intro, vec![member(1)]);
        assert_eq!(g.membership_count(), 2);
    }

    #[test]
    fn large_groups_introduce_ring_neighbours_and_random_members() {
        let mut g = Groups::new(10, 10, 1000);
        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let p = IntroductionPolicy::default();
        for i in 1..=100 {
            g.join([1; 32], member(i), &p, &mut rng).unwrap();
        }
        let newcomer = member(1000);
        let intro = g.join([1; 32], newcomer, &p, &mut rng).unwrap();
        assert_eq!(intro.len(), 8);
        // The 3 nearest on each side are among them.
        let me = newcomer.peer_id.group_address();
        let mut ring: Vec<GroupAddress> = g
            .members(&[1; 32])
            .map(|m| m.peer_id.group_address())
            .filter(|a| *a != me)
            .collect();
        ring.sort();
        let succ = ring.partition_point(|a| *a < me);
        let n = ring.len();
        for k in 0..3 {
            for idx in [(succ + k) % n, (succ + n - 1 - k) % n] {
                assert!(
                    intro.iter().any(|m| m.peer_id.group_address() == ring[idx]),
                    "ring neighbour {k} missing"
                );
            }
        }
        assert!(!intro.contains(&newcomer));
    }

    #[test]
    fn limits_and_leaving() {
        let mut g = Groups::new(1, 1, 2);
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let p = IntroductionPolicy::default();
        g.join([1; 32], member(1), &p, &mut rng).unwrap();
        assert_eq!(
            g.join([2; 32], member(2), &p, &mut rng),
            Err(JoinError::TooManyGroups)
        );
        g.join([1; 32], member(2), &p, &mut rng).unwrap();
        assert_eq!(
            g.join([1; 32], member(3), &p, &mut rng),
            Err(JoinError::GroupFull)
        );
        assert_eq!(g.leave_all(SessionId(1)), 1);
        g.leave(&[1; 32], SessionId(2));
        assert!(g.is_empty());
        assert_eq!(g.membership_count(), 0);
    }
}
