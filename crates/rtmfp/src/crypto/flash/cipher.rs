//! The Flash packet cipher: AES-128-CBC, IV of 16 zero bytes reset for every packet, no PKCS
//! padding, in the default "checksum" mode (RFC 7425 §4.1 and §4.6.x; docs/protocol/session.md,
//! "Flash packet encryption").
//!
//! Cleartext = `checksum:u16 (big-endian) | RTMFP packet | 0xFF padding` to a multiple of 16
//! bytes, the checksum covering everything after it, padding included.

use aes::cipher::block_padding::NoPadding;
use aes::cipher::{BlockDecryptMut, BlockEncryptMut, InnerIvInit, KeyInit};
use aes::{Aes128Dec, Aes128Enc};

use crate::crypto::{checksum, CryptoError, PacketCipher};

/// AES block size in bytes.
const BLOCK: usize = 16;

/// The all-zero CBC initialization vector, used for every packet.
const ZERO_IV: [u8; BLOCK] = [0; BLOCK];

/// Number of 0xFF padding bytes after a packet of `packet_len` bytes: `2 + packet_len + pad` is
/// the smallest multiple of 16 (0 to 15 bytes; docs/protocol/session.md, "Flash packet
/// encryption").
pub fn padding_len(packet_len: usize) -> usize {
    (BLOCK - (2 + packet_len) % BLOCK) % BLOCK
}

/// AES-128-CBC packet cipher of the Flash profile with one key per direction.
///
/// The AES key schedules are expanded once, at construction; sealing and opening allocate
/// nothing besides growing the caller's output buffer.
#[derive(Clone)]
pub struct FlashCipher {
    encrypt: Aes128Enc,
    decrypt: Aes128Dec,
}

impl std::fmt::Debug for FlashCipher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FlashCipher").finish_non_exhaustive()
    }
}

impl FlashCipher {
    /// The default session key, the 16 ASCII bytes `Adobe Systems 02` (RFC 7425 §4.1).
    pub const DEFAULT_KEY: [u8; 16] = *b"Adobe Systems 02";

    /// A cipher that seals with `encrypt_key` and opens with `decrypt_key` (the session keys of
    /// RFC 7425 §4.6.4 as seen from this end).
    pub fn new(encrypt_key: [u8; 16], decrypt_key: [u8; 16]) -> Self {
        FlashCipher {
            encrypt: Aes128Enc::new(&encrypt_key.into()),
            decrypt: Aes128Dec::new(&decrypt_key.into()),
        }
    }

    /// The startup cipher: [`Self::DEFAULT_KEY`] in both directions (RFC 7425 §4.1).
    pub fn default_key() -> Self {
        Self::new(Self::DEFAULT_KEY, Self::DEFAULT_KEY)
    }
}

impl PacketCipher for FlashCipher {
    /// Appends `AES-128-CBC(checksum | packet | 0xFF padding)` to `out`.
    fn seal(&self, packet: &[u8], out: &mut Vec<u8>) {
        let start = out.len();
        let pad = padding_len(packet.len());
        out.reserve(2 + packet.len() + pad);
        out.extend_from_slice(&[0, 0]);
        out.extend_from_slice(packet);
        out.resize(out.len() + pad, 0xff);
        let sealed = &mut out[start..];
        let sum = checksum::checksum(&sealed[2..]).to_be_bytes();
        sealed[..2].copy_from_slice(&sum);
        let len = sealed.len();
        let encryptor = cbc::Encryptor::<&Aes128Enc>::inner_iv_init(&self.encrypt, &ZERO_IV.into());
        if encryptor
            .encrypt_padded_mut::<NoPadding>(sealed, len)
            .is_err()
        {
            // Unreachable (the length is a multiple of 16), but never leak cleartext.
            debug_assert!(false, "CBC encryption of a block-aligned buffer failed");
            out.truncate(start);
        }
    }

    /// Decrypts `sealed` into `out`, verifies the checksum and returns the packet with its padding.
    ///
    /// Errors: [`CryptoError::BadLength`] if `sealed` is empty or not a multiple of 16 bytes;
    /// [`CryptoError::Checksum`] if the checksum does not verify (wrong key or corruption).
    fn open<'a>(&self, sealed: &'a [u8], out: &'a mut Vec<u8>) -> Result<&'a [u8], CryptoError> {
        if sealed.is_empty() || sealed.len() & (BLOCK - 1) != 0 {
            return Err(CryptoError::BadLength);
        }
        out.clear();
        out.extend_from_slice(sealed);
        cbc::Decryptor::<&Aes128Dec>::inner_iv_init(&self.decrypt, &ZERO_IV.into())
            .decrypt_padded_mut::<NoPadding>(out)
            .map_err(|_| CryptoError::BadLength)?;
        if !checksum::verify(out) {
            return Err(CryptoError::Checksum);
        }
        out.get(2..).ok_or(CryptoError::BadLength)
    }

    /// `2 + padding_len(packet_len)`: 2 to 17 bytes.
    fn overhead(&self, packet_len: usize) -> usize {
        2 + padding_len(packet_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn padding_rule() {
        assert_eq!(padding_len(14), 0);
        assert_eq!(padding_len(13), 1);
        assert_eq!(padding_len(15), 15);
        assert_eq!(padding_len(0), 14);
    }

    #[test]
    fn apnic_ihello_round_trip() {
        // apnic-flash13-cirrus.jsonl record 0.
        let datagram = hex::decode(
            "7ec60dab48a2a66b3664abc0af23e0c89634118f0d423863f988da53ac9c2f0bacbfb1238447bf5b9ff305faeb82f6d31eafee29",
        )
        .unwrap();
        let plaintext = hex::decode(
            "99f90b132d30002716150a72746d66703a2f2f63632e72746d66702e6e657412af718559bbeea27a125b08236c4318ff",
        )
        .unwrap();
        let c = FlashCipher::default_key();
        let mut out = Vec::new();
        assert_eq!(c.open(&datagram[4..], &mut out).unwrap(), &plaintext[2..]);
        // The packet ends with one byte of 0xFF padding; sealing the bare packet reproduces it.
        let packet = &plaintext[2..plaintext.len() - 1];
        let mut sealed = vec![0xaa];
        c.seal(packet, &mut sealed);
        assert_eq!(sealed[0], 0xaa);
        assert_eq!(&sealed[1..], &datagram[4..]);
        assert_eq!(c.overhead(packet.len()), 3);
    }

    #[test]
    fn bad_inputs_are_errors() {
        let c = FlashCipher::default_key();
        let mut out = Vec::new();
        assert_eq!(c.open(&[], &mut out), Err(CryptoError::BadLength));
        assert_eq!(c.open(&[0; 15], &mut out), Err(CryptoError::BadLength));
        assert_eq!(c.open(&[0; 33], &mut out), Err(CryptoError::BadLength));
        let mut sealed = Vec::new();
        c.seal(b"\x0b\x00\x01hello", &mut sealed);
        let other = FlashCipher::new([1; 16], [1; 16]);
        assert_eq!(other.open(&sealed, &mut out), Err(CryptoError::Checksum));
        let mut flipped = sealed.clone();
        flipped[5] ^= 0x40;
        assert_eq!(c.open(&flipped, &mut out), Err(CryptoError::Checksum));
        let mut long = Vec::new();
        c.seal(&[0x42; 40], &mut long);
        assert_eq!(long.len(), 48);
        assert_eq!(c.open(&long[..32], &mut out), Err(CryptoError::Checksum));
        assert_eq!(c.open(&long[..47], &mut out), Err(CryptoError::BadLength));
    }

    #[test]
    fn directions_use_their_own_keys() {
        let a = FlashCipher::new([1; 16], [2; 16]);
        let b = FlashCipher::new([2; 16], [1; 16]);
        let mut sealed = Vec::new();
        let mut out = Vec::new();
        a.seal(b"ping", &mut sealed);
        assert_eq!(&b.open(&sealed, &mut out).unwrap()[..4], b"ping");
        assert!(a.open(&sealed, &mut out).is_err());
    }

    proptest! {
        #[test]
        fn seal_open_round_trip(packet in proptest::collection::vec(any::<u8>(), 0..1500)) {
            let c = FlashCipher::new([7; 16], [7; 16]);
            let mut sealed = Vec::new();
            c.seal(&packet, &mut sealed);
            prop_assert_eq!(sealed.len(), packet.len() + c.overhead(packet.len()));
            prop_assert_eq!(sealed.len() % 16, 0);
            let mut out = Vec::new();
            let opened = c.open(&sealed, &mut out).unwrap();
            prop_assert_eq!(&opened[..packet.len()], &packet[..]);
            prop_assert!(opened[packet.len()..].iter().all(|&b| b == 0xff));
        }

        #[test]
        fn open_never_panics(bytes: Vec<u8>) {
            let mut out = Vec::new();
            let _ = FlashCipher::default_key().open(&bytes, &mut out);
        }
    }
}
