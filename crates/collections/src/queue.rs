//! Queues that give back a burst's storage once drained.
//!
//! A node's transmit and event queues are empty most of the time and fill in bursts (a post
//! flooded to every neighbour, a join's handshakes). A `VecDeque` keeps the storage of its
//! largest burst for good; in a simulator process holding thousands to a hundred thousand
//! nodes, the flood that passes through them in turn would leave each holding its burst's
//! storage (memory only: docs/performance-history.md, stops 17 and 20). An emptied queue keeps
//! nothing: even four idle slots of a node's transmit, session-event and group-event queues
//! would cost ≈ 1 KB per node, and a burst costs one allocation more.

use std::collections::VecDeque;

/// Room an emptied queue keeps, items: none (the next item allocates room for four).
const IDLE_QUEUE_CAPACITY: usize = 0;

/// Takes the front item of `queue`; when that empties a queue holding room for more than
/// `IDLE_QUEUE_CAPACITY` (0) items, the storage shrinks to that.
pub fn pop_front_lean<T>(queue: &mut VecDeque<T>) -> Option<T> {
    let item = queue.pop_front()?;
    if queue.is_empty() && queue.capacity() > IDLE_QUEUE_CAPACITY {
        queue.shrink_to(IDLE_QUEUE_CAPACITY);
    }
    Some(item)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drained_queue_gives_back_its_burst() {
        let mut q = VecDeque::new();
        for i in 0..100 {
            q.push_back(i);
        }
        assert!(q.capacity() >= 100);
        for i in 0..99 {
            assert_eq!(pop_front_lean(&mut q), Some(i));
        }
        // Not yet empty: the storage stays.
        assert!(q.capacity() >= 100);
        assert_eq!(pop_front_lean(&mut q), Some(99));
        assert_eq!(q.capacity(), IDLE_QUEUE_CAPACITY);
        assert_eq!(pop_front_lean(&mut q), None);
        // A single item's room is given back too.
        q.push_back(1);
        assert!(q.capacity() > 0);
        assert_eq!(pop_front_lean(&mut q), Some(1));
        assert_eq!(q.capacity(), IDLE_QUEUE_CAPACITY);
    }
}
