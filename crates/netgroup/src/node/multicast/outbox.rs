//! What the multicast engine queues for the group to send ([`Outgoing`]) and what it
//! keeps per neighbour and stream ([`PeerMedia`]).

use bytes::Bytes;
use rtmfp::Instant;

use super::frames::{FragmentsMap, StreamKey};

use crate::id::PeerId;

/// What goes to a neighbour for a stream: drained by the group onto its media flows.
#[derive(Debug, Clone)]
pub(crate) enum Out {
    /// A media control message (`GR\x11`); the first one to a neighbour is the subscription.
    Control(Bytes),
    /// A fragment (`GR\x12`), abandoned at `deadline`.
    Fragment { bytes: Bytes, deadline: Instant },
}

/// One queued media message.
#[derive(Debug, Clone)]
pub(crate) struct Outgoing {
    pub peer: PeerId,
    pub key: StreamKey,
    pub out: Out,
}

/// One neighbour, for one stream.
#[derive(Debug, Clone, Default)]
pub(crate) struct PeerMedia {
    /// We sent it our subscription.
    pub(super) announced: bool,
    /// Its `GR\x11` flow for this stream (it announced the stream to us).
    pub in_flow: Option<u64>,
    /// Our `GR\x11` / `GR\x12` flows to it (managed by the group).
    pub out_control: Option<u64>,
    pub out_data: Option<u64>,
    /// Order in which it announced the stream (push priority).
    pub(super) order: u64,
    /// Its last fragments map.
    pub(super) map: Option<FragmentsMap>,
    /// Residue classes it asked us to push.
    pub(super) wants: u8,
    /// Residue classes we asked it to push.
    pub(super) asked: u8,
    /// (last ID, holdings version) of the last map we sent it.
    pub(super) sent_map: Option<(u64, u64)>,
    /// Pulls in flight to it.
    pub(super) pulls: usize,
}
