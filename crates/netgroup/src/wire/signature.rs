//! Flow signatures: the per-flow metadata (RTMFP user-data option type 0x00) that tells group
//! flows apart (docs/protocol/netgroup.md, "Group flow signatures"). Group flows start with `G`
//! where NetConnection and NetStream flows start with `TC`.

/// The kind of a group flow, from its metadata bytes (docs/protocol/netgroup.md, "Group flow
/// signatures").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum GroupFlowKind {
    /// `GC` (`47 43`): client ↔ server group join (`01`) and introductions (`0B`).
    GroupConnection,
    /// `GR\x1C`: peer ↔ peer group control: handshake `01`, `02`, begin `0E`/`0F`, report `0A`,
    /// ask-close `0C`. Opened first, without return association.
    GroupControl,
    /// `GR\x11`: media control, one per stream and direction: subscription `21`, fragments map
    /// `22`, push `23`, pull `2B`.
    MediaControl,
    /// `GR\x12`: media fragments `20`/`30`/`10`/`00`.
    MediaData,
    /// `GR\x18`: posting keys `30`/`3A` (semantics partly unknown).
    PostingKeys,
    /// `GR\x19`: posting values (AMF).
    PostingValues,
    /// `GR\x1D`: "NetGroup message stream", likely routing; contents unknown.
    GroupMessages,
    /// `GR` followed by any other kind byte.
    OtherGroup(u8),
}

/// `G`, `C`: the group-connection signature.
impl GroupFlowKind {
    /// The group flow named by RTMFP flow metadata (`GC`, `GR <kind>`), through the Flash
    /// layer's signature decoder; `None` for `TC` flows and anything else.
    pub fn parse(metadata: &[u8]) -> Option<Self> {
        match rtmfp_flash::FlowSignature::decode(metadata).ok()? {
            rtmfp_flash::FlowSignature::GroupClient => Some(GroupFlowKind::GroupConnection),
            rtmfp_flash::FlowSignature::GroupPeer(kind) => Some(match kind {
                0x1c => GroupFlowKind::GroupControl,
                0x11 => GroupFlowKind::MediaControl,
                0x12 => GroupFlowKind::MediaData,
                0x18 => GroupFlowKind::PostingKeys,
                0x19 => GroupFlowKind::PostingValues,
                0x1d => GroupFlowKind::GroupMessages,
                k => GroupFlowKind::OtherGroup(k),
            }),
            rtmfp_flash::FlowSignature::Tc { .. } => None,
        }
    }

    /// The flow metadata bytes (`47 43`, or `47 52 <kind>`).
    pub fn to_metadata(&self) -> Vec<u8> {
        let kind = match self {
            GroupFlowKind::GroupConnection => {
                return rtmfp_flash::FlowSignature::GroupClient.encode()
            }
            GroupFlowKind::GroupControl => 0x1c,
            GroupFlowKind::MediaControl => 0x11,
            GroupFlowKind::MediaData => 0x12,
            GroupFlowKind::PostingKeys => 0x18,
            GroupFlowKind::PostingValues => 0x19,
            GroupFlowKind::GroupMessages => 0x1d,
            GroupFlowKind::OtherGroup(k) => *k,
        };
        rtmfp_flash::FlowSignature::GroupPeer(kind).encode()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_signatures() {
        assert_eq!(
            GroupFlowKind::parse(&[0x47, 0x43]),
            Some(GroupFlowKind::GroupConnection)
        );
        assert_eq!(
            GroupFlowKind::parse(&[0x47, 0x52, 0x1c]),
            Some(GroupFlowKind::GroupControl)
        );
        assert_eq!(GroupFlowKind::parse(b"TC\x04\x00"), None);
        assert_eq!(GroupFlowKind::parse(b"GR"), None);
        for s in [
            GroupFlowKind::GroupConnection,
            GroupFlowKind::GroupControl,
            GroupFlowKind::MediaControl,
            GroupFlowKind::MediaData,
            GroupFlowKind::PostingKeys,
            GroupFlowKind::PostingValues,
            GroupFlowKind::GroupMessages,
            GroupFlowKind::OtherGroup(0x42),
        ] {
            assert_eq!(GroupFlowKind::parse(&s.to_metadata()), Some(s));
        }
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_round_trips(bytes: Vec<u8>) {
            if let Some(s) = GroupFlowKind::parse(&bytes) {
                prop_assert_eq!(s.to_metadata(), bytes);
            }
        }
    }
}
