//! The group connect key of the GR1C peer handshake (docs/protocol/netgroup.md, "Group handshake").
//!
//! Each side of a P2P session proves it knows the full `groupTxt` (not just the group ID the
//! server sees) with `HMAC-SHA256(key = groupTxt, msg = farNonce)`, where `farNonce` is the
//! RFC 7425 session nonce of the *other* end: `HMAC-SHA256(DH shared secret, far key component)`
//! (the initiator uses the responder's SKRC, the responder the initiator's SKIC). The receiver
//! compares the key it gets with the same HMAC over its own (near) nonce.

use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// The key a member sends in the GR1C `01` message: `HMAC-SHA256(key = groupTxt, msg =
/// far_nonce)` (docs/protocol/netgroup.md, "Group handshake"). `group_txt` is
/// [`crate::GroupSpecifier::group_txt`]; `far_nonce` is the 32-byte session nonce of the far end
/// (do not HMAC it again).
///
/// To check a received key, call this with the *near* nonce and compare with
/// `keys_match`.
pub fn group_connect_key(group_txt: &str, far_nonce: &[u8]) -> [u8; 32] {
    hmac(group_txt.as_bytes(), &[far_nonce])
}

/// `HMAC-SHA256(key, parts...)`, the one HMAC of the group engine (connect keys, LAN tags,
/// posting and publishing proofs).
pub(crate) fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts a key of any length (RFC 2104 §2: longer keys are hashed, shorter padded),
    // so `new_from_slice` cannot fail.
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().into()
}

/// Compares two connect keys in constant time (no early exit on the first differing byte).
pub fn keys_match(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn depends_on_text_and_nonce() {
        let a = group_connect_key("G:010e", &[1; 32]);
        assert_ne!(a, group_connect_key("G:010f", &[1; 32]));
        assert_ne!(a, group_connect_key("G:010e", &[2; 32]));
        assert!(keys_match(&a, &group_connect_key("G:010e", &[1; 32])));
        assert!(!keys_match(&a, &[0; 32]));
    }
}
