//! The heard list (netgroup digest §3, §5.6): every member a node has learned about, with the
//! time of its latest news and the addresses it can be reached at.
//!
//! A member holds hundreds of these records (≈ 200 at 1,000 members,
//! ≈ 340 at 10,000 and ≈ 490 at 100,000),
//! so they are kept compact: one vector sorted by group address (the ring the best list and the
//! member estimate walk), whose records carry the peer ID, the time of the news and an
//! [`AddressList`] that stores up to two IPv4 addresses inline. Looking a member up by peer ID
//! recomputes its group address (one SHA-256 block, digest §3.2) instead of keeping a second
//! index; callers that know the address (a neighbour's) pass it.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use rtmfp::{AddressOrigin, Instant, PeerAddress};

use crate::best_list::RingMember;
use crate::id::{GroupAddress, PeerId};

/// IPv4 addresses an [`AddressList`] stores without allocating (a member has one or two:
/// its public address and perhaps a LAN one).
const INLINE_V4: usize = 2;
/// Bytes per inline IPv4 address: origin, 4 address bytes, port (big-endian).
const V4_LEN: usize = 7;

/// A member's addresses in the order they were learned, compact: up to two IPv4 addresses
/// inline (16 bytes in all), otherwise a boxed slice behind a thin pointer. IPv6 addresses are
/// kept whole, scope and flow label included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum AddressList {
    /// `len` IPv4 addresses of [`V4_LEN`] bytes each.
    Inline {
        len: u8,
        bytes: [u8; INLINE_V4 * V4_LEN],
    },
    /// Any other list (doubly boxed: a thin pointer keeps the enum at 16 bytes).
    Boxed(Box<Box<[PeerAddress]>>),
}

impl Default for AddressList {
    fn default() -> Self {
        AddressList::Inline {
            len: 0,
            bytes: [0; INLINE_V4 * V4_LEN],
        }
    }
}

fn origin_byte(o: AddressOrigin) -> u8 {
    match o {
        AddressOrigin::Unknown => 0,
        AddressOrigin::Reported => 1,
        AddressOrigin::Observed => 2,
        AddressOrigin::Relay => 3,
    }
}

fn origin_from(b: u8) -> AddressOrigin {
    match b {
        0 => AddressOrigin::Unknown,
        1 => AddressOrigin::Reported,
        2 => AddressOrigin::Observed,
        _ => AddressOrigin::Relay,
    }
}

impl AddressList {
    /// Builds the compact form of `list` (order kept).
    pub fn from_slice(list: &[PeerAddress]) -> Self {
        let all_v4 = list.iter().all(|a| matches!(a.addr, SocketAddr::V4(_)));
        if !all_v4 || list.len() > INLINE_V4 {
            return AddressList::Boxed(Box::new(list.into()));
        }
        let mut bytes = [0u8; INLINE_V4 * V4_LEN];
        for (chunk, a) in bytes.chunks_exact_mut(V4_LEN).zip(list) {
            if let SocketAddr::V4(v4) = a.addr {
                chunk[0] = origin_byte(a.origin);
                chunk[1..5].copy_from_slice(&v4.ip().octets());
                chunk[5..7].copy_from_slice(&v4.port().to_be_bytes());
            }
        }
        AddressList::Inline {
            len: list.len() as u8,
            bytes,
        }
    }

    /// The addresses, in order.
    pub fn to_vec(&self) -> Vec<PeerAddress> {
        match self {
            AddressList::Inline { len, bytes } => bytes
                .chunks_exact(V4_LEN)
                .take(usize::from(*len))
                .map(|c| {
                    let ip = Ipv4Addr::new(c[1], c[2], c[3], c[4]);
                    let port = u16::from_be_bytes([c[5], c[6]]);
                    PeerAddress::new(
                        SocketAddr::V4(SocketAddrV4::new(ip, port)),
                        origin_from(c[0]),
                    )
                })
                .collect(),
            AddressList::Boxed(b) => b.to_vec(),
        }
    }

    /// Merges `new` in (see [`merge_addresses`]), keeping at most `max` addresses.
    pub fn merge(&mut self, new: &[PeerAddress], max: usize) {
        if new.is_empty() {
            return;
        }
        let mut list = self.to_vec();
        merge_addresses(&mut list, new, max);
        *self = AddressList::from_slice(&list);
    }
}

/// Adds the usable addresses of `new` to `into`: an address already there takes the new origin,
/// others are appended while `into` holds fewer than `max`; unspecified IPs and port 0 are
/// skipped.
pub(crate) fn merge_addresses(into: &mut Vec<PeerAddress>, new: &[PeerAddress], max: usize) {
    for a in new {
        if a.addr.ip().is_unspecified() || a.addr.port() == 0 {
            continue;
        }
        if let Some(old) = into.iter_mut().find(|o| o.addr == a.addr) {
            old.origin = a.origin;
        } else if into.len() < max {
            into.push(*a);
        }
    }
}

/// One heard-list record.
#[derive(Debug, Clone)]
pub(crate) struct Heard {
    pub peer: PeerId,
    /// Time of the latest news of the member (a report naming it, a message from it).
    pub last_news: Instant,
    pub addresses: AddressList,
}

impl RingMember for Heard {
    fn peer_id(&self) -> &PeerId {
        &self.peer
    }
}

/// What [`HeardList::touch`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Touch {
    /// The member was already known: its news time and addresses were updated.
    Known,
    /// The member was added.
    New,
    /// The member is new but the list is full: nothing was recorded.
    Full,
}

/// The heard list of one group, sorted by group address (digest §3.3).
///
/// A vector kept sorted, not a B-tree: a record is 88 bytes, and a B-tree's partly filled
/// nodes cost about half as much again per record; the vector's capacity is kept exact for the
/// same reason. Lookups are binary searches; an insertion or removal moves the records
/// after it (a few tens of kilobytes at most, and far rarer than lookups).
#[derive(Debug, Default)]
pub(crate) struct HeardList {
    ring: Vec<(GroupAddress, Heard)>,
}

impl HeardList {
    /// Number of members heard of.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// The records on the ring, in address order.
    pub fn ring(&self) -> &[(GroupAddress, Heard)] {
        &self.ring
    }

    fn find(&self, address: &GroupAddress) -> Result<usize, usize> {
        self.ring.binary_search_by(|(a, _)| a.cmp(address))
    }

    /// The record of `peer`.
    pub fn get(&self, peer: &PeerId) -> Option<&Heard> {
        let i = self.find(&peer.group_address()).ok()?;
        Some(&self.ring[i].1).filter(|h| h.peer == *peer)
    }

    /// The record at `address` (the member's group address, when the caller knows it).
    pub fn get_at_mut(&mut self, address: &GroupAddress) -> Option<&mut Heard> {
        let i = self.find(address).ok()?;
        Some(&mut self.ring[i].1)
    }

    /// Records news of `peer` dated `at` with `addrs` (merged, at most `max_addresses`); a new
    /// member is added only while the list holds fewer than `max_heard`.
    pub fn touch(
        &mut self,
        peer: PeerId,
        at: Instant,
        addrs: &[PeerAddress],
        max_addresses: usize,
        max_heard: usize,
    ) -> Touch {
        let address = peer.group_address();
        let at_index = match self.find(&address) {
            Ok(i) => {
                let h = &mut self.ring[i].1;
                h.last_news = h.last_news.max(at);
                h.addresses.merge(addrs, max_addresses);
                return Touch::Known;
            }
            Err(i) => i,
        };
        if self.ring.len() >= max_heard {
            return Touch::Full;
        }
        // Exact growth: the list is a member's largest structure, and an insertion moves the
        // records after it anyway.
        self.ring.reserve_exact(1);
        let mut list = Vec::new();
        merge_addresses(&mut list, addrs, max_addresses);
        self.ring.insert(
            at_index,
            (
                address,
                Heard {
                    peer,
                    last_news: at,
                    addresses: AddressList::from_slice(&list),
                },
            ),
        );
        Touch::New
    }

    /// Forgets `peer`; returns whether it was there.
    pub fn remove(&mut self, peer: &PeerId) -> bool {
        match self.find(&peer.group_address()) {
            Ok(i) => {
                self.ring.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    /// Drops every record for which `keep` is false.
    pub fn retain(&mut self, mut keep: impl FnMut(&Heard) -> bool) {
        self.ring.retain(|(_, h)| keep(h));
        self.ring.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str, o: AddressOrigin) -> PeerAddress {
        PeerAddress::new(s.parse().unwrap(), o)
    }

    #[test]
    fn address_list_round_trips_inline_and_boxed() {
        let two = [
            v4("10.0.0.1:1935", AddressOrigin::Observed),
            v4("192.168.1.2:40000", AddressOrigin::Reported),
        ];
        let l = AddressList::from_slice(&two);
        assert!(matches!(l, AddressList::Inline { len: 2, .. }));
        assert_eq!(l.to_vec(), two);
        let mut three = two.to_vec();
        three.push(v4("1.2.3.4:65535", AddressOrigin::Relay));
        let l = AddressList::from_slice(&three);
        assert!(matches!(l, AddressList::Boxed(_)));
        assert_eq!(l.to_vec(), three);
        // IPv6 keeps its scope ID, so it is never packed.
        let scoped = PeerAddress::new(
            SocketAddr::V6(std::net::SocketAddrV6::new(
                "fe80::1".parse().unwrap(),
                1935,
                0,
                3,
            )),
            AddressOrigin::Observed,
        );
        let l = AddressList::from_slice(&[scoped]);
        assert_eq!(l.to_vec(), vec![scoped]);
        assert_eq!(std::mem::size_of::<AddressList>(), 16);
        assert_eq!(std::mem::size_of::<(GroupAddress, Heard)>(), 88);
    }

    #[test]
    fn merge_updates_origin_skips_unusable_and_bounds() {
        let mut l = AddressList::from_slice(&[v4("10.0.0.1:1935", AddressOrigin::Reported)]);
        l.merge(
            &[
                v4("10.0.0.1:1935", AddressOrigin::Observed),
                v4("0.0.0.0:1935", AddressOrigin::Reported),
                v4("10.0.0.2:0", AddressOrigin::Reported),
                v4("10.0.0.3:7", AddressOrigin::Reported),
                v4("10.0.0.4:7", AddressOrigin::Reported),
            ],
            2,
        );
        assert_eq!(
            l.to_vec(),
            vec![
                v4("10.0.0.1:1935", AddressOrigin::Observed),
                v4("10.0.0.3:7", AddressOrigin::Reported)
            ]
        );
    }

    #[test]
    fn touch_adds_updates_and_respects_the_bound() {
        let mut h = HeardList::default();
        let a = PeerId([1; 32]);
        let b = PeerId([2; 32]);
        let addr = [v4("10.0.0.1:1935", AddressOrigin::Reported)];
        assert_eq!(h.touch(a, Instant(5), &addr, 8, 1), Touch::New);
        assert_eq!(h.touch(b, Instant(5), &addr, 8, 1), Touch::Full);
        assert_eq!(h.touch(a, Instant(3), &[], 8, 1), Touch::Known);
        let rec = h.get(&a).unwrap();
        assert_eq!(
            rec.last_news,
            Instant(5),
            "older news does not move the time back"
        );
        assert_eq!(rec.addresses.to_vec(), addr);
        assert!(h.get(&b).is_none());
        assert_eq!(h.ring().first().map(|(a, _)| *a), Some(a.group_address()));
        assert!(h.get_at_mut(&a.group_address()).is_some());
        assert!(h.remove(&a));
        assert!(!h.remove(&a));
        assert_eq!(h.len(), 0);
    }
}
