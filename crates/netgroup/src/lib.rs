//! Sans-IO RTMFP Groups (Flash `NetGroup`) engine and rendezvous-server policy.
//!
//! What the crate offers, at its root:
//! - the group engine [`GroupNode`] (a [`rtmfp::SansIo`] machine over a Flash node), joined by a
//!   [`GroupSpecifier`] and tuned by [`GroupConfig`]; a joined group is read through
//!   [`GroupRef`] and acted on through [`GroupMut`] (with [`ReplicationMut`] and
//!   [`MulticastMut`]); each call has its own error type ([`JoinError`], [`PostError`],
//!   [`RouteError`], [`ReplicationError`], [`PublishError`], [`StreamError`], [`PlayError`]);
//!   what it reports is a [`GroupEvent`];
//! - peer IDs and group addresses on the ring ([`PeerId`], [`GroupAddress`]), the
//!   `estimatedMemberCount` estimate and best-list selection, group keys and groupspec hashing;
//! - modules for the parts other code builds on: [`server`] (the rendezvous server:
//!   NetConnections, introductions, group bootstrap), [`wire`] (codecs of the `GR` group
//!   messages), [`posting`], [`replication`] and [`multicast`] (their state machines and our
//!   frames, used by benches and fuzzers), [`lan`] (LAN announcements).
//!
//! Inside (private): `node/engine` (the engine and its calls), `node/group` (one joined group),
//! the heard list, the seen cache's use, the shared peer-ID table. docs/ARCHITECTURE.md has the
//! map.
#![warn(missing_docs)]

mod best_list;
mod estimate;
mod groupspec;
mod id;
mod keys;
mod node;
mod peer_table;
mod seen;
pub mod server;
pub mod wire;

pub use best_list::{
    best_list, best_list_with_random, BestList, BestListRequest, Ring, RingMember,
};
pub use estimate::{estimated_member_count, target_neighbor_count};
pub use groupspec::{
    group_id_from_txt, password_hash, GroupSpecifier, GroupspecError, IpMulticastAddress,
};
pub use id::{Distance, GroupAddress, IdParseError, PeerId};
pub use keys::group_connect_key;
pub use node::{lan, multicast, posting, replication, EXTENSION_FLOW_KIND};
pub use node::{
    GroupConfig, GroupEvent, GroupHandle, GroupMut, GroupNode, GroupRef, JoinError, MediaMessage,
    MembershipCounters, MulticastCounters, MulticastMut, MulticastParams, NeighborTarget,
    NetGroupInfo, NetStreamMulticastInfo, NodeCounters, PlayError, PostError, PublishError,
    RangeSet, ReceiveMode, ReplicationCounters, ReplicationError, ReplicationMut,
    ReplicationStrategy, RouteError, RoutingCounters, SendResult, SendToNotify, StreamError,
    StreamInfo, StreamKey, MAX_OBJECT_INDEX,
};
pub use peer_table::{PeerIdTable, SharedPeerId};
pub use seen::SeenCache;
pub use wire::{GroupFlowKind, GroupMessage, WireError};
