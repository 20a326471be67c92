//! The event queue: a min-heap of `(time, sequence, slot)` over a slab of event payloads.
//!
//! The sequence number breaks ties in insertion order, so equal-time events run in a fixed order
//! and the run is deterministic. Heap entries are 24 bytes whatever the payload size.
//!
//! The heap is 4-ary (`QuadHeap`): half the levels of a binary heap, and a node's four
//! children share one or two cache lines, so a pop touches fewer cold lines of a large queue.
//! Keys are unique (the sequence number), so any correct heap pops the same order.

use rtmfp::Instant;

/// One heap entry: the key `(at, seq)` and the slab slot of the payload.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeapEntry {
    /// Due time, microseconds.
    pub at: u64,
    /// Insertion sequence number: breaks ties of `at`, unique.
    pub seq: u64,
    /// Where the payload is.
    pub slot: u32,
}

impl HeapEntry {
    /// The key as one integer, `(at, seq)` in lexicographic order.
    #[inline]
    fn key(&self) -> u128 {
        (self.at as u128) << 64 | self.seq as u128
    }

    #[inline]
    fn before(&self, other: &HeapEntry) -> bool {
        self.key() < other.key()
    }
}

/// Children per node of [`QuadHeap`].
const ARITY: usize = 4;

/// A 4-ary min-heap of [`HeapEntry`] ordered by `(at, seq)`.
#[derive(Debug, Default, Clone)]
pub(crate) struct QuadHeap {
    v: Vec<HeapEntry>,
}

impl QuadHeap {
    /// An empty heap.
    pub fn new() -> Self {
        QuadHeap { v: Vec::new() }
    }

    /// Adds `e`.
    #[inline]
    pub fn push(&mut self, e: HeapEntry) {
        let i = self.v.len();
        self.v.push(e);
        self.sift_up(i, e);
    }

    /// Moves the hole at `i` up past every parent that `e` comes before, and puts `e` there.
    #[inline]
    fn sift_up(&mut self, mut i: usize, e: HeapEntry) {
        while i > 0 {
            let p = (i - 1) / ARITY;
            if !e.before(&self.v[p]) {
                break;
            }
            self.v[i] = self.v[p];
            i = p;
        }
        self.v[i] = e;
    }

    /// Removes and returns the least entry.
    #[inline]
    pub fn pop(&mut self) -> Option<HeapEntry> {
        let last = self.v.pop()?;
        let n = self.v.len();
        if n == 0 {
            return Some(last);
        }
        let top = self.v[0];
        // Move the hole from the root down to a leaf along the least children, then sift the
        // former last entry up from there (it nearly always belongs near the bottom).
        let mut hole = 0;
        loop {
            let c = ARITY * hole + 1;
            if c >= n {
                break;
            }
            let end = (c + ARITY).min(n);
            let mut m = c;
            let mut mk = self.v[c].key();
            for j in c + 1..end {
                let k = self.v[j].key();
                if k < mk {
                    m = j;
                    mk = k;
                }
            }
            self.v[hole] = self.v[m];
            hole = m;
        }
        self.sift_up(hole, last);
        Some(top)
    }

    /// The least entry.
    #[inline]
    pub fn peek(&self) -> Option<&HeapEntry> {
        self.v.first()
    }

    /// Entries held.
    pub fn len(&self) -> usize {
        self.v.len()
    }

    /// Whether the heap is empty.
    pub fn is_empty(&self) -> bool {
        self.v.is_empty()
    }

    /// Entries the heap can hold without reallocating.
    pub fn capacity(&self) -> usize {
        self.v.capacity()
    }
}

/// A min-heap of timed events of type `E`.
#[derive(Debug)]
pub struct EventQueue<E> {
    heap: QuadHeap,
    slab: Vec<Option<E>>,
    free: Vec<u32>,
    seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        EventQueue {
            heap: QuadHeap::new(),
            slab: Vec::new(),
            free: Vec::new(),
            seq: 0,
        }
    }

    /// Schedules `event` at `at`.
    pub fn push(&mut self, at: Instant, event: E) {
        let slot = match self.free.pop() {
            Some(s) => {
                self.slab[s as usize] = Some(event);
                s
            }
            None => {
                self.slab.push(Some(event));
                (self.slab.len() - 1) as u32
            }
        };
        self.seq += 1;
        self.heap.push(HeapEntry {
            at: at.as_micros(),
            seq: self.seq,
            slot,
        });
    }

    /// Removes and returns the earliest event.
    pub fn pop(&mut self) -> Option<(Instant, E)> {
        let HeapEntry { at, slot, .. } = self.heap.pop()?;
        let e = self.slab[slot as usize]
            .take()
            .expect("queued slot holds an event");
        self.free.push(slot);
        Some((Instant::from_micros(at), e))
    }

    /// Time of the earliest event.
    pub fn peek_time(&self) -> Option<Instant> {
        self.heap.peek().map(|e| Instant::from_micros(e.at))
    }

    /// Events queued.
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Approximate heap memory, bytes.
    pub fn memory_bytes(&self) -> usize {
        self.heap.capacity() * std::mem::size_of::<HeapEntry>()
            + self.slab.capacity() * std::mem::size_of::<Option<E>>()
            + self.free.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_then_insertion_order() {
        let mut q = EventQueue::new();
        q.push(Instant::from_micros(5), 'a');
        q.push(Instant::from_micros(1), 'b');
        q.push(Instant::from_micros(5), 'c');
        q.push(Instant::from_micros(1), 'd');
        let order: Vec<char> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec!['b', 'd', 'a', 'c']);
        assert!(q.is_empty());
    }

    /// The 4-ary heap pops what a binary heap of the same keys pops, under random pushes and
    /// pops (ties in time broken by sequence).
    #[test]
    fn quad_heap_matches_binary_heap() {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        let mut q = QuadHeap::new();
        let mut b = BinaryHeap::new();
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let mut seq = 0;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if !x.is_multiple_of(3) {
                seq += 1;
                let e = HeapEntry {
                    at: x % 64,
                    seq,
                    slot: seq as u32,
                };
                q.push(e);
                b.push(Reverse((e.at, e.seq, e.slot)));
            } else {
                let got = q.pop().map(|e| (e.at, e.seq, e.slot));
                assert_eq!(got, b.pop().map(|Reverse(k)| k));
            }
            assert_eq!(q.len(), b.len());
        }
        while let Some(Reverse(k)) = b.pop() {
            let e = q.pop().unwrap();
            assert_eq!((e.at, e.seq, e.slot), k);
        }
        assert!(q.is_empty());
    }
}
