//! The fragments one member holds for one stream, and the window arithmetic
//! (docs/protocol/netgroup.md, "Fragments map", "Window and relay margin"): fragments are kept
//! `window + relay margin` after they arrived, IDs below the pruned floor are refused, and the
//! fragments map describes what is held.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use rtmfp::Instant;

use super::frames::{FragmentsMap, Piece};

/// One held fragment.
#[derive(Debug, Clone)]
pub struct Stored {
    /// The encoded fragment message (relayed as is).
    pub bytes: Bytes,
    /// Its place in its media message.
    pub piece: Piece,
    /// Payload offset in `bytes`.
    pub payload_at: usize,
    /// When it arrived (or was created).
    pub arrived: Instant,
}

impl Stored {
    /// The payload bytes.
    pub fn payload(&self) -> Bytes {
        self.bytes.slice(self.payload_at..)
    }
}

/// What [`FragmentStore::insert`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Insert {
    /// Stored.
    New,
    /// Already held.
    Duplicate,
    /// Below the floor: out of the window.
    TooOld,
}

/// The fragments of one stream held by this member, bounded by count.
#[derive(Debug)]
pub struct FragmentStore {
    frags: BTreeMap<u64, Stored>,
    /// IDs below this were pruned (or never wanted): refused.
    floor: u64,
    max_fragments: usize,
    bytes: usize,
}

impl FragmentStore {
    /// An empty store keeping at most `max_fragments` fragments (the oldest go first).
    pub fn new(max_fragments: usize) -> Self {
        FragmentStore {
            frags: BTreeMap::new(),
            floor: 1,
            max_fragments: max_fragments.max(1),
            bytes: 0,
        }
    }

    /// Stores fragment `id`.
    pub fn insert(&mut self, id: u64, stored: Stored) -> Insert {
        if id < self.floor {
            return Insert::TooOld;
        }
        if self.frags.contains_key(&id) {
            return Insert::Duplicate;
        }
        self.bytes += stored.bytes.len();
        self.frags.insert(id, stored);
        while self.frags.len() > self.max_fragments {
            self.pop_oldest();
        }
        Insert::New
    }

    fn pop_oldest(&mut self) {
        if let Some((id, s)) = self.frags.pop_first() {
            self.bytes -= s.bytes.len();
            self.floor = self.floor.max(id + 1);
        }
    }

    /// Drops the fragments that arrived at least `keep` ago, oldest IDs first (stopping at the
    /// first younger one), and raises the floor past them. Returns how many went.
    pub fn prune(&mut self, now: Instant, keep: Duration) -> usize {
        let mut n = 0;
        while let Some((_, s)) = self.frags.first_key_value() {
            if now.saturating_duration_since(s.arrived) < keep {
                break;
            }
            self.pop_oldest();
            n += 1;
        }
        n
    }

    /// Raises the floor to `id` (IDs below are given up) and drops what lies below it.
    pub fn raise_floor(&mut self, id: u64) {
        while self.frags.first_key_value().is_some_and(|(&k, _)| k < id) {
            self.pop_oldest();
        }
        self.floor = self.floor.max(id);
    }

    /// The fragment `id`, if held.
    pub fn get(&self, id: u64) -> Option<&Stored> {
        self.frags.get(&id)
    }

    /// Whether fragment `id` is held.
    pub fn holds(&self, id: u64) -> bool {
        self.frags.contains_key(&id)
    }

    /// The first held fragment after `id`.
    pub fn next_after(&self, id: u64) -> Option<(u64, &Stored)> {
        self.frags
            .range(id.saturating_add(1)..)
            .next()
            .map(|(k, v)| (*k, v))
    }

    /// Newest held ID.
    pub fn newest(&self) -> Option<u64> {
        self.frags.last_key_value().map(|(k, _)| *k)
    }

    /// Oldest held ID.
    pub fn oldest(&self) -> Option<u64> {
        self.frags.first_key_value().map(|(k, _)| *k)
    }

    /// IDs below this are refused.
    pub fn floor(&self) -> u64 {
        self.floor
    }

    /// Fragments held.
    pub fn len(&self) -> usize {
        self.frags.len()
    }

    /// Whether nothing is held.
    pub fn is_empty(&self) -> bool {
        self.frags.is_empty()
    }

    /// Bytes held (encoded fragments).
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The IDs in `from..=to` not held, ascending, at most `limit` of them.
    pub fn missing(&self, from: u64, to: u64, limit: usize) -> Vec<u64> {
        let mut out = Vec::new();
        let mut expect = from.max(self.floor);
        for (&id, _) in self.frags.range(expect..=to) {
            while expect < id && out.len() < limit {
                out.push(expect);
                expect += 1;
            }
            expect = id + 1;
            if out.len() >= limit {
                return out;
            }
        }
        while expect <= to && out.len() < limit {
            out.push(expect);
            expect += 1;
        }
        out
    }

    /// Our fragments map (docs/protocol/netgroup.md, "Fragments map"): `None` while nothing is
    /// held.
    pub fn map(&self) -> Option<FragmentsMap> {
        let last = self.newest()?;
        let depth = last - self.oldest().unwrap_or(last);
        Some(FragmentsMap::build(last, depth, |id| self.holds(id)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> Instant {
        Instant::from_micros(ms * 1000)
    }

    fn frag(t: Instant) -> Stored {
        Stored {
            bytes: Bytes::from_static(b"xxxx"),
            piece: Piece::End,
            payload_at: 2,
            arrived: t,
        }
    }

    #[test]
    fn window_arithmetic() {
        let mut s = FragmentStore::new(100);
        for id in 1..=10 {
            assert_eq!(s.insert(id, frag(at(id * 100))), Insert::New);
        }
        assert_eq!(s.insert(5, frag(at(0))), Insert::Duplicate);
        // Kept 500 ms: at t = 800 ms the fragments that arrived at ≤ 300 ms go.
        assert_eq!(s.prune(at(800), Duration::from_millis(500)), 3);
        assert_eq!(s.floor(), 4);
        assert_eq!(s.oldest(), Some(4));
        assert_eq!(s.insert(2, frag(at(800))), Insert::TooOld);
        // Count bound: the oldest go first.
        let mut small = FragmentStore::new(3);
        for id in [5, 1, 9, 7] {
            small.insert(id, frag(at(0)));
        }
        assert_eq!(
            (small.oldest(), small.newest(), small.floor()),
            (Some(5), Some(9), 2)
        );
        assert_eq!(small.bytes(), 12);
        small.raise_floor(8);
        assert_eq!((small.len(), small.floor()), (1, 8));
    }

    #[test]
    fn missing_and_map() {
        let mut s = FragmentStore::new(100);
        for id in [3, 4, 7, 10] {
            s.insert(id, frag(at(0)));
        }
        assert_eq!(s.missing(1, 12, 100), vec![1, 2, 5, 6, 8, 9, 11, 12]);
        assert_eq!(s.missing(1, 12, 3), vec![1, 2, 5]);
        assert_eq!(s.missing(8, 9, 10), vec![8, 9]);
        let m = s.map().unwrap();
        assert_eq!(m.last, 10);
        let held: Vec<u64> = (1..=12).filter(|&i| m.holds(i)).collect();
        assert_eq!(held, vec![3, 4, 7, 10]);
        assert_eq!(s.next_after(4).map(|(k, _)| k), Some(7));
        assert!(FragmentStore::new(1).map().is_none());
    }
}
