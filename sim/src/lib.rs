//! Discrete-event simulator that runs the real sans-IO RTMFP code and NetGroup engine in
//! virtual time.
//!
//! - [`engine::Engine`]: a min-heap of `(time, sequence, event)`, nodes in a `Vec`, per-node
//!   seeded RNGs, a run hash over everything that happened.
//! - [`node::SimNode`]: the sans-IO contract a node implements (`rtmfp::Endpoint` does, in
//!   [`endpoint_node`]; the NetGroup member and rendezvous server do, in [`group::node`]);
//!   [`workload::Workload`]: the application on top ([`sessions`], [`group`]).
//! - [`net`]: topology, jitter, random and bursty loss, access-link capacity and queues, NATs,
//!   LAN multicast, partitions; [`churn`]: session lengths, crashes, rejoins.
//! - [`scenario`] (TOML), [`run()`] and the [`runner`] toolkit, [`report`] (CSV, JSON, SVG, summary), [`pcap`].
#![warn(missing_docs)]

pub mod addr;
pub mod ceiling;
pub mod churn;
pub mod directory;
pub mod endpoint_node;
pub mod engine;
mod error;
pub mod group;
pub mod hash;
pub mod metrics;
pub mod net;
pub mod node;
pub mod pcap;
pub mod plot;
pub mod queue;
pub mod report;
pub mod rng;
pub mod run;
pub mod runner;
pub mod scenario;
pub mod sessions;
pub mod workload;

pub use engine::{Engine, EngineConfig, EngineStats};
pub use hash::RunHash;
pub use node::{NodeId, SimNode};
pub use run::run;
pub use workload::{Ctx, Workload};
