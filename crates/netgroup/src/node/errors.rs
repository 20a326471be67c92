//! The errors of the group engine's calls, one type per operation: each call returns only the
//! errors it can produce. A call on a group that is not joined cannot be made at all:
//! [`crate::GroupNode::group_mut`] returns `None` for it.

/// Why [`crate::GroupNode::join`] refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// This node is already a member of the group the GroupSpecifier names.
    #[error("already a member of this group")]
    AlreadyJoined,
}

/// Why a `post` was refused (docs/protocol/netgroup.md, "Posting").
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PostError {
    /// The group's GroupSpecifier does not enable posting.
    #[error("posting is not enabled in this group")]
    PostingDisabled,
    /// The group has a posting password and the GroupSpecifier holds no valid posting
    /// authorization (docs/protocol/netgroup.md, "GroupSpecifier").
    #[error("posting password required: the groupspec holds no valid posting authorization")]
    NotAuthorized,
    /// The message is larger than `GroupConfig::max_post_bytes`.
    #[error("message of {size} bytes exceeds the posting limit of {limit}")]
    TooLarge {
        /// Message size, bytes.
        size: usize,
        /// The bound, bytes.
        limit: usize,
    },
    /// A message identical to one seen recently: not propagated again.
    #[error("identical message already posted")]
    Duplicate {
        /// Its message ID (SHA-256 of the message).
        message_id: [u8; 32],
    },
    /// The group is no longer joined: handling the events of an earlier call through the same
    /// view dropped it (a NetConnection that fails before the join completed drops the groups
    /// waiting for it).
    #[error("the group is no longer joined")]
    NotJoined,
}

/// Why a directed-routing send (`sendToNearest`, `sendToNeighbor`, `sendToAllNeighbors`) was
/// refused (docs/protocol/netgroup.md, "Directed routing").
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RouteError {
    /// The group's GroupSpecifier does not enable routing.
    #[error("routing is not enabled in this group")]
    RoutingDisabled,
    /// The message is larger than `GroupConfig::max_route_bytes`.
    #[error("message of {size} bytes exceeds the routing limit of {limit}")]
    TooLarge {
        /// Message size, bytes.
        size: usize,
        /// The bound, bytes.
        limit: usize,
    },
    /// The group is no longer joined: handling the events of an earlier call through the same
    /// view dropped it (a NetConnection that fails before the join completed drops the groups
    /// waiting for it).
    #[error("the group is no longer joined")]
    NotJoined,
}

/// Why an object replication call was refused (docs/protocol/netgroup.md, "Object
/// replication").
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ReplicationError {
    /// The group's GroupSpecifier does not enable object replication.
    #[error("object replication is not enabled in this group")]
    ReplicationDisabled,
    /// An object range with `start > end`, or an index above
    /// [`MAX_OBJECT_INDEX`](crate::MAX_OBJECT_INDEX).
    #[error("invalid object range {start}..={end}")]
    InvalidRange {
        /// First index.
        start: u64,
        /// Last index.
        end: u64,
    },
    /// A request ID that is not pending (answered already, never issued, or its neighbour
    /// left).
    #[error("unknown replication request {request_id}")]
    UnknownRequest {
        /// The ID.
        request_id: u64,
    },
    /// An object larger than `GroupConfig::max_object_bytes`; the request stays pending.
    #[error("object of {size} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// Object size, bytes.
        size: usize,
        /// The bound, bytes.
        limit: usize,
    },
    /// The group is no longer joined: handling the events of an earlier call through the same
    /// view dropped it (a NetConnection that fails before the join completed drops the groups
    /// waiting for it).
    #[error("the group is no longer joined")]
    NotJoined,
}

/// Why a multicast `publish` was refused (docs/protocol/netgroup.md, "Multicast streams").
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PublishError {
    /// The group's GroupSpecifier does not enable multicast.
    #[error("multicast is not enabled in this group")]
    MulticastDisabled,
    /// The group has a publish password and the GroupSpecifier holds no valid publish
    /// authorization.
    #[error("publish password required: the groupspec holds no valid publish authorization")]
    NotAuthorized,
    /// This member already publishes a stream of that name (not yet unpublished).
    #[error("this stream name is already published here")]
    AlreadyPublishing,
    /// More streams than `GroupConfig::max_streams`.
    #[error("too many streams (limit {limit})")]
    TooManyStreams {
        /// The bound.
        limit: usize,
    },
    /// The group is no longer joined: handling the events of an earlier call through the same
    /// view dropped it (a NetConnection that fails before the join completed drops the groups
    /// waiting for it).
    #[error("the group is no longer joined")]
    NotJoined,
}

/// Why a call on one of our published streams (`publish_message`, `unpublish`) was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StreamError {
    /// The stream key is not one of ours, or it was unpublished.
    #[error("unknown stream")]
    UnknownStream,
    /// The message is larger than [`MAX_MESSAGE_BYTES`](crate::multicast::MAX_MESSAGE_BYTES).
    #[error("media message of {size} bytes exceeds the limit of {limit}")]
    TooLarge {
        /// Message size, bytes.
        size: usize,
        /// The bound, bytes.
        limit: usize,
    },
    /// The group is no longer joined: handling the events of an earlier call through the same
    /// view dropped it (a NetConnection that fails before the join completed drops the groups
    /// waiting for it).
    #[error("the group is no longer joined")]
    NotJoined,
}

/// Why a multicast `play` was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PlayError {
    /// The group's GroupSpecifier does not enable multicast.
    #[error("multicast is not enabled in this group")]
    MulticastDisabled,
    /// The group is no longer joined: handling the events of an earlier call through the same
    /// view dropped it (a NetConnection that fails before the join completed drops the groups
    /// waiting for it).
    #[error("the group is no longer joined")]
    NotJoined,
}
