//! The receiving side of one flow (RFC 7016 §3.6.3; docs/protocol/session.md, "User Data chunks" to
//! "Acknowledgements", "Flow rejection").
//!
//! A [`RecvFlow`] takes User Data fragments from the session, tracks which sequence numbers
//! were received or abandoned, reassembles messages, hands complete messages to the
//! application through [`RecvFlow::poll_message`], decides when an acknowledgement is due and
//! builds it.
//!
//! Everything it stores comes from an untrusted peer, so memory is bounded:
//! * fragment payload bytes: out-of-order data is accepted only while the whole buffer stays
//!   within the capacity; data that extends the in-order prefix (sequence number
//!   `cumulative + 1`) only while the in-order part (including unread messages) stays within
//!   the capacity. Out-of-order data can therefore never block the hole from being filled, and
//!   the total stays below twice the capacity plus one fragment;
//! * stored fragments, unread messages and received ranges are each capped by a count derived
//!   from the capacity (`capacity / 64 + 64`, doubled at most by the same in-order rule);
//! * sequence numbers more than [`SEQUENCE_WINDOW`] above the cumulative ack are dropped.
//!
//! Dropped data is not marked received, so it is not acknowledged and the sender retransmits.
//! A message longer than the buffer capacity can never be reassembled: choose the capacity
//! above the largest expected message.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use crate::time::PackedInstant;
use crate::wire::chunk::{Ack, AckRange};
use crate::wire::{FragmentControl, UserData};
use crate::Instant;

/// Delayed-ack timer: an ack not due immediately is sent within 200 ms (RFC 7016 §3.6.3.2,
/// docs/protocol/session.md, "Acknowledgements").
pub const DELAYED_ACK: Duration = Duration::from_millis(200);
/// Packets carrying user data for the flow after which an ack is obligatory
/// (docs/protocol/session.md, "Acknowledgements").
pub const OBLIGATORY_ACK_PACKETS: u32 = 2;
/// Sequence numbers more than this far above the cumulative ack are dropped (not acked).
pub const SEQUENCE_WINDOW: u64 = 65_536;
/// Size of one advertised buffer block, in bytes (RFC 7016 §2.3.13, docs/protocol/session.md,
/// "Acknowledgements").
pub const BLOCK_SIZE: usize = 1024;

/// Highest sequence number accepted; keeps `cumulative + 1` from overflowing.
const MAX_SEQ: u64 = u64::MAX - 1;

/// Order in which complete messages are handed to the application (docs/protocol/session.md,
/// "Fragmentation").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryOrder {
    /// In sequence-number order; abandoned or incomplete messages are skipped.
    Sequence,
    /// As soon as every fragment of a message has arrived, in any order.
    Network,
}

/// Why [`RecvFlow::on_data`] dropped a fragment. Dropped fragments are not acknowledged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragmentDropReason {
    /// Sequence number 0 or `u64::MAX` (sequence numbers start at 1, RFC 7016 §3.6.2).
    InvalidSequence,
    /// More than [`SEQUENCE_WINDOW`] above the cumulative ack.
    OutOfWindow,
    /// Above the sequence number that carried FIN (RFC 7016 §2.3.11).
    AfterFinal,
    /// Storing the payload would exceed the buffer capacity.
    BufferFull,
    /// Too many stored fragments, unread messages or received ranges.
    TooManyFragments,
}

/// Result of [`RecvFlow::on_data`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecvOutcome {
    /// A sequence number not seen before, now marked received (and stored unless it was an
    /// ABN chunk or the flow is rejected).
    New,
    /// Already received or abandoned; ignored apart from scheduling an immediate ack.
    Duplicate,
    /// Not accepted and not acknowledged.
    Dropped {
        /// Why.
        reason: FragmentDropReason,
    },
}

/// One stored fragment. `seg_start`/`seg_end` delimit the run of linked consecutive fragments
/// it belongs to; they are kept accurate only on the run's first and last fragments.
#[derive(Debug)]
struct Fragment {
    fra: FragmentControl,
    data: Vec<u8>,
    seg_start: u64,
    seg_end: u64,
}

/// What a receiving flow holds between messages: out-of-order ranges, fragments and complete
/// messages. Boxed in [`RecvFlow`] and freed when empty: a group member has dozens of flows
/// that are idle nearly all the time (memory only; docs/performance-history.md, stop 16).
#[derive(Debug, Default)]
struct Held {
    /// Received ranges above `cumulative + 1`: start → end (inclusive), disjoint and not
    /// adjacent to each other.
    ranges: BTreeMap<u64, u64>,
    /// Stored fragments not yet assembled into messages.
    frags: BTreeMap<u64, Fragment>,
    frag_bytes: usize,
    /// Bytes and count of stored fragments above `cumulative`.
    ooo_bytes: usize,
    ooo_count: usize,
    /// Complete messages waiting for the application.
    ready: VecDeque<Vec<u8>>,
    ready_bytes: usize,
}

impl Held {
    fn is_empty(&self) -> bool {
        self.ranges.is_empty() && self.frags.is_empty() && self.ready.is_empty()
    }
}

/// The [`Held`] of a flow that holds nothing.
static NOTHING_HELD: Held = Held {
    ranges: BTreeMap::new(),
    frags: BTreeMap::new(),
    frag_bytes: 0,
    ooo_bytes: 0,
    ooo_count: 0,
    ready: VecDeque::new(),
    ready_bytes: 0,
};

/// Receiving side of one flow (RFC 7016 §3.6.3). See the module documentation.
///
/// The flow's ID is not kept here: the session's flow map holds it (8 bytes per flow; a group
/// member has four flows per neighbour), and [`RecvFlow::make_ack`] takes it.
///
/// 64 bytes (from 80): the FIN's sequence number and a rejection code, which a flow holds
/// only at its end or never, live in a box of their own (`RecvCold`), and the fragment limit
/// is derived from the capacity instead of stored (memory only; docs/PERFORMANCE.md).
#[derive(Debug)]
pub struct RecvFlow {
    /// The Return Flow Association (RFC 7016 §2.3.11.1.2) if [`HAS_RETURN`] is set in
    /// `present`. Inline rather than in [`RecvCold`]: a group member's extension and media
    /// flows answer another, and a box would cost more than these 8 bytes for each of them.
    /// Read by the tests' accessor only (the endpoint reports it when the flow opens).
    #[cfg_attr(not(test), allow(dead_code))]
    return_association: u64,
    /// Every sequence number ≤ this was received or abandoned.
    cumulative: u64,
    /// Received ranges, stored fragments and unread messages: allocated while the flow holds
    /// any, freed when it holds none (most flows sit idle between messages).
    held: Option<Box<Held>>,
    /// The FIN's sequence number and the rejection code, allocated when the first of them is
    /// set and kept (both are final); `None` for a flow that is neither closing nor rejected.
    cold: Option<Box<RecvCold>>,
    /// When the next ack is due (RFC 7016 §3.6.3.2), or none.
    ack_deadline: PackedInstant,
    /// The latest `now` any entry point was given: the time of the immediate acks that
    /// [`RecvFlow::poll_message`] and [`RecvFlow::reject`] schedule (they take no time).
    last_now: Instant,
    /// Buffer capacity, bytes (session buffers are 32-bit, `SessionConfig`). The limit on
    /// stored fragments and ranges follows from it ([`RecvFlow::max_frags`]).
    capacity: u32,
    /// Window advertised in the last ack, in blocks.
    prev_rwnd: u32,
    /// Packets that carried user data for this flow since the last ack (saturating).
    packets_since_ack: u32,
    order: DeliveryOrder,
    /// Which of `return_association`, the FIN's sequence number and the rejection code hold
    /// a value ([`HAS_RETURN`], [`HAS_FINAL`], [`HAS_REJECTED`]): one byte instead of three
    /// `Option<u64>` tags, and the checks on every chunk need not read `cold` (memory only: a
    /// group member has dozens of idle receiving flows).
    present: u8,
    /// FIN seen and everything up to it received or abandoned.
    reached_final: bool,
    /// The packet being processed carried user data for this flow.
    data_this_packet: bool,
}

// A member holds about four flows per neighbour; growing the flow is a memory regression
// (docs/PERFORMANCE.md). 64 bytes on 64-bit targets, less on 32-bit ones.
const _: () = assert!(std::mem::size_of::<RecvFlow>() <= 64);

/// What a [`RecvFlow`] holds only at its end or never, boxed so the flow stays small.
#[derive(Debug, Default)]
struct RecvCold {
    /// The sequence number that carried FIN (RFC 7016 §2.3.11) if [`HAS_FINAL`] is set.
    final_sn: u64,
    /// The rejection code (RFC 7016 §3.6.3.7) if [`HAS_REJECTED`] is set.
    rejected: u64,
}

/// `RecvFlow::present` bit: `return_association` holds a value.
const HAS_RETURN: u8 = 1;
/// `RecvFlow::present` bit: [`RecvCold::final_sn`] holds a value.
const HAS_FINAL: u8 = 2;
/// `RecvFlow::present` bit: [`RecvCold::rejected`] holds a value.
const HAS_REJECTED: u8 = 4;

impl RecvFlow {
    /// A new receiving flow with the flow it returns to (option 0x0a), a buffer
    /// of `buffer_capacity` bytes and the delivery order (docs/protocol/session.md,
    /// "Fragmentation"; docs/protocol/flash.md, "Flow metadata signatures" RXI bit). The flow's
    /// metadata (RFC 7016 §2.3.11 option 0x00) is not kept: the session hands it to the application
    /// once, with the flow's opening event (memory only: a member has dozens of receiving flows).
    pub fn new(
        return_association: Option<u64>,
        buffer_capacity: usize,
        order: DeliveryOrder,
    ) -> Self {
        let capacity = u32::try_from(buffer_capacity).unwrap_or(u32::MAX);
        RecvFlow {
            return_association: return_association.unwrap_or(0),
            cumulative: 0,
            held: None,
            cold: None,
            ack_deadline: PackedInstant::NONE,
            last_now: Instant::ZERO,
            capacity,
            prev_rwnd: 0,
            packets_since_ack: 0,
            order,
            present: if return_association.is_some() {
                HAS_RETURN
            } else {
                0
            },
            reached_final: false,
            data_this_packet: false,
        }
    }

    /// What the flow holds (the empty [`NOTHING_HELD`] when it holds nothing).
    fn held(&self) -> &Held {
        self.held.as_deref().unwrap_or(&NOTHING_HELD)
    }

    /// What the flow holds, allocated if it held nothing.
    fn held_mut(&mut self) -> &mut Held {
        self.held.get_or_insert_with(Box::default)
    }

    /// Frees the held state once it holds nothing.
    fn release_if_empty(&mut self) {
        if self.held.as_deref().is_some_and(Held::is_empty) {
            self.held = None;
        }
    }

    #[cfg(test)]
    /// The local sending flow this flow answers (Return Flow Association, option 0x0a).
    pub fn return_association(&self) -> Option<u64> {
        (self.present & HAS_RETURN != 0).then_some(self.return_association)
    }

    /// The sequence number that carried FIN, once seen.
    fn final_sn(&self) -> Option<u64> {
        if self.present & HAS_FINAL == 0 {
            return None;
        }
        self.cold.as_deref().map(|c| c.final_sn)
    }

    /// Buffer capacity in bytes, as a `usize`.
    fn cap(&self) -> usize {
        self.capacity as usize
    }

    /// Most fragments and ranges the flow keeps: `capacity / 64 + 64` (see the module
    /// documentation). Derived on each use rather than stored (4 bytes per flow); no overflow,
    /// as the capacity is at most `u32::MAX`.
    fn max_frags(&self) -> usize {
        (self.capacity / 64 + 64) as usize
    }

    #[cfg(test)]
    /// Delivery order given at creation.
    pub fn delivery_order(&self) -> DeliveryOrder {
        self.order
    }

    #[cfg(test)]
    /// Buffer capacity in bytes.
    pub fn buffer_capacity(&self) -> usize {
        self.cap()
    }

    #[cfg(test)]
    /// Highest sequence number S such that every sequence number ≤ S was received or
    /// abandoned (RFC 7016 §3.6.3, docs/protocol/session.md, "Acknowledgements").
    pub fn cumulative_ack(&self) -> u64 {
        self.cumulative
    }

    #[cfg(test)]
    /// Sequence number that carried FIN, once seen.
    pub fn final_sequence_number(&self) -> Option<u64> {
        self.final_sn()
    }

    /// Bytes held for the application: stored fragments plus complete unread messages.
    pub fn buffered_bytes(&self) -> usize {
        self.held().frag_bytes + self.held().ready_bytes
    }

    #[cfg(test)]
    /// Complete messages waiting for [`RecvFlow::poll_message`].
    pub fn pending_messages(&self) -> usize {
        self.held().ready.len()
    }

    /// Buffer to advertise now, in 1024-byte blocks: `(capacity - buffered) / 1024`, but at
    /// least 1 while in-order data can still be accepted, so a buffer filled with
    /// out-of-order data never stops the sender from filling the hole (docs/protocol/session.md,
    /// "Acknowledgements" "a receiver with capacity should advertise at least 1 block"). 0 means
    /// "stop sending" (the sender probes, RFC 7016 §3.6.3.5).
    pub fn window_blocks(&self) -> u64 {
        let free = self.cap().saturating_sub(self.buffered_bytes());
        let blocks = (free / BLOCK_SIZE) as u64;
        if blocks == 0 && self.capacity > 0 && self.inorder_bytes() < self.cap() {
            1
        } else {
            blocks
        }
    }

    /// Handles one received User Data fragment (RFC 7016 §3.6.3.1, docs/protocol/session.md, "User
    /// Data chunks" to "Abandonment and flow close"); the payload is copied. Applies the forward
    /// sequence number (everything ≤ FSN is received or abandoned; incomplete messages there are
    /// discarded), ABN, FIN and reassembly, then schedules an ack per RFC 7016 §3.6.3.2.
    pub fn on_data(&mut self, now: Instant, ud: &UserData<'_>) -> RecvOutcome {
        self.last_now = self.last_now.max(now);
        let seq = ud.sequence_number;
        if seq == 0 || seq > MAX_SEQ {
            return RecvOutcome::Dropped {
                reason: FragmentDropReason::InvalidSequence,
            };
        }

        let fresh = !self.contains(seq);
        let pre_ranges = self.held().ranges.len();
        // RFC 7016 §3.6.3.2 immediate-ack conditions known before processing.
        let mut ack_now = self.prev_rwnd < 2
            || ud.abandon
            || pre_ranges != 0
            || !fresh
            || self.rejected().is_some();

        let fsn = ud.forward_sequence_number().min(MAX_SEQ);
        if fsn > self.cumulative {
            self.advance_cumulative(fsn);
        }

        let outcome = if !fresh {
            RecvOutcome::Duplicate
        } else if seq > self.cumulative.saturating_add(SEQUENCE_WINDOW) {
            RecvOutcome::Dropped {
                reason: FragmentDropReason::OutOfWindow,
            }
        } else if self.final_sn().is_some_and(|f| seq > f) {
            RecvOutcome::Dropped {
                reason: FragmentDropReason::AfterFinal,
            }
        } else {
            let (outcome, fin) = self.accept(seq, ud);
            ack_now |= fin;
            outcome
        };

        self.try_deliver();

        if let Some(f) = self.final_sn() {
            if !self.reached_final && self.cumulative >= f {
                self.reached_final = true;
            }
        }
        if self.reached_final || self.held().ranges.len() != pre_ranges {
            ack_now = true;
        }

        let schedule = match outcome {
            RecvOutcome::New | RecvOutcome::Duplicate => true,
            RecvOutcome::Dropped { reason } => {
                matches!(
                    reason,
                    FragmentDropReason::BufferFull | FragmentDropReason::TooManyFragments
                )
            }
        };
        if schedule {
            self.data_this_packet = true;
            self.schedule_ack(now, ack_now);
        }
        self.release_if_empty();
        outcome
    }

    /// Next complete message for the application, if any (docs/protocol/session.md,
    /// "Fragmentation"): in sequence order for [`DeliveryOrder::Sequence`], in completion order for
    /// [`DeliveryOrder::Network`]. The bytes leave the buffer; if the last advertised window was
    /// under 2 blocks and it grew, an immediate ack (window update) is scheduled.
    pub fn poll_message(&mut self) -> Option<Vec<u8>> {
        let held = self.held.as_deref_mut()?;
        let msg = held.ready.pop_front()?;
        held.ready_bytes -= msg.len();
        if held.ready.is_empty() {
            // Flows sit idle between messages: free the emptied queue (memory only).
            held.ready = VecDeque::new();
            self.release_if_empty();
        }
        if self.prev_rwnd < 2 && self.window_blocks() > u64::from(self.prev_rwnd) {
            self.schedule_ack(self.last_now, true);
        }
        Some(msg)
    }

    /// When the next ack for this flow is due: `None` if none is needed; a deadline at or
    /// before the current time means "immediately" (RFC 7016 §3.6.3.2, docs/protocol/session.md,
    /// "Acknowledgements").
    pub fn ack_deadline(&self) -> Option<Instant> {
        self.ack_deadline.get()
    }

    /// Called by the session once after all chunks of a received packet were processed:
    /// counts packets that carried user data for this flow; the second one since the last
    /// ack makes the ack obligatory (docs/protocol/session.md, "Acknowledgements").
    pub fn on_packet_end(&mut self, now: Instant) {
        self.last_now = self.last_now.max(now);
        if !self.data_this_packet {
            return;
        }
        self.data_this_packet = false;
        self.packets_since_ack = self.packets_since_ack.saturating_add(1);
        if self.packets_since_ack >= OBLIGATORY_ACK_PACKETS {
            self.schedule_ack(now, true);
        }
    }

    /// Builds the acknowledgement of this flow, `flow_id` (RFC 7016 §2.3.14/§3.6.3.4):
    /// cumulative ack, at most `max_ranges` received ranges above it (the rest is truncated,
    /// which the RFC allows), and the window in 1024-byte blocks ([`RecvFlow::window_blocks`]).
    /// Marks it sent: clears the deadline and the packet count.
    pub fn make_ack(&mut self, flow_id: u64, now: Instant, max_ranges: usize) -> Ack {
        self.last_now = self.last_now.max(now);
        let buffer_blocks = self.window_blocks();
        let ranges = self
            .held()
            .ranges
            .iter()
            .take(max_ranges)
            .map(|(&start, &end)| AckRange { start, end })
            .collect();
        self.prev_rwnd = u32::try_from(buffer_blocks).unwrap_or(u32::MAX);
        self.ack_deadline = PackedInstant::NONE;
        self.packets_since_ack = 0;
        Ack {
            flow_id,
            buffer_blocks,
            cumulative_ack: self.cumulative,
            ranges,
        }
    }

    /// A Buffer Probe arrived for this flow: answer with an ack immediately (RFC 7016
    /// §2.3.15, docs/protocol/session.md, "Acknowledgements").
    pub fn on_buffer_probe(&mut self, now: Instant) {
        self.last_now = self.last_now.max(now);
        self.schedule_ack(now, true);
    }

    /// Rejects the flow with an application `code` (RFC 7016 §3.6.3.7, docs/protocol/session.md,
    /// "Flow rejection"): buffered data and unread messages are discarded, and from now on every
    /// received sequence number is acknowledged and discarded. The session sends a Flow Exception
    /// Report (0x5e) with [`RecvFlow::rejected`]'s code alongside each ack. An immediate ack is
    /// scheduled. The first code given is kept.
    pub fn reject(&mut self, code: u64) {
        if self.present & HAS_REJECTED == 0 {
            self.cold.get_or_insert_with(Box::default).rejected = code;
            self.present |= HAS_REJECTED;
        }
        if let Some(held) = self.held.as_deref_mut() {
            held.frags = BTreeMap::new();
            held.frag_bytes = 0;
            held.ooo_bytes = 0;
            held.ooo_count = 0;
            held.ready = VecDeque::new();
            held.ready_bytes = 0;
        }
        self.release_if_empty();
        self.schedule_ack(self.last_now, true);
    }

    /// The rejection code if the flow was rejected.
    pub fn rejected(&self) -> Option<u64> {
        if self.present & HAS_REJECTED == 0 {
            return None;
        }
        self.cold.as_deref().map(|c| c.rejected)
    }

    /// FIN received, every sequence number up to it received or abandoned, and every message
    /// read (the flow may then linger and be forgotten, docs/protocol/session.md, "Abandonment and
    /// flow close").
    pub fn is_complete(&self) -> bool {
        let Some(f) = self.final_sn() else {
            return false;
        };
        self.cumulative >= f
            && self.held().ready.is_empty()
            && self.held().frags.range(..=f).next().is_none()
    }

    // ----- internals -------------------------------------------------------------------------

    fn inorder_bytes(&self) -> usize {
        self.buffered_bytes() - self.held().ooo_bytes
    }

    fn inorder_count(&self) -> usize {
        self.held().frags.len() - self.held().ooo_count + self.held().ready.len()
    }

    fn schedule_ack(&mut self, now: Instant, immediate: bool) {
        let at = if immediate { now } else { now + DELAYED_ACK };
        self.ack_deadline = self.ack_deadline.get().map_or(at, |d| d.min(at)).into();
    }

    /// Whether `seq` was received or abandoned.
    fn contains(&self, seq: u64) -> bool {
        seq <= self.cumulative
            || self
                .held()
                .ranges
                .range(..=seq)
                .next_back()
                .is_some_and(|(_, &end)| end >= seq)
    }

    /// Raises the cumulative ack to at least `to` (> current), absorbing ranges that become
    /// contiguous, and reclassifies the fragments that are no longer out of order.
    fn advance_cumulative(&mut self, to: u64) {
        let old = self.cumulative;
        let mut new = to;
        let mut absorbed = false;
        while let Some((&start, &end)) = self.held().ranges.first_key_value() {
            if start > new.saturating_add(1) {
                break;
            }
            self.held_mut().ranges.pop_first();
            absorbed = true;
            new = new.max(end);
        }
        if absorbed && self.held().ranges.is_empty() {
            // An emptied B-tree keeps its root leaf: free it (memory only).
            self.held_mut().ranges = BTreeMap::new();
        }
        if self.held().ooo_count > 0 && new > old {
            let h = self.held_mut();
            let (count, bytes) = h
                .frags
                .range(old + 1..=new)
                .fold((0, 0), |(c, b), (_, f)| (c + 1, b + f.data.len()));
            h.ooo_count -= count;
            h.ooo_bytes -= bytes;
        }
        self.cumulative = new;
    }

    /// Neighbouring ranges of a fresh `seq` above `cumulative + 1`:
    /// (start of the range ending at `seq - 1`, end of the range starting at `seq + 1`).
    fn range_neighbours(&self, seq: u64) -> (Option<u64>, Option<u64>) {
        let prev = self
            .held()
            .ranges
            .range(..seq)
            .next_back()
            .filter(|(_, &end)| end.checked_add(1) == Some(seq))
            .map(|(&start, _)| start);
        let next = seq
            .checked_add(1)
            .and_then(|n| self.held().ranges.get(&n).copied());
        (prev, next)
    }

    /// Marks a fresh `seq` received.
    fn mark_received(&mut self, seq: u64) {
        if seq <= self.cumulative {
            return;
        }
        if seq == self.cumulative + 1 {
            self.advance_cumulative(seq);
            return;
        }
        match self.range_neighbours(seq) {
            (Some(ps), Some(ne)) => {
                self.held_mut().ranges.remove(&(seq + 1));
                self.held_mut().ranges.insert(ps, ne);
            }
            (Some(ps), None) => {
                self.held_mut().ranges.insert(ps, seq);
            }
            (None, Some(ne)) => {
                self.held_mut().ranges.remove(&(seq + 1));
                self.held_mut().ranges.insert(seq, ne);
            }
            (None, None) => {
                self.held_mut().ranges.insert(seq, seq);
            }
        }
    }

    /// Accepts a fresh, in-window `seq`: checks the limits, stores the fragment (unless ABN or
    /// rejected), marks it received and records FIN. Returns the outcome and whether FIN was
    /// newly seen.
    fn accept(&mut self, seq: u64, ud: &UserData<'_>) -> (RecvOutcome, bool) {
        let dropped = |reason| (RecvOutcome::Dropped { reason }, false);
        let next_in_order = self.cumulative + 1;
        if seq > next_in_order
            && self.range_neighbours(seq) == (None, None)
            && self.held().ranges.len() >= self.max_frags()
        {
            return dropped(FragmentDropReason::TooManyFragments);
        }

        let store = self.rejected().is_none() && !ud.abandon;
        if store {
            let len = ud.data.len();
            if seq <= next_in_order {
                if self.inorder_bytes().saturating_add(len) > self.cap() {
                    return dropped(FragmentDropReason::BufferFull);
                }
                if self.inorder_count() >= self.max_frags() {
                    return dropped(FragmentDropReason::TooManyFragments);
                }
            } else {
                if self.buffered_bytes().saturating_add(len) > self.cap() {
                    return dropped(FragmentDropReason::BufferFull);
                }
                if self.held().frags.len() + self.held().ready.len() >= self.max_frags() {
                    return dropped(FragmentDropReason::TooManyFragments);
                }
            }
            let (start, end) = self.insert_fragment(seq, ud.fragment, ud.data);
            self.mark_received(seq);
            if self.order == DeliveryOrder::Network && self.segment_complete(start, end) {
                self.deliver_segment(start, end);
            }
        } else {
            self.mark_received(seq);
        }

        let fin = ud.final_ && self.final_sn().is_none();
        if fin {
            self.cold.get_or_insert_with(Box::default).final_sn = seq;
            self.present |= HAS_FINAL;
        }
        (RecvOutcome::New, fin)
    }

    /// Stores a fragment and links it to its neighbours; returns its run's (start, end).
    fn insert_fragment(&mut self, seq: u64, fra: FragmentControl, data: &[u8]) -> (u64, u64) {
        let mut start = seq;
        let mut end = seq;
        if !fra.is_first() {
            if let Some(p) = seq.checked_sub(1).and_then(|p| self.held().frags.get(&p)) {
                if !p.fra.is_last() {
                    start = p.seg_start;
                }
            }
        }
        if !fra.is_last() {
            if let Some(n) = seq.checked_add(1).and_then(|n| self.held().frags.get(&n)) {
                if !n.fra.is_first() {
                    end = n.seg_end;
                }
            }
        }
        if start != seq {
            if let Some(f) = self.held_mut().frags.get_mut(&start) {
                f.seg_end = end;
            }
        }
        if end != seq {
            if let Some(f) = self.held_mut().frags.get_mut(&end) {
                f.seg_start = start;
            }
        }
        self.held_mut().frags.insert(
            seq,
            Fragment {
                fra,
                data: data.to_vec(),
                seg_start: start,
                seg_end: end,
            },
        );
        self.held_mut().frag_bytes += data.len();
        if seq > self.cumulative {
            self.held_mut().ooo_bytes += data.len();
            self.held_mut().ooo_count += 1;
        }
        (start, end)
    }

    fn segment_complete(&self, start: u64, end: u64) -> bool {
        self.held()
            .frags
            .get(&start)
            .is_some_and(|f| f.fra.is_first())
            && self.held().frags.get(&end).is_some_and(|f| f.fra.is_last())
    }

    fn take_fragment(&mut self, seq: u64) -> Option<Fragment> {
        let f = self.held_mut().frags.remove(&seq)?;
        if self.held().frags.is_empty() {
            // An emptied B-tree keeps its root leaf (room for 11 fragments): free it, since
            // most flows sit idle between messages (memory only).
            self.held_mut().frags = BTreeMap::new();
        }
        self.held_mut().frag_bytes -= f.data.len();
        if seq > self.cumulative {
            self.held_mut().ooo_bytes -= f.data.len();
            self.held_mut().ooo_count -= 1;
        }
        Some(f)
    }

    /// Moves the complete message `start..=end` to the ready queue.
    fn deliver_segment(&mut self, start: u64, end: u64) {
        let msg = if start == end {
            match self.take_fragment(start) {
                Some(f) => f.data,
                None => return,
            }
        } else {
            let total: usize = self
                .held()
                .frags
                .range(start..=end)
                .map(|(_, f)| f.data.len())
                .sum();
            let mut msg = Vec::with_capacity(total);
            for seq in start..=end {
                if let Some(f) = self.take_fragment(seq) {
                    msg.extend_from_slice(&f.data);
                }
            }
            msg
        };
        self.held_mut().ready_bytes += msg.len();
        super::push_back_lean(&mut self.held_mut().ready, msg);
    }

    /// Delivers or discards what sits at the head of the buffer at or below the cumulative
    /// ack (docs/protocol/session.md, "Fragmentation"): whole messages and complete runs are
    /// delivered, fragments without a beginning and runs that can no longer complete (their next
    /// sequence number was received as something else or abandoned, or FIN ends the flow inside
    /// them) are discarded.
    fn try_deliver(&mut self) {
        if self.rejected().is_some() {
            return;
        }
        while let Some((&seq, frag)) = self.held().frags.first_key_value() {
            if seq > self.cumulative {
                break;
            }
            let (fra, end) = (frag.fra, frag.seg_end);
            match fra {
                FragmentControl::Whole => self.deliver_segment(seq, seq),
                FragmentControl::Middle | FragmentControl::End => {
                    self.take_fragment(seq);
                }
                FragmentControl::Begin => {
                    let ended = self.held().frags.get(&end).is_some_and(|f| f.fra.is_last());
                    if ended && end >= seq {
                        self.deliver_segment(seq, end);
                    } else if end < self.cumulative
                        || end < seq
                        || self.final_sn().is_some_and(|f| end >= f)
                    {
                        self.take_fragment(seq);
                    } else {
                        break; // in progress: end == cumulative, more may follow
                    }
                }
            }
        }
    }

    /// Test helper: recomputes every counter and checks the structural invariants.
    #[cfg(test)]
    fn check_invariants(&self) {
        let bytes: usize = self.held().frags.values().map(|f| f.data.len()).sum();
        assert_eq!(bytes, self.held().frag_bytes);
        let ooo: Vec<_> = self
            .held()
            .frags
            .range(self.cumulative.saturating_add(1)..)
            .collect();
        assert_eq!(ooo.len(), self.held().ooo_count);
        assert_eq!(
            ooo.iter().map(|(_, f)| f.data.len()).sum::<usize>(),
            self.held().ooo_bytes
        );
        assert_eq!(
            self.held().ready.iter().map(Vec::len).sum::<usize>(),
            self.held().ready_bytes
        );
        let mut prev_end: Option<u64> = None;
        for (&s, &e) in &self.held().ranges {
            assert!(s > self.cumulative + 1, "range {s}..{e} touches cumulative");
            assert!(e >= s);
            if let Some(p) = prev_end {
                assert!(s > p + 1, "ranges not disjoint/non-adjacent");
            }
            prev_end = Some(e);
        }
        for &k in self.held().frags.keys() {
            assert!(self.contains(k), "stored fragment {k} not marked received");
        }
        assert!(self.held().ranges.len() <= self.max_frags());
        assert!(self.held().frags.len() + self.held().ready.len() <= 2 * self.max_frags());
        assert!(self.buffered_bytes() <= 2 * self.cap() + 70_000);
        if self.rejected().is_some() {
            assert!(self.held().frags.is_empty() && self.held().ready.is_empty());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ID the tests' acknowledgements name.
    const FLOW: u64 = 5;
    use proptest::prelude::*;

    const CAP: usize = 64 * 1024;

    fn t(ms: u64) -> Instant {
        Instant::from_micros(1_000_000 + ms * 1000)
    }

    /// An owned User Data chunk for tests.
    #[derive(Debug, Clone)]
    struct Ud {
        seq: u64,
        fsn_offset: u64,
        fra: FragmentControl,
        abandon: bool,
        fin: bool,
        data: Vec<u8>,
    }

    impl Ud {
        fn new(seq: u64, fra: FragmentControl, data: &[u8]) -> Self {
            Ud {
                seq,
                fsn_offset: seq,
                fra,
                abandon: false,
                fin: false,
                data: data.to_vec(),
            }
        }
        fn whole(seq: u64, data: &[u8]) -> Self {
            Self::new(seq, FragmentControl::Whole, data)
        }
        fn abn(seq: u64) -> Self {
            Ud {
                abandon: true,
                ..Self::new(seq, FragmentControl::Whole, &[])
            }
        }
        fn fsn(mut self, fsn: u64) -> Self {
            self.fsn_offset = self.seq - fsn;
            self
        }
        fn fin(mut self) -> Self {
            self.fin = true;
            self
        }
        fn as_ud(&self) -> UserData<'_> {
            UserData {
                flow_id: 5,
                sequence_number: self.seq,
                fsn_offset: self.fsn_offset,
                fragment: self.fra,
                abandon: self.abandon,
                final_: self.fin,
                options: None,
                data: &self.data,
            }
        }
    }

    fn flow(order: DeliveryOrder) -> RecvFlow {
        RecvFlow::new(Some(2), CAP, order)
    }

    fn feed(f: &mut RecvFlow, now: Instant, ud: &Ud) -> RecvOutcome {
        let r = f.on_data(now, &ud.as_ud());
        f.check_invariants();
        r
    }

    fn drain(f: &mut RecvFlow) -> Vec<Vec<u8>> {
        std::iter::from_fn(|| f.poll_message()).collect()
    }

    /// A flow holds its ranges, fragments and messages in one allocation that exists only
    /// while it holds any: an idle flow (everything read, no hole) allocates nothing.
    #[test]
    fn an_idle_flow_holds_no_allocation() {
        let mut f = flow(DeliveryOrder::Sequence);
        assert!(f.held.is_none());
        feed(&mut f, t(0), &Ud::whole(1, b"one"));
        assert!(f.held.is_some(), "an unread message is held");
        assert_eq!(drain(&mut f), vec![b"one".to_vec()]);
        assert!(f.held.is_none(), "read: nothing held");
        // A hole: seq 3 waits for seq 2.
        feed(&mut f, t(1), &Ud::whole(3, b"three"));
        assert!(drain(&mut f).is_empty());
        assert!(f.held.is_some(), "an out-of-order fragment is held");
        feed(&mut f, t(2), &Ud::whole(2, b"two"));
        assert_eq!(drain(&mut f), vec![b"two".to_vec(), b"three".to_vec()]);
        assert!(f.held.is_none(), "hole filled and read: nothing held");
        // A rejected flow drops its unread messages (received ranges it keeps, for acks).
        feed(&mut f, t(3), &Ud::whole(4, b"four"));
        assert!(f.held.is_some());
        f.reject(7);
        assert!(f.held.is_none());
        assert_eq!(f.buffered_bytes(), 0);
        // A duplicate or an empty poll allocates nothing.
        feed(&mut f, t(4), &Ud::whole(1, b"one"));
        feed(&mut f, t(4), &Ud::whole(5, b"five"));
        assert!(f.poll_message().is_none());
        assert!(f.held.is_none());
        assert!(
            std::mem::size_of::<RecvFlow>() <= 64,
            "RecvFlow is {} bytes",
            std::mem::size_of::<RecvFlow>()
        );
    }

    /// The FIN's sequence number and the rejection code share a box allocated by the first of
    /// them: an open, accepted flow has none, and each reads back as before the box.
    #[test]
    fn the_cold_box_holds_the_final_sequence_number_and_the_rejection_code() {
        let mut f = flow(DeliveryOrder::Sequence);
        feed(&mut f, t(0), &Ud::whole(1, b"one"));
        assert!(f.cold.is_none(), "an open flow has neither");
        assert_eq!((f.final_sequence_number(), f.rejected()), (None, None));
        feed(&mut f, t(1), &Ud::whole(2, b"two").fin());
        assert!(f.cold.is_some());
        assert_eq!((f.final_sequence_number(), f.rejected()), (Some(2), None));
        f.reject(6);
        f.reject(9);
        assert_eq!(
            (f.final_sequence_number(), f.rejected()),
            (Some(2), Some(6))
        );
        assert_eq!(f.return_association(), Some(2));
        // Rejected first, then FIN: the same box takes both.
        let mut g = RecvFlow::new(None, CAP, DeliveryOrder::Network);
        g.reject(0);
        feed(&mut g, t(0), &Ud::whole(1, b"x").fin());
        assert_eq!(
            (g.final_sequence_number(), g.rejected()),
            (Some(1), Some(0))
        );
        assert!(g.is_complete());
        assert_eq!(g.max_frags(), CAP / 64 + 64);
        assert_eq!(
            RecvFlow::new(None, usize::MAX, DeliveryOrder::Sequence).max_frags(),
            (u32::MAX / 64 + 64) as usize
        );
    }

    /// Splits messages into fragments of at most `size` bytes on consecutive sequence numbers
    /// starting at `first_seq`.
    fn fragment(messages: &[Vec<u8>], size: usize, first_seq: u64) -> Vec<Ud> {
        let mut out = Vec::new();
        let mut seq = first_seq;
        for m in messages {
            let pieces: Vec<&[u8]> = if m.is_empty() {
                vec![&[][..]]
            } else {
                m.chunks(size).collect()
            };
            let n = pieces.len();
            for (i, p) in pieces.into_iter().enumerate() {
                let fra = match (i == 0, i + 1 == n) {
                    (true, true) => FragmentControl::Whole,
                    (true, false) => FragmentControl::Begin,
                    (false, true) => FragmentControl::End,
                    (false, false) => FragmentControl::Middle,
                };
                out.push(Ud::new(seq, fra, p));
                seq += 1;
            }
        }
        out
    }

    #[test]
    fn accessors() {
        let f = flow(DeliveryOrder::Sequence);
        assert_eq!(f.return_association(), Some(2));
        assert_eq!(f.delivery_order(), DeliveryOrder::Sequence);
        assert_eq!(f.buffer_capacity(), CAP);
        assert_eq!(f.cumulative_ack(), 0);
        assert_eq!(f.window_blocks(), 64);
        assert!(!f.is_complete());
        assert_eq!(f.rejected(), None);
    }

    #[test]
    fn whole_messages_in_order() {
        let mut f = flow(DeliveryOrder::Sequence);
        assert_eq!(feed(&mut f, t(0), &Ud::whole(1, b"a")), RecvOutcome::New);
        assert_eq!(
            feed(&mut f, t(0), &Ud::whole(2, b"bc").fsn(1)),
            RecvOutcome::New
        );
        assert_eq!(f.buffered_bytes(), 3);
        assert_eq!(f.pending_messages(), 2);
        assert_eq!(drain(&mut f), vec![b"a".to_vec(), b"bc".to_vec()]);
        assert_eq!(f.buffered_bytes(), 0);
        assert_eq!(f.cumulative_ack(), 2);
    }

    #[test]
    fn reassembles_out_of_order_fragments() {
        let mut f = flow(DeliveryOrder::Sequence);
        let msg: Vec<u8> = (0..=255).collect();
        let frags = fragment(std::slice::from_ref(&msg), 100, 1);
        assert_eq!(frags.len(), 3);
        feed(&mut f, t(0), &frags[2]);
        feed(&mut f, t(0), &frags[1]);
        assert_eq!(f.poll_message(), None);
        assert_eq!(f.buffered_bytes(), 156);
        feed(&mut f, t(0), &frags[0]);
        assert_eq!(drain(&mut f), vec![msg]);
        assert_eq!(f.buffered_bytes(), 0);
        assert_eq!(f.cumulative_ack(), 3);
    }

    #[test]
    fn duplicates_are_reported_and_delivered_once() {
        let mut f = flow(DeliveryOrder::Sequence);
        let frags = fragment(&[b"hello world".to_vec()], 4, 1);
        feed(&mut f, t(0), &frags[0]);
        assert_eq!(feed(&mut f, t(0), &frags[0]), RecvOutcome::Duplicate);
        feed(&mut f, t(0), &frags[2]);
        assert_eq!(feed(&mut f, t(0), &frags[2]), RecvOutcome::Duplicate);
        feed(&mut f, t(0), &frags[1]);
        assert_eq!(feed(&mut f, t(0), &frags[1]), RecvOutcome::Duplicate);
        assert_eq!(drain(&mut f), vec![b"hello world".to_vec()]);
        // A duplicate of a delivered fragment changes nothing.
        assert_eq!(feed(&mut f, t(0), &frags[0]), RecvOutcome::Duplicate);
        assert_eq!(f.poll_message(), None);
        // Sequence number 0 is never valid.
        assert_eq!(
            feed(&mut f, t(0), &Ud::whole(0, b"x")),
            RecvOutcome::Dropped {
                reason: FragmentDropReason::InvalidSequence
            }
        );
    }

    #[test]
    fn fsn_abandons_partial_message() {
        for order in [DeliveryOrder::Sequence, DeliveryOrder::Network] {
            let mut f = flow(order);
            // Message A = 1 Begin, 2 Middle, 3 End (3 lost); message B = 4 Whole.
            feed(&mut f, t(0), &Ud::new(1, FragmentControl::Begin, b"A1"));
            feed(&mut f, t(0), &Ud::new(2, FragmentControl::Middle, b"A2"));
            assert_eq!(f.buffered_bytes(), 4);
            // The sender gives up on A: FSN 3 on the next chunk.
            feed(&mut f, t(0), &Ud::whole(4, b"B").fsn(3));
            assert_eq!(f.cumulative_ack(), 4);
            assert_eq!(drain(&mut f), vec![b"B".to_vec()], "{order:?}");
            assert_eq!(f.buffered_bytes(), 0);
            // The late End of A is below the cumulative ack: a duplicate, not delivered.
            assert_eq!(
                feed(&mut f, t(0), &Ud::new(3, FragmentControl::End, b"A3")),
                RecvOutcome::Duplicate
            );
            feed(&mut f, t(0), &Ud::whole(5, b"C").fsn(4));
            assert_eq!(drain(&mut f), vec![b"C".to_vec()]);
        }
    }

    #[test]
    fn fsn_jump_over_out_of_order_data() {
        let mut f = flow(DeliveryOrder::Sequence);
        // 3..5 is message X (Begin, Middle, End), 7 is a whole message; 1, 2, 6 missing.
        feed(&mut f, t(0), &Ud::new(3, FragmentControl::Begin, b"x"));
        feed(&mut f, t(0), &Ud::new(4, FragmentControl::Middle, b"y"));
        feed(&mut f, t(0), &Ud::new(5, FragmentControl::End, b"z"));
        feed(&mut f, t(0), &Ud::whole(7, b"w"));
        assert_eq!(f.poll_message(), None);
        // FSN 2: 1 and 2 abandoned; X becomes deliverable, 7 still waits for 6.
        feed(&mut f, t(0), &Ud::whole(8, b"v").fsn(2));
        assert_eq!(f.cumulative_ack(), 5);
        assert_eq!(drain(&mut f), vec![b"xyz".to_vec()]);
        feed(&mut f, t(0), &Ud::whole(6, b"u"));
        assert_eq!(
            drain(&mut f),
            vec![b"u".to_vec(), b"w".to_vec(), b"v".to_vec()]
        );
    }

    #[test]
    fn abn_drops_partial_message_and_later_messages_flow() {
        for order in [DeliveryOrder::Sequence, DeliveryOrder::Network] {
            let mut f = flow(order);
            feed(&mut f, t(0), &Ud::new(1, FragmentControl::Begin, b"A1"));
            feed(&mut f, t(0), &Ud::new(3, FragmentControl::End, b"A3"));
            feed(&mut f, t(0), &Ud::whole(4, b"B"));
            if order == DeliveryOrder::Network {
                assert_eq!(f.poll_message(), Some(b"B".to_vec()));
            }
            // Fragment 2 is abandoned: ABN with no data.
            assert_eq!(feed(&mut f, t(0), &Ud::abn(2)), RecvOutcome::New);
            assert_eq!(f.cumulative_ack(), 4);
            let got = drain(&mut f);
            if order == DeliveryOrder::Sequence {
                assert_eq!(got, vec![b"B".to_vec()]);
            } else {
                assert!(got.is_empty());
            }
            assert_eq!(f.buffered_bytes(), 0);
        }
    }

    #[test]
    fn orphan_and_malformed_fragments_are_discarded() {
        let mut f = flow(DeliveryOrder::Sequence);
        // Middle and End without a Begin.
        feed(&mut f, t(0), &Ud::new(1, FragmentControl::Middle, b"m"));
        feed(&mut f, t(0), &Ud::new(2, FragmentControl::End, b"e"));
        // Begin followed by another Begin: the first message can never end.
        feed(&mut f, t(0), &Ud::new(3, FragmentControl::Begin, b"b1"));
        feed(&mut f, t(0), &Ud::new(4, FragmentControl::Begin, b"b2"));
        feed(&mut f, t(0), &Ud::new(5, FragmentControl::End, b"e2"));
        // End followed by Middle.
        feed(&mut f, t(0), &Ud::new(6, FragmentControl::Middle, b"zz"));
        feed(&mut f, t(0), &Ud::whole(7, b"w"));
        assert_eq!(drain(&mut f), vec![b"b2e2".to_vec(), b"w".to_vec()]);
        assert_eq!(f.buffered_bytes(), 0);
    }

    #[test]
    fn sequence_vs_network_order() {
        let frags = fragment(&[b"AAAA".to_vec(), b"B".to_vec()], 2, 1); // 1 B, 2 E, 3 W
        let mut seq = flow(DeliveryOrder::Sequence);
        let mut net = flow(DeliveryOrder::Network);
        for f in [&mut seq, &mut net] {
            feed(f, t(0), &frags[2]);
        }
        assert_eq!(seq.poll_message(), None);
        assert_eq!(net.poll_message(), Some(b"B".to_vec()));
        for f in [&mut seq, &mut net] {
            feed(f, t(0), &frags[0]);
        }
        assert_eq!(seq.poll_message(), None);
        assert_eq!(net.poll_message(), None);
        for f in [&mut seq, &mut net] {
            feed(f, t(0), &frags[1]);
        }
        assert_eq!(drain(&mut seq), vec![b"AAAA".to_vec(), b"B".to_vec()]);
        assert_eq!(drain(&mut net), vec![b"AAAA".to_vec()]);
    }

    #[test]
    fn network_order_completes_out_of_order_messages() {
        let mut f = flow(DeliveryOrder::Network);
        // Message 1..3 incomplete (2 missing), message 4..5 complete out of order.
        feed(&mut f, t(0), &Ud::new(5, FragmentControl::End, b"d"));
        feed(&mut f, t(0), &Ud::new(4, FragmentControl::Begin, b"c"));
        feed(&mut f, t(0), &Ud::new(1, FragmentControl::Begin, b"a"));
        feed(&mut f, t(0), &Ud::new(3, FragmentControl::End, b"b2"));
        assert_eq!(drain(&mut f), vec![b"cd".to_vec()]);
        feed(&mut f, t(0), &Ud::new(2, FragmentControl::Middle, b"b1"));
        assert_eq!(drain(&mut f), vec![b"ab1b2".to_vec()]);
    }

    #[test]
    fn ack_ranges_and_truncation() {
        let mut f = flow(DeliveryOrder::Sequence);
        for s in [1, 2, 4, 5, 7] {
            feed(&mut f, t(0), &Ud::whole(s, b"x"));
        }
        let ack = f.make_ack(FLOW, t(0), 16);
        assert_eq!(ack.flow_id, 5);
        assert_eq!(ack.cumulative_ack, 2);
        assert_eq!(
            ack.ranges,
            vec![AckRange { start: 4, end: 5 }, AckRange { start: 7, end: 7 }]
        );
        assert_eq!(
            f.make_ack(FLOW, t(0), 1).ranges,
            vec![AckRange { start: 4, end: 5 }]
        );
        assert!(f.make_ack(FLOW, t(0), 0).ranges.is_empty());
        // Filling 6 merges 4..7; filling 3 makes everything cumulative.
        feed(&mut f, t(0), &Ud::whole(6, b"x"));
        assert_eq!(
            f.make_ack(FLOW, t(0), 16).ranges,
            vec![AckRange { start: 4, end: 7 }]
        );
        feed(&mut f, t(0), &Ud::whole(3, b"x"));
        let ack = f.make_ack(FLOW, t(0), 16);
        assert_eq!(ack.cumulative_ack, 7);
        assert!(ack.ranges.is_empty());
        // The ack survives the wire codec.
        let mut out = Vec::new();
        crate::wire::Chunk::Ack(ack.clone()).encode(&mut out);
        let back = crate::wire::Chunk::decode(out[0], &out[3..]).unwrap();
        assert_eq!(back, crate::wire::Chunk::Ack(ack));
    }

    #[test]
    fn ack_timing_rules() {
        let mut f = flow(DeliveryOrder::Sequence);
        assert_eq!(f.ack_deadline(), None);
        // First data: the previously advertised window (none yet) is < 2 blocks: immediate.
        feed(&mut f, t(0), &Ud::whole(1, b"a"));
        assert_eq!(f.ack_deadline(), Some(t(0)));
        f.on_packet_end(t(0));
        let ack = f.make_ack(FLOW, t(1), 8);
        assert_eq!(ack.buffer_blocks, 63); // 65535 bytes free
        assert_eq!(f.ack_deadline(), None);

        // In-order data in one packet: delayed 200 ms.
        feed(&mut f, t(10), &Ud::whole(2, b"b"));
        f.on_packet_end(t(10));
        assert_eq!(f.ack_deadline(), Some(t(210)));
        // A second packet with data: obligatory ack now (deadline keeps the earliest).
        feed(&mut f, t(20), &Ud::whole(3, b"c"));
        assert_eq!(f.ack_deadline(), Some(t(210)));
        f.on_packet_end(t(20));
        assert_eq!(f.ack_deadline(), Some(t(20)));
        f.make_ack(FLOW, t(20), 8);

        // A packet without data for this flow doesn't count.
        feed(&mut f, t(30), &Ud::whole(4, b"d"));
        f.on_packet_end(t(30));
        f.on_packet_end(t(31));
        f.on_packet_end(t(32));
        assert_eq!(f.ack_deadline(), Some(t(230)));
        f.make_ack(FLOW, t(33), 8);

        // Out of order (creates a range): immediate.
        feed(&mut f, t(40), &Ud::whole(6, b"f"));
        assert_eq!(f.ack_deadline(), Some(t(40)));
        f.make_ack(FLOW, t(40), 8);
        // Data while not contiguous (ranges exist): immediate.
        feed(&mut f, t(50), &Ud::whole(8, b"h"));
        assert_eq!(f.ack_deadline(), Some(t(50)));
        f.make_ack(FLOW, t(50), 8);
        // Filling the hole changes the range count: immediate.
        feed(&mut f, t(60), &Ud::whole(5, b"e"));
        assert_eq!(f.ack_deadline(), Some(t(60)));
        f.make_ack(FLOW, t(60), 8);
        feed(&mut f, t(61), &Ud::whole(7, b"g"));
        f.make_ack(FLOW, t(61), 8);
        assert_eq!(f.cumulative_ack(), 8);

        // Duplicate: immediate.
        feed(&mut f, t(70), &Ud::whole(9, b"i"));
        assert_eq!(f.ack_deadline(), Some(t(270)));
        f.make_ack(FLOW, t(71), 8);
        feed(&mut f, t(80), &Ud::whole(9, b"i"));
        assert_eq!(f.ack_deadline(), Some(t(80)));
        f.make_ack(FLOW, t(80), 8);

        // ABN: immediate.
        feed(&mut f, t(90), &Ud::abn(10));
        assert_eq!(f.ack_deadline(), Some(t(90)));
        f.make_ack(FLOW, t(90), 8);

        // Buffer probe: immediate.
        f.on_buffer_probe(t(95));
        assert_eq!(f.ack_deadline(), Some(t(95)));
        f.make_ack(FLOW, t(95), 8);

        // FIN: immediate (and the flow is then complete once read).
        feed(&mut f, t(100), &Ud::whole(11, b"k").fin());
        assert_eq!(f.ack_deadline(), Some(t(100)));
        f.make_ack(FLOW, t(100), 8);
        assert!(!f.is_complete());
        drain(&mut f);
        assert!(f.is_complete());
        // After completion every (duplicate) arrival is acked immediately.
        feed(&mut f, t(110), &Ud::whole(11, b"k").fin());
        assert_eq!(f.ack_deadline(), Some(t(110)));
        f.make_ack(FLOW, t(110), 8);

        // Rejection: immediate.
        let mut g = flow(DeliveryOrder::Sequence);
        feed(&mut g, t(0), &Ud::whole(1, b"a"));
        g.make_ack(FLOW, t(0), 8);
        g.reject(0);
        assert_eq!(g.ack_deadline(), Some(t(0)));
    }

    #[test]
    fn small_window_makes_every_ack_immediate_and_read_reopens() {
        let mut f = RecvFlow::new(None, 4096, DeliveryOrder::Sequence);
        assert_eq!(f.window_blocks(), 4);
        let block = vec![7u8; 1024];
        for s in 1..=4 {
            assert_eq!(feed(&mut f, t(0), &Ud::whole(s, &block)), RecvOutcome::New);
            assert_eq!(f.window_blocks(), 4 - s);
        }
        // Full: the 5th is neither accepted nor acked.
        assert_eq!(
            feed(&mut f, t(0), &Ud::whole(5, &block)),
            RecvOutcome::Dropped {
                reason: FragmentDropReason::BufferFull
            }
        );
        let ack = f.make_ack(FLOW, t(0), 8);
        assert_eq!(ack.cumulative_ack, 4);
        assert_eq!(ack.buffer_blocks, 0);
        assert_eq!(f.buffered_bytes(), 4096);
        // The application reads: the window reopens and an update is due now.
        assert!(f.poll_message().is_some());
        assert_eq!(f.window_blocks(), 1);
        assert_eq!(f.ack_deadline(), Some(t(0)));
        assert_eq!(f.make_ack(FLOW, t(1), 8).buffer_blocks, 1);
        drain(&mut f);
        assert_eq!(f.window_blocks(), 4);
        assert_eq!(feed(&mut f, t(2), &Ud::whole(5, &block)), RecvOutcome::New);
    }

    #[test]
    fn out_of_order_data_cannot_block_the_hole() {
        let mut f = RecvFlow::new(None, 4096, DeliveryOrder::Sequence);
        let block = vec![1u8; 1024];
        for s in 2..=5 {
            assert_eq!(feed(&mut f, t(0), &Ud::whole(s, &block)), RecvOutcome::New);
        }
        assert_eq!(
            feed(&mut f, t(0), &Ud::whole(6, &block)),
            RecvOutcome::Dropped {
                reason: FragmentDropReason::BufferFull
            }
        );
        // Full of out-of-order data: still advertise 1 block so the hole gets filled.
        assert_eq!(f.window_blocks(), 1);
        assert_eq!(feed(&mut f, t(0), &Ud::whole(1, &block)), RecvOutcome::New);
        assert_eq!(f.buffered_bytes(), 5 * 1024);
        assert_eq!(f.window_blocks(), 0);
        assert_eq!(drain(&mut f).len(), 5);
        assert_eq!(f.window_blocks(), 4);
    }

    #[test]
    fn rejected_flow_acks_everything_and_delivers_nothing() {
        let mut f = flow(DeliveryOrder::Sequence);
        feed(&mut f, t(0), &Ud::whole(1, b"queued"));
        feed(&mut f, t(0), &Ud::new(3, FragmentControl::Begin, b"x"));
        f.reject(7);
        f.reject(9);
        assert_eq!(f.rejected(), Some(7));
        assert_eq!(f.buffered_bytes(), 0);
        assert_eq!(f.poll_message(), None);
        assert_eq!(feed(&mut f, t(1), &Ud::whole(2, b"y")), RecvOutcome::New);
        assert_eq!(
            feed(&mut f, t(1), &Ud::new(4, FragmentControl::End, b"z")),
            RecvOutcome::New
        );
        assert_eq!(
            feed(&mut f, t(1), &Ud::whole(6, &[0; 60_000])),
            RecvOutcome::New
        );
        assert_eq!(
            feed(&mut f, t(1), &Ud::whole(6, b"w")),
            RecvOutcome::Duplicate
        );
        assert_eq!(f.poll_message(), None);
        assert_eq!(f.buffered_bytes(), 0);
        let ack = f.make_ack(FLOW, t(1), 8);
        assert_eq!(ack.cumulative_ack, 4);
        assert_eq!(ack.ranges, vec![AckRange { start: 6, end: 6 }]);
        assert_eq!(ack.buffer_blocks, 64);
        feed(&mut f, t(2), &Ud::abn(5).fin());
        feed(&mut f, t(2), &Ud::whole(7, b"late")); // after FIN at 5
        assert!(f.is_complete());
    }

    #[test]
    fn fin_completion_and_data_after_fin() {
        let mut f = flow(DeliveryOrder::Sequence);
        feed(&mut f, t(0), &Ud::whole(1, b"a"));
        // Mona/librtmfp close: empty ABN|FIN.
        let close = Ud {
            fin: true,
            ..Ud::abn(3)
        };
        feed(&mut f, t(0), &close);
        assert_eq!(f.final_sequence_number(), Some(3));
        assert!(!f.is_complete());
        assert_eq!(
            feed(&mut f, t(0), &Ud::whole(4, b"x")),
            RecvOutcome::Dropped {
                reason: FragmentDropReason::AfterFinal
            }
        );
        feed(&mut f, t(0), &Ud::whole(2, b"b"));
        assert!(!f.is_complete()); // unread messages
        assert_eq!(drain(&mut f), vec![b"a".to_vec(), b"b".to_vec()]);
        assert!(f.is_complete());
        // A second FIN elsewhere is ignored.
        feed(&mut f, t(0), &Ud::whole(3, b"").fin());
        assert_eq!(f.final_sequence_number(), Some(3));
    }

    #[test]
    fn fin_inside_a_message_drops_it() {
        let mut f = flow(DeliveryOrder::Sequence);
        feed(&mut f, t(0), &Ud::new(1, FragmentControl::Begin, b"a"));
        feed(
            &mut f,
            t(0),
            &Ud::new(2, FragmentControl::Middle, b"b").fin(),
        );
        assert_eq!(f.poll_message(), None);
        assert_eq!(f.buffered_bytes(), 0);
        assert!(f.is_complete());
    }

    #[test]
    fn fin_before_already_received_higher_data() {
        let mut f = flow(DeliveryOrder::Sequence);
        feed(&mut f, t(0), &Ud::whole(5, b"beyond"));
        feed(&mut f, t(0), &Ud::whole(2, b"b").fin());
        feed(&mut f, t(0), &Ud::whole(1, b"a"));
        assert_eq!(drain(&mut f), vec![b"a".to_vec(), b"b".to_vec()]);
        assert!(f.is_complete());
    }

    #[test]
    fn extreme_sequence_numbers() {
        let mut f = flow(DeliveryOrder::Sequence);
        assert_eq!(
            feed(&mut f, t(0), &Ud::whole(u64::MAX, b"x")),
            RecvOutcome::Dropped {
                reason: FragmentDropReason::InvalidSequence
            }
        );
        assert_eq!(
            feed(&mut f, t(0), &Ud::whole(1 << 40, b"x")),
            RecvOutcome::Dropped {
                reason: FragmentDropReason::OutOfWindow
            }
        );
        assert_eq!(
            feed(&mut f, t(0), &Ud::whole(SEQUENCE_WINDOW, b"x")),
            RecvOutcome::New
        );
        assert_eq!(
            feed(&mut f, t(0), &Ud::whole(1 + SEQUENCE_WINDOW, b"x")),
            RecvOutcome::Dropped {
                reason: FragmentDropReason::OutOfWindow
            }
        );
        // FSN as high as it goes: seq MAX-1 with offset 0 abandons everything below it.
        let top = Ud {
            fsn_offset: 0,
            ..Ud::whole(u64::MAX - 1, b"top")
        };
        assert_eq!(feed(&mut f, t(0), &top), RecvOutcome::New);
        assert_eq!(f.cumulative_ack(), u64::MAX - 1);
        assert_eq!(drain(&mut f), vec![b"x".to_vec(), b"top".to_vec()]);
        assert_eq!(f.buffered_bytes(), 0);
        assert_eq!(feed(&mut f, t(0), &top), RecvOutcome::Duplicate);
        assert_eq!(
            feed(&mut f, t(0), &Ud::whole(u64::MAX, b"x")),
            RecvOutcome::Dropped {
                reason: FragmentDropReason::InvalidSequence
            }
        );
        f.make_ack(FLOW, t(0), 4);
    }

    #[test]
    fn data_at_or_below_fsn_in_the_same_chunk() {
        // fsnOffset 0 claims the chunk's own sequence number is abandoned; the data is kept
        // if it completes a message.
        let mut f = flow(DeliveryOrder::Sequence);
        let ud = Ud {
            fsn_offset: 0,
            ..Ud::whole(3, b"c")
        };
        assert_eq!(feed(&mut f, t(0), &ud), RecvOutcome::New);
        assert_eq!(f.cumulative_ack(), 3);
        assert_eq!(drain(&mut f), vec![b"c".to_vec()]);
    }

    #[test]
    fn memory_stays_bounded_under_sparse_flood() {
        let mut f = RecvFlow::new(None, CAP, DeliveryOrder::Sequence);
        let max = CAP / 64 + 64;
        let mut dropped = 0;
        // Isolated sequence numbers within the window: empty and tiny fragments, and ABNs
        // (which store nothing but still create ranges).
        for i in 0..40_000u64 {
            let seq = 2 + 4 * (i % 16_000);
            let ud = Ud::new(
                seq,
                FragmentControl::Middle,
                if i % 2 == 0 { b"" } else { b"z" },
            );
            if matches!(f.on_data(t(0), &ud.as_ud()), RecvOutcome::Dropped { .. }) {
                dropped += 1;
            }
            let abn = Ud::abn(4 + 4 * (i % 16_000));
            f.on_data(t(0), &abn.as_ud());
            // Huge sequence numbers.
            f.on_data(t(0), &Ud::whole(1 << 50 | i, b"big").as_ud());
        }
        f.check_invariants();
        assert!(dropped > 0);
        assert!(f.held().frags.len() <= max);
        assert!(f.held().ranges.len() <= max);
        assert!(f.buffered_bytes() <= CAP);
        // The ack is bounded by the caller's range limit.
        assert_eq!(f.make_ack(FLOW, t(0), 100).ranges.len(), 100);
    }

    #[test]
    fn flood_of_empty_in_order_fragments_is_bounded() {
        let mut f = RecvFlow::new(None, 1024, DeliveryOrder::Sequence);
        let max = 1024 / 64 + 64;
        // One never-ending message of empty fragments, and many empty whole messages unread.
        let mut seq = 1;
        f.on_data(t(0), &Ud::new(seq, FragmentControl::Begin, b"").as_ud());
        for _ in 0..10_000 {
            seq += 1;
            f.on_data(t(0), &Ud::new(seq, FragmentControl::Middle, b"").as_ud());
        }
        assert!(f.held().frags.len() <= max);
        let mut g = RecvFlow::new(None, 1024, DeliveryOrder::Sequence);
        for s in 1..10_000 {
            g.on_data(t(0), &Ud::whole(s, b"").as_ud());
        }
        assert!(g.pending_messages() <= max);
        f.check_invariants();
        g.check_invariants();
    }

    #[test]
    fn ten_megabytes_with_reordering() {
        for order in [DeliveryOrder::Sequence, DeliveryOrder::Network] {
            let messages: Vec<Vec<u8>> = (0..160u32)
                .map(|i| (0..65_536u32).map(|j| (i ^ j) as u8).collect())
                .collect();
            let mut frags = fragment(&messages, 1100, 1);
            // Swap neighbours pairwise and delay every 50th fragment by 40 places.
            for i in (0..frags.len() - 1).step_by(2) {
                frags.swap(i, i + 1);
            }
            for i in (0..frags.len() - 41).step_by(50) {
                let f = frags.remove(i);
                frags.insert(i + 40, f);
            }
            let mut f = RecvFlow::new(None, 1 << 20, order);
            let mut got = Vec::new();
            for (i, ud) in frags.iter().enumerate() {
                assert_eq!(f.on_data(t(0), &ud.as_ud()), RecvOutcome::New);
                if i % 2 == 1 {
                    f.on_packet_end(t(0));
                }
                if f.ack_deadline().is_some() {
                    f.make_ack(FLOW, t(0), 64);
                }
                got.extend(std::iter::from_fn(|| f.poll_message()));
            }
            if order == DeliveryOrder::Network {
                got.sort();
                let mut want = messages.clone();
                want.sort();
                assert_eq!(got, want);
            } else {
                assert_eq!(got, messages);
            }
            assert_eq!(f.buffered_bytes(), 0);
            f.check_invariants();
        }
    }

    /// A tiny deterministic generator for channel simulation.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self, n: u64) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (self.0 >> 33) % n.max(1)
        }
    }

    /// Sends `chunks` through a channel that reorders, duplicates and drops (every dropped
    /// chunk is retransmitted later); returns the delivered messages. The sender's FSN follows
    /// the acks it gets back.
    fn run_channel(f: &mut RecvFlow, mut queue: Vec<Ud>, seed: u64) -> Vec<Vec<u8>> {
        let mut rng = Lcg(seed);
        let mut acked_cum = 0u64;
        let mut out = Vec::new();
        let mut now = 0u64;
        let mut steps = 0;
        while !queue.is_empty() {
            steps += 1;
            assert!(steps < 1_000_000, "channel does not converge");
            // Pick a chunk near the front (bounded reordering keeps the window honoured).
            let idx = rng.next(queue.len().min(12) as u64) as usize;
            let mut ud = queue.remove(idx);
            ud.fsn_offset = ud.seq - acked_cum.min(ud.seq);
            match rng.next(8) {
                0 | 1 => queue.push(ud), // lost: retransmitted later
                2 => {
                    f.on_data(t(now), &ud.as_ud());
                    queue.push(ud); // duplicated
                }
                _ => {
                    f.on_data(t(now), &ud.as_ud());
                }
            }
            f.check_invariants();
            if rng.next(2) == 0 {
                f.on_packet_end(t(now));
            }
            now += 1;
            if f.ack_deadline().is_some_and(|d| d <= t(now)) || rng.next(5) == 0 {
                acked_cum = f.make_ack(FLOW, t(now), 8).cumulative_ack;
            }
            if rng.next(3) == 0 {
                out.extend(std::iter::from_fn(|| f.poll_message()));
            }
        }
        out.extend(std::iter::from_fn(|| f.poll_message()));
        out
    }

    fn messages_strategy() -> impl Strategy<Value = Vec<Vec<u8>>> {
        proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..300), 1..25)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn lossy_reordering_channel_delivers_exact_messages_in_order(
            messages in messages_strategy(),
            size in 8usize..120,
            seed: u64,
        ) {
            let mut chunks = fragment(&messages, size, 1);
            if let Some(last) = chunks.last_mut() {
                last.fin = true;
            }
            let mut f = RecvFlow::new(None, 1 << 20, DeliveryOrder::Sequence);
            let got = run_channel(&mut f, chunks, seed);
            prop_assert_eq!(got, messages);
            prop_assert!(f.is_complete());
            prop_assert_eq!(f.buffered_bytes(), 0);
        }

        #[test]
        fn lossy_reordering_channel_network_order_delivers_each_message_once(
            messages in messages_strategy(),
            size in 8usize..120,
            seed: u64,
        ) {
            let mut chunks = fragment(&messages, size, 1);
            if let Some(last) = chunks.last_mut() {
                last.fin = true;
            }
            let mut f = RecvFlow::new(None, 1 << 20, DeliveryOrder::Network);
            let mut got = run_channel(&mut f, chunks, seed);
            let mut want = messages.clone();
            got.sort();
            want.sort();
            prop_assert_eq!(got, want);
            prop_assert!(f.is_complete());
        }

        #[test]
        fn abandoned_messages_are_skipped(
            messages in messages_strategy(),
            abandon in proptest::collection::vec(any::<(bool, u8)>(), 25),
            size in 1usize..80,
            seed: u64,
            network: bool,
        ) {
            // Each abandoned message has at least one fragment turned into an empty ABN chunk.
            let mut chunks = Vec::new();
            let mut want = Vec::new();
            let mut seq = 1;
            for (i, m) in messages.iter().enumerate() {
                let mut frags = fragment(std::slice::from_ref(m), size, seq);
                seq += frags.len() as u64;
                let (abandoned, pick) = abandon[i];
                if abandoned {
                    let n = frags.len();
                    let victim = pick as usize % n;
                    for (j, fr) in frags.iter_mut().enumerate() {
                        if j == victim || (pick as usize + j) % 3 == 1 {
                            *fr = Ud::abn(fr.seq);
                        }
                    }
                } else {
                    want.push(m.clone());
                }
                chunks.extend(frags);
            }
            let order = if network { DeliveryOrder::Network } else { DeliveryOrder::Sequence };
            let mut f = RecvFlow::new(None, 1 << 20, order);
            let mut got = run_channel(&mut f, chunks, seed);
            if network {
                got.sort();
                want.sort();
            }
            prop_assert_eq!(got, want);
            prop_assert_eq!(f.buffered_bytes(), 0);
        }

        #[test]
        fn fsn_abandonment_in_order(
            messages in messages_strategy(),
            skip in proptest::collection::vec(any::<(bool, u8)>(), 25),
            size in 1usize..80,
            network: bool,
        ) {
            // The sender stops sending some messages part-way and moves FSN past them.
            let order = if network { DeliveryOrder::Network } else { DeliveryOrder::Sequence };
            let mut f = RecvFlow::new(None, 1 << 20, order);
            let mut want = Vec::new();
            let mut got = Vec::new();
            let mut seq = 1;
            for (i, m) in messages.iter().enumerate() {
                let frags = fragment(std::slice::from_ref(m), size, seq);
                seq += frags.len() as u64;
                let (abandoned, cut) = skip[i];
                let sent = if abandoned { cut as usize % frags.len() } else { frags.len() };
                if !abandoned {
                    want.push(m.clone());
                }
                for mut fr in frags.into_iter().take(sent) {
                    fr.fsn_offset = 1; // everything before was acked or abandoned
                    f.on_data(t(0), &fr.as_ud());
                    f.check_invariants();
                }
                got.extend(std::iter::from_fn(|| f.poll_message()));
            }
            // A final empty ABN|FIN with FSN = everything before it.
            f.on_data(t(0), &Ud { fin: true, fsn_offset: 1, ..Ud::abn(seq) }.as_ud());
            got.extend(std::iter::from_fn(|| f.poll_message()));
            prop_assert_eq!(got, want);
            prop_assert!(f.is_complete());
            prop_assert_eq!(f.buffered_bytes(), 0);
        }

        #[test]
        fn arbitrary_inputs_never_panic_and_stay_bounded(
            ops in proptest::collection::vec(
                (0u8..12, prop_oneof![0u64..300, any::<u64>()], any::<u64>(), 0u8..4,
                 any::<(bool, bool)>(), 0usize..200),
                0..400),
            cap in 0usize..5000,
            network: bool,
        ) {
            let order = if network { DeliveryOrder::Network } else { DeliveryOrder::Sequence };
            let mut f = RecvFlow::new(None, cap, order);
            let data = [0xabu8; 200];
            let mut now = 0;
            for (op, seq, off, fra, (abn, fin), len) in ops {
                now += 1;
                match op {
                    0..=7 => {
                        let fragment = match fra {
                            0 => FragmentControl::Whole,
                            1 => FragmentControl::Begin,
                            2 => FragmentControl::Middle,
                            _ => FragmentControl::End,
                        };
                        let ud = UserData {
                            flow_id: 1,
                            sequence_number: seq,
                            fsn_offset: off.checked_rem(seq.wrapping_add(1)).unwrap_or(off),
                            fragment,
                            abandon: abn,
                            final_: fin,
                            options: None,
                            data: &data[..len],
                        };
                        f.on_data(t(now), &ud);
                    }
                    8 => f.on_packet_end(t(now)),
                    9 => {
                        let ack = f.make_ack(FLOW, t(now), len);
                        prop_assert!(ack.ranges.len() <= len);
                        let mut c = ack.cumulative_ack;
                        for r in &ack.ranges {
                            prop_assert!(r.start >= c.saturating_add(2) && r.end >= r.start);
                            c = r.end;
                        }
                    }
                    10 => {
                        let _ = f.poll_message();
                    }
                    _ => {
                        if len == 0 {
                            f.reject(seq);
                        } else {
                            f.on_buffer_probe(t(now));
                        }
                    }
                }
                f.check_invariants();
                let _ = f.is_complete();
                let _ = f.window_blocks();
            }
        }
    }
}
