//! Directed routing (docs/protocol/netgroup.md, "Directed routing"): `sendToNearest`,
//! `sendToNeighbor`, `sendToAllNeighbors`, receive modes, and the greedy next-hop rule.
//!
//! The wire format of Flash's routed messages is unknown (docs/protocol/netgroup.md, "Directed
//! routing"), so routed messages are our own frames on the extension flow
//! (`docs/wire-netgroup.md`):
//!
//! ```text
//! 51 | kind u8 (0 = toward an address, 1 = to a neighbour) | hops u8
//!    | 32-byte group address of the origin | [32-byte destination, kind 0 only] | message
//! ```
//!
//! Next hop ([`next_hop`], the inferred rule of docs/protocol/netgroup.md, "Directed routing"):
//! among this node and its neighbours, the one at the least ring distance from the destination;
//! ties go to the lower address. A node is the destination when it is that nearest one and its
//! receive mode accepts the address (NEAREST, or EXACT with an exact match). Greedy steps strictly
//! decrease the distance, so a message never loops.

use crate::id::{GroupAddress, PeerId};

/// Type byte of a routed frame on the extension flow.
pub const ROUTE: u8 = 0x51;
/// Frame kind: routed toward a destination address.
pub const KIND_NEAREST: u8 = 0;
/// Frame kind: sent to one or all neighbours.
pub const KIND_NEIGHBOR: u8 = 1;

/// Flash `NetGroupReceiveMode` (docs/protocol/netgroup.md, "Directed routing"): announced with
/// group begin `0E` / `0F`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReceiveMode {
    /// `"exact"`: this node is a destination only for its own exact address.
    #[default]
    Exact,
    /// `"nearest"`: this node is the destination of any address it is nearest to.
    Nearest,
}

/// Flash `NetGroupSendMode` plus a direct neighbour address (docs/protocol/netgroup.md, "Directed
/// routing").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NeighborTarget {
    /// `"nextIncreasing"`: the neighbour next on the ring in increasing direction.
    NextIncreasing,
    /// `"nextDecreasing"`: the neighbour next on the ring in decreasing direction.
    NextDecreasing,
    /// The neighbour at this group address.
    Address(GroupAddress),
}

/// A decoded routed frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteFrame {
    /// Hops taken before this one.
    pub hops: u8,
    /// The origin's group address.
    pub origin: GroupAddress,
    /// The destination (`None` for a neighbour message).
    pub destination: Option<GroupAddress>,
    /// Offset of the message in the frame.
    pub body_at: usize,
}

/// Why a routed frame did not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RouteDrop {
    /// Too short or of an unknown kind.
    #[error("malformed routed message")]
    Malformed,
}

/// Routing counters of one group.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoutingCounters {
    /// Messages this node originated.
    pub sent: u64,
    /// Messages forwarded for others (automatically or by `forward_to_nearest`).
    pub forwarded: u64,
    /// Messages that ended here.
    pub delivered: u64,
    /// Routed frames that did not decode (`RouteDrop::Malformed`).
    pub malformed: u64,
    /// Routed messages over `GroupConfig::max_route_bytes`.
    pub too_large: u64,
    /// Routed messages dropped at `GroupConfig::max_hops`.
    pub hop_limit: u64,
    /// Messages for which this node was the nearest but its receive mode (EXACT) did not
    /// accept the address.
    pub undeliverable: u64,
}

/// Encodes a routed frame.
pub fn encode(
    hops: u8,
    origin: &GroupAddress,
    destination: Option<&GroupAddress>,
    message: &[u8],
) -> Vec<u8> {
    let mut out = Vec::with_capacity(3 + 64 + message.len());
    out.push(ROUTE);
    out.push(if destination.is_some() {
        KIND_NEAREST
    } else {
        KIND_NEIGHBOR
    });
    out.push(hops);
    out.extend_from_slice(&origin.0);
    if let Some(d) = destination {
        out.extend_from_slice(&d.0);
    }
    out.extend_from_slice(message);
    out
}

/// Decodes a routed frame header. Errors: [`RouteDrop::Malformed`].
pub fn decode(frame: &[u8]) -> Result<RouteFrame, RouteDrop> {
    let [typ, kind, hops, rest @ ..] = frame else {
        return Err(RouteDrop::Malformed);
    };
    if *typ != ROUTE {
        return Err(RouteDrop::Malformed);
    }
    let (origin, after) = rest.split_first_chunk::<32>().ok_or(RouteDrop::Malformed)?;
    let origin = GroupAddress(*origin);
    match *kind {
        KIND_NEAREST => {
            let d = after.first_chunk::<32>().ok_or(RouteDrop::Malformed)?;
            Ok(RouteFrame {
                hops: *hops,
                origin,
                destination: Some(GroupAddress(*d)),
                body_at: 3 + 64,
            })
        }
        KIND_NEIGHBOR => Ok(RouteFrame {
            hops: *hops,
            origin,
            destination: None,
            body_at: 3 + 32,
        }),
        _ => Err(RouteDrop::Malformed),
    }
}

/// Where a message toward `destination` goes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hop {
    /// This node is the nearest; `accepted` says whether its receive mode accepts it.
    Local {
        /// NEAREST mode, or an exact match.
        accepted: bool,
    },
    /// The neighbour nearer to the destination.
    Neighbor(PeerId),
}

/// The greedy next hop toward `destination` from a node at `own` (mode `mode`) with
/// `neighbors` (address, peer) — see the module docs.
pub fn next_hop(
    own: &GroupAddress,
    mode: ReceiveMode,
    destination: &GroupAddress,
    neighbors: impl IntoIterator<Item = (GroupAddress, PeerId)>,
) -> Hop {
    let mut best = (own.distance(destination), *own, None);
    for (addr, peer) in neighbors {
        let d = addr.distance(destination);
        if (d, addr) < (best.0, best.1) {
            best = (d, addr, Some(peer));
        }
    }
    match best.2 {
        Some(p) => Hop::Neighbor(p),
        None => Hop::Local {
            accepted: mode == ReceiveMode::Nearest || own == destination,
        },
    }
}

/// The neighbour next to `own` in the increasing (`up`) or decreasing direction.
pub fn adjacent(
    own: &GroupAddress,
    up: bool,
    neighbors: impl IntoIterator<Item = (GroupAddress, PeerId)>,
) -> Option<PeerId> {
    neighbors
        .into_iter()
        .filter(|(a, _)| a != own)
        .min_by_key(|(a, _)| {
            if up {
                own.increasing_distance(a)
            } else {
                a.increasing_distance(own)
            }
        })
        .map(|(_, p)| p)
}

/// `localCoverageFrom` / `localCoverageTo` (docs/protocol/netgroup.md, "Ring distance and coverage"
/// \[INFER\]): the arc from the midpoint with the previous neighbour to the midpoint with the next
/// one; the whole ring (`own`, `own`) without neighbours.
pub fn coverage(
    own: &GroupAddress,
    neighbors: impl IntoIterator<Item = (GroupAddress, PeerId)> + Clone,
) -> (GroupAddress, GroupAddress) {
    let pred = neighbors
        .clone()
        .into_iter()
        .filter(|(a, _)| a != own)
        .min_by_key(|(a, _)| a.increasing_distance(own))
        .map(|(a, _)| a);
    let succ = neighbors
        .into_iter()
        .filter(|(a, _)| a != own)
        .min_by_key(|(a, _)| own.increasing_distance(a))
        .map(|(a, _)| a);
    match (pred, succ) {
        (Some(p), Some(s)) => (p.midpoint_towards(own), own.midpoint_towards(&s)),
        _ => (*own, *own),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a(b: u8) -> GroupAddress {
        GroupAddress([b; 32])
    }

    #[test]
    fn frames_round_trip_and_reject_garbage() {
        let f = encode(3, &a(1), Some(&a(2)), b"hi");
        let d = decode(&f).unwrap();
        assert_eq!((d.hops, d.origin, d.destination), (3, a(1), Some(a(2))));
        assert_eq!(&f[d.body_at..], b"hi");
        let f = encode(0, &a(1), None, b"yo");
        let d = decode(&f).unwrap();
        assert_eq!(d.destination, None);
        assert_eq!(&f[d.body_at..], b"yo");
        for bad in [&[][..], &[ROUTE, 0, 0][..], &[ROUTE, 7, 0, 1][..], &f[..20]] {
            assert_eq!(decode(bad), Err(RouteDrop::Malformed));
        }
        let mut short = encode(0, &a(1), Some(&a(2)), b"");
        short.truncate(50);
        assert_eq!(decode(&short), Err(RouteDrop::Malformed));
    }

    #[test]
    fn greedy_hop_and_modes() {
        let n = [(a(0x10), PeerId([1; 32])), (a(0x80), PeerId([2; 32]))];
        assert_eq!(
            next_hop(&a(0x40), ReceiveMode::Exact, &a(0x78), n),
            Hop::Neighbor(PeerId([2; 32]))
        );
        assert_eq!(
            next_hop(&a(0x40), ReceiveMode::Exact, &a(0x41), n),
            Hop::Local { accepted: false }
        );
        assert_eq!(
            next_hop(&a(0x40), ReceiveMode::Nearest, &a(0x41), n),
            Hop::Local { accepted: true }
        );
        assert_eq!(
            next_hop(&a(0x40), ReceiveMode::Exact, &a(0x40), n),
            Hop::Local { accepted: true }
        );
        // Wrap-around: 0xf0 is nearer to 0x10 than to 0x80.
        assert_eq!(
            next_hop(&a(0x40), ReceiveMode::Exact, &a(0xf0), n),
            Hop::Neighbor(PeerId([1; 32]))
        );
        assert_eq!(adjacent(&a(0x40), true, n), Some(PeerId([2; 32])));
        assert_eq!(adjacent(&a(0x40), false, n), Some(PeerId([1; 32])));
        assert_eq!(adjacent(&a(0x40), false, []), None);
        let (from, to) = coverage(&a(0x40), n);
        assert!(from < a(0x40) && to > a(0x40));
        assert_eq!(coverage(&a(0x40), []), (a(0x40), a(0x40)));
    }
}
