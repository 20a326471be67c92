//! Flows (RFC 7016 §3.6): unidirectional, reliable or partially reliable message streams inside
//! a session. [`send::SendFlow`] fragments, retransmits and abandons; [`recv::RecvFlow`]
//! reassembles, orders, and decides when to acknowledge.

pub mod recv;
pub mod send;

use std::collections::VecDeque;

/// Appends `item` to `queue`, starting an empty queue with room for exactly one item instead of
/// the standard four: a flow's queues mostly hold a single message or fragment (a group post,
/// an ack-sized control message) and are freed when emptied, and thousands of them are full
/// at once during a flood in a large group (memory only). Growth after the first item doubles
/// as usual.
pub(crate) fn push_back_lean<T>(queue: &mut VecDeque<T>, item: T) {
    if queue.capacity() == 0 {
        queue.reserve_exact(1);
    }
    queue.push_back(item);
}

/// User data option types (RFC 7016 §2.3.11.1).
pub mod option_type {
    /// User's Per-Flow Metadata.
    pub const METADATA: u64 = 0x00;
    /// Return Flow Association: the flow ID of the receiver's sending flow this flow answers.
    pub const RETURN_ASSOCIATION: u64 = 0x0a;
    /// Types below this value that are not understood make the flow unacceptable.
    pub const MANDATORY_LIMIT: u64 = 0x2000;
}

/// Sending priority, 0 (lowest) to 7 (highest); levels ≥ 4 are time critical and set the TC
/// flag on packets that carry them (RFC 7016 §2.2.4; docs/protocol/session.md, "Priority and
/// time-critical data").
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Priority(u8);

impl Priority {
    /// Bulk data (2).
    pub const BULK: Priority = Priority(2);
    /// Video (4, time critical).
    pub const VIDEO: Priority = Priority(4);
    /// NetConnection control, audio and data (5, time critical).
    pub const CONTROL: Priority = Priority(5);

    /// A priority level, clamped to 0..=7.
    pub fn new(level: u8) -> Self {
        Priority(level.min(7))
    }

    /// The level, 0..=7.
    pub fn level(self) -> u8 {
        self.0
    }

    /// Whether data at this priority is time critical (level ≥ 4).
    pub fn is_time_critical(self) -> bool {
        self.0 >= 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lean_queue_starts_with_room_for_one_then_grows() {
        let mut q = VecDeque::new();
        push_back_lean(&mut q, [0u8; 80]);
        assert_eq!(q.capacity(), 1);
        push_back_lean(&mut q, [1u8; 80]);
        push_back_lean(&mut q, [2u8; 80]);
        assert_eq!(q.len(), 3);
        assert!(q.capacity() >= 3);
        assert_eq!(q.pop_front().map(|a| a[0]), Some(0));
        assert_eq!(q.back().map(|a| a[0]), Some(2));
    }
}
