//! Media messages of group multicast streams (docs/protocol/netgroup.md, "Media subscription" to
//! "Pull requests"), the librtmfp / Flash wire:
//!
//! ```text
//! GR\x11 media control, one flow per stream and direction
//!   21 subscription  VLU(len(name)+1) 00 name | options: VLU(L) id value ...
//!                    1: 32-byte stream key, 2: (empty), 3: VLU window ms, 4: VLU 300000,
//!                    5: VLU availability update period ms, 7: VLU fetch period ms,
//!                    6: (empty) availabilitySendToAll; 0x60: 32-byte publish proof (ours)
//!   21 end           VLU(last fragment ID)            (a message shorter than 0x24 bytes)
//!   22 map           VLU(last ID) bitmap...           bit b of byte j: holds last - 1 - 8j - b
//!   23 push          u8 mask                          bit b: push ids with id % 8 == b
//!   2B pull          VLU(fragment ID)
//! GR\x12 media fragments, pieces of at most 959 bytes of one media message
//!   20 whole  VLU(id) u8 media type, u32 time, payload
//!   30 first  VLU(id) u8 remaining, u8 media type, u32 time, payload
//!   10 middle VLU(id) u8 remaining, payload
//!   00 last   VLU(id) payload
//! ```
//!
//! Decoding never panics and bounds what it keeps (names, options, bitmaps).

use bytes::Bytes;
use rtmfp::wire::{vlu, Reader};

/// Type byte of a subscription or end-of-stream message (`GR\x11`).
pub const SUBSCRIPTION: u8 = 0x21;
/// Type byte of a fragments map (`GR\x11`).
pub const FRAGMENTS_MAP: u8 = 0x22;
/// Type byte of a push mask (`GR\x11`).
pub const PUSH: u8 = 0x23;
/// Type byte of a pull request (`GR\x11`).
pub const PULL: u8 = 0x2B;

/// Fragment type bytes (`GR\x12`, docs/protocol/netgroup.md, "Media fragments").
pub mod fragment_kind {
    /// A whole media message in one fragment.
    pub const WHOLE: u8 = 0x20;
    /// The first piece of a split media message.
    pub const START: u8 = 0x30;
    /// A middle piece.
    pub const NEXT: u8 = 0x10;
    /// The last piece.
    pub const END: u8 = 0x00;
}

/// Largest payload of one fragment, bytes (docs/protocol/netgroup.md, "Media fragments").
pub const FRAGMENT_PAYLOAD: usize = 959;
/// Largest media message: a `remaining` byte counts at most 255 further pieces.
pub const MAX_MESSAGE_BYTES: usize = FRAGMENT_PAYLOAD * 256;
/// Longest stream name kept, bytes.
pub const MAX_NAME_BYTES: usize = 1024;
/// Longest fragments-map bitmap kept, bytes (librtmfp's cap: 8192 fragments,
/// docs/protocol/netgroup.md, "Fragments map").
pub const MAX_MAP_BYTES: usize = 1024;
/// Messages shorter than this after `21` are end-of-stream (librtmfp's rule,
/// docs/protocol/netgroup.md, "Media subscription").
const END_THRESHOLD: usize = 0x24;
/// Option carrying our publish proof (not in librtmfp; unknown options are skipped there).
pub const OPTION_PUBLISH_PROOF: u64 = 0x60;
/// librtmfp's constant option 4 (300000; docs/protocol/netgroup.md, "Media subscription" [INFER]
/// stream expiry, ms).
const OPTION4_VALUE: u64 = 300_000;

/// Media type codes carried by fragments (RTMP message types, docs/protocol/netgroup.md, "Media
/// fragments").
pub mod media_type {
    /// Audio.
    pub const AUDIO: u8 = 0x08;
    /// Video.
    pub const VIDEO: u8 = 0x09;
    /// AMF3 data message (a `0x00` byte, then AMF0 values): `NetStream.send`.
    pub const DATA_AMF3: u8 = 0x0F;
    /// AMF3 invocation.
    pub const INVOKE_AMF3: u8 = 0x11;
    /// AMF0 data message.
    pub const DATA_AMF0: u8 = 0x12;
    /// AMF0 invocation.
    pub const INVOKE_AMF0: u8 = 0x14;

    /// Whether `t` is one of the codes above.
    pub fn is_known(t: u8) -> bool {
        matches!(
            t,
            AUDIO | VIDEO | DATA_AMF3 | INVOKE_AMF3 | DATA_AMF0 | INVOKE_AMF0
        )
    }
}

/// The 32-byte key a publisher draws for each publication (docs/protocol/netgroup.md, "Media
/// subscription").
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamKey(pub [u8; 32]);

impl std::fmt::Debug for StreamKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "StreamKey({})", hex::encode(&self.0[..6]))
    }
}

/// A stream announcement (docs/protocol/netgroup.md, "Media subscription"): name, key and the
/// publisher's parameters, all in milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Stream name (as published).
    pub name: String,
    /// Key of this publication.
    pub key: StreamKey,
    /// `multicastAvailabilitySendToAll`.
    pub send_to_all: bool,
    /// `multicastWindowDuration`, ms.
    pub window_ms: Option<u64>,
    /// `multicastAvailabilityUpdatePeriod`, ms.
    pub update_period_ms: Option<u64>,
    /// `multicastFetchPeriod`, ms.
    pub fetch_period_ms: Option<u64>,
    /// Our publish proof (docs/wire-netgroup.md), in groups with a publish password.
    pub proof: Option<[u8; 32]>,
}

/// A fragments map (docs/protocol/netgroup.md, "Fragments map").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FragmentsMap {
    /// Newest fragment ID held (implicitly held).
    pub last: u64,
    /// Bit `b` of byte `j` set: holds `last - 1 - 8j - b`.
    pub bitmap: Bytes,
}

impl FragmentsMap {
    /// Whether the map says its sender holds fragment `id`.
    pub fn holds(&self, id: u64) -> bool {
        if id == self.last {
            return true;
        }
        if id > self.last || id == 0 {
            return false;
        }
        let back = self.last - 1 - id;
        let (j, b) = ((back / 8) as usize, back % 8);
        self.bitmap.get(j).is_some_and(|byte| byte & (1 << b) != 0)
    }

    /// The oldest fragment the map can describe.
    pub fn oldest_described(&self) -> u64 {
        self.last
            .saturating_sub(8 * self.bitmap.len() as u64)
            .max(1)
    }

    /// A map of `last` with the holdings `held(id)` for the `depth` IDs before it.
    pub fn build(last: u64, depth: u64, held: impl Fn(u64) -> bool) -> Self {
        let depth = depth
            .min(last.saturating_sub(1))
            .min(8 * MAX_MAP_BYTES as u64);
        let mut bitmap = vec![0u8; depth.div_ceil(8) as usize];
        for back in 0..depth {
            if held(last - 1 - back) {
                bitmap[(back / 8) as usize] |= 1 << (back % 8);
            }
        }
        // Trailing zero bytes say nothing.
        while bitmap.last() == Some(&0) {
            bitmap.pop();
        }
        FragmentsMap {
            last,
            bitmap: Bytes::from(bitmap),
        }
    }
}

/// A decoded media control message (`GR\x11`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaControl {
    /// A stream announcement.
    Subscription(Subscription),
    /// End of stream: the last fragment ID.
    End(u64),
    /// Availability.
    Map(FragmentsMap),
    /// Push mask (replaces the previous one).
    Push(u8),
    /// Request for one fragment.
    Pull(u64),
}

/// Why a media message was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MediaDecodeError {
    /// Truncated, an unknown type, a missing stream key, or an ID of 0.
    #[error("malformed media message")]
    Malformed,
}

fn bad<T>(_: T) -> MediaDecodeError {
    MediaDecodeError::Malformed
}

fn write_option(out: &mut Vec<u8>, id: u64, value: &[u8]) {
    vlu::write(out, (vlu::len(id) + value.len()) as u64);
    vlu::write(out, id);
    out.extend_from_slice(value);
}

fn vlu_bytes(v: u64) -> Vec<u8> {
    let mut b = Vec::with_capacity(vlu::len(v));
    vlu::write(&mut b, v);
    b
}

impl MediaControl {
    /// Encodes the message (type byte first). Subscription options go in librtmfp's order,
    /// with option 6 after the periods (librtmfp stops parsing at 6, docs/protocol/netgroup.md,
    /// "Media subscription").
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64);
        match self {
            MediaControl::Subscription(s) => {
                out.push(SUBSCRIPTION);
                let name = &s.name.as_bytes()[..s.name.len().min(MAX_NAME_BYTES)];
                vlu::write(&mut out, name.len() as u64 + 1);
                out.push(0);
                out.extend_from_slice(name);
                write_option(&mut out, 1, &s.key.0);
                write_option(&mut out, 2, &[]);
                if let Some(w) = s.window_ms {
                    write_option(&mut out, 3, &vlu_bytes(w));
                }
                write_option(&mut out, 4, &vlu_bytes(OPTION4_VALUE));
                if let Some(u) = s.update_period_ms {
                    write_option(&mut out, 5, &vlu_bytes(u));
                }
                if let Some(f) = s.fetch_period_ms {
                    write_option(&mut out, 7, &vlu_bytes(f));
                }
                if let Some(p) = &s.proof {
                    write_option(&mut out, OPTION_PUBLISH_PROOF, p);
                }
                if s.send_to_all {
                    write_option(&mut out, 6, &[]);
                }
            }
            MediaControl::End(last) => {
                out.push(SUBSCRIPTION);
                vlu::write(&mut out, *last);
            }
            MediaControl::Map(m) => {
                out.push(FRAGMENTS_MAP);
                vlu::write(&mut out, m.last);
                out.extend_from_slice(&m.bitmap);
            }
            MediaControl::Push(mask) => out.extend_from_slice(&[PUSH, *mask]),
            MediaControl::Pull(id) => {
                out.push(PULL);
                vlu::write(&mut out, *id);
            }
        }
        out
    }

    /// Decodes one media control message. Unknown subscription options are skipped; a map's
    /// bitmap beyond [`MAX_MAP_BYTES`] is cut.
    ///
    /// Errors: [`MediaDecodeError::Malformed`].
    pub fn decode(msg: &[u8]) -> Result<Self, MediaDecodeError> {
        let mut r = Reader::new(msg);
        match r.u8().map_err(bad)? {
            SUBSCRIPTION if msg.len() < END_THRESHOLD => {
                let last = r.vlu().map_err(bad)?;
                if last == 0 || !r.is_empty() {
                    return Err(MediaDecodeError::Malformed);
                }
                Ok(MediaControl::End(last))
            }
            SUBSCRIPTION => decode_subscription(&mut r).map(MediaControl::Subscription),
            FRAGMENTS_MAP => {
                let last = r.vlu().map_err(bad)?;
                if last == 0 {
                    return Err(MediaDecodeError::Malformed);
                }
                let rest = r.rest();
                let bitmap = Bytes::copy_from_slice(&rest[..rest.len().min(MAX_MAP_BYTES)]);
                Ok(MediaControl::Map(FragmentsMap { last, bitmap }))
            }
            PUSH => {
                let mask = r.u8().map_err(bad)?;
                Ok(MediaControl::Push(mask))
            }
            PULL => {
                let id = r.vlu().map_err(bad)?;
                if id == 0 || !r.is_empty() {
                    return Err(MediaDecodeError::Malformed);
                }
                Ok(MediaControl::Pull(id))
            }
            _ => Err(MediaDecodeError::Malformed),
        }
    }
}

fn decode_subscription(r: &mut Reader<'_>) -> Result<Subscription, MediaDecodeError> {
    let name_field = r.vlu_field().map_err(bad)?;
    let name = match name_field {
        [0, name @ ..] => &name[..name.len().min(MAX_NAME_BYTES)],
        _ => return Err(MediaDecodeError::Malformed),
    };
    let mut s = Subscription {
        name: String::from_utf8_lossy(name).into_owned(),
        key: StreamKey([0; 32]),
        send_to_all: false,
        window_ms: None,
        update_period_ms: None,
        fetch_period_ms: None,
        proof: None,
    };
    let mut has_key = false;
    while !r.is_empty() {
        let option = r.vlu_field().map_err(bad)?;
        let (id, used) = vlu::decode(option).map_err(bad)?;
        let value = &option[used..];
        let number = || vlu::decode(value).ok().map(|(v, _)| v);
        match id {
            1 => {
                s.key = StreamKey(value.try_into().map_err(bad)?);
                has_key = true;
            }
            3 => s.window_ms = number(),
            5 => s.update_period_ms = number(),
            7 => s.fetch_period_ms = number(),
            6 => s.send_to_all = true,
            OPTION_PUBLISH_PROOF => s.proof = value.try_into().ok(),
            _ => {}
        }
    }
    if !has_key {
        return Err(MediaDecodeError::Malformed);
    }
    Ok(s)
}

/// Where a fragment sits in its media message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Piece {
    /// The whole message.
    Whole {
        /// RTMP media type.
        media_type: u8,
        /// Timestamp, ms.
        time: u32,
    },
    /// The first of `remaining + 1` pieces.
    Start {
        /// Pieces after this one.
        remaining: u8,
        /// RTMP media type.
        media_type: u8,
        /// Timestamp, ms.
        time: u32,
    },
    /// A middle piece with `remaining` pieces after it.
    Middle {
        /// Pieces after this one.
        remaining: u8,
    },
    /// The last piece.
    End,
}

/// A media fragment (`GR\x12`, docs/protocol/netgroup.md, "Media fragments").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fragment {
    /// Fragment ID (from 1).
    pub id: u64,
    /// Its place in the message.
    pub piece: Piece,
    /// Payload bytes (at most [`FRAGMENT_PAYLOAD`] when we cut them).
    pub payload: Bytes,
}

impl Fragment {
    /// Encodes the fragment.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.payload.len() + 16);
        match self.piece {
            Piece::Whole { media_type, time } => {
                out.push(fragment_kind::WHOLE);
                vlu::write(&mut out, self.id);
                out.push(media_type);
                out.extend_from_slice(&time.to_be_bytes());
            }
            Piece::Start {
                remaining,
                media_type,
                time,
            } => {
                out.push(fragment_kind::START);
                vlu::write(&mut out, self.id);
                out.extend_from_slice(&[remaining, media_type]);
                out.extend_from_slice(&time.to_be_bytes());
            }
            Piece::Middle { remaining } => {
                out.push(fragment_kind::NEXT);
                vlu::write(&mut out, self.id);
                out.push(remaining);
            }
            Piece::End => {
                out.push(fragment_kind::END);
                vlu::write(&mut out, self.id);
            }
        }
        out.extend_from_slice(&self.payload);
        out
    }

    /// Decodes a fragment; `msg` is kept (the payload is a slice of it). A `30` without its
    /// `remaining` byte (a Flash quirk, docs/protocol/netgroup.md, "Media fragments") is read as a
    /// start of unknown length.
    ///
    /// Errors: [`MediaDecodeError::Malformed`].
    pub fn decode(msg: &Bytes) -> Result<Self, MediaDecodeError> {
        let mut r = Reader::new(msg);
        let kind = r.u8().map_err(bad)?;
        let id = r.vlu().map_err(bad)?;
        if id == 0 {
            return Err(MediaDecodeError::Malformed);
        }
        let piece = match kind {
            fragment_kind::WHOLE => Piece::Whole {
                media_type: r.u8().map_err(bad)?,
                time: r.u32().map_err(bad)?,
            },
            fragment_kind::START => {
                let a = r.u8().map_err(bad)?;
                let b = r.peek_u8().ok_or(MediaDecodeError::Malformed)?;
                if matches!(a, media_type::AUDIO | media_type::VIDEO) && !media_type::is_known(b) {
                    // No `remaining` byte: `a` is the media type.
                    Piece::Start {
                        remaining: u8::MAX,
                        media_type: a,
                        time: r.u32().map_err(bad)?,
                    }
                } else {
                    Piece::Start {
                        remaining: a,
                        media_type: r.u8().map_err(bad)?,
                        time: r.u32().map_err(bad)?,
                    }
                }
            }
            fragment_kind::NEXT => Piece::Middle {
                remaining: r.u8().map_err(bad)?,
            },
            fragment_kind::END => Piece::End,
            _ => return Err(MediaDecodeError::Malformed),
        };
        let offset = msg.len() - r.remaining();
        Ok(Fragment {
            id,
            piece,
            payload: msg.slice(offset..),
        })
    }

    /// Cuts one media message into fragments with IDs from `first_id`, pieces of at most
    /// [`FRAGMENT_PAYLOAD`] bytes. An empty payload is one whole fragment.
    ///
    /// Errors: `None` for a payload over [`MAX_MESSAGE_BYTES`].
    pub fn split(first_id: u64, media_type: u8, time: u32, payload: &Bytes) -> Option<Vec<Self>> {
        if payload.len() > MAX_MESSAGE_BYTES {
            return None;
        }
        if payload.len() <= FRAGMENT_PAYLOAD {
            return Some(vec![Fragment {
                id: first_id,
                piece: Piece::Whole { media_type, time },
                payload: payload.clone(),
            }]);
        }
        let n = payload.len().div_ceil(FRAGMENT_PAYLOAD);
        Some(
            (0..n)
                .map(|i| {
                    let remaining = (n - 1 - i) as u8;
                    let piece = match i {
                        0 => Piece::Start {
                            remaining,
                            media_type,
                            time,
                        },
                        _ if remaining == 0 => Piece::End,
                        _ => Piece::Middle { remaining },
                    };
                    let end = ((i + 1) * FRAGMENT_PAYLOAD).min(payload.len());
                    Fragment {
                        id: first_id + i as u64,
                        piece,
                        payload: payload.slice(i * FRAGMENT_PAYLOAD..end),
                    }
                })
                .collect(),
        )
    }
}

/// The ID of an encoded fragment without decoding the rest.
pub fn fragment_id(msg: &[u8]) -> Option<u64> {
    let (id, _) = vlu::decode(msg.get(1..)?).ok()?;
    (id != 0).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captured_subscription_round_trips() {
        // docs/protocol/netgroup.md, "Media subscription": the complete message as sent by librtmfp
        // (publisher defaults).
        let mut msg = hex::decode("210800").unwrap();
        msg.extend_from_slice(b"test123");
        msg.extend_from_slice(&[0x21, 0x01]);
        msg.extend_from_slice(&[7u8; 32]);
        msg.extend_from_slice(&hex::decode("0102" /* 2 */).unwrap());
        msg.extend_from_slice(&hex::decode("0303be40" /* 8000 */).unwrap());
        msg.extend_from_slice(&hex::decode("040492a760" /* 300000 */).unwrap());
        msg.extend_from_slice(&hex::decode("020564" /* 100 */).unwrap());
        msg.extend_from_slice(&hex::decode("03079344" /* 2500 */).unwrap());
        let m = MediaControl::decode(&msg).unwrap();
        let MediaControl::Subscription(s) = &m else {
            panic!("{m:?}")
        };
        assert_eq!(s.name, "test123");
        assert_eq!(s.key, StreamKey([7; 32]));
        assert_eq!(
            (s.window_ms, s.update_period_ms, s.fetch_period_ms),
            (Some(8000), Some(100), Some(2500))
        );
        assert!(!s.send_to_all && s.proof.is_none());
        assert_eq!(m.encode(), msg);
    }

    #[test]
    fn end_map_push_pull() {
        assert_eq!(
            MediaControl::decode(&[0x21, 0x0d]).unwrap(),
            MediaControl::End(13)
        );
        for m in [
            MediaControl::End(300),
            MediaControl::Push(0xfe),
            MediaControl::Pull(1),
            MediaControl::Pull(100_000),
        ] {
            assert_eq!(MediaControl::decode(&m.encode()).unwrap(), m);
        }
        // `22 09 e0`: a receiver holding 1, 2, 3 and 9 (docs/protocol/netgroup.md, "Fragments
        // map").
        let MediaControl::Map(map) = MediaControl::decode(&[0x22, 0x09, 0xe0]).unwrap() else {
            panic!()
        };
        let held: Vec<u64> = (1..=10).filter(|&i| map.holds(i)).collect();
        assert_eq!(held, vec![1, 2, 3, 9]);
        let rebuilt = FragmentsMap::build(9, 8, |i| [1, 2, 3].contains(&i));
        assert_eq!(MediaControl::Map(rebuilt).encode(), vec![0x22, 0x09, 0xe0]);
        // The publisher's all-ones maps: `22 0a ff 01`.
        let full = FragmentsMap::build(10, 64, |_| true);
        assert_eq!(
            MediaControl::Map(full).encode(),
            vec![0x22, 0x0a, 0xff, 0x01]
        );
        assert_eq!(
            MediaControl::Map(FragmentsMap::build(1, 64, |_| true)).encode(),
            vec![0x22, 0x01]
        );
    }

    #[test]
    fn hostile_control_messages() {
        for bad in [
            &[][..],
            &[0x21],
            &[0x21, 0x00],
            &[0x22],
            &[0x22, 0x00],
            &[0x23],
            &[0x2b, 0x00],
            &[0x2b, 0x01, 0x01],
            &[0x99, 0x01],
        ] {
            assert!(MediaControl::decode(bad).is_err(), "{bad:02x?}");
        }
        // A subscription without a key.
        let mut msg = vec![0x21, 0x05, 0x00];
        msg.extend_from_slice(b"name");
        msg.extend_from_slice(&[0x01, 0x02]);
        msg.resize(40, 0x01);
        assert!(MediaControl::decode(&msg).is_err());
        // A huge map is cut.
        let mut big = vec![0x22, 0x05];
        big.extend(std::iter::repeat_n(0xff, 5000));
        let MediaControl::Map(m) = MediaControl::decode(&big).unwrap() else {
            panic!()
        };
        assert_eq!(m.bitmap.len(), MAX_MAP_BYTES);
    }

    #[test]
    fn captured_whole_fragment() {
        // docs/protocol/netgroup.md, "Media fragments": `20 01 0f 00000000 00 02 0006 "onPost" 02
        // 0013 "post from peer A #1"`.
        let mut msg = hex::decode("20010f0000000000020006").unwrap();
        msg.extend_from_slice(b"onPost");
        msg.extend_from_slice(&[0x02, 0x00, 0x13]);
        msg.extend_from_slice(b"post from peer A #1");
        let bytes = Bytes::from(msg.clone());
        let f = Fragment::decode(&bytes).unwrap();
        assert_eq!(f.id, 1);
        assert_eq!(
            f.piece,
            Piece::Whole {
                media_type: media_type::DATA_AMF3,
                time: 0
            }
        );
        assert_eq!(f.payload[0], 0);
        assert_eq!(f.encode(), msg);
        assert_eq!(fragment_id(&msg), Some(1));
    }

    #[test]
    fn split_and_reencode() {
        let payload = Bytes::from((0..3000u32).map(|i| i as u8).collect::<Vec<_>>());
        let frags = Fragment::split(7, media_type::VIDEO, 1234, &payload).unwrap();
        assert_eq!(frags.len(), 4);
        assert!(frags.iter().all(|f| f.payload.len() <= FRAGMENT_PAYLOAD));
        assert_eq!(
            frags[0].piece,
            Piece::Start {
                remaining: 3,
                media_type: media_type::VIDEO,
                time: 1234
            }
        );
        assert_eq!(frags[1].piece, Piece::Middle { remaining: 2 });
        assert_eq!(frags[3].piece, Piece::End);
        let mut joined = Vec::new();
        for (i, f) in frags.iter().enumerate() {
            assert_eq!(f.id, 7 + i as u64);
            let d = Fragment::decode(&Bytes::from(f.encode())).unwrap();
            assert_eq!(&d, f);
            joined.extend_from_slice(&d.payload);
        }
        assert_eq!(joined, payload);
        assert!(Fragment::split(1, 8, 0, &Bytes::from(vec![0; MAX_MESSAGE_BYTES + 1])).is_none());
        assert_eq!(
            Fragment::split(1, 8, 0, &Bytes::from(vec![0; MAX_MESSAGE_BYTES]))
                .unwrap()
                .len(),
            256
        );
    }

    #[test]
    fn flash_start_without_remaining() {
        // `30 05 09 <time> payload`: the byte after the ID is a video type, then time.
        let msg = Bytes::from(vec![0x30, 0x05, 0x09, 0, 0, 0, 9, 0xaa]);
        let f = Fragment::decode(&msg).unwrap();
        assert_eq!(
            f.piece,
            Piece::Start {
                remaining: u8::MAX,
                media_type: 9,
                time: 9
            }
        );
        for bad in [
            &[0x20][..],
            &[0x20, 0x00, 9, 0, 0, 0, 0],
            &[0x40, 1],
            &[0x20, 1, 9],
        ] {
            assert!(Fragment::decode(&Bytes::copy_from_slice(bad)).is_err());
        }
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_and_reencode_stably(data in proptest::collection::vec(0u8.., 0..200)) {
            if let Ok(m) = MediaControl::decode(&data) {
                let again = MediaControl::decode(&m.encode()).unwrap();
                proptest::prop_assert_eq!(again, m);
            }
            if let Ok(f) = Fragment::decode(&Bytes::from(data)) {
                let again = Fragment::decode(&Bytes::from(f.encode())).unwrap();
                proptest::prop_assert_eq!(again, f);
            }
        }
    }
}
