//! Bookkeeping of posts and lookups: who should get each post, who did, when and how far;
//! where each lookup ended and whether that was the nearest live member.

use std::collections::BTreeMap;

use rtmfp::Instant;
use rtmfp_netgroup::GroupAddress;

/// A post's record for one slot.
#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    /// Incarnation serial of the member expected to get the post; 0: nobody expected.
    serial: u32,
    /// Copies delivered to that incarnation.
    count: u8,
    /// Shortest-path hops from the poster in the overlay at post time; `u8::MAX`: unreachable.
    hops: u8,
}

/// One post.
#[derive(Debug)]
struct Post {
    at: Instant,
    from: u32,
    cells: Vec<Cell>,
    eligible: u32,
}

/// The outcome of a delivery, as [`PostLedger::deliver`] classifies it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostDelivery {
    /// First copy at an expected member: latency (µs) and overlay hops (`None`: unreachable at
    /// post time).
    First {
        /// Post time to delivery, microseconds.
        latency_us: u64,
        /// Overlay hops at post time.
        hops: Option<u8>,
    },
    /// A further copy at the same member (the application saw it twice).
    Duplicate,
    /// A member that was not expected (joined or got its first neighbour after the post).
    Extra,
    /// Not a post of this run.
    Unknown,
}

/// Per-post expectations and deliveries. Memory: 8 bytes per slot per post.
#[derive(Debug, Default)]
pub struct PostLedger {
    posts: Vec<Post>,
    /// First post whose deadline may not have passed.
    open: usize,
    /// Expected (post, member) pairs excused because the member left before the deadline.
    pub excused: u64,
    /// Expected pairs unreachable in the overlay at post time.
    pub unreachable: u64,
}

/// Totals over every post.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PostTotals {
    /// Posts recorded.
    pub posts: u64,
    /// Expected (post, member) deliveries, excused ones removed.
    pub expected: u64,
    /// Expected deliveries that happened (first copies).
    pub delivered: u64,
    /// Expected deliveries that did not happen.
    pub missed: u64,
    /// Expected pairs excused (the member left before the deadline without the post).
    pub excused: u64,
    /// Expected pairs whose member was not reachable in the overlay at post time.
    pub unreachable: u64,
}

impl PostLedger {
    /// Records post number [`Self::len`] sent at `at` by slot `from`; `expected` lists
    /// `(slot, serial, hops)` of every member expected to get it. `slots` is the number of
    /// slots.
    pub fn record(
        &mut self,
        at: Instant,
        from: u32,
        slots: usize,
        expected: impl IntoIterator<Item = (u32, u32, u8)>,
    ) {
        let mut cells = vec![Cell::default(); slots];
        let mut eligible = 0;
        for (slot, serial, hops) in expected {
            if let Some(c) = cells.get_mut(slot as usize) {
                *c = Cell {
                    serial,
                    count: 0,
                    hops,
                };
                eligible += 1;
                if hops == u8::MAX {
                    self.unreachable += 1;
                }
            }
        }
        self.posts.push(Post {
            at,
            from,
            cells,
            eligible,
        });
    }

    /// Posts recorded.
    pub fn len(&self) -> usize {
        self.posts.len()
    }

    /// Whether no post was recorded.
    pub fn is_empty(&self) -> bool {
        self.posts.is_empty()
    }

    /// The slot that sent post `id`.
    pub fn poster(&self, id: u64) -> Option<u32> {
        let i = usize::try_from(id).ok()?;
        self.posts.get(i).map(|p| p.from)
    }

    /// Post `id` reached incarnation `serial` of `slot` at `now`.
    pub fn deliver(&mut self, id: u64, slot: u32, serial: u32, now: Instant) -> PostDelivery {
        let Some(p) = usize::try_from(id).ok().and_then(|i| self.posts.get_mut(i)) else {
            return PostDelivery::Unknown;
        };
        let Some(c) = p.cells.get_mut(slot as usize) else {
            return PostDelivery::Unknown;
        };
        if c.serial == 0 || c.serial != serial {
            return PostDelivery::Extra;
        }
        c.count = c.count.saturating_add(1);
        if c.count > 1 {
            return PostDelivery::Duplicate;
        }
        PostDelivery::First {
            latency_us: now.as_micros().saturating_sub(p.at.as_micros()),
            hops: (c.hops != u8::MAX).then_some(c.hops),
        }
    }

    /// Incarnation `serial` of `slot` left at `now`: excuses it from the posts it has not
    /// received whose deadline (`deadline_us` after the post) has not passed.
    pub fn leave(&mut self, slot: u32, serial: u32, now: Instant, deadline_us: u64) {
        let due = |p: &Post| p.at.as_micros() + deadline_us <= now.as_micros();
        while self.posts.get(self.open).is_some_and(due) {
            self.open += 1;
        }
        for p in &mut self.posts[self.open..] {
            if let Some(c) = p.cells.get_mut(slot as usize) {
                if c.serial == serial && c.serial != 0 && c.count == 0 {
                    if c.hops == u8::MAX {
                        self.unreachable -= 1;
                    }
                    c.serial = 0;
                    p.eligible -= 1;
                    self.excused += 1;
                }
            }
        }
    }

    /// Totals over every post.
    pub fn totals(&self) -> PostTotals {
        let mut t = PostTotals {
            posts: self.posts.len() as u64,
            excused: self.excused,
            unreachable: self.unreachable,
            ..PostTotals::default()
        };
        for p in &self.posts {
            t.expected += u64::from(p.eligible);
            t.delivered += p
                .cells
                .iter()
                .filter(|c| c.serial != 0 && c.count > 0)
                .count() as u64;
        }
        t.missed = t.expected - t.delivered;
        t
    }

    /// Approximate memory, bytes.
    pub fn memory_bytes(&self) -> usize {
        self.posts
            .iter()
            .map(|p| p.cells.capacity() * std::mem::size_of::<Cell>())
            .sum()
    }
}

/// One lookup.
#[derive(Debug, Clone, Copy)]
struct Lookup {
    at: Instant,
    count: u32,
}

/// The outcome of a lookup arrival.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupDelivery {
    /// First arrival: latency, microseconds.
    First {
        /// Send to arrival, microseconds.
        latency_us: u64,
    },
    /// Arrived again.
    Duplicate,
    /// Not a lookup of this run.
    Unknown,
}

/// Lookups sent and their arrivals.
#[derive(Debug, Default)]
pub struct LookupLedger {
    lookups: Vec<Lookup>,
}

impl LookupLedger {
    /// Records lookup number [`Self::len`], sent at `at`.
    pub fn record(&mut self, at: Instant) {
        self.lookups.push(Lookup { at, count: 0 });
    }

    /// Lookups recorded.
    pub fn len(&self) -> usize {
        self.lookups.len()
    }

    /// Whether no lookup was recorded.
    pub fn is_empty(&self) -> bool {
        self.lookups.is_empty()
    }

    /// Lookup `id` ended somewhere at `now`.
    pub fn deliver(&mut self, id: u64, now: Instant) -> LookupDelivery {
        let Some(l) = usize::try_from(id)
            .ok()
            .and_then(|i| self.lookups.get_mut(i))
        else {
            return LookupDelivery::Unknown;
        };
        l.count += 1;
        if l.count > 1 {
            return LookupDelivery::Duplicate;
        }
        LookupDelivery::First {
            latency_us: now.as_micros().saturating_sub(l.at.as_micros()),
        }
    }
}

/// The live group members on the ring (group address → slot), to find the truly nearest
/// member of an address.
#[derive(Debug, Default)]
pub struct MemberRing {
    ring: BTreeMap<GroupAddress, u32>,
}

impl MemberRing {
    /// Adds `slot` at `address`.
    pub fn insert(&mut self, address: GroupAddress, slot: u32) {
        self.ring.insert(address, slot);
    }

    /// Removes `address`.
    pub fn remove(&mut self, address: &GroupAddress) {
        self.ring.remove(address);
    }

    /// Members on the ring.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// Whether the ring is empty.
    pub fn is_empty(&self) -> bool {
        self.ring.is_empty()
    }

    /// The member nearest `target` by ring distance (ties: the lower address, as the routing
    /// rule), with its address.
    pub fn nearest(&self, target: &GroupAddress) -> Option<(GroupAddress, u32)> {
        let succ = self
            .ring
            .range(*target..)
            .next()
            .or_else(|| self.ring.iter().next());
        let pred = self
            .ring
            .range(..*target)
            .next_back()
            .or_else(|| self.ring.iter().next_back());
        [succ, pred]
            .into_iter()
            .flatten()
            .min_by_key(|(a, _)| (a.distance(target), **a))
            .map(|(a, s)| (*a, *s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(b: u8) -> GroupAddress {
        GroupAddress([b; 32])
    }

    #[test]
    fn nearest_wraps_and_breaks_ties_low() {
        let mut r = MemberRing::default();
        assert_eq!(r.nearest(&a(1)), None);
        r.insert(a(0x10), 1);
        r.insert(a(0x80), 2);
        r.insert(a(0xf0), 3);
        assert_eq!(r.nearest(&a(0x11)).map(|x| x.1), Some(1));
        assert_eq!(r.nearest(&a(0x70)).map(|x| x.1), Some(2));
        assert_eq!(r.nearest(&a(0xff)).map(|x| x.1), Some(3));
        assert_eq!(r.nearest(&a(0x01)).map(|x| x.1), Some(1));
        // 0x00.. is 0x0f0f..10 below-wrap from 0xf0.. and 0x1010..10 from 0x10..
        assert_eq!(r.nearest(&a(0x00)).map(|x| x.1), Some(3));
        // An exact tie goes to the lower address.
        let mut t = MemberRing::default();
        t.insert(GroupAddress([0; 32]), 1);
        let mut hi = [0u8; 32];
        hi[31] = 2;
        t.insert(GroupAddress(hi), 2);
        let mut mid = [0u8; 32];
        mid[31] = 1;
        assert_eq!(t.nearest(&GroupAddress(mid)).map(|x| x.1), Some(1));
    }

    #[test]
    fn post_ledger_counts_and_excuses() {
        let mut l = PostLedger::default();
        let t = Instant::from_micros(1_000_000);
        l.record(t, 0, 4, [(1, 7, 1), (2, 8, 2), (3, 9, u8::MAX)]);
        assert_eq!((l.poster(0), l.poster(1)), (Some(0), None));
        let later = Instant::from_micros(1_200_000);
        assert_eq!(
            l.deliver(0, 1, 7, later),
            PostDelivery::First {
                latency_us: 200_000,
                hops: Some(1)
            }
        );
        assert_eq!(l.deliver(0, 1, 7, later), PostDelivery::Duplicate);
        assert_eq!(l.deliver(0, 2, 99, later), PostDelivery::Extra);
        assert_eq!(l.deliver(5, 2, 8, later), PostDelivery::Unknown);
        l.leave(3, 9, later, 5_000_000);
        // Past the deadline nothing is excused.
        l.leave(2, 8, Instant::from_micros(7_000_000), 5_000_000);
        let t = l.totals();
        assert_eq!(
            (t.expected, t.delivered, t.missed, t.excused, t.unreachable),
            (2, 1, 1, 1, 0)
        );
    }
}
