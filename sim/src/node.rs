//! The sans-IO contract the engine drives: what a simulated node must implement.
//!
//! `rtmfp::Endpoint` implements it (see [`crate::endpoint_node`]), and so does the group
//! workload's node ([`crate::group::GroupSimNode`]: the rendezvous server or a NetGroup member,
//! which also takes LAN multicast through [`SimNode::handle_multicast`]).

use std::net::SocketAddr;

use rtmfp::{Instant, SansIo};

use crate::hash::RunHash;

/// Index of a node slot, `0..nodes`. A slot keeps its address across leaves and rejoins; each
/// join creates a fresh node (a new incarnation) in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The slot as a `usize` index.
    pub fn idx(self) -> usize {
        self.0 as usize
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// A sans-IO protocol node the engine can drive: any [`rtmfp::SansIo`] machine (the contract
/// shared with the tokio driver) that can also digest its events into the run hash.
///
/// The engine calls `handle_datagram`, `handle_multicast` or `handle_timeout` (or a workload
/// command), then drains `poll_transmit` and `poll_event` until both are empty, then reads
/// `poll_timeout`.
pub trait SimNode: SansIo {
    /// Mixes `event` into the run hash (every field that matters for reproducibility).
    fn digest_event(event: &Self::Event, hash: &mut RunHash);

    /// A datagram sent by `from` to the IP multicast group address `to` (`224.0.0.0/4`, see
    /// [`crate::addr`]) reached this node, a member of the sender's LAN segment, at `now`. It
    /// is what a driver receives on a socket bound to that group (a NetGroup member's LAN
    /// announcements, docs/protocol/netgroup.md, "LAN discovery", `docs/wire-netgroup.md` "LAN
    /// announcement"), not an RTMFP packet, so it never goes to [`SansIo::handle_datagram`].
    ///
    /// Returns whether the node took it (it listens on `to`). The default listens on nothing:
    /// the datagram is ignored, and the engine counts it in
    /// [`crate::engine::EngineStats::multicast_ignored`].
    fn handle_multicast(
        &mut self,
        now: Instant,
        from: SocketAddr,
        to: SocketAddr,
        datagram: &[u8],
    ) -> bool {
        let _ = (now, from, to, datagram);
        false
    }
}

/// Mixes a socket address into the run hash, as the event digests of every [`SimNode`] do: an
/// IPv4 one as [`RunHash::addr`], an IPv6 one as its 16 octets then its port.
pub(crate) fn digest_sockaddr(h: &mut RunHash, a: &SocketAddr) {
    match a {
        SocketAddr::V4(v4) => h.addr(*v4),
        SocketAddr::V6(v6) => {
            h.bytes(&v6.ip().octets());
            h.u64(v6.port() as u64);
        }
    }
}
