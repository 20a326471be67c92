//! The endpoint's timer queue: one deadline per session or opening ID, earliest first.
//!
//! A binary min-heap of `(deadline, id)` entries with lazy deletion over the true deadlines
//! ([`Armed`] records). Most deadline changes move a session's deadline *later* (its keepalive
//! or idle deadline follows every packet): those only update the record, and the heap entry,
//! which is then early, is moved when it reaches the top. Earlier deadlines push a new entry
//! and leave the old one to be discarded when it surfaces. The queue answers exactly as a
//! sorted set of `(deadline, id)` would: [`TimerQueue::first`] is the earliest deadline, and
//! [`TimerQueue::pop_due`] yields IDs in `(deadline, id)` order.
//!
//! A session's record sits beside it in the endpoint's session map ([`Filed`]), so refreshing
//! its deadline after a packet touches the map entry at hand and the heap, not a side map of
//! its own (the simulator's hottest path: docs/performance-history.md, stop 21). Every other
//! ID's record (an opening's) sits in the queue's own map. A record moves between the two with its
//! session ([`TimerQueue::take`], [`TimerQueue::put`]), so the queue holds the same deadlines
//! whichever keeps them.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

pub(crate) use super::id_map::IdMap;
use crate::session::Session;
use crate::Instant;

/// A timer's true deadline and the time of its canonical heap entry (at or before the
/// deadline; other entries for the same ID are stale). [`Armed::NONE`]: no timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Armed {
    deadline: Instant,
    entry: Instant,
}

impl Armed {
    /// No timer. A deadline at the end of time (`u64::MAX` microseconds, which only
    /// saturating arithmetic reaches) is no deadline either.
    pub(crate) const NONE: Armed = Armed {
        deadline: Instant(u64::MAX),
        entry: Instant(u64::MAX),
    };

    /// A timer at `t`, its canonical entry at its deadline.
    fn at(t: Instant) -> Armed {
        Armed {
            deadline: t,
            entry: t,
        }
    }

    /// Whether this is a timer.
    pub(crate) fn is_armed(&self) -> bool {
        self.deadline != Armed::NONE.deadline
    }
}

/// The sessions' records, by ID (the endpoint's session map).
pub(crate) trait Holders {
    /// The record of session `id`, if `id` names a session.
    fn armed(&mut self, id: u32) -> Option<&mut Armed>;
    /// Calls `f` on every session's record.
    fn each(&mut self, f: &mut dyn FnMut(u32, &mut Armed));
}

/// What a [`TimerQueue::set_held`] caller owes the queue once it lets go of the record: pass
/// it to [`TimerQueue::follow_up`].
#[must_use]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FollowUp {
    /// Nothing.
    Done,
    /// Rebuild the heap if stale entries pile up.
    Bound,
    /// Restore the top's invariant (the top's own timer changed).
    Settle,
}

/// Deadlines by ID, earliest first (see the module docs).
#[derive(Debug, Default)]
pub(crate) struct TimerQueue {
    heap: BinaryHeap<Reverse<(Instant, u32)>>,
    /// The records of IDs without a session (openings).
    others: IdMap<Armed>,
    /// Armed timers, wherever their records are.
    live: usize,
}

impl TimerQueue {
    /// Sets the deadline of `id` (`None`: no timer), whose record `a` the caller holds (a
    /// session's).
    ///
    /// The heap's top is a live timer at its true deadline before and after (see
    /// [`Self::settle`]); only a change to the top's own timer can break that, so the other
    /// cases skip the settling walk and its lookup of the top's timer.
    pub(crate) fn set_held(&mut self, id: u32, a: &mut Armed, next: Option<Instant>) -> FollowUp {
        match next.filter(|t| *t != Armed::NONE.deadline) {
            Some(t) if a.is_armed() => {
                if a.deadline == t {
                    FollowUp::Done
                } else if t >= a.entry {
                    // Later than its heap entry: the entry is moved when it surfaces.
                    a.deadline = t;
                    if self.top_is(id) {
                        FollowUp::Settle
                    } else {
                        FollowUp::Done
                    }
                } else {
                    // Earlier: a new canonical entry at its deadline. The top is now either
                    // the former top (unchanged, or this timer's former entry, which the new
                    // one precedes) or the new entry, live at its deadline either way.
                    *a = Armed::at(t);
                    self.heap.push(Reverse((t, id)));
                    FollowUp::Bound
                }
            }
            Some(t) => {
                *a = Armed::at(t);
                self.live += 1;
                self.heap.push(Reverse((t, id)));
                FollowUp::Bound
            }
            None if !a.is_armed() => FollowUp::Done,
            None => {
                *a = Armed::NONE;
                self.live -= 1;
                if self.top_is(id) {
                    FollowUp::Settle
                } else {
                    FollowUp::Bound
                }
            }
        }
    }

    /// Sets the deadline of `id`, which names no session (an opening, or nothing: then `next`
    /// is `None`).
    pub(crate) fn set(&mut self, id: u32, next: Option<Instant>, sessions: &mut impl Holders) {
        let mut a = self.others.get(&id).copied().unwrap_or(Armed::NONE);
        let f = self.set_held(id, &mut a, next);
        if a.is_armed() {
            self.others.insert(id, a);
        } else {
            self.others.remove(&id);
        }
        self.follow_up(f, sessions);
    }

    /// Does what [`Self::set_held`] left to do.
    pub(crate) fn follow_up(&mut self, f: FollowUp, sessions: &mut impl Holders) {
        match f {
            FollowUp::Done => {}
            FollowUp::Bound => self.bound(sessions),
            FollowUp::Settle => self.settle(sessions),
        }
    }

    /// Takes the record of `id` from the queue's map, for the session that `id` now names.
    pub(crate) fn take(&mut self, id: u32) -> Armed {
        self.others.remove(&id).unwrap_or(Armed::NONE)
    }

    /// Keeps the record `a` of `id`, whose session is gone, in the queue's map (the timer
    /// stays until the ID's deadline is set again).
    pub(crate) fn put(&mut self, id: u32, a: Armed) {
        if a.is_armed() {
            self.others.insert(id, a);
        }
    }

    /// Whether the heap's top entry is `id`'s.
    fn top_is(&self, id: u32) -> bool {
        self.heap.peek().is_some_and(|Reverse((_, top))| *top == id)
    }

    /// The earliest deadline. O(1).
    pub(crate) fn first(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((t, _))| *t)
    }

    /// The record of `id`: its session's, else the queue's own.
    fn record<'a>(
        others: &'a mut IdMap<Armed>,
        sessions: &'a mut impl Holders,
        id: u32,
    ) -> Option<&'a mut Armed> {
        if let Some(a) = sessions.armed(id) {
            return Some(a);
        }
        others.get_mut(&id)
    }

    /// Removes and returns the ID with the earliest deadline (lowest ID among equal
    /// deadlines) if that deadline is at or before `now`.
    pub(crate) fn pop_due(&mut self, now: Instant, sessions: &mut impl Holders) -> Option<u32> {
        let &Reverse((t, id)) = self.heap.peek()?;
        if t > now {
            return None;
        }
        self.heap.pop();
        let was = match sessions.armed(id) {
            Some(a) => std::mem::replace(a, Armed::NONE),
            None => self.others.remove(&id).unwrap_or(Armed::NONE),
        };
        if was.is_armed() {
            self.live -= 1;
        }
        self.settle(sessions);
        Some(id)
    }

    /// Restores the invariant that the heap's top entry is a live timer at its true deadline:
    /// drops stale entries and moves early ones to their deadline. Every live ID keeps one
    /// canonical entry at or before its deadline, so the top is then the earliest
    /// `(deadline, id)`.
    fn settle(&mut self, sessions: &mut impl Holders) {
        while let Some(&Reverse((t, id))) = self.heap.peek() {
            match Self::record(&mut self.others, sessions, id) {
                Some(a) if a.is_armed() && a.entry == t => {
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
        self.bound(sessions);
    }

    /// Stale entries wait for their time to surface; rebuilds when they are half as many as
    /// the live ones, so the heap stays within 1.5 times the timer count (plus slack).
    fn bound(&mut self, sessions: &mut impl Holders) {
        if self.heap.len() > self.live + self.live / 2 + 8 {
            self.rebuild(sessions);
        }
    }

    /// Rebuilds the heap with exactly one entry per timer, at its deadline.
    fn rebuild(&mut self, sessions: &mut impl Holders) {
        let mut entries = std::mem::take(&mut self.heap).into_vec();
        entries.clear();
        let mut add = |id: u32, a: &mut Armed| {
            if a.is_armed() {
                a.entry = a.deadline;
                entries.push(Reverse((a.deadline, id)));
            }
        };
        for (&id, a) in self.others.iter_mut() {
            add(id, a);
        }
        sessions.each(&mut add);
        self.heap = BinaryHeap::from(entries);
    }
}

/// A session as the endpoint files it: boxed (a map slot costs a pointer, not a `Session`),
/// beside its timer record, so that one lookup finds both. Reads as the session itself.
#[derive(Debug)]
pub(crate) struct Filed {
    session: Box<Session>,
    pub(crate) timer: Armed,
}

impl Filed {
    /// `session`, with the record `timer`.
    pub(crate) fn new(session: Box<Session>, timer: Armed) -> Self {
        Filed { session, timer }
    }
}

impl std::ops::Deref for Filed {
    type Target = Session;

    fn deref(&self) -> &Session {
        &self.session
    }
}

impl std::ops::DerefMut for Filed {
    fn deref_mut(&mut self) -> &mut Session {
        &mut self.session
    }
}

impl Holders for IdMap<Filed> {
    fn armed(&mut self, id: u32) -> Option<&mut Armed> {
        self.get_mut(&id).map(|s| &mut s.timer)
    }

    fn each(&mut self, f: &mut dyn FnMut(u32, &mut Armed)) {
        for (&id, s) in self.iter_mut() {
            f(id, &mut s.timer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, BTreeSet};

    /// Sessions for the test: records by ID.
    #[derive(Default)]
    struct Fake(BTreeMap<u32, Armed>);

    impl Holders for Fake {
        fn armed(&mut self, id: u32) -> Option<&mut Armed> {
            self.0.get_mut(&id)
        }

        fn each(&mut self, f: &mut dyn FnMut(u32, &mut Armed)) {
            for (&id, a) in self.0.iter_mut() {
                f(id, a);
            }
        }
    }

    /// The queue behaves as a sorted set of `(deadline, id)` under random updates, whether a
    /// record is a session's or the queue's, and while records move between the two.
    #[test]
    fn matches_a_sorted_set() {
        let mut q = TimerQueue::default();
        let mut sessions = Fake::default();
        let mut model: BTreeSet<(Instant, u32)> = BTreeSet::new();
        let mut of: BTreeMap<u32, Instant> = Default::default();
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
            match r % 12 {
                0..=6 => {
                    let id = (rand() % 40) as u32;
                    let next = (rand() % 8 != 0).then(|| Instant(now + rand() % 1000));
                    if let Some(a) = sessions.0.get_mut(&id) {
                        let f = q.set_held(id, a, next);
                        q.follow_up(f, &mut sessions);
                    } else {
                        q.set(id, next, &mut sessions);
                    }
                    if let Some(old) = of.remove(&id) {
                        model.remove(&(old, id));
                    }
                    if let Some(t) = next {
                        model.insert((t, id));
                        of.insert(id, t);
                    }
                }
                7 => {
                    // A session opens under `id` (taking its opening's record) or goes away
                    // (leaving its record to the queue).
                    let id = (rand() % 40) as u32;
                    match sessions.0.remove(&id) {
                        Some(a) => q.put(id, a),
                        None => {
                            let a = q.take(id);
                            sessions.0.insert(id, a);
                        }
                    }
                }
                _ => {
                    now += rand() % 50;
                    loop {
                        let expect = model.first().copied().filter(|&(t, _)| t <= Instant(now));
                        let got = q.pop_due(Instant(now), &mut sessions);
                        assert_eq!(got, expect.map(|(_, id)| id));
                        let Some((t, id)) = expect else { break };
                        model.remove(&(t, id));
                        of.remove(&id);
                    }
                }
            }
            assert_eq!(q.first(), model.first().map(|&(t, _)| t));
            assert_eq!(q.live, model.len());
            assert!(q.heap.len() <= q.live + q.live / 2 + 9);
        }
    }

    /// A deadline at the end of time is no deadline.
    #[test]
    fn the_end_of_time_is_no_deadline() {
        let mut q = TimerQueue::default();
        let mut sessions = Fake::default();
        q.set(7, Some(Instant(u64::MAX)), &mut sessions);
        assert_eq!(q.first(), None);
        q.set(7, Some(Instant(5)), &mut sessions);
        assert_eq!(q.first(), Some(Instant(5)));
        assert_eq!(q.pop_due(Instant(5), &mut sessions), Some(7));
        assert_eq!(q.first(), None);
    }
}
