//! One joined group ([`Group`]): its state and accessors. What it does is split by concern:
//! [`membership`] (connecting, neighbours up and down, the best list and its timers),
//! [`control`] (the `GR\x1C` messages: handshake, reports, ask-close), [`extension`] (the
//! `GR\x60` extension flow and its dispatch), [`posting`], [`routing`] and [`multicast`]
//! (the neighbours' media flows).

mod control;
mod extension;
mod membership;
mod multicast;
mod posting;
mod routing;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rtmfp::{AddressOrigin, Instant, PeerAddress};

use crate::estimate::estimated_member_count;
use crate::groupspec::GroupSpecifier;
use crate::id::{GroupAddress, PeerId};
use crate::node::config::GroupConfig;
use crate::node::events::{GroupHandle, MembershipCounters, NetGroupInfo};
use crate::node::heard::{HeardList, Touch};
use crate::node::io::GroupSlot;
use crate::node::multicast::Multicast;
use crate::node::neighbor::Neighbor;
use crate::node::posting::{Posting, PostingAuth, PostingConfig};
use crate::node::replication::Replication;
use crate::node::routing::{ReceiveMode, RoutingCounters};
use crate::peer_table::SharedPeerId;
use crate::wire::GroupFlowKind;
use rtmfp_collections::SortedMap;
/// Kind byte of our extension flow `GR\x60` (posting and routing frames; docs/wire-netgroup.md).
pub const EXTENSION_FLOW_KIND: u8 = 0x60;
/// Most reflexive addresses of our own we keep.
const MAX_PUBLIC_ADDRESSES: usize = 7;

/// One joined group.
#[derive(Debug)]
pub(crate) struct Group {
    pub handle: GroupHandle,
    /// Where [`crate::node::GroupNode`] files this group's flows (set when it joins).
    pub slot: GroupSlot,
    pub spec: GroupSpecifier,
    txt: String,
    /// The node's settings, shared with it.
    pub config: Arc<GroupConfig>,
    own: PeerId,
    own_addr: GroupAddress,
    /// The join went out (or the group is active without a server).
    pub joined: bool,
    /// Our `GC` flow on the server session.
    pub gc_flow: Option<u64>,
    heard: HeardList,
    /// Members that left, until `peer_timeout` after (sorted vectors here and below, not
    /// B-trees: a few dozen peer IDs each, kept by every member).
    died: SortedMap<PeerId, Instant>,
    /// Neighbours by peer ID, in peer ID order (a sorted vector: a few dozen entries). This
    /// map and the next two are keyed by the shared copy of the peer ID
    /// ([`GroupConfig::peer_ids`], 8 bytes instead of 32; looked up by `&PeerId`).
    pub neighbors: SortedMap<SharedPeerId, Neighbor>,
    /// Members being connected to because the best list names them.
    wanted: SortedMap<SharedPeerId, ()>,
    /// The last computed best list (docs/protocol/netgroup.md, "Best list").
    best: SortedMap<SharedPeerId, ()>,
    /// The random member of the current best list (kept while eligible).
    random_pick: Option<PeerId>,
    next_best: Option<Instant>,
    next_report: Instant,
    next_clean: Instant,
    public_addrs: Vec<PeerAddress>,
    pub posting: Posting,
    pub replication: Replication,
    pub multicast: Multicast,
    pub routing: RoutingCounters,
    pub info: NetGroupInfo,
    pub counters: MembershipCounters,
    pub mode: ReceiveMode,
    coverage: (GroupAddress, GroupAddress),
}

pub(crate) fn ext_metadata() -> Vec<u8> {
    GroupFlowKind::OtherGroup(EXTENSION_FLOW_KIND).to_metadata()
}

pub(crate) fn after(now: Instant, d: Duration) -> Instant {
    now + d
}

impl Group {
    pub fn new(
        handle: GroupHandle,
        slot: GroupSlot,
        spec: GroupSpecifier,
        config: Arc<GroupConfig>,
        own: PeerId,
        now: Instant,
    ) -> Self {
        let posting = Posting::with_peer_ids(
            PostingConfig::from(&*config),
            PostingAuth::from_groupspec(&spec),
            config.peer_ids.clone(),
        );
        let own_addr = own.group_address();
        let replication = Replication::new(handle, spec.object_replication_enabled(), &config);
        let multicast = Multicast::new(handle, &spec, &config);
        Group {
            handle,
            slot,
            txt: spec.group_txt(),
            spec,
            own,
            own_addr,
            joined: false,
            gc_flow: None,
            heard: HeardList::new(config.peer_ids.clone()),
            died: SortedMap::default(),
            neighbors: SortedMap::default(),
            wanted: SortedMap::default(),
            best: SortedMap::default(),
            random_pick: None,
            next_best: None,
            next_report: after(now, config.report_delay),
            next_clean: after(now, config.clean_delay),
            public_addrs: Vec::new(),
            posting,
            replication,
            multicast,
            routing: RoutingCounters::default(),
            info: NetGroupInfo::default(),
            counters: MembershipCounters::default(),
            mode: config.receive_mode,
            coverage: (own_addr, own_addr),
            config,
        }
    }

    // ----- state -----

    /// Neighbours that completed the handshake, as (address, peer).
    pub fn connected(&self) -> Vec<(GroupAddress, PeerId)> {
        self.neighbors
            .iter()
            .filter(|(_, n)| n.connected)
            .map(|(p, n)| (n.address, **p))
            .collect()
    }

    pub fn neighbor_count(&self) -> usize {
        self.neighbors.values().filter(|n| n.connected).count()
    }

    /// `estimatedMemberCount` (docs/protocol/netgroup.md, "Member count estimate"), ourselves
    /// included for tiny heard lists.
    pub fn estimated_member_count(&self) -> f64 {
        if self.heard.len() < 4 {
            return (self.heard.len() + 1) as f64;
        }
        estimated_member_count(&self.heard, &self.own_addr)
    }

    /// The last computed best list, in peer ID order.
    pub fn best(&self) -> impl Iterator<Item = &PeerId> {
        self.best.keys().map(|p| &**p)
    }

    /// The shared copy of `peer` ([`GroupConfig::peer_ids`]), for the maps keyed by peer.
    pub(super) fn share(&self, peer: &PeerId) -> SharedPeerId {
        self.config.peer_ids.intern(peer)
    }

    pub fn heard_count(&self) -> usize {
        self.heard.len()
    }

    pub fn coverage(&self) -> (GroupAddress, GroupAddress) {
        self.coverage
    }

    pub fn poll_timeout(&self) -> Option<Instant> {
        let t = self.next_report.min(self.next_clean);
        let t = self.replication.next_timeout().map_or(t, |r| r.min(t));
        let t = self.multicast.next_timeout().map_or(t, |m| m.min(t));
        Some(self.next_best.map_or(t, |b| b.min(t)))
    }

    // ----- heard list -----

    /// Records news of `peer` dated `at`; returns whether it is new.
    pub(super) fn heard_touch(&mut self, peer: PeerId, at: Instant, addrs: &[PeerAddress]) -> bool {
        if peer == self.own {
            return false;
        }
        let (max_addresses, max_heard) = (self.config.max_addresses, self.config.max_heard);
        match self.heard.touch(peer, at, addrs, max_addresses, max_heard) {
            Touch::New => true,
            Touch::Known => false,
            Touch::Full => {
                self.counters.heard_full += 1;
                tracing::debug!(?peer, "heard list full: member dropped");
                false
            }
        }
    }

    /// Adds a member hint (Flash `addMemberHint`): recorded, connected only if the best list
    /// wants it.
    pub fn add_member_hint(&mut self, now: Instant, peer: PeerId, addrs: &[SocketAddr]) {
        let list: Vec<PeerAddress> = addrs
            .iter()
            .map(|a| PeerAddress::new(*a, AddressOrigin::Reported))
            .collect();
        self.died.remove(&peer);
        if self.heard_touch(peer, now, &list) && self.next_best.is_none() {
            self.next_best = Some(after(now, self.config.best_list_delay));
        }
    }
}
