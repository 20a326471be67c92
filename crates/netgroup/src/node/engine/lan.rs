//! LAN discovery on [`GroupNode`] (docs/protocol/netgroup.md, "LAN discovery"): announcements due
//! and received.

use std::net::SocketAddr;

use bytes::Bytes;
use rtmfp::{Instant, Transmit};

use crate::node::events::GroupHandle;
use crate::node::lan::{LanAnnouncement, LanCounters};

use super::{GroupNode, MAX_LAN_QUEUE};

impl GroupNode {
    /// Queues the LAN announcements that are due (docs/protocol/netgroup.md, "LAN discovery", `lan`
    /// module).
    pub(super) fn announce_due(&mut self, now: Instant) {
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
    /// and listen (docs/protocol/netgroup.md, "LAN discovery"): the driver joins these and feeds
    /// what it receives on them to [`Self::handle_lan_datagram`]. Sorted, without duplicates; empty
    /// when no joined group enables `ipMulticastMemberUpdatesEnabled` with an
    /// `addIPMulticastAddress`.
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
}
