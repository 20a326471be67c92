//! Chunks (RFC 7016 §2.3): `type:u8 | length:u16 | payload`. Decoding borrows from the packet;
//! encoding appends to a buffer.

use super::option::{self, write_field};
use super::{vlu, DecodeError, PeerAddress, Reader};

/// Chunk type codes (RFC 7016 §2.3, docs/protocol/session.md, "Chunk types").
pub mod kind {
    /// Packet Fragment (startup only; RFC 7016 §2.3.1).
    pub const PACKET_FRAGMENT: u8 = 0x7f;
    /// Initiator Hello (§2.3.2).
    pub const IHELLO: u8 = 0x30;
    /// Forwarded Initiator Hello (§2.3.3).
    pub const FIHELLO: u8 = 0x0f;
    /// Responder Hello (§2.3.4).
    pub const RHELLO: u8 = 0x70;
    /// Responder Redirect (§2.3.5).
    pub const REDIRECT: u8 = 0x71;
    /// RHello Cookie Change (§2.3.6).
    pub const COOKIE_CHANGE: u8 = 0x79;
    /// Initiator Initial Keying (§2.3.7).
    pub const IIKEYING: u8 = 0x38;
    /// Responder Initial Keying (§2.3.8).
    pub const RIKEYING: u8 = 0x78;
    /// Ping (§2.3.9).
    pub const PING: u8 = 0x01;
    /// Ping Reply (§2.3.10).
    pub const PING_REPLY: u8 = 0x41;
    /// User Data (§2.3.11).
    pub const USER_DATA: u8 = 0x10;
    /// Next User Data (§2.3.12).
    pub const NEXT_USER_DATA: u8 = 0x11;
    /// Data Acknowledgement Bitmap (§2.3.13).
    pub const ACK_BITMAP: u8 = 0x50;
    /// Data Acknowledgement Ranges (§2.3.14).
    pub const ACK_RANGES: u8 = 0x51;
    /// Buffer Probe (§2.3.15).
    pub const BUFFER_PROBE: u8 = 0x18;
    /// Flow Exception Report (§2.3.16).
    pub const FLOW_EXCEPTION: u8 = 0x5e;
    /// Session Close Request (§2.3.17).
    pub const CLOSE_REQUEST: u8 = 0x0c;
    /// Session Close Acknowledgement (§2.3.18).
    pub const CLOSE_ACK: u8 = 0x4c;
}

/// Most ranges kept from one received ack. A longer ack is truncated, which RFC 7016 §3.6.3.4
/// allows: the sender simply learns less.
pub const MAX_ACK_RANGES: usize = 512;

/// Fragment control of a user data chunk (RFC 7016 §2.3.11, flag bits 0x30).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FragmentControl {
    /// `00`: a whole message.
    Whole,
    /// `10`: first fragment of a message.
    Begin,
    /// `20`: last fragment of a message.
    End,
    /// `30`: a middle fragment.
    Middle,
}

impl FragmentControl {
    fn from_flags(flags: u8) -> Self {
        match flags & 0x30 {
            0x00 => FragmentControl::Whole,
            0x10 => FragmentControl::Begin,
            0x20 => FragmentControl::End,
            _ => FragmentControl::Middle,
        }
    }

    fn bits(self) -> u8 {
        match self {
            FragmentControl::Whole => 0x00,
            FragmentControl::Begin => 0x10,
            FragmentControl::End => 0x20,
            FragmentControl::Middle => 0x30,
        }
    }

    /// Whether this fragment starts a message.
    pub fn is_first(self) -> bool {
        matches!(self, FragmentControl::Whole | FragmentControl::Begin)
    }

    /// Whether this fragment ends a message.
    pub fn is_last(self) -> bool {
        matches!(self, FragmentControl::Whole | FragmentControl::End)
    }
}

/// User data flag bits (RFC 7016 §2.3.11).
mod flag {
    pub const OPTIONS: u8 = 0x80;
    pub const ABANDON: u8 = 0x02;
    pub const FINAL: u8 = 0x01;
}

/// A User Data or Next User Data chunk with its flow ID, sequence number and FSN offset resolved
/// (for Next User Data: the previous chunk's flow, sequence + 1, same forward sequence number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserData<'a> {
    /// Flow this fragment belongs to.
    pub flow_id: u64,
    /// Sequence number of this fragment (starts at 1 per flow).
    pub sequence_number: u64,
    /// `sequence_number - forward sequence number` (≤ `sequence_number`).
    pub fsn_offset: u64,
    /// Fragment position within its message.
    pub fragment: FragmentControl,
    /// ABN: this sequence number is abandoned.
    pub abandon: bool,
    /// FIN: last sequence number of the flow.
    pub final_: bool,
    /// Option list (without its terminating marker) if the OPT flag is set.
    pub options: Option<&'a [u8]>,
    /// Fragment payload.
    pub data: &'a [u8],
}

impl UserData<'_> {
    /// The forward sequence number this fragment announces.
    pub fn forward_sequence_number(&self) -> u64 {
        self.sequence_number.saturating_sub(self.fsn_offset)
    }

    fn flags(&self) -> u8 {
        let mut f = self.fragment.bits();
        if self.options.is_some() {
            f |= flag::OPTIONS;
        }
        if self.abandon {
            f |= flag::ABANDON;
        }
        if self.final_ {
            f |= flag::FINAL;
        }
        f
    }
}

/// One acknowledged run of sequence numbers, inclusive on both ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AckRange {
    /// First received sequence number.
    pub start: u64,
    /// Last received sequence number.
    pub end: u64,
}

/// A data acknowledgement (RFC 7016 §2.3.13/§2.3.14), decoded from either the bitmap or the
/// ranges form into absolute ranges above the cumulative ack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ack {
    /// Acknowledged flow.
    pub flow_id: u64,
    /// Receive buffer available, in 1024-byte blocks.
    pub buffer_blocks: u64,
    /// Every sequence number ≤ this was received or abandoned.
    pub cumulative_ack: u64,
    /// Received ranges above `cumulative_ack + 1`, ascending and disjoint (at most
    /// [`MAX_ACK_RANGES`]).
    pub ranges: Vec<AckRange>,
}

/// A decoded chunk. Unknown types are kept so the caller can count and ignore them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Chunk<'a> {
    /// IHello: endpoint discriminator and tag.
    IHello {
        /// Endpoint discriminator (an option list).
        epd: &'a [u8],
        /// Initiator's tag (Flash: 16 random bytes).
        tag: &'a [u8],
    },
    /// Forwarded IHello, sent inside an open session by a rendezvous service.
    FIHello {
        /// The original endpoint discriminator.
        epd: &'a [u8],
        /// Initiator's observed address, where the RHello should go.
        reply_address: PeerAddress,
        /// The original tag.
        tag: &'a [u8],
    },
    /// RHello: tag echo, cookie and responder certificate.
    RHello {
        /// Echo of the IHello tag.
        tag_echo: &'a [u8],
        /// Opaque cookie to echo in IIKeying.
        cookie: &'a [u8],
        /// Responder certificate.
        certificate: &'a [u8],
    },
    /// Responder Redirect: tag echo and candidate addresses.
    Redirect {
        /// Echo of the IHello tag.
        tag_echo: &'a [u8],
        /// Candidate addresses (empty means "retry the redirector").
        addresses: Vec<PeerAddress>,
    },
    /// RHello Cookie Change: the cookie to replace and its replacement.
    CookieChange {
        /// Cookie the initiator echoed.
        old_cookie: &'a [u8],
        /// Cookie to use instead.
        new_cookie: &'a [u8],
    },
    /// IIKeying.
    IIKeying {
        /// Initiator's session ID (the responder's packets carry it).
        initiator_session_id: u32,
        /// Echo of the RHello cookie.
        cookie_echo: &'a [u8],
        /// Initiator certificate.
        certificate: &'a [u8],
        /// Session Key Initiator Component.
        skic: &'a [u8],
        /// Signature (Flash: `58`).
        signature: &'a [u8],
    },
    /// RIKeying.
    RIKeying {
        /// Responder's session ID.
        responder_session_id: u32,
        /// Session Key Responder Component.
        skrc: &'a [u8],
        /// Signature (Flash: `58`).
        signature: &'a [u8],
    },
    /// Ping with an opaque message.
    Ping(&'a [u8]),
    /// Ping Reply echoing a ping's message.
    PingReply(&'a [u8]),
    /// User Data, or Next User Data resolved against the previous chunk.
    UserData(UserData<'a>),
    /// Data acknowledgement (bitmap or ranges).
    Ack(Ack),
    /// Buffer Probe for a flow.
    BufferProbe {
        /// Probed flow.
        flow_id: u64,
    },
    /// Flow Exception Report: the receiver rejected a flow.
    FlowException {
        /// Rejected flow.
        flow_id: u64,
        /// Application-defined code (0 in every known implementation).
        code: u64,
    },
    /// Session Close Request.
    CloseRequest,
    /// Session Close Acknowledgement.
    CloseAck,
    /// Packet Fragment (startup; parsed, not reassembled).
    PacketFragment {
        /// More fragments follow.
        more: bool,
        /// Packet being fragmented.
        packet_id: u64,
        /// Index of this fragment.
        fragment_num: u64,
        /// Fragment bytes.
        data: &'a [u8],
    },
    /// Any other chunk type: ignored by the receiver (RFC 7016 §2.3).
    Unknown {
        /// Chunk type.
        kind: u8,
        /// Raw payload.
        payload: &'a [u8],
    },
}

/// Raw user data before Next User Data resolution.
pub(crate) struct RawUserData<'a> {
    pub next: bool,
    pub ids: Option<(u64, u64, u64)>,
    pub flags: u8,
    pub options: Option<&'a [u8]>,
    pub data: &'a [u8],
}

pub(crate) fn decode_user_data(next: bool, payload: &[u8]) -> Result<RawUserData<'_>, DecodeError> {
    let mut r = Reader::new(payload);
    let flags = r.u8()?;
    let ids = if next {
        None
    } else {
        let flow_id = r.vlu()?;
        let seq = r.vlu()?;
        let fsn_offset = r.vlu()?;
        if fsn_offset > seq {
            return Err(DecodeError::Invalid("fsnOffset above sequence number"));
        }
        Some((flow_id, seq, fsn_offset))
    };
    let rest = r.rest();
    let (options, data) = if flags & flag::OPTIONS != 0 {
        let (opts, data) = option::split_terminated(rest)?;
        (Some(opts), data)
    } else {
        (None, rest)
    };
    Ok(RawUserData {
        next,
        ids,
        flags,
        options,
        data,
    })
}

impl RawUserData<'_> {
    pub(crate) fn fragment(&self) -> FragmentControl {
        FragmentControl::from_flags(self.flags)
    }
    pub(crate) fn abandon(&self) -> bool {
        self.flags & flag::ABANDON != 0
    }
    pub(crate) fn final_(&self) -> bool {
        self.flags & flag::FINAL != 0
    }
}

fn decode_ack_ranges(r: &mut Reader<'_>, cumulative: u64) -> Vec<AckRange> {
    let mut ranges = Vec::new();
    let mut c = cumulative;
    while !r.is_empty() && ranges.len() < MAX_ACK_RANGES {
        // A partial last pair is tolerated (RFC 7016 §3.6.3.4).
        let (Ok(holes_minus_one), Ok(received_minus_one)) = (r.vlu(), r.vlu()) else {
            break;
        };
        let Some(start) = c
            .checked_add(holes_minus_one)
            .and_then(|v| v.checked_add(2))
        else {
            break;
        };
        let Some(end) = start.checked_add(received_minus_one) else {
            break;
        };
        ranges.push(AckRange { start, end });
        c = end;
    }
    ranges
}

fn decode_ack_bitmap(bitmap: &[u8], cumulative: u64) -> Vec<AckRange> {
    // Bit 0 of the first byte stands for cumulative + 2, LSB first (docs/protocol/session.md,
    // "Acknowledgements").
    let mut ranges: Vec<AckRange> = Vec::new();
    for (i, byte) in bitmap.iter().enumerate() {
        for bit in 0..8u64 {
            if byte & (1 << bit) == 0 {
                continue;
            }
            let Some(seq) = cumulative.checked_add(2 + i as u64 * 8 + bit) else {
                return ranges;
            };
            if let Some(last) = ranges.last_mut().filter(|l| l.end + 1 == seq) {
                last.end = seq;
            } else if ranges.len() >= MAX_ACK_RANGES {
                return ranges;
            } else {
                ranges.push(AckRange {
                    start: seq,
                    end: seq,
                });
            }
        }
    }
    ranges
}

impl<'a> Chunk<'a> {
    /// Decodes one chunk payload of type `kind`. Next User Data is not handled here (it needs
    /// the previous chunk); see [`super::ChunkIter`].
    pub fn decode(kind: u8, payload: &'a [u8]) -> Result<Chunk<'a>, DecodeError> {
        let mut r = Reader::new(payload);
        Ok(match kind {
            kind::IHELLO => {
                let epd = r.vlu_field()?;
                Chunk::IHello { epd, tag: r.rest() }
            }
            kind::FIHELLO => {
                let epd = r.vlu_field()?;
                let reply_address = PeerAddress::read(&mut r)?;
                Chunk::FIHello {
                    epd,
                    reply_address,
                    tag: r.rest(),
                }
            }
            kind::RHELLO => {
                let tag_echo = r.vlu_field()?;
                let cookie = r.vlu_field()?;
                Chunk::RHello {
                    tag_echo,
                    cookie,
                    certificate: r.rest(),
                }
            }
            kind::REDIRECT => {
                let tag_echo = r.vlu_field()?;
                let mut addresses = Vec::new();
                while !r.is_empty() {
                    addresses.push(PeerAddress::read(&mut r)?);
                }
                Chunk::Redirect {
                    tag_echo,
                    addresses,
                }
            }
            kind::COOKIE_CHANGE => {
                let old_cookie = r.vlu_field()?;
                Chunk::CookieChange {
                    old_cookie,
                    new_cookie: r.rest(),
                }
            }
            kind::IIKEYING => {
                let initiator_session_id = r.u32()?;
                let cookie_echo = r.vlu_field()?;
                let certificate = r.vlu_field()?;
                let skic = r.vlu_field()?;
                Chunk::IIKeying {
                    initiator_session_id,
                    cookie_echo,
                    certificate,
                    skic,
                    signature: r.rest(),
                }
            }
            kind::RIKEYING => {
                let responder_session_id = r.u32()?;
                let skrc = r.vlu_field()?;
                Chunk::RIKeying {
                    responder_session_id,
                    skrc,
                    signature: r.rest(),
                }
            }
            kind::PING => Chunk::Ping(payload),
            kind::PING_REPLY => Chunk::PingReply(payload),
            kind::USER_DATA => {
                let raw = decode_user_data(false, payload)?;
                let (flow_id, sequence_number, fsn_offset) =
                    raw.ids.ok_or(DecodeError::Invalid("user data ids"))?;
                Chunk::UserData(UserData {
                    flow_id,
                    sequence_number,
                    fsn_offset,
                    fragment: raw.fragment(),
                    abandon: raw.abandon(),
                    final_: raw.final_(),
                    options: raw.options,
                    data: raw.data,
                })
            }
            kind::NEXT_USER_DATA => {
                return Err(DecodeError::Invalid("next user data without context"))
            }
            kind::ACK_BITMAP | kind::ACK_RANGES => {
                let flow_id = r.vlu()?;
                let buffer_blocks = r.vlu()?;
                let cumulative_ack = r.vlu()?;
                let ranges = if kind == kind::ACK_RANGES {
                    decode_ack_ranges(&mut r, cumulative_ack)
                } else {
                    decode_ack_bitmap(r.rest(), cumulative_ack)
                };
                Chunk::Ack(Ack {
                    flow_id,
                    buffer_blocks,
                    cumulative_ack,
                    ranges,
                })
            }
            kind::BUFFER_PROBE => Chunk::BufferProbe { flow_id: r.vlu()? },
            kind::FLOW_EXCEPTION => {
                let flow_id = r.vlu()?;
                let code = r.vlu()?;
                Chunk::FlowException { flow_id, code }
            }
            kind::CLOSE_REQUEST => Chunk::CloseRequest,
            kind::CLOSE_ACK => Chunk::CloseAck,
            kind::PACKET_FRAGMENT => {
                let flags = r.u8()?;
                let packet_id = r.vlu()?;
                let fragment_num = r.vlu()?;
                Chunk::PacketFragment {
                    more: flags & 0x80 != 0,
                    packet_id,
                    fragment_num,
                    data: r.rest(),
                }
            }
            other => Chunk::Unknown {
                kind: other,
                payload,
            },
        })
    }

    /// The chunk type code.
    pub fn kind(&self) -> u8 {
        match self {
            Chunk::IHello { .. } => kind::IHELLO,
            Chunk::FIHello { .. } => kind::FIHELLO,
            Chunk::RHello { .. } => kind::RHELLO,
            Chunk::Redirect { .. } => kind::REDIRECT,
            Chunk::CookieChange { .. } => kind::COOKIE_CHANGE,
            Chunk::IIKeying { .. } => kind::IIKEYING,
            Chunk::RIKeying { .. } => kind::RIKEYING,
            Chunk::Ping(_) => kind::PING,
            Chunk::PingReply(_) => kind::PING_REPLY,
            Chunk::UserData(_) => kind::USER_DATA,
            Chunk::Ack(_) => kind::ACK_RANGES,
            Chunk::BufferProbe { .. } => kind::BUFFER_PROBE,
            Chunk::FlowException { .. } => kind::FLOW_EXCEPTION,
            Chunk::CloseRequest => kind::CLOSE_REQUEST,
            Chunk::CloseAck => kind::CLOSE_ACK,
            Chunk::PacketFragment { .. } => kind::PACKET_FRAGMENT,
            Chunk::Unknown { kind, .. } => *kind,
        }
    }

    /// Appends the chunk (type, length, payload) to `out`. User data is written in the full
    /// 0x10 form and acks in the ranges form; see [`super::packet::PacketWriter`] for Next User
    /// Data. A payload over 65535 bytes is the caller's bug and is truncated to nothing.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        out.push(self.kind());
        out.extend_from_slice(&[0, 0]);
        self.encode_payload(out);
        patch_length(out, start);
    }

    fn encode_payload(&self, out: &mut Vec<u8>) {
        match self {
            Chunk::IHello { epd, tag } => {
                write_field(out, epd);
                out.extend_from_slice(tag);
            }
            Chunk::FIHello {
                epd,
                reply_address,
                tag,
            } => {
                write_field(out, epd);
                reply_address.write(out);
                out.extend_from_slice(tag);
            }
            Chunk::RHello {
                tag_echo,
                cookie,
                certificate,
            } => {
                write_field(out, tag_echo);
                write_field(out, cookie);
                out.extend_from_slice(certificate);
            }
            Chunk::Redirect {
                tag_echo,
                addresses,
            } => {
                write_field(out, tag_echo);
                for a in addresses {
                    a.write(out);
                }
            }
            Chunk::CookieChange {
                old_cookie,
                new_cookie,
            } => {
                write_field(out, old_cookie);
                out.extend_from_slice(new_cookie);
            }
            Chunk::IIKeying {
                initiator_session_id,
                cookie_echo,
                certificate,
                skic,
                signature,
            } => {
                out.extend_from_slice(&initiator_session_id.to_be_bytes());
                write_field(out, cookie_echo);
                write_field(out, certificate);
                write_field(out, skic);
                out.extend_from_slice(signature);
            }
            Chunk::RIKeying {
                responder_session_id,
                skrc,
                signature,
            } => {
                out.extend_from_slice(&responder_session_id.to_be_bytes());
                write_field(out, skrc);
                out.extend_from_slice(signature);
            }
            Chunk::Ping(m) | Chunk::PingReply(m) => out.extend_from_slice(m),
            Chunk::UserData(ud) => {
                out.push(ud.flags());
                vlu::write(out, ud.flow_id);
                vlu::write(out, ud.sequence_number);
                vlu::write(out, ud.fsn_offset);
                write_user_data_tail(ud, out);
            }
            Chunk::Ack(ack) => {
                vlu::write(out, ack.flow_id);
                vlu::write(out, ack.buffer_blocks);
                vlu::write(out, ack.cumulative_ack);
                let mut c = ack.cumulative_ack;
                for range in &ack.ranges {
                    if range.start < c.saturating_add(2) || range.end < range.start {
                        break; // not ascending above the ack: stop (a bug upstream)
                    }
                    vlu::write(out, range.start - c - 2);
                    vlu::write(out, range.end - range.start);
                    c = range.end;
                }
            }
            Chunk::BufferProbe { flow_id } => vlu::write(out, *flow_id),
            Chunk::FlowException { flow_id, code } => {
                vlu::write(out, *flow_id);
                vlu::write(out, *code);
            }
            Chunk::CloseRequest | Chunk::CloseAck => {}
            Chunk::PacketFragment {
                more,
                packet_id,
                fragment_num,
                data,
            } => {
                out.push(if *more { 0x80 } else { 0 });
                vlu::write(out, *packet_id);
                vlu::write(out, *fragment_num);
                out.extend_from_slice(data);
            }
            Chunk::Unknown { payload, .. } => out.extend_from_slice(payload),
        }
    }
}

/// Writes a Next User Data chunk for `ud` (its ids implied by the previous chunk).
pub(crate) fn encode_next_user_data(ud: &UserData<'_>, out: &mut Vec<u8>) {
    let start = out.len();
    out.push(kind::NEXT_USER_DATA);
    out.extend_from_slice(&[0, 0]);
    out.push(ud.flags());
    write_user_data_tail(ud, out);
    patch_length(out, start);
}

fn write_user_data_tail(ud: &UserData<'_>, out: &mut Vec<u8>) {
    if let Some(opts) = ud.options {
        out.extend_from_slice(opts);
        option::write_marker(out);
    }
    out.extend_from_slice(ud.data);
}

fn patch_length(out: &mut Vec<u8>, start: usize) {
    let len = out.len() - start - 3;
    match u16::try_from(len) {
        Ok(l) => out[start + 1..start + 3].copy_from_slice(&l.to_be_bytes()),
        Err(_) => out.truncate(start),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::AddressOrigin;
    use proptest::prelude::*;

    fn round_trip(c: &Chunk<'_>) {
        let mut out = Vec::new();
        c.encode(&mut out);
        let len = u16::from_be_bytes([out[1], out[2]]) as usize;
        assert_eq!(len + 3, out.len());
        let back = Chunk::decode(out[0], &out[3..]).unwrap();
        assert_eq!(&back, c);
    }

    #[test]
    fn every_chunk_round_trips() {
        let addr = PeerAddress::new("10.0.0.1:1935".parse().unwrap(), AddressOrigin::Observed);
        let chunks = [
            Chunk::IHello {
                epd: &[0x15, 0x0a, b'r'],
                tag: &[1; 16],
            },
            Chunk::FIHello {
                epd: &[0x21, 0x0f],
                reply_address: addr,
                tag: &[2; 16],
            },
            Chunk::RHello {
                tag_echo: &[1; 16],
                cookie: &[3; 64],
                certificate: &[0x01, 0x0a],
            },
            Chunk::Redirect {
                tag_echo: &[1; 16],
                addresses: vec![addr, addr],
            },
            Chunk::CookieChange {
                old_cookie: &[1; 64],
                new_cookie: &[2; 64],
            },
            Chunk::IIKeying {
                initiator_session_id: 0x0200_0000,
                cookie_echo: &[3; 64],
                certificate: &[0x81, 0x02, 0x1d, 0x02],
                skic: &[9; 76],
                signature: &[0x58],
            },
            Chunk::RIKeying {
                responder_session_id: 1,
                skrc: &[7; 139],
                signature: &[0x58],
            },
            Chunk::Ping(&[]),
            Chunk::PingReply(b"M123"),
            Chunk::UserData(UserData {
                flow_id: 2,
                sequence_number: 1,
                fsn_offset: 1,
                fragment: FragmentControl::Whole,
                abandon: false,
                final_: false,
                options: Some(&[0x05, 0x00, 0x54, 0x43, 0x04, 0x00]),
                data: b"hello",
            }),
            Chunk::Ack(Ack {
                flow_id: 2,
                buffer_blocks: 65407,
                cumulative_ack: 5,
                ranges: vec![
                    AckRange { start: 7, end: 9 },
                    AckRange { start: 20, end: 20 },
                ],
            }),
            Chunk::BufferProbe { flow_id: 3 },
            Chunk::FlowException {
                flow_id: 3,
                code: 0,
            },
            Chunk::CloseRequest,
            Chunk::CloseAck,
            Chunk::PacketFragment {
                more: true,
                packet_id: 4,
                fragment_num: 0,
                data: b"x",
            },
            Chunk::Unknown {
                kind: 0xec,
                payload: &[1],
            },
        ];
        for c in &chunks {
            round_trip(c);
        }
    }

    #[test]
    fn flash_ack_example() {
        // go-rtmfp capture packet 7: `51 .. 01 ff7f 01`: flow 1, 16383 blocks, cumulative 1.
        let c = Chunk::decode(kind::ACK_RANGES, &[0x01, 0xff, 0x7f, 0x01]).unwrap();
        assert_eq!(
            c,
            Chunk::Ack(Ack {
                flow_id: 1,
                buffer_blocks: 16383,
                cumulative_ack: 1,
                ranges: vec![]
            })
        );
    }

    #[test]
    fn bitmap_ack_bit_order() {
        // cumulative 10; bit0 -> 12, bit1 -> 13, bit3 -> 15; second byte bit0 -> 20.
        let c = Chunk::decode(kind::ACK_BITMAP, &[0x01, 0x05, 0x0a, 0b0000_1011, 0x01]).unwrap();
        let Chunk::Ack(ack) = c else { panic!() };
        assert_eq!(
            ack.ranges,
            [
                AckRange { start: 12, end: 13 },
                AckRange { start: 15, end: 15 },
                AckRange { start: 20, end: 20 }
            ]
        );
    }

    #[test]
    fn partial_range_pair_is_tolerated() {
        let c = Chunk::decode(kind::ACK_RANGES, &[0x01, 0x05, 0x02, 0x00, 0x01, 0x03]).unwrap();
        let Chunk::Ack(ack) = c else { panic!() };
        assert_eq!(ack.ranges, [AckRange { start: 4, end: 5 }]);
    }

    #[test]
    fn fsn_offset_above_sequence_is_rejected() {
        assert!(Chunk::decode(kind::USER_DATA, &[0x00, 0x02, 0x01, 0x05]).is_err());
    }

    proptest! {
        #[test]
        fn decode_never_panics(kind: u8, payload in proptest::collection::vec(any::<u8>(), 0..300)) {
            let _ = Chunk::decode(kind, &payload);
        }

        #[test]
        fn ack_ranges_round_trip(cum in 0u64..1_000_000, gaps in proptest::collection::vec((0u64..50, 0u64..50), 0..20)) {
            let mut ranges = Vec::new();
            let mut c = cum;
            for (h, r) in gaps {
                let start = c + h + 2;
                ranges.push(AckRange { start, end: start + r });
                c = start + r;
            }
            let ack = Chunk::Ack(Ack { flow_id: 9, buffer_blocks: 1, cumulative_ack: cum, ranges });
            round_trip(&ack);
        }
    }
}
