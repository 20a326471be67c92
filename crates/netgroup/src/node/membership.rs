//! Membership of one group (netgroup digest §3, §5): neighbours and their `GR\x1C` handshake,
//! group begin, reports and the heard list, the best list and its maintenance timers,
//! ask-close, and the extension flow that carries posting, routing and replication frames.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use rand_chacha::ChaCha8Rng;
use rand_core::RngCore;
use rtmfp::{AddressOrigin, Instant, PeerAddress, Priority, SessionId};
use rtmfp_flash::FlashNode;

use crate::best_list::{best_list, best_list_with_random, BestListRequest};
use crate::estimate::{estimated_member_count, target_neighbor_count};
use crate::groupspec::GroupSpecifier;
use crate::id::{GroupAddress, PeerId};
use crate::keys::{group_connect_key, keys_match};
use crate::node::config::GroupConfig;
use crate::node::events::{
    GroupEvent, GroupHandle, MembershipCounters, NetGroupInfo, SendResult, SendToNotify,
};
use crate::node::heard::{HeardList, Touch};
use crate::node::multicast::Multicast;
use crate::node::posting::{Posting, PostingAuth, PostingConfig, POST};
use crate::node::replication::{Frame as ReplicationFrame, Replication};
use crate::node::routing::{self, Hop, NeighborTarget, ReceiveMode, RoutingCounters, ROUTE};
use crate::node::GroupSlot;
use crate::peer_table::SharedPeerId;
use crate::wire::{FlowSignature, GroupConnect, GroupMessage, GroupReport, ReportMember};
use rtmfp::time::PackedInstant;
use rtmfp::SortedMap;

/// Kind byte of our extension flow `GR\x60` (posting and routing frames; docs/wire-netgroup.md).
pub const EXTENSION_FLOW_KIND: u8 = 0x60;
/// Most reflexive addresses of our own we keep.
const MAX_PUBLIC_ADDRESSES: usize = 7;

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

/// A neighbour, from the first handshake message either way until it leaves. 80 bytes: a
/// member keeps a few dozen per group.
#[derive(Debug, Clone)]
pub(crate) struct Neighbor {
    pub session: SessionId,
    pub address: GroupAddress,
    /// Our `GR\x1C` flow to it, its `GR\x1C` flow to us (its flow ID) and our extension flow
    /// to it, each valid if its bit ([`OUT_FLOW`], [`IN_FLOW`], [`EXT_OUT`]) is set in `flows`.
    out_flow: u64,
    in_flow: u64,
    ext_out: u64,
    flows: u8,
    /// Its handshake was valid.
    pub verified: bool,
    /// `NeighborConnect` was emitted.
    pub connected: bool,
    pub mode: ReceiveMode,
    /// We sent a report and wait for its answer.
    pub report_pending: bool,
    /// We sent at least one report.
    pub reported: bool,
    /// When we last asked it to disconnect (`0C`).
    pub last_ask_close: PackedInstant,
}

/// `Neighbor::flows` bit: `out_flow` is set.
const OUT_FLOW: u8 = 1;
/// `Neighbor::flows` bit: `in_flow` is set.
const IN_FLOW: u8 = 2;
/// `Neighbor::flows` bit: `ext_out` is set.
const EXT_OUT: u8 = 4;

impl Neighbor {
    /// A neighbour on `session` at `address`, no flow yet, nothing verified.
    fn new(session: SessionId, address: GroupAddress) -> Self {
        Neighbor {
            session,
            address,
            out_flow: 0,
            in_flow: 0,
            ext_out: 0,
            flows: 0,
            verified: false,
            connected: false,
            mode: ReceiveMode::Exact,
            report_pending: false,
            reported: false,
            last_ask_close: PackedInstant::NONE,
        }
    }

    fn flow(&self, bit: u8, id: u64) -> Option<u64> {
        (self.flows & bit != 0).then_some(id)
    }

    /// Our `GR\x1C` flow to it.
    pub fn out_flow(&self) -> Option<u64> {
        self.flow(OUT_FLOW, self.out_flow)
    }

    /// Its `GR\x1C` flow to us (its flow ID).
    pub fn in_flow(&self) -> Option<u64> {
        self.flow(IN_FLOW, self.in_flow)
    }

    /// Our extension flow to it.
    pub fn ext_out(&self) -> Option<u64> {
        self.flow(EXT_OUT, self.ext_out)
    }

    fn set_out_flow(&mut self, f: u64) {
        self.out_flow = f;
        self.flows |= OUT_FLOW;
    }

    fn set_in_flow(&mut self, f: u64) {
        self.in_flow = f;
        self.flows |= IN_FLOW;
    }

    fn set_ext_out(&mut self, f: u64) {
        self.ext_out = f;
        self.flows |= EXT_OUT;
    }
}

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
    /// The last computed best list (digest §3.6).
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

fn ext_metadata() -> Vec<u8> {
    FlowSignature::OtherGroup(EXTENSION_FLOW_KIND).to_metadata()
}

fn after(now: Instant, d: Duration) -> Instant {
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

    /// `estimatedMemberCount` (digest §3.4), ourselves included for tiny heard lists.
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
    fn share(&self, peer: &PeerId) -> SharedPeerId {
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
    fn heard_touch(&mut self, peer: PeerId, at: Instant, addrs: &[PeerAddress]) -> bool {
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

    // ----- connecting -----

    /// Opens (or reuses) a session to `peer` and handshakes once it is open.
    pub fn connect_to(&mut self, io: &mut Io<'_>, peer: PeerId) {
        if peer == self.own || self.neighbors.contains_key(&peer) {
            return;
        }
        let shared = self.share(&peer);
        self.wanted.insert(shared, ());
        if io.connecting.contains_key(&peer) {
            return;
        }
        if io.connecting.len() >= self.config.max_pending_connects {
            return;
        }
        let mut addrs: Vec<SocketAddr> = Vec::new();
        if let Some(h) = self.heard.get(&peer) {
            for a in &self.heard.addresses(h) {
                if !addrs.contains(&a.addr) && !a.addr.ip().is_unspecified() {
                    addrs.push(a.addr);
                }
            }
        }
        match io.flash.connect_peer(io.now, &peer.0, &addrs) {
            Ok(s) => {
                self.counters.connect_attempts += 1;
                if io.sessions.contains_key(&s) {
                    self.start_handshake(io, s, peer);
                } else {
                    io.connecting.insert(peer, s);
                }
            }
            Err(e) => {
                self.counters.connect_failures += 1;
                self.wanted.remove(&peer);
                tracing::debug!(?peer, error = %e, "cannot connect to member");
            }
        }
    }

    pub fn on_introduction(&mut self, io: &mut Io<'_>, peer: PeerId) {
        self.counters.introductions += 1;
        self.died.remove(&peer);
        self.heard_touch(peer, io.now, &[]);
        self.connect_to(io, peer);
    }

    pub fn on_session_opened(&mut self, io: &mut Io<'_>, session: SessionId, peer: PeerId) {
        if self.wanted.contains_key(&peer) {
            self.start_handshake(io, session, peer);
        }
    }

    pub fn on_connect_failed(&mut self, peer: &PeerId) {
        if self.wanted.remove(peer).is_some() {
            self.counters.connect_failures += 1;
        }
    }

    /// Sends our `01`, `02`, `0E`/`0F` to `peer` on a new `GR\x1C` flow (digest §5.4).
    fn start_handshake(&mut self, io: &mut Io<'_>, session: SessionId, peer: PeerId) -> bool {
        self.wanted.remove(&peer);
        if peer == self.own {
            return false;
        }
        if !self.neighbors.contains_key(&peer) && self.neighbors.len() >= self.config.max_neighbors
        {
            self.counters.neighbor_limit += 1;
            return false;
        }
        if !self.neighbors.contains_key(&peer) {
            let shared = self.share(&peer);
            self.neighbors
                .insert(shared, Neighbor::new(session, peer.group_address()));
        }
        let Some(n) = self.neighbors.get_mut(&peer) else {
            return false;
        };
        if n.out_flow().is_some() {
            return true;
        }
        let Some((_, far_nonce)) = io.flash.endpoint().session_nonces(session) else {
            return false;
        };
        let key = group_connect_key(&self.txt, far_nonce);
        let ep = io.flash.endpoint_mut();
        let flow = match ep.open_flow(
            io.now,
            session,
            &FlowSignature::GroupControl.to_metadata(),
            None,
            Priority::default(),
        ) {
            Ok(f) => f,
            Err(e) => {
                self.counters.write_failures += 1;
                tracing::debug!(error = %e, "cannot open GR1C flow");
                return false;
            }
        };
        let connect = GroupMessage::Connect(GroupConnect {
            group_id: self.handle.0,
            key,
            recipient: peer,
        });
        let begin = match self.mode {
            ReceiveMode::Exact => GroupMessage::Begin,
            ReceiveMode::Nearest => GroupMessage::BeginNearest,
        };
        for m in [connect, GroupMessage::Data(Vec::new()), begin] {
            if ep
                .write(io.now, session, flow, Bytes::from(m.to_bytes()), None)
                .is_err()
            {
                self.counters.write_failures += 1;
            }
        }
        n.session = session;
        n.set_out_flow(flow);
        io.out_ctrl.insert((session, flow), io.slot);
        self.maybe_connected(io, peer);
        true
    }

    fn maybe_connected(&mut self, io: &mut Io<'_>, peer: PeerId) {
        let Some(n) = self.neighbors.get_mut(&peer) else {
            return;
        };
        if n.connected || !n.verified || n.out_flow().is_none() {
            return;
        }
        n.connected = true;
        let address = n.address;
        let far = io.flash.endpoint().session_far_addr(n.session);
        let addrs: Vec<PeerAddress> = far
            .map(|a| PeerAddress::new(a, AddressOrigin::Observed))
            .into_iter()
            .collect();
        self.died.remove(&peer);
        self.heard_touch(peer, io.now, &addrs);
        io.events.push(GroupEvent::NeighborConnect {
            group: self.handle,
            peer_id: peer,
            neighbor: address,
        });
        self.replication.neighbor_up(peer);
        self.flush_replication(io);
        self.multicast.neighbor_up(peer);
        self.flush_multicast(io);
        if self.next_best.is_none() {
            self.next_best = Some(after(io.now, self.config.best_list_delay));
        }
        self.update_coverage(io);
    }

    fn update_coverage(&mut self, io: &mut Io<'_>) {
        let c = routing::coverage(&self.own_addr, self.connected());
        if c != self.coverage {
            self.coverage = c;
            io.events
                .push(GroupEvent::LocalCoverageNotify { group: self.handle });
        }
    }

    /// Removes a neighbour. `died`: it left the group (forget it for `peer_timeout`);
    /// `close`: close our flows and, if unused, the session.
    fn drop_neighbor(&mut self, io: &mut Io<'_>, peer: PeerId, died: bool, close: bool) {
        let Some(n) = self.neighbors.remove(&peer) else {
            return;
        };
        if let Some(f) = n.out_flow() {
            io.out_ctrl.remove(&(n.session, f));
        }
        self.close_media_flows(io, peer, n.session, close);
        if close {
            let ep = io.flash.endpoint_mut();
            for f in [n.out_flow(), n.ext_out()].into_iter().flatten() {
                let _ = ep.close_flow(io.now, n.session, f);
            }
            io.to_close.push(n.session);
        }
        self.posting.forget(&peer);
        if died {
            self.heard.remove(&peer);
            self.died.insert(peer, io.now);
            self.best.remove(&peer);
        }
        if n.connected {
            io.events.push(GroupEvent::NeighborDisconnect {
                group: self.handle,
                peer_id: peer,
                neighbor: n.address,
            });
            self.replication
                .neighbor_down(io.now, peer, io.events, io.rng);
            self.flush_replication(io);
            self.update_coverage(io);
        }
        // Fill the gap soon.
        let soon = after(io.now, self.config.best_list_delay / 4);
        self.next_best = Some(self.next_best.map_or(soon, |t| t.min(soon)));
    }

    fn asked_recently(&self, n: &Neighbor, now: Instant) -> bool {
        n.last_ask_close
            .get()
            .is_some_and(|t| now.saturating_duration_since(t) < self.config.disconnect_delay)
    }

    pub fn on_session_closed(&mut self, io: &mut Io<'_>, session: SessionId) {
        let gone: Vec<(PeerId, bool)> = self
            .neighbors
            .iter()
            .filter(|(_, n)| n.session == session)
            .map(|(p, n)| (**p, !self.asked_recently(n, io.now)))
            .collect();
        for (p, died) in gone {
            self.drop_neighbor(io, p, died, false);
        }
    }

    /// Its `GR\x1C` flow ended (it left the group, or accepted our ask-close), or our flow was
    /// rejected.
    pub fn on_control_ended(&mut self, io: &mut Io<'_>, peer: PeerId) {
        let died = self
            .neighbors
            .get(&peer)
            .is_some_and(|n| !self.asked_recently(n, io.now));
        self.drop_neighbor(io, peer, died, true);
    }

    // ----- GR1C messages -----

    /// Handles one `GR\x1C` message from `peer` on its flow `flow`.
    pub fn on_control(
        &mut self,
        io: &mut Io<'_>,
        session: SessionId,
        flow: u64,
        peer: PeerId,
        data: &[u8],
    ) {
        let msg = match GroupMessage::decode(data, &self.config.report_limits) {
            Ok(m) => m,
            Err(e) => {
                self.counters.malformed += 1;
                tracing::debug!(?peer, error = %e, "malformed group message");
                return;
            }
        };
        if let GroupMessage::Connect(c) = &msg {
            self.on_connect(io, session, flow, peer, c);
            return;
        }
        let verified = self.neighbors.get(&peer).is_some_and(|n| n.verified);
        if !verified {
            self.counters.unexpected += 1;
            tracing::debug!(?peer, kind = msg.kind(), "group message before handshake");
            return;
        }
        let address = self.neighbors.get(&peer).map(|n| n.address);
        if let Some(h) = address.and_then(|a| self.heard.get_at_mut(&a, &peer)) {
            h.note_news(io.now);
        }
        match msg {
            GroupMessage::Connect(_) | GroupMessage::Data(_) => {}
            GroupMessage::Begin | GroupMessage::BeginNearest => {
                let nearest = matches!(msg, GroupMessage::BeginNearest);
                let reported = match self.neighbors.get_mut(&peer) {
                    Some(n) => {
                        n.mode = if nearest {
                            ReceiveMode::Nearest
                        } else {
                            ReceiveMode::Exact
                        };
                        n.reported
                    }
                    None => true,
                };
                if !reported {
                    self.send_report(io, peer, true);
                }
            }
            GroupMessage::Report(r) => self.on_report(io, peer, r),
            GroupMessage::AskClose => self.on_ask_close(io, peer),
            GroupMessage::Unknown { kind, .. } => {
                self.counters.unexpected += 1;
                tracing::debug!(?peer, kind, "unknown group message");
            }
        }
    }

    fn on_connect(
        &mut self,
        io: &mut Io<'_>,
        session: SessionId,
        flow: u64,
        peer: PeerId,
        c: &GroupConnect,
    ) {
        let reject = |io: &mut Io<'_>| {
            let _ = io
                .flash
                .endpoint_mut()
                .reject_flow(io.now, session, flow, 0);
        };
        if c.recipient != self.own {
            self.counters.wrong_recipient += 1;
            tracing::debug!(?peer, "group handshake for another peer");
            reject(io);
            return;
        }
        let Some((near_nonce, _)) = io.flash.endpoint().session_nonces(session) else {
            return;
        };
        let expected = group_connect_key(&self.txt, near_nonce);
        if !keys_match(&expected, &c.key) {
            self.counters.wrong_key += 1;
            tracing::info!(?peer, "group handshake with a wrong key: dropped");
            reject(io);
            self.drop_neighbor(io, peer, false, true);
            self.wanted.remove(&peer);
            return;
        }
        if !self.neighbors.contains_key(&peer) && !self.start_handshake(io, session, peer) {
            reject(io);
            return;
        }
        if let Some(n) = self.neighbors.get_mut(&peer) {
            n.verified = true;
            n.set_in_flow(flow);
            n.session = session;
        }
        self.maybe_connected(io, peer);
    }

    /// Sends a report about `bestList(peer)` (digest §5.6); `initiate` marks it as awaiting
    /// the peer's answer.
    fn send_report(&mut self, io: &mut Io<'_>, peer: PeerId, initiate: bool) {
        let Some(n) = self.neighbors.get(&peer) else {
            return;
        };
        let (session, Some(flow), address) = (n.session, n.out_flow(), n.address) else {
            return;
        };
        let latencies = self.latencies(io);
        let target_count = target_neighbor_count(self.estimated_member_count());
        let members = best_list(
            &self.heard,
            &BestListRequest {
                target: address,
                target_peer: Some(peer),
                target_count,
                latencies: &latencies,
                keep_random: None,
            },
            io.rng,
        );
        let now = io.now;
        let report = GroupReport {
            recipient_address: io
                .flash
                .endpoint()
                .session_far_addr(session)
                .map(|a| PeerAddress::new(a, AddressOrigin::Observed)),
            sender_addresses: self.own_addresses(io),
            members: members
                .iter()
                .filter_map(|p| {
                    let h = self.heard.get(p)?;
                    Some(ReportMember {
                        peer_id: *p,
                        elapsed_secs: now.saturating_duration_since(h.last_news()).as_secs(),
                        addresses: self.heard.addresses(h),
                    })
                })
                .collect(),
            dropped_members: 0,
            dropped_addresses: 0,
        };
        let bytes = GroupMessage::Report(report).to_bytes();
        if io
            .flash
            .endpoint_mut()
            .write(now, session, flow, Bytes::from(bytes), None)
            .is_err()
        {
            self.counters.write_failures += 1;
            return;
        }
        if let Some(n) = self.neighbors.get_mut(&peer) {
            n.reported = true;
            n.report_pending = initiate;
        }
    }

    fn own_addresses(&self, io: &Io<'_>) -> Vec<PeerAddress> {
        let mut out: Vec<PeerAddress> = Vec::new();
        if io.flash.net_connection().is_connected() {
            if let Some(a) = io.flash.net_connection().server_addrs().first() {
                out.push(PeerAddress::new(*a, AddressOrigin::Relay));
            }
        }
        out.extend(self.public_addrs.iter().copied());
        out
    }

    fn latencies(&self, io: &Io<'_>) -> Vec<(PeerId, u64)> {
        self.neighbors
            .iter()
            .filter(|(_, n)| n.connected)
            .filter_map(|(p, n)| {
                let rtt = io.flash.endpoint().session_srtt(n.session)?;
                Some((**p, rtmfp::time::saturating_micros(rtt)))
            })
            .collect()
    }

    fn on_report(&mut self, io: &mut Io<'_>, peer: PeerId, r: GroupReport) {
        self.counters.report_members_dropped += r.dropped_members as u64;
        self.counters.report_addresses_dropped += r.dropped_addresses as u64;
        if let Some(a) = r.recipient_address {
            let mine = PeerAddress::new(a.addr, AddressOrigin::Observed);
            if !self.public_addrs.contains(&mine) && self.public_addrs.len() < MAX_PUBLIC_ADDRESSES
            {
                self.public_addrs.push(mine);
            }
        }
        let mut sender = Vec::new();
        if let Some(n) = self.neighbors.get(&peer) {
            if let Some(a) = io.flash.endpoint().session_far_addr(n.session) {
                sender.push(PeerAddress::new(a, AddressOrigin::Observed));
            }
        }
        sender.extend(r.sender_addresses.iter().copied());
        self.heard_touch(peer, io.now, &sender);
        let timeout = self.config.peer_timeout.as_secs();
        let mut revealed = false;
        for m in &r.members {
            if m.peer_id == self.own {
                continue;
            }
            if m.elapsed_secs >= timeout || self.died.contains_key(&m.peer_id) {
                self.counters.report_members_stale += 1;
                continue;
            }
            let at = io.now - Duration::from_secs(m.elapsed_secs);
            revealed |= self.heard_touch(m.peer_id, at, &m.addresses);
        }
        if revealed && self.next_best.is_none() {
            self.next_best = Some(after(io.now, self.config.best_list_delay));
        }
        let pending = self.neighbors.get(&peer).is_some_and(|n| n.report_pending);
        if pending {
            if let Some(n) = self.neighbors.get_mut(&peer) {
                n.report_pending = false;
            }
        } else {
            self.send_report(io, peer, false);
        }
    }

    /// `0C` (digest §3.8): accept only if our best list is non-empty, we have more neighbours
    /// than best-list entries, and the asker is not in it.
    fn on_ask_close(&mut self, io: &mut Io<'_>, peer: PeerId) {
        let accept = !self.best.is_empty()
            && self.neighbor_count() > self.best.len()
            && !self.best.contains_key(&peer);
        if accept {
            self.counters.ask_close_accepted += 1;
            self.drop_neighbor(io, peer, false, true);
        } else {
            self.counters.ask_close_refused += 1;
        }
    }

    // ----- timers -----

    pub fn on_timeout(&mut self, io: &mut Io<'_>) {
        let now = io.now;
        if self.next_best.is_some_and(|t| t <= now) {
            self.next_best = Some(after(now, self.config.best_list_delay));
            self.manage_best_list(io);
        }
        if self.next_report <= now {
            self.next_report = after(now, self.config.report_delay);
            let candidates: Vec<PeerId> = self
                .neighbors
                .iter()
                .filter(|(_, n)| n.connected && !n.report_pending)
                .map(|(p, _)| **p)
                .collect();
            if !candidates.is_empty() {
                let i = (io.rng.next_u64() % candidates.len() as u64) as usize;
                self.send_report(io, candidates[i], true);
            }
        }
        if self.next_clean <= now {
            self.next_clean = after(now, self.config.clean_delay);
            let timeout = self.config.peer_timeout;
            let neighbors = &self.neighbors;
            self.heard.retain(|h| {
                neighbors.contains_key(h.peer())
                    || now.saturating_duration_since(h.last_news()) < timeout
            });
            self.died
                .retain(|_, t| now.saturating_duration_since(*t) < timeout);
            self.posting.expire(now);
        }
        if self.replication.next_timeout().is_some_and(|t| t <= now) {
            self.replication.on_timeout(now, io.events, io.rng);
            self.flush_replication(io);
        }
        if self.multicast.next_timeout().is_some_and(|t| t <= now) {
            self.multicast.on_timeout(now, io.events, io.rng);
            self.flush_multicast(io);
        }
    }

    /// Recomputes the best list, connects to its missing members and asks surplus neighbours
    /// to disconnect (librtmfp `manageBestConnections`, digest §3.6–§3.8).
    pub fn manage_best_list(&mut self, io: &mut Io<'_>) {
        let latencies = self.latencies(io);
        let target_count = target_neighbor_count(self.estimated_member_count());
        let list = best_list_with_random(
            &self.heard,
            &BestListRequest {
                target: self.own_addr,
                target_peer: None,
                target_count,
                latencies: &latencies,
                keep_random: self.random_pick,
            },
            io.rng,
        );
        let ids = &self.config.peer_ids;
        self.best = list
            .members
            .into_iter()
            .map(|p| (ids.intern(&p), ()))
            .collect();
        self.random_pick = list.random;
        // Connect to missing members of the best list only while we have fewer neighbours
        // (connected or connecting) than the list has members (librtmfp `manageBestConnections`,
        // digest §3.7): members whose own lists name us connect to us anyway, so a node that
        // connected to all of its list would end with about twice the target. The ring
        // neighbours are the exception, always connected, since `sendToNearest` ends at the
        // nearest member only if ring-adjacent members are neighbours (`routing.rs`).
        let budget = self.best.len().saturating_sub(self.neighbors.len());
        let ring = list.ring;
        let missing: Vec<PeerId> = ring
            .iter()
            .filter(|p| !self.neighbors.contains_key(*p))
            .chain(
                self.best
                    .keys()
                    .map(|p| &**p)
                    .filter(|p| !ring.contains(p) && !self.neighbors.contains_key(*p))
                    .take(budget),
            )
            .copied()
            .collect();
        for p in missing {
            self.connect_to(io, p);
        }
        let connected: Vec<PeerId> = self
            .neighbors
            .iter()
            .filter(|(_, n)| n.connected)
            .map(|(p, _)| **p)
            .collect();
        let allowed = connected.len().saturating_sub(self.best.len());
        let surplus: Vec<PeerId> = connected
            .into_iter()
            .filter(|p| !self.best.contains_key(p))
            .take(allowed)
            .collect();
        for p in surplus {
            let now = io.now;
            let Some(n) = self.neighbors.get(&p) else {
                continue;
            };
            if self.asked_recently(n, now) {
                continue;
            }
            let (session, flow) = (n.session, n.out_flow());
            let Some(flow) = flow else { continue };
            let msg = Bytes::from(GroupMessage::AskClose.to_bytes());
            if io
                .flash
                .endpoint_mut()
                .write(now, session, flow, msg, None)
                .is_ok()
            {
                self.counters.ask_close_sent += 1;
                if let Some(n) = self.neighbors.get_mut(&p) {
                    n.last_ask_close = PackedInstant::from(now);
                }
            }
        }
    }

    /// Announces a new receive mode to every neighbour (group begin `0E` / `0F`).
    pub fn set_receive_mode(&mut self, io: &mut Io<'_>, mode: ReceiveMode) {
        if mode == self.mode {
            return;
        }
        self.mode = mode;
        let msg = match mode {
            ReceiveMode::Exact => GroupMessage::Begin,
            ReceiveMode::Nearest => GroupMessage::BeginNearest,
        };
        let bytes = Bytes::from(msg.to_bytes());
        for n in self.neighbors.values() {
            if let Some(f) = n.out_flow() {
                let _ = io
                    .flash
                    .endpoint_mut()
                    .write(io.now, n.session, f, bytes.clone(), None);
            }
        }
    }

    /// Leaves: closes our flows to every neighbour (their sessions are closed if unused).
    pub fn leave(&mut self, io: &mut Io<'_>) {
        let peers: Vec<PeerId> = self.neighbors.keys().map(|p| **p).collect();
        for p in peers {
            self.drop_neighbor(io, p, false, true);
        }
    }

    // ----- extension flow: posting and routing -----

    /// Sends a frame on our extension flow to a connected neighbour.
    fn send_ext(&mut self, io: &mut Io<'_>, peer: &PeerId, frame: &Bytes) -> bool {
        let Some(n) = self.neighbors.get_mut(peer) else {
            return false;
        };
        if !n.connected {
            return false;
        }
        let ep = io.flash.endpoint_mut();
        let flow = match n.ext_out() {
            Some(f) => f,
            None => {
                match ep.open_flow(
                    io.now,
                    n.session,
                    &ext_metadata(),
                    n.in_flow(),
                    Priority::default(),
                ) {
                    Ok(f) => {
                        n.set_ext_out(f);
                        f
                    }
                    Err(_) => {
                        self.counters.write_failures += 1;
                        return false;
                    }
                }
            }
        };
        if ep
            .write(io.now, n.session, flow, frame.clone(), None)
            .is_err()
        {
            self.counters.write_failures += 1;
            tracing::debug!(?peer, "extension write refused");
            return false;
        }
        true
    }

    /// Sends the replication outbox (HAVE, FETCH, OBJECT, DENY frames) to its neighbours.
    pub fn flush_replication(&mut self, io: &mut Io<'_>) {
        for (peer, frame) in self.replication.take_outbox() {
            if self.send_ext(io, &peer, &frame) {
                self.info.object_replication_send_bytes += frame.len() as u64;
            }
        }
    }

    /// [`Self::send_ext`] for the node's raw test hook.
    pub fn send_raw(&mut self, io: &mut Io<'_>, peer: &PeerId, frame: &Bytes) -> bool {
        self.send_ext(io, peer, frame)
    }

    /// Floods a frame to every connected neighbour in `to`.
    fn flood(&mut self, io: &mut Io<'_>, to: &[PeerId], frame: &Bytes) -> usize {
        let mut sent = 0;
        for p in to {
            if self.send_ext(io, p, frame) {
                sent += 1;
            }
        }
        sent
    }

    /// `post` (digest §7): returns the message ID.
    pub fn post(
        &mut self,
        io: &mut Io<'_>,
        message: &[u8],
    ) -> Result<[u8; 32], crate::node::posting::PostError> {
        let (id, frame) = self.posting.post(io.now, message)?;
        let to: Vec<PeerId> = self.connected().into_iter().map(|(_, p)| p).collect();
        let n = self.flood(io, &to, &frame);
        self.info.posting_send_data_bytes += (n * frame.len()) as u64;
        Ok(id)
    }

    /// A message on the peer's extension flow.
    pub fn on_ext(&mut self, io: &mut Io<'_>, peer: PeerId, data: Bytes) {
        // A routed message still in flight from a neighbour we have just dropped arrives on
        // its extension flow, which only a completed handshake opens: take it, or the lookup
        // is lost (measured in the simulator: ~4 % of lookups at 1,000 members). Everything
        // else needs a connected neighbour.
        let connected = self.neighbors.get(&peer).is_some_and(|n| n.connected);
        if !connected && data.first() != Some(&ROUTE) {
            self.counters.unexpected += 1;
            return;
        }
        match data.first() {
            Some(&POST) => {
                self.info.posting_receive_data_bytes += data.len() as u64;
                let to = self
                    .neighbors
                    .iter()
                    .filter(|(_, n)| n.connected)
                    .map(|(p, _)| **p);
                if let Ok(ingest) = self.posting.on_post(io.now, peer, &data, to) {
                    io.events.push(GroupEvent::PostingNotify {
                        group: self.handle,
                        message: ingest.message,
                        message_id: ingest.message_id,
                    });
                    let n = self.flood(io, &ingest.forward, &ingest.frame);
                    self.info.posting_send_data_bytes += (n * ingest.frame.len()) as u64;
                }
            }
            Some(&ROUTE) => {
                self.info.routing_receive_bytes += data.len() as u64;
                self.on_route(io, data);
            }
            Some(&k) if ReplicationFrame::is_replication(k) => {
                self.info.object_replication_receive_bytes += data.len() as u64;
                self.replication
                    .on_frame(io.now, peer, &data, io.events, io.rng);
                self.flush_replication(io);
            }
            _ => {
                self.counters.ext_malformed += 1;
                tracing::debug!(?peer, "unknown extension message");
            }
        }
    }

    fn on_route(&mut self, io: &mut Io<'_>, data: Bytes) {
        let f = match routing::decode(&data) {
            Ok(f) => f,
            Err(_) => {
                self.routing.malformed += 1;
                tracing::debug!("malformed routed message");
                return;
            }
        };
        let message = data.slice(f.body_at..);
        if message.len() > self.config.max_route_bytes {
            self.routing.too_large += 1;
            return;
        }
        let hops = f.hops.saturating_add(1);
        let Some(dest) = f.destination else {
            self.routing.delivered += 1;
            io.events.push(GroupEvent::SendToNotify(SendToNotify {
                group: self.handle,
                message,
                from: f.origin,
                from_local: false,
                destination: None,
                hops,
                at_destination: true,
            }));
            return;
        };
        let (group, origin) = (self.handle, f.origin);
        let notify = |message, at_destination| {
            GroupEvent::SendToNotify(SendToNotify {
                group,
                message,
                from: origin,
                from_local: false,
                destination: Some(dest),
                hops,
                at_destination,
            })
        };
        let hop = routing::next_hop(&self.own_addr, self.mode, &dest, self.routable());
        match hop {
            Hop::Local { accepted: false } => {
                self.routing.undeliverable += 1;
                tracing::debug!("routed message not accepted by EXACT mode");
            }
            Hop::Local { accepted: true } => {
                self.routing.delivered += 1;
                io.events.push(notify(message, true));
            }
            Hop::Neighbor(next) => {
                if self.config.auto_forward {
                    if hops >= self.config.max_hops {
                        self.routing.hop_limit += 1;
                        return;
                    }
                    let frame =
                        Bytes::from(routing::encode(hops, &f.origin, Some(&dest), &message));
                    if self.send_ext(io, &next, &frame) {
                        self.routing.forwarded += 1;
                        self.info.routing_send_bytes += frame.len() as u64;
                    }
                } else {
                    io.events.push(notify(message, false));
                }
            }
        }
    }

    /// Connected neighbours that take part in routing.
    fn routable(&self) -> Vec<(GroupAddress, PeerId)> {
        self.connected()
    }

    /// `sendToNearest` / `forward_to_nearest` (digest §8).
    pub fn route(
        &mut self,
        io: &mut Io<'_>,
        message: Bytes,
        dest: GroupAddress,
        origin: GroupAddress,
        hops: u8,
    ) -> SendResult {
        match routing::next_hop(&self.own_addr, self.mode, &dest, self.routable()) {
            Hop::Local { accepted: false } => {
                self.routing.undeliverable += 1;
                SendResult::NoRoute
            }
            Hop::Local { accepted: true } => {
                self.routing.delivered += 1;
                io.events.push(GroupEvent::SendToNotify(SendToNotify {
                    group: self.handle,
                    message,
                    from: origin,
                    from_local: true,
                    destination: Some(dest),
                    hops,
                    at_destination: true,
                }));
                SendResult::Local
            }
            Hop::Neighbor(next) => {
                if hops >= self.config.max_hops {
                    self.routing.hop_limit += 1;
                    return SendResult::NoRoute;
                }
                let frame = Bytes::from(routing::encode(hops, &origin, Some(&dest), &message));
                if self.send_ext(io, &next, &frame) {
                    if origin == self.own_addr && hops == 0 {
                        self.routing.sent += 1;
                    } else {
                        self.routing.forwarded += 1;
                    }
                    self.info.routing_send_bytes += frame.len() as u64;
                    SendResult::Sent
                } else {
                    SendResult::NoRoute
                }
            }
        }
    }

    /// `sendToNeighbor` / `sendToAllNeighbors` (digest §8); `target = None` is all neighbours.
    pub fn send_to_neighbors(
        &mut self,
        io: &mut Io<'_>,
        message: &[u8],
        target: Option<NeighborTarget>,
    ) -> SendResult {
        let connected = self.connected();
        let to: Vec<PeerId> = match target {
            None => connected.iter().map(|(_, p)| *p).collect(),
            Some(NeighborTarget::NextIncreasing) => {
                routing::adjacent(&self.own_addr, true, connected)
                    .into_iter()
                    .collect()
            }
            Some(NeighborTarget::NextDecreasing) => {
                routing::adjacent(&self.own_addr, false, connected)
                    .into_iter()
                    .collect()
            }
            Some(NeighborTarget::Address(a)) => connected
                .iter()
                .filter(|(x, _)| *x == a)
                .map(|(_, p)| *p)
                .collect(),
        };
        let frame = Bytes::from(routing::encode(0, &self.own_addr, None, message));
        let n = self.flood(io, &to, &frame);
        self.info.routing_send_bytes += (n * frame.len()) as u64;
        self.routing.sent += n as u64;
        if n > 0 {
            SendResult::Sent
        } else {
            SendResult::NoRoute
        }
    }
}
