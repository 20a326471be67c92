//! The endpoint's timer queue: one deadline per session or opening ID, earliest first.
//!
//! A binary min-heap of `(deadline, id)` entries with lazy deletion over a hash map of the
//! true deadlines. Most deadline changes move a session's deadline *later* (its keepalive or
//! idle deadline follows every packet): those only update the map, and the heap entry, which
//! is then early, is moved when it reaches the top. Earlier deadlines push a new entry and
//! leave the old one to be discarded when it surfaces. The queue answers exactly as a sorted
//! set of `(deadline, id)` would: [`TimerQueue::first`] is the earliest deadline, and
//! [`TimerQueue::pop_due`] yields IDs in `(deadline, id)` order.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

pub(crate) use super::id_map::IdMap;
use crate::Instant;

/// A timer's true deadline and the time of its canonical heap entry (at or before the
/// deadline; other entries for the same ID are stale).
#[derive(Debug, Clone, Copy)]
struct Armed {
    deadline: Instant,
    entry: Instant,
}

/// Deadlines by ID, earliest first (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct TimerQueue {
    heap: BinaryHeap<Reverse<(Instant, u32)>>,
    armed: IdMap<Armed>,
}

impl TimerQueue {
    /// Sets the deadline of `id` (`None`: no timer).
    ///
    /// The heap's top is a live timer at its true deadline before and after (see
    /// [`Self::settle`]); only a change to the top's own timer can break that, so the other
    /// cases skip the settling walk and its lookup of the top's timer.
    pub(crate) fn set(&mut self, id: u32, next: Option<Instant>) {
        match next {
            Some(t) => match self.armed.get_mut(&id) {
                Some(a) if a.deadline == t => return,
                Some(a) if t >= a.entry => {
                    // Later than its heap entry: the entry is moved when it surfaces.
                    a.deadline = t;
                    if !self.top_is(id) {
                        return;
                    }
                }
                Some(a) => {
                    // Earlier: a new canonical entry at its deadline. The top is now either
                    // the former top (unchanged, or this timer's former entry, which the new
                    // one precedes) or the new entry, live at its deadline either way.
                    *a = Armed {
                        deadline: t,
                        entry: t,
                    };
                    self.heap.push(Reverse((t, id)));
                    return self.bound();
                }
                None => {
                    self.armed.insert(
                        id,
                        Armed {
                            deadline: t,
                            entry: t,
                        },
                    );
                    self.heap.push(Reverse((t, id)));
                    return self.bound();
                }
            },
            None => {
                if self.armed.remove(&id).is_none() {
                    return;
                }
                if !self.top_is(id) {
                    return self.bound();
                }
            }
        }
        self.settle();
    }

    /// Whether the heap's top entry is `id`'s.
    fn top_is(&self, id: u32) -> bool {
        self.heap.peek().is_some_and(|Reverse((_, top))| *top == id)
    }

    /// The earliest deadline. O(1).
    pub(crate) fn first(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((t, _))| *t)
    }

    /// Removes and returns the ID with the earliest deadline (lowest ID among equal
    /// deadlines) if that deadline is at or before `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<u32> {
        let &Reverse((t, id)) = self.heap.peek()?;
        if t > now {
            return None;
        }
        self.heap.pop();
        self.armed.remove(&id);
        self.settle();
        Some(id)
    }

    /// Restores the invariant that the heap's top entry is a live timer at its true deadline:
    /// drops stale entries and moves early ones to their deadline. Every live ID keeps one
    /// canonical entry at or before its deadline, so the top is then the earliest
    /// `(deadline, id)`.
    fn settle(&mut self) {
        while let Some(&Reverse((t, id))) = self.heap.peek() {
            match self.armed.get_mut(&id) {
                Some(a) if a.entry == t => {
                    if a.deadline == t {
                        break;
                    }
                    a.entry = a.deadline;
                    let d = a.deadline;
                    self.heap.pop();
                    self.heap.push(Reverse((d, id)));
                }
                _ => {
                    self.heap.pop();
                }
            }
        }
        self.bound();
    }

    /// Stale entries wait for their time to surface; rebuilds when they are half as many as
    /// the live ones, so the heap stays within 1.5 times the timer count (plus slack).
    fn bound(&mut self) {
        if self.heap.len() > self.armed.len() + self.armed.len() / 2 + 8 {
            self.rebuild();
        }
    }

    /// Rebuilds the heap with exactly one entry per timer, at its deadline.
    fn rebuild(&mut self) {
        let mut entries = std::mem::take(&mut self.heap).into_vec();
        entries.clear();
        for (&id, a) in self.armed.iter_mut() {
            a.entry = a.deadline;
            entries.push(Reverse((a.deadline, id)));
        }
        self.heap = BinaryHeap::from(entries);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// The queue behaves as a sorted set of `(deadline, id)` under random updates.
    #[test]
    fn matches_a_sorted_set() {
        let mut q = TimerQueue::default();
        let mut model: BTreeSet<(Instant, u32)> = BTreeSet::new();
        let mut of: std::collections::BTreeMap<u32, Instant> = Default::default();
        let mut x: u64 = 0x1234_5678;
        let mut rand = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut now = 0u64;
        for _ in 0..200_000 {
            let r = rand();
            match r % 10 {
                0..=6 => {
                    let id = (rand() % 40) as u32;
                    let next = (rand() % 8 != 0).then(|| Instant(now + rand() % 1000));
                    q.set(id, next);
                    if let Some(old) = of.remove(&id) {
                        model.remove(&(old, id));
                    }
                    if let Some(t) = next {
                        model.insert((t, id));
                        of.insert(id, t);
                    }
                }
                _ => {
                    now += rand() % 50;
                    loop {
                        let expect = model.first().copied().filter(|&(t, _)| t <= Instant(now));
                        let got = q.pop_due(Instant(now));
                        assert_eq!(got, expect.map(|(_, id)| id));
                        let Some((t, id)) = expect else { break };
                        model.remove(&(t, id));
                        of.remove(&id);
                    }
                }
            }
            assert_eq!(q.first(), model.first().map(|&(t, _)| t));
            assert!(q.heap.len() <= q.armed.len() + q.armed.len() / 2 + 9);
        }
    }
}
