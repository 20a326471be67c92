//! Address encoding used by Redirect and FIHello (RFC 7016 §2.3.5, §2.3.3):
//! `flags:u8 (0x80 = IPv6, low 2 bits = origin) | ip:4|16 | port:u16`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use super::{DecodeError, Reader};

/// Where an address came from (the low two bits of the address flags).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum AddressOrigin {
    /// 0: unspecified. MonaServer2 sends `0.0.0.0:0` with origin 0 to mean "peer is gone".
    Unknown,
    /// 1: reported by the peer itself (e.g. with `setPeerInfo`).
    Reported,
    /// 2: observed by a third party (the source address a server saw).
    Observed,
    /// 3: a relay (MonaServer2 uses it for redirection to other servers).
    Relay,
}

impl AddressOrigin {
    fn from_bits(bits: u8) -> Self {
        match bits & 0x03 {
            0 => AddressOrigin::Unknown,
            1 => AddressOrigin::Reported,
            2 => AddressOrigin::Observed,
            _ => AddressOrigin::Relay,
        }
    }

    fn bits(self) -> u8 {
        match self {
            AddressOrigin::Unknown => 0,
            AddressOrigin::Reported => 1,
            AddressOrigin::Observed => 2,
            AddressOrigin::Relay => 3,
        }
    }
}

/// A socket address with its origin, as carried in Redirect and FIHello chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PeerAddress {
    /// IP and port.
    pub addr: SocketAddr,
    /// How the sender learned it.
    pub origin: AddressOrigin,
}

impl PeerAddress {
    /// Wraps `addr` with `origin`.
    pub fn new(addr: SocketAddr, origin: AddressOrigin) -> Self {
        PeerAddress { addr, origin }
    }

    /// Encoded size in bytes (7 for IPv4, 19 for IPv6).
    pub fn encoded_len(&self) -> usize {
        match self.addr {
            SocketAddr::V4(_) => 7,
            SocketAddr::V6(_) => 19,
        }
    }

    /// Appends the encoding to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        match self.addr.ip() {
            IpAddr::V4(ip) => {
                out.push(self.origin.bits());
                out.extend_from_slice(&ip.octets());
            }
            IpAddr::V6(ip) => {
                out.push(0x80 | self.origin.bits());
                out.extend_from_slice(&ip.octets());
            }
        }
        out.extend_from_slice(&self.addr.port().to_be_bytes());
    }

    /// Reads one address from `r`.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let flags = r.u8()?;
        let ip = if flags & 0x80 != 0 {
            let b: [u8; 16] = r
                .bytes(16)?
                .try_into()
                .map_err(|_| DecodeError::Truncated)?;
            IpAddr::V6(Ipv6Addr::from(b))
        } else {
            let b: [u8; 4] = r.bytes(4)?.try_into().map_err(|_| DecodeError::Truncated)?;
            IpAddr::V4(Ipv4Addr::from(b))
        };
        let port = r.u16()?;
        Ok(PeerAddress {
            addr: SocketAddr::new(ip, port),
            origin: AddressOrigin::from_bits(flags),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mona_fihello_reply_address() {
        // docs/protocol/session.md, "Chunk types": `02 7f000001 d980` = 127.0.0.1:55680, observed.
        let bytes = [0x02, 0x7f, 0, 0, 1, 0xd9, 0x80];
        let a = PeerAddress::read(&mut Reader::new(&bytes)).unwrap();
        assert_eq!(a.addr, "127.0.0.1:55680".parse().unwrap());
        assert_eq!(a.origin, AddressOrigin::Observed);
        let mut out = Vec::new();
        a.write(&mut out);
        assert_eq!(out, bytes);
    }

    #[test]
    fn ipv6_round_trip_and_truncation() {
        let a = PeerAddress::new("[::1]:1935".parse().unwrap(), AddressOrigin::Reported);
        let mut out = Vec::new();
        a.write(&mut out);
        assert_eq!(out.len(), a.encoded_len());
        assert_eq!(PeerAddress::read(&mut Reader::new(&out)).unwrap(), a);
        assert!(PeerAddress::read(&mut Reader::new(&out[..10])).is_err());
    }
}
