//! Session key components (SKIC/SKRC) and key derivation of the Flash profile
//! (RFC 7425 §4.6; docs/protocol/session.md, "Session key components", "Key derivation").
//!
//! A component is an option list; only the options before the first marker count (as zenomt).

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::crypto::cert::group_and_rest;
use crate::crypto::CryptoError;
use crate::wire::option::{self, OptionItem, OptionIter};
use crate::wire::vlu;

/// Keying option 0x0d: ephemeral DH public key, value `groupID:VLU | key` (RFC 7425 §4.6.2).
pub const KEYING_EPHEMERAL_DH_PUBLIC_KEY: u64 = 0x0d;
/// Keying option 0x0e: extra randomness (RFC 7425 §4.6.2).
pub const KEYING_EXTRA_RANDOMNESS: u64 = 0x0e;
/// Keying option 0x1a: HMAC negotiation, value `flags:u8 | hmacLength:VLU` (RFC 7425 §4.6.2).
pub const KEYING_HMAC_NEGOTIATION: u64 = 0x1a;
/// Keying option 0x1d: DH group select, value `groupID:VLU`: the sender uses its static key from
/// its certificate in that group (RFC 7425 §4.6.2).
pub const KEYING_DH_GROUP_SELECT: u64 = 0x1d;
/// Keying option 0x1e: session sequence number negotiation, value `flags:u8` (RFC 7425 §4.6.2).
pub const KEYING_SSEQ_NEGOTIATION: u64 = 0x1e;

/// Negotiation flag 0x04 SND: "I will always send it" (RFC 7425 §4.6.2, docs/protocol/session.md,
/// "Session key components").
pub const NEGOTIATE_SND: u8 = 0x04;
/// Negotiation flag 0x02 SOR: "I will send it on request".
pub const NEGOTIATE_SOR: u8 = 0x02;
/// Negotiation flag 0x01 REQ: "I request that you send it".
pub const NEGOTIATE_REQ: u8 = 0x01;

/// Smallest HMAC length a peer may announce (RFC 7425 §4.6.4 per zenomt).
pub const MIN_HMAC_LENGTH: u64 = 4;
/// Largest HMAC length a peer may announce.
pub const MAX_HMAC_LENGTH: u64 = 32;

/// One HMAC (0x1a) or SSEQ (0x1e) negotiation option (RFC 7425 §4.6.2). An absent option
/// counts as flags 0.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Negotiation {
    /// Combination of [`NEGOTIATE_SND`], [`NEGOTIATE_SOR`], [`NEGOTIATE_REQ`].
    pub flags: u8,
    /// HMAC only: the length in bytes of the HMAC the sender would send, if present.
    pub hmac_length: Option<u64>,
}

impl Negotiation {
    fn parse(value: &[u8], is_hmac: bool) -> Result<Self, CryptoError> {
        let Some((&flags, rest)) = value.split_first() else {
            // zenomt treats an empty value as flags 0.
            return Ok(Negotiation::default());
        };
        let hmac_length = if is_hmac && !rest.is_empty() {
            let (len, _) = vlu::decode(rest)
                .map_err(|_| CryptoError::BadKeying("malformed HMAC negotiation"))?;
            Some(len)
        } else {
            None
        };
        if is_hmac && flags & (NEGOTIATE_SND | NEGOTIATE_SOR) != 0 {
            match hmac_length {
                Some(l) if (MIN_HMAC_LENGTH..=MAX_HMAC_LENGTH).contains(&l) => {}
                _ => return Err(CryptoError::BadKeying("HMAC length outside 4..32")),
            }
        }
        Ok(Negotiation { flags, hmac_length })
    }

    /// This end declines the feature (it never sends nor expects it): fails if the far end will
    /// always send it (SND) or requires us to send it (REQ). SOR alone is fine.
    fn check_declined(self, what: &'static str) -> Result<(), CryptoError> {
        if self.flags & (NEGOTIATE_SND | NEGOTIATE_REQ) != 0 {
            return Err(CryptoError::Unsupported(what));
        }
        Ok(())
    }
}

/// A parsed session key initiator or responder component (RFC 7425 §4.6.2,
/// docs/protocol/session.md, "Session key components").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyingComponent<'a> {
    /// DH group select (0x1d): the sender uses its static key of this group.
    pub group_select: Option<u64>,
    /// `(group ID, public key)` of the ephemeral DH public key options (0x0d), in order.
    pub ephemeral_keys: Vec<(u64, &'a [u8])>,
    /// Extra randomness (0x0e), if any.
    pub extra_randomness: Option<&'a [u8]>,
    /// HMAC negotiation (0x1a).
    pub hmac: Negotiation,
    /// Session sequence number negotiation (0x1e).
    pub sseq: Negotiation,
}

impl<'a> KeyingComponent<'a> {
    /// Parses a component; options after the first marker are ignored.
    ///
    /// Errors: [`CryptoError::BadKeying`] on a malformed option list, group option or HMAC length.
    pub fn parse(component: &'a [u8]) -> Result<Self, CryptoError> {
        let mut out = KeyingComponent::default();
        for item in OptionIter::new(component) {
            let (typ, value) =
                match item.map_err(|_| CryptoError::BadKeying("malformed keying component"))? {
                    OptionItem::Marker => break,
                    OptionItem::Option { typ, value } => (typ, value),
                };
            match typ {
                KEYING_EPHEMERAL_DH_PUBLIC_KEY => out.ephemeral_keys.push(group_and_rest(value)?),
                KEYING_DH_GROUP_SELECT => {
                    out.group_select.get_or_insert(group_and_rest(value)?.0);
                }
                KEYING_EXTRA_RANDOMNESS => out.extra_randomness = Some(value),
                KEYING_HMAC_NEGOTIATION => out.hmac = Negotiation::parse(value, true)?,
                KEYING_SSEQ_NEGOTIATION => out.sseq = Negotiation::parse(value, false)?,
                _ => {}
            }
        }
        Ok(out)
    }

    /// The first ephemeral public key for `group`, if present.
    pub fn ephemeral_key(&self, group: u64) -> Option<&'a [u8]> {
        self.ephemeral_keys
            .iter()
            .find(|(g, _)| *g == group)
            .map(|(_, k)| *k)
    }

    /// Checks that this end may decline both HMAC and session sequence numbers, as it always does
    /// (docs/protocol/session.md, "Session key components"; docs/protocol/interop.md,
    /// "Compatibility checklist" item 5).
    ///
    /// Errors: [`CryptoError::Unsupported`] if the far end says SND or REQ for either.
    pub fn check_declined(&self) -> Result<(), CryptoError> {
        self.hmac.check_declined("HMAC")?;
        self.sseq.check_declined("session sequence numbers")
    }
}

/// Appends the negotiation options this end sends as initiator, byte-exact Flash Player:
/// `03 1a 02 0a | 02 1e 02` (HMAC "send on request" with length 10, SSEQ "send on request").
pub fn write_initiator_negotiation(out: &mut Vec<u8>) {
    option::write(out, KEYING_HMAC_NEGOTIATION, &[NEGOTIATE_SOR, 10]);
    option::write(out, KEYING_SSEQ_NEGOTIATION, &[NEGOTIATE_SOR]);
}

/// Appends the negotiation options this end sends as responder, byte-exact MonaServer2/librtmfp:
/// `03 1a 00 00 | 02 1e 00` ("never" for both).
pub fn write_responder_negotiation(out: &mut Vec<u8>) {
    option::write(out, KEYING_HMAC_NEGOTIATION, &[0, 0]);
    option::write(out, KEYING_SSEQ_NEGOTIATION, &[0]);
}

/// HMAC-SHA256 of the concatenation of `parts` under `key` (32 bytes).
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length; the fallback is unreachable.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| <Hmac<Sha256> as Mac>::new(&Default::default()));
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// Session keys and nonces derived from a DH shared secret and both components.
#[derive(Clone, PartialEq, Eq)]
pub struct DerivedKeys {
    /// This end's sending key: `HMAC(secret, HMAC(far, near))[0..16]`.
    pub encrypt_key: [u8; 16],
    /// This end's receiving key: `HMAC(secret, HMAC(near, far))[0..16]`.
    pub decrypt_key: [u8; 16],
    /// `HMAC(secret, near)`.
    pub near_nonce: [u8; 32],
    /// `HMAC(secret, far)`.
    pub far_nonce: [u8; 32],
}

impl std::fmt::Debug for DerivedKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DerivedKeys").finish_non_exhaustive()
    }
}

/// Derives the session keys and nonces (RFC 7425 §4.6.4, §4.6.5; docs/protocol/session.md, "Key
/// derivation"), with HMAC(key, msg): `encryptKey = HMAC(secret, HMAC(SKFC, SKNC))[0..16]`,
/// `decryptKey = HMAC(secret, HMAC(SKNC, SKFC))[0..16]`,
/// `nearNonce = HMAC(secret, SKNC)`, `farNonce = HMAC(secret, SKFC)`, where `secret` is the
/// minimal big-endian DH shared secret and SKNC/SKFC this end's and the far end's component bytes
/// exactly as carried on the wire (without their VLU length).
pub fn derive_keys(
    shared_secret: &[u8],
    near_component: &[u8],
    far_component: &[u8],
) -> DerivedKeys {
    let far_near = hmac_sha256(far_component, &[near_component]);
    let near_far = hmac_sha256(near_component, &[far_component]);
    let enc = hmac_sha256(shared_secret, &[&far_near]);
    let dec = hmac_sha256(shared_secret, &[&near_far]);
    let mut encrypt_key = [0u8; 16];
    let mut decrypt_key = [0u8; 16];
    encrypt_key.copy_from_slice(&enc[..16]);
    decrypt_key.copy_from_slice(&dec[..16]);
    DerivedKeys {
        encrypt_key,
        decrypt_key,
        near_nonce: hmac_sha256(shared_secret, &[near_component]),
        far_nonce: hmac_sha256(shared_secret, &[far_component]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_flash_skic_and_server_skrc() {
        let mut skic = vec![0x02, 0x1d, 0x02, 0x41, 0x0e];
        skic.extend([9; 64]);
        write_initiator_negotiation(&mut skic);
        assert_eq!(skic.len(), 76);
        assert_eq!(&skic[69..], [0x03, 0x1a, 0x02, 0x0a, 0x02, 0x1e, 0x02]);
        let c = KeyingComponent::parse(&skic).unwrap();
        assert_eq!(c.group_select, Some(2));
        assert_eq!(
            c.hmac,
            Negotiation {
                flags: NEGOTIATE_SOR,
                hmac_length: Some(10)
            }
        );
        assert_eq!(c.sseq.flags, NEGOTIATE_SOR);
        assert!(c.check_declined().is_ok());

        let mut skrc = Vec::new();
        write_responder_negotiation(&mut skrc);
        assert_eq!(skrc, [0x03, 0x1a, 0x00, 0x00, 0x02, 0x1e, 0x00]);
        skrc.extend([0x81, 0x02, 0x0d, 0x02]);
        skrc.extend([0x33; 128]);
        let c = KeyingComponent::parse(&skrc).unwrap();
        assert_eq!(c.ephemeral_key(2), Some(&[0x33; 128][..]));
        assert_eq!(c.ephemeral_key(14), None);
        assert_eq!(
            c.hmac,
            Negotiation {
                flags: 0,
                hmac_length: Some(0)
            }
        );
        assert!(c.check_declined().is_ok());
    }

    #[test]
    fn negotiation_rules() {
        for (opt, ok) in [
            (&[0x03, 0x1a, 0x04, 0x10][..], false), // HMAC SND
            (&[0x03, 0x1a, 0x01, 0x10], false),     // HMAC REQ
            (&[0x03, 0x1a, 0x02, 0x10], true),      // HMAC SOR
            (&[0x02, 0x1e, 0x04], false),           // SSEQ SND
            (&[0x02, 0x1e, 0x01], false),           // SSEQ REQ
            (&[0x02, 0x1e, 0x02], true),            // SSEQ SOR
            (&[0x01, 0x1e], true),                  // empty: flags 0
        ] {
            let c = KeyingComponent::parse(opt).unwrap();
            assert_eq!(c.check_declined().is_ok(), ok, "{opt:02x?}");
        }
        // HMAC lengths outside 4..32 are malformed when the sender offers HMAC.
        assert!(KeyingComponent::parse(&[0x03, 0x1a, 0x02, 0x03]).is_err());
        assert!(KeyingComponent::parse(&[0x03, 0x1a, 0x02, 0x21]).is_err());
        assert!(KeyingComponent::parse(&[0x02, 0x1a, 0x02]).is_err());
        assert!(KeyingComponent::parse(&[0x03, 0x1a, 0x02, 0x20]).is_ok());
        // Options after a marker are ignored.
        let c = KeyingComponent::parse(&[0x02, 0x1e, 0x00, 0x00, 0x02, 0x1e, 0x04]).unwrap();
        assert!(c.check_declined().is_ok());
    }

    #[test]
    fn derivation_is_symmetric() {
        let a = derive_keys(b"secret", b"skic", b"skrc");
        let b = derive_keys(b"secret", b"skrc", b"skic");
        assert_eq!(a.encrypt_key, b.decrypt_key);
        assert_eq!(a.decrypt_key, b.encrypt_key);
        assert_eq!(a.near_nonce, b.far_nonce);
        assert_ne!(a.encrypt_key, a.decrypt_key);
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes: Vec<u8>) {
            if let Ok(c) = KeyingComponent::parse(&bytes) {
                let _ = c.check_declined();
            }
        }
    }
}
