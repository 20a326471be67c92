//! The node type of group workloads: slot 0 runs the rendezvous server
//! ([`RendezvousServer`]) (or, in a serverless group, a member like the others), every other
//! slot a NetGroup member ([`GroupNode`] over a `FlashNode`). Both are real sans-IO machines;
//! this enum only dispatches. LAN multicast ([`SimNode::handle_multicast`]) goes to a member's
//! LAN discovery (`GroupNode::handle_lan_datagram`, docs/protocol/netgroup.md, "LAN discovery",
//! `docs/wire-netgroup.md` "LAN announcement"); the server ignores it.

use std::net::SocketAddr;

use rtmfp::{Config, Endpoint, FlashProfile, Instant, PlainProfile, SansIo, Transmit};
use rtmfp_flash::netconnection::{ClientConfig, NetConnectionEvent};
use rtmfp_flash::FlashNode;
use rtmfp_netgroup::server::{RendezvousConfig, RendezvousEvent, RendezvousServer};
use rtmfp_netgroup::{GroupConfig, GroupEvent, GroupNode};

use crate::endpoint_node::Crypto;
use crate::hash::RunHash;
use crate::node::{digest_sockaddr, SimNode};
use crate::rng::{seed32, SimRng};

/// A simulated node of a group workload: the rendezvous server or a member.
#[derive(Debug)]
pub enum GroupSimNode {
    /// The rendezvous server (slot 0).
    Server(Box<RendezvousServer>),
    /// A NetGroup member.
    Member(Box<GroupNode>),
}

/// What a [`GroupSimNode`] reports.
#[derive(Debug, Clone, PartialEq)]
pub enum GroupSimEvent {
    /// From the rendezvous server.
    Server(RendezvousEvent),
    /// From a member (`NetGroup` status events, posts, routed messages).
    Member(GroupEvent),
}

/// A rendezvous server with keys and seeds drawn from `rng`: a Cirrus-style Flash server
/// identity, or a plain one that accepts URL EPDs.
pub fn new_server(crypto: Crypto, config: RendezvousConfig, rng: &mut SimRng) -> RendezvousServer {
    let seed = seed32(rng);
    let profile: Box<dyn rtmfp::CryptoProfile> = match crypto {
        Crypto::Flash => Box::new(FlashProfile::server(rng)),
        Crypto::Plain => Box::new(PlainProfile::new(rng, true)),
    };
    RendezvousServer::new(config, profile, seed)
}

/// A NetGroup member with keys and seeds drawn from `rng` (Flash Player-style static identity,
/// or a plain one), session settings `endpoint` and group settings `group`.
pub fn new_member(
    crypto: Crypto,
    endpoint: Config,
    group: GroupConfig,
    rng: &mut SimRng,
) -> GroupNode {
    let ep_seed = seed32(rng);
    let profile: Box<dyn rtmfp::CryptoProfile> = match crypto {
        Crypto::Flash => Box::new(FlashProfile::client(rng)),
        Crypto::Plain => Box::new(PlainProfile::new(rng, false)),
    };
    let flash = FlashNode::new(endpoint, profile, ep_seed, ClientConfig::default());
    GroupNode::new(flash, group, seed32(rng))
}

impl GroupSimNode {
    /// The member, if this is one.
    pub fn member(&self) -> Option<&GroupNode> {
        match self {
            GroupSimNode::Member(m) => Some(m),
            GroupSimNode::Server(_) => None,
        }
    }

    /// The member, mutably, if this is one.
    pub fn member_mut(&mut self) -> Option<&mut GroupNode> {
        match self {
            GroupSimNode::Member(m) => Some(m),
            GroupSimNode::Server(_) => None,
        }
    }

    /// The server, if this is it.
    pub fn server(&self) -> Option<&RendezvousServer> {
        match self {
            GroupSimNode::Server(s) => Some(s),
            GroupSimNode::Member(_) => None,
        }
    }
}

impl SansIo for GroupSimNode {
    type Event = GroupSimEvent;

    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        match self {
            GroupSimNode::Server(s) => s.handle_datagram(now, from, datagram),
            GroupSimNode::Member(m) => m.handle_datagram(now, from, datagram),
        }
    }

    fn handle_timeout(&mut self, now: Instant) {
        match self {
            GroupSimNode::Server(s) => s.handle_timeout(now),
            GroupSimNode::Member(m) => m.handle_timeout(now),
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        match self {
            GroupSimNode::Server(s) => s.poll_transmit(),
            GroupSimNode::Member(m) => m.poll_transmit(),
        }
    }

    fn poll_event(&mut self) -> Option<GroupSimEvent> {
        match self {
            GroupSimNode::Server(s) => s.poll_event().map(GroupSimEvent::Server),
            GroupSimNode::Member(m) => m.poll_event().map(GroupSimEvent::Member),
        }
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            GroupSimNode::Server(s) => s.poll_timeout(),
            GroupSimNode::Member(m) => m.poll_timeout(),
        }
    }
}

fn digest_server(e: &RendezvousEvent, h: &mut RunHash) {
    match e {
        RendezvousEvent::ClientConnected { peer_id, addr, app } => {
            h.u64(1);
            h.bytes(&peer_id.0);
            digest_sockaddr(h, addr);
            h.bytes(app.as_bytes());
        }
        RendezvousEvent::ClientRejected { app } => {
            h.u64(2);
            h.bytes(app.as_bytes());
        }
        RendezvousEvent::ClientDisconnected { peer_id } => {
            h.u64(3);
            h.bytes(&peer_id.0);
        }
        RendezvousEvent::Joined {
            peer_id,
            group_id,
            introduced,
        } => {
            h.u64(4);
            h.bytes(&peer_id.0);
            h.bytes(group_id);
            h.u64(*introduced as u64);
        }
        RendezvousEvent::JoinRefused { peer_id, reason } => {
            h.u64(5);
            h.bytes(&peer_id.0);
            h.bytes(reason.to_string().as_bytes());
        }
        RendezvousEvent::PeerIntroduced { target, initiator } => {
            h.u64(6);
            h.bytes(&target.0);
            digest_sockaddr(h, initiator);
        }
    }
}

fn digest_member(e: &GroupEvent, h: &mut RunHash) {
    match e {
        GroupEvent::ConnectSuccess { group } => {
            h.u64(11);
            h.bytes(&group.0);
        }
        GroupEvent::ConnectRejected { group, reason }
        | GroupEvent::ConnectFailed { group, reason } => {
            h.u64(12);
            h.bytes(&group.0);
            h.bytes(reason.as_bytes());
        }
        GroupEvent::NeighborConnect {
            group,
            peer_id,
            neighbor,
        } => {
            h.u64(13);
            h.bytes(&group.0);
            h.bytes(&peer_id.0);
            h.bytes(&neighbor.0);
        }
        GroupEvent::NeighborDisconnect {
            group,
            peer_id,
            neighbor,
        } => {
            h.u64(14);
            h.bytes(&group.0);
            h.bytes(&peer_id.0);
            h.bytes(&neighbor.0);
        }
        GroupEvent::PostingNotify {
            group,
            message,
            message_id,
        } => {
            h.u64(15);
            h.bytes(&group.0);
            h.bytes(message);
            h.bytes(message_id);
        }
        GroupEvent::SendToNotify(s) => {
            h.u64(16);
            h.bytes(&s.group.0);
            h.bytes(&s.message);
            h.bytes(&s.from.0);
            h.u64(s.from_local as u64);
            h.bytes(s.destination.as_ref().map_or(&[][..], |d| &d.0[..]));
            h.u64(s.hops as u64);
            h.u64(s.at_destination as u64);
        }
        GroupEvent::LocalCoverageNotify { group } => {
            h.u64(17);
            h.bytes(&group.0);
        }
        GroupEvent::NetConnection(NetConnectionEvent::Status(s)) => {
            h.u64(18);
            h.bytes(s.level.as_bytes());
            h.bytes(s.code.as_bytes());
        }
        GroupEvent::NetConnection(other) => {
            // Rare (calls, streams): the derived Debug output is deterministic.
            h.u64(19);
            h.bytes(format!("{other:?}").as_bytes());
        }
        GroupEvent::Session(e) => {
            h.u64(20);
            Endpoint::digest_event(e, h);
        }
        GroupEvent::ReplicationRequest {
            group,
            index,
            request_id,
        } => {
            h.u64(22);
            h.bytes(&group.0);
            h.u64(*index);
            h.u64(*request_id);
        }
        GroupEvent::ReplicationFetchSendNotify { group, index } => {
            h.u64(23);
            h.bytes(&group.0);
            h.u64(*index);
        }
        GroupEvent::ReplicationFetchFailed { group, index } => {
            h.u64(24);
            h.bytes(&group.0);
            h.u64(*index);
        }
        GroupEvent::ReplicationFetchResult {
            group,
            index,
            object,
            from,
        } => {
            // The object's bytes are in the datagrams already digested; the length and the
            // holder suffice here (and keep 16 MiB files cheap).
            h.u64(25);
            h.bytes(&group.0);
            h.u64(*index);
            h.u64(object.len() as u64);
            h.bytes(&from.0);
        }
        GroupEvent::MulticastPublishNotify { group, name, key }
        | GroupEvent::MulticastUnpublishNotify { group, name, key } => {
            h.u64(if matches!(e, GroupEvent::MulticastPublishNotify { .. }) {
                26
            } else {
                27
            });
            h.bytes(&group.0);
            h.bytes(name.as_bytes());
            h.bytes(&key.0);
        }
        GroupEvent::MulticastMessage {
            group,
            key,
            message,
            ..
        } => {
            // The payload is in the datagrams already digested.
            h.u64(28);
            h.bytes(&group.0);
            h.bytes(&key.0);
            h.u64(message.first_fragment);
            h.u64(u64::from(message.media_type));
            h.u64(u64::from(message.time));
            h.u64(message.payload.len() as u64);
        }
        GroupEvent::MulticastPlayEnded {
            group,
            key,
            fragments,
            lost,
            delivered,
            ..
        } => {
            h.u64(29);
            h.bytes(&group.0);
            h.bytes(&key.0);
            h.u64(*fragments);
            h.u64(*lost);
            h.u64(*delivered);
        }
        // Unreachable today; kept for variants the group engine may add (its derived Debug
        // output is deterministic).
        #[allow(unreachable_patterns)]
        other => {
            h.u64(21);
            h.bytes(format!("{other:?}").as_bytes());
        }
    }
}

impl SimNode for GroupSimNode {
    fn digest_event(event: &GroupSimEvent, h: &mut RunHash) {
        match event {
            GroupSimEvent::Server(e) => digest_server(e, h),
            GroupSimEvent::Member(e) => digest_member(e, h),
        }
    }

    /// A member takes multicast on the addresses its LAN groups listen on
    /// (`GroupNode::lan_multicast_addresses`: a joined group whose spec enables
    /// `ipMulticastMemberUpdatesEnabled` with that `addIPMulticastAddress`) and hands it to
    /// its LAN discovery, as the tokio driver's multicast sockets do; the server listens on
    /// none.
    fn handle_multicast(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        datagram: &[u8],
    ) -> bool {
        match self {
            GroupSimNode::Member(m) if m.lan_multicast_addresses().contains(&to) => {
                m.handle_lan_datagram(now, from, datagram);
                true
            }
            _ => false,
        }
    }
}
