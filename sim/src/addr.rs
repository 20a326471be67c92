//! The simulated address plan (IPv4 only).
//!
//! - Node `i` owns the private address `10.a.b.c:1935` where `a.b.c` encodes `i + 1`. For a node
//!   without NAT this is also its public address.
//! - A node behind a NAT is reachable from outside its LAN segment only at its NAT's public
//!   address `11.a.b.c:port` (same encoding), port [`NAT_PORT`] for cone NATs, ports from
//!   `NAT_PORT + 1` (one per destination) for symmetric NATs.
//! - Any `224.0.0.0/4` destination is IP multicast, delivered to the sender's LAN segment.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use crate::node::NodeId;

/// The UDP port every node binds (RTMFP's customary port).
pub const PORT: u16 = 1935;

/// The public port of a cone NAT's single mapping; the first port of a symmetric NAT's pool
/// (which never accepts anything itself).
pub const NAT_PORT: u16 = 40_000;

/// A multicast group address for LAN discovery (any `224.0.0.0/4` address works).
pub const MULTICAST: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::new(224, 0, 0, 255), 30_000);

/// Most nodes the address plan can number (2^24 - 2).
pub const MAX_NODES: usize = (1 << 24) - 2;

fn encode(first: u8, node: NodeId) -> Ipv4Addr {
    let v = node.0 + 1;
    Ipv4Addr::new(first, (v >> 16) as u8, (v >> 8) as u8, v as u8)
}

/// Node `node`'s own (private) address, `10.x.y.z:1935`.
pub fn private_addr(node: NodeId) -> SocketAddrV4 {
    SocketAddrV4::new(encode(10, node), PORT)
}

/// The public IP of node `node`'s NAT, `11.x.y.z`.
pub fn nat_ip(node: NodeId) -> Ipv4Addr {
    encode(11, node)
}

/// What an address designates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    /// A node's own address (port checked by the caller).
    Private(NodeId),
    /// A node's NAT public address, with the port.
    NatPublic(NodeId, u16),
    /// IP multicast.
    Multicast,
    /// Nothing in the plan (no route).
    Unknown,
}

/// Classifies `addr`.
pub fn classify(addr: SocketAddr) -> Dest {
    let SocketAddr::V4(a) = addr else {
        return Dest::Unknown;
    };
    classify_v4(a)
}

/// Classifies an IPv4 `addr`.
pub fn classify_v4(a: SocketAddrV4) -> Dest {
    let o = a.ip().octets();
    if o[0] & 0xf0 == 224 {
        return Dest::Multicast;
    }
    let v = (o[1] as u32) << 16 | (o[2] as u32) << 8 | o[3] as u32;
    if v == 0 {
        return Dest::Unknown;
    }
    let node = NodeId(v - 1);
    match o[0] {
        10 if a.port() == PORT => Dest::Private(node),
        11 => Dest::NatPublic(node, a.port()),
        _ => Dest::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        for i in [0u32, 1, 255, 256, 70_000, MAX_NODES as u32 - 1] {
            let n = NodeId(i);
            assert_eq!(classify(private_addr(n).into()), Dest::Private(n));
            let p = SocketAddrV4::new(nat_ip(n), NAT_PORT);
            assert_eq!(classify(p.into()), Dest::NatPublic(n, NAT_PORT));
        }
        assert_eq!(classify(MULTICAST.into()), Dest::Multicast);
        assert_eq!(classify("8.8.8.8:53".parse().unwrap()), Dest::Unknown);
        assert_eq!(classify("10.0.0.1:80".parse().unwrap()), Dest::Unknown);
    }
}
