//! The engine's ceiling: a bare `BinaryHeap` event loop doing no work, with the same entry
//! shape as the engine's queue. Timing it (in the binary or a bench, never in the library)
//! against a run of the same number of events shows how far the simulator is from the cost of
//! the queue alone.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

/// Pops `n_events` events from a heap holding `width` pending ones; each popped event
/// schedules one successor a pseudo-random delay later. Returns the events popped.
pub fn bare_heap(n_events: u64, width: u64) -> u64 {
    let mut heap: BinaryHeap<Reverse<(u64, u64, u32)>> = BinaryHeap::new();
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for i in 0..width.max(1) {
        heap.push(Reverse((i, i, i as u32)));
    }
    let mut seq = width;
    let mut done = 0;
    while let Some(Reverse((t, _, slot))) = heap.pop() {
        done += 1;
        if done >= n_events {
            break;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        seq += 1;
        heap.push(Reverse((t + 1 + (x & 0xffff), seq, slot)));
    }
    done
}

#[cfg(test)]
mod tests {
    #[test]
    fn pops_what_it_is_asked() {
        assert_eq!(super::bare_heap(1000, 10), 1000);
        assert_eq!(super::bare_heap(1, 0), 1);
    }
}
