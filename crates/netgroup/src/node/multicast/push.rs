//! Push decisions (docs/protocol/netgroup.md, "Push masks"). Fragments fall into 8 residue classes
//! `id mod 8`.
//!
//! - Receiver side ([`Pushers`]): one pusher per class. A class without a pusher, or whose
//!   pusher lags [`Pushers::assign`]'s `stale` IDs behind the newest advertised fragment, is
//!   given to a random neighbour among those advertising recent fragments. When a pushed
//!   fragment of a class arrives from a second neighbour, the faster one stays
//!   (docs/protocol/netgroup.md, "Push masks").
//! - Sender side ([`push_targets`]): a new fragment goes to the neighbours that asked for its
//!   class, in the order they announced the stream, skipping the one it came from and those
//!   whose map already has it, at most `limit` of them.

use crate::id::PeerId;

/// The bit of fragment `id`'s residue class in a push mask.
pub fn class_bit(id: u64) -> u8 {
    1 << (id % 8)
}

/// A neighbour as seen by [`push_targets`].
#[derive(Debug, Clone, Copy)]
pub struct Candidate {
    /// The neighbour.
    pub peer: PeerId,
    /// Order in which it announced the stream (lower first).
    pub order: u64,
    /// The push mask it sent us.
    pub wants: u8,
    /// Its map says it holds the fragment.
    pub holds: bool,
}

/// To whom fragment `id` is pushed (see the module docs).
pub fn push_targets(
    candidates: impl Iterator<Item = Candidate>,
    id: u64,
    from: Option<PeerId>,
    limit: usize,
) -> Vec<PeerId> {
    let bit = class_bit(id);
    let mut v: Vec<Candidate> = candidates
        .filter(|c| c.wants & bit != 0 && Some(c.peer) != from && !c.holds)
        .collect();
    v.sort_by_key(|c| (c.order, c.peer));
    v.into_iter().take(limit).map(|c| c.peer).collect()
}

/// A push-mask change to send: add or remove `bit` from what we ask `peer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaskChange {
    /// The neighbour.
    pub peer: PeerId,
    /// The class bit.
    pub bit: u8,
    /// Add (ask it to push the class) or remove.
    pub add: bool,
}

/// Who pushes each class to us.
#[derive(Debug, Clone, Default)]
pub struct Pushers {
    by_class: [Option<PeerId>; 8],
    /// Newest ID of the class from its pusher (or the newest advertised ID when assigned).
    last: [u64; 8],
}

impl Pushers {
    /// The pusher of class `c` (0..8).
    pub fn pusher(&self, c: usize) -> Option<PeerId> {
        self.by_class.get(c).copied().flatten()
    }

    /// (Re)assigns classes: `candidates` are (neighbour, newest ID its map advertises).
    /// Neighbours within `fresh` IDs of the best are eligible; a pusher more than `stale` IDs
    /// behind the best, or gone from the candidates, is replaced. `rand` draws the choice.
    pub fn assign(
        &mut self,
        candidates: &[(PeerId, u64)],
        fresh: u64,
        stale: u64,
        mut rand: impl FnMut() -> u64,
    ) -> Vec<MaskChange> {
        let mut changes = Vec::new();
        let Some(best) = candidates.iter().map(|(_, l)| *l).max() else {
            return changes;
        };
        let eligible: Vec<PeerId> = candidates
            .iter()
            .filter(|(_, l)| l + fresh >= best)
            .map(|(p, _)| *p)
            .collect();
        for c in 0..8 {
            let bit = 1u8 << c;
            let current = self.by_class[c];
            let healthy = current.is_some_and(|p| {
                candidates.iter().any(|(q, _)| *q == p) && best <= self.last[c] + stale
            });
            if healthy {
                continue;
            }
            let pool: Vec<PeerId> = eligible
                .iter()
                .copied()
                .filter(|p| Some(*p) != current)
                .collect();
            if pool.is_empty() {
                continue;
            }
            let pick = pool[(rand() % pool.len() as u64) as usize];
            if let Some(old) = current {
                changes.push(MaskChange {
                    peer: old,
                    bit,
                    add: false,
                });
            }
            self.by_class[c] = Some(pick);
            self.last[c] = best;
            changes.push(MaskChange {
                peer: pick,
                bit,
                add: true,
            });
        }
        changes
    }

    /// A fragment `id` arrived unasked from `peer` (`new`: not held before); `asked` is the
    /// mask we sent `peer`. Returns the mask changes: the fastest of two pushers stays.
    pub fn on_pushed(&mut self, peer: PeerId, asked: u8, id: u64, new: bool) -> Vec<MaskChange> {
        let c = (id % 8) as usize;
        let bit = 1u8 << c;
        match self.by_class[c] {
            Some(p) if p == peer => {
                self.last[c] = self.last[c].max(id);
                Vec::new()
            }
            _ if asked & bit == 0 => Vec::new(),
            Some(cur) => {
                if new && id > self.last[c] {
                    self.by_class[c] = Some(peer);
                    self.last[c] = id;
                    vec![MaskChange {
                        peer: cur,
                        bit,
                        add: false,
                    }]
                } else {
                    vec![MaskChange {
                        peer,
                        bit,
                        add: false,
                    }]
                }
            }
            None => {
                self.by_class[c] = Some(peer);
                self.last[c] = id;
                Vec::new()
            }
        }
    }

    /// `peer` left: its classes have no pusher.
    pub fn forget(&mut self, peer: &PeerId) {
        for p in self.by_class.iter_mut() {
            if p.as_ref() == Some(peer) {
                *p = None;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(i: u8) -> PeerId {
        PeerId([i; 32])
    }

    #[test]
    fn targets_follow_masks_order_and_limit() {
        let cands = (1..=6).map(|i| Candidate {
            peer: peer(i),
            order: 10 - i as u64,
            wants: if i == 3 { 0 } else { 0b0000_0010 },
            holds: i == 4,
        });
        // Fragment 9: class 1. Peer 3 did not ask, 4 holds it, 6 sent it.
        let t = push_targets(cands, 9, Some(peer(6)), 2);
        assert_eq!(t, vec![peer(5), peer(2)]);
        let none = push_targets(std::iter::empty(), 9, None, 5);
        assert!(none.is_empty());
    }

    #[test]
    fn every_class_gets_one_fresh_pusher() {
        let mut p = Pushers::default();
        let cands = [(peer(1), 100), (peer(2), 95), (peer(3), 10)];
        let mut n = 0u64;
        let changes = p.assign(&cands, 16, 64, || {
            n += 1;
            n
        });
        assert_eq!(changes.len(), 8);
        assert!(changes.iter().all(|c| c.add && c.peer != peer(3)));
        let used: std::collections::BTreeSet<PeerId> = (0..8).filter_map(|c| p.pusher(c)).collect();
        assert_eq!(
            used.len(),
            2,
            "random picks spread over the fresh neighbours"
        );
        // Nothing changes while pushers keep up.
        assert!(p.assign(&cands, 16, 64, || 0).is_empty());
    }

    #[test]
    fn stale_or_gone_pushers_are_replaced() {
        let mut p = Pushers::default();
        p.assign(&[(peer(1), 100)], 16, 64, || 0);
        // Class 3 keeps up, the others do not.
        p.on_pushed(peer(1), 0xff, 163, true);
        let changes = p.assign(&[(peer(1), 170), (peer(2), 170)], 16, 64, || 0);
        // 7 classes move from 1 to 2: a removal and an addition each.
        assert_eq!(changes.len(), 14);
        assert_eq!(p.pusher(3), Some(peer(1)));
        p.forget(&peer(1));
        assert_eq!(p.pusher(3), None);
        let c = p.assign(&[(peer(2), 170)], 16, 64, || 0);
        assert_eq!(
            c,
            vec![MaskChange {
                peer: peer(2),
                bit: 1 << 3,
                add: true
            }]
        );
    }

    #[test]
    fn fastest_pusher_wins() {
        let mut p = Pushers::default();
        p.assign(&[(peer(1), 8)], 16, 64, || 0);
        assert!(p.on_pushed(peer(1), 0xff, 9, true).is_empty());
        // Peer 2 also pushes class 1 and is ahead: it takes over, peer 1 is told to stop.
        let c = p.on_pushed(peer(2), 0xff, 17, true);
        assert_eq!(
            c,
            vec![MaskChange {
                peer: peer(1),
                bit: 2,
                add: false
            }]
        );
        assert_eq!(p.pusher(1), Some(peer(2)));
        // Peer 1's late copy: peer 1 is told to stop (again).
        let c = p.on_pushed(peer(1), 0xff, 17, false);
        assert_eq!(
            c,
            vec![MaskChange {
                peer: peer(1),
                bit: 2,
                add: false
            }]
        );
        // A neighbour we never asked is ignored.
        assert!(p.on_pushed(peer(3), 0, 25, true).is_empty());
    }
}
