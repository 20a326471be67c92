//! [`GroupNode`]: the group engine of one endpoint, its state and its [`SansIo`] loop. Its
//! public calls are split by concern: [`membership`] (join, leave, neighbours, state),
//! [`posting`], [`routing`], [`replication`], [`multicast`] and [`lan`]; [`dispatch`] routes
//! the Flash node's events and the far peers' group flows.

mod dispatch;
mod lan;
mod membership;
mod multicast;
mod posting;
mod replication;
mod routing;
pub(super) mod view;

use std::cell::Cell;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::num::NonZeroU64;
use std::sync::Arc;

use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rtmfp::{Instant, SansIo, SessionId, Transmit};
use rtmfp_collections::SortedMap;
use rtmfp_flash::FlashNode;

use crate::node::config::GroupConfig;
use crate::node::events::{GroupEvent, GroupHandle};
use crate::node::lan::LanCounters;
use rtmfp_flash::netconnection::NetConnectionError;

use crate::id::{GroupAddress, PeerId};
use crate::node::group::Group;
use crate::node::io::{Events, GroupSlot, Io};
use crate::node::lan::LanAnnouncer;
use crate::peer_table::SharedPeerId;

/// Most LAN announcements waiting for the driver; more are dropped and counted.
pub(crate) const MAX_LAN_QUEUE: usize = 64;

/// Node-level drop counters (inputs that belong to no group).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeCounters {
    /// Handshakes naming a group we are not in (flow rejected).
    pub unknown_group: u64,
    /// First `GR\x1C` messages that were not a handshake, or did not decode.
    pub bad_first_message: u64,
    /// Group flows of a kind this engine does not handle (media...).
    pub unhandled_flows: u64,
    /// Events dropped because the queue was full.
    pub events_dropped: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InKind {
    Gc,
    Control,
    Ext,
    MediaControl,
    /// Fragments; the return association names our `GR\x11` flow (kept in
    /// [`GroupNode::media_returns`]).
    MediaData,
}

/// A far peer's group flow: 8 bytes, so that an entry of the per-flow map is 24. The return
/// association of a fragments flow sits in [`GroupNode::media_returns`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct InFlow {
    group: Option<GroupSlot>,
    kind: InKind,
}

impl InFlow {
    fn new(kind: InKind, group: Option<GroupSlot>) -> Self {
        InFlow { group, kind }
    }
}

/// The group engine of one endpoint (see the module docs). Implements [`SansIo`] with
/// [`GroupEvent`]s.
#[derive(Debug)]
pub struct GroupNode {
    flash: FlashNode,
    /// Shared with every joined group (one copy per node, not one per group).
    config: Arc<GroupConfig>,
    rng: ChaCha8Rng,
    own: PeerId,
    /// Joined groups, boxed (a `Group` is ≈ 2 KB and moves on insertion), in a sorted vector:
    /// a node joins one or a few, and a B-tree leaf would cost ≈ 450 bytes for one entry.
    groups: SortedMap<GroupHandle, Box<Group>>,
    /// Open peer-to-peer sessions (from `SessionOpened` to `SessionClosed`) and their far
    /// peers, looked up for every group message. Their far addresses are the endpoint's
    /// ([`rtmfp::Endpoint::session_far_addr`]). This and the next one are sorted vectors (about
    /// one entry per neighbour each; memory only).
    sessions: SortedMap<SessionId, SharedPeerId>,
    connecting: SortedMap<PeerId, SessionId>,
    /// The far end's group flows by (session, flow): a sorted vector, binary-searched for
    /// every message. About 60 entries of 24 bytes per member, which a hash table held in
    /// 128 slots (memory only).
    in_flows: SortedMap<(SessionId, u64), InFlow>,
    /// For the far end's fragments flows (`GR\x12`, a subset of `in_flows`' keys), our
    /// `GR\x11` flow their return association names (our flow IDs start at 1: a return
    /// association of 0 names none of them and is not kept). Apart from `in_flows` because
    /// only members that play a stream have any.
    media_returns: SortedMap<(SessionId, u64), NonZeroU64>,
    out_ctrl: SortedMap<(SessionId, u64), GroupSlot>,
    out_media: SortedMap<(SessionId, u64), GroupSlot>,
    /// The joined groups by [`GroupSlot`] (`None`: a free slot).
    slots: Vec<Option<GroupHandle>>,
    to_close: Vec<SessionId>,
    events: Events,
    counters: NodeCounters,
    nc_started: bool,
    now: Instant,
    /// LAN announcers of the groups with IP multicast member updates.
    lan: BTreeMap<GroupHandle, LanAnnouncer>,
    /// Announcements waiting to be sent (before any session datagram).
    lan_out: VecDeque<Transmit>,
    lan_counters: LanCounters,
    /// The earliest deadline of the joined groups once computed (`None`: not known), so that
    /// `poll_timeout` after an event that left the groups alone does not visit them. Cleared
    /// wherever a group is changed, added or removed ([`GroupNode::group_mut`]).
    groups_deadline: Cell<Option<Option<Instant>>>,
}

impl GroupNode {
    /// A group engine over `flash`, with `config` for every group and a seeded RNG for its
    /// random choices (best-list random pick, report target).
    pub fn new(flash: FlashNode, config: GroupConfig, seed: [u8; 32]) -> Self {
        let own = PeerId(flash.peer_id());
        GroupNode {
            flash,
            rng: ChaCha8Rng::from_seed(seed),
            own,
            groups: SortedMap::default(),
            sessions: SortedMap::default(),
            connecting: SortedMap::default(),
            in_flows: SortedMap::default(),
            media_returns: SortedMap::default(),
            out_ctrl: SortedMap::default(),
            out_media: SortedMap::default(),
            slots: Vec::new(),
            to_close: Vec::new(),
            events: Events {
                queue: VecDeque::new(),
                max: config.max_events.max(1),
                dropped: 0,
            },
            counters: NodeCounters::default(),
            nc_started: false,
            now: Instant::ZERO,
            lan: BTreeMap::new(),
            lan_out: VecDeque::new(),
            lan_counters: LanCounters::default(),
            groups_deadline: Cell::new(None),
            config: Arc::new(config),
        }
    }

    /// Our peer ID (Flash `nearID`).
    pub fn peer_id(&self) -> PeerId {
        self.own
    }

    /// Our group address (docs/protocol/netgroup.md, "Group address").
    pub fn group_address(&self) -> GroupAddress {
        self.own.group_address()
    }

    /// The underlying Flash node.
    pub fn flash(&self) -> &FlashNode {
        &self.flash
    }

    /// The underlying Flash node, mutably (NetStreams, calls). Do not touch group flows.
    pub fn flash_mut(&mut self) -> &mut FlashNode {
        &mut self.flash
    }

    /// Node-level counters.
    pub fn counters(&self) -> NodeCounters {
        NodeCounters {
            events_dropped: self.events.dropped,
            ..self.counters
        }
    }

    /// Connects the NetConnection to the rendezvous server `url` at `addrs`; groups joined
    /// before or after are announced once it is up.
    ///
    /// Errors: [`NetConnectionError`] (a bad URL, or a NetConnection already started).
    pub fn connect(
        &mut self,
        now: Instant,
        url: &str,
        addrs: &[SocketAddr],
    ) -> Result<(), NetConnectionError> {
        self.now = now;
        self.flash.connect(now, url, addrs)?;
        self.nc_started = true;
        Ok(())
    }

    /// Group `g`, mutably: forgets the cached deadline of the groups. Every change to a
    /// group goes through here or [`Self::with_group`].
    pub(super) fn group_entry_mut(&mut self, g: &GroupHandle) -> Option<&mut Group> {
        self.groups_deadline.set(None);
        self.groups.get_mut(g).map(|b| &mut **b)
    }

    fn with_group<R>(
        &mut self,
        g: &GroupHandle,
        f: impl FnOnce(&mut Group, &mut Io<'_>) -> R,
    ) -> Option<R> {
        self.groups_deadline.set(None);
        let GroupNode {
            flash,
            rng,
            groups,
            sessions,
            connecting,
            out_ctrl,
            out_media,
            to_close,
            events,
            now,
            ..
        } = self;
        let group = groups.get_mut(g)?;
        let mut io = Io {
            slot: group.slot,
            flash,
            rng,
            events,
            sessions,
            connecting,
            out_ctrl,
            out_media,
            to_close,
            now: *now,
        };
        Some(f(group, &mut io))
    }

    fn handles(&self) -> Vec<GroupHandle> {
        self.groups.keys().copied().collect()
    }

    /// The earliest deadline of the joined groups (cached until a group changes).
    fn groups_deadline(&self) -> Option<Instant> {
        if let Some(t) = self.groups_deadline.get() {
            return t;
        }
        let t = self
            .groups
            .values()
            .filter(|g| g.joined)
            .filter_map(|g| g.poll_timeout())
            .min();
        self.groups_deadline.set(Some(t));
        t
    }

    fn group_timeout(&self) -> Option<Instant> {
        let lan = self.lan.values().map(|a| a.next).min();
        match (self.groups_deadline(), lan) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

impl SansIo for GroupNode {
    type Event = GroupEvent;

    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        self.now = self.now.max(now);
        self.flash.handle_datagram(now, from, datagram);
        self.flush();
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.now = self.now.max(now);
        self.flash.handle_timeout(now);
        self.flush();
        // No group is due before the earliest deadline among them (most timer events are the
        // sessions').
        let any_due = self.groups_deadline().is_some_and(|t| t <= now);
        for g in if any_due { self.handles() } else { Vec::new() } {
            let due = self
                .groups
                .get(&g)
                .is_some_and(|x| x.joined && x.poll_timeout().is_some_and(|t| t <= now));
            if due {
                self.with_group(&g, |group, io| group.on_timeout(io));
            }
        }
        self.announce_due(now);
        self.flush();
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.lan_out
            .pop_front()
            .or_else(|| self.flash.poll_transmit())
    }

    fn poll_event(&mut self) -> Option<GroupEvent> {
        if self.events.queue.is_empty() {
            self.flush();
        }
        rtmfp_collections::pop_front_lean(&mut self.events.queue)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match (self.flash.poll_timeout(), self.group_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `in_flows` holds an entry per group flow of every neighbour (≈ 60 per member): an
    /// entry stays within 24 bytes.
    #[test]
    fn a_per_flow_entry_stays_small() {
        assert!(std::mem::size_of::<((SessionId, u64), InFlow)>() <= 24);
        assert_eq!(std::mem::size_of::<Option<GroupSlot>>(), 4);
        let s = GroupSlot::from_index(0);
        assert_eq!(s.index(), 0);
        assert_eq!(GroupSlot::from_index(41).index(), 41);
    }

    /// A member keeps a few dozen neighbours per group: a record stays within 80 bytes.
    #[test]
    fn a_neighbor_record_stays_small() {
        assert!(std::mem::size_of::<crate::node::neighbor::Neighbor>() <= 80);
    }
}
