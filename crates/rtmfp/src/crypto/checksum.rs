//! The RTMFP packet checksum of the Flash profile's default "checksum" mode
//! (docs/protocol/session.md, "Flash packet encryption", RFC 7425 §4.6.x; zenomt `in_cksum`,
//! MonaServer2 `ComputeChecksum`, Cumulus).
//!
//! A 16-bit ones'-complement sum: big-endian 16-bit words summed into a wide accumulator, an odd
//! final byte added as a *low-order* byte (not shifted left, a quirk shared by every
//! implementation), folded to 16 bits and complemented. Flash puts it, big-endian, in the two
//! bytes before the RTMFP packet; it covers everything after it, padding included.

/// Checksum of `data` (any length, empty gives `0xffff`).
///
/// Source: docs/protocol/session.md, "Flash packet encryption"; verified on every default-key
/// packet of the vectors.
pub fn checksum(data: &[u8]) -> u16 {
    // Ones'-complement sums are congruent mod 0xffff and 2^16 ≡ 1 (mod 0xffff), so summing
    // big-endian 64-bit words gives the same folded result as summing 16-bit words, with a
    // quarter of the additions. A u128 cannot overflow for any slice length.
    let mut wide = data.chunks_exact(8);
    let mut sum: u128 = wide
        .by_ref()
        .map(|w| {
            u128::from(u64::from_be_bytes([
                w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7],
            ]))
        })
        .sum();
    let mut words = wide.remainder().chunks_exact(2);
    sum += words
        .by_ref()
        .map(|w| u128::from(u16::from_be_bytes([w[0], w[1]])))
        .sum::<u128>();
    if let [last] = words.remainder() {
        sum += u128::from(*last);
    }
    while sum > 0xffff {
        sum = (sum >> 16) + (sum & 0xffff);
    }
    !(sum as u16)
}

/// Whether `cleartext` = `checksum:u16 (big-endian) | covered bytes` carries a valid checksum.
/// Returns `false` for inputs shorter than two bytes.
///
/// Source: docs/protocol/session.md, "Flash packet encryption" (receive order: decrypt, verify,
/// parse).
pub fn verify(cleartext: &[u8]) -> bool {
    match cleartext {
        [hi, lo, rest @ ..] => u16::from_be_bytes([*hi, *lo]) == checksum(rest),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn odd_byte_is_low_order() {
        let expected = !(0x0102u16 + 0x0304 + 0x05);
        assert_eq!(checksum(&[1, 2, 3, 4, 5]), expected);
    }

    #[test]
    fn folds_carries() {
        // 0xffff + 0x0001 = 0x10000 -> fold -> 0x0001 -> complement 0xfffe.
        assert_eq!(checksum(&[0xff, 0xff, 0x00, 0x01]), 0xfffe);
        assert_eq!(checksum(&[]), 0xffff);
        assert_eq!(checksum(&[0xff; 4000]), 0x0000);
    }

    #[test]
    fn apnic_ihello_checksum() {
        // apnic-flash13-cirrus.jsonl record 0 cleartext starts 99 f9.
        let pt = hex::decode(
            "99f90b132d30002716150a72746d66703a2f2f63632e72746d66702e6e657412af718559bbeea27a125b08236c4318ff",
        )
        .unwrap();
        assert!(verify(&pt));
        assert_eq!(checksum(&pt[2..]), 0x99f9);
        let mut bad = pt.clone();
        bad[10] ^= 1;
        assert!(!verify(&bad));
        assert!(!verify(&[0x12]));
    }

    proptest! {
        #[test]
        fn word_aligned_sum_matches_reference(data: Vec<u8>) {
            let mut s: u32 = 0;
            let mut i = 0;
            while i + 1 < data.len() {
                s += u32::from(u16::from_be_bytes([data[i], data[i + 1]]));
                i += 2;
            }
            if i < data.len() {
                s += u32::from(data[i]);
            }
            s = (s >> 16) + (s & 0xffff);
            s += s >> 16;
            prop_assert_eq!(checksum(&data), !(s as u16));
        }
    }
}
