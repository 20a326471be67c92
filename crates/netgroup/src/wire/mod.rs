//! Codecs for the group messages whose layout is known on the wire (docs/protocol/netgroup.md,
//! "Group flows and messages" to "Joining a group"): flow signatures ([`signature`]) and the peer
//! `GR\x1C` control messages ([`GroupMessage`]: handshake `01` in [`handshake`], `02`, group
//! begin `0E`/`0F`, report `0A` in [`report`], ask-close `0C`).
//!
//! Group messages have no timestamp: byte 0 of each RTMFP message is the type
//! (docs/protocol/netgroup.md, "Group flow signatures"). Every decoder takes untrusted bytes,
//! returns [`WireError`] instead of panicking, and bounds what it keeps (see [`ReportLimits`]).

mod error;
pub mod handshake;
pub mod report;
pub mod signature;

pub use error::WireError;
pub use handshake::GroupConnect;
pub use report::{GroupReport, ReportLimits, ReportMember};
pub use signature::GroupFlowKind;

/// Message type bytes on the `GR\x1C` group-control flow (docs/protocol/netgroup.md, "Group message
/// types").
pub mod kind {
    /// Peer group handshake (`GROUP_INIT`).
    pub const CONNECT: u8 = 0x01;
    /// Sent right before group begin; meaning unknown (librtmfp sends it empty).
    pub const DATA: u8 = 0x02;
    /// Group report (`GROUP_REPORT`).
    pub const REPORT: u8 = 0x0a;
    /// Please disconnect me (`GROUP_ASK_CLOSE`).
    pub const ASK_CLOSE: u8 = 0x0c;
    /// Group begin, receive mode EXACT (`GROUP_BEGIN`).
    pub const BEGIN: u8 = 0x0e;
    /// Group begin, receive mode NEAREST (`GROUP_BEGIN_NEAREST`).
    pub const BEGIN_NEAREST: u8 = 0x0f;
}

/// One message on the `GR\x1C` group-control flow (docs/protocol/netgroup.md, "Group message
/// types", "Group handshake" to "Group report", "Ask-close").
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupMessage {
    /// `01`: the peer group handshake (docs/protocol/netgroup.md, "Group handshake").
    Connect(GroupConnect),
    /// `02`: sent before group begin; payload kept verbatim (librtmfp: empty;
    /// docs/protocol/netgroup.md, "Group message types").
    Data(Vec<u8>),
    /// `0E`: group begin; the sender's receive mode is EXACT (docs/protocol/netgroup.md, "Group
    /// handshake", "Directed routing").
    Begin,
    /// `0F`: group begin with receive mode NEAREST (docs/protocol/netgroup.md, "Group message
    /// types", "Directed routing").
    BeginNearest,
    /// `0A`: group report (docs/protocol/netgroup.md, "Group report").
    Report(GroupReport),
    /// `0C`: ask the receiver to drop the connection (docs/protocol/netgroup.md, "Ask-close").
    AskClose,
    /// Any other type byte, with its body (kept so it can be counted and ignored).
    Unknown {
        /// Type byte.
        kind: u8,
        /// Bytes after the type.
        body: Vec<u8>,
    },
}

impl GroupMessage {
    /// Decodes one `GR\x1C` message. Trailing bytes after the empty messages (`0E`, `0F`, `0C`)
    /// are ignored; reports are bounded by `limits`.
    ///
    /// Errors: [`WireError::Empty`] for an empty message, otherwise as the message's decoder.
    pub fn decode(msg: &[u8], limits: &ReportLimits) -> Result<Self, WireError> {
        let (&typ, body) = msg.split_first().ok_or(WireError::Empty)?;
        Ok(match typ {
            kind::CONNECT => GroupMessage::Connect(GroupConnect::decode_body(body)?),
            kind::DATA => GroupMessage::Data(body.to_vec()),
            kind::BEGIN => GroupMessage::Begin,
            kind::BEGIN_NEAREST => GroupMessage::BeginNearest,
            kind::REPORT => GroupMessage::Report(GroupReport::decode_body(body, limits)?),
            kind::ASK_CLOSE => GroupMessage::AskClose,
            kind => GroupMessage::Unknown {
                kind,
                body: body.to_vec(),
            },
        })
    }

    /// The type byte.
    pub fn kind(&self) -> u8 {
        match self {
            GroupMessage::Connect(_) => kind::CONNECT,
            GroupMessage::Data(_) => kind::DATA,
            GroupMessage::Begin => kind::BEGIN,
            GroupMessage::BeginNearest => kind::BEGIN_NEAREST,
            GroupMessage::Report(_) => kind::REPORT,
            GroupMessage::AskClose => kind::ASK_CLOSE,
            GroupMessage::Unknown { kind, .. } => *kind,
        }
    }

    /// Appends the encoding (type byte included) to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.kind());
        match self {
            GroupMessage::Connect(c) => c.encode_body(out),
            GroupMessage::Data(b) | GroupMessage::Unknown { body: b, .. } => {
                out.extend_from_slice(b)
            }
            GroupMessage::Report(r) => r.encode_body(out),
            GroupMessage::Begin | GroupMessage::BeginNearest | GroupMessage::AskClose => {}
        }
    }

    /// The encoding as a new vector.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_messages() {
        let l = ReportLimits::default();
        assert_eq!(GroupMessage::decode(&[], &l), Err(WireError::Empty));
        for (b, m) in [
            (0x0e, GroupMessage::Begin),
            (0x0f, GroupMessage::BeginNearest),
            (0x0c, GroupMessage::AskClose),
            (0x02, GroupMessage::Data(Vec::new())),
        ] {
            assert_eq!(GroupMessage::decode(&[b], &l).unwrap(), m);
            assert_eq!(m.to_bytes(), [b]);
        }
        let u = GroupMessage::decode(&[0x77, 1, 2], &l).unwrap();
        assert_eq!(u.to_bytes(), [0x77, 1, 2]);
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes: Vec<u8>) {
            let l = ReportLimits { max_members: 4, max_addresses: 2 };
            if let Ok(m) = GroupMessage::decode(&bytes, &l) {
                // Whatever decodes re-encodes and decodes to the same value.
                let again = GroupMessage::decode(&m.to_bytes(), &l);
                if let (GroupMessage::Report(a), Ok(GroupMessage::Report(b))) = (&m, &again) {
                    prop_assert_eq!(&a.members, &b.members);
                } else {
                    prop_assert_eq!(Ok(m), again);
                }
            }
        }

        #[test]
        fn arbitrary_typed_bodies_never_panic(kind in prop::sample::select(vec![1u8, 2, 0x0a, 0x0c, 0x0e]), body: Vec<u8>) {
            let mut m = vec![kind];
            m.extend_from_slice(&body);
            let _ = GroupMessage::decode(&m, &ReportLimits::default());
        }
    }
}
