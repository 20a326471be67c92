//! NAT behaviour (RFC 4787 terms): mappings created by outbound datagrams, filtering of inbound
//! ones. Mappings never expire during a run (a simplification).

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddrV4;

use crate::addr::{nat_ip, NAT_PORT};
use crate::node::NodeId;

/// A NAT type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum NatType {
    /// No NAT: the node's own address is public.
    None,
    /// Full cone: one public mapping (port 40000, present from the start, as if kept alive by
    /// a server); anyone may send to it.
    FullCone,
    /// Address-restricted cone: one mapping; inbound only from IPs the node has sent to.
    Restricted,
    /// Port-restricted cone: one mapping; inbound only from IP:port pairs the node has sent to.
    PortRestricted,
    /// Symmetric: a new public port per destination IP:port; inbound only from that
    /// destination to that port. Two symmetric nodes can never reach each other directly.
    Symmetric,
}

/// The state of one node's NAT.
#[derive(Debug, Clone)]
pub struct Nat {
    kind: NatType,
    node: NodeId,
    permits: BTreeSet<SocketAddrV4>,
    sym_out: BTreeMap<SocketAddrV4, u16>,
    sym_in: BTreeMap<u16, SocketAddrV4>,
    next_port: u16,
}

impl Nat {
    /// The NAT of `node`, of type `kind` (not [`NatType::None`]).
    pub fn new(node: NodeId, kind: NatType) -> Self {
        Nat {
            kind,
            node,
            permits: BTreeSet::new(),
            sym_out: BTreeMap::new(),
            sym_in: BTreeMap::new(),
            next_port: NAT_PORT + 1,
        }
    }

    /// The NAT type.
    pub fn kind(&self) -> NatType {
        self.kind
    }

    /// The public address peers should use (port 40000; a symmetric NAT's never answers).
    pub fn public_addr(&self) -> SocketAddrV4 {
        SocketAddrV4::new(nat_ip(self.node), NAT_PORT)
    }

    /// A datagram leaves for `dst`: creates or refreshes the mapping and returns the public
    /// source address the far end sees, or `None` if a symmetric NAT ran out of ports.
    pub fn outbound(&mut self, dst: SocketAddrV4) -> Option<SocketAddrV4> {
        let ip = nat_ip(self.node);
        match self.kind {
            NatType::None | NatType::FullCone => Some(self.public_addr()),
            NatType::Restricted => {
                self.permits.insert(SocketAddrV4::new(*dst.ip(), 0));
                Some(self.public_addr())
            }
            NatType::PortRestricted => {
                self.permits.insert(dst);
                Some(self.public_addr())
            }
            NatType::Symmetric => {
                if let Some(p) = self.sym_out.get(&dst) {
                    return Some(SocketAddrV4::new(ip, *p));
                }
                if self.next_port == u16::MAX {
                    return None;
                }
                let p = self.next_port;
                self.next_port += 1;
                self.sym_out.insert(dst, p);
                self.sym_in.insert(p, dst);
                Some(SocketAddrV4::new(ip, p))
            }
        }
    }

    /// Whether a datagram from `from` to public port `port` is let in.
    pub fn inbound(&self, port: u16, from: SocketAddrV4) -> bool {
        match self.kind {
            NatType::None => true,
            NatType::FullCone => port == NAT_PORT,
            NatType::Restricted => {
                port == NAT_PORT && self.permits.contains(&SocketAddrV4::new(*from.ip(), 0))
            }
            NatType::PortRestricted => port == NAT_PORT && self.permits.contains(&from),
            NatType::Symmetric => self.sym_in.get(&port) == Some(&from),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(s: &str) -> SocketAddrV4 {
        s.parse().unwrap()
    }

    #[test]
    fn filtering_rules() {
        let peer = a("10.0.0.9:1935");
        let other = a("10.0.0.8:1935");
        let mut full = Nat::new(NodeId(0), NatType::FullCone);
        assert!(full.inbound(NAT_PORT, peer));
        let mut r = Nat::new(NodeId(0), NatType::Restricted);
        assert!(!r.inbound(NAT_PORT, peer));
        r.outbound(a("10.0.0.9:5"));
        assert!(r.inbound(NAT_PORT, peer));
        assert!(!r.inbound(NAT_PORT, other));
        let mut pr = Nat::new(NodeId(0), NatType::PortRestricted);
        pr.outbound(a("10.0.0.9:5"));
        assert!(!pr.inbound(NAT_PORT, peer));
        assert!(pr.inbound(NAT_PORT, a("10.0.0.9:5")));
        let mut s = Nat::new(NodeId(0), NatType::Symmetric);
        let p1 = s.outbound(peer).unwrap();
        let p2 = s.outbound(other).unwrap();
        assert_ne!(p1.port(), p2.port());
        assert_eq!(s.outbound(peer), Some(p1));
        assert!(s.inbound(p1.port(), peer));
        assert!(!s.inbound(p1.port(), other));
        assert!(!s.inbound(NAT_PORT, peer));
        assert_eq!(full.outbound(peer).unwrap().port(), NAT_PORT);
    }
}
