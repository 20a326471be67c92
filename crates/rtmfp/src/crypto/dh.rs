//! Finite-field Diffie-Hellman over the MODP groups RTMFP's Flash profile uses, generator 2
//! (RFC 7425 §4.2 and §4.6.x; docs/protocol/session.md, "Key derivation").
//!
//! - group 2: 1024-bit prime of RFC 2409 §6.2 (required; the only group Flash-era peers handle);
//! - group 5: 1536-bit prime of RFC 3526 §2;
//! - group 14: 2048-bit prime of RFC 3526 §3.
//!
//! Integers on the wire are big-endian. Shared secrets are *minimal* big-endian (no leading zero
//! bytes), as zenomt, MonaServer2, librtmfp and go-rtmfp encode them; public keys are sent padded
//! to the group's size (see [`DhKeyPair::public_key_padded`]) because legacy parsers read a fixed
//! 128 bytes for group 2.

use std::sync::OnceLock;

use num_bigint::BigUint;
use num_traits::Zero;
use rand_core::RngCore;

use super::CryptoError;

const MODP_1024_HEX: &str = concat!(
    "ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74",
    "020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f1437",
    "4fe1356d6d51c245e485b576625e7ec6f44c42e9a637ed6b0bff5cb6f406b7ed",
    "ee386bfb5a899fa5ae9f24117c4b1fe649286651ece65381ffffffffffffffff",
);

const MODP_1536_HEX: &str = concat!(
    "ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74",
    "020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f1437",
    "4fe1356d6d51c245e485b576625e7ec6f44c42e9a637ed6b0bff5cb6f406b7ed",
    "ee386bfb5a899fa5ae9f24117c4b1fe649286651ece45b3dc2007cb8a163bf05",
    "98da48361c55d39a69163fa8fd24cf5f83655d23dca3ad961c62f356208552bb",
    "9ed529077096966d670c354e4abc9804f1746c08ca237327ffffffffffffffff",
);

const MODP_2048_HEX: &str = concat!(
    "ffffffffffffffffc90fdaa22168c234c4c6628b80dc1cd129024e088a67cc74",
    "020bbea63b139b22514a08798e3404ddef9519b3cd3a431b302b0a6df25f1437",
    "4fe1356d6d51c245e485b576625e7ec6f44c42e9a637ed6b0bff5cb6f406b7ed",
    "ee386bfb5a899fa5ae9f24117c4b1fe649286651ece45b3dc2007cb8a163bf05",
    "98da48361c55d39a69163fa8fd24cf5f83655d23dca3ad961c62f356208552bb",
    "9ed529077096966d670c354e4abc9804f1746c08ca18217c32905e462e36ce3b",
    "e39e772c180e86039b2783a2ec07a28fb5c55df06f4c52c9de2bcbf695581718",
    "3995497cea956ae515d2261898fa051015728e5a8aacaa68ffffffffffffffff",
);

/// A MODP Diffie-Hellman group with generator 2 (RFC 7425 §4.2, docs/protocol/session.md, "Key
/// derivation").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DhGroup {
    /// Group 2: 1024-bit prime (RFC 2409 §6.2). Required by RFC 7425 and used by Flash Player.
    Modp1024,
    /// Group 5: 1536-bit prime (RFC 3526 §2). Advertised by Flash-era servers.
    Modp1536,
    /// Group 14: 2048-bit prime (RFC 3526 §3).
    Modp2048,
}

impl DhGroup {
    /// Every supported group, in RTMFP group-ID order (2, 5, 14).
    pub const ALL: [DhGroup; 3] = [DhGroup::Modp1024, DhGroup::Modp1536, DhGroup::Modp2048];

    /// The RTMFP/IKE group ID: 2, 5 or 14 (carried as a VLU in certificates and components).
    pub fn id(self) -> u64 {
        match self {
            DhGroup::Modp1024 => 2,
            DhGroup::Modp1536 => 5,
            DhGroup::Modp2048 => 14,
        }
    }

    /// The group with RTMFP group ID `id`, or `None` for groups this crate does not implement
    /// (e.g. zenomt's group 16).
    pub fn from_id(id: u64) -> Option<Self> {
        match id {
            2 => Some(DhGroup::Modp1024),
            5 => Some(DhGroup::Modp1536),
            14 => Some(DhGroup::Modp2048),
            _ => None,
        }
    }

    /// The group's prime modulus (parsed once per process and cached).
    pub fn prime(self) -> &'static BigUint {
        static PRIMES: [OnceLock<BigUint>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
        let (cell, hex) = match self {
            DhGroup::Modp1024 => (&PRIMES[0], MODP_1024_HEX),
            DhGroup::Modp1536 => (&PRIMES[1], MODP_1536_HEX),
            DhGroup::Modp2048 => (&PRIMES[2], MODP_2048_HEX),
        };
        cell.get_or_init(|| parse_hex_const(hex))
    }

    /// Size of the prime in bytes (128, 192, 256): the length public keys are padded to.
    pub fn byte_len(self) -> usize {
        match self {
            DhGroup::Modp1024 => 128,
            DhGroup::Modp1536 => 192,
            DhGroup::Modp2048 => 256,
        }
    }

    /// Bit length of freshly generated private exponents: 224 (group 2), 256 (group 5) and
    /// 320 (group 14), about twice the groups' symmetric strength (zenomt uses 224 and 320).
    pub fn private_bits(self) -> u64 {
        match self {
            DhGroup::Modp1024 => 224,
            DhGroup::Modp1536 => 256,
            DhGroup::Modp2048 => 320,
        }
    }
}

/// Parses one of the hex constants above (built-in data, never network input).
fn parse_hex_const(hex: &str) -> BigUint {
    BigUint::parse_bytes(hex.as_bytes(), 16).unwrap_or_default()
}

/// Width in bits of the fixed-base comb windows used by [`pow2`].
const COMB_BITS: u64 = 4;

/// Precomputed powers of the generator for [`pow2`]: row `i`, entry `j` holds
/// `2^(j * 2^(COMB_BITS * i)) mod p`, enough rows for [`DhGroup::private_bits`]-bit exponents.
fn comb_table(group: DhGroup) -> &'static [Vec<BigUint>] {
    static TABLES: [OnceLock<Vec<Vec<BigUint>>>; 3] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let cell = match group {
        DhGroup::Modp1024 => &TABLES[0],
        DhGroup::Modp1536 => &TABLES[1],
        DhGroup::Modp2048 => &TABLES[2],
    };
    cell.get_or_init(|| {
        let p = group.prime();
        let rows = group.private_bits().div_ceil(COMB_BITS);
        let width = 1usize << COMB_BITS;
        let mut base = BigUint::from(2u32);
        let mut table = Vec::with_capacity(rows as usize);
        for _ in 0..rows {
            let mut row = Vec::with_capacity(width);
            row.push(BigUint::from(1u32));
            for j in 1..width {
                row.push((&row[j - 1] * &base) % p);
            }
            base = (&row[width - 1] * &base) % p;
            table.push(row);
        }
        table
    })
}

/// `2^x mod p` for the group's generator 2. Exponents of at most [`DhGroup::private_bits`] bits
/// (every generated key) use a fixed-base comb over a lazily built per-group table (about
/// 8x faster than a generic `modpow`, which matters for responder handshakes/s); larger
/// exponents (imported keys) fall back to `modpow`. Neither is constant-time.
fn pow2(group: DhGroup, x: &BigUint) -> BigUint {
    let p = group.prime();
    if x.bits() > group.private_bits() {
        return BigUint::from(2u32).modpow(x, p);
    }
    let table = comb_table(group);
    let digits = x.to_u64_digits();
    let mut acc = BigUint::from(1u32);
    for (i, row) in table.iter().enumerate() {
        let bit = i as u64 * COMB_BITS;
        let word = digits.get((bit / 64) as usize).copied().unwrap_or(0);
        let window = ((word >> (bit % 64)) & ((1 << COMB_BITS) - 1)) as usize;
        if window != 0 {
            if let Some(v) = row.get(window) {
                acc = (&acc * v) % p;
            }
        }
    }
    acc
}

/// Checks a received public key `y` (RFC 7425 §4.6.2 per zenomt, docs/protocol/session.md, "Key
/// derivation"): `2^24 <= y <= p - 2^24`, and at least 16 one-bits and 16 zero-bits, not counting
/// leading zeros.
///
/// Errors: [`CryptoError::BadKeying`] when a check fails.
pub fn validate_public_key(group: DhGroup, y: &BigUint) -> Result<(), CryptoError> {
    let p = group.prime();
    let low = BigUint::from(1u32 << 24);
    if y < &low || y + &low > *p {
        return Err(CryptoError::BadKeying("DH public key out of range"));
    }
    let ones = y.count_ones();
    let zeros = y.bits() - ones;
    if ones < 16 || zeros < 16 {
        return Err(CryptoError::BadKeying(
            "DH public key has too few one or zero bits",
        ));
    }
    Ok(())
}

/// [`validate_public_key`] on big-endian bytes (any length, leading zeros allowed).
///
/// Errors: [`CryptoError::BadKeying`] when a check fails.
pub fn validate_public_key_bytes(group: DhGroup, y: &[u8]) -> Result<(), CryptoError> {
    validate_public_key(group, &BigUint::from_bytes_be(y))
}

/// Left-pads `bytes` with zeros to `len` bytes (returned unchanged if already that long or longer).
pub fn pad_left(bytes: &[u8], len: usize) -> Vec<u8> {
    let mut out = vec![0u8; len.saturating_sub(bytes.len())];
    out.extend_from_slice(bytes);
    out
}

/// A Diffie-Hellman private exponent and its public key `2^x mod p` in one group.
///
/// Used both for static keys (certificate option 0x1d, the endpoint's long-term identity) and
/// ephemeral keys (keying option 0x0d, one per session) (RFC 7425 §4.3, §4.6;
/// docs/protocol/session.md, "Certificates" to "Key derivation").
#[derive(Clone)]
pub struct DhKeyPair {
    group: DhGroup,
    private: BigUint,
    public: BigUint,
}

impl std::fmt::Debug for DhKeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DhKeyPair")
            .field("group", &self.group.id())
            .finish_non_exhaustive()
    }
}

impl DhKeyPair {
    /// Generates a key pair in `group` with a [`DhGroup::private_bits`]-bit exponent (top bit set)
    /// drawn from `rng`. Draws again in the (negligibly likely) case that the public key fails
    /// [`validate_public_key`], at most a few times.
    pub fn generate(group: DhGroup, rng: &mut dyn RngCore) -> Self {
        let bits = group.private_bits();
        let mut bytes = vec![0u8; (bits as usize).div_ceil(8)];
        let mut pair = None;
        for _ in 0..8 {
            rng.fill_bytes(&mut bytes);
            let mut private = BigUint::from_bytes_be(&bytes);
            private.set_bit(bits - 1, true);
            let candidate = Self::from_private(group, private);
            let ok = validate_public_key(group, &candidate.public).is_ok();
            pair = Some(candidate);
            if ok {
                break;
            }
        }
        // `pair` is always set: the loop runs at least once.
        pair.unwrap_or_else(|| Self::from_private(group, BigUint::from(3u32)))
    }

    /// Rebuilds a key pair from a stored private exponent (minimal or zero-padded big-endian), e.g.
    /// to keep a static key, and so a peer ID, across restarts.
    ///
    /// Errors: [`CryptoError::BadKeying`] unless `2 <= x < p - 1`.
    pub fn from_private_bytes(group: DhGroup, private: &[u8]) -> Result<Self, CryptoError> {
        let x = BigUint::from_bytes_be(private);
        let p = group.prime();
        if x < BigUint::from(2u32) || &x + 1u32 >= *p {
            return Err(CryptoError::BadKeying("DH private exponent out of range"));
        }
        Ok(Self::from_private(group, x))
    }

    fn from_private(group: DhGroup, private: BigUint) -> Self {
        let public = pow2(group, &private);
        DhKeyPair {
            group,
            private,
            public,
        }
    }

    /// The group of this key.
    pub fn group(&self) -> DhGroup {
        self.group
    }

    /// The private exponent, minimal big-endian (for identity files; keep it secret).
    pub fn private_bytes(&self) -> Vec<u8> {
        self.private.to_bytes_be()
    }

    /// The public key `2^x mod p`, minimal big-endian.
    pub fn public_key(&self) -> Vec<u8> {
        self.public.to_bytes_be()
    }

    /// The public key left-padded with zeros to the group's size ([`DhGroup::byte_len`], 128 bytes
    /// for group 2), as Flash-era peers require (docs/protocol/session.md, "Key derivation").
    pub fn public_key_padded(&self) -> Vec<u8> {
        pad_left(&self.public.to_bytes_be(), self.group.byte_len())
    }

    /// The shared secret `far_public^x mod p`, minimal big-endian (no leading zero bytes;
    /// docs/protocol/session.md, "Key derivation"). `far_public` is big-endian of any length
    /// (leading zeros allowed).
    ///
    /// Errors: [`CryptoError::BadKeying`] if `far_public` fails [`validate_public_key`].
    pub fn shared_secret(&self, far_public: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let y = BigUint::from_bytes_be(far_public);
        validate_public_key(self.group, &y)?;
        let s = y.modpow(&self.private, self.group.prime());
        if s.is_zero() {
            return Err(CryptoError::BadKeying("DH shared secret is zero"));
        }
        Ok(s.to_bytes_be())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    #[test]
    fn primes_have_expected_sizes() {
        for g in DhGroup::ALL {
            let p = g.prime();
            assert_eq!(p.bits() as usize, g.byte_len() * 8);
            assert_eq!(p.to_bytes_be().len(), g.byte_len());
            assert_eq!(DhGroup::from_id(g.id()), Some(g));
            // Safe primes of the form 2^n - 2^(n-64) - 1 + 2^64 * k: both ends all ones.
            let b = p.to_bytes_be();
            assert!(b[..8].iter().chain(&b[b.len() - 8..]).all(|&x| x == 0xff));
        }
        assert_eq!(DhGroup::from_id(16), None);
    }

    #[test]
    fn key_agreement_in_every_group() {
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        for g in DhGroup::ALL {
            let a = DhKeyPair::generate(g, &mut rng);
            let b = DhKeyPair::generate(g, &mut rng);
            assert_eq!(a.private_bytes().len() * 8, g.private_bits() as usize);
            assert_eq!(a.public_key_padded().len(), g.byte_len());
            let s1 = a.shared_secret(&b.public_key_padded()).unwrap();
            let s2 = b.shared_secret(&a.public_key()).unwrap();
            assert_eq!(s1, s2);
            assert_ne!(s1.first(), Some(&0));
            let again = DhKeyPair::from_private_bytes(g, &a.private_bytes()).unwrap();
            assert_eq!(again.public_key(), a.public_key());
        }
    }

    #[test]
    fn comb_matches_modpow() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        for g in DhGroup::ALL {
            for bits in [
                2u64,
                5,
                64,
                g.private_bits() - 1,
                g.private_bits(),
                g.private_bits() + 1,
            ] {
                let mut bytes = vec![0u8; (bits as usize).div_ceil(8)];
                rng.fill_bytes(&mut bytes);
                let mut x = BigUint::from_bytes_be(&bytes) >> (bytes.len() * 8 - bits as usize);
                x.set_bit(bits - 1, true);
                assert_eq!(
                    pow2(g, &x),
                    BigUint::from(2u32).modpow(&x, g.prime()),
                    "group {} bits {bits}",
                    g.id()
                );
            }
        }
    }

    #[test]
    fn rejects_bad_public_keys() {
        let g = DhGroup::Modp1024;
        let p = g.prime();
        let small = BigUint::from((1u32 << 24) - 1);
        assert!(validate_public_key(g, &small).is_err());
        assert!(validate_public_key(g, &(p - 1u32)).is_err());
        assert!(validate_public_key(g, p).is_err());
        assert!(validate_public_key(g, &(p + 5u32)).is_err());
        // In range but too few zero bits: 2^40 - 1 (40 ones, no zeros).
        assert!(validate_public_key(g, &((BigUint::from(1u8) << 40u32) - 1u32)).is_err());
        // In range but too few one bits: 2^100.
        assert!(validate_public_key(g, &(BigUint::from(1u8) << 100u32)).is_err());
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let k = DhKeyPair::generate(g, &mut rng);
        assert!(k.shared_secret(&[]).is_err());
        assert!(k.shared_secret(&[0xff; 128]).is_err());
        assert!(k.shared_secret(&[0x00, 0x00, 0x01]).is_err());
        assert!(DhKeyPair::from_private_bytes(g, &[1]).is_err());
        assert!(DhKeyPair::from_private_bytes(g, &p.to_bytes_be()).is_err());
    }

    #[test]
    fn pad_left_pads_only_short_inputs() {
        assert_eq!(pad_left(&[1, 2], 4), [0, 0, 1, 2]);
        assert_eq!(pad_left(&[1, 2, 3], 2), [1, 2, 3]);
    }
}
