//! [`GroupNode`]: the sans-IO NetGroup engine (docs/protocol/netgroup.md, "Identities and the ring"
//! to "Directed routing", "NetGroup API reference"). One [`FlashNode`](rtmfp_flash::FlashNode)
//! (endpoint + NetConnection to a rendezvous server) and the groups it joined.
//!
//! The layout goes from leaves to the engine; no file imports from a file above it:
//! - the concerns' own state machines, which know nothing of groups or nodes: `heard` (the
//!   heard list, compact records on the ring), [`posting`] (message IDs, flooding with dedupe,
//!   the posting-password proof), [`routing`] (the routed frame, greedy next hop, receive
//!   modes), [`replication`] (have/want sets, requests, fetch scheduling), [`multicast`]
//!   (streams: fragments, maps, push / pull, playback), [`lan`] (LAN announcements);
//! - [`events`] and [`config`]: what the node reports and how it is tuned;
//! - `io` (the context a group handler touches: event queue, Flash node, flow tables) and
//!   `neighbor` (one neighbour's flows and state);
//! - `group`: one joined group, its handlers split by concern (membership, the `GR\x1C`
//!   control messages, the extension flow, posting, routing, media flows);
//! - `engine`: [`GroupNode`] itself, its [`rtmfp::SansIo`] loop, the dispatch of session
//!   events and group flows, and its public calls split by concern.
//!
//! Our own messages (posting, routing and replication frames on the `GR\x60` extension flow,
//! the posting proof) are documented in `docs/wire-netgroup.md`.

pub mod config;
mod engine;
mod errors;
pub mod events;
mod group;
mod heard;
mod io;
pub mod lan;
pub mod multicast;
mod neighbor;
mod password;
pub mod posting;
pub mod replication;
pub mod routing;

pub use config::GroupConfig;
pub use engine::view::{GroupMut, GroupRef, MulticastMut, ReplicationMut};
pub use engine::{GroupNode, NodeCounters};
pub use errors::{
    JoinError, PlayError, PostError, PublishError, ReplicationError, RouteError, StreamError,
};
pub use events::{
    GroupEvent, GroupHandle, MembershipCounters, NetGroupInfo, SendResult, SendToNotify,
};
pub use group::EXTENSION_FLOW_KIND;
pub use multicast::{
    MediaMessage, MulticastCounters, MulticastParams, NetStreamMulticastInfo, StreamInfo, StreamKey,
};
pub use replication::{RangeSet, ReplicationCounters, ReplicationStrategy, MAX_OBJECT_INDEX};
pub use routing::{NeighborTarget, ReceiveMode, RoutingCounters};
