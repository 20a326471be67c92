//! Peer IDs, group addresses and the 256-bit ring (docs/protocol/netgroup.md, "Peer ID and raw ID"
//! to "Ring distance and coverage").
//!
//! A [`PeerId`] is the SHA-256 of an endpoint's RTMFP certificate (RFC 7425 §4.3); its
//! [`GroupAddress`] is `SHA-256(21 0F || peer ID)`, what Flash's
//! `NetGroup.convertPeerIDToGroupAddress()` returns. Addresses are points on the ring
//! mod 2^256, ordered as big-endian integers.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// Error parsing a 64-hex-character identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdParseError {
    /// The text is not exactly 64 characters long.
    #[error("expected 64 hex characters, got {0}")]
    Length(usize),
    /// The text holds a character outside `0-9a-fA-F`.
    #[error("not a hex string")]
    NotHex,
}

fn parse_hex32(s: &str) -> Result<[u8; 32], IdParseError> {
    if s.len() != 64 {
        return Err(IdParseError::Length(s.len()));
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(s, &mut out).map_err(|_| IdParseError::NotHex)?;
    Ok(out)
}

/// A peer ID: SHA-256 of the peer's certificate (docs/protocol/netgroup.md, "Peer ID and raw ID"),
/// 32 bytes.
///
/// Displayed and parsed as 64 lowercase hex characters, the form of `NetConnection.nearID`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct PeerId(pub [u8; 32]);

impl PeerId {
    /// The raw ID `21 0F <peer ID>` (34 bytes): the peer ID as an option of type 0x0F, which is
    /// also the endpoint discriminator that selects this peer (RFC 7425 §4.4).
    pub fn raw_id(&self) -> [u8; 34] {
        let mut out = [0u8; 34];
        out[0] = 0x21;
        out[1] = 0x0f;
        out[2..].copy_from_slice(&self.0);
        out
    }

    /// The peer's address on the group ring (docs/protocol/netgroup.md, "Group address").
    pub fn group_address(&self) -> GroupAddress {
        GroupAddress::from_peer_id(self)
    }

    /// The peer ID as 64 lowercase hex characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl FromStr for PeerId {
    type Err = IdParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_hex32(s).map(PeerId)
    }
}

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PeerId({})", &self.to_hex()[..16])
    }
}

/// A point on the group ring mod 2^256 (docs/protocol/netgroup.md, "Group address" to "Ring
/// distance and coverage"), compared as a big-endian integer.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct GroupAddress(pub [u8; 32]);

impl GroupAddress {
    /// `SHA-256(21 0F || peer ID)`: Flash's `convertPeerIDToGroupAddress`
    /// (docs/protocol/netgroup.md, "Group address").
    pub fn from_peer_id(peer: &PeerId) -> Self {
        GroupAddress(Sha256::digest(peer.raw_id()).into())
    }

    /// The address as 64 lowercase hex characters.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Clockwise (increasing) distance from `self` to `other`: `(other - self) mod 2^256`.
    pub fn increasing_distance(&self, other: &GroupAddress) -> Distance {
        Distance(sub_mod(&other.0, &self.0))
    }

    /// Ring distance: the shorter of the two arcs between `self` and `other`
    /// (docs/protocol/netgroup.md, "Ring distance and coverage").
    pub fn distance(&self, other: &GroupAddress) -> Distance {
        let up = sub_mod(&other.0, &self.0);
        let down = sub_mod(&self.0, &other.0);
        Distance(up.min(down))
    }

    /// The first 64 bits as an integer: what the member-count estimate works on
    /// (docs/protocol/netgroup.md, "Member count estimate").
    pub fn prefix_u64(&self) -> u64 {
        let [a, b, c, d, e, f, g, h, ..] = self.0;
        u64::from_be_bytes([a, b, c, d, e, f, g, h])
    }

    /// `self + 2^e mod 2^256` (`e` in 0..=255; larger `e` wraps to adding 0): the ring point
    /// a Chord-like finger aims at.
    pub fn add_pow2(&self, e: u32) -> GroupAddress {
        let mut p = [0u8; 32];
        if e < 256 {
            p[31 - (e / 8) as usize] = 1u8 << (e % 8);
        }
        GroupAddress(add_mod(&self.0, &p))
    }

    /// The midpoint of the increasing arc from `self` to `other`.
    pub fn midpoint_towards(&self, other: &GroupAddress) -> GroupAddress {
        let d = sub_mod(&other.0, &self.0);
        // half = d >> 1
        let mut half = [0u8; 32];
        let mut carry = 0u8;
        for (i, b) in d.iter().enumerate() {
            half[i] = (b >> 1) | (carry << 7);
            carry = b & 1;
        }
        GroupAddress(add_mod(&self.0, &half))
    }
}

impl FromStr for GroupAddress {
    type Err = IdParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_hex32(s).map(GroupAddress)
    }
}

impl fmt::Display for GroupAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

impl fmt::Debug for GroupAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GroupAddress({})", &self.to_hex()[..16])
    }
}

/// A distance on the ring, a 256-bit unsigned integer (big-endian bytes); ordered numerically.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Distance(pub [u8; 32]);

/// Compares two 32-byte strings lexicographically (as big-endian 256-bit integers), eight
/// bytes at a time: the order of `[u8; 32]`, without a `memcmp` call per comparison (these
/// IDs key most of the node's B-tree maps).
#[inline]
pub(crate) fn cmp_be32(a: &[u8; 32], b: &[u8; 32]) -> std::cmp::Ordering {
    let (a, _) = a.as_chunks::<8>();
    let (b, _) = b.as_chunks::<8>();
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (u64::from_be_bytes(*x), u64::from_be_bytes(*y));
        if x != y {
            return x.cmp(&y);
        }
    }
    std::cmp::Ordering::Equal
}

/// `Ord` for a newtype over `[u8; 32]`: lexicographic byte order, by [`cmp_be32`].
macro_rules! be32_ord {
    ($($t:ty),*) => {$(
        impl Ord for $t {
            #[inline]
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                crate::id::cmp_be32(&self.0, &other.0)
            }
        }

        impl PartialOrd for $t {
            #[inline]
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }
    )*};
}
pub(crate) use be32_ord;

be32_ord!(PeerId, GroupAddress, Distance);

fn sub_mod(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut v = a[i] as i16 - b[i] as i16 - borrow;
        borrow = if v < 0 {
            v += 256;
            1
        } else {
            0
        };
        out[i] = v as u8;
    }
    out
}

fn add_mod(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in (0..32).rev() {
        let v = a[i] as u16 + b[i] as u16 + carry;
        out[i] = v as u8;
        carry = v >> 8;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(last: u8) -> GroupAddress {
        let mut a = [0u8; 32];
        a[31] = last;
        GroupAddress(a)
    }

    #[test]
    fn group_address_vector_from_digest() {
        let mut id = [0u8; 32];
        for (i, b) in id.iter_mut().enumerate() {
            *b = i as u8;
        }
        assert_eq!(
            PeerId(id).group_address().to_hex(),
            "b899a498e581c1b05a163df2329c20db35411de8eeeed68e12ecdc2ba9e15ebc"
        );
    }

    #[test]
    fn hex_round_trip_and_errors() {
        let p = PeerId([0xab; 32]);
        assert_eq!(p.to_hex().parse::<PeerId>().unwrap(), p);
        assert_eq!("ab".parse::<PeerId>(), Err(IdParseError::Length(2)));
        assert_eq!("zz".repeat(32).parse::<PeerId>(), Err(IdParseError::NotHex));
    }

    #[test]
    fn distances_wrap_around_the_ring() {
        let max = GroupAddress([0xff; 32]);
        let one = addr(1);
        // From max, one step up wraps to 0, two steps to 1.
        assert_eq!(max.increasing_distance(&one), Distance(addr(2).0));
        assert_eq!(one.distance(&max), Distance(addr(2).0));
        assert_eq!(addr(10).distance(&addr(3)), Distance(addr(7).0));
        assert_eq!(addr(3).midpoint_towards(&addr(9)), addr(6));
        assert_eq!(max.midpoint_towards(&one), GroupAddress([0; 32]));
    }

    #[test]
    fn ids_order_as_their_bytes() {
        // Bytes that differ in each 8-byte word, in the high and low bit of a byte.
        let mut ids = Vec::new();
        for pos in [0, 7, 8, 15, 16, 23, 24, 31] {
            for v in [0x00, 0x01, 0x7f, 0x80, 0xff] {
                let mut a = [0x80u8; 32];
                a[pos] = v;
                ids.push(a);
            }
        }
        for a in &ids {
            for b in &ids {
                assert_eq!(PeerId(*a).cmp(&PeerId(*b)), a.cmp(b));
                assert_eq!(GroupAddress(*a).cmp(&GroupAddress(*b)), a.cmp(b));
                assert_eq!(Distance(*a).partial_cmp(&Distance(*b)), Some(a.cmp(b)));
            }
        }
    }

    #[test]
    fn raw_id_is_the_peer_epd() {
        let p = PeerId([7; 32]);
        assert_eq!(
            p.raw_id().to_vec(),
            rtmfp::crypto::cert::epd_for_peer_id(&p.0)
        );
    }
}
