//! The application hook: what runs on top of the nodes (a session-level workload now; posting,
//! routing, replication and streaming once the NetGroup engine exists).

use std::net::SocketAddr;

use rtmfp::Instant;

use crate::directory::Directory;
use crate::hash::RunHash;
use crate::net::Network;
use crate::node::{NodeId, SimNode};
use crate::rng::SimRng;

/// Everything a workload callback may look at or do besides commanding its node.
pub struct Ctx<'a> {
    /// Virtual time, microseconds.
    pub now: Instant,
    /// The node this callback is about.
    pub node: NodeId,
    /// That node's own RNG (a fresh stream per incarnation).
    pub rng: &'a mut SimRng,
    pub(crate) dir: &'a Directory,
    pub(crate) net: &'a Network,
    pub(crate) wakeups: &'a mut Vec<(NodeId, Instant, u64)>,
    pub(crate) hash: &'a mut RunHash,
}

impl Ctx<'_> {
    /// The live nodes (joined and not leaving), in a deterministic order.
    pub fn live(&self) -> &[NodeId] {
        self.dir.live()
    }

    /// Whether `n` is live.
    pub fn is_live(&self, n: NodeId) -> bool {
        self.dir.contains(n)
    }

    /// The address this node should use to reach `to`: `to`'s private address on a shared LAN
    /// segment, else its public one (its NAT's, if it has one).
    pub fn addr_of(&self, to: NodeId) -> SocketAddr {
        self.net.addr_for(self.node, to).into()
    }

    /// This node's upload and download capacities, bits per second (0 = unlimited): what an
    /// application may be configured with.
    pub fn capacity_bps(&self) -> (u64, u64) {
        self.net.capacity_bps(self.node)
    }

    /// Calls [`Workload::on_wake`] for this node with `token` at `at` (not before now).
    pub fn wake_at(&mut self, at: Instant, token: u64) {
        self.wakeups.push((self.node, at.max(self.now), token));
    }

    /// Calls [`Workload::on_wake`] for node `node` with `token` at `at` (not before now), if
    /// the incarnation of `node` that is up when this callback returns is still up and not
    /// leaving then; ignored if `node` is down or not a slot. Lets a stable node (a server)
    /// run a group-wide schedule that commands other nodes.
    pub fn wake_node(&mut self, node: NodeId, at: Instant, token: u64) {
        self.wakeups.push((node, at.max(self.now), token));
    }

    /// Mixes an application-level record into the run hash.
    pub fn record(&mut self, tag: u64, data: &[u8]) {
        self.hash.record(tag);
        self.hash.bytes(data);
    }
}

/// A workload: creates the nodes and plays the application on top of them.
///
/// The NetGroup engine plugs in by implementing [`SimNode`] for `GroupNode` and a `Workload`
/// whose callbacks call `join`, `post`, `send_to_nearest`, `add_have_objects`, `publish`, ...
/// and collect their own metrics. Every callback is followed by a drain of the node.
pub trait Workload<N: SimNode> {
    /// Builds a fresh node for slot `ctx.node` (a join, or a rejoin after a leave). Draw keys
    /// and seeds from `ctx.rng`.
    fn create(&mut self, ctx: &mut Ctx<'_>) -> N;

    /// The node just joined (it is already in the live set).
    fn on_join(&mut self, ctx: &mut Ctx<'_>, node: &mut N);

    /// The node reported `event`.
    fn on_event(&mut self, ctx: &mut Ctx<'_>, node: &mut N, event: N::Event);

    /// A wakeup requested with [`Ctx::wake_at`] fired (only while the same incarnation lives
    /// and has not started leaving).
    fn on_wake(&mut self, ctx: &mut Ctx<'_>, node: &mut N, token: u64);

    /// The node leaves: gracefully (`crash == false`: it may still send goodbyes, and keeps
    /// running for the engine's grace period) or by crashing (it is dropped right after).
    fn on_leave(&mut self, ctx: &mut Ctx<'_>, node: &mut N, crash: bool);
}
