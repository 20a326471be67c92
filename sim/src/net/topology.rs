//! Latency between nodes: a constant, 2-D coordinates with per-node access delays, or a router
//! graph (`petgraph`) with shortest-path delays plus access delays: a random geometric graph, or
//! a transit-stub graph (transit domains with stub domains hanging off them, GT-ITM style).

use petgraph::graph::{NodeIndex, UnGraph};

use crate::node::NodeId;
use crate::rng::{below, chance, unit, SimRng};

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

/// All-pairs shortest-path delays of `g` (Dijkstra from every router), row-major, microseconds;
/// unreachable pairs get `u32::MAX`.
fn shortest_paths(g: &UnGraph<(), u64>) -> Vec<u32> {
    let routers = g.node_count();
    let mut core_us = vec![0u32; routers * routers];
    for a in 0..routers {
        let dist = petgraph::algo::dijkstra(g, NodeIndex::new(a), None, |e| *e.weight());
        for b in 0..routers {
            let v = dist
                .get(&NodeIndex::new(b))
                .copied()
                .unwrap_or(u64::from(u32::MAX));
            core_us[a * routers + b] = v.min(u64::from(u32::MAX)) as u32;
        }
    }
    core_us
}

/// Parameters of a transit-stub router graph ([`TransitStub::generate`]). Every link delay is
/// drawn uniformly in `[d, 2d]`, `d` the delay of its class.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct TransitStubParams {
    /// Transit (backbone) domains, ≥ 1.
    pub transit_domains: usize,
    /// Routers per transit domain, ≥ 1.
    pub routers_per_transit: usize,
    /// Stub domains hanging off each transit router, ≥ 1.
    pub stubs_per_transit_router: usize,
    /// Routers per stub domain, ≥ 1.
    pub routers_per_stub: usize,
    /// Probability of each extra link inside a domain (beyond a random spanning tree), and of
    /// an extra link between each pair of transit domains (beyond a spanning tree of domains).
    pub extra_edge_prob: f64,
    /// Link delay between two transit domains, microseconds.
    pub inter_transit_us: u64,
    /// Link delay inside a transit domain, microseconds.
    pub intra_transit_us: u64,
    /// Delay of the link from a stub domain's gateway to its transit router, microseconds.
    pub stub_transit_us: u64,
    /// Link delay inside a stub domain, microseconds.
    pub intra_stub_us: u64,
}

impl TransitStubParams {
    /// Routers in all: `transit_domains × routers_per_transit × (1 + stubs_per_transit_router
    /// × routers_per_stub)`.
    pub fn routers(&self) -> usize {
        self.transit_domains
            .saturating_mul(self.routers_per_transit)
            .saturating_mul(
                self.stubs_per_transit_router
                    .saturating_mul(self.routers_per_stub)
                    .saturating_add(1),
            )
    }
}

/// A transit-stub router graph with its all-pairs shortest-path delays.
///
/// Transit domains are linked by a random spanning tree of domains (each domain after the first
/// to a random earlier one, between random routers) plus extra links; inside every domain the
/// routers form a random spanning tree plus extra links. Each stub domain is single-homed: its
/// first router (the gateway) links to one transit router. So a path between two routers of one
/// stub never leaves the stub, and a path between stubs of different transit domains crosses
/// two stub–transit links and at least one inter-transit link: with the usual parameters
/// (`2 × intra_stub_us × (routers_per_stub − 1) < 2 × stub_transit_us + inter_transit_us`)
/// every intra-stub delay is below every inter-domain delay.
#[derive(Debug, Clone)]
pub struct TransitStub {
    /// Routers in all (transit routers first, then the stub domains in order).
    pub routers: usize,
    /// Shortest-path delays between routers, row-major, microseconds.
    pub core_us: Vec<u32>,
    /// Transit domain of each router (for a stub router: that of its transit router).
    pub transit_of: Vec<u32>,
    /// Stub domain of each router; `u32::MAX` for transit routers.
    pub stub_of: Vec<u32>,
    /// The stub routers, where nodes attach.
    pub stub_routers: Vec<u32>,
}

impl TransitStub {
    /// Generates the graph of `p` with `rng` and computes its shortest paths (Dijkstra from
    /// every router). Zero counts are taken as 1.
    pub fn generate(p: &TransitStubParams, rng: &mut SimRng) -> Self {
        let (td, rt) = (p.transit_domains.max(1), p.routers_per_transit.max(1));
        let (sp, rs) = (p.stubs_per_transit_router.max(1), p.routers_per_stub.max(1));
        let routers = td * rt * (1 + sp * rs);
        let mut g: UnGraph<(), u64> = UnGraph::with_capacity(routers, routers * 2);
        for _ in 0..routers {
            g.add_node(());
        }
        // A link of delay uniform in [d, 2d].
        let link = |g: &mut UnGraph<(), u64>, rng: &mut SimRng, a: usize, b: usize, d: u64| {
            let w = d + below(rng, d + 1);
            g.add_edge(NodeIndex::new(a), NodeIndex::new(b), w);
        };
        // A random spanning tree plus extra links over routers `first..first + k`.
        let domain = |g: &mut UnGraph<(), u64>, rng: &mut SimRng, first: usize, k: usize, d| {
            for i in 1..k {
                let j = below(rng, i as u64) as usize;
                link(g, rng, first + i, first + j, d);
            }
            for i in 0..k {
                for j in 0..i {
                    if chance(rng, p.extra_edge_prob) {
                        link(g, rng, first + i, first + j, d);
                    }
                }
            }
        };
        let mut transit_of = vec![0u32; routers];
        let mut stub_of = vec![u32::MAX; routers];
        for t in 0..td {
            domain(&mut g, rng, t * rt, rt, p.intra_transit_us);
            transit_of[t * rt..(t + 1) * rt].fill(t as u32);
        }
        let pick = |rng: &mut SimRng, t: usize| t * rt + below(rng, rt as u64) as usize;
        for t in 1..td {
            let u = below(rng, t as u64) as usize;
            let (a, b) = (pick(rng, t), pick(rng, u));
            link(&mut g, rng, a, b, p.inter_transit_us);
            for u in 0..t {
                if chance(rng, p.extra_edge_prob) {
                    let (a, b) = (pick(rng, t), pick(rng, u));
                    link(&mut g, rng, a, b, p.inter_transit_us);
                }
            }
        }
        let mut stub_routers = Vec::with_capacity(routers - td * rt);
        let mut first = td * rt;
        for tr in 0..td * rt {
            for _ in 0..sp {
                let stub = ((first - td * rt) / rs) as u32;
                domain(&mut g, rng, first, rs, p.intra_stub_us);
                link(&mut g, rng, first, tr, p.stub_transit_us);
                for r in first..first + rs {
                    transit_of[r] = transit_of[tr];
                    stub_of[r] = stub;
                    stub_routers.push(r as u32);
                }
                first += rs;
            }
        }
        TransitStub {
            routers,
            core_us: shortest_paths(&g),
            transit_of,
            stub_of,
            stub_routers,
        }
    }

    /// Shortest-path delay between routers `a` and `b`, microseconds.
    pub fn delay_us(&self, a: usize, b: usize) -> u32 {
        self.core_us[a * self.routers + b]
    }
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
        let router_of = (0..n).map(|_| below(rng, routers as u64) as u32).collect();
        Topology::Graph {
            router_of,
            access_us: access(n, access_min_us, access_max_us, rng),
            routers,
            core_us: shortest_paths(&g),
        }
    }

    /// A transit-stub graph ([`TransitStub::generate`] with `p`); each of the `n` nodes hangs
    /// off a uniformly chosen *stub* router with an access delay uniform in
    /// `[access_min_us, access_max_us]`.
    pub fn transit_stub(
        n: usize,
        p: &TransitStubParams,
        access_min_us: u64,
        access_max_us: u64,
        rng: &mut SimRng,
    ) -> Self {
        let ts = TransitStub::generate(p, rng);
        let router_of = (0..n)
            .map(|_| ts.stub_routers[below(rng, ts.stub_routers.len() as u64) as usize])
            .collect();
        Topology::Graph {
            router_of,
            access_us: access(n, access_min_us, access_max_us, rng),
            routers: ts.routers,
            core_us: ts.core_us,
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

    fn ts_params() -> TransitStubParams {
        TransitStubParams {
            transit_domains: 3,
            routers_per_transit: 4,
            stubs_per_transit_router: 2,
            routers_per_stub: 4,
            extra_edge_prob: 0.3,
            inter_transit_us: 20_000,
            intra_transit_us: 5_000,
            stub_transit_us: 3_000,
            intra_stub_us: 1_000,
        }
    }

    #[test]
    fn transit_stub_delays_are_symmetric_shortest_paths_and_stubs_are_local() {
        let p = ts_params();
        let ts = TransitStub::generate(&p, &mut derive(3, stream::TOPOLOGY, 0));
        let n = ts.routers;
        assert_eq!(n, p.routers());
        assert_eq!(ts.stub_routers.len(), 3 * 4 * 2 * 4);
        let d = |a, b| u64::from(ts.delay_us(a, b));
        let (mut max_intra_stub, mut min_inter_domain) = (0, u64::MAX);
        for a in 0..n {
            assert_eq!(d(a, a), 0);
            for b in 0..n {
                // Connected, symmetric.
                assert!(d(a, b) < u64::from(u32::MAX), "{a} {b}");
                assert_eq!(d(a, b), d(b, a));
                // Shortest paths obey the triangle inequality exactly.
                for c in 0..n {
                    assert!(d(a, c) <= d(a, b) + d(b, c), "{a} {b} {c}");
                }
                if a != b && ts.stub_of[a] != u32::MAX && ts.stub_of[a] == ts.stub_of[b] {
                    max_intra_stub = max_intra_stub.max(d(a, b));
                }
                if ts.transit_of[a] != ts.transit_of[b] {
                    min_inter_domain = min_inter_domain.min(d(a, b));
                }
            }
        }
        // Inside a stub: at most 3 links of ≤ 2 ms; across domains: an inter-transit link
        // (≥ 20 ms) at least.
        assert!(max_intra_stub <= 6_000, "{max_intra_stub}");
        assert!(min_inter_domain >= 20_000, "{min_inter_domain}");
        assert!(max_intra_stub < min_inter_domain);
        // Between stub routers of different domains: two stub–transit links as well.
        let stubs = &ts.stub_routers;
        for &a in stubs {
            for &b in stubs {
                let (a, b) = (a as usize, b as usize);
                if ts.transit_of[a] != ts.transit_of[b] {
                    assert!(d(a, b) >= 2 * 3_000 + 20_000);
                }
            }
        }
        // Nodes hang off stub routers; their delays add both access delays.
        let mut rng = derive(3, stream::TOPOLOGY, 0);
        let t = Topology::transit_stub(40, &p, 1_000, 4_000, &mut rng);
        let l = |a, b| t.latency_us(NodeId(a), NodeId(b));
        for a in 0..40 {
            for b in 0..40 {
                assert_eq!(l(a, b), l(b, a));
                assert!(l(a, b) >= 2_000);
                for c in 0..40 {
                    assert!(l(a, c) <= l(a, b) + l(b, c));
                }
            }
        }
        // Same seed, same graph.
        let again = TransitStub::generate(&p, &mut derive(3, stream::TOPOLOGY, 0));
        assert_eq!(again.core_us, ts.core_us);
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
