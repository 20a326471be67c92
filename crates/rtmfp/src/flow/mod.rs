//! Flows (RFC 7016 §3.6): unidirectional, reliable or partially reliable message streams inside
//! a session. [`send::SendFlow`] fragments, retransmits and abandons; [`recv::RecvFlow`]
//! reassembles, orders, and decides when to acknowledge.

pub mod recv;
pub mod send;

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
/// flag on packets that carry them (RFC 7016 §2.2.4; digest §7.7).
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
