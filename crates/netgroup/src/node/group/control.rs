//! The `GR\x1C` messages of one group (docs/protocol/netgroup.md, "Identities and the ring",
//! "Joining a group"): the handshake, group begin, reports and ask-close.

use std::time::Duration;

use bytes::Bytes;
use rtmfp::{AddressOrigin, PeerAddress, SessionId};

use super::{after, Group, MAX_PUBLIC_ADDRESSES};
use crate::best_list::{best_list, BestListRequest};
use crate::estimate::target_neighbor_count;
use crate::id::PeerId;
use crate::keys::{group_connect_key, keys_match};
use crate::node::io::Io;
use crate::node::routing::ReceiveMode;
use crate::wire::{GroupConnect, GroupMessage, GroupReport, ReportMember};

impl Group {
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

    pub(super) fn on_connect(
        &mut self,
        io: &mut Io<'_>,
        session: SessionId,
        flow: u64,
        peer: PeerId,
        c: &GroupConnect,
    ) {
        let reject = |io: &mut Io<'_>| {
            let _ = io.flash.reject_flow(io.now, session, flow, 0);
        };
        if c.recipient != self.own {
            self.counters.wrong_recipient += 1;
            tracing::debug!(?peer, "group handshake for another peer");
            reject(io);
            return;
        }
        let Some((near_nonce, _)) = io.flash.session_nonces(session) else {
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

    /// Sends a report about `bestList(peer)` (docs/protocol/netgroup.md, "Group report");
    /// `initiate` marks it as awaiting the peer's answer.
    pub(super) fn send_report(&mut self, io: &mut Io<'_>, peer: PeerId, initiate: bool) {
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

    pub(super) fn own_addresses(&self, io: &Io<'_>) -> Vec<PeerAddress> {
        let mut out: Vec<PeerAddress> = Vec::new();
        if io.flash.net_connection().is_connected() {
            if let Some(a) = io.flash.net_connection().server_addrs().first() {
                out.push(PeerAddress::new(*a, AddressOrigin::Relay));
            }
        }
        out.extend(self.public_addrs.iter().copied());
        out
    }

    pub(super) fn latencies(&self, io: &Io<'_>) -> Vec<(PeerId, u64)> {
        self.neighbors
            .iter()
            .filter(|(_, n)| n.connected)
            .filter_map(|(p, n)| {
                let rtt = io.flash.session_srtt(n.session)?;
                Some((**p, rtmfp::time::saturating_micros(rtt)))
            })
            .collect()
    }

    pub(super) fn on_report(&mut self, io: &mut Io<'_>, peer: PeerId, r: GroupReport) {
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
            if let Some(a) = io.flash.session_far_addr(n.session) {
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

    /// `0C` (docs/protocol/netgroup.md, "Ask-close"): accept only if our best list is non-empty, we
    /// have more neighbours than best-list entries, and the asker is not in it.
    pub(super) fn on_ask_close(&mut self, io: &mut Io<'_>, peer: PeerId) {
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
}
