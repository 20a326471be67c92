//! Messages on the NetGroup client↔server flow (`GC` metadata; docs/protocol/flash.md, "NetGroup
//! control flow"; docs/protocol/netgroup.md, "Joining via the server" to "Server introductions").
//! These are raw bytes, not `TC`-framed.
//!
//! - Client → server, group join: `01 21 15 <32-byte group ID>`, or the legacy form
//!   `01 VLU(n+1) 10 <n bytes of groupspec text>` whose SHA-256 is the group ID.
//! - Server → client, introduction: `0B <32-byte peer ID>`.

use rtmfp::wire::{vlu, Reader};
use sha2::{Digest, Sha256};

use crate::FlashError;

/// Longest legacy groupspec text accepted in a join, bytes.
pub const MAX_LEGACY_GROUPSPEC: usize = 4096;

/// A message on a `GC` flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GcMessage {
    /// Join the group with this 32-byte ID.
    Join {
        /// The group ID.
        group_id: [u8; 32],
        /// Whether it came in the legacy form (groupspec text, hashed here).
        legacy: bool,
    },
    /// The server introduces this member (its 32-byte peer ID).
    Introduction([u8; 32]),
}

impl GcMessage {
    /// Decodes one message. Errors: [`FlashError::Truncated`] for short or inconsistent
    /// lengths, [`FlashError::TooLarge`] for a legacy groupspec over
    /// [`MAX_LEGACY_GROUPSPEC`], [`FlashError::NotACommand`] for an unknown first byte.
    pub fn decode(data: &[u8]) -> Result<Self, FlashError> {
        let mut r = Reader::new(data);
        match r.u8().map_err(|_| FlashError::Truncated)? {
            0x01 => {
                let len = r.vlu().map_err(|_| FlashError::Truncated)? as usize;
                if len != r.remaining() || len == 0 {
                    return Err(FlashError::Truncated);
                }
                let rest = r.rest();
                match rest[0] {
                    0x15 => match <[u8; 32]>::try_from(&rest[1..]) {
                        Ok(group_id) => Ok(GcMessage::Join {
                            group_id,
                            legacy: false,
                        }),
                        Err(_) => Err(FlashError::Truncated),
                    },
                    0x10 => {
                        if rest.len() - 1 > MAX_LEGACY_GROUPSPEC {
                            return Err(FlashError::TooLarge(rest.len() - 1));
                        }
                        Ok(GcMessage::Join {
                            group_id: Sha256::digest(&rest[1..]).into(),
                            legacy: true,
                        })
                    }
                    _ => Err(FlashError::Truncated),
                }
            }
            0x0b => {
                let id = r.bytes(32).map_err(|_| FlashError::Truncated)?;
                if !r.is_empty() {
                    return Err(FlashError::Truncated);
                }
                let id = <[u8; 32]>::try_from(id).map_err(|_| FlashError::Truncated)?;
                Ok(GcMessage::Introduction(id))
            }
            _ => Err(FlashError::NotACommand),
        }
    }

    /// Encodes the message (a join always in the current `15` form).
    pub fn encode(&self) -> Vec<u8> {
        match self {
            GcMessage::Join { group_id, .. } => {
                let mut out = vec![0x01];
                vlu::write(&mut out, 33);
                out.push(0x15);
                out.extend_from_slice(group_id);
                out
            }
            GcMessage::Introduction(id) => {
                let mut out = vec![0x0b];
                out.extend_from_slice(id);
                out
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn join_and_introduction_round_trip() {
        for m in [
            GcMessage::Join {
                group_id: [3; 32],
                legacy: false,
            },
            GcMessage::Introduction([9; 32]),
        ] {
            assert_eq!(GcMessage::decode(&m.encode()).unwrap(), m);
        }
    }

    #[test]
    fn legacy_join_hashes_the_groupspec() {
        let text = b"G:0101";
        let mut data = vec![0x01, text.len() as u8 + 1, 0x10];
        data.extend_from_slice(text);
        let GcMessage::Join { group_id, legacy } = GcMessage::decode(&data).unwrap() else {
            panic!("not a join");
        };
        assert!(legacy);
        assert_eq!(group_id, <[u8; 32]>::from(Sha256::digest(text)));
    }

    #[test]
    fn bad_lengths_are_refused() {
        for bad in [
            &[][..],
            &[0x01],
            &[0x01, 0x21, 0x15, 1, 2],
            &[0x01, 0x05, 0x15, 1, 2, 3, 4],
            &[0x0b, 1, 2],
            &[0x77],
        ] {
            assert!(GcMessage::decode(bad).is_err(), "{bad:?}");
        }
        let mut long = vec![0x01];
        vlu::write(&mut long, 5000);
        long.push(0x10);
        long.resize(long.len() + 4999, b'a');
        assert_eq!(GcMessage::decode(&long), Err(FlashError::TooLarge(4999)));
    }
}
