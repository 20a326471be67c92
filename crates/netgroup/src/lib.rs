//! Sans-IO RTMFP Groups (Flash `NetGroup`) engine and rendezvous-server policy.
//!
//! Module map:
//! - [`id`]: peer IDs, group addresses, ring distance;
//! - [`groupspec`]: `GroupSpecifier`, the groupspec string, group IDs; [`keys`]: group keys;
//! - [`estimate`], [`best_list`](mod@best_list): `estimatedMemberCount` and neighbour selection;
//! - [`seen`]: the bounded posting dedupe cache;
//! - [`wire`]: codecs of the known `GR` group messages;
//! - [`server`]: the rendezvous server (NetConnections, introductions, group bootstrap).
#![warn(missing_docs)]

pub mod id;

pub use id::{Distance, GroupAddress, IdParseError, PeerId};
pub mod best_list;
pub mod estimate;
pub mod groupspec;
pub mod keys;
pub mod peer_table;
pub mod seen;
pub mod wire;

pub use best_list::{best_list, best_list_with_random, BestList, BestListRequest, RingMember};
pub use estimate::{estimated_member_count, target_neighbor_count};
pub use groupspec::{GroupSpecifier, GroupspecError, IpMulticastAddress};
pub use keys::group_connect_key;
pub use peer_table::{PeerIdTable, SharedPeerId};
pub use seen::SeenCache;
pub use wire::{GroupFlowKind, GroupMessage, WireError};
pub mod node;
pub mod server;
pub use node::multicast;
pub use node::{
    GroupConfig, GroupEvent, GroupHandle, GroupMut, GroupNode, GroupRef, JoinError, MediaMessage,
    MulticastMut, MulticastParams, NeighborTarget, NetGroupInfo, NetStreamMulticastInfo, PlayError,
    PostError, PublishError, RangeSet, ReceiveMode, ReplicationCounters, ReplicationError,
    ReplicationMut, ReplicationStrategy, RouteError, SendResult, SendToNotify, StreamError,
    StreamInfo, StreamKey, MAX_OBJECT_INDEX,
};
