//! Group passwords (docs/protocol/netgroup.md, "Groupspec string format", "Group passwords"):
//! whether this member holds the password a groupspec hash names, and the keys and proofs derived
//! from it (our own scheme, docs/wire-netgroup.md). Shared by posting (`07` / `17`) and publishing
//! (`06` / `16`).

use sha2::{Digest, Sha256};

use crate::keys::keys_match;

/// What a member may do under one password option.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rights<'a> {
    /// No password: anyone may.
    Open,
    /// The authorization matches the hash: this is the password.
    Holder(&'a [u8]),
    /// A password is set and we do not hold it.
    Outsider,
}

/// Checks `authorization` against the groupspec's `hash` (SaltedSHA256: `salt ||
/// SHA-256(salt || password)`, or `SHA-256(password)` without salt; docs/protocol/netgroup.md,
/// "Groupspec string format").
pub(crate) fn rights<'a>(hash: Option<&[u8]>, authorization: Option<&'a [u8]>) -> Rights<'a> {
    let Some(hash) = hash else {
        return Rights::Open;
    };
    let Some(pw) = authorization else {
        return Rights::Outsider;
    };
    let Some((salt, digest)) = hash.split_last_chunk::<32>() else {
        return Rights::Outsider;
    };
    let mut h = Sha256::new();
    h.update(salt);
    h.update(pw);
    let ok: [u8; 32] = h.finalize().into();
    if keys_match(&ok, digest) {
        Rights::Holder(pw)
    } else {
        Rights::Outsider
    }
}

pub(crate) use crate::keys::hmac;
