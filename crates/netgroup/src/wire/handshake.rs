//! The peer group handshake, message `01` on `GR\x1C` (docs/protocol/netgroup.md, "Group
//! handshake"):
//!
//! ```text
//! 01
//! 41 00 <64 ASCII hex chars of the group ID>
//! 21 01 <32-byte group connect key>
//! 23 03 21 0F <32-byte peer ID of the recipient>
//! ```

use rtmfp::wire::option::{self, OptionItem, OptionIter};

use super::error::WireError;
use crate::id::PeerId;

/// Option types inside the handshake.
mod opt {
    pub const GROUP_ID_HEX: u64 = 0x00;
    pub const KEY: u64 = 0x01;
    pub const RECIPIENT: u64 = 0x03;
}

/// The body of a GR1C `01` message (docs/protocol/netgroup.md, "Group handshake").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GroupConnect {
    /// The group ID; sent as 64 hex characters (lowercase when we encode; either case is
    /// accepted, as librtmfp compares case-insensitively).
    pub group_id: [u8; 32],
    /// [`crate::keys::group_connect_key`] computed over the recipient's session nonce.
    pub key: [u8; 32],
    /// The peer the message is meant for (sent as its raw ID `21 0F <id>`).
    pub recipient: PeerId,
}

impl GroupConnect {
    /// Decodes the bytes after the type byte. Unknown options and markers are skipped; options
    /// may come in any order (the first of each type wins).
    ///
    /// Errors: [`WireError::Truncated`] for a malformed option list, [`WireError::Invalid`] for a
    /// missing or malformed group ID, key or recipient.
    pub fn decode_body(body: &[u8]) -> Result<Self, WireError> {
        let (mut id, mut key, mut recipient) = (None, None, None);
        for item in OptionIter::new(body) {
            let OptionItem::Option { typ, value } = item? else {
                continue;
            };
            match typ {
                opt::GROUP_ID_HEX if id.is_none() => {
                    let mut g = [0u8; 32];
                    hex::decode_to_slice(value, &mut g)
                        .map_err(|_| WireError::Invalid("handshake group ID"))?;
                    id = Some(g);
                }
                opt::KEY if key.is_none() => {
                    key = Some(
                        <[u8; 32]>::try_from(value)
                            .map_err(|_| WireError::Invalid("handshake key"))?,
                    );
                }
                opt::RECIPIENT if recipient.is_none() => {
                    let p = match value {
                        [0x21, 0x0f, rest @ ..] => <[u8; 32]>::try_from(rest).ok(),
                        _ => None,
                    }
                    .ok_or(WireError::Invalid("handshake recipient"))?;
                    recipient = Some(PeerId(p));
                }
                _ => {}
            }
        }
        Ok(GroupConnect {
            group_id: id.ok_or(WireError::Invalid("handshake without group ID"))?,
            key: key.ok_or(WireError::Invalid("handshake without key"))?,
            recipient: recipient.ok_or(WireError::Invalid("handshake without recipient"))?,
        })
    }

    /// Appends the body (without the type byte) to `out`.
    pub fn encode_body(&self, out: &mut Vec<u8>) {
        option::write(
            out,
            opt::GROUP_ID_HEX,
            hex::encode(self.group_id).as_bytes(),
        );
        option::write(out, opt::KEY, &self.key);
        option::write(out, opt::RECIPIENT, &self.recipient.raw_id());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_matches_the_digest() {
        let c = GroupConnect {
            group_id: [0xab; 32],
            key: [1; 32],
            recipient: PeerId([2; 32]),
        };
        let mut b = Vec::new();
        c.encode_body(&mut b);
        assert_eq!(&b[..2], [0x41, 0x00]);
        assert_eq!(&b[66..68], [0x21, 0x01]);
        assert_eq!(&b[100..104], [0x23, 0x03, 0x21, 0x0f]);
        assert_eq!(b.len(), 136);
        assert_eq!(GroupConnect::decode_body(&b).unwrap(), c);
        // upper-case hex is accepted
        let mut up = b.clone();
        up[2..66].make_ascii_uppercase();
        assert_eq!(GroupConnect::decode_body(&up).unwrap(), c);
        assert!(GroupConnect::decode_body(&b[..100]).is_err());
        assert!(GroupConnect::decode_body(&b[..b.len() - 1]).is_err());
    }
}
