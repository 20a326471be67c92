//! The membership calls of [`GroupNode`]: join, leave, neighbours, member hints, and the
//! state of a joined group.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use bytes::Bytes;
use rtmfp::{Instant, Priority};
use rtmfp_flash::GcMessage;

use crate::node::events::{GroupError, GroupEvent, GroupHandle, MembershipCounters, NetGroupInfo};
use crate::node::posting::PostingCounters;
use crate::node::routing::{ReceiveMode, RoutingCounters};

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
    /// is active at once and only bootstrap peers / [`Self::add_neighbor`] find members.
    /// `NetGroup.Connect.Success` (or `.Rejected` for a `peerToPeerDisabled` spec, `.Failed` if the
    /// NetConnection fails) follows as an event.
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
            let _ = self.flash.close_flow(now, s, f);
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

    /// Flash `estimatedMemberCount` (docs/protocol/netgroup.md, "Member count estimate"), this node
    /// included.
    pub fn estimated_member_count(&self, g: GroupHandle) -> Option<f64> {
        Some(self.groups.get(&g)?.estimated_member_count())
    }

    /// Flash `localCoverageFrom` / `localCoverageTo` (docs/protocol/netgroup.md, "Ring distance and
    /// coverage" \[INFER\]).
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

    /// The last computed best list (docs/protocol/netgroup.md, "Best list").
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
}
