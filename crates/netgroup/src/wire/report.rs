//! The group report, message `0A` on `GR\x1C` (docs/protocol/netgroup.md, "Group report"):
//!
//! ```text
//! 0A
//! L1 0D <addr>                 ; the recipient's address as the sender sees it
//! L2 0A <addr>…                ; the sender's addresses (host/server address, flag 3, first)
//! 00
//! repeat for each member of bestList(recipient):
//!     22 21 0F <32-byte peer ID>
//!     VLU(seconds since the sender last had news of that member)
//!     L3 0A <addr>…            ; that member's addresses
//!     00
//! ```
//!
//! Addresses use the RTMFP encoding `flags | IPv4 or IPv6 | port` ([`PeerAddress`]; flag 0x80 =
//! IPv6, low bits = origin: 2 public/observed, 3 host/server).
//!
//! Lengths are VLUs, but librtmfp writes them as one raw byte, so a byte above `0x81` is taken
//! as a plain length (130–255) rather than as the start of a multi-byte VLU
//! (docs/protocol/netgroup.md, "Group report"); encoders therefore never write an address list
//! longer than 255 bytes. Unknown header options (librtmfp skips leading `01 xx` pairs) are
//! skipped.

use rtmfp::wire::{vlu, PeerAddress, Reader};

use super::error::WireError;
use crate::id::PeerId;

/// Header option: the recipient's address.
const OPT_RECIPIENT_ADDRESS: u8 = 0x0d;
/// Header and record option: an address list.
const OPT_ADDRESSES: u8 = 0x0a;
/// Longest address list (type byte included) an encoder writes.
pub const MAX_ADDRESS_LIST_BYTES: usize = 255;

/// Bounds applied while decoding a report (docs/protocol/netgroup.md, "Group report"; a report
/// lists a best list, normally `log2(N) + 13` members, each with ≤ 8 addresses).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportLimits {
    /// Member records kept; further records are parsed, counted and dropped.
    pub max_members: usize,
    /// Addresses kept per list; further addresses are counted and dropped.
    pub max_addresses: usize,
}

impl Default for ReportLimits {
    /// 256 members, 16 addresses per list.
    fn default() -> Self {
        ReportLimits {
            max_members: 256,
            max_addresses: 16,
        }
    }
}

/// One member record of a report (docs/protocol/netgroup.md, "Group report").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportMember {
    /// The member (sent as its raw ID `21 0F <id>`).
    pub peer_id: PeerId,
    /// Seconds since the sender last had news of the member; receivers ignore records ≥ 300.
    pub elapsed_secs: u64,
    /// The member's addresses, its host address (origin [`rtmfp::AddressOrigin::Relay`]) first.
    pub addresses: Vec<PeerAddress>,
}

/// A decoded group report (docs/protocol/netgroup.md, "Group report").
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct GroupReport {
    /// The recipient's address as the sender sees it (the recipient's reflexive address).
    pub recipient_address: Option<PeerAddress>,
    /// The sender's own addresses: its host (server) address, then known public ones.
    pub sender_addresses: Vec<PeerAddress>,
    /// Member records kept (at most [`ReportLimits::max_members`]).
    pub members: Vec<ReportMember>,
    /// Member records not kept: over the limit, or keyed by something other than a peer ID.
    pub dropped_members: usize,
    /// Addresses not kept because a list exceeded [`ReportLimits::max_addresses`].
    pub dropped_addresses: usize,
}

/// Reads a length: a VLU, except that a first byte above 0x81 is a plain one-byte length.
fn read_len(r: &mut Reader<'_>) -> Result<usize, WireError> {
    let first = r.peek_u8().ok_or(WireError::Truncated)?;
    if first > 0x81 {
        r.u8()?;
        return Ok(usize::from(first));
    }
    usize::try_from(r.vlu()?).map_err(|_| WireError::Truncated)
}

fn read_field<'a>(r: &mut Reader<'a>) -> Result<&'a [u8], WireError> {
    let n = read_len(r)?;
    Ok(r.bytes(n)?)
}

/// Decodes `0A addr…` (the bytes of an address-list field), keeping at most `max`.
fn read_addresses(
    field: &[u8],
    max: usize,
    dropped: &mut usize,
) -> Result<Vec<PeerAddress>, WireError> {
    let mut r = Reader::new(field);
    let mut out = Vec::new();
    if r.u8()? != OPT_ADDRESSES {
        return Err(WireError::Invalid("address list type"));
    }
    while !r.is_empty() {
        let a = PeerAddress::read(&mut r)?;
        if out.len() < max {
            out.push(a);
        } else {
            *dropped += 1;
        }
    }
    Ok(out)
}

fn write_addresses(out: &mut Vec<u8>, list: &[PeerAddress]) {
    let mut len = 1;
    let mut n = 0;
    for a in list {
        if len + a.encoded_len() > MAX_ADDRESS_LIST_BYTES {
            break;
        }
        len += a.encoded_len();
        n += 1;
    }
    vlu::write(out, len as u64);
    out.push(OPT_ADDRESSES);
    for a in &list[..n] {
        a.write(out);
    }
}

impl GroupReport {
    /// Decodes the bytes after the `0A` type byte, bounded by `limits`.
    ///
    /// Errors: [`WireError::Truncated`] if a field runs past the end, [`WireError::Invalid`] for
    /// a malformed address list, a header without its `00` end, or a record not ended by `00`.
    pub fn decode_body(body: &[u8], limits: &ReportLimits) -> Result<Self, WireError> {
        let mut r = Reader::new(body);
        let mut rep = GroupReport::default();
        // Header: options up to the 00 marker.
        loop {
            let field = read_field(&mut r)?;
            let Some((&typ, value)) = field.split_first() else {
                break; // the 00 marker
            };
            match typ {
                OPT_RECIPIENT_ADDRESS if rep.recipient_address.is_none() => {
                    rep.recipient_address = Some(PeerAddress::read(&mut Reader::new(value))?);
                }
                OPT_ADDRESSES if rep.sender_addresses.is_empty() => {
                    rep.sender_addresses =
                        read_addresses(field, limits.max_addresses, &mut rep.dropped_addresses)?;
                }
                _ => {} // librtmfp's tolerated `01 xx` pairs, or anything unknown
            }
        }
        // Member records.
        while !r.is_empty() {
            let key = read_field(&mut r)?;
            let elapsed_secs = r.vlu()?;
            let addresses = read_field(&mut r)?;
            match r.u8() {
                Ok(0) | Err(_) => {} // a missing final 00 is tolerated
                Ok(_) => return Err(WireError::Invalid("report record terminator")),
            }
            let peer = match key {
                [0x21, 0x0f, id @ ..] => <[u8; 32]>::try_from(id).ok().map(PeerId),
                _ => None,
            };
            let Some(peer_id) = peer else {
                rep.dropped_members += 1;
                continue;
            };
            if rep.members.len() >= limits.max_members {
                rep.dropped_members += 1;
                continue;
            }
            let addresses = if addresses.is_empty() {
                Vec::new()
            } else {
                read_addresses(addresses, limits.max_addresses, &mut rep.dropped_addresses)?
            };
            rep.members.push(ReportMember {
                peer_id,
                elapsed_secs,
                addresses,
            });
        }
        Ok(rep)
    }

    /// Appends the body (without the `0A` type byte) to `out`. Address lists are cut at
    /// [`MAX_ADDRESS_LIST_BYTES`]; dropped counters are not encoded.
    pub fn encode_body(&self, out: &mut Vec<u8>) {
        if let Some(a) = &self.recipient_address {
            vlu::write(out, 1 + a.encoded_len() as u64);
            out.push(OPT_RECIPIENT_ADDRESS);
            a.write(out);
        }
        write_addresses(out, &self.sender_addresses);
        out.push(0);
        for m in &self.members {
            out.push(0x22);
            out.extend_from_slice(&m.peer_id.raw_id());
            vlu::write(out, m.elapsed_secs);
            write_addresses(out, &m.addresses);
            out.push(0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rtmfp::AddressOrigin;

    fn addr(s: &str, o: AddressOrigin) -> PeerAddress {
        PeerAddress::new(s.parse().unwrap(), o)
    }

    /// netgroup-librtmfp-mona.jsonl record 43, after the type byte.
    const RECORD_43: &str = "080d027f000001d980080a037f000001078f0022210fa13d16974d3db1ba5ef4e4e2f2e80b2668bb7aa46afa3cc42dc96213c870eaeb01010a00";

    #[test]
    fn captured_first_report() {
        let body = hex::decode(RECORD_43).unwrap();
        let r = GroupReport::decode_body(&body, &ReportLimits::default()).unwrap();
        assert_eq!(
            r.recipient_address,
            Some(addr("127.0.0.1:55680", AddressOrigin::Observed))
        );
        assert_eq!(
            r.sender_addresses,
            [addr("127.0.0.1:1935", AddressOrigin::Relay)]
        );
        assert_eq!(r.members.len(), 1);
        assert_eq!(r.members[0].elapsed_secs, 1);
        assert!(r.members[0].addresses.is_empty());
        let mut out = Vec::new();
        r.encode_body(&mut out);
        assert_eq!(hex::encode(out), RECORD_43);
    }

    #[test]
    fn thousands_of_members_are_bounded() {
        let member = ReportMember {
            peer_id: PeerId([3; 32]),
            elapsed_secs: 200,
            addresses: vec![addr("[::1]:1", AddressOrigin::Observed); 20],
        };
        let big = GroupReport {
            members: vec![member; 5000],
            ..GroupReport::default()
        };
        let mut body = Vec::new();
        big.encode_body(&mut body);
        let limits = ReportLimits {
            max_members: 100,
            max_addresses: 8,
        };
        let r = GroupReport::decode_body(&body, &limits).unwrap();
        assert_eq!(r.members.len(), 100);
        assert_eq!(r.dropped_members, 4900);
        // 20 IPv6 addresses do not fit 255 bytes: 13 were written, 8 kept.
        assert_eq!(r.members[0].addresses.len(), 8);
        assert_eq!(r.dropped_addresses, 100 * 5);
    }

    #[test]
    fn plain_byte_lengths_from_librtmfp() {
        // An address list of 8 IPv6 addresses written with a one-byte length 0x99 (153).
        let a = addr("[2001:db8::1]:5", AddressOrigin::Observed);
        let mut body = vec![0x99, 0x0a];
        for _ in 0..8 {
            a.write(&mut body);
        }
        body.push(0);
        let r = GroupReport::decode_body(&body, &ReportLimits::default()).unwrap();
        assert_eq!(r.sender_addresses.len(), 8);
    }

    #[test]
    fn malformed_reports_are_errors() {
        let l = ReportLimits::default();
        assert!(GroupReport::decode_body(&[], &l).is_err());
        assert!(GroupReport::decode_body(&[0x08, 0x0d, 2, 1], &l).is_err());
        assert!(GroupReport::decode_body(&[0x02, 0x0a, 0x05, 0x00], &l).is_err());
        let body = hex::decode(RECORD_43).unwrap();
        let mut bad = body.clone();
        *bad.last_mut().unwrap() = 7;
        assert_eq!(
            GroupReport::decode_body(&bad, &l),
            Err(WireError::Invalid("report record terminator"))
        );
        // Missing final 00 is tolerated.
        assert!(GroupReport::decode_body(&body[..body.len() - 1], &l).is_ok());
    }

    fn arb_addr() -> impl proptest::strategy::Strategy<Value = PeerAddress> {
        use proptest::prelude::*;
        (any::<bool>(), any::<[u8; 16]>(), any::<u16>(), 0u8..4).prop_map(|(v6, ip, port, o)| {
            let ip: std::net::IpAddr = if v6 {
                ip.into()
            } else {
                <[u8; 4]>::try_from(&ip[..4]).unwrap().into()
            };
            let origin = [
                AddressOrigin::Unknown,
                AddressOrigin::Reported,
                AddressOrigin::Observed,
                AddressOrigin::Relay,
            ][usize::from(o)];
            PeerAddress::new(std::net::SocketAddr::new(ip, port), origin)
        })
    }

    proptest::proptest! {
        #[test]
        fn encode_decode_round_trip(
            recipient in proptest::option::of(arb_addr()),
            sender in proptest::collection::vec(arb_addr(), 0..8),
            members in proptest::collection::vec(
                (proptest::prelude::any::<[u8; 32]>(), 0u64..100_000, proptest::collection::vec(arb_addr(), 0..8)),
                0..10,
            ),
        ) {
            let rep = GroupReport {
                recipient_address: recipient,
                sender_addresses: sender,
                members: members
                    .into_iter()
                    .map(|(id, elapsed_secs, addresses)| ReportMember {
                        peer_id: PeerId(id),
                        elapsed_secs,
                        addresses,
                    })
                    .collect(),
                dropped_members: 0,
                dropped_addresses: 0,
            };
            let mut body = Vec::new();
            rep.encode_body(&mut body);
            let back = GroupReport::decode_body(&body, &ReportLimits::default()).unwrap();
            proptest::prop_assert_eq!(&back, &rep);
            let mut again = Vec::new();
            back.encode_body(&mut again);
            proptest::prop_assert_eq!(again, body);
        }

        #[test]
        fn mutated_reports_never_panic(pos in 0usize..200, byte: u8, cut in 0usize..200) {
            let mut body = hex::decode(RECORD_43).unwrap();
            let n = body.len();
            body[pos % n] = byte;
            body.truncate(cut % (n + 1));
            let _ = GroupReport::decode_body(&body, &ReportLimits::default());
        }
    }
}
