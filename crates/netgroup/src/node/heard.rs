//! The heard list (docs/protocol/netgroup.md, "Identities and the ring", "Group report"): every
//! member a node has learned about, with the time of its latest news and the addresses it can be
//! reached at.
//!
//! A member holds hundreds of these records (≈ 200 at 1,000 members,
//! ≈ 340 at 10,000 and ≈ 490 at 100,000),
//! so they are kept compact: one vector sorted by group address (the ring the best list and the
//! member estimate walk), whose records carry the peer ID (a reference to the copy in a
//! [`PeerIdTable`] the process's heard lists share), the time of the news and an
//! [`AddressList`] of 8 bytes: one IPv4 address inline and, by index, the relay address the
//! members share (other lists sit whole in the list's [`AddressTable`]). Looking a member up
//! by peer ID recomputes its group address (one SHA-256 block, docs/protocol/netgroup.md, "Group
//! address") instead of keeping a second index; callers that know the address (a neighbour's) pass
//! it.

use std::cell::Cell;
use std::cmp::Ordering;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use rtmfp::{AddressOrigin, Instant, PeerAddress};

use crate::best_list::{Ring, RingMember};
use crate::id::{GroupAddress, PeerId};
use crate::peer_table::{PeerIdTable, SharedPeerId};

/// A member's addresses as its record keeps them, in 8 bytes (docs/protocol/netgroup.md, "Group
/// report": a member reports its rendezvous server as a relay address, origin 3, then its own
/// public address).
///
/// Byte 0 is the layout (low nibble) and the origin of the inline address (high nibble);
/// bytes 1–6 an IPv4 address and port (big-endian); byte 7 the index of a relay address in the
/// heard list's table of relays, which the members of a group share ([`AddressTable::relays`]). The
/// layouts: no address; one IPv4 address; one IPv4 address and a relay, in either order; a
/// relay alone; or, for anything else (more addresses, IPv6 with its scope and flow label, a
/// full relay table), the index of the whole list in [`AddressTable`] in bytes 1–4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct AddressList([u8; 8]);

/// Layouts of an [`AddressList`] (byte 0, low nibble).
const EMPTY: u8 = 0;
const ONE: u8 = 1;
const ONE_THEN_RELAY: u8 = 2;
const RELAY_THEN_ONE: u8 = 3;
const RELAY: u8 = 4;
const SPILLED: u8 = 5;

/// Most relay addresses a heard list shares between its records (a group's members use one
/// rendezvous server, or a few).
const MAX_RELAYS: usize = 256;

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

/// What a heard list's records keep outside themselves: the relay addresses they share and the
/// address lists that fit no inline layout (in slots reused once freed).
#[derive(Debug, Default)]
pub(crate) struct AddressTable {
    /// Relay addresses named by records, never more than [`MAX_RELAYS`]. Not pruned: a group
    /// has few.
    relays: Vec<SocketAddrV4>,
    lists: Vec<Option<Box<[PeerAddress]>>>,
    free: Vec<u32>,
}

impl AddressTable {
    /// Number of whole lists held.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lists.len() - self.free.len()
    }

    /// The index of relay `a`, added if there is room.
    fn relay_index(&mut self, a: SocketAddrV4) -> Option<u8> {
        let i = match self.relays.iter().position(|r| *r == a) {
            Some(i) => i,
            None if self.relays.len() < MAX_RELAYS => {
                self.relays.push(a);
                self.relays.len() - 1
            }
            None => return None,
        };
        u8::try_from(i).ok()
    }

    fn relay(&self, i: u8) -> PeerAddress {
        let a = self
            .relays
            .get(usize::from(i))
            .copied()
            .unwrap_or(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 0));
        PeerAddress::new(SocketAddr::V4(a), AddressOrigin::Relay)
    }

    fn put(&mut self, list: &[PeerAddress]) -> u32 {
        let boxed = Some(Box::from(list));
        match self.free.pop() {
            Some(i) => {
                self.lists[i as usize] = boxed;
                i
            }
            None => {
                // At most `max_heard` records, far below u32::MAX.
                let i = u32::try_from(self.lists.len()).unwrap_or(u32::MAX);
                self.lists.push(boxed);
                i
            }
        }
    }

    fn get(&self, i: u32) -> &[PeerAddress] {
        self.lists
            .get(i as usize)
            .and_then(|l| l.as_deref())
            .unwrap_or(&[])
    }

    fn release(&mut self, i: u32) {
        if let Some(slot) = self.lists.get_mut(i as usize) {
            if slot.take().is_some() {
                self.free.push(i);
            }
        }
        if self.free.len() == self.lists.len() {
            self.lists = Vec::new();
            self.free = Vec::new();
        }
    }
}

fn v4_of(a: &PeerAddress) -> Option<SocketAddrV4> {
    match a.addr {
        SocketAddr::V4(v4) => Some(v4),
        SocketAddr::V6(_) => None,
    }
}

impl AddressList {
    fn packed(layout: u8, inline: Option<&PeerAddress>, relay: u8) -> Self {
        let mut b = [0u8; 8];
        b[0] = layout;
        if let Some(a) = inline {
            if let SocketAddr::V4(v4) = a.addr {
                b[0] |= origin_byte(a.origin) << 4;
                b[1..5].copy_from_slice(&v4.ip().octets());
                b[5..7].copy_from_slice(&v4.port().to_be_bytes());
            }
        }
        b[7] = relay;
        AddressList(b)
    }

    fn inline(&self) -> PeerAddress {
        let b = &self.0;
        let ip = Ipv4Addr::new(b[1], b[2], b[3], b[4]);
        let port = u16::from_be_bytes([b[5], b[6]]);
        PeerAddress::new(
            SocketAddr::V4(SocketAddrV4::new(ip, port)),
            origin_from(b[0] >> 4),
        )
    }

    fn spilled_index(&self) -> Option<u32> {
        (self.0[0] & 0x0f == SPILLED)
            .then(|| u32::from_be_bytes([self.0[1], self.0[2], self.0[3], self.0[4]]))
    }

    /// Stores `list` (order kept): inline where a layout fits, in `table` otherwise.
    fn store(list: &[PeerAddress], table: &mut AddressTable) -> Self {
        let relay = |a: &PeerAddress, table: &mut AddressTable| {
            if a.origin == AddressOrigin::Relay {
                table.relay_index(v4_of(a)?)
            } else {
                None
            }
        };
        let fits = match list {
            [] => Some(Self::packed(EMPTY, None, 0)),
            [a] => match relay(a, table) {
                Some(r) => Some(Self::packed(RELAY, None, r)),
                None => v4_of(a).map(|_| Self::packed(ONE, Some(a), 0)),
            },
            [a, b] => match (relay(a, table), v4_of(b)) {
                (Some(r), Some(_)) => Some(Self::packed(RELAY_THEN_ONE, Some(b), r)),
                _ => match (v4_of(a), relay(b, table)) {
                    (Some(_), Some(r)) => Some(Self::packed(ONE_THEN_RELAY, Some(a), r)),
                    _ => None,
                },
            },
            _ => None,
        };
        fits.unwrap_or_else(|| {
            let mut b = [0u8; 8];
            b[0] = SPILLED;
            b[1..5].copy_from_slice(&table.put(list).to_be_bytes());
            AddressList(b)
        })
    }

    /// The addresses, in order.
    fn to_vec(self, table: &AddressTable) -> Vec<PeerAddress> {
        match self.0[0] & 0x0f {
            ONE => vec![self.inline()],
            ONE_THEN_RELAY => vec![self.inline(), table.relay(self.0[7])],
            RELAY_THEN_ONE => vec![table.relay(self.0[7]), self.inline()],
            RELAY => vec![table.relay(self.0[7])],
            SPILLED => self
                .spilled_index()
                .map_or(Vec::new(), |i| table.get(i).to_vec()),
            _ => Vec::new(),
        }
    }

    /// Gives back what `self` holds in `table`.
    fn release(self, table: &mut AddressTable) {
        if let Some(i) = self.spilled_index() {
            table.release(i);
        }
    }

    /// Merges `new` in (see [`merge_addresses`]), keeping at most `max` addresses.
    fn merge(&mut self, new: &[PeerAddress], max: usize, table: &mut AddressTable) {
        if new.is_empty() {
            return;
        }
        let mut list = self.to_vec(table);
        if merge_addresses(&mut list, new, max) {
            self.release(table);
            *self = AddressList::store(&list, table);
        }
    }
}

/// Adds the usable addresses of `new` to `into`: an address already there takes the new origin,
/// others are appended while `into` holds fewer than `max`; unspecified IPs and port 0 are
/// skipped. Returns whether `into` changed.
pub(crate) fn merge_addresses(
    into: &mut Vec<PeerAddress>,
    new: &[PeerAddress],
    max: usize,
) -> bool {
    let mut changed = false;
    for a in new {
        if a.addr.ip().is_unspecified() || a.addr.port() == 0 {
            continue;
        }
        if let Some(old) = into.iter_mut().find(|o| o.addr == a.addr) {
            changed |= old.origin != a.origin;
            old.origin = a.origin;
        } else if into.len() < max {
            into.push(*a);
            changed = true;
        }
    }
    changed
}

/// The first 32 bits of a group address (big-endian): a heard record's position on the ring.
fn prefix_u32(address: &GroupAddress) -> u32 {
    (address.prefix_u64() >> 32) as u32
}

/// A time in whole seconds since [`Instant::ZERO`], rounded down (saturating after 136
/// years): the resolution reports carry news ages in (docs/protocol/netgroup.md, "Group report",
/// elapsed seconds).
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

/// One heard-list record: 24 bytes.
#[derive(Debug, Clone)]
pub(crate) struct Heard {
    /// The first 32 bits of the member's group address (big-endian), its position on the
    /// ring; the rest is recomputed from the peer ID when two prefixes tie.
    prefix: u32,
    /// Time of the latest news of the member (a report naming it, a message from it).
    last_news: NewsTime,
    /// The member's peer ID, the shared copy in the list's [`PeerIdTable`].
    peer: SharedPeerId,
    /// Read through [`HeardList::addresses`].
    addresses: AddressList,
}

impl Heard {
    /// The member's peer ID.
    pub fn peer(&self) -> &PeerId {
        &self.peer
    }

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

/// The heard list of one group, sorted by group address (docs/protocol/netgroup.md, "Ring distance
/// and coverage").
///
/// A vector kept sorted, not a B-tree: a record is 24 bytes, and a B-tree's partly filled
/// nodes cost about half as much again per record; the vector's capacity is kept exact for the
/// same reason. A record keeps only the first 32 bits of the member's group address: the full
/// address is a SHA-256 of the peer ID (docs/protocol/netgroup.md, "Group address"), recomputed
/// when two prefixes tie (rare but for the one member a lookup or a neighbour's best list is about,
/// which the peer ID settles or the tie cache remembers). Lookups are binary searches; an insertion
/// or removal moves the records after it (a few tens of kilobytes at most, and far rarer than
/// lookups).
#[derive(Debug)]
pub(crate) struct HeardList {
    ring: Vec<Heard>,
    /// The relays the records share and the address lists that do not fit inline.
    table: AddressTable,
    /// The last full address recomputed on a prefix tie, with its peer.
    tie: Cell<Option<(PeerId, GroupAddress)>>,
    /// Where the records' peer IDs are kept (shared with the other lists of the process that
    /// were given a clone of it).
    ids: PeerIdTable,
}

impl HeardList {
    /// An empty list whose records keep their peer IDs in `ids`.
    pub fn new(ids: PeerIdTable) -> Self {
        HeardList {
            ring: Vec::new(),
            table: AddressTable::default(),
            tie: Cell::new(None),
            ids,
        }
    }

    /// Number of members heard of.
    pub fn len(&self) -> usize {
        self.ring.len()
    }

    /// The full group address of record `i` (cached for the last tie).
    fn full_address(&self, i: usize) -> GroupAddress {
        let peer = *self.ring[i].peer;
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
            Ordering::Equal if peer == Some(&*self.ring[i].peer) => Ordering::Equal,
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

    /// The addresses of record `h` (one of this list's), in the order they were learned.
    pub fn addresses(&self, h: &Heard) -> Vec<PeerAddress> {
        h.addresses.to_vec(&self.table)
    }

    /// The record of `peer`.
    pub fn get(&self, peer: &PeerId) -> Option<&Heard> {
        let i = self.find(&peer.group_address(), Some(peer)).ok()?;
        Some(&self.ring[i]).filter(|h| *h.peer == *peer)
    }

    /// The record of `peer`, whose group address the caller knows (a neighbour's): no hashing.
    pub fn get_at_mut(&mut self, address: &GroupAddress, peer: &PeerId) -> Option<&mut Heard> {
        let i = self.find(address, Some(peer)).ok()?;
        Some(&mut self.ring[i]).filter(|h| *h.peer == *peer)
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
                h.addresses.merge(addrs, max_addresses, &mut self.table);
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
                peer: self.ids.intern(&peer),
                addresses: AddressList::store(&list, &mut self.table),
            },
        );
        Touch::New
    }

    /// Forgets `peer`; returns whether it was there.
    pub fn remove(&mut self, peer: &PeerId) -> bool {
        match self.find(&peer.group_address(), Some(peer)) {
            Ok(i) => {
                self.ring.remove(i).addresses.release(&mut self.table);
                true
            }
            Err(_) => false,
        }
    }

    /// Drops every record for which `keep` is false.
    pub fn retain(&mut self, mut keep: impl FnMut(&Heard) -> bool) {
        let table = &mut self.table;
        self.ring.retain(|h| {
            let kept = keep(h);
            if !kept {
                h.addresses.release(table);
            }
            kept
        });
        self.ring.shrink_to_fit();
    }
}

/// The heard list as the best list and the member estimate read it (docs/protocol/netgroup.md,
/// "Member count estimate", "Best list").
impl Ring for HeardList {
    fn len(&self) -> usize {
        self.ring.len()
    }

    fn peer(&self, i: usize) -> &PeerId {
        &self.ring[i].peer
    }

    /// Recomputed from the peer ID (the record keeps 32 bits; the estimate reads two
    /// prefixes per call, docs/protocol/netgroup.md, "Member count estimate").
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

    /// Every layout reads back the list it stored, in order; only lists that fit none of them
    /// take a slot in the address table.
    #[test]
    fn address_list_round_trips_inline_and_spilled() {
        let mut table = AddressTable::default();
        let own = v4("10.0.0.1:1935", AddressOrigin::Observed);
        let server = v4("10.9.9.9:1935", AddressOrigin::Relay);
        let other_server = v4("10.9.9.8:1935", AddressOrigin::Relay);
        let lan = v4("192.168.1.2:40000", AddressOrigin::Reported);
        let inline: [&[PeerAddress]; 6] = [
            &[],
            &[own],
            &[server],
            &[server, own],
            &[own, server],
            &[other_server, lan],
        ];
        let stored: Vec<AddressList> = inline
            .iter()
            .map(|l| AddressList::store(l, &mut table))
            .collect();
        for (l, s) in inline.iter().zip(&stored) {
            assert_eq!(s.to_vec(&table), l.to_vec());
            assert_eq!(s.spilled_index(), None, "{l:?} fits inline");
        }
        assert_eq!(table.len(), 0);
        assert_eq!(
            table.relays.len(),
            2,
            "a relay is kept once for all records"
        );
        assert_eq!(stored[0], AddressList::default());

        // IPv6 keeps its scope ID, so it is never packed; nor are two non-relay addresses.
        let scoped = PeerAddress::new(
            SocketAddr::V6(std::net::SocketAddrV6::new(
                "fe80::1".parse().unwrap(),
                1935,
                0,
                3,
            )),
            AddressOrigin::Observed,
        );
        let l6 = AddressList::store(&[scoped], &mut table);
        let l2 = AddressList::store(&[own, lan], &mut table);
        let l3 = AddressList::store(&[server, own, lan], &mut table);
        assert_eq!(l6.to_vec(&table), vec![scoped]);
        assert_eq!(l2.to_vec(&table), vec![own, lan]);
        assert_eq!(l3.to_vec(&table), vec![server, own, lan]);
        assert_eq!(table.len(), 3);
        // A freed slot is reused, and the table is dropped once empty.
        l2.release(&mut table);
        assert_eq!(table.len(), 2);
        let again = AddressList::store(&[lan, own], &mut table);
        assert_eq!(
            again.spilled_index(),
            l2.spilled_index(),
            "the freed slot is taken"
        );
        assert_eq!(l6.to_vec(&table), vec![scoped]);
        for l in [again, l3, l6] {
            l.release(&mut table);
        }
        assert_eq!(table.len(), 0);
        assert_eq!(table.lists.capacity(), 0);
        assert_eq!(std::mem::size_of::<AddressList>(), 8);
    }

    /// Past [`MAX_RELAYS`] distinct relays, a list pairing a new one with another address is
    /// spilled whole.
    #[test]
    fn a_full_relay_table_spills() {
        let mut table = AddressTable::default();
        for i in 0..MAX_RELAYS {
            let r = PeerAddress::new(
                SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 1), i as u16 + 1)),
                AddressOrigin::Relay,
            );
            assert_eq!(AddressList::store(&[r], &mut table).spilled_index(), None);
        }
        let late = v4("10.1.1.1:1", AddressOrigin::Relay);
        let own = v4("10.0.0.2:1935", AddressOrigin::Observed);
        let alone = AddressList::store(&[late], &mut table);
        assert_eq!(
            alone.spilled_index(),
            None,
            "one IPv4 address is inline, relay or not"
        );
        assert_eq!(alone.to_vec(&table), vec![late]);
        let pair = AddressList::store(&[late, own], &mut table);
        assert!(pair.spilled_index().is_some());
        assert_eq!(pair.to_vec(&table), vec![late, own]);
        assert_eq!(table.relays.len(), MAX_RELAYS);
    }

    #[test]
    fn merge_updates_origin_skips_unusable_and_bounds() {
        let mut table = AddressTable::default();
        let mut l = AddressList::store(&[v4("10.0.0.1:1935", AddressOrigin::Reported)], &mut table);
        l.merge(
            &[
                v4("10.0.0.1:1935", AddressOrigin::Observed),
                v4("0.0.0.0:1935", AddressOrigin::Reported),
                v4("10.0.0.2:0", AddressOrigin::Reported),
                v4("10.0.0.3:7", AddressOrigin::Reported),
                v4("10.0.0.4:7", AddressOrigin::Reported),
            ],
            2,
            &mut table,
        );
        assert_eq!(
            l.to_vec(&table),
            vec![
                v4("10.0.0.1:1935", AddressOrigin::Observed),
                v4("10.0.0.3:7", AddressOrigin::Reported)
            ]
        );
        assert_eq!(table.len(), 1);
        // The same news again changes nothing and keeps the slot.
        let before = l;
        l.merge(&[v4("10.0.0.3:7", AddressOrigin::Reported)], 2, &mut table);
        assert_eq!(l, before);
        assert_eq!(table.len(), 1);
    }

    /// Records removed one by one or dropped by `retain` give their spilled lists back.
    #[test]
    fn removed_records_free_their_spilled_addresses() {
        let mut h = HeardList::new(PeerIdTable::new());
        let two = [
            v4("10.0.0.1:1935", AddressOrigin::Observed),
            v4("192.168.1.2:40000", AddressOrigin::Reported),
        ];
        let peers: Vec<PeerId> = (1..=4u8).map(|i| PeerId([i; 32])).collect();
        for p in &peers {
            assert_eq!(h.touch(*p, Instant(1), &two, 8, 10), Touch::New);
        }
        assert_eq!(h.table.len(), 4);
        for p in &peers {
            assert_eq!(h.addresses(h.get(p).unwrap()), two);
        }
        assert!(h.remove(&peers[0]));
        assert_eq!(h.table.len(), 3);
        h.retain(|r| *r.peer == peers[1]);
        assert_eq!(h.table.len(), 1);
        assert_eq!(h.addresses(h.get(&peers[1]).unwrap()), two);
    }

    #[test]
    fn touch_adds_updates_and_respects_the_bound() {
        let mut h = HeardList::new(PeerIdTable::new());
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
        assert_eq!(h.addresses(rec), addr);
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
        let mut h = HeardList::new(PeerIdTable::new());
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
            assert_eq!(h.get(p).map(|r| *r.peer), Some(*p));
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
        assert_eq!(std::mem::size_of::<Heard>(), 24);
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
