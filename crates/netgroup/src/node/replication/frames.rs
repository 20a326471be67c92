//! Object replication frames on the `GR\x60` extension flow (docs/protocol/netgroup.md, "Object
//! replication" gives the API only; the wire is ours, `docs/wire-netgroup.md`):
//!
//! ```text
//! 52 HAVE   | VLU(count) | count x ( VLU(start) VLU(end - start) )   ranges ascending, disjoint
//! 53 FETCH  | VLU(index)
//! 54 OBJECT | VLU(index) | object bytes (to the end)
//! 55 DENY   | VLU(index)
//! ```
//!
//! Decoding never panics and never allocates more than the caller's bounds allow.

use bytes::Bytes;
use rtmfp::wire::{vlu, Reader};

use super::ranges::{RangeSet, MAX_OBJECT_INDEX};

/// Type byte of a HAVE frame (the sender's whole have set).
pub const HAVE: u8 = 0x52;
/// Type byte of a FETCH frame (request one object).
pub const FETCH: u8 = 0x53;
/// Type byte of an OBJECT frame (a requested object).
pub const OBJECT: u8 = 0x54;
/// Type byte of a DENY frame (a request refused).
pub const DENY: u8 = 0x55;

/// A decoded replication frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// The sender's have set.
    Have(RangeSet),
    /// Request for the object at this index.
    Fetch(u64),
    /// The object at `index`.
    Object {
        /// Its index.
        index: u64,
        /// Its bytes.
        object: Bytes,
    },
    /// The request for this index was refused.
    Deny(u64),
}

/// Why a replication frame was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Truncated, trailing bytes, unknown type, index beyond [`MAX_OBJECT_INDEX`], or ranges
    /// out of order.
    #[error("malformed replication frame")]
    Malformed,
    /// More ranges than allowed, or an object larger than allowed.
    #[error("replication frame over its bound")]
    Oversized,
}

/// Decoding bounds (from [`crate::node::GroupConfig`]).
#[derive(Debug, Clone, Copy)]
pub struct FrameLimits {
    /// Most ranges in a HAVE.
    pub max_ranges: usize,
    /// Largest object, bytes.
    pub max_object_bytes: usize,
}

fn index(r: &mut Reader<'_>) -> Result<u64, FrameError> {
    let i = r.vlu().map_err(|_| FrameError::Malformed)?;
    if i > MAX_OBJECT_INDEX {
        return Err(FrameError::Malformed);
    }
    Ok(i)
}

/// The index of an OBJECT frame, read without its bytes (to end the request an oversized
/// object answered).
pub fn object_index(data: &[u8]) -> Option<u64> {
    let mut r = Reader::new(data);
    if r.u8().ok()? != OBJECT {
        return None;
    }
    index(&mut r).ok()
}

impl Frame {
    /// Whether `kind` is a replication frame type.
    pub fn is_replication(kind: u8) -> bool {
        matches!(kind, HAVE | FETCH | OBJECT | DENY)
    }

    /// Decodes a whole frame (type byte included). OBJECT bytes are a slice of `data`.
    ///
    /// Errors: [`FrameError`].
    pub fn decode(data: &Bytes, limits: &FrameLimits) -> Result<Frame, FrameError> {
        let mut r = Reader::new(data);
        let kind = r.u8().map_err(|_| FrameError::Malformed)?;
        let frame = match kind {
            HAVE => {
                let count = r.vlu().map_err(|_| FrameError::Malformed)?;
                if count > limits.max_ranges as u64 {
                    return Err(FrameError::Oversized);
                }
                let mut set = RangeSet::new();
                let mut prev_end: Option<u64> = None;
                for _ in 0..count {
                    let start = index(&mut r)?;
                    let len = r.vlu().map_err(|_| FrameError::Malformed)?;
                    let end = start.checked_add(len).ok_or(FrameError::Malformed)?;
                    if end > MAX_OBJECT_INDEX || prev_end.is_some_and(|p| start <= p) {
                        return Err(FrameError::Malformed);
                    }
                    prev_end = Some(end);
                    set.insert(start, end);
                }
                Frame::Have(set)
            }
            FETCH => Frame::Fetch(index(&mut r)?),
            DENY => Frame::Deny(index(&mut r)?),
            OBJECT => {
                let i = index(&mut r)?;
                let at = data.len() - r.remaining();
                if r.remaining() > limits.max_object_bytes {
                    return Err(FrameError::Oversized);
                }
                r.rest();
                Frame::Object {
                    index: i,
                    object: data.slice(at..),
                }
            }
            _ => return Err(FrameError::Malformed),
        };
        if !r.is_empty() {
            return Err(FrameError::Malformed);
        }
        Ok(frame)
    }

    /// Encodes the frame. A HAVE carries at most `max_ranges` ranges (the lowest ones).
    pub fn encode(&self, max_ranges: usize) -> Bytes {
        let mut out = Vec::new();
        match self {
            Frame::Have(set) => {
                out.push(HAVE);
                let n = set.range_count().min(max_ranges);
                vlu::write(&mut out, n as u64);
                for (s, e) in set.ranges().take(n) {
                    vlu::write(&mut out, s);
                    vlu::write(&mut out, e - s);
                }
            }
            Frame::Fetch(i) => {
                out.push(FETCH);
                vlu::write(&mut out, *i);
            }
            Frame::Deny(i) => {
                out.push(DENY);
                vlu::write(&mut out, *i);
            }
            Frame::Object { index, object } => {
                out.reserve(10 + object.len());
                out.push(OBJECT);
                vlu::write(&mut out, *index);
                out.extend_from_slice(object);
            }
        }
        Bytes::from(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const L: FrameLimits = FrameLimits {
        max_ranges: 4,
        max_object_bytes: 8,
    };

    fn round(f: Frame) {
        let b = f.encode(usize::MAX);
        assert_eq!(Frame::decode(&b, &L), Ok(f));
    }

    #[test]
    fn round_trips() {
        let mut s = RangeSet::new();
        s.insert(0, 63);
        s.insert(200, 200);
        s.insert(MAX_OBJECT_INDEX - 1, MAX_OBJECT_INDEX);
        round(Frame::Have(s));
        round(Frame::Have(RangeSet::new()));
        round(Frame::Fetch(0));
        round(Frame::Fetch(MAX_OBJECT_INDEX));
        round(Frame::Deny(300));
        round(Frame::Object {
            index: 7,
            object: Bytes::from_static(b"abc"),
        });
        round(Frame::Object {
            index: 7,
            object: Bytes::new(),
        });
    }

    #[test]
    fn exact_bytes() {
        let mut s = RangeSet::new();
        s.insert(0, 63);
        s.insert(200, 201);
        assert_eq!(
            &Frame::Have(s).encode(16)[..],
            &[0x52, 2, 0, 63, 0x81, 0x48, 1]
        );
        assert_eq!(&Frame::Fetch(128).encode(16)[..], &[0x53, 0x81, 0x00]);
        assert_eq!(
            &Frame::Object {
                index: 1,
                object: Bytes::from_static(b"xy")
            }
            .encode(16)[..],
            &[0x54, 1, b'x', b'y']
        );
        assert_eq!(&Frame::Deny(5).encode(16)[..], &[0x55, 5]);
    }

    #[test]
    fn rejects_bad_input() {
        let d = |b: &[u8]| Frame::decode(&Bytes::copy_from_slice(b), &L);
        assert_eq!(d(&[]), Err(FrameError::Malformed));
        assert_eq!(d(&[0x53]), Err(FrameError::Malformed));
        assert_eq!(d(&[0x53, 1, 2]), Err(FrameError::Malformed));
        assert_eq!(d(&[0x56, 1]), Err(FrameError::Malformed));
        // Too many ranges, before reading them.
        assert_eq!(d(&[0x52, 5]), Err(FrameError::Oversized));
        // Count larger than the ranges present.
        assert_eq!(d(&[0x52, 2, 0, 1]), Err(FrameError::Malformed));
        // Out of order / overlapping.
        assert_eq!(d(&[0x52, 2, 5, 0, 3, 0]), Err(FrameError::Malformed));
        assert_eq!(d(&[0x52, 2, 5, 2, 7, 0]), Err(FrameError::Malformed));
        // Object too large.
        assert_eq!(
            d(&[0x54, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]),
            Err(FrameError::Oversized)
        );
        // Index beyond the Flash bound; overflowing range end.
        let mut big = vec![0x53];
        vlu::write(&mut big, MAX_OBJECT_INDEX + 1);
        assert_eq!(d(&big), Err(FrameError::Malformed));
        let mut ovf = vec![0x52, 1];
        vlu::write(&mut ovf, 10);
        vlu::write(&mut ovf, u64::MAX);
        assert_eq!(d(&ovf), Err(FrameError::Malformed));
    }

    #[test]
    fn have_is_truncated_to_the_bound() {
        let mut s = RangeSet::new();
        for i in 0..10 {
            s.insert(i * 10, i * 10);
        }
        let b = Frame::Have(s).encode(4);
        let Ok(Frame::Have(got)) = Frame::decode(&b, &L) else {
            panic!("decode");
        };
        assert_eq!(
            got.ranges().collect::<Vec<_>>(),
            vec![(0, 0), (10, 10), (20, 20), (30, 30)]
        );
    }

    #[test]
    fn never_panics_on_garbage() {
        let mut x: u64 = 0x1234_5678;
        for _ in 0..2000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 12) as usize;
            let mut b = vec![0x52 + (x % 4) as u8];
            for k in 0..len {
                b.push((x >> (k * 5)) as u8);
            }
            let _ = Frame::decode(&Bytes::from(b), &L);
        }
    }
}
