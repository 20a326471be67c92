//! NetGroup workloads: the real `rtmfp_netgroup::GroupNode` members and
//! `rtmfp_netgroup::server::RendezvousServer` in virtual time.
//!
//! - [`node`]: [`GroupSimNode`], the server or a member behind one [`crate::SimNode`];
//! - [`params`]: the `[workload] kind = "group"` table and the run-time parameters;
//! - [`workload`]: [`GroupWorkload`]: joins, the group-wide post and lookup schedule,
//!   neighbour tracking;
//! - [`ledger`]: who should get each post, who did; where lookups ended; the member ring;
//! - [`replication`]: the object replication workload (`[workload.replication]`): objects,
//!   holders, completion, the upload-capacity lower bound;
//! - [`stream`]: the multicast stream workload (`[workload.stream]`): a publisher, players,
//!   continuity, start-up delay and lag;
//! - [`counters`], [`report`]: counters and the [`report::GroupReport`];
//! - [`run`]: scenario → engine → [`crate::runner::RunResult`].

pub mod counters;
pub mod ledger;
pub mod node;
pub mod params;
pub mod replication;
pub mod report;
pub mod run;
pub mod stream;
pub mod workload;

pub use node::{GroupSimEvent, GroupSimNode};
pub use params::{GroupParams, GroupSpec};
pub use workload::GroupWorkload;
