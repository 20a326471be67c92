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

use std::cell::Cell;
use std::cmp::Ordering;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use rtmfp::{AddressOrigin, Instant, PeerAddress};

use crate::best_list::{Ring, RingMember};
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

/// The first 32 bits of a group address (big-endian): a heard record's position on the ring.
fn prefix_u32(address: &GroupAddress) -> u32 {
    (address.prefix_u64() >> 32) as u32
}

/// A time in whole seconds since [`Instant::ZERO`], rounded down (saturating after 136
/// years): the resolution reports carry news ages in (digest §5.6, elapsed seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct NewsTime(u32);

impl NewsTime {
    fn from_instant(t: Instant) -> Self {
        NewsTime(u32::try_from(t.as_micros() / 1_000_000).unwrap_or(u32::MAX))
    }

    fn to_instant(self) -> Instant {
        Instant::from_micros(u64::from(self.0) * 1_000_000)
    }
}

/// One heard-list record: 56 bytes.
#[derive(Debug, Clone)]
pub(crate) struct Heard {
    /// The first 32 bits of the member's group address (big-endian), its position on the
    /// ring; the rest is recomputed from the peer ID when two prefixes tie.
    prefix: u32,
    /// Time of the latest news of the member (a report naming it, a message from it).
    last_news: NewsTime,
    pub peer: PeerId,
    pub addresses: AddressList,
}

impl Heard {
    /// Time of the latest news of the member, to the whole second (rounded down).
    pub fn last_news(&self) -> Instant {
        self.last_news.to_instant()
    }

    /// Records news of the member at `at` (an older time than the latest is ignored).
    pub fn note_news(&mut self, at: Instant) {
        self.last_news = self.last_news.max(NewsTime::from_instant(at));
    }
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
/// A vector kept sorted, not a B-tree: a record is 56 bytes, and a B-tree's partly filled
/// nodes cost about half as much again per record; the vector's capacity is kept exact for the
/// same reason. A record keeps only the first 32 bits of the member's group address: the full
/// address is a SHA-256 of the peer ID (digest §3.2), recomputed when two prefixes tie (rare
/// but for the one member a lookup or a neighbour's best list is about, which the peer ID
/// settles or the tie cache remembers). Lookups are binary searches; an insertion or removal
/// moves the records after it (a few tens of kilobytes at most, and far rarer than lookups).
#[derive(Debug, Default)]
pub(crate) struct HeardList {
    ring: Vec<Heard>,
    /// The last full address recomputed on a prefix tie, with its peer.
    tie: Cell<Option<(PeerId, GroupAddress)>>,
}

impl HeardList {
    /// Number of members heard of.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// The full group address of record `i` (cached for the last tie).
    fn full_address(&self, i: usize) -> GroupAddress {
        let peer = self.ring[i].peer;
        if let Some((p, a)) = self.tie.get() {
            if p == peer {
                return a;
            }
        }
        let a = peer.group_address();
        self.tie.set(Some((peer, a)));
        a
    }

    /// Record `i` against `address`, whose member is `peer` if the caller knows it.
    fn cmp_at(&self, i: usize, address: &GroupAddress, peer: Option<&PeerId>) -> Ordering {
        match self.ring[i].prefix.cmp(&prefix_u32(address)) {
            Ordering::Equal if peer == Some(&self.ring[i].peer) => Ordering::Equal,
            Ordering::Equal => self.full_address(i).cmp(address),
            other => other,
        }
    }

    fn find(&self, address: &GroupAddress, peer: Option<&PeerId>) -> Result<usize, usize> {
        let (mut lo, mut hi) = (0, self.ring.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.cmp_at(mid, address, peer) {
                Ordering::Less => lo = mid + 1,
                Ordering::Greater => hi = mid,
                Ordering::Equal => return Ok(mid),
            }
        }
        Err(lo)
    }

    /// The record of `peer`.
    pub fn get(&self, peer: &PeerId) -> Option<&Heard> {
        let i = self.find(&peer.group_address(), Some(peer)).ok()?;
        Some(&self.ring[i]).filter(|h| h.peer == *peer)
    }

    /// The record of `peer`, whose group address the caller knows (a neighbour's): no hashing.
    pub fn get_at_mut(&mut self, address: &GroupAddress, peer: &PeerId) -> Option<&mut Heard> {
        let i = self.find(address, Some(peer)).ok()?;
        Some(&mut self.ring[i]).filter(|h| h.peer == *peer)
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
        let at_index = match self.find(&address, Some(&peer)) {
            Ok(i) => {
                let h = &mut self.ring[i];
                h.note_news(at);
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
            Heard {
                prefix: prefix_u32(&address),
                last_news: NewsTime::from_instant(at),
                peer,
                addresses: AddressList::from_slice(&list),
            },
        );
        Touch::New
    }

    /// Forgets `peer`; returns whether it was there.
    pub fn remove(&mut self, peer: &PeerId) -> bool {
        match self.find(&peer.group_address(), Some(peer)) {
            Ok(i) => {
                self.ring.remove(i);
                true
            }
            Err(_) => false,
        }
    }

    /// Drops every record for which `keep` is false.
    pub fn retain(&mut self, mut keep: impl FnMut(&Heard) -> bool) {
        self.ring.retain(|h| keep(h));
        self.ring.shrink_to_fit();
    }
}

/// The heard list as the best list and the member estimate read it (digest §3.4, §3.6).
impl Ring for HeardList {
    fn len(&self) -> usize {
        self.ring.len()
    }

    fn peer(&self, i: usize) -> &PeerId {
        &self.ring[i].peer
    }

    /// Recomputed from the peer ID (the record keeps 32 bits; the estimate reads two
    /// prefixes per call, digest §3.4).
    fn prefix(&self, i: usize) -> u64 {
        self.ring[i].peer.group_address().prefix_u64()
    }

    fn cmp_address(&self, i: usize, address: &GroupAddress) -> Ordering {
        self.cmp_at(i, address, None)
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
        assert_eq!(h.touch(a, Instant(5_300_000), &addr, 8, 1), Touch::New);
        assert_eq!(h.touch(b, Instant(5_300_000), &addr, 8, 1), Touch::Full);
        assert_eq!(h.touch(a, Instant(3_000_000), &[], 8, 1), Touch::Known);
        let rec = h.get(&a).unwrap();
        assert_eq!(
            rec.last_news(),
            Instant(5_000_000),
            "older news does not move the time back; news is kept to the second"
        );
        assert_eq!(rec.addresses.to_vec(), addr);
        assert!(h.get(&b).is_none());
        assert_eq!(Ring::peer(&h, 0), &a);
        assert_eq!(Ring::prefix(&h, 0), a.group_address().prefix_u64());
        assert!(h.get_at_mut(&a.group_address(), &a).is_some());
        assert!(h.get_at_mut(&a.group_address(), &b).is_none());
        assert!(h.remove(&a));
        assert!(!h.remove(&a));
        assert_eq!(h.len(), 0);
    }

    /// The compact list (64-bit prefixes, full addresses recomputed on ties) reads as the
    /// same ring as full (address, peer) pairs: same order, same lookups, same best lists for
    /// our own address and for each member's (whose finger searches tie with the member's own
    /// record), same estimate.
    #[test]
    fn the_compact_ring_reads_as_full_addresses() {
        use crate::best_list::{best_list_with_random, BestListRequest};
        use crate::estimate::estimated_member_count;
        use rand_chacha::rand_core::{RngCore, SeedableRng};
        use rand_chacha::ChaCha8Rng;

        let mut rng = ChaCha8Rng::seed_from_u64(16);
        let mut h = HeardList::default();
        let mut full = Vec::new();
        for _ in 0..300 {
            let mut id = [0u8; 32];
            rng.fill_bytes(&mut id);
            let p = PeerId(id);
            assert_eq!(h.touch(p, Instant(1), &[], 8, 1000), Touch::New);
            full.push((p.group_address(), p));
        }
        full.sort();
        assert_eq!(Ring::len(&h), full.len());
        for (i, (a, p)) in full.iter().enumerate() {
            assert_eq!(Ring::peer(&h, i), p);
            assert_eq!(Ring::cmp_address(&h, i, a), Ordering::Equal);
            assert_eq!(h.get(p).map(|r| r.peer), Some(*p));
        }
        let mut own = [0u8; 32];
        rng.fill_bytes(&mut own);
        let own = PeerId(own).group_address();
        assert_eq!(
            estimated_member_count(&h, &own),
            estimated_member_count(&full, &own)
        );
        let targets = std::iter::once((own, None)).chain(full.iter().map(|(a, p)| (*a, Some(*p))));
        for (target, target_peer) in targets.take(60) {
            let req = BestListRequest {
                target,
                target_peer,
                target_count: 25,
                latencies: &[],
                keep_random: None,
            };
            let mut r1 = ChaCha8Rng::seed_from_u64(7);
            let mut r2 = ChaCha8Rng::seed_from_u64(7);
            assert_eq!(
                best_list_with_random(&h, &req, &mut r1),
                best_list_with_random(&full, &req, &mut r2)
            );
            if let Some(p) = target_peer {
                // The finger searches past 64 bits tied with the member's own record, once.
                assert_eq!(h.tie.get().map(|(q, _)| q), Some(p));
            }
        }
        assert_eq!(std::mem::size_of::<Heard>(), 56);
    }

    #[test]
    fn news_time_is_whole_seconds_and_saturates() {
        let t = NewsTime::from_instant(Instant(7_999_999));
        assert_eq!(t.to_instant(), Instant(7_000_000));
        let far = NewsTime::from_instant(Instant(u64::MAX));
        assert_eq!(far, NewsTime(u32::MAX));
        assert!(NewsTime::from_instant(Instant(1_000_000)) < far);
    }
}
