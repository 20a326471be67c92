//! Membership of one group (docs/protocol/netgroup.md, "Identities and the ring", "Joining a
//! group"): connecting to members, neighbours up and down, the heard list's cleaning, the best list
//! and its maintenance timers.

use std::net::SocketAddr;

use bytes::Bytes;
use rand_core::RngCore;
use rtmfp::{AddressOrigin, Instant, PeerAddress, Priority, SessionId};

use super::{after, Group};
use crate::best_list::{best_list_with_random, BestListRequest};
use crate::estimate::target_neighbor_count;
use crate::id::PeerId;
use crate::keys::group_connect_key;
use crate::node::events::GroupEvent;
use crate::node::io::Io;
use crate::node::neighbor::Neighbor;
use crate::node::routing::{self, ReceiveMode};
use crate::wire::{GroupConnect, GroupFlowKind, GroupMessage};
use rtmfp::time::PackedInstant;

impl Group {
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

    /// Sends our `01`, `02`, `0E`/`0F` to `peer` on a new `GR\x1C` flow (docs/protocol/netgroup.md,
    /// "Group handshake").
    pub(super) fn start_handshake(
        &mut self,
        io: &mut Io<'_>,
        session: SessionId,
        peer: PeerId,
    ) -> bool {
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
        let Some((_, far_nonce)) = io.flash.session_nonces(session) else {
            return false;
        };
        let key = group_connect_key(&self.txt, far_nonce);
        let flash = &mut *io.flash;
        let flow = match flash.open_flow(
            io.now,
            session,
            &GroupFlowKind::GroupControl.to_metadata(),
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
            if flash
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

    pub(super) fn maybe_connected(&mut self, io: &mut Io<'_>, peer: PeerId) {
        let Some(n) = self.neighbors.get_mut(&peer) else {
            return;
        };
        if n.connected || !n.verified || n.out_flow().is_none() {
            return;
        }
        n.connected = true;
        let address = n.address;
        let far = io.flash.session_far_addr(n.session);
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

    pub(super) fn update_coverage(&mut self, io: &mut Io<'_>) {
        let c = routing::coverage(&self.own_addr, self.connected());
        if c != self.coverage {
            self.coverage = c;
            io.events
                .push(GroupEvent::LocalCoverageNotify { group: self.handle });
        }
    }

    /// Removes a neighbour. `died`: it left the group (forget it for `peer_timeout`);
    /// `close`: close our flows and, if unused, the session.
    pub(super) fn drop_neighbor(&mut self, io: &mut Io<'_>, peer: PeerId, died: bool, close: bool) {
        let Some(n) = self.neighbors.remove(&peer) else {
            return;
        };
        if let Some(f) = n.out_flow() {
            io.out_ctrl.remove(&(n.session, f));
        }
        self.close_media_flows(io, peer, n.session, close);
        if close {
            let flash = &mut *io.flash;
            for f in [n.out_flow(), n.ext_out()].into_iter().flatten() {
                let _ = flash.close_flow(io.now, n.session, f);
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

    pub(super) fn asked_recently(&self, n: &Neighbor, now: Instant) -> bool {
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
    /// to disconnect (librtmfp `manageBestConnections`, docs/protocol/netgroup.md, "Best list" to
    /// "Ask-close").
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
        // docs/protocol/netgroup.md, "Maintenance timers"): members whose own lists name us connect
        // to us anyway, so a node that connected to all of its list would end with about twice the
        // target. The ring neighbours are the exception, always connected, since `sendToNearest`
        // ends at the nearest member only if ring-adjacent members are neighbours (`routing.rs`).
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
            if io.flash.write(now, session, flow, msg, None).is_ok() {
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
                let _ = io.flash.write(io.now, n.session, f, bytes.clone(), None);
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
}
