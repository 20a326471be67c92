//! What a group handler touches outside its group: the node's bounded event queue
//! ([`Events`]), the context of one call ([`Io`]) and a joined group's slot ([`GroupSlot`]).

use std::num::NonZeroU32;

use rand_chacha::ChaCha8Rng;
use rtmfp::{Instant, SessionId};
use rtmfp_flash::FlashNode;

use crate::id::PeerId;
use crate::node::events::GroupEvent;
use crate::peer_table::SharedPeerId;
use rtmfp_collections::SortedMap;

/// A joined group's index in [`GroupNode`]'s slot table. The per-flow maps (an entry for each
/// group flow of every neighbour) store it instead of the 32-byte [`GroupHandle`]; a slot is
/// freed, and every map entry naming it removed, when the group is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GroupSlot(NonZeroU32);

impl GroupSlot {
    /// The slot of index `i` (stored plus one, so that `Option<GroupSlot>` is 4 bytes; a node
    /// joins a handful of groups, and 2^32 joins without leaving cannot happen).
    pub(crate) fn from_index(i: usize) -> Self {
        GroupSlot(
            u32::try_from(i + 1)
                .ok()
                .and_then(NonZeroU32::new)
                .unwrap_or(NonZeroU32::MAX),
        )
    }

    /// Its index in the slot table.
    pub(crate) fn index(self) -> usize {
        (self.0.get() - 1) as usize
    }
}

/// The bounded event queue shared by the node's groups.
#[derive(Debug)]
pub(crate) struct Events {
    pub queue: std::collections::VecDeque<GroupEvent>,
    pub max: usize,
    pub dropped: u64,
}

impl Events {
    pub fn push(&mut self, e: GroupEvent) {
        if self.queue.len() >= self.max {
            self.dropped += 1;
            tracing::warn!("group event queue full: event dropped");
        } else {
            self.queue.push_back(e);
        }
    }
}

/// What a group handler may touch outside its group.
pub(crate) struct Io<'a> {
    pub flash: &'a mut FlashNode,
    pub rng: &'a mut ChaCha8Rng,
    pub events: &'a mut Events,
    /// Open peer-to-peer sessions and their far peers.
    pub sessions: &'a SortedMap<SessionId, SharedPeerId>,
    pub connecting: &'a mut SortedMap<PeerId, SessionId>,
    /// Our `GR\x1C` flows, by the slot of the group they belong to.
    pub out_ctrl: &'a mut SortedMap<(SessionId, u64), GroupSlot>,
    /// Our `GR\x11` flows: the fragments' return flows name them.
    pub out_media: &'a mut SortedMap<(SessionId, u64), GroupSlot>,
    /// The slot of the group being handled (the value its flows are recorded under).
    pub slot: GroupSlot,
    pub to_close: &'a mut Vec<SessionId>,
    pub now: Instant,
}
