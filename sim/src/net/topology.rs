//! Latency between nodes: a constant, 2-D coordinates with per-node access delays, or a random
//! geometric router graph (`petgraph`) with shortest-path delays plus access delays.

use petgraph::graph::{NodeIndex, UnGraph};

use crate::node::NodeId;
use crate::rng::{below, unit, SimRng};

/// Most routers of a graph topology (the all-pairs delay matrix has `routers²` entries).
pub const MAX_ROUTERS: usize = 4096;

/// One-way propagation delays between nodes, microseconds.
#[derive(Debug, Clone)]
pub enum Topology {
    /// The same one-way delay between every pair.
    Uniform {
        /// One-way delay, microseconds.
        latency_us: u64,
    },
    /// Nodes at random points of a square; delay = Euclidean distance + both access delays.
    Coordinates {
        /// Positions, in microseconds of one-way delay.
        pos: Vec<[f32; 2]>,
        /// Access delay of each node, microseconds.
        access_us: Vec<u32>,
    },
    /// Nodes attached to routers of a graph; delay = both access delays + shortest path.
    Graph {
        /// Router each node hangs off.
        router_of: Vec<u32>,
        /// Access delay of each node, microseconds.
        access_us: Vec<u32>,
        /// Number of routers.
        routers: usize,
        /// Shortest-path delays between routers, row-major, microseconds.
        core_us: Vec<u32>,
    },
}

fn access(n: usize, min_us: u64, max_us: u64, rng: &mut SimRng) -> Vec<u32> {
    (0..n)
        .map(|_| (min_us + below(rng, max_us.saturating_sub(min_us) + 1)) as u32)
        .collect()
}

impl Topology {
    /// Every pair `latency_us` apart.
    pub fn uniform(latency_us: u64) -> Self {
        Topology::Uniform { latency_us }
    }

    /// `n` nodes uniformly in a square of side `side_us` (microseconds of one-way delay), access
    /// delays uniform in `[access_min_us, access_max_us]`.
    pub fn coordinates(
        n: usize,
        side_us: f64,
        access_min_us: u64,
        access_max_us: u64,
        rng: &mut SimRng,
    ) -> Self {
        let pos = (0..n)
            .map(|_| [(unit(rng) * side_us) as f32, (unit(rng) * side_us) as f32])
            .collect();
        Topology::Coordinates {
            pos,
            access_us: access(n, access_min_us, access_max_us, rng),
        }
    }

    /// A random geometric graph: `routers` routers uniformly in a square of side `side_us`,
    /// linked when closer than `radius` (a fraction of the side), plus a link from each router to
    /// its nearest lower-numbered one so the graph is connected; link delay = distance. Each of
    /// the `n` nodes hangs off a uniformly chosen router with an access delay uniform in
    /// `[access_min_us, access_max_us]`. Delays between routers are shortest paths (Dijkstra).
    pub fn geometric(
        n: usize,
        routers: usize,
        radius: f64,
        side_us: f64,
        access_min_us: u64,
        access_max_us: u64,
        rng: &mut SimRng,
    ) -> Self {
        let routers = routers.clamp(1, MAX_ROUTERS);
        let pts: Vec<(f64, f64)> = (0..routers)
            .map(|_| (unit(rng) * side_us, unit(rng) * side_us))
            .collect();
        let d = |a: usize, b: usize| {
            let (dx, dy) = (pts[a].0 - pts[b].0, pts[a].1 - pts[b].1);
            (dx * dx + dy * dy).sqrt()
        };
        let mut g: UnGraph<(), u64> = UnGraph::with_capacity(routers, routers * 4);
        let idx: Vec<NodeIndex> = (0..routers).map(|_| g.add_node(())).collect();
        let r = radius * side_us;
        for a in 0..routers {
            let mut nearest: Option<(f64, usize)> = None;
            for b in 0..a {
                let dist = d(a, b);
                if dist <= r {
                    g.add_edge(idx[a], idx[b], dist.ceil() as u64);
                }
                if nearest.is_none_or(|(nd, _)| dist < nd) {
                    nearest = Some((dist, b));
                }
            }
            if let Some((dist, b)) = nearest {
                if dist > r {
                    g.add_edge(idx[a], idx[b], dist.ceil() as u64);
                }
            }
        }
        let mut core_us = vec![0u32; routers * routers];
        for a in 0..routers {
            let dist = petgraph::algo::dijkstra(&g, idx[a], None, |e| *e.weight());
            for b in 0..routers {
                let v = dist.get(&idx[b]).copied().unwrap_or(u64::from(u32::MAX));
                core_us[a * routers + b] = v.min(u64::from(u32::MAX)) as u32;
            }
        }
        let router_of = (0..n).map(|_| below(rng, routers as u64) as u32).collect();
        Topology::Graph {
            router_of,
            access_us: access(n, access_min_us, access_max_us, rng),
            routers,
            core_us,
        }
    }

    /// One-way propagation delay from `a` to `b`, microseconds.
    pub fn latency_us(&self, a: NodeId, b: NodeId) -> u64 {
        match self {
            Topology::Uniform { latency_us } => *latency_us,
            Topology::Coordinates { pos, access_us } => {
                let (p, q) = (pos[a.idx()], pos[b.idx()]);
                let (dx, dy) = ((p[0] - q[0]) as f64, (p[1] - q[1]) as f64);
                (dx * dx + dy * dy).sqrt() as u64
                    + access_us[a.idx()] as u64
                    + access_us[b.idx()] as u64
            }
            Topology::Graph {
                router_of,
                access_us,
                routers,
                core_us,
            } => {
                let (ra, rb) = (router_of[a.idx()] as usize, router_of[b.idx()] as usize);
                core_us[ra * routers + rb] as u64
                    + access_us[a.idx()] as u64
                    + access_us[b.idx()] as u64
            }
        }
    }

    /// Approximate memory, bytes.
    pub fn memory_bytes(&self) -> usize {
        match self {
            Topology::Uniform { .. } => 0,
            Topology::Coordinates { pos, access_us } => pos.len() * 8 + access_us.len() * 4,
            Topology::Graph {
                router_of,
                access_us,
                core_us,
                ..
            } => (router_of.len() + access_us.len() + core_us.len()) * 4,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{derive, stream};

    #[test]
    fn geometric_graph_is_connected_and_symmetric() {
        let mut rng = derive(1, stream::TOPOLOGY, 0);
        let t = Topology::geometric(50, 40, 0.15, 50_000.0, 1_000, 5_000, &mut rng);
        for a in 0..50 {
            for b in 0..50 {
                let (x, y) = (NodeId(a), NodeId(b));
                let l = t.latency_us(x, y);
                assert_eq!(l, t.latency_us(y, x));
                assert!(l < 200_000, "{l}");
                assert!(l >= 2_000);
            }
        }
    }

    #[test]
    fn coordinates_obey_the_triangle_inequality_on_the_core() {
        let mut rng = derive(1, stream::TOPOLOGY, 0);
        let t = Topology::coordinates(10, 100_000.0, 0, 0, &mut rng);
        let l = |a, b| t.latency_us(NodeId(a), NodeId(b));
        for a in 0..10 {
            assert_eq!(l(a, a), 0);
            for b in 0..10 {
                for c in 0..10 {
                    assert!(l(a, c) <= l(a, b) + l(b, c) + 2);
                }
            }
        }
    }
}
