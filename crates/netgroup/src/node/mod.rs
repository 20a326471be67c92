//! [`GroupNode`]: the sans-IO NetGroup engine (netgroup digest §3–§8, §11). One
//! [`FlashNode`] (endpoint + NetConnection to a rendezvous server) and the groups it joined.
//!
//! - [`membership`]: neighbours, `GR\x1C` handshake, reports, best list, ask-close;
//! - `heard`: the heard list, compact records on the ring;
//! - [`posting`]: message IDs, flooding with dedupe, the posting-password proof;
//! - [`routing`]: `sendToNearest`, `sendToNeighbor`, receive modes, greedy next hop;
//! - [`replication`]: object replication (have/want sets, requests, fetch scheduling);
//! - [`multicast`]: multicast streams (publish / play, fragments, maps, push / pull);
//! - [`events`], [`config`]: what the node reports and how it is tuned.
//!
//! Our own messages (posting, routing and replication frames on the `GR\x60` extension flow,
//! the posting proof) are documented in `docs/wire-netgroup.md`.

pub mod config;
pub mod events;
mod heard;
pub mod lan;
pub mod membership;
pub mod multicast;
mod password;
pub mod posting;
pub mod replication;
pub mod routing;

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::SocketAddr;
use std::num::{NonZeroU32, NonZeroU64};
use std::sync::Arc;

use bytes::Bytes;
use rand_chacha::rand_core::SeedableRng;
use rand_chacha::ChaCha8Rng;
use rtmfp::{Event, Instant, Priority, SansIo, SessionId, SortedMap, Transmit};
use rtmfp_flash::netconnection::NetConnectionEvent;
use rtmfp_flash::{codes, FlashNode, GcMessage, NodeEvent};

pub use config::GroupConfig;
pub use events::{
    GroupError, GroupEvent, GroupHandle, MembershipCounters, NetGroupInfo, SendResult, SendToNotify,
};
pub use lan::{LanAnnouncement, LanCounters, LanDecodeError};
pub use membership::EXTENSION_FLOW_KIND;
pub use multicast::{
    MediaMessage, MulticastCounters, MulticastParams, NetStreamMulticastInfo, StreamInfo, StreamKey,
};
pub use posting::{Posting, PostingAuth, PostingConfig, PostingCounters};
pub use replication::{RangeSet, ReplicationCounters, ReplicationStrategy, MAX_OBJECT_INDEX};
pub use routing::{NeighborTarget, ReceiveMode, RoutingCounters};

use crate::groupspec::GroupSpecifier;
use crate::id::{GroupAddress, PeerId};
use crate::peer_table::SharedPeerId;
use crate::wire::{FlowSignature, GroupConnect};
use lan::LanAnnouncer;
use membership::{Events, Group, Io};

/// Most LAN announcements waiting for the driver; more are dropped and counted.
const MAX_LAN_QUEUE: usize = 64;

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
enum InKind {
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
struct InFlow {
    group: Option<GroupSlot>,
    kind: InKind,
}

impl InFlow {
    fn new(kind: InKind, group: Option<GroupSlot>) -> Self {
        InFlow { group, kind }
    }
}

/// A joined group's index in [`GroupNode`]'s slot table. The per-flow maps (an entry for each
/// group flow of every neighbour) store it instead of the 32-byte [`GroupHandle`]; a slot is
/// freed, and every map entry naming it removed, when the group is left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GroupSlot(NonZeroU32);

impl GroupSlot {
    /// The slot of index `i` (stored plus one, so that `Option<GroupSlot>` is 4 bytes; a node
    /// joins a handful of groups, and 2^32 joins without leaving cannot happen).
    fn from_index(i: usize) -> Self {
        GroupSlot(
            u32::try_from(i + 1)
                .ok()
                .and_then(NonZeroU32::new)
                .unwrap_or(NonZeroU32::MAX),
        )
    }

    /// Its index in the slot table.
    fn index(self) -> usize {
        (self.0.get() - 1) as usize
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

    /// Our group address (digest §3.2).
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
    /// Errors: [`GroupError::NetConnection`].
    pub fn connect(
        &mut self,
        now: Instant,
        url: &str,
        addrs: &[SocketAddr],
    ) -> Result<(), GroupError> {
        self.now = now;
        self.flash.connect(now, url, addrs)?;
        self.nc_started = true;
        Ok(())
    }

    /// Group `g`, mutably: forgets the cached deadline of the groups. Every change to a
    /// group goes through here or [`Self::with_group`].
    fn group_mut(&mut self, g: &GroupHandle) -> Option<&mut Group> {
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

    /// Flash `new NetGroup(nc, groupspec)`: joins the group `spec` names (digest §5). With a
    /// NetConnection up, the join (`GC 01`) goes out at once; while it connects, when it
    /// succeeds; without any NetConnection the group is active at once and only bootstrap
    /// peers / [`Self::add_neighbor`] find members. `NetGroup.Connect.Success` (or
    /// `.Rejected` for a `peerToPeerDisabled` spec, `.Failed` if the NetConnection fails)
    /// follows as an event.
    ///
    /// Errors: [`GroupError::AlreadyJoined`].
    pub fn join(&mut self, now: Instant, spec: &GroupSpecifier) -> Result<GroupHandle, GroupError> {
        self.now = now;
        let handle = GroupHandle(spec.group_id());
        if self.groups.contains_key(&handle) {
            return Err(GroupError::AlreadyJoined);
        }
        if spec.peer_to_peer_disabled() {
            self.events.push(GroupEvent::ConnectRejected {
                group: handle,
                reason: "peerToPeerDisabled: this engine is peer to peer".into(),
            });
            return Ok(handle);
        }
        let slot = self.take_slot(handle);
        let group = Group::new(
            handle,
            slot,
            spec.clone(),
            self.config.clone(),
            self.own,
            now,
        );
        self.groups.insert(handle, Box::new(group));
        self.groups_deadline.set(None);
        if self.flash.net_connection().is_connected() || !self.nc_started {
            self.activate(handle);
        }
        self.flush();
        Ok(handle)
    }

    /// Sends the join if a NetConnection is up, emits Connect.Success, contacts bootstrap
    /// peers.
    fn activate(&mut self, g: GroupHandle) {
        let now = self.now;
        let nc_up = self.flash.net_connection().is_connected();
        let gc_flow = if nc_up {
            let nc = self.flash.net_connection();
            let (s, assoc) = (nc.session(), nc.server_flow());
            s.and_then(|s| {
                let ep = self.flash.endpoint_mut();
                let f = ep
                    .open_flow(
                        now,
                        s,
                        &FlowSignature::GroupConnection.to_metadata(),
                        assoc,
                        Priority::default(),
                    )
                    .ok()?;
                let join = GcMessage::Join {
                    group_id: g.0,
                    legacy: false,
                }
                .encode();
                ep.write(now, s, f, Bytes::from(join), None).ok()?;
                Some(f)
            })
        } else {
            None
        };
        self.with_group(&g, |group, io| {
            group.joined = true;
            group.gc_flow = gc_flow;
            io.events.push(GroupEvent::ConnectSuccess { group: g });
            for p in group.spec.bootstrap_peers() {
                group.add_member_hint(io.now, p, &[]);
                group.connect_to(io, p);
            }
        });
        let announcer = self
            .groups
            .get(&g)
            .and_then(|group| LanAnnouncer::for_spec(&group.spec, now));
        if let Some(a) = announcer {
            self.lan.insert(g, a);
            self.announce_due(now);
        }
    }

    /// Queues the LAN announcements that are due (digest §10, `lan` module).
    fn announce_due(&mut self, now: Instant) {
        let period = self.config.lan_announce_interval;
        for a in self.lan.values_mut() {
            let Some(out) = a.due(now, period, self.own) else {
                continue;
            };
            for (dst, bytes) in out {
                if self.lan_out.len() >= MAX_LAN_QUEUE {
                    self.lan_counters.queue_full += 1;
                    continue;
                }
                self.lan_counters.announcements_sent += 1;
                self.lan_out.push_back(Transmit {
                    dst,
                    payload: Bytes::from(bytes),
                });
            }
        }
    }

    /// The IP multicast group addresses (with ports) on which this node's LAN groups announce
    /// and listen (digest §10): the driver joins these and feeds what it receives on them to
    /// [`Self::handle_lan_datagram`]. Sorted, without duplicates; empty when no joined group
    /// enables `ipMulticastMemberUpdatesEnabled` with an `addIPMulticastAddress`.
    pub fn lan_multicast_addresses(&self) -> Vec<SocketAddr> {
        let mut v: Vec<SocketAddr> = self
            .lan
            .values()
            .flat_map(|a| a.targets.iter().copied())
            .collect();
        v.sort();
        v.dedup();
        v
    }

    /// A datagram received from `from` on one of the [`Self::lan_multicast_addresses`]
    /// sockets: a LAN announcement of a member (docs/wire-netgroup.md). The member is
    /// recorded with address `from` (where its announcement came from, its RTMFP socket) and,
    /// while the group has fewer neighbours than it aims for, connected at once. Anything
    /// else is counted in [`Self::lan_counters`] and dropped.
    pub fn handle_lan_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        self.now = self.now.max(now);
        let a = match LanAnnouncement::decode(datagram) {
            Ok(a) => a,
            Err(e) => {
                self.lan_counters.malformed += 1;
                tracing::trace!(%from, error = %e, "LAN datagram dropped");
                return;
            }
        };
        if a.peer_id == self.own {
            self.lan_counters.own_heard += 1;
            return;
        }
        let groups: Vec<GroupHandle> = self
            .lan
            .iter()
            .filter(|(_, l)| a.is_for(&l.group_txt))
            .map(|(g, _)| *g)
            .collect();
        if groups.is_empty() {
            self.lan_counters.unknown_group += 1;
            return;
        }
        self.lan_counters.announcements_accepted += 1;
        for g in groups {
            let connects = self.with_group(&g, |group, io| {
                group.add_member_hint(io.now, a.peer_id, &[from]);
                let wanted = crate::estimate::target_neighbor_count(group.estimated_member_count());
                let before = group.counters.connect_attempts;
                if group.neighbor_count() < wanted {
                    group.connect_to(io, a.peer_id);
                }
                group.counters.connect_attempts - before
            });
            self.lan_counters.connects += connects.unwrap_or(0);
        }
        self.flush();
    }

    /// LAN discovery counters.
    pub fn lan_counters(&self) -> LanCounters {
        self.lan_counters
    }

    /// Flash `NetGroup.close()`: leaves the group: the `GC` flow is closed (the server forgets
    /// the membership) and so are our group flows; sessions no other group uses are closed.
    ///
    /// Errors: [`GroupError::UnknownGroup`].
    pub fn leave(&mut self, now: Instant, g: GroupHandle) -> Result<(), GroupError> {
        self.now = now;
        let gc = self
            .with_group(&g, |group, io| {
                group.leave(io);
                group.gc_flow
            })
            .ok_or(GroupError::UnknownGroup)?;
        if let (Some(f), Some(s)) = (gc, self.flash.net_connection().session()) {
            let _ = self.flash.endpoint_mut().close_flow(now, s, f);
        }
        if let Some(group) = self.groups.remove(&g) {
            let slot = group.slot;
            self.in_flows.retain(|_, f| f.group != Some(slot));
            let in_flows = &self.in_flows;
            self.media_returns.retain(|k, _| in_flows.contains_key(k));
            self.out_ctrl.retain(|_, s| *s != slot);
            self.out_media.retain(|_, s| *s != slot);
            if let Some(entry) = self.slots.get_mut(slot.index()) {
                *entry = None;
            }
        }
        self.groups_deadline.set(None);
        self.lan.remove(&g);
        self.flush();
        Ok(())
    }

    /// Flash `addNeighbor(peerID)`: connects to `peer` now (at `addrs` and/or through the
    /// server). The topology may drop it later.
    ///
    /// Errors: [`GroupError::UnknownGroup`].
    pub fn add_neighbor(
        &mut self,
        now: Instant,
        g: GroupHandle,
        peer: PeerId,
        addrs: &[SocketAddr],
    ) -> Result<(), GroupError> {
        self.now = now;
        self.with_group(&g, |group, io| {
            group.add_member_hint(io.now, peer, addrs);
            group.connect_to(io, peer);
        })
        .ok_or(GroupError::UnknownGroup)?;
        self.flush();
        Ok(())
    }

    /// Flash `addMemberHint(peerID)`: records a member; connected only if the best list wants
    /// it. Errors: [`GroupError::UnknownGroup`].
    pub fn add_member_hint(
        &mut self,
        now: Instant,
        g: GroupHandle,
        peer: PeerId,
        addrs: &[SocketAddr],
    ) -> Result<(), GroupError> {
        self.now = now;
        self.with_group(&g, |group, io| group.add_member_hint(io.now, peer, addrs))
            .ok_or(GroupError::UnknownGroup)
    }

    /// Flash `post(message)` (digest §7): floods `message` to the group; returns its message
    /// ID (SHA-256 of the bytes). The node itself gets no Posting.Notify.
    ///
    /// Errors: [`GroupError::UnknownGroup`], [`GroupError::PostingDisabled`],
    /// [`GroupError::NotAuthorized`] (posting password without a valid authorization),
    /// [`GroupError::TooLarge`], [`GroupError::Duplicate`] (identical message seen recently).
    pub fn post(
        &mut self,
        now: Instant,
        g: GroupHandle,
        message: &[u8],
    ) -> Result<[u8; 32], GroupError> {
        self.now = now;
        let limit = self.config.max_post_bytes;
        let r = self
            .with_group(&g, |group, io| {
                if !group.spec.posting_enabled() {
                    return Err(GroupError::PostingDisabled);
                }
                group.post(io, message).map_err(|e| match e {
                    posting::PostError::NotAuthorized => GroupError::NotAuthorized,
                    posting::PostError::TooLarge => GroupError::TooLarge {
                        size: message.len(),
                        limit,
                    },
                    posting::PostError::Duplicate(id) => GroupError::Duplicate { message_id: id },
                })
            })
            .ok_or(GroupError::UnknownGroup)?;
        self.flush();
        r
    }

    fn routing_group(&self, g: &GroupHandle, size: usize) -> Result<(), GroupError> {
        let group = self.groups.get(g).ok_or(GroupError::UnknownGroup)?;
        if !group.spec.routing_enabled() {
            return Err(GroupError::RoutingDisabled);
        }
        if size > self.config.max_route_bytes {
            return Err(GroupError::TooLarge {
                size,
                limit: self.config.max_route_bytes,
            });
        }
        Ok(())
    }

    /// Flash `sendToNearest(message, groupAddress)` (digest §8): to the neighbour nearest to
    /// `address`, or locally ([`SendResult::Local`], a `SendTo.Notify` with `from_local`) when
    /// this node is the nearest and its receive mode accepts the address.
    ///
    /// Errors: [`GroupError::UnknownGroup`], [`GroupError::RoutingDisabled`],
    /// [`GroupError::TooLarge`].
    pub fn send_to_nearest(
        &mut self,
        now: Instant,
        g: GroupHandle,
        message: &[u8],
        address: GroupAddress,
    ) -> Result<SendResult, GroupError> {
        self.now = now;
        self.routing_group(&g, message.len())?;
        let origin = self.group_address();
        let msg = Bytes::copy_from_slice(message);
        let r = self
            .with_group(&g, |group, io| group.route(io, msg, address, origin, 0))
            .ok_or(GroupError::UnknownGroup)?;
        self.flush();
        Ok(r)
    }

    /// The key-routing helper: re-sends a received [`SendToNotify`] one hop closer to its
    /// destination, keeping its origin and hop count (Flash's application-driven recursion,
    /// digest §8). Returns [`SendResult::Local`] (and a `from_local` notify) when this node is
    /// the destination. A neighbour message (no destination) is `NoRoute`.
    ///
    /// Errors: as [`Self::send_to_nearest`].
    pub fn forward_to_nearest(
        &mut self,
        now: Instant,
        notify: &SendToNotify,
    ) -> Result<SendResult, GroupError> {
        self.now = now;
        let g = notify.group;
        self.routing_group(&g, notify.message.len())?;
        let Some(dest) = notify.destination else {
            return Ok(SendResult::NoRoute);
        };
        let (msg, origin, hops) = (notify.message.clone(), notify.from, notify.hops);
        let r = self
            .with_group(&g, |group, io| group.route(io, msg, dest, origin, hops))
            .ok_or(GroupError::UnknownGroup)?;
        self.flush();
        Ok(r)
    }

    /// Flash `sendToNeighbor(message, sendMode)` (digest §8): to the next neighbour up or
    /// down the ring, or to the neighbour at an address.
    ///
    /// Errors: as [`Self::send_to_nearest`].
    pub fn send_to_neighbor(
        &mut self,
        now: Instant,
        g: GroupHandle,
        message: &[u8],
        target: NeighborTarget,
    ) -> Result<SendResult, GroupError> {
        self.now = now;
        self.routing_group(&g, message.len())?;
        let r = self
            .with_group(&g, |group, io| {
                group.send_to_neighbors(io, message, Some(target))
            })
            .ok_or(GroupError::UnknownGroup)?;
        self.flush();
        Ok(r)
    }

    /// Flash `sendToAllNeighbors(message)` (digest §8): `Sent` if at least one neighbour.
    ///
    /// Errors: as [`Self::send_to_nearest`].
    pub fn send_to_all_neighbors(
        &mut self,
        now: Instant,
        g: GroupHandle,
        message: &[u8],
    ) -> Result<SendResult, GroupError> {
        self.now = now;
        self.routing_group(&g, message.len())?;
        let r = self
            .with_group(&g, |group, io| group.send_to_neighbors(io, message, None))
            .ok_or(GroupError::UnknownGroup)?;
        self.flush();
        Ok(r)
    }

    /// Flash `receiveMode` setter: announced to neighbours with group begin `0E` / `0F`.
    ///
    /// Errors: [`GroupError::UnknownGroup`].
    pub fn set_receive_mode(
        &mut self,
        now: Instant,
        g: GroupHandle,
        mode: ReceiveMode,
    ) -> Result<(), GroupError> {
        self.now = now;
        self.with_group(&g, |group, io| group.set_receive_mode(io, mode))
            .ok_or(GroupError::UnknownGroup)?;
        self.flush();
        Ok(())
    }

    // ----- object replication (digest §9) -----

    /// Runs a command on group `g`, then sends the replication and multicast frames it queued.
    fn group_op<R>(
        &mut self,
        now: Instant,
        g: GroupHandle,
        f: impl FnOnce(&mut Group, &mut Io<'_>) -> Result<R, GroupError>,
    ) -> Result<R, GroupError> {
        self.now = now;
        let r = self
            .with_group(&g, |group, io| {
                let r = f(group, io);
                group.flush_replication(io);
                group.flush_multicast(io);
                r
            })
            .ok_or(GroupError::UnknownGroup)?;
        self.flush();
        r
    }

    /// Flash `addHaveObjects(startIndex, endIndex)` (digest §9): advertises the inclusive
    /// range `start..=end` as held and served. Neighbours learn the new have set once per
    /// `GroupConfig::have_update_delay`, however many calls happen meanwhile.
    ///
    /// Errors: [`GroupError::UnknownGroup`], [`GroupError::ReplicationDisabled`],
    /// [`GroupError::InvalidRange`] (`start > end`, or `end >` [`MAX_OBJECT_INDEX`]).
    pub fn add_have_objects(
        &mut self,
        now: Instant,
        g: GroupHandle,
        start: u64,
        end: u64,
    ) -> Result<(), GroupError> {
        self.group_op(now, g, |group, io| {
            group.replication.update_have(io.now, start, end, true)
        })
    }

    /// Flash `removeHaveObjects(startIndex, endIndex)` (digest §9). Requests already
    /// announced with [`GroupEvent::ReplicationRequest`] stay pending.
    ///
    /// Errors: as [`Self::add_have_objects`].
    pub fn remove_have_objects(
        &mut self,
        now: Instant,
        g: GroupHandle,
        start: u64,
        end: u64,
    ) -> Result<(), GroupError> {
        self.group_op(now, g, |group, io| {
            group.replication.update_have(io.now, start, end, false)
        })
    }

    /// Flash `addWantObjects(startIndex, endIndex)` (digest §9): the engine fetches these
    /// indices from neighbours that hold them ([`GroupEvent::ReplicationFetchSendNotify`],
    /// then `...FetchResult` or `...FetchFailed`), in [`ReplicationStrategy`] order, at most
    /// `GroupConfig::max_fetches_in_flight` at a time.
    ///
    /// Errors: as [`Self::add_have_objects`].
    pub fn add_want_objects(
        &mut self,
        now: Instant,
        g: GroupHandle,
        start: u64,
        end: u64,
    ) -> Result<(), GroupError> {
        self.group_op(now, g, |group, io| {
            group
                .replication
                .update_want(io.now, start, end, true, io.events, io.rng)
        })
    }

    /// Flash `removeWantObjects(startIndex, endIndex)` (digest §9): also abandons fetches in
    /// flight for these indices (an object arriving later is dropped as unsolicited).
    ///
    /// Errors: as [`Self::add_have_objects`].
    pub fn remove_want_objects(
        &mut self,
        now: Instant,
        g: GroupHandle,
        start: u64,
        end: u64,
    ) -> Result<(), GroupError> {
        self.group_op(now, g, |group, io| {
            group
                .replication
                .update_want(io.now, start, end, false, io.events, io.rng)
        })
    }

    /// Flash `writeRequestedObject(requestID, object)` (digest §9): answers a
    /// [`GroupEvent::ReplicationRequest`] with the object's bytes (the application's
    /// serialization; 64 KB objects are the convention).
    ///
    /// Errors: [`GroupError::UnknownGroup`], [`GroupError::ReplicationDisabled`],
    /// [`GroupError::TooLarge`] (over `GroupConfig::max_object_bytes`; the request stays
    /// pending), [`GroupError::UnknownRequest`] (answered already, or the neighbour left).
    pub fn write_requested_object(
        &mut self,
        now: Instant,
        g: GroupHandle,
        request_id: u64,
        object: Bytes,
    ) -> Result<(), GroupError> {
        self.group_op(now, g, |group, _| {
            group.replication.write(request_id, object)
        })
    }

    /// Flash `denyRequestedObject(requestID)` (digest §9): the requester may ask again, and
    /// asks other holders first.
    ///
    /// Errors: [`GroupError::UnknownGroup`], [`GroupError::ReplicationDisabled`],
    /// [`GroupError::UnknownRequest`].
    pub fn deny_requested_object(
        &mut self,
        now: Instant,
        g: GroupHandle,
        request_id: u64,
    ) -> Result<(), GroupError> {
        self.group_op(now, g, |group, _| group.replication.deny(request_id))
    }

    /// Flash `replicationStrategy` setter (digest §9); the default is
    /// [`ReplicationStrategy::LowestFirst`]. Applies from the next request sent.
    ///
    /// Errors: [`GroupError::UnknownGroup`], [`GroupError::ReplicationDisabled`].
    pub fn set_replication_strategy(
        &mut self,
        g: GroupHandle,
        strategy: ReplicationStrategy,
    ) -> Result<(), GroupError> {
        self.group_mut(&g)
            .ok_or(GroupError::UnknownGroup)?
            .replication
            .set_strategy(strategy)
    }

    /// Flash `replicationStrategy`.
    pub fn replication_strategy(&self, g: GroupHandle) -> Option<ReplicationStrategy> {
        Some(self.groups.get(&g)?.replication.strategy())
    }

    /// The have set (inclusive ranges, ascending).
    pub fn have_objects(&self, g: GroupHandle) -> Option<RangeSet> {
        Some(self.groups.get(&g)?.replication.have().clone())
    }

    /// The want set (inclusive ranges, ascending): shrinks as results arrive.
    pub fn want_objects(&self, g: GroupHandle) -> Option<RangeSet> {
        Some(self.groups.get(&g)?.replication.want().clone())
    }

    /// Object replication counters.
    pub fn replication_counters(&self, g: GroupHandle) -> Option<ReplicationCounters> {
        Some(self.groups.get(&g)?.replication.counters)
    }

    /// Sends a raw frame on our extension flow to neighbour `peer`, bypassing every check:
    /// for tests, fuzzing and attack simulation (a misbehaving member). Returns whether the
    /// session layer took it.
    pub fn send_raw_extension(
        &mut self,
        now: Instant,
        g: GroupHandle,
        peer: PeerId,
        frame: Bytes,
    ) -> bool {
        self.now = now;
        let r = self
            .with_group(&g, |group, io| group.send_raw(io, &peer, &frame))
            .unwrap_or(false);
        self.flush();
        r
    }

    // ----- state (None for a group not joined) -----

    /// Flash `neighborCount`: neighbours that completed the handshake.
    pub fn neighbor_count(&self, g: GroupHandle) -> Option<usize> {
        Some(self.groups.get(&g)?.neighbor_count())
    }

    /// The neighbours: (group address, peer ID), in address order.
    pub fn neighbors(&self, g: GroupHandle) -> Option<Vec<(GroupAddress, PeerId)>> {
        let mut v = self.groups.get(&g)?.connected();
        v.sort();
        Some(v)
    }

    /// Flash `estimatedMemberCount` (digest §3.4), this node included.
    pub fn estimated_member_count(&self, g: GroupHandle) -> Option<f64> {
        Some(self.groups.get(&g)?.estimated_member_count())
    }

    /// Flash `localCoverageFrom` / `localCoverageTo` (digest §3.3 \[INFER\]).
    pub fn local_coverage(&self, g: GroupHandle) -> Option<(GroupAddress, GroupAddress)> {
        Some(self.groups.get(&g)?.coverage())
    }

    /// Flash `receiveMode`.
    pub fn receive_mode(&self, g: GroupHandle) -> Option<ReceiveMode> {
        Some(self.groups.get(&g)?.mode)
    }

    /// Flash `info`: cumulative bytes per category ([`NetGroupInfo::rates`] for bytes/s).
    pub fn info(&self, g: GroupHandle) -> Option<NetGroupInfo> {
        Some(self.groups.get(&g)?.info)
    }

    /// The last computed best list (digest §3.6).
    pub fn best_list(&self, g: GroupHandle) -> Option<BTreeSet<PeerId>> {
        Some(self.groups.get(&g)?.best().copied().collect())
    }

    /// Members in the heard list.
    pub fn heard_count(&self, g: GroupHandle) -> Option<usize> {
        Some(self.groups.get(&g)?.heard_count())
    }

    /// Membership drop counters.
    pub fn membership_counters(&self, g: GroupHandle) -> Option<MembershipCounters> {
        Some(self.groups.get(&g)?.counters)
    }

    /// Posting counters.
    pub fn posting_counters(&self, g: GroupHandle) -> Option<PostingCounters> {
        Some(*self.groups.get(&g)?.posting.counters())
    }

    /// Routing counters.
    pub fn routing_counters(&self, g: GroupHandle) -> Option<RoutingCounters> {
        Some(self.groups.get(&g)?.routing)
    }

    // ----- event plumbing -----

    /// Handles every pending Flash node event, then closes sessions no group uses any more.
    fn flush(&mut self) {
        while let Some(ev) = self.flash.poll_event() {
            self.on_node_event(ev);
        }
        let mut to_close = std::mem::take(&mut self.to_close);
        to_close.sort();
        to_close.dedup();
        for s in to_close {
            let used = self
                .groups
                .values()
                .any(|g| g.neighbors.values().any(|n| n.session == s));
            if !used && self.sessions.contains_key(&s) {
                self.flash.endpoint_mut().close(self.now, s);
            }
        }
    }

    fn on_node_event(&mut self, ev: NodeEvent) {
        match ev {
            NodeEvent::NetConnection(e) => {
                if let NetConnectionEvent::Status(s) = &e {
                    self.on_nc_status(&s.code);
                }
                self.events.push(GroupEvent::NetConnection(e));
            }
            NodeEvent::Session(e) => self.on_session_event(e),
        }
    }

    fn on_nc_status(&mut self, code: &str) {
        let pending: Vec<GroupHandle> = self
            .groups
            .iter()
            .filter(|(_, g)| !g.joined)
            .map(|(h, _)| *h)
            .collect();
        if code == codes::CONNECT_SUCCESS {
            for g in pending {
                self.activate(g);
            }
        } else {
            for g in pending {
                self.groups.remove(&g);
                self.groups_deadline.set(None);
                self.events.push(GroupEvent::ConnectFailed {
                    group: g,
                    reason: format!("NetConnection: {code}"),
                });
            }
        }
    }

    fn is_server_session(&self, s: SessionId) -> bool {
        self.flash.net_connection().session() == Some(s)
    }

    fn on_session_event(&mut self, e: Event) {
        match e {
            Event::SessionOpened {
                session,
                far_fingerprint,
                ..
            } => {
                let peer = PeerId(far_fingerprint);
                self.sessions
                    .insert(session, self.config.peer_ids.intern(&peer));
                self.connecting.retain(|_, s| *s != session);
                self.connecting.remove(&peer);
                for g in self.handles() {
                    self.with_group(&g, |group, io| group.on_session_opened(io, session, peer));
                }
            }
            Event::ConnectFailed { session, reason } => {
                let peer = self
                    .connecting
                    .iter()
                    .find(|(_, s)| **s == session)
                    .map(|(p, _)| *p);
                if let Some(p) = peer {
                    self.connecting.remove(&p);
                    if reason != rtmfp::ConnectError::Glare {
                        for g in self.handles() {
                            self.with_group(&g, |group, _| group.on_connect_failed(&p));
                        }
                    }
                }
            }
            Event::SessionClosed { session, .. } => {
                if self.sessions.remove(&session).is_some() {
                    self.in_flows.retain(|(s, _), _| *s != session);
                    self.media_returns.retain(|(s, _), _| *s != session);
                    self.out_ctrl.retain(|(s, _), _| *s != session);
                    self.out_media.retain(|(s, _), _| *s != session);
                    for g in self.handles() {
                        self.with_group(&g, |group, io| group.on_session_closed(io, session));
                    }
                } else {
                    self.events.push(GroupEvent::Session(Event::SessionClosed {
                        session,
                        reason: rtmfp::CloseReason::Local,
                    }));
                }
            }
            Event::FlowOpened {
                session,
                flow,
                ref metadata,
                return_association,
            } => match FlowSignature::parse(metadata) {
                Some(FlowSignature::GroupConnection) if self.is_server_session(session) => {
                    let group = self
                        .groups
                        .iter()
                        .find(|(_, g)| g.gc_flow.is_some() && g.gc_flow == return_association)
                        .map(|(_, g)| g.slot);
                    self.insert_in_flow(session, flow, InFlow::new(InKind::Gc, group), None);
                }
                Some(FlowSignature::GroupControl) if self.sessions.contains_key(&session) => {
                    self.insert_in_flow(session, flow, InFlow::new(InKind::Control, None), None);
                }
                Some(FlowSignature::OtherGroup(EXTENSION_FLOW_KIND))
                    if self.sessions.contains_key(&session) =>
                {
                    self.peer_flow(session, flow, InKind::Ext, return_association, false);
                }
                Some(FlowSignature::MediaControl) if self.sessions.contains_key(&session) => {
                    self.peer_flow(
                        session,
                        flow,
                        InKind::MediaControl,
                        return_association,
                        false,
                    );
                }
                Some(FlowSignature::MediaData) if self.sessions.contains_key(&session) => {
                    self.peer_flow(session, flow, InKind::MediaData, return_association, true);
                }
                Some(_) => {
                    self.counters.unhandled_flows += 1;
                    tracing::debug!(?metadata, "unhandled group flow");
                }
                None => self.events.push(GroupEvent::Session(e)),
            },
            Event::Message {
                session,
                flow,
                ref data,
            } => match self.in_flows.get(&(session, flow)).copied() {
                Some(f) => self.on_group_message(session, flow, f, data.clone()),
                None => self.events.push(GroupEvent::Session(e)),
            },
            Event::FlowEnded { session, flow } => match self.remove_in_flow(session, flow) {
                Some(InFlow {
                    kind: InKind::Control,
                    group: Some(slot),
                    ..
                }) => self.control_ended(session, slot),
                Some(_) => {}
                None => self.events.push(GroupEvent::Session(e)),
            },
            Event::FlowRejected { session, flow, .. } => {
                if let Some(slot) = self.out_ctrl.remove(&(session, flow)) {
                    self.control_ended(session, slot);
                } else {
                    self.events.push(GroupEvent::Session(e));
                }
            }
            Event::FlowFinished { .. } => {}
            other => self.events.push(GroupEvent::Session(other)),
        }
    }

    /// Records a peer's group flow; its group is the one owning the flow its return
    /// association names (our `GR\x1C` flow, or with `media` our `GR\x11` flow).
    fn peer_flow(
        &mut self,
        session: SessionId,
        flow: u64,
        kind: InKind,
        return_association: Option<u64>,
        media: bool,
    ) {
        let ours = if media {
            &self.out_media
        } else {
            &self.out_ctrl
        };
        let group = return_association
            .and_then(|ra| ours.get(&(session, ra)))
            .copied();
        let media_return = match kind {
            InKind::MediaData => return_association.and_then(NonZeroU64::new),
            _ => None,
        };
        self.insert_in_flow(session, flow, InFlow { group, kind }, media_return);
    }

    /// Records the far end's group flow `flow` on `session` (replacing any record of it), with
    /// the return association of a fragments flow.
    fn insert_in_flow(
        &mut self,
        session: SessionId,
        flow: u64,
        f: InFlow,
        media_return: Option<NonZeroU64>,
    ) {
        self.in_flows.insert((session, flow), f);
        match media_return {
            Some(ra) => {
                self.media_returns.insert((session, flow), ra);
            }
            None => {
                self.media_returns.remove(&(session, flow));
            }
        }
    }

    /// Forgets the far end's group flow `flow` on `session`; returns its record.
    fn remove_in_flow(&mut self, session: SessionId, flow: u64) -> Option<InFlow> {
        self.media_returns.remove(&(session, flow));
        self.in_flows.remove(&(session, flow))
    }

    /// A `GR\x1C` flow of the group in `slot` on `session` ended or was rejected: its group
    /// drops the far peer as a neighbour.
    fn control_ended(&mut self, session: SessionId, slot: GroupSlot) {
        if let (Some(g), Some(peer)) = (
            self.slot_handle(slot),
            self.sessions.get(&session).map(|p| **p),
        ) {
            self.with_group(&g, |group, io| group.on_control_ended(io, peer));
        }
    }

    /// The group in slot `slot`, if still joined.
    fn slot_handle(&self, slot: GroupSlot) -> Option<GroupHandle> {
        self.slots.get(slot.index()).copied().flatten()
    }

    /// A free slot for `handle` (the first free one, else a new one at the end).
    fn take_slot(&mut self, handle: GroupHandle) -> GroupSlot {
        let i = match self.slots.iter().position(Option::is_none) {
            Some(i) => i,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        self.slots[i] = Some(handle);
        GroupSlot::from_index(i)
    }

    fn on_group_message(&mut self, session: SessionId, flow: u64, f: InFlow, data: Bytes) {
        let group = f.group.and_then(|s| self.slot_handle(s));
        match f.kind {
            InKind::Gc => {
                let Some(g) = group else { return };
                match GcMessage::decode(&data) {
                    Ok(GcMessage::Introduction(id)) => {
                        let peer = PeerId(id);
                        self.with_group(&g, |group, io| group.on_introduction(io, peer));
                    }
                    _ => tracing::debug!("unexpected message on the GC flow"),
                }
            }
            InKind::Control => {
                let Some(peer) = self.sessions.get(&session).map(|p| **p) else {
                    return;
                };
                let g = match group {
                    Some(g) => g,
                    None => {
                        // The first message must be the handshake; it names the group.
                        let connect = match data.first() {
                            Some(&crate::wire::kind::CONNECT) => {
                                GroupConnect::decode_body(&data[1..]).ok()
                            }
                            _ => None,
                        };
                        let Some(c) = connect else {
                            self.counters.bad_first_message += 1;
                            tracing::debug!(?peer, "GR1C flow not opened by a handshake");
                            return;
                        };
                        let g = GroupHandle(c.group_id);
                        let Some(slot) = self.groups.get(&g).filter(|g| g.joined).map(|g| g.slot)
                        else {
                            self.counters.unknown_group += 1;
                            tracing::debug!(?peer, "handshake for a group we are not in");
                            let _ = self
                                .flash
                                .endpoint_mut()
                                .reject_flow(self.now, session, flow, 0);
                            return;
                        };
                        if let Some(f) = self.in_flows.get_mut(&(session, flow)) {
                            f.group = Some(slot);
                        }
                        g
                    }
                };
                self.with_group(&g, |group, io| {
                    group.on_control(io, session, flow, peer, &data)
                });
            }
            InKind::Ext => {
                let (Some(g), Some(peer)) = (group, self.sessions.get(&session).map(|p| **p))
                else {
                    return;
                };
                self.with_group(&g, |group, io| group.on_ext(io, peer, data));
            }
            InKind::MediaControl | InKind::MediaData => {
                let (Some(g), Some(peer)) = (group, self.sessions.get(&session).map(|p| **p))
                else {
                    self.counters.unhandled_flows += 1;
                    return;
                };
                let media_return = self.media_returns.get(&(session, flow)).map(|ra| ra.get());
                self.with_group(&g, |group, io| match f.kind {
                    InKind::MediaData => group.on_media_data(io, peer, media_return, data),
                    _ => group.on_media_control(io, peer, flow, &data),
                });
            }
        }
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
        rtmfp::pop_front_lean(&mut self.events.queue)
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
    /// entry stays within 24 bytes (it was 48 with a plain `Option<u64>` return association and
    /// a 4-byte slot index behind an `Option` tag, 32 with the return association inline).
    #[test]
    fn a_per_flow_entry_stays_small() {
        assert!(std::mem::size_of::<((SessionId, u64), InFlow)>() <= 24);
        assert_eq!(std::mem::size_of::<Option<GroupSlot>>(), 4);
        let s = GroupSlot::from_index(0);
        assert_eq!(s.index(), 0);
        assert_eq!(GroupSlot::from_index(41).index(), 41);
    }

    /// A member keeps a few dozen neighbours per group: a record stays within 80 bytes (112
    /// with `Option` flow IDs and time).
    #[test]
    fn a_neighbor_record_stays_small() {
        assert!(std::mem::size_of::<membership::Neighbor>() <= 80);
    }
}
