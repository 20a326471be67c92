//! Flow metadata signatures: which Flash object a flow belongs to (RFC 7425 §5.1.1;
//! docs/protocol/flash.md, "Flow metadata signatures"; docs/protocol/netgroup.md, "Group flow
//! signatures").
//!
//! The metadata is the value of the user-data option of type 0 on a flow's first fragment:
//! `'T' 'C' flags streamID:VLU` for NetConnection and NetStream flows, `"GC"` for the NetGroup
//! client↔server flow and `"GR" kind` for peer↔peer NetGroup flows.

use rtmfp::wire::vlu;

use crate::FlashError;

/// `TC` flags bit: a stream ID follows (always set by Flash).
pub const TC_SID: u8 = 0x04;
/// `TC` flags bit: receive intent, 1 = deliver in network order, 0 = in sequence order.
pub const TC_RXI: u8 = 0x01;

/// Stream IDs at and above this value name direct peer-to-peer NetStreams (2,000,000 + n;
/// docs/protocol/flash.md, "Direct P2P NetStream").
pub const P2P_STREAM_BASE: u64 = 2_000_000;

/// What a flow carries, from its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FlowSignature {
    /// `TC`: a NetConnection (stream 0) or NetStream flow.
    Tc {
        /// The stream ID (0 = the NetConnection itself).
        stream_id: u64,
        /// Receive intent: deliver in network order rather than sequence order.
        network_order: bool,
    },
    /// `GC`: the NetGroup flow between a client and its server (docs/protocol/flash.md, "NetGroup
    /// control flow").
    GroupClient,
    /// `GR <kind>`: a peer-to-peer NetGroup flow; `kind` is 0x1c (reports), 0x1d (messages),
    /// 0x11 (media reports), 0x12 (media), 0x18/0x19 (posts) (docs/protocol/netgroup.md, "Group
    /// flow signatures").
    GroupPeer(u8),
}

impl FlowSignature {
    /// The NetConnection flow: `TC 04 00`.
    pub const NET_CONNECTION: FlowSignature = FlowSignature::Tc {
        stream_id: 0,
        network_order: false,
    };

    /// A NetStream flow in sequence order.
    pub fn stream(stream_id: u64) -> Self {
        FlowSignature::Tc {
            stream_id,
            network_order: false,
        }
    }

    /// Decodes metadata bytes. Errors: [`FlashError::UnknownMetadata`] for anything else,
    /// [`FlashError::Truncated`] for a `TC` without its stream ID.
    pub fn decode(metadata: &[u8]) -> Result<Self, FlashError> {
        match metadata {
            [b'T', b'C', flags, rest @ ..] => {
                if flags & TC_SID == 0 {
                    return Ok(FlowSignature::Tc {
                        stream_id: 0,
                        network_order: flags & TC_RXI != 0,
                    });
                }
                let (stream_id, n) = vlu::decode(rest).map_err(|_| FlashError::Truncated)?;
                if n != rest.len() {
                    return Err(FlashError::UnknownMetadata);
                }
                Ok(FlowSignature::Tc {
                    stream_id,
                    network_order: flags & TC_RXI != 0,
                })
            }
            [b'G', b'C'] => Ok(FlowSignature::GroupClient),
            [b'G', b'R', kind] => Ok(FlowSignature::GroupPeer(*kind)),
            _ => Err(FlashError::UnknownMetadata),
        }
    }

    /// Encodes to metadata bytes, e.g. `54 43 04 00` for the NetConnection.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            FlowSignature::Tc {
                stream_id,
                network_order,
            } => {
                let mut out = vec![b'T', b'C', TC_SID | if *network_order { TC_RXI } else { 0 }];
                vlu::write(&mut out, *stream_id);
                out
            }
            FlowSignature::GroupClient => b"GC".to_vec(),
            FlowSignature::GroupPeer(kind) => vec![b'G', b'R', *kind],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_signatures_round_trip() {
        for (hex, sig) in [
            ("54430400", FlowSignature::NET_CONNECTION),
            ("54430401", FlowSignature::stream(1)),
            ("544304fa8901", FlowSignature::stream(P2P_STREAM_BASE + 1)),
            ("4743", FlowSignature::GroupClient),
            ("47521c", FlowSignature::GroupPeer(0x1c)),
        ] {
            let bytes = hex::decode(hex).unwrap();
            assert_eq!(FlowSignature::decode(&bytes).unwrap(), sig, "{hex}");
            assert_eq!(hex::encode(sig.encode()), hex);
        }
    }

    #[test]
    fn junk_is_refused() {
        for junk in [&b""[..], b"T", b"XY", b"TC\x04", b"TC\x04\x00\x00", b"GRxx"] {
            assert!(FlowSignature::decode(junk).is_err(), "{junk:?}");
        }
    }
}
