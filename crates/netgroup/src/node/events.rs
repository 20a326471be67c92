//! What a [`crate::node::GroupNode`] reports: events (docs/protocol/netgroup.md, "NetGroup API
//! reference"), the `NetGroupInfo` byte counters, drop counters by reason, and command errors.

use std::time::Duration;

use bytes::Bytes;
use rtmfp_flash::netconnection::NetConnectionEvent;

use crate::id::{GroupAddress, PeerId};
use crate::node::multicast::{MediaMessage, StreamKey};

/// A joined group, named by its 32-byte group ID (docs/protocol/netgroup.md, "Group ID").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GroupHandle(pub [u8; 32]);

crate::id::be32_ord!(GroupHandle);

/// A `NetGroup.SendTo.Notify` (docs/protocol/netgroup.md, "Directed routing", "NetGroup API
/// reference").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendToNotify {
    /// The group.
    pub group: GroupHandle,
    /// The message bytes.
    pub message: Bytes,
    /// Group address of the node that first sent the message.
    pub from: GroupAddress,
    /// `true` when this node sent (or forwarded) the message and is itself the destination:
    /// the end of Flash's application-driven recursion.
    pub from_local: bool,
    /// The address a `sendToNearest` message is routed to; `None` for `sendToNeighbor` /
    /// `sendToAllNeighbors` messages.
    pub destination: Option<GroupAddress>,
    /// Hops taken so far (0 for a local delivery of our own message).
    pub hops: u8,
    /// Whether this node is where the message ends: the nearest among itself and its
    /// neighbours and accepted by its receive mode, or a neighbour message. When `false` the
    /// application may call [`crate::GroupMut::forward_to_nearest`].
    pub at_destination: bool,
}

/// Events of a [`crate::node::GroupNode`] (docs/protocol/netgroup.md, "NetGroup API reference").
#[derive(Debug, Clone, PartialEq)]
pub enum GroupEvent {
    /// `NetGroup.Connect.Success`: the join was sent to the server (or, without a server, the
    /// group is active locally).
    ConnectSuccess {
        /// The group.
        group: GroupHandle,
    },
    /// `NetGroup.Connect.Rejected`: the groupspec forbids what the engine needs (e.g.
    /// `peerToPeerDisabled`).
    ConnectRejected {
        /// The group.
        group: GroupHandle,
        /// Why.
        reason: String,
    },
    /// `NetGroup.Connect.Failed`: the NetConnection failed or closed before the join.
    ConnectFailed {
        /// The group.
        group: GroupHandle,
        /// Why.
        reason: String,
    },
    /// `NetGroup.Neighbor.Connect`: a neighbour completed the group handshake
    /// (docs/protocol/netgroup.md, "Group handshake").
    NeighborConnect {
        /// The group.
        group: GroupHandle,
        /// The neighbour's peer ID.
        peer_id: PeerId,
        /// Its group address.
        neighbor: GroupAddress,
    },
    /// `NetGroup.Neighbor.Disconnect`.
    NeighborDisconnect {
        /// The group.
        group: GroupHandle,
        /// The neighbour's peer ID.
        peer_id: PeerId,
        /// Its group address.
        neighbor: GroupAddress,
    },
    /// `NetGroup.Posting.Notify` (docs/protocol/netgroup.md, "Posting"): delivered once per
    /// distinct message.
    PostingNotify {
        /// The group.
        group: GroupHandle,
        /// The posted bytes.
        message: Bytes,
        /// SHA-256 of the bytes.
        message_id: [u8; 32],
    },
    /// `NetGroup.SendTo.Notify` (docs/protocol/netgroup.md, "Directed routing").
    SendToNotify(SendToNotify),
    /// `NetGroup.LocalCoverage.Notify`: the coverage arc changed.
    LocalCoverageNotify {
        /// The group.
        group: GroupHandle,
    },
    /// `NetGroup.Replication.Request` (docs/protocol/netgroup.md, "Object replication"): a
    /// neighbour asks for an object of our have set; answer with
    /// [`crate::ReplicationMut::write_requested_object`] or
    /// [`crate::ReplicationMut::deny_requested_object`], possibly later.
    ReplicationRequest {
        /// The group.
        group: GroupHandle,
        /// The object index.
        index: u64,
        /// The ID to answer with.
        request_id: u64,
    },
    /// `NetGroup.Replication.Fetch.SendNotify` (docs/protocol/netgroup.md, "Object replication"): a
    /// request for `index` is being sent to a neighbour.
    ReplicationFetchSendNotify {
        /// The group.
        group: GroupHandle,
        /// The object index.
        index: u64,
    },
    /// `NetGroup.Replication.Fetch.Failed` (docs/protocol/netgroup.md, "Object replication"): the
    /// request was denied, timed out or its holder left; it is retried (with another holder when
    /// one has it) while wanted.
    ReplicationFetchFailed {
        /// The group.
        group: GroupHandle,
        /// The object index.
        index: u64,
    },
    /// `NetGroup.Replication.Fetch.Result` (docs/protocol/netgroup.md, "Object replication"): the
    /// object arrived; `index` left the want set (add it back if the object is invalid). The engine
    /// does not add it to the have set: the application does, as Flash applications do.
    ReplicationFetchResult {
        /// The group.
        group: GroupHandle,
        /// The object index.
        index: u64,
        /// The object's bytes.
        object: Bytes,
        /// The neighbour that sent it.
        from: PeerId,
    },
    /// `NetGroup.MulticastStream.PublishNotify` (docs/protocol/netgroup.md, "Media subscription",
    /// "Multicast stream events"): a stream was announced to this member for the first time (each
    /// publication has its own key).
    MulticastPublishNotify {
        /// The group.
        group: GroupHandle,
        /// The stream name.
        name: String,
        /// The publication's key.
        key: StreamKey,
    },
    /// `NetGroup.MulticastStream.UnpublishNotify` (docs/protocol/netgroup.md, "Multicast stream
    /// events"): the publisher ended the stream (or it went silent for 300 s). Playback goes on
    /// until its last fragment.
    MulticastUnpublishNotify {
        /// The group.
        group: GroupHandle,
        /// The stream name.
        name: String,
        /// The publication's key.
        key: StreamKey,
    },
    /// A media message of a stream this member plays (`NetStream` data, audio, video), in
    /// fragment order (docs/protocol/netgroup.md, "Media fragments").
    MulticastMessage {
        /// The group.
        group: GroupHandle,
        /// The stream name.
        name: String,
        /// The publication's key.
        key: StreamKey,
        /// The message.
        message: MediaMessage,
    },
    /// Playback reached the end of a stream (`NetStream.Play.UnpublishNotify` for the player):
    /// every fragment up to the announced last one was delivered or given up.
    MulticastPlayEnded {
        /// The group.
        group: GroupHandle,
        /// The stream name.
        name: String,
        /// The publication's key.
        key: StreamKey,
        /// Fragments from where playback started to the last one: the continuity index is
        /// `1 - lost / fragments`.
        fragments: u64,
        /// Fragments given up (holes past the window).
        lost: u64,
        /// Messages delivered.
        delivered: u64,
    },
    /// A NetConnection event (status, call results), passed through.
    NetConnection(NetConnectionEvent),
    /// A session event the group engine did not consume (non-group flows), passed through.
    Session(rtmfp::Event),
}

/// `NetGroupInfo` (docs/protocol/netgroup.md, "NetGroup API reference") as cumulative byte
/// counters; [`NetGroupInfo::rates`] turns two snapshots into Flash's bytes-per-second properties.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NetGroupInfo {
    /// Posted message frames sent, bytes.
    pub posting_send_data_bytes: u64,
    /// Posting control bytes sent (none in this engine: posts are pushed whole).
    pub posting_send_control_bytes: u64,
    /// Posted message frames received, bytes.
    pub posting_receive_data_bytes: u64,
    /// Posting control bytes received.
    pub posting_receive_control_bytes: u64,
    /// Routed message frames sent, bytes.
    pub routing_send_bytes: u64,
    /// Routed message frames received, bytes.
    pub routing_receive_bytes: u64,
    /// Object replication frames sent (HAVE, FETCH, OBJECT, DENY), bytes.
    pub object_replication_send_bytes: u64,
    /// Object replication frames received, bytes.
    pub object_replication_receive_bytes: u64,
}

impl NetGroupInfo {
    /// Bytes per second in each category between `earlier` and `self`, `elapsed` apart
    /// (Flash's `...BytesPerSecond` properties). Zero elapsed time gives zeros.
    pub fn rates(&self, earlier: &NetGroupInfo, elapsed: Duration) -> NetGroupInfo {
        let secs = elapsed.as_secs_f64();
        let r = |a: u64, b: u64| {
            if secs <= 0.0 {
                0
            } else {
                (a.saturating_sub(b) as f64 / secs) as u64
            }
        };
        NetGroupInfo {
            posting_send_data_bytes: r(
                self.posting_send_data_bytes,
                earlier.posting_send_data_bytes,
            ),
            posting_send_control_bytes: r(
                self.posting_send_control_bytes,
                earlier.posting_send_control_bytes,
            ),
            posting_receive_data_bytes: r(
                self.posting_receive_data_bytes,
                earlier.posting_receive_data_bytes,
            ),
            posting_receive_control_bytes: r(
                self.posting_receive_control_bytes,
                earlier.posting_receive_control_bytes,
            ),
            routing_send_bytes: r(self.routing_send_bytes, earlier.routing_send_bytes),
            routing_receive_bytes: r(self.routing_receive_bytes, earlier.routing_receive_bytes),
            object_replication_send_bytes: r(
                self.object_replication_send_bytes,
                earlier.object_replication_send_bytes,
            ),
            object_replication_receive_bytes: r(
                self.object_replication_receive_bytes,
                earlier.object_replication_receive_bytes,
            ),
        }
    }
}

/// Inputs dropped or bounded by the membership engine, by reason (one group).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MembershipCounters {
    /// `GR\x1C` messages that did not decode.
    pub malformed: u64,
    /// Handshakes with a wrong group connect key (docs/protocol/netgroup.md, "Group handshake"):
    /// flow rejected, session closed.
    pub wrong_key: u64,
    /// Handshakes naming another peer as recipient.
    pub wrong_recipient: u64,
    /// Messages before a valid handshake, or of an unknown type.
    pub unexpected: u64,
    /// Handshakes refused because `max_neighbors` was reached.
    pub neighbor_limit: u64,
    /// Report records dropped by [`crate::wire::ReportLimits`] while decoding.
    pub report_members_dropped: u64,
    /// Report addresses dropped by the limits.
    pub report_addresses_dropped: u64,
    /// Report records ignored: too old, or a member that recently left.
    pub report_members_stale: u64,
    /// New members not recorded because the heard list was full.
    pub heard_full: u64,
    /// Ask-close requests accepted / refused (docs/protocol/netgroup.md, "Ask-close").
    pub ask_close_accepted: u64,
    /// Ask-close requests refused.
    pub ask_close_refused: u64,
    /// Ask-close requests sent.
    pub ask_close_sent: u64,
    /// Peer sessions that failed to open.
    pub connect_failures: u64,
    /// Peer sessions started by the engine.
    pub connect_attempts: u64,
    /// Server introductions (`0B`) received.
    pub introductions: u64,
    /// Writes the session layer refused (buffer full, closed flow).
    pub write_failures: u64,
    /// Extension-flow messages that did not decode or had an unknown type.
    pub ext_malformed: u64,
}

/// Result of a send (Flash `NetGroupSendResult`, docs/protocol/netgroup.md, "Directed routing").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendResult {
    /// Sent toward the destination (Flash `"sent"`).
    Sent,
    /// This node is the destination: a local [`GroupEvent::SendToNotify`] with
    /// `from_local = true` was queued (Flash also answers `"sent"` here).
    Local,
    /// No neighbour to send to (Flash `"no route"`).
    NoRoute,
}
