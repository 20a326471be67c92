//! Packet framing (RFC 7016 §2.2): scrambled session ID, header flags, timestamps, chunks and
//! padding. The crypto profile sits between the session ID and the packet.

use super::chunk::{decode_user_data, encode_next_user_data, kind, Chunk, UserData};
use super::{DecodeError, Reader};

/// Header flag bits (RFC 7016 §2.2.4).
mod flag {
    pub const TIME_CRITICAL: u8 = 0x80;
    pub const TIME_CRITICAL_REVERSE: u8 = 0x40;
    pub const TIMESTAMP: u8 = 0x08;
    pub const TIMESTAMP_ECHO: u8 = 0x04;
    pub const MODE: u8 = 0x03;
}

/// Largest plaintext RTMFP packet (header and chunks) for an open session (RFC 7016 §2.2.4;
/// zenomt `MAX_SESSION_PACKET_LENGTH`). Flash-era receivers ignore larger ones.
pub const MAX_SESSION_PACKET: usize = 1192;

/// Largest startup packet we send or accept (certificates with big DH keys).
pub const MAX_STARTUP_PACKET: usize = 4256;

/// Packet mode, the low two bits of the flags (RFC 7016 §2.2.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// 1: sent by a session's initiator.
    Initiator,
    /// 2: sent by a session's responder.
    Responder,
    /// 3: startup (handshake) packet.
    Startup,
}

/// Decoded packet header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacketHeader {
    /// TC: the sender is sending time-critical data on this session.
    pub time_critical: bool,
    /// TCR: the sender recently received time-critical data on another session.
    pub time_critical_reverse: bool,
    /// Sender's role.
    pub mode: Mode,
    /// Sender's clock in 4 ms ticks, mod 2^16.
    pub timestamp: Option<u16>,
    /// Echo of our timestamp, adjusted by the time it was held.
    pub timestamp_echo: Option<u16>,
}

impl PacketHeader {
    /// The header of a startup packet: flags exactly `0x0b` (TS + startup), as MonaServer2 and
    /// librtmfp require (docs/protocol/interop.md, "Compatibility checklist").
    pub fn startup(timestamp: u16) -> Self {
        PacketHeader {
            time_critical: false,
            time_critical_reverse: false,
            mode: Mode::Startup,
            timestamp: Some(timestamp),
            timestamp_echo: None,
        }
    }

    /// Decodes a header from the start of `r`.
    pub fn read(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let flags = r.u8()?;
        let mode = match flags & flag::MODE {
            1 => Mode::Initiator,
            2 => Mode::Responder,
            3 => Mode::Startup,
            _ => return Err(DecodeError::Invalid("packet mode 0")),
        };
        let timestamp = if flags & flag::TIMESTAMP != 0 {
            Some(r.u16()?)
        } else {
            None
        };
        let timestamp_echo = if flags & flag::TIMESTAMP_ECHO != 0 {
            Some(r.u16()?)
        } else {
            None
        };
        Ok(PacketHeader {
            time_critical: flags & flag::TIME_CRITICAL != 0,
            time_critical_reverse: flags & flag::TIME_CRITICAL_REVERSE != 0,
            mode,
            timestamp,
            timestamp_echo,
        })
    }

    /// Appends the encoded header to `out`.
    pub fn write(&self, out: &mut Vec<u8>) {
        let mut flags = match self.mode {
            Mode::Initiator => 1,
            Mode::Responder => 2,
            Mode::Startup => 3,
        };
        if self.time_critical {
            flags |= flag::TIME_CRITICAL;
        }
        if self.time_critical_reverse {
            flags |= flag::TIME_CRITICAL_REVERSE;
        }
        if self.timestamp.is_some() {
            flags |= flag::TIMESTAMP;
        }
        if self.timestamp_echo.is_some() {
            flags |= flag::TIMESTAMP_ECHO;
        }
        out.push(flags);
        if let Some(ts) = self.timestamp {
            out.extend_from_slice(&ts.to_be_bytes());
        }
        if let Some(tse) = self.timestamp_echo {
            out.extend_from_slice(&tse.to_be_bytes());
        }
    }

    /// Decodes a whole packet: the header and an iterator over its chunks.
    pub fn decode(packet: &[u8]) -> Result<(PacketHeader, ChunkIter<'_>), DecodeError> {
        let mut r = Reader::new(packet);
        let header = PacketHeader::read(&mut r)?;
        Ok((header, ChunkIter::new(r.rest())))
    }
}

/// Iterates over the chunks of a packet body (RFC 7016 §2.2.4): stops at padding (type 0x00 or
/// 0xFF) or when a chunk's length exceeds what remains. Yields `Err` for a chunk whose payload is
/// malformed and continues with the next one; Next User Data is resolved against the previous
/// User Data chunk.
#[derive(Debug, Clone)]
pub struct ChunkIter<'a> {
    reader: Reader<'a>,
    prev: Option<(u64, u64, u64)>,
}

impl<'a> ChunkIter<'a> {
    /// Iterates over the chunks in `body` (the packet after its header).
    pub fn new(body: &'a [u8]) -> Self {
        ChunkIter {
            reader: Reader::new(body),
            prev: None,
        }
    }

    fn next_user_data(&mut self, next: bool, payload: &'a [u8]) -> Result<Chunk<'a>, DecodeError> {
        let raw = decode_user_data(next, payload);
        let raw = match raw {
            Ok(raw) => raw,
            Err(e) => {
                self.prev = None;
                return Err(e);
            }
        };
        let (flow_id, sequence_number, fsn_offset) = match (raw.ids, self.prev) {
            (Some(ids), _) => ids,
            (None, Some((flow, seq, off))) => (
                flow,
                seq.checked_add(1)
                    .ok_or(DecodeError::Invalid("sequence number"))?,
                off.saturating_add(1),
            ),
            (None, None) => return Err(DecodeError::Invalid("next user data without user data")),
        };
        self.prev = Some((flow_id, sequence_number, fsn_offset));
        debug_assert!(raw.next == raw.ids.is_none());
        Ok(Chunk::UserData(UserData {
            flow_id,
            sequence_number,
            fsn_offset,
            fragment: raw.fragment(),
            abandon: raw.abandon(),
            final_: raw.final_(),
            options: raw.options,
            data: raw.data,
        }))
    }
}

impl<'a> Iterator for ChunkIter<'a> {
    type Item = Result<Chunk<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.reader.remaining() < 3 {
            return None;
        }
        let kind = self.reader.peek_u8()?;
        if kind == 0x00 || kind == 0xff {
            return None; // padding
        }
        let mut probe = self.reader.clone();
        let _ = probe.u8();
        let len = probe.u16().ok()? as usize;
        let payload = probe.bytes(len).ok()?;
        self.reader = probe;
        Some(match kind {
            kind::USER_DATA => self.next_user_data(false, payload),
            kind::NEXT_USER_DATA => self.next_user_data(true, payload),
            _ => {
                self.prev = None;
                Chunk::decode(kind, payload)
            }
        })
    }
}

/// Builds one plaintext packet: header, then chunks while they fit in `limit` bytes. Consecutive
/// fragments of one flow are written as Next User Data (RFC 7016 §2.3.12).
#[derive(Debug)]
pub struct PacketWriter {
    buf: Vec<u8>,
    limit: usize,
    header_len: usize,
    prev: Option<(u64, u64, u64)>,
}

impl PacketWriter {
    /// Starts a packet with `header`, at most `limit` bytes long, reusing `buf` (cleared).
    pub fn new(header: &PacketHeader, limit: usize, mut buf: Vec<u8>) -> Self {
        buf.clear();
        header.write(&mut buf);
        let header_len = buf.len();
        PacketWriter {
            buf,
            limit,
            header_len,
            prev: None,
        }
    }

    /// Bytes still free.
    pub fn remaining(&self) -> usize {
        self.limit.saturating_sub(self.buf.len())
    }

    /// Whether no chunk was written yet.
    pub fn has_chunks(&self) -> bool {
        self.buf.len() > self.header_len
    }

    /// Appends `chunk` if it fits; returns whether it was written.
    pub fn push(&mut self, chunk: &Chunk<'_>) -> bool {
        let start = self.buf.len();
        match chunk {
            Chunk::UserData(ud) => {
                let next = self.prev.is_some_and(|(flow, seq, off)| {
                    flow == ud.flow_id
                        && seq.checked_add(1) == Some(ud.sequence_number)
                        && off.checked_add(1) == Some(ud.fsn_offset)
                });
                if next {
                    encode_next_user_data(ud, &mut self.buf);
                } else {
                    chunk.encode(&mut self.buf);
                }
            }
            _ => chunk.encode(&mut self.buf),
        }
        if self.buf.len() > self.limit || self.buf.len() == start {
            self.buf.truncate(start);
            return false;
        }
        self.prev = match chunk {
            Chunk::UserData(ud) => Some((ud.flow_id, ud.sequence_number, ud.fsn_offset)),
            _ => None,
        };
        true
    }

    /// The finished packet bytes.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }
}

/// Scrambles a session ID for the first 4 bytes of a datagram (RFC 7016 §2.2.1):
/// `sessionID XOR word1 XOR word2` over the first two 32-bit words of `sealed`.
pub fn scramble_session_id(session_id: u32, sealed: &[u8]) -> u32 {
    session_id ^ word(sealed, 0) ^ word(sealed, 4)
}

/// Recovers the session ID from a datagram (its first 12 bytes; missing words count as 0).
/// Returns `None` for a datagram shorter than 4 bytes.
pub fn unscramble_session_id(datagram: &[u8]) -> Option<u32> {
    let head: [u8; 4] = datagram.get(..4)?.try_into().ok()?;
    let rest = &datagram[4..];
    Some(u32::from_be_bytes(head) ^ word(rest, 0) ^ word(rest, 4))
}

fn word(buf: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    if let Some(src) = buf.get(at..) {
        let n = src.len().min(4);
        w[..n].copy_from_slice(&src[..n]);
    }
    u32::from_be_bytes(w)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn startup_flags_are_0x0b() {
        let mut out = Vec::new();
        PacketHeader::startup(0x1234).write(&mut out);
        assert_eq!(out, [0x0b, 0x12, 0x34]);
    }

    #[test]
    fn scrambling_matches_the_documented_example() {
        // docs/protocol/session.md, "Session ID scrambling": SSID 7ec60dab = 48a2a66b ^
        // 3664abc0 for session 0.
        let mut d = vec![
            0x7e, 0xc6, 0x0d, 0xab, 0x48, 0xa2, 0xa6, 0x6b, 0x36, 0x64, 0xab, 0xc0,
        ];
        assert_eq!(unscramble_session_id(&d), Some(0));
        assert_eq!(scramble_session_id(0, &d[4..]), 0x7ec6_0dab);
        d.truncate(6);
        assert!(unscramble_session_id(&d).is_some());
        assert_eq!(unscramble_session_id(&[1, 2]), None);
    }

    #[test]
    fn writer_uses_next_user_data_and_reader_resolves_it() {
        let header = PacketHeader {
            time_critical: true,
            time_critical_reverse: false,
            mode: Mode::Initiator,
            timestamp: Some(7),
            timestamp_echo: Some(3),
        };
        let mut w = PacketWriter::new(&header, MAX_SESSION_PACKET, Vec::new());
        let a = UserData {
            flow_id: 2,
            sequence_number: 5,
            fsn_offset: 2,
            fragment: crate::wire::FragmentControl::Begin,
            abandon: false,
            final_: false,
            options: None,
            data: b"abc",
        };
        let b = UserData {
            sequence_number: 6,
            fsn_offset: 3,
            fragment: crate::wire::FragmentControl::End,
            ..a
        };
        assert!(w.push(&Chunk::UserData(a)));
        assert!(w.push(&Chunk::UserData(b)));
        assert!(w.push(&Chunk::Ping(&[])));
        let mut pkt = w.finish();
        assert_eq!(pkt[0], 0x8d);
        // Header 5 bytes; first chunk: 3 + flags, flow, seq, fsnOffset (4) + 3 data bytes.
        assert_eq!(pkt[5 + 3 + 4 + 3], kind::NEXT_USER_DATA);
        pkt.extend_from_slice(&[0xff; 7]);
        let (h, chunks) = PacketHeader::decode(&pkt).unwrap();
        assert_eq!(h, header);
        let chunks: Vec<_> = chunks.map(|c| c.unwrap()).collect();
        assert_eq!(
            chunks,
            [Chunk::UserData(a), Chunk::UserData(b), Chunk::Ping(&[])]
        );
    }

    #[test]
    fn writer_refuses_what_does_not_fit() {
        let mut w = PacketWriter::new(&PacketHeader::startup(0), 10, Vec::new());
        assert!(!w.push(&Chunk::Ping(&[0; 20])));
        assert!(!w.has_chunks());
        assert!(w.push(&Chunk::Ping(&[0; 4])));
    }

    proptest! {
        #[test]
        fn packet_decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..1500)) {
            if let Ok((_, chunks)) = PacketHeader::decode(&bytes) {
                for _ in chunks {}
            }
            let _ = unscramble_session_id(&bytes);
        }
    }
}
