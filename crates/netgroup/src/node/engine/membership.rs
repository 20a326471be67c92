//! Membership: [`GroupNode::join`], and on a joined group [`GroupMut::leave`], neighbours and
//! member hints, and what [`GroupRef`] reads of its state.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use bytes::Bytes;
use rtmfp::{Instant, Priority};
use rtmfp_flash::GcMessage;

use crate::node::errors::JoinError;
use crate::node::events::{GroupEvent, GroupHandle, MembershipCounters, NetGroupInfo};
use crate::node::posting::PostingCounters;
use crate::node::routing::{ReceiveMode, RoutingCounters};

use super::view::{GroupMut, GroupRef};
use super::GroupNode;
use crate::groupspec::GroupSpecifier;
use crate::id::{GroupAddress, PeerId};
use crate::node::group::Group;
use crate::node::lan::LanAnnouncer;
use crate::wire::GroupFlowKind;

impl GroupNode {
    /// Flash `new NetGroup(nc, groupspec)`: joins the group `spec` names
    /// (docs/protocol/netgroup.md, "Joining a group"). With a NetConnection up, the join (`GC 01`)
    /// goes out at once; while it connects, when it succeeds; without any NetConnection the group
    /// is active at once and only bootstrap peers / [`GroupMut::add_neighbor`] find members.
    /// `NetGroup.Connect.Success` (or `.Rejected` for a `peerToPeerDisabled` spec, `.Failed` if the
    /// NetConnection fails) follows as an event.
    ///
    /// Errors: [`JoinError::AlreadyJoined`].
    pub fn join(&mut self, now: Instant, spec: &GroupSpecifier) -> Result<GroupHandle, JoinError> {
        self.now = now;
        let handle = GroupHandle(spec.group_id());
        if self.groups.contains_key(&handle) {
            return Err(JoinError::AlreadyJoined);
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
    pub(super) fn activate(&mut self, g: GroupHandle) {
        let now = self.now;
        let nc_up = self.flash.net_connection().is_connected();
        let gc_flow = if nc_up {
            let nc = self.flash.net_connection();
            let (s, assoc) = (nc.session(), nc.server_flow());
            s.and_then(|s| {
                let flash = &mut self.flash;
                let f = flash
                    .open_flow(
                        now,
                        s,
                        &GroupFlowKind::GroupConnection.to_metadata(),
                        assoc,
                        Priority::default(),
                    )
                    .ok()?;
                let join = GcMessage::Join {
                    group_id: g.0,
                    legacy: false,
                }
                .encode();
                flash.write(now, s, f, Bytes::from(join), None).ok()?;
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
}

impl GroupMut<'_> {
    /// Flash `NetGroup.close()`: leaves the group: the `GC` flow is closed (the server forgets
    /// the membership) and so are our group flows; sessions no other group uses are closed.
    pub fn leave(mut self) {
        let (now, g) = (self.now, self.handle);
        let gc = self
            .with(|group, io| {
                group.leave(io);
                group.gc_flow
            })
            .flatten();
        let node = self.node;
        if let (Some(f), Some(s)) = (gc, node.flash.net_connection().session()) {
            let _ = node.flash.close_flow(now, s, f);
        }
        if let Some(group) = node.groups.remove(&g) {
            let slot = group.slot;
            node.in_flows.retain(|_, f| f.group != Some(slot));
            let in_flows = &node.in_flows;
            node.media_returns.retain(|k, _| in_flows.contains_key(k));
            node.out_ctrl.retain(|_, s| *s != slot);
            node.out_media.retain(|_, s| *s != slot);
            if let Some(entry) = node.slots.get_mut(slot.index()) {
                *entry = None;
            }
        }
        node.groups_deadline.set(None);
        node.lan.remove(&g);
        node.flush();
    }

    /// Flash `addNeighbor(peerID)`: connects to `peer` now (at `addrs` and/or through the
    /// server). The topology may drop it later.
    pub fn add_neighbor(&mut self, peer: PeerId, addrs: &[SocketAddr]) {
        self.with(|group, io| {
            group.add_member_hint(io.now, peer, addrs);
            group.connect_to(io, peer);
        });
        self.node.flush();
    }

    /// Sends a raw frame on our extension flow to neighbour `peer`, bypassing every check:
    /// for tests, fuzzing and attack simulation (a misbehaving member). Returns whether the
    /// session layer took it.
    pub fn send_raw_extension(&mut self, peer: PeerId, frame: Bytes) -> bool {
        let r = self
            .with(|group, io| group.send_raw(io, &peer, &frame))
            .unwrap_or(false);
        self.node.flush();
        r
    }

    /// Flash `addMemberHint(peerID)`: records a member at `addrs`; connected only if the best
    /// list wants it.
    pub fn add_member_hint(&mut self, peer: PeerId, addrs: &[SocketAddr]) {
        self.with(|group, io| group.add_member_hint(io.now, peer, addrs));
    }
}

impl GroupRef<'_> {
    /// Flash `neighborCount`: neighbours that completed the handshake.
    pub fn neighbor_count(&self) -> usize {
        self.group.neighbor_count()
    }

    /// The neighbours: (group address, peer ID), in address order.
    pub fn neighbors(&self) -> Vec<(GroupAddress, PeerId)> {
        let mut v = self.group.connected();
        v.sort();
        v
    }

    /// Flash `estimatedMemberCount` (docs/protocol/netgroup.md, "Member count estimate"), this
    /// node included.
    pub fn estimated_member_count(&self) -> f64 {
        self.group.estimated_member_count()
    }

    /// Flash `localCoverageFrom` / `localCoverageTo` (docs/protocol/netgroup.md, "Ring distance
    /// and coverage" \[INFER\]).
    pub fn local_coverage(&self) -> (GroupAddress, GroupAddress) {
        self.group.coverage()
    }

    /// Flash `receiveMode`.
    pub fn receive_mode(&self) -> ReceiveMode {
        self.group.mode
    }

    /// Flash `info`: cumulative bytes per category ([`NetGroupInfo::rates`] for bytes/s).
    pub fn info(&self) -> NetGroupInfo {
        self.group.info
    }

    /// The last computed best list (docs/protocol/netgroup.md, "Best list").
    pub fn best_list(&self) -> BTreeSet<PeerId> {
        self.group.best().copied().collect()
    }

    /// Members in the heard list.
    pub fn heard_count(&self) -> usize {
        self.group.heard_count()
    }

    /// Membership drop counters.
    pub fn membership_counters(&self) -> MembershipCounters {
        self.group.counters
    }

    /// Posting counters.
    pub fn posting_counters(&self) -> PostingCounters {
        *self.group.posting.counters()
    }

    /// Routing counters.
    pub fn routing_counters(&self) -> RoutingCounters {
        self.group.routing
    }
}
