//! Variable Length Unsigned integers, RFC 7016 §2.1.2: big-endian base 128, bit 0x80 on every byte
//! but the last. The encoder emits the minimal form; the decoder accepts any length.

use super::error::DecodeError;

/// Number of bytes [`write()`] uses for `value` (1 to 10).
pub fn len(value: u64) -> usize {
    let bits = 64 - value.leading_zeros() as usize;
    bits.div_ceil(7).max(1)
}

/// Appends the minimal VLU encoding of `value` to `out`.
pub fn write(out: &mut Vec<u8>, value: u64) {
    let n = len(value);
    for i in (0..n).rev() {
        let group = ((value >> (7 * i)) & 0x7f) as u8;
        out.push(if i == 0 { group } else { group | 0x80 });
    }
}

/// Decodes a VLU at the start of `buf`: `(value, bytes consumed)`. A value wider than 64 bits
/// saturates at `u64::MAX` (as zenomt does) rather than failing.
pub fn decode(buf: &[u8]) -> Result<(u64, usize), DecodeError> {
    let mut value: u64 = 0;
    for (i, &b) in buf.iter().enumerate() {
        value = if value > (u64::MAX >> 7) {
            u64::MAX
        } else {
            (value << 7) | u64::from(b & 0x7f)
        };
        if b & 0x80 == 0 {
            return Ok((value, i + 1));
        }
    }
    Err(DecodeError::Truncated)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn enc(v: u64) -> Vec<u8> {
        let mut out = Vec::new();
        write(&mut out, v);
        out
    }

    #[test]
    fn digest_examples() {
        // docs/protocol/session.md, "Variable-length integers"
        assert_eq!(enc(0), [0x00]);
        assert_eq!(enc(127), [0x7f]);
        assert_eq!(enc(128), [0x81, 0x00]);
        assert_eq!(enc(16383), [0xff, 0x7f]);
        assert_eq!(enc(16384), [0x81, 0x80, 0x00]);
        assert_eq!(enc(2_000_000), [0xfa, 0x89, 0x00]);
        assert_eq!(enc(65407), [0x83, 0xfe, 0x7f]);
        assert_eq!(decode(&[0x83, 0xff, 0x7f]).unwrap(), (65535, 3));
    }

    #[test]
    fn non_minimal_and_overlong_inputs() {
        assert_eq!(decode(&[0x80, 0x80, 0x05]).unwrap(), (5, 3));
        let long = [0xff; 20];
        assert_eq!(decode(&long), Err(DecodeError::Truncated));
        let mut sat = vec![0xff; 20];
        sat.push(0x7f);
        assert_eq!(decode(&sat).unwrap(), (u64::MAX, 21));
    }

    proptest! {
        #[test]
        fn round_trip(v: u64) {
            let e = enc(v);
            prop_assert_eq!(e.len(), len(v));
            prop_assert_eq!(decode(&e).unwrap(), (v, e.len()));
        }

        #[test]
        fn decode_never_panics(bytes: Vec<u8>) {
            let _ = decode(&bytes);
        }
    }
}
