//! The sans-IO contract the engine drives: what a simulated node must implement.
//!
//! `rtmfp::Endpoint` implements it (see [`crate::endpoint_node`]); the NetGroup engine's
//! `GroupNode` will implement it the same way, and the simulator then runs group scenarios with
//! no change to the engine.

use rtmfp::SansIo;

use crate::hash::RunHash;

/// Index of a node slot, `0..nodes`. A slot keeps its address across leaves and rejoins; each
/// join creates a fresh node (a new incarnation) in it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The slot as a `usize` index.
    pub fn idx(self) -> usize {
        self.0 as usize
    }
}

impl std::fmt::Display for NodeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "n{}", self.0)
    }
}

/// A sans-IO protocol node the engine can drive: any [`rtmfp::SansIo`] machine (the contract
/// shared with the tokio driver) that can also digest its events into the run hash.
///
/// The engine calls `handle_datagram` or `handle_timeout` (or a workload command), then drains
/// `poll_transmit` and `poll_event` until both are empty, then reads `poll_timeout`.
pub trait SimNode: SansIo {
    /// Mixes `event` into the run hash (every field that matters for reproducibility).
    fn digest_event(event: &Self::Event, hash: &mut RunHash);
}
